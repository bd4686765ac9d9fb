/* SPDX-License-Identifier: Apache-2.0 */
/* iw_match_radix: IP addresses and CIDR prefixes in a path-compressed
 * binary trie over 128-bit keys.  IPv4 is stored IPv4-mapped (::ffff:a.b.c.d,
 * prefix + 96), so IPv4 CIDRs also match IPv4-mapped IPv6 clients.  Lookup
 * cost depends on the depth of the trie (log of the entry count plus nested
 * prefixes), not on how many prefixes it holds. */
#ifndef IW_MATCH_RADIX_H
#define IW_MATCH_RADIX_H

#include <stddef.h>
#include <stdint.h>

typedef struct iw_match_radix iw_match_radix_t;

/* Parse an address ("1.2.3.4", "::1", "::ffff:1.2.3.4", "[::1]") into 16
 * bytes.  No allocation.  Returns 1 on success. */
int iw_match_radix_parse_ip(const char *s, size_t len, uint8_t out[16]);
/* Parse "addr/len" or a bare address (host prefix).  Returns 1 on success;
 * *plen is in 128-bit terms. */
int iw_match_radix_parse_cidr(const char *s, size_t len, uint8_t out[16], int *plen);

iw_match_radix_t *iw_match_radix_create(void);          /* malloc; NULL on OOM */
void iw_match_radix_destroy(iw_match_radix_t *t);
/* Attach `value` to the prefix (duplicates of the last value are skipped).
 * Returns 0, or -1 on OOM. */
int iw_match_radix_insert(iw_match_radix_t *t, const uint8_t key[16], int plen,
                    int32_t value);
/* After the last insert: build the IPv4 /16 index that lets big trees
 * start lookups 112 bits down.  Returns 0, or -1 on OOM (lookups then
 * walk from the root).  Inserting afterwards requires finalizing again. */
int iw_match_radix_finalize(iw_match_radix_t *t);
/* Call fn(ctx, value) for every value of every prefix containing addr.
 * Read-only: any number of threads may look up at once. */
typedef void (*iw_match_radix_fn)(void *ctx, int32_t value);
void iw_match_radix_lookup(const iw_match_radix_t *t, const uint8_t addr[16],
                     iw_match_radix_fn fn, void *ctx);
size_t iw_match_radix_nodes(const iw_match_radix_t *t);

#endif
