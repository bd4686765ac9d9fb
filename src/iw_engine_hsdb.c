/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_hsdb: config time, a field's Vectorscan databases: the whole
 * one (a pattern Vectorscan rejects is dropped, or run by PCRE2 alone when
 * it was a prefilter), its plain-value one, its header-lines ones, and the
 * URI fields' databases as one (uri_both).  Which patterns go to a field's
 * database is decided in iw_engine_compile.c (compile_field); every
 * database is compiled through the on-disk cache (iw_engine_dbcache). */
#include "iw_engine_int.h"

/* A pattern Vectorscan rejects: a regex prefilter falls back to running
 * PCRE2 on every event; anything else is an error of its rule. */
static void __attribute__((cold)) pattern_failed(build_t *b, int32_t pi, const char *msg)
{
    pat_t *pt = &APR_ARRAY_IDX(b->pats, pi, pat_t);
    int32_t a;
    pt->dead = 1;
    for (a = pt->act_head; a >= 0; a = APR_ARRAY_IDX(b->acts, a, act_t).next) {
        int32_t v = APR_ARRAY_IDX(b->acts, a, act_t).value;
        if (v < 0) {
            rxalways_t *ra = apr_array_push(b->rxall);
            ra->rx = -1 - v;
            ra->field = pt->field;
            ra->types = pt->types;
        }
    }
    if (!(pt->flags & HS_FLAG_PREFILTER)) {
        b->rule = pt->rule;
        iw_engine__berr(b, pt->line, pt->col, "pattern /%s/ rejected by Vectorscan: %s", pt->expr, msg);
    }
}

/* One hs_expression_info per pattern (the analysis costs more than
 * loading a cached database): the flags to compile it with and its
 * shortest match (0 when unknown).
 * Vectorscan 5.4.9's AVX-512 scan loses matches of patterns that reduce
 * to one byte ('a', 'a+', '.*a') under HS_FLAG_SINGLEMATCH once the byte
 * lies past the first 64 bytes of the buffer (engine_vectorscan_single_byte).
 * iw_vs now avoids that implementation where it is defective; such
 * patterns still run without SINGLEMATCH, so that a forced or untested
 * implementation (IOCWATCH_VECTORSCAN_IMPL) does not lose them either:
 * repeated reports only find their predicate already set. */
static unsigned analyse_expr(const char *expr, unsigned flags, unsigned *min_width)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *err = NULL;

    *min_width = 0;
    if (hs_expression_info(expr, flags & ~HS_FLAG_SINGLEMATCH, &info, &err) != HS_SUCCESS) {
        if (err) hs_free_compile_error(err);
        return flags;      /* the database compile reports the problem */
    }
    *min_width = info->min_width;
    if (info->min_width <= 1) flags &= ~HS_FLAG_SINGLEMATCH;
    free(info);
    return flags;
}

/* analyse_expr over n patterns (their flags updated in place); returns
 * the shortest match of any of them, 0 when one is unknown. */
static unsigned analyse_exprs(const char *const *exprs, unsigned *flags, int n)
{
    unsigned w, shortest = ~0u;
    int i;
    for (i = 0; i < n; i++) {
        flags[i] = analyse_expr(exprs[i], flags[i], &w);
        if (w < shortest) shortest = w;     /* an unknown one (0) makes it 0 */
    }
    return shortest == ~0u ? 0 : shortest;
}

/* Vectorscan database of the listed patterns; a pattern it rejects is
 * dropped (pattern_failed) and the rest compiled again.  *minw: the
 * shortest match of any of them (0 if unknown): a shorter value needs no
 * scan (e.g. `.{150}` of a |re on cs-host).  keep (may be NULL): the
 * expressions, flags and ids the database was compiled from, as analysed,
 * for a database built of several fields' (uri_both) without analysing
 * them again. */
int iw_engine__hsdb_field(build_t *b, apr_array_header_t *ids, int field, hs_database_t **out,
                          unsigned *minw, hsdb_parts_t *keep)
{
    int i, n, tries;
    for (tries = 0; tries < 1000 && (n = ids->nelts) > 0; tries++) {
        hs_compile_error_t *err = NULL;
        apr_array_header_t *ex = apr_array_make(b->tp, n, sizeof(const char *));
        apr_array_header_t *fl = apr_array_make(b->tp, n, sizeof(unsigned));
        const char **exprs = (const char **)ex->elts;
        unsigned *flags = (unsigned *)fl->elts;
        unsigned shortest;
        ex->nelts = fl->nelts = n;
        for (i = 0; i < n; i++) {
            unsigned id = APR_ARRAY_IDX(ids, i, unsigned);
            const pat_t *pt;
            if (id >= (unsigned)b->pats->nelts) {
                /* merged literal: every occurrence, the segment decides
                 * (a raw split's literal counts anywhere: as it is) */
                const confent_t *ce = &APR_ARRAY_IDX(b->conf, id - (unsigned)b->pats->nelts, confent_t);
                pt = &APR_ARRAY_IDX(b->pats, ce->pat, pat_t);
                flags[i] = ce->slot >= 0 ? pt->flags & ~HS_FLAG_SINGLEMATCH : pt->flags;
            } else {
                pt = &APR_ARRAY_IDX(b->pats, id, pat_t);
                flags[i] = pt->flags;
            }
            exprs[i] = pt->expr;
        }
        shortest = analyse_exprs(exprs, flags, n);
        if (iw_engine_dbcache_compile_multi(b->hsc, exprs, flags, (const unsigned *)ids->elts,
                                     (unsigned)n, HS_MODE_BLOCK, out, &err) == HS_SUCCESS) {
            *minw = shortest;
            if (keep) {
                keep->ex = ex;
                keep->fl = fl;
                keep->id = apr_array_copy(b->tp, ids);
            }
            return hs_alloc_scratch(*out, &b->e->proto) == HS_SUCCESS ? 0 : -1;
        }
        if (err && err->expression >= 0 && err->expression < n) {
            int at = err->expression;   /* read before err is freed */
            unsigned bad = APR_ARRAY_IDX(ids, at, unsigned);
            if (bad >= (unsigned)b->pats->nelts)   /* the same literal alone compiled */
                bad = (unsigned)APR_ARRAY_IDX(b->conf, bad - (unsigned)b->pats->nelts, confent_t).pat;
            if (APR_ARRAY_IDX(b->pats, bad, pat_t).exact) {   /* as a prefilter again */
                pat_t *pt = &APR_ARRAY_IDX(b->pats, bad, pat_t);
                pt->exact = 0;
                pt->flags |= HS_FLAG_PREFILTER;
                hs_free_compile_error(err);
                continue;
            }
            pattern_failed(b, (int32_t)bad, err->message);
            hs_free_compile_error(err);
            for (i = at; i + 1 < n; i++)
                APR_ARRAY_IDX(ids, i, unsigned) = APR_ARRAY_IDX(ids, i + 1, unsigned);
            ids->nelts--;
            continue;
        }
        b->rule = NULL;
        iw_engine__berr(b, 0, 0, "Vectorscan database for field %s: %s",
                        iw_field_name((iw_field_id_t)field), err ? err->message : "failed");
        if (err) hs_free_compile_error(err);
        return -1;
    }
    *out = NULL;
    return 0;
}

int iw_engine_plain_dbs = 1;

#define PLAIN_MAX_BRANCHES 64

/* Vectorscan wants one HS_FLAG_SINGLEMATCH setting per id; branches of
 * one pattern (several expressions with its id) may differ after
 * analyse_exprs (one-byte branches lose it): all of them go without. */
static void single_per_id(const apr_array_header_t *id, apr_array_header_t *fl)
{
    int i, k;
    for (i = 0; i < fl->nelts; i++)
        if (!(APR_ARRAY_IDX(fl, i, unsigned) & HS_FLAG_SINGLEMATCH))
            for (k = 0; k < fl->nelts; k++)
                if (APR_ARRAY_IDX(id, k, unsigned) == APR_ARRAY_IDX(id, i, unsigned))
                    APR_ARRAY_IDX(fl, k, unsigned) &= ~(unsigned)HS_FLAG_SINGLEMATCH;
}

/* A block-mode database of the expressions (ids: pattern ids) with a
 * scratch for it in the engine's prototype: 0, else -1, *db NULL and,
 * where why is not NULL, Vectorscan's reason and the index of the
 * expression it names (-1: none). */
static int block_db(build_t *b, const apr_array_header_t *ex, const apr_array_header_t *fl,
                    const apr_array_header_t *id, hs_database_t **db, const char **why, int *at)
{
    hs_compile_error_t *err = NULL;

    if (iw_engine_dbcache_compile_multi(b->hsc, (const char *const *)ex->elts,
                                        (const unsigned *)fl->elts, (const unsigned *)id->elts,
                                        (unsigned)ex->nelts, HS_MODE_BLOCK, db, &err) != HS_SUCCESS) {
        if (why) {
            *why = apr_pstrdup(b->tp, err && err->message ? err->message : "failed");
            *at = err && err->expression < ex->nelts ? err->expression : -1;
        }
        if (err) hs_free_compile_error(err);
        *db = NULL;
        return -1;
    }
    if (hs_alloc_scratch(*db, &b->e->proto) != HS_SUCCESS) {
        if (why) *why = "scratch allocation failed", *at = -1;
        hs_free_database(*db);
        *db = NULL;
        return -1;
    }
    return 0;
}

/* The warning of a plain-value database Vectorscan refused, at the rule
 * of the expression it names. */
static void __attribute__((cold)) plain_failed(build_t *b, int field, const apr_array_header_t *id,
                                               const char *why, int at)
{
    const pat_t *pt = at >= 0 ? iw_engine__pat_of(b, APR_ARRAY_IDX(id, at, unsigned)) : NULL;
    const iw_rule_t *r = pt ? pt->rule : NULL;

    iw_diag_add(b->diag, IW_DIAG_WARNING, r ? r->file : NULL, pt ? pt->line : 0, pt ? pt->col : 0,
                r ? r->id : NULL, "field %s: no plain-value database (Vectorscan: %s); the field's "
                "plain values are scanned with its whole database: same results, slower",
                iw_field_name((iw_field_id_t)field), why);
}

/* The plain-value database of a field: the patterns of ids (db's), each
 * regex split into its top-level branches, keeping what may match plain
 * bytes.  Built only when it leaves something out.  A compile failure
 * keeps db for every value (it is only a faster equivalent) with a
 * warning: the results stay the same, but the field's plain values then
 * cost the whole database's scan, and a rule change that does this
 * should not go unnoticed. */
void iw_engine__hsdb_plain(build_t *b, fieldm_t *fm, int field, const apr_array_header_t *ids)
{
    apr_array_header_t *ex = apr_array_make(b->tp, 64, sizeof(const char *));
    apr_array_header_t *fl = apr_array_make(b->tp, 64, sizeof(unsigned));
    apr_array_header_t *id = apr_array_make(b->tp, 64, sizeof(unsigned));
    size_t off[PLAIN_MAX_BRANCHES], len[PLAIN_MAX_BRANCHES];
    const char *why = NULL;
    unsigned shortest;
    int i, k, nb, at, dropped = 0;

    if (!iw_engine_plain_dbs) return;
    for (i = 0; i < ids->nelts; i++) {
        unsigned pi = APR_ARRAY_IDX(ids, i, unsigned);
        const pat_t *pt = iw_engine__pat_of(b, pi);
        size_t n = strlen(pt->expr);
        /* PCRE2 confirms: any branch may report; an exact regex's branch
         * matches only where the regex does */
        nb = (pt->flags & HS_FLAG_PREFILTER) || pt->exact
             ? iw_match_plain_branches(pt->expr, n, off, len, PLAIN_MAX_BRANCHES) : 1;
        if (nb == 1) { off[0] = 0; len[0] = n; }
        for (k = 0; k < nb; k++) {
            const char *br = pt->expr + off[k];
            if (!iw_match_plain_may_match(br, len[k])) {
                dropped++;
                continue;
            }
            br = nb == 1 ? pt->expr : apr_pstrmemdup(b->tp, br, len[k]);
            APR_ARRAY_PUSH(ex, const char *) = br;
            APR_ARRAY_PUSH(fl, unsigned) = pt->flags;
            APR_ARRAY_PUSH(id, unsigned) = pi;
        }
    }
    if (!dropped) return;
    if (!ex->nelts) { fm->plain_mode = PLAIN_NONE; return; }
    shortest = analyse_exprs((const char *const *)ex->elts, (unsigned *)fl->elts,
                             ex->nelts);                 /* analysed only when built */
    single_per_id(id, fl);
    if (block_db(b, ex, fl, id, &fm->plain, &why, &at)) {
        plain_failed(b, field, id, why, at);
        return;
    }
    fm->plain_minw = shortest;
    fm->plain_mode = PLAIN_DB;
    b->e->ndbs++;
    for (k = 0; k < 3; k++)            /* uri_both's parts (the plain ones) */
        if (fm == &b->e->fm[0][URI_BOTH_FIELD(k)]) {
            b->upl[k][0] = ex;
            b->upl[k][1] = fl;
            b->upl[k][2] = id;
        }
}

/* One database of the parts (ex, fl, id) of uri_both's slots mask (1:
 * cs-uri, 2: its view, 4: cs-uri-stem-decoded), each there; any failure
 * leaves it NULL. */
static void both_db(build_t *b, unsigned mask, hs_database_t **db)
{
    apr_array_header_t *a[3];
    int i, k;

    for (k = 0; k < 3; k++) {
        const fieldm_t *fm = &b->e->fm[0][URI_BOTH_FIELD(k)];
        if ((mask >> k) & 1 && (!b->upl[k][0] || fm->small || fm->hl || fm->merged)) return;
    }
    for (i = 0; i < 3; i++) {
        a[i] = apr_array_make(b->tp, 64, i ? sizeof(unsigned) : sizeof(const char *));
        for (k = 0; k < 3; k++)
            if ((mask >> k) & 1) apr_array_cat(a[i], b->upl[k][i]);
    }
    if (!block_db(b, a[0], a[1], a[2], db, NULL, NULL)) b->e->ndbs++;
}

/* e->uri_both: the databases of cs-uri and cs-uri-decoded as one (a
 * database costs less than its parts: 3,094 instructions per scan of a
 * plain target against 1,214 + 2,960 for the plain ones, [0]; 8,350
 * against 4,117 + 6,561 for the whole ones, [1]), and the plain ones
 * with cs-uri-stem-decoded's for a target without a query, [2].  Ids are
 * pattern ids, each of one field; the whole ones' expressions and flags
 * are those iw_engine__hsdb_field gave each field's db (b->uhs). */
void iw_engine__hsdb_uri_both(build_t *b)
{
    int i, k;

    if (iw_engine_plain_dbs) {
        both_db(b, 3, &b->e->uri_both[0]);
        if (b->e->uri_both[0]) both_db(b, 7, &b->e->uri_both[2]);
    }
    if (!b->uhs[0].ex || !b->uhs[1].ex) return;
    for (k = 0; k < 2; k++)
        for (i = 0; i < b->uhs[k].id->nelts; i++)
            if (APR_ARRAY_IDX(b->uhs[k].id, i, unsigned) >= (unsigned)b->pats->nelts)
                return;                                  /* merged literals: not here */
    for (k = 0; k < 3; k++) b->upl[k][0] = NULL;
    for (k = 0; k < 2; k++) {
        b->upl[k][0] = b->uhs[k].ex;
        b->upl[k][1] = b->uhs[k].fl;
        b->upl[k][2] = b->uhs[k].id;
    }
    both_db(b, 3, &b->e->uri_both[1]);
}

/* One database of a header-lines plan (NULL when it has no expression). */
static int lines_db(build_t *b, apr_array_header_t *ex, apr_array_header_t *fl,
                    apr_array_header_t *id, hs_database_t **db, unsigned *minw)
{
    *db = NULL;
    if (!ex->nelts) return 0;
    *minw = analyse_exprs((const char *const *)ex->elts, (unsigned *)fl->elts, ex->nelts);
    single_per_id(id, fl);     /* several literals of one branch share an id */
    return block_db(b, ex, fl, id, db, NULL, NULL);
}

/* The header-lines plan of a header-block field (iw_engine_lines.c) and
 * its databases.  Any failure leaves the field without a plan: its
 * database then scans the whole block, as it would anyway. */
void iw_engine__hsdb_lines(build_t *b, fieldm_t *fm, int field, const apr_array_header_t *ids)
{
    int first = b->hl->nelts;
    hlplan_t pl;
    hlines_t *hl;

    if (!iw_engine__plan_lines(b, field, ids, &pl)) {
        b->hl->nelts = first;
        return;
    }
    hl = apr_pcalloc(b->p, sizeof(*hl));
    if (lines_db(b, pl.lex, pl.lfl, pl.lid, &hl->line_db, &hl->line_minw) < 0
        || lines_db(b, pl.bex, pl.bfl, pl.bid, &hl->block_db, &hl->block_minw) < 0) {
        if (hl->line_db) hs_free_database(hl->line_db);
        b->hl->nelts = first;
        return;
    }
    hl->first = first;
    hl->n = b->hl->nelts - first;
    fm->hl = hl;
    b->e->ndbs += 1 + (hl->block_db != NULL);
}
