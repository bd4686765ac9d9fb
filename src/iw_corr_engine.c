/* iw_corr_engine: iw_corr_create on a compiled engine.  Kept apart from
 * iw_corr_build.c so that code using iw_corr_create_rs (unit tests, tools)
 * links without the engine. */
#include "iw_corr_int.h"

iw_corr_t *iw_corr_create(apr_pool_t *p, const iw_engine_t *e, iw_diag_t *diag)
{
    return e ? iw_corr_create_rs(p, iw_engine_ruleset(e), diag) : NULL;
}
