/* SPDX-License-Identifier: Apache-2.0 */
/* Engine: conditions, filters, field slots, candidate pruning, evidence,
 * options, and the SigmaHQ rule set. */
#include "engine_util.h"

/* Compile YAML that must be valid; print the diagnostics otherwise. */
static iw_engine_t *must_compile(apr_pool_t *p, const char *yaml, int *failed)
{
    iw_diag_t *dg;
    iw_engine_t *e = eu_compile(p, yaml, &dg, NULL);
    if (!e) {
        iw_diag_print(dg, stderr, "    diag: ");
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
    /* |neq: the value is on none of the slots */
    QUIET("    sel:\n        cs-uri-query|neq: '/x'\n    condition: sel", .target = "/x");
    FIRES("    sel:\n        cs-uri-query|neq: '/x'\n    condition: sel", .target = "/y");
    /* null and exists concern the named field only, not its slots */
    QUIET("    sel:\n        cs-uri-stem: null\n    condition: sel", .target = "/a");
    FIRES("    sel:\n        cs-uri-query: null\n    condition: sel", .target = "/a");
    QUIET("    sel:\n        cs-uri-query: null\n    condition: sel", .target = "/a?b=1");
    FIRES("    sel:\n        cs-uri-query|exists: false\n    condition: sel", .target = "/a");
}

TEST(engine_filters)
{
    const char *yaml = apr_pstrcat(p,
        eu_rule(p, "det1", "    sel:\n        cs-uri-stem|contains: '/admin'\n    condition: sel"),
        "---\n"
        "title: allow the office\nid: filt1\nlogsource:\n    category: webserver\n"
        "filter:\n    rules:\n        - det1\n    selection:\n        c-ip|cidr: '10.0.0.0/8'\n"
        "    condition: not selection\n", NULL);
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
    iw_engine_opts_t o = { .min_level = IW_LEVEL_MEDIUM,
                           .exclude_ids = apr_array_make(p, 1, sizeof(char *)) };
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

    iw_rules_load(rs, iw_test_path(p, "../shared/sigma/sigmahq-rules/rules"), d);
    iw_rules_load(rs, iw_test_path(p, "../shared/sigma/sigmahq-rules/rules-emerging-threats"), d);
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
#include <ctype.h>
#include <strings.h>
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

    iw_rules_load(rs, iw_test_path(p, "../shared/sigma/sigmahq-rules/rules"), d);
    iw_rules_load(rs, iw_test_path(p, "../shared/sigma/sigmahq-rules/rules-emerging-threats"), d);
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

/* ---- robustness: random events against many modifiers ---- */

#include <pthread.h>

static const char *robust_rules =
    "title: r\nid: rob1\nlogsource:\n    category: webserver\ndetection:\n"
    "    a:\n        cs-uri-query|contains|all: ['a', 'b']\n"
    "    b:\n        cs-user-agent|re|i: '^(x|y)+z$'\n"
    "    c:\n        c-ip|cidr: ['10.0.0.0/8', '::/0']\n"
    "    d:\n        cs-uri-stem|base64offset|contains: 'hello'\n"
    "    e:\n        cs-referer|windash|contains: '-x'\n"
    "    f:\n        sc-status|gte: 500\n"
    "    g:\n        cs-referer|fieldref: cs-host\n"
    "    h:\n        cs-referer: null\n"
    "    i:\n        cs-uri-stem: '/?a*\\\\*'\n"
    "    condition: 1 of them and not h\n"
    "---\n"
    "title: k\nid: rob2\nlogsource:\n    category: webserver\ndetection:\n"
    "    k:\n        - 'zz'\n        - '%00'\n    condition: not k\n";

static uint32_t rs_next(uint32_t *x) { *x ^= *x << 13; *x ^= *x >> 17; *x ^= *x << 5; return *x; }

static char *rand_str(apr_pool_t *p, uint32_t *x, size_t max)
{
    size_t n = rs_next(x) % (max + 1), i;
    char *s = apr_palloc(p, n + 1);
    static const char alpha[] = "abxyzAB/?=&%-.:\\*\x00\xe2\x80\x94\xff 0123456789";
    for (i = 0; i < n; i++) s[i] = alpha[rs_next(x) % (sizeof(alpha) - 1)];
    s[n] = '\0';
    return s;
}

typedef struct robust_ctx { const iw_engine_t *e; uint32_t seed; int rounds; long sum; int *per; } robust_ctx_t;

static void *robust_run(void *arg)
{
    robust_ctx_t *c = arg;
    apr_pool_t *p;
    iw_scratch_t *s = iw_scratch_create(c->e);
    char *buf = malloc(65536);
    uint32_t x = c->seed;
    int i;

    /* own allocator: this runs in several threads at once */
    {
        apr_allocator_t *al;
        apr_allocator_create(&al);
        apr_pool_create_ex(&p, NULL, NULL, al);
        apr_allocator_owner_set(al, p);
    }
    for (i = 0; i < c->rounds; i++) {
        iw_request_desc_t d;
        iw_event_t ev;
        iw_str_t names[3], vals[3];
        const iw_hit_t *hits;
        char *t = rand_str(p, &x, (rs_next(&x) & 15) ? 80 : 9000);
        memset(&d, 0, sizeof(d));
        d.method = (iw_str_t){ "GET", 3 };
        t[0] = '/';
        d.target = (iw_str_t){ t, strlen(t) ? strlen(t) : 1 };
        d.version = (iw_str_t){ "HTTP/1.1", 8 };
        names[0] = (iw_str_t){ "User-Agent", 10 };
        vals[0].p = rand_str(p, &x, 40); vals[0].len = rs_next(&x) % 41;
        if (vals[0].len > strlen(vals[0].p)) vals[0].len = strlen(vals[0].p);
        names[1] = (iw_str_t){ "Referer", 7 };
        vals[1].p = rand_str(p, &x, 40); vals[1].len = strlen(vals[1].p);
        names[2] = (iw_str_t){ "Host", 4 };
        vals[2] = vals[1];
        d.hdr_names = names; d.hdr_values = vals; d.nhdrs = 1 + (int)(rs_next(&x) % 3);
        d.status = 100 + (int)(rs_next(&x) % 500);
        d.sc_bytes = d.cs_bytes = d.time_taken_ms = -1;
        d.client_ip = (rs_next(&x) & 1) ? (iw_str_t){ "10.1.2.3", 8 } : (iw_str_t){ "::ffff:1.2.3.4", 14 };
        d.time = apr_time_from_sec(1764240000);
        iw_event_init(&ev, buf, 65536);
        iw_event_from_request(&ev, &d);
        {
            int nh = iw_engine_eval(c->e, s, &ev, &hits);
            c->sum += nh * (i + 1);
            if (c->per) c->per[i] = nh * 1000 + (nh ? hits[0].rule->index : 0);
        }
        if (!(i & 63)) apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    free(buf);
    iw_scratch_destroy(s);
    return NULL;
}

TEST(engine_robust_random_events)
{
    iw_engine_t *e = must_compile(p, robust_rules, iw_failed_);
    robust_ctx_t one = { NULL, 12345, 3000, 0, NULL };
    REQUIRE(e != NULL);
    one.e = e;
    robust_run(&one);
    CHECK(one.sum > 0);
}

TEST(engine_threads_share_engine)
{
    /* two threads, own scratch each, same results as one thread */
    iw_engine_t *e = must_compile(p, robust_rules, iw_failed_);
    robust_ctx_t ref = { NULL, 777, 1500, 0, NULL }, c[2];
    pthread_t th[2];
    int i;
    REQUIRE(e != NULL);
    ref.e = e;
    ref.per = apr_pcalloc(p, sizeof(int) * 1500);
    robust_run(&ref);
    for (i = 0; i < 2; i++) {
        c[i] = ref;
        c[i].sum = 0;
        c[i].per = apr_pcalloc(p, sizeof(int) * 1500);
        pthread_create(&th[i], NULL, robust_run, &c[i]);
    }
    for (i = 0; i < 2; i++) pthread_join(th[i], NULL);
    {
        robust_ctx_t again = ref;
        again.sum = 0;
        again.per = NULL;
        robust_run(&again);
        CHECK_INT(again.sum, ref.sum);
        again.sum = 0;
        pthread_create(&th[0], NULL, robust_run, &again);
        pthread_join(th[0], NULL);
        CHECK_INT(again.sum, ref.sum);
    }
    for (i = 0; i < 1500; i++)
        if (c[0].per[i] != ref.per[i]) {
            fprintf(stderr, "  first difference at round %d: %d vs %d\n", i, c[0].per[i], ref.per[i]);
            break;
        }
    CHECK_INT(c[0].sum, ref.sum);
    CHECK(c[1].sum == ref.sum);
}

TEST(engine_vectorscan_single_byte)
{
    /* one-byte patterns past offset 64 (a Vectorscan SINGLEMATCH defect) */
    char ua[200];
    memset(ua, 'x', sizeof(ua));
    ua[sizeof(ua) - 1] = '\0';
    ua[150] = 'q';
    FIRES("    sel:\n        cs-user-agent|contains: 'q'\n    condition: sel", .ua = ua);
    FIRES("    sel:\n        cs-user-agent|contains:\n            - 'q'\n            - 'zzzz'\n"
          "    condition: sel", .ua = ua);
    FIRES("    sel:\n        cs-user-agent|re: 'q+'\n    condition: sel", .ua = ua);
    FIRES("    kw:\n        - 'q'\n    condition: kw", .ua = ua);
    ua[150] = 'x';
    QUIET("    sel:\n        cs-user-agent|contains: 'q'\n    condition: sel", .ua = ua);
}

/* ---- differential: engine vs a naive reference matcher ---- */

/* Reference Sigma string match: escapes \* \? \\ (any other backslash is
 * literal), '*' any run, '?' one byte, ASCII caseless unless cased. */
static int ref_glob(const char *p, size_t pn, const char *s, size_t sn, int cased)
{
    while (pn) {
        if (*p == '*') {
            size_t k;
            for (k = 0; k <= sn; k++)
                if (ref_glob(p + 1, pn - 1, s + k, sn - k, cased)) return 1;
            return 0;
        }
        if (!sn) return 0;
        if (*p == '?') { p++; pn--; s++; sn--; continue; }
        {
            char c = *p;
            size_t used = 1;
            if (c == '\\' && pn > 1 && (p[1] == '*' || p[1] == '?' || p[1] == '\\')) {
                c = p[1];
                used = 2;
            }
            if (cased ? c != *s : tolower((unsigned char)c) != tolower((unsigned char)*s)) return 0;
            p += used; pn -= used; s++; sn--;
        }
    }
    return sn == 0;
}

static void differential_wildcards(apr_pool_t *p, int *iw_failed_, int merged);

TEST(engine_differential_wildcards)
{
    differential_wildcards(p, iw_failed_, 0);
    differential_wildcards(p, iw_failed_, 1);
}

/* merged = 1 adds a keyword rule: _raw is scanned, so the substring
 * literals of cs-user-agent are scanned inside _raw (merged scan) */
static void differential_wildcards(apr_pool_t *p, int *iw_failed_, int merged)
{
    static const char alpha[] = "abA/.*?\\";
    static const char *mods[] = { "", "|contains", "|startswith", "|endswith", "|cased",
                                  "|contains|cased" };
    enum { NR = 240, NE = 400 };
    char vals[NR][8];
    int modi[NR], i, j, bad = 0;
    uint32_t x = 99;
    apr_array_header_t *docs = apr_array_make(p, NR, sizeof(char *));
    iw_engine_t *e;
    iw_scratch_t *s;

    for (i = 0; i < NR; i++) {
        int n = 1 + (int)(rs_next(&x) % 6);
        if (i >= 200) {                 /* duplicates: shared predicates */
            memcpy(vals[i], vals[i - 200], sizeof(vals[i]));
            modi[i] = modi[i - 200];
        } else {
            for (j = 0; j < n; j++) vals[i][j] = alpha[rs_next(&x) % (sizeof(alpha) - 1)];
            vals[i][n] = '\0';
            modi[i] = (int)(rs_next(&x) % 6);
        }
        APR_ARRAY_PUSH(docs, const char *) = apr_psprintf(p, "%stitle: d\nid: d%d\nlogsource:\n"
            "    category: webserver\ndetection:\n    sel:\n        cs-user-agent%s: '%s'\n"
            "    condition: sel\n", i ? "---\n" : "", i, mods[modi[i]], vals[i]);
    }
    if (merged)
        APR_ARRAY_PUSH(docs, const char *) = "---\ntitle: k\nid: kw\nlogsource:\n"
            "    category: webserver\ndetection:\n    k:\n        - 'qqqqqq'\n    condition: k\n";
    e = must_compile(p, apr_array_pstrcat(p, docs, 0), iw_failed_);
    REQUIRE(e != NULL);
    {
        iw_engine_stats_t st;
        iw_engine_stats(e, &st);
        CHECK(merged ? st.merged_literals > 0 : st.merged_literals == 0);
    }
    s = iw_scratch_create(e);
    for (j = 0; j < NE && bad < 5; j++) {
        char ua[128];
        int n = (int)(rs_next(&x) % ((j & 7) ? 10 : 100)), k;
        const iw_hit_t *hits;
        int nh;
        for (k = 0; k < n; k++) ua[k] = alpha[rs_next(&x) % (sizeof(alpha) - 1)];
        ua[n] = '\0';
        nh = eu_eval(p, e, s, &(treq_t){ .ua = ua }, &hits);
        for (i = 0; i < NR; i++) {
            const char *v = vals[i];
            int m = modi[i], cased = m >= 4;
            int open_s = m == 1 || m == 3 || m == 5, open_e = m == 1 || m == 2 || m == 5;
            int want = 0, got;
            size_t a, z;
            /* contains/startswith/endswith: the value matches some
             * substring / prefix / suffix of the user agent */
            for (a = 0; a <= (size_t)n && !want && (open_s || !a); a++)
                for (z = (size_t)n; z >= a && !want && (open_e || z == (size_t)n); z--) {
                    want = ref_glob(v, strlen(v), ua + a, z - a, cased);
                    if (!z) break;
                }
            got = eu_fired(hits, nh, apr_psprintf(p, "d%d", i));
            if (got != want && bad++ < 5)
                fprintf(stderr, "  value '%s'%s on '%s': engine %d, reference %d\n",
                        v, mods[m], ua, got, want);
        }
    }
    iw_scratch_destroy(s);
    CHECK_INT(bad, 0);
}

static void differential_small(apr_pool_t *p, int *iw_failed_, int merged);

TEST(engine_differential_small_literals)
{
    differential_small(p, iw_failed_, 0);
    differential_small(p, iw_failed_, 1);
}

static void differential_small(apr_pool_t *p, int *iw_failed_, int merged)
{
    /* a few plain contains values on one field: compared directly for
     * short values, through Vectorscan for long ones; both must agree
     * with the reference */
    enum { NR = 12, NE = 600 };
    static const char alpha[] = "abA/.";
    char vals[NR][4];
    int i, j, bad = 0;
    uint32_t x = 4242;
    apr_array_header_t *docs = apr_array_make(p, NR, sizeof(char *));
    iw_engine_t *e;
    iw_scratch_t *s;

    for (i = 0; i < NR; i++) {
        int n = 1 + (int)(rs_next(&x) % 3);
        for (j = 0; j < n; j++) vals[i][j] = alpha[rs_next(&x) % (sizeof(alpha) - 1)];
        vals[i][n] = '\0';
        APR_ARRAY_PUSH(docs, const char *) = apr_psprintf(p, "%stitle: d\nid: s%d\nlogsource:\n"
            "    category: webserver\ndetection:\n    sel:\n        cs-referer|contains%s: '%s'\n"
            "    condition: sel\n", i ? "---\n" : "", i, (i & 3) ? "" : "|cased", vals[i]);
    }
    if (merged)
        APR_ARRAY_PUSH(docs, const char *) = "---\ntitle: k\nid: kw\nlogsource:\n"
            "    category: webserver\ndetection:\n    k:\n        - 'qqqqqq'\n    condition: k\n";
    e = must_compile(p, apr_array_pstrcat(p, docs, 0), iw_failed_);
    REQUIRE(e != NULL);
    s = iw_scratch_create(e);
    for (j = 0; j < NE && bad < 5; j++) {
        char ref[160];
        int n = (int)(rs_next(&x) % ((j & 1) ? 12 : 150)), k, nh;
        const iw_hit_t *hits;
        for (k = 0; k < n; k++) ref[k] = "xyzBa/."[rs_next(&x) % 7];
        ref[n] = '\0';
        nh = eu_eval(p, e, s, &(treq_t){ .referer = ref }, &hits);
        for (i = 0; i < NR; i++) {
            size_t vl = strlen(vals[i]), a;
            int want = 0, got, cased = !(i & 3);
            for (a = 0; a + vl <= (size_t)n && !want; a++)
                want = cased ? !memcmp(ref + a, vals[i], vl) : !strncasecmp(ref + a, vals[i], vl);
            got = eu_fired(hits, nh, apr_psprintf(p, "s%d", i));
            if (got != want && bad++ < 5)
                fprintf(stderr, "  '%s'%s in '%s': engine %d, reference %d\n", vals[i],
                        cased ? " (cased)" : "", ref, got, want);
        }
    }
    iw_scratch_destroy(s);
    CHECK_INT(bad, 0);
}

/* Lazy predicates (values of |all items, non-trigger items of AND groups,
 * filters, numbers): rules built from atoms, each atom also compiled as a
 * rule of its own in a second engine (there it triggers, so it is
 * scanned).  A combined rule must fire exactly when its atoms do. */
static const char *const lazy_atoms[] = {
    "cs-uri-query|contains: 'ab'", "cs-uri-query|contains: 'b/'",
    "cs-uri-query|contains|cased: 'aB'", "cs-uri-stem|startswith: '/a'",
    "cs-uri-stem|endswith: '.x'", "cs-user-agent|contains: 'zz'",
    "cs-user-agent|startswith: 'a'", "cs-user-agent: 'ab'", "cs-referer|endswith: 'b'",
    "cs-method: 'POST'", "sc-status: 200", "sc-status: 404", "cs-method|neq: 'GET'",
    "cs-referer: null", "cs-uri-query|contains: '200'", "cs-user-agent|contains: 'a.x'",
    "cs-uri-query|re: 'a[Bb]'", "cs-user-agent|re|i: '^z.*x'", "cs-uri-query-param-value|re: '^(?:b|20)'",
    "cs-uri|re: '^/(?!a)'",
};
#define NATOMS ((int)(sizeof(lazy_atoms) / sizeof(lazy_atoms[0])))
/* |all items: values of one field, each also an atom "contains" */
static const char *const lazy_all_vals[] = { "ab", "zz", "b/", "x", "20", "/a" };

static int lazy_want(const int *items, int nitems, int notf, const int *atom_hit)
{
    int i, ok = 1;
    for (i = 0; i < nitems && ok; i++) ok = atom_hit[items[i]];
    return ok && (notf < 0 || !atom_hit[notf]);
}

static void lazy_rule_text(apr_pool_t *p, apr_array_header_t *docs, int r, const int *items,
                           int nitems, int notf, const int *allv)
{
    char *det = apr_psprintf(p, "    t:\n        cs-uri-query|contains: 'qqqq%d'\n", r % 4);
    char *cond = "t and ";
    int i;
    /* one selection per item (atoms may share a key).  The long literal of
     * t is the rarest: it triggers, every atom is left to lazy evaluation */
    for (i = 0; i < nitems; i++) {
        if (items[i] < NATOMS)
            det = apr_psprintf(p, "%s    s%d:\n        %s\n", det, i, lazy_atoms[items[i]]);
        else {
            int k = items[i] - NATOMS;   /* |all over allv[2k], allv[2k+1] */
            det = apr_psprintf(p, "%s    s%d:\n        %s|contains|all:\n            - '%s'\n"
                               "            - '%s'\n", det, i, k ? "cs-user-agent" : "cs-uri-query",
                               lazy_all_vals[allv[2 * k]], lazy_all_vals[allv[2 * k + 1]]);
        }
        cond = apr_psprintf(p, "%s%ss%d", cond, i ? " and " : "", i);
    }
    if (notf >= 0)
        det = apr_pstrcat(p, det, "    flt:\n        ", lazy_atoms[notf], "\n", NULL);
    det = apr_pstrcat(p, det, "    condition: ", cond, notf >= 0 ? " and not flt" : "", NULL);
    APR_ARRAY_PUSH(docs, const char *) = apr_pstrcat(p, r ? "---\n" : "",
                                                     eu_rule(p, apr_psprintf(p, "c%d", r), det), NULL);
}

TEST(engine_lazy_predicates_differential)
{
    enum { NR = 120, NE = 600, NALLV = (int)(sizeof(lazy_all_vals) / sizeof(lazy_all_vals[0])) };
    /* atoms 0..NATOMS-1, then per rule up to 2 |all items (k = 0, 1) */
    int items[NR][4], nitems[NR], notf[NR], allv[NR][4], i, j, k, bad = 0;
    uint32_t x = 4242;
    apr_array_header_t *cdocs = apr_array_make(p, NR, sizeof(char *));
    apr_array_header_t *adocs = apr_array_make(p, NATOMS + NALLV * 2, sizeof(char *));
    iw_engine_t *ec, *ea;
    iw_scratch_t *sc, *sa;

    for (i = 0; i < NATOMS; i++)
        APR_ARRAY_PUSH(adocs, const char *) = apr_pstrcat(p, i ? "---\n" : "",
            eu_rule(p, apr_psprintf(p, "a%d", i), apr_pstrcat(p, "    sel:\n        ",
                    lazy_atoms[i], "\n    condition: sel", NULL)), NULL);
    for (i = 0; i < NALLV; i++)
        for (k = 0; k < 2; k++)
            APR_ARRAY_PUSH(adocs, const char *) = apr_pstrcat(p, "---\n",
                eu_rule(p, apr_psprintf(p, "v%d_%d", i, k), apr_psprintf(p,
                        "    sel:\n        %s|contains: '%s'\n    condition: sel",
                        k ? "cs-user-agent" : "cs-uri-query", lazy_all_vals[i])), NULL);
    for (i = 0; i < NR; i++) {
        nitems[i] = 1 + (int)(rs_next(&x) % 4);
        for (j = 0; j < nitems[i]; j++) items[i][j] = (int)(rs_next(&x) % (NATOMS + 2));
        for (j = 0; j < 4; j++) allv[i][j] = (int)(rs_next(&x) % NALLV);
        notf[i] = rs_next(&x) % 3 ? -1 : (int)(rs_next(&x) % NATOMS);
        lazy_rule_text(p, cdocs, i, items[i], nitems[i], notf[i], allv[i]);
    }
    ec = must_compile(p, apr_array_pstrcat(p, cdocs, 0), iw_failed_);
    ea = must_compile(p, apr_array_pstrcat(p, adocs, 0), iw_failed_);
    REQUIRE(ec != NULL && ea != NULL);
    sc = iw_scratch_create(ec);
    sa = iw_scratch_create(ea);
    for (j = 0; j < NE && bad < 5; j++) {
        static const char *const frag[] = { "ab", "aB", "b/", "zz", "/a", ".x", "200", "x", "20",
                                            "a.x", "?", "&", "q" };
        static const char *const meth[] = { "GET", "POST", "PUT" };
        static const int status[] = { 200, 404, 500 };
        char tgt[64], ua[64], ref[16];
        const iw_hit_t *hc, *ha;
        int atom_hit[NATOMS], nc, na, t;
        treq_t rq;
        tgt[0] = ua[0] = '\0';
        for (t = (int)(rs_next(&x) % 5); t >= 0; t--) strcat(tgt, frag[rs_next(&x) % 13]);
        for (t = (int)(rs_next(&x) % 4); t > 0; t--) strcat(ua, frag[rs_next(&x) % 13]);
        snprintf(ref, sizeof(ref), "%s", frag[rs_next(&x) % 13]);
        memset(&rq, 0, sizeof(rq));
        rq.method = meth[rs_next(&x) % 3];
        rq.status = status[rs_next(&x) % 3];
        rq.target = apr_pstrcat(p, rs_next(&x) & 1 ? "/" : "", tgt,
                                rs_next(&x) % 4 ? apr_psprintf(p, "qqqq%d", (int)(rs_next(&x) % 4)) : "",
                                NULL);
        rq.ua = rs_next(&x) % 4 ? ua : NULL;
        rq.referer = rs_next(&x) % 2 ? ref : NULL;
        na = eu_eval(p, ea, sa, &rq, &ha);
        nc = eu_eval(p, ec, sc, &rq, &hc);
        for (i = 0; i < NATOMS; i++) atom_hit[i] = eu_fired(ha, na, apr_psprintf(p, "a%d", i));
        for (i = 0; i < NR; i++) {
            int want, got, it[4], n = 0;
            for (k = 0; k < nitems[i]; k++) {
                if (items[i][k] < NATOMS) { it[n++] = items[i][k]; continue; }
                {
                    int f = items[i][k] - NATOMS, v0 = allv[i][2 * f], v1 = allv[i][2 * f + 1];
                    int ok = eu_fired(ha, na, apr_psprintf(p, "v%d_%d", v0, f))
                          && eu_fired(ha, na, apr_psprintf(p, "v%d_%d", v1, f));
                    if (!ok) { n = -1; break; }
                }
            }
            want = n >= 0 && lazy_want(it, n, notf[i], atom_hit)
                && strstr(rq.target, apr_psprintf(p, "qqqq%d", i % 4));
            got = eu_fired(hc, nc, apr_psprintf(p, "c%d", i));
            if (got != want && bad++ < 5)
                fprintf(stderr, "  rule c%d on %s %s ua=%s ref=%s: engine %d, atoms %d\n", i,
                        rq.method, rq.target, rq.ua ? rq.ua : "-", rq.referer ? rq.referer : "-",
                        got, want);
        }
    }
    iw_scratch_destroy(sc);
    iw_scratch_destroy(sa);
    CHECK_INT(bad, 0);
}

/* A regex that triggers no rule (here a filter that matches almost every
 * query) is not scanned for: PCRE2 runs it only when the rule is a
 * candidate, and the rule's result stays the same. */
TEST(engine_lazy_regex_filter)
{
    static const char *const det =
        "    sel:\n        cs-uri-stem|endswith: '.php'\n"
        "    flt:\n        cs-uri-query|re: '^(?:[^=&]+=[^=&]*)(?:&[^=&]+=[^=&]*)*$'\n"
        "    condition: sel and not flt";
    iw_engine_t *e = must_compile(p, eu_rule(p, "lz", det), iw_failed_);
    iw_engine_stats_t st;
    iw_scratch_t *s;
    const iw_hit_t *h;
    treq_t rq;
    REQUIRE(e != NULL);
    iw_engine_stats(e, &st);
    CHECK_INT(st.databases, 0);    /* .php is a compared literal, the regex lazy */
    s = iw_scratch_create(e);
    memset(&rq, 0, sizeof(rq));
    rq.method = "GET";
    rq.status = 200;
    rq.target = "/a.php?x=1&y=2";
    CHECK_INT(eu_eval(p, e, s, &rq, &h), 0);
    rq.target = "/a.php?-d+allow_url_include";
    CHECK_INT(eu_eval(p, e, s, &rq, &h), 1);
    rq.target = "/a.html?-d";
    CHECK_INT(eu_eval(p, e, s, &rq, &h), 0);
    iw_scratch_destroy(s);
}

/* A value with an inner `*` and a long literal run is scanned for the run
 * and confirmed by PCRE2: same matches, same slot rules (a contains item on
 * cs-uri-query is matched on cs-uri alone, the evidence field), same
 * anchoring, case rules and keywords. */
TEST(engine_star_split)
{
    static const char *const det =
        "    sel:\n        cs-uri-query|contains: '/config/keystore/*.js'\n    condition: sel";
    const char *yaml = eu_rule(p, "st1", det);
    iw_engine_t *e = must_compile(p, yaml, iw_failed_);
    iw_scratch_t *s;
    const iw_hit_t *hits;
    int n;

    REQUIRE(e != NULL);
    s = iw_scratch_create(e);
    n = eu_eval(p, e, s, &(treq_t){ .target = "/CONFIG/KEYSTORE/a/b.JS?x=1" }, &hits);
    REQUIRE(n == 1);
    CHECK_INT(hits[0].nmatches, 1);
    CHECK_INT(hits[0].matches[0].field, IW_F_CS_URI);
    CHECK_INT(eu_eval(p, e, s, &(treq_t){ .target = "/config/keystore/x.j" }, &hits), 0);
    CHECK_INT(eu_eval(p, e, s, &(treq_t){ .target = "/a.js/config/keystore/" }, &hits), 0);
    iw_scratch_destroy(s);
    FIRES(det, .target = "/q?a=/config/keystore/.js");
    FIRES("    sel:\n        cs-uri-stem|startswith: '/config*keystore/'\n    condition: sel",
          .target = "/config/x/keystore/");
    QUIET("    sel:\n        cs-uri-stem|startswith: '/config*keystore/'\n    condition: sel",
          .target = "/x/config/keystore/");
    FIRES("    sel:\n        cs-uri-stem|endswith: '/config*keystore'\n    condition: sel",
          .target = "/a/config/b/keystore");
    QUIET("    sel:\n        cs-uri-stem|endswith: '/config*keystore'\n    condition: sel",
          .target = "/a/config/b/keystore/");
    FIRES("    sel:\n        cs-uri-stem|contains|cased: 'Select*From'\n    condition: sel",
          .target = "/Select_x_From");
    QUIET("    sel:\n        cs-uri-stem|contains|cased: 'Select*From'\n    condition: sel",
          .target = "/select_x_from");
    FIRES("    kw:\n        - 'select * from'\n    condition: kw", .ua = "x SELECT a\nb FROM y");
    QUIET("    kw:\n        - 'select * from'\n    condition: kw", .ua = "x select a fro");
}

/* A lazy filter of literals on one field (the registered methods) is
 * answered from the scratch's memo on a repeated value: the same results
 * as evaluated afresh, value after value, with more such filters than the
 * memo has slots (each rule its own list, so its own predicate). */
TEST(engine_lazy_literal_memo)
{
    static const char *const meth[] = { "GET", "FOO", "GET", "get", "POST", "POST", "GETX",
                                        "GE", "PUT", "FOO", "BAR", "GET" };
    apr_array_header_t *docs = apr_array_make(p, 40, sizeof(char *));
    iw_engine_t *e;
    iw_scratch_t *s, *fresh;
    const iw_hit_t *h;
    treq_t rq;
    int i, j, n, want;

    for (i = 0; i < 40; i++)
        APR_ARRAY_PUSH(docs, const char *) = apr_pstrcat(p, i ? "---\n" : "",
            eu_rule(p, apr_psprintf(p, "m%d", i), apr_psprintf(p,
                "    sel:\n        cs-method|exists: true\n"
                "    ok:\n        cs-method|cased:\n            - 'GET'\n            - 'POST'\n"
                "            - 'X%d'\n    condition: sel and not ok", i)), NULL);
    e = must_compile(p, apr_array_pstrcat(p, docs, 0), iw_failed_);
    REQUIRE(e != NULL);
    s = iw_scratch_create(e);
    for (j = 0; j < 3 * (int)(sizeof(meth) / sizeof(meth[0])); j++) {
        memset(&rq, 0, sizeof(rq));
        rq.method = meth[j % (sizeof(meth) / sizeof(meth[0]))];
        rq.target = apr_psprintf(p, "/x%d", j);     /* no event-cache repeat */
        want = strcmp(rq.method, "GET") && strcmp(rq.method, "POST");
        n = eu_eval(p, e, s, &rq, &h);
        CHECK_INT(n, want ? 40 : 0);
        fresh = iw_scratch_create(e);
        CHECK_INT(eu_eval(p, e, fresh, &rq, &h), n);
        iw_scratch_destroy(fresh);
    }
    memset(&rq, 0, sizeof(rq));
    rq.method = "X7";                  /* rule m7 lets it pass, the others fire */
    n = eu_eval(p, e, s, &rq, &h);
    CHECK_INT(n, 39);
    CHECK(!eu_fired(h, n, "m7"));
    iw_scratch_destroy(s);
}
