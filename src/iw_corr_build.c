/* SPDX-License-Identifier: Apache-2.0 */
/* iw_corr_build: correlation rules -> programs (feed map, processing order,
 * slot size, ruleset fingerprint).  Runs once at config time. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "iw_corr_int.h"

static uint64_t hash_str(uint64_t h, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    h = iw_corr__hash(h, &n, sizeof(n));
    return s ? iw_corr__hash(h, s, n) : h;
}

static uint64_t hash_i64(uint64_t h, int64_t v)
{
    return iw_corr__hash(h, &v, sizeof(v));
}

static const char *rule_label(const iw_rule_t *r)
{
    return r->id ? r->id : r->name ? r->name : r->title ? r->title : "?";
}

/* ---- referenced rules ---------------------------------------------------- */

static const iw_rule_t *ref_rule(const iw_ruleset_t *rs, const iw_corr_def_t *d,
                                 int i)
{
    const char *ref;
    const iw_rule_t *r = NULL;

    if (d->rules && i < d->rules->nelts)
        return APR_ARRAY_IDX(d->rules, i, const iw_rule_t *);
    if (!d->rule_refs || i >= d->rule_refs->nelts) return NULL;
    /* not linked (hand-built model): resolve by id, then by name */
    ref = APR_ARRAY_IDX(d->rule_refs, i, const char *);
    if (ref && rs->by_id) r = apr_hash_get(rs->by_id, ref, APR_HASH_KEY_STRING);
    if (!r && ref && rs->by_name)
        r = apr_hash_get(rs->by_name, ref, APR_HASH_KEY_STRING);
    return r;
}

static int nrefs_of(const iw_corr_def_t *d)
{
    if (d->rules) return d->rules->nelts;
    return d->rule_refs ? d->rule_refs->nelts : 0;
}

/* Field of group-by/value name `name` for referenced rule r: the alias
 * mapping for r's name when `name` is an alias, else the name itself. */
static int resolve_field(const iw_corr_def_t *d, const iw_rule_t *r,
                         const char *name)
{
    apr_hash_t *m;
    const char *f = name;

    if (!name) return -1;
    if (d->aliases && (m = apr_hash_get(d->aliases, name, APR_HASH_KEY_STRING))) {
        const char *g = NULL;
        if (r->name) g = apr_hash_get(m, r->name, APR_HASH_KEY_STRING);
        if (!g && r->id) g = apr_hash_get(m, r->id, APR_HASH_KEY_STRING);
        if (!g) return -1;
        f = g;
    }
    return iw_field_lookup(f);
}

/* ---- condition ----------------------------------------------------------- */

static int64_t clamp_bound(int64_t v)
{
    if (v > IW_CORR_BOUND_MAX) return IW_CORR_BOUND_MAX;
    if (v < -1) return -1;
    return v;
}

/* Payload elements an exact decision needs: gte N -> the last N events,
 * gt N -> N+1; with an upper bound (closed at window end) max bound + 1. */
static int64_t elems_needed(const corr_prog_t *pg)
{
    int64_t need = 1;
    int i;
    for (i = 0; i < pg->ncmp; i++) {
        int64_t v = clamp_bound(pg->cmp[i].value), k;
        if (pg->close_mode) k = v + 1;
        else k = pg->cmp[i].op == IW_CMP_GTE ? v : v + 1;
        if (k > need) need = k;
    }
    return need;
}

static int setup_cond(corr_prog_t *pg, iw_diag_t *diag)
{
    const iw_corr_def_t *d = pg->def;
    int i;

    pg->ncmp = d->ncmp < 0 ? 0 : d->ncmp > 2 ? 2 : d->ncmp;
    memcpy(pg->cmp, d->cmp, sizeof(pg->cmp));
    if (pg->ncmp == 0) {
        if (pg->type == IW_CORR_TEMPORAL || pg->type == IW_CORR_TEMPORAL_ORDERED) {
            /* spec: all referenced rules within the timespan */
            pg->cmp[0].op = IW_CMP_GTE;
            pg->cmp[0].value = pg->nrefs;
            pg->ncmp = 1;
        } else {
            iw_diag_add(diag, IW_DIAG_ERROR, pg->rule->file, pg->rule->line, 0,
                        pg->rule->id, "correlation: `condition` is required "
                        "for event_count and value_count");
            return -1;
        }
    }
    for (i = 0; i < pg->ncmp; i++) {
        int op = pg->cmp[i].op;
        if (op < IW_CMP_GT || op > IW_CMP_NEQ) {
            iw_diag_add(diag, IW_DIAG_ERROR, pg->rule->file, pg->rule->line, 0,
                        pg->rule->id, "correlation: unknown condition operator");
            return -1;
        }
        if (op != IW_CMP_GT && op != IW_CMP_GTE) pg->close_mode = 1;
    }
    return 0;
}

/* ---- one program --------------------------------------------------------- */

static int setup_fields(apr_pool_t *p, const iw_ruleset_t *rs, corr_prog_t *pg,
                        iw_diag_t *diag)
{
    const iw_corr_def_t *d = pg->def;
    int i, j, ng = pg->ngroup;

    pg->gnames = apr_pcalloc(p, sizeof(char *) * (ng ? ng : 1));
    pg->gfields = apr_pcalloc(p, sizeof(int) * (ng * pg->nrefs + 1));
    pg->vfields = apr_pcalloc(p, sizeof(int) * (pg->nrefs + 1));
    for (j = 0; j < ng; j++)
        pg->gnames[j] = APR_ARRAY_IDX(d->group_by, j, const char *);
    for (i = 0; i < pg->nrefs; i++) {
        const iw_rule_t *r = ref_rule(rs, d, i);
        if (!r) {
            iw_diag_add(diag, IW_DIAG_ERROR, pg->rule->file, pg->rule->line, 0,
                        pg->rule->id, "correlation: referenced rule %d is "
                        "unknown", i + 1);
            return -1;
        }
        for (j = 0; j < ng; j++)
            pg->gfields[i * ng + j] = d->group_fields ? d->group_fields[i * ng + j]
                                      : resolve_field(d, r, pg->gnames[j]);
        pg->vfields[i] = -1;
        if (pg->type == IW_CORR_VALUE_COUNT) {
            pg->vfields[i] = resolve_field(d, r, d->value_field);
            if (pg->vfields[i] < 0 && !(d->aliases && d->value_field &&
                apr_hash_get(d->aliases, d->value_field, APR_HASH_KEY_STRING)))
                pg->vfields[i] = d->value_field_id;
        }
    }
    if (pg->type == IW_CORR_VALUE_COUNT && !d->value_field && d->value_field_id < 0) {
        iw_diag_add(diag, IW_DIAG_ERROR, pg->rule->file, pg->rule->line, 0,
                    pg->rule->id, "correlation: value_count needs `field`");
        return -1;
    }
    return 0;
}

static int setup_prog(apr_pool_t *p, const iw_ruleset_t *rs, corr_prog_t *pg,
                      const iw_rule_t *r, iw_diag_t *diag)
{
    const iw_corr_def_t *d = r->corr;
    int64_t need;

    memset(pg, 0, sizeof(*pg));
    pg->rule = r;
    pg->def = d;
    pg->type = d->type;
    pg->nrefs = nrefs_of(d);
    pg->ngroup = d->group_by ? d->group_by->nelts : 0;
    pg->span = d->timespan;
    if (pg->type < IW_CORR_EVENT_COUNT || pg->type > IW_CORR_TEMPORAL_ORDERED) {
        iw_diag_add(diag, IW_DIAG_ERROR, r->file, r->line, 0, r->id,
                    "correlation: unsupported type");
        return -1;
    }
    if (pg->nrefs < 1 || pg->nrefs > IW_CORR_MAX_REFS) {
        iw_diag_add(diag, IW_DIAG_ERROR, r->file, r->line, 0, r->id,
                    "correlation: %d referenced rules (1..%d supported)",
                    pg->nrefs, IW_CORR_MAX_REFS);
        return -1;
    }
    if (pg->span <= 0) {
        iw_diag_add(diag, IW_DIAG_ERROR, r->file, r->line, 0, r->id,
                    "correlation: `timespan` must be positive");
        return -1;
    }
    if (setup_cond(pg, diag) || setup_fields(p, rs, pg, diag)) return -1;
    switch (pg->type) {
    case IW_CORR_EVENT_COUNT:
        need = pg->close_mode ? 0 : elems_needed(pg);
        break;
    case IW_CORR_VALUE_COUNT:
        need = elems_needed(pg);
        break;
    default:
        need = pg->nrefs;
        break;
    }
    pg->approx = need > IW_CORR_MAX_ELEMS;
    pg->cap = (int)(pg->approx ? IW_CORR_MAX_ELEMS : need);
    return 0;
}

static size_t payload_bytes(const corr_prog_t *pg)
{
    switch (pg->type) {
    case IW_CORR_EVENT_COUNT: return (size_t)pg->cap * sizeof(corr_tsn_t);
    case IW_CORR_VALUE_COUNT: return (size_t)pg->cap * sizeof(corr_val_t);
    default:                  return (size_t)pg->cap * sizeof(int64_t);
    }
}

/* ---- the whole set ------------------------------------------------------- */

/* rank = 1 + highest rank of referenced correlations; -1 on a cycle. */
static int compute_ranks(iw_corr_t *c, const iw_ruleset_t *rs, iw_diag_t *diag)
{
    int round, i, k, changed = 1;

    for (round = 0; changed && round <= c->ncorr; round++) {
        changed = 0;
        for (i = 0; i < c->ncorr; i++) {
            corr_prog_t *pg = &c->progs[i];
            for (k = 0; k < pg->nrefs; k++) {
                const iw_rule_t *r = ref_rule(rs, pg->def, k);
                int cj = (r && r->index >= 0 && r->index < c->nrules)
                         ? c->ci_of_rule[r->index] : -1;
                if (cj >= 0 && c->progs[cj].rank + 1 > pg->rank) {
                    pg->rank = c->progs[cj].rank + 1;
                    changed = 1;
                }
            }
        }
    }
    if (changed) {
        iw_diag_add(diag, IW_DIAG_ERROR, NULL, 0, 0, NULL,
                    "correlation: rules reference each other in a cycle");
        return -1;
    }
    return 0;
}

static int cmp_rank(const void *a, const void *b)
{
    const corr_prog_t *x = a, *y = b;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    return x->rule->index < y->rule->index ? -1 : x->rule->index > y->rule->index;
}

/* Feed map rule->index -> (correlation, position), and `silent`: an inner
 * correlation only alerts when a referencing correlation has generate. */
static void build_feeds(iw_corr_t *c, const iw_ruleset_t *rs)
{
    int i, k, *fill;

    c->feed_start = apr_pcalloc(c->pool, sizeof(int) * (c->nrules + 1));
    for (i = 0; i < c->ncorr; i++)
        for (k = 0; k < c->progs[i].nrefs; k++) {
            const iw_rule_t *r = ref_rule(rs, c->progs[i].def, k);
            if (r && r->index >= 0 && r->index < c->nrules) c->feed_start[r->index + 1]++;
        }
    for (i = 0; i < c->nrules; i++) c->feed_start[i + 1] += c->feed_start[i];
    c->feeds = apr_pcalloc(c->pool, sizeof(corr_feed_t) * (c->feed_start[c->nrules] + 1));
    fill = apr_pcalloc(c->pool, sizeof(int) * (c->nrules + 1));
    for (i = 0; i < c->ncorr; i++) c->ci_of_rule[c->progs[i].rule->index] = i;
    for (i = 0; i < c->ncorr; i++) {
        corr_prog_t *pg = &c->progs[i];
        for (k = 0; k < pg->nrefs; k++) {
            const iw_rule_t *r = ref_rule(rs, pg->def, k);
            int cj;
            if (!r || r->index < 0 || r->index >= c->nrules) continue;
            c->feeds[c->feed_start[r->index] + fill[r->index]++] = (corr_feed_t){i, k};
            cj = c->ci_of_rule[r->index];
            if (cj >= 0) c->progs[cj].silent |= 1 + (pg->def->generate ? 2 : 0);
        }
    }
    for (i = 0; i < c->ncorr; i++)  /* 1: referenced, 3: and some generate */
        c->progs[i].silent = c->progs[i].silent == 1;
}

static uint64_t fingerprint(const iw_corr_t *c)
{
    uint64_t h = hash_i64(IW_CORR_HASH_INIT, IW_CORR_LAYOUT);
    int i, k;

    h = hash_i64(h, c->ncorr);
    h = hash_i64(h, (int64_t)c->slot_size);
    for (i = 0; i < c->ncorr; i++) {
        const corr_prog_t *pg = &c->progs[i];
        h = hash_str(h, rule_label(pg->rule));
        h = hash_i64(h, pg->type);
        h = hash_i64(h, pg->span);
        h = hash_i64(h, pg->cap);
        h = hash_i64(h, pg->close_mode);
        for (k = 0; k < pg->ncmp; k++) {
            h = hash_i64(h, pg->cmp[k].op);
            h = hash_i64(h, pg->cmp[k].value);
        }
        for (k = 0; k < pg->nrefs; k++) {
            const iw_rule_t *r = ref_rule(c->rs, pg->def, k);
            h = hash_str(h, r ? rule_label(r) : "");
            h = hash_i64(h, pg->vfields[k]);
        }
        for (k = 0; k < pg->ngroup; k++) h = hash_str(h, pg->gnames[k]);
        for (k = 0; k < pg->ngroup * pg->nrefs; k++) h = hash_i64(h, pg->gfields[k]);
    }
    return iw_corr__mix(h);
}

iw_corr_t *iw_corr_create_rs(apr_pool_t *p, const iw_ruleset_t *rs, iw_diag_t *diag)
{
    iw_corr_t *c;
    int i, n = 0;
    size_t payload = 0;

    if (!rs || !rs->rules) return NULL;
    c = apr_pcalloc(p, sizeof(*c));
    c->pool = p;
    c->rs = rs;
    c->nrules = rs->rules->nelts;
    c->progs = apr_pcalloc(p, sizeof(corr_prog_t) * (c->nrules + 1));
    c->ci_of_rule = apr_palloc(p, sizeof(int) * (c->nrules + 1));
    for (i = 0; i < c->nrules; i++) {
        const iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, const iw_rule_t *);
        c->ci_of_rule[i] = -1;
        if (!r || r->kind != IW_RULE_CORRELATION || !r->corr) continue;
        if (r->index != i) {
            iw_diag_add(diag, IW_DIAG_ERROR, r->file, r->line, 0, r->id,
                        "correlation: rule index %d != position %d", r->index, i);
            continue;
        }
        if (setup_prog(p, rs, &c->progs[n], r, diag)) continue;   /* diag says why */
        c->ci_of_rule[i] = n++;
    }
    c->ncorr = n;
    if (n == 0) return NULL;
    if (compute_ranks(c, rs, diag)) return NULL;
    qsort(c->progs, (size_t)n, sizeof(corr_prog_t), cmp_rank);
    for (i = 0; i < c->nrules; i++) c->ci_of_rule[i] = -1;
    build_feeds(c, rs);
    for (i = 0; i < n; i++)
        if (payload_bytes(&c->progs[i]) > payload) payload = payload_bytes(&c->progs[i]);
    c->slot_size = (sizeof(corr_slot_t) + payload + 15) & ~(size_t)15;
    c->fingerprint = fingerprint(c);
    return c;
}

/* ---- accessors (the block's layout uses them: iw_corr_mem.c) ----------- */

size_t iw_corr_slot_size(const iw_corr_t *c) { return c ? c->slot_size : 0; }
uint64_t iw_corr_fingerprint(const iw_corr_t *c) { return c ? c->fingerprint : 0; }

int iw_corr_reads_field(const iw_corr_t *c, int f)
{
    int i, j;
    for (i = 0; c && i < c->ncorr; i++) {
        const corr_prog_t *pg = &c->progs[i];
        for (j = 0; pg->gfields && j < pg->nrefs * pg->ngroup; j++)
            if (pg->gfields[j] == f) return 1;
        for (j = 0; pg->vfields && j < pg->nrefs; j++)
            if (pg->vfields[j] == f) return 1;
    }
    return 0;
}
