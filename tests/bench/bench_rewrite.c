/* SPDX-License-Identifier: Apache-2.0 */
/* bench_rewrite: what each regex of one field's Vectorscan database costs,
 * and what a rewritten regex would cost instead.
 *
 * A field's database scans every value of that field; its cost is the set
 * of automata Vectorscan builds for all of its patterns together, so a
 * pattern's share is measured by leaving it out (and by compiling it
 * alone).  Everything runs on the field's real database: the rules are
 * compiled by the engine, and the expressions and flags it hands to
 * Vectorscan (after its own analysis: single-match dropped for one-byte
 * patterns, the plain-value database's branches) are captured at the
 * compile call (linked with --wrap=iw_engine_dbcache_compile_multi,
 * Makefile).
 *
 *   bench_rewrite [--field NAME] [--lines N] [--platform TUNE:FEATURES]
 *                 [--only SUBSTR] [--no-each] [--exact] [--replace ID:FILE]...
 *                 [--split ID:FILE,FILE2]... [--combine] DIR LOG RULES...
 *
 * 1. natively: the engine is compiled (through the usual database cache),
 *    the values of the field are taken from the first N lines of LOG
 *    (any format `iocwatch scan` reads; one value per parameter of a
 *    multi-valued field) and sorted as the engine would scan them: values
 *    of plain bytes with the plain-value database, the others with the
 *    full one, values shorter than the shortest match not at all.  Then
 *    every variant is compiled for the platform Vectorscan sees under
 *    valgrind (default 3:4, AVX2: `valgrind --tool=none` reports it) and
 *    serialized into DIR: "all"; "newK" for the K-th --replace (pattern ID
 *    with the regex in FILE instead, its plain-value branches and flags
 *    derived as the engine does) or --split (ID replaced by FILE and FILE2
 *    added as a pattern of its own, as two list items of a selection
 *    would be); "new0" with all of them (--combine); "lits" (the literals
 *    alone); and unless --no-each, for each regex (prefilter pattern)
 *    "-ID" (the database without it) and "+ID" (it alone with the
 *    literals); with --exact also "-ID" of each regex Vectorscan takes
 *    exactly (no PCRE2 confirmation).  IDs are the Vectorscan ids of the
 *    table of a first run.
 * 2. under callgrind (run by this program, one process): each variant's
 *    scans are counted on their own (client requests): the full-database
 *    values, the plain ones, and 2,000 scans of a 3-byte value (the fixed
 *    cost of a call) through the full database ("a b") and the plain one
 *    ("a=b").  A report of a regex runs its PCRE2 confirmation once per
 *    value, as the engine does.
 * 3. a table per variant: instructions per scan of each kind and the
 *    change against "all".  --only keeps the regexes whose text contains
 *    SUBSTR (the others stay in every variant).
 *
 * The numbers rank regexes and rewrites; a database's cost is not the sum
 * of its patterns' (docs/PACK.md, "Scan cost"), and the figure that
 * counts is httpd's (tools/bench_instr.py).
 *
 * Example (the decoded URI of the first 1,000 CRS requests):
 *   build/bench/bench_rewrite --field cs-uri-decoded --lines 1000 build/rw \
 *       corpus/crs-requests.jsonl SIGMAHQ/rules SIGMAHQ/rules-emerging-threats conf/rules
 * then, with a candidate regex for pattern 955 in /tmp/re:
 *   build/bench/bench_rewrite --field cs-uri-decoded --no-each --replace 955:/tmp/re build/rw ... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <valgrind/callgrind.h>
#include "iw_engine_int.h"
#include "iw_logfmt.h"
#include "iw_param.h"

/* ---- capture of the engine's database compiles ---------------------- */

typedef struct cap {
    hs_database_t *db;
    unsigned n;
    char **exprs;
    unsigned *flags, *ids;
    struct cap *next;
} cap_t;
static cap_t *caps;

int __real_iw_engine_dbcache_compile_multi(const iw_engine_dbcache_t *c, const char *const *exprs,
                                           const unsigned *flags, const unsigned *ids, unsigned n,
                                           unsigned mode, hs_database_t **db, hs_compile_error_t **err);
int __wrap_iw_engine_dbcache_compile_multi(const iw_engine_dbcache_t *c, const char *const *exprs,
                                           const unsigned *flags, const unsigned *ids, unsigned n,
                                           unsigned mode, hs_database_t **db, hs_compile_error_t **err);
int __wrap_iw_engine_dbcache_compile_multi(const iw_engine_dbcache_t *c, const char *const *exprs,
                                           const unsigned *flags, const unsigned *ids, unsigned n,
                                           unsigned mode, hs_database_t **db, hs_compile_error_t **err)
{
    int rc = __real_iw_engine_dbcache_compile_multi(c, exprs, flags, ids, n, mode, db, err);
    cap_t *k;
    unsigned i;
    if (rc != HS_SUCCESS || !(k = calloc(1, sizeof(*k)))) return rc;
    k->db = *db;
    k->n = n;
    k->exprs = calloc(n, sizeof(char *));
    k->flags = malloc(n * sizeof(unsigned));
    k->ids = malloc(n * sizeof(unsigned));
    for (i = 0; i < n; i++) {
        k->exprs[i] = strdup(exprs[i]);
        k->flags[i] = flags[i];
        k->ids[i] = ids[i];
    }
    k->next = caps;
    caps = k;
    return rc;
}

static const cap_t *cap_of(const hs_database_t *db)
{
    const cap_t *k;
    for (k = caps; db && k; k = k->next)
        if (k->db == db) return k;
    return NULL;
}

/* ---- small file helpers --------------------------------------------- */

static int die(const char *msg, const char *arg)
{
    fprintf(stderr, "bench_rewrite: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    exit(1);
}

static void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b;
    long n;
    if (!f) die("cannot read", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc((size_t)n + 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) die("cannot read", path);
    b[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *dir, const char *name, const void *b, size_t n)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof(path), "%.3000s/%.900s", dir, name);
    if (!(f = fopen(path, "wb")) || fwrite(b, 1, n, f) != n || fclose(f)) die("cannot write", path);
}

/* ---- phase 1: values and variants (native) --------------------------- */

typedef struct bpat { const char *expr; unsigned flags, id; int plain; } bpat_t;

static int load_values(apr_pool_t *p, const iw_engine_t *e, const fieldm_t *fm, int field,
                       const char *log, int max, FILE *full, FILE *plain, long *nv)
{
    FILE *f = fopen(log, "r");
    iw_input_format_t fmt = IW_INPUT_AUTO;
    iw_event_t ev;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int nl = 0;
    (void)e;

    if (!f) die("cannot open", log);
    if (iw_event_init_owned(&ev, 1024 * 1024) != 0) die("no event", NULL);
    while (nl < max && (len = getline(&line, &cap, f)) > 0) {
        iw_parsed_t pr;
        const char *why;
        char *copy;
        iw_str_t v, x;
        size_t pos = 0;
        int multi;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (!len) continue;
        if (fmt == IW_INPUT_AUTO && (fmt = iw_logfmt_detect(line, (size_t)len)) == IW_INPUT_AUTO) break;
        copy = apr_pmemdup(p, line, (size_t)len + 1);
        memset(&pr, 0, sizeof(pr));
        pr.buf_size = 2 * (size_t)len + 64;
        pr.buf = apr_palloc(p, pr.buf_size);
        if (!iw_logfmt_parse(fmt, copy, (size_t)len, &pr, &why) || pr.type == IW_EV_ERROR) continue;
        nl++;
        iw_event_from_request(&ev, &pr.req);
        v = iw_event_get(&ev, (iw_field_id_t)field);
        if (!v.p || !v.len) continue;
        multi = iw_field_is_multi(field);
        x = v;
        while (multi ? iw_param_next(v, &pos, &x) : pos++ == 0) {
            uint32_t n32 = (uint32_t)x.len;
            FILE *to;
            if (!x.len || x.len < fm->db_minw) continue;
            if (fm->plain_mode != PLAIN_OFF && iw_match_plain_value(x.p, x.len)) {
                if (fm->plain_mode != PLAIN_DB || x.len < fm->plain_minw) continue;
                to = plain;
            } else {
                to = full;
            }
            fwrite(&n32, 4, 1, to);
            fwrite(x.p, 1, x.len, to);
            (*nv)++;
        }
    }
    free(line);
    fclose(f);
    iw_event_release(&ev);
    return nl;
}

/* Compile the patterns of list (n) for which keep() holds, serialized into
 * DIR/NAME; an empty set writes an empty file (no scan). */
static void variant_db(const char *dir, const char *name, const bpat_t *list, int n,
                       int (*keep)(const bpat_t *, unsigned), unsigned arg,
                       const hs_platform_info_t *plat)
{
    const char **ex = malloc(sizeof(char *) * (size_t)(n + 1));
    unsigned *fl = malloc(sizeof(unsigned) * (size_t)(n + 1)), *id = malloc(sizeof(unsigned) * (size_t)(n + 1));
    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    char *bytes = NULL;
    size_t len = 0;
    int i, k = 0;

    for (i = 0; i < n; i++)
        if (keep(&list[i], arg)) {
            ex[k] = list[i].expr;
            fl[k] = list[i].flags;
            id[k++] = list[i].id;
        }
    if (k && hs_compile_multi(ex, fl, id, (unsigned)k, HS_MODE_BLOCK, plat, &db, &err) != HS_SUCCESS)
        die("compile failed", err ? err->message : name);
    if (db && hs_serialize_database(db, &bytes, &len) != HS_SUCCESS) die("serialize failed", name);
    spit(dir, name, bytes ? bytes : "", len);
    if (db) hs_free_database(db);
    free(bytes);
    free(ex);
    free(fl);
    free(id);
}

static int keep_all(const bpat_t *b, unsigned id) { (void)b; (void)id; return 1; }
static int keep_lits(const bpat_t *b, unsigned id) { (void)id; return !(b->flags & HS_FLAG_PREFILTER); }
static int keep_but(const bpat_t *b, unsigned id) { return b->id != id; }
static int keep_alone(const bpat_t *b, unsigned id) { return b->id == id || !(b->flags & HS_FLAG_PREFILTER); }

static int cap_pats(const cap_t *k, bpat_t *out, int plain)
{
    unsigned i;
    for (i = 0; k && i < k->n; i++) {
        out[i].expr = k->exprs[i];
        out[i].flags = k->flags[i];
        out[i].id = k->ids[i];
        out[i].plain = plain;
    }
    return k ? (int)k->n : 0;
}

/* The rules that read pattern id (through its predicates), for the table. */
static const char *pat_rules(apr_pool_t *p, const iw_engine_t *e, unsigned id)
{
    const char *s = "";
    int32_t i, j;
    for (i = e->pat_act_first[id]; i < e->pat_act_first[id + 1]; i++) {
        int32_t a = e->acts[i], pred = a >= 0 ? a : e->rx[-1 - a].pred;
        for (j = e->rd_first[pred]; j < e->rd_first[pred + 1]; j++) {
            const iw_rule_t *r = e->rules[e->rd_rules[j]].rule;
            const char *nm = r->file ? strrchr(r->file, '/') : NULL;
            nm = nm ? nm + 1 : (r->title ? r->title : "?");
            if (!strstr(s, nm)) s = *s ? apr_pstrcat(p, s, ",", nm, NULL) : nm;
        }
    }
    return s;
}

/* --replace ID:FILE: the expression of pattern ID read from FILE */
typedef struct repl { unsigned id; const char *expr, *extra, *file, *file2; } repl_t;   /* extra: --split */
static repl_t repls[64];
static int nrepl, each = 1, combine, exact_each;

/* The flags the engine would give expr (analyse_expr: no single-match for
 * a pattern whose shortest match is one byte). */
static unsigned analysed(const char *expr, unsigned flags)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *err = NULL;
    if (hs_expression_info(expr, flags & ~HS_FLAG_SINGLEMATCH, &info, &err) != HS_SUCCESS)
        die("Vectorscan rejects", expr);
    if (info->min_width <= 1) flags &= ~HS_FLAG_SINGLEMATCH;
    else flags |= HS_FLAG_SINGLEMATCH;
    free(info);
    return flags;
}

/* The full and plain lists with the replacements made (compile_plain's
 * split into branches for the plain one); *np = -1: no plain database
 * (nothing left out: plain values take the full one). */
#define SPLIT_ID 1000000u      /* the id of --split's second pattern: + its index */

static void replaced(apr_pool_t *p, const bpat_t *full, int *pnf, int which, bpat_t **rf, bpat_t **rp,
                     int *np)
{
    int i, k, nb, dropped = 0, nf = *pnf, out = 0;
    size_t off[64], len[64];
    *rf = calloc((size_t)nf + 65, sizeof(bpat_t));
    *rp = calloc((size_t)(nf + 64) * 64 + 1, sizeof(bpat_t));
    *np = 0;
    for (i = 0; i < nf + 64; i++) {
        bpat_t b;
        size_t n;
        if (i < nf) {
            b = full[i];
            for (k = 0; k < nrepl; k++)
                if (repls[k].id == b.id && (which < 0 || which == k)) {
                    b.expr = repls[k].expr;
                    b.flags = analysed(b.expr, b.flags);
                }
        } else {                     /* the second patterns of --split */
            int r = i - nf, f;
            if (r >= nrepl) break;
            if (!repls[r].extra || (which >= 0 && which != r)) continue;
            for (f = 0; f < nf && full[f].id != repls[r].id; f++) ;
            if (f == nf) die("no such pattern id in the field", NULL);
            b = full[f];
            b.id = SPLIT_ID + (unsigned)r;
            b.expr = repls[r].extra;
            b.flags = analysed(b.expr, b.flags | HS_FLAG_SINGLEMATCH);
        }
        (*rf)[out++] = b;
        n = strlen(b.expr);
        /* as compile_plain: a prefilter's or an exact regex's top-level
         * branches (a literal is one) */
        nb = iw_match_plain_branches(b.expr, n, off, len, 64);
        if (nb == 1) { off[0] = 0; len[0] = n; }
        for (k = 0; k < nb; k++) {
            bpat_t c = b;
            if (!iw_match_plain_may_match(b.expr + off[k], len[k])) { dropped++; continue; }
            c.expr = nb == 1 ? b.expr : apr_pstrmemdup(p, b.expr + off[k], len[k]);
            c.flags = analysed(c.expr, b.flags);
            c.plain = 1;
            (*rp)[(*np)++] = c;
        }
    }
    if (!dropped) *np = -1;
    *pnf = out;
}

static void prep(apr_pool_t *p, const char *dir, int field, int max, const char *only,
                 const hs_platform_info_t *plat, const char *log, char **rules, int nrules)
{
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    iw_engine_opts_t eo;
    iw_engine_t *e;
    const fieldm_t *fm;
    bpat_t *full, *plainp;
    int nf, np, i, r, nl, nvar = 0;
    long nv = 0;
    char path[4096];
    FILE *ff, *fp, *meta;

    for (i = 0; i < nrules; i++) iw_rules_load(rs, rules[i], d);
    if (!d->errors) iw_ruleset_link(rs, d);
    memset(&eo, 0, sizeof(eo));
    eo.dbcache = iw_engine_dbcache_create(p, iw_engine_dbcache_default_dir(p));
    e = d->errors ? NULL : iw_engine_compile(p, rs, &eo, d);
    iw_diag_print(d, stderr, "");
    if (!e) die("no engine", NULL);
    fm = &e->fm[0][field];
    if (!fm->db) die("the field has no Vectorscan database", iw_field_name((iw_field_id_t)field));
    if (fm->hl || fm->merged) die("header-line and merged fields are not handled", NULL);
    full = calloc(cap_of(fm->db)->n + 1, sizeof(*full));
    nf = cap_pats(cap_of(fm->db), full, 0);
    plainp = calloc((fm->plain ? cap_of(fm->plain)->n : 0) + 1, sizeof(*plainp));
    np = fm->plain_mode == PLAIN_DB ? cap_pats(cap_of(fm->plain), plainp, 1) : 0;
    if (mkdir(dir, 0700) && errno != EEXIST) die("cannot create", dir);
    snprintf(path, sizeof(path), "%s/values.full", dir);
    ff = fopen(path, "wb");
    snprintf(path, sizeof(path), "%s/values.plain", dir);
    fp = fopen(path, "wb");
    if (!ff || !fp) die("cannot write values", dir);
    nl = load_values(p, e, fm, field, log, max, ff, fp, &nv);
    fclose(ff);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/meta", dir);
    if (!(meta = fopen(path, "w"))) die("cannot write", path);
    fprintf(meta, "# bench_rewrite: field %s, %d lines of %s, %ld values; database %d patterns, plain %d "
            "(mode %d)\n", iw_field_name((iw_field_id_t)field), nl, log, nv, nf, np, fm->plain_mode);
    /* one line per variant: name, then the pattern's rules and text */
#define VARIANT(nm, keep, arg, what) do {                                        \
        char fn[64];                                                              \
        if (nvar >= 999) die("too many variants (--only or --no-each)", NULL);   \
        snprintf(fn, sizeof(fn), "v%03d.full", nvar);                             \
        variant_db(dir, fn, full, nf, keep, arg, plat);                           \
        snprintf(fn, sizeof(fn), "v%03d.plain", nvar);                            \
        variant_db(dir, fn, plainp, np, keep, arg, plat);                         \
        fprintf(meta, "v%03d\t%s\t%s\n", nvar++, nm, what);                       \
    } while (0)
    VARIANT("all", keep_all, 0, "");
    /* "new1".."newN": each replacement alone; "new": all of them (--combine) */
    for (r = 0; r < nrepl + (combine && nrepl > 1); r++) {
        bpat_t *rf, *rp;
        int rnp, which = r < nrepl ? r : -1, rnf = nf;
        char fn[64];
        replaced(p, full, &rnf, which, &rf, &rp, &rnp);
        snprintf(fn, sizeof(fn), "v%03d.full", nvar);
        variant_db(dir, fn, rf, rnf, keep_all, 0, plat);
        snprintf(fn, sizeof(fn), "v%03d.plain", nvar);
        if (rnp < 0) variant_db(dir, fn, rf, rnf, keep_all, 0, plat);
        else variant_db(dir, fn, rp, rnp, keep_all, 0, plat);
        if (rnp >= 0 && fm->plain_mode != PLAIN_DB)
            fprintf(stderr, "bench_rewrite: the plain values differ (the new set has a plain database)\n");
        if (rnp < 0 && fm->plain_mode == PLAIN_DB)
            fprintf(stderr, "bench_rewrite: the new set has no plain database: plain values take the full one\n");
        for (i = 0; i < nrepl; i++) {
            uint32_t o = 0;
            int k;
            if (which >= 0 && which != i) continue;
            for (k = 0; k < nf && rf[k].id != repls[i].id; k++) ;
            if (k == nf) die("no such pattern id in the field", NULL);
            if (rf[k].flags & HS_FLAG_CASELESS) o |= PCRE2_CASELESS;
            if (rf[k].flags & HS_FLAG_MULTILINE) o |= PCRE2_MULTILINE;
            if (rf[k].flags & HS_FLAG_DOTALL) o |= PCRE2_DOTALL;
            fprintf(meta, "re%d\t%u\t%u\t%s\n", nvar, repls[i].id, o, repls[i].expr);
            if (repls[i].extra)
                fprintf(meta, "re%d\t%u\t%u\t%s\n", nvar, SPLIT_ID + (unsigned)i, o, repls[i].extra);
            fprintf(stderr, "bench_rewrite: v%03d: %u: %s, plain list %d\n", nvar, repls[i].id,
                    (rf[k].flags & HS_FLAG_SINGLEMATCH) ? "single-match" : "NOT single-match", rnp);
        }
        fprintf(meta, "v%03d\t%s%d\t%s\n", nvar++, which < 0 ? "new" : "new", which + 1,
                which < 0 ? "all replacements"
                : repls[which].file2 ? apr_pstrcat(p, repls[which].file, " + ", repls[which].file2, NULL)
                : repls[which].file);
    }
    VARIANT("lits", keep_lits, 0, "");
    for (i = 0; each && i < nf; i++) {
        char nm[32];
        const char *what;
        if (!(full[i].flags & HS_FLAG_PREFILTER)) {
            /* --exact: a regex Vectorscan takes exactly (not a literal),
             * left out ("-ID") */
            if (!exact_each || !strpbrk(full[i].expr, "()[]*+?|{^$.")) continue;
            if (only && !strstr(full[i].expr, only)) continue;
            what = apr_psprintf(p, "%s\t[exact] %s", pat_rules(p, e, full[i].id), full[i].expr);
            snprintf(nm, sizeof(nm), "-%u", full[i].id);
            VARIANT(nm, keep_but, full[i].id, what);
            continue;
        }
        if (only && !strstr(full[i].expr, only)) continue;
        what = apr_psprintf(p, "%s\t%s%s", pat_rules(p, e, full[i].id),
                            (full[i].flags & HS_FLAG_SINGLEMATCH) ? "" : "[multi] ", full[i].expr);
        snprintf(nm, sizeof(nm), "-%u", full[i].id);
        VARIANT(nm, keep_but, full[i].id, what);
        snprintf(nm, sizeof(nm), "+%u", full[i].id);
        VARIANT(nm, keep_alone, full[i].id, what);
    }
    /* the PCRE2 confirmations: id, options, text (first full-list entry of each id) */
    for (i = 0; i < nf; i++) {
        uint32_t o = 0;
        if (!(full[i].flags & HS_FLAG_PREFILTER)) continue;
        if (full[i].flags & HS_FLAG_CASELESS) o |= PCRE2_CASELESS;
        if (full[i].flags & HS_FLAG_MULTILINE) o |= PCRE2_MULTILINE;
        if (full[i].flags & HS_FLAG_DOTALL) o |= PCRE2_DOTALL;
        fprintf(meta, "re-1\t%u\t%u\t%s\n", full[i].id, o, full[i].expr);
    }
    fclose(meta);
    fprintf(stderr, "bench_rewrite: %d variants, %ld values from %d lines in %s\n", nvar, nv, nl, dir);
}

/* ---- phase 2: scans under callgrind ----------------------------------- */

typedef struct rxc { int var; unsigned id; pcre2_code *code; } rxc_t;
static rxc_t *rxs;
static int nrx;
static pcre2_code **by_id;      /* the current variant's confirmations */
static unsigned nby;
static unsigned *done_gen, cur_gen;
static pcre2_match_data *md;
static const char *cur_v;
static size_t cur_n;
static unsigned long long nconfirm;

static int on_hit(unsigned id, unsigned long long from, unsigned long long to, unsigned fl, void *ctx)
{
    (void)from; (void)to; (void)fl; (void)ctx;
    /* once per value and regex, as the engine confirms (a generation per scan) */
    if (id < nby && by_id[id] && done_gen[id] != cur_gen) {
        done_gen[id] = cur_gen;
        pcre2_match(by_id[id], (PCRE2_SPTR)cur_v, cur_n, 0, 0, md, NULL);
        nconfirm++;
    }
    return 0;
}

static hs_database_t *load_db(const char *dir, const char *name)
{
    char path[4096];
    size_t n;
    char *b;
    hs_database_t *db = NULL;
    snprintf(path, sizeof(path), "%.3000s/%.900s", dir, name);
    b = slurp(path, &n);
    if (n && hs_deserialize_database(b, n, &db) != HS_SUCCESS) die("cannot load (platform?)", path);
    free(b);
    return db;
}

static void scan_all(hs_database_t *db, hs_scratch_t *s, const char *vals, size_t vlen)
{
    size_t off = 0;
    while (db && off + 4 <= vlen) {
        uint32_t n;
        memcpy(&n, vals + off, 4);
        cur_v = vals + off + 4;
        cur_n = n;
        cur_gen++;
        hs_scan(db, cur_v, n, 0, s, on_hit, NULL);
        off += 4 + n;
    }
}

static void scan_phase(const char *dir)
{
    char path[4096], *meta, *line, *save = NULL, *vf, *vp;
    size_t mlen, vfl, vpl;
    int nvar = 0, i;
    char names[1000][8];

    snprintf(path, sizeof(path), "%s/meta", dir);
    meta = slurp(path, &mlen);
    rxs = calloc(mlen / 8 + 1, sizeof(*rxs));
    md = pcre2_match_data_create(32, NULL);
    for (line = strtok_r(meta, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "re", 2)) {
            unsigned id, o;
            int off = 0, err, var;
            PCRE2_SIZE eo;
            if (sscanf(line, "re%d\t%u\t%u\t%n", &var, &id, &o, &off) < 3 || !off) continue;
            rxs[nrx].var = var;
            rxs[nrx].id = id;
            if (id + 1 > nby) nby = id + 1;
            if (!(rxs[nrx].code = pcre2_compile((PCRE2_SPTR)line + off, PCRE2_ZERO_TERMINATED, o,
                                                &err, &eo, NULL)))
                die("PCRE2 compile failed", line + off);
            pcre2_jit_compile(rxs[nrx++].code, PCRE2_JIT_COMPLETE);
        } else if (line[0] == 'v' && nvar < 1000) {
            memcpy(names[nvar], line, 4);
            names[nvar++][4] = 0;
        }
    }
    snprintf(path, sizeof(path), "%s/values.full", dir);
    vf = slurp(path, &vfl);
    snprintf(path, sizeof(path), "%s/values.plain", dir);
    vp = slurp(path, &vpl);
    by_id = calloc(nby + 1, sizeof(*by_id));
    done_gen = calloc(nby + 1, sizeof(*done_gen));
    for (i = 0; i < nvar; i++) {
        char nm[64];
        hs_database_t *dbf, *dbp;
        hs_scratch_t *s = NULL;
        int k;
        memset(by_id, 0, (nby + 1) * sizeof(*by_id));
        for (k = 0; k < nrx; k++) if (rxs[k].var < 0) by_id[rxs[k].id] = rxs[k].code;
        for (k = 0; k < nrx; k++) if (rxs[k].var == atoi(names[i] + 1)) by_id[rxs[k].id] = rxs[k].code;
        snprintf(nm, sizeof(nm), "%.7s.full", names[i]);
        dbf = load_db(dir, nm);
        snprintf(nm, sizeof(nm), "%.7s.plain", names[i]);
        dbp = load_db(dir, nm);
        if ((dbf && hs_alloc_scratch(dbf, &s) != HS_SUCCESS) || (dbp && hs_alloc_scratch(dbp, &s) != HS_SUCCESS))
            die("no scratch", names[i]);
        scan_all(dbf, s, vf, vfl);         /* warm: first-touch costs out of the count */
        scan_all(dbp, s, vp, vpl);
        CALLGRIND_TOGGLE_COLLECT;
        scan_all(dbf, s, vf, vfl);
        CALLGRIND_TOGGLE_COLLECT;
        snprintf(nm, sizeof(nm), "%.7s full", names[i]);
        CALLGRIND_DUMP_STATS_AT(nm);
        CALLGRIND_TOGGLE_COLLECT;
        scan_all(dbp, s, vp, vpl);
        CALLGRIND_TOGGLE_COLLECT;
        snprintf(nm, sizeof(nm), "%.7s plain", names[i]);
        CALLGRIND_DUMP_STATS_AT(nm);
        CALLGRIND_TOGGLE_COLLECT;
        for (k = 0; dbf && k < 2000; k++) {
            cur_v = "a b";
            cur_n = 3;
            cur_gen++;
            hs_scan(dbf, cur_v, 3, 0, s, on_hit, NULL);
        }
        CALLGRIND_TOGGLE_COLLECT;
        snprintf(nm, sizeof(nm), "%.7s fixed", names[i]);
        CALLGRIND_DUMP_STATS_AT(nm);
        CALLGRIND_TOGGLE_COLLECT;
        for (k = 0; dbp && k < 2000; k++) {
            cur_v = "a=b";
            cur_n = 3;
            cur_gen++;
            hs_scan(dbp, cur_v, 3, 0, s, on_hit, NULL);
        }
        CALLGRIND_TOGGLE_COLLECT;
        snprintf(nm, sizeof(nm), "%.7s pfixed", names[i]);
        CALLGRIND_DUMP_STATS_AT(nm);
        hs_free_scratch(s);
        if (dbf) hs_free_database(dbf);
        if (dbp) hs_free_database(dbp);
    }
}

/* ---- phase 3: the table ------------------------------------------------ */

static long count_values(const char *dir, const char *name, double *bytes)
{
    char path[4096];
    size_t n, off = 0;
    char *b;
    long k = 0;
    snprintf(path, sizeof(path), "%.3000s/%.900s", dir, name);
    b = slurp(path, &n);
    *bytes = 0;
    while (off + 4 <= n) {
        uint32_t l;
        memcpy(&l, b + off, 4);
        off += 4 + l;
        *bytes += l;
        k++;
    }
    free(b);
    return k;
}

/* The dumps of the callgrind run: "desc: Trigger: Client Request: vNNN KIND" and "summary: N". */
static void report(const char *dir, const char *cgout)
{
    char path[4096], *meta, *line, *save = NULL;
    size_t mlen;
    double cost[1000][4] = { { 0 } }, bf, bp;
    long nvf = count_values(dir, "values.full", &bf), nvp = count_values(dir, "values.plain", &bp);
    int part;

    for (part = 1; part < 4000; part++) {
        FILE *f;
        char buf[8192], trig[64] = "";
        double sum = -1;
        snprintf(path, sizeof(path), "%.4000s.%d", cgout, part);
        if (!(f = fopen(path, "r"))) break;
        while (fgets(buf, sizeof(buf), f)) {
            if (!strncmp(buf, "desc: Trigger: Client Request: ", 31)) snprintf(trig, sizeof(trig), "%.60s", buf + 31);
            else if (!strncmp(buf, "summary: ", 9) || !strncmp(buf, "totals: ", 8)) sum = atof(strchr(buf, ' ') + 1);
        }
        fclose(f);
        if (trig[0] == 'v' && sum >= 0) {
            int v = atoi(trig + 1);
            int kind = strstr(trig, "full") ? 0 : strstr(trig, "plain") ? 1 : strstr(trig, "pfixed") ? 3 : 2;
            if (v >= 0 && v < 1000) cost[v][kind] = sum;
        }
    }
    snprintf(path, sizeof(path), "%s/meta", dir);
    meta = slurp(path, &mlen);
    printf("full-database values %ld (%.1f bytes), plain-database values %ld (%.1f bytes); instructions "
           "per scan (PCRE2 confirmations included), fixed = a 3-byte value\n",
           nvf, nvf ? bf / nvf : 0, nvp, nvp ? bp / nvp : 0);
    printf("%-6s %-6s %9s %9s %9s %9s %8s %8s  %s\n", "var", "name", "full", "plain", "fixed", "pfixed",
           "d.full", "d.plain", "rules / regex");
    for (line = strtok_r(meta, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int v;
        char nm[32] = "", *what;
        double f, pl, fx;
        if (line[0] == '#') { printf("%s\n", line); continue; }
        if (line[0] != 'v' || sscanf(line, "v%d\t%31s", &v, nm) < 2 || v < 0 || v >= 1000) continue;
        what = strchr(line, '\t');
        what = what ? strchr(what + 1, '\t') : NULL;
        f = nvf ? cost[v][0] / nvf : 0;
        pl = nvp ? cost[v][1] / nvp : 0;
        fx = cost[v][2] / 2000;
        printf("v%03d   %-6s %9.0f %9.0f %9.0f %9.0f %+8.0f %+8.0f  %.200s\n", v, nm, f, pl, fx, cost[v][3] / 2000,
               f - (nvf ? cost[0][0] / nvf : 0), pl - (nvp ? cost[0][1] / nvp : 0), what ? what + 1 : "");
    }
}

int main(int argc, char **argv)
{
    int max = 1000, field = IW_F_CS_URI_DEC, i;
    const char *dir = NULL, *log = NULL, *only = NULL, *plats = "3:4";
    char **rules = calloc((size_t)argc, sizeof(char *));
    int nrules = 0;
    hs_platform_info_t plat;
    apr_pool_t *p;
    char cmd[16384], cgout[4200];

    apr_initialize();
    apr_pool_create(&p, NULL);
    if (argc == 3 && !strcmp(argv[1], "--scan")) {   /* phase 2, under callgrind */
        scan_phase(argv[2]);
        return 0;
    }
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--lines") && i + 1 < argc) max = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--no-each")) each = 0;
        else if (!strcmp(argv[i], "--exact")) exact_each = 1;
        else if (!strcmp(argv[i], "--combine")) combine = 1;
        else if ((!strcmp(argv[i], "--replace") || !strcmp(argv[i], "--split")) && i + 1 < argc
                 && nrepl < 64) {
            size_t n;
            int split = !strcmp(argv[i], "--split");
            char *t, *c = strchr(argv[++i], ':'), *c2 = NULL;
            if (!c) die("--replace ID:FILE or --split ID:FILE,FILE2", argv[i]);
            if (split) {
                if (!(c2 = strchr(c + 1, ','))) die("--split ID:FILE,FILE2", argv[i]);
                *c2++ = 0;
                t = slurp(c2, &n);
                while (n && (t[n - 1] == '\n' || t[n - 1] == '\r')) t[--n] = 0;
                repls[nrepl].extra = t;
                repls[nrepl].file2 = c2;
            }
            t = slurp(c + 1, &n);
            while (n && (t[n - 1] == '\n' || t[n - 1] == '\r')) t[--n] = 0;
            repls[nrepl].id = (unsigned)atoi(argv[i]);
            repls[nrepl].file = c + 1;
            repls[nrepl++].expr = t;
        }
        else if (!strcmp(argv[i], "--platform") && i + 1 < argc) plats = argv[++i];
        else if (!strcmp(argv[i], "--field") && i + 1 < argc) {
            if ((field = iw_field_lookup(argv[++i])) < 0) die("unknown field", argv[i]);
        } else if (!dir) dir = argv[i];
        else if (!log) log = argv[i];
        else rules[nrules++] = argv[i];
    }
    if (!dir || !log || !nrules || max <= 0) {
        fprintf(stderr, "usage: bench_rewrite [--field NAME] [--lines N] [--platform TUNE:FEATURES] "
                        "[--only SUBSTR] [--no-each] [--exact] [--replace ID:FILE]... [--split ID:FILE,FILE2]... "
                        "[--combine] DIR LOG RULES...\n");
        return 2;
    }
    memset(&plat, 0, sizeof(plat));
    {
        unsigned t = 0;
        unsigned long long fe = 0;
        if (sscanf(plats, "%u:%llx", &t, &fe) != 2) die("bad --platform", plats);
        plat.tune = t;
        plat.cpu_features = fe;
    }
    prep(p, dir, field, max, only, &plat, log, rules, nrules);
    snprintf(cgout, sizeof(cgout), "%.4000s/cg.out", dir);
    snprintf(cmd, sizeof(cmd), "rm -f '%.4100s'.*; valgrind -q --tool=callgrind --collect-atstart=no "
             "--callgrind-out-file='%.4100s' '/proc/%d/exe' --scan '%.4000s'", cgout, cgout, (int)getpid(), dir);
    if (system(cmd) != 0) die("the callgrind run failed", cmd);
    report(dir, cgout);
    return 0;
}
