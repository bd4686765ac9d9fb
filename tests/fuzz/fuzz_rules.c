/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_rules: the rule loader, fuzzed.  Input: the bytes of one rule file
 * (multi-document Sigma YAML).  Each case loads it, links it, compiles the
 * engine and the correlation program; when it compiles, evaluates fixed
 * events (an attack-shaped request, a benign one, an error-log entry) and
 * renders every alert as strict JSON.  Checks: no crash or sanitizer
 * report, every diagnostic names the file ("fuzz.yml:"), an error always
 * comes with a diagnostic, a clean load always compiles, every alert is
 * one strict JSON object starting with rule.id.
 * Seeds: tests/rules (good and broken), conf/rules, the SigmaHQ rules in
 * the shared tree.  See fuzz_main.h for the two ways to run it. */
#define FUZZ_NAME "fuzz_rules"
#define FUZZ_TOKENS "\n", ": ", "  ", "- ", "|re", "|contains", "|all", "|cidr", "|expand", \
    "|base64offset", "|windash", "|fieldref", "|exists", "|gt", "condition: ", "1 of ", \
    "all of them", " and not ", "(", ")", "*", "?", "\\", "'", "\"", "%ph%", "---\n", \
    "detection:\n", "selection:\n", "correlation:\n", "type: event_count\n", "timespan: 1m\n", \
    "group-by:\n", "logsource:\n  category: webserver\n", "cs-uri-query", "c-ip", "(a|aa)+\\1$", \
    "{", "}", "[", "]", "&a ", "*a", "!!binary ", "\t", "\0"
#include "fuzz_main.h"
#include <apr_strings.h>
#include "iw_engine.h"
#include "iw_corr.h"
#include "iw_alert.h"
#include "json_strict.h"
#include "fuzz_alerts.h"

static apr_pool_t *root;
static char *evbuf, *abuf;
#define EVBUF_SIZE 65536
#define ABUF_SIZE 16384

static void fuzz_init(void)
{
    apr_pool_create(&root, NULL);
    evbuf = malloc(EVBUF_SIZE);
    abuf = malloc(ABUF_SIZE);
}

static void fuzz_fini(void)
{
    free(evbuf);
    free(abuf);
    apr_pool_destroy(root);
}

static void fuzz_seeds(void)
{
    char dir[1024];
    const char *src = fuzz_srcdir();

    snprintf(dir, sizeof(dir), "%s/tests/rules", src);
    fuzz_seed_dir(dir, ".yml", 16384);
    snprintf(dir, sizeof(dir), "%s/tests/fuzz/rules", src);
    fuzz_seed_dir(dir, ".yml", 16384);
    snprintf(dir, sizeof(dir), "%s/conf/rules", src);
    fuzz_seed_dir(dir, ".yml", 16384);
    snprintf(dir, sizeof(dir), "%s/../shared/sigma", src);
    fuzz_seed_dir(dir, ".yml", 16384);
}

static iw_str_t S(const char *s) { return (iw_str_t){ s, strlen(s) }; }

static void check_one(const iw_alert_t *a)
{
    size_t len = iw_alert_json(a, abuf, ABUF_SIZE);
    if (!json_strict(abuf, len) || strncmp(abuf, "{\"rule\":{\"id\":", 14))
        FUZZ_FAIL("alert for rule %s is not strict JSON: %.*s",
                  a->rule->id ? a->rule->id : "?", (int)(len < 300 ? len : 300), abuf);
}

static void eval_events(const iw_engine_t *e)
{
    static const char *const hn[] = { "Host", "User-Agent", "Referer", "Cookie", "X-Forwarded-For" };
    static const char *const hv[][5] = {
        { "www.example.org", "sqlmap/1.7 ${jndi:ldap://x/a}", "http://evil/?q=<script>",
          "PHPSESSID=../../etc/passwd", "10.0.0.1" },
        { "www.example.org", "Mozilla/5.0 (X11; Linux x86_64)", "", "a=b", "" },
    };
    static const char *const targets[] = {
        "/cgi-bin/../../etc/passwd?id=1%27%20UNION%20SELECT%201,2--&q=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaax",
        "/index.html",
    };
    iw_str_t n5[5], v5[5];
    iw_scratch_t *s = iw_scratch_create(e);
    iw_request_desc_t d;
    iw_error_desc_t ed;
    iw_event_t ev;
    const iw_hit_t *hits;
    int k, i, nh;

    if (!s) { FUZZ_FAIL("no scratch for a compiled engine"); return; }
    for (k = 0; k < 2; k++) {
        for (i = 0; i < 5; i++) { n5[i] = S(hn[i]); v5[i] = S(hv[k][i]); }
        memset(&d, 0, sizeof(d));
        d.method = S(k ? "GET" : "POST");
        d.target = S(targets[k]);
        d.version = S("HTTP/1.1");
        d.hdr_names = n5; d.hdr_values = v5; d.nhdrs = 5;
        d.status = k ? 200 : 404;
        d.sc_bytes = 512; d.cs_bytes = -1; d.time_taken_ms = 3;
        d.client_ip = S("203.0.113.9");
        d.server_ip = S("10.0.0.1");
        d.sitename = S("www.example.org");
        d.server_port = 443;
        d.time = (apr_time_t)1764600000 * APR_USEC_PER_SEC;
        iw_event_init(&ev, evbuf, EVBUF_SIZE);
        nh = iw_engine_eval_request(e, s, &ev, &d, &hits);
        if (nh < 0) FUZZ_FAIL("negative hit count");
        fuzz_each_alert(&ev, hits, nh, check_one);
    }
    memset(&ed, 0, sizeof(ed));
    ed.message = S("AH01630: client denied by server configuration: /var/www/../etc/passwd");
    ed.level = S("error");
    ed.module = S("authz_core");
    ed.client_ip = S("203.0.113.9");
    ed.ah_code = 1630;
    ed.pid = 42;
    ed.time = (apr_time_t)1764600000 * APR_USEC_PER_SEC;
    iw_event_init(&ev, evbuf, EVBUF_SIZE);
    iw_event_from_error(&ev, &ed);
    nh = iw_engine_eval(e, s, &ev, &hits);
    fuzz_each_alert(&ev, hits, nh, check_one);
    iw_scratch_destroy(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    iw_ruleset_t *rs;
    iw_diag_t *d;
    iw_engine_t *e = NULL;
    iw_engine_opts_t eo;
    apr_array_header_t *ph;
    int i;

    fuzz_setup();
    apr_pool_create(&p, root);
    rs = iw_ruleset_create(p);
    d = iw_diag_create(p);
    ph = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(ph, const char *) = "/admin";
    APR_ARRAY_PUSH(ph, const char *) = "10.0.0.0/8";
    iw_ruleset_set_placeholder(rs, "ph", ph);
    iw_rules_load_string(rs, "fuzz.yml", (const char *)data, size, d);
    if (!d->errors) iw_ruleset_link(rs, d);
    if (!d->errors) {
        memset(&eo, 0, sizeof(eo));
        e = iw_engine_compile(p, rs, &eo, d);
        if (!e && !d->errors) FUZZ_FAIL("compile failed without an error");
    }
    for (i = 0; i < d->msgs->nelts; i++) {
        const iw_diag_msg_t *m = &APR_ARRAY_IDX(d->msgs, i, iw_diag_msg_t);
        if (!m->text || (m->file && strncmp(m->text, "fuzz.yml:", 9)))
            FUZZ_FAIL("diagnostic without its file: %s", m->text ? m->text : "(null)");
    }
    if (d->errors && !d->msgs->nelts) FUZZ_FAIL("errors without a message");
    if (e) {
        iw_corr_t *c = iw_corr_create(p, e, d);
        (void)c;
        eval_events(e);
    }
    apr_pool_destroy(p);
    return 0;
}
