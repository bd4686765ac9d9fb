/* SPDX-License-Identifier: Apache-2.0 */
/* iw_logfmt: input lines for the CLI -> events.  Apache common/combined
 * access-log lines, Apache 2.4 error-log lines, and the corpus JSON-lines
 * format (DESIGN.md).  Never crashes on bad input: a malformed line yields
 * 0 and a reason. */
#ifndef IW_LOGFMT_H
#define IW_LOGFMT_H

#include "iw_event.h"

typedef enum {
    IW_INPUT_AUTO = 0, IW_INPUT_COMBINED, IW_INPUT_ERROR, IW_INPUT_JSONL
} iw_input_format_t;

/* "auto" | "combined" (also common) | "error" | "jsonl"; -1 if unknown. */
int iw_input_format_parse(const char *name);
/* Guess the format of one line (first non-empty line of a file). */
iw_input_format_t iw_logfmt_detect(const char *line, size_t len);

/* Headers kept per line (httpd accepts 100 by default); the bytes of any
 * more are counted into the request's `dropped` (iw-truncated). */
#define IW_LOGFMT_MAX_HEADERS 256

/* Parse result.  Owns a buffer for unescaped strings (JSON); the request /
 * error descriptions point into it or into the line. */
typedef struct iw_parsed {
    iw_event_type_t type;
    iw_request_desc_t req;
    iw_error_desc_t err;
    iw_str_t hdr_names[IW_LOGFMT_MAX_HEADERS];
    iw_str_t hdr_values[IW_LOGFMT_MAX_HEADERS];
    char id[128];               /* jsonl "id" (empty when none) */
    char *buf; size_t buf_size, buf_used;   /* caller-supplied */
} iw_parsed_t;

/* Parse one line (without trailing newline; CR tolerated) in format fmt
 * (not AUTO).  buf/buf_size must be set by the caller (>= 2 * len + 64).
 * Returns 1 on success; 0 when malformed, with a reason in why. */
int iw_logfmt_parse(iw_input_format_t fmt, const char *line, size_t len,
                    iw_parsed_t *out, const char **why);

/* Apache time "[10/Oct/2000:13:55:36 -0700]" content (without brackets). */
int iw_parse_clf_time(const char *s, size_t len, apr_time_t *t);

#endif
