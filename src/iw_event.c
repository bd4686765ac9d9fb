/* SPDX-License-Identifier: Apache-2.0 */
/* iw_event: field table + aliases, the event builder, lazy decoded views.
 *
 * Everything an event needs beyond the caller's raw strings lives in the
 * caller's work buffer (ev->buf): numbers as text, date/time, cs-headers,
 * _raw and the decoded views.  An owned buffer (iw_event_init_owned) is
 * sized per request before anything points into it, so every view fits;
 * a caller's fixed buffer that may be too small, or a request over the
 * limit, gets iw-truncated, and a value is cut short, never overflowed.
 * Nothing here allocates except an owned buffer that grows or shrinks. */
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include "iw_event.h"
#include "iw_decode.h"
#include "iw_param.h"

/* ---- field table --------------------------------------------------------- */

static const char *const field_names[IW_F__COUNT] = {
    [IW_F_C_IP] = "c-ip",               [IW_F_S_IP] = "s-ip",
    [IW_F_S_PORT] = "s-port",           [IW_F_S_SITENAME] = "s-sitename",
    [IW_F_CS_HOST] = "cs-host",         [IW_F_CS_METHOD] = "cs-method",
    [IW_F_CS_URI_STEM] = "cs-uri-stem", [IW_F_CS_URI_QUERY] = "cs-uri-query",
    [IW_F_CS_URI] = "cs-uri",           [IW_F_CS_VERSION] = "cs-version",
    [IW_F_SC_STATUS] = "sc-status",     [IW_F_SC_BYTES] = "sc-bytes",
    [IW_F_CS_BYTES] = "cs-bytes",       [IW_F_TIME_TAKEN] = "time-taken",
    [IW_F_CS_USER_AGENT] = "cs-user-agent", [IW_F_CS_REFERER] = "cs-referer",
    [IW_F_CS_COOKIE] = "cs-cookie",     [IW_F_CS_USERNAME] = "cs-username",
    [IW_F_CS_CONTENT_TYPE] = "cs-content-type",
    [IW_F_DATE] = "date",               [IW_F_TIME] = "time",
    [IW_F_CS_HEADERS] = "cs-headers",   [IW_F_REQUEST_ID] = "request-id",
    [IW_F_IW_TRUNCATED] = "iw-truncated",
    [IW_F_CS_BODY] = "cs-body",         [IW_F_CS_BODY_DEC] = "cs-body-decoded",
    [IW_F_CS_URI_DEC] = "cs-uri-decoded",
    [IW_F_CS_URI_STEM_DEC] = "cs-uri-stem-decoded",
    [IW_F_CS_URI_QUERY_DEC] = "cs-uri-query-decoded",
    [IW_F_CS_HEADERS_DEC] = "cs-headers-decoded",
    [IW_F_QP] = "cs-uri-query-param",   [IW_F_QP_NAME] = "cs-uri-query-param-name",
    [IW_F_QP_VALUE] = "cs-uri-query-param-value",
    [IW_F_CP] = "cs-cookie-param",      [IW_F_CP_NAME] = "cs-cookie-param-name",
    [IW_F_CP_VALUE] = "cs-cookie-param-value",
    [IW_F_BP] = "cs-body-param",        [IW_F_BP_NAME] = "cs-body-param-name",
    [IW_F_BP_VALUE] = "cs-body-param-value",
    [IW_F_PARAMS_DROPPED] = "iw-params-dropped",
    [IW_F_CS_HEADER_DEC] = "cs-header-decoded",
    [IW_F_MESSAGE] = "message",         [IW_F_LEVEL] = "level",
    [IW_F_MODULE] = "module",           [IW_F_AH_CODE] = "ah-code",
    [IW_F_PID] = "pid",                 [IW_F_RAW] = "_raw",
};

/* Aliases: spellings SOC people meet elsewhere (Sigma proxy taxonomy, IIS
 * W3C extended log, common SIEM names).  Keep in sync with docs/FIELDS.md. */
static const struct { const char *alias; iw_field_id_t f; } field_aliases[] = {
    { "c-uri",          IW_F_CS_URI },          /* Sigma proxy taxonomy */
    { "c-uri-stem",     IW_F_CS_URI_STEM },
    { "c-uri-query",    IW_F_CS_URI_QUERY },
    { "c-useragent",    IW_F_CS_USER_AGENT },
    { "cs-referrer",    IW_F_CS_REFERER },
    { "cs(user-agent)", IW_F_CS_USER_AGENT },   /* IIS W3C extended log */
    { "cs(referer)",    IW_F_CS_REFERER },
    { "cs(cookie)",     IW_F_CS_COOKIE },
    { "cs(host)",       IW_F_CS_HOST },
    { "user-agent",     IW_F_CS_USER_AGENT },
    { "useragent",      IW_F_CS_USER_AGENT },
    { "clientip",       IW_F_C_IP },
    { "client_ip",      IW_F_C_IP },
    { "src_ip",         IW_F_C_IP },
};

/* Config time only: a linear scan over ~50 names is plenty fast. */
int iw_field_lookup(const char *name)
{
    size_t i;

    if (!name) return -1;
    for (i = 0; i < IW_F__COUNT; i++)
        if (field_names[i] && !strcasecmp(name, field_names[i])) return (int)i;
    for (i = 0; i < sizeof(field_aliases) / sizeof(field_aliases[0]); i++)
        if (!strcasecmp(name, field_aliases[i].alias)) return field_aliases[i].f;
    return -1;
}

const char *iw_field_name(iw_field_id_t f)
{
    return (f >= 0 && f < IW_F__COUNT) ? field_names[f] : "?";
}

int iw_field_is_numeric(iw_field_id_t f)
{
    switch (f) {
    case IW_F_S_PORT: case IW_F_SC_STATUS: case IW_F_SC_BYTES:
    case IW_F_CS_BYTES: case IW_F_TIME_TAKEN: case IW_F_PID:
    case IW_F_IW_TRUNCATED: case IW_F_PARAMS_DROPPED:
        return 1;
    default:
        return 0;
    }
}

int iw_field_slots(iw_field_id_t f, iw_field_id_t *slots, int max)
{
    int n = 0;

    if (max <= 0) return 0;
    slots[n++] = f;
    if (f != IW_F_CS_URI_STEM && f != IW_F_CS_URI_QUERY) return n;
    if (n < max)
        slots[n++] = f == IW_F_CS_URI_STEM ? IW_F_CS_URI_QUERY : IW_F_CS_URI_STEM;
    if (n < max) slots[n++] = IW_F_CS_URI;
    return n;
}

/* ---- work buffer ------------------------------------------------------- */

static size_t buf_avail(const iw_event_t *ev)
{
    return ev->buf_used < ev->buf_size ? ev->buf_size - ev->buf_used : 0;
}

/* Copy [s, s+len) plus a NUL into the work buffer, cut to what fits.  Sets
 * val[f]; a field that does not fit at all stays absent. */
static void put_str(iw_event_t *ev, iw_field_id_t f, const char *s, size_t len)
{
    size_t avail = buf_avail(ev);
    char *dst;

    if (avail == 0) return;
    if (len > avail - 1) len = avail - 1;
    dst = ev->buf + ev->buf_used;
    if (len) memcpy(dst, s, len);
    dst[len] = '\0';
    ev->buf_used += len + 1;
    ev->val[f] = (iw_str_t){ dst, len };
}

/* Decimal text of v into tmp (>= 21 bytes); returns the length.  Hand
 * rolled: snprintf costs ~1,500 instructions per event (vfprintf setup). */
static size_t fmt_i64(char *tmp, int64_t v)
{
    char rev[20];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t n = 0, k = 0;

    if (u < 1000 && v >= 0) {          /* a status, a port's or a small count's digits */
        unsigned x = (unsigned)u;
        if (x >= 100) tmp[k++] = (char)('0' + x / 100);
        if (x >= 10) tmp[k++] = (char)('0' + x / 10 % 10);
        tmp[k++] = (char)('0' + x % 10);
        return k;
    }
    do { rev[n++] = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) tmp[k++] = '-';
    while (n) tmp[k++] = rev[--n];
    return k;
}

#define SHORT_MAX 24

/* put_str for a value in a SHORT_MAX-byte temporary: a constant-size copy
 * (two vector moves, no memcpy call) when the buffer has room for it. */
static void put_short(iw_event_t *ev, iw_field_id_t f, const char *tmp, size_t len)
{
    char *dst;

    if (buf_avail(ev) <= SHORT_MAX) { put_str(ev, f, tmp, len); return; }
    dst = ev->buf + ev->buf_used;
    memcpy(dst, tmp, SHORT_MAX);
    dst[len] = '\0';
    ev->buf_used += len + 1;
    ev->val[f] = (iw_str_t){ dst, len };
}

/* The number now, its text on first iw_event_get (most events never
 * need the text of their port, byte counts or time taken). */
static void put_num(iw_event_t *ev, iw_field_id_t f, int64_t v)
{
    ev->num[f] = v;
    ev->have_num |= (uint64_t)1 << f;
    ev->lazy_done &= ~((uint64_t)1 << f);
}

static void num_text(iw_event_t *ev, iw_field_id_t f)
{
    char tmp[SHORT_MAX];

    if (ev->have_num & ((uint64_t)1 << f))
        put_short(ev, f, tmp, fmt_i64(tmp, ev->num[f]));
}

static void put2(char *d, unsigned v)
{
    d[0] = (char)('0' + v / 10);
    d[1] = (char)('0' + v % 10);
}

/* Days since 1970-01-01 -> proleptic Gregorian y/m/d (Hinnant's
 * civil_from_days), for days >= 0. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = z / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* "date"/"time" in UTC.  gmtime + snprintf cost ~3,800 instructions per
 * event; times from 1970 to 9999 (every real log) are formatted by hand,
 * anything else keeps the APR path so the text stays the same. */
static void put_date_time(iw_event_t *ev, apr_time_t t)
{
    apr_time_exp_t x;
    char tmp[SHORT_MAX];
    int n;

    if (t > 0 && t < (apr_time_t)253402300800 * APR_USEC_PER_SEC) {
        int64_t secs = t / APR_USEC_PER_SEC, y;
        unsigned mo, d, sod = (unsigned)(secs % 86400);

        civil_from_days(secs / 86400, &y, &mo, &d);
        put2(tmp, (unsigned)(y / 100));
        put2(tmp + 2, (unsigned)(y % 100));
        tmp[4] = '-'; put2(tmp + 5, mo); tmp[7] = '-'; put2(tmp + 8, d);
        put_short(ev, IW_F_DATE, tmp, 10);
        put2(tmp, sod / 3600); tmp[2] = ':'; put2(tmp + 3, sod / 60 % 60);
        tmp[5] = ':'; put2(tmp + 6, sod % 60);
        put_short(ev, IW_F_TIME, tmp, 8);
        return;
    }
    if (t == 0 || apr_time_exp_gmt(&x, t) != APR_SUCCESS) return;
    n = snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d", x.tm_year + 1900,
                 x.tm_mon + 1, x.tm_mday);
    put_str(ev, IW_F_DATE, tmp, (size_t)n);
    n = snprintf(tmp, sizeof(tmp), "%02d:%02d:%02d", x.tm_hour, x.tm_min,
                 x.tm_sec);
    put_str(ev, IW_F_TIME, tmp, (size_t)n);
}

/* Per event: everything but num[] is cleared (have_num says which entries
 * are valid), so the reset does not touch 300 bytes it need not. */
static void event_clear(iw_event_t *ev, char *buf, size_t buf_size)
{
    memset(ev, 0, offsetof(iw_event_t, num));
    memset(&ev->have_num, 0, sizeof(*ev) - offsetof(iw_event_t, have_num));
    ev->buf = buf;
    ev->buf_size = buf ? buf_size : 0;
}

void iw_event_init(iw_event_t *ev, char *buf, size_t buf_size)
{
    event_clear(ev, buf, buf_size);
}

int iw_event_init_owned(iw_event_t *ev, size_t max_request)
{
    char *buf = malloc(IW_EVENT_BUF_MIN);

    event_clear(ev, buf, IW_EVENT_BUF_MIN);
    ev->own_buf = 1;
    ev->grow_max = max_request;
    return buf ? 0 : -1;
}

void iw_event_release(iw_event_t *ev)
{
    if (ev->own_buf) free(ev->buf);
    ev->buf = NULL;
    ev->buf_size = ev->buf_used = 0;
}

/* A number no earlier call returned in this process, from any thread:
 * each thread takes blocks of 65,536 from one shared counter (one atomic
 * add per block, none per event). */
static uint64_t event_serial(void)
{
    static uint64_t shared;
    static _Thread_local uint64_t next, end;
    if (next == end) {
        next = __atomic_fetch_add(&shared, 65536, __ATOMIC_RELAXED) + 1;
        end = next + 65535;
    }
    return next++;
}

/* Forget the previous event but keep the work buffer and provenance. */
static void event_reset(iw_event_t *ev, iw_event_type_t type)
{
    const char *id = ev->input_id;
    long line = ev->input_line;
    size_t grow_max = ev->grow_max;
    int own = ev->own_buf;

    event_clear(ev, ev->buf, ev->buf_size);
    ev->input_id = id;
    ev->input_line = line;
    ev->grow_max = grow_max;
    ev->own_buf = own;
    ev->type = type;
    ev->serial = event_serial();
}

size_t iw_request_bytes(const iw_request_desc_t *d)
{
    size_t n = d->method.len + d->target.len + d->version.len;
    int i;

    if (d->hdr_names && d->hdr_values)
        for (i = 0; i < d->nhdrs; i++)
            n += d->hdr_names[i].len + d->hdr_values[i].len + 3;
    return n;
}

/* An owned buffer gets room for every view of this request (up to
 * grow_max request bytes), rounded to 64 KiB; after a large request it
 * shrinks back on the next one that needs no more than the minimum.
 * Nothing points into the buffer here, so its contents need not move. */
static void event_fit(iw_event_t *ev, size_t bytes, size_t extra)
{
    size_t want = IW_EVENT_ROOM(bytes < ev->grow_max ? bytes : ev->grow_max) + extra;
    char *nb;

    want = (want + IW_EVENT_BUF_MIN - 1) / IW_EVENT_BUF_MIN * IW_EVENT_BUF_MIN;
    if (want <= ev->buf_size
        && !(want == IW_EVENT_BUF_MIN && ev->buf_size > 4 * IW_EVENT_BUF_MIN))
        return;
    if (!(nb = malloc(want))) return;          /* keep the old one: iw-truncated */
    free(ev->buf);
    ev->buf = nb;
    ev->buf_size = want;
}

/* What the per-parameter views of this request may need on top (only
 * an owned buffer grows for it: a caller's fixed buffer keeps its
 * iw-truncated as it was, and parameters past its room are counted in
 * iw-params-dropped).  A JSON body's keys repeat per array element: twice
 * the room of a form. */
static size_t params_room(const iw_event_t *ev)
{
    return IW_PARAM_ROOM(ev->val[IW_F_CS_URI_QUERY].len) + IW_PARAM_ROOM(ev->val[IW_F_CS_COOKIE].len)
           + 2 * IW_PARAM_ROOM(ev->val[IW_F_CS_BODY].len) + 64;
}

/* iw-truncated: the request bytes whose views may not fit the buffer, plus
 * what the caller left out.  Set up front, so it does not depend on which
 * views a rule happens to read first. */
static void event_room(iw_event_t *ev, const iw_request_desc_t *d)
{
    /* the body (bounded by the caller) needs room for its decoded view */
    size_t bytes = iw_request_bytes(d), extra = d->body.p ? 2 * d->body.len + 2 : 0;
    size_t room, fits;

    if (ev->own_buf) event_fit(ev, bytes, extra + params_room(ev));
    room = ev->buf_size > extra ? ev->buf_size - extra : 0;
    fits = room > 512 ? (room - 512) / 4 : 0;
    if (ev->own_buf && fits > ev->grow_max) fits = ev->grow_max;
    if (bytes > fits || d->dropped)
        put_num(ev, IW_F_IW_TRUNCATED,
                (int64_t)((bytes > fits ? bytes - fits : 0) + d->dropped));
}

/* ---- request builder --------------------------------------------------- */

/* The headers the builder lifts into fields, told apart by their length
 * (each has its own). */
static const struct { const char *name; size_t len; iw_field_id_t f; }
header_fields[] = {
    { "User-Agent", 10, IW_F_CS_USER_AGENT },
    { "Referer", 7, IW_F_CS_REFERER },
    { "Cookie", 6, IW_F_CS_COOKIE },
    { "Content-Type", 12, IW_F_CS_CONTENT_TYPE },
    { "Host", 4, IW_F_CS_HOST },
};

/* header_fields' entry of a name's length, or -1 */
static int header_field_of_len(size_t len)
{
    switch (len) {
    case 10: return 0;
    case 7: return 1;
    case 6: return 2;
    case 12: return 3;
    case 4: return 4;
    default: return -1;
    }
}

/* One pass over the headers; the first header of each name wins (a value
 * without text is the empty string).  Host lands in *host: cs-host falls
 * back to the target's authority. */
static void header_fields_set(iw_event_t *ev, const iw_request_desc_t *d,
                              iw_str_t *host)
{
    iw_str_t *dst;
    int i, k;

    *host = IW_STR_NULL;
    if (!d->hdr_names || !d->hdr_values) return;
    for (i = 0; i < d->nhdrs; i++) {
        const iw_str_t *h = &d->hdr_names[i];
        if (!h->p || (k = header_field_of_len(h->len)) < 0) continue;
        /* the log parser passes these very literals (merged by the
         * linker): pointer equality first, then the real compare */
        if (h->len != header_fields[k].len      /* header_field_of_len out of step */
            || (h->p != header_fields[k].name && strncasecmp(h->p, header_fields[k].name, h->len)))
            continue;
        dst = header_fields[k].f == IW_F_CS_HOST ? host : &ev->val[header_fields[k].f];
        if (!dst->p)
            *dst = d->hdr_values[i].p ? d->hdr_values[i] : (iw_str_t){ "", 0 };
    }
}

static const char *mem_find(const char *p, size_t len, char c)
{
    return len ? memchr(p, c, len) : NULL;
}

/* "scheme://" at the start of an absolute-form target: returns the
 * position after it, or NULL. */
static const char *after_scheme(const char *p, const char *end)
{
    const char *k = p;

    while (k < end && ((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z')
                       || (k > p && ((*k >= '0' && *k <= '9') || *k == '+'
                                     || *k == '-' || *k == '.'))))
        k++;
    if (k == p || end - k < 3 || k[0] != ':' || k[1] != '/' || k[2] != '/')
        return NULL;
    return k + 3;
}

/* A CONNECT request: its target is an authority ("host:port"), not split. */
static inline int method_is_connect(iw_str_t m)
{
    return m.p && m.len == 7 && !strncasecmp(m.p, "CONNECT", 7);
}

/* Split the request target into stem and query (decisions documented in
 * docs/FIELDS.md): origin form at the first '?'; absolute form
 * "scheme://authority/path?q" -> stem "/path" (as Apache's r->uri);
 * CONNECT authority form "host:port" -> stem = target, no query. */
static void split_target(iw_event_t *ev, const iw_request_desc_t *d,
                         iw_str_t *authority)
{
    const char *p = d->target.p, *end = p + d->target.len, *q, *s, *a;

    *authority = IW_STR_NULL;
    if (!p) return;
    if (method_is_connect(d->method)) {
        ev->val[IW_F_CS_URI_STEM] = d->target;
        return;
    }
    s = p;
    if ((a = after_scheme(p, end))) {
        for (s = a; s < end && *s != '/' && *s != '?'; s++) ;
        *authority = (iw_str_t){ a, (size_t)(s - a) };
    }
    q = mem_find(s, (size_t)(end - s), '?');
    if (s == end || s == q) {
        /* "http://host" or "http://host?x": Apache's path is "/" */
        ev->val[IW_F_CS_URI_STEM] = (s == p) ? (iw_str_t){ p, 0 }
                                              : (iw_str_t){ "/", 1 };
    } else {
        ev->val[IW_F_CS_URI_STEM] = (iw_str_t){ s, (size_t)((q ? q : end) - s) };
    }
    if (q) ev->val[IW_F_CS_URI_QUERY] = (iw_str_t){ q + 1, (size_t)(end - q - 1) };
}

void iw_event_from_request(iw_event_t *ev, const iw_request_desc_t *d)
{
    iw_str_t authority, host;

    event_reset(ev, IW_EV_ACCESS);
    ev->time = d->time;
    ev->val[IW_F_C_IP] = d->client_ip;
    ev->val[IW_F_S_IP] = d->server_ip;
    ev->val[IW_F_S_SITENAME] = d->sitename;
    ev->val[IW_F_CS_METHOD] = d->method;
    ev->val[IW_F_CS_URI] = d->target;
    ev->val[IW_F_CS_VERSION] = d->version;
    ev->val[IW_F_CS_USERNAME] = d->username;
    ev->val[IW_F_REQUEST_ID] = d->request_id;
    ev->val[IW_F_CS_BODY] = d->body;
    split_target(ev, d, &authority);
    header_fields_set(ev, d, &host);
    ev->val[IW_F_CS_HOST] = host.p ? host
                          : (authority.len ? authority : IW_STR_NULL);
    ev->hdr_names = d->hdr_names;
    ev->hdr_values = d->hdr_values;
    ev->nhdrs = (d->hdr_names && d->hdr_values && d->nhdrs > 0) ? d->nhdrs : 0;
    if (d->server_port > 0) put_num(ev, IW_F_S_PORT, d->server_port);
    if (d->status > 0) put_num(ev, IW_F_SC_STATUS, d->status);
    if (d->sc_bytes >= 0) put_num(ev, IW_F_SC_BYTES, d->sc_bytes);
    if (d->cs_bytes >= 0) put_num(ev, IW_F_CS_BYTES, d->cs_bytes);
    if (d->time_taken_ms >= 0) put_num(ev, IW_F_TIME_TAKEN, d->time_taken_ms);
    event_room(ev, d);
    ev->from_request = 1;
}

void iw_event_from_error(iw_event_t *ev, const iw_error_desc_t *d)
{
    char ah[16];
    int n;

    event_reset(ev, IW_EV_ERROR);
    ev->time = d->time;
    ev->val[IW_F_MESSAGE] = d->message;
    ev->val[IW_F_RAW] = d->message;
    ev->val[IW_F_LEVEL] = d->level;
    ev->val[IW_F_MODULE] = d->module;
    ev->val[IW_F_C_IP] = d->client_ip;
    ev->val[IW_F_REQUEST_ID] = d->request_id;
    if (d->ah_code > 0 && d->ah_code <= 99999) {   /* "AH%05d" without printf */
        unsigned v = (unsigned)d->ah_code;
        ah[0] = 'A'; ah[1] = 'H';
        for (n = 6; n >= 2; n--, v /= 10) ah[n] = (char)('0' + v % 10);
        put_str(ev, IW_F_AH_CODE, ah, 7);
    } else if (d->ah_code > 0) {
        n = snprintf(ah, sizeof(ah), "AH%05d", d->ah_code);
        put_str(ev, IW_F_AH_CODE, ah, (size_t)n);
    }
    if (d->pid > 0) put_num(ev, IW_F_PID, d->pid);
}

/* ---- decoded views ------------------------------------------------------- */

static iw_str_t decode_view(iw_event_t *ev, const char *in, size_t len, int mode)
{
    size_t avail = buf_avail(ev), n;
    char *a;

    if (avail < 4) return IW_STR_NULL;
    if (len > avail - 1) len = avail - 1;      /* the output is never longer */
    if (iw_decode_fastpath
        && ((mode & IW_DECODE_PATH) ? iw_decode_is_identity(in, len, mode)
                              : iw_decode_plain_len(in, len, mode & IW_DECODE_PLUS) == len))
        return (iw_str_t){ in, len };     /* nothing to decode: the value is its view */
    a = ev->buf + ev->buf_used;
    n = iw_decode_full(in, len, a, mode);
    ev->buf_used += n + 1;
    return (iw_str_t){ a, n };
}

/* ---- lazy views ---------------------------------------------------------- */

/* Append to the open string at [start, buf_used); cut at the buffer end
 * (one byte is always kept for the closing NUL). */
static void append(iw_event_t *ev, const char *s, size_t len)
{
    size_t avail = buf_avail(ev);

    if (avail <= 1 || !s) return;
    if (len > avail - 1) len = avail - 1;
    memcpy(ev->buf + ev->buf_used, s, len);
    ev->buf_used += len;
}

static iw_str_t close_str(iw_event_t *ev, size_t start)
{
    iw_str_t r = { ev->buf + start, ev->buf_used - start };

    if (ev->buf_used < ev->buf_size) ev->buf[ev->buf_used++] = '\0';
    return r;
}

static void append_headers(iw_event_t *ev)
{
    int i;

    for (i = 0; i < ev->nhdrs; i++) {
        const iw_str_t *n = &ev->hdr_names[i], *v = &ev->hdr_values[i];
        append(ev, n->p, n->len);
        append(ev, ": ", 2);
        append(ev, v->p, v->len);
        append(ev, "\n", 1);
    }
}

/* Bytes of "Name: value\n" for every header. */
static size_t headers_len(const iw_event_t *ev)
{
    size_t n = 0;
    int i;

    for (i = 0; i < ev->nhdrs; i++)
        n += ev->hdr_names[i].len + ev->hdr_values[i].len + 3;
    return n;
}

/* Like append (a piece without text is skipped), unchecked. */
static char *put_mem(char *d, const char *s, size_t n)
{
    if (!s) return d;
    iw_copy_short(d, s, n);
    return d + n;
}

/* The same bytes as append_headers when they all fit, without a bounds
 * check per piece (cs-headers and _raw are built for every access event
 * as soon as one keyword rule is loaded). */
static void write_headers(iw_event_t *ev)
{
    char *d = ev->buf + ev->buf_used;
    int i;

    for (i = 0; i < ev->nhdrs; i++) {
        d = put_mem(d, ev->hdr_names[i].p, ev->hdr_names[i].len);
        *d++ = ':';
        *d++ = ' ';
        d = put_mem(d, ev->hdr_values[i].p, ev->hdr_values[i].len);
        *d++ = '\n';
    }
    ev->buf_used = (size_t)(d - ev->buf);
}

static void lazy_headers(iw_event_t *ev)
{
    size_t start = ev->buf_used;

    if (!ev->nhdrs || buf_avail(ev) == 0) return;
    if (ev->hdr_lines.p && ev->hdr_lines.len < buf_avail(ev)) {   /* write_headers' bytes */
        memcpy(ev->buf + start, ev->hdr_lines.p, ev->hdr_lines.len);
        ev->buf_used += ev->hdr_lines.len;
    } else if (headers_len(ev) < buf_avail(ev)) {
        write_headers(ev);
    } else {
        append_headers(ev);
    }
    ev->val[IW_F_CS_HEADERS] = close_str(ev, start);
}

static void append_field(iw_event_t *ev, iw_field_id_t f, const char *sep)
{
    iw_str_t v = iw_event_get(ev, f);
    if (v.p && v.len) {
        append(ev, v.p, v.len);
        append(ev, sep, strlen(sep));
    }
}

static const iw_field_id_t raw_fields[] = {
    IW_F_CS_METHOD, IW_F_CS_URI, IW_F_CS_VERSION, IW_F_SC_STATUS
};

/* The request-line part of _raw when it surely fits: what the
 * append_field sequence writes, with one bounds check for all. */
static int write_raw_line(iw_event_t *ev, size_t hlen)
{
    size_t need = hlen + 2, k;
    char *d;

    for (k = 0; k < sizeof(raw_fields) / sizeof(raw_fields[0]); k++)
        need += ev->val[raw_fields[k]].len + 1;
    if (need > buf_avail(ev)) return 0;
    d = ev->buf + ev->buf_used;
    for (k = 0; k < sizeof(raw_fields) / sizeof(raw_fields[0]); k++) {
        iw_str_t v = ev->val[raw_fields[k]];
        if (!v.p || !v.len) continue;
        d = put_mem(d, v.p, v.len);
        if (raw_fields[k] != IW_F_SC_STATUS) *d++ = ' ';
    }
    ev->buf_used = (size_t)(d - ev->buf);
    return 1;
}

static void lazy_raw(iw_event_t *ev)
{
    iw_str_t h = iw_event_get(ev, IW_F_CS_HEADERS);
    size_t start;

    (void)iw_event_get(ev, IW_F_SC_STATUS);   /* its text, before _raw opens */
    start = ev->buf_used;

    if (buf_avail(ev) == 0) return;
    if (!write_raw_line(ev, h.len)) {
        append_field(ev, IW_F_CS_METHOD, " ");
        append_field(ev, IW_F_CS_URI, " ");
        append_field(ev, IW_F_CS_VERSION, " ");
        append_field(ev, IW_F_SC_STATUS, "");
    }
    /* drop a trailing blank when status/version are missing */
    if (ev->buf_used > start && ev->buf[ev->buf_used - 1] == ' ') ev->buf_used--;
    append(ev, "\n", 1);
    append(ev, h.p, h.len);
    ev->val[IW_F_RAW] = close_str(ev, start);
}

/* cs-uri-decoded = scheme://authority as sent + decoded, normalised stem +
 * '?' + decoded query; so it always agrees with the two part views. */
static void lazy_uri_dec(iw_event_t *ev)
{
    iw_str_t u = ev->val[IW_F_CS_URI], st = ev->val[IW_F_CS_URI_STEM];
    iw_str_t sd = iw_event_get(ev, IW_F_CS_URI_STEM_DEC);
    iw_str_t qd = iw_event_get(ev, IW_F_CS_URI_QUERY_DEC), qv;
    size_t start = ev->buf_used, pre = 0;

    if (!u.p || buf_avail(ev) == 0) return;
    /* prefix before the stem inside the target (absolute form only) */
    if (st.p && st.p >= u.p && st.p <= u.p + u.len) {
        pre = (size_t)(st.p - u.p);
        /* both parts their own views (and nothing to cut): the target as
         * it is, no copy */
        qv = ev->val[IW_F_CS_URI_QUERY];
        if (sd.p == st.p && sd.len == st.len && u.len < buf_avail(ev)
            && (qv.p ? qv.p == st.p + st.len + 1 && qd.p == qv.p && qd.len == qv.len
                       && qv.p + qv.len == u.p + u.len
                     : st.p + st.len == u.p + u.len)) {
            ev->val[IW_F_CS_URI_DEC] = u;
            return;
        }
    } else if (st.p) {          /* "http://h[?q]": the stem is a static "/" */
        const char *q = mem_find(u.p, u.len, '?');
        pre = q ? (size_t)(q - u.p) : u.len;
    }
    append(ev, u.p, pre);
    append(ev, sd.p, sd.len);
    if (ev->val[IW_F_CS_URI_QUERY].p) {
        append(ev, "?", 1);
        append(ev, qd.p, qd.len);
    }
    ev->val[IW_F_CS_URI_DEC] = close_str(ev, start);
}

/* ---- per-parameter views (iw_param.h) -------------------------------------- */

enum { PSRC_QUERY, PSRC_COOKIE, PSRC_BODY };   /* iw_event_param_field's order */

/* The body's syntax by its Content-Type: JSON when the type says so
 * (application/json, application/ld+json, ...), else a form (the module
 * keeps only form and JSON bodies). */
static iw_param_syntax_t __attribute__((noinline)) body_syntax(const iw_event_t *ev)
{
    iw_str_t ct = ev->val[IW_F_CS_CONTENT_TYPE];
    const char *semi;
    size_t n, i;

    if (!ct.p) return IW_PARAM_QUERY;
    semi = memchr(ct.p, ';', ct.len);
    n = semi ? (size_t)(semi - ct.p) : ct.len;
    for (i = 0; i + 4 <= n; i++)   /* a 'j' or 'J' first: no call elsewhere */
        if ((ct.p[i] | 0x20) == 'j' && !strncasecmp(ct.p + i, "json", 4)) return IW_PARAM_JSON;
    return IW_PARAM_QUERY;
}

/* The source's bytes and syntax (a body's read from its Content-Type only
 * when there is a body: the callers read the syntax of a present source only). */
static inline iw_str_t param_source(const iw_event_t *ev, int src, iw_param_syntax_t *syn)
{
    iw_str_t in = ev->val[iw_event_param_field(src)];
    *syn = src == PSRC_QUERY ? IW_PARAM_QUERY : src == PSRC_COOKIE ? IW_PARAM_COOKIE
           : in.p ? body_syntax(ev) : IW_PARAM_QUERY;
    return in;
}

/* cs-header-decoded: each header's "Name: value" of cs-headers decoded on
 * its own (as cs-headers-decoded), the values NUL-separated
 * (a decoded value holds no NUL).  The block's decoded lines, but told
 * apart where a value decodes to an LF, and one value per header: a rule
 * on it matches inside one header, and each header is a value of its own
 * for the scan-result cache (a browser repeats most of them).  Headers
 * past the event buffer are left out, as from cs-headers. */
int iw_event_header_line(const iw_event_t *ev, iw_str_t block, int *i, size_t *off,
                         iw_str_t *line)
{
    size_t n;

    if (*i >= ev->nhdrs || *off >= block.len) return 0;
    n = ev->hdr_names[*i].len + 2 + ev->hdr_values[*i].len;
    if (n > block.len - *off) n = block.len - *off;       /* cut with cs-headers */
    *line = (iw_str_t){ block.p + *off, n };
    *off += n + 1;
    (*i)++;
    return 1;
}

static void lazy_header_dec(iw_event_t *ev)
{
    iw_str_t h = iw_event_get(ev, IW_F_CS_HEADERS), x;
    size_t start = ev->buf_used, off = 0;
    int i = 0;

    if (!h.p || !ev->nhdrs) return;
    while (iw_event_header_line(ev, h, &i, &off, &x)) {
        if (buf_avail(ev) < x.len + 2) break;
        if (iw_decode_fastpath && iw_decode_plain_len(x.p, x.len, 0) == x.len) {
            memcpy(ev->buf + ev->buf_used, x.p, x.len);     /* nothing to decode */
            ev->buf[ev->buf_used + x.len] = '\0';
            ev->buf_used += x.len + 1;
        } else {
            ev->buf_used += iw_decode_full(x.p, x.len, ev->buf + ev->buf_used, 0) + 1;
        }
    }
    if (ev->buf_used == start) return;
    ev->buf[ev->buf_used - 1] = '\0';     /* the last value's NUL ends the list */
    ev->val[IW_F_CS_HEADER_DEC] = (iw_str_t){ ev->buf + start, ev->buf_used - start - 1 };
}

/* The query's parameters from cs-uri-query-decoded when that view is
 * computed already, from all of the query (qdec_whole):
 * the query decoded once (iw_param_split_decoded says why that is exact).
 * A query of one piece (no '&') is one parameter whose pair is the view
 * itself, its name and value the view's two sides of the raw '=': no
 * copy.  0: split the query as any source. */
static int params_from_query_dec(iw_event_t *ev, iw_str_t in, iw_param_views_t *v)
{
    iw_str_t d = ev->val[IW_F_CS_URI_QUERY_DEC];
    const char *eq;
    size_t n, dn;

    if (!ev->qdec_whole || !d.p) return 0;
    if (mem_find(in.p, in.len, '&')) {
        n = iw_param_split_decoded(in.p, in.len, d.p, d.len, ev->buf + ev->buf_used,
                                   buf_avail(ev), v);
        if (n == (size_t)-1) return 0;
        ev->buf_used += n;
        return 1;
    }
    memset(v, 0, sizeof(*v));
    v->n = 1;
    v->pairs = v->names = d;
    v->values = (iw_str_t){ "", 0 };
    if (!(eq = mem_find(in.p, in.len, '='))) return 1;
    n = (size_t)(eq - in.p);
    if (d.p == in.p || iw_decode_plain_len(in.p, n, 1) == n) {
        dn = n;                             /* nothing to decode in the name */
    } else {
        if (buf_avail(ev) < n + 1) return 0;
        dn = iw_decode_full(in.p, n, ev->buf + ev->buf_used, IW_DECODE_PLUS);   /* scratch */
    }
    if (dn >= d.len || d.p[dn] != '=') return 0;                              /* never */
    v->names = (iw_str_t){ d.p, dn };
    v->values = (iw_str_t){ d.p + dn + 1, d.len - dn - 1 };
    return 1;
}

/* Split one source into its three views (pairs, names, values: three
 * consecutive field ids), once per event. */
static void lazy_params(iw_event_t *ev, int src)
{
    iw_field_id_t f0 = (iw_field_id_t)(IW_F_QP + 3 * src);
    iw_param_syntax_t syn;
    iw_str_t in = param_source(ev, src, &syn);
    iw_param_views_t v;

    ev->lazy_done |= (uint64_t)7 << f0;
    if (ev->type != IW_EV_ACCESS || !in.p || !in.len) return;
    if (src != PSRC_QUERY || !params_from_query_dec(ev, in, &v))
        ev->buf_used += iw_param_split(in.p, in.len, syn, ev->buf + ev->buf_used,
                                       buf_avail(ev), &v);
    ev->pdrop[src] = v.dropped;
    ev->val[f0] = v.pairs;
    ev->val[f0 + 1] = v.names;
    ev->val[f0 + 2] = v.values;
}

/* Not computed yet, and computing it now or later is not cut for room:
 * an owned buffer not cut (iw-truncated absent) has room for every view. */
static int lazy_whole(const iw_event_t *ev, iw_field_id_t f, size_t room)
{
    return ev->type == IW_EV_ACCESS && ev->own_buf && !(ev->lazy_done & ((uint64_t)1 << f))
           && !(ev->have_num & ((uint64_t)1 << IW_F_IW_TRUNCATED)) && buf_avail(ev) >= room;
}

int iw_event_param_source(iw_event_t *ev, iw_field_id_t f, iw_str_t *src)
{
    iw_param_syntax_t syn;
    iw_str_t in;

    if (f < IW_F_QP || f > IW_F_BP_VALUE) return 0;
    in = param_source(ev, (f - IW_F_QP) / 3, &syn);
    if (!in.p || !in.len || syn == IW_PARAM_JSON || !lazy_whole(ev, f, IW_PARAM_ROOM(in.len)))
        return 0;
    *src = in;
    return 1;
}

int iw_event_uri_source(iw_event_t *ev, iw_str_t *uri, int *connect)
{
    iw_str_t u = ev->val[IW_F_CS_URI], m = ev->val[IW_F_CS_METHOD];
    /* the stem and the query decoded (each at most its bytes and a NUL,
     * together at most the target's), then cs-uri-decoded (at most the
     * target, a '?' and a NUL) */
    size_t room = 2 * u.len + 8;

    if (!ev->from_request || !u.p || !u.len || !lazy_whole(ev, IW_F_CS_URI_DEC, room)
        || !lazy_whole(ev, IW_F_CS_URI_STEM_DEC, room) || !lazy_whole(ev, IW_F_CS_URI_QUERY_DEC, room))
        return 0;
    *uri = u;
    *connect = method_is_connect(m);          /* split_target's case */
    return 1;
}

int iw_event_header_dec_source(iw_event_t *ev, iw_str_t *block)
{
    iw_str_t h;

    if (ev->type != IW_EV_ACCESS || !ev->nhdrs) return 0;
    h = iw_event_get(ev, IW_F_CS_HEADERS);
    /* each value takes at most its line and two bytes */
    if (!h.p || !lazy_whole(ev, IW_F_CS_HEADER_DEC, h.len + 2 * (size_t)ev->nhdrs + 2)) return 0;
    *block = h;
    return 1;
}

/* iw-params-dropped: per source, what its split dropped, or (not split)
 * what the count limit will drop, counted without decoding: so it costs
 * next to nothing and does not depend on which views were read first
 * (with an owned buffer nothing is dropped for room).  A query, form or
 * cookie source counts a piece only where it has a byte, and pieces are
 * one separator apart: up to 2 * IW_PARAMS_MAX bytes it cannot hold more
 * than IW_PARAMS_MAX, and is not counted. */
static void lazy_params_dropped(iw_event_t *ev)
{
    int64_t n = 0;
    int src;

    if (ev->type != IW_EV_ACCESS) return;
    for (src = PSRC_QUERY; src <= PSRC_BODY; src++) {
        iw_param_syntax_t syn;
        iw_str_t in;
        size_t c;
        if (ev->lazy_done & ((uint64_t)1 << (IW_F_QP + 3 * src))) {
            n += (int64_t)ev->pdrop[src];
            continue;
        }
        if (!ev->val[iw_event_param_field(src)].p) continue;     /* absent: nothing to count */
        in = param_source(ev, src, &syn);
        if ((syn == IW_PARAM_JSON || in.len > 2 * (size_t)IW_PARAMS_MAX)
            && (c = iw_param_count(in.p, in.len, syn)) > IW_PARAMS_MAX)
            n += (int64_t)(c - IW_PARAMS_MAX);
    }
    if (n) {
        put_num(ev, IW_F_PARAMS_DROPPED, n);
        num_text(ev, IW_F_PARAMS_DROPPED);
        ev->lazy_done |= (uint64_t)1 << IW_F_PARAMS_DROPPED;   /* put_num cleared it */
    }
}

#define LAZY_BIT(f) IW_EVENT_LAZY_BIT(f)

static void compute_lazy(iw_event_t *ev, iw_field_id_t f)
{
    iw_str_t s;

    switch (f) {
    case IW_F_CS_HEADERS:
        if (ev->type == IW_EV_ACCESS) lazy_headers(ev);
        break;
    case IW_F_RAW:
        if (ev->type == IW_EV_ACCESS) lazy_raw(ev);
        break;
    case IW_F_CS_URI_STEM_DEC:
        s = ev->val[IW_F_CS_URI_STEM];
        if (s.p) ev->val[f] = decode_view(ev, s.p, s.len, IW_DECODE_PATH);
        break;
    case IW_F_CS_URI_QUERY_DEC:
        s = ev->val[IW_F_CS_URI_QUERY];
        if (!s.p) break;
        ev->qdec_whole = buf_avail(ev) >= 4 && s.len < buf_avail(ev);   /* decode_view cuts nothing */
        ev->val[f] = decode_view(ev, s.p, s.len, IW_DECODE_PLUS);
        break;
    case IW_F_CS_URI_DEC:
        lazy_uri_dec(ev);
        break;
    case IW_F_CS_HEADERS_DEC:
        s = iw_event_get(ev, IW_F_CS_HEADERS);
        if (s.p) ev->val[f] = decode_view(ev, s.p, s.len, 0);
        break;
    case IW_F_CS_HEADER_DEC:
        if (ev->type == IW_EV_ACCESS) lazy_header_dec(ev);
        break;
    case IW_F_CS_BODY_DEC:
        s = ev->val[IW_F_CS_BODY];
        if (s.p) ev->val[f] = decode_view(ev, s.p, s.len, IW_DECODE_PLUS);
        break;
    case IW_F_S_PORT: case IW_F_SC_STATUS: case IW_F_SC_BYTES: case IW_F_CS_BYTES:
    case IW_F_TIME_TAKEN: case IW_F_PID: case IW_F_IW_TRUNCATED:
        num_text(ev, f);
        break;
    case IW_F_QP: case IW_F_QP_NAME: case IW_F_QP_VALUE:
        lazy_params(ev, PSRC_QUERY);
        break;
    case IW_F_CP: case IW_F_CP_NAME: case IW_F_CP_VALUE:
        lazy_params(ev, PSRC_COOKIE);
        break;
    case IW_F_BP: case IW_F_BP_NAME: case IW_F_BP_VALUE:
        lazy_params(ev, PSRC_BODY);
        break;
    case IW_F_PARAMS_DROPPED:
        lazy_params_dropped(ev);
        break;
    case IW_F_DATE: case IW_F_TIME:     /* both from ev->time, once */
        ev->lazy_done |= LAZY_BIT(IW_F_DATE) | LAZY_BIT(IW_F_TIME);
        put_date_time(ev, ev->time);
        break;
    default:
        break;
    }
}

/* First request of a lazy view: compute it once (iw_event_get, inline in
 * iw_event.h, calls it only then). */
iw_str_t iw_event_get_lazy(iw_event_t *ev, iw_field_id_t f)
{
    ev->lazy_done |= LAZY_BIT(f);
    compute_lazy(ev, f);
    return ev->val[f];
}

int iw_event_num(iw_event_t *ev, iw_field_id_t f, int64_t *out)
{
    if (f == IW_F_PARAMS_DROPPED) (void)iw_event_get(ev, f);   /* counted on first use */
    if (f < 0 || f >= IW_F__COUNT || !(ev->have_num & ((uint64_t)1 << f)))
        return 0;
    if (out) *out = ev->num[f];
    return 1;
}
