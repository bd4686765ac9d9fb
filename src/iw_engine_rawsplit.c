/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_rawsplit: config time, the raw split of an access event's _raw.
 *
 * _raw is the request line, LF, then cs-headers' bytes (iw_event.c,
 * lazy_raw).  When every pattern _raw's database scans is a literal
 * without LF (the keyword rules' values), a match lies in the request
 * line or in one header line, never across the LF between them; and when
 * cs-headers has rules of its own its database is scanned on every access
 * event anyway, through the scan cache (the block, then line by line:
 * the lines repeat from request to request while _raw never does).  Then
 * _raw's literals go into cs-headers' databases too (confent_t, slot -1:
 * a report sets the literal's predicate with field _raw), and the
 * evaluation scans _raw only up to the block (raw_head,
 * iw_engine_eval.c) when _raw ends with LF and cs-headers' bytes.
 *
 * The merged scan (User-Agent and Referer literals inside _raw,
 * plan_merge) needs _raw's header bytes scanned: with the split those
 * fields scan their own databases (their values repeat: the scan cache
 * answers them). */
#include "iw_engine_int.h"
#include <apr_lib.h>

int iw_engine_raw_split = 1;

static int live_access(const pat_t *pt, int field)
{
    return pt->field == field && (pt->types & IW_EV_ACCESS) && !pt->dead && !pt->lazy;
}

/* 1 when pattern pt's reports are confirmed by a regex */
static int confirmed(build_t *b, const pat_t *pt)
{
    int32_t a;
    for (a = pt->act_head; a >= 0; a = APR_ARRAY_IDX(b->acts, a, act_t).next)
        if (APR_ARRAY_IDX(b->acts, a, act_t).value < 0) return 1;
    return 0;
}

/* 0: not splittable; 1: a literal; 2: the literal of a wildcard value
 * (a.*b: star_split, iw_engine_value.c) confirmed by its regex on _raw */
static int raw_kind(build_t *b, const pat_t *pt)
{
    if (pt->lb) return pt->ll && pt->open_s && pt->open_e && !memchr(pt->lb, '\n', pt->ll);
    if ((pt->flags & HS_FLAG_PREFILTER) || pt->exact || !confirmed(b, pt)
        || !iw_engine__escaped_literal_no_lf(pt->expr))
        return 0;
    return 2;
}

static void push_conf(build_t *b, int32_t pat, int32_t host)
{
    confent_t *c = apr_array_push(b->conf);
    c->pat = pat;
    c->field = IW_F_RAW;
    c->len = 0;
    c->slot = -1;
    c->host = host;
}

int iw_engine__raw_split_plan(build_t *b)
{
    int i, k, hdr = 0;

    if (!iw_engine_raw_split) return 0;
    for (i = 0; i < b->pats->nelts; i++) {
        const pat_t *pt = &APR_ARRAY_IDX(b->pats, i, pat_t);
        if (live_access(pt, IW_F_CS_HEADERS)) hdr = 1;
        if (live_access(pt, IW_F_RAW) && !raw_kind(b, pt)) return 0;
    }
    if (!hdr) return 0;
    for (i = 0; i < b->pats->nelts; i++) {
        const pat_t *pt = &APR_ARRAY_IDX(b->pats, i, pat_t);
        if (!live_access(pt, IW_F_RAW)) continue;
        k = raw_kind(b, pt);
        push_conf(b, i, IW_F_CS_HEADERS);
        if (k == 2) push_conf(b, i, IW_F_RAW);   /* its regex sees all of _raw */
    }
    b->e->raw_split = b->conf->nelts > 0;
    return b->e->raw_split;
}

/* The ids of an access field's database (hs): cs-headers' gets every
 * literal of _raw; _raw's own keeps its literals (scanned up to the
 * block) and has each wildcard value's as an entry whose regex runs on
 * all of _raw (on_confined, iw_engine_eval.c). */
void iw_engine__raw_split_ids(build_t *b, int field, apr_array_header_t *hs)
{
    int i, k;
    for (i = k = 0; field == IW_F_RAW && i < hs->nelts; i++) {
        unsigned id = APR_ARRAY_IDX(hs, i, unsigned);
        if (id < (unsigned)b->pats->nelts && raw_kind(b, &APR_ARRAY_IDX(b->pats, id, pat_t)) == 2)
            continue;
        APR_ARRAY_IDX(hs, k++, unsigned) = id;
    }
    if (field == IW_F_RAW) hs->nelts = k;
    for (i = 0; i < b->conf->nelts; i++)
        if (APR_ARRAY_IDX(b->conf, i, confent_t).host == field)
            APR_ARRAY_PUSH(hs, unsigned) = (unsigned)(b->pats->nelts + i);
}

void iw_engine__raw_split_check(build_t *b)
{
    if (b->e->raw_split && !b->e->fm[0][IW_F_CS_HEADERS].db) b->e->raw_split = 0;
}
