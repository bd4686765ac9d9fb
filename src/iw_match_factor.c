/* SPDX-License-Identifier: Apache-2.0 */
/* iw_match_factor: required literals and line locality of regexes (see
 * iw_match_factor.h).
 *
 * One recursive pass over the pattern computes for every node:
 * - exact: a set of strings holding every string the node can match
 *   (unknown when it would be large: classes of more than a few bytes,
 *   unbounded repeats, long cross products);
 * - req: a set of strings every match of the node contains (none when no
 *   such small set is known);
 * - nl: whether the node can consume an LF byte.
 * A concatenation joins the exact sets of adjacent items into runs (the
 * cross product); every finished run is a valid required set, because a
 * match of the concatenation contains the items' matches next to each
 * other.  Of all candidate sets the one with the longest shortest literal
 * wins.  Assertions and lookarounds match the empty string: they only
 * narrow what matches, so leaving them out keeps every set valid. */
#include <string.h>
#include <apr_strings.h>
#include "iw_match_factor.h"
#include "iw_match_plain.h"

#define EXACT_CAP 64               /* strings in an exact set */
#define EXACT_LEN 64               /* bytes in one of them */
#define CLASS_CAP 10               /* bytes of a class kept as an exact set */

typedef struct sset {
    int n;                         /* < 0: unknown / none */
    iw_match_factor_lit_t *s;
    long pre;                      /* as a required set: most bytes of a match before
                                    * the literal (-1: no bound) */
} sset_t;

typedef struct info {
    sset_t exact, req;
    int nl;
    long maxlen;                   /* longest match (-1: no bound) */
} info_t;

/* lengths with -1 for "no bound" */
static long len_add(long a, long b) { return a < 0 || b < 0 ? -1 : a + b > 1L << 30 ? -1 : a + b; }
static long len_max(long a, long b) { return a < 0 || b < 0 ? -1 : a > b ? a : b; }
static long len_mul(long a, int k)  /* k < 0: unbounded repeat */
{
    if (a == 0 || k == 0) return 0;
    if (a < 0 || k < 0 || a > (1L << 30) / k) return -1;
    return a * k;
}

typedef struct pst {
    apr_pool_t *p;
    const char *s, *end;
    unsigned opts;
    int bail;                      /* not understood */
    int look;                      /* depth of lookarounds */
    int bad_look;                  /* an assertion a window answers differently */
} pst_t;

static const sset_t UNKNOWN = { -1, NULL, 0 };

static unsigned char fold(const pst_t *st, unsigned char c)
{
    return (st->opts & IW_MATCH_FACTOR_CASELESS) && c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static sset_t set_empty_string(pst_t *st)
{
    sset_t r;
    r.n = 1;
    r.pre = 0;
    r.s = apr_palloc(st->p, sizeof(*r.s));
    r.s[0].b = (const unsigned char *)"";
    r.s[0].len = 0;
    return r;
}

static int set_has(const sset_t *a, const unsigned char *b, size_t len)
{
    int i;
    for (i = 0; i < a->n; i++)
        if (a->s[i].len == len && !memcmp(a->s[i].b, b, len)) return 1;
    return 0;
}

/* bytes of a class (set[256]) as an exact set of single bytes */
static sset_t set_bytes(pst_t *st, const unsigned char *set)
{
    unsigned char seen[256];
    sset_t r = { 0, NULL, 0 };
    int i, n = 0;

    if (set['\n']) return UNKNOWN;            /* a required literal lies in one line */
    memset(seen, 0, sizeof(seen));
    for (i = 0; i < 256; i++)
        if (set[i] && !seen[fold(st, (unsigned char)i)]) { seen[fold(st, (unsigned char)i)] = 1; n++; }
    if (n == 0 || n > CLASS_CAP) return UNKNOWN;
    r.s = apr_palloc(st->p, sizeof(*r.s) * (size_t)n);
    for (i = 0; i < 256; i++)
        if (seen[i]) {
            unsigned char *b = apr_palloc(st->p, 1);
            b[0] = (unsigned char)i;
            r.s[r.n].b = b;
            r.s[r.n++].len = 1;
        }
    return r;
}

static sset_t set_byte(pst_t *st, unsigned char c)
{
    unsigned char set[256];
    memset(set, 0, sizeof(set));
    set[c] = 1;
    return set_bytes(st, set);
}

static sset_t set_cross(pst_t *st, sset_t a, sset_t b)
{
    sset_t r = { 0, NULL, 0 };
    int i, k;

    if (a.n < 0 || b.n < 0 || (long)a.n * b.n > EXACT_CAP) return UNKNOWN;
    r.s = apr_palloc(st->p, sizeof(*r.s) * (size_t)(a.n * b.n));
    for (i = 0; i < a.n; i++)
        for (k = 0; k < b.n; k++) {
            size_t len = a.s[i].len + b.s[k].len;
            unsigned char *m;
            if (len > EXACT_LEN) return UNKNOWN;
            m = apr_palloc(st->p, len + 1);
            memcpy(m, a.s[i].b, a.s[i].len);
            memcpy(m + a.s[i].len, b.s[k].b, b.s[k].len);
            if (set_has(&r, m, len)) continue;
            r.s[r.n].b = m;
            r.s[r.n++].len = len;
        }
    return r;
}

static sset_t set_union(pst_t *st, sset_t a, sset_t b, int cap)
{
    sset_t r = { 0, NULL, 0 };
    int i;

    if (a.n < 0 || b.n < 0 || a.n + b.n > cap) return UNKNOWN;
    r.s = apr_palloc(st->p, sizeof(*r.s) * (size_t)(a.n + b.n + 1));
    for (i = 0; i < a.n; i++)
        if (!set_has(&r, a.s[i].b, a.s[i].len)) r.s[r.n++] = a.s[i];
    for (i = 0; i < b.n; i++)
        if (!set_has(&r, b.s[i].b, b.s[i].len)) r.s[r.n++] = b.s[i];
    return r;
}

static size_t set_minlen(const sset_t *a)
{
    size_t m = (size_t)-1;
    int i;
    for (i = 0; i < a->n; i++) if (a->s[i].len < m) m = a->s[i].len;
    return a->n > 0 ? m : 0;
}

/* A usable required set: known, not empty, no empty string in it. */
static int set_usable(const sset_t *a) { return a->n > 0 && set_minlen(a) > 0; }

/* How often a byte occurs in ordinary header text (case folded), a rough
 * model: letters and digits often, the separators of URLs, cookies and
 * user agents sometimes, the syntax of code and injections rarely. */
static double byte_freq(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return 0.04;
    switch (c) {
    case ' ': case '/': case '.': case '=': case ';': case ',': case '-': case ':':
    case '%': case '&': case '_':
        return 0.02;
    case '(': case ')': case '"': case '+': case '?': case '*':
        return 0.008;
    default:
        return 0.001;
    }
}

/* Words that ordinary requests carry in their headers (lower case): a
 * literal inside one of them hits on most requests, whatever its bytes. */
static const char TYPICAL[] =
    "host: user-agent: mozilla/5.0 (windows nt 10.0; win64; x64) applewebkit/537.36 "
    "(khtml, like gecko) chrome/120.0.0.0 safari/537.36 edg/ firefox/ gecko/20100101 "
    "macintosh; intel mac os x linux; android iphone; cpu iphone os like mac os x mobile/ "
    "version/ opera/ accept: text/html,application/xhtml+xml,application/xml;q=0.9,"
    "image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7 "
    "application/json, text/plain, text/css, text/javascript "
    "accept-language: en-us,en;q=0.9,de;q=0.8 accept-encoding: gzip, deflate, br, zstd "
    "connection: keep-alive upgrade-insecure-requests: 1 sec-fetch-dest: document "
    "sec-fetch-mode: navigate cors sec-fetch-site: same-origin none cross-site "
    "sec-fetch-user: ?1 sec-ch-ua: \"not_a brand\";v=\"8\", \"chromium\";v=\"120\", "
    "\"google chrome\" sec-ch-ua-mobile: ?0 sec-ch-ua-platform: \"windows\" priority: u=0, i "
    "referer: https://www.example.com/index.html?q=search&page=2 "
    "cookie: session=; _ga=ga1.1.; _gid=; csrftoken=; consent=analytics functional "
    "marketing preferences; theme=dark; lang=en; tz=europe/berlin; user_id=; token= "
    "cache-control: max-age=0 no-cache pragma: if-none-match: "
    "if-modified-since: mon, 01 jan 2024 00:00:00 gmt content-type: "
    "application/x-www-form-urlencoded; charset=utf-8 multipart/form-data; boundary= "
    "content-length: origin: x-requested-with: xmlhttprequest dnt: 1 te: trailers "
    "authorization: bearer basic x-forwarded-for: x-real-ip: googlebot bingbot yandex "
    "baiduspider curl/ wget/ python-requests/ go-http-client/ java/ okhttp/";

static int typical(const iw_match_factor_lit_t *l)
{
    size_t i, k;
    if (l->len > 24) return 0;
    for (i = 0; i + l->len < sizeof(TYPICAL); i++) {
        for (k = 0; k < l->len; k++) {
            unsigned char c = l->b[k];
            if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
            if ((unsigned char)TYPICAL[i + k] != c) break;
        }
        if (k == l->len) return 1;
    }
    return 0;
}

/* The chance that one literal of the set starts at a given position of
 * ordinary text: what a per-line scan for it would hit. */
static double set_cost(const sset_t *a)
{
    double sum = 0;
    int i;
    size_t k;
    for (i = 0; i < a->n; i++) {
        double p = 1;
        for (k = 0; k < a->s[i].len && p > 1e-12; k++) p *= byte_freq(a->s[i].b[k]);
        if (p < 0.01 && typical(&a->s[i])) p = 0.01;
        sum += p;
    }
    return sum;
}

/* Is a better than b as a required set?  The rarer one. */
static int set_better(const sset_t *a, const sset_t *b)
{
    if (!set_usable(a)) return 0;
    if (!set_usable(b)) return 1;
    return set_cost(a) < set_cost(b);
}

static void consider(sset_t *best, sset_t cand)
{
    if (set_better(&cand, best)) *best = cand;
}

/* What a node guarantees: its exact set if usable, else its req. */
static sset_t info_best(const info_t *in)
{
    sset_t b = in->req;
    consider(&b, in->exact);
    return set_usable(&b) ? b : UNKNOWN;
}

static info_t info_zero(pst_t *st)      /* an assertion: matches "" */
{
    info_t r;
    r.exact = set_empty_string(st);
    r.req = UNKNOWN;
    r.nl = 0;
    r.maxlen = 0;
    return r;
}

static info_t info_any(int nl)          /* a class too large to list */
{
    info_t r;
    r.exact = UNKNOWN;
    r.req = UNKNOWN;
    r.nl = nl;
    r.maxlen = 1;
    return r;
}

static info_t info_set(pst_t *st, const unsigned char *set)
{
    info_t r;
    r.exact = set_bytes(st, set);
    r.req = UNKNOWN;
    r.nl = set['\n'] != 0;
    r.maxlen = 1;
    return r;
}

static info_t alt(pst_t *st);

/* A simple escaped byte (\n \t \xhh ...) after the backslash: the byte,
 * or -1 when e is no such escape. */
static int byte_escape(pst_t *st, int e)
{
    switch (e) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'f': return '\f';
    case 'e': return 27;
    case 'a': return 7;
    case 'x': { int v = iw_match_plain_hex_escape(&st->s, st->end); return v > 255 ? -1 : v; }
    default:
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) return -1;
        return e;                      /* escaped punctuation */
    }
}

/* After '[': the class as a byte set. */
static info_t char_class(pst_t *st)
{
    unsigned char set[256];
    int neg = 0, first = 1, prev = -1, c, i;

    memset(set, 0, sizeof(set));
    if (st->s < st->end && *st->s == '^') { neg = 1; st->s++; }
    for (;;) {
        int escaped = 0;
        if (st->s >= st->end) { st->bail = 1; return info_any(1); }
        c = (unsigned char)*st->s++;
        if (c == ']' && !first) break;
        first = 0;
        if (c == '[' && st->s < st->end && (*st->s == ':' || *st->s == '.' || *st->s == '=')) {
            st->bail = 1;              /* POSIX classes: not modelled */
            return info_any(1);
        }
        if (c == '\\') {
            int e;
            if (st->s >= st->end) { st->bail = 1; return info_any(1); }
            e = (unsigned char)*st->s++;
            escaped = 1;
            if (iw_match_plain_class_escape(e, set)) { prev = -1; continue; }
            if (e == 'b') c = 8;
            else if ((c = byte_escape(st, e)) < 0) { st->bail = 1; return info_any(1); }
        }
        if (c == '-' && !escaped && prev >= 0 && st->s < st->end && *st->s != ']') {
            int hi = (unsigned char)*st->s++;
            if (hi == '\\') {
                int e;
                if (st->s >= st->end) { st->bail = 1; return info_any(1); }
                e = (unsigned char)*st->s++;
                if ((hi = byte_escape(st, e)) < 0 || iw_match_plain_class_escape(e, set)) {
                    st->bail = 1;
                    return info_any(1);
                }
            } else if (hi == '[') {
                st->bail = 1;
                return info_any(1);
            }
            if (hi < prev) { st->bail = 1; return info_any(1); }
            for (i = prev; i <= hi; i++) set[i] = 1;
            prev = -1;
            continue;
        }
        set[c] = 1;
        prev = c;
    }
    if (st->opts & IW_MATCH_FACTOR_CASELESS)
        for (i = 'a'; i <= 'z'; i++)
            if (set[i] || set[i - 32]) set[i] = set[i - 32] = 1;
    if (neg) for (i = 0; i < 256; i++) set[i] = !set[i];
    return info_set(st, set);
}

static void skip_name(pst_t *st, char close)
{
    while (st->s < st->end && *st->s != close) st->s++;
    if (st->s < st->end) st->s++;
    else st->bail = 1;
}

/* After '(': the group. */
static info_t group(pst_t *st)
{
    int look = 0;
    info_t r;

    if (st->s < st->end && *st->s == '*') { st->bail = 1; return info_any(1); }   /* (*VERB) */
    if (st->s < st->end && *st->s == '?') {
        char c = ++st->s < st->end ? *st->s : 0;
        if (c == ':' || c == '>') st->s++;
        else if (c == '=' || c == '!') { st->s++; look = 1; }
        else if (c == '<' && st->s + 1 < st->end && (st->s[1] == '=' || st->s[1] == '!')) {
            st->s += 2;
            look = 1;
        }
        else if (c == '<') skip_name(st, '>');
        else if (c == '\'') { st->s++; skip_name(st, '\''); }
        else if (c == 'P' && st->s + 1 < st->end && st->s[1] == '<') skip_name(st, '>');
        else if (c == '#') { skip_name(st, ')'); return info_zero(st); }
        else { st->bail = 1; return info_any(1); }   /* options, (?|, (?(, recursion */
    }
    if (look) st->look++;
    r = alt(st);
    if (look) st->look--;
    if (st->s < st->end && *st->s == ')') st->s++;
    else st->bail = 1;
    if (look) {
        /* reads bytes but matches "": only its LF reach matters */
        if (r.nl) st->bad_look = 1;
        return info_zero(st);
    }
    return r;
}

/* One atom (no quantifier). */
static info_t atom(pst_t *st)
{
    int c = (unsigned char)*st->s++, e;
    unsigned char set[256];

    switch (c) {
    case '(': return group(st);
    case '[': return char_class(st);
    case '.': return info_any((st->opts & IW_MATCH_FACTOR_DOTALL) != 0);
    case '^': return info_zero(st);
    case '$':
        /* without MULTILINE true before the block's last LF only, and
         * before every window's LF */
        if (!(st->opts & IW_MATCH_FACTOR_MULTILINE)) st->bad_look = 1;
        return info_zero(st);
    case '\\':
        if (st->s >= st->end) { st->bail = 1; return info_any(1); }
        e = (unsigned char)*st->s++;
        memset(set, 0, sizeof(set));
        if (iw_match_plain_class_escape(e, set)) {
            if (st->opts & IW_MATCH_FACTOR_CASELESS) {
                int i;
                for (i = 'a'; i <= 'z'; i++) if (set[i] || set[i - 32]) set[i] = set[i - 32] = 1;
            }
            return info_set(st, set);
        }
        switch (e) {
        case 'b': case 'B': case 'A': case 'z': return info_zero(st);
        case 'Z':
            st->bad_look = 1;
            return info_zero(st);
        case 'R': return info_any(1);
        case 'N': return info_any(0);
        case 'Q': {                        /* literal run to \E */
            info_t r = info_zero(st);
            while (st->s < st->end && !(st->s[0] == '\\' && st->s + 1 < st->end && st->s[1] == 'E')) {
                unsigned char b = (unsigned char)*st->s++;
                r.exact = set_cross(st, r.exact, set_byte(st, b));
                r.maxlen++;
                if (b == '\n') r.nl = 1;
            }
            if (st->s < st->end) st->s += 2;
            return r;
        }
        case 'E': return info_zero(st);
        case 'c':
            if (st->s >= st->end) { st->bail = 1; return info_any(1); }
            c = (unsigned char)*st->s++;
            if (c >= 'a' && c <= 'z') c -= 32;
            c ^= 0x40;
            break;
        default:
            if ((c = byte_escape(st, e)) < 0) { st->bail = 1; return info_any(1); }
        }
        break;
    default:
        break;
    }
    {
        info_t r;
        r.exact = set_byte(st, (unsigned char)c);
        r.req = UNKNOWN;
        r.nl = c == '\n';
        r.maxlen = 1;
        return r;
    }
}

/* A quantifier after an atom: 0 none, else 1 with *lo, *hi (-1 = no
 * limit). */
static int quant(pst_t *st, int *lo, int *hi)
{
    const char *q = st->s;
    int digits = 0;

    if (q >= st->end) return 0;
    if (*q == '*') { *lo = 0; *hi = -1; q++; }
    else if (*q == '+') { *lo = 1; *hi = -1; q++; }
    else if (*q == '?') { *lo = 0; *hi = 1; q++; }
    else if (*q == '{') {
        int a = 0, b = -1;
        for (q++; q < st->end && *q >= '0' && *q <= '9'; q++, digits++)
            a = a * 10 + (*q - '0') > 100000 ? 100000 : a * 10 + (*q - '0');
        if (!digits) return 0;                     /* a literal '{' (PCRE2 10.42) */
        if (q < st->end && *q == ',') {
            int d2 = 0;
            for (q++, b = 0; q < st->end && *q >= '0' && *q <= '9'; q++, d2++)
                b = b * 10 + (*q - '0') > 100000 ? 100000 : b * 10 + (*q - '0');
            if (!d2) b = -1;
        } else {
            b = a;
        }
        if (q >= st->end || *q != '}') return 0;
        q++;
        *lo = a;
        *hi = b;
    }
    else return 0;
    if (q < st->end && (*q == '?' || *q == '+')) q++;
    st->s = q;
    return 1;
}

/* A concatenation up to '|' or ')'. */
/* cand as a required set whose literal starts at most pre bytes into a
 * match */
static void consider_at(sset_t *best, sset_t cand, long pre)
{
    cand.pre = pre;
    consider(best, cand);
}

static info_t seq(pst_t *st)
{
    sset_t run = set_empty_string(st), best = UNKNOWN;
    long cum = 0, run_pre = 0;         /* longest match of the items so far; before the run */
    int whole = 1, nl = 0;
    info_t r;

    while (st->s < st->end && *st->s != '|' && *st->s != ')' && !st->bail) {
        info_t a = atom(st);
        int lo = 1, hi = 1, k;
        long before = cum;
        sset_t x;

        if (quant(st, &lo, &hi)) {
            if (hi == 0) continue;                 /* x{0}: nothing */
        }
        nl |= a.nl;
        cum = len_add(cum, len_mul(a.maxlen, hi));
        if (lo == 1 && hi == 1) {
            x = a.exact;
        } else if (lo == 0 && hi == 1 && a.exact.n >= 0) {
            x = set_union(st, a.exact, set_empty_string(st), EXACT_CAP);
        } else if (lo >= 1 && a.exact.n >= 0) {
            /* x{lo,hi}: lo copies are required, the last one right before
             * what follows */
            sset_t y = run;
            for (k = 0; k < lo && y.n >= 0; k++) y = set_cross(st, y, a.exact);
            if (y.n < 0) y = set_cross(st, run, a.exact);
            if (y.n >= 0 && lo == hi) { run = y; continue; }
            consider_at(&best, y.n >= 0 ? y : run, run_pre);
            run = a.exact;
            run_pre = len_add(before, len_mul(a.maxlen, hi < 0 ? -1 : hi - 1));
            whole = 0;
            continue;
        } else {
            x = UNKNOWN;
        }
        if (x.n >= 0) {
            sset_t y = set_cross(st, run, x);
            if (y.n >= 0) { run = y; continue; }
            consider_at(&best, run, run_pre);
            run = x;
            run_pre = before;
            whole = 0;
            continue;
        }
        /* not a known set: the run ends here */
        consider_at(&best, run, run_pre);
        if (lo >= 1) {
            sset_t ab = info_best(&a);
            if (ab.n > 0) consider_at(&best, ab, len_add(before, ab.pre));
        }
        run = set_empty_string(st);
        run_pre = cum;
        whole = 0;
    }
    consider_at(&best, run, run_pre);
    r.exact = whole ? run : UNKNOWN;
    r.exact.pre = 0;
    r.req = best;
    r.nl = nl;
    r.maxlen = cum;
    return r;
}

static info_t alt(pst_t *st)
{
    info_t r = seq(st);
    sset_t req = info_best(&r);

    while (st->s < st->end && *st->s == '|' && !st->bail) {
        info_t b;
        sset_t bb;
        long pre;
        st->s++;
        b = seq(st);
        r.exact = set_union(st, r.exact, b.exact, EXACT_CAP);
        bb = info_best(&b);
        pre = len_max(req.pre, bb.pre);
        req = set_union(st, req, bb, IW_MATCH_FACTOR_MAX_LITS);
        req.pre = pre;
        r.nl |= b.nl;
        r.maxlen = len_max(r.maxlen, b.maxlen);
    }
    r.exact.pre = 0;
    r.req = req;
    return r;
}

void iw_match_factor_analyse(apr_pool_t *p, const char *re, size_t n, unsigned opts, iw_match_factor_t *out)
{
    pst_t st;
    info_t r;
    sset_t best;

    memset(out, 0, sizeof(*out));
    st.p = p;
    st.s = re;
    st.end = re + n;
    st.opts = opts;
    st.bail = st.look = st.bad_look = 0;
    r = alt(&st);
    if (st.bail || st.s != st.end) return;         /* not understood; or a stray ')' */
    out->line_local = !r.nl && !st.bad_look;
    best = info_best(&r);
    if (set_usable(&best)) {
        int i;
        for (i = 0; i < best.n; i++)
            if (memchr(best.s[i].b, '\n', best.s[i].len)) return;   /* must lie in one line */
        out->nlits = best.n;
        out->lits = best.s;
        out->minlen = set_minlen(&best);
        out->cost = set_cost(&best);
        out->prefix = best.pre;
    }
}
