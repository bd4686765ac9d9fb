/* SPDX-License-Identifier: Apache-2.0 */
/* iw_corr: the correlation state machine over the flat table.
 *
 * Semantics (docs/CORRELATION.md): windows are half-open, (newest - span,
 * newest] for conditions with only lower bounds (gt/gte, decided on the
 * event that makes them true), [first, first + span) for conditions with an
 * upper bound or neq (decided when the window closes).  A group fires once
 * per burst: its state is cleared when it fires. */
#include <math.h>
#include <string.h>
#include "iw_corr_int.h"

#define GROUP_MAX ((int)sizeof(((iw_corr_alert_t *)0)->group))

/* Where a (correlation, group) pair lives: its partition, the partition's
 * first slot and the home slot inside it (computed once: no division per
 * probe step). */
typedef struct where { uint64_t part, base, i0; } where_t;

/* One (correlation, referenced rule, group) update caused by one event. */
typedef struct item {
    int ci, pos, rank, has_v;
    int grouped;            /* group holds the text (item_group) */
    uint64_t gh, vh;
    where_t w;
    char group[GROUP_MAX];
} item_t;

#define NO_PART UINT64_MAX

typedef struct upd {
    const iw_corr_t *c;
    corr_hdr_t *h;
    corr_part_t *pt;       /* the partition whose lock is held */
    uint64_t pi;           /* its index, NO_PART when none */
    iw_event_t *ev;
    apr_time_t now;
    iw_corr_alert_t *out;
    int max, nout, nitems, overflow;
    int counted;           /* this event is in some partition's `updates` */
    item_t items[IW_CORR_MAX_ITEMS];
} upd_t;

/* ---- time helpers (no signed overflow on odd timestamps) ----------------- */

/* Has `span` passed from `from` to `now`, i.e. now >= from + span? */
static int passed(int64_t from, int64_t span, int64_t now)
{
    return now >= from && (uint64_t)now - (uint64_t)from >= (uint64_t)span;
}

static int cond_ok(const corr_prog_t *pg, int64_t n)
{
    int i;
    for (i = 0; i < pg->ncmp; i++) {
        int64_t v = pg->cmp[i].value;
        int ok;
        switch (pg->cmp[i].op) {
        case IW_CMP_GT:  ok = n > v; break;
        case IW_CMP_GTE: ok = n >= v; break;
        case IW_CMP_LT:  ok = n < v; break;
        case IW_CMP_LTE: ok = n <= v; break;
        case IW_CMP_EQ:  ok = n == v; break;
        default:         ok = n != v; break;
        }
        if (!ok) return 0;
    }
    return pg->ncmp > 0;
}

/* ---- block access -------------------------------------------------------- */

static corr_slot_t *slot_at(corr_hdr_t *h, uint64_t i)
{
    return (corr_slot_t *)((char *)h + h->slots_off + i * h->slot_size);
}

static void *payload(corr_slot_t *s) { return (char *)s + sizeof(*s); }

static uint64_t home_of(uint64_t gh, int ci)
{
    return iw_corr__mix(gh ^ ((uint64_t)(ci + 1) * 0x9e3779b97f4a7c15ull));
}

static where_t where_of(const corr_hdr_t *h, uint64_t gh, int ci)
{
    uint64_t home = home_of(gh, ci);
    where_t w;
    w.part = iw_corr__part_of(h, home);
    w.base = w.part * h->part_slots;
    w.i0 = h->part_slots ? home % h->part_slots : 0;
    return w;
}

/* The block belongs to this rule set (else updates are no-ops) and its
 * geometry is sane. */
static corr_hdr_t *hdr_for(const iw_corr_t *c, void *mem)
{
    corr_hdr_t *h = iw_corr__hdr(mem);
    if (!c || !h || h->fingerprint != c->fingerprint || h->ncorr != (uint64_t)c->ncorr
        || h->slot_size != c->slot_size || !iw_corr__geometry_ok(h))
        return NULL;
    return h;
}

/* Hold partition p's lock (one at a time: the held one is released first,
 * so there is no lock order to respect).  0 when held. */
static int hold_part(upd_t *u, uint64_t p)
{
    if (u->pi == p) return 0;
    if (u->pi != NO_PART) iw_corr__part_unlock(u->h, u->pi);
    u->pi = NO_PART;
    u->pt = NULL;
    if (iw_corr__part_lock(u->h, p)) return -1;
    u->pi = p;
    u->pt = iw_corr__part(u->h, p);
    return 0;
}

static void release_part(upd_t *u)
{
    if (u->pi != NO_PART) iw_corr__part_unlock(u->h, u->pi);
    u->pi = NO_PART;
    u->pt = NULL;
}

/* ---- per-slot state ------------------------------------------------------ */

static void state_clear(const corr_prog_t *pg, corr_slot_t *s)
{
    int i;
    s->n = 0;
    s->count = 0;
    s->flags = 0;
    s->first = s->last = IW_CORR_UNSET;
    if (pg->type == IW_CORR_TEMPORAL || pg->type == IW_CORR_TEMPORAL_ORDERED) {
        int64_t *pt = payload(s);
        for (i = 0; i < pg->cap; i++) pt[i] = IW_CORR_UNSET;
    } else if (pg->type == IW_CORR_VALUE_COUNT && pg->approx) {
        memset(payload(s), 0, (size_t)pg->cap * sizeof(corr_val_t));
    }
}

/* value_count above IW_CORR_MAX_ELEMS distinct values: a bitmap over the
 * same payload bytes, counted by linear counting (m = 16384 bits: error
 * well under 1% up to a few thousand values), window tumbling from the
 * group's first event. */
#define VB_BITS(pg) ((uint64_t)(pg)->cap * sizeof(corr_val_t) * 8)

static void vb_add(const corr_prog_t *pg, corr_slot_t *s, uint64_t vh)
{
    uint64_t *w = payload(s), b = (vh >> 7) % VB_BITS(pg);
    w[b >> 6] |= (uint64_t)1 << (b & 63);
}

static int64_t vb_count(const corr_prog_t *pg, corr_slot_t *s)
{
    const uint64_t *w = payload(s);
    uint64_t m = VB_BITS(pg), ones = 0, i;
    for (i = 0; i < m / 64; i++) ones += (uint64_t)__builtin_popcountll(w[i]);
    if (ones >= m) return (int64_t)(m * 8);   /* saturated: "very many" */
    return (int64_t)llround(-(double)m * log((double)(m - ones) / (double)m));
}

static void slot_free(corr_part_t *pt, corr_slot_t *s)
{
    s->ci1 = 0;
    s->ghash = 0;
    if (pt->used) pt->used--;
}

/* Shared memory is trusted but checked: a slot that cannot be ours is
 * freed instead of being read out of bounds.  pt: its partition, locked;
 * NULL for lock-free readers (nothing is freed then). */
static const corr_prog_t *slot_prog(const iw_corr_t *c, corr_part_t *pt, corr_slot_t *s)
{
    const corr_prog_t *pg;
    if (!s->ci1) return NULL;
    if (s->ci1 > (uint32_t)c->ncorr) { if (pt) slot_free(pt, s); return NULL; }
    pg = &c->progs[s->ci1 - 1];
    if (s->n > (uint32_t)pg->cap) { if (pt) slot_free(pt, s); return NULL; }
    return pg;
}

/* events (event_count), distinct values (value_count) or rules seen */
static int64_t held_count(const corr_prog_t *pg, corr_slot_t *s, int64_t newest,
                          int64_t *first)
{
    const int64_t *pt = payload(s);
    int64_t n = 0, f = IW_CORR_UNSET;
    int p;

    switch (pg->type) {
    case IW_CORR_EVENT_COUNT:
        n = s->count;
        f = s->first;
        break;
    case IW_CORR_VALUE_COUNT: {
        const corr_val_t *v = payload(s);
        if (pg->approx) { n = vb_count(pg, s); f = s->first; break; }
        n = s->n;
        for (p = 0; p < (int)s->n; p++)
            if (f == IW_CORR_UNSET || v[p].ts < f) f = v[p].ts;
        if (pg->close_mode) f = s->first;
        break;
    }
    case IW_CORR_TEMPORAL:
        for (p = 0; p < pg->nrefs; p++) {
            if (pt[p] == IW_CORR_UNSET) continue;
            if (!pg->close_mode && passed(pt[p], pg->span, newest)) continue;
            n++;
            if (f == IW_CORR_UNSET || pt[p] < f) f = pt[p];
        }
        if (pg->close_mode) f = s->first;
        break;
    default: /* ordered: longest prefix seen in order, f = its start */
        for (p = pg->nrefs - 1; p >= 0; p--)
            if (pt[p] != IW_CORR_UNSET
                && (pg->close_mode || !passed(pt[p], pg->span, newest))) {
                n = p + 1;
                f = pg->close_mode ? s->first : pt[p];
                break;
            }
        break;
    }
    if (first) *first = f;
    return n;
}

/* ---- items (computed before the lock) ------------------------------------ */

static void put(char *dst, size_t *o, const char *s, size_t n)
{
    size_t room = (size_t)GROUP_MAX - 1 - *o;
    if (n > room) n = room;
    memcpy(dst + *o, s, n);
    *o += n;
    dst[*o] = 0;
}

/* A group-by value; a multi-valued field (a list of parameters, the
 * whole list is the group) shows its values joined by '&' (its NUL
 * separators would end the group's text). */
static void put_value(char *dst, size_t *o, iw_str_t v, int multi)
{
    size_t start = *o, i;
    put(dst, o, v.p, v.len);
    if (multi)
        for (i = start; i < *o; i++)
            if (!dst[i]) dst[i] = '&';
}

/* The group-by fields of referenced rule `pos` ([j]: event field id or -1). */
static const int *group_fields(const corr_prog_t *pg, int pos)
{
    return &pg->gfields[pos * pg->ngroup];
}

/* Group key: a group-by field's value (f: its id); an absent field counts
 * as "-" (Apache's notation for "no value"). */
static iw_str_t group_value(int f, iw_event_t *ev)
{
    iw_str_t v = IW_STR_NULL;
    if (ev && f >= 0 && f < IW_F__COUNT) v = iw_event_get(ev, (iw_field_id_t)f);
    return v.p ? v : (iw_str_t){"-", 1};
}

/* The group as text, "name=value,..." (for an alert and a new slot):
 * built when first asked, from the values item_fill hashed. */
static const char *item_group(const upd_t *u, item_t *it)
{
    const corr_prog_t *pg = &u->c->progs[it->ci];
    const int *gf = group_fields(pg, it->pos);
    size_t o = 0;
    int j;

    if (it->grouped) return it->group;
    it->grouped = 1;
    it->group[0] = 0;
    for (j = 0; j < pg->ngroup; j++) {
        const char *nm = pg->gnames[j] ? pg->gnames[j] : "?";
        if (j) put(it->group, &o, ",", 1);
        put(it->group, &o, nm, strlen(nm));
        put(it->group, &o, "=", 1);
        put_value(it->group, &o, group_value(gf[j], u->ev), iw_field_is_multi(gf[j]));
    }
    return it->group;
}

static void item_fill(const corr_prog_t *pg, int pos, iw_event_t *ev,
                      uint64_t seed, item_t *it)
{
    const int *gf = group_fields(pg, pos);
    uint64_t h = seed;
    int j, f;

    it->grouped = 0;
    for (j = 0; j < pg->ngroup; j++) {
        iw_str_t v = group_value(gf[j], ev);
        h = iw_corr__hash(h, &v.len, sizeof(v.len));
        h = iw_corr__hash(h, v.p, v.len);
    }
    it->gh = iw_corr__mix(h);
    it->has_v = 0;
    it->vh = 0;
    f = pg->vfields[pos];
    if (pg->type == IW_CORR_VALUE_COUNT && ev && f >= 0 && f < IW_F__COUNT) {
        iw_str_t v = iw_event_get(ev, (iw_field_id_t)f);
        if (v.p) {
            it->has_v = 1;
            it->vh = iw_corr__hash(~seed, v.p, v.len);
        }
    }
}

static int item_after(const item_t *a, int rank, int ci, int pos)
{
    if (a->rank != rank) return a->rank > rank;
    if (a->ci != ci) return a->ci > ci;
    return a->pos < pos;  /* higher positions first: one event, one step */
}

/* Insert keeping (rank, ci, -pos) order; only at index >= from, so items
 * already processed never move. */
static void item_add(upd_t *u, int from, int ci, int pos)
{
    const corr_prog_t *pg = &u->c->progs[ci];
    int i = u->nitems;

    if (u->nitems >= IW_CORR_MAX_ITEMS) { u->overflow++; return; }
    while (i > from && item_after(&u->items[i - 1], pg->rank, ci, pos)) {
        u->items[i] = u->items[i - 1];
        i--;
    }
    u->items[i].ci = ci;
    u->items[i].pos = pos;
    u->items[i].rank = pg->rank;
    item_fill(pg, pos, u->ev, u->h->seed, &u->items[i]);
    u->items[i].w = where_of(u->h, u->items[i].gh, ci);
    u->nitems++;
}

static void feed_rule(upd_t *u, int from, const iw_rule_t *r)
{
    const iw_corr_t *c = u->c;
    int k;
    if (!r || r->index < 0 || r->index >= c->nrules) return;
    for (k = c->feed_start[r->index]; k < c->feed_start[r->index + 1]; k++)
        item_add(u, from, c->feeds[k].ci, c->feeds[k].pos);
}

/* ---- firing -------------------------------------------------------------- */

/* `cur` = index of the item being processed (chained correlations are fed
 * from the same event), -1 when there is no event (eviction, flush). */
static void fire(upd_t *u, const corr_prog_t *pg, corr_slot_t *s, int cur,
                 int64_t count, int64_t first, int64_t last)
{
    u->pt->alerts++;
    if (!pg->silent) {
        if (u->nout < u->max) {
            iw_corr_alert_t *a = &u->out[u->nout++];
            const char *g = cur >= 0 ? item_group(u, &u->items[cur]) : s->group;
            size_t n = strnlen(g, cur >= 0 ? sizeof(a->group) : sizeof(s->group));
            if (n >= sizeof(a->group)) n = sizeof(a->group) - 1;
            memcpy(a->group, g, n);
            a->group[n] = 0;
            a->rule = pg->rule;
            a->type = pg->type;
            a->count = count;
            a->window = pg->span;
            a->first_seen = first;
            a->last_seen = last;
            a->with_event = cur >= 0;
        } else {
            u->pt->dropped++;
        }
    }
    if (cur >= 0) feed_rule(u, cur + 1, pg->rule);
}

/* Evaluate a closed window (upper-bound conditions). */
static void close_window(upd_t *u, const corr_prog_t *pg, corr_slot_t *s, int cur)
{
    int64_t first, n = held_count(pg, s, s->last, &first);
    if (s->first != IW_CORR_UNSET && cond_ok(pg, n))
        fire(u, pg, s, cur, n, first, s->last);
}

/* ---- table: find / claim ------------------------------------------------- */

/* Probe window: IW_CORR_PROBE slots from the home slot, wrapping inside
 * the partition (with one partition: the whole table, as before). */
static corr_slot_t *probe_at(corr_hdr_t *h, const where_t *w, uint64_t k)
{
    uint64_t i = w->i0 + k;             /* k < probe_len <= part_slots */
    if (i >= h->part_slots) i -= h->part_slots;
    return slot_at(h, w->base + i);
}

static uint64_t probe_len(const corr_hdr_t *h)
{
    return h->part_slots < IW_CORR_PROBE ? h->part_slots : IW_CORR_PROBE;
}

/* pt: the partition of `w`, locked (NULL: read only). */
static corr_slot_t *slot_find(const iw_corr_t *c, corr_hdr_t *h, corr_part_t *pt,
                              int ci, uint64_t gh, const where_t *w)
{
    uint64_t k, probe = probe_len(h);
    for (k = 0; k < probe; k++) {
        corr_slot_t *s = probe_at(h, w, k);
        if (s->ci1 == (uint32_t)ci + 1 && s->ghash == gh && slot_prog(c, pt, s))
            return s;
    }
    return NULL;
}

/* Has the slot's state expired at `now` (nothing left to lose)? */
static int slot_expired(const corr_prog_t *pg, const corr_slot_t *s, int64_t now)
{
    if (s->last == IW_CORR_UNSET) return 1;
    return pg->close_mode ? passed(s->first, pg->span, now)
                          : passed(s->last, pg->span, now);
}

/* Eviction weight of a live slot: the events its group holds (for
 * event_count the count in the window, for the other types every event
 * added since the state began); -1 when expired (nothing to lose). */
static int64_t slot_weight(const corr_prog_t *pg, const corr_slot_t *s, int64_t now)
{
    return slot_expired(pg, s, now) ? -1 : s->count;
}

/* A slot for a new group: an empty one in the probe window, else an
 * expired one (a closed window is evaluated first), else the live group
 * holding the fewest events, the oldest last-seen among equals.  So a flood
 * of one-off groups (one event each) only pushes out one-off groups: a
 * group that is building up (a brute force at 7 of 8) keeps its count
 * (docs/CORRELATION.md "Eviction"). */
static corr_slot_t *slot_claim(upd_t *u, int ci, item_t *it)
{
    const iw_corr_t *c = u->c;
    corr_hdr_t *h = u->h;
    corr_part_t *pt = u->pt;
    uint64_t k, probe = probe_len(h);
    corr_slot_t *v = NULL;
    const corr_prog_t *pv = NULL, *pg = &c->progs[ci];
    int64_t vw = 0;
    size_t gl;

    if (!probe) return NULL;
    for (k = 0; k < probe; k++) {
        corr_slot_t *s = probe_at(h, &it->w, k);
        const corr_prog_t *ps = slot_prog(c, pt, s);
        int64_t w;
        if (!ps) { v = s; pv = NULL; break; }
        w = slot_weight(ps, s, u->now);
        if (!v || w < vw || (w == vw && s->last < v->last)) { v = s; pv = ps; vw = w; }
    }
    if (pv) {
        if (slot_expired(pv, v, u->now)) {
            if (pv->close_mode) close_window(u, pv, v, -1);
            pt->recycled++;
        } else {
            pt->evictions++;
        }
        slot_free(pt, v);
    }
    v->ci1 = (uint32_t)ci + 1;
    v->ghash = it->gh;
    state_clear(pg, v);
    gl = strlen(item_group(u, it));
    if (gl >= sizeof(v->group)) gl = sizeof(v->group) - 1;
    memcpy(v->group, it->group, gl);
    v->group[gl] = 0;
    pt->used++;
    return v;
}

/* ---- per-type updates ---------------------------------------------------- */

/* event_count, sliding: a sorted array of (timestamp, events at it). */
static void ec_expire(const corr_prog_t *pg, corr_slot_t *s, int64_t newest)
{
    corr_tsn_t *e = payload(s);
    uint32_t k = 0;
    while (k < s->n && passed(e[k].ts, pg->span, newest)) s->count -= e[k++].n;
    if (k) { memmove(e, e + k, (s->n - k) * sizeof(*e)); s->n -= k; }
}

/* Above IW_CORR_MAX_ELEMS the two closest timestamps share an element,
 * dated by the earlier one: counts stay exact, expiry errs early (never a
 * false alert). */
static void ec_merge_closest(corr_slot_t *s)
{
    corr_tsn_t *e = payload(s);
    uint32_t i, best = 0;
    for (i = 1; i + 1 < s->n; i++)
        if ((uint64_t)e[i + 1].ts - (uint64_t)e[i].ts
            < (uint64_t)e[best + 1].ts - (uint64_t)e[best].ts)
            best = i;
    e[best].n += e[best + 1].n;
    memmove(e + best + 1, e + best + 2, (s->n - best - 2) * sizeof(*e));
    s->n--;
}

static void ec_add(const corr_prog_t *pg, corr_slot_t *s, int64_t t)
{
    corr_tsn_t *e = payload(s);
    uint32_t i;

    for (i = s->n; i > 0 && e[i - 1].ts > t; i--) ;
    if (i > 0 && e[i - 1].ts == t) { e[i - 1].n++; s->count++; return; }
    if (s->n >= (uint32_t)pg->cap) {
        if (pg->approx && s->n >= 2) {
            ec_merge_closest(s);
        } else {  /* exact: the oldest cannot matter any more */
            if (i == 0) return;
            s->count -= e[0].n;
            memmove(e, e + 1, (s->n - 1) * sizeof(*e));
            s->n--;
        }
        for (i = s->n; i > 0 && e[i - 1].ts > t; i--) ;
    }
    memmove(e + i + 1, e + i, (s->n - i) * sizeof(*e));
    e[i].ts = t;
    e[i].n = 1;
    s->n++;
    s->count++;
    s->first = e[0].ts;
}

/* value_count: (value hash, last seen) pairs, unordered. */
static void vc_expire(const corr_prog_t *pg, corr_slot_t *s, int64_t newest)
{
    corr_val_t *v = payload(s);
    uint32_t i, k = 0;
    for (i = 0; i < s->n; i++)
        if (!passed(v[i].ts, pg->span, newest)) v[k++] = v[i];
    s->n = k;
}

static void vc_add(const corr_prog_t *pg, corr_slot_t *s, uint64_t vh, int64_t t)
{
    corr_val_t *v = payload(s);
    uint32_t i, old = 0;
    for (i = 0; i < s->n; i++)
        if (v[i].h == vh) { if (t > v[i].ts) v[i].ts = t; return; }
    if (s->n < (uint32_t)pg->cap) { v[s->n].h = vh; v[s->n].ts = t; s->n++; return; }
    if (pg->close_mode || !s->n) return;     /* set is full: count saturated */
    for (i = 1; i < s->n; i++) if (v[i].ts < v[old].ts) old = i;
    if (v[old].ts < t) { v[old].h = vh; v[old].ts = t; }
}

/* temporal_ordered: pt[p] = latest start of a chain that reached step p.
 * Order is timestamp order: httpd logs a request when it ends, so a short
 * request may arrive before a slower one that began earlier; an event that
 * began before the chain's start does not extend it (equal timestamps keep
 * arrival order: 1-second log resolution). */
static void ord_step(const corr_prog_t *pg, int64_t *pt, int pos, int64_t t)
{
    if (pos == 0) {
        if (pt[0] == IW_CORR_UNSET || t > pt[0]) pt[0] = t;
        return;
    }
    if (pt[pos - 1] == IW_CORR_UNSET || t < pt[pos - 1]) return;
    if (!pg->close_mode && passed(pt[pos - 1], pg->span, t)) return;
    if (pt[pos] == IW_CORR_UNSET || pt[pos - 1] > pt[pos]) pt[pos] = pt[pos - 1];
}

static void add_event(const corr_prog_t *pg, corr_slot_t *s, const item_t *it,
                      int64_t t, int64_t newest)
{
    int64_t *pt = payload(s);
    switch (pg->type) {
    case IW_CORR_EVENT_COUNT:
        if (pg->close_mode) { s->count++; break; }
        ec_expire(pg, s, newest);
        ec_add(pg, s, t);
        break;
    case IW_CORR_VALUE_COUNT:
        if (pg->approx) {
            if (s->first != IW_CORR_UNSET && passed(s->first, pg->span, t)) {
                state_clear(pg, s);     /* tumbling window (rising mode) */
                s->last = newest;
            }
            if (s->first == IW_CORR_UNSET) s->first = t;
            vb_add(pg, s, it->vh);
            break;
        }
        if (!pg->close_mode) vc_expire(pg, s, newest);
        vc_add(pg, s, it->vh, t);
        break;
    case IW_CORR_TEMPORAL:
        if (pt[it->pos] == IW_CORR_UNSET || t > pt[it->pos]) pt[it->pos] = t;
        break;
    default:
        ord_step(pg, pt, it->pos, t);
        break;
    }
    if (pg->type != IW_CORR_EVENT_COUNT)
        s->count++;             /* events held: the eviction weight */
}

/* Lower bounds only: decide on this event.  When it fires, the group goes
 * quiet for one timespan from that event: one alert per group and window,
 * not one at every re-crossing of the threshold (the events meanwhile are
 * the same attack going on; they keep the slot's weight, nothing else). */
static void apply_rising(upd_t *u, const corr_prog_t *pg, corr_slot_t *s, int cur)
{
    int64_t t = u->now, newest, first, n;

    if (s->flags & IW_CORR_FIRED) {
        if (!passed(s->first, pg->span, t)) {
            if (t > s->last) s->last = t;
            s->count++;
            return;
        }
        state_clear(pg, s);             /* a new window begins */
    }
    if (s->last != IW_CORR_UNSET && passed(t, pg->span, s->last)) {
        u->pt->late++;  /* older than the group's window: nothing to add to */
        return;
    }
    newest = (s->last == IW_CORR_UNSET || t > s->last) ? t : s->last;
    s->last = newest;
    add_event(pg, s, &u->items[cur], t, newest);
    n = held_count(pg, s, newest, &first);
    if (pg->type != IW_CORR_EVENT_COUNT) s->first = first;
    if (cond_ok(pg, n)) {
        fire(u, pg, s, cur, n, first, newest);
        state_clear(pg, s);
        s->flags = IW_CORR_FIRED;
        s->first = s->last = newest;
        s->count = n;                   /* its weight (eviction) */
    }
}

/* Upper bound / neq: count over [first, first + span); decided when an
 * event of the group (or iw_corr_flush) passes the window's end. */
static void apply_close(upd_t *u, const corr_prog_t *pg, corr_slot_t *s, int cur)
{
    int64_t t = u->now;

    if (s->first != IW_CORR_UNSET && passed(s->first, pg->span, t)) {
        close_window(u, pg, s, cur);
        state_clear(pg, s);
    }
    if (s->first == IW_CORR_UNSET) {
        s->first = s->last = t;
    } else if (passed(t, pg->span, s->first)) {
        u->pt->late++;  /* a whole window older than the open one */
        return;
    } else if (t > s->last) {
        s->last = t;
    }
    add_event(pg, s, &u->items[cur], t, s->last);
}

static int is_dup(const upd_t *u, int i)
{
    const item_t *it = &u->items[i];
    int j, per_pos = u->c->progs[it->ci].type == IW_CORR_TEMPORAL
                     || u->c->progs[it->ci].type == IW_CORR_TEMPORAL_ORDERED;
    for (j = 0; j < i; j++)
        if (u->items[j].ci == it->ci && u->items[j].gh == it->gh
            && (!per_pos || u->items[j].pos == it->pos))
            return 1;
    return 0;
}

static void apply_item(upd_t *u, int cur)
{
    item_t *it = &u->items[cur];
    const corr_prog_t *pg = &u->c->progs[it->ci];
    corr_slot_t *s;

    if (is_dup(u, cur)) return;             /* an event counts once per group */
    if (hold_part(u, it->w.part)) return;   /* lock failed: counted */
    if (!u->counted) { u->pt->updates++; u->counted = 1; }
    if (pg->type == IW_CORR_VALUE_COUNT && !it->has_v) return;
    s = slot_find(u->c, u->h, u->pt, it->ci, it->gh, &it->w);
    if (!s && !(s = slot_claim(u, it->ci, it))) return;
    if (pg->close_mode) apply_close(u, pg, s, cur);
    else apply_rising(u, pg, s, cur);
}

/* ---- entry points -------------------------------------------------------- */

int iw_corr_update(const iw_corr_t *c, void *mem, iw_event_t *ev,
                   const iw_hit_t *hits, int nhits,
                   apr_time_t now, iw_corr_alert_t *out, int max)
{
    upd_t u;
    int i;

    if (!hits || nhits <= 0 || !(u.h = hdr_for(c, mem))) return 0;
    u.c = c;
    u.ev = ev;
    u.now = now;
    u.out = out;
    u.max = out ? max : 0;
    u.nout = u.nitems = u.overflow = u.counted = 0;
    u.pt = NULL;
    u.pi = NO_PART;
    for (i = 0; i < nhits; i++) feed_rule(&u, 0, hits[i].rule);
    if (!u.nitems) return 0;        /* no correlation fed: no lock */
    if (iw_corr__test_lock(u.h)) return 0;   /* none in production */
    /* items in order, each under its partition's lock (a chained
     * correlation fired here appends items: seen by this same loop) */
    for (i = 0; i < u.nitems; i++) apply_item(&u, i);
    if (u.overflow && u.pt) u.pt->dropped += (uint64_t)u.overflow;
    else if (u.overflow) __atomic_fetch_add(&u.h->dropped, (uint64_t)u.overflow,
                                            __ATOMIC_RELAXED);
    release_part(&u);
    iw_corr__test_unlock();
    return u.nout;
}

/* Close the expired windows of partition p (its lock held). */
static void flush_part(upd_t *u, uint64_t p)
{
    uint64_t i, n = u->h->part_slots;
    for (i = p * n; i < (p + 1) * n; i++) {
        corr_slot_t *s = slot_at(u->h, i);
        const corr_prog_t *pg = slot_prog(u->c, u->pt, s);
        if (!pg || !slot_expired(pg, s, u->now)) continue;
        if (pg->close_mode) {
            if (u->nout >= u->max && !pg->silent && s->first != IW_CORR_UNSET
                && cond_ok(pg, held_count(pg, s, s->last, NULL)))
                continue;               /* no room: stays for the next call */
            close_window(u, pg, s, -1);
        }
        slot_free(u->pt, s);
        u->pt->recycled++;
    }
}

int iw_corr_flush(const iw_corr_t *c, void *mem, apr_time_t now,
                  iw_corr_alert_t *out, int max)
{
    upd_t u;
    uint64_t p;

    if (!(u.h = hdr_for(c, mem))) return 0;
    u.c = c;
    u.ev = NULL;
    u.now = now;
    u.out = out;
    u.max = out ? max : 0;
    u.nout = u.nitems = u.overflow = u.counted = 0;
    u.pt = NULL;
    u.pi = NO_PART;
    if (iw_corr__test_lock(u.h)) return 0;   /* none in production */
    for (p = 0; p < u.h->nparts; p++)
        if (u.h->part_slots && hold_part(&u, p) == 0) flush_part(&u, p);
    release_part(&u);
    iw_corr__test_unlock();
    return u.nout;
}

int iw_corr_peek(const iw_corr_t *c, const void *mem, const iw_rule_t *rule,
                 iw_event_t *ev, int64_t *count)
{
    corr_hdr_t *h = hdr_for(c, (void *)mem);
    const corr_prog_t *pg;
    corr_slot_t *s;
    item_t it;
    where_t w;
    int ci;

    if (count) *count = 0;
    if (!h || !rule || rule->index < 0 || rule->index >= c->nrules) return 0;
    if ((ci = c->ci_of_rule[rule->index]) < 0) return 0;
    pg = &c->progs[ci];
    item_fill(pg, 0, ev, h->seed, &it);
    if (!h->part_slots) return 0;
    w = where_of(h, it.gh, ci);
    if (!(s = slot_find(c, h, NULL, ci, it.gh, &w))) return 0;
    /* a group that alerted in this window holds nothing toward the next */
    if (count) *count = (s->flags & IW_CORR_FIRED) ? 0 : held_count(pg, s, s->last, NULL);
    return 1;
}

int iw_corr__partition(const iw_corr_t *c, const void *mem,
                       const iw_rule_t *rule, iw_event_t *ev)
{
    corr_hdr_t *h = hdr_for(c, (void *)mem);
    item_t it;
    int ci;

    if (!h || !rule || rule->index < 0 || rule->index >= c->nrules) return -1;
    if ((ci = c->ci_of_rule[rule->index]) < 0) return -1;
    item_fill(&c->progs[ci], 0, ev, h->seed, &it);
    return (int)where_of(h, it.gh, ci).part;
}
