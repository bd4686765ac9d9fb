/* Engine: conditions, filters, field slots, candidate pruning, evidence,
 * options, and the SigmaHQ rule set. */
#include "engine_util.h"

/* Compile YAML that must be valid; print the diagnostics otherwise. */
static iw_engine_t *must_compile(apr_pool_t *p, const char *yaml, int *failed)
{
    iw_diag_t *dg;
    iw_engine_t *e = eu_compile(p, yaml, &dg, NULL);
    int i;
    if (!e) {
        for (i = 0; i < dg->msgs->nelts; i++)
            fprintf(stderr, "    diag: %s\n", APR_ARRAY_IDX(dg->msgs, i, iw_diag_msg_t).text);
        (*failed)++;
    }
    return e;
}

#define COND_SELS \
    "    sel_a:\n        cs-uri-stem|contains: 'aaa'\n" \
    "    sel_b:\n        cs-uri-stem|contains: 'bbb'\n" \
    "    other:\n        cs-user-agent|contains: 'ccc'\n"

static int cond_fires(apr_pool_t *p, const char *cond, const char *target, const char *ua)
{
    return eu_one(p, apr_pstrcat(p, COND_SELS, "    condition: ", cond, NULL),
                  &(treq_t){ .target = target, .ua = ua });
}

TEST(engine_cond_forms)
{
    CHECK_INT(cond_fires(p, "sel_a and sel_b", "/aaa/bbb", NULL), 1);
    CHECK_INT(cond_fires(p, "sel_a and sel_b", "/aaa", NULL), 0);
    CHECK_INT(cond_fires(p, "sel_a or sel_b", "/bbb", NULL), 1);
    CHECK_INT(cond_fires(p, "sel_a or sel_b", "/ccc", NULL), 0);
    CHECK_INT(cond_fires(p, "not sel_a", "/x", NULL), 1);
    CHECK_INT(cond_fires(p, "not sel_a", "/aaa", NULL), 0);
    CHECK_INT(cond_fires(p, "sel_a and not other", "/aaa", "x"), 1);
    CHECK_INT(cond_fires(p, "sel_a and not other", "/aaa", "ccc"), 0);
    CHECK_INT(cond_fires(p, "1 of sel_*", "/bbb", NULL), 1);
    CHECK_INT(cond_fires(p, "1 of sel_*", "/ccc", "ccc"), 0);
    CHECK_INT(cond_fires(p, "all of sel_*", "/aaabbb", NULL), 1);
    CHECK_INT(cond_fires(p, "all of sel_*", "/aaa", "ccc"), 0);
    CHECK_INT(cond_fires(p, "1 of them", "/", "ccc"), 1);
    CHECK_INT(cond_fires(p, "1 of them", "/", "x"), 0);
    CHECK_INT(cond_fires(p, "all of them", "/aaabbb", "ccc"), 1);
    CHECK_INT(cond_fires(p, "all of them", "/aaabbb", "x"), 0);
    CHECK_INT(cond_fires(p, "(sel_a or sel_b) and other", "/bbb", "ccc"), 1);
    CHECK_INT(cond_fires(p, "(sel_a or sel_b) and other", "/bbb", "x"), 0);
    CHECK_INT(cond_fires(p, "sel_a and not (sel_b or other)", "/aaa", "x"), 1);
    CHECK_INT(cond_fires(p, "sel_a and not (sel_b or other)", "/aaa", "ccc"), 0);
    CHECK_INT(cond_fires(p, "not 1 of sel_*", "/x", NULL), 1);
    CHECK_INT(cond_fires(p, "not 1 of sel_*", "/bbb", NULL), 0);
}

TEST(engine_groups_and_items)
{
    /* map = AND of items; list of maps = OR of groups */
    const char *and_map = "    sel:\n        cs-method: 'POST'\n        cs-uri-stem|endswith: '.php'\n"
                          "    condition: sel";
    const char *or_list = "    sel:\n        - cs-method: 'PUT'\n        - cs-uri-stem|endswith: '.jsp'\n"
                          "    condition: sel";
    FIRES(and_map, .method = "POST", .target = "/a.php");
    QUIET(and_map, .method = "GET", .target = "/a.php");
    FIRES(or_list, .method = "PUT", .target = "/x");
    FIRES(or_list, .method = "GET", .target = "/x.jsp");
    QUIET(or_list, .method = "GET", .target = "/x.php");
}

TEST(engine_slots)
{
    /* SigmaHQ puts paths in cs-uri-query: the item matches on the stem,
     * the query or the whole target */
    FIRES("    sel:\n        cs-uri-query|contains: '/wp-admin/'\n    condition: sel",
          .target = "/wp-admin/x.php");
    FIRES("    sel:\n        cs-uri-stem|contains: 'cmd='\n    condition: sel",
          .target = "/x.php?cmd=id");
    /* anchored values are tried on each slot */
    FIRES("    sel:\n        cs-uri-query|endswith: '.env'\n    condition: sel", .target = "/.env");
    FIRES("    sel:\n        cs-uri-stem|startswith: 'a=1'\n    condition: sel", .target = "/x?a=1&b");
    FIRES("    sel:\n        cs-uri-query: '/etc/passwd'\n    condition: sel", .target = "/etc/passwd");
    FIRES("    sel:\n        cs-uri-query: '/x?q=1'\n    condition: sel", .target = "/x?q=1");
    QUIET("    sel:\n        cs-uri-query: '/etc'\n    condition: sel", .target = "/etc/passwd");
    QUIET("    sel:\n        cs-uri-stem|endswith: '.env'\n    condition: sel", .target = "/.env.bak?x");
    /* |all with anchors: all values on the same slot */
    FIRES("    sel:\n        cs-uri-stem|startswith|all:\n            - '/a'\n            - '/ab'\n"
          "    condition: sel", .target = "/abc?q");
    QUIET("    sel:\n        cs-uri-stem|startswith|all:\n            - '/a'\n            - 'q'\n"
          "    condition: sel", .target = "/abc?q");
}

TEST(engine_filters)
{
    const char *yaml = apr_pstrcat(p,
        eu_rule(p, "det1", "    sel:\n        cs-uri-stem|contains: '/admin'\n    condition: sel"),
        "---\n"
        "title: allow the office\nid: filt1\nlogsource:\n    category: webserver\n"
        "filter:\n    rules:\n        - det1\n    selection:\n        c-ip|cidr: '10.0.0.0/8'\n"
        "    condition: selection\n", NULL);
    iw_engine_t *e = must_compile(p, yaml, iw_failed_);
    iw_scratch_t *s;
    const iw_hit_t *hits;
    int n;

    REQUIRE(e != NULL);
    CHECK_INT(iw_engine_rule_count(e), 1);
    s = iw_scratch_create(e);
    n = eu_eval(p, e, s, &(treq_t){ .target = "/admin", .client = "203.0.113.5" }, &hits);
    CHECK(eu_fired(hits, n, "det1"));
    n = eu_eval(p, e, s, &(treq_t){ .target = "/admin", .client = "10.2.3.4" }, &hits);
    CHECK_INT(n, 0);
    n = eu_eval(p, e, s, &(treq_t){ .target = "/home", .client = "203.0.113.5" }, &hits);
    CHECK_INT(n, 0);
    iw_scratch_destroy(s);
}

TEST(engine_negative_only_rule_is_candidate)
{
    /* no positive predicate fires, the rule must still be evaluated */
    const char *yaml = eu_rule(p, "neg1", "    sel:\n        cs-user-agent|contains: 'Mozilla'\n"
                               "    condition: not sel");
    iw_engine_t *e = must_compile(p, yaml, iw_failed_);
    iw_scratch_t *s;
    const iw_hit_t *hits;
    int n, i;

    REQUIRE(e != NULL);
    s = iw_scratch_create(e);
    for (i = 0; i < 3; i++) {   /* repeated: bits must be reset between events */
        n = eu_eval(p, e, s, &(treq_t){ .ua = "curl/8" }, &hits);
        CHECK(eu_fired(hits, n, "neg1"));
        n = eu_eval(p, e, s, &(treq_t){ .ua = "Mozilla/5.0" }, &hits);
        CHECK(!eu_fired(hits, n, "neg1"));
    }
    iw_scratch_destroy(s);
}

TEST(engine_evidence)
{
    const char *yaml = eu_rule(p, "ev1",
        "    sel:\n        cs-method: 'POST'\n        cs-uri-query|contains: 'cmd='\n"
        "    ua:\n        cs-user-agent|contains: 'python'\n"
        "    condition: sel and ua");
    iw_engine_t *e = must_compile(p, yaml, iw_failed_);
    iw_scratch_t *s;
    const iw_hit_t *hits;
    int n, i, seen_uri = 0, seen_ua = 0, seen_m = 0;

    REQUIRE(e != NULL);
    s = iw_scratch_create(e);
    n = eu_eval(p, e, s, &(treq_t){ .method = "POST", .target = "/x?cmd=id", .ua = "python-requests" }, &hits);
    REQUIRE(n == 1);
    CHECK(hits[0].nmatches >= 2 && hits[0].nmatches <= IW_MAX_MATCHES_PER_HIT);
    for (i = 0; i < hits[0].nmatches; i++) {
        const iw_match_t *m = &hits[0].matches[i];
        if (m->field == IW_F_CS_URI) {
            seen_uri = 1;
            CHECK(m->value.p && m->value.len == 9 && !memcmp(m->value.p, "/x?cmd=id", 9));
        }
        if (m->field == IW_F_CS_USER_AGENT) seen_ua = 1;
        if (m->field == IW_F_CS_METHOD) seen_m = 1;
    }
    CHECK(seen_uri);
    CHECK(seen_ua);
    CHECK(seen_m);
    iw_scratch_destroy(s);
}

TEST(engine_keywords_error_events)
{
    const char *yaml =
        "title: error kw\nid: err1\nlogsource:\n    product: apache\n    service: apache\n"
        "detection:\n    keywords:\n        - 'script not found'\n    condition: keywords\n";
    iw_engine_t *e = must_compile(p, yaml, iw_failed_);
    iw_scratch_t *s;
    const iw_hit_t *hits;
    iw_error_desc_t d;
    iw_event_t ev;
    char buf[4096];
    int n;

    REQUIRE(e != NULL);
    s = iw_scratch_create(e);
    memset(&d, 0, sizeof(d));
    d.message = (iw_str_t){ "AH01264: Script not found or unable to stat: /x.cgi", 51 };
    d.level = (iw_str_t){ "error", 5 };
    d.time = apr_time_from_sec(1764240000);
    iw_event_init(&ev, buf, sizeof(buf));
    iw_event_from_error(&ev, &d);
    n = iw_engine_eval(e, s, &ev, &hits);
    CHECK(eu_fired(hits, n, "err1"));
    /* an access event with the same words is not an error-log event */
    n = eu_eval(p, e, s, &(treq_t){ .target = "/script not found" }, &hits);
    CHECK(!eu_fired(hits, n, "err1"));
    iw_scratch_destroy(s);
}

TEST(engine_opts_level_exclude)
{
    const char *yaml = apr_pstrcat(p,
        "title: low\nid: low1\nlevel: low\nlogsource:\n    category: webserver\n"
        "detection:\n    sel:\n        cs-uri-stem: '/x'\n    condition: sel\n---\n",
        eu_rule(p, "hi1", "    sel:\n        cs-uri-stem: '/x'\n    condition: sel"), "---\n",
        eu_rule(p, "hi2", "    sel:\n        cs-uri-stem: '/x'\n    condition: sel"), NULL);
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    iw_engine_opts_t o = { IW_LEVEL_MEDIUM, apr_array_make(p, 1, sizeof(char *)) };
    iw_engine_t *e;
    iw_scratch_t *s;
    const iw_hit_t *hits;
    int n;

    iw_rules_load_string(rs, "t.yml", yaml, strlen(yaml), d);
    iw_ruleset_link(rs, d);
    REQUIRE(d->errors == 0);
    APR_ARRAY_PUSH(o.exclude_ids, const char *) = "hi2";
    e = iw_engine_compile(p, rs, &o, d);
    REQUIRE(e != NULL);
    CHECK_INT(iw_engine_rule_count(e), 1);
    CHECK(iw_engine_ruleset(e) == rs);
    s = iw_scratch_create(e);
    n = eu_eval(p, e, s, &(treq_t){ .target = "/x" }, &hits);
    CHECK_INT(n, 1);
    CHECK(eu_fired(hits, n, "hi1"));
    iw_scratch_destroy(s);
}

TEST(engine_many_rules_hit_order)
{
    /* 300 rules, shared and distinct predicates; hits in load order */
    apr_array_header_t *parts = apr_array_make(p, 300, sizeof(char *));
    iw_engine_t *e;
    iw_scratch_t *s;
    const iw_hit_t *hits;
    int i, n;

    for (i = 0; i < 300; i++)
        APR_ARRAY_PUSH(parts, const char *) = eu_rule(p, apr_psprintf(p, "m%03d", i),
            apr_psprintf(p, "    sel:\n        cs-method: 'GET'\n        cs-uri-query|contains: 'tok%d.'\n"
                         "    condition: sel", i % 100));
    {
        char *y = "";
        for (i = 0; i < 300; i++)
            y = apr_pstrcat(p, y, i ? "---\n" : "", APR_ARRAY_IDX(parts, i, const char *), NULL);
        e = must_compile(p, y, iw_failed_);
    }
    REQUIRE(e != NULL);
    CHECK_INT(iw_engine_rule_count(e), 300);
    s = iw_scratch_create(e);
    n = eu_eval(p, e, s, &(treq_t){ .target = "/q?x=tok7.&y=tok42." }, &hits);
    CHECK_INT(n, 6);
    for (i = 1; i < n; i++) CHECK(hits[i - 1].rule->index < hits[i].rule->index);
    CHECK(eu_fired(hits, n, "m007") && eu_fired(hits, n, "m107") && eu_fired(hits, n, "m242"));
    n = eu_eval(p, e, s, &(treq_t){ .method = "POST", .target = "/q?x=tok7." }, &hits);
    CHECK_INT(n, 0);
    iw_scratch_destroy(s);
}

TEST(engine_sigmahq_compiles)
{
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    iw_engine_t *e;
    int i;

    iw_rules_load(rs, "/work/shared/sigma/sigmahq-rules/rules", d);
    iw_rules_load(rs, "/work/shared/sigma/sigmahq-rules/rules-emerging-threats", d);
    iw_ruleset_link(rs, d);
    e = iw_engine_compile(p, rs, NULL, d);
    for (i = 0; i < d->msgs->nelts; i++)
        if (APR_ARRAY_IDX(d->msgs, i, iw_diag_msg_t).level == IW_DIAG_ERROR)
            fprintf(stderr, "    diag: %s\n", APR_ARRAY_IDX(d->msgs, i, iw_diag_msg_t).text);
    CHECK_INT(d->errors, 0);
    REQUIRE(e != NULL);
    CHECK_INT(iw_engine_rule_count(e), 88);
}

/* ---- SigmaHQ conformance requests (tests/sigmahq/requests.jsonl) ---- */

#include <stdlib.h>
#include "iw_logfmt.h"

/* Does the JSON line's "expect" list contain `id`?  (Rule ids are UUIDs:
 * a plain substring search inside the list is exact enough.) */
static int expect_list(const char *line, const char **start, const char **end)
{
    const char *s = strstr(line, "\"expect\":");
    if (!s || !(s = strchr(s, '['))) return 0;
    *start = s;
    *end = strchr(s, ']');
    return *end != NULL;
}

TEST(engine_sigmahq_conformance)
{
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    iw_engine_t *e;
    iw_scratch_t *s;
    FILE *f;
    char *line = NULL, *pbuf, *ebuf;
    size_t cap = 0;
    ssize_t len;
    int n_attack = 0, n_benign = 0, bad = 0, lineno = 0;

    iw_rules_load(rs, "/work/shared/sigma/sigmahq-rules/rules", d);
    iw_rules_load(rs, "/work/shared/sigma/sigmahq-rules/rules-emerging-threats", d);
    iw_ruleset_link(rs, d);
    e = iw_engine_compile(p, rs, NULL, d);
    REQUIRE(e != NULL);
    f = fopen(iw_test_path(p, "tests/sigmahq/requests.jsonl"), "r");
    if (!f) { fprintf(stderr, "  (tests/sigmahq/requests.jsonl missing: skipped)\n"); return; }
    s = iw_scratch_create(e);
    pbuf = apr_palloc(p, 1 << 20);
    ebuf = apr_palloc(p, 65536);
    while ((len = getline(&line, &cap, f)) > 0 && lineno < 10000) {
        iw_parsed_t pr;
        iw_event_t ev;
        const iw_hit_t *hits;
        const char *why, *ls, *le;
        int nh, i, want_any;
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (!len || (size_t)len * 2 + 64 > (1 << 20) || !expect_list(line, &ls, &le)) continue;
        memset(&pr, 0, sizeof(pr));
        pr.buf = pbuf;
        pr.buf_size = 1 << 20;
        if (!iw_logfmt_parse(IW_INPUT_JSONL, line, (size_t)len, &pr, &why)) continue;
        iw_event_init(&ev, ebuf, 65536);
        iw_event_from_request(&ev, &pr.req);
        nh = iw_engine_eval(e, s, &ev, &hits);
        want_any = memchr(ls, '"', (size_t)(le - ls)) != NULL;
        if (!want_any) {
            n_benign++;
            if (nh) {
                bad++;
                fprintf(stderr, "  line %d: benign request fired %s\n", lineno, hits[0].rule->id);
            }
            continue;
        }
        n_attack++;
        if (strstr(line, "\"gap\":")) continue;   /* rule defect, tested by the CLI suite */
        /* every expected id must have fired */
        for (const char *q = ls; (q = memchr(q, '"', (size_t)(le - q))) && q < le; ) {
            const char *qe = memchr(q + 1, '"', (size_t)(le - q - 1));
            int found = 0;
            if (!qe) break;
            for (i = 0; i < nh; i++)
                if (hits[i].rule->id && strlen(hits[i].rule->id) == (size_t)(qe - q - 1)
                    && !memcmp(hits[i].rule->id, q + 1, (size_t)(qe - q - 1))) found = 1;
            if (!found) {
                bad++;
                fprintf(stderr, "  line %d: expected rule %.*s did not fire\n", lineno,
                        (int)(qe - q - 1), q + 1);
            }
            q = qe + 1;
        }
    }
    free(line);
    fclose(f);
    iw_scratch_destroy(s);
    CHECK(n_attack > 50);
    CHECK(n_benign > 10);
    CHECK_INT(bad, 0);
}
