/* SPDX-License-Identifier: Apache-2.0 */
/* iw_rules_cond: the Sigma condition grammar (see iw_rules.h).
 *
 *   expr    := and ( "or" and )*          least binding
 *   and     := unary ( "and" unary )*
 *   unary   := "not" unary | primary
 *   primary := "(" expr ")" | ("1" | "all") "of" (pattern | "them") | name
 *
 * Chains of one operator become one n-ary node; "x of" is expanded at
 * parse time into OR/AND over the matching selections (declaration order),
 * so the engine only ever sees SEL/AND/OR/NOT.  The old aggregation syntax
 * ("| count() by ...", "| near") is refused with a pointer to correlation
 * rules. */
#include <stdarg.h>
#include <string.h>
#include <ctype.h>
#include <apr_strings.h>
#include "iw_rules_cond.h"
#include "iw_rules.h"

#define COND_MAX_DEPTH 64

typedef enum {
    T_END = 0, T_LP, T_RP, T_AND, T_OR, T_NOT, T_OF, T_ONE, T_ALL, T_THEM, T_ID
} tok_type_t;

typedef struct {
    tok_type_t t;
    const char *s;
    size_t len;
    int off;            /* byte offset in the expression */
} token_t;

typedef struct {
    apr_pool_t *p;
    const char *expr;
    const apr_array_header_t *sels;
    const char *file, *rule_id;
    int line, col;
    iw_diag_t *diag;
    token_t *toks;
    int ntoks, pos, depth, parens;
    int failed;
} cparser_t;

/* Position of a byte offset: the expression starts at line:col; a
 * multi-line (folded) expression continues at column 1 of later lines. */
static void pos_of(const cparser_t *c, int off, int *line, int *col)
{
    int i, l = c->line, last_nl = -1;
    for (i = 0; i < off && c->expr[i]; i++)
        if (c->expr[i] == '\n') { l++; last_nl = i; }
    *line = l;
    *col = last_nl < 0 ? c->col + off : off - last_nl;
}

static void cerr(cparser_t *c, int off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void cerr(cparser_t *c, int off, const char *fmt, ...)
{
    va_list ap;
    const char *text;
    int line, col;

    if (c->failed) return;          /* first error only: the rest is noise */
    c->failed = 1;
    va_start(ap, fmt);
    text = apr_pvsprintf(c->p, fmt, ap);
    va_end(ap);
    pos_of(c, off, &line, &col);
    iw_diag_add(c->diag, IW_DIAG_ERROR, c->file, line, col, c->rule_id,
                "condition: %s", text);
}

static int word_is(const char *s, size_t len, const char *w)
{
    return strlen(w) == len && !strncasecmp(s, w, len);
}

static tok_type_t classify(const char *s, size_t len)
{
    if (word_is(s, len, "and")) return T_AND;
    if (word_is(s, len, "or")) return T_OR;
    if (word_is(s, len, "not")) return T_NOT;
    if (word_is(s, len, "of")) return T_OF;
    if (word_is(s, len, "all")) return T_ALL;
    if (word_is(s, len, "them")) return T_THEM;
    if (len == 1 && *s == '1') return T_ONE;
    return T_ID;
}

/* Tokenise; returns -1 (with diag) on the aggregation pipe. */
static int tokenize(cparser_t *c)
{
    const char *e = c->expr;
    int i = 0, n = 0, cap = 16;

    c->toks = apr_palloc(c->p, cap * sizeof(token_t));
    for (;;) {
        token_t t;
        while (e[i] && isspace((unsigned char)e[i])) i++;
        t.off = i;
        t.s = e + i;
        t.len = 1;
        if (!e[i]) t.t = T_END;
        else if (e[i] == '(') t.t = T_LP;
        else if (e[i] == ')') t.t = T_RP;
        else if (e[i] == '|') {
            cerr(c, i, "aggregation expressions in condition are deprecated; "
                 "use a Sigma correlation rule (event_count) instead");
            return -1;
        }
        else {
            int j = i;
            while (e[j] && !isspace((unsigned char)e[j]) && e[j] != '('
                   && e[j] != ')' && e[j] != '|')
                j++;
            t.len = (size_t)(j - i);
            t.t = classify(t.s, t.len);
        }
        if (n == cap) {
            token_t *nt = apr_palloc(c->p, 2 * cap * sizeof(token_t));
            memcpy(nt, c->toks, cap * sizeof(token_t));
            c->toks = nt;
            cap *= 2;
        }
        c->toks[n++] = t;
        if (t.t == T_END) break;
        i += (int)t.len;
    }
    c->ntoks = n;
    return 0;
}

static token_t *peek(cparser_t *c) { return &c->toks[c->pos]; }
static token_t *next(cparser_t *c)
{
    token_t *t = &c->toks[c->pos];
    if (t->t != T_END) c->pos++;
    return t;
}

static const char *tok_text(cparser_t *c, const token_t *t)
{
    return t->t == T_END ? "end of condition" : apr_pstrmemdup(c->p, t->s, t->len);
}

static iw_rules_cond_t *leaf(cparser_t *c, int sel)
{
    iw_rules_cond_t *n = apr_pcalloc(c->p, sizeof(*n));
    n->type = IW_RULES_COND_SEL;
    n->sel = sel;
    return n;
}

static iw_rules_cond_t *node(cparser_t *c, iw_rules_cond_type_t type, iw_rules_cond_t **kids, int n)
{
    iw_rules_cond_t *r = apr_pcalloc(c->p, sizeof(*r));
    r->type = type;
    r->nkids = n;
    r->kids = apr_pmemdup(c->p, kids, n * sizeof(*kids));
    return r;
}

static const iw_selection_t *sel_at(const cparser_t *c, int i)
{
    return &APR_ARRAY_IDX(c->sels, i, iw_selection_t);
}

/* '*' matches any run of characters (the only wildcard Sigma defines). */
static int pattern_match(const char *pat, size_t plen, const char *s)
{
    const char *star_p = NULL, *star_s = NULL, *pe = pat + plen;

    while (*s) {
        if (pat < pe && *pat == '*') { star_p = ++pat; star_s = s; continue; }
        if (pat < pe && *pat == *s) { pat++; s++; continue; }
        if (!star_p) return 0;
        pat = star_p;
        s = ++star_s;
    }
    while (pat < pe && *pat == '*') pat++;
    return pat == pe;
}

static int find_sel(const cparser_t *c, const char *s, size_t len)
{
    int i;
    for (i = 0; c->sels && i < c->sels->nelts; i++) {
        const char *name = sel_at(c, i)->name;
        if (strlen(name) == len && !memcmp(name, s, len)) return i;
    }
    return -1;
}

static const char *sel_list(cparser_t *c)
{
    const char *out = NULL;
    int i;
    for (i = 0; c->sels && i < c->sels->nelts; i++)
        out = out ? apr_pstrcat(c->p, out, ", ", sel_at(c, i)->name, NULL)
                  : sel_at(c, i)->name;
    return out ? out : "none";
}

/* "1 of" / "all of" followed by "them" or a pattern. */
static iw_rules_cond_t *parse_quant(cparser_t *c)
{
    token_t *q = next(c), *t;
    int all = q->t == T_ALL, i, n = 0, them;
    iw_rules_cond_t **kids;

    if (peek(c)->t != T_OF) {
        cerr(c, peek(c)->off, "expected 'of' after '%s', got '%s'",
             tok_text(c, q), tok_text(c, peek(c)));
        return NULL;
    }
    next(c);
    t = next(c);
    if (t->t != T_THEM && t->t != T_ID) {
        cerr(c, t->off, "expected a selection pattern or 'them' after '%s of', got '%s'",
             all ? "all" : "1", tok_text(c, t));
        return NULL;
    }
    them = t->t == T_THEM;
    kids = apr_palloc(c->p, (c->sels ? c->sels->nelts : 0) * sizeof(*kids) + 1);
    for (i = 0; c->sels && i < c->sels->nelts; i++) {
        const char *name = sel_at(c, i)->name;
        int hit = them ? name[0] != '_' : pattern_match(t->s, t->len, name);
        if (hit) kids[n++] = leaf(c, i);
    }
    if (n == 0) {
        if (them)
            cerr(c, t->off, "'them' matches no selection");
        else
            cerr(c, t->off, "pattern '%s' matches no selection (selections: %s)",
                 tok_text(c, t), sel_list(c));
        return NULL;
    }
    return n == 1 ? kids[0] : node(c, all ? IW_RULES_COND_AND : IW_RULES_COND_OR, kids, n);
}

static iw_rules_cond_t *parse_or(cparser_t *c);

static iw_rules_cond_t *parse_primary(cparser_t *c)
{
    token_t *t = peek(c);
    iw_rules_cond_t *e;
    int i;

    switch (t->t) {
    case T_LP:
        if (++c->depth > COND_MAX_DEPTH) {
            cerr(c, t->off, "parentheses nested deeper than %d", COND_MAX_DEPTH);
            return NULL;
        }
        next(c);
        c->parens++;
        e = parse_or(c);
        if (!e) return NULL;
        if (peek(c)->t != T_RP) {
            if (peek(c)->t == T_END)
                cerr(c, t->off, "unbalanced parentheses: '(' is never closed");
            else
                cerr(c, peek(c)->off, "expected ')' or an operator, got '%s'",
                     tok_text(c, peek(c)));
            return NULL;
        }
        next(c);
        c->depth--;
        c->parens--;
        return e;
    case T_ONE:
    case T_ALL:
        return parse_quant(c);
    case T_ID:
        if (c->toks[c->pos + 1].t == T_OF) {
            if (word_is(t->s, t->len, "any"))
                cerr(c, t->off, "'any of' is not Sigma: use '1 of'");
            else
                cerr(c, t->off, "'%s of' is not Sigma: only '1 of' and 'all of' exist",
                     tok_text(c, t));
            return NULL;
        }
        i = find_sel(c, t->s, t->len);
        if (i < 0 && memchr(t->s, '*', t->len)) {
            cerr(c, t->off, "'%s' is a pattern: write '1 of %s' or 'all of %s'",
                 tok_text(c, t), tok_text(c, t), tok_text(c, t));
            return NULL;
        }
        if (i < 0) {
            cerr(c, t->off, "unknown selection '%s' (selections: %s)",
                 tok_text(c, t), sel_list(c));
            return NULL;
        }
        next(c);
        return leaf(c, i);
    case T_RP:
        if (c->parens) cerr(c, t->off, "expected a selection name, got ')'");
        else cerr(c, t->off, "unbalanced parentheses: ')' without '('");
        return NULL;
    case T_END:
        if (c->pos == 0) cerr(c, t->off, "empty condition");
        else cerr(c, t->off, "expected a selection name at end of condition");
        return NULL;
    default:
        cerr(c, t->off, "expected a selection name, got '%s'", tok_text(c, t));
        return NULL;
    }
}

static iw_rules_cond_t *parse_unary(cparser_t *c)
{
    iw_rules_cond_t *k;

    if (peek(c)->t != T_NOT) return parse_primary(c);
    if (++c->depth > COND_MAX_DEPTH) {
        cerr(c, peek(c)->off, "'not' nested deeper than %d", COND_MAX_DEPTH);
        return NULL;
    }
    next(c);
    k = parse_unary(c);
    c->depth--;
    return k ? node(c, IW_RULES_COND_NOT, &k, 1) : NULL;
}

/* One left-associative chain of `op` over `sub` -> one n-ary node. */
static iw_rules_cond_t *parse_chain(cparser_t *c, tok_type_t op, iw_rules_cond_type_t type,
                              iw_rules_cond_t *(*sub)(cparser_t *))
{
    apr_array_header_t *kids = NULL;
    iw_rules_cond_t *first = sub(c);

    if (!first) return NULL;
    while (peek(c)->t == op) {
        iw_rules_cond_t *k;
        next(c);
        if (!(k = sub(c))) return NULL;
        if (!kids) {
            kids = apr_array_make(c->p, 4, sizeof(iw_rules_cond_t *));
            APR_ARRAY_PUSH(kids, iw_rules_cond_t *) = first;
        }
        APR_ARRAY_PUSH(kids, iw_rules_cond_t *) = k;
    }
    return kids ? node(c, type, (iw_rules_cond_t **)kids->elts, kids->nelts) : first;
}

static iw_rules_cond_t *parse_and(cparser_t *c)
{
    return parse_chain(c, T_AND, IW_RULES_COND_AND, parse_unary);
}

static iw_rules_cond_t *parse_or(cparser_t *c)
{
    return parse_chain(c, T_OR, IW_RULES_COND_OR, parse_and);
}

iw_rules_cond_t *iw_rules_cond_parse(apr_pool_t *p, const char *expr,
                         const apr_array_header_t *selections,
                         const char *file, int line, int col,
                         const char *rule_id, iw_diag_t *diag)
{
    cparser_t c;
    iw_rules_cond_t *e;
    token_t *t;

    memset(&c, 0, sizeof(c));
    c.p = p;
    c.expr = expr ? expr : "";
    c.sels = selections;
    c.file = file;
    c.rule_id = rule_id;
    c.line = line;
    c.col = col;
    c.diag = diag;
    if (tokenize(&c) < 0) return NULL;
    e = parse_or(&c);
    if (!e) return NULL;
    t = peek(&c);
    if (t->t == T_RP) {
        cerr(&c, t->off, "unbalanced parentheses: ')' without '('");
        return NULL;
    }
    if (t->t != T_END) {
        cerr(&c, t->off, "unexpected '%s' after a complete expression "
             "(missing 'and'/'or'?)", tok_text(&c, t));
        return NULL;
    }
    return e;
}
