/* SPDX-License-Identifier: Apache-2.0 */
/* vs_verify: does Vectorscan report every match of the databases the
 * engine compiles?  PCRE2 is the oracle.
 *
 *   vs_verify [--impl engine|hs_scan|SYMBOL] VALUES RULES...
 *
 * Compiles RULES as the engine does (hs_record.h records every database
 * with its expressions), then for each database and each value of VALUES
 * (one a line, escaped \\ \n \r \t \xHH) finds the patterns PCRE2 matches
 * (a witness), and scans the value with the database shifted inside
 * filler: 0..200 bytes before it, some after it.  A miss is a pattern
 * whose expression PCRE2 matches in the shifted value but the scan did
 * not report: a lost match (a prefilter pattern may report more, never
 * less).  The scan is the engine's (iw_vs_scan, the implementation
 * iw_vs chose) unless --impl names another: hs_scan is Vectorscan's own
 * dispatch, SYMBOL one of its implementations (avx2_hs_scan ...).
 *
 * Prints each missed pattern once with an example, then
 * "vs_verify: N databases, N patterns, N values, N witnesses, N scans,
 * N misses (N patterns)"; exits 1 on a miss. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include "iw_engine_int.h"
#include "iw_vs.h"
#include "../common/hs_record.h"

static const unsigned shifts_before[] = { 0, 1, 7, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65,
                                          95, 100, 127, 128, 129, 160, 200 };
static const unsigned shifts_after[] = { 1, 15, 33, 64 };
#define FILL '~'                      /* in no pattern's vocabulary of note */
#define MAXVAL 2048

typedef struct val { char *p; size_t len; } val_t;

static size_t unescape(char *s)
{
    char *w = s, *r = s;
    while (*r) {
        if (*r != '\\' || !r[1]) { *w++ = *r++; continue; }
        r++;
        if (*r == 'n') *w++ = '\n', r++;
        else if (*r == 'r') *w++ = '\r', r++;
        else if (*r == 't') *w++ = '\t', r++;
        else if (*r == 'x' && r[1] && r[2]) {
            char h[3] = { r[1], r[2], 0 };
            *w++ = (char)strtoul(h, NULL, 16);
            r += 3;
        } else *w++ = *r++;
    }
    return (size_t)(w - s);
}

static val_t *read_values(const char *path, int *n)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    val_t *v = NULL;
    int nv = 0, capv = 0;

    if (!f) { perror(path); exit(2); }
    while ((got = getline(&line, &cap, f)) >= 0) {
        size_t len;
        if (got && line[got - 1] == '\n') line[--got] = '\0';
        len = unescape(line);
        if (!len || len > MAXVAL) continue;
        if (nv == capv) {
            capv = capv ? 2 * capv : 1024;
            if (!(v = realloc(v, sizeof *v * (size_t)capv))) abort();
        }
        v[nv].p = malloc(len);
        if (!v[nv].p) abort();
        memcpy(v[nv].p, line, len);
        v[nv++].len = len;
    }
    free(line);
    fclose(f);
    *n = nv;
    return v;
}

/* Where the engine keeps database db (for the report). */
static const char *db_label(const iw_engine_t *e, const hs_database_t *db, char *buf, size_t n)
{
    int t, f, k;
    for (t = 0; t < NTYPES; t++)
        for (f = 0; f < IW_F__COUNT; f++) {
            const fieldm_t *fm = &e->fm[t][f];
            const char *kind = fm->db == db ? "db" : fm->plain == db ? "plain"
                             : fm->rest == db ? "rest" : fm->hl && fm->hl->line_db == db ? "line"
                             : fm->hl && fm->hl->block_db == db ? "block" : NULL;
            if (kind) {
                snprintf(buf, n, "%s %s", iw_field_name((iw_field_id_t)f), kind);
                return buf;
            }
        }
    for (k = 0; k < 3; k++)
        if (e->uri_both[k] == db) { snprintf(buf, n, "uri_both[%d]", k); return buf; }
    return "(other)";
}

typedef struct vctx { unsigned char *seen; const dbrec_t *r; } vctx_t;

static int on_hit(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *ctx)
{
    vctx_t *c = ctx;
    unsigned i;
    (void)from; (void)to; (void)flags;
    for (i = 0; i < c->r->n; i++) if (c->r->ids[i] == id) c->seen[i] = 1;
    return 0;
}

static pcre2_code *oracle(const char *expr, unsigned hsf)
{
    uint32_t o = 0;
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re;
    if (hsf & HS_FLAG_CASELESS) o |= PCRE2_CASELESS;
    if (hsf & HS_FLAG_DOTALL) o |= PCRE2_DOTALL;
    if (hsf & HS_FLAG_MULTILINE) o |= PCRE2_MULTILINE;
    if (hsf & HS_FLAG_UTF8) o |= PCRE2_UTF;
    if (hsf & HS_FLAG_UCP) o |= PCRE2_UCP;
    if (!(re = pcre2_compile((PCRE2_SPTR)expr, PCRE2_ZERO_TERMINATED, o, &ec, &eo, NULL))) return NULL;
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

static int matches(pcre2_code *re, pcre2_match_data *md, const char *s, size_t n)
{
    return re && pcre2_match(re, (PCRE2_SPTR)s, n, 0, PCRE2_NOTEMPTY, md, NULL) >= 0;
}

static void print_escaped(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n && i < 160; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '\\') printf("\\x%02x", c); else putchar(c);
    }
    if (n > 160) fputs("...", stdout);
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    iw_engine_t *e;
    iw_vs_scan_fn scan = NULL;
    const char *impl = "engine";
    val_t *vals;
    int nvals, i, a = 1, r;
    unsigned long long witnesses = 0, scans = 0, misses = 0, missed_pats = 0, npats = 0;
    pcre2_match_data *md;
    char *buf;

    if (argc > 2 && !strcmp(argv[1], "--impl")) { impl = argv[2]; a = 3; }
    if (argc - a < 2) {
        fprintf(stderr, "usage: vs_verify [--impl engine|hs_scan|SYMBOL] VALUES RULES...\n");
        return 2;
    }
    apr_initialize();
    apr_pool_create(&p, NULL);
    if (hs_record_engine(p, argv + a + 1, argc - a - 1, &e) < 0) return 2;
    if (!strcmp(impl, "engine")) scan = iw_vs__scan;
    else if (!strcmp(impl, "hs_scan")) scan = hs_scan;
    else if (!(scan = iw_vs_lookup(impl))) { fprintf(stderr, "vs_verify: no %s\n", impl); return 2; }
    vals = read_values(argv[a], &nvals);
    md = pcre2_match_data_create(1, NULL);
    buf = malloc(MAXVAL + 512);
    if (!md || !buf) abort();

    for (r = 0; r < nrecs; r++) {
        const dbrec_t *rec = &recs[r];
        pcre2_code **re = calloc(rec->n, sizeof *re);
        unsigned char *wit = calloc(rec->n, 1), *seen = calloc(rec->n, 1), *told = calloc(rec->n, 1);
        hs_scratch_t *scr = NULL;
        vctx_t c = { seen, rec };
        unsigned k;
        char lab[128];
        if (!re || !wit || !seen || !told) abort();
        if (hs_alloc_scratch(rec->db, &scr) != HS_SUCCESS) abort();
        for (k = 0; k < rec->n; k++) re[k] = oracle(rec->exprs[k], rec->flags[k]);
        npats += rec->n;
        for (i = 0; i < nvals; i++) {
            const val_t *v = &vals[i];
            size_t si, nw = 0;
            for (k = 0; k < rec->n; k++) nw += (wit[k] = (unsigned char)matches(re[k], md, v->p, v->len));
            if (!nw) continue;
            witnesses += nw;
            for (si = 0; si < sizeof shifts_before / sizeof *shifts_before
                              + sizeof shifts_after / sizeof *shifts_after; si++) {
                int after = si >= sizeof shifts_before / sizeof *shifts_before;
                unsigned sh = after ? shifts_after[si - sizeof shifts_before / sizeof *shifts_before]
                                    : shifts_before[si];
                size_t n = v->len + sh;
                memset(buf, FILL, n);
                memcpy(buf + (after ? 0 : sh), v->p, v->len);
                memset(seen, 0, rec->n);
                scan(rec->db, buf, (unsigned)n, 0, scr, on_hit, &c);
                scans++;
                for (k = 0; k < rec->n; k++) {
                    if (!wit[k] || seen[k] || !matches(re[k], md, buf, n)) continue;
                    misses++;
                    if (told[k]) continue;
                    told[k] = 1;
                    missed_pats++;
                    printf("MISS %s id %u flags 0x%x /%s/ %s %u: ", db_label(e, rec->db, lab, sizeof lab),
                           rec->ids[k], rec->flags[k], rec->exprs[k], after ? "after" : "before", sh);
                    print_escaped(v->p, v->len);
                    putchar('\n');
                }
            }
        }
        for (k = 0; k < rec->n; k++) if (re[k]) pcre2_code_free(re[k]);
        free(re); free(wit); free(seen); free(told);
        hs_free_scratch(scr);
    }
    printf("vs_verify (%s: %s): %d databases, %llu patterns, %d values, %llu witnesses, %llu scans, "
           "%llu misses (%llu patterns)\n", impl, !strcmp(impl, "engine") ? iw_vs_name() : impl,
           nrecs, npats, nvals, witnesses, scans, misses, missed_pats);
    return misses ? 1 : 0;
}
