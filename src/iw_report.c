/* SPDX-License-Identifier: Apache-2.0 */
/* iw_report: the digest of alert JSON (see iw_report.h).
 *
 * One pass over the inputs: each line's alert (the JSON from its first
 * '{', so raw syslog lines work too) is read by a small tolerant JSON
 * walker that keeps only the fields the report needs, and counted into
 * hash tables.  Clients' first sighting is taken over every line read, in
 * and out of the range, so "new" means first seen within the range (in
 * any order of files).  Lines that are no alert are counted and the first
 * few named (file:line) on stderr: nothing is skipped silently. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <apr_general.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "iw_report.h"

#define RPT_TOP_DEFAULT 10
#define RPT_MAX_INCIDENTS 1000
#define RPT_MAX_HOURS (24 * 62)        /* longer ranges: one bar per day */
#define RPT_BAD_SHOWN 5

enum { LV_CRITICAL, LV_HIGH, LV_MEDIUM, LV_LOW, LV_INFO, LV_OTHER, LV_N };
static const char *const lv_names[LV_N] = {
    "critical", "high", "medium", "low", "informational", "other"
};
static const char *const lv_colors[LV_N] = {
    "#7f0000", "#d7301f", "#fc8d59", "#fdcc8a", "#9ecae1", "#bdbdbd"
};

/* ---- the fields of one alert ------------------------------------------- */

typedef struct rf {
    char ts[48], rule_id[160], rule_name[256], level[24], client[80];
    char domain[256], server[256], host[256], url[512], message[512];
    char corr_type[32], group[256];
    long long corr_count;
    int is_corr;
} rf_t;

typedef struct jw {                 /* JSON walker */
    const char *p, *end;
    char path[256];
    size_t plen;
    int depth;
    rf_t *f;
} jw_t;

static void skip_ws(jw_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static void put_utf8(char *o, size_t cap, size_t *n, unsigned cp)
{
    char b[4];
    size_t k = 0, i;
    if (cp < 0x80) b[k++] = (char)cp;
    else if (cp < 0x800) { b[k++] = (char)(0xc0 | cp >> 6); b[k++] = (char)(0x80 | (cp & 0x3f)); }
    else if (cp < 0x10000) {
        b[k++] = (char)(0xe0 | cp >> 12); b[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[k++] = (char)(0x80 | (cp & 0x3f));
    } else {
        b[k++] = (char)(0xf0 | cp >> 18); b[k++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[k++] = (char)(0x80 | ((cp >> 6) & 0x3f)); b[k++] = (char)(0x80 | (cp & 0x3f));
    }
    if (*n + k >= cap) return;      /* cut whole characters only */
    for (i = 0; i < k; i++) o[(*n)++] = b[i];
}

static int hex4(const char *s, unsigned *v)
{
    int i;
    *v = 0;
    for (i = 0; i < 4; i++) {
        int c = s[i];
        *v <<= 4;
        if (c >= '0' && c <= '9') *v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') *v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') *v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    return 0;
}

/* A string at j->p (the opening quote), unescaped into o (NUL-terminated,
 * cut to cap).  -1 when malformed. */
static int jw_string(jw_t *j, char *o, size_t cap)
{
    size_t n = 0;
    if (j->p >= j->end || *j->p != '"') return -1;
    j->p++;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p++;
        if (c == '\\') {
            unsigned cp;
            if (j->p >= j->end) return -1;
            c = (unsigned char)*j->p++;
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u':
                if (j->end - j->p < 4 || hex4(j->p, &cp) < 0) return -1;
                j->p += 4;
                if (cp >= 0xd800 && cp < 0xdc00 && j->end - j->p >= 6 && j->p[0] == '\\'
                    && j->p[1] == 'u') {
                    unsigned lo;
                    if (hex4(j->p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        j->p += 6;
                    }
                }
                if (cp >= 0xd800 && cp < 0xe000) cp = 0xfffd;
                if (o) put_utf8(o, cap, &n, cp);
                continue;
            default: break;         /* \" \\ \/ and anything else: itself */
            }
        }
        if (o && n + 1 < cap) o[n++] = (char)c;
    }
    if (j->p >= j->end) return -1;
    j->p++;
    if (o && cap) o[n] = '\0';
    return 0;
}

static char *field_for(rf_t *f, const char *path, size_t *cap)
{
    static const struct { const char *path; size_t off, cap; } map[] = {
#define M(p, m) { p, offsetof(rf_t, m), sizeof(((rf_t *)0)->m) }
        M("@timestamp", ts), M("rule.id", rule_id), M("rule.name", rule_name),
        M("log.level", level), M("source.ip", client), M("source.address", client),
        M("url.domain", domain), M("server.address", server), M("host.name", host),
        M("url.original", url), M("message", message),
        M("iocwatch.correlation.type", corr_type),
#undef M
    };
    size_t i;
    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(map[i].path, path)) {
            *cap = map[i].cap;
            return (char *)f + map[i].off;
        }
    return NULL;
}

static int jw_value(jw_t *j);

/* A leaf string at the current path. */
static int jw_leaf_string(jw_t *j)
{
    char buf[512];
    size_t cap;
    char *dst = field_for(j->f, j->path, &cap);
    static const char grp[] = "iocwatch.correlation.group";
    if (jw_string(j, buf, sizeof(buf)) < 0) return -1;
    if (dst && !dst[0])
        snprintf(dst, cap, "%s", buf);
    if (!strncmp(j->path, grp, sizeof(grp) - 1)) {
        rf_t *f = j->f;
        size_t n = strlen(f->group);
        const char *key = j->path[sizeof(grp) - 1] == '.' ? j->path + sizeof(grp) : NULL;
        snprintf(f->group + n, sizeof(f->group) - n, "%s%s%s%s", n ? "," : "",
                 key ? key : "", key ? "=" : "", buf);
    }
    return 0;
}

static int jw_object(jw_t *j)
{
    char key[128];
    j->p++;
    if (j->depth++ > 64) return -1;
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') { j->p++; j->depth--; return 0; }
    for (;;) {
        size_t saved = j->plen;
        skip_ws(j);
        if (jw_string(j, key, sizeof(key)) < 0) return -1;
        skip_ws(j);
        if (j->p >= j->end || *j->p != ':') return -1;
        j->p++;
        skip_ws(j);
        j->plen += (size_t)snprintf(j->path + j->plen, sizeof(j->path) - j->plen, "%s%s",
                                    saved ? "." : "", key);
        if (j->plen >= sizeof(j->path)) j->plen = sizeof(j->path) - 1;
        if (!strcmp(j->path, "iocwatch.correlation") && j->p < j->end && *j->p == '{')
            j->f->is_corr = 1;
        if (jw_value(j) < 0) return -1;
        j->plen = saved;
        j->path[saved] = '\0';
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') { j->p++; continue; }
        if (j->p < j->end && *j->p == '}') { j->p++; j->depth--; return 0; }
        return -1;
    }
}

static int jw_array(jw_t *j)
{
    j->p++;
    if (j->depth++ > 64) return -1;
    skip_ws(j);
    if (j->p < j->end && *j->p == ']') { j->p++; j->depth--; return 0; }
    for (;;) {
        skip_ws(j);
        if (j->p < j->end && *j->p == '"') {    /* array elements: no field */
            if (jw_string(j, NULL, 0) < 0) return -1;
        } else if (jw_value(j) < 0) return -1;
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') { j->p++; continue; }
        if (j->p < j->end && *j->p == ']') { j->p++; j->depth--; return 0; }
        return -1;
    }
}

static int jw_value(jw_t *j)
{
    skip_ws(j);
    if (j->p >= j->end) return -1;
    switch (*j->p) {
    case '{': return jw_object(j);
    case '[': return jw_array(j);
    case '"': return jw_leaf_string(j);
    default: {
        const char *s = j->p;
        while (j->p < j->end && (isalnum((unsigned char)*j->p) || *j->p == '-'
                                 || *j->p == '+' || *j->p == '.'))
            j->p++;
        if (j->p == s) return -1;
        if (!strcmp(j->path, "iocwatch.correlation.count"))
            j->f->corr_count = strtoll(s, NULL, 10);
        return 0;
    }
    }
}

/* ---- time --------------------------------------------------------------- */

/* "2026-12-06T10:00:00.000Z", "2026-12-06 10:00", "2026-12-06",
 * with an optional Z or +hh:mm / -hhmm; no zone = UTC.  -1 when invalid. */
static int parse_time(const char *s, int64_t *out)
{
    struct tm tm;
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0, sign, oh, om = 0;
    int64_t t;
    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3) return -1;
    s += n;
    if ((*s == 'T' || *s == ' ') && isdigit((unsigned char)s[1])) {
        n = 0;
        if (sscanf(s + 1, "%2d:%2d%n", &h, &mi, &n) != 2) return -1;
        s += 1 + n;
        if (*s == ':') {
            n = 0;
            if (sscanf(s + 1, "%2d%n", &sec, &n) != 1) return -1;
            s += 1 + n;
            if (*s == '.') { s++; while (isdigit((unsigned char)*s)) s++; }
        }
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return -1;
    tm.tm_year = y - 1900; tm.tm_mon = mo - 1; tm.tm_mday = d;
    tm.tm_hour = h; tm.tm_min = mi; tm.tm_sec = sec;
    t = (int64_t)timegm(&tm);
    if (*s == 'Z' || *s == 'z') s++;
    else if (*s == '+' || *s == '-') {
        sign = *s == '-' ? -1 : 1;
        n = 0;
        if (sscanf(s + 1, "%2d%n", &oh, &n) != 1 || n != 2) return -1;
        s += 1 + n;
        if (*s == ':') s++;
        if (isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1])) {
            om = (s[0] - '0') * 10 + (s[1] - '0');
            s += 2;
        }
        if (oh > 23 || om > 59) return -1;
        t -= sign * (oh * 3600 + om * 60);
    }
    if (*s) return -1;
    *out = t;
    return 0;
}

/* "24h", "90m", "7d", "1w", "3600" (seconds) */
static int parse_span(const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    int64_t mul = 1;
    if (end == s || v < 0) return -1;
    switch (*end) {
    case '\0': case 's': mul = 1; break;
    case 'm': mul = 60; break;
    case 'h': mul = 3600; break;
    case 'd': mul = 86400; break;
    case 'w': mul = 7 * 86400; break;
    default: return -1;
    }
    if (*end && end[1]) return -1;
    *out = (int64_t)v * mul;
    return 0;
}

static const char *fmt_time(char *buf, size_t n, int64_t t, const char *fmt)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, fmt, &tm);
    return buf;
}

/* ---- counting ----------------------------------------------------------- */

typedef struct cnt {
    const char *key, *label;
    uint64_t n;
    int level;                      /* highest level seen (lowest LV_ index) */
    int64_t first, last;            /* clients: first sighting over all input */
    uint64_t in_range;
} cnt_t;

typedef struct incident {
    int64_t t;
    int level;
    const char *rule, *group, *type;
    long long count;
} incident_t;

typedef struct rpt {
    apr_pool_t *p;
    int64_t from, to;               /* [from, to); INT64_MIN/MAX: open */
    int have_from, have_to, since, top;
    enum { F_TEXT, F_HTML, F_JSON } format;
    /* results */
    uint64_t lines, alerts, bad, files, levels[LV_N], corr_alerts;
    int64_t tmin, tmax;             /* of the alerts in range */
    apr_hash_t *rules, *clients, *targets, *minutes;
    apr_array_header_t *incidents;
    uint64_t incidents_more;
    apr_array_header_t *times;      /* int64_t t and int level of each alert in range */
} rpt_t;

typedef struct tl { int64_t t; int level; } tl_t;

static int level_index(const char *s)
{
    int i;
    for (i = 0; i < LV_OTHER; i++)
        if (!strcasecmp(s, lv_names[i])) return i;
    return LV_OTHER;
}

static cnt_t *count(rpt_t *r, apr_hash_t *h, const char *key, const char *label)
{
    cnt_t *c = apr_hash_get(h, key, APR_HASH_KEY_STRING);
    if (!c) {
        c = apr_pcalloc(r->p, sizeof(*c));
        c->key = apr_pstrdup(r->p, key);
        c->label = label ? apr_pstrdup(r->p, label) : c->key;
        c->level = LV_N;
        c->first = INT64_MAX;
        c->last = INT64_MIN;
        apr_hash_set(h, c->key, APR_HASH_KEY_STRING, c);
    }
    return c;
}

static void add_alert(rpt_t *r, const rf_t *f, int64_t t)
{
    int lv = level_index(f->level);
    const char *target = f->domain[0] ? f->domain : f->server[0] ? f->server
                       : f->host[0] ? f->host : "-";
    const char *rule = f->rule_id[0] ? f->rule_id : f->rule_name[0] ? f->rule_name : "-";
    cnt_t *c;
    char mk[32];

    if (f->client[0]) {             /* first sighting: over all input */
        c = count(r, r->clients, f->client, NULL);
        if (t < c->first) c->first = t;
        if (t > c->last) c->last = t;
    }
    if (t < r->from || t >= r->to)
        return;
    r->alerts++;
    r->levels[lv]++;
    if (t < r->tmin) r->tmin = t;
    if (t > r->tmax) r->tmax = t;
    c = count(r, r->rules, rule, f->rule_name[0] ? f->rule_name : rule);
    c->n++;
    if (lv < c->level) c->level = lv;
    if (f->client[0]) {
        c = count(r, r->clients, f->client, NULL);
        c->in_range++;
        if (lv < c->level) c->level = lv;
    }
    c = count(r, r->targets, target, NULL);
    c->n++;
    snprintf(mk, sizeof(mk), "%" PRId64, t / 60);
    count(r, r->minutes, mk, NULL)->n++;
    {
        tl_t *e = &APR_ARRAY_PUSH(r->times, tl_t);
        e->t = t;
        e->level = lv;
    }
    if (f->is_corr) {
        r->corr_alerts++;
        if (r->incidents->nelts < RPT_MAX_INCIDENTS) {
            incident_t *in = &APR_ARRAY_PUSH(r->incidents, incident_t);
            in->t = t;
            in->level = lv;
            in->rule = apr_pstrdup(r->p, f->rule_name[0] ? f->rule_name : rule);
            in->group = apr_pstrdup(r->p, f->group[0] ? f->group : f->client);
            in->type = apr_pstrdup(r->p, f->corr_type);
            in->count = f->corr_count;
        } else
            r->incidents_more++;
    }
}

static void bad_line(rpt_t *r, const char *name, uint64_t ln, const char *why)
{
    if (r->bad++ < RPT_BAD_SHOWN)
        fprintf(stderr, "iocwatch report: %s:%" PRIu64 ": %s\n", name, ln, why);
}

static void read_line(rpt_t *r, const char *name, uint64_t ln, const char *s, size_t len)
{
    const char *b = memchr(s, '{', len);
    rf_t f;
    jw_t j;
    int64_t t;
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r')) len--;
    if (!len) return;
    r->lines++;
    if (!b) { bad_line(r, name, ln, "no JSON object"); return; }
    memset(&f, 0, sizeof(f));
    memset(&j, 0, sizeof(j));
    j.p = b;
    j.end = s + len;
    j.f = &f;
    if (jw_value(&j) < 0) { bad_line(r, name, ln, "malformed JSON"); return; }
    if (!f.ts[0] || parse_time(f.ts, &t) < 0) {
        bad_line(r, name, ln, "no valid @timestamp");
        return;
    }
    if (!f.rule_id[0] && !f.rule_name[0]) { bad_line(r, name, ln, "no rule.id"); return; }
    add_alert(r, &f, t);
}

/* A .gz file is read through `gzip -dc` (no shell: the name is an argv
 * element). */
static FILE *open_input(const char *name, pid_t *pid)
{
    size_t n = strlen(name);
    int fd[2];
    *pid = 0;
    if (!strcmp(name, "-")) return stdin;
    if (n < 3 || strcmp(name + n - 3, ".gz")) return fopen(name, "r");
    if (access(name, R_OK) != 0 || pipe(fd) != 0) return NULL;
    if ((*pid = fork()) < 0) { close(fd[0]); close(fd[1]); return NULL; }
    if (*pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]); close(fd[1]);
        execlp("gzip", "gzip", "-dc", "--", name, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    return fdopen(fd[0], "r");
}

static int read_input(rpt_t *r, const char *name)
{
    pid_t pid;
    FILE *fp = open_input(name, &pid);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t ln = 0;
    int rc = 0, st;
    if (!fp) {
        fprintf(stderr, "iocwatch report: %s: %s\n", name, strerror(errno));
        return -1;
    }
    r->files++;
    while ((len = getline(&line, &cap, fp)) >= 0)
        read_line(r, name, ++ln, line, (size_t)len);
    free(line);
    if (ferror(fp)) {
        fprintf(stderr, "iocwatch report: %s: read error\n", name);
        rc = -1;
    }
    if (fp != stdin) fclose(fp);
    if (pid > 0 && (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))) {
        fprintf(stderr, "iocwatch report: %s: gzip -dc failed (not gzip data, or cut short)\n",
                name);
        rc = -1;
    }
    return rc;
}

/* ---- sorting ------------------------------------------------------------ */

static int by_count(const void *a, const void *b)
{
    const cnt_t *x = *(cnt_t *const *)a, *y = *(cnt_t *const *)b;
    if (x->n != y->n) return x->n < y->n ? 1 : -1;
    return strcmp(x->key, y->key);
}

static int by_first(const void *a, const void *b)
{
    const cnt_t *x = *(cnt_t *const *)a, *y = *(cnt_t *const *)b;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* Entries of h as a sorted array; for clients, n = alerts in range and
 * only clients with alerts in range (new: first seen in range). */
static apr_array_header_t *sorted(rpt_t *r, apr_hash_t *h, int clients, int only_new)
{
    apr_array_header_t *a = apr_array_make(r->p, 16, sizeof(cnt_t *));
    apr_hash_index_t *hi;
    for (hi = apr_hash_first(r->p, h); hi; hi = apr_hash_next(hi)) {
        cnt_t *c = apr_hash_this_val(hi);
        if (clients) {
            c->n = c->in_range;
            if (!c->n || (only_new && c->first < r->from)) continue;
        }
        APR_ARRAY_PUSH(a, cnt_t *) = c;
    }
    qsort(a->elts, (size_t)a->nelts, sizeof(cnt_t *), only_new ? by_first : by_count);
    return a;
}

#define CNT(a, i) APR_ARRAY_IDX(a, i, cnt_t *)

static int64_t range_from(const rpt_t *r) { return r->have_from ? r->from : r->tmin; }
static int64_t range_to(const rpt_t *r) { return r->have_to ? r->to : r->tmax + 1; }

/* ---- text --------------------------------------------------------------- */

typedef struct view {
    apr_array_header_t *rules, *clients, *newc, *targets, *minutes;
} view_t;

static void out_text(rpt_t *r, const view_t *v)
{
    char b1[40], b2[40];
    int i, n;
    printf("iocwatch report: %s .. %s\n",
           r->alerts || r->have_from ? fmt_time(b1, sizeof(b1), range_from(r), "%Y-%m-%d %H:%M UTC") : "-",
           r->alerts || r->have_to ? fmt_time(b2, sizeof(b2), range_to(r), "%Y-%m-%d %H:%M UTC") : "-");
    printf("alerts: %" PRIu64 " (", r->alerts);
    for (i = 0; i < LV_N; i++)
        printf("%s%s %" PRIu64, i ? ", " : "", lv_names[i], r->levels[i]);
    printf(")\ncorrelation incidents: %" PRIu64 "; clients: %d (%d new); rules: %d; targets: %d\n",
           r->corr_alerts, v->clients->nelts, v->newc->nelts, v->rules->nelts, v->targets->nelts);
    printf("input: %" PRIu64 " file(s), %" PRIu64 " line(s), %" PRIu64 " not alerts\n",
           r->files, r->lines, r->bad);

    printf("\nTop rules\n%8s  %-13s  %s\n", "alerts", "level", "rule");
    for (i = 0, n = v->rules->nelts; i < n && i < r->top; i++)
        printf("%8" PRIu64 "  %-13s  %s (%s)\n", CNT(v->rules, i)->n,
               lv_names[CNT(v->rules, i)->level < LV_N ? CNT(v->rules, i)->level : LV_OTHER],
               CNT(v->rules, i)->label, CNT(v->rules, i)->key);
    printf("\nTop clients\n%8s  %-13s  %-20s  %s\n", "alerts", "level", "first seen", "client");
    for (i = 0, n = v->clients->nelts; i < n && i < r->top; i++)
        printf("%8" PRIu64 "  %-13s  %-20s  %s%s\n", CNT(v->clients, i)->n,
               lv_names[CNT(v->clients, i)->level < LV_N ? CNT(v->clients, i)->level : LV_OTHER],
               fmt_time(b1, sizeof(b1), CNT(v->clients, i)->first, "%Y-%m-%d %H:%M:%S"),
               CNT(v->clients, i)->key, CNT(v->clients, i)->first >= range_from(r) ? " (new)" : "");
    printf("\nTargets\n%8s  %s\n", "alerts", "target");
    for (i = 0, n = v->targets->nelts; i < n && i < r->top; i++)
        printf("%8" PRIu64 "  %s\n", CNT(v->targets, i)->n, CNT(v->targets, i)->key);
    printf("\nNew clients (first seen in the range)\n%-20s  %8s  %s\n", "first seen", "alerts", "client");
    for (i = 0, n = v->newc->nelts; i < n && i < r->top; i++)
        printf("%-20s  %8" PRIu64 "  %s\n",
               fmt_time(b1, sizeof(b1), CNT(v->newc, i)->first, "%Y-%m-%d %H:%M:%S"),
               CNT(v->newc, i)->n, CNT(v->newc, i)->key);
    if (v->newc->nelts > r->top) printf("... and %d more\n", v->newc->nelts - r->top);
    printf("\nCorrelation incidents\n%-20s  %-13s  %6s  %-28s  %s\n", "time", "level", "count",
           "group", "rule");
    for (i = 0; i < r->incidents->nelts; i++) {
        const incident_t *in = &APR_ARRAY_IDX(r->incidents, i, incident_t);
        printf("%-20s  %-13s  %6lld  %-28s  %s\n", fmt_time(b1, sizeof(b1), in->t, "%Y-%m-%d %H:%M:%S"),
               lv_names[in->level], in->count, in->group, in->rule);
    }
    if (r->incidents_more) printf("... and %" PRIu64 " more\n", r->incidents_more);
    printf("\nBusiest minutes\n%-17s  %8s\n", "minute (UTC)", "alerts");
    for (i = 0, n = v->minutes->nelts; i < n && i < r->top; i++)
        printf("%-17s  %8" PRIu64 "\n",
               fmt_time(b1, sizeof(b1), strtoll(CNT(v->minutes, i)->key, NULL, 10) * 60,
                        "%Y-%m-%d %H:%M"), CNT(v->minutes, i)->n);
}

/* ---- JSON --------------------------------------------------------------- */

static void jstr(FILE *o, const char *s)
{
    fputc('"', o);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(o, "\\%c", c);
        else if (c < 0x20) fprintf(o, "\\u%04x", c);
        else fputc(c, o);
    }
    fputc('"', o);
}

static void jtime(FILE *o, int64_t t)
{
    char b[40];
    jstr(o, fmt_time(b, sizeof(b), t, "%Y-%m-%dT%H:%M:%SZ"));
}

static void j_counts(FILE *o, const char *name, apr_array_header_t *a, int top, int with_label)
{
    int i;
    fprintf(o, ",\"%s\":[", name);
    for (i = 0; i < a->nelts && i < top; i++) {
        fprintf(o, "%s{\"key\":", i ? "," : "");
        jstr(o, CNT(a, i)->key);
        if (with_label) { fputs(",\"name\":", o); jstr(o, CNT(a, i)->label); }
        if (CNT(a, i)->level < LV_N) fprintf(o, ",\"level\":\"%s\"", lv_names[CNT(a, i)->level]);
        fprintf(o, ",\"alerts\":%" PRIu64 "}", CNT(a, i)->n);
    }
    fputc(']', o);
}

static void out_json(rpt_t *r, const view_t *v)
{
    FILE *o = stdout;
    int i;
    fputs("{\"from\":", o);
    if (r->alerts || r->have_from) jtime(o, range_from(r)); else fputs("null", o);
    fputs(",\"to\":", o);
    if (r->alerts || r->have_to) jtime(o, range_to(r)); else fputs("null", o);
    fprintf(o, ",\"alerts\":%" PRIu64 ",\"levels\":{", r->alerts);
    for (i = 0; i < LV_N; i++)
        fprintf(o, "%s\"%s\":%" PRIu64, i ? "," : "", lv_names[i], r->levels[i]);
    fprintf(o, "},\"input\":{\"files\":%" PRIu64 ",\"lines\":%" PRIu64 ",\"not_alerts\":%"
            PRIu64 "},\"clients\":%d,\"new_clients\":%d,\"correlation_incidents\":%" PRIu64,
            r->files, r->lines, r->bad, v->clients->nelts, v->newc->nelts, r->corr_alerts);
    j_counts(o, "by_rule", v->rules, r->top, 1);
    j_counts(o, "by_client", v->clients, r->top, 0);
    j_counts(o, "by_target", v->targets, r->top, 0);
    fputs(",\"new_client_list\":[", o);
    for (i = 0; i < v->newc->nelts && i < r->top; i++) {
        fprintf(o, "%s{\"client\":", i ? "," : "");
        jstr(o, CNT(v->newc, i)->key);
        fputs(",\"first_seen\":", o);
        jtime(o, CNT(v->newc, i)->first);
        fprintf(o, ",\"alerts\":%" PRIu64 "}", CNT(v->newc, i)->n);
    }
    fputs("],\"incidents\":[", o);
    for (i = 0; i < r->incidents->nelts; i++) {
        const incident_t *in = &APR_ARRAY_IDX(r->incidents, i, incident_t);
        fprintf(o, "%s{\"time\":", i ? "," : "");
        jtime(o, in->t);
        fprintf(o, ",\"level\":\"%s\",\"rule\":", lv_names[in->level]);
        jstr(o, in->rule);
        fputs(",\"group\":", o);
        jstr(o, in->group);
        fputs(",\"type\":", o);
        jstr(o, in->type);
        fprintf(o, ",\"count\":%lld}", in->count);
    }
    fputs("],\"busiest_minutes\":[", o);
    for (i = 0; i < v->minutes->nelts && i < r->top; i++) {
        fprintf(o, "%s{\"minute\":", i ? "," : "");
        jtime(o, strtoll(CNT(v->minutes, i)->key, NULL, 10) * 60);
        fprintf(o, ",\"alerts\":%" PRIu64 "}", CNT(v->minutes, i)->n);
    }
    fputs("]}\n", o);
}

/* ---- HTML --------------------------------------------------------------- */

static void h(FILE *o, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '&': fputs("&amp;", o); break;
        case '"': fputs("&quot;", o); break;
        case '\'': fputs("&#39;", o); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\t') fputc(' ', o);
            else fputc(*s, o);
        }
    }
}

/* Alerts per hour (per day for long ranges) by level, stacked bars. */
static void svg_timeline(FILE *o, rpt_t *r)
{
    const int W = 960, H = 240, L = 48, R = 12, T = 12, B = 40;
    int64_t from = range_from(r), to = range_to(r), step = 3600, b0, nb, i, lstep;
    uint64_t (*bins)[LV_N], max = 1;
    char lab[40];
    double bw;
    int k;
    if (to - from > (int64_t)RPT_MAX_HOURS * 3600) step = 86400;
    b0 = from / step;
    nb = (to - 1) / step - b0 + 1;
    if (nb < 1) nb = 1;
    bins = calloc((size_t)nb, sizeof(*bins));
    if (!bins) return;
    for (i = 0; i < r->times->nelts; i++) {
        const tl_t *e = &APR_ARRAY_IDX(r->times, i, tl_t);
        int64_t bi = e->t / step - b0;
        if (bi >= 0 && bi < nb) bins[bi][e->level]++;
    }
    for (i = 0; i < nb; i++) {
        uint64_t s = 0;
        for (k = 0; k < LV_N; k++) s += bins[i][k];
        if (s > max) max = s;
    }
    bw = (double)(W - L - R) / (double)nb;
    fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"alerts per %s by level\">\n",
            W, H, W, H, step == 3600 ? "hour" : "day");
    fprintf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n",
            L, H - B, W - R, H - B);
    fprintf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"11\">%" PRIu64 "</text>\n"
            "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"11\">0</text>\n",
            L - 4, T + 10, max, L - 4, H - B);
    for (i = 0; i < nb; i++) {
        double y = H - B;
        for (k = 0; k < LV_N; k++) {
            double hh;
            if (!bins[i][k]) continue;
            hh = (double)(H - B - T) * (double)bins[i][k] / (double)max;
            y -= hh;
            fprintf(o, "<rect class=\"lv-%s\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                    "fill=\"%s\"><title>%s: %" PRIu64 " %s</title></rect>\n",
                    lv_names[k], L + i * bw + (bw > 3 ? 0.5 : 0), y, bw > 3 ? bw - 1 : bw, hh,
                    lv_colors[k], fmt_time(lab, sizeof(lab), (b0 + i) * step,
                                           step == 3600 ? "%Y-%m-%d %H:00" : "%Y-%m-%d"),
                    bins[i][k], lv_names[k]);
        }
    }
    lstep = (nb + 11) / 12;          /* at most 12 labels */
    for (i = 0; i < nb; i += lstep)
        fprintf(o, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">%s</text>\n",
                L + (i + 0.5) * bw, H - B + 14,
                fmt_time(lab, sizeof(lab), (b0 + i) * step, step == 3600 ? "%d %H:00" : "%m-%d"));
    for (k = 0; k < LV_N; k++)
        fprintf(o, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>\n",
                L + k * 110, H - 14, lv_colors[k], L + k * 110 + 14, H - 5, lv_names[k]);
    fputs("</svg>\n", o);
    free(bins);
}

static void h_table(FILE *o, const char *title, apr_array_header_t *a, int top, int kind,
                    const rpt_t *r)
{
    char b[40];
    int i;
    fprintf(o, "<h2>%s</h2>\n<table>\n<tr><th class=\"n\">alerts</th>", title);
    if (kind == 0) fputs("<th>level</th><th>rule</th><th>id</th></tr>\n", o);
    else if (kind == 1) fputs("<th>level</th><th>first seen (UTC)</th><th>client</th></tr>\n", o);
    else fputs("<th>target</th></tr>\n", o);
    for (i = 0; i < a->nelts && i < top; i++) {
        const cnt_t *c = CNT(a, i);
        fprintf(o, "<tr><td class=\"n\">%" PRIu64 "</td>", c->n);
        if (kind <= 1)
            fprintf(o, "<td><span class=\"lv lv-%s\">%s</span></td>",
                    lv_names[c->level < LV_N ? c->level : LV_OTHER],
                    lv_names[c->level < LV_N ? c->level : LV_OTHER]);
        fputs("<td>", o);
        if (kind == 0) { h(o, c->label); fputs("</td><td class=\"id\">", o); h(o, c->key); }
        else if (kind == 1) {
            fputs(fmt_time(b, sizeof(b), c->first, "%Y-%m-%d %H:%M:%S"), o);
            fputs("</td><td>", o);
            h(o, c->key);
            if (c->first >= range_from(r)) fputs(" <b>new</b>", o);
        } else h(o, c->key);
        fputs("</td></tr>\n", o);
    }
    if (!a->nelts) fprintf(o, "<tr><td colspan=\"4\">none</td></tr>\n");
    fputs("</table>\n", o);
}

static void out_html(rpt_t *r, const view_t *v)
{
    FILE *o = stdout;
    char b1[40], b2[40];
    int i;
    const char *f1 = r->alerts || r->have_from ? fmt_time(b1, sizeof(b1), range_from(r), "%Y-%m-%d %H:%M UTC") : "-";
    const char *f2 = r->alerts || r->have_to ? fmt_time(b2, sizeof(b2), range_to(r), "%Y-%m-%d %H:%M UTC") : "-";
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'\">\n<title>iocwatch report ", o);
    h(o, f1); fputs(" .. ", o); h(o, f2);
    fputs("</title>\n<style>\n"
          "body{font-family:sans-serif;margin:1.5em;color:#222}\n"
          "table{border-collapse:collapse;margin-bottom:1em}\n"
          "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}\n"
          "td.n,th.n{text-align:right}\ntd.id{font-family:monospace;font-size:90%}\n"
          ".lv{padding:0 4px;border-radius:3px}\n", o);
    for (i = 0; i < LV_N; i++)
        fprintf(o, ".lv-%s{background:%s;color:%s}\n", lv_names[i], lv_colors[i], i < 2 ? "#fff" : "#000");
    fputs("</style>\n</head>\n<body>\n<h1>iocwatch report</h1>\n<p>", o);
    h(o, f1); fputs(" &ndash; ", o); h(o, f2);
    fprintf(o, "</p>\n<table>\n<tr><th>alerts</th><td class=\"n\">%" PRIu64 "</td></tr>\n", r->alerts);
    for (i = 0; i < LV_N; i++)
        if (r->levels[i] || i < LV_INFO)
            fprintf(o, "<tr><th><span class=\"lv lv-%s\">%s</span></th><td class=\"n\">%" PRIu64
                    "</td></tr>\n", lv_names[i], lv_names[i], r->levels[i]);
    fprintf(o, "<tr><th>correlation incidents</th><td class=\"n\">%" PRIu64 "</td></tr>\n"
            "<tr><th>clients (new)</th><td class=\"n\">%d (%d)</td></tr>\n"
            "<tr><th>rules</th><td class=\"n\">%d</td></tr>\n</table>\n",
            r->corr_alerts, v->clients->nelts, v->newc->nelts, v->rules->nelts);
    fputs("<h2>Alerts over time</h2>\n", o);
    svg_timeline(o, r);
    h_table(o, "Top rules", v->rules, r->top, 0, r);
    h_table(o, "Top clients", v->clients, r->top, 1, r);
    h_table(o, "Targets", v->targets, r->top, 2, r);
    fputs("<h2>New clients</h2>\n<table>\n<tr><th>first seen (UTC)</th><th class=\"n\">alerts</th>"
          "<th>client</th></tr>\n", o);
    for (i = 0; i < v->newc->nelts && i < r->top; i++) {
        fprintf(o, "<tr><td>%s</td><td class=\"n\">%" PRIu64 "</td><td>",
                fmt_time(b1, sizeof(b1), CNT(v->newc, i)->first, "%Y-%m-%d %H:%M:%S"), CNT(v->newc, i)->n);
        h(o, CNT(v->newc, i)->key);
        fputs("</td></tr>\n", o);
    }
    if (!v->newc->nelts) fputs("<tr><td colspan=\"3\">none</td></tr>\n", o);
    fputs("</table>\n<h2>Correlation incidents</h2>\n<table>\n<tr><th>time (UTC)</th><th>level</th>"
          "<th class=\"n\">count</th><th>group</th><th>rule</th></tr>\n", o);
    for (i = 0; i < r->incidents->nelts; i++) {
        const incident_t *in = &APR_ARRAY_IDX(r->incidents, i, incident_t);
        fprintf(o, "<tr><td>%s</td><td><span class=\"lv lv-%s\">%s</span></td><td class=\"n\">%lld</td><td>",
                fmt_time(b1, sizeof(b1), in->t, "%Y-%m-%d %H:%M:%S"), lv_names[in->level],
                lv_names[in->level], in->count);
        h(o, in->group);
        fputs("</td><td>", o);
        h(o, in->rule);
        fputs("</td></tr>\n", o);
    }
    if (!r->incidents->nelts) fputs("<tr><td colspan=\"5\">none</td></tr>\n", o);
    fputs("</table>\n<h2>Busiest minutes</h2>\n<table>\n<tr><th>minute (UTC)</th>"
          "<th class=\"n\">alerts</th></tr>\n", o);
    for (i = 0; i < v->minutes->nelts && i < r->top; i++)
        fprintf(o, "<tr><td>%s</td><td class=\"n\">%" PRIu64 "</td></tr>\n",
                fmt_time(b1, sizeof(b1), strtoll(CNT(v->minutes, i)->key, NULL, 10) * 60,
                         "%Y-%m-%d %H:%M"), CNT(v->minutes, i)->n);
    fprintf(o, "</table>\n<p><small>%" PRIu64 " file(s), %" PRIu64 " line(s), %" PRIu64
            " not alerts. Made by iocwatch report.</small></p>\n</body>\n</html>\n",
            r->files, r->lines, r->bad);
}

/* ---- command line ------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("usage: iocwatch report [--since SPAN | --from TIME [--to TIME]] [--format text|html|json]\n"
          "                       [--top N] FILE... (- = stdin, .gz read with gzip -dc)\n"
          "  Summary of alert JSON lines (the rsyslog alert file): counts by level, rule,\n"
          "  client and target, new clients, correlation incidents, busiest minutes.\n"
          "  SPAN: N[smhdw] (24h, 7d); TIME: 2026-12-06, 2026-12-06T10:00[:SS][Z|+hh:mm]\n"
          "  (UTC without a zone).  --to defaults to now with --since, else open.\n"
          "  --format html: one self-contained page (inline SVG timeline, no script).\n"
          "  --top N: rows per table (default 10).\n", f);
}

static const char *arg_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=') return argv[*i] + n + 1;
    if (!strcmp(argv[*i], name) && *i + 1 < argc) return argv[++*i];
    return NULL;
}

static int parse_report_args(rpt_t *r, int argc, char **argv, apr_array_header_t *in)
{
    const char *v;
    int i;
    int64_t span;
    for (i = 1; i < argc; i++) {
        if ((v = arg_value(argc, argv, &i, "--since"))) {
            if (parse_span(v, &span) < 0) {
                fprintf(stderr, "iocwatch report: --since wants N[smhdw] (e.g. 24h), got '%s'\n", v);
                return -1;
            }
            r->from = (int64_t)time(NULL) - span;
            r->have_from = 1;
            r->since = 1;
        } else if ((v = arg_value(argc, argv, &i, "--from"))) {
            if (parse_time(v, &r->from) < 0) {
                fprintf(stderr, "iocwatch report: --from: not a time: '%s'\n", v);
                return -1;
            }
            r->have_from = 1;
        } else if ((v = arg_value(argc, argv, &i, "--to"))) {
            if (parse_time(v, &r->to) < 0) {
                fprintf(stderr, "iocwatch report: --to: not a time: '%s'\n", v);
                return -1;
            }
            r->have_to = 1;
        } else if ((v = arg_value(argc, argv, &i, "--format"))) {
            if (!strcmp(v, "text")) r->format = F_TEXT;
            else if (!strcmp(v, "html")) r->format = F_HTML;
            else if (!strcmp(v, "json")) r->format = F_JSON;
            else {
                fprintf(stderr, "iocwatch report: --format wants text, html or json, got '%s'\n", v);
                return -1;
            }
        } else if ((v = arg_value(argc, argv, &i, "--top"))) {
            char *end;
            long n = strtol(v, &end, 10);
            if (end == v || *end || n < 1 || n > 100000) {
                fprintf(stderr, "iocwatch report: --top wants 1..100000, got '%s'\n", v);
                return -1;
            }
            r->top = (int)n;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            exit(0);
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "iocwatch report: unknown option '%s'\n", argv[i]);
            return -1;
        } else
            APR_ARRAY_PUSH(in, const char *) = argv[i];
    }
    if (!in->nelts) {
        fprintf(stderr, "iocwatch report: no input (FILE... or - for stdin)\n");
        return -1;
    }
    if (r->have_from && r->have_to && r->to <= r->from) {
        fprintf(stderr, "iocwatch report: --to is not after --from\n");
        return -1;
    }
    return 0;
}

int iw_report_main(int argc, char **argv)
{
    apr_pool_t *p;
    apr_array_header_t *in;
    rpt_t r;
    view_t v;
    int i, rc = 0;

    apr_initialize();
    apr_pool_create(&p, NULL);
    memset(&r, 0, sizeof(r));
    r.p = p;
    r.from = INT64_MIN;
    r.to = INT64_MAX;
    r.top = RPT_TOP_DEFAULT;
    r.tmin = INT64_MAX;
    r.tmax = INT64_MIN;
    in = apr_array_make(p, 4, sizeof(const char *));
    if (parse_report_args(&r, argc, argv, in) < 0) {
        usage(stderr);
        apr_pool_destroy(p);
        apr_terminate();
        return 2;
    }
    if (r.since && !r.have_to) {        /* --since: up to now */
        r.to = (int64_t)time(NULL) + 1;
        r.have_to = 1;
    }
    r.rules = apr_hash_make(p);
    r.clients = apr_hash_make(p);
    r.targets = apr_hash_make(p);
    r.minutes = apr_hash_make(p);
    r.incidents = apr_array_make(p, 16, sizeof(incident_t));
    r.times = apr_array_make(p, 1024, sizeof(tl_t));
    for (i = 0; i < in->nelts; i++)
        if (read_input(&r, APR_ARRAY_IDX(in, i, const char *)) < 0)
            rc = 1;
    if (r.bad > RPT_BAD_SHOWN)
        fprintf(stderr, "iocwatch report: %" PRIu64 " lines were not alerts (first %d named above)\n",
                r.bad, RPT_BAD_SHOWN);
    v.rules = sorted(&r, r.rules, 0, 0);
    v.clients = sorted(&r, r.clients, 1, 0);
    v.newc = sorted(&r, r.clients, 1, 1);
    v.targets = sorted(&r, r.targets, 0, 0);
    v.minutes = sorted(&r, r.minutes, 0, 0);
    if (!r.have_from)               /* open range: "new" = first seen at all */
        r.from = INT64_MIN;
    if (r.format == F_JSON) out_json(&r, &v);
    else if (r.format == F_HTML) out_html(&r, &v);
    else out_text(&r, &v);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "iocwatch report: cannot write the report: %s\n", strerror(errno));
        rc = 1;
    }
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
