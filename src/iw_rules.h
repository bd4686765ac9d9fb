/* SPDX-License-Identifier: Apache-2.0 */
/* iw_rules: Sigma YAML (detection rules, correlation rules, filters) ->
 * rule model.  Parsing and validation only; iw_engine compiles the model.
 * Every error is reported through iw_diag as file:line:col: rule <id>: ... */
#ifndef IW_RULES_H
#define IW_RULES_H

#include <apr_hash.h>
#include "iw_common.h"
#include "iw_rules_cond.h"
#include "iw_event.h"

/* Value modifiers (field|mod1|mod2).  A bit set per item. */
enum {
    IW_MOD_CONTAINS     = 1u << 0,
    IW_MOD_STARTSWITH   = 1u << 1,
    IW_MOD_ENDSWITH     = 1u << 2,
    IW_MOD_ALL          = 1u << 3,
    IW_MOD_RE           = 1u << 4,
    IW_MOD_RE_I         = 1u << 5,   /* re|i */
    IW_MOD_RE_M         = 1u << 6,   /* re|m */
    IW_MOD_RE_S         = 1u << 7,   /* re|s */
    IW_MOD_CIDR         = 1u << 8,
    IW_MOD_EXISTS       = 1u << 9,
    IW_MOD_BASE64       = 1u << 10,
    IW_MOD_BASE64OFFSET = 1u << 11,
    IW_MOD_CASED        = 1u << 12,
    IW_MOD_LT           = 1u << 13,
    IW_MOD_LTE          = 1u << 14,
    IW_MOD_GT           = 1u << 15,
    IW_MOD_GTE          = 1u << 16,
    IW_MOD_NEQ          = 1u << 17,
    IW_MOD_FIELDREF     = 1u << 18,
    IW_MOD_EXPAND       = 1u << 19,
    IW_MOD_WINDASH      = 1u << 20,
    IW_MOD_UTF16LE      = 1u << 21,  /* also "wide" */
    IW_MOD_UTF16BE      = 1u << 22,
    IW_MOD_UTF16        = 1u << 23,  /* BOM + LE */
    IW_MOD_MINUTE       = 1u << 24,  /* time modifiers on the event time */
    IW_MOD_HOUR         = 1u << 25,
    IW_MOD_DAY          = 1u << 26,
    IW_MOD_WEEK         = 1u << 27,
    IW_MOD_MONTH        = 1u << 28,
    IW_MOD_YEAR         = 1u << 29
};

typedef enum {
    IW_VAL_STRING = 1,  /* s = exactly as written in YAML: wildcards '*' '?'
                           and escapes '\\*' '\\?' '\\\\' still in place */
    IW_VAL_NUMBER,      /* integer; s holds its text too */
    IW_VAL_BOOL,        /* for |exists; s holds "true"/"false" */
    IW_VAL_NULL         /* YAML null / empty value: field absent or empty */
} iw_value_type_t;

typedef struct iw_value {
    iw_value_type_t type;
    iw_str_t s;
    int64_t num;
    int boolean;
    int line, col;
} iw_value_t;

/* One "field|mods: values" entry; field < 0 for a keyword list (matched
 * against IW_F_RAW).  Values are ORed, or ANDed with |all. */
typedef struct iw_item {
    const char *field_name;     /* as written, NULL for keywords */
    int field;                  /* iw_field_id_t, or -1 for keywords */
    unsigned mods;
    apr_array_header_t *values; /* of iw_value_t; never empty */
    int fieldref;               /* with |fieldref: the referenced field id */
    int line, col;
} iw_item_t;

/* A selection: OR of groups, each group an AND of items.
 * - map            -> one group
 * - list of maps   -> one group per map
 * - list of plain values (keywords) -> one group with one keyword item */
typedef struct iw_group {
    apr_array_header_t *items;  /* of iw_item_t */
} iw_group_t;

typedef struct iw_selection {
    const char *name;
    apr_array_header_t *groups; /* of iw_group_t */
    int line, col;
} iw_selection_t;


typedef enum {
    IW_RULE_DETECTION = 1, IW_RULE_CORRELATION, IW_RULE_FILTER
} iw_rule_kind_t;

typedef enum {
    IW_CORR_EVENT_COUNT = 1, IW_CORR_VALUE_COUNT, IW_CORR_TEMPORAL,
    IW_CORR_TEMPORAL_ORDERED
} iw_corr_type_t;

/* Correlation condition: count compared with up to two bounds (range). */
enum { IW_CMP_GT = 1, IW_CMP_GTE, IW_CMP_LT, IW_CMP_LTE, IW_CMP_EQ, IW_CMP_NEQ };
typedef struct iw_corr_cmp { int op; int64_t value; } iw_corr_cmp_t;

struct iw_rule;

typedef struct iw_corr_def {
    iw_corr_type_t type;
    apr_array_header_t *rule_refs;   /* const char*: ids or names as written */
    apr_array_header_t *rules;       /* struct iw_rule*: resolved by iw_ruleset_link */
    apr_array_header_t *group_by;    /* const char*: field names or aliases */
    /* aliases: alias -> (apr_hash_t*: rule name -> field name) */
    apr_hash_t *aliases;
    /* resolved: for rule i (same order as rules) and group-by field j the
     * event field id: group_fields[i * group_by->nelts + j] */
    int *group_fields;
    const char *value_field;         /* value_count: `field` */
    int value_field_id;
    apr_interval_time_t timespan;    /* usec */
    iw_corr_cmp_t cmp[2]; int ncmp;
    int generate;                    /* `generate: true` keeps referenced rules' own alerts */
} iw_corr_def_t;

typedef struct iw_rule {
    iw_rule_kind_t kind;
    int index;                  /* position in ruleset->rules */
    const char *id;             /* may be NULL for rules without id */
    const char *name;           /* `name:` attribute, may be NULL */
    const char *title;
    const char *description, *status, *author, *date, *modified;
    iw_level_t level;
    apr_array_header_t *tags;           /* const char* */
    apr_array_header_t *references;     /* const char* */
    apr_array_header_t *falsepositives; /* const char* */
    const char *ls_category, *ls_product, *ls_service;
    unsigned applies_to;        /* mask of iw_event_type_t */
    /* detection (and filter) */
    apr_array_header_t *selections;     /* of iw_selection_t */
    iw_rules_cond_t *cond;            /* several `condition` list entries -> OR */
    /* correlation */
    iw_corr_def_t *corr;
    /* filter: the rules it applies to (ids or names as written, then resolved) */
    apr_array_header_t *filter_refs;    /* const char* */
    apr_array_header_t *filter_rules;   /* struct iw_rule* */
    /* detection rules: filters that apply, and correlations fed */
    apr_array_header_t *filters;        /* struct iw_rule* (kind FILTER) */
    apr_array_header_t *feeds;          /* struct iw_rule* (kind CORRELATION) */
    int generate;               /* 0: only feeds correlations (no own alert) */
    const char *file;
    int line;                   /* line of the YAML document start */
    /* the rule's own parts of its alerts, rendered once (iw_alert_prepare) */
    const struct iw_alert_frag *alert_frag;
} iw_rule_t;

typedef struct iw_ruleset {
    apr_pool_t *pool;
    apr_array_header_t *rules;  /* iw_rule_t*, in load order */
    apr_hash_t *by_id;          /* id -> iw_rule_t* */
    apr_hash_t *by_name;        /* name -> iw_rule_t* */
    /* placeholder name (without %) -> apr_array_header_t* of const char*;
     * filled by the caller before iw_engine_compile (|expand) */
    apr_hash_t *placeholders;
    int linked;
    /* additive: the bytes of every rule file read, in load order, when
     * iw_ruleset_record_sources() was called before loading (else NULL) */
    apr_array_header_t *sources;
} iw_ruleset_t;

iw_ruleset_t *iw_ruleset_create(apr_pool_t *p);

/* Load a file (multi-document YAML), a directory (recursively, *.yml and
 * *.yaml, sorted) or a glob.  Errors go to diag; valid rules of the same
 * file are kept.  Returns the number of documents loaded. */
int iw_rules_load(iw_ruleset_t *rs, const char *path, iw_diag_t *diag);
/* Load from memory (tests); `name` is used as the file name in messages. */
int iw_rules_load_string(iw_ruleset_t *rs, const char *name, const char *yaml,
                         size_t len, iw_diag_t *diag);

/* After all loads: resolve correlation/filter references, aliases and
 * group-by fields, `generate` semantics, duplicate ids.  Returns number of
 * errors added. */
int iw_ruleset_link(iw_ruleset_t *rs, iw_diag_t *diag);

/* Placeholder value lists for |expand: "name" -> values; a feed file holds
 * one value per line, '#' comments and blank lines ignored. */
void iw_ruleset_set_placeholder(iw_ruleset_t *rs, const char *name,
                                apr_array_header_t *values);
int iw_ruleset_load_placeholder_file(iw_ruleset_t *rs, const char *name,
                                     const char *path, iw_diag_t *diag);

/* Sources: the rules as they were read, to rebuild the same ruleset later
 * without the files (httpd keeps the last good rules this way, so that a
 * reload with a broken file keeps serving with them: docs/MODULE.md).
 * record_sources: from now on every rule file read is kept (in rs->pool).
 * sources_dump: a flat blob (malloc'd, free() it; NULL when out of memory)
 * of the recorded files and of every placeholder's values; no pointers,
 * so it outlives the pools and the code that wrote it.
 * load_sources: load such a blob into an empty ruleset as if the files were
 * read again (messages name the original files); returns the number of
 * documents loaded, -1 when the blob is damaged (a diag says so). */
void iw_ruleset_record_sources(iw_ruleset_t *rs);
char *iw_ruleset_sources_dump(const iw_ruleset_t *rs, size_t *len);
int iw_ruleset_load_sources(iw_ruleset_t *rs, const char *blob, size_t len,
                            iw_diag_t *diag);


#endif
