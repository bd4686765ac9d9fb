/* SPDX-License-Identifier: Apache-2.0 */
/* iw_metrics: slots summed on read, released slots keep their counts,
 * dead owners' slots are taken over, rules and targets registered once,
 * overflow to "_other"/slot 0, label escaping in the exposition. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iw_test.h"
#include "iw_metrics.h"

typedef struct buf { char *s; size_t n, cap; } buf_t;

static void emit(void *ctx, const char *s, size_t n)
{
    buf_t *b = ctx;
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static iw_metrics_t *fresh(void **mem)
{
    *mem = calloc(1, iw_metrics_size());
    return iw_metrics_init(*mem, 1700000000);
}

TEST(metrics_slots_sum_and_survive_release)
{
    void *mem;
    iw_metrics_t *m = fresh(&mem);
    iw_mslot_t *a = iw_metrics_claim(m), *b = iw_metrics_claim(m), *c;
    uint64_t sc[IW_M_N];
    REQUIRE(a && b && a != b);
    CHECK(!a->shared && !b->shared);
    IW_METRICS_INC(a, EVENTS);
    IW_METRICS_INC(a, EVENTS);
    iw_metrics_add(b, IW_M_EVENTS, 5);
    IW_METRICS_INC(b, ALERTS);
    iw_metrics_sum(m, sc, NULL);
    CHECK_INT(sc[IW_M_EVENTS], 7);
    CHECK_INT(sc[IW_M_ALERTS], 1);
    /* a thread ends: its counts stay, the next owner continues from them */
    iw_metrics_release(a);
    c = iw_metrics_claim(m);
    CHECK(c == a);
    IW_METRICS_INC(c, EVENTS);
    iw_metrics_sum(m, sc, NULL);
    CHECK_INT(sc[IW_M_EVENTS], 8);
    CHECK(iw_metrics_attach(mem, iw_metrics_size()) == m);
    CHECK(iw_metrics_attach(mem, iw_metrics_size() - 8) == NULL);
    free(mem);
}

/* apr_shm hands out memory that is only 8-byte aligned: the block still
 * starts on a cache line (UBSan: misaligned access otherwise) and is found
 * again at the same place. */
TEST(metrics_block_on_8_byte_aligned_memory)
{
    void *blk = NULL;
    char *raw;
    void *mem;
    iw_metrics_t *m;
    iw_mslot_t *a;
    uint64_t sc[IW_M_N];
    REQUIRE(posix_memalign(&blk, 64, iw_metrics_size() + 64) == 0);
    raw = blk;
    mem = raw + 8;
    memset(raw, 0, iw_metrics_size() + 64);
    m = iw_metrics_init(mem, 1700000000);
    CHECK(((uintptr_t)m & 63) == 0);
    CHECK((char *)m >= (char *)mem);
    CHECK((char *)m + 64 <= (char *)mem + iw_metrics_size());
    a = iw_metrics_claim(m);
    REQUIRE(a);
    IW_METRICS_INC(a, EVENTS);
    iw_metrics_sum(m, sc, NULL);
    CHECK_INT(sc[IW_M_EVENTS], 1);
    CHECK(iw_metrics_attach(mem, iw_metrics_size()) == m);
    free(raw);
}

TEST(metrics_dead_owner_taken_over_and_full_table_shares_slot0)
{
    void *mem;
    iw_metrics_t *m = fresh(&mem);
    iw_mslot_t *s[IW_METRICS_SLOTS];
    pid_t pid;
    int i, n = 0;
    uint64_t sc[IW_M_N];
    /* take every slot but one */
    for (i = 1; i < IW_METRICS_SLOTS - 1; i++)
        s[n++] = iw_metrics_claim(m);
    /* a process that is gone (a child that exited) */
    pid = fork();
    if (pid == 0)
        _exit(0);
    REQUIRE(pid > 0);
    waitpid(pid, NULL, 0);
    {   /* the last free slot, left owned by the dead process (a crash) */
        iw_mslot_t *last = iw_metrics_claim(m);
        REQUIRE(last && !last->shared);
        last->owner = (uint64_t)(uint32_t)pid << 32 | 7;
        iw_metrics_add(last, IW_M_EVENTS, 3);
        s[n] = iw_metrics_claim(m);         /* taken over, counts kept */
        CHECK(s[n] == last);
        n++;
    }
    /* now all taken by live owners: slot 0, shared, atomic adds */
    {
        iw_mslot_t *z = iw_metrics_claim(m);
        REQUIRE(z);
        CHECK(z->shared);
        IW_METRICS_INC(z, EVENTS);
        iw_metrics_release(z);      /* slot 0 is never released */
        CHECK(z->shared);
    }
    iw_metrics_sum(m, sc, NULL);
    CHECK_INT(sc[IW_M_EVENTS], 4);
    free(mem);
}

TEST(metrics_rules_targets_and_exposition)
{
    void *mem;
    iw_metrics_t *m = fresh(&mem);
    buf_t b = {0};
    iw_metrics_extra_t x = {0};
    int r1 = iw_metrics_rule(m, "rule-1", "high");
    int r2 = iw_metrics_rule(m, "we\"ird\\id\n", "low");
    uint64_t *t = iw_metrics_target(m, "udp://127.0.0.1:514");
    uint64_t tg[IW_NS_N];
    CHECK(r1 > 0 && r2 > 0 && r1 != r2);
    CHECK_INT(iw_metrics_rule(m, "rule-1", "high"), r1);     /* found again */
    CHECK(iw_metrics_rule(m, "rule-1", "critical") != r1);   /* level changed */
    CHECK(iw_metrics_target(m, "udp://127.0.0.1:514") == t);
    REQUIRE(t);
    iw_metrics_rule_add(m, r1, IW_MR_ALERTS);
    iw_metrics_rule_add(m, r1, IW_MR_ALERTS);
    iw_metrics_rule_add(m, r2, IW_MR_ALERTS);
    t[IW_NS_SENT] += 2;
    t[IW_NS_DEPTH] += 1;
    iw_metrics_sum(m, NULL, tg);
    CHECK_INT(tg[IW_NS_SENT], 2);
    x.rules_loaded = 3;
    x.config_generation = 2;
    iw_metrics_render_prom(m, &x, emit, &b);
    REQUIRE(b.s);
    CHECK_CONTAINS(b.s, "# TYPE iocwatch_events_total counter\niocwatch_events_total 0\n");
    CHECK_CONTAINS(b.s, "iocwatch_rule_alerts_total{rule=\"rule-1\",level=\"high\"} 2\n");
    CHECK_CONTAINS(b.s, "{rule=\"we\\\"ird\\\\id\\n\",level=\"low\"} 1\n");
    CHECK_CONTAINS(b.s, "iocwatch_target_sent_total{target=\"udp://127.0.0.1:514\"} 2\n");
    CHECK_CONTAINS(b.s, "# TYPE iocwatch_target_queue_depth gauge\n"
                   "iocwatch_target_queue_depth{target=\"udp://127.0.0.1:514\"} 1\n");
    CHECK_CONTAINS(b.s, "iocwatch_rules_loaded 3\n");
    CHECK_CONTAINS(b.s, "iocwatch_metrics_start_time_seconds 1700000000\n");
    CHECK(!strstr(b.s, "_other"));      /* only once the table overflowed */
    b.n = 0;
    iw_metrics_render_text(m, &x, emit, &b);
    CHECK_CONTAINS(b.s, "total_sent: 2\n");
    CHECK_CONTAINS(b.s, "total_rules_generation: 2\n");
    free(b.s);
    free(mem);
}

TEST(metrics_rule_table_overflow_goes_to_other)
{
    void *mem;
    iw_metrics_t *m = fresh(&mem);
    char id[32];
    int i, last = 0;
    for (i = 0; i < IW_METRICS_RULES + 5; i++) {
        snprintf(id, sizeof(id), "r%d", i);
        last = iw_metrics_rule(m, id, "low");
    }
    CHECK_INT(last, 0);
    iw_metrics_rule_add(m, last, IW_MR_ALERTS);
    CHECK_INT(iw_metrics_rule_counters(m, 0)[IW_MR_ALERTS], 1);
    free(mem);
}
