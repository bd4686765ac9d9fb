/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine: the rule model compiled for speed, and evaluation.
 *
 * Compile once (post_config / CLI start): per event field one Vectorscan
 * database with every contains/startswith/endswith/equals/wildcard value of
 * every rule (caseless unless |cased; exact values in a hash table and
 * small literal sets compared directly instead), |re values in PCRE2 (JIT)
 * behind a Vectorscan prefilter, |cidr in a radix tree, numbers/exists/
 * fieldref/time as direct checks.  Evaluate per event: each field scanned
 * once, conditions evaluated only for candidate rules, filters applied, no
 * allocation (all state in the per-thread scratch).  Field slots
 * (iw_field_slots): an item on cs-uri-stem/-query matches on any slot;
 * substring items are scanned on cs-uri alone (it contains both). */
#ifndef IW_ENGINE_H
#define IW_ENGINE_H

#include "iw_rules.h"
#include "iw_event.h"

typedef struct iw_engine iw_engine_t;
typedef struct iw_scratch iw_scratch_t;

typedef struct iw_engine_opts {
    iw_level_t min_level;            /* rules below are not compiled, except
                                      * those feeding a correlation (their
                                      * hits are returned: callers filter
                                      * alerts by level); NONE = all */
    apr_array_header_t *exclude_ids; /* const char*: rule ids not compiled */
    const struct iw_engine_dbcache *dbcache; /* compiled-database cache; NULL = none */
    int scan_cache;                  /* scan-result cache entries per scratch
                                      * (iw_engine_memo.h): 0 = default, < 0 = off */
} iw_engine_opts_t;

/* Compile all detection rules (and filters) of a linked ruleset.  Returns
 * NULL with diags on error.  The engine is immutable and thread-safe. */
iw_engine_t *iw_engine_compile(apr_pool_t *p, iw_ruleset_t *rs,
                               const iw_engine_opts_t *opts, iw_diag_t *diag);
const iw_ruleset_t *iw_engine_ruleset(const iw_engine_t *e);
int iw_engine_rule_count(const iw_engine_t *e);

/* How many rules a configuration holds, by kind: the one definition the
 * CLI (`check`, scan), the status page and httpd's start-up line use.
 * total = every loaded document (detection + correlation + filter);
 * detection rules not compiled (excluded, below a minimum level) are
 * counted in detection and again in not_compiled. */
typedef struct iw_rule_counts {
    int total, detection, correlation, filters, not_compiled;
} iw_rule_counts_t;
void iw_engine_rule_counts(const iw_engine_t *e, iw_rule_counts_t *c);
/* Does any rule's matching read access-event field f, a member of the
 * request's description (iw_request_desc_t: c-ip, time-taken, ...; not a
 * view computed from others)?  A caller may leave a member no rule reads
 * unknown (correlation's group-by and value fields: iw_corr_reads_field). */
int iw_engine_reads_field(const iw_engine_t *e, int f);
/* "91 rules: 79 detection, 6 correlation, 6 filters" (+ ", 2 detection
 * rules not compiled" when some are); returns the length (snprintf's). */
int iw_rule_counts_text(const iw_rule_counts_t *c, char *buf, size_t size);

/* Per-thread scratch (Vectorscan scratch, PCRE2 match data, bitsets, hit
 * list).  Allocated with malloc: create once per thread, reuse. */
iw_scratch_t *iw_scratch_create(const iw_engine_t *e);
void iw_scratch_destroy(iw_scratch_t *s);
/* The engine s was created for. */
const iw_engine_t *iw_scratch_engine(const iw_scratch_t *s);

/* A piece of evidence: which field matched and an excerpt of it. */
typedef struct iw_match {
    int field;          /* iw_field_id_t, IW_F_RAW for keywords */
    iw_str_t value;     /* points into the event; excerpt bound by caller */
} iw_match_t;

#define IW_MAX_MATCHES_PER_HIT 4

typedef struct iw_hit {
    const iw_rule_t *rule;          /* detection rule that matched */
    int nmatches;
    iw_match_t matches[IW_MAX_MATCHES_PER_HIT];
} iw_hit_t;

/* Evaluate one event; returns the number of matching detection rules
 * (filters applied, rules with generate=0 included: the caller routes them
 * to correlation via rule->feeds and only alerts on rule->generate).
 * *hits points into the scratch and is valid until the next call; hits are
 * in rule load order.  The scratch must come from iw_scratch_create(e) (0
 * otherwise) and be used by one thread at a time. */
int iw_engine_eval(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev,
                   const iw_hit_t **hits);

/* Same for a request, from its description: builds ev with
 * iw_event_from_request and evaluates it, same result as iw_engine_eval.
 * A repeat of a request the event cache holds without hits (every field
 * any rule reads equal) is answered from the description alone: ev is then
 * not built (returns 0 and ev does not describe d). */
int iw_engine_eval_request(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev,
                           iw_request_desc_t *d, const iw_hit_t **hits);

/* Evaluation errors.  A regex past a PCRE2 limit (JIT stack, match,
 * depth, heap; docs/MODULE.md "Regex limits") or a failed Vectorscan scan
 * leaves a predicate unknown.  After iw_engine_eval / _eval_request, the
 * rules that did not match but would have if the unknown predicates were
 * true (and their filters, as computed, did not exclude them) are the
 * evaluation errors of that event: padding a value past a limit must raise
 * an alert, never hide one.  Such an event is never answered from the
 * event cache. */
typedef struct iw_eval_error {
    const iw_rule_t *rule;      /* detection rule that could not be evaluated */
    int field;                  /* iw_field_id_t of the value it could not check */
    int code;                   /* PCRE2 error code, or IW_EVAL_SCAN_FAILED */
} iw_eval_error_t;
#define IW_EVAL_SCAN_FAILED (-100000)

/* The evaluation errors of the last event evaluated with s (in scratch
 * memory, valid until the next evaluation); returns how many. */
int iw_engine_eval_errors(const iw_scratch_t *s, const iw_eval_error_t **errs);
/* "regex match limit", "regex JIT stack limit", ... for an error code. */
const char *iw_eval_error_reason(int code);
/* Should this error raise an alert?  1 for the first error of its rule and
 * client (c-ip) in the event's minute seen by this scratch (a small table:
 * a collision only sends one more), 0 when one went out already. */
int iw_scratch_eval_error_due(iw_scratch_t *s, const iw_eval_error_t *er, iw_event_t *ev);

typedef struct iw_eval_counters {
    uint64_t regex_errors;      /* regex runs past a limit */
    uint64_t scan_errors;       /* failed Vectorscan scans */
    uint64_t eval_errors;       /* rule evaluations that failed (sum of per_rule) */
    uint64_t held;              /* of those, not alerted (iw_scratch_eval_error_due) */
    const uint64_t *per_rule;   /* failed evaluations per rule->index */
    int nrules;                 /* entries of per_rule */
} iw_eval_counters_t;
/* This scratch's counters since it was created. */
void iw_scratch_error_counters(const iw_scratch_t *s, iw_eval_counters_t *c);

/* Compile statistics (CLI `check`, benchmarks). */
typedef struct iw_engine_stats {
    int rules;              /* detection rules compiled */
    int filters;            /* filter rules compiled */
    int predicates;         /* distinct boolean tests after sharing */
    int patterns;           /* Vectorscan expressions (all fields) */
    int databases;          /* Vectorscan databases (per event type, field) */
    int regexes;            /* PCRE2 checks */
    int regexes_unfiltered; /* PCRE2 checks without a Vectorscan prefilter */
    int direct_checks;      /* numbers, null/exists, fieldref, time */
    long cidr_nodes;        /* radix tree nodes (all fields) */
    int always_candidates;  /* rules evaluated on every event */
    int merged_literals;    /* substring literals scanned inside _raw */
    int header_line_fields; /* header-block fields scanned line by line */
} iw_engine_stats_t;
void iw_engine_stats(const iw_engine_t *e, iw_engine_stats_t *st);

/* Per-scratch counters since creation: events evaluated and candidate rule
 * conditions evaluated (shows how well pruning works). */
void iw_scratch_counters(const iw_scratch_t *s, uint64_t *events,
                         uint64_t *candidates);
/* Scan-result cache hits and misses of this scratch (0/0 when off), and
 * of its whole-event cache (an event whose every field a rule reads equals
 * a recent one's gets that one's hits without a scan). */
void iw_scratch_cache_counters(const iw_scratch_t *s, uint64_t *hits,
                               uint64_t *misses);
void iw_scratch_event_cache_counters(const iw_scratch_t *s, uint64_t *hits,
                                     uint64_t *misses);

/* Benchmarks (tests/bench/bench_fields.c): where an event's scan time goes.
 * iw_engine_scan_fields: the fields scanned for events of `type`
 * (IW_EV_ACCESS / IW_EV_ERROR), in scan order, up to max into fields;
 * returns how many there are.  iw_engine_scan_field: every matcher of that
 * one field on ev, as the evaluation's scan phase runs them but without
 * the scan-result cache; returns the predicates set (0 when the field is
 * absent or empty, -1 on a bad argument).  No rule is evaluated. */
int iw_engine_scan_fields(const iw_engine_t *e, unsigned type, int *fields, int max);
int iw_engine_scan_field(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev, int field);

/* Tests only: 0 = engines compiled from now on build no plain-value
 * databases (iw_match_plain.h), to compare results with and without them. */
extern int iw_engine_plain_dbs;
/* Tests only: 0 = engines compiled from now on confirm every regex with
 * PCRE2 (Vectorscan as a prefilter), to compare results with exact
 * regexes (those Vectorscan takes as they are: no confirmation). */
extern int iw_engine_exact_regexes;
/* Tests only: 0 = engines compiled from now on scan header blocks whole
 * (no header-lines plan), to compare results with and without it; 2 =
 * plan even when a block database is left over (every path exercised). */
extern int iw_engine_header_lines;
/* Tests only: 0 = engines compiled from now on scan all of _raw (no raw
 * split, iw_engine_rawsplit.c), to compare results with and without it. */
extern int iw_engine_raw_split;

#endif
