/* SPDX-License-Identifier: Apache-2.0 */
/* iw_alert internals shared by iw_alert.c, iw_alert_esc.c and
 * iw_alert_msg.c (not an interface): the escapers, event field reads and
 * the message line's limits and builder. */
#ifndef IW_ALERT_INT_H
#define IW_ALERT_INT_H

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

#endif
