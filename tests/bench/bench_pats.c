/* SPDX-License-Identifier: Apache-2.0 */
/* bench_pats: what each pattern of one field's Vectorscan database costs on
 * given values, for rule writers (tools/bench_pats.py drives it).
 *
 *   bench_pats dump [--field NAME] RULES...
 *       compiles the rules as the engine does and prints every database
 *       of the field (all fields without --field), one pattern a line:
 *       field, kind (db, plain, rest, line, block: fieldm_t), Vectorscan
 *       id, flags (hex, as compiled), rules, expression.  Control bytes of
 *       an expression are written \x{HH} (the same regex).
 *   bench_pats values --field NAME [--kind db|plain|line|block] [--lines N] LOG
 *       the values that database scans (LOG: any input `iocwatch scan`
 *       reads): db and plain split the field's values by
 *       iw_match_plain_value, line gives a header block's windows (the LF
 *       before a line, the line, its LF), block the whole block.  One
 *       value a line, escaped (\\ \n \r \t \xHH).
 *   bench_pats cost [--dbdir DIR] [--compile-only] [--uniq] [--no-confirm]
 *                   [--set all|loo|alone]... PATS VALUES
 *       compiles the patterns of PATS (lines of a dump; flags as given)
 *       into databases, then scans every value with each: `all` (every
 *       pattern), `loo` (every pattern but one, one database per pattern),
 *       `alone` (one pattern a database), `none` (the loop alone).  A
 *       report of a prefilter pattern runs PCRE2 on the value, as a scan
 *       that records for the scan-result cache does (every report;
 *       --no-confirm: none, Vectorscan's work alone).  Under
 *       callgrind each set is dumped on its own:
 *         valgrind --tool=callgrind --collect-atstart=no \
 *             --toggle-collect=scan_set_values bench_pats cost ...
 *       (CALLGRIND_DUMP_STATS_AT with the set's name).  Databases are
 *       compiled for the implementation the engine scans with (iw_vs;
 *       AVX2 when that is Vectorscan's own dispatch) and kept serialized
 *       in DIR (by a hash of their expressions and flags): run once
 *       natively with --compile-only, then under callgrind, which then
 *       compiles nothing.
 *
 * Numbers from it rank patterns; the figure that counts is httpd's
 * (tools/bench_instr.py), since a database's cost is not the sum of its
 * patterns' (docs/PACK.md, "Scan cost"). */

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <valgrind/callgrind.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "iw_engine_int.h"
#include "iw_logfmt.h"
#include "iw_vs.h"
#include "../common/hs_record.h"

/* ---- dump: every database the engine compiles, recorded ------------------ */

/* The rules that read a pattern's predicates (names, comma-separated). */
static void print_rules(const iw_engine_t *e, int32_t pat)
{
    int32_t i, k, printed = 0;
    const char *seen[16];
    int nseen = 0, j;

    if (pat < 0 || pat >= e->npatterns) { fputs("-", stdout); return; }
    for (i = e->pat_act_first[pat]; i < e->pat_act_first[pat + 1]; i++) {
        int32_t a = e->acts[i], pred = a >= 0 ? a : e->rx[-1 - a].pred;
        for (k = e->rd_first[pred]; k < e->rd_first[pred + 1]; k++) {
            const iw_rule_t *r = e->rules[e->rd_rules[k]].rule;
            const char *nm = r->name ? r->name : r->title ? r->title : "?";
            for (j = 0; j < nseen && strcmp(seen[j], nm); j++) ;
            if (j < nseen) continue;
            if (nseen < 16) seen[nseen++] = nm;
            printf("%s%s", printed++ ? "," : "", nm);
        }
    }
    if (!printed) fputs("-", stdout);
}

static void print_expr(const char *x)
{
    for (; *x; x++) {
        unsigned char c = (unsigned char)*x;
        if (c < 0x20 || c == 0x7f) printf("\\x{%02x}", c);
        else putchar(c);
    }
}

static void dump_db(const iw_engine_t *e, int field, const char *kind, const hs_database_t *db,
                    int lines)
{
    const dbrec_t *r = hs_find_rec(db);
    unsigned i;

    if (!db) return;
    if (!r) {
        fprintf(stderr, "bench_pats: %s %s: compiled elsewhere (a cache?)\n",
                iw_field_name((iw_field_id_t)field), kind);
        return;
    }
    for (i = 0; i < r->n; i++) {
        int32_t pat = (int32_t)r->ids[i];
        if (lines) pat = (int32_t)r->ids[i] < e->nhl ? e->hl[r->ids[i]].pat : -1;
        else if (r->ids[i] >= (unsigned)e->npatterns) pat = e->conf[r->ids[i] - (unsigned)e->npatterns].pat;
        printf("%s\t%s\t%u\t0x%x\t", iw_field_name((iw_field_id_t)field), kind, r->ids[i], r->flags[i]);
        print_rules(e, pat);
        putchar('\t');
        print_expr(r->exprs[i]);
        putchar('\n');
    }
}

static int cmd_dump(apr_pool_t *p, int argc, char **argv)
{
    int field = -1, i = 2, f;
    iw_engine_t *e;

    if (i + 1 < argc && !strcmp(argv[i], "--field")) {
        if ((field = iw_field_lookup(argv[i + 1])) < 0) {
            fprintf(stderr, "bench_pats: unknown field %s\n", argv[i + 1]);
            return 2;
        }
        i += 2;
    }
    if (hs_record_engine(p, argv + i, argc - i, &e) < 0) return 1;
    for (f = 0; f < IW_F__COUNT; f++) {
        const fieldm_t *fm = &e->fm[0][f];
        if (field >= 0 && f != field) continue;
        dump_db(e, f, "db", fm->db, 0);
        dump_db(e, f, "plain", fm->plain, 0);
        dump_db(e, f, "rest", fm->rest, 0);
        if (fm->hl) {
            dump_db(e, f, "line", fm->hl->line_db, 1);
            dump_db(e, f, "block", fm->hl->block_db, 1);
        }
    }
    return 0;
}

/* ---- values: what one database of a field scans --------------------------- */

static void print_value(const char *v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '\\') fputs("\\\\", stdout);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c < 0x20 || c >= 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    putchar('\n');
}

static void values_of(iw_str_t v, const char *kind)
{
    if (!v.p || !v.len) return;
    if (!strcmp(kind, "line")) {
        const char *p = v.p, *end = p + v.len, *ls = p;
        while (ls < end) {
            const char *nl = memchr(ls, '\n', (size_t)(end - ls));
            const char *le = nl ? nl + 1 : end, *ws = ls == p ? ls : ls - 1;
            print_value(ws, (size_t)(le - ws));
            ls = le;
        }
    } else if (!strcmp(kind, "block") || !strcmp(kind, "db") == !iw_match_plain_value(v.p, v.len)
               || !strcmp(kind, "all")) {
        print_value(v.p, v.len);
    }
}

static int cmd_values(apr_pool_t *p, int argc, char **argv)
{
    const char *kind = "db", *log = NULL;
    int field = -1, max = 1000000, i, nl = 0;
    FILE *f;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    iw_input_format_t fmt = IW_INPUT_AUTO;
    iw_event_t ev;

    for (i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--field") && i + 1 < argc) field = iw_field_lookup(argv[++i]);
        else if (!strcmp(argv[i], "--kind") && i + 1 < argc) kind = argv[++i];
        else if (!strcmp(argv[i], "--lines") && i + 1 < argc) max = atoi(argv[++i]);
        else log = argv[i];
    }
    if (field < 0 || !log) {
        fprintf(stderr, "usage: bench_pats values --field NAME [--kind K] [--lines N] LOG\n");
        return 2;
    }
    if (!(f = fopen(log, "r"))) { perror(log); return 1; }
    if (iw_event_init_owned(&ev, 1024 * 1024) != 0) return 1;
    while (nl < max && (len = getline(&line, &cap, f)) > 0) {
        iw_parsed_t pr;
        const char *why;
        char *copy;
        apr_pool_t *lp;
        iw_str_t v;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (!len) continue;
        if (fmt == IW_INPUT_AUTO && (fmt = iw_logfmt_detect(line, (size_t)len)) == IW_INPUT_AUTO) break;
        apr_pool_create(&lp, p);
        copy = apr_pmemdup(lp, line, (size_t)len + 1);
        memset(&pr, 0, sizeof(pr));
        pr.buf_size = 2 * (size_t)len + 64;
        pr.buf = apr_palloc(lp, pr.buf_size);
        if (iw_logfmt_parse(fmt, copy, (size_t)len, &pr, &why)) {
            nl++;
            if (pr.type == IW_EV_ERROR) iw_event_from_error(&ev, &pr.err);
            else iw_event_from_request(&ev, &pr.req);
            v = iw_event_get(&ev, (iw_field_id_t)field);
            if (iw_field_is_multi(field)) {
                size_t pos = 0;
                iw_str_t x;
                while (iw_param_next(v, &pos, &x)) values_of(x, kind);
            } else {
                values_of(v, kind);
            }
        }
        apr_pool_destroy(lp);
    }
    free(line);
    fclose(f);
    iw_event_release(&ev);
    return 0;
}

/* ---- cost: databases of subsets, scanned under callgrind ------------------ */

typedef struct bpat {
    char *expr;
    unsigned flags, id;
    char *rules;
    pcre2_code *code;              /* prefilter patterns: the confirmation */
} pat_t2;

static pat_t2 *pats;
static int npats;
static iw_str_t *vals;
static int nvals;
static pcre2_match_data *md;
static unsigned long pcre_runs;
static int no_confirm;             /* --no-confirm: Vectorscan alone */

static char *unescape_regex(const char *s)
{
    /* \x{HH} of a dump stays: the same regex */
    return strdup(s);
}

static int read_pats(const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int cap2 = 0;

    if (!f) { perror(path); return -1; }
    while ((len = getline(&line, &cap, f)) > 0) {
        char *col[6], *s = line;
        int k;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        for (k = 0; k < 5; k++) {
            col[k] = s;
            if (!(s = strchr(s, '\t'))) break;
            *s++ = 0;
        }
        if (k < 5) continue;
        col[5] = s;
        if (npats == cap2) {
            cap2 = cap2 ? 2 * cap2 : 64;
            if (!(pats = realloc(pats, sizeof(*pats) * (size_t)cap2))) abort();
        }
        pats[npats].id = (unsigned)strtoul(col[2], NULL, 10);
        pats[npats].flags = (unsigned)strtoul(col[3], NULL, 16);
        pats[npats].rules = strdup(col[4]);
        pats[npats].expr = unescape_regex(col[5]);
        pats[npats].code = NULL;
        if ((pats[npats].flags & HS_FLAG_PREFILTER) && !no_confirm) {
            int ec;
            PCRE2_SIZE eo;
            uint32_t o = ((pats[npats].flags & HS_FLAG_CASELESS) ? PCRE2_CASELESS : 0)
                         | ((pats[npats].flags & HS_FLAG_MULTILINE) ? PCRE2_MULTILINE : 0)
                         | ((pats[npats].flags & HS_FLAG_DOTALL) ? PCRE2_DOTALL : 0);
            pats[npats].code = pcre2_compile((PCRE2_SPTR)pats[npats].expr, PCRE2_ZERO_TERMINATED, o,
                                             &ec, &eo, NULL);
            if (pats[npats].code) pcre2_jit_compile(pats[npats].code, PCRE2_JIT_COMPLETE);
            else fprintf(stderr, "bench_pats: PCRE2 rejects pattern %d\n", npats);
        }
        npats++;
    }
    free(line);
    fclose(f);
    return npats ? 0 : -1;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int cmp_str(const void *a, const void *b)
{
    const iw_str_t *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int read_values(const char *path, int uniq)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int cap2 = 0, i, k;

    if (!f) { perror(path); return -1; }
    while ((len = getline(&line, &cap, f)) > 0) {
        char *o = malloc((size_t)len + 1);
        size_t n = 0;
        ssize_t j;
        if (!o) abort();
        if (line[len - 1] == '\n') len--;
        for (j = 0; j < len; j++) {
            if (line[j] != '\\' || j + 1 >= len) { o[n++] = line[j]; continue; }
            switch (line[++j]) {
            case 'n': o[n++] = '\n'; break;
            case 'r': o[n++] = '\r'; break;
            case 't': o[n++] = '\t'; break;
            case 'x':
                if (j + 2 < len && hexval(line[j + 1]) >= 0 && hexval(line[j + 2]) >= 0) {
                    o[n++] = (char)(hexval(line[j + 1]) * 16 + hexval(line[j + 2]));
                    j += 2;
                    break;
                }
                /* fall through */
            default: o[n++] = line[j];
            }
        }
        if (!n) { free(o); continue; }
        if (nvals == cap2) {
            cap2 = cap2 ? 2 * cap2 : 1024;
            if (!(vals = realloc(vals, sizeof(*vals) * (size_t)cap2))) abort();
        }
        vals[nvals++] = (iw_str_t){ o, n };
    }
    free(line);
    fclose(f);
    if (uniq && nvals) {
        qsort(vals, (size_t)nvals, sizeof(*vals), cmp_str);
        for (i = 1, k = 1; i < nvals; i++)
            if (cmp_str(&vals[i], &vals[k - 1])) vals[k++] = vals[i];
        nvals = k;
    }
    return 0;
}

typedef struct sctx { iw_str_t v; const int *map; } sctx_t;

static int on_hit(unsigned id, unsigned long long from, unsigned long long to, unsigned fl, void *ctx)
{
    sctx_t *c = ctx;
    const pat_t2 *pt = &pats[c->map[id]];
    (void)from; (void)to; (void)fl;
    if (pt->code) {
        pcre_runs++;
        pcre2_match(pt->code, (PCRE2_SPTR)c->v.p, c->v.len, 0, 0, md, NULL);
    }
    return 0;
}

/* Every value through db: the function callgrind counts. */
static void __attribute__((noinline)) scan_set_values(const hs_database_t *db, hs_scratch_t *sc,
                                                      const int *map)
{
    sctx_t c;
    int i;
    c.map = map;
    for (i = 0; i < nvals; i++) {
        c.v = vals[i];
        if (db) iw_vs_scan(db, vals[i].p, (unsigned)vals[i].len, 0, sc, on_hit, &c);
    }
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* The database of the patterns with use[i] set (ids: their index), from
 * dir when it holds it, else compiled (and stored). */
static hs_database_t *subset_db(const char *dir, const char *use, int *map, int compile_only)
{
    const char **ex = calloc((size_t)npats, sizeof(char *));
    unsigned *fl = calloc((size_t)npats, sizeof(unsigned)), *ids = calloc((size_t)npats, sizeof(unsigned));
    uint64_t h = 1469598103934665603ull;
    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    hs_platform_info_t plat = { .tune = HS_TUNE_FAMILY_GENERIC, .cpu_features = HS_CPU_FEATURES_AVX2 };
    char path[4096];
    int i, n = 0;
    FILE *f;

    iw_vs_init();                      /* the engine's implementation, natively and under valgrind */
    if (iw_vs_platform()) plat = *iw_vs_platform();

    if (!ex || !fl || !ids) abort();
    for (i = 0; i < npats; i++) {
        if (!use[i]) continue;
        ex[n] = pats[i].expr;
        fl[n] = pats[i].flags;
        ids[n] = (unsigned)n;
        map[n++] = i;
        h = fnv(h, pats[i].expr, strlen(pats[i].expr) + 1);
        h = fnv(h, &pats[i].flags, sizeof(unsigned));
    }
    if (!n) goto out;
    snprintf(path, sizeof(path), "%s/%016llx.hsdb", dir ? dir : ".", (unsigned long long)h);
    if (dir && (f = fopen(path, "rb"))) {
        struct stat st;
        char *buf;
        if (fstat(fileno(f), &st) == 0 && (buf = malloc((size_t)st.st_size))) {
            if (fread(buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size
                && hs_deserialize_database(buf, (size_t)st.st_size, &db) != HS_SUCCESS)
                db = NULL;
            free(buf);
        }
        fclose(f);
        if (db) {
            if (compile_only) { hs_free_database(db); db = NULL; }
            goto out;
        }
    }
    if (hs_compile_ext_multi(ex, fl, ids, NULL, (unsigned)n, HS_MODE_BLOCK, &plat, &db, &err)
        != HS_SUCCESS) {
        fprintf(stderr, "bench_pats: compile: %s (pattern %d)\n", err ? err->message : "?",
                err ? err->expression : -1);
        if (err) hs_free_compile_error(err);
        db = NULL;
        goto out;
    }
    if (dir) {
        char *bytes;
        size_t len;
        if (hs_serialize_database(db, &bytes, &len) == HS_SUCCESS) {
            if ((f = fopen(path, "wb"))) {
                fwrite(bytes, 1, len, f);
                fclose(f);
            }
            free(bytes);
        }
    }
    if (compile_only) { hs_free_database(db); db = NULL; }
out:
    free(ex);
    free(fl);
    free(ids);
    return db;
}

static void run_set(const char *dir, const char *use, const char *label, int compile_only)
{
    int *map = calloc((size_t)npats + 1, sizeof(int));
    hs_database_t *db;
    hs_scratch_t *sc = NULL;
    char lab[512];

    if (!map) abort();
    db = subset_db(dir, use, map, compile_only);
    if (compile_only) { free(map); return; }
    if (db && hs_alloc_scratch(db, &sc) != HS_SUCCESS) { fprintf(stderr, "scratch\n"); exit(1); }
    pcre_runs = 0;
    CALLGRIND_ZERO_STATS;
    scan_set_values(db, sc, map);
    snprintf(lab, sizeof(lab), "%s pcre=%lu", label, pcre_runs);
    CALLGRIND_DUMP_STATS_AT(lab);
    printf("%s\n", lab);
    if (sc) hs_free_scratch(sc);
    if (db) hs_free_database(db);
    free(map);
}

static int cmd_cost(int argc, char **argv)
{
    const char *dir = NULL, *pf = NULL, *vf = NULL;
    int compile_only = 0, uniq = 0, i, k;
    int do_all = 0, do_loo = 0, do_alone = 0, do_none = 0;
    char *use, lab[64];

    for (i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--dbdir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--compile-only")) compile_only = 1;
        else if (!strcmp(argv[i], "--uniq")) uniq = 1;
        else if (!strcmp(argv[i], "--no-confirm")) no_confirm = 1;
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            const char *s = argv[++i];
            if (!strcmp(s, "all")) do_all = 1;
            else if (!strcmp(s, "loo")) do_loo = 1;
            else if (!strcmp(s, "alone")) do_alone = 1;
            else if (!strcmp(s, "none")) do_none = 1;
            else { fprintf(stderr, "bench_pats: unknown set %s\n", s); return 2; }
        } else if (!pf) pf = argv[i];
        else vf = argv[i];
    }
    if (!pf || !vf) {
        fprintf(stderr, "usage: bench_pats cost [--dbdir DIR] [--compile-only] [--uniq] [--no-confirm] "
                        "[--set all|loo|alone|none]... PATS VALUES\n");
        return 2;
    }
    if (!do_all && !do_loo && !do_alone && !do_none) do_all = 1;
    if (read_pats(pf) < 0 || read_values(vf, uniq) < 0) return 1;
    md = pcre2_match_data_create(64, NULL);
    if (!(use = malloc((size_t)npats))) return 1;
    if (!compile_only) {
        size_t bytes = 0;
        for (i = 0; i < nvals; i++) bytes += vals[i].len;
        printf("values %d bytes %zu patterns %d\n", nvals, bytes, npats);
    }
    if (do_none) {
        memset(use, 0, (size_t)npats);
        run_set(dir, use, "none", compile_only);
    }
    if (do_all) {
        memset(use, 1, (size_t)npats);
        run_set(dir, use, "all", compile_only);
    }
    for (k = 0; do_loo && k < npats; k++) {
        memset(use, 1, (size_t)npats);
        use[k] = 0;
        snprintf(lab, sizeof(lab), "loo %d", k);
        run_set(dir, use, lab, compile_only);
    }
    for (k = 0; do_alone && k < npats; k++) {
        memset(use, 0, (size_t)npats);
        use[k] = 1;
        snprintf(lab, sizeof(lab), "alone %d", k);
        run_set(dir, use, lab, compile_only);
    }
    free(use);
    return 0;
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    int rc;

    apr_initialize();
    apr_pool_create(&p, NULL);
    if (argc >= 2 && !strcmp(argv[1], "dump")) rc = cmd_dump(p, argc, argv);
    else if (argc >= 2 && !strcmp(argv[1], "values")) rc = cmd_values(p, argc, argv);
    else if (argc >= 2 && !strcmp(argv[1], "cost")) rc = cmd_cost(argc, argv);
    else {
        fprintf(stderr, "usage: bench_pats dump|values|cost ... (see the file's opening comment)\n");
        rc = 2;
    }
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
