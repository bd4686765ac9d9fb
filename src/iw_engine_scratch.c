/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_scratch: a thread's scratch for iw_engine_eval.c (made once
 * per thread, not on the hot path): its tables, PCRE2 limits and JIT
 * stack, the Vectorscan scratch, the scan-result and event caches, and
 * the counters read from it. */
#include "iw_engine_int.h"

/* PCRE2 limits, per run of one regex on one value (docs/MODULE.md,
 * "Regex limits").  Past them the regex is not evaluated: the rules that
 * read it report an evaluation error (iw_engine_eval_errors) instead of a
 * silent "no match".
 * - JIT stack: per thread (scratch), 1 MiB; a regex that keeps a
 *   backtracking frame per byte ('^q=(a|b)*x') needs ~20 bytes of it per
 *   subject byte, so ~40,000 bytes of subject fit (PCRE2's default, 32 KiB
 *   on the machine stack, ran out at 2,000).  Reserved address space;
 *   pages are used only as deep as a match goes.
 * - past the JIT stack, the same regex runs again in the interpreter,
 *   whose backtracking frames come from the heap: at most RX_HEAP_LIMIT
 *   KiB (8 MiB, ~100,000 bytes of such a subject), freed after the run;
 *   RX_DEPTH_LIMIT bounds its nesting the same way.
 * - match limit: 1,000,000 backtracking steps (PCRE2's default is 10
 *   million): a few milliseconds of CPU per run at worst (an exponential
 *   regex such as '(a|aa)+\1$' reaches it at ~35 characters). */
#define RX_JIT_STACK_START (32 * 1024)
#define RX_JIT_STACK_MAX (1024 * 1024)
#define RX_MATCH_LIMIT 1000000u
#define RX_DEPTH_LIMIT 1000000u
#define RX_HEAP_LIMIT (8 * 1024u)      /* KiB */

/* ---- scratch ---------------------------------------------------------------- */

iw_scratch_t *iw_scratch_create(const iw_engine_t *e)
{
    iw_scratch_t *s;
    size_t np, nr;
    int i;

    if (!e) return NULL;
    np = (size_t)e->npreds;
    nr = (size_t)e->ncrules;
    if (!(s = calloc(1, sizeof(*s)))) return NULL;
    s->e = e;
    s->bits = calloc(np / 64 + 1, sizeof(uint64_t));
    s->pfield = calloc(np + 1, 1);
    s->pval = calloc(np + 1, sizeof(iw_str_t));
    s->pvgen = calloc(np + 1, sizeof(uint32_t));
    s->touched = calloc(np + 1, sizeof(int32_t));
    s->rgen = calloc(nr + 1, sizeof(uint32_t));
    s->pgen = calloc(np + 1, sizeof(uint32_t));
    s->cand = calloc(nr + 1, sizeof(int32_t));
    s->hits = calloc(nr + 1, sizeof(iw_hit_t));
    s->md = pcre2_match_data_create(1, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    s->jstack = pcre2_jit_stack_create(RX_JIT_STACK_START, RX_JIT_STACK_MAX, NULL);
    s->errp = calloc(np + 1, sizeof(int32_t));
    s->errp_code = calloc(np + 1, sizeof(int));
    s->errp_field = calloc(np + 1, 1);
    s->errgen = calloc(np + 1, sizeof(uint32_t));
    s->rerrgen = calloc(nr + 1, sizeof(uint32_t));
    s->errs = calloc(nr + 1, sizeof(iw_eval_error_t));
    s->rule_errs = calloc((size_t)e->nrs + 1, sizeof(uint64_t));
    s->hlgen = calloc((size_t)e->nhl + 1, sizeof(uint32_t));
    s->rxgen = calloc((size_t)e->nrx + 1, sizeof(uint32_t));
    if (!s->hlgen || !s->rxgen || !s->mctx || !s->jstack || !s->errp || !s->errp_code || !s->errp_field || !s->errgen
        || !s->rerrgen || !s->errs || !s->rule_errs) {
        iw_scratch_destroy(s);
        return NULL;
    }
    for (i = 0; i < e->nscan[0]; i++)
        if ((URI_FIELDS >> e->scan_fields[0][i]) & 1) s->uri_scan |= (uint64_t)1 << e->scan_fields[0][i];
    if (__builtin_popcountll(s->uri_scan) < 2) s->uri_scan = 0;   /* one lookup either way */
    pcre2_jit_stack_assign(s->mctx, NULL, s->jstack);
    pcre2_set_match_limit(s->mctx, RX_MATCH_LIMIT);
    pcre2_set_depth_limit(s->mctx, RX_DEPTH_LIMIT);
    pcre2_set_heap_limit(s->mctx, RX_HEAP_LIMIT);
    if (e->sc_entries && (!(s->sc = iw_engine_memo_create(e->sc_entries, SC_LONG_ENTRIES(e->sc_entries)))
                          || !(s->evc = iw_engine_memo_create(EVC_ENTRIES(e->sc_entries), 0))
                          || !(s->kbuf = malloc(IW_ENGINE_MEMO_MAX_KEY))
                          || !(s->dbuf = malloc(HDR_DEC_BUF)))) {
        iw_scratch_destroy(s);
        return NULL;
    }
    if (!s->bits || !s->pfield || !s->pval || !s->pvgen || !s->touched || !s->rgen || !s->pgen || !s->cand || !s->hits || !s->md
        || (e->proto && hs_clone_scratch(e->proto, &s->hs) != HS_SUCCESS)) {
        iw_scratch_destroy(s);
        return NULL;
    }
    return s;
}

void iw_scratch_destroy(iw_scratch_t *s)
{
    if (!s) return;
    if (s->hs) hs_free_scratch(s->hs);
    if (s->md) pcre2_match_data_free(s->md);
    if (s->mctx) pcre2_match_context_free(s->mctx);
    if (s->jstack) pcre2_jit_stack_free(s->jstack);
    free(s->errp); free(s->errp_code); free(s->errp_field); free(s->errgen); free(s->rerrgen);
    free(s->errs); free(s->rule_errs); free(s->hlgen); free(s->rxgen);
    iw_engine_memo_destroy(s->sc);
    iw_engine_memo_destroy(s->evc);
    free(s->kbuf);
    free(s->dbuf);
    free(s->bits); free(s->pfield); free(s->pval); free(s->pvgen); free(s->touched); free(s->rgen); free(s->pgen);
    free(s->cand); free(s->hits);
    free(s);
}

void iw_scratch_counters(const iw_scratch_t *s, uint64_t *events, uint64_t *candidates)
{
    if (events) *events = s ? s->nevents : 0;
    if (candidates) *candidates = s ? s->ncandidates : 0;
}

void iw_scratch_cache_counters(const iw_scratch_t *s, uint64_t *hits, uint64_t *misses)
{
    iw_engine_memo_counters(s ? s->sc : NULL, hits, misses);
}

void iw_scratch_event_cache_counters(const iw_scratch_t *s, uint64_t *hits, uint64_t *misses)
{
    iw_engine_memo_counters(s ? s->evc : NULL, hits, misses);
}
