/* SPDX-License-Identifier: Apache-2.0 */
/* bench_floor: the floor a request scan can reach (make bench).
 *
 * One caseless, single-match Vectorscan database of the loaded rules'
 * literals (every string value of an item without |re, |cidr, numbers,
 * existence or field references: its longest run between wildcards),
 * scanning each request's bytes as sent and once URL-decoded.  That is
 * the least any engine must do to find those literals anywhere in the
 * request; bench_instr.py counts its instructions per request under
 * callgrind (--toggle-collect=floor_request) next to the module's, and
 * prints module / floor.
 *
 * Usage: bench_floor REQUESTS-FILE RULES...
 * REQUESTS-FILE holds raw HTTP requests (head only), each ending in an
 * empty line (CRLF CRLF), as bench_instr.py sends them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hs.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include "iw_rules.h"
#include "iw_event.h"
#include "iw_decode.h"
#include "iw_vs.h"

#define NOT_LITERAL (IW_MOD_RE | IW_MOD_CIDR | IW_MOD_EXISTS | IW_MOD_LT | IW_MOD_LTE  \
                     | IW_MOD_GT | IW_MOD_GTE | IW_MOD_FIELDREF | IW_MOD_BASE64        \
                     | IW_MOD_BASE64OFFSET | IW_MOD_UTF16LE | IW_MOD_UTF16BE           \
                     | IW_MOD_UTF16 | IW_MOD_MINUTE | IW_MOD_HOUR | IW_MOD_DAY         \
                     | IW_MOD_WEEK | IW_MOD_MONTH | IW_MOD_YEAR | IW_MOD_EXPAND)

static apr_hash_t *seen;
static apr_array_header_t *lits;

/* The longest run of s without a wildcard, lower-cased, once. */
static void add_literal(apr_pool_t *p, const char *s, size_t n)
{
    size_t i = 0, best = 0, at = 0;
    char *l;

    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '*' && s[j] != '?') j += (s[j] == '\\' && j + 1 < n) ? 2 : 1;
        if (j - i > best) { best = j - i; at = i; }
        i = j + 1;
    }
    if (!best) return;
    l = apr_pstrmemdup(p, s + at, best);
    for (i = 0; i < best; i++) if (l[i] >= 'A' && l[i] <= 'Z') l[i] = (char)(l[i] + 32);
    if (apr_hash_get(seen, l, (apr_ssize_t)best)) return;
    apr_hash_set(seen, l, (apr_ssize_t)best, l);
    APR_ARRAY_PUSH(lits, const char *) = l;
}

static void collect(apr_pool_t *p, const iw_ruleset_t *rs)
{
    int r, s, g, i, v;

    for (r = 0; r < rs->rules->nelts; r++) {
        const iw_rule_t *ru = APR_ARRAY_IDX(rs->rules, r, const iw_rule_t *);
        for (s = 0; ru->selections && s < ru->selections->nelts; s++) {
            const iw_selection_t *se = &APR_ARRAY_IDX(ru->selections, s, iw_selection_t);
            for (g = 0; se->groups && g < se->groups->nelts; g++) {
                const iw_group_t *gr = &APR_ARRAY_IDX(se->groups, g, iw_group_t);
                for (i = 0; gr->items && i < gr->items->nelts; i++) {
                    const iw_item_t *it = &APR_ARRAY_IDX(gr->items, i, iw_item_t);
                    if (it->mods & NOT_LITERAL) continue;
                    for (v = 0; it->values && v < it->values->nelts; v++) {
                        const iw_value_t *va = &APR_ARRAY_IDX(it->values, v, iw_value_t);
                        if (va->type == IW_VAL_STRING && va->s.p && va->s.len)
                            add_literal(p, va->s.p, va->s.len);
                    }
                }
            }
        }
    }
}

static int on_hit(unsigned id, unsigned long long from, unsigned long long to,
                  unsigned flags, void *ctx)
{
    (void)id; (void)from; (void)to; (void)flags;
    ++*(long *)ctx;
    return 0;
}

/* The floor's work for one request: both scans (kept out of line so that
 * callgrind can count it alone). */
__attribute__((noinline))
long floor_request(const hs_database_t *db, hs_scratch_t *scr, const char *req, size_t n,
                   char *dec)
{
    long hits = 0;
    size_t m;

    iw_vs_scan(db, req, (unsigned)n, 0, scr, on_hit, &hits);   /* the engine's implementation */
    m = iw_decode_once(req, n, dec, 0);
    iw_vs_scan(db, dec, (unsigned)m, 0, scr, on_hit, &hits);
    return hits;
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    iw_ruleset_t *rs;
    iw_diag_t *diag;
    hs_database_t *db = NULL;
    hs_scratch_t *scr = NULL;
    hs_compile_error_t *err = NULL;
    const char **exprs;
    unsigned *flags, *ids;
    FILE *f;
    char *data, *dec, *q, *end;
    long size, hits = 0, nreq = 0;
    int i;

    if (argc < 3) {
        fprintf(stderr, "usage: bench_floor REQUESTS-FILE RULES...\n");
        return 2;
    }
    apr_initialize();
    apr_pool_create(&p, NULL);
    rs = iw_ruleset_create(p);
    diag = iw_diag_create(p);
    for (i = 2; i < argc; i++) iw_rules_load(rs, argv[i], diag);
    iw_ruleset_link(rs, diag);
    seen = apr_hash_make(p);
    lits = apr_array_make(p, 512, sizeof(const char *));
    collect(p, rs);
    exprs = apr_pcalloc(p, sizeof(char *) * (size_t)(lits->nelts + 1));
    flags = apr_pcalloc(p, sizeof(unsigned) * (size_t)(lits->nelts + 1));
    ids = apr_pcalloc(p, sizeof(unsigned) * (size_t)(lits->nelts + 1));
    for (i = 0; i < lits->nelts; i++) {
        const char *l = APR_ARRAY_IDX(lits, i, const char *);
        size_t k, n = strlen(l);
        char *e = apr_palloc(p, 4 * n + 1);
        for (k = 0; k < n; k++) snprintf(e + 4 * k, 5, "\\x%02x", (unsigned char)l[k]);
        exprs[i] = e;
        flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
        ids[i] = (unsigned)i;
    }
    iw_vs_init();
    if (hs_compile_multi(exprs, flags, ids, (unsigned)lits->nelts, HS_MODE_BLOCK, iw_vs_platform(), &db,
                         &err) != HS_SUCCESS || hs_alloc_scratch(db, &scr) != HS_SUCCESS) {
        fprintf(stderr, "bench_floor: %s\n", err ? err->message : "hs_alloc_scratch failed");
        return 1;
    }
    if (!(f = fopen(argv[1], "rb")) || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET)) {
        fprintf(stderr, "bench_floor: cannot read %s\n", argv[1]);
        return 1;
    }
    data = malloc((size_t)size + 1);
    dec = malloc((size_t)size + 1);
    if (!data || !dec || fread(data, 1, (size_t)size, f) != (size_t)size) return 1;
    fclose(f);
    for (q = data, end = data + size; q < end; nreq++) {
        char *e = memmem(q, (size_t)(end - q), "\r\n\r\n", 4);
        size_t n = e ? (size_t)(e - q) + 4 : (size_t)(end - q);
        hits += floor_request(db, scr, q, n, dec);
        q += n;
    }
    printf("bench_floor: %d literals, %ld requests, %ld literal hits\n", lits->nelts, nreq, hits);
    hs_free_scratch(scr);
    hs_free_database(db);
    free(data);
    free(dec);
    apr_pool_destroy(p);
    apr_terminate();
    return 0;
}
