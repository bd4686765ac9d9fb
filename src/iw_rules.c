/* SPDX-License-Identifier: Apache-2.0 */
/* iw_rules: Sigma YAML -> rule model (see iw_rules.h).
 *
 * Every YAML document is parsed into a small DOM with marks (iw_rules_yaml), then
 * into an iw_rule_t in the ruleset pool.  A document with any error is not
 * added (other documents of the file are kept); every problem is reported
 * as file:line:col of the offending node.  Cross-document references
 * (correlation `rules`, filter `rules`, duplicate ids) are resolved later by
 * iw_ruleset_link (iw_rules_link.c), which needs the positions of the
 * references: they are kept in a private side table (rule_ext_t) so the
 * public model stays small.  This file reads files, directories and
 * documents, owns the diagnostics and the side table, and records the
 * sources for a later rebuild; iw_rules_detect.c and iw_rules_corr.c parse
 * the detection and correlation sections (see iw_rules_int.h). */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <ctype.h>
#include <glob.h>
#include <apr_strings.h>
#include <apr_file_info.h>
#include "iw_rules_int.h"

#define MAX_RULE_FILE (32u << 20)   /* a rule file larger than this is a mistake */
#define MAX_DIR_DEPTH 16

/* ---- generic node helpers ------------------------------------------ */

/* Text attribute `key` of map m; NULL when absent.  Wrong type -> error. */
static const char *get_text(ctx_t *c, const iw_rules_yaml_node_t *m, const char *key,
                            const iw_rules_yaml_node_t **node_out)
{
    const iw_rules_yaml_node_t *k = NULL, *v = iw_rules_yaml_map_get(m, key, &k);

    if (node_out) *node_out = v;
    if (!v || iw_rules_yaml_scalar_is_null(v)) return NULL;
    if (v->type != IW_RULES_YAML_SCALAR) {
        iw_rules__err(c, v, "'%s' must be a text value, got %s", key, iw_rules_yaml_kind(v));
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
        iw_rules__err(c, v, "'%s' must be a list of text values, got %s", key, iw_rules_yaml_kind(v));
        return a;
    }
    for (i = 0; i < v->nkids; i++) {
        const iw_rules_yaml_node_t *e = v->kids[i];
        if (e->type != IW_RULES_YAML_SCALAR) {
            /* informational metadata: not worth rejecting the rule */
            iw_rules__warn(c, e, "'%s' entry is %s, not text (ignored)%s", key, iw_rules_yaml_kind(e),
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
        iw_rules__err(c, m, "missing mandatory 'title'");
    else if (n->type != IW_RULES_YAML_SCALAR)
        ;                               /* reported by get_text */
    else if (!r->title || !*r->title)
        iw_rules__err(c, n, "'title' is empty");
    else if (strlen(r->title) > 256)
        iw_rules__err(c, n, "'title' is longer than 256 characters");
    r->description = get_text(c, m, "description", NULL);
    r->author = get_text(c, m, "author", NULL);
    r->status = get_text(c, m, "status", &n);
    if (r->status) {
        for (i = 0; statuses[i] && strcmp(statuses[i], r->status); i++) ;
        if (!statuses[i])
            iw_rules__err(c, n, "status '%s' is not one of stable, test, experimental, "
                "deprecated, unsupported", r->status);
    }
    r->date = get_text(c, m, "date", &n);
    if (r->date && !valid_date(r->date))
        iw_rules__warn(c, n, "date '%s' is not YYYY-MM-DD", r->date);
    r->modified = get_text(c, m, "modified", &n);
    if (r->modified && !valid_date(r->modified))
        iw_rules__warn(c, n, "modified '%s' is not YYYY-MM-DD", r->modified);
    {
        const char *lvl = get_text(c, m, "level", &n);
        if (lvl) {
            r->level = iw_level_parse(lvl);
            if (r->level == IW_LEVEL_NONE)
                iw_rules__err(c, n, "level '%s' is not one of informational, low, medium, "
                    "high, critical", lvl);
        }
    }
    r->tags = get_text_list(c, m, "tags");
    r->references = get_text_list(c, m, "references");
    r->falsepositives = get_text_list(c, m, "falsepositives");
}

/* iocwatch sees two log sources; anything else would silently never match. */
static void parse_logsource(ctx_t *c, const iw_rules_yaml_node_t *m, int required)
{
    iw_rule_t *r = c->r;
    const iw_rules_yaml_node_t *k = NULL, *ls = iw_rules_yaml_map_get(m, "logsource", &k);
    const char *cat, *prod, *svc;

    if (!ls) {
        if (required) iw_rules__err(c, m, "missing mandatory 'logsource'");
        return;
    }
    if (ls->type != IW_RULES_YAML_MAP) {
        iw_rules__err(c, ls, "'logsource' must be a map, got %s", iw_rules_yaml_kind(ls));
        return;
    }
    r->ls_category = get_text(c, ls, "category", NULL);
    r->ls_product = get_text(c, ls, "product", NULL);
    r->ls_service = get_text(c, ls, "service", NULL);
    cat = r->ls_category ? iw_rules__lower(c->p, r->ls_category) : NULL;
    prod = r->ls_product ? iw_rules__lower(c->p, r->ls_product) : NULL;
    svc = r->ls_service ? iw_rules__lower(c->p, r->ls_service) : NULL;
    if (cat && !strcmp(cat, "webserver") && (!prod || !strcmp(prod, "apache"))
        && (!svc || !strcmp(svc, "apache")))
        r->applies_to = IW_EV_ACCESS;
    else if (!cat && svc && !strcmp(svc, "apache") && (!prod || !strcmp(prod, "apache")))
        r->applies_to = IW_EV_ERROR;
    else
        iw_rules__err(c, ls, "logsource (category: %s, product: %s, service: %s) not supported: "
            "iocwatch sees webserver access events (category: webserver) and the "
            "Apache error log (service: apache)", cat ? cat : "-", prod ? prod : "-",
            svc ? svc : "-");
}

/* ---- filter ---------------------------------------------------------- */

/* pySigma: `rules: any` / `all` / [] = every rule of the filter's log source. */
static int filter_any_rules(const iw_rules_yaml_node_t *m)
{
    const iw_rules_yaml_node_t *v = iw_rules_yaml_map_get(m, "rules", NULL);
    if (!v) return 0;
    if (v->type == IW_RULES_YAML_SEQ) return v->nkids == 0;
    return iw_rules__is_text(v) && (!strcasecmp(v->s, "any") || !strcasecmp(v->s, "all"));
}

static void parse_filter(ctx_t *c, const iw_rules_yaml_node_t *m)
{
    static const char *const skip[] = {"condition", "rules", NULL};

    if (m->type != IW_RULES_YAML_MAP) {
        iw_rules__err(c, m, "'filter' must be a map with rules, selections and a condition, got %s",
            iw_rules_yaml_kind(m));
        return;
    }
    if (filter_any_rules(m)) {
        c->x->any_rules = 1;
        c->r->filter_refs = apr_array_make(c->p, 1, sizeof(const char *));
    } else {
        c->r->filter_refs = iw_rules__parse_refs(c, m, "filter", &c->x->refs);
    }
    c->r->filter_rules = apr_array_make(c->p, 2, sizeof(iw_rule_t *));
    iw_rules__parse_selections(c, m, skip);
    if (c->r->selections->nelts == 0)
        iw_rules__err(c, m, "filter has no selection");
    iw_rules__parse_condition(c, m, "filter");
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
        iw_rules__err(c, root, "a Sigma rule must be a map, got %s", iw_rules_yaml_kind(root));
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
        iw_rules__err(c, root, "not a Sigma rule: no 'detection', 'correlation' or 'filter' section");
        return 0;
    }
    if (!!det + !!cor + !!fil > 1) {
        iw_rules__err(c, cor && det ? kc : kf, "a document holds one of 'detection', 'correlation' "
            "or 'filter', not several");
        return 0;
    }
    parse_meta(c, root);
    if (det) {
        int before = c->nerr;
        r->kind = IW_RULE_DETECTION;
        parse_logsource(c, root, 1);
        /* fields of another log source would only add noise */
        if (c->nerr == before) iw_rules__parse_detection(c, det);
    } else if (cor) {
        r->kind = IW_RULE_CORRELATION;
        iw_rules__parse_correlation(c, root, cor);
    } else {
        r->kind = IW_RULE_FILTER;
        r->generate = 0;
        parse_logsource(c, root, 1);
        parse_filter(c, fil);
    }
    if (c->nerr) return 0;
    r->index = c->rs->rules->nelts;
    APR_ARRAY_PUSH(c->rs->rules, iw_rule_t *) = r;
    iw_rules__set_ext(c->rs, r, c->x);
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
        iw_rules__load_err(diag, "<saved rules>", "saved rule sources are damaged at byte %lu",
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
        iw_rules__load_err(diag, path, "cannot open rule file: %s", strerror(errno));
        return 0;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        iw_rules__load_err(diag, path, "cannot read rule file: %s", strerror(errno));
        fclose(f);
        return 0;
    }
    if ((unsigned long)size > MAX_RULE_FILE) {
        iw_rules__load_err(diag, path, "rule file is larger than %u MiB", MAX_RULE_FILE >> 20);
        fclose(f);
        return 0;
    }
    buf = malloc((size_t)size + 1);
    if (!buf) { fclose(f); iw_rules__load_err(diag, path, "out of memory"); return 0; }
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
        iw_rules__load_err(diag, dir, "directories nested deeper than %d (symlink loop?)", MAX_DIR_DEPTH);
        return;
    }
    if (apr_dir_open(&d, dir, p) != APR_SUCCESS) {
        iw_rules__load_err(diag, dir, "cannot open rule directory");
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
            iw_rules__load_err(diag, path, "no rule files match this pattern");
            return 0;
        }
        if (rc != 0) {
            iw_rules__load_err(diag, path, "cannot expand pattern");
            return 0;
        }
        for (i = 0; i < g.gl_pathc; i++)          /* glob() sorts */
            n += load_path(rs, g.gl_pathv[i], diag, 1);
        globfree(&g);
        return n;
    }
    iw_rules__load_err(diag, path, "cannot read rules: no such file or directory");
    return 0;
}

int iw_rules_load(iw_ruleset_t *rs, const char *path, iw_diag_t *diag)
{
    if (!rs || !path || !*path) {
        iw_rules__load_err(diag, path ? path : "", "no rule path given");
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
