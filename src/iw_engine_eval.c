/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_eval: evaluate events with the compiled program of
 * iw_engine_int.h (with a thread's scratch, iw_engine_scratch.c): the
 * scan phase, candidate rules, evidence, the event cache and evaluation
 * errors.  The whole hot path is in this file (no LTO: a call across
 * files is never inlined). */
#include "iw_engine_int.h"
#include "iw_decode.h"
#include "iw_vs.h"

IW_HOT
const iw_engine_t *iw_scratch_engine(const iw_scratch_t *s)
{
    return s->e;
}

/* ---- evaluation ------------------------------------------------------------- */

/* A predicate whose matcher could not run (iw_engine_errors.c, cold). */
static inline void pred_error(iw_scratch_t *s, int32_t p, int field, int code)
{ iw_engine__pred_error(s, p, field, code); }

/* 1 match, 0 no match, < 0 the PCRE2 error (a limit: the regex could not
 * be evaluated).  Out of JIT stack, the interpreter tries again on the
 * heap (RX_HEAP_LIMIT, iw_engine_scratch.c). */
static int run_regex_from(iw_scratch_t *s, const rxcheck_t *rx, iw_str_t v, size_t from)
{
    int rc = rx->jit
        ? pcre2_jit_match(rx->code, (PCRE2_SPTR)v.p, v.len, from, 0, s->md, s->mctx)
        : pcre2_match(rx->code, (PCRE2_SPTR)v.p, v.len, from, 0, s->md, s->mctx);
    if (rc >= 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(rx->code, (PCRE2_SPTR)v.p, v.len, from, PCRE2_NO_JIT, s->md, s->mctx);
    if (rc >= 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    s->nrx_errors++;
    return rc;
}

static int run_regex(iw_scratch_t *s, const rxcheck_t *rx, iw_str_t v)
{
    return run_regex_from(s, rx, v, 0);
}

typedef struct scan_ctx {
    iw_scratch_t *s;
    int field;
    iw_str_t v;
    segment_t seg[NMERGE];         /* merged fields inside _raw */
    iw_str_t raw;                  /* raw split: all of _raw (on_confined) */
    iw_engine_memo_res_t *rec;          /* recording a field's result for the cache */
    const int32_t *kept; int nkept;     /* the reports of a scan done (uri_both), or NULL */
} scan_ctx_t;

static int on_match(unsigned id, unsigned long long from, unsigned long long to,
                    unsigned flags, void *ctx);

/* A new value to scan: forget which confirmations ran (on_match). */
static inline void rx_memo_reset(iw_scratch_t *s)
{
    if (++s->rxg == 0) {               /* wrapped: generation 0 marks nothing */
        memset(s->rxgen, 0, sizeof(uint32_t) * ((size_t)s->e->nrx + 1));
        s->rxg = 1;
    }
}

/* A predicate found by a field's scan (recorded for the cache). */
static inline void scan_set(scan_ctx_t *c, int32_t p)
{
    pred_set(c->s, p, c->field);
    if (c->rec) iw_engine_memo_res_add(c->rec, p, c->field);
}

/* A merged literal found in _raw: it counts when it lies inside the
 * segment of its field.  A raw split's literal (slot -1) found in
 * cs-headers counts as it is, for _raw. */
static void on_confined(scan_ctx_t *c, const confent_t *ce, unsigned long long to)
{
    const segment_t *sg = &c->seg[ce->slot < 0 ? 0 : ce->slot];
    int field = c->field;
    iw_str_t v = c->v;

    if (ce->slot < 0) {                /* a regex (a wildcard value) reads all of _raw */
        const iw_engine_t *e = c->s->e;
        int32_t i;
        for (i = e->pat_act_first[ce->pat]; c->rec && i < e->pat_act_first[ce->pat + 1]; i++)
            if (e->acts[i] < 0) c->rec->overflow = 1;   /* not of this value alone */
        c->field = ce->field;
        c->v = c->raw;
        on_match((unsigned)ce->pat, 0, to, 0, c);
        c->field = field;
        c->v = v;
        return;
    }
    if (!sg->ok || to < (unsigned long long)ce->len
        || to - (unsigned long long)ce->len < sg->off || to > sg->off + sg->len)
        return;
    c->field = ce->field;
    c->v = (iw_str_t){ v.p + sg->off, sg->len };
    rx_memo_reset(c->s);
    on_match((unsigned)ce->pat, 0, to, 0, c);
    rx_memo_reset(c->s);
    c->field = field;
    c->v = v;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to,
                    unsigned flags, void *ctx)
{
    scan_ctx_t *c = ctx;
    const iw_engine_t *e = c->s->e;
    int32_t i;
    (void)from; (void)flags;
    if (id >= (unsigned)e->npatterns) {
        on_confined(c, &e->conf[id - (unsigned)e->npatterns], to);
        return 0;
    }
    for (i = e->pat_act_first[id]; i < e->pat_act_first[id + 1]; i++) {
        int32_t a = e->acts[i];
        if (a >= 0) {
            scan_set(c, a);
        } else {
            /* while recording, confirm even what an earlier field already
             * set: the cached result must not depend on other fields.  A
             * regex runs once per scanned value: a prefilter without
             * SINGLEMATCH (one byte wide) reports at every match, and the
             * answer on the whole value is the same each time. */
            const rxcheck_t *rx = &e->rx[-1 - a];
            int rc;
            if (!c->rec && pred_is_set(c->s, rx->pred)) continue;
            if (c->s->rxgen[-1 - a] == c->s->rxg) continue;
            c->s->rxgen[-1 - a] = c->s->rxg;
            if ((rc = run_regex(c->s, rx, c->v)) > 0) {
                scan_set(c, rx->pred);
            } else if (rc < 0) {
                pred_error(c->s, rx->pred, c->field, rc);
                if (c->rec) c->rec->overflow = 1;   /* not a result to remember */
            }
        }
    }
    return 0;
}

static void on_cidr(void *ctx, int32_t pred)
{
    scan_ctx_t *c = ctx;
    pred_set(c->s, pred, c->field);
}

/* A predicate set by value x of a multi-valued field: the evidence shows
 * x, not the whole list (only predicates set since touched[n0]). */
static void multi_note(iw_scratch_t *s, int n0, iw_str_t x)
{
    int i;
    for (i = n0; i < s->ntouched; i++) {
        int32_t p = s->touched[i];
        s->pval[p] = x;
        s->pvgen[p] = s->gen;
    }
}

static unsigned char lower_tab[256];

__attribute__((constructor)) static void lower_tab_init(void)
{
    int i;
    for (i = 0; i < 256; i++)
        lower_tab[i] = (unsigned char)(i >= 'A' && i <= 'Z' ? i + 32 : i);
}

static inline int lit_eq(const unsigned char *v, const litpat_t *l)
{
    uint32_t i;
    if (!l->caseless) return v[0] == l->b[0] && memcmp(v, l->b, l->len) == 0;   /* len >= 1 */
    for (i = 0; i < l->len; i++)
        if (lower_tab[v[i]] != l->b[i]) return 0;
    return 1;
}

static int __attribute__((noinline)) lit_contains(const litpat_t *l, const unsigned char *v, size_t n)
{
    size_t i, last = n - l->len;
    for (i = 0; i <= last; i++)   /* first byte filter, then compare */
        if ((l->caseless ? lower_tab[v[i]] : v[i]) == l->b[0] && lit_eq(v + i, l)) return 1;
    return 0;
}

/* Inline: a length or an anchored end byte decides most values. */
static inline int lit_match(const litpat_t *l, const unsigned char *v, size_t n)
{
    if (n < l->len || !l->len) return 0;
    if (!l->open_s && !l->open_e) return n == l->len && lit_eq(v, l);
    if (!l->open_s) return lit_eq(v, l);
    if (!l->open_e) return lit_eq(v + n - l->len, l);
    return lit_contains(l, v, n);
}

/* b, or its lower case, in the byte set m */
static inline int byte_in(const uint64_t *m, unsigned char b)
{
    return ((m[b >> 6] >> (b & 63)) & 1) || ((m[lower_tab[b] >> 6] >> (lower_tab[b] & 63)) & 1);
}

static void lit_scan(const iw_engine_t *e, const fieldm_t *fm, int with_contains, scan_ctx_t *c)
{
    int i;
    const unsigned char *v = (const unsigned char *)c->v.p;
    size_t n = c->v.len;
    const range_t *r = &fm->lits;
    /* no anchored literal can match its end bytes, no contains one to try */
    if (n && !(with_contains && fm->lit_open) && !byte_in(fm->lit_first, v[0])
        && !byte_in(fm->lit_last, v[n - 1]))
        return;
    for (i = 0; i < r->n; i++) {
        const litpat_t *l = &e->lits[r->first + i];
        unsigned char b;
        if (l->open_s && l->open_e && !with_contains) continue;
        /* anchored: one byte decides most values without a call */
        if (!l->len || n < l->len) continue;
        if (!l->open_s || !l->open_e) {
            b = l->open_s ? v[n - 1] : v[0];
            if ((l->caseless ? lower_tab[b] : b) != l->b[l->open_s ? l->len - 1 : 0]) continue;
        }
        if (lit_match(l, v, n))
            on_match((unsigned)l->id, 0, 0, 0, c);
    }
}

static void ex_lookup(const extab_t *x, int lower, scan_ctx_t *c)
{
    const unsigned char *v = (const unsigned char *)c->v.p;
    uint64_t h;
    uint32_t k, i;
    /* most values have a length no exact value has: no hashing then */
    if (c->v.len > x->maxlen) return;
    if (c->v.len < 256 ? !((x->lens[c->v.len >> 6] >> (c->v.len & 63)) & 1) : !x->long_values)
        return;
    h = iw_engine__hash_bytes(v, c->v.len, lower);
    for (k = (uint32_t)h & x->mask; x->t[k].b; k = (k + 1) & x->mask) {
        const exent_t *en = &x->t[k];
        if (en->h != h || en->len != c->v.len) continue;
        for (i = 0; i < en->len; i++)
            if ((lower ? lower_tab[v[i]] : v[i]) != en->b[i]) break;
        if (i == en->len) on_match((unsigned)en->id, 0, 0, 0, c);
    }
}

/* A regex run on every event, on a multi-valued field: any value. */
static void __attribute__((noinline)) rx_multi(iw_scratch_t *s, const rxcheck_t *rx, int field,
                                               iw_str_t list)
{
    size_t pos = 0;
    iw_str_t x;
    int rc;
    while (iw_param_next(list, &pos, &x)) {
        int n0 = s->ntouched;
        if ((rc = run_regex(s, rx, x)) > 0) {
            pred_set(s, rx->pred, field);
            multi_note(s, n0, x);
            return;
        }
        if (rc < 0) pred_error(s, rx->pred, field, rc);
    }
}

/* A regex on one value (a Vectorscan-rejected one on every event, or a
 * lazy one). */
static void rx_one(iw_scratch_t *s, const rxcheck_t *rx, int field, iw_str_t v)
{
    int rc = run_regex(s, rx, v);
    if (rc > 0) pred_set(s, rx->pred, field);
    else if (rc < 0) pred_error(s, rx->pred, field, rc);
}

/* A lazy literal on a multi-valued field: any value. */
static int __attribute__((noinline)) lazy_multi(iw_scratch_t *s, int32_t p, const lazyent_t *z,
                                                iw_str_t list)
{
    size_t pos = 0;
    iw_str_t x;
    while (iw_param_next(list, &pos, &x)) {
        if (x.len && lit_match(&z->l, (const unsigned char *)x.p, x.len)) {
            int n0 = s->ntouched;
            pred_set(s, p, z->field);
            multi_note(s, n0, x);
            return 1;
        }
    }
    return 0;
}

/* A lazy predicate, on first read in an event: its literals compared
 * against its field, its regexes run on it (what the scan would have
 * found there). */
static void lazy_eval(const iw_engine_t *e, iw_scratch_t *s, int32_t p)
{
    int32_t i;
    int field = -1;
    iw_str_t v = IW_STR_NULL;
    for (i = e->lz_first[p]; i < e->lz_first[p + 1]; i++) {
        const lazyent_t *z = &e->lz[i];
        if (z->dc >= 0) {
            if (iw_engine__direct_one(s, &e->ldc[z->dc])) {
                pred_set(s, p, z->field);
                return;
            }
            continue;
        }
        if (z->field != field) {
            field = z->field;
            v = iw_event_get(s->ev, (iw_field_id_t)field);
        }
        if (z->rx >= 0) {          /* as the scan's confirmation would run it */
            if (iw_field_is_multi(field)) rx_multi(s, &e->rx[z->rx], field, v);
            else if (v.p && v.len) rx_one(s, &e->rx[z->rx], field, v);
            if (pred_is_set(s, p)) return;
            continue;
        }
        if (iw_field_is_multi(field)) {
            if (lazy_multi(s, p, z, v)) return;
            continue;
        }
        if (v.p && v.len && lit_match(&z->l, (const unsigned char *)v.p, v.len)) {
            pred_set(s, p, field);
            return;
        }
    }
}

/* a[0, n) == b[0, n), 0 < n <= LZM_BYTES: a method or version without a call
 * (overlapping loads from both ends) */
static inline int short_eq(const char *a, const char *b, size_t n)
{
    uint64_t x, y, z, w;
    uint32_t i, j, k, l;
    if (n > 16) return !memcmp(a, b, n);
    if (n < 4) return a[0] == b[0] && a[n >> 1] == b[n >> 1] && a[n - 1] == b[n - 1];
    if (n < 8) {
        memcpy(&i, a, 4); memcpy(&j, b, 4); memcpy(&k, a + n - 4, 4); memcpy(&l, b + n - 4, 4);
        return !((i ^ j) | (k ^ l));
    }
    memcpy(&x, a, 8); memcpy(&y, b, 8); memcpy(&z, a + n - 8, 8); memcpy(&w, b + n - 8, 8);
    return !((x ^ y) | (z ^ w));
}

/* lazy_eval_memo's other ways: lazy_eval, and the result kept for a short
 * value. */
static void __attribute__((noinline)) lazy_eval_keep(const iw_engine_t *e, iw_scratch_t *s, int32_t p,
                                                     iw_str_t v)
{
    lzm_slot_t *m = &s->lzm[p & (LZM_SLOTS - 1)];
    lazy_eval(e, s, p);
    if (v.len > LZM_BYTES || e->lzlit[p] < 0) return;
    m->tag = p + 1;
    memcpy(m->b, v.p, v.len);
    m->len = (uint8_t)v.len;
    m->res = (uint8_t)pred_is_set(s, p);
}

/* lazy_eval through s->lzm: a literal-only predicate (e->lzlit) on the same
 * bytes as the last time answers as then (a filter of registered methods
 * or versions is read by every event, on a handful of values) without a
 * frame; the others, and longer values, leave the slots alone. */
static void __attribute__((noinline)) lazy_eval_memo(const iw_engine_t *e, iw_scratch_t *s, int32_t p)
{
    const lzm_slot_t *m = &s->lzm[p & (LZM_SLOTS - 1)];
    int field = e->lzlit[p];
    iw_str_t v = IW_STR_NULL;

    if (field >= 0) {
        v = iw_event_get(s->ev, (iw_field_id_t)field);
        if (!v.p || !v.len) return;    /* no literal matches nothing */
        if (m->tag == p + 1 && v.len == m->len && short_eq(v.p, m->b, v.len)) {
            if (m->res) pred_set(s, p, field);
            return;
        }
    }
    lazy_eval_keep(e, s, p, v);
}

static inline __attribute__((always_inline)) int pred_val(const iw_engine_t *e, iw_scratch_t *s, int32_t p)
{
    if (pred_is_set(s, p)) return 1;
    if (!((e->lazy[p >> 6] >> (p & 63)) & 1) || s->pgen[p] == s->gen) return 0;
    s->pgen[p] = s->gen;
    lazy_eval_memo(e, s, p);
    return pred_is_set(s, p);
}

/* Where the merged header fields lie inside _raw (the request line, then
 * "Name: value\n" per header in order, see iw_event.c): computed from the
 * event's headers and verified byte for byte, so any other layout (or a
 * truncated _raw) only costs the separate scans. */
static void find_segments(iw_event_t *ev, iw_str_t raw, segment_t *seg)
{
    const char *nl;
    size_t off;
    int k, i;

    for (k = 0; k < NMERGE; k++) seg[k].ok = 0;
    if (!raw.p || !(nl = memchr(raw.p, '\n', raw.len))) return;
    for (k = 0; k < NMERGE; k++) {
        iw_str_t v = ev->val[merge_fields[k]];
        if (!v.p || !v.len) continue;
        off = (size_t)(nl - raw.p) + 1;
        for (i = 0; i < ev->nhdrs; i++) {
            if (ev->hdr_values[i].p == v.p && ev->hdr_values[i].len == v.len) break;
            off += ev->hdr_names[i].len + 2 + ev->hdr_values[i].len + 1;
        }
        if (i == ev->nhdrs) continue;
        off += ev->hdr_names[i].len + 2;
        if (off <= raw.len && v.len <= raw.len - off && !memcmp(raw.p + off, v.p, v.len)) {
            seg[k].off = off;
            seg[k].len = v.len;
            seg[k].ok = 1;
        }
    }
}

/* _raw without its header block when cs-headers' scan covers the block
 * (e->raw_split, iw_engine_rawsplit.c): _raw ends with LF and cs-headers'
 * bytes, as lazy_raw writes it when nothing was cut. */
static iw_str_t raw_head(iw_event_t *ev, iw_str_t raw)
{
    iw_str_t h = iw_event_get(ev, IW_F_CS_HEADERS);
    if (h.len && h.len < raw.len && raw.p[raw.len - h.len - 1] == '\n'
        && !memcmp(raw.p + raw.len - h.len, h.p, h.len))
        raw.len -= h.len;
    return raw;
}

/* 1 when v holds a byte of the gate (fieldm_t.gate) */
static int gate_open(const uint8_t *g, iw_str_t v)
{
    const unsigned char *p = (const unsigned char *)v.p, *end = p + v.len;
#ifdef IW_GATE_SIMD
    if (v.len >= 16 && iw_engine__gate_ssse3) return iw_engine__gate_open16(g, p, v.len);
#endif
    for (; p < end; p++)
        if (g[*p]) return 1;
    return 0;
}

/* Which database scans c->v (NULL: only the exact and literal checks). */
static hs_database_t *field_db(const fieldm_t *fm, const scan_ctx_t *c, int short_small)
{
    size_t n = c->v.len;
    if (fm->merged && c->seg[iw_engine__merge_slot(c->field)].ok)
        return fm->rest && n >= fm->rest_minw && (!fm->gate || gate_open(fm->gate, c->v))
               ? fm->rest : NULL;
    if (!fm->db || short_small || n < fm->db_minw) return NULL;
    if (fm->gate && !gate_open(fm->gate, c->v)) return NULL;
    if (fm->plain_mode != PLAIN_OFF && iw_match_plain_value(c->v.p, n))
        return fm->plain_mode == PLAIN_DB && n >= fm->plain_minw ? fm->plain : NULL;
    return fm->db;
}

/* Every matcher of one field on c->v. */
/* A Vectorscan scan that failed (iw_engine_errors.c). */
static void __attribute__((cold)) scan_failed(const iw_engine_t *e, iw_scratch_t *s,
                                              scan_ctx_t *c, int rc)
{
    iw_engine__scan_failed(e, s, c->field, c->rec, rc);
}

/* ---- header lines (hlines_t, iw_engine_int.h) ------------------------------ */

#define HL_TODO_MAX 64             /* actions of one block; more: the whole database */
_Static_assert(IW_F__COUNT < 63, "class 63 of the scan cache is the header lines'");

typedef struct hl_ctx {
    scan_ctx_t *c;
    iw_str_t w;                    /* the window scanned */
    int32_t ids[IW_ENGINE_MEMO_MAX_PREDS];
    int n, full;                   /* full: stopped, the whole database decides */
} hl_ctx_t;

/* A line database match: the action, once per window; a line-local
 * branch only when PCRE2 confirms it on the window (past a limit: the
 * whole database scans the block, and reports it as always). */
static int on_line_match(unsigned id, unsigned long long from, unsigned long long to,
                         unsigned flags, void *ctx)
{
    hl_ctx_t *h = ctx;
    const hlact_t *a = &h->c->s->e->hl[id];
    int32_t v = (int32_t)id, i;
    (void)from; (void)to; (void)flags;

    for (i = 0; i < h->n; i++) if (h->ids[i] == v) return 0;
    if (a->kind == HL_LINE) {
        rxcheck_t rx = { a->code, a->jit, 0 };
        int rc = run_regex(h->c->s, &rx, h->w);
        if (rc == 0) return 0;
        if (rc < 0) return h->full = 1;
    }
    if (h->n == IW_ENGINE_MEMO_MAX_PREDS) return h->full = 1;
    h->ids[h->n++] = v;
    return 0;
}

/* The actions one window sets, through the scan cache (class 63). */
static int hl_window(const iw_engine_t *e, iw_scratch_t *s, hl_ctx_t *h, const hlines_t *hl,
                     int ti)
{
    iw_engine_memo_key_t key;
    const iw_engine_memo_res_t *hit;
    iw_engine_memo_res_t rec;
    size_t rlen;
    int k, cache;

    h->n = h->full = 0;
    if (h->w.len < hl->line_minw) return 0;
    key = (iw_engine_memo_key_t){ .tag = 63u | 1u << 6 | (uint32_t)h->c->field << 8 | (uint32_t)ti << 16,
                                  .v = h->w.p, .n = h->w.len };
    cache = s->sc && iw_engine_memo_wanted(s->sc, key.tag) && iw_engine_memo_key(&key);
    if (cache && (hit = iw_engine_memo_get(s->sc, &key, &rlen))) {
        for (k = 0; k < hit->n; k++) h->ids[k] = hit->pred[k];
        h->n = hit->n;
        return 0;
    }
    if (iw_vs_scan(hl->line_db, h->w.p, (unsigned)h->w.len, 0, s->hs, on_line_match, h) != HS_SUCCESS)
        return -1;
    if (cache) {
        rec.n = h->n;
        rec.overflow = 0;
        for (k = 0; k < h->n; k++) { rec.pred[k] = h->ids[k]; rec.field[k] = 0; }
        iw_engine_memo_put(s->sc, &key, &rec, iw_engine_memo_res_len(&rec));
    }
    return 0;
}

/* The actions to run on the block, each once (hlgen), with the offset of
 * the first line that asked for it. */
typedef struct hl_block {
    iw_scratch_t *s;
    int32_t todo[HL_TODO_MAX]; size_t off[HL_TODO_MAX]; int ntodo;
} hl_block_t;

static int hl_todo(hl_block_t *bk, int32_t v, size_t off)
{
    if (bk->s->hlgen[v] == bk->s->hlg) return 0;
    if (bk->ntodo == HL_TODO_MAX) return -1;
    bk->s->hlgen[v] = bk->s->hlg;
    bk->off[bk->ntodo] = off;
    bk->todo[bk->ntodo++] = v;
    return 0;
}

static int on_block_match(unsigned id, unsigned long long from, unsigned long long to,
                          unsigned flags, void *ctx)
{
    (void)from; (void)to; (void)flags;
    return hl_todo(ctx, (int32_t)id, 0) < 0;   /* too many: stop, scan the block */
}

/* The predicate of action i of a pattern (set directly or by a regex). */
static inline int32_t act_pred(const iw_engine_t *e, int32_t i)
{
    return e->acts[i] >= 0 ? e->acts[i] : e->rx[-1 - e->acts[i]].pred;
}

/* Every predicate of pattern pat (a branch of it matched the block). */
static void hl_set_pat(const iw_engine_t *e, scan_ctx_t *c, int32_t pat)
{
    int32_t i;
    for (i = e->pat_act_first[pat]; i < e->pat_act_first[pat + 1]; i++) scan_set(c, act_pred(e, i));
}

/* One action on the block.  An HL_BLOCK branch found through its literals
 * in a line starting at off matches, if at all, from off - pre on: every
 * match holds a literal at most pre bytes after its start, and the lines
 * before held none.  PCRE2 from there sees the whole block (lookbehinds
 * read the bytes before). */
static void hl_fire(const iw_engine_t *e, iw_scratch_t *s, scan_ctx_t *c, int32_t v, size_t off)
{
    const hlact_t *a = &e->hl[v];
    int32_t i;

    if (a->kind == HL_PAT) {
        on_match((unsigned)a->pat, 0, 0, 0, c);
    } else if (a->kind == HL_LINE) {
        hl_set_pat(e, c, a->pat);
    } else {
        rxcheck_t rx = { a->code, a->jit, 0 };
        int rc, all = 1;
        for (i = e->pat_act_first[a->pat]; i < e->pat_act_first[a->pat + 1] && all; i++)
            all = pred_is_set(s, act_pred(e, i));
        if (all && !c->rec) return;
        off = a->pre < 0 || (size_t)a->pre >= off ? 0 : off - (size_t)a->pre;
        if ((rc = run_regex_from(s, &rx, c->v, off)) > 0) {
            hl_set_pat(e, c, a->pat);
        } else if (rc < 0) {
            for (i = e->pat_act_first[a->pat]; i < e->pat_act_first[a->pat + 1]; i++)
                pred_error(s, act_pred(e, i), c->field, rc);
            if (c->rec) c->rec->overflow = 1;
        }
    }
}

/* The block c->v line by line: each window's actions (cached), the block
 * database, then the actions on the block.  0, or -1 when the plan cannot
 * answer (the caller scans the block with the whole database). */
static int scan_lines(const iw_engine_t *e, iw_scratch_t *s, scan_ctx_t *c, const fieldm_t *fm,
                      int ti)
{
    const hlines_t *hl = fm->hl;
    const char *p = c->v.p, *end = p + c->v.len, *ls = p;
    hl_block_t bk;
    hl_ctx_t h;
    int k;

    if (++s->hlg == 0)                 /* wrapped: generation 0 marks nothing */
        memset(s->hlgen, 0, sizeof(uint32_t) * ((size_t)e->nhl + 1)), s->hlg = 1;
    bk.s = s;
    bk.ntodo = 0;
    h.c = c;
    while (ls < end) {
        const char *nl = memchr(ls, '\n', (size_t)(end - ls));
        const char *le = nl ? nl + 1 : end, *ws = ls == p ? ls : ls - 1;
        h.w = (iw_str_t){ ws, (size_t)(le - ws) };
        if (hl_window(e, s, &h, hl, ti) < 0) return -1;
        for (k = 0; k < h.n; k++)
            if (hl_todo(&bk, h.ids[k], (size_t)(ls - p)) < 0) return -1;
        ls = le;
    }
    if (hl->block_db && c->v.len >= hl->block_minw
        && iw_vs_scan(hl->block_db, c->v.p, (unsigned)c->v.len, 0, s->hs, on_block_match, &bk)
           != HS_SUCCESS)
        return -1;
    for (k = 0; k < bk.ntodo; k++) hl_fire(e, s, c, bk.todo[k], bk.off[k]);
    return 0;
}

static void scan_field(const iw_engine_t *e, iw_scratch_t *s, scan_ctx_t *c,
                       const fieldm_t *fm, hs_database_t *db, int short_small)
{
    hs_error_t rc;

    rx_memo_reset(s);
    if (fm->ex[0].n) ex_lookup(&fm->ex[0], 1, c);
    if (fm->ex[1].n) ex_lookup(&fm->ex[1], 0, c);
    if (fm->lits.n) lit_scan(e, fm, short_small, c);
    if (db && db == fm->db && fm->hl && scan_lines(e, s, c, fm, 0) == 0) return;
    if (db && c->kept) {               /* scanned with cs-uri (uri_both_scan) */
        for (int i = 0; i < c->nkept; i++) on_match((unsigned)c->kept[i], 0, 0, 0, c);
        return;
    }
    if (db && (rc = iw_vs_scan(db, c->v.p, (unsigned)c->v.len, 0, s->hs, on_match, c)) != HS_SUCCESS)
        scan_failed(e, s, c, rc);
}

/* The context a field's result depends on besides its bytes: for _raw,
 * where the merged fields lie (confined literals count only there). */
static size_t seg_key(const scan_ctx_t *c, uint32_t *out)
{
    int k;
    for (k = 0; k < NMERGE; k++) {
        out[3 * k] = (uint32_t)c->seg[k].ok;
        out[3 * k + 1] = c->seg[k].ok ? (uint32_t)c->seg[k].off : 0;
        out[3 * k + 2] = c->seg[k].ok ? (uint32_t)c->seg[k].len : 0;
    }
    return sizeof(uint32_t) * 3 * NMERGE;
}

/* One value's result added to a multi-valued field's (out: NULL = none). */
static void res_merge(iw_engine_memo_res_t *out, const iw_engine_memo_res_t *r)
{
    int k;
    if (!out) return;
    if (r->overflow) out->overflow = 1;
    for (k = 0; k < r->n && !out->overflow; k++) iw_engine_memo_res_add(out, r->pred[k], r->field[k]);
}

/* A cached result applied to the event, and added to out (may be NULL). */
static void res_apply(iw_scratch_t *s, const iw_engine_memo_res_t *r, iw_engine_memo_res_t *out)
{
    int k;
    for (k = 0; k < r->n; k++) pred_set(s, r->pred[k], r->field[k]);
    res_merge(out, r);
}

/* scan_field, its result recorded into rec (rec NULL: not recorded). */
static void scan_field_rec(const iw_engine_t *e, iw_scratch_t *s, scan_ctx_t *c, const fieldm_t *fm,
                           hs_database_t *db, int short_small, iw_engine_memo_res_t *rec)
{
    if (rec) rec->n = rec->overflow = 0;
    c->rec = rec;
    scan_field(e, s, c, fm, db, short_small);
    c->rec = NULL;
}

/* iw_engine_memo_key, a long value's bytes hashed once per event (its
 * pointer and length name it: the event's buffers do not change while it
 * is evaluated; scratch_begin forgets them). */
#define VH_MIN 256
static int sc_key(iw_scratch_t *s, iw_engine_memo_key_t *k)
{
    unsigned i;
    uint64_t h;

    if (k->n < VH_MIN || k->n > IW_ENGINE_MEMO_MAX_KEY) return iw_engine_memo_key(k);
    for (i = 0; i < s->nvh && i < 4; i++)
        if (s->vh[i].p == k->v && s->vh[i].n == k->n) return iw_engine_memo_key_hb(k, s->vh[i].h);
    h = iw_engine_memo_hash64(0, k->v, k->n);
    s->vh[s->nvh % 4].p = k->v;
    s->vh[s->nvh % 4].n = k->n;
    s->vh[s->nvh++ % 4].h = h;
    return iw_engine_memo_key_hb(k, h);
}

/* scan_field through the scan-result cache: only fields that need a
 * Vectorscan call are worth a lookup.  The key is (event type, field,
 * database, segments for _raw, bytes), everything scan_field reads.  out
 * (may be NULL) gets the result added, from the cache or the scan. */
static void scan_field_cached(const iw_engine_t *e, iw_scratch_t *s, scan_ctx_t *c, int ti,
                              iw_engine_memo_res_t *out)
{
    const fieldm_t *fm = &e->fm[ti][c->field];
    int short_small = fm->small && c->v.len <= LIT_MAX_CONTAINS_LEN, cache;
    hs_database_t *db = field_db(fm, c, short_small);
    uint32_t segs[3 * NMERGE];
    iw_engine_memo_key_t key;
    const iw_engine_memo_res_t *hit;
    iw_engine_memo_res_t rec;
    size_t rlen;

    /* the tag's low bits are the field: each field is its own class (no key without a database) */
    if ((cache = db && s->sc && iw_engine_memo_wanted(s->sc, key.tag = (uint32_t)c->field | (uint32_t)ti << 8
                                                      | (db == fm->rest ? 1u << 9 : 0) | LONGVAL(c->field)))) {
        key.pre = segs;
        key.npre = (c->field == IW_F_RAW && e->merge) ? seg_key(c, segs) : 0;
        key.v = c->v.p;
        key.n = c->v.len;
        cache = sc_key(s, &key);
    }
    if (cache && (hit = iw_engine_memo_get(s->sc, &key, &rlen))) {
        res_apply(s, hit, out);
        return;
    }
    scan_field_rec(e, s, c, fm, db, short_small, cache || out ? &rec : NULL);
    if (cache && !rec.overflow) iw_engine_memo_put(s->sc, &key, &rec, iw_engine_memo_res_len(&rec));
    if (out) res_merge(out, &rec);
}

/* A multi-valued field: every non-empty value scanned on its own (each
 * through the scan-result cache: parameter values repeat), so a
 * predicate holds when any value matches; out (may be NULL) gets the
 * union of the values' results. */
static void __attribute__((noinline)) scan_multi(const iw_engine_t *e, iw_scratch_t *s,
                                                 scan_ctx_t *c, int ti, iw_str_t list,
                                                 iw_engine_memo_res_t *out)
{
    size_t pos = 0;
    iw_str_t x;
    while (iw_param_next(list, &pos, &x)) {
        int n0 = s->ntouched;
        if (!x.len) continue;
        c->v = x;
        scan_field_cached(e, s, c, ti, out);
        multi_note(s, n0, x);
    }
}

/* ---- multi-valued fields keyed by their raw bytes ------------------------ */

/* The scan-result cache keyed by the raw bytes a lazy multi-valued field
 * is made of (iw_event_param_source, iw_event_header_dec_source): a
 * client's cookie or header that repeats is answered without being
 * split or decoded.  Its own tag bit (RAWKEY): the result is that of the
 * values the bytes make, not of the bytes scanned.  Only a result of no
 * predicate is taken from the cache as it is (a predicate's evidence is
 * the decoded value that set it: then the field is computed and scanned,
 * its values from the per-value cache). */
#define RAWKEY (1u << 10)

/* raw_key_h: the key again, its hash h from raw_key's (0: not cacheable) */
static inline __attribute__((always_inline)) int raw_key_h(iw_engine_memo_key_t *key, int field, int ti, iw_str_t raw, uint64_t h)
{
    *key = (iw_engine_memo_key_t){ .tag = (uint32_t)field | (uint32_t)ti << 8 | RAWKEY | LONGKEY(field),
                                   .v = raw.p, .n = raw.len, .h = h };
    return h != 0;
}

static inline __attribute__((always_inline)) int raw_key(iw_scratch_t *s, iw_engine_memo_key_t *key, int field, int ti, iw_str_t raw)
{
    raw_key_h(key, field, ti, raw, 0);
    return sc_key(s, key);
}

/* The cached result of raw, or NULL (key->n = 0: not cacheable). */
static inline __attribute__((always_inline)) const iw_engine_memo_res_t *raw_get(iw_scratch_t *s, iw_engine_memo_key_t *key, int field,
                                           int ti, iw_str_t raw)
{
    size_t rlen;
    if (!raw_key(s, key, field, ti, raw)) {
        key->n = 0;
        return NULL;
    }
    return iw_engine_memo_get(s->sc, key, &rlen);
}

/* A per-parameter view keyed by its whole source (the query, the cookie,
 * the form body).  1 when done, 0 when the caller scans the field. */
static int scan_params_raw(const iw_engine_t *e, iw_scratch_t *s, scan_ctx_t *c, int ti,
                           iw_event_t *ev)
{
    iw_engine_memo_key_t key;
    const iw_engine_memo_res_t *hit;
    iw_engine_memo_res_t uni;
    iw_str_t src;

    if (!iw_event_param_source(ev, (iw_field_id_t)c->field, &src)
        || !iw_engine_memo_wanted(s->sc, (uint32_t)c->field))
        return 0;
    if ((hit = raw_get(s, &key, c->field, ti, src))) return hit->n == 0;
    if (!key.n) return 0;                        /* too long to cache */
    uni.n = uni.overflow = 0;
    scan_multi(e, s, c, ti, iw_event_get(ev, (iw_field_id_t)c->field), &uni);
    if (!uni.overflow) iw_engine_memo_put(s->sc, &key, &uni, iw_engine_memo_res_len(&uni));
    return 1;
}

#define HDR_RAW_MAX 64                 /* header lines tracked one by one */

/* One value without the cache, its result added to out. */
static void scan_value_rec(const iw_engine_t *e, iw_scratch_t *s, scan_ctx_t *c, int ti,
                           iw_engine_memo_res_t *out)
{
    const fieldm_t *fm = &e->fm[ti][c->field];
    int short_small = fm->small && c->v.len <= LIT_MAX_CONTAINS_LEN;
    iw_engine_memo_res_t rec;
    scan_field_rec(e, s, c, fm, field_db(fm, c, short_small), short_small, out ? &rec : NULL);
    if (out) res_merge(out, &rec);
}

/* The whole block's entry (BLOCKKEY): its lines set no predicate.  The
 * key is the block's bytes (shared with the cs-headers entry's in the
 * ring); the lengths of its lines (iw_event_header_line's), which with the
 * bytes make the lines, are kept in the result and compared. */
#define BLOCKKEY (1u << 11)
#define HDR_BLOCK_LINES 44
typedef struct hdr_block { int32_t n; uint16_t nl, len[HDR_BLOCK_LINES]; } hdr_block_t;
#define HDR_BLOCK_LEN(b) (offsetof(hdr_block_t, len) + sizeof(uint16_t) * (b)->nl)   /* bytes stored */
_Static_assert(sizeof(hdr_block_t) <= IW_ENGINE_MEMO_MAX_RES, "header block result too big");

/* The lengths of the block's lines into b; 0 when they do not fit it. */
static int hdr_lens(const iw_event_t *ev, iw_str_t block, hdr_block_t *b)
{
    size_t off = 0, n;
    int i;

    for (i = 0; i < ev->nhdrs && off < block.len; i++) {
        n = ev->hdr_names[i].len + 2 + ev->hdr_values[i].len;
        if (n > block.len - off) n = block.len - off;      /* cut with cs-headers */
        if (i == HDR_BLOCK_LINES || n > UINT16_MAX) return 0;
        b->len[i] = (uint16_t)n;
        off += n + 1;
    }
    b->n = 0;
    b->nl = (uint16_t)i;
    return 1;
}

/* cs-header-decoded header by header, each keyed by its raw line (the
 * line itself is the value when it has nothing to decode): a cached
 * result of no predicate answers the line with one lookup, no decoding,
 * no scan.  A cached result with predicates is applied with the value as
 * evidence; a miss is scanned and stored.  The field is computed only
 * when such a line needs decoding.  Before the lines, the whole block: a
 * browser repeats its header set, whose lines are then answered with one
 * lookup.  1 when done, 0 when the caller scans the field. */
static int scan_header_dec_raw(const iw_engine_t *e, iw_scratch_t *s, scan_ctx_t *c, int ti,
                               iw_event_t *ev)
{
    iw_engine_memo_key_t key, bkey, hkey;
    const iw_engine_memo_res_t *hit;
    const hdr_block_t *bhit;
    hdr_block_t blk;
    iw_engine_memo_res_t uni;
    iw_str_t block, line, list = IW_STR_NULL, x;
    uint64_t todo = 0, known = 0, coded = 0, bit, lh[HDR_RAW_MAX];   /* lh: the lines' key hashes */
    size_t off = 0, pos = 0, rlen, dlen = 0, dpos = 0;
    int i = 0, k, bcache, dbuf = 0;

    if (!iw_event_header_dec_source(ev, &block) || !iw_engine_memo_wanted(s->sc, (uint32_t)c->field))
        return 0;
    bkey = (iw_engine_memo_key_t){ .tag = (uint32_t)c->field | (uint32_t)ti << 8 | RAWKEY | BLOCKKEY,
                                   .v = block.p, .n = block.len };
    if ((bcache = hdr_lens(ev, block, &blk) && sc_key(s, &bkey))
        && (bhit = iw_engine_memo_get(s->sc, &bkey, &rlen))) {
        if (bhit->nl == blk.nl && !memcmp(bhit->len, blk.len, sizeof(uint16_t) * blk.nl)) return 1;
        bcache = 0;                    /* another split of the same bytes: not stored again */
    }
    uni.n = uni.overflow = 0;
    for (k = 0; iw_event_header_line(ev, block, &i, &off, &line); k++) {
        if (k == HDR_RAW_MAX) return 0;
        bit = (uint64_t)1 << k;
        hit = raw_get(s, &key, c->field, ti, line);
        if (hit && !hit->n) continue;
        lh[k] = key.n ? key.h : 0;
        todo |= bit;
        if (hit) known |= bit;
        if (iw_decode_plain_len(line.p, line.len, 0) != line.len) coded |= bit;
    }
    /* the lines to decode alone into s->dbuf when they fit (as lazy_header_dec
     * would: with the room found, it leaves no line out), else the field */
    for (i = 0, off = 0, k = 0; coded >> k && iw_event_header_line(ev, block, &i, &off, &line); k++)
        if ((coded >> k) & 1) dlen += line.len + 1;
    if (coded && !(dbuf = dlen <= HDR_DEC_BUF)) list = iw_event_get(ev, (iw_field_id_t)c->field);
    for (i = 0, off = 0, k = 0; (todo >> k) && iw_event_header_line(ev, block, &i, &off, &line); k++) {
        int n0 = s->ntouched;
        iw_engine_memo_res_t r;
        bit = (uint64_t)1 << k;
        x = line;
        if (coded && !dbuf && !iw_param_next(list, &pos, &x)) {
            uni.overflow = 1;          /* lines left unscanned: no result for the block */
            break;
        }
        if (!(todo & bit)) continue;
        if (dbuf && (coded & bit)) {
            x = (iw_str_t){ s->dbuf + dpos, iw_decode_full(line.p, line.len, s->dbuf + dpos, 0) };
            dpos += x.len + 1;
        }
        if (!x.len) continue;
        c->v = x;
        /* the entry found above, unless a store since took its way */
        if ((known & bit) && raw_key_h(&key, c->field, ti, line, lh[k])
            && (hit = iw_engine_memo_get(s->sc, &key, &rlen))) {
            res_apply(s, hit, &uni);
        } else {
            r.n = r.overflow = 0;
            scan_value_rec(e, s, c, ti, &r);
            if (!r.overflow && raw_key_h(&key, c->field, ti, line, lh[k]))
                iw_engine_memo_put(s->sc, &key, &r, iw_engine_memo_res_len(&r));
            res_merge(&uni, &r);
        }
        multi_note(s, n0, x);
    }
    if (bcache && !uni.overflow && !uni.n) {
        /* its bytes are the cs-headers entry's (that field's key) */
        hkey = (iw_engine_memo_key_t){ .tag = IW_F_CS_HEADERS | (uint32_t)ti << 8, .v = block.p, .n = block.len };
        if (sc_key(s, &hkey)) iw_engine_memo_put_shared(s->sc, &bkey, &blk, HDR_BLOCK_LEN(&blk), &hkey);
        else iw_engine_memo_put(s->sc, &bkey, &blk, HDR_BLOCK_LEN(&blk));
    }
    return 1;
}

/* cs-uri and cs-uri-decoded in one scan of e->uri_both[k] when the view is
 * the target's bytes and each field would take its plain database (k 0)
 * or each its whole one (k 1), with cs-uri-stem-decoded too when it is
 * the same bytes (no query) and takes its plain database (k 2): the
 * target's reports as they come, the views' (each id once) kept for
 * their turn, so a predicate two set keeps the first field in scan order
 * as its field.  The path's view then goes through its own scan-cache
 * entry as ever: a miss replays its reports (scan_field, c->kept). */
#define BOTH_MAX 64
typedef struct uri_both {
    scan_ctx_t *c; hs_database_t *db;
    int32_t ids[BOTH_MAX], sids[BOTH_MAX]; int n, over, sn, sover;   /* cs-uri-decoded's, the path's */
} uri_both_t;

static int both_keep(int32_t *ids, int *n, int *over, int32_t id)
{
    int i;
    for (i = 0; i < *n; i++) if (ids[i] == id) return 0;
    if (*n < BOTH_MAX) ids[(*n)++] = id; else *over = 1;
    return 0;
}

static int on_both(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx)
{
    uri_both_t *b = ctx;
    int f = b->c->s->e->pat_field[id];
    if (f == IW_F_CS_URI_DEC) return both_keep(b->ids, &b->n, &b->over, (int32_t)id);
    if (f == IW_F_CS_URI_STEM_DEC) return both_keep(b->sids, &b->sn, &b->sover, (int32_t)id);
    return on_match(id, from, to, flags, b->c);
}

/* c->field's exact and literal checks, then the scan (scan: cs-uri) or
 * the view's reports kept in b, recorded into out. */
static void both_field(const iw_engine_t *e, iw_scratch_t *s, scan_ctx_t *c, uri_both_t *b, int scan,
                       iw_engine_memo_res_t *out)
{
    const fieldm_t *fm = &e->fm[0][c->field];
    iw_engine_memo_res_t rec;
    int i, rc;

    rec.n = rec.overflow = 0;
    c->rec = &rec;
    rx_memo_reset(s);
    if (fm->ex[0].n) ex_lookup(&fm->ex[0], 1, c);
    if (fm->ex[1].n) ex_lookup(&fm->ex[1], 0, c);
    if (fm->lits.n) lit_scan(e, fm, 0, c);
    if (scan && (rc = iw_vs_scan(b->db, c->v.p, (unsigned)c->v.len, 0, s->hs, on_both, b)) != HS_SUCCESS) {
        scan_failed(e, s, c, rc);
        b->over = b->sover = 1;        /* the views scan on their own */
    }
    for (i = 0; !scan && i < b->n; i++) on_match((unsigned)b->ids[i], 0, 0, 0, c);
    c->rec = NULL;
    res_merge(out, &rec);
}

/* 1 when cs-uri (c) went through uri_both with its view (b->n >= 0). */
static int uri_both_scan(const iw_engine_t *e, iw_scratch_t *s, scan_ctx_t *c, iw_event_t *ev,
                         uri_both_t *b, iw_engine_memo_res_t *out)
{
    const fieldm_t *fu = &e->fm[0][IW_F_CS_URI], *fd = &e->fm[0][IW_F_CS_URI_DEC];
    const fieldm_t *fs = &e->fm[0][IW_F_CS_URI_STEM_DEC];
    hs_database_t *du;
    scan_ctx_t cd;                     /* field_db reads its v (no merged field here) */
    int k;

    if (!((s->uri_scan >> IW_F_CS_URI_DEC) & 1) || !(du = field_db(fu, c, 0))
        || !e->uri_both[k = du != fu->plain]) return 0;
    cd.field = IW_F_CS_URI_DEC;
    cd.v = iw_event_get(ev, IW_F_CS_URI_DEC);
    if (cd.v.len != c->v.len || memcmp(cd.v.p, c->v.p, c->v.len)
        || field_db(fd, &cd, 0) != (k ? fd->db : fd->plain)) return 0;
    b->c = c;
    b->db = e->uri_both[k];
    b->n = b->over = b->sover = 0;
    b->sn = -1;
    if (!k && ev->val[IW_F_CS_URI_STEM].len == c->v.len && e->uri_both[2]       /* no query */
        && ((s->uri_scan >> IW_F_CS_URI_STEM_DEC) & 1)) {
        cd.field = IW_F_CS_URI_STEM_DEC;
        cd.v = iw_event_get(ev, IW_F_CS_URI_STEM_DEC);
        if (cd.v.len == c->v.len && !memcmp(cd.v.p, c->v.p, c->v.len) && field_db(fs, &cd, 0) == fs->plain) {
            b->db = e->uri_both[2];
            b->sn = 0;
        }
    }
    both_field(e, s, c, b, 1, out);
    return 1;
}

/* The URI fields (s->uri_scan) through one scan-cache entry keyed by the
 * target's bytes (URIKEY, + CONNECT: it splits a target otherwise): a
 * repeated path costs one lookup, its decoded views unbuilt.  A miss scans
 * each in scan order (a predicate of the stem, the query and cs-uri goes
 * to the first that sets it; the path and the query through entries of
 * their own, cs-uri and its view in one call when uri_both_scan can) and
 * stores the union (paused or too long: nothing).  1 when done. */
#define URIKEY (1u << 12)
#define URIKEY_CONNECT (1u << 13)
static int scan_uri(const iw_engine_t *e, iw_scratch_t *s, scan_ctx_t *c, int ti, iw_event_t *ev)
{
    uri_both_t both;
    iw_engine_memo_key_t key;
    const iw_engine_memo_res_t *hit;
    iw_engine_memo_res_t uni;
    iw_str_t uri;
    size_t rlen;
    int connect, i, cache;

    if (!iw_event_uri_source(ev, &uri, &connect)) return 0;
    key = (iw_engine_memo_key_t){ .tag = IW_F_CS_URI | (uint32_t)ti << 8 | URIKEY
                                         | (connect ? URIKEY_CONNECT : 0), .v = uri.p, .n = uri.len };
    cache = iw_engine_memo_wanted(s->sc, IW_F_CS_URI | (uint32_t)ti << 8 | URIKEY) && sc_key(s, &key);
    if (cache && (hit = iw_engine_memo_get(s->sc, &key, &rlen))) {
        res_apply(s, hit, NULL);
        return 1;
    }
    uni.n = uni.overflow = 0;
    both.n = both.sn = -1;
    for (i = 0; i < e->nscan[ti]; i++) {
        int f = e->scan_fields[ti][i];
        if (!((s->uri_scan >> f) & 1)) continue;
        c->field = f;
        c->v = iw_event_get(ev, (iw_field_id_t)f);
        if (!c->v.p || !c->v.len) continue;
        if (f == IW_F_CS_URI_DEC && both.n >= 0 && !both.over) both_field(e, s, c, &both, 0, &uni);
        else if (f == IW_F_CS_URI_STEM_DEC && both.sn >= 0 && !both.sover) {
            c->kept = both.sids;       /* through its entry: a miss replays them */
            c->nkept = both.sn;
            scan_field_cached(e, s, c, ti, &uni);
            c->kept = NULL;
        } else if (!(f == IW_F_CS_URI && !ti && uri_both_scan(e, s, c, ev, &both, &uni)))
            ((URI_PART_FIELDS >> f) & 1 ? scan_field_cached : scan_value_rec)(e, s, c, ti, &uni);
    }
    if (cache && !uni.overflow) iw_engine_memo_put(s->sc, &key, &uni, iw_engine_memo_res_len(&uni));
    return 1;
}

/* A multi-valued field through its raw bytes: 1 when done. */
static int scan_multi_raw(const iw_engine_t *e, iw_scratch_t *s, scan_ctx_t *c, int ti,
                          iw_event_t *ev)
{
    if (!s->sc) return 0;
    if (c->field == IW_F_CS_HEADER_DEC) return scan_header_dec_raw(e, s, c, ti, ev);
    return scan_params_raw(e, s, c, ti, ev);
}

/* Scan phase: set every predicate that holds for the event. */
static void scan_event(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev)
{
    unsigned type = ev->type == IW_EV_ERROR ? IW_EV_ERROR : IW_EV_ACCESS;
    int ti = iw_engine__type_index(type), i;
    scan_ctx_t c;
    uint64_t done = 0;

    c.s = s;
    c.field = 0;
    c.v = IW_STR_NULL;
    c.raw = !ti && e->nconf && !e->merge ? iw_event_get(ev, IW_F_RAW) : IW_STR_NULL;
    if (e->merge && ti == 0) find_segments(ev, iw_event_get(ev, IW_F_RAW), c.seg);
    else memset(c.seg, 0, sizeof(c.seg));

    c.rec = NULL;
    c.kept = NULL;
    if (ti == 0 && s->uri_scan && s->sc && scan_uri(e, s, &c, ti, ev)) done = s->uri_scan;
    for (i = 0; i < e->nscan[ti]; i++) {
        int f = e->scan_fields[ti][i];
        iw_str_t v;
        if ((done >> f) & 1) continue;
        c.field = f;
        if (iw_field_is_multi(f) && (iw_event_params_absent(ev, f) || scan_multi_raw(e, s, &c, ti, ev))) continue;
        v = iw_event_get(ev, (iw_field_id_t)f);
        if (!v.p || !v.len) continue;  /* empty-matching patterns are direct checks */
        if (iw_field_is_multi(f)) {
            scan_multi(e, s, &c, ti, v, NULL);
            continue;
        }
        c.v = f == IW_F_RAW && e->raw_split && !ti ? raw_head(ev, v) : v;
        scan_field_cached(e, s, &c, ti, NULL);
    }
    for (i = 0; i < e->nrxall; i++) {
        const rxalways_t *ra = &e->rxall[i];
        iw_str_t v;
        if (!(ra->types & type) || pred_is_set(s, e->rx[ra->rx].pred)) continue;
        v = iw_event_get(ev, (iw_field_id_t)ra->field);
        if (iw_field_is_multi(ra->field)) {
            rx_multi(s, &e->rx[ra->rx], ra->field, v);
            continue;
        }
        if (v.p) rx_one(s, &e->rx[ra->rx], ra->field, v);
    }
    for (i = 0; i < e->nradix; i++) {
        int f = e->radix_fields[i];
        uint8_t addr[16];
        iw_str_t v;
        if (!(e->radix_types[f] & type)) continue;
        v = iw_event_get(ev, (iw_field_id_t)f);
        c.field = f;
        if (iw_field_is_multi(f)) {
            size_t pos = 0;
            iw_str_t x;
            while (iw_param_next(v, &pos, &x)) {
                int n0 = s->ntouched;
                if (!iw_match_radix_parse_ip(x.p, x.len, addr)) continue;
                iw_match_radix_lookup(e->radix[f], addr, on_cidr, &c);
                multi_note(s, n0, x);
            }
            continue;
        }
        if (!v.p || !iw_match_radix_parse_ip(v.p, v.len, addr)) continue;
        iw_match_radix_lookup(e->radix[f], addr, on_cidr, &c);
    }
    iw_engine__direct_checks(e, s, ev, type);
}

static int eval_item(const iw_engine_t *e, iw_scratch_t *s, const citem_t *it)
{
    int r, k;
    if (it->t1 >= 0) return pred_val(e, s, it->t1 >> 1) != (it->t1 & 1);   /* one term */
    for (r = 0; r < it->rows.n; r++) {
        const range_t *row = &e->rows[it->rows.first + r];
        for (k = 0; k < row->n; k++) {
            int32_t t = e->terms[row->first + k];
            if (pred_val(e, s, t >> 1) == (t & 1)) break;
        }
        if (k == row->n) return 1;
    }
    return 0;
}

static inline __attribute__((always_inline)) int eval_group(const iw_engine_t *e, iw_scratch_t *s, int32_t g)
{
    const range_t *gr = &e->groups[g];
    int i;
    for (i = 0; i < gr->n; i++)
        if (!eval_item(e, s, &e->items[gr->first + i])) return 0;
    return 1;
}

/* A selection's first true group (-1: none). */
static int sel_first(const iw_engine_t *e, iw_scratch_t *s, int32_t sel)
{
    const range_t *sr = &e->sels[sel];
    int g;
    for (g = 0; g < sr->n; g++)
        if (eval_group(e, s, sr->first + g)) return g;
    return -1;
}

/* Selection node n may be true: the predicate every group of it needs
 * (cnode_t.n of N_SEL, -1: none) is set. */
static inline int sel_may(const iw_scratch_t *s, const cnode_t *n)
{
    return n->n < 0 || pred_is_set(s, n->n);
}

static int eval_node(const iw_engine_t *e, iw_scratch_t *s, int32_t ni);

/* Node ni: a selection (most kids are) without a call of eval_node, one
 * of one term (most are) without sel_first either. */
static inline int eval_kid(const iw_engine_t *e, iw_scratch_t *s, int32_t ni)
{
    const cnode_t *k = &e->nodes[ni];
    const range_t *sr, *gr;
    int32_t t;
    if (k->type != N_SEL) return eval_node(e, s, ni);
    if (!sel_may(s, k)) return 0;
    sr = &e->sels[k->a];
    if (sr->n != 1 || (gr = &e->groups[sr->first])->n != 1 || (t = e->items[gr->first].t1) < 0)
        return sel_first(e, s, k->a) >= 0;
    return pred_val(e, s, t >> 1) != (t & 1);
}

static int eval_node(const iw_engine_t *e, iw_scratch_t *s, int32_t ni)
{
    const cnode_t *n = &e->nodes[ni];
    const int32_t *t = n->f ? e->fterms + n->f - 1 : NULL;   /* its kids' terms (eval_kid's reading) */
    int i;
    switch (n->type) {
    case N_SEL: return sel_may(s, n) && sel_first(e, s, n->a) >= 0;
    case N_AND:
        if (t) { for (i = 0; i < n->n; i++) if (pred_val(e, s, t[i] >> 1) == (t[i] & 1)) return 0; }
        else for (i = 0; i < n->n; i++) if (!eval_kid(e, s, e->kids[n->a + i])) return 0;
        return 1;
    case N_OR:
        if (t) { for (i = 0; i < n->n; i++) if (pred_val(e, s, t[i] >> 1) != (t[i] & 1)) return 1; }
        else for (i = 0; i < n->n; i++) if (eval_kid(e, s, e->kids[n->a + i])) return 1;
        return 0;
    default:
        return !eval_kid(e, s, e->kids[n->a]);
    }
}

/* pred: the predicate that put the field in (-1: a negated term): for a
 * multi-valued field the value that matched, else the whole field. */
static void add_evidence(iw_scratch_t *s, iw_hit_t *h, int field, int32_t pred)
{
    int i;
    if (h->nmatches >= IW_MAX_MATCHES_PER_HIT) return;
    for (i = 0; i < h->nmatches; i++) if (h->matches[i].field == field) return;
    h->matches[h->nmatches].field = field;
    h->matches[h->nmatches].value = (pred >= 0 && iw_field_is_multi(field)
                                     && s->pvgen[pred] == s->gen)
        ? s->pval[pred] : iw_event_get(s->ev, (iw_field_id_t)field);
    h->nmatches++;
}

/* Evidence: the fields of the set positive terms of true rows, under the
 * true, non-negated parts of the condition. */
static void evidence_sel(const iw_engine_t *e, iw_scratch_t *s, int32_t sel, iw_hit_t *h)
{
    int g = sel_first(e, s, sel), i, r, k;
    const range_t *gr;
    if (g < 0) return;
    gr = &e->groups[e->sels[sel].first + g];
    for (i = 0; i < gr->n; i++) {
        const citem_t *it = &e->items[gr->first + i];
        int32_t t = it->t1;
        if (t >= 0) {                  /* one term, true: the group is */
            add_evidence(s, h, (t & 1) ? it->field : s->pfield[t >> 1], (t & 1) ? -1 : t >> 1);
            continue;
        }
        for (r = 0; r < it->rows.n; r++) {
            const range_t *row = &e->rows[it->rows.first + r];
            int ok = 1;
            for (k = 0; k < row->n && ok; k++) {
                t = e->terms[row->first + k];
                ok = pred_val(e, s, t >> 1) != (t & 1);
            }
            if (!ok) continue;
            for (k = 0; k < row->n; k++) {
                t = e->terms[row->first + k];
                add_evidence(s, h, (t & 1) ? it->field : s->pfield[t >> 1],
                             (t & 1) ? -1 : t >> 1);
            }
            break;
        }
    }
}

static void evidence_node(const iw_engine_t *e, iw_scratch_t *s, int32_t ni, iw_hit_t *h)
{
    const cnode_t *n = &e->nodes[ni];
    int i;
    if (n->type == N_SEL) { evidence_sel(e, s, n->a, h); return; }
    if (n->type == N_NOT) return;
    for (i = 0; i < n->n; i++) {
        int32_t k = e->kids[n->a + i];
        if (e->nodes[k].type == N_SEL) {           /* none when false */
            if (sel_may(s, &e->nodes[k])) evidence_sel(e, s, e->nodes[k].a, h);
        }
        else if (n->type == N_AND || eval_node(e, s, k)) evidence_node(e, s, k, h);  /* n true */
    }
}

static void cand_add(iw_scratch_t *s, int32_t r)
{
    if (s->rgen[r] == s->gen) return;
    s->rgen[r] = s->gen;
    s->cand[s->ncand++] = r;
}

/* Candidates in rule order, so hits come out in load order (shell sort:
 * in place, no allocation). */
static void cand_sort(int32_t *a, int n)
{
    int gap, i, j;
    for (gap = n / 2; gap > 0; gap /= 2)
        for (i = gap; i < n; i++) {
            int32_t v = a[i];
            for (j = i; j >= gap && a[j - gap] > v; j -= gap) a[j] = a[j - gap];
            a[j] = v;
        }
}

/* ---- event cache --------------------------------------------------------- */

/* An event's hits as the cache keeps them: rule (crule index) and the
 * fields of its evidence (the values are the new event's, equal bytes). */
#define EVC_MAX_HITS 7
typedef struct evc_hit { int32_t rule; uint8_t n, field[IW_MAX_MATCHES_PER_HIT]; } evc_hit_t;
typedef struct evc_res { int32_t n; evc_hit_t h[EVC_MAX_HITS]; } evc_res_t;
_Static_assert(sizeof(evc_res_t) <= IW_ENGINE_MEMO_MAX_RES, "event cache result too big");
_Static_assert(sizeof(iw_engine_memo_res_t) <= IW_ENGINE_MEMO_MAX_RES, "scan cache result too big");
_Static_assert(IW_F__COUNT <= IW_ENGINE_MEMO_CLASSES, "one cache class per field");

/* Evidence values are read from s->ev, the event being evaluated. */
static int evc_replay(const iw_engine_t *e, iw_scratch_t *s, const evc_res_t *r)
{
    int i, j;
    for (i = 0; i < r->n; i++) {
        iw_hit_t *h = &s->hits[i];
        h->rule = e->rules[r->h[i].rule].rule;
        h->nmatches = 0;
        for (j = 0; j < r->h[i].n; j++) add_evidence(s, h, r->h[i].field[j], -1);
    }
    s->nevents++;
    return r->n;
}

static void evc_store(iw_scratch_t *s, const iw_engine_memo_key_t *key, const int32_t *idx, int nhits)
{
    evc_res_t r;
    int i, j;

    if (nhits > EVC_MAX_HITS) return;
    memset(&r, 0, sizeof(r));
    r.n = nhits;
    for (i = 0; i < nhits; i++) {
        r.h[i].rule = idx[i];
        r.h[i].n = (uint8_t)s->hits[i].nmatches;
        for (j = 0; j < s->hits[i].nmatches; j++) {
            /* a replay has no scan to say which value matched */
            if (iw_field_is_multi(s->hits[i].matches[j].field)) return;
            r.h[i].field[j] = (uint8_t)s->hits[i].matches[j].field;
        }
    }
    iw_engine_memo_put(s->evc, key, &r, sizeof(r));
}

/* Start evaluating ev: forget the previous event's predicates. */
static void scratch_begin(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev)
{
    int i;
    for (i = 0; i < s->ntouched; i++) {
        int32_t p = s->touched[i];
        s->bits[p >> 6] &= ~((uint64_t)1 << (p & 63));
    }
    s->ntouched = 0;
    s->ev = ev;
    s->tm_ok = 0;
    s->nvh = 0;
    s->nerrp = s->nerrs = 0;
    if (++s->gen == 0) {
        memset(s->rgen, 0, sizeof(uint32_t) * (size_t)e->ncrules);
        memset(s->pgen, 0, sizeof(uint32_t) * (size_t)e->npreds);
        memset(s->pvgen, 0, sizeof(uint32_t) * (size_t)e->npreds);
        memset(s->errgen, 0, sizeof(uint32_t) * (size_t)e->npreds);
        memset(s->rerrgen, 0, sizeof(uint32_t) * (size_t)e->ncrules);
        s->gen = 1;
    }
}

/* The event cache's result for key bytes key->v[0..key->n), or NULL;
 * key->n becomes 0 when the key cannot be cached. */
IW_HOT
static const evc_res_t *evc_find(iw_scratch_t *s, iw_engine_memo_key_t *key)
{
    size_t rlen;
    key->tag = 0;
    key->pre = NULL;
    key->npre = 0;
    if (!iw_engine_memo_key(key)) { key->n = 0; return NULL; }
    return iw_engine_memo_get(s->evc, key, &rlen);
}

/* Scan and evaluate the event (a cache miss); stores the hits under key
 * when it has bytes. */
static int eval_fresh(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev,
                      unsigned type, const iw_engine_memo_key_t *key)
{
    int32_t idx[EVC_MAX_HITS];
    int i, nhits = 0;

    scan_event(e, s, ev);
    s->ncand = 0;
    for (i = 0; i < s->ntouched; i++) {
        int32_t p = s->touched[i], k;
        for (k = e->trig_first[p]; k < e->trig_first[p + 1]; k++) cand_add(s, e->trig_rules[k]);
    }
    for (i = 0; i < e->nalways; i++) cand_add(s, e->always[i]);
    cand_sort(s->cand, s->ncand);
    s->nevents++;
    s->ncandidates += (uint64_t)s->ncand;

    for (i = 0; i < s->ncand; i++) {
        const crule_t *cr = &e->rules[s->cand[i]];
        iw_hit_t *h;
        int f, dropped = 0;
        if (!(cr->applies & type) || !eval_node(e, s, cr->root)) continue;
        /* Sigma filters as pySigma applies them: the rule's condition is
         * ANDed with each filter's, so exclusions read "condition: not x". */
        for (f = 0; f < cr->filters.n && !dropped; f++)
            dropped = !eval_node(e, s, e->rules[e->filt[cr->filters.first + f]].root);
        if (dropped) continue;
        if (nhits < EVC_MAX_HITS) idx[nhits] = s->cand[i];
        h = &s->hits[nhits++];
        h->rule = cr->rule;
        h->nmatches = 0;
        evidence_node(e, s, cr->root, h);
    }
    if (s->nerrp) {
        iw_engine__eval_errors(e, s, type, nhits, eval_node);
        return nhits;              /* not cached: a repeat must report them again */
    }
    /* a truncated event's views depend on its buffer, not only the key */
    if (key->n && !(ev->have_num & (FBIT(IW_F_IW_TRUNCATED) | FBIT(IW_F_PARAMS_DROPPED))))
        evc_store(s, key, idx, nhits);
    return nhits;
}

int iw_engine_eval(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev,
                   const iw_hit_t **hits)
{
    iw_engine_memo_key_t key;
    const evc_res_t *cached;
    unsigned type;
    iw_str_t lines;
    int n;

    if (hits) *hits = s ? s->hits : NULL;
    if (!e || !s || !ev || s->e != e) return 0;
    type = ev->type == IW_EV_ERROR ? IW_EV_ERROR : IW_EV_ACCESS;
    scratch_begin(e, s, ev);
    key.n = 0;
    key.v = s->kbuf;
    if (s->evc && (iw_engine_memo_wanted(s->evc, 0) || iw_engine__evc_repeat(s, ev->val[IW_F_CS_METHOD],
                                                  ev->val[IW_F_CS_URI], ev->val[IW_F_C_IP], ev->nhdrs))
        && (key.n = iw_engine__event_key(e, ev, iw_engine__type_index(type), s->kbuf, &lines))
        && (cached = evc_find(s, &key)))
        return evc_replay(e, s, cached);
    if (key.n) ev->hdr_lines = lines;            /* cs-headers from the key: only in here */
    n = eval_fresh(e, s, ev, type, &key);
    ev->hdr_lines = IW_STR_NULL;
    return n;
}

IW_HOT
int iw_engine_eval_request(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev,
                           iw_request_desc_t *d, const iw_hit_t **hits)
{
    /* on the stack, as large as any cached key (built once, never
     * retried; only the lines written are touched, and the stack is
     * warm where the scratch's buffer would be cold) */
    unsigned char kb[IW_ENGINE_MEMO_MAX_KEY];
    iw_engine_memo_key_t key;
    const evc_res_t *cached = NULL;
    iw_str_t lines = IW_STR_NULL;
    int n;

    if (hits) *hits = s ? s->hits : NULL;
    if (!e || !s || !ev || !d || s->e != e) return 0;
    s->nerrs = 0;                  /* a clean repeat below skips scratch_begin */
    if (!s->evc || !e->evk_req_desc) {
        iw_event_from_request(ev, d);
        return iw_engine_eval(e, s, ev, hits);
    }
    key.n = 0;
    if (iw_engine_memo_wanted(s->evc, 0) || iw_engine__evc_repeat(s, d->method, d->target, d->client_ip, d->nhdrs)) {
        key.v = kb;
        if ((key.n = iw_engine__request_key(e, d, ev->buf_size, kb, sizeof(kb), &lines))
            && (cached = evc_find(s, &key)) && cached->n == 0) {
            s->nevents++;               /* a repeat without hits: no event needed */
            return 0;
        }
    }
    iw_event_from_request(ev, d);
    ev->hdr_lines = key.n ? lines : IW_STR_NULL;     /* cs-headers from the key: only in here */
    scratch_begin(e, s, ev);
    n = cached ? evc_replay(e, s, cached) : eval_fresh(e, s, ev, IW_EV_ACCESS, &key);
    ev->hdr_lines = IW_STR_NULL;
    return n;
}

/* ---- benchmarks: one field's matchers alone (the fields: iw_engine_scan_fields) */

/* What scan_event does for one field (each value of a multi-valued one),
 * without the scan-result cache. */
int iw_engine_scan_field(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev, int field)
{
    scan_ctx_t c;
    iw_str_t v, x;
    size_t pos = 0;
    int ti;

    if (!e || !s || !ev || s->e != e || field < 0 || field >= IW_F__COUNT) return -1;
    ti = iw_engine__type_index(ev->type == IW_EV_ERROR ? IW_EV_ERROR : IW_EV_ACCESS);
    scratch_begin(e, s, ev);
    memset(&c, 0, sizeof(c));
    c.s = s;
    c.field = field;
    if (e->merge && ti == 0) find_segments(ev, iw_event_get(ev, IW_F_RAW), c.seg);
    if (!ti && e->nconf && !e->merge) c.raw = iw_event_get(ev, IW_F_RAW);
    v = iw_event_get(ev, (iw_field_id_t)field);
    if (!v.p || !v.len) return 0;
    if (!iw_field_is_multi(field)) {
        c.v = v;
        scan_value_rec(e, s, &c, ti, NULL);
        return s->ntouched;
    }
    while (iw_param_next(v, &pos, &x)) {
        if (!x.len) continue;
        c.v = x;
        scan_value_rec(e, s, &c, ti, NULL);
    }
    return s->ntouched;
}
