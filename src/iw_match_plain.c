/* SPDX-License-Identifier: Apache-2.0 */
/* iw_match_plain: plain-alphabet analysis of patterns (see iw_match_plain.h). */
#include <string.h>
#include "iw_match_plain.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Letters, digits and - . _ ~ / = & ? : + ,  (closed under case, so the
 * analysis needs no case folding).  GNU range designators: gcc and clang. */
static const unsigned char plain_tab[256] = {
    ['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['0' ... '9'] = 1,
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['/'] = 1, ['='] = 1,
    ['&'] = 1, ['?'] = 1, [':'] = 1, ['+'] = 1, [','] = 1,
};

static int plain_byte(unsigned c) { return c < 256 && plain_tab[c]; }

#ifdef __SSE2__
/* Bits of the plain bytes of a 16-byte block: letters (c | 0x20 in a..z),
 * '+' .. ':' (0x2B-0x3A: + , - . / digits :), and & = ? _ ~.  A byte b is
 * in [lo, lo + k) when (b - lo) ^ 0x80 < k - 128 as signed bytes. */
static inline unsigned plain16(__m128i v)
{
    __m128i lo = _mm_xor_si128(_mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8('a')),
                               _mm_set1_epi8((char)0x80));
    __m128i pu = _mm_xor_si128(_mm_sub_epi8(v, _mm_set1_epi8('+')), _mm_set1_epi8((char)0x80));
    __m128i m = _mm_or_si128(_mm_cmplt_epi8(lo, _mm_set1_epi8(26 - 128)),
                             _mm_cmplt_epi8(pu, _mm_set1_epi8(16 - 128)));
    m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('&')),
                                     _mm_cmpeq_epi8(v, _mm_set1_epi8('='))));
    m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('?')),
                                     _mm_cmpeq_epi8(v, _mm_set1_epi8('_'))));
    m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('~')));
    return (unsigned)_mm_movemask_epi8(m);
}
#endif

/* 16 bytes per step where SSE2 is (every x86-64): this runs on most
 * values a field scan sees, cache hits included.  The last bytes are
 * read as the block that ends there. */
int iw_match_plain_value(const char *p, size_t n)
{
    size_t i = 0;
#ifdef __SSE2__
    if (n >= 16) {
        for (; i + 16 <= n; i += 16)
            if (plain16(_mm_loadu_si128((const __m128i *)(const void *)(p + i))) != 0xFFFF) return 0;
        return i == n
               || plain16(_mm_loadu_si128((const __m128i *)(const void *)(p + n - 16))) == 0xFFFF;
    }
#endif
    for (; i < n; i++)
        if (!plain_tab[(unsigned char)p[i]]) return 0;
    return 1;
}

/* ---- may a plain string match? -------------------------------------------- */

typedef struct rx {
    const char *p, *end;
    int bail;                      /* not understood: answer "may match" */
} rx_t;

static int alt(rx_t *r);

static int hexv(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int iw_match_plain_hex_escape(const char **s, const char *end)
{
    const char *p = *s;
    int v = 0, d, k;
    if (p < end && *p == '{') {
        for (p++; p < end && *p != '}'; p++) {
            if ((d = hexv((unsigned char)*p)) < 0) return -1;
            v = v * 16 + d;
            if (v > 0x10FFFF) return -1;
        }
        if (p >= end) return -1;
        *s = p + 1;
        return v;
    }
    for (k = 0; k < 2 && p < end && (d = hexv((unsigned char)*p)) >= 0; k++, p++)
        v = v * 16 + d;
    *s = p;
    return v;
}

int iw_match_plain_class_escape(int e, unsigned char *set)
{
    unsigned char m[256];
    unsigned i;
    int neg = e >= 'A' && e <= 'Z';

    memset(m, 0, sizeof(m));
    switch (e | 0x20) {
    case 'd': for (i = '0'; i <= '9'; i++) m[i] = 1; break;
    case 'w':
        for (i = 0; i < 256; i++)
            m[i] = (unsigned char)((i >= 'a' && i <= 'z') || (i >= 'A' && i <= 'Z')
                                   || (i >= '0' && i <= '9') || i == '_');
        break;
    case 's': m[' '] = m['\t'] = m['\n'] = m['\r'] = m['\f'] = m['\v'] = 1; break;
    case 'h': m[' '] = m['\t'] = m[0xa0] = 1; break;
    case 'v': m['\n'] = m['\v'] = m['\f'] = m['\r'] = m[0x85] = 1; break;
    default: return 0;
    }
    for (i = 0; i < 256; i++) if (m[i] != neg) set[i] = 1;
    return 1;
}

/* A [...] class: may it match a plain byte? */
static int char_class(rx_t *r)
{
    unsigned char set[256];
    int neg = 0, first = 1, prev = -1, c, i;

    memset(set, 0, sizeof(set));
    if (r->p < r->end && *r->p == '^') { neg = 1; r->p++; }
    while (r->p < r->end) {
        int escaped = 0;
        c = (unsigned char)*r->p++;
        if (c == ']' && !first) break;
        first = 0;
        if (c == '[' && r->p < r->end && *r->p == ':') { r->bail = 1; return 1; }   /* POSIX */
        if (c == '\\' && r->p < r->end) {
            escaped = 1;
            int e = (unsigned char)*r->p++;
            if (iw_match_plain_class_escape(e, set)) { prev = -1; continue; }
            if (e == 'x') { if ((c = iw_match_plain_hex_escape(&r->p, r->end)) < 0 || c > 255) { r->bail = 1; return 1; } }
            else if (e == 'n') c = '\n';
            else if (e == 'r') c = '\r';
            else if (e == 't') c = '\t';
            else if (e == 'f') c = '\f';
            else if (e == 'e') c = 27;
            else if (e == 'a') c = 7;
            else if (e == 'b') c = 8;
            else if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
                r->bail = 1;                /* \p{..}, octal, ...: not modelled */
                return 1;
            }
            else c = e;
        }
        if (c == '-' && !escaped && prev >= 0 && r->p < r->end && *r->p != ']') {
            int hi = (unsigned char)*r->p++;
            if (hi == '\\' || hi == '[') { r->bail = 1; return 1; }
            for (i = prev; i <= hi; i++) set[i] = 1;
            prev = -1;
            continue;
        }
        set[c] = 1;
        prev = c;
    }
    for (i = 0; i < 256; i++)
        if ((set[i] != 0) != neg && plain_byte((unsigned)i)) return 1;
    return 0;
}

/* Skip a group name up to the closing delimiter. */
static void skip_to(rx_t *r, char close)
{
    while (r->p < r->end && *r->p != close) r->p++;
    if (r->p < r->end) r->p++;
}

/* After '(': the group; returns whether it may match. */
static int group(rx_t *r)
{
    int look = 0, res;

    if (r->p < r->end && *r->p == '*') { r->bail = 1; return 1; }   /* (*VERB) */
    if (r->p < r->end && *r->p == '?') {
        char c = ++r->p < r->end ? *r->p : 0;
        if (c == ':' || c == '>' || c == '|') r->p++;
        else if (c == '=' || c == '!') { r->p++; look = 1; }
        else if (c == '<' && r->p + 1 < r->end && (r->p[1] == '=' || r->p[1] == '!')) {
            r->p += 2;
            look = 1;
        }
        else if (c == '<') skip_to(r, '>');
        else if (c == '\'') { r->p++; skip_to(r, '\''); }
        else if (c == 'P' && r->p + 1 < r->end && r->p[1] == '<') skip_to(r, '>');
        else if (c == '#') { skip_to(r, ')'); return 1; }
        else {
            /* inline options: case does not matter here, extended mode does */
            const char *q = r->p;
            while (q < r->end && strchr("imsnUJ-", *q) && *q) q++;
            if (q == r->p || q >= r->end || (*q != ':' && *q != ')')) { r->bail = 1; return 1; }
            r->p = q + 1;
            if (*q == ')') return 1;
        }
    }
    res = alt(r);
    if (r->p < r->end && *r->p == ')') r->p++;
    else r->bail = 1;
    return look ? 1 : res;
}

/* One atom; *zero_width set for anchors and assertions. */
static int atom(rx_t *r)
{
    int c = (unsigned char)*r->p++, e;

    switch (c) {
    case '(': return group(r);
    case '[': return char_class(r);
    case '.': case '^': case '$': return 1;
    case '\\':
        if (r->p >= r->end) { r->bail = 1; return 1; }
        e = (unsigned char)*r->p++;
        if (strchr("sShHvVR", e) && e) return e == 'S' || e == 'H' || e == 'V';
        if (strchr("dDwWNbBAzZGKE", e) && e) return 1;
        if (strchr("nrtfea", e) && e) return 0;        /* control bytes */
        if (e == 'x') { int v = iw_match_plain_hex_escape(&r->p, r->end); return v < 0 || v > 255 || plain_byte((unsigned)v); }
        if (e == 'c') { if (r->p < r->end) r->p++; return 0; }
        if (e == 'Q') {                                 /* literal run to \E */
            int ok = 1;
            while (r->p < r->end && !(r->p[0] == '\\' && r->p + 1 < r->end && r->p[1] == 'E'))
                ok &= plain_byte((unsigned char)*r->p++);
            if (r->p < r->end) r->p += 2;
            return ok;
        }
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
            r->bail = 1;            /* \p, \k, \g, backreferences, octal */
            return 1;
        }
        return plain_byte((unsigned)e);
    default:
        return plain_byte((unsigned)c);
    }
}

/* A quantifier after an atom: 1 if it allows zero repetitions. */
static int quant(rx_t *r, int *optional)
{
    const char *q = r->p;
    int lo = 0, digits = 0;

    *optional = 0;
    if (q >= r->end) return 0;
    if (*q == '*' || *q == '?') { *optional = 1; q++; }
    else if (*q == '+') q++;
    else if (*q == '{') {
        for (q++; q < r->end && *q >= '0' && *q <= '9'; q++, digits++)
            lo = lo * 10 + (*q - '0') > 1000 ? 1000 : lo * 10 + (*q - '0');
        if (q < r->end && *q == ',') {
            for (q++; q < r->end && *q >= '0' && *q <= '9'; q++) digits++;
        }
        if (q >= r->end || *q != '}' || !digits) return 0;    /* a literal '{' */
        q++;
        *optional = lo == 0;
    }
    else return 0;
    if (q < r->end && (*q == '?' || *q == '+')) q++;
    r->p = q;
    return 1;
}

static int seq(rx_t *r)
{
    int ok = 1;
    while (r->p < r->end && *r->p != '|' && *r->p != ')' && !r->bail) {
        int a = atom(r), optional;
        if (quant(r, &optional) && optional) a = 1;
        ok &= a;
    }
    return ok;
}

static int alt(rx_t *r)
{
    int ok = seq(r);
    while (r->p < r->end && *r->p == '|' && !r->bail) {
        r->p++;
        ok |= seq(r);
    }
    return ok;
}

int iw_match_plain_may_match(const char *re, size_t n)
{
    rx_t r = { re, re + n, 0 };
    int ok = alt(&r);
    while (r.p < r.end && !r.bail) {   /* a stray ')' : keep going */
        r.p++;
        ok |= alt(&r);
    }
    return r.bail ? 1 : ok;
}

/* ---- top-level branches ---------------------------------------------------- */

#define ESCAPED 256                /* next_token: an escape, + the escaped byte */

/* The length of the POSIX class ("[:alpha:]", "[:^digit:]") at re[i]
 * inside a character class, 0 if there is none: its ']' does not close
 * the class. */
static size_t posix_class(const char *re, size_t n, size_t i)
{
    size_t j = i + 2;
    if (j > n || re[i] != '[' || re[i + 1] != ':') return 0;
    if (j < n && re[j] == '^') j++;
    while (j < n && ((re[j] >= 'a' && re[j] <= 'z') || (re[j] >= 'A' && re[j] <= 'Z'))) j++;
    return j + 1 < n && re[j] == ':' && re[j + 1] == ']' ? j + 2 - i : 0;
}

/* The next token of re from *i outside character classes (classes are
 * skipped whole): a byte, ESCAPED + byte for an escape, -1 at the end. */
static int next_token(const char *re, size_t n, size_t *i)
{
    while (*i < n) {
        unsigned char c = (unsigned char)re[(*i)++];
        if (c == '\\') return *i < n ? ESCAPED + (unsigned char)re[(*i)++] : -1;
        if (c != '[') return c;
        if (*i < n && re[*i] == '^') (*i)++;
        if (*i < n && re[*i] == ']') (*i)++;
        while (*i < n && re[*i] != ']') {
            size_t pc = posix_class(re, n, *i);
            *i += pc ? pc : re[*i] == '\\' ? 2 : 1;
        }
        if (*i < n) (*i)++;
    }
    return -1;
}

/* Whether splitting at top-level '|' keeps the meaning: no references
 * between branches, no options carried from one branch to the next. */
static int splittable(const char *re, size_t n)
{
    size_t i = 0;
    int t;

    while ((t = next_token(re, n, &i)) >= 0) {
        int e = t - ESCAPED;
        if (t >= ESCAPED && ((e >= '1' && e <= '9') || e == 'k' || e == 'g')) return 0;
        if (t != '(' || i >= n) continue;
        if (re[i] == '*') return 0;                      /* (*VERB) */
        if (re[i] != '?') continue;
        if (i + 1 < n && strchr(":=!>#<", re[i + 1]) && re[i + 1]) continue;
        return 0;                        /* options, (?|, (?(, recursion, (?P... */
    }
    return 1;
}

/* The top-level alternatives of re[0..n) (depth 0), offsets + base. */
static int split_at(const char *re, size_t n, size_t base, size_t *off, size_t *len, int max)
{
    size_t i = 0, start = 0;
    int depth = 0, k = 0, t;

    while ((t = next_token(re, n, &i)) >= 0) {
        if (t == '(') depth++;
        else if (t == ')' && --depth < 0) return 0;
        else if (t == '|' && depth == 0) {
            if (k == max) return 0;
            off[k] = base + start;
            len[k++] = i - 1 - start;
            start = i;
        }
    }
    if (depth != 0 || k == max) return 0;
    off[k] = base + start;
    len[k++] = n - start;
    return k;
}

/* Does the "(?:" at 0 close exactly at n-1? */
static int wraps_all(const char *re, size_t n)
{
    size_t i = 0;
    int depth = 0, t;

    if (n < 4 || memcmp(re, "(?:", 3) || re[n - 1] != ')') return 0;
    while ((t = next_token(re, n, &i)) >= 0) {
        if (t == '(') depth++;
        else if (t == ')' && --depth == 0) return i == n;
    }
    return 0;
}

int iw_match_plain_branches(const char *re, size_t n, size_t *off, size_t *len, int max)
{
    int k;

    if (max < 1) return 0;
    off[0] = 0;
    len[0] = n;
    if (max < 2 || !splittable(re, n)) return 1;
    k = split_at(re, n, 0, off, len, max);
    if (k == 1 && wraps_all(re, n))
        k = split_at(re + 3, n - 4, 3, off, len, max);
    if (k < 1) { off[0] = 0; len[0] = n; k = 1; }
    return k;
}
