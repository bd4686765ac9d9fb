/* SPDX-License-Identifier: Apache-2.0 */
/* iw_vs: which of Vectorscan's scan implementations the engine calls.
 *
 * Vectorscan ships one scan implementation per instruction set (core2,
 * corei7, avx2, avx512, avx512vbmi) and hs_scan() dispatches to the best
 * one the CPU has.  Debian 12's Vectorscan 5.4.9 loses matches in some of
 * them: its AVX-512 path misses short patterns ('q', '<[\s\S]', 'x[ab]')
 * once the match lies past the first 64 bytes of the buffer, its AVX2 path
 * misses '<\d+' when the match ends the buffer.  A missed match is a missed
 * detection, silently.  iw_vs_init() therefore runs a self-test of those
 * shapes on each implementation, best first, and the engine scans with
 * the first that passes; the databases are compiled for that
 * implementation's instruction set (iw_vs_platform).  On a CPU or a
 * library version without the defects the choice is hs_scan() itself.
 *
 * The choice is made once per process, before any scan (engine compile
 * calls iw_vs_init), and only read afterwards: no lock in the scan path. */
#ifndef IW_VS_H
#define IW_VS_H

#include <hs/hs.h>

typedef hs_error_t (*iw_vs_scan_fn)(const hs_database_t *db, const char *data, unsigned length,
                                    unsigned flags, hs_scratch_t *scratch,
                                    match_event_handler onEvent, void *context);

/* The implementation chosen (hs_scan until iw_vs_init has run). */
extern iw_vs_scan_fn iw_vs__scan;

/* Chooses the implementation (once per process; thread-safe). */
void iw_vs_init(void);

/* hs_scan through the chosen implementation. */
static inline hs_error_t iw_vs_scan(const hs_database_t *db, const char *data, unsigned length,
                                    unsigned flags, hs_scratch_t *scratch,
                                    match_event_handler cb, void *ctx)
{
    return iw_vs__scan(db, data, length, flags, scratch, cb, ctx);
}

/* The platform to compile databases for: NULL when hs_scan() itself
 * passed (Vectorscan's own choice). */
const hs_platform_info_t *iw_vs_platform(void);

/* The implementation's name ("hs_scan", "avx2", "corei7", "core2"). */
const char *iw_vs_name(void);

/* NULL when hs_scan() passed the self-test; otherwise one sentence for
 * the logs saying what failed and what is used instead. */
const char *iw_vs_note(void);

/* The self-test on one implementation (NULL: hs_scan) compiled for pl
 * (NULL: the library's default): the number of probes that missed, or -1
 * when a probe database cannot be built.  For the tests. */
int iw_vs_selftest(iw_vs_scan_fn scan, const hs_platform_info_t *pl);

/* An implementation by name ("avx2_hs_scan" ...), NULL when the library
 * does not export it.  For the tests. */
iw_vs_scan_fn iw_vs_lookup(const char *symbol);

#endif
