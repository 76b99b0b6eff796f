/*
 * tests/test_ops_arith.c — add, sub, mul, div (broadcasting), neg, scale,
 * square, one_minus, bias_add, broadcast_to, sum_to, sum and mean:
 * forward values on hand-computed cases, gradients against finite
 * differences on random shapes.
 */
#include "test_util.h"

#include <string.h>

#include <stdlib.h>

static const float A23[6] = {1, 2, 3, 4, 5, 6};
static const float B3[3] = {10, 20, 30};

/* Evaluates op(a[2,3], b[3]) and compares with `want`. */
static void check_binary(recur_value (*op)(recur_graph *, recur_value, recur_value), const float *want)
{
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_constant(g, "a", recur_shape2(2, 3), A23);
    recur_value b = recur_constant(g, "b", recur_shape1(3), B3);
    recur_value y = op(g, a, b);
    TU_OK(g, y);
    recur_shape s = recur_value_shape(g, y);
    assert_int_equal(s.ndim, 2);
    assert_int_equal(s.d[0], 2);
    assert_int_equal(s.d[1], 3);
    float *got = tu_eval(g, y, 0, NULL);
    tu_assert_close(got, want, 6, 1e-6, 1e-6);
    free(got);
    recur_graph_free(g);
}

static void test_add_broadcast_row(void **state)
{
    (void)state;
    check_binary(recur_add, (const float[]){11, 22, 33, 14, 25, 36});
}

static void test_sub_broadcast_row(void **state)
{
    (void)state;
    check_binary(recur_sub, (const float[]){-9, -18, -27, -6, -15, -24});
}

static void test_mul_broadcast_row(void **state)
{
    (void)state;
    check_binary(recur_mul, (const float[]){10, 40, 90, 40, 100, 180});
}

static void test_div_broadcast_row(void **state)
{
    (void)state;
    check_binary(recur_div, (const float[]){0.1f, 0.1f, 0.1f, 0.4f, 0.25f, 0.2f});
}

static void test_broadcast_column_and_row(void **state)
{
    (void)state;
    /* [2,1] + [1,3] -> [2,3]: an outer sum. */
    recur_graph *g = recur_graph_new(1);
    recur_value c = recur_constant(g, "c", recur_shape2(2, 1), (const float[]){1, 2});
    recur_value r = recur_constant(g, "r", recur_shape2(1, 3), (const float[]){10, 20, 30});
    recur_value y = recur_add(g, c, r);
    TU_OK(g, y);
    float *got = tu_eval(g, y, 0, NULL);
    tu_assert_close(got, (const float[]){11, 21, 31, 12, 22, 32}, 6, 0, 0);
    free(got);
    recur_graph_free(g);
}

static void test_unary_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_constant(g, "x", recur_shape1(3), (const float[]){-2, 0.5f, 3});
    struct {
        recur_value v;
        float want[3];
    } cases[] = {
        {recur_neg(g, x), {2, -0.5f, -3}},
        {recur_scale(g, x, 2.5f), {-5, 1.25f, 7.5f}},
        {recur_square(g, x), {4, 0.25f, 9}},
        {recur_one_minus(g, x), {3, 0.5f, -2}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TU_OK(g, cases[i].v);
        float *got = tu_eval(g, cases[i].v, 0, NULL);
        tu_assert_close(got, cases[i].want, 3, 1e-6, 1e-7);
        free(got);
    }
    recur_graph_free(g);
}

static void test_reductions_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_constant(g, "a", recur_shape2(2, 3), A23);
    recur_value s = recur_sum(g, a), m = recur_mean(g, a);
    recur_value s0 = recur_sum_axis(g, a, 0, 0), s1 = recur_sum_axis(g, a, -1, 1);
    recur_value m0 = recur_mean_axis(g, a, 0, 0);
    TU_OK(g, s), TU_OK(g, m), TU_OK(g, s0), TU_OK(g, s1), TU_OK(g, m0);
    assert_int_equal(recur_value_shape(g, s).ndim, 0);
    assert_int_equal(recur_value_shape(g, s0).ndim, 1);
    assert_int_equal(recur_value_shape(g, s1).ndim, 2);
    assert_int_equal(recur_value_shape(g, s1).d[1], 1);
    float *v = tu_eval(g, s, 0, NULL);
    tu_assert_close(v, (const float[]){21}, 1, 0, 0);
    free(v);
    v = tu_eval(g, m, 0, NULL);
    tu_assert_close(v, (const float[]){3.5f}, 1, 1e-7, 0);
    free(v);
    v = tu_eval(g, s0, 0, NULL);
    tu_assert_close(v, (const float[]){5, 7, 9}, 3, 0, 0);
    free(v);
    v = tu_eval(g, s1, 0, NULL);
    tu_assert_close(v, (const float[]){6, 15}, 2, 0, 0);
    free(v);
    v = tu_eval(g, m0, 0, NULL);
    tu_assert_close(v, (const float[]){2.5f, 3.5f, 4.5f}, 3, 1e-7, 0);
    free(v);
    recur_graph_free(g);
}

static void test_broadcast_to_and_sum_to(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value b = recur_constant(g, "b", recur_shape1(3), B3);
    recur_value y = recur_broadcast_to(g, b, recur_shape2(2, 3));
    TU_OK(g, y);
    float *v = tu_eval(g, y, 0, NULL);
    tu_assert_close(v, (const float[]){10, 20, 30, 10, 20, 30}, 6, 0, 0);
    free(v);
    recur_value a = recur_constant(g, "a", recur_shape2(2, 3), A23);
    recur_value s = recur_sum_to(g, a, recur_shape2(2, 1));
    TU_OK(g, s);
    v = tu_eval(g, s, 0, NULL);
    tu_assert_close(v, (const float[]){6, 15}, 2, 0, 0);
    free(v);
    /* [2,3] cannot be summed down to [2]: [2] does not broadcast to [2,3]. */
    assert_false(recur_ok(recur_sum_to(g, a, recur_shape1(2))));
    assert_int_equal(recur_errcode(g), RECUR_ERR_SHAPE);
    recur_graph_free(g);
}

static void test_bias_add(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_constant(g, "a", recur_shape2(2, 3), A23);
    recur_value b = recur_constant(g, "b", recur_shape1(3), B3);
    recur_value y = recur_bias_add(g, a, b);
    TU_OK(g, y);
    float *v = tu_eval(g, y, 0, NULL);
    tu_assert_close(v, (const float[]){11, 22, 33, 14, 25, 36}, 6, 0, 0);
    free(v);
    /* A bias as long as the first dimension is refused, naming both operands. */
    recur_value bad = recur_constant(g, "b2", recur_shape1(2), B3);
    assert_false(recur_ok(recur_bias_add(g, a, bad)));
    assert_non_null(strstr(recur_errmsg(g), "bias_add"));
    assert_non_null(strstr(recur_errmsg(g), "b2"));
    assert_non_null(strstr(recur_errmsg(g), "[2, 3]"));
    recur_graph_free(g);
}

/*
 * Tensors large enough for the kernels to split across threads (and to
 * take the vectorized paths): each result against a plain loop here. The
 * bias row is 515 long, so runs and column blocks end off any vector
 * width; sum_to's sums in double match a double loop in the same order.
 */
static void test_large_broadcasts(void **state)
{
    (void)state;
    enum { R = 301, C = 515 };
    float *x = malloc(sizeof(float) * R * C), *b = malloc(sizeof(float) * C), *want = malloc(sizeof(float) * R * C);
    assert_true(x && b && want);
    tu_fill_uniform(x, R * C, -1, 1, 5);
    tu_fill_uniform(b, C, -1, 1, 6);
    recur_graph *g = recur_graph_new(1);
    recur_value vx = recur_constant(g, "x", recur_shape2(R, C), x), vb = recur_constant(g, "b", recur_shape1(C), b);
    for (int op = 0; op < 4; op++) { /* x op b and b op x with b repeated per row */
        recur_value y = op == 0 ? recur_add(g, vx, vb) : op == 1 ? recur_sub(g, vb, vx)
                      : op == 2 ? recur_mul(g, vb, vx) : recur_div(g, vx, vb);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) {
                float u = x[r * C + c], v = b[c];
                want[r * C + c] = op == 0 ? u + v : op == 1 ? v - u : op == 2 ? v * u : u / v;
            }
        float *got = tu_eval(g, y, 0, NULL);
        assert_memory_equal(got, want, sizeof(float) * R * C);
        free(got);
    }
    for (int r = 0; r < R; r++) memcpy(want + r * C, b, sizeof(float) * C);
    float *got = tu_eval(g, recur_broadcast_to(g, vb, recur_shape2(R, C)), 0, NULL);
    assert_memory_equal(got, want, sizeof(float) * R * C);
    free(got);
    for (int c = 0; c < C; c++) {
        double sum = 0;
        for (int r = 0; r < R; r++) sum += x[r * C + c];
        want[c] = (float)sum;
    }
    got = tu_eval(g, recur_sum_to(g, vx, recur_shape1(C)), 0, NULL);
    assert_memory_equal(got, want, sizeof(float) * C);
    free(got);
    recur_graph_free(g);
    free(x), free(b), free(want);
}

static void test_shape_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", recur_shape2(2, 3));
    recur_value b = recur_input(g, "b", recur_shape2(4, 3));
    int before = recur_graph_size(g);
    assert_false(recur_ok(recur_add(g, a, b)));
    assert_int_equal(recur_errcode(g), RECUR_ERR_SHAPE);
    const char *msg = recur_errmsg(g);
    assert_non_null(strstr(msg, "op add"));
    assert_non_null(strstr(msg, "\"a\" [2, 3]"));
    assert_non_null(strstr(msg, "\"b\" [4, 3]"));
    assert_int_equal(recur_graph_size(g), before); /* nothing was added */
    /* The graph stays usable. */
    recur_clear_error(g);
    recur_value c = recur_mul(g, a, a);
    TU_OK(g, c);
    recur_graph_free(g);
}

/* Gradients with broadcasting in either operand, on random shapes. */
static void test_binary_gradients(void **state)
{
    (void)state;
    recur_value (*ops[])(recur_graph *, recur_value, recur_value) = {recur_add, recur_sub, recur_mul, recur_div};
    recur_shape pairs[][2] = {
        {{2, {3, 4}}, {2, {3, 4}}},
        {{2, {3, 4}}, {1, {4}}},
        {{3, {2, 1, 5}}, {2, {3, 1}}},
        {{0, {0}}, {2, {2, 3}}},
        {{4, {2, 1, 3, 2}}, {3, {4, 1, 1}}},
    };
    for (size_t o = 0; o < 4; o++) {
        for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
            recur_graph *g = recur_graph_new(o * 10 + p);
            recur_value a = tu_param(g, "a", pairs[p][0]);
            recur_value b = recur_param(g, "b", pairs[p][1], recur_init_uniform(0.5f, 2.0f)); /* away from 0 for div */
            recur_value y = ops[o](g, a, b);
            TU_OK(g, y);
            tu_gradcheck(g, y, 2, (recur_value[]){a, b}, 0, NULL, 1e-2);
            recur_graph_free(g);
        }
    }
}

static void test_unary_gradients(void **state)
{
    (void)state;
    for (int k = 0; k < 4; k++) {
        recur_graph *g = recur_graph_new(100 + (uint64_t)k);
        recur_value x = tu_param(g, "x", recur_shape3(2, 3, 2));
        recur_value y = k == 0 ? recur_neg(g, x)
                      : k == 1 ? recur_scale(g, x, -1.7f)
                      : k == 2 ? recur_square(g, x)
                               : recur_one_minus(g, x);
        tu_gradcheck(g, y, 1, &x, 0, NULL, 1e-2);
        recur_graph_free(g);
    }
}

static void test_reduction_gradients(void **state)
{
    (void)state;
    for (int k = 0; k < 6; k++) {
        recur_graph *g = recur_graph_new(200 + (uint64_t)k);
        recur_value x = tu_param(g, "x", recur_shape3(3, 4, 2));
        recur_value y = k == 0 ? recur_sum(g, x)
                      : k == 1 ? recur_mean(g, x)
                      : k == 2 ? recur_sum_axis(g, x, 1, 0)
                      : k == 3 ? recur_mean_axis(g, x, -1, 1)
                      : k == 4 ? recur_broadcast_to(g, recur_sum_axis(g, x, 0, 1), recur_shape3(2, 4, 2))
                               : recur_sum_to(g, x, recur_shape2(4, 1));
        TU_OK(g, y);
        tu_gradcheck(g, y, 1, &x, 0, NULL, 1e-2);
        recur_graph_free(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_broadcast_row),
        cmocka_unit_test(test_sub_broadcast_row),
        cmocka_unit_test(test_mul_broadcast_row),
        cmocka_unit_test(test_div_broadcast_row),
        cmocka_unit_test(test_broadcast_column_and_row),
        cmocka_unit_test(test_unary_values),
        cmocka_unit_test(test_reductions_values),
        cmocka_unit_test(test_broadcast_to_and_sum_to),
        cmocka_unit_test(test_bias_add),
        cmocka_unit_test(test_large_broadcasts),
        cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_binary_gradients),
        cmocka_unit_test(test_unary_gradients),
        cmocka_unit_test(test_reduction_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
