/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal unit-test harness: tests register themselves, main runs them and
 * prints "N passed, N failed".  Each TEST gets a fresh APR pool `p`. */
#ifndef IW_TEST_H
#define IW_TEST_H

#include <stdio.h>
#include <string.h>
#include <apr_pools.h>

typedef void (*iw_test_fn)(apr_pool_t *p, int *failed);
void iw_test_register(const char *name, const char *file, iw_test_fn fn);
/* Path of a file relative to the source tree ($IW_SRCDIR or "."). */
const char *iw_test_path(apr_pool_t *p, const char *rel);

#define TEST(name)                                                         \
    static void test_##name(apr_pool_t *p, int *iw_failed_);               \
    __attribute__((constructor)) static void reg_##name(void)              \
    { iw_test_register(#name, __FILE__, test_##name); }                    \
    static void test_##name(apr_pool_t *p, int *iw_failed_)

#define CHECK(cond) do { if (!(cond)) {                                    \
        fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        (*iw_failed_)++; } } while (0)
#define CHECK_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
        if (a_ != b_) { fprintf(stderr, "  %s:%d: %s == %lld, expected %lld\n", \
        __FILE__, __LINE__, #a, a_, b_); (*iw_failed_)++; } } while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b);              \
        if (!a_ || !b_ || strcmp(a_, b_)) { fprintf(stderr,                \
        "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
        a_ ? a_ : "(null)", b_ ? b_ : "(null)"); (*iw_failed_)++; } } while (0)
#define CHECK_CONTAINS(hay, needle) do { const char *h_ = (hay), *n_ = (needle); \
        if (!h_ || !strstr(h_, n_)) { fprintf(stderr,                      \
        "  %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,  \
        h_ ? h_ : "(null)", n_); (*iw_failed_)++; } } while (0)
/* Stop the current test (after a failure that makes the rest meaningless). */
#define REQUIRE(cond) do { if (!(cond)) {                                  \
        fprintf(stderr, "  %s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
        (*iw_failed_)++; return; } } while (0)

#endif
