/* SPDX-License-Identifier: Apache-2.0 */
/* iw_event: the fields of one finished request or one error-log entry.
 *
 * Field names follow Sigma's `category: webserver` taxonomy (DESIGN.md,
 * contract).  Raw fields point into caller memory (request_rec, a log line);
 * decoded views are computed lazily, once, into the event's work buffer,
 * which the caller provides (per-thread, reused) so building and evaluating
 * an event allocates nothing. */
#ifndef IW_EVENT_H
#define IW_EVENT_H

#include <apr_time.h>
#include "iw_common.h"

typedef enum {
    IW_EV_ACCESS = 1,   /* category: webserver */
    IW_EV_ERROR  = 2    /* service: apache (error log) */
} iw_event_type_t;

/* Field ids.  Order is ABI for the engine only (not a contract). */
typedef enum {
    /* access events: raw values */
    IW_F_C_IP = 0,        /* "c-ip" client address after mod_remoteip */
    IW_F_S_IP,            /* "s-ip" */
    IW_F_S_PORT,          /* "s-port" (text; numeric compare supported) */
    IW_F_S_SITENAME,      /* "s-sitename" vhost server name */
    IW_F_CS_HOST,         /* "cs-host" Host header */
    IW_F_CS_METHOD,       /* "cs-method" */
    IW_F_CS_URI_STEM,     /* "cs-uri-stem" raw path (still percent-encoded) */
    IW_F_CS_URI_QUERY,    /* "cs-uri-query" raw query, without '?' */
    IW_F_CS_URI,          /* "cs-uri" full raw request target as sent */
    IW_F_CS_VERSION,      /* "cs-version" e.g. HTTP/1.1 */
    IW_F_SC_STATUS,       /* "sc-status" */
    IW_F_SC_BYTES,        /* "sc-bytes" */
    IW_F_CS_BYTES,        /* "cs-bytes" */
    IW_F_TIME_TAKEN,      /* "time-taken" in ms */
    IW_F_CS_USER_AGENT,   /* "cs-user-agent" */
    IW_F_CS_REFERER,      /* "cs-referer" */
    IW_F_CS_COOKIE,       /* "cs-cookie" */
    IW_F_CS_USERNAME,     /* "cs-username" */
    IW_F_CS_CONTENT_TYPE, /* "cs-content-type" */
    IW_F_DATE,            /* "date" YYYY-MM-DD (UTC) */
    IW_F_TIME,            /* "time" HH:MM:SS (UTC) */
    IW_F_CS_HEADERS,      /* "cs-headers": every request header "Name: value\n" */
    IW_F_REQUEST_ID,      /* "request-id" mod_unique_id, or corpus id */
    IW_F_IW_TRUNCATED,    /* "iw-truncated" request bytes not fully inspected
                           * (over the inspection limit, or left out by the
                           * caller); absent when everything was inspected */
    IW_F_CS_BODY,         /* "cs-body" the part of a form/JSON request body
                           * the handler read (up to the caller's limit) */
    /* decoded views (lazy): percent-decoded however deeply nested,
     * %uXXXX to UTF-8, overlong UTF-8 folded, NULs removed, until nothing
     * decodable is left (decoding a view again gives the same); the *stem* and
     * full-URI views are also path-normalised ('\\' -> '/', "//" -> "/",
     * "/./" and "/x/../" resolved) */
    IW_F_CS_URI_DEC,        /* "cs-uri-decoded" */
    IW_F_CS_URI_STEM_DEC,   /* "cs-uri-stem-decoded" */
    IW_F_CS_URI_QUERY_DEC,  /* "cs-uri-query-decoded" ('+' -> ' ' too) */
    IW_F_CS_HEADERS_DEC,    /* "cs-headers-decoded" */
    IW_F_CS_BODY_DEC,       /* "cs-body-decoded" (form decoding: '+' -> ' ') */
    /* per-parameter views (lazy, multi-valued: NUL-separated lists, see
     * iw_param.h; a condition holds when any value satisfies it):
     * "name=value" pairs, names, values, each decoded */
    IW_F_QP,                /* "cs-uri-query-param" */
    IW_F_QP_NAME,           /* "cs-uri-query-param-name" */
    IW_F_QP_VALUE,          /* "cs-uri-query-param-value" */
    IW_F_CP,                /* "cs-cookie-param" */
    IW_F_CP_NAME,           /* "cs-cookie-param-name" */
    IW_F_CP_VALUE,          /* "cs-cookie-param-value" */
    IW_F_BP,                /* "cs-body-param" (form or JSON body) */
    IW_F_BP_NAME,           /* "cs-body-param-name" */
    IW_F_BP_VALUE,          /* "cs-body-param-value" */
    IW_F_PARAMS_DROPPED,    /* "iw-params-dropped" parameters past the
                             * per-source limit (IW_PARAMS_MAX) or the room:
                             * not in the views above; absent when none */
    IW_F_CS_HEADER_DEC,     /* "cs-header-decoded" (lazy, multi-valued): each
                             * header "Name: value" decoded on its own */
    /* error events */
    IW_F_MESSAGE,         /* "message" text of the error entry */
    IW_F_LEVEL,           /* "level" e.g. error, crit, warn */
    IW_F_MODULE,          /* "module" e.g. core, authz_core */
    IW_F_AH_CODE,         /* "ah-code" e.g. AH01630 */
    IW_F_PID,             /* "pid" */
    /* both: what Sigma keyword lists (no field name) match against.
     * access: "METHOD target VERSION STATUS\n" + cs-headers
     * error:  the message */
    IW_F_RAW,             /* "_raw" */
    IW_F__COUNT
} iw_field_id_t;

/* Field-name lookup including documented aliases (e.g. "c-useragent" ->
 * cs-user-agent, "clientip" -> c-ip).  Returns -1 when unknown. */
int iw_field_lookup(const char *name);
/* Canonical taxonomy name of a field. */
const char *iw_field_name(iw_field_id_t f);
/* Fields holding numbers for lt/lte/gt/gte (status, bytes, time-taken,
 * port, pid); text compare still works on them. */
int iw_field_is_numeric(iw_field_id_t f);

/* SigmaHQ rules put paths in cs-uri-query and queries in cs-uri-stem.  A
 * rule item on cs-uri-stem or cs-uri-query therefore matches when it matches
 * any of: the raw stem, the raw query, or the full raw target (cs-uri).
 * Fills up to `max` slots, returns how many (1 for ordinary fields). */
int iw_field_slots(iw_field_id_t f, iw_field_id_t *slots, int max);

/* Multi-valued fields (the per-parameter views, the decoded header lines):
 * their value is a list of values separated by NUL bytes (iw_param_next
 * walks it). */
#define IW_FIELD_MULTI_MASK (((uint64_t)0x1ff << IW_F_QP) | ((uint64_t)1 << IW_F_CS_HEADER_DEC))
static inline int iw_field_is_multi(int f)
{
    return f >= 0 && f < 64 && ((IW_FIELD_MULTI_MASK >> f) & 1);
}

/* One event.  Value present <=> val[f].p != NULL (may be empty string). */
typedef struct iw_event {
    iw_event_type_t type;
    apr_time_t time;              /* request start / entry time, usec */
    iw_str_t val[IW_F__COUNT];
    int64_t num[IW_F__COUNT];     /* parsed numbers for numeric fields */
    uint64_t have_num;            /* bit f set when num[f] is valid */
    uint64_t lazy_done;           /* bit f set when a lazy view was computed */
    /* work buffer for decoded views and synthesized fields */
    char *buf;
    size_t buf_size, buf_used;
    /* kept for decoded/raw synthesis */
    const iw_str_t *hdr_names, *hdr_values;
    int nhdrs;
    /* the headers as cs-headers is made of them ("Name: value\n" each),
     * when the caller has written them already (the engine's event-cache
     * key holds them): cs-headers copies them; valid while the caller
     * evaluates the event, which then sets NULL p again */
    iw_str_t hdr_lines;
    /* iw_event_init_owned: the event owns buf and grows it (up to
     * grow_max bytes) to what each request needs; kept across events */
    size_t grow_max;
    int own_buf;
    /* set by iw_event_from_request: stem, query, host and the header
     * fields are then functions of target, method and the header list */
    int from_request;
    /* per-parameter views: parameters not kept, per source (query,
     * cookie, body), known once that source is split */
    size_t pdrop[3];
    /* CLI provenance (NULL/0 in httpd) */
    const char *input_id;
    long input_line;
    /* set by iw_event_from_request/_from_error: a number no other event
     * of the process had (0: none yet); what is kept about one event's
     * values across calls (an alert's event members) is keyed by it */
    uint64_t serial;
    /* cs-uri-query-decoded is computed, from all of the query (not cut
     * for room): the query's parameters are cut out of it */
    int qdec_whole;
} iw_event_t;

/* Raw description of a request as seen by httpd or by a log line. */
typedef struct iw_request_desc {
    iw_str_t method, target, version;  /* target = raw request target */
    const iw_str_t *hdr_names, *hdr_values; int nhdrs;
    int status;                   /* 0 = unknown */
    int64_t sc_bytes, cs_bytes;   /* -1 = unknown */
    int64_t time_taken_ms;        /* -1 = unknown */
    iw_str_t client_ip, server_ip, sitename, username, request_id;
    int server_port;              /* 0 = unknown */
    apr_time_t time;              /* request start */
    /* bytes of the request the caller could not pass (e.g. headers past
     * what it could hold, body bytes past its limit): counted into
     * iw-truncated, never silent */
    size_t dropped;
    /* the request body as far as the caller kept it (NULL p: none) */
    iw_str_t body;
} iw_request_desc_t;

typedef struct iw_error_desc {
    iw_str_t message, level, module, client_ip, request_id;
    int ah_code;                  /* 0 = none; else the number of AHnnnnn */
    long pid;                     /* 0 = unknown */
    apr_time_t time;
} iw_error_desc_t;

/* Initialise an event over a caller-supplied work buffer (per-thread,
 * reused).  A request whose views may not fit (iw_event_room) has them
 * computed over a prefix and iw-truncated set, never overflowed.  Values
 * in `d` must outlive the event. */
void iw_event_init(iw_event_t *ev, char *buf, size_t buf_size);
/* Initialise an event that owns its work buffer (malloc, IW_EVENT_BUF_MIN
 * bytes to start): iw_event_from_request grows it to what the request
 * needs (iw_event_room), for requests of up to max_request bytes (request
 * line + headers); a larger one is inspected over its first max_request
 * bytes and gets iw-truncated.  After a large request the buffer shrinks
 * back on the next small one.  Returns 0, or -1 when out of memory. */
int iw_event_init_owned(iw_event_t *ev, size_t max_request);
/* Frees an owned buffer (no-op for a caller-supplied one). */
void iw_event_release(iw_event_t *ev);

#define IW_EVENT_BUF_MIN (64 * 1024)
/* Work buffer bytes that hold every view of a request of `bytes` bytes
 * (request line + headers as "Name: value\r\n"): cs-headers, _raw, the
 * decoded views with their scratch copies (the headers decoded as a block
 * and one by one), numbers and date/time. */
#define IW_EVENT_ROOM(bytes) (5 * (size_t)(bytes) + 512)
/* Bytes of the request a description stands for (method, target,
 * version, "Name: value\r\n" per header, plus d->dropped). */
size_t iw_request_bytes(const iw_request_desc_t *d);
void iw_event_from_request(iw_event_t *ev, const iw_request_desc_t *d);
void iw_event_from_error(iw_event_t *ev, const iw_error_desc_t *d);

/* The lazy views: computed on their first iw_event_get. */
#define IW_EVENT_LAZY_BIT(f) ((uint64_t)1 << (f))
#define IW_EVENT_LAZY_MASK (IW_EVENT_LAZY_BIT(IW_F_CS_HEADERS) | IW_EVENT_LAZY_BIT(IW_F_RAW)     \
    | IW_EVENT_LAZY_BIT(IW_F_CS_URI_DEC) | IW_EVENT_LAZY_BIT(IW_F_CS_URI_STEM_DEC)             \
    | IW_EVENT_LAZY_BIT(IW_F_CS_URI_QUERY_DEC) | IW_EVENT_LAZY_BIT(IW_F_CS_HEADERS_DEC)        \
    | IW_EVENT_LAZY_BIT(IW_F_S_PORT) | IW_EVENT_LAZY_BIT(IW_F_SC_STATUS)                      \
    | IW_EVENT_LAZY_BIT(IW_F_SC_BYTES) | IW_EVENT_LAZY_BIT(IW_F_CS_BYTES)                     \
    | IW_EVENT_LAZY_BIT(IW_F_TIME_TAKEN) | IW_EVENT_LAZY_BIT(IW_F_PID)                        \
    | IW_EVENT_LAZY_BIT(IW_F_IW_TRUNCATED) | IW_EVENT_LAZY_BIT(IW_F_CS_BODY_DEC)              \
    | IW_EVENT_LAZY_BIT(IW_F_CS_HEADER_DEC)                                                   \
    | IW_EVENT_LAZY_BIT(IW_F_DATE) | IW_EVENT_LAZY_BIT(IW_F_TIME)                             \
    | IW_FIELD_MULTI_MASK | IW_EVENT_LAZY_BIT(IW_F_PARAMS_DROPPED))
/* A lazy view's first read: computes it (iw_event_get's slow path). */
iw_str_t iw_event_get_lazy(iw_event_t *ev, iw_field_id_t f);
/* Value of a field, computing lazy views on first use.  Returns NULL p when
 * the field is absent from this event.  Inline: the engine reads ~20
 * fields per event, most of them computed already or not lazy. */
static inline iw_str_t iw_event_get(iw_event_t *ev, iw_field_id_t f)
{
    uint64_t bit;

    if ((unsigned)f >= IW_F__COUNT) return IW_STR_NULL;
    bit = IW_EVENT_LAZY_BIT(f);
    if ((IW_EVENT_LAZY_MASK & bit) && !(ev->lazy_done & bit)) return iw_event_get_lazy(ev, f);
    return ev->val[f];
}
/* Numeric value; returns 0 when absent/not numeric, 1 when *out is set. */
int iw_event_num(iw_event_t *ev, iw_field_id_t f, int64_t *out);

/* For the engine's scan-result cache keyed by raw bytes: a lazy
 * multi-valued field that is not computed yet and whose values are a
 * function of raw bytes alone, so a repeated source (a client's cookie,
 * its accept lists) need not be split or decoded to be answered.  Only
 * when nothing is cut for room (no iw-truncated, the room the field needs
 * is free), so computing the field later gives what it would give now.
 * iw_event_param_source: a per-parameter view (query, cookie or form
 * body; not a JSON body) -> its source's bytes (non-empty) in *src. */
int iw_event_param_source(iw_event_t *ev, iw_field_id_t f, iw_str_t *src);
/* The field the per-parameter views of source s split (0 query, 1 cookie,
 * 2 body: the views IW_F_QP + 3 * s and the two after it). */
static inline iw_field_id_t iw_event_param_field(int s)
{
    static const iw_field_id_t src[3] = { IW_F_CS_URI_QUERY, IW_F_CS_COOKIE, IW_F_CS_BODY };
    return src[s];
}
/* A bound on the length of any value of field f: a per-parameter view's
 * source length (a decoded name or value is never longer than its raw
 * text; 0 when absent), else UINT64_MAX (not known without the view). */
static inline uint64_t iw_event_params_max(const iw_event_t *ev, int f)
{
    if (f < IW_F_QP || f > IW_F_BP_VALUE) return UINT64_MAX;
    return ev->val[iw_event_param_field((f - IW_F_QP) / 3)].len;
}
/* 1 when f is a per-parameter view whose source (the view's lazy split
 * reads only it) is absent or empty: f has no value. */
static inline int iw_event_params_absent(const iw_event_t *ev, int f)
{
    iw_str_t in;

    if (f < IW_F_QP || f > IW_F_BP_VALUE) return 0;
    in = ev->val[iw_event_param_field((f - IW_F_QP) / 3)];
    return !in.p || !in.len;
}
/* The URI fields (cs-uri-stem, cs-uri-query, their decoded views and
 * cs-uri-decoded) as a function of cs-uri's bytes and whether the method
 * is CONNECT (*connect): an event of iw_event_from_request whose decoded
 * URI views are not computed yet and cannot be cut for room.  1 and the
 * target in *uri, else 0. */
int iw_event_uri_source(iw_event_t *ev, iw_str_t *uri, int *connect);
/* cs-header-decoded -> the cs-headers block in *block; then
 * iw_event_header_line gives, in order, the raw "Name: value" that each
 * of the field's values decodes (*i, *off start at 0; 0 when no header is
 * left). */
int iw_event_header_dec_source(iw_event_t *ev, iw_str_t *block);
int iw_event_header_line(const iw_event_t *ev, iw_str_t block, int *i, size_t *off,
                         iw_str_t *line);


#endif
