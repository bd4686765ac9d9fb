/* SPDX-License-Identifier: Apache-2.0 */
/* Unit-test runner: runs every registered TEST (optionally only those whose
 * name contains argv[1]) and prints the closing "N passed, N failed" line. */
#include <stdlib.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "iw_test.h"

typedef struct { const char *name, *file; iw_test_fn fn; } reg_t;
static reg_t *tests;
static int ntests, cap;

void iw_test_register(const char *name, const char *file, iw_test_fn fn)
{
    if (ntests == cap) {
        cap = cap ? cap * 2 : 64;
        tests = realloc(tests, cap * sizeof(*tests));
        if (!tests) abort();
    }
    tests[ntests++] = (reg_t){name, file, fn};
}

const char *iw_test_path(apr_pool_t *p, const char *rel)
{
    const char *dir = getenv("IW_SRCDIR");
    return apr_pstrcat(p, dir ? dir : ".", "/", rel, NULL);
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0, i;
    apr_pool_t *root;

    apr_initialize();
    apr_pool_create(&root, NULL);
    for (i = 0; i < ntests; i++) {
        apr_pool_t *p;
        int f = 0;
        if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
        apr_pool_create(&p, root);
        tests[i].fn(p, &f);
        apr_pool_destroy(p);
        if (f) { failed++; fprintf(stderr, "FAIL %s (%s)\n", tests[i].name, tests[i].file); }
        else passed++;
    }
    apr_pool_destroy(root);
    apr_terminate();
    printf("unit: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
