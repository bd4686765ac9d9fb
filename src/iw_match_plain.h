/* SPDX-License-Identifier: Apache-2.0 */
/* iw_match_plain: which patterns can match a "plain" value at all.
 *
 * Most request targets, queries and their decoded views consist of
 * letters, digits and - . _ ~ / = & ? : + , only.  Most of the costly
 * patterns of an attack rule set need some other byte ($ ' " ; | ( < \
 * space, %).  A pattern (or one top-level branch of it) that no string
 * over the plain alphabet can match cannot match anywhere inside a plain
 * value, so the engine scans plain values with a smaller database that
 * leaves such patterns and branches out.
 *
 * The analysis is conservative: "cannot match" only when it is certain
 * (every path through the pattern needs a byte outside the alphabet);
 * lookarounds, anchors, backreferences and anything not understood count
 * as matching. */
#ifndef IW_MATCH_PLAIN_H
#define IW_MATCH_PLAIN_H
#include <stddef.h>

/* 1 when every byte of the value is in the plain alphabet. */
int iw_match_plain_value(const char *p, size_t n);

/* 0 when no string of plain bytes can contain a match of the PCRE-syntax
 * pattern; 1 otherwise.  Case options do not matter: the alphabet holds
 * both cases of every letter. */
int iw_match_plain_may_match(const char *re, size_t n);

/* The top-level alternatives of the pattern (also inside one group that
 * spans all of it), as offsets and lengths into re; at most max.  Returns
 * 1 (the whole pattern) when splitting could change what it matches:
 * backreferences, named or numbered group references, inline options,
 * branch-reset groups, conditionals. */
int iw_match_plain_branches(const char *re, size_t n, size_t *off, size_t *len, int max);

/* Regex escapes, shared with iw_match_factor.  After "\x": the value of
 * \xhh or \x{h..} (up to 0x10FFFF; *s moved past it), -1 when malformed.
 * A class escape letter (d w s h v, upper case negated): its bytes added to
 * set[256], 1; 0 when e is none of them. */
int iw_match_plain_hex_escape(const char **s, const char *end);
int iw_match_plain_class_escape(int e, unsigned char *set);

#endif
