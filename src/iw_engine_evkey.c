/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_evkey: the event cache's key bytes (iw_engine_eval.c, "event
 * cache"): every field the matchers read, written from an event
 * (iw_engine__event_key) or, before the event is built, from the
 * request's description (iw_engine__request_key), byte for byte the
 * same. */
#include "iw_engine_int.h"
#include <string.h>

/* Key writer: one room check per item, then plain copies (the key is
 * built for every event, cached or not). */
typedef struct kbuf { unsigned char *o, *end; } kbuf_t;

static inline int kroom(const kbuf_t *k, size_t n) { return (size_t)(k->end - k->o) >= n; }

static inline int kput(kbuf_t *k, const void *b, size_t n)
{
    if (!kroom(k, n)) return 0;
    iw_copy_short(k->o, b, n);
    k->o += n;
    return 1;
}

/* A string as length + bytes; absent (UINT32_MAX) differs from empty. */
static inline int kput_str(kbuf_t *k, iw_str_t v)
{
    uint32_t len = v.p ? (uint32_t)v.len : UINT32_MAX;
    if (!kroom(k, 4 + (v.p ? v.len : 0))) return 0;
    memcpy(k->o, &len, 4);
    k->o += 4;
    if (v.p) {
        iw_copy_short(k->o, v.p, v.len);
        k->o += v.len;
    }
    return 1;
}

/* A number as a mark that is never a string length, then its value. */
static inline int kput_num(kbuf_t *k, int64_t v)
{
    uint32_t mark = UINT32_MAX - 1;
    if (!kroom(k, 12)) return 0;
    memcpy(k->o, &mark, 4);
    memcpy(k->o + 4, &v, 8);
    k->o += 12;
    return 1;
}

/* What follows the fields in both key layouts (event_key, request_key):
 * the header list and the minute or second when rules need them.  The
 * writer comes by value and the new end goes back (NULL: no room): the
 * key's byte stores cannot alias a local, so its position stays in a
 * register (through a kbuf_t * it was reloaded after every store, a third
 * of the work for a browser's header list), also in the callers. */
static inline __attribute__((always_inline))
unsigned char *key_tail(const iw_engine_t *e, int ti, kbuf_t k, const iw_str_t *names,
                               const iw_str_t *values, int nhdrs, apr_time_t t)
{
    int i, ok = 1;
    if (e->evk_hdrs[ti]) {         /* name, value, name, ...: one copy of kput_str's code */
        ok = kput(&k, &nhdrs, sizeof(nhdrs));
        for (i = 0; ok && i < 2 * nhdrs; i++)
            ok = kput_str(&k, (i & 1) ? values[i >> 1] : names[i >> 1]);
    }
    if (ok && e->evk_time)
        ok = kput_num(&k, (int64_t)(t / (60 * (apr_time_t)APR_USEC_PER_SEC)));
    if (ok && e->evk_secs[ti])
        ok = kput_num(&k, (int64_t)(t / APR_USEC_PER_SEC));
    return ok ? k.o : NULL;
}

/* The event's key bytes: type, then every field the matchers read (with
 * its number), the header list and the minute or second when rules need
 * them.  request_key (below) writes the same bytes from the request's
 * description before the event is built: a change to one layout must be
 * made to both (tests/unit/test_engine_memo.c compares their answers).
 * 0 when the event is too big to cache or its views could be cut short by
 * the work buffer (then results could depend on what is not keyed). */
size_t iw_engine__event_key(const iw_engine_t *e, const iw_event_t *ev, int ti, unsigned char *buf)
{
    kbuf_t k = { buf, buf + IW_ENGINE_MEMO_MAX_KEY };
    int req = ti == 0 && ev->from_request, f, ok = 1;
    uint64_t m = req ? e->evk_req : e->evk_fields[ti];
    size_t n;

    *k.o++ = (unsigned char)(ti | req << 1);     /* which layout follows */
    for (; m && ok; m &= m - 1) {
        f = __builtin_ctzll(m);
        ok = (ev->have_num & FBIT(f)) ? kput_num(&k, ev->num[f])   /* the text is the number's */
                                      : kput_str(&k, ev->val[f]);
    }
    if (!ok || !(k.o = key_tail(e, ti, k, ev->hdr_names, ev->hdr_values, ev->nhdrs, ev->time)))
        return 0;
    n = (size_t)(k.o - buf);
    if (ev->buf_used + 6 * n + 1024 > ev->buf_size) return 0;
    return n;
}

/* The fields the event key holds are every field the matchers read (what
 * is not keyed cannot change a result); a view's sources stand for it. */
int iw_engine_reads_field(const iw_engine_t *e, int f)
{
    return e && f >= 0 && f < IW_F__COUNT && (e->evk_fields[0] & FBIT(f)) != 0;
}

/* One planned field of a request key, as event_key writes it. */
IW_HOT
static int rkey_put(kbuf_t *k, const iw_request_desc_t *d, rkey_item_t it)
{
    const char *p = (const char *)d + it.off;
    int64_t v = 0;
    int x, num = 0;

    switch (it.kind) {
    case RK_STR: return kput_str(k, *(const iw_str_t *)(const void *)p);
    case RK_INT: memcpy(&x, p, sizeof(x)); v = x; num = x > 0; break;
    case RK_I64: memcpy(&v, p, sizeof(v)); num = v >= 0; break;
    default:     break;
    }
    return num ? kput_num(k, v) : kput_str(k, IW_STR_NULL);
}

/* What event_key (above) writes for the event iw_event_from_request
 * builds from d, read from d itself: the same bytes, byte for byte, so
 * both share cache entries (the
 * plan only allows it when every keyed field is copied, numeric or unset,
 * evk_req_desc).  The builder uses no work buffer: the room check is on
 * the empty buffer. */
IW_HOT
size_t iw_engine__request_key(const iw_engine_t *e, const iw_request_desc_t *d,
                          size_t buf_size, unsigned char *buf, size_t room)
{
    kbuf_t k = { buf, buf + room };
    /* the builder's header count (iw_event_from_request) */
    int nhdrs = (d->hdr_names && d->hdr_values && d->nhdrs > 0) ? d->nhdrs : 0, ok = 1, i;
    size_t n;

    if (d->dropped) return 0;                     /* iw-truncated: not a function of the key */
    *k.o++ = (unsigned char)(0 | 1 << 1);        /* event_key's layout byte: access, from a request */
    for (i = 0; i < e->nrkey && ok; i++) ok = rkey_put(&k, d, e->rkey[i]);
    if (!ok || !(k.o = key_tail(e, 0, k, d->hdr_names, d->hdr_values, nhdrs, d->time)))
        return 0;
    n = (size_t)(k.o - buf);
    if (6 * n + 1024 > buf_size) return 0;
    return n;
}
