/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_logfmt: random and mutated input lines through every log parser, the
 * event builders and every lazy view.  Deterministic PRNG (IW_FUZZ_SEED),
 * bounded by time (IW_FUZZ_SECONDS, default 3) and iterations
 * (IW_FUZZ_ITERS).  Seeds: built-in lines plus lines of the shared corpus
 * ($IW_SRCDIR/../shared/corpus).  Buffers are malloc'ed at their exact size
 * so ASan sees any overrun.  Prints "fuzz_logfmt: N passed, M failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <apr_general.h>
#include <sys/stat.h>
#include "iw_logfmt.h"
#include "iw_decode.h"
#include "iw_param.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static long __attribute__((unused)) passed, failed, parsed_ok;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return rng_state = x;
}

static size_t rn(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

#ifdef IW_LIBFUZZER            /* libFuzzer keeps the input of an abort */
#define FAIL(...) do { fprintf(stderr, "fuzz_logfmt: "); fprintf(stderr, __VA_ARGS__); \
        fputc('\n', stderr); abort(); } while (0)
#else
#define FAIL(...) do { failed++; if (failed <= 20) {                        \
        fprintf(stderr, "fuzz_logfmt: "); fprintf(stderr, __VA_ARGS__);     \
        fputc('\n', stderr); } } while (0)
#endif

/* ---- seeds ------------------------------------------------------------------ */

#define MAX_SEEDS 600
static char *seeds[MAX_SEEDS];
static int nseeds;

static const char *const builtin[] = {
    "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 \"http://x/\" \"Mozilla/4.08\"",
    "vh:443 ::1 - - [10/Oct/2000:13:55:36 +0000] \"GET /a%2e%2e/%c0%af?x=%u0041+y HTTP/1.1\" 404 - \"-\" \"a\\\"b\\x00\"",
    "[17/Dec/2005:02:40:45 -0500] - - 85.226.238.xxx \"GET /awstats.pl?configdir=|echo; HTTP/1.1\" \"-\" 302 547 0",
    "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 1234:tid 5678] [client 1.2.3.4:5678] AH01630: client denied by server configuration: /path",
    "[Fri Dec 16 01:46:23 2005] [error] [client 1.2.3.4] Directory index forbidden by rule: /home/test/",
    "[Wed Oct 11 14:32:52 2000] [core:error] [pid 9:tid 1] (13)Permission denied: [client 10.0.0.2:4000] AH00035: access",
    "{\"id\":\"a\",\"method\":\"GET\",\"uri\":\"/..%252f..%252f?q=\\u0041\\ud83d\\ude00\",\"version\":\"HTTP/1.1\","
        "\"headers\":{\"Host\":\"h\",\"User-Agent\":\"${jndi:ldap://x}\",\"Cookie\":[\"a\",\"b\"]},"
        "\"status\":200,\"client\":\"1.2.3.4\",\"time\":\"2024-01-02T03:04:05.5+01:00\",\"x\":[1,{\"y\":null}]}",
    "{\"method\":\"CONNECT\",\"uri\":\"host:443\",\"time\":1700000000.5}",
    "{\"method\":\"GET\",\"uri\":\"http://evil/a/../b?c\",\"headers\":{}}",
    /* per-parameter views: repeated and empty names, '+', bad '%', cookies, bodies */
    "{\"method\":\"POST\",\"uri\":\"/f?a=1&a=2&=x&&b&c=%zz%4+%2B&d=%2527\",\"headers\":"
        "{\"Cookie\":\"s=1; u=\\\"a b\\\";  t = 2 ;;x\",\"Content-Type\":\"application/json\"},"
        "\"body\":\"{\\\"k\\\":[1,\\\"v\\\\u0000w\\\",{\\\"n\\\":null}],\\\"\\\":true}\"}",
    "{\"method\":\"POST\",\"uri\":\"/f\",\"headers\":{\"Content-Type\":"
        "\"application/x-www-form-urlencoded\"},\"body\":\"user=%27+or+1%3D1--&p=a%26b\"}",
};

static void add_seed(const char *s, size_t len)
{
    char *c;

    if (nseeds >= MAX_SEEDS) return;
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r')) len--;
    if (!len || !(c = malloc(len + 1))) return;
    memcpy(c, s, len);
    c[len] = '\0';
    seeds[nseeds++] = c;
}

/* Every k-th line of a corpus file (a spread, not just the first lines). */
static void load_file(const char *dir, const char *rel, int every, int max)
{
    char path[1024], line[16384];
    FILE *f;
    int n = 0, got = 0;

    snprintf(path, sizeof(path), "%s/../shared/corpus/%s", dir, rel);
    if (!(f = fopen(path, "rb"))) {
        fprintf(stderr, "fuzz_logfmt: note: %s not found, built-in seeds only\n", path);
        return;
    }
    while (got < max && fgets(line, sizeof(line), f)) {
        const char *s = line;
        if (n++ % every) continue;
        while (*s == ' ') s++;
        if (*s == '\n' || *s == '.' || *s == '^' || *s == '*') continue;
        add_seed(s, strlen(s));
        got++;
    }
    fclose(f);
}

/* ---- input generation ------------------------------------------------------ */

static const char *const tokens[] = {
    "%", "%2", "%25", "%252e", "%u", "%uD800", "%uff0e", "%c0%ae", "%e0%80%af",
    "%00", "\\", "\\\"", "\\x", "\\x0", "\\u", "\\ud800", "\\udc00\\u", "\"",
    "[", "]", "{", "}", ":", ",", "-", " ", "\t", "\r\n", "/../", "/./", "//",
    "99999999999999999999999999", "1e400", "-0", "null", "true", "[]", "{}",
    "\xc0", "\xff\xfe", "\xed\xa0\x80", "HTTP/1.1", "[client ", "AH0", "?",
    "+", "%c0%00%af", "\xc1", "%e0%80", "%%", "%u002", "\0",
};

static __attribute__((unused)) size_t gen_random(char *b, size_t cap)
{
    static const char alpha[] = "%./\\\"[]{}:,0123456789aAuUx- ";
    size_t n = rn(cap), i;
    int mode = (int)rn(3);

    for (i = 0; i < n; i++) {
        if (mode == 0) b[i] = (char)rnd();
        else if (mode == 1) b[i] = (char)(32 + rn(95));
        else b[i] = alpha[rn(sizeof(alpha) - 1)];
    }
    return n;
}

static size_t insert(char *b, size_t n, size_t cap, const char *s, size_t sl)
{
    size_t at = rn(n + 1);

    if (n + sl > cap) return n;
    memmove(b + at + sl, b + at, n - at);
    memcpy(b + at, s, sl);
    return n + sl;
}

/* Mutations of a seed: byte flips, token insertions, truncation, cutting a
 * chunk, and blowing a field up to ~8 KB. */
static __attribute__((unused)) size_t gen_mutated(char *b, size_t cap)
{
    const char *s = seeds[rn((size_t)nseeds)];
    size_t n = strlen(s), k, m = 1 + rn(6);

    if (n > cap) n = cap;
    memcpy(b, s, n);
    for (k = 0; k < m; k++) {
        size_t at = rn(n + 1), t;
        switch (rn(6)) {
        case 0: if (n) b[rn(n)] = (char)rnd(); break;
        case 1:
            t = rn(sizeof(tokens) / sizeof(tokens[0]));
            n = insert(b, n, cap, tokens[t], t == sizeof(tokens) / sizeof(tokens[0]) - 1
                                              ? 1 : strlen(tokens[t]));
            break;
        case 2: n = at; break;                                     /* truncate */
        case 3: if (at < n) { size_t c = rn(n - at + 1);           /* cut */
                    memmove(b + at, b + at + c, n - at - c); n -= c; } break;
        case 4: {                                                  /* 8 KB run */
            size_t len = 4096 + rn(5000);
            char ch = "A%/.\\a"[rn(6)];
            if (n + len <= cap) {
                memmove(b + at + len, b + at, n - at);
                memset(b + at, ch, len);
                n += len;
            }
            break; }
        default: {                                                 /* repeat */
            char rep[64];
            size_t c = rn(sizeof(rep));
            if (at + c <= n && n + c <= cap) {
                memcpy(rep, b + at, c);
                n = insert(b, n, cap, rep, c);
            }
            break; }
        }
    }
    return n;
}

/* ---- checks ---------------------------------------------------------------- */

static int within(iw_str_t v, const char *lo, size_t size)
{
    return lo && v.p >= lo && v.p + v.len <= lo + size;
}

/* A path-normalised view has no ".", ".." or empty segments inside. */
static int path_clean(iw_str_t v)
{
    size_t i = 0, j;

    while (i < v.len) {
        for (j = i; j < v.len && v.p[j] != '/' && v.p[j] != '\\'; j++)
            if (v.p[j] == '\0') return 0;
        if (j < v.len && v.p[j] == '\\') return 0;
        if ((j - i == 1 && v.p[i] == '.') || (j - i == 2 && v.p[i] == '.' && v.p[i + 1] == '.'))
            return 0;
        if (j - i == 0 && i != 0 && j < v.len) return 0;          /* "//" */
        i = j + 1;
    }
    return 1;
}

/* The decoder is a fixpoint: what it returns decodes to itself (a '+' it
 * kept decodes as '+': the query view's second pass is flag 0). */
static void check_fixpoint(const char *what, iw_str_t v, int flags)
{
    char *again;
    size_t n;

    if (!v.p || v.len > 70000) return;
    again = malloc(v.len + 1);
    n = iw_decode_full(v.p, v.len, again, flags & ~IW_DECODE_PLUS);
    if (n != v.len || memcmp(again, v.p, n))
        FAIL("%s not a fixpoint: %.*s", what, (int)(v.len < 200 ? v.len : 200), v.p);
    free(again);
}

/* The same for any bytes, in every mode (exact-size buffers for ASan). */
static void check_decode(const char *b, size_t n)
{
    static const int modes[] = { 0, IW_DECODE_PLUS, IW_DECODE_PATH };
    char *out = malloc(n + 1);
    size_t k, m;

    for (k = 0; k < 3; k++) {
        m = iw_decode_full(b, n, out, modes[k]);
        if (m > n || out[m] != '\0') { FAIL("decode grew or unterminated"); break; }
        if (memchr(out, '\0', m)) FAIL("decode left a NUL");
        check_fixpoint("decode", (iw_str_t){ out, m }, modes[k]);
    }
    free(out);
}

/* Decoding + normalising is idempotent: a decoded stem without '?' used as
 * a new target decodes to itself (through the event, fast path included). */
static void check_idempotent(iw_str_t v)
{
    static char eb[65536];
    iw_request_desc_t d;
    iw_event_t ev;
    iw_str_t w;

    if (!v.p || v.len > 20000 || memchr(v.p, '?', v.len))
        return;
    memset(&d, 0, sizeof(d));
    d.method = (iw_str_t){ "GET", 3 };
    d.target = v;
    d.sc_bytes = d.cs_bytes = d.time_taken_ms = -1;
    iw_event_init(&ev, eb, sizeof(eb));
    iw_event_from_request(&ev, &d);
    w = iw_event_get(&ev, IW_F_CS_URI_STEM_DEC);
    if (ev.val[IW_F_CS_URI_STEM].len == v.len   /* no scheme/authority cut */
        && (!w.p || w.len != v.len || memcmp(w.p, v.p, v.len)))
        FAIL("stem view not idempotent: %.*s", (int)(v.len < 200 ? v.len : 200), v.p);
}

/* ---- per-parameter views (iw_param.h) ---- */

/* Pairs, names and values of one source agree value by value: pair =
 * name or name '=' value; no value holds a NUL (they are the separator);
 * query and cookie values are fixpoints of their decoder. */
static void check_param_lists(const char *what, iw_str_t pairs, iw_str_t names, iw_str_t values,
                              int decoded)
{
    size_t pp = 0, pn = 0, pv = 0;
    iw_str_t a, b, c;
    int k = 0;

    if (!pairs.p != !names.p || !pairs.p != !values.p) { FAIL("%s: views disagree on absence", what); return; }
    while (iw_param_next(pairs, &pp, &a)) {
        k++;
        if (!iw_param_next(names, &pn, &b) || !iw_param_next(values, &pv, &c)) {
            FAIL("%s: fewer names/values than pairs", what);
            return;
        }
        if (a.len < b.len || memcmp(a.p, b.p, b.len)
            || (a.len > b.len && (a.p[b.len] != '=' || a.len != b.len + 1 + c.len
                                  || memcmp(a.p + b.len + 1, c.p, c.len)))
            || (a.len == b.len && c.len))
            FAIL("%s: pair %d is not name=value", what, k);
        if (decoded) {
            check_fixpoint(what, b, 0);
            check_fixpoint(what, c, 0);
        }
    }
    if (iw_param_next(names, &pn, &b) || iw_param_next(values, &pv, &c))
        FAIL("%s: more names/values than pairs", what);
}

static void check_param_views(iw_event_t *ev)
{
    int64_t n;

    check_param_lists("query params", iw_event_get(ev, IW_F_QP), iw_event_get(ev, IW_F_QP_NAME),
                      iw_event_get(ev, IW_F_QP_VALUE), 1);
    check_param_lists("cookie params", iw_event_get(ev, IW_F_CP), iw_event_get(ev, IW_F_CP_NAME),
                      iw_event_get(ev, IW_F_CP_VALUE), 1);
    check_param_lists("body params", iw_event_get(ev, IW_F_BP), iw_event_get(ev, IW_F_BP_NAME),
                      iw_event_get(ev, IW_F_BP_VALUE), 0);
    if (iw_event_num(ev, IW_F_PARAMS_DROPPED, &n) && n <= 0) FAIL("iw-params-dropped %lld", (long long)n);
}

/* The splitter on any bytes, in every syntax, with a full and a random
 * room (exact-size buffers for ASan): never past the room, every
 * parameter either kept or counted. */
static void check_split(const char *b, size_t n)
{
    static const iw_param_syntax_t syn[] = { IW_PARAM_QUERY, IW_PARAM_COOKIE, IW_PARAM_JSON };
    size_t k, room, used, count;
    iw_param_views_t v;
    char *out;

    for (k = 0; k < 3; k++) {
        count = iw_param_count(b, n, syn[k]);
        room = rn(3) ? 2 * IW_PARAM_ROOM(n) : rn(IW_PARAM_ROOM(n) + 1);
        out = malloc(room ? room : 1);
        used = iw_param_split(b, n, syn[k], out, room, &v);
        if (used > room) FAIL("split past its room (%zu > %zu)", used, room);
        if (v.n + v.dropped != count) FAIL("split kept %u + dropped %zu of %zu", v.n, v.dropped, count);
        if (v.n > IW_PARAMS_MAX) FAIL("split kept %u", v.n);
        if (syn[k] != IW_PARAM_JSON && room >= IW_PARAM_ROOM(n) && v.dropped != (count > IW_PARAMS_MAX
                                                                              ? count - IW_PARAMS_MAX : 0))
            FAIL("split dropped %zu with room for all", v.dropped);
        check_param_lists("split", v.pairs, v.names, v.values, syn[k] != IW_PARAM_JSON);
        free(out);
    }
}

static void check_event(iw_event_t *ev, const char *line, size_t len,
                        const iw_parsed_t *o)
{
    int f;
    int64_t num;

    for (f = 0; f < IW_F__COUNT; f++) {
        iw_str_t v = iw_event_get(ev, (iw_field_id_t)f);
        (void)iw_event_num(ev, (iw_field_id_t)f, &num);
        if (!v.p) continue;
        if (!within(v, ev->buf, ev->buf_size) && !within(v, line, len)
            && !within(v, o->buf, o->buf_size) && !within(v, o->id, sizeof(o->id))
            && !(v.len == 0 || (v.len == 1 && v.p[0] == '/')))
            FAIL("field %s points outside every buffer", iw_field_name((iw_field_id_t)f));
    }
    if (ev->buf_used > ev->buf_size) FAIL("event buffer overrun");
    if (ev->val[IW_F_CS_URI_STEM_DEC].p && !path_clean(ev->val[IW_F_CS_URI_STEM_DEC]))
        FAIL("stem view not normalised: %.*s", (int)ev->val[IW_F_CS_URI_STEM_DEC].len,
             ev->val[IW_F_CS_URI_STEM_DEC].p);
    check_idempotent(ev->val[IW_F_CS_URI_STEM_DEC]);
    /* every decoded view is a fixpoint of its decoder (views cut by a
     * small work buffer included: the cut is made before decoding) */
    check_fixpoint("stem view", ev->val[IW_F_CS_URI_STEM_DEC], IW_DECODE_PATH);
    check_fixpoint("query view", ev->val[IW_F_CS_URI_QUERY_DEC], IW_DECODE_PLUS);
    check_fixpoint("header view", ev->val[IW_F_CS_HEADERS_DEC], 0);
    check_param_views(ev);
}

/* One line through one format, then the event and all views. */
static void run_line(const char *line, size_t len, iw_input_format_t fmt)
{
    size_t psize = rn(8) ? 2 * len + 64 : rn(2 * len + 64);
    size_t esize = rn(4) ? 65536 : rn(512);
    char *pb = malloc(psize ? psize : 1), *eb = malloc(esize ? esize : 1);
    iw_parsed_t o;
    iw_event_t ev;
    const char *why = NULL;
    int ok;

    memset(&o, 0, sizeof(o));
    o.buf = pb;
    o.buf_size = psize;
    ok = iw_logfmt_parse(fmt, line, len, &o, &why);
    if (!ok && !why) FAIL("malformed without a reason");
    if (o.buf_used > o.buf_size) FAIL("parse buffer overrun");
    if (ok && o.type == IW_EV_ACCESS && (!o.req.method.p || !o.req.target.p))
        FAIL("access event without method/target");
    if (ok) {
        parsed_ok++;
        iw_event_init(&ev, esize ? eb : NULL, esize);
        if (o.type == IW_EV_ERROR) iw_event_from_error(&ev, &o.err);
        else iw_event_from_request(&ev, &o.req);
        check_event(&ev, line, len, &o);
    }
    free(pb);
    free(eb);
}

/* Random request description straight into the builder (no parser). */
static void run_desc(char *b, size_t n)
{
    iw_str_t hn[3], hv[3];
    iw_request_desc_t d;
    iw_parsed_t dummy;
    size_t esize = rn(3) ? 65536 : rn(300), cut1 = rn(n + 1), cut2 = cut1 + rn(n - cut1 + 1);
    char *eb = malloc(esize ? esize : 1);
    iw_event_t ev;
    char *dec = malloc(n + 1);
    static const char *const methods[] = { "GET", "CONNECT", "", "OPTIONS" };

    memset(&d, 0, sizeof(d));
    memset(&dummy, 0, sizeof(dummy));
    /* the method lives in dummy.id so check_event knows its memory */
    snprintf(dummy.id, sizeof(dummy.id), "%s", methods[rn(4)]);
    d.method = (iw_str_t){ dummy.id, strlen(dummy.id) };
    d.target = (iw_str_t){ b, cut1 };
    hn[0] = (iw_str_t){ "User-Agent", 10 }; hv[0] = (iw_str_t){ b + cut1, cut2 - cut1 };
    hn[1] = (iw_str_t){ "host", 4 };        hv[1] = (iw_str_t){ b + cut2, n - cut2 };
    hn[2] = (iw_str_t){ NULL, 0 };          hv[2] = (iw_str_t){ NULL, 0 };
    d.hdr_names = hn; d.hdr_values = hv; d.nhdrs = (int)rn(4);
    d.status = (int)rn(1000); d.sc_bytes = (int64_t)rnd() >> 1; d.cs_bytes = -1;
    d.time_taken_ms = (int64_t)rnd(); d.time = (apr_time_t)(rnd() % 400000000000000000ull);
    iw_event_init(&ev, esize ? eb : NULL, esize);
    iw_event_from_request(&ev, &d);
    check_event(&ev, b, n, &dummy);
    if (iw_decode_once(b, n, dec, (int)rn(2)) > n) FAIL("decode grew");
    check_decode(b, n);
    free(dec);
    free(eb);
}

static __attribute__((unused)) double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void load_seeds(void)
{
    const char *dir = getenv("IW_SRCDIR");
    size_t k;

    for (k = 0; k < sizeof(builtin) / sizeof(builtin[0]); k++)
        add_seed(builtin[k], strlen(builtin[k]));
    if (!dir) dir = ".";
    load_file(dir, "benign/elastic-apache.log", 50, 200);
    load_file(dir, "crs-requests.jsonl", 13, 200);
    load_file(dir, "ossec/apache.rst", 1, 100);
    load_file(dir, "ossec/apache_attacks.rst", 1, 100);
}

/* One input through everything: each parser, the request builder, the
 * decoder in every mode.  The buffer sizes the checks pick come from a
 * hash of the input, so a case replays the same. */
static void one_case(const char *line, size_t n)
{
    apr_time_t t;
    size_t k;

    rng_state = 0x9E3779B97F4A7C15ull;
    for (k = 0; k < n; k++) rng_state = (rng_state ^ (unsigned char)line[k]) * 0x100000001B3ull;
    rng_state |= 1;
    for (k = 0; k < 4; k++) run_line(line, n, (iw_input_format_t)k);
    if (iw_logfmt_detect(line, n) > IW_INPUT_JSONL) FAIL("detect out of range");
    (void)iw_parse_clf_time(line, n < 40 ? n : 40, &t);
    run_desc((char *)line, n);
    check_split(line, n);
}

#ifdef IW_LIBFUZZER
/* libFuzzer (make fuzz): IW_FUZZ_WRITE_SEEDS=DIR writes the seeds, one
 * file each, and exits. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *w = getenv("IW_FUZZ_WRITE_SEEDS");
    char path[2048];
    int k;

    (void)argc; (void)argv;
    apr_initialize();
    if (!w) return 0;
    load_seeds();
    mkdir(w, 0755);
    for (k = 0; k < nseeds; k++) {
        FILE *f;
        snprintf(path, sizeof(path), "%s/seed-%04d", w, k);
        if (!(f = fopen(path, "wb"))) { perror(path); exit(1); }
        fputs(seeds[k], f);
        fclose(f);
    }
    fprintf(stderr, "fuzz_logfmt: %d seeds written to %s\n", nseeds, w);
    exit(0);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *line = malloc(size ? size : 1);      /* run_desc writes nothing: a copy for ASan */
    memcpy(line, data, size);
    one_case(line, size);
    free(line);
    return 0;
}
#else
int main(void)
{
    const char *e;
    double limit = 3.0, t0;
    long iters = 2000000, i;
    size_t cap = 20000, k;
    uint64_t rng;
    char *b;
    apr_time_t t;

    apr_initialize();
    if ((e = getenv("IW_FUZZ_SEED"))) rng_state = strtoull(e, NULL, 0) | 1;
    if ((e = getenv("IW_FUZZ_SECONDS"))) limit = atof(e);
    if ((e = getenv("IW_FUZZ_ITERS"))) iters = atol(e);
    load_seeds();
    rng = rng_state;
    for (k = 0; k < (size_t)nseeds; k++) {      /* each seed as it is, all the ways */
        size_t n = strlen(seeds[k]);
        char *line = malloc(n ? n : 1);
        memcpy(line, seeds[k], n);
        one_case(line, n);
        free(line);
    }
    rng_state = rng;
    b = malloc(cap);
    t0 = now_sec();
    for (i = 0; i < iters && now_sec() - t0 < limit; i++) {
        size_t n = rn(4) ? gen_mutated(b, cap) : gen_random(b, 9000);
        char *line = malloc(n ? n : 1);          /* exact size: ASan bounds */
        long before = failed;
        memcpy(line, b, n);
        run_line(line, n, (iw_input_format_t)rn(4));
        if (iw_logfmt_detect(line, n) > IW_INPUT_JSONL) FAIL("detect out of range");
        (void)iw_parse_clf_time(line, n < 40 ? n : 40, &t);
        if (!rn(4)) run_desc(line, n);
        free(line);
        if (failed == before) passed++;
    }
    free(b);
    for (k = 0; k < (size_t)nseeds; k++) free(seeds[k]);
    apr_terminate();
    /* One fuzz driver is one test in make test's tally; the cases are detail. */
    printf("fuzz_logfmt: %d passed, %d failed (%ld cases ok, %ld bad, %d seeds, "
           "%ld lines parsed into events)\n", failed ? 0 : 1, failed ? 1 : 0,
           passed, failed, nseeds, parsed_ok);
    return failed ? 1 : 0;
}
#endif
