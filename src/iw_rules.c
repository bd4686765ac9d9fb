/* SPDX-License-Identifier: Apache-2.0 */
/* iw_rules: Sigma YAML -> rule model (see iw_rules.h).
 *
 * Every YAML document is parsed into a small DOM with marks (iw_rules_yaml), then
 * into an iw_rule_t in the ruleset pool.  A document with any error is not
 * added (other documents of the file are kept); every problem is reported
 * as file:line:col of the offending node.  Cross-document references
 * (correlation `rules`, filter `rules`, duplicate ids) are resolved later by
 * iw_ruleset_link, which needs the positions of the references: they are
 * kept in a private side table (rule_ext_t) so the public model stays
 * small. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <arpa/inet.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "iw_rules.h"
#include "iw_rules_yaml.h"

#define MAX_RULE_FILE (32u << 20)   /* a rule file larger than this is a mistake */
#define MAX_DIR_DEPTH 16

typedef struct { int line, col; } mark_t;

/* Positions the linker needs for its messages. */
typedef struct rule_ext {
    mark_t id, name;
    mark_t *refs;       /* per corr->rule_refs / filter_refs entry */
    mark_t *groups;     /* per corr->group_by entry */
    mark_t aliases;
    int generate_given;
    int any_rules;      /* filter with `rules: any|all` or []: every rule */
} rule_ext_t;

typedef struct {
    iw_ruleset_t *rs;
    apr_pool_t *p;              /* the ruleset pool: everything kept */
    iw_diag_t *diag;
    const char *file;
    iw_rule_t *r;               /* rule being parsed */
    rule_ext_t *x;
    int nerr;
} ctx_t;

/* ---- side table ------------------------------------------------------ */

static apr_hash_t *ext_table(iw_ruleset_t *rs)
{
    void *h = NULL;
    char key[64];

    snprintf(key, sizeof(key), "iw_rules_ext:%p", (void *)rs);
    apr_pool_userdata_get(&h, key, rs->pool);
    if (!h) {
        h = apr_hash_make(rs->pool);
        apr_pool_userdata_set(h, key, NULL, rs->pool);
    }
    return h;
}

/* Mark i of a list, {0,0} when unknown (a model built by hand). */
static mark_t mark_at(const mark_t *marks, int i)
{
    return marks ? marks[i] : (mark_t){0, 0};
}

static rule_ext_t *rule_ext(iw_ruleset_t *rs, const iw_rule_t *r)
{
    static rule_ext_t none;
    rule_ext_t *x = apr_hash_get(ext_table(rs), &r, sizeof(r));
    return x ? x : &none;
}

/* ---- diagnostics ----------------------------------------------------- */

static const char *rid(const iw_rule_t *r)
{
    return r ? (r->id ? r->id : r->name) : NULL;
}

static void vreport(ctx_t *c, iw_diag_level_t lvl, int line, int col,
                    const char *fmt, va_list ap)
{
    const char *text = apr_pvsprintf(c->diag ? c->diag->pool : c->p, fmt, ap);
    iw_diag_add(c->diag, lvl, c->file, line, col, rid(c->r), "%s", text);
    if (lvl == IW_DIAG_ERROR) c->nerr++;
}

static void err_at(ctx_t *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err_at(ctx_t *c, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(c, IW_DIAG_ERROR, line, col, fmt, ap);
    va_end(ap);
}

static void err(ctx_t *c, const iw_rules_yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err(ctx_t *c, const iw_rules_yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(c, IW_DIAG_ERROR, n ? n->line : 0, n ? n->col : 0, fmt, ap);
    va_end(ap);
}

static void warn(ctx_t *c, const iw_rules_yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn(ctx_t *c, const iw_rules_yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(c, IW_DIAG_WARNING, n ? n->line : 0, n ? n->col : 0, fmt, ap);
    va_end(ap);
}

/* Column of the first character of a scalar's content. */
static int content_col(const iw_rules_yaml_node_t *n)
{
    return n->col + (n->quoted ? 1 : 0);
}

/* A value as shown in a message: at most 60 bytes, control bytes as '?'. */
static const char *shown(ctx_t *c, const char *s)
{
    size_t n = strlen(s), i, max = 60;
    char *o = apr_palloc(c->p, (n > max ? max : n) + 4);
    for (i = 0; i < n && i < max; i++)
        o[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (n > max) { memcpy(o + i, "...", 3); i += 3; }
    o[i] = 0;
    return o;
}

/* ---- generic node helpers ------------------------------------------ */

static int is_text(const iw_rules_yaml_node_t *n)
{
    return n && n->type == IW_RULES_YAML_SCALAR && !iw_rules_yaml_scalar_is_null(n);
}

/* Text attribute `key` of map m; NULL when absent.  Wrong type -> error. */
static const char *get_text(ctx_t *c, const iw_rules_yaml_node_t *m, const char *key,
                            const iw_rules_yaml_node_t **node_out)
{
    const iw_rules_yaml_node_t *k = NULL, *v = iw_rules_yaml_map_get(m, key, &k);

    if (node_out) *node_out = v;
    if (!v || iw_rules_yaml_scalar_is_null(v)) return NULL;
    if (v->type != IW_RULES_YAML_SCALAR) {
        err(c, v, "'%s' must be a text value, got %s", key, iw_rules_yaml_kind(v));
        return NULL;
    }
    return apr_pstrmemdup(c->p, v->s, v->len);
}

/* A list of texts; a single text is accepted as a list of one. */
static apr_array_header_t *get_text_list(ctx_t *c, const iw_rules_yaml_node_t *m,
                                         const char *key)
{
    const iw_rules_yaml_node_t *v = iw_rules_yaml_map_get(m, key, NULL);
    apr_array_header_t *a = apr_array_make(c->p, 2, sizeof(const char *));
    int i;

    if (!v || iw_rules_yaml_scalar_is_null(v)) return a;
    if (v->type == IW_RULES_YAML_SCALAR) {
        APR_ARRAY_PUSH(a, const char *) = apr_pstrmemdup(c->p, v->s, v->len);
        return a;
    }
    if (v->type != IW_RULES_YAML_SEQ) {
        err(c, v, "'%s' must be a list of text values, got %s", key, iw_rules_yaml_kind(v));
        return a;
    }
    for (i = 0; i < v->nkids; i++) {
        const iw_rules_yaml_node_t *e = v->kids[i];
        if (e->type != IW_RULES_YAML_SCALAR) {
            /* informational metadata: not worth rejecting the rule */
            warn(c, e, "'%s' entry is %s, not text (ignored)%s", key, iw_rules_yaml_kind(e),
                 e->type == IW_RULES_YAML_MAP ? "; quote text that contains ': '" : "");
            continue;
        }
        APR_ARRAY_PUSH(a, const char *) = apr_pstrmemdup(c->p, e->s, e->len);
    }
    return a;
}

/* ---- metadata -------------------------------------------------------- */

static int valid_date(const char *s)
{
    int i;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return 0;
    for (i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i])) return 0;
    return 1;
}

static void parse_meta(ctx_t *c, const iw_rules_yaml_node_t *m)
{
    static const char *const statuses[] = {
        "stable", "test", "experimental", "deprecated", "unsupported", NULL
    };
    iw_rule_t *r = c->r;
    const iw_rules_yaml_node_t *n;
    int i;

    r->title = get_text(c, m, "title", &n);
    if (!n)
        err(c, m, "missing mandatory 'title'");
    else if (n->type != IW_RULES_YAML_SCALAR)
        ;                               /* reported by get_text */
    else if (!r->title || !*r->title)
        err(c, n, "'title' is empty");
    else if (strlen(r->title) > 256)
        err(c, n, "'title' is longer than 256 characters");
    r->description = get_text(c, m, "description", NULL);
    r->author = get_text(c, m, "author", NULL);
    r->status = get_text(c, m, "status", &n);
    if (r->status) {
        for (i = 0; statuses[i] && strcmp(statuses[i], r->status); i++) ;
        if (!statuses[i])
            err(c, n, "status '%s' is not one of stable, test, experimental, "
                "deprecated, unsupported", r->status);
    }
    r->date = get_text(c, m, "date", &n);
    if (r->date && !valid_date(r->date))
        warn(c, n, "date '%s' is not YYYY-MM-DD", r->date);
    r->modified = get_text(c, m, "modified", &n);
    if (r->modified && !valid_date(r->modified))
        warn(c, n, "modified '%s' is not YYYY-MM-DD", r->modified);
    {
        const char *lvl = get_text(c, m, "level", &n);
        if (lvl) {
            r->level = iw_level_parse(lvl);
            if (r->level == IW_LEVEL_NONE)
                err(c, n, "level '%s' is not one of informational, low, medium, "
                    "high, critical", lvl);
        }
    }
    r->tags = get_text_list(c, m, "tags");
    r->references = get_text_list(c, m, "references");
    r->falsepositives = get_text_list(c, m, "falsepositives");
}

static const char *lower(apr_pool_t *p, const char *s)
{
    char *o = apr_pstrdup(p, s), *q;
    for (q = o; *q; q++) *q = (char)tolower((unsigned char)*q);
    return o;
}

/* iocwatch sees two log sources; anything else would silently never match. */
static void parse_logsource(ctx_t *c, const iw_rules_yaml_node_t *m, int required)
{
    iw_rule_t *r = c->r;
    const iw_rules_yaml_node_t *k = NULL, *ls = iw_rules_yaml_map_get(m, "logsource", &k);
    const char *cat, *prod, *svc;

    if (!ls) {
        if (required) err(c, m, "missing mandatory 'logsource'");
        return;
    }
    if (ls->type != IW_RULES_YAML_MAP) {
        err(c, ls, "'logsource' must be a map, got %s", iw_rules_yaml_kind(ls));
        return;
    }
    r->ls_category = get_text(c, ls, "category", NULL);
    r->ls_product = get_text(c, ls, "product", NULL);
    r->ls_service = get_text(c, ls, "service", NULL);
    cat = r->ls_category ? lower(c->p, r->ls_category) : NULL;
    prod = r->ls_product ? lower(c->p, r->ls_product) : NULL;
    svc = r->ls_service ? lower(c->p, r->ls_service) : NULL;
    if (cat && !strcmp(cat, "webserver") && (!prod || !strcmp(prod, "apache"))
        && (!svc || !strcmp(svc, "apache")))
        r->applies_to = IW_EV_ACCESS;
    else if (!cat && svc && !strcmp(svc, "apache") && (!prod || !strcmp(prod, "apache")))
        r->applies_to = IW_EV_ERROR;
    else
        err(c, ls, "logsource (category: %s, product: %s, service: %s) not supported: "
            "iocwatch sees webserver access events (category: webserver) and the "
            "Apache error log (service: apache)", cat ? cat : "-", prod ? prod : "-",
            svc ? svc : "-");
}

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
    {IW_MOD_FIELDREF, IW_MOD_NEQ | IW_MOD_CASED},
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
        int col = content_col(key) + (int)(start - s), i;

        for (i = 0; mod_names[i].name && strcmp(mod_names[i].name, name); i++) ;
        if (!mod_names[i].name) {
            err_at(c, key->line, col, "unknown modifier '%s'", name);
            bad = 1;
        } else if (*mods & mod_names[i].bit) {
            err_at(c, key->line, col, "modifier '%s' given twice", name);
            bad = 1;
        } else if (*n == max) {
            err_at(c, key->line, col, "more than %d modifiers", max);
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
    int i, line = key->line, col0 = content_col(key);

    for (i = 0; i < (int)(sizeof(excl) / sizeof(excl[0])); i++) {
        unsigned g = mods & excl[i];
        if (g & (g - 1)) {
            unsigned a = first_bit(g), b = first_bit(g & ~a);
            err(c, key, "modifiers '%s' and '%s' exclude each other", mod_name(a),
                mod_name(b));
        }
    }
    if ((mods & MODS_REFL) && !(mods & IW_MOD_RE)) {
        i = mod_index(m, n, MODS_REFL);
        err_at(c, line, col0 + m[i].off, "modifier '%s' is a flag of 're' and needs it "
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
        err_at(c, line, col0 + m[i].off, "modifier '%s' cannot be combined with '%s'",
               m[i].name, mod_name(first_bit(mods & type)));
    }
    if ((mods & IW_MOD_BASE64OFFSET) && !(mods & IW_MOD_CONTAINS))
        err(c, key, "modifier 'base64offset' needs 'contains' (base64offset|contains): "
            "the encoded value is only found inside a longer base64 text");
    if (mods & MODS_UTF) {
        int u = mod_index(m, n, MODS_UTF), e = mod_index(m, n, MODS_ENC);
        if (e < 0 || e < u)
            err_at(c, line, col0 + m[u].off, "modifier '%s' must be followed by 'base64' "
                   "or 'base64offset' (e.g. %s|base64offset|contains)", m[u].name, m[u].name);
    }
    if (it->field < 0) {
        unsigned need_field = IW_MOD_EXISTS | IW_MOD_FIELDREF | IW_MOD_CIDR | MODS_NUM
                              | MODS_TIME | IW_MOD_NEQ;
        if (mods & need_field) {
            i = mod_index(m, n, need_field);
            err_at(c, line, col0 + m[i].off, "modifier '%s' needs a field name "
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
        warn(c, key, "field '%s' is never set in %s: this item can only match a "
             "missing value", it->field_name, c->r->applies_to == IW_EV_ERROR
             ? "Apache error-log events (service: apache)"
             : "webserver access events (category: webserver)");
    if ((it->mods & MODS_TIME) && it->field != IW_F_DATE && it->field != IW_F_TIME)
        err(c, key, "modifier '%s' reads the event time: use it on field 'date' or 'time', "
            "not '%s'", mod_name(first_bit(it->mods & MODS_TIME)), it->field_name);
    else if ((it->mods & MODS_NUM) && !(it->mods & MODS_TIME)
             && !iw_field_is_numeric((iw_field_id_t)it->field))
        err(c, key, "modifier '%s' compares numbers but field '%s' is not numeric "
            "(numeric: sc-status, sc-bytes, cs-bytes, time-taken, s-port, pid)",
            mod_name(first_bit(it->mods & MODS_NUM)), it->field_name);
    if ((it->mods & IW_MOD_CIDR) && it->field != IW_F_C_IP && it->field != IW_F_S_IP)
        warn(c, key, "modifier 'cidr' on field '%s', which is not an IP address field "
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
        err(c, n, "expected a value, got %s", iw_rules_yaml_kind(n));
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
        err_at(c, v->line, v->col, "bad regular expression at offset %lu: %s",
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
            err_at(c, v->line, v->col, "%s %s is out of range %d..%d",
                   mod_name(rng[i].bit), v->s.p, rng[i].lo, rng[i].hi);
}

/* Value rules that depend on the modifiers. */
static void check_values(ctx_t *c, const iw_rules_yaml_node_t *key, iw_item_t *it)
{
    int i, n = it->values->nelts;
    unsigned mods = it->mods;

    if ((mods & IW_MOD_ALL) && n < 2)
        err(c, key, "modifier 'all' needs a list of at least two values "
            "(the spec forbids 'all' with a single value)");
    if ((mods & IW_MOD_EXISTS) && n != 1)
        err(c, key, "modifier 'exists' takes exactly one value: true or false");
    if ((mods & IW_MOD_FIELDREF) && n != 1)
        err(c, key, "modifier 'fieldref' takes exactly one field name");
    for (i = 0; i < n; i++) {
        iw_value_t *v = &APR_ARRAY_IDX(it->values, i, iw_value_t);
        if (v->type == IW_VAL_NULL) {
            if (mods)
                err_at(c, v->line, v->col, "null cannot be used with modifier%s '%s'",
                       (mods & (mods - 1)) ? "s" : "", mods_text(c->p, mods));
            else if (n > 1)
                err_at(c, v->line, v->col, "null cannot be part of a list of values: "
                       "put 'field: null' in a selection of its own");
            continue;
        }
        if (mods & IW_MOD_EXISTS) {
            if (v->type != IW_VAL_BOOL)
                err_at(c, v->line, v->col, "modifier 'exists' needs true or false, got '%s'",
                       shown(c, v->s.p));
            continue;
        }
        if (v->type == IW_VAL_BOOL) {
            err_at(c, v->line, v->col, "true/false is only meaningful with |exists; quote "
                   "it ('%s') to match the text", shown(c, v->s.p));
            continue;
        }
        if (mods & (MODS_NUM | MODS_TIME)) {
            unsigned tb = (mods & MODS_TIME) ? mods & MODS_TIME : mods & MODS_NUM;
            if (v->type != IW_VAL_NUMBER)
                err_at(c, v->line, v->col, "modifier '%s' needs an integer, got '%s'",
                       mod_name(first_bit(tb)), shown(c, v->s.p));
            else if (mods & MODS_TIME)
                check_time_value(c, it, v);
            continue;
        }
        if (mods & IW_MOD_RE) check_regex(c, it, v);
        if ((mods & IW_MOD_CIDR)
            && !((mods & IW_MOD_EXPAND) && has_placeholder(v->s.p))) {
            const char *why = NULL;
            if (check_cidr(v->s.p, &why) < 0)
                err_at(c, v->line, v->col, "bad CIDR '%s': %s", shown(c, v->s.p), why);
        }
        if (mods & IW_MOD_FIELDREF) {
            it->fieldref = iw_field_lookup(v->s.p);
            if (it->fieldref < 0)
                err_at(c, v->line, v->col, "fieldref: unknown field '%s'", shown(c, v->s.p));
        }
        if ((mods & IW_MOD_EXPAND) && !has_placeholder(v->s.p))
            err_at(c, v->line, v->col, "modifier 'expand' but '%s' has no %%placeholder%%",
                   shown(c, v->s.p));
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
        err(c, key, "a selection key must be a field name");
        return -1;
    }
    bar = strchr(key->s, '|');
    it->field_name = bar ? apr_pstrmemdup(c->p, key->s, (size_t)(bar - key->s))
                         : apr_pstrdup(c->p, key->s);
    if (!*it->field_name) {
        it->field_name = NULL;
        it->field = -1;
        if (!bar) {
            err(c, key, "empty field name");
            return -1;
        }
    } else if ((it->field = iw_field_lookup(it->field_name)) < 0) {
        const char *near;
        bad_field = 1;
        near = nearest_field(it->field_name);
        if (near)
            err(c, key, "unknown field '%s' (did you mean '%s'?)", it->field_name, near);
        else
            err(c, key, "unknown field '%s': not a webserver or apache error-log field",
                it->field_name);
    }
    if (parse_mods(c, key, key->s, m, 16, &nm, &it->mods) < 0 || bad_field) return -1;
    it->values = apr_array_make(c->p, 2, sizeof(iw_value_t));
    if (val->type == IW_RULES_YAML_SCALAR) {
        parse_value(c, val, apr_array_push(it->values));
    } else if (val->type == IW_RULES_YAML_SEQ) {
        if (val->nkids == 0) {
            err(c, val, "'%s' has an empty list of values", key->s);
            return -1;
        }
        for (i = 0; i < val->nkids; i++)
            if (parse_value(c, val->kids[i], apr_array_push(it->values)) < 0)
                return -1;
    } else {
        err(c, val, "value of '%s' must be a value or a list of values, got %s",
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
        err(c, m, "selection '%s' has an empty map", s->name);
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
            err(c, v, "selection '%s' is empty", s->name);
        else
            parse_keywords(c, s, v);
        return;
    }
    if (v->nkids == 0) {
        err(c, v, "selection '%s' is an empty list", s->name);
        return;
    }
    for (i = 0; i < v->nkids; i++) {
        if (v->kids[i]->type == IW_RULES_YAML_MAP) maps++;
        else if (v->kids[i]->type == IW_RULES_YAML_SCALAR) scalars++;
        else {
            err(c, v->kids[i], "selection '%s': a list inside a list is not Sigma", s->name);
            return;
        }
    }
    if (maps && scalars) {
        err(c, v, "selection '%s' mixes plain values (keywords) and maps", s->name);
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
static void parse_condition(ctx_t *c, const iw_rules_yaml_node_t *parent, const char *what)
{
    const iw_rules_yaml_node_t *k = NULL, *v = iw_rules_yaml_map_get(parent, "condition", &k);
    iw_rule_t *r = c->r;
    apr_array_header_t *conds;
    int i, n;

    if (!v) {
        err(c, parent, "%s has no 'condition'", what);
        return;
    }
    if (v->type == IW_RULES_YAML_MAP || (v->type == IW_RULES_YAML_SCALAR && !is_text(v))) {
        err(c, v, "'condition' must be an expression or a list of expressions, got %s",
            iw_rules_yaml_kind(v));
        return;
    }
    n = v->type == IW_RULES_YAML_SEQ ? v->nkids : 1;
    if (n == 0) {
        err(c, v, "'condition' is an empty list");
        return;
    }
    conds = apr_array_make(c->p, n, sizeof(iw_rules_cond_t *));
    for (i = 0; i < n; i++) {
        const iw_rules_yaml_node_t *e = v->type == IW_RULES_YAML_SEQ ? v->kids[i] : v;
        iw_rules_cond_t *t;
        if (!is_text(e)) {
            err(c, e, "'condition' entries must be expressions, got %s", iw_rules_yaml_kind(e));
            return;
        }
        t = iw_rules_cond_parse(c->p, e->s, r->selections, c->file, e->line, content_col(e),
                          rid(r), c->diag);
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
                iw_diag_add(c->diag, IW_DIAG_WARNING, c->file, s->line, s->col, rid(r),
                            "selection '%s' is not used in the condition", s->name);
        }
    }
}

/* Selections of a detection (or filter) map: every key except `skip`. */
static void parse_selections(ctx_t *c, const iw_rules_yaml_node_t *m, const char *const *skip)
{
    int i, j;

    c->r->selections = apr_array_make(c->p, 4, sizeof(iw_selection_t));
    for (i = 0; i < iw_rules_yaml_map_size(m); i++) {
        const iw_rules_yaml_node_t *k = iw_rules_yaml_map_key(m, i), *v = iw_rules_yaml_map_val(m, i);
        if (k->type != IW_RULES_YAML_SCALAR || !k->len) {
            err(c, k, "a selection name must be a non-empty text");
            continue;
        }
        for (j = 0; skip[j] && strcmp(skip[j], k->s); j++) ;
        if (skip[j]) continue;
        if (!strcmp(k->s, "timeframe")) {
            warn(c, k, "'timeframe' in detection is obsolete and ignored; "
                 "use a Sigma correlation rule (timespan) instead");
            continue;
        }
        parse_selection(c, k, v);
    }
}

static void parse_detection(ctx_t *c, const iw_rules_yaml_node_t *det)
{
    static const char *const skip[] = {"condition", NULL};

    if (det->type != IW_RULES_YAML_MAP) {
        err(c, det, "'detection' must be a map of selections and a condition, got %s",
            iw_rules_yaml_kind(det));
        return;
    }
    parse_selections(c, det, skip);
    parse_condition(c, det, "detection");
}

/* ---- correlation ----------------------------------------------------- */

static const char *const corr_types[] = {
    NULL, "event_count", "value_count", "temporal", "temporal_ordered"
};

/* A list of references (ids/names) with their marks. */
static apr_array_header_t *parse_refs(ctx_t *c, const iw_rules_yaml_node_t *m, const char *what,
                                      mark_t **marks)
{
    const iw_rules_yaml_node_t *k = NULL, *v = iw_rules_yaml_map_get(m, "rules", &k);
    apr_array_header_t *a = apr_array_make(c->p, 4, sizeof(const char *));
    int i, j, n;

    *marks = NULL;
    if (!v || iw_rules_yaml_scalar_is_null(v)) {
        err(c, k ? k : m, "%s has no 'rules' (the ids or names of the rules it applies to)",
            what);
        return a;
    }
    if (v->type == IW_RULES_YAML_MAP) {
        err(c, v, "'rules' must be a list of rule ids or names, got a map");
        return a;
    }
    n = v->type == IW_RULES_YAML_SEQ ? v->nkids : 1;
    if (n == 0) {
        err(c, v, "'rules' is an empty list");
        return a;
    }
    *marks = apr_pcalloc(c->p, n * sizeof(mark_t));
    for (i = 0; i < n; i++) {
        const iw_rules_yaml_node_t *e = v->type == IW_RULES_YAML_SEQ ? v->kids[i] : v;
        if (!is_text(e)) {
            err(c, e, "'rules' entries must be rule ids or names, got %s", iw_rules_yaml_kind(e));
            continue;
        }
        for (j = 0; j < a->nelts && strcmp(APR_ARRAY_IDX(a, j, const char *), e->s); j++) ;
        if (j < a->nelts) {
            err(c, e, "rule '%s' is listed twice in 'rules'", shown(c, e->s));
            continue;
        }
        (*marks)[a->nelts].line = e->line;
        (*marks)[a->nelts].col = e->col;
        APR_ARRAY_PUSH(a, const char *) = apr_pstrmemdup(c->p, e->s, e->len);
    }
    return a;
}

/* "<n><s|m|h|d>" -> usec. */
static int parse_timespan(const char *s, apr_interval_time_t *out)
{
    long long n = 0, mult;
    const char *q = s;

    if (!isdigit((unsigned char)*q)) return -1;
    while (isdigit((unsigned char)*q)) {
        n = n * 10 + (*q - '0');
        if (n > 100000000LL) return -1;
        q++;
    }
    switch (*q) {
    case 's': mult = 1; break;
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = 86400; break;
    default: return -1;
    }
    if (q[1] || n == 0 || n * mult > 366LL * 86400) return -1;
    *out = (apr_interval_time_t)(n * mult) * APR_USEC_PER_SEC;
    return 0;
}

static void parse_corr_condition(ctx_t *c, iw_corr_def_t *cd, const iw_rules_yaml_node_t *cn)
{
    static const char *const ops[] = {NULL, "gt", "gte", "lt", "lte", "eq", "neq"};
    int i, j;

    if (cn->type != IW_RULES_YAML_MAP) {
        err(c, cn, "correlation 'condition' must be a map like {gte: 10}, got %s",
            iw_rules_yaml_kind(cn));
        return;
    }
    for (i = 0; i < iw_rules_yaml_map_size(cn); i++) {
        const iw_rules_yaml_node_t *k = iw_rules_yaml_map_key(cn, i), *v = iw_rules_yaml_map_val(cn, i);
        long long num;
        if (k->type == IW_RULES_YAML_SCALAR && !strcmp(k->s, "field")) {
            if (v->type == IW_RULES_YAML_SEQ && v->nkids == 1) v = v->kids[0];
            if (v->type == IW_RULES_YAML_SEQ)
                err(c, v, "value_count over several fields is not supported: give one 'field'");
            else if (!is_text(v))
                err(c, v, "'field' must be a field name, got %s", iw_rules_yaml_kind(v));
            else if ((cd->value_field_id = iw_field_lookup(v->s)) < 0
                     && !(cd->aliases && apr_hash_get(cd->aliases, v->s, APR_HASH_KEY_STRING)))
                err(c, v, "unknown field '%s' in correlation condition", shown(c, v->s));
            else
                cd->value_field = apr_pstrdup(c->p, v->s);
            continue;
        }
        for (j = 1; j <= 6 && (k->type != IW_RULES_YAML_SCALAR || strcmp(ops[j], k->s)); j++) ;
        if (j > 6) {
            err(c, k, "unknown correlation condition '%s' (use gt, gte, lt, lte, eq, neq "
                "and, for value_count, field)", k->s);
            continue;
        }
        if (!iw_rules_yaml_scalar_int(v, &num) || num < 0) {
            err(c, v, "'%s' needs a non-negative integer, got %s", k->s,
                v->type == IW_RULES_YAML_SCALAR ? apr_psprintf(c->p, "'%s'", shown(c, v->s))
                                       : iw_rules_yaml_kind(v));
            continue;
        }
        if (cd->ncmp == 2) {
            err(c, k, "correlation condition has more than two comparisons");
            continue;
        }
        cd->cmp[cd->ncmp].op = j;
        cd->cmp[cd->ncmp].value = num;
        cd->ncmp++;
    }
    if (cd->ncmp == 2) {
        int lo0 = cd->cmp[0].op == IW_CMP_GT || cd->cmp[0].op == IW_CMP_GTE;
        int lo1 = cd->cmp[1].op == IW_CMP_GT || cd->cmp[1].op == IW_CMP_GTE;
        int hi0 = cd->cmp[0].op == IW_CMP_LT || cd->cmp[0].op == IW_CMP_LTE;
        int hi1 = cd->cmp[1].op == IW_CMP_LT || cd->cmp[1].op == IW_CMP_LTE;
        if (!((lo0 && hi1) || (hi0 && lo1)))
            err(c, cn, "a range needs one lower bound (gt/gte) and one upper bound (lt/lte)");
    }
}

static void parse_aliases(ctx_t *c, iw_corr_def_t *cd, const iw_rules_yaml_node_t *an)
{
    int i, j;

    cd->aliases = apr_hash_make(c->p);
    if (an->type != IW_RULES_YAML_MAP) {
        err(c, an, "'aliases' must be a map alias -> {rule name: field}, got %s",
            iw_rules_yaml_kind(an));
        return;
    }
    c->x->aliases.line = an->line;
    c->x->aliases.col = an->col;
    for (i = 0; i < iw_rules_yaml_map_size(an); i++) {
        const iw_rules_yaml_node_t *k = iw_rules_yaml_map_key(an, i), *v = iw_rules_yaml_map_val(an, i);
        apr_hash_t *h = apr_hash_make(c->p);
        if (v->type != IW_RULES_YAML_MAP || !is_text(k)) {
            err(c, v, "alias '%s' must map rule names to field names", k->s ? k->s : "");
            continue;
        }
        for (j = 0; j < iw_rules_yaml_map_size(v); j++) {
            const iw_rules_yaml_node_t *rk = iw_rules_yaml_map_key(v, j), *fv = iw_rules_yaml_map_val(v, j);
            if (!is_text(rk) || !is_text(fv)) {
                err(c, fv, "alias '%s': entries must be 'rule name: field name'", k->s);
                continue;
            }
            if (iw_field_lookup(fv->s) < 0) {
                err(c, fv, "alias '%s': unknown field '%s'", k->s, fv->s);
                continue;
            }
            apr_hash_set(h, apr_pstrdup(c->p, rk->s), APR_HASH_KEY_STRING,
                         apr_pstrdup(c->p, fv->s));
        }
        apr_hash_set(cd->aliases, apr_pstrdup(c->p, k->s), APR_HASH_KEY_STRING, h);
    }
}

static void parse_group_by(ctx_t *c, iw_corr_def_t *cd, const iw_rules_yaml_node_t *g)
{
    int i, n;

    cd->group_by = apr_array_make(c->p, 2, sizeof(const char *));
    if (!g || iw_rules_yaml_scalar_is_null(g)) return;
    if (g->type == IW_RULES_YAML_MAP) {
        err(c, g, "'group-by' must be a list of field names, got a map");
        return;
    }
    n = g->type == IW_RULES_YAML_SEQ ? g->nkids : 1;
    c->x->groups = apr_pcalloc(c->p, (n + 1) * sizeof(mark_t));
    for (i = 0; i < n; i++) {
        const iw_rules_yaml_node_t *e = g->type == IW_RULES_YAML_SEQ ? g->kids[i] : g;
        if (!is_text(e)) {
            err(c, e, "'group-by' entries must be field names, got %s", iw_rules_yaml_kind(e));
            continue;
        }
        c->x->groups[cd->group_by->nelts].line = e->line;
        c->x->groups[cd->group_by->nelts].col = e->col;
        APR_ARRAY_PUSH(cd->group_by, const char *) = apr_pstrdup(c->p, e->s);
    }
}

static void parse_corr_type(ctx_t *c, iw_corr_def_t *cd, const iw_rules_yaml_node_t *m)
{
    const iw_rules_yaml_node_t *k = NULL, *t = iw_rules_yaml_map_get(m, "type", &k);
    int i;

    if (!t || !is_text(t)) {
        err(c, t ? t : m, "correlation has no 'type' (event_count, value_count, temporal, "
            "temporal_ordered)");
        return;
    }
    for (i = 1; i <= 4 && strcmp(corr_types[i], t->s); i++) ;
    if (i <= 4) {
        cd->type = (iw_corr_type_t)i;
    } else if (!strcmp(t->s, "value_sum") || !strcmp(t->s, "value_avg")
               || !strcmp(t->s, "value_percentile")) {
        err(c, t, "correlation type '%s' is not supported by iocwatch (supported: "
            "event_count, value_count, temporal, temporal_ordered)", t->s);
    } else {
        err(c, t, "unknown correlation type '%s' (event_count, value_count, temporal, "
            "temporal_ordered)", t->s);
    }
}

static void parse_generate(ctx_t *c, iw_corr_def_t *cd, const iw_rules_yaml_node_t *g)
{
    int b;
    if (!g) return;
    if (!iw_rules_yaml_scalar_bool(g, &b)) {
        err(c, g, "'generate' must be true or false");
        return;
    }
    cd->generate = b;
    c->x->generate_given = 1;
}

static void check_corr_needs(ctx_t *c, iw_corr_def_t *cd, const iw_rules_yaml_node_t *m,
                             const iw_rules_yaml_node_t *v);
static void warn_unused_aliases(ctx_t *c, const iw_corr_def_t *cd);

static void parse_correlation(ctx_t *c, const iw_rules_yaml_node_t *root, const iw_rules_yaml_node_t *m)
{
    static const char *const known[] = {
        "type", "rules", "group-by", "timespan", "condition", "aliases", "generate",
        "field", NULL
    };
    iw_corr_def_t *cd = apr_pcalloc(c->p, sizeof(*cd));
    const iw_rules_yaml_node_t *k = NULL, *v;
    int i, j, nerr;

    c->r->corr = cd;
    cd->value_field_id = -1;
    if (m->type != IW_RULES_YAML_MAP) {
        err(c, m, "'correlation' must be a map, got %s", iw_rules_yaml_kind(m));
        return;
    }
    for (i = 0; i < iw_rules_yaml_map_size(m); i++) {
        const iw_rules_yaml_node_t *kk = iw_rules_yaml_map_key(m, i);
        for (j = 0; known[j] && (kk->type != IW_RULES_YAML_SCALAR || strcmp(known[j], kk->s)); j++) ;
        if (!known[j])
            warn(c, kk, "unknown key '%s' in correlation (ignored)", kk->s ? kk->s : "");
    }
    parse_corr_type(c, cd, m);
    cd->rule_refs = parse_refs(c, m, "correlation", &c->x->refs);
    cd->rules = apr_array_make(c->p, cd->rule_refs->nelts + 1, sizeof(iw_rule_t *));
    parse_group_by(c, cd, iw_rules_yaml_map_get(m, "group-by", NULL));
    v = iw_rules_yaml_map_get(m, "timespan", &k);
    if (!v) err(c, m, "correlation has no 'timespan' (e.g. timespan: 5m)");
    else if (!is_text(v) || parse_timespan(v->s, &cd->timespan) < 0)
        err(c, v, "bad timespan '%s': use a number and s, m, h or d (e.g. 90m; at most 366d)",
            v->type == IW_RULES_YAML_SCALAR ? shown(c, v->s) : iw_rules_yaml_kind(v));
    if ((v = iw_rules_yaml_map_get(m, "aliases", NULL)))
        parse_aliases(c, cd, v);
    if ((v = iw_rules_yaml_map_get(m, "field", &k)) && is_text(v))
        err(c, k, "'field' belongs inside the correlation 'condition'");
    /* `generate` is top-level in the spec; pySigma reads it in the section */
    parse_generate(c, cd, iw_rules_yaml_map_get(m, "generate", NULL));
    parse_generate(c, cd, iw_rules_yaml_map_get(root, "generate", NULL));
    v = iw_rules_yaml_map_get(m, "condition", &k);
    nerr = c->nerr;
    if (v) parse_corr_condition(c, cd, v);
    if (!cd->type || c->nerr != nerr) return;
    check_corr_needs(c, cd, m, v);
    if (cd->aliases) warn_unused_aliases(c, cd);
}

/* What each correlation type requires (spec "Requires:" lists). */
static void check_corr_needs(ctx_t *c, iw_corr_def_t *cd, const iw_rules_yaml_node_t *m,
                             const iw_rules_yaml_node_t *v)
{
    const iw_rules_yaml_node_t *k = NULL;

    if ((cd->type == IW_CORR_EVENT_COUNT || cd->type == IW_CORR_VALUE_COUNT) && !v)
        err(c, m, "%s correlation has no 'condition' (e.g. condition: {gte: 10})",
            corr_types[cd->type]);
    else if (v && !cd->ncmp && v->type == IW_RULES_YAML_MAP)
        err(c, v, "correlation condition has no comparison (gt, gte, lt, lte, eq, neq)");
    if (cd->type == IW_CORR_VALUE_COUNT && !cd->value_field && v && v->type == IW_RULES_YAML_MAP
        && !iw_rules_yaml_map_get(v, "field", NULL))
        err(c, v, "value_count correlation needs 'field' in its condition (the field "
            "whose distinct values are counted)");
    if (cd->type != IW_CORR_VALUE_COUNT && v && iw_rules_yaml_map_get(v, "field", &k))
        err(c, k, "'field' is only used by value_count correlations");
    if ((cd->type == IW_CORR_TEMPORAL || cd->type == IW_CORR_TEMPORAL_ORDERED)) {
        if (cd->rule_refs->nelts < 2 && cd->rule_refs->nelts > 0)
            warn(c, iw_rules_yaml_map_get(m, "rules", NULL), "%s correlation over a single rule",
                 corr_types[cd->type]);
        if (!cd->ncmp) {        /* default: every referenced rule must occur */
            cd->cmp[0].op = IW_CMP_GTE;
            cd->cmp[0].value = cd->rule_refs->nelts;
            cd->ncmp = 1;
        }
    }
}

static void warn_unused_aliases(ctx_t *c, const iw_corr_def_t *cd)
{
    apr_hash_index_t *hi;
    int i;

    for (hi = apr_hash_first(c->p, cd->aliases); hi; hi = apr_hash_next(hi)) {
        const char *alias = apr_hash_this_key(hi);
        for (i = 0; i < cd->group_by->nelts; i++)
            if (!strcmp(APR_ARRAY_IDX(cd->group_by, i, const char *), alias)) break;
        if (i == cd->group_by->nelts && !(cd->value_field && !strcmp(cd->value_field, alias)))
            iw_diag_add(c->diag, IW_DIAG_WARNING, c->file, c->x->aliases.line,
                        c->x->aliases.col, rid(c->r), "alias '%s' is not used in group-by",
                        alias);
    }
}

/* ---- filter ---------------------------------------------------------- */

/* pySigma: `rules: any` / `all` / [] = every rule of the filter's log source. */
static int filter_any_rules(const iw_rules_yaml_node_t *m)
{
    const iw_rules_yaml_node_t *v = iw_rules_yaml_map_get(m, "rules", NULL);
    if (!v) return 0;
    if (v->type == IW_RULES_YAML_SEQ) return v->nkids == 0;
    return is_text(v) && (!strcasecmp(v->s, "any") || !strcasecmp(v->s, "all"));
}

static void parse_filter(ctx_t *c, const iw_rules_yaml_node_t *m)
{
    static const char *const skip[] = {"condition", "rules", NULL};

    if (m->type != IW_RULES_YAML_MAP) {
        err(c, m, "'filter' must be a map with rules, selections and a condition, got %s",
            iw_rules_yaml_kind(m));
        return;
    }
    if (filter_any_rules(m)) {
        c->x->any_rules = 1;
        c->r->filter_refs = apr_array_make(c->p, 1, sizeof(const char *));
    } else {
        c->r->filter_refs = parse_refs(c, m, "filter", &c->x->refs);
    }
    c->r->filter_rules = apr_array_make(c->p, 2, sizeof(iw_rule_t *));
    parse_selections(c, m, skip);
    if (c->r->selections->nelts == 0)
        err(c, m, "filter has no selection");
    parse_condition(c, m, "filter");
}

/* ---- documents ------------------------------------------------------- */

static void parse_ids(ctx_t *c, const iw_rules_yaml_node_t *root)
{
    const iw_rules_yaml_node_t *n;

    c->r->id = get_text(c, root, "id", &n);
    if (c->r->id) {
        c->x->id.line = n->line;
        c->x->id.col = n->col;
        if (!*c->r->id) c->r->id = NULL;
    }
    c->r->name = get_text(c, root, "name", &n);
    if (c->r->name) {
        c->x->name.line = n->line;
        c->x->name.col = n->col;
    }
}

/* One document -> one rule; returns 1 when the rule was added. */
static int load_doc(ctx_t *c, const iw_rules_yaml_doc_t *doc)
{
    const iw_rules_yaml_node_t *root = doc->root, *det, *cor, *fil, *kd = NULL, *kc = NULL, *kf = NULL;
    iw_rule_t *r;

    if (!root || iw_rules_yaml_scalar_is_null(root)) return 0;       /* empty document */
    c->r = NULL;
    c->nerr = 0;
    if (root->type != IW_RULES_YAML_MAP) {
        err(c, root, "a Sigma rule must be a map, got %s", iw_rules_yaml_kind(root));
        return 0;
    }
    r = c->r = apr_pcalloc(c->p, sizeof(*r));
    c->x = apr_pcalloc(c->p, sizeof(*c->x));
    r->file = c->file;
    r->line = root->line;
    r->generate = 1;
    r->filters = apr_array_make(c->p, 1, sizeof(iw_rule_t *));
    r->feeds = apr_array_make(c->p, 1, sizeof(iw_rule_t *));
    parse_ids(c, root);
    det = iw_rules_yaml_map_get(root, "detection", &kd);
    cor = iw_rules_yaml_map_get(root, "correlation", &kc);
    fil = iw_rules_yaml_map_get(root, "filter", &kf);
    if (!det && !cor && !fil) {
        parse_meta(c, root);
        err(c, root, "not a Sigma rule: no 'detection', 'correlation' or 'filter' section");
        return 0;
    }
    if (!!det + !!cor + !!fil > 1) {
        err(c, cor && det ? kc : kf, "a document holds one of 'detection', 'correlation' "
            "or 'filter', not several");
        return 0;
    }
    parse_meta(c, root);
    if (det) {
        int before = c->nerr;
        r->kind = IW_RULE_DETECTION;
        parse_logsource(c, root, 1);
        /* fields of another log source would only add noise */
        if (c->nerr == before) parse_detection(c, det);
    } else if (cor) {
        r->kind = IW_RULE_CORRELATION;
        parse_correlation(c, root, cor);
    } else {
        r->kind = IW_RULE_FILTER;
        r->generate = 0;
        parse_logsource(c, root, 1);
        parse_filter(c, fil);
    }
    if (c->nerr) return 0;
    r->index = c->rs->rules->nelts;
    APR_ARRAY_PUSH(c->rs->rules, iw_rule_t *) = r;
    apr_hash_set(ext_table(c->rs), apr_pmemdup(c->p, &r, sizeof(r)), sizeof(r), c->x);
    if (r->id && !apr_hash_get(c->rs->by_id, r->id, APR_HASH_KEY_STRING))
        apr_hash_set(c->rs->by_id, r->id, APR_HASH_KEY_STRING, r);
    if (r->name && !apr_hash_get(c->rs->by_name, r->name, APR_HASH_KEY_STRING))
        apr_hash_set(c->rs->by_name, r->name, APR_HASH_KEY_STRING, r);
    c->rs->linked = 0;
    return 1;
}

int iw_rules_load_string(iw_ruleset_t *rs, const char *name, const char *yaml,
                         size_t len, iw_diag_t *diag)
{
    apr_pool_t *tmp;
    apr_array_header_t *docs;
    const char *perr = NULL;
    int eline = 0, ecol = 0, i, n = 0, rc;
    ctx_t c;

    memset(&c, 0, sizeof(c));
    c.rs = rs;
    c.p = rs->pool;
    c.diag = diag;
    c.file = apr_pstrdup(rs->pool, name ? name : "<string>");
    apr_pool_create(&tmp, rs->pool);
    rc = iw_rules_yaml_parse(tmp, yaml ? yaml : "", yaml ? len : 0, &docs, &perr, &eline, &ecol);
    for (i = 0; i < docs->nelts; i++)
        n += load_doc(&c, &APR_ARRAY_IDX(docs, i, iw_rules_yaml_doc_t));
    if (rc < 0)
        iw_diag_add(diag, IW_DIAG_ERROR, c.file, eline, ecol, NULL, "%s", perr);
    apr_pool_destroy(tmp);
    return n;
}

/* ---- files, directories, globs -------------------------------------- */

static void load_err(iw_diag_t *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void load_err(iw_diag_t *d, const char *path, const char *fmt, ...)
{
    va_list ap;
    const char *text;
    apr_pool_t *p = d ? d->pool : NULL;
    if (!p) return;
    va_start(ap, fmt);
    text = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    iw_diag_add(d, IW_DIAG_ERROR, path, 0, 0, NULL, "%s", text);
}

/* ---- sources: the files as read, for a later rebuild ---------------- */

typedef struct src_file { const char *name, *data; size_t len; } src_file_t;

void iw_ruleset_record_sources(iw_ruleset_t *rs)
{
    if (rs && !rs->sources)
        rs->sources = apr_array_make(rs->pool, 16, sizeof(src_file_t));
}

static void record_source(iw_ruleset_t *rs, const char *name, const char *data,
                          size_t len)
{
    src_file_t *f;
    if (!rs->sources) return;
    f = &APR_ARRAY_PUSH(rs->sources, src_file_t);
    f->name = apr_pstrdup(rs->pool, name);
    f->data = apr_pstrmemdup(rs->pool, data, len);
    f->len = len;
}

/* Blob: records of a type byte, then 'F': name, data; 'P': name, count,
 * values.  Strings are a 64-bit length (native order: the blob never leaves
 * the process) and the bytes plus a NUL. */
static char *put_bytes(char *o, const char *s, size_t n)
{
    uint64_t l = n;
    if (o) { memcpy(o, &l, sizeof(l)); memcpy(o + sizeof(l), s, n); o[sizeof(l) + n] = 0; }
    return o ? o + sizeof(l) + n + 1 : NULL;
}

static size_t dump_into(const iw_ruleset_t *rs, char *o)
{
    size_t n = 0;
    int i;
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(NULL, rs->placeholders); hi; hi = apr_hash_next(hi)) {
        const void *k;
        void *v;
        const apr_array_header_t *vals;
        apr_hash_this(hi, &k, NULL, &v);
        vals = v;
        if (o) o[n] = 'P';
        n++;
        put_bytes(o ? o + n : NULL, k, strlen(k));
        n += sizeof(uint64_t) + strlen(k) + 1;
        if (o) { uint64_t c = vals ? (uint64_t)vals->nelts : 0; memcpy(o + n, &c, sizeof(c)); }
        n += sizeof(uint64_t);
        for (i = 0; vals && i < vals->nelts; i++) {
            const char *s = APR_ARRAY_IDX(vals, i, const char *);
            put_bytes(o ? o + n : NULL, s, strlen(s));
            n += sizeof(uint64_t) + strlen(s) + 1;
        }
    }
    for (i = 0; rs->sources && i < rs->sources->nelts; i++) {
        const src_file_t *f = &APR_ARRAY_IDX(rs->sources, i, src_file_t);
        if (o) o[n] = 'F';
        n++;
        put_bytes(o ? o + n : NULL, f->name, strlen(f->name));
        n += sizeof(uint64_t) + strlen(f->name) + 1;
        put_bytes(o ? o + n : NULL, f->data, f->len);
        n += sizeof(uint64_t) + f->len + 1;
    }
    return n;
}

char *iw_ruleset_sources_dump(const iw_ruleset_t *rs, size_t *len)
{
    size_t n;
    char *blob;
    if (!rs) return NULL;
    n = dump_into(rs, NULL);
    if (!(blob = malloc(n ? n : 1))) return NULL;
    dump_into(rs, blob);
    if (len) *len = n;
    return blob;
}

/* The string at *pos (bounds-checked); NULL when the blob ends early. */
static const char *get_bytes(const char *b, size_t len, size_t *pos, size_t *n)
{
    uint64_t l;
    if (len - *pos < sizeof(l)) return NULL;
    memcpy(&l, b + *pos, sizeof(l));
    if (l >= len - *pos - sizeof(l) || b[*pos + sizeof(l) + l] != 0) return NULL;
    *n = (size_t)l;
    *pos += sizeof(l) + l + 1;
    return b + *pos - l - 1;
}

int iw_ruleset_load_sources(iw_ruleset_t *rs, const char *blob, size_t len,
                            iw_diag_t *diag)
{
    size_t pos = 0, nl, dl;
    int docs = 0;

    while (blob && pos < len) {
        char type = blob[pos++];
        const char *name = get_bytes(blob, len, &pos, &nl), *data;
        if (!name) break;
        if (type == 'P') {
            uint64_t c, i;
            apr_array_header_t *vals;
            if (len - pos < sizeof(c)) break;
            memcpy(&c, blob + pos, sizeof(c));
            pos += sizeof(c);
            if (c > len) break;
            vals = apr_array_make(rs->pool, (int)c + 1, sizeof(const char *));
            for (i = 0; i < c; i++) {
                if (!(data = get_bytes(blob, len, &pos, &dl))) break;
                APR_ARRAY_PUSH(vals, const char *) = apr_pstrmemdup(rs->pool, data, dl);
            }
            if (i < c) break;
            iw_ruleset_set_placeholder(rs, apr_pstrmemdup(rs->pool, name, nl), vals);
        } else if (type == 'F') {
            if (!(data = get_bytes(blob, len, &pos, &dl))) break;
            record_source(rs, name, data, dl);
            docs += iw_rules_load_string(rs, name, data, dl, diag);
        } else {
            break;
        }
    }
    if (!blob || pos != len) {
        load_err(diag, "<saved rules>", "saved rule sources are damaged at byte %lu",
                 (unsigned long)pos);
        return -1;
    }
    return docs;
}

static int load_file(iw_ruleset_t *rs, const char *path, iw_diag_t *diag)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long size;
    size_t got;
    int n;

    if (!f) {
        load_err(diag, path, "cannot open rule file: %s", strerror(errno));
        return 0;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        load_err(diag, path, "cannot read rule file: %s", strerror(errno));
        fclose(f);
        return 0;
    }
    if ((unsigned long)size > MAX_RULE_FILE) {
        load_err(diag, path, "rule file is larger than %u MiB", MAX_RULE_FILE >> 20);
        fclose(f);
        return 0;
    }
    buf = malloc((size_t)size + 1);
    if (!buf) { fclose(f); load_err(diag, path, "out of memory"); return 0; }
    got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    buf[got] = 0;
    record_source(rs, path, buf, got);
    n = iw_rules_load_string(rs, path, buf, got, diag);
    free(buf);
    return n;
}

static int is_rule_file(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && !strcmp(name + n - 4, ".yml")) || (n > 5 && !strcmp(name + n - 5, ".yaml"));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Collect rule files below dir (sorted by full path, so load order and
 * therefore rule indexes are the same on every host). */
static void collect_dir(apr_pool_t *p, const char *dir, int depth,
                        apr_array_header_t *out, iw_diag_t *diag)
{
    apr_dir_t *d;
    apr_finfo_t fi;

    if (depth > MAX_DIR_DEPTH) {
        load_err(diag, dir, "directories nested deeper than %d (symlink loop?)", MAX_DIR_DEPTH);
        return;
    }
    if (apr_dir_open(&d, dir, p) != APR_SUCCESS) {
        load_err(diag, dir, "cannot open rule directory");
        return;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
        const char *full;
        if (!fi.name || fi.name[0] == '.') continue;     /* ., .., .git, editors */
        full = apr_pstrcat(p, dir, dir[strlen(dir) - 1] == '/' ? "" : "/", fi.name, NULL);
        if (fi.filetype == APR_LNK || fi.filetype == APR_UNKFILE) {
            apr_finfo_t st;
            if (apr_stat(&st, full, APR_FINFO_TYPE, p) != APR_SUCCESS) continue;
            fi.filetype = st.filetype;
        }
        if (fi.filetype == APR_DIR) collect_dir(p, full, depth + 1, out, diag);
        else if (fi.filetype == APR_REG && is_rule_file(fi.name))
            APR_ARRAY_PUSH(out, const char *) = full;
    }
    apr_dir_close(d);
}

static int load_dir(iw_ruleset_t *rs, const char *dir, iw_diag_t *diag)
{
    apr_pool_t *tmp;
    apr_array_header_t *files;
    int i, n = 0;

    apr_pool_create(&tmp, rs->pool);
    files = apr_array_make(tmp, 64, sizeof(const char *));
    collect_dir(tmp, dir, 0, files, diag);
    qsort(files->elts, files->nelts, sizeof(const char *), cmp_str);
    for (i = 0; i < files->nelts; i++)
        n += load_file(rs, APR_ARRAY_IDX(files, i, const char *), diag);
    if (files->nelts == 0 && diag)
        iw_diag_add(diag, IW_DIAG_WARNING, dir, 0, 0, NULL,
                    "no *.yml or *.yaml rule files in directory");
    apr_pool_destroy(tmp);
    return n;
}

static int load_path(iw_ruleset_t *rs, const char *path, iw_diag_t *diag, int from_glob)
{
    apr_finfo_t fi;
    apr_pool_t *p = rs->pool;

    if (apr_stat(&fi, path, APR_FINFO_TYPE, p) == APR_SUCCESS) {
        if (fi.filetype == APR_DIR) return load_dir(rs, path, diag);
        if (from_glob && !is_rule_file(path)) return 0;
        return load_file(rs, path, diag);
    }
    if (!from_glob && strpbrk(path, "*?[")) {
        glob_t g;
        size_t i;
        int n = 0, rc = glob(path, 0, NULL, &g);
        if (rc == GLOB_NOMATCH) {
            load_err(diag, path, "no rule files match this pattern");
            return 0;
        }
        if (rc != 0) {
            load_err(diag, path, "cannot expand pattern");
            return 0;
        }
        for (i = 0; i < g.gl_pathc; i++)          /* glob() sorts */
            n += load_path(rs, g.gl_pathv[i], diag, 1);
        globfree(&g);
        return n;
    }
    load_err(diag, path, "cannot read rules: no such file or directory");
    return 0;
}

int iw_rules_load(iw_ruleset_t *rs, const char *path, iw_diag_t *diag)
{
    if (!rs || !path || !*path) {
        load_err(diag, path ? path : "", "no rule path given");
        return 0;
    }
    return load_path(rs, path, diag, 0);
}

iw_ruleset_t *iw_ruleset_create(apr_pool_t *p)
{
    iw_ruleset_t *rs = apr_pcalloc(p, sizeof(*rs));
    rs->pool = p;
    rs->rules = apr_array_make(p, 64, sizeof(iw_rule_t *));
    rs->by_id = apr_hash_make(p);
    rs->by_name = apr_hash_make(p);
    rs->placeholders = apr_hash_make(p);
    return rs;
}

/* ---- linking --------------------------------------------------------- */

typedef struct {
    iw_ruleset_t *rs;
    iw_diag_t *diag;
    char *drop;             /* per rule index: removed after linking */
} link_t;

static void ldiag(link_t *l, iw_diag_level_t lvl, const iw_rule_t *r, mark_t m,
                  const char *fmt, va_list ap)
{
    if (!l->diag) return;
    iw_diag_add(l->diag, lvl, r->file, m.line ? m.line : r->line, m.col, rid(r), "%s",
                apr_pvsprintf(l->diag->pool, fmt, ap));
}

static void lerr(link_t *l, const iw_rule_t *r, mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void lerr(link_t *l, const iw_rule_t *r, mark_t m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ldiag(l, IW_DIAG_ERROR, r, m, fmt, ap);
    va_end(ap);
}

static void lwarn(link_t *l, const iw_rule_t *r, mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void lwarn(link_t *l, const iw_rule_t *r, mark_t m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ldiag(l, IW_DIAG_WARNING, r, m, fmt, ap);
    va_end(ap);
}

/* Rebuild by_id/by_name; a second rule with the same id/name is an error. */
static void link_ids(link_t *l, int report)
{
    iw_ruleset_t *rs = l->rs;
    int i;

    rs->by_id = apr_hash_make(rs->pool);
    rs->by_name = apr_hash_make(rs->pool);
    for (i = 0; i < rs->rules->nelts; i++) {
        iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *), *o;
        rule_ext_t *x = rule_ext(rs, r);
        if (r->id && (o = apr_hash_get(rs->by_id, r->id, APR_HASH_KEY_STRING))) {
            if (report) lerr(l, r, x->id, "duplicate rule id '%s' (also at %s:%d:%d)", r->id, o->file,
                 rule_ext(rs, o)->id.line, rule_ext(rs, o)->id.col);
            l->drop[i] = 1;
            continue;
        }
        if (r->name && (o = apr_hash_get(rs->by_name, r->name, APR_HASH_KEY_STRING))) {
            if (report) lerr(l, r, x->name, "duplicate rule name '%s' (also at %s:%d:%d)", r->name,
                 o->file, rule_ext(rs, o)->name.line, rule_ext(rs, o)->name.col);
            l->drop[i] = 1;
            continue;
        }
        if (r->id) apr_hash_set(rs->by_id, r->id, APR_HASH_KEY_STRING, r);
        if (r->name) apr_hash_set(rs->by_name, r->name, APR_HASH_KEY_STRING, r);
    }
}

static iw_rule_t *find_rule(iw_ruleset_t *rs, const char *ref)
{
    iw_rule_t *r = apr_hash_get(rs->by_id, ref, APR_HASH_KEY_STRING);
    return r ? r : apr_hash_get(rs->by_name, ref, APR_HASH_KEY_STRING);
}

/* value_count `field` given as an alias: it must name a field for every
 * referenced rule. */
static int value_field(link_t *l, const iw_rule_t *cr, const iw_rule_t *t, const char *ref)
{
    const iw_corr_def_t *cd = cr->corr;
    apr_hash_t *a = cd->aliases ? apr_hash_get(cd->aliases, cd->value_field,
                                               APR_HASH_KEY_STRING) : NULL;
    const char *f = NULL;
    if (a) {
        f = t->name ? apr_hash_get(a, t->name, APR_HASH_KEY_STRING) : NULL;
        if (!f && t->id) f = apr_hash_get(a, t->id, APR_HASH_KEY_STRING);
        if (!f) f = apr_hash_get(a, ref, APR_HASH_KEY_STRING);
    }
    if (!f) {
        lerr(l, cr, rule_ext(l->rs, cr)->aliases, "value_count field alias '%s' has no "
             "field for rule '%s'", cd->value_field, ref);
        return -1;
    }
    return 0;
}

/* Field of group-by entry `g` for referenced rule `t`: via an alias when
 * `g` names one (keyed by the rule's name, its id or the reference as
 * written), else `g` itself is a field name. */
static int group_field(link_t *l, const iw_rule_t *cr, int gi, const iw_rule_t *t,
                       const char *ref)
{
    const iw_corr_def_t *cd = cr->corr;
    const char *g = APR_ARRAY_IDX(cd->group_by, gi, const char *);
    mark_t m = mark_at(rule_ext(l->rs, cr)->groups, gi);
    apr_hash_t *a = cd->aliases ? apr_hash_get(cd->aliases, g, APR_HASH_KEY_STRING) : NULL;
    const char *fname = g;
    int f;

    if (a) {
        fname = t->name ? apr_hash_get(a, t->name, APR_HASH_KEY_STRING) : NULL;
        if (!fname && t->id) fname = apr_hash_get(a, t->id, APR_HASH_KEY_STRING);
        if (!fname) fname = apr_hash_get(a, ref, APR_HASH_KEY_STRING);
        if (!fname) {
            lerr(l, cr, m, "alias '%s' has no field for rule '%s'", g, ref);
            return -1;
        }
    }
    f = iw_field_lookup(fname);
    if (f < 0)
        lerr(l, cr, m, "group-by: unknown field '%s'%s", fname,
             a ? apr_psprintf(l->rs->pool, " (alias '%s', rule '%s')", g, ref) : "");
    return f;
}

static void link_corr(link_t *l, iw_rule_t *cr)
{
    iw_corr_def_t *cd = cr->corr;
    rule_ext_t *x = rule_ext(l->rs, cr);
    int i, j, ng = cd->group_by->nelts, bad = 0;

    apr_array_clear(cd->rules);
    cd->group_fields = apr_pcalloc(l->rs->pool,
                                   (cd->rule_refs->nelts * ng + 1) * sizeof(int));
    for (i = 0; i < cd->rule_refs->nelts; i++) {
        const char *ref = APR_ARRAY_IDX(cd->rule_refs, i, const char *);
        iw_rule_t *t = find_rule(l->rs, ref);
        mark_t m = mark_at(x->refs, i);
        if (!t || l->drop[t->index]) {
            lerr(l, cr, m, "correlation refers to unknown rule '%s' (no rule has this id or "
                 "name)", ref);
            bad = 1;
            continue;
        }
        if (t->kind == IW_RULE_FILTER) {
            lerr(l, cr, m, "rule '%s' is a filter, not a detection or correlation rule", ref);
            bad = 1;
            continue;
        }
        if (t == cr) {
            lerr(l, cr, m, "correlation refers to itself");
            bad = 1;
            continue;
        }
        APR_ARRAY_PUSH(cd->rules, iw_rule_t *) = t;
        for (j = 0; j < ng; j++) {
            int f = group_field(l, cr, j, t, ref);
            if (f < 0) bad = 1;
            cd->group_fields[(cd->rules->nelts - 1) * ng + j] = f;
        }
        if (cd->value_field && cd->value_field_id < 0
            && value_field(l, cr, t, ref) < 0)
            bad = 1;
    }
    if (bad) l->drop[cr->index] = 1;
}

/* Chains: a correlation may count the alerts of another one (spec), but a
 * cycle would never settle.  state: 0 new, 1 on the DFS path, 2 done. */
static int find_cycle(link_t *l, iw_rule_t *cr, char *state)
{
    int i;
    if (state[cr->index] == 2) return 0;
    if (state[cr->index] == 1) return 1;
    state[cr->index] = 1;
    for (i = 0; i < cr->corr->rules->nelts; i++) {
        iw_rule_t *t = APR_ARRAY_IDX(cr->corr->rules, i, iw_rule_t *);
        if (t->kind == IW_RULE_CORRELATION && find_cycle(l, t, state)) {
            if (!l->drop[cr->index])
                lerr(l, cr, rule_ext(l->rs, cr)->id, "correlation chain loops back to "
                     "itself through '%s'", t->id ? t->id : t->name ? t->name : t->title);
            l->drop[cr->index] = 1;
            return 1;
        }
    }
    state[cr->index] = 2;
    return 0;
}

/* A correlation over a rule that has errors has errors too (repeat until
 * stable: chains); then applies_to = union over the referenced rules. */
static void link_chains(link_t *l)
{
    iw_ruleset_t *rs = l->rs;
    char *state = apr_pcalloc(rs->pool, rs->rules->nelts + 1);
    int i, j, changed = 1, rounds = 0;

    for (i = 0; i < rs->rules->nelts; i++) {
        iw_rule_t *cr = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
        if (cr->kind == IW_RULE_CORRELATION && !l->drop[i]) find_cycle(l, cr, state);
    }
    while (changed && rounds++ <= rs->rules->nelts) {
        changed = 0;
        for (i = 0; i < rs->rules->nelts; i++) {
            iw_rule_t *cr = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
            unsigned applies = 0;
            if (cr->kind != IW_RULE_CORRELATION || l->drop[i]) continue;
            for (j = 0; j < cr->corr->rules->nelts; j++) {
                iw_rule_t *t = APR_ARRAY_IDX(cr->corr->rules, j, iw_rule_t *);
                if (l->drop[t->index]) {
                    lerr(l, cr, mark_at(rule_ext(rs, cr)->refs, j), "correlation refers to '%s', "
                         "which has errors", APR_ARRAY_IDX(cr->corr->rule_refs, j,
                                                           const char *));
                    l->drop[i] = 1;
                    changed = 1;
                    break;
                }
                applies |= t->applies_to;
            }
            if (!l->drop[i] && applies != cr->applies_to) {
                cr->applies_to = applies;
                changed = 1;
            }
        }
    }
}

/* A rule referenced by a correlation only feeds it, unless one of the
 * referencing correlations says `generate: true`. */
static void link_generate(link_t *l)
{
    iw_ruleset_t *rs = l->rs;
    int i, j;

    for (i = 0; i < rs->rules->nelts; i++) {
        iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
        apr_array_clear(r->feeds);
        apr_array_clear(r->filters);
        r->generate = r->kind != IW_RULE_FILTER;
    }
    for (i = 0; i < rs->rules->nelts; i++) {
        iw_rule_t *cr = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
        if (cr->kind != IW_RULE_CORRELATION || l->drop[i]) continue;
        for (j = 0; j < cr->corr->rules->nelts; j++) {
            iw_rule_t *t = APR_ARRAY_IDX(cr->corr->rules, j, iw_rule_t *);
            APR_ARRAY_PUSH(t->feeds, iw_rule_t *) = cr;
        }
    }
    for (i = 0; i < rs->rules->nelts; i++) {
        iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
        int keep = 0;
        if (!r->feeds->nelts) continue;
        for (j = 0; j < r->feeds->nelts; j++)
            keep |= APR_ARRAY_IDX(r->feeds, j, iw_rule_t *)->corr->generate;
        r->generate = keep;
    }
}

static const char *source_name(unsigned applies)
{
    return applies == IW_EV_ACCESS ? "webserver access events"
         : applies == IW_EV_ERROR ? "Apache error-log events" : "mixed events";
}

static void link_filter(link_t *l, iw_rule_t *f)
{
    rule_ext_t *x = rule_ext(l->rs, f);
    int i;

    apr_array_clear(f->filter_rules);
    if (x->any_rules) {
        for (i = 0; i < l->rs->rules->nelts; i++) {
            iw_rule_t *t = APR_ARRAY_IDX(l->rs->rules, i, iw_rule_t *);
            if (t->kind != IW_RULE_DETECTION || !(t->applies_to & f->applies_to)) continue;
            APR_ARRAY_PUSH(f->filter_rules, iw_rule_t *) = t;
            APR_ARRAY_PUSH(t->filters, iw_rule_t *) = f;
        }
        return;
    }
    for (i = 0; i < f->filter_refs->nelts; i++) {
        const char *ref = APR_ARRAY_IDX(f->filter_refs, i, const char *);
        iw_rule_t *t = find_rule(l->rs, ref);
        mark_t m = mark_at(x->refs, i);
        if (!t || l->drop[t->index]) {
            lwarn(l, f, m, "filter refers to unknown rule '%s' (ignored)", ref);
            continue;
        }
        if (t->kind != IW_RULE_DETECTION) {
            lwarn(l, f, m, "filter refers to '%s', which is not a detection rule (ignored)",
                  ref);
            continue;
        }
        if (!(t->applies_to & f->applies_to)) {
            lwarn(l, f, m, "filter sees %s but rule '%s' matches %s: it can never apply "
                  "(ignored)", source_name(f->applies_to), ref, source_name(t->applies_to));
            continue;
        }
        APR_ARRAY_PUSH(f->filter_rules, iw_rule_t *) = t;
        APR_ARRAY_PUSH(t->filters, iw_rule_t *) = f;
    }
}

/* Rules built by hand (tests of other subsystems) may leave lists NULL. */
static void ensure_arrays(apr_pool_t *p, iw_rule_t *r)
{
    if (!r->feeds) r->feeds = apr_array_make(p, 1, sizeof(iw_rule_t *));
    if (!r->filters) r->filters = apr_array_make(p, 1, sizeof(iw_rule_t *));
    if (r->kind == IW_RULE_FILTER) {
        if (!r->filter_refs) r->filter_refs = apr_array_make(p, 1, sizeof(const char *));
        if (!r->filter_rules) r->filter_rules = apr_array_make(p, 1, sizeof(iw_rule_t *));
    }
    if (r->kind == IW_RULE_CORRELATION && r->corr) {
        iw_corr_def_t *cd = r->corr;
        if (!cd->rule_refs) cd->rule_refs = apr_array_make(p, 1, sizeof(const char *));
        if (!cd->rules) cd->rules = apr_array_make(p, 1, sizeof(iw_rule_t *));
        if (!cd->group_by) cd->group_by = apr_array_make(p, 1, sizeof(const char *));
    }
}

int iw_ruleset_link(iw_ruleset_t *rs, iw_diag_t *diag)
{
    link_t l;
    int i, before = diag ? diag->errors : 0, ndrop = 0;
    apr_array_header_t *kept;

    l.rs = rs;
    l.diag = diag;
    l.drop = apr_pcalloc(rs->pool, rs->rules->nelts + 1);
    for (i = 0; i < rs->rules->nelts; i++) {
        iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
        r->index = i;
        ensure_arrays(rs->pool, r);
        if (r->kind == IW_RULE_CORRELATION && !r->corr) l.drop[i] = 1;
    }
    link_ids(&l, 1);
    for (i = 0; i < rs->rules->nelts; i++) {
        iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
        if (r->kind == IW_RULE_CORRELATION && !l.drop[i]) link_corr(&l, r);
    }
    link_chains(&l);
    /* Drop what could not be linked so the engine never sees half a rule. */
    for (i = 0; i < rs->rules->nelts; i++) ndrop += l.drop[i];
    if (ndrop) {
        kept = apr_array_make(rs->pool, rs->rules->nelts, sizeof(iw_rule_t *));
        for (i = 0; i < rs->rules->nelts; i++) {
            iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
            if (l.drop[i]) continue;
            r->index = kept->nelts;
            APR_ARRAY_PUSH(kept, iw_rule_t *) = r;
        }
        rs->rules = kept;
        l.drop = apr_pcalloc(rs->pool, rs->rules->nelts + 1);
        link_ids(&l, 0);
    }
    link_generate(&l);
    for (i = 0; i < rs->rules->nelts; i++) {
        iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, iw_rule_t *);
        if (r->kind == IW_RULE_FILTER) link_filter(&l, r);
    }
    rs->linked = 1;
    return diag ? diag->errors - before : 0;
}

/* ---- placeholders ---------------------------------------------------- */

static const char *strip_pct(apr_pool_t *p, const char *name)
{
    size_t n = strlen(name);
    if (n >= 2 && name[0] == '%' && name[n - 1] == '%')
        return apr_pstrmemdup(p, name + 1, n - 2);
    return apr_pstrdup(p, name);
}

void iw_ruleset_set_placeholder(iw_ruleset_t *rs, const char *name,
                                apr_array_header_t *values)
{
    if (!rs || !name) return;
    apr_hash_set(rs->placeholders, strip_pct(rs->pool, name), APR_HASH_KEY_STRING, values);
}

int iw_ruleset_load_placeholder_file(iw_ruleset_t *rs, const char *name,
                                     const char *path, iw_diag_t *diag)
{
    FILE *f;
    char line[8192];
    apr_array_header_t *vals;
    long lineno = 0;

    if (!rs || !name || !path) return -1;
    if (!(f = fopen(path, "r"))) {
        load_err(diag, path, "cannot open placeholder file for %%%s%%: %s", name,
                 strerror(errno));
        return -1;
    }
    vals = apr_array_make(rs->pool, 16, sizeof(const char *));
    while (fgets(line, sizeof(line), f)) {
        char *s = line, *e;
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            int ch;
            iw_diag_add(diag, IW_DIAG_WARNING, path, (int)lineno, 1, NULL,
                        "line longer than %d bytes truncated", (int)sizeof(line) - 1);
            while ((ch = fgetc(f)) != EOF && ch != '\n') ;
        }
        while (isspace((unsigned char)*s)) s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
        if (!*s || *s == '#') continue;
        APR_ARRAY_PUSH(vals, const char *) = apr_pstrdup(rs->pool, s);
    }
    fclose(f);
    iw_ruleset_set_placeholder(rs, name, vals);
    return 0;
}
