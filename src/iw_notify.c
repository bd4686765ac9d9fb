/* SPDX-License-Identifier: Apache-2.0 */
/* iw_notify: bounded per-process alert queue + one sender thread.
 *
 * Producers (request threads) never wait on I/O: the queue is a lock-free
 * bounded ring of fixed slots (one sequence number per slot: a producer
 * claims a position with a CAS, copies the message in, then publishes the
 * slot; the single consumer reads slots in order).  A full ring drops the
 * newest message and counts it.  The sender thread frames each message
 * (RFC 3164 / 5424 / bare JSON), writes it with non-blocking sockets and
 * poll() timeouts, keeps the message while the target is down (reconnect
 * with backoff 100 ms .. 5 s), and after losses sends one "N alerts dropped"
 * alert as soon as a send succeeds again.  iw_notify_stop() bounds how long
 * a stalled peer can delay shutdown.  The thread reports to the caller only
 * through the stats and, once per change between "delivering" and
 * "failing", the optional cfg.on_state callback (the module logs there: it
 * runs in the sender thread, so the request path never waits on it).
 *
 * Target choices: unix:PATH is a datagram socket (the syslog(3) socket);
 * RFC 3164 on unix sockets is the syslog(3) form without hostname.  unix-stream: and
 * tcp:// use RFC 6587 octet counting ("LEN SP MSG").  Host names of udp://
 * and tcp:// targets are resolved once at create time (config time), so the
 * thread never blocks in DNS.  Default format: RFC 3164 for unix: (the
 * syslog socket), RFC 5424 for the others. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include "iw_notify.h"

#define BACKOFF_MIN   apr_time_from_msec(100)
#define BACKOFF_MAX   apr_time_from_sec(5)
#define IDLE_WAIT_MS  500           /* safety net for a missed wake-up */
#define CAS_TRIES     1000          /* producer retries under contention */
#define JSON_DEPTH    32
#define OUT_MAX       (24 + IW_SYSLOG_HDR_MAX + IW_NOTIFY_MSG_MAX)
#define SLOT_BYTES    (IW_NOTIFY_MSG_MAX + 1)   /* a message and the NUL of one written in place */

typedef struct slot {
    _Atomic uint64_t seq;           /* == pos: free; == pos+1: filled */
    iw_level_t lvl;
    apr_time_t t;
    uint32_t len;
} slot_t;

struct iw_notify {
    apr_pool_t *pool;
    /* target */
    iw_target_type_t type;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    iw_format_t format;
    int facility, frame_host;
    char hostname[256], app[49];
    /* ring */
    uint64_t cap;
    slot_t *slots;
    char *data;                     /* cap * SLOT_BYTES, touched lazily */
    _Atomic uint64_t head;          /* next position producers claim */
    uint64_t tail;                  /* next position the sender reads */
    /* stats */
    _Atomic uint64_t queued, sent, dropped, send_errors, reconnects,
                     truncated, unsent, reports;
    _Atomic uint64_t lost;          /* losses not yet reported */
    uint64_t *shared;               /* IW_NS_N server-wide counters, or NULL */
    void (*on_state)(void *, const char *, int, int, uint64_t);
    void *on_state_data;
    char target[256];               /* as configured, for on_state */
    /* thread control */
    apr_thread_t *thread;
    int efd;                        /* eventfd: wake the sender */
    atomic_int sleeping, stopping;
    _Atomic int64_t deadline;
    /* sender state (thread only) */
    int fd, connected, healthy, have_out, out_is_report, ever_connected;
    int stopped;                    /* iw_notify_stop ran (caller's thread) */
    int failing;                    /* on_state told "failing", not yet "recovered" */
    uint64_t fail_errors;           /* errors since it was told */
    int send_errno;                 /* of the last SEND_FAIL */
    long pid;
    apr_time_t next_try;
    apr_interval_time_t backoff;
    size_t out_len, out_off;
    char frame[OUT_MAX], out[OUT_MAX + 24];
};

/* ---- target strings ----------------------------------------------------- */

typedef struct target {
    iw_target_type_t type;
    const char *path;               /* unix */
    const char *host, *port;        /* udp/tcp */
} target_t;

static const char *parse_target(apr_pool_t *p, const char *s, target_t *t)
{
    const char *rest = NULL, *colon;
    char *host;
    long port;
    char *end;

    memset(t, 0, sizeof(*t));
    if (!s || !*s) s = "unix:/dev/log";
    if (!strncmp(s, "unix-stream:", 12)) {
        t->type = IW_TARGET_UNIX_STREAM; t->path = s + 12;
    } else if (!strncmp(s, "unix:", 5)) {
        t->type = IW_TARGET_UNIX_DGRAM; t->path = s + 5;
    } else if (!strncmp(s, "udp://", 6)) {
        t->type = IW_TARGET_UDP; rest = s + 6;
    } else if (!strncmp(s, "tcp://", 6)) {
        t->type = IW_TARGET_TCP; rest = s + 6;
    } else {
        return apr_psprintf(p, "alert target '%s': unknown scheme (use "
                            "unix:PATH, unix-stream:PATH, udp://HOST:PORT or "
                            "tcp://HOST:PORT)", s);
    }
    if (t->path) {
        if (*t->path != '/')
            return apr_psprintf(p, "alert target '%s': the socket path must be "
                                "absolute", s);
        if (strlen(t->path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
            return apr_psprintf(p, "alert target '%s': socket path too long "
                                "(max %d bytes)", s,
                                (int)sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        return NULL;
    }
    if (*rest == '[') {                         /* [v6]:port */
        const char *rb = strchr(rest, ']');
        if (!rb || rb == rest + 1)
            return apr_psprintf(p, "alert target '%s': bad [IPv6] address", s);
        host = apr_pstrndup(p, rest + 1, rb - rest - 1);
        colon = rb[1] == ':' ? rb + 1 : NULL;
        if (rb[1] && !colon)
            return apr_psprintf(p, "alert target '%s': expected ':PORT' after ']'", s);
    } else {
        colon = strrchr(rest, ':');
        host = apr_pstrndup(p, rest, colon ? (size_t)(colon - rest) : strlen(rest));
        if (strchr(host, ':'))
            return apr_psprintf(p, "alert target '%s': write IPv6 addresses "
                                "as [ADDR]:PORT", s);
    }
    if (!*host) return apr_psprintf(p, "alert target '%s': missing host", s);
    if (strpbrk(host, "/?#@ "))
        return apr_psprintf(p, "alert target '%s': bad host '%s'", s, host);
    if (!colon || !colon[1])
        return apr_psprintf(p, "alert target '%s': missing port (HOST:PORT)", s);
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (*end || errno || port < 1 || port > 65535)
        return apr_psprintf(p, "alert target '%s': bad port '%s' (1-65535)", s,
                            colon + 1);
    t->host = host;
    t->port = colon + 1;
    return NULL;
}

const char *iw_notify_check_target(apr_pool_t *p, const char *target)
{
    target_t t;
    return parse_target(p, target, &t);
}

static const char *resolve(apr_pool_t *p, iw_notify_t *n, const target_t *t)
{
    struct addrinfo hints, *res = NULL;
    int rc;

    if (t->path) {
        struct sockaddr_un *un = (struct sockaddr_un *)&n->addr;
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, t->path);          /* length checked */
        n->addrlen = sizeof(*un);
        return NULL;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = t->type == IW_TARGET_TCP ? SOCK_STREAM : SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(t->host, t->port, &hints, &res);
    if (rc || !res)
        return apr_psprintf(p, "alert target %s:%s: cannot resolve host: %s",
                            t->host, t->port, gai_strerror(rc));
    memcpy(&n->addr, res->ai_addr, res->ai_addrlen);
    n->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return NULL;
}

/* ---- create / destroy --------------------------------------------------- */

static apr_status_t notify_cleanup(void *data)
{
    iw_notify_t *n = data;
    iw_notify_stop(n, apr_time_from_msec(500));
    free(n->slots);
    free(n->data);
    n->slots = NULL;
    n->data = NULL;
    return APR_SUCCESS;
}

static void copy_token(char *dst, size_t size, const char *src)
{
    apr_cpystrn(dst, src, size);
}

iw_notify_t *iw_notify_create(apr_pool_t *p, const iw_notify_cfg_t *cfg,
                              const char **err)
{
    iw_notify_t *n;
    target_t t;
    const char *e;
    uint64_t i;
    int qs = cfg && cfg->queue_size > 0 ? cfg->queue_size : 1024;

    *err = NULL;
    if ((e = parse_target(p, cfg ? cfg->target : NULL, &t))) { *err = e; return NULL; }
    if (qs > 1 << 20) {
        *err = apr_psprintf(p, "alert queue size %d too large (max %d)", qs, 1 << 20);
        return NULL;
    }
    n = apr_pcalloc(p, sizeof(*n));
    n->pool = p;
    n->shared = cfg ? cfg->shared : NULL;
    n->on_state = cfg ? cfg->on_state : NULL;
    n->on_state_data = cfg ? cfg->on_state_data : NULL;
    copy_token(n->target, sizeof(n->target),
               cfg->target && *cfg->target ? cfg->target : "unix:/dev/log");
    n->type = t.type;
    if ((e = resolve(p, n, &t))) { *err = e; return NULL; }
    n->format = cfg && cfg->format ? cfg->format
              : (t.type == IW_TARGET_UNIX_DGRAM ? IW_FORMAT_RFC3164
                                                : IW_FORMAT_RFC5424);
    /* 0 (kern) is the kernel's own; it doubles as "unset" -> local0 */
    n->facility = cfg && cfg->facility > 0 && cfg->facility <= 23 ? cfg->facility : 16;
    /* RFC 3164 on a local socket: the syslog(3) form without hostname */
    n->frame_host = !(t.path && n->format == IW_FORMAT_RFC3164);
    if (cfg && cfg->hostname) copy_token(n->hostname, sizeof(n->hostname), cfg->hostname);
    else if (gethostname(n->hostname, sizeof(n->hostname) - 1) != 0)
        strcpy(n->hostname, "-");
    copy_token(n->app, sizeof(n->app), cfg && cfg->app_name ? cfg->app_name : "iocwatch");
    n->cap = (uint64_t)qs;
    /* meta in one small array; message bytes separately so untouched slots
     * cost no memory (large malloc = fresh zero pages) */
    n->slots = calloc(n->cap, sizeof(slot_t));
    n->data = malloc(n->cap * SLOT_BYTES);
    if (!n->slots || !n->data) {
        free(n->slots);
        free(n->data);
        *err = apr_psprintf(p, "alert queue: out of memory for %d slots", qs);
        return NULL;
    }
    for (i = 0; i < n->cap; i++) atomic_init(&n->slots[i].seq, i);
    n->efd = -1;
    n->fd = -1;
    apr_pool_cleanup_register(p, n, notify_cleanup, apr_pool_cleanup_null);
    return n;
}

/* ---- producer side ------------------------------------------------------ */

/* Cut JSON text to at most max bytes and keep it valid: end after the last
 * complete value (or an opening bracket) from which the still-open
 * containers can be closed within max.  Writes to dst, returns the length.
 * Text that is not JSON is cut at a UTF-8 boundary. */
static size_t json_cut(const char *s, size_t len, size_t max, char *dst)
{
    char stack[JSON_DEPTH], best_stack[JSON_DEPTH];
    unsigned char key[JSON_DEPTH];  /* object level expects a key next */
    int depth = 0, best_depth = -1, scalar = 0;
    size_t i, best = 0, k;

    for (i = 0; i < len && i <= max; i++) {
        char c = s[i];
        size_t safe = 0;
        int is_safe = 0;

        if (scalar && (c == ',' || c == '}' || c == ']' || c == ' ' ||
                       c == '\n' || c == '\t' || c == '\r')) {
            scalar = 0;
            if (depth > 0 && i + depth <= max) { safe = i; is_safe = 1; }
        }
        if (is_safe) {
            best = safe; best_depth = depth;
            memcpy(best_stack, stack, depth);
        }
        if (scalar) continue;
        if (c == '"') {
            int was_key = depth > 0 && stack[depth - 1] == '}' && key[depth - 1];
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\') i++;
            if (i >= len) break;
            if (depth > 0 && stack[depth - 1] == '}') key[depth - 1] = 0;
            if (!was_key && depth > 0 && i + 1 + depth <= max) {
                best = i + 1; best_depth = depth;
                memcpy(best_stack, stack, depth);
            }
        } else if (c == '{' || c == '[') {
            if (depth == JSON_DEPTH) break;
            stack[depth] = c == '{' ? '}' : ']';
            key[depth++] = c == '{';
            if (i + 1 + depth <= max) {
                best = i + 1; best_depth = depth;
                memcpy(best_stack, stack, depth);
            }
        } else if (c == '}' || c == ']') {
            if (depth == 0) break;
            depth--;
            if (depth > 0 && i + 1 + depth <= max) {
                best = i + 1; best_depth = depth;
                memcpy(best_stack, stack, depth);
            }
        } else if (c == ',') {
            if (depth > 0 && stack[depth - 1] == '}') key[depth - 1] = 1;
        } else if (c == ':' || c == ' ' || c == '\n' || c == '\t' || c == '\r') {
            /* separators */
        } else {
            scalar = 1;     /* number, true, false, null */
        }
    }
    if (best_depth < 0) {           /* not JSON: plain cut */
        k = max;
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
        memcpy(dst, s, k);
        return k;
    }
    memcpy(dst, s, best);
    for (k = best_depth; k > 0; k--) dst[best++] = best_stack[k - 1];
    return best;
}

static void wake(iw_notify_t *n)
{
    uint64_t one = 1;
    if (n->efd >= 0 && write(n->efd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is already non-zero, the sender will wake */
    }
}

/* The server-wide copy of a counter (iw_notify_cfg_t.shared). */
static void shared_add(iw_notify_t *n, int k, uint64_t v)
{
    if (n->shared) __atomic_fetch_add(&n->shared[k], v, __ATOMIC_RELAXED);
}

/* Claim the next slot (its index in *pos); NULL when the queue is full
 * (counted as dropped). */
static char *slot_claim(iw_notify_t *n, uint64_t *posp)
{
    uint64_t pos, seq;
    slot_t *sl = NULL;
    int tries;

    pos = atomic_load_explicit(&n->head, memory_order_relaxed);
    for (tries = 0; tries < CAS_TRIES; tries++) {
        sl = &n->slots[pos % n->cap];
        seq = atomic_load_explicit(&sl->seq, memory_order_acquire);
        if (seq == pos) {
            if (atomic_compare_exchange_weak_explicit(&n->head, &pos, pos + 1,
                    memory_order_relaxed, memory_order_relaxed)) break;
        } else if ((int64_t)(seq - pos) < 0) {
            tries = CAS_TRIES;      /* full: the sender has not freed it */
            break;
        } else {
            pos = atomic_load_explicit(&n->head, memory_order_relaxed);
        }
    }
    if (tries >= CAS_TRIES) {
        atomic_fetch_add(&n->dropped, 1);
        atomic_fetch_add(&n->lost, 1);
        shared_add(n, IW_NS_DROPPED, 1);
        return NULL;
    }
    *posp = pos;
    return n->data + (pos % n->cap) * SLOT_BYTES;
}

/* Publish the claimed slot pos holding len bytes. */
static void slot_publish(iw_notify_t *n, uint64_t pos, iw_level_t lvl, apr_time_t t, size_t len)
{
    slot_t *sl = &n->slots[pos % n->cap];

    sl->lvl = lvl;
    sl->t = t;
    sl->len = (uint32_t)len;
    atomic_fetch_add(&n->queued, 1);
    shared_add(n, IW_NS_QUEUED, 1);
    shared_add(n, IW_NS_DEPTH, 1);
    /* seq_cst publish, then seq_cst look at `sleeping`; the sender does the
     * mirror image (set sleeping, re-check the slot): one of the two sees
     * the other, so no wake-up is lost */
    atomic_store_explicit(&sl->seq, pos + 1, memory_order_seq_cst);
    if (atomic_load_explicit(&n->sleeping, memory_order_seq_cst)) wake(n);
}

int iw_notify_enqueue(iw_notify_t *n, iw_level_t lvl, apr_time_t t,
                      const char *json, size_t len)
{
    uint64_t pos;
    char *dst;

    if (!n || !n->slots || !json) return -1;
    if (!(dst = slot_claim(n, &pos))) return -1;
    if (len > IW_NOTIFY_MSG_MAX) {
        len = json_cut(json, len, IW_NOTIFY_MSG_MAX, dst);
        atomic_fetch_add(&n->truncated, 1);
    } else {
        memcpy(dst, json, len);
    }
    slot_publish(n, pos, lvl, t, len);
    return 0;
}

char *iw_notify_reserve(iw_notify_t *n, uint64_t *ticket)
{
    if (!n || !n->slots || !ticket) return NULL;
    return slot_claim(n, ticket);
}

void iw_notify_commit(iw_notify_t *n, uint64_t ticket, iw_level_t lvl, apr_time_t t,
                      size_t len)
{
    slot_publish(n, ticket, lvl, t, len > IW_NOTIFY_MSG_MAX ? IW_NOTIFY_MSG_MAX : len);
}

void iw_notify_get_stats(iw_notify_t *n, iw_notify_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    if (!n) return;
    st->queued = atomic_load(&n->queued);
    st->sent = atomic_load(&n->sent);
    st->dropped = atomic_load(&n->dropped);
    st->send_errors = atomic_load(&n->send_errors);
    st->reconnects = atomic_load(&n->reconnects);
    st->truncated = atomic_load(&n->truncated);
    st->unsent = atomic_load(&n->unsent);
    st->reports = atomic_load(&n->reports);
}

/* ---- sender thread ------------------------------------------------------ */

static int is_stream(const iw_notify_t *n)
{
    return n->type == IW_TARGET_UNIX_STREAM || n->type == IW_TARGET_TCP;
}

/* Milliseconds until `until`, at most cap_ms; 0 when past. */
static int ms_until(apr_time_t until, int cap_ms)
{
    apr_time_t d = until - apr_time_now();
    if (d <= 0) return 0;
    d = (d + 999) / 1000;
    return d < cap_ms ? (int)d : cap_ms;
}

/* The time the thread must be gone by: the stop deadline, else far away. */
static apr_time_t limit_time(iw_notify_t *n)
{
    return atomic_load(&n->stopping) ? atomic_load(&n->deadline)
                                     : apr_time_now() + apr_time_from_sec(3600);
}

static void drain_efd(iw_notify_t *n)
{
    uint64_t v;
    if (read(n->efd, &v, sizeof(v)) < 0) { /* EAGAIN: nothing pending */ }
}

/* Sleep until woken, `until`, or the stop deadline; fd/events: also wake
 * when the socket is ready.  Returns poll's revents for fd. */
static short wait_for(iw_notify_t *n, int fd, short events, apr_time_t until)
{
    struct pollfd pf[2];
    apr_time_t lim = limit_time(n);
    int nf = 1;

    if (lim < until) until = lim;
    pf[0].fd = n->efd; pf[0].events = POLLIN; pf[0].revents = 0;
    if (fd >= 0) {
        pf[1].fd = fd; pf[1].events = events; pf[1].revents = 0;
        nf = 2;
    }
    if (poll(pf, nf, ms_until(until, IDLE_WAIT_MS)) > 0 && (pf[0].revents & POLLIN))
        drain_efd(n);
    return nf == 2 ? pf[1].revents : 0;
}

static void disconnect(iw_notify_t *n)
{
    if (n->fd >= 0) close(n->fd);
    n->fd = -1;
    n->connected = 0;
    n->healthy = 0;
    n->out_off = 0;             /* a stream frame is resent whole */
}

static void schedule_retry(iw_notify_t *n)
{
    n->next_try = apr_time_now() + n->backoff;
    n->backoff = n->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : n->backoff * 2;
}

/* A connect or send error: counted; the first one after a success (or
 * before the first success) is told to on_state. */
static void delivery_failed(iw_notify_t *n, int err)
{
    n->fail_errors++;
    if (n->failing) return;
    n->failing = 1;
    if (n->on_state) n->on_state(n->on_state_data, n->target, 1, err, 0);
}

/* A message went out: the end of a failing stretch is told to on_state. */
static void delivery_ok(iw_notify_t *n)
{
    if (!n->failing) return;
    n->failing = 0;
    if (n->on_state)
        n->on_state(n->on_state_data, n->target, 0, 0, n->fail_errors);
    n->fail_errors = 0;
}

/* Open the socket and connect, non-blocking; a stream connect that is in
 * progress is waited for (bounded by the stop deadline).  Returns 0, or
 * the errno of the failure. */
static int try_connect(iw_notify_t *n)
{
    int fam = ((struct sockaddr *)&n->addr)->sa_family;
    int type = is_stream(n) ? SOCK_STREAM : SOCK_DGRAM;
    int err = 0;
    socklen_t el = sizeof(err);

    n->fd = socket(fam, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (n->fd < 0) return errno ? errno : EIO;
    if (connect(n->fd, (struct sockaddr *)&n->addr, n->addrlen) == 0) goto ok;
    err = errno;
    if (err != EINPROGRESS && err != EAGAIN) goto fail;
    err = ETIMEDOUT;
    if (!(wait_for(n, n->fd, POLLOUT, apr_time_now() + apr_time_from_sec(2)) &
          (POLLOUT | POLLERR | POLLHUP)))
        goto fail;
    if (getsockopt(n->fd, SOL_SOCKET, SO_ERROR, &err, &el)) err = errno;
    if (err) goto fail;
ok:
    n->connected = 1;
    if (n->ever_connected++) atomic_fetch_add(&n->reconnects, 1);
    return 0;
fail:
    close(n->fd);
    n->fd = -1;
    return err ? err : EIO;
}

/* Frame [msg, msg+len) into n->out (with the octet count on streams). */
static void frame(iw_notify_t *n, iw_level_t lvl, apr_time_t t,
                  const char *msg, size_t len)
{
    size_t fl = iw_syslog_frame(n->frame, sizeof(n->frame), n->format,
                                n->facility, lvl, t,
                                n->frame_host ? n->hostname : NULL,
                                n->app, n->pid, msg, len);
    int pl = 0;

    if (is_stream(n)) pl = snprintf(n->out, 24, "%zu ", fl);
    memcpy(n->out + pl, n->frame, fl);
    n->out_len = pl + fl;
    n->out_off = 0;
    n->have_out = 1;
}

/* The "N alerts dropped" alert (medium: losing alerts needs attention). */
static void frame_report(iw_notify_t *n, uint64_t lost)
{
    char ts[64], msg[1024];
    size_t pos;
    apr_time_exp_t x;
    apr_time_t now = apr_time_now();

    apr_time_exp_gmt(&x, now);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             (x.tm_year + 1900) % 10000, (x.tm_mon + 1) % 100, x.tm_mday % 100,
             x.tm_hour % 100, x.tm_min % 100, x.tm_sec % 100,
             (x.tm_usec / 1000) % 1000);
    pos = (size_t)snprintf(msg, sizeof(msg),
        "{\"rule\":{\"id\":\"iocwatch-dropped\",\"name\":\"%llu alerts dropped\","
        "\"ruleset\":\"iocwatch\"},\"@timestamp\":\"%s\",\"message\":\"[medium] "
        "%llu alerts dropped (alert target unreachable or queue full)\",\"event\":{\"kind\":"
        "\"alert\",\"severity\":%d,\"module\":\"iocwatch\",\"dataset\":"
        "\"iocwatch.alert\"},\"log\":{\"level\":\"medium\"},\"host\":{\"name\":",
        (unsigned long long)lost, ts, (unsigned long long)lost,
        iw_level_to_ecs_severity(IW_LEVEL_MEDIUM));
    iw_json_str(msg, sizeof(msg), &pos, n->hostname, strlen(n->hostname), 255);
    pos += (size_t)snprintf(msg + pos, sizeof(msg) - pos,
                            "},\"iocwatch\":{\"dropped\":%llu}}",
                            (unsigned long long)lost);
    frame(n, IW_LEVEL_MEDIUM, now, msg, pos < sizeof(msg) ? pos : sizeof(msg) - 1);
    n->out_is_report = 1;
}

/* Take the next queued message into n->out; 0 when the ring is empty. */
static int take(iw_notify_t *n)
{
    slot_t *sl = &n->slots[n->tail % n->cap];
    if (atomic_load_explicit(&sl->seq, memory_order_seq_cst) != n->tail + 1)
        return 0;
    frame(n, sl->lvl, sl->t, n->data + (n->tail % n->cap) * SLOT_BYTES,
          sl->len);
    n->out_is_report = 0;
    shared_add(n, IW_NS_DEPTH, (uint64_t)-1);
    atomic_store_explicit(&sl->seq, n->tail + n->cap, memory_order_release);
    n->tail++;
    return 1;
}

enum { SEND_DONE, SEND_AGAIN, SEND_FAIL, SEND_BAD };

/* A stream whose peer has closed (collector restarted) still accepts the
 * next write locally over TCP and loses it; notice the close first. */
static int peer_closed(iw_notify_t *n)
{
    struct pollfd pf = { n->fd, POLLRDHUP, 0 };
    if (!is_stream(n) || n->out_off > 0) return 0;
    return poll(&pf, 1, 0) > 0 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static int send_out(iw_notify_t *n)
{
    while (n->out_off < n->out_len) {
        ssize_t w = send(n->fd, n->out + n->out_off, n->out_len - n->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
                return SEND_AGAIN;
            if (errno == EMSGSIZE) return SEND_BAD;
            n->send_errno = errno;
            return SEND_FAIL;
        }
        if (!is_stream(n)) break;   /* a datagram goes whole or not at all */
        n->out_off += (size_t)w;
    }
    return SEND_DONE;
}

static void sent_ok(iw_notify_t *n)
{
    if (n->out_is_report) atomic_fetch_add(&n->reports, 1);
    else {
        atomic_fetch_add(&n->sent, 1);
        shared_add(n, IW_NS_SENT, 1);
    }
    n->have_out = 0;
    n->healthy = 1;
    n->backoff = BACKOFF_MIN;
    delivery_ok(n);
}

/* One step of the sender; returns 0 when the thread should end. */
static int step(iw_notify_t *n)
{
    int stopping = atomic_load(&n->stopping);
    uint64_t lost;

    if (stopping && apr_time_now() >= atomic_load(&n->deadline)) return 0;
    if (!n->have_out) {
        if (n->healthy && (lost = atomic_exchange(&n->lost, 0)) > 0)
            frame_report(n, lost);
        else if (!take(n)) {
            if (stopping) return 0;
            atomic_store(&n->sleeping, 1);
            if (!take(n)) wait_for(n, -1, 0, apr_time_now() +
                                   apr_time_from_msec(IDLE_WAIT_MS));
            atomic_store(&n->sleeping, 0);
            return 1;
        }
    }
    if (!n->connected) {
        if (apr_time_now() < n->next_try) {
            wait_for(n, -1, 0, n->next_try);
            return 1;
        }
        int err = try_connect(n);
        if (err) {
            delivery_failed(n, err);
            schedule_retry(n);
            return 1;
        }
    }
    if (peer_closed(n)) {           /* reconnect at once, nothing lost */
        disconnect(n);
        return 1;
    }
    switch (send_out(n)) {
    case SEND_DONE:
        sent_ok(n);
        break;
    case SEND_AGAIN:
        wait_for(n, n->fd, POLLOUT, apr_time_now() + apr_time_from_msec(IDLE_WAIT_MS));
        break;
    case SEND_BAD:                  /* this message can never go: drop it */
        atomic_fetch_add(&n->send_errors, 1);
        shared_add(n, IW_NS_SEND_ERRORS, 1);
        if (!n->out_is_report) {
            atomic_fetch_add(&n->lost, 1);
            shared_add(n, IW_NS_DROPPED, 1);
        }
        n->have_out = 0;
        break;
    default:
        atomic_fetch_add(&n->send_errors, 1);
        shared_add(n, IW_NS_SEND_ERRORS, 1);
        delivery_failed(n, n->send_errno);
        disconnect(n);
        schedule_retry(n);
        break;
    }
    return 1;
}

static void *APR_THREAD_FUNC sender_main(apr_thread_t *th, void *data)
{
    iw_notify_t *n = data;
    while (step(n)) { }
    disconnect(n);
    return NULL;    /* not apr_thread_exit: pthread_exit unwinding upsets ASan */
}

apr_status_t iw_notify_start(iw_notify_t *n)
{
    apr_threadattr_t *attr;
    apr_status_t rv;

    if (!n || !n->slots) return APR_EINVAL;
    if (n->thread) return APR_SUCCESS;
    n->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (n->efd < 0) return APR_FROM_OS_ERROR(errno);
    n->pid = (long)getpid();
    n->backoff = BACKOFF_MIN;
    n->next_try = 0;
    atomic_store(&n->stopping, 0);
    if ((rv = apr_threadattr_create(&attr, n->pool)) != APR_SUCCESS ||
        (rv = apr_thread_create(&n->thread, attr, sender_main, n, n->pool))
            != APR_SUCCESS) {
        close(n->efd);
        n->efd = -1;
        n->thread = NULL;
        return rv;
    }
    return APR_SUCCESS;
}

void iw_notify_stop(iw_notify_t *n, apr_interval_time_t max_wait)
{
    apr_status_t trv;
    uint64_t left;

    if (!n || !n->slots || n->stopped) return;
    n->stopped = 1;
    if (n->thread) {
        atomic_store(&n->deadline, apr_time_now() + (max_wait > 0 ? max_wait : 0));
        atomic_store(&n->stopping, 1);
        wake(n);
        apr_thread_join(&trv, n->thread);
        n->thread = NULL;
        close(n->efd);
        n->efd = -1;
    }
    /* what is still queued (and a frame half-way out) was not sent; later
     * alerts are queued but never sent (the queue just fills up) */
    left = atomic_load(&n->head) - n->tail;
    shared_add(n, IW_NS_DEPTH, (uint64_t)0 - left);   /* never taken off */
    if (n->have_out && !n->out_is_report) left++;
    atomic_fetch_add(&n->unsent, left);
    n->have_out = 0;
}
