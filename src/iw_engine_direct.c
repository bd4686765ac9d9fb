/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_direct: the direct checks that are neither a number nor a
 * plain presence test (iw_engine_eval.c answers those in scan_event's
 * loop): time parts, |fieldref, long lines, and any check on a
 * multi-valued field (a parameter list: some value satisfies it).
 * Rules use them seldom, so they live apart from the hot loop.  Also
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
