/* SPDX-License-Identifier: Apache-2.0 */
/* bench_ban: the ban lookup that runs on every request (iw_ban_lookup),
 * for counting under callgrind (tools/bench_ban.py, `make bench`).
 *
 * Three loops, each its own function so that callgrind's --toggle-collect
 * counts one of them: 100,000 lookups of distinct clients in an empty
 * table (lookups_empty), in a table holding 10,000 active bans of other
 * clients (lookups_miss: the normal request of a busy banning server) and
 * of the banned clients themselves (lookups_hit).  Instructions per lookup
 * = the function's inclusive count / 100,000 (the loop's own few
 * instructions included).  Run alone, it prints wall-clock ns per lookup
 * (informational only).
 *
 * Usage: bench_ban [LOOKUPS] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <apr_general.h>
#include "iw_ban.h"

#define BANS 10000
#define CAP  16384

/* tag.n: banned clients are 10.x.y.z, the others 20.x.y.z */
static iw_ban_key_t key_of(unsigned char tag, uint32_t n)
{
    unsigned char b[4] = {tag, (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                          (unsigned char)n};
    return iw_ban_key_v4(b);
}

static volatile long sink;

static long __attribute__((noinline)) run(const void *mem, const iw_ban_key_t *keys,
                                          int n, apr_time_t now)
{
    long found = 0;
    int i;
    for (i = 0; i < n; i++) {
        unsigned fl = 0;
        found += iw_ban_lookup(mem, &keys[i], now, &fl) >= 0;
    }
    return found;
}

long __attribute__((noinline)) lookups_empty(const void *m, const iw_ban_key_t *k, int n,
                                             apr_time_t now)
{
    return run(m, k, n, now);
}

long __attribute__((noinline)) lookups_miss(const void *m, const iw_ban_key_t *k, int n,
                                            apr_time_t now)
{
    return run(m, k, n, now);
}

long __attribute__((noinline)) lookups_hit(const void *m, const iw_ban_key_t *k, int n,
                                           apr_time_t now)
{
    return run(m, k, n, now);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000, i, nev;
    size_t bytes = iw_ban_mem_size(CAP);
    void *empty = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    void *full = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    iw_ban_key_t *miss = malloc(sizeof(*miss) * (size_t)n);
    iw_ban_key_t *hit = malloc(sizeof(*hit) * (size_t)n);
    apr_time_t now = apr_time_now();
    iw_ban_rec_t ev;
    iw_ban_stats_t st;
    long f0, f1, f2;
    double t0, t1, t2, t3;

    apr_initialize();
    if (n <= 0 || !empty || !full || !miss || !hit
        || iw_ban_mem_init(empty, bytes, CAP) || iw_ban_mem_init(full, bytes, CAP)) {
        fprintf(stderr, "bench_ban: setup failed\n");
        return 1;
    }
    for (i = 0; i < BANS; i++) {
        iw_ban_key_t k = key_of(10, (uint32_t)i);
        if (iw_ban_add(full, &k, now, 3600, 0, "bench", "", &ev, &nev) != IW_BAN_ADDED)
            return 1;
    }
    for (i = 0; i < n; i++) {
        miss[i] = key_of(20, (uint32_t)i * 40503u);
        hit[i] = key_of(10, (uint32_t)(i % BANS));
    }
    t0 = now_ns();
    f0 = lookups_empty(empty, miss, n, now);
    t1 = now_ns();
    f1 = lookups_miss(full, miss, n, now);
    t2 = now_ns();
    f2 = lookups_hit(full, hit, n, now);
    t3 = now_ns();
    sink = f0 + f1 + f2;
    iw_ban_get_stats(full, &st);
    printf("bench_ban: %d lookups each; table of %llu slots, %llu active bans\n", n,
           (unsigned long long)st.slots, (unsigned long long)st.active);
    printf("  empty table, not banned: %ld found, %.1f ns/lookup (wall)\n", f0, (t1 - t0) / n);
    printf("  10,000 bans, not banned: %ld found, %.1f ns/lookup (wall)\n", f1, (t2 - t1) / n);
    printf("  10,000 bans, banned:     %ld found, %.1f ns/lookup (wall)\n", f2, (t3 - t2) / n);
    return (f0 == 0 && f1 == 0 && f2 == n) ? 0 : 1;
}
