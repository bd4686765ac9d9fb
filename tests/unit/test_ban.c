/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for iw_ban: keys and networks, the table (add, lookup, end,
 * sweep, lift, list, eviction when full), a differential run against a
 * plain array, lock-free lookups during writes in other processes, a
 * writer that dies holding the lock, and the alert JSON. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "iw_test.h"
#include "iw_ban.h"

#define SEC ((apr_time_t)1000000)
#define T0  ((apr_time_t)1700000000 * SEC)

static iw_ban_key_t K(const char *s)
{
    iw_ban_key_t k = {{0, 0}};
    if (iw_ban_key_parse(s, &k) != 0)
        fprintf(stderr, "  bad test address %s\n", s);
    return k;
}

static iw_ban_key_t KN(uint32_t n)         /* 10.x.y.z from a number */
{
    unsigned char b[4] = {10, (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                          (unsigned char)n};
    return iw_ban_key_v4(b);
}

static void *table(apr_pool_t *p, uint32_t max, size_t *bytes)
{
    size_t n = iw_ban_mem_size(max);
    void *m = apr_palloc(p, n + 64);
    m = (void *)(((uintptr_t)m + 63) & ~(uintptr_t)63);
    if (iw_ban_mem_init(m, n, max) != 0)
        return NULL;
    if (bytes)
        *bytes = n;
    return m;
}

static int banned(void *m, iw_ban_key_t k, apr_time_t now)
{
    unsigned fl = 0;
    return iw_ban_lookup(m, &k, now, &fl) >= 0;
}

TEST(ban_keys_and_networks)
{
    iw_ban_key_t a, b;
    iw_ban_net_t n[3];
    char buf[64];

    CHECK_INT(iw_ban_key_parse("192.0.2.7", &a), 0);
    CHECK_INT(iw_ban_key_parse("::ffff:192.0.2.7", &b), 0);
    CHECK(a.w[0] == b.w[0] && a.w[1] == b.w[1]);     /* mapped == plain v4 */
    iw_ban_key_format(&a, buf, sizeof(buf));
    CHECK_STR(buf, "192.0.2.7");
    CHECK_INT(iw_ban_key_parse("2001:db8::1", &a), 0);
    iw_ban_key_format(&a, buf, sizeof(buf));
    CHECK_STR(buf, "2001:db8::1");
    CHECK_INT(iw_ban_key_parse("192.0.2.300", &a), -1);
    CHECK_INT(iw_ban_key_parse("", &a), -1);
    CHECK_INT(iw_ban_key_parse("nobody", &a), -1);

    CHECK_INT(iw_ban_net_parse("127.0.0.0/8", &n[0]), 0);
    CHECK_INT(iw_ban_net_parse("::1", &n[1]), 0);
    CHECK_INT(iw_ban_net_parse("2001:db8:1::/48", &n[2]), 0);
    a = K("127.3.4.5");
    CHECK(iw_ban_net_match(n, 3, &a));
    a = K("128.0.0.1");
    CHECK(!iw_ban_net_match(n, 3, &a));
    a = K("::1");
    CHECK(iw_ban_net_match(n, 3, &a));
    a = K("::2");
    CHECK(!iw_ban_net_match(n, 3, &a));
    a = K("2001:db8:1:ffff::9");
    CHECK(iw_ban_net_match(n, 3, &a));
    a = K("2001:db8:2::9");
    CHECK(!iw_ban_net_match(n, 3, &a));
    /* an IPv4 network never covers an IPv6 address outside the mapped range */
    CHECK_INT(iw_ban_net_parse("0.0.0.0/0", &n[0]), 0);
    a = K("2001:db8::1");
    CHECK(!iw_ban_net_match(n, 1, &a));
    a = K("203.0.113.9");
    CHECK(iw_ban_net_match(n, 1, &a));
    CHECK_INT(iw_ban_net_parse("10.0.0.0/33", &n[0]), -1);
    CHECK_INT(iw_ban_net_parse("10.0.0.0/", &n[0]), -1);
    CHECK_INT(iw_ban_net_parse("10.0.0.0/8x", &n[0]), -1);
    CHECK_INT(iw_ban_net_parse("/8", &n[0]), -1);
    CHECK_INT(iw_ban_net_parse("::/129", &n[0]), -1);
}

TEST(ban_add_lookup_end_lift)
{
    size_t bytes;
    void *m = table(p, 8, &bytes);
    iw_ban_key_t a = K("203.0.113.7"), b = K("2001:db8::7");
    iw_ban_rec_t ev, out[8];
    iw_ban_stats_t st;
    unsigned fl = 0;
    int nev, slot;

    REQUIRE(m);
    CHECK(iw_ban_mem_check(m, bytes));
    CHECK(!iw_ban_mem_check(m, bytes + 8));
    CHECK(!banned(m, a, T0));
    CHECK_INT(iw_ban_add(m, &a, T0, 10, 0, "rule-x", "req-1", &ev, &nev), IW_BAN_ADDED);
    CHECK_INT(nev, 0);
    CHECK(banned(m, a, T0 + 9 * SEC));
    CHECK(!banned(m, b, T0));
    /* the same client again: kept, not extended */
    CHECK_INT(iw_ban_add(m, &a, T0 + 5 * SEC, 10, 0, "rule-y", "req-2", &ev, &nev),
              IW_BAN_EXISTS);
    CHECK(!banned(m, a, T0 + 10 * SEC));
    slot = iw_ban_lookup(m, &a, T0 + 10 * SEC, &fl);
    CHECK_INT(slot, -1);
    CHECK(fl & IW_BAN_F_ENDED);
    /* refused requests are counted on the ban and in total */
    slot = iw_ban_lookup(m, &a, T0 + SEC, &fl);
    REQUIRE(slot >= 0);
    CHECK_INT(fl, 0);
    iw_ban_count_refused(m, slot, 0);
    iw_ban_count_refused(m, slot, 0);
    CHECK_INT(iw_ban_list(m, T0 + SEC, out, 8), 1);
    CHECK_INT(out[0].refused, 2);
    CHECK_STR(out[0].rule, "rule-x");
    CHECK_STR(out[0].request_id, "req-1");
    CHECK_INT(out[0].seconds, 10);
    CHECK(out[0].since == T0 && out[0].until == T0 + 10 * SEC);

    CHECK_INT(iw_ban_add(m, &b, T0, 20, IW_BAN_F_DRYRUN, "rule-z", "", &ev, &nev),
              IW_BAN_ADDED);
    slot = iw_ban_lookup(m, &b, T0, &fl);
    CHECK(slot >= 0 && fl == IW_BAN_F_DRYRUN);
    /* sweep: nothing due before the first end, then exactly the ended one */
    CHECK(!iw_ban_sweep_due(m, T0 + 9 * SEC));
    CHECK_INT(iw_ban_sweep(m, T0 + 9 * SEC, out, 8), 0);
    CHECK(iw_ban_sweep_due(m, T0 + 10 * SEC));
    CHECK_INT(iw_ban_sweep(m, T0 + 10 * SEC, out, 8), 1);
    CHECK(out[0].key.w[1] == a.w[1] && out[0].refused == 2);
    CHECK_INT(iw_ban_sweep(m, T0 + 10 * SEC, out, 8), 0);
    CHECK(!iw_ban_sweep_due(m, T0 + 19 * SEC));
    /* lift */
    CHECK_INT(iw_ban_lift(m, &a, &ev), 0);
    CHECK_INT(iw_ban_lift(m, &b, &ev), 1);
    CHECK(ev.flags & IW_BAN_F_DRYRUN);
    CHECK(!banned(m, b, T0));
    iw_ban_get_stats(m, &st);
    CHECK_INT(st.active, 0);
    CHECK_INT(st.added, 1);
    CHECK_INT(st.dry_added, 1);
    CHECK_INT(st.exists, 1);
    CHECK_INT(st.expired, 1);
    CHECK_INT(st.lifted, 1);
    CHECK_INT(st.refused, 2);
    CHECK_INT(st.capacity, 8);
    CHECK_INT(st.slots, 16);
    /* a re-ban after the end is a new ban */
    CHECK_INT(iw_ban_add(m, &a, T0 + 30 * SEC, 5, 0, "r", "q", &ev, &nev), IW_BAN_ADDED);
    CHECK(banned(m, a, T0 + 31 * SEC));
}

TEST(ban_full_table_evicts_soonest_end)
{
    void *m = table(p, 4, NULL);
    iw_ban_rec_t ev;
    iw_ban_stats_t st;
    int i, nev;
    iw_ban_key_t k;

    REQUIRE(m);
    for (i = 0; i < 4; i++) {
        k = KN(i);
        /* client 2 ends first */
        CHECK_INT(iw_ban_add(m, &k, T0, i == 2 ? 5 : 100 + i, 0, "r", "", &ev, &nev),
                  IW_BAN_ADDED);
        CHECK_INT(nev, 0);
    }
    k = KN(99);
    CHECK_INT(iw_ban_add(m, &k, T0 + SEC, 50, 0, "r", "", &ev, &nev), IW_BAN_ADDED);
    CHECK_INT(nev, 1);
    CHECK(ev.key.w[1] == KN(2).w[1]);
    CHECK_INT(ev.seconds, 5);
    CHECK(!banned(m, KN(2), T0 + SEC));
    for (i = 0; i < 4; i++)
        if (i != 2)
            CHECK(banned(m, KN(i), T0 + SEC));
    CHECK(banned(m, KN(99), T0 + SEC));
    iw_ban_get_stats(m, &st);
    CHECK_INT(st.evicted, 1);
    CHECK_INT(st.active, 4);
}

/* Random adds, lifts and sweeps against a plain array: every client's
 * answer must agree after every step (backward-shift removal keeps every
 * remaining key reachable). */
TEST(ban_differential)
{
    enum { MAXB = 64, CLIENTS = 200, STEPS = 20000 };
    void *m = table(p, MAXB, NULL);
    apr_time_t until[CLIENTS];
    apr_time_t now = T0;
    iw_ban_rec_t ev, out[MAXB];
    int i, step, nev, mism = 0;
    unsigned seed = 12345;

    REQUIRE(m);
    memset(until, 0, sizeof(until));
    for (step = 0; step < STEPS; step++) {
        int c = (int)(rand_r(&seed) % CLIENTS), op = (int)(rand_r(&seed) % 10);
        iw_ban_key_t k = KN((uint32_t)c * 7919u);
        now += (apr_time_t)(rand_r(&seed) % 3) * SEC / 2;
        if (op < 6) {
            int r = iw_ban_add(m, &k, now, 1 + (int)(rand_r(&seed) % 20), 0, "r", "",
                               &ev, &nev);
            if (until[c] > now) {
                if (r != IW_BAN_EXISTS) mism++;
            } else {
                if (r != IW_BAN_ADDED) mism++;
                if (nev) {
                    int j;
                    for (j = 0; j < CLIENTS; j++)
                        if (KN((uint32_t)j * 7919u).w[1] == ev.key.w[1]) until[j] = 0;
                }
                until[c] = 0;       /* set below from the table's own record */
                {
                    int n = iw_ban_list(m, now, out, MAXB), j;
                    for (j = 0; j < n; j++)
                        if (out[j].key.w[1] == k.w[1]) until[c] = out[j].until;
                }
            }
        } else if (op < 8) {
            int r = iw_ban_lift(m, &k, &ev);
            if (r == 1 && ev.until <= now && until[c] > now) mism++;
            until[c] = 0;
        } else {
            int n = iw_ban_sweep(m, now, out, MAXB), j;
            for (j = 0; j < n; j++)
                if (out[j].until > now) mism++;
        }
        for (i = 0; i < CLIENTS; i++)
            if (banned(m, KN((uint32_t)i * 7919u), now) != (until[i] > now))
                mism++;
    }
    CHECK_INT(mism, 0);
}

/* Readers in other processes look up a client that stays banned while a
 * writer adds, sweeps and lifts thousands of others (moving entries by
 * backward shift): the lookup must never miss it (lock-free reads retry
 * over concurrent writes). */
TEST(ban_lookup_during_writes_across_processes)
{
    enum { MAXB = 256, READERS = 2, ROUNDS = 3000 };
    size_t bytes = iw_ban_mem_size(MAXB);
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    volatile int *stop;
    iw_ban_key_t keep = KN(424242);
    iw_ban_rec_t ev, out[16];
    iw_ban_stats_t st;
    pid_t pids[READERS];
    int i, r, nev, status, bad = 0;

    REQUIRE(m != MAP_FAILED);
    stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE((void *)stop != MAP_FAILED);
    *stop = 0;
    REQUIRE(iw_ban_mem_init(m, bytes, MAXB) == 0);
    REQUIRE(iw_ban_add(m, &keep, T0, 100000, 0, "keep", "", &ev, &nev) == IW_BAN_ADDED);
    for (r = 0; r < READERS; r++) {
        pids[r] = fork();
        if (pids[r] == 0) {
            long misses = 0, n = 0;
            while (!*stop || n < 1000) {
                if (!banned(m, keep, T0 + SEC)) misses++;
                n++;
            }
            _exit(misses ? 1 : 0);
        }
    }
    for (i = 0; i < ROUNDS; i++) {
        iw_ban_key_t k = KN((uint32_t)i);
        iw_ban_add(m, &k, T0 + i, 1 + i % 3, 0, "r", "", &ev, &nev);
        if (i % 3 == 0) {
            iw_ban_key_t old = KN((uint32_t)(i / 2));
            iw_ban_lift(m, &old, &ev);
        }
        iw_ban_sweep(m, T0 + (apr_time_t)i * SEC / 100, out, 16);
    }
    *stop = 1;
    for (r = 0; r < READERS; r++) {
        if (waitpid(pids[r], &status, 0) != pids[r] || !WIFEXITED(status)
            || WEXITSTATUS(status) != 0)
            bad++;
    }
    iw_ban_get_stats(m, &st);
    CHECK_INT(bad, 0);
    CHECK_INT(st.lock_failures, 0);
    CHECK(banned(m, keep, T0 + SEC));
    munmap(m, bytes);
    munmap((void *)stop, 4096);
}

/* A writer that dies holding the lock: the next writer recovers the lock
 * and the seqlock, lookups work again and bans go on. */
TEST(ban_writer_dies_holding_lock)
{
    size_t bytes = iw_ban_mem_size(16);
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    iw_ban_key_t a = KN(1), b = KN(2);
    iw_ban_rec_t ev;
    iw_ban_stats_t st;
    pid_t pid;
    int nev, status;

    REQUIRE(m != MAP_FAILED);
    REQUIRE(iw_ban_mem_init(m, bytes, 16) == 0);
    REQUIRE(iw_ban_add(m, &a, T0, 100, 0, "r", "", &ev, &nev) == IW_BAN_ADDED);
    pid = fork();
    if (pid == 0) {
        /* take the lock and die "inside a write": seq odd */
        pthread_mutex_t *mu;
        uint64_t *seq = (uint64_t *)m + 2;
        mu = (pthread_mutex_t *)((char *)m + 4 * 64);
        pthread_mutex_lock(mu);
        __atomic_store_n(seq, *seq + 1, __ATOMIC_RELEASE);
        _exit(0);
    }
    REQUIRE(waitpid(pid, &status, 0) == pid);
    /* a reader finds seq odd, takes the lock and recovers it */
    CHECK(banned(m, a, T0 + SEC));
    CHECK_INT(iw_ban_add(m, &b, T0, 100, 0, "r", "", &ev, &nev), IW_BAN_ADDED);
    CHECK(banned(m, a, T0 + SEC));
    CHECK(banned(m, b, T0 + SEC));
    iw_ban_get_stats(m, &st);
    CHECK_INT(st.lock_recovered, 1);
    CHECK_INT(st.read_locked, 1);
    CHECK_INT(st.active, 2);
    munmap(m, bytes);
}

TEST(ban_alert_json)
{
    iw_ban_rec_t r;
    char buf[2048];
    size_t n;

    memset(&r, 0, sizeof(r));
    r.key = K("203.0.113.7");
    r.since = T0;
    r.until = T0 + 600 * SEC;
    r.seconds = 600;
    r.refused = 3;
    strcpy(r.rule, "rule\"x");
    strcpy(r.request_id, "Zabc");
    n = iw_ban_alert_json(buf, sizeof(buf), IW_BAN_EV_BAN, &r, T0, "host1");
    CHECK(n == strlen(buf));
    CHECK_CONTAINS(buf, "\"rule\":{\"id\":\"iocwatch-ban\",\"name\":"
                        "\"client denied for 600 s after rule rule\\\"x\"");
    CHECK_CONTAINS(buf, "\"source\":{\"ip\":\"203.0.113.7\"}");
    CHECK_CONTAINS(buf, "\"trigger\":{\"rule\":\"rule\\\"x\",\"request_id\":\"Zabc\"}");
    CHECK_CONTAINS(buf, "\"since\":\"2023-11-14T22:13:20.000Z\"");
    CHECK_CONTAINS(buf, "\"log\":{\"level\":\"medium\"}");
    CHECK(buf[n - 1] == '}');
    n = iw_ban_alert_json(buf, sizeof(buf), IW_BAN_EV_EVICTED, &r, T0, NULL);
    CHECK_CONTAINS(buf, "\"id\":\"iocwatch-ban-end\"");
    CHECK_CONTAINS(buf, "ban table full, 3 requests refused");
    CHECK_CONTAINS(buf, "\"action\":\"ban-evicted\"");
    CHECK_CONTAINS(buf, "\"log\":{\"level\":\"high\"}");
    r.flags = IW_BAN_F_DRYRUN;
    n = iw_ban_alert_json(buf, sizeof(buf), IW_BAN_EV_WOULD, &r, T0, NULL);
    CHECK_CONTAINS(buf, "would be denied for 600 s");
    CHECK_CONTAINS(buf, "\"dry_run\":true");
    /* too small: nothing rather than broken JSON */
    n = iw_ban_alert_json(buf, 40, IW_BAN_EV_BAN, &r, T0, NULL);
    CHECK_INT(n, 0);
}
