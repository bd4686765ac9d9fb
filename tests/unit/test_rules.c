/* SPDX-License-Identifier: Apache-2.0 */
/* Sigma loader: good rules of every kind parse into the right model;
 * linking (correlation/filter references, generate, group-by through
 * aliases); files, directories, globs; placeholders; SigmaHQ loads clean. */
#include <stdlib.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include "iw_test.h"
#include "iw_rules.h"

/* Load + link tests/rules/<rel>; returns NULL (and prints) on any diag. */
static iw_ruleset_t *load_ok(apr_pool_t *p, const char *rel, int *failed)
{
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    iw_rules_load(rs, iw_test_path(p, apr_pstrcat(p, "tests/rules/", rel, NULL)), d);
    iw_ruleset_link(rs, d);
    if (d->errors || d->warnings) {
        fprintf(stderr, "  %s: unexpected diagnostics:\n", rel);
        iw_diag_print(d, stderr, "    ");
        (*failed)++;
        return NULL;
    }
    return rs;
}

static iw_rule_t *by_id(iw_ruleset_t *rs, const char *id)
{
    return apr_hash_get(rs->by_id, id, APR_HASH_KEY_STRING);
}

static iw_selection_t *sel(iw_rule_t *r, const char *name)
{
    int i;
    for (i = 0; i < r->selections->nelts; i++)
        if (!strcmp(APR_ARRAY_IDX(r->selections, i, iw_selection_t).name, name))
            return &APR_ARRAY_IDX(r->selections, i, iw_selection_t);
    return NULL;
}

static iw_item_t *item(iw_selection_t *s, int g, int i)
{
    iw_group_t *gr = &APR_ARRAY_IDX(s->groups, g, iw_group_t);
    return &APR_ARRAY_IDX(gr->items, i, iw_item_t);
}

static iw_value_t *val(iw_item_t *it, int i)
{
    return &APR_ARRAY_IDX(it->values, i, iw_value_t);
}

static const char *str(apr_pool_t *p, iw_str_t s)
{
    return s.p ? apr_pstrmemdup(p, s.p, s.len) : NULL;
}

static const char *nth(apr_array_header_t *a, int i)
{
    return i < a->nelts ? APR_ARRAY_IDX(a, i, const char *) : NULL;
}

/* Condition tree as text over selection names. */
static const char *show(apr_pool_t *p, const iw_rules_cond_t *c, const iw_rule_t *r)
{
    const char *out;
    int i;
    if (!c) return "(null)";
    if (c->type == IW_RULES_COND_SEL) return APR_ARRAY_IDX(r->selections, c->sel, iw_selection_t).name;
    out = c->type == IW_RULES_COND_AND ? "AND(" : c->type == IW_RULES_COND_OR ? "OR(" : "NOT(";
    for (i = 0; i < c->nkids; i++)
        out = apr_pstrcat(p, out, i ? "," : "", show(p, c->kids[i], r), NULL);
    return apr_pstrcat(p, out, ")", NULL);
}

TEST(rules_detection_metadata)
{
    iw_ruleset_t *rs = load_ok(p, "good/detection_full.yml", iw_failed_);
    iw_rule_t *r;
    REQUIRE(rs);
    CHECK_INT(rs->rules->nelts, 1);
    r = by_id(rs, "11111111-0000-4000-8000-000000000001");
    REQUIRE(r);
    CHECK_INT(r->kind, IW_RULE_DETECTION);
    CHECK_INT(r->index, 0);
    CHECK_STR(r->name, "full_detection");
    CHECK_STR(r->title, "Full Detection Rule");
    CHECK_STR(r->status, "experimental");
    CHECK_STR(r->description, "Every selection shape iocwatch reads");
    CHECK_STR(r->author, "rules test");
    CHECK_STR(r->date, "2026-11-27");
    CHECK_STR(r->modified, "2026-11-28");
    CHECK_INT(r->level, IW_LEVEL_HIGH);
    CHECK_INT(r->tags->nelts, 2);
    CHECK_STR(nth(r->tags, 1), "attack.t1190");
    CHECK_INT(r->references->nelts, 2);
    CHECK_STR(nth(r->references, 0), "https://example.org/a");
    CHECK_STR(nth(r->falsepositives, 0), "Admin scripts");
    CHECK_STR(r->ls_category, "webserver");
    CHECK_INT(r->applies_to, IW_EV_ACCESS);
    CHECK_INT(r->generate, 1);
    CHECK_INT(r->line, 1);
    CHECK_CONTAINS(r->file, "tests/rules/good/detection_full.yml");
    CHECK(apr_hash_get(rs->by_name, "full_detection", APR_HASH_KEY_STRING) == r);
    CHECK_INT(rs->linked, 1);
}

TEST(rules_detection_selections)
{
    iw_ruleset_t *rs = load_ok(p, "good/detection_full.yml", iw_failed_);
    iw_rule_t *r;
    iw_selection_t *s;
    iw_item_t *it;
    REQUIRE(rs);
    r = APR_ARRAY_IDX(rs->rules, 0, iw_rule_t *);
    CHECK_INT(r->selections->nelts, 7);

    /* map -> one group, AND of items */
    s = sel(r, "selection_map");
    REQUIRE(s);
    CHECK_INT(s->line, 18);
    CHECK_INT(s->col, 5);
    CHECK_INT(s->groups->nelts, 1);
    CHECK_INT(APR_ARRAY_IDX(s->groups, 0, iw_group_t).items->nelts, 2);
    it = item(s, 0, 0);
    CHECK_STR(it->field_name, "cs-method");
    CHECK_INT(it->field, IW_F_CS_METHOD);
    CHECK_INT(it->mods, 0);
    CHECK_INT(val(it, 0)->type, IW_VAL_STRING);
    CHECK_STR(str(p, val(it, 0)->s), "POST");
    CHECK_INT(val(it, 0)->line, 19);
    CHECK_INT(val(it, 0)->col, 20);
    it = item(s, 0, 1);
    CHECK_INT(it->field, IW_F_CS_URI_QUERY);
    CHECK_INT(it->mods, IW_MOD_CONTAINS | IW_MOD_ALL);
    CHECK_INT(it->values->nelts, 2);
    CHECK_STR(str(p, val(it, 1)->s), "cmd=");
    CHECK_INT(it->line, 20);
    CHECK_INT(it->col, 9);
    CHECK_INT(it->fieldref, -1);

    /* list of maps -> OR of groups */
    s = sel(r, "selection_list_of_maps");
    REQUIRE(s);
    CHECK_INT(s->groups->nelts, 2);
    CHECK_INT(item(s, 0, 0)->mods, IW_MOD_STARTSWITH);
    CHECK_INT(APR_ARRAY_IDX(s->groups, 1, iw_group_t).items->nelts, 2);
    it = item(s, 1, 1);
    CHECK_INT(it->field, IW_F_SC_STATUS);
    CHECK_INT(val(it, 0)->type, IW_VAL_NUMBER);
    CHECK_INT(val(it, 0)->num, 200);
    CHECK_STR(str(p, val(it, 0)->s), "200");

    /* list of plain values -> keyword item on _raw */
    s = sel(r, "keywords");
    REQUIRE(s);
    CHECK_INT(s->groups->nelts, 1);
    it = item(s, 0, 0);
    CHECK_INT(it->field, -1);
    CHECK(it->field_name == NULL);
    CHECK_INT(it->mods, 0);
    CHECK_INT(it->values->nelts, 2);
    CHECK_STR(str(p, val(it, 0)->s), "wget http");
    CHECK_INT(val(it, 1)->type, IW_VAL_NUMBER);

    /* '|all': keywords that must all occur */
    s = sel(r, "keywords_all");
    REQUIRE(s);
    it = item(s, 0, 0);
    CHECK_INT(it->field, -1);
    CHECK_INT(it->mods, IW_MOD_ALL);
    CHECK_INT(it->values->nelts, 2);

    /* null, empty string, wildcards/escapes kept as written */
    it = item(sel(r, "selection_null"), 0, 0);
    CHECK_INT(val(it, 0)->type, IW_VAL_NULL);
    it = item(sel(r, "selection_empty"), 0, 0);
    CHECK_INT(val(it, 0)->type, IW_VAL_STRING);
    CHECK_INT(val(it, 0)->s.len, 0);
    it = item(sel(r, "selection_wild"), 0, 0);
    CHECK_STR(str(p, val(it, 0)->s), "/a*b?c\\*d");
}

TEST(rules_detection_condition_tree)
{
    iw_ruleset_t *rs = load_ok(p, "good/detection_full.yml", iw_failed_);
    iw_rule_t *r;
    REQUIRE(rs);
    r = APR_ARRAY_IDX(rs->rules, 0, iw_rule_t *);
    CHECK_STR(show(p, r->cond, r),
              "OR(AND(selection_map,OR(selection_list_of_maps,keywords,keywords_all),"
              "NOT(selection_null),NOT(selection_empty)),selection_wild)");
}

TEST(rules_every_modifier)
{
    static const struct { const char *sel; unsigned mods; int field; } want[] = {
        {"s_contains", IW_MOD_CONTAINS, IW_F_CS_URI_QUERY},
        {"s_startswith", IW_MOD_STARTSWITH, IW_F_CS_URI_QUERY},
        {"s_endswith", IW_MOD_ENDSWITH, IW_F_CS_URI_QUERY},
        {"s_all", IW_MOD_CONTAINS | IW_MOD_ALL, IW_F_CS_URI_QUERY},
        {"s_re", IW_MOD_RE, IW_F_CS_HOST},
        {"s_re_ims", IW_MOD_RE | IW_MOD_RE_I | IW_MOD_RE_M | IW_MOD_RE_S, IW_F_CS_USER_AGENT},
        {"s_cidr", IW_MOD_CIDR, IW_F_C_IP},
        {"s_cidr_expand", IW_MOD_CIDR | IW_MOD_EXPAND, IW_F_C_IP},
        {"s_exists", IW_MOD_EXISTS, IW_F_CS_REFERER},
        {"s_base64", IW_MOD_BASE64, IW_F_CS_URI_QUERY},
        {"s_base64offset", IW_MOD_BASE64OFFSET | IW_MOD_CONTAINS, IW_F_CS_URI_QUERY},
        {"s_cased", IW_MOD_CASED, IW_F_CS_METHOD},
        {"s_num", IW_MOD_GTE, IW_F_SC_STATUS},
        {"s_neq", IW_MOD_NEQ, IW_F_SC_STATUS},
        {"s_fieldref", IW_MOD_FIELDREF, IW_F_CS_REFERER},
        {"s_fieldref_neq", IW_MOD_FIELDREF | IW_MOD_NEQ, IW_F_CS_HOST},
        {"s_expand", IW_MOD_EXPAND, IW_F_C_IP},
        {"s_windash", IW_MOD_WINDASH | IW_MOD_CONTAINS, IW_F_CS_URI_QUERY},
        {"s_utf16le", IW_MOD_UTF16LE | IW_MOD_BASE64OFFSET | IW_MOD_CONTAINS, IW_F_CS_URI_QUERY},
        {"s_wide", IW_MOD_UTF16LE | IW_MOD_BASE64, IW_F_CS_URI_QUERY},
        {"s_utf16be", IW_MOD_UTF16BE | IW_MOD_BASE64OFFSET | IW_MOD_CONTAINS, IW_F_CS_URI_QUERY},
        {"s_utf16", IW_MOD_UTF16 | IW_MOD_BASE64, IW_F_CS_URI_QUERY},
        {"s_time", IW_MOD_HOUR | IW_MOD_GTE, IW_F_TIME},
        {"s_minute", IW_MOD_MINUTE, IW_F_TIME},
        {"s_day", IW_MOD_DAY, IW_F_DATE},
        {"s_week", IW_MOD_WEEK | IW_MOD_LT, IW_F_DATE},
        {"s_month", IW_MOD_MONTH | IW_MOD_NEQ, IW_F_DATE},
        {"s_year", IW_MOD_YEAR, IW_F_DATE},
    };
    iw_ruleset_t *rs = load_ok(p, "good/modifiers.yml", iw_failed_);
    iw_rule_t *r;
    iw_item_t *it;
    size_t i;
    REQUIRE(rs);
    r = APR_ARRAY_IDX(rs->rules, 0, iw_rule_t *);
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        iw_selection_t *s = sel(r, want[i].sel);
        if (!s) { fprintf(stderr, "  no selection %s\n", want[i].sel); CHECK(s); continue; }
        if (item(s, 0, 0)->mods != want[i].mods || item(s, 0, 0)->field != want[i].field) {
            fprintf(stderr, "  %s: mods %#x field %d\n", want[i].sel, item(s, 0, 0)->mods,
                    item(s, 0, 0)->field);
            CHECK(0);
        }
    }
    /* values read by type */
    it = item(sel(r, "s_exists"), 0, 0);
    CHECK_INT(val(it, 0)->type, IW_VAL_BOOL);
    CHECK_INT(val(it, 0)->boolean, 0);
    CHECK_STR(str(p, val(it, 0)->s), "false");
    it = item(sel(r, "s_num"), 0, 1);
    CHECK_INT(it->mods, IW_MOD_LT);
    CHECK_INT(val(it, 0)->num, 10);
    CHECK_INT(item(sel(r, "s_num"), 0, 2)->mods, IW_MOD_GT);
    CHECK_INT(item(sel(r, "s_num"), 0, 3)->mods, IW_MOD_LTE);
    CHECK_INT(item(sel(r, "s_fieldref"), 0, 0)->fieldref, IW_F_CS_HOST);
    CHECK_INT(item(sel(r, "s_fieldref_neq"), 0, 0)->fieldref, IW_F_S_SITENAME);
    CHECK_INT(item(sel(r, "s_cidr"), 0, 0)->values->nelts, 3);
    CHECK_STR(str(p, val(item(sel(r, "s_expand"), 0, 0), 0)->s), "%admin_ips%");
    CHECK_STR(str(p, val(item(sel(r, "s_re"), 0, 0), 0)->s), "^evil\\.(com|net)$");
    /* 1 of them over every selection */
    CHECK_INT(r->cond->type, IW_RULES_COND_OR);
    CHECK_INT(r->cond->nkids, r->selections->nelts);
}

TEST(rules_error_log_source)
{
    iw_ruleset_t *rs = load_ok(p, "good/error_log.yml", iw_failed_);
    iw_rule_t *r;
    REQUIRE(rs);
    r = APR_ARRAY_IDX(rs->rules, 0, iw_rule_t *);
    CHECK_INT(r->applies_to, IW_EV_ERROR);
    CHECK_STR(r->ls_service, "apache");
    CHECK_STR(r->ls_product, "apache");
    CHECK_INT(r->level, IW_LEVEL_CRITICAL);
    CHECK_INT(item(sel(r, "selection"), 0, 0)->field, IW_F_LEVEL);
    CHECK_INT(item(sel(r, "selection"), 0, 1)->field, IW_F_AH_CODE);
    CHECK_INT(item(sel(r, "keywords"), 0, 0)->field, -1);
}

TEST(rules_correlation_model)
{
    iw_ruleset_t *rs = load_ok(p, "good/correlation.yml", iw_failed_);
    iw_rule_t *ec, *to, *vc, *nf, *shell, *other;
    iw_corr_def_t *cd;
    REQUIRE(rs);
    CHECK_INT(rs->rules->nelts, 6);
    ec = by_id(rs, "22222222-0000-4000-8000-000000000001");
    to = by_id(rs, "22222222-0000-4000-8000-000000000002");
    vc = by_id(rs, "22222222-0000-4000-8000-000000000003");
    nf = apr_hash_get(rs->by_name, "not_found", APR_HASH_KEY_STRING);
    shell = by_id(rs, "33333333-0000-4000-8000-000000000002");
    other = by_id(rs, "33333333-0000-4000-8000-000000000003");
    REQUIRE(ec && to && vc && nf && shell && other);

    cd = ec->corr;
    CHECK_INT(ec->kind, IW_RULE_CORRELATION);
    CHECK_INT(cd->type, IW_CORR_EVENT_COUNT);
    CHECK_INT(cd->rules->nelts, 1);
    CHECK(APR_ARRAY_IDX(cd->rules, 0, iw_rule_t *) == nf);
    CHECK_STR(nth(cd->rule_refs, 0), "not_found");
    CHECK_INT(cd->group_by->nelts, 1);
    CHECK_INT(cd->group_fields[0], IW_F_C_IP);
    CHECK_INT(cd->timespan, 60 * APR_USEC_PER_SEC);
    CHECK_INT(cd->ncmp, 1);
    CHECK_INT(cd->cmp[0].op, IW_CMP_GTE);
    CHECK_INT(cd->cmp[0].value, 20);
    CHECK_INT(cd->generate, 0);
    CHECK_INT(ec->applies_to, IW_EV_ACCESS);
    CHECK_INT(ec->level, IW_LEVEL_MEDIUM);
    CHECK_INT(ec->generate, 1);

    /* temporal_ordered: by name and by id; group-by through aliases */
    cd = to->corr;
    CHECK_INT(cd->type, IW_CORR_TEMPORAL_ORDERED);
    CHECK_INT(cd->rules->nelts, 2);
    CHECK(APR_ARRAY_IDX(cd->rules, 1, iw_rule_t *) == shell);
    CHECK_INT(cd->group_fields[0 * 1 + 0], IW_F_C_IP);
    CHECK_INT(cd->group_fields[1 * 1 + 0], IW_F_C_IP);   /* "clientip" alias */
    CHECK_INT(cd->generate, 1);
    CHECK_INT(cd->timespan, 600 * APR_USEC_PER_SEC);
    CHECK_INT(cd->ncmp, 1);                              /* default: all rules */
    CHECK_INT(cd->cmp[0].op, IW_CMP_GTE);
    CHECK_INT(cd->cmp[0].value, 2);

    /* value_count with a range */
    cd = vc->corr;
    CHECK_INT(cd->type, IW_CORR_VALUE_COUNT);
    CHECK_STR(cd->value_field, "cs-user-agent");
    CHECK_INT(cd->value_field_id, IW_F_CS_USER_AGENT);
    CHECK_INT(cd->ncmp, 2);
    CHECK_INT(cd->cmp[0].op, IW_CMP_GT);
    CHECK_INT(cd->cmp[1].op, IW_CMP_LTE);
    CHECK_INT(cd->cmp[1].value, 100);
    CHECK_INT(cd->group_fields[1], IW_F_S_SITENAME);
    CHECK_INT(cd->timespan, 7200 * APR_USEC_PER_SEC);

    /* feeds and generate: not_found feeds 3 correlations, one of which
     * has generate: true, so it keeps its own alerts; shell_upload too */
    CHECK_INT(nf->feeds->nelts, 3);
    CHECK_INT(nf->generate, 1);
    CHECK_INT(shell->feeds->nelts, 1);
    CHECK_INT(shell->generate, 1);
    CHECK_INT(other->feeds->nelts, 0);
    CHECK_INT(other->generate, 1);
}

TEST(rules_generate_false_silences_base_rule)
{
    static const char y[] =
        "title: Base\nid: base-1\nname: base\nlogsource: {category: webserver}\n"
        "detection: {sel: {sc-status: 404}, condition: sel}\n---\n"
        "title: Count\nid: count-1\ncorrelation: {type: event_count, rules: [base],\n"
        "  group-by: [c-ip], timespan: 5m, condition: {gt: 3}}\n";
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    iw_rule_t *base;
    CHECK_INT(iw_rules_load_string(rs, "gen.yml", y, sizeof(y) - 1, d), 2);
    CHECK_INT(iw_ruleset_link(rs, d), 0);
    iw_diag_print(d, stderr, "    ");
    base = by_id(rs, "base-1");
    REQUIRE(base);
    CHECK_INT(base->generate, 0);
    CHECK_INT(base->feeds->nelts, 1);
    CHECK_INT(by_id(rs, "count-1")->generate, 1);
    CHECK_INT(by_id(rs, "count-1")->corr->cmp[0].op, IW_CMP_GT);
}

TEST(rules_filter_model)
{
    iw_ruleset_t *rs = load_ok(p, "good/filter.yml", iw_failed_);
    iw_rule_t *f, *probe;
    REQUIRE(rs);
    f = by_id(rs, "44444444-0000-4000-8000-000000000001");
    probe = by_id(rs, "44444444-0000-4000-8000-000000000002");
    REQUIRE(f && probe);
    CHECK_INT(f->kind, IW_RULE_FILTER);
    CHECK_INT(f->generate, 0);
    CHECK_INT(f->applies_to, IW_EV_ACCESS);
    CHECK_INT(f->filter_refs->nelts, 2);
    CHECK_STR(nth(f->filter_refs, 1), "probe_rule");
    /* the same rule by id and by name: attached twice is harmless but we
     * check both references resolve */
    CHECK_INT(f->filter_rules->nelts, 2);
    CHECK(APR_ARRAY_IDX(f->filter_rules, 0, iw_rule_t *) == probe);
    CHECK_INT(probe->filters->nelts, 2);
    CHECK(APR_ARRAY_IDX(probe->filters, 0, iw_rule_t *) == f);
    CHECK_INT(f->selections->nelts, 2);
    CHECK_STR(show(p, f->cond, f), "NOT(AND(selection,selection_ua))");
    CHECK_INT(item(sel(f, "selection"), 0, 0)->mods, IW_MOD_CIDR);
    /* a list of conditions is ORed */
    CHECK_STR(show(p, probe->cond, probe), "OR(selection,AND(selection,selection))");
}

TEST(rules_directory_sorted_and_glob)
{
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    int n;
    const char *prev = "";
    int i;

    n = iw_rules_load(rs, iw_test_path(p, "tests/rules/good"), d);
    CHECK_INT(d->errors, 0);
    CHECK_INT(n, rs->rules->nelts);
    CHECK(n >= 11);
    for (i = 0; i < rs->rules->nelts; i++) {       /* files in sorted order */
        const char *f = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *)->file;
        CHECK(strcmp(prev, f) <= 0);
        prev = f;
        CHECK_INT(APR_ARRAY_IDX(rs->rules, i, iw_rule_t *)->index, i);
    }
    rs = iw_ruleset_create(p);
    n = iw_rules_load(rs, iw_test_path(p, "tests/rules/good/[ef]*.yml"), d);
    CHECK_INT(n, 3);                               /* error_log.yml + filter.yml (2) */
    CHECK_INT(d->errors, 0);
    n = iw_rules_load(rs, iw_test_path(p, "tests/rules/good/nothing*.yml"), d);
    CHECK_INT(n, 0);
    CHECK_INT(d->errors, 1);
    CHECK_CONTAINS(APR_ARRAY_IDX(d->msgs, d->msgs->nelts - 1, iw_diag_msg_t).text,
                   "no rule files match this pattern");
    n = iw_rules_load(rs, iw_test_path(p, "tests/rules/good/missing.yml"), d);
    CHECK_INT(d->errors, 2);
    CHECK_CONTAINS(APR_ARRAY_IDX(d->msgs, d->msgs->nelts - 1, iw_diag_msg_t).text,
                   "missing.yml:0:0: cannot read rules: no such file or directory");
}

TEST(rules_sigmahq_load_clean)
{
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    const char *base = getenv("IW_SIGMA_DIR");
    int n;
    if (!base) base = iw_test_path(p, "../shared/sigma");
    n = iw_rules_load(rs, apr_pstrcat(p, base, "/sigmahq-rules/rules", NULL), d);
    n += iw_rules_load(rs, apr_pstrcat(p, base, "/sigmahq-rules/rules-emerging-threats", NULL), d);
    CHECK_INT(iw_ruleset_link(rs, d), 0);
    if (d->msgs->nelts) iw_diag_print(d, stderr, "    ");
    CHECK_INT(d->errors, 0);
    CHECK_INT(d->warnings, 0);
    CHECK_INT(n, 88);
    CHECK_INT(rs->rules->nelts, 88);
}

TEST(rules_sigmahq_unsupported_points_to_correlation)
{
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    const char *base = getenv("IW_SIGMA_DIR");
    int i, found = 0;
    if (!base) base = iw_test_path(p, "../shared/sigma");
    CHECK_INT(iw_rules_load(rs, apr_pstrcat(p, base, "/sigmahq-rules/unsupported", NULL), d), 0);
    CHECK_INT(d->errors, 1);
    for (i = 0; i < d->msgs->nelts; i++) {
        const iw_diag_msg_t *m = &APR_ARRAY_IDX(d->msgs, i, iw_diag_msg_t);
        if (m->level != IW_DIAG_ERROR) continue;
        found = 1;
        CHECK_CONTAINS(m->text, "web_multiple_susp_resp_codes_single_source.yml:21:26: rule "
                       "6fdfc796-06b3-46e8-af08-58f3505318af: condition: aggregation "
                       "expressions in condition are deprecated; use a Sigma correlation "
                       "rule (event_count) instead");
    }
    CHECK(found);
}

TEST(rules_load_string_keeps_valid_documents)
{
    static const char y[] =
        "title: Good\nid: g1\nlogsource: {category: webserver}\n"
        "detection: {sel: {cs-method: GET}, condition: sel}\n---\n"
        "title: Bad\nid: b1\nlogsource: {category: webserver}\n"
        "detection: {sel: {cs-nothing: GET}, condition: sel}\n---\n"
        "title: Good too\nid: g2\nlogsource: {category: webserver}\n"
        "detection: {sel: {cs-method: PUT}, condition: sel}\n---\n";
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    CHECK_INT(iw_rules_load_string(rs, "mix.yml", y, sizeof(y) - 1, d), 2);
    CHECK_INT(d->errors, 1);
    CHECK_CONTAINS(APR_ARRAY_IDX(d->msgs, 0, iw_diag_msg_t).text,
                   "mix.yml:9:19: rule b1: unknown field 'cs-nothing'");
    CHECK(by_id(rs, "g1") && by_id(rs, "g2") && !by_id(rs, "b1"));
    /* an empty input and empty documents are not errors */
    CHECK_INT(iw_rules_load_string(rs, "empty.yml", "", 0, d), 0);
    CHECK_INT(iw_rules_load_string(rs, "empty2.yml", "---\n---\n", 8, d), 0);
    CHECK_INT(d->errors, 1);
}

TEST(rules_value_types)
{
    static const char y[] =
        "title: Types\nlogsource: {category: webserver}\n"
        "detection:\n"
        "  s1: {sc-status: [200, '200', -5, 0x10, 1.5, ~]}\n"
        "  s2: {cs-referer|exists: TRUE}\n"
        "  s3: {cs-cookie: }\n"
        "  s4: {cs-host: \"quoted\\ttab\"}\n"
        "  condition: 1 of them\n";
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    iw_rule_t *r;
    iw_item_t *it;
    iw_rules_load_string(rs, "types.yml", y, sizeof(y) - 1, d);
    /* s1 mixes null into a list -> that is the one error */
    CHECK_INT(d->errors, 1);
    CHECK_CONTAINS(APR_ARRAY_IDX(d->msgs, 0, iw_diag_msg_t).text,
                   "types.yml:4:47: null cannot be part of a list of values");
    {
        char *fixed = apr_pstrdup(p, y);
        char *q = strstr(fixed, ", ~]");
        memcpy(q, "]   ", 4);
        rs = iw_ruleset_create(p);
        d = iw_diag_create(p);
        CHECK_INT(iw_rules_load_string(rs, "types.yml", fixed, strlen(fixed), d), 1);
    }
    iw_diag_print(d, stderr, "    ");
    REQUIRE(rs->rules->nelts == 1);
    r = APR_ARRAY_IDX(rs->rules, 0, iw_rule_t *);
    CHECK(r->title && !r->id);
    it = item(sel(r, "s1"), 0, 0);
    CHECK_INT(it->values->nelts, 5);
    CHECK_INT(val(it, 0)->type, IW_VAL_NUMBER);
    CHECK_INT(val(it, 1)->type, IW_VAL_STRING);     /* quoted stays text */
    CHECK_INT(val(it, 2)->type, IW_VAL_NUMBER);
    CHECK_INT(val(it, 2)->num, -5);
    CHECK_INT(val(it, 3)->type, IW_VAL_STRING);     /* only decimal integers */
    CHECK_INT(val(it, 4)->type, IW_VAL_STRING);
    CHECK_STR(str(p, val(it, 4)->s), "1.5");
    it = item(sel(r, "s2"), 0, 0);
    CHECK_INT(val(it, 0)->type, IW_VAL_BOOL);
    CHECK_INT(val(it, 0)->boolean, 1);
    CHECK_STR(str(p, val(it, 0)->s), "true");       /* TRUE normalised */
    it = item(sel(r, "s3"), 0, 0);
    CHECK_INT(val(it, 0)->type, IW_VAL_NULL);
    it = item(sel(r, "s4"), 0, 0);
    CHECK_STR(str(p, val(it, 0)->s), "quoted\ttab");
}

TEST(rules_unused_selection_warns)
{
    static const char y[] =
        "title: Unused\nid: u1\nlogsource: {category: webserver}\n"
        "detection:\n  sel: {cs-method: GET}\n  extra: {cs-method: PUT}\n  condition: sel\n";
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    CHECK_INT(iw_rules_load_string(rs, "unused.yml", y, sizeof(y) - 1, d), 1);
    CHECK_INT(d->errors, 0);
    CHECK_INT(d->warnings, 1);
    CHECK_STR(APR_ARRAY_IDX(d->msgs, 0, iw_diag_msg_t).text,
              "unused.yml:6:3: warning: rule u1: selection 'extra' is not used in the condition");
}

TEST(rules_placeholders)
{
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    const char *path = apr_pstrcat(p, "/tmp/iw-rules-ph-", apr_ltoa(p, (long)getpid()), NULL);
    FILE *f = fopen(path, "w");
    apr_array_header_t *v, *mine = apr_array_make(p, 1, sizeof(const char *));
    REQUIRE(f);
    fputs("# admin networks\n10.0.0.1\n\n   192.168.0.0/16  \n\t# indented comment\nlast", f);
    fclose(f);
    CHECK_INT(iw_ruleset_load_placeholder_file(rs, "admins", path, d), 0);
    remove(path);
    v = apr_hash_get(rs->placeholders, "admins", APR_HASH_KEY_STRING);
    REQUIRE(v);
    CHECK_INT(v->nelts, 3);
    CHECK_STR(nth(v, 0), "10.0.0.1");
    CHECK_STR(nth(v, 1), "192.168.0.0/16");
    CHECK_STR(nth(v, 2), "last");
    APR_ARRAY_PUSH(mine, const char *) = "x";
    iw_ruleset_set_placeholder(rs, "%servers%", mine);
    CHECK(apr_hash_get(rs->placeholders, "servers", APR_HASH_KEY_STRING) == mine);
    CHECK_INT(d->errors, 0);
    CHECK_INT(iw_ruleset_load_placeholder_file(rs, "x", "/nonexistent/iw-ph", d), -1);
    CHECK_INT(d->errors, 1);
    CHECK_CONTAINS(APR_ARRAY_IDX(d->msgs, 0, iw_diag_msg_t).text,
                   "/nonexistent/iw-ph:0:0: cannot open placeholder file for %x%");
}

TEST(rules_link_is_idempotent)
{
    iw_ruleset_t *rs = load_ok(p, "good/correlation.yml", iw_failed_);
    iw_diag_t *d = iw_diag_create(p);
    iw_rule_t *nf;
    REQUIRE(rs);
    CHECK_INT(iw_ruleset_link(rs, d), 0);
    CHECK_INT(d->msgs->nelts, 0);
    nf = apr_hash_get(rs->by_name, "not_found", APR_HASH_KEY_STRING);
    REQUIRE(nf);
    CHECK_INT(nf->feeds->nelts, 3);
}

TEST(rules_correlation_chain)
{
    iw_ruleset_t *rs = load_ok(p, "good/chain.yml", iw_failed_);
    iw_rule_t *outer, *inner, *failed, *ok;
    REQUIRE(rs);
    outer = by_id(rs, "55555555-0000-4000-8000-000000000001");
    inner = by_id(rs, "55555555-0000-4000-8000-000000000002");
    failed = by_id(rs, "55555555-0000-4000-8000-000000000003");
    ok = by_id(rs, "55555555-0000-4000-8000-000000000004");
    REQUIRE(outer && inner && failed && ok);
    CHECK_INT(outer->corr->rules->nelts, 2);
    CHECK(APR_ARRAY_IDX(outer->corr->rules, 0, iw_rule_t *) == inner);
    CHECK(APR_ARRAY_IDX(outer->corr->rules, 1, iw_rule_t *) == ok);
    CHECK_INT(outer->corr->group_fields[0], IW_F_C_IP);
    CHECK_INT(outer->corr->group_fields[1], IW_F_C_IP);
    /* the inner correlation feeds the outer one and only the outer alerts */
    CHECK_INT(inner->feeds->nelts, 1);
    CHECK(APR_ARRAY_IDX(inner->feeds, 0, iw_rule_t *) == outer);
    CHECK_INT(inner->generate, 0);
    CHECK_INT(outer->generate, 1);
    CHECK_INT(failed->generate, 0);
    CHECK_INT(ok->generate, 0);
    CHECK_INT(outer->applies_to, IW_EV_ACCESS);
    CHECK_INT(inner->applies_to, IW_EV_ACCESS);
    CHECK_INT(outer->corr->cmp[0].op, IW_CMP_GTE);
    CHECK_INT(outer->corr->cmp[0].value, 2);
}

TEST(rules_value_count_field_alias)
{
    static const char y[] =
        "title: VC\nid: vc-1\ncorrelation:\n  type: value_count\n  rules: [a_rule, b_rule]\n"
        "  group-by: [c-ip]\n  timespan: 1h\n"
        "  aliases: {agent: {a_rule: cs-user-agent, b_rule: cs-referer}}\n"
        "  condition: {field: agent, gte: 5}\n---\n"
        "title: A\nname: a_rule\nlogsource: {category: webserver}\n"
        "detection: {s: {sc-status: 404}, condition: s}\n---\n"
        "title: B\nname: b_rule\nlogsource: {category: webserver}\n"
        "detection: {s: {sc-status: 403}, condition: s}\n";
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    iw_rule_t *vc;
    CHECK_INT(iw_rules_load_string(rs, "vc.yml", y, sizeof(y) - 1, d), 3);
    CHECK_INT(iw_ruleset_link(rs, d), 0);
    CHECK_INT(d->msgs->nelts, 0);
    iw_diag_print(d, stderr, "    ");
    vc = by_id(rs, "vc-1");
    REQUIRE(vc);
    CHECK_STR(vc->corr->value_field, "agent");
    CHECK_INT(vc->corr->value_field_id, -1);       /* per rule, via the alias */
}

TEST(rules_metadata_is_lenient_detection_is_not)
{
    /* "- Apps that accept data: URIs" is a YAML map: warn, keep the rule */
    static const char y[] =
        "title: Meta\nid: m1\nlogsource: {category: webserver}\n"
        "detection: {sel: {cs-method: GET}, condition: sel}\n"
        "falsepositives:\n  - Apps that accept data: URIs\n  - plain\n"
        "tags: attack.t1190\nfields: [a, b]\nrelated: [{id: x, type: derived}]\ncustom: {any: thing}\n";
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    iw_rule_t *r;
    CHECK_INT(iw_rules_load_string(rs, "meta.yml", y, sizeof(y) - 1, d), 1);
    CHECK_INT(d->errors, 0);
    CHECK_INT(d->warnings, 1);
    CHECK_CONTAINS(APR_ARRAY_IDX(d->msgs, 0, iw_diag_msg_t).text,
                   "meta.yml:6:5: warning: rule m1: 'falsepositives' entry is a map, not text "
                   "(ignored); quote text that contains ': '");
    r = by_id(rs, "m1");
    REQUIRE(r);
    CHECK_INT(r->falsepositives->nelts, 1);
    CHECK_STR(nth(r->falsepositives, 0), "plain");
    CHECK_INT(r->tags->nelts, 1);                  /* a lone text is a list of one */
    CHECK_STR(nth(r->tags, 0), "attack.t1190");
    CHECK_INT(r->level, IW_LEVEL_NONE);
}

TEST(rules_condition_positions_in_block_and_quoted_scalars)
{
    static const char y1[] =
        "title: Block\nlogsource: {category: webserver}\ndetection:\n"
        "  sel: {cs-method: GET}\n  condition: >-\n      sel and nope\n";
    static const char y2[] =
        "title: Quoted\nlogsource: {category: webserver}\ndetection:\n"
        "  sel: {cs-method: GET}\n  condition: 'sel and (sel'\n";
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    CHECK_INT(iw_rules_load_string(rs, "b.yml", y1, sizeof(y1) - 1, d), 0);
    CHECK_INT(iw_rules_load_string(rs, "q.yml", y2, sizeof(y2) - 1, d), 0);
    REQUIRE(d->msgs->nelts == 2);
    CHECK_STR(APR_ARRAY_IDX(d->msgs, 0, iw_diag_msg_t).text,
              "b.yml:6:15: condition: unknown selection 'nope' (selections: sel)");
    CHECK_STR(APR_ARRAY_IDX(d->msgs, 1, iw_diag_msg_t).text,
              "q.yml:5:23: condition: unbalanced parentheses: '(' is never closed");
}

TEST(rules_filter_any_rules)
{
    /* pySigma: `rules: any` (or all, or []) = every rule of that log source */
    static const char y[] =
        "title: F\nid: f1\nlogsource: {category: webserver}\n"
        "filter: {rules: any, sel: {c-ip: 10.0.0.1}, condition: not sel}\n---\n"
        "title: F2\nid: f2\nlogsource: {service: apache}\n"
        "filter: {rules: [], sel: {level: debug}, condition: not sel}\n---\n"
        "title: A\nid: a1\nlogsource: {category: webserver}\n"
        "detection: {s: {sc-status: 404}, condition: s}\n---\n"
        "title: B\nid: b1\nlogsource: {category: webserver}\n"
        "detection: {s: {sc-status: 500}, condition: s}\n---\n"
        "title: E\nid: e1\nlogsource: {service: apache}\n"
        "detection: {k: [oops], condition: k}\n";
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    CHECK_INT(iw_rules_load_string(rs, "any.yml", y, sizeof(y) - 1, d), 5);
    CHECK_INT(iw_ruleset_link(rs, d), 0);
    iw_diag_print(d, stderr, "    ");
    CHECK_INT(by_id(rs, "f1")->filter_rules->nelts, 2);
    CHECK_INT(by_id(rs, "f2")->filter_rules->nelts, 1);
    CHECK_INT(by_id(rs, "a1")->filters->nelts, 1);
    CHECK(APR_ARRAY_IDX(by_id(rs, "b1")->filters, 0, iw_rule_t *) == by_id(rs, "f1"));
    CHECK(APR_ARRAY_IDX(by_id(rs, "e1")->filters, 0, iw_rule_t *) == by_id(rs, "f2"));
    CHECK_STR(show(p, by_id(rs, "f1")->cond, by_id(rs, "f1")), "NOT(sel)");
}

TEST(rules_link_hand_built_model)
{
    /* other subsystems' tests build models by hand: link must cope with
     * NULL lists and rules it did not load (no positions) */
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    iw_rule_t *det = apr_pcalloc(p, sizeof(*det)), *cor = apr_pcalloc(p, sizeof(*cor));
    det->kind = IW_RULE_DETECTION;
    det->id = "hand-det";
    det->applies_to = IW_EV_ACCESS;
    cor->kind = IW_RULE_CORRELATION;
    cor->id = "hand-cor";
    cor->corr = apr_pcalloc(p, sizeof(*cor->corr));
    cor->corr->type = IW_CORR_EVENT_COUNT;
    cor->corr->rule_refs = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(cor->corr->rule_refs, const char *) = "hand-det";
    APR_ARRAY_PUSH(cor->corr->rule_refs, const char *) = "missing";
    APR_ARRAY_PUSH(rs->rules, iw_rule_t *) = det;
    APR_ARRAY_PUSH(rs->rules, iw_rule_t *) = cor;
    CHECK_INT(iw_ruleset_link(rs, d), 1);
    CHECK_CONTAINS(APR_ARRAY_IDX(d->msgs, 0, iw_diag_msg_t).text,
                   "rule hand-cor: correlation refers to unknown rule 'missing'");
    CHECK_INT(rs->rules->nelts, 1);            /* the broken correlation is dropped */
    CHECK_INT(det->feeds->nelts, 0);
    CHECK_INT(det->generate, 1);
    apr_array_pop(cor->corr->rule_refs);
    APR_ARRAY_PUSH(rs->rules, iw_rule_t *) = cor;
    d = iw_diag_create(p);
    CHECK_INT(iw_ruleset_link(rs, d), 0);
    CHECK_INT(det->feeds->nelts, 1);
    CHECK_INT(det->generate, 0);
    CHECK_INT(cor->applies_to, IW_EV_ACCESS);
    CHECK_INT(cor->index, 1);
}

/* Sources: a ruleset rebuilt from its dump (no files read) has the same
 * rules in the same order and the same placeholder values; a damaged
 * blob is refused with a message, never read past its end. */
TEST(rules_sources_dump_and_reload)
{
    iw_ruleset_t *rs = iw_ruleset_create(p), *rs2 = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    apr_array_header_t *vals = apr_array_make(p, 2, sizeof(const char *)), *v2;
    char *blob, *bad;
    size_t len, cut;
    int i, n;

    APR_ARRAY_PUSH(vals, const char *) = "10.0.0.0/8";
    APR_ARRAY_PUSH(vals, const char *) = "";
    iw_ruleset_set_placeholder(rs, "nets", vals);
    iw_ruleset_record_sources(rs);
    n = iw_rules_load(rs, iw_test_path(p, "tests/rules/good"), d);
    REQUIRE(n > 3 && d->errors == 0);
    REQUIRE(rs->sources && rs->sources->nelts >= 3);
    blob = iw_ruleset_sources_dump(rs, &len);
    REQUIRE(blob != NULL && len > 0);

    iw_ruleset_record_sources(rs2);
    CHECK_INT(iw_ruleset_load_sources(rs2, blob, len, d), n);
    CHECK_INT(d->errors, 0);
    CHECK_INT(rs2->rules->nelts, rs->rules->nelts);
    for (i = 0; i < rs->rules->nelts && i < rs2->rules->nelts; i++) {
        const iw_rule_t *a = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
        const iw_rule_t *b = APR_ARRAY_IDX(rs2->rules, i, iw_rule_t *);
        CHECK_STR(b->file, a->file);
        CHECK_INT(b->line, a->line);
        CHECK((!a->id && !b->id) || (a->id && b->id && !strcmp(a->id, b->id)));
    }
    CHECK_INT(iw_ruleset_link(rs2, d), 0);
    v2 = apr_hash_get(rs2->placeholders, "nets", APR_HASH_KEY_STRING);
    REQUIRE(v2 && v2->nelts == 2);
    CHECK_STR(APR_ARRAY_IDX(v2, 0, const char *), "10.0.0.0/8");
    CHECK_STR(APR_ARRAY_IDX(v2, 1, const char *), "");
    CHECK_INT(rs2->sources->nelts, rs->sources->nelts);   /* a dump of rs2 = blob */

    /* a blob cut anywhere is read within its bounds: refused (-1, a
     * message), or whole records up to a record boundary; the last byte
     * missing and a wrong type byte are refused */
    bad = malloc(len);
    REQUIRE(bad);
    for (cut = 1; cut < len; cut += 1 + len / 197) {
        iw_ruleset_t *r3 = iw_ruleset_create(p);
        iw_diag_t *d3 = iw_diag_create(p);
        int rc;
        memcpy(bad, blob, cut);
        rc = iw_ruleset_load_sources(r3, bad, cut, d3);
        CHECK(rc == -1 ? d3->errors >= 1 : rc <= n);
    }
    memcpy(bad, blob, len - 1);
    CHECK_INT(iw_ruleset_load_sources(iw_ruleset_create(p), bad, len - 1, iw_diag_create(p)), -1);
    memcpy(bad, blob, len);
    bad[0] = 'X';
    CHECK_INT(iw_ruleset_load_sources(iw_ruleset_create(p), bad, len, iw_diag_create(p)), -1);
    free(bad);
    free(blob);
}
