/* SPDX-License-Identifier: Apache-2.0 */
/* iw_decode: URL decoding of request values for the decoded views and the
 * per-parameter fields (input side, no event state). */
#ifndef IW_DECODE_H
#define IW_DECODE_H

#include <stddef.h>

/* Decode into out (size >= in.len+1), returns decoded length.  One round of
 * %XX / %uXXXX decoding; plus_space turns '+' into ' '. */
size_t iw_decode_once(const char *in, size_t len, char *out, int plus_space);

/* The decoded views' decoder (iw_field_id_t: cs-uri-stem-decoded uses
 * IW_DECODE_PATH, cs-uri-query-decoded IW_DECODE_PLUS, cs-headers-decoded
 * 0): %XX, %uXXXX and overlong UTF-8 forms of ASCII decoded, NULs dropped,
 * until no decodable sequence is left, so the result is a fixpoint:
 * decoding it again (with 0 or the same flags, IW_DECODE_PLUS aside: a
 * decoded '+' stays '+') returns it unchanged.  IW_DECODE_PLUS: a raw '+'
 * is a space; IW_DECODE_PATH: then path-normalised.  out needs len + 1
 * bytes (the result is never longer; the bytes past it may be written
 * over); returns its length, NUL-terminated.  in and out do not overlap. */
#define IW_DECODE_PLUS 1
#define IW_DECODE_PATH 2
size_t iw_decode_full(const char *in, size_t len, char *out, int flags);

/* Whether decoding in, with flags, gives in itself (a path view: also
 * nothing to normalise): then the value is its own decoded view. */
int iw_decode_is_identity(const char *in, size_t len, int flags);
/* Length of the leading run of bytes that decode to themselves (no '%',
 * NUL or overlong lead byte; no '+' when plus).  8 bytes per step. */
size_t iw_decode_plain_len(const char *p, size_t n, int plus);

/* 1 (default): the fast paths above and the word-at-a-time copy are used.
 * Tests set 0 to check the bytewise reference decoder gives the same. */
extern int iw_decode_fastpath;

#endif
