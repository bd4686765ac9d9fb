/* SPDX-License-Identifier: Apache-2.0 */
/* iw_alert_field: what an alert reads off the event's fields, for the
 * bounded writer (iw_alert.c) and the direct writers (iw_alert_direct.c)
 * alike: whether a value is literal IP text (ECS *.ip or *.address), the
 * Host header's host without its port, and every field's name as a JSON
 * string (made once per process).
 *
 * Why a file of its own: both writers call these, and the files of src/
 * depend on each other one way (tests/cli/test_tree.py): the writer calls
 * the direct writer, so what they share cannot live in either (the
 * target's split, url_split, is small and hot: inline in iw_alert_int.h). */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "iw_alert.h"
#include "iw_alert_int.h"

/* Literal IPv4/IPv6 text (hex digits, '.', ':'); ECS *.ip fields reject
 * anything else, so hostnames go to *.address only.  One table read and
 * one add per byte (it runs on the client and server address of every
 * event): an entry is 0 for a byte that cannot occur, else 1 << 16 plus
 * its count of dots (bits 0-7) or colons (bits 8-15); 45 bytes at most,
 * so no field overflows.  8 to 16 bytes (an IPv4 address, a short IPv6
 * one) are tested 16 at a time, the bytes the two halves share counted
 * once. */
#define IPB_ANY   (1u << 16)
#define IPB_DOT   (IPB_ANY | 1u)
#define IPB_COLON (IPB_ANY | (1u << 8))
static const uint32_t ip_byte[256] = {
    ['0' ... '9'] = IPB_ANY, ['a' ... 'f'] = IPB_ANY, ['A' ... 'F'] = IPB_ANY,
    ['.'] = IPB_DOT, [':'] = IPB_COLON
};

int iw_alert__field_is_ip(iw_str_t v)
{
    size_t i;
    uint32_t sum = 0;
    if (!v.p || v.len == 0 || v.len > 45) return 0;
#if defined(__SSE2__)
    if (v.len >= 8 && v.len <= 16) {    /* the same tests on two overlapping halves */
        const __m128i *lo = (const __m128i *)(const void *)v.p,
                      *hi = (const __m128i *)(const void *)(v.p + v.len - 8);
        __m128i x = _mm_unpacklo_epi64(_mm_loadl_epi64(lo), _mm_loadl_epi64(hi)),
                l = _mm_or_si128(x, _mm_set1_epi8(0x20)),
                dig = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)),
                                    _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1))),
                hex = _mm_and_si128(_mm_cmpgt_epi8(l, _mm_set1_epi8('a' - 1)),
                                    _mm_cmplt_epi8(l, _mm_set1_epi8('f' + 1))),
                dot = _mm_cmpeq_epi8(x, _mm_set1_epi8('.')),
                col = _mm_cmpeq_epi8(x, _mm_set1_epi8(':'));
        unsigned keep = 0xffffu & ~(((1u << (16 - v.len)) - 1) << 8), c, d;  /* hi's repeats out */
        if ((unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(dig, hex),
                                                     _mm_or_si128(dot, col))) != 0xffffu)
            return 0;
        c = (unsigned)_mm_movemask_epi8(col) & keep;    /* one bit a colon, a dot */
        d = (unsigned)_mm_movemask_epi8(dot) & keep;
        d &= d - 1;                                     /* the lowest two dots off */
        d &= d - 1;
        return (c & (c - 1)) != 0 || (d && !(d & (d - 1)));
    }
#endif
    for (i = 0; i < v.len; i++) {
        uint32_t k = ip_byte[(unsigned char)v.p[i]];
        if (!k) return 0;
        sum += k;
    }
    return ((sum >> 8) & 0xff) >= 2 || (sum & 0xff) == 3;
}

/* Host header without its port: "h:80" -> "h", "[::1]:80" -> "::1".  One
 * colon is a port's; more are a bare IPv6 address's (memchr: a whole
 * header in a few steps, not a byte a step). */
iw_str_t iw_alert__field_host(iw_str_t v)
{
    const char *c;
    size_t i;
    if (!v.p || v.len == 0) return IW_STR_NULL;
    if (v.p[0] == '[') {
        for (i = 1; i < v.len; i++)
            if (v.p[i] == ']') return (iw_str_t){ v.p + 1, i - 1 };
        return v;
    }
    if (!(c = memchr(v.p, ':', v.len))
        || memchr(c + 1, ':', v.len - (size_t)(c + 1 - v.p)))
        return v;                                       /* no port; bare IPv6 */
    return (iw_str_t){ v.p, (size_t)(c - v.p) };
}

/* Every field's name as a JSON string, escaped once per process (what
 * m_cstr(..., iw_field_name(f), 64) writes for the value). */
struct iw_alert_fname iw_alert__field_names[IW_F__COUNT];
int iw_alert__field_names_ok;
static pthread_once_t fnames_once = PTHREAD_ONCE_INIT;

static void fnames_init(void)
{
    int f;
    for (f = 0; f < IW_F__COUNT; f++) {
        struct iw_alert_fname *fn = &iw_alert__field_names[f];
        const char *name = iw_field_name((iw_field_id_t)f);
        size_t pos = 0;
        if (iw_alert__json_str_bounded(fn->s, IW_ALERT_FNAME_MAX, &pos, name, strlen(name), 64))
            return;
        fn->n = pos;
        /* between its quotes the name itself (whole, nothing escaped) */
        fn->plain = pos - 2 == strlen(name) && !memcmp(fn->s + 1, name, pos - 2);
    }
    __atomic_store_n(&iw_alert__field_names_ok, 1, __ATOMIC_RELEASE);
}

int iw_alert__field_names_once(void)
{
    return !pthread_once(&fnames_once, fnames_init) && iw_alert__field_names_ok;
}
