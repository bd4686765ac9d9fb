/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_memo: per-thread memo of field scan results (see iw_engine_memo.h). */
#include <stdlib.h>
#include <string.h>
#include "iw_engine_memo.h"
#include "iw_common.h"

#define RING_MIN (4u * IW_ENGINE_MEMO_MAX_KEY)

typedef iw_engine_memo__ent_t ent_t;
typedef iw_engine_memo__region_t region_t;

_Static_assert(sizeof(ent_t) == 32, "a set of two ways is one cache line");
_Static_assert(IW_ENGINE_MEMO_WINDOW % IW_ENGINE_MEMO_EARLY == 0, "windows end at a judgement");
_Static_assert(IW_ENGINE_MEMO_MAX_KEY < 65536, "key lengths fit 16 bits (key_id)");
_Static_assert((1ull << 20) * IW_ENGINE_MEMO_RING_PER_ENTRY <= (1ull << 32)
               && (1ull << 20) * IW_ENGINE_MEMO_LONG_RING_PER_ENTRY <= (1ull << 32),
               "ring offsets fit 32 bits (ent_t.res)");

static inline region_t *region_of(iw_engine_memo_t *c, uint32_t tag)
{
    return c->rp[tag >> 31];
}

#define fold_mul iw_engine_memo__fold

static inline uint64_t load64(const unsigned char *b) { uint64_t w; memcpy(&w, b, 8); return w; }

/* The portable hash: 16 bytes per multiply.  Not for adversarial use: a
 * collision costs a cache miss (entries are compared in full), never a
 * wrong result. */
static uint64_t hash_mul(uint64_t seed, const unsigned char *b, size_t n)
{
    uint64_t h = seed ^ ((uint64_t)n * 0x9E3779B97F4A7C15ull);

    for (; n > 16; b += 16, n -= 16)
        h = fold_mul(load64(b) ^ 0xA0761D6478BD642Full ^ h, load64(b + 8) ^ 0xE7037ED1A0B428DBull);
    return iw_engine_memo__hash_tail(h, b, n);   /* the last 1..16 bytes */
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AES_HASH 1

/* With AES-NI: one AES round per 16 bytes (the block is the round key:
 * s' = round(s) ^ block, a bijection in both), four independent lanes per
 * 64 bytes, so a kilobyte key (a browser's header block, the event key)
 * costs ~0.2 instructions per byte instead of ~0.6.  The length and seed
 * start the lanes; the last 16 bytes are read where they end (overlapping
 * the block before); three rounds fold the lanes and spread every bit. */
__attribute__((target("aes,sse4.1")))
static uint64_t hash_aes(uint64_t seed, const unsigned char *b, size_t n)
{
    const __m128i k = _mm_set_epi64x((long long)0xA0761D6478BD642Full, (long long)0xE7037ED1A0B428DBull);
    __m128i a0 = _mm_set_epi64x((long long)seed, (long long)(n * 0x9E3779B97F4A7C15ull));
    __m128i a1 = _mm_xor_si128(a0, k), a2 = _mm_aesenc_si128(a0, k), a3 = _mm_aesenc_si128(a1, k);
    const unsigned char *end = b + n;

#define LD(q) _mm_loadu_si128((const __m128i *)(const void *)(q))
    for (; end - b > 64; b += 64) {
        a0 = _mm_aesenc_si128(a0, LD(b));
        a1 = _mm_aesenc_si128(a1, LD(b + 16));
        a2 = _mm_aesenc_si128(a2, LD(b + 32));
        a3 = _mm_aesenc_si128(a3, LD(b + 48));
    }
    /* 17..64 bytes left: whole blocks, then the last 16 bytes */
    if (end - b > 16) { a0 = _mm_aesenc_si128(a0, LD(b)); b += 16; }
    if (end - b > 16) { a1 = _mm_aesenc_si128(a1, LD(b)); b += 16; }
    if (end - b > 16) { a2 = _mm_aesenc_si128(a2, LD(b)); }
    a3 = _mm_aesenc_si128(a3, LD(end - 16));
#undef LD
    a0 = _mm_aesenc_si128(_mm_aesenc_si128(a0, a1), _mm_aesenc_si128(a2, a3));
    a0 = _mm_aesenc_si128(_mm_aesenc_si128(a0, k), k);
    return (uint64_t)_mm_cvtsi128_si64(a0) ^ (uint64_t)_mm_extract_epi64(a0, 1);
}

int iw_engine_memo_aes;
__attribute__((constructor)) static void aes_probe(void)
{
    __builtin_cpu_init();
    iw_engine_memo_aes = __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1");
}
#else
int iw_engine_memo_aes;
#endif

/* Keys over 16 bytes (up to a kilobyte with a browser's headers): AES
 * rounds where the CPU has them for keys over AES_MIN bytes, else 16
 * bytes per multiply (up to 64 bytes, four multiplies and the tail cost
 * less than the AES hash's fixed part: its lanes set up and folded). */
#define AES_MIN 64
IW_HOT
uint64_t iw_engine_memo__hash_long(uint64_t seed, const void *p, size_t n)
{
#ifdef HAVE_AES_HASH
    if (n > AES_MIN && iw_engine_memo_aes) return hash_aes(seed, p, n);
#endif
    return hash_mul(seed, p, n);
}

/* A region's size: entries rounded up to a power of two (at most 2^20),
 * and its ring, ring_per bytes each (a power of two, at least RING_MIN). */
static uint32_t region_dims(unsigned entries, unsigned ring_per, uint64_t *ring)
{
    uint32_t n = 1;

    while (n < entries && n < (1u << 20)) n <<= 1;
    *ring = (uint64_t)n * ring_per;
    if (*ring < RING_MIN) *ring = RING_MIN;
    return n;
}

static int region_init(region_t *r, unsigned entries, unsigned ring_per)
{
    uint64_t ring;
    uint32_t n = region_dims(entries, ring_per, &ring);

    r->mask = n - 1;
    r->set_mask = n > 1 ? (n - 1) & ~1u : 0;
    r->ring_mask = ring - 1;
    r->ents = aligned_alloc(64, ((size_t)n * sizeof(ent_t) + 63) & ~(size_t)63);
    r->ring = aligned_alloc(64, (size_t)ring);
    if (!r->ents || !r->ring) return 0;
    memset(r->ents, 0, (size_t)n * sizeof(ent_t));
    return 1;
}

iw_engine_memo_t *iw_engine_memo_create(unsigned entries, unsigned long_entries)
{
    iw_engine_memo_t *c;

    if (!entries) return NULL;
    if (!(c = aligned_alloc(64, (sizeof(*c) + 63) & ~(size_t)63))) return NULL;
    memset(c, 0, sizeof(*c));
    c->rp[0] = &c->r[0];
    c->rp[1] = &c->r[long_entries > 0];
    if (!region_init(&c->r[0], entries, IW_ENGINE_MEMO_RING_PER_ENTRY)
        || (long_entries && !region_init(&c->r[1], long_entries, IW_ENGINE_MEMO_LONG_RING_PER_ENTRY))) {
        iw_engine_memo_destroy(c);
        return NULL;
    }
    return c;
}

void iw_engine_memo_destroy(iw_engine_memo_t *c)
{
    int i;

    if (!c) return;
    for (i = 0; i < 2; i++) {
        free(c->r[i].ents);
        free(c->r[i].ring);
    }
    free(c);
}

size_t iw_engine_memo_bytes(unsigned entries, unsigned long_entries)
{
    size_t t = 0;
    int i;

    for (i = 0; i < 2; i++) {
        unsigned e = i ? long_entries : entries, per = i ? IW_ENGINE_MEMO_LONG_RING_PER_ENTRY
                                                         : IW_ENGINE_MEMO_RING_PER_ENTRY;
        uint64_t ring, n;
        if (!e) continue;
        n = region_dims(e, per, &ring);
        t += (size_t)(n * sizeof(ent_t) + ring);
    }
    return t;
}

#define ALIGN8(n) (((n) + 7) & ~(uint64_t)7)

#define ent_bytes iw_engine_memo__bytes
#define find iw_engine_memo__find
#define key_id iw_engine_memo__key_id

/* Room for a record of len bytes at the head, not wrapping inside: its
 * ring position. */
static inline uint64_t ring_take(region_t *r, uint64_t len)
{
    uint64_t off = r->head & r->ring_mask, at;

    if (off + len > r->ring_mask + 1) r->head += r->ring_mask + 1 - off;   /* no wrap inside */
    at = r->head;
    r->head += ALIGN8(len);
    return at;
}

/* A hit whose key bytes are in the older half of the ring: key and
 * result copied to the head, so that a value that keeps repeating (a
 * browser's accept lists, the Host) outlives the stream of values seen
 * once (request lines, URLs) that pushes the ring on. */
void iw_engine_memo__refresh(region_t *r, ent_t *e, uint64_t len)
{
    uint64_t roff = ALIGN8(len), at;
    unsigned char *to;

    /* the new record (and the bytes skipped so as not to wrap inside it:
     * fewer than its length) must not reach the old one: else it stays */
    if (r->head - e->pos + 2 * (roff + e->rlen) + 8 > r->ring_mask + 1) return;
    at = ring_take(r, roff + e->rlen);
    to = r->ring + (at & r->ring_mask);
    memcpy(to, r->ring + (e->pos & r->ring_mask), len);
    memcpy(to + roff, r->ring + e->res, e->rlen);
    e->pos = at;
    e->res = (uint32_t)((at + roff) & r->ring_mask);
}

/* Keys of at least this many bytes equal to the record written last take
 * its bytes (a value stored under two tags in a row: cs-cookie's key and
 * its parameter fields' raw key, both a client's cookie). */
#define SHARE_MIN 64

/* Store k's result; its key bytes are those at the ring position of src,
 * an entry holding the same bytes, else (src NULL) those of the record
 * written last when they are k's, else copied to the head. */
static void put_at(region_t *r, const iw_engine_memo_key_t *k, const void *res, size_t rlen,
                   const ent_t *src)
{
    ent_t *set = &r->ents[k->h & r->set_mask], *e = set;
    uint64_t len = k->npre + k->n, at;
    unsigned char *b;
    ent_t last;

    if (rlen > IW_ENGINE_MEMO_MAX_RES || len > IW_ENGINE_MEMO_MAX_KEY) return;
    /* the last record, still in the ring's younger half, its bytes k's */
    if (!src && len >= SHARE_MIN && len == r->last_len && r->head - r->last_pos <= (r->ring_mask + 1) / 2) {
        last.pos = r->last_pos;
        if (ent_bytes(r, &last, k)) src = &last;
    }
    /* the way to replace: an unused one, else the one not used last */
    if (r->mask) {
        if (set->h && (!set[1].h || set->mru == 0)) e++;
        set->mru = (uint8_t)(e - set);
    }
    if (src) {
        at = ring_take(r, rlen);
        e->pos = src->pos;
        e->res = (uint32_t)(at & r->ring_mask);
        iw_copy_short(r->ring + (at & r->ring_mask), res, rlen);
    } else {
        at = ring_take(r, ALIGN8(len) + rlen);
        b = r->ring + (at & r->ring_mask);
        if (k->npre) memcpy(b, k->pre, k->npre);
        iw_copy_short(b + k->npre, k->v, k->n);
        iw_copy_short(b + ALIGN8(len), res, rlen);
        e->pos = at;
        e->res = (uint32_t)((at + ALIGN8(len)) & r->ring_mask);
        r->last_pos = at;
        r->last_len = len;
    }
    e->h = k->h;
    e->id = key_id(k);
    e->rlen = (uint16_t)rlen;
}

void iw_engine_memo_put(iw_engine_memo_t *c, const iw_engine_memo_key_t *k, const void *res, size_t rlen)
{
    put_at(region_of(c, k->tag), k, res, rlen, NULL);
}

void iw_engine_memo_put_shared(iw_engine_memo_t *c, const iw_engine_memo_key_t *k, const void *res,
                               size_t rlen, const iw_engine_memo_key_t *same)
{
    region_t *r = region_of(c, k->tag);
    const ent_t *src = NULL;

    /* same's entry (in k's region), its bytes compared in full (so k's are
     * what it holds), and still in the ring's younger half: k's result is
     * written at the head, and k's entry is only valid while the older
     * of the two is in the ring */
    if (same->npre == k->npre && same->n == k->n && region_of(c, same->tag) == r)
        src = find(r, &r->ents[same->h & r->set_mask], same);
    if (src && r->head - src->pos > (r->ring_mask + 1) / 2) src = NULL;
    put_at(r, k, res, rlen, src);
}

void iw_engine_memo_res_add(iw_engine_memo_res_t *r, int32_t pred, int field)
{
    int i;

    for (i = 0; i < r->n; i++)
        if (r->pred[i] == pred && r->field[i] == (uint8_t)field) return;
    if (r->n == IW_ENGINE_MEMO_MAX_PREDS) {
        r->overflow = 1;
        return;
    }
    r->pred[r->n] = pred;
    r->field[r->n++] = (uint8_t)field;
}

void iw_engine_memo_counters(const iw_engine_memo_t *c, uint64_t *hits, uint64_t *misses)
{
    if (hits) *hits = c ? __atomic_load_n(&c->hits, __ATOMIC_RELAXED) : 0;
    if (misses) *misses = c ? __atomic_load_n(&c->misses, __ATOMIC_RELAXED) : 0;
}
