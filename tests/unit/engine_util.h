/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the engine tests: rules from YAML text, requests from a few
 * fields, "did rule X fire". */
#ifndef ENGINE_UTIL_H
#define ENGINE_UTIL_H

#include <stdlib.h>
#include <apr_strings.h>
#include "iw_test.h"
#include "iw_engine.h"
#include "iw_rules.h"

typedef struct treq {
    const char *method, *target, *ua, *referer, *client, *host, *cookie;
    int status;
    apr_time_t time;
} treq_t;

/* Load and link YAML, compile.  Returns NULL on any error; *dg gets the
 * diagnostics. */
static inline iw_engine_t *eu_compile(apr_pool_t *p, const char *yaml, iw_diag_t **dg,
                                      apr_hash_t *placeholders)
{
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    iw_engine_t *e = NULL;
    apr_hash_index_t *hi;

    if (dg) *dg = d;
    iw_rules_load_string(rs, "test.yml", yaml, strlen(yaml), d);
    iw_ruleset_link(rs, d);
    for (hi = placeholders ? apr_hash_first(p, placeholders) : NULL; hi; hi = apr_hash_next(hi)) {
        const void *k; void *v;
        apr_hash_this(hi, &k, NULL, &v);
        iw_ruleset_set_placeholder(rs, k, v);
    }
    if (d->errors) return NULL;
    e = iw_engine_compile(p, rs, NULL, d);
    return e;
}

/* One detection rule document with the given id and detection body
 * (indented by 4). */
static inline const char *eu_rule(apr_pool_t *p, const char *id, const char *det)
{
    return apr_psprintf(p, "title: test %s\nid: %s\nlevel: high\nlogsource:\n"
                        "    category: webserver\ndetection:\n%s\n", id, id, det);
}

/* Evaluate a request; returns the number of hits, *hits set. */
static inline int eu_eval(apr_pool_t *p, const iw_engine_t *e, iw_scratch_t *s,
                          const treq_t *r, const iw_hit_t **hits)
{
    iw_request_desc_t d;
    iw_event_t *ev = apr_pcalloc(p, sizeof(*ev));
    char *buf = apr_palloc(p, 65536);
    static iw_str_t names[4], values[4];
    int n = 0;

    memset(&d, 0, sizeof(d));
#define S(x) ((iw_str_t){ (x), (x) ? strlen(x) : 0 })
    d.method = S(r->method ? r->method : "GET");
    d.target = S(r->target ? r->target : "/");
    d.version = S("HTTP/1.1");
    if (r->ua) { names[n] = S("User-Agent"); values[n++] = S(r->ua); }
    if (r->referer) { names[n] = S("Referer"); values[n++] = S(r->referer); }
    if (r->host) { names[n] = S("Host"); values[n++] = S(r->host); }
    if (r->cookie) { names[n] = S("Cookie"); values[n++] = S(r->cookie); }
    d.hdr_names = names;
    d.hdr_values = values;
    d.nhdrs = n;
    d.status = r->status ? r->status : 200;
    d.sc_bytes = 100; d.cs_bytes = -1; d.time_taken_ms = 5;
    d.client_ip = S(r->client ? r->client : "192.0.2.10");
    d.time = r->time ? r->time : apr_time_from_sec(1764240000); /* 2025-11-27 10:40:00 UTC */
#undef S
    iw_event_init(ev, buf, 65536);
    iw_event_from_request(ev, &d);
    return iw_engine_eval(e, s, ev, hits);
}

static inline int eu_fired(const iw_hit_t *hits, int n, const char *id)
{
    int i;
    for (i = 0; i < n; i++)
        if (hits[i].rule->id && !strcmp(hits[i].rule->id, id)) return 1;
    return 0;
}

/* Does the single-rule YAML `det` fire on request r? -1 on compile error. */
static inline int eu_one(apr_pool_t *p, const char *det, const treq_t *r)
{
    iw_diag_t *dg;
    iw_engine_t *e = eu_compile(p, eu_rule(p, "r1", det), &dg, NULL);
    iw_scratch_t *s;
    const iw_hit_t *hits;
    int n;

    if (!e) {
        iw_diag_print(dg, stderr, "    diag: ");
        return -1;
    }
    s = iw_scratch_create(e);
    n = eu_eval(p, e, s, r, &hits);
    n = eu_fired(hits, n, "r1");
    iw_scratch_destroy(s);
    return n;
}

/* A GET of target, HTTP/1.1, status 200, with the n headers names/values;
 * every other member zero (the caller sets what its test reads). */
static inline void eu_get(iw_request_desc_t *d, const char *target, const iw_str_t *names,
                          const iw_str_t *values, int n)
{
    memset(d, 0, sizeof(*d));
    d->method = (iw_str_t){ "GET", 3 };
    d->target = (iw_str_t){ target, strlen(target) };
    d->version = (iw_str_t){ "HTTP/1.1", 8 };
    d->hdr_names = names;
    d->hdr_values = values;
    d->nhdrs = n;
    d->status = 200;
}

/* The rules (ids "rN", N < 64) that fire on a GET of target with the
 * headers names/values (up to a NULL name or max), as " rA rB ..." in
 * id order. */
static inline const char *eu_fired_headers(apr_pool_t *p, const iw_engine_t *e, iw_scratch_t *s,
                                           const char *target, const char *const *hn,
                                           const char *const *hv, int max)
{
    iw_request_desc_t d;
    iw_event_t *ev = apr_pcalloc(p, sizeof(*ev));
    char *buf = apr_palloc(p, 65536);
    iw_str_t *names = apr_palloc(p, sizeof(iw_str_t) * (size_t)max);
    iw_str_t *values = apr_palloc(p, sizeof(iw_str_t) * (size_t)max);
    const iw_hit_t *hits;
    char seen[64];
    const char *out = "";
    int n = 0, i, k;

    for (i = 0; i < max && hn[i]; i++) {
        names[n] = (iw_str_t){ hn[i], strlen(hn[i]) };
        values[n++] = (iw_str_t){ hv[i], strlen(hv[i]) };
    }
    eu_get(&d, target, names, values, n);
    d.cs_bytes = -1;
    d.client_ip = (iw_str_t){ "192.0.2.10", 10 };
    d.time = apr_time_from_sec(1764240000);
    iw_event_init(ev, buf, 65536);
    iw_event_from_request(ev, &d);
    n = iw_engine_eval(e, s, ev, &hits);
    memset(seen, 0, sizeof(seen));
    for (i = 0; i < n; i++) {
        k = atoi(hits[i].rule->id + 1);
        if (k >= 0 && k < 64) seen[k] = 1;
    }
    for (k = 0; k < 64; k++) if (seen[k]) out = apr_psprintf(p, "%s r%d", out, k);
    return out;
}

/* Shorthand: detection body + request fields. */
#define FIRES(det, ...) CHECK_INT(eu_one(p, det, &(treq_t){ __VA_ARGS__ }), 1)
#define QUIET(det, ...) CHECK_INT(eu_one(p, det, &(treq_t){ __VA_ARGS__ }), 0)

#endif
