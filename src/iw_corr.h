/* iw_corr: Sigma correlation rules (event_count, value_count, temporal,
 * temporal_ordered) over a fixed-size state table.
 *
 * The table lives in one flat memory block that holds no pointers, so the
 * same code runs on heap memory in the CLI and on shared memory across
 * httpd's children.  The caller supplies the lock (a global mutex in httpd,
 * nothing in the CLI); all updates of one event happen under one lock. */
#ifndef IW_CORR_H
#define IW_CORR_H

#include "iw_engine.h"

typedef struct iw_corr iw_corr_t;

/* Lock callbacks; both may be NULL (single process, single thread). */
typedef struct iw_corr_lock {
    int (*lock)(void *baton);    /* returns 0 on success */
    void (*unlock)(void *baton);
    void *baton;
} iw_corr_lock_t;

/* Build the correlation program from the engine's ruleset (all
 * correlation rules).  NULL when the ruleset has none. */
iw_corr_t *iw_corr_create(apr_pool_t *p, const iw_engine_t *e, iw_diag_t *diag);

/* Bytes needed for a table of `slots` entries; and how many slots fit in
 * `bytes`.  Initialise a fresh block (zeroes, writes a header with the
 * ruleset fingerprint); attach checks the header and re-initialises on a
 * mismatch (rules changed) -- returns 1 when state was kept, 0 when reset. */
size_t iw_corr_mem_size(size_t slots);
size_t iw_corr_slots_for(size_t bytes);
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
} iw_corr_alert_t;

/* Feed one event's hits; `now` is the event time (CLI: from the log line).
 * Writes up to `max` alerts, returns how many.  Takes the lock only when a
 * hit feeds a correlation rule. */
int iw_corr_update(const iw_corr_t *c, void *mem, const iw_corr_lock_t *lk,
                   iw_event_t *ev, const iw_hit_t *hits, int nhits,
                   apr_time_t now, iw_corr_alert_t *out, int max);

/* Statistics kept in the block (for a status page / tests). */
typedef struct iw_corr_stats {
    uint64_t slots, used, evictions, updates;
} iw_corr_stats_t;
void iw_corr_get_stats(const void *mem, iw_corr_stats_t *st);

#endif
