/* SPDX-License-Identifier: Apache-2.0 */
/* Alerts byte for byte: every case below renders alerts and compares them
 * with tests/unit/alerts.golden, one line per rendering ("NAME<TAB>BYTES";
 * alert JSON never holds a raw tab or line break).  The cases cover each
 * kind of alert (detection, error-log entry, correlation, summary,
 * evaluation error), values that need escaping (quotes, backslash, control
 * characters, DEL, valid and broken UTF-8, cuts inside a UTF-8 sequence),
 * absent values, cuts at fixed buffer sizes (rolled-back members, the
 * retry without the low-value parts) and the three syslog framings.  The
 * fixture's storage is static: every case rebuilds the same event at the
 * same addresses, so nothing may be served from what an earlier event or
 * rule left behind; each alert is also rendered twice (the second time
 * from whatever the renderer keeps).
 *
 * After an intended change of the format (a new event field in alerts):
 *   IW_GOLDEN_UPDATE=1 build/unit_tests alert_golden
 * rewrites the file; review its diff.  A new case: a function and a row
 * in `cases`. */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include "iw_test.h"
#include "iw_alert.h"
#include "alert_util.h"

extern int iw_test_json_valid(const char *s, size_t len);

#define GOLDEN_FILE "tests/unit/alerts.golden"
#define OUT_MAX 16384

typedef struct golden {
    apr_pool_t *p;
    apr_hash_t *want;               /* name -> expected bytes */
    FILE *update;                   /* IW_GOLDEN_UPDATE: the new file */
    int *failed;
    int n;
} golden_t;

/* One rendering: compare with the file (or write it). */
static void emit(golden_t *g, const char *name, const char *got, size_t len)
{
    const char *want;
    size_t i;

    g->n++;
    if (memchr(got, '\t', len) || memchr(got, '\n', len) || strlen(got) != len) {
        fprintf(stderr, "  %s: raw tab, line break or NUL in the output\n", name);
        (*g->failed)++;
        return;
    }
    if (g->update) {
        fprintf(g->update, "%s\t%s\n", name, got);
        return;
    }
    want = apr_hash_get(g->want, name, APR_HASH_KEY_STRING);
    if (!want) {
        fprintf(stderr, "  %s: not in %s (IW_GOLDEN_UPDATE=1 adds it)\n", name, GOLDEN_FILE);
        (*g->failed)++;
        return;
    }
    if (strcmp(want, got)) {
        for (i = 0; want[i] && want[i] == got[i]; i++) ;
        fprintf(stderr, "  %s differs at byte %zu:\n  want %s\n  got  %s\n", name, i,
                want + (i > 40 ? i - 40 : 0), got + (i > 40 ? i - 40 : 0));
        (*g->failed)++;
    }
}

static apr_hash_t *load_golden(apr_pool_t *p, const char *path)
{
    apr_hash_t *h = apr_hash_make(p);
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    if (!f) return NULL;
    while ((len = getline(&line, &cap, f)) > 0) {
        char *tab;
        if (line[len - 1] == '\n') line[--len] = '\0';
        if (line[0] == '#' || !(tab = strchr(line, '\t'))) continue;
        *tab = '\0';
        apr_hash_set(h, apr_pstrdup(p, line), APR_HASH_KEY_STRING, apr_pstrdup(p, tab + 1));
    }
    free(line);
    fclose(f);
    return h;
}

/* ---- fixtures: static storage, rebuilt by every case -------------------- */

static apr_time_t t_fixed(void)
{
    apr_time_exp_t x;
    apr_time_t t;
    memset(&x, 0, sizeof(x));
    x.tm_year = 126; x.tm_mon = 10; x.tm_mday = 27; x.tm_hour = 18;
    apr_time_exp_gmt_get(&t, &x);
    return t + 123000;      /* 2026-11-27T18:00:00.123Z */
}

static iw_str_t S(const char *s) { return (iw_str_t){ s, strlen(s) }; }

static struct fixture {
    iw_event_t ev;
    char evbuf[16384];
    iw_str_t hn[8], hv[8];
    iw_request_desc_t d;
    iw_error_desc_t e;
    iw_rule_t rules[48];
    iw_hit_t hits[48];
    char out[OUT_MAX], again[OUT_MAX];
} fx;

static iw_rule_t *rule(apr_pool_t *p, int k, const char *id, const char *title,
                       iw_level_t lvl, const char *tags)
{
    iw_rule_t *r = &fx.rules[k];
    au_fill_rule(p, r, id, title, lvl, tags);
    r->index = k;
    return r;
}

static void refs(apr_pool_t *p, iw_rule_t *r, const char *a, const char *b)
{
    r->references = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(r->references, const char *) = a;
    if (b) APR_ARRAY_PUSH(r->references, const char *) = b;
}

/* A request with the usual headers; the caller changes d before build(). */
static void request(const char *method, const char *target, const char *ua)
{
    memset(&fx.d, 0, sizeof(fx.d));
    fx.hn[0] = S("Host"); fx.hv[0] = S("www.example.com:8080");
    fx.hn[1] = S("User-Agent"); fx.hv[1] = S(ua);
    fx.hn[2] = S("Referer"); fx.hv[2] = S("http://evil.example/a b?c=\"d\"");
    fx.d.method = S(method);
    fx.d.target = S(target);
    fx.d.version = S("HTTP/1.1");
    fx.d.hdr_names = fx.hn; fx.d.hdr_values = fx.hv; fx.d.nhdrs = 3;
    fx.d.status = 404;
    fx.d.sc_bytes = 196; fx.d.cs_bytes = 512; fx.d.time_taken_ms = 3;
    fx.d.client_ip = S("203.0.113.5");
    fx.d.server_ip = S("10.0.0.1");
    fx.d.sitename = S("www.example.com");
    fx.d.username = S("alice");
    fx.d.request_id = S("Zx-3\"q\"");
    fx.d.server_port = 443;
    fx.d.time = t_fixed();
}

static iw_event_t *build(void)
{
    iw_event_init(&fx.ev, fx.evbuf, sizeof(fx.evbuf));
    iw_event_from_request(&fx.ev, &fx.d);
    return &fx.ev;
}

static iw_event_t *build_error(const char *msg, size_t len)
{
    memset(&fx.e, 0, sizeof(fx.e));
    fx.e.message = (iw_str_t){ msg, len };
    fx.e.level = S("error");
    fx.e.module = S("authz_core");
    fx.e.client_ip = S("2001:db8::7");
    fx.e.ah_code = 1630;
    fx.e.pid = 4242;
    fx.e.time = t_fixed();
    iw_event_init(&fx.ev, fx.evbuf, sizeof(fx.evbuf));
    iw_event_from_error(&fx.ev, &fx.e);
    return &fx.ev;
}

static iw_hit_t *hit(int k, const iw_rule_t *r, int n, const int *fields,
                     const char *const *values)
{
    iw_hit_t *h = &fx.hits[k];
    int i;
    memset(h, 0, sizeof(*h));
    h->rule = r;
    h->nmatches = n;
    for (i = 0; i < n; i++) {
        h->matches[i].field = fields[i];
        h->matches[i].value = S(values[i]);
    }
    return h;
}

static void alert_for(iw_alert_t *a, const iw_rule_t *r, iw_event_t *ev, const iw_hit_t *h)
{
    memset(a, 0, sizeof(*a));
    a->rule = r;
    a->ev = ev;
    a->hit = h;
    a->ruleset = "sigma";
    a->host_name = "web1";
    a->now = t_fixed();
}

static void same(golden_t *g, const char *name, const char *how, size_t n1, size_t n2)
{
    if (n1 != n2 || memcmp(fx.out, fx.again, n1 + 1)) {
        fprintf(stderr, "  %s: %s differs:\n  %s\n  %s\n", name, how, fx.out, fx.again);
        (*g->failed)++;
    }
}

/* Render at `size` (0: the whole buffer): with the rule's parts rendered
 * each time and every string escaped with room checks (the reference),
 * then as in production: prepared (iw_alert_prepare_rule), twice;
 * all must be the same valid JSON, and it must match the file. */
static void check(golden_t *g, const char *name, const iw_alert_t *a, size_t size)
{
    size_t n1, n2;
    iw_alert_info_t info;
    if (!size) size = OUT_MAX;
    iw_alert_frags = iw_alert_roomy = iw_alert_evsec = 0;
    n1 = iw_alert_json_info(a, fx.out, size, &info);
    iw_alert_frags = iw_alert_roomy = iw_alert_evsec = 1;
    if (a->rule) iw_alert_prepare_rule(g->p, (iw_rule_t *)(uintptr_t)a->rule, a->ruleset);
    n2 = iw_alert_json(a, fx.again, size);
    same(g, name, "the prepared rendering", n1, n2);
    n2 = iw_alert_json(a, fx.again, size);
    same(g, name, "a second rendering", n1, n2);
    if (size >= 3 && !iw_test_json_valid(fx.out, n1)) {
        fprintf(stderr, "  %s: not valid JSON: %s\n", name, fx.out);
        (*g->failed)++;
    }
    if (info.rules_omitted)
        emit(g, apr_psprintf(g->p, "%s.rules_omitted=%d", name, info.rules_omitted), "", 0);
    emit(g, name, fx.out, n1);
}

/* Values that need escaping, broken UTF-8 included. */
static const char ODD[] = "q=\"x\" \\y\t\x01\x1f\x7f caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"
                          " bad:\xc3( \xff \xed\xa0\x80 \xc0\xaf \xf4\x90\x80\x80 end\xe2\x82";

/* ---- cases ---------------------------------------------------------------- */

static void case_detection(golden_t *g, apr_pool_t *p)
{
    iw_alert_t a;
    static const int f[] = { IW_F_CS_URI_QUERY, IW_F_CS_USER_AGENT };
    const char *v[] = { "cmd=id", ODD };
    iw_rule_t *r = rule(p, 0, "5f8b2d1e-0000-4000-8000-000000000001", "Webshell \"access\" \xe2\x82\xac",
                        IW_LEVEL_HIGH, "attack.initial_access attack.t1190 attack.T1059.001 "
                        "attack.t12 cve.2021-41773 attack.t1505.003");
    r->description = "Detects a \"webshell\"\nsecond line\twith tab \\ and \xc3\xa9.\n";
    refs(p, r, "https://example.org/ref?a=\"b\"", "https://example.org/second");
    request("GET", "/cgi-bin/x.php?cmd=id&u=%00%0d%0a+\"", ODD);
    alert_for(&a, r, build(), hit(0, r, 2, f, v));
    check(g, "detection", &a, 0);
    /* the same request, a second rule without tags, description or title */
    r = rule(p, 1, "r-2", NULL, IW_LEVEL_CRITICAL, NULL);
    r->name = "named_only";
    alert_for(&a, r, &fx.ev, hit(1, r, 1, f, v));
    check(g, "detection.second_rule", &a, 0);
    /* no id: the name stands in */
    r = rule(p, 2, NULL, "No id", IW_LEVEL_INFORMATIONAL, "attack.t1595");
    r->name = "no_id_name";
    alert_for(&a, r, &fx.ev, NULL);
    check(g, "detection.no_id", &a, 0);
}

static void case_minimal(golden_t *g, apr_pool_t *p)
{
    iw_alert_t a;
    iw_rule_t *r = rule(p, 0, "r1", "t", IW_LEVEL_LOW, NULL);

    memset(&fx.d, 0, sizeof(fx.d));
    fx.d.method = S("POST");
    fx.d.target = S("/a");
    fx.d.sc_bytes = fx.d.cs_bytes = fx.d.time_taken_ms = -1;
    alert_for(&a, r, build(), NULL);
    a.host_name = NULL;
    a.ruleset = NULL;
    check(g, "minimal", &a, 0);
    a.host_name = "web2";           /* the same event, another host */
    check(g, "minimal.host", &a, 0);
    a.host_name = NULL;
    a.now = 0;                      /* unknown time: no @timestamp */
    a.ev = NULL;                    /* no event at all */
    check(g, "minimal.no_event", &a, 0);
}

static void case_addresses(golden_t *g, apr_pool_t *p)
{
    iw_alert_t a;
    static const int f[] = { IW_F_CS_HOST };
    const char *v[] = { "[2001:db8::1]:8443" };
    iw_rule_t *r = rule(p, 0, "addr", "Addresses", IW_LEVEL_MEDIUM, "attack.t1190");

    request("OPTIONS", "*", "ua");
    fx.hv[0] = S("[2001:db8::1]:8443");
    fx.d.client_ip = S("client.example");
    fx.d.server_ip = S("2001:db8::2");
    fx.d.sitename = (iw_str_t){ NULL, 0 };
    fx.d.username = S("-");
    fx.d.version = S("HTTP/2.0");
    fx.d.status = 0;
    fx.d.server_port = 0;
    alert_for(&a, r, build(), hit(0, r, 1, f, v));
    check(g, "addresses.ipv6_host", &a, 0);
    request("GET", "/", "ua");
    fx.hv[0] = S("example.org");
    fx.d.client_ip = S("::1");
    fx.d.server_ip = S("not-an-ip");
    fx.d.sitename = (iw_str_t){ NULL, 0 };
    fx.d.version = S("HTTP/1.0");
    alert_for(&a, r, build(), NULL);
    check(g, "addresses.hostname_server", &a, 0);
}

static void case_long(golden_t *g, apr_pool_t *p)
{
    iw_alert_t a;
    static char title[400], target[4096], ua[700];
    static const int f[] = { IW_F_CS_URI, IW_F_CS_USER_AGENT, IW_F_RAW, IW_F_CS_REFERER };
    const char *v[4];
    size_t i;
    iw_rule_t *r;

    /* a 3-byte character across the 120-byte cut of the title, and across
     * the 256-byte cut of every excerpt */
    memset(title, 'T', sizeof(title) - 1);
    memcpy(title + 118, "\xe2\x82\xac", 3);
    r = rule(p, 0, "long-1", title, IW_LEVEL_CRITICAL, NULL);
    target[0] = '/';
    for (i = 1; i < sizeof(target) - 1; i++) target[i] = (char)('a' + i % 26);
    memcpy(target + 158, "\xc3\xa9", 2);
    memcpy(target + 254, "\xe2\x82\xac", 3);
    for (i = 0; i < sizeof(ua) - 1; i++) ua[i] = (i % 3 == 0) ? '\n' : (i % 3 == 1) ? '"' : '\xe9';
    request("GET", target, ua);
    v[0] = target; v[1] = ua; v[2] = "GET / HTTP/1.1 200\r\nX: y\n"; v[3] = "http://r/";
    alert_for(&a, r, build(), hit(0, r, 4, f, v));
    check(g, "long", &a, 0);
}

static void case_error_entry(golden_t *g, apr_pool_t *p)
{
    iw_alert_t a;
    static const char msg[] = "client denied\r\nFAKE: line\0after \"q\" \x01\x7f \xc3\xa9\xff";
    static const int f1[] = { IW_F_MESSAGE }, f2[] = { IW_F_AH_CODE };
    const char *v1[] = { "client denied" }, *v2[] = { "AH01630" };
    iw_rule_t *r = rule(p, 0, "err-1", "Apache denied", IW_LEVEL_MEDIUM, "attack.t1083");

    alert_for(&a, r, build_error(msg, sizeof(msg) - 1), hit(0, r, 1, f1, v1));
    check(g, "error_entry.match_message", &a, 0);
    alert_for(&a, r, &fx.ev, hit(1, r, 1, f2, v2));
    a.suppressed = 7;
    check(g, "error_entry.match_ah_code", &a, 0);
}

static void case_correlation(golden_t *g, apr_pool_t *p)
{
    iw_alert_t a;
    iw_corr_alert_t c;
    iw_rule_t *r = rule(p, 0, "corr-1", "Scanner burst", IW_LEVEL_HIGH, "attack.t1595.002");

    r->kind = IW_RULE_CORRELATION;
    request("GET", "/", "x");
    memset(&c, 0, sizeof(c));
    c.rule = r;
    c.type = IW_CORR_EVENT_COUNT;
    strcpy(c.group, "c-ip=203.0.113.5,s-sitename=a,b=c,cs-host=h\"\xc3\xa9");
    c.count = 12;
    c.window = apr_time_from_sec(300);
    c.first_seen = t_fixed() - apr_time_from_sec(60);
    c.last_seen = t_fixed();
    alert_for(&a, r, build(), NULL);
    a.corr = &c;
    a.suppressed = 3;
    check(g, "correlation.event_count", &a, 0);
    c.type = IW_CORR_TEMPORAL_ORDERED;
    strcpy(c.group, "no key here");
    c.window = 1500000;
    c.first_seen = 0;
    a.suppressed = 0;
    check(g, "correlation.temporal_ordered", &a, 0);
    c.type = IW_CORR_VALUE_COUNT;
    c.group[0] = '\0';
    a.ev = NULL;
    check(g, "correlation.value_count_no_event", &a, 0);
    c.type = IW_CORR_TEMPORAL;
    strcpy(c.group, "c-ip=2001:db8::9");
    check(g, "correlation.temporal", &a, 0);
}

static void case_summary(golden_t *g, apr_pool_t *p)
{
    iw_alert_t a;
    static const int f[] = { IW_F_CS_URI_QUERY };
    const char *v[] = { "q=union+select" };
    iw_rule_t *r1 = rule(p, 0, "s1", "One \"1\"", IW_LEVEL_HIGH, "attack.t1190");
    iw_rule_t *r2 = rule(p, 1, "s2", "Two", IW_LEVEL_LOW, NULL);
    iw_rule_t *r3 = rule(p, 2, "s3", "Feeds only", IW_LEVEL_LOW, NULL);
    int i;

    r3->generate = 0;
    request("GET", "/?q=union+select", "sqlmap/1.7");
    build();
    fx.ev.input_line = 77;
    fx.ev.input_id = "req-\"9\"";
    hit(0, r1, 1, f, v);
    hit(1, r3, 0, NULL, NULL);
    hit(2, r2, 1, f, v);
    alert_for(&a, r1, &fx.ev, &fx.hits[0]);
    a.all_hits = fx.hits;
    a.nall_hits = 3;
    a.with_input = 1;
    check(g, "summary", &a, 0);
    /* 40 rules with long titles: more than fit in an 8 KiB slot */
    for (i = 0; i < 40; i++) {
        char *title = apr_psprintf(p, "Rule %02d: a long descriptive title of a web attack "
                                   "class, as SigmaHQ rules have them (%s)", i,
                                   "x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x");
        hit(i, rule(p, i, apr_psprintf(p, "5e000000-0000-4000-8000-0000000000%02d", i),
                    title, IW_LEVEL_HIGH, "attack.t1190"), 1, f, v);
    }
    alert_for(&a, fx.hits[0].rule, &fx.ev, &fx.hits[0]);
    a.all_hits = fx.hits;
    a.nall_hits = 40;
    check(g, "summary.40_rules_8k", &a, 8193);
}

static void case_eval_error(golden_t *g, apr_pool_t *p)
{
    iw_alert_t a;
    iw_eval_error_t er;
    iw_rule_t *r = rule(p, 0, "bt", "Backtracking", IW_LEVEL_HIGH, "attack.t1190");

    request("GET", "/x?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"b", "x");
    memset(&er, 0, sizeof(er));
    er.rule = r;
    er.field = IW_F_CS_URI_QUERY;
    er.code = -47;                  /* PCRE2_ERROR_MATCHLIMIT */
    alert_for(&a, r, build(), NULL);
    a.eval_error = &er;
    check(g, "eval_error.match_limit", &a, 0);
    er.field = IW_F_CS_HEADERS;
    er.code = IW_EVAL_SCAN_FAILED;
    check(g, "eval_error.scan_failed", &a, 0);
}

/* The detection alert cut to fixed sizes: members rolled back whole, the
 * retry without description, reference and tags, then less and less. */
static void case_sizes(golden_t *g, apr_pool_t *p)
{
    static const size_t sizes[] = { 0, 1, 2, 3, 29, 60, 200, 500, 1000, 1500, 2000 };
    static const int f[] = { IW_F_CS_USER_AGENT, IW_F_CS_URI_QUERY };
    const char *v[] = { ODD, "q=%00" };
    iw_alert_t a;
    size_t full, i;
    iw_rule_t *r = rule(p, 0, "trunc-rule", "Truncation \xe2\x82\xac test",
                        IW_LEVEL_CRITICAL, "attack.t1190 attack.t1505.003");

    r->description = "A description long enough to be dropped first. "
                     "A description long enough to be dropped first.";
    refs(p, r, "https://example.org/ref", NULL);
    request("GET", "/x?q=%00%0d%0a\"", ODD);
    alert_for(&a, r, build(), hit(0, r, 2, f, v));
    full = iw_alert_json(&a, fx.out, OUT_MAX);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        if (sizes[i] == 0) {
            if (iw_alert_json(&a, fx.out, 0) != 0) {
                fprintf(stderr, "  sizes.0: wrote into an empty buffer\n");
                (*g->failed)++;
            }
            continue;
        }
        check(g, apr_psprintf(p, "sizes.%lu", (unsigned long)sizes[i]), &a, sizes[i]);
    }
    check(g, "sizes.full+1", &a, full + 1);
    check(g, "sizes.full", &a, full);
    check(g, "sizes.full-1", &a, full - 1);
    check(g, "sizes.full-20", &a, full - 20);
    check(g, "sizes.full-300", &a, full - 300);
}

/* The detection alert framed for syslog, local time as UTC. */
static void case_syslog(golden_t *g, apr_pool_t *p)
{
    static char frame[IW_SYSLOG_HDR_MAX + OUT_MAX];
    static const int f[] = { IW_F_CS_URI_QUERY };
    const char *v[] = { "cmd=id" };
    const char *tz = getenv("TZ");
    char *old = tz ? apr_pstrdup(p, tz) : NULL;
    iw_alert_t a;
    size_t n, fl;
    iw_rule_t *r = rule(p, 0, "sys-1", "Syslog \"framing\"", IW_LEVEL_HIGH, "attack.t1190");

    setenv("TZ", "UTC", 1);
    tzset();
    request("GET", "/cgi-bin/x.php?cmd=id", ODD);
    alert_for(&a, r, build(), hit(0, r, 1, f, v));
    n = iw_alert_json(&a, fx.out, OUT_MAX);
    fl = iw_syslog_frame(frame, sizeof(frame), IW_FORMAT_RFC5424, 16, r->level, a.now,
                         "web1", "iocwatch", 1234, fx.out, n);
    emit(g, "syslog.rfc5424", frame, fl);
    fl = iw_syslog_frame(frame, sizeof(frame), IW_FORMAT_RFC5424, 4, IW_LEVEL_CRITICAL, a.now,
                         NULL, "io cw", 0, fx.out, n);
    emit(g, "syslog.rfc5424_no_host", frame, fl);
    fl = iw_syslog_frame(frame, sizeof(frame), IW_FORMAT_RFC3164, 23, IW_LEVEL_MEDIUM, a.now,
                         "web1", "iocwatch", 99, fx.out, n);
    emit(g, "syslog.rfc3164", frame, fl);
    fl = iw_syslog_frame(frame, sizeof(frame), IW_FORMAT_RFC3164, 16, IW_LEVEL_LOW, a.now,
                         NULL, "iocwatch", 7, fx.out, n);
    emit(g, "syslog.rfc3164_local", frame, fl);
    fl = iw_syslog_frame(frame, sizeof(frame), IW_FORMAT_JSON, 16, IW_LEVEL_LOW, a.now,
                         "web1", "iocwatch", 7, fx.out, n);
    emit(g, "syslog.json", frame, fl);
    if (old) setenv("TZ", old, 1);
    else unsetenv("TZ");
    tzset();
}

typedef struct golden_case {
    const char *name;
    void (*fn)(golden_t *g, apr_pool_t *p);
} golden_case_t;

/* The message line written escaped piece by piece (msg_direct), and the
 * target and first value copied from it into url.* and matches: UTF-8
 * cut at a piece's end, the cuts of method (16), client (64), target
 * (160) and value (80) bytes and one past them, held-back counts, a line
 * longer than its 512 bytes, and every buffer size around the whole. */
static void case_message_pieces(golden_t *g, apr_pool_t *p)
{
    static const int f[] = { IW_F_CS_URI_QUERY, IW_F_CS_URI };
    static char title[130], target[170], val[90], ip[80], longv[600];
    const char *v[2];
    iw_alert_t a;
    size_t full, k;
    int i;
    iw_rule_t *r = rule(p, 0, "pieces", "Pieces \xe2\x82\xac", IW_LEVEL_HIGH, NULL);

    request("GET", "/p\xc3\xa9\xc3?q=\"\\\x01 caf\xc3\xa9 \xe2\x82", "ua");
    v[0] = "q=\"\\\x01 caf\xc3\xa9 \xe2\x82"; v[1] = "/p\xc3\xa9\xc3";
    alert_for(&a, r, build(), hit(0, r, 2, f, v));
    check(g, "pieces.utf8", &a, 0);
    a.suppressed = 12345;
    check(g, "pieces.held_back", &a, 0);
    full = iw_alert_json(&a, fx.out, OUT_MAX);
    for (k = full - 8; k <= full + 2; k++)
        check(g, apr_psprintf(p, "pieces.size%+d", (int)(k - full)), &a, k);
    for (i = 0; i < 2; i++) {           /* at each cut and one past it */
        memset(target, 'a', sizeof(target));
        target[0] = '/';
        memcpy(target + 156 + i, "?b=\xc3\xa9", 6);
        target[160 + i] = '\0';
        memset(val, 'v', sizeof(val));
        memcpy(val + 77 + i, "\xe2\x82\xac", 3);
        val[80 + i] = '\0';
        memset(ip, '1', sizeof(ip));
        ip[64 + i] = '\0';
        request(i ? "PROPFINDPROPFINDX" : "PROPFINDPROPFIND", target, "ua");
        fx.d.client_ip = S(ip);
        v[0] = val; v[1] = target;
        alert_for(&a, r, build(), hit(0, r, 2, f, v));
        check(g, apr_psprintf(p, "pieces.cuts%d", i), &a, 0);
    }
    memset(title, 'T', sizeof(title) - 1);
    r = rule(p, 1, "pieces-long", title, IW_LEVEL_HIGH, NULL);
    memset(longv, 'w', sizeof(longv) - 1);
    memset(ip, '2', sizeof(ip) - 1);
    ip[sizeof(ip) - 1] = '\0';
    request("PROPFINDPROPFINDX", target, "ua");
    fx.d.client_ip = S(ip);
    v[0] = longv; v[1] = "x";
    alert_for(&a, r, build(), hit(0, r, 2, f, v));
    a.suppressed = 7;
    check(g, "pieces.long_line", &a, 0);
}

static const golden_case_t cases[] = {
    { "detection", case_detection },
    { "minimal", case_minimal },
    { "addresses", case_addresses },
    { "long", case_long },
    { "error_entry", case_error_entry },
    { "correlation", case_correlation },
    { "summary", case_summary },
    { "eval_error", case_eval_error },
    { "sizes", case_sizes },
    { "syslog", case_syslog },
    { "message_pieces", case_message_pieces },
};

static void run_cases(golden_t *g, apr_pool_t *p)
{
    size_t i;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cases[i].fn(g, p);
}

TEST(alert_golden_bytes)
{
    golden_t g;
    const char *path = iw_test_path(p, GOLDEN_FILE);
    const char *upd = getenv("IW_GOLDEN_UPDATE");

    memset(&g, 0, sizeof(g));
    g.p = p;
    g.failed = iw_failed_;
    if (upd && *upd && strcmp(upd, "0")) {
        REQUIRE((g.update = fopen(path, "w")) != NULL);
        fprintf(g.update, "# Exact bytes of rendered alerts: tests/unit/test_alert_golden.c.\n"
                          "# NAME<TAB>BYTES per rendering.  After an intended format change:\n"
                          "#   IW_GOLDEN_UPDATE=1 build/unit_tests alert_golden  (then review the diff)\n");
        run_cases(&g, p);
        fclose(g.update);
        fprintf(stderr, "  wrote %d renderings to %s\n", g.n, path);
        return;
    }
    g.want = load_golden(p, path);
    REQUIRE(g.want != NULL);
    run_cases(&g, p);
    CHECK_INT(g.n, apr_hash_count(g.want));     /* no case left unchecked */
}
