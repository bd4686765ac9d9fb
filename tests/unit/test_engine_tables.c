/* SPDX-License-Identifier: Apache-2.0 */
/* The engine's compile-time tables for the request path, on the shipped
 * rules (SigmaHQ web rules and conf/rules): each must answer as the walk
 * over the entries it stands for. */
#include "iw_test.h"
#include "iw_engine.h"
#include "iw_engine_int.h"
#include "iw_rules.h"

static iw_engine_t *shipped(apr_pool_t *p)
{
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);

    iw_rules_load(rs, iw_test_path(p, "../shared/sigma/sigmahq-rules/rules"), d);
    iw_rules_load(rs, iw_test_path(p, "../shared/sigma/sigmahq-rules/rules-emerging-threats"), d);
    iw_rules_load(rs, iw_test_path(p, "conf/rules"), d);
    iw_ruleset_link(rs, d);
    return d->errors ? NULL : iw_engine_compile(p, rs, NULL, d);
}

static int bit(const uint64_t *m, int32_t i) { return (int)((m[i >> 6] >> (i & 63)) & 1); }

/* e->lzlit: the field of exactly the lazy predicates whose entries are
 * all literals (no direct check, no regex) on one single-valued field. */
TEST(engine_table_lzlit)
{
    iw_engine_t *e = shipped(p);
    int32_t pr, i;
    int n = 0;

    REQUIRE(e != NULL);
    for (pr = 0; pr < e->npreds; pr++) {
        int32_t a = e->lz_first[pr], z = e->lz_first[pr + 1];
        int want = bit(e->lazy, pr) && a < z && !iw_field_is_multi(e->lz[a].field);
        for (i = a; want && i < z; i++)
            if (e->lz[i].dc >= 0 || e->lz[i].rx >= 0 || e->lz[i].field != e->lz[a].field) want = 0;
        CHECK_INT(e->lzlit[pr], want ? e->lz[a].field : -1);
        n += want;
    }
    CHECK(n > 0);                  /* the method and version filters */
}

/* A run of equality checks (sc-status: 404, ...): the checks it spans are
 * those of its field, and iw_engine__eq_run_first finds what the walk
 * over them finds, for every value in it, its neighbours and others. */
TEST(engine_table_eq_runs)
{
    iw_engine_t *e = shipped(p);
    int32_t i, j, k, runs = 0;

    REQUIRE(e != NULL);
    for (i = 0; i < e->ndc; i++) {
        const dcheck_t *d = &e->dc[i];
        int64_t xs[64];
        int nx = 0;
        if (!d->run) continue;
        runs++;
        CHECK(d->run > d->end);
        for (j = i; j < d->run; j++) {
            CHECK(e->dc[j].kind == D_NUM && e->dc[j].op == OP_EQ && e->dc[j].field == d->field);
            if (j > i) CHECK(!e->dc[j].run);
            if (nx + 3 <= 60) { xs[nx++] = e->dc[j].num; xs[nx++] = e->dc[j].num - 1; xs[nx++] = e->dc[j].num + 1; }
        }
        CHECK(d->run == e->ndc || e->dc[d->run].field != d->field || e->dc[d->run].kind != D_NUM
              || e->dc[d->run].op != OP_EQ);
        xs[nx++] = 0; xs[nx++] = 200; xs[nx++] = -1; xs[nx++] = INT64_MAX;
        for (k = 0; k < nx; k++) {
            int32_t want = d->run;
            for (j = i; j < d->run; j++)
                if (e->dc[j].num == xs[k]) { want = j; break; }
            CHECK_INT(iw_engine__eq_run_first(e->dc, i, xs[k]), want);
        }
    }
    CHECK(runs > 0);               /* the rules' sc-status equalities */
}

/* A node as eval_kid reads it when it is one term: a selection of one
 * group of one item of one term, a not of such a node negated; else -1. */
static int32_t walk_term(const iw_engine_t *e, int32_t ni)
{
    const cnode_t *n = &e->nodes[ni];
    int32_t t;
    if (n->type == N_NOT) {
        t = walk_term(e, e->kids[n->a]);
        return t < 0 ? -1 : t ^ 1;
    }
    if (n->type != N_SEL || e->sels[n->a].n != 1 || e->groups[e->sels[n->a].first].n != 1) return -1;
    return e->items[e->groups[e->sels[n->a].first].first].t1;
}

/* cnode_t.f: set on exactly the N_AND and N_OR nodes whose kids are all
 * terms, e->fterms holding those terms in the kids' order. */
TEST(engine_table_fterms)
{
    iw_engine_t *e = shipped(p);
    int32_t i, k, nflat = 0;

    REQUIRE(e != NULL);
    for (i = 0; i < e->ncrules; i++) {
        /* every node of every rule, depth first (a stack of node ids) */
        int32_t st[256];
        int sp = 0;
        st[sp++] = e->rules[i].root;
        while (sp) {
            const cnode_t *n = &e->nodes[st[--sp]];
            int all = 1;
            if (n->type == N_SEL) continue;
            for (k = 0; k < n->n; k++) {
                if (walk_term(e, e->kids[n->a + k]) < 0) all = 0;
                if (sp < 256) st[sp++] = e->kids[n->a + k];
            }
            if (n->type == N_NOT) { CHECK_INT(n->f, 0); continue; }
            CHECK_INT(n->f != 0, all);
            if (!n->f) continue;
            nflat++;
            for (k = 0; k < n->n; k++) CHECK_INT(e->fterms[n->f - 1 + k], walk_term(e, e->kids[n->a + k]));
        }
    }
    CHECK(nflat > 0);              /* "selection and not filter" */
}
