/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_memo: per-thread memo of scan results.
 *
 * Scanning one field value with its Vectorscan database (plus the exact and
 * literal checks of that field, and PCRE2 confirmation of prefilter hits)
 * is a pure function of the bytes scanned and a little context (field,
 * event type, which database, where merged fields lie).  Real traffic
 * repeats those bytes all the time: the Host header, the method, the
 * same static paths, a browser's whole header block on every asset of a
 * page.  The cache maps key bytes -> the predicates the scan set, so a
 * repeated value costs a hash and a memcmp instead of a scan (which costs
 * 0.3-3 us with a large rule set, more when its tables are cold).  The
 * engine keeps a second one for whole events (every field any rule reads
 * -> the hits): health checks, monitoring probes, polling clients and bots
 * send the same request over and over.  Results are opaque bytes here.
 *
 * Exact: a hit requires the same context tag and byte-identical key bytes
 * (kept in a ring buffer), never just an equal hash.  Bounded: a fixed
 * number of 32-byte entries (two-way sets) and a fixed ring holding each
 * entry's key bytes and result (only the result's own bytes: most are
 * empty), allocated once per scratch; keys longer than
 * IW_ENGINE_MEMO_MAX_KEY or results with more than IW_ENGINE_MEMO_MAX_PREDS
 * predicates are simply not cached.  Keys tagged IW_ENGINE_MEMO_LONG have
 * their own entries and ring (a client's header lines and cookie come
 * back after hundreds of other requests; the header blocks, URLs and
 * query strings seen once in between cannot push them out).  Not
 * thread-safe: one per scratch, like the scratch itself. */
#ifndef IW_ENGINE_MEMO_H
#define IW_ENGINE_MEMO_H

#include <stddef.h>
#include <stdint.h>

#define IW_ENGINE_MEMO_MAX_PREDS 16
#define IW_ENGINE_MEMO_MAX_KEY   8192
#define IW_ENGINE_MEMO_MAX_RES   96     /* result bytes at most */
#define IW_ENGINE_MEMO_DEFAULT_ENTRIES 1024
#define IW_ENGINE_MEMO_RING_PER_ENTRY 128        /* ring bytes per entry */
#define IW_ENGINE_MEMO_LONG_RING_PER_ENTRY 128   /* ... of the IW_ENGINE_MEMO_LONG region */

/* What one scan set, in order: predicate and the field credited.  The
 * predicates last: iw_engine_memo_res_len bytes hold a result of n. */
typedef struct iw_engine_memo_res {
    int n;
    int overflow;                  /* more than IW_ENGINE_MEMO_MAX_PREDS: not cacheable */
    uint8_t field[IW_ENGINE_MEMO_MAX_PREDS];
    int32_t pred[IW_ENGINE_MEMO_MAX_PREDS];
} iw_engine_memo_res_t;

/* The bytes of r to store: its predicates' and no more. */
static inline size_t iw_engine_memo_res_len(const iw_engine_memo_res_t *r)
{
    return offsetof(iw_engine_memo_res_t, pred) + sizeof(int32_t) * (size_t)r->n;
}

typedef struct iw_engine_memo iw_engine_memo_t;

/* Key: a context tag, an optional short prefix (context bytes) and the
 * value.  Computed once, used for the lookup and the following store. */
typedef struct iw_engine_memo_key {
    uint32_t tag;
    const void *pre; size_t npre;
    const void *v; size_t n;
    uint64_t h;
} iw_engine_memo_key_t;

/* A cache only pays when values repeat: each lookup costs a hash, each
 * miss a copy.  Per class of keys (tag % IW_ENGINE_MEMO_CLASSES: the engine's
 * field caches use one class per field, so a Host header that repeats does
 * not keep an ever-changing query cached), the hit rate of a window of
 * IW_ENGINE_MEMO_WINDOW lookups is judged every IW_ENGINE_MEMO_EARLY lookups
 * on the lookups so far; below IW_ENGINE_MEMO_MIN_HITS per mille the class
 * pauses (callers skip the cache: plain scans) for IW_ENGINE_MEMO_PAUSE
 * windows' worth of calls, then measures again.  A class of values seen
 * once (_raw, a browser's events) stops filling the cache within 128
 * lookups, one whose first values repeat (a scanner's first requests) and
 * whose later ones do not within 128 more.  Exactness does not depend on it. */
#define IW_ENGINE_MEMO_WINDOW   1024
#define IW_ENGINE_MEMO_MIN_HITS 50
#define IW_ENGINE_MEMO_PAUSE    8
#define IW_ENGINE_MEMO_EARLY    128  /* judged every this many lookups (WINDOW a multiple) */
#define IW_ENGINE_MEMO_CLASSES  64

/* The tag bit of keys kept in the long region (when the cache has one). */
#define IW_ENGINE_MEMO_LONG (1u << 31)

/* entries and long_entries (the IW_ENGINE_MEMO_LONG region's, 0: none, its
 * keys share the others') are rounded up to powers of two; NULL on
 * allocation failure. */
iw_engine_memo_t *iw_engine_memo_create(unsigned entries, unsigned long_entries);
/* The bytes such a cache allocates (entries and rings). */
size_t iw_engine_memo_bytes(unsigned entries, unsigned long_entries);
void iw_engine_memo_destroy(iw_engine_memo_t *c);

/* 1 when the caller should use the cache for a key of this tag (its
 * class is not paused); a call while paused counts the pause down. */
int iw_engine_memo_wanted(iw_engine_memo_t *c, uint32_t tag);
/* Hash the key (sets k->h); 0 when the key is too long to cache. */
int iw_engine_memo_key(iw_engine_memo_key_t *k);
/* The same from hb, iw_engine_memo_hash64(0, k->v, k->n) computed before. */
int iw_engine_memo_key_hb(iw_engine_memo_key_t *k, uint64_t hb);
/* The cached result for the key (*rlen bytes), or NULL (a miss). */
const void *iw_engine_memo_get(iw_engine_memo_t *c, const iw_engine_memo_key_t *k, size_t *rlen);
/* Remember a result of at most IW_ENGINE_MEMO_MAX_RES bytes (else ignored).
 * The pointer a get returns is valid until the next put. */
void iw_engine_memo_put(iw_engine_memo_t *c, const iw_engine_memo_key_t *k, const void *res, size_t rlen);
/* The same for a key whose prefix and value bytes are those of key same
 * (another tag): when same's entry is there (its bytes compared), k's
 * entry reads them from where it keeps them, no second copy in the ring. */
void iw_engine_memo_put_shared(iw_engine_memo_t *c, const iw_engine_memo_key_t *k, const void *res,
                               size_t rlen, const iw_engine_memo_key_t *same);
/* Add a (pred, field) pair to a result being recorded, once. */
void iw_engine_memo_res_add(iw_engine_memo_res_t *r, int32_t pred, int field);

/* Safe to call from another thread than the owner (relaxed reads). */
void iw_engine_memo_counters(const iw_engine_memo_t *c, uint64_t *hits, uint64_t *misses);

/* 64-bit hash of bytes (not cryptographic; collisions only cost a miss). */
uint64_t iw_engine_memo_hash64(uint64_t seed, const void *p, size_t n);
/* 1 when the hash uses AES-NI rounds (set at load time from the CPU);
 * tests set 0 to check the portable hash too.  Only within one process:
 * nothing hashed is kept across runs. */
extern int iw_engine_memo_aes;

#endif
