/* SPDX-License-Identifier: Apache-2.0 */
/* iw_rules_cond: the parsed Sigma condition of a rule (iw_rules_cond.c has the
 * grammar).  Config time only: the engine compiles the tree into its own
 * program (iw_engine_compile.c). */
#ifndef IW_RULES_COND_H
#define IW_RULES_COND_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "iw_common.h"

/* Condition tree.  "1 of x*", "all of them" etc. are expanded at parse time
 * into OR/AND nodes over IW_RULES_COND_SEL leaves. */
typedef enum {
    IW_RULES_COND_SEL = 1, IW_RULES_COND_AND, IW_RULES_COND_OR, IW_RULES_COND_NOT
} iw_rules_cond_type_t;

typedef struct iw_rules_cond {
    iw_rules_cond_type_t type;
    int sel;                    /* IW_RULES_COND_SEL: index into rule->selections */
    struct iw_rules_cond **kids; /* AND/OR: n kids; NOT: 1 kid */
    int nkids;
} iw_rules_cond_t;

/* Parse a condition expression against a rule's selections (exposed for
 * unit tests).  Returns NULL and adds a diag on error. */
iw_rules_cond_t *iw_rules_cond_parse(apr_pool_t *p, const char *expr,
                                     const apr_array_header_t *selections,
                                     const char *file, int line, int col,
                                     const char *rule_id, iw_diag_t *diag);

#endif
