/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_compile: compile the Sigma rule model into the program of
 * iw_engine_int.h (config time): predicates, binding matchers to fields,
 * items, groups, selections and conditions, candidate triggers, lazy
 * predicates, which patterns go to which field's Vectorscan database
 * (built in iw_engine_hsdb.c), the evaluation-error readers and the event
 * cache plan.  A value with its modifiers becomes matchers in
 * iw_engine_value.c. */
#include "iw_engine_int.h"
#include "iw_match_factor.h"
#include "iw_vs.h"

/* ---- predicates ----------------------------------------------------------- */

static int32_t pred_new(build_t *b, double w)
{
    APR_ARRAY_PUSH(b->predw, double) = w > 1.0 ? 1.0 : w;
    APR_ARRAY_PUSH(b->pnl, char) = 0;
    return (int32_t)(b->predw->nelts - 1);
}

/* ---- binding matchers to fields and predicates -------------------------- */

static int32_t pat_get(build_t *b, const mdesc_t *m, int field)
{
    const char *key = apr_psprintf(b->tp, "%d/%x/%s", field, m->flags, m->expr);
    void *v = apr_hash_get(b->pat_by_key, key, APR_HASH_KEY_STRING);
    pat_t *pt;

    if (v) {
        pt = &APR_ARRAY_IDX(b->pats, (intptr_t)v - 1, pat_t);
        pt->types |= b->types;
        return (int32_t)((intptr_t)v - 1);
    }
    pt = apr_array_push(b->pats);
    memset(pt, 0, sizeof(*pt));
    pt->expr = apr_pstrdup(b->p, m->expr);
    pt->flags = m->flags;
    pt->field = field;
    pt->types = b->types;
    pt->act_head = -1;
    pt->rule = b->rule;
    pt->line = b->vline;
    pt->col = b->vcol;
    pt->rxre = m->kind == M_RE && !m->split;
    if (m->kind == M_HS && m->plain) {
        pt->lb = m->lb;
        pt->ll = m->ll;
        pt->open_s = m->open_s;
        pt->open_e = m->open_e;
    }
    apr_hash_set(b->pat_by_key, key, APR_HASH_KEY_STRING, (void *)(intptr_t)b->pats->nelts);
    return (int32_t)(b->pats->nelts - 1);
}

static void pat_add_action(build_t *b, int32_t pi, int32_t value)
{
    pat_t *pt = &APR_ARRAY_IDX(b->pats, pi, pat_t);
    act_t *a;
    if (pt->act_head >= 0 && APR_ARRAY_IDX(b->acts, pt->act_head, act_t).value == value)
        return;
    a = apr_array_push(b->acts);
    a->value = value;
    a->next = pt->act_head;
    pt->act_head = (int32_t)(b->acts->nelts - 1);
}

static int emit(build_t *b, mdesc_t *m, int field, int32_t pred)
{
    /* a regex can be lazy: PCRE2 runs the whole expression (M_RE) */
    if ((m->kind != M_HS || !m->plain || !m->ll) && m->kind != M_DIRECT && m->kind != M_RE)
        APR_ARRAY_IDX(b->pnl, pred, char) = 1;
    switch (m->kind) {
    case M_HS:
        pat_add_action(b, pat_get(b, m, field), pred);
        return 0;
    case M_RE: {
        rxcheck_t *rx;
        if (m->rx_pred != pred) {
            rx = apr_array_push(b->rx);
            rx->code = m->code;
            rx->jit = m->jit;
            rx->pred = pred;
            m->rx_pred = pred;
            m->rx_idx = (int32_t)(b->rx->nelts - 1);
        }
        pat_add_action(b, pat_get(b, m, field), -1 - m->rx_idx);
        return 0;
    }
    case M_CIDR:
        if (!b->e->radix[field] && !(b->e->radix[field] = iw_match_radix_create())) return -1;
        b->e->radix_types[field] |= b->types;
        return iw_match_radix_insert(b->e->radix[field], m->addr, m->plen, pred);
    default: {
        dcheck_t *d = apr_array_push(b->dc);
        *d = m->d;
        d->field = field;
        d->pred = pred;
        d->types = b->types;
        return 0;
    }
    }
}

static const char *cidr_sig(build_t *b, const mdesc_t *m)
{
    static const char hex[] = "0123456789abcdef";
    char *s = apr_palloc(b->tp, 40);
    int i;
    s[0] = 'c';
    for (i = 0; i < 16; i++) {
        s[1 + 2 * i] = hex[m->addr[i] >> 4];
        s[2 + 2 * i] = hex[m->addr[i] & 15];
    }
    snprintf(s + 33, 7, "/%d", m->plen);
    return s;
}

/* Predicate set by the given matchers on the given fields: shared with any
 * earlier item that had exactly the same matchers. */
static int32_t pred_for(build_t *b, apr_array_header_t *ms, const int *fields,
                        int nfields)
{
    apr_array_header_t *sigparts = apr_array_make(b->tp, ms->nelts * nfields + 1, sizeof(char *));
    const char *sig;
    void *found;
    double w = 0;
    int i, k;
    int32_t pred;

    for (k = 0; k < nfields; k++) {
        APR_ARRAY_PUSH(sigparts, const char *) = apr_psprintf(b->tp, "@%d", fields[k]);
        for (i = 0; i < ms->nelts; i++) {
            mdesc_t *m = &APR_ARRAY_IDX(ms, i, mdesc_t);
            if (m->kind == M_CIDR)
                APR_ARRAY_PUSH(sigparts, const char *) = cidr_sig(b, m);
            else
                APR_ARRAY_PUSH(sigparts, const char *) = m->sig;
        }
    }
    sig = apr_array_pstrcat(b->tp, sigparts, '\x1f');
    /* types matter: a shared predicate must be computed for every type of
     * every rule using it */
    found = apr_hash_get(b->pred_by_sig, sig, APR_HASH_KEY_STRING);
    if (found && (((intptr_t)found) & 3) == (intptr_t)b->types)
        return (int32_t)(((intptr_t)found) >> 2);
    for (i = 0; i < ms->nelts; i++) w += APR_ARRAY_IDX(ms, i, mdesc_t).w;
    pred = pred_new(b, w * nfields);
    for (k = 0; k < nfields; k++)
        for (i = 0; i < ms->nelts; i++)
            if (emit(b, &APR_ARRAY_IDX(ms, i, mdesc_t), fields[k], pred) < 0) {
                iw_engine__berr(b, 0, 0, "out of memory");
                return pred;
            }
    apr_hash_set(b->pred_by_sig, sig, APR_HASH_KEY_STRING,
                 (void *)(((intptr_t)pred << 2) | (intptr_t)b->types));
    return pred;
}

/* ---- items, groups, selections ------------------------------------------ */

static void row_push(build_t *b, const int32_t *terms, int n)
{
    range_t *r = apr_array_push(b->rows);
    int i;
    r->first = b->terms->nelts;
    r->n = n;
    for (i = 0; i < n; i++) APR_ARRAY_PUSH(b->terms, int32_t) = terms[i];
}

/* Every matcher is a substring test (a Vectorscan pattern open on both
 * sides) or "present": matching the full target (cs-uri) then equals
 * matching any of its parts. */
static int all_unanchored(apr_array_header_t **vms, int nv)
{
    int i, k;
    for (i = 0; i < nv; i++)
        for (k = 0; k < vms[i]->nelts; k++) {
            const mdesc_t *m = &APR_ARRAY_IDX(vms[i], k, mdesc_t);
            if (m->kind == M_DIRECT && m->d.kind == D_PRESENT) continue;
            if ((m->kind != M_HS && !m->split) || !m->open_s || !m->open_e) return 0;
        }
    return 1;
}

/* The fields an item is matched on (iw_field_slots).  Slots are about
 * where a text is found: existence, null, numbers, time and field
 * references concern the named field itself.  Substring items on a
 * slotted field need only cs-uri, which holds the stem and the query. */
static int item_fields(const iw_item_t *it, int field, unsigned mods,
                       apr_array_header_t **vms, int nv, int *fields)
{
    iw_field_id_t slots[MAX_SLOTS];
    int n = iw_field_slots((iw_field_id_t)field, slots, MAX_SLOTS), i;

    if (mods & (IW_MOD_EXISTS | IW_MOD_FIELDREF | IW_MOD_LT | IW_MOD_LTE | IW_MOD_GT
                | IW_MOD_GTE | IW_MOD_MINUTE | IW_MOD_HOUR | IW_MOD_DAY | IW_MOD_WEEK
                | IW_MOD_MONTH | IW_MOD_YEAR))
        n = 1;
    for (i = 0; i < nv; i++)
        if (APR_ARRAY_IDX(it->values, i, iw_value_t).type == IW_VAL_NULL) n = 1;
    if (n > 1 && all_unanchored(vms, nv))
        for (i = 0; i < n; i++)
            if (slots[i] == IW_F_CS_URI) { slots[0] = IW_F_CS_URI; n = 1; break; }
    for (i = 0; i < n; i++) fields[i] = slots[i];
    return n;
}

static int compile_item(build_t *b, const iw_item_t *it)
{
    int field = it->field < 0 ? IW_F_RAW : it->field;
    unsigned mods = it->mods;
    int fields[MAX_SLOTS], nslots, neg, all, i, k, nv;
    apr_array_header_t **vms;
    citem_t *ci;

    if (it->field < 0 && it->field_name) {
        iw_engine__berr(b, it->line, it->col, "unknown field '%s'", it->field_name);
        return -1;
    }
    if (field >= IW_F__COUNT) {
        iw_engine__berr(b, it->line, it->col, "bad field id %d", field);
        return -1;
    }
    if (it->field < 0) mods |= IW_MOD_CONTAINS;   /* keywords: full-text */
    nv = it->values ? it->values->nelts : 0;
    if (!nv) {
        iw_engine__berr(b, it->line, it->col, "item without values");
        return -1;
    }
    neg = (mods & IW_MOD_NEQ) != 0;
    all = (mods & IW_MOD_ALL) && nv > 1;
    vms = apr_pcalloc(b->tp, sizeof(*vms) * (size_t)nv);
    for (i = 0; i < nv; i++) {
        vms[i] = apr_array_make(b->tp, 2, sizeof(mdesc_t));
        if (iw_engine__value_matchers(b, vms[i], it, mods, &APR_ARRAY_IDX(it->values, i, iw_value_t), field) < 0)
            return -1;
    }
    nslots = item_fields(it, field, mods, vms, nv, fields);
    b->vline = it->line;
    b->vcol = it->col;
    ci = apr_array_push(b->items);
    ci->field = field;
    ci->rows.first = b->rows->nelts;
    if (!all && !neg) {
        /* one predicate for the whole item: any value on any slot */
        apr_array_header_t *ms = apr_array_make(b->tp, nv, sizeof(mdesc_t));
        int32_t t;
        for (i = 0; i < nv; i++) apr_array_cat(ms, vms[i]);
        t = pred_for(b, ms, fields, nslots) << 1;
        row_push(b, &t, 1);
    } else if (neg) {
        /* |neq: the value is found in none of the slots; values OR (AND
         * with |all) */
        int32_t *terms = apr_palloc(b->tp, sizeof(int32_t) * (size_t)nv);
        for (i = 0; i < nv; i++) {
            terms[i] = pred_for(b, vms[i], fields, nslots) << 1 | 1;
            if (!all) row_push(b, &terms[i], 1);
        }
        if (all) row_push(b, terms, nv);
    } else {
        /* |all: every value on the same slot */
        int32_t *terms = apr_palloc(b->tp, sizeof(int32_t) * (size_t)nv);
        for (k = 0; k < nslots; k++) {
            for (i = 0; i < nv; i++) {
                terms[i] = pred_for(b, vms[i], &fields[k], 1) << 1;
            }
            row_push(b, terms, nv);
        }
    }
    ci = &APR_ARRAY_IDX(b->items, b->items->nelts - 1, citem_t);
    ci->rows.n = b->rows->nelts - ci->rows.first;
    return 0;
}

/* compile_item pushes exactly one citem per item compiled, so the items of
 * a group are contiguous in b->items. */
static int compile_selection(build_t *b, const iw_selection_t *sel)
{
    int g, i, first_group, errs = b->errors;
    apr_array_header_t *granges = apr_array_make(b->tp, 4, sizeof(range_t));
    range_t *sr;

    if (!sel->groups || !sel->groups->nelts) {
        iw_engine__berr(b, sel->line, sel->col, "selection '%s' is empty", sel->name ? sel->name : "?");
        return -1;
    }
    /* compile every item (appends to b->items), remember ranges */
    for (g = 0; g < sel->groups->nelts; g++) {
        const iw_group_t *gr = &APR_ARRAY_IDX(sel->groups, g, iw_group_t);
        range_t *r = apr_array_push(granges);
        r->first = b->items->nelts;
        r->n = 0;
        for (i = 0; gr->items && i < gr->items->nelts; i++)
            if (compile_item(b, &APR_ARRAY_IDX(gr->items, i, iw_item_t)) == 0)
                r->n++;   /* on error keep going: report every bad item */
    }
    if (b->errors != errs) return -1;
    first_group = b->groups->nelts;
    for (g = 0; g < granges->nelts; g++)
        APR_ARRAY_PUSH(b->groups, range_t) = APR_ARRAY_IDX(granges, g, range_t);
    sr = apr_array_push(b->sels);
    sr->first = first_group;
    sr->n = granges->nelts;
    return 0;
}

/* ---- conditions ----------------------------------------------------------- */

static int32_t compile_cond(build_t *b, const iw_rules_cond_t *c, const int32_t *selmap,
                            int nsel, int depth)
{
    cnode_t node;
    int32_t *kidv, idx;
    int i, nk;

    if (!c || depth > MAX_COND_DEPTH) {
        iw_engine__berr(b, b->rule ? b->rule->line : 0, 0, c ? "condition nested too deeply"
                                                  : "missing condition");
        return -1;
    }
    memset(&node, 0, sizeof(node));
    switch (c->type) {
    case IW_RULES_COND_SEL:
        if (c->sel < 0 || c->sel >= nsel || selmap[c->sel] < 0) {
            iw_engine__berr(b, b->rule ? b->rule->line : 0, 0, "condition refers to a bad selection");
            return -1;
        }
        node.type = N_SEL;
        node.a = selmap[c->sel];
        break;
    case IW_RULES_COND_AND: case IW_RULES_COND_OR: case IW_RULES_COND_NOT:
        nk = c->type == IW_RULES_COND_NOT ? 1 : c->nkids;
        if (nk < 1 || !c->kids) {
            iw_engine__berr(b, b->rule ? b->rule->line : 0, 0, "empty condition operator");
            return -1;
        }
        kidv = apr_palloc(b->tp, sizeof(int32_t) * (size_t)nk);
        for (i = 0; i < nk; i++)
            if ((kidv[i] = compile_cond(b, c->kids[i], selmap, nsel, depth + 1)) < 0)
                return -1;
        node.type = c->type == IW_RULES_COND_AND ? N_AND : c->type == IW_RULES_COND_OR ? N_OR : N_NOT;
        node.a = b->kids->nelts;
        node.n = nk;
        for (i = 0; i < nk; i++) APR_ARRAY_PUSH(b->kids, int32_t) = kidv[i];
        break;
    default:
        iw_engine__berr(b, b->rule ? b->rule->line : 0, 0, "bad condition node");
        return -1;
    }
    idx = b->nodes->nelts;
    APR_ARRAY_PUSH(b->nodes, cnode_t) = node;
    return idx;
}

static void mark_used(const iw_rules_cond_t *c, char *used, int nsel, int depth)
{
    int i;
    if (!c || depth > MAX_COND_DEPTH) return;
    if (c->type == IW_RULES_COND_SEL) {
        if (c->sel >= 0 && c->sel < nsel) used[c->sel] = 1;
        return;
    }
    for (i = 0; c->kids && i < (c->type == IW_RULES_COND_NOT ? 1 : c->nkids); i++)
        mark_used(c->kids[i], used, nsel, depth + 1);
}

/* Compile one detection or filter rule; returns its crule index or -1. */
static int compile_rule(build_t *b, const iw_rule_t *r, unsigned types)
{
    int nsel = r->selections ? r->selections->nelts : 0, i, errs = b->errors;
    int32_t *selmap = apr_palloc(b->tp, sizeof(int32_t) * (size_t)(nsel + 1));
    char *used = apr_pcalloc(b->tp, (size_t)nsel + 1);
    crule_t cr;
    int32_t root;

    b->rule = r;
    b->types = types;
    if (!r->cond) {
        iw_engine__berr(b, r->line, 0, "rule has no condition");
        return -1;
    }
    mark_used(r->cond, used, nsel, 0);
    for (i = 0; i < nsel; i++) {
        selmap[i] = -1;
        if (!used[i]) continue;
        if (compile_selection(b, &APR_ARRAY_IDX(r->selections, i, iw_selection_t)) == 0)
            selmap[i] = b->sels->nelts - 1;
    }
    if (b->errors != errs) return -1;
    if ((root = compile_cond(b, r->cond, selmap, nsel, 0)) < 0) return -1;
    memset(&cr, 0, sizeof(cr));
    cr.rule = r;
    cr.root = root;
    cr.applies = types;
    APR_ARRAY_PUSH(b->crules, crule_t) = cr;
    return b->crules->nelts - 1;
}

/* ---- candidate triggers --------------------------------------------------- */

/* Trigger set of a sub-condition: predicates one of which must be set for
 * it to be true (always = it can be true with no predicate set). */
typedef struct trig { int always; double w; apr_array_header_t *preds; } trig_t;

static trig_t trig_always(void) { trig_t t = { 1, 1.0, NULL }; return t; }

static void trig_union(build_t *b, trig_t *acc, const trig_t *t)
{
    if (acc->always) return;
    if (t->always) { *acc = trig_always(); return; }
    if (!acc->preds) acc->preds = apr_array_make(b->tp, 4, sizeof(int32_t));
    apr_array_cat(acc->preds, t->preds);
    acc->w += t->w;
}

static trig_t trig_item(build_t *b, const citem_t *it)
{
    trig_t t = { 0, 0, apr_array_make(b->tp, 2, sizeof(int32_t)) };
    int r, k;
    for (r = 0; r < it->rows.n; r++) {
        const range_t *row = &APR_ARRAY_IDX(b->rows, it->rows.first + r, range_t);
        int32_t best = -1;
        double bw = 2;
        for (k = 0; k < row->n; k++) {
            int32_t term = APR_ARRAY_IDX(b->terms, row->first + k, int32_t);
            double w = APR_ARRAY_IDX(b->predw, term >> 1, double);
            if (!(term & 1) && w < bw) { bw = w; best = term >> 1; }
        }
        if (best < 0) return trig_always();
        APR_ARRAY_PUSH(t.preds, int32_t) = best;
        t.w += bw;
    }
    return t;
}

static trig_t trig_sel(build_t *b, int32_t sel)
{
    const range_t *sr = &APR_ARRAY_IDX(b->sels, sel, range_t);
    trig_t acc = { 0, 0, NULL };
    int g, i;
    for (g = 0; g < sr->n; g++) {
        const range_t *gr = &APR_ARRAY_IDX(b->groups, sr->first + g, range_t);
        trig_t best = trig_always();
        for (i = 0; i < gr->n; i++) {
            trig_t t = trig_item(b, &APR_ARRAY_IDX(b->items, gr->first + i, citem_t));
            if (!t.always && (best.always || t.w < best.w)) best = t;
        }
        trig_union(b, &acc, &best);
        if (acc.always) break;
    }
    if (!acc.preds && !acc.always) acc = trig_always();
    return acc;
}

static trig_t trig_node(build_t *b, int32_t ni)
{
    const cnode_t *n = &APR_ARRAY_IDX(b->nodes, ni, cnode_t);
    trig_t acc = { 0, 0, NULL }, best = trig_always();
    int i;
    switch (n->type) {
    case N_SEL:
        return trig_sel(b, n->a);
    case N_AND:
        for (i = 0; i < n->n; i++) {
            trig_t t = trig_node(b, APR_ARRAY_IDX(b->kids, n->a + i, int32_t));
            if (!t.always && (best.always || t.w < best.w)) best = t;
        }
        return best;
    case N_OR:
        for (i = 0; i < n->n && !acc.always; i++) {
            trig_t t = trig_node(b, APR_ARRAY_IDX(b->kids, n->a + i, int32_t));
            trig_union(b, &acc, &t);
        }
        return acc.preds || acc.always ? acc : trig_always();
    default:
        return trig_always();
    }
}

static void build_triggers(build_t *b)
{
    iw_engine_t *e = b->e;
    int np = b->predw->nelts, r, i;
    int32_t *count = apr_pcalloc(b->tp, sizeof(int32_t) * (size_t)(np + 1));
    int32_t *fill;
    apr_array_header_t **sets = apr_pcalloc(b->tp, sizeof(void *) * (size_t)(e->nrules + 1));

    for (r = 0; r < e->nrules; r++) {
        trig_t t = trig_node(b, APR_ARRAY_IDX(b->crules, r, crule_t).root);
        if (t.always) {
            APR_ARRAY_PUSH(b->always, int32_t) = r;
            continue;
        }
        sets[r] = t.preds;
        for (i = 0; i < t.preds->nelts; i++) count[APR_ARRAY_IDX(t.preds, i, int32_t)]++;
    }
    e->trig_first = apr_palloc(b->p, sizeof(int32_t) * (size_t)(np + 1));
    fill = apr_palloc(b->tp, sizeof(int32_t) * (size_t)(np + 1));
    e->trig_first[0] = 0;
    for (i = 0; i < np; i++) e->trig_first[i + 1] = e->trig_first[i] + count[i];
    e->trig_rules = apr_palloc(b->p, sizeof(int32_t) * (size_t)(e->trig_first[np] + 1));
    memcpy(fill, e->trig_first, sizeof(int32_t) * (size_t)(np + 1));
    for (r = 0; r < e->nrules; r++) {
        if (!sets[r]) continue;
        for (i = 0; i < sets[r]->nelts; i++) {
            int32_t p = APR_ARRAY_IDX(sets[r], i, int32_t);
            /* a rule may list the same predicate twice */
            if (fill[p] > e->trig_first[p] && e->trig_rules[fill[p] - 1] == r) continue;
            e->trig_rules[fill[p]++] = r;
        }
    }
    /* duplicates skipped above leave holes: compact by re-running counts */
    for (i = 0; i < np; i++) count[i] = fill[i] - e->trig_first[i];
    {
        int32_t *tr = apr_palloc(b->p, sizeof(int32_t) * (size_t)(e->trig_first[np] + 1));
        int32_t *tf = apr_palloc(b->p, sizeof(int32_t) * (size_t)(np + 1));
        tf[0] = 0;
        for (i = 0; i < np; i++) {
            memcpy(tr + tf[i], e->trig_rules + e->trig_first[i], sizeof(int32_t) * (size_t)count[i]);
            tf[i + 1] = tf[i] + count[i];
        }
        e->trig_rules = tr;
        e->trig_first = tf;
    }
    e->always = (int32_t *)b->always->elts;
    e->nalways = b->always->nelts;
}

/* Field of each predicate's matchers: -1 none, -2 several fields, -3
 * several fields where the scan order is not the field order (a direct
 * check runs after all scans, a merged field is found inside _raw): the
 * lazy evaluation tries fields in field order, so that the field reported
 * as evidence is the one the scan would have set first. */
static void pred_fields(build_t *b, int32_t *pf, int np)
{
    int i;
    int32_t a;
    char *odd = apr_pcalloc(b->tp, (size_t)np + 1);
    for (i = 0; i < np; i++) pf[i] = -1;
    for (i = 0; i < b->dc->nelts; i++) {
        const dcheck_t *d = &APR_ARRAY_IDX(b->dc, i, dcheck_t);
        pf[d->pred] = pf[d->pred] == -1 || pf[d->pred] == d->field ? d->field : -2;
        odd[d->pred] = 1;
    }
    for (i = 0; i < b->pats->nelts; i++) {
        const pat_t *pt = &APR_ARRAY_IDX(b->pats, i, pat_t);
        for (a = pt->act_head; a >= 0; a = APR_ARRAY_IDX(b->acts, a, act_t).next) {
            int32_t v = APR_ARRAY_IDX(b->acts, a, act_t).value, rx = v < 0;
            if (rx) v = APR_ARRAY_IDX(b->rx, -1 - v, rxcheck_t).pred;
            pf[v] = pf[v] == -1 || pf[v] == pt->field ? pt->field : -2;
            if (iw_engine__merge_slot(pt->field) >= 0) odd[v] = 1;
            if ((!rx && (!pt->lb || !pt->ll)) || pt->dead) APR_ARRAY_IDX(b->pnl, v, char) = 1;
        }
    }
    for (i = 0; i < np; i++)
        if (pf[i] == -2 && odd[i]) pf[i] = -3;
}

/* The order of one lazy predicate's entries: by field; on a single-valued
 * field, exact literals first, shortest first (a value is one of a long
 * list, like the registered methods, after a few comparisons; which entry
 * sets the predicate does not matter there, the field is the evidence). */
static long lz_rank(const lazyent_t *z)
{
    int exact = z->dc < 0 && z->rx < 0 && !z->l.open_s && !z->l.open_e
                && !iw_field_is_multi((iw_field_id_t)z->field);
    return (long)z->field << 33 | (exact ? (long)z->l.len : 1L << 32);
}

/* Entries of one lazy predicate in that order (insertion sort: few). */
static void lz_sort(lazyent_t *z, int n)
{
    int i, j;
    for (i = 1; i < n; i++) {
        lazyent_t t = z[i];
        for (j = i; j > 0 && lz_rank(&z[j - 1]) > lz_rank(&t); j--) z[j] = z[j - 1];
        z[j] = t;
    }
}

/* Direct checks of lazy predicates move out of the per-event list. */
static void split_dchecks(build_t *b, const char *lz)
{
    apr_array_header_t *ldc = apr_array_make(b->p, 8, sizeof(dcheck_t));
    int i, k = 0;
    for (i = 0; i < b->dc->nelts; i++) {
        dcheck_t d = APR_ARRAY_IDX(b->dc, i, dcheck_t);
        if (lz[d.pred]) APR_ARRAY_PUSH(ldc, dcheck_t) = d;
        else APR_ARRAY_IDX(b->dc, k++, dcheck_t) = d;
    }
    b->dc->nelts = k;
    b->e->ldc = (dcheck_t *)ldc->elts;
    b->e->nldc = ldc->nelts;
}

/* Lazy predicates (see lazyent_t): not a trigger of any rule, every
 * matcher a plain literal or a direct check (see pred_fields).  A pattern
 * serving only such predicates leaves the scan.  Needs the triggers. */
static void plan_lazy(build_t *b)
{
    iw_engine_t *e = b->e;
    int np = b->predw->nelts, i;
    int32_t *pf = apr_palloc(b->tp, sizeof(int32_t) * (size_t)(np + 1));
    int32_t *fill, a;
    char *lz = apr_pcalloc(b->tp, (size_t)np + 1);

    e->lazy = apr_pcalloc(b->p, sizeof(uint64_t) * (size_t)(np / 64 + 1));
    e->lz_first = apr_pcalloc(b->p, sizeof(int32_t) * (size_t)(np + 1));
    pred_fields(b, pf, np);
    for (i = 0; i < np; i++)
        if (!APR_ARRAY_IDX(b->pnl, i, char) && pf[i] != -1 && pf[i] != -3
            && e->trig_first[i + 1] == e->trig_first[i]) {
            lz[i] = 1;
            e->lazy[i >> 6] |= (uint64_t)1 << (i & 63);
        }
    for (i = 0; i < b->pats->nelts; i++) {
        pat_t *pt = &APR_ARRAY_IDX(b->pats, i, pat_t);
        int all = pt->act_head >= 0;
        for (a = pt->act_head; a >= 0; a = APR_ARRAY_IDX(b->acts, a, act_t).next) {
            int32_t v = APR_ARRAY_IDX(b->acts, a, act_t).value;
            if (v < 0) v = APR_ARRAY_IDX(b->rx, -1 - v, rxcheck_t).pred;
            if (lz[v]) e->lz_first[v + 1]++;
            else all = 0;
        }
        pt->lazy = all;
    }
    split_dchecks(b, lz);
    for (i = 0; i < e->nldc; i++) e->lz_first[e->ldc[i].pred + 1]++;
    for (i = 0; i < np; i++) e->lz_first[i + 1] += e->lz_first[i];
    e->nlazy = e->lz_first[np];
    e->lz = apr_pcalloc(b->p, sizeof(lazyent_t) * (size_t)(e->nlazy + 1));
    fill = apr_pmemdup(b->tp, e->lz_first, sizeof(int32_t) * (size_t)(np + 1));
    for (i = 0; i < b->pats->nelts; i++) {
        const pat_t *pt = &APR_ARRAY_IDX(b->pats, i, pat_t);
        for (a = pt->act_head; a >= 0; a = APR_ARRAY_IDX(b->acts, a, act_t).next) {
            int32_t v = APR_ARRAY_IDX(b->acts, a, act_t).value, rx = -1;
            lazyent_t *z;
            if (v < 0) rx = -1 - v, v = APR_ARRAY_IDX(b->rx, rx, rxcheck_t).pred;
            if (!lz[v]) continue;
            z = &e->lz[fill[v]++];
            z->field = pt->field;
            z->dc = -1;
            z->rx = rx;
            z->l.id = i;
            if (rx >= 0) continue;
            z->l.b = pt->lb;
            z->l.len = (uint32_t)pt->ll;
            z->l.open_s = (uint8_t)pt->open_s;
            z->l.open_e = (uint8_t)pt->open_e;
            z->l.caseless = (pt->flags & HS_FLAG_CASELESS) != 0;
        }
    }
    for (i = 0; i < e->nldc; i++) {
        lazyent_t *z = &e->lz[fill[e->ldc[i].pred]++];
        z->field = e->ldc[i].field;
        z->dc = i;
        z->rx = -1;
    }
    e->lzlit = apr_palloc(b->p, (size_t)np + 1);
    memset(e->lzlit, -1, (size_t)np + 1);
    for (i = 0; i < np; i++) {
        if (!lz[i]) continue;
        lz_sort(e->lz + e->lz_first[i], e->lz_first[i + 1] - e->lz_first[i]);
        if (iw_engine__lazy_lit_only(e, i)) e->lzlit[i] = (int8_t)e->lz[e->lz_first[i]].field;
    }
}

/* ---- Vectorscan databases ------------------------------------------------- */

static void extab_build(build_t *b, extab_t *x, apr_array_header_t *ids)
{
    uint32_t size = 4;
    int i;
    if (!ids->nelts) return;
    while (size < (uint32_t)ids->nelts * 2) size <<= 1;
    x->t = apr_pcalloc(b->p, sizeof(exent_t) * size);
    x->mask = size - 1;
    for (i = 0; i < ids->nelts; i++) {
        const pat_t *pt = &APR_ARRAY_IDX(b->pats, APR_ARRAY_IDX(ids, i, unsigned), pat_t);
        uint64_t h = iw_engine__hash_bytes(pt->lb, pt->ll, 0);  /* lb is lower-cased already */
        uint32_t k = (uint32_t)h & x->mask;
        while (x->t[k].b) k = (k + 1) & x->mask;
        x->t[k].h = h;
        x->t[k].b = pt->lb;
        x->t[k].len = (uint32_t)pt->ll;
        x->t[k].id = (int32_t)APR_ARRAY_IDX(ids, i, unsigned);
        if (pt->ll > x->maxlen) x->maxlen = (uint32_t)pt->ll;
        if (pt->ll < 256) x->lens[pt->ll >> 6] |= (uint64_t)1 << (pt->ll & 63);
        else x->long_values = 1;
    }
    x->n = ids->nelts;
}

static void lit_push(build_t *b, const pat_t *pt, unsigned id)
{
    litpat_t *l = apr_array_push(b->lits);
    l->b = pt->lb;
    l->len = (uint32_t)pt->ll;
    l->open_s = (uint8_t)pt->open_s;
    l->open_e = (uint8_t)pt->open_e;
    l->caseless = (pt->flags & HS_FLAG_CASELESS) != 0;
    l->id = (int32_t)id;
}

/* Split the patterns of one field into exact-value tables, compared
 * literals and a Vectorscan database: a Vectorscan call costs ~50-100 ns
 * even on a few bytes, and anchored exact values slow a database down. */
static int compile_field(build_t *b, int ti, int field)
{
    unsigned type = ti ? IW_EV_ERROR : IW_EV_ACCESS;
    fieldm_t *fm = &b->e->fm[ti][field];
    apr_array_header_t *all = apr_array_make(b->tp, 16, sizeof(unsigned));
    apr_array_header_t *ex[2], *affix, *contains, *hs;
    int i, rc = 0;

    for (i = 0; i < b->pats->nelts; i++) {
        pat_t *pt = &APR_ARRAY_IDX(b->pats, i, pat_t);
        if (pt->field == field && (pt->types & type) && !pt->dead && !pt->lazy)
            APR_ARRAY_PUSH(all, unsigned) = (unsigned)i;
    }
    if (!all->nelts) return 0;
    ex[0] = apr_array_make(b->tp, 4, sizeof(unsigned));
    ex[1] = apr_array_make(b->tp, 4, sizeof(unsigned));
    affix = apr_array_make(b->tp, 4, sizeof(unsigned));
    contains = apr_array_make(b->tp, 4, sizeof(unsigned));
    hs = apr_array_make(b->tp, 16, sizeof(unsigned));
    for (i = 0; i < all->nelts; i++) {
        unsigned id = APR_ARRAY_IDX(all, i, unsigned);
        const pat_t *pt = &APR_ARRAY_IDX(b->pats, id, pat_t);
        if (!pt->lb) APR_ARRAY_PUSH(hs, unsigned) = id;
        else if (!pt->open_s && !pt->open_e)
            APR_ARRAY_PUSH(ex[(pt->flags & HS_FLAG_CASELESS) ? 0 : 1], unsigned) = id;
        else if (pt->open_s && pt->open_e) APR_ARRAY_PUSH(contains, unsigned) = id;
        else APR_ARRAY_PUSH(affix, unsigned) = id;
    }
    if (affix->nelts > LIT_MAX_AFFIX) { apr_array_cat(hs, affix); affix->nelts = 0; }
    fm->merged = !ti && b->e->merge && iw_engine__merge_slot(field) >= 0;
    fm->small = !fm->merged && !hs->nelts && contains->nelts <= LIT_MAX_CONTAINS
                && !(!ti && field == IW_F_RAW && b->e->merge);   /* _raw carries merged literals */
    if (fm->merged) {
        /* without the merged literals, for events whose segment is found */
        apr_array_header_t *rest = apr_array_make(b->tp, 8, sizeof(unsigned));
        for (i = 0; i < hs->nelts; i++)
            if (!APR_ARRAY_IDX(b->pats, APR_ARRAY_IDX(hs, i, unsigned), pat_t).conf)
                APR_ARRAY_PUSH(rest, unsigned) = APR_ARRAY_IDX(hs, i, unsigned);
        if (rest->nelts && (rc = iw_engine__hsdb_field(b, rest, field, &fm->rest, &fm->rest_minw, NULL)) == 0 && fm->rest)
            b->e->ndbs++;
    }
    if (!ti && field == IW_F_RAW && b->e->merge)
        for (i = 0; i < b->conf->nelts; i++)
            APR_ARRAY_PUSH(hs, unsigned) = (unsigned)(b->pats->nelts + i);
    if (!ti && (field == IW_F_CS_HEADERS || field == IW_F_RAW) && b->e->raw_split) {
        fm->small = 0;
        iw_engine__raw_split_ids(b, field, hs);
    }
    fm->lits.first = b->lits->nelts;
    for (i = 0; i < affix->nelts; i++) {
        unsigned id = APR_ARRAY_IDX(affix, i, unsigned);
        lit_push(b, &APR_ARRAY_IDX(b->pats, id, pat_t), id);
    }
    for (i = 0; fm->small && i < contains->nelts; i++) {
        unsigned id = APR_ARRAY_IDX(contains, i, unsigned);
        lit_push(b, &APR_ARRAY_IDX(b->pats, id, pat_t), id);
    }
    fm->lits.n = b->lits->nelts - fm->lits.first;
    /* contains literals stay in the database for long values */
    apr_array_cat(hs, contains);
    if (hs->nelts) {
        iw_engine__exact_regexes(b, hs);
        int uri = !ti && (field == IW_F_CS_URI || field == IW_F_CS_URI_DEC);
        hsdb_parts_t parts = { NULL, NULL, NULL };
        rc = iw_engine__hsdb_field(b, hs, field, &fm->db, &fm->db_minw, uri ? &parts : NULL);
        if (fm->db) b->e->ndbs++;
        if (fm->db && !rc && uri) b->uhs[field == IW_F_CS_URI_DEC] = parts;
        /* not an access event's _raw (never plain: the request line's spaces) */
        if (fm->db && !rc && !fm->merged && !(!ti && field == IW_F_RAW))
            iw_engine__hsdb_plain(b, fm, field, hs);
        if (fm->db && !rc && !ti && !fm->merged) iw_engine__hsdb_lines(b, fm, field, hs);
        if ((fm->db || fm->rest) && !rc) iw_engine__gate_build(b, fm, hs);
    }
    extab_build(b, &fm->ex[0], ex[0]);
    extab_build(b, &fm->ex[1], ex[1]);
    if (fm->db || fm->lits.n || fm->ex[0].n || fm->ex[1].n)
        b->e->scan_fields[ti][b->e->nscan[ti]++] = field;
    return rc;
}

/* Decide the merged scan: only when _raw is scanned anyway (keywords). */
static void plan_merge(build_t *b)
{
    int i, raw = 0;
    for (i = 0; i < b->pats->nelts; i++) {
        const pat_t *pt = &APR_ARRAY_IDX(b->pats, i, pat_t);
        if (pt->field == IW_F_RAW && (pt->types & IW_EV_ACCESS) && !pt->dead && !pt->lazy)
            raw = 1;
    }
    if (!raw || iw_engine__raw_split_plan(b)) return;
    b->e->merge = 1;
    for (i = 0; i < b->pats->nelts; i++) {
        pat_t *pt = &APR_ARRAY_IDX(b->pats, i, pat_t);
        int slot = iw_engine__merge_slot(pt->field);
        confent_t *c;
        if (slot < 0 || !(pt->types & IW_EV_ACCESS) || pt->dead || pt->lazy || !pt->lb
            || !pt->open_s || !pt->open_e)
            continue;
        pt->conf = 1;
        c = apr_array_push(b->conf);
        c->pat = i;
        c->field = pt->field;
        c->len = (int32_t)pt->ll;
        c->slot = slot;
        c->host = IW_F_RAW;
    }
}

static void build_actions(build_t *b)
{
    iw_engine_t *e = b->e;
    int np = b->pats->nelts, i, k = 0;
    e->pat_act_first = apr_palloc(b->p, sizeof(int32_t) * (size_t)(np + 1));
    e->acts = apr_palloc(b->p, sizeof(int32_t) * (size_t)(b->acts->nelts + 1));
    for (i = 0; i < np; i++) {
        const pat_t *pt = &APR_ARRAY_IDX(b->pats, i, pat_t);
        int32_t a = pt->act_head, v;
        e->pat_act_first[i] = k;
        for (; a >= 0; a = APR_ARRAY_IDX(b->acts, a, act_t).next) {
            v = APR_ARRAY_IDX(b->acts, a, act_t).value;
            /* an exact regex's report is its match (exact_regexes) */
            e->acts[k++] = v < 0 && pt->exact ? APR_ARRAY_IDX(b->rx, -1 - v, rxcheck_t).pred : v;
        }
    }
    e->pat_act_first[np] = k;
}

static apr_status_t engine_cleanup(void *data)
{
    iw_engine_t *e = data;
    int t, f, i;
    for (t = 0; t < NTYPES; t++)
        for (f = 0; f < IW_F__COUNT; f++) {
            fieldm_t *fm = &e->fm[t][f];
            if (fm->db) { hs_free_database(fm->db); fm->db = NULL; }
            if (fm->rest) { hs_free_database(fm->rest); fm->rest = NULL; }
            if (fm->plain) { hs_free_database(fm->plain); fm->plain = NULL; }
            if (fm->hl) {
                if (fm->hl->line_db) hs_free_database(fm->hl->line_db);
                if (fm->hl->block_db) hs_free_database(fm->hl->block_db);
                fm->hl = NULL;
            }
        }
    for (i = 0; i < 3; i++)
        if (e->uri_both[i]) { hs_free_database(e->uri_both[i]); e->uri_both[i] = NULL; }
    for (f = 0; f < IW_F__COUNT; f++) { iw_match_radix_destroy(e->radix[f]); e->radix[f] = NULL; }
    if (e->proto) { hs_free_scratch(e->proto); e->proto = NULL; }
    for (i = 0; e->codes && i < e->codes->nelts; i++)
        pcre2_code_free(APR_ARRAY_IDX(e->codes, i, pcre2_code *));
    if (e->codes) e->codes->nelts = 0;
    return APR_SUCCESS;
}

/* ---- compile ---------------------------------------------------------------- */

static int dcheck_cmp(const void *a, const void *b)
{
    const dcheck_t *x = a, *y = b;
    int c = iw_engine__dcheck_key_cmp(x, y);
    return c ? c : x->pred < y->pred ? -1 : x->pred > y->pred;
}

/* Runs of equality checks of one single-valued number field (sorted by
 * value: dcheck_cmp) of more than one test: scan_event answers a run with
 * one walk (iw_engine__eq_run_first), run on its first check. */
static void eq_runs(iw_engine_t *e)
{
    int i, j;
    for (i = 0; i < e->ndc; i = j) {
        const dcheck_t *d = &e->dc[i];
        int eq = d->kind == D_NUM && d->op == OP_EQ && !iw_field_is_multi(d->field);
        for (j = i + 1; eq && j < e->ndc && e->dc[j].field == d->field && e->dc[j].kind == D_NUM
             && e->dc[j].op == OP_EQ; j++)
            ;
        if (!eq) j = i + 1;
        else if (d->end < j) e->dc[i].run = j;
    }
}

/* Left out of the compiled engine: rules excluded by id, and rules below
 * min_level that feed no correlation.  A rule that feeds one is compiled
 * whatever its level (feeders are mostly informational): a level
 * threshold filters alerts, the caller drops the rule's own alert. */
static int excluded(const iw_rule_t *r, const iw_engine_opts_t *o)
{
    int i;
    if (!o) return 0;
    if (o->min_level != IW_LEVEL_NONE && r->level < o->min_level
        && !(r->feeds && r->feeds->nelts)) return 1;
    for (i = 0; o->exclude_ids && r->id && i < o->exclude_ids->nelts; i++)
        if (!strcmp(APR_ARRAY_IDX(o->exclude_ids, i, const char *), r->id)) return 1;
    return 0;
}

static unsigned rule_types(const iw_rule_t *r)
{
    unsigned t = r->applies_to & ALL_TYPES;
    return t ? t : ALL_TYPES;
}

/* Filters: each referenced filter rule compiled once, after the detection
 * rules, with the union of the types of the rules it applies to. */
static void compile_filters(build_t *b, apr_hash_t *fidx)
{
    int r, i, nrules = b->e->nrules;
    apr_array_header_t *lists = apr_array_make(b->tp, nrules, sizeof(void *));

    for (r = 0; r < nrules; r++) {
        crule_t *cr = &APR_ARRAY_IDX(b->crules, r, crule_t);
        apr_array_header_t *l = apr_array_make(b->tp, 1, sizeof(int32_t));
        for (i = 0; cr->rule->filters && i < cr->rule->filters->nelts; i++) {
            const iw_rule_t *f = APR_ARRAY_IDX(cr->rule->filters, i, const iw_rule_t *);
            void *v = apr_hash_get(fidx, &f, sizeof(f));
            int ci;
            if (!f) continue;
            if (!v) {
                if ((ci = compile_rule(b, f, ALL_TYPES)) < 0) ci = -2;
                apr_hash_set(fidx, apr_pmemdup(b->tp, &f, sizeof(f)), sizeof(f),
                             (void *)(intptr_t)(ci + 3));
            } else {
                ci = (int)(intptr_t)v - 3;
            }
            if (ci >= 0) APR_ARRAY_PUSH(l, int32_t) = ci;
        }
        APR_ARRAY_PUSH(lists, void *) = l;
    }
    for (r = 0; r < nrules; r++) {
        crule_t *cr = &APR_ARRAY_IDX(b->crules, r, crule_t);
        apr_array_header_t *l = APR_ARRAY_IDX(lists, r, apr_array_header_t *);
        cr->filters.first = b->filt->nelts;
        cr->filters.n = l->nelts;
        apr_array_cat(b->filt, l);
    }
}

/* Build state and an empty engine whose cleanup frees what Vectorscan,
 * PCRE2 and the radix trees allocate outside the pool. */
static void build_init(build_t *b, apr_pool_t *p, iw_ruleset_t *rs, iw_diag_t *diag)
{
    iw_engine_t *e;

    memset(b, 0, sizeof(*b));
    b->p = p;
    apr_pool_create(&b->tp, p);
    b->diag = diag;
    b->rs = rs;
    e = b->e = apr_pcalloc(p, sizeof(*e));
    e->pool = p;
    e->rs = rs;
    e->codes = apr_array_make(p, 8, sizeof(pcre2_code *));
    apr_pool_cleanup_register(p, e, engine_cleanup, apr_pool_cleanup_null);
#define MK(a, type) b->a = apr_array_make(p, 64, sizeof(type))
    MK(crules, crule_t); MK(nodes, cnode_t); MK(kids, int32_t); MK(sels, range_t);
    MK(groups, range_t); MK(items, citem_t); MK(rows, range_t); MK(terms, int32_t);
    MK(filt, int32_t); MK(pats, pat_t); MK(acts, act_t); MK(rx, rxcheck_t);
    MK(rxall, rxalways_t); MK(dc, dcheck_t); MK(predw, double); MK(always, int32_t);
    MK(lits, litpat_t); MK(conf, confent_t); MK(pnl, char); MK(hl, hlact_t);
#undef MK
    b->pat_by_key = apr_hash_make(b->tp);
    b->pred_by_sig = apr_hash_make(b->tp);
}

/* A predicate, not lazy, that every group of selection sel needs as an
 * item of that one positive term (cnode_t, N_SEL), or -1. */
static int32_t sel_must(const iw_engine_t *e, int32_t sel)
{
    const range_t *sr = &e->sels[sel], *g0 = &e->groups[sr->first];
    int i, g, k;

    for (i = 0; sr->n && i < g0->n; i++) {
        int32_t t = e->items[g0->first + i].t1;
        if (t < 0 || (t & 1) || ((e->lazy[t >> 7] >> ((t >> 1) & 63)) & 1)) continue;
        for (g = 1; g < sr->n; g++) {
            const range_t *gr = &e->groups[sr->first + g];
            for (k = 0; k < gr->n && e->items[gr->first + k].t1 != t; k++) continue;
            if (k == gr->n) break;
        }
        if (g == sr->n) return t >> 1;
    }
    return -1;
}

/* Node ni as one term: a selection of one group of one item of one term
 * (eval_kid answers it with that term alone), or a not of such a node
 * (the term negated); else -1. */
static int32_t node_term(const iw_engine_t *e, int32_t ni)
{
    const cnode_t *n = &e->nodes[ni];
    const range_t *sr, *gr;
    int32_t t;

    if (n->type == N_NOT) return (t = node_term(e, e->kids[n->a])) < 0 ? -1 : t ^ 1;
    if (n->type != N_SEL) return -1;
    sr = &e->sels[n->a];
    if (sr->n != 1 || (gr = &e->groups[sr->first])->n != 1) return -1;
    return e->items[gr->first].t1;
}

/* cnode_t.f: an N_AND or N_OR of terms reads e->fterms, not its tree. */
static void flat_terms(build_t *b, iw_engine_t *e)
{
    apr_array_header_t *ft = apr_array_make(b->p, 16, sizeof(int32_t));
    int i, k;

    for (i = 0; i < b->nodes->nelts; i++) {
        cnode_t *n = &e->nodes[i];
        if (n->type != N_AND && n->type != N_OR) continue;
        for (k = 0; k < n->n && node_term(e, e->kids[n->a + k]) >= 0; k++)
            ;
        if (k < n->n) continue;
        n->f = ft->nelts + 1;
        for (k = 0; k < n->n; k++) APR_ARRAY_PUSH(ft, int32_t) = node_term(e, e->kids[n->a + k]);
    }
    e->fterms = (int32_t *)ft->elts;
}

/* The engine reads the build arrays in place (they live in the pool). */
static void engine_publish(build_t *b)
{
    iw_engine_t *e = b->e;
    e->rules = (crule_t *)b->crules->elts;
    e->ncrules = b->crules->nelts;
    e->nodes = (cnode_t *)b->nodes->elts;
    e->kids = (int32_t *)b->kids->elts;
    e->sels = (range_t *)b->sels->elts;
    e->groups = (range_t *)b->groups->elts;
    e->items = (citem_t *)b->items->elts;
    for (int i = 0; i < b->items->nelts; i++) {
        citem_t *it = &e->items[i];    /* the item's one term (eval_group) */
        const range_t *r = it->rows.n == 1 ? &((range_t *)b->rows->elts)[it->rows.first] : NULL;
        it->t1 = r && r->n == 1 ? ((int32_t *)b->terms->elts)[r->first] : -1;
    }
    e->rows = (range_t *)b->rows->elts;
    e->terms = (int32_t *)b->terms->elts;
    for (int i = 0; i < b->nodes->nelts; i++)
        if (e->nodes[i].type == N_SEL) e->nodes[i].n = sel_must(e, e->nodes[i].a);
    flat_terms(b, e);
    e->filt = (int32_t *)b->filt->elts;
    e->npreds = b->predw->nelts;
    e->rx = (rxcheck_t *)b->rx->elts;
    e->nrx = b->rx->nelts;
    e->rxall = (rxalways_t *)b->rxall->elts;
    e->nrxall = b->rxall->nelts;
    e->dc = (dcheck_t *)b->dc->elts;
    e->ndc = b->dc->nelts;
    qsort(e->dc, (size_t)e->ndc, sizeof(dcheck_t), dcheck_cmp);
    for (int i = e->ndc - 1; i >= 0; i--)      /* sorted: checks of one test stand together */
        e->dc[i].end = i + 1 < e->ndc && !iw_engine__dcheck_key_cmp(&e->dc[i], &e->dc[i + 1])
                       ? e->dc[i + 1].end : i + 1;
    eq_runs(e);
    e->lits = (litpat_t *)b->lits->elts;
    for (int t = 0; t < NTYPES; t++)
        for (int f = 0; f < IW_F__COUNT; f++) {
            fieldm_t *fm = &e->fm[t][f];
            for (int i = 0; i < fm->lits.n; i++) {
                const litpat_t *l = &e->lits[fm->lits.first + i];
                if (!l->len) continue;
                if (l->open_s && l->open_e) fm->lit_open = 1;
                else if (!l->open_s) fm->lit_first[l->b[0] >> 6] |= (uint64_t)1 << (l->b[0] & 63);
                else fm->lit_last[l->b[l->len - 1] >> 6] |= (uint64_t)1 << (l->b[l->len - 1] & 63);
            }
        }
    e->conf = (confent_t *)b->conf->elts;
    e->nconf = b->conf->nelts;
    e->npatterns = b->pats->nelts;
    e->hl = (hlact_t *)b->hl->elts;
    e->nhl = b->hl->nelts;
}

/* ---- readers: which rules read a predicate (evaluation errors) ------------ */

typedef struct rdwalk { int32_t *mark, rule, *out; int n; } rdwalk_t;

static void readers_node(const iw_engine_t *e, int32_t ni, rdwalk_t *w)
{
    const cnode_t *n = &e->nodes[ni];
    int g, i, r, k;
    if (n->type != N_SEL) {
        for (i = 0; i < n->n; i++) readers_node(e, e->kids[n->a + i], w);
        return;
    }
    for (g = 0; g < e->sels[n->a].n; g++) {
        const range_t *gr = &e->groups[e->sels[n->a].first + g];
        for (i = 0; i < gr->n; i++) {
            const citem_t *it = &e->items[gr->first + i];
            for (r = 0; r < it->rows.n; r++) {
                const range_t *row = &e->rows[it->rows.first + r];
                for (k = 0; k < row->n; k++) {
                    int32_t p = e->terms[row->first + k] >> 1;
                    if (w->mark[p] == w->rule + 1) continue;
                    w->mark[p] = w->rule + 1;
                    if (w->out) w->out[2 * w->n] = p, w->out[2 * w->n + 1] = w->rule;
                    w->n++;
                }
            }
        }
    }
}

/* rd_first/rd_rules: per predicate, the detection rules whose condition
 * or filters read it; pat_field: each pattern's field. */
static void build_readers(build_t *b)
{
    iw_engine_t *e = b->e;
    rdwalk_t w;
    int32_t r, i, *cnt;
    int pass;

    e->nrs = b->rs->rules->nelts;
    e->pat_field = apr_palloc(b->p, (size_t)e->npatterns + 1);
    for (i = 0; i < e->npatterns; i++)
        e->pat_field[i] = (int8_t)APR_ARRAY_IDX(b->pats, i, pat_t).field;
    w.mark = apr_pcalloc(b->tp, sizeof(int32_t) * ((size_t)e->npreds + 1));
    w.out = NULL;
    for (pass = 0; pass < 2; pass++) {      /* count, then fill */
        w.n = 0;
        for (i = 0; i < e->npreds; i++) w.mark[i] = 0;
        for (r = 0; r < e->nrules; r++) {
            const crule_t *cr = &e->rules[r];
            w.rule = r;
            readers_node(e, cr->root, &w);
            for (i = 0; i < cr->filters.n; i++)
                readers_node(e, e->rules[e->filt[cr->filters.first + i]].root, &w);
        }
        if (!pass) w.out = apr_palloc(b->tp, sizeof(int32_t) * 2 * ((size_t)w.n + 1));
    }
    cnt = apr_pcalloc(b->tp, sizeof(int32_t) * ((size_t)e->npreds + 1));
    for (i = 0; i < w.n; i++) cnt[w.out[2 * i]]++;
    e->rd_first = apr_palloc(b->p, sizeof(int32_t) * ((size_t)e->npreds + 1));
    e->rd_rules = apr_palloc(b->p, sizeof(int32_t) * ((size_t)w.n + 1));
    e->rd_first[0] = 0;
    for (i = 0; i < e->npreds; i++) e->rd_first[i + 1] = e->rd_first[i] + cnt[i];
    for (i = 0; i < e->npreds; i++) cnt[i] = e->rd_first[i];
    for (i = 0; i < w.n; i++) e->rd_rules[cnt[w.out[2 * i]]++] = w.out[2 * i + 1];
}

/* ---- event cache plan ---------------------------------------------------- */

static void read_field(iw_engine_t *e, unsigned types, int f)
{
    int t;
    for (t = 0; t < NTYPES; t++)
        if (types & (t ? IW_EV_ERROR : IW_EV_ACCESS)) e->evk_fields[t] |= FBIT(f);
}

static void read_dcheck(iw_engine_t *e, const dcheck_t *d, unsigned types)
{
    read_field(e, types, d->field);
    if (d->kind == D_FIELDREF) read_field(e, types, d->field2);
    if (d->kind == D_TIME) e->evk_time = 1;
}

/* The lazy views are functions of these (iw_event.c). */
static void expand_lazy(iw_engine_t *e)
{
    static const struct { int view; uint64_t from; int hdrs; } deps[] = {
        { IW_F_CS_HEADERS, 0, 1 },
        { IW_F_CS_HEADERS_DEC, 0, 1 },
        { IW_F_CS_HEADER_DEC, 0, 1 },
        { IW_F_RAW, FBIT(IW_F_CS_METHOD) | FBIT(IW_F_CS_URI) | FBIT(IW_F_CS_VERSION)
                    | FBIT(IW_F_SC_STATUS), 1 },
        { IW_F_CS_URI_DEC, FBIT(IW_F_CS_URI) | FBIT(IW_F_CS_URI_STEM)
                           | FBIT(IW_F_CS_URI_QUERY), 0 },
        { IW_F_CS_URI_STEM_DEC, FBIT(IW_F_CS_URI_STEM), 0 },
        { IW_F_CS_URI_QUERY_DEC, FBIT(IW_F_CS_URI_QUERY), 0 },
        { IW_F_CS_BODY_DEC, FBIT(IW_F_CS_BODY), 0 },
        /* per-parameter views: the query; the Cookie header, the body and
         * its Content-Type (the header list stands for both headers) */
        { IW_F_QP, FBIT(IW_F_CS_URI_QUERY), 0 },
        { IW_F_QP_NAME, FBIT(IW_F_CS_URI_QUERY), 0 },
        { IW_F_QP_VALUE, FBIT(IW_F_CS_URI_QUERY), 0 },
        { IW_F_CP, FBIT(IW_F_CS_COOKIE), 1 },
        { IW_F_CP_NAME, FBIT(IW_F_CS_COOKIE), 1 },
        { IW_F_CP_VALUE, FBIT(IW_F_CS_COOKIE), 1 },
        { IW_F_BP, FBIT(IW_F_CS_BODY) | FBIT(IW_F_CS_CONTENT_TYPE), 1 },
        { IW_F_BP_NAME, FBIT(IW_F_CS_BODY) | FBIT(IW_F_CS_CONTENT_TYPE), 1 },
        { IW_F_BP_VALUE, FBIT(IW_F_CS_BODY) | FBIT(IW_F_CS_CONTENT_TYPE), 1 },
        { IW_F_PARAMS_DROPPED, FBIT(IW_F_CS_URI_QUERY) | FBIT(IW_F_CS_COOKIE) | FBIT(IW_F_CS_BODY)
                               | FBIT(IW_F_CS_CONTENT_TYPE), 1 },
        /* the request's size (and the process's fixed limit) */
        { IW_F_IW_TRUNCATED, FBIT(IW_F_CS_METHOD) | FBIT(IW_F_CS_URI)
                             | FBIT(IW_F_CS_VERSION) | FBIT(IW_F_CS_BODY), 1 },
    };
    uint64_t *m = &e->evk_fields[0], when = FBIT(IW_F_DATE) | FBIT(IW_F_TIME);
    size_t k;
    int t;

    for (k = 0; k < sizeof(deps) / sizeof(deps[0]); k++) {
        if (!(*m & FBIT(deps[k].view))) continue;
        *m = (*m & ~FBIT(deps[k].view)) | deps[k].from;
        if (deps[k].hdrs) e->evk_hdrs[0] = 1;
    }
    /* both event types: "date" and "time" are text of the event's second */
    for (t = 0; t < NTYPES; t++) {
        if (!(e->evk_fields[t] & when)) continue;
        e->evk_fields[t] &= ~when;
        e->evk_secs[t] = 1;
    }
}

/* Which event data any matcher reads: the event cache keys on exactly
 * that (and on nothing else, so e.g. the time or request id do not spoil
 * it unless a rule reads them). */
static void plan_event_key(iw_engine_t *e)
{
    int t, i, k;

    for (t = 0; t < NTYPES; t++)
        for (i = 0; i < e->nscan[t]; i++)
            read_field(e, t ? IW_EV_ERROR : IW_EV_ACCESS, e->scan_fields[t][i]);
    for (i = 0; i < e->nrxall; i++) read_field(e, e->rxall[i].types, e->rxall[i].field);
    for (i = 0; i < e->nradix; i++)
        read_field(e, e->radix_types[e->radix_fields[i]], e->radix_fields[i]);
    for (i = 0; i < e->ndc; i++) read_dcheck(e, &e->dc[i], e->dc[i].types);
    for (i = 0; i < e->nldc; i++) read_dcheck(e, &e->ldc[i], ALL_TYPES);
    for (i = 0; i < e->nlazy; i++)
        if (e->lz[i].dc < 0) read_field(e, ALL_TYPES, e->lz[i].field);
    if (e->merge)                  /* merged scan: segments of these in _raw */
        for (k = 0; k < NMERGE; k++) read_field(e, IW_EV_ACCESS, merge_fields[k]);
    expand_lazy(e);
    iw_engine__plan_request_key(e);
}

iw_engine_t *iw_engine_compile(apr_pool_t *p, iw_ruleset_t *rs,
                               const iw_engine_opts_t *opts, iw_diag_t *diag)
{
    build_t bb, *b = &bb;
    iw_engine_t *e;
    int i, t, f;

    if (!rs || !rs->rules) return NULL;
    iw_vs_init();                      /* the scan implementation, before any database */
    build_init(b, p, rs, diag);
    b->hsc = opts ? opts->dbcache : NULL;
    e = b->e;
    e->sc_entries = !opts || !opts->scan_cache ? IW_ENGINE_MEMO_DEFAULT_ENTRIES
                    : opts->scan_cache < 0 ? 0 : (unsigned)opts->scan_cache;
    for (i = 0; i < rs->rules->nelts; i++) {
        const iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, const iw_rule_t *);
        if (!r || r->kind != IW_RULE_DETECTION || excluded(r, opts)) continue;
        compile_rule(b, r, rule_types(r));
    }
    e->nrules = b->crules->nelts;
    compile_filters(b, apr_hash_make(b->tp));
    b->rule = NULL;

    build_triggers(b);
    plan_lazy(b);
    plan_merge(b);
    for (t = 0; t < NTYPES; t++)
        for (f = 0; f < IW_F__COUNT; f++)
            if (compile_field(b, t, f) < 0 && !b->errors)
                iw_engine__berr(b, 0, 0, "Vectorscan scratch allocation failed");
    iw_engine__hsdb_uri_both(b);
    iw_engine__raw_split_check(b);
    for (f = 0; f < IW_F__COUNT; f++) {
        if (!e->radix[f]) continue;
        if (iw_match_radix_finalize(e->radix[f]) < 0) iw_engine__berr(b, 0, 0, "out of memory");
        e->radix_fields[e->nradix++] = f;
    }
    build_actions(b);
    engine_publish(b);
    build_readers(b);
    plan_event_key(e);
    apr_pool_destroy(b->tp);
    return b->errors ? NULL : e;
}

void iw_engine_stats(const iw_engine_t *e, iw_engine_stats_t *st)
{
    int f;
    memset(st, 0, sizeof(*st));
    if (!e) return;
    st->rules = e->nrules;
    st->filters = e->ncrules - e->nrules;
    st->predicates = e->npreds;
    st->patterns = e->npatterns;
    st->databases = e->ndbs;
    st->regexes = e->nrx;
    st->regexes_unfiltered = e->nrxall;
    st->direct_checks = e->ndc + e->nldc;   /* lazy ones included */
    for (f = 0; f < IW_F__COUNT; f++)
        if (e->radix[f]) st->cidr_nodes += (long)iw_match_radix_nodes(e->radix[f]);
    st->always_candidates = e->nalways;
    st->merged_literals = e->merge ? e->nconf : 0;
    for (f = 0; f < IW_F__COUNT; f++) st->header_line_fields += e->fm[0][f].hl != NULL;
}

const iw_ruleset_t *iw_engine_ruleset(const iw_engine_t *e) { return e ? e->rs : NULL; }
int iw_engine_rule_count(const iw_engine_t *e) { return e ? e->nrules : 0; }

/* The fields scan_event scans for events of `type` (bench_fields runs
 * each one's matchers alone, iw_engine_scan_field). */
int iw_engine_scan_fields(const iw_engine_t *e, unsigned type, int *fields, int max)
{
    int ti, i;

    if (!e) return 0;
    ti = iw_engine__type_index(type);
    for (i = 0; i < e->nscan[ti] && i < max; i++) fields[i] = e->scan_fields[ti][i];
    return e->nscan[ti];
}

void iw_engine_rule_counts(const iw_engine_t *e, iw_rule_counts_t *c)
{
    const iw_ruleset_t *rs = e ? e->rs : NULL;
    int i;

    memset(c, 0, sizeof(*c));
    for (i = 0; rs && rs->rules && i < rs->rules->nelts; i++) {
        const iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, const iw_rule_t *);
        if (!r) continue;
        c->total++;
        if (r->kind == IW_RULE_DETECTION) c->detection++;
        else if (r->kind == IW_RULE_CORRELATION) c->correlation++;
        else if (r->kind == IW_RULE_FILTER) c->filters++;
    }
    c->not_compiled = c->detection - (e ? e->nrules : 0);
    if (c->not_compiled < 0) c->not_compiled = 0;
}

int iw_rule_counts_text(const iw_rule_counts_t *c, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%d rule%s: %d detection, %d correlation, %d filter%s",
                     c->total, c->total == 1 ? "" : "s", c->detection,
                     c->correlation, c->filters, c->filters == 1 ? "" : "s");
    if (c->not_compiled > 0 && n >= 0 && (size_t)n < size)
        n += snprintf(buf + n, size - n, " (%d detection rule%s not compiled: "
                      "excluded or below the minimum level)", c->not_compiled,
                      c->not_compiled == 1 ? "" : "s");
    return n;
}
