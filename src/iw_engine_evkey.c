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
 * list is the count, each header's two lengths (UINT32_MAX: absent), then
 * the lines as cs-headers is made of them ("Name: value\n" each, an
 * absent piece writes nothing): the lengths make the names and values of
 * the bytes, and *lines (NULL p: no list) tells where they are, for the
 * event to copy (iw_event_t.hdr_lines) instead of writing cs-headers
 * again.  The writer comes by value and the new end goes back (NULL: no
 * room): the key's byte stores cannot alias a local, so its position stays
 * in a register (through a kbuf_t * it was reloaded after every store, a
 * third of the work for a browser's header list), also in the callers. */
static inline __attribute__((always_inline))
unsigned char *key_tail(const iw_engine_t *e, int ti, kbuf_t k, const iw_str_t *names,
                        const iw_str_t *values, int nhdrs, apr_time_t t, iw_str_t *lines)
{
    int i, ok = 1;

    *lines = IW_STR_NULL;
    if (e->evk_hdrs[ti]) {
        unsigned char *lens = k.o + 4;
        if (!kroom(&k, 4 + 8 * (size_t)nhdrs)) return NULL;
        memcpy(k.o, &nhdrs, 4);
        k.o = lens + 8 * (size_t)nhdrs;
        lines->p = (const char *)k.o;
        for (i = 0; i < nhdrs; i++, lens += 8) {
            const char *np = names[i].p, *vp = values[i].p;
            size_t nl = np ? names[i].len : 0, vl = vp ? values[i].len : 0;
            /* past the room check, a length is under UINT32_MAX */
            uint64_t l = (np ? nl : UINT32_MAX) | (vp ? vl : UINT32_MAX) << 32;
            if (!kroom(&k, nl + vl + 3)) return NULL;
            memcpy(lens, &l, 8);
            iw_copy_short(k.o, np, nl);
            k.o += nl;
            k.o[0] = ':';
            k.o[1] = ' ';
            iw_copy_short(k.o + 2, vp, vl);
            k.o += vl + 3;
            k.o[-1] = '\n';
        }
        lines->len = (size_t)((const char *)k.o - lines->p);
    }
    if (e->evk_time)
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
size_t iw_engine__event_key(const iw_engine_t *e, const iw_event_t *ev, int ti, unsigned char *buf,
                            iw_str_t *lines)
{
    kbuf_t k = { buf, buf + IW_ENGINE_MEMO_MAX_KEY };
    int req = ti == 0 && ev->from_request, f, i, ok = 1;
    uint64_t m = req ? e->evk_req : e->evk_fields[ti];
    size_t n;

    *k.o++ = (unsigned char)(ti | req << 1);     /* which layout follows */
    if (req && e->evk_req_desc) {   /* request_key's order: its plan's */
        for (i = 0; i < e->nrkey && ok; i++) {
            f = e->rkey[i].field;
            ok = (ev->have_num & FBIT(f)) ? kput_num(&k, ev->num[f]) : kput_str(&k, ev->val[f]);
        }
        m = 0;
    }
    for (; m && ok; m &= m - 1) {
        f = __builtin_ctzll(m);
        ok = (ev->have_num & FBIT(f)) ? kput_num(&k, ev->num[f])   /* the text is the number's */
                                      : kput_str(&k, ev->val[f]);
    }
    if (!ok || !(k.o = key_tail(e, ti, k, ev->hdr_names, ev->hdr_values, ev->nhdrs, ev->time, lines)))
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
                              size_t buf_size, unsigned char *buf, size_t room, iw_str_t *lines)
{
    kbuf_t k = { buf, buf + room };
    /* the builder's header count (iw_event_from_request) */
    int nhdrs = (d->hdr_names && d->hdr_values && d->nhdrs > 0) ? d->nhdrs : 0, ok = 1, i;
    size_t n;

    if (d->dropped) return 0;                     /* iw-truncated: not a function of the key */
    *k.o++ = (unsigned char)(0 | 1 << 1);        /* event_key's layout byte: access, from a request */
    for (i = 0; i < e->nrkey_str && ok; i++)     /* the strings, then the numbers */
        ok = kput_str(&k, *(const iw_str_t *)(const void *)((const char *)d + e->rkey[i].off));
    for (; i < e->nrkey && ok; i++) ok = rkey_put(&k, d, e->rkey[i]);
    if (!ok || !(k.o = key_tail(e, 0, k, d->hdr_names, d->hdr_values, nhdrs, d->time, lines)))
        return 0;
    n = (size_t)(k.o - buf);
    if (6 * n + 1024 > buf_size) return 0;
    return n;
}

/* A class of events that does not repeat pauses the event cache (its key
 * costs more than its few hits save), but a request sent again and again
 * among them (a monitor's health check, a polling client) would pay its
 * whole evaluation each time: while the cache pauses, a fingerprint of the
 * request (method, target, client, header count: lengths and first and
 * last bytes, ~20 instructions) is kept in a small table, and a request
 * whose fingerprint is there is looked up (and stored) as if the cache
 * were on.  Only which requests use the cache depends on it: its answers
 * are exact (full keys) either way. */
int iw_engine__evc_repeat(iw_scratch_t *s, iw_str_t method, iw_str_t target, iw_str_t client, int nhdrs)
{
    uint64_t fp, *slot;

    fp = iw_engine_memo__hash_tail((uint64_t)nhdrs, (const unsigned char *)target.p, target.len);
    fp = iw_engine_memo__hash_tail(fp ^ method.len, (const unsigned char *)client.p, client.len) | 1;
    slot = &s->evfp[fp % EVFP_SLOTS];
    if (*slot == fp) return 1;
    *slot = fp;
    return 0;
}

/* ---- the plan ---------------------------------------------------------------- */

/* Where iw_event_from_request takes access field f from: a member of the
 * description it copies (a string, or a number when known), nowhere (the
 * field is never set in a request's event), or RK_DERIVED (computed from
 * other data: a request key cannot stand for it). */
static rkey_item_t rkey_item(int f)
{
    rkey_item_t it = { 0, RK_DERIVED, (uint8_t)f };
#define RK(field, member, how) case field:                                         \
    it.off = (uint16_t)offsetof(iw_request_desc_t, member); it.kind = how; break
    switch (f) {
    RK(IW_F_C_IP, client_ip, RK_STR);
    RK(IW_F_S_IP, server_ip, RK_STR);
    RK(IW_F_S_SITENAME, sitename, RK_STR);
    RK(IW_F_CS_METHOD, method, RK_STR);
    RK(IW_F_CS_URI, target, RK_STR);
    RK(IW_F_CS_VERSION, version, RK_STR);
    RK(IW_F_CS_USERNAME, username, RK_STR);
    RK(IW_F_REQUEST_ID, request_id, RK_STR);
    RK(IW_F_CS_BODY, body, RK_STR);
    RK(IW_F_S_PORT, server_port, RK_INT);
    RK(IW_F_SC_STATUS, status, RK_INT);
    RK(IW_F_SC_BYTES, sc_bytes, RK_I64);
    RK(IW_F_CS_BYTES, cs_bytes, RK_I64);
    RK(IW_F_TIME_TAKEN, time_taken_ms, RK_I64);
    case IW_F_MESSAGE: case IW_F_LEVEL: case IW_F_MODULE: case IW_F_AH_CODE: case IW_F_PID:
        it.kind = RK_NULL;
        break;
    default: break;
    }
#undef RK
    return it;
}

/* For events built by iw_event_from_request, stem, query and host are
 * functions of target, method and the header list, and the header fields
 * of the list alone: with those keyed, the derived ones need not be. */
void iw_engine__plan_request_key(iw_engine_t *e)
{
    rkey_item_t nums[IW_F__COUNT];
    int nnum = 0;

    const uint64_t by_hdrs = FBIT(IW_F_CS_USER_AGENT) | FBIT(IW_F_CS_REFERER)
                             | FBIT(IW_F_CS_COOKIE) | FBIT(IW_F_CS_CONTENT_TYPE);
    const uint64_t by_target = FBIT(IW_F_CS_URI_STEM) | FBIT(IW_F_CS_URI_QUERY);
    /* host also needs the list (the Host header), else the target alone */
    const uint64_t from_target = by_target | (e->evk_hdrs[0] ? FBIT(IW_F_CS_HOST) : 0);
    uint64_t m = e->evk_fields[0];

    if (e->evk_hdrs[0]) m &= ~by_hdrs;
    if (m & from_target) m = (m & ~from_target) | FBIT(IW_F_CS_URI) | FBIT(IW_F_CS_METHOD);
    e->evk_req = m;
    e->evk_req_desc = 1;
    for (e->nrkey = e->nrkey_str = 0; m; m &= m - 1) {
        rkey_item_t it = rkey_item(__builtin_ctzll(m));
        if (it.kind == RK_DERIVED) {
            e->evk_req_desc = 0;
            e->nrkey = e->nrkey_str = 0;
            return;
        }
        if (it.kind == RK_NULL) {  /* never set in a request's event: the same bytes in */
            e->evk_req &= ~(m & -m);    /* every request key (both layouts leave it out) */
            continue;
        }
        if (it.kind == RK_STR) e->rkey[e->nrkey++] = it;
        else nums[nnum++] = it;
    }
    /* the strings first, then the numbers (both in field order): the
     * writer's loop over the strings needs no choice per item */
    e->nrkey_str = e->nrkey;
    memcpy(e->rkey + e->nrkey, nums, sizeof(nums[0]) * (size_t)nnum);
    e->nrkey += nnum;
}
