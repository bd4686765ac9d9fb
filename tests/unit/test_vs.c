/* SPDX-License-Identifier: Apache-2.0 */
/* iw_vs: the scan implementation chosen passes the self-test, the
 * databases compiled through the cache are built for it, and the shapes
 * Vectorscan 5.4.9 loses are found past offset 64 by the engine. */
#include <string.h>
#include "iw_test.h"
#include "iw_vs.h"
#include "iw_engine_dbcache.h"
#include "engine_util.h"

TEST(vs_chosen_passes_selftest)
{
    iw_vs_init();
    CHECK_INT(iw_vs_selftest(iw_vs__scan, iw_vs_platform()), 0);
    /* the choice names itself; a note exactly when it is not hs_scan */
    CHECK((iw_vs_note() == NULL) == (strcmp(iw_vs_name(), "hs_scan") == 0));
    CHECK((iw_vs_platform() == NULL) == (strcmp(iw_vs_name(), "hs_scan") == 0));
}

TEST(vs_lookup_by_symbol)
{
    /* Vectorscan's fat runtime exports one entry per instruction set */
    CHECK(iw_vs_lookup("corei7_hs_scan") != NULL);
    CHECK(iw_vs_lookup("no_such_hs_scan") == NULL);
}

static int vs_seen(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                   void *ctx)
{
    (void)id; (void)from; (void)to; (void)flags;
    ++*(int *)ctx;
    return 0;
}

TEST(vs_dbcache_compiles_for_the_choice)
{
    /* a database of the cache scans with the chosen implementation */
    static const char *const ex[] = { "<[\\s\\S]" };
    static const unsigned fl[] = { 0 }, ids[] = { 7 };
    hs_database_t *db = NULL;
    hs_scratch_t *scr = NULL;
    hs_compile_error_t *err = NULL;
    char buf[256];
    int n, missed = 0;

    REQUIRE(iw_engine_dbcache_compile_multi(NULL, ex, fl, ids, 1, HS_MODE_BLOCK, &db, &err)
            == HS_SUCCESS);
    REQUIRE(hs_alloc_scratch(db, &scr) == HS_SUCCESS);
    for (n = 0; n < 200; n++) {
        int seen = 0;
        memset(buf, '.', sizeof buf);
        memcpy(buf + n, "<X", 2);
        CHECK_INT(iw_vs_scan(db, buf, (unsigned)n + 10, 0, scr, vs_seen, &seen), HS_SUCCESS);
        missed += !seen;
    }
    CHECK_INT(missed, 0);
    hs_free_scratch(scr);
    hs_free_database(db);
}

TEST(engine_vectorscan_byte_and_class)
{
    /* '<' and any byte, the shape of the pack's XSS prefilter: lost by the
     * AVX-512 path of Vectorscan 5.4.9 past offset 64 */
    char ua[200];
    memset(ua, 'y', sizeof(ua));
    ua[sizeof(ua) - 1] = '\0';
    memcpy(ua + 150, "<xss", 4);
    FIRES("    sel:\n        cs-user-agent|re|i: '(?=<xss)<[\\s\\S]'\n    condition: sel", .ua = ua);
    FIRES("    sel:\n        cs-user-agent|re|i: 'x[sz]'\n    condition: sel", .ua = ua);
    memcpy(ua + 150, "yyyy", 4);
    QUIET("    sel:\n        cs-user-agent|re|i: '(?=<xss)<[\\s\\S]'\n    condition: sel", .ua = ua);
}
