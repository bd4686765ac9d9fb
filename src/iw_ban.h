/* SPDX-License-Identifier: Apache-2.0 */
/* iw_ban: a bounded table of denied clients (active response), in one flat
 * memory block that holds no pointers, so httpd's children share it in
 * shared memory and a graceful restart keeps it.
 *
 * Lookups (every request) take no lock: a seqlock word in the block is
 * even when the table is stable; a reader probes the open-addressing hash
 * table and retries when the word changed meanwhile (after a few hundred
 * tries -- a writer preempted or dead -- it takes the lock instead).  An empty table is
 * answered from one word.  Writes (adding, ending, lifting a ban: rare) take
 * one process-shared robust mutex inside the block.  The table holds at
 * most max_bans bans in a power-of-two slot array at least twice as large
 * (linear probing, removal by backward shift: no tombstones), so a lookup
 * probes a few slots.  When it is full, the ban ending soonest is evicted
 * and reported (counted, never silent). */
#ifndef IW_BAN_H
#define IW_BAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <apr_time.h>
#include "iw_common.h"

/* A client address as 16 bytes: IPv6 as is, IPv4 as ::ffff:a.b.c.d. */
typedef struct iw_ban_key { uint64_t w[2]; } iw_ban_key_t;

/* From 4 bytes of an IPv4 address / 16 bytes of an IPv6 address (network
 * order); an IPv4-mapped IPv6 address gives the same key as its IPv4. */
static inline iw_ban_key_t iw_ban_key_v4(const void *in4)
{
    iw_ban_key_t k;
    unsigned char b[8] = {0, 0, 0xff, 0xff, 0, 0, 0, 0};
    memcpy(b + 4, in4, 4);
    k.w[0] = 0;
    memcpy(&k.w[1], b, 8);
    return k;
}

static inline iw_ban_key_t iw_ban_key_v6(const void *in6)
{
    iw_ban_key_t k;
    memcpy(k.w, in6, 16);
    return k;
}

/* Text ("192.0.2.7", "2001:db8::1") -> key; 0 = ok, -1 = not an address. */
int iw_ban_key_parse(const char *s, iw_ban_key_t *k);
/* Key -> text (IPv4-mapped as dotted quad); size >= 46. */
void iw_ban_key_format(const iw_ban_key_t *k, char *buf, size_t size);

/* A network of the allow-list ("127.0.0.0/8", "::1", "10.1.2.3"). */
typedef struct iw_ban_net { iw_ban_key_t addr, mask; } iw_ban_net_t;
int iw_ban_net_parse(const char *s, iw_ban_net_t *n);       /* 0 ok, -1 */
int iw_ban_net_match(const iw_ban_net_t *nets, int n, const iw_ban_key_t *k);

/* Ban flags. */
#define IW_BAN_F_DRYRUN  1u     /* recorded by a dry-run server: never refuses */
#define IW_BAN_F_ENDED   2u     /* lookup: the entry's time is over (not yet
                                   swept): not banned, sweep to report it */

#define IW_BAN_RULE_MAX  64     /* bytes kept of the trigger's rule id */
#define IW_BAN_REQID_MAX 48     /* bytes kept of the trigger's request id */

/* One ban as listed or reported. */
typedef struct iw_ban_rec {
    iw_ban_key_t key;
    apr_time_t since, until;
    int32_t seconds;
    uint32_t flags;
    uint64_t refused;           /* requests refused (or would be) during it */
    char rule[IW_BAN_RULE_MAX];
    char request_id[IW_BAN_REQID_MAX];
} iw_ban_rec_t;

/* Block size for max_bans; initialise a fresh block (never one that other
 * processes use); check a block's header (1 = a valid table of `bytes`).
 * The block must be 8-byte aligned (64: its header's lines are cache
 * lines).  init returns -1 when the lock cannot
 * be initialised. */
size_t iw_ban_mem_size(uint32_t max_bans);
int iw_ban_mem_init(void *mem, size_t bytes, uint32_t max_bans);
int iw_ban_mem_check(const void *mem, size_t bytes);
uint32_t iw_ban_capacity(const void *mem);

/* The request path: the slot of an active ban of k at `now` (>= 0, *flags
 * set), or -1 (not banned; *flags may say IW_BAN_F_ENDED).  Lock-free. */
int iw_ban_lookup_slow(const void *mem, const iw_ban_key_t *k, apr_time_t now,
                       unsigned *flags);

typedef struct iw_ban_hot {     /* the block's first cache line's head */
    uint64_t magic, active;
} iw_ban_hot_t;

/* Any ban at all (ended ones not yet swept included)?  One load. */
static inline int iw_ban_any(const void *mem)
{
    return __atomic_load_n(&((const iw_ban_hot_t *)mem)->active,
                           __ATOMIC_RELAXED) != 0;
}

static inline int iw_ban_lookup(const void *mem, const iw_ban_key_t *k,
                                apr_time_t now, unsigned *flags)
{
    if (!iw_ban_any(mem))            /* the common case: one load */
        return -1;
    return iw_ban_lookup_slow(mem, k, now, flags);
}

/* Count a request refused (or, dry run, one that would be) by the ban in
 * `slot` as returned by iw_ban_lookup. */
void iw_ban_count_refused(void *mem, int slot, int would);

/* Add a ban of k for `seconds` from `now` (dry: IW_BAN_F_DRYRUN).
 * Returns IW_BAN_ADDED, IW_BAN_EXISTS (an active ban of k: kept as it is,
 * not extended) or IW_BAN_FAILED (lock).  When the table was full, the ban
 * ending soonest made room: *evicted is filled and *nevicted set to 1. */
enum { IW_BAN_FAILED = -1, IW_BAN_ADDED = 1, IW_BAN_EXISTS = 2 };
int iw_ban_add(void *mem, const iw_ban_key_t *k, apr_time_t now, int seconds,
               unsigned flags, const char *rule, const char *request_id,
               iw_ban_rec_t *evicted, int *nevicted);

/* Remove the bans whose time is over (up to max; the rest on the next
 * call), copying them to out; returns how many.  Cheap when none is due
 * (iw_ban_sweep_due). */
int iw_ban_sweep_due(const void *mem, apr_time_t now);
int iw_ban_sweep(void *mem, apr_time_t now, iw_ban_rec_t *out, int max);

/* Lift the ban of k (out: what it was); 1 = lifted, 0 = none, -1 lock. */
int iw_ban_lift(void *mem, const iw_ban_key_t *k, iw_ban_rec_t *out);

/* Snapshot of the active bans at `now` (up to max), soonest end first not
 * guaranteed; returns how many. */
int iw_ban_list(void *mem, apr_time_t now, iw_ban_rec_t *out, int max);

typedef struct iw_ban_stats {
    uint64_t capacity, slots, active;
    uint64_t added, dry_added, exists, expired, lifted, evicted;
    uint64_t refused, would_refuse;
    uint64_t allowlisted;       /* triggers for allow-listed clients */
    uint64_t read_retries;      /* lookups that met a concurrent write */
    uint64_t read_locked;       /* lookups that waited for a slow writer */
    uint64_t lock_recovered, lock_failures;
} iw_ban_stats_t;
void iw_ban_get_stats(const void *mem, iw_ban_stats_t *st);
void iw_ban_count_allowlisted(void *mem);

/* The ECS JSON of a ban alert (rule.id iocwatch-ban / iocwatch-ban-end).
 * kind: what happened to rec. */
typedef enum {
    IW_BAN_EV_BAN = 1,          /* "client denied for N s after rule X" */
    IW_BAN_EV_WOULD,            /* dry run: "would deny" */
    IW_BAN_EV_EXPIRED, IW_BAN_EV_LIFTED, IW_BAN_EV_EVICTED
} iw_ban_event_t;
/* Level of the alert: medium for a ban, high for an eviction (a client
 * got out early), informational for an end. */
iw_level_t iw_ban_alert_level(iw_ban_event_t kind);
size_t iw_ban_alert_json(char *buf, size_t size, iw_ban_event_t kind,
                         const iw_ban_rec_t *rec, apr_time_t now,
                         const char *host_name);

#endif
