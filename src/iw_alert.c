/* SPDX-License-Identifier: Apache-2.0 */
/* iw_alert: an alert as ECS JSON (its syslog framing: iw_alert_syslog.c).
 *
 * JSON is written by a small bounded writer: every member is a "section"
 * that is rolled back as a whole when it does not fit, and the bytes needed
 * to close every open object/array are reserved in advance, so the output is
 * valid JSON for any buffer size >= 3 ("{}").  Empty objects are dropped,
 * which is how absent event fields disappear from the output.  When anything
 * important was dropped, the alert is rendered again without the low-value
 * parts (rule description/reference, tags) to make room.
 *
 * Cost (~2,800 instructions an alert, tools/bench_alert.py): the parts that
 * depend on the rule alone are rendered once per rule when the rules are
 * compiled (iw_alert_prepare), the event's members once per event and
 * thread ("host" and "server" once per server name and thread); both are
 * copied when the writer stands where they were rendered
 * and has the room their writes asked for, so the bytes are the ones the
 * writer would write.  A member whose worst case (6 bytes per input byte)
 * fits is written with one room check, its string escaped 16 bytes a step;
 * a request's members, when all their worst cases fit, in a row without
 * the writer's checks (iw_alert_direct.c).
 * Each shortcut has a switch back to the plain writer for the tests, and
 * tests/unit/alerts.golden pins the bytes.
 *
 * Choices:
 * - event.severity uses the Elastic risk-score scale: informational 1,
 *   low 21, medium 47, high 73, critical 99.
 * - log.level is the Sigma level; an error-log entry's own level goes to
 *   iocwatch.apache.level. */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_time.h>
#include "iw_alert.h"
#include "iw_alert_int.h"

#define TEXT_MAX   1024     /* bytes of a trusted rule text (description) */

/* ---- bounded JSON writer ------------------------------------------------ */

int iw_alert_fast_keys = 1;

static void jw_init(jw_t *w, char *buf, size_t size)
{
    memset(w, 0, offsetof(jw_t, open));         /* open[] is written by each open */
    w->buf = buf;
    w->size = size;
    w->reserve = 1;
    w->first[0] = 1;
    w->keys_apart = iw_alert_fast_keys ? 0 : SIZE_MAX / 2;
}

/* pos + reserve only grows while nothing is taken back (a write adds to
 * pos, an open to both, a close moves one from reserve to pos), so the
 * peak is read just before a rollback or a reserve is given back, and at
 * the end. */
static inline void jw_peak(jw_t *w)
{
    if (w->pos + w->reserve > w->peak) w->peak = w->pos + w->reserve;
}

static void jw_raw(jw_t *w, const char *s, size_t n)
{
    if (w->err) return;
    if (w->pos + n + w->reserve > w->size) { w->err = 1; return; }
    memcpy(w->buf + w->pos, s, n);
    w->pos += n;
}

static jw_cp_t jw_save(const jw_t *w)
{
    jw_cp_t cp = { w->pos, w->reserve, w->depth, w->err, w->first[w->depth] };
    return cp;
}

static void jw_restore(jw_t *w, const jw_cp_t *cp)
{
    jw_peak(w);
    w->pos = cp->pos;
    w->reserve = cp->reserve;
    w->depth = cp->depth;
    w->first[w->depth] = cp->first;
    w->err = 0;
}

/* End a section: keep it, or roll it back when it did not fit.  A section
 * begun after an earlier failure leaves the error to its enclosing one. */
static void jw_end(jw_t *w, const jw_cp_t *cp)
{
    if (!w->err || cp->dead) return;
    jw_restore(w, cp);
    w->dropped++;
}

static void jw_sep(jw_t *w)
{
    if (!w->first[w->depth]) jw_raw(w, ",", 1);
    w->first[w->depth] = 0;
}

/* The reference: the separator, the key and its punctuation piece by
 * piece, as far as the pieces fit (iw_alert_fast_keys = 0, or no room). */
static void jw_key_pieces(jw_t *w, const char *tok, size_t n, int sep)
{
    if (sep) jw_raw(w, ",", 1);
    jw_raw(w, "\"", 1);
    jw_raw(w, tok + 1, n - 3);
    jw_raw(w, "\":", 2);
}

/* ,"key": with one room check when it fits: the comma is stored either
 * way and the token over it when none is due, so with the length known
 * the copy is a few moves. */
static inline __attribute__((always_inline)) void jw_key(jw_t *w, const char *tok, size_t n)
{
    int sep;
    char *o;

    if (!tok) { jw_sep(w); return; }
    sep = !w->first[w->depth];
    w->first[w->depth] = 0;
    if (w->err) return;
    if (w->pos + (size_t)sep + n + w->reserve + w->keys_apart > w->size) {
        jw_key_pieces(w, tok, n, sep);
        return;
    }
    o = w->buf + w->pos;
    o[0] = ',';
    memcpy(o + sep, tok, n);
    w->pos += (size_t)sep + n;
}

static inline __attribute__((always_inline)) void jw_strval(jw_t *w, const char *s, size_t len,
                                                           size_t max)
{
    size_t lim = len < max ? len : max, end = w->size - w->reserve;
    if (w->err) return;
    if (iw_alert_roomy && lim <= (SIZE_MAX - 2) / 6 && w->pos + 6 * lim + 2 <= end) {
        w->pos = iw_alert__json_str_roomy(w->buf, w->pos, (const unsigned char *)s, len, lim);
        return;
    }
    if (iw_alert__json_str_bounded(w->buf, end, &w->pos, s, len, max))
        w->err = 1;
}

/* Open an object ('{') or array ('[') as member `key` (NULL: an array
 * element or the root).  The closer is reserved now. */
static inline __attribute__((always_inline)) void jw_open(jw_t *w, const char *tok, size_t tn,
                                                        char kind)
{
    jw_cp_t cp = jw_save(w);
    if (w->depth + 1 >= JW_DEPTH) { w->err = 1; w->too_deep++; return; }
    jw_key(w, tok, tn);
    w->reserve++;
    jw_raw(w, &kind, 1);
    w->depth++;
    w->first[w->depth] = 1;
    w->open[w->depth] = cp;
}

/* Close the innermost container; an empty or failed one disappears. */
static inline __attribute__((always_inline)) void jw_close(jw_t *w, char kind)
{
    const jw_cp_t *cp;
    if (w->too_deep) { w->too_deep--; return; }     /* its open failed */
    if (w->depth <= 0) return;
    cp = &w->open[w->depth];
    if (w->err) {
        if (cp->dead) { w->depth--; return; }
        jw_restore(w, cp);
        w->dropped++;
        return;
    }
    if (w->first[w->depth]) { jw_restore(w, cp); return; }
    w->depth--;
    w->reserve--;
    w->buf[w->pos++] = kind;
}

/* A whole member (separator, key, value) fits in the worst case: written
 * with this one room check, no checkpoint (nothing can be cut). */
static inline __attribute__((always_inline)) int jw_member_fits(const jw_t *w, size_t tn,
                                                               size_t lim)
{
    return !w->err && iw_alert_roomy && lim <= SIZE_MAX / 8
           && w->pos + 1 + tn + 6 * lim + 2 + w->reserve + w->keys_apart <= w->size;
}

static inline __attribute__((always_inline)) void m_strn(jw_t *w, const char *tok, size_t tn,
                                                        const char *s, size_t len, size_t max)
{
    jw_cp_t cp;
    size_t lim = len < max ? len : max;
    if (!s) return;
    if (jw_member_fits(w, tn, lim)) {
        char *o = w->buf + w->pos;
        size_t sep = !w->first[w->depth];
        w->first[w->depth] = 0;
        o[0] = ',';
        if (tn) memcpy(o + sep, tok, tn);
        w->pos = iw_alert__json_str_roomy(w->buf, w->pos + sep + tn, (const unsigned char *)s,
                                          len, lim);
        return;
    }
    cp = jw_save(w);
    jw_key(w, tok, tn);
    jw_strval(w, s, len, max);
    jw_end(w, &cp);
}

static inline __attribute__((always_inline)) void m_str(jw_t *w, const char *tok, size_t tn,
                                                       iw_str_t v)
{
    m_strn(w, tok, tn, v.p, v.len, IW_ALERT_EXCERPT_MAX);
}

static inline __attribute__((always_inline)) void m_cstr(jw_t *w, const char *tok, size_t tn,
                                                        const char *s, size_t max)
{
    if (s) m_strn(w, tok, tn, s, strlen(s), max);
}

/* A member whose value is literal JSON text (numbers) of n bytes. */
static inline __attribute__((always_inline)) void m_litn(jw_t *w, const char *tok, size_t tn,
                                                        const char *lit, size_t n)
{
    jw_cp_t cp;
    if (!w->err && w->pos + 1 + tn + n + w->reserve + w->keys_apart <= w->size) {
        char *o = w->buf + w->pos;     /* fits whole: no checkpoint */
        size_t sep = !w->first[w->depth];
        w->first[w->depth] = 0;
        o[0] = ',';
        memcpy(o + sep, tok, tn);
        memcpy(o + sep + tn, lit, n);
        w->pos += sep + tn + n;
        return;
    }
    cp = jw_save(w);
    jw_key(w, tok, tn);
    jw_raw(w, lit, n);
    jw_end(w, &cp);
}

#define m_lit_(w, tok, tn, lit) m_litn(w, tok, tn, "" lit "", sizeof(lit) - 1)
#define m_lit(w, ...) m_lit_(w, __VA_ARGS__)   /* m_lit(w, K("key"), "literal") */

static inline __attribute__((always_inline)) void m_int(jw_t *w, const char *tok, size_t tn,
                                                       long long v)
{
    char num[24], *o = num + sizeof(num);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {                            /* digits from the end, no reversal */
        *--o = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--o = '-';
    m_litn(w, tok, tn, o, (size_t)(num + sizeof(num) - o));
}

/* ---- helpers ------------------------------------------------------------ */

static int is_digits(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) if (s[i] < '0' || s[i] > '9') return 0;
    return n > 0;
}

/* "attack.t1190" / "attack.t1059.001" -> "T1190" / "T1059.001". */
static int attack_technique(const char *tag, char *out, size_t size)
{
    size_t n, i;
    if (!tag || strncasecmp(tag, "attack.t", 8)) return 0;
    tag += 8;
    n = strlen(tag);
    if (!(n == 4 || (n == 8 && tag[4] == '.')) || !is_digits(tag, 4) ||
        (n == 8 && !is_digits(tag + 5, 3)) || n + 2 > size) return 0;
    out[0] = 'T';
    for (i = 0; i <= n; i++) out[i + 1] = tag[i];
    return 1;
}

static const char *corr_type_name(iw_corr_type_t t)
{
    switch (t) {
    case IW_CORR_EVENT_COUNT: return "event_count";
    case IW_CORR_VALUE_COUNT: return "value_count";
    case IW_CORR_TEMPORAL: return "temporal";
    case IW_CORR_TEMPORAL_ORDERED: return "temporal_ordered";
    default: return "unknown";
    }
}

/* ---- sections of the alert ---------------------------------------------- */

static void r_rule(jw_t *w, const iw_alert_t *a, int lite)
{
    const iw_rule_t *r = a->rule;
    jw_open(w, K("rule"), '{');
    if (r) {
        m_cstr(w, K("id"), r->id ? r->id : r->name, IW_ALERT_EXCERPT_MAX);
        m_cstr(w, K("name"), r->title ? r->title : r->name, IW_ALERT_EXCERPT_MAX);
    }
    m_cstr(w, K("ruleset"), a->ruleset, IW_ALERT_EXCERPT_MAX);
    if (r && !lite) {
        m_cstr(w, K("description"), r->description, TEXT_MAX);
        if (r->references && r->references->nelts > 0)
            m_cstr(w, K("reference"), APR_ARRAY_IDX(r->references, 0, const char *),
                   TEXT_MAX);
    }
    jw_close(w, '}');
}

static void r_event(jw_t *w, iw_level_t lvl)
{
    jw_open(w, K("event"), '{');
    m_lit(w, K("kind"), "\"alert\"");
    m_int(w, K("severity"), iw_level_to_ecs_severity(lvl));
    m_lit(w, K("module"), "\"iocwatch\"");
    m_lit(w, K("dataset"), "\"iocwatch.alert\"");
    jw_close(w, '}');
    jw_open(w, K("log"), '{');
    m_cstr(w, K("level"), iw_level_name(lvl), 32);
    jw_close(w, '}');
}

static void r_tags(jw_t *w, const iw_rule_t *r, int lite)
{
    char tid[16];
    int i;
    if (!r || !r->tags || r->tags->nelts == 0) return;
    if (!lite) {
        jw_open(w, K("tags"), '[');
        for (i = 0; i < r->tags->nelts; i++)
            m_cstr(w, K_NONE, APR_ARRAY_IDX(r->tags, i, const char *),
                   IW_ALERT_EXCERPT_MAX);
        jw_close(w, ']');
    }
    for (i = 0; i < r->tags->nelts; i++)
        if (attack_technique(APR_ARRAY_IDX(r->tags, i, const char *), tid,
                             sizeof(tid))) break;
    if (i == r->tags->nelts) return;    /* no technique: no threat object */
    jw_open(w, K("threat"), '{');
    m_lit(w, K("framework"), "\"MITRE ATT&CK\"");
    jw_open(w, K("technique"), '{');
    jw_open(w, K("id"), '[');
    for (; i < r->tags->nelts; i++)
        if (attack_technique(APR_ARRAY_IDX(r->tags, i, const char *), tid,
                             sizeof(tid)))
            m_cstr(w, K_NONE, tid, sizeof(tid));
    jw_close(w, ']');
    jw_close(w, '}');
    jw_close(w, '}');
}


/* ,"key":"esc" where esc (n bytes) is already escaped: with one room
 * check, or 0 when it does not fit (nothing written). */
static inline int m_escaped(jw_t *w, const char *tok, size_t tn, size_t from, size_t n)
{
    char *o;
    size_t sep;
    if (w->err || w->pos + 1 + tn + n + 2 + w->reserve + w->keys_apart > w->size) return 0;
    o = w->buf + w->pos;
    sep = !w->first[w->depth];
    w->first[w->depth] = 0;
    o[0] = ',';
    memcpy(o + sep, tok, tn);
    o += sep + tn;
    *o++ = '"';
    memmove(o, w->buf + from, n);
    o[n] = '"';
    w->pos = (size_t)(o + n + 1 - w->buf);
    return 1;
}

/* url.original, url.path, url.query.  When the path and the query are the
 * target's bytes before and after its '?' (origin form, the usual case)
 * and the target fits whole, the target is escaped in two pieces, the
 * path and the rest from its '?' (an ASCII byte: no UTF-8 sequence reads
 * across it, and escaping is byte by byte otherwise), and path and query
 * copy those escaped bytes: the bytes m_str writes, escaped once.  The
 * target's escaped bytes are copied from the message line when it
 * escaped the same target whole, in the same two pieces (msg_direct), and
 * they fit as they are (else the writer would cut them). */
static void r_url_parts(jw_t *w, iw_str_t u, iw_str_t st, iw_str_t q)
{
    size_t tn = sizeof("\"original\":") - 1, b0, mid, b1, sep, n = w->mu_end - w->mu_at;
    size_t split = url_split(u, st, q);
    int copy = line_has_url(w, u, split) && !w->err
               && w->pos + 1 + tn + n + 2 + w->reserve + w->keys_apart <= w->size;
    char *o;

    if (split == SIZE_MAX || (!copy && !jw_member_fits(w, tn, u.len))) {
        m_str(w, K("original"), u);
        m_str(w, K("path"), st);
        m_str(w, K("query"), q);
        return;
    }
    o = w->buf + w->pos;
    sep = !w->first[w->depth];
    w->first[w->depth] = 0;
    o[0] = ',';
    memcpy(o + sep, "\"original\":\"", tn + 1);
    b0 = w->pos + sep + tn + 1;
    b1 = url_body(w->buf, b0, w, u, split, copy, &mid);
    w->buf[b1] = '"';
    w->pos = b1 + 1;
    if (!m_escaped(w, K("path"), b0, mid - b0)) m_str(w, K("path"), st);
    if (q.p && !m_escaped(w, K("query"), mid + 1, b1 - mid - 1)) m_str(w, K("query"), q);
}

/* The client's escaped bytes copied from the message line when it holds
 * them whole. */
static void r_ip(jw_t *w, const char *tok, size_t tn, iw_str_t ip)
{
    int is_ip;
    if (!ip.p) return;
    jw_open(w, tok, tn, '{');
    is_ip = iw_alert__field_is_ip(ip);
    if (!(line_has_ip(w, ip)
          && (is_ip ? m_escaped(w, K("ip"), w->mi_at, w->mi_end - w->mi_at)
                    : m_escaped(w, K("address"), w->mi_at, w->mi_end - w->mi_at)))) {
        if (is_ip) m_str(w, K("ip"), ip);
        else m_str(w, K("address"), ip);
    }
    jw_close(w, '}');
}

static void r_access(jw_t *w, iw_event_t *ev)
{
    long long n;
    iw_str_t v;

    jw_open(w, K("http"), '{');
    jw_open(w, K("request"), '{');
    m_str(w, K("method"), fget(ev, IW_F_CS_METHOD));
    m_str(w, K("referrer"), fget(ev, IW_F_CS_REFERER));
    m_str(w, K("id"), fget(ev, IW_F_REQUEST_ID));
    if (fnum(ev, IW_F_CS_BYTES, &n)) m_int(w, K("bytes"), n);
    jw_close(w, '}');
    jw_open(w, K("response"), '{');
    if (fnum(ev, IW_F_SC_STATUS, &n)) m_int(w, K("status_code"), n);
    if (fnum(ev, IW_F_SC_BYTES, &n)) m_int(w, K("bytes"), n);
    jw_close(w, '}');
    v = fget(ev, IW_F_CS_VERSION);
    if (v.p && v.len > 5 && !strncmp(v.p, "HTTP/", 5)) { v.p += 5; v.len -= 5; }
    m_str(w, K("version"), v);
    jw_close(w, '}');

    jw_open(w, K("url"), '{');
    r_url_parts(w, fget(ev, IW_F_CS_URI), fget(ev, IW_F_CS_URI_STEM), fget(ev, IW_F_CS_URI_QUERY));
    m_str(w, K("domain"), iw_alert__field_host(fget(ev, IW_F_CS_HOST)));
    jw_close(w, '}');

    jw_open(w, K("user_agent"), '{');
    m_str(w, K("original"), fget(ev, IW_F_CS_USER_AGENT));
    jw_close(w, '}');
    v = fget(ev, IW_F_CS_USERNAME);
    if (v.p && v.len && !(v.len == 1 && v.p[0] == '-')) {
        jw_open(w, K("user"), '{');
        m_str(w, K("name"), v);
        jw_close(w, '}');
    }
}

static void r_server(jw_t *w, iw_event_t *ev)
{
    iw_str_t site = fget(ev, IW_F_S_SITENAME), sip = fget(ev, IW_F_S_IP);
    long long n;

    jw_open(w, K("server"), '{');
    m_str(w, K("address"), site.p ? site : sip);
    if (iw_alert__field_is_ip(sip)) m_str(w, K("ip"), sip);
    if (fnum(ev, IW_F_S_PORT, &n)) m_int(w, K("port"), n);
    jw_close(w, '}');
}

static void m_field_name(jw_t *w, int f)
{
    if (f >= 0 && f < IW_F__COUNT && fnames_ready())
        m_litn(w, K("field"), iw_alert__field_names[f].s, iw_alert__field_names[f].n);
    else
        m_cstr(w, K("field"), iw_field_name((iw_field_id_t)f), 64);
}

static void r_matches(jw_t *w, const iw_hit_t *hit)
{
    int i;
    if (!hit || hit->nmatches <= 0) return;
    jw_open(w, K("matches"), '[');
    for (i = 0; i < hit->nmatches && i < IW_MAX_MATCHES_PER_HIT; i++) {
        const iw_match_t *m = &hit->matches[i];
        jw_open(w, K_NONE, '{');
        m_field_name(w, m->field);
        /* the message line's escaped bytes of the first value, when whole */
        if (!(i == 0 && line_has_value(w, m->value)
              && m_escaped(w, K("value"), w->mv_at, w->mv_end - w->mv_at)))
            m_str(w, K("value"), m->value);
        jw_close(w, '}');
    }
    jw_close(w, ']');
}

/* True when s starts a "name=" group key (field names are [A-Za-z0-9_.-]). */
static int group_key_at(const char *s, const char *end)
{
    const char *p = s;
    while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                       (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
                       *p == '.'))
        p++;
    return p > s && p < end && *p == '=';
}

/* "c-ip=1.2.3.4,s-sitename=x" -> {"c-ip":"1.2.3.4","s-sitename":"x"}; a
 * comma only splits when a key follows it, so values may hold commas. */
static void r_group(jw_t *w, const char *g)
{
    const char *end = g + strnlen(g, sizeof(((iw_corr_alert_t *)0)->group));
    const char *p = g;
    char tok[66];                   /* "key": with the key cut to 63 bytes */

    if (p == end) return;
    if (!group_key_at(p, end)) { m_strn(w, K("group"), g, end - g, 256); return; }
    jw_open(w, K("group"), '{');
    while (p < end) {
        const char *eq = memchr(p, '=', end - p), *v = eq + 1, *q = v;
        size_t kl = eq - p;
        while (q < end && !(*q == ',' && group_key_at(q + 1, end))) q++;
        if (kl > 63) kl = 63;
        tok[0] = '"';
        memcpy(tok + 1, p, kl);
        memcpy(tok + 1 + kl, "\":", 2);
        m_strn(w, tok, kl + 3, v, q - v, IW_ALERT_EXCERPT_MAX);
        p = q < end ? q + 1 : end;
    }
    jw_close(w, '}');
}

static void r_corr(jw_t *w, const iw_corr_alert_t *c)
{
    char ts[64];
    jw_open(w, K("correlation"), '{');
    m_cstr(w, K("type"), corr_type_name(c->type), 32);
    r_group(w, c->group);
    m_int(w, K("count"), (long long)c->count);
    if (c->window % APR_USEC_PER_SEC == 0) {
        m_int(w, K("window_s"), (long long)(c->window / APR_USEC_PER_SEC));
    } else {
        snprintf(ts, sizeof(ts), "%.3f", (double)c->window / APR_USEC_PER_SEC);
        m_litn(w, K("window_s"), ts, strlen(ts));
    }
    if (c->first_seen) {
        iw_alert_iso_time(ts, sizeof(ts), c->first_seen);
        m_cstr(w, K("first_seen"), ts, sizeof(ts));
    }
    if (c->last_seen) {
        iw_alert_iso_time(ts, sizeof(ts), c->last_seen);
        m_cstr(w, K("last_seen"), ts, sizeof(ts));
    }
    jw_close(w, '}');
}

/* Summary mode: every rule (that alerts on its own) matching the event,
 * whole entries while they fit; the rest is never dropped silently:
 * "rules_omitted" says how many (room for it is reserved up front) and
 * "rules_total" how many matched. */
#define RULES_TAIL_RESERVE 48   /* ,"rules_omitted":N,"rules_total":N */

static void r_rules(jw_t *w, const iw_alert_t *a)
{
    int i, total = 0, listed = 0;
    if (!a->all_hits || a->nall_hits <= 0) return;
    for (i = 0; i < a->nall_hits; i++)
        if (a->all_hits[i].rule && a->all_hits[i].rule->generate) total++;
    w->reserve += RULES_TAIL_RESERVE;
    jw_open(w, K("rules"), '[');
    for (i = 0; i < a->nall_hits && !w->err; i++) {
        const iw_rule_t *r = a->all_hits[i].rule;
        jw_cp_t cp;
        int dropped = w->dropped;
        if (!r || !r->generate) continue;
        cp = jw_save(w);
        jw_open(w, K_NONE, '{');
        m_cstr(w, K("id"), r->id ? r->id : r->name, IW_ALERT_EXCERPT_MAX);
        m_cstr(w, K("name"), r->title, IW_ALERT_EXCERPT_MAX);
        m_cstr(w, K("level"), iw_level_name(r->level), 32);
        jw_close(w, '}');
        if (w->err || w->dropped != dropped) {  /* no room: whole entries only */
            jw_restore(w, &cp);
            w->dropped = dropped + 1;
            break;
        }
        listed++;
    }
    jw_close(w, ']');
    jw_peak(w);
    w->reserve -= RULES_TAIL_RESERVE;
    w->rules_omitted = total - listed;
    if (listed < total) {
        m_int(w, K("rules_omitted"), total - listed);
        m_int(w, K("rules_total"), total);
    }
}

static void r_iocwatch(jw_t *w, const iw_alert_t *a, iw_event_t *ev)
{
    jw_open(w, K("iocwatch"), '{');
    r_matches(w, a->hit);
    if (a->eval_error) {            /* the rule could not be evaluated: say so */
        jw_open(w, K("evaluation_error"), '{');
        m_cstr(w, K("reason"), iw_eval_error_reason(a->eval_error->code), 64);
        m_cstr(w, K("field"), iw_field_name((iw_field_id_t)a->eval_error->field), 64);
        m_int(w, K("code"), a->eval_error->code);
        if (ev) m_str(w, K("value"), fget(ev, (iw_field_id_t)a->eval_error->field));
        jw_close(w, '}');
    }
    if (a->corr) r_corr(w, a->corr);
    if (a->suppressed > 0) m_int(w, K("suppressed"), (long long)a->suppressed);
    r_rules(w, a);
    if (ev && ev->type == IW_EV_ERROR) {
        jw_open(w, K("apache"), '{');
        m_str(w, K("level"), fget(ev, IW_F_LEVEL));
        m_str(w, K("module"), fget(ev, IW_F_MODULE));
        m_str(w, K("ah_code"), fget(ev, IW_F_AH_CODE));
        jw_close(w, '}');
    }
    if (a->with_input && ev && (ev->input_line > 0 || ev->input_id)) {
        jw_open(w, K("input"), '{');
        if (ev->input_line > 0) m_int(w, K("line"), ev->input_line);
        m_cstr(w, K("id"), ev->input_id, IW_ALERT_EXCERPT_MAX);
        jw_close(w, '}');
    }
    jw_close(w, '}');
}

/* ---- the rule's sections, rendered when the rules are compiled ---------- */

#define FRAG_BUF (32 * 1024)   /* a rule's section larger than this is rendered each time */

typedef struct frag_part {
    const char *bytes;
    size_t n;
    size_t need;                /* room (peak - start - reserve) the writes asked for */
    unsigned char first_before, first_after;
    int ok;
} frag_part_t;

typedef struct iw_alert_frag {
    const char *ruleset;        /* rule.ruleset the parts were rendered with */
    frag_part_t part[2][2];     /* [0: rule, 1: event .. threat][lite] */
    const char *msg_head;       /* "[level] title" as the message line starts */
    size_t nmsg_head;
    const char *msg_head_json;  /* the same escaped, without quotes */
    size_t nmsg_head_json;
} iw_alert_frag_t;

int iw_alert_frags = 1;

/* "rule" and "event" + "log" + "tags" + "threat" depend on the rule alone
 * (and ruleset, lite): most of an alert's bytes.  iw_alert_prepare renders
 * them once per rule with the writer itself and keeps the bytes with the
 * room the writer asked for on the way (peak).  An alert copies them when
 * the writer stands where they were rendered (depth 1, the same "first
 * member" state) and has that room: then every write of the section would
 * have fit, and the writer would have written exactly these bytes.
 * Otherwise (no room, the rule not prepared, another ruleset) the section
 * is rendered as it always is. */
static void rule_part_render(jw_t *w, const iw_alert_t *a, int part, int lite)
{
    if (part == 0) r_rule(w, a, lite);
    else { r_event(w, a->rule ? a->rule->level : IW_LEVEL_NONE); r_tags(w, a->rule, lite); }
}

/* (A few bytes: a loop costs less than strcmp's set-up.) */
static int same_ruleset(const char *x, const char *y)
{
    if (x == y) return 1;
    if (!x || !y) return 0;
    for (; *x == *y; x++, y++)
        if (!*x) return 1;
    return 0;
}

/* One of the rule's sections: its prepared bytes (f: the rule's, NULL:
 * none) when they apply, else rendered. */
static void r_rule_part(jw_t *w, const iw_alert_t *a, const iw_alert_frag_t *f, int part,
                        int lite)
{
    const frag_part_t *fp = f ? &f->part[part][lite] : NULL;

    if (fp && fp->ok && !w->err && w->depth == 1
        && w->first[1] == fp->first_before
        && (w->ruleset_as_prepared ? w->ruleset_as_prepared
            : (w->ruleset_as_prepared = same_ruleset(f->ruleset, a->ruleset) ? 1 : 2)) == 1
        && w->pos + fp->need + w->reserve <= w->size) {
        if (w->pos + fp->need + w->reserve > w->peak) w->peak = w->pos + fp->need + w->reserve;
        memcpy(w->buf + w->pos, fp->bytes, fp->n);
        w->pos += fp->n;
        w->first[1] = fp->first_after;
        return;
    }
    rule_part_render(w, a, part, lite);
}

static void frag_record(apr_pool_t *p, char *buf, frag_part_t *fp, const iw_alert_t *a,
                        int part, int lite)
{
    jw_t w;
    size_t pos0;

    memset(fp, 0, sizeof(*fp));
    jw_init(&w, buf, FRAG_BUF);
    jw_open(&w, K_NONE, '{');
    w.first[1] = part == 0;     /* "rule" comes first; the rest follows members */
    fp->first_before = w.first[1];
    pos0 = w.pos;
    w.peak = 0;
    rule_part_render(&w, a, part, lite);
    jw_peak(&w);
    if (w.err || w.dropped || w.depth != 1) return;
    fp->n = w.pos - pos0;
    fp->bytes = apr_pmemdup(p, buf + pos0, fp->n ? fp->n : 1);
    fp->need = w.peak > pos0 + w.reserve ? w.peak - pos0 - w.reserve : 0;
    fp->first_after = w.first[1];
    fp->ok = 1;
}

void iw_alert_prepare_rule(apr_pool_t *p, iw_rule_t *r, const char *ruleset)
{
    iw_alert_frag_t *f;
    iw_alert_t a;
    char *buf;
    int part, lite;

    r->alert_frag = NULL;
    if (!(buf = malloc(FRAG_BUF))) return;
    f = apr_pcalloc(p, sizeof(*f));
    f->ruleset = ruleset ? apr_pstrdup(p, ruleset) : NULL;
    memset(&a, 0, sizeof(a));
    a.rule = r;
    a.ruleset = ruleset;
    for (part = 0; part < 2; part++)
        for (lite = 0; lite < 2; lite++)
            frag_record(p, buf, &f->part[part][lite], &a, part, lite);
    f->nmsg_head = iw_alert__msg_head(r, buf, MSG_MAX);
    f->msg_head = apr_pmemdup(p, buf, f->nmsg_head ? f->nmsg_head : 1);
    {
        size_t pos = 0;
        if (!iw_alert__json_str_bounded(buf, FRAG_BUF, &pos, f->msg_head, f->nmsg_head, f->nmsg_head)
            && pos >= 2) {
            f->nmsg_head_json = pos - 2;
            f->msg_head_json = apr_pmemdup(p, buf + 1, pos - 1);
        }
    }
    free(buf);
    r->alert_frag = f;
}

void iw_alert_prepare(iw_ruleset_t *rs, const char *ruleset)
{
    int i;
    for (i = 0; rs && rs->rules && i < rs->rules->nelts; i++)
        iw_alert_prepare_rule(rs->pool, APR_ARRAY_IDX(rs->rules, i, iw_rule_t *), ruleset);
}

/* ---- the event's members, rendered once per event --------------------- */

/* "source" .. "server" depend on the event and host.name alone, the same
 * for every alert of a request: each thread keeps the last event's bytes
 * (keyed by the event's serial, which no other event build had, and the
 * host name's text) with the room the writer asked for, and the next
 * alert of that event copies them under the rule of the rule's parts
 * (same place in the object, that room).  Exact as those are. */
#define EVSEC_OUT  8192
#define EVSEC_HOST 256

typedef struct evsec {
    uint64_t serial;            /* the event's; 0: nothing kept */
    const iw_event_t *ev;
    size_t n, need;
    unsigned char first_before, first_after;
    char host[EVSEC_HOST];      /* host.name as rendered; "" with has_host 0 */
    int has_host;
    char out[EVSEC_OUT];
    srvt_t srv;                 /* the direct path's "host" and "server" */
} evsec_t;

int iw_alert_evsec = 1;
static pthread_key_t evsec_key;
static pthread_once_t evsec_once = PTHREAD_ONCE_INIT;
static int evsec_ok;

static void evsec_key_init(void) { evsec_ok = pthread_key_create(&evsec_key, free) == 0; }

/* The thread's slot (allocated on its first alert), NULL when none. */
static _Thread_local evsec_t *evsec_mine;     /* the key's value, read without a call */

static evsec_t *evsec_slot(void)
{
    evsec_t *t;
    if (!iw_alert_evsec) return NULL;
    if (evsec_mine) return evsec_mine;
    if (pthread_once(&evsec_once, evsec_key_init) || !evsec_ok) return NULL;
    if (!(t = pthread_getspecific(evsec_key))) {
        if (!(t = calloc(1, sizeof(*t)))) return NULL;
        if (pthread_setspecific(evsec_key, t)) { free(t); return NULL; }
    }
    evsec_mine = t;
    return t;
}

static int evsec_host_is(const evsec_t *k, const char *host)
{
    if (!host) return !k->has_host;
    return k->has_host && !strcmp(k->host, host);
}

/* r_iocwatch for a detection alert whose iocwatch object holds the matches
 * (and the CLI's input) alone, when its worst case fits: written in a row,
 * as the writer writes it (every object there has a member, nothing is
 * cut), the first value copied from the message line as r_matches copies
 * it.  0: not written. */
static int r_iocwatch_direct(jw_t *w, const iw_alert_t *a, iw_event_t *ev)
{
    const iw_hit_t *hit = a->hit;
    int i, n, input = a->with_input && ev && (ev->input_line > 0 || ev->input_id);
    size_t worst = 64, nid = input && ev->input_id ? strlen(ev->input_id) : 0;
    dw_t d;

    if (!hit || hit->nmatches <= 0 || a->eval_error || a->corr || a->suppressed > 0
        || (a->all_hits && a->nall_hits > 0) || (ev && ev->type == IW_EV_ERROR) || w->err
        || w->depth != 1 || !iw_alert_roomy || w->keys_apart || !fnames_ready())
        return 0;
    n = hit->nmatches < IW_MAX_MATCHES_PER_HIT ? hit->nmatches : IW_MAX_MATCHES_PER_HIT;
    for (i = 0; i < n; i++) {
        if (hit->matches[i].field < 0 || hit->matches[i].field >= IW_F__COUNT) return 0;
        worst += 32 + iw_alert__field_names[hit->matches[i].field].n + 6 * d_lim(hit->matches[i].value);
    }
    worst += input ? 64 + 6 * (nid < IW_ALERT_EXCERPT_MAX ? nid : IW_ALERT_EXCERPT_MAX) : 0;
    if (w->pos + worst + w->reserve > w->size) return 0;
    d.b = w->buf;
    d.o = w->pos;
    d.first = w->first[1];
    d_key(&d, K("iocwatch"));
    memcpy(d.b + d.o, "{\"matches\":[", 12);
    d.o += 12;
    for (i = 0; i < n; i++) {
        const iw_match_t *m = &hit->matches[i];
        d.b[d.o] = ',';
        d.o += i > 0;
        memcpy(d.b + d.o, "{\"field\":", 9);
        memcpy(d.b + d.o + 9, iw_alert__field_names[m->field].s, iw_alert__field_names[m->field].n);
        d.o += 9 + iw_alert__field_names[m->field].n;
        d.first = 0;
        if (i == 0 && line_has_value(w, m->value))
            d_copy(&d, K("value"), w->mv_at, w->mv_end - w->mv_at);
        else
            d_str(&d, K("value"), m->value);
        d.b[d.o++] = '}';
    }
    d.b[d.o++] = ']';
    if (input) {
        dcp_t o1 = d_open(&d, K("input"));
        if (ev->input_line > 0) d_int(&d, K("line"), ev->input_line);
        if (ev->input_id) d_str(&d, K("id"), (iw_str_t){ ev->input_id, nid });
        d_close(&d, o1);
    }
    d.b[d.o++] = '}';
    if (w->pos + worst + w->reserve > w->peak) w->peak = w->pos + worst + w->reserve;
    w->pos = d.o;
    w->first[1] = 0;
    return 1;
}

static void r_event_members_render(jw_t *w, const iw_alert_t *a, iw_event_t *ev,
                                   evsec_t *k)
{
    long long pid;

    if (iw_alert__direct_members(w, a, ev, k ? &k->srv : NULL)) return;
    r_ip(w, K("source"), fget(ev, IW_F_C_IP));
    if (ev && ev->type == IW_EV_ERROR) {
        /* the entry's own text: `message` is the alert's line */
        jw_open(w, K("error"), '{');
        m_str(w, K("message"), fget(ev, IW_F_MESSAGE));
        jw_close(w, '}');
        if (fnum(ev, IW_F_PID, &pid)) {
            jw_open(w, K("process"), '{');
            m_int(w, K("pid"), pid);
            jw_close(w, '}');
        }
    } else if (ev) {
        r_access(w, ev);
    }
    if (a->host_name) {
        jw_open(w, K("host"), '{');
        m_cstr(w, K("name"), a->host_name, IW_ALERT_EXCERPT_MAX);
        jw_close(w, '}');
    }
    if (ev && ev->type != IW_EV_ERROR) r_server(w, ev);
}

/* Copy the thread's bytes for this event when they apply; else render
 * (and keep them when the section went through whole). */
static void r_event_members(jw_t *w, const iw_alert_t *a, iw_event_t *ev)
{
    evsec_t *k = ev && ev->serial && !w->err && w->depth == 1 ? evsec_slot() : NULL;
    size_t pos0, peak0, nh;
    int dropped0;
    unsigned char first0;

    if (!k) {
        r_event_members_render(w, a, ev, k);
        return;
    }
    first0 = w->first[1];
    if (k->serial == ev->serial && k->ev == ev && k->first_before == first0
        && evsec_host_is(k, a->host_name)) {
        if (w->pos + k->need + w->reserve <= w->size) {
            if (w->pos + k->need + w->reserve > w->peak) w->peak = w->pos + k->need + w->reserve;
            memcpy(w->buf + w->pos, k->out, k->n);
            w->pos += k->n;
            w->first[1] = k->first_after;
            return;
        }
        r_event_members_render(w, a, ev, k);
        return;
    }
    pos0 = w->pos;
    peak0 = w->peak;
    dropped0 = w->dropped;
    w->peak = 0;
    r_event_members_render(w, a, ev, k);
    jw_peak(w);
    nh = a->host_name ? strlen(a->host_name) : 0;
    if (!w->err && w->dropped == dropped0 && w->depth == 1 && w->pos - pos0 <= EVSEC_OUT
        && nh < EVSEC_HOST) {
        k->serial = ev->serial;
        k->ev = ev;
        k->first_before = first0;
        k->first_after = w->first[1];
        k->n = w->pos - pos0;
        k->need = w->peak - pos0 - w->reserve;
        memcpy(k->out, w->buf + pos0, k->n);
        k->has_host = a->host_name != NULL;
        memcpy(k->host, a->host_name ? a->host_name : "", nh + 1);
    }
    if (peak0 > w->peak) w->peak = peak0;
}

/* The line's length as iw_alert__message writes a piece of n bytes cut to max. */
static inline size_t mlen(size_t n, size_t max) { return n > max ? max + 3 : n; }

/* A piece of the line escaped at o, cut to max with "..." as mb_put cuts. */
static inline size_t me_put(char *buf, size_t o, const char *s, size_t n, size_t max)
{
    int cut = n > max;
    if (cut) n = max;
    o = iw_alert__json_body_roomy(buf, o, (const unsigned char *)s, n, n);
    if (cut) { memcpy(buf + o, "...", 3); o += 3; }
    return o;
}

#define me_lit(buf, o, s) (memcpy((buf) + (o), "" s "", sizeof(s) - 1), (o) + sizeof(s) - 1)

/* ,"message":" and the rule's escaped head (f: its prepared parts) at the
 * writer's position, whose room the caller checked; returns the position
 * after them. */
static inline size_t msg_open(jw_t *w, const iw_alert_frag_t *f)
{
    size_t o = w->pos, tn = sizeof("\"message\":") - 1;
    w->buf[o] = ',';
    o += !w->first[w->depth];
    w->first[w->depth] = 0;
    memcpy(w->buf + o, "\"message\":\"", tn + 1);
    o += tn + 1;
    memcpy(w->buf + o, f->msg_head_json, f->nmsg_head_json);
    return o + f->nmsg_head_json;
}

/* "message" of a request's alert written escaped piece by piece, without
 * the line itself: the bytes r_message writes for iw_alert__message's line, as
 * every piece of untrusted bytes (client, method, target, value) is
 * followed by an ASCII byte, so no UTF-8 sequence is read across a seam
 * (as in r_message), and the line is not cut (its length, counted first,
 * is within MSG_MAX).  The client, the target (in r_url_parts' two pieces)
 * and the first match's value, when whole, are kept for source.*, url.*
 * and matches to copy.  f: the rule's prepared parts.  0: not written (no
 * prepared head, an error or correlation alert, a long line, no room):
 * the caller builds the line. */
static int msg_direct(jw_t *w, const iw_alert_t *a, const iw_alert_frag_t *f)
{
    iw_event_t *ev = a->ev;
    const iw_match_t *mt = a->hit && a->hit->nmatches > 0 ? &a->hit->matches[0] : NULL;
    const char *fname = NULL;
    iw_str_t ip, me, u;
    size_t n, o, at, fl = 0, split = SIZE_MAX, tn = sizeof("\"message\":") - 1, nd[3] = { 0, 0, 0 };
    char d[3][24];                  /* more rules, status, held back: digits */
    long long st;
    int more, plain = 0;

    if (!f || !f->msg_head_json || f->nmsg_head > MSG_MAX || a->corr || !ev
        || ev->type == IW_EV_ERROR || w->err)
        return 0;
    more = iw_alert__more_rules(a);
    ip = fget(ev, IW_F_C_IP);
    me = fget(ev, IW_F_CS_METHOD);
    u = fget(ev, IW_F_CS_URI);
    if (more) nd[0] = put_dec(d[0], (unsigned long long)more);
    if (fnum(ev, IW_F_SC_STATUS, &st)) nd[1] = put_dec(d[1], (unsigned long long)st);
    if (a->suppressed > 0) nd[2] = put_dec(d[2], (unsigned long long)a->suppressed);
    n = f->nmsg_head + 2 + (more ? 15 + nd[0] : 0) + (ip.p ? 1 + mlen(ip.len, 64) : 0)
        + (me.p ? mlen(me.len, 16) + 1 : 0) + (u.p ? mlen(u.len, MSG_TARGET_MAX) : 0)
        + (nd[1] ? 4 + nd[1] : 0) + (nd[2] ? 18 + nd[2] : 0);
    if (mt) {
        if (mt->field >= 0 && mt->field < IW_F__COUNT && fnames_ready()
            && iw_alert__field_names[mt->field].plain) {
            fname = iw_alert__field_names[mt->field].s + 1;    /* copied, not escaped */
            fl = iw_alert__field_names[mt->field].n - 2;
            plain = 1;
        } else {
            fname = iw_field_name((iw_field_id_t)mt->field);
            fl = fname ? strlen(fname) : 0;
        }
        n += 13 + fl + (mt->value.p ? mlen(mt->value.len, MSG_VALUE_MAX) : 0);
    }
    if (n > MSG_MAX || !jw_member_fits(w, tn, n)) return 0;
    o = msg_open(w, f);
    if (more) {
        o = me_lit(w->buf, o, " (+");
        memcpy(w->buf + o, d[0], nd[0]);
        o = me_lit(w->buf, o + nd[0], " more rules)");
    }
    o = me_lit(w->buf, o, ":");
    if (ip.p) {
        w->buf[o++] = ' ';
        at = o;
        o = me_put(w->buf, o, ip.p, ip.len, 64);
        if (ip.len <= 64) {             /* whole: kept for source.* */
            w->mi_p = ip.p;
            w->mi_len = ip.len;
            w->mi_at = at;
            w->mi_end = o;
        }
    }
    w->buf[o++] = ' ';
    if (me.p) { o = me_put(w->buf, o, me.p, me.len, 16); w->buf[o++] = ' '; }
    if (u.p && u.len <= MSG_TARGET_MAX)
        split = url_split(u, fget(ev, IW_F_CS_URI_STEM), fget(ev, IW_F_CS_URI_QUERY));
    if (split != SIZE_MAX) {            /* kept for url.* */
        w->mu_at = o;
        o = w->mu_end = url_body(w->buf, o, w, u, split, 0, &w->mu_mid);
        w->mu_p = u.p;
        w->mu_len = u.len;
        w->mu_split = split;
    } else if (u.p) {
        o = me_put(w->buf, o, u.p, u.len, MSG_TARGET_MAX);
    }
    if (nd[1]) { o = me_lit(w->buf, o, " -> "); memcpy(w->buf + o, d[1], nd[1]); o += nd[1]; }
    if (mt) {
        o = me_lit(w->buf, o, "; matched ");
        if (plain) memcpy(w->buf + o, fname, fl), o += fl;
        else o = iw_alert__json_body_roomy(w->buf, o, (const unsigned char *)fname, fl, fl);
        o = me_lit(w->buf, o, " \\\"");
        if (mt->value.p) {
            at = o;
            o = me_put(w->buf, o, mt->value.p, mt->value.len, MSG_VALUE_MAX);
            if (mt->value.len <= MSG_VALUE_MAX) {   /* whole: kept for matches */
                w->mv_p = mt->value.p;
                w->mv_len = mt->value.len;
                w->mv_at = at;
                w->mv_end = o;
            }
        }
        o = me_lit(w->buf, o, "\\\"");
    }
    if (nd[2]) {
        o = me_lit(w->buf, o, " (");
        memcpy(w->buf + o, d[2], nd[2]);
        o = me_lit(w->buf, o + nd[2], " more held back)");
    }
    w->buf[o++] = '"';
    w->pos = o;
    return 1;
}

/* "message": the line iw_alert__message built.  When it starts with the
 * rule's prepared head (f: the rule's prepared parts; iw_alert__message
 * took the head) and fits whole, the head's escaped bytes are copied and
 * only the rest is escaped: the same bytes, as the head ends before an
 * ASCII byte (':' or ' '), so no UTF-8 sequence is read across the seam,
 * and the line is never cut (at most MSG_MAX bytes, its own limit). */
static void r_message(jw_t *w, const iw_alert_frag_t *f, const char *msg, size_t n)
{
    size_t h, o, tn = sizeof("\"message\":") - 1;

    if (!f || !f->msg_head_json || (h = f->nmsg_head) > MSG_MAX || n < h || n > MSG_MAX
        || !jw_member_fits(w, tn, n)) {
        m_strn(w, K("message"), msg, n, MSG_MAX);
        return;
    }
    o = msg_open(w, f);
    w->pos = iw_alert__json_body_roomy(w->buf, o, (const unsigned char *)msg + h, n - h, n - h);
    w->buf[w->pos++] = '"';
}

static void render(jw_t *w, const iw_alert_t *a, int lite)
{
    const iw_alert_frag_t *f = a->rule && iw_alert_frags ? a->rule->alert_frag : NULL;
    iw_event_t *ev = a->ev;
    char ts[64];

    jw_open(w, K_NONE, '{');
    r_rule_part(w, a, f, 0, lite);              /* r_rule */
    if (a->now > 0) {               /* unknown (0): omitted, not 1970 */
        ts[0] = '"';                /* digits and -:T.Z: nothing to escape */
        iw_alert_iso_time(ts + 1, sizeof(ts) - 2, a->now);     /* its 24 bytes */
        ts[25] = '"';
        m_litn(w, K("@timestamp"), ts, 26);
    }
    if (!msg_direct(w, a, f)) {
        char msg[MSG_MAX];
        size_t n = iw_alert__message(a, f ? f->msg_head : NULL, f ? f->nmsg_head : 0, msg,
                                     sizeof(msg));
        r_message(w, f, msg, n);
    }
    r_rule_part(w, a, f, 1, lite);              /* r_event, r_tags */
    r_event_members(w, a, ev);                  /* source .. server */
    if (!r_iocwatch_direct(w, a, ev)) r_iocwatch(w, a, ev);
    jw_close(w, '}');
}

size_t iw_alert_json_info(const iw_alert_t *a, char *buf, size_t size,
                          iw_alert_info_t *info)
{
    jw_t w;
    if (info) memset(info, 0, sizeof(*info));
    if (!buf || size == 0) return 0;
    jw_init(&w, buf, size);
    if (a) render(&w, a, 0);
    if (a && w.dropped > 0) {       /* make room: drop the low-value parts */
        jw_init(&w, buf, size);
        render(&w, a, 1);
    }
    if (w.pos == 0 && size >= 3) {  /* even rule.id did not fit */
        memcpy(buf, "{}", 2);
        w.pos = 2;
    }
    buf[w.pos] = '\0';
    if (info) info->rules_omitted = w.rules_omitted;
    return w.pos;
}

size_t iw_alert_json(const iw_alert_t *a, char *buf, size_t size)
{
    return iw_alert_json_info(a, buf, size, NULL);
}
