/*
 * tests/test_version.c — the version the library reports at run time
 * (recur_version) is the one its headers give (RECUR_VERSION_*), and the
 * macros agree with each other. scripts/check_docs.py checks that they
 * also agree with meson.build and CHANGELOG.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "recur.h"

static void test_runtime_version_is_the_headers(void **state)
{
    (void)state;
    const char *v = recur_version();
    assert_non_null(v);
    assert_string_equal(v, RECUR_VERSION_STRING);
    assert_ptr_equal(recur_version(), v); /* a static string: callers may keep it */
}

static void test_version_macros_agree(void **state)
{
    (void)state;
    char parts[64];
    snprintf(parts, sizeof parts, "%d.%d.%d", RECUR_VERSION_MAJOR, RECUR_VERSION_MINOR, RECUR_VERSION_PATCH);
    assert_string_equal(parts, RECUR_VERSION_STRING);
    /* The runtime string parses back into the same three numbers. */
    int major = -1, minor = -1, patch = -1, used = 0;
    assert_int_equal(sscanf(recur_version(), "%d.%d.%d%n", &major, &minor, &patch, &used), 3);
    assert_int_equal((size_t)used, strlen(recur_version()));
    assert_int_equal(major, RECUR_VERSION_MAJOR);
    assert_int_equal(minor, RECUR_VERSION_MINOR);
    assert_int_equal(patch, RECUR_VERSION_PATCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runtime_version_is_the_headers),
        cmocka_unit_test(test_version_macros_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
