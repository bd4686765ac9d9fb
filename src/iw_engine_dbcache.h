/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_dbcache: a persistent on-disk cache of compiled Vectorscan databases.
 *
 * Compiling the rule pack is dominated by hs_compile_multi (seconds of CPU,
 * paid by every CLI run, httpd start, `httpd -t` and graceful restart).  The
 * cache keys a database by SHA-256 over a format version, hs_version(), the
 * host platform (hs_populate_platform), sizeof(void*)/byte order, mode, n and
 * every expression/flag/id, and stores hs_serialize_database output in
 * `<dir>/<64 hex key>.hsdb` behind a header (magic, version, key, length,
 * SHA-256 of the payload).  Anything unexpected on load (short file, wrong
 * magic/key/length/checksum, foreign owner, symlink, deserialize failure)
 * is treated as a miss: compile, then rewrite the entry.  Writes are atomic
 * (O_EXCL|O_NOFOLLOW temp file 0600 in the same dir + rename); the dir is
 * created 0700.  An unusable dir (missing parent, read-only, not ours) just
 * means compiling every time.  After a store the dir is trimmed to at most
 * IW_ENGINE_DBCACHE_MAX_ENTRIES entries / IW_ENGINE_DBCACHE_MAX_BYTES, oldest mtime first.
 *
 * Default dirs (wired by the callers, not here):
 *   CLI:    $IOCWATCH_CACHE_DIR, else $XDG_CACHE_HOME/iocwatch, else
 *           $HOME/.cache/iocwatch (iw_engine_dbcache_default_dir); an empty
 *           $IOCWATCH_CACHE_DIR disables the cache.
 *   module: directive IocWatchCacheDir, default
 *           DefaultRuntimeDir/iocwatch-cache (compile runs as root in
 *           post_config, so the dir is root's, 0700).
 *
 * Thread-safe: the handle is immutable apart from atomic counters. */
#ifndef IW_ENGINE_DBCACHE_H
#define IW_ENGINE_DBCACHE_H

#include <hs.h>
#include <apr_pools.h>

/* Entries: one rule configuration of SigmaHQ + the pack is ~27 databases,
 * and the same rules under valgrind (another CPU feature set) as many
 * again; at 64, two configurations evicted each other and every callgrind
 * run recompiled the pack (minutes).  The byte bound is the real limit. */
#define IW_ENGINE_DBCACHE_MAX_ENTRIES 512
#define IW_ENGINE_DBCACHE_MAX_BYTES   (256ul << 20)

typedef struct iw_engine_dbcache iw_engine_dbcache_t;

/* NULL or empty dir = disabled (iw_engine_dbcache_compile_multi just compiles).
 * The dir is created lazily on the first store.  Never returns NULL. */
iw_engine_dbcache_t *iw_engine_dbcache_create(apr_pool_t *p, const char *dir);

/* Drop-in for hs_compile_multi(exprs, flags, ids, n, mode, NULL, db, err):
 * same return codes, same *err on failure (free with
 * hs_free_compile_error); on success *err is NULL.  Failed compiles are
 * never cached.  c may be NULL (= disabled). */
int iw_engine_dbcache_compile_multi(const iw_engine_dbcache_t *c, const char *const *exprs,
                             const unsigned *flags, const unsigned *ids,
                             unsigned n, unsigned mode, hs_database_t **db,
                             hs_compile_error_t **err);

/* How the last iw_engine_dbcache_compile_multi2 call was served. */
typedef enum {
    IW_ENGINE_DBCACHE_DISABLED,   /* no cache: compiled */
    IW_ENGINE_DBCACHE_HIT,        /* loaded from the cache */
    IW_ENGINE_DBCACHE_STORED,     /* miss (or bad entry): compiled and stored */
    IW_ENGINE_DBCACHE_UNSTORED,   /* miss: compiled, store failed (dir unusable) */
    IW_ENGINE_DBCACHE_FAILED      /* compile error: nothing cached */
} iw_engine_dbcache_how_t;

/* iw_engine_dbcache_compile_multi, also reporting how it was served (how may be
 * NULL). */
int iw_engine_dbcache_compile_multi2(const iw_engine_dbcache_t *c, const char *const *exprs,
                              const unsigned *flags, const unsigned *ids,
                              unsigned n, unsigned mode, hs_database_t **db,
                              hs_compile_error_t **err, iw_engine_dbcache_how_t *how);

typedef struct iw_engine_dbcache_stats {
    unsigned long hits, misses, stores, bad_entries, evicted;
} iw_engine_dbcache_stats_t;
void iw_engine_dbcache_stats(const iw_engine_dbcache_t *c, iw_engine_dbcache_stats_t *st);
/* The cache dir, NULL when disabled. */
const char *iw_engine_dbcache_dir(const iw_engine_dbcache_t *c);

/* CLI default dir from the environment (see above); NULL = disabled. */
const char *iw_engine_dbcache_default_dir(apr_pool_t *p);

/* SHA-256 (exposed for the unit tests). */
void iw_engine_dbcache_sha256(const void *data, size_t len, unsigned char out[32]);

#endif
