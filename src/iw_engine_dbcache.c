/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_dbcache: persistent cache of compiled Vectorscan databases (see .h). */
#include "iw_engine_dbcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <apr_strings.h>
#include "iw_vs.h"

#define FORMAT_VERSION 1u
#define HDR_SIZE 88                    /* magic 8, ver 4, rsvd 4, key 32, len 8, sum 32 */
static const unsigned char MAGIC[8] = {'I', 'W', 'H', 'S', 'D', 'B', '\r', '\n'};
#define STALE_TMP_SECS 3600            /* temp files of crashed writers */
#define SCAN_LIMIT 4096                /* entries looked at when trimming */

struct iw_engine_dbcache {
    const char *dir;                   /* NULL = disabled */
    iw_engine_dbcache_stats_t *st;            /* counters, updated atomically */
};

/* ---- SHA-256 (FIPS 180-4) ---------------------------------------------- */

typedef struct { uint32_t h[8]; uint64_t len; unsigned char buf[64]; size_t nbuf; } sha_t;

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(sha_t *s, const unsigned char *b)
{
    uint32_t w[64], v[8], t1, t2;
    int i;
    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
               (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
    for (; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(v, s->h, sizeof v);
    for (i = 0; i < 64; i++) {   /* named rotation: no memmove per round */
        t1 = v[7] + (ROR(v[4], 6) ^ ROR(v[4], 11) ^ ROR(v[4], 25)) +
             ((v[4] & v[5]) ^ (~v[4] & v[6])) + K[i] + w[i];
        t2 = (ROR(v[0], 2) ^ ROR(v[0], 13) ^ ROR(v[0], 22)) +
             ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        v[7] = v[6]; v[6] = v[5]; v[5] = v[4]; v[4] = v[3] + t1;
        v[3] = v[2]; v[2] = v[1]; v[1] = v[0]; v[0] = t1 + t2;
    }
    for (i = 0; i < 8; i++) s->h[i] += v[i];
}

static void sha_init(sha_t *s)
{
    static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, H0, sizeof H0);
    s->len = 0;
    s->nbuf = 0;
}

static void sha_update(sha_t *s, const void *data, size_t len)
{
    const unsigned char *p = data;
    s->len += len;
    if (s->nbuf) {
        size_t k = 64 - s->nbuf < len ? 64 - s->nbuf : len;
        memcpy(s->buf + s->nbuf, p, k);
        s->nbuf += k; p += k; len -= k;
        if (s->nbuf < 64) return;
        sha_block(s, s->buf);
        s->nbuf = 0;
    }
    for (; len >= 64; p += 64, len -= 64) sha_block(s, p);
    memcpy(s->buf, p, len);
    s->nbuf = len;
}

static void sha_final(sha_t *s, unsigned char out[32])
{
    uint64_t bits = s->len * 8;
    unsigned char pad[72] = {0x80};
    size_t padlen = (s->nbuf < 56 ? 56 : 120) - s->nbuf;
    int i;
    for (i = 0; i < 8; i++) pad[padlen + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
    sha_update(s, pad, padlen + 8);
    for (i = 0; i < 32; i++) out[i] = (unsigned char)(s->h[i / 4] >> (24 - 8 * (i % 4)));
}

void iw_engine_dbcache_sha256(const void *data, size_t len, unsigned char out[32])
{
    sha_t s;
    sha_init(&s);
    sha_update(&s, data, len);
    sha_final(&s, out);
}

/* ---- key --------------------------------------------------------------- */

static void put_le(unsigned char *b, uint64_t v, int nbytes)
{
    int i;
    for (i = 0; i < nbytes; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *b, int nbytes)
{
    uint64_t v = 0;
    int i;
    for (i = nbytes - 1; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

static void sha_u64(sha_t *s, uint64_t v)
{
    unsigned char b[8];
    put_le(b, v, 8);
    sha_update(s, b, 8);
}

/* Length-prefixed so that no two inputs hash the same byte stream. */
static void sha_str(sha_t *s, const char *str)
{
    size_t n = strlen(str);
    sha_u64(s, n);
    sha_update(s, str, n);
}

/* Returns -1 when no key can be built (then: just compile). */
static int make_key(const char *const *exprs, const unsigned *flags, const unsigned *ids,
                    unsigned n, unsigned mode, unsigned char key[32])
{
    hs_platform_info_t pl;
    const uint32_t order = 0x01020304;
    sha_t s;
    unsigned i;
    if (!exprs || !n) return -1;
    if (iw_vs_platform()) pl = *iw_vs_platform();  /* the implementation scanning them */
    else if (hs_populate_platform(&pl) != HS_SUCCESS) return -1;
    sha_init(&s);
    sha_str(&s, "iocwatch-hscache");
    sha_u64(&s, FORMAT_VERSION);
    sha_str(&s, hs_version());
    sha_u64(&s, pl.tune);
    sha_u64(&s, pl.cpu_features);
    sha_u64(&s, pl.reserved1);
    sha_u64(&s, pl.reserved2);
    sha_u64(&s, sizeof(void *));
    sha_update(&s, &order, sizeof order);   /* native byte order on purpose */
    sha_u64(&s, mode);
    sha_u64(&s, n);
    for (i = 0; i < n; i++) {
        if (!exprs[i]) return -1;           /* let hs_compile_multi report it */
        sha_str(&s, exprs[i]);
        sha_u64(&s, flags ? flags[i] : 0);
        sha_u64(&s, ids ? ids[i] : 0);
    }
    sha_final(&s, key);
    return 0;
}

/* ---- handle ------------------------------------------------------------ */

iw_engine_dbcache_t *iw_engine_dbcache_create(apr_pool_t *p, const char *dir)
{
    iw_engine_dbcache_t *c = apr_pcalloc(p, sizeof *c);
    c->st = apr_pcalloc(p, sizeof *c->st);
    if (dir && *dir) {
        size_t n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/') n--;
        c->dir = apr_pstrmemdup(p, dir, n);
    }
    return c;
}

const char *iw_engine_dbcache_dir(const iw_engine_dbcache_t *c) { return c ? c->dir : NULL; }

void iw_engine_dbcache_stats(const iw_engine_dbcache_t *c, iw_engine_dbcache_stats_t *st)
{
    memset(st, 0, sizeof *st);
    if (!c) return;
    st->hits = __atomic_load_n(&c->st->hits, __ATOMIC_RELAXED);
    st->misses = __atomic_load_n(&c->st->misses, __ATOMIC_RELAXED);
    st->stores = __atomic_load_n(&c->st->stores, __ATOMIC_RELAXED);
    st->bad_entries = __atomic_load_n(&c->st->bad_entries, __ATOMIC_RELAXED);
    st->evicted = __atomic_load_n(&c->st->evicted, __ATOMIC_RELAXED);
}

#define BUMP(c, f) __atomic_add_fetch(&(c)->st->f, 1, __ATOMIC_RELAXED)

const char *iw_engine_dbcache_default_dir(apr_pool_t *p)
{
    const char *v = getenv("IOCWATCH_CACHE_DIR");
    if (v) return *v ? v : NULL;
    if ((v = getenv("XDG_CACHE_HOME")) && *v == '/') return apr_pstrcat(p, v, "/iocwatch", NULL);
    if ((v = getenv("HOME")) && *v == '/') return apr_pstrcat(p, v, "/.cache/iocwatch", NULL);
    return NULL;
}

/* mkdir -p with 0700 (e.g. a fresh account has no ~/.cache yet). */
static int mkdirs(const char *dir)
{
    char buf[4096];
    size_t i, n = strlen(dir);
    if (n >= sizeof buf) return -1;
    memcpy(buf, dir, n + 1);
    for (i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -1;
        buf[i] = i < n ? '/' : '\0';
    }
    return 0;
}

/* The dir must be ours and not writable by others: otherwise someone else
 * could swap entries under us.  create: mkdir it 0700 if missing. */
static int dir_usable(const char *dir, int create)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (!create || errno != ENOENT || mkdirs(dir) != 0 || stat(dir, &st) != 0)
            return 0;
    }
    return S_ISDIR(st.st_mode) && st.st_uid == geteuid() && !(st.st_mode & 022);
}

static void entry_path(char *buf, size_t size, const char *dir, const unsigned char key[32])
{
    char hex[65];
    int i;
    for (i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", key[i]);
    snprintf(buf, size, "%s/%s.hsdb", dir, hex);
}

/* ---- load -------------------------------------------------------------- */

static int read_all(int fd, unsigned char *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t r = read(fd, buf + off, len - off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        off += (size_t)r;
    }
    return 0;
}

/* Verify one file image; returns the payload offset or -1. */
static int check_image(const unsigned char *img, size_t size, const unsigned char key[32])
{
    unsigned char sum[32];
    uint64_t len;
    if (size < HDR_SIZE || memcmp(img, MAGIC, 8) || get_le(img + 8, 4) != FORMAT_VERSION ||
        get_le(img + 12, 4) != 0 ||
        memcmp(img + 16, key, 32))
        return -1;
    len = get_le(img + 48, 8);
    if (len != size - HDR_SIZE) return -1;
    iw_engine_dbcache_sha256(img + HDR_SIZE, (size_t)len, sum);
    return memcmp(sum, img + 56, 32) ? -1 : HDR_SIZE;
}

/* 1 = loaded, 0 = no entry, -1 = bad entry. */
static int load(const char *path, const unsigned char key[32], hs_database_t **db)
{
    struct stat st;
    unsigned char *img;
    int fd, off, rc = -1;
    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) < 0)
        return errno == ENOENT ? 0 : -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        st.st_size < HDR_SIZE || (uint64_t)st.st_size > IW_ENGINE_DBCACHE_MAX_BYTES + HDR_SIZE ||
        !(img = malloc((size_t)st.st_size))) {
        close(fd);
        return -1;
    }
    if (read_all(fd, img, (size_t)st.st_size) == 0 &&
        (off = check_image(img, (size_t)st.st_size, key)) > 0 &&
        hs_deserialize_database((const char *)img + off, (size_t)st.st_size - (size_t)off,
                                db) == HS_SUCCESS) {
        rc = 1;
        (void)futimens(fd, NULL);           /* mtime = last use: evict LRU */
    }
    free(img);
    close(fd);
    return rc;
}

/* ---- store ------------------------------------------------------------- */

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int store(const char *dir, const char *path, const unsigned char key[32],
                 const hs_database_t *db)
{
    static unsigned long seq;
    unsigned char hdr[HDR_SIZE] = {0};
    char *bytes = NULL, tmp[4096];
    size_t len = 0;
    int fd, ok;
    if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS) return -1;
    if (len > IW_ENGINE_DBCACHE_MAX_BYTES) { free(bytes); return -1; }
    memcpy(hdr, MAGIC, 8);
    put_le(hdr + 8, FORMAT_VERSION, 4);
    memcpy(hdr + 16, key, 32);
    put_le(hdr + 48, len, 8);
    iw_engine_dbcache_sha256(bytes, len, hdr + 56);
    snprintf(tmp, sizeof tmp, "%s/.tmp-%02x%02x%02x%02x-%ld-%lu", dir, key[0], key[1], key[2],
             key[3], (long)getpid(), __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) { free(bytes); return -1; }
    ok = write_all(fd, hdr, sizeof hdr) == 0 && write_all(fd, bytes, len) == 0;
    ok = (close(fd) == 0) && ok;
    free(bytes);
    if (!ok || rename(tmp, path) != 0) {   /* rename replaces, never follows */
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---- eviction ---------------------------------------------------------- */

typedef struct { time_t mtime; long nsec; off_t size; char name[80]; } ent_t;

static int ent_cmp(const void *a, const void *b)
{
    const ent_t *x = a, *y = b;
    if (x->mtime != y->mtime) return x->mtime < y->mtime ? -1 : 1;
    if (x->nsec != y->nsec) return x->nsec < y->nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int is_entry_name(const char *n)
{
    size_t len = strlen(n), i;
    if (len != 64 + 5 || strcmp(n + 64, ".hsdb")) return 0;
    for (i = 0; i < 64; i++)
        if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f'))) return 0;
    return 1;
}

/* Trim the dir to the bounds, oldest first; never the entry just stored. */
static void evict(const iw_engine_dbcache_t *c, const char *keep)
{
    DIR *d = opendir(c->dir);
    struct dirent *de;
    ent_t *ents;
    size_t n = 0, i, live;
    unsigned long long total = 0;
    time_t now = time(NULL);
    if (!d) return;
    if (!(ents = malloc(sizeof *ents * SCAN_LIMIT))) { closedir(d); return; }
    while ((de = readdir(d)) && n < SCAN_LIMIT) {
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (!strncmp(de->d_name, ".tmp-", 5)) {
            if (now - st.st_mtime > STALE_TMP_SECS) unlinkat(dirfd(d), de->d_name, 0);
            continue;
        }
        if (!is_entry_name(de->d_name)) continue;
        ents[n].mtime = st.st_mtim.tv_sec;
        ents[n].nsec = st.st_mtim.tv_nsec;
        ents[n].size = st.st_size;
        memcpy(ents[n].name, de->d_name, 70);
        total += (unsigned long long)st.st_size;
        n++;
    }
    qsort(ents, n, sizeof *ents, ent_cmp);
    for (i = 0, live = n; i < n && (live > IW_ENGINE_DBCACHE_MAX_ENTRIES || total > IW_ENGINE_DBCACHE_MAX_BYTES);
         i++) {
        if (!strcmp(ents[i].name, keep)) continue;
        if (unlinkat(dirfd(d), ents[i].name, 0) == 0) BUMP(c, evicted);
        live--;                        /* gone, or vanished under a racing evictor */
        total -= (unsigned long long)ents[i].size;
    }
    free(ents);
    closedir(d);
}

/* ---- entry point ------------------------------------------------------- */

int iw_engine_dbcache_compile_multi2(const iw_engine_dbcache_t *c, const char *const *exprs,
                              const unsigned *flags, const unsigned *ids,
                              unsigned n, unsigned mode, hs_database_t **db,
                              hs_compile_error_t **err, iw_engine_dbcache_how_t *how)
{
    unsigned char key[32];
    char path[4096];
    iw_engine_dbcache_how_t dummy;
    int rc, usable, l = 0;
    if (!how) how = &dummy;
    *how = IW_ENGINE_DBCACHE_DISABLED;
    iw_vs_init();                      /* which instruction set to compile for */
    if (!c || !c->dir || strlen(c->dir) > sizeof path - 80 ||
        make_key(exprs, flags, ids, n, mode, key) != 0)
        return hs_compile_multi(exprs, flags, ids, n, mode, iw_vs_platform(), db, err);
    entry_path(path, sizeof path, c->dir, key);
    usable = dir_usable(c->dir, 0);
    if (usable && (l = load(path, key, db)) > 0) {
        BUMP(c, hits);
        if (err) *err = NULL;
        *how = IW_ENGINE_DBCACHE_HIT;
        return HS_SUCCESS;
    } else if (usable && l < 0) {
        BUMP(c, bad_entries);
    }
    BUMP(c, misses);
    rc = hs_compile_multi(exprs, flags, ids, n, mode, iw_vs_platform(), db, err);
    if (rc != HS_SUCCESS) { *how = IW_ENGINE_DBCACHE_FAILED; return rc; }
    *how = IW_ENGINE_DBCACHE_UNSTORED;
    if ((usable || dir_usable(c->dir, 1)) && store(c->dir, path, key, *db) == 0) {
        BUMP(c, stores);
        *how = IW_ENGINE_DBCACHE_STORED;
        evict(c, strrchr(path, '/') + 1);
    }
    return rc;
}

int iw_engine_dbcache_compile_multi(const iw_engine_dbcache_t *c, const char *const *exprs,
                             const unsigned *flags, const unsigned *ids,
                             unsigned n, unsigned mode, hs_database_t **db,
                             hs_compile_error_t **err)
{
    return iw_engine_dbcache_compile_multi2(c, exprs, flags, ids, n, mode, db, err, NULL);
}
