/* SPDX-License-Identifier: Apache-2.0 */
/* bench_engine: per-event cost of iw_engine_eval over a realistic mix.
 *
 * Events: the lines of corpus/benign/elastic-apache.log (real combined log)
 * and corpus/crs-requests.jsonl (attack requests), parsed once up front.
 * Rule sets: (1) all SigmaHQ webserver rules; (2) the same + 10,000 literal
 * IoC values (generated rules: cs-uri-query / cs-user-agent contains) + one
 * rule over a 100,000-entry CIDR placeholder list (c-ip|expand|cidr).
 * Timing: CLOCK_MONOTONIC (wall) and CLOCK_THREAD_CPUTIME_ID (CPU: the
 * build machine is shared, wall time includes waiting for a core).
 * Throughput includes building the event from the parsed line (what the
 * module does per request); "eval CPU ns" subtracts the build cost; median
 * and p99 are wall times of the evaluation alone.  Best of N rounds per
 * metric.  Prints plain lines for docs/BENCHMARKS.md.
 *
 * Usage: bench_engine [SIGMAHQ_DIR] [CORPUS_DIR] [ROUNDS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "iw_engine.h"
#include "iw_logfmt.h"

#define MAX_EVENTS 20000
#define NIOC 10000
#define NCIDR 100000

typedef struct bevent { iw_parsed_t pr; } bevent_t;

static bevent_t *events;
static int nevents, n_access_log, n_crs;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void load_file(apr_pool_t *p, const char *path, iw_input_format_t fmt, int *count)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    if (!f) { fprintf(stderr, "bench_engine: cannot open %s\n", path); return; }
    while (nevents < MAX_EVENTS && (len = getline(&line, &cap, f)) > 0) {
        bevent_t *be = &events[nevents];
        const char *why;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (!len) continue;
        /* keep the line: parsed descriptions point into it */
        char *copy = apr_pmemdup(p, line, (size_t)len + 1);
        memset(&be->pr, 0, sizeof(be->pr));
        be->pr.buf_size = 2 * (size_t)len + 64;
        be->pr.buf = apr_palloc(p, be->pr.buf_size);
        if (iw_logfmt_parse(fmt, copy, (size_t)len, &be->pr, &why)) {
            nevents++;
            (*count)++;
        }
    }
    free(line);
    fclose(f);
}

/* CPU time of this thread: the machine may be shared, wall time then
 * includes time spent waiting for a core. */
static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct result {
    double evps, cpu_evps, eval_cpu_ns, median, p99, cand_per_ev, hits_per_ev;
} result_t;

static void build_event(iw_event_t *ev, char *buf, size_t size, iw_parsed_t *pr)
{
    iw_event_init(ev, buf, size);
    if (pr->type == IW_EV_ERROR) iw_event_from_error(ev, &pr->err);
    else iw_event_from_request(ev, &pr->req);
}

/* One round over all events: (1) build+eval throughput, wall and CPU;
 * (2) build alone (CPU), to derive the CPU cost of eval; (3) wall latency
 * of each eval with the event built outside the clock. */
static result_t round_once(const iw_engine_t *e, iw_scratch_t *s, double *lat)
{
    static char buf[65536];
    iw_event_t ev;
    const iw_hit_t *hits;
    double w0, c0, build_ns, t0;
    long nhits = 0;
    int i;
    uint64_t e0, c0n, e1, c1n;
    result_t r;

    w0 = now_ns();
    c0 = cpu_ns();
    for (i = 0; i < nevents; i++) {
        build_event(&ev, buf, sizeof(buf), &events[i].pr);
        nhits += iw_engine_eval(e, s, &ev, &hits);
    }
    r.evps = nevents / ((now_ns() - w0) / 1e9);
    r.cpu_evps = nevents / ((cpu_ns() - c0) / 1e9);
    r.hits_per_ev = (double)nhits / nevents;
    c0 = cpu_ns();
    for (i = 0; i < nevents; i++) {
        build_event(&ev, buf, sizeof(buf), &events[i].pr);
        iw_event_get(&ev, IW_F_RAW);   /* the lazy view eval builds */
    }
    build_ns = (cpu_ns() - c0) / nevents;
    r.eval_cpu_ns = 1e9 / r.cpu_evps - build_ns;
    iw_scratch_counters(s, &e0, &c0n);
    for (i = 0; i < nevents; i++) {
        build_event(&ev, buf, sizeof(buf), &events[i].pr);
        t0 = now_ns();
        iw_engine_eval(e, s, &ev, &hits);
        lat[i] = now_ns() - t0;
    }
    iw_scratch_counters(s, &e1, &c1n);
    r.cand_per_ev = (double)(c1n - c0n) / (double)(e1 - e0);
    qsort(lat, (size_t)nevents, sizeof(double), cmp_d);
    r.median = lat[nevents / 2];
    r.p99 = lat[nevents * 99 / 100];
    return r;
}

/* Best of `rounds` rounds per metric, the engines alternating so both see
 * the same machine load (the build machine is shared). */
static void run_pair(const iw_engine_t *e1, const iw_engine_t *e2, int rounds,
                     result_t *r1, result_t *r2)
{
    const iw_engine_t *eng[2] = { e1, e2 };
    result_t *best[2] = { r1, r2 };
    iw_scratch_t *s[2];
    double *lat = malloc(sizeof(double) * (size_t)nevents);
    int k, i;

    for (k = 0; k < 2; k++) {
        static char buf[65536];
        iw_event_t ev;
        const iw_hit_t *hits;
        s[k] = eng[k] ? iw_scratch_create(eng[k]) : NULL;
        for (i = 0; s[k] && i < nevents; i++) {      /* warm-up */
            build_event(&ev, buf, sizeof(buf), &events[i].pr);
            iw_engine_eval(eng[k], s[k], &ev, &hits);
        }
        best[k]->evps = best[k]->cpu_evps = 0;
        best[k]->eval_cpu_ns = best[k]->median = 1e18;
    }
    for (i = 0; i < rounds; i++)
        for (k = 0; k < 2; k++) {
            result_t r;
            if (!s[k]) continue;
            r = round_once(eng[k], s[k], lat);
            if (r.evps > best[k]->evps) best[k]->evps = r.evps;
            if (r.cpu_evps > best[k]->cpu_evps) best[k]->cpu_evps = r.cpu_evps;
            if (r.eval_cpu_ns < best[k]->eval_cpu_ns) best[k]->eval_cpu_ns = r.eval_cpu_ns;
            if (r.median < best[k]->median) { best[k]->median = r.median; best[k]->p99 = r.p99; }
            best[k]->cand_per_ev = r.cand_per_ev;
            best[k]->hits_per_ev = r.hits_per_ev;
        }
    for (k = 0; k < 2; k++) iw_scratch_destroy(s[k]);
    free(lat);
}

static void print_stats(const char *label, const iw_engine_t *e, double ms, result_t r)
{
    iw_engine_stats_t st;
    iw_engine_stats(e, &st);
    printf("bench_engine: %s: rules=%d predicates=%d patterns=%d databases=%d regex=%d "
           "(unfiltered %d) direct=%d cidr_nodes=%ld always=%d merged=%d compile=%.0f ms\n",
           label, st.rules, st.predicates, st.patterns, st.databases, st.regexes,
           st.regexes_unfiltered, st.direct_checks, st.cidr_nodes, st.always_candidates,
           st.merged_literals, ms);
    printf("bench_engine: %s: %.0f events/s wall, %.0f events/s per CPU-second (build+eval); "
           "eval %.0f CPU ns/event; eval wall median %.0f ns, p99 %.0f ns; "
           "%.2f candidate rules/event, %.4f hits/event\n",
           label, r.evps, r.cpu_evps, r.eval_cpu_ns, r.median, r.p99, r.cand_per_ev, r.hits_per_ev);
}

/* Deterministic pseudo-random numbers (xorshift). */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}

/* 100 rules x 100 values: half on the URI, half on the user agent. */
static const char *ioc_rules(apr_pool_t *p)
{
    apr_array_header_t *doc = apr_array_make(p, 128, sizeof(char *));
    int r, v;
    for (r = 0; r < NIOC / 100; r++) {
        apr_array_header_t *vals = apr_array_make(p, 100, sizeof(char *));
        int ua = r & 1;
        for (v = 0; v < 100; v++) {
            char tmp[64];   /* apr_psprintf has no %llx */
            if (ua)
                snprintf(tmp, sizeof(tmp), "            - 'bot-%012llx'\n",
                         (unsigned long long)(rnd() & 0xFFFFFFFFFFFFull));
            else
                snprintf(tmp, sizeof(tmp), "            - '/%08llx/%04llx.php'\n",
                         (unsigned long long)(rnd() & 0xFFFFFFFF), (unsigned long long)(rnd() & 0xFFFF));
            APR_ARRAY_PUSH(vals, const char *) = apr_pstrdup(p, tmp);
        }
        APR_ARRAY_PUSH(doc, const char *) = apr_psprintf(p,
            "%stitle: IoC batch %d\nid: ioc-%d\nlevel: high\nlogsource:\n    category: webserver\n"
            "detection:\n    sel:\n        %s|contains:\n%s    condition: sel\n",
            r ? "---\n" : "", r, r, ua ? "cs-user-agent" : "cs-uri-query", apr_array_pstrcat(p, vals, 0));
    }
    return apr_array_pstrcat(p, doc, 0);
}

#define FEED_RULE(item) "title: IP feed\nid: ioc-feed\nlevel: high\nlogsource:\n    category: webserver\n" \
    "detection:\n    sel:\n        " item "\n    condition: sel\n"

/* The IP feed rule: c-ip|expand|cidr: '%ioc_nets%'.  If the loader refuses
 * that combination, load a plain cidr item and set the placeholder on the
 * model (the engine path is the same). */
static int load_feed_rule(apr_pool_t *p, iw_ruleset_t *rs, iw_diag_t *d)
{
    static const char yexp[] = FEED_RULE("c-ip|expand|cidr: '%ioc_nets%'");
    static const char yplain[] = FEED_RULE("c-ip|cidr: '0.0.0.0/32'");
    iw_ruleset_t *probe = iw_ruleset_create(p);
    iw_diag_t *pd = iw_diag_create(p);
    iw_rule_t *r;
    iw_item_t *it;
    iw_value_t *v;

    iw_rules_load_string(probe, "ioc-feed.yml", yexp, sizeof(yexp) - 1, pd);
    if (!pd->errors) {
        iw_rules_load_string(rs, "ioc-feed.yml", yexp, sizeof(yexp) - 1, d);
        return d->errors ? -1 : 0;
    }
    printf("bench_engine: note: loader refuses expand|cidr; placeholder set on the model\n");
    iw_rules_load_string(rs, "ioc-feed.yml", yplain, sizeof(yplain) - 1, d);
    if (d->errors) return -1;
    r = APR_ARRAY_IDX(rs->rules, rs->rules->nelts - 1, iw_rule_t *);
    it = &APR_ARRAY_IDX(APR_ARRAY_IDX(APR_ARRAY_IDX(r->selections, 0, iw_selection_t).groups,
                                      0, iw_group_t).items, 0, iw_item_t);
    v = &APR_ARRAY_IDX(it->values, 0, iw_value_t);
    it->mods |= IW_MOD_EXPAND;
    v->s.p = "%ioc_nets%";
    v->s.len = 10;
    return 0;
}

static apr_array_header_t *cidr_feed(apr_pool_t *p)
{
    apr_array_header_t *a = apr_array_make(p, NCIDR, sizeof(char *));
    int i;
    for (i = 0; i < NCIDR; i++) {
        uint64_t x = rnd();
        /* avoid the documentation/private ranges the corpus uses */
        unsigned o1 = 1 + (unsigned)(x % 222);
        if (o1 == 10 || o1 == 127 || o1 == 192 || o1 == 172) o1 = 45;
        if (i % 4 == 0)
            APR_ARRAY_PUSH(a, const char *) = apr_psprintf(p, "%u.%u.%u.0/24", o1,
                (unsigned)(x >> 8) & 255, (unsigned)(x >> 16) & 255);
        else if (i % 4 == 1)
            APR_ARRAY_PUSH(a, const char *) = apr_psprintf(p, "2001:db8:%x:%x::/64",
                (unsigned)(x >> 8) & 0xFFFF, (unsigned)(x >> 24) & 0xFFFF);
        else
            APR_ARRAY_PUSH(a, const char *) = apr_psprintf(p, "%u.%u.%u.%u", o1,
                (unsigned)(x >> 8) & 255, (unsigned)(x >> 16) & 255, (unsigned)(x >> 24) & 255);
    }
    return a;
}

int main(int argc, char **argv)
{
    const char *sigma = argc > 1 ? argv[1] : "/work/shared/sigma/sigmahq-rules";
    const char *corpus = argc > 2 ? argv[2] : "/work/shared/corpus";
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    apr_pool_t *p;
    iw_ruleset_t *rs;
    iw_diag_t *d;
    iw_engine_t *e1, *e2;
    iw_engine_opts_t eo;
    double t0, ms1, ms2;
    result_t r1, r2;
    int i;

    apr_initialize();
    apr_pool_create(&p, NULL);
    events = calloc(MAX_EVENTS, sizeof(*events));
    load_file(p, apr_pstrcat(p, corpus, "/benign/elastic-apache.log", NULL), IW_INPUT_COMBINED, &n_access_log);
    load_file(p, apr_pstrcat(p, corpus, "/crs-requests.jsonl", NULL), IW_INPUT_JSONL, &n_crs);
    if (!nevents) { fprintf(stderr, "bench_engine: no events\n"); return 1; }
    printf("bench_engine: events=%d (elastic-apache.log %d + crs-requests.jsonl %d)\n",
           nevents, n_access_log, n_crs);

    /* IW_BENCH_SCAN_CACHE=N: scan/event cache entries per scratch (0 = off),
     * to compare with the default */
    memset(&eo, 0, sizeof(eo));
    if (getenv("IW_BENCH_SCAN_CACHE")) {
        eo.scan_cache = atoi(getenv("IW_BENCH_SCAN_CACHE"));
        if (eo.scan_cache <= 0) eo.scan_cache = -1;
    }
    printf("bench_engine: scan cache %s\n", eo.scan_cache < 0 ? "off" : "on");

    /* (1) SigmaHQ */
    rs = iw_ruleset_create(p);
    d = iw_diag_create(p);
    iw_rules_load(rs, apr_pstrcat(p, sigma, "/rules", NULL), d);
    iw_rules_load(rs, apr_pstrcat(p, sigma, "/rules-emerging-threats", NULL), d);
    iw_ruleset_link(rs, d);
    t0 = now_ns();
    e1 = iw_engine_compile(p, rs, &eo, d);
    ms1 = (now_ns() - t0) / 1e6;
    if (!e1 || d->errors) {
        iw_diag_print(d, stderr, "");
        return 1;
    }

    /* (2) + IoCs + CIDR feed */
    {
        const char *y = ioc_rules(p);
        iw_rules_load_string(rs, "ioc.yml", y, strlen(y), d);
    }
    if (d->errors || load_feed_rule(p, rs, d) < 0) {
        for (i = 0; i < d->msgs->nelts && i < 20; i++)
            fprintf(stderr, "%s\n", APR_ARRAY_IDX(d->msgs, i, iw_diag_msg_t).text);
        return 1;
    }
    iw_ruleset_set_placeholder(rs, "ioc_nets", cidr_feed(p));
    iw_ruleset_link(rs, d);
    t0 = now_ns();
    e2 = iw_engine_compile(p, rs, &eo, d);
    ms2 = (now_ns() - t0) / 1e6;
    if (!e2) {
        for (i = 0; i < d->msgs->nelts && i < 20; i++)
            fprintf(stderr, "%s\n", APR_ARRAY_IDX(d->msgs, i, iw_diag_msg_t).text);
        return 1;
    }
    if (rounds < 1) rounds = 1;
    run_pair(e1, e2, rounds, &r1, &r2);
    {
        double la[3] = { 0, 0, 0 };
        FILE *f = fopen("/proc/loadavg", "r");
        if (f) { if (fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3) la[0] = 0; fclose(f); }
        printf("bench_engine: best of %d rounds per metric, engines alternating; load average %.2f\n",
               rounds, la[0]);
    }
    print_stats("sigmahq", e1, ms1, r1);
    print_stats("sigmahq+10000 IoC+100000 CIDR", e2, ms2, r2);
    printf("bench_engine: ratio (IoC set / SigmaHQ): eval median %.2fx, eval CPU %.2fx, "
           "throughput (CPU) %.2fx\n",
           r2.median / r1.median, r2.eval_cpu_ns / r1.eval_cpu_ns, r1.cpu_evps / r2.cpu_evps);
    apr_pool_destroy(p);
    free(events);
    apr_terminate();
    return 0;
}
