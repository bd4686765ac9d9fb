/* SPDX-License-Identifier: Apache-2.0 */
/* iw_notify: the non-blocking alert path.  Request threads only copy an
 * alert into a bounded per-process ring (never wait on I/O); one sender
 * thread writes to the target, reconnects with backoff, and on overflow the
 * newest alert is dropped and counted; when the path recovers one
 * "N alerts dropped" alert is sent. */
#ifndef IW_NOTIFY_H
#define IW_NOTIFY_H

#include "iw_alert.h"

typedef enum {
    IW_TARGET_UNIX_DGRAM = 1,   /* unix:/dev/log */
    IW_TARGET_UNIX_STREAM,      /* unix-stream:/path (octet counting) */
    IW_TARGET_UDP,              /* udp://host:port */
    IW_TARGET_TCP               /* tcp://host:port, RFC 6587 octet counting */
} iw_target_type_t;

typedef struct iw_notify_cfg {
    const char *target;         /* see above; default "unix:/dev/log" */
    iw_format_t format;         /* default RFC 3164 for unix:, 5424 otherwise */
    int facility;               /* default local0 (16) */
    int queue_size;             /* slots; default 1024 */
    const char *hostname;       /* for framing; NULL = gethostname */
    const char *app_name;       /* default "iocwatch" */
    /* optional: IW_NS_N counters (server-wide, in shared memory) that the
     * queue also adds to, atomically; NULL = none */
    uint64_t *shared;
    /* optional: told by the sender thread (never a request thread) when
     * delivery starts failing (failing = 1: a connect or send error after
     * a success, or before the first one; err = its errno) and when a
     * message goes out again (failing = 0; err = 0; errors = the send and
     * connect errors in between).  Once per change, never per retry.  It
     * may block only the sender (e.g. writing a log line); NULL = silent. */
    void (*on_state)(void *data, const char *target, int failing, int err,
                     uint64_t errors);
    void *on_state_data;
} iw_notify_cfg_t;

/* Indexes of iw_notify_cfg_t.shared. */
enum { IW_NS_QUEUED, IW_NS_SENT, IW_NS_DROPPED, IW_NS_SEND_ERRORS,
       IW_NS_DEPTH,             /* +1 queued, -1 taken off or given up */
       IW_NS_N };

typedef struct iw_notify iw_notify_t;

/* Largest alert a slot holds (bytes of JSON, without framing).  Render
 * alerts with iw_alert_json(a, buf, IW_NOTIFY_MSG_MAX + 1); a longer message
 * is cut at a member boundary and its open objects closed, so it stays
 * valid JSON (counted in stats.truncated). */
#define IW_NOTIFY_MSG_MAX 8192

/* Parse/validate a target string; returns NULL when fine, else an error
 * text allocated from p. */
const char *iw_notify_check_target(apr_pool_t *p, const char *target);

iw_notify_t *iw_notify_create(apr_pool_t *p, const iw_notify_cfg_t *cfg,
                              const char **err);
/* Start the sender thread (in httpd: child_init). */
apr_status_t iw_notify_start(iw_notify_t *n);
/* Queue one alert (the JSON text); never blocks on I/O.  Returns 0 when
 * queued, -1 when dropped (queue full or message too large: truncated
 * messages are still sent, see iw_notify.c). */
int iw_notify_enqueue(iw_notify_t *n, iw_level_t lvl, apr_time_t t,
                      const char *json, size_t len);
/* The same in place: the next slot's buffer (IW_NOTIFY_MSG_MAX + 1 bytes)
 * to render an alert into, NULL when the queue is full (dropped, counted
 * as iw_notify_enqueue counts it); iw_notify_commit then queues its len
 * (<= IW_NOTIFY_MSG_MAX) bytes.  Every reserved slot must be committed:
 * the sender waits for it. */
char *iw_notify_reserve(iw_notify_t *n, uint64_t *ticket);
void iw_notify_commit(iw_notify_t *n, uint64_t ticket, iw_level_t lvl, apr_time_t t,
                      size_t len);
/* Stop: flush what can be sent within max_wait, then stop the thread. */
void iw_notify_stop(iw_notify_t *n, apr_interval_time_t max_wait);

typedef struct iw_notify_stats {
    uint64_t queued, sent, dropped, send_errors, reconnects;
    uint64_t truncated;     /* queued after cutting to IW_NOTIFY_MSG_MAX */
    uint64_t unsent;        /* still queued when iw_notify_stop gave up */
    uint64_t reports;       /* "N alerts dropped" alerts sent */
} iw_notify_stats_t;
void iw_notify_get_stats(iw_notify_t *n, iw_notify_stats_t *st);

#endif
