/* SPDX-License-Identifier: Apache-2.0 */
/* iw_alert internals shared by iw_alert.c, iw_alert_direct.c,
 * iw_alert_field.c, iw_alert_esc.c and iw_alert_msg.c (not an interface):
 * the escapers, event field reads, the message line's limits and builder,
 * the JSON writer's state and what the direct writers share with it. */
#ifndef IW_ALERT_INT_H
#define IW_ALERT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "iw_alert.h"

/* The escapers (iw_alert_esc.c): the body of a JSON string (no
 * quotes) of [s, s+lim) at buf+o when 6 * lim bytes fit there (len: the
 * input's full length, read for a UTF-8 sequence cut by lim); returns the
 * position after it.  And iw_json_str's writer, never past `end`: 0 when
 * the input (cut to max) fit, 1 when cut for room, -1 when not even "". */
size_t iw_alert__json_body_roomy(char *buf, size_t o, const unsigned char *s, size_t len,
                                 size_t lim);
int iw_alert__json_str_bounded(char *buf, size_t end, size_t *pos,
                               const char *str, size_t len, size_t max);

/* The same body between quotes: "escaped" when the worst case fits. */
static inline size_t iw_alert__json_str_roomy(char *buf, size_t o, const unsigned char *s,
                                              size_t len, size_t lim)
{
    buf[o++] = '"';
    o = iw_alert__json_body_roomy(buf, o, s, len, lim);
    buf[o++] = '"';
    return o;
}

/* The message line: at most MSG_MAX bytes; the title, the target and the
 * first match's value cut to their own sizes. */
#define MSG_MAX        512
#define MSG_TITLE_MAX  120
#define MSG_TARGET_MAX 160
#define MSG_VALUE_MAX  80

static inline iw_str_t fget(iw_event_t *ev, iw_field_id_t f)
{
    return ev ? iw_event_get(ev, f) : IW_STR_NULL;
}

/* A numeric field (iw_field_is_numeric: its text is always the decimal
 * of its number) when it is 0 .. 12 digits; 0 when absent.  Read as the
 * number: formatting its text into the event only to parse it back cost
 * ~110 instructions a field. */
static inline int fnum(iw_event_t *ev, iw_field_id_t f, long long *out)
{
    int64_t n;
    if (!ev || !iw_event_num(ev, f, &n) || n < 0 || n > INT64_C(999999999999)) return 0;
    *out = (long long)n;
    return 1;
}

/* The other rules of the alert's request that generate alerts (the
 * message line's "(+N more rules)"). */
static inline int iw_alert__more_rules(const iw_alert_t *a)
{
    int i, more = 0;
    for (i = 0; a->all_hits && i < a->nall_hits; i++)
        more += a->all_hits[i].rule && a->all_hits[i].rule->generate && a->all_hits[i].rule != a->rule;
    return more;
}

/* v's decimal digits at out, no NUL; returns their count.  (An alert has
 * a few numbers, and snprintf costs ~1,000 instructions each.) */
static inline size_t put_dec(char *out, unsigned long long v)
{
    char t[20], *e = t + sizeof(t), *o = e;
    do {                            /* from the end, no reversal */
        *--o = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(out, o, (size_t)(e - o));
    return (size_t)(e - o);
}
/* "[level] title": how a rule's line starts (prepared per rule). */
size_t iw_alert__msg_head(const iw_rule_t *r, char *out, size_t size);
/* The whole line of alert a into out (size bytes at most), starting with
 * head (its rule's prepared head, nhead bytes; NULL: built). */
size_t iw_alert__message(const iw_alert_t *a, const char *head, size_t nhead, char *out,
                         size_t size);

/* ---- the bounded JSON writer's state (iw_alert.c), which the direct
 * writers (iw_alert_direct.c) write past in a row ---------------------- */

#define JW_DEPTH   8

typedef struct jw_cp {
    size_t pos, reserve;
    int depth, dead;
    unsigned char first;
} jw_cp_t;

typedef struct jw {
    char *buf;
    size_t size, pos;
    size_t reserve;             /* closers of open containers + the NUL */
    int err;                    /* a write did not fit: section rolls back */
    int depth;
    int too_deep;               /* opens past JW_DEPTH (never in practice) */
    int dropped;                /* sections rolled back for lack of room */
    int rules_omitted;          /* summary: matching rules left out of "rules" */
    size_t keys_apart;          /* 0; huge: every key piece by piece (tests) */
    int ruleset_as_prepared;    /* 0: not compared yet; 1: yes; 2: no */
    size_t peak;                /* most room any write asked for (pos + reserve
                                   after it): what a section needs to be
                                   written again elsewhere without a cut */
    unsigned char first[JW_DEPTH];
    /* what the message line escaped (msg_direct), for url.original, path,
     * query and the first match's value to copy: the source's bytes and
     * where their escaped bytes are in buf (mu_p/mv_p NULL: none) */
    const char *mu_p, *mv_p, *mi_p;
    size_t mu_len, mu_split, mu_at, mu_mid, mu_end, mv_len, mv_at, mv_end, mi_len, mi_at, mi_end;
    jw_cp_t open[JW_DEPTH];     /* where each open container started */
} jw_t;

/* A member's key as the token "key": with its length, both known at compile
 * time (the argument must be a string literal); K_NONE: no key (an array
 * element or the root). */
#define K(k)   "\"" k "\":", (sizeof(k) + 2)
#define K_NONE NULL, 0

/* Literal IPv4/IPv6 text (ECS *.ip); a Host header without its port
 * (iw_alert_field.c). */
int iw_alert__field_is_ip(iw_str_t v);
iw_str_t iw_alert__field_host(iw_str_t v);

/* The target's split: path and query are its bytes before and after its
 * '?' (origin form, the usual case) and it is at most an excerpt long
 * (else SIZE_MAX). */
static inline size_t url_split(iw_str_t u, iw_str_t st, iw_str_t q)
{
    if (!u.p || !st.p || st.p != u.p || u.len > IW_ALERT_EXCERPT_MAX
        || (q.p ? st.len >= u.len || u.p[st.len] != '?' || q.p != u.p + st.len + 1
                  || q.len != u.len - st.len - 1
                : st.len != u.len))
        return SIZE_MAX;
    return st.len;
}

/* What the message line escaped (msg_direct) and a member may copy: the
 * same source bytes, escaped whole, before the writer's position. */
static inline int line_has_ip(const jw_t *w, iw_str_t ip)
{
    return w->mi_p && ip.p == w->mi_p && ip.len == w->mi_len && w->mi_end <= w->pos;
}

/* The first match's value. */
static inline int line_has_value(const jw_t *w, iw_str_t v)
{
    return w->mv_p && v.p == w->mv_p && v.len == w->mv_len && w->mv_end <= w->pos;
}

/* The target, in the same two pieces (split: url_split's). */
static inline int line_has_url(const jw_t *w, iw_str_t u, size_t split)
{
    return split != SIZE_MAX && w->mu_p && w->mu_p == u.p && w->mu_len == u.len
           && w->mu_split == split && w->mu_end <= w->pos;
}

/* The target's body (no quotes) at buf+b0, as url_split splits it: copied
 * from the message line (copy: line_has_url) or escaped in its two pieces;
 * *mid: where the second piece (from the '?') starts.  Returns the end. */
static inline __attribute__((always_inline)) size_t url_body(char *buf, size_t b0,
                                                             const jw_t *w, iw_str_t u,
                                                             size_t split, int copy,
                                                             size_t *mid)
{
    if (copy) {
        memmove(buf + b0, buf + w->mu_at, w->mu_end - w->mu_at);
        *mid = b0 + (w->mu_mid - w->mu_at);
        return b0 + (w->mu_end - w->mu_at);
    }
    *mid = iw_alert__json_body_roomy(buf, b0, (const unsigned char *)u.p, split, split);
    return iw_alert__json_body_roomy(buf, *mid, (const unsigned char *)u.p + split,
                                     u.len - split, u.len - split);
}

/* Every field's name as a JSON string (with its quotes), escaped once per
 * process; plain: the name itself between the quotes (iw_alert_field.c).
 * Declared hidden (as -fvisibility=hidden defines them), so they are read
 * PC-relative, not through the GOT: 2 instructions an alert. */
#define IW_ALERT_FNAME_MAX 80
#define IW_ALERT_HIDDEN __attribute__((visibility("hidden")))
struct iw_alert_fname { char s[IW_ALERT_FNAME_MAX]; size_t n; int plain; };
extern IW_ALERT_HIDDEN struct iw_alert_fname iw_alert__field_names[IW_F__COUNT];
extern IW_ALERT_HIDDEN int iw_alert__field_names_ok;
int iw_alert__field_names_once(void);

/* The names are ready (seen once set, without pthread_once's call). */
static inline int fnames_ready(void)
{
    return __atomic_load_n(&iw_alert__field_names_ok, __ATOMIC_ACQUIRE)
           || iw_alert__field_names_once();
}

/* "host" and "server" of the direct path (iw_alert__direct_members) are
 * the same for every request a server name serves: the thread keeps the
 * last ones' bytes with their inputs (host.name, s-sitename, s-ip whole,
 * up to SRVT_IN bytes each; s-port; the "first member" state), and a
 * request with the same inputs copies them: the bytes d_* would write. */
#define SRVT_IN  128
#define SRVT_OUT 1024
#define SRVT_NONE SIZE_MAX          /* a field absent */

typedef struct srvt {
    size_t nin[3];              /* host.name, s-sitename, s-ip; SRVT_NONE: absent */
    long long port;             /* -1: absent */
    size_t n;                   /* 0: nothing kept */
    unsigned char first_before, first_after;
    char in[3][SRVT_IN];
    char out[SRVT_OUT];
} srvt_t;

/* ---- the direct writers' primitives: members written in a row at d->o
 * when their worst case fits (no room check, no checkpoint), an object
 * taken back when nothing went in (as jw_close does); each string escaped
 * as m_str escapes it. */
typedef struct dw { char *b; size_t o; unsigned char first; } dw_t;
typedef struct dcp { size_t o; unsigned char first; } dcp_t;

static inline __attribute__((always_inline)) void d_key(dw_t *d, const char *tok, size_t tn)
{
    d->b[d->o] = ',';
    d->o += !d->first;
    d->first = 0;
    memcpy(d->b + d->o, tok, tn);
    d->o += tn;
}

static inline __attribute__((always_inline)) void d_str(dw_t *d, const char *tok, size_t tn,
                                                       iw_str_t v)
{
    if (!v.p) return;
    d_key(d, tok, tn);
    d->o = iw_alert__json_str_roomy(d->b, d->o, (const unsigned char *)v.p, v.len,
                                    v.len < IW_ALERT_EXCERPT_MAX ? v.len : IW_ALERT_EXCERPT_MAX);
}

static inline __attribute__((always_inline)) void d_copy(dw_t *d, const char *tok, size_t tn,
                                                        size_t from, size_t n)
{
    d_key(d, tok, tn);
    d->b[d->o] = '"';
    memmove(d->b + d->o + 1, d->b + from, n);
    d->b[d->o + 1 + n] = '"';
    d->o += n + 2;
}

static inline __attribute__((always_inline)) void d_int(dw_t *d, const char *tok, size_t tn,
                                                       long long v)
{
    d_key(d, tok, tn);
    d->o += put_dec(d->b + d->o, (unsigned long long)v);     /* fnum: >= 0 */
}

static inline __attribute__((always_inline)) dcp_t d_open(dw_t *d, const char *tok, size_t tn)
{
    dcp_t cp = { d->o, d->first };
    d_key(d, tok, tn);
    d->b[d->o++] = '{';
    d->first = 1;
    return cp;
}

static inline __attribute__((always_inline)) void d_close(dw_t *d, dcp_t cp)
{
    if (d->first) { d->o = cp.o; d->first = cp.first; return; }   /* empty: dropped */
    d->b[d->o++] = '}';
    d->first = 0;
}

static inline size_t d_lim(iw_str_t v)
{
    return !v.p ? 0 : v.len < IW_ALERT_EXCERPT_MAX ? v.len : IW_ALERT_EXCERPT_MAX;
}

/* The direct writer of a request's members "source" .. "server"
 * (iw_alert_direct.c; t: the thread's kept "host" and "server", NULL:
 * none), written in a row when their worst case fits; 0: not written, the
 * caller renders with the writer. */
int iw_alert__direct_members(jw_t *w, const iw_alert_t *a, iw_event_t *ev, srvt_t *t);

#endif
