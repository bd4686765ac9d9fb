/* SPDX-License-Identifier: Apache-2.0 */
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

/* Length tests written as regexes (^.{N}, ^[^\n]{N}, also "N,") are
 * answered by a direct check instead of a Vectorscan bounded repeat.  Each
 * shape and flag combination is compared with the same test written so
 * that it is not recognised ((?:.) and a (?:) tail: PCRE2 decides) over
 * 3,000 random values of 0-12 bytes with LFs, CRs and other bytes. */
TEST(engine_long_line_regex_matches_pcre2)
{
    static const struct { const char *mods, *fast, *slow; } shapes[] = {
        { "re", "^.{5}", "^(?:.){5}(?:)" },
        { "re|s", "^.{5}", "^(?:.){5}(?:)" },
        { "re|m", "^.{5}", "^(?:.){5}(?:)" },
        { "re|s|m", "^.{5}", "^(?:.){5}(?:)" },
        { "re|i|m", "^.{4,}", "^(?:.){4,}(?:)" },
        { "re", "^[^\\n]{5}", "^(?:[^\\n]){5}(?:)" },
        { "re|m", "^[^\\n]{5}", "^(?:[^\\n]){5}(?:)" },
        { "re|s|m", "^[^\\n]{3,}", "^(?:[^\\n]){3,}(?:)" },
    };
    const int nshapes = (int)(sizeof(shapes) / sizeof(shapes[0]));
    const char *yaml = "";
    iw_diag_t *d;
    iw_engine_t *e;
    iw_engine_stats_t st;
    iw_scratch_t *s;
    const iw_hit_t *hits;
    unsigned seed = 99;
    int i, k, n, mismatches = 0, fired = 0, direct_checks;

    for (i = 0; i < nshapes; i++)
        yaml = apr_pstrcat(p, yaml, i ? "---\n" : "",
            eu_rule(p, apr_psprintf(p, "f%d", i),
                    apr_psprintf(p, "    sel:\n        cs-user-agent|%s: '%s'\n    condition: sel",
                                 shapes[i].mods, shapes[i].fast)), "---\n",
            eu_rule(p, apr_psprintf(p, "s%d", i),
                    apr_psprintf(p, "    sel:\n        cs-user-agent|%s: '%s'\n    condition: sel",
                                 shapes[i].mods, shapes[i].slow)), NULL);
    e = eu_compile(p, yaml, &d, NULL);
    REQUIRE(e != NULL);
    iw_engine_stats(e, &st);
    direct_checks = st.direct_checks;
    CHECK(direct_checks >= 5);               /* the fast forms' 5 distinct tests */
    CHECK_INT(st.regexes, nshapes);          /* the slow ones stayed regexes */
    s = iw_scratch_create(e);
    REQUIRE(s != NULL);
    for (k = 0; k < 3000; k++) {
        char ua[16];
        int len, j;
        seed = seed * 1103515245u + 12345u;
        len = (int)((seed >> 16) % 13);
        for (j = 0; j < len; j++) {
            seed = seed * 1103515245u + 12345u;
            ua[j] = "ab\n\r x.\t"[(seed >> 16) % 8];
        }
        ua[len] = '\0';
        n = eu_eval(p, e, s, &(treq_t){ .ua = ua }, &hits);
        for (i = 0; i < nshapes; i++) {
            int f = eu_fired(hits, n, apr_psprintf(p, "f%d", i));
            if (f != eu_fired(hits, n, apr_psprintf(p, "s%d", i))) {
                if (!mismatches++)
                    fprintf(stderr, "  shape %d (%s '%s') on \"%s\": direct %d\n", i,
                            shapes[i].mods, shapes[i].fast, ua, f);
            }
            fired += f;
        }
    }
    CHECK_INT(mismatches, 0);
    CHECK(fired > 1000);
    /* the value reaches the check with its LFs: the first line is short,
     * the second long enough */
    n = eu_eval(p, e, s, &(treq_t){ .ua = "ab\ncdefgh" }, &hits);
    CHECK(!eu_fired(hits, n, "f0"));
    CHECK(eu_fired(hits, n, "f1"));
    CHECK(eu_fired(hits, n, "f2"));
    CHECK(!eu_fired(hits, n, "f5"));
    CHECK(eu_fired(hits, n, "f6"));
    iw_scratch_destroy(s);
}

/* A length test on an absent field (no Referer) is false, and computes
 * nothing from the missing pointer: the old code formed NULL + 0, which
 * clang's UBSan reports (make fuzz-build's flags; gcc's does not check
 * it).  Found by fuzz_eval on its first, empty input. */
TEST(engine_long_line_on_absent_field)
{
    const char *yaml = eu_rule(p, "nolong",
        "    sel:\n        cs-referer|re|m: '^[^\\n]{5}'\n    condition: not sel");
    iw_diag_t *d;
    iw_engine_t *e = eu_compile(p, yaml, &d, NULL);
    iw_scratch_t *s;
    const iw_hit_t *hits;
    int n;

    REQUIRE(e != NULL);
    s = iw_scratch_create(e);
    REQUIRE(s != NULL);
    n = eu_eval(p, e, s, &(treq_t){ .target = "/" }, &hits);
    CHECK(eu_fired(hits, n, "nolong"));
    n = eu_eval(p, e, s, &(treq_t){ .target = "/", .referer = "abcdefgh" }, &hits);
    CHECK(!eu_fired(hits, n, "nolong"));
    iw_scratch_destroy(s);
}

/* The byte gate (fieldm_t.gate): a value without any of the bytes the
 * field's patterns need skips the database; a caseless pattern's gate
 * holds both cases of its letter, a cased one only its own (and a cased
 * pattern's byte does not stand for a caseless literal holding it); a field with
 * a pattern of no required literal has no gate. */
TEST(engine_byte_gate)
{
    FIRES("    sel:\n        cs-user-agent|re|i: 'sqlmap/\\d'\n    condition: sel", .ua = "SQLMAP/1");
    FIRES("    sel:\n        cs-user-agent|re|i: 'sqlmap/\\d'\n    condition: sel", .ua = "x sqlmap/1");
    QUIET("    sel:\n        cs-user-agent|re|i: 'sqlmap/\\d'\n    condition: sel", .ua = "SQLMAP/x");
    QUIET("    sel:\n        cs-user-agent|re: 'sqlmap/\\d'\n    condition: sel", .ua = "SQLMAP/1");
    FIRES("    sel:\n        cs-user-agent|re: 'Q[a-z]+'\n    condition: sel", .ua = "zzQab");
    QUIET("    sel:\n        cs-user-agent|re: 'Q[a-z]+'\n    condition: sel", .ua = "zzqab");
    /* two patterns: either one's bytes open the gate */
    FIRES("    sel:\n        cs-user-agent|re:\n            - 'zz\\d'\n            - '\\$\\{j'\n"
          "    condition: sel", .ua = "a${jndi");
    FIRES("    sel:\n        cs-user-agent|re:\n            - 'zz\\d'\n            - '[a-c]{4}'\n"
          "    condition: sel", .ua = "xabca");
    /* a cased pattern's byte ('q' of xq) opens the gate in its own case
     * only: it does not stand for a caseless literal holding it (qwe) */
    FIRES("    a:\n        cs-user-agent|re: 'xq'\n    b:\n        cs-user-agent|re|i: 'qwe'\n"
          "    condition: a or b", .ua = "QWE");
}

/* Exact regexes (those Vectorscan takes as they are) answer without a
 * PCRE2 confirmation: the same hits as with every regex confirmed, on
 * the edges where the two could differ (\s and VT, $ before a final LF,
 * '.', \b at non-ASCII bytes, caseless, multiline, bounded repeats). */
TEST(engine_exact_regexes_differential)
{
    static const char *const res[] = {
        "a\\sb", "a$", "^b", "a.b", "\\bx", "x\\b", "[[:space:]]q", "ab{2,3}c", "(?:cat|dog)s?\\d",
        "\\$\\{jndi:", "(?<=a)b", "a(?=b)", "[^=&]*[\\r\\n]",
    };
    static const char *const vals[] = {
        "a b", "a\x0b" "b", "a\n", "a\nb", "xa", "\xe9x", "x\xe9", "a\rb", "b", "\x0bq", "abbc",
        "abbbbc", "DOGS1", "cat2", "${JNDI:", "${jndi:", "ab", "q\r", "=x\n",
    };
    const char *mods[] = { "re", "re|i", "re|m", "re|s" };
    size_t r, v, m;
    int k;

    for (m = 0; m < sizeof(mods) / sizeof(mods[0]); m++) {
        const char *yaml = "";
        iw_engine_t *e[2];
        iw_scratch_t *s[2];
        iw_diag_t *d;
        for (r = 0; r < sizeof(res) / sizeof(res[0]); r++)
            yaml = apr_pstrcat(p, yaml, r ? "---\n" : "", eu_rule(p, apr_psprintf(p, "x%d", (int)r),
                apr_psprintf(p, "    sel:\n        cs-user-agent|%s: '%s'\n    condition: sel",
                             mods[m], res[r])), NULL);
        for (k = 0; k < 2; k++) {
            iw_engine_exact_regexes = k;
            e[k] = eu_compile(p, yaml, &d, NULL);
            if (!e[k]) iw_diag_print(d, stderr, "    diag: ");
            REQUIRE(e[k] != NULL);
            REQUIRE((s[k] = iw_scratch_create(e[k])) != NULL);
        }
        iw_engine_exact_regexes = 1;
        for (v = 0; v < sizeof(vals) / sizeof(vals[0]); v++) {
            const iw_hit_t *h0, *h1;
            int n0 = eu_eval(p, e[0], s[0], &(treq_t){ .target = "/", .ua = vals[v] }, &h0);
            int n1 = eu_eval(p, e[1], s[1], &(treq_t){ .target = "/", .ua = vals[v] }, &h1);
            for (r = 0; r < sizeof(res) / sizeof(res[0]); r++) {
                const char *id = apr_psprintf(p, "x%d", (int)r);
                if (eu_fired(h0, n0, id) != eu_fired(h1, n1, id))
                    fprintf(stderr, "  %s %s on value %zu\n", mods[m], res[r], v);
                CHECK_INT(eu_fired(h1, n1, id), eu_fired(h0, n0, id));
            }
        }
        iw_scratch_destroy(s[0]);
        iw_scratch_destroy(s[1]);
    }
}

/* A field's plain-value database (its patterns' branches that may match
 * plain bytes) is only a faster equivalent of its whole database, and was
 * dropped without a word whenever Vectorscan refused it: e.g. branches of
 * one regex whose SINGLEMATCH flags differed (a one-byte branch loses it),
 * or a branch cut inside a POSIX class.  Both build now; a refusal left
 * (a branch that can never match) is a warning at the rule's line naming
 * the field and Vectorscan's reason, and the rule still matches. */
TEST(engine_plain_db_refused_is_a_warning)
{
    static const struct { const char *re, *hit, *miss; int warned; } cases[] = {
        { "a|bcd|<x", "/p?q=bcd", "/p?q=zzz", 0 },
        { "x[[:digit:]|]y|<z", "/p?q=x|y", "/p?q=xzy", 0 },
        { "xy|a\\bb|<z", "/p?q=xy", "/p?q=ab", 1 },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        iw_diag_t *d;
        iw_engine_t *e = eu_compile(p, eu_rule(p, "r1", apr_psprintf(p,
            "    sel:\n        cs-uri-query|re: '%s'\n    condition: sel", cases[i].re)), &d, NULL);
        iw_scratch_t *s;
        const iw_hit_t *hits;
        const iw_diag_msg_t *m;
        int n;

        REQUIRE(e != NULL);
        CHECK_INT(d->errors, 0);
        CHECK_INT(d->warnings > 0, cases[i].warned);
        if (d->warnings) {
            m = &APR_ARRAY_IDX(d->msgs, 0, iw_diag_msg_t);
            CHECK(m->line > 0 && m->file && !strcmp(m->file, "test.yml"));
            CHECK(strstr(m->text, "no plain-value database") != NULL);
            CHECK(strstr(m->text, "Pattern can never match") != NULL);
        }
        s = iw_scratch_create(e);
        REQUIRE(s != NULL);
        n = eu_eval(p, e, s, &(treq_t){ .target = cases[i].hit }, &hits);
        CHECK(eu_fired(hits, n, "r1"));
        n = eu_eval(p, e, s, &(treq_t){ .target = cases[i].miss }, &hits);
        CHECK(!eu_fired(hits, n, "r1"));
        iw_scratch_destroy(s);
    }
}
