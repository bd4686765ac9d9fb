/* iw_cli: the `iocwatch` command (contract in DESIGN.md).
 *
 *   iocwatch check RULES...
 *   iocwatch scan [--rules RULES]... [--format auto|combined|error|jsonl]
 *                 [--placeholder NAME=FILE]... [--min-level L] [--exclude ID]...
 *                 [--summary] [--progress|--no-progress] FILE...|-
 *
 * scan prints one ECS JSON alert per line on stdout and a summary on stderr.
 * Malformed input lines are counted and reported with their line number. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "iw_common.h"
#include "iw_rules.h"
#include "iw_engine.h"
#include "iw_corr.h"
#include "iw_alert.h"
#include "iw_logfmt.h"

#define CLI_MAX_LINE     (1024 * 1024)   /* longer lines are malformed */
#define CLI_READ_CHUNK   (1024 * 1024)
#define CLI_EVBUF        (64 * 1024)
#define CLI_ALERT_BUF    (16 * 1024)
#define CLI_CORR_SLOTS   (1u << 16)
#define CLI_SHOW_MALFORMED 20            /* per run; the rest are counted */

typedef struct cli_opts {
    apr_array_header_t *rules;        /* const char* paths */
    apr_array_header_t *inputs;       /* const char* paths, "-" = stdin */
    apr_array_header_t *placeholders; /* "NAME=FILE" */
    apr_array_header_t *exclude;      /* rule ids */
    iw_level_t min_level;
    int format;                       /* iw_input_format_t */
    int summary_mode;                 /* one alert per event listing all rules */
    int progress;                     /* -1 auto (TTY), 0 off, 1 on */
} cli_opts_t;

typedef struct cli_stats {
    uint64_t lines, events, malformed, alerts, corr_alerts, bytes;
    uint64_t shown_malformed;
} cli_stats_t;

typedef struct cli_ctx {
    apr_pool_t *pool;
    cli_opts_t *o;
    const iw_engine_t *engine;
    iw_scratch_t *scratch;
    const iw_corr_t *corr;
    void *corr_mem;
    char *evbuf, *pbuf, *abuf;
    size_t pbuf_size;
    iw_parsed_t ps;                   /* reused per line: 2 KB not cleared per line */
    iw_event_t ev;
    char hostname[256];
    cli_stats_t st;
    uint64_t *rule_counts;            /* alerts per rule index */
} cli_ctx_t;

static void usage(FILE *f)
{
    fputs("usage: iocwatch check RULES...\n"
          "       iocwatch scan [--rules RULES]... [--format auto|combined|error|jsonl]\n"
          "                     [--placeholder NAME=FILE]... [--min-level LEVEL]\n"
          "                     [--exclude RULE-ID]... [--summary] [--[no-]progress]\n"
          "                     FILE...|-\n"
          "RULES is a Sigma rule file, a directory (searched recursively for *.yml)\n"
          "or a glob.  scan prints one ECS JSON alert per line on stdout and a\n"
          "summary on stderr; the default rules are /etc/iocwatch/rules.\n", f);
}

static void print_diags(const iw_diag_t *d)
{
    int i;
    for (i = 0; i < d->msgs->nelts; i++)
        fprintf(stderr, "%s\n", APR_ARRAY_IDX(d->msgs, i, iw_diag_msg_t).text);
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
        eo.exclude_ids = o->exclude;
        e = iw_engine_compile(p, rs, &eo, d);
    }
    print_diags(d);
    if (d->errors) {
        fprintf(stderr, "iocwatch: %d error(s) in rules\n", d->errors);
        return NULL;
    }
    *nrules = rs->rules->nelts;
    return e;
}

static int cmd_check(apr_pool_t *p, cli_opts_t *o)
{
    int nrules = 0;
    if (!o->rules->nelts) {
        fputs("iocwatch check: no rule files given\n", stderr);
        return 2;
    }
    if (!load_engine(p, o, &nrules)) return 1;
    fprintf(stderr, "iocwatch: %d rule(s) OK\n", nrules);
    return 0;
}

/* ---- scan ------------------------------------------------------------- */

static void emit(cli_ctx_t *c, const iw_alert_t *a)
{
    size_t n = iw_alert_json(a, c->abuf, CLI_ALERT_BUF);
    c->abuf[n] = '\n';
    fwrite(c->abuf, 1, n + 1, stdout);
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

static void emit_corr(cli_ctx_t *c, iw_event_t *ev, const iw_corr_alert_t *ca, int k);

static void handle_hits(cli_ctx_t *c, iw_event_t *ev, const iw_hit_t *hits, int n)
{
    iw_alert_t a;
    iw_corr_alert_t ca[16];
    int i, first = -1, k;

    for (i = 0; i < n; i++) {
        if (!hits[i].rule->generate) continue;
        if (first < 0) first = i;
        c->rule_counts[hits[i].rule->index]++;
        if (c->o->summary_mode) continue;
        alert_init(c, &a, ev);
        a.rule = hits[i].rule;
        a.hit = &hits[i];
        emit(c, &a);
        c->st.alerts++;
    }
    if (c->o->summary_mode && first >= 0) {
        alert_init(c, &a, ev);
        a.rule = hits[first].rule;
        a.hit = &hits[first];
        a.all_hits = hits;
        a.nall_hits = n;
        emit(c, &a);
        c->st.alerts++;
    }
    if (!c->corr) return;
    k = iw_corr_update(c->corr, c->corr_mem, NULL, ev, hits, n, ev->time,
                       ca, (int)(sizeof(ca) / sizeof(ca[0])));
    emit_corr(c, ev, ca, k);
}

/* Correlation alerts; one that belongs to another group (a recycled slot)
 * or to a closed window carries no request of its own. */
static void emit_corr(cli_ctx_t *c, iw_event_t *ev, const iw_corr_alert_t *ca, int k)
{
    iw_alert_t a;
    int i;
    for (i = 0; i < k; i++) {
        alert_init(c, &a, ca[i].with_event ? ev : NULL);
        if (!ca[i].with_event) a.now = ca[i].last_seen;
        a.rule = ca[i].rule;
        a.corr = &ca[i];
        emit(c, &a);
        c->rule_counts[ca[i].rule->index]++;
        c->st.corr_alerts++;
    }
}

/* End of input: close every open window (lt/lte/eq/neq conditions). */
static void flush_corr(cli_ctx_t *c)
{
    iw_corr_alert_t ca[16];
    int k;
    if (!c->corr) return;
    while ((k = iw_corr_flush(c->corr, c->corr_mem, NULL, APR_INT64_MAX, ca,
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

static void scan_line(cli_ctx_t *c, const char *name, int *fmt,
                      const char *line, size_t len, uint64_t lineno)
{
    iw_parsed_t *ps = &c->ps;
    iw_event_t *ev = &c->ev;
    const iw_hit_t *hits;
    const char *why = NULL;
    int n;

    while (len && (line[len - 1] == '\r')) len--;
    if (!len) return;
    if (*fmt == IW_INPUT_AUTO) *fmt = iw_logfmt_detect(line, len);
    if (*fmt == IW_INPUT_AUTO) {
        malformed(c, name, lineno, "format not recognised (use --format)");
        return;
    }
    if (len * 2 + 64 > c->pbuf_size) {
        malformed(c, name, lineno, "line too long");
        return;
    }
    /* the parser resets what it fills (out_reset): no per-line memset */
    ps->buf = c->pbuf;
    ps->buf_size = c->pbuf_size;
    if (!iw_logfmt_parse((iw_input_format_t)*fmt, line, len, ps, &why)) {
        malformed(c, name, lineno, why);
        return;
    }
    /* ev was initialised over evbuf once (cmd_scan); the builders reset it */
    if (ps->type == IW_EV_ERROR) iw_event_from_error(ev, &ps->err);
    else iw_event_from_request(ev, &ps->req);
    ev->input_line = (long)lineno;
    ev->input_id = ps->id[0] ? ps->id : NULL;
    c->st.events++;
    n = iw_engine_eval(c->engine, c->scratch, ev, &hits);
    if (n > 0 || c->corr) handle_hits(c, ev, hits, n);
}

static void progress(cli_ctx_t *c, const char *name, uint64_t done, uint64_t total)
{
    int pct = total ? (int)(done * 100 / total) : 0, bar = pct / 4, i;
    char b[26];
    for (i = 0; i < 25; i++) b[i] = i < bar ? '#' : '.';
    b[25] = 0;
    fprintf(stderr, "\r%-30.30s [%s] %3d%% %llu lines %llu alerts", name, b, pct,
            (unsigned long long)c->st.lines,
            (unsigned long long)(c->st.alerts + c->st.corr_alerts));
}

/* Read a file in large chunks and cut lines with memchr: the scan must keep
 * up with grep, so no stdio per-line calls. */
static int scan_file(cli_ctx_t *c, const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    const char *name = strcmp(path, "-") ? path : "<stdin>";
    char *buf;
    size_t have = 0, cap = CLI_READ_CHUNK + CLI_MAX_LINE, rd;
    uint64_t lineno = 0, total = 0, done = 0, next_prog = 0;
    int fmt = c->o->format, skipping = 0, show;
    struct stat sb;

    if (!f) {
        fprintf(stderr, "iocwatch: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode)) total = (uint64_t)sb.st_size;
    show = c->o->progress > 0 || (c->o->progress < 0 && isatty(2));
    buf = malloc(cap);
    if (!buf) { if (f != stdin) fclose(f); return -1; }
    while ((rd = fread(buf + have, 1, cap - have, f)) > 0 || have) {
        char *s = buf, *end = buf + have + rd, *nl;
        int eof = rd == 0;
        done += rd;
        have += rd;
        while (s < end && ((nl = memchr(s, '\n', end - s)) || eof)) {
            char *e = nl ? nl : end;
            lineno++;
            c->st.lines++;
            if (skipping) skipping = 0;
            else scan_line(c, name, &fmt, s, e - s, lineno);
            s = nl ? nl + 1 : end;
        }
        have = end - s;
        if (have >= CLI_MAX_LINE) {   /* a line longer than we accept */
            malformed(c, name, lineno + 1, "line too long");
            have = 0;
            skipping = 1;             /* drop the rest up to its newline */
        } else {
            memmove(buf, s, have);
        }
        if (show && done >= next_prog) {
            progress(c, name, done, total);
            next_prog = done + (4u << 20);
        }
        if (eof) break;
    }
    if (show) { progress(c, name, total ? total : done, total ? total : done); fputc('\n', stderr); }
    if (ferror(f)) fprintf(stderr, "iocwatch: read error on %s\n", name);
    c->st.bytes += done;
    free(buf);
    if (f != stdin) fclose(f);
    return 0;
}

static void print_summary(cli_ctx_t *c, double secs)
{
    const iw_ruleset_t *rs = iw_engine_ruleset(c->engine);
    int i, fired = 0;

    for (i = 0; i < rs->rules->nelts; i++) fired += c->rule_counts[i] > 0;
    fprintf(stderr, "iocwatch: %llu lines, %llu events, %llu malformed, %llu alerts "
            "(%llu correlation) from %d rule(s) in %.2f s (%.0f lines/s)\n",
            (unsigned long long)c->st.lines, (unsigned long long)c->st.events,
            (unsigned long long)c->st.malformed, (unsigned long long)c->st.alerts,
            (unsigned long long)c->st.corr_alerts, fired, secs,
            secs > 0 ? c->st.lines / secs : 0.0);
    for (i = 0; i < rs->rules->nelts; i++) {
        const iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, const iw_rule_t *);
        if (c->rule_counts[i])
            fprintf(stderr, "  %8llu  %s  %s\n", (unsigned long long)c->rule_counts[i],
                    r->id ? r->id : "-", r->title ? r->title : "");
    }
}

static int cmd_scan(apr_pool_t *p, cli_opts_t *o)
{
    cli_ctx_t c;
    iw_diag_t *d = iw_diag_create(p);
    apr_time_t t0;
    int i, nrules = 0, rc = 0;
    static char outbuf[1 << 16];

    if (!o->rules->nelts) APR_ARRAY_PUSH(o->rules, const char *) = "/etc/iocwatch/rules";
    if (!o->inputs->nelts) {
        fputs("iocwatch scan: no input given (FILE... or - for stdin)\n", stderr);
        return 2;
    }
    memset(&c, 0, sizeof(c));
    c.pool = p;
    c.o = o;
    if (!(c.engine = load_engine(p, o, &nrules))) return 1;
    c.scratch = iw_scratch_create(c.engine);
    c.corr = iw_corr_create(p, c.engine, d);
    print_diags(d);
    if (d->errors) return 1;
    if (c.corr) {
        size_t sz = iw_corr_mem_size(CLI_CORR_SLOTS);
        c.corr_mem = calloc(1, sz);
        if (!c.corr_mem) { fputs("iocwatch: out of memory\n", stderr); return 1; }
        iw_corr_mem_init(c.corr, c.corr_mem, sz);
    }
    c.pbuf_size = 2 * CLI_MAX_LINE + 64;
    c.pbuf = malloc(c.pbuf_size);
    c.evbuf = malloc(CLI_EVBUF);
    c.abuf = malloc(CLI_ALERT_BUF + 1);
    c.rule_counts = calloc(nrules + 1, sizeof(uint64_t));
    if (!c.scratch || !c.pbuf || !c.evbuf || !c.abuf || !c.rule_counts) {
        fputs("iocwatch: out of memory\n", stderr);
        return 1;
    }
    iw_event_init(&c.ev, c.evbuf, CLI_EVBUF);
    if (gethostname(c.hostname, sizeof(c.hostname) - 1) != 0) strcpy(c.hostname, "localhost");
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
    t0 = apr_time_now();
    for (i = 0; i < o->inputs->nelts; i++)
        if (scan_file(&c, APR_ARRAY_IDX(o->inputs, i, const char *)) < 0) rc = 1;
    flush_corr(&c);
    fflush(stdout);
    print_summary(&c, (double)(apr_time_now() - t0) / APR_USEC_PER_SEC);
    iw_scratch_destroy(c.scratch);
    free(c.corr_mem); free(c.pbuf); free(c.evbuf); free(c.abuf); free(c.rule_counts);
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

static int parse_args(apr_pool_t *p, int argc, char **argv, cli_opts_t *o)
{
    int i;
    const char *v;
    o->rules = apr_array_make(p, 4, sizeof(const char *));
    o->inputs = apr_array_make(p, 4, sizeof(const char *));
    o->placeholders = apr_array_make(p, 2, sizeof(const char *));
    o->exclude = apr_array_make(p, 2, sizeof(const char *));
    o->progress = -1;
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
        } else if (!strcmp(a, "--summary")) o->summary_mode = 1;
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

    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
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
