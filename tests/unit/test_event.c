/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of iw_event: field names/aliases/slots, the request and error
 * builders, every lazy view and work-buffer truncation. */
#include <stdlib.h>
#include "iw_test.h"
#include "iw_event.h"
#include "iw_decode.h"

#define S(lit) ((iw_str_t){ (lit), sizeof(lit) - 1 })

/* NUL-terminated copy of a field value for CHECK_STR (static ring). */
static const char *fv(iw_event_t *ev, iw_field_id_t f)
{
    static char ring[4][8192];
    static int k;
    iw_str_t s = iw_event_get(ev, f);
    char *o = ring[k++ & 3];

    if (!s.p) return NULL;
    if (s.len >= sizeof(ring[0])) s.len = sizeof(ring[0]) - 1;
    memcpy(o, s.p, s.len);
    o[s.len] = '\0';
    return o;
}

static void desc_init(iw_request_desc_t *d, const char *method,
                      const char *target)
{
    memset(d, 0, sizeof(*d));
    d->method = (iw_str_t){ method, strlen(method) };
    d->target = (iw_str_t){ target, strlen(target) };
    d->version = S("HTTP/1.1");
    d->sc_bytes = d->cs_bytes = d->time_taken_ms = -1;
}

/* Event over a plain GET of `target` (no headers). */
static void ev_target(iw_event_t *ev, char *buf, size_t n, const char *target)
{
    iw_request_desc_t d;

    desc_init(&d, "GET", target);
    iw_event_init(ev, buf, n);
    iw_event_from_request(ev, &d);
}

TEST(event_field_lookup)
{
    int f;

    for (f = 0; f < IW_F__COUNT; f++)
        CHECK_INT(iw_field_lookup(iw_field_name((iw_field_id_t)f)), f);
    CHECK_INT(iw_field_lookup("cs-uri-query"), IW_F_CS_URI_QUERY);
    CHECK_INT(iw_field_lookup("CS-URI-Query"), IW_F_CS_URI_QUERY);
    CHECK_INT(iw_field_lookup("c-uri"), IW_F_CS_URI);
    CHECK_INT(iw_field_lookup("c-useragent"), IW_F_CS_USER_AGENT);
    CHECK_INT(iw_field_lookup("user-agent"), IW_F_CS_USER_AGENT);
    CHECK_INT(iw_field_lookup("useragent"), IW_F_CS_USER_AGENT);
    CHECK_INT(iw_field_lookup("cs(User-Agent)"), IW_F_CS_USER_AGENT);
    CHECK_INT(iw_field_lookup("clientip"), IW_F_C_IP);
    CHECK_INT(iw_field_lookup("client_ip"), IW_F_C_IP);
    CHECK_INT(iw_field_lookup("src_ip"), IW_F_C_IP);
    CHECK_INT(iw_field_lookup("cs-referrer"), IW_F_CS_REFERER);
    CHECK_INT(iw_field_lookup("_raw"), IW_F_RAW);
    CHECK_INT(iw_field_lookup("cs-uri-stem-decoded"), IW_F_CS_URI_STEM_DEC);
    CHECK_INT(iw_field_lookup("url"), -1);
    CHECK_INT(iw_field_lookup("nope"), -1);
    CHECK_INT(iw_field_lookup(""), -1);
    CHECK_INT(iw_field_lookup(NULL), -1);
    CHECK_STR(iw_field_name(IW_F_CS_USER_AGENT), "cs-user-agent");
    CHECK_STR(iw_field_name(IW_F_AH_CODE), "ah-code");
}

TEST(event_field_numeric_slots)
{
    iw_field_id_t sl[4];

    CHECK(iw_field_is_numeric(IW_F_SC_STATUS));
    CHECK(iw_field_is_numeric(IW_F_SC_BYTES));
    CHECK(iw_field_is_numeric(IW_F_CS_BYTES));
    CHECK(iw_field_is_numeric(IW_F_TIME_TAKEN));
    CHECK(iw_field_is_numeric(IW_F_S_PORT));
    CHECK(iw_field_is_numeric(IW_F_PID));
    CHECK(!iw_field_is_numeric(IW_F_CS_URI));
    CHECK(!iw_field_is_numeric(IW_F_AH_CODE));

    CHECK_INT(iw_field_slots(IW_F_CS_URI_QUERY, sl, 4), 3);
    CHECK_INT(sl[0], IW_F_CS_URI_QUERY);
    CHECK_INT(sl[1], IW_F_CS_URI_STEM);
    CHECK_INT(sl[2], IW_F_CS_URI);
    CHECK_INT(iw_field_slots(IW_F_CS_URI_STEM, sl, 4), 3);
    CHECK_INT(sl[0], IW_F_CS_URI_STEM);
    CHECK_INT(sl[1], IW_F_CS_URI_QUERY);
    CHECK_INT(sl[2], IW_F_CS_URI);
    CHECK_INT(iw_field_slots(IW_F_CS_URI_STEM, sl, 2), 2);
    CHECK_INT(iw_field_slots(IW_F_CS_USER_AGENT, sl, 4), 1);
    CHECK_INT(sl[0], IW_F_CS_USER_AGENT);
    CHECK_INT(iw_field_slots(IW_F_CS_URI_STEM_DEC, sl, 4), 1);
    CHECK_INT(iw_field_slots(IW_F_CS_URI, sl, 0), 0);
}

TEST(event_from_request)
{
    static const iw_str_t hn[] = { {"host", 4}, {"USER-AGENT", 10},
        {"Referer", 7}, {"Cookie", 6}, {"content-type", 12}, {"X-A", 3} };
    static const iw_str_t hv[] = { {"example.org", 11}, {"curl/8.0", 8},
        {"http://r/", 9}, {"a=b", 3}, {"text/plain", 10}, {"1", 1} };
    iw_request_desc_t d;
    iw_event_t ev;
    char buf[4096];
    int64_t n;

    desc_init(&d, "POST", "/a/b.php?x=1&y=%27");
    d.hdr_names = hn; d.hdr_values = hv; d.nhdrs = 6;
    d.status = 404; d.sc_bytes = 0; d.cs_bytes = 1234; d.time_taken_ms = 7;
    d.client_ip = S("10.1.2.3"); d.server_ip = S("127.0.0.1");
    d.server_port = 8080; d.sitename = S("www"); d.username = S("bob");
    d.request_id = S("rid1");
    d.time = apr_time_from_sec(971185236);   /* 2000-10-10 13:40:36 UTC */
    iw_event_init(&ev, buf, sizeof(buf));
    iw_event_from_request(&ev, &d);

    CHECK_INT(ev.type, IW_EV_ACCESS);
    CHECK_STR(fv(&ev, IW_F_CS_METHOD), "POST");
    CHECK_STR(fv(&ev, IW_F_CS_URI), "/a/b.php?x=1&y=%27");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM), "/a/b.php");
    CHECK_STR(fv(&ev, IW_F_CS_URI_QUERY), "x=1&y=%27");
    CHECK_STR(fv(&ev, IW_F_CS_VERSION), "HTTP/1.1");
    CHECK_STR(fv(&ev, IW_F_CS_HOST), "example.org");
    CHECK_STR(fv(&ev, IW_F_CS_USER_AGENT), "curl/8.0");
    CHECK_STR(fv(&ev, IW_F_CS_REFERER), "http://r/");
    CHECK_STR(fv(&ev, IW_F_CS_COOKIE), "a=b");
    CHECK_STR(fv(&ev, IW_F_CS_CONTENT_TYPE), "text/plain");
    CHECK_STR(fv(&ev, IW_F_C_IP), "10.1.2.3");
    CHECK_STR(fv(&ev, IW_F_S_IP), "127.0.0.1");
    CHECK_STR(fv(&ev, IW_F_S_PORT), "8080");
    CHECK_STR(fv(&ev, IW_F_S_SITENAME), "www");
    CHECK_STR(fv(&ev, IW_F_CS_USERNAME), "bob");
    CHECK_STR(fv(&ev, IW_F_REQUEST_ID), "rid1");
    CHECK_STR(fv(&ev, IW_F_SC_STATUS), "404");
    CHECK_STR(fv(&ev, IW_F_SC_BYTES), "0");
    CHECK_STR(fv(&ev, IW_F_CS_BYTES), "1234");
    CHECK_STR(fv(&ev, IW_F_TIME_TAKEN), "7");
    CHECK_STR(fv(&ev, IW_F_DATE), "2000-10-10");
    CHECK_STR(fv(&ev, IW_F_TIME), "13:40:36");
    CHECK(iw_event_num(&ev, IW_F_SC_STATUS, &n) && n == 404);
    CHECK(iw_event_num(&ev, IW_F_S_PORT, &n) && n == 8080);
    CHECK(iw_event_num(&ev, IW_F_CS_BYTES, &n) && n == 1234);
    CHECK(!iw_event_num(&ev, IW_F_PID, &n));
    CHECK(!iw_event_num(&ev, IW_F_CS_URI, &n));
    CHECK_STR(fv(&ev, IW_F_CS_HEADERS), "host: example.org\nUSER-AGENT: curl/8.0\n"
              "Referer: http://r/\nCookie: a=b\ncontent-type: text/plain\nX-A: 1\n");
    CHECK_STR(fv(&ev, IW_F_RAW), "POST /a/b.php?x=1&y=%27 HTTP/1.1 404\n"
              "host: example.org\nUSER-AGENT: curl/8.0\n"
              "Referer: http://r/\nCookie: a=b\ncontent-type: text/plain\nX-A: 1\n");
    /* error-only fields absent */
    CHECK(iw_event_get(&ev, IW_F_MESSAGE).p == NULL);
    CHECK(iw_event_get(&ev, IW_F_PID).p == NULL);
    CHECK(ev.buf_used <= sizeof(buf));
}

TEST(event_absent_fields)
{
    iw_event_t ev;
    char buf[512];

    ev_target(&ev, buf, sizeof(buf), "/index.html");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM), "/index.html");
    CHECK(iw_event_get(&ev, IW_F_CS_URI_QUERY).p == NULL);   /* no '?' */
    CHECK(iw_event_get(&ev, IW_F_CS_URI_QUERY_DEC).p == NULL);
    CHECK(iw_event_get(&ev, IW_F_CS_USER_AGENT).p == NULL);
    CHECK(iw_event_get(&ev, IW_F_CS_HOST).p == NULL);
    CHECK(iw_event_get(&ev, IW_F_SC_STATUS).p == NULL);
    CHECK(iw_event_get(&ev, IW_F_SC_BYTES).p == NULL);
    CHECK(iw_event_get(&ev, IW_F_DATE).p == NULL);           /* time 0 */
    CHECK(iw_event_get(&ev, IW_F_CS_HEADERS).p == NULL);
    CHECK_STR(fv(&ev, IW_F_RAW), "GET /index.html HTTP/1.1\n");
    CHECK_STR(fv(&ev, IW_F_CS_URI_DEC), "/index.html");

    ev_target(&ev, buf, sizeof(buf), "/search?");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM), "/search");
    CHECK_STR(fv(&ev, IW_F_CS_URI_QUERY), "");               /* present, empty */
    CHECK_STR(fv(&ev, IW_F_CS_URI_DEC), "/search?");
}

TEST(event_target_forms)
{
    iw_request_desc_t d;
    iw_event_t ev;
    char buf[1024];

    ev_target(&ev, buf, sizeof(buf), "http://evil.example:8080/a/../b?q=%41");
    CHECK_STR(fv(&ev, IW_F_CS_URI), "http://evil.example:8080/a/../b?q=%41");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM), "/a/../b");
    CHECK_STR(fv(&ev, IW_F_CS_URI_QUERY), "q=%41");
    CHECK_STR(fv(&ev, IW_F_CS_HOST), "evil.example:8080");   /* no Host header */
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM_DEC), "/b");
    CHECK_STR(fv(&ev, IW_F_CS_URI_DEC), "http://evil.example:8080/b?q=A");

    ev_target(&ev, buf, sizeof(buf), "http://h");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM), "/");
    CHECK(iw_event_get(&ev, IW_F_CS_URI_QUERY).p == NULL);
    CHECK_STR(fv(&ev, IW_F_CS_URI_DEC), "http://h/");
    ev_target(&ev, buf, sizeof(buf), "http://h?a=%41");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM), "/");
    CHECK_STR(fv(&ev, IW_F_CS_URI_QUERY), "a=%41");
    CHECK_STR(fv(&ev, IW_F_CS_URI_DEC), "http://h/?a=A");

    /* "://" inside a query is not a scheme */
    ev_target(&ev, buf, sizeof(buf), "a?u=http://x/y");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM), "a");
    CHECK_STR(fv(&ev, IW_F_CS_URI_QUERY), "u=http://x/y");
    CHECK(iw_event_get(&ev, IW_F_CS_HOST).p == NULL);
    ev_target(&ev, buf, sizeof(buf), "HTTPS://h/p");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM), "/p");

    ev_target(&ev, buf, sizeof(buf), "*");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM), "*");

    ev_target(&ev, buf, sizeof(buf), "");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM), "");
    CHECK_STR(fv(&ev, IW_F_CS_URI_DEC), "");

    desc_init(&d, "CONNECT", "example.com:443");
    iw_event_init(&ev, buf, sizeof(buf));
    iw_event_from_request(&ev, &d);
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM), "example.com:443");
    CHECK(iw_event_get(&ev, IW_F_CS_URI_QUERY).p == NULL);
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM_DEC), "example.com:443");
}

TEST(event_decode_once)
{
    char out[64];

    CHECK_INT(iw_decode_once("a%41%2fb", 8, out, 0), 4);
    CHECK_STR(out, "aA/b");
    CHECK_INT(iw_decode_once("a+b%2B", 6, out, 1), 4);
    CHECK_STR(out, "a b+");
    CHECK_INT(iw_decode_once("a+b", 3, out, 0), 3);
    CHECK_STR(out, "a+b");
    /* invalid / truncated escapes stay as they are */
    CHECK_INT(iw_decode_once("%zz%4", 5, out, 0), 5);
    CHECK_STR(out, "%zz%4");
    CHECK_INT(iw_decode_once("%", 1, out, 0), 1);
    CHECK_STR(out, "%");
    CHECK_INT(iw_decode_once("%252e", 5, out, 0), 3);
    CHECK_STR(out, "%2e");
    /* %uXXXX -> UTF-8; full-width ASCII folded (IIS best fit) */
    CHECK_INT(iw_decode_once("%u0041%u00e9%u20AC", 18, out, 0), 6);
    CHECK_STR(out, "A\xc3\xa9\xe2\x82\xac");
    CHECK_INT(iw_decode_once("%uff0e%uFF0F", 12, out, 0), 2);
    CHECK_STR(out, "./");
    CHECK_INT(iw_decode_once("%ud800", 6, out, 0), 3);   /* lone surrogate */
    CHECK_STR(out, "\xef\xbf\xbd");
    CHECK_INT(iw_decode_once("%u12", 4, out, 0), 4);
    CHECK_INT(iw_decode_once("", 0, out, 0), 0);
    CHECK_INT(iw_decode_once("a%00b", 5, out, 0), 3);
    CHECK(out[1] == '\0' && out[2] == 'b');
}

TEST(event_decoded_views)
{
    iw_event_t ev;
    char buf[2048];

    /* double and triple encoding */
    ev_target(&ev, buf, sizeof(buf), "/a/%252e%252e/%252e%252e/etc/passwd");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM_DEC), "/etc/passwd");
    ev_target(&ev, buf, sizeof(buf), "/x?f=%25252e%25252e%25252f");
    CHECK_STR(fv(&ev, IW_F_CS_URI_QUERY_DEC), "f=../");
    /* any depth of nesting is decoded (there is no round limit to pad past) */
    ev_target(&ev, buf, sizeof(buf), "/x?f=%2525252e");
    CHECK_STR(fv(&ev, IW_F_CS_URI_QUERY_DEC), "f=.");
    ev_target(&ev, buf, sizeof(buf), "/x?f=%25252525252525252e%2525252525252525252f");
    CHECK_STR(fv(&ev, IW_F_CS_URI_QUERY_DEC), "f=./");
    /* %u and overlong UTF-8 forms of '.', '/', '\\' */
    ev_target(&ev, buf, sizeof(buf), "/a/%u002e%u002e/%c0%ae%c0%ae%c0%afetc%e0%80%afpasswd");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM_DEC), "/etc/passwd");
    ev_target(&ev, buf, sizeof(buf), "/a/b/%c0%ae%c0%ae%c1%9cwin.ini");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM_DEC), "/a/win.ini");
    ev_target(&ev, buf, sizeof(buf), "/%f0%80%80%ae%f0%80%80%ae/x");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM_DEC), "/x");
    ev_target(&ev, buf, sizeof(buf), "/a%25c0%25ae%25c0%25ae/");   /* encoded twice */
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM_DEC), "/a../");
    /* IIS full-width dots and slashes */
    ev_target(&ev, buf, sizeof(buf), "/a/%uff0e%uff0e%uff0fb");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM_DEC), "/b");
    /* a genuine 2-byte character is left alone */
    ev_target(&ev, buf, sizeof(buf), "/caf%c3%a9");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM_DEC), "/caf\xc3\xa9");
    /* NULs removed */
    ev_target(&ev, buf, sizeof(buf), "/shell.php%00.jpg?a=%00b%2500c");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM_DEC), "/shell.php.jpg");
    CHECK_STR(fv(&ev, IW_F_CS_URI_QUERY_DEC), "a=bc");
    /* backslashes, '//', '/./', '/../' above root */
    ev_target(&ev, buf, sizeof(buf), "/..\\..%5c..%5cwindows\\\\system32//./cmd.exe");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM_DEC), "/windows/system32/cmd.exe");
    /* '+' is a space only in the query view */
    ev_target(&ev, buf, sizeof(buf), "/a+b?q=union+select%2b1");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM_DEC), "/a+b");
    CHECK_STR(fv(&ev, IW_F_CS_URI_QUERY_DEC), "q=union select+1");
    CHECK_STR(fv(&ev, IW_F_CS_URI_DEC), "/a+b?q=union select+1");
    /* the query view is not path-normalised */
    ev_target(&ev, buf, sizeof(buf), "/p?file=..%2f..%2fetc//passwd");
    CHECK_STR(fv(&ev, IW_F_CS_URI_QUERY_DEC), "file=../../etc//passwd");
    CHECK_STR(fv(&ev, IW_F_CS_URI_DEC), "/p?file=../../etc//passwd");
    /* %3F in the path does not move the stem/query boundary */
    ev_target(&ev, buf, sizeof(buf), "/a%3f/../b?c");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM_DEC), "/b");
    CHECK_STR(fv(&ev, IW_F_CS_URI_DEC), "/b?c");
    /* raw fields keep raw semantics */
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM), "/a%3f/../b");
}

/* The decoded views are a fixpoint: a NUL or an escape inside an overlong
 * form or an escape (which only a second pass used to join) is decoded in
 * the first; decoding a view again changes nothing. */
TEST(event_decode_fixpoint)
{
    static const char *const cases[][2] = {
        { "/\xc1%00\xac", "/l" },                            /* C1 NUL AC -> C1 AC -> 'l' */
        { "/..%c0%00%afetc%c0%00%afpasswd", "/etc/passwd" },
        { "/a/.%00./b", "/b" },                              /* NUL inside ".." */
        { "/%%0041", "/A" },                                 /* "%" NUL "41" */
        { "/%2%00541", "/A" },                               /* "%2" NUL "5" -> "%", then "%41" */
        { "/%e0%00%80%00%af%00x", "/x" },                    /* E0 80 AF with NULs between */
        { "/a/%f0%80%00%81%9c..%f0%80%81%9cwin", "/win" },   /* F0 80 81 9C = '\\' */
        { "/%u002%00e%u002e/x", "/x" },                      /* NUL inside %u002e */
        { "/%25%00%32%35%34%31", "/A" },                     /* "%" NUL "2541": every layer */
    };
    iw_event_t ev;
    char buf[1024], again[256];
    const char *v;
    size_t i, n, m;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ev_target(&ev, buf, sizeof(buf), cases[i][0]);
        v = fv(&ev, IW_F_CS_URI_STEM_DEC);
        if (strcmp(v, cases[i][1])) fprintf(stderr, "  case %zu\n", i);
        CHECK_STR(v, cases[i][1]);
        n = strlen(v);
        m = iw_decode_full(v, n, again, IW_DECODE_PATH);
        CHECK(m == n && !memcmp(again, v, n));
    }
    /* the query and header views: the same, in their modes */
    ev_target(&ev, buf, sizeof(buf), "/x?a=%%00%34%00%31+%2b");
    CHECK_STR(fv(&ev, IW_F_CS_URI_QUERY_DEC), "a=A +");
    n = iw_decode_full("%c0%00%ae%c0%00%ae", 18, again, 0);
    CHECK_INT(n, 2);
    CHECK_STR(again, "..");
}

TEST(event_path_normalise)
{
    static const char *const cases[][2] = {
        { "/", "/" }, { "//", "/" }, { "/.", "/" }, { "/..", "/" },
        { "/../../..", "/" }, { "/a/..", "/" }, { "/a/../", "/" },
        { "/a/b/..", "/a/" }, { "/a/b/.", "/a/b/" }, { "/a/./b", "/a/b" },
        { "/a//b///c", "/a/b/c" }, { "/a/b/../../c", "/c" },
        { "/a/b/", "/a/b/" }, { "/a/...", "/a/..." }, { "/a/..b/", "/a/..b/" },
        { "a/../../b", "b" }, { "/a\\b\\..\\c", "/a/c" }, { "/.well-known/x", "/.well-known/x" },
        { "/a/.%2e/b", "/b" }, { "/%2e%2e%2f%2e%2e%2fetc", "/etc" },
    };
    iw_event_t ev;
    char buf[512];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ev_target(&ev, buf, sizeof(buf), cases[i][0]);
        CHECK_STR(fv(&ev, IW_F_CS_URI_STEM_DEC), cases[i][1]);
    }
}

TEST(event_headers_decoded)
{
    static const iw_str_t hn[] = { {"User-Agent", 10}, {"X-Api-Version", 13} };
    static const iw_str_t hv[] = { {"%24%7Bjndi:ldap://x%7D", 22},
                                   {"$%257Bjndi:dns://y}", 19} };
    iw_request_desc_t d;
    iw_event_t ev;
    char buf[1024];

    desc_init(&d, "GET", "/");
    d.hdr_names = hn; d.hdr_values = hv; d.nhdrs = 2;
    iw_event_init(&ev, buf, sizeof(buf));
    iw_event_from_request(&ev, &d);
    CHECK_STR(fv(&ev, IW_F_CS_HEADERS_DEC),
              "User-Agent: ${jndi:ldap://x}\nX-Api-Version: ${jndi:dns://y}\n");
    /* computed once: a second get returns the same memory */
    CHECK(iw_event_get(&ev, IW_F_CS_HEADERS_DEC).p == iw_event_get(&ev, IW_F_CS_HEADERS_DEC).p);
}

TEST(event_from_error)
{
    iw_error_desc_t d;
    iw_event_t ev;
    char buf[256];
    int64_t n;

    memset(&d, 0, sizeof(d));
    d.message = S("client denied by server configuration: /srv/x");
    d.level = S("error");
    d.module = S("authz_core");
    d.client_ip = S("1.2.3.4");
    d.ah_code = 1630;
    d.pid = 1234;
    d.time = apr_time_from_sec(971275972) + 123456;   /* 2000-10-11 14:52:52 */
    iw_event_init(&ev, buf, sizeof(buf));
    iw_event_from_error(&ev, &d);
    CHECK_INT(ev.type, IW_EV_ERROR);
    CHECK_STR(fv(&ev, IW_F_MESSAGE), "client denied by server configuration: /srv/x");
    CHECK_STR(fv(&ev, IW_F_RAW), "client denied by server configuration: /srv/x");
    CHECK_STR(fv(&ev, IW_F_LEVEL), "error");
    CHECK_STR(fv(&ev, IW_F_MODULE), "authz_core");
    CHECK_STR(fv(&ev, IW_F_AH_CODE), "AH01630");
    CHECK_STR(fv(&ev, IW_F_C_IP), "1.2.3.4");
    CHECK_STR(fv(&ev, IW_F_PID), "1234");
    CHECK(iw_event_num(&ev, IW_F_PID, &n) && n == 1234);
    CHECK_STR(fv(&ev, IW_F_DATE), "2000-10-11");
    CHECK_STR(fv(&ev, IW_F_TIME), "14:52:52");
    CHECK(iw_event_get(&ev, IW_F_CS_URI).p == NULL);
    CHECK(iw_event_get(&ev, IW_F_CS_HEADERS).p == NULL);
    CHECK(iw_event_get(&ev, IW_F_CS_URI_DEC).p == NULL);

    d.ah_code = 0; d.pid = 0; d.module = IW_STR_NULL;
    iw_event_from_error(&ev, &d);
    CHECK(iw_event_get(&ev, IW_F_AH_CODE).p == NULL);
    CHECK(iw_event_get(&ev, IW_F_PID).p == NULL);
    CHECK(iw_event_get(&ev, IW_F_MODULE).p == NULL);
}

/* Reusing one event for a request after another leaves nothing behind. */
TEST(event_reuse)
{
    iw_event_t ev;
    char buf[512];
    iw_error_desc_t e;

    ev_target(&ev, buf, sizeof(buf), "/a%2fb?x");
    CHECK_STR(fv(&ev, IW_F_CS_URI_STEM_DEC), "/a/b");
    ev.input_line = 42;
    memset(&e, 0, sizeof(e));
    e.message = S("m");
    iw_event_from_error(&ev, &e);
    CHECK(iw_event_get(&ev, IW_F_CS_URI_STEM_DEC).p == NULL);
    CHECK(iw_event_get(&ev, IW_F_CS_URI_STEM).p == NULL);
    CHECK_INT(ev.input_line, 42);
    CHECK_INT(ev.buf_used, 0);
}

/* Tiny work buffers: values are cut, never overflowed (canaries intact). */
TEST(event_truncation)
{
    static const iw_str_t hn[] = { {"User-Agent", 10}, {"X-Long", 6} };
    static const iw_str_t hv[] = { {"abcdefghijklmnopqrstuvwxyz", 26},
                                   {"%41%41%41%41%41%41%41%41%41%41", 30} };
    static const iw_field_id_t all[] = { IW_F_CS_HEADERS, IW_F_RAW,
        IW_F_CS_URI_DEC, IW_F_CS_URI_STEM_DEC, IW_F_CS_URI_QUERY_DEC,
        IW_F_CS_HEADERS_DEC, IW_F_DATE, IW_F_SC_STATUS };
    char mem[256 + 32];
    size_t size, i;

    for (size = 0; size <= 256; size++) {
        iw_request_desc_t d;
        iw_event_t ev;

        memset(mem, 0x5A, sizeof(mem));
        desc_init(&d, "GET", "/%2e%2e/a/b/c%2fd?q=%2541%2541+x&y=%u0041");
        d.hdr_names = hn; d.hdr_values = hv; d.nhdrs = 2;
        d.status = 200; d.time = apr_time_from_sec(1000000000);
        iw_event_init(&ev, size ? mem : NULL, size);
        iw_event_from_request(&ev, &d);
        for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
            iw_str_t v = iw_event_get(&ev, all[i]);
            /* in the buffer, or (a view with nothing to decode) the value itself */
            if (v.p) CHECK((v.p >= mem && v.p + v.len <= mem + size)
                           || (v.p >= d.target.p && v.p + v.len <= d.target.p + d.target.len));
        }
        CHECK(ev.buf_used <= size);
        for (i = size; i < sizeof(mem); i++)
            if (mem[i] != 0x5A) { CHECK(!"canary overwritten"); break; }
        /* raw fields never depend on the buffer */
        CHECK_STR(fv(&ev, IW_F_CS_URI_STEM), "/%2e%2e/a/b/c%2fd");
    }
    /* a buffer big enough gives the full values */
    {
        iw_request_desc_t d;
        iw_event_t ev;
        desc_init(&d, "GET", "/%2e%2e/a/b/c%2fd?q=%2541%2541+x&y=%u0041");
        iw_event_init(&ev, mem, 256);
        iw_event_from_request(&ev, &d);
        CHECK_STR(fv(&ev, IW_F_CS_URI_DEC), "/a/b/c/d?q=AA x&y=A");
    }
}

/* Repeated headers: the first is the field, all are in cs-headers; a header
 * with a NULL value pointer counts as empty. */
TEST(event_repeated_headers)
{
    static const iw_str_t hn[] = { {"Cookie", 6}, {"cookie", 6}, {"Referer", 7} };
    static const iw_str_t hv[] = { {"a=1", 3}, {"b=2", 3}, {NULL, 0} };
    iw_request_desc_t d;
    iw_event_t ev;
    char buf[512];

    desc_init(&d, "GET", "/");
    d.hdr_names = hn; d.hdr_values = hv; d.nhdrs = 3;
    iw_event_init(&ev, buf, sizeof(buf));
    iw_event_from_request(&ev, &d);
    CHECK_STR(fv(&ev, IW_F_CS_COOKIE), "a=1");
    CHECK_STR(fv(&ev, IW_F_CS_REFERER), "");
    CHECK_STR(fv(&ev, IW_F_CS_HEADERS), "Cookie: a=1\ncookie: b=2\nReferer: \n");
}

/* Decoded view of `target`'s stem, query, full URI and headers with the
 * fast path on or off, as one string. */
static void decoded_views(const char *target, const char *hv, int fast, char *out, size_t n)
{
    static char buf[16384];
    iw_request_desc_t d;
    iw_str_t hn = S("X-T"), hval = { hv, strlen(hv) };
    iw_event_t ev;
    static const iw_field_id_t views[] = { IW_F_CS_URI_STEM_DEC, IW_F_CS_URI_QUERY_DEC,
                                           IW_F_CS_URI_DEC, IW_F_CS_HEADERS_DEC };
    size_t k, o = 0;

    desc_init(&d, "GET", target);
    d.hdr_names = &hn;
    d.hdr_values = &hval;
    d.nhdrs = 1;
    iw_decode_fastpath = fast;
    iw_event_init(&ev, buf, sizeof(buf));
    iw_event_from_request(&ev, &d);
    for (k = 0; k < sizeof(views) / sizeof(views[0]); k++) {
        iw_str_t v = iw_event_get(&ev, views[k]);
        o += (size_t)snprintf(out + o, n - o, "[%d:%.*s]", v.p ? (int)v.len : -1,
                              (int)v.len, v.p ? v.p : "");
    }
    iw_decode_fastpath = 1;
}

/* The plain-copy fast path must give exactly what the full decoder gives:
 * random targets over an alphabet rich in the bytes that matter. */
TEST(event_decode_fastpath_same_as_full)
{
    static const char alpha[] = "/./%2e+\\aZ?=&\xc0\xae\xe0\x80/.u1";
    char t[48], h[48], a[4096], b[4096];
    unsigned seed = 12345;
    int i, k, n, diff = 0;

    for (i = 0; i < 20000; i++) {
        n = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 40;
        t[0] = '/';
        for (k = 1; k < n; k++)
            t[k] = alpha[((seed = seed * 1103515245u + 12345u) >> 16) % (sizeof(alpha) - 1)];
        t[n] = '\0';
        for (k = 0; k < n; k++)
            h[k] = alpha[((seed = seed * 1103515245u + 12345u) >> 16) % (sizeof(alpha) - 1)];
        h[n] = '\0';
        decoded_views(t, h, 1, a, sizeof(a));
        decoded_views(t, h, 0, b, sizeof(b));
        if (strcmp(a, b) && diff++ < 5)
            fprintf(stderr, "  fast/full differ on \"%s\": %s vs %s\n", t, a, b);
    }
    CHECK_INT(diff, 0);
    decoded_views("/a/b.html?x=1", "plain", 1, a, sizeof(a));
    CHECK_STR(a, "[9:/a/b.html][3:x=1][13:/a/b.html?x=1][11:X-T: plain\n]");
}

/* An owned work buffer grows to what the request needs: every view of a
 * request with 200 headers of 1 KB and a 60 KB percent-encoded query is
 * the same as over a huge caller buffer, iw-truncated is absent; the next
 * small request shrinks the buffer back. */
TEST(event_owned_buffer_holds_every_view)
{
    static const iw_field_id_t views[] = { IW_F_CS_HEADERS, IW_F_RAW,
        IW_F_CS_URI_DEC, IW_F_CS_URI_STEM_DEC, IW_F_CS_URI_QUERY_DEC,
        IW_F_CS_HEADERS_DEC, IW_F_CS_HEADER_DEC };
    enum { NH = 200, VLEN = 1000 };
    iw_str_t *hn = calloc(NH, sizeof(*hn)), *hv = calloc(NH, sizeof(*hv));
    char *names = malloc(NH * 16), *vals = malloc(VLEN), *target = malloc(70000);
    size_t big = 16u << 20, k, o;
    char *ref = malloc(big);
    iw_request_desc_t d;
    iw_event_t ev, rv;
    int i;

    REQUIRE(hn && hv && names && vals && target && ref);
    for (k = 0; k < VLEN; k++) vals[k] = k % 3 ? 'a' : '+';
    memcpy(vals + VLEN - 9, "%24%7bjndi", 9);
    for (i = 0; i < NH; i++) {
        int n = snprintf(names + 16 * i, 16, "X-H-%03d", i);
        hn[i] = (iw_str_t){ names + 16 * i, (size_t)n };
        hv[i] = (iw_str_t){ vals, VLEN };
    }
    o = (size_t)sprintf(target, "/a/../b?p=");
    for (k = 0; k < 20000; k++) { memcpy(target + o, "%41", 3); o += 3; }
    o += (size_t)sprintf(target + o, "&q=%%3Cscript%%3E");
    desc_init(&d, "GET", target);
    d.target.len = o;
    d.hdr_names = hn; d.hdr_values = hv; d.nhdrs = NH;
    d.status = 200;
    REQUIRE(iw_event_init_owned(&ev, 1024 * 1024) == 0);
    iw_event_from_request(&ev, &d);
    iw_event_init(&rv, ref, big);
    iw_event_from_request(&rv, &d);
    CHECK(iw_event_get(&ev, IW_F_IW_TRUNCATED).p == NULL);
    CHECK(iw_event_get(&rv, IW_F_IW_TRUNCATED).p == NULL);
    for (k = 0; k < sizeof(views) / sizeof(views[0]); k++) {
        iw_str_t a = iw_event_get(&ev, views[k]), b = iw_event_get(&rv, views[k]);
        REQUIRE(a.p && b.p);
        CHECK_INT(a.len, b.len);
        CHECK(!memcmp(a.p, b.p, a.len));
        CHECK(a.p >= ev.buf && a.p + a.len <= ev.buf + ev.buf_size);
    }
    CHECK_INT(iw_event_get(&ev, IW_F_CS_HEADERS).len, iw_request_bytes(&d) - o - 3 - 8);
    {
        iw_str_t q = iw_event_get(&ev, IW_F_CS_URI_QUERY_DEC);
        CHECK(q.len > 8 && !memcmp(q.p + q.len - 8, "<script>", 8));
    }
    CHECK(ev.buf_size >= IW_EVENT_ROOM(iw_request_bytes(&d)));
    /* a small request: back to the minimum */
    desc_init(&d, "GET", "/x?y=%41");
    iw_event_from_request(&ev, &d);
    CHECK_INT(ev.buf_size, IW_EVENT_BUF_MIN);
    CHECK_STR(fv(&ev, IW_F_CS_URI_QUERY_DEC), "y=A");
    iw_event_release(&ev);
    free(hn); free(hv); free(names); free(vals); free(target); free(ref);
}

/* Over the limit, or over a caller's fixed buffer, or with bytes the
 * caller left out: iw-truncated says how many bytes, as a number and as
 * text; views stay inside the buffer. */
TEST(event_truncated_field)
{
    static const iw_str_t hn[] = { {"X-Big", 5} };
    static char v[10000];
    static const iw_str_t hv1[] = { {v, sizeof(v)} };
    iw_request_desc_t d;
    iw_event_t ev;
    int64_t n = 0;
    char small[300];
    size_t bytes;

    memset(v, '%', sizeof(v));
    desc_init(&d, "GET", "/a?b=1");
    d.hdr_names = hn; d.hdr_values = hv1; d.nhdrs = 1;
    bytes = iw_request_bytes(&d);
    CHECK_INT(bytes, 3 + 6 + 8 + 5 + sizeof(v) + 3);
    REQUIRE(iw_event_init_owned(&ev, 4096) == 0);
    iw_event_from_request(&ev, &d);
    CHECK(iw_event_num(&ev, IW_F_IW_TRUNCATED, &n));
    CHECK_INT(n, bytes - 4096);
    {
        char want[32];
        snprintf(want, sizeof(want), "%lld", (long long)(bytes - 4096));
        CHECK_STR(fv(&ev, IW_F_IW_TRUNCATED), want);
    }
    {
        iw_str_t h = iw_event_get(&ev, IW_F_CS_HEADERS_DEC);
        CHECK(!h.p || h.p + h.len <= ev.buf + ev.buf_size);
    }
    /* under the limit, but the caller dropped 77 bytes */
    desc_init(&d, "GET", "/a");
    d.dropped = 77;
    iw_event_from_request(&ev, &d);
    CHECK(iw_event_num(&ev, IW_F_IW_TRUNCATED, &n));
    CHECK_INT(n, 77);
    /* nothing cut: absent */
    d.dropped = 0;
    iw_event_from_request(&ev, &d);
    CHECK(!iw_event_num(&ev, IW_F_IW_TRUNCATED, &n));
    CHECK(iw_event_get(&ev, IW_F_IW_TRUNCATED).p == NULL);
    iw_event_release(&ev);
    /* a caller's buffer too small for the views of this request */
    desc_init(&d, "GET", "/a?b=1");
    iw_event_init(&ev, small, sizeof(small));
    iw_event_from_request(&ev, &d);
    CHECK(iw_event_num(&ev, IW_F_IW_TRUNCATED, &n));
    CHECK_INT(n, iw_request_bytes(&d));
    CHECK_INT(iw_field_lookup("iw-truncated"), IW_F_IW_TRUNCATED);
    CHECK(iw_field_is_numeric(IW_F_IW_TRUNCATED));
}

/* Views of a target and one header value given with their lengths (NUL
 * bytes included), fast or bytewise decoding, as length-prefixed bytes. */
static size_t decoded_views_n(const char *t, size_t tn, const char *h, size_t hn,
                              int fast, char *out, size_t n)
{
    static char buf[16384];
    iw_request_desc_t d;
    iw_str_t name = S("X-T"), hval = { h, hn };
    iw_event_t ev;
    static const iw_field_id_t views[] = { IW_F_CS_URI_STEM_DEC, IW_F_CS_URI_QUERY_DEC,
                                           IW_F_CS_URI_DEC, IW_F_CS_HEADERS_DEC };
    size_t k, o = 0;

    desc_init(&d, "GET", "/");
    d.target = (iw_str_t){ t, tn };
    d.hdr_names = &name;
    d.hdr_values = &hval;
    d.nhdrs = 1;
    iw_decode_fastpath = fast;
    iw_event_init(&ev, buf, sizeof(buf));
    iw_event_from_request(&ev, &d);
    for (k = 0; k < sizeof(views) / sizeof(views[0]); k++) {
        iw_str_t v = iw_event_get(&ev, views[k]);
        int len = v.p ? (int)v.len : -1;
        if (o + sizeof(len) + (v.p ? v.len : 0) > n) break;
        memcpy(out + o, &len, sizeof(len));
        o += sizeof(len);
        if (v.p && v.len) { memcpy(out + o, v.p, v.len); o += v.len; }
    }
    iw_decode_fastpath = 1;
    return o;
}

/* The word-at-a-time decoder (runs skipped with memchr / 8 bytes per step,
 * a value with nothing to decode used in place) against the bytewise one:
 * random values up to 300 bytes over the bytes that matter (escapes, '+',
 * NUL, overlong lead and continuation bytes, path separators), every view,
 * and iw_decode_full itself in every mode. */
TEST(event_decode_fast_same_as_bytewise)
{
    static const char alpha[] = "%%%2e5Fu0+\\/./aZ=&;\0\xc0\xc1\xe0\xf0\x80\xae\xaf\x81 \n";
    static char t[320], h[320], a[8192], b[8192], x[320], y[320];
    unsigned seed = 777;
    int i, diff = 0;

    for (i = 0; i < 30000; i++) {
        size_t tn, hn, k, na, nb;
        int plain = i % 3 == 0;        /* mostly plain text: the SWAR paths */
        tn = 1 + ((seed = seed * 1103515245u + 12345u) >> 16) % 300;
        hn = ((seed = seed * 1103515245u + 12345u) >> 16) % 300;
        for (k = 0; k < tn; k++) {
            unsigned r = (seed = seed * 1103515245u + 12345u) >> 16;
            t[k] = plain && r % 16 ? (char)('a' + r % 26) : alpha[r % (sizeof(alpha) - 1)];
        }
        t[0] = '/';
        for (k = 0; k < hn; k++) {
            unsigned r = (seed = seed * 1103515245u + 12345u) >> 16;
            h[k] = plain && r % 16 ? (char)('A' + r % 26) : alpha[r % (sizeof(alpha) - 1)];
        }
        na = decoded_views_n(t, tn, h, hn, 1, a, sizeof(a));
        nb = decoded_views_n(t, tn, h, hn, 0, b, sizeof(b));
        if ((na != nb || memcmp(a, b, na)) && diff++ < 5)
            fprintf(stderr, "  fast/bytewise views differ (case %d)\n", i);
        for (k = 0; k < 4; k++) {          /* 0, PLUS, PATH, both */
            size_t m1, m2;
            iw_decode_fastpath = 0;
            m2 = iw_decode_full(h, hn, y, (int)k);
            iw_decode_fastpath = 1;
            m1 = iw_decode_full(h, hn, x, (int)k);
            if ((m1 != m2 || memcmp(x, y, m1 + 1)) && diff++ < 5)
                fprintf(stderr, "  iw_decode_full differs (case %d, flags %d)\n", i, (int)k);
        }
    }
    CHECK_INT(diff, 0);
}

/* The body the caller kept: cs-body as given, cs-body-decoded with form
 * decoding ('+' is a space); absent without a body; room for its view. */
TEST(event_body_fields)
{
    iw_request_desc_t d;
    iw_event_t ev;

    desc_init(&d, "POST", "/login");
    d.body = S("user=admin%27+UNION+SELECT+1--&x=%252e");
    REQUIRE(iw_event_init_owned(&ev, 4096) == 0);
    iw_event_from_request(&ev, &d);
    CHECK_STR(fv(&ev, IW_F_CS_BODY), "user=admin%27+UNION+SELECT+1--&x=%252e");
    CHECK_STR(fv(&ev, IW_F_CS_BODY_DEC), "user=admin' UNION SELECT 1--&x=.");
    CHECK(iw_event_get(&ev, IW_F_IW_TRUNCATED).p == NULL);
    desc_init(&d, "POST", "/login");
    iw_event_from_request(&ev, &d);
    CHECK(iw_event_get(&ev, IW_F_CS_BODY).p == NULL);
    CHECK(iw_event_get(&ev, IW_F_CS_BODY_DEC).p == NULL);
    CHECK_INT(iw_field_lookup("cs-body-decoded"), IW_F_CS_BODY_DEC);
    iw_event_release(&ev);
}

/* cs-header-decoded: one value per header, "Name: value" decoded on its
 * own, NUL-separated; an LF a value decodes to stays inside its value;
 * absent without headers. */
TEST(event_header_decoded_values)
{
    static const iw_str_t hn[] = { {"Host", 4}, {"X-A", 3}, {"X-Empty", 7} };
    static const iw_str_t hv[] = { {"h", 1}, {"union%0aselect%252e", 19}, {"", 0} };
    iw_request_desc_t d;
    iw_event_t ev;
    char buf[4096];
    iw_str_t v;

    desc_init(&d, "GET", "/");
    d.hdr_names = hn; d.hdr_values = hv; d.nhdrs = 3;
    iw_event_init(&ev, buf, sizeof(buf));
    iw_event_from_request(&ev, &d);
    v = iw_event_get(&ev, IW_F_CS_HEADER_DEC);
    REQUIRE(v.p != NULL);
    CHECK(iw_field_is_multi(IW_F_CS_HEADER_DEC));
    CHECK_INT(v.len, 7 + 1 + 18 + 1 + 9);
    CHECK(!memcmp(v.p, "Host: h\0X-A: union\nselect.\0X-Empty: ", v.len));
    CHECK_INT(iw_field_lookup("cs-header-decoded"), IW_F_CS_HEADER_DEC);
    desc_init(&d, "GET", "/");
    iw_event_init(&ev, buf, sizeof(buf));
    iw_event_from_request(&ev, &d);
    CHECK(iw_event_get(&ev, IW_F_CS_HEADER_DEC).p == NULL);
}

/* The run and identity scans (16 or 8 bytes per step, the last bytes read
 * where they end) against a bytewise reading: one special byte at every
 * position of every length up to 48, in every mode. */
TEST(event_decode_scans_every_position)
{
    static const char special[] = "%+\\/.\0\xc0\xc1\xe0\xf0\xc3";
    char b[64];
    size_t n, pos, k, i;
    int mode, diff = 0, nx;

    for (n = 0; n <= 48; n++)
        for (pos = 0; pos <= n; pos++)
            for (k = 0; k < sizeof(special) - 1; k++)
                for (mode = 0; mode < 8; mode++) {
                    size_t want = n;
                    int ident = !((mode & IW_DECODE_PATH) && n && pos == 0 && special[k] == '.');
                    nx = mode >> 2;
                    memset(b, nx ? '/' : 'a', sizeof(b));                   /* a path: "a/a/a" */
                    for (i = 0; nx && i < n; i += 2) b[i] = 'a';
                    if (pos < n) b[pos] = special[k];
                    if (pos + 1 < n && special[k] == '/') b[pos + 1] = nx ? '/' : '.';   /* "//", "/." */
                    mode &= 3;
                    for (i = 0; i < n; i++) {
                        unsigned char c = (unsigned char)b[i];
                        if (want == n && (c == '%' || !c || c >= 0x80
                                          || ((mode & IW_DECODE_PLUS) && c == '+')))
                            want = i;
                        if (c == '%' || !c || c == 0xc0 || c == 0xc1 || c == 0xe0 || c == 0xf0
                            || (c == '+' && (mode & IW_DECODE_PLUS))
                            || (c == '\\' && (mode & IW_DECODE_PATH))
                            || (c == '/' && (mode & IW_DECODE_PATH) && i + 1 < n
                                && (b[i + 1] == '.' || b[i + 1] == '/')))
                            ident = 0;
                    }
                    if (iw_decode_plain_len(b, n, mode & IW_DECODE_PLUS) != want && diff++ < 5)
                        fprintf(stderr, "  plain_len n=%zu pos=%zu byte %02x\n", n, pos,
                                (unsigned char)special[k]);
                    if (iw_decode_is_identity(b, n, mode) != ident && diff++ < 5)
                        fprintf(stderr, "  is_identity n=%zu pos=%zu byte %02x mode %d\n", n, pos,
                                (unsigned char)special[k], mode);
                    mode |= nx << 2;
                }
    CHECK_INT(diff, 0);
}

/* Numbers as text: the short form (under 1,000) and the long one agree
 * with printf's. */
TEST(event_number_text)
{
    static const int64_t v[] = { 0, 1, 9, 10, 42, 99, 100, 101, 999, 1000, 1001, 65535,
                                 123456789012LL, INT64_MAX };
    char buf[4096], want[32];
    iw_request_desc_t d;
    iw_event_t ev;
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        desc_init(&d, "GET", "/");
        d.sc_bytes = v[i];
        iw_event_init(&ev, buf, sizeof(buf));
        iw_event_from_request(&ev, &d);
        snprintf(want, sizeof(want), "%lld", (long long)v[i]);
        CHECK_STR(fv(&ev, IW_F_SC_BYTES), want);
    }
}
