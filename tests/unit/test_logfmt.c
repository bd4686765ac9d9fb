/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of iw_logfmt: access/error/JSON-lines parsing, time parsing, format
 * detection, and every line of the shared corpus files parsing cleanly. */
#include <stdlib.h>
#include "iw_test.h"
#include "iw_logfmt.h"

static char pbuf[65536];

static int parse(iw_input_format_t fmt, const char *line, iw_parsed_t *o,
                 const char **why)
{
    memset(o, 0, sizeof(*o));
    o->buf = pbuf;
    o->buf_size = sizeof(pbuf);
    return iw_logfmt_parse(fmt, line, strlen(line), o, why);
}

/* NUL-terminated copy of an iw_str_t (NULL when absent). */
static const char *sv(iw_str_t s)
{
    static char ring[4][4096];
    static int k;
    char *o = ring[k++ & 3];

    if (!s.p) return NULL;
    if (s.len >= sizeof(ring[0])) s.len = sizeof(ring[0]) - 1;
    memcpy(o, s.p, s.len);
    o[s.len] = '\0';
    return o;
}

static const char *hdr(const iw_parsed_t *o, const char *name)
{
    int i;
    for (i = 0; i < o->req.nhdrs; i++)
        if (o->hdr_names[i].len == strlen(name)
            && !strncasecmp(o->hdr_names[i].p, name, strlen(name)))
            return sv(o->hdr_values[i]);
    return NULL;
}

TEST(logfmt_format_names)
{
    CHECK_INT(iw_input_format_parse("auto"), IW_INPUT_AUTO);
    CHECK_INT(iw_input_format_parse("combined"), IW_INPUT_COMBINED);
    CHECK_INT(iw_input_format_parse("common"), IW_INPUT_COMBINED);
    CHECK_INT(iw_input_format_parse("vhost_combined"), IW_INPUT_COMBINED);
    CHECK_INT(iw_input_format_parse("error"), IW_INPUT_ERROR);
    CHECK_INT(iw_input_format_parse("jsonl"), IW_INPUT_JSONL);
    CHECK_INT(iw_input_format_parse("JSON"), IW_INPUT_JSONL);
    CHECK_INT(iw_input_format_parse("xml"), -1);
    CHECK_INT(iw_input_format_parse(""), -1);
    CHECK_INT(iw_input_format_parse(NULL), -1);
}

TEST(logfmt_detect)
{
#define DET(s) iw_logfmt_detect(s, strlen(s))
    CHECK_INT(DET("{\"method\":\"GET\"}"), IW_INPUT_JSONL);
    CHECK_INT(DET("  {"), IW_INPUT_JSONL);
    CHECK_INT(DET("[Wed Oct 11 14:32:52.123456 2000] [core:error] x"), IW_INPUT_ERROR);
    CHECK_INT(DET("[Fri Dec 16 01:46:23 2005] [error] [client 1.2.3.4] x"), IW_INPUT_ERROR);
    CHECK_INT(DET("1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1"),
              IW_INPUT_COMBINED);
    CHECK_INT(DET("[17/Dec/2005:02:40:45 -0500] - - 1.2.3.4 \"GET / HTTP/1.1\" \"-\" 302 547 0"),
              IW_INPUT_COMBINED);
    CHECK_INT(DET("\xEF\xBB\xBF{\"a\":1}"), IW_INPUT_JSONL);      /* UTF-8 BOM */
    CHECK_INT(DET("hello world"), IW_INPUT_AUTO);
    CHECK_INT(DET(""), IW_INPUT_AUTO);
    CHECK_INT(DET("["), IW_INPUT_AUTO);
#undef DET
}

TEST(logfmt_clf_time)
{
    apr_time_t t;

#define CLF(s) iw_parse_clf_time(s, strlen(s), &t)
    CHECK(CLF("10/Oct/2000:13:55:36 -0700"));
    CHECK_INT(t, apr_time_from_sec(971211336));        /* 20:55:36 UTC */
    CHECK(CLF("17/May/2015:10:05:03 +0000"));
    CHECK_INT(t, apr_time_from_sec(1431857103));
    CHECK(CLF("01/Jan/1970:00:00:00 +0000"));
    CHECK_INT(t, 0);
    CHECK(CLF("29/Feb/2024:23:59:59 +0530"));
    CHECK_INT(t, apr_time_from_sec(1709251199 - 19800));
    CHECK(!CLF("29/Feb/2023:00:00:00 +0000"));           /* not a leap year */
    CHECK(!CLF("10/Foo/2000:13:55:36 -0700"));
    CHECK(!CLF("10/Oct/2000:24:00:00 -0700"));
    CHECK(!CLF("10/Oct/2000:13:55:36"));                 /* zone required */
    CHECK(!CLF("10/Oct/2000:13:55:36 -0700x"));
    CHECK(!CLF(""));
#undef CLF
}

TEST(logfmt_combined)
{
    iw_parsed_t o;
    const char *why;

    REQUIRE(parse(IW_INPUT_COMBINED, "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "
                  "\"GET /apache_pb.gif?a=1 HTTP/1.0\" 200 2326 "
                  "\"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"",
                  &o, &why));
    CHECK_INT(o.type, IW_EV_ACCESS);
    CHECK_STR(sv(o.req.client_ip), "127.0.0.1");
    CHECK_STR(sv(o.req.username), "frank");
    CHECK_STR(sv(o.req.method), "GET");
    CHECK_STR(sv(o.req.target), "/apache_pb.gif?a=1");
    CHECK_STR(sv(o.req.version), "HTTP/1.0");
    CHECK_INT(o.req.status, 200);
    CHECK_INT(o.req.sc_bytes, 2326);
    CHECK_INT(o.req.time, apr_time_from_sec(971211336));
    CHECK_STR(hdr(&o, "Referer"), "http://www.example.com/start.html");
    CHECK_STR(hdr(&o, "User-Agent"), "Mozilla/4.08 [en] (Win98; I ;Nav)");
    CHECK_INT(o.req.nhdrs, 2);

    /* common: no referer/UA; "-" user and "-" bytes */
    REQUIRE(parse(IW_INPUT_COMBINED, "::1 - - [10/Oct/2000:13:55:36 +0000] \"HEAD / HTTP/1.1\" 304 -",
                  &o, &why));
    CHECK_STR(sv(o.req.client_ip), "::1");
    CHECK(o.req.username.p == NULL);
    CHECK_INT(o.req.sc_bytes, 0);
    CHECK_INT(o.req.nhdrs, 0);
    /* status without bytes (OSSEC sample) */
    REQUIRE(parse(IW_INPUT_COMBINED, "h - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" 200",
                  &o, &why));
    CHECK_INT(o.req.sc_bytes, -1);
    /* "-" referer and UA are absent; trailing extra fields (%D) ignored; CRLF */
    REQUIRE(parse(IW_INPUT_COMBINED, "h - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" "
                  "200 5 \"-\" \"-\" 1234 extra\r\n", &o, &why));
    CHECK_INT(o.req.nhdrs, 0);
    CHECK_INT(o.req.sc_bytes, 5);
}

TEST(logfmt_combined_escapes)
{
    iw_parsed_t o;
    const char *why;

    REQUIRE(parse(IW_INPUT_COMBINED, "1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "
                  "\"GET /a\\\"b\\\\c\\x00d\\xe4 HTTP/1.1\" 400 0 \"-\" "
                  "\"sqlmap \\\"x\\\" \\ty\"", &o, &why));
    CHECK_INT(o.req.target.len, 9);
    CHECK(!memcmp(o.req.target.p, "/a\"b\\c\0d\xe4", 9));
    CHECK_STR(hdr(&o, "User-Agent"), "sqlmap \"x\" \ty");
    /* a quote that does not end the field (not followed by a blank) */
    REQUIRE(parse(IW_INPUT_COMBINED, "1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "
                  "\"GET /x HTTP/1.1\" 200 1 \"-\" \"a\"b\"", &o, &why));
    CHECK_STR(hdr(&o, "User-Agent"), "a\"b");
    /* a line cut inside the UA: the field runs to the end */
    REQUIRE(parse(IW_INPUT_COMBINED, "1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "
                  "\"GET /x HTTP/1.1\" 200 1 \"-\" \"Mozilla/5.0 (compatible", &o, &why));
    CHECK_STR(hdr(&o, "User-Agent"), "Mozilla/5.0 (compatible");
}

TEST(logfmt_vhost_and_time_first)
{
    iw_parsed_t o;
    const char *why;

    REQUIRE(parse(IW_INPUT_COMBINED, "www.example.com:443 10.0.0.1 - alice "
                  "[10/Oct/2000:13:55:36 -0700] \"POST /login HTTP/2.0\" 302 0 \"-\" \"curl/8\"",
                  &o, &why));
    CHECK_STR(sv(o.req.sitename), "www.example.com");
    CHECK_INT(o.req.server_port, 443);
    CHECK_STR(sv(o.req.client_ip), "10.0.0.1");
    CHECK_STR(sv(o.req.username), "alice");
    CHECK_STR(sv(o.req.version), "HTTP/2.0");
    REQUIRE(parse(IW_INPUT_COMBINED, "vh 10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "
                  "\"GET / HTTP/1.1\" 200 1", &o, &why));
    CHECK_STR(sv(o.req.sitename), "vh");
    CHECK_INT(o.req.server_port, 0);
    /* OSSEC "night of scans": [time] ident user host "request" "-" status bytes x */
    REQUIRE(parse(IW_INPUT_COMBINED, "[17/Dec/2005:02:40:45 -0500] - - 85.226.238.xxx "
                  "\"GET /awstats/awstats.pl?configdir=|echo; HTTP/1.1\" \"-\" 302 547 0",
                  &o, &why));
    CHECK_STR(sv(o.req.client_ip), "85.226.238.xxx");
    CHECK_STR(sv(o.req.target), "/awstats/awstats.pl?configdir=|echo;");
    CHECK_INT(o.req.status, 302);
    CHECK_INT(o.req.sc_bytes, 547);
}

TEST(logfmt_request_lines)
{
    iw_parsed_t o;
    const char *why;
    const char *pre = "1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] ";
    char line[512];

#define REQ(r, rest) (snprintf(line, sizeof(line), "%s\"%s\" %s", pre, r, rest), \
                      parse(IW_INPUT_COMBINED, line, &o, &why))
    /* HTTP/0.9: no version */
    REQUIRE(REQ("GET /old", "200 1"));
    CHECK_STR(sv(o.req.target), "/old");
    CHECK(o.req.version.p == NULL);
    /* a target with blanks (Apache answers 400 but logs it) */
    REQUIRE(REQ("GET /a b  HTTP/1.1", "400 1"));
    CHECK_STR(sv(o.req.target), "/a b");
    CHECK_STR(sv(o.req.version), "HTTP/1.1");
    /* methods are any HTTP token */
    REQUIRE(REQ("|GET / HTTP/1.1", "400 1"));
    CHECK_STR(sv(o.req.method), "|GET");
    /* no request at all, garbage, lone method: malformed with a reason */
    CHECK(!REQ("-", "408 -"));
    CHECK_CONTAINS(why, "no request line");
    CHECK(!REQ("", "400 -"));
    CHECK(!REQ("\\x16\\x03\\x01\\x02", "400 226"));
    CHECK_CONTAINS(why, "not METHOD TARGET");
    CHECK(!REQ("GET", "400 1"));
    CHECK(!REQ("GET ", "400 1"));
#undef REQ
}

TEST(logfmt_combined_malformed)
{
    static const char *const bad[][2] = {
        { "", "timestamp" },
        { "garbage", "timestamp" },
        { "1.2.3.4 - - [10/Oct/2000:13:55:36] \"GET / HTTP/1.1\" 200 1", "timestamp" },
        { "1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] GET / HTTP/1.1 200 1", "quoted request" },
        { "1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\"", "no status" },
        { "1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" abc 1", "3-digit" },
        { "1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" 200 1x", "size" },
        { "1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" 200 99999999999999999999", "size" },
        { "1.2.3.4 - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" 200 1", "host ident user" },
        { "a b c d e [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" 200 1", "host ident user" },
    };
    iw_parsed_t o;
    const char *why;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        CHECK(!parse(IW_INPUT_COMBINED, bad[i][0], &o, &why));
        CHECK_CONTAINS(why, bad[i][1]);
    }
}

TEST(logfmt_error_24)
{
    iw_parsed_t o;
    const char *why;

    REQUIRE(parse(IW_INPUT_ERROR, "[Wed Oct 11 14:32:52.123456 2000] [core:error] "
                  "[pid 1234:tid 5678] [client 1.2.3.4:5678] AH01630: client denied by "
                  "server configuration: /path", &o, &why));
    CHECK_INT(o.type, IW_EV_ERROR);
    CHECK_STR(sv(o.err.module), "core");
    CHECK_STR(sv(o.err.level), "error");
    CHECK_INT(o.err.pid, 1234);
    CHECK_STR(sv(o.err.client_ip), "1.2.3.4");
    CHECK_INT(o.err.ah_code, 1630);
    CHECK_STR(sv(o.err.message), "AH01630: client denied by server configuration: /path");
    CHECK_INT(o.err.time, apr_time_from_sec(971274772) + 123456);  /* 14:32:52 UTC */

    /* IPv6 client with port, referer suffix kept in the message */
    REQUIRE(parse(IW_INPUT_ERROR, "[Wed Oct 11 14:32:52.000001 2000] [authz_core:error] "
                  "[pid 7] [client ::1:51000] AH01630: denied, referer: http://x/",
                  &o, &why));
    CHECK_STR(sv(o.err.client_ip), "::1");
    CHECK_STR(sv(o.err.message), "AH01630: denied, referer: http://x/");
    /* APR error before the client */
    REQUIRE(parse(IW_INPUT_ERROR, "[Wed Oct 11 14:32:52 2000] [core:error] [pid 9:tid 1] "
                  "(13)Permission denied: [client 10.0.0.2:4000] AH00035: access to /x denied",
                  &o, &why));
    CHECK_STR(sv(o.err.client_ip), "10.0.0.2");
    CHECK_STR(sv(o.err.message), "(13)Permission denied: AH00035: access to /x denied");
    CHECK_INT(o.err.ah_code, 35);
    /* no module ("[:error]" from some modules), no client, no AH code */
    REQUIRE(parse(IW_INPUT_ERROR, "[Wed Oct 11 14:32:52 2000] [:error] [pid 9] PHP Warning: x",
                  &o, &why));
    CHECK(o.err.module.p == NULL);
    CHECK_STR(sv(o.err.level), "error");
    CHECK(o.err.client_ip.p == NULL);
    CHECK_INT(o.err.ah_code, 0);
    CHECK_STR(sv(o.err.message), "PHP Warning: x");
    /* a bracket inside the message is message text */
    REQUIRE(parse(IW_INPUT_ERROR, "[Wed Oct 11 14:32:52 2000] [security2:error] [pid 1] "
                  "[client 1.2.3.4:1] ModSecurity: Access denied [id \"942100\"]", &o, &why));
    CHECK_STR(sv(o.err.message), "ModSecurity: Access denied [id \"942100\"]");
}

TEST(logfmt_error_22)
{
    iw_parsed_t o;
    const char *why;

    REQUIRE(parse(IW_INPUT_ERROR, "[Fri Dec 16 01:46:23 2005] [error] [client 1.2.3.4] "
                  "Directory index forbidden by rule: /home/test/", &o, &why));
    CHECK(o.err.module.p == NULL);
    CHECK_STR(sv(o.err.level), "error");
    CHECK_STR(sv(o.err.client_ip), "1.2.3.4");
    CHECK_STR(sv(o.err.message), "Directory index forbidden by rule: /home/test/");
    CHECK_INT(o.err.pid, 0);
    REQUIRE(parse(IW_INPUT_ERROR, "[Tue Mar 08 10:34:21 2005] [error] (11)Resource "
                  "temporarily unavailable: fork: Unable to fork new process", &o, &why));
    CHECK_STR(sv(o.err.message), "(11)Resource temporarily unavailable: fork: Unable to fork new process");
    /* malformed */
    CHECK(!parse(IW_INPUT_ERROR, "[Fri Dec 16 01:46:23 2005] no level", &o, &why));
    CHECK_CONTAINS(why, "level");
    CHECK(!parse(IW_INPUT_ERROR, "[Fri Foo 16 01:46:23 2005] [error] x", &o, &why));
    CHECK_CONTAINS(why, "timestamp");
    CHECK(!parse(IW_INPUT_ERROR, "[Fri Dec 16 01:46:23 2005", &o, &why));
    CHECK(!parse(IW_INPUT_ERROR, "", &o, &why));
}

TEST(logfmt_jsonl)
{
    iw_parsed_t o;
    const char *why;

    REQUIRE(parse(IW_INPUT_JSONL, "{\"id\": \"crs-1\", \"source\": \"x\", \"method\": \"GET\", "
                  "\"uri\": \"/a?b=%27\", \"version\": \"HTTP/1.1\", \"headers\": "
                  "{\"Host\": \"localhost\", \"User-Agent\": \"x\\\"y\\\\z\\u0041\\u00e9\\ud83d\\ude00\"}, "
                  "\"status\": 403, \"client\": \"10.9.8.7\", \"time\": \"2024-01-02T03:04:05Z\", "
                  "\"extra\": [1, {\"a\": [true, false, null, -1.5e3]}], \"body_moved_to_query\": false}",
                  &o, &why));
    CHECK_STR(o.id, "crs-1");
    CHECK_STR(sv(o.req.request_id), "crs-1");
    CHECK_STR(sv(o.req.method), "GET");
    CHECK_STR(sv(o.req.target), "/a?b=%27");
    CHECK_STR(sv(o.req.version), "HTTP/1.1");
    CHECK_STR(hdr(&o, "host"), "localhost");
    CHECK_STR(hdr(&o, "User-Agent"), "x\"y\\zA\xc3\xa9\xf0\x9f\x98\x80");
    CHECK_INT(o.req.status, 403);
    CHECK_STR(sv(o.req.client_ip), "10.9.8.7");
    CHECK_INT(o.req.time, apr_time_from_sec(1704164645));

    REQUIRE(parse(IW_INPUT_JSONL, "\xEF\xBB\xBF {\"method\":\"GET\",\"uri\":\"/\"} \r\n", &o, &why));
    /* minimal: no client (absent), no time (0), no status */
    REQUIRE(parse(IW_INPUT_JSONL, "{\"method\":\"GET\",\"uri\":\"/\"}", &o, &why));
    CHECK(o.req.client_ip.p == NULL);
    CHECK_INT(o.req.time, 0);
    CHECK_INT(o.req.status, 0);
    CHECK(o.req.version.p == NULL);
    CHECK_STR(o.id, "");
    /* epoch seconds, status as a string, numeric id, array header, offsets */
    REQUIRE(parse(IW_INPUT_JSONL, "{\"method\":\"GET\",\"uri\":\"/\",\"time\":1700000000.25,"
                  "\"status\":\"404\",\"id\":42,\"headers\":{\"Cookie\":[\"a=1\",\"b=2\"],\"X\":null}}",
                  &o, &why));
    CHECK_INT(o.req.time, apr_time_from_sec(1700000000) + 250000);
    CHECK_INT(o.req.status, 404);
    CHECK_STR(o.id, "42");
    CHECK_INT(o.req.nhdrs, 2);
    REQUIRE(parse(IW_INPUT_JSONL, "{\"method\":\"GET\",\"uri\":\"/\",\"time\":\"2024-01-02T05:04:05.5+02:00\"}",
                  &o, &why));
    CHECK_INT(o.req.time, apr_time_from_sec(1704164645) + 500000);
    /* escaped key names, embedded NUL, lone surrogate */
    REQUIRE(parse(IW_INPUT_JSONL, "{\"\\u006dethod\":\"GET\",\"uri\":\"/a\\u0000b\\udc00\"}", &o, &why));
    CHECK_INT(o.req.target.len, 7);
    CHECK(!memcmp(o.req.target.p, "/a\0b\xef\xbf\xbd", 7));
}

TEST(logfmt_jsonl_malformed)
{
    static const char *const bad[][2] = {
        { "{\"method\":\"GET\",\"uri\":\"/\"} x", "trailing" },
        { "{\"method\":\"GET\",\"uri\":\"/\"", "truncated" },
        { "{\"method\":\"GET\",\"uri\":\"/", "unterminated" },
        { "{\"method\":\"GET\"}", "missing \"uri\"" },
        { "{\"uri\":\"/\"}", "missing \"method\"" },
        { "{\"method\":1,\"uri\":\"/\"}", "\"method\" must be a string" },
        { "{\"method\":\"GET\",\"uri\":\"/\",\"status\":1e400}", "status" },
        { "{\"method\":\"GET\",\"uri\":\"/\",\"status\":99999999999999999999999}", "status" },
        { "{\"method\":\"GET\",\"uri\":\"/\",\"time\":\"yesterday\"}", "ISO-8601" },
        { "{\"method\":\"GET\",\"uri\":\"/\",\"time\":1e300}", "range" },
        { "{\"method\":\"GET\",\"uri\":\"/\",\"time\":-1}", "range" },
        { "{\"method\":\"GET\",\"uri\":\"a\tb\"}", "control" },
        { "{\"method\":\"GET\",\"uri\":\"\\q\"}", "escape" },
        { "{\"method\":\"GET\",\"uri\":\"\\u12\"}", "\\u" },
        { "{\"method\":\"GET\",\"uri\":\"/\",\"x\":01}", "" },
        { "{\"method\":\"GET\",\"uri\":\"/\",\"x\":tru}", "" },
        { "{\"method\":\"GET\",\"uri\":\"/\",\"headers\":[]}", "object" },
        { "{\"method\":\"GET\",\"uri\":\"/\",,}", "" },
        { "{method:\"GET\"}", "key" },
        { "[1,2]", "object" },
        { "", "" },
        { "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", "deep" },
    };
    iw_parsed_t o;
    const char *why;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        if (parse(IW_INPUT_JSONL, bad[i][0], &o, &why)) {
            fprintf(stderr, "  accepted: %s\n", bad[i][0]);
            CHECK(0);
            continue;
        }
        CHECK(why != NULL);
        CHECK_CONTAINS(why, bad[i][1]);
    }
}

/* A buffer smaller than the contract asks for: a reason, never overflow. */
TEST(logfmt_small_buffer)
{
    const char *line = "{\"method\":\"GET\",\"uri\":\"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}";
    const char *acc = "1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET /aaaaaaaaaaaa HTTP/1.1\" 200 1";
    char small[40 + 8];
    iw_parsed_t o;
    const char *why;
    size_t n;

    for (n = 0; n <= 40; n += 4) {
        memset(small, 0x5A, sizeof(small));
        memset(&o, 0, sizeof(o));
        o.buf = small; o.buf_size = n;
        if (!iw_logfmt_parse(IW_INPUT_JSONL, line, strlen(line), &o, &why))
            CHECK_CONTAINS(why, "buffer");
        if (!iw_logfmt_parse(IW_INPUT_COMBINED, acc, strlen(acc), &o, &why))
            CHECK_CONTAINS(why, "buffer");
        CHECK(o.buf_used <= n);
        CHECK(small[n] == 0x5A && small[sizeof(small) - 1] == 0x5A);
    }
}

/* Parse every line of a file; returns lines, counts failures (printed). */
static long parse_file(apr_pool_t *p, const char *rel, iw_input_format_t fmt,
                       long *bad)
{
    FILE *f = fopen(iw_test_path(p, rel), "rb");
    static char line[1 << 16];
    iw_parsed_t o;
    long n = 0;

    *bad = 0;
    if (!f) { fprintf(stderr, "  cannot open %s (set IW_SRCDIR)\n", rel); *bad = 1; return 0; }
    while (fgets(line, sizeof(line), f)) {
        const char *why;
        n++;
        if (!parse(fmt, line, &o, &why)) {
            if ((*bad)++ < 5) fprintf(stderr, "  %s:%ld: %s\n", rel, n, why);
        }
    }
    fclose(f);
    return n;
}

TEST(logfmt_corpus_access_and_jsonl)
{
    long bad, n;

    n = parse_file(p, "../shared/corpus/benign/elastic-apache.log", IW_INPUT_COMBINED, &bad);
    CHECK_INT(n, 10000);
    CHECK_INT(bad, 0);
    n = parse_file(p, "../shared/corpus/crs-requests.jsonl", IW_INPUT_JSONL, &bad);
    CHECK_INT(n, 2541);
    CHECK_INT(bad, 0);
}

/* OSSEC samples: every indented line of a console code block is a log line
 * (except the "** heading" lines); detected and parsed with zero errors. */
TEST(logfmt_corpus_ossec)
{
    static const char *const files[] = { "../shared/corpus/ossec/apache.rst",
                                         "../shared/corpus/ossec/apache_attacks.rst" };
    static char line[8192];
    long total = 0, bad = 0, nerr = 0;
    size_t i;

    for (i = 0; i < 2; i++) {
        FILE *f = fopen(iw_test_path(p, files[i]), "rb");
        int in_block = 0;
        long ln = 0;
        REQUIRE(f);
        while (fgets(line, sizeof(line), f)) {
            const char *s = line, *why;
            iw_parsed_t o;
            iw_input_format_t fmt;
            ln++;
            if (!strncmp(line, ".. code-block::", 15)) { in_block = 1; continue; }
            if (line[0] != ' ' && line[0] != '\n') in_block = 0;
            while (*s == ' ') s++;
            if (!in_block || *s == '\n' || *s == '\r' || !*s || !strncmp(s, "**", 2))
                continue;
            total++;
            fmt = iw_logfmt_detect(s, strlen(s));
            if (!parse(fmt, s, &o, &why)) {
                bad++;
                fprintf(stderr, "  %s:%ld: %s\n", files[i], ln, why);
            } else if (o.type == IW_EV_ERROR) {
                nerr++;
            }
        }
        fclose(f);
    }
    CHECK_INT(total, 74);
    CHECK_INT(nerr, 17);
    CHECK_INT(bad, 0);
}

/* Parsed lines feed the event builder: fields land where rules expect. */
TEST(logfmt_to_event)
{
    static char ebuf[8192];
    iw_parsed_t o;
    iw_event_t ev;
    const char *why;

    REQUIRE(parse(IW_INPUT_JSONL, "{\"id\":\"x1\",\"method\":\"GET\",\"uri\":\"http://localhost/a/%2e%2e/b?c=%2527\","
                  "\"version\":\"HTTP/1.1\",\"headers\":{\"User-Agent\":\"nikto\"},\"status\":200}", &o, &why));
    iw_event_init(&ev, ebuf, sizeof(ebuf));
    iw_event_from_request(&ev, &o.req);
    CHECK_STR(sv(iw_event_get(&ev, IW_F_CS_URI_STEM)), "/a/%2e%2e/b");
    CHECK_STR(sv(iw_event_get(&ev, IW_F_CS_URI_STEM_DEC)), "/b");
    CHECK_STR(sv(iw_event_get(&ev, IW_F_CS_URI_QUERY_DEC)), "c='");
    CHECK_STR(sv(iw_event_get(&ev, IW_F_CS_HOST)), "localhost");
    CHECK_STR(sv(iw_event_get(&ev, IW_F_CS_USER_AGENT)), "nikto");
    CHECK_STR(sv(iw_event_get(&ev, IW_F_REQUEST_ID)), "x1");
    CHECK_STR(sv(iw_event_get(&ev, IW_F_SC_STATUS)), "200");
    CHECK(iw_event_get(&ev, IW_F_C_IP).p == NULL);

    REQUIRE(parse(IW_INPUT_ERROR, "[Wed Oct 11 14:32:52 2000] [core:error] [pid 5] "
                  "[client 1.2.3.4:1] AH00126: Invalid URI in request GET /%%%", &o, &why));
    iw_event_from_error(&ev, &o.err);
    CHECK_STR(sv(iw_event_get(&ev, IW_F_AH_CODE)), "AH00126");
    CHECK_STR(sv(iw_event_get(&ev, IW_F_RAW)), "AH00126: Invalid URI in request GET /%%%");
    CHECK_STR(sv(iw_event_get(&ev, IW_F_DATE)), "2000-10-11");
    CHECK_STR(sv(iw_event_get(&ev, IW_F_PID)), "5");
}

/* More headers than a line keeps: the rest are counted into `dropped`
 * (the event's iw-truncated), never silently lost; a repeated "headers"
 * key starts over. */
TEST(logfmt_jsonl_headers_past_the_limit_counted)
{
    static char line[32768];
    static iw_parsed_t o;
    const char *why = NULL;
    size_t n = 0, want = 0;
    int i, total = IW_LOGFMT_MAX_HEADERS + 10;

    n += (size_t)sprintf(line + n, "{\"method\":\"GET\",\"uri\":\"/\",\"headers\":{");
    for (i = 0; i < total; i++) {
        n += (size_t)sprintf(line + n, "%s\"X-H%d\":\"v%d\"", i ? "," : "", i, i);
        if (i >= IW_LOGFMT_MAX_HEADERS)   /* "X-H%d" + "v%d" + ": \n" */
            want += 2 * (size_t)snprintf(NULL, 0, "%d", i) + 3 + 1 + 3;
    }
    sprintf(line + n, "}}");
    memset(&o, 0, sizeof(o));
    o.buf = pbuf;
    o.buf_size = sizeof(pbuf);
    REQUIRE(iw_logfmt_parse(IW_INPUT_JSONL, line, strlen(line), &o, &why));
    CHECK_INT(o.req.nhdrs, IW_LOGFMT_MAX_HEADERS);
    CHECK_INT(o.req.dropped, want);
    memset(&o, 0, sizeof(o));
    o.buf = pbuf;
    o.buf_size = sizeof(pbuf);
    REQUIRE(iw_logfmt_parse(IW_INPUT_JSONL, "{\"method\":\"GET\",\"uri\":\"/\",\"headers\":{\"A\":\"b\"}}",
                            46, &o, &why));
    CHECK_INT(o.req.dropped, 0);
}

/* jsonl "body": the request body (cs-body); null = none. */
TEST(logfmt_jsonl_body)
{
    static iw_parsed_t o;
    const char *why = NULL;
    const char *l1 = "{\"method\":\"POST\",\"uri\":\"/l\",\"body\":\"a=1&b=%27\"}";
    const char *l2 = "{\"method\":\"POST\",\"uri\":\"/l\",\"body\":null}";
    const char *l3 = "{\"method\":\"POST\",\"uri\":\"/l\",\"body\":5}";

    REQUIRE(parse(IW_INPUT_JSONL, l1, &o, &why));
    CHECK_STR(sv(o.req.body), "a=1&b=%27");
    REQUIRE(parse(IW_INPUT_JSONL, l2, &o, &why));
    CHECK(o.req.body.p == NULL);
    CHECK(!parse(IW_INPUT_JSONL, l3, &o, &why));
    CHECK_CONTAINS(why, "\"body\" must be a string");
}
