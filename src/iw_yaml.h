/* SPDX-License-Identifier: Apache-2.0 */
/* iw_yaml: a small read-only YAML DOM over libyaml with a line:col mark on
 * every node, so rule errors can point at the offending node.  Internal to
 * iw_rules (config time only). */
#ifndef IW_YAML_H
#define IW_YAML_H

#include <stddef.h>
#include <apr_pools.h>
#include <apr_tables.h>

typedef enum { IW_Y_SCALAR = 1, IW_Y_SEQ, IW_Y_MAP } iw_ynode_type_t;

typedef struct iw_ynode {
    iw_ynode_type_t type;
    int line, col;          /* 1-based start of the node */
    /* scalar: text (NUL-terminated copy; may hold NULs: use len) */
    const char *s;
    size_t len;
    int plain;              /* plain (unquoted, untagged) scalar: may be
                               null / bool / int, everything else is a string */
    int quoted;             /* single- or double-quoted scalar */
    /* seq: kids[0..n); map: key/value pairs kids[2i], kids[2i+1] */
    struct iw_ynode **kids;
    int nkids;
} iw_ynode_t;

typedef struct iw_ydoc {
    iw_ynode_t *root;       /* NULL for an empty document */
    int line, col;          /* where the document starts */
} iw_ydoc_t;

/* Parse a (multi-document) YAML buffer into docs (array of iw_ydoc_t).
 * Every complete document before a syntax error is kept.  Returns 0 on
 * success, else -1 with *err (formatted message without position) and
 * eline/ecol (1-based) set. */
int iw_yaml_parse(apr_pool_t *p, const char *buf, size_t len,
                  apr_array_header_t **docs, const char **err,
                  int *eline, int *ecol);

/* Map helpers.  Number of pairs; key/value of pair i; value by key (first
 * match) or NULL; the key node itself (for marks) via *key_out. */
int iw_ymap_size(const iw_ynode_t *m);
const iw_ynode_t *iw_ymap_key(const iw_ynode_t *m, int i);
const iw_ynode_t *iw_ymap_val(const iw_ynode_t *m, int i);
const iw_ynode_t *iw_ymap_get(const iw_ynode_t *m, const char *key,
                              const iw_ynode_t **key_out);

/* Typing of plain scalars (YAML 1.2 core schema subset). */
int iw_yscalar_is_null(const iw_ynode_t *n);   /* ~, null, empty */
int iw_yscalar_bool(const iw_ynode_t *n, int *out); /* 1 if true/false */
int iw_yscalar_int(const iw_ynode_t *n, long long *out); /* 1 if integer */

/* Human name of a node type for messages ("a map", "a list", "a value"). */
const char *iw_ynode_kind(const iw_ynode_t *n);

#endif
