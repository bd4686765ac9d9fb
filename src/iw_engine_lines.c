/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_lines: config time, the header-lines plan of a header-block
 * field (hlines_t in iw_engine_int.h; evaluated in iw_engine_eval.c,
 * "header lines").
 *
 * A browser sends ~850 bytes of headers; the block differs from request
 * to request (Referer) so its scan-cache entry rarely hits, while its
 * lines (accept lists, user agent, cookie, fetch metadata) repeat for a
 * client.  Each pattern of the field's database is split into its
 * top-level branches (iw_match_plain_branches: splitting keeps the meaning) and
 * each branch goes where it is exact (iw_match_factor.h):
 * - a contains literal without LF, the literal of an inner-`*` pattern:
 *   per line (HL_PAT; the pattern's own actions on the block);
 * - a line-local branch: per line, PCRE2 confirms on the line's window
 *   (HL_LINE): the window result is the block result for that line;
 * - a branch whose every match holds one of a few rare literals: the
 *   literals per line, PCRE2 confirms the branch on the block (HL_BLOCK);
 * - anything else: the smaller block database (HL_BLOCK, or HL_PAT for a
 *   whole pattern that is not a regex).
 * The field's full database stays compiled: it scans the block whenever
 * the plan cannot (too many hits on one line, a failed line scan).
 * iw_engine_compile.c compiles the two databases of the plan. */
#include "iw_engine_int.h"
#include <apr_lib.h>
#include "iw_match_factor.h"

int iw_engine_header_lines = 1;

/* A branch's required literals are scanned per line when they would hit
 * ordinary header text this rarely (iw_match_factor's estimate of hits per
 * byte); commoner ones would make the branch a candidate on most
 * requests, and a PCRE2 run on the block costs more than its share of
 * the block database. */
#define HL_MAX_FACTOR_COST 1e-4
/* ... or this often when a match starts at most a known number of bytes
 * before the literal: PCRE2 then runs from the first line holding one
 * (the header lines of a browser's request that such literals hit are
 * few, and the check from there on is short) */
#define HL_MAX_BOUNDED_COST 0.03
#define HL_MAX_BRANCHES 64

static int32_t hl_action(build_t *b, int32_t pat, int kind, pcre2_code *code)
{
    hlact_t *a = apr_array_push(b->hl);
    a->pat = pat;
    a->kind = kind;
    a->code = code;
    a->jit = code && pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    a->pre = -1;
    return (int32_t)(b->hl->nelts - 1);
}

static void hl_push(apr_array_header_t *ex, apr_array_header_t *fl, apr_array_header_t *id,
                    const char *expr, unsigned flags, int32_t act)
{
    APR_ARRAY_PUSH(ex, const char *) = expr;
    APR_ARRAY_PUSH(fl, unsigned) = flags;
    APR_ARRAY_PUSH(id, unsigned) = (unsigned)act;
}

/* A literal as a Vectorscan expression (every byte escaped). */
static const char *lit_expr(apr_pool_t *p, const unsigned char *b, size_t n)
{
    char *x = apr_palloc(p, n * 4 + 1);
    size_t i;
    for (i = 0; i < n; i++) snprintf(x + 4 * i, 5, "\\x%02x", b[i]);
    x[4 * n] = 0;
    return x;
}

static uint32_t pcre2_opts(unsigned hsflags)
{
    return ((hsflags & HS_FLAG_CASELESS) ? PCRE2_CASELESS : 0)
           | ((hsflags & HS_FLAG_MULTILINE) ? PCRE2_MULTILINE : 0)
           | ((hsflags & HS_FLAG_DOTALL) ? PCRE2_DOTALL : 0);
}

/* The first regex check of a pattern (its confirmation), or NULL. */
static const rxcheck_t *pat_rx(build_t *b, const pat_t *pt)
{
    int32_t a;
    for (a = pt->act_head; a >= 0; a = APR_ARRAY_IDX(b->acts, a, act_t).next) {
        int32_t v = APR_ARRAY_IDX(b->acts, a, act_t).value;
        if (v < 0) return &APR_ARRAY_IDX(b->rx, -1 - v, rxcheck_t);
    }
    return NULL;
}

/* One branch of a prefilter regex (the regex itself when nb == 1). */
static void plan_branch(build_t *b, hlplan_t *h, int32_t pi, const pat_t *pt,
                        const char *br, size_t n, int whole)
{
    /* a line or block branch is confirmed by its own PCRE2 check: as a
     * prefilter, also for an exact regex (HL_PAT: the pattern's actions) */
    unsigned pf = pt->flags | (pt->exact ? HS_FLAG_PREFILTER : 0);
    unsigned fo = ((pt->flags & HS_FLAG_CASELESS) ? IW_MATCH_FACTOR_CASELESS : 0)
                  | ((pt->flags & HS_FLAG_DOTALL) ? IW_MATCH_FACTOR_DOTALL : 0)
                  | ((pt->flags & HS_FLAG_MULTILINE) ? IW_MATCH_FACTOR_MULTILINE : 0);
    const char *expr = whole ? pt->expr : apr_pstrmemdup(b->tp, br, n);
    pcre2_code *code = NULL;
    iw_match_factor_t fa;
    int32_t act;
    int i;

    iw_match_factor_analyse(b->tp, br, n, fo, &fa);
    if (whole) {
        const rxcheck_t *rx = pat_rx(b, pt);
        code = rx ? rx->code : NULL;
    } else {
        int err;
        PCRE2_SIZE off;
        code = pcre2_compile((PCRE2_SPTR)br, n, pcre2_opts(pt->flags), &err, &off, NULL);
        if (code) APR_ARRAY_PUSH(b->e->codes, pcre2_code *) = code;
    }
    if (!code) {                       /* not expected: the whole pattern on the block */
        act = hl_action(b, pi, HL_PAT, NULL);
        hl_push(h->bex, h->bfl, h->bid, expr, pt->flags, act);
        return;
    }
    if (fa.line_local) {
        act = hl_action(b, pi, HL_LINE, code);
        hl_push(h->lex, h->lfl, h->lid, expr, pf, act);
        return;
    }
    act = hl_action(b, pi, HL_BLOCK, code);
    if (fa.nlits && (fa.cost <= HL_MAX_FACTOR_COST
                     || (fa.prefix >= 0 && fa.cost <= HL_MAX_BOUNDED_COST))) {
        unsigned lf = HS_FLAG_SINGLEMATCH | (pt->flags & HS_FLAG_CASELESS);
        APR_ARRAY_IDX(b->hl, act, hlact_t).pre = fa.prefix;
        for (i = 0; i < fa.nlits; i++)
            hl_push(h->lex, h->lfl, h->lid, lit_expr(b->tp, fa.lits[i].b, fa.lits[i].len), lf, act);
        return;
    }
    hl_push(h->bex, h->bfl, h->bid, expr, pf, act);
}

/* An expression of escaped bytes only (\xhh..., star_split's literal)
 * none of which is LF (also the raw split's test, iw_engine_rawsplit.c). */
int iw_engine__escaped_literal_no_lf(const char *x)
{
    if (!*x) return 0;
    for (; *x; x += 4) {
        if (x[0] != '\\' || x[1] != 'x' || !apr_isxdigit(x[2]) || !apr_isxdigit(x[3])) return 0;
        if (x[2] == '0' && (x[3] == 'a' || x[3] == 'A')) return 0;
    }
    return 1;
}

static void plan_pattern(build_t *b, hlplan_t *h, int32_t pi)
{
    const pat_t *pt = iw_engine__pat_of(b, (unsigned)pi);   /* a raw split's literal: HL_PAT */
    size_t off[HL_MAX_BRANCHES], len[HL_MAX_BRANCHES], n = strlen(pt->expr);
    int nb, k;

    if ((pt->flags & HS_FLAG_PREFILTER) || pt->exact) {
        nb = iw_match_plain_branches(pt->expr, n, off, len, HL_MAX_BRANCHES);
        for (k = 0; k < nb; k++)
            plan_branch(b, h, pi, pt, pt->expr + off[k], len[k], nb == 1);
        return;
    }
    /* an exact pattern (or the literal of an inner-`*` one, confirmed by
     * its own checks): per line when it is a literal without LF */
    if (pt->lb ? (pt->open_s && pt->open_e && !memchr(pt->lb, '\n', pt->ll))
               : (pat_rx(b, pt) && iw_engine__escaped_literal_no_lf(pt->expr))) {
        hl_push(h->lex, h->lfl, h->lid, pt->expr, pt->flags, hl_action(b, pi, HL_PAT, NULL));
        return;
    }
    hl_push(h->bex, h->bfl, h->bid, pt->expr, pt->flags, hl_action(b, pi, HL_PAT, NULL));
}


/* The plan of one header-block field whose database holds the patterns
 * ids: out's line and block expressions (ids: actions appended to b->hl).
 * 0 when the field gets no plan. */
int iw_engine__plan_lines(build_t *b, int field, const apr_array_header_t *ids, hlplan_t *out)
{
    int i;

    if (!iw_engine_header_lines || (field != IW_F_CS_HEADERS && field != IW_F_CS_HEADERS_DEC))
        return 0;
#define MK(a, t) out->a = apr_array_make(b->tp, 64, sizeof(t))
    MK(lex, const char *); MK(lfl, unsigned); MK(lid, unsigned);
    MK(bex, const char *); MK(bfl, unsigned); MK(bid, unsigned);
#undef MK
    for (i = 0; i < ids->nelts; i++)
        plan_pattern(b, out, (int32_t)APR_ARRAY_IDX(ids, i, unsigned));
    /* a block database left over scans every byte again, at about the
     * cost of the whole one (its branches are the costly ones): then the
     * plan does not pay */
    return out->lex->nelts > 0 && (out->bex->nelts == 0 || iw_engine_header_lines > 1);
}
