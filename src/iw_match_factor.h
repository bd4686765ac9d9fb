/* SPDX-License-Identifier: Apache-2.0 */
/* iw_match_factor: what every match of a regex must contain, and whether a match
 * can be found line by line.
 *
 * A header block ("Name: value\n" per header) changes with every request
 * (the Referer) while most of its lines repeat for a client.  Scanning it
 * line by line, with each line's result cached, is exact for a pattern
 * only when the analysis proves one of two things (iw_engine_eval.c,
 * "header lines"):
 *
 * - required literals: every match of the pattern contains one of a set of
 *   literals, none of them holding an LF.  Whatever the match spans, that
 *   literal lies inside one line, so a per-line literal scan finds it; a
 *   hit makes the pattern a candidate and PCRE2 decides on the whole
 *   block, as before.
 * - line-local: no match can contain an LF, and every assertion of the
 *   pattern answers the same when the subject is the line with the LF
 *   before it and the LF after it (a window of the block) as in the whole
 *   block.  Then the pattern matches the block exactly when it matches one
 *   of its windows.  Why the assertions agree: a match and everything a
 *   lookaround without LF reads lie between the window's two LFs, and a
 *   one-byte look (\b, a lookbehind of one class) at a line's edge sees
 *   that LF in both.  '^' without MULTILINE holds only at the subject's
 *   start: the block's start is the first window's, and elsewhere a
 *   window's start is an LF no non-empty match can begin with.  '$'
 *   without MULTILINE and \Z hold before a window's LF but not before a
 *   block's inner LF: a pattern using them is not line-local.
 *
 * Both are conservative: anything not understood (backreferences, inline
 * options, \G, conditionals, recursion, \p) gives "no literals, not
 * line-local". */
#ifndef IW_MATCH_FACTOR_H
#define IW_MATCH_FACTOR_H
#include <stddef.h>
#include <apr_pools.h>

#define IW_MATCH_FACTOR_CASELESS  1u     /* literals lower-cased; compare caselessly */
#define IW_MATCH_FACTOR_DOTALL    2u     /* '.' matches LF */
#define IW_MATCH_FACTOR_MULTILINE 4u     /* '^' / '$' at every line */

#define IW_MATCH_FACTOR_MAX_LITS 1024    /* larger sets are not reported */

typedef struct iw_match_factor_lit {
    const unsigned char *b;
    size_t len;
} iw_match_factor_lit_t;

typedef struct iw_match_factor {
    int line_local;
    int nlits;                     /* 0: no set of required literals found */
    iw_match_factor_lit_t *lits;         /* distinct; lower-cased with CASELESS */
    size_t minlen;                 /* the shortest of them */
    double cost;                   /* estimated hits per byte of ordinary header text */
    long prefix;                   /* a match starts at most this many bytes before
                                    * the literal it holds (-1: no bound) */
} iw_match_factor_t;

/* Analyse the PCRE-syntax pattern re[0..n) compiled with opts.  Allocates
 * from p; never fails (a pattern not understood gets the empty answer). */
void iw_match_factor_analyse(apr_pool_t *p, const char *re, size_t n, unsigned opts, iw_match_factor_t *out);

#endif
