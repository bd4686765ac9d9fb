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
#include <string.h>

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
 * whose later ones do not within 128 more.  The rate is where a class pays
 * as measured, not where a hit would pay for the misses' lookups alone: a
 * hit saves less than a whole scan or evaluation (the values' other
 * caches answer much of it), and a class's stores evict the entries of
 * the others.  On attack traffic the event cache at ~9 % repeats cost
 * more (its key, lookup and store: ~700 instructions a request) than its
 * hits saved (~500 a request), and so did field classes at 5-20 %.
 * Exactness does not depend on it. */
#define IW_ENGINE_MEMO_WINDOW   1024
#define IW_ENGINE_MEMO_MIN_HITS 200
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

/* 1 when the hash uses AES-NI rounds (set at load time from the CPU);
 * tests set 0 to check the portable hash too.  Only within one process:
 * nothing hashed is kept across runs. */
extern int iw_engine_memo_aes;

/* ---- the lookup, inline in its callers ------------------------------------
 * iw_engine_memo_wanted, _key, _key_hb, _get and _hash64 below are the
 * work of every lookup (a dozen per request): as calls into
 * iw_engine_memo.c, the calls, their register saves and the layers between
 * them cost as much as the lookup itself.  The cache's layout is declared
 * here for them; only iw_engine_memo.c writes it otherwise. */

/* An entry is 32 bytes, a set of two ways one cache line: the fields a
 * miss is told by (hash, then tag and lengths) and where its key bytes
 * and its result lie in the ring.  A record in the ring is the key bytes,
 * then (at the next 8-byte boundary) the result, only as many bytes as
 * the caller's result has (most results are empty).  An entry whose key
 * bytes are another entry's (iw_engine_memo_put_shared) has its result
 * written on its own, after them. */
typedef struct iw_engine_memo__ent {
    uint64_t h;                    /* the key's hash (always odd); 0: unused */
    uint64_t id;                   /* tag, npre and n (key_id) */
    uint64_t pos;                  /* ring position of pre + value */
    uint32_t res;                  /* the result at ring + res (whatever pos) */
    uint16_t rlen;
    uint8_t mru;                   /* (first way of a set): the way used last */
    uint8_t pad;
} iw_engine_memo__ent_t;

typedef struct iw_engine_memo__window {
    uint32_t w_lookups, w_hits;    /* current measurement window */
    uint32_t paused;               /* calls still to skip */
} iw_engine_memo__window_t;

/* Entries and the ring their records are written to.  Two regions: keys
 * tagged IW_ENGINE_MEMO_LONG (values a client sends again after hundreds
 * of other requests: its header lines, its cookie) are kept in their own,
 * which the stream of values seen once (header blocks, URLs, query
 * strings) cannot push out. */
typedef struct iw_engine_memo__region {
    iw_engine_memo__ent_t *ents;
    unsigned char *ring;
    uint64_t ring_mask, head;      /* head: total bytes ever written (a multiple of 8) */
    uint32_t mask;                 /* entries - 1 */
    uint32_t set_mask;             /* first entry of a key's set: 2 ways (1 for a 1-entry region) */
    uint64_t last_pos, last_len;   /* the last record whose key bytes were copied: where, how many */
} iw_engine_memo__region_t;

/* What a lookup reads first, and class 0's window (the event cache's
 * only class), fit the first cache line. */
struct iw_engine_memo {
    iw_engine_memo__region_t *rp[2];   /* by the tag's top bit: r[1] for IW_ENGINE_MEMO_LONG keys, or r[0] */
    iw_engine_memo__region_t r[2];
    uint64_t hits, misses;
    iw_engine_memo__window_t cls[IW_ENGINE_MEMO_CLASSES];   /* per class of keys (tag % IW_ENGINE_MEMO_CLASSES) */
};

/* Out of line (iw_engine_memo.c): the hash of more than 16 bytes, and a
 * hit's record copied to the ring's head (iw_engine_memo_get). */
uint64_t iw_engine_memo__hash_long(uint64_t seed, const void *p, size_t n);
void iw_engine_memo__refresh(iw_engine_memo__region_t *r, iw_engine_memo__ent_t *e, uint64_t len);

/* The low and high halves of a * b folded together: one multiply mixes
 * 16 bytes (the 64-bit fallback mixes 8 per multiply). */
static inline uint64_t iw_engine_memo__fold(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t h = (a ^ (b >> 32)) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
    h = (h ^ b) * 0x94D049BB133111EBull;
    return h ^ (h >> 29);
#endif
}

/* The portable hash's last step, all of it for at most 16 bytes (b, n)
 * after h: the first and last 8 (or 4) bytes, maybe overlapping, or the
 * first, middle and last byte.  Not for adversarial use: a collision
 * costs a cache miss (entries are compared in full), never a wrong
 * result. */
static inline uint64_t iw_engine_memo__hash_tail(uint64_t h, const unsigned char *b, size_t n)
{
    uint64_t x = 0, y = 0;
    uint32_t w;

    if (n >= 8) {
        memcpy(&x, b, 8);
        memcpy(&y, b + n - 8, 8);
    } else if (n >= 4) {
        memcpy(&w, b, 4); x = w;
        memcpy(&w, b + n - 4, 4); y = w;
    } else if (n) {
        x = (uint64_t)b[0] << 16 | (uint64_t)b[n >> 1] << 8 | b[n - 1];
    }
    h = iw_engine_memo__fold(x ^ 0xA0761D6478BD642Full ^ h, y ^ 0xE7037ED1A0B428DBull ^ n);
    return iw_engine_memo__fold(h ^ 0x8EBC6AF09C88C6E3ull, 0x589965CC75374CC3ull);
}

/* 64-bit hash of bytes (not cryptographic; collisions only cost a miss):
 * at most 16 bytes here, longer ones by AES rounds where the CPU has them,
 * else 16 bytes per multiply (iw_engine_memo.c). */
static inline __attribute__((always_inline)) uint64_t iw_engine_memo_hash64(uint64_t seed, const void *p, size_t n)
{
    if (n > 16) return iw_engine_memo__hash_long(seed, p, n);
    return iw_engine_memo__hash_tail(seed ^ ((uint64_t)n * 0x9E3779B97F4A7C15ull), p, n);
}

/* 1 when the caller should use the cache for a key of this tag (its
 * class is not paused); a call while paused counts the pause down. */
static inline __attribute__((always_inline)) int iw_engine_memo_wanted(iw_engine_memo_t *c, uint32_t tag)
{
    iw_engine_memo__window_t *w = &c->cls[tag % IW_ENGINE_MEMO_CLASSES];
    if (!w->paused) return 1;
    w->paused--;
    return 0;
}

/* The same as iw_engine_memo_key from hb, iw_engine_memo_hash64(0, k->v,
 * k->n) computed before: the tag and the prefix are mixed in after, so
 * that a caller keying the same bytes under several tags (a header block)
 * hashes them once. */
static inline __attribute__((always_inline)) int iw_engine_memo_key_hb(iw_engine_memo_key_t *k, uint64_t hb)
{
    uint64_t h = hb ^ ((uint64_t)k->tag * 0x9E3779B97F4A7C15ull);

    if (k->npre + k->n > IW_ENGINE_MEMO_MAX_KEY) return 0;
    if (k->npre) h ^= iw_engine_memo_hash64(0xD6E8FEB86659FD93ull, k->pre, k->npre) * 0xBF58476D1CE4E5B9ull;
    k->h = iw_engine_memo__fold(h ^ 0x8EBC6AF09C88C6E3ull, 0x589965CC75374CC3ull) | 1;   /* odd: an unused entry's 0 never matches */
    return 1;
}

/* Hash the key (sets k->h); 0 when the key is too long to cache. */
static inline __attribute__((always_inline)) int iw_engine_memo_key(iw_engine_memo_key_t *k)
{
    if (k->npre + k->n > IW_ENGINE_MEMO_MAX_KEY) return 0;   /* not hashed in vain */
    return iw_engine_memo_key_hb(k, iw_engine_memo_hash64(0, k->v, k->n));
}

/* Tag and lengths in one word (both lengths are at most
 * IW_ENGINE_MEMO_MAX_KEY): one compare tells most misses apart. */
static inline uint64_t iw_engine_memo__key_id(const iw_engine_memo_key_t *k)
{
    return (uint64_t)k->tag | (uint64_t)k->npre << 32 | (uint64_t)k->n << 48;
}

/* n bytes at a and b equal; up to 16 compared without a libc call (most
 * keys: a header line, a method, a short path). */
static inline int iw_engine_memo__eq(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    uint64_t p, q, u, v;
    uint32_t s, t;

    if (n > 16) return !memcmp(x, y, n);
    if (n >= 8) {
        memcpy(&p, x, 8); memcpy(&q, x + n - 8, 8);
        memcpy(&u, y, 8); memcpy(&v, y + n - 8, 8);
        return !((p ^ u) | (q ^ v));
    }
    if (n >= 4) {
        memcpy(&s, x, 4); memcpy(&t, y, 4);
        if (s != t) return 0;
        memcpy(&s, x + n - 4, 4); memcpy(&t, y + n - 4, 4);
        return s == t;
    }
    for (; n; n--) if (*x++ != *y++) return 0;
    return 1;
}

/* The key bytes and result of an entry whose hash and id match: still in
 * the ring (its bytes are intact while fewer than the ring's size have
 * been written since its key's; writes never wrap inside a record) and
 * the key bytes equal. */
static inline __attribute__((always_inline)) int iw_engine_memo__bytes(const iw_engine_memo__region_t *r, const iw_engine_memo__ent_t *e,
                                        const iw_engine_memo_key_t *k)
{
    const unsigned char *b;

    if (r->head - e->pos > r->ring_mask + 1) return 0;
    b = r->ring + (e->pos & r->ring_mask);
    return (!k->npre || !memcmp(b, k->pre, k->npre)) && iw_engine_memo__eq(b + k->npre, k->v, k->n);
}

/* The entry of the key in its set, or NULL. */
static inline __attribute__((always_inline)) iw_engine_memo__ent_t *iw_engine_memo__find(const iw_engine_memo__region_t *r,
                                                         iw_engine_memo__ent_t *e,
                                                         const iw_engine_memo_key_t *k)
{
    uint64_t id = iw_engine_memo__key_id(k);

    if (e->h == k->h && e->id == id && iw_engine_memo__bytes(r, e, k)) return e;
    if (!r->mask) return NULL;
    e++;
    if (e->h == k->h && e->id == id && iw_engine_memo__bytes(r, e, k)) return e;
    return NULL;
}

/* One lookup into its class's window; a poor window pauses the class.
 * The window is judged every IW_ENGINE_MEMO_EARLY lookups on what it has
 * seen so far, not only at its end: a class whose first lookups hit (the
 * same test request a few times) and whose later ones do not (a scanner's
 * queries) stops paying for misses after the next IW_ENGINE_MEMO_EARLY. */
static inline __attribute__((always_inline)) void iw_engine_memo__count(iw_engine_memo_t *c, uint32_t tag, int hit)
{
    iw_engine_memo__window_t *w = &c->cls[tag % IW_ENGINE_MEMO_CLASSES];
    w->w_hits += (uint32_t)hit;
    if (++w->w_lookups % IW_ENGINE_MEMO_EARLY) return;
    if (w->w_hits * 1000u < IW_ENGINE_MEMO_MIN_HITS * w->w_lookups)
        w->paused = IW_ENGINE_MEMO_PAUSE * IW_ENGINE_MEMO_WINDOW;
    else if (w->w_lookups < IW_ENGINE_MEMO_WINDOW)
        return;
    w->w_lookups = w->w_hits = 0;
}

/* The cached result for the key (*rlen bytes), or NULL (a miss). */
static inline __attribute__((always_inline)) const void *iw_engine_memo_get(iw_engine_memo_t *c, const iw_engine_memo_key_t *k, size_t *rlen)
{
    iw_engine_memo__region_t *r = c->rp[k->tag >> 31];
    iw_engine_memo__ent_t *set = &r->ents[k->h & r->set_mask], *e = iw_engine_memo__find(r, set, k);

    /* one writer (the owning thread); relaxed stores so that a status
     * page may read the counters from another thread */
    if (!e) {
        __atomic_store_n(&c->misses, c->misses + 1, __ATOMIC_RELAXED);
        iw_engine_memo__count(c, k->tag, 0);
        return NULL;
    }
    set->mru = (uint8_t)(e - set);
    /* a hit in the older half of the ring: copied to the head */
    if (__builtin_expect(r->head - e->pos > (r->ring_mask + 1) / 2, 0))
        iw_engine_memo__refresh(r, e, k->npre + k->n);
    __atomic_store_n(&c->hits, c->hits + 1, __ATOMIC_RELAXED);
    iw_engine_memo__count(c, k->tag, 1);
    *rlen = e->rlen;
    return r->ring + e->res;
}

#endif
