/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of iw_match_factor: required literals and line locality, with PCRE2 as
 * the oracle on random subjects. */
#include <stdlib.h>
#include <ctype.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "iw_test.h"
#include "iw_match_factor.h"

static iw_match_factor_t fa(apr_pool_t *p, const char *re, unsigned opts)
{
    iw_match_factor_t f;
    iw_match_factor_analyse(p, re, strlen(re), opts, &f);
    return f;
}

static int has_lit(const iw_match_factor_t *f, const char *s)
{
    int i;
    for (i = 0; i < f->nlits; i++)
        if (f->lits[i].len == strlen(s) && !memcmp(f->lits[i].b, s, f->lits[i].len)) return 1;
    return 0;
}

TEST(factor_cases)
{
    iw_match_factor_t f;

    f = fa(p, "\\binsert\\s+into\\b", IW_MATCH_FACTOR_CASELESS);
    CHECK(!f.line_local);                            /* \s crosses lines */
    CHECK_INT(f.nlits, 1);
    CHECK(has_lit(&f, "insert") || has_lit(&f, "into"));
    f = fa(p, "\\b(?:sleep|benchmark|pg_sleep)\\s*\\(", IW_MATCH_FACTOR_CASELESS);
    CHECK(has_lit(&f, "sleep") && has_lit(&f, "benchmark") && has_lit(&f, "pg_sleep"));
    f = fa(p, "UNION", IW_MATCH_FACTOR_CASELESS);
    CHECK(has_lit(&f, "union"));                     /* lower-cased */
    f = fa(p, "UNION", 0);
    CHECK(has_lit(&f, "UNION"));
    f = fa(p, "etc[\\\\/]+passwd", 0);
    CHECK(f.line_local);
    CHECK(f.nlits > 0 && f.minlen >= 6);             /* "etc/" ... or "/passwd" */
    f = fa(p, "a[^\\n]*b", 0);
    CHECK(f.line_local);
    f = fa(p, "a[^&]*b", 0);
    CHECK(!f.line_local);
    f = fa(p, "a.*b", 0);
    CHECK(f.line_local);
    f = fa(p, "a.*b", IW_MATCH_FACTOR_DOTALL);
    CHECK(!f.line_local);
    f = fa(p, "(?<=\\w)ab", 0);
    CHECK(f.line_local);
    f = fa(p, "(?<=\\s)ab", 0);                      /* its lookbehind may read an LF */
    CHECK(!f.line_local);
    f = fa(p, "ab$", 0);
    CHECK(!f.line_local);
    f = fa(p, "ab$", IW_MATCH_FACTOR_MULTILINE);
    CHECK(f.line_local);
    f = fa(p, "ab\\Z", 0);
    CHECK(!f.line_local);
    f = fa(p, "^ab", 0);
    CHECK(f.line_local);
    f = fa(p, "(a)\\1", 0);                          /* not understood */
    CHECK(!f.line_local);
    CHECK_INT(f.nlits, 0);
    f = fa(p, "(?i)ab", 0);
    CHECK_INT(f.nlits, 0);
    f = fa(p, "a\\nb", 0);                           /* literals hold no inner LF */
    CHECK(!f.line_local);
    CHECK(!has_lit(&f, "a\nb"));
    f = fa(p, "x\\s+y", 0);                          /* LF only at a literal's edge */
    CHECK(!has_lit(&f, "x\ny"));
    f = fa(p, "a|b*", 0);                            /* a branch without literal */
    CHECK_INT(f.nlits, 0);
    f = fa(p, "\\$\\{jndi:", 0);
    CHECK(has_lit(&f, "${jndi:"));
    CHECK(f.cost < 1e-6);
}

/* Every match of a regex contains one of its literals (as the engine
 * compares them: caselessly with CASELESS) at most prefix bytes after its
 * start, and a line-local regex's match holds no LF. */
TEST(factor_literals_hold_on_random_subjects)
{
    static const struct { const char *re; unsigned opts; } rx[] = {
        { "union\\s+(?:all\\s+)?select", IW_MATCH_FACTOR_CASELESS },
        { "(?:a|bc)+d", 0 },
        { "x{2,3}y", 0 },
        { "(?:ab|ba)?cd", 0 },
        { "[ab]c[de]", IW_MATCH_FACTOR_CASELESS },
        { "a(?=b)b\\s*c", 0 },
        { "(?:^|[=;])\\s*ab", 0 },
        { "\\Qa.b\\E+c", 0 },
        { "a\\x62{1,2}c", 0 },
        { "(?:x|y\\s)z", 0 },
        { "ab(?:c|d\\s*)*e", 0 },
        { "[^\\n]a{2}[^\\n]", 0 },
        { "a.b", 0 },
        { "\\bab\\b", 0 },
        { "(?:a|bb)c{1,2}d", 0 },
        { "x?y?abc", 0 },
        { "[=;]\\s*ab", 0 },
        { "(?:x|yy)+ab", 0 },
    };
    const char alpha[] = "abcdexyzABCDE =;\n\t.";
    unsigned seed = 5;
    int i, k, bad = 0, matched = 0;

    for (i = 0; i < (int)(sizeof(rx) / sizeof(rx[0])); i++) {
        iw_match_factor_t f;
        int err;
        PCRE2_SIZE off;
        pcre2_code *code = pcre2_compile((PCRE2_SPTR)rx[i].re, PCRE2_ZERO_TERMINATED,
                                         (rx[i].opts & IW_MATCH_FACTOR_CASELESS) ? PCRE2_CASELESS : 0,
                                         &err, &off, NULL);
        pcre2_match_data *md;
        REQUIRE(code != NULL);
        md = pcre2_match_data_create_from_pattern(code, NULL);
        f = fa(p, rx[i].re, rx[i].opts);
        CHECK(f.nlits > 0);
        for (k = 0; k < 20000; k++) {
            char s[24];
            int n, j, found = 0;
            seed = seed * 1103515245u + 12345u;
            n = (int)((seed >> 16) % sizeof(s));
            for (j = 0; j < n; j++) {
                seed = seed * 1103515245u + 12345u;
                s[j] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
            }
            if (pcre2_match(code, (PCRE2_SPTR)s, (size_t)n, 0, 0, md, NULL) < 0) continue;
            matched++;
            {
                /* a literal inside the match, at most prefix bytes after its start */
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                for (j = 0; j < f.nlits && !found; j++) {
                    size_t L = f.lits[j].len, a;
                    for (a = ov[0]; a + L <= ov[1] && !found; a++) {
                        size_t b2;
                        if (f.prefix >= 0 && a - ov[0] > (size_t)f.prefix) break;
                        for (b2 = 0; b2 < L; b2++) {
                            unsigned char c = (unsigned char)s[a + b2];
                            if (rx[i].opts & IW_MATCH_FACTOR_CASELESS) c = (unsigned char)tolower(c);
                            if (c != f.lits[j].b[b2]) break;
                        }
                        found = b2 == L;
                    }
                }
            }
            if (f.line_local) {
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                if (memchr(s + ov[0], '\n', ov[1] - ov[0])) found = 0;
            }
            if (!found && !bad++) fprintf(stderr, "  /%s/ on \"%.*s\"\n", rx[i].re, n, s);
        }
        pcre2_match_data_free(md);
        pcre2_code_free(code);
    }
    CHECK_INT(bad, 0);
    CHECK(matched > 2000);
}
