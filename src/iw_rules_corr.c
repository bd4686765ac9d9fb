/* SPDX-License-Identifier: Apache-2.0 */
/* iw_rules_corr: a `correlation` section -> model: type, referenced rules,
 * group-by, timespan, condition, aliases, generate.  References are only
 * recorded here (with their positions); iw_rules_link.c resolves them. */
#include <string.h>
#include <ctype.h>
#include <apr_strings.h>
#include "iw_rules_int.h"

/* ---- correlation ----------------------------------------------------- */

static const char *const corr_types[] = {
    NULL, "event_count", "value_count", "temporal", "temporal_ordered"
};

/* A list of references (ids/names) with their marks. */
apr_array_header_t *iw_rules__parse_refs(ctx_t *c, const iw_rules_yaml_node_t *m, const char *what,
                                      mark_t **marks)
{
    const iw_rules_yaml_node_t *k = NULL, *v = iw_rules_yaml_map_get(m, "rules", &k);
    apr_array_header_t *a = apr_array_make(c->p, 4, sizeof(const char *));
    int i, j, n;

    *marks = NULL;
    if (!v || iw_rules_yaml_scalar_is_null(v)) {
        iw_rules__err(c, k ? k : m, "%s has no 'rules' (the ids or names of the rules it applies to)",
            what);
        return a;
    }
    if (v->type == IW_RULES_YAML_MAP) {
        iw_rules__err(c, v, "'rules' must be a list of rule ids or names, got a map");
        return a;
    }
    n = v->type == IW_RULES_YAML_SEQ ? v->nkids : 1;
    if (n == 0) {
        iw_rules__err(c, v, "'rules' is an empty list");
        return a;
    }
    *marks = apr_pcalloc(c->p, n * sizeof(mark_t));
    for (i = 0; i < n; i++) {
        const iw_rules_yaml_node_t *e = v->type == IW_RULES_YAML_SEQ ? v->kids[i] : v;
        if (!iw_rules__is_text(e)) {
            iw_rules__err(c, e, "'rules' entries must be rule ids or names, got %s", iw_rules_yaml_kind(e));
            continue;
        }
        for (j = 0; j < a->nelts && strcmp(APR_ARRAY_IDX(a, j, const char *), e->s); j++) ;
        if (j < a->nelts) {
            iw_rules__err(c, e, "rule '%s' is listed twice in 'rules'", iw_rules__shown(c, e->s));
            continue;
        }
        (*marks)[a->nelts].line = e->line;
        (*marks)[a->nelts].col = e->col;
        APR_ARRAY_PUSH(a, const char *) = apr_pstrmemdup(c->p, e->s, e->len);
    }
    return a;
}

/* "<n><s|m|h|d>" -> usec. */
static int parse_timespan(const char *s, apr_interval_time_t *out)
{
    long long n = 0, mult;
    const char *q = s;

    if (!isdigit((unsigned char)*q)) return -1;
    while (isdigit((unsigned char)*q)) {
        n = n * 10 + (*q - '0');
        if (n > 100000000LL) return -1;
        q++;
    }
    switch (*q) {
    case 's': mult = 1; break;
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = 86400; break;
    default: return -1;
    }
    if (q[1] || n == 0 || n * mult > 366LL * 86400) return -1;
    *out = (apr_interval_time_t)(n * mult) * APR_USEC_PER_SEC;
    return 0;
}

static void parse_corr_condition(ctx_t *c, iw_corr_def_t *cd, const iw_rules_yaml_node_t *cn)
{
    static const char *const ops[] = {NULL, "gt", "gte", "lt", "lte", "eq", "neq"};
    int i, j;

    if (cn->type != IW_RULES_YAML_MAP) {
        iw_rules__err(c, cn, "correlation 'condition' must be a map like {gte: 10}, got %s",
            iw_rules_yaml_kind(cn));
        return;
    }
    for (i = 0; i < iw_rules_yaml_map_size(cn); i++) {
        const iw_rules_yaml_node_t *k = iw_rules_yaml_map_key(cn, i), *v = iw_rules_yaml_map_val(cn, i);
        long long num;
        if (k->type == IW_RULES_YAML_SCALAR && !strcmp(k->s, "field")) {
            if (v->type == IW_RULES_YAML_SEQ && v->nkids == 1) v = v->kids[0];
            if (v->type == IW_RULES_YAML_SEQ)
                iw_rules__err(c, v, "value_count over several fields is not supported: give one 'field'");
            else if (!iw_rules__is_text(v))
                iw_rules__err(c, v, "'field' must be a field name, got %s", iw_rules_yaml_kind(v));
            else if ((cd->value_field_id = iw_field_lookup(v->s)) < 0
                     && !(cd->aliases && apr_hash_get(cd->aliases, v->s, APR_HASH_KEY_STRING)))
                iw_rules__err(c, v, "unknown field '%s' in correlation condition", iw_rules__shown(c, v->s));
            else
                cd->value_field = apr_pstrdup(c->p, v->s);
            continue;
        }
        for (j = 1; j <= 6 && (k->type != IW_RULES_YAML_SCALAR || strcmp(ops[j], k->s)); j++) ;
        if (j > 6) {
            iw_rules__err(c, k, "unknown correlation condition '%s' (use gt, gte, lt, lte, eq, neq "
                "and, for value_count, field)", k->s);
            continue;
        }
        if (!iw_rules_yaml_scalar_int(v, &num) || num < 0) {
            iw_rules__err(c, v, "'%s' needs a non-negative integer, got %s", k->s,
                v->type == IW_RULES_YAML_SCALAR ? apr_psprintf(c->p, "'%s'", iw_rules__shown(c, v->s))
                                       : iw_rules_yaml_kind(v));
            continue;
        }
        if (cd->ncmp == 2) {
            iw_rules__err(c, k, "correlation condition has more than two comparisons");
            continue;
        }
        cd->cmp[cd->ncmp].op = j;
        cd->cmp[cd->ncmp].value = num;
        cd->ncmp++;
    }
    if (cd->ncmp == 2) {
        int lo0 = cd->cmp[0].op == IW_CMP_GT || cd->cmp[0].op == IW_CMP_GTE;
        int lo1 = cd->cmp[1].op == IW_CMP_GT || cd->cmp[1].op == IW_CMP_GTE;
        int hi0 = cd->cmp[0].op == IW_CMP_LT || cd->cmp[0].op == IW_CMP_LTE;
        int hi1 = cd->cmp[1].op == IW_CMP_LT || cd->cmp[1].op == IW_CMP_LTE;
        if (!((lo0 && hi1) || (hi0 && lo1)))
            iw_rules__err(c, cn, "a range needs one lower bound (gt/gte) and one upper bound (lt/lte)");
    }
}

static void parse_aliases(ctx_t *c, iw_corr_def_t *cd, const iw_rules_yaml_node_t *an)
{
    int i, j;

    cd->aliases = apr_hash_make(c->p);
    if (an->type != IW_RULES_YAML_MAP) {
        iw_rules__err(c, an, "'aliases' must be a map alias -> {rule name: field}, got %s",
            iw_rules_yaml_kind(an));
        return;
    }
    c->x->aliases.line = an->line;
    c->x->aliases.col = an->col;
    for (i = 0; i < iw_rules_yaml_map_size(an); i++) {
        const iw_rules_yaml_node_t *k = iw_rules_yaml_map_key(an, i), *v = iw_rules_yaml_map_val(an, i);
        apr_hash_t *h = apr_hash_make(c->p);
        if (v->type != IW_RULES_YAML_MAP || !iw_rules__is_text(k)) {
            iw_rules__err(c, v, "alias '%s' must map rule names to field names", k->s ? k->s : "");
            continue;
        }
        for (j = 0; j < iw_rules_yaml_map_size(v); j++) {
            const iw_rules_yaml_node_t *rk = iw_rules_yaml_map_key(v, j), *fv = iw_rules_yaml_map_val(v, j);
            if (!iw_rules__is_text(rk) || !iw_rules__is_text(fv)) {
                iw_rules__err(c, fv, "alias '%s': entries must be 'rule name: field name'", k->s);
                continue;
            }
            if (iw_field_lookup(fv->s) < 0) {
                iw_rules__err(c, fv, "alias '%s': unknown field '%s'", k->s, fv->s);
                continue;
            }
            apr_hash_set(h, apr_pstrdup(c->p, rk->s), APR_HASH_KEY_STRING,
                         apr_pstrdup(c->p, fv->s));
        }
        apr_hash_set(cd->aliases, apr_pstrdup(c->p, k->s), APR_HASH_KEY_STRING, h);
    }
}

static void parse_group_by(ctx_t *c, iw_corr_def_t *cd, const iw_rules_yaml_node_t *g)
{
    int i, n;

    cd->group_by = apr_array_make(c->p, 2, sizeof(const char *));
    if (!g || iw_rules_yaml_scalar_is_null(g)) return;
    if (g->type == IW_RULES_YAML_MAP) {
        iw_rules__err(c, g, "'group-by' must be a list of field names, got a map");
        return;
    }
    n = g->type == IW_RULES_YAML_SEQ ? g->nkids : 1;
    c->x->groups = apr_pcalloc(c->p, (n + 1) * sizeof(mark_t));
    for (i = 0; i < n; i++) {
        const iw_rules_yaml_node_t *e = g->type == IW_RULES_YAML_SEQ ? g->kids[i] : g;
        if (!iw_rules__is_text(e)) {
            iw_rules__err(c, e, "'group-by' entries must be field names, got %s", iw_rules_yaml_kind(e));
            continue;
        }
        c->x->groups[cd->group_by->nelts].line = e->line;
        c->x->groups[cd->group_by->nelts].col = e->col;
        APR_ARRAY_PUSH(cd->group_by, const char *) = apr_pstrdup(c->p, e->s);
    }
}

static void parse_corr_type(ctx_t *c, iw_corr_def_t *cd, const iw_rules_yaml_node_t *m)
{
    const iw_rules_yaml_node_t *k = NULL, *t = iw_rules_yaml_map_get(m, "type", &k);
    int i;

    if (!t || !iw_rules__is_text(t)) {
        iw_rules__err(c, t ? t : m, "correlation has no 'type' (event_count, value_count, temporal, "
            "temporal_ordered)");
        return;
    }
    for (i = 1; i <= 4 && strcmp(corr_types[i], t->s); i++) ;
    if (i <= 4) {
        cd->type = (iw_corr_type_t)i;
    } else if (!strcmp(t->s, "value_sum") || !strcmp(t->s, "value_avg")
               || !strcmp(t->s, "value_percentile")) {
        iw_rules__err(c, t, "correlation type '%s' is not supported by iocwatch (supported: "
            "event_count, value_count, temporal, temporal_ordered)", t->s);
    } else {
        iw_rules__err(c, t, "unknown correlation type '%s' (event_count, value_count, temporal, "
            "temporal_ordered)", t->s);
    }
}

static void parse_generate(ctx_t *c, iw_corr_def_t *cd, const iw_rules_yaml_node_t *g)
{
    int b;
    if (!g) return;
    if (!iw_rules_yaml_scalar_bool(g, &b)) {
        iw_rules__err(c, g, "'generate' must be true or false");
        return;
    }
    cd->generate = b;
    c->x->generate_given = 1;
}

static void check_corr_needs(ctx_t *c, iw_corr_def_t *cd, const iw_rules_yaml_node_t *m,
                             const iw_rules_yaml_node_t *v);
static void warn_unused_aliases(ctx_t *c, const iw_corr_def_t *cd);

void iw_rules__parse_correlation(ctx_t *c, const iw_rules_yaml_node_t *root, const iw_rules_yaml_node_t *m)
{
    static const char *const known[] = {
        "type", "rules", "group-by", "timespan", "condition", "aliases", "generate",
        "field", NULL
    };
    iw_corr_def_t *cd = apr_pcalloc(c->p, sizeof(*cd));
    const iw_rules_yaml_node_t *k = NULL, *v;
    int i, j, nerr;

    c->r->corr = cd;
    cd->value_field_id = -1;
    if (m->type != IW_RULES_YAML_MAP) {
        iw_rules__err(c, m, "'correlation' must be a map, got %s", iw_rules_yaml_kind(m));
        return;
    }
    for (i = 0; i < iw_rules_yaml_map_size(m); i++) {
        const iw_rules_yaml_node_t *kk = iw_rules_yaml_map_key(m, i);
        for (j = 0; known[j] && (kk->type != IW_RULES_YAML_SCALAR || strcmp(known[j], kk->s)); j++) ;
        if (!known[j])
            iw_rules__warn(c, kk, "unknown key '%s' in correlation (ignored)", kk->s ? kk->s : "");
    }
    parse_corr_type(c, cd, m);
    cd->rule_refs = iw_rules__parse_refs(c, m, "correlation", &c->x->refs);
    cd->rules = apr_array_make(c->p, cd->rule_refs->nelts + 1, sizeof(iw_rule_t *));
    parse_group_by(c, cd, iw_rules_yaml_map_get(m, "group-by", NULL));
    v = iw_rules_yaml_map_get(m, "timespan", &k);
    if (!v) iw_rules__err(c, m, "correlation has no 'timespan' (e.g. timespan: 5m)");
    else if (!iw_rules__is_text(v) || parse_timespan(v->s, &cd->timespan) < 0)
        iw_rules__err(c, v, "bad timespan '%s': use a number and s, m, h or d (e.g. 90m; at most 366d)",
            v->type == IW_RULES_YAML_SCALAR ? iw_rules__shown(c, v->s) : iw_rules_yaml_kind(v));
    if ((v = iw_rules_yaml_map_get(m, "aliases", NULL)))
        parse_aliases(c, cd, v);
    if ((v = iw_rules_yaml_map_get(m, "field", &k)) && iw_rules__is_text(v))
        iw_rules__err(c, k, "'field' belongs inside the correlation 'condition'");
    /* `generate` is top-level in the spec; pySigma reads it in the section */
    parse_generate(c, cd, iw_rules_yaml_map_get(m, "generate", NULL));
    parse_generate(c, cd, iw_rules_yaml_map_get(root, "generate", NULL));
    v = iw_rules_yaml_map_get(m, "condition", &k);
    nerr = c->nerr;
    if (v) parse_corr_condition(c, cd, v);
    if (!cd->type || c->nerr != nerr) return;
    check_corr_needs(c, cd, m, v);
    if (cd->aliases) warn_unused_aliases(c, cd);
}

/* What each correlation type requires (spec "Requires:" lists). */
static void check_corr_needs(ctx_t *c, iw_corr_def_t *cd, const iw_rules_yaml_node_t *m,
                             const iw_rules_yaml_node_t *v)
{
    const iw_rules_yaml_node_t *k = NULL;

    if ((cd->type == IW_CORR_EVENT_COUNT || cd->type == IW_CORR_VALUE_COUNT) && !v)
        iw_rules__err(c, m, "%s correlation has no 'condition' (e.g. condition: {gte: 10})",
            corr_types[cd->type]);
    else if (v && !cd->ncmp && v->type == IW_RULES_YAML_MAP)
        iw_rules__err(c, v, "correlation condition has no comparison (gt, gte, lt, lte, eq, neq)");
    if (cd->type == IW_CORR_VALUE_COUNT && !cd->value_field && v && v->type == IW_RULES_YAML_MAP
        && !iw_rules_yaml_map_get(v, "field", NULL))
        iw_rules__err(c, v, "value_count correlation needs 'field' in its condition (the field "
            "whose distinct values are counted)");
    if (cd->type != IW_CORR_VALUE_COUNT && v && iw_rules_yaml_map_get(v, "field", &k))
        iw_rules__err(c, k, "'field' is only used by value_count correlations");
    if ((cd->type == IW_CORR_TEMPORAL || cd->type == IW_CORR_TEMPORAL_ORDERED)) {
        if (cd->rule_refs->nelts < 2 && cd->rule_refs->nelts > 0)
            iw_rules__warn(c, iw_rules_yaml_map_get(m, "rules", NULL), "%s correlation over a single rule",
                 corr_types[cd->type]);
        if (!cd->ncmp) {        /* default: every referenced rule must occur */
            cd->cmp[0].op = IW_CMP_GTE;
            cd->cmp[0].value = cd->rule_refs->nelts;
            cd->ncmp = 1;
        }
    }
}

static void warn_unused_aliases(ctx_t *c, const iw_corr_def_t *cd)
{
    apr_hash_index_t *hi;
    int i;

    for (hi = apr_hash_first(c->p, cd->aliases); hi; hi = apr_hash_next(hi)) {
        const char *alias = apr_hash_this_key(hi);
        for (i = 0; i < cd->group_by->nelts; i++)
            if (!strcmp(APR_ARRAY_IDX(cd->group_by, i, const char *), alias)) break;
        if (i == cd->group_by->nelts && !(cd->value_field && !strcmp(cd->value_field, alias)))
            iw_diag_add(c->diag, IW_DIAG_WARNING, c->file, c->x->aliases.line,
                        c->x->aliases.col, iw_rules__rid(c->r), "alias '%s' is not used in group-by",
                        alias);
    }
}
