/* SPDX-License-Identifier: Apache-2.0 */
/* iw_match_pat: Sigma value patterns and their Vectorscan expressions. */
#include <string.h>
#include <apr_strings.h>
#include "iw_match_pat.h"

static iw_match_pat_t *pat_alloc(apr_pool_t *p, size_t cap)
{
    iw_match_pat_t *pt = apr_pcalloc(p, sizeof(*pt));
    pt->b = apr_palloc(p, cap ? cap : 1);
    pt->k = apr_palloc(p, cap ? cap : 1);
    return pt;
}

static void pat_put(iw_match_pat_t *pt, unsigned char kind, unsigned char byte)
{
    pt->k[pt->n] = kind;
    pt->b[pt->n] = byte;
    pt->n++;
}

iw_match_pat_t *iw_match_pat_parse(apr_pool_t *p, const char *s, size_t len, int wildcards)
{
    iw_match_pat_t *pt = pat_alloc(p, len);
    size_t i = 0;

    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (!wildcards) {
            pat_put(pt, IW_U_LIT, c);
            i++;
        } else if (c == '\\' && i + 1 < len
                   && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
            /* Sigma escaping: \* \? \\ are the literal character; a lone
             * backslash before anything else stays a backslash. */
            pat_put(pt, IW_U_LIT, (unsigned char)s[i + 1]);
            i += 2;
        } else if (c == '*') {
            if (!pt->n || pt->k[pt->n - 1] != IW_U_STAR)
                pat_put(pt, IW_U_STAR, 0);
            i++;
        } else if (c == '?') {
            pat_put(pt, IW_U_ONE, 0);
            i++;
        } else {
            pat_put(pt, IW_U_LIT, c);
            i++;
        }
    }
    return pt;
}

int iw_match_pat_is_literal(const iw_match_pat_t *pt)
{
    size_t i;
    for (i = 0; i < pt->n; i++)
        if (pt->k[i] != IW_U_LIT) return 0;
    return 1;
}

/* Length of the windash character starting at unit i (0 if none):
 * '-' '/' or the UTF-8 of U+2013 U+2014 U+2015 (E2 80 93..95). */
static size_t dash_at(const iw_match_pat_t *pt, size_t i)
{
    if (pt->k[i] != IW_U_LIT) return 0;
    if (pt->b[i] == '-' || pt->b[i] == '/') return 1;
    if (pt->b[i] == 0xE2 && i + 2 < pt->n && pt->k[i + 1] == IW_U_LIT
        && pt->k[i + 2] == IW_U_LIT && pt->b[i + 1] == 0x80
        && pt->b[i + 2] >= 0x93 && pt->b[i + 2] <= 0x95)
        return 3;
    return 0;
}

iw_match_pat_t *iw_match_pat_windash(apr_pool_t *p, const iw_match_pat_t *pt)
{
    iw_match_pat_t *out = pat_alloc(p, pt->n);
    size_t i = 0, d;

    while (i < pt->n) {
        if ((d = dash_at(pt, i)) > 0) {
            pat_put(out, IW_U_DASH, 0);
            i += d;
        } else {
            pat_put(out, pt->k[i], pt->b[i]);
            i++;
        }
    }
    return out;
}

static const char *const dash_forms[5] = {
    "-", "/", "\xE2\x80\x93", "\xE2\x80\x94", "\xE2\x80\x95"
};

apr_array_header_t *iw_match_pat_windash_expand(apr_pool_t *p, const iw_match_pat_t *pt,
                                          int max)
{
    const iw_match_pat_t *tok = iw_match_pat_windash(p, pt);
    apr_array_header_t *out = apr_array_make(p, 8, sizeof(iw_match_pat_t *));
    long total = 1, v;
    size_t i, ndash = 0;

    for (i = 0; i < tok->n; i++)
        if (tok->k[i] == IW_U_DASH && (total *= 5, ++ndash) && total > max)
            return NULL;
    for (v = 0; v < total; v++) {
        iw_match_pat_t *o = pat_alloc(p, tok->n * 3);
        long sel = v;
        for (i = 0; i < tok->n; i++) {
            if (tok->k[i] == IW_U_DASH) {
                const char *f = dash_forms[sel % 5];
                sel /= 5;
                while (*f) pat_put(o, IW_U_LIT, (unsigned char)*f++);
            } else {
                pat_put(o, tok->k[i], tok->b[i]);
            }
        }
        APR_ARRAY_PUSH(out, iw_match_pat_t *) = o;
    }
    return out;
}

/* Decode one UTF-8 code point from literal units [i, end); invalid bytes
 * are taken as Latin-1 so every input encodes to something. */
static unsigned long utf8_next(const iw_match_pat_t *pt, size_t *i, size_t end)
{
    unsigned char c = pt->b[*i];
    int need = c >= 0xF0 && c < 0xF5 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 && c < 0xE0 ? 1 : 0;
    unsigned long cp = need == 3 ? (c & 0x07u) : need == 2 ? (c & 0x0Fu) : (c & 0x1Fu);
    size_t j;

    if (c < 0x80 || !need || *i + (size_t)need >= end) {
        (*i)++;
        return c;
    }
    for (j = 1; j <= (size_t)need; j++) {
        if (pt->k[*i + j] != IW_U_LIT || (pt->b[*i + j] & 0xC0) != 0x80) {
            (*i)++;
            return c;
        }
        cp = (cp << 6) | (pt->b[*i + j] & 0x3Fu);
    }
    *i += (size_t)need + 1;
    return cp;
}

static void put_u16(iw_match_pat_t *o, unsigned u, int be)
{
    pat_put(o, IW_U_LIT, (unsigned char)(be ? u >> 8 : u & 0xFF));
    pat_put(o, IW_U_LIT, (unsigned char)(be ? u & 0xFF : u >> 8));
}

iw_match_pat_t *iw_match_pat_utf16(apr_pool_t *p, const iw_match_pat_t *pt, int mode)
{
    iw_match_pat_t *o = pat_alloc(p, pt->n * 4 + 2);
    int be = mode == 1;
    size_t i = 0;

    if (mode == 2) {
        pat_put(o, IW_U_LIT, 0xFF);
        pat_put(o, IW_U_LIT, 0xFE);
    }
    while (i < pt->n) {
        unsigned long cp;
        if (pt->k[i] != IW_U_LIT) {
            pat_put(o, pt->k[i], pt->b[i]);
            i++;
            continue;
        }
        cp = utf8_next(pt, &i, pt->n);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            put_u16(o, (unsigned)(0xD800 + (cp >> 10)), be);
            put_u16(o, (unsigned)(0xDC00 + (cp & 0x3FF)), be);
        } else {
            put_u16(o, (unsigned)cp, be);
        }
    }
    return o;
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of bytes b[0..n) into a new literal pattern. */
static iw_match_pat_t *b64(apr_pool_t *p, const unsigned char *b, size_t n)
{
    iw_match_pat_t *o = pat_alloc(p, (n + 2) / 3 * 4);
    size_t i;

    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)b[i] << 16 | (unsigned)b[i + 1] << 8 | b[i + 2];
        pat_put(o, IW_U_LIT, (unsigned char)b64chars[v >> 18]);
        pat_put(o, IW_U_LIT, (unsigned char)b64chars[(v >> 12) & 63]);
        pat_put(o, IW_U_LIT, (unsigned char)b64chars[(v >> 6) & 63]);
        pat_put(o, IW_U_LIT, (unsigned char)b64chars[v & 63]);
    }
    if (n - i == 1) {
        unsigned v = (unsigned)b[i] << 16;
        pat_put(o, IW_U_LIT, (unsigned char)b64chars[v >> 18]);
        pat_put(o, IW_U_LIT, (unsigned char)b64chars[(v >> 12) & 63]);
        pat_put(o, IW_U_LIT, '=');
        pat_put(o, IW_U_LIT, '=');
    } else if (n - i == 2) {
        unsigned v = (unsigned)b[i] << 16 | (unsigned)b[i + 1] << 8;
        pat_put(o, IW_U_LIT, (unsigned char)b64chars[v >> 18]);
        pat_put(o, IW_U_LIT, (unsigned char)b64chars[(v >> 12) & 63]);
        pat_put(o, IW_U_LIT, (unsigned char)b64chars[(v >> 6) & 63]);
        pat_put(o, IW_U_LIT, '=');
    }
    return o;
}

iw_match_pat_t *iw_match_pat_base64(apr_pool_t *p, const iw_match_pat_t *pt)
{
    if (!iw_match_pat_is_literal(pt)) return NULL;
    return b64(p, pt->b, pt->n);
}

int iw_match_pat_base64offset(apr_pool_t *p, const iw_match_pat_t *pt, iw_match_pat_t *out[3])
{
    /* Shift s: s filler bytes precede the value; the first chars depending
     * on filler (0, 2, 3 of them) and the last ones depending on what
     * follows (0, 3, 2 for (len+s)%3 == 0, 1, 2) are cut. */
    static const size_t cut_start[3] = {0, 2, 3};
    static const size_t cut_end[3] = {0, 3, 2};
    int s;

    if (!iw_match_pat_is_literal(pt)) return -1;
    for (s = 0; s < 3; s++) {
        unsigned char *buf = apr_pcalloc(p, pt->n + 3);
        iw_match_pat_t *enc, *o;
        size_t a, z;

        memcpy(buf + s, pt->b, pt->n);
        enc = b64(p, buf, pt->n + (size_t)s);
        a = cut_start[s];
        z = cut_end[(pt->n + (size_t)s) % 3];
        out[s] = NULL;
        if (enc->n <= a + z) continue;
        o = pat_alloc(p, enc->n);
        memcpy(o->b, enc->b + a, enc->n - a - z);
        memset(o->k, IW_U_LIT, enc->n - a - z);
        o->n = enc->n - a - z;
        out[s] = o;
    }
    return 0;
}

static int hs_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '_';
}

const char *iw_match_pat_to_hs(apr_pool_t *p, const iw_match_pat_t *pt, int open_start,
                         int open_end, int *kind, size_t *longest_lit)
{
    size_t a = 0, z = pt->n, i, run = 0, best = 0, o = 0;
    char *out;

    while (a < z && pt->k[a] == IW_U_STAR) { a++; open_start = 1; }
    while (z > a && pt->k[z - 1] == IW_U_STAR) { z--; open_end = 1; }
    *longest_lit = 0;
    if (a == z) {
        *kind = (open_start || open_end) ? IW_MATCH_PAT_PRESENT : IW_MATCH_PAT_EMPTY;
        return NULL;
    }
    *kind = IW_MATCH_PAT_EXPR;
    /* worst case per unit: the dash alternation (48 chars) */
    out = apr_palloc(p, (z - a) * 48 + 8);
    if (!open_start) out[o++] = '^';
    for (i = a; i < z; i++) {
        unsigned char c = pt->b[i];
        run = pt->k[i] == IW_U_LIT ? run + 1 : 0;
        if (run > best) best = run;
        switch (pt->k[i]) {
        case IW_U_STAR: memcpy(out + o, ".*", 2); o += 2; break;
        case IW_U_ONE: out[o++] = '.'; break;
        case IW_U_DASH: {
            static const char alt[] =
                "(?:-|/|\\xe2\\x80\\x93|\\xe2\\x80\\x94|\\xe2\\x80\\x95)";
            memcpy(out + o, alt, sizeof(alt) - 1);
            o += sizeof(alt) - 1;
            break;
        }
        default:
            if (hs_plain(c)) {
                out[o++] = (char)c;
            } else {
                static const char hex[] = "0123456789abcdef";
                out[o++] = '\\'; out[o++] = 'x';
                out[o++] = hex[c >> 4]; out[o++] = hex[c & 15];
            }
        }
    }
    if (!open_end) { memcpy(out + o, "\\z", 2); o += 2; }
    out[o] = '\0';
    *longest_lit = best;
    return out;
}

const char *iw_match_pat_str(apr_pool_t *p, const iw_match_pat_t *pt)
{
    char *s = apr_palloc(p, pt->n + 1);
    size_t i;
    for (i = 0; i < pt->n; i++)
        s[i] = pt->k[i] == IW_U_STAR ? '*' : pt->k[i] == IW_U_ONE ? '?'
             : pt->k[i] == IW_U_DASH ? '-' : (char)pt->b[i];
    s[pt->n] = '\0';
    return s;
}
