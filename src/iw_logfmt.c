/* SPDX-License-Identifier: Apache-2.0 */
/* iw_logfmt: CLI input lines -> request / error descriptions.
 *
 * Three formats (docs/FIELDS.md, "Input formats"): Apache access-log lines
 * (common, combined, vhost_combined and the time-first variant OSSEC shows),
 * Apache 2.2/2.4 error-log lines, and the corpus JSON-lines format.  Every
 * parser works on (pointer, length), copies unescaped strings into the
 * caller's buffer and reports a malformed line with a reason instead of
 * guessing; nothing allocates. */
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <stdio.h>
#include "iw_logfmt.h"

/* ---- small helpers ------------------------------------------------------- */

typedef struct { const char *p, *e; } cur_t;

static int is_ws(char c) { return c == ' ' || c == '\t'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

static void cur_ws(cur_t *c)
{
    while (c->p < c->e && is_ws(*c->p)) c->p++;
}

static int cur_ch(cur_t *c, char ch)
{
    if (c->p < c->e && *c->p == ch) { c->p++; return 1; }
    return 0;
}

/* Unsigned decimal with min..max digits. */
static int cur_num(cur_t *c, int min, int max, long *v)
{
    int n = 0;

    *v = 0;
    while (c->p < c->e && is_digit(*c->p) && n < max) {
        *v = *v * 10 + (*c->p - '0');
        c->p++; n++;
    }
    return n >= min;
}

/* All-digit text -> int64 without overflow. */
static int parse_i64(const char *p, size_t n, int64_t *v)
{
    size_t i;

    if (n == 0 || n > 18) return 0;
    *v = 0;
    for (i = 0; i < n; i++) {
        if (!is_digit(p[i])) return 0;
        *v = *v * 10 + (p[i] - '0');
    }
    return 1;
}

static void out_reset(iw_parsed_t *o)
{
    o->req = (iw_request_desc_t){ 0 };      /* inline stores, no memset call */
    o->err = (iw_error_desc_t){ 0 };
    o->req.sc_bytes = o->req.cs_bytes = o->req.time_taken_ms = -1;
    o->req.hdr_names = o->hdr_names;
    o->req.hdr_values = o->hdr_values;
    o->id[0] = '\0';
    o->buf_used = 0;
    o->type = IW_EV_ACCESS;
}

static char *out_alloc(iw_parsed_t *o, size_t n)
{
    char *r;

    if (!o->buf || o->buf_used > o->buf_size || n > o->buf_size - o->buf_used)
        return NULL;
    r = o->buf + o->buf_used;
    o->buf_used += n;
    return r;
}

static void add_header(iw_parsed_t *o, iw_str_t name, iw_str_t value)
{
    int n = o->req.nhdrs;

    if (n >= IW_LOGFMT_MAX_HEADERS) {           /* no slot: counted (iw-truncated) */
        o->req.dropped += name.len + value.len + 3;
        return;
    }
    o->hdr_names[n] = name;
    o->hdr_values[n] = value;
    o->req.nhdrs = n + 1;
}

/* ---- time ---------------------------------------------------------------- */

static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

static int month_index(const char *p, const char *e)
{
    int i;

    if (e - p < 3) return -1;
    for (i = 0; i < 12; i++)      /* per line: byte compares, no strncmp call */
        if (p[0] == months[3 * i] && p[1] == months[3 * i + 1]
            && p[2] == months[3 * i + 2])
            return i;
    return -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(long y, int m)
{
    static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 ? 28 + leap : dm[m - 1];
}

/* Broken-down time (month 1..12) minus a zone offset -> apr_time (UTC). */
static int make_time(long y, long mon, long d, long h, long mi, long s,
                     long usec, long off_sec, apr_time_t *t)
{
    int64_t secs;

    if (y < 1 || y > 9999 || mon < 1 || mon > 12 || d < 1
        || d > days_in_month(y, (int)mon) || h > 23 || mi > 59 || s > 60)
        return 0;
    secs = days_from_civil(y, (int)mon, (int)d) * 86400 + h * 3600 + mi * 60 + s;
    *t = (apr_time_t)(secs - off_sec) * APR_USEC_PER_SEC + usec;
    return 1;
}

/* "+hhmm" / "-hh:mm" (colon optional) -> seconds east of UTC. */
static int parse_zone(cur_t *c, long *off)
{
    int sign;
    long hh, mm;

    if (c->p >= c->e || (*c->p != '+' && *c->p != '-')) return 0;
    sign = *c->p++ == '-' ? -1 : 1;
    if (!cur_num(c, 2, 2, &hh)) return 0;
    cur_ch(c, ':');
    if (!cur_num(c, 2, 2, &mm) || hh > 23 || mm > 59) return 0;
    *off = sign * (hh * 3600 + mm * 60);
    return 1;
}

/* ".123456" -> microseconds (extra digits ignored). */
static long parse_frac(cur_t *c)
{
    long us = 0, scale = 100000;

    if (!cur_ch(c, '.')) return 0;
    while (c->p < c->e && is_digit(*c->p)) {
        us += (*c->p - '0') * scale;
        scale /= 10;
        c->p++;
    }
    return us;
}

static long dig2(const char *p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

/* The exact form Apache writes, "10/Oct/2000:13:55:36 -0700": fixed
 * offsets, no cursor (every access-log line comes through here).  Returns
 * -1 when s is not in that form, else what make_time says. */
static int clf_time_fixed(const char *s, size_t len, apr_time_t *t)
{
    static const unsigned char digits[] = { 0, 1, 7, 8, 9, 10, 12, 13, 15, 16,
                                            18, 19, 22, 23, 24, 25 };
    long off;
    int i, mon;

    if (len != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':'
        || s[17] != ':' || s[20] != ' ' || (s[21] != '+' && s[21] != '-'))
        return -1;
    for (i = 0; i < (int)sizeof(digits); i++)
        if (!is_digit(s[digits[i]])) return -1;
    if ((mon = month_index(s + 3, s + 6)) < 0) return -1;
    if (dig2(s + 22) > 23 || dig2(s + 24) > 59) return 0;
    off = dig2(s + 22) * 3600 + dig2(s + 24) * 60;
    return make_time(dig2(s + 7) * 100 + dig2(s + 9), mon + 1, dig2(s),
                     dig2(s + 12), dig2(s + 15), dig2(s + 18), 0,
                     s[21] == '-' ? -off : off, t);
}

int iw_parse_clf_time(const char *s, size_t len, apr_time_t *t)
{
    cur_t c = { s, s + len };
    long d, y, h, mi, sec, off;
    int mon, fixed = clf_time_fixed(s, len, t);

    if (fixed >= 0) return fixed;
    if (!cur_num(&c, 1, 2, &d) || !cur_ch(&c, '/')) return 0;
    if ((mon = month_index(c.p, c.e)) < 0) return 0;
    c.p += 3;
    if (!cur_ch(&c, '/') || !cur_num(&c, 4, 4, &y) || !cur_ch(&c, ':')
        || !cur_num(&c, 2, 2, &h) || !cur_ch(&c, ':')
        || !cur_num(&c, 2, 2, &mi) || !cur_ch(&c, ':')
        || !cur_num(&c, 2, 2, &sec))
        return 0;
    cur_ws(&c);
    if (!parse_zone(&c, &off) || c.p != c.e) return 0;
    return make_time(y, mon + 1, d, h, mi, sec, 0, off, t);
}

/* Error-log time "Wed Oct 11 14:32:52[.123456] 2000".  The error log has no
 * zone: the time is taken as UTC (documented). */
static int parse_err_time(const char *s, size_t len, apr_time_t *t)
{
    cur_t c = { s, s + len };
    long d, y, h, mi, sec, us;
    int mon;

    if (len < 4 || s[3] != ' ') return 0;              /* weekday */
    c.p += 4;
    cur_ws(&c);
    if ((mon = month_index(c.p, c.e)) < 0) return 0;
    c.p += 3;
    cur_ws(&c);
    if (!cur_num(&c, 1, 2, &d)) return 0;
    cur_ws(&c);
    if (!cur_num(&c, 2, 2, &h) || !cur_ch(&c, ':') || !cur_num(&c, 2, 2, &mi)
        || !cur_ch(&c, ':') || !cur_num(&c, 2, 2, &sec))
        return 0;
    us = parse_frac(&c);
    cur_ws(&c);
    if (!cur_num(&c, 4, 4, &y) || c.p != c.e) return 0;
    return make_time(y, mon + 1, d, h, mi, sec, us, 0, t);
}

/* ISO-8601 "YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|+hh:mm]"; no zone = UTC. */
static int parse_iso_time(const char *s, size_t len, apr_time_t *t)
{
    cur_t c = { s, s + len };
    long y, mon, d, h, mi, sec, us, off = 0;

    if (!cur_num(&c, 4, 4, &y) || !cur_ch(&c, '-') || !cur_num(&c, 2, 2, &mon)
        || !cur_ch(&c, '-') || !cur_num(&c, 2, 2, &d))
        return 0;
    if (!cur_ch(&c, 'T') && !cur_ch(&c, ' ') && !cur_ch(&c, 't')) return 0;
    if (!cur_num(&c, 2, 2, &h) || !cur_ch(&c, ':') || !cur_num(&c, 2, 2, &mi)
        || !cur_ch(&c, ':') || !cur_num(&c, 2, 2, &sec))
        return 0;
    us = parse_frac(&c);
    if (!cur_ch(&c, 'Z') && !cur_ch(&c, 'z') && c.p < c.e && !parse_zone(&c, &off))
        return 0;
    return c.p == c.e && make_time(y, mon, d, h, mi, sec, us, off, t);
}

/* ---- access log ---------------------------------------------------------- */

typedef enum { TK_BARE, TK_QUOTED, TK_BRACKET } tk_kind_t;

typedef struct {
    tk_kind_t kind;
    const char *p;      /* content without quotes/brackets */
    size_t len;
} tok_t;

#define MAX_TOKS 24

/* A quoted field ends at an unescaped '"' followed by a blank or the end
 * of the line; a last field that never closes runs to the end (seen in
 * real logs whose lines were cut). */
static size_t quoted_end(const char *s, size_t i, size_t len)
{
    size_t start = i;

    /* memchr to each quote; it is escaped when an odd run of backslashes
     * (pairs escape each other) precedes it inside the field */
    while (i < len) {
        const char *q = memchr(s + i, '"', len - i);
        size_t k, bs = 0;

        if (!q) return len;
        k = (size_t)(q - s);
        while (k - bs > start && s[k - bs - 1] == '\\') bs++;
        if (!(bs & 1) && (k + 1 == len || is_ws(s[k + 1]))) return k;
        i = k + 1;
    }
    return len;
}

/* End of a bare word: the first blank at or after j.  Eight bytes per
 * step (a byte equal to ' ' or '\t' is found as a zero byte of w ^ c;
 * the lowest flagged byte is exact), then bytewise for the tail. */
static size_t bare_end(const char *s, size_t j, size_t len)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;

    while (j + 8 <= len) {
        uint64_t w, a, b, hit;
        memcpy(&w, s + j, 8);
        a = w ^ (ones * ' ');
        b = w ^ (ones * '\t');
        hit = ((a - ones) & ~a & highs) | ((b - ones) & ~b & highs);
        if (hit) return j + (size_t)(__builtin_ctzll(hit) >> 3);
        j += 8;
    }
#endif
    while (j < len && !is_ws(s[j])) j++;
    return j;
}

static int tokenize(const char *s, size_t len, tok_t *tk, int max)
{
    size_t i = 0, j;
    int n = 0;

    while (n < max) {
        while (i < len && is_ws(s[i])) i++;
        if (i >= len) break;
        if (s[i] == '"') {
            j = quoted_end(s, i + 1, len);
            tk[n++] = (tok_t){ TK_QUOTED, s + i + 1, j - i - 1 };
        } else if (s[i] == '[') {
            const char *rb = memchr(s + i, ']', len - i);
            j = rb ? (size_t)(rb - s) : len;
            tk[n++] = (tok_t){ TK_BRACKET, s + i + 1, j - i - 1 };
        } else {
            j = bare_end(s, i, len);
            tk[n++] = (tok_t){ TK_BARE, s + i, j - i };
        }
        i = j + 1;
    }
    return n;
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Undo Apache's log escaping (\" \\ \xhh \n \t \r \v \b \f) into o->buf so
 * the values are the bytes the client sent, as the module sees them. */
static int log_unescape(iw_parsed_t *o, const char *p, size_t len, iw_str_t *res)
{
    const char *bs = memchr(p, '\\', len);
    char *d;
    size_t i, n;

    /* nearly every field has no escape: use it in place, copy nothing */
    if (!bs) { *res = (iw_str_t){ p, len }; return 1; }
    if (!(d = out_alloc(o, len + 1))) return 0;
    n = i = (size_t)(bs - p);
    memcpy(d, p, n);
    while (i < len) {
        char c = p[i];
        if (c != '\\' || i + 1 >= len) { d[n++] = c; i++; continue; }
        c = p[i + 1];
        if (c == 'x' && i + 3 < len && hexv(p[i + 2]) >= 0 && hexv(p[i + 3]) >= 0) {
            d[n++] = (char)(hexv(p[i + 2]) * 16 + hexv(p[i + 3]));
            i += 4;
            continue;
        }
        switch (c) {
        case '"': case '\\': d[n++] = c; break;
        case 'n': d[n++] = '\n'; break;
        case 't': d[n++] = '\t'; break;
        case 'r': d[n++] = '\r'; break;
        case 'v': d[n++] = '\v'; break;
        case 'b': d[n++] = '\b'; break;
        case 'f': d[n++] = '\f'; break;
        default: d[n++] = '\\'; d[n++] = c; break;
        }
        i += 2;
    }
    d[n] = '\0';
    o->buf_used -= len - n;           /* give back what unescaping saved */
    *res = (iw_str_t){ d, n };
    return 1;
}

/* RFC 9110 token character (per method byte: a switch, not strchr). */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit((char)c))
        return 1;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
    case '+': case '-': case '.': case '^': case '_': case '`': case '|':
    case '~':
        return 1;
    default:
        return 0;
    }
}

/* "METHOD target VERSION" (or HTTP/0.9 "METHOD target") -> req. */
static int split_request(iw_str_t l, iw_request_desc_t *r, const char **why)
{
    const char *p = l.p, *e = l.p + l.len, *m = p, *t, *v;

    if (l.len == 0 || (l.len == 1 && *p == '-')) {
        *why = "no request line (\"-\"): connection closed before a request";
        return 0;
    }
    while (p < e && is_tchar((unsigned char)*p)) p++;
    if (p == m || p >= e || *p != ' ') {
        *why = "request line is not METHOD TARGET [VERSION]";
        return 0;
    }
    r->method = (iw_str_t){ m, (size_t)(p - m) };
    while (p < e && *p == ' ') p++;
    t = p;
    for (v = e; v > t && v[-1] != ' '; v--) ;
    if (v > t && e - v > 5 && !memcmp(v, "HTTP/", 5)) {
        r->version = (iw_str_t){ v, (size_t)(e - v) };
        for (e = v; e > t && e[-1] == ' '; e--) ;
    }
    if (e == t) {
        *why = "request line is not METHOD TARGET [VERSION]";
        return 0;
    }
    r->target = (iw_str_t){ t, (size_t)(e - t) };
    return 1;
}

static iw_str_t dash_absent(const tok_t *t)
{
    if (t->len == 1 && t->p[0] == '-') return IW_STR_NULL;
    return (iw_str_t){ t->p, t->len };
}

/* "%v" / "%v:%p" of vhost_combined -> sitename (+ port). */
static void set_vhost(iw_request_desc_t *r, const tok_t *t)
{
    const char *c = memchr(t->p, ':', t->len);
    int64_t port;
    size_t plen;

    r->sitename = (iw_str_t){ t->p, c ? (size_t)(c - t->p) : t->len };
    if (!c) return;
    plen = t->len - (size_t)(c + 1 - t->p);
    if (parse_i64(c + 1, plen, &port) && port > 0 && port < 65536)
        r->server_port = (int)port;
}

/* Bare words before the time: "host ident user" or "vhost host ident user";
 * between time and request (OSSEC time-first logs): "ident user host". */
static int assign_prefix(iw_request_desc_t *r, const tok_t *tk, int t, int q,
                         const char **why)
{
    int i, nb = 0, nm = 0;

    for (i = 0; i < t; i++) nb += tk[i].kind == TK_BARE;
    for (i = t + 1; i < q; i++) nm += tk[i].kind == TK_BARE;
    if (nb != t || nm != q - t - 1) {
        *why = "unexpected quoted/bracketed field before the request";
        return 0;
    }
    if (nm == 0 && (nb == 3 || nb == 4)) {
        if (nb == 4) set_vhost(r, &tk[0]);
        r->client_ip = (iw_str_t){ tk[nb - 3].p, tk[nb - 3].len };
        r->username = dash_absent(&tk[nb - 1]);
        return 1;
    }
    if (nb == 0 && nm == 3) {
        r->username = dash_absent(&tk[t + 2]);
        r->client_ip = (iw_str_t){ tk[t + 3].p, tk[t + 3].len };
        return 1;
    }
    *why = "expected \"host ident user [time]\" before the request";
    return 0;
}

/* Status: exactly three digits, 100..999. */
static int set_status(iw_request_desc_t *r, const tok_t *k, const char **why)
{
    int64_t v;

    if (k->len != 3 || !parse_i64(k->p, 3, &v) || v < 100) {
        *why = "status after the request is not a 3-digit code";
        return 0;
    }
    r->status = (int)v;
    return 1;
}

/* Size: digits, or "-" (Apache's %b for zero bytes). */
static int set_bytes(iw_request_desc_t *r, const tok_t *k, const char **why)
{
    if (k->len == 1 && k->p[0] == '-') r->sc_bytes = 0;
    else if (!parse_i64(k->p, k->len, &r->sc_bytes)) {
        *why = "response size is not a number or \"-\"";
        return 0;
    }
    return 1;
}

/* After the request: status, bytes (bare words, in that order; further bare
 * words such as %D are ignored) and referer, user agent (quoted, "-" =
 * absent). */
static int assign_suffix(iw_parsed_t *o, const tok_t *tk, int n, int q,
                         const char **why)
{
    iw_request_desc_t *r = &o->req;
    int i, nbare = 0, nq = 0;
    iw_str_t val;

    for (i = q + 1; i < n; i++) {
        const tok_t *k = &tk[i];
        if (k->kind == TK_BARE) {
            nbare++;
            if (nbare == 1 && !set_status(r, k, why)) return 0;
            if (nbare == 2 && !set_bytes(r, k, why)) return 0;
        } else if (k->kind == TK_QUOTED && nq < 2) {
            if (!log_unescape(o, k->p, k->len, &val)) {
                *why = "work buffer too small for the line";
                return 0;
            }
            if (!(val.len == 1 && val.p[0] == '-'))
                add_header(o, nq ? (iw_str_t){ "User-Agent", 10 }
                                 : (iw_str_t){ "Referer", 7 }, val);
            nq++;
        }
    }
    if (!r->status) { *why = "no status code after the request"; return 0; }
    return 1;
}

static int parse_access(const char *s, size_t len, iw_parsed_t *o,
                        const char **why)
{
    tok_t tk[MAX_TOKS];
    int n = tokenize(s, len, tk, MAX_TOKS), t, q;
    iw_str_t reqline;

    for (t = 0; t < n; t++)
        if (tk[t].kind == TK_BRACKET
            && iw_parse_clf_time(tk[t].p, tk[t].len, &o->req.time))
            break;
    if (t >= n) {
        *why = "no [dd/Mon/yyyy:hh:mm:ss +zone] timestamp";
        return 0;
    }
    for (q = t + 1; q < n && tk[q].kind != TK_QUOTED; q++) ;
    if (q >= n) { *why = "no quoted request line after the time"; return 0; }
    if (!assign_prefix(&o->req, tk, t, q, why)) return 0;
    if (!log_unescape(o, tk[q].p, tk[q].len, &reqline)) {
        *why = "work buffer too small for the line";
        return 0;
    }
    if (!split_request(reqline, &o->req, why)) return 0;
    return assign_suffix(o, tk, n, q, why);
}

/* ---- error log ----------------------------------------------------------- */

/* "1.2.3.4:5678" -> "1.2.3.4"; "::1:5678" (2.4 always adds the port) ->
 * "::1"; 2.2's "1.2.3.4" / "::1" stay. */
static iw_str_t client_addr(const char *p, size_t len, int v24)
{
    const char *c = NULL, *k;
    int colons = 0;

    for (k = p; k < p + len; k++)
        if (*k == ':') { colons++; c = k; }
    if (c && (colons == 1 || v24) && c + 1 < p + len) {
        for (k = c + 1; k < p + len && is_digit(*k); k++) ;
        if (k == p + len) len = (size_t)(c - p);
    }
    return (iw_str_t){ p, len };
}

static int has_prefix(const char *p, size_t len, const char *pre)
{
    size_t n = strlen(pre);
    return len >= n && !strncmp(p, pre, n);
}

/* One "[...]" after the time; returns 0 when it is not a header bracket
 * (the message starts there). */
static int err_bracket(iw_error_desc_t *e, const char *p, size_t len, int *v24)
{
    const char *c;
    int64_t pid;
    size_t n;

    if (has_prefix(p, len, "pid ")) {
        for (n = 4; n < len && is_digit(p[n]); n++) ;
        if (parse_i64(p + 4, n - 4, &pid)) e->pid = (long)pid;
        *v24 = 1;
        return 1;
    }
    if (has_prefix(p, len, "client ")) {
        e->client_ip = client_addr(p + 7, len - 7, *v24);
        return 1;
    }
    if (has_prefix(p, len, "remote ") || has_prefix(p, len, "tid ")) return 1;
    if (e->level.p || len == 0 || memchr(p, ' ', len)) return 0;
    if ((c = memchr(p, ':', len))) {            /* 2.4 "[module:level]" */
        *v24 = 1;
        if (c > p) e->module = (iw_str_t){ p, (size_t)(c - p) };
        e->level = (iw_str_t){ c + 1, len - (size_t)(c + 1 - p) };
    } else {
        e->level = (iw_str_t){ p, len };        /* 2.2 "[level]" */
    }
    return 1;
}

/* 2.4 puts an APR error before the client: "(13)Permission denied:
 * [client 1.2.3.4:5] AH00035: ..." -> client out, message without it. */
static int err_inner_client(iw_parsed_t *o, int v24)
{
    iw_error_desc_t *e = &o->err;
    const char *m = e->message.p, *me = m + e->message.len, *b, *rb;
    size_t pre, post;
    char *d;

    if (e->client_ip.p || !m) return 1;
    b = e->message.len > 8 ? memmem(m, e->message.len, ": [client ", 10) : NULL;
    if (!b || b - m > 256 || memchr(m, '[', (size_t)(b - m))) return 1;
    rb = memchr(b + 10, ']', (size_t)(me - b - 10));
    if (!rb) return 1;
    e->client_ip = client_addr(b + 10, (size_t)(rb - b - 10), v24);
    pre = (size_t)(b - m) + 2;
    rb++;
    if (rb < me && *rb == ' ') rb++;
    post = (size_t)(me - rb);
    if (!(d = out_alloc(o, pre + post + 1))) return 0;
    memcpy(d, m, pre);
    memcpy(d + pre, rb, post);
    d[pre + post] = '\0';
    e->message = (iw_str_t){ d, pre + post };
    return 1;
}

/* "AH01630:" at the start of the message or after an "(n)error: " prefix. */
static void err_ah_code(iw_error_desc_t *e)
{
    const char *m = e->message.p;
    size_t len = e->message.len, i;
    int64_t v;

    for (i = 0; i + 8 <= len && i < 256; i++) {
        if ((i == 0 || (i >= 2 && m[i - 2] == ':' && m[i - 1] == ' '))
            && m[i] == 'A' && m[i + 1] == 'H' && parse_i64(m + i + 2, 5, &v)
            && m[i + 7] == ':') {
            e->ah_code = (int)v;
            return;
        }
    }
}

static int parse_error(const char *s, size_t len, iw_parsed_t *o,
                       const char **why)
{
    iw_error_desc_t *e = &o->err;
    cur_t c = { s, s + len };
    const char *rb;
    int v24 = 0;

    o->type = IW_EV_ERROR;
    cur_ws(&c);
    if (c.p < c.e && *c.p != '[') {
        /* text a child wrote to stderr, which httpd puts into the error
         * log verbatim (glibc assertions, CGI/PHP output): an entry with
         * that message and no time, level or module */
        e->message = (iw_str_t){ c.p, (size_t)(c.e - c.p) };
        err_ah_code(e);
        return 1;
    }
    if (!cur_ch(&c, '[') || !(rb = memchr(c.p, ']', (size_t)(c.e - c.p)))
        || !parse_err_time(c.p, (size_t)(rb - c.p), &e->time)) {
        *why = "no [Www Mmm dd hh:mm:ss yyyy] timestamp";
        return 0;
    }
    c.p = rb + 1;
    for (;;) {
        cur_ws(&c);
        if (c.p >= c.e || *c.p != '[') break;
        rb = memchr(c.p, ']', (size_t)(c.e - c.p));
        if (!rb || !err_bracket(e, c.p + 1, (size_t)(rb - c.p - 1), &v24)) break;
        c.p = rb + 1;
    }
    if (!e->level.p) { *why = "no [level] or [module:level] after the time"; return 0; }
    e->message = (iw_str_t){ c.p, (size_t)(c.e - c.p) };
    if (!err_inner_client(o, v24)) { *why = "work buffer too small for the line"; return 0; }
    err_ah_code(e);
    return 1;
}

/* ---- JSON lines ------------------------------------------------------------ */

#define JS_MAX_DEPTH 32

typedef struct {
    const char *p, *e;
    iw_parsed_t *o;
    const char *why;
} js_t;

static int js_fail(js_t *j, const char *why)
{
    if (!j->why) j->why = why;
    return 0;
}

static void js_ws(js_t *j)
{
    while (j->p < j->e && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n'
                           || *j->p == '\r'))
        j->p++;
}

static int js_hex4(const char *p, const char *e, unsigned *v)
{
    int k, h;

    if (e - p < 4) return 0;
    for (*v = 0, k = 0; k < 4; k++) {
        if ((h = hexv(p[k])) < 0) return 0;
        *v = *v * 16 + (unsigned)h;
    }
    return 1;
}

static size_t js_utf8(char *d, unsigned cp)
{
    unsigned char *u = (unsigned char *)d;

    if (cp < 0x80) { u[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    u[0] = (unsigned char)(0xF0 | (cp >> 18));
    u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* \uXXXX at p (after the backslash-u), joining surrogate pairs; a lone
 * surrogate becomes U+FFFD.  Advances *pp past what was used. */
static int js_uescape(js_t *j, const char **pp, unsigned *cp)
{
    const char *p = *pp;
    unsigned lo;

    if (!js_hex4(p, j->e, cp)) return js_fail(j, "bad \\u escape in string");
    p += 4;
    if (*cp >= 0xD800 && *cp <= 0xDBFF) {
        if (j->e - p >= 6 && p[0] == '\\' && p[1] == 'u'
            && js_hex4(p + 2, j->e, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
            *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        } else {
            *cp = 0xFFFD;
        }
    } else if (*cp >= 0xDC00 && *cp <= 0xDFFF) {
        *cp = 0xFFFD;
    }
    *pp = p;
    return 1;
}

static char js_simple_escape(char c)
{
    switch (c) {
    case '"': return '"';  case '\\': return '\\'; case '/': return '/';
    case 'b': return '\b'; case 'f': return '\f';  case 'n': return '\n';
    case 'r': return '\r'; case 't': return '\t';
    default: return 0;
    }
}

/* String at j->p (on the opening quote) decoded into the buffer (every
 * escape is never longer decoded than encoded, so len + 1 bytes do). */
static int js_string(js_t *j, iw_str_t *res)
{
    const char *p = j->p + 1, *end;
    char *d;
    size_t n = 0;

    for (end = p; end < j->e && *end != '"'; end++)
        if (*end == '\\' && ++end >= j->e) break;
    if (end >= j->e) return js_fail(j, "unterminated string");
    if (!(d = out_alloc(j->o, (size_t)(end - p) + 1)))
        return js_fail(j, "work buffer too small for the line");
    while (p < end) {
        unsigned char c = (unsigned char)*p++;
        if (c < 0x20) return js_fail(j, "raw control character in string");
        if (c != '\\') { d[n++] = (char)c; continue; }
        if (*p == 'u') {
            unsigned cp;
            p++;
            if (!js_uescape(j, &p, &cp)) return 0;
            n += js_utf8(d + n, cp);
        } else if (js_simple_escape(*p)) {
            d[n++] = js_simple_escape(*p++);
        } else {
            return js_fail(j, "bad escape in string");
        }
    }
    d[n] = '\0';
    j->o->buf_used -= (size_t)(end - j->p - 1) - n;
    j->p = end + 1;
    *res = (iw_str_t){ d, n };
    return 1;
}

/* JSON number grammar; res = its text. */
static int js_number(js_t *j, iw_str_t *res)
{
    const char *s = j->p, *p = j->p;

    if (p < j->e && *p == '-') p++;
    if (p < j->e && *p == '0') p++;
    else if (p < j->e && *p >= '1' && *p <= '9')
        while (p < j->e && is_digit(*p)) p++;
    else return js_fail(j, "bad number");
    if (p < j->e && *p == '.') {
        if (++p >= j->e || !is_digit(*p)) return js_fail(j, "bad number");
        while (p < j->e && is_digit(*p)) p++;
    }
    if (p < j->e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < j->e && (*p == '+' || *p == '-')) p++;
        if (p >= j->e || !is_digit(*p)) return js_fail(j, "bad number");
        while (p < j->e && is_digit(*p)) p++;
    }
    *res = (iw_str_t){ s, (size_t)(p - s) };
    j->p = p;
    return 1;
}

static int js_literal(js_t *j, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(j->e - j->p) < n || strncmp(j->p, lit, n))
        return js_fail(j, "unexpected character");
    j->p += n;
    return 1;
}

static int js_skip(js_t *j, int depth);

/* Object or array being skipped: members/elements until the closer. */
static int js_skip_container(js_t *j, int depth, char close)
{
    size_t mark = j->o->buf_used;
    iw_str_t k;

    j->p++;
    js_ws(j);
    if (j->p < j->e && *j->p == close) { j->p++; return 1; }
    for (;;) {
        js_ws(j);
        if (close == '}') {
            if (j->p >= j->e || *j->p != '"' || !js_string(j, &k))
                return js_fail(j, "expected a string key");
            j->o->buf_used = mark;
            js_ws(j);
            if (j->p >= j->e || *j->p++ != ':') return js_fail(j, "expected ':'");
        }
        if (!js_skip(j, depth + 1)) return 0;
        js_ws(j);
        if (j->p < j->e && *j->p == ',') { j->p++; continue; }
        if (j->p < j->e && *j->p == close) { j->p++; return 1; }
        return js_fail(j, "expected ',' or a closing bracket");
    }
}

/* Any value, checked and thrown away (nesting bounded). */
static int js_skip(js_t *j, int depth)
{
    size_t mark = j->o->buf_used;
    iw_str_t v;
    int ok;

    if (depth > JS_MAX_DEPTH) return js_fail(j, "nesting too deep");
    js_ws(j);
    if (j->p >= j->e) return js_fail(j, "truncated JSON");
    switch (*j->p) {
    case '{': return js_skip_container(j, depth, '}');
    case '[': return js_skip_container(j, depth, ']');
    case '"': ok = js_string(j, &v); j->o->buf_used = mark; return ok;
    case 't': return js_literal(j, "true");
    case 'f': return js_literal(j, "false");
    case 'n': return js_literal(j, "null");
    default:  return js_number(j, &v);
    }
}

/* A value that must be a string (or null = absent). */
static int js_want_string(js_t *j, iw_str_t *res, const char *why)
{
    js_ws(j);
    if (j->p < j->e && *j->p == 'n') { *res = IW_STR_NULL; return js_literal(j, "null"); }
    if (j->p >= j->e || *j->p != '"') return js_fail(j, why);
    return js_string(j, res);
}

/* One header value: a string, or an array of strings (repeated header). */
static int js_header_value(js_t *j, iw_str_t name)
{
    iw_str_t v;

    js_ws(j);
    if (j->p < j->e && *j->p == '"') {
        if (!js_string(j, &v)) return 0;
        add_header(j->o, name, v);
        return 1;
    }
    if (j->p < j->e && *j->p == '[') {
        j->p++;
        js_ws(j);
        if (j->p < j->e && *j->p == ']') { j->p++; return 1; }
        for (;;) {
            if (!js_header_value(j, name)) return 0;
            js_ws(j);
            if (j->p < j->e && *j->p == ',') { j->p++; continue; }
            if (j->p < j->e && *j->p == ']') { j->p++; return 1; }
            return js_fail(j, "headers: expected ',' or ']'");
        }
    }
    return js_skip(j, 1);                    /* null/number/object: ignored */
}

static int js_headers(js_t *j)
{
    iw_str_t k;

    js_ws(j);
    if (j->p < j->e && *j->p == 'n') return js_literal(j, "null");
    if (j->p >= j->e || *j->p != '{') return js_fail(j, "\"headers\" must be an object");
    j->o->req.nhdrs = 0;
    j->o->req.dropped = 0;
    j->p++;
    js_ws(j);
    if (j->p < j->e && *j->p == '}') { j->p++; return 1; }
    for (;;) {
        js_ws(j);
        if (j->p >= j->e || *j->p != '"' || !js_string(j, &k))
            return js_fail(j, "headers: expected a string key");
        js_ws(j);
        if (j->p >= j->e || *j->p++ != ':') return js_fail(j, "headers: expected ':'");
        if (!js_header_value(j, k)) return 0;
        js_ws(j);
        if (j->p < j->e && *j->p == ',') { j->p++; continue; }
        if (j->p < j->e && *j->p == '}') { j->p++; return 1; }
        return js_fail(j, "headers: expected ',' or '}'");
    }
}

/* "status": integer number or digit string, 0..999. */
static int js_status(js_t *j)
{
    iw_str_t v;
    int64_t n;

    js_ws(j);
    if (j->p < j->e && *j->p == 'n') return js_literal(j, "null");
    if (j->p < j->e && *j->p == '"') {
        if (!js_string(j, &v)) return 0;
    } else if (!js_number(j, &v)) {
        return js_fail(j, "\"status\" must be a number");
    }
    if (!parse_i64(v.p, v.len, &n) || n > 999)
        return js_fail(j, "\"status\" is not an HTTP status code");
    j->o->req.status = (int)n;
    return 1;
}

/* "time": ISO-8601 string (or Apache CLF time), epoch seconds, or null. */
static int js_time(js_t *j)
{
    iw_str_t v;
    char tmp[40];
    double d;

    js_ws(j);
    if (j->p < j->e && *j->p == 'n') return js_literal(j, "null");
    if (j->p < j->e && *j->p == '"') {
        if (!js_string(j, &v)) return 0;
        if (!parse_iso_time(v.p, v.len, &j->o->req.time)
            && !iw_parse_clf_time(v.p, v.len, &j->o->req.time))
            return js_fail(j, "\"time\" is not an ISO-8601 time");
        return 1;
    }
    if (!js_number(j, &v)) return js_fail(j, "\"time\" must be a string or number");
    if (v.len >= sizeof(tmp)) return js_fail(j, "\"time\" out of range");
    memcpy(tmp, v.p, v.len);
    tmp[v.len] = '\0';
    d = strtod(tmp, NULL);
    if (!(d >= 0 && d < 253402300800.0))        /* before year 10000 */
        return js_fail(j, "\"time\" out of range");
    j->o->req.time = (apr_time_t)(d * APR_USEC_PER_SEC);
    return 1;
}

static int js_id(js_t *j)
{
    iw_str_t v;
    size_t n;

    js_ws(j);
    if (j->p < j->e && *j->p == '"') {
        if (!js_string(j, &v)) return 0;
    } else if (j->p < j->e && (*j->p == '-' || is_digit(*j->p))) {
        if (!js_number(j, &v)) return 0;
    } else {
        return js_skip(j, 1);
    }
    n = v.len < sizeof(j->o->id) - 1 ? v.len : sizeof(j->o->id) - 1;
    memcpy(j->o->id, v.p, n);
    j->o->id[n] = '\0';
    j->o->req.request_id = (iw_str_t){ j->o->id, n };
    return 1;
}

static int js_member(js_t *j, iw_str_t key)
{
    iw_request_desc_t *r = &j->o->req;

#define KEY(s) (key.len == sizeof(s) - 1 && !memcmp(key.p, s, key.len))
    if (KEY("method")) return js_want_string(j, &r->method, "\"method\" must be a string");
    if (KEY("uri")) return js_want_string(j, &r->target, "\"uri\" must be a string");
    if (KEY("version")) return js_want_string(j, &r->version, "\"version\" must be a string");
    if (KEY("client")) return js_want_string(j, &r->client_ip, "\"client\" must be a string");
    if (KEY("body")) return js_want_string(j, &r->body, "\"body\" must be a string");
    if (KEY("headers")) return js_headers(j);
    if (KEY("status")) return js_status(j);
    if (KEY("time")) return js_time(j);
    if (KEY("id")) return js_id(j);
#undef KEY
    return js_skip(j, 1);
}

static int js_object(js_t *j)
{
    iw_str_t k;

    js_ws(j);
    if (j->p >= j->e || *j->p != '{') return js_fail(j, "not a JSON object");
    j->p++;
    js_ws(j);
    if (j->p < j->e && *j->p == '}') { j->p++; return 1; }
    for (;;) {
        js_ws(j);
        if (j->p >= j->e || *j->p != '"' || !js_string(j, &k))
            return js_fail(j, "expected a string key");
        js_ws(j);
        if (j->p >= j->e || *j->p++ != ':') return js_fail(j, "expected ':'");
        if (!js_member(j, k)) return 0;
        js_ws(j);
        if (j->p < j->e && *j->p == ',') { j->p++; continue; }
        if (j->p < j->e && *j->p == '}') { j->p++; return 1; }
        return js_fail(j, j->p >= j->e ? "truncated JSON" : "expected ',' or '}'");
    }
}

static int parse_jsonl(const char *s, size_t len, iw_parsed_t *o, const char **why)
{
    js_t j = { s, s + len, o, NULL };

    if (!js_object(&j)) { *why = j.why ? j.why : "bad JSON"; return 0; }
    js_ws(&j);
    if (j.p != j.e) { *why = "trailing garbage after the JSON object"; return 0; }
    if (!o->req.method.p) { *why = "missing \"method\""; return 0; }
    if (!o->req.target.p) { *why = "missing \"uri\""; return 0; }
    return 1;
}

/* ---- public -------------------------------------------------------------- */

int iw_input_format_parse(const char *name)
{
    if (!name) return -1;
    if (!strcasecmp(name, "auto")) return IW_INPUT_AUTO;
    if (!strcasecmp(name, "combined") || !strcasecmp(name, "common")
        || !strcasecmp(name, "vhost_combined") || !strcasecmp(name, "access"))
        return IW_INPUT_COMBINED;
    if (!strcasecmp(name, "error")) return IW_INPUT_ERROR;
    if (!strcasecmp(name, "jsonl") || !strcasecmp(name, "json"))
        return IW_INPUT_JSONL;
    return -1;
}

/* A UTF-8 byte-order mark (first line of files saved by some editors). */
static size_t bom_len(const char *s, size_t len)
{
    return len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3) ? 3 : 0;
}

/* '{' -> JSON lines; "[Www Mmm" -> error log; a line with a [CLF time] and
 * a quote -> access log; else AUTO (unknown). */
iw_input_format_t iw_logfmt_detect(const char *line, size_t len)
{
    size_t i = bom_len(line, len);
    const char *lb, *rb;

    while (i < len && (is_ws(line[i]) || line[i] == '\r' || line[i] == '\n')) i++;
    if (i >= len) return IW_INPUT_AUTO;
    if (line[i] == '{') return IW_INPUT_JSONL;
    if (line[i] == '[' && len - i > 8 && line[i + 4] == ' '
        && month_index(line + i + 5, line + len) >= 0)
        return IW_INPUT_ERROR;
    lb = memchr(line + i, '[', len - i);
    rb = lb ? memchr(lb, ']', (size_t)(line + len - lb)) : NULL;
    if (rb) {
        apr_time_t t;
        if (iw_parse_clf_time(lb + 1, (size_t)(rb - lb - 1), &t)
            && memchr(rb, '"', (size_t)(line + len - rb)))
            return IW_INPUT_COMBINED;
    }
    return IW_INPUT_AUTO;
}

int iw_logfmt_parse(iw_input_format_t fmt, const char *line, size_t len,
                    iw_parsed_t *out, const char **why)
{
    const char *dummy;

    if (!why) why = &dummy;
    *why = NULL;
    out_reset(out);
    if (!line) { *why = "no line"; return 0; }
    if (bom_len(line, len)) { line += 3; len -= 3; }
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'
                   || is_ws(line[len - 1])))
        len--;
    if (fmt == IW_INPUT_AUTO) fmt = iw_logfmt_detect(line, len);
    switch (fmt) {
    case IW_INPUT_COMBINED: return parse_access(line, len, out, why);
    case IW_INPUT_ERROR:    return parse_error(line, len, out, why);
    case IW_INPUT_JSONL:    return parse_jsonl(line, len, out, why);
    default:
        *why = len ? "unrecognised line format" : "empty line";
        return 0;
    }
}
