/* SPDX-License-Identifier: Apache-2.0 */
/* iw_corr internals shared by iw_corr*.c (not an interface).
 *
 * Dependencies run one way: iw_corr.c and iw_corr_sup.c use iw_corr_mem.c
 * (the block and its partition locks), which uses iw_corr_build.c's
 * accessors (slot size, fingerprint); iw_corr_build.c needs none of them.
 * The hashes below are inline for all four.
 *
 * Block layout (offsets from the block start, no pointers anywhere):
 *   [corr_hdr_t 128 B][corr_part_t 128 B x nparts][sup_t x nsup][slot x nslots]
 * The table is split into nparts (a power of two) independent partitions:
 * partition p owns slots [p * part_slots, (p + 1) * part_slots) and
 * suppression entries [p * part_sup, (p + 1) * part_sup), with its own
 * lock (a process-shared robust mutex inside the block) and statistics.
 * A (correlation, group) pair lives in one partition, chosen by its hash.
 * A slot is a corr_slot_t followed by a payload whose shape depends on the
 * correlation type of the rule that owns the slot; every slot has the same
 * size (the largest need of all rules), so slot i is at slots_off + i*size. */
#ifndef IW_CORR_INT_H
#define IW_CORR_INT_H

#include <pthread.h>
#include <string.h>
#include "iw_corr.h"

#define IW_CORR_MAGIC        0x52434f49u   /* "IOCR" little-endian */
#define IW_CORR_LAYOUT       5u     /* 5: partitions with in-block locks */
#define IW_CORR_HDR_BYTES    128    /* the header; partition heads follow */
#define IW_CORR_PROBE        8      /* open-addressing probe window */
#define IW_CORR_MAX_ELEMS    128    /* per-slot ring / value set bound */
#define IW_CORR_MAX_REFS     32     /* referenced rules per correlation */
#define IW_CORR_MAX_ITEMS    32     /* (rule, group) updates per event */
#define IW_CORR_GROUP_STORE  112    /* group text kept in a slot */
#define IW_CORR_SUP_PER_SLOT 2      /* suppression entries per slot */
#define IW_CORR_BOUND_MAX    1000000 /* larger thresholds are clamped */
#define IW_CORR_UNSET        INT64_MIN
#define IW_CORR_FIRED        1u     /* slot flag: alerted at `first`, quiet
                                     * until its timespan has passed */
#define IW_CORR_PART_BYTES   128    /* one partition head: two cache lines */
#define IW_CORR_MAX_PARTS    64
#define IW_CORR_PART_MIN     64     /* slot units per partition, at least */

typedef struct corr_hdr {
    uint32_t magic, layout;
    uint64_t fingerprint;
    uint64_t bytes, slot_size, nslots, nsup, sup_off, slots_off;
    uint32_t ncorr, nparts;
    uint64_t seed;         /* random per table: keys group and value hashes */
    uint64_t part_slots, part_sup;
    /* rare events, updated atomically (the per-partition counters are in
     * corr_part_t, summed by iw_corr_get_stats) */
    uint64_t lock_failures, lock_recovered, lock_repaired, dropped;
} corr_hdr_t;

/* One partition's head.  Statistics are written under `mu`. */
typedef struct corr_part {
    pthread_mutex_t mu;    /* PTHREAD_PROCESS_SHARED + PTHREAD_MUTEX_ROBUST */
    uint64_t guard;        /* iw_corr__guard(): a scribbled head is rebuilt */
    uint64_t updates, used, evictions, late, alerts, dropped, recycled,
             sup_used, sup_evictions, sup_suppressed;
} corr_part_t;

typedef struct corr_slot {
    uint32_t ci1;          /* correlation index + 1; 0 = empty */
    uint32_t n;            /* payload elements in use */
    uint64_t ghash;        /* group key hash */
    int64_t first, last;   /* window start / newest event time */
    int64_t count;         /* events (event_count) */
    uint32_t flags, pad;   /* flags: IW_CORR_FIRED */
    char group[IW_CORR_GROUP_STORE];
} corr_slot_t;

typedef struct corr_tsn { int64_t ts, n; } corr_tsn_t;       /* event_count */
typedef struct corr_val { uint64_t h; int64_t ts; } corr_val_t; /* value_count */

typedef struct corr_sup {
    uint64_t key;          /* 0 = empty */
    int64_t sent, last;
    uint64_t suppressed;
} corr_sup_t;

/* One correlation rule, compiled. */
typedef struct corr_prog {
    const iw_rule_t *rule;
    const iw_corr_def_t *def;
    iw_corr_type_t type;
    int nrefs, ngroup, rank;
    int close_mode;        /* upper bound or neq: evaluated at window close */
    int cap;               /* payload elements (ring, value set, positions) */
    int approx;            /* threshold above IW_CORR_MAX_ELEMS */
    int silent;            /* only feeds other correlations */
    iw_corr_cmp_t cmp[2];
    int ncmp;
    apr_interval_time_t span;
    const char **gnames;   /* group-by names as written */
    int *gfields;          /* [pos * ngroup + j]: event field id or -1 */
    int *vfields;          /* value_count: [pos] field id or -1 */
} corr_prog_t;

typedef struct corr_feed { int ci, pos; } corr_feed_t;

struct iw_corr {
    apr_pool_t *pool;
    const iw_ruleset_t *rs;
    int ncorr;
    corr_prog_t *progs;    /* sorted by rank: inner correlations first */
    int nrules;            /* ruleset->rules->nelts */
    int *feed_start;       /* [nrules + 1] into feeds, by rule->index */
    corr_feed_t *feeds;
    int *ci_of_rule;       /* rule->index -> correlation index or -1 */
    size_t slot_size;
    uint64_t fingerprint;
};

/* ---- hashing ------------------------------------------------------------ */

static inline uint64_t iw_corr__mix(uint64_t h)
{
    h ^= h >> 33; h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* Chained bijective mixing per 8-byte word: with the state unknown (the
 * table's random seed) nobody can aim keys at one probe window, and two
 * inputs of equal length never collide.  The length goes into the tail. */
static inline uint64_t iw_corr__hash(uint64_t h, const void *p, size_t len)
{
    const unsigned char *s = p;
    uint64_t w;

    for (; len >= 8; s += 8, len -= 8) {
        memcpy(&w, s, 8);
        h = iw_corr__mix(h ^ w);
    }
    w = (uint64_t)len << 56;
    if (len) memcpy(&w, s, len);    /* len < 8: the top byte stays free */
    return iw_corr__mix(h ^ w ^ 0x9e3779b97f4a7c15ull);
}
#define IW_CORR_HASH_INIT 0xcbf29ce484222325ull

/* ---- the block (iw_corr_mem.c) ------------------------------------------ */

static inline corr_hdr_t *iw_corr__hdr(void *mem)
{
    corr_hdr_t *h = mem;
    return (h && h->magic == IW_CORR_MAGIC && h->layout == IW_CORR_LAYOUT)
           ? h : NULL;
}

/* Areas inside the block (a scribbled header must not send us outside). */
static inline int iw_corr__geometry_ok(const corr_hdr_t *h)
{
    uint64_t sup_end;
    if (h->bytes >= ((uint64_t)1 << 48) || h->nparts == 0
        || h->nparts > IW_CORR_MAX_PARTS || (h->nparts & (h->nparts - 1))
        || h->part_slots > h->bytes
        || h->part_sup > h->bytes || h->nslots != h->nparts * h->part_slots
        || h->nsup != h->nparts * h->part_sup
        || h->sup_off != IW_CORR_HDR_BYTES + (uint64_t)h->nparts * IW_CORR_PART_BYTES)
        return 0;
    sup_end = h->sup_off + h->nsup * sizeof(corr_sup_t);
    return h->slot_size <= h->bytes && sup_end <= h->slots_off
        && h->slots_off <= h->bytes
        && (h->slot_size == 0 || h->nslots <= (h->bytes - h->slots_off) / h->slot_size)
        && (h->nslots == 0 || h->slot_size >= sizeof(corr_slot_t));
}

static inline corr_part_t *iw_corr__part(corr_hdr_t *h, uint64_t p)
{
    return (corr_part_t *)((char *)h + IW_CORR_HDR_BYTES + p * IW_CORR_PART_BYTES);
}

/* Partition of a mixed hash: its upper half (the lower one picks the home
 * slot inside the partition). */
static inline uint64_t iw_corr__part_of(const corr_hdr_t *h, uint64_t hash)
{
    return (hash >> 32) & (h->nparts - 1);
}

/* Partition locks: 0: held (after recovering it from a dead owner if need
 * be); -1: not taken, counted in lock_failures. */
int iw_corr__part_lock(corr_hdr_t *h, uint64_t p);
void iw_corr__part_unlock(corr_hdr_t *h, uint64_t p);

/* ---- test hooks ---------------------------------------------------------- */

/* A lock taken around each whole update / flush / suppress call (outside
 * the partition locks), process-wide; NULL (the default, and always in
 * production) = none.  Tests use it to check lock-failure handling and
 * that a caller-side lock composes with the partition locks.  Set it
 * before any thread uses the table. */
typedef struct iw_corr_lock {
    int (*lock)(void *baton);    /* returns 0 on success */
    void (*unlock)(void *baton);
    void *baton;
} iw_corr_lock_t;
void iw_corr__set_test_lock(const iw_corr_lock_t *lk);
/* iw_corr_mem.c: 0 when taken or none is set; -1 when it failed (counted
 * in lock_failures).  iw_corr__test_unlock releases a taken one. */
int iw_corr__test_lock(corr_hdr_t *h);
void iw_corr__test_unlock(void);

/* iw_corr.c: partition of `rule`'s group for `ev`, -1 when none */
int iw_corr__partition(const iw_corr_t *c, const void *mem,
                       const iw_rule_t *rule, iw_event_t *ev);

#endif
