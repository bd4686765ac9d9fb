/* SPDX-License-Identifier: Apache-2.0 */
/* iw_alert_direct: the direct writer of a request's members "source" ..
 * "server": when all their worst cases fit (6 bytes per input byte), they
 * are written in a row at the writer's position without its per-member
 * room checks and checkpoints (the d_* primitives of iw_alert_int.h); the
 * bytes are the ones the bounded writer (iw_alert.c) would write, which
 * tests/unit/alerts.golden and the shortcut switches' tests pin.  And the
 * thread's kept "host" and "server" (srvt: the same for every request a
 * server name serves), copied instead of written again.
 *
 * Why a file of its own: iw_alert.c holds the writer and every section
 * rendered with it and had outgrown the size limit; this is the largest
 * part that is written another way.  It was a function of its own already
 * (one call per alert), so the file boundary costs little; the iocwatch
 * object's direct writer stays in iw_alert.c, inlined into render (apart,
 * it cost ~8 instructions an alert, tools/bench_alert.py). */
#include <stdint.h>
#include <string.h>
#include "iw_alert.h"
#include "iw_alert_int.h"

/* r_event_members_render for a request's event when every member fits in
 * the worst case (6 bytes per input byte; the keys, punctuation and
 * numbers within EVD_FIXED): then no write is cut and no section rolled
 * back but an empty object, so the members are written in a row at d->o,
 * an object taken back when nothing went in (as jw_close does), and the
 * bytes are the writer's (each string escaped as m_str escapes it).  The
 * message line's escaped client and target are copied as r_ip and
 * r_url_parts copy them. */
#define EVD_FIXED 640

/* The thread's "host" and "server" bytes (t: its kept ones, NULL: none) for
 * these inputs at d (1), or 0. */
static int srvt_copy(const srvt_t *t, dw_t *d, iw_str_t host, iw_str_t site, iw_str_t sip,
                     long long port)
{
    const iw_str_t v[3] = { host, site, sip };
    int i;

    if (!t || !t->n || t->port != port || t->first_before != d->first) return 0;
    for (i = 0; i < 3; i++)
        if (t->nin[i] != (v[i].p ? v[i].len : SRVT_NONE)
            || (v[i].p && memcmp(t->in[i], v[i].p, v[i].len)))
            return 0;
    memcpy(d->b + d->o, t->out, t->n);
    d->o += t->n;
    d->first = t->first_after;
    return 1;
}

/* Keep what d wrote from t0 (first0: the state before) for these inputs. */
static void srvt_keep(srvt_t *t, const dw_t *d, size_t t0, unsigned char first0,
                      iw_str_t host, iw_str_t site, iw_str_t sip, long long port)
{
    const iw_str_t v[3] = { host, site, sip };
    int i;

    if (!t) return;
    t->n = 0;
    if (d->o - t0 > SRVT_OUT || d->o == t0) return;
    for (i = 0; i < 3; i++) {
        if (v[i].p && v[i].len > SRVT_IN) return;
        t->nin[i] = v[i].p ? v[i].len : SRVT_NONE;
        if (v[i].p) memcpy(t->in[i], v[i].p, v[i].len);
    }
    t->port = port;
    t->first_before = first0;
    t->first_after = d->first;
    memcpy(t->out, d->b + t0, d->o - t0);
    t->n = d->o - t0;
}

/* t: the thread's kept ones (NULL: none), "host" and "server" copied from it
 * when their inputs are the last ones (srvt_copy).  0: not written (not a
 * request, no room for the worst case, a reference switch): the caller
 * renders. */
int iw_alert__direct_members(jw_t *w, const iw_alert_t *a, iw_event_t *ev, srvt_t *t)
{
    iw_str_t ip, me, ref, rid, ver, u, st, q, dom, ua, user, site, sip, host = { a->host_name, 0 };
    size_t split, worst, tn = sizeof("\"original\":") - 1;
    long long n;
    dw_t d;
    dcp_t o1, o2;

    if (!ev || ev->type == IW_EV_ERROR || w->err || w->depth != 1 || !iw_alert_roomy
        || w->keys_apart)
        return 0;
    ip = fget(ev, IW_F_C_IP); me = fget(ev, IW_F_CS_METHOD);
    ref = fget(ev, IW_F_CS_REFERER); rid = fget(ev, IW_F_REQUEST_ID);
    ver = fget(ev, IW_F_CS_VERSION); u = fget(ev, IW_F_CS_URI);
    st = fget(ev, IW_F_CS_URI_STEM); q = fget(ev, IW_F_CS_URI_QUERY);
    dom = iw_alert__field_host(fget(ev, IW_F_CS_HOST)); ua = fget(ev, IW_F_CS_USER_AGENT);
    user = fget(ev, IW_F_CS_USERNAME); site = fget(ev, IW_F_S_SITENAME);
    sip = fget(ev, IW_F_S_IP);
    if (host.p) host.len = strlen(host.p);
    worst = EVD_FIXED + 6 * (d_lim(ip) + d_lim(me) + d_lim(ref) + d_lim(rid) + d_lim(ver)
                             + d_lim(u) + d_lim(st) + d_lim(q) + d_lim(dom) + d_lim(ua)
                             + d_lim(user) + d_lim(host) + d_lim(site) + 2 * d_lim(sip));
    if (w->pos + worst + w->reserve > w->size) return 0;
    d.b = w->buf;
    d.o = w->pos;
    d.first = w->first[1];
    if (ip.p) {                                 /* r_ip */
        int is_ip = iw_alert__field_is_ip(ip);
        o1 = d_open(&d, K("source"));
        if (line_has_ip(w, ip)) {
            if (is_ip) d_copy(&d, K("ip"), w->mi_at, w->mi_end - w->mi_at);
            else d_copy(&d, K("address"), w->mi_at, w->mi_end - w->mi_at);
        } else if (is_ip) {
            d_str(&d, K("ip"), ip);
        } else {
            d_str(&d, K("address"), ip);
        }
        d_close(&d, o1);
    }
    o1 = d_open(&d, K("http"));                 /* r_access */
    o2 = d_open(&d, K("request"));
    d_str(&d, K("method"), me);
    d_str(&d, K("referrer"), ref);
    d_str(&d, K("id"), rid);
    if (fnum(ev, IW_F_CS_BYTES, &n)) d_int(&d, K("bytes"), n);
    d_close(&d, o2);
    o2 = d_open(&d, K("response"));
    if (fnum(ev, IW_F_SC_STATUS, &n)) d_int(&d, K("status_code"), n);
    if (fnum(ev, IW_F_SC_BYTES, &n)) d_int(&d, K("bytes"), n);
    d_close(&d, o2);
    if (ver.p && ver.len > 5 && !memcmp(ver.p, "HTTP/", 5)) { ver.p += 5; ver.len -= 5; }
    d_str(&d, K("version"), ver);
    d_close(&d, o1);
    o1 = d_open(&d, K("url"));                  /* r_url_parts */
    if ((split = url_split(u, st, q)) == SIZE_MAX) {
        d_str(&d, K("original"), u);
        d_str(&d, K("path"), st);
        d_str(&d, K("query"), q);
    } else {
        size_t b0, mid, b1;
        d_key(&d, "\"original\":\"", tn + 1);
        b0 = d.o;
        b1 = url_body(d.b, b0, w, u, split, line_has_url(w, u, split), &mid);
        d.b[b1] = '"';
        d.o = b1 + 1;
        d_copy(&d, K("path"), b0, mid - b0);
        if (q.p) d_copy(&d, K("query"), mid + 1, b1 - mid - 1);
    }
    d_str(&d, K("domain"), dom);
    d_close(&d, o1);
    o1 = d_open(&d, K("user_agent"));
    d_str(&d, K("original"), ua);
    d_close(&d, o1);
    if (user.p && user.len && !(user.len == 1 && user.p[0] == '-')) {
        o1 = d_open(&d, K("user"));
        d_str(&d, K("name"), user);
        d_close(&d, o1);
    }
    if (!fnum(ev, IW_F_S_PORT, &n)) n = -1;
    if (!(site.p || sip.p) || !srvt_copy(t, &d, host, site, sip, n)) {
        size_t t0 = d.o;
        unsigned char f0 = d.first;
        if (host.p) {
            o1 = d_open(&d, K("host"));
            d_str(&d, K("name"), host);
            d_close(&d, o1);
        }
        o1 = d_open(&d, K("server"));           /* r_server */
        d_str(&d, K("address"), site.p ? site : sip);
        if (iw_alert__field_is_ip(sip)) d_str(&d, K("ip"), sip);
        if (n >= 0) d_int(&d, K("port"), n);
        d_close(&d, o1);
        if (site.p || sip.p) srvt_keep(t, &d, t0, f0, host, site, sip, n);
    }
    if (w->pos + worst + w->reserve > w->peak) w->peak = w->pos + worst + w->reserve;
    w->pos = d.o;
    w->first[1] = d.first;
    return 1;
}
