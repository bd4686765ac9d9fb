/* SPDX-License-Identifier: Apache-2.0 */
/* Evaluation errors: a regex past a PCRE2 limit is not "no match".  The
 * limits are set deliberately (JIT stack, then the interpreter on the heap,
 * match limit), and a rule that could not be evaluated is reported
 * (iw_engine_eval_errors), counted per rule and alertable, never cached. */
#include "engine_util.h"
#include "iw_alert.h"
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

static char *run_of(apr_pool_t *p, const char *pre, char c, size_t n, const char *post)
{
    size_t lp = strlen(pre), lq = strlen(post);
    char *s = apr_palloc(p, lp + n + lq + 1);
    memcpy(s, pre, lp);
    memset(s + lp, c, n);
    memcpy(s + lp + n, post, lq + 1);
    return s;
}

/* The regexes on values padded past PCRE2's defaults: 2,000 bytes
 * used to exhaust the JIT's 32 KiB machine stack and the rules went
 * silent; they match now (JIT stack 1 MiB, then the interpreter). */
TEST(engine_regex_long_subjects_match)
{
    static const size_t lens[] = { 100, 2000, 8000, 20000 };
    const char *yaml = apr_pstrcat(p,
        eu_rule(p, "rq", "    sel:\n        cs-uri-query|re: '^q=(a|b)*x'\n    condition: sel"), "---\n",
        eu_rule(p, "ru", "    sel:\n        cs-user-agent|re: '(\\w|\\s)+sqlmap'\n    condition: sel"),
        NULL);
    iw_diag_t *d;
    iw_engine_t *e = eu_compile(p, yaml, &d, NULL);
    iw_scratch_t *s;
    const iw_hit_t *hits;
    size_t k;
    int n;

    REQUIRE(e != NULL);
    REQUIRE((s = iw_scratch_create(e)) != NULL);
    for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        n = eu_eval(p, e, s, &(treq_t){ .target = run_of(p, "/?q=", 'a', lens[k], "x"),
                                        .ua = run_of(p, "", 'a', lens[k], " sqlmap") }, &hits);
        if (!eu_fired(hits, n, "rq") || !eu_fired(hits, n, "ru"))
            fprintf(stderr, "  %zu bytes\n", lens[k]);
        CHECK(eu_fired(hits, n, "rq"));
        CHECK(eu_fired(hits, n, "ru"));
        CHECK_INT(iw_engine_eval_errors(s, NULL), 0);
    }
    iw_scratch_destroy(s);
}

/* Past the limits: reported per rule (reason, field), counted, alertable
 * once per rule, client and minute, and reported again on a repeat (the
 * event cache must not answer it as clean). */
TEST(engine_regex_limit_is_an_error)
{
    const char *yaml = apr_pstrcat(p,
        eu_rule(p, "bt", "    sel:\n        cs-uri-query|re: '(a|aa)+\\1$'\n    condition: sel"), "---\n",
        eu_rule(p, "both", "    sel:\n        cs-uri-query|re: '(a|aa)+\\1$'\n"
                           "    other:\n        cs-method: 'DELETE'\n    condition: sel and other"), "---\n",
        eu_rule(p, "plain", "    sel:\n        cs-uri-query|contains: 'zzz'\n    condition: sel"),
        NULL);
    const char *q = run_of(p, "/?", 'a', 40, "b");     /* no match: every split is tried */
    iw_diag_t *d;
    iw_engine_t *e = eu_compile(p, yaml, &d, NULL);
    iw_scratch_t *s;
    const iw_hit_t *hits;
    const iw_eval_error_t *errs;
    iw_eval_counters_t c;
    int n, round, i, idx = -1;

    REQUIRE(e != NULL);
    REQUIRE((s = iw_scratch_create(e)) != NULL);
    for (round = 0; round < 3; round++) {
        n = eu_eval(p, e, s, &(treq_t){ .target = q, .client = "192.0.2.7" }, &hits);
        CHECK_INT(n, 0);
        /* "both" could not match anyway (GET): no error for it */
        REQUIRE(iw_engine_eval_errors(s, &errs) == 1);
        CHECK_STR(errs[0].rule->id, "bt");
        CHECK_INT(errs[0].field, IW_F_CS_URI_QUERY);
        CHECK_INT(errs[0].code, PCRE2_ERROR_MATCHLIMIT);
        CHECK_STR(iw_eval_error_reason(errs[0].code), "regex match limit");
        idx = errs[0].rule->index;
        /* one alert per rule, client and minute (no event: one client) */
        CHECK_INT(iw_scratch_eval_error_due(s, &errs[0], NULL), round == 0);
    }
    iw_scratch_error_counters(s, &c);
    CHECK_INT(c.eval_errors, 3);
    CHECK(c.regex_errors >= 3);
    REQUIRE(idx >= 0 && idx < c.nrules);
    CHECK_INT(c.per_rule[idx], 3);
    for (i = 0; i < c.nrules; i++)
        if (i != idx) CHECK_INT(c.per_rule[i], 0);
    /* a short value is evaluated (and matches) */
    n = eu_eval(p, e, s, &(treq_t){ .target = "/?aaaa" }, &hits);
    CHECK(eu_fired(hits, n, "bt"));
    CHECK_INT(iw_engine_eval_errors(s, NULL), 0);
    iw_scratch_destroy(s);
}

/* A regex that triggers no rule runs lazily, when its rule is a candidate:
 * past the limit there it is the same error as in the scan, and a rule
 * examined for another error that runs such a regex for the first time
 * reports that one too. */
TEST(engine_lazy_regex_limit_is_an_error)
{
    const char *yaml = apr_pstrcat(p,
        eu_rule(p, "lz", "    t:\n        cs-uri-stem|contains: 'qqqqqqqq'\n"
                         "    bt:\n        cs-uri-query|re: '(a|aa)+\\1$'\n    condition: t and bt"), "---\n",
        eu_rule(p, "two", "    sel:\n        cs-uri-query|re: '(aa|a)+\\1$'\n"
                          "    bt:\n        cs-uri-query|re: '(a|aa)+\\1$'\n    condition: sel and bt"),
        NULL);
    iw_diag_t *d;
    iw_engine_t *e = eu_compile(p, yaml, &d, NULL);
    iw_scratch_t *s;
    const iw_hit_t *hits;
    const iw_eval_error_t *errs;
    int n, k, lz = 0, two = 0;

    REQUIRE(e != NULL);
    REQUIRE((s = iw_scratch_create(e)) != NULL);
    n = eu_eval(p, e, s, &(treq_t){ .target = run_of(p, "/qqqqqqqq?", 'a', 40, "b") }, &hits);
    CHECK_INT(n, 0);
    n = iw_engine_eval_errors(s, &errs);
    for (k = 0; k < n; k++) {
        lz += !strcmp(errs[k].rule->id, "lz");
        two += !strcmp(errs[k].rule->id, "two");
        CHECK_INT(errs[k].code, PCRE2_ERROR_MATCHLIMIT);
    }
    CHECK_INT(lz, 1);
    CHECK_INT(two, 1);
    /* lz is no candidate: bt first runs (and fails) while "two" is looked at
     * for the error of its sel */
    n = eu_eval(p, e, s, &(treq_t){ .target = run_of(p, "/x?", 'a', 40, "b") }, &hits);
    CHECK_INT(n, 0);
    REQUIRE(iw_engine_eval_errors(s, &errs) == 1);
    CHECK_STR(errs[0].rule->id, "two");
    n = eu_eval(p, e, s, &(treq_t){ .target = "/qqqqqqqq?aaaa" }, &hits);
    CHECK(eu_fired(hits, n, "lz"));
    CHECK_INT(iw_engine_eval_errors(s, NULL), 0);
    iw_scratch_destroy(s);
}

TEST(engine_eval_error_due_per_rule_client_minute)
{
    const char *yaml = apr_pstrcat(p,
        eu_rule(p, "a", "    sel:\n        cs-uri-query|re: '(a|aa)+\\1$'\n    condition: sel"), "---\n",
        eu_rule(p, "b", "    sel:\n        cs-uri-query|re: '(aa|a)+\\1$'\n    condition: sel"),
        NULL);
    const char *q = run_of(p, "/?", 'a', 40, "c");
    apr_time_t t0 = apr_time_from_sec(1764240000);
    iw_diag_t *d;
    iw_engine_t *e = eu_compile(p, yaml, &d, NULL);
    iw_scratch_t *s;
    iw_request_desc_t rd;
    iw_event_t ev;
    char *buf = apr_palloc(p, 65536);
    const iw_hit_t *hits;
    const iw_eval_error_t *errs;
    static const struct { const char *ip; int64_t secs; int due_a, due_b; } steps[] = {
        { "192.0.2.1", 0, 1, 1 },     /* first of each rule */
        { "192.0.2.1", 30, 0, 0 },    /* same minute, same client */
        { "192.0.2.2", 31, 1, 1 },    /* another client */
        { "192.0.2.1", 59, 0, 0 },
        { "192.0.2.1", 60, 1, 1 },    /* next minute */
    };
    size_t k;
    int n, i;

    REQUIRE(e != NULL);
    REQUIRE((s = iw_scratch_create(e)) != NULL);
    for (k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        memset(&rd, 0, sizeof(rd));
        rd.method = (iw_str_t){ "GET", 3 };
        rd.target = (iw_str_t){ q, strlen(q) };
        rd.client_ip = (iw_str_t){ steps[k].ip, strlen(steps[k].ip) };
        rd.sc_bytes = rd.cs_bytes = rd.time_taken_ms = -1;
        rd.time = t0 + apr_time_from_sec(steps[k].secs);
        iw_event_init(&ev, buf, 65536);
        iw_event_from_request(&ev, &rd);
        CHECK_INT(iw_engine_eval(e, s, &ev, &hits), 0);
        n = iw_engine_eval_errors(s, &errs);
        CHECK_INT(n, 2);
        for (i = 0; i < n; i++) {
            int want = !strcmp(errs[i].rule->id, "a") ? steps[k].due_a : steps[k].due_b;
            if (iw_scratch_eval_error_due(s, &errs[i], &ev) != want) {
                fprintf(stderr, "  step %zu rule %s: due != %d\n", k, errs[i].rule->id, want);
                CHECK(0);
            }
        }
    }
    iw_scratch_destroy(s);
}

/* The alert of an evaluation error names the reason, the field and its
 * value, and carries the request like any alert. */
TEST(engine_eval_error_alert)
{
    const char *yaml = eu_rule(p, "bt", "    sel:\n        cs-uri-query|re: '(a|aa)+\\1$'\n"
                                         "    condition: sel");
    const char *q = run_of(p, "/x?", 'a', 40, "b");
    iw_diag_t *d;
    iw_engine_t *e = eu_compile(p, yaml, &d, NULL);
    iw_scratch_t *s;
    iw_request_desc_t rd;
    iw_event_t ev;
    char *buf = apr_palloc(p, 65536), out[8192];
    const iw_hit_t *hits;
    const iw_eval_error_t *errs;
    iw_alert_t a;
    size_t len;
    extern int iw_test_json_valid(const char *s, size_t len);

    REQUIRE(e != NULL);
    REQUIRE((s = iw_scratch_create(e)) != NULL);
    memset(&rd, 0, sizeof(rd));
    rd.method = (iw_str_t){ "GET", 3 };
    rd.target = (iw_str_t){ q, strlen(q) };
    rd.client_ip = (iw_str_t){ "192.0.2.9", 9 };
    rd.sc_bytes = rd.cs_bytes = rd.time_taken_ms = -1;
    iw_event_init(&ev, buf, 65536);
    iw_event_from_request(&ev, &rd);
    CHECK_INT(iw_engine_eval(e, s, &ev, &hits), 0);
    REQUIRE(iw_engine_eval_errors(s, &errs) == 1);
    memset(&a, 0, sizeof(a));
    a.rule = errs[0].rule;
    a.ev = &ev;
    a.eval_error = &errs[0];
    a.ruleset = "sigma";
    len = iw_alert_json(&a, out, sizeof(out));
    CHECK(iw_test_json_valid(out, len));
    CHECK_CONTAINS(out, "{\"rule\":{\"id\":\"bt\"");
    CHECK_CONTAINS(out, "\"evaluation_error\":{\"reason\":\"regex match limit\","
                        "\"field\":\"cs-uri-query\",\"code\":-47,\"value\":\"aaaa");
    CHECK_CONTAINS(out, "\"source\":{\"ip\":\"192.0.2.9\"");
    CHECK_CONTAINS(out, "/x?aaaa");
    iw_scratch_destroy(s);
}
