/* iw_corr internals shared by iw_corr*.c (not an interface).
 *
 * Block layout (offsets from the block start, no pointers anywhere):
 *   [corr_hdr_t][sup_t x nsup][slot x nslots]
 * A slot is a corr_slot_t followed by a payload whose shape depends on the
 * correlation type of the rule that owns the slot; every slot has the same
 * size (the largest need of all rules), so slot i is at slots_off + i*size. */
#ifndef IW_CORR_INT_H
#define IW_CORR_INT_H

#include "iw_corr.h"

#define IW_CORR_MAGIC        0x52434f49u   /* "IOCR" little-endian */
#define IW_CORR_LAYOUT       4u
#define IW_CORR_HDR_BYTES    256
#define IW_CORR_PROBE        8      /* open-addressing probe window */
#define IW_CORR_MAX_ELEMS    128    /* per-slot ring / value set bound */
#define IW_CORR_MAX_REFS     32     /* referenced rules per correlation */
#define IW_CORR_MAX_ITEMS    32     /* (rule, group) updates per event */
#define IW_CORR_GROUP_STORE  112    /* group text kept in a slot */
#define IW_CORR_SUP_PER_SLOT 2      /* suppression entries per slot */
#define IW_CORR_BOUND_MAX    1000000 /* larger thresholds are clamped */
#define IW_CORR_UNSET        INT64_MIN

typedef struct corr_hdr {
    uint32_t magic, layout;
    uint64_t fingerprint;
    uint64_t bytes, slot_size, nslots, nsup, sup_off, slots_off;
    uint64_t ncorr;
    uint64_t seed;         /* random per table: keys group and value hashes */
    /* statistics (written under the caller's lock, lock_failures atomically) */
    uint64_t used, evictions, updates, lock_failures, late, alerts, dropped,
             recycled, sup_used, sup_evictions, sup_suppressed;
} corr_hdr_t;

typedef struct corr_slot {
    uint32_t ci1;          /* correlation index + 1; 0 = empty */
    uint32_t n;            /* payload elements in use */
    uint64_t ghash;        /* group key hash */
    int64_t first, last;   /* window start / newest event time */
    int64_t count;         /* events (event_count) */
    uint32_t flags, pad;
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

/* hashing (iw_corr_build.c) */
uint64_t iw_corr__mix(uint64_t h);
uint64_t iw_corr__hash(uint64_t h, const void *p, size_t len);
#define IW_CORR_HASH_INIT 0xcbf29ce484222325ull

static inline corr_hdr_t *iw_corr__hdr(void *mem)
{
    corr_hdr_t *h = mem;
    return (h && h->magic == IW_CORR_MAGIC && h->layout == IW_CORR_LAYOUT)
           ? h : NULL;
}

/* Areas inside the block (a scribbled header must not send us outside). */
static inline int iw_corr__geometry_ok(const corr_hdr_t *h)
{
    uint64_t sup_end = h->sup_off + h->nsup * sizeof(corr_sup_t);
    return h->sup_off >= IW_CORR_HDR_BYTES && h->nsup <= h->bytes && h->nslots <= h->bytes
        && h->slot_size <= h->bytes && sup_end <= h->slots_off
        && h->slots_off <= h->bytes
        && (h->slot_size == 0 || h->nslots <= (h->bytes - h->slots_off) / h->slot_size)
        && (h->nslots == 0 || h->slot_size >= sizeof(corr_slot_t));
}

#endif
