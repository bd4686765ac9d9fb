/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the scan-result / event caches (iw_engine_memo) and of the engine
 * with them on vs off: a cache may only ever save work, never change a
 * result or its evidence. */
#include <stdlib.h>
#include "engine_util.h"
#include "iw_engine_memo.h"

static iw_engine_memo_key_t key_of(uint32_t tag, const char *pre, const char *v)
{
    iw_engine_memo_key_t k;
    k.tag = tag;
    k.pre = pre;
    k.npre = pre ? strlen(pre) : 0;
    k.v = v;
    k.n = strlen(v);
    iw_engine_memo_key(&k);
    return k;
}

static const char *get_str(iw_engine_memo_t *c, iw_engine_memo_key_t k)
{
    size_t n = 0;
    const char *r = iw_engine_memo_get(c, &k, &n);
    return r && n ? r : NULL;
}

TEST(memo_exact_keys)
{
    iw_engine_memo_t *c = iw_engine_memo_create(1, 0);
    iw_engine_memo_key_t a = key_of(1, NULL, "/index.html"), k;
    uint64_t hits, misses;

    REQUIRE(c);
    iw_engine_memo_put(c, &a, "A", 2);
    CHECK_STR(get_str(c, a), "A");
    CHECK(!get_str(c, key_of(2, NULL, "/index.html")));      /* other tag */
    CHECK(!get_str(c, key_of(1, NULL, "/index.htmX")));      /* other bytes */
    CHECK(!get_str(c, key_of(1, "/", "index.html")));        /* other split */
    k = key_of(1, NULL, "/other");
    iw_engine_memo_put(c, &k, "B", 2);                             /* one entry: evicts */
    CHECK(!get_str(c, a));
    CHECK_STR(get_str(c, k), "B");
    iw_engine_memo_counters(c, &hits, &misses);
    CHECK_INT(hits, 2);
    CHECK_INT(misses, 4);
    iw_engine_memo_destroy(c);
}

/* The hash reads every byte of keys of every length (the 16-byte steps,
 * the overlapping tail, the 1-3 byte sample) and the length itself, and
 * spreads similar keys over a direct-mapped table's slots. */
TEST(memo_hash_covers_every_byte)
{
    unsigned char b[160], slots[256];
    size_t n, i;
    int bit, used = 0;

    memset(b, 'a', sizeof(b));
    for (n = 0; n <= sizeof(b); n++) {      /* short, multiplied, AES (over 64) */
        uint64_t h = iw_engine_memo_hash64(7, b, n);
        CHECK(h != iw_engine_memo_hash64(8, b, n));                        /* the seed */
        if (n) CHECK(h != iw_engine_memo_hash64(7, b, n - 1));             /* the length */
        for (i = 0; i < n; i++)
            for (bit = 0; bit < 8; bit += 7) {
                b[i] ^= (unsigned char)(1u << bit);
                CHECK(iw_engine_memo_hash64(7, b, n) != h);
                b[i] ^= (unsigned char)(1u << bit);
            }
    }
    memset(slots, 0, sizeof(slots));
    for (i = 0; i < 256; i++) {                               /* "/page-000" .. */
        char k[64];
        int len = snprintf(k, sizeof(k), "GET /page-%03zu.html HTTP/1.1", i);
        unsigned s = (unsigned)(iw_engine_memo_hash64(0, k, (size_t)len) & 255);
        used += !slots[s];
        slots[s] = 1;
    }
    CHECK(used > 140);              /* a random map fills ~162 of 256 slots */
}

TEST(memo_limits_and_ring_reuse)
{
    iw_engine_memo_t *c = iw_engine_memo_create(64, 0);
    char *big = malloc(IW_ENGINE_MEMO_MAX_KEY + 2), res[IW_ENGINE_MEMO_MAX_RES + 1];
    iw_engine_memo_key_t a = key_of(0, NULL, "first"), k;
    int i;

    REQUIRE(c && big);
    memset(big, 'x', IW_ENGINE_MEMO_MAX_KEY + 1);
    big[IW_ENGINE_MEMO_MAX_KEY + 1] = '\0';
    k.tag = 0; k.pre = NULL; k.npre = 0; k.v = big; k.n = IW_ENGINE_MEMO_MAX_KEY + 1;
    CHECK_INT(iw_engine_memo_key(&k), 0);                          /* too long */
    memset(res, 'r', sizeof(res));
    iw_engine_memo_put(c, &a, res, sizeof(res));                   /* result too big */
    CHECK(!get_str(c, a));
    iw_engine_memo_put(c, &a, "A", 2);
    CHECK_STR(get_str(c, a), "A");
    /* push more bytes through the ring than it holds: "first"'s bytes are
     * gone, so it must miss even if its entry was never reused */
    for (i = 0; i < 64; i++) {
        snprintf(big, 32, "%d-", i);
        k.n = 4000;
        big[strlen(big)] = 'x';
        iw_engine_memo_key(&k);
        iw_engine_memo_put(c, &k, "K", 2);
    }
    CHECK(!get_str(c, a));
    CHECK_STR(get_str(c, k), "K");
    free(big);
    iw_engine_memo_destroy(c);
}

/* Two ways per set: a miss replaces the way not used last, so a value
 * that keeps repeating survives a stream of others that share its set. */
TEST(memo_two_ways_keep_the_recent)
{
    iw_engine_memo_t *c = iw_engine_memo_create(2, 0);          /* one set of two */
    iw_engine_memo_key_t a = key_of(1, NULL, "Accept: */*"), k;
    char v[32];
    int i;

    REQUIRE(c);
    iw_engine_memo_put(c, &a, "A", 2);
    for (i = 0; i < 50; i++) {
        snprintf(v, sizeof(v), "/page-%d", i);
        k = key_of(1, NULL, v);
        CHECK(!get_str(c, k));
        iw_engine_memo_put(c, &k, "P", 2);
        CHECK_STR(get_str(c, a), "A");
    }
    CHECK_STR(get_str(c, k), "P");                      /* the other way */
    iw_engine_memo_destroy(c);
}

/* A hit on a key in the older half of the ring copies it to the head:
 * a value that keeps repeating outlives any number of bytes written. */
TEST(memo_ring_keeps_repeating_keys)
{
    iw_engine_memo_t *c = iw_engine_memo_create(64, 0);     /* a 32 KiB ring */
    char *big = malloc(4001);
    iw_engine_memo_key_t hot = key_of(5, "p", "Host: example.org"), k;
    int i;

    REQUIRE(c && big);
    iw_engine_memo_put(c, &hot, "H", 2);
    for (i = 0; i < 100; i++) {                         /* 400 KB through the ring */
        memset(big, 'x', 4000);
        big[4000] = '\0';
        snprintf(big, 32, "%d-", i);
        big[strlen(big)] = 'x';
        k = key_of(6, NULL, big);
        iw_engine_memo_put(c, &k, "K", 2);
        CHECK_STR(get_str(c, hot), "H");
    }
    free(big);
    iw_engine_memo_destroy(c);
}

/* A key of n bytes: a distinct prefix (i), then filler. */
static iw_engine_memo_key_t big_key(uint32_t tag, char *buf, size_t n, int i)
{
    int len;
    memset(buf, 'x', n);
    buf[n] = '\0';
    len = snprintf(buf, 32, "%d-", i);
    buf[len] = 'x';
    return key_of(tag, NULL, buf);
}

/* Keys tagged IW_ENGINE_MEMO_LONG (a client's header lines, its cookie)
 * have their own entries and ring: values seen once, however many bytes
 * and however many keys share their set, cannot push them out.  Without
 * a long region they are kept with the others (and pushed out). */
TEST(memo_long_region_keeps_client_values)
{
    char *big = malloc(4001);
    iw_engine_memo_key_t ua = key_of(3 | IW_ENGINE_MEMO_LONG, NULL, "User-Agent: Mozilla/5.0"), k;
    int i, with, kept[2] = { 0, 0 };

    REQUIRE(big);
    for (with = 0; with < 2; with++) {
        iw_engine_memo_t *c = iw_engine_memo_create(64, with ? 64 : 0);
        REQUIRE(c);
        iw_engine_memo_put(c, &ua, "U", 2);
        for (i = 0; i < 400; i++) {                     /* 1.6 MB, 400 keys of the same class */
            k = big_key(3, big, 4000, i);
            iw_engine_memo_put(c, &k, "K", 2);
            CHECK_STR(get_str(c, k), "K");
        }
        kept[with] = get_str(c, ua) != NULL;
        /* the same bytes under the untagged tag are another key */
        CHECK(!get_str(c, key_of(3, NULL, "User-Agent: Mozilla/5.0")));
        iw_engine_memo_destroy(c);
    }
    CHECK_INT(kept[0], 0);
    CHECK_INT(kept[1], 1);
    free(big);
}

/* Results are kept with their own length (0 to IW_ENGINE_MEMO_MAX_RES
 * bytes, byte for byte, through the ring's wraps and the copies of keys
 * that repeat), larger ones are not kept, and a scan result's stored
 * bytes are its predicates' (iw_engine_memo_res_len). */
TEST(memo_results_keep_their_length)
{
    iw_engine_memo_t *c = iw_engine_memo_create(64, 64);
    unsigned char res[IW_ENGINE_MEMO_MAX_RES + 1];
    char v[32], *big = malloc(4001);
    iw_engine_memo_res_t r;
    int round, n, i, hits = 0;

    REQUIRE(c && big);
    for (i = 0; i < (int)sizeof(res); i++) res[i] = (unsigned char)(i * 7 + 1);
    for (round = 0; round < 20; round++) {
        for (n = 0; n <= IW_ENGINE_MEMO_MAX_RES + 1; n += n < IW_ENGINE_MEMO_MAX_RES - 5 ? 5 : 1) {
            iw_engine_memo_key_t k;
            const unsigned char *got;
            size_t rlen = 999;
            snprintf(v, sizeof(v), "value-%d", n);
            k = key_of(n & 1 ? 4 | IW_ENGINE_MEMO_LONG : 4, NULL, v);
            if (!(got = iw_engine_memo_get(c, &k, &rlen))) {     /* first round, or its set's way taken */
                iw_engine_memo_put(c, &k, res, (size_t)n);
                got = iw_engine_memo_get(c, &k, &rlen);
            } else {
                hits++;
            }
            if (n > IW_ENGINE_MEMO_MAX_RES) {
                CHECK(!got);
                continue;
            }
            REQUIRE(got);
            CHECK_INT(rlen, n);
            CHECK(!memcmp(got, res, (size_t)n));
        }
        for (i = 0; i < 4; i++) {                       /* 16 KB through both rings */
            iw_engine_memo_key_t k = big_key(5 | (i & 1 ? IW_ENGINE_MEMO_LONG : 0), big, 4000, round * 4 + i);
            iw_engine_memo_put(c, &k, "K", 2);
        }
    }
    CHECK(hits > 19 * 18);                              /* most were kept through the rounds */
    r.n = 0;
    CHECK_INT(iw_engine_memo_res_len(&r), 8 + IW_ENGINE_MEMO_MAX_PREDS);
    r.n = 3;
    CHECK_INT(iw_engine_memo_res_len(&r), 8 + IW_ENGINE_MEMO_MAX_PREDS + 12);
    r.n = IW_ENGINE_MEMO_MAX_PREDS;
    CHECK(iw_engine_memo_res_len(&r) <= IW_ENGINE_MEMO_MAX_RES);
    CHECK_INT(iw_engine_memo_bytes(1024, 1024), 2 * (1024 * 32 + 1024 * IW_ENGINE_MEMO_RING_PER_ENTRY));
    CHECK_INT(iw_engine_memo_bytes(64, 0), 64 * 32 + 4 * IW_ENGINE_MEMO_MAX_KEY);
    free(big);
    iw_engine_memo_destroy(c);
}

/* An entry sharing another's key bytes (put_shared: a header block under
 * two tags) has its own result, and misses once those bytes are gone from
 * the ring, even while its result is still there. */
TEST(memo_shared_key_bytes)
{
    iw_engine_memo_t *c = iw_engine_memo_create(64, 0);     /* a 32 KiB ring */
    char *big = malloc(8001);
    iw_engine_memo_key_t blk, hdr, k;
    int i;

    REQUIRE(c && big);
    hdr = big_key(21, big, 8000, 1);
    blk = big_key(40, big, 8000, 1);
    iw_engine_memo_put(c, &hdr, "headers", 8);
    iw_engine_memo_put_shared(c, &blk, "block", 6, &hdr);
    CHECK_STR(get_str(c, hdr), "headers");
    CHECK_STR(get_str(c, blk), "block");
    for (i = 0; i < 3; i++) {                           /* 24 KB more: hdr's bytes at the tail */
        k = big_key(6, big, 7990, 100 + i);
        iw_engine_memo_put(c, &k, "K", 2);
    }
    hdr = big_key(21, big, 8000, 1);
    blk = big_key(40, big, 8000, 1);
    k = big_key(6, big, 100, 200);
    iw_engine_memo_put(c, &k, "K", 2);                  /* pushes the first of hdr's bytes out */
    CHECK(!get_str(c, blk));
    CHECK(!get_str(c, hdr));
    /* same not in the cache: k's bytes are copied */
    hdr = big_key(21, big, 100, 7);
    blk = big_key(40, big, 100, 7);
    iw_engine_memo_put_shared(c, &blk, "b", 2, &hdr);
    CHECK(!get_str(c, hdr));
    CHECK_STR(get_str(c, blk), "b");
    free(big);
    iw_engine_memo_destroy(c);
}

/* A long key whose bytes are those of the record written last (a value
 * stored under two tags in a row) takes that record's bytes: both stay
 * in a ring that holds them once, and a key of the same length but other
 * bytes is copied. */
TEST(memo_same_bytes_in_a_row_kept_once)
{
    iw_engine_memo_t *c = iw_engine_memo_create(64, 0);     /* a 32 KiB ring */
    char *big = malloc(8001), *twin = malloc(8001);
    iw_engine_memo_key_t a, b, o, k;
    int i;

    REQUIRE(c && big && twin);
    a = big_key(21, big, 8000, 1);
    b = big_key(40, twin, 8000, 1);                 /* the same bytes elsewhere */
    iw_engine_memo_put(c, &a, "a", 2);
    iw_engine_memo_put(c, &b, "b", 2);
    for (i = 0; i < 3; i++) {                       /* 24 KB more: 32 KB in all when a's bytes are once */
        k = big_key(6, big, 7990, 100 + i);
        iw_engine_memo_put(c, &k, "K", 2);
    }
    a = big_key(21, big, 8000, 1);
    b = big_key(40, twin, 8000, 1);
    CHECK_STR(get_str(c, a), "a");
    CHECK_STR(get_str(c, b), "b");
    /* the same length, other bytes: its own */
    a = big_key(21, big, 100, 7);
    o = big_key(22, twin, 100, 8);
    iw_engine_memo_put(c, &a, "a", 2);
    iw_engine_memo_put(c, &o, "o", 2);
    CHECK_STR(get_str(c, a), "a");
    CHECK_STR(get_str(c, o), "o");
    o = big_key(21, twin, 100, 8);                  /* a's tag, o's bytes */
    CHECK(!get_str(c, o));
    free(big);
    free(twin);
    iw_engine_memo_destroy(c);
}

/* A hit on a key about to leave the ring is answered from where it is
 * (copying it to the head could write over it): the right result, and a
 * miss once more bytes are written, never stale bytes. */
TEST(memo_hit_at_the_ring_tail)
{
    iw_engine_memo_t *c = iw_engine_memo_create(64, 0);     /* a 32 KiB ring */
    char *big = malloc(8001), *a = malloc(8001);
    iw_engine_memo_key_t ka, k;
    int i;

    REQUIRE(c && big && a);
    ka = big_key(7, a, 8000, 1);
    iw_engine_memo_put(c, &ka, "A", 2);                 /* 8,008 bytes at 0 */
    for (i = 0; i < 3; i++) {                           /* 3 x 8,000: head at 32,032 */
        k = big_key(8, big, 7992, 10 + i);
        iw_engine_memo_put(c, &k, "K", 2);
    }
    k = big_key(8, big, 600, 20);
    iw_engine_memo_put(c, &k, "K", 2);                  /* 32,640: 128 bytes left before A's go */
    CHECK_STR(get_str(c, ka), "A");                     /* not copied: it would overlap */
    CHECK_STR(get_str(c, ka), "A");
    k = big_key(8, big, 200, 21);
    iw_engine_memo_put(c, &k, "K", 2);                  /* wraps: A's first bytes written over */
    CHECK(!get_str(c, ka));
    free(big);
    free(a);
    iw_engine_memo_destroy(c);
}

/* A class that hits less than IW_ENGINE_MEMO_MIN_HITS per mille of its first
 * IW_ENGINE_MEMO_EARLY lookups (request lines, _raw, a browser's events)
 * pauses without waiting for a whole window; one at that rate measures on. */
TEST(memo_pauses_early_when_nothing_hits)
{
    iw_engine_memo_t *c = iw_engine_memo_create(64, 0);
    char v[32];
    int i;

    REQUIRE(c);
    for (i = 0; i < IW_ENGINE_MEMO_EARLY; i++) {
        iw_engine_memo_key_t k;
        CHECK_INT(iw_engine_memo_wanted(c, 7), 1);
        snprintf(v, sizeof(v), "GET /%d HTTP/1.1", i);
        k = key_of(7, NULL, v);
        CHECK(!get_str(c, k));
    }
    CHECK_INT(iw_engine_memo_wanted(c, 7), 0);
    CHECK_INT(iw_engine_memo_wanted(c, 8), 1);          /* other classes measure on */
    iw_engine_memo_destroy(c);
}

/* hits of the first IW_ENGINE_MEMO_EARLY lookups of class 9: paused after? */
static int paused_after_hits(int hits)
{
    iw_engine_memo_t *c = iw_engine_memo_create(64, 0);
    iw_engine_memo_key_t same = key_of(9, NULL, "Host: example.org"), k;
    char v[32];
    int i, paused;

    if (!c) return -1;
    iw_engine_memo_put(c, &same, "s", 2);
    for (i = 0; i < IW_ENGINE_MEMO_EARLY; i++) {
        if (!iw_engine_memo_wanted(c, 9)) { iw_engine_memo_destroy(c); return -1; }
        if (i < hits) {
            if (!get_str(c, same)) { iw_engine_memo_destroy(c); return -1; }
            continue;
        }
        snprintf(v, sizeof(v), "GET /%d HTTP/1.1", i);
        k = key_of(9, NULL, v);
        if (get_str(c, k)) { iw_engine_memo_destroy(c); return -1; }
    }
    paused = !iw_engine_memo_wanted(c, 9);
    iw_engine_memo_destroy(c);
    return paused;
}

TEST(memo_pauses_early_when_seldom_hit)
{
    int few = IW_ENGINE_MEMO_MIN_HITS * IW_ENGINE_MEMO_EARLY / 1000;   /* 6: under the rate */
    CHECK_INT(paused_after_hits(0), 1);
    CHECK_INT(paused_after_hits(few), 1);
    CHECK_INT(paused_after_hits(few + 1), 0);
    CHECK_INT(paused_after_hits(IW_ENGINE_MEMO_EARLY), 0);
}

/* A class whose first values repeat and whose later ones do not (a
 * scanner's first requests, then its payloads) is judged again every
 * IW_ENGINE_MEMO_EARLY lookups on the window so far, not only at its end. */
TEST(memo_pauses_when_later_lookups_miss)
{
    iw_engine_memo_t *c = iw_engine_memo_create(64, 0);
    iw_engine_memo_key_t same = key_of(9, NULL, "Host: example.org"), k;
    char v[32];
    int i, n = 0;

    REQUIRE(c);
    iw_engine_memo_put(c, &same, "s", 2);
    /* hits at twice the rate in the first IW_ENGINE_MEMO_EARLY: on */
    for (i = 0; i < (2 * IW_ENGINE_MEMO_MIN_HITS * IW_ENGINE_MEMO_EARLY + 999) / 1000; i++)
        CHECK(get_str(c, same));
    for (; iw_engine_memo_wanted(c, 9) && i < IW_ENGINE_MEMO_WINDOW; i++, n++) {
        snprintf(v, sizeof(v), "GET /%d HTTP/1.1", i);
        k = key_of(9, NULL, v);
        CHECK(!get_str(c, k));
    }
    /* still at the rate after 256 lookups, under it after 384: paused there, at the third judgement */
    CHECK_INT(i, 3 * IW_ENGINE_MEMO_EARLY);
    CHECK_INT(iw_engine_memo_wanted(c, 9), 0);
    iw_engine_memo_destroy(c);
}

static const char *CACHE_RULES =
    "title: t1\nid: c1\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        c-ip|cidr: 10.0.0.0/8\n"
    "        cs-uri-stem|contains: /admin\n    condition: sel\n---\n"
    "title: t2\nid: c2\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        date|hour: 10\n        cs-method: DELETE\n    condition: sel\n---\n"
    "title: t3\nid: c3\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    keywords:\n        - evil\n    condition: keywords\n---\n"
    "title: t4\nid: c4\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        cs-user-agent|contains: sqlmap\n    condition: sel\n---\n"
    "title: t5\nid: c5\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        cs-uri-query|re: 'id=[0-9]+ union'\n    condition: sel\n---\n"
    /* date/time are lazy text of the event's second: the key must hold it */
    "title: t6\nid: c6\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        time|endswith: ':07'\n        date|startswith: '20'\n"
    "    condition: sel\n";

static iw_engine_t *compile_rules(apr_pool_t *p, const char *yaml, int scan_cache)
{
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    iw_engine_opts_t o;

    memset(&o, 0, sizeof(o));
    o.scan_cache = scan_cache;
    iw_rules_load_string(rs, "cache.yml", yaml, strlen(yaml), d);
    iw_ruleset_link(rs, d);
    if (d->errors) { iw_diag_print(d, stderr, "    diag: "); return NULL; }
    return iw_engine_compile(p, rs, &o, d);
}

/* A scratch of the engine with the scan cache (on) and of the one without
 * (off), and an event on each buffer (both n bytes): 1, or 0 when a scratch
 * cannot be made. */
static int pair_open(iw_engine_t *on, iw_engine_t *off, iw_scratch_t **s_on, iw_scratch_t **s_off,
                     iw_event_t *evq, char *bq, iw_event_t *evr, char *br, size_t n)
{
    *s_on = iw_scratch_create(on);
    *s_off = iw_scratch_create(off);
    if (!*s_on || !*s_off) return 0;
    iw_event_init(evq, bq, n);
    iw_event_init(evr, br, n);
    return 1;
}

static iw_engine_t *compile_with(apr_pool_t *p, int scan_cache)
{
    return compile_rules(p, CACHE_RULES, scan_cache);
}

/* "id:field=value;..." for every hit, to compare two evaluations. */
static void render(const iw_hit_t *h, int n, char *out, size_t max)
{
    size_t o = 0;
    int i, j;
    out[0] = '\0';
    for (i = 0; i < n && o < max; i++) {
        o += (size_t)snprintf(out + o, max - o, "%s:", h[i].rule->id);
        for (j = 0; j < h[i].nmatches && o < max; j++)
            o += (size_t)snprintf(out + o, max - o, "%d=%.*s,", h[i].matches[j].field,
                                  (int)h[i].matches[j].value.len,
                                  h[i].matches[j].value.p ? h[i].matches[j].value.p : "");
        if (o < max) o += (size_t)snprintf(out + o, max - o, ";");
    }
}

TEST(engine_caches_never_change_results)
{
    iw_engine_t *on = compile_with(p, 0), *off = compile_with(p, -1), *tiny = compile_with(p, 1);
    iw_scratch_t *s_on, *s_off, *s_tiny;
    apr_time_t ten = apr_time_from_sec(1764240000);
    apr_time_t times[] = { ten, ten + apr_time_from_sec(3600), ten + apr_time_from_sec(7) };
    const char *clients[] = { "10.1.2.3", "192.0.2.7" };
    const char *targets[] = { "/admin/x", "/index.html", "/a?id=1 union", "/evil", "/admin/%65vil" };
    const char *uas[] = { "Mozilla/5.0", "sqlmap/1.7", NULL };
    const char *methods[] = { "GET", "DELETE" };
    char a[2048], b[2048], c[2048];
    uint64_t eh = 0, fh = 0, x;
    int round, ci, ti, ui, mi, hi, rep, fired = 0, diff = 0, sec = 0;

    REQUIRE(on && off && tiny);
    s_on = iw_scratch_create(on);
    s_off = iw_scratch_create(off);
    s_tiny = iw_scratch_create(tiny);
    REQUIRE(s_on && s_off && s_tiny);
    for (round = 0; round < 3; round++)
    for (ci = 0; ci < 2; ci++) for (ti = 0; ti < 5; ti++) for (ui = 0; ui < 3; ui++)
    for (mi = 0; mi < 2; mi++) for (hi = 0; hi < 3; hi++) for (rep = 0; rep < 2; rep++) {
        treq_t r = { .method = methods[mi], .target = targets[ti], .ua = uas[ui],
                     .client = clients[ci], .host = "www.example.org",
                     .time = times[hi] };
        const iw_hit_t *h;
        int n;
        n = eu_eval(p, on, s_on, &r, &h);  render(h, n, a, sizeof(a));
        n = eu_eval(p, off, s_off, &r, &h); render(h, n, b, sizeof(b));
        n = eu_eval(p, tiny, s_tiny, &r, &h); render(h, n, c, sizeof(c));
        fired += n > 0;
        sec += strstr(a, "c6:") != NULL;
        if ((strcmp(a, b) || strcmp(c, b)) && diff++ < 5)
            fprintf(stderr, "  differ on %s %s ua=%s ip=%s h=%d:\n   on   %s\n   off  %s\n   tiny %s\n",
                    r.method, r.target, r.ua ? r.ua : "-", r.client, hi, a, b, c);
    }
    CHECK_INT(diff, 0);
    CHECK(fired > 200);
    CHECK_INT(sec, 3 * 2 * 5 * 3 * 2 * 2);  /* exactly the events at second 07 */
    iw_scratch_event_cache_counters(s_on, &eh, &x);
    iw_scratch_cache_counters(s_on, &fh, &x);
    CHECK(eh >= 3 * 180);           /* every event is evaluated twice in a row */
    CHECK(fh > 0);
    iw_scratch_event_cache_counters(s_off, &eh, &x);
    CHECK_INT(eh + x, 0);           /* off is off */
    iw_scratch_destroy(s_on);
    iw_scratch_destroy(s_off);
    iw_scratch_destroy(s_tiny);
}

/* cs-uri, cs-uri-decoded and cs-uri-stem-decoded scanned in one call when
 * they are the same bytes (uri_both: the plain databases, the whole ones,
 * and the path's view with a target without a query): the hits and their
 * evidence (each field's own) are those of the fields scanned one by one
 * (scan cache off), whether the path's view is cached or not. */
#define URI_RULE(id, det) "title: t" id "\nid: " id "\nlevel: high\nlogsource:\n    category: webserver\n" \
    "detection:\n    sel:\n" det "    condition: sel\n"
static const char *URI_BOTH_RULES =
    URI_RULE("u1", "        cs-uri|re: '(?:admin|<scr|\\x27\\s*or)'\n") "---\n"
    URI_RULE("u2", "        cs-uri-decoded|re: '(?:admin|<scr|\\x27\\s*or)'\n") "---\n"
    URI_RULE("u3", "        cs-uri-stem-decoded|re: '(?:adm[i]n|<scr|\\.\\./)'\n") "---\n"
    URI_RULE("u4", "        cs-uri-decoded|re: '(?:etc/passwd|;\\s*id\\b)'\n") "---\n"
    URI_RULE("u5", "        cs-uri-stem-decoded|contains: admin\n        cs-uri-decoded|contains: admin\n"
                   "        cs-uri|contains: admin\n");

/* A GET of target into ev, an event with a buffer of its own (the URI
 * fields' one scan-cache entry needs room for their views), evaluated. */
static int eval_target(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev, const char *target,
                       const iw_hit_t **hits)
{
    static iw_str_t name = { "Host", 4 }, value = { "www.example.org", 15 };
    iw_request_desc_t d;

    memset(&d, 0, sizeof(d));
    d.method = (iw_str_t){ "GET", 3 };
    d.target = (iw_str_t){ target, strlen(target) };
    d.version = (iw_str_t){ "HTTP/1.1", 8 };
    d.hdr_names = &name;
    d.hdr_values = &value;
    d.nhdrs = 1;
    d.status = 200;
    d.sc_bytes = 100; d.cs_bytes = -1; d.time_taken_ms = 5;
    d.client_ip = (iw_str_t){ "192.0.2.10", 10 };
    d.time = apr_time_from_sec(1764240000);
    iw_event_from_request(ev, &d);
    return iw_engine_eval(e, s, ev, hits);
}

TEST(engine_uri_views_in_one_scan)
{
    iw_event_t ev_on, ev_off, ev_tiny;
    iw_engine_t *on = compile_rules(p, URI_BOTH_RULES, 0), *off = compile_rules(p, URI_BOTH_RULES, -1);
    iw_engine_t *tiny = compile_rules(p, URI_BOTH_RULES, 1);
    iw_scratch_t *s_on, *s_off, *s_tiny;
    const char *targets[] = { "/admin/x", "/admin/x?q=1", "/x'%20or", "/admin'or", "/admin/<scr",
                              "/ok", "/%61dmin", "/a/../etc/passwd", "/etc/passwd;id", "/q?admin",
                              "/admin'or?x=<scr", "/<scr'or" };
    char a[2048], b[2048], c[2048];
    int round, i, k, n, fired = 0, diff = 0;

    REQUIRE(on && off && tiny);
    s_on = iw_scratch_create(on);
    s_off = iw_scratch_create(off);
    s_tiny = iw_scratch_create(tiny);
    REQUIRE(s_on && s_off && s_tiny);
    REQUIRE(!iw_event_init_owned(&ev_on, 1 << 20) && !iw_event_init_owned(&ev_off, 1 << 20)
            && !iw_event_init_owned(&ev_tiny, 1 << 20));
    for (round = 0; round < 4; round++)
        for (i = 0; i < 12; i++) {
            const iw_hit_t *h;
            const char *t = targets[(i * (round + 1)) % 12];
            for (k = 0; k < 1 + (round & 1); k++) {
                n = eval_target(on, s_on, &ev_on, t, &h);  render(h, n, a, sizeof(a));
                n = eval_target(off, s_off, &ev_off, t, &h); render(h, n, b, sizeof(b));
                n = eval_target(tiny, s_tiny, &ev_tiny, t, &h); render(h, n, c, sizeof(c));
                fired += n;
                if ((strcmp(a, b) || strcmp(c, b)) && diff++ < 5)
                    fprintf(stderr, "  differ on %s:\n   on   %s\n   off  %s\n   tiny %s\n", t, a, b, c);
            }
        }
    CHECK_INT(diff, 0);
    CHECK(fired > 60);
    iw_event_release(&ev_on);
    iw_event_release(&ev_off);
    iw_event_release(&ev_tiny);
    iw_scratch_destroy(s_on);
    iw_scratch_destroy(s_off);
    iw_scratch_destroy(s_tiny);
}

/* A class of keys whose values do not repeat pauses itself, then measures
 * again; another class (another field) keeps its cache meanwhile. */
TEST(memo_pauses_when_it_does_not_pay)
{
    iw_engine_memo_t *c = iw_engine_memo_create(64, 0);
    char v[32];
    int i, skipped = 0, hh = 0;
    iw_engine_memo_key_t k, host;

    REQUIRE(c);
    CHECK_INT(iw_engine_memo_wanted(c, 3), 1);
    host = key_of(4, NULL, "www.example.org");
    iw_engine_memo_put(c, &host, "h", 2);
    for (i = 0; i < IW_ENGINE_MEMO_WINDOW; i++) {           /* class 3 all distinct: all miss */
        snprintf(v, sizeof(v), "value-%d", i);
        k = key_of(3, NULL, v);
        CHECK(!get_str(c, k));
        iw_engine_memo_put(c, &k, "x", 2);
        if (get_str(c, host)) hh++;                     /* class 4 repeats */
        else iw_engine_memo_put(c, &host, "h", 2);           /* evicted by a collision */
    }
    CHECK(hh > IW_ENGINE_MEMO_WINDOW / 2);
    for (i = 0; i < IW_ENGINE_MEMO_PAUSE * IW_ENGINE_MEMO_WINDOW; i++) skipped += !iw_engine_memo_wanted(c, 3);
    CHECK_INT(skipped, IW_ENGINE_MEMO_PAUSE * IW_ENGINE_MEMO_WINDOW);
    CHECK_INT(iw_engine_memo_wanted(c, 3), 1);               /* measuring again */
    CHECK_INT(iw_engine_memo_wanted(c, 4), 1);               /* never paused */
    CHECK_INT(iw_engine_memo_wanted(c, 4 + IW_ENGINE_MEMO_CLASSES), 1);
    /* a repeating window keeps it on */
    k = key_of(3, NULL, "same");
    iw_engine_memo_put(c, &k, "y", 2);
    for (i = 0; i < IW_ENGINE_MEMO_WINDOW; i++) CHECK_STR(get_str(c, k), "y");
    CHECK_INT(iw_engine_memo_wanted(c, 3), 1);
    iw_engine_memo_destroy(c);
}

/* Events built from a request are keyed on target, method and header
 * list instead of stem, query, host and the header fields derived from
 * them: with and without the header list in the key (cs-headers read or
 * not), every combination must give the cache-off result. */
static const char *DERIVED_RULES =
    "title: d1\nid: d1\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        cs-uri-stem|endswith: /admin\n    condition: sel\n---\n"
    "title: d2\nid: d2\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        cs-uri-query|contains: debug\n    condition: sel\n---\n"
    "title: d3\nid: d3\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        cs-host|startswith: evil\n    condition: sel\n---\n"
    "title: d4\nid: d4\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        cs-user-agent|contains: sqlmap\n"
    "        cs-referer|contains: x\n    condition: sel\n";
static const char *HEADERS_RULE =
    "---\ntitle: d5\nid: d5\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        cs-headers|contains: 'Cookie: '\n    condition: sel\n";

TEST(engine_event_key_derived_fields)
{
    const char *targets[] = { "/admin", "/admin?debug=1", "/x?debug=1", "http://evil.example/admin",
                              "/x/admin?y" };
    const char *hosts[] = { "evil.example", "good.example", NULL };
    const char *uas[] = { "sqlmap/1.7", "curl/8", NULL };
    const char *refs[] = { "x", NULL };
    const char *methods[] = { "GET", "CONNECT" };
    int variant;

    for (variant = 0; variant < 2; variant++) {
        const char *y = variant ? apr_pstrcat(p, DERIVED_RULES, HEADERS_RULE, NULL) : DERIVED_RULES;
        iw_engine_t *on = compile_rules(p, y, 0), *off = compile_rules(p, y, -1);
        iw_scratch_t *s_on, *s_off;
        char a[1024], b[1024];
        uint64_t eh = 0, x;
        int ti, hi, ui, ri, mi, rep, diff = 0, fired = 0;

        REQUIRE(on && off);
        s_on = iw_scratch_create(on);
        s_off = iw_scratch_create(off);
        REQUIRE(s_on && s_off);
        for (ti = 0; ti < 5; ti++) for (hi = 0; hi < 3; hi++) for (ui = 0; ui < 3; ui++)
        for (ri = 0; ri < 2; ri++) for (mi = 0; mi < 2; mi++) for (rep = 0; rep < 2; rep++) {
            treq_t r = { .method = methods[mi], .target = targets[ti], .ua = uas[ui],
                         .referer = refs[ri], .host = hosts[hi],
                         .cookie = (ti + ui) % 2 ? "s=1" : NULL };
            const iw_hit_t *h;
            int n = eu_eval(p, on, s_on, &r, &h);
            render(h, n, a, sizeof(a));
            n = eu_eval(p, off, s_off, &r, &h);
            render(h, n, b, sizeof(b));
            fired += n > 0;
            if (strcmp(a, b) && diff++ < 5)
                fprintf(stderr, "  differ (%d) on %s %s host=%s ua=%s:\n   on  %s\n   off %s\n",
                        variant, r.method, r.target, r.host ? r.host : "-", r.ua ? r.ua : "-", a, b);
        }
        CHECK_INT(diff, 0);
        CHECK(fired > 100);
        iw_scratch_event_cache_counters(s_on, &eh, &x);
        CHECK(eh >= 180);               /* each event twice in a row */
        iw_scratch_destroy(s_on);
        iw_scratch_destroy(s_off);
    }
}

/* iw_engine_eval_request answers a clean repeat from the description
 * alone (request_key): its key must hold every description member a rule
 * reads.  One rule per member; each description is evaluated, repeated,
 * then changed in one member at a time, against a cache-off engine fed
 * built events.  A member left out of the key gives a wrong cached answer
 * for its flip. */
static const char *REQ_RULES =
    "title: r\nid: r-cip\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        c-ip|cidr: 10.0.0.0/8\n    condition: sel\n---\n"
    "title: r\nid: r-sip\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        s-ip: 192.0.2.1\n    condition: sel\n---\n"
    "title: r\nid: r-site\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        s-sitename: admin.example\n    condition: sel\n---\n"
    "title: r\nid: r-meth\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        cs-method: DELETE\n    condition: sel\n---\n"
    "title: r\nid: r-query\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        cs-uri-query|contains: debug\n    condition: sel\n---\n"
    "title: r\nid: r-ver\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        cs-version: HTTP/1.0\n    condition: sel\n---\n"
    "title: r\nid: r-user\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        cs-username: bob\n    condition: sel\n---\n"
    "title: r\nid: r-rid\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        request-id|startswith: Z\n    condition: sel\n---\n"
    "title: r\nid: r-port\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        s-port: 8443\n    condition: sel\n---\n"
    "title: r\nid: r-status\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        sc-status: 404\n    condition: sel\n---\n"
    "title: r\nid: r-scb\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        sc-bytes|gt: 1000\n    condition: sel\n---\n"
    "title: r\nid: r-csb\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        cs-bytes|exists: true\n    condition: sel\n---\n"
    "title: r\nid: r-tt\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        time-taken|gte: 0\n    condition: sel\n---\n"
    "title: r\nid: r-ua\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        cs-user-agent|contains: sqlmap\n    condition: sel\n---\n"
    "title: r\nid: r-host\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        cs-host|startswith: evil\n    condition: sel\n---\n"
    "title: r\nid: r-sec\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        time|endswith: ':07'\n    condition: sel\n";
static const char *REQ_HDRS_RULE =
    "---\ntitle: r\nid: r-hdrs\nlevel: high\nlogsource:\n    category: webserver\n"
    "detection:\n    sel:\n        cs-headers|contains: 'X-Evil:'\n    condition: sel\n";

#define REQ_MEMBERS 16
typedef struct rdesc {
    iw_request_desc_t d;
    iw_str_t hn[3], hv[3];
    int long_accept;               /* 1: a long key, 2: longer than any cached key */
} rdesc_t;

#define LONG_ACCEPT "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif," \
    "image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7,text/plain;" \
    "q=0.6,application/json;q=0.5,application/ld+json;q=0.5,text/csv;q=0.4,text/xml;" \
    "q=0.4,application/pdf;q=0.3,image/png;q=0.3,image/jpeg;q=0.3,image/gif;q=0.3," \
    "audio/mpeg;q=0.2,video/mp4;q=0.2,font/woff2;q=0.2,application/octet-stream;q=0.1," \
    "application/zip;q=0.1,application/gzip;q=0.1,application/x-tar;q=0.1,*/*;q=0.05," \
    "application/vnd.ms-excel;q=0.05,application/vnd.openxmlformats-officedocument." \
    "spreadsheetml.sheet;q=0.05,application/msword;q=0.05,application/rtf;q=0.04"
_Static_assert(sizeof(LONG_ACCEPT) > 600, "a browser's long header");
static char huge_accept[IW_ENGINE_MEMO_MAX_KEY + 100];      /* filled by the test */

/* Member m of the description set to its first (0) or second value. */
static void rdesc_set(rdesc_t *r, int m, int v)
{
#define RS(x) ((iw_str_t){ (x), strlen(x) })
    iw_request_desc_t *d = &r->d;
    switch (m) {
    case 0:  d->client_ip = RS(v ? "10.9.8.7" : "192.0.2.50"); break;
    case 1:  d->server_ip = RS(v ? "192.0.2.1" : "192.0.2.2"); break;
    case 2:  d->sitename = RS(v ? "admin.example" : "www.example"); break;
    case 3:  d->method = RS(v ? "DELETE" : "GET"); break;
    case 4:  d->target = RS(v ? "/p?debug=1" : "/p?x=1"); break;
    case 5:  d->version = RS(v ? "HTTP/1.0" : "HTTP/1.1"); break;
    case 6:  d->username = v ? RS("bob") : IW_STR_NULL; break;
    case 7:  d->request_id = RS(v ? "Zq1" : "aq1"); break;
    case 8:  d->server_port = v ? 8443 : 80; break;
    case 9:  d->status = v ? 404 : 200; break;
    case 10: d->sc_bytes = v ? 5000 : 100; break;
    case 11: d->cs_bytes = v ? 77 : -1; break;
    case 12: d->time_taken_ms = v ? 3 : -1; break;
    case 13: r->hv[0] = RS(v ? "sqlmap/1.7" : "curl/8"); break;
    case 14: r->hv[1] = RS(v ? "evil.example" : "www.example"); break;
    case 15: d->time = apr_time_from_sec(1764240000 + (v ? 7 : 0)); break;
    }
    if (m == 13 || m == 14) {                  /* the header list is the desc's */
        r->hn[0] = RS("User-Agent");
        r->hn[1] = RS("Host");
        r->hn[2] = RS("Accept");
        r->hv[2] = r->long_accept == 2 ? RS(huge_accept)
                   : RS(r->long_accept ? LONG_ACCEPT : "*/*");
        d->hdr_names = r->hn;
        d->hdr_values = r->hv;
        d->nhdrs = 3;
    }
#undef RS
}

/* iw_engine_reads_field: the description members the rules read (the
 * module reads the clock for time-taken only then). */
TEST(engine_reads_field)
{
    iw_engine_t *tt = compile_rules(p, "title: t\nid: t-tt\nlevel: high\nlogsource:\n"
                                    "    category: webserver\ndetection:\n    sel:\n"
                                    "        time-taken|gte: 5000\n    condition: sel\n", 0);
    iw_engine_t *uri = compile_rules(p, "title: t\nid: t-uri\nlevel: high\nlogsource:\n"
                                     "    category: webserver\ndetection:\n    sel:\n"
                                     "        cs-uri|contains: zz\n    condition: sel\n", 0);
    REQUIRE(tt && uri);
    CHECK(iw_engine_reads_field(tt, IW_F_TIME_TAKEN));
    CHECK(!iw_engine_reads_field(uri, IW_F_TIME_TAKEN));
    CHECK(iw_engine_reads_field(uri, IW_F_CS_URI));
    CHECK(!iw_engine_reads_field(NULL, IW_F_CS_URI));
}

/* Which single fields let a clean repeat be answered from the request's
 * description: those iw_event_from_request copies from one member (or
 * never sets), and those derived from the target; not the header fields
 * when no rule keys the header list (their values come from the list). */
TEST(engine_request_key_per_field)
{
    static const struct { const char *field; int keyable; } fs[] = {
        { "c-ip", 1 }, { "s-ip", 1 }, { "s-port", 1 }, { "s-sitename", 1 },
        { "cs-method", 1 }, { "cs-uri", 1 }, { "cs-uri-stem", 1 },
        { "cs-uri-query", 1 }, { "cs-version", 1 }, { "sc-status", 1 },
        { "sc-bytes", 1 }, { "cs-bytes", 1 }, { "time-taken", 1 },
        { "cs-username", 1 }, { "request-id", 1 }, { "cs-headers", 1 },
        { "message", 1 }, { "ah-code", 1 }, { "pid", 1 },
        { "cs-host", 0 }, { "cs-user-agent", 0 }, { "cs-referer", 0 },
        { "cs-cookie", 0 }, { "cs-content-type", 0 },
    };
    static const char sentinel[] = "not built";
    char buf[65536];
    size_t i;

    for (i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
        const char *y = apr_psprintf(p, "title: f\nid: f-%s\nlevel: high\nlogsource:\n"
                                     "    category: webserver\ndetection:\n    sel:\n"
                                     "        %s|contains: zz\n    condition: sel\n",
                                     fs[i].field, fs[i].field);
        iw_engine_t *e = compile_rules(p, y, 0);
        iw_scratch_t *s;
        iw_event_t ev;
        rdesc_t r;
        const iw_hit_t *h;
        int m, skipped;

        REQUIRE(e && (s = iw_scratch_create(e)));
        iw_event_init(&ev, buf, sizeof(buf));
        memset(&r, 0, sizeof(r));
        for (m = 0; m < REQ_MEMBERS; m++) rdesc_set(&r, m, 0);
        r.d.hdr_names = r.hn;
        r.d.hdr_values = r.hv;
        CHECK_INT(iw_engine_eval_request(e, s, &ev, &r.d, &h), 0);   /* a miss: built */
        ev.val[IW_F_CS_URI] = (iw_str_t){ sentinel, sizeof(sentinel) - 1 };
        CHECK_INT(iw_engine_eval_request(e, s, &ev, &r.d, &h), 0);   /* the repeat */
        skipped = ev.val[IW_F_CS_URI].p == sentinel;
        if (skipped != fs[i].keyable)
            fprintf(stderr, "    %s: repeat %s\n", fs[i].field, skipped ? "skipped" : "built");
        CHECK_INT(skipped, fs[i].keyable);
        iw_scratch_destroy(s);
    }
}

TEST(engine_request_path_matches_event_path)
{
    char buf_q[65536], buf_r[65536], a[2048], b[2048];
    static const char sentinel[] = "not built";
    int variant;

    memset(huge_accept, 'a', sizeof(huge_accept) - 1);
    for (variant = 0; variant < 2; variant++) {
        const char *y = variant ? apr_pstrcat(p, REQ_RULES, REQ_HDRS_RULE, NULL) : REQ_RULES;
        iw_engine_t *on = compile_rules(p, y, 0), *off = compile_rules(p, y, -1);
        iw_scratch_t *s_on, *s_off;
        iw_event_t evq, evr;
        unsigned seed = 12345;
        int trial, m, k, diff = 0, fired = 0, skipped = 0, skipped_long = 0, skipped_huge = 0;

        REQUIRE(on && off);
        REQUIRE(pair_open(on, off, &s_on, &s_off, &evq, buf_q, &evr, buf_r, sizeof(buf_q)));
        for (trial = 0; trial < 150; trial++) {
            rdesc_t base;
            int v[REQ_MEMBERS];
            memset(&base, 0, sizeof(base));
            base.long_accept = trial % 3 == 0 ? 1 : trial % 5 == 1 ? 2 : 0;
            for (m = 0; m < REQ_MEMBERS; m++) {
                seed = seed * 1103515245u + 12345u;
                v[m] = (seed >> 16) % 16 == 0;                  /* mostly clean */
                rdesc_set(&base, m, v[m]);
            }
            for (k = -2; k < REQ_MEMBERS; k++) {   /* base, its repeat, one flip each */
                rdesc_t r = base;
                const iw_hit_t *h;
                int n;
                if (k >= 0) rdesc_set(&r, k, !v[k]);     /* flip member k */
                r.d.hdr_names = r.hn;          /* the copy's own arrays */
                r.d.hdr_values = r.hv;
                evq.val[IW_F_CS_URI] = (iw_str_t){ sentinel, sizeof(sentinel) - 1 };
                n = iw_engine_eval_request(on, s_on, &evq, &r.d, &h);
                render(h, n, a, sizeof(a));
                skipped += evq.val[IW_F_CS_URI].p == sentinel;
                skipped_long += r.long_accept == 1 && evq.val[IW_F_CS_URI].p == sentinel;
                skipped_huge += r.long_accept == 2 && evq.val[IW_F_CS_URI].p == sentinel;
                if (n) CHECK(evq.val[IW_F_CS_URI].p != sentinel);   /* alerts need the event */
                iw_event_from_request(&evr, &r.d);
                n = iw_engine_eval(off, s_off, &evr, &h);
                render(h, n, b, sizeof(b));
                fired += n > 0;
                if (strcmp(a, b) && diff++ < 5)
                    fprintf(stderr, "  differ (variant %d, trial %d, member %d):\n   request %s\n   event   %s\n",
                            variant, trial, k, a, b);
            }
        }
        CHECK_INT(diff, 0);
        CHECK(fired > 1000);
        if (variant) {                      /* clean repeats: the event is not built */
            CHECK(skipped >= 20);
            CHECK(skipped_long >= 5);       /* also with a long key */
            CHECK_INT(skipped_huge, 0);     /* too long to cache: always built */
        } else {
            CHECK_INT(skipped, 0);          /* header fields keyed by value: always built */
        }
        iw_scratch_destroy(s_on);
        iw_scratch_destroy(s_off);
    }
}

/* cs-header-decoded answered for a whole header block (its bytes and its
 * lines' lengths): the same bytes split into other lines are other
 * values, never the block's cached answer. */
static int header_fired(apr_pool_t *p, const iw_engine_t *e, iw_scratch_t *s, int nh,
                        const char *const *names, const char *const *values)
{
    iw_request_desc_t d;
    iw_event_t ev;
    iw_str_t n[4], v[4];
    const iw_hit_t *h;
    int i, r;

    memset(&d, 0, sizeof(d));
    for (i = 0; i < nh; i++) {
        n[i] = (iw_str_t){ names[i], strlen(names[i]) };
        v[i] = (iw_str_t){ values[i], strlen(values[i]) };
    }
    d.method = (iw_str_t){ "GET", 3 };
    d.target = (iw_str_t){ "/", 1 };
    d.version = (iw_str_t){ "HTTP/1.1", 8 };
    d.hdr_names = n;
    d.hdr_values = v;
    d.nhdrs = nh;
    d.status = 200;
    d.sc_bytes = d.cs_bytes = d.time_taken_ms = -1;
    d.client_ip = (iw_str_t){ "192.0.2.10", 10 };
    d.time = apr_time_from_sec(1764240000);
    if (iw_event_init_owned(&ev, 1 << 20)) return -1;
    iw_event_from_request(&ev, &d);
    r = iw_engine_eval(e, s, &ev, &h);
    iw_event_release(&ev);
    (void)p;
    return r;
}

TEST(engine_header_block_keeps_its_split)
{
    const char *y = "title: t\nid: hb\nlevel: high\nlogsource:\n    category: webserver\n"
                    "detection:\n    sel:\n        cs-header-decoded|startswith: 'X-B: '\n"
                    "    condition: sel\n";
    static const char *const one_n[] = { "X-A" }, *const one_v[] = { "v\nX-B: w" };
    static const char *const two_n[] = { "X-A", "X-B" }, *const two_v[] = { "v", "w" };
    iw_engine_t *on = compile_rules(p, y, 0), *off = compile_rules(p, y, -1);
    iw_scratch_t *s_on, *s_off;
    int round;

    REQUIRE(on && off);
    s_on = iw_scratch_create(on);
    s_off = iw_scratch_create(off);
    REQUIRE(s_on && s_off);
    for (round = 0; round < 3; round++) {
        CHECK_INT(header_fired(p, on, s_on, 1, one_n, one_v), 0);     /* one value, "X-A: v\nX-B: w" */
        CHECK_INT(header_fired(p, off, s_off, 1, one_n, one_v), 0);
        CHECK_INT(header_fired(p, on, s_on, 2, two_n, two_v), 1);     /* the same block bytes */
        CHECK_INT(header_fired(p, off, s_off, 2, two_n, two_v), 1);
    }
    iw_scratch_destroy(s_on);
    iw_scratch_destroy(s_off);
}

/* The event key's header list is each header's two lengths, then the
 * lines as cs-headers is made of them: the same line bytes split
 * otherwise into name and value are another key, and cs-headers copied
 * from the key (iw_event_t.hdr_lines, only while the engine evaluates)
 * is the view the event builds from its headers. */
static int key_lines_fired(const iw_engine_t *e, iw_scratch_t *s, int req, const char *n1,
                           const char *v1, char *view, size_t room, int *ok)
{
    static char buf[65536], buf2[65536];
    iw_request_desc_t d;
    iw_event_t ev, ev2;
    iw_str_t n[3] = { { "Host", 4 }, { n1, strlen(n1) }, { "X-Empty", 7 } };
    iw_str_t v[3] = { { "h.example", 9 }, { v1, strlen(v1) }, { "", 0 } };
    iw_str_t h, h2;
    const iw_hit_t *hits;
    int r;

    memset(&d, 0, sizeof(d));
    d.method = (iw_str_t){ "GET", 3 };
    d.target = (iw_str_t){ "/", 1 };
    d.version = (iw_str_t){ "HTTP/1.1", 8 };
    d.hdr_names = n;
    d.hdr_values = v;
    d.nhdrs = 3;
    d.status = 200;
    d.sc_bytes = d.cs_bytes = d.time_taken_ms = -1;
    d.client_ip = (iw_str_t){ "192.0.2.10", 10 };
    d.time = apr_time_from_sec(1764240000);
    iw_event_init(&ev, buf, sizeof(buf));
    iw_event_init(&ev2, buf2, sizeof(buf2));
    if (req) {
        r = iw_engine_eval_request(e, s, &ev, &d, &hits);
    } else {
        iw_event_from_request(&ev, &d);
        r = iw_engine_eval(e, s, &ev, &hits);
    }
    iw_event_from_request(&ev2, &d);
    h = iw_event_get(&ev, IW_F_CS_HEADERS);    /* as the evaluation left it (or built after) */
    h2 = iw_event_get(&ev2, IW_F_CS_HEADERS);
    /* the same view (unless a clean repeat left the event unbuilt); the
     * key's bytes not past the call */
    *ok = !ev.hdr_lines.p && (!ev.nhdrs ? req && !r
                              : h.p && h2.p && h.len == h2.len && !memcmp(h.p, h2.p, h.len));
    snprintf(view, room, "%.*s", (int)h2.len, h2.p ? h2.p : "");
    return r;
}

TEST(engine_event_key_header_lines)
{
    const char *y = "title: t\nid: ua\nlevel: high\nlogsource:\n    category: webserver\n"
                    "detection:\n    sel:\n        cs-user-agent|contains: sqlmap\n    condition: sel\n"
                    "---\ntitle: t\nid: hd\nlevel: high\nlogsource:\n    category: webserver\n"
                    "detection:\n    sel:\n        cs-headers|contains: 'X-Evil:'\n    condition: sel\n";
    iw_engine_t *on = compile_rules(p, y, 0);
    iw_scratch_t *s;
    char va[256], vb[256];
    int round, req, ok1, ok2, ok3;

    REQUIRE(on);
    for (req = 0; req < 2; req++) {
        REQUIRE((s = iw_scratch_create(on)));
        for (round = 0; round < 3; round++) {
            /* "User-Agent: a: sqlmap\n" both times: one User-Agent, one header named otherwise */
            CHECK_INT(key_lines_fired(on, s, req, "User-Agent", "a: sqlmap", va, sizeof(va), &ok1), 1);
            CHECK_INT(key_lines_fired(on, s, req, "User-Agent: a", "sqlmap", vb, sizeof(vb), &ok2), 0);
            CHECK_STR(va, vb);
            CHECK_INT(key_lines_fired(on, s, req, "X-Evil", "1", va, sizeof(va), &ok3), 1);
            CHECK(ok1 && ok2 && ok3);
        }
        iw_scratch_destroy(s);
    }
}

/* The event cache paused (requests that do not repeat) still answers a
 * request sent again and again among them (a monitor's health check):
 * its fingerprint was seen, so it is looked up; the results are the
 * cache-off engine's. */
TEST(engine_event_cache_paused_answers_repeats)
{
    iw_engine_t *on = compile_rules(p, DERIVED_RULES, 0), *off = compile_rules(p, DERIVED_RULES, -1);
    iw_scratch_t *s_on, *s_off;
    char buf_q[65536], buf_r[65536], target[64];
    iw_str_t hn[2] = { { "Host", 4 }, { "User-Agent", 10 } }, hv[2];
    iw_event_t evq, evr;
    uint64_t hits = 0, misses = 0;
    int i, differ = 0;

    REQUIRE(on && off);
    REQUIRE(pair_open(on, off, &s_on, &s_off, &evq, buf_q, &evr, buf_r, sizeof(buf_q)));
    for (i = 0; i < 400; i++) {
        iw_request_desc_t d;
        const iw_hit_t *h;
        int health = i % 10 == 9, a, b;
        memset(&d, 0, sizeof(d));
        snprintf(target, sizeof(target), i % 20 == 4 ? "/admin?q=%d" : "/page-%d.html", i);
        d.method = (iw_str_t){ "GET", 3 };
        d.target = health ? (iw_str_t){ "/healthz", 8 } : (iw_str_t){ target, strlen(target) };
        d.version = (iw_str_t){ "HTTP/1.1", 8 };
        hv[0] = (iw_str_t){ "www.example.org", 15 };
        hv[1] = health ? (iw_str_t){ "kube-probe/1.27", 15 } : (iw_str_t){ "Mozilla/5.0", 11 };
        d.hdr_names = hn;
        d.hdr_values = hv;
        d.nhdrs = 2;
        d.status = 200;
        d.sc_bytes = d.cs_bytes = d.time_taken_ms = -1;
        d.client_ip = health ? (iw_str_t){ "192.0.2.10", 10 } : (iw_str_t){ "198.51.100.7", 12 };
        d.time = apr_time_from_sec(1764240000);
        a = iw_engine_eval_request(on, s_on, &evq, &d, &h);
        iw_event_from_request(&evr, &d);
        b = iw_engine_eval(off, s_off, &evr, &h);
        differ += a != b;
    }
    CHECK_INT(differ, 0);
    iw_scratch_event_cache_counters(s_on, &hits, &misses);
    CHECK(hits >= 35);                 /* 40 health checks: all but the first two or so */
    iw_scratch_destroy(s_on);
    iw_scratch_destroy(s_off);
}
