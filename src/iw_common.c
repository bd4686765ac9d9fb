/* SPDX-License-Identifier: Apache-2.0 */
/* iw_common: diagnostics and level names. */
#include <stdarg.h>
#include <string.h>
#include <apr_strings.h>
#include "iw_common.h"

iw_diag_t *iw_diag_create(apr_pool_t *p)
{
    iw_diag_t *d = apr_pcalloc(p, sizeof(*d));
    d->pool = p;
    d->msgs = apr_array_make(p, 8, sizeof(iw_diag_msg_t));
    return d;
}

void iw_diag_add(iw_diag_t *d, iw_diag_level_t lvl, const char *file, int line,
                 int col, const char *rule_id, const char *fmt, ...)
{
    iw_diag_msg_t *m;
    va_list ap;
    const char *where, *text;

    if (!d) return;
    va_start(ap, fmt);
    text = apr_pvsprintf(d->pool, fmt, ap);
    va_end(ap);
    where = apr_psprintf(d->pool, "%s:%d:%d: ", file ? file : "<input>",
                         line, col);
    m = apr_array_push(d->msgs);
    m->level = lvl;
    m->file = file ? apr_pstrdup(d->pool, file) : NULL;
    m->line = line;
    m->col = col;
    m->rule_id = rule_id ? apr_pstrdup(d->pool, rule_id) : NULL;
    m->text = apr_pstrcat(d->pool, where, lvl == IW_DIAG_WARNING ? "warning: " : "",
                          rule_id ? "rule " : "", rule_id ? rule_id : "",
                          rule_id ? ": " : "", text, NULL);
    if (lvl == IW_DIAG_ERROR) d->errors++; else d->warnings++;
}

void iw_diag_print(const iw_diag_t *d, FILE *f, const char *prefix)
{
    int i;
    for (i = 0; d && i < d->msgs->nelts; i++)
        fprintf(f, "%s%s\n", prefix, APR_ARRAY_IDX(d->msgs, i, iw_diag_msg_t).text);
}

static const char *const level_names[] = {
    "none", "informational", "low", "medium", "high", "critical"
};

const char *iw_level_name(iw_level_t l)
{
    return (l >= IW_LEVEL_NONE && l <= IW_LEVEL_CRITICAL) ? level_names[l] : "none";
}

iw_level_t iw_level_parse(const char *name)
{
    int i;
    for (i = IW_LEVEL_INFORMATIONAL; i <= IW_LEVEL_CRITICAL; i++)
        if (name && !strcmp(name, level_names[i])) return (iw_level_t)i;
    return IW_LEVEL_NONE;
}
