/* SPDX-License-Identifier: Apache-2.0 */
/* iw_alert_msg: an alert's `message` line as text (iw_alert.c escapes it
 * into the JSON; a request's detection alert is written there escaped
 * piece by piece instead, msg_direct, with the same bytes).
 *
 * The ECS `message`: what a person reads first in a log viewer, e.g.
 *   [high] SQL Injection in Query: 203.0.113.5 GET /item?id=1'+OR+1=1 -> 200;
 *     matched cs-uri-query-decoded "' OR 1=1"
 *   [medium] Apache Child Crash: 10.0.0.1 AH00052: child pid 42 exit signal ...
 *   [high] HTTP Probing - Many Missing Paths: c-ip=203.0.113.5: 31 in 60 s
 * level, rule title, client, method + target (error events: the entry's
 * text), and what matched; each part cut to a fixed size so the line stays
 * short.  Built with memcpy into a stack buffer (no snprintf), escaped by
 * the JSON writer like any value. */
#include <string.h>
#include <apr_time.h>
#include "iw_alert_int.h"

typedef struct mbuf { char *p; size_t len, cap; } mbuf_t;

/* Append up to max bytes of s (an ellipsis marks a cut). */
static inline void mb_put(mbuf_t *m, const char *s, size_t n, size_t max)
{
    int cut = n > max;
    if (!s) return;
    if (cut) n = max;
    if (n > m->cap - m->len) { n = m->cap - m->len; cut = 1; }
    memcpy(m->p + m->len, s, n);
    m->len += n;
    if (cut && m->cap - m->len >= 3) {
        memcpy(m->p + m->len, "...", 3);
        m->len += 3;
    }
}

/* A literal: its length known at compile time. */
#define mb_lit(m, s) mb_put((m), "" s "", sizeof(s) - 1, (m)->cap)

static void mb_cstr(mbuf_t *m, const char *s)
{
    if (s) mb_put(m, s, strlen(s), m->cap);
}

static void mb_num(mbuf_t *m, long long v)
{
    char num[24];
    size_t n = 0;
    if (v < 0) num[n++] = '-';
    n += put_dec(num + n, v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v);
    mb_put(m, num, n, sizeof(num));
}

static void msg_request(mbuf_t *m, iw_event_t *ev)
{
    iw_str_t v = fget(ev, IW_F_CS_METHOD);
    long long st;
    if (v.p) { mb_put(m, v.p, v.len, 16); mb_lit(m, " "); }
    v = fget(ev, IW_F_CS_URI);
    mb_put(m, v.p, v.len, MSG_TARGET_MAX);
    if (fnum(ev, IW_F_SC_STATUS, &st)) { mb_lit(m, " -> "); mb_num(m, st); }
}

static void msg_corr(mbuf_t *m, const iw_corr_alert_t *c)
{
    size_t g = strnlen(c->group, sizeof(c->group));
    if (g) { mb_put(m, c->group, g, MSG_TARGET_MAX); mb_lit(m, ": "); }
    mb_num(m, c->count);
    mb_cstr(m, c->type == IW_CORR_VALUE_COUNT ? " distinct values"
               : c->type == IW_CORR_EVENT_COUNT ? " events" : " rules matched");
    mb_lit(m, " in ");
    mb_num(m, (long long)(c->window / APR_USEC_PER_SEC));
    mb_lit(m, " s");
}

/* "[level] title": how the line starts (prepared per rule). */
size_t iw_alert__msg_head(const iw_rule_t *r, char *out, size_t size)
{
    mbuf_t m = { out, 0, size };
    mb_lit(&m, "[");
    mb_cstr(&m, iw_level_name(r ? r->level : IW_LEVEL_NONE));
    mb_lit(&m, "] ");
    if (r) {
        const char *t = r->title ? r->title : r->name ? r->name : r->id;
        if (t) mb_put(&m, t, strlen(t), MSG_TITLE_MAX);
    }
    return m.len;
}

size_t iw_alert__message(const iw_alert_t *a, const char *head, size_t nhead, char *out,
                         size_t size)
{
    mbuf_t m = { out, 0, size };
    const iw_rule_t *r = a->rule;
    iw_event_t *ev = a->ev;
    iw_str_t v;
    size_t colon;
    int more;

    if (head && nhead <= size) {
        memcpy(out, head, nhead);
        m.len = nhead;
    } else {
        m.len = iw_alert__msg_head(r, out, size);
    }
    more = iw_alert__more_rules(a);
    if (more) { mb_lit(&m, " (+"); mb_num(&m, more); mb_lit(&m, " more rules)"); }
    mb_lit(&m, ":");
    colon = m.len;
    if (a->corr) {
        mb_lit(&m, " ");
        msg_corr(&m, a->corr);
    } else if (ev) {
        v = fget(ev, IW_F_C_IP);
        if (v.p) { mb_lit(&m, " "); mb_put(&m, v.p, v.len, 64); }
        mb_lit(&m, " ");
        if (ev->type == IW_EV_ERROR) {
            v = fget(ev, IW_F_MESSAGE);
            mb_put(&m, v.p, v.len, MSG_TARGET_MAX);
        } else {
            msg_request(&m, ev);
        }
    }
    /* an error entry's text is already on the line */
    if (a->hit && a->hit->nmatches > 0 &&
        !(ev && ev->type == IW_EV_ERROR && a->hit->matches[0].field == IW_F_MESSAGE)) {
        const iw_match_t *mt = &a->hit->matches[0];
        mb_lit(&m, "; matched ");
        mb_cstr(&m, iw_field_name((iw_field_id_t)mt->field));
        mb_lit(&m, " \"");
        mb_put(&m, mt->value.p, mt->value.len, MSG_VALUE_MAX);
        mb_lit(&m, "\"");
    }
    if (m.len == colon) m.len--;        /* nothing after the title */
    if (a->suppressed > 0) {
        mb_lit(&m, " (");
        mb_num(&m, a->suppressed);
        mb_lit(&m, " more held back)");
    }
    return m.len;
}
