/* iw_corr_part: the table's partitions -- geometry and locks.
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
#include "iw_corr_int.h"

_Static_assert(sizeof(corr_part_t) <= IW_CORR_PART_BYTES, "partition head too large");
_Static_assert(IW_CORR_HDR_BYTES % 64 == 0 && IW_CORR_PART_BYTES % 64 == 0,
               "partition heads must not share cache lines");

#define GUARD_BUSY 1u           /* a head being rebuilt */

/* Partitions: the largest power of two <= IW_CORR_MAX_PARTS that leaves
 * every partition IW_CORR_PART_MIN slot units or more (small tables keep a
 * single partition, i.e. the unpartitioned layout). */
corr_geom_t iw_corr__geometry(size_t slot_size, size_t bytes)
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
void iw_corr__parts_init(corr_hdr_t *h)
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
