/* SPDX-License-Identifier: Apache-2.0 */
/* The per-parameter views: the splitter (iw_param_split), the event's
 * multi-valued fields, and every matcher kind on them (a condition holds
 * when any value satisfies it; not = no value does). */
#include <stdlib.h>
#include "iw_test.h"
#include "iw_param.h"
#include "iw_event.h"
#include "iw_decode.h"
#include "engine_util.h"

/* The list as text with '|' for the NUL separators ("(absent)" when p is
 * NULL), for comparisons. */
static const char *L(apr_pool_t *p, iw_str_t v)
{
    char *s;
    size_t i;
    if (!v.p) return "(absent)";
    s = apr_pstrmemdup(p, v.p, v.len);
    for (i = 0; i < v.len; i++) if (!s[i]) s[i] = '|';
    return s;
}

static iw_param_views_t split(apr_pool_t *p, const char *in, iw_param_syntax_t syn)
{
    iw_param_views_t v;
    size_t len = strlen(in), room = IW_PARAM_ROOM(len) * (syn == IW_PARAM_JSON ? 2 : 1);
    char *out = apr_palloc(p, room);
    size_t used = iw_param_split(in, len, syn, out, room, &v);
    if (used > room) v.n = 99999;        /* never: checked by the callers' CHECKs */
    return v;
}

#define CHECK_VIEWS(in, syn, nm, va, pa) do {                                 \
        iw_param_views_t v_ = split(p, in, syn);                             \
        CHECK_STR(L(p, v_.names), nm);                                       \
        CHECK_STR(L(p, v_.values), va);                                      \
        CHECK_STR(L(p, v_.pairs), pa);                                       \
        CHECK_INT(v_.dropped, 0);                                            \
    } while (0)

TEST(param_split_query)
{
    CHECK_VIEWS("a=1&a=2", IW_PARAM_QUERY, "a|a", "1|2", "a=1|a=2");
    CHECK_VIEWS("=1&b", IW_PARAM_QUERY, "|b", "1|", "=1|b");        /* empty name; no '=' */
    CHECK_VIEWS("a=", IW_PARAM_QUERY, "a", "", "a=");               /* one empty value */
    CHECK_VIEWS("&&a=1&&b=2&", IW_PARAM_QUERY, "a|b", "1|2", "a=1|b=2");   /* empty pieces */
    CHECK_VIEWS("a=1;b=2", IW_PARAM_QUERY, "a", "1;b=2", "a=1;b=2");       /* ';' is data */
    CHECK_VIEWS("q=a+b%2Bc", IW_PARAM_QUERY, "q", "a b+c", "q=a b+c");     /* '+' space, %2B '+' */
    CHECK_VIEWS("x=%zz%4&y=%", IW_PARAM_QUERY, "x|y", "%zz%4|%", "x=%zz%4|y=%");  /* kept */
    CHECK_VIEWS("a%3Db=c", IW_PARAM_QUERY, "a=b", "c", "a=b=c");          /* split at the raw '=' */
    CHECK_VIEWS("f=..%252f..%c0%afetc", IW_PARAM_QUERY, "f", "../../etc", "f=../../etc");
    CHECK_VIEWS("n%00ame=v%00al", IW_PARAM_QUERY, "name", "val", "name=val");   /* NULs dropped */
    CHECK_VIEWS("id=%27%20or%201=1", IW_PARAM_QUERY, "id", "' or 1=1", "id=' or 1=1");
    CHECK_INT(split(p, "", IW_PARAM_QUERY).n, 0);
    CHECK_STR(L(p, split(p, "&&", IW_PARAM_QUERY).values), "(absent)");
    CHECK_INT(iw_param_count("&&a&b=&", 7, IW_PARAM_QUERY), 2);
}

TEST(param_split_cookie)
{
    CHECK_VIEWS("sid=1; user=\"admin x\";  theme = dark ;;", IW_PARAM_COOKIE,
                "sid|user|theme", "1|admin x|dark", "sid=1|user=admin x|theme=dark");
    CHECK_VIEWS("t=a+b%2Bc%27", IW_PARAM_COOKIE, "t", "a+b+c'", "t=a+b+c'");   /* '+' kept */
    CHECK_VIEWS("flag; a=\"\"", IW_PARAM_COOKIE, "flag|a", "|", "flag|a=");
    CHECK_VIEWS("x=1;  flag  ", IW_PARAM_COOKIE, "x|flag", "1|", "x=1|flag");  /* fuzz_logfmt found it */
    CHECK_VIEWS("q=\"unbalanced", IW_PARAM_COOKIE, "q", "\"unbalanced", "q=\"unbalanced");
    CHECK_VIEWS("a=1&b=2", IW_PARAM_COOKIE, "a", "1&b=2", "a=1&b=2");   /* '&' is data */
    CHECK_INT(iw_param_count(" ; a=1;  ;b", 11, IW_PARAM_COOKIE), 2);
}

TEST(param_split_json)
{
    CHECK_VIEWS("{\"user\":\"bob\",\"n\":12,\"ok\":true,\"x\":null}", IW_PARAM_JSON,
                "user|n|ok|x", "bob|12|true|null", "user=bob|n=12|ok=true|x=null");
    CHECK_VIEWS("{\"a\":{\"b\":[\"1\",\"2\"]},\"c\":[]}", IW_PARAM_JSON, "b|b", "1|2", "b=1|b=2");
    CHECK_VIEWS("{\"q\\u0027\":\"\\u0027 or \\\"1\\u0000\\ud83d\\ude00\"}", IW_PARAM_JSON,
                "q'", "' or \"1\xf0\x9f\x98\x80", "q'=' or \"1\xf0\x9f\x98\x80");
    CHECK_VIEWS("[\"top\"]", IW_PARAM_JSON, "", "top", "=top");
    /* malformed: what came before the error is kept */
    CHECK_VIEWS("{\"a\":\"1\",\"b\":", IW_PARAM_JSON, "a", "1", "a=1");
    CHECK_INT(iw_param_count("{\"a\":[1,2,3]}", 13, IW_PARAM_JSON), 3);
}

/* Thousands of parameters: the first IW_PARAMS_MAX are kept, the rest
 * counted, never split half. */
TEST(param_split_limit)
{
    size_t n = 3000, i, len;
    char *q = malloc(n * 6 + 1), *o;
    iw_param_views_t v;
    size_t room;

    REQUIRE(q);
    for (i = 0, len = 0; i < n; i++) len += (size_t)sprintf(q + len, "a%u=1&", (unsigned)(i % 10));
    room = IW_PARAM_ROOM(len);
    o = malloc(room);
    REQUIRE(o);
    CHECK(iw_param_split(q, len, IW_PARAM_QUERY, o, room, &v) <= room);
    CHECK_INT(v.n, IW_PARAMS_MAX);
    CHECK_INT(v.dropped, n - IW_PARAMS_MAX);
    CHECK_INT(iw_param_count(q, len, IW_PARAM_QUERY), n);
    CHECK_INT(v.values.len, 2 * IW_PARAMS_MAX - 1);
    /* too little room: a prefix of whole parameters, the rest counted */
    CHECK(iw_param_split(q, len, IW_PARAM_QUERY, o, 60, &v) <= 60);
    CHECK(v.n > 0 && v.n < 10);
    CHECK_INT(v.n + v.dropped, n);
    CHECK_INT(v.values.len, 2 * v.n - 1);
    CHECK_INT(iw_param_split(q, len, IW_PARAM_QUERY, o, 2, &v), 0);
    CHECK_INT(v.dropped, n);
    free(o);
    free(q);
}

/* ---- the event's fields ---------------------------------------------------- */

typedef struct preq {
    const char *method, *target, *cookie, *ctype, *body;
} preq_t;

static iw_event_t *pevent(apr_pool_t *p, const preq_t *r, size_t bufsize)
{
    static iw_str_t names[4], values[4];
    iw_request_desc_t *d = apr_pcalloc(p, sizeof(*d));
    iw_event_t *ev = apr_pcalloc(p, sizeof(*ev));
    int n = 0;
#define S(x) ((iw_str_t){ (x), (x) ? strlen(x) : 0 })
    d->method = S(r->method ? r->method : "GET");
    d->target = S(r->target ? r->target : "/");
    d->version = S("HTTP/1.1");
    if (r->cookie) { names[n] = S("Cookie"); values[n++] = S(r->cookie); }
    if (r->ctype) { names[n] = S("Content-Type"); values[n++] = S(r->ctype); }
    d->hdr_names = names;
    d->hdr_values = values;
    d->nhdrs = n;
    d->status = 200;
    d->sc_bytes = d->cs_bytes = d->time_taken_ms = -1;
    d->client_ip = S("192.0.2.1");
    if (r->body) d->body = S(r->body);
#undef S
    iw_event_init(ev, apr_palloc(p, bufsize), bufsize);
    iw_event_from_request(ev, d);
    return ev;
}

TEST(param_event_fields)
{
    iw_event_t *ev = pevent(p, &(preq_t){ .target = "/x?a=1&b=%27x&a=3", .cookie = "s=1; t=\"q r\"",
                                          .ctype = "application/x-www-form-urlencoded; charset=utf-8",
                                          .body = "u=me&p=a+b" }, 65536);
    int64_t n;

    CHECK_STR(L(p, iw_event_get(ev, IW_F_QP_VALUE)), "1|'x|3");
    CHECK_STR(L(p, iw_event_get(ev, IW_F_QP_NAME)), "a|b|a");
    CHECK_STR(L(p, iw_event_get(ev, IW_F_QP)), "a=1|b='x|a=3");
    CHECK_STR(L(p, iw_event_get(ev, IW_F_CP)), "s=1|t=q r");
    CHECK_STR(L(p, iw_event_get(ev, IW_F_BP_VALUE)), "me|a b");
    CHECK_STR(L(p, iw_event_get(ev, IW_F_BP_NAME)), "u|p");
    CHECK_STR(L(p, iw_event_get(ev, IW_F_PARAMS_DROPPED)), "(absent)");
    CHECK(!iw_event_num(ev, IW_F_PARAMS_DROPPED, &n));
    CHECK(iw_field_is_multi(IW_F_QP) && iw_field_is_multi(IW_F_BP_VALUE));
    CHECK(!iw_field_is_multi(IW_F_CS_URI_QUERY) && !iw_field_is_multi(IW_F_PARAMS_DROPPED));
    CHECK_INT(iw_field_lookup("CS-URI-Query-Param-Value"), IW_F_QP_VALUE);
    CHECK_INT(iw_field_lookup("iw-params-dropped"), IW_F_PARAMS_DROPPED);

    /* no query / an empty one / no cookie: absent */
    ev = pevent(p, &(preq_t){ .target = "/x?" }, 65536);
    CHECK_STR(L(p, iw_event_get(ev, IW_F_QP_VALUE)), "(absent)");
    CHECK_STR(L(p, iw_event_get(ev, IW_F_CP_VALUE)), "(absent)");
    CHECK_STR(L(p, iw_event_get(ev, IW_F_BP_VALUE)), "(absent)");

    /* a JSON body by its type */
    ev = pevent(p, &(preq_t){ .method = "POST", .ctype = "application/vnd.api+json",
                              .body = "{\"id\":\"1' or '1\"}" }, 65536);
    CHECK_STR(L(p, iw_event_get(ev, IW_F_BP)), "id=1' or '1");

    /* over the limit: counted, whether read before or after the views */
    {
        size_t k, len = 0;
        char *q = apr_palloc(p, 2 + 4 * 1100 + 1);
        iw_event_t *ev2;
        len += (size_t)sprintf(q, "/?");
        for (k = 0; k < 1100; k++) len += (size_t)sprintf(q + len, "a=%u&", (unsigned)(k % 10));
        ev = pevent(p, &(preq_t){ .target = q, .cookie = "a=1" }, 1 << 20);
        CHECK(iw_event_num(ev, IW_F_PARAMS_DROPPED, &n));
        CHECK_INT(n, 1100 - IW_PARAMS_MAX);
        CHECK_STR(L(p, iw_event_get(ev, IW_F_PARAMS_DROPPED)), "76");
        ev2 = pevent(p, &(preq_t){ .target = q }, 1 << 20);
        (void)iw_event_get(ev2, IW_F_QP_VALUE);
        CHECK(iw_event_num(ev2, IW_F_PARAMS_DROPPED, &n));
        CHECK_INT(n, 1100 - IW_PARAMS_MAX);
    }
}

/* An owned buffer grows for the views: nothing dropped for room. */
TEST(param_event_owned)
{
    iw_event_t ev;
    iw_request_desc_t d;
    static iw_str_t nm[1] = { { "Cookie", 6 } }, va[1];
    size_t k, len = 0;
    char *c = malloc(900 * 12);
    int64_t n;

    REQUIRE(c && iw_event_init_owned(&ev, 1 << 20) == 0);
    for (k = 0; k < 900; k++) len += (size_t)sprintf(c + len, "c%03u=vvvv; ", (unsigned)k);
    va[0] = (iw_str_t){ c, len };
    memset(&d, 0, sizeof(d));
    d.method = (iw_str_t){ "GET", 3 };
    d.target = (iw_str_t){ "/", 1 };
    d.hdr_names = nm; d.hdr_values = va; d.nhdrs = 1;
    d.sc_bytes = d.cs_bytes = d.time_taken_ms = -1;
    iw_event_from_request(&ev, &d);
    (void)iw_event_get(&ev, IW_F_CS_HEADERS_DEC);
    (void)iw_event_get(&ev, IW_F_RAW);
    CHECK_INT(iw_event_get(&ev, IW_F_CP_VALUE).len, 900 * 5 - 1);
    CHECK(!iw_event_num(&ev, IW_F_PARAMS_DROPPED, &n));
    iw_event_release(&ev);
    free(c);
}

/* The query's views cut out of its decoded view (iw_param_split_decoded,
 * and the event's: after cs-uri-query-decoded, one piece without a copy)
 * are those of the split: random queries over the bytes that matter
 * (separators, escapes of them, nested escapes, '+', overlong forms, NUL),
 * and the fixed cases above. */
static int same_list(iw_str_t a, iw_str_t b)
{
    return !a.p == !b.p && a.len == b.len && (!a.len || !memcmp(a.p, b.p, a.len));
}

static int query_views_same(const char *q, size_t len, int *cut)
{
    static char dec[512], o1[IW_PARAM_ROOM(300)], o2[IW_PARAM_ROOM(300)];
    static char tgt[320], b1[1 << 16];
    static const iw_field_id_t f[3] = { IW_F_QP, IW_F_QP_NAME, IW_F_QP_VALUE };
    iw_param_views_t a, b;
    iw_request_desc_t d;
    iw_event_t e1, e2;
    size_t dl = iw_decode_full(q, len, dec, IW_DECODE_PLUS), n;
    int ok = 1, k;

    (void)iw_param_split(q, len, IW_PARAM_QUERY, o1, sizeof(o1), &a);
    n = iw_param_split_decoded(q, len, dec, dl, o2, sizeof(o2), &b);
    if (n != (size_t)-1) {
        (*cut)++;
        ok = a.n == b.n && a.dropped == b.dropped && same_list(a.names, b.names)
             && same_list(a.values, b.values) && same_list(a.pairs, b.pairs);
    } else if (iw_decode_plain_len(q, len, 0) == len) {
        ok = 0;                        /* nothing to decode but '+': always cut */
    }
    /* the event: query-decoded first (cut) against a split of its own */
    tgt[0] = '/'; tgt[1] = '?';
    memcpy(tgt + 2, q, len);
    memset(&d, 0, sizeof(d));
    d.method = (iw_str_t){ "GET", 3 };
    d.target = (iw_str_t){ tgt, len + 2 };
    d.sc_bytes = d.cs_bytes = d.time_taken_ms = -1;
    if (iw_event_init_owned(&e1, 1 << 20)) return 0;
    iw_event_init(&e2, b1, sizeof(b1));
    iw_event_from_request(&e1, &d);
    iw_event_from_request(&e2, &d);
    (void)iw_event_get(&e1, IW_F_CS_URI_QUERY_DEC);
    for (k = 0; k < 3; k++) ok &= same_list(iw_event_get(&e1, f[k]), iw_event_get(&e2, f[k]));
    iw_event_release(&e1);
    return ok;
}

TEST(param_split_decoded_same)
{
    static const char *const alpha[] = { "&", "=", "%26", "%3D", "%3d", "%2526", "%253D", "%25",
        "%", "2", "6", "+", "%2B", "a", "%41", "%u0026", "%c0%a6", "%00", "\xc0", "\xa6", "u" };
    static const char *const fixed[] = { "a=1&a=2", "=1&b", "a=", "&&a=1&&b=2&", "a=1;b=2",
        "q=a+b%2Bc", "x=%zz%4&y=%", "a%3Db=c", "f=..%252f..%c0%afetc", "n%00ame=v%00al",
        "id=%27%20or%201=1", "a=%26&", "%00", "&%00&", "=", "a%3D&b%26=c" };
    char q[300];
    unsigned seed = 777;
    size_t i, n, k;
    int bad = 0, cut = 0;

    for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (!query_views_same(fixed[i], strlen(fixed[i]), &cut) && bad++ < 5)
            fprintf(stderr, "  differ on \"%s\"\n", fixed[i]);
    for (i = 0; i < 20000; i++) {
        size_t m = 1 + ((seed = seed * 1103515245u + 12345u) >> 16) % 24;
        for (n = k = 0; k < m; k++) {
            const char *a = alpha[((seed = seed * 1103515245u + 12345u) >> 16) % (sizeof(alpha) / sizeof(alpha[0]))];
            size_t al = strlen(a);
            if (n + al > 200) break;
            memcpy(q + n, a, al);
            n += al;
        }
        if (!query_views_same(q, n, &cut) && bad++ < 5) fprintf(stderr, "  differ on \"%.*s\"\n", (int)n, q);
    }
    CHECK_INT(bad, 0);
    CHECK(cut > 2000);                 /* many are cut out of the decoded view */
}

/* ---- matchers on multi-valued fields ------------------------------------------ */

#define QP(det, tgt, want) CHECK_INT(eu_one(p, det, &(treq_t){ .target = tgt }), want)

TEST(param_match_kinds)
{
    /* exact, contains, startswith, endswith: some value */
    QP("    s:\n        cs-uri-query-param-value: 'abc'\n    condition: s", "/?x=1&y=ABC", 1);
    QP("    s:\n        cs-uri-query-param-value: 'abc'\n    condition: s", "/?x=abcd", 0);
    QP("    s:\n        cs-uri-query-param-value|cased: 'abc'\n    condition: s", "/?y=ABC", 0);
    QP("    s:\n        cs-uri-query-param-value|contains: 'etc/pa'\n    condition: s",
       "/?a=1&f=..%2f..%2fetc%2fpasswd", 1);
    /* startswith anchors at each value, not at the query */
    QP("    s:\n        cs-uri-query-param-value|startswith: \"'\"\n    condition: s", "/?a=1&id=%27x", 1);
    QP("    s:\n        cs-uri-query-param-value|startswith: \"'\"\n    condition: s", "/?a=1&id=x%27", 0);
    QP("    s:\n        cs-uri-query-param-value|endswith: '.txt'\n    condition: s", "/?u=a.txt&v=2", 1);
    QP("    s:\n        cs-uri-query-param-value|endswith: '.txt'\n    condition: s", "/?u=a.txt2&v=x", 0);
    /* a value never spans two parameters */
    QP("    s:\n        cs-uri-query-param-value|contains: '1&b'\n    condition: s", "/?a=1&b=2", 0);
    QP("    s:\n        cs-uri-query-param|contains: 'a=1'\n    condition: s", "/?a=1&b=2", 1);
    QP("    s:\n        cs-uri-query-param: 'b=2'\n    condition: s", "/?a=1&b=2", 1);
    QP("    s:\n        cs-uri-query-param-name: 'b'\n    condition: s", "/?a=1&b=2", 1);
    QP("    s:\n        cs-uri-query-param-name: 'c'\n    condition: s", "/?a=1&b=2", 0);
    /* wildcards: inner '*' and '?' stay inside one value */
    QP("    s:\n        cs-uri-query-param-value: 'http*://*'\n    condition: s", "/?p=https%3A%2F%2Fx", 1);
    QP("    s:\n        cs-uri-query-param-value: 'http*://*'\n    condition: s", "/?p=http&q=://x", 0);
    QP("    s:\n        cs-uri-query-param-value: 'a?c'\n    condition: s", "/?p=1&q=abc", 1);
    /* regexes: ^ and $ are the value's */
    QP("    s:\n        cs-uri-query-param-value|re: '^(?:https?|ftp)://'\n    condition: s",
       "/?a=1&page=http%3A//evil/x", 1);
    QP("    s:\n        cs-uri-query-param-value|re: '^(?:https?|ftp)://'\n    condition: s",
       "/?page=/go?u=http://evil/x", 0);
    QP("    s:\n        cs-uri-query-param-value|re: '^\\d+$'\n    condition: s", "/?a=x&b=42", 1);
    QP("    s:\n        cs-uri-query-param-value|re: '^\\d+$'\n    condition: s", "/?a=x&b=42x", 0);
    QP("    s:\n        cs-uri-query-param-value|re: '^.{20,}'\n    condition: s",
       "/?a=x&b=0123456789012345678901", 1);                     /* a long-value check */
    QP("    s:\n        cs-uri-query-param-value|re: '^.{20,}'\n    condition: s",
       "/?a=0123456789&b=0123456789", 0);
    /* |all: each value found in some parameter (as for any field with
     * several slots: Sigma's AND of the values) */
    QP("    s:\n        cs-uri-query-param-value|contains|all: ['union', 'select']\n    condition: s",
       "/?a=union&b=select", 1);
    QP("    s:\n        cs-uri-query-param-value|contains|all: ['union', 'select']\n    condition: s",
       "/?a=union&b=x", 0);
    /* not: no value matches */
    QP("    s:\n        cs-uri-query-param-value: '1'\n    condition: not s", "/?a=2&b=1", 0);
    QP("    s:\n        cs-uri-query-param-value: '1'\n    condition: not s", "/?a=2&b=3", 1);
    QP("    s:\n        cs-uri-query-param-value: '1'\n    condition: not s", "/x", 1);
    /* null: no parameter, or an empty value; '' an empty value; exists */
    QP("    s:\n        cs-uri-query-param-value: null\n    condition: s", "/x", 1);
    QP("    s:\n        cs-uri-query-param-value: null\n    condition: s", "/x?a=1&b=", 1);
    QP("    s:\n        cs-uri-query-param-value: null\n    condition: s", "/x?a=1&b=2", 0);
    QP("    s:\n        cs-uri-query-param-value: ''\n    condition: s", "/x?a=&b=2", 1);
    QP("    s:\n        cs-uri-query-param-value: ''\n    condition: s", "/x?a=1&b=2", 0);
    QP("    s:\n        cs-uri-query-param-value: ''\n    condition: s", "/x", 0);
    QP("    s:\n        cs-uri-query-param-name|exists: true\n    condition: s", "/x?&&", 0);
    QP("    s:\n        cs-uri-query-param-name|exists: true\n    condition: s", "/x?a", 1);
    QP("    s:\n        cs-uri-query-param-name|exists: false\n    condition: s", "/x", 1);
    /* cidr: an address as some value */
    QP("    s:\n        cs-uri-query-param-value|cidr: '10.0.0.0/8'\n    condition: s",
       "/?a=x&host=10.1.2.3", 1);
    QP("    s:\n        cs-uri-query-param-value|cidr: '10.0.0.0/8'\n    condition: s",
       "/?a=x&host=11.1.2.3", 0);
    /* base64offset|contains: inside one value */
    QP("    s:\n        cs-uri-query-param-value|base64offset|contains: '/bin/sh'\n    condition: s",
       "/?a=1&c=L2Jpbi9zaA==", 1);
    /* fieldref: some value equals the other field */
    QP("    s:\n        cs-uri-query-param-value|fieldref: c-ip\n    condition: s",
       "/?a=x&ip=192.0.2.10", 1);
    QP("    s:\n        cs-uri-query-param-value|fieldref: c-ip\n    condition: s", "/?ip=192.0.2.11", 0);
    QP("    s:\n        cs-uri-query-param-name|fieldref: cs-uri-query-param-value\n    condition: s",
       "/?a=b&c=a", 1);
    /* |neq: no value equals */
    QP("    s:\n        cs-uri-query-param-name: 'a'\n        cs-uri-query-param-value|neq: 'x'\n"
       "    condition: s", "/?a=y", 1);
    QP("    s:\n        cs-uri-query-param-name: 'a'\n        cs-uri-query-param-value|neq: 'x'\n"
       "    condition: s", "/?a=y&b=x", 0);
    /* keywords match _raw (the raw request line), not the parameters */
    QP("    keywords:\n        - 'b=%27'\n    condition: keywords", "/?a=1&b=%27", 1);
    QP("    keywords:\n        - \"b='\"\n    condition: keywords", "/?a=1&b=%27", 0);
    /* cookies */
    CHECK_INT(eu_one(p, "    s:\n        cs-cookie-param: 'user=admin x'\n    condition: s",
                     &(treq_t){ .cookie = "sid=1; user=\"admin x\"" }), 1);
    CHECK_INT(eu_one(p, "    s:\n        cs-cookie-param-value|startswith: \"'\"\n    condition: s",
                     &(treq_t){ .cookie = "sid=1; pref=%27 or 1=1" }), 1);
    CHECK_INT(eu_one(p, "    s:\n        cs-cookie-param-value|startswith: \"'\"\n    condition: s",
                     &(treq_t){ .cookie = "sid=1; pref=x%27" }), 0);
}

TEST(param_match_expand)
{
    apr_hash_t *ph = apr_hash_make(p);
    apr_array_header_t *vals = apr_array_make(p, 2, sizeof(const char *));
    iw_diag_t *dg;
    iw_engine_t *e;
    iw_scratch_t *s;
    const iw_hit_t *hits;
    int n;

    APR_ARRAY_PUSH(vals, const char *) = "passwd";
    APR_ARRAY_PUSH(vals, const char *) = "shadow";
    apr_hash_set(ph, "files", APR_HASH_KEY_STRING, vals);
    e = eu_compile(p, eu_rule(p, "r1", "    s:\n        cs-uri-query-param-value|endswith|expand: "
                                       "'/etc/%files%'\n    condition: s"), &dg, ph);
    REQUIRE(e);
    s = iw_scratch_create(e);
    n = eu_eval(p, e, s, &(treq_t){ .target = "/?a=1&f=%2Fetc%2Fshadow" }, &hits);
    CHECK(eu_fired(hits, n, "r1"));
    CHECK_INT(hits[0].nmatches, 1);
    CHECK_STR(apr_pstrmemdup(p, hits[0].matches[0].value.p, hits[0].matches[0].value.len),
              "/etc/shadow");                      /* the value, not the list */
    n = eu_eval(p, e, s, &(treq_t){ .target = "/?f=%2Fetc%2Fshadow.bak" }, &hits);
    CHECK(!eu_fired(hits, n, "r1"));
    iw_scratch_destroy(s);
}

/* The same values through the scan cache and the event cache give the
 * same hits and the same evidence every time. */
TEST(param_match_cached)
{
    iw_diag_t *dg;
    iw_engine_t *e = eu_compile(p, eu_rule(p, "r1", "    s:\n        cs-uri-query-param-value|re: "
                                           "'^(?:https?|ftp)://'\n    condition: s"), &dg, NULL);
    iw_scratch_t *s;
    const iw_hit_t *hits;
    int i, n;

    REQUIRE(e);
    s = iw_scratch_create(e);
    for (i = 0; i < 6; i++) {
        n = eu_eval(p, e, s, &(treq_t){ .target = i & 1 ? "/?a=1&u=ftp://h/x" : "/?a=1&u=/ftp://h" },
                    &hits);
        CHECK_INT(n, i & 1);
        if (n) CHECK_STR(apr_pstrmemdup(p, hits[0].matches[0].value.p, hits[0].matches[0].value.len),
                         "ftp://h/x");
    }
    iw_scratch_destroy(s);
}
