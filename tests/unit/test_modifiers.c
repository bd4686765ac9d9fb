/* SPDX-License-Identifier: Apache-2.0 */
/* Engine: value matching semantics, one test per modifier (positive and
 * negative case each). */
#include "engine_util.h"
#include "iw_match_pat.h"
#include "iw_match_radix.h"

#define SEL(x) "    sel:\n        " x "\n    condition: sel"

TEST(mod_plain_equality_caseless)
{
    FIRES(SEL("cs-method: 'get'"), .method = "GET");
    QUIET(SEL("cs-method: 'GE'"), .method = "GET");
    FIRES(SEL("cs-uri-stem: '/Admin/Login.PHP'"), .target = "/admin/login.php");
    QUIET(SEL("cs-uri-stem: '/admin'"), .target = "/admin/login.php");
}

TEST(mod_wildcards)
{
    FIRES(SEL("cs-uri-stem: '/adm?n/*.php'"), .target = "/admin/x/y.php");
    QUIET(SEL("cs-uri-stem: '/adm?n/*.php'"), .target = "/admn/x.php");
    QUIET(SEL("cs-uri-stem: '/adm?n/*.php'"), .target = "/admin/x.phpx");
    FIRES(SEL("cs-user-agent: '*sqlmap*'"), .ua = "Mozilla sqlmap/1.5");
    QUIET(SEL("cs-user-agent: 'sqlmap*'"), .ua = "Mozilla sqlmap/1.5");
    /* a lone * matches any present value, not an absent one */
    FIRES(SEL("cs-referer: '*'"), .referer = "x");
    QUIET(SEL("cs-referer: '*'"), .ua = "x");
}

TEST(mod_escaping)
{
    /* \* and \? are literal */
    FIRES(SEL("cs-uri-query|contains: 'a\\*b'"), .target = "/x?a*b");
    QUIET(SEL("cs-uri-query|contains: 'a\\*b'"), .target = "/x?axxb");
    FIRES(SEL("cs-uri-query|contains: 'q\\?'"), .target = "/x?q?");
    QUIET(SEL("cs-uri-query|contains: 'q\\?'"), .target = "/x?qz");
    /* \\* = backslash then wildcard */
    FIRES(SEL("cs-user-agent: 'a\\\\*'"), .ua = "a\\anything");
    QUIET(SEL("cs-user-agent: 'a\\\\*'"), .ua = "a/anything");
    /* \\\* = backslash and literal star */
    FIRES(SEL("cs-user-agent: 'a\\\\\\*'"), .ua = "a\\*");
    QUIET(SEL("cs-user-agent: 'a\\\\\\*'"), .ua = "a\\xyz");
    /* a backslash before anything else is itself; \\\\ is two */
    FIRES(SEL("cs-user-agent: 'C:\\Windows'"), .ua = "C:\\Windows");
    FIRES(SEL("cs-user-agent: 'a\\\\\\\\b'"), .ua = "a\\\\b");
    QUIET(SEL("cs-user-agent: 'a\\\\\\\\b'"), .ua = "a\\b");
    /* regex metacharacters in values are literal */
    FIRES(SEL("cs-uri-query|contains: '(.+)[x]$^|'"), .target = "/?(.+)[x]$^|");
    QUIET(SEL("cs-uri-query|contains: '(.+)'"), .target = "/?(ab)");
}

TEST(mod_contains_startswith_endswith)
{
    FIRES(SEL("cs-user-agent|contains: 'nikto'"), .ua = "Mozilla (Nikto/2.1)");
    QUIET(SEL("cs-user-agent|contains: 'nikto'"), .ua = "Mozilla");
    FIRES(SEL("cs-user-agent|startswith: 'curl/'"), .ua = "curl/8.0");
    QUIET(SEL("cs-user-agent|startswith: 'curl/'"), .ua = "x curl/8.0");
    FIRES(SEL("cs-user-agent|endswith: 'bot'"), .ua = "SomeBOT");
    QUIET(SEL("cs-user-agent|endswith: 'bot'"), .ua = "SomeBOT/1");
    /* list: OR */
    FIRES(SEL("cs-user-agent|contains:\n            - 'aaa'\n            - 'bbb'"), .ua = "xbbbx");
    QUIET(SEL("cs-user-agent|contains:\n            - 'aaa'\n            - 'bbb'"), .ua = "xcccx");
}

TEST(mod_all)
{
    const char *det = SEL("cs-uri-query|contains|all:\n            - 'union'\n            - 'select'");
    FIRES(det, .target = "/p?id=1 UNION SELECT 2");
    QUIET(det, .target = "/p?id=1 union 2");
    /* all values across the slots of cs-uri-query: one in the path, one in the query */
    FIRES(det, .target = "/union/p?select");
}

TEST(mod_cased)
{
    FIRES(SEL("cs-user-agent|contains|cased: 'Evil'"), .ua = "an Evil one");
    QUIET(SEL("cs-user-agent|contains|cased: 'Evil'"), .ua = "an evil one");
    FIRES(SEL("cs-method|cased: 'GET'"), .method = "GET");
    QUIET(SEL("cs-method|cased: 'GET'"), .method = "get");
}

TEST(mod_keywords)
{
    const char *det = "    keywords:\n        - 'jndi:ldap'\n        - 'passwd'\n    condition: keywords";
    FIRES(det, .ua = "${jndi:ldap://x}");
    FIRES(det, .target = "/etc/passwd");
    QUIET(det, .target = "/index.html", .ua = "Mozilla");
    /* keywords|all: every value somewhere in the event */
    det = "    keywords:\n        '|all':\n            - 'alpha'\n            - 'beta'\n"
          "    condition: keywords";
    if (eu_one(p, det, &(treq_t){ .target = "/alpha", .ua = "beta" }) >= 0) {
        FIRES(det, .target = "/alpha", .ua = "beta");
        QUIET(det, .target = "/alpha", .ua = "gamma");
    }
}

TEST(mod_re)
{
    FIRES(SEL("cs-uri-query|re: 'id=[0-9]+ (or|and) '"), .target = "/?id=1 or 1=1");
    QUIET(SEL("cs-uri-query|re: 'id=[0-9]+ (or|and) '"), .target = "/?id=x or 1=1");
    /* case-sensitive by default, |i makes it caseless */
    QUIET(SEL("cs-user-agent|re: '^curl'"), .ua = "CURL/1");
    FIRES(SEL("cs-user-agent|re|i: '^curl'"), .ua = "CURL/1");
    /* |s: dot matches newline; |m: ^ at line starts (headers are one per line in _raw) */
    FIRES(SEL("cs-user-agent|re|s: 'a.b'"), .ua = "a\nb");
    QUIET(SEL("cs-user-agent|re: 'a.b'"), .ua = "a\nb");
    FIRES(SEL("cs-user-agent|re|m: '^b$'"), .ua = "a\nb\nc");
    QUIET(SEL("cs-user-agent|re: '^b$'"), .ua = "a\nb\nc");
    /* a regex that Vectorscan cannot prefilter still works (run every event) */
    FIRES(SEL("cs-user-agent|re: '(a)\\1'"), .ua = "xaax");
    QUIET(SEL("cs-user-agent|re: '(a)\\1'"), .ua = "xabx");
    FIRES(SEL("cs-user-agent|re: '(?<=x)y'"), .ua = "xy");
    QUIET(SEL("cs-user-agent|re: '(?<=x)y'"), .ua = "zy");
    /* |re|all */
    FIRES(SEL("cs-user-agent|re|all:\n            - 'a+'\n            - 'b+'"), .ua = "aabb");
    QUIET(SEL("cs-user-agent|re|all:\n            - 'a+'\n            - 'b+'"), .ua = "aa");
}

TEST(mod_cidr)
{
    FIRES(SEL("c-ip|cidr: '10.0.0.0/8'"), .client = "10.1.2.3");
    QUIET(SEL("c-ip|cidr: '10.0.0.0/8'"), .client = "11.1.2.3");
    FIRES(SEL("c-ip|cidr: '10.0.0.0/8'"), .client = "::ffff:10.9.9.9");
    FIRES(SEL("c-ip|cidr: '2001:db8::/32'"), .client = "2001:db8:1::5");
    QUIET(SEL("c-ip|cidr: '2001:db8::/32'"), .client = "2001:db9::5");
    FIRES(SEL("c-ip|cidr:\n            - '192.168.0.0/16'\n            - '203.0.113.7'"),
          .client = "203.0.113.7");
    QUIET(SEL("c-ip|cidr:\n            - '192.168.0.0/16'\n            - '203.0.113.7'"),
          .client = "203.0.113.8");
    FIRES(SEL("c-ip|cidr: '0.0.0.0/0'"), .client = "1.2.3.4");
    {
        /* different prefixes in one engine stay different predicates */
        const char *y = apr_pstrcat(p, eu_rule(p, "c1", SEL("c-ip|cidr: '10.0.0.0/8'")), "---\n",
                                    eu_rule(p, "c2", SEL("c-ip|cidr: '192.168.0.0/16'")), "---\n",
                                    eu_rule(p, "c3", SEL("c-ip|cidr: '10.0.0.0/8'")), NULL);
        iw_diag_t *dg;
        iw_engine_t *e = eu_compile(p, y, &dg, NULL);
        iw_scratch_t *s;
        const iw_hit_t *hits;
        int n;
        REQUIRE(e != NULL);
        s = iw_scratch_create(e);
        n = eu_eval(p, e, s, &(treq_t){ .client = "10.9.8.7" }, &hits);
        CHECK(eu_fired(hits, n, "c1") && !eu_fired(hits, n, "c2") && eu_fired(hits, n, "c3"));
        n = eu_eval(p, e, s, &(treq_t){ .client = "192.168.1.1" }, &hits);
        CHECK(!eu_fired(hits, n, "c1") && eu_fired(hits, n, "c2") && !eu_fired(hits, n, "c3"));
        iw_scratch_destroy(s);
    }
    QUIET(SEL("c-ip|cidr: '10.0.0.0/8'"), .client = "not-an-ip");
}

TEST(mod_base64)
{
    /* "evil" -> ZXZpbA== */
    FIRES(SEL("cs-uri-query|base64|contains: 'evil'"), .target = "/?q=ZXZpbA==");
    QUIET(SEL("cs-uri-query|base64|contains: 'evil'"), .target = "/?q=ZXZpbB==");
    QUIET(SEL("cs-uri-query|base64|contains: 'evil'"), .target = "/?q=evil");
}

TEST(mod_base64offset)
{
    /* "cmd.exe" at each offset of a longer encoded text */
    const char *det = SEL("cs-uri-query|base64offset|contains: 'cmd.exe'");
    FIRES(det, .target = "/?x=Y21kLmV4ZQ");            /* "cmd.exe" */
    FIRES(det, .target = "/?x=YWNtZC5leGU=");          /* "acmd.exe" */
    FIRES(det, .target = "/?x=YWJjbWQuZXhl");          /* "abcmd.exe" */
    QUIET(det, .target = "/?x=Y21kLmNvbQ==");          /* "cmd.com" */
}

TEST(mod_utf16_base64)
{
    /* "cmd" UTF-16LE = 63 00 6d 00 64 00 -> YwBtAGQA */
    FIRES(SEL("cs-uri-query|wide|base64offset|contains: 'cmd'"), .target = "/?p=YwBtAGQA");
    QUIET(SEL("cs-uri-query|wide|base64offset|contains: 'cmd'"), .target = "/?p=Y21k");
    /* UTF-16BE: 00 63 00 6d 00 64 -> AGMAbQBk */
    FIRES(SEL("cs-uri-query|utf16be|base64|contains: 'cmd'"), .target = "/?p=AGMAbQBk");
    QUIET(SEL("cs-uri-query|utf16be|base64|contains: 'cmd'"), .target = "/?p=YwBtAGQA");
    /* utf16 = BOM FF FE + LE: ff fe 63 00 6d 00 64 00 -> //5jAG0AZAA= */
    FIRES(SEL("cs-uri-query|utf16|base64|contains: 'cmd'"), .target = "/?p=//5jAG0AZAA=");
    QUIET(SEL("cs-uri-query|utf16|base64|contains: 'cmd'"), .target = "/?p=YwBtAGQA");
}

TEST(mod_windash)
{
    const char *det = SEL("cs-uri-query|windash|contains: ' -enc '");
    FIRES(det, .target = "/?c=x -enc y");
    FIRES(det, .target = "/?c=x /enc y");
    FIRES(det, .target = "/?c=x \xE2\x80\x94" "enc y");   /* em dash */
    FIRES(det, .target = "/?c=x \xE2\x80\x95" "enc y");   /* horizontal bar */
    QUIET(det, .target = "/?c=x +enc y");
    QUIET(SEL("cs-uri-query|contains: ' -enc '"), .target = "/?c=x /enc y");
}

/* First item of the first selection of rule i (to adjust a loaded model). */
static iw_item_t *first_item(iw_ruleset_t *rs, int i)
{
    iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
    iw_selection_t *sel = &APR_ARRAY_IDX(r->selections, 0, iw_selection_t);
    return &APR_ARRAY_IDX(APR_ARRAY_IDX(sel->groups, 0, iw_group_t).items, 0, iw_item_t);
}

static iw_ruleset_t *load_linked(apr_pool_t *p, const char *yaml, iw_diag_t *d)
{
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_rules_load_string(rs, "test.yml", yaml, strlen(yaml), d);
    iw_ruleset_link(rs, d);
    return rs;
}

TEST(mod_expand)
{
    iw_diag_t *dg = iw_diag_create(p);
    apr_array_header_t *v = apr_array_make(p, 2, sizeof(char *));
    apr_array_header_t *nets = apr_array_make(p, 2, sizeof(char *));
    iw_ruleset_t *rs;
    iw_engine_t *e;
    iw_scratch_t *s;
    const iw_hit_t *hits;
    iw_item_t *it;
    int n;
    const char *yaml;

    APR_ARRAY_PUSH(v, const char *) = "/bad/one";
    APR_ARRAY_PUSH(v, const char *) = "/worse*";
    APR_ARRAY_PUSH(nets, const char *) = "198.51.100.0/24";
    APR_ARRAY_PUSH(nets, const char *) = "2001:db8::/48";
    yaml = apr_pstrcat(p,
        eu_rule(p, "e1", SEL("cs-uri-stem|expand: '%paths%'")), "---\n",
        eu_rule(p, "e2", SEL("c-ip|expand|cidr: '%feed%'")), "---\n",
        eu_rule(p, "e3", SEL("cs-uri-query|expand|contains: '\\%lit%paths%'")), NULL);
    rs = load_linked(p, yaml, dg);
    REQUIRE(dg->errors == 0 && rs->rules->nelts == 3);
    iw_ruleset_set_placeholder(rs, "paths", v);
    iw_ruleset_set_placeholder(rs, "feed", nets);
    /* expand|cidr: how IP feeds work */
    it = first_item(rs, 1);
    CHECK((it->mods & (IW_MOD_EXPAND | IW_MOD_CIDR)) == (IW_MOD_EXPAND | IW_MOD_CIDR));
    e = iw_engine_compile(p, rs, NULL, dg);
    REQUIRE(e != NULL);
    s = iw_scratch_create(e);
    n = eu_eval(p, e, s, &(treq_t){ .target = "/bad/one" }, &hits);
    CHECK(eu_fired(hits, n, "e1"));
    n = eu_eval(p, e, s, &(treq_t){ .target = "/worse/x" }, &hits);
    CHECK(eu_fired(hits, n, "e1"));
    n = eu_eval(p, e, s, &(treq_t){ .target = "/bad/two" }, &hits);
    CHECK(!eu_fired(hits, n, "e1"));
    n = eu_eval(p, e, s, &(treq_t){ .client = "198.51.100.77" }, &hits);
    CHECK(eu_fired(hits, n, "e2"));
    n = eu_eval(p, e, s, &(treq_t){ .client = "2001:db8:0:1::1" }, &hits);
    CHECK(eu_fired(hits, n, "e2"));
    n = eu_eval(p, e, s, &(treq_t){ .client = "2001:db8:1::1" }, &hits);
    CHECK(!eu_fired(hits, n, "e2"));
    n = eu_eval(p, e, s, &(treq_t){ .client = "10.1.1.1" }, &hits);
    CHECK(!eu_fired(hits, n, "e2"));
    /* \% is a literal percent next to a placeholder */
    n = eu_eval(p, e, s, &(treq_t){ .target = "/x?a=%lit/bad/one" }, &hits);
    CHECK(eu_fired(hits, n, "e3"));
    n = eu_eval(p, e, s, &(treq_t){ .target = "/x?a=lit/bad/one" }, &hits);
    CHECK(!eu_fired(hits, n, "e3"));
    iw_scratch_destroy(s);

    /* unknown placeholder: compile error at the value's position */
    dg = iw_diag_create(p);
    rs = load_linked(p, eu_rule(p, "e4", SEL("cs-uri-stem|expand: '%nosuch%'")), dg);
    REQUIRE(dg->errors == 0);
    CHECK(iw_engine_compile(p, rs, NULL, dg) == NULL);
    REQUIRE(dg->msgs->nelts >= 1);
    CHECK_CONTAINS(APR_ARRAY_IDX(dg->msgs, 0, iw_diag_msg_t).text, "test.yml:8:29: rule e4: ");
    CHECK_CONTAINS(APR_ARRAY_IDX(dg->msgs, 0, iw_diag_msg_t).text, "%nosuch%");
}

TEST(mod_numbers)
{
    /* number on a numeric field: numeric equality; on a text field: text */
    FIRES(SEL("sc-status: 404"), .status = 404);
    QUIET(SEL("sc-status: 404"), .status = 200);
    FIRES(SEL("sc-status: '404'"), .status = 404);
    FIRES(SEL("cs-uri-query: 42"), .target = "/?42");
    QUIET(SEL("cs-uri-query: 42"), .target = "/?420");
    FIRES(SEL("sc-status|contains: '40'"), .status = 404);
    FIRES(SEL("sc-status|gte: 500"), .status = 503);
    QUIET(SEL("sc-status|gte: 500"), .status = 499);
    FIRES(SEL("sc-status|gt: 499"), .status = 500);
    QUIET(SEL("sc-status|gt: 500"), .status = 500);
    FIRES(SEL("sc-status|lt: 300"), .status = 204);
    QUIET(SEL("sc-status|lt: 300"), .status = 300);
    FIRES(SEL("sc-status|lte: 300"), .status = 300);
    QUIET(SEL("sc-status|lte: 300"), .status = 301);
}

TEST(mod_neq)
{
    FIRES(SEL("cs-method|neq: 'GET'"), .method = "POST");
    QUIET(SEL("cs-method|neq: 'GET'"), .method = "get");
    FIRES(SEL("sc-status|neq: 200"), .status = 404);
    QUIET(SEL("sc-status|neq: 200"), .status = 200);
}

TEST(mod_null_exists)
{
    FIRES("    sel:\n        cs-referer: null\n    condition: sel", .ua = "x");
    QUIET("    sel:\n        cs-referer: null\n    condition: sel", .referer = "http://x/");
    FIRES(SEL("cs-referer|exists: true"), .referer = "http://x/");
    QUIET(SEL("cs-referer|exists: true"), .ua = "x");
    FIRES(SEL("cs-referer|exists: false"), .ua = "x");
    QUIET(SEL("cs-referer|exists: false"), .referer = "http://x/");
    /* '' = empty value */
    FIRES(SEL("cs-referer: ''"), .referer = "");
    QUIET(SEL("cs-referer: ''"), .referer = "x");
}

TEST(mod_fieldref)
{
    FIRES(SEL("cs-referer|fieldref: cs-user-agent"), .referer = "same", .ua = "SAME");
    QUIET(SEL("cs-referer|fieldref: cs-user-agent"), .referer = "same", .ua = "other");
    QUIET(SEL("cs-referer|fieldref|cased: cs-user-agent"), .referer = "same", .ua = "SAME");
    FIRES(SEL("cs-referer|fieldref|neq: cs-user-agent"), .referer = "a", .ua = "b");
    QUIET(SEL("cs-referer|fieldref|neq: cs-user-agent"), .referer = "a", .ua = "a");
    /* with contains / startswith / endswith: the field holds the other's value */
    FIRES(SEL("cs-referer|fieldref|contains: cs-user-agent"), .referer = "http://Bot/x", .ua = "bot");
    QUIET(SEL("cs-referer|fieldref|contains|cased: cs-user-agent"), .referer = "http://Bot/x", .ua = "bot");
    QUIET(SEL("cs-referer|fieldref|contains: cs-user-agent"), .referer = "http://x/", .ua = "bot");
    FIRES(SEL("cs-referer|fieldref|startswith: cs-user-agent"), .referer = "abc/d", .ua = "abc");
    QUIET(SEL("cs-referer|fieldref|startswith: cs-user-agent"), .referer = "xabc", .ua = "abc");
    FIRES(SEL("cs-referer|fieldref|endswith: cs-user-agent"), .referer = "d/abc", .ua = "abc");
    QUIET(SEL("cs-referer|fieldref|endswith: cs-user-agent"), .referer = "abcd", .ua = "abc");
    QUIET(SEL("cs-referer|fieldref|endswith: cs-user-agent"), .referer = "bc", .ua = "abc");
    /* not: the referer does not carry the user agent */
    FIRES(SEL("cs-referer|fieldref|contains|neq: cs-user-agent"), .referer = "http://x/", .ua = "bot");
    QUIET(SEL("cs-referer|fieldref|contains|neq: cs-user-agent"), .referer = "http://bot/", .ua = "bot");
}

TEST(mod_time)
{
    /* 1764240000 = 2025-11-27 10:40:00 UTC, a Thursday, ISO week 48 */
    apr_time_t t = apr_time_from_sec(1764240000);
    FIRES(SEL("date|hour: 10"), .time = t);
    QUIET(SEL("date|hour: 11"), .time = t);
    FIRES(SEL("time|minute: 40"), .time = t);
    FIRES(SEL("date|day: 27"), .time = t);
    FIRES(SEL("date|month: 11"), .time = t);
    FIRES(SEL("date|year: 2025"), .time = t);
    FIRES(SEL("date|week: 48"), .time = t);
    QUIET(SEL("date|week: 47"), .time = t);
    FIRES(SEL("date|hour|gte: 8"), .time = t);
    QUIET(SEL("date|hour|lt: 8"), .time = t);
    /* 2021-01-01 is in ISO week 53 of 2020 */
    FIRES(SEL("date|week: 53"), .time = apr_time_from_sec(1609459200));
}

TEST(mod_bad_regex_diag)
{
    /* the loader validates regexes too: damage the model after loading to
     * check that the engine reports with file:line:col on its own */
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    const char *y = eu_rule(p, "rx1", SEL("cs-user-agent|re: 'abc'"));
    iw_rule_t *r;
    iw_selection_t *sel;
    iw_item_t *it;
    iw_value_t *v;

    iw_rules_load_string(rs, "test.yml", y, strlen(y), d);
    iw_ruleset_link(rs, d);
    REQUIRE(d->errors == 0 && rs->rules->nelts == 1);
    r = APR_ARRAY_IDX(rs->rules, 0, iw_rule_t *);
    sel = &APR_ARRAY_IDX(r->selections, 0, iw_selection_t);
    it = &APR_ARRAY_IDX(APR_ARRAY_IDX(sel->groups, 0, iw_group_t).items, 0, iw_item_t);
    v = &APR_ARRAY_IDX(it->values, 0, iw_value_t);
    v->s.p = "a(b";
    v->s.len = 3;
    CHECK(iw_engine_compile(p, rs, NULL, d) == NULL);
    REQUIRE(d->msgs->nelts >= 1);
    CHECK_CONTAINS(APR_ARRAY_IDX(d->msgs, d->msgs->nelts - 1, iw_diag_msg_t).text,
                   apr_psprintf(p, "test.yml:%d:%d: rule rx1: bad regular expression", v->line, v->col));
}

/* ---- helpers of the matchers ---- */

TEST(mod_wild_translation)
{
    int kind;
    size_t lit;
    const char *src = "a*b?c\\*d\\\\*";
    iw_match_pat_t *pt = iw_match_pat_parse(p, src, strlen(src), 1);
    CHECK_STR(iw_match_pat_str(p, pt), "a*b?c*d\\*");
    CHECK_STR(iw_match_pat_to_hs(p, pt, 0, 0, &kind, &lit), "^a.*b.c\\x2ad\\x5c");
    CHECK_INT(kind, IW_MATCH_PAT_EXPR);
    CHECK_INT(lit, 4);
    pt = iw_match_pat_parse(p, "**", 2, 1);
    iw_match_pat_to_hs(p, pt, 0, 0, &kind, &lit);
    CHECK_INT(kind, IW_MATCH_PAT_PRESENT);
    pt = iw_match_pat_parse(p, "", 0, 1);
    iw_match_pat_to_hs(p, pt, 0, 0, &kind, &lit);
    CHECK_INT(kind, IW_MATCH_PAT_EMPTY);
    iw_match_pat_to_hs(p, pt, 1, 0, &kind, &lit);
    CHECK_INT(kind, IW_MATCH_PAT_PRESENT);
}

static void count_258(void *c, int32_t v) { (*(int *)c) += v == 258 || v == -5; }
static void count_all(void *c, int32_t v) { (void)v; (*(int *)c)++; }
static void sum_vals(void *c, int32_t v) { (*(long *)c) += v + 7; }

TEST(mod_radix_large)
{
    iw_match_radix_t *t = iw_match_radix_create();
    uint8_t a[16];
    int plen, i, hits = 0, pass;
    static const char *probe[] = { "10.1.2.3", "10.1.2.255", "11.0.0.1", "::ffff:10.1.2.9",
        "172.16.5.4", "2001:db8::1", "2001:db9::1", "0.0.0.0", "255.255.255.255", "::1" };
    long before[10];
    REQUIRE(t != NULL);
    for (i = 0; i < 100000; i++) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%d.%d.%d.0/24", 10 + (i >> 16), (i >> 8) & 255, i & 255);
        REQUIRE(iw_match_radix_parse_cidr(buf, strlen(buf), a, &plen));
        CHECK_INT(iw_match_radix_insert(t, a, plen, i), 0);
    }
    REQUIRE(iw_match_radix_parse_cidr("10.0.0.0/8", 10, a, &plen));
    iw_match_radix_insert(t, a, plen, -5);
    REQUIRE(iw_match_radix_parse_cidr("172.16.0.0/12", 13, a, &plen));
    iw_match_radix_insert(t, a, plen, -6);
    REQUIRE(iw_match_radix_parse_cidr("2001:db8::/32", 13, a, &plen));
    iw_match_radix_insert(t, a, plen, -7);
    REQUIRE(iw_match_radix_parse_cidr("0.0.0.0/0", 9, a, &plen));
    iw_match_radix_insert(t, a, plen, -8);
    /* the same answers walking from the root and through the IPv4 index */
    for (pass = 0; pass < 2; pass++) {
        if (pass == 1) CHECK_INT(iw_match_radix_finalize(t), 0);
        for (i = 0; i < 10; i++) {
            long sum = 0;
            REQUIRE(iw_match_radix_parse_ip(probe[i], strlen(probe[i]), a));
            iw_match_radix_lookup(t, a, sum_vals, &sum);
            if (pass == 0) before[i] = sum;
            else CHECK_INT(sum, before[i]);
        }
        /* 10.1.2.3 is in 10.1.2.0/24 (entry 258) and 10.0.0.0/8 */
        hits = 0;
        REQUIRE(iw_match_radix_parse_ip("10.1.2.3", 8, a));
        iw_match_radix_lookup(t, a, count_258, &hits);
        CHECK_INT(hits, 2);
        hits = 0;
        REQUIRE(iw_match_radix_parse_ip("::ffff:10.1.2.9", 15, a));
        iw_match_radix_lookup(t, a, count_258, &hits);
        CHECK_INT(hits, 2);
        hits = 0;   /* 11.255.255.1: only 0.0.0.0/0 */
        REQUIRE(iw_match_radix_parse_ip("11.255.255.1", 12, a));
        iw_match_radix_lookup(t, a, count_all, &hits);
        CHECK_INT(hits, 1);
        hits = 0;   /* IPv6: 2001:db8::/32 only (0.0.0.0/0 is IPv4 space) */
        REQUIRE(iw_match_radix_parse_ip("2001:db8::1", 11, a));
        iw_match_radix_lookup(t, a, count_all, &hits);
        CHECK_INT(hits, 1);
    }
    CHECK_INT(before[0], (258 + 7) + (-5 + 7) + (-8 + 7));
    CHECK_INT(before[4], (-6 + 7) + (-8 + 7));
    iw_match_radix_destroy(t);
}

TEST(mod_compile_errors)
{
    /* errors the engine finds itself, each with file:line:col and rule id */
    static const char *dets[] = {
        SEL("cs-uri-query|base64|contains: 'a*b'"),
        SEL("cs-uri-query|windash|base64offset|contains: '-a-b-c-d-e-f'"),
    };
    static const char *want[] = { "wildcards cannot be combined with |base64",
                                  "|windash with an encoding yields more than" };
    int i;
    for (i = 0; i < 2; i++) {
        iw_diag_t *dg;
        iw_engine_t *e = eu_compile(p, eu_rule(p, "bad1", dets[i]), &dg, NULL);
        CHECK(e == NULL);
        REQUIRE(dg->msgs->nelts >= 1);
        CHECK_CONTAINS(APR_ARRAY_IDX(dg->msgs, 0, iw_diag_msg_t).text, "test.yml:8:");
        CHECK_CONTAINS(APR_ARRAY_IDX(dg->msgs, 0, iw_diag_msg_t).text, "rule bad1: ");
        CHECK_CONTAINS(APR_ARRAY_IDX(dg->msgs, 0, iw_diag_msg_t).text, want[i]);
    }
    /* escaped wildcards are fine with base64: "a*b" -> YSpi */
    FIRES(SEL("cs-uri-query|base64|contains: 'a\\*b'"), .target = "/?x=YSpi");
    /* windash with an encoding: permutations ("-e" and "/e" -> LWU / L2U) */
    FIRES(SEL("cs-uri-query|windash|base64offset|contains: '-e'"), .target = "/?x=L2U");
    FIRES(SEL("cs-uri-query|windash|base64offset|contains: '-e'"), .target = "/?x=LWU");
    QUIET(SEL("cs-uri-query|windash|base64offset|contains: '-e'"), .target = "/?x=K2U");
}

TEST(mod_ip_parse)
{
    uint8_t a[16];
    static const uint8_t v4[16] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff,192,0,2,1 };
    static const char *bad[] = { "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", "01.2.3.4",
                                 "1..2.3", "a.b.c.d", "1.2.3.4/8", "[1.2.3.4", ":::", "1.2.3.-4" };
    size_t i;
    CHECK(iw_match_radix_parse_ip("192.0.2.1", 9, a) && !memcmp(a, v4, 16));
    CHECK(iw_match_radix_parse_ip("::ffff:192.0.2.1", 16, a) && !memcmp(a, v4, 16));
    CHECK(iw_match_radix_parse_ip("[::ffff:192.0.2.1]", 18, a) && !memcmp(a, v4, 16));
    CHECK(iw_match_radix_parse_ip("0.0.0.0", 7, a) && a[12] == 0 && a[15] == 0);
    CHECK(iw_match_radix_parse_ip("255.255.255.255", 15, a) && a[12] == 255 && a[15] == 255);
    CHECK(iw_match_radix_parse_ip("2001:db8::1", 11, a) && a[0] == 0x20 && a[15] == 1);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (iw_match_radix_parse_ip(bad[i], strlen(bad[i]), a)) {
            fprintf(stderr, "  accepted bad address '%s'\n", bad[i]);
            CHECK(0);
        }
}

TEST(mod_utf16_transform)
{
    /* UTF-8 -> UTF-16: BMP, a surrogate pair, and an invalid byte (taken
     * as Latin-1) */
    const char *src = "A\xC3\xA9\xF0\x9F\x98\x80\xFF";
    iw_match_pat_t *pt = iw_match_pat_parse(p, src, strlen(src), 0);
    iw_match_pat_t *le = iw_match_pat_utf16(p, pt, 0), *be = iw_match_pat_utf16(p, pt, 1), *bom = iw_match_pat_utf16(p, pt, 2);
    static const unsigned char want_le[] = { 'A', 0, 0xE9, 0, 0x3D, 0xD8, 0x00, 0xDE, 0xFF, 0 };
    static const unsigned char want_be[] = { 0, 'A', 0, 0xE9, 0xD8, 0x3D, 0xDE, 0x00, 0, 0xFF };
    CHECK_INT(le->n, sizeof(want_le));
    CHECK(le->n == sizeof(want_le) && !memcmp(le->b, want_le, le->n));
    CHECK(be->n == sizeof(want_be) && !memcmp(be->b, want_be, be->n));
    CHECK(bom->n == sizeof(want_le) + 2 && bom->b[0] == 0xFF && bom->b[1] == 0xFE
          && !memcmp(bom->b + 2, want_le, sizeof(want_le)));
    /* wildcards stay wildcards through utf16 */
    pt = iw_match_pat_parse(p, "a*b", 3, 1);
    le = iw_match_pat_utf16(p, pt, 0);
    CHECK(le->n == 5 && le->k[2] == IW_U_STAR && le->b[0] == 'a' && le->b[1] == 0);
}

TEST(mod_base64offset_vectors)
{
    /* the three shifted encodings of "cmd.exe" (static parts) */
    iw_match_pat_t *pt = iw_match_pat_parse(p, "cmd.exe", 7, 0), *o[3];
    CHECK_INT(iw_match_pat_base64offset(p, pt, o), 0);
    REQUIRE(o[0] && o[1] && o[2]);
    CHECK_STR(iw_match_pat_str(p, o[0]), "Y21kLmV4Z");
    CHECK_STR(iw_match_pat_str(p, o[1]), "NtZC5leG");
    CHECK_STR(iw_match_pat_str(p, o[2]), "jbWQuZXhl");
    CHECK(iw_match_pat_base64offset(p, iw_match_pat_parse(p, "a*", 2, 1), o) < 0);
    CHECK_STR(iw_match_pat_str(p, iw_match_pat_base64(p, iw_match_pat_parse(p, "evil", 4, 0))), "ZXZpbA==");
}
