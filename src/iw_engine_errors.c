/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_errors: what a scratch tells about evaluation errors (a
 * regex that hit a limit, a failed scan): the last event's errors, their
 * reasons, the once-a-minute gate for their alerts and the counters of
 * the status page.  iw_engine_eval.c records them. */
#include "iw_engine_int.h"
#include <string.h>

int iw_engine_eval_errors(const iw_scratch_t *s, const iw_eval_error_t **errs)
{
    if (errs) *errs = s ? s->errs : NULL;
    return s ? s->nerrs : 0;
}

const char *iw_eval_error_reason(int code)
{
    switch (code) {
    case PCRE2_ERROR_MATCHLIMIT: return "regex match limit";
    case PCRE2_ERROR_DEPTHLIMIT: return "regex depth limit";
    case PCRE2_ERROR_HEAPLIMIT: return "regex heap limit";
    case PCRE2_ERROR_JIT_STACKLIMIT: return "regex JIT stack limit";
    case PCRE2_ERROR_NOMEMORY: return "regex out of memory";
    case IW_EVAL_SCAN_FAILED: return "Vectorscan scan failed";
    default: return "regex error";
    }
}

/* One slot per (rule, client) hash: held back when it holds the same key
 * and minute (an alert for them went out this minute from this scratch). */
int iw_scratch_eval_error_due(iw_scratch_t *s, const iw_eval_error_t *er, iw_event_t *ev)
{
    iw_str_t ip = ev ? iw_event_get(ev, IW_F_C_IP) : IW_STR_NULL;
    int64_t minute = ev ? (int64_t)(ev->time / (60 * (apr_time_t)APR_USEC_PER_SEC)) : 0;
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)(uint32_t)er->rule->index;
    size_t i, slot;

    for (i = 0; i < ip.len; i++) h = (h ^ (unsigned char)ip.p[i]) * 0x100000001b3ull;
    h ^= h >> 33; h *= 0xff51afd7ed558ccdull; h ^= h >> 33;   /* mix: FNV's top bits barely move */
    h |= 1;                         /* 0 marks an empty slot */
    slot = (size_t)(h >> 56);
    if (s->lim[slot].key == h && s->lim[slot].minute == minute) {
        s->nerr_held++;
        return 0;
    }
    s->lim[slot].key = h;
    s->lim[slot].minute = minute;
    return 1;
}

void iw_scratch_error_counters(const iw_scratch_t *s, iw_eval_counters_t *c)
{
    memset(c, 0, sizeof(*c));
    if (!s) return;
    c->regex_errors = s->nrx_errors;
    c->scan_errors = s->nscan_errors;
    c->eval_errors = s->neval_errors;
    c->held = s->nerr_held;
    c->per_rule = s->rule_errs;
    c->nrules = s->e->nrs;
}
