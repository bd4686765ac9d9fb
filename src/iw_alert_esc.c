/* SPDX-License-Identifier: Apache-2.0 */
/* iw_alert_esc: UTF-8 + JSON string escaping for the alert writer
 * (iw_alert.c): the bounded escaper (a room check per piece, cut on a
 * UTF-8 boundary) and the one that runs when the worst case fits (16
 * bytes a step), which write the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "iw_alert_int.h"
/* ---- UTF-8 + JSON string escaping -------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if the
 * byte does not start one (overlong forms and surrogates are invalid). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2 || c > 0xF4) return 0;
    if (c < 0xE0) return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;
        if (c == 0xED && s[1] >= 0xA0) return 0;
        return 3;
    }
    if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
        (s[3] & 0xC0) != 0x80) return 0;
    if (c == 0xF0 && s[1] < 0x90) return 0;
    if (c == 0xF4 && s[1] >= 0x90) return 0;
    return 4;
}

/* Nonzero when one of the 8 bytes in x does not go into a JSON string as
 * it is: < 0x20, '"', '\\', 0x7f, or >= 0x80 (checked as UTF-8).  Each
 * test is the exact "some byte is zero / less than n" word trick: no
 * false positives, and only whether any byte matches is used. */
static inline uint64_t special8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\'), d = x ^ (ones * 0x7f);

    return (((x - ones * 0x20) & ~x)     /* < 0x20 */
            | ((q - ones) & ~q)          /* '"' */
            | ((b - ones) & ~b)          /* '\\' */
            | ((d - ones) & ~d)          /* 0x7f */
            | x) & (ones * 0x80);        /* >= 0x80 */
}

/* special8 for 4 bytes. */
static inline uint32_t special4(uint32_t x)
{
    const uint32_t ones = 0x01010101U;
    uint32_t q = x ^ (ones * '"'), b = x ^ (ones * '\\'), d = x ^ (ones * 0x7f);

    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)
            | ((d - ones) & ~d) | x) & (ones * 0x80);
}

/* 1 for a byte JSON carries as it is (printable ASCII but '"' and '\\'). */
static const unsigned char plain_byte[256] = {
    [0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1     /* not 0x22, 0x5c */
};

#if defined(__SSE2__)
/* Bits of the 16 bytes at p that are not plain: < 0x20 (a signed compare,
 * which also takes every byte >= 0x80), DEL, '"', '\\'. */
static inline unsigned special16(__m128i v)
{
    const __m128i sp = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f),
                  qu = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(v, sp), _mm_cmpeq_epi8(v, del)),
                             _mm_or_si128(_mm_cmpeq_epi8(v, qu), _mm_cmpeq_epi8(v, bs)));
    return (unsigned)_mm_movemask_epi8(m);
}
#endif

/* How many of the n bytes at s are printable ASCII that JSON carries as
 * they are (most of any alert's text): 16 at a time with SSE2 (a signed
 * compare below 0x20 also catches every byte >= 0x80), else 8 at a time,
 * then bytewise. */
static size_t plain_run(const unsigned char *s, size_t n)
{
    size_t i = 0;
    uint64_t x;

#if defined(__SSE2__)
    for (; i + 16 <= n; i += 16) {
        unsigned bits = special16(_mm_loadu_si128((const __m128i *)(const void *)(s + i)));
        if (bits) return i + (size_t)__builtin_ctz(bits);
    }
#endif
    for (; i + 8 <= n; i += 8) {
        memcpy(&x, s + i, 8);
        if (special8(x)) break;
    }
    while (i < n && plain_byte[s[i]])
        i++;
    return i;
}

/* One byte that is not plain (c: s[i], lim: where the input is cut, len:
 * its full length), written at o: \" \\ \u00XX, a valid UTF-8 sequence as
 * it is, \ufffd for any other byte.  Returns the input bytes taken, 0 when
 * a sequence would cross lim (the caller stops: cut on a boundary). */
static inline size_t json_special(char *o, size_t *out, const unsigned char *s, size_t i,
                                  size_t len, size_t lim)
{
    static const char hex[] = "0123456789abcdef";
    unsigned c = s[i];
    size_t in;

    if (c == '"' || c == '\\') {
        o[0] = '\\'; o[1] = (char)c; *out = 2;
        return 1;
    }
    if (c < 0x20 || c == 0x7f) {
        memcpy(o, "\\u00", 4);
        o[4] = hex[c >> 4]; o[5] = hex[c & 15]; *out = 6;
        return 1;
    }
    if ((in = utf8_len(s + i, len - i)) > 0) {
        if (i + in > lim) return 0;
        memcpy(o, s + i, 4 < len - i ? 4 : len - i);    /* the caller has room for 6 */
        *out = in;
        return in;
    }
    memcpy(o, "\\ufffd", 6); *out = 6;
    return 1;
}

/* json_body_roomy's general case.  Plain bytes are stored 16 at a time as
 * they are tested (a chunk with a special byte is stored whole, and the
 * bytes from the special one on are written over); the last chunk of a
 * plain run ending the input is loaded overlapping the bytes before it,
 * which were copied as they are (stored again, the same). */
static __attribute__((noinline)) size_t body_any(char *buf, size_t o, const unsigned char *s,
                                                 size_t len, size_t lim)
{
    size_t i = 0, run = 0, in, out;
    uint64_t x;

    while (i < lim) {
        run = i;                        /* a plain run starts here */
#if defined(__SSE2__)
        for (; i + 16 <= lim; i += 16, o += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            unsigned m = special16(v);
            _mm_storeu_si128((__m128i *)(void *)(buf + o), v);
            if (m) {
                unsigned k = (unsigned)__builtin_ctz(m);
                i += k;
                o += k;
                goto special;
            }
        }
        if (i < lim && lim >= 16 && i - run >= 16 - (lim - i)) {
            size_t back = 16 - (lim - i);
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + lim - 16));
            unsigned m = special16(v) >> back;
            _mm_storeu_si128((__m128i *)(void *)(buf + o - back), v);
            if (!m) { o += lim - i; i = lim; break; }
            i += (unsigned)__builtin_ctz(m);
            o += (unsigned)__builtin_ctz(m);
            goto special;
        }
#endif
        for (; i + 8 <= lim; i += 8, o += 8) {
            memcpy(&x, s + i, 8);
            if (special8(x)) break;
            memcpy(buf + o, &x, 8);
        }
        /* the same overlapping last word: special8's lowest bit is exact
         * when the bytes below it are plain (no borrow comes up) */
        if (i < lim && lim >= 8 && i - run >= 8 - (lim - i)) {
            size_t back = 8 - (lim - i);
            uint64_t sp;
            memcpy(&x, s + lim - 8, 8);
            sp = special8(x) >> (8 * back);
            memcpy(buf + o - back, &x, 8);
            if (!sp) { o += lim - i; i = lim; break; }
            i += (size_t)__builtin_ctzll(sp) / 8;
            o += (size_t)__builtin_ctzll(sp) / 8;
            goto special;
        }
        if (lim - i >= 4 && lim - i < 8) {  /* 4 to 7 left: two overlapping halves */
            uint32_t y, z;
            memcpy(&y, s + i, 4);
            memcpy(&z, s + lim - 4, 4);
            if (!special4(y) && !special4(z)) {
                memcpy(buf + o, &y, 4);
                memcpy(buf + o + (lim - i) - 4, &z, 4);
                o += lim - i;
                break;
            }
        }
        while (i < lim && plain_byte[s[i]])
            buf[o++] = (char)s[i++];
        if (i >= lim) break;
special:
        if (!(in = json_special(buf + o, &out, s, i, len, lim))) break;
        i += in;
        o += out;
    }
    return o;
}

/* json_str_bounded's body when the worst case fits (every input byte taken
 * to 6 output bytes): no room checks.  A value under 16 bytes with nothing
 * to escape (a method, a version, a host name) is tested and copied whole
 * here, as two overlapping halves (three bytes when under 4), without
 * body_any's set-up.  Returns the position after the last byte. */
size_t iw_alert__json_body_roomy(char *buf, size_t o, const unsigned char *s, size_t len,
                                 size_t lim)
{
    if (lim < 16 && lim > 0) {
        size_t h = lim >> 1;
#if defined(__SSE2__)
        if (lim >= 4) {
            __m128i v;
            unsigned m;
            if (lim >= 8) {
                const __m128i *lo = (const __m128i *)(const void *)s,
                              *hi = (const __m128i *)(const void *)(s + lim - 8);
                v = _mm_unpacklo_epi64(_mm_loadl_epi64(lo), _mm_loadl_epi64(hi));
                m = special16(v);
            } else {
                uint32_t y, z;
                memcpy(&y, s, 4);
                memcpy(&z, s + lim - 4, 4);
                v = _mm_unpacklo_epi32(_mm_cvtsi32_si128((int)y), _mm_cvtsi32_si128((int)z));
                m = special16(v) & 0xff;
            }
            if (!m) {
                if (lim >= 8) {
                    _mm_storel_epi64((__m128i *)(void *)(buf + o), v);
                    _mm_storel_epi64((__m128i *)(void *)(buf + o + lim - 8),
                                     _mm_unpackhi_epi64(v, v));
                } else {
                    uint32_t y = (uint32_t)_mm_cvtsi128_si32(v),
                             z = (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(v, 4));
                    memcpy(buf + o, &y, 4);
                    memcpy(buf + o + lim - 4, &z, 4);
                }
                return o + lim;
            }
        } else
#endif
        if (lim < 4 && plain_byte[s[0]] & plain_byte[s[h]] & plain_byte[s[lim - 1]]) {
            buf[o] = (char)s[0];        /* 1 to 3 bytes: the first, middle and last */
            buf[o + h] = (char)s[h];
            buf[o + lim - 1] = (char)s[lim - 1];
            return o + lim;
        }
    }
    return body_any(buf, o, s, len, lim);
}

int iw_alert_roomy = 1;

/* Append "escaped" at *pos, never past `end` (exclusive).  Returns 0 when
 * the input (cut to max bytes) fit completely, 1 when it was cut short for
 * lack of room (the literal is still closed), -1 when not even "" fits
 * (nothing written). */
int iw_alert__json_str_bounded(char *buf, size_t end, size_t *pos,
                                const char *str, size_t len, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t o = *pos, i = 0, lim;
    int cut = 0;

    if (o + 2 > end) return -1;
    if (!s) len = 0;
    lim = len < max ? len : max;
    if (iw_alert_roomy && lim <= (SIZE_MAX - 2) / 6 && 6 * lim + 2 <= end - o) {
        *pos = iw_alert__json_str_roomy(buf, o, s, len, lim);
        return 0;
    }
    buf[o++] = '"';
    while (i < lim) {
        unsigned c;
        size_t in = 1, out, run = plain_run(s + i, lim - i);
        char esc[8];
        const char *src = esc;

        if (run) {                      /* copied as they are, as far as they fit */
            if (run > end - o - 1) {
                run = end - o - 1;
                cut = 1;
            }
            memcpy(buf + o, s + i, run);
            o += run;
            i += run;
            if (cut || i >= lim) break;
        }
        c = s[i];
        if (c == '"' || c == '\\') {
            esc[0] = '\\'; esc[1] = (char)c; out = 2;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 15]; out = 6;
        } else if ((in = utf8_len(s + i, len - i)) > 0) {
            if (i + in > lim) break;    /* cut by max: stay on a boundary */
            src = (const char *)s + i; out = in;
        } else {
            memcpy(esc, "\\ufffd", 6); in = 1; out = 6;
        }
        if (o + out + 1 > end) { cut = 1; break; }
        memcpy(buf + o, src, out);
        o += out;
        i += in;
    }
    buf[o++] = '"';
    *pos = o;
    return cut;
}

void iw_json_str(char *buf, size_t size, size_t *pos, const char *s,
                 size_t len, size_t max)
{
    if (!buf || !pos || *pos >= size) return;
    iw_alert__json_str_bounded(buf, size - 1, pos, s, len, max);
    buf[*pos] = '\0';
}
