/* iw_alert: an alert as ECS JSON (DESIGN.md contract) and its syslog
 * framing.  Output is bounded: untrusted values are escaped (no raw control
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
    apr_time_t now;                 /* @timestamp (CLI: the event time) */
    int64_t suppressed;             /* iocwatch.suppressed: alerts held back
                                       for this rule+group since the last one */
    /* one-summary-per-request mode: every matching rule (else NULL) */
    const iw_hit_t *all_hits; int nall_hits;
    /* CLI provenance: iocwatch.input.line / iocwatch.input.id */
    int with_input;
} iw_alert_t;

#define IW_ALERT_EXCERPT_MAX 256    /* bytes of any one untrusted value */

/* Render JSON into buf (NUL-terminated); returns the length (< size). */
size_t iw_alert_json(const iw_alert_t *a, char *buf, size_t size);

/* Append a JSON string literal of [s, s+len) to buf at *pos, escaping
 * quotes, backslashes, control characters and invalid UTF-8 (as \ufffd),
 * cut to max bytes of input ("..." marker not added; callers decide). */
void iw_json_str(char *buf, size_t size, size_t *pos, const char *s,
                 size_t len, size_t max);

typedef enum {
    IW_FORMAT_RFC3164 = 1, IW_FORMAT_RFC5424, IW_FORMAT_JSON
} iw_format_t;

/* Sigma level -> syslog severity: critical 2, high 3, medium 4, low 5,
 * informational 6. */
int iw_level_to_severity(iw_level_t l);
/* Facility by name ("local0".."local7", "daemon", "user", "security"/"auth",
 * "authpriv"); -1 when unknown.  The value is the facility code (0..23). */
int iw_facility_parse(const char *name);

/* Frame a message for syslog (or pass through for json) into out;
 * returns length.  hostname may be NULL ("-"). */
size_t iw_syslog_frame(char *out, size_t size, iw_format_t fmt, int facility,
                       iw_level_t lvl, apr_time_t t, const char *hostname,
                       const char *app, long pid, const char *msg, size_t msglen);

#endif
