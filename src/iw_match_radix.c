/* SPDX-License-Identifier: Apache-2.0 */
/* iw_match_radix: path-compressed binary trie for CIDR matching. */
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "iw_match_radix.h"

typedef struct rnode {
    uint8_t key[16];      /* prefix bits beyond len are zero */
    int32_t child[2];     /* node index or -1 */
    int32_t vals;         /* first value index or -1 */
    uint8_t len;          /* 0..128 */
} rnode_t;

typedef struct rval { int32_t value, next; } rval_t;

/* IPv4 index: for each /16 of the IPv4-mapped space, the deepest node of
 * length <= 112 on its path and the values of the prefixes above it, so a
 * lookup starts 112 bits down instead of at the root (a big feed then costs
 * a few node visits, not ~20 cache misses). */
typedef struct v4slot { int32_t node, vfirst, vn; } v4slot_t;

struct iw_match_radix {
    rnode_t *nodes; size_t nnodes, capnodes;
    rval_t *vals; size_t nvals, capvals;
    v4slot_t *v4;                 /* 65536 slots, after iw_match_radix_finalize */
    int32_t *v4vals; size_t nv4vals;
};

/* Dotted-quad IPv4 without inet_pton (per event: the common case). */
static int parse_v4(const char *s, size_t len, uint8_t out[4])
{
    size_t i = 0;
    int part;
    for (part = 0; part < 4; part++) {
        unsigned v = 0, nd = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9' && nd < 4) {
            v = v * 10 + (unsigned)(s[i++] - '0');
            nd++;
        }
        if (!nd || nd > 3 || v > 255 || (nd > 1 && s[i - nd] == '0')) return 0;
        out[part] = (uint8_t)v;
        if (part < 3) {
            if (i >= len || s[i] != '.') return 0;
            i++;
        }
    }
    return i == len;
}

int iw_match_radix_parse_ip(const char *s, size_t len, uint8_t out[16])
{
    char buf[64];
    struct in_addr a4;

    if (len && s[0] == '[' && s[len - 1] == ']') { s++; len -= 2; }
    if (len && len <= 15 && parse_v4(s, len, out + 12)) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xFF;
        return 1;
    }
    if (!len || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (memchr(buf, ':', len))
        return inet_pton(AF_INET6, buf, out) == 1;
    if (inet_pton(AF_INET, buf, &a4) != 1) return 0;
    memset(out, 0, 10);
    out[10] = out[11] = 0xFF;
    memcpy(out + 12, &a4, 4);
    return 1;
}

int iw_match_radix_parse_cidr(const char *s, size_t len, uint8_t out[16], int *plen)
{
    const char *slash = memchr(s, '/', len);
    int v6, max, n = 0, i;
    size_t alen = slash ? (size_t)(slash - s) : len;

    if (!iw_match_radix_parse_ip(s, alen, out)) return 0;
    v6 = memchr(s, ':', alen) != NULL;
    max = v6 ? 128 : 32;
    if (!slash) {
        n = max;
    } else {
        const char *d = slash + 1, *end = s + len;
        if (d == end || end - d > 3) return 0;
        for (; d < end; d++) {
            if (*d < '0' || *d > '9') return 0;
            n = n * 10 + (*d - '0');
        }
        if (n > max) return 0;
    }
    *plen = v6 ? n : n + 96;
    /* clear host bits so the key is canonical */
    for (i = 0; i < 16; i++) {
        int keep = *plen - i * 8;
        if (keep <= 0) out[i] = 0;
        else if (keep < 8) out[i] &= (uint8_t)(0xFF << (8 - keep));
    }
    return 1;
}

static int bit_at(const uint8_t k[16], int i)
{
    return (k[i >> 3] >> (7 - (i & 7))) & 1;
}

/* Number of leading bits (<= max) that a and b share. */
static int common_bits(const uint8_t a[16], const uint8_t b[16], int max)
{
    int i;
    for (i = 0; i < 16 && i * 8 < max; i++) {
        uint8_t x = a[i] ^ b[i];
        if (x) {
            int n = i * 8 + __builtin_clz((unsigned)x) - 24;
            return n < max ? n : max;
        }
    }
    return max;
}

/* Do addr and key agree on bits [from, to)? */
static int bits_match(const uint8_t addr[16], const uint8_t key[16], int from, int to)
{
    int i;
    for (i = from >> 3; i < 16 && i * 8 < to; i++) {
        uint8_t m = 0xFF;
        if (i * 8 < from) m &= (uint8_t)(0xFF >> (from - i * 8));
        if (i * 8 + 8 > to) m &= (uint8_t)(0xFF << (i * 8 + 8 - to));
        if ((addr[i] ^ key[i]) & m) return 0;
    }
    return 1;
}

static int32_t node_new(iw_match_radix_t *t, const uint8_t key[16], int len)
{
    rnode_t *n;
    int i;

    if (t->nnodes == t->capnodes) {
        size_t cap = t->capnodes ? t->capnodes * 2 : 64;
        rnode_t *nn = realloc(t->nodes, cap * sizeof(*nn));
        if (!nn) return -1;
        t->nodes = nn;
        t->capnodes = cap;
    }
    n = &t->nodes[t->nnodes];
    memcpy(n->key, key, 16);
    for (i = 0; i < 16; i++) {
        int keep = len - i * 8;
        if (keep <= 0) n->key[i] = 0;
        else if (keep < 8) n->key[i] &= (uint8_t)(0xFF << (8 - keep));
    }
    n->len = (uint8_t)len;
    n->child[0] = n->child[1] = -1;
    n->vals = -1;
    return (int32_t)t->nnodes++;
}

static int node_add_value(iw_match_radix_t *t, int32_t ni, int32_t value)
{
    rnode_t *n = &t->nodes[ni];
    if (n->vals >= 0 && t->vals[n->vals].value == value) return 0;
    if (t->nvals == t->capvals) {
        size_t cap = t->capvals ? t->capvals * 2 : 64;
        rval_t *nv = realloc(t->vals, cap * sizeof(*nv));
        if (!nv) return -1;
        t->vals = nv;
        t->capvals = cap;
    }
    t->vals[t->nvals].value = value;
    t->vals[t->nvals].next = n->vals;
    n->vals = (int32_t)t->nvals++;
    return 0;
}

iw_match_radix_t *iw_match_radix_create(void)
{
    static const uint8_t zero[16];
    iw_match_radix_t *t = calloc(1, sizeof(*t));
    if (t && node_new(t, zero, 0) < 0) { free(t); return NULL; }
    return t;
}

void iw_match_radix_destroy(iw_match_radix_t *t)
{
    if (!t) return;
    free(t->nodes);
    free(t->vals);
    free(t->v4);
    free(t->v4vals);
    free(t);
}

int iw_match_radix_insert(iw_match_radix_t *t, const uint8_t key[16], int plen,
                    int32_t value)
{
    int32_t cur = 0;

    if (plen < 0 || plen > 128) return -1;
    for (;;) {
        /* invariant: nodes[cur] is a prefix of key and len <= plen */
        int b, common;
        int32_t c, mid, leaf;
        if (t->nodes[cur].len == plen) return node_add_value(t, cur, value);
        b = bit_at(key, t->nodes[cur].len);
        c = t->nodes[cur].child[b];
        if (c < 0) {
            if ((leaf = node_new(t, key, plen)) < 0) return -1;
            t->nodes[cur].child[b] = leaf;
            return node_add_value(t, leaf, value);
        }
        common = common_bits(key, t->nodes[c].key,
                             plen < t->nodes[c].len ? plen : t->nodes[c].len);
        if (common == t->nodes[c].len) { cur = c; continue; }
        /* split the edge cur -> c at `common` bits */
        if ((mid = node_new(t, key, common)) < 0) return -1;
        t->nodes[mid].child[bit_at(t->nodes[c].key, common)] = c;
        t->nodes[cur].child[b] = mid;
        if (common == plen) return node_add_value(t, mid, value);
        if ((leaf = node_new(t, key, plen)) < 0) return -1;
        t->nodes[mid].child[bit_at(key, common)] = leaf;
        return node_add_value(t, leaf, value);
    }
}

/* Walk from node `cur`, whose first `matched` bits are known to agree. */
static void walk(const iw_match_radix_t *t, int32_t cur, int matched, const uint8_t addr[16],
                 iw_match_radix_fn fn, void *ctx)
{
    int guard = 0;
    while (cur >= 0 && guard++ <= 129) {
        const rnode_t *n = &t->nodes[cur];
        int32_t v;
        if (!bits_match(addr, n->key, matched, n->len)) return;
        for (v = n->vals; v >= 0; v = t->vals[v].next)
            fn(ctx, t->vals[v].value);
        if (n->len == 128) return;
        matched = n->len;
        cur = n->child[bit_at(addr, n->len)];
    }
}

static int is_v4_mapped(const uint8_t a[16])
{
    static const uint8_t pre[12] = { 0,0,0,0,0,0,0,0,0,0,0xFF,0xFF };
    return memcmp(a, pre, 12) == 0;
}

void iw_match_radix_lookup(const iw_match_radix_t *t, const uint8_t addr[16],
                     iw_match_radix_fn fn, void *ctx)
{
    if (t->v4 && is_v4_mapped(addr)) {
        const v4slot_t *sl = &t->v4[addr[12] << 8 | addr[13]];
        int32_t i;
        for (i = 0; i < sl->vn; i++) fn(ctx, t->v4vals[sl->vfirst + i]);
        if (sl->node >= 0 && t->nodes[sl->node].len < 128)
            walk(t, t->nodes[sl->node].child[bit_at(addr, t->nodes[sl->node].len)],
                 t->nodes[sl->node].len, addr, fn, ctx);
        return;
    }
    walk(t, 0, 0, addr, fn, ctx);
}

static void collect(void *ctx, int32_t v)
{
    iw_match_radix_t *t = ctx;
    if (t->nv4vals % 1024 == 0) {
        int32_t *nv = realloc(t->v4vals, (t->nv4vals + 1024) * sizeof(*nv));
        if (!nv) return;    /* checked by the caller through nv4vals */
        t->v4vals = nv;
    }
    t->v4vals[t->nv4vals++] = v;
}

int iw_match_radix_finalize(iw_match_radix_t *t)
{
    uint8_t a[16] = { 0,0,0,0,0,0,0,0,0,0,0xFF,0xFF,0,0,0,0 };
    uint32_t b;

    if (t->nnodes < 2) return 0;      /* empty */
    free(t->v4);
    free(t->v4vals);
    t->v4vals = NULL;
    t->nv4vals = 0;
    if (!(t->v4 = malloc(65536 * sizeof(*t->v4)))) return -1;
    for (b = 0; b < 65536; b++) {
        v4slot_t *sl = &t->v4[b];
        int32_t cur = 0, last = -1;
        a[12] = (uint8_t)(b >> 8);
        a[13] = (uint8_t)b;
        sl->vfirst = (int32_t)t->nv4vals;
        /* nodes of length <= 112 on the path of this /16 */
        while (cur >= 0 && t->nodes[cur].len <= 112
               && bits_match(a, t->nodes[cur].key, 0, t->nodes[cur].len)) {
            int32_t v;
            size_t before = t->nv4vals;
            for (v = t->nodes[cur].vals; v >= 0; v = t->vals[v].next) {
                collect(t, t->vals[v].value);
                if (t->nv4vals == before) goto oom;
                before = t->nv4vals;
            }
            last = cur;
            if (t->nodes[cur].len == 112) break;
            cur = t->nodes[cur].child[bit_at(a, t->nodes[cur].len)];
        }
        sl->node = last;
        sl->vn = (int32_t)t->nv4vals - sl->vfirst;
    }
    return 0;
oom:
    free(t->v4);
    t->v4 = NULL;
    return -1;
}

size_t iw_match_radix_nodes(const iw_match_radix_t *t)
{
    return t->nnodes;
}
