/* SPDX-License-Identifier: Apache-2.0 */
/* iw_match_pat: Sigma string values -> byte patterns -> Vectorscan
 * expressions.  A pattern is a sequence of units (literal byte, `*`, `?`,
 * windash slot) so that encodings (utf16, base64) can transform the literal
 * parts while wildcards stay wildcards.  Compile-time only (pool memory). */
#ifndef IW_MATCH_WILD_H
#define IW_MATCH_WILD_H

#include <stddef.h>
#include <apr_pools.h>
#include <apr_tables.h>

enum { IW_U_LIT = 0, IW_U_STAR, IW_U_ONE, IW_U_DASH };

typedef struct iw_match_pat {
    unsigned char *b;   /* byte of a literal unit (unused for others) */
    unsigned char *k;   /* unit kind IW_U_* */
    size_t n;
} iw_match_pat_t;

/* Parse a Sigma string: `*` any run, `?` one byte, `\*` `\?` `\\` literal,
 * any other backslash literal.  With wildcards == 0 every byte is literal. */
iw_match_pat_t *iw_match_pat_parse(apr_pool_t *p, const char *s, size_t len, int wildcards);
/* Plain bytes (no wildcards), e.g. a fieldref value. */
int iw_match_pat_is_literal(const iw_match_pat_t *pt);
/* Units that are windash characters (- / en dash, em dash, horizontal bar)
 * become IW_U_DASH (one alternation in the expression). */
iw_match_pat_t *iw_match_pat_windash(apr_pool_t *p, const iw_match_pat_t *pt);
/* The same, as concrete permutations (needed before encodings).  Returns
 * NULL when there would be more than `max`. */
apr_array_header_t *iw_match_pat_windash_expand(apr_pool_t *p, const iw_match_pat_t *pt,
                                          int max);
/* UTF-8 literal runs -> UTF-16: mode 0 LE, 1 BE, 2 LE with BOM FF FE. */
iw_match_pat_t *iw_match_pat_utf16(apr_pool_t *p, const iw_match_pat_t *pt, int mode);
/* Standard base64 (with padding) of a literal pattern; NULL if it has
 * wildcards. */
iw_match_pat_t *iw_match_pat_base64(apr_pool_t *p, const iw_match_pat_t *pt);
/* The three offset variants (shift 0..2), static middle parts only; NULL
 * entries for variants that are empty.  Returns -1 if pt has wildcards. */
int iw_match_pat_base64offset(apr_pool_t *p, const iw_match_pat_t *pt, iw_match_pat_t *out[3]);

/* Special outcomes of a pattern that cannot be a Vectorscan expression. */
enum { IW_MATCH_PAT_EXPR = 0, IW_MATCH_PAT_PRESENT, IW_MATCH_PAT_EMPTY };

/* Vectorscan expression (use with HS_FLAG_DOTALL) for the pattern, anchored
 * with ^ / \z unless the side starts/ends with `*` or is left open.
 * Sets *kind (PRESENT: matches any value, EMPTY: matches only "") and
 * *longest_lit (longest literal run, for selectivity). */
const char *iw_match_pat_to_hs(apr_pool_t *p, const iw_match_pat_t *pt, int open_start,
                         int open_end, int *kind, size_t *longest_lit);

/* Debug/tests: literal bytes of the pattern with wildcards as * and ?. */
const char *iw_match_pat_str(apr_pool_t *p, const iw_match_pat_t *pt);

#endif
