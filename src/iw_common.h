/* SPDX-License-Identifier: Apache-2.0 */
/* iw_common: small shared types of the engine (APR only, never httpd). */
#ifndef IW_COMMON_H
#define IW_COMMON_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <apr_pools.h>
#include <apr_tables.h>

/* A byte string that is not necessarily NUL-terminated. */
typedef struct iw_str {
    const char *p;
    size_t len;
} iw_str_t;

#define IW_STR_NULL ((iw_str_t){NULL, 0})

/* Diagnostics: every message is "file:line:col: rule <id>: text" (the
 * "rule <id>: " part omitted when unknown).  The caller decides what an
 * error means: the CLI prints all of them, httpd refuses to start. */
typedef enum { IW_DIAG_ERROR, IW_DIAG_WARNING } iw_diag_level_t;

typedef struct iw_diag_msg {
    iw_diag_level_t level;
    const char *file;   /* may be NULL */
    int line, col;      /* 1-based, 0 when unknown */
    const char *rule_id;/* may be NULL */
    const char *text;   /* the complete formatted message */
} iw_diag_msg_t;

typedef struct iw_diag {
    apr_pool_t *pool;
    apr_array_header_t *msgs;   /* of iw_diag_msg_t */
    int errors, warnings;
} iw_diag_t;

iw_diag_t *iw_diag_create(apr_pool_t *p);
/* Append a message; formats "file:line:col: rule <id>: " + fmt. */
void iw_diag_add(iw_diag_t *d, iw_diag_level_t lvl, const char *file, int line,
                 int col, const char *rule_id, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Print every message, one per line, each after `prefix`. */
void iw_diag_print(const iw_diag_t *d, FILE *f, const char *prefix);

/* Sigma levels, ordered. */
typedef enum {
    IW_LEVEL_NONE = 0, IW_LEVEL_INFORMATIONAL, IW_LEVEL_LOW, IW_LEVEL_MEDIUM,
    IW_LEVEL_HIGH, IW_LEVEL_CRITICAL
} iw_level_t;

const char *iw_level_name(iw_level_t l);
/* Returns IW_LEVEL_NONE when the name is unknown. */
iw_level_t iw_level_parse(const char *name);

/* What a clean repeated request runs (the module's log_transaction path):
 * the linker groups .text.hot, so that path spans a few pages and lines
 * instead of being spread over the whole module. */
#define IW_HOT __attribute__((hot))

/* n bytes from s to d, up to 32 of them without a libc call (header
 * names and most values: a memcpy call costs as much again as such a
 * copy); d and s do not overlap. */
static inline void iw_copy_short(void *d, const void *s, size_t n)
{
    unsigned char *o = d;
    const unsigned char *p = s;
    unsigned char t[32];

    if (n > 32) {
        memcpy(o, p, n);
    } else if (n >= 16) {              /* two 16-byte pieces, overlapping */
        memcpy(t, p, 16);
        memcpy(t + 16, p + n - 16, 16);
        memcpy(o, t, 16);
        memcpy(o + n - 16, t + 16, 16);
    } else if (n >= 8) {
        memcpy(t, p, 8);
        memcpy(t + 8, p + n - 8, 8);
        memcpy(o, t, 8);
        memcpy(o + n - 8, t + 8, 8);
    } else if (n >= 4) {
        memcpy(t, p, 4);
        memcpy(t + 4, p + n - 4, 4);
        memcpy(o, t, 4);
        memcpy(o + n - 4, t + 4, 4);
    } else if (n) {
        o[0] = p[0];
        o[n >> 1] = p[n >> 1];
        o[n - 1] = p[n - 1];
    }
}

#endif
