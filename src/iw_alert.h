/* SPDX-License-Identifier: Apache-2.0 */
/* iw_alert: an alert as ECS JSON (DESIGN.md contract, iw_alert.c) and its
 * syslog framing (iw_alert_syslog.c).  Output is bounded: untrusted values are escaped (no raw control
 * characters), each excerpt is cut to a fixed length, the whole message to
 * the buffer size, and the result is always valid JSON with rule.id first. */
#ifndef IW_ALERT_H
#define IW_ALERT_H

#include "iw_engine.h"
#include "iw_corr.h"

typedef struct iw_alert {
    const iw_rule_t *rule;          /* detection or correlation rule */
    iw_event_t *ev;                 /* the event (for correlation: the last one) */
    const iw_hit_t *hit;            /* detection: evidence; NULL otherwise */
    const iw_corr_alert_t *corr;    /* correlation: state; NULL otherwise */
    const char *ruleset;            /* rule.ruleset, e.g. "sigma" */
    const char *host_name;          /* host.name: this machine */
    apr_time_t now;                 /* @timestamp (CLI: the event time);
                                       0 = unknown: @timestamp omitted */
    int64_t suppressed;             /* iocwatch.suppressed: alerts held back
                                       for this rule+group since the last one */
    /* one-summary-per-request mode: every matching rule (else NULL) */
    const iw_hit_t *all_hits; int nall_hits;
    /* CLI provenance: iocwatch.input.line / iocwatch.input.id */
    int with_input;
    /* the rule could not be evaluated on this event (hit NULL): rendered
     * as iocwatch.evaluation_error {reason, field} */
    const iw_eval_error_t *eval_error;
} iw_alert_t;

/* Tests only: 0 = member keys are written piece by piece (the reference
 * for the one-check writer). */
extern int iw_alert_fast_keys;
/* Tests only: 0 = strings are always escaped with a room check per piece
 * (the reference for the path taken when the worst case fits). */
extern int iw_alert_roomy;
/* Tests only: 0 = the rule's sections are rendered every time instead of
 * copied from what iw_alert_prepare rendered (the reference). */
extern int iw_alert_frags;
/* Tests only: 0 = the event's members are rendered for every alert instead
 * of once per event and thread, and "host" and "server" for every request
 * instead of once per server name and thread (the reference). */
extern int iw_alert_evsec;

/* Render the parts of a rule's alerts that depend on the rule alone
 * (rule.*, event.*, log.level, tags, threat, the message's "[level]
 * title") once, into p, for alerts with rule.ruleset `ruleset`; every
 * alert of the rule then copies them (r->alert_frag).  Call after the
 * rules are loaded (compile time); a rule's texts must not change after.
 * Alerts of a rule not prepared are rendered in full: the same bytes. */
void iw_alert_prepare_rule(apr_pool_t *p, iw_rule_t *r, const char *ruleset);
/* Every rule of rs, into rs->pool. */
void iw_alert_prepare(iw_ruleset_t *rs, const char *ruleset);

#define IW_ALERT_EXCERPT_MAX 256    /* bytes of any one untrusted value */

/* Render JSON into buf (NUL-terminated); returns the length (< size).
 * Members that do not fit are left out whole (low-value parts first), so the
 * result is valid JSON for any size >= 3; empty when size < 3. */
size_t iw_alert_json(const iw_alert_t *a, char *buf, size_t size);

/* The same, and what was left out: a summary alert lists whole rule
 * entries while they fit and says how many it left out
 * (iocwatch.rules_omitted, with iocwatch.rules_total); callers count them. */
typedef struct iw_alert_info {
    int rules_omitted;
} iw_alert_info_t;
size_t iw_alert_json_info(const iw_alert_t *a, char *buf, size_t size,
                          iw_alert_info_t *info);

/* Append a JSON string literal of [s, s+len) to buf at *pos, escaping
 * quotes, backslashes, control characters < 0x20 and 0x7f (as \u00XX) and
 * each invalid UTF-8 byte (as \ufffd), cut to max bytes of input on a UTF-8
 * boundary ("..." marker not added; callers decide).  Bounded by size: the
 * value is cut further when needed so the literal is always closed and buf
 * NUL-terminated; nothing is written when not even "" fits. */
void iw_json_str(char *buf, size_t size, size_t *pos, const char *s,
                 size_t len, size_t max);

typedef enum {
    IW_FORMAT_RFC3164 = 1, IW_FORMAT_RFC5424, IW_FORMAT_JSON
} iw_format_t;

/* t as 2026-11-28T09:59:55.249Z (UTC, milliseconds: always 24 bytes and
 * a NUL) into out (>= 25 bytes, else empty). */
void iw_alert_iso_time(char *out, size_t size, apr_time_t t);

/* Sigma level -> ECS event.severity on the Elastic risk-score scale:
 * informational 1, low 21, medium 47, high 73, critical 99 (none 0). */
int iw_level_to_ecs_severity(iw_level_t l);

/* Sigma level -> syslog severity: critical 2, high 3, medium 4, low 5,
 * informational 6. */
int iw_level_to_severity(iw_level_t l);
/* Facility by name ("local0".."local7", "daemon", "user", "security"/"auth",
 * "authpriv"); -1 when unknown.  The value is the facility code (0..23). */
int iw_facility_parse(const char *name);

/* Longest header iw_syslog_frame writes before the message. */
#define IW_SYSLOG_HDR_MAX 400

/* Frame a message for syslog (or pass through for json) into out;
 * returns length (the message is cut when out is too small: size it
 * IW_SYSLOG_HDR_MAX + msglen + 1).
 * RFC 5424: "<PRI>1 TIMESTAMP HOST APP PID - - MSG", UTC with milliseconds,
 *   MSGID and STRUCTURED-DATA "-", no BOM; hostname NULL -> "-".
 * RFC 3164: "<PRI>Mmm dd hh:mm:ss HOST APP[PID]: MSG" in local time;
 *   hostname NULL -> no HOST field, the syslog(3) form local sockets expect
 *   (rsyslog's imuxsock does not parse a hostname there). */
size_t iw_syslog_frame(char *out, size_t size, iw_format_t fmt, int facility,
                       iw_level_t lvl, apr_time_t t, const char *hostname,
                       const char *app, long pid, const char *msg, size_t msglen);

#endif
