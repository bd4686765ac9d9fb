/* SPDX-License-Identifier: Apache-2.0 */
/* Header lines (iw_engine_lines.c, iw_engine_eval.c "header lines"): a
 * header block scanned line by line, each line's result cached, must give
 * exactly what the whole-block scan gives.  Each test compiles the same
 * rules twice, with the plan and without (iw_engine_header_lines = 0), and
 * compares the rules that fire, request by request, on one scratch per
 * engine (so the line cache carries results from request to request). */
#include <stdlib.h>
#include "engine_util.h"
#include "iw_event.h"

#define MAXH 8

typedef struct hreq { const char *names[MAXH], *values[MAXH]; } hreq_t;

/* The rule set: header-block regexes of every kind the plan knows. */
static const char *const RX[] = {
    "union\\s+select",                  /* required literals, may cross lines */
    "(?<![\\w])sel\\w*\\s*from",        /* lookbehind at a line start */
    "xq$",                              /* $ without m: before the block's last LF */
    "^Host:",                           /* ^ without m: the block's start only */
    "a[^\\n]*?b",                       /* line-local */
    "(?<=\\w)qz",                       /* line-local, lookbehind */
    "z(?=[^\\n]*y)",                    /* line-local, lookahead */
    "x(?![ \\t]*$)",                    /* $ in a negative lookahead: not line-local */
    "q\\s*\\n\\s*y",                    /* needs an LF */
    "(?:aab|b\\s+a|\\bzz)",             /* branches of three kinds */
    "\\$\\{[^}]*\\}",                   /* short literal: the block database */
    "ab\\s*:\\s*$",
};
static const char *const RXM[] = {     /* |re|m */
    "^x-[a-z]+:\\s*$",
    "^q",
    "y$",
};
static const char *const CONTAINS[] = { "union", "qzx", "a\nb" };

static const char *rules_yaml(apr_pool_t *p)
{
    const char *y = "";
    int i, n = 0;
    /* the two blocks (line plans) and, for its meaning, the decoded header
     * lines (one value per header, no plan) */
    const char *fields[3] = { "cs-headers", "cs-headers-decoded", "cs-header-decoded" };
    int f;

    for (f = 0; f < 3; f++) {
        for (i = 0; i < (int)(sizeof(RX) / sizeof(RX[0])); i++, n++)
            y = apr_pstrcat(p, y, n ? "---\n" : "", eu_rule(p, apr_psprintf(p, "r%d", n),
                apr_psprintf(p, "    sel:\n        %s|re: '%s'\n    condition: sel", fields[f], RX[i])), NULL);
        for (i = 0; i < (int)(sizeof(RXM) / sizeof(RXM[0])); i++, n++)
            y = apr_pstrcat(p, y, "---\n", eu_rule(p, apr_psprintf(p, "r%d", n),
                apr_psprintf(p, "    sel:\n        %s|re|m: '%s'\n    condition: sel", fields[f], RXM[i])), NULL);
        for (i = 0; i < (int)(sizeof(CONTAINS) / sizeof(CONTAINS[0])); i++, n++)
            y = apr_pstrcat(p, y, "---\n", eu_rule(p, apr_psprintf(p, "r%d", n),
                apr_psprintf(p, "    sel:\n        %s|contains: \"%s\"\n    condition: sel", fields[f],
                             !strcmp(CONTAINS[i], "a\nb") ? "a\\nb" : CONTAINS[i])), NULL);
        y = apr_pstrcat(p, y, "---\n", eu_rule(p, apr_psprintf(p, "r%d", n++),
            apr_psprintf(p, "    sel:\n        %s|contains: 'select*from'\n    condition: sel", fields[f])), NULL);
        /* literals of one and two bytes for one branch (one Vectorscan id) */
        y = apr_pstrcat(p, y, "---\n", eu_rule(p, apr_psprintf(p, "r%d", n++),
            apr_psprintf(p, "    sel:\n        %s|re: '(?:\\||&&)\\s*id'\n    condition: sel", fields[f])), NULL);
        /* no literal at all: the block database of every plan */
        y = apr_pstrcat(p, y, "---\n", eu_rule(p, apr_psprintf(p, "r%d", n++),
            apr_psprintf(p, "    sel:\n        %s|re: '\\w{2}\\W\\w'\n    condition: sel", fields[f])), NULL);
    }
    return y;
}

typedef struct pair {
    iw_engine_t *on, *off;
    iw_scratch_t *son, *soff;
} pair_t;

static int pair_make(apr_pool_t *p, pair_t *pr, int scan_cache)
{
    const char *y = rules_yaml(p);
    iw_engine_opts_t o;
    iw_engine_stats_t st;
    int k;

    memset(&o, 0, sizeof(o));
    o.scan_cache = scan_cache;
    for (k = 0; k < 2; k++) {
        iw_ruleset_t *rs = iw_ruleset_create(p);
        iw_diag_t *d = iw_diag_create(p);
        iw_engine_t *e;
        iw_rules_load_string(rs, "lines.yml", y, strlen(y), d);
        iw_ruleset_link(rs, d);
        if (d->errors) { iw_diag_print(d, stderr, "    diag: "); return -1; }
        iw_engine_header_lines = k == 0 ? 2 : 0;
        e = iw_engine_compile(p, rs, &o, d);
        iw_engine_header_lines = 1;
        if (!e) { iw_diag_print(d, stderr, "    diag: "); return -1; }
        if (k == 0) pr->on = e; else pr->off = e;
    }
    iw_engine_stats(pr->on, &st);
    if (st.header_line_fields != 2) return -1;          /* both blocks planned */
    iw_engine_stats(pr->off, &st);
    if (st.header_line_fields != 0) return -1;
    pr->son = iw_scratch_create(pr->on);
    pr->soff = iw_scratch_create(pr->off);
    return pr->son && pr->soff ? 0 : -1;
}

static void pair_free(pair_t *pr)
{
    iw_scratch_destroy(pr->son);
    iw_scratch_destroy(pr->soff);
}

/* The rules that fire, as a sorted string of ids. */
static const char *fired(apr_pool_t *p, const iw_engine_t *e, iw_scratch_t *s, const hreq_t *r)
{
    return eu_fired_headers(p, e, s, "/", r->names, r->values, MAXH);
}

/* Both engines on r: the same rules, which are returned. */
static const char *both(apr_pool_t *p, pair_t *pr, const hreq_t *r, int *mismatches)
{
    const char *a = fired(p, pr->on, pr->son, r), *b = fired(p, pr->off, pr->soff, r);
    if (strcmp(a, b)) {
        if (!(*mismatches)++) {
            int i;
            fprintf(stderr, "  lines:%s\n  block:%s\n  request:\n", a, b);
            for (i = 0; i < MAXH && r->names[i]; i++)
                fprintf(stderr, "    %s: \"%s\"\n", r->names[i], r->values[i]);
        }
    }
    return a;
}

static int has(const char *fired_ids, const char *id)
{
    const char *q = fired_ids;
    size_t n = strlen(id);
    while ((q = strstr(q, id))) {
        if (q[n] == ' ' || q[n] == '\0') return 1;
        q += n;
    }
    return 0;
}

TEST(hl_match_spans_lines)
{
    pair_t pr;
    int mm = 0;
    const char *f;
    REQUIRE(pair_make(p, &pr, 0) == 0);
    /* "union" ends one line, "select" starts the next: r0 on both fields */
    f = both(p, &pr, &(hreq_t){ { "Host", "X-A", "select" }, { "h", "id union", "1" } }, &mm);
    CHECK(has(f, "r0"));
    /* q, LF, y across two lines (r8 needs the LF) */
    f = both(p, &pr, &(hreq_t){ { "Host", "X-A", "X-B" }, { "h", "q ", "y" } }, &mm);
    CHECK(!has(f, "r8"));                      /* "q \nX-B: y": X-B is between */
    f = both(p, &pr, &(hreq_t){ { "Host", "X-A" }, { "h", "q\ny" } }, &mm);
    CHECK(has(f, "r8"));
    /* the decoded view: %0a makes the LF */
    f = both(p, &pr, &(hreq_t){ { "Host", "X-A" }, { "h", "union%0aselect" } }, &mm);
    CHECK(has(f, "r21"));                      /* r0 of cs-headers-decoded */
    CHECK(has(f, "r42"));                      /* ... of cs-header-decoded: one header */
    CHECK(!has(f, "r0"));
    /* across two headers: the blocks, not the header lines */
    f = both(p, &pr, &(hreq_t){ { "Host", "X-A", "select" }, { "h", "id union", "1" } }, &mm);
    CHECK(has(f, "r21"));
    CHECK(!has(f, "r42"));
    CHECK_INT(mm, 0);
    pair_free(&pr);
}

TEST(hl_literal_at_line_boundary)
{
    pair_t pr;
    int mm = 0;
    const char *f;
    REQUIRE(pair_make(p, &pr, 0) == 0);
    /* a literal at the end of a line and at the start of the next */
    f = both(p, &pr, &(hreq_t){ { "X-A", "union" }, { "v union", "v" } }, &mm);
    CHECK(has(f, "r15"));                      /* contains 'union' */
    /* lookbehind at the start of a line sees the LF */
    f = both(p, &pr, &(hreq_t){ { "Host", "selfrom" }, { "h", "v" } }, &mm);
    CHECK(has(f, "r1"));
    /* $ without m: only before the block's last LF */
    f = both(p, &pr, &(hreq_t){ { "Host", "X-A" }, { "xq", "v" } }, &mm);
    CHECK(!has(f, "r2"));
    f = both(p, &pr, &(hreq_t){ { "Host", "X-A" }, { "v", "xq" } }, &mm);
    CHECK(has(f, "r2"));
    /* ^ without m: the block's first line only */
    f = both(p, &pr, &(hreq_t){ { "X-A", "Host" }, { "v", "h" } }, &mm);
    CHECK(!has(f, "r3"));
    f = both(p, &pr, &(hreq_t){ { "Host", "X-A" }, { "h", "v" } }, &mm);
    CHECK(has(f, "r3"));
    /* x followed by blanks to the line end: the negative lookahead reads
     * $, which is true only at the block's end */
    f = both(p, &pr, &(hreq_t){ { "Host", "X-A" }, { "x ", "v" } }, &mm);
    CHECK(has(f, "r7"));
    /* with m, ^ and $ at every line */
    f = both(p, &pr, &(hreq_t){ { "Host", "x-aa" }, { "h", "" } }, &mm);
    CHECK(has(f, "r12"));
    /* a literal holding the LF: last bytes of one line, first of the next */
    f = both(p, &pr, &(hreq_t){ { "Host", "b" }, { "a", "v" } }, &mm);
    CHECK(has(f, "r17"));
    CHECK_INT(mm, 0);
    pair_free(&pr);
}

TEST(hl_repeated_line_changed_neighbours)
{
    pair_t pr;
    int mm = 0, k;
    const char *f;
    REQUIRE(pair_make(p, &pr, 0) == 0);
    for (k = 0; k < 3; k++) {
        /* the same "X-A: id union" line; the next line decides */
        f = both(p, &pr, &(hreq_t){ { "Host", "X-A", "X-B" }, { "h", "id union", "nothing" } }, &mm);
        CHECK(!has(f, "r0"));
        f = both(p, &pr, &(hreq_t){ { "Host", "X-A", "select" }, { "h", "id union", "1" } }, &mm);
        CHECK(has(f, "r0"));
        /* the same line first, then after another line: ^ decides */
        f = both(p, &pr, &(hreq_t){ { "Host" }, { "h" } }, &mm);
        CHECK(has(f, "r3"));
        f = both(p, &pr, &(hreq_t){ { "X-A", "Host" }, { "v", "h" } }, &mm);
        CHECK(!has(f, "r3"));
        /* the same line last, then not last: $ decides */
        f = both(p, &pr, &(hreq_t){ { "X-A" }, { "v xq" } }, &mm);
        CHECK(has(f, "r2"));
        f = both(p, &pr, &(hreq_t){ { "X-A", "X-B" }, { "v xq", "w" } }, &mm);
        CHECK(!has(f, "r2"));
    }
    CHECK_INT(mm, 0);
    pair_free(&pr);
}

TEST(hl_empty_header_value)
{
    pair_t pr;
    int mm = 0;
    const char *f;
    REQUIRE(pair_make(p, &pr, 0) == 0);
    f = both(p, &pr, &(hreq_t){ { "Host", "X-Empty", "X-B" }, { "", "", "" } }, &mm);
    CHECK(!has(f, "r0"));
    f = both(p, &pr, &(hreq_t){ { "x-ab" }, { "" } }, &mm);
    CHECK(has(f, "r11"));                      /* "ab:" then blank to the line end */
    /* empty lines inside a value (LF LF) */
    f = both(p, &pr, &(hreq_t){ { "Host", "X-A" }, { "q", "\n\ny" } }, &mm);
    CHECK(!has(f, "r8"));
    f = both(p, &pr, &(hreq_t){ { "X-A" }, { "q\n\n" } }, &mm);
    CHECK_INT(mm, 0);
    pair_free(&pr);
}

/* Random blocks from pieces that make every rule fire sometimes, on a
 * cache of 16 entries: lines are evicted and come back all the time. */
static void random_rounds(apr_pool_t *p, pair_t *pr, unsigned seed, int rounds, int *mm, int *nfired)
{
    static const char *const pieces[] = {
        "union", "select", "sel", "from", " ", "\n", "\t", "x", "q", "y", "z", "a", "b", "ab",
        ":", "${", "}", "%0a", "%0A", "xq", "qz", "aab", "zz", "host:", "x-ab:", "-", "\n\n", "",
    };
    static const char *const names[] = { "Host", "X-A", "X-Ab", "User-Agent", "Referer", "q", "sel" };
    const int np = (int)(sizeof(pieces) / sizeof(pieces[0]));
    const int nn = (int)(sizeof(names) / sizeof(names[0]));
    int k, i, j;

    for (k = 0; k < rounds; k++) {
        hreq_t r;
        int nh;
        memset(&r, 0, sizeof(r));
        seed = seed * 1103515245u + 12345u;
        nh = 1 + (int)((seed >> 16) % (MAXH - 1));
        for (i = 0; i < nh; i++) {
            char *v = apr_palloc(p, 128);
            int len;
            seed = seed * 1103515245u + 12345u;
            r.names[i] = names[(seed >> 16) % (unsigned)nn];
            seed = seed * 1103515245u + 12345u;
            len = (int)((seed >> 16) % 6);
            v[0] = '\0';
            for (j = 0; j < len; j++) {
                seed = seed * 1103515245u + 12345u;
                strcat(v, pieces[(seed >> 16) % (unsigned)np]);
            }
            r.values[i] = v;
        }
        *nfired += strlen(both(p, pr, &r, mm)) > 0;
    }
}

TEST(hl_cache_eviction)
{
    pair_t pr;
    int mm = 0, nf = 0;
    apr_pool_t *sub;
    REQUIRE(pair_make(p, &pr, 16) == 0);
    apr_pool_create(&sub, p);
    random_rounds(sub, &pr, 7, 3000, &mm, &nf);
    CHECK_INT(mm, 0);
    CHECK(nf > 1000);
    pair_free(&pr);
}

TEST(hl_random_blocks)
{
    pair_t pr;
    int mm = 0, nf = 0, k;
    apr_pool_t *sub;
    REQUIRE(pair_make(p, &pr, 0) == 0);
    apr_pool_create(&sub, p);
    for (k = 0; k < 4; k++) {                  /* the same blocks again: from the caches */
        random_rounds(sub, &pr, 11, 1500, &mm, &nf);
        apr_pool_clear(sub);
    }
    CHECK_INT(mm, 0);
    CHECK(nf > 2000);
    pair_free(&pr);
}
