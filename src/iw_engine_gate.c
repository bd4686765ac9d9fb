/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_gate: the byte gate of a field's databases (fieldm_t.gate,
 * iw_engine_int.h): built at config time from the patterns' required
 * literals, one byte per literal; a value holding none of its bytes needs
 * no scan.  The table's nibble form tests 16 bytes with four shuffles
 * (SSSE3, chosen at load time from the CPU); iw_engine_eval.c tests
 * shorter values byte by byte. */
#include "iw_engine_int.h"
#include "iw_match_factor.h"

/* ---- config time ------------------------------------------------------------- */

/* The nibble form after the 256 bytes: for each low nibble, a bit per
 * high nibble (0-7 in the first 16 bytes, 8-15 in the next) whose byte is
 * in the gate. */
static void gate_nibbles(uint8_t *g)
{
    unsigned c;
    for (c = 0; c < 256; c++)
        if (g[c]) g[256 + 16 * (c >> 7) + (c & 15)] |= (uint8_t)(1u << ((c >> 4) & 7));
}

/* How common a byte is in request text (URIs, parameters, headers):
 * lower is rarer.  Only orders the choice of a literal's gate byte. */
static int gate_rank(unsigned c)
{
    static const char common[] = "eaotisrnlcpdhmu/.-_=&0123456789fgbwykvxjqz %?:;,+";
    const char *at;
    if (c >= 0x80 || c < 0x20 || c == 0x7f) return 0;
    if (c >= 'A' && c <= 'Z') c += 'a' - 'A';   /* a letter counts as its lower case */
    at = strchr(common, (int)c);
    return at ? 200 - (int)(at - common) : 100;
}

static void gate_add(uint8_t *g, unsigned c, int caseless)
{
    g[c] = 1;
    if (caseless && c >= 'a' && c <= 'z') g[c - 'a' + 'A'] = 1;
    if (caseless && c >= 'A' && c <= 'Z') g[c - 'A' + 'a'] = 1;
}

/* The other case of a letter (c itself otherwise). */
static unsigned other_case(unsigned c)
{
    if (c >= 'a' && c <= 'z') return c - 'a' + 'A';
    if (c >= 'A' && c <= 'Z') return c - 'A' + 'a';
    return c;
}

/* One literal every match holds: its rarest byte joins the gate, unless
 * the gate already has one of its bytes (a caseless literal's in both
 * cases: a cased pattern's byte opens the gate in its own case only). */
static void gate_lit(uint8_t *g, const unsigned char *l, size_t n, int caseless)
{
    size_t j, best = 0;
    for (j = 0; j < n; j++) {
        if (g[l[j]] && (!caseless || g[other_case(l[j])])) return;
        if (gate_rank(l[j]) < gate_rank(l[best])) best = j;
    }
    gate_add(g, l[best], caseless);
}

#define GATE_MAX_COMMON 12     /* more bytes of the usual text: no gate */

/* The byte gate of a field's databases (fieldm_t.gate): from every
 * pattern's required literals (a pure literal is its own; a regex's from
 * iw_match_factor.h: each match holds one of them), one byte per literal.
 * None when a pattern has no required literal, or when the gate would
 * hold so many common bytes that it opens for nearly every value (the
 * pure literals are taken first: they cost no analysis). */
void iw_engine__gate_build(build_t *b, fieldm_t *fm, const apr_array_header_t *ids)
{
    uint8_t *g = apr_pcalloc(b->p, IW_GATE_BYTES);
    int i, pass, ncommon;
    unsigned c;

    for (pass = 0; pass < 2; pass++)
        for (i = 0; i < ids->nelts; i++) {
            unsigned id = APR_ARRAY_IDX(ids, i, unsigned);
            const pat_t *pt;
            iw_match_factor_t fa;
            int cl, k;
            if (id >= (unsigned)b->pats->nelts)      /* merged literal: its pattern */
                id = (unsigned)APR_ARRAY_IDX(b->conf, id - (unsigned)b->pats->nelts, confent_t).pat;
            pt = &APR_ARRAY_IDX(b->pats, id, pat_t);
            cl = (pt->flags & HS_FLAG_CASELESS) != 0;
            if ((pt->lb != NULL) != !pass) continue;
            if (pt->lb) {
                if (!pt->ll) return;
                gate_lit(g, pt->lb, pt->ll, cl);
            } else {
                iw_match_factor_analyse(b->tp, pt->expr, strlen(pt->expr),
                                        (cl ? IW_MATCH_FACTOR_CASELESS : 0)
                                        | ((pt->flags & HS_FLAG_DOTALL) ? IW_MATCH_FACTOR_DOTALL : 0)
                                        | ((pt->flags & HS_FLAG_MULTILINE) ? IW_MATCH_FACTOR_MULTILINE : 0),
                                        &fa);
                if (!fa.nlits) return;
                for (k = 0; k < fa.nlits; k++) {
                    if (!fa.lits[k].len) return;
                    gate_lit(g, fa.lits[k].b, fa.lits[k].len, cl);
                }
            }
            for (c = 0, ncommon = 0; c < 128; c++)
                if (g[c] && gate_rank(c) > 150 && !(c >= 'A' && c <= 'Z')) ncommon++;
            if (ncommon > GATE_MAX_COMMON) return;
        }
    gate_nibbles(g);
    fm->gate = g;
}

/* ---- evaluation ---------------------------------------------------------------- */

#ifdef IW_GATE_SIMD
#include <immintrin.h>
int iw_engine__gate_ssse3;

/* Any byte of 16 in the gate: its low nibble picks the gate's bits of the
 * high nibbles (gate_nibbles), its high nibble the one bit. */
__attribute__((target("ssse3")))
static inline int gate16(__m128i v, __m128i l0, __m128i l1)
{
    const __m128i h0 = _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m128i h1 = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, -128);
    const __m128i nib = _mm_set1_epi8(0x0f);
    __m128i lo = _mm_and_si128(v, nib), hi = _mm_and_si128(_mm_srli_epi16(v, 4), nib);
    __m128i a = _mm_or_si128(_mm_and_si128(_mm_shuffle_epi8(l0, lo), _mm_shuffle_epi8(h0, hi)),
                             _mm_and_si128(_mm_shuffle_epi8(l1, lo), _mm_shuffle_epi8(h1, hi)));
    return _mm_movemask_epi8(_mm_cmpeq_epi8(a, _mm_setzero_si128())) != 0xffff;
}

/* iw_engine_eval.c's gate_open on n >= 16 bytes: 16 at a time, the last 16
 * read where they end. */
__attribute__((target("ssse3")))
int iw_engine__gate_open16(const uint8_t *g, const unsigned char *p, size_t n)
{
    const __m128i l0 = _mm_loadu_si128((const __m128i *)(const void *)(g + 256));
    const __m128i l1 = _mm_loadu_si128((const __m128i *)(const void *)(g + 272));
    size_t i;
    for (i = 0; i + 16 <= n; i += 16)
        if (gate16(_mm_loadu_si128((const __m128i *)(const void *)(p + i)), l0, l1)) return 1;
    return i < n && gate16(_mm_loadu_si128((const __m128i *)(const void *)(p + n - 16)), l0, l1);
}

__attribute__((constructor)) static void gate_probe(void)
{
    __builtin_cpu_init();
    iw_engine__gate_ssse3 = __builtin_cpu_supports("ssse3");
}
#endif
