/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_scan_fields / iw_engine_scan_field (the benchmark's view of
 * one field's matchers): the fields listed are those with matchers, and a
 * field's scan sets predicates exactly when its matchers match it. */
#include "engine_util.h"

static const char *scanfield_rules =
    "    sel_uri:\n        cs-uri-decoded|contains: 'etc/passwd'\n"
    "    sel_ua:\n        cs-user-agent|re: 'sqlmap/\\d'\n"
    "    sel_param:\n        cs-uri-query-param-value|contains: 'zzz'\n"
    "    condition: 1 of sel_*";

static int has_field(const int *f, int n, int field)
{
    int i;
    for (i = 0; i < n; i++) if (f[i] == field) return 1;
    return 0;
}

/* Set predicates of one field's scan for a request. */
static int scan_one(apr_pool_t *p, const iw_engine_t *e, iw_scratch_t *s, const char *target,
                    const char *ua, int field)
{
    iw_request_desc_t d;
    iw_event_t *ev = apr_pcalloc(p, sizeof(*ev));
    char *buf = apr_palloc(p, 65536);
    iw_str_t name = { "User-Agent", 10 }, value = { ua, ua ? strlen(ua) : 0 };

    eu_get(&d, target, &name, &value, ua ? 1 : 0);
    d.sc_bytes = d.cs_bytes = d.time_taken_ms = -1;
    iw_event_init(ev, buf, 65536);
    iw_event_from_request(ev, &d);
    return iw_engine_scan_field(e, s, ev, field);
}

TEST(engine_scan_field)
{
    iw_diag_t *dg;
    iw_engine_t *e = eu_compile(p, eu_rule(p, "r1", scanfield_rules), &dg, NULL);
    iw_scratch_t *s;
    int f[64], n;

    CHECK(e != NULL);
    if (!e) return;
    s = iw_scratch_create(e);
    n = iw_engine_scan_fields(e, IW_EV_ACCESS, f, 64);
    CHECK(n > 0 && n <= 64);
    CHECK(has_field(f, n, IW_F_CS_URI_DEC));
    CHECK(has_field(f, n, IW_F_CS_USER_AGENT));
    CHECK(has_field(f, n, iw_field_lookup("cs-uri-query-param-value")));
    CHECK(!has_field(f, n, IW_F_CS_REFERER));
    /* the decoded view is what is scanned */
    CHECK(scan_one(p, e, s, "/a/%65tc/passwd", NULL, IW_F_CS_URI_DEC) > 0);
    CHECK_INT(scan_one(p, e, s, "/a/etc/group", NULL, IW_F_CS_URI_DEC), 0);
    /* a regex: prefilter + confirmation */
    CHECK(scan_one(p, e, s, "/", "sqlmap/1.7", IW_F_CS_USER_AGENT) > 0);
    CHECK_INT(scan_one(p, e, s, "/", "sqlmap/x", IW_F_CS_USER_AGENT), 0);
    /* another field's match is not this field's */
    CHECK_INT(scan_one(p, e, s, "/etc/passwd", "sqlmap/1.7", IW_F_CS_URI_STEM_DEC), 0);
    /* absent field; bad field */
    CHECK_INT(scan_one(p, e, s, "/etc/passwd", NULL, IW_F_CS_USER_AGENT), 0);
    CHECK_INT(scan_one(p, e, s, "/", NULL, IW_F__COUNT), -1);
    /* a multi-valued field: every value */
    CHECK(scan_one(p, e, s, "/x?a=1&b=zzz", NULL, iw_field_lookup("cs-uri-query-param-value")) > 0);
    CHECK_INT(scan_one(p, e, s, "/x?a=1&zzz=2", NULL, iw_field_lookup("cs-uri-query-param-value")), 0);
    iw_scratch_destroy(s);
}
