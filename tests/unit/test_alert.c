/* SPDX-License-Identifier: Apache-2.0 */
/* Alerts: ECS JSON content, escaping, truncation (valid JSON at every buffer
 * size), syslog framing.  Events are built with the real iw_event code. */
#include <ctype.h>
#include <stdlib.h>
#include <time.h>
#include <apr_strings.h>
#include "iw_test.h"
#include "iw_alert.h"
#include "alert_util.h"

/* ---- a tiny strict JSON checker (shared with test_notify.c) ------------- */

typedef struct { const char *p, *end; int depth; } jc_t;

static int jc_value(jc_t *c);

static void jc_ws(jc_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' ||
                             *c->p == '\r')) c->p++;
}

static int jc_string(jc_t *c)
{
    if (c->p >= c->end || *c->p != '"') return 0;
    for (c->p++; c->p < c->end; c->p++) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') { c->p++; return 1; }
        if (ch < 0x20) return 0;
        if (ch == '\\') {
            int i;
            if (++c->p >= c->end) return 0;
            if (*c->p == 'u') {
                for (i = 0; i < 4; i++)
                    if (++c->p >= c->end || !isxdigit((unsigned char)*c->p)) return 0;
            } else if (!strchr("\"\\/bfnrt", *c->p)) return 0;
        }
    }
    return 0;
}

static int jc_number(jc_t *c)
{
    const char *s = c->p;
    if (c->p < c->end && *c->p == '-') c->p++;
    if (c->p >= c->end || !isdigit((unsigned char)*c->p)) return 0;
    if (*c->p == '0') c->p++;
    else while (c->p < c->end && isdigit((unsigned char)*c->p)) c->p++;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (c->p >= c->end || !isdigit((unsigned char)*c->p)) return 0;
        while (c->p < c->end && isdigit((unsigned char)*c->p)) c->p++;
    }
    return c->p > s;
}

static int jc_container(jc_t *c, char open, char close)
{
    int first = 1;
    if (++c->depth > 64) return 0;
    c->p++;                                 /* open */
    (void)open;
    for (;;) {
        jc_ws(c);
        if (c->p >= c->end) return 0;
        if (*c->p == close) { c->p++; c->depth--; return 1; }
        if (!first) {
            if (*c->p != ',') return 0;
            c->p++;
            jc_ws(c);
        }
        first = 0;
        if (close == '}') {
            if (!jc_string(c)) return 0;
            jc_ws(c);
            if (c->p >= c->end || *c->p != ':') return 0;
            c->p++;
            jc_ws(c);
        }
        if (!jc_value(c)) return 0;
    }
}

static int jc_lit(jc_t *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n)) return 0;
    c->p += n;
    return 1;
}

static int jc_value(jc_t *c)
{
    jc_ws(c);
    if (c->p >= c->end) return 0;
    switch (*c->p) {
    case '{': return jc_container(c, '{', '}');
    case '[': return jc_container(c, '[', ']');
    case '"': return jc_string(c);
    case 't': return jc_lit(c, "true");
    case 'f': return jc_lit(c, "false");
    case 'n': return jc_lit(c, "null");
    default: return jc_number(c);
    }
}

/* 1 when [s, s+len) is exactly one valid JSON value with no raw control
 * characters inside strings; also rejects a raw DEL anywhere. */
int iw_test_json_valid(const char *s, size_t len)
{
    jc_t c = { s, s + len, 0 };
    size_t i;
    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f) return 0;
    if (!jc_value(&c)) return 0;
    jc_ws(&c);
    return c.p == c.end;
}

/* ---- fixtures ----------------------------------------------------------- */

static apr_time_t t_fixed(void)
{
    apr_time_exp_t x;
    apr_time_t t;
    memset(&x, 0, sizeof(x));
    x.tm_year = 126; x.tm_mon = 10; x.tm_mday = 27; x.tm_hour = 18;
    apr_time_exp_gmt_get(&t, &x);
    return t + 123000;      /* 2026-11-27T18:00:00.123Z */
}

static iw_rule_t *mk_rule(apr_pool_t *p, const char *id, const char *title,
                          iw_level_t lvl, const char *tags)
{
    iw_rule_t *r = apr_palloc(p, sizeof(*r));
    au_fill_rule(p, r, id, title, lvl, tags);
    return r;
}

typedef struct fx {
    iw_event_t ev;
    char evbuf[4096];
    iw_str_t hn[4], hv[4];
    iw_request_desc_t d;
} fx_t;

static iw_str_t S(const char *s) { return (iw_str_t){ s, strlen(s) }; }

static void fx_request(fx_t *f, const char *target, const char *ua)
{
    memset(f, 0, sizeof(*f));
    f->hn[0] = S("Host"); f->hv[0] = S("www.example.com:8080");
    f->hn[1] = S("User-Agent"); f->hv[1] = S(ua);
    f->hn[2] = S("Referer"); f->hv[2] = S("http://evil.example/");
    f->d.method = S("GET");
    f->d.target = S(target);
    f->d.version = S("HTTP/1.1");
    f->d.hdr_names = f->hn; f->d.hdr_values = f->hv; f->d.nhdrs = 3;
    f->d.status = 404;
    f->d.sc_bytes = 196; f->d.cs_bytes = -1; f->d.time_taken_ms = 3;
    f->d.client_ip = S("203.0.113.5");
    f->d.server_ip = S("10.0.0.1");
    f->d.sitename = S("www.example.com");
    f->d.server_port = 443;
    f->d.time = t_fixed();
    iw_event_init(&f->ev, f->evbuf, sizeof(f->evbuf));
    iw_event_from_request(&f->ev, &f->d);
}

static void alert_for(iw_alert_t *a, const iw_rule_t *r, iw_event_t *ev,
                      const iw_hit_t *hit)
{
    memset(a, 0, sizeof(*a));
    a->rule = r;
    a->ev = ev;
    a->hit = hit;
    a->ruleset = "sigma";
    a->host_name = "web1";
    a->now = t_fixed();
}

/* A hit of rule r with one match: field f = v. */
static void one_match(iw_hit_t *h, const iw_rule_t *r, iw_field_id_t f, const char *v)
{
    memset(h, 0, sizeof(*h));
    h->rule = r;
    h->nmatches = 1;
    h->matches[0].field = f;
    h->matches[0].value = S(v);
}

/* ---- tests --------------------------------------------------------------- */

TEST(alert_json_access)
{
    fx_t f;
    iw_alert_t a;
    iw_hit_t hit;
    char buf[8192];
    size_t n;
    static const char pfx[] =
        "{\"rule\":{\"id\":\"5f8b2d1e-0000-4000-8000-000000000001\","
        "\"name\":\"Webshell access\",\"ruleset\":\"sigma\","
        "\"description\":\"Detects a \\\"webshell\\\"\","
        "\"reference\":\"https://example.org/ref\"},"
        "\"@timestamp\":\"2026-11-27T18:00:00.123Z\","
        "\"message\":\"[high] Webshell access: 203.0.113.5 GET /cgi-bin/x.php?cmd=id"
        " -> 404; matched cs-uri-query \\\"cmd=id\\\"\","
        "\"event\":{\"kind\":\"alert\",\"severity\":73,\"module\":\"iocwatch\","
        "\"dataset\":\"iocwatch.alert\"},\"log\":{\"level\":\"high\"},";
    iw_rule_t *r = mk_rule(p, "5f8b2d1e-0000-4000-8000-000000000001",
                           "Webshell access", IW_LEVEL_HIGH,
                           "attack.initial_access attack.t1190 attack.T1059.001 "
                           "attack.t12 cve.2021-41773");
    r->description = "Detects a \"webshell\"";
    r->references = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(r->references, const char *) = "https://example.org/ref";

    fx_request(&f, "/cgi-bin/x.php?cmd=id", "curl/8.0");
    one_match(&hit, r, IW_F_CS_URI_QUERY, "cmd=id");
    alert_for(&a, r, &f.ev, &hit);
    n = iw_alert_json(&a, buf, sizeof(buf));
    CHECK_INT(n, strlen(buf));
    CHECK(iw_test_json_valid(buf, n));
    CHECK(!strncmp(buf, pfx, strlen(pfx)));
    CHECK_CONTAINS(buf, "\"threat\":{\"framework\":\"MITRE ATT&CK\",\"technique\":"
                        "{\"id\":[\"T1190\",\"T1059.001\"]}}");
    CHECK_CONTAINS(buf, "\"tags\":[\"attack.initial_access\",\"attack.t1190\"");
    CHECK_CONTAINS(buf, "\"source\":{\"ip\":\"203.0.113.5\"}");
    CHECK_CONTAINS(buf, "\"http\":{\"request\":{\"method\":\"GET\",\"referrer\":"
                        "\"http://evil.example/\"},\"response\":{\"status_code\":404,"
                        "\"bytes\":196},\"version\":\"1.1\"}");
    CHECK_CONTAINS(buf, "\"url\":{\"original\":\"/cgi-bin/x.php?cmd=id\",\"path\":"
                        "\"/cgi-bin/x.php\",\"query\":\"cmd=id\",\"domain\":"
                        "\"www.example.com\"}");
    CHECK_CONTAINS(buf, "\"user_agent\":{\"original\":\"curl/8.0\"}");
    CHECK_CONTAINS(buf, "\"host\":{\"name\":\"web1\"}");
    CHECK_CONTAINS(buf, "\"server\":{\"address\":\"www.example.com\",\"ip\":"
                        "\"10.0.0.1\",\"port\":443}");
    CHECK_CONTAINS(buf, "\"iocwatch\":{\"matches\":[{\"field\":\"cs-uri-query\","
                        "\"value\":\"cmd=id\"}]}}");
    /* absent: no cs-bytes, no username, no input provenance */
    CHECK(!strstr(buf, "\"user\":"));
    CHECK(!strstr(buf, "\"input\""));
    CHECK(!strstr(buf, "\"request\":{\"method\":\"GET\",\"referrer\":"
                       "\"http://evil.example/\",\"bytes\""));
    CHECK(!strstr(buf, ":\"\""));       /* no empty-string placeholders */
}

TEST(alert_json_absent_fields_omitted)
{
    iw_event_t ev;
    char evbuf[512], buf[2048];
    iw_request_desc_t d;
    iw_alert_t a;
    size_t n;
    iw_rule_t *r = mk_rule(p, "r1", "t", IW_LEVEL_LOW, NULL);

    memset(&d, 0, sizeof(d));
    d.method = S("POST");
    d.target = S("/a");
    d.sc_bytes = d.cs_bytes = d.time_taken_ms = -1;
    iw_event_init(&ev, evbuf, sizeof(evbuf));
    iw_event_from_request(&ev, &d);
    alert_for(&a, r, &ev, NULL);
    a.host_name = NULL;
    a.ruleset = NULL;
    n = iw_alert_json(&a, buf, sizeof(buf));
    CHECK(iw_test_json_valid(buf, n));
    CHECK_CONTAINS(buf, "\"severity\":21");
    CHECK_CONTAINS(buf, "\"http\":{\"request\":{\"method\":\"POST\"}}");
    CHECK_CONTAINS(buf, "\"url\":{\"original\":\"/a\",\"path\":\"/a\"}");
    CHECK(!strstr(buf, "\"tags\""));
    CHECK(!strstr(buf, "\"threat\""));
    CHECK(!strstr(buf, "\"source\""));
    CHECK(!strstr(buf, "\"user_agent\""));
    CHECK(!strstr(buf, "\"server\""));
    CHECK(!strstr(buf, "\"host\""));
    CHECK(!strstr(buf, "\"iocwatch\":{"));  /* nothing to say: dropped */
    CHECK(!strstr(buf, "{}"));
}

TEST(alert_json_error_event)
{
    iw_event_t ev;
    char evbuf[512], buf[4096];
    iw_error_desc_t d;
    iw_alert_t a;
    size_t n;
    static const char msg[] = "client denied\r\nFAKE: line\0after \"q\" \x01\x7f";
    iw_rule_t *r = mk_rule(p, "err-1", "Apache denied", IW_LEVEL_MEDIUM, NULL);

    memset(&d, 0, sizeof(d));
    d.message = (iw_str_t){ msg, sizeof(msg) - 1 };
    d.level = S("error");
    d.module = S("authz_core");
    d.client_ip = S("2001:db8::7");
    d.ah_code = 1630;
    d.pid = 4242;
    d.time = t_fixed();
    iw_event_init(&ev, evbuf, sizeof(evbuf));
    iw_event_from_error(&ev, &d);
    alert_for(&a, r, &ev, NULL);
    n = iw_alert_json(&a, buf, sizeof(buf));
    CHECK(iw_test_json_valid(buf, n));
    CHECK_CONTAINS(buf, "\"log\":{\"level\":\"medium\"}");
    CHECK_CONTAINS(buf, "\"source\":{\"ip\":\"2001:db8::7\"}");
    /* the entry's text in error.message; message: the one-line summary */
    CHECK_CONTAINS(buf, "\"error\":{\"message\":\"client denied\\u000d\\u000aFAKE: line"
                        "\\u0000after \\\"q\\\" \\u0001\\u007f\"}");
    CHECK_CONTAINS(buf, "\"message\":\"[medium] Apache denied: 2001:db8::7 client denied"
                        "\\u000d\\u000aFAKE: line\\u0000after \\\"q\\\" \\u0001\\u007f\"");
    CHECK_CONTAINS(buf, "\"process\":{\"pid\":4242}");
    CHECK_CONTAINS(buf, "\"iocwatch\":{\"apache\":{\"level\":\"error\",\"module\":"
                        "\"authz_core\",\"ah_code\":\"AH01630\"}}");
    CHECK(!strstr(buf, "\"http\""));
    CHECK(!strstr(buf, "\"server\""));
}

TEST(alert_json_str_escaping)
{
    char buf[256], raw[128];
    size_t pos, i;

    /* every control character and DEL, quotes, backslash */
    for (i = 0; i < 32; i++) raw[i] = (char)i;
    raw[32] = 0x7f; raw[33] = '"'; raw[34] = '\\'; raw[35] = 'z';
    pos = 0;
    iw_json_str(buf, sizeof(buf), &pos, raw, 36, 256);
    CHECK_INT(pos, strlen(buf));
    CHECK(iw_test_json_valid(buf, pos));
    CHECK_INT(pos, 2 + 33 * 6 + 2 + 2 + 1);
    CHECK(!strncmp(buf, "\"\\u0000\\u0001", 13));
    CHECK_CONTAINS(buf, "\\u001f\\u007f\\\"\\\\z\"");

    /* invalid UTF-8: lone continuation, overlong, surrogate, truncated,
     * > U+10FFFF -- each bad byte becomes U+FFFD; valid sequences kept */
    pos = 0;
    iw_json_str(buf, sizeof(buf), &pos, "a\x80" "b\xc0\xaf" "\xed\xa0\x80"
                "\xc3\xa9" "\xe2\x82\xac" "\xf0\x9f\x98\x80" "\xf4\x90\x80\x80" "\xe2\x82",
                23, 256);
    CHECK_STR(buf, "\"a\\ufffdb\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd"
                   "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                   "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");

    /* cut to max bytes of input, on a UTF-8 boundary */
    pos = 0;
    iw_json_str(buf, sizeof(buf), &pos, "ab\xc3\xa9", 4, 3);
    CHECK_STR(buf, "\"ab\"");
    pos = 0;
    iw_json_str(buf, sizeof(buf), &pos, "ab\xc3\xa9", 4, 4);
    CHECK_STR(buf, "\"ab\xc3\xa9\"");

    /* bounded by the buffer: cut but closed; nothing when "" cannot fit */
    pos = 0;
    iw_json_str(buf, 9, &pos, "\n\n\n", 3, 256);
    CHECK_STR(buf, "\"\\u000a\"");
    pos = 0;
    buf[0] = 'x';
    iw_json_str(buf, 2, &pos, "abc", 3, 256);
    CHECK_INT(pos, 0);
    CHECK_INT(buf[0], 0);
}

/* The escaping rules one byte at a time, written from the contract
 * (the writer copies runs of plain bytes at once): quote and backslash
 * escaped, controls and DEL as \u00XX, valid UTF-8 kept whole and never
 * split by max, any other byte U+FFFD; cut (and closed) where the next
 * piece would not leave room for the closing quote. */
static size_t ref_utf8(const unsigned char *s, size_t n)
{
    unsigned c = s[0], need, i, cp;
    if (c < 0x80) return 1;
    if (c < 0xC2 || c > 0xF4) return 0;
    need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n < need) return 0;
    cp = c & (0x7f >> need);
    for (i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10FFFF
        || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return need;
}

static void ref_json_str(char *buf, size_t size, size_t *pos, const unsigned char *s,
                         size_t len, size_t max)
{
    size_t end = size - 1, o = *pos, i = 0, lim = len < max ? len : max;
    if (o + 2 > end) { buf[o] = '\0'; return; }
    buf[o++] = '"';
    while (i < lim) {
        char piece[8];
        size_t in = 1, out;
        unsigned c = s[i];
        if (c == '"' || c == '\\') { piece[0] = '\\'; piece[1] = (char)c; out = 2; }
        else if (c < 0x20 || c == 0x7f) { snprintf(piece, sizeof(piece), "\\u%04x", c); out = 6; }
        else if ((in = ref_utf8(s + i, len - i)) > 0) {
            if (i + in > lim) break;
            memcpy(piece, s + i, in); out = in;
        }
        else { memcpy(piece, "\\ufffd", 6); in = 1; out = 6; }
        if (o + out + 1 > end) break;
        memcpy(buf + o, piece, out);
        o += out;
        i += in;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    *pos = o;
}

/* 20,000 random strings (mostly plain text with specials, UTF-8, broken
 * UTF-8 and long plain runs mixed in) at random max and buffer sizes and
 * offsets: the writer's output equals the reference's byte for byte. */
TEST(alert_json_str_matches_bytewise_reference)
{
    static const char *bits[] = { "\"", "\\", "\n", "\x7f", "\x01", "\xc3\xa9", "\xe2\x82\xac",
                                  "\xf0\x9f\x98\x80", "\xed\xa0\x80", "\xc0\xaf", "\x80",
                                  "\xf4\x90\x80\x80", "\xe2\x82", "abcdefghijklmnop", " ", "~" };
    unsigned seed = 12345, round;
    unsigned char in[200];
    char got[320], want[320];
    int mismatches = 0;

    for (round = 0; round < 20000; round++) {
        size_t n = 0, size, start, gp, wp, max;
        while (n < 150) {
            seed = seed * 1103515245u + 12345u;
            if ((seed >> 16) % 3) {                     /* a plain byte */
                in[n++] = (unsigned char)(0x20 + (seed >> 8) % 95);
                if (in[n - 1] == '"' || in[n - 1] == '\\') in[n - 1] = 'q';
            } else {
                const char *b = bits[(seed >> 20) % (sizeof(bits) / sizeof(bits[0]))];
                size_t bl = strlen(b);
                if (n + bl > sizeof(in)) break;
                memcpy(in + n, b, bl);
                n += bl;
            }
            if ((seed >> 12) % 40 == 0) break;
        }
        seed = seed * 1103515245u + 12345u;
        max = (seed >> 16) % 4 ? n : (seed >> 8) % (n + 1);
        size = 3 + (seed >> 4) % 300;
        start = (seed >> 24) % 4;
        if (start + 1 > size) start = 0;
        memset(got, 'X', sizeof(got));
        memset(want, 'X', sizeof(want));
        gp = wp = start;
        iw_json_str(got, size, &gp, (const char *)in, n, max);
        ref_json_str(want, size, &wp, in, n, max);
        if (gp != wp || memcmp(got + start, want + start, gp - start + 1)) {
            if (!mismatches++)
                fprintf(stderr, "  round %u: n %zu max %zu size %zu:\n  got  %s\n  want %s\n",
                        round, n, max, size, got + start, want + start);
        }
        if (gp < size && got[gp]) mismatches++;           /* NUL-terminated */
    }
    CHECK_INT(mismatches, 0);
}

/* Values of 1 to 20 bytes (those under 16 are tested and copied whole when
 * plain): plain ASCII with each kind of special byte or sequence at each
 * position, and cut by max at each length, equal the reference. */
TEST(alert_json_str_short_values)
{
    static const char *bits[] = { "\"", "\\", "\n", "\x7f", "\x01", "\xc3\xa9", "\xe2\x82\xac",
                                  "\xf0\x9f\x98\x80", "\xc0\xaf", "\x80", "\xe2\x82", "~", " " };
    unsigned char in[32];
    char got[256], want[256];
    size_t n, at, b, max, i;
    int mismatches = 0;

    for (n = 1; n <= 20; n++)
        for (b = 0; b < sizeof(bits) / sizeof(bits[0]); b++)
            for (at = 0; at < n; at++) {
                size_t bl = strlen(bits[b]);
                for (i = 0; i < sizeof(in); i++) in[i] = (unsigned char)('a' + (i * 7) % 26);
                memcpy(in + at, bits[b], bl);
                for (max = n; max + 3 > n && max > 0; max--) {
                    size_t gp = 0, wp = 0, len = at + bl > n ? at + bl : n;
                    iw_json_str(got, sizeof(got), &gp, (const char *)in, len, max);
                    ref_json_str(want, sizeof(want), &wp, in, len, max);
                    if ((gp != wp || memcmp(got, want, gp + 1)) && !mismatches++)
                        fprintf(stderr, "  n %zu at %zu bit %zu max %zu:\n  got  %s\n  want %s\n",
                                n, at, b, max, got, want);
                }
            }
    CHECK_INT(mismatches, 0);
}

/* An alert full of hostile values: at every buffer size the output is valid
 * JSON shorter than the buffer, and with rule.id whenever that can fit. */
TEST(alert_json_truncation_every_size)
{
    fx_t f;
    iw_alert_t a;
    iw_hit_t hit;
    char ua[600], big[20000], small[20000];
    size_t full, size, i;
    int bad = 0, noid = 0;
    iw_rule_t *r = mk_rule(p, "trunc-rule", "Truncation \xe2\x82\xac test",
                           IW_LEVEL_CRITICAL, "attack.t1190 attack.t1505.003");

    for (i = 0; i < sizeof(ua) - 1; i++) ua[i] = (i % 3 == 0) ? '\n' : (i % 3 == 1) ? '"' : '\xe9';
    ua[sizeof(ua) - 1] = '\0';
    fx_request(&f, "/x?q=%00%0d%0a\"", ua);
    memset(&hit, 0, sizeof(hit));
    hit.rule = r;
    hit.nmatches = 2;
    hit.matches[0].field = IW_F_CS_USER_AGENT;
    hit.matches[0].value = S(ua);
    hit.matches[1].field = IW_F_CS_URI_QUERY;
    hit.matches[1].value = S("q=%00");
    alert_for(&a, r, &f.ev, &hit);
    full = iw_alert_json(&a, big, sizeof(big));
    REQUIRE(iw_test_json_valid(big, full));
    /* excerpts are cut to IW_ALERT_EXCERPT_MAX input bytes */
    CHECK(full < 2 * 6 * IW_ALERT_EXCERPT_MAX + 1500);
    for (size = 0; size <= full + 1; size++) {
        size_t n;
        memset(small, 'Z', sizeof(small));
        n = iw_alert_json(&a, small, size);
        if (size == 0) { CHECK_INT(n, 0); continue; }
        if (n >= size || small[n] != '\0' || small[size] != 'Z') { bad++; continue; }
        if (size >= 3 && !iw_test_json_valid(small, n)) {
            if (!bad) fprintf(stderr, "  size %zu: %s\n", size, small);
            bad++;
        }
        if (size >= 29 && strncmp(small, "{\"rule\":{\"id\":\"trunc-rule\"", 26)) noid++;
    }
    CHECK_INT(bad, 0);
    CHECK_INT(noid, 0);
    CHECK_INT(iw_alert_json(&a, small, full + 1), full);
    /* important parts win over tags when space is short */
    {
        size_t n = iw_alert_json(&a, small, full - 20);
        CHECK(iw_test_json_valid(small, n));
        CHECK(!strstr(small, "\"tags\""));
        CHECK_CONTAINS(small, "\"threat\"");
        CHECK_CONTAINS(small, "\"field\":\"cs-user-agent\"");
    }
}

TEST(alert_json_correlation)
{
    fx_t f;
    iw_alert_t a;
    iw_corr_alert_t c;
    char buf[4096];
    size_t n;
    iw_rule_t *r = mk_rule(p, "corr-1", "Scanner burst", IW_LEVEL_HIGH, NULL);

    r->kind = IW_RULE_CORRELATION;
    fx_request(&f, "/", "x");
    memset(&c, 0, sizeof(c));
    c.rule = r;
    c.type = IW_CORR_EVENT_COUNT;
    strcpy(c.group, "c-ip=203.0.113.5,s-sitename=a,b=c,cs-host=h");
    c.count = 12;
    c.window = apr_time_from_sec(300);
    c.first_seen = t_fixed() - apr_time_from_sec(60);
    c.last_seen = t_fixed();
    alert_for(&a, r, &f.ev, NULL);
    a.corr = &c;
    a.suppressed = 3;
    n = iw_alert_json(&a, buf, sizeof(buf));
    CHECK(iw_test_json_valid(buf, n));
    CHECK_CONTAINS(buf, "\"iocwatch\":{\"correlation\":{\"type\":\"event_count\","
                        "\"group\":{\"c-ip\":\"203.0.113.5\",\"s-sitename\":\"a\","
                        "\"b\":\"c\",\"cs-host\":\"h\"},\"count\":12,\"window_s\":300,"
                        "\"first_seen\":\"2026-11-27T17:59:00.123Z\","
                        "\"last_seen\":\"2026-11-27T18:00:00.123Z\"},\"suppressed\":3}");
    CHECK_CONTAINS(buf, "\"message\":\"[high] Scanner burst: c-ip=203.0.113.5,s-sitename=a,"
                        "b=c,cs-host=h: 12 events in 300 s (3 more held back)\"");
    c.type = IW_CORR_TEMPORAL_ORDERED;
    strcpy(c.group, "no key here");
    c.window = 1500000;
    n = iw_alert_json(&a, buf, sizeof(buf));
    CHECK(iw_test_json_valid(buf, n));
    CHECK_CONTAINS(buf, "\"type\":\"temporal_ordered\",\"group\":\"no key here\"");
    CHECK_CONTAINS(buf, "\"window_s\":1.500");
}

TEST(alert_json_summary_and_input)
{
    fx_t f;
    iw_alert_t a;
    iw_hit_t hits[3];
    char buf[4096];
    size_t n;
    iw_rule_t *r1 = mk_rule(p, "s1", "One", IW_LEVEL_HIGH, NULL);
    iw_rule_t *r2 = mk_rule(p, "s2", "Two", IW_LEVEL_LOW, NULL);
    iw_rule_t *r3 = mk_rule(p, "s3", "Feeds only", IW_LEVEL_LOW, NULL);

    r3->generate = 0;
    fx_request(&f, "/", "x");
    f.ev.input_line = 77;
    f.ev.input_id = "req-\"9\"";
    memset(hits, 0, sizeof(hits));
    hits[0].rule = r1; hits[1].rule = r3; hits[2].rule = r2;
    alert_for(&a, r1, &f.ev, &hits[0]);
    a.all_hits = hits;
    a.nall_hits = 3;
    a.with_input = 1;
    n = iw_alert_json(&a, buf, sizeof(buf));
    CHECK(iw_test_json_valid(buf, n));
    CHECK_CONTAINS(buf, "\"rules\":[{\"id\":\"s1\",\"name\":\"One\",\"level\":\"high\"},"
                        "{\"id\":\"s2\",\"name\":\"Two\",\"level\":\"low\"}]");
    CHECK_CONTAINS(buf, "\"input\":{\"line\":77,\"id\":\"req-\\\"9\\\"\"}");
    /* the generating rules other than the first are counted on the line */
    CHECK_CONTAINS(buf, "\"message\":\"[high] One (+1 more rules): 203.0.113.5 GET / -> 404\"");
}

/* The message line stays short whatever the request: each part is cut (an
 * ellipsis marks it) and the whole stays under ~600 bytes of JSON. */
TEST(alert_json_message_bounded)
{
    fx_t f;
    iw_alert_t a;
    iw_hit_t hit;
    char buf[16384], target[4096], title[400];
    const char *m, *e;
    size_t n;
    iw_rule_t *r;

    memset(title, 'T', sizeof(title) - 1);
    title[sizeof(title) - 1] = '\0';
    r = mk_rule(p, "long-1", title, IW_LEVEL_CRITICAL, NULL);
    target[0] = '/';
    memset(target + 1, 'a', sizeof(target) - 2);
    target[sizeof(target) - 1] = '\0';
    fx_request(&f, target, "x");
    one_match(&hit, r, IW_F_CS_URI, target);
    alert_for(&a, r, &f.ev, &hit);
    n = iw_alert_json(&a, buf, sizeof(buf));
    CHECK(iw_test_json_valid(buf, n));
    m = strstr(buf, "\"message\":\"[critical] TTTT");
    CHECK(m != NULL);
    if (!m) return;
    e = strstr(m, "\",\"event\":");
    CHECK(e != NULL && e - m < 600);
    CHECK_CONTAINS(buf, "TTT...: 203.0.113.5 GET /aaa");
    CHECK_CONTAINS(buf, "aaa... -> 404; matched cs-uri \\\"/aaa");
}

TEST(alert_syslog_frames)
{
    char out[1024];
    const char *msg = "{\"rule\":{\"id\":\"x\"}}";
    size_t n;
    int pri, dd, hh, mm, ss, pid;
    char mon[4], host[64], rest[256];
    apr_time_exp_t lt;

    CHECK_INT(iw_facility_parse("local0"), 16);
    CHECK_INT(iw_facility_parse("LOCAL7"), 23);
    CHECK_INT(iw_facility_parse("security"), 4);
    CHECK_INT(iw_facility_parse("authpriv"), 10);
    CHECK_INT(iw_facility_parse("daemon"), 3);
    CHECK_INT(iw_facility_parse("local8"), -1);
    CHECK_INT(iw_facility_parse(NULL), -1);
    CHECK_INT(iw_level_to_severity(IW_LEVEL_CRITICAL), 2);
    CHECK_INT(iw_level_to_severity(IW_LEVEL_INFORMATIONAL), 6);

    n = iw_syslog_frame(out, sizeof(out), IW_FORMAT_RFC5424, 16, IW_LEVEL_HIGH,
                        t_fixed(), "web1", "iocwatch", 1234, msg, strlen(msg));
    CHECK_INT(n, strlen(out));
    CHECK_STR(out, "<131>1 2026-11-27T18:00:00.123Z web1 iocwatch 1234 - - "
                   "{\"rule\":{\"id\":\"x\"}}");
    n = iw_syslog_frame(out, sizeof(out), IW_FORMAT_RFC5424, 4, IW_LEVEL_CRITICAL,
                        t_fixed(), NULL, "io cw", 0, msg, strlen(msg));
    CHECK_STR(out, "<34>1 2026-11-27T18:00:00.123Z - io_cw - - - {\"rule\":{\"id\":\"x\"}}");

    /* RFC 3164 with a hostname (remote) and without (local socket) */
    apr_time_exp_lt(&lt, t_fixed());
    n = iw_syslog_frame(out, sizeof(out), IW_FORMAT_RFC3164, 23, IW_LEVEL_MEDIUM,
                        t_fixed(), "web1", "iocwatch", 99, msg, strlen(msg));
    CHECK_INT(sscanf(out, "<%d>%3s %d %d:%d:%d %63s iocwatch[%d]: %255s", &pri, mon,
                     &dd, &hh, &mm, &ss, host, &pid, rest), 9);
    CHECK_INT(pri, 23 * 8 + 4);
    CHECK_STR(mon, "Nov");
    CHECK_INT(dd, lt.tm_mday);
    CHECK_INT(hh, lt.tm_hour);
    CHECK_INT(mm, 0);
    CHECK_STR(host, "web1");
    CHECK_INT(pid, 99);
    CHECK_STR(rest, msg);
    CHECK(out[5] == 'N' && out[8] == ' ' && out[11] == ' ');  /* "Nov 27 " */
    n = iw_syslog_frame(out, sizeof(out), IW_FORMAT_RFC3164, 16, IW_LEVEL_LOW,
                        t_fixed(), NULL, "iocwatch", 7, msg, strlen(msg));
    CHECK(!strncmp(out, "<133>Nov ", 9));
    CHECK(!strncmp(out + 20, " iocwatch[7]: {", 15));
    CHECK_INT(n, 20 + 14 + strlen(msg));

    n = iw_syslog_frame(out, sizeof(out), IW_FORMAT_JSON, 16, IW_LEVEL_LOW,
                        t_fixed(), "h", "iocwatch", 7, msg, strlen(msg));
    CHECK_STR(out, msg);
    /* bounded: cut to the buffer, NUL-terminated */
    n = iw_syslog_frame(out, 10, IW_FORMAT_RFC5424, 16, IW_LEVEL_LOW,
                        t_fixed(), "h", "iocwatch", 7, msg, strlen(msg));
    CHECK_INT(n, 9);
    CHECK_STR(out, "<133>1 20");
}

TEST(alert_json_unknown_time_omitted)
{
    iw_alert_t a;
    char buf[1024];
    size_t n;
    iw_rule_t *r = mk_rule(p, "t0", "No time", IW_LEVEL_INFORMATIONAL, NULL);

    alert_for(&a, r, NULL, NULL);
    a.now = 0;
    n = iw_alert_json(&a, buf, sizeof(buf));
    CHECK(iw_test_json_valid(buf, n));
    CHECK(!strstr(buf, "@timestamp"));
    CHECK_STR(buf, "{\"rule\":{\"id\":\"t0\",\"name\":\"No time\",\"ruleset\":\"sigma\"},"
                   "\"message\":\"[informational] No time\","
                   "\"event\":{\"kind\":\"alert\",\"severity\":1,\"module\":\"iocwatch\","
                   "\"dataset\":\"iocwatch.alert\"},\"log\":{\"level\":\"informational\"},"
                   "\"host\":{\"name\":\"web1\"}}");
}

/* A summary alert never drops rule ids silently: whole entries while they
 * fit, then iocwatch.rules_omitted (+ rules_total), also reported to the
 * caller; at every buffer size the JSON is valid and listed + omitted is
 * the number of matching rules. */
TEST(alert_json_summary_says_how_many_more)
{
    fx_t f;
    iw_alert_t a;
    iw_hit_t hits[40];
    iw_alert_info_t info;
    char *buf = malloc(8193);
    size_t n, size;
    int i;

    REQUIRE(buf);
    fx_request(&f, "/?q=union+select", "sqlmap/1.7");
    memset(hits, 0, sizeof(hits));
    for (i = 0; i < 40; i++) {
        char *title = apr_psprintf(p, "Rule %02d: a long descriptive title of a web attack "
                                   "class, as SigmaHQ rules have them (%s)", i,
                                   "x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x");
        hits[i].rule = mk_rule(p, apr_psprintf(p, "5e000000-0000-4000-8000-0000000000%02d", i),
                               title, IW_LEVEL_HIGH, "attack.t1190");
    }
    alert_for(&a, hits[0].rule, &f.ev, &hits[0]);
    a.all_hits = hits;
    a.nall_hits = 40;
    n = iw_alert_json_info(&a, buf, 8193, &info);
    CHECK(iw_test_json_valid(buf, n));
    CHECK(info.rules_omitted > 0 && info.rules_omitted < 40);
    CHECK_CONTAINS(buf, apr_psprintf(p, "\"rules_omitted\":%d,\"rules_total\":40",
                                     info.rules_omitted));
    {
        int listed = 0;
        const char *q = strstr(buf, "\"rules\":[") ? strstr(buf, "\"rules\":[") : "";
        while ((q = strstr(q, "\"id\":\"5e000000-")) != NULL) { listed++; q++; }
        CHECK_INT(listed + info.rules_omitted, 40);
    }
    /* all fit: no omitted count */
    a.nall_hits = 3;
    n = iw_alert_json_info(&a, buf, 8193, &info);
    CHECK_INT(info.rules_omitted, 0);
    CHECK(strstr(buf, "rules_omitted") == NULL);
    /* every size: valid JSON, nothing silently lost once the list appears */
    a.nall_hits = 40;
    for (size = 3; size <= 8193; size += 37) {
        int listed = 0;
        const char *q;
        n = iw_alert_json_info(&a, buf, size, &info);
        q = strstr(buf, "\"rules\":[") ? strstr(buf, "\"rules\":[") : "";
        CHECK(iw_test_json_valid(buf, n));
        while ((q = strstr(q, "\"id\":\"5e000000-")) != NULL) { listed++; q++; }
        if (strstr(buf, "\"rules\":[") || strstr(buf, "rules_omitted"))
            CHECK_INT(listed + info.rules_omitted, 40);
    }
    free(buf);
}

/* Keys written with one room check give the same bytes as the piecewise
 * writer at every buffer size (the truncation alert: rollbacks, the lite
 * retry, cuts inside keys). */
TEST(alert_json_fast_keys_same_at_every_size)
{
    fx_t f;
    iw_alert_t a;
    iw_hit_t hit;
    static char ua[300], x[8000], y[8000];
    size_t full, size, i;
    int diff = 0;
    iw_rule_t *r = mk_rule(p, "keys-rule", "Keys \xe2\x82\xac test",
                           IW_LEVEL_HIGH, "attack.t1190 attack.t1505.003");

    for (i = 0; i < sizeof(ua) - 1; i++) ua[i] = (char)(i % 7 == 0 ? '"' : 'a' + i % 26);
    fx_request(&f, "/x?q=%00%0d%0a\"", ua);
    memset(&hit, 0, sizeof(hit));
    hit.rule = r;
    hit.nmatches = 2;
    hit.matches[0].field = IW_F_CS_USER_AGENT;
    hit.matches[0].value = S(ua);
    hit.matches[1].field = IW_F_CS_URI_QUERY;
    hit.matches[1].value = S("q=%00");
    alert_for(&a, r, &f.ev, &hit);
    full = iw_alert_json(&a, x, sizeof(x));
    for (size = 0; size <= full + 2; size++) {
        size_t n1, n2;
        memset(x, 'Z', sizeof(x));
        memset(y, 'Z', sizeof(y));
        n1 = iw_alert_json(&a, x, size);
        iw_alert_fast_keys = 0;
        n2 = iw_alert_json(&a, y, size);
        iw_alert_fast_keys = 1;
        if ((n1 != n2 || memcmp(x, y, size + 1)) && diff++ < 3)
            fprintf(stderr, "  size %zu differs:\n  %s\n  %s\n", size, x, y);
    }
    CHECK_INT(diff, 0);
}

/* source.ip for literal addresses, source.address for anything else, at
 * every length the 16-byte test takes (8 to 16) and around it. */
TEST(alert_json_client_ip_or_address)
{
    static const struct { const char *c; int ip; } cases[] = {
        { "1.2.3.4", 1 }, { "1.2.3.44", 1 }, { "127.0.0.1", 1 }, { "203.0.113.55", 1 },
        { "1111.2222.3333.4", 1 }, { "1.2.3.4:80", 1 }, { "::1", 1 }, { "2001:db8::1", 1 },
        { "fe80::aBcD:1", 1 }, { "1.2.3.4.5", 0 }, { "1.2.3", 0 }, { "abcdefab", 0 },
        { "12345678.", 0 }, { "a.b.c.dzzz", 0 }, { "1.2.3.4 ", 0 }, { "1.2.3.\xc3\xa9", 0 },
        { "1.2.3.4567890123", 1 }, { "1.2.3.45678901234", 1 }, { "1:2.3.4", 0 },
        { "host.example.org", 0 }, { "2001:db8:0:0:0:0:0:1", 1 }, { "1.2.3.4\x0e", 0 }
    };
    fx_t f;
    iw_alert_t a;
    char buf[8192];
    size_t k;
    iw_rule_t *r = mk_rule(p, "ip-rule", "Ip", IW_LEVEL_LOW, NULL);

    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        fx_request(&f, "/", "x");
        f.d.client_ip = S(cases[k].c);
        iw_event_init(&f.ev, f.evbuf, sizeof(f.evbuf));
        iw_event_from_request(&f.ev, &f.d);
        alert_for(&a, r, &f.ev, NULL);
        iw_alert_json(&a, buf, sizeof(buf));
        if (!strstr(buf, cases[k].ip ? "\"source\":{\"ip\":" : "\"source\":{\"address\":"))
            fprintf(stderr, "  %s: %s\n", cases[k].c, buf);
        CHECK(strstr(buf, cases[k].ip ? "\"source\":{\"ip\":" : "\"source\":{\"address\":") != NULL);
    }
}

/* The request's members and the iocwatch object written in a row
 * (iw_alert__direct_members, r_iocwatch_direct) give the
 * writer's bytes (iw_alert_roomy = 0) at every buffer size: three
 * matches (the first value on the message line, one past its 80 bytes,
 * one with quotes), the CLI's input, a user name and a client that is
 * not an address; and an event without the optional fields (empty
 * objects taken back). */
TEST(alert_json_direct_same_at_every_size)
{
    fx_t f;
    iw_alert_t a;
    iw_hit_t hit;
    static char x[8000], y[8000], val[120];
    size_t full, size;
    int k, diff = 0;
    iw_rule_t *r = mk_rule(p, "direct-rule", "Direct \xe2\x82\xac", IW_LEVEL_HIGH, "attack.t1190");

    memset(val, 'v', sizeof(val) - 1);
    for (k = 0; k < 3; k++) {
        fx_request(&f, k == 1 ? "/plain" : "/a%20b?q=\"x\"&y=\xc3\xa9", "agent \"007\"");
        if (k == 2) {       /* server.ip copies server.address; a method the line cuts */
            f.d.sitename = IW_STR_NULL;
            f.d.method = S("M\"ETHOD-LONGER-THAN-16");
        } else if (k == 0) {
            f.d.username = S("alice");
            f.d.request_id = S("rid-1");
            f.d.client_ip = S("client.example");
            f.d.cs_bytes = 321;
        } else {
            f.d.nhdrs = 0;
            f.d.status = 0;
            f.d.sc_bytes = -1;
            f.d.server_ip = IW_STR_NULL;
            f.d.sitename = IW_STR_NULL;
            f.d.server_port = 0;
        }
        iw_event_init(&f.ev, f.evbuf, sizeof(f.evbuf));
        iw_event_from_request(&f.ev, &f.d);
        f.ev.input_line = 12;
        f.ev.input_id = "id \"3\"";
        memset(&hit, 0, sizeof(hit));
        hit.rule = r;
        hit.nmatches = 3;
        hit.matches[0].field = IW_F_CS_USER_AGENT;
        hit.matches[0].value = S("agent \"007\"");
        hit.matches[1].field = IW_F_CS_URI_QUERY;
        hit.matches[1].value = S(val);
        hit.matches[2].field = IW_F_CS_URI;
        hit.matches[2].value = S("/a%20b?q=\"x\"");
        alert_for(&a, r, &f.ev, &hit);
        a.with_input = 1;
        full = iw_alert_json(&a, x, sizeof(x));
        CHECK(iw_test_json_valid(x, full));
        /* up to the whole buffer: the direct paths need their worst case */
        for (size = 0; size < sizeof(x); size++) {
            size_t n1, n2;
            memset(x, 'Z', sizeof(x));
            memset(y, 'Z', sizeof(y));
            n1 = iw_alert_json(&a, x, size);
            iw_alert_roomy = iw_alert_evsec = 0;
            n2 = iw_alert_json(&a, y, size);
            iw_alert_roomy = iw_alert_evsec = 1;
            if ((n1 != n2 || memcmp(x, y, size + 1)) && diff++ < 3)
                fprintf(stderr, "  event %d size %zu differs:\n  %s\n  %s\n", k, size, x, y);
        }
    }
    CHECK_INT(diff, 0);
}

/* url.domain is the Host header without its port: one colon is a port's,
 * more are a bare IPv6 address's, [IPv6]:port gives what is in brackets. */
TEST(alert_json_domain_without_port)
{
    static const char *const in[][2] = {
        { "h", "h" }, { "h:80", "h" }, { "h:", "h" }, { ":80", "" },
        { "[::1]:80", "::1" }, { "[::1]", "::1" }, { "[::1", "[::1" },
        { "::1", "::1" }, { "2001:db8::1", "2001:db8::1" }, { "a:b:c", "a:b:c" },
    };
    static char x[8192], want[64];
    fx_t f;
    iw_alert_t a;
    size_t i;
    iw_rule_t *r = mk_rule(p, "dom-rule", "Domain", IW_LEVEL_LOW, NULL);

    for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        fx_request(&f, "/", "ua");
        f.hv[0] = S(in[i][0]);
        iw_event_init(&f.ev, f.evbuf, sizeof(f.evbuf));
        iw_event_from_request(&f.ev, &f.d);
        alert_for(&a, r, &f.ev, NULL);
        iw_alert_json(&a, x, sizeof(x));
        snprintf(want, sizeof(want), "\"domain\":\"%s\"}", in[i][1]);
        CHECK_CONTAINS(x, want);
    }
}

/* "host" and "server" of a request are copied from the thread's last ones
 * when their inputs are the same (host.name, s-sitename, s-ip, s-port):
 * the bytes rendering writes, for requests whose server inputs repeat,
 * change one at a time (an escaped site name, no site name, no port, no
 * host name) and come back. */
TEST(alert_json_server_kept_same_as_rendering)
{
    static const char *const sites[] = { "www.example.com", "www.example.com", NULL, NULL,
                                         "a\"b\xc3\xa9", "www.example.com", "www.example.com" };
    static const char *const sips[] = { "10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2", NULL,
                                        "10.0.0.1", "10.0.0.1" };
    static const int ports[] = { 443, 443, 443, 443, 0, 80, 443 };
    static const char *const hosts[] = { "web1", "web1", "web1", NULL, "web\"2", "web1", "web1" };
    static char x[8192], y[8192];
    fx_t f;
    iw_alert_t a;
    iw_hit_t hit;
    size_t n1, n2;
    int k, rep, diff = 0;
    iw_rule_t *r = mk_rule(p, "srv-rule", "Server kept", IW_LEVEL_HIGH, NULL);

    for (rep = 0; rep < 2; rep++)
        for (k = 0; k < 7; k++) {
            fx_request(&f, "/x?y=1", "ua");
            f.d.sitename = sites[k] ? S(sites[k]) : IW_STR_NULL;
            f.d.server_ip = sips[k] ? S(sips[k]) : IW_STR_NULL;
            f.d.server_port = ports[k];
            iw_event_init(&f.ev, f.evbuf, sizeof(f.evbuf));
            iw_event_from_request(&f.ev, &f.d);
            one_match(&hit, r, IW_F_CS_URI_QUERY, "y=1");
            alert_for(&a, r, &f.ev, &hit);
            a.host_name = hosts[k];
            n1 = iw_alert_json(&a, x, sizeof(x));
            CHECK(iw_test_json_valid(x, n1));
            if (k == 1)
                CHECK_CONTAINS(x, ",\"host\":{\"name\":\"web1\"},\"server\":{\"address\":"
                                  "\"www.example.com\",\"ip\":\"10.0.0.1\",\"port\":443}");
            iw_alert_evsec = 0;         /* the reference: rendered */
            n2 = iw_alert_json(&a, y, sizeof(y));
            iw_alert_evsec = 1;
            if ((n1 != n2 || memcmp(x, y, n1 + 1)) && diff++ < 3)
                fprintf(stderr, "  request %d differs:\n  %s\n  %s\n", k, x, y);
        }
    CHECK_INT(diff, 0);
}

/* The rule's sections prepared once (iw_alert_prepare_rule) give the same
 * bytes as rendering them every time: at every buffer size (a section that
 * does not fit whole, the lite retry), for rules with and without tags,
 * threat, description and reference, each alert rendered twice; an alert
 * with another ruleset than the one prepared is rendered anew, and so is a
 * rule prepared again after its text changed. */
TEST(alert_json_rule_frag_same_as_rendering)
{
    fx_t f;
    iw_alert_t a;
    iw_hit_t hit;
    static char x[8000], y[8000];
    static char desc[300];
    iw_rule_t *rules[5];
    size_t full, size;
    int k, rep, diff = 0;

    rules[0] = mk_rule(p, "memo-1", "Memo \xe2\x82\xac \"one\"", IW_LEVEL_HIGH,
                       "attack.t1190 attack.t1505.003 attack.initial-access");
    rules[1] = mk_rule(p, "memo-2", "Memo two", IW_LEVEL_LOW, NULL);
    rules[2] = mk_rule(p, "memo-3", NULL, IW_LEVEL_CRITICAL, "attack.t1059");
    rules[3] = mk_rule(p, "memo-4", "Memo four", IW_LEVEL_MEDIUM, "x.y");
    /* nothing in "rule" without a ruleset: opened and taken back */
    rules[4] = mk_rule(p, NULL, NULL, IW_LEVEL_LOW, "attack.t1190");
    rules[0]->description = "line one\nline \"two\"\n";
    rules[0]->references = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(rules[0]->references, const char *) = "https://example.org/a?b=\"c\"";
    strcpy(desc, "first text");
    rules[3]->description = desc;
    fx_request(&f, "/x?q=%00\"", "agent \"007\"");
    for (k = 0; k < 5; k++) {
        iw_alert_prepare_rule(p, rules[k], k < 4 ? "sigma" : NULL);
        REQUIRE(rules[k]->alert_frag != NULL);
        one_match(&hit, rules[k], IW_F_CS_USER_AGENT, "agent \"007\"");
        alert_for(&a, rules[k], &f.ev, &hit);
        if (k == 4) a.ruleset = NULL;
        iw_alert_frags = 0;
        full = iw_alert_json(&a, y, sizeof(y));
        iw_alert_frags = 1;
        for (size = full + 2; size-- > 0; ) {
            for (rep = 0; rep < 2; rep++) {
                size_t n1, n2;
                memset(x, 'Z', sizeof(x));
                memset(y, 'Z', sizeof(y));
                n1 = iw_alert_json(&a, x, size);
                iw_alert_frags = 0;
                n2 = iw_alert_json(&a, y, size);
                iw_alert_frags = 1;
                if ((n1 != n2 || memcmp(x, y, size + 1)) && diff++ < 3)
                    fprintf(stderr, "  rule %d size %zu rep %d:\n  %s\n  %s\n", k, size, rep, x, y);
            }
        }
    }
    CHECK_INT(diff, 0);
    /* another ruleset than prepared: rendered anew */
    alert_for(&a, rules[3], &f.ev, &hit);
    hit.rule = rules[3];
    a.ruleset = "other";
    iw_alert_json(&a, x, sizeof(x));
    CHECK_CONTAINS(x, "\"ruleset\":\"other\"");
    a.ruleset = "sigma";
    /* prepared again after the text changed */
    strcpy(desc, "second text, longer");
    APR_ARRAY_IDX(rules[3]->tags, 0, const char *) = "attack.t1595";
    iw_alert_prepare_rule(p, rules[3], "sigma");
    iw_alert_json(&a, x, sizeof(x));
    CHECK_CONTAINS(x, "\"description\":\"second text, longer\"");
    CHECK_CONTAINS(x, "\"tags\":[\"attack.t1595\"]");
    CHECK_CONTAINS(x, "\"id\":[\"T1595\"]");
    CHECK_CONTAINS(x, "\"message\":\"[medium] Memo four: ");
}

/* iw_alert_iso_time keeps the date and time of its last second: the text
 * must be what gmtime_r gives for every instant, inside a second, across
 * second, day and year boundaries, and back in time. */
TEST(alert_iso_time_kept_second)
{
    static const apr_time_t base[] = { APR_INT64_C(1767225599000000),   /* 2025-12-31T23:59:59 */
                                       APR_INT64_C(1700000000123456), APR_INT64_C(0),
                                       APR_INT64_C(1767225599000000) };
    size_t b;
    int k;
    for (b = 0; b < sizeof(base) / sizeof(base[0]); b++)
        for (k = 0; k < 40; k++) {
            apr_time_t t = base[b] + (apr_time_t)k * 77777;
            time_t sec = (time_t)(t / APR_USEC_PER_SEC);
            struct tm tm;
            char want[40], got[40];
            gmtime_r(&sec, &tm);
            strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
            snprintf(want + 19, sizeof(want) - 19, ".%03dZ", (int)(t % APR_USEC_PER_SEC / 1000));
            iw_alert_iso_time(got, sizeof(got), t);
            CHECK_STR(got, want);
        }
}
