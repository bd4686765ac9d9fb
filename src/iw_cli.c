/* SPDX-License-Identifier: Apache-2.0 */
/* iw_cli: the `iocwatch` command (contract in DESIGN.md).
 *
 *   iocwatch check RULES...
 *   iocwatch scan [--rules RULES]... [--format auto|combined|error|jsonl]
 *                 [--placeholder NAME=FILE]... [--min-level L] [--exclude ID]...
 *                 [--one-alert-per-request] [--progress|--no-progress]
 *                 [--jobs N] [--scan-cache N] [--inspect-limit SIZE] FILE...|-
 *   iocwatch --version
 *
 * scan prints one ECS JSON alert per line on stdout and a summary on stderr.
 * Malformed input lines are counted and reported with their line number.
 * Inputs may be gzip-compressed (zlib reads plain files unchanged).
 *
 * With --jobs N > 1 the reading thread cuts lines into batches, N workers
 * parse, evaluate and render each batch into its own buffer, and the
 * reading thread emits finished batches strictly in input order: stdout is
 * byte-identical to --jobs 1.  Correlation state is only touched by the
 * reading thread, in input order: workers note which lines fed a
 * correlation and the reader re-builds those events and replays the
 * update between the batch's alerts.  IOCWATCH_BATCH_LINES=N (tests) makes
 * batches smaller to exercise their boundaries. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <zlib.h>
#include <hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "iw_common.h"
#include "iw_rules.h"
#include "iw_engine.h"
#include "iw_corr.h"
#include "iw_alert.h"
#include "iw_logfmt.h"
#include "iw_engine_dbcache.h"
#include "iw_report.h"
#include "iw_vs.h"

#define CLI_MAX_LINE     (1024 * 1024)   /* longer lines are malformed */
#define CLI_READ_CHUNK   (1024 * 1024)
#define CLI_INSPECT      (1024 * 1024)   /* --inspect-limit default (IocWatchInspectLimit's) */
#define CLI_ALERT_BUF    (16 * 1024)
#define CLI_CORR_SLOTS   (1u << 16)
#define CLI_SHOW_MALFORMED 20            /* per run; the rest are counted */
#define CLI_BATCH_LINES  4096            /* a batch: this many lines ... */
#define CLI_BATCH_BYTES  CLI_MAX_LINE    /* ... or bytes (any accepted line fits) */
#define CLI_MAX_JOBS     64
_Static_assert(CLI_BATCH_BYTES >= CLI_MAX_LINE, "a batch holds any accepted line");

typedef struct cli_opts {
    apr_array_header_t *rules;        /* const char* paths */
    apr_array_header_t *inputs;       /* const char* paths, "-" = stdin */
    apr_array_header_t *placeholders; /* "NAME=FILE" */
    apr_array_header_t *exclude;      /* rule ids */
    iw_level_t min_level;
    int format;                       /* iw_input_format_t */
    int summary_mode;                 /* --one-alert-per-request: one alert
                                       * per event listing every rule */
    int progress;                     /* -1 auto (TTY), 0 off, 1 on */
    int jobs;                         /* worker threads; <= 1: serial */
    int scan_cache;                   /* engine opt: 0 default, < 0 off */
    size_t inspect_limit;             /* request bytes inspected in full */
} cli_opts_t;

typedef struct cli_stats {
    uint64_t lines, events, malformed, alerts, corr_alerts, bytes;
    uint64_t shown_malformed;
} cli_stats_t;

typedef struct cli_ctx cli_ctx_t;
typedef struct cli_batch cli_batch_t;

/* Parse/eval/render state of one thread: the main thread has one (serial
 * scan, correlation replay), each worker its own. */
typedef struct cli_thr {
    cli_ctx_t *c;
    iw_scratch_t *scratch;
    char *pbuf, *abuf;
    size_t pbuf_size;
    iw_parsed_t ps;                   /* reused per line: 2 KB not cleared per line */
    iw_event_t ev;
    uint64_t *rule_counts;            /* alerts per rule index */
    uint64_t *err_counts;             /* evaluation errors per rule index */
    iw_hit_t *sel;                    /* nrules: the hits a summary lists */
    pthread_t tid;
} cli_thr_t;

/* One input line of a batch; why != NULL: found malformed by the reader. */
typedef struct cli_line {
    size_t off;
    size_t len;
    uint64_t lineno;
    const char *why;
    int fmt;
} cli_line_t;

/* Something the in-order consumer must do at a point of the batch output:
 * report a malformed line (why != NULL), or replay a line's correlation
 * update after its detection alerts (out_off) with the rules it fed. */
typedef struct cli_note {
    uint64_t lineno;
    const char *why;
    size_t out_off;
    int line, feed0, nfeed;
} cli_note_t;

/* A batch of lines: filled by the reader, processed by one worker, emitted
 * by the reader thread strictly in input order. Buffers are reused. */
struct cli_batch {
    const char *name;
    char *data; size_t dlen;          /* the lines' bytes (CLI_BATCH_BYTES) */
    cli_line_t *lines; int nlines;    /* CLI_BATCH_LINES */
    char *out; size_t olen, ocap;     /* rendered detection alerts */
    cli_note_t *notes; int nnotes, notecap;
    const iw_rule_t **feeds; int nfeeds, feedcap;
    uint64_t events, alerts, lost;    /* lost: alerts/notes without memory */
    int done;                         /* under par.mu */
};

/* Fixed ring of batches: [tail, take) in workers' hands or done, [take,
 * head) queued, head = the batch being filled. */
typedef struct cli_par {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    cli_batch_t *ring;
    unsigned long nslots, head, take, tail;
    int stop, nthr;
    cli_thr_t *thr;
} cli_par_t;

struct cli_ctx {
    apr_pool_t *pool;
    cli_opts_t *o;
    const iw_engine_t *engine;
    const iw_corr_t *corr;
    void *corr_mem;
    unsigned char *feeds_corr;        /* per rule index: feeds a correlation */
    iw_hit_t *replay_hits;            /* nrules entries */
    char hostname[256];
    cli_stats_t st;
    int nrules, oom;
    int batch_lines;                  /* <= CLI_BATCH_LINES */
    cli_thr_t thr;                    /* the main thread's */
    cli_par_t *par;                   /* NULL: serial scan */
};

#ifndef IW_VERSION
#define IW_VERSION "unknown"
#endif

static void usage(FILE *f)
{
    fputs("usage: iocwatch check [RULES...]\n"
          "       iocwatch scan [--rules RULES]... [--format auto|combined|error|jsonl]\n"
          "                     [--placeholder NAME=FILE]... [--min-level LEVEL]\n"
          "                     [--exclude RULE-ID]... [--one-alert-per-request]\n"
          "                     [--[no-]progress] [--jobs N] [--scan-cache N]\n"
          "                     [--inspect-limit SIZE] FILE...|-\n"
          "       iocwatch --version\n"
          "RULES is a Sigma rule file, a directory (searched recursively for *.yml)\n"
          "or a glob.  scan prints one ECS JSON alert per line on stdout and a\n"
          "summary on stderr; the default rules are those of the installed\n"
          "module: /usr/share/iocwatch/rules (or /usr/local/share/iocwatch/rules)\n"
          "and /etc/iocwatch/rules.  Log files may be gzip-compressed.\n"
          "--one-alert-per-request prints one alert per request (or error entry)\n"
          "listing every matching rule in iocwatch.rules, instead of one per rule.\n"
          "--jobs N evaluates on N threads (default: online CPUs); the output is\n"
          "the same as with --jobs 1.  --scan-cache N sets the per-thread cache\n"
          "of scan results for repeated values (entries, 0 = off); it never\n"
          "changes the output.  --inspect-limit SIZE (default 1M, as the module's\n"
          "IocWatchInspectLimit): requests larger than this are inspected over\n"
          "their first SIZE bytes and get the field iw-truncated.\n", f);
}

/* Load + link + compile; prints every diagnostic.  NULL on any error. */
static iw_engine_t *load_engine(apr_pool_t *p, const cli_opts_t *o, int *nrules)
{
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    iw_engine_opts_t eo;
    iw_engine_t *e = NULL;
    int i;

    for (i = 0; i < o->placeholders->nelts; i++) {
        const char *spec = APR_ARRAY_IDX(o->placeholders, i, const char *);
        const char *eq = strchr(spec, '=');
        if (!eq || eq == spec || !eq[1]) {
            fprintf(stderr, "iocwatch: --placeholder wants NAME=FILE, got '%s'\n", spec);
            return NULL;
        }
        iw_ruleset_load_placeholder_file(rs, apr_pstrmemdup(p, spec, eq - spec),
                                         eq + 1, d);
    }
    for (i = 0; i < o->rules->nelts; i++)
        iw_rules_load(rs, APR_ARRAY_IDX(o->rules, i, const char *), d);
    if (!d->errors) iw_ruleset_link(rs, d);
    if (!d->errors) {
        memset(&eo, 0, sizeof(eo));
        eo.min_level = o->min_level;
        eo.scan_cache = o->scan_cache;
        eo.exclude_ids = o->exclude;
        /* compiled Vectorscan databases are reused across runs */
        eo.dbcache = iw_engine_dbcache_create(p, iw_engine_dbcache_default_dir(p));
        /* diagnostic: IOCWATCH_PLAIN_DB=0 scans plain values with the full
         * databases too (the output must not change; tests compare) */
        if (getenv("IOCWATCH_PLAIN_DB") && !strcmp(getenv("IOCWATCH_PLAIN_DB"), "0"))
            iw_engine_plain_dbs = 0;
        /* IOCWATCH_EXACT_RE=0: every regex confirmed by PCRE2 (the same) */
        if (getenv("IOCWATCH_EXACT_RE") && !strcmp(getenv("IOCWATCH_EXACT_RE"), "0"))
            iw_engine_exact_regexes = 0;
        /* IOCWATCH_HEADER_LINES=0: header blocks scanned whole (the same) */
        if (getenv("IOCWATCH_HEADER_LINES") && !strcmp(getenv("IOCWATCH_HEADER_LINES"), "0"))
            iw_engine_header_lines = 0;
        e = iw_engine_compile(p, rs, &eo, d);
        if (e) iw_alert_prepare(rs, "sigma");  /* the rules' own alert parts */
    }
    iw_diag_print(d, stderr, "");
    if (d->errors) {
        fprintf(stderr, "iocwatch: %d error(s) in rules\n", d->errors);
        return NULL;
    }
    *nrules = rs->rules->nelts;
    return e;
}

/* Without --rules: the shipped pack of the package (/usr/share) or of a
 * source install (/usr/local/share), and the admin's own /etc/iocwatch/rules
 * -- the directories the installed mods-available/iocwatch.conf names. */
static void default_rules(cli_opts_t *o)
{
    static const char *const dirs[] = {
        "/usr/share/iocwatch/rules", "/usr/local/share/iocwatch/rules",
        "/etc/iocwatch/rules",
    };
    struct stat sb;
    size_t i;
    for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if (stat(dirs[i], &sb) == 0)
            APR_ARRAY_PUSH(o->rules, const char *) = dirs[i];
    if (!o->rules->nelts)           /* the error names what was looked for */
        APR_ARRAY_PUSH(o->rules, const char *) = "/usr/share/iocwatch/rules";
}

static int cmd_check(apr_pool_t *p, cli_opts_t *o)
{
    iw_diag_t *d = iw_diag_create(p);
    iw_engine_t *e;
    int nrules = 0;
    if (!o->rules->nelts) default_rules(o);
    if (!(e = load_engine(p, o, &nrules))) return 1;
    /* correlation limits (rules per correlation, state size) are only
     * known once the correlation program is built: check them too */
    iw_corr_create(p, e, d);
    iw_diag_print(d, stderr, "");
    if (d->errors) {
        fprintf(stderr, "iocwatch: %d error(s) in rules\n", d->errors);
        return 1;
    }
    {
        iw_rule_counts_t rc;
        char txt[256];
        iw_engine_rule_counts(e, &rc);
        iw_rule_counts_text(&rc, txt, sizeof(txt));
        /* "N rule(s) OK" first: scripts grep for it */
        fprintf(stderr, "iocwatch: %d rule(s) OK (%s)\n", nrules, txt);
    }
    if (iw_vs_note()) fprintf(stderr, "iocwatch: note: %s\n", iw_vs_note());
    return 0;
}

/* ---- scan: one line ------------------------------------------------------ */

static void thr_free(cli_thr_t *t)
{
    if (t->scratch) iw_scratch_destroy(t->scratch);
    iw_event_release(&t->ev);
    free(t->pbuf); free(t->abuf); free(t->rule_counts); free(t->err_counts);
    free(t->sel);
    memset(t, 0, sizeof(*t));
}

static int thr_init(cli_ctx_t *c, cli_thr_t *t)
{
    memset(t, 0, sizeof(*t));
    t->c = c;
    t->scratch = iw_scratch_create(c->engine);
    t->pbuf_size = 2 * CLI_MAX_LINE + 64;
    t->pbuf = malloc(t->pbuf_size);
    t->abuf = malloc(CLI_ALERT_BUF + 1);
    t->rule_counts = calloc(c->nrules + 1, sizeof(uint64_t));
    t->err_counts = calloc(c->nrules + 1, sizeof(uint64_t));
    t->sel = malloc(sizeof(iw_hit_t) * (c->nrules + 1));
    if (iw_event_init_owned(&t->ev, c->o->inspect_limit) != 0 || !t->scratch || !t->pbuf
        || !t->abuf || !t->rule_counts || !t->err_counts || !t->sel) {
        thr_free(t);
        return -1;
    }
    return 0;
}

/* Append one rendered alert to a batch's output (b != NULL) or write it to
 * stdout.  Returns 0 when the batch buffer could not grow. */
static int put_alert(cli_thr_t *t, cli_batch_t *b, const iw_alert_t *a)
{
    size_t n;
    if (!b) {
        n = iw_alert_json(a, t->abuf, CLI_ALERT_BUF);
        t->abuf[n] = '\n';
        fwrite(t->abuf, 1, n + 1, stdout);
        return 1;
    }
    if (b->ocap - b->olen < CLI_ALERT_BUF + 1) {
        size_t cap = b->ocap * 2 + CLI_ALERT_BUF + 1;
        char *o = realloc(b->out, cap);
        if (!o) { b->lost++; return 0; }
        b->out = o;
        b->ocap = cap;
    }
    n = iw_alert_json(a, b->out + b->olen, CLI_ALERT_BUF);
    b->out[b->olen + n] = '\n';
    b->olen += n + 1;
    return 1;
}

static void alert_init(cli_ctx_t *c, iw_alert_t *a, iw_event_t *ev)
{
    memset(a, 0, sizeof(*a));
    a->ev = ev;
    a->ruleset = "sigma";
    a->host_name = c->hostname;
    a->now = ev ? ev->time : 0;
    a->with_input = 1;
}

/* The rule alerts on its own: generate, and not below --min-level (rules
 * below it are compiled when they feed a correlation: the threshold
 * filters alerts, never what correlations count). */
static int alerts_on_own(const cli_ctx_t *c, const iw_rule_t *r)
{
    return r->generate && (c->o->min_level == IW_LEVEL_NONE || r->level >= c->o->min_level);
}

/* Detection alerts of one event: one per alerting hit, or one summary
 * alert listing them all.  Returns how many were written. */
static uint64_t detect_alerts(cli_thr_t *t, cli_batch_t *b, iw_event_t *ev,
                              const iw_hit_t *hits, int n)
{
    cli_ctx_t *c = t->c;
    iw_alert_t a;
    uint64_t sent = 0;
    int i, k = 0;

    for (i = 0; i < n; i++) {
        if (!alerts_on_own(c, hits[i].rule)) continue;
        t->rule_counts[hits[i].rule->index]++;
        if (c->o->summary_mode) {
            t->sel[k++] = hits[i];      /* the summary lists these */
            continue;
        }
        alert_init(c, &a, ev);
        a.rule = hits[i].rule;
        a.hit = &hits[i];
        sent += put_alert(t, b, &a);
    }
    if (k) {
        alert_init(c, &a, ev);
        a.rule = t->sel[0].rule;
        a.hit = &t->sel[0];
        a.all_hits = t->sel;
        a.nall_hits = k;
        sent += put_alert(t, b, &a);
    }
    return sent;
}

/* Rules that could not be evaluated on the event (a regex past a PCRE2
 * limit): counted per rule, and an alert saying so for the first of each
 * rule and client in a minute (iw_scratch_eval_error_due).  Returns the
 * alerts written. */
static uint64_t error_alerts(cli_thr_t *t, cli_batch_t *b, iw_event_t *ev)
{
    cli_ctx_t *c = t->c;
    const iw_eval_error_t *errs;
    iw_alert_t a;
    uint64_t sent = 0;
    int i, n = iw_engine_eval_errors(t->scratch, &errs);

    for (i = 0; i < n; i++) {
        const iw_rule_t *r = errs[i].rule;
        t->err_counts[r->index]++;
        if (c->o->min_level != IW_LEVEL_NONE && r->level < c->o->min_level) continue;
        if (!iw_scratch_eval_error_due(t->scratch, &errs[i], ev)) continue;
        alert_init(c, &a, ev);
        a.rule = r;
        a.eval_error = &errs[i];
        sent += put_alert(t, b, &a);
    }
    return sent;
}

/* Correlation alerts (main thread only); one that belongs to another group
 * (a recycled slot) or to a closed window carries no request of its own. */
static void emit_corr(cli_ctx_t *c, iw_event_t *ev, const iw_corr_alert_t *ca, int k)
{
    iw_alert_t a;
    int i;
    for (i = 0; i < k; i++) {
        if (c->o->min_level != IW_LEVEL_NONE && ca[i].rule->level < c->o->min_level)
            continue;
        alert_init(c, &a, ca[i].with_event ? ev : NULL);
        if (!ca[i].with_event) a.now = ca[i].last_seen;
        a.rule = ca[i].rule;
        a.corr = &ca[i];
        put_alert(&c->thr, NULL, &a);
        c->thr.rule_counts[ca[i].rule->index]++;
        c->st.corr_alerts++;
    }
}

/* Feed one event's hits to the correlation table (main thread, in input
 * order) and emit what fires. */
static void corr_feed(cli_ctx_t *c, iw_event_t *ev, const iw_hit_t *hits, int n)
{
    iw_corr_alert_t ca[16];
    int k;
    if (!c->corr) return;
    k = iw_corr_update(c->corr, c->corr_mem, ev, hits, n, ev->time,
                       ca, (int)(sizeof(ca) / sizeof(ca[0])));
    emit_corr(c, ev, ca, k);
}

/* End of input: close every open window (lt/lte/eq/neq conditions). */
static void flush_corr(cli_ctx_t *c)
{
    iw_corr_alert_t ca[16];
    int k;
    if (!c->corr) return;
    while ((k = iw_corr_flush(c->corr, c->corr_mem, APR_INT64_MAX, ca,
                              (int)(sizeof(ca) / sizeof(ca[0])))) > 0)
        emit_corr(c, NULL, ca, k);
}

static void malformed(cli_ctx_t *c, const char *name, uint64_t lineno, const char *why)
{
    c->st.malformed++;
    if (c->st.shown_malformed++ < CLI_SHOW_MALFORMED)
        fprintf(stderr, "%s:%llu: malformed line: %s\n", name,
                (unsigned long long)lineno, why ? why : "unrecognised");
    else if (c->st.shown_malformed == CLI_SHOW_MALFORMED + 1)
        fputs("iocwatch: further malformed lines are only counted\n", stderr);
}

/* Checks done before parsing, in input order (the format of a file is
 * detected on its first non-empty line).  *len loses trailing CRs.
 * Returns 0 to skip an empty line, -1 malformed (*why), 1 to parse. */
static int line_prep(cli_ctx_t *c, int *fmt, const char *line, size_t *len,
                     const char **why)
{
    while (*len && line[*len - 1] == '\r') (*len)--;
    if (!*len) return 0;
    if (*fmt == IW_INPUT_AUTO) *fmt = iw_logfmt_detect(line, *len);
    if (*fmt == IW_INPUT_AUTO) {
        *why = "format not recognised (use --format)";
        return -1;
    }
    if (*len * 2 + 64 > 2 * CLI_MAX_LINE + 64) {
        *why = "line too long";
        return -1;
    }
    return 1;
}

/* Parse a prepared line into t->ev; NULL when malformed (*why). */
static iw_event_t *line_event(cli_thr_t *t, int fmt, const char *line, size_t len,
                              uint64_t lineno, const char **why)
{
    iw_parsed_t *ps = &t->ps;
    iw_event_t *ev = &t->ev;

    /* the parser resets what it fills (out_reset): no per-line memset */
    ps->buf = t->pbuf;
    ps->buf_size = t->pbuf_size;
    *why = NULL;
    if (!iw_logfmt_parse((iw_input_format_t)fmt, line, len, ps, why)) return NULL;
    /* ev owns its work buffer (thr_init); the builders reset it */
    if (ps->type == IW_EV_ERROR) iw_event_from_error(ev, &ps->err);
    else iw_event_from_request(ev, &ps->req);
    ev->input_line = (long)lineno;
    ev->input_id = ps->id[0] ? ps->id : NULL;
    return ev;
}

/* Serial path (--jobs 1): everything on the calling thread. */
static void scan_line(cli_ctx_t *c, const char *name, int *fmt,
                      const char *line, size_t len, uint64_t lineno)
{
    const iw_hit_t *hits;
    const char *why = NULL;
    iw_event_t *ev;
    int n, r = line_prep(c, fmt, line, &len, &why);

    if (r <= 0) {
        if (r < 0) malformed(c, name, lineno, why);
        return;
    }
    if (!(ev = line_event(&c->thr, *fmt, line, len, lineno, &why))) {
        malformed(c, name, lineno, why);
        return;
    }
    c->st.events++;
    n = iw_engine_eval(c->engine, c->thr.scratch, ev, &hits);
    if (n > 0) {
        c->st.alerts += detect_alerts(&c->thr, NULL, ev, hits, n);
        corr_feed(c, ev, hits, n);
    }
    if (iw_engine_eval_errors(c->thr.scratch, NULL))
        c->st.alerts += error_alerts(&c->thr, NULL, ev);
}

/* ---- scan: worker threads ------------------------------------------------ */

static cli_note_t *note_add(cli_batch_t *b, uint64_t lineno, const char *why)
{
    cli_note_t *nt;
    if (b->nnotes == b->notecap) {
        int cap = b->notecap ? b->notecap * 2 : 64;
        cli_note_t *v = realloc(b->notes, sizeof(*v) * cap);
        if (!v) { b->lost++; return NULL; }
        b->notes = v;
        b->notecap = cap;
    }
    nt = &b->notes[b->nnotes++];
    memset(nt, 0, sizeof(*nt));
    nt->lineno = lineno;
    nt->why = why;
    return nt;
}

/* Remember, after this line's detection alerts, the rules that feed a
 * correlation: the consumer replays the update in input order. */
static void note_corr(cli_ctx_t *c, cli_batch_t *b, int line, const iw_hit_t *hits, int n)
{
    cli_note_t *nt;
    int i, nf = 0;

    for (i = 0; i < n; i++) nf += c->feeds_corr[hits[i].rule->index];
    if (!nf) return;
    if (b->nfeeds + nf > b->feedcap) {
        int cap = (b->feedcap + nf) * 2;
        const iw_rule_t **v = realloc(b->feeds, sizeof(*v) * cap);
        if (!v) { b->lost++; return; }
        b->feeds = v;
        b->feedcap = cap;
    }
    if (!(nt = note_add(b, b->lines[line].lineno, NULL))) return;
    nt->out_off = b->olen;
    nt->line = line;
    nt->feed0 = b->nfeeds;
    nt->nfeed = nf;
    for (i = 0; i < n; i++)
        if (c->feeds_corr[hits[i].rule->index]) b->feeds[b->nfeeds++] = hits[i].rule;
}

/* Parse, evaluate and render one batch (worker thread). */
static void work_batch(cli_thr_t *t, cli_batch_t *b)
{
    cli_ctx_t *c = t->c;
    const iw_hit_t *hits;
    const char *why;
    iw_event_t *ev;
    int i, n;

    for (i = 0; i < b->nlines; i++) {
        const cli_line_t *l = &b->lines[i];
        if (l->why) { note_add(b, l->lineno, l->why); continue; }
        if (!(ev = line_event(t, l->fmt, b->data + l->off, l->len, l->lineno, &why))) {
            note_add(b, l->lineno, why);
            continue;
        }
        b->events++;
        n = iw_engine_eval(c->engine, t->scratch, ev, &hits);
        if (iw_engine_eval_errors(t->scratch, NULL)) b->alerts += error_alerts(t, b, ev);
        if (n <= 0) continue;
        b->alerts += detect_alerts(t, b, ev, hits, n);
        if (c->corr) note_corr(c, b, i, hits, n);
    }
}

static void *worker_main(void *arg)
{
    cli_thr_t *t = arg;
    cli_par_t *par = t->c->par;
    cli_batch_t *b;

    for (;;) {
        pthread_mutex_lock(&par->mu);
        while (par->take == par->head && !par->stop)
            pthread_cond_wait(&par->work, &par->mu);
        if (par->take == par->head) {           /* stopping, queue empty */
            pthread_mutex_unlock(&par->mu);
            return NULL;
        }
        b = &par->ring[par->take++ % par->nslots];
        pthread_mutex_unlock(&par->mu);
        work_batch(t, b);
        pthread_mutex_lock(&par->mu);
        b->done = 1;
        pthread_cond_signal(&par->done);        /* only the reader waits */
        pthread_mutex_unlock(&par->mu);
    }
}

/* ---- scan: in-order consumer (reader thread) ----------------------------- */

/* Re-build the event of a noted line and run its correlation update. */
static void corr_replay(cli_ctx_t *c, const cli_batch_t *b, const cli_note_t *nt)
{
    const cli_line_t *l = &b->lines[nt->line];
    const char *why;
    iw_event_t *ev = line_event(&c->thr, l->fmt, b->data + l->off, l->len,
                                l->lineno, &why);
    int i;

    if (!ev) return;                  /* not reached: the worker parsed it */
    /* iw_corr_update reads only hits[].rule (and the event) */
    for (i = 0; i < nt->nfeed; i++) {
        c->replay_hits[i].rule = b->feeds[nt->feed0 + i];
        c->replay_hits[i].nmatches = 0;
    }
    corr_feed(c, ev, c->replay_hits, nt->nfeed);
}

/* Emit a finished batch: its alerts, malformed reports and correlation
 * alerts in input order; then count it. */
static void batch_emit(cli_ctx_t *c, cli_batch_t *b)
{
    size_t pos = 0;
    int i;

    for (i = 0; i < b->nnotes; i++) {
        const cli_note_t *nt = &b->notes[i];
        if (nt->why) {
            malformed(c, b->name, nt->lineno, nt->why);
            continue;
        }
        fwrite(b->out + pos, 1, nt->out_off - pos, stdout);
        pos = nt->out_off;
        corr_replay(c, b, nt);
    }
    fwrite(b->out + pos, 1, b->olen - pos, stdout);
    c->st.events += b->events;
    c->st.alerts += b->alerts;
    if (b->lost) c->oom = 1;
}

static void batch_reset(cli_batch_t *b)
{
    b->name = NULL;
    b->dlen = b->olen = 0;
    b->nlines = b->nnotes = b->nfeeds = 0;
    b->events = b->alerts = b->lost = 0;
    b->done = 0;
}

/* Wait for the oldest batch, emit it, free its slot. */
static void par_retire(cli_ctx_t *c)
{
    cli_par_t *par = c->par;
    cli_batch_t *b = &par->ring[par->tail % par->nslots];

    pthread_mutex_lock(&par->mu);
    while (!b->done) pthread_cond_wait(&par->done, &par->mu);
    pthread_mutex_unlock(&par->mu);
    batch_emit(c, b);
    par->tail++;
}

/* Hand the batch being filled to the workers; wait for a free slot. */
static void par_submit(cli_ctx_t *c)
{
    cli_par_t *par = c->par;

    if (!par->ring[par->head % par->nslots].nlines) return;
    pthread_mutex_lock(&par->mu);
    par->head++;
    pthread_cond_signal(&par->work);
    pthread_mutex_unlock(&par->mu);
    if (par->head - par->tail == par->nslots) par_retire(c);
    batch_reset(&par->ring[par->head % par->nslots]);
}

static void par_drain(cli_ctx_t *c)
{
    par_submit(c);
    while (c->par->tail != c->par->head) par_retire(c);
}

/* Queue one line (len bytes, or none with a reader's verdict in why). */
static void par_add(cli_ctx_t *c, const char *name, int fmt, const char *s,
                    size_t len, uint64_t lineno, const char *why)
{
    cli_par_t *par = c->par;
    cli_batch_t *b = &par->ring[par->head % par->nslots];
    cli_line_t *l;

    if (b->nlines >= c->batch_lines || b->dlen + len > CLI_BATCH_BYTES) {
        par_submit(c);
        b = &par->ring[par->head % par->nslots];
    }
    b->name = name;
    l = &b->lines[b->nlines++];
    l->off = b->dlen;
    l->len = len;
    l->lineno = lineno;
    l->why = why;
    l->fmt = fmt;
    memcpy(b->data + b->dlen, s, len);
    b->dlen += len;
}

static void par_line(cli_ctx_t *c, const char *name, int *fmt,
                     const char *line, size_t len, uint64_t lineno)
{
    const char *why = NULL;
    int r = line_prep(c, fmt, line, &len, &why);
    if (r > 0) par_add(c, name, *fmt, line, len, lineno, NULL);
    else if (r < 0) par_add(c, name, 0, line, 0, lineno, why);
}

static void par_stop(cli_ctx_t *c)
{
    cli_par_t *par = c->par;
    unsigned long i;
    int k;

    if (!par) return;
    pthread_mutex_lock(&par->mu);
    par->stop = 1;
    pthread_cond_broadcast(&par->work);
    pthread_mutex_unlock(&par->mu);
    for (k = 0; k < par->nthr; k++) {
        pthread_join(par->thr[k].tid, NULL);
        for (i = 0; i <= (unsigned long)c->nrules; i++) {
            c->thr.rule_counts[i] += par->thr[k].rule_counts[i];
            c->thr.err_counts[i] += par->thr[k].err_counts[i];
        }
        thr_free(&par->thr[k]);
    }
    for (i = 0; par->ring && i < par->nslots; i++) {
        cli_batch_t *b = &par->ring[i];
        free(b->data); free(b->lines); free(b->out); free(b->notes); free(b->feeds);
    }
    pthread_cond_destroy(&par->work);
    pthread_cond_destroy(&par->done);
    pthread_mutex_destroy(&par->mu);
    free(par->ring); free(par->thr); free(par);
    c->par = NULL;
}

/* Start `jobs` workers over a ring of batches.  On failure the scan stays
 * serial (with fewer workers when only some threads could start). */
static void par_start(cli_ctx_t *c, int jobs)
{
    cli_par_t *par = calloc(1, sizeof(*par));
    unsigned long i;

    if (!par) return;
    par->nslots = (unsigned long)jobs + (jobs < 8 ? jobs : 8) + 1;
    par->ring = calloc(par->nslots, sizeof(cli_batch_t));
    par->thr = calloc(jobs, sizeof(cli_thr_t));
    pthread_mutex_init(&par->mu, NULL);
    pthread_cond_init(&par->work, NULL);
    pthread_cond_init(&par->done, NULL);
    c->par = par;
    if (!par->ring || !par->thr) goto fail;
    for (i = 0; i < par->nslots; i++) {
        cli_batch_t *b = &par->ring[i];
        b->data = malloc(CLI_BATCH_BYTES);
        b->lines = malloc(sizeof(cli_line_t) * CLI_BATCH_LINES);
        b->ocap = 256 * 1024;
        b->out = malloc(b->ocap);
        if (!b->data || !b->lines || !b->out) goto fail;
    }
    for (; par->nthr < jobs; par->nthr++) {
        cli_thr_t *t = &par->thr[par->nthr];
        if (thr_init(c, t) < 0) break;
        if (pthread_create(&t->tid, NULL, worker_main, t) != 0) { thr_free(t); break; }
    }
    if (par->nthr > 0) return;
fail:
    fputs("iocwatch: cannot start worker threads; scanning on one\n", stderr);
    par_stop(c);
}

/* ---- scan: input ---------------------------------------------------------- */

/* The bar line carries no file name: scan_file prints it whole on its own
 * line first, so a long path is never cut to fit the bar. */
static void progress(cli_ctx_t *c, uint64_t done, uint64_t total)
{
    int pct = total ? (int)(done * 100 / total) : 0, bar, i;
    char b[26];
    if (pct > 100) pct = 100;
    bar = pct / 4;
    for (i = 0; i < 25; i++) b[i] = i < bar ? '#' : '.';
    b[25] = 0;
    fprintf(stderr, "\r  [%s] %3d%% %llu lines %llu alerts", b, pct,
            (unsigned long long)c->st.lines,
            (unsigned long long)(c->st.alerts + c->st.corr_alerts));
}

static void take_line(cli_ctx_t *c, const char *name, int *fmt,
                      const char *s, size_t len, uint64_t lineno)
{
    if (c->par) par_line(c, name, fmt, s, len, lineno);
    else scan_line(c, name, fmt, s, len, lineno);
}

/* Read a file in large chunks and cut lines with memchr: the scan must keep
 * up with grep, so no stdio per-line calls.  zlib reads gzip files (rotated
 * logs: access.log.2.gz) and passes any other file through unchanged. */
static int scan_file(cli_ctx_t *c, const char *path)
{
    int stdin_ = !strcmp(path, "-");
    int fd = stdin_ ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
    const char *name = stdin_ ? "<stdin>" : path;
    gzFile gz;
    char *buf;
    size_t have = 0, cap = CLI_READ_CHUNK + CLI_MAX_LINE;
    uint64_t lineno = 0, total = 0, done = 0, next_prog = 0;
    int fmt = c->o->format, skipping = 0, show, rd, gzerr = 0, rc = 0;
    struct stat sb;

    if (fd < 0) {
        fprintf(stderr, "iocwatch: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) total = (uint64_t)sb.st_size;
    if (!(gz = gzdopen(fd, "rb"))) {
        close(fd);
        fprintf(stderr, "iocwatch: cannot read %s: out of memory\n", name);
        return -1;
    }
    gzbuffer(gz, 256 * 1024);
    show = c->o->progress > 0 || (c->o->progress < 0 && isatty(2));
    if (show) fprintf(stderr, "%s\n", name);
    buf = malloc(cap);
    if (!buf) { gzclose(gz); return -1; }
    for (;;) {
        char *s = buf, *end, *nl;
        int eof;
        rd = gzread(gz, buf + have, (unsigned)(cap - have));
        if (rd < 0) { gzerr = 1; rd = 0; }
        eof = rd == 0;
        if (eof && !have) break;
        end = buf + have + rd;
        have += rd;
        c->st.bytes += (uint64_t)rd;
        while (s < end && ((nl = memchr(s, '\n', end - s)) || eof)) {
            char *e = nl ? nl : end;
            lineno++;
            c->st.lines++;
            if (skipping) skipping = 0;
            else take_line(c, name, &fmt, s, e - s, lineno);
            s = nl ? nl + 1 : end;
        }
        have = end - s;
        if (have >= CLI_MAX_LINE) {   /* a line longer than we accept */
            if (!skipping) {          /* reported once, however long */
                if (c->par) par_add(c, name, 0, s, 0, lineno + 1, "line too long");
                else malformed(c, name, lineno + 1, "line too long");
            }
            have = 0;
            skipping = 1;             /* drop the rest up to its newline */
        } else {
            memmove(buf, s, have);
        }
        done = (uint64_t)gzoffset(gz);  /* compressed bytes: as the file size */
        if (show && done >= next_prog) {
            progress(c, done, total);
            next_prog = done + (4u << 20);
        }
        if (eof) break;
    }
    if (c->par) {                     /* batches never span files */
        if (show) par_drain(c);
        else par_submit(c);
    }
    if (show) { progress(c, total ? total : done, total ? total : done); fputc('\n', stderr); }
    {   /* a truncated .gz ends without an error from gzread: ask */
        int zerr = Z_OK;
        const char *msg = gzerror(gz, &zerr);
        if (zerr != Z_OK) gzerr = 1;
        if (msg && !strncmp(msg, "<fd:", 4) && strstr(msg, ": "))
            msg = strstr(msg, ": ") + 2;        /* zlib names the fd, we the file */
        if (gzerr)
            fprintf(stderr, "iocwatch: %s: read error after line %llu: %s\n", name,
                (unsigned long long)lineno,
                zerr == Z_ERRNO ? strerror(errno) : msg);
        if (gzerr) rc = -1;
    }
    free(buf);
    gzclose(gz);
    return rc;
}

/* Rules that could not be evaluated on some events (docs/MODULE.md,
 * "Regex limits"): how often, per rule.  Nothing when none. */
static void print_errors(cli_ctx_t *c)
{
    const iw_ruleset_t *rs = iw_engine_ruleset(c->engine);
    const uint64_t *err = c->thr.err_counts;
    uint64_t total = 0;
    int i, rules = 0;

    for (i = 0; i < rs->rules->nelts; i++) {
        total += err[i];
        rules += err[i] > 0;
    }
    if (!total) return;
    fprintf(stderr, "iocwatch: %llu evaluation error(s) in %d rule(s): a value past a regex "
            "limit, the rule could not be evaluated (each alerted as such, once per rule, "
            "client and minute)\n", (unsigned long long)total, rules);
    for (i = 0; i < rs->rules->nelts; i++) {
        const iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, const iw_rule_t *);
        if (err[i])
            fprintf(stderr, "  %8llu  %s  %s (evaluation errors)\n", (unsigned long long)err[i],
                    r->id ? r->id : "-", r->title ? r->title : "");
    }
}

static void print_summary(cli_ctx_t *c, double secs)
{
    const iw_ruleset_t *rs = iw_engine_ruleset(c->engine);
    const uint64_t *cnt = c->thr.rule_counts;
    int i, fired = 0;

    for (i = 0; i < rs->rules->nelts; i++) fired += cnt[i] > 0;
    /* alerts = every alert line printed on stdout, correlation included */
    fprintf(stderr, "iocwatch: %llu lines, %llu events, %llu malformed, %llu alerts "
            "(%llu correlation) from %d rule(s) in %.2f s (%.0f lines/s)\n",
            (unsigned long long)c->st.lines, (unsigned long long)c->st.events,
            (unsigned long long)c->st.malformed,
            (unsigned long long)(c->st.alerts + c->st.corr_alerts),
            (unsigned long long)c->st.corr_alerts, fired, secs,
            secs > 0 ? c->st.lines / secs : 0.0);
    if (fired)
        fprintf(stderr, c->o->summary_mode
                ? "  requests  rule (one alert per request: requests each rule matched)\n"
                : "    alerts  rule\n");
    for (i = 0; i < rs->rules->nelts; i++) {
        const iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, const iw_rule_t *);
        if (cnt[i])
            fprintf(stderr, "  %8llu  %s  %s\n", (unsigned long long)cnt[i],
                    r->id ? r->id : "-", r->title ? r->title : "");
    }
    print_errors(c);
}

/* Which rules feed a correlation (their hits need the in-order replay). */
static int corr_setup(cli_ctx_t *c)
{
    const iw_ruleset_t *rs = iw_engine_ruleset(c->engine);
    size_t sz = iw_corr_table_bytes(IW_CORR_SLOT_DEFAULT, CLI_CORR_SLOTS);
    int i;

    c->corr_mem = calloc(1, sz);
    c->feeds_corr = calloc(c->nrules + 1, 1);
    c->replay_hits = calloc(c->nrules + 1, sizeof(iw_hit_t));
    if (!c->corr_mem || !c->feeds_corr || !c->replay_hits) return -1;
    iw_corr_mem_init(c->corr, c->corr_mem, sz);
    for (i = 0; i < rs->rules->nelts && i < c->nrules; i++) {
        const iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, const iw_rule_t *);
        if (r->index >= 0 && r->index < c->nrules && r->feeds && r->feeds->nelts)
            c->feeds_corr[r->index] = 1;
    }
    return 0;
}

static int batch_lines(void)
{
    const char *v = getenv("IOCWATCH_BATCH_LINES");
    long n = v ? strtol(v, NULL, 10) : 0;
    return n >= 1 && n < CLI_BATCH_LINES ? (int)n : CLI_BATCH_LINES;
}

static int cmd_scan(apr_pool_t *p, cli_opts_t *o)
{
    cli_ctx_t c;
    iw_diag_t *d = iw_diag_create(p);
    apr_time_t t0;
    int i, rc = 0;
    static char outbuf[1 << 16];

    if (!o->rules->nelts) default_rules(o);
    if (!o->inputs->nelts) {
        fputs("iocwatch scan: no input given (FILE... or - for stdin)\n", stderr);
        return 2;
    }
    memset(&c, 0, sizeof(c));
    c.pool = p;
    c.o = o;
    if (!(c.engine = load_engine(p, o, &c.nrules))) return 1;
    c.corr = iw_corr_create(p, c.engine, d);
    iw_diag_print(d, stderr, "");
    if (d->errors) return 1;
    if (thr_init(&c, &c.thr) < 0 || (c.corr && corr_setup(&c) < 0)) {
        fputs("iocwatch: out of memory\n", stderr);
        return 1;
    }
    if (gethostname(c.hostname, sizeof(c.hostname) - 1) != 0) strcpy(c.hostname, "localhost");
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
    t0 = apr_time_now();
    c.batch_lines = batch_lines();
    if (o->jobs > 1) par_start(&c, o->jobs);
    for (i = 0; i < o->inputs->nelts; i++)
        if (scan_file(&c, APR_ARRAY_IDX(o->inputs, i, const char *)) < 0) rc = 1;
    if (c.par) par_drain(&c);
    par_stop(&c);
    flush_corr(&c);
    fflush(stdout);
    if (c.oom) { fputs("iocwatch: out of memory: some alerts were lost\n", stderr); rc = 1; }
    print_summary(&c, (double)(apr_time_now() - t0) / APR_USEC_PER_SEC);
    thr_free(&c.thr);
    free(c.corr_mem); free(c.feeds_corr); free(c.replay_hits);
    return rc;
}

/* ---- argument parsing --------------------------------------------------- */

static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=') return argv[*i] + n + 1;
    if (!strcmp(argv[*i], name) && *i + 1 < argc) return argv[++*i];
    return NULL;
}

/* Online CPUs, capped: the default for --jobs. */
static int default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > CLI_MAX_JOBS ? CLI_MAX_JOBS : (int)n;
}

static int parse_jobs(const char *v)
{
    char *end;
    long n;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 1 || n > CLI_MAX_JOBS) return -1;
    return (int)n;
}

static int parse_args(apr_pool_t *p, int argc, char **argv, cli_opts_t *o)
{
    int i;
    const char *v;
    o->rules = apr_array_make(p, 4, sizeof(const char *));
    o->inputs = apr_array_make(p, 4, sizeof(const char *));
    o->placeholders = apr_array_make(p, 2, sizeof(const char *));
    o->exclude = apr_array_make(p, 2, sizeof(const char *));
    o->progress = -1;
    o->jobs = default_jobs();
    o->inspect_limit = CLI_INSPECT;
    for (i = 2; i < argc; i++) {
        const char *a = argv[i];
        if ((v = opt_value(argc, argv, &i, "--rules")))
            APR_ARRAY_PUSH(o->rules, const char *) = v;
        else if ((v = opt_value(argc, argv, &i, "--format"))) {
            if ((o->format = iw_input_format_parse(v)) < 0) {
                fprintf(stderr, "iocwatch: unknown --format '%s' (auto, combined, error, jsonl)\n", v);
                return -1;
            }
        } else if ((v = opt_value(argc, argv, &i, "--placeholder")))
            APR_ARRAY_PUSH(o->placeholders, const char *) = v;
        else if ((v = opt_value(argc, argv, &i, "--exclude")))
            APR_ARRAY_PUSH(o->exclude, const char *) = v;
        else if ((v = opt_value(argc, argv, &i, "--min-level"))) {
            if ((o->min_level = iw_level_parse(v)) == IW_LEVEL_NONE) {
                fprintf(stderr, "iocwatch: unknown --min-level '%s'\n", v);
                return -1;
            }
        } else if ((v = opt_value(argc, argv, &i, "--jobs"))) {
            if ((o->jobs = parse_jobs(v)) < 0) {
                fprintf(stderr, "iocwatch: --jobs wants 1..%d, got '%s'\n", CLI_MAX_JOBS, v);
                return -1;
            }
        } else if ((v = opt_value(argc, argv, &i, "--scan-cache"))) {
            char *end;
            long n = strtol(v, &end, 10);
            if (end == v || *end || n < 0 || n > (1L << 20)) {
                fprintf(stderr, "iocwatch: --scan-cache wants 0..%ld entries, got '%s'\n",
                        1L << 20, v);
                return -1;
            }
            o->scan_cache = n ? (int)n : -1;
        } else if ((v = opt_value(argc, argv, &i, "--inspect-limit"))) {
            char *end;
            long n = strtol(v, &end, 10);
            int sh = (*end == 'K' || *end == 'k') ? 10 : (*end == 'M' || *end == 'm') ? 20 : 0;
            if (sh) end++;
            if (end == v || *end || n < 1 || n > (256L << (20 - sh)) || (n << sh) < 4096) {
                fprintf(stderr, "iocwatch: --inspect-limit wants a size from 4K to 256M, "
                        "got '%s'\n", v);
                return -1;
            }
            o->inspect_limit = (size_t)n << sh;
        } else if (!strcmp(a, "--one-alert-per-request")) o->summary_mode = 1;
        else if (!strcmp(a, "--summary")) {     /* the old name: a summary is always printed */
            fputs("iocwatch: --summary is deprecated, use --one-alert-per-request\n", stderr);
            o->summary_mode = 1;
        }
        else if (!strcmp(a, "--progress")) o->progress = 1;
        else if (!strcmp(a, "--no-progress")) o->progress = 0;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); exit(0); }
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "iocwatch: unknown option '%s'\n", a);
            return -1;
        } else if (!strcmp(argv[1], "check"))
            APR_ARRAY_PUSH(o->rules, const char *) = a;
        else
            APR_ARRAY_PUSH(o->inputs, const char *) = a;
    }
    return 0;
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    cli_opts_t o;
    int rc;

    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
        const char *hv = hs_version();
        iw_vs_init();
        printf("iocwatch %s (Vectorscan %.*s scanning with %s, PCRE2 %d.%d, zlib %s)\n", IW_VERSION,
               (int)strcspn(hv, " "), hv, iw_vs_name(), PCRE2_MAJOR, PCRE2_MINOR, zlibVersion());
        if (iw_vs_note()) printf("note: %s\n", iw_vs_note());
        return 0;
    }
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "report")) return iw_report_main(argc - 1, argv + 1);
    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&p, NULL);
    memset(&o, 0, sizeof(o));
    if (parse_args(p, argc, argv, &o) < 0) { usage(stderr); return 2; }
    if (!strcmp(argv[1], "check")) rc = cmd_check(p, &o);
    else if (!strcmp(argv[1], "scan")) rc = cmd_scan(p, &o);
    else { fprintf(stderr, "iocwatch: unknown command '%s'\n", argv[1]); usage(stderr); rc = 2; }
    return rc;
}
