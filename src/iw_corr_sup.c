/* SPDX-License-Identifier: Apache-2.0 */
/* iw_corr_sup: alert-flood control per (rule, group) in the same block as
 * the correlation table (docs/CORRELATION.md "Alert-flood control"). */
#include <string.h>
#include "iw_corr_int.h"

static corr_sup_t *sup_at(corr_hdr_t *h, uint64_t i)
{
    return (corr_sup_t *)((char *)h + h->sup_off) + i;
}

/* Key: the rule's id (title when it has none) and the group text. */
static uint64_t sup_key(uint64_t seed, const iw_rule_t *rule, const char *group,
                        size_t glen)
{
    const char *r = rule ? (rule->id ? rule->id : rule->title) : NULL;
    size_t rl = r ? strlen(r) : 0;
    uint64_t h = iw_corr__hash(seed, &rl, sizeof(rl));
    if (r) h = iw_corr__hash(h, r, rl);
    if (group) h = iw_corr__hash(h, group, glen);
    h = iw_corr__mix(h);
    return h ? h : 1;
}

/* Entry of `key` in partition p, or a claimed one (empty, else oldest
 * last-seen).  The probe window wraps inside the partition. */
static corr_sup_t *sup_slot(corr_hdr_t *h, uint64_t p, uint64_t key, int *fresh)
{
    corr_part_t *pt = iw_corr__part(h, p);
    uint64_t n = h->part_sup, base = p * n, i0 = key % n, k;
    uint64_t probe = n < IW_CORR_PROBE ? n : IW_CORR_PROBE;
    corr_sup_t *v = NULL;

    for (k = 0; k < probe; k++) {
        uint64_t i = i0 + k < n ? i0 + k : i0 + k - n;
        corr_sup_t *e = sup_at(h, base + i);
        if (e->key == key) { *fresh = 0; return e; }
        if (!v || (v->key && (!e->key || e->last < v->last))) v = e;
    }
    if (v->key) pt->sup_evictions++;
    else pt->sup_used++;
    *fresh = 1;
    return v;
}

int iw_corr_suppress(const iw_corr_t *c, void *mem, const iw_rule_t *rule,
                     const char *group, size_t glen,
                     apr_time_t now, apr_interval_time_t window,
                     int64_t *suppressed_out)
{
    corr_hdr_t *h = iw_corr__hdr(mem);
    corr_sup_t *e;
    uint64_t key, p;
    int fresh, send = 1;

    (void)c;
    if (suppressed_out) *suppressed_out = 0;
    if (!h || window <= 0 || !iw_corr__geometry_ok(h) || !h->part_sup) return 1;
    key = sup_key(h->seed, rule, group, group ? glen : 0);
    p = iw_corr__part_of(h, key);
    if (iw_corr__test_lock(h) != 0)     /* counted; none in production */
        return 1;                       /* fail open: never lose an alert */
    if (iw_corr__part_lock(h, p) != 0) {  /* counted */
        iw_corr__test_unlock();
        return 1;
    }
    e = sup_slot(h, p, key, &fresh);
    if (fresh) {
        e->key = key;
        e->sent = e->last = now;
        e->suppressed = 0;
    } else if (now < e->sent || (uint64_t)now - (uint64_t)e->sent < (uint64_t)window) {
        e->suppressed++;                /* within the window of the last sent */
        if (now > e->last) e->last = now;
        iw_corr__part(h, p)->sup_suppressed++;
        send = 0;
    } else {
        if (suppressed_out) *suppressed_out = (int64_t)e->suppressed;
        e->suppressed = 0;
        e->sent = e->last = now;
    }
    iw_corr__part_unlock(h, p);
    iw_corr__test_unlock();
    return send;
}
