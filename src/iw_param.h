/* SPDX-License-Identifier: Apache-2.0 */
/* iw_param: the per-parameter views of a request (docs/FIELDS.md,
 * "Per-parameter fields"): a query string, a form body or a Cookie header
 * split into parameters, each name and value decoded on its own.
 *
 * A multi-valued field is stored as ONE string: its values in request
 * order, separated by NUL bytes.  Decoded names and values never hold a
 * NUL (iw_decode_full drops them, raw or decoded), so the separator is
 * unambiguous: "a\0b" is two values, "" is one empty value, "\0" two empty
 * ones, and an absent field (no parameter) has no string at all.  The
 * engine matches each value separately (iw_param_next), so a condition on
 * such a field holds when any value satisfies it. */
#ifndef IW_PARAM_H
#define IW_PARAM_H

#include <stddef.h>
#include <string.h>
#include "iw_common.h"

/* Parameters kept per source (query, cookie, body); the rest are counted
 * (iw-params-dropped), not split. */
#define IW_PARAMS_MAX 1024

typedef enum {
    IW_PARAM_QUERY = 0,     /* '&'-separated, '+' is a space (form encoding) */
    IW_PARAM_COOKIE,        /* ';'-separated, blanks trimmed, one pair of
                             * surrounding '"' taken off the value, '+' kept */
    IW_PARAM_JSON           /* a JSON document: every scalar leaf is a value,
                             * named by its innermost object key */
} iw_param_syntax_t;

/* The three views of one source, each a NUL-separated list (see above);
 * p == NULL when the source has no parameter. */
typedef struct iw_param_views {
    iw_str_t names, values, pairs;  /* pairs: "name=value" ("name" when the
                                     * parameter had no '=') */
    unsigned n;                     /* parameters kept */
    size_t dropped;                 /* parameters past IW_PARAMS_MAX or past
                                     * the room given */
} iw_param_views_t;

/* Bytes of `out` iw_param_split needs to keep every parameter of a source
 * of len bytes (the three lists, each at most the source plus a NUL). */
#define IW_PARAM_ROOM(len) (3 * ((size_t)(len) + 1))

/* Split in[0, len) written in `syntax` into out (room bytes); returns the
 * bytes of out used.  Parameters that do not fit in room, and those past
 * IW_PARAMS_MAX, are counted in v->dropped.  Empty pieces ("a=1&&b=2",
 * a trailing '&', "; ;") are not parameters. */
size_t iw_param_split(const char *in, size_t len, iw_param_syntax_t syntax,
                      char *out, size_t room, iw_param_views_t *v);

/* iw_param_split of a query (IW_PARAM_QUERY) whose decoded view dec
 * (iw_decode_full of all of in with IW_DECODE_PLUS) is at hand: the same
 * views, cut out of dec instead of decoded again.  Returns (size_t)-1,
 * out's contents undefined, when it cannot: an '&' of dec that decoding
 * made (%26), or room under IW_PARAM_ROOM(len). */
size_t iw_param_split_decoded(const char *in, size_t len, const char *dec, size_t dlen,
                              char *out, size_t room, iw_param_views_t *v);

/* Parameters of a source without splitting it (a count, no decoding):
 * what iw_param_split would keep plus what it would drop for the count
 * limit. */
size_t iw_param_count(const char *in, size_t len, iw_param_syntax_t syntax);

/* Iterate the values of a multi-valued field: *pos starts at 0; returns 1
 * and the next value in *out, 0 when there is none left. */
static inline int iw_param_next(iw_str_t list, size_t *pos, iw_str_t *out)
{
    const char *s, *e;

    if (!list.p || *pos > list.len) return 0;
    s = list.p + *pos;
    e = *pos < list.len ? memchr(s, '\0', list.len - *pos) : NULL;
    if (!e) e = list.p + list.len;
    out->p = s;
    out->len = (size_t)(e - s);
    *pos = (size_t)(e - list.p) + 1;
    return 1;
}

#endif
