/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine_value: one Sigma value with its modifiers -> matcher
 * descriptions (mdesc_t; config time): expansion (base64offset, windash,
 * |expand), wildcards and literals for Vectorscan, regexes, CIDR
 * prefixes and direct checks.  iw_engine_compile.c binds them. */
#include "iw_engine_int.h"

/* A compile error of the rule being built (file:line:col of the rule). It
 * lives here, in the file the compiler calls, so the two files depend one
 * way: iw_engine_compile -> iw_engine_value. */
void iw_engine__berr(build_t *b, int line, int col, const char *fmt, ...)
{
    va_list ap;
    char *text;

    va_start(ap, fmt);
    text = apr_pvsprintf(b->tp, fmt, ap);
    va_end(ap);
    iw_diag_add(b->diag, IW_DIAG_ERROR, b->rule ? b->rule->file : NULL, line,
                col, b->rule ? b->rule->id : NULL, "%s", text);
    b->errors++;
}

/* ---- predicate weights ---------------------------------------------------- */

/* Fields whose values are few (methods, statuses): a literal there fires
 * on a large share of events. */
static int low_entropy_field(int f)
{
    switch (f) {
    case IW_F_CS_METHOD: case IW_F_SC_STATUS: case IW_F_CS_VERSION:
    case IW_F_S_PORT: case IW_F_LEVEL: case IW_F_MODULE: case IW_F_S_SITENAME:
    case IW_F_CS_HOST: case IW_F_S_IP:
        return 1;
    default:
        return 0;
    }
}

static double hs_weight(size_t lit, int field)
{
    double w = 0.9;
    size_t i;
    if (low_entropy_field(field)) return 0.5;
    for (i = 0; i < lit && i < 20; i++) w *= 0.5;
    return w;
}

/* ---- value -> matchers ---------------------------------------------------- */

/* All combinations: parts are text (isph 0) or value lists (isph 1). */
static void expand_product(apr_pool_t *p, apr_array_header_t *parts,
                           apr_array_header_t *isph, long total,
                           apr_array_header_t *out)
{
    long c;
    int k;
    for (c = 0; c < total; c++) {
        long sel = c;
        char *acc = "";
        for (k = parts->nelts - 1; k >= 0; k--) {
            const char *piece;
            if (APR_ARRAY_IDX(isph, k, int)) {
                apr_array_header_t *vals = APR_ARRAY_IDX(parts, k, apr_array_header_t *);
                piece = APR_ARRAY_IDX(vals, sel % vals->nelts, const char *);
                sel /= vals->nelts;
            } else {
                piece = APR_ARRAY_IDX(parts, k, const char *);
            }
            acc = apr_pstrcat(p, piece, acc, NULL);
        }
        APR_ARRAY_PUSH(out, char *) = acc;
    }
}

/* Split a |expand value at unescaped %name% placeholders and produce the
 * cartesian product of the placeholder lists (text between placeholders
 * kept verbatim, "\%" -> "%").  Returns NULL (diag added) on error. */
static apr_array_header_t *expand_value(build_t *b, const iw_value_t *v)
{
    apr_array_header_t *out = apr_array_make(b->tp, 1, sizeof(char *));
    apr_array_header_t *parts = apr_array_make(b->tp, 4, sizeof(void *));
    apr_array_header_t *isph = apr_array_make(b->tp, 4, sizeof(int));
    const char *s = v->s.p ? v->s.p : "";
    size_t len = v->s.len, i = 0;
    char *lit = apr_palloc(b->tp, len + 1);
    size_t nl = 0;
    long total = 1;

    while (i < len) {
        if (s[i] == '\\' && i + 1 < len && s[i + 1] == '%') {
            lit[nl++] = '%';
            i += 2;
        } else if (s[i] == '%') {
            const char *end = memchr(s + i + 1, '%', len - i - 1);
            apr_array_header_t *vals;
            char *name;
            if (!end || end == s + i + 1) { lit[nl++] = s[i++]; continue; }
            name = apr_pstrmemdup(b->tp, s + i + 1, (size_t)(end - s - i - 1));
            vals = b->rs->placeholders
                 ? apr_hash_get(b->rs->placeholders, name, APR_HASH_KEY_STRING)
                 : NULL;
            if (!vals) {
                iw_engine__berr(b, v->line, v->col, "unknown placeholder %%%s%% (|expand)", name);
                return NULL;
            }
            if (nl) {
                APR_ARRAY_PUSH(parts, void *) = apr_pstrmemdup(b->tp, lit, nl);
                APR_ARRAY_PUSH(isph, int) = 0;
                lit = apr_palloc(b->tp, len + 1);
                nl = 0;
            }
            APR_ARRAY_PUSH(parts, void *) = vals;
            APR_ARRAY_PUSH(isph, int) = 1;
            if (!vals->nelts)
                iw_diag_add(b->diag, IW_DIAG_WARNING, b->rule ? b->rule->file : NULL, v->line,
                            v->col, b->rule ? b->rule->id : NULL,
                            "placeholder %%%s%% has no values: this value matches nothing", name);
            total *= vals->nelts;
            if (total > MAX_EXPAND || total == 0) {
                if (total) iw_engine__berr(b, v->line, v->col, "|expand yields more than %ld values", MAX_EXPAND);
                return total ? NULL : out;
            }
            i = (size_t)(end - s) + 1;
        } else {
            lit[nl++] = s[i++];
        }
    }
    if (nl || !parts->nelts) {
        APR_ARRAY_PUSH(parts, void *) = apr_pstrmemdup(b->tp, lit, nl);
        APR_ARRAY_PUSH(isph, int) = 0;
    }
    expand_product(b->tp, parts, isph, total, out);
    return out;
}

static mdesc_t *md_push(apr_array_header_t *ms)
{
    mdesc_t *m = apr_array_push(ms);
    memset(m, 0, sizeof(*m));
    m->rx_pred = -1;
    return m;
}

static void md_direct(build_t *b, apr_array_header_t *ms, dcheck_t d, double w)
{
    mdesc_t *m = md_push(ms);
    m->kind = M_DIRECT;
    m->d = d;
    m->w = w;
    m->sig = apr_psprintf(b->tp, "d%d,%d,%d,%d,%d,%d,%" APR_INT64_T_FMT,
                          d.kind, d.op, d.field2, d.unit, d.mode, d.cased, d.num);
}

static int numeric_value(const iw_value_t *v, int64_t *out)
{
    char *end;
    if (v->type == IW_VAL_NUMBER) { *out = v->num; return 1; }
    if (v->type != IW_VAL_STRING || !v->s.p || !v->s.len || v->s.len > 30) return 0;
    char tmp[32];
    memcpy(tmp, v->s.p, v->s.len);
    tmp[v->s.len] = '\0';
    *out = strtoll(tmp, &end, 10);
    return *end == '\0';
}

static int cmp_op(unsigned mods)
{
    return mods & IW_MOD_LT ? OP_LT : mods & IW_MOD_LTE ? OP_LTE
         : mods & IW_MOD_GT ? OP_GT : mods & IW_MOD_GTE ? OP_GTE : OP_EQ;
}

static int time_unit(unsigned mods)
{
    return mods & IW_MOD_MINUTE ? T_MINUTE : mods & IW_MOD_HOUR ? T_HOUR
         : mods & IW_MOD_DAY ? T_DAY : mods & IW_MOD_WEEK ? T_WEEK
         : mods & IW_MOD_MONTH ? T_MONTH : mods & IW_MOD_YEAR ? T_YEAR : 0;
}

/* Anchoring and, for wildcard-free patterns, the literal bytes: small
 * literal sets are matched without Vectorscan (see lit_scan). */
static void literal_info(build_t *b, mdesc_t *m, const iw_match_pat_t *pt, int open_s, int open_e)
{
    size_t a = 0, z = pt->n, i;
    unsigned char *lb;

    while (a < z && pt->k[a] == IW_U_STAR) { a++; open_s = 1; }
    while (z > a && pt->k[z - 1] == IW_U_STAR) { z--; open_e = 1; }
    m->open_s = open_s;
    m->open_e = open_e;
    for (i = a; i < z; i++)
        if (pt->k[i] != IW_U_LIT) return;
    lb = apr_palloc(b->p, z - a + 1);
    for (i = a; i < z; i++)
        lb[i - a] = (m->flags & HS_FLAG_CASELESS) && pt->b[i] >= 'A' && pt->b[i] <= 'Z'
                  ? (unsigned char)(pt->b[i] + 32) : pt->b[i];
    m->lb = lb;
    m->ll = z - a;
    m->plain = 1;
}

/* A pattern with an inner `*` (a.*b): Vectorscan scans only for its
 * longest literal run and PCRE2 confirms the whole expression on a hit
 * (M_RE); `.*` in a database costs every event more than the rare
 * confirmation.  Returns 0 (matcher left as is) when the run is short. */
#define STAR_SPLIT_MIN_RUN 4
static int star_split(build_t *b, mdesc_t *m, const iw_match_pat_t *pt)
{
    size_t a = 0, z = pt->n, i, run = 0, best = 0, end = 0, k;
    int inner = 0, err;
    uint32_t opts = 0;
    PCRE2_SIZE off;
    pcre2_code *code;
    char *lit;

    while (a < z && pt->k[a] == IW_U_STAR) a++;
    while (z > a && pt->k[z - 1] == IW_U_STAR) z--;
    for (i = a; i < z; i++) {
        if (pt->k[i] == IW_U_STAR) inner = 1;
        run = pt->k[i] == IW_U_LIT ? run + 1 : 0;
        if (run > best) { best = run; end = i + 1; }
    }
    if (!inner || best < STAR_SPLIT_MIN_RUN) return 0;
    if (m->flags & HS_FLAG_CASELESS) opts |= PCRE2_CASELESS;
    if (m->flags & HS_FLAG_DOTALL) opts |= PCRE2_DOTALL;
    code = pcre2_compile((PCRE2_SPTR)m->expr, PCRE2_ZERO_TERMINATED, opts, &err, &off, NULL);
    if (!code) return 0;                   /* keep the Vectorscan pattern */
    APR_ARRAY_PUSH(b->e->codes, pcre2_code *) = code;
    lit = apr_palloc(b->tp, best * 4 + 1);
    for (i = end - best, k = 0; i < end; i++, k += 4)
        snprintf(lit + k, 5, "\\x%02x", pt->b[i]);
    m->kind = M_RE;
    m->split = 1;
    m->code = code;
    m->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    m->expr = lit;
    m->flags = (m->flags & (HS_FLAG_CASELESS | HS_FLAG_DOTALL)) | HS_FLAG_SINGLEMATCH;
    m->plain = 0;
    m->lb = NULL;
    return 1;
}

/* One pattern (after encodings) as a Vectorscan matcher or direct check. */
static void pat_matcher(build_t *b, apr_array_header_t *ms, const iw_match_pat_t *pt,
                        int open_start, int open_end, unsigned hsflags, int field)
{
    int kind;
    size_t lit;
    const char *expr = iw_match_pat_to_hs(b->tp, pt, open_start, open_end, &kind, &lit);
    mdesc_t *m;

    if (kind != IW_MATCH_PAT_EXPR) {
        dcheck_t d = { .kind = kind == IW_MATCH_PAT_PRESENT ? D_PRESENT : D_EMPTY };
        md_direct(b, ms, d, kind == IW_MATCH_PAT_PRESENT ? 1.0 : 0.3);
        return;
    }
    m = md_push(ms);
    m->kind = M_HS;
    m->expr = expr;
    m->flags = hsflags;
    m->lit = lit;
    m->w = hs_weight(lit, field);
    literal_info(b, m, pt, open_start, open_end);
    m->sig = apr_psprintf(b->tp, "h%x:%s", hsflags, expr);
    star_split(b, m, pt);
}

/* A string value (already expanded) through windash / utf16 / base64 and
 * contains/startswith/endswith into matchers. */
static int string_matchers(build_t *b, apr_array_header_t *ms, const char *s,
                           size_t len, unsigned mods, int field,
                           const iw_value_t *v)
{
    int enc = (mods & (IW_MOD_UTF16LE | IW_MOD_UTF16BE | IW_MOD_UTF16
                       | IW_MOD_BASE64 | IW_MOD_BASE64OFFSET)) != 0;
    int b64 = (mods & (IW_MOD_BASE64 | IW_MOD_BASE64OFFSET)) != 0;
    int open_s = (mods & (IW_MOD_CONTAINS | IW_MOD_ENDSWITH)) != 0;
    int open_e = (mods & (IW_MOD_CONTAINS | IW_MOD_STARTSWITH)) != 0;
    unsigned hsflags = HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH;
    iw_match_pat_t *pt = iw_match_pat_parse(b->tp, s, len, 1);
    apr_array_header_t *pats = apr_array_make(b->tp, 1, sizeof(iw_match_pat_t *));
    int i;

    /* base64 text is case-significant: matching it caselessly would only
     * add false positives */
    if (!(mods & IW_MOD_CASED) && !b64) hsflags |= HS_FLAG_CASELESS;
    if (mods & IW_MOD_WINDASH) {
        if (enc) {
            apr_array_header_t *perm = iw_match_pat_windash_expand(b->tp, pt, MAX_WINDASH);
            if (!perm) {
                iw_engine__berr(b, v->line, v->col, "|windash with an encoding yields more than %d values",
                                MAX_WINDASH);
                return -1;
            }
            pats = perm;
        } else {
            APR_ARRAY_PUSH(pats, iw_match_pat_t *) = iw_match_pat_windash(b->tp, pt);
        }
    } else {
        APR_ARRAY_PUSH(pats, iw_match_pat_t *) = pt;
    }
    for (i = 0; i < pats->nelts; i++) {
        iw_match_pat_t *q = APR_ARRAY_IDX(pats, i, iw_match_pat_t *);
        if (mods & (IW_MOD_UTF16LE | IW_MOD_UTF16BE | IW_MOD_UTF16))
            q = iw_match_pat_utf16(b->tp, q, mods & IW_MOD_UTF16BE ? 1
                                      : mods & IW_MOD_UTF16 ? 2 : 0);
        if (b64 && !iw_match_pat_is_literal(q)) {
            iw_engine__berr(b, v->line, v->col, "wildcards cannot be combined with |base64/|base64offset"
                            " (escape them as \\* \\?)");
            return -1;
        }
        if (mods & IW_MOD_BASE64OFFSET) {
            iw_match_pat_t *o[3];
            int k;
            iw_match_pat_base64offset(b->tp, q, o);
            for (k = 0; k < 3; k++)
                if (o[k]) pat_matcher(b, ms, o[k], 1, 1, hsflags, field);
        } else {
            if (mods & IW_MOD_BASE64) q = iw_match_pat_base64(b->tp, q);
            pat_matcher(b, ms, q, open_s, open_e, hsflags, field);
        }
    }
    return 0;
}

/* A length test written as a regex: ^.{N} or ^[^\n]{N} (also with ",}").
 * Vectorscan runs a bounded repeat of N states over every value (^[^\n]{8192}
 * on the header block was half of the pack's header scan), while the
 * answer is a length: "some line of at least N bytes".  Byte semantics as
 * PCRE2 compiles them here (no UTF): "." is any byte but the newline (LF,
 * checked), with s any byte at all; ^ is the value's start, with m also
 * after every LF.  Returns 1 and fills n and mode when re is such a test. */
static int long_line_regex(const char *re, unsigned mods, int64_t *n, int32_t *mode)
{
    uint32_t nl = 0;
    const char *p;
    char *end;
    long v;

    if (!strncmp(re, "^.{", 3)) {
        p = re + 3;
        *mode = (mods & IW_MOD_RE_S) ? LL_VALUE : (mods & IW_MOD_RE_M) ? LL_ANY : LL_FIRST;
    } else if (!strncmp(re, "^[^\\n]{", 7)) {
        p = re + 7;
        *mode = (mods & IW_MOD_RE_M) ? LL_ANY : LL_FIRST;
    } else {
        return 0;
    }
    if (*p < '1' || *p > '9') return 0;
    v = strtol(p, &end, 10);
    if (v < 1 || v > 65535) return 0;
    if (end[0] == ',') end++;
    if (strcmp(end, "}")) return 0;
    if (pcre2_config(PCRE2_CONFIG_NEWLINE, &nl) < 0 || nl != PCRE2_NEWLINE_LF) return 0;
    *n = v;
    return 1;
}

static int regex_matcher(build_t *b, apr_array_header_t *ms, const char *re,
                         unsigned mods, const iw_value_t *v)
{
    uint32_t opts = 0;
    unsigned hsflags = HS_FLAG_PREFILTER | HS_FLAG_SINGLEMATCH;
    int err;
    PCRE2_SIZE off;
    pcre2_code *code;
    mdesc_t *m;

    if (mods & IW_MOD_RE_I) { opts |= PCRE2_CASELESS; hsflags |= HS_FLAG_CASELESS; }
    if (mods & IW_MOD_RE_M) { opts |= PCRE2_MULTILINE; hsflags |= HS_FLAG_MULTILINE; }
    if (mods & IW_MOD_RE_S) { opts |= PCRE2_DOTALL; hsflags |= HS_FLAG_DOTALL; }
    {
        dcheck_t d = { .kind = D_LONG };
        if (long_line_regex(re, mods, &d.num, &d.mode)) {
            md_direct(b, ms, d, 0.5);
            return 0;
        }
    }
    code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, opts, &err, &off, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof(msg));
        iw_engine__berr(b, v->line, v->col, "bad regular expression at offset %lu: %s",
                        (unsigned long)off, (const char *)msg);
        return -1;
    }
    APR_ARRAY_PUSH(b->e->codes, pcre2_code *) = code;
    m = md_push(ms);
    m->kind = M_RE;
    m->code = code;
    m->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    m->expr = re;
    m->flags = hsflags;
    m->w = 0.05;
    m->sig = apr_psprintf(b->tp, "r%x:%s", opts, re);
    return 0;
}

int iw_engine_exact_regexes = 1;

/* The regexes of ids that Vectorscan takes as they are (no lookaround,
 * backreference or other construct it lacks): compiled exactly, their
 * report is the answer PCRE2 would give (the same syntax and semantics
 * for what it accepts; no Unicode), so no confirmation runs.  A regex
 * whose database then fails goes back to the prefilter (compile_hs in
 * iw_engine_compile.c). */
void iw_engine__exact_regexes(build_t *b, const apr_array_header_t *ids)
{
    int i;
    if (!iw_engine_exact_regexes) return;
    for (i = 0; i < ids->nelts; i++) {
        unsigned id = APR_ARRAY_IDX(ids, i, unsigned);
        pat_t *pt;
        hs_expr_info_t *info = NULL;
        hs_compile_error_t *err = NULL;
        if (id >= (unsigned)b->pats->nelts) continue;
        pt = &APR_ARRAY_IDX(b->pats, id, pat_t);
        if (!pt->rxre || !(pt->flags & HS_FLAG_PREFILTER)) continue;
        if (hs_expression_info(pt->expr, pt->flags & ~(unsigned)(HS_FLAG_PREFILTER | HS_FLAG_SINGLEMATCH),
                               &info, &err) != HS_SUCCESS) {
            if (err) hs_free_compile_error(err);
            continue;
        }
        free(info);
        pt->flags &= ~(unsigned)HS_FLAG_PREFILTER;
        pt->exact = 1;
    }
}

static int cidr_matcher(build_t *b, apr_array_header_t *ms, const char *s,
                        const iw_value_t *v)
{
    mdesc_t *m = md_push(ms);
    m->kind = M_CIDR;
    if (!iw_match_radix_parse_cidr(s, strlen(s), m->addr, &m->plen)) {
        iw_engine__berr(b, v->line, v->col, "bad CIDR value '%s'", s);
        ms->nelts--;
        return -1;
    }
    m->w = 0.05;
    m->sig = "";  /* the item signature lists the prefixes itself */
    return 0;
}

/* All matchers one YAML value stands for (expansions are alternatives). */
int iw_engine__value_matchers(build_t *b, apr_array_header_t *ms, const iw_item_t *it,
                              unsigned mods, const iw_value_t *v, int field)
{
    int64_t num;
    apr_array_header_t *strs;
    int i, rc = 0;

    if (mods & IW_MOD_EXISTS) {
        int want = v->type == IW_VAL_BOOL ? v->boolean
                 : v->s.p && (!strcasecmp(v->s.p, "true") || !strcmp(v->s.p, "yes"));
        dcheck_t d = { .kind = want ? D_PRESENT : D_ABSENT };
        md_direct(b, ms, d, want ? 1.0 : 0.5);
        return 0;
    }
    if (v->type == IW_VAL_NULL) {
        dcheck_t d = { .kind = D_NULL };
        md_direct(b, ms, d, 0.5);
        return 0;
    }
    if (mods & IW_MOD_FIELDREF) {
        char *name = apr_pstrmemdup(b->tp, v->s.p ? v->s.p : "", v->s.len);
        int f2 = iw_field_lookup(name);
        dcheck_t d = { .kind = D_FIELDREF, .field2 = f2 >= 0 ? f2 : it->fieldref,
                       .cased = (mods & IW_MOD_CASED) != 0,
                       .mode = mods & IW_MOD_CONTAINS ? FR_CONTAINS
                             : mods & IW_MOD_STARTSWITH ? FR_STARTS
                             : mods & IW_MOD_ENDSWITH ? FR_ENDS : FR_EQ };
        if (d.field2 < 0 || d.field2 >= IW_F__COUNT) {
            iw_engine__berr(b, v->line, v->col, "|fieldref: unknown field '%s'", name);
            return -1;
        }
        md_direct(b, ms, d, 0.5);
        return 0;
    }
    if (time_unit(mods) || (mods & (IW_MOD_LT | IW_MOD_LTE | IW_MOD_GT | IW_MOD_GTE))) {
        dcheck_t d = { .kind = time_unit(mods) ? D_TIME : D_NUM,
                       .unit = time_unit(mods), .op = cmp_op(mods) };
        if (!numeric_value(v, &num)) {
            iw_engine__berr(b, v->line, v->col, "a number is needed with this modifier");
            return -1;
        }
        d.num = num;
        md_direct(b, ms, d, d.op == OP_EQ ? 0.3 : 0.5);
        return 0;
    }
    if (v->type == IW_VAL_NUMBER && iw_field_is_numeric(field)
        && !(mods & (IW_MOD_CONTAINS | IW_MOD_STARTSWITH | IW_MOD_ENDSWITH | IW_MOD_RE
                     | IW_MOD_CIDR | IW_MOD_BASE64 | IW_MOD_BASE64OFFSET))) {
        dcheck_t d = { .kind = D_NUM, .op = OP_EQ, .num = v->num };
        md_direct(b, ms, d, 0.3);
        return 0;
    }
    if (mods & IW_MOD_EXPAND) {
        if (!(strs = expand_value(b, v))) return -1;
    } else {
        strs = apr_array_make(b->tp, 1, sizeof(char *));
        APR_ARRAY_PUSH(strs, char *) = v->s.p
            ? apr_pstrmemdup(b->tp, v->s.p, v->s.len)
            : (char *)(v->type == IW_VAL_BOOL ? (v->boolean ? "true" : "false") : "");
    }
    for (i = 0; i < strs->nelts && rc == 0; i++) {
        const char *s = APR_ARRAY_IDX(strs, i, const char *);
        if (mods & IW_MOD_RE) rc = regex_matcher(b, ms, s, mods, v);
        else if (mods & IW_MOD_CIDR) rc = cidr_matcher(b, ms, s, v);
        else rc = string_matchers(b, ms, s, strlen(s), mods, field, v);
    }
    return rc;
}
