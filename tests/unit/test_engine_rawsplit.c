/* SPDX-License-Identifier: Apache-2.0 */
/* The raw split (iw_engine_rawsplit.c): _raw's literals also scanned in
 * cs-headers' databases and _raw scanned only up to its header block must
 * fire exactly the rules the whole _raw scan fires (with the merged scan
 * of User-Agent and Referer literals).  The same rules compiled twice,
 * with the split and without (iw_engine_raw_split = 0), compared request
 * by request on one scratch per engine, so the scan cache carries results
 * (a header block, its lines, a request line) from request to request.
 * The values come from a small alphabet with spaces, colons and LF, so
 * keywords fall inside a field, across the request line's spaces, across
 * ": " and into the next header.  (A keyword with LF could match across
 * the LF between the request line and the block: no split then.) */
#include <stdlib.h>
#include "engine_util.h"
#include "iw_event.h"

#define MAXH 5

static const char *const KW[] = {
    "ab c", "c: a", "b:x", "1 h", " 200", "x-b: ", "/ab", "zz", "y z", "http/1.1 2", "/abq*c", "c: a*q",
};

static const char *rules_yaml(apr_pool_t *p)
{
    const char *y = "";
    int i, n = 0;

    for (i = 0; i < (int)(sizeof(KW) / sizeof(KW[0])); i++, n++)
        y = apr_pstrcat(p, y, n ? "---\n" : "", eu_rule(p, apr_psprintf(p, "r%d", n),
            apr_psprintf(p, "    keywords:\n        - \"%s\"\n    condition: keywords", KW[i])), NULL);
    /* rules of their own on cs-headers (the split's condition), on the
     * merged fields, and a keyword with a wildcard */
    y = apr_pstrcat(p, y, "---\n", eu_rule(p, apr_psprintf(p, "r%d", n++),
        "    sel:\n        cs-headers|re: 'q\\s+q'\n    condition: sel"), NULL);
    y = apr_pstrcat(p, y, "---\n", eu_rule(p, apr_psprintf(p, "r%d", n++),
        "    sel:\n        cs-user-agent|contains: 'b z'\n    condition: sel"), NULL);
    y = apr_pstrcat(p, y, "---\n", eu_rule(p, apr_psprintf(p, "r%d", n++),
        "    sel:\n        cs-referer|contains: 'a/'\n    condition: sel"), NULL);
    y = apr_pstrcat(p, y, "---\n", eu_rule(p, apr_psprintf(p, "r%d", n++),
        "    sel:\n        cs-user-agent|contains: 'zz'\n    condition: sel"), NULL);
    return y;
}

static iw_engine_t *compile_with(apr_pool_t *p, int split)
{
    const char *y = rules_yaml(p);
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    iw_engine_t *e;

    iw_rules_load_string(rs, "rawsplit.yml", y, strlen(y), d);
    iw_ruleset_link(rs, d);
    if (d->errors) { iw_diag_print(d, stderr, "    diag: "); return NULL; }
    iw_engine_raw_split = split;
    e = iw_engine_compile(p, rs, NULL, d);
    iw_engine_raw_split = 1;
    if (!e) iw_diag_print(d, stderr, "    diag: ");
    return e;
}

typedef struct rreq { const char *target, *names[MAXH], *values[MAXH]; } rreq_t;

/* The rules that fire, as a string of ids in order. */
static const char *fired(apr_pool_t *p, const iw_engine_t *e, iw_scratch_t *s, const rreq_t *r)
{
    return eu_fired_headers(p, e, s, r->target, r->names, r->values, MAXH);
}

static uint32_t rnd(uint32_t *x)
{
    *x ^= *x << 13; *x ^= *x >> 17; *x ^= *x << 5;
    return *x;
}

/* A value of n bytes from the alphabet; values repeat (the caches). */
static const char *value(apr_pool_t *p, uint32_t *x, int max)
{
    static const char alpha[] = "abcxyzq12 :/-\nABZ";
    static const char *pool[16];
    char *v;
    int n, i, k = (int)(rnd(x) % 24);

    if (k < 16 && pool[k]) return pool[k];
    n = (int)(rnd(x) % (unsigned)max);
    v = apr_palloc(p, (size_t)n + 1);
    for (i = 0; i < n; i++) v[i] = alpha[rnd(x) % (sizeof(alpha) - 1)];
    v[n] = '\0';
    if (k < 16) pool[k] = apr_pstrdup(p, v);
    return v;
}

TEST(engine_raw_split_differential)
{
    static const char *hdr[] = { "User-Agent", "Referer", "X-B", "Host", "user-agent" };
    iw_engine_t *on = compile_with(p, 1), *off = compile_with(p, 0);
    iw_scratch_t *son, *soff;
    iw_engine_stats_t st;
    uint32_t x = 2718;
    int j, bad = 0, fires = 0;

    REQUIRE(on && off);
    iw_engine_stats(on, &st);
    CHECK_INT(st.merged_literals, 0);           /* the split: no merged scan */
    iw_engine_stats(off, &st);
    CHECK(st.merged_literals > 0);
    son = iw_scratch_create(on);
    soff = iw_scratch_create(off);
    REQUIRE(son && soff);
    for (j = 0; j < 3000 && bad < 5; j++) {
        rreq_t r;
        const char *a, *b;
        int n = (int)(rnd(&x) % MAXH), i;
        memset(&r, 0, sizeof(r));
        r.target = apr_pstrcat(p, "/", value(p, &x, 12), NULL);
        for (i = 0; i < n; i++) {
            r.names[i] = hdr[rnd(&x) % (sizeof(hdr) / sizeof(hdr[0]))];
            r.values[i] = value(p, &x, (j & 7) ? 10 : 80);
        }
        a = fired(p, on, son, &r);
        b = fired(p, off, soff, &r);
        fires += *a != '\0';
        if (strcmp(a, b) && bad++ < 5) {
            fprintf(stderr, "  split:%s\n  whole:%s\n  target \"%s\"\n", a, b, r.target);
            for (i = 0; i < n; i++) fprintf(stderr, "    %s: \"%s\"\n", r.names[i], r.values[i]);
        }
    }
    CHECK_INT(bad, 0);
    CHECK(fires > 300);                         /* the keywords do fire */
    iw_scratch_destroy(son);
    iw_scratch_destroy(soff);
}

TEST(engine_raw_split_boundaries)
{
    iw_engine_t *on = compile_with(p, 1);
    iw_scratch_t *s;
    const char *f;

    REQUIRE(on);
    s = iw_scratch_create(on);
    /* across the space after the target, and into the status */
    f = fired(p, on, s, &(rreq_t){ "/x1", { "Host" }, { "h" } });
    CHECK(strstr(f, "r3") != NULL);             /* "1 h" of "/x1 HTTP/1.1" */
    f = fired(p, on, s, &(rreq_t){ "/ab", { "Host" }, { "h" } });
    CHECK(strstr(f, "r6") != NULL);             /* "/ab" inside the target */
    /* the status line's end: "HTTP/1.1 200" */
    CHECK(strstr(f, "r4") != NULL && strstr(f, "r9") != NULL);
    /* a header's name and value: "X-B: " */
    f = fired(p, on, s, &(rreq_t){ "/", { "X-B" }, { "v" } });
    CHECK(strstr(f, "r5") != NULL);
    /* a wildcard keyword from the request line into a header */
    f = fired(p, on, s, &(rreq_t){ "/abq", { "Host" }, { "c" } });
    CHECK(strstr(f, "r10") != NULL);
    f = fired(p, on, s, &(rreq_t){ "/abq", { "Host" }, { "h" } });
    CHECK(strstr(f, "r10") == NULL);
    iw_scratch_destroy(s);
}
