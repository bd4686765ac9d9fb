/* SPDX-License-Identifier: Apache-2.0 */
/* iw_rules_yaml: a small read-only YAML DOM over libyaml with a line:col mark on
 * every node, so rule errors can point at the offending node.  Internal to
 * iw_rules (config time only). */
#ifndef IW_RULES_YAML_H
#define IW_RULES_YAML_H

#include <stddef.h>
#include <apr_pools.h>
#include <apr_tables.h>

typedef enum { IW_RULES_YAML_SCALAR = 1, IW_RULES_YAML_SEQ, IW_RULES_YAML_MAP } iw_rules_yaml_type_t;

typedef struct iw_rules_yaml_node {
    iw_rules_yaml_type_t type;
    int line, col;          /* 1-based start of the node */
    /* scalar: text (NUL-terminated copy; may hold NULs: use len) */
    const char *s;
    size_t len;
    int plain;              /* plain (unquoted, untagged) scalar: may be
                               null / bool / int, everything else is a string */
    int quoted;             /* single- or double-quoted scalar */
    /* seq: kids[0..n); map: key/value pairs kids[2i], kids[2i+1] */
    struct iw_rules_yaml_node **kids;
    int nkids;
} iw_rules_yaml_node_t;

typedef struct iw_rules_yaml_doc {
    iw_rules_yaml_node_t *root;       /* NULL for an empty document */
    int line, col;          /* where the document starts */
} iw_rules_yaml_doc_t;

/* Parse a (multi-document) YAML buffer into docs (array of iw_rules_yaml_doc_t).
 * Every complete document before a syntax error is kept.  Returns 0 on
 * success, else -1 with *err (formatted message without position) and
 * eline/ecol (1-based) set. */
int iw_rules_yaml_parse(apr_pool_t *p, const char *buf, size_t len,
                  apr_array_header_t **docs, const char **err,
                  int *eline, int *ecol);

/* Map helpers.  Number of pairs; key/value of pair i; value by key (first
 * match) or NULL; the key node itself (for marks) via *key_out. */
int iw_rules_yaml_map_size(const iw_rules_yaml_node_t *m);
const iw_rules_yaml_node_t *iw_rules_yaml_map_key(const iw_rules_yaml_node_t *m, int i);
const iw_rules_yaml_node_t *iw_rules_yaml_map_val(const iw_rules_yaml_node_t *m, int i);
const iw_rules_yaml_node_t *iw_rules_yaml_map_get(const iw_rules_yaml_node_t *m, const char *key,
                              const iw_rules_yaml_node_t **key_out);

/* Typing of plain scalars (YAML 1.2 core schema subset). */
int iw_rules_yaml_scalar_is_null(const iw_rules_yaml_node_t *n);   /* ~, null, empty */
int iw_rules_yaml_scalar_bool(const iw_rules_yaml_node_t *n, int *out); /* 1 if true/false */
int iw_rules_yaml_scalar_int(const iw_rules_yaml_node_t *n, long long *out); /* 1 if integer */

/* Human name of a node type for messages ("a map", "a list", "a value"). */
const char *iw_rules_yaml_kind(const iw_rules_yaml_node_t *n);

#endif
