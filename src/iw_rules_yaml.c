/* SPDX-License-Identifier: Apache-2.0 */
/* iw_rules_yaml: libyaml parser events -> small DOM with marks (see iw_rules_yaml.h).
 * Built with an explicit stack (no recursion), so hostile nesting cannot
 * exhaust the C stack; depth is bounded anyway for the consumers. */
#include <string.h>
#include <stdlib.h>
#include <errno.h>
#include <yaml.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include "iw_rules_yaml.h"

#define IW_RULES_YAML_MAX_DEPTH 64

typedef struct {
    iw_rules_yaml_node_t *node;
    apr_array_header_t *kids;   /* iw_rules_yaml_node_t* */
    apr_hash_t *keys;           /* maps: scalar key -> first key node */
} frame_t;

typedef struct {
    apr_pool_t *p;
    frame_t stack[IW_RULES_YAML_MAX_DEPTH];
    int depth;
    iw_rules_yaml_doc_t cur;
    const char *err;
    int eline, ecol;
    const char *buf;            /* the input, for block scalar positions */
    size_t len;
} builder_t;

static void set_err(builder_t *b, const yaml_mark_t *m, const char *msg)
{
    b->err = msg;
    b->eline = (int)m->line + 1;
    b->ecol = (int)m->column + 1;
}

static iw_rules_yaml_node_t *new_node(builder_t *b, iw_rules_yaml_type_t t,
                            const yaml_mark_t *m)
{
    iw_rules_yaml_node_t *n = apr_pcalloc(b->p, sizeof(*n));
    n->type = t;
    n->line = (int)m->line + 1;
    n->col = (int)m->column + 1;
    return n;
}

/* Attach a finished node to its parent (or make it the document root).
 * Map keys are checked for duplicates: PyYAML would silently keep the
 * last one, which hides a rule-writing mistake. */
static int attach(builder_t *b, iw_rules_yaml_node_t *n)
{
    frame_t *f;

    if (b->depth == 0) {
        b->cur.root = n;
        return 0;
    }
    f = &b->stack[b->depth - 1];
    if (f->node->type == IW_RULES_YAML_MAP && f->kids->nelts % 2 == 0
        && n->type == IW_RULES_YAML_SCALAR) {
        iw_rules_yaml_node_t *first = apr_hash_get(f->keys, n->s, (apr_ssize_t)n->len);
        if (first) {
            b->err = apr_psprintf(b->p, "duplicate key '%s' (first at line %d:%d)",
                                  n->s, first->line, first->col);
            b->eline = n->line;
            b->ecol = n->col;
            return -1;
        }
        apr_hash_set(f->keys, n->s, (apr_ssize_t)n->len, n);
    }
    *(iw_rules_yaml_node_t **)apr_array_push(f->kids) = n;
    return 0;
}

static int push(builder_t *b, iw_rules_yaml_node_t *n, const yaml_mark_t *m)
{
    frame_t *f;

    if (b->depth >= IW_RULES_YAML_MAX_DEPTH) {
        set_err(b, m, "YAML nesting too deep");
        return -1;
    }
    f = &b->stack[b->depth++];
    f->node = n;
    f->kids = apr_array_make(b->p, 8, sizeof(iw_rules_yaml_node_t *));
    f->keys = n->type == IW_RULES_YAML_MAP ? apr_hash_make(b->p) : NULL;
    return 0;
}

static int pop(builder_t *b)
{
    frame_t *f = &b->stack[--b->depth];
    iw_rules_yaml_node_t *n = f->node;

    n->nkids = f->kids->nelts;
    n->kids = (iw_rules_yaml_node_t **)f->kids->elts;
    return attach(b, n);
}

/* A block scalar ('|' or '>') starts at its indicator; its text starts on
 * the next line after the indentation.  Point there so that positions of
 * things inside the text (condition tokens) come out right. */
static void block_content_mark(builder_t *b, const yaml_mark_t *m, iw_rules_yaml_node_t *n)
{
    size_t i = m->index;
    int col = 1;

    while (i < b->len && b->buf[i] != '\n') i++;
    if (i >= b->len) return;
    for (i++; i < b->len && b->buf[i] == ' '; i++) col++;
    n->line = (int)m->line + 2;
    n->col = col;
}

static int on_scalar(builder_t *b, const yaml_event_t *ev)
{
    iw_rules_yaml_node_t *n = new_node(b, IW_RULES_YAML_SCALAR, &ev->start_mark);
    const char *tag = (const char *)ev->data.scalar.tag;

    n->len = ev->data.scalar.length;
    n->s = apr_pstrmemdup(b->p, (const char *)ev->data.scalar.value, n->len);
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
               && (!tag || !strcmp(tag, "!"));
    n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE
                || ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    if (ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE
        || ev->data.scalar.style == YAML_FOLDED_SCALAR_STYLE)
        block_content_mark(b, &ev->start_mark, n);
    return attach(b, n);
}

/* Line/col of a byte offset (reader errors carry only an offset). */
static void offset_mark(const char *buf, size_t len, size_t off, int *line, int *col)
{
    size_t i;
    *line = 1;
    *col = 1;
    for (i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') { (*line)++; *col = 1; }
        else (*col)++;
    }
}

static void parser_err(builder_t *b, yaml_parser_t *ps, const char *buf, size_t len)
{
    const char *problem = ps->problem ? ps->problem : "unknown error";

    if (ps->error == YAML_READER_ERROR) {
        b->err = apr_psprintf(b->p, "YAML error: %s (byte %lu)", problem,
                              (unsigned long)ps->problem_offset);
        offset_mark(buf, len, ps->problem_offset, &b->eline, &b->ecol);
        return;
    }
    if (ps->error == YAML_MEMORY_ERROR) {
        b->err = "YAML error: out of memory";
        b->eline = b->ecol = 1;
        return;
    }
    if (ps->context)
        b->err = apr_psprintf(b->p, "YAML syntax error: %s %s (line %d:%d)", problem,
                              ps->context, (int)ps->context_mark.line + 1,
                              (int)ps->context_mark.column + 1);
    else
        b->err = apr_psprintf(b->p, "YAML syntax error: %s", problem);
    b->eline = (int)ps->problem_mark.line + 1;
    b->ecol = (int)ps->problem_mark.column + 1;
}

/* Handle one event; returns 1 at stream end, 0 to continue, -1 on error. */
static int on_event(builder_t *b, const yaml_event_t *ev, apr_array_header_t *docs)
{
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        return 1;
    case YAML_DOCUMENT_START_EVENT:
        memset(&b->cur, 0, sizeof(b->cur));
        b->cur.line = (int)ev->start_mark.line + 1;
        b->cur.col = (int)ev->start_mark.column + 1;
        return 0;
    case YAML_DOCUMENT_END_EVENT:
        *(iw_rules_yaml_doc_t *)apr_array_push(docs) = b->cur;
        return 0;
    case YAML_ALIAS_EVENT:
        set_err(b, &ev->start_mark, "YAML aliases (*name) are not supported in rules");
        return -1;
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return push(b, new_node(b, IW_RULES_YAML_SEQ, &ev->start_mark), &ev->start_mark);
    case YAML_MAPPING_START_EVENT:
        return push(b, new_node(b, IW_RULES_YAML_MAP, &ev->start_mark), &ev->start_mark);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return b->depth > 0 ? pop(b) : 0;
    default:
        return 0;
    }
}

int iw_rules_yaml_parse(apr_pool_t *p, const char *buf, size_t len,
                  apr_array_header_t **docs, const char **err,
                  int *eline, int *ecol)
{
    yaml_parser_t ps;
    yaml_event_t ev;
    builder_t b;
    int rc = 0;

    memset(&b, 0, sizeof(b));
    b.p = p;
    b.buf = buf;
    b.len = len;
    *docs = apr_array_make(p, 4, sizeof(iw_rules_yaml_doc_t));
    if (!yaml_parser_initialize(&ps)) {
        *err = "YAML error: cannot initialise parser";
        *eline = *ecol = 1;
        return -1;
    }
    yaml_parser_set_input_string(&ps, (const unsigned char *)buf, len);
    for (;;) {
        if (!yaml_parser_parse(&ps, &ev)) {
            parser_err(&b, &ps, buf, len);
            rc = -1;
            break;
        }
        rc = on_event(&b, &ev, *docs);
        yaml_event_delete(&ev);
        if (rc) break;
    }
    yaml_parser_delete(&ps);
    if (rc < 0) {
        *err = b.err;
        *eline = b.eline;
        *ecol = b.ecol;
        return -1;
    }
    return 0;
}

int iw_rules_yaml_map_size(const iw_rules_yaml_node_t *m)
{
    return m && m->type == IW_RULES_YAML_MAP ? m->nkids / 2 : 0;
}

const iw_rules_yaml_node_t *iw_rules_yaml_map_key(const iw_rules_yaml_node_t *m, int i)
{
    return m->kids[2 * i];
}

const iw_rules_yaml_node_t *iw_rules_yaml_map_val(const iw_rules_yaml_node_t *m, int i)
{
    return m->kids[2 * i + 1];
}

const iw_rules_yaml_node_t *iw_rules_yaml_map_get(const iw_rules_yaml_node_t *m, const char *key,
                              const iw_rules_yaml_node_t **key_out)
{
    int i, n = iw_rules_yaml_map_size(m);
    for (i = 0; i < n; i++) {
        const iw_rules_yaml_node_t *k = iw_rules_yaml_map_key(m, i);
        if (k->type == IW_RULES_YAML_SCALAR && !strcmp(k->s, key)) {
            if (key_out) *key_out = k;
            return iw_rules_yaml_map_val(m, i);
        }
    }
    return NULL;
}

int iw_rules_yaml_scalar_is_null(const iw_rules_yaml_node_t *n)
{
    if (!n || n->type != IW_RULES_YAML_SCALAR || !n->plain) return 0;
    return n->len == 0 || !strcmp(n->s, "~") || !strcmp(n->s, "null")
           || !strcmp(n->s, "Null") || !strcmp(n->s, "NULL");
}

int iw_rules_yaml_scalar_bool(const iw_rules_yaml_node_t *n, int *out)
{
    static const char *const t[] = {"true", "True", "TRUE"};
    static const char *const f[] = {"false", "False", "FALSE"};
    int i;

    if (!n || n->type != IW_RULES_YAML_SCALAR || !n->plain) return 0;
    for (i = 0; i < 3; i++) {
        if (!strcmp(n->s, t[i])) { *out = 1; return 1; }
        if (!strcmp(n->s, f[i])) { *out = 0; return 1; }
    }
    return 0;
}

/* Decimal integers only ([-+]?[0-9]+), no overflow. */
int iw_rules_yaml_scalar_int(const iw_rules_yaml_node_t *n, long long *out)
{
    const char *s;
    char *end;
    long long v;

    if (!n || n->type != IW_RULES_YAML_SCALAR || !n->plain || n->len == 0) return 0;
    s = n->s;
    if (*s == '-' || *s == '+') s++;
    if (*s < '0' || *s > '9') return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    if (n->len != strlen(n->s)) return 0;
    errno = 0;
    v = strtoll(n->s, &end, 10);
    if (errno || *end) return 0;
    *out = v;
    return 1;
}

const char *iw_rules_yaml_kind(const iw_rules_yaml_node_t *n)
{
    if (!n) return "nothing";
    switch (n->type) {
    case IW_RULES_YAML_MAP: return "a map";
    case IW_RULES_YAML_SEQ: return "a list";
    default: return iw_rules_yaml_scalar_is_null(n) ? "an empty value" : "a value";
    }
}
