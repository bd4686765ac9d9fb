/* SPDX-License-Identifier: Apache-2.0 */
/* iw_decode: URL decoding (see iw_decode.h).  One pass per value: plain
 * runs are copied 8 bytes at a time, %XX / %uXXXX / overlong UTF-8 forms
 * of ASCII are reduced as they are read, so the result is the decoder's
 * fixpoint without a second scan.  Called by iw_event.c (decoded views)
 * and iw_param.c (parameters); calls neither. */
#include <stdint.h>
#include <string.h>
#include "iw_decode.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* a hex digit's value + 1, 0 for any other byte */
static const unsigned char hex_tab[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15,
    ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16
};

static inline int hexval(unsigned char c)
{
    return (int)hex_tab[c] - 1;
}

static size_t utf8_put(char *out, unsigned cp)
{
    unsigned char *o = (unsigned char *)out;

    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;   /* lone surrogate */
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    o[0] = (unsigned char)(0xE0 | (cp >> 12));
    o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
}

/* "%uXXXX" at in[i] (IIS): returns the code point or -1.  Full-width ASCII
 * (U+FF01..U+FF5E, e.g. %uff0e) folds to ASCII as IIS best-fit does. */
static long pct_u(const char *in, size_t len, size_t i)
{
    long cp = 0;
    size_t k;

    if (i + 6 > len || (in[i + 1] != 'u' && in[i + 1] != 'U')) return -1;
    for (k = 2; k < 6; k++) {
        int h = hexval((unsigned char)in[i + k]);
        if (h < 0) return -1;
        cp = cp * 16 + h;
    }
    if (cp >= 0xFF01 && cp <= 0xFF5E) cp -= 0xFEE0;
    return cp;
}

/* Output is never longer than the input (3 bytes per %XX -> 1, 6 bytes per
 * %uXXXX -> at most 3), so out needs len + 1 bytes. */
size_t iw_decode_once(const char *in, size_t len, char *out, int plus_space)
{
    size_t i = 0, o = 0;

    while (i < len) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%' && i + 2 < len && hexval((unsigned char)in[i + 1]) >= 0
            && hexval((unsigned char)in[i + 2]) >= 0) {
            out[o++] = (char)(hexval((unsigned char)in[i + 1]) * 16
                              + hexval((unsigned char)in[i + 2]));
            i += 3;
        } else if (c == '%' && pct_u(in, len, i) >= 0) {
            o += utf8_put(out + o, (unsigned)pct_u(in, len, i));
            i += 6;
        } else {
            out[o++] = (c == '+' && plus_space) ? ' ' : (char)c;
            i++;
        }
    }
    out[o] = '\0';
    return o;
}

/* Word-at-a-time tests (8 bytes per step, exact: no false positives for
 * "some byte of w is zero"). */
#define W_ONES 0x0101010101010101ull
#define W_HIGH 0x8080808080808080ull
static inline uint64_t w_load(const char *p) { uint64_t w; memcpy(&w, p, 8); return w; }
static inline uint64_t w_zero(uint64_t w) { return (w - W_ONES) & ~w & W_HIGH; }

/* The decoded views' decoder appends one byte at a time to its output and
 * reduces the output's tail while it ends in a decodable sequence: "%hh",
 * "%uXXXX", an overlong UTF-8 form of an ASCII byte (C0 AE = '.',
 * E0 80 AF = '/', F0 80 81 9C = '\\', ...); a NUL (raw or decoded) is
 * dropped.  A reduction only ever creates a sequence that ends at the tail,
 * so the output never holds one: decoding it again changes nothing, however
 * the layers were nested ("%2541", "%c0%00%af" = C0 NUL AF -> C0 AF -> '/').
 * Each reduction shortens the output, so the decode is linear. */
static size_t dec_reduce_tail(unsigned char *o, size_t n, unsigned char *pend, int *npend)
{
    unsigned char c = o[n - 1], u[3];
    size_t k;
    long cp;

    if (hexval(c) >= 0) {
        if (n >= 3 && o[n - 3] == '%' && hexval(o[n - 2]) >= 0) {
            pend[(*npend)++] = (unsigned char)(hexval(o[n - 2]) * 16 + hexval(c));
            return n - 3;
        }
        if (n >= 6 && o[n - 6] == '%' && (cp = pct_u((const char *)o, n, n - 6)) >= 0) {
            k = utf8_put((char *)u, (unsigned)cp);
            while (k) pend[(*npend)++] = u[--k];     /* popped in order */
            return n - 6;
        }
        return n;
    }
    if ((c & 0xC0) != 0x80) return n;
    if (n >= 2 && (o[n - 2] == 0xC0 || o[n - 2] == 0xC1)) {
        pend[(*npend)++] = (unsigned char)(((o[n - 2] & 0x1F) << 6) | (c & 0x3F));
        return n - 2;
    }
    if (n >= 3 && o[n - 3] == 0xE0 && o[n - 2] <= 0x81 && (o[n - 2] & 0xC0) == 0x80) {
        pend[(*npend)++] = (unsigned char)(((o[n - 2] & 0x3F) << 6) | (c & 0x3F));
        return n - 3;
    }
    if (n >= 4 && o[n - 4] == 0xF0 && o[n - 3] == 0x80 && o[n - 2] <= 0x81
        && (o[n - 2] & 0xC0) == 0x80) {
        pend[(*npend)++] = (unsigned char)(((o[n - 2] & 0x3F) << 6) | (c & 0x3F));
        return n - 4;
    }
    return n;
}

/* Append c to o[0, n) and reduce; returns the new length.  A reduction
 * yields at most 3 bytes (pending, last first); only an ASCII result can
 * reduce again, so pending never holds more than 3 + 1 bytes. */
static size_t dec_push(unsigned char *o, size_t n, unsigned char c)
{
    unsigned char pend[16];
    int npend = 1;

    pend[0] = c;
    while (npend) {
        c = pend[--npend];
        if (!c) continue;
        o[n++] = c;
        if (npend <= 12) n = dec_reduce_tail(o, n, pend, &npend);   /* always */
    }
    return n;
}

/* Drop the last output segment of s[lead, o) (and its separator). */
static size_t path_pop(const char *s, size_t o, size_t lead, size_t *segs)
{
    if (!*segs) return o;
    while (o > lead && s[o - 1] != '/') o--;
    if (*segs > 1) o--;
    (*segs)--;
    return o;
}

/* '\\' -> '/', "//" -> "/", "." and ".." segments resolved, never above the
 * start of the path; a path ending in '/', "/." or "/.." keeps one trailing
 * '/'.  In place (output never outruns input); returns the new length. */
static size_t path_normalise(char *s, size_t len)
{
    size_t i, o, lead, segs = 0;
    int dir_end;

    for (i = 0; i < len; i++)
        if (s[i] == '\\') s[i] = '/';
    lead = (len && s[0] == '/') ? 1 : 0;
    dir_end = len > lead && s[len - 1] == '/';
    for (i = o = lead; i < len; ) {
        size_t j = i, seg;
        while (j < len && s[j] != '/') j++;
        seg = j - i;
        if (seg == 0 || (seg == 1 && s[i] == '.')) {
            if (j >= len) dir_end = 1;
        } else if (seg == 2 && s[i] == '.' && s[i + 1] == '.') {
            o = path_pop(s, o, lead, &segs);
            if (j >= len) dir_end = 1;
        } else {
            if (segs) s[o++] = '/';
            memmove(s + o, s + i, seg);
            o += seg;
            segs++;
        }
        i = j + 1;
    }
    if (dir_end && segs) s[o++] = '/';
    return o;
}


int iw_decode_fastpath = 1;

/* Bytes that make decoding do something: '%' (percent/%u escapes), NUL,
 * lead bytes of overlong forms, '+' (IW_DECODE_PLUS), '\\' and '/' before
 * '/' or '.' (IW_DECODE_PATH).  Most real values have none. */
static inline int ident_byte(const unsigned char *u, size_t i, size_t len, int mode)
{
    switch (u[i]) {
    case '%': case '\0': case 0xC0: case 0xC1: case 0xE0: case 0xF0:
        return 0;
    case '+':
        return !(mode & IW_DECODE_PLUS);
    case '\\':
        return !(mode & IW_DECODE_PATH);
    case '/':
        return !((mode & IW_DECODE_PATH) && i + 1 < len && (u[i + 1] == '/' || u[i + 1] == '.'));
    default:
        return 1;
    }
}

#ifdef __SSE2__
/* Bits of the bytes of a 16-byte block that may stop a plain run or an
 * identity: '%', NUL, bytes >= 0x80 (their own high bit), '+' with plus,
 * '\\' and '/' with path. */
static inline unsigned cand16(__m128i v, int plus, int path)
{
    __m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('%')),
                             _mm_cmpeq_epi8(v, _mm_setzero_si128()));
    if (plus) m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('+')));
    if (path)
        m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('/')),
                                         _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(m, v));
}
#define LD16(q) _mm_loadu_si128((const __m128i *)(const void *)(q))
#endif

#ifdef __SSE2__
/* A path's 16 bytes at u (u[16] readable): 0 when one of them stops the
 * identity for sure ('%', NUL, '\\', '+' with plus, '/' before '/' or
 * '.'), else the bits of its bytes >= 0x80 (each checked on its own:
 * only some lead bytes of overlong forms stop it), or -1 when none. */
static inline int path16(const unsigned char *u, int plus, unsigned *high)
{
    __m128i v = LD16(u), nx = LD16(u + 1);
    __m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('%')),
                             _mm_cmpeq_epi8(v, _mm_setzero_si128()));
    __m128i sl = _mm_and_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('/')),
                               _mm_or_si128(_mm_cmpeq_epi8(nx, _mm_set1_epi8('/')),
                                            _mm_cmpeq_epi8(nx, _mm_set1_epi8('.'))));
    m = _mm_or_si128(m, _mm_or_si128(sl, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
    if (plus) m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('+')));
    if (_mm_movemask_epi8(m)) return 0;
    *high = (unsigned)_mm_movemask_epi8(v);
    return 1;
}
#endif

int iw_decode_is_identity(const char *in, size_t len, int mode)
{
    const unsigned char *u = (const unsigned char *)in;
    size_t i = 0;

    if ((mode & IW_DECODE_PATH) && len && u[0] == '.') return 0;
#ifdef __SSE2__
    /* a path (its many '/' are no candidates one by one): whole blocks
     * while the byte after each is in the value */
    if (mode & IW_DECODE_PATH) {
        unsigned h;
        for (; i + 17 <= len; i += 16) {
            if (!path16(u + i, (mode & IW_DECODE_PLUS) != 0, &h)) return 0;
            for (; h; h &= h - 1)
                if (!ident_byte(u, i + (size_t)__builtin_ctz(h), len, mode)) return 0;
        }
        if (i < len && len >= 17) {    /* the last bytes: the block ending before the last */
            if (!path16(u + len - 17, (mode & IW_DECODE_PLUS) != 0, &h)) return 0;
            for (; h; h &= h - 1)
                if (!ident_byte(u, len - 17 + (size_t)__builtin_ctz(h), len, mode)) return 0;
            return ident_byte(u, len - 1, len, mode);
        }
        if (i == len) return 1;
    }
    /* 16 bytes per step; each candidate byte checked on its own (a path's
     * slashes, UTF-8 letters) */
    if (len >= 16) {
        int plus = (mode & IW_DECODE_PLUS) != 0, path = (mode & IW_DECODE_PATH) != 0;
        unsigned m;
        for (;; i += 16) {
            if (i + 16 > len) {            /* the last bytes, read where they end */
                if (i == len) return 1;
                m = cand16(LD16(u + len - 16), plus, path) >> (16 - (len - i));
            } else {
                m = cand16(LD16(u + i), plus, path);
            }
            for (; m; m &= m - 1)
                if (!ident_byte(u, i + (size_t)__builtin_ctz(m), len, mode)) return 0;
            if (i + 16 >= len) return 1;
        }
    }
#endif
    for (; i < len; i++)
        if (!ident_byte(u, i, len, mode)) return 0;
    return 1;
}

/* Bits (bit 7 of each byte) of the bytes of w that stop a plain run:
 * exact for the lowest one (a false positive only ever sits above a true
 * one). */
static inline uint64_t stop8(uint64_t w, uint64_t pl)
{
    return (w & W_HIGH) | w_zero(w) | w_zero(w ^ ('%' * W_ONES)) | w_zero(w ^ pl);
}

/* Length of the run at p (at most n bytes) of bytes that never start or
 * end a decodable sequence: not '%', NUL, >= 0x80 (overlong forms), nor
 * '+' with IW_DECODE_PLUS.  16 bytes per step (SSE2), else 8; the last
 * bytes are read where they end, overlapping the step before. */
static inline size_t plain_run(const char *p, size_t n, int plus)
{
    uint64_t pl = (plus ? '+' : '%') * W_ONES, m;
    size_t i = 0;

#ifdef __SSE2__
    if (n >= 16) {
        unsigned v;
        for (; i + 16 <= n; i += 16)
            if ((v = cand16(LD16(p + i), plus, 0))) return i + (size_t)__builtin_ctz(v);
        if (i < n && (v = cand16(LD16(p + n - 16), plus, 0) >> (16 - (n - i))))
            return i + (size_t)__builtin_ctz(v);
        return n;
    }
#endif
    for (; i + 8 <= n; i += 8)
        if ((m = stop8(w_load(p + i), pl))) return i + (size_t)(__builtin_ctzll(m) >> 3);
    if (i == n) return n;
    if (i) {                           /* 1..7 bytes after a word: the word ending there */
        m = stop8(w_load(p + n - 8), pl) >> (8 * (8 - (n - i)));
        return m ? i + (size_t)(__builtin_ctzll(m) >> 3) : n;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '%' || !c || c >= 0x80 || (plus && c == '+')) break;
    }
    return i;
}

size_t iw_decode_plain_len(const char *p, size_t n, int plus)
{
    return plain_run(p, n, plus);
}

/* 1 + the position of the last '%' among the output's last five bytes
 * o[n-5, n), or 0: only then can appending a plain byte complete "%hh" or
 * "%uXXXX" (a plain byte never completes an overlong form: its last byte
 * is >= 0x80).  Kept as bytes are appended; read again after dec_push
 * (which may remove bytes). */
static inline size_t tail_pct_at(const unsigned char *o, size_t n)
{
    size_t k;
    for (k = 0; k < 5 && k < n; k++)
        if (o[n - 1 - k] == '%') return n - k;
    return 0;
}

/* "%hh" at in[i] (i + 2 < len) of an ASCII byte, pushed on an output
 * whose tail holds no '%': dec_push would append the byte (a NUL: drop
 * it) and reduce nothing (no '%' before it to complete, and an ASCII
 * byte ends no overlong form), so it is appended at once.  -1: not such
 * an escape (the caller pushes byte by byte). */
static inline int ascii_escape(const char *in, size_t i)
{
    int h1 = hexval((unsigned char)in[i + 1]), h2;

    if (h1 < 0 || h1 > 7 || (h2 = hexval((unsigned char)in[i + 2])) < 0) return -1;
    return h1 * 16 + h2;
}

/* dec_push byte by byte, except that plain runs and escapes of ASCII
 * bytes are appended at once while the output's tail holds no '%' (pct:
 * tail_pct_at, kept up to date as bytes are appended): the same output
 * (the bytewise loop is kept as the reference, iw_decode_fastpath = 0).
 * With SSE2 plain bytes go 16 at a time, stored as they are read: the
 * output is never ahead of the input (n <= i), so o[n, n + 16) lies
 * inside out[0, len); bytes past the result may be overwritten. */
size_t iw_decode_full(const char *in, size_t len, char *out, int flags)
{
    unsigned char *o = (unsigned char *)out;
    size_t i = 0, n = 0, r, pct = 0;
    int plus = (flags & IW_DECODE_PLUS) != 0;

    while (i < len) {
        unsigned char c;
        int a;
        if (iw_decode_fastpath && !(pct && pct + 4 >= n)) {
            /* escapes and '+' first: in an encoded payload they run together */
            c = (unsigned char)in[i];
            if (c == '%') {
                if (i + 2 < len && (a = ascii_escape(in, i)) >= 0) {
                    if (a) o[n++] = (unsigned char)a;
                    if (a == '%') pct = n;
                    i += 3;
                    continue;
                }
            } else if (c == '+' && plus) {
                o[n++] = ' ';          /* a space completes and ends no sequence */
                i++;
                continue;
            } else {
#ifdef __SSE2__
                if (i + 16 <= len) {
                    size_t i0 = i;
                    while (i + 16 <= len) {
                        __m128i v = LD16(in + i);
                        unsigned m = cand16(v, plus, 0);
                        _mm_storeu_si128((__m128i *)(void *)(o + n), v);
                        if (m) {
                            r = (size_t)__builtin_ctz(m);
                            i += r;
                            n += r;
                            break;
                        }
                        i += 16;
                        n += 16;
                    }
                    if (i > i0) continue;
                }
#endif
                if ((r = plain_run(in + i, len - i, plus)) > 0) {
                    memcpy(o + n, in + i, r);
                    n += r;
                    i += r;
                    continue;
                }
            }
        }
        c = (unsigned char)in[i];
        n = dec_push(o, n, (c == '+' && plus) ? ' ' : c);
        pct = tail_pct_at(o, n);
        i++;
    }
    if (flags & IW_DECODE_PATH) n = path_normalise(out, n);
    out[n] = '\0';
    return n;
}
