/* SPDX-License-Identifier: Apache-2.0 */
/* json_strict: is a buffer exactly one RFC 8259 JSON value, strictly?
 * Valid UTF-8 only (no overlong forms, surrogates or code points past
 * U+10FFFF), no raw control characters or DEL anywhere, escapes from the
 * grammar with \u surrogates paired, the full number grammar, no duplicate
 * key in an object, nesting at most 64 deep, nothing after the value.
 * Header-only (static functions) for the fuzz targets. */
#ifndef IW_JSON_STRICT_H
#define IW_JSON_STRICT_H

#include <stddef.h>
#include <string.h>

typedef struct js { const unsigned char *p, *end; int depth; } js_t;

static int js_value(js_t *c);

static void js_ws(js_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int js_hex4(const unsigned char *s, unsigned *cp)
{
    int i;
    *cp = 0;
    for (i = 0; i < 4; i++) {
        unsigned char h = s[i];
        *cp <<= 4;
        if (h >= '0' && h <= '9') *cp |= h - '0';
        else if (h >= 'a' && h <= 'f') *cp |= h - 'a' + 10;
        else if (h >= 'A' && h <= 'F') *cp |= h - 'A' + 10;
        else return 0;
    }
    return 1;
}

/* One UTF-8 sequence at c->p (c->p < c->end, first byte >= 0x80). */
static int js_utf8(js_t *c)
{
    const unsigned char *s = c->p;
    size_t left = (size_t)(c->end - s), n, i;
    unsigned cp;

    if (s[0] >= 0xC2 && s[0] <= 0xDF) { n = 2; cp = s[0] & 0x1F; }
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) { n = 3; cp = s[0] & 0x0F; }
    else if (s[0] >= 0xF0 && s[0] <= 0xF4) { n = 4; cp = s[0] & 0x07; }
    else return 0;
    if (left < n) return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))
        || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    c->p += n;
    return 1;
}

static int js_string(js_t *c, const unsigned char **start, size_t *len)
{
    if (c->p >= c->end || *c->p != '"') return 0;
    c->p++;
    if (start) *start = c->p;
    while (c->p < c->end) {
        unsigned char ch = *c->p;
        unsigned cp, lo;
        if (ch == '"') {
            if (len) *len = (size_t)(c->p - *start);
            c->p++;
            return 1;
        }
        if (ch < 0x20 || ch == 0x7f) return 0;
        if (ch >= 0x80) {
            if (!js_utf8(c)) return 0;
            continue;
        }
        if (ch != '\\') { c->p++; continue; }
        if (++c->p >= c->end) return 0;
        if (*c->p != 'u') {
            if (!strchr("\"\\/bfnrt", *c->p) || !*c->p) return 0;
            c->p++;
            continue;
        }
        if (c->end - c->p < 5 || !js_hex4(c->p + 1, &cp)) return 0;
        c->p += 5;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return 0;            /* lone low half */
        if (cp >= 0xD800 && cp <= 0xDBFF) {                    /* needs its low half */
            if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u'
                || !js_hex4(c->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                return 0;
            c->p += 6;
        }
    }
    return 0;
}

static int js_digits(js_t *c)
{
    const unsigned char *s = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    return c->p > s;
}

static int js_number(js_t *c)
{
    if (c->p < c->end && *c->p == '-') c->p++;
    if (c->p >= c->end) return 0;
    if (*c->p == '0') c->p++;
    else if (!js_digits(c)) return 0;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (!js_digits(c)) return 0;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
        if (!js_digits(c)) return 0;
    }
    return 1;
}

#define JS_MAX_KEYS 256

static int js_object(js_t *c)
{
    const unsigned char *ks[JS_MAX_KEYS];
    size_t kl[JS_MAX_KEYS];
    int nk = 0, i;

    c->p++;
    js_ws(c);
    if (c->p < c->end && *c->p == '}') { c->p++; return 1; }
    for (;;) {
        const unsigned char *k;
        size_t l;
        js_ws(c);
        if (!js_string(c, &k, &l)) return 0;
        for (i = 0; i < nk; i++)                    /* raw bytes: escapes are ours */
            if (kl[i] == l && !memcmp(ks[i], k, l)) return 0;
        if (nk == JS_MAX_KEYS) return 0;
        ks[nk] = k; kl[nk++] = l;
        js_ws(c);
        if (c->p >= c->end || *c->p != ':') return 0;
        c->p++;
        if (!js_value(c)) return 0;
        js_ws(c);
        if (c->p >= c->end) return 0;
        if (*c->p == '}') { c->p++; return 1; }
        if (*c->p != ',') return 0;
        c->p++;
    }
}

static int js_array(js_t *c)
{
    c->p++;
    js_ws(c);
    if (c->p < c->end && *c->p == ']') { c->p++; return 1; }
    for (;;) {
        if (!js_value(c)) return 0;
        js_ws(c);
        if (c->p >= c->end) return 0;
        if (*c->p == ']') { c->p++; return 1; }
        if (*c->p != ',') return 0;
        c->p++;
    }
}

static int js_lit(js_t *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n)) return 0;
    c->p += n;
    return 1;
}

static int js_value(js_t *c)
{
    int ok;
    js_ws(c);
    if (c->p >= c->end) return 0;
    switch (*c->p) {
    case '{': case '[':
        if (++c->depth > 64) return 0;
        ok = *c->p == '{' ? js_object(c) : js_array(c);
        c->depth--;
        return ok;
    case '"': return js_string(c, NULL, NULL);
    case 't': return js_lit(c, "true");
    case 'f': return js_lit(c, "false");
    case 'n': return js_lit(c, "null");
    default: return js_number(c);
    }
}

/* 1 when [s, s+len) is exactly one strict JSON value (no raw control
 * character anywhere, so also none between tokens but the ones of js_ws:
 * an alert is one line). */
static int json_strict(const char *s, size_t len)
{
    js_t c = { (const unsigned char *)s, (const unsigned char *)s + len, 0 };
    size_t i;

    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f) return 0;
    if (!js_value(&c)) return 0;
    js_ws(&c);
    return c.p == c.end;
}

#endif
