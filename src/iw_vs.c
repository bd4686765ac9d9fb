/* SPDX-License-Identifier: Apache-2.0 */
/* iw_vs: the Vectorscan scan implementation the engine calls, chosen by a
 * self-test of the shapes Vectorscan 5.4.9 is known to lose (iw_vs.h says
 * why).  The probes are the smallest cases found by the differential test
 * (tests/cli/test_vectorscan.py): each is compiled into a database of its
 * own and scanned with the match at every offset 0..199 of a buffer of
 * filler, in the middle or at the end of the buffer.  An implementation
 * passes when it reports every one. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "iw_vs.h"

iw_vs_scan_fn iw_vs__scan = hs_scan;

typedef struct vs_probe {
    const char *expr;
    unsigned flags;
    const char *hit;        /* a match of expr */
    int at_end;             /* the match ends the buffer */
} vs_probe_t;

static const vs_probe_t vs_probes[] = {
    { "q", HS_FLAG_SINGLEMATCH, "q", 0 },          /* AVX-512: one byte past offset 64 */
    { "<[\\s\\S]", 0, "<X", 0 },                   /* AVX-512: a byte, then a class */
    { "x[ab]", HS_FLAG_CASELESS, "XB", 0 },
    { "<\\d+", 0, "<1", 1 },                       /* AVX2: a match that ends the buffer */
};
#define VS_NPROBES (sizeof vs_probes / sizeof vs_probes[0])
#define VS_MAXOFF 200

typedef struct vs_impl {
    const char *symbol;     /* NULL: hs_scan, Vectorscan's dispatch */
    const char *name;
    unsigned long long features;   /* the instruction set its databases are compiled for */
} vs_impl_t;

static const vs_impl_t vs_impls[] = {
    { NULL, "hs_scan", 0 },
    { "avx2_hs_scan", "avx2", HS_CPU_FEATURES_AVX2 },
    { "corei7_hs_scan", "corei7", 0 },
    { "core2_hs_scan", "core2", 0 },
};
#define VS_NIMPLS (sizeof vs_impls / sizeof vs_impls[0])

static pthread_once_t vs_once = PTHREAD_ONCE_INIT;
static hs_platform_info_t vs_pl;
static int vs_have_pl;
static const char *vs_name = "hs_scan";
static char vs_note_buf[512];
static const char *vs_note_text;

/* Whether this CPU runs implementation i (__builtin_cpu_supports takes a
 * constant). */
static int vs_cpu_has(size_t i)
{
    __builtin_cpu_init();
    switch (i) {
    case 1: return __builtin_cpu_supports("avx2");
    case 2: return __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt");
    case 3: return __builtin_cpu_supports("ssse3");
    default: return 1;
    }
}

iw_vs_scan_fn iw_vs_lookup(const char *symbol)
{
    Dl_info di;
    void *h, *sym;
    iw_vs_scan_fn fn = NULL;

    /* the library that holds hs_version: no library name to guess */
    if (!dladdr((void *)hs_version, &di) || !di.dli_fname) return NULL;
    if (!(h = dlopen(di.dli_fname, RTLD_NOW | RTLD_NOLOAD))) return NULL;
    if ((sym = dlsym(h, symbol))) memcpy(&fn, &sym, sizeof fn);
    dlclose(h);                        /* NOLOAD took a reference: drop it */
    return fn;
}

static int vs_on_hit(unsigned id, unsigned long long from, unsigned long long to,
                     unsigned flags, void *ctx)
{
    (void)id; (void)from; (void)to; (void)flags;
    *(int *)ctx = 1;
    return 0;
}

/* 1 when scan reports probe pr at every offset. */
static int vs_probe_passes(iw_vs_scan_fn scan, const hs_database_t *db, hs_scratch_t *scr,
                           const vs_probe_t *pr)
{
    char buf[VS_MAXOFF + 32];
    size_t hl = strlen(pr->hit), tail = pr->at_end ? 0 : 8;
    unsigned n;

    for (n = 0; n < VS_MAXOFF; n++) {
        int seen = 0;
        memset(buf, '.', sizeof buf);
        memcpy(buf + n, pr->hit, hl);
        if (scan(db, buf, (unsigned)(n + hl + tail), 0, scr, vs_on_hit, &seen) != HS_SUCCESS
            || !seen)
            return 0;
    }
    return 1;
}

int iw_vs_selftest(iw_vs_scan_fn scan, const hs_platform_info_t *pl)
{
    int missed = 0;
    size_t i;

    if (!scan) scan = hs_scan;
    for (i = 0; i < VS_NPROBES; i++) {
        hs_database_t *db = NULL;
        hs_scratch_t *scr = NULL;
        hs_compile_error_t *err = NULL;
        if (hs_compile(vs_probes[i].expr, vs_probes[i].flags, HS_MODE_BLOCK, pl, &db, &err)
            != HS_SUCCESS) {
            if (err) hs_free_compile_error(err);
            return -1;
        }
        if (hs_alloc_scratch(db, &scr) != HS_SUCCESS) {
            hs_free_database(db);
            return -1;
        }
        missed += !vs_probe_passes(scan, db, scr, &vs_probes[i]);
        hs_free_scratch(scr);
        hs_free_database(db);
    }
    return missed;
}

/* Implementation i, when this CPU runs it and the library exports it: its
 * entry (*fn) and the platform its databases are compiled for (*pl;
 * hs_scan: NULL, the library's own choice).  1, or 0. */
static int vs_impl_get(size_t i, iw_vs_scan_fn *fn, hs_platform_info_t *pl, const hs_platform_info_t **plp)
{
    const vs_impl_t *im = &vs_impls[i];

    *fn = hs_scan;
    *plp = NULL;
    if (!im->symbol) return 1;
    if (!vs_cpu_has(i) || !(*fn = iw_vs_lookup(im->symbol)) || hs_populate_platform(pl) != HS_SUCCESS)
        return 0;
    pl->cpu_features = im->features;
    *plp = pl;
    return 1;
}

/* The engine scans with implementation i from now on. */
static void vs_use(size_t i, iw_vs_scan_fn fn, const hs_platform_info_t *pl)
{
    iw_vs__scan = fn;
    vs_name = vs_impls[i].name;
    if (pl) {
        vs_pl = *pl;
        vs_have_pl = 1;
    }
}

/* IOCWATCH_VECTORSCAN_IMPL=NAME: that implementation, untested (for the
 * differential test, which must see the defects, and for a diagnosis). */
static int vs_forced(void)
{
    const char *want = getenv("IOCWATCH_VECTORSCAN_IMPL");
    iw_vs_scan_fn fn;
    hs_platform_info_t pl;
    const hs_platform_info_t *plp;
    size_t i;

    if (!want || !*want) return 0;
    for (i = 0; i < VS_NIMPLS; i++) {
        if (strcmp(want, vs_impls[i].name) || !vs_impl_get(i, &fn, &pl, &plp)) continue;
        vs_use(i, fn, plp);
        snprintf(vs_note_buf, sizeof vs_note_buf, "Vectorscan scans with its %s implementation, "
                 "as IOCWATCH_VECTORSCAN_IMPL says (no self-test)", vs_name);
        vs_note_text = vs_note_buf;
        return 1;
    }
    return 0;
}

static void vs_choose(void)
{
    char tried[256] = "";
    size_t i, tl = 0;
    int vl = (int)strcspn(hs_version(), " ");

    if (vs_forced()) return;
    for (i = 0; i < VS_NIMPLS; i++) {
        iw_vs_scan_fn fn;
        hs_platform_info_t pl;
        const hs_platform_info_t *plp;
        int missed;

        if (!vs_impl_get(i, &fn, &pl, &plp)) continue;
        if ((missed = iw_vs_selftest(fn, plp)) == 0) {
            vs_use(i, fn, plp);
            if (plp) {
                snprintf(vs_note_buf, sizeof vs_note_buf,
                         "Vectorscan %.*s lost matches in its self-test (%s); scanning with its %s "
                         "implementation, which found them all", vl, hs_version(), tried, vs_name);
                vs_note_text = vs_note_buf;
            }
            return;
        }
        if (tl < sizeof tried)
            tl += (size_t)snprintf(tried + tl, sizeof tried - tl, "%s%s: %d of %d probes missed",
                                   tl ? ", " : "", vs_impls[i].name, missed, (int)VS_NPROBES);
    }
    snprintf(vs_note_buf, sizeof vs_note_buf,
             "Vectorscan %.*s lost matches in its self-test on every implementation this CPU runs "
             "(%s): some detections may be missed; scanning with hs_scan", vl, hs_version(), tried);
    vs_note_text = vs_note_buf;
}

void iw_vs_init(void) { pthread_once(&vs_once, vs_choose); }

const hs_platform_info_t *iw_vs_platform(void) { return vs_have_pl ? &vs_pl : NULL; }

const char *iw_vs_name(void) { return vs_name; }

const char *iw_vs_note(void) { return vs_note_text; }
