/*
 * tests/test_util.h — helpers shared by the CMocka tests.
 *
 * Include after <cmocka.h> (which needs stdarg, stddef, setjmp first).
 */
#ifndef RECUR_TEST_UTIL_H
#define RECUR_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "recur.h"

/* Fails the test with the graph's error message unless v is valid. */
#define TU_OK(g, v) tu_check_ok((g), recur_ok(v), __FILE__, __LINE__)
/* Fails the test with the graph's error message unless st is RECUR_OK. */
#define TU_ST(g, st) tu_check_ok((g), (st) == RECUR_OK, __FILE__, __LINE__)
void tu_check_ok(recur_graph *g, int ok, const char *file, int line);

/* Deterministic pseudo-random floats in [lo, hi). */
void tu_fill_uniform(float *x, int64_t n, float lo, float hi, uint64_t seed);

/* How many times `what` occurs in text (overlapping occurrences counted). */
int tu_count_of(const char *text, const char *what);

/* A parameter with uniform values in [-1, 1) drawn from the graph's generator. */
recur_value tu_param(recur_graph *g, const char *name, recur_shape shape);

/*
 * Compiles g for v (reference backend unless `backend` is given), feeds
 * the feeds, runs, and returns a malloc'd copy of v (caller frees).
 * Fails the test on any error.
 */
float *tu_eval(recur_graph *g, recur_value v, int n_feeds, const recur_feed *feeds);
float *tu_eval_on(recur_graph *g, recur_value v, int n_feeds, const recur_feed *feeds, const char *backend);

/* Asserts |got - want| <= atol + rtol |want| elementwise, printing the first mismatch. */
void tu_assert_close(const float *got, const float *want, int64_t n, double rtol, double atol);

/*
 * Gradient check of value y with respect to wrt: builds the scalar
 * L = sum((y - y0) * w) for a fixed random w (so every output element
 * matters differently) and y0 = y before any perturbation (so L stays near 0
 * and its float rounding does not swamp the differences), and compares recur_grad with central differences element by
 * element. Asserts the largest relative error is below tol.
 */
void tu_gradcheck(recur_graph *g, recur_value y, int n_wrt, const recur_value *wrt, int n_feeds,
                  const recur_feed *feeds, double tol);

/* tu_gradcheck with a chosen finite-difference step (smaller for piecewise-linear ops like relu). */
void tu_gradcheck_eps(recur_graph *g, recur_value y, int n_wrt, const recur_value *wrt, int n_feeds,
                      const recur_feed *feeds, double tol, float eps);

/* Checks y's shape is s and evaluates it (with feeds) against `want` exactly. */
void tu_expect_values(recur_graph *g, recur_value y, recur_shape s, int n_feeds, const recur_feed *feeds,
                      const float *want);

/* After a failed call: its status, that the message holds every part (NULL-ended), that nothing was added. */
void tu_check_error(recur_graph *g, int before, recur_status code, const char *const *parts);

/* Evaluates a builder call that must fail with `code` and a message holding each of the strings after it. */
#define TU_EXPECT_FAIL(g, expr, code, ...)                                            \
    do {                                                                              \
        int before_ = recur_graph_size(g);                                            \
        recur_clear_error(g);                                                         \
        assert_false(recur_ok(expr));                                                 \
        tu_check_error((g), before_, (code), (const char *const[]){__VA_ARGS__, NULL}); \
    } while (0)

/* Path of a file under tests/data (RECUR_TEST_DATA), in a static buffer. */
const char *tu_data_path(const char *rel);

#endif
