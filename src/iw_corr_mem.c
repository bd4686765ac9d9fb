/* SPDX-License-Identifier: Apache-2.0 */
/* iw_corr_mem: the shared block -- it owns the layout described in
 * iw_corr_int.h: sizing, initialisation and re-attach, the statistics read
 * from it, and the partitions' locks.  iw_corr.c (the state machine) and
 * iw_corr_sup.c (flood control) work inside a block laid out here.
 *
 * Every partition carries its own process-shared robust mutex inside the
 * block, so httpd's children and threads serialise only on the partition of
 * the (correlation, group) they update, and an uncontended lock is one
 * atomic instruction (glibc's futex fast path, no system call).  A child
 * that dies holding a lock leaves it "owner died": the next locker makes it
 * consistent, recounts the partition's used entries and goes on (counted in
 * lock_recovered).  Robust mutexes cannot protect against a scribbled
 * mutex, so each head carries a guard word: a head whose guard is wrong is
 * rebuilt once (counted in lock_repaired) instead of being locked. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include "iw_corr_int.h"

_Static_assert(sizeof(corr_hdr_t) <= IW_CORR_HDR_BYTES, "header area too small");
_Static_assert(IW_CORR_HDR_BYTES + IW_CORR_PART_BYTES == 256,
               "one partition costs what the old 256-byte header did");
_Static_assert(sizeof(corr_slot_t) % 16 == 0, "slot head must keep payload aligned");

_Static_assert(sizeof(corr_part_t) <= IW_CORR_PART_BYTES, "partition head too large");
_Static_assert(IW_CORR_HDR_BYTES % 64 == 0 && IW_CORR_PART_BYTES % 64 == 0,
               "partition heads must not share cache lines");

#define GUARD_BUSY 1u           /* a head being rebuilt */

/* Partitions: the largest power of two <= IW_CORR_MAX_PARTS that leaves
 * every partition IW_CORR_PART_MIN slot units or more (small tables keep a
 * single partition, i.e. the unpartitioned layout). */
typedef struct corr_geom { uint64_t nparts, part_units; } corr_geom_t;

static corr_geom_t geometry(size_t slot_size, size_t bytes)
{
    corr_geom_t g = {0, 0};
    uint64_t unit = slot_size + IW_CORR_SUP_PER_SLOT * sizeof(corr_sup_t), avail, k;

    if (bytes < IW_CORR_HDR_BYTES + IW_CORR_PART_BYTES) return g;
    avail = bytes - IW_CORR_HDR_BYTES;
    for (k = IW_CORR_MAX_PARTS; k > 1; k >>= 1)
        if (avail > k * IW_CORR_PART_BYTES
            && (avail - k * IW_CORR_PART_BYTES) / unit / k >= IW_CORR_PART_MIN)
            break;
    g.nparts = k;
    g.part_units = (avail - k * IW_CORR_PART_BYTES) / unit / k;
    return g;
}

/* ---- sizing -------------------------------------------------------------- */

size_t iw_corr_table_slots(size_t slot_size, size_t bytes)
{
    corr_geom_t g = geometry(slot_size, bytes);
    return (size_t)(g.nparts * g.part_units);
}

/* Smallest block with at least `slots` units: partition heads and the
 * rounding to whole partitions cost a few units once the table is big
 * enough to be split (bounded search, config time only). */
size_t iw_corr_table_bytes(size_t slot_size, size_t slots)
{
    size_t unit = slot_size + IW_CORR_SUP_PER_SLOT * sizeof(corr_sup_t);
    size_t b = IW_CORR_HDR_BYTES + IW_CORR_PART_BYTES + slots * unit;
    int i;
    for (i = 0; i < 4 * IW_CORR_MAX_PARTS * 4 && iw_corr_table_slots(slot_size, b) < slots; i++)
        b += unit * (i < 8 ? 1 : IW_CORR_MAX_PARTS / 8);
    return b;
}

/* ---- partition locks ----------------------------------------------------- */

static uint64_t guard_of(const corr_hdr_t *h, uint64_t p)
{
    return iw_corr__mix(h->seed ^ (0x7061727469746eull + p)) | 2;  /* never 0, 1 */
}

static int mutex_init(pthread_mutex_t *mu)
{
    pthread_mutexattr_t a;
    int bad;
    if (pthread_mutexattr_init(&a) != 0) return -1;
    bad = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0
          || pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0
          || pthread_mutex_init(mu, &a) != 0;
    pthread_mutexattr_destroy(&a);
    return bad ? -1 : 0;
}

static corr_slot_t *slot_of(corr_hdr_t *h, uint64_t i)
{
    return (corr_slot_t *)((char *)h + h->slots_off + i * h->slot_size);
}

/* Used counts from the entries themselves (after a dead owner or a rebuilt
 * head, the counters may be off by the interrupted update). */
static void part_recount(corr_hdr_t *h, uint64_t p)
{
    corr_part_t *pt = iw_corr__part(h, p);
    const corr_sup_t *e = (const corr_sup_t *)((char *)h + h->sup_off) + p * h->part_sup;
    uint64_t i, used = 0, sup = 0;

    for (i = 0; i < h->part_slots; i++)
        if (slot_of(h, p * h->part_slots + i)->ci1) used++;
    for (i = 0; i < h->part_sup; i++)
        if (e[i].key) sup++;
    pt->used = used;
    pt->sup_used = sup;
}

/* Block zeroed and laid out by the caller (iw_corr_mem_init). */
static void parts_init(corr_hdr_t *h)
{
    uint64_t p;
    for (p = 0; p < h->nparts; p++) {
        corr_part_t *pt = iw_corr__part(h, p);
        /* on failure the guard stays 0: every lock attempt retries */
        if (mutex_init(&pt->mu) == 0) pt->guard = guard_of(h, p);
    }
}

/* Rebuild a scribbled head; only one process does it (the guard is CASed
 * to GUARD_BUSY), the others count a lock failure meanwhile. */
static int part_repair(corr_hdr_t *h, uint64_t p, uint64_t want)
{
    corr_part_t *pt = iw_corr__part(h, p);
    uint64_t g = __atomic_load_n(&pt->guard, __ATOMIC_ACQUIRE);

    if (g == want) return 0;
    if (g == GUARD_BUSY || !__atomic_compare_exchange_n(&pt->guard, &g, GUARD_BUSY, 0,
                                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return -1;
    memset(pt, 0, offsetof(corr_part_t, guard));
    memset(&pt->updates, 0, sizeof(*pt) - offsetof(corr_part_t, updates));
    if (mutex_init(&pt->mu) != 0) {
        __atomic_store_n(&pt->guard, 0, __ATOMIC_RELEASE);
        return -1;
    }
    part_recount(h, p);
    __atomic_fetch_add(&h->lock_repaired, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&pt->guard, want, __ATOMIC_RELEASE);
    return 0;
}

int iw_corr__part_lock(corr_hdr_t *h, uint64_t p)
{
    corr_part_t *pt = iw_corr__part(h, p);
    uint64_t want = guard_of(h, p);
    int rv;

    if (__atomic_load_n(&pt->guard, __ATOMIC_ACQUIRE) != want && part_repair(h, p, want))
        goto fail;
    rv = pthread_mutex_lock(&pt->mu);
    if (rv == 0) return 0;
    if (rv == EOWNERDEAD) {
        /* the owner died inside an update: its group may be off by that
         * event, every entry stays in bounds (all reads are checked) */
        (void)pthread_mutex_consistent(&pt->mu);
        part_recount(h, p);
        __atomic_fetch_add(&h->lock_recovered, 1, __ATOMIC_RELAXED);
        return 0;
    }
    if (rv == EINVAL || rv == ENOTRECOVERABLE)    /* rebuilt on the next try */
        __atomic_compare_exchange_n(&pt->guard, &want, 0, 0, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED);
fail:
    __atomic_fetch_add(&h->lock_failures, 1, __ATOMIC_RELAXED);
    return -1;
}

void iw_corr__part_unlock(corr_hdr_t *h, uint64_t p)
{
    pthread_mutex_unlock(&iw_corr__part(h, p)->mu);
}

/* ---- the block: layout, init, attach, statistics ------------------------ */

static void layout(const iw_corr_t *c, size_t bytes, corr_hdr_t *h)
{
    corr_geom_t g = geometry(iw_corr_slot_size(c), bytes);
    memset(h, 0, sizeof(*h));
    h->magic = IW_CORR_MAGIC;
    h->layout = IW_CORR_LAYOUT;
    h->fingerprint = iw_corr_fingerprint(c);
    h->bytes = bytes;
    h->slot_size = iw_corr_slot_size(c);
    h->nparts = (uint32_t)g.nparts;
    h->part_slots = c ? g.part_units : 0;
    h->part_sup = g.part_units * IW_CORR_SUP_PER_SLOT;
    h->nslots = h->nparts * h->part_slots;
    h->nsup = h->nparts * h->part_sup;
    h->sup_off = IW_CORR_HDR_BYTES + (uint64_t)h->nparts * IW_CORR_PART_BYTES;
    h->slots_off = h->sup_off + h->nsup * sizeof(corr_sup_t);
    h->ncorr = c ? (uint32_t)c->ncorr : 0;
}

static uint64_t random_seed(const void *mem)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
        r = (uint64_t)apr_time_now() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)mem;
    return iw_corr__mix(r);
}

void iw_corr_mem_init(const iw_corr_t *c, void *mem, size_t bytes)
{
    if (!mem || bytes < IW_CORR_HDR_BYTES || ((uintptr_t)mem & 7)) return;
    memset(mem, 0, bytes);
    layout(c, bytes, mem);
    ((corr_hdr_t *)mem)->seed = random_seed(mem);
    if (iw_corr__geometry_ok(mem)) parts_init(mem);
}

/* Entries in use never exceed a partition's size (else: not our block). */
static int counts_ok(corr_hdr_t *h)
{
    uint64_t p;
    if (!iw_corr__geometry_ok(h)) return 0;
    for (p = 0; p < h->nparts; p++) {
        const corr_part_t *pt = iw_corr__part(h, p);
        if (pt->used > h->part_slots || pt->sup_used > h->part_sup) return 0;
    }
    return 1;
}

int iw_corr_mem_attach(const iw_corr_t *c, void *mem, size_t bytes)
{
    corr_hdr_t want, *h = mem;

    if (!mem || bytes < IW_CORR_HDR_BYTES || ((uintptr_t)mem & 7)) return 0;
    layout(c, bytes, &want);
    if (h->magic == want.magic && h->layout == want.layout
        && h->fingerprint == want.fingerprint && h->bytes == want.bytes
        && h->slot_size == want.slot_size && h->nslots == want.nslots
        && h->nsup == want.nsup && h->sup_off == want.sup_off
        && h->slots_off == want.slots_off && h->ncorr == want.ncorr
        && h->nparts == want.nparts && h->part_slots == want.part_slots
        && h->part_sup == want.part_sup
        && counts_ok(h))
        return 1;       /* state and locks kept: children may be using them */
    iw_corr_mem_init(c, mem, bytes);
    return 0;
}

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* Sums over the partitions, read without their locks (a snapshot that may
 * be mid-update, like any counter read from another process). */
void iw_corr_get_stats(const void *mem, iw_corr_stats_t *st)
{
    corr_hdr_t *h = (corr_hdr_t *)mem;
    uint64_t p;
    memset(st, 0, sizeof(*st));
    if (!h || h->magic != IW_CORR_MAGIC || h->layout != IW_CORR_LAYOUT) return;
    st->slots = h->nslots;
    st->sup_slots = h->nsup;
    st->slot_size = h->slot_size;
    st->bytes = h->bytes;
    st->lock_failures = LOAD(h->lock_failures);
    st->lock_recovered = LOAD(h->lock_recovered);
    st->lock_repaired = LOAD(h->lock_repaired);
    st->dropped = LOAD(h->dropped);
    if (!iw_corr__geometry_ok(h)) return;
    st->partitions = h->nparts;
    for (p = 0; p < h->nparts; p++) {
        corr_part_t *pt = iw_corr__part(h, p);
        st->updates += LOAD(pt->updates);
        st->used += LOAD(pt->used);
        st->evictions += LOAD(pt->evictions);
        st->late += LOAD(pt->late);
        st->alerts += LOAD(pt->alerts);
        st->dropped += LOAD(pt->dropped);
        st->recycled += LOAD(pt->recycled);
        st->sup_used += LOAD(pt->sup_used);
        st->sup_evictions += LOAD(pt->sup_evictions);
        st->sup_suppressed += LOAD(pt->sup_suppressed);
    }
}

/* ---- test hook ----------------------------------------------------------- */

static const iw_corr_lock_t *test_lock;

void iw_corr__set_test_lock(const iw_corr_lock_t *lk) { test_lock = lk; }

int iw_corr__test_lock(corr_hdr_t *h)
{
    const iw_corr_lock_t *lk = test_lock;
    if (!lk || !lk->lock) return 0;
    if (lk->lock(lk->baton) == 0) return 0;
    __atomic_fetch_add(&h->lock_failures, 1, __ATOMIC_RELAXED);
    return -1;
}

void iw_corr__test_unlock(void)
{
    const iw_corr_lock_t *lk = test_lock;
    if (lk && lk->lock && lk->unlock) lk->unlock(lk->baton);
}
