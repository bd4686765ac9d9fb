/* SPDX-License-Identifier: Apache-2.0 */
/* iw_rules_link: after all files are loaded, resolve what spans documents:
 * correlation and filter references, duplicate ids, aliases, and the
 * placeholders of `|expand` values (IocWatchPlaceholder). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <ctype.h>
#include <apr_strings.h>
#include "iw_rules_int.h"

/* ---- linking --------------------------------------------------------- */

typedef struct {
    iw_ruleset_t *rs;
    iw_diag_t *diag;
    char *drop;             /* per rule index: removed after linking */
} link_t;

static void ldiag(link_t *l, iw_diag_level_t lvl, const iw_rule_t *r, mark_t m,
                  const char *fmt, va_list ap)
{
    if (!l->diag) return;
    iw_diag_add(l->diag, lvl, r->file, m.line ? m.line : r->line, m.col, iw_rules__rid(r), "%s",
                apr_pvsprintf(l->diag->pool, fmt, ap));
}

static void lerr(link_t *l, const iw_rule_t *r, mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void lerr(link_t *l, const iw_rule_t *r, mark_t m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ldiag(l, IW_DIAG_ERROR, r, m, fmt, ap);
    va_end(ap);
}

static void lwarn(link_t *l, const iw_rule_t *r, mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void lwarn(link_t *l, const iw_rule_t *r, mark_t m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ldiag(l, IW_DIAG_WARNING, r, m, fmt, ap);
    va_end(ap);
}

/* Rebuild by_id/by_name; a second rule with the same id/name is an error. */
static void link_ids(link_t *l, int report)
{
    iw_ruleset_t *rs = l->rs;
    int i;

    rs->by_id = apr_hash_make(rs->pool);
    rs->by_name = apr_hash_make(rs->pool);
    for (i = 0; i < rs->rules->nelts; i++) {
        iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *), *o;
        rule_ext_t *x = iw_rules__rule_ext(rs, r);
        if (r->id && (o = apr_hash_get(rs->by_id, r->id, APR_HASH_KEY_STRING))) {
            if (report) lerr(l, r, x->id, "duplicate rule id '%s' (also at %s:%d:%d)", r->id, o->file,
                 iw_rules__rule_ext(rs, o)->id.line, iw_rules__rule_ext(rs, o)->id.col);
            l->drop[i] = 1;
            continue;
        }
        if (r->name && (o = apr_hash_get(rs->by_name, r->name, APR_HASH_KEY_STRING))) {
            if (report) lerr(l, r, x->name, "duplicate rule name '%s' (also at %s:%d:%d)", r->name,
                 o->file, iw_rules__rule_ext(rs, o)->name.line, iw_rules__rule_ext(rs, o)->name.col);
            l->drop[i] = 1;
            continue;
        }
        if (r->id) apr_hash_set(rs->by_id, r->id, APR_HASH_KEY_STRING, r);
        if (r->name) apr_hash_set(rs->by_name, r->name, APR_HASH_KEY_STRING, r);
    }
}

static iw_rule_t *find_rule(iw_ruleset_t *rs, const char *ref)
{
    iw_rule_t *r = apr_hash_get(rs->by_id, ref, APR_HASH_KEY_STRING);
    return r ? r : apr_hash_get(rs->by_name, ref, APR_HASH_KEY_STRING);
}

/* value_count `field` given as an alias: it must name a field for every
 * referenced rule. */
static int value_field(link_t *l, const iw_rule_t *cr, const iw_rule_t *t, const char *ref)
{
    const iw_corr_def_t *cd = cr->corr;
    apr_hash_t *a = cd->aliases ? apr_hash_get(cd->aliases, cd->value_field,
                                               APR_HASH_KEY_STRING) : NULL;
    const char *f = NULL;
    if (a) {
        f = t->name ? apr_hash_get(a, t->name, APR_HASH_KEY_STRING) : NULL;
        if (!f && t->id) f = apr_hash_get(a, t->id, APR_HASH_KEY_STRING);
        if (!f) f = apr_hash_get(a, ref, APR_HASH_KEY_STRING);
    }
    if (!f) {
        lerr(l, cr, iw_rules__rule_ext(l->rs, cr)->aliases, "value_count field alias '%s' has no "
             "field for rule '%s'", cd->value_field, ref);
        return -1;
    }
    return 0;
}

/* Field of group-by entry `g` for referenced rule `t`: via an alias when
 * `g` names one (keyed by the rule's name, its id or the reference as
 * written), else `g` itself is a field name. */
static int group_field(link_t *l, const iw_rule_t *cr, int gi, const iw_rule_t *t,
                       const char *ref)
{
    const iw_corr_def_t *cd = cr->corr;
    const char *g = APR_ARRAY_IDX(cd->group_by, gi, const char *);
    mark_t m = iw_rules__mark_at(iw_rules__rule_ext(l->rs, cr)->groups, gi);
    apr_hash_t *a = cd->aliases ? apr_hash_get(cd->aliases, g, APR_HASH_KEY_STRING) : NULL;
    const char *fname = g;
    int f;

    if (a) {
        fname = t->name ? apr_hash_get(a, t->name, APR_HASH_KEY_STRING) : NULL;
        if (!fname && t->id) fname = apr_hash_get(a, t->id, APR_HASH_KEY_STRING);
        if (!fname) fname = apr_hash_get(a, ref, APR_HASH_KEY_STRING);
        if (!fname) {
            lerr(l, cr, m, "alias '%s' has no field for rule '%s'", g, ref);
            return -1;
        }
    }
    f = iw_field_lookup(fname);
    if (f < 0)
        lerr(l, cr, m, "group-by: unknown field '%s'%s", fname,
             a ? apr_psprintf(l->rs->pool, " (alias '%s', rule '%s')", g, ref) : "");
    return f;
}

static void link_corr(link_t *l, iw_rule_t *cr)
{
    iw_corr_def_t *cd = cr->corr;
    rule_ext_t *x = iw_rules__rule_ext(l->rs, cr);
    int i, j, ng = cd->group_by->nelts, bad = 0;

    apr_array_clear(cd->rules);
    cd->group_fields = apr_pcalloc(l->rs->pool,
                                   (cd->rule_refs->nelts * ng + 1) * sizeof(int));
    for (i = 0; i < cd->rule_refs->nelts; i++) {
        const char *ref = APR_ARRAY_IDX(cd->rule_refs, i, const char *);
        iw_rule_t *t = find_rule(l->rs, ref);
        mark_t m = iw_rules__mark_at(x->refs, i);
        if (!t || l->drop[t->index]) {
            lerr(l, cr, m, "correlation refers to unknown rule '%s' (no rule has this id or "
                 "name)", ref);
            bad = 1;
            continue;
        }
        if (t->kind == IW_RULE_FILTER) {
            lerr(l, cr, m, "rule '%s' is a filter, not a detection or correlation rule", ref);
            bad = 1;
            continue;
        }
        if (t == cr) {
            lerr(l, cr, m, "correlation refers to itself");
            bad = 1;
            continue;
        }
        APR_ARRAY_PUSH(cd->rules, iw_rule_t *) = t;
        for (j = 0; j < ng; j++) {
            int f = group_field(l, cr, j, t, ref);
            if (f < 0) bad = 1;
            cd->group_fields[(cd->rules->nelts - 1) * ng + j] = f;
        }
        if (cd->value_field && cd->value_field_id < 0
            && value_field(l, cr, t, ref) < 0)
            bad = 1;
    }
    if (bad) l->drop[cr->index] = 1;
}

/* Chains: a correlation may count the alerts of another one (spec), but a
 * cycle would never settle.  state: 0 new, 1 on the DFS path, 2 done. */
static int find_cycle(link_t *l, iw_rule_t *cr, char *state)
{
    int i;
    if (state[cr->index] == 2) return 0;
    if (state[cr->index] == 1) return 1;
    state[cr->index] = 1;
    for (i = 0; i < cr->corr->rules->nelts; i++) {
        iw_rule_t *t = APR_ARRAY_IDX(cr->corr->rules, i, iw_rule_t *);
        if (t->kind == IW_RULE_CORRELATION && find_cycle(l, t, state)) {
            if (!l->drop[cr->index])
                lerr(l, cr, iw_rules__rule_ext(l->rs, cr)->id, "correlation chain loops back to "
                     "itself through '%s'", t->id ? t->id : t->name ? t->name : t->title);
            l->drop[cr->index] = 1;
            return 1;
        }
    }
    state[cr->index] = 2;
    return 0;
}

/* A correlation over a rule that has errors has errors too (repeat until
 * stable: chains); then applies_to = union over the referenced rules. */
static void link_chains(link_t *l)
{
    iw_ruleset_t *rs = l->rs;
    char *state = apr_pcalloc(rs->pool, rs->rules->nelts + 1);
    int i, j, changed = 1, rounds = 0;

    for (i = 0; i < rs->rules->nelts; i++) {
        iw_rule_t *cr = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
        if (cr->kind == IW_RULE_CORRELATION && !l->drop[i]) find_cycle(l, cr, state);
    }
    while (changed && rounds++ <= rs->rules->nelts) {
        changed = 0;
        for (i = 0; i < rs->rules->nelts; i++) {
            iw_rule_t *cr = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
            unsigned applies = 0;
            if (cr->kind != IW_RULE_CORRELATION || l->drop[i]) continue;
            for (j = 0; j < cr->corr->rules->nelts; j++) {
                iw_rule_t *t = APR_ARRAY_IDX(cr->corr->rules, j, iw_rule_t *);
                if (l->drop[t->index]) {
                    lerr(l, cr, iw_rules__mark_at(iw_rules__rule_ext(rs, cr)->refs, j), "correlation refers to '%s', "
                         "which has errors", APR_ARRAY_IDX(cr->corr->rule_refs, j,
                                                           const char *));
                    l->drop[i] = 1;
                    changed = 1;
                    break;
                }
                applies |= t->applies_to;
            }
            if (!l->drop[i] && applies != cr->applies_to) {
                cr->applies_to = applies;
                changed = 1;
            }
        }
    }
}

/* A rule referenced by a correlation only feeds it, unless one of the
 * referencing correlations says `generate: true`. */
static void link_generate(link_t *l)
{
    iw_ruleset_t *rs = l->rs;
    int i, j;

    for (i = 0; i < rs->rules->nelts; i++) {
        iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
        apr_array_clear(r->feeds);
        apr_array_clear(r->filters);
        r->generate = r->kind != IW_RULE_FILTER;
    }
    for (i = 0; i < rs->rules->nelts; i++) {
        iw_rule_t *cr = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
        if (cr->kind != IW_RULE_CORRELATION || l->drop[i]) continue;
        for (j = 0; j < cr->corr->rules->nelts; j++) {
            iw_rule_t *t = APR_ARRAY_IDX(cr->corr->rules, j, iw_rule_t *);
            APR_ARRAY_PUSH(t->feeds, iw_rule_t *) = cr;
        }
    }
    for (i = 0; i < rs->rules->nelts; i++) {
        iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
        int keep = 0;
        if (!r->feeds->nelts) continue;
        for (j = 0; j < r->feeds->nelts; j++)
            keep |= APR_ARRAY_IDX(r->feeds, j, iw_rule_t *)->corr->generate;
        r->generate = keep;
    }
}

static const char *source_name(unsigned applies)
{
    return applies == IW_EV_ACCESS ? "webserver access events"
         : applies == IW_EV_ERROR ? "Apache error-log events" : "mixed events";
}

static void link_filter(link_t *l, iw_rule_t *f)
{
    rule_ext_t *x = iw_rules__rule_ext(l->rs, f);
    int i;

    apr_array_clear(f->filter_rules);
    if (x->any_rules) {
        for (i = 0; i < l->rs->rules->nelts; i++) {
            iw_rule_t *t = APR_ARRAY_IDX(l->rs->rules, i, iw_rule_t *);
            if (t->kind != IW_RULE_DETECTION || !(t->applies_to & f->applies_to)) continue;
            APR_ARRAY_PUSH(f->filter_rules, iw_rule_t *) = t;
            APR_ARRAY_PUSH(t->filters, iw_rule_t *) = f;
        }
        return;
    }
    for (i = 0; i < f->filter_refs->nelts; i++) {
        const char *ref = APR_ARRAY_IDX(f->filter_refs, i, const char *);
        iw_rule_t *t = find_rule(l->rs, ref);
        mark_t m = iw_rules__mark_at(x->refs, i);
        if (!t || l->drop[t->index]) {
            lwarn(l, f, m, "filter refers to unknown rule '%s' (ignored)", ref);
            continue;
        }
        if (t->kind != IW_RULE_DETECTION) {
            lwarn(l, f, m, "filter refers to '%s', which is not a detection rule (ignored)",
                  ref);
            continue;
        }
        if (!(t->applies_to & f->applies_to)) {
            lwarn(l, f, m, "filter sees %s but rule '%s' matches %s: it can never apply "
                  "(ignored)", source_name(f->applies_to), ref, source_name(t->applies_to));
            continue;
        }
        APR_ARRAY_PUSH(f->filter_rules, iw_rule_t *) = t;
        APR_ARRAY_PUSH(t->filters, iw_rule_t *) = f;
    }
}

/* Rules built by hand (tests of other subsystems) may leave lists NULL. */
static void ensure_arrays(apr_pool_t *p, iw_rule_t *r)
{
    if (!r->feeds) r->feeds = apr_array_make(p, 1, sizeof(iw_rule_t *));
    if (!r->filters) r->filters = apr_array_make(p, 1, sizeof(iw_rule_t *));
    if (r->kind == IW_RULE_FILTER) {
        if (!r->filter_refs) r->filter_refs = apr_array_make(p, 1, sizeof(const char *));
        if (!r->filter_rules) r->filter_rules = apr_array_make(p, 1, sizeof(iw_rule_t *));
    }
    if (r->kind == IW_RULE_CORRELATION && r->corr) {
        iw_corr_def_t *cd = r->corr;
        if (!cd->rule_refs) cd->rule_refs = apr_array_make(p, 1, sizeof(const char *));
        if (!cd->rules) cd->rules = apr_array_make(p, 1, sizeof(iw_rule_t *));
        if (!cd->group_by) cd->group_by = apr_array_make(p, 1, sizeof(const char *));
    }
}

int iw_ruleset_link(iw_ruleset_t *rs, iw_diag_t *diag)
{
    link_t l;
    int i, before = diag ? diag->errors : 0, ndrop = 0;
    apr_array_header_t *kept;

    l.rs = rs;
    l.diag = diag;
    l.drop = apr_pcalloc(rs->pool, rs->rules->nelts + 1);
    for (i = 0; i < rs->rules->nelts; i++) {
        iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
        r->index = i;
        ensure_arrays(rs->pool, r);
        if (r->kind == IW_RULE_CORRELATION && !r->corr) l.drop[i] = 1;
    }
    link_ids(&l, 1);
    for (i = 0; i < rs->rules->nelts; i++) {
        iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
        if (r->kind == IW_RULE_CORRELATION && !l.drop[i]) link_corr(&l, r);
    }
    link_chains(&l);
    /* Drop what could not be linked so the engine never sees half a rule. */
    for (i = 0; i < rs->rules->nelts; i++) ndrop += l.drop[i];
    if (ndrop) {
        kept = apr_array_make(rs->pool, rs->rules->nelts, sizeof(iw_rule_t *));
        for (i = 0; i < rs->rules->nelts; i++) {
            iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
            if (l.drop[i]) continue;
            r->index = kept->nelts;
            APR_ARRAY_PUSH(kept, iw_rule_t *) = r;
        }
        rs->rules = kept;
        l.drop = apr_pcalloc(rs->pool, rs->rules->nelts + 1);
        link_ids(&l, 0);
    }
    link_generate(&l);
    for (i = 0; i < rs->rules->nelts; i++) {
        iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
        if (r->kind == IW_RULE_FILTER) link_filter(&l, r);
    }
    rs->linked = 1;
    return diag ? diag->errors - before : 0;
}

/* ---- placeholders ---------------------------------------------------- */

static const char *strip_pct(apr_pool_t *p, const char *name)
{
    size_t n = strlen(name);
    if (n >= 2 && name[0] == '%' && name[n - 1] == '%')
        return apr_pstrmemdup(p, name + 1, n - 2);
    return apr_pstrdup(p, name);
}

void iw_ruleset_set_placeholder(iw_ruleset_t *rs, const char *name,
                                apr_array_header_t *values)
{
    if (!rs || !name) return;
    apr_hash_set(rs->placeholders, strip_pct(rs->pool, name), APR_HASH_KEY_STRING, values);
}

int iw_ruleset_load_placeholder_file(iw_ruleset_t *rs, const char *name,
                                     const char *path, iw_diag_t *diag)
{
    FILE *f;
    char line[8192];
    apr_array_header_t *vals;
    long lineno = 0;

    if (!rs || !name || !path) return -1;
    if (!(f = fopen(path, "r"))) {
        iw_rules__load_err(diag, path, "cannot open placeholder file for %%%s%%: %s", name,
                 strerror(errno));
        return -1;
    }
    vals = apr_array_make(rs->pool, 16, sizeof(const char *));
    while (fgets(line, sizeof(line), f)) {
        char *s = line, *e;
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            int ch;
            iw_diag_add(diag, IW_DIAG_WARNING, path, (int)lineno, 1, NULL,
                        "line longer than %d bytes truncated", (int)sizeof(line) - 1);
            while ((ch = fgetc(f)) != EOF && ch != '\n') ;
        }
        while (isspace((unsigned char)*s)) s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
        if (!*s || *s == '#') continue;
        APR_ARRAY_PUSH(vals, const char *) = apr_pstrdup(rs->pool, s);
    }
    fclose(f);
    iw_ruleset_set_placeholder(rs, name, vals);
    return 0;
}
