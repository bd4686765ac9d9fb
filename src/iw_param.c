/* SPDX-License-Identifier: Apache-2.0 */
/* iw_param: split a query string, a form body, a Cookie header or a JSON
 * body into parameters, each name and value decoded on its own (the
 * decisions are documented in docs/FIELDS.md, "Per-parameter fields").
 *
 * Output: three NUL-separated lists (names, values, "name=value" pairs) in
 * three equal regions of the caller's room.  Every decoded piece is at
 * most as long as its raw text, so a room of IW_PARAM_ROOM(len) holds
 * every parameter of a query, form or cookie source; what does not fit
 * (a JSON key repeated over an array can outgrow its source) and what is
 * past IW_PARAMS_MAX is counted in `dropped`, never split half.  Linear
 * in the input; nothing allocated. */
#include <string.h>
#include "iw_param.h"
#include "iw_decode.h"

/* ---- output ---------------------------------------------------------------- */

enum { R_NAMES, R_VALUES, R_PAIRS };

typedef struct sink {
    char *o[3];
    size_t used[3], cap;        /* per region; cap keeps one byte for the NUL */
    unsigned n;
    size_t dropped;
    int full;                   /* a parameter did not fit: count the rest */
} sink_t;

/* A decoder of one piece into out (room for len + 1 bytes); returns the
 * length written.  Its output is never longer than its input. */
typedef size_t (*decode_fn)(const char *in, size_t len, char *out);

/* Most names and values have nothing to decode (no '%', NUL, byte past
 * ASCII, '+' in a form): copied as they are, what iw_decode_full would
 * write, without its set-up (a short piece cost ~160 instructions). */
static inline size_t dec_piece(const char *in, size_t len, char *out, int flags)
{
    if (!iw_decode_fastpath || iw_decode_plain_len(in, len, flags & IW_DECODE_PLUS) != len)
        return iw_decode_full(in, len, out, flags);
    iw_copy_short(out, in, len);
    out[len] = '\0';
    return len;
}

static size_t dec_form(const char *in, size_t len, char *out)
{
    return dec_piece(in, len, out, IW_DECODE_PLUS);
}

static size_t dec_cookie(const char *in, size_t len, char *out)
{
    return dec_piece(in, len, out, 0);
}

static int hexv(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static long hex4(const char *p, size_t left)
{
    long v = 0;
    int i, h;
    if (left < 4) return -1;
    for (i = 0; i < 4; i++) {
        if ((h = hexv((unsigned char)p[i])) < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

static size_t utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The text of a JSON string (between its quotes): escapes undone,
 * \uXXXX to UTF-8 (a surrogate pair to one code point, a lone surrogate
 * to U+FFFD), NULs dropped (they separate values).  An escape needs at
 * least 2 input bytes per output byte except \uXXXX (6 in, <= 3 out) and
 * a pair (12 in, 4 out): never longer than the input. */
static size_t dec_json(const char *in, size_t len, char *out)
{
    size_t i = 0, o = 0;
    long cp, lo;

    while (i < len) {
        char c = in[i];
        if (c != '\\' || i + 1 >= len) {
            if (c) out[o++] = c;
            i++;
            continue;
        }
        c = in[i + 1];
        i += 2;
        switch (c) {
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u':
            if ((cp = hex4(in + i, len - i)) < 0) { out[o++] = 'u'; break; }
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && len - i >= 6 && in[i] == '\\'
                && in[i + 1] == 'u' && (lo = hex4(in + i + 2, len - i - 2)) >= 0xDC00
                && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 0xFFFD;
            }
            if (cp) o += utf8(out + o, (unsigned long)cp);
            break;
        default:
            if (c) out[o++] = c;       /* \" \\ \/ and anything else as itself */
            break;
        }
    }
    out[o] = '\0';
    return o;
}

/* The next parameter's turn: dropped (counted) when the sink is full or
 * holds IW_PARAMS_MAX, or when its bytes (need: per region, NULL: the room
 * holds every piece) do not fit, which fills the sink; else the lists'
 * separators are written.  Returns 1 when the parameter goes in. */
static inline __attribute__((always_inline)) int sink_next(sink_t *s, const size_t *need)
{
    size_t sep = s->n ? 1 : 0;

    if (s->full || s->n >= IW_PARAMS_MAX) { s->dropped++; return 0; }
    if (need && (s->used[R_NAMES] + sep + need[R_NAMES] > s->cap
                 || s->used[R_VALUES] + sep + need[R_VALUES] > s->cap
                 || s->used[R_PAIRS] + sep + need[R_PAIRS] > s->cap)) {
        s->full = 1;
        s->dropped++;
        return 0;
    }
    if (sep) {
        s->o[R_NAMES][s->used[R_NAMES]++] = '\0';
        s->o[R_VALUES][s->used[R_VALUES]++] = '\0';
        s->o[R_PAIRS][s->used[R_PAIRS]++] = '\0';
    }
    return 1;
}

/* One parameter: name (decoded), '=' when it had one, value (decoded).
 * Decoded into the pairs region first, then copied to the other two. */
static void emit(sink_t *s, const char *name, size_t nlen, int has_eq,
                 const char *val, size_t vlen, decode_fn dec)
{
    const size_t need[3] = { nlen, vlen, nlen + (has_eq ? 1 : 0) + vlen };
    size_t dn, dv;
    char *p;

    if (!sink_next(s, need)) return;
    p = s->o[R_PAIRS] + s->used[R_PAIRS];
    dn = nlen ? dec(name, nlen, p) : 0;
    memcpy(s->o[R_NAMES] + s->used[R_NAMES], p, dn);
    s->used[R_NAMES] += dn;
    s->used[R_PAIRS] += dn;
    if (has_eq) s->o[R_PAIRS][s->used[R_PAIRS]++] = '=';
    p = s->o[R_PAIRS] + s->used[R_PAIRS];
    dv = vlen ? dec(val, vlen, p) : 0;
    memcpy(s->o[R_VALUES] + s->used[R_VALUES], p, dv);
    s->used[R_VALUES] += dv;
    s->used[R_PAIRS] += dv;
    s->n++;
}

/* The views of a split into v, the lists closed; returns the bytes of the
 * room used (r: each region's size). */
static size_t sink_finish(sink_t *s, size_t r, iw_param_views_t *v)
{
    int k;

    v->n = s->n;
    v->dropped = s->dropped;
    if (!s->n) return 0;
    for (k = 0; k < 3; k++) s->o[k][s->used[k]] = '\0';
    v->names = (iw_str_t){ s->o[R_NAMES], s->used[R_NAMES] };
    v->values = (iw_str_t){ s->o[R_VALUES], s->used[R_VALUES] };
    v->pairs = (iw_str_t){ s->o[R_PAIRS], s->used[R_PAIRS] };
    return 2 * r + s->used[R_PAIRS] + 1;
}

/* ---- query strings, form bodies, cookies ------------------------------------ */

static int blank(char c) { return c == ' ' || c == '\t'; }

static void trim(const char **p, size_t *n)
{
    while (*n && blank(**p)) { (*p)++; (*n)--; }
    while (*n && blank((*p)[*n - 1])) (*n)--;
}

/* One piece between separators: "name=value" or "name". */
static void piece(sink_t *s, const char *p, size_t n, iw_param_syntax_t syn)
{
    const char *eq, *v = NULL;
    size_t nl, vl = 0;

    if (syn == IW_PARAM_COOKIE) trim(&p, &n);
    if (!n) return;
    nl = n;                     /* after the trim: a name without '=' is all of it */
    if ((eq = memchr(p, '=', n))) {
        nl = (size_t)(eq - p);
        v = eq + 1;
        vl = n - nl - 1;
    }
    if (syn == IW_PARAM_COOKIE) {
        trim(&p, &nl);
        if (v) {
            trim(&v, &vl);
            if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') { v++; vl -= 2; }
        }
    }
    emit(s, p, nl, eq != NULL, v, vl, syn == IW_PARAM_COOKIE ? dec_cookie : dec_form);
}

static void split_pieces(sink_t *s, const char *in, size_t len, iw_param_syntax_t syn)
{
    char sepc = syn == IW_PARAM_COOKIE ? ';' : '&';
    const char *p = in, *end = in + len, *q;

    while (p < end) {
        q = memchr(p, sepc, (size_t)(end - p));
        if (!q) q = end;
        piece(s, p, (size_t)(q - p), syn);
        p = q + 1;
    }
}

static size_t count_pieces(const char *in, size_t len, iw_param_syntax_t syn)
{
    char sepc = syn == IW_PARAM_COOKIE ? ';' : '&';
    const char *p = in, *end = in + len, *q, *a, *b;
    size_t n = 0;

    while (p < end) {
        q = memchr(p, sepc, (size_t)(end - p));
        if (!q) q = end;
        a = p;
        b = q;
        if (syn == IW_PARAM_COOKIE)
            while (a < b && blank(*a)) a++;
        n += a < b;
        p = q + 1;
    }
    return n;
}

/* ---- a query cut out of its decoded view ------------------------------------ */

/* Decoding never reduces across a raw '&' or '=': neither byte is part of
 * a sequence the decoder takes ('%', 'u', hex digits, bytes >= 0x80), and
 * it only reduces the output's tail, so a raw separator, once written,
 * splits the output for good.  A query's decoded view (iw_decode_full with
 * IW_DECODE_PLUS) is therefore its '&'-pieces decoded one by one, joined
 * by the raw '&', and each piece its name and value decoded on their own
 * joined by the raw '='.  Where every '&' of the view is a raw one, the
 * parameters are cut out of it, not decoded again. */
static void emit_cut(sink_t *s, const char *name, size_t nlen, int has_eq, const char *dseg,
                     size_t dlen, int same)
{
    size_t dn, dv;
    char *p;

    if (!sink_next(s, NULL)) return;    /* the room holds every piece */
    p = s->o[R_PAIRS] + s->used[R_PAIRS];
    /* the name's decoded length: its own length when it has nothing to
     * decode (the common case; same: nothing in the query has), else
     * decoded where it goes */
    dn = !has_eq ? dlen : same || iw_decode_plain_len(name, nlen, 1) == nlen ? nlen
       : iw_decode_full(name, nlen, p, IW_DECODE_PLUS);
    if (has_eq && (dn >= dlen || dseg[dn] != '=')) { s->full = 1; return; }   /* never */
    dv = has_eq ? dlen - dn - 1 : 0;
    iw_copy_short(p, dseg, dlen);
    memcpy(s->o[R_NAMES] + s->used[R_NAMES], p, dn);
    memcpy(s->o[R_VALUES] + s->used[R_VALUES], p + dlen - dv, dv);
    s->used[R_NAMES] += dn;
    s->used[R_VALUES] += dv;
    s->used[R_PAIRS] += dlen;
    s->n++;
}

size_t iw_param_split_decoded(const char *in, size_t len, const char *dec, size_t dlen,
                              char *out, size_t room, iw_param_views_t *v)
{
    const char *p = in, *end = in + len, *q, *d = dec, *dend = dec + dlen, *dq;
    sink_t s;
    size_t r = room / 3, k;

    memset(v, 0, sizeof(*v));
    if (!in || !dec || room < IW_PARAM_ROOM(len) || dlen > len) return (size_t)-1;
    memset(&s, 0, sizeof(s));
    s.cap = r - 1;                  /* holds every piece: nothing is cut for room */
    for (k = 0; k < 3; k++) s.o[k] = out + k * r;
    while (p < end) {
        q = memchr(p, '&', (size_t)(end - p));
        dq = d < dend ? memchr(d, '&', (size_t)(dend - d)) : NULL;
        if (!q != !dq) return (size_t)-1;     /* an '&' the decoding made (%26) */
        if (!q) { q = end; dq = dend; }
        if (q > p) {
            const char *eq = memchr(p, '=', (size_t)(q - p));
            emit_cut(&s, p, eq ? (size_t)(eq - p) : (size_t)(q - p), eq != NULL, d, (size_t)(dq - d),
                     dec == in);
        }
        p = q + 1;
        d = dq + 1;
    }
    if (s.full || (d < dend && memchr(d, '&', (size_t)(dend - d)))) return (size_t)-1;
    return sink_finish(&s, r, v);
}

/* ---- JSON ------------------------------------------------------------------ */

#define JSON_DEPTH 64

typedef struct jp {
    const char *p, *end;
    int depth;
    const char *key[JSON_DEPTH + 1];  /* innermost object key per level */
    size_t klen[JSON_DEPTH + 1];
} jp_t;

static void ws(jp_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

/* A string at j->p (on its quote): its raw text, or 0 when unterminated. */
static int jstring(jp_t *j, const char **s, size_t *n)
{
    const char *q = ++j->p;
    while (q < j->end && *q != '"') q += (*q == '\\' && q + 1 < j->end) ? 2 : 1;
    if (q >= j->end) return 0;
    *s = j->p;
    *n = (size_t)(q - j->p);
    j->p = q + 1;
    return 1;
}

/* A value; leaves are emitted (sink NULL: counted into *count).  Returns 0
 * on a syntax error or past the depth: the parameters so far are kept. */
static int jvalue(jp_t *j, sink_t *s, size_t *count)
{
    const char *t, *k;
    size_t n, kn;
    int d = j->depth;

    ws(j);
    if (j->p >= j->end) return 0;
    if (*j->p == '{' || *j->p == '[') {
        int obj = *j->p == '{';
        if (d >= JSON_DEPTH) return 0;
        j->p++;
        j->depth++;
        j->key[d + 1] = j->key[d];       /* an array's elements keep the key */
        j->klen[d + 1] = j->klen[d];
        ws(j);
        if (j->p < j->end && *j->p == (obj ? '}' : ']')) { j->p++; j->depth--; return 1; }
        for (;;) {
            if (obj) {
                ws(j);
                if (j->p >= j->end || *j->p != '"' || !jstring(j, &k, &kn)) return 0;
                j->key[d + 1] = k;
                j->klen[d + 1] = kn;
                ws(j);
                if (j->p >= j->end || *j->p != ':') return 0;
                j->p++;
            }
            if (!jvalue(j, s, count)) return 0;
            ws(j);
            if (j->p < j->end && *j->p == ',') { j->p++; continue; }
            if (j->p < j->end && *j->p == (obj ? '}' : ']')) { j->p++; break; }
            return 0;
        }
        j->depth--;
        return 1;
    }
    if (*j->p == '"') {
        if (!jstring(j, &t, &n)) return 0;
    } else {
        t = j->p;
        while (j->p < j->end && !strchr(",]} \t\r\n", *j->p)) j->p++;
        n = (size_t)(j->p - t);
        if (!n) return 0;
    }
    if (s) emit(s, j->key[d], j->klen[d], 1, t, n, dec_json);
    else (*count)++;
    return 1;
}

static void json_walk(const char *in, size_t len, sink_t *s, size_t *count)
{
    jp_t j;

    j.p = in;
    j.end = in + len;
    j.depth = 0;
    j.key[0] = "";
    j.klen[0] = 0;
    (void)jvalue(&j, s, count);
}

/* ---- interface ---------------------------------------------------------------- */

size_t iw_param_split(const char *in, size_t len, iw_param_syntax_t syntax,
                      char *out, size_t room, iw_param_views_t *v)
{
    sink_t s;
    size_t r = room / 3, k;

    memset(v, 0, sizeof(*v));
    memset(&s, 0, sizeof(s));
    if (!in) return 0;
    s.cap = r ? r - 1 : 0;
    s.full = r == 0;
    for (k = 0; k < 3; k++) s.o[k] = out + k * r;
    if (syntax == IW_PARAM_JSON) json_walk(in, len, &s, NULL);
    else split_pieces(&s, in, len, syntax);
    return sink_finish(&s, r, v);
}

size_t iw_param_count(const char *in, size_t len, iw_param_syntax_t syntax)
{
    size_t n = 0;

    if (!in) return 0;
    if (syntax == IW_PARAM_JSON) json_walk(in, len, NULL, &n);
    else n = count_pieces(in, len, syntax);
    return n;
}
