/* SPDX-License-Identifier: Apache-2.0 */
/* Alert queue + sender over REAL sockets (unix dgram/stream, udp, tcp on
 * 127.0.0.1): order, framing, octet counting, drops while the target is
 * missing or stalled, the "N alerts dropped" report, bounded stop. */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include "iw_test.h"
#include "iw_notify.h"

int iw_test_json_valid(const char *s, size_t len);   /* test_alert.c */

/* Enqueue must never block on I/O.  A call over 5 ms can only be the
 * scheduler preempting us on a loaded machine (a CI machine's 2 CPUs shared
 * with httpd children and a sender thread), so allow some of those but not
 * a pattern (a blocking enqueue would wait on the stalled target for every
 * call, for as long as the target stalls: seconds, not one time slice). */
#define ENQ_SLOW_USEC 5000
#define ENQ_WORST_USEC 1000000

typedef struct enq_timing { apr_interval_time_t worst; int calls, slow; } enq_timing_t;

static int enq_ok(const enq_timing_t *t)
{
    return t->worst < ENQ_WORST_USEC && t->slow <= 2 + t->calls / 20;
}

static const char *tmpdir(apr_pool_t *p)
{
    char *d = apr_pstrdup(p, "/tmp/iw-notify-XXXXXX");
    return mkdtemp(d);
}

static int unix_listen(const char *path, int type)
{
    struct sockaddr_un un;
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    strcpy(un.sun_path, path);
    unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof(un)) != 0 ||
        (type == SOCK_STREAM && listen(fd, 4) != 0)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

/* A JSON queue of `slots` slots, not started, aimed at a datagram socket
 * `name` listening in `dir`: the setup the queue tests share.  NULL (and
 * *fd -1) when either fails; *path is the socket's path, to unlink. */
static iw_notify_t *json_queue(apr_pool_t *p, const char *dir, const char *name, int slots,
                               const char **path, int *fd)
{
    iw_notify_cfg_t cfg;
    iw_notify_t *n;
    const char *err = NULL;

    *path = apr_pstrcat(p, dir, "/", name, NULL);
    if ((*fd = unix_listen(*path, SOCK_DGRAM)) < 0) return NULL;
    memset(&cfg, 0, sizeof(cfg));
    cfg.target = apr_pstrcat(p, "unix:", *path, NULL);
    cfg.format = IW_FORMAT_JSON;
    cfg.queue_size = slots;
    n = iw_notify_create(p, &cfg, &err);
    if (!n || err) {
        close(*fd);
        *fd = -1;
        return NULL;
    }
    return n;
}

/* Bind 127.0.0.1 / ::1 on an ephemeral port; *port gets it. */
static int inet_listen(int fam, int type, int *port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int one = 1, fd = socket(fam, type | SOCK_CLOEXEC, 0);

    memset(&ss, 0, sizeof(ss));
    if (fam == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        sl = sizeof(*in6);
    }
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
        (type == SOCK_STREAM && listen(fd, 4) != 0) ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(fam == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                 : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

/* One datagram within ms; returns its length or -1. */
static ssize_t recv_dgram(int fd, char *buf, size_t size, int ms)
{
    struct pollfd pf = { fd, POLLIN, 0 };
    ssize_t r;
    if (poll(&pf, 1, ms) <= 0) return -1;
    r = recv(fd, buf, size - 1, 0);
    if (r >= 0) buf[r] = '\0';
    return r;
}

static int accept_within(int lfd, int ms)
{
    struct pollfd pf = { lfd, POLLIN, 0 };
    if (poll(&pf, 1, ms) <= 0) return -1;
    return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* Read a stream until `want` octet-counted frames are complete or ms pass
 * without data; frames are NUL-separated into out.  Returns the number of
 * complete frames; *bad counts framing errors. */
typedef struct frames {
    char *buf; size_t len, cap;
    int n, bad;
    const char *msg[4096]; size_t mlen[4096];
} frames_t;

static void frames_parse(frames_t *f)
{
    size_t pos = 0;
    f->n = 0;
    while (pos < f->len && f->n < 4096) {
        size_t l = 0, q = pos;
        while (q < f->len && f->buf[q] >= '0' && f->buf[q] <= '9') l = l * 10 + (f->buf[q++] - '0');
        if (q >= f->len) break;
        if (q == pos || f->buf[q] != ' ' || f->buf[pos] == '0') { f->bad++; break; }
        if (q + 1 + l > f->len) break;          /* incomplete last frame */
        f->msg[f->n] = f->buf + q + 1;
        f->mlen[f->n++] = l;
        pos = q + 1 + l;
    }
}

static int read_frames(int fd, frames_t *f, int want, int ms)
{
    struct pollfd pf = { fd, POLLIN, 0 };
    for (;;) {
        ssize_t r;
        frames_parse(f);
        if (f->n >= want || f->bad) return f->n;
        if (poll(&pf, 1, ms) <= 0) return f->n;
        if (f->len + 65536 > f->cap) {
            f->cap = f->cap * 2 + 65536;
            f->buf = realloc(f->buf, f->cap);
            if (!f->buf) abort();
        }
        r = recv(fd, f->buf + f->len, f->cap - f->len, 0);
        if (r <= 0) { frames_parse(f); return f->n; }
        f->len += (size_t)r;
    }
}

static int enqueue_timed(iw_notify_t *n, iw_level_t lvl, const char *m,
                         size_t len, enq_timing_t *tm)
{
    apr_time_t t0 = apr_time_now();
    int rc = iw_notify_enqueue(n, lvl, t0, m, len);
    apr_interval_time_t d = apr_time_now() - t0;
    if (d > tm->worst) tm->worst = d;
    tm->calls++;
    if (d > ENQ_SLOW_USEC) tm->slow++;
    return rc;
}

/* ---- tests --------------------------------------------------------------- */

TEST(notify_check_target)
{
    static const char *ok[] = { "unix:/dev/log", "unix-stream:/run/x.sock",
        "udp://127.0.0.1:514", "tcp://[::1]:6514", "udp://logs.example.com:514",
        "tcp://h:65535" };
    static const struct { const char *t, *msg; } bad[] = {
        { "syslog://x:1", "unknown scheme" }, { "/dev/log", "unknown scheme" },
        { "unix:dev/log", "must be absolute" }, { "unix:", "must be absolute" },
        { "tcp://host", "missing port" }, { "tcp://host:", "missing port" },
        { "tcp://host:0", "bad port '0'" }, { "udp://h:99999", "bad port" },
        { "udp://h:5x", "bad port" }, { "udp://:514", "missing host" },
        { "tcp://::1:514", "[ADDR]:PORT" }, { "tcp://[::1]", "missing port" },
        { "tcp://[::1]x", "expected ':PORT'" }, { "tcp://[]:1", "bad [IPv6]" },
        { "tcp://a/b:1", "bad host" },
    };
    char longp[200];
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        CHECK_STR(iw_notify_check_target(p, ok[i]) ? ok[i] : "ok", "ok");
    CHECK(iw_notify_check_target(p, NULL) == NULL);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *e = iw_notify_check_target(p, bad[i].t);
        CHECK_CONTAINS(e, bad[i].msg);
        CHECK_CONTAINS(e, bad[i].t);        /* names the offending target */
    }
    memset(longp, 'a', sizeof(longp));
    memcpy(longp, "unix:/", 6);
    longp[sizeof(longp) - 1] = '\0';
    CHECK_CONTAINS(iw_notify_check_target(p, longp), "too long");
}

TEST(notify_unix_dgram_order_and_framing)
{
    const char *dir = tmpdir(p), *path;
    iw_notify_cfg_t cfg;
    iw_notify_t *n;
    iw_notify_stats_t st;
    const char *err;
    char buf[16384], msg[64], mon[4], body[64];
    int fd, i, fmt;

    REQUIRE(dir);
    path = apr_pstrcat(p, dir, "/log.sock", NULL);
    fd = unix_listen(path, SOCK_DGRAM);
    REQUIRE(fd >= 0);
    for (fmt = 0; fmt < 3; fmt++) {
        memset(&cfg, 0, sizeof(cfg));
        cfg.target = apr_pstrcat(p, "unix:", path, NULL);
        cfg.facility = fmt == 1 ? 23 : 0;   /* 0 = default local0 */
        cfg.format = fmt == 0 ? 0 : fmt == 1 ? IW_FORMAT_RFC5424 : IW_FORMAT_JSON;
        cfg.hostname = "web1";
        n = iw_notify_create(p, &cfg, &err);
        REQUIRE(n && !err);
        REQUIRE(iw_notify_start(n) == APR_SUCCESS);
        for (i = 0; i < 50; i++) {
            int len = snprintf(msg, sizeof(msg), "{\"n\":%d}", i);
            CHECK_INT(iw_notify_enqueue(n, (iw_level_t)(1 + i % 5), apr_time_now(),
                                        msg, (size_t)len), 0);
        }
        for (i = 0; i < 50; i++) {
            int pri = -1, dd, hh, mm, ss, pid = -1, k = 0;
            int sev = iw_level_to_severity((iw_level_t)(1 + i % 5));
            ssize_t r = recv_dgram(fd, buf, sizeof(buf), 2000);
            REQUIRE(r > 0);
            snprintf(msg, sizeof(msg), "{\"n\":%d}", i);
            if (fmt == 0) {         /* syslog(3) form: no hostname */
                k = sscanf(buf, "<%d>%3s %d %d:%d:%d iocwatch[%d]: %63s", &pri,
                           mon, &dd, &hh, &mm, &ss, &pid, body);
                CHECK_INT(k, 8);
                CHECK_INT(pri, 16 * 8 + sev);
                CHECK(buf[strlen(buf) - strlen(msg) - 2] == ':');
            } else if (fmt == 1) {
                char ts[40], host[64], app[16];
                k = sscanf(buf, "<%d>1 %39s %63s %15s %d - - %63s", &pri, ts, host,
                           app, &pid, body);
                CHECK_INT(k, 6);
                CHECK_INT(pri, 23 * 8 + sev);
                CHECK_STR(host, "web1");
                CHECK_STR(app, "iocwatch");
                CHECK(strlen(ts) == 24 && ts[23] == 'Z' && ts[10] == 'T');
            } else {
                strcpy(body, buf);
                pid = (int)getpid();
            }
            CHECK_INT(pid, getpid());
            CHECK_STR(body, msg);
        }
        CHECK(recv_dgram(fd, buf, sizeof(buf), 50) < 0);    /* exactly 50 */
        iw_notify_stop(n, apr_time_from_sec(1));
        iw_notify_get_stats(n, &st);
        CHECK_INT(st.queued, 50);
        CHECK_INT(st.sent, 50);
        CHECK_INT(st.dropped, 0);
        CHECK_INT(st.unsent, 0);
        CHECK_INT(st.reports, 0);
    }
    close(fd);
    unlink(path);
    rmdir(dir);
}

/* iw_notify_reserve + iw_notify_commit (an alert rendered in place) queue
 * in order with iw_notify_enqueue; a full queue gives no slot, counted as
 * dropped like a refused enqueue. */
TEST(notify_reserve_commit_in_place)
{
    const char *dir = tmpdir(p), *path;
    iw_notify_t *n;
    iw_notify_stats_t st;
    char buf[16384], msg[64], *slot;
    uint64_t ticket;
    int fd, i, len;

    REQUIRE(dir);
    n = json_queue(p, dir, "log.sock", 4, &path, &fd);
    REQUIRE(n);
    for (i = 0; i < 4; i++) {           /* not started: the queue fills */
        len = snprintf(msg, sizeof(msg), "{\"n\":%d}", i);
        if (i % 2) {
            CHECK_INT(iw_notify_enqueue(n, IW_LEVEL_HIGH, apr_time_now(), msg, (size_t)len), 0);
            continue;
        }
        slot = iw_notify_reserve(n, &ticket);
        REQUIRE(slot != NULL);
        memcpy(slot, msg, (size_t)len + 1);
        iw_notify_commit(n, ticket, IW_LEVEL_HIGH, apr_time_now(), (size_t)len);
    }
    CHECK(iw_notify_reserve(n, &ticket) == NULL);
    REQUIRE(iw_notify_start(n) == APR_SUCCESS);
    for (i = 0; i < 4; ) {              /* the "1 alerts dropped" report aside */
        ssize_t r = recv_dgram(fd, buf, sizeof(buf), 2000);
        REQUIRE(r > 0);
        if (strstr(buf, "iocwatch-dropped")) continue;
        snprintf(msg, sizeof(msg), "{\"n\":%d}", i++);
        CHECK_STR(buf, msg);
    }
    iw_notify_stop(n, apr_time_from_sec(1));
    iw_notify_get_stats(n, &st);
    CHECK_INT(st.queued, 4);
    CHECK_INT(st.sent, 4);
    CHECK_INT(st.dropped, 1);
    CHECK_INT(st.reports, 1);
    close(fd);
    unlink(path);
    rmdir(dir);
}

/* tcp:// and unix-stream: carry RFC 6587 octet-counted frames. */
static void stream_case(apr_pool_t *p, int *iw_failed_, const char *target,
                        int lfd)
{
    iw_notify_cfg_t cfg;
    iw_notify_t *n;
    iw_notify_stats_t st;
    const char *err;
    frames_t *f = calloc(1, sizeof(*f));
    char *msg = malloc(6000);
    int cfd, i;

    REQUIRE(f && msg);
    memset(&cfg, 0, sizeof(cfg));
    cfg.target = target;
    cfg.hostname = "web 1";                 /* sanitised in the header */
    n = iw_notify_create(p, &cfg, &err);
    REQUIRE(n && !err);
    REQUIRE(iw_notify_start(n) == APR_SUCCESS);
    for (i = 0; i < 30; i++) {
        int len = snprintf(msg, 6000, "{\"n\":%d,\"pad\":\"%0*d\"}", i, i * 150, 0);
        CHECK_INT(iw_notify_enqueue(n, IW_LEVEL_HIGH, apr_time_now(), msg,
                                    (size_t)len), 0);
    }
    cfd = accept_within(lfd, 2000);
    REQUIRE(cfd >= 0);
    CHECK_INT(read_frames(cfd, f, 30, 2000), 30);
    CHECK_INT(f->bad, 0);
    for (i = 0; i < f->n && i < 30; i++) {
        int len = snprintf(msg, 6000, "{\"n\":%d,\"pad\":\"%0*d\"}", i, i * 150, 0);
        char hdr[128];
        int hl = snprintf(hdr, sizeof(hdr), "<131>1 ");
        CHECK(!strncmp(f->msg[i], hdr, (size_t)hl));
        CHECK(f->mlen[i] > (size_t)len &&
              !memcmp(f->msg[i] + f->mlen[i] - len, msg, (size_t)len));
        CHECK(memmem(f->msg[i], f->mlen[i], "Z web_1 iocwatch ", 17) != NULL);
    }
    iw_notify_stop(n, apr_time_from_sec(1));
    iw_notify_get_stats(n, &st);
    CHECK_INT(st.sent, 30);
    CHECK_INT(st.send_errors, 0);
    close(cfd);
    free(f->buf);
    free(f);
    free(msg);
}

TEST(notify_stream_octet_counting)
{
    const char *dir = tmpdir(p), *path;
    int lfd, port;

    REQUIRE(dir);
    lfd = inet_listen(AF_INET, SOCK_STREAM, &port);
    REQUIRE(lfd >= 0);
    stream_case(p, iw_failed_, apr_psprintf(p, "tcp://127.0.0.1:%d", port), lfd);
    close(lfd);
    path = apr_pstrcat(p, dir, "/stream.sock", NULL);
    lfd = unix_listen(path, SOCK_STREAM);
    REQUIRE(lfd >= 0);
    stream_case(p, iw_failed_, apr_pstrcat(p, "unix-stream:", path, NULL), lfd);
    close(lfd);
    unlink(path);
    rmdir(dir);
}

TEST(notify_udp_v4_v6)
{
    int fam, port;
    char buf[4096];
    for (fam = 0; fam < 2; fam++) {
        iw_notify_cfg_t cfg;
        iw_notify_t *n;
        const char *err;
        int fd = inet_listen(fam ? AF_INET6 : AF_INET, SOCK_DGRAM, &port);
        if (fd < 0 && fam) continue;        /* no IPv6 loopback here */
        REQUIRE(fd >= 0);
        memset(&cfg, 0, sizeof(cfg));
        cfg.target = apr_psprintf(p, fam ? "udp://[::1]:%d" : "udp://127.0.0.1:%d", port);
        cfg.format = IW_FORMAT_RFC3164;
        cfg.hostname = "web1";
        cfg.facility = iw_facility_parse("local3");
        n = iw_notify_create(p, &cfg, &err);
        REQUIRE(n && !err);
        REQUIRE(iw_notify_start(n) == APR_SUCCESS);
        CHECK_INT(iw_notify_enqueue(n, IW_LEVEL_CRITICAL, apr_time_now(), "{}", 2), 0);
        CHECK(recv_dgram(fd, buf, sizeof(buf), 2000) > 0);
        CHECK(!strncmp(buf, "<154>", 5));                   /* local3.crit */
        CHECK_CONTAINS(buf, " web1 iocwatch[");             /* remote: hostname */
        CHECK_INT(strcmp(buf + strlen(buf) - 4, ": {}"), 0);
        iw_notify_stop(n, apr_time_from_sec(1));
        close(fd);
    }
}

/* Target missing: the queue fills and drops (enqueue stays fast); when the
 * socket appears everything queued arrives in order plus one "N alerts
 * dropped" alert with the exact N. */
TEST(notify_missing_target_then_recovery)
{
    const char *dir = tmpdir(p), *path;
    iw_notify_cfg_t cfg;
    iw_notify_t *n;
    iw_notify_stats_t st;
    const char *err;
    char buf[16384], msg[64], want[64];
    enq_timing_t tm = { 0, 0, 0 };
    int fd, i, got = 0, reports = 0, produced = 200, last_n = -1;

    REQUIRE(dir);
    path = apr_pstrcat(p, dir, "/late.sock", NULL);
    memset(&cfg, 0, sizeof(cfg));
    cfg.target = apr_pstrcat(p, "unix:", path, NULL);
    cfg.format = IW_FORMAT_JSON;
    cfg.queue_size = 8;
    n = iw_notify_create(p, &cfg, &err);
    REQUIRE(n && !err);
    REQUIRE(iw_notify_start(n) == APR_SUCCESS);
    for (i = 0; i < produced; i++) {
        int len = snprintf(msg, sizeof(msg), "{\"n\":%d}", i);
        enqueue_timed(n, IW_LEVEL_HIGH, msg, (size_t)len, &tm);
        if (i == 100) apr_sleep(apr_time_from_msec(150));   /* let it retry */
    }
    CHECK(enq_ok(&tm));
    iw_notify_get_stats(n, &st);
    CHECK_INT(st.queued + st.dropped, produced);
    CHECK(st.dropped >= (uint64_t)produced - 9);    /* 8 slots + 1 in hand */
    CHECK_INT(st.sent, 0);

    fd = unix_listen(path, SOCK_DGRAM);
    REQUIRE(fd >= 0);
    while (recv_dgram(fd, buf, sizeof(buf), 3000) > 0) {
        REQUIRE(iw_test_json_valid(buf, strlen(buf)));
        if (strstr(buf, "\"id\":\"iocwatch-dropped\"")) {
            reports++;
            snprintf(want, sizeof(want), "\"name\":\"%llu alerts dropped\"",
                     (unsigned long long)st.dropped);
            CHECK_CONTAINS(buf, want);
            snprintf(want, sizeof(want), "\"iocwatch\":{\"dropped\":%llu}",
                     (unsigned long long)st.dropped);
            CHECK_CONTAINS(buf, want);
            CHECK_INT(got, 1);      /* right after the first send succeeded */
        } else {
            int k = -1;
            CHECK_INT(sscanf(buf, "{\"n\":%d}", &k), 1);
            CHECK(k > last_n);      /* in order */
            last_n = k;
            got++;
        }
        if (got == (int)st.queued && reports) break;
    }
    CHECK_INT(got, st.queued);
    CHECK_INT(reports, 1);
    iw_notify_stop(n, apr_time_from_sec(1));
    iw_notify_get_stats(n, &st);
    CHECK_INT(st.sent, got);
    CHECK_INT(st.reports, 1);
    CHECK_INT(st.unsent, 0);
    CHECK(st.send_errors == 0 && st.reconnects == 0);   /* connect failed, no send */
    close(fd);
    unlink(path);
    rmdir(dir);
}

/* Whether the sender gets past `done` frames (sent and reports) within
 * ms milliseconds. */
#define STALL_MS 1000
static int wait_progress(iw_notify_t *n, uint64_t done, int ms)
{
    iw_notify_stats_t st;
    apr_time_t end = apr_time_now() + apr_time_from_msec(ms);
    do {
        iw_notify_get_stats(n, &st);
        if (st.sent + st.reports > done) return 1;
        apr_sleep(apr_time_from_msec(1));
    } while (apr_time_now() < end);
    return 0;
}

/* A stream peer that accepts and never reads: the kernel buffer fills, then
 * the queue; every alert is accounted for exactly and stop() keeps its
 * bound. */
TEST(notify_stalled_stream_peer)
{
    const char *dir = tmpdir(p), *path;
    iw_notify_cfg_t cfg;
    iw_notify_t *n;
    iw_notify_stats_t st;
    const char *err;
    frames_t *f = calloc(1, sizeof(*f));
    char msg[1100];
    enq_timing_t tm = { 0, 0, 0 };
    apr_time_t t0, took;
    int lfd, cfd, i, produced = 0, stalled = 0;

    REQUIRE(dir && f);
    path = apr_pstrcat(p, dir, "/stall.sock", NULL);
    lfd = unix_listen(path, SOCK_STREAM);
    REQUIRE(lfd >= 0);
    memset(&cfg, 0, sizeof(cfg));
    cfg.target = apr_pstrcat(p, "unix-stream:", path, NULL);
    cfg.format = IW_FORMAT_JSON;
    cfg.queue_size = 16;
    n = iw_notify_create(p, &cfg, &err);
    REQUIRE(n && !err);
    REQUIRE(iw_notify_start(n) == APR_SUCCESS);
    memset(msg, 'x', sizeof(msg));
    /* Produce until the sender is stuck on the full socket, whatever the
     * scheduling: an alert that finds the queue full (dropped) waits for
     * the sender to make progress; none within STALL_MS is the stall (the
     * peer reads nothing; the one assumption left: a runnable sender gets
     * the CPU within STALL_MS).  3,000 alerts with a pause every 500 were
     * not enough: the sender drains the queue (16) in each of the 6
     * pauses, 96 frames queued, of which a 208 KiB unix-socket buffer
     * takes ~90: 6 left unsent, and none when the sender missed a pause
     * under load (it then sent all it had). */
    for (i = 0; i < 100000 && (!stalled || i < 3000); i++) {
        int len = snprintf(msg, 32, "{\"n\":\"%06d\",\"p\":\"", i);
        msg[len] = 'x';
        memcpy(msg + 1000, "\"}", 2);
        produced++;
        if (enqueue_timed(n, IW_LEVEL_LOW, msg, 1002, &tm) == 0 || stalled) continue;
        iw_notify_get_stats(n, &st);
        stalled = !wait_progress(n, st.sent + st.reports, STALL_MS);
    }
    REQUIRE(stalled);               /* then up to 3,000 alerts in all, dropped */
    CHECK(enq_ok(&tm));
    cfd = accept_within(lfd, 2000);     /* connected long ago (backlog) */
    REQUIRE(cfd >= 0);
    iw_notify_get_stats(n, &st);
    CHECK_INT(st.queued + st.dropped, produced);
    CHECK(st.dropped > 0);
    CHECK(st.sent > 0);             /* the kernel buffer took some */
    t0 = apr_time_now();
    iw_notify_stop(n, apr_time_from_msec(200));
    took = apr_time_now() - t0;
    CHECK(took < apr_time_from_msec(5000));     /* bounded (200 ms + scheduling) */
    iw_notify_get_stats(n, &st);
    CHECK(st.unsent > 0);           /* the peer read nothing: frames were left, and counted */
    CHECK_INT(st.sent + st.unsent, st.queued);
    CHECK_INT(st.queued + st.dropped, produced);
    /* what the peer can read: exactly the sent frames (+ a partial one);
     * drops while the stream still took data were reported in-band */
    read_frames(cfd, f, produced, 200);
    CHECK_INT(f->bad, 0);
    CHECK_INT(f->n, st.sent + st.reports);
    {
        uint64_t normal = 0, reported = 0, rep = 0;
        unsigned long long nd;
        for (i = 0; i < f->n; i++) {
            const char *d = memmem(f->msg[i], f->mlen[i], "\"dropped\":", 10);
            CHECK(iw_test_json_valid(f->msg[i], f->mlen[i]));
            if (d && sscanf(d, "\"dropped\":%llu", &nd) == 1) { rep++; reported += nd; }
            else if (f->mlen[i] == 1002) normal++;
            else { fprintf(stderr, "  frame %d: %.*s\n", i, (int)f->mlen[i], f->msg[i]); break; }
        }
        CHECK_INT(normal, st.sent);
        CHECK_INT(rep, st.reports);
        CHECK(reported <= st.dropped);
    }
    close(cfd);
    close(lfd);
    unlink(path);
    rmdir(dir);
    free(f->buf);
    free(f);
}

/* Messages over IW_NOTIFY_MSG_MAX are cut at a member boundary and closed:
 * still valid JSON, whatever the cut point. */
TEST(notify_oversize_json_stays_valid)
{
    const char *dir = tmpdir(p), *path;
    iw_notify_t *n;
    iw_notify_stats_t st;
    char *big = malloc(IW_NOTIFY_MSG_MAX + 400), buf[IW_NOTIFY_MSG_MAX + 64];
    int fd, k, bad = 0, got = 0;
    size_t len;

    REQUIRE(dir && big);
    n = json_queue(p, dir, "big.sock", 16, &path, &fd);
    REQUIRE(n);
    REQUIRE(iw_notify_start(n) == APR_SUCCESS);
    for (k = 0; k < 120; k++) {
        /* nested objects/arrays, escaped quotes, numbers, literals; the
         * shift k moves every cut point across all token kinds */
        len = (size_t)snprintf(big, 64, "{\"rule\":{\"id\":\"x\"},\"a\":[%*s", k % 13, "");
        while (len < IW_NOTIFY_MSG_MAX + 200)
            len += (size_t)snprintf(big + len, 64, "{\"k\":\"v\\\"%d\",\"n\":[1,true,null]},",
                                    (int)len * k);
        memcpy(big + len - 1, "],\"z\":12345}", 12);
        len += 11;
        REQUIRE(iw_test_json_valid(big, len));
        /* a tail cut off the input does not matter: the cut is earlier */
        CHECK_INT(iw_notify_enqueue(n, IW_LEVEL_LOW, apr_time_now(), big,
                                    len - (size_t)(k % 7)), 0);
        if (recv_dgram(fd, buf, sizeof(buf), 2000) <= 0) { bad++; continue; }
        got++;
        if (strlen(buf) > IW_NOTIFY_MSG_MAX || !iw_test_json_valid(buf, strlen(buf)) ||
            strncmp(buf, "{\"rule\":{\"id\":\"x\"},\"a\":[", 24)) {
            if (!bad) fprintf(stderr, "  k=%d: ...%s\n", k, buf + strlen(buf) - 40);
            bad++;
        }
    }
    CHECK_INT(bad, 0);
    CHECK_INT(got, 120);
    iw_notify_stop(n, apr_time_from_sec(1));
    iw_notify_get_stats(n, &st);
    CHECK_INT(st.truncated, 120);
    CHECK_INT(st.sent, 120);
    close(fd);
    unlink(path);
    rmdir(dir);
    free(big);
}

/* Several producer threads at once (the lock-free ring): every message is
 * either received exactly once or counted as dropped, and each producer's
 * messages arrive in its own order. */
typedef struct prod { iw_notify_t *n; int id, count; } prod_t;

static void *APR_THREAD_FUNC producer(apr_thread_t *th, void *data)
{
    prod_t *pr = data;
    char msg[64];
    int i;
    for (i = 0; i < pr->count; i++) {
        int len = snprintf(msg, sizeof(msg), "{\"p\":%d,\"i\":%d}", pr->id, i);
        iw_notify_enqueue(pr->n, IW_LEVEL_LOW, apr_time_now(), msg, (size_t)len);
        if (i % 64 == 63) apr_sleep(200);
    }
    return NULL;
}

TEST(notify_concurrent_producers)
{
    enum { NPROD = 4, EACH = 1500 };
    const char *dir = tmpdir(p), *path;
    iw_notify_t *n;
    iw_notify_stats_t st;
    apr_thread_t *th[NPROD];
    prod_t pr[NPROD];
    int last[NPROD], fd, i, got = 0, order_bad = 0, reports = 0;
    uint64_t reported = 0;
    char buf[4096];

    REQUIRE(dir);
    n = json_queue(p, dir, "mp.sock", 64, &path, &fd);
    REQUIRE(n);
    REQUIRE(iw_notify_start(n) == APR_SUCCESS);
    for (i = 0; i < NPROD; i++) {
        pr[i] = (prod_t){ n, i, EACH };
        last[i] = -1;
        REQUIRE(apr_thread_create(&th[i], NULL, producer, &pr[i], p) == APR_SUCCESS);
    }
    /* read while they produce, until quiet */
    while (recv_dgram(fd, buf, sizeof(buf), 500) > 0) {
        int id = -1, k = -1;
        unsigned long long nd;
        const char *d = strstr(buf, "\"dropped\":");
        if (d && sscanf(d, "\"dropped\":%llu", &nd) == 1) {
            reports++;
            reported += nd;
            continue;
        }
        if (sscanf(buf, "{\"p\":%d,\"i\":%d}", &id, &k) != 2 || id < 0 || id >= NPROD) {
            order_bad++;
            continue;
        }
        if (k <= last[id]) order_bad++;
        last[id] = k;
        got++;
    }
    for (i = 0; i < NPROD; i++) {
        apr_status_t rv;
        apr_thread_join(&rv, th[i]);
    }
    iw_notify_stop(n, apr_time_from_sec(1));
    iw_notify_get_stats(n, &st);
    CHECK_INT(order_bad, 0);
    CHECK_INT(st.queued + st.dropped, NPROD * EACH);
    CHECK_INT(got, st.sent);
    CHECK_INT(st.sent + st.unsent, st.queued);
    CHECK_INT(reports, st.reports);
    CHECK_INT(reported, st.dropped);   /* all losses reported (quiet at end) */
    close(fd);
    unlink(path);
    rmdir(dir);
}

/* The collector closes the connection (restart): the next alerts go over a
 * new connection, none lost, in order. */
TEST(notify_tcp_peer_restart_no_loss)
{
    iw_notify_cfg_t cfg;
    iw_notify_t *n;
    iw_notify_stats_t st;
    const char *err;
    frames_t *f1 = calloc(1, sizeof(*f1)), *f2 = calloc(1, sizeof(*f2));
    char msg[32];
    int lfd, port, c1, c2, i, len;

    REQUIRE(f1 && f2);
    lfd = inet_listen(AF_INET, SOCK_STREAM, &port);
    REQUIRE(lfd >= 0);
    memset(&cfg, 0, sizeof(cfg));
    cfg.target = apr_psprintf(p, "tcp://127.0.0.1:%d", port);
    cfg.format = IW_FORMAT_JSON;
    n = iw_notify_create(p, &cfg, &err);
    REQUIRE(n && !err);
    REQUIRE(iw_notify_start(n) == APR_SUCCESS);
    for (i = 0; i < 5; i++) {
        len = snprintf(msg, sizeof(msg), "{\"n\":%d}", i);
        iw_notify_enqueue(n, IW_LEVEL_LOW, apr_time_now(), msg, (size_t)len);
    }
    c1 = accept_within(lfd, 2000);
    REQUIRE(c1 >= 0);
    CHECK_INT(read_frames(c1, f1, 5, 2000), 5);
    close(c1);                              /* collector goes away */
    apr_sleep(apr_time_from_msec(50));
    for (i = 5; i < 10; i++) {
        len = snprintf(msg, sizeof(msg), "{\"n\":%d}", i);
        iw_notify_enqueue(n, IW_LEVEL_LOW, apr_time_now(), msg, (size_t)len);
    }
    c2 = accept_within(lfd, 2000);
    REQUIRE(c2 >= 0);
    CHECK_INT(read_frames(c2, f2, 5, 2000), 5);
    for (i = 0; i < f2->n; i++) {
        len = snprintf(msg, sizeof(msg), "{\"n\":%d}", i + 5);
        CHECK(f2->mlen[i] == (size_t)len && !memcmp(f2->msg[i], msg, (size_t)len));
    }
    iw_notify_stop(n, apr_time_from_sec(1));
    iw_notify_get_stats(n, &st);
    CHECK_INT(st.sent, 10);
    CHECK_INT(st.reconnects, 1);
    close(c2);
    close(lfd);
    free(f1->buf); free(f1);
    free(f2->buf); free(f2);
}

/* on_state: one "failing" call when the target is missing (however many
 * retries), one "recovered" call with the error count when a message goes
 * out, and one "failing" again when it disappears. */
typedef struct state_log {
    _Atomic int calls, failing, err;
    _Atomic uint64_t errors;
} state_log_t;

static void record_state(void *data, const char *target, int failing, int err,
                         uint64_t errors)
{
    state_log_t *s = data;
    (void)target;
    atomic_store(&s->failing, failing);
    atomic_store(&s->err, err);
    atomic_store(&s->errors, errors);
    atomic_fetch_add(&s->calls, 1);
}

static int wait_calls(state_log_t *s, int n)
{
    int i;
    for (i = 0; i < 300 && atomic_load(&s->calls) < n; i++)
        apr_sleep(apr_time_from_msec(10));
    return atomic_load(&s->calls);
}

TEST(notify_state_changes_told_once)
{
    const char *dir = tmpdir(p), *path;
    iw_notify_cfg_t cfg;
    iw_notify_t *n;
    const char *err;
    char buf[16384];
    state_log_t sl;
    int fd;

    REQUIRE(dir);
    memset(&sl, 0, sizeof(sl));
    path = apr_pstrcat(p, dir, "/state.sock", NULL);
    memset(&cfg, 0, sizeof(cfg));
    cfg.target = apr_pstrcat(p, "unix:", path, NULL);
    cfg.format = IW_FORMAT_JSON;
    cfg.queue_size = 8;
    cfg.on_state = record_state;
    cfg.on_state_data = &sl;
    n = iw_notify_create(p, &cfg, &err);
    REQUIRE(n && !err);
    REQUIRE(iw_notify_start(n) == APR_SUCCESS);
    CHECK_INT(iw_notify_enqueue(n, IW_LEVEL_HIGH, apr_time_now(), "{\"a\":1}", 7), 0);
    CHECK_INT(wait_calls(&sl, 1), 1);
    CHECK_INT(atomic_load(&sl.failing), 1);
    CHECK(atomic_load(&sl.err) == ENOENT || atomic_load(&sl.err) == ECONNREFUSED);
    apr_sleep(apr_time_from_msec(400));             /* several retries: still one call */
    CHECK_INT(atomic_load(&sl.calls), 1);

    fd = unix_listen(path, SOCK_DGRAM);
    REQUIRE(fd >= 0);
    CHECK(recv_dgram(fd, buf, sizeof(buf), 3000) > 0);
    CHECK_INT(wait_calls(&sl, 2), 2);
    CHECK_INT(atomic_load(&sl.failing), 0);
    CHECK(atomic_load(&sl.errors) >= 2);            /* the first try + a retry */
    CHECK_INT(iw_notify_enqueue(n, IW_LEVEL_HIGH, apr_time_now(), "{\"a\":2}", 7), 0);
    CHECK(recv_dgram(fd, buf, sizeof(buf), 3000) > 0);
    CHECK_INT(atomic_load(&sl.calls), 2);           /* no call while delivering */

    close(fd);                                      /* the target goes away */
    unlink(path);
    CHECK_INT(iw_notify_enqueue(n, IW_LEVEL_HIGH, apr_time_now(), "{\"a\":3}", 7), 0);
    CHECK_INT(wait_calls(&sl, 3), 3);
    CHECK_INT(atomic_load(&sl.failing), 1);
    iw_notify_stop(n, apr_time_from_msec(200));
    CHECK_INT(atomic_load(&sl.calls), 3);
    rmdir(dir);
}
