/*
 * tests/test_hardening.c — inputs an attacker or a careless user would try
 * (issue 15), for the graph core: shapes whose element count overflows
 * int64 or passes the 2^40-element limit, refused by every shape rule with
 * the node and the shape named (before, such shapes wrapped to numel 1 or
 * 0, and transposing one segfaulted); the slice and pad_axis messages with
 * extreme starts and totals (undefined behaviour before); ranks beyond 4 in
 * a requested shape; recur_graph_dump on a NULL stream (an empty message
 * before); and check_finite naming the fed input or the parameter that
 * holds a NaN rather than the first op reading it (a NaN an op makes is
 * still blamed on that op: tests/test_exec.c).
 *
 * Values are inputs, so no test allocates the huge tensors it describes.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT ((int64_t)1 << 40)
#define P32 ((int64_t)1 << 32)

/* [2^32 + 1, 2^32 - 1, 2^32 + 1, 2^32 - 1]: (2^64 - 1)^2, which wraps to 1 in int64 arithmetic. */
static recur_shape wrap_to_one(void) { return recur_shape4(P32 + 1, P32 - 1, P32 + 1, P32 - 1); }

/* ----------------------------------------------------------- numel */

static void test_numel_saturates(void **state)
{
    (void)state;
    assert_int_equal(recur_shape_numel(recur_shape0()), 1);
    assert_int_equal(recur_shape_numel(recur_shape3(2, 3, 4)), 24);
    assert_int_equal(recur_shape_numel(recur_shape2(LIMIT, 1)), LIMIT);
    /* A product beyond int64 is INT64_MAX, never a wrapped small number. */
    assert_true(recur_shape_numel(wrap_to_one()) == INT64_MAX);
    assert_true(recur_shape_numel(recur_shape4(65536, 65536, 65536, 65536)) == INT64_MAX);
    assert_true(recur_shape_numel(recur_shape2(INT64_MAX, 2)) == INT64_MAX);
    assert_true(recur_shape_numel(recur_shape2(INT64_MAX, 1)) == INT64_MAX);
    /* Shapes no tensor has: -1. */
    assert_int_equal(recur_shape_numel(recur_shape2(-3, 4)), -1);
    recur_shape bad_rank = {RECUR_MAX_DIMS + 3, {1, 1, 1, 1}};
    assert_int_equal(recur_shape_numel(bad_rank), -1);
    recur_shape negative_rank = {-1, {0}};
    assert_int_equal(recur_shape_numel(negative_rank), -1);
}

/* The issue's leaves: [2^32 + 1, 2^32 - 1, ...] and [65536]^4 are refused, naming the shape. */
static void test_leaves_refuse_overflowing_shapes(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    TU_EXPECT_FAIL(g, recur_input(g, "x", wrap_to_one()), RECUR_ERR_SHAPE, "input",
                   "[4294967297, 4294967295, 4294967297, 4294967295]");
    TU_EXPECT_FAIL(g, recur_input(g, "y", recur_shape4(65536, 65536, 65536, 65536)), RECUR_ERR_SHAPE,
                   "[65536, 65536, 65536, 65536]");
    TU_EXPECT_FAIL(g, recur_param(g, "w", recur_shape4(65536, 65536, 65536, 65536), recur_init_zeros()),
                   RECUR_ERR_SHAPE, "param", "[65536, 65536, 65536, 65536]");
    TU_EXPECT_FAIL(g, recur_fill(g, wrap_to_one(), 1.0f), RECUR_ERR_SHAPE, "fill");
    /* The largest allowed leaf is still made (nothing is allocated for an input). */
    TU_OK(g, recur_input(g, "big", recur_shape2(LIMIT, 1)));
    recur_graph_free(g);
}

/* Every shape rule that can make a larger value than its operands refuses an overflowing or too large result. */
static void test_shape_rules_refuse_overflow(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", recur_shape4(LIMIT, 1, 1, 1));
    recur_value b = recur_input(g, "b", recur_shape4(1, LIMIT, 1, 1));
    recur_value col = recur_input(g, "col", recur_shape2(LIMIT, 1));
    recur_value row = recur_input(g, "row", recur_shape2(1, LIMIT));
    recur_value vec = recur_input(g, "vec", recur_shape1(LIMIT));
    recur_value one = recur_input(g, "one", recur_shape1(1));
    recur_value two = recur_input(g, "two", recur_shape1(2));
    TU_OK(g, a), TU_OK(g, b), TU_OK(g, col), TU_OK(g, row), TU_OK(g, vec), TU_OK(g, one), TU_OK(g, two);
    const char *big = "[1099511627776, 1099511627776, 1, 1]";

    /* broadcasting: 2^80 elements */
    TU_EXPECT_FAIL(g, recur_add(g, a, b), RECUR_ERR_SHAPE, "op add (new node add#", big, "\"a\"", "\"b\"");
    TU_EXPECT_FAIL(g, recur_mul(g, a, b), RECUR_ERR_SHAPE, "op mul", big);
    TU_EXPECT_FAIL(g, recur_broadcast_to(g, one, wrap_to_one()), RECUR_ERR_SHAPE, "op broadcast_to",
                   "[4294967297, 4294967295, 4294967297, 4294967295]");
    /* reshape to a shape whose product wraps to the operand's 1 element */
    TU_EXPECT_FAIL(g, recur_reshape(g, one, wrap_to_one()), RECUR_ERR_SHAPE, "op reshape",
                   "[4294967297, 4294967295, 4294967297, 4294967295]");
    /* matmul [2^40, 1] x [1, 2^40] */
    TU_EXPECT_FAIL(g, recur_matmul(g, col, row, 0, 0), RECUR_ERR_SHAPE, "op matmul",
                   "[1099511627776, 1099511627776]");
    /* one_hot: depth 2^40 for 2 indices, and a depth of INT64_MAX */
    TU_EXPECT_FAIL(g, recur_one_hot(g, two, LIMIT), RECUR_ERR_SHAPE, "op one_hot", "[2, 1099511627776]");
    TU_EXPECT_FAIL(g, recur_one_hot(g, one, INT64_MAX), RECUR_ERR_SHAPE, "op one_hot", "9223372036854775807");
    /* gather: 2 rows of a [1, 2^40] table */
    TU_EXPECT_FAIL(g, recur_gather(g, row, two), RECUR_ERR_SHAPE, "op gather", "[2, 1099511627776]");
    /* scatter_add into INT64_MAX rows */
    recur_value dy = recur_input(g, "dy", recur_shape2(2, 3));
    TU_OK(g, dy);
    TU_EXPECT_FAIL(g, recur_scatter_add(g, two, dy, INT64_MAX), RECUR_ERR_SHAPE, "op scatter_add",
                   "[9223372036854775807, 3]");
    /* concat and stack: 2^41 elements */
    TU_EXPECT_FAIL(g, recur_concat(g, 2, (recur_value[]){vec, vec}, 0), RECUR_ERR_SHAPE, "op concat",
                   "[2199023255552]");
    TU_EXPECT_FAIL(g, recur_stack(g, 2, (recur_value[]){vec, vec}, 0), RECUR_ERR_SHAPE, "op stack",
                   "[2, 1099511627776]");
    /* pad_axis to a huge total, and to INT64_MIN (whose difference overflowed) */
    TU_EXPECT_FAIL(g, recur_pad_axis(g, two, 0, 0, INT64_MAX), RECUR_ERR_SHAPE, "op pad_axis", "[9223372036854775807]");
    TU_EXPECT_FAIL(g, recur_pad_axis(g, two, 0, 0, INT64_MIN), RECUR_ERR_SHAPE, "op pad_axis", "-9223372036854775808");
    TU_EXPECT_FAIL(g, recur_pad_axis(g, two, 0, INT64_MAX, 4), RECUR_ERR_SHAPE, "op pad_axis",
                   "at 9223372036854775807");
    /* Results within the limit are still made. */
    TU_OK(g, recur_add(g, col, recur_input(g, "c1", recur_shape2(1, 1))));
    TU_OK(g, recur_one_hot(g, one, LIMIT));
    recur_graph_free(g);
}

/* slice with start = INT64_MAX (and start + len overflowing) is refused with a message free of overflow. */
static void test_slice_extreme_start(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape2(4, 3));
    TU_OK(g, x);
    TU_EXPECT_FAIL(g, recur_slice(g, x, 0, INT64_MAX, 2), RECUR_ERR_SHAPE, "op slice (new node slice#",
                   "start 9223372036854775807", "length 2", "axis 0 has length 4", "\"x\" [4, 3]");
    TU_EXPECT_FAIL(g, recur_slice(g, x, 1, 1, INT64_MAX), RECUR_ERR_SHAPE, "op slice", "length 9223372036854775807");
    TU_EXPECT_FAIL(g, recur_slice(g, x, 0, INT64_MIN, 1), RECUR_ERR_SHAPE, "op slice", "[-9223372036854775808, ");
    TU_EXPECT_FAIL(g, recur_slice(g, x, 0, -1, INT64_MIN), RECUR_ERR_SHAPE, "op slice",
                   "length -9223372036854775808; a slice has length >= 1");
    TU_EXPECT_FAIL(g, recur_take(g, x, 0, INT64_MAX), RECUR_ERR_SHAPE, "op take", "index 9223372036854775807");
    TU_OK(g, recur_slice(g, x, 0, 3, 1));
    recur_graph_free(g);
}

/* A requested shape of rank above 4 (or below 0) is refused before anything reads past its 4 dimensions. */
static void test_requested_ranks_checked(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape2(2, 3));
    TU_OK(g, x);
    recur_shape rank7 = {7, {1, 1, 2, 3}}, negative = {-2, {0}};
    TU_EXPECT_FAIL(g, recur_broadcast_to(g, x, rank7), RECUR_ERR_SHAPE, "op broadcast_to", "rank 7");
    TU_EXPECT_FAIL(g, recur_sum_to(g, x, rank7), RECUR_ERR_SHAPE, "op sum_to", "rank 7");
    TU_EXPECT_FAIL(g, recur_sum_to(g, x, negative), RECUR_ERR_SHAPE, "op sum_to", "rank -2");
    TU_EXPECT_FAIL(g, recur_reshape(g, x, rank7), RECUR_ERR_SHAPE, "op reshape", "rank 7");
    TU_EXPECT_FAIL(g, recur_input(g, "y", rank7), RECUR_ERR_SHAPE, "input");
    recur_graph_free(g);
}

/* The issue's crash: transpose of an overflowing input, compiled and run. Now nothing gets that far. */
static void test_issue_transpose_crash(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", wrap_to_one());
    assert_false(recur_ok(x));
    assert_int_equal(recur_errcode(g), RECUR_ERR_SHAPE);
    recur_value t = recur_transpose2(g, x);
    assert_false(recur_ok(t));
    recur_value w = recur_param(g, "w", recur_shape4(65536, 65536, 65536, 65536), recur_init_zeros());
    assert_false(recur_ok(w));
    assert_false(recur_ok(recur_sum(g, recur_tanh(g, w))));
    assert_null(recur_compile(g, 1, &t, NULL));
    recur_graph_free(g);
}

/* ------------------------------------------------------------ dump */

static void test_dump_null_stream(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    TU_OK(g, recur_input(g, "x", recur_shape1(3)));
    assert_int_equal(recur_graph_dump(g, NULL), RECUR_ERR_ARG);
    assert_int_equal(recur_errcode(g), RECUR_ERR_ARG);
    const char *msg = recur_errmsg(g);
    assert_non_null(strstr(msg, "graph_dump"));
    assert_non_null(strstr(msg, "NULL"));
    assert_int_equal(recur_graph_dump(NULL, stderr), RECUR_ERR_ARG);
    recur_graph_free(g);
}

/* ---------------------------------------------------- check_finite */

/* x [2, 3] @ W [3, 2] + b: with a NaN fed in x, the message names x, not the matmul. */
static void test_check_finite_names_fed_input(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape2(2, 3));
    recur_value w = tu_param(g, "W", recur_shape2(3, 2));
    recur_value y = recur_name(g, recur_tanh(g, recur_matmul(g, x, w, 0, 0)), "y");
    TU_OK(g, y);
    recur_compile_opts o = {.check_finite = 1};
    recur_plan *p = recur_compile(g, 1, &y, &o);
    assert_non_null(p);
    float xs[6] = {1, 2, 3, 4, 5, 6};
    assert_int_equal(recur_plan_feed(p, x, xs, 6), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    xs[4] = NAN;
    assert_int_equal(recur_plan_feed(p, x, xs, 6), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_ERR_RUNTIME);
    const char *msg = recur_plan_errmsg(p);
    if (!strstr(msg, "input \"x\"") || !strstr(msg, "element 4") || !strstr(msg, "nan") || strstr(msg, "matmul"))
        fail_msg("message \"%s\" does not blame input x, element 4", msg);
    xs[4] = -INFINITY;
    assert_int_equal(recur_plan_feed(p, x, xs, 6), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_ERR_RUNTIME);
    assert_non_null(strstr(recur_plan_errmsg(p), "-inf"));
    /* A parameter holding a NaN is named too. */
    xs[4] = 5;
    assert_int_equal(recur_plan_feed(p, x, xs, 6), RECUR_OK);
    recur_param_data(g, w)[5] = NAN;
    assert_int_equal(recur_plan_run(p), RECUR_ERR_RUNTIME);
    msg = recur_plan_errmsg(p);
    if (!strstr(msg, "parameter \"W\"") || !strstr(msg, "element 5")) fail_msg("message \"%s\" does not blame W", msg);
    /* Without check_finite the run goes through (the NaN flows to the output). */
    recur_plan *q = recur_compile(g, 1, &y, NULL);
    assert_non_null(q);
    assert_int_equal(recur_plan_feed(q, x, xs, 6), RECUR_OK);
    assert_int_equal(recur_plan_run(q), RECUR_OK);
    recur_plan_free(q);
    recur_plan_free(p);
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numel_saturates),
        cmocka_unit_test(test_leaves_refuse_overflowing_shapes),
        cmocka_unit_test(test_shape_rules_refuse_overflow),
        cmocka_unit_test(test_slice_extreme_start),
        cmocka_unit_test(test_requested_ranks_checked),
        cmocka_unit_test(test_issue_transpose_crash),
        cmocka_unit_test(test_dump_null_stream),
        cmocka_unit_test(test_check_finite_names_fed_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
