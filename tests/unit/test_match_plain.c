/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of iw_match_plain: which patterns and top-level branches may match a
 * value of plain bytes, checked against PCRE2 as the oracle on random
 * plain strings. */
#include <stdlib.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "iw_test.h"
#include "iw_match_plain.h"
#include "iw_engine.h"

static int may(const char *re) { return iw_match_plain_may_match(re, strlen(re)); }

TEST(plain_values)
{
    CHECK(iw_match_plain_value("/static-2k.html?t=1&r=12345", 27));
    CHECK(iw_match_plain_value("a_b~c-d.e/f=g&h?i:j+k,l", 23));
    CHECK(iw_match_plain_value("", 0));
    CHECK(!iw_match_plain_value("/a b", 4));
    CHECK(!iw_match_plain_value("/a%20b", 6));
    CHECK(!iw_match_plain_value("id=1'", 5));
    CHECK(!iw_match_plain_value("x\0y", 3));
    CHECK(!iw_match_plain_value("caf\xc3\xa9", 5));
}

/* Every byte value at every position of values up to 40 bytes (the
 * 16-byte steps and the block read where the value ends) against the
 * alphabet written out. */
TEST(plain_values_every_byte)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/=&?:+,";
    char b[48];
    size_t n, pos;
    int c, diff = 0;

    for (n = 1; n <= 40; n++)
        for (pos = 0; pos < n; pos++)
            for (c = 0; c < 256; c++) {
                int want = c && memchr(alpha, c, sizeof(alpha) - 1) != NULL;
                memset(b, 'k', sizeof(b));
                b[pos] = (char)c;
                if (iw_match_plain_value(b, n) != want && diff++ < 5)
                    fprintf(stderr, "  n=%zu pos=%zu byte %02x\n", n, pos, c);
            }
    CHECK_INT(diff, 0);
}

/* Expected answers: 0 = every path needs a byte outside the alphabet;
 * 1 = may match plain bytes, or not understood (then always 1). */
TEST(plain_may_match_cases)
{
    static const struct { const char *re; int want; } cases[] = {
        { "union\\s+select", 0 },
        { "['\"]\\s*or", 0 },
        { "\\$\\{jndi:", 0 },
        { "<script", 0 },
        { "a;b|c;d", 0 },
        { "[;|`]\\s*id", 0 },
        { "\\x27", 0 },
        { "\\Q$(\\E", 0 },
        { "%2e%2e", 0 },
        { "(?:\\(|\\))x", 0 },
        { "[^\\w./=&?:+,~-]", 0 },  /* complement of the alphabet */
        { "\\n", 0 },
        { "union.select", 1 },
        { "etc/passwd", 1 },
        { "(?:^|[=&])cmd=\\w+", 1 },
        { "a\\s*b", 1 },  /* \s* may be empty */
        { "a(?: )?b", 1 },
        { "x{0,3}y", 1 },
        { "a|'", 1 },
        { "\\x41", 1 },
        { "[^'\"]", 1 },
        { "(?<![.\\w$])concat\\(", 0 },  /* lookbehind aside, '(' is needed */
        { "(?=')a", 1 },  /* lookarounds count as matching */
        { "(?x) a ' b", 1 },
        { "\\p{Lu}'", 1 },
        { "[[:punct:]]", 1 },
        { "(a)\\1'", 1 },
        { "(?(1)a|b)'", 1 },
        { "(*UTF)'", 1 },
        { "'(", 1 },  /* unbalanced */
        { "[^a\\-z\\-0-9A-Z_.~/=&?:+,]", 1 },  /* escaped "-" is a byte, not a range: b-y remain */
        { "[^b-y]", 1 },
    };
    size_t i;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = may(cases[i].re);
        if (got != cases[i].want) fprintf(stderr, "  %s: %d\n", cases[i].re, got);
        CHECK_INT(got, cases[i].want);
    }
}

static int nbr(const char *re, size_t *off, size_t *len)
{
    return iw_match_plain_branches(re, strlen(re), off, len, 8);
}

TEST(plain_branches)
{
    size_t off[8], len[8];
    const char *re;

    re = "a|b[|]|(c|d)";
    REQUIRE(nbr(re, off, len) == 3);
    CHECK(len[0] == 1 && !memcmp(re + off[0], "a", 1));
    CHECK(len[1] == 4 && !memcmp(re + off[1], "b[|]", 4));
    CHECK(len[2] == 5 && !memcmp(re + off[2], "(c|d)", 5));
    re = "(?:x\\|y|z)";                          /* one group around everything */
    REQUIRE(nbr(re, off, len) == 2);
    CHECK(len[0] == 4 && !memcmp(re + off[0], "x\\|y", 4));
    CHECK(len[1] == 1 && !memcmp(re + off[1], "z", 1));
    CHECK_INT(nbr("(?:a)|(?:b)", off, len), 2);
    CHECK_INT(nbr("(?:a)(?:b|c)", off, len), 1);  /* the group does not span all */
    /* splitting would change the meaning: kept whole */
    CHECK_INT(nbr("(a)|\\1", off, len), 1);
    CHECK_INT(nbr("(?i)a|b", off, len), 1);
    CHECK_INT(nbr("(?|a|b)", off, len), 1);
    CHECK_INT(nbr("(?<n>a)|\\k<n>", off, len), 1);
    CHECK_INT(nbr("(?<n>a)|b", off, len), 2);
    CHECK_INT(nbr("(?<=a)b|c", off, len), 2);
    CHECK_INT(nbr("a|b|c|d|e|f|g|h|i", off, len), 1);  /* more than max */
    CHECK_INT(nbr("(a|b", off, len), 1);
    /* a POSIX class's ']' does not close its class */
    re = "x[[:digit:]|]y|<z";
    REQUIRE(nbr(re, off, len) == 2);
    CHECK(len[0] == 14 && !memcmp(re + off[0], "x[[:digit:]|]y", 14));
    CHECK_INT(nbr("[[:^alpha:]|]|a", off, len), 2);
    CHECK_INT(nbr("[[:x|]|a", off, len), 2);   /* no POSIX class: "[:x|" are bytes of the class */
}

/* Random plain strings over pieces of typical targets and attack words. */
static void random_plain(char *out, size_t max, unsigned *seed)
{
    static const char *const pieces[] = {
        "/", "=", "&", "?", ".", "-", "_", "~", ":", "+", ",", "a", "z", "0", "9",
        "id", "cmd", "union", "select", "etc", "passwd", "http", "php", "file",
        "whoami", "admin", "wp", "x", "localhost", "127", "0x7f", "data", "sleep",
        "jndi", "ldap", "script", "on", "error", "sh", "bin", "Ls", "SELECT",
    };
    size_t n = 0, k = (size_t)(rand_r(seed) % 12) + 1;
    while (k-- && n < max - 16) {
        const char *p = pieces[(unsigned)rand_r(seed) % (sizeof(pieces) / sizeof(pieces[0]))];
        size_t l = strlen(p);
        memcpy(out + n, p, l);
        n += l;
    }
    out[n] = '\0';
}

/* PCRE2 is the oracle: whenever a pattern matches a plain string, the
 * analysis must say "may match", and so must a branch that matches. */
TEST(plain_analysis_agrees_with_pcre2)
{
    static const char *const res[] = {
        "(?:^|[=&])\\s*(?:https?|ftps?|file)://",
        "(?:^|&)(?:cmd|exec|c|x)=\\s*(?:whoami|id|ls)(?:\\s|$|&|;|\\|)",
        "/etc/(?:passwd|shadow)|/proc/self/",
        "\\bunion\\b(?:\\s|/\\*.*?\\*/)*\\bselect\\b",
        "(?:[;|`]|&&|\\$\\()\\s*(?:id|ls|sh)\\b",
        "\\$\\{\\s*jndi\\s*:",
        "(?<![.\\w$])sleep\\s*\\(",
        "(?:^|[=&\\s(])(?:localhost|127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}|0x7f[\\w.]*)(?=[:/?#&\\s]|$)",
        "[a-z]\\\\[a-wyz](?![a-z])",
        "\\bon[a-z]{3,}\\s*=",
        "^(?:[^=&]+=[^=&]*)(?:&[^=&]+=[^=&]*)*$",
        "(?:data|php|expect)://",
        "\\.(?:php\\d?|phtml|asp|jsp)$",
        "(?:\\.\\.[\\\\/]){2,}",
        "x{2,}|z{0,2}0",
        "[^\\s&]+=[^&]*;[^&]*",
        "(?:wp-admin|wp-login\\.php)",
        "SELECT|select",
        "[O-Z]s",
        "\\w+\\.\\w{1,4}\\b",
    };
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    unsigned seed = 12345;
    char s[256];
    size_t off[64], len[64];
    int i, r, k, nb, matched = 0, bad = 0;

    REQUIRE(md);
    for (r = 0; r < (int)(sizeof(res) / sizeof(res[0])); r++) {
        int ec, caseless = r % 2;           /* both ways: the alphabet is closed under case */
        PCRE2_SIZE eo;
        pcre2_code *whole = pcre2_compile((PCRE2_SPTR)res[r], PCRE2_ZERO_TERMINATED,
                                          caseless ? PCRE2_CASELESS : 0, &ec, &eo, NULL);
        pcre2_code *br[64];
        REQUIRE(whole);
        nb = iw_match_plain_branches(res[r], strlen(res[r]), off, len, 64);
        for (k = 0; k < nb; k++) {
            br[k] = pcre2_compile((PCRE2_SPTR)(res[r] + off[k]), len[k],
                                  caseless ? PCRE2_CASELESS : 0, &ec, &eo, NULL);
            REQUIRE(br[k]);
        }
        for (i = 0; i < 4000; i++) {
            int any = 0;
            random_plain(s, sizeof(s), &seed);
            REQUIRE(iw_match_plain_value(s, strlen(s)));
            if (pcre2_match(whole, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL) < 0) continue;
            matched++;
            if (!iw_match_plain_may_match(res[r], strlen(res[r])) && bad++ < 5)
                fprintf(stderr, "  pattern %s matches plain '%s' but was ruled out\n", res[r], s);
            for (k = 0; k < nb && !any; k++)
                any = pcre2_match(br[k], (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL) >= 0
                      && iw_match_plain_may_match(res[r] + off[k], len[k]);
            if (!any && bad++ < 5)
                fprintf(stderr, "  no kept branch of %s matches plain '%s'\n", res[r], s);
        }
        for (k = 0; k < nb; k++) pcre2_code_free(br[k]);
        pcre2_code_free(whole);
    }
    pcre2_match_data_free(md);
    CHECK_INT(bad, 0);
    CHECK(matched > 2000);                   /* the strings do exercise the patterns */
}

/* The byte table and the byte predicate the analysis uses agree. */
TEST(plain_table_matches_alphabet)
{
    unsigned c;
    int n = 0;
    for (c = 1; c < 256; c++) {
        char b = (char)c;
        int want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                   || strchr("-._~/=&?:+,", (int)c) != NULL;
        char lit[8];
        CHECK_INT(iw_match_plain_value(&b, 1), want);
        /* a one-byte pattern (escaped) may match exactly when the byte is plain */
        snprintf(lit, sizeof(lit), "\\x%02x", c);
        CHECK_INT(iw_match_plain_may_match(lit, strlen(lit)), want);
        n += want;
    }
    CHECK_INT(n, 26 * 2 + 10 + 11);
    CHECK_INT(iw_match_plain_value("\0", 1), 0);
}
