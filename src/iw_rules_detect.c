/* SPDX-License-Identifier: Apache-2.0 */
/* iw_rules_detect: a rule's `detection` (or a filter's selections) -> model:
 * field names with modifiers, values as typed patterns, selections and the
 * condition.  Errors name the node's file:line:col (see iw_rules_int.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <ctype.h>
#include <arpa/inet.h>
#include <apr_strings.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "iw_rules_int.h"

/* ---- modifiers ------------------------------------------------------- */

static const struct { const char *name; unsigned bit; } mod_names[] = {
    {"contains", IW_MOD_CONTAINS}, {"startswith", IW_MOD_STARTSWITH},
    {"endswith", IW_MOD_ENDSWITH}, {"all", IW_MOD_ALL}, {"re", IW_MOD_RE},
    {"i", IW_MOD_RE_I}, {"m", IW_MOD_RE_M}, {"s", IW_MOD_RE_S},
    {"cidr", IW_MOD_CIDR}, {"exists", IW_MOD_EXISTS}, {"base64", IW_MOD_BASE64},
    {"base64offset", IW_MOD_BASE64OFFSET}, {"cased", IW_MOD_CASED},
    {"lt", IW_MOD_LT}, {"lte", IW_MOD_LTE}, {"gt", IW_MOD_GT}, {"gte", IW_MOD_GTE},
    {"neq", IW_MOD_NEQ}, {"fieldref", IW_MOD_FIELDREF}, {"expand", IW_MOD_EXPAND},
    {"windash", IW_MOD_WINDASH}, {"utf16le", IW_MOD_UTF16LE}, {"wide", IW_MOD_UTF16LE},
    {"utf16be", IW_MOD_UTF16BE}, {"utf16", IW_MOD_UTF16},
    {"minute", IW_MOD_MINUTE}, {"hour", IW_MOD_HOUR}, {"day", IW_MOD_DAY},
    {"week", IW_MOD_WEEK}, {"month", IW_MOD_MONTH}, {"year", IW_MOD_YEAR},
    /* pySigma's long names of the regex flags */
    {"ignorecase", IW_MOD_RE_I}, {"multiline", IW_MOD_RE_M}, {"dotall", IW_MOD_RE_S},
    {NULL, 0}
};

#define MODS_SUBSTR (IW_MOD_CONTAINS | IW_MOD_STARTSWITH | IW_MOD_ENDSWITH)
#define MODS_NUM    (IW_MOD_LT | IW_MOD_LTE | IW_MOD_GT | IW_MOD_GTE)
#define MODS_TIME   (IW_MOD_MINUTE | IW_MOD_HOUR | IW_MOD_DAY | IW_MOD_WEEK \
                     | IW_MOD_MONTH | IW_MOD_YEAR)
#define MODS_REFL   (IW_MOD_RE_I | IW_MOD_RE_M | IW_MOD_RE_S)
#define MODS_ENC    (IW_MOD_BASE64 | IW_MOD_BASE64OFFSET)
#define MODS_UTF    (IW_MOD_UTF16LE | IW_MOD_UTF16BE | IW_MOD_UTF16)
#define MODS_STRING (MODS_SUBSTR | IW_MOD_ALL | IW_MOD_CASED | MODS_ENC | MODS_UTF \
                     | IW_MOD_WINDASH | IW_MOD_EXPAND | IW_MOD_NEQ)

/* Type modifiers decide how values are read; each allows some companions. */
static const struct { unsigned type, allowed; } mod_types[] = {
    {IW_MOD_RE, MODS_REFL | IW_MOD_ALL},
    {IW_MOD_CIDR, IW_MOD_EXPAND},      /* %placeholder% -> a network feed */
    {IW_MOD_EXISTS, 0},
    {IW_MOD_FIELDREF, IW_MOD_NEQ | IW_MOD_CASED | MODS_SUBSTR}, /* pySigma: fieldref|startswith ... */
    {MODS_TIME, MODS_NUM | IW_MOD_NEQ},
    {MODS_NUM, 0},
    {0, MODS_STRING}            /* plain string matching */
};

static const char *mod_name(unsigned bit)
{
    int i;
    for (i = 0; mod_names[i].name; i++)
        if (mod_names[i].bit == bit) return mod_names[i].name;
    return "?";
}

static const char *mods_text(apr_pool_t *p, unsigned mods)
{
    const char *s = NULL;
    int i;
    for (i = 0; i < 32; i++)
        if (mods & (1u << i))
            s = s ? apr_pstrcat(p, s, "|", mod_name(1u << i), NULL) : mod_name(1u << i);
    return s ? s : "";
}

typedef struct {
    unsigned bit;
    int off;            /* offset of the modifier name inside the key */
    const char *name;
} modref_t;

/* The lowest bit of a group set in mods, 0 when none. */
static unsigned first_bit(unsigned mods)
{
    return mods & (~mods + 1);
}

/* Split "field|m1|m2" and map modifier names; errors point at the name. */
static int parse_mods(ctx_t *c, const iw_rules_yaml_node_t *key, const char *s,
                      modref_t *out, int max, int *n, unsigned *mods)
{
    const char *q = strchr(s, '|');
    int bad = 0;

    *n = 0;
    *mods = 0;
    while (q) {
        const char *start = q + 1, *end = strchr(start, '|');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        const char *name = apr_pstrmemdup(c->p, start, len);
        int col = iw_rules__content_col(key) + (int)(start - s), i;

        for (i = 0; mod_names[i].name && strcmp(mod_names[i].name, name); i++) ;
        if (!mod_names[i].name) {
            iw_rules__err_at(c, key->line, col, "unknown modifier '%s'", name);
            bad = 1;
        } else if (*mods & mod_names[i].bit) {
            iw_rules__err_at(c, key->line, col, "modifier '%s' given twice", name);
            bad = 1;
        } else if (*n == max) {
            iw_rules__err_at(c, key->line, col, "more than %d modifiers", max);
            bad = 1;
        } else {
            out[*n].bit = mod_names[i].bit;
            out[*n].off = (int)(start - s);
            out[*n].name = name;
            (*n)++;
            *mods |= mod_names[i].bit;
        }
        q = end;
    }
    return bad ? -1 : 0;
}

static int mod_index(const modref_t *m, int n, unsigned bits)
{
    int i;
    for (i = 0; i < n; i++)
        if (m[i].bit & bits) return i;
    return -1;
}

/* Combination rules; messages name both modifiers. */
static void check_mod_combos(ctx_t *c, const iw_rules_yaml_node_t *key, iw_item_t *it,
                             const modref_t *m, int n)
{
    static const unsigned excl[] = {MODS_SUBSTR, MODS_NUM, MODS_TIME, MODS_ENC, MODS_UTF};
    unsigned mods = it->mods, type = 0, allowed = MODS_STRING;
    int i, line = key->line, col0 = iw_rules__content_col(key);

    for (i = 0; i < (int)(sizeof(excl) / sizeof(excl[0])); i++) {
        unsigned g = mods & excl[i];
        if (g & (g - 1)) {
            unsigned a = first_bit(g), b = first_bit(g & ~a);
            iw_rules__err(c, key, "modifiers '%s' and '%s' exclude each other", mod_name(a),
                mod_name(b));
        }
    }
    if ((mods & MODS_REFL) && !(mods & IW_MOD_RE)) {
        i = mod_index(m, n, MODS_REFL);
        iw_rules__err_at(c, line, col0 + m[i].off, "modifier '%s' is a flag of 're' and needs it "
               "(e.g. re|%s)", m[i].name, m[i].name);
    }
    for (i = 0; mod_types[i].type; i++)
        if (mods & mod_types[i].type) {
            type = mod_types[i].type;
            allowed = mod_types[i].allowed;
            break;
        }
    for (i = 0; i < n; i++) {
        if ((m[i].bit & type) || (m[i].bit & allowed)) continue;
        if ((m[i].bit & MODS_REFL) && !(mods & IW_MOD_RE)) continue; /* reported */
        iw_rules__err_at(c, line, col0 + m[i].off, "modifier '%s' cannot be combined with '%s'",
               m[i].name, mod_name(first_bit(mods & type)));
    }
    if ((mods & IW_MOD_BASE64OFFSET) && !(mods & IW_MOD_CONTAINS))
        iw_rules__err(c, key, "modifier 'base64offset' needs 'contains' (base64offset|contains): "
            "the encoded value is only found inside a longer base64 text");
    if (mods & MODS_UTF) {
        int u = mod_index(m, n, MODS_UTF), e = mod_index(m, n, MODS_ENC);
        if (e < 0 || e < u)
            iw_rules__err_at(c, line, col0 + m[u].off, "modifier '%s' must be followed by 'base64' "
                   "or 'base64offset' (e.g. %s|base64offset|contains)", m[u].name, m[u].name);
    }
    if (it->field < 0) {
        unsigned need_field = IW_MOD_EXISTS | IW_MOD_FIELDREF | IW_MOD_CIDR | MODS_NUM
                              | MODS_TIME | IW_MOD_NEQ;
        if (mods & need_field) {
            i = mod_index(m, n, need_field);
            iw_rules__err_at(c, line, col0 + m[i].off, "modifier '%s' needs a field name "
                   "(keywords match the whole event)", m[i].name);
        }
    }
}

/* Which events ever carry a field (iw_event_from_request/_from_error). */
static unsigned field_sources(int f)
{
    switch (f) {
    case IW_F_MESSAGE: case IW_F_LEVEL: case IW_F_MODULE: case IW_F_AH_CODE: case IW_F_PID:
        return IW_EV_ERROR;
    case IW_F_C_IP: case IW_F_REQUEST_ID: case IW_F_DATE: case IW_F_TIME: case IW_F_RAW:
        return IW_EV_ACCESS | IW_EV_ERROR;
    default:
        return IW_EV_ACCESS;
    }
}

/* Field-dependent rules. */
static void check_mod_field(ctx_t *c, const iw_rules_yaml_node_t *key, iw_item_t *it)
{
    if (it->field < 0) return;
    if (c->r->applies_to && !(field_sources(it->field) & c->r->applies_to))
        iw_rules__warn(c, key, "field '%s' is never set in %s: this item can only match a "
             "missing value", it->field_name, c->r->applies_to == IW_EV_ERROR
             ? "Apache error-log events (service: apache)"
             : "webserver access events (category: webserver)");
    if ((it->mods & MODS_TIME) && it->field != IW_F_DATE && it->field != IW_F_TIME)
        iw_rules__err(c, key, "modifier '%s' reads the event time: use it on field 'date' or 'time', "
            "not '%s'", mod_name(first_bit(it->mods & MODS_TIME)), it->field_name);
    else if ((it->mods & MODS_NUM) && !(it->mods & MODS_TIME)
             && !iw_field_is_numeric((iw_field_id_t)it->field))
        iw_rules__err(c, key, "modifier '%s' compares numbers but field '%s' is not numeric "
            "(numeric: sc-status, sc-bytes, cs-bytes, time-taken, s-port, pid)",
            mod_name(first_bit(it->mods & MODS_NUM)), it->field_name);
    if ((it->mods & IW_MOD_CIDR) && it->field != IW_F_C_IP && it->field != IW_F_S_IP)
        iw_rules__warn(c, key, "modifier 'cidr' on field '%s', which is not an IP address field "
             "(c-ip, s-ip)", it->field_name);
}

/* ---- values ---------------------------------------------------------- */

static int parse_value(ctx_t *c, const iw_rules_yaml_node_t *n, iw_value_t *v)
{
    long long num;
    int b;

    memset(v, 0, sizeof(*v));
    v->line = n->line;
    v->col = n->col;
    if (n->type != IW_RULES_YAML_SCALAR) {
        iw_rules__err(c, n, "expected a value, got %s", iw_rules_yaml_kind(n));
        return -1;
    }
    v->s.p = apr_pstrmemdup(c->p, n->s, n->len);
    v->s.len = n->len;
    if (iw_rules_yaml_scalar_is_null(n)) {
        v->type = IW_VAL_NULL;          /* "null", "~" or nothing: no text */
        v->s.p = "";
        v->s.len = 0;
    }
    else if (iw_rules_yaml_scalar_bool(n, &b)) {
        v->type = IW_VAL_BOOL;          /* header contract: s is "true"/"false" */
        v->boolean = b;
        v->s.p = b ? "true" : "false";
        v->s.len = b ? 4 : 5;
    }
    else if (iw_rules_yaml_scalar_int(n, &num)) { v->type = IW_VAL_NUMBER; v->num = num; }
    else v->type = IW_VAL_STRING;
    return 0;
}

static int check_cidr(const char *s, const char **why)
{
    char addr[64];
    unsigned char buf[16];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    int v6, max, bits;
    char *end;

    if (alen == 0 || alen >= sizeof(addr)) { *why = "no address"; return -1; }
    memcpy(addr, s, alen);
    addr[alen] = 0;
    v6 = strchr(addr, ':') != NULL;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, buf) != 1) {
        *why = v6 ? "not an IPv6 address" : "not an IPv4 address";
        return -1;
    }
    max = v6 ? 128 : 32;
    if (!slash) return 0;
    if (!isdigit((unsigned char)slash[1])) { *why = "prefix length missing"; return -1; }
    errno = 0;
    bits = (int)strtol(slash + 1, &end, 10);
    if (errno || *end || bits < 0 || bits > max) {
        *why = v6 ? "prefix length must be 0..128" : "prefix length must be 0..32";
        return -1;
    }
    return 0;
}

static void check_regex(ctx_t *c, const iw_item_t *it, const iw_value_t *v)
{
    uint32_t opts = 0;
    int ec;
    PCRE2_SIZE off;
    pcre2_code *re;

    if (it->mods & IW_MOD_RE_I) opts |= PCRE2_CASELESS;
    if (it->mods & IW_MOD_RE_M) opts |= PCRE2_MULTILINE;
    if (it->mods & IW_MOD_RE_S) opts |= PCRE2_DOTALL;
    re = pcre2_compile((PCRE2_SPTR)v->s.p, v->s.len, opts, &ec, &off, NULL);
    if (re) {
        pcre2_code_free(re);
        return;
    }
    {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof(msg));
        iw_rules__err_at(c, v->line, v->col, "bad regular expression at offset %lu: %s",
               (unsigned long)off, (const char *)msg);
    }
}

static int has_placeholder(const char *s)
{
    const char *q;
    for (q = s; *q; q++) {
        if (*q == '\\' && q[1]) { q++; continue; }
        if (*q == '%') {
            const char *e = strchr(q + 1, '%');
            if (e && e > q + 1) return 1;
        }
    }
    return 0;
}

static void check_time_value(ctx_t *c, const iw_item_t *it, const iw_value_t *v)
{
    static const struct { unsigned bit; int lo, hi; } rng[] = {
        {IW_MOD_MINUTE, 0, 59}, {IW_MOD_HOUR, 0, 23}, {IW_MOD_DAY, 1, 31},
        {IW_MOD_WEEK, 1, 53}, {IW_MOD_MONTH, 1, 12}, {IW_MOD_YEAR, 0, 9999}
    };
    int i;
    for (i = 0; i < 6; i++)
        if ((it->mods & rng[i].bit) && (v->num < rng[i].lo || v->num > rng[i].hi))
            iw_rules__err_at(c, v->line, v->col, "%s %s is out of range %d..%d",
                   mod_name(rng[i].bit), v->s.p, rng[i].lo, rng[i].hi);
}

/* Value rules that depend on the modifiers. */
static void check_values(ctx_t *c, const iw_rules_yaml_node_t *key, iw_item_t *it)
{
    int i, n = it->values->nelts;
    unsigned mods = it->mods;

    if ((mods & IW_MOD_ALL) && n < 2)
        iw_rules__err(c, key, "modifier 'all' needs a list of at least two values "
            "(the spec forbids 'all' with a single value)");
    if ((mods & IW_MOD_EXISTS) && n != 1)
        iw_rules__err(c, key, "modifier 'exists' takes exactly one value: true or false");
    if ((mods & IW_MOD_FIELDREF) && n != 1)
        iw_rules__err(c, key, "modifier 'fieldref' takes exactly one field name");
    for (i = 0; i < n; i++) {
        iw_value_t *v = &APR_ARRAY_IDX(it->values, i, iw_value_t);
        if (v->type == IW_VAL_NULL) {
            if (mods)
                iw_rules__err_at(c, v->line, v->col, "null cannot be used with modifier%s '%s'",
                       (mods & (mods - 1)) ? "s" : "", mods_text(c->p, mods));
            else if (n > 1)
                iw_rules__err_at(c, v->line, v->col, "null cannot be part of a list of values: "
                       "put 'field: null' in a selection of its own");
            continue;
        }
        if (mods & IW_MOD_EXISTS) {
            if (v->type != IW_VAL_BOOL)
                iw_rules__err_at(c, v->line, v->col, "modifier 'exists' needs true or false, got '%s'",
                       iw_rules__shown(c, v->s.p));
            continue;
        }
        if (v->type == IW_VAL_BOOL) {
            iw_rules__err_at(c, v->line, v->col, "true/false is only meaningful with |exists; quote "
                   "it ('%s') to match the text", iw_rules__shown(c, v->s.p));
            continue;
        }
        if (mods & (MODS_NUM | MODS_TIME)) {
            unsigned tb = (mods & MODS_TIME) ? mods & MODS_TIME : mods & MODS_NUM;
            if (v->type != IW_VAL_NUMBER)
                iw_rules__err_at(c, v->line, v->col, "modifier '%s' needs an integer, got '%s'",
                       mod_name(first_bit(tb)), iw_rules__shown(c, v->s.p));
            else if (mods & MODS_TIME)
                check_time_value(c, it, v);
            continue;
        }
        if (mods & IW_MOD_RE) check_regex(c, it, v);
        if ((mods & IW_MOD_CIDR)
            && !((mods & IW_MOD_EXPAND) && has_placeholder(v->s.p))) {
            const char *why = NULL;
            if (check_cidr(v->s.p, &why) < 0)
                iw_rules__err_at(c, v->line, v->col, "bad CIDR '%s': %s", iw_rules__shown(c, v->s.p), why);
        }
        if (mods & IW_MOD_FIELDREF) {
            it->fieldref = iw_field_lookup(v->s.p);
            if (it->fieldref < 0)
                iw_rules__err_at(c, v->line, v->col, "fieldref: unknown field '%s'", iw_rules__shown(c, v->s.p));
        }
        if ((mods & IW_MOD_EXPAND) && !has_placeholder(v->s.p))
            iw_rules__err_at(c, v->line, v->col, "modifier 'expand' but '%s' has no %%placeholder%%",
                   iw_rules__shown(c, v->s.p));
    }
}

/* ---- detection ------------------------------------------------------- */

/* Closest known field name, for "did you mean". */
static const char *nearest_field(const char *name)
{
    int f, best = 4;
    const char *out = NULL;
    for (f = 0; f < IW_F__COUNT; f++) {
        const char *cand = iw_field_name((iw_field_id_t)f);
        size_t la = strlen(name), lb = cand ? strlen(cand) : 0, i, j;
        int row[64], d;
        if (!cand || la >= 63 || lb >= 63) continue;
        for (j = 0; j <= lb; j++) row[j] = (int)j;
        for (i = 1; i <= la; i++) {
            int prev = row[0];
            row[0] = (int)i;
            for (j = 1; j <= lb; j++) {
                int cur = row[j];
                int sub = prev + (tolower((unsigned char)name[i - 1])
                                  != tolower((unsigned char)cand[j - 1]));
                int m = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
                row[j] = sub < m ? sub : m;
                prev = cur;
            }
        }
        d = row[lb];
        /* only near misses: a typo, not a different taxonomy */
        if (d < best && d <= 2 && 3 * d <= (int)la) { best = d; out = cand; }
    }
    return out;
}

static int parse_item(ctx_t *c, const iw_rules_yaml_node_t *key, const iw_rules_yaml_node_t *val,
                      iw_item_t *it)
{
    modref_t m[16];
    int nm = 0, nerr = c->nerr, i, bad_field = 0;

    memset(m, 0, sizeof(m));    const char *bar;

    memset(it, 0, sizeof(*it));
    it->line = key->line;
    it->col = key->col;
    it->fieldref = -1;
    if (key->type != IW_RULES_YAML_SCALAR || key->len != strlen(key->s)) {
        iw_rules__err(c, key, "a selection key must be a field name");
        return -1;
    }
    bar = strchr(key->s, '|');
    it->field_name = bar ? apr_pstrmemdup(c->p, key->s, (size_t)(bar - key->s))
                         : apr_pstrdup(c->p, key->s);
    if (!*it->field_name) {
        it->field_name = NULL;
        it->field = -1;
        if (!bar) {
            iw_rules__err(c, key, "empty field name");
            return -1;
        }
    } else if ((it->field = iw_field_lookup(it->field_name)) < 0) {
        const char *near;
        bad_field = 1;
        near = nearest_field(it->field_name);
        if (near)
            iw_rules__err(c, key, "unknown field '%s' (did you mean '%s'?)", it->field_name, near);
        else
            iw_rules__err(c, key, "unknown field '%s': not a webserver or apache error-log field",
                it->field_name);
    }
    if (parse_mods(c, key, key->s, m, 16, &nm, &it->mods) < 0 || bad_field) return -1;
    it->values = apr_array_make(c->p, 2, sizeof(iw_value_t));
    if (val->type == IW_RULES_YAML_SCALAR) {
        parse_value(c, val, apr_array_push(it->values));
    } else if (val->type == IW_RULES_YAML_SEQ) {
        if (val->nkids == 0) {
            iw_rules__err(c, val, "'%s' has an empty list of values", key->s);
            return -1;
        }
        for (i = 0; i < val->nkids; i++)
            if (parse_value(c, val->kids[i], apr_array_push(it->values)) < 0)
                return -1;
    } else {
        iw_rules__err(c, val, "value of '%s' must be a value or a list of values, got %s",
            key->s, iw_rules_yaml_kind(val));
        return -1;
    }
    check_mod_combos(c, key, it, m, nm);
    if (c->nerr == nerr) check_mod_field(c, key, it);
    if (c->nerr == nerr) check_values(c, key, it);
    return c->nerr == nerr ? 0 : -1;
}

static iw_group_t *new_group(ctx_t *c, iw_selection_t *s)
{
    iw_group_t *g = apr_array_push(s->groups);
    g->items = apr_array_make(c->p, 4, sizeof(iw_item_t));
    return g;
}

static void parse_group_map(ctx_t *c, iw_selection_t *s, const iw_rules_yaml_node_t *m)
{
    iw_group_t *g;
    int i;

    if (iw_rules_yaml_map_size(m) == 0) {
        iw_rules__err(c, m, "selection '%s' has an empty map", s->name);
        return;
    }
    g = new_group(c, s);
    for (i = 0; i < iw_rules_yaml_map_size(m); i++)
        parse_item(c, iw_rules_yaml_map_key(m, i), iw_rules_yaml_map_val(m, i), apr_array_push(g->items));
}

/* A list of plain values (or a lone value) is a keyword search on _raw. */
static void parse_keywords(ctx_t *c, iw_selection_t *s, const iw_rules_yaml_node_t *n)
{
    iw_group_t *g = new_group(c, s);
    iw_item_t *it = apr_array_push(g->items);
    int i, nerr = c->nerr;

    memset(it, 0, sizeof(*it));
    it->field = -1;
    it->fieldref = -1;
    it->line = n->line;
    it->col = n->col;
    it->values = apr_array_make(c->p, n->nkids + 1, sizeof(iw_value_t));
    if (n->type == IW_RULES_YAML_SCALAR) {
        parse_value(c, n, apr_array_push(it->values));
    } else {
        for (i = 0; i < n->nkids; i++)
            parse_value(c, n->kids[i], apr_array_push(it->values));
    }
    if (c->nerr == nerr) check_values(c, n, it);
}

static void parse_selection(ctx_t *c, const iw_rules_yaml_node_t *key, const iw_rules_yaml_node_t *v)
{
    iw_selection_t *s = apr_array_push(c->r->selections);
    int i, maps = 0, scalars = 0;

    s->name = apr_pstrmemdup(c->p, key->s, key->len);
    s->line = key->line;
    s->col = key->col;
    s->groups = apr_array_make(c->p, 2, sizeof(iw_group_t));
    if (v->type == IW_RULES_YAML_MAP) {
        parse_group_map(c, s, v);
        return;
    }
    if (v->type == IW_RULES_YAML_SCALAR) {
        if (iw_rules_yaml_scalar_is_null(v))
            iw_rules__err(c, v, "selection '%s' is empty", s->name);
        else
            parse_keywords(c, s, v);
        return;
    }
    if (v->nkids == 0) {
        iw_rules__err(c, v, "selection '%s' is an empty list", s->name);
        return;
    }
    for (i = 0; i < v->nkids; i++) {
        if (v->kids[i]->type == IW_RULES_YAML_MAP) maps++;
        else if (v->kids[i]->type == IW_RULES_YAML_SCALAR) scalars++;
        else {
            iw_rules__err(c, v->kids[i], "selection '%s': a list inside a list is not Sigma", s->name);
            return;
        }
    }
    if (maps && scalars) {
        iw_rules__err(c, v, "selection '%s' mixes plain values (keywords) and maps", s->name);
        return;
    }
    if (scalars) {
        parse_keywords(c, s, v);
        return;
    }
    for (i = 0; i < v->nkids; i++)
        parse_group_map(c, s, v->kids[i]);
}

static void mark_used(const iw_rules_cond_t *n, char *used)
{
    int i;
    if (!n) return;
    if (n->type == IW_RULES_COND_SEL) { used[n->sel] = 1; return; }
    for (i = 0; i < n->nkids; i++) mark_used(n->kids[i], used);
}

/* `condition`: one expression or a list of them (ORed). */
void iw_rules__parse_condition(ctx_t *c, const iw_rules_yaml_node_t *parent, const char *what)
{
    const iw_rules_yaml_node_t *k = NULL, *v = iw_rules_yaml_map_get(parent, "condition", &k);
    iw_rule_t *r = c->r;
    apr_array_header_t *conds;
    int i, n;

    if (!v) {
        iw_rules__err(c, parent, "%s has no 'condition'", what);
        return;
    }
    if (v->type == IW_RULES_YAML_MAP || (v->type == IW_RULES_YAML_SCALAR && !iw_rules__is_text(v))) {
        iw_rules__err(c, v, "'condition' must be an expression or a list of expressions, got %s",
            iw_rules_yaml_kind(v));
        return;
    }
    n = v->type == IW_RULES_YAML_SEQ ? v->nkids : 1;
    if (n == 0) {
        iw_rules__err(c, v, "'condition' is an empty list");
        return;
    }
    conds = apr_array_make(c->p, n, sizeof(iw_rules_cond_t *));
    for (i = 0; i < n; i++) {
        const iw_rules_yaml_node_t *e = v->type == IW_RULES_YAML_SEQ ? v->kids[i] : v;
        iw_rules_cond_t *t;
        if (!iw_rules__is_text(e)) {
            iw_rules__err(c, e, "'condition' entries must be expressions, got %s", iw_rules_yaml_kind(e));
            return;
        }
        t = iw_rules_cond_parse(c->p, e->s, r->selections, c->file, e->line, iw_rules__content_col(e),
                          iw_rules__rid(r), c->diag);
        if (!t) { c->nerr++; return; }
        APR_ARRAY_PUSH(conds, iw_rules_cond_t *) = t;
    }
    if (n == 1) {
        r->cond = APR_ARRAY_IDX(conds, 0, iw_rules_cond_t *);
    } else {
        r->cond = apr_pcalloc(c->p, sizeof(*r->cond));
        r->cond->type = IW_RULES_COND_OR;
        r->cond->kids = (iw_rules_cond_t **)conds->elts;
        r->cond->nkids = n;
    }
    {
        char *used = apr_pcalloc(c->p, r->selections->nelts + 1);
        mark_used(r->cond, used);
        for (i = 0; i < r->selections->nelts; i++) {
            const iw_selection_t *s = &APR_ARRAY_IDX(r->selections, i, iw_selection_t);
            if (!used[i])
                iw_diag_add(c->diag, IW_DIAG_WARNING, c->file, s->line, s->col, iw_rules__rid(r),
                            "selection '%s' is not used in the condition", s->name);
        }
    }
}

/* Selections of a detection (or filter) map: every key except `skip`. */
void iw_rules__parse_selections(ctx_t *c, const iw_rules_yaml_node_t *m, const char *const *skip)
{
    int i, j;

    c->r->selections = apr_array_make(c->p, 4, sizeof(iw_selection_t));
    for (i = 0; i < iw_rules_yaml_map_size(m); i++) {
        const iw_rules_yaml_node_t *k = iw_rules_yaml_map_key(m, i), *v = iw_rules_yaml_map_val(m, i);
        if (k->type != IW_RULES_YAML_SCALAR || !k->len) {
            iw_rules__err(c, k, "a selection name must be a non-empty text");
            continue;
        }
        for (j = 0; skip[j] && strcmp(skip[j], k->s); j++) ;
        if (skip[j]) continue;
        if (!strcmp(k->s, "timeframe")) {
            iw_rules__warn(c, k, "'timeframe' in detection is obsolete and ignored; "
                 "use a Sigma correlation rule (timespan) instead");
            continue;
        }
        parse_selection(c, k, v);
    }
}

void iw_rules__parse_detection(ctx_t *c, const iw_rules_yaml_node_t *det)
{
    static const char *const skip[] = {"condition", NULL};

    if (det->type != IW_RULES_YAML_MAP) {
        iw_rules__err(c, det, "'detection' must be a map of selections and a condition, got %s",
            iw_rules_yaml_kind(det));
        return;
    }
    iw_rules__parse_selections(c, det, skip);
    iw_rules__parse_condition(c, det, "detection");
}
