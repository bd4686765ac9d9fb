/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_direct: the direct checks (a test of a field's value without a
 * pattern: a number, presence, emptiness, a long line, a time part,
 * |fieldref).  iw_engine__direct_checks runs the per-event list for
 * scan_event (iw_engine_eval.c), iw_engine__direct_one a lazy predicate's
 * check; numbers and plain presence tests are answered inline, the rest
 * (seldom used) by iw_engine__direct_value, also any check on a
 * multi-valued field (a parameter list: some value satisfies it).  Also
 * iw_engine__lazy_lit_only, for the lazy predicates' memo (compile time:
 * e->lzlit). */
#include "iw_engine_int.h"
#include "iw_param.h"
#include <string.h>
#include <strings.h>
#include <time.h>

/* ISO 8601 week number (1..53) of a broken-down UTC time. */
static int iso_week(const struct tm *tm)
{
    int wday = (tm->tm_wday + 6) % 7;           /* Monday = 0 */
    int w = (tm->tm_yday - wday + 10) / 7;      /* yday 0-based: +1 -1 */
    if (w < 1) {
        /* last week of the previous year: 52 or 53 */
        int py = tm->tm_year + 1900 - 1;
        int pj = (py + py / 4 - py / 100 + py / 400) % 7;         /* Dec 31 weekday */
        int ppy = py - 1;
        int ppj = (ppy + ppy / 4 - ppy / 100 + ppy / 400) % 7;
        return (pj == 4 || ppj == 3) ? 53 : 52;
    }
    if (w == 53) {
        int y = tm->tm_year + 1900;
        int j = (y + y / 4 - y / 100 + y / 400) % 7;
        int py = y - 1;
        int pj = (py + py / 4 - py / 100 + py / 400) % 7;
        if (!(j == 4 || pj == 3)) return 1;
    }
    return w;
}

static int time_part(iw_scratch_t *s, int unit, int64_t *out)
{
    if (!s->tm_ok) {
        time_t t = (time_t)apr_time_sec(s->ev->time);
        if (!s->ev->time || !gmtime_r(&t, &s->tm)) return 0;
        s->tm_ok = 1;
    }
    switch (unit) {
    case T_MINUTE: *out = s->tm.tm_min; break;
    case T_HOUR: *out = s->tm.tm_hour; break;
    case T_DAY: *out = s->tm.tm_mday; break;
    case T_WEEK: *out = iso_week(&s->tm); break;
    case T_MONTH: *out = s->tm.tm_mon + 1; break;
    default: *out = s->tm.tm_year + 1900; break;
    }
    return 1;
}

static int mem_eq(const char *a, const char *b, size_t n, int cased)
{
    return cased ? memcmp(a, b, n) == 0 : strncasecmp(a, b, n) == 0 && !memchr(a, 0, n) && !memchr(b, 0, n);
}

/* Does v have a line (mode) of at least n bytes? */
static int long_line(iw_str_t v, int64_t n, int32_t mode)
{
    const char *p = v.p, *end, *nl;

    /* an absent field has no pointer: no arithmetic on it (NULL + 0 is
     * undefined, clang's UBSan reports it) */
    if (!v.p || (int64_t)v.len < n) return 0;
    if (mode == LL_VALUE) return 1;
    end = v.p + v.len;
    for (;;) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if ((nl ? nl : end) - p >= n) return 1;
        if (!nl || mode == LL_FIRST || end - (nl + 1) < n) return 0;
        p = nl + 1;
    }
}

static int fieldref_match(iw_str_t a, iw_str_t b, int mode, int cased)
{
    size_t i;
    if (!a.p || !b.p) return 0;
    switch (mode) {
    case FR_EQ: return a.len == b.len && mem_eq(a.p, b.p, a.len, cased);
    case FR_STARTS: return a.len >= b.len && mem_eq(a.p, b.p, b.len, cased);
    case FR_ENDS: return a.len >= b.len && mem_eq(a.p + a.len - b.len, b.p, b.len, cased);
    default:
        if (b.len > a.len) return 0;
        for (i = 0; i + b.len <= a.len; i++)
            if (mem_eq(a.p + i, b.p, b.len, cased)) return 1;
        return 0;
    }
}

/* ---- multi-valued fields (iw_param.h): any value satisfies -------------- */

/* Does the list hold an empty value? ("" is one, "\0x" starts with one) */
static int multi_has_empty(iw_str_t v)
{
    return v.p && (!v.len || !v.p[0] || !v.p[v.len - 1] || memmem(v.p, v.len, "\0\0", 2));
}

static int multi_long_line(iw_str_t list, int64_t n, int32_t mode)
{
    size_t pos = 0;
    iw_str_t x;
    while (iw_param_next(list, &pos, &x))
        if (long_line(x, n, mode)) return 1;
    return 0;
}

/* |fieldref between fields either of which may be multi-valued: some
 * value of the one against some value of the other. */
/* The next value of v: of a list when multi, else v itself once. */
static int value_next(iw_str_t v, int multi, size_t *pos, iw_str_t *out)
{
    if (multi) return iw_param_next(v, pos, out);
    if (*pos) return 0;
    *pos = 1;
    *out = v;
    return 1;
}

static int fieldref_any(iw_str_t a, int amulti, iw_str_t b, int bmulti, int mode, int cased)
{
    iw_str_t x, y;
    size_t pa = 0, pb;

    if (!a.p || !b.p) return 0;
    while (value_next(a, amulti, &pa, &x))
        for (pb = 0; value_next(b, bmulti, &pb, &y); )
            if (fieldref_match(x, y, mode, cased)) return 1;
    return 0;
}

/* A direct check on a multi-valued field (or a |fieldref to one): absent
 * = no value, null = no value or an empty one, the rest any value. */
static int direct_multi(iw_scratch_t *s, const dcheck_t *d, iw_str_t v)
{
    switch (d->kind) {
    case D_PRESENT: return v.p != NULL;
    case D_ABSENT: return v.p == NULL;
    case D_NULL: return !v.p || multi_has_empty(v);
    case D_EMPTY: return multi_has_empty(v);
    case D_FIELDREF:
        return fieldref_any(v, iw_field_is_multi(d->field),
                            iw_event_get(s->ev, (iw_field_id_t)d->field2),
                            iw_field_is_multi(d->field2), d->mode, d->cased);
    case D_LONG: return multi_long_line(v, d->num, d->mode);
    default: return 0;      /* numbers and time parts: not on these fields */
    }
}

int iw_engine__direct_value(iw_scratch_t *s, const dcheck_t *d, iw_str_t v)
{
    int64_t x;

    if (iw_field_is_multi(d->field) || (d->kind == D_FIELDREF && iw_field_is_multi(d->field2)))
        return direct_multi(s, d, v);
    switch (d->kind) {
    case D_PRESENT: return v.p != NULL;
    case D_ABSENT: return v.p == NULL;
    case D_NULL: return !v.p || !v.len;
    case D_EMPTY: return v.p && !v.len;
    case D_TIME: return time_part(s, d->unit, &x) && iw_engine__cmp_num(x, d->op, d->num);
    case D_FIELDREF:
        return fieldref_match(v, iw_event_get(s->ev, (iw_field_id_t)d->field2), d->mode, d->cased);
    case D_LONG: return long_line(v, d->num, d->mode);
    default: return 0;
    }
}

int iw_engine__lazy_lit_only(const iw_engine_t *e, int32_t p)
{
    int32_t i, a = e->lz_first[p], z = e->lz_first[p + 1];

    if (a == z || iw_field_is_multi(e->lz[a].field)) return 0;
    for (i = a; i < z; i++)
        if (e->lz[i].dc >= 0 || e->lz[i].rx >= 0 || e->lz[i].field != e->lz[a].field) return 0;
    return 1;
}

/* The value of one field, fetched once for consecutive checks on it
 * (checks are sorted by field at compile time); its number (numf: the
 * field it was read for) only for a check of a number. */
typedef struct fcache { int field, have_num; iw_str_t v; int64_t num; int numf; } fcache_t;

/* A number check (D_NUM): the number read once for consecutive checks (a
 * dozen on sc-status), without its text (lazy). */
static inline int num_read(iw_event_t *ev, int field, fcache_t *fc)
{
    if (fc->numf != field) {
        fc->numf = field;
        if (field == IW_F_PARAMS_DROPPED) fc->have_num = iw_event_num(ev, IW_F_PARAMS_DROPPED, &fc->num);
        else if ((fc->have_num = (ev->have_num >> field) & 1)) fc->num = ev->num[field];
    }
    return fc->have_num;
}

static inline int direct_num(iw_event_t *ev, const dcheck_t *d, fcache_t *fc)
{
    return num_read(ev, d->field, fc) && iw_engine__cmp_num(fc->num, d->op, d->num);
}

static inline int direct(iw_scratch_t *s, const dcheck_t *d, fcache_t *fc)
{
    if (d->kind == D_NUM && !iw_field_is_multi(d->field)) return direct_num(s->ev, d, fc);
    /* no value of a parameter list is longer than its source: a long-line
     * test needs no split when the source is short */
    if (d->kind == D_LONG && iw_event_params_max(s->ev, d->field) < (uint64_t)d->num) return 0;
    if (fc->field != d->field) {
        fc->field = d->field;
        fc->v = iw_event_get(s->ev, (iw_field_id_t)d->field);
    }
    if (!iw_field_is_multi(d->field)) {
        switch (d->kind) {      /* the common ones without a call */
        case D_PRESENT: return fc->v.p != NULL;
        case D_ABSENT: return fc->v.p == NULL;
        case D_NULL: return !fc->v.p || !fc->v.len;
        case D_EMPTY: return fc->v.p && !fc->v.len;
        case D_LONG: if (!fc->v.p || (int64_t)fc->v.len < d->num) return 0;   /* most values */
            break;
        default: break;
        }
    }
    return iw_engine__direct_value(s, d, fc->v);
}

int iw_engine__direct_one(iw_scratch_t *s, const dcheck_t *d)
{
    fcache_t fc = { -1, 0, IW_STR_NULL, 0, -1 };
    return direct(s, d, &fc);
}

void iw_engine__direct_checks(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev, unsigned type)
{
    fcache_t fc = { -1, 0, IW_STR_NULL, 0, -1 };
    int32_t i, r;

    for (i = 0; i < e->ndc; ) {       /* a test once for the checks that share it */
        const dcheck_t *d = &e->dc[i];
        if ((r = d->run)) {            /* equalities of one number: its equal test */
            if (num_read(ev, d->field, &fc))
                for (i = iw_engine__eq_run_first(e->dc, i, fc.num); i < r && e->dc[i].num == fc.num; i++)
                    if (e->dc[i].types & type) pred_set(s, e->dc[i].pred, e->dc[i].field);
            i = r;
            continue;
        }
        if (!(d->types & type) || pred_is_set(s, d->pred)) { i++; continue; }
        if (!direct(s, d, &fc)) { i = d->end; continue; }
        for (; i < d->end; i++)
            if (e->dc[i].types & type) pred_set(s, e->dc[i].pred, e->dc[i].field);
    }
}
