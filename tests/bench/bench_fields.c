/* SPDX-License-Identifier: Apache-2.0 */
/* bench_fields: where a log line's evaluation time goes, field by field.
 *
 * Loads rules, parses the first N lines of a log (format detected from the
 * first line), then times passes over all of them, best of R rounds (CPU
 * time of this thread: the machine may be shared):
 *   build    event built from the parsed line, and its _raw view (the
 *            baseline: every field's scan locates header fields in _raw)
 *   eval     build + iw_engine_eval (with its caches, as `iocwatch scan`)
 *   <field>  build + that field's view + its matchers alone
 *            (iw_engine_scan_field: no scan-result cache, no rules)
 * Each field's line says how many lines have it, its bytes per line and
 * its cost per line over the build baseline.  The field passes do not add
 * up to eval: eval's caches answer repeated values, and it evaluates rules.
 *
 * Deterministic counts: run one field under callgrind,
 *   valgrind --tool=callgrind --toggle-collect=iw_engine_scan_field \
 *       build/bench/bench_fields --field cs-uri-decoded --rounds 1 LOG RULES...
 * (instructions of that field's scans alone).
 *
 * Usage: bench_fields [--lines N] [--rounds R] [--field NAME] LOG RULES... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "iw_engine.h"
#include "iw_engine_dbcache.h"
#include "iw_logfmt.h"

static iw_parsed_t *lines;
static int nlines;

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int load_log(apr_pool_t *p, const char *path, int max)
{
    FILE *f = fopen(path, "r");
    iw_input_format_t fmt = IW_INPUT_AUTO;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    if (!f) { fprintf(stderr, "bench_fields: cannot open %s\n", path); return -1; }
    lines = calloc((size_t)max, sizeof(*lines));
    while (lines && nlines < max && (len = getline(&line, &cap, f)) > 0) {
        iw_parsed_t *pr = &lines[nlines];
        const char *why;
        char *copy;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (!len) continue;
        if (fmt == IW_INPUT_AUTO && (fmt = iw_logfmt_detect(line, (size_t)len)) == IW_INPUT_AUTO) break;
        copy = apr_pmemdup(p, line, (size_t)len + 1);   /* parsed descriptions point into it */
        pr->buf_size = 2 * (size_t)len + 64;
        pr->buf = apr_palloc(p, pr->buf_size);
        if (iw_logfmt_parse(fmt, copy, (size_t)len, pr, &why)) nlines++;
    }
    free(line);
    fclose(f);
    return nlines ? 0 : -1;
}

static void build(iw_event_t *ev, iw_parsed_t *pr)
{
    if (pr->type == IW_EV_ERROR) iw_event_from_error(ev, &pr->err);
    else iw_event_from_request(ev, &pr->req);
}

enum { P_BUILD = -3, P_EVAL = -2 };

/* One pass over every line: CPU ns per line; *have / *bytes: lines where
 * the field is present and non-empty, and their bytes. */
static double pass(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev, int what,
                   long *have, double *bytes)
{
    const iw_hit_t *hits;
    double t0 = cpu_ns();
    int i;

    *have = 0;
    *bytes = 0;
    for (i = 0; i < nlines; i++) {
        build(ev, &lines[i]);
        /* _raw in every pass: the scan of any field locates the merged
         * header fields in it (find_segments) */
        if (what != P_EVAL) iw_event_get(ev, IW_F_RAW);
        if (what == P_EVAL) {
            iw_engine_eval(e, s, ev, &hits);
        } else if (what >= 0) {
            iw_str_t v = iw_event_get(ev, (iw_field_id_t)what);
            if (v.p && v.len) { (*have)++; *bytes += (double)v.len; }
            iw_engine_scan_field(e, s, ev, what);
        }
    }
    return (cpu_ns() - t0) / nlines;
}

static double best_pass(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev, int what,
                        int rounds, long *have, double *bytes)
{
    double best = 1e18, t;
    int r;
    for (r = 0; r < rounds; r++)
        if ((t = pass(e, s, ev, what, have, bytes)) < best) best = t;
    return best;
}

int main(int argc, char **argv)
{
    int max = 20000, rounds = 3, only = -1, i, nf, f[64];
    const char *log = NULL;
    apr_pool_t *p;
    iw_ruleset_t *rs;
    iw_diag_t *d;
    iw_engine_opts_t eo;
    iw_engine_t *e;
    iw_scratch_t *s;
    iw_event_t ev;
    double base, eval, bytes;
    long have;

    apr_initialize();
    apr_pool_create(&p, NULL);
    rs = iw_ruleset_create(p);
    d = iw_diag_create(p);
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--lines") && i + 1 < argc) max = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--field") && i + 1 < argc) {
            if ((only = iw_field_lookup(argv[++i])) < 0) {
                fprintf(stderr, "bench_fields: unknown field %s\n", argv[i]);
                return 2;
            }
        } else if (!log) log = argv[i];
        else iw_rules_load(rs, argv[i], d);
    }
    if (!log || max <= 0 || rounds <= 0) {
        fprintf(stderr, "usage: bench_fields [--lines N] [--rounds R] [--field NAME] LOG RULES...\n");
        return 2;
    }
    if (!d->errors) iw_ruleset_link(rs, d);
    memset(&eo, 0, sizeof(eo));
    eo.dbcache = iw_engine_dbcache_create(p, iw_engine_dbcache_default_dir(p));
    e = d->errors ? NULL : iw_engine_compile(p, rs, &eo, d);
    iw_diag_print(d, stderr, "");
    if (!e || load_log(p, log, max) < 0) {
        fprintf(stderr, "bench_fields: no engine or no lines\n");
        return 1;
    }
    s = iw_scratch_create(e);
    if (!s || iw_event_init_owned(&ev, 1024 * 1024) != 0) return 1;
    nf = iw_engine_scan_fields(e, lines[0].type == IW_EV_ERROR ? IW_EV_ERROR : IW_EV_ACCESS, f, 64);
    if (nf > 64) nf = 64;
    if (only >= 0) {                       /* one field, e.g. under callgrind */
        pass(e, s, &ev, only, &have, &bytes);
        printf("bench_fields: %s: %ld of %d lines, %.0f bytes per line\n",
               iw_field_name((iw_field_id_t)only), have, nlines, bytes / nlines);
        return 0;
    }
    pass(e, s, &ev, P_EVAL, &have, &bytes);          /* warm-up */
    base = best_pass(e, s, &ev, P_BUILD, rounds, &have, &bytes);
    eval = best_pass(e, s, &ev, P_EVAL, rounds, &have, &bytes) - base;
    printf("bench_fields: %d lines, %d scanned fields, best of %d rounds (CPU ns per line)\n",
           nlines, nf, rounds);
    printf("bench_fields: build (+ _raw) %.0f ns, eval %.0f ns (%.0f lines per CPU second with build)\n",
           base, eval, 1e9 / (base + eval));
    printf("%-28s %8s %8s %10s %7s\n", "field (matchers alone)", "lines%", "bytes", "ns/line", "%eval");
    for (i = 0; i < nf; i++) {
        double t = best_pass(e, s, &ev, f[i], rounds, &have, &bytes) - base;
        printf("%-28s %7.1f%% %8.0f %10.0f %6.1f%%\n", iw_field_name((iw_field_id_t)f[i]),
               100.0 * have / nlines, have ? bytes / have : 0, t, 100.0 * t / eval);
    }
    iw_scratch_destroy(s);
    iw_event_release(&ev);
    return 0;
}
