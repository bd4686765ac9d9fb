/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_dbcache: real Vectorscan databases in temp dirs; hits must scan the
 * same as fresh compiles, any damaged entry must fall back and be rewritten. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_strings.h>
#include "iw_test.h"
#include "iw_engine_dbcache.h"

static const char *const EXPRS[] = {"foo", "ba[rz]+", "^GET /admin", "select.+from", "\\.\\./"};
static const unsigned FLAGS[] = {HS_FLAG_CASELESS, 0, HS_FLAG_SINGLEMATCH, HS_FLAG_DOTALL,
                                 HS_FLAG_CASELESS};
static const unsigned IDS[] = {10, 20, 30, 40, 50};
#define NEXPR 5u

static const char *tmpdir(apr_pool_t *p)
{
    char *d = apr_pstrdup(p, "/tmp/iw-hscache-XXXXXX");
    return mkdtemp(d);
}

static void rmtree(apr_pool_t *p, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (d) {
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                unlink(apr_pstrcat(p, dir, "/", de->d_name, NULL));
        closedir(d);
    }
    rmdir(dir);
}

static int count_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    if (!d) return -1;
    while ((de = readdir(d)))
        n += prefix ? !strncmp(de->d_name, prefix, strlen(prefix)) : de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* The .hsdb file in dir (tests keep one entry per dir); count: prefix NULL =
 * visible files, else files starting with prefix. */
static const char *only_entry(apr_pool_t *p, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    const char *found = NULL;
    if (!d) return NULL;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".hsdb")) found = apr_pstrcat(p, dir, "/", de->d_name, NULL);
    closedir(d);
    return found;
}

typedef struct { int n; unsigned id[64]; unsigned long long to[64]; } hits_t;

static int on_match(unsigned id, unsigned long long from, unsigned long long to,
                    unsigned fl, void *ctx)
{
    hits_t *h = ctx;
    if (h->n < 64) { h->id[h->n] = id; h->to[h->n] = to; h->n++; }
    return 0;
}

static const char *const BUFS[] = {
    "GET /admin/../etc/passwd?q=FOO", "barzz baz bar", "SELECT 1\nselect a from t", "nothing", "",
    "fOo ../ bar select x from y"};

/* Scans every buffer with both databases; 1 when all callbacks agree. */
static int same_matches(const hs_database_t *a, const hs_database_t *b)
{
    hs_scratch_t *s = NULL;
    size_t i;
    int same = 1, total = 0;
    if (hs_alloc_scratch(a, &s) != HS_SUCCESS || hs_alloc_scratch(b, &s) != HS_SUCCESS) return 0;
    for (i = 0; i < sizeof BUFS / sizeof *BUFS; i++) {
        hits_t ha = {0}, hb = {0};
        hs_scan(a, BUFS[i], (unsigned)strlen(BUFS[i]), 0, s, on_match, &ha);
        hs_scan(b, BUFS[i], (unsigned)strlen(BUFS[i]), 0, s, on_match, &hb);
        if (ha.n != hb.n || memcmp(ha.id, hb.id, sizeof(unsigned) * (size_t)ha.n) ||
            memcmp(ha.to, hb.to, sizeof(unsigned long long) * (size_t)ha.n))
            same = 0;
        total += ha.n;
    }
    hs_free_scratch(s);
    return same && total > 5;   /* the buffers really exercise the patterns */
}

static hs_database_t *plain_db(void)
{
    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    if (hs_compile_multi(EXPRS, FLAGS, IDS, NEXPR, HS_MODE_BLOCK, NULL, &db, &err) != HS_SUCCESS)
        hs_free_compile_error(err);
    return db;
}

/* Compile EXPRS through the cache; returns how, checks the db scans right. */
static iw_engine_dbcache_how_t via_cache(const iw_engine_dbcache_t *c, int *ok)
{
    hs_database_t *db = NULL, *ref = plain_db();
    hs_compile_error_t *err = (hs_compile_error_t *)1;
    iw_engine_dbcache_how_t how;
    int rc = iw_engine_dbcache_compile_multi2(c, EXPRS, FLAGS, IDS, NEXPR, HS_MODE_BLOCK, &db, &err, &how);
    *ok = rc == HS_SUCCESS && db && !err && ref && same_matches(db, ref);
    hs_free_database(db);
    hs_free_database(ref);
    return how;
}

TEST(dbcache_sha256_vectors)
{
    static const char *const in[] = {"", "abc",
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"};
    static const char *const out[] = {
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"};
    unsigned char h[32];
    char hex[65];
    char *mil = malloc(1000000);
    int i, j;
    for (i = 0; i < 4; i++) {
        if (i < 3) iw_engine_dbcache_sha256(in[i], strlen(in[i]), h);
        else { memset(mil, 'a', 1000000); iw_engine_dbcache_sha256(mil, 1000000, h); }
        for (j = 0; j < 32; j++) snprintf(hex + 2 * j, 3, "%02x", h[j]);
        CHECK_STR(hex, i < 3 ? out[i]
                  : "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }
    free(mil);
}

TEST(dbcache_miss_then_hit)
{
    const char *dir = tmpdir(p);
    const char *sub;
    iw_engine_dbcache_t *c;
    iw_engine_dbcache_stats_t st;
    struct stat sb;
    int ok;
    REQUIRE(dir);
    sub = apr_pstrcat(p, dir, "/x/cache", NULL);   /* created on first store */
    c = iw_engine_dbcache_create(p, sub);
    CHECK_INT(via_cache(c, &ok), IW_ENGINE_DBCACHE_STORED);
    CHECK(ok);
    CHECK(stat(sub, &sb) == 0 && (sb.st_mode & 0777) == 0700);
    CHECK(only_entry(p, sub) && stat(only_entry(p, sub), &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK_INT(via_cache(c, &ok), IW_ENGINE_DBCACHE_HIT);
    CHECK(ok);
    /* a second handle (another process start) hits too */
    CHECK_INT(via_cache(iw_engine_dbcache_create(p, sub), &ok), IW_ENGINE_DBCACHE_HIT);
    CHECK(ok);
    iw_engine_dbcache_stats(c, &st);
    CHECK_INT(st.hits, 1);
    CHECK_INT(st.misses, 1);
    CHECK_INT(st.stores, 1);
    CHECK_INT(count_files(sub, ".tmp-"), 0);
    /* disabled cache: plain compile */
    CHECK_INT(via_cache(iw_engine_dbcache_create(p, NULL), &ok), IW_ENGINE_DBCACHE_DISABLED);
    CHECK(ok);
    CHECK_INT(via_cache(NULL, &ok), IW_ENGINE_DBCACHE_DISABLED);
    CHECK(stat(apr_pstrcat(p, dir, "/x", NULL), &sb) == 0 && (sb.st_mode & 0777) == 0700);
    rmtree(p, sub);
    rmdir(apr_pstrcat(p, dir, "/x", NULL));
    rmdir(dir);
}

/* Each variant of the input must get its own entry. */
TEST(dbcache_key_covers_inputs)
{
    const char *dir = tmpdir(p);
    iw_engine_dbcache_t *c;
    const char *e2[NEXPR];
    unsigned f2[NEXPR], i2[NEXPR];
    hs_database_t *db;
    hs_compile_error_t *err;
    iw_engine_dbcache_how_t how;
    int v;
    REQUIRE(dir);
    c = iw_engine_dbcache_create(p, dir);
    for (v = 0; v < 6; v++) {
        memcpy(e2, EXPRS, sizeof e2);
        memcpy(f2, FLAGS, sizeof f2);
        memcpy(i2, IDS, sizeof i2);
        if (v == 1) e2[2] = "^GET /admin2";
        if (v == 2) f2[1] |= HS_FLAG_CASELESS;
        if (v == 3) i2[4] = 51;
        if (v == 4) { e2[0] = "fo"; e2[1] = "oba[rz]+"; }   /* same concatenation */
        db = NULL; err = NULL;
        CHECK_INT(iw_engine_dbcache_compile_multi2(c, e2, f2, i2, NEXPR, v == 5 ? HS_MODE_STREAM
                                            : HS_MODE_BLOCK, &db, &err, &how), HS_SUCCESS);
        CHECK_INT(how, IW_ENGINE_DBCACHE_STORED);
        hs_free_database(db);
    }
    /* n is part of the key: a prefix of the set is another entry */
    db = NULL;
    CHECK_INT(iw_engine_dbcache_compile_multi2(c, EXPRS, FLAGS, IDS, NEXPR - 1, HS_MODE_BLOCK, &db, &err,
                                        &how), HS_SUCCESS);
    CHECK_INT(how, IW_ENGINE_DBCACHE_STORED);
    hs_free_database(db);
    CHECK_INT(count_files(dir, NULL), 7);
    rmtree(p, dir);
}

TEST(dbcache_compile_error_not_cached)
{
    const char *dir = tmpdir(p);
    const char *bad[] = {"ok", "a(b", "c"};
    unsigned ids[] = {1, 2, 3};
    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL, *ref = NULL;
    iw_engine_dbcache_how_t how;
    iw_engine_dbcache_t *c;
    REQUIRE(dir);
    c = iw_engine_dbcache_create(p, dir);
    CHECK_INT(iw_engine_dbcache_compile_multi2(c, bad, NULL, ids, 3, HS_MODE_BLOCK, &db, &err, &how),
              hs_compile_multi(bad, NULL, ids, 3, HS_MODE_BLOCK, NULL, &db, &ref));
    CHECK_INT(how, IW_ENGINE_DBCACHE_FAILED);
    REQUIRE(err && ref);
    CHECK_INT(err->expression, 1);
    CHECK_STR(err->message, ref->message);
    hs_free_compile_error(err);
    hs_free_compile_error(ref);
    CHECK_INT(count_files(dir, NULL), 0);
    rmtree(p, dir);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

/* Header length field (little endian) made to fit a truncated payload. */
static void put_len(unsigned char *b, size_t len)
{
    int i;
    for (i = 0; i < 8; i++) b[48 + i] = (unsigned char)((unsigned long long)len >> (8 * i));
}

static void spit(const char *path, const unsigned char *b, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) { if (write(fd, b, len) < 0) { /* the test then sees a miss */ } close(fd); }
}

/* Damage the entry in 12 ways; each time: fallback compile, correct db,
 * entry rewritten (the next call hits). */
TEST(dbcache_corrupt_entries_fall_back)
{
    const char *dir = tmpdir(p), *path, *other;
    unsigned char *good, *b;
    size_t len, blen;
    iw_engine_dbcache_t *c;
    iw_engine_dbcache_stats_t st;
    int kind, ok;
    REQUIRE(dir);
    c = iw_engine_dbcache_create(p, dir);
    CHECK_INT(via_cache(c, &ok), IW_ENGINE_DBCACHE_STORED);
    REQUIRE((path = only_entry(p, dir)) && (good = slurp(path, &len)) && len > 200);
    other = apr_pstrcat(p, dir, "/elsewhere", NULL);
    for (kind = 0; kind < 12; kind++) {
        b = malloc(len);
        memcpy(b, good, len);
        blen = len;
        unlink(path);
        switch (kind) {
        case 0: b[len / 2] ^= 0x40; break;                  /* payload bit flip */
        case 1: b[20] ^= 1; break;                          /* key */
        case 2: blen = 10; break;                           /* truncated header */
        case 3: blen = len - 7; break;                      /* truncated payload */
        case 4: b[0] = 'X'; break;                          /* magic */
        case 5: memset(b + 48, 0xff, 8); break;             /* huge length */
        case 6: blen = 0; break;                            /* empty */
        case 7: {               /* hostile: payload damaged, our checksum made to */
            b[len / 2] ^= 0x5a; /* fit; hs_deserialize_database's CRC rejects it */
            iw_engine_dbcache_sha256(b + 88, len - 88, b + 56);
            break; }
        case 8: memset(b + 88, 0, len - 88);                /* zero payload, valid sum */
            iw_engine_dbcache_sha256(b + 88, len - 88, b + 56); break;
        case 9: b[8] = 99; break;                           /* format version */
        case 10: spit(other, b, blen);                      /* symlink to a good image */
            CHECK(symlink(other, path) == 0); break;
        case 11: break;                                     /* owned by someone else */
        }
        if (kind != 10) spit(path, b, blen);
        if (kind == 11) CHECK(chown(path, 65534, 65534) == 0 || geteuid() != 0);
        if (via_cache(c, &ok) != IW_ENGINE_DBCACHE_STORED) {
            fprintf(stderr, "  damage kind %d not detected\n", kind);
            (*iw_failed_)++;
        }
        CHECK(ok);
        CHECK_INT(via_cache(c, &ok), IW_ENGINE_DBCACHE_HIT);     /* rewritten */
        CHECK(ok);
        if (kind == 10) {   /* the link itself was replaced, its target untouched */
            struct stat sb;
            CHECK(lstat(path, &sb) == 0 && S_ISREG(sb.st_mode));
            unlink(other);
        }
        free(b);
    }
    iw_engine_dbcache_stats(c, &st);
    CHECK_INT(st.bad_entries, 12);
    free(good);
    rmtree(p, dir);
}

/* Random damage (bounded, seeded): 1-4 flipped bytes and/or a truncation,
 * half of the time with our checksum recomputed so that the damage reaches
 * hs_deserialize_database.  Every call must still yield a correct db. */
TEST(dbcache_random_damage)
{
    const char *dir = tmpdir(p), *path;
    unsigned char *good, *b;
    size_t len, blen;
    unsigned seed = 12345;
    iw_engine_dbcache_t *c;
    iw_engine_dbcache_stats_t st;
    int it, k, ok, bad = 0;
    REQUIRE(dir);
    c = iw_engine_dbcache_create(p, dir);
    via_cache(c, &ok);
    REQUIRE((path = only_entry(p, dir)) && (good = slurp(path, &len)) && len > 200);
    b = malloc(len);
    for (it = 0; it < 150; it++) {
        memcpy(b, good, len);
        blen = len;
        for (k = 0; k <= (int)(rand_r(&seed) % 4); k++)
            b[rand_r(&seed) % (it % 3 ? len : 128)] ^= (unsigned char)(1 + rand_r(&seed) % 255);
        if (it % 5 == 0) blen = rand_r(&seed) % len;
        if (it % 2 && blen > 88) iw_engine_dbcache_sha256(b + 88, blen - 88, b + 56);
        if (it % 2 && blen > 88) put_len(b, blen - 88);
        unlink(path);
        spit(path, b, blen);
        via_cache(c, &ok);
        bad += !ok;
    }
    CHECK_INT(bad, 0);
    iw_engine_dbcache_stats(c, &st);
    CHECK(st.bad_entries >= 140);   /* nearly every damage detected, not just survived */
    free(b);
    free(good);
    rmtree(p, dir);
}

/* Unusable dirs: compile, never crash, never write. */
TEST(dbcache_unusable_dirs)
{
    const char *dir = tmpdir(p), *file, *shared, *foreign;
    int ok;
    REQUIRE(dir);
    file = apr_pstrcat(p, dir, "/plainfile", NULL);
    spit(file, (const unsigned char *)"x", 1);
    CHECK_INT(via_cache(iw_engine_dbcache_create(p, file), &ok), IW_ENGINE_DBCACHE_UNSTORED);
    CHECK(ok);
    /* cannot be created (a parent is a file) */
    CHECK_INT(via_cache(iw_engine_dbcache_create(p, apr_pstrcat(p, file, "/a/b", NULL)), &ok),
              IW_ENGINE_DBCACHE_UNSTORED);
    CHECK(ok);
    shared = apr_pstrcat(p, dir, "/shared", NULL);       /* writable by others */
    CHECK(mkdir(shared, 0700) == 0 && chmod(shared, 0777) == 0);
    CHECK_INT(via_cache(iw_engine_dbcache_create(p, shared), &ok), IW_ENGINE_DBCACHE_UNSTORED);
    CHECK(ok);
    CHECK_INT(count_files(shared, NULL), 0);
    rmdir(shared);
    /* read-only: as root permissions do not bind, so use a foreign owner */
    foreign = apr_pstrcat(p, dir, "/ro", NULL);
    CHECK(mkdir(foreign, 0500) == 0);
    if (geteuid() == 0) CHECK(chown(foreign, 65534, 65534) == 0);
    CHECK_INT(via_cache(iw_engine_dbcache_create(p, foreign), &ok), IW_ENGINE_DBCACHE_UNSTORED);
    CHECK(ok);
    rmdir(foreign);
    rmtree(p, dir);
}

TEST(dbcache_eviction_bounds_dir)
{
    const char *dir = tmpdir(p), *oldest = NULL;
    iw_engine_dbcache_t *c;
    iw_engine_dbcache_stats_t st;
    int i, ok;
    REQUIRE(dir);
    /* STALE stale entries (a few more than the cap), mtimes 1000+i
     * seconds after the epoch */
#define STALE (IW_ENGINE_DBCACHE_MAX_ENTRIES + 6)
    for (i = 0; i < STALE; i++) {
        char name[80];
        struct timespec ts[2] = {{1000 + i, 0}, {1000 + i, 0}};
        const char *path;
        snprintf(name, sizeof name, "%064x.hsdb", i);
        path = apr_pstrcat(p, dir, "/", name, NULL);
        spit(path, (const unsigned char *)"stale", 5);
        utimensat(AT_FDCWD, path, ts, 0);
        if (i == STALE - 1) oldest = path;   /* the newest stale one must survive */
    }
    spit(apr_pstrcat(p, dir, "/unrelated.txt", NULL), (const unsigned char *)"keep", 4);
    {   /* temp files: a crashed writer's (old) goes, a live writer's stays */
        struct timespec ts[2] = {{1000, 0}, {1000, 0}};
        spit(apr_pstrcat(p, dir, "/.tmp-dead", NULL), (const unsigned char *)"x", 1);
        utimensat(AT_FDCWD, apr_pstrcat(p, dir, "/.tmp-dead", NULL), ts, 0);
        spit(apr_pstrcat(p, dir, "/.tmp-live", NULL), (const unsigned char *)"x", 1);
    }
    c = iw_engine_dbcache_create(p, dir);
    CHECK_INT(via_cache(c, &ok), IW_ENGINE_DBCACHE_STORED);
    CHECK(ok);
    CHECK_INT(count_files(dir, NULL), IW_ENGINE_DBCACHE_MAX_ENTRIES + 1);   /* + unrelated.txt */
    CHECK(access(apr_pstrcat(p, dir, "/", apr_psprintf(p, "%064x.hsdb", 0), NULL), F_OK) != 0);
    CHECK(access(oldest, F_OK) == 0);
    CHECK(access(apr_pstrcat(p, dir, "/unrelated.txt", NULL), F_OK) == 0);
    iw_engine_dbcache_stats(c, &st);
    CHECK_INT(st.evicted, STALE + 1 - IW_ENGINE_DBCACHE_MAX_ENTRIES);
#undef STALE
    CHECK_INT(via_cache(c, &ok), IW_ENGINE_DBCACHE_HIT);   /* the new entry was kept */
    CHECK(access(apr_pstrcat(p, dir, "/.tmp-dead", NULL), F_OK) != 0);
    CHECK(access(apr_pstrcat(p, dir, "/.tmp-live", NULL), F_OK) == 0);
    rmtree(p, dir);
}

/* The byte bound: one (sparse) old entry over the limit is evicted. */
TEST(dbcache_eviction_bytes)
{
    const char *dir = tmpdir(p), *big;
    struct timespec ts[2] = {{1000, 0}, {1000, 0}};
    int fd, ok;
    REQUIRE(dir);
    big = apr_pstrcat(p, dir, "/", apr_psprintf(p, "%064x.hsdb", 7), NULL);
    fd = open(big, O_WRONLY | O_CREAT, 0600);
    REQUIRE(fd >= 0);
    CHECK(ftruncate(fd, (off_t)IW_ENGINE_DBCACHE_MAX_BYTES) == 0);   /* no disk used */
    close(fd);
    utimensat(AT_FDCWD, big, ts, 0);
    CHECK_INT(via_cache(iw_engine_dbcache_create(p, dir), &ok), IW_ENGINE_DBCACHE_STORED);
    CHECK(ok);
    CHECK(access(big, F_OK) != 0);
    CHECK_INT(count_files(dir, NULL), 1);
    rmtree(p, dir);
}

/* Two processes storing the same entry over and over: every load must see
 * a complete entry, and no temp files remain. */
TEST(dbcache_concurrent_writers)
{
    const char *dir = tmpdir(p);
    pid_t pid[2];
    int k, status, ok;
    REQUIRE(dir);
    for (k = 0; k < 2; k++) {
        if ((pid[k] = fork()) == 0) {
            apr_pool_t *cp;
            iw_engine_dbcache_t *c;
            int i, bad = 0;
            apr_pool_create(&cp, NULL);
            c = iw_engine_dbcache_create(cp, dir);
            for (i = 0; i < 15; i++) {
                iw_engine_dbcache_how_t how = via_cache(c, &ok);
                bad += !ok || (how != IW_ENGINE_DBCACHE_HIT && how != IW_ENGINE_DBCACHE_STORED);
                if (i % 3 == k) {   /* force rewrites while the other reads */
                    const char *e = only_entry(cp, dir);
                    if (e) unlink(e);
                }
            }
            _exit(bad ? 1 : 0);
        }
        REQUIRE(pid[k] > 0);
    }
    for (k = 0; k < 2; k++) {
        CHECK(waitpid(pid[k], &status, 0) == pid[k]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    {
        iw_engine_dbcache_t *c = iw_engine_dbcache_create(p, dir);
        iw_engine_dbcache_how_t how = via_cache(c, &ok);
        CHECK(ok);
        CHECK(how == IW_ENGINE_DBCACHE_HIT || how == IW_ENGINE_DBCACHE_STORED);
    }
    CHECK_INT(count_files(dir, ".tmp-"), 0);
    CHECK_INT(count_files(dir, NULL), 1);
    rmtree(p, dir);
}

TEST(dbcache_default_dir)
{
    char *saved[3];
    const char *names[3] = {"IOCWATCH_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};
    int i;
    for (i = 0; i < 3; i++) saved[i] = getenv(names[i]) ? strdup(getenv(names[i])) : NULL;
    setenv("HOME", "/home/u", 1);
    unsetenv("XDG_CACHE_HOME");
    unsetenv("IOCWATCH_CACHE_DIR");
    CHECK_STR(iw_engine_dbcache_default_dir(p), "/home/u/.cache/iocwatch");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    CHECK_STR(iw_engine_dbcache_default_dir(p), "/xdg/iocwatch");
    setenv("IOCWATCH_CACHE_DIR", "/explicit", 1);
    CHECK_STR(iw_engine_dbcache_default_dir(p), "/explicit");
    setenv("IOCWATCH_CACHE_DIR", "", 1);
    CHECK(iw_engine_dbcache_default_dir(p) == NULL);
    for (i = 0; i < 3; i++) {
        if (saved[i]) setenv(names[i], saved[i], 1); else unsetenv(names[i]);
        free(saved[i]);
    }
}
