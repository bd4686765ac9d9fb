/* SPDX-License-Identifier: Apache-2.0 */
/* iw_rules_diag: what every rule-loader file reports through and looks up
 * (see iw_rules_int.h): messages with file:line:col and the rule's id, the
 * side table of positions the linker needs, small node helpers.  It calls
 * no other rule-loader file, so the loader's files depend on each other
 * one way only: iw_rules -> detect, corr -> diag; link -> diag. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <ctype.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include "iw_rules_int.h"

/* ---- side table ------------------------------------------------------ */

static apr_hash_t *ext_table(iw_ruleset_t *rs)
{
    void *h = NULL;
    char key[64];

    snprintf(key, sizeof(key), "iw_rules_ext:%p", (void *)rs);
    apr_pool_userdata_get(&h, key, rs->pool);
    if (!h) {
        h = apr_hash_make(rs->pool);
        apr_pool_userdata_set(h, key, NULL, rs->pool);
    }
    return h;
}

/* Mark i of a list, {0,0} when unknown (a model built by hand). */
mark_t iw_rules__mark_at(const mark_t *marks, int i)
{
    return marks ? marks[i] : (mark_t){0, 0};
}

rule_ext_t *iw_rules__rule_ext(iw_ruleset_t *rs, const iw_rule_t *r)
{
    static rule_ext_t none;
    rule_ext_t *x = apr_hash_get(ext_table(rs), &r, sizeof(r));
    return x ? x : &none;
}

/* Record a parsed rule's positions (keyed by the rule's address, which
 * stays put in the ruleset pool). */
void iw_rules__set_ext(iw_ruleset_t *rs, const iw_rule_t *r, rule_ext_t *x)
{
    apr_hash_set(ext_table(rs), apr_pmemdup(rs->pool, &r, sizeof(r)), sizeof(r), x);
}

/* ---- diagnostics ----------------------------------------------------- */

const char *iw_rules__rid(const iw_rule_t *r)
{
    return r ? (r->id ? r->id : r->name) : NULL;
}

static void vreport(ctx_t *c, iw_diag_level_t lvl, int line, int col,
                    const char *fmt, va_list ap)
{
    const char *text = apr_pvsprintf(c->diag ? c->diag->pool : c->p, fmt, ap);
    iw_diag_add(c->diag, lvl, c->file, line, col, iw_rules__rid(c->r), "%s", text);
    if (lvl == IW_DIAG_ERROR) c->nerr++;
}

void iw_rules__err_at(ctx_t *c, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(c, IW_DIAG_ERROR, line, col, fmt, ap);
    va_end(ap);
}

void iw_rules__err(ctx_t *c, const iw_rules_yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(c, IW_DIAG_ERROR, n ? n->line : 0, n ? n->col : 0, fmt, ap);
    va_end(ap);
}

void iw_rules__warn(ctx_t *c, const iw_rules_yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(c, IW_DIAG_WARNING, n ? n->line : 0, n ? n->col : 0, fmt, ap);
    va_end(ap);
}

/* Column of the first character of a scalar's content. */
int iw_rules__content_col(const iw_rules_yaml_node_t *n)
{
    return n->col + (n->quoted ? 1 : 0);
}

/* A value as shown in a message: at most 60 bytes, control bytes as '?'. */
const char *iw_rules__shown(ctx_t *c, const char *s)
{
    size_t n = strlen(s), i, max = 60;
    char *o = apr_palloc(c->p, (n > max ? max : n) + 4);
    for (i = 0; i < n && i < max; i++)
        o[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (n > max) { memcpy(o + i, "...", 3); i += 3; }
    o[i] = 0;
    return o;
}

/* ---- node helpers ---------------------------------------------------- */

int iw_rules__is_text(const iw_rules_yaml_node_t *n)
{
    return n && n->type == IW_RULES_YAML_SCALAR && !iw_rules_yaml_scalar_is_null(n);
}

const char *iw_rules__lower(apr_pool_t *p, const char *s)
{
    char *o = apr_pstrdup(p, s), *q;
    for (q = o; *q; q++) *q = (char)tolower((unsigned char)*q);
    return o;
}

void iw_rules__load_err(iw_diag_t *d, const char *path, const char *fmt, ...)
{
    va_list ap;
    const char *text;
    apr_pool_t *p = d ? d->pool : NULL;
    if (!p) return;
    va_start(ap, fmt);
    text = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    iw_diag_add(d, IW_DIAG_ERROR, path, 0, 0, NULL, "%s", text);
}
