/* SPDX-License-Identifier: Apache-2.0 */
/* hs_record.h: what the engine gives Vectorscan, for test and bench
 * programs.  Included once per program: it defines hs_compile_multi, so
 * the engine's calls (through iw_engine_dbcache with the cache disabled)
 * land here, go on to the library's, and each database compiled is
 * recorded with its expressions, flags and ids (hs_find_rec);
 * hs_record_engine compiles rule files that way. */
#ifndef IW_TESTS_HS_RECORD_H
#define IW_TESTS_HS_RECORD_H

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <hs/hs.h>
#include "iw_engine.h"
#include "iw_engine_dbcache.h"
#include "iw_rules.h"

typedef struct dbrec {
    const hs_database_t *db;
    unsigned n;
    char **exprs;
    unsigned *flags, *ids;
} dbrec_t;

static dbrec_t *recs;
static int nrecs, caprecs;

typedef hs_error_t (*compile_multi_fn)(const char *const *, const unsigned *, const unsigned *,
                                       unsigned, unsigned, const hs_platform_info_t *,
                                       hs_database_t **, hs_compile_error_t **);

hs_error_t hs_compile_multi(const char *const *exprs, const unsigned *flags, const unsigned *ids,
                            unsigned n, unsigned mode, const hs_platform_info_t *plat,
                            hs_database_t **db, hs_compile_error_t **err)
{
    static compile_multi_fn real;
    hs_error_t rc;
    dbrec_t *r;
    unsigned i;

    if (!real) real = (compile_multi_fn)dlsym(RTLD_NEXT, "hs_compile_multi");
    rc = real(exprs, flags, ids, n, mode, plat, db, err);
    if (rc != HS_SUCCESS) return rc;
    if (nrecs == caprecs) {
        caprecs = caprecs ? 2 * caprecs : 64;
        recs = realloc(recs, sizeof(*recs) * (size_t)caprecs);
        if (!recs) abort();
    }
    r = &recs[nrecs++];
    r->db = *db;
    r->n = n;
    r->exprs = calloc(n, sizeof(char *));
    r->flags = calloc(n, sizeof(unsigned));
    r->ids = calloc(n, sizeof(unsigned));
    if (!r->exprs || !r->flags || !r->ids) abort();
    for (i = 0; i < n; i++) {
        r->exprs[i] = strdup(exprs[i]);
        r->flags[i] = flags ? flags[i] : 0;
        r->ids[i] = ids ? ids[i] : i;
    }
    return rc;
}

static inline const dbrec_t *hs_find_rec(const hs_database_t *db)
{
    int i;
    for (i = 0; db && i < nrecs; i++) if (recs[i].db == db) return &recs[i];
    return NULL;
}

/* Compiles rule files files[0, n) as the engine does, with the database
 * cache disabled so that every database is compiled here and recorded;
 * diagnostics to stderr.  0, or -1 on an error. */
static inline int hs_record_engine(apr_pool_t *p, char **files, int n, iw_engine_t **out)
{
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    iw_engine_opts_t eo;
    int i;

    for (i = 0; i < n; i++) iw_rules_load(rs, files[i], d);
    if (!d->errors) iw_ruleset_link(rs, d);
    memset(&eo, 0, sizeof(eo));
    eo.dbcache = iw_engine_dbcache_create(p, NULL);
    *out = d->errors ? NULL : iw_engine_compile(p, rs, &eo, d);
    iw_diag_print(d, stderr, "");
    return *out ? 0 : -1;
}

#endif
