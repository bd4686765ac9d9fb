/* Engine regressions found outside the engine's own tests. */
#include "engine_util.h"

/* A regex Vectorscan rejects (an anchor inside a group) is dropped from the
 * field's database and run by PCRE2 alone; the other patterns of that field
 * must keep matching.  The error index used to be read after
 * hs_free_compile_error(), removing the wrong pattern (or crashing). */
TEST(engine_rejected_regex_keeps_other_patterns)
{
    const char *yaml = apr_pstrcat(p,
        eu_rule(p, "b64", "    sel:\n        cs-uri|base64offset|contains: 'runtime'\n"
                          "    condition: sel"),
        "---\n",
        eu_rule(p, "re", "    sel:\n        cs-uri|re: '^[^?]*(?:[/\\\\]|^)\\.{2,3}(?:[/\\\\;]|$)'\n"
                         "    condition: sel"), NULL);
    iw_diag_t *d;
    iw_engine_t *e = eu_compile(p, yaml, &d, NULL);
    iw_scratch_t *s;
    const iw_hit_t *hits;
    int n, round;

    REQUIRE(e != NULL);
    s = iw_scratch_create(e);
    REQUIRE(s != NULL);
    for (round = 0; round < 3; round++) {
        n = eu_eval(p, e, s, &(treq_t){ .target = "/post?test=cnVudGltZQ" }, &hits);
        CHECK(eu_fired(hits, n, "b64"));
        CHECK(!eu_fired(hits, n, "re"));
        n = eu_eval(p, e, s, &(treq_t){ .target = "/a/../etc/passwd" }, &hits);
        CHECK(eu_fired(hits, n, "re"));
        CHECK(!eu_fired(hits, n, "b64"));
    }
    iw_scratch_destroy(s);
}
