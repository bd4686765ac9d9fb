/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for iw_corr: correlation semantics, the flat table, eviction,
 * graceful-restart attach, partitions and their locks (multi-thread and
 * multi-process exactness, dead lock owners) and flood control.
 * The rule model is built by hand (as iw_ruleset_link would leave it). */
#include <stdarg.h>
#include <stdlib.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include "iw_test.h"
#include "iw_corr.h"
#include "iw_corr_int.h"     /* partition hooks: iw_corr__partition, locks */

#define SEC ((apr_time_t)1000000)
#define T0  ((apr_time_t)1700000000 * SEC)

/* ---- hand-built model ------------------------------------------------- */

typedef struct fx {
    apr_pool_t *p;
    iw_ruleset_t *rs;
    iw_corr_t *c;
    void *mem;
    size_t bytes;
    iw_event_t ev;
    char evbuf[1024];
    iw_corr_alert_t out[16];
} fx_t;

static fx_t *fx_new(apr_pool_t *p)
{
    fx_t *f = apr_pcalloc(p, sizeof(*f));
    f->p = p;
    f->rs = apr_pcalloc(p, sizeof(*f->rs));
    f->rs->pool = p;
    f->rs->rules = apr_array_make(p, 8, sizeof(iw_rule_t *));
    f->rs->by_id = apr_hash_make(p);
    f->rs->by_name = apr_hash_make(p);
    f->rs->linked = 1;
    iw_event_init(&f->ev, f->evbuf, sizeof(f->evbuf));
    f->ev.type = IW_EV_ACCESS;
    return f;
}

static iw_rule_t *add_rule(fx_t *f, iw_rule_kind_t kind, const char *id, const char *name)
{
    iw_rule_t *r = apr_pcalloc(f->p, sizeof(*r));
    r->kind = kind;
    r->index = f->rs->rules->nelts;
    r->id = id;
    r->name = name;
    r->title = id;
    r->generate = 1;
    r->file = "test.yml";
    r->line = 1;
    APR_ARRAY_PUSH(f->rs->rules, iw_rule_t *) = r;
    if (id) apr_hash_set(f->rs->by_id, id, APR_HASH_KEY_STRING, r);
    if (name) apr_hash_set(f->rs->by_name, name, APR_HASH_KEY_STRING, r);
    return r;
}

static iw_rule_t *det(fx_t *f, const char *id)
{
    return add_rule(f, IW_RULE_DETECTION, id, id);
}

/* refs and group-by are NULL-terminated; group_fields resolved like the
 * linker does for plain field names (aliases left to iw_corr). */
static iw_rule_t *corr(fx_t *f, const char *id, iw_corr_type_t type,
                       apr_interval_time_t span, const char *const *group,
                       int op1, int64_t v1, int op2, int64_t v2, ...)
{
    iw_rule_t *r = add_rule(f, IW_RULE_CORRELATION, id, id), *ref;
    iw_corr_def_t *d = apr_pcalloc(f->p, sizeof(*d));
    va_list ap;
    int i, j, ng = 0;

    d->type = type;
    d->timespan = span;
    d->rules = apr_array_make(f->p, 4, sizeof(iw_rule_t *));
    d->rule_refs = apr_array_make(f->p, 4, sizeof(const char *));
    d->group_by = apr_array_make(f->p, 4, sizeof(const char *));
    d->value_field_id = -1;
    va_start(ap, v2);
    while ((ref = va_arg(ap, iw_rule_t *))) {
        APR_ARRAY_PUSH(d->rules, iw_rule_t *) = ref;
        APR_ARRAY_PUSH(d->rule_refs, const char *) = ref->id;
    }
    va_end(ap);
    for (i = 0; group && group[i]; i++, ng++)
        APR_ARRAY_PUSH(d->group_by, const char *) = group[i];
    d->group_fields = apr_pcalloc(f->p, sizeof(int) * (ng * d->rules->nelts + 1));
    for (i = 0; i < d->rules->nelts; i++)
        for (j = 0; j < ng; j++)
            d->group_fields[i * ng + j] = iw_field_lookup(group[j]);
    if (op1) d->cmp[d->ncmp++] = (iw_corr_cmp_t){op1, v1};
    if (op2) d->cmp[d->ncmp++] = (iw_corr_cmp_t){op2, v2};
    r->corr = d;
    return r;
}

static const char *const BY_IP[] = {"c-ip", NULL};

/* Compile and give it a heap table of `slots` slots. */
static int fx_build(fx_t *f, size_t slots)
{
    iw_diag_t *d = iw_diag_create(f->p);
    f->c = iw_corr_create_rs(f->p, f->rs, d);
    if (!f->c) return 0;
    f->bytes = iw_corr_table_bytes(iw_corr_slot_size(f->c), slots);
    f->mem = apr_pcalloc(f->p, f->bytes);
    iw_corr_mem_init(f->c, f->mem, f->bytes);
    return d->errors == 0;
}

static void set_field(fx_t *f, iw_field_id_t fid, const char *v)
{
    f->ev.val[fid] = v ? (iw_str_t){v, strlen(v)} : IW_STR_NULL;
}

/* One event from client `ip` matching `rule` at time t. */
static int feed(fx_t *f, const iw_rule_t *rule, const char *ip, apr_time_t t)
{
    iw_hit_t hit;
    memset(&hit, 0, sizeof(hit));
    hit.rule = rule;
    set_field(f, IW_F_C_IP, ip);
    f->ev.time = t;
    return iw_corr_update(f->c, f->mem, &f->ev, &hit, 1, t, f->out, 16);
}

/* One event matching two rules at once. */
static int feed2(fx_t *f, const iw_rule_t *a, const iw_rule_t *b, const char *ip,
                 apr_time_t t)
{
    iw_hit_t hits[2];
    memset(hits, 0, sizeof(hits));
    hits[0].rule = a;
    hits[1].rule = b;
    set_field(f, IW_F_C_IP, ip);
    return iw_corr_update(f->c, f->mem, &f->ev, hits, 2, t, f->out, 16);
}

static int64_t peek(fx_t *f, const iw_rule_t *cr, const char *ip)
{
    int64_t n = -1;
    set_field(f, IW_F_C_IP, ip);
    if (!iw_corr_peek(f->c, f->mem, cr, &f->ev, &n)) return 0;
    return n;
}

static iw_corr_stats_t stats(fx_t *f)
{
    iw_corr_stats_t st;
    iw_corr_get_stats(f->mem, &st);
    return st;
}

/* ---- event_count ------------------------------------------------------- */

TEST(corr_event_count_fires_once_per_window)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_rule_t *c = corr(f, "c", IW_CORR_EVENT_COUNT, 60 * SEC, BY_IP,
                        IW_CMP_GTE, 5, 0, 0, a, NULL);
    int i, fired = 0;

    REQUIRE(fx_build(f, 128));
    for (i = 1; i <= 4; i++) CHECK_INT(feed(f, a, "10.0.0.1", T0 + i * SEC), 0);
    CHECK_INT(peek(f, c, "10.0.0.1"), 4);
    REQUIRE(feed(f, a, "10.0.0.1", T0 + 5 * SEC) == 1);
    CHECK(f->out[0].rule == c);
    CHECK_INT(f->out[0].type, IW_CORR_EVENT_COUNT);
    CHECK_INT(f->out[0].count, 5);
    CHECK_STR(f->out[0].group, "c-ip=10.0.0.1");
    CHECK_INT(f->out[0].first_seen, T0 + 1 * SEC);
    CHECK_INT(f->out[0].last_seen, T0 + 5 * SEC);
    CHECK_INT(f->out[0].window, 60 * SEC);
    CHECK_INT(f->out[0].with_event, 1);
    /* one alert per group and timespan: the group is quiet until 60 s after
     * the alert (the 6th..64th would have re-crossed 5 eleven times) */
    CHECK_INT(peek(f, c, "10.0.0.1"), 0);
    for (i = 6; i <= 64; i++) fired += feed(f, a, "10.0.0.1", T0 + i * SEC);
    CHECK_INT(fired, 0);
    /* then a new window: counted afresh, fires at its 5th event */
    for (i = 65; i <= 68; i++) fired += feed(f, a, "10.0.0.1", T0 + i * SEC);
    CHECK_INT(fired, 0);
    CHECK_INT(feed(f, a, "10.0.0.1", T0 + 69 * SEC), 1);
    CHECK_INT(f->out[0].count, 5);
    CHECK_INT(f->out[0].first_seen, T0 + 65 * SEC);
    CHECK_INT(stats(f).alerts, 2);
    CHECK_INT(stats(f).updates, 69);
}

TEST(corr_event_count_groups_counted_apart)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_rule_t *c = corr(f, "c", IW_CORR_EVENT_COUNT, 60 * SEC, BY_IP,
                        IW_CMP_GTE, 3, 0, 0, a, NULL);
    REQUIRE(fx_build(f, 128));
    CHECK_INT(feed(f, a, "1.1.1.1", T0), 0);
    CHECK_INT(feed(f, a, "2.2.2.2", T0 + 1), 0);
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 2), 0);
    CHECK_INT(feed(f, a, "2.2.2.2", T0 + 3), 0);
    CHECK_INT(peek(f, c, "1.1.1.1"), 2);
    CHECK_INT(peek(f, c, "2.2.2.2"), 2);
    REQUIRE(feed(f, a, "1.1.1.1", T0 + 4) == 1);
    CHECK_STR(f->out[0].group, "c-ip=1.1.1.1");
    CHECK_INT(peek(f, c, "2.2.2.2"), 2);
    CHECK_INT(feed(f, a, "3.3.3.3", T0 + 5), 0);
    CHECK_INT(stats(f).used, 3);            /* 1.1.1.1 stays: quiet after its alert */
}

TEST(corr_absent_group_field_is_dash)
{
    fx_t *f = fx_new(p);
    static const char *const by[] = {"c-ip", "cs-username", NULL};
    iw_rule_t *a = det(f, "a");
    corr(f, "c", IW_CORR_EVENT_COUNT, 60 * SEC, by, IW_CMP_GTE, 2, 0, 0, a, NULL);
    REQUIRE(fx_build(f, 64));
    set_field(f, IW_F_CS_USERNAME, NULL);
    CHECK_INT(feed(f, a, "1.1.1.1", T0), 0);
    set_field(f, IW_F_CS_USERNAME, "-");   /* a log's "-" is the same group */
    REQUIRE(feed(f, a, "1.1.1.1", T0 + 1) == 1);
    CHECK_STR(f->out[0].group, "c-ip=1.1.1.1,cs-username=-");
}

/* Window edge: [first, first + timespan) -- an event exactly `timespan`
 * after another is outside its window, one microsecond earlier is inside. */
TEST(corr_window_edges)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    corr(f, "c", IW_CORR_EVENT_COUNT, 10 * SEC, BY_IP, IW_CMP_GTE, 2, 0, 0, a, NULL);
    REQUIRE(fx_build(f, 64));
    CHECK_INT(feed(f, a, "1.1.1.1", T0), 0);
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 10 * SEC), 0);        /* out */
    CHECK_INT(feed(f, a, "2.2.2.2", T0), 0);
    CHECK_INT(feed(f, a, "2.2.2.2", T0 + 10 * SEC - 1), 1);    /* in */
    CHECK_INT(f->out[0].count, 2);
}

TEST(corr_window_edges_close_mode)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_rule_t *c = corr(f, "c", IW_CORR_EVENT_COUNT, 10 * SEC, BY_IP,
                        IW_CMP_EQ, 2, 0, 0, a, NULL);
    REQUIRE(fx_build(f, 64));
    /* t0 and t0+10s: two windows of one event each -> eq 2 never true */
    CHECK_INT(feed(f, a, "1.1.1.1", T0), 0);
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 10 * SEC), 0);
    CHECK_INT(peek(f, c, "1.1.1.1"), 1);
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 20 * SEC), 0);
    /* t0 and t0+10s-1: one window of two, closed by the next event */
    CHECK_INT(feed(f, a, "2.2.2.2", T0), 0);
    CHECK_INT(feed(f, a, "2.2.2.2", T0 + 10 * SEC - 1), 0);
    REQUIRE(feed(f, a, "2.2.2.2", T0 + 10 * SEC) == 1);
    CHECK_INT(f->out[0].count, 2);
    CHECK_INT(f->out[0].first_seen, T0);
    CHECK_INT(f->out[0].last_seen, T0 + 10 * SEC - 1);
    CHECK_INT(peek(f, c, "2.2.2.2"), 1);   /* the closing event opened a new one */
}

/* Condition operators: n events in one 10 s window, then a closing event
 * (a different window) for the upper-bounded ones.  Returns alerts seen and
 * the count of the last one. */
static int run_op(apr_pool_t *p, int op1, int64_t v1, int op2, int64_t v2, int n,
                  int64_t *count, int *at)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    int i, k, alerts = 0;

    corr(f, "c", IW_CORR_EVENT_COUNT, 10 * SEC, BY_IP, op1, v1, op2, v2, a, NULL);
    if (!fx_build(f, 64)) return -1;
    *at = 0;
    for (i = 1; i <= n; i++)
        if ((k = feed(f, a, "9.9.9.9", T0 + i))) { alerts += k; *count = f->out[0].count; *at = i; }
    if ((k = feed(f, a, "9.9.9.9", T0 + 20 * SEC))) { alerts += k; *count = f->out[0].count; *at = -1; }
    return alerts;
}

TEST(corr_condition_operators)
{
    int64_t n = -1;
    int at;
    /* lower bounds fire on the event that makes them true */
    CHECK_INT(run_op(p, IW_CMP_GT, 3, 0, 0, 6, &n, &at), 1);
    CHECK_INT(n, 4); CHECK_INT(at, 4);
    CHECK_INT(run_op(p, IW_CMP_GT, 3, 0, 0, 3, &n, &at), 0);
    CHECK_INT(run_op(p, IW_CMP_GTE, 3, 0, 0, 3, &n, &at), 1);
    CHECK_INT(n, 3); CHECK_INT(at, 3);
    /* upper bounds / eq / neq are decided when the window closes */
    CHECK_INT(run_op(p, IW_CMP_LT, 3, 0, 0, 2, &n, &at), 1);
    CHECK_INT(n, 2); CHECK_INT(at, -1);
    CHECK_INT(run_op(p, IW_CMP_LT, 3, 0, 0, 3, &n, &at), 0);
    CHECK_INT(run_op(p, IW_CMP_LTE, 3, 0, 0, 3, &n, &at), 1);
    CHECK_INT(n, 3);
    CHECK_INT(run_op(p, IW_CMP_LTE, 3, 0, 0, 4, &n, &at), 0);
    CHECK_INT(run_op(p, IW_CMP_EQ, 3, 0, 0, 3, &n, &at), 1);
    CHECK_INT(run_op(p, IW_CMP_EQ, 3, 0, 0, 4, &n, &at), 0);
    CHECK_INT(run_op(p, IW_CMP_EQ, 3, 0, 0, 2, &n, &at), 0);
    CHECK_INT(run_op(p, IW_CMP_NEQ, 3, 0, 0, 3, &n, &at), 0);
    CHECK_INT(run_op(p, IW_CMP_NEQ, 3, 0, 0, 4, &n, &at), 1);
    CHECK_INT(n, 4);
    CHECK_INT(run_op(p, IW_CMP_NEQ, 3, 0, 0, 2, &n, &at), 1);
    CHECK_INT(n, 2);
}

TEST(corr_condition_range)
{
    int64_t n = -1;
    int at;
    /* "101 to 200" shape: gt 2 and lte 4 */
    CHECK_INT(run_op(p, IW_CMP_GT, 2, IW_CMP_LTE, 4, 2, &n, &at), 0);
    CHECK_INT(run_op(p, IW_CMP_GT, 2, IW_CMP_LTE, 4, 3, &n, &at), 1);
    CHECK_INT(n, 3);
    CHECK_INT(run_op(p, IW_CMP_GT, 2, IW_CMP_LTE, 4, 4, &n, &at), 1);
    CHECK_INT(n, 4);
    CHECK_INT(run_op(p, IW_CMP_GT, 2, IW_CMP_LTE, 4, 5, &n, &at), 0);
    /* a range far above the slot's element bound stays exact (counter) */
    CHECK_INT(run_op(p, IW_CMP_GTE, 300, IW_CMP_LT, 302, 301, &n, &at), 1);
    CHECK_INT(n, 301);
    CHECK_INT(run_op(p, IW_CMP_GTE, 300, IW_CMP_LT, 302, 302, &n, &at), 0);
}

TEST(corr_event_count_sliding_window)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_rule_t *c = corr(f, "c", IW_CORR_EVENT_COUNT, 10 * SEC, BY_IP,
                        IW_CMP_GTE, 3, 0, 0, a, NULL);
    REQUIRE(fx_build(f, 64));
    CHECK_INT(feed(f, a, "1.1.1.1", T0), 0);
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 6 * SEC), 0);
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 12 * SEC), 0);   /* T0 slid out */
    CHECK_INT(peek(f, c, "1.1.1.1"), 2);
    REQUIRE(feed(f, a, "1.1.1.1", T0 + 13 * SEC) == 1);   /* 6, 12, 13 */
    CHECK_INT(f->out[0].first_seen, T0 + 6 * SEC);
    /* same-second events (log resolution) count one by one */
    CHECK_INT(feed(f, a, "2.2.2.2", T0), 0);
    CHECK_INT(feed(f, a, "2.2.2.2", T0), 0);
    CHECK_INT(feed(f, a, "2.2.2.2", T0), 1);
}

TEST(corr_event_count_large_threshold)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_rule_t *c = corr(f, "c", IW_CORR_EVENT_COUNT, 3600 * SEC, BY_IP,
                        IW_CMP_GTE, 500, 0, 0, a, NULL);
    int i, fired = 0, at = 0;
    REQUIRE(fx_build(f, 16));
    for (i = 1; i <= 600; i++)
        if (feed(f, a, "1.1.1.1", T0 + i * SEC)) { fired++; at = i; }
    CHECK_INT(fired, 1);
    CHECK_INT(at, 500);
    CHECK_INT(f->out[0].count, 500);
    CHECK_INT(peek(f, c, "1.1.1.1"), 0);    /* quiet for the rest of its window */
}

TEST(corr_out_of_order_timestamps)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_rule_t *c = corr(f, "c", IW_CORR_EVENT_COUNT, 10 * SEC, BY_IP,
                        IW_CMP_GTE, 3, 0, 0, a, NULL);
    REQUIRE(fx_build(f, 64));
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 100 * SEC), 0);
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 80 * SEC), 0);    /* too old: late */
    CHECK_INT(stats(f).late, 1);
    CHECK_INT(peek(f, c, "1.1.1.1"), 1);
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 95 * SEC), 0);    /* late but inside */
    CHECK_INT(peek(f, c, "1.1.1.1"), 2);
    REQUIRE(feed(f, a, "1.1.1.1", T0 + 102 * SEC) == 1);
    CHECK_INT(f->out[0].first_seen, T0 + 95 * SEC);
    CHECK_INT(f->out[0].last_seen, T0 + 102 * SEC);
    /* an older event slides the newest one's window: 111 expires 100, and
     * 101 is exactly a window older than 111 */
    CHECK_INT(feed(f, a, "2.2.2.2", T0 + 100 * SEC), 0);
    CHECK_INT(feed(f, a, "2.2.2.2", T0 + 111 * SEC), 0);
    CHECK_INT(peek(f, c, "2.2.2.2"), 1);
    CHECK_INT(feed(f, a, "2.2.2.2", T0 + 101 * SEC), 0);
    CHECK_INT(stats(f).late, 2);
    CHECK_INT(feed(f, a, "2.2.2.2", T0 + 102 * SEC), 0);
    CHECK_INT(feed(f, a, "2.2.2.2", T0 + 103 * SEC), 1);
}

TEST(corr_out_of_order_close_mode)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_rule_t *c = corr(f, "c", IW_CORR_EVENT_COUNT, 10 * SEC, BY_IP,
                        IW_CMP_LTE, 2, 0, 0, a, NULL);
    REQUIRE(fx_build(f, 64));
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 100 * SEC), 0);   /* opens [100, 110) */
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 95 * SEC), 0);    /* < 10 s older: in */
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 90 * SEC), 0);    /* a window older: late */
    CHECK_INT(stats(f).late, 1);
    CHECK_INT(peek(f, c, "1.1.1.1"), 2);
    REQUIRE(feed(f, a, "1.1.1.1", T0 + 110 * SEC) == 1);
    CHECK_INT(f->out[0].count, 2);
    CHECK_INT(f->out[0].first_seen, T0 + 100 * SEC);
}

/* Differential test: random, partly out-of-order timestamps against a
 * brute-force model of the documented semantics (late = a window older
 * than the newest event; count over (newest - span, newest]; fire at N,
 * then quiet until one span after the firing event, then start afresh). */
typedef struct refm {
    int64_t ts[4096];
    int vals[4096];
    int n, fired;
    int64_t newest, fired_at;
} refm_t;

static int ref_feed(refm_t *m, int64_t t, int val, int64_t span, int thr, int distinct)
{
    int i, j, cnt = 0;
    if (m->fired) {
        if (t - m->fired_at < span) return 0;             /* quiet */
        m->fired = 0;                                     /* a new window */
        m->n = 0;
    }
    if (m->n && m->newest - t >= span) return 0;          /* late */
    if (!m->n || t > m->newest) m->newest = t;
    m->ts[m->n] = t;
    m->vals[m->n++] = val;
    for (i = 0; i < m->n; i++) {
        int dup = 0;
        if (m->newest - m->ts[i] >= span) continue;
        for (j = 0; distinct && j < i; j++)
            if (m->vals[j] == m->vals[i] && m->newest - m->ts[j] < span) dup = 1;
        if (!dup) cnt++;
    }
    /* expired entries never come back: drop them like the table does */
    for (i = j = 0; i < m->n; i++)
        if (m->newest - m->ts[i] < span) { m->ts[j] = m->ts[i]; m->vals[j++] = m->vals[i]; }
    m->n = j;
    if (cnt >= thr) { m->n = 0; m->fired = 1; m->fired_at = m->newest; return 1; }
    return 0;
}

static int diff_run(apr_pool_t *p, iw_corr_type_t type, int thr, unsigned seed)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_rule_t *c = corr(f, "c", type, 10 * SEC, BY_IP, IW_CMP_GTE, thr, 0, 0, a, NULL);
    refm_t *m = apr_pcalloc(p, sizeof(*m));
    int64_t base = T0;
    char v[16];
    int i, bad = 0, fires = 0;

    c->corr->value_field = "cs-username";
    c->corr->value_field_id = IW_F_CS_USERNAME;
    if (!fx_build(f, 16)) return -1;
    for (i = 0; i < 3000; i++) {
        int64_t t;
        int val, want, got;
        seed = seed * 1103515245u + 12345u;
        base += (seed >> 8) % (2 * SEC);                    /* ~1 event/s */
        seed = seed * 1103515245u + 12345u;
        t = base - (int64_t)((seed >> 8) % (12 * SEC));     /* up to 12 s late */
        if ((seed >> 4) % 4 == 0) t = base;
        val = (int)((seed >> 12) % 7);
        snprintf(v, sizeof(v), "u%d", val);
        set_field(f, IW_F_CS_USERNAME, v);
        want = ref_feed(m, t, val, 10 * SEC, thr, type == IW_CORR_VALUE_COUNT);
        got = feed(f, a, "1.1.1.1", t);
        fires += got;
        if (want != got && bad++ < 3)
            fprintf(stderr, "    event %d t=%lld: model %d, table %d\n", i,
                    (long long)(t - T0), want, got);
    }
    return bad ? -bad : fires;
}

TEST(corr_differential_against_model)
{
    CHECK(diff_run(p, IW_CORR_EVENT_COUNT, 5, 1) > 50);
    CHECK(diff_run(p, IW_CORR_EVENT_COUNT, 9, 7) > 20);
    CHECK(diff_run(p, IW_CORR_VALUE_COUNT, 4, 3) > 20);
    CHECK(diff_run(p, IW_CORR_VALUE_COUNT, 6, 11) > 5);
}

/* ---- aliases, value_count, temporal ----------------------------------- */

TEST(corr_alias_group_by_across_rules)
{
    fx_t *f = fx_new(p);
    static const char *const by[] = {"who", NULL};
    iw_rule_t *a = det(f, "by_ip"), *b = det(f, "by_user");
    iw_rule_t *c = corr(f, "c", IW_CORR_EVENT_COUNT, 60 * SEC, by,
                        IW_CMP_GTE, 2, 0, 0, a, b, NULL);
    apr_hash_t *m = apr_hash_make(p);
    c->corr->aliases = apr_hash_make(p);
    apr_hash_set(m, "by_ip", APR_HASH_KEY_STRING, "c-ip");
    apr_hash_set(m, "by_user", APR_HASH_KEY_STRING, "cs-username");
    apr_hash_set(c->corr->aliases, "who", APR_HASH_KEY_STRING, m);
    c->corr->group_fields = NULL;   /* resolved by iw_corr through aliases */
    REQUIRE(fx_build(f, 64));
    set_field(f, IW_F_CS_USERNAME, "alice");
    CHECK_INT(feed(f, a, "10.0.0.7", T0), 0);        /* who = c-ip */
    set_field(f, IW_F_CS_USERNAME, "10.0.0.9");
    CHECK_INT(feed(f, b, "10.0.0.8", T0 + 1), 0);    /* who = 10.0.0.9 */
    set_field(f, IW_F_CS_USERNAME, "10.0.0.7");
    REQUIRE(feed(f, b, "10.0.0.1", T0 + 2) == 1);    /* who = 10.0.0.7 again */
    CHECK_STR(f->out[0].group, "who=10.0.0.7");
    CHECK_INT(f->out[0].count, 2);
}

/* iw_corr_reads_field: the group-by fields through aliases too (the
 * module asks it whether to read the clock for time-taken). */
TEST(corr_reads_field)
{
    fx_t *f = fx_new(p);
    static const char *const by[] = {"who", NULL};
    static const char *const by_tt[] = {"time-taken", NULL};
    iw_rule_t *a = det(f, "by_ip"), *b = det(f, "by_user");
    iw_rule_t *c = corr(f, "c", IW_CORR_EVENT_COUNT, 60 * SEC, by,
                        IW_CMP_GTE, 2, 0, 0, a, b, NULL);
    apr_hash_t *m = apr_hash_make(p);
    fx_t *g = fx_new(p);
    iw_rule_t *x = det(g, "x");
    c->corr->aliases = apr_hash_make(p);
    apr_hash_set(m, "by_ip", APR_HASH_KEY_STRING, "c-ip");
    apr_hash_set(m, "by_user", APR_HASH_KEY_STRING, "cs-username");
    apr_hash_set(c->corr->aliases, "who", APR_HASH_KEY_STRING, m);
    c->corr->group_fields = NULL;
    REQUIRE(fx_build(f, 64));
    CHECK(iw_corr_reads_field(f->c, IW_F_C_IP));
    CHECK(iw_corr_reads_field(f->c, IW_F_CS_USERNAME));
    CHECK(!iw_corr_reads_field(f->c, IW_F_TIME_TAKEN));
    corr(g, "ctt", IW_CORR_EVENT_COUNT, 60 * SEC, by_tt, IW_CMP_GTE, 2, 0, 0, x, NULL);
    REQUIRE(fx_build(g, 64));
    CHECK(iw_corr_reads_field(g->c, IW_F_TIME_TAKEN));
    CHECK(!iw_corr_reads_field(NULL, IW_F_TIME_TAKEN));
}

TEST(corr_value_count_distinct)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_rule_t *c = corr(f, "c", IW_CORR_VALUE_COUNT, 60 * SEC, BY_IP,
                        IW_CMP_GTE, 3, 0, 0, a, NULL);
    c->corr->value_field = "cs-username";
    c->corr->value_field_id = IW_F_CS_USERNAME;
    REQUIRE(fx_build(f, 64));
    set_field(f, IW_F_CS_USERNAME, "root");
    CHECK_INT(feed(f, a, "1.1.1.1", T0), 0);
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 1), 0);
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 2), 0);
    CHECK_INT(peek(f, c, "1.1.1.1"), 1);
    set_field(f, IW_F_CS_USERNAME, NULL);            /* no value: ignored */
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 3), 0);
    CHECK_INT(peek(f, c, "1.1.1.1"), 1);
    set_field(f, IW_F_CS_USERNAME, "admin");
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 4), 0);
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 5), 0);
    set_field(f, IW_F_CS_USERNAME, "guest");
    REQUIRE(feed(f, a, "1.1.1.1", T0 + 6) == 1);
    CHECK_INT(f->out[0].type, IW_CORR_VALUE_COUNT);
    CHECK_INT(f->out[0].count, 3);
    /* values expire with the window: root (T0+70) + admin + guest(old) */
    set_field(f, IW_F_CS_USERNAME, "root");
    CHECK_INT(feed(f, a, "2.2.2.2", T0), 0);
    set_field(f, IW_F_CS_USERNAME, "admin");
    CHECK_INT(feed(f, a, "2.2.2.2", T0 + 50 * SEC), 0);
    set_field(f, IW_F_CS_USERNAME, "guest");
    CHECK_INT(feed(f, a, "2.2.2.2", T0 + 70 * SEC), 0);  /* root slid out */
    CHECK_INT(peek(f, c, "2.2.2.2"), 2);
    set_field(f, IW_F_CS_USERNAME, "root");
    CHECK_INT(feed(f, a, "2.2.2.2", T0 + 71 * SEC), 1);
}

/* Above 128 distinct values value_count estimates (linear counting over a
 * 16384-bit map): within a few values of the truth, never per-value state. */
TEST(corr_value_count_large_threshold)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_rule_t *c = corr(f, "c", IW_CORR_VALUE_COUNT, 3600 * SEC, BY_IP,
                        IW_CMP_GTE, 300, 0, 0, a, NULL);
    char v[32];
    int i, fired = 0, at = 0;
    c->corr->value_field = "cs-uri-query";
    c->corr->value_field_id = IW_F_CS_URI_QUERY;
    REQUIRE(fx_build(f, 16));
    for (i = 1; i <= 400; i++) {
        snprintf(v, sizeof(v), "id=%d", i);
        set_field(f, IW_F_CS_URI_QUERY, v);
        if (feed(f, a, "1.1.1.1", T0 + i)) { fired++; at = i; }
        if (i <= 100) feed(f, a, "1.1.1.1", T0 + i);   /* repeats: no change */
    }
    CHECK_INT(fired, 1);
    CHECK(at >= 285 && at <= 315);
    CHECK_INT(peek(f, c, "1.1.1.1"), 0);    /* quiet for the rest of its window */
    /* the (tumbling) window ends an hour after the group's first event */
    set_field(f, IW_F_CS_URI_QUERY, "late");
    feed(f, a, "1.1.1.1", T0 + 400 + 3600 * SEC);
    CHECK_INT(peek(f, c, "1.1.1.1"), 1);
}

TEST(corr_temporal_all_rules_in_window)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a"), *b = det(f, "b"), *d = det(f, "d");
    iw_rule_t *c = corr(f, "c", IW_CORR_TEMPORAL, 60 * SEC, BY_IP, 0, 0, 0, 0,
                        a, b, d, NULL);
    REQUIRE(fx_build(f, 64));
    CHECK_INT(feed(f, b, "1.1.1.1", T0), 0);
    CHECK_INT(feed(f, b, "1.1.1.1", T0 + 1), 0);
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 2), 0);
    CHECK_INT(peek(f, c, "1.1.1.1"), 2);
    REQUIRE(feed(f, d, "1.1.1.1", T0 + 3) == 1);     /* any order */
    CHECK_INT(f->out[0].count, 3);
    CHECK_INT(f->out[0].type, IW_CORR_TEMPORAL);
    /* a at 0, b at 30, d at 70: a slid out -> 2; a again at 80 -> all */
    CHECK_INT(feed(f, a, "2.2.2.2", T0), 0);
    CHECK_INT(feed(f, b, "2.2.2.2", T0 + 30 * SEC), 0);
    CHECK_INT(feed(f, d, "2.2.2.2", T0 + 70 * SEC), 0);
    CHECK_INT(peek(f, c, "2.2.2.2"), 2);
    CHECK_INT(feed(f, a, "2.2.2.2", T0 + 80 * SEC), 1);
    CHECK_INT(f->out[0].first_seen, T0 + 30 * SEC);
    /* one event matching all three rules at once */
    iw_hit_t h[3];
    memset(h, 0, sizeof(h));
    h[0].rule = a; h[1].rule = b; h[2].rule = d;
    set_field(f, IW_F_C_IP, "3.3.3.3");
    CHECK_INT(iw_corr_update(f->c, f->mem, &f->ev, h, 3, T0, f->out, 16), 1);
}

TEST(corr_temporal_ordered)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a"), *b = det(f, "b");
    iw_rule_t *c = corr(f, "c", IW_CORR_TEMPORAL_ORDERED, 60 * SEC, BY_IP,
                        0, 0, 0, 0, a, b, NULL);
    REQUIRE(fx_build(f, 64));
    CHECK_INT(feed(f, a, "1.1.1.1", T0), 0);
    REQUIRE(feed(f, b, "1.1.1.1", T0 + 10 * SEC) == 1);
    CHECK_INT(f->out[0].count, 2);
    CHECK_INT(f->out[0].type, IW_CORR_TEMPORAL_ORDERED);
    CHECK_INT(f->out[0].first_seen, T0);
    /* order violated: b then a */
    CHECK_INT(feed(f, b, "2.2.2.2", T0), 0);
    CHECK_INT(feed(f, a, "2.2.2.2", T0 + 1), 0);
    CHECK_INT(peek(f, c, "2.2.2.2"), 1);
    /* ...but a later b completes a -> b */
    CHECK_INT(feed(f, b, "2.2.2.2", T0 + 2), 1);
    /* a then b too late */
    CHECK_INT(feed(f, a, "3.3.3.3", T0), 0);
    CHECK_INT(feed(f, b, "3.3.3.3", T0 + 60 * SEC), 0);
    /* one event matching a and b is not "a followed by b" */
    CHECK_INT(feed2(f, a, b, "4.4.4.4", T0), 0);
    CHECK_INT(peek(f, c, "4.4.4.4"), 1);
    CHECK_INT(feed(f, b, "4.4.4.4", T0 + 1), 1);
    /* timestamp order, not arrival order: httpd logs a request when it
     * ends, so a b that began before the a may arrive after it */
    CHECK_INT(feed(f, a, "5.5.5.5", T0 + 5 * SEC), 0);
    CHECK_INT(feed(f, b, "5.5.5.5", T0 + 3 * SEC), 0);
    CHECK_INT(peek(f, c, "5.5.5.5"), 1);
    CHECK_INT(feed(f, b, "5.5.5.5", T0 + 5 * SEC), 1);   /* same time: arrival order */
}

TEST(corr_chained_correlations)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a"), *b = det(f, "b");
    /* outer first in load order: processing order comes from references */
    iw_rule_t *outer = corr(f, "outer", IW_CORR_TEMPORAL_ORDERED, 600 * SEC, BY_IP,
                            0, 0, 0, 0, NULL);
    iw_rule_t *inner = corr(f, "inner", IW_CORR_EVENT_COUNT, 60 * SEC, BY_IP,
                            IW_CMP_GTE, 3, 0, 0, a, NULL);
    int i, k = 0;
    APR_ARRAY_PUSH(outer->corr->rules, iw_rule_t *) = inner;
    APR_ARRAY_PUSH(outer->corr->rules, iw_rule_t *) = b;
    outer->corr->group_fields = apr_pcalloc(p, 2 * sizeof(int));
    outer->corr->group_fields[0] = outer->corr->group_fields[1] = IW_F_C_IP;
    REQUIRE(fx_build(f, 64));
    CHECK_INT(feed(f, b, "1.1.1.1", T0), 0);
    for (i = 1; i <= 3; i++) k += feed(f, a, "1.1.1.1", T0 + i * SEC);
    CHECK_INT(k, 0);               /* inner fired silently (outer: no generate) */
    CHECK_INT(stats(f).alerts, 1);
    REQUIRE(feed(f, b, "1.1.1.1", T0 + 5 * SEC) == 1);
    CHECK(f->out[0].rule == outer);
    /* with generate: true on the outer rule, the inner alert is sent too */
    outer->corr->generate = 1;
    REQUIRE(fx_build(f, 64));
    for (i = 1; i <= 3; i++) k = feed(f, a, "1.1.1.1", T0 + i * SEC);
    REQUIRE(k == 1);
    CHECK(f->out[0].rule == inner);
}

/* ---- table ------------------------------------------------------------- */

TEST(corr_full_table_evicts_oldest)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_rule_t *c = corr(f, "c", IW_CORR_EVENT_COUNT, 3600 * SEC, BY_IP,
                        IW_CMP_GTE, 5000, 0, 0, a, NULL);
    char ip[32];
    int i, fired = 0;
    iw_corr_stats_t st;

    REQUIRE(fx_build(f, 64));
    CHECK_INT(stats(f).slots, 64);
    CHECK_INT(iw_corr_table_slots(iw_corr_slot_size(f->c), f->bytes), 64);
    for (i = 0; i < 10000; i++) {
        snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        fired += feed(f, a, ip, T0 + i);
        /* a group touched every 5 events is never the oldest of a probe
         * window of 8 */
        if (i % 5 == 0) fired += feed(f, a, "192.168.0.1", T0 + i);
    }
    st = stats(f);
    CHECK_INT(fired, 0);
    CHECK_INT(st.used, 64);
    CHECK_INT(st.evictions + st.used, 10000 + 1);
    CHECK_INT(st.updates, 10000 + 2000);
    CHECK_INT(peek(f, c, "192.168.0.1"), 2000);
    CHECK_INT(peek(f, c, "10.0.39.15"), 1);       /* the newest group */
    CHECK_INT(peek(f, c, "10.0.0.1"), 0);         /* long evicted */
}

/* A flood of one-off groups does not flush a group that is building up
 * (issue: 12,000 one-off clients evicted a brute-forcer's count): victims
 * are the groups holding the fewest events.  Same for value_count. */
TEST(corr_one_off_flood_keeps_building_groups)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a"), *b = det(f, "b");
    iw_rule_t *c = corr(f, "c", IW_CORR_EVENT_COUNT, 30 * SEC, BY_IP,
                        IW_CMP_GTE, 8, 0, 0, a, NULL);
    iw_rule_t *v;
    char ip[32], path[32];
    int i, fired = 0;

    v = corr(f, "v", IW_CORR_VALUE_COUNT, 30 * SEC, BY_IP, IW_CMP_GTE, 10, 0, 0, b, NULL);
    ((iw_corr_def_t *)v->corr)->value_field_id = IW_F_CS_URI_STEM;
    REQUIRE(fx_build(f, 256));
    for (i = 0; i < 7; i++)                         /* 7 of 8 */
        fired += feed(f, a, "192.0.2.66", T0 + i * SEC / 10);
    for (i = 0; i < 9; i++) {                       /* 9 of 10 distinct paths */
        snprintf(path, sizeof(path), "/p%d", i);
        set_field(f, IW_F_CS_URI_STEM, path);
        fired += feed(f, b, "192.0.2.77", T0 + i * SEC / 10);
    }
    CHECK_INT(fired, 0);
    for (i = 0; i < 12000; i++) {                   /* one-off clients, both rules */
        snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        snprintf(path, sizeof(path), "/q%d", i);
        set_field(f, IW_F_CS_URI_STEM, path);
        fired += feed2(f, a, b, ip, T0 + SEC + i * 100);
    }
    CHECK_INT(fired, 0);
    CHECK(stats(f).evictions > 10000);
    CHECK_INT(peek(f, c, "192.0.2.66"), 7);
    REQUIRE(feed(f, a, "192.0.2.66", T0 + 3 * SEC) == 1);
    CHECK(f->out[0].rule == c);
    CHECK_INT(f->out[0].count, 8);
    set_field(f, IW_F_CS_URI_STEM, "/p9");
    REQUIRE(feed(f, b, "192.0.2.77", T0 + 3 * SEC) == 1);
    CHECK(f->out[0].rule == v);
    CHECK_INT(f->out[0].count, 10);
}

TEST(corr_expired_slots_are_recycled_not_evicted)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    char ip[32];
    int i;
    corr(f, "c", IW_CORR_EVENT_COUNT, 10 * SEC, BY_IP, IW_CMP_GTE, 5, 0, 0, a, NULL);
    REQUIRE(fx_build(f, 8));
    for (i = 0; i < 100; i++) {
        snprintf(ip, sizeof(ip), "10.0.0.%d", i);
        feed(f, a, ip, T0 + (apr_time_t)i * 11 * SEC);    /* all stale */
    }
    CHECK_INT(stats(f).evictions, 0);
    CHECK(stats(f).recycled >= 90);
}

/* A closed window whose slot is taken by another group is evaluated first:
 * its lt alert is not lost (group text from the slot). */
TEST(corr_recycled_close_window_is_evaluated)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_corr_stats_t st;
    corr(f, "c", IW_CORR_EVENT_COUNT, 60 * SEC, BY_IP, IW_CMP_LT, 5, 0, 0, a, NULL);
    REQUIRE(fx_build(f, 1));
    CHECK_INT(stats(f).slots, 1);
    CHECK_INT(feed(f, a, "1.1.1.1", T0), 0);
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + SEC), 0);
    REQUIRE(feed(f, a, "2.2.2.2", T0 + 61 * SEC) == 1);
    CHECK_STR(f->out[0].group, "c-ip=1.1.1.1");
    CHECK_INT(f->out[0].count, 2);
    CHECK_INT(f->out[0].with_event, 0);    /* not 2.2.2.2's request */
    /* an open window is evicted (counted), not evaluated */
    CHECK_INT(feed(f, a, "3.3.3.3", T0 + 62 * SEC), 0);
    st = stats(f);
    CHECK_INT(st.recycled, 1);
    CHECK_INT(st.evictions, 1);
    CHECK_INT(st.used, 1);
}

TEST(corr_mem_attach_keeps_or_resets)
{
    fx_t *f = fx_new(p), *g;
    iw_rule_t *a = det(f, "a");
    iw_rule_t *c = corr(f, "c", IW_CORR_EVENT_COUNT, 60 * SEC, BY_IP,
                        IW_CMP_GTE, 5, 0, 0, a, NULL);
    iw_corr_t *c1;
    REQUIRE(fx_build(f, 64));
    feed(f, a, "1.1.1.1", T0);
    feed(f, a, "1.1.1.1", T0 + 1);
    /* graceful restart, same rules: a new iw_corr_t, same fingerprint */
    c1 = f->c;
    f->c = iw_corr_create_rs(p, f->rs, NULL);
    CHECK(iw_corr_fingerprint(f->c) == iw_corr_fingerprint(c1));
    CHECK_INT(iw_corr_mem_attach(f->c, f->mem, f->bytes), 1);
    CHECK_INT(peek(f, c, "1.1.1.1"), 2);
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 2), 0);
    CHECK_INT(stats(f).updates, 3);
    /* a different block size is a different table */
    CHECK_INT(iw_corr_mem_attach(f->c, f->mem, f->bytes - 8), 0);
    iw_corr_mem_init(f->c, f->mem, f->bytes);
    feed(f, a, "1.1.1.1", T0);
    /* rules changed (threshold): reset */
    g = f;
    c->corr->cmp[0].value = 6;
    g->c = iw_corr_create_rs(p, f->rs, NULL);
    CHECK(iw_corr_fingerprint(g->c) != iw_corr_fingerprint(c1));
    CHECK_INT(iw_corr_mem_attach(g->c, g->mem, g->bytes), 0);
    CHECK_INT(peek(g, c, "1.1.1.1"), 0);
    CHECK_INT(stats(g).updates, 0);
    /* garbage is never attached */
    memset(g->mem, 0xa5, g->bytes);
    CHECK_INT(iw_corr_mem_attach(g->c, g->mem, g->bytes), 0);
    CHECK_INT(stats(g).slots, iw_corr_table_slots(iw_corr_slot_size(g->c), g->bytes));
}

TEST(corr_corrupt_slots_and_tiny_blocks)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_corr_stats_t st;
    char tiny[300] __attribute__((aligned(8)));
    int i;
    corr(f, "c", IW_CORR_EVENT_COUNT, 60 * SEC, BY_IP, IW_CMP_GTE, 3, 0, 0, a, NULL);
    REQUIRE(fx_build(f, 16));
    iw_corr_get_stats(f->mem, &st);
    /* scribble over everything after the header */
    memset((char *)f->mem + 256, 0xff, f->bytes - 256);
    for (i = 0; i < 3; i++) feed(f, a, "1.1.1.1", T0 + i);
    CHECK_INT(f->out[0].count, 3);
    /* a block too small for a single slot, and no block at all */
    iw_corr_mem_init(f->c, tiny, sizeof(tiny));
    CHECK_INT(iw_corr_update(f->c, tiny, &f->ev, NULL, 0, T0, f->out, 16), 0);
    f->mem = tiny;
    for (i = 0; i < 5; i++) CHECK_INT(feed(f, a, "1.1.1.1", T0 + i), 0);
    f->mem = NULL;
    CHECK_INT(feed(f, a, "1.1.1.1", T0), 0);
    CHECK_INT(iw_corr_flush(f->c, NULL, T0, f->out, 16), 0);
}

static int fail_lock(void *b) { (void)b; return -1; }
static void no_unlock(void *b) { (void)b; }

TEST(corr_lock_failure_skips)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_rule_t *c = corr(f, "c", IW_CORR_EVENT_COUNT, 60 * SEC, BY_IP,
                        IW_CMP_GTE, 1, 0, 0, a, NULL);
    iw_corr_lock_t lk = {fail_lock, no_unlock, NULL};
    iw_hit_t hit;
    memset(&hit, 0, sizeof(hit));
    hit.rule = a;
    REQUIRE(fx_build(f, 16));
    set_field(f, IW_F_C_IP, "1.1.1.1");
    iw_corr__set_test_lock(&lk);
    CHECK_INT(iw_corr_update(f->c, f->mem, &f->ev, &hit, 1, T0, f->out, 16), 0);
    iw_corr__set_test_lock(NULL);
    CHECK_INT(stats(f).lock_failures, 1);
    CHECK_INT(stats(f).updates, 0);
    CHECK_INT(peek(f, c, "1.1.1.1"), 0);
}

TEST(corr_flush_closes_windows)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    corr(f, "c", IW_CORR_EVENT_COUNT, 60 * SEC, BY_IP, IW_CMP_LT, 3, 0, 0, a, NULL);
    REQUIRE(fx_build(f, 16));
    feed(f, a, "1.1.1.1", T0);
    feed(f, a, "2.2.2.2", T0 + 30 * SEC);
    feed(f, a, "3.3.3.3", T0 + 30 * SEC);
    feed(f, a, "3.3.3.3", T0 + 30 * SEC);
    feed(f, a, "3.3.3.3", T0 + 30 * SEC);   /* 3: lt 3 is false */
    CHECK_INT(iw_corr_flush(f->c, f->mem, T0 + 59 * SEC, f->out, 16), 0);
    /* no room for alerts: the alerting window stays pending */
    CHECK_INT(iw_corr_flush(f->c, f->mem, T0 + 60 * SEC, NULL, 0), 0);
    CHECK_INT(stats(f).used, 3);
    REQUIRE(iw_corr_flush(f->c, f->mem, T0 + 60 * SEC, f->out, 16) == 1);
    CHECK_STR(f->out[0].group, "c-ip=1.1.1.1");
    CHECK_INT(f->out[0].count, 1);
    CHECK_INT(f->out[0].with_event, 0);
    CHECK_INT(stats(f).used, 2);
    /* end of a CLI replay: everything closes; 3.3.3.3 had 3, no alert */
    REQUIRE(iw_corr_flush(f->c, f->mem, APR_INT64_MAX, f->out, 16) == 1);
    CHECK_STR(f->out[0].group, "c-ip=2.2.2.2");
    CHECK_INT(stats(f).used, 0);
}

/* Random mix of all types, groups, timestamps, small tables and flushes:
 * no crash (run under ASan), bounded output, exact slot accounting. */
TEST(corr_random_ops_invariants)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a"), *b = det(f, "b");
    iw_rule_t *vc;
    static const char *const by2[] = {"c-ip", "cs-username", NULL};
    iw_corr_stats_t st;
    unsigned seed = 42;
    char ip[32], user[16];
    int i, k, bad = 0, total = 0;
    int64_t base = T0;

    corr(f, "c1", IW_CORR_EVENT_COUNT, 10 * SEC, BY_IP, IW_CMP_GTE, 3, 0, 0, a, b, NULL);
    corr(f, "c2", IW_CORR_EVENT_COUNT, 10 * SEC, by2, IW_CMP_LT, 2, 0, 0, a, NULL);
    vc = corr(f, "c3", IW_CORR_VALUE_COUNT, 30 * SEC, BY_IP, IW_CMP_GT, 1, IW_CMP_LTE, 3, b, NULL);
    vc->corr->value_field = "cs-username";
    vc->corr->value_field_id = IW_F_CS_USERNAME;
    corr(f, "c4", IW_CORR_TEMPORAL_ORDERED, 20 * SEC, BY_IP, 0, 0, 0, 0, a, b, a, NULL);
    corr(f, "c5", IW_CORR_TEMPORAL, 5 * SEC, by2, IW_CMP_NEQ, 1, 0, 0, a, b, NULL);
    REQUIRE(fx_build(f, 8));
    for (i = 0; i < 20000; i++) {
        const iw_rule_t *r;
        seed = seed * 1103515245u + 12345u;
        base += (seed >> 10) % SEC;
        snprintf(ip, sizeof(ip), "10.0.0.%u", (seed >> 4) % 50);
        snprintf(user, sizeof(user), "u%u", (seed >> 20) % 5);
        set_field(f, IW_F_CS_USERNAME, (seed >> 25) % 7 ? user : NULL);
        r = (seed >> 16) & 1 ? a : b;
        if ((seed >> 17) % 5 == 0) k = feed2(f, a, b, ip, base - (int64_t)((seed >> 6) % (40 * SEC)));
        else k = feed(f, r, ip, base);
        if (k < 0 || k > 16) bad++;
        total += k;
        if ((seed >> 21) % 97 == 0) {
            k = iw_corr_flush(f->c, f->mem, base, f->out, 2);
            if (k < 0 || k > 2) bad++;
        }
        iw_corr_get_stats(f->mem, &st);
        if (st.used > st.slots) bad++;
    }
    CHECK_INT(bad, 0);
    CHECK(total > 100);
    for (i = 0; i < 100 && iw_corr_flush(f->c, f->mem, APR_INT64_MAX, f->out, 3) > 0; i++) ;
    st = stats(f);
    CHECK_INT(st.used, 0);
    CHECK(st.evictions > 0 && st.late > 0 && st.recycled > 0);
}

/* ---- multi-process exactness ------------------------------------------ */

typedef struct shared {
    pthread_mutex_t mu;
    int alerts;
    int64_t count;
} shared_t;

static int mu_lock(void *b) { return pthread_mutex_lock(&((shared_t *)b)->mu); }
static void mu_unlock(void *b) { pthread_mutex_unlock(&((shared_t *)b)->mu); }

/* Worker k of 4 (a process or a thread, own event): 1000 rounds of three
 * events -- the shared group 6.6.6.6, its own group 7.7.7.k and one of 8
 * groups 8.8.0.j all workers cycle through.  Every event feeds two
 * correlations (two partitions in sequence).  Under the test lock when
 * the caller set one (iw_corr__set_test_lock), else the partition locks
 * alone. */
static void worker_feed(const iw_corr_t *c, void *mem, const iw_rule_t *a,
                        shared_t *sh, int k)
{
    iw_event_t ev;
    char buf[512], own[32], cyc[32];
    iw_corr_alert_t out[4];
    iw_hit_t hit;
    int i, j, n;

    iw_event_init(&ev, buf, sizeof(buf));
    ev.type = IW_EV_ACCESS;
    memset(&hit, 0, sizeof(hit));
    hit.rule = a;
    snprintf(own, sizeof(own), "7.7.7.%d", k);
    for (i = 0; i < 1000; i++) {
        /* interleaved, distinct timestamps: workers race out of order */
        apr_time_t t = T0 + (apr_time_t)i * 4 + k;
        const char *ips[3] = {"6.6.6.6", own, cyc};
        snprintf(cyc, sizeof(cyc), "8.8.0.%d", i % 8);
        for (j = 0; j < 3; j++) {
            ev.val[IW_F_C_IP] = (iw_str_t){ips[j], strlen(ips[j])};
            n = iw_corr_update(c, mem, &ev, &hit, 1, t, out, 4);
            if (n > 0) {
                __atomic_fetch_add(&sh->alerts, n, __ATOMIC_SEQ_CST);
                __atomic_store_n(&sh->count, out[0].count, __ATOMIC_SEQ_CST);
            }
        }
    }
}

/* The rules the concurrency tests feed: "a", a 4000-event threshold on it
 * and one that never fires (its counts stay readable). */
typedef struct exact_rules { iw_rule_t *a, *big, *never; } exact_rules_t;

static exact_rules_t exact_rules(fx_t *f)
{
    exact_rules_t x;
    x.a = det(f, "a");
    x.big = corr(f, "c4000", IW_CORR_EVENT_COUNT, 3600 * SEC, BY_IP,
                 IW_CMP_GTE, 4000, 0, 0, x.a, NULL);
    x.never = corr(f, "never", IW_CORR_EVENT_COUNT, 3600 * SEC, BY_IP,
                   IW_CMP_GTE, 1000000, 0, 0, x.a, NULL);
    return x;
}

/* A 4000-event threshold on the shared group fires exactly once, every
 * count is exact, no update is lost. */
static void check_exact(int *iw_failed_, fx_t *f, const iw_rule_t *big,
                        const iw_rule_t *never, const shared_t *sh)
{
    char ip[32];
    int j, off = 0;
    iw_corr_stats_t st = stats(f);

    CHECK_INT(sh->alerts, 1);
    CHECK_INT(sh->count, 4000);
    CHECK_INT(peek(f, never, "6.6.6.6"), 4000);
    CHECK_INT(peek(f, big, "6.6.6.6"), 0);        /* fired, then quiet */
    for (j = 0; j < 4; j++) {
        snprintf(ip, sizeof(ip), "7.7.7.%d", j);
        off += peek(f, never, ip) != 1000 || peek(f, big, ip) != 1000;
    }
    for (j = 0; j < 8; j++) {
        snprintf(ip, sizeof(ip), "8.8.0.%d", j);
        off += peek(f, never, ip) != 500 || peek(f, big, ip) != 500;
    }
    CHECK_INT(off, 0);
    CHECK_INT(st.updates, 12000);
    CHECK_INT(st.lock_failures, 0);
    CHECK_INT(st.evictions, 0);
    CHECK_INT(st.used, 2 * (1 + 4 + 8));          /* the fired group stays, quiet */
}

static void multiprocess_exact(int *iw_failed_, apr_pool_t *p, size_t slots,
                               int caller_lock, uint64_t parts)
{
    fx_t *f = fx_new(p);
    exact_rules_t x = exact_rules(f);
    pthread_mutexattr_t ma;
    iw_corr_lock_t lk;
    shared_t *sh;
    pid_t pid[4];
    int k, st, ok = 1;

    REQUIRE(fx_build(f, slots));
    f->mem = mmap(NULL, f->bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(f->mem != MAP_FAILED && sh != MAP_FAILED);
    memset(sh, 0, sizeof(*sh));
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&sh->mu, &ma);
    lk = (iw_corr_lock_t){mu_lock, mu_unlock, sh};
    iw_corr_mem_init(f->c, f->mem, f->bytes);
    if (parts) CHECK_INT(stats(f).partitions, parts);
    iw_corr__set_test_lock(caller_lock ? &lk : NULL);   /* inherited by the children */
    for (k = 0; k < 4; k++) {
        pid[k] = fork();
        if (pid[k] == 0) {
            worker_feed(f->c, f->mem, x.a, sh, k);
            _exit(0);
        }
        if (pid[k] < 0) ok = 0;
    }
    for (k = 0; k < 4; k++)
        if (pid[k] > 0 && (waitpid(pid[k], &st, 0) != pid[k] || !WIFEXITED(st)
                           || WEXITSTATUS(st) != 0)) ok = 0;
    iw_corr__set_test_lock(NULL);
    CHECK(ok);
    check_exact(iw_failed_, f, x.big, x.never, sh);
    CHECK_INT(stats(f).lock_recovered, 0);
    pthread_mutex_destroy(&sh->mu);
    munmap(f->mem, f->bytes);
    munmap(sh, sizeof(*sh));
}

/* A lock around each whole call (the test hook) composes with the
 * partition locks. */
TEST(corr_multiprocess_exact)
{
    multiprocess_exact(iw_failed_, p, 256, 1, 0);
}

/* No test lock: 4 processes on a 64-partition table, the partition
 * locks alone keep every count exact. */
TEST(corr_multiprocess_exact_partitioned)
{
    multiprocess_exact(iw_failed_, p, 64 * 80, 0, 64);
}

typedef struct thr {
    fx_t *f;
    const iw_rule_t *a;
    shared_t *sh;
    int k;
} thr_t;

static void *thr_main(void *v)
{
    thr_t *t = v;
    worker_feed(t->f->c, t->f->mem, t->a, t->sh, t->k);
    return NULL;
}

/* Same with 4 threads of one process (httpd's worker threads). */
TEST(corr_threads_exact_partitioned)
{
    fx_t *f = fx_new(p);
    exact_rules_t x = exact_rules(f);
    shared_t sh;
    thr_t t[4];
    pthread_t tid[4];
    int k, started = 0;

    REQUIRE(fx_build(f, 64 * 80));
    memset(&sh, 0, sizeof(sh));
    for (k = 0; k < 4; k++) {
        t[k] = (thr_t){f, x.a, &sh, k};
        if (pthread_create(&tid[k], NULL, thr_main, &t[k]) == 0) started |= 1 << k;
    }
    for (k = 0; k < 4; k++)
        if (started & (1 << k)) pthread_join(tid[k], NULL);
    REQUIRE(started == 15);
    check_exact(iw_failed_, f, x.big, x.never, &sh);
}

/* ---- partitions --------------------------------------------------------- */

TEST(corr_partition_geometry)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_corr_stats_t st;
    size_t n, b, got, big = 4 << 20;
    void *mem;
    int bad = 0;

    corr(f, "c", IW_CORR_EVENT_COUNT, 60 * SEC, BY_IP, IW_CMP_GTE, 5, 0, 0, a, NULL);
    REQUIRE(fx_build(f, 64));
    CHECK_INT(stats(f).partitions, 1);      /* small: the unpartitioned layout */
    /* iw_corr_table_bytes gives at least the slots asked for (exactly, up
     * to two partitions' minimum), never much more */
    for (n = 1; n < 30000; n += 1 + n / 3) {
        b = iw_corr_table_bytes(iw_corr_slot_size(f->c), n);
        got = iw_corr_table_slots(iw_corr_slot_size(f->c), b);
        if (got < n || got > n + n / 16 + 64 || (n < 2 * IW_CORR_PART_MIN && got != n)) {
            fprintf(stderr, "    %zu slots asked, %zu got\n", n, got);
            bad++;
        }
    }
    CHECK_INT(bad, 0);
    /* one partition costs what the old 256-byte header did: a one-slot
     * table still fits in 256 bytes + one slot unit */
    CHECK_INT(iw_corr_table_bytes(iw_corr_slot_size(f->c), 1), 256 + iw_corr_slot_size(f->c) + 64);
    CHECK_INT(iw_corr_table_slots(iw_corr_slot_size(f->c), 256 + iw_corr_slot_size(f->c) + 64), 1);
    /* a mid-size table: the largest power of two that leaves each
     * partition IW_CORR_PART_MIN slots */
    b = iw_corr_table_bytes(iw_corr_slot_size(f->c), 300);
    mem = apr_palloc(p, b);
    iw_corr_mem_init(f->c, mem, b);
    iw_corr_get_stats(mem, &st);
    CHECK_INT(st.partitions, 4);
    CHECK_INT(st.slots % 4, 0);
    /* httpd's default 4 MiB block: 64 partitions, heads cost < 1% */
    mem = apr_palloc(p, big);
    iw_corr_mem_init(f->c, mem, big);
    iw_corr_get_stats(mem, &st);
    CHECK_INT(st.partitions, 64);
    CHECK_INT(st.slots, iw_corr_table_slots(iw_corr_slot_size(f->c), big));
    CHECK_INT(st.slots % 64, 0);
    CHECK(st.slots > (big - 256) / (st.slot_size + 64) * 99 / 100);
    CHECK_INT(st.sup_slots, 2 * st.slots);
    /* the size estimates without a rule set */
    CHECK(iw_corr_table_slots(IW_CORR_SLOT_DEFAULT,
                              iw_corr_table_bytes(IW_CORR_SLOT_DEFAULT, 65536)) >= 65536);
    CHECK(iw_corr_table_slots(IW_CORR_SLOT_DEFAULT,
                              iw_corr_table_bytes(IW_CORR_SLOT_DEFAULT, 10)) == 10);
}

/* A (correlation, group) pair always maps to one partition; groups spread
 * evenly; two correlations of the same group are independent. */
TEST(corr_partition_selection)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_rule_t *c1 = corr(f, "c1", IW_CORR_EVENT_COUNT, 3600 * SEC, BY_IP,
                         IW_CMP_GTE, 1000, 0, 0, a, NULL);
    iw_rule_t *c2 = corr(f, "c2", IW_CORR_EVENT_COUNT, 3600 * SEC, BY_IP,
                         IW_CMP_GTE, 1000, 0, 0, a, NULL);
    int hist[64], i, differ = 0, bad = 0, lo = 1 << 30, hi = 0;
    iw_corr_stats_t st;
    char ip[32];

    REQUIRE(fx_build(f, 64 * 1024));
    REQUIRE(stats(f).partitions == 64);
    memset(hist, 0, sizeof(hist));
    for (i = 0; i < 6400; i++) {
        int p1, p2;
        snprintf(ip, sizeof(ip), "10.%d.%d.1", i >> 8, i & 255);
        set_field(f, IW_F_C_IP, ip);
        p1 = iw_corr__partition(f->c, f->mem, c1, &f->ev);
        p2 = iw_corr__partition(f->c, f->mem, c2, &f->ev);
        if (p1 < 0 || p1 >= 64 || p2 < 0 || p2 >= 64
            || p1 != iw_corr__partition(f->c, f->mem, c1, &f->ev)) {
            bad++;
            continue;
        }
        hist[p1]++;
        differ += p1 != p2;
        feed(f, a, ip, T0 + i);             /* feeds c1 and c2 */
    }
    CHECK_INT(bad, 0);
    for (i = 0; i < 64; i++) {
        if (hist[i] < lo) lo = hist[i];
        if (hist[i] > hi) hi = hist[i];
    }
    CHECK(lo >= 50 && hi <= 160);           /* 100 expected, sd 10 */
    CHECK(differ > 6000);                   /* 6300 expected */
    st = stats(f);
    CHECK_INT(st.updates, 6400);
    CHECK_INT(st.used + st.evictions, 2 * 6400);
    CHECK_INT(peek(f, c1, ip), 1);
    CHECK_INT(peek(f, c2, ip), 1);
    set_field(f, IW_F_C_IP, ip);
    CHECK_INT(iw_corr__partition(f->c, f->mem, a, &f->ev), -1);   /* not a correlation */
}

/* Eviction per partition keeps the table's accounting: every slot ends up
 * used, every new group beyond them evicts exactly one, a hot group
 * survives. */
TEST(corr_partitioned_eviction)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_rule_t *c = corr(f, "c", IW_CORR_EVENT_COUNT, 3600 * SEC, BY_IP,
                        IW_CMP_GTE, 50000, 0, 0, a, NULL);
    iw_corr_stats_t st;
    char ip[32];
    int i, fired = 0;

    REQUIRE(fx_build(f, 64 * 80));
    REQUIRE(stats(f).partitions == 64);
    for (i = 0; i < 40000; i++) {
        snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        fired += feed(f, a, ip, T0 + i);
        if (i % 5 == 0) fired += feed(f, a, "192.168.0.1", T0 + i);
    }
    st = stats(f);
    CHECK_INT(fired, 0);
    CHECK_INT(st.used, st.slots);
    CHECK_INT(st.evictions + st.used, 40000 + 1);
    CHECK_INT(st.updates, 40000 + 8000);
    CHECK_INT(peek(f, c, "192.168.0.1"), 8000);
    CHECK_INT(peek(f, c, ip), 1);
}

/* A process that dies holding a partition lock (mid-update) neither
 * deadlocks the table nor loses it: the next locker recovers the lock,
 * recounts the partition and is counted in lock_recovered. */
TEST(corr_lock_owner_died)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_rule_t *c = corr(f, "c", IW_CORR_EVENT_COUNT, 60 * SEC, BY_IP,
                        IW_CMP_GTE, 1000, 0, 0, a, NULL);
    iw_corr_stats_t st;
    int part, ws = -1;
    pid_t pid;

    REQUIRE(fx_build(f, 64 * 80));
    f->mem = mmap(NULL, f->bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(f->mem != MAP_FAILED);
    iw_corr_mem_init(f->c, f->mem, f->bytes);
    CHECK_INT(feed(f, a, "1.1.1.1", T0), 0);
    set_field(f, IW_F_C_IP, "1.1.1.1");
    part = iw_corr__partition(f->c, f->mem, c, &f->ev);
    REQUIRE(part >= 0);
    pid = fork();
    if (pid == 0) {
        if (iw_corr__part_lock(f->mem, (uint64_t)part) != 0) _exit(2);
        iw_corr__part(f->mem, (uint64_t)part)->used = 999;   /* half done */
        _exit(0);                                           /* lock held */
    }
    REQUIRE(pid > 0);
    CHECK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 1), 0);
    st = stats(f);
    CHECK_INT(st.lock_recovered, 1);
    CHECK_INT(st.lock_failures, 0);
    CHECK_INT(st.used, 1);                  /* recounted from the slots */
    CHECK_INT(peek(f, c, "1.1.1.1"), 2);
    /* the lock is healthy again: another process updates normally */
    pid = fork();
    if (pid == 0) _exit(feed(f, a, "1.1.1.1", T0 + 2) == 0 ? 0 : 1);
    REQUIRE(pid > 0);
    CHECK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    CHECK_INT(peek(f, c, "1.1.1.1"), 3);
    CHECK_INT(stats(f).lock_recovered, 1);
    munmap(f->mem, f->bytes);
}

/* A scribbled partition head (its mutex) is rebuilt once, not locked. */
TEST(corr_scribbled_partition_head)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_rule_t *c = corr(f, "c", IW_CORR_EVENT_COUNT, 60 * SEC, BY_IP,
                        IW_CMP_GTE, 1000, 0, 0, a, NULL);
    iw_corr_stats_t st;
    int part;

    REQUIRE(fx_build(f, 64 * 80));
    feed(f, a, "1.1.1.1", T0);
    feed(f, a, "1.1.1.1", T0 + 1);
    set_field(f, IW_F_C_IP, "1.1.1.1");
    part = iw_corr__partition(f->c, f->mem, c, &f->ev);
    REQUIRE(part >= 0);
    memset(iw_corr__part(f->mem, (uint64_t)part), 0xff, IW_CORR_PART_BYTES);
    CHECK_INT(feed(f, a, "1.1.1.1", T0 + 2), 0);
    st = stats(f);
    CHECK_INT(st.lock_repaired, 1);
    CHECK_INT(st.lock_failures, 0);
    CHECK_INT(st.used, 1);
    CHECK_INT(peek(f, c, "1.1.1.1"), 3);
}

static int count_lock(void *b) { ((int *)b)[0]++; return 0; }
static void count_unlock(void *b) { ((int *)b)[1]++; }

/* The test lock is taken once around each call that touches the table
 * (update, flush, suppress), never when a hit feeds no correlation. */
TEST(corr_caller_lock_still_honoured)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a"), *b = det(f, "b");
    int n[2] = {0, 0};
    iw_corr_lock_t lk = {count_lock, count_unlock, n};
    iw_hit_t hit;
    int64_t sup;
    corr(f, "c1", IW_CORR_EVENT_COUNT, 60 * SEC, BY_IP, IW_CMP_GTE, 2, 0, 0, a, NULL);
    corr(f, "c2", IW_CORR_EVENT_COUNT, 60 * SEC, BY_IP, IW_CMP_GTE, 2, 0, 0, a, NULL);
    REQUIRE(fx_build(f, 64 * 80));
    memset(&hit, 0, sizeof(hit));
    hit.rule = a;
    set_field(f, IW_F_C_IP, "1.1.1.1");
    iw_corr__set_test_lock(&lk);
    CHECK_INT(iw_corr_update(f->c, f->mem, &f->ev, &hit, 1, T0, f->out, 16), 0);
    CHECK_INT(iw_corr_update(f->c, f->mem, &f->ev, &hit, 1, T0, f->out, 16), 2);
    CHECK(n[0] == 2 && n[1] == 2);
    hit.rule = b;                           /* feeds nothing: no lock */
    CHECK_INT(iw_corr_update(f->c, f->mem, &f->ev, &hit, 1, T0, f->out, 16), 0);
    CHECK(n[0] == 2 && n[1] == 2);
    iw_corr_flush(f->c, f->mem, T0, f->out, 16);
    CHECK_INT(iw_corr_suppress(f->c, f->mem, a, "g", 1, T0, SEC, &sup), 1);
    iw_corr__set_test_lock(NULL);
    CHECK(n[0] == 4 && n[1] == 4);
}

/* The CLI's way: a heap block sized by the estimate, no lock at all, one
 * thread, windows closed by the end-of-input flush. */
TEST(corr_null_lock_cli_path)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    size_t sz = iw_corr_table_bytes(IW_CORR_SLOT_DEFAULT, 16384);
    char ip[32];
    int i, n = 0, got = 0;
    corr(f, "few", IW_CORR_EVENT_COUNT, 60 * SEC, BY_IP, IW_CMP_LT, 3, 0, 0, a, NULL);
    corr(f, "many", IW_CORR_EVENT_COUNT, 60 * SEC, BY_IP, IW_CMP_GTE, 3, 0, 0, a, NULL);
    REQUIRE(fx_build(f, 8));
    f->mem = calloc(1, sz);
    REQUIRE(f->mem);
    iw_corr_mem_init(f->c, f->mem, sz);
    CHECK_INT(stats(f).partitions, 64);
    for (i = 0; i < 1000; i++) {            /* client i sends i % 4 + 1 requests */
        int k;
        snprintf(ip, sizeof(ip), "10.0.%d.%d", i >> 8, i & 255);
        for (k = 0; k <= i % 4; k++) n += feed(f, a, ip, T0 + i * SEC / 100 + k);
    }
    CHECK_INT(n, 500);                      /* "many": clients with 3 or 4 */
    for (i = 0; i < 100 && (n = iw_corr_flush(f->c, f->mem, APR_INT64_MAX,
                                              f->out, 16)) > 0; i++)
        got += n;
    CHECK_INT(got, 500);                    /* "few": clients with 1 or 2 */
    CHECK_INT(stats(f).used, 0);
    CHECK_INT(stats(f).lock_failures, 0);
    free(f->mem);
}

/* ---- alert-flood control ---------------------------------------------- */

TEST(corr_suppress_window)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a"), *b = det(f, "b");
    int64_t sup = -1;
    int i, sent = 0;
    corr(f, "c", IW_CORR_EVENT_COUNT, 60 * SEC, BY_IP, IW_CMP_GTE, 5, 0, 0, a, NULL);
    REQUIRE(fx_build(f, 64));
    CHECK_INT(iw_corr_suppress(f->c, f->mem, a, "1.1.1.1", 7, T0, 60 * SEC, &sup), 1);
    CHECK_INT(sup, 0);
    for (i = 1; i <= 3; i++)
        sent += iw_corr_suppress(f->c, f->mem, a, "1.1.1.1", 7, T0 + i * SEC, 60 * SEC, &sup);
    CHECK_INT(sent, 0);
    /* other rule / other group: independent */
    CHECK_INT(iw_corr_suppress(f->c, f->mem, b, "1.1.1.1", 7, T0 + 5 * SEC, 60 * SEC, &sup), 1);
    CHECK_INT(iw_corr_suppress(f->c, f->mem, a, "1.1.1.2", 7, T0 + 5 * SEC, 60 * SEC, &sup), 1);
    /* one microsecond before the window ends: still suppressed */
    CHECK_INT(iw_corr_suppress(f->c, f->mem, a, "1.1.1.1", 7, T0 + 60 * SEC - 1, 60 * SEC, &sup), 0);
    REQUIRE(iw_corr_suppress(f->c, f->mem, a, "1.1.1.1", 7, T0 + 60 * SEC, 60 * SEC, &sup) == 1);
    CHECK_INT(sup, 4);
    CHECK_INT(iw_corr_suppress(f->c, f->mem, a, "1.1.1.1", 7, T0 + 61 * SEC, 60 * SEC, &sup), 0);
    CHECK_INT(stats(f).sup_suppressed, 5);
    CHECK_INT(stats(f).sup_used, 3);
    /* no window: always send */
    CHECK_INT(iw_corr_suppress(f->c, f->mem, a, "1.1.1.1", 7, T0 + 62 * SEC, 0, &sup), 1);
}

TEST(corr_suppress_without_correlation_and_lock_failure)
{
    char *mem = apr_pcalloc(p, 4096);
    iw_rule_t r;
    iw_corr_lock_t lk = {fail_lock, no_unlock, NULL};
    iw_corr_stats_t st;
    int64_t sup;
    char g[16];
    int i, sent = 0;

    memset(&r, 0, sizeof(r));
    r.id = "x";
    iw_corr_mem_init(NULL, mem, 4096);
    iw_corr_get_stats(mem, &st);
    CHECK_INT(st.slots, 0);
    CHECK(st.sup_slots > 50);
    iw_corr__set_test_lock(&lk);
    CHECK_INT(iw_corr_suppress(NULL, mem, &r, "g", 1, T0, SEC, &sup), 1);
    iw_corr__set_test_lock(NULL);
    iw_corr_get_stats(mem, &st);
    CHECK_INT(st.lock_failures, 1);
    CHECK_INT(iw_corr_suppress(NULL, mem, &r, "g", 1, T0, SEC, &sup), 1);
    CHECK_INT(iw_corr_suppress(NULL, mem, &r, "g", 1, T0, SEC, &sup), 0);
    /* a flood of groups never grows the table */
    for (i = 0; i < 5000; i++) {
        snprintf(g, sizeof(g), "g%d", i);
        sent += iw_corr_suppress(NULL, mem, &r, g, strlen(g), T0 + i, SEC, &sup);
    }
    iw_corr_get_stats(mem, &st);
    CHECK(sent > 4990);
    CHECK(st.sup_used <= st.sup_slots);
    CHECK(st.sup_evictions > 4000);
    CHECK_INT(iw_corr_suppress(NULL, NULL, &r, "g", 1, T0, SEC, &sup), 1);
}

/* ---- end to end: YAML -> loader/linker -> engine -> iw_corr ----------- */

static const char E2E_YAML[] =
    "title: admin probe\nid: det-admin\nname: admin_probe\nlevel: low\n"
    "logsource: {category: webserver}\n"
    "detection:\n  sel:\n    cs-uri-stem|startswith: /admin\n  condition: sel\n"
    "---\n"
    "title: login post\nid: det-login\nname: login_post\nlevel: low\n"
    "logsource: {category: webserver}\n"
    "detection:\n  sel:\n    cs-method: POST\n    cs-uri-stem: /login\n  condition: sel\n"
    "---\n"
    "title: many admin probes\nid: corr-count\nlevel: high\n"
    "correlation:\n  type: event_count\n  rules: [admin_probe]\n"
    "  group-by: [c-ip]\n  timespan: 1m\n  condition: {gte: 3}\n"
    "---\n"
    "title: probe then login\nid: corr-seq\nlevel: critical\n"
    "correlation:\n  type: temporal_ordered\n  rules: [admin_probe, login_post]\n"
    "  group-by: [c-ip]\n  timespan: 5m\n";

typedef struct e2e {
    const iw_engine_t *e;
    iw_scratch_t *s;
    iw_corr_t *c;
    void *mem;
    iw_event_t ev;
    char buf[8192];
    iw_corr_alert_t out[8];
} e2e_t;

static int e2e_req(e2e_t *x, const char *method, const char *target,
                   const char *ip, apr_time_t t)
{
    iw_request_desc_t d;
    const iw_hit_t *hits;
    int n;
    memset(&d, 0, sizeof(d));
    d.method = (iw_str_t){method, strlen(method)};
    d.target = (iw_str_t){target, strlen(target)};
    d.version = (iw_str_t){"HTTP/1.1", 8};
    d.client_ip = (iw_str_t){ip, strlen(ip)};
    d.status = 200;
    d.sc_bytes = d.cs_bytes = d.time_taken_ms = -1;
    d.time = t;
    iw_event_init(&x->ev, x->buf, sizeof(x->buf));
    iw_event_from_request(&x->ev, &d);
    n = iw_engine_eval(x->e, x->s, &x->ev, &hits);
    return iw_corr_update(x->c, x->mem, &x->ev, hits, n, t, x->out, 8);
}

TEST(corr_end_to_end_yaml_engine)
{
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    e2e_t *x = apr_pcalloc(p, sizeof(*x));
    size_t bytes;

    iw_rules_load_string(rs, "e2e.yml", E2E_YAML, strlen(E2E_YAML), d);
    iw_ruleset_link(rs, d);
    iw_diag_print(d, stderr, "    diag: ");
    REQUIRE(d->errors == 0);
    x->e = iw_engine_compile(p, rs, NULL, d);
    REQUIRE(x->e);
    x->c = iw_corr_create(p, x->e, d);
    REQUIRE(x->c);
    x->s = iw_scratch_create(x->e);
    REQUIRE(x->s);
    bytes = iw_corr_table_bytes(iw_corr_slot_size(x->c), 256);
    x->mem = apr_pcalloc(p, bytes);
    iw_corr_mem_init(x->c, x->mem, bytes);

    CHECK_INT(e2e_req(x, "GET", "/admin/a", "198.51.100.7", T0), 0);
    CHECK_INT(e2e_req(x, "GET", "/index.html", "198.51.100.7", T0 + SEC), 0);
    CHECK_INT(e2e_req(x, "GET", "/admin/b", "198.51.100.8", T0 + 2 * SEC), 0);
    CHECK_INT(e2e_req(x, "GET", "/admin/c", "198.51.100.7", T0 + 3 * SEC), 0);
    REQUIRE(e2e_req(x, "GET", "/admin/d?x=1", "198.51.100.7", T0 + 4 * SEC) == 1);
    CHECK_STR(x->out[0].rule->id, "corr-count");
    CHECK_STR(x->out[0].group, "c-ip=198.51.100.7");
    CHECK_INT(x->out[0].count, 3);
    REQUIRE(e2e_req(x, "POST", "/login", "198.51.100.8", T0 + 5 * SEC) == 1);
    CHECK_STR(x->out[0].rule->id, "corr-seq");
    CHECK_STR(x->out[0].group, "c-ip=198.51.100.8");
    CHECK_INT(x->out[0].first_seen, T0 + 2 * SEC);
    /* login without a probe before it */
    CHECK_INT(e2e_req(x, "POST", "/login", "203.0.113.1", T0 + 6 * SEC), 0);
    iw_scratch_destroy(x->s);
}

/* Models the linker should never produce are refused with a diagnostic,
 * the valid rules of the same set still work. */
TEST(corr_invalid_models_diagnosed)
{
    fx_t *f = fx_new(p);
    iw_rule_t *a = det(f, "a");
    iw_rule_t *ok = corr(f, "ok", IW_CORR_EVENT_COUNT, SEC, BY_IP, IW_CMP_GTE, 1, 0, 0, a, NULL);
    iw_diag_t *d = iw_diag_create(p);
    iw_corr_t *c;
    corr(f, "nocond", IW_CORR_EVENT_COUNT, SEC, BY_IP, 0, 0, 0, 0, a, NULL);
    corr(f, "nospan", IW_CORR_EVENT_COUNT, 0, BY_IP, IW_CMP_GTE, 1, 0, 0, a, NULL);
    corr(f, "norefs", IW_CORR_TEMPORAL, SEC, BY_IP, 0, 0, 0, 0, NULL);
    c = iw_corr_create_rs(p, f->rs, d);
    REQUIRE(c);
    CHECK_INT(d->errors, 3);
    REQUIRE(d->msgs->nelts == 3);
    CHECK_CONTAINS(APR_ARRAY_IDX(d->msgs, 0, iw_diag_msg_t).text, "test.yml:1:0: rule nocond: ");
    CHECK_CONTAINS(APR_ARRAY_IDX(d->msgs, 0, iw_diag_msg_t).text, "`condition` is required");
    CHECK_CONTAINS(APR_ARRAY_IDX(d->msgs, 1, iw_diag_msg_t).text, "`timespan` must be positive");
    CHECK_CONTAINS(APR_ARRAY_IDX(d->msgs, 2, iw_diag_msg_t).text, "0 referenced rules");
    f->c = c;
    f->bytes = iw_corr_table_bytes(iw_corr_slot_size(c), 8);
    f->mem = apr_pcalloc(p, f->bytes);
    iw_corr_mem_init(c, f->mem, f->bytes);
    REQUIRE(feed(f, a, "1.1.1.1", T0) == 1);
    CHECK(f->out[0].rule == ok);
}
