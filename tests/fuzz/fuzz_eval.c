/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_eval: event evaluation, fuzzed.  Input: a request as lines
 *     METHOD \n TARGET \n VERSION \n Name: value \n Name: value ...
 * evaluated against a fixed rule set (the shipped pack conf/rules,
 * tests/fuzz/rules: regexes that run into PCRE2's limits and checks the
 * pack does not use, and tests/rules/good: every modifier; see
 * FUZZ_DEFAULT_RULES) the way the module does it
 * (iw_engine_eval_request, scan and event caches on), and again from the
 * built event with caches off.  Checks: no crash or sanitizer report, the
 * same hits and evaluation errors both ways, every alert (each hit, the
 * summary, correlation alerts, evaluation errors) one strict JSON object starting with rule.id, and framed in all
 * three syslog formats (RFC 3164, RFC 5424, JSON lines) as exactly one
 * line whose message is that JSON.
 * Seeds: the rule pack's test requests (the jsonl files of tests/pack) and the shared
 * corpus' CRS and fuzzdb requests.  See fuzz_main.h for the two ways to
 * run it. */
#define FUZZ_NAME "fuzz_eval"
#define FUZZ_TOKENS "\n", ": ", "%", "%25", "%00", "%c0%af", "%u002e", "../", "\\", "+", "?", "&", \
    "=", "'", "\"", "<script>", "${jndi:", "union select", "/etc/passwd", "User-Agent: ", \
    "Referer: ", "Cookie: ", "Host: ", "Content-Type: ", "X-Forwarded-For: ", "q=", "aaaaaaaa", \
    "ab", "sqlmap", "\r", "\t", "\xc0", "\xff", "\0"
#include "fuzz_main.h"
#include <apr_strings.h>
#include "iw_engine.h"
#include "iw_corr.h"
#include "iw_alert.h"
#include "iw_logfmt.h"
#include "iw_engine_dbcache.h"
#include "json_strict.h"
#include "fuzz_alerts.h"

/* The fixed rules (IW_FUZZ_RULES: paths under IW_SRCDIR, ':'-separated).
 * libFuzzer (make fuzz): the shipped pack too.  The standalone driver
 * (make test-asan, seconds): the test rules only; compiling the pack
 * under ASan takes a minute when the database cache is cold. */
#ifdef IW_LIBFUZZER
#define FUZZ_DEFAULT_RULES "conf/rules:tests/fuzz/rules:tests/rules/good"
#else
#define FUZZ_DEFAULT_RULES "tests/fuzz/rules:tests/rules/good"
#endif

#define EVBUF_SIZE 65536
#define ABUF_SIZE 16384
#define FBUF_SIZE (ABUF_SIZE + IW_SYSLOG_HDR_MAX + 1)
#define MAX_HDRS 100
#define CORR_SLOTS 512

static apr_pool_t *root;
static iw_engine_t *eng_cached, *eng_plain;
static iw_scratch_t *scr_cached, *scr_plain;
static iw_corr_t *corr;
static void *corr_mem;
static char *evbuf, *evbuf2, *abuf, *fbuf;
static iw_hit_t *saved;
static long n_hits, n_alerts, n_errors;

static void load_rules(iw_ruleset_t *rs, iw_diag_t *d, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", fuzz_srcdir(), rel);
    iw_rules_load(rs, path, d);
}

static void fuzz_init(void)
{
    iw_ruleset_t *rs;
    iw_diag_t *d;
    iw_engine_opts_t eo;

    const char *list = getenv("IW_FUZZ_RULES");
    char *dup, *tok, *last;
    apr_array_header_t *ph;

    apr_pool_create(&root, NULL);
    rs = iw_ruleset_create(root);
    d = iw_diag_create(root);
    /* the placeholders tests/rules/good/modifiers.yml expands */
    ph = apr_array_make(root, 2, sizeof(const char *));
    APR_ARRAY_PUSH(ph, const char *) = "10.0.0.0/8";
    APR_ARRAY_PUSH(ph, const char *) = "2001:db8::/32";
    iw_ruleset_set_placeholder(rs, "bad_nets", ph);
    ph = apr_array_make(root, 1, sizeof(const char *));
    APR_ARRAY_PUSH(ph, const char *) = "192.0.2.1";
    iw_ruleset_set_placeholder(rs, "admin_ips", ph);
    if (!list) list = FUZZ_DEFAULT_RULES;
    dup = apr_pstrdup(root, list);
    for (tok = apr_strtok(dup, ":", &last); tok; tok = apr_strtok(NULL, ":", &last))
        load_rules(rs, d, tok);
    if (!d->errors) iw_ruleset_link(rs, d);
    memset(&eo, 0, sizeof(eo));
    /* the compiled-database cache the CLI uses: the pack compiles in
     * seconds, loads in a fraction of one */
    eo.dbcache = iw_engine_dbcache_create(root, iw_engine_dbcache_default_dir(root));
    if (!d->errors) eng_cached = iw_engine_compile(root, rs, &eo, d);
    eo.scan_cache = -1;
    if (!d->errors) eng_plain = iw_engine_compile(root, rs, &eo, d);
    if (d->errors || !eng_cached || !eng_plain) {
        iw_diag_print(d, stderr, FUZZ_NAME ": ");
        fprintf(stderr, FUZZ_NAME ": the fixed rules do not compile (IW_SRCDIR=%s)\n", fuzz_srcdir());
        exit(1);
    }
    scr_cached = iw_scratch_create(eng_cached);
    scr_plain = iw_scratch_create(eng_plain);
    if ((corr = iw_corr_create(root, eng_cached, d))) {
        size_t sz = iw_corr_table_bytes(IW_CORR_SLOT_DEFAULT, CORR_SLOTS);
        corr_mem = aligned_alloc(64, (sz + 63) / 64 * 64);
        iw_corr_mem_init(corr, corr_mem, sz);
    }
    evbuf = malloc(EVBUF_SIZE);
    evbuf2 = malloc(EVBUF_SIZE);
    abuf = malloc(ABUF_SIZE);
    fbuf = malloc(FBUF_SIZE);
    saved = calloc((size_t)iw_engine_rule_count(eng_cached) + 1, sizeof(iw_hit_t));
    if (!scr_cached || !scr_plain || !evbuf || !evbuf2 || !abuf || !fbuf || !saved) {
        fprintf(stderr, FUZZ_NAME ": out of memory\n");
        exit(1);
    }
}

static void fuzz_fini(void)
{
    iw_scratch_destroy(scr_cached);
    iw_scratch_destroy(scr_plain);
    free(corr_mem); free(evbuf); free(evbuf2); free(abuf); free(fbuf); free(saved);
    apr_pool_destroy(root);     /* the engines (their cleanups free Vectorscan and PCRE2) */
}

/* ---- seeds: jsonl requests -> the input format ------------------------------- */

static void seed_request(const iw_request_desc_t *r)
{
    size_t cap = 4 + r->method.len + r->target.len + r->version.len, n = 0;
    char *b;
    int i;

    for (i = 0; i < r->nhdrs; i++) cap += r->hdr_names[i].len + r->hdr_values[i].len + 3;
    if (!(b = malloc(cap))) return;
#define PUT(s, l) do { memcpy(b + n, (s), (l)); n += (l); } while (0)
    PUT(r->method.p, r->method.len); b[n++] = '\n';
    PUT(r->target.p, r->target.len); b[n++] = '\n';
    PUT(r->version.p, r->version.len);
    for (i = 0; i < r->nhdrs; i++) {
        b[n++] = '\n';
        PUT(r->hdr_names[i].p, r->hdr_names[i].len);
        PUT(": ", 2);
        PUT(r->hdr_values[i].p, r->hdr_values[i].len);
    }
#undef PUT
    fuzz_seed_add(b, n);
    free(b);
}

static void seed_jsonl(const char *rel, int every, int max)
{
    char path[1024], *line = malloc(65536), *pb = malloc(2 * 65536 + 64);
    FILE *f;
    int k = 0, got = 0;

    snprintf(path, sizeof(path), "%s/%s", fuzz_srcdir(), rel);
    if (!line || !pb || !(f = fopen(path, "rb"))) { free(line); free(pb); return; }
    while (got < max && fgets(line, 65536, f)) {
        iw_parsed_t o;
        const char *why;
        size_t len = strcspn(line, "\r\n");
        if (k++ % every) continue;
        memset(&o, 0, sizeof(o));
        o.buf = pb;
        o.buf_size = 2 * 65536 + 64;
        if (iw_logfmt_parse(IW_INPUT_JSONL, line, len, &o, &why) && o.type == IW_EV_ACCESS) {
            seed_request(&o.req);
            got++;
        }
    }
    fclose(f);
    free(line);
    free(pb);
}

static void fuzz_seeds(void)
{
    seed_jsonl("tests/pack/attacks.jsonl", 1, 1000);
    seed_jsonl("tests/pack/benign.jsonl", 1, 1000);
    seed_jsonl("tests/pack/cases.jsonl", 1, 1000);
    seed_jsonl("tests/pack/correlation.jsonl", 4, 1000);
    seed_jsonl("../shared/corpus/crs-requests.jsonl", 7, 400);
    seed_jsonl("../shared/corpus/fuzzdb-requests.jsonl", 7, 200);
    /* padded to PCRE2's limits (the regexes of tests/fuzz/rules) */
    {
        static char q[5000];
        memcpy(q, "GET\n/?q=", 8);
        memset(q + 8, 'a', sizeof(q) - 9);
        q[sizeof(q) - 2] = 'x';
        fuzz_seed_add(q, sizeof(q) - 1);
        memcpy(q, "GET\n/?aaaa", 10);
        fuzz_seed_add(q, 60);
    }
}

/* ---- checks --------------------------------------------------------------------- */

static const char *rid(const iw_rule_t *r) { return r && r->id ? r->id : "?"; }

/* One alert: strict JSON, then framed in each syslog format. */
static void check_alert(const iw_alert_t *a)
{
    static const iw_format_t fmts[] = { IW_FORMAT_RFC3164, IW_FORMAT_RFC5424, IW_FORMAT_JSON };
    size_t len = iw_alert_json(a, abuf, ABUF_SIZE), fl, k, i;

    n_alerts++;
    if (!json_strict(abuf, len) || strncmp(abuf, "{\"rule\":{\"id\":", 14)) {
        FUZZ_FAIL("alert of rule %s is not strict JSON: %.*s", rid(a->rule),
                  (int)(len < 400 ? len : 400), abuf);
        return;
    }
    for (k = 0; k < 3; k++) {
        fl = iw_syslog_frame(fbuf, FBUF_SIZE, fmts[k], 16, a->rule->level, a->now,
                             k == 1 ? "web-1.example" : NULL, "iocwatch", 4242, abuf, len);
        if (fl < len || fl >= FBUF_SIZE || memcmp(fbuf + fl - len, abuf, len)) {
            FUZZ_FAIL("format %d: the frame does not end with the alert (rule %s)", (int)fmts[k],
                      rid(a->rule));
            continue;
        }
        if (fmts[k] == IW_FORMAT_JSON && fl != len)
            FUZZ_FAIL("json format: the frame is not the alert itself");
        for (i = 0; i < fl - len; i++)
            if ((unsigned char)fbuf[i] < 0x20 || (unsigned char)fbuf[i] == 0x7f) {
                FUZZ_FAIL("format %d: control byte in the syslog header", (int)fmts[k]);
                break;
            }
        if (fl - len > IW_SYSLOG_HDR_MAX) FUZZ_FAIL("syslog header longer than IW_SYSLOG_HDR_MAX");
    }
}

static void check_corr(iw_event_t *ev, const iw_hit_t *hits, int n)
{
    iw_corr_alert_t out[8];
    iw_alert_t a;
    int nc, i;

    if (!corr) return;
    nc = iw_corr_update(corr, corr_mem, ev, hits, n, ev->time, out, 8);
    for (i = 0; i < nc; i++) {
        memset(&a, 0, sizeof(a));
        a.rule = out[i].rule;
        a.corr = &out[i];
        a.ev = out[i].with_event ? ev : NULL;
        a.ruleset = "sigma";
        a.now = ev->time;
        check_alert(&a);
    }
}

/* Rules that could not be evaluated (a regex past a PCRE2 limit): the
 * same both ways, each one's alert checked like any other. */
static void check_errors(iw_event_t *ev)
{
    const iw_eval_error_t *e1, *e2;
    int n1 = iw_engine_eval_errors(scr_cached, &e1), n2 = iw_engine_eval_errors(scr_plain, &e2), i;
    iw_alert_t a;

    if (n1 != n2) {
        FUZZ_FAIL("%d evaluation errors with caches, %d without", n1, n2);
        return;
    }
    for (i = 0; i < n2; i++) {
        if (e1[i].rule != e2[i].rule || e1[i].code != e2[i].code)
            FUZZ_FAIL("evaluation error %d differs with caches (%s) and without (%s)", i,
                      rid(e1[i].rule), rid(e2[i].rule));
        memset(&a, 0, sizeof(a));
        a.rule = e2[i].rule;
        a.ev = ev;
        a.eval_error = &e2[i];
        a.ruleset = "sigma";
        a.now = ev->time;
        check_alert(&a);
        n_errors++;
    }
}

/* ---- one case --------------------------------------------------------------------- */

static iw_str_t next_line(const char **p, const char *end)
{
    const char *s = *p, *nl;
    if (s >= end) return (iw_str_t){ NULL, 0 };
    nl = memchr(s, '\n', (size_t)(end - s));
    *p = nl ? nl + 1 : end;
    return (iw_str_t){ s, (size_t)((nl ? nl : end) - s) };
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = { 200, 404, 403, 500, 301 };
    static iw_str_t hn[MAX_HDRS], hv[MAX_HDRS];
    const char *p = (const char *)data, *end = p + size;
    iw_request_desc_t d, d2;
    iw_event_t ev, ev2;
    const iw_hit_t *hits, *hits2;
    iw_str_t l;
    int n, n2, i, nh = 0;
    static int64_t clock_s = 1764600000;

    fuzz_setup();
    memset(&d, 0, sizeof(d));
    d.method = next_line(&p, end);
    d.target = next_line(&p, end);
    d.version = next_line(&p, end);
    if (!d.method.p) d.method = (iw_str_t){ "GET", 3 };
    if (!d.target.p) d.target = (iw_str_t){ "/", 1 };
    while (nh < MAX_HDRS && (l = next_line(&p, end)).p) {
        const char *c = memchr(l.p, ':', l.len);
        size_t k = c ? (size_t)(c - l.p) : l.len, v = c ? k + 1 : l.len;
        while (v < l.len && l.p[v] == ' ') v++;
        hn[nh] = (iw_str_t){ l.p, k };
        hv[nh++] = (iw_str_t){ l.p + v, l.len - v };
    }
    d.hdr_names = hn;
    d.hdr_values = hv;
    d.nhdrs = nh;
    d.status = statuses[size % 5];
    d.sc_bytes = (int64_t)size * 7;
    d.cs_bytes = (int64_t)size;
    d.time_taken_ms = (int64_t)(size % 3000);
    d.client_ip = (iw_str_t){ size % 2 ? "10.1.2.3" : "2001:db8::7", size % 2 ? 8 : 11 };
    d.server_ip = (iw_str_t){ "192.0.2.1", 9 };
    d.sitename = (iw_str_t){ "www.example.org", 15 };
    d.server_port = 443;
    d.time = (apr_time_t)(clock_s += 7) * APR_USEC_PER_SEC;
    d2 = d;

    /* the module's way: from the description, caches on */
    iw_event_init(&ev, evbuf, EVBUF_SIZE);
    n = iw_engine_eval_request(eng_cached, scr_cached, &ev, &d, &hits);
    if (n < 0) FUZZ_FAIL("negative hit count");
    for (i = 0; i < n; i++) saved[i] = hits[i];
    /* from the built event, no caches: the same rules, in the same order */
    iw_event_init(&ev2, evbuf2, EVBUF_SIZE);
    iw_event_from_request(&ev2, &d2);
    n2 = iw_engine_eval(eng_plain, scr_plain, &ev2, &hits2);
    if (n2 != n) {
        FUZZ_FAIL("%d hits with caches, %d without (first: %s)", n, n2,
                  rid(n ? saved[0].rule : n2 ? hits2[0].rule : NULL));
    } else {
        for (i = 0; i < n; i++)
            if (saved[i].rule != hits2[i].rule)
                FUZZ_FAIL("hit %d: rule %s with caches, %s without", i, rid(saved[i].rule),
                          rid(hits2[i].rule));
    }
    n_hits += n;
    check_errors(&ev2);
    if (n2 > 0) {
        fuzz_each_alert(&ev2, hits2, n2, check_alert);
        check_corr(&ev2, hits2, n2);
    }
    return 0;
}
