/* SPDX-License-Identifier: Apache-2.0 */
/* iw_metrics: server-wide counters in one shared memory block, summed over
 * every process (and thread) that writes them, and their rendering as a
 * status page section and as the Prometheus text exposition (0.0.4).
 *
 * No lock anywhere.  Three kinds of counters:
 *  - scalars (IW_METRICS_SCALARS): hot (events count every request), so each
 *    writer thread claims its own slot of the block and adds with a plain
 *    single-writer store; a reader sums the slots.  A slot is released when
 *    its thread ends and its counts stay: the next owner continues from
 *    them, so sums never go down.  When every slot is taken, threads share
 *    slot 0 with atomic adds.
 *  - per rule (IW_METRICS_RULE): registered by id and level before the
 *    workers start (single-threaded), counted with atomic adds (alerts are
 *    rare next to requests).
 *  - per alert target (IW_METRICS_TARGET): likewise, handed to iw_notify as
 *    its shared counters (iw_notify_cfg_t.shared).
 * Entries are never removed while the block lives, so an index stays valid
 * across reloads and old processes keep counting into the same block.
 *
 * Adding a counter is one line in one of the X lists below (NAME, name,
 * help); the renderers pick it up.  Scalars: IW_METRICS_INC(slot, NAME). */
#ifndef IW_METRICS_H
#define IW_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "iw_notify.h"

/* X(NAME, name, help): iocwatch_<name>_total, status page total_<name>. */
#define IW_METRICS_SCALARS(X) \
    X(EVENTS, events, "Finished requests inspected.") \
    X(ERROR_EVENTS, error_events, "Error-log entries inspected.") \
    X(HITS, hits, "Rule matches, before exclusions and levels.") \
    X(ALERTS, alerts, "Alerts rendered (detections and correlations).") \
    X(CORR_ALERTS, corr_alerts, "Correlation alerts rendered.") \
    X(EXCLUDED, excluded, "Matches silenced by IocWatchExcludeRule.") \
    X(BELOW_LEVEL, below_level, "Matches below IocWatchMinLevel.") \
    X(SUPPRESSED, suppressed, "Alerts held back by IocWatchSuppress.") \
    X(ENQUEUE_FAILED, enqueue_failed, "Alerts that found no room in their queue or no target.") \
    X(EVAL_ERRORS, eval_errors, "Rule evaluations that failed (e.g. a PCRE2 match limit).") \
    X(INSPECT_TRUNCATED, inspect_truncated, "Requests larger than IocWatchInspectLimit (iw-truncated).") \
    X(RULES_OMITTED, rules_omitted, "Matching rules left out of summary alerts for lack of room (each alert says how many).") \
    X(SCAN_CACHE_HITS, scan_cache_hits, "Field values answered from the scan cache.") \
    X(SCAN_CACHE_MISSES, scan_cache_misses, "Field values scanned (scan cache misses).") \
    X(EVENT_CACHE_HITS, event_cache_hits, "Requests answered from the event cache.") \
    X(EVENT_CACHE_MISSES, event_cache_misses, "Requests evaluated in full (event cache misses).")

/* X(NAME, name, help): iocwatch_rule_<name>_total{rule,level}. */
#define IW_METRICS_RULE(X) \
    X(ALERTS, alerts, "Alerts by rule id and level.") \
    X(EVAL_ERRORS, eval_errors, "Requests a rule could not be evaluated on (a regex past a PCRE2 limit), by rule id and level.")

/* X(NAME, name, type, help): iocwatch_target_<name>{target}; the order is
 * iw_notify's (IW_NS_*). */
#define IW_METRICS_TARGET(X) \
    X(QUEUED, queued_total, "counter", "Alerts queued for the target.") \
    X(SENT, sent_total, "counter", "Alerts written to the target.") \
    X(DROPPED, dropped_total, "counter", "Alerts dropped (queue full or never deliverable).") \
    X(SEND_ERRORS, send_errors_total, "counter", "Failed writes to the target.") \
    X(DEPTH, queue_depth, "gauge", "Alerts waiting in the queues of all processes.")

#define IW_M_ENUM(N, n, h) IW_M_##N,
enum { IW_METRICS_SCALARS(IW_M_ENUM) IW_M_N };
#undef IW_M_ENUM
/* the same by lower-case name: IW_Mn_events == IW_M_EVENTS */
#define IW_MN_ENUM(N, n, h) IW_Mn_##n = IW_M_##N,
enum { IW_METRICS_SCALARS(IW_MN_ENUM) };
#undef IW_MN_ENUM
#define IW_MR_ENUM(N, n, h) IW_MR_##N,
enum { IW_METRICS_RULE(IW_MR_ENUM) IW_MR_N };
#undef IW_MR_ENUM

#define IW_METRICS_SLOTS      1024    /* writer threads with a slot of their own */
#define IW_METRICS_RULES      4096    /* distinct (rule id, level) over the block's life */
#define IW_METRICS_TARGETS    64
#define IW_METRICS_ID_MAX     88      /* bytes of a rule id kept (longer: cut) */
#define IW_METRICS_TARGET_MAX 240

typedef struct iw_metrics iw_metrics_t;   /* the shared block */

/* One writer's counters (a cache line pair of its own). */
typedef struct iw_mslot {
    uint64_t owner;                 /* pid << 32 | serial; 0: free */
    uint64_t shared;                /* slot 0: several writers, atomic adds */
    uint64_t c[IW_M_N];
} __attribute__((aligned(64))) iw_mslot_t;

/* Bytes of a block. */
size_t iw_metrics_size(void);
/* Initialise a block at mem (zeroed memory of iw_metrics_size() bytes);
 * now = start time in seconds since the epoch (exposed, so that a reset is
 * visible).  Returns the block. */
iw_metrics_t *iw_metrics_init(void *mem, int64_t now);
/* The block at mem when it is one (magic and layout match), else NULL. */
iw_metrics_t *iw_metrics_attach(void *mem, size_t bytes);

/* A slot for the calling thread (never NULL for a valid block: slot 0 when
 * all are taken); release it when the thread ends.  A slot whose owner
 * process is gone is taken over. */
iw_mslot_t *iw_metrics_claim(iw_metrics_t *m);
void iw_metrics_release(iw_mslot_t *s);

static inline void iw_metrics_add(iw_mslot_t *s, int k, uint64_t v)
{
    if (!s) return;
    if (s->shared)
        __atomic_fetch_add(&s->c[k], v, __ATOMIC_RELAXED);
    else    /* single writer: no locked instruction, readers see whole words */
        __atomic_store_n(&s->c[k], s->c[k] + v, __ATOMIC_RELAXED);
}
#define IW_METRICS_INC(s, NAME) iw_metrics_add((s), IW_M_##NAME, 1)
/* The per-request adder: one plain add, s never NULL.  Exact in a slot of
 * the thread's own; in the shared slot 0 (more than IW_METRICS_SLOTS
 * threads) adds of concurrent threads may be lost. */
static inline void iw_metrics_add_own(iw_mslot_t *s, int k, uint64_t v)
{
    __atomic_store_n(&s->c[k], s->c[k] + v, __ATOMIC_RELAXED);
}

/* Register (or find) a rule by id and level name; returns its index, 0
 * (the "_other" entry) when the table is full.  Not thread-safe: call
 * before the writers start. */
int iw_metrics_rule(iw_metrics_t *m, const char *id, const char *level);
static inline void iw_metrics_rule_add(iw_metrics_t *m, int idx, int k);
/* Register (or find) an alert target; its IW_NS_N counters, for
 * iw_notify_cfg_t.shared (NULL when the table is full). */
uint64_t *iw_metrics_target(iw_metrics_t *m, const char *target);

/* What the block does not hold: read by the caller when rendering. */
typedef struct iw_metrics_extra {
    int64_t config_generation;      /* httpd's configuration generation */
    int64_t rules_loaded;           /* rules of this generation (all engines) */
    int64_t engines;
    int64_t rules_loaded_time;      /* seconds since the epoch */
    int64_t rules_stale;            /* engines kept from before a failed reload */
    int have_corr;                  /* the correlation tables below are valid */
    uint64_t corr_slots, corr_used, corr_evictions, corr_recycled, corr_fired;
    uint64_t sup_slots, sup_used;
} iw_metrics_extra_t;

/* Totals of the scalars (IW_M_N values) and of the targets (IW_NS_N). */
void iw_metrics_sum(const iw_metrics_t *m, uint64_t *scalars, uint64_t *targets);

typedef void (*iw_metrics_emit_fn)(void *ctx, const char *s, size_t n);
/* Status page section: "total_<name>: N" lines. */
void iw_metrics_render_text(const iw_metrics_t *m, const iw_metrics_extra_t *x,
                            iw_metrics_emit_fn emit, void *ctx);
/* Prometheus text exposition format 0.0.4 (serve as
 * "text/plain; version=0.0.4; charset=utf-8"). */
void iw_metrics_render_prom(const iw_metrics_t *m, const iw_metrics_extra_t *x,
                            iw_metrics_emit_fn emit, void *ctx);

/* ---- internals needed by the inline adder ---- */
uint64_t *iw_metrics_rule_counters(iw_metrics_t *m, int idx);
static inline void iw_metrics_rule_add(iw_metrics_t *m, int idx, int k)
{
    uint64_t *c = m ? iw_metrics_rule_counters(m, idx) : NULL;
    if (c) __atomic_fetch_add(&c[k], 1, __ATOMIC_RELAXED);
}

#endif
