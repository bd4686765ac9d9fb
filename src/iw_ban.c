/* SPDX-License-Identifier: Apache-2.0 */
/* iw_ban: the table of denied clients (see iw_ban.h).
 *
 * Layout of the block: a header of four cache lines (what every lookup
 * reads; the sweep hint; counters; the write lock), then the slot array
 * (32 bytes a slot: the key, the end time, the flags; what a lookup
 * probes), then a parallel array of what is only listed and reported (the
 * trigger, the start, the refused count).
 *
 * Concurrency: lookups read under a seqlock (h->seq odd = a write is in
 * progress; a reader that saw it change retries, and gives up after
 * READ_TRIES, failing open: one request let through, counted).  Writers
 * hold h->mu (robust, process-shared) and bump h->seq around their stores.
 * A writer that dies inside its write leaves seq odd and the mutex "owner
 * died": the next writer makes seq even again and recounts the table. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "iw_ban.h"
#include "iw_alert.h"

#define BAN_MAGIC   0x697762616e763031ull      /* "iwbanv01" */
#define BAN_VERSION 1
#define IW_BAN_LOCK_OFFSET 256
#define READ_TRIES  256         /* then the lock (a writer is slow or dead) */
#define MIN_SLOTS   16

typedef struct ban_slot {
    uint64_t k0, k1;
    int64_t until;              /* 0: empty */
    uint64_t flags;
} ban_slot_t;

typedef struct ban_info {
    int64_t since;
    uint64_t refused;
    int32_t seconds;
    uint32_t unused;
    char rule[IW_BAN_RULE_MAX];
    char request_id[IW_BAN_REQID_MAX];
} ban_info_t;

typedef struct ban_hdr {
    /* line 0: read by every lookup, written only by writers */
    uint64_t magic;             /* = iw_ban_hot_t */
    uint64_t active;            /* bans in the table (incl. ended, unswept) */
    uint64_t seq;               /* seqlock */
    uint64_t mask;              /* slots - 1 */
    uint64_t seed;
    uint64_t slots_off, info_off;
    uint64_t max_bans;
    /* line 1: sweep hint, geometry.  Lines are padded, not _Alignas'ed:
     * apr_shm hands out 8-byte aligned memory; the module aligns the block
     * to 64 bytes itself so that these lines are cache lines. */
    int64_t next_end;           /* earliest end among the bans */
    uint64_t bytes, version, pad1[5];
    /* line 2: counters */
    uint64_t added, dry_added, exists, expired, lifted, evicted, refused,
             would_refuse;
    /* line 3 */
    uint64_t allowlisted, read_retries, read_locked, lock_recovered,
             lock_failures, pad3[3];
    /* line 4: the write lock */
    pthread_mutex_t mu;
} ban_hdr_t;

_Static_assert(sizeof(ban_slot_t) == 32, "slot size");
_Static_assert(offsetof(ban_hdr_t, next_end) == 64 && offsetof(ban_hdr_t, added) == 128
               && offsetof(ban_hdr_t, allowlisted) == 192, "header lines");
_Static_assert(offsetof(ban_hdr_t, mu) == IW_BAN_LOCK_OFFSET, "lock offset (tests)");
_Static_assert(offsetof(ban_hdr_t, active) == offsetof(iw_ban_hot_t, active),
               "hot head");

#define LD(p)     __atomic_load_n(p, __ATOMIC_RELAXED)
#define ST(p, v)  __atomic_store_n(p, v, __ATOMIC_RELAXED)
#define ADD(p, v) __atomic_fetch_add(p, v, __ATOMIC_RELAXED)

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static size_t hdr_bytes(void)
{
    return (sizeof(ban_hdr_t) + 63) & ~(size_t)63;
}

static uint64_t slots_for(uint32_t max_bans)
{
    uint64_t n = MIN_SLOTS;
    while (n < 2 * (uint64_t)max_bans)
        n <<= 1;
    return n;
}

static ban_slot_t *slots(const ban_hdr_t *h)
{
    return (ban_slot_t *)((char *)h + h->slots_off);
}

static ban_info_t *infos(const ban_hdr_t *h)
{
    return (ban_info_t *)((char *)h + h->info_off);
}

/* Every key bit must reach the low (index) bits: an IPv4 key differs only
 * in its last 4 bytes, so a bare multiply (low bits depend on low bits
 * only) would pile them into a few clusters.  The seed is per table, so
 * clients cannot aim at one probe run. */
static inline uint64_t home_of(const ban_hdr_t *h, uint64_t k0, uint64_t k1)
{
    uint64_t x = (k0 * 0x9E3779B97F4A7C15ull) ^ k1 ^ h->seed;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x & h->mask;
}

/* ---- keys and networks -------------------------------------------------- */

int iw_ban_key_parse(const char *s, iw_ban_key_t *k)
{
    unsigned char b[16];
    if (!s)
        return -1;
    if (inet_pton(AF_INET, s, b) == 1) {
        *k = iw_ban_key_v4(b);
        return 0;
    }
    if (inet_pton(AF_INET6, s, b) == 1) {
        *k = iw_ban_key_v6(b);
        return 0;
    }
    return -1;
}

static int is_v4(const iw_ban_key_t *k)
{
    static const unsigned char pfx[12] = {0,0,0,0,0,0,0,0,0,0,0xff,0xff};
    return !memcmp(k->w, pfx, 12);
}

void iw_ban_key_format(const iw_ban_key_t *k, char *buf, size_t size)
{
    const unsigned char *b = (const unsigned char *)k->w;
    if (!size)
        return;
    if (!inet_ntop(is_v4(k) ? AF_INET : AF_INET6, is_v4(k) ? b + 12 : b,
                   buf, (socklen_t)size))
        buf[0] = '\0';
}

int iw_ban_net_parse(const char *s, iw_ban_net_t *n)
{
    char tmp[64];
    const char *slash = strchr(s, '/');
    size_t len = slash ? (size_t)(slash - s) : strlen(s);
    long bits, max;
    char *end;
    unsigned char m[16];
    int i;

    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (iw_ban_key_parse(tmp, &n->addr) != 0)
        return -1;
    max = strchr(tmp, ':') ? 128 : 32;
    bits = max;
    if (slash) {
        bits = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || bits < 0 || bits > max)
            return -1;
    }
    if (max == 32)              /* within the mapped form */
        bits += 96;
    for (i = 0; i < 16; i++) {
        long b = bits - 8 * i;
        m[i] = b >= 8 ? 0xff : b <= 0 ? 0 : (unsigned char)(0xff << (8 - b));
    }
    memcpy(n->mask.w, m, 16);
    n->addr.w[0] &= n->mask.w[0];
    n->addr.w[1] &= n->mask.w[1];
    return 0;
}

int iw_ban_net_match(const iw_ban_net_t *nets, int n, const iw_ban_key_t *k)
{
    int i;
    for (i = 0; i < n; i++)
        if ((k->w[0] & nets[i].mask.w[0]) == nets[i].addr.w[0]
            && (k->w[1] & nets[i].mask.w[1]) == nets[i].addr.w[1])
            return 1;
    return 0;
}

/* ---- the block ---------------------------------------------------------- */

size_t iw_ban_mem_size(uint32_t max_bans)
{
    uint64_t n = slots_for(max_bans);
    return hdr_bytes() + n * sizeof(ban_slot_t) + n * sizeof(ban_info_t);
}

static uint64_t seed_of(const void *mem)
{
    uint64_t x = (uint64_t)apr_time_now() ^ (uint64_t)(uintptr_t)mem
                 ^ ((uint64_t)getpid() << 32);
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33;
    return x;
}

int iw_ban_mem_init(void *mem, size_t bytes, uint32_t max_bans)
{
    ban_hdr_t *h = mem;
    pthread_mutexattr_t a;
    uint64_t n = slots_for(max_bans);
    int bad;

    if (!mem || max_bans == 0 || bytes < iw_ban_mem_size(max_bans))
        return -1;
    memset(mem, 0, iw_ban_mem_size(max_bans));
    h->mask = n - 1;
    h->seed = seed_of(mem);
    h->slots_off = hdr_bytes();
    h->info_off = hdr_bytes() + n * sizeof(ban_slot_t);
    h->max_bans = max_bans;
    h->next_end = INT64_MAX;
    h->bytes = iw_ban_mem_size(max_bans);
    h->version = BAN_VERSION;
    if (pthread_mutexattr_init(&a) != 0)
        return -1;
    bad = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0
          || pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0
          || pthread_mutex_init(&h->mu, &a) != 0;
    pthread_mutexattr_destroy(&a);
    if (bad)
        return -1;
    __atomic_store_n(&h->magic, BAN_MAGIC, __ATOMIC_RELEASE);
    return 0;
}

int iw_ban_mem_check(const void *mem, size_t bytes)
{
    const ban_hdr_t *h = mem;
    if (!mem || bytes < hdr_bytes() || h->magic != BAN_MAGIC
        || h->version != BAN_VERSION || h->max_bans == 0
        || h->max_bans > UINT32_MAX || h->bytes != bytes
        || h->bytes != iw_ban_mem_size((uint32_t)h->max_bans)
        || h->mask + 1 != slots_for((uint32_t)h->max_bans))
        return 0;
    return 1;
}

uint32_t iw_ban_capacity(const void *mem)
{
    return mem ? (uint32_t)((const ban_hdr_t *)mem)->max_bans : 0;
}

/* ---- lookup (lock-free) ------------------------------------------------- */

static int ban_lock(ban_hdr_t *h);
static void ban_unlock(ban_hdr_t *h);

/* One probe run (under the seqlock or the lock). */
static inline int probe(const ban_hdr_t *h, uint64_t i, uint64_t k0, uint64_t k1,
                        apr_time_t now, unsigned *flags)
{
    const ban_slot_t *sl = slots(h);
    uint64_t mask = h->mask, n;
    *flags = 0;
    for (n = 0; n <= mask; n++, i = (i + 1) & mask) {
        int64_t until = LD(&sl[i].until);
        if (!until)
            return -1;
        if (LD(&sl[i].k1) == k1 && LD(&sl[i].k0) == k0) {
            *flags = (unsigned)LD(&sl[i].flags);
            if (until > now)
                return (int)i;
            *flags |= IW_BAN_F_ENDED;
            return -1;
        }
    }
    return -1;
}

int iw_ban_lookup_slow(const void *mem, const iw_ban_key_t *k, apr_time_t now,
                       unsigned *flags)
{
    ban_hdr_t *h = (ban_hdr_t *)mem;
    uint64_t k0 = k->w[0], k1 = k->w[1], start = home_of(h, k0, k1);
    int tries, found;

    for (tries = 0; tries < READ_TRIES; tries++) {
        uint64_t s1 = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
        if (s1 & 1) {
            cpu_relax();
            continue;
        }
        found = probe(h, start, k0, k1, now, flags);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&h->seq, __ATOMIC_RELAXED) == s1)
            return found;
        ADD(&h->read_retries, 1);
    }
    /* a writer holds the table longer than a few microseconds (preempted,
     * or dead: the lock recovers it): wait for it rather than answer
     * wrongly.  Rare: writes are rare and short. */
    ADD(&h->read_locked, 1);
    if (ban_lock(h) != 0) {
        *flags = 0;
        return -1;              /* lock broken: fail open (counted) */
    }
    found = probe(h, start, k0, k1, now, flags);
    ban_unlock(h);
    return found;
}

void iw_ban_count_refused(void *mem, int slot, int would)
{
    ban_hdr_t *h = mem;
    if (slot >= 0 && (uint64_t)slot <= h->mask)
        ADD(&infos(h)[slot].refused, 1);
    ADD(would ? &h->would_refuse : &h->refused, 1);
}

void iw_ban_count_allowlisted(void *mem)
{
    ADD(&((ban_hdr_t *)mem)->allowlisted, 1);
}

/* ---- writers ------------------------------------------------------------ */

/* Bans and the next end from the slots themselves (after a dead writer). */
static void recount(ban_hdr_t *h)
{
    const ban_slot_t *sl = slots(h);
    uint64_t i, n = 0;
    int64_t next = INT64_MAX;
    for (i = 0; i <= h->mask; i++)
        if (sl[i].until) {
            n++;
            if (sl[i].until < next)
                next = sl[i].until;
        }
    ST(&h->active, n);
    h->next_end = next;
}

static int ban_lock(ban_hdr_t *h)
{
    int rv = pthread_mutex_lock(&h->mu);
    if (rv == 0)
        return 0;
    if (rv == EOWNERDEAD) {
        /* the owner died, maybe inside a write: every slot is whole or
         * empty except possibly the one it was moving; readers wait for an
         * even seq */
        (void)pthread_mutex_consistent(&h->mu);
        if (h->seq & 1)
            __atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE);
        recount(h);
        ADD(&h->lock_recovered, 1);
        return 0;
    }
    ADD(&h->lock_failures, 1);
    return -1;
}

static void ban_unlock(ban_hdr_t *h)
{
    pthread_mutex_unlock(&h->mu);
}

static void write_begin(ban_hdr_t *h)
{
    ST(&h->seq, h->seq + 1);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void write_end(ban_hdr_t *h)
{
    __atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE);
}

static void slot_set(ban_slot_t *s, uint64_t k0, uint64_t k1, int64_t until,
                     uint64_t flags)
{
    ST(&s->k0, k0);
    ST(&s->k1, k1);
    ST(&s->flags, flags);
    ST(&s->until, until);
}

/* Under the lock: the slot of k, or -1. */
static int64_t find(const ban_hdr_t *h, const iw_ban_key_t *k)
{
    const ban_slot_t *sl = slots(h);
    uint64_t i = home_of(h, k->w[0], k->w[1]), n;
    for (n = 0; n <= h->mask; n++, i = (i + 1) & h->mask) {
        if (!sl[i].until)
            return -1;
        if (sl[i].k0 == k->w[0] && sl[i].k1 == k->w[1])
            return (int64_t)i;
    }
    return -1;
}

static void to_rec(const ban_hdr_t *h, uint64_t i, iw_ban_rec_t *r)
{
    const ban_slot_t *s = &slots(h)[i];
    const ban_info_t *in = &infos(h)[i];
    memset(r, 0, sizeof(*r));
    r->key.w[0] = s->k0;
    r->key.w[1] = s->k1;
    r->until = s->until;
    r->flags = (uint32_t)s->flags;
    r->since = in->since;
    r->seconds = in->seconds;
    r->refused = LD(&in->refused);
    memcpy(r->rule, in->rule, sizeof(r->rule));
    memcpy(r->request_id, in->request_id, sizeof(r->request_id));
    r->rule[sizeof(r->rule) - 1] = r->request_id[sizeof(r->request_id) - 1] = '\0';
}

/* Inside a write: empty slot i, moving later entries of its probe run back
 * so that no lookup meets an empty slot before its key (no tombstones). */
static void slot_remove(ban_hdr_t *h, uint64_t i)
{
    ban_slot_t *sl = slots(h);
    ban_info_t *in = infos(h);
    uint64_t j = i, mask = h->mask;
    for (;;) {
        uint64_t home;
        j = (j + 1) & mask;
        if (!sl[j].until)
            break;
        home = home_of(h, sl[j].k0, sl[j].k1);
        /* j's entry may move to i when i lies in [home, j) */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            slot_set(&sl[i], sl[j].k0, sl[j].k1, sl[j].until, sl[j].flags);
            in[i] = in[j];
            i = j;
        }
    }
    slot_set(&sl[i], 0, 0, 0, 0);
    memset(&in[i], 0, sizeof(in[i]));
    ST(&h->active, h->active - 1);
}

static void copy_text(char *dst, size_t size, const char *src)
{
    size_t n = src ? strnlen(src, size - 1) : 0;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The ban ending soonest (the table is full, so there is one). */
static uint64_t soonest(const ban_hdr_t *h)
{
    const ban_slot_t *sl = slots(h);
    uint64_t i, best = 0;
    int64_t t = INT64_MAX;
    for (i = 0; i <= h->mask; i++)
        if (sl[i].until && sl[i].until < t) {
            t = sl[i].until;
            best = i;
        }
    return best;
}

int iw_ban_add(void *mem, const iw_ban_key_t *k, apr_time_t now, int seconds,
               unsigned flags, const char *rule, const char *request_id,
               iw_ban_rec_t *evicted, int *nevicted)
{
    ban_hdr_t *h = mem;
    ban_slot_t *sl = slots(h);
    ban_info_t *in;
    int64_t i, until = now + apr_time_from_sec(seconds > 0 ? seconds : 1);
    uint64_t j;

    *nevicted = 0;
    if (ban_lock(h) != 0)
        return IW_BAN_FAILED;
    i = find(h, k);
    if (i >= 0 && sl[i].until > now) {
        /* an active ban is kept as it is: alerts of requests that were in
         * flight when it began do not extend it */
        ADD(&h->exists, 1);
        ban_unlock(h);
        return IW_BAN_EXISTS;
    }
    write_begin(h);
    if (i >= 0) {               /* ended, not swept yet: its end is counted */
        slot_remove(h, (uint64_t)i);
        ADD(&h->expired, 1);
    }
    if (h->active >= h->max_bans) {
        j = soonest(h);
        to_rec(h, j, evicted);
        slot_remove(h, j);
        ADD(&h->evicted, 1);
        *nevicted = 1;
    }
    for (j = home_of(h, k->w[0], k->w[1]); sl[j].until; j = (j + 1) & h->mask)
        ;
    in = &infos(h)[j];
    memset(in, 0, sizeof(*in));
    in->since = now;
    in->seconds = seconds;
    copy_text(in->rule, sizeof(in->rule), rule);
    copy_text(in->request_id, sizeof(in->request_id), request_id);
    slot_set(&sl[j], k->w[0], k->w[1], until, flags & IW_BAN_F_DRYRUN);
    ST(&h->active, h->active + 1);
    if (until < h->next_end)
        h->next_end = until;
    ADD((flags & IW_BAN_F_DRYRUN) ? &h->dry_added : &h->added, 1);
    write_end(h);
    ban_unlock(h);
    return IW_BAN_ADDED;
}

int iw_ban_sweep_due(const void *mem, apr_time_t now)
{
    const ban_hdr_t *h = mem;
    return LD(&h->active) && LD(&h->next_end) <= now;
}

int iw_ban_sweep(void *mem, apr_time_t now, iw_ban_rec_t *out, int max)
{
    ban_hdr_t *h = mem;
    ban_slot_t *sl = slots(h);
    int64_t next = INT64_MAX;
    uint64_t i;
    int n = 0;

    if (!iw_ban_sweep_due(mem, now) || max <= 0 || ban_lock(h) != 0)
        return 0;
    write_begin(h);
    for (i = 0; i <= h->mask; i++) {
        /* a removal pulls a later entry into slot i: look at it again */
        while (sl[i].until && sl[i].until <= now && n < max) {
            to_rec(h, i, &out[n++]);
            slot_remove(h, i);
        }
        if (sl[i].until && sl[i].until < next)
            next = sl[i].until;
    }
    h->next_end = n == max ? now : next;    /* more to report: still due */
    ADD(&h->expired, (uint64_t)n);
    write_end(h);
    ban_unlock(h);
    return n;
}

int iw_ban_lift(void *mem, const iw_ban_key_t *k, iw_ban_rec_t *out)
{
    ban_hdr_t *h = mem;
    int64_t i;
    if (ban_lock(h) != 0)
        return -1;
    i = find(h, k);
    if (i >= 0) {
        to_rec(h, (uint64_t)i, out);
        write_begin(h);
        slot_remove(h, (uint64_t)i);
        ADD(&h->lifted, 1);
        write_end(h);
    }
    ban_unlock(h);
    return i >= 0;
}

int iw_ban_list(void *mem, apr_time_t now, iw_ban_rec_t *out, int max)
{
    ban_hdr_t *h = mem;
    const ban_slot_t *sl = slots(h);
    uint64_t i;
    int n = 0;
    if (ban_lock(h) != 0)
        return 0;
    for (i = 0; i <= h->mask && n < max; i++)
        if (sl[i].until > now)
            to_rec(h, i, &out[n++]);
    ban_unlock(h);
    return n;
}

void iw_ban_get_stats(const void *mem, iw_ban_stats_t *st)
{
    const ban_hdr_t *h = mem;
    memset(st, 0, sizeof(*st));
    if (!mem)
        return;
    st->capacity = h->max_bans;
    st->slots = h->mask + 1;
    st->active = LD(&h->active);
    st->added = LD(&h->added);
    st->dry_added = LD(&h->dry_added);
    st->exists = LD(&h->exists);
    st->expired = LD(&h->expired);
    st->lifted = LD(&h->lifted);
    st->evicted = LD(&h->evicted);
    st->refused = LD(&h->refused);
    st->would_refuse = LD(&h->would_refuse);
    st->allowlisted = LD(&h->allowlisted);
    st->read_retries = LD(&h->read_retries);
    st->read_locked = LD(&h->read_locked);
    st->lock_recovered = LD(&h->lock_recovered);
    st->lock_failures = LD(&h->lock_failures);
}

/* ---- alerts ------------------------------------------------------------- */

static void iso(char *buf, size_t size, apr_time_t t)
{
    apr_time_exp_t x;
    apr_time_exp_gmt(&x, t);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             (x.tm_year + 1900) % 10000, (x.tm_mon + 1) % 100, x.tm_mday % 100,
             x.tm_hour % 100, x.tm_min % 100, x.tm_sec % 100,
             (x.tm_usec / 1000) % 1000);
}

static const char *const actions[] = {
    "", "ban", "would-ban", "ban-expired", "ban-lifted", "ban-evicted"
};

/* Bans are actions taken (medium); an eviction means an attacker got out
 * early because the table was full (high); ends are informational. */
iw_level_t iw_ban_alert_level(iw_ban_event_t kind)
{
    return kind == IW_BAN_EV_EVICTED ? IW_LEVEL_HIGH
         : kind <= IW_BAN_EV_WOULD ? IW_LEVEL_MEDIUM : IW_LEVEL_INFORMATIONAL;
}

static void put(char *buf, size_t size, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t size, size_t *pos, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (*pos >= size)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *pos, size - *pos, fmt, ap);
    va_end(ap);
    if (n > 0)
        *pos += (size_t)n < size - *pos ? (size_t)n : size - *pos - 1;
}

static void name_of(char *buf, size_t size, iw_ban_event_t kind,
                    const iw_ban_rec_t *r)
{
    unsigned long long refused = (unsigned long long)r->refused;
    const char *noun = (r->flags & IW_BAN_F_DRYRUN) ? "dry-run ban" : "ban";
    switch (kind) {
    case IW_BAN_EV_BAN:
        snprintf(buf, size, "client denied for %d s after rule %s",
                 (int)r->seconds, r->rule);
        break;
    case IW_BAN_EV_WOULD:
        snprintf(buf, size, "client would be denied for %d s after rule %s "
                 "(dry run)", (int)r->seconds, r->rule);
        break;
    case IW_BAN_EV_EXPIRED:
        snprintf(buf, size, "%s of client ended after %d s, %llu requests %s",
                 noun, (int)r->seconds, refused,
                 (r->flags & IW_BAN_F_DRYRUN) ? "would have been refused"
                                               : "refused");
        break;
    case IW_BAN_EV_LIFTED:
        snprintf(buf, size, "%s of client lifted by an admin, %llu requests "
                 "refused", noun, refused);
        break;
    default:
        snprintf(buf, size, "%s of client evicted early: ban table full, "
                 "%llu requests refused", noun, refused);
        break;
    }
}

size_t iw_ban_alert_json(char *buf, size_t size, iw_ban_event_t kind,
                         const iw_ban_rec_t *r, apr_time_t now,
                         const char *host_name)
{
    char name[256], ip[64], ts[40];
    iw_level_t lvl = iw_ban_alert_level(kind);
    size_t pos = 0;

    if (size < 3)
        return 0;
    if (kind < IW_BAN_EV_BAN || kind > IW_BAN_EV_EVICTED)
        kind = IW_BAN_EV_EVICTED;
    name_of(name, sizeof(name), kind, r);
    iw_ban_key_format(&r->key, ip, sizeof(ip));
    put(buf, size, &pos, "{\"rule\":{\"id\":\"%s\",\"name\":",
        kind <= IW_BAN_EV_WOULD ? "iocwatch-ban" : "iocwatch-ban-end");
    iw_json_str(buf, size, &pos, name, strlen(name), sizeof(name));
    iso(ts, sizeof(ts), now);
    put(buf, size, &pos, ",\"ruleset\":\"iocwatch\"},\"@timestamp\":\"%s\","
        "\"event\":{\"kind\":\"alert\",\"severity\":%d,\"module\":\"iocwatch\","
        "\"dataset\":\"iocwatch.alert\",\"action\":\"%s\"},\"log\":{\"level\":"
        "\"%s\"},\"source\":{\"ip\":\"%s\"}", ts, iw_level_to_ecs_severity(lvl),
        actions[kind], iw_level_name(lvl), ip);
    if (host_name) {
        put(buf, size, &pos, ",\"host\":{\"name\":");
        iw_json_str(buf, size, &pos, host_name, strlen(host_name), 255);
        put(buf, size, &pos, "}");
    }
    put(buf, size, &pos, ",\"iocwatch\":{\"ban\":{\"action\":\"%s\",\"seconds\":%d,"
        "\"dry_run\":%s,", actions[kind], (int)r->seconds,
        (r->flags & IW_BAN_F_DRYRUN) ? "true" : "false");
    iso(ts, sizeof(ts), r->since);
    put(buf, size, &pos, "\"since\":\"%s\",", ts);
    iso(ts, sizeof(ts), r->until);
    put(buf, size, &pos, "\"until\":\"%s\",\"refused\":%llu,\"trigger\":{\"rule\":",
        ts, (unsigned long long)r->refused);
    iw_json_str(buf, size, &pos, r->rule, strlen(r->rule), IW_BAN_RULE_MAX);
    put(buf, size, &pos, ",\"request_id\":");
    iw_json_str(buf, size, &pos, r->request_id, strlen(r->request_id),
                IW_BAN_REQID_MAX);
    put(buf, size, &pos, "}}}}");
    if (pos >= size - 1) {
        /* cut: never half a JSON object (size is ample for real values) */
        pos = 0;
        buf[0] = '\0';
    }
    return pos;
}
