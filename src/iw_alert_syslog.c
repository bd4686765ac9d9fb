/* SPDX-License-Identifier: Apache-2.0 */
/* iw_alert_syslog: an alert's syslog framing (RFC 5424, RFC 3164 or the
 * JSON alone), its timestamp text (iw_alert_iso_time, also the alert's
 * @timestamp), the syslog and ECS severity of a Sigma level and facility
 * names.
 *
 * - RFC 5424: MSGID and STRUCTURED-DATA are "-", no BOM (the JSON is UTF-8;
 *   a BOM confuses most collectors' JSON parsers).
 * - RFC 3164 without a hostname (hostname NULL) is the syslog(3) form that
 *   local sockets expect: rsyslog's imuxsock does not parse a hostname there. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <apr_time.h>
#include "iw_alert.h"

/* The last `width` decimal digits of v (>= 0), zero-padded. */
static char *put_fixed(char *o, unsigned v, int width)
{
    int i;
    for (i = width - 1; i >= 0; i--, v /= 10) o[i] = (char)('0' + v % 10);
    return o + width;
}

/* t as 2026-11-28T09:59:55.249Z (UTC, milliseconds).  The date and time
 * of the thread's last second are kept: alerts come in bursts, and
 * apr_time_exp_gmt costs ~400 instructions a call. */
static _Thread_local apr_time_t iso_sec = -1;       /* second of iso_head; -1: none */
static _Thread_local char iso_head[19];             /* 2026-11-28T09:59:55 */

void iw_alert_iso_time(char *out, size_t size, apr_time_t t)
{
    apr_time_exp_t x;
    char *o = out;
    unsigned usec;

    if (size < 25) {
        if (size) out[0] = '\0';
        return;
    }
    if (t >= 0 && apr_time_sec(t) == iso_sec) {
        memcpy(o, iso_head, sizeof(iso_head));
        o += sizeof(iso_head);
        usec = (unsigned)(t % APR_USEC_PER_SEC);
    } else {
        apr_time_exp_gmt(&x, t);
        o = put_fixed(o, (unsigned)(x.tm_year + 1900), 4);
        *o++ = '-';
        o = put_fixed(o, (unsigned)(x.tm_mon + 1), 2);
        *o++ = '-';
        o = put_fixed(o, (unsigned)x.tm_mday, 2);
        *o++ = 'T';
        o = put_fixed(o, (unsigned)x.tm_hour, 2);
        *o++ = ':';
        o = put_fixed(o, (unsigned)x.tm_min, 2);
        *o++ = ':';
        o = put_fixed(o, (unsigned)x.tm_sec, 2);
        usec = (unsigned)x.tm_usec;
        if (t >= 0) {
            memcpy(iso_head, out, sizeof(iso_head));
            iso_sec = apr_time_sec(t);
        }
    }
    *o++ = '.';
    o = put_fixed(o, usec / 1000, 3);
    *o++ = 'Z';
    *o = '\0';
}

int iw_level_to_ecs_severity(iw_level_t l)
{
    switch (l) {
    case IW_LEVEL_CRITICAL: return 99;
    case IW_LEVEL_HIGH: return 73;
    case IW_LEVEL_MEDIUM: return 47;
    case IW_LEVEL_LOW: return 21;
    case IW_LEVEL_INFORMATIONAL: return 1;
    default: return 0;
    }
}

int iw_level_to_severity(iw_level_t l)
{
    switch (l) {
    case IW_LEVEL_CRITICAL: return 2;
    case IW_LEVEL_HIGH: return 3;
    case IW_LEVEL_MEDIUM: return 4;
    case IW_LEVEL_LOW: return 5;
    default: return 6;
    }
}

static const struct { const char *name; int code; } facilities[] = {
    {"kern", 0}, {"user", 1}, {"mail", 2}, {"daemon", 3}, {"auth", 4},
    {"security", 4}, {"syslog", 5}, {"lpr", 6}, {"news", 7}, {"uucp", 8},
    {"cron", 9}, {"authpriv", 10}, {"ftp", 11},
    {"local0", 16}, {"local1", 17}, {"local2", 18}, {"local3", 19},
    {"local4", 20}, {"local5", 21}, {"local6", 22}, {"local7", 23},
};

int iw_facility_parse(const char *name)
{
    size_t i;
    if (!name) return -1;
    for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
        if (!strcasecmp(name, facilities[i].name)) return facilities[i].code;
    return -1;
}

/* Copy a header token: printable ASCII without spaces (RFC 5424 PRINTUSASCII),
 * others replaced by '_', at most max bytes; "-" when empty. */
static size_t token(char *out, const char *s, size_t max)
{
    size_t n = 0;
    for (; s && *s && n < max; s++)
        out[n++] = (*s > 32 && *s < 127) ? *s : '_';
    if (n == 0) out[n++] = '-';
    out[n] = '\0';
    return n;
}

size_t iw_syslog_frame(char *out, size_t size, iw_format_t fmt, int facility,
                       iw_level_t lvl, apr_time_t t, const char *hostname,
                       const char *app, long pid, const char *msg, size_t msglen)
{
    static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char hdr[IW_SYSLOG_HDR_MAX], host[256], tag[49], ts[64], procid[24];
    int pri, n = 0;
    size_t copy;
    apr_time_exp_t x;

    if (!out || size == 0) return 0;
    if (facility < 0 || facility > 23) facility = 16;
    pri = facility * 8 + iw_level_to_severity(lvl);
    token(tag, app ? app : "iocwatch", 48);
    if (pid > 0) snprintf(procid, sizeof(procid), "%ld", pid);
    else strcpy(procid, "-");

    if (fmt == IW_FORMAT_RFC5424) {
        token(host, hostname, 255);
        iw_alert_iso_time(ts, sizeof(ts), t);
        n = snprintf(hdr, sizeof(hdr), "<%d>1 %s %s %s %s - - ", pri, ts, host,
                     tag, procid);
    } else if (fmt == IW_FORMAT_RFC3164) {
        apr_time_exp_lt(&x, t);
        tag[32] = '\0';             /* RFC 3164: TAG is at most 32 chars */
        n = snprintf(hdr, sizeof(hdr), "<%d>%s %2d %02d:%02d:%02d ", pri,
                     mon[x.tm_mon % 12], x.tm_mday % 100, x.tm_hour % 100,
                     x.tm_min % 100, x.tm_sec % 100);
        if (hostname && n > 0 && (size_t)n < sizeof(hdr)) {
            token(host, hostname, 255);
            n += snprintf(hdr + n, sizeof(hdr) - n, "%s ", host);
        }
        if (n > 0 && (size_t)n < sizeof(hdr))
            n += snprintf(hdr + n, sizeof(hdr) - n, pid > 0 ? "%s[%s]: " : "%s: ",
                          tag, procid);
    }
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof(hdr)) n = sizeof(hdr) - 1;
    if ((size_t)n >= size) n = (int)(size - 1);
    memcpy(out, hdr, n);
    copy = msg ? msglen : 0;
    if (copy > size - 1 - n) copy = size - 1 - n;
    if (copy) memcpy(out + n, msg, copy);
    out[n + copy] = '\0';
    return n + copy;
}
