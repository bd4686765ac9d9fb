/* SPDX-License-Identifier: Apache-2.0 */
/* Broken-rule corpus: every tests/rules/broken/NAME.yml starts with
 * "# expect: <fragment>", a substring of the diagnostic it must produce,
 * including its ":line:col:".  Each file is loaded and linked on its own. */
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include "iw_test.h"
#include "iw_rules.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static apr_array_header_t *list_yml(apr_pool_t *p, const char *dir)
{
    apr_array_header_t *a = apr_array_make(p, 64, sizeof(const char *));
    apr_dir_t *d;
    apr_finfo_t fi;
    if (apr_dir_open(&d, dir, p) != APR_SUCCESS) return a;
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        size_t n = strlen(fi.name);
        if (n > 4 && !strcmp(fi.name + n - 4, ".yml"))
            APR_ARRAY_PUSH(a, const char *) = apr_pstrcat(p, dir, "/", fi.name, NULL);
    }
    apr_dir_close(d);
    qsort(a->elts, a->nelts, sizeof(const char *), cmp_str);
    return a;
}

/* The fragment after "# expect: " on line 1, or NULL. */
static const char *expectation(apr_pool_t *p, const char *path)
{
    char line[1024];
    FILE *f = fopen(path, "r");
    size_t n;
    if (!f) return NULL;
    if (!fgets(line, sizeof(line), f)) line[0] = 0;
    fclose(f);
    n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    if (strncmp(line, "# expect: ", 10) || n <= 10) return NULL;
    return apr_pstrdup(p, line + 10);
}

/* Load + link one file; returns 1 when a diagnostic contains `want`. */
static int produces(apr_pool_t *p, const char *path, const char *want, int *nerr)
{
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    int i;
    iw_rules_load(rs, path, d);
    iw_ruleset_link(rs, d);
    *nerr = d->errors;
    for (i = 0; i < d->msgs->nelts; i++)
        if (strstr(APR_ARRAY_IDX(d->msgs, i, iw_diag_msg_t).text, want)) return 1;
    fprintf(stderr, "  %s: expected \"%s\", got:\n", path, want);
    iw_diag_print(d, stderr, "    ");
    return 0;
}

TEST(broken_rules_corpus)
{
    apr_array_header_t *files = list_yml(p, iw_test_path(p, "tests/rules/broken"));
    int i, nerr;

    CHECK(files->nelts >= 35);
    for (i = 0; i < files->nelts; i++) {
        const char *path = APR_ARRAY_IDX(files, i, const char *);
        const char *want = expectation(p, path);
        apr_pool_t *sub;
        if (!want) {
            fprintf(stderr, "  %s: first line is not '# expect: ...'\n", path);
            CHECK(want);
            continue;
        }
        apr_pool_create(&sub, p);
        CHECK(produces(sub, path, want, &nerr));
        /* everything in the corpus is an error, except what the spec makes
         * a warning (a filter naming a rule that is not loaded) */
        if (!strstr(want, ": warning: ") && nerr == 0) {
            fprintf(stderr, "  %s: no error reported\n", path);
            CHECK(nerr > 0);
        }
        apr_pool_destroy(sub);
    }
}

/* The same corpus through one ruleset: one bad file never hides another's
 * error, and nothing crashes when everything is loaded together. */
TEST(broken_rules_all_at_once)
{
    iw_ruleset_t *rs = iw_ruleset_create(p);
    iw_diag_t *d = iw_diag_create(p);
    apr_array_header_t *files = list_yml(p, iw_test_path(p, "tests/rules/broken"));
    int i, hit = 0;

    iw_rules_load(rs, iw_test_path(p, "tests/rules/broken"), d);
    iw_ruleset_link(rs, d);
    for (i = 0; i < files->nelts; i++) {
        const char *path = APR_ARRAY_IDX(files, i, const char *);
        const char *base = strrchr(path, '/') + 1;
        int j;
        for (j = 0; j < d->msgs->nelts; j++)
            if (strstr(APR_ARRAY_IDX(d->msgs, j, iw_diag_msg_t).text, base)) { hit++; break; }
    }
    CHECK_INT(hit, files->nelts);
    CHECK(d->errors >= files->nelts - 1);
}
