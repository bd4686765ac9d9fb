/* SPDX-License-Identifier: Apache-2.0 */
/* iw_corr: Sigma correlation rules (event_count, value_count, temporal,
 * temporal_ordered) over a fixed-size state table.
 *
 * The table lives in one flat memory block that holds no pointers, so the
 * same code runs on heap memory in the CLI and on shared memory across
 * httpd's children.  The block is split into partitions, each with its own
 * process-shared robust mutex inside the block: callers need no lock of
 * their own.  One event's updates take the partition locks of the groups
 * it feeds one after another, never two at once.
 *
 * Files: iw_corr_build.c (rules -> programs), iw_corr_mem.c (the block:
 * sizing, layout, attach, statistics, partition locks), iw_corr.c (the
 * state machine), iw_corr_sup.c (alert-flood control); iw_corr_int.h is
 * their internal contract. */
#ifndef IW_CORR_H
#define IW_CORR_H

#include "iw_engine.h"

typedef struct iw_corr iw_corr_t;

/* Build from a linked ruleset without an engine (tests, tools). */
iw_corr_t *iw_corr_create_rs(apr_pool_t *p, const iw_ruleset_t *rs,
                             iw_diag_t *diag);

/* Build the correlation program from the engine's ruleset (all
 * correlation rules).  NULL when the ruleset has none.  Inline so that
 * code using only iw_corr_create_rs links without the engine. */
static inline iw_corr_t *iw_corr_create(apr_pool_t *p, const iw_engine_t *e,
                                        iw_diag_t *diag)
{
    return e ? iw_corr_create_rs(p, iw_engine_ruleset(e), diag) : NULL;
}

/* Sizing: the slot size depends on the rules' thresholds
 * (iw_corr_slot_size(c); 0 when c is NULL, a block for suppression only);
 * callers without an iw_corr_t use the estimate IW_CORR_SLOT_DEFAULT.
 * iw_corr_table_bytes: the smallest block holding at least `slots` slots of
 * `slot_size` bytes; iw_corr_table_slots: how many fit in `bytes`.
 * iw_corr_mem_init() always derives the real slot count from `bytes`. */
#define IW_CORR_SLOT_DEFAULT 320
size_t iw_corr_slot_size(const iw_corr_t *c);
size_t iw_corr_table_bytes(size_t slot_size, size_t slots);
size_t iw_corr_table_slots(size_t slot_size, size_t bytes);
/* Hash of the correlation rules' ids and definitions (and the layout). */
uint64_t iw_corr_fingerprint(const iw_corr_t *c);
/* Does a correlation rule read event field f (group-by, value_count)? */
int iw_corr_reads_field(const iw_corr_t *c, int f);

/* Initialise a fresh block (zeroes, writes a header with the
 * ruleset fingerprint, initialises the partition locks: never on a block
 * other processes are using); attach checks the header and re-initialises
 * on a mismatch (rules changed) -- returns 1 when state (and the locks) was
 * kept, 0 when reset.  The block must be 8-byte aligned. */
void iw_corr_mem_init(const iw_corr_t *c, void *mem, size_t bytes);
int iw_corr_mem_attach(const iw_corr_t *c, void *mem, size_t bytes);

/* A correlation alert produced by an update. */
typedef struct iw_corr_alert {
    const iw_rule_t *rule;       /* the correlation rule */
    iw_corr_type_t type;
    char group[256];             /* "c-ip=1.2.3.4,s-sitename=x" */
    int64_t count;               /* events, distinct values or rule types */
    apr_interval_time_t window;  /* the timespan */
    apr_time_t first_seen, last_seen;
    /* additive: 1 when the event given to iw_corr_update belongs to this
     * alert's group; 0 for a closed window evaluated when its slot was
     * recycled for another group, and for iw_corr_flush -- then attach no
     * event to the alert (its fields would describe another client). */
    int with_event;
} iw_corr_alert_t;

/* Feed one event's hits; `now` is the event time (CLI: from the log line).
 * Writes up to `max` alerts, returns how many.  Takes locks only when a
 * hit feeds a correlation rule.  Safe from any number of threads and
 * processes sharing the block. */
int iw_corr_update(const iw_corr_t *c, void *mem, iw_event_t *ev,
                   const iw_hit_t *hits, int nhits,
                   apr_time_t now, iw_corr_alert_t *out, int max);

/* Statistics kept in the block (for a status page / tests). */
typedef struct iw_corr_stats {
    uint64_t slots, used, evictions, updates;
    /* additive (docs/CORRELATION.md "Statistics") */
    uint64_t lock_failures;  /* updates/suppress calls skipped: lock failed */
    uint64_t late;           /* events older than their group's window */
    uint64_t alerts;         /* correlation alerts fired (incl. silent inner) */
    uint64_t dropped;        /* alerts or work items that did not fit */
    uint64_t recycled;       /* slots reused after their window expired */
    uint64_t sup_slots, sup_used, sup_evictions, sup_suppressed;
    uint64_t slot_size, bytes;
    /* additive (partitioned table, layout 5) */
    uint64_t partitions;     /* independent partitions (power of two) */
    uint64_t lock_recovered; /* partition locks taken over from a dead owner */
    uint64_t lock_repaired;  /* scribbled partition heads rebuilt */
} iw_corr_stats_t;
void iw_corr_get_stats(const void *mem, iw_corr_stats_t *st);

/* Close every window that `now` has expired: conditions with an upper
 * bound (lt, lte, eq, neq, ranges) are evaluated there; expired state is
 * freed.  The CLI calls it with APR_INT64_MAX at end of input, httpd may
 * call it periodically.  Returns the number of alerts written; alerts that
 * did not fit stay pending for the next call. */
int iw_corr_flush(const iw_corr_t *c, void *mem, apr_time_t now,
                  iw_corr_alert_t *out, int max);

/* Count currently held for the group `ev` belongs to under correlation
 * rule `rule` (events, distinct values or rules seen; 0 while the group is
 * quiet after its alert); 1 when the group has state.  No lock taken (status pages, tests). */
int iw_corr_peek(const iw_corr_t *c, const void *mem, const iw_rule_t *rule,
                 iw_event_t *ev, int64_t *count);

/* Alert-flood control per (rule, group): the first alert passes, later
 * ones within `window` of it are counted; the next alert that passes gets
 * that count in *suppressed_out.  Returns 1 = send, 0 = suppress.  Fails
 * open (1) without memory, with window <= 0 or when the lock fails.  Works
 * with c == NULL (a block initialised for suppression only). */
int iw_corr_suppress(const iw_corr_t *c, void *mem, const iw_rule_t *rule,
                     const char *group, size_t glen,
                     apr_time_t now, apr_interval_time_t window,
                     int64_t *suppressed_out);

#endif
