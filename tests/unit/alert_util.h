/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the alert tests (test_alert.c, test_alert_golden.c). */
#ifndef ALERT_UTIL_H
#define ALERT_UTIL_H

#include <string.h>
#include <apr_strings.h>
#include "iw_rules.h"

/* r becomes an alerting detection rule with these texts; tags is a
 * blank-separated list (NULL: none). */
static inline void au_fill_rule(apr_pool_t *p, iw_rule_t *r, const char *id, const char *title,
                                iw_level_t lvl, const char *tags)
{
    char *t, *last, *dup = apr_pstrdup(p, tags ? tags : "");
    memset(r, 0, sizeof(*r));
    r->kind = IW_RULE_DETECTION;
    r->id = id;
    r->title = title;
    r->level = lvl;
    r->generate = 1;
    r->tags = apr_array_make(p, 4, sizeof(const char *));
    for (t = apr_strtok(dup, " ", &last); t; t = apr_strtok(NULL, " ", &last))
        APR_ARRAY_PUSH(r->tags, const char *) = t;
}

#endif
