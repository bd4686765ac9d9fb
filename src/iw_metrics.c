/* SPDX-License-Identifier: Apache-2.0 */
/* iw_metrics: the shared counter block (see iw_metrics.h).
 *
 * Layout: header | IW_METRICS_SLOTS writer slots | rule entries | target
 * entries.  All offsets are fixed, so a block made by one build is read by
 * the same build only (the magic carries the layout version and sizes). */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "iw_metrics.h"

#define IW_METRICS_MAGIC  0x69776d6574726963ULL       /* "iwmetric" */
#define IW_METRICS_LAYOUT ((uint64_t)IW_M_N << 48 | (uint64_t)IW_MR_N << 40 \
                           | (uint64_t)IW_NS_N << 32 | 1u)

typedef struct rule_ent {
    char id[IW_METRICS_ID_MAX];
    char level[16];
    uint64_t c[IW_MR_N];
} rule_ent_t;

typedef struct target_ent {
    char name[IW_METRICS_TARGET_MAX];
    uint64_t c[IW_NS_N];
} target_ent_t;

struct iw_metrics {
    uint64_t magic, layout;
    int64_t start_time;
    uint32_t nrules, ntargets;      /* entries in use (written single-threaded) */
    uint64_t serial;                /* owner tokens of claimed slots */
    char pad[64 - 40];
    iw_mslot_t slot[IW_METRICS_SLOTS];
    rule_ent_t rule[IW_METRICS_RULES];
    target_ent_t target[IW_METRICS_TARGETS];
};

/* The slots are cache-line aligned (64), but apr_shm's base is only 8-byte
 * aligned: the block starts at the first 64-byte boundary of the memory it
 * is given, and its size leaves room for that.  Every process maps the
 * segment at a page-aligned address plus the same header, so all of them
 * find the block at the same offset. */
#define IW_METRICS_ALIGN 64

static iw_metrics_t *block_at(void *mem)
{
    uintptr_t p = (uintptr_t)mem;
    p = (p + IW_METRICS_ALIGN - 1) & ~(uintptr_t)(IW_METRICS_ALIGN - 1);
    return (iw_metrics_t *)p;
}

size_t iw_metrics_size(void)
{
    return sizeof(struct iw_metrics) + IW_METRICS_ALIGN - 1;
}

iw_metrics_t *iw_metrics_init(void *mem, int64_t now)
{
    iw_metrics_t *m = block_at(mem);
    memset(m, 0, sizeof(*m));
    m->start_time = now;
    m->slot[0].shared = 1;
    m->nrules = 1;                  /* entry 0: "_other" (table full) */
    strcpy(m->rule[0].id, "_other");
    strcpy(m->rule[0].level, "unknown");
    m->layout = IW_METRICS_LAYOUT;
    __atomic_store_n(&m->magic, IW_METRICS_MAGIC, __ATOMIC_RELEASE);
    return m;
}

iw_metrics_t *iw_metrics_attach(void *mem, size_t bytes)
{
    iw_metrics_t *m;
    if (!mem || bytes != iw_metrics_size())
        return NULL;
    m = block_at(mem);
    if (__atomic_load_n(&m->magic, __ATOMIC_ACQUIRE) != IW_METRICS_MAGIC
        || m->layout != IW_METRICS_LAYOUT)
        return NULL;
    return m;
}

static int owner_gone(uint64_t owner)
{
    pid_t pid = (pid_t)(owner >> 32);
    return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
}

static iw_mslot_t *take_slot(iw_metrics_t *m, int dead_too, uint64_t me)
{
    int i;
    for (i = 1; i < IW_METRICS_SLOTS; i++) {
        uint64_t o = __atomic_load_n(&m->slot[i].owner, __ATOMIC_RELAXED);
        if (o && !(dead_too && owner_gone(o)))
            continue;
        if (__atomic_compare_exchange_n(&m->slot[i].owner, &o, me, 0,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return &m->slot[i];
    }
    return NULL;
}

iw_mslot_t *iw_metrics_claim(iw_metrics_t *m)
{
    uint64_t me;
    iw_mslot_t *s;
    if (!m)
        return NULL;
    me = (uint64_t)(uint32_t)getpid() << 32
         | ((__atomic_add_fetch(&m->serial, 1, __ATOMIC_RELAXED)) & 0xffffffffu);
    if (!(uint32_t)me)              /* the serial wrapped to 0: still non-zero */
        me |= 1;
    /* free slots first: a liveness test per used slot costs a syscall */
    if ((s = take_slot(m, 0, me)) || (s = take_slot(m, 1, me)))
        return s;
    return &m->slot[0];
}

void iw_metrics_release(iw_mslot_t *s)
{
    if (s && !s->shared)
        __atomic_store_n(&s->owner, 0, __ATOMIC_RELEASE);
}

int iw_metrics_rule(iw_metrics_t *m, const char *id, const char *level)
{
    uint32_t i;
    if (!m)
        return 0;
    if (!id)
        id = "";
    if (!level)
        level = "unknown";
    for (i = 1; i < m->nrules; i++)
        if (!strncmp(m->rule[i].id, id, IW_METRICS_ID_MAX - 1)
            && !strncmp(m->rule[i].level, level, sizeof(m->rule[i].level) - 1))
            return (int)i;
    if (m->nrules >= IW_METRICS_RULES)
        return 0;
    i = m->nrules;
    snprintf(m->rule[i].id, sizeof(m->rule[i].id), "%s", id);
    snprintf(m->rule[i].level, sizeof(m->rule[i].level), "%s", level);
    /* visible to readers only once the entry is complete */
    __atomic_store_n(&m->nrules, i + 1, __ATOMIC_RELEASE);
    return (int)i;
}

uint64_t *iw_metrics_rule_counters(iw_metrics_t *m, int idx)
{
    if (idx < 0 || idx >= IW_METRICS_RULES)
        return NULL;
    return m->rule[idx].c;
}

uint64_t *iw_metrics_target(iw_metrics_t *m, const char *target)
{
    uint32_t i;
    if (!m || !target)
        return NULL;
    for (i = 0; i < m->ntargets; i++)
        if (!strncmp(m->target[i].name, target, IW_METRICS_TARGET_MAX - 1))
            return m->target[i].c;
    if (m->ntargets >= IW_METRICS_TARGETS)
        return NULL;
    i = m->ntargets;
    snprintf(m->target[i].name, sizeof(m->target[i].name), "%s", target);
    __atomic_store_n(&m->ntargets, i + 1, __ATOMIC_RELEASE);
    return m->target[i].c;
}

void iw_metrics_sum(const iw_metrics_t *m, uint64_t *sc, uint64_t *tg)
{
    uint32_t i, n;
    int k;
    if (sc) {
        memset(sc, 0, sizeof(uint64_t) * IW_M_N);
        for (i = 0; m && i < IW_METRICS_SLOTS; i++)
            for (k = 0; k < IW_M_N; k++)
                sc[k] += __atomic_load_n(&m->slot[i].c[k], __ATOMIC_RELAXED);
    }
    if (tg) {
        memset(tg, 0, sizeof(uint64_t) * IW_NS_N);
        n = m ? __atomic_load_n(&m->ntargets, __ATOMIC_ACQUIRE) : 0;
        for (i = 0; i < n; i++)
            for (k = 0; k < IW_NS_N; k++)
                tg[k] += __atomic_load_n(&m->target[i].c[k], __ATOMIC_RELAXED);
    }
}

/* ---- rendering ---------------------------------------------------------- */

typedef struct out {
    iw_metrics_emit_fn emit;
    void *ctx;
} out_t;

static void outf(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(out_t *o, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        o->emit(o->ctx, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static const char *const scalar_names[] = {
#define X(N, n, h) #n,
    IW_METRICS_SCALARS(X)
#undef X
};
static const char *const scalar_help[] = {
#define X(N, n, h) h,
    IW_METRICS_SCALARS(X)
#undef X
};
static const char *const target_names[] = {
#define X(N, n, t, h) #n,
    IW_METRICS_TARGET(X)
#undef X
};
static const char *const target_types[] = {
#define X(N, n, t, h) t,
    IW_METRICS_TARGET(X)
#undef X
};
static const char *const target_help[] = {
#define X(N, n, t, h) h,
    IW_METRICS_TARGET(X)
#undef X
};
static const char *const rule_names[] = {
#define X(N, n, h) #n,
    IW_METRICS_RULE(X)
#undef X
};
static const char *const rule_help[] = {
#define X(N, n, h) h,
    IW_METRICS_RULE(X)
#undef X
};

typedef char iw_target_list_matches_notify[
    sizeof(target_names) / sizeof(target_names[0]) == IW_NS_N ? 1 : -1];

void iw_metrics_render_text(const iw_metrics_t *m, const iw_metrics_extra_t *x,
                            iw_metrics_emit_fn emit, void *ctx)
{
    uint64_t sc[IW_M_N], tg[IW_NS_N];
    out_t o = { emit, ctx };
    int k;
    iw_metrics_sum(m, sc, tg);
    for (k = 0; k < IW_M_N; k++)
        outf(&o, "total_%s: %" PRIu64 "\n", scalar_names[k], sc[k]);
    for (k = 0; k < IW_NS_N; k++) { /* all targets; depth: a gauge */
        const char *nm = target_names[k];
        size_t n = strlen(nm);
        if (n > 6 && !strcmp(nm + n - 6, "_total"))
            n -= 6;
        outf(&o, "total_%.*s: %" PRId64 "\n", (int)n, nm, (int64_t)tg[k]);
    }
    if (x)
        outf(&o, "total_rules_loaded: %" PRId64 "\ntotal_rules_generation: %"
             PRId64 "\ntotal_rules_stale: %" PRId64 "\n", x->rules_loaded,
             x->config_generation, x->rules_stale);
}

/* A label value: backslash, double quote and line feed escaped. */
static void label_value(char *dst, size_t size, const char *s)
{
    size_t j = 0;
    for (; *s && j + 3 < size; s++) {
        if (*s == '\\' || *s == '"') { dst[j++] = '\\'; dst[j++] = *s; }
        else if (*s == '\n') { dst[j++] = '\\'; dst[j++] = 'n'; }
        else dst[j++] = *s;
    }
    dst[j] = '\0';
}

static void head(out_t *o, const char *name, const char *type, const char *help)
{
    outf(o, "# HELP iocwatch_%s %s\n# TYPE iocwatch_%s %s\n", name, help, name, type);
}

static void gauge(out_t *o, const char *name, const char *help, int64_t v)
{
    head(o, name, "gauge", help);
    outf(o, "iocwatch_%s %" PRId64 "\n", name, v);
}

static void render_rules(out_t *o, const iw_metrics_t *m)
{
    uint32_t i, n = __atomic_load_n(&m->nrules, __ATOMIC_ACQUIRE);
    char id[2 * IW_METRICS_ID_MAX + 4], lv[40], name[96];
    int k;
    for (k = 0; k < IW_MR_N; k++) {
        snprintf(name, sizeof(name), "rule_%s_total", rule_names[k]);
        head(o, name, "counter", rule_help[k]);
        for (i = 0; i < n; i++) {
            uint64_t v = __atomic_load_n(&m->rule[i].c[k], __ATOMIC_RELAXED);
            if (i == 0 && !v)
                continue;           /* "_other" only when the table overflowed */
            label_value(id, sizeof(id), m->rule[i].id);
            label_value(lv, sizeof(lv), m->rule[i].level);
            outf(o, "iocwatch_%s{rule=\"%s\",level=\"%s\"} %" PRIu64 "\n",
                 name, id, lv, v);
        }
    }
}

static void render_targets(out_t *o, const iw_metrics_t *m)
{
    uint32_t i, n = __atomic_load_n(&m->ntargets, __ATOMIC_ACQUIRE);
    char t[2 * IW_METRICS_TARGET_MAX + 4], name[96];
    int k;
    for (k = 0; k < IW_NS_N; k++) {
        snprintf(name, sizeof(name), "target_%s", target_names[k]);
        head(o, name, target_types[k], target_help[k]);
        for (i = 0; i < n; i++) {
            uint64_t v = __atomic_load_n(&m->target[i].c[k], __ATOMIC_RELAXED);
            label_value(t, sizeof(t), m->target[i].name);
            if (k == IW_NS_DEPTH)
                outf(o, "iocwatch_%s{target=\"%s\"} %" PRId64 "\n", name, t,
                     (int64_t)v < 0 ? 0 : (int64_t)v);
            else
                outf(o, "iocwatch_%s{target=\"%s\"} %" PRIu64 "\n", name, t, v);
        }
    }
}

static void render_corr(out_t *o, const iw_metrics_extra_t *x)
{
    if (!x->have_corr)
        return;
    gauge(o, "corr_table_slots", "Entries of the correlation tables.", (int64_t)x->corr_slots);
    gauge(o, "corr_table_used", "Entries in use in the correlation tables.", (int64_t)x->corr_used);
    head(o, "corr_evictions_total", "counter",
         "Correlation entries evicted while their window was open.");
    outf(o, "iocwatch_corr_evictions_total %" PRIu64 "\n", x->corr_evictions);
    head(o, "corr_recycled_total", "counter", "Correlation entries reused after their window.");
    outf(o, "iocwatch_corr_recycled_total %" PRIu64 "\n", x->corr_recycled);
    head(o, "corr_fired_total", "counter",
         "Correlation rules that fired (silent inner correlations included).");
    outf(o, "iocwatch_corr_fired_total %" PRIu64 "\n", x->corr_fired);
    gauge(o, "suppress_table_slots", "Entries of the flood-control tables.", (int64_t)x->sup_slots);
    gauge(o, "suppress_table_used", "Entries in use in the flood-control tables.", (int64_t)x->sup_used);
}

void iw_metrics_render_prom(const iw_metrics_t *m, const iw_metrics_extra_t *x,
                            iw_metrics_emit_fn emit, void *ctx)
{
    uint64_t sc[IW_M_N];
    out_t o = { emit, ctx };
    char name[96];
    int k;
    iw_metrics_sum(m, sc, NULL);
    for (k = 0; k < IW_M_N; k++) {
        snprintf(name, sizeof(name), "%s_total", scalar_names[k]);
        head(&o, name, "counter", scalar_help[k]);
        outf(&o, "iocwatch_%s %" PRIu64 "\n", name, sc[k]);
    }
    if (m) {
        render_rules(&o, m);
        render_targets(&o, m);
        gauge(&o, "metrics_start_time_seconds",
              "When these counters started (a later value: they were reset).",
              m->start_time);
    }
    if (x) {
        gauge(&o, "rules_loaded", "Rules compiled in the running configuration.",
              x->rules_loaded);
        gauge(&o, "engines", "Distinct rule configurations (engines).", x->engines);
        gauge(&o, "rules_generation", "httpd configuration generation the rules came from.",
              x->config_generation);
        gauge(&o, "rules_loaded_time_seconds", "When the running rules were loaded.",
              x->rules_loaded_time);
        gauge(&o, "rules_stale", "Rule configurations still running their previous rules "
              "because a reload found errors in the rule files.", x->rules_stale);
        render_corr(&o, x);
    }
}
