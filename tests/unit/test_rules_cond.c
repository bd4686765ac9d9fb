/* SPDX-License-Identifier: Apache-2.0 */
/* Condition grammar: precedence, n-ary chains, "x of" expansion, errors
 * with line:col. */
#include <apr_strings.h>
#include "iw_test.h"
#include "iw_rules.h"

/* Selections by name only: the grammar never looks at their content. */
static apr_array_header_t *sels(apr_pool_t *p, const char *names)
{
    apr_array_header_t *a = apr_array_make(p, 8, sizeof(iw_selection_t));
    char *dup = apr_pstrdup(p, names), *last = NULL, *tok;
    for (tok = apr_strtok(dup, " ", &last); tok; tok = apr_strtok(NULL, " ", &last)) {
        iw_selection_t *s = apr_array_push(a);
        memset(s, 0, sizeof(*s));
        s->name = tok;
    }
    return a;
}

/* Tree as text: sel names, AND(..), OR(..), NOT(..). */
static const char *show(apr_pool_t *p, const iw_rules_cond_t *c, const apr_array_header_t *s)
{
    const char *out, *op;
    int i;
    if (!c) return "(null)";
    if (c->type == IW_RULES_COND_SEL) return APR_ARRAY_IDX(s, c->sel, iw_selection_t).name;
    op = c->type == IW_RULES_COND_AND ? "AND(" : c->type == IW_RULES_COND_OR ? "OR(" : "NOT(";
    out = op;
    for (i = 0; i < c->nkids; i++)
        out = apr_pstrcat(p, out, i ? "," : "", show(p, c->kids[i], s), NULL);
    return apr_pstrcat(p, out, ")", NULL);
}

static const char *tree(apr_pool_t *p, const char *names, const char *expr)
{
    apr_array_header_t *s = sels(p, names);
    iw_diag_t *d = iw_diag_create(p);
    iw_rules_cond_t *c = iw_rules_cond_parse(p, expr, s, "t.yml", 10, 16, "r1", d);
    if (!c) return d->msgs->nelts ? APR_ARRAY_IDX(d->msgs, 0, iw_diag_msg_t).text : "?";
    return show(p, c, s);
}

/* The error text of a failing parse ("" when it parsed). */
static const char *cerr(apr_pool_t *p, const char *names, const char *expr)
{
    apr_array_header_t *s = sels(p, names);
    iw_diag_t *d = iw_diag_create(p);
    iw_rules_cond_t *c = iw_rules_cond_parse(p, expr, s, "t.yml", 10, 16, "r1", d);
    if (c) return "";
    return d->errors == 1 ? APR_ARRAY_IDX(d->msgs, 0, iw_diag_msg_t).text : "?";
}

TEST(cond_single_and_chains)
{
    CHECK_STR(tree(p, "a b c", "a"), "a");
    CHECK_STR(tree(p, "a b c", "a and b"), "AND(a,b)");
    CHECK_STR(tree(p, "a b c", "a and b and c"), "AND(a,b,c)");
    CHECK_STR(tree(p, "a b c", "a or b or c"), "OR(a,b,c)");
    CHECK_STR(tree(p, "a b c", "  a   AND\tb "), "AND(a,b)");
    CHECK_STR(tree(p, "a b c", "a Or b"), "OR(a,b)");
}

TEST(cond_precedence)
{
    CHECK_STR(tree(p, "a b c", "a and b or c"), "OR(AND(a,b),c)");
    CHECK_STR(tree(p, "a b c", "a or b and c"), "OR(a,AND(b,c))");
    CHECK_STR(tree(p, "a b c", "not a and b"), "AND(NOT(a),b)");
    CHECK_STR(tree(p, "a b c", "not a or b"), "OR(NOT(a),b)");
    CHECK_STR(tree(p, "a b c d", "a or b and not c or d"), "OR(a,AND(b,NOT(c)),d)");
    CHECK_STR(tree(p, "a b c", "not not a"), "NOT(NOT(a))");
}

TEST(cond_parentheses)
{
    CHECK_STR(tree(p, "a b c", "a and (b or c)"), "AND(a,OR(b,c))");
    CHECK_STR(tree(p, "a b c", "(a or b) and c"), "AND(OR(a,b),c)");
    CHECK_STR(tree(p, "a b c", "not (a or b)"), "NOT(OR(a,b))");
    CHECK_STR(tree(p, "a b c", "((a))"), "a");
    CHECK_STR(tree(p, "a b c", "(a)and(b)"), "AND(a,b)");
}

TEST(cond_quantifiers)
{
    const char *s = "selection_1 selection_2 filter_a _hidden other";
    CHECK_STR(tree(p, s, "1 of selection_*"), "OR(selection_1,selection_2)");
    CHECK_STR(tree(p, s, "all of selection_*"), "AND(selection_1,selection_2)");
    CHECK_STR(tree(p, s, "all of selection*"), "AND(selection_1,selection_2)");
    /* one match collapses to the selection itself */
    CHECK_STR(tree(p, s, "not 1 of filter_*"), "NOT(filter_a)");
    CHECK_STR(tree(p, s, "1 of *_a"), "filter_a");
    CHECK_STR(tree(p, s, "1 of sel*_2"), "selection_2");
    /* them: every selection not starting with '_' */
    CHECK_STR(tree(p, s, "1 of them"), "OR(selection_1,selection_2,filter_a,other)");
    CHECK_STR(tree(p, s, "all of them"), "AND(selection_1,selection_2,filter_a,other)");
    /* an explicit pattern may name underscore selections */
    CHECK_STR(tree(p, s, "1 of _*"), "_hidden");
    CHECK_STR(tree(p, s, "all of selection_* and not 1 of filter_*"),
              "AND(AND(selection_1,selection_2),NOT(filter_a))");
    CHECK_STR(tree(p, s, "other and (1 of selection_* or filter_a)"),
              "AND(other,OR(OR(selection_1,selection_2),filter_a))");
}

TEST(cond_sigmahq_shapes)
{
    CHECK_STR(tree(p, "selection_main selection_exploit_1 selection_exploit_2_uri "
                   "selection_exploit_2_keyword",
                   "selection_main and (selection_exploit_1 or all of selection_exploit_2_*)"),
              "AND(selection_main,OR(selection_exploit_1,"
              "AND(selection_exploit_2_uri,selection_exploit_2_keyword)))");
    CHECK_STR(tree(p, "select_method keywords filter",
                   "select_method and keywords and not filter"),
              "AND(select_method,keywords,NOT(filter))");
}

TEST(cond_errors_with_position)
{
    /* expression starts at 10:16 */
    CHECK_STR(cerr(p, "a b", "a and x"),
              "t.yml:10:22: rule r1: condition: unknown selection 'x' (selections: a, b)");
    CHECK_STR(cerr(p, "a b", "(a and b"),
              "t.yml:10:16: rule r1: condition: unbalanced parentheses: '(' is never closed");
    CHECK_STR(cerr(p, "a b", "a and b)"),
              "t.yml:10:23: rule r1: condition: unbalanced parentheses: ')' without '('");
    CHECK_STR(cerr(p, "a b", "a b"),
              "t.yml:10:18: rule r1: condition: unexpected 'b' after a complete expression "
              "(missing 'and'/'or'?)");
    CHECK_STR(cerr(p, "a b", ""), "t.yml:10:16: rule r1: condition: empty condition");
    CHECK_STR(cerr(p, "a b", "   "), "t.yml:10:19: rule r1: condition: empty condition");
    CHECK_CONTAINS(cerr(p, "a b", "a and"), "10:21: rule r1: condition: expected a selection");
    CHECK_CONTAINS(cerr(p, "a b", "and a"), "10:16: rule r1: condition: expected a selection "
                   "name, got 'and'");
    CHECK_CONTAINS(cerr(p, "sel1 sel2", "1 of filter*"),
                   "10:21: rule r1: condition: pattern 'filter*' matches no selection");
    CHECK_CONTAINS(cerr(p, "_a", "1 of them"), "'them' matches no selection");
    CHECK_CONTAINS(cerr(p, "sel1", "any of sel*"), "10:16: rule r1: condition: 'any of' is "
                   "not Sigma: use '1 of'");
    CHECK_CONTAINS(cerr(p, "sel1", "2 of sel*"), "only '1 of' and 'all of' exist");
    CHECK_CONTAINS(cerr(p, "sel1", "1 sel1"), "expected 'of' after '1'");
    CHECK_CONTAINS(cerr(p, "sel1", "all of"), "expected a selection pattern or 'them'");
    CHECK_CONTAINS(cerr(p, "a b", "a and (b or)"), "expected a selection name, got ')'");
}

TEST(cond_aggregation_refused)
{
    CHECK_STR(cerr(p, "selection", "selection | count() by clientip > 10"),
              "t.yml:10:26: rule r1: condition: aggregation expressions in condition are "
              "deprecated; use a Sigma correlation rule (event_count) instead");
    CHECK_CONTAINS(cerr(p, "a b", "a | near b"), "10:18: rule r1: condition: aggregation");
}

TEST(cond_multiline_position)
{
    /* a folded expression continues at column 1 of the next line */
    CHECK_CONTAINS(cerr(p, "a b", "a and\nzz"), "t.yml:11:1: rule r1: condition: unknown "
                   "selection 'zz'");
}

TEST(cond_bounded_nesting)
{
    char buf[1200];
    int i;
    for (i = 0; i < 500; i++) buf[i] = '(';
    buf[500] = 'a';
    for (i = 501; i < 1001; i++) buf[i] = ')';
    buf[1001] = 0;
    CHECK_CONTAINS(cerr(p, "a", buf), "parentheses nested deeper than");
    for (i = 0; i < 250; i++) memcpy(buf + 4 * i, "not ", 4);
    strcpy(buf + 1000, "a");
    CHECK_CONTAINS(cerr(p, "a", buf), "'not' nested deeper than");
    /* 64 levels are fine */
    for (i = 0; i < 64; i++) buf[i] = '(';
    buf[64] = 'a';
    for (i = 65; i < 129; i++) buf[i] = ')';
    buf[129] = 0;
    CHECK_STR(tree(p, "a", buf), "a");
}

TEST(cond_wildcard_name_hint)
{
    CHECK_STR(cerr(p, "selection1 selection2", "selection*"),
              "t.yml:10:16: rule r1: condition: 'selection*' is a pattern: write "
              "'1 of selection*' or 'all of selection*'");
}
