/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_errors: what a scratch tells about evaluation errors (a
 * regex that hit a limit, a failed scan): the last event's errors, their
 * reasons, the once-a-minute gate for their alerts and the counters of
 * the status page, and the rules they leave unevaluated
 * (iw_engine__eval_errors).  iw_engine_eval.c records them
 * (iw_engine__pred_error, iw_engine__scan_failed: cold, kept here). */
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

/* ---- rules left unevaluated by an error ------------------------------------ */

static void err_bits(iw_scratch_t *s, const uint8_t *forced, int n, int on)
{
    int k;
    for (k = 0; k < n; k++) {
        int32_t p = s->errp[k];
        if (!forced[k]) continue;
        if (on) s->bits[p >> 6] |= (uint64_t)1 << (p & 63);
        else s->bits[p >> 6] &= ~((uint64_t)1 << (p & 63));
    }
}

/* The event had predicates that could not be computed (s->errp).  A rule
 * reading one that did not match, but would with those predicates true
 * (and is not excluded by its filters as they were computed), could not be
 * evaluated: padding past a limit must not look like "no match".  Such
 * rules go to s->errs and their counters.  A rule read here may run a lazy
 * regex for the first time, and that may fail too: rounds until no new
 * error appears (a rule is looked at again for each error it reads, and
 * reported once).  Cold: only events with errors. */
void iw_engine__eval_errors(const iw_engine_t *e, iw_scratch_t *s, unsigned type, int nhits,
                            iw_eval_node_fn eval_node)
{
    uint8_t forced[256];
    int k, i, j, n, done = 0;

    while ((n = s->nerrp < 256 ? s->nerrp : 256) > done) {
        s->nerrp = n;
        for (k = done; k < n; k++) {
            forced[k] = !pred_is_set(s, s->errp[k]);
            if (forced[k]) pred_set(s, s->errp[k], s->errp_field[k]);
        }
        for (k = done; k < n; k++) {
            int32_t p = s->errp[k];
            for (i = e->rd_first[p]; i < e->rd_first[p + 1]; i++) {
                int32_t r = e->rd_rules[i];
                const crule_t *cr = &e->rules[r];
                int dropped = 0, f;
                if (s->rerrgen[r] == s->gen || !(cr->applies & type)) continue;
                for (j = 0; j < nhits && s->hits[j].rule != cr->rule; j++) ;
                if (j < nhits || !eval_node(e, s, cr->root)) continue;
                err_bits(s, forced, n, 0);
                for (f = 0; f < cr->filters.n && !dropped; f++)
                    dropped = !eval_node(e, s, e->rules[e->filt[cr->filters.first + f]].root);
                err_bits(s, forced, n, 1);
                if (dropped) continue;
                s->rerrgen[r] = s->gen;
                s->errs[s->nerrs].rule = cr->rule;
                s->errs[s->nerrs].field = s->errp_field[k];
                s->errs[s->nerrs++].code = s->errp_code[k];
                s->neval_errors++;
                if (cr->rule->index >= 0 && cr->rule->index < e->nrs) s->rule_errs[cr->rule->index]++;
            }
        }
        done = n;
    }
}

void __attribute__((cold)) iw_engine__pred_error(iw_scratch_t *s, int32_t p, int field, int code)
{
    if (s->errgen[p] == s->gen) return;
    s->errgen[p] = s->gen;
    s->errp[s->nerrp] = p;
    s->errp_code[s->nerrp] = code;
    s->errp_field[s->nerrp++] = (uint8_t)field;
}

void __attribute__((cold)) iw_engine__scan_failed(const iw_engine_t *e, iw_scratch_t *s, int field,
                                                  iw_engine_memo_res_t *rec, int rc)
{
    int32_t id, i;

    s->nscan_errors++;
    if (rec) rec->overflow = 1;
    for (id = 0; id < e->npatterns; id++) {
        if (e->pat_field[id] != field) continue;
        for (i = e->pat_act_first[id]; i < e->pat_act_first[id + 1]; i++) {
            int32_t a = e->acts[i];
            iw_engine__pred_error(s, a >= 0 ? a : e->rx[-1 - a].pred, field, IW_EVAL_SCAN_FAILED);
        }
    }
    for (i = 0; i < e->nconf; i++)     /* literals of other fields in this one's database */
        for (id = e->pat_act_first[e->conf[i].pat];
             e->conf[i].host == field && id < e->pat_act_first[e->conf[i].pat + 1]; id++)
            if (e->acts[id] >= 0) iw_engine__pred_error(s, e->acts[id], e->conf[i].field, IW_EVAL_SCAN_FAILED);
    (void)rc;
}
