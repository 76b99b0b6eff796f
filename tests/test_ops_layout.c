/*
 * tests/test_ops_layout.c — reshape, transpose and transpose2: forward
 * values on hand-computed cases (every permutation of a 4-D value against
 * index arithmetic), the gradient rules, gradients against finite
 * differences, and error paths.
 */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 0, 1, 2, ... : the values of the test tensors below. */
static const float IOTA[24] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23};

/* Checks y's shape and its values against `want`, exactly (these ops only move data). */
static void expect_values(recur_graph *g, recur_value y, recur_shape s, const float *want)
{
    tu_expect_values(g, y, s, 0, NULL, want);
}

/* ----------------------------------------------------------------- reshape */

static void test_reshape_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_constant(g, "x", recur_shape2(2, 3), IOTA);
    /* Row-major data is unchanged; only the shape differs. */
    expect_values(g, recur_reshape(g, x, recur_shape2(3, 2)), recur_shape2(3, 2), IOTA);
    expect_values(g, recur_reshape(g, x, recur_shape1(6)), recur_shape1(6), IOTA);
    expect_values(g, recur_reshape(g, x, recur_shape4(1, 2, 3, 1)), recur_shape4(1, 2, 3, 1), IOTA);
    /* A chain through several shapes comes back to the same data. */
    recur_value back = recur_reshape(g, recur_reshape(g, recur_reshape(g, x, recur_shape3(3, 1, 2)), recur_shape1(6)),
                                     recur_shape2(2, 3));
    expect_values(g, back, recur_shape2(2, 3), IOTA);
    /* One element: a scalar and back. */
    recur_value one = recur_constant(g, "one", recur_shape2(1, 1), (const float[]){7});
    expect_values(g, recur_reshape(g, one, recur_shape0()), recur_shape0(), (const float[]){7});
    expect_values(g, recur_reshape(g, recur_scalar(g, 5), recur_shape3(1, 1, 1)), recur_shape3(1, 1, 1),
                  (const float[]){5});
    /* Its own shape is x itself. */
    assert_int_equal(recur_reshape(g, x, recur_shape2(2, 3)).id, x.id);
    TU_ST(g, recur_graph_validate(g));
    recur_graph_free(g);
}

/* --------------------------------------------------------------- transpose */

static void test_transpose_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value m = recur_constant(g, "m", recur_shape2(2, 3), IOTA);
    const float mt[6] = {0, 3, 1, 4, 2, 5};
    expect_values(g, recur_transpose2(g, m), recur_shape2(3, 2), mt);
    expect_values(g, recur_transpose(g, m, (const int[]){1, 0}), recur_shape2(3, 2), mt);
    expect_values(g, recur_transpose(g, m, (const int[]){0, 1}), recur_shape2(2, 3), IOTA);
    expect_values(g, recur_transpose2(g, recur_transpose2(g, m)), recur_shape2(2, 3), IOTA);
    /* 3-D x [2,3,2], perm {2,0,1}: y [2,2,3], y[a,b,c] = x[b,c,a] = 6b + 2c + a */
    recur_value x = recur_constant(g, "x", recur_shape3(2, 3, 2), IOTA);
    expect_values(g, recur_transpose(g, x, (const int[]){2, 0, 1}), recur_shape3(2, 2, 3),
                  (const float[]){0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11});
    /* transpose2 swaps the last two: y[b,a,c] = x[b,c,a] */
    expect_values(g, recur_transpose2(g, x), recur_shape3(2, 2, 3), (const float[]){0, 2, 4, 1, 3, 5, 6, 8, 10, 7, 9, 11});
    /* 4-D x [2,1,2,3], perm {3,2,1,0}: y [3,2,1,2], y[i,j,0,l] = x[l,0,j,i] = 6l + 3j + i */
    recur_value x4 = recur_constant(g, "x4", recur_shape4(2, 1, 2, 3), IOTA);
    expect_values(g, recur_transpose(g, x4, (const int[]){3, 2, 1, 0}), recur_shape4(3, 2, 1, 2),
                  (const float[]){0, 6, 3, 9, 1, 7, 4, 10, 2, 8, 5, 11});
    /* 4-D transpose2 of [2,1,2,3]: [2,1,3,2], y[a,0,c,b] = x[a,0,b,c] = 6a + 3b + c */
    expect_values(g, recur_transpose2(g, x4), recur_shape4(2, 1, 3, 2),
                  (const float[]){0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11});
    /* A vector's only permutation. */
    recur_value v = recur_constant(g, "v", recur_shape1(3), (const float[]){4, 5, 6});
    expect_values(g, recur_transpose(g, v, (const int[]){0}), recur_shape1(3), (const float[]){4, 5, 6});
    TU_ST(g, recur_graph_validate(g));
    recur_graph_free(g);
}

/* Every one of the 24 permutations of x [2,3,2,2] against y[i] = x[j] with j_{perm[k]} = i_k. */
static void test_transpose_every_4d_permutation(void **state)
{
    (void)state;
    const int64_t d[4] = {2, 3, 2, 2}, st[4] = {12, 4, 2, 1};
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_constant(g, "x", recur_shape4(2, 3, 2, 2), IOTA);
    int count = 0;
    for (int p0 = 0; p0 < 4; p0++)
        for (int p1 = 0; p1 < 4; p1++)
            for (int p2 = 0; p2 < 4; p2++) {
                int p3 = 6 - p0 - p1 - p2;
                if (p0 == p1 || p0 == p2 || p1 == p2 || p3 < 0 || p3 > 3 || p3 == p0 || p3 == p1 || p3 == p2)
                    continue;
                const int perm[4] = {p0, p1, p2, p3};
                recur_shape ys = recur_shape4(d[p0], d[p1], d[p2], d[p3]);
                float want[24];
                int64_t at = 0, i[4];
                for (i[0] = 0; i[0] < ys.d[0]; i[0]++)
                    for (i[1] = 0; i[1] < ys.d[1]; i[1]++)
                        for (i[2] = 0; i[2] < ys.d[2]; i[2]++)
                            for (i[3] = 0; i[3] < ys.d[3]; i[3]++) {
                                int64_t off = 0;
                                for (int k = 0; k < 4; k++) off += i[k] * st[perm[k]];
                                want[at++] = IOTA[off];
                            }
                expect_values(g, recur_transpose(g, x, perm), ys, want);
                count++;
            }
    assert_int_equal(count, 24);
    recur_graph_free(g);
}

static void test_dump_attrs(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape3(2, 3, 4));
    TU_OK(g, recur_reshape(g, x, recur_shape2(6, 4)));
    TU_OK(g, recur_transpose(g, x, (const int[]){2, 0, 1}));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    TU_ST(g, recur_graph_dump(g, f));
    fclose(f);
    const char *lines[] = {"reshape(%0) to=[6, 4] [6, 4]", "transpose(%0) perm=2,0,1 [4, 2, 3]"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        if (!strstr(text, lines[i])) fail_msg("dump lacks \"%s\":\n%s", lines[i], text);
    free(text);
    recur_graph_free(g);
}

/* --------------------------------------------------------------- gradients */

static void test_gradient_rules(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = tu_param(g, "x", recur_shape3(2, 3, 4));
    recur_value gx;
    TU_ST(g, recur_grad(g, recur_sum(g, recur_reshape(g, x, recur_shape2(4, 6))), 1, &x, &gx));
    assert_string_equal(recur_value_op(g, gx), "reshape");
    /* The gradient of a transpose is the transpose by the inverse permutation: {2,0,1}^-1 = {1,2,0}. */
    TU_ST(g, recur_grad(g, recur_sum(g, recur_transpose(g, x, (const int[]){2, 0, 1})), 1, &x, &gx));
    assert_string_equal(recur_value_op(g, gx), "transpose");
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    TU_ST(g, recur_graph_dump(g, f));
    fclose(f);
    if (!strstr(text, "perm=1,2,0 [2, 3, 4]")) fail_msg("no inverse transpose in:\n%s", text);
    free(text);
    recur_graph_free(g);
}

static void test_reshape_gradients(void **state)
{
    (void)state;
    const recur_shape from[] = {recur_shape2(2, 3), recur_shape3(2, 3, 2), recur_shape4(2, 1, 3, 2), recur_shape1(5)};
    const recur_shape to[] = {recur_shape2(3, 2), recur_shape2(4, 3), recur_shape3(3, 2, 2), recur_shape2(5, 1)};
    for (int c = 0; c < 4; c++) {
        recur_graph *g = recur_graph_new(10 + (uint64_t)c);
        recur_value x = tu_param(g, "x", from[c]);
        recur_value y = recur_reshape(g, x, to[c]);
        TU_OK(g, y);
        tu_gradcheck(g, y, 1, &x, 0, NULL, 1e-2);
        recur_graph_free(g);
    }
}

static void test_transpose_gradients(void **state)
{
    (void)state;
    struct {
        recur_shape s;
        int perm[4];
    } cases[] = {
        {recur_shape2(3, 4), {1, 0}},
        {recur_shape3(2, 3, 4), {2, 0, 1}},
        {recur_shape3(2, 3, 4), {1, 2, 0}},
        {recur_shape4(2, 3, 1, 2), {1, 3, 0, 2}},
        {recur_shape4(2, 2, 3, 2), {3, 2, 1, 0}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        recur_graph *g = recur_graph_new(20 + c);
        recur_value x = tu_param(g, "x", cases[c].s);
        recur_value y = recur_transpose(g, x, cases[c].perm);
        TU_OK(g, y);
        tu_gradcheck(g, y, 1, &x, 0, NULL, 1e-2);
        recur_graph_free(g);
    }
    /* transpose2 of a batch of matrices, inside a product (as attention's K^T is) */
    recur_graph *g = recur_graph_new(30);
    recur_value q = tu_param(g, "q", recur_shape3(2, 3, 4)), k = tu_param(g, "k", recur_shape3(2, 5, 4));
    recur_value y = recur_matmul(g, q, recur_transpose2(g, k), 0, 0);
    TU_OK(g, y);
    tu_gradcheck(g, y, 2, (recur_value[]){q, k}, 0, NULL, 1e-2);
    recur_graph_free(g);
}

/* ------------------------------------------------------------------ errors */

static void test_reshape_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape2(2, 3));
    TU_EXPECT_FAIL(g, recur_reshape(g, x, recur_shape2(4, 2)), RECUR_ERR_SHAPE, "op reshape", "cannot reshape to [4, 2]",
                "element counts differ", "\"x\" [2, 3]");
    TU_EXPECT_FAIL(g, recur_reshape(g, x, recur_shape1(5)), RECUR_ERR_SHAPE, "op reshape", "[5]");
    TU_EXPECT_FAIL(g, recur_reshape(g, x, recur_shape0()), RECUR_ERR_SHAPE, "op reshape", "to []");
    /* A zero or negative dimension, even with a matching product. */
    TU_EXPECT_FAIL(g, recur_reshape(g, x, recur_shape3(6, 1, 0)), RECUR_ERR_SHAPE, "op reshape");
    TU_EXPECT_FAIL(g, recur_reshape(g, x, recur_shape2(-2, -3)), RECUR_ERR_SHAPE, "op reshape");
    TU_EXPECT_FAIL(g, recur_reshape(g, RECUR_NONE, recur_shape1(6)), RECUR_ERR_VALUE, "reshape");
    /* Usable afterwards. */
    TU_OK(g, recur_reshape(g, x, recur_shape1(6)));
    TU_ST(g, recur_graph_validate(g));
    recur_graph_free(g);
}

static void test_transpose_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape3(2, 3, 4));
    recur_value v = recur_input(g, "v", recur_shape1(4));
    TU_EXPECT_FAIL(g, recur_transpose(g, x, (const int[]){0, 0, 1}), RECUR_ERR_SHAPE, "op transpose", "permutation",
                "\"x\" [2, 3, 4]");
    TU_EXPECT_FAIL(g, recur_transpose(g, x, (const int[]){0, 1, 3}), RECUR_ERR_SHAPE, "op transpose", "0..2");
    TU_EXPECT_FAIL(g, recur_transpose(g, x, (const int[]){-1, 0, 1}), RECUR_ERR_SHAPE, "op transpose");
    TU_EXPECT_FAIL(g, recur_transpose(g, x, NULL), RECUR_ERR_ARG, "op transpose", "NULL permutation", "\"x\"");
    TU_EXPECT_FAIL(g, recur_transpose2(g, v), RECUR_ERR_SHAPE, "op transpose", "\"v\" [4]", "fewer than 2");
    TU_EXPECT_FAIL(g, recur_transpose2(g, RECUR_NONE), RECUR_ERR_VALUE, "transpose");
    /* Usable afterwards. */
    TU_OK(g, recur_transpose(g, x, (const int[]){1, 0, 2}));
    TU_ST(g, recur_graph_validate(g));
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reshape_values),
        cmocka_unit_test(test_transpose_values),
        cmocka_unit_test(test_transpose_every_4d_permutation),
        cmocka_unit_test(test_dump_attrs),
        cmocka_unit_test(test_gradient_rules),
        cmocka_unit_test(test_reshape_gradients),
        cmocka_unit_test(test_transpose_gradients),
        cmocka_unit_test(test_reshape_errors),
        cmocka_unit_test(test_transpose_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
