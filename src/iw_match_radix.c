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

struct iw_radix {
    rnode_t *nodes; size_t nnodes, capnodes;
    rval_t *vals; size_t nvals, capvals;
};

int iw_ip_parse(const char *s, size_t len, uint8_t out[16])
{
    char buf[64];
    struct in_addr a4;

    if (len && s[0] == '[' && s[len - 1] == ']') { s++; len -= 2; }
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

int iw_cidr_parse(const char *s, size_t len, uint8_t out[16], int *plen)
{
    const char *slash = memchr(s, '/', len);
    int v6, max, n = 0, i;
    size_t alen = slash ? (size_t)(slash - s) : len;

    if (!iw_ip_parse(s, alen, out)) return 0;
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

static int prefix_match(const uint8_t addr[16], const rnode_t *n)
{
    return common_bits(addr, n->key, n->len) == n->len;
}

static int32_t node_new(iw_radix_t *t, const uint8_t key[16], int len)
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

static int node_add_value(iw_radix_t *t, int32_t ni, int32_t value)
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

iw_radix_t *iw_radix_create(void)
{
    static const uint8_t zero[16];
    iw_radix_t *t = calloc(1, sizeof(*t));
    if (t && node_new(t, zero, 0) < 0) { free(t); return NULL; }
    return t;
}

void iw_radix_destroy(iw_radix_t *t)
{
    if (!t) return;
    free(t->nodes);
    free(t->vals);
    free(t);
}

int iw_radix_insert(iw_radix_t *t, const uint8_t key[16], int plen,
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

void iw_radix_lookup(const iw_radix_t *t, const uint8_t addr[16],
                     iw_radix_fn fn, void *ctx)
{
    int32_t cur = 0;
    int guard = 0;

    while (cur >= 0 && guard++ <= 129) {
        const rnode_t *n = &t->nodes[cur];
        int32_t v;
        if (!prefix_match(addr, n)) return;
        for (v = n->vals; v >= 0; v = t->vals[v].next)
            fn(ctx, t->vals[v].value);
        if (n->len == 128) return;
        cur = n->child[bit_at(addr, n->len)];
    }
}

size_t iw_radix_nodes(const iw_radix_t *t)
{
    return t->nnodes;
}
