/* SPDX-License-Identifier: Apache-2.0 */
/* iw_rules_int: what the rule-loader files share (not for the engine).
 * iw_rules.c reads files and documents; iw_rules_diag.c owns the
 * diagnostics and the side table of positions; iw_rules_detect.c parses detection sections
 * (modifiers, values, selections, conditions); iw_rules_corr.c parses
 * correlation sections; iw_rules_link.c resolves references between
 * documents and placeholders.  Helpers named iw_rules__* are internal. */
#ifndef IW_RULES_INT_H
#define IW_RULES_INT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "iw_rules.h"
#include "iw_rules_yaml.h"

typedef struct { int line, col; } mark_t;

/* Positions the linker needs for its messages. */
typedef struct rule_ext {
    mark_t id, name;
    mark_t *refs;       /* per corr->rule_refs / filter_refs entry */
    mark_t *groups;     /* per corr->group_by entry */
    mark_t aliases;
    int generate_given;
    int any_rules;      /* filter with `rules: any|all` or []: every rule */
} rule_ext_t;

typedef struct {
    iw_ruleset_t *rs;
    apr_pool_t *p;              /* the ruleset pool: everything kept */
    iw_diag_t *diag;
    const char *file;
    iw_rule_t *r;               /* rule being parsed */
    rule_ext_t *x;
    int nerr;
} ctx_t;

/* ---- diagnostics, side table, node helpers (iw_rules_diag.c) --------- */

const char *iw_rules__rid(const iw_rule_t *r);
void iw_rules__err(ctx_t *c, const iw_rules_yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void iw_rules__err_at(ctx_t *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void iw_rules__warn(ctx_t *c, const iw_rules_yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *iw_rules__shown(ctx_t *c, const char *s);
int iw_rules__content_col(const iw_rules_yaml_node_t *n);
int iw_rules__is_text(const iw_rules_yaml_node_t *n);
const char *iw_rules__lower(apr_pool_t *p, const char *s);
void iw_rules__load_err(iw_diag_t *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
mark_t iw_rules__mark_at(const mark_t *marks, int i);
rule_ext_t *iw_rules__rule_ext(iw_ruleset_t *rs, const iw_rule_t *r);
void iw_rules__set_ext(iw_ruleset_t *rs, const iw_rule_t *r, rule_ext_t *x);

/* ---- detection (iw_rules_detect.c) ---------------------------------- */

void iw_rules__parse_condition(ctx_t *c, const iw_rules_yaml_node_t *parent, const char *what);
void iw_rules__parse_selections(ctx_t *c, const iw_rules_yaml_node_t *m, const char *const *skip);
void iw_rules__parse_detection(ctx_t *c, const iw_rules_yaml_node_t *det);

/* ---- correlation (iw_rules_corr.c) ---------------------------------- */

void iw_rules__parse_correlation(ctx_t *c, const iw_rules_yaml_node_t *root, const iw_rules_yaml_node_t *m);
apr_array_header_t *iw_rules__parse_refs(ctx_t *c, const iw_rules_yaml_node_t *m, const char *what,
                                      mark_t **marks);

#endif
