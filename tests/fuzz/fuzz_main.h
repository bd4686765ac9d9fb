/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_main: what the coverage-guided fuzz targets share.
 *
 * A target defines FUZZ_NAME, fuzz_init() (once: rules, buffers),
 * fuzz_fini() (at exit: frees them, so LeakSanitizer's exit check is
 * clean), fuzz_seeds() (calls fuzz_seed_add / fuzz_seed_file / fuzz_seed_dir) and
 * LLVMFuzzerTestOneInput(); a failed check calls FUZZ_FAIL.
 *
 * Built with clang -fsanitize=fuzzer -DIW_LIBFUZZER (`make fuzz`), libFuzzer
 * drives the target: a failed check aborts, so libFuzzer keeps the input as
 * a crash artifact.  IW_FUZZ_WRITE_SEEDS=DIR writes the seeds to DIR (one
 * file each) and exits: `make fuzz` seeds the corpus that way.
 *
 * Built without it (gcc, `make test-asan`), main() below is a standalone
 * driver: the seeds once (for half the time at most), then mutations of
 * seeds (deterministic PRNG, IW_FUZZ_SEED) for IW_FUZZ_SECONDS (default 3)
 * in all or IW_FUZZ_ITERS mutated cases.
 * It prints "NAME: 1 passed, 0 failed (...)" for make test's tally.
 *
 * Seeds are read from the source tree ($IW_SRCDIR, default ".") and the
 * shared corpus next to it ($IW_SRCDIR/../shared), when present. */
#ifndef IW_FUZZ_MAIN_H
#define IW_FUZZ_MAIN_H

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <sys/stat.h>
#include <apr_general.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static long fuzz_failed;

#ifdef IW_LIBFUZZER
#define FUZZ_FAIL(...) do { fprintf(stderr, FUZZ_NAME ": "); fprintf(stderr, __VA_ARGS__); \
        fputc('\n', stderr); abort(); } while (0)
#else
#define FUZZ_FAIL(...) do { if (++fuzz_failed <= 20) { fprintf(stderr, FUZZ_NAME ": "); \
        fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#endif

/* ---- seeds ------------------------------------------------------------------ */

#define FUZZ_MAX_SEEDS 4000
typedef struct { unsigned char *b; size_t n; } fuzz_buf_t;
static fuzz_buf_t fuzz_seed[FUZZ_MAX_SEEDS];
static int fuzz_nseeds;

static const char *fuzz_srcdir(void)
{
    const char *d = getenv("IW_SRCDIR");
    return d && *d ? d : ".";
}

static void fuzz_seed_add(const void *b, size_t n)
{
    unsigned char *c;
    if (fuzz_nseeds >= FUZZ_MAX_SEEDS || !(c = malloc(n ? n : 1))) return;
    if (n) memcpy(c, b, n);
    fuzz_seed[fuzz_nseeds].b = c;
    fuzz_seed[fuzz_nseeds++].n = n;
}

/* A whole file (up to max bytes) as one seed; returns its bytes (malloc'ed,
 * NUL-terminated, the caller frees) when keep is set. */
static __attribute__((unused)) char *fuzz_read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b;
    size_t n;
    if (!f) return NULL;
    if (!(b = malloc(max + 1))) { fclose(f); return NULL; }
    n = fread(b, 1, max + 1, f);
    fclose(f);
    if (n > max) { free(b); return NULL; }       /* too big for a seed */
    b[n] = '\0';
    *len = n;
    return b;
}

static __attribute__((unused)) void fuzz_seed_file(const char *path, size_t max)
{
    size_t n;
    char *b = fuzz_read_file(path, max, &n);
    if (b) fuzz_seed_add(b, n);
    free(b);
}

static int fuzz_has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n > e && !strcmp(name + n - e, ext);
}

/* Every file ending in ext under dir (recursive), in directory order. */
static __attribute__((unused)) void fuzz_seed_dir(const char *dir, const char *ext, size_t max)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[2048];
    struct stat st;

    if (!d) return;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (stat(path, &st)) continue;
        if (S_ISDIR(st.st_mode)) fuzz_seed_dir(path, ext, max);
        else if (fuzz_has_ext(de->d_name, ext)) fuzz_seed_file(path, max);
    }
    closedir(d);
}

static void fuzz_init(void);
static void fuzz_seeds(void);
static void fuzz_fini(void);     /* at exit: free what fuzz_init made (LeakSanitizer) */

/* IW_FUZZ_WRITE_SEEDS=DIR: the seeds as files, then exit. */
static void fuzz_write_seeds(const char *dir)
{
    char path[2048];
    int i;
    mkdir(dir, 0755);
    for (i = 0; i < fuzz_nseeds; i++) {
        FILE *f;
        snprintf(path, sizeof(path), "%s/seed-%04d", dir, i);
        if (!(f = fopen(path, "wb"))) { perror(path); exit(1); }
        fwrite(fuzz_seed[i].b, 1, fuzz_seed[i].n, f);
        fclose(f);
    }
    fprintf(stderr, FUZZ_NAME ": %d seeds written to %s\n", fuzz_nseeds, dir);
    for (i = 0; i < fuzz_nseeds; i++) free(fuzz_seed[i].b);
    fuzz_nseeds = 0;
    exit(0);
}

static int fuzz_ready;

static void fuzz_fini_once(void)
{
    static int done;
    if (fuzz_ready && !done++) fuzz_fini();
}

static void fuzz_setup(void)
{
    const char *w;
    if (fuzz_ready++) return;
    apr_initialize();
    fuzz_init();
    atexit(fuzz_fini_once);
    if ((w = getenv("IW_FUZZ_WRITE_SEEDS"))) {
        fuzz_seeds();
        fuzz_write_seeds(w);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    fuzz_setup();
    return 0;
}

#ifndef IW_LIBFUZZER

/* ---- standalone driver: seeds, then mutations ------------------------------- */

static uint64_t fuzz_rng = 0x9E3779B97F4A7C15ull;

static uint64_t fuzz_rnd(void)
{
    uint64_t x = fuzz_rng;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return fuzz_rng = x;
}

static size_t fuzz_rn(size_t n) { return n ? (size_t)(fuzz_rnd() % n) : 0; }

#ifndef FUZZ_TOKENS
#define FUZZ_TOKENS "\n", ":", " ", "%", "\\", "\"", "'", "|", "*", "?", "\0"
#endif
static const char *const fuzz_tokens[] = { FUZZ_TOKENS };

/* One mutation of a seed into b (cap bytes): flips, token inserts, cuts,
 * repeats, a splice with another seed, a long run. */
static size_t fuzz_mutate(unsigned char *b, size_t cap)
{
    const fuzz_buf_t *s = &fuzz_seed[fuzz_rn((size_t)fuzz_nseeds)];
    size_t n = s->n < cap ? s->n : cap, k, m = 1 + fuzz_rn(5);

    memcpy(b, s->b, n);
    for (k = 0; k < m; k++) {
        size_t at = fuzz_rn(n + 1), len, t;
        const char *tok;
        switch (fuzz_rn(7)) {
        case 0: if (n) b[fuzz_rn(n)] = (unsigned char)fuzz_rnd(); break;
        case 1:
            t = fuzz_rn(sizeof(fuzz_tokens) / sizeof(fuzz_tokens[0]));
            tok = fuzz_tokens[t];
            len = *tok ? strlen(tok) : 1;
            if (n + len > cap) break;
            memmove(b + at + len, b + at, n - at);
            memcpy(b + at, tok, len);
            n += len;
            break;
        case 2: if (at < n) { len = fuzz_rn(n - at + 1);                /* cut */
                    memmove(b + at, b + at + len, n - at - len); n -= len; } break;
        case 3: {                                                       /* repeat */
            size_t from = fuzz_rn(n + 1);
            len = fuzz_rn(n - from + 1);
            if (len > 256) len = 256;
            if (n + len > cap) break;
            memmove(b + at + len, b + at, n - at);
            memmove(b + at, b + (from < at ? from : from + len), len);
            n += len;
            break; }
        case 4: {                                                       /* splice */
            const fuzz_buf_t *o = &fuzz_seed[fuzz_rn((size_t)fuzz_nseeds)];
            size_t from = fuzz_rn(o->n + 1);
            len = fuzz_rn(o->n - from + 1);
            if (at + len > cap) len = cap - at;
            memcpy(b + at, o->b + from, len);
            if (at + len > n) n = at + len;
            break; }
        case 5: {                                                       /* long run */
            len = 1000 + fuzz_rn(4000);
            if (n + len > cap) break;
            memmove(b + at + len, b + at, n - at);
            memset(b + at, "aA%/ x"[fuzz_rn(6)], len);
            n += len;
            break; }
        default: n = at; break;                                         /* truncate */
        }
    }
    return n;
}

static double fuzz_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
    const char *e;
    double limit = 3.0, t0;
    long iters = 10000000, i, cases = 0;
    size_t cap = 65536;
    unsigned char *b;
    int k;

    if ((e = getenv("IW_FUZZ_SEED"))) fuzz_rng = strtoull(e, NULL, 0) | 1;
    if ((e = getenv("IW_FUZZ_SECONDS"))) limit = atof(e);
    if ((e = getenv("IW_FUZZ_ITERS"))) iters = atol(e);
    fuzz_setup();
    fuzz_seeds();
    t0 = fuzz_now();
    /* the seeds (in half the time at most), then mutations */
    for (k = 0; k < fuzz_nseeds && fuzz_now() - t0 < limit / 2; k++, cases++) {  /* exact size: ASan bounds */
        unsigned char *c = malloc(fuzz_seed[k].n ? fuzz_seed[k].n : 1);
        memcpy(c, fuzz_seed[k].b, fuzz_seed[k].n);
        LLVMFuzzerTestOneInput(c, fuzz_seed[k].n);
        free(c);
    }
    b = malloc(cap);
    for (i = 0; fuzz_nseeds && i < iters && fuzz_now() - t0 < limit; i++, cases++) {
        size_t n = fuzz_mutate(b, cap);
        unsigned char *c = malloc(n ? n : 1);
        memcpy(c, b, n);
        LLVMFuzzerTestOneInput(c, n);
        free(c);
    }
    free(b);
    printf(FUZZ_NAME ": %d passed, %d failed (%ld cases, %d seeds, %ld bad)\n",
           fuzz_failed ? 0 : 1, fuzz_failed ? 1 : 0, cases, fuzz_nseeds, fuzz_failed);
    for (k = 0; k < fuzz_nseeds; k++) free(fuzz_seed[k].b);
    fuzz_nseeds = 0;
    fuzz_fini_once();
    apr_terminate();
    return fuzz_failed ? 1 : 0;
}

#endif /* !IW_LIBFUZZER */
#endif
