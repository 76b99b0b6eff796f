/*
 * tests/test_ops_softmax.c — softmax, log_softmax and their gradient helper
 * ops (softmax_grad, log_softmax_grad): forward values on hand-computed
 * cases, stability on large inputs, gradients (first order, and of the
 * helpers themselves) against finite differences, and shape errors.
 */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* softmax([1, 2, 3]) and log_softmax([1, 2, 3]) */
static const float SM123[3] = {0.0900305732f, 0.244728471f, 0.665240956f};
static const float LSM123[3] = {-2.40760596f, -1.40760596f, -0.40760596f};

static float *eval_unary(recur_value (*op)(recur_graph *, recur_value), recur_shape s, const float *x)
{
    recur_graph *g = recur_graph_new(1);
    recur_value v = recur_constant(g, "x", s, x);
    recur_value y = op(g, v);
    TU_OK(g, y);
    assert_true(recur_shape_equal(recur_value_shape(g, y), s));
    float *out = tu_eval(g, y, 0, NULL);
    recur_graph_free(g);
    return out;
}

static void test_softmax_values(void **state)
{
    (void)state;
    /* Two rows: [1, 2, 3] and [0, 0, 0] (uniform); the second checks rows are independent. */
    const float x[6] = {1, 2, 3, 0, 0, 0};
    float *y = eval_unary(recur_softmax, recur_shape2(2, 3), x);
    tu_assert_close(y, SM123, 3, 1e-6, 0);
    tu_assert_close(y + 3, (const float[]){1.0f / 3, 1.0f / 3, 1.0f / 3}, 3, 1e-6, 0);
    free(y);
    y = eval_unary(recur_log_softmax, recur_shape2(2, 3), x);
    tu_assert_close(y, LSM123, 3, 1e-6, 0);
    float l3 = -logf(3.0f);
    tu_assert_close(y + 3, (const float[]){l3, l3, l3}, 3, 1e-6, 0);
    free(y);
    /* A single element is always 1 (log 0), and a rank-1 input is one row. */
    y = eval_unary(recur_softmax, recur_shape2(2, 1), (const float[]){-5, 7});
    tu_assert_close(y, (const float[]){1, 1}, 2, 0, 0);
    free(y);
    y = eval_unary(recur_log_softmax, recur_shape1(3), (const float[]){1, 2, 3});
    tu_assert_close(y, LSM123, 3, 1e-6, 0);
    free(y);
}

static void test_softmax_rows_sum_to_one(void **state)
{
    (void)state;
    const recur_shape shapes[] = {recur_shape1(7), recur_shape2(4, 5), recur_shape3(3, 2, 6), recur_shape4(2, 2, 3, 4)};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        int64_t n = recur_shape_numel(shapes[c]), len = shapes[c].d[shapes[c].ndim - 1];
        float *x = malloc(sizeof(float) * (size_t)n);
        assert_non_null(x);
        tu_fill_uniform(x, n, -4, 4, c + 1);
        float *y = eval_unary(recur_softmax, shapes[c], x);
        for (int64_t r = 0; r < n / len; r++) {
            double sum = 0;
            for (int64_t j = 0; j < len; j++) {
                assert_true(y[r * len + j] > 0 && y[r * len + j] < 1);
                sum += y[r * len + j];
            }
            float got = (float)sum, one = 1;
            tu_assert_close(&got, &one, 1, 1e-6, 0);
        }
        /* log_softmax == log(softmax) */
        float *ly = eval_unary(recur_log_softmax, shapes[c], x);
        for (int64_t i = 0; i < n; i++) {
            float want = logf(y[i]);
            tu_assert_close(&ly[i], &want, 1, 1e-5, 1e-6);
        }
        free(ly);
        free(y);
        free(x);
    }
}

static void test_large_inputs(void **state)
{
    (void)state;
    /* Shifting a row changes nothing: [1000, 1001, 1002] is [1, 2, 3]; exp(1000) would overflow. */
    const float x[9] = {1000, 1001, 1002, -1000, -999, -998, -1000, 0, 1000};
    float *y = eval_unary(recur_softmax, recur_shape2(3, 3), x);
    for (int i = 0; i < 9; i++) assert_true(isfinite(y[i]));
    tu_assert_close(y, SM123, 3, 1e-6, 0);
    tu_assert_close(y + 3, SM123, 3, 1e-6, 0);
    tu_assert_close(y + 6, (const float[]){0, 0, 1}, 3, 0, 0);
    free(y);
    y = eval_unary(recur_log_softmax, recur_shape2(3, 3), x);
    for (int i = 0; i < 9; i++) assert_true(isfinite(y[i]));
    tu_assert_close(y, LSM123, 3, 1e-6, 0);
    tu_assert_close(y + 3, LSM123, 3, 1e-6, 0);
    tu_assert_close(y + 6, (const float[]){-2000, -1000, 0}, 3, 1e-7, 0);
    free(y);
}

static void test_helper_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    /* softmax_grad: y = [0.2, 0.3, 0.5], dy = [1, 2, 3]: s = 2.3, y (dy - s) = [-0.26, -0.09, 0.35] */
    recur_value y = recur_constant(g, "y", recur_shape2(2, 3), (const float[]){0.2f, 0.3f, 0.5f, 1, 0, 0});
    recur_value dy = recur_constant(g, "dy", recur_shape2(2, 3), (const float[]){1, 2, 3, 4, 5, 6});
    recur_value sg = recur_softmax_grad(g, y, dy);
    TU_OK(g, sg);
    float *v = tu_eval(g, sg, 0, NULL);
    /* second row: y one-hot, s = 4, y (dy - s) = [0, 0, 0] */
    tu_assert_close(v, (const float[]){-0.26f, -0.09f, 0.35f, 0, 0, 0}, 6, 1e-5, 1e-7);
    free(v);
    /* log_softmax_grad: y = log [0.2, 0.3, 0.5], dy = [1, 2, 3]: dy - p * 6 = [-0.2, 0.2, 0] */
    recur_value ly = recur_constant(g, "ly", recur_shape1(3), (const float[]){logf(0.2f), logf(0.3f), logf(0.5f)});
    recur_value ldy = recur_constant(g, "ldy", recur_shape1(3), (const float[]){1, 2, 3});
    recur_value lg = recur_log_softmax_grad(g, ly, ldy);
    TU_OK(g, lg);
    v = tu_eval(g, lg, 0, NULL);
    tu_assert_close(v, (const float[]){-0.2f, 0.2f, 0}, 3, 1e-5, 1e-6);
    free(v);
    recur_graph_free(g);
}

/* The gradient rules build the helper ops from the op's own output. */
static void test_gradient_rules_use_helpers(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = tu_param(g, "x", recur_shape2(2, 3));
    recur_value s = recur_softmax(g, x), l = recur_log_softmax(g, x);
    recur_value gx[1];
    TU_ST(g, recur_grad(g, recur_sum(g, recur_square(g, s)), 1, &x, gx));
    assert_string_equal(recur_value_op(g, gx[0]), "softmax_grad");
    TU_ST(g, recur_grad(g, recur_sum(g, recur_square(g, l)), 1, &x, gx));
    assert_string_equal(recur_value_op(g, gx[0]), "log_softmax_grad");
    /* d sum(log_softmax(x)) / dx = 1 - C softmax(x) for rows of length C */
    recur_value gl[1];
    TU_ST(g, recur_grad(g, recur_sum(g, l), 1, &x, gl));
    float *got = tu_eval(g, gl[0], 0, NULL), *p = tu_eval(g, s, 0, NULL);
    for (int i = 0; i < 6; i++) {
        float want = 1 - 3 * p[i];
        tu_assert_close(&got[i], &want, 1, 1e-5, 1e-6);
    }
    free(got);
    free(p);
    recur_graph_free(g);
}

static const recur_shape grad_shapes[] = {
    {1, {5}},
    {2, {3, 4}},
    {3, {2, 3, 4}},
    {4, {2, 1, 2, 3}},
    {2, {4, 1}},
};
#define N_GRAD_SHAPES (sizeof grad_shapes / sizeof grad_shapes[0])

/*
 * The checker's loss is a float: log_softmax outputs (about -log C each)
 * add up to a loss whose rounding (~1e-6 relative) swamps differences of
 * gradients near 0.005. Subtracting the output's value at the checked point
 * (a constant, so the gradient is unchanged) keeps the loss near 0.
 */
static void gradcheck_centered(recur_graph *g, recur_value y, recur_value x)
{
    float *y0 = tu_eval(g, y, 0, NULL);
    recur_value c = recur_constant(g, NULL, recur_value_shape(g, y), y0);
    free(y0);
    recur_value yc = recur_sub(g, y, c);
    TU_OK(g, yc);
    tu_gradcheck(g, yc, 1, &x, 0, NULL, 1e-2);
}

static void test_softmax_gradients(void **state)
{
    (void)state;
    for (size_t c = 0; c < N_GRAD_SHAPES; c++) {
        for (int k = 0; k < 2; k++) {
            recur_graph *g = recur_graph_new(10 * c + (uint64_t)k);
            recur_value x = recur_param(g, "x", grad_shapes[c], recur_init_uniform(-2, 2));
            recur_value y = k == 0 ? recur_softmax(g, x) : recur_log_softmax(g, x);
            TU_OK(g, y);
            gradcheck_centered(g, y, x);
            recur_graph_free(g);
        }
    }
}

/* The helper ops' own gradient rules (second derivatives of softmax), with respect to both inputs. */
static void test_helper_gradients(void **state)
{
    (void)state;
    for (size_t c = 0; c < N_GRAD_SHAPES; c++) {
        for (int k = 0; k < 2; k++) {
            recur_graph *g = recur_graph_new(100 + 10 * c + (uint64_t)k);
            /* y as a softmax output would be ((0, 1)) and as a log_softmax output (negative). */
            recur_value y = k == 0 ? recur_param(g, "y", grad_shapes[c], recur_init_uniform(0.05f, 1))
                                   : recur_param(g, "y", grad_shapes[c], recur_init_uniform(-3, -0.05f));
            recur_value dy = tu_param(g, "dy", grad_shapes[c]);
            recur_value z = k == 0 ? recur_softmax_grad(g, y, dy) : recur_log_softmax_grad(g, y, dy);
            TU_OK(g, z);
            tu_gradcheck(g, z, 2, (recur_value[]){y, dy}, 0, NULL, 1e-2);
            recur_graph_free(g);
        }
    }
}

/* The second derivative through the op: the gradient of the gradient of softmax and log_softmax. */
static void test_second_order(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        recur_graph *g = recur_graph_new(200 + (uint64_t)k);
        recur_value x = recur_param(g, "x", recur_shape2(2, 4), recur_init_uniform(-2, 2));
        recur_value w = tu_param(g, "w", recur_shape2(2, 4));
        recur_value y = k == 0 ? recur_softmax(g, x) : recur_log_softmax(g, x);
        recur_value gx[1];
        TU_ST(g, recur_grad(g, recur_sum(g, recur_mul(g, y, w)), 1, &x, gx));
        tu_gradcheck(g, gx[0], 2, (recur_value[]){x, w}, 0, NULL, 1e-2);
        recur_graph_free(g);
    }
}

static void test_shape_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value s = recur_input(g, "s", recur_shape0());
    recur_value a = recur_input(g, "a", recur_shape2(2, 3));
    recur_value b = recur_input(g, "b", recur_shape2(3, 2));
    int before = recur_graph_size(g);

    recur_value (*unary[])(recur_graph *, recur_value) = {recur_softmax, recur_log_softmax};
    const char *unary_names[] = {"op softmax", "op log_softmax"};
    for (int k = 0; k < 2; k++) {
        recur_clear_error(g);
        assert_false(recur_ok(unary[k](g, s)));
        assert_int_equal(recur_errcode(g), RECUR_ERR_SHAPE);
        const char *msg = recur_errmsg(g);
        assert_non_null(strstr(msg, unary_names[k]));
        assert_non_null(strstr(msg, "at least 1 dimension"));
        assert_non_null(strstr(msg, "\"s\" []"));
        assert_int_equal(recur_graph_size(g), before);
    }

    recur_value (*helpers[])(recur_graph *, recur_value, recur_value) = {recur_softmax_grad, recur_log_softmax_grad};
    const char *helper_names[] = {"op softmax_grad", "op log_softmax_grad"};
    for (int k = 0; k < 2; k++) {
        recur_clear_error(g);
        assert_false(recur_ok(helpers[k](g, a, b)));
        assert_int_equal(recur_errcode(g), RECUR_ERR_SHAPE);
        const char *msg = recur_errmsg(g);
        assert_non_null(strstr(msg, helper_names[k]));
        assert_non_null(strstr(msg, "\"a\" [2, 3]"));
        assert_non_null(strstr(msg, "\"b\" [3, 2]"));
        assert_int_equal(recur_graph_size(g), before);
        recur_clear_error(g);
        assert_false(recur_ok(helpers[k](g, s, s)));
        assert_non_null(strstr(recur_errmsg(g), "at least 1 dimension"));
        assert_int_equal(recur_graph_size(g), before);
    }

    /* An invalid operand keeps the first message. */
    recur_clear_error(g);
    assert_false(recur_ok(recur_softmax(g, s)));
    char first[1024];
    snprintf(first, sizeof first, "%s", recur_errmsg(g));
    assert_false(recur_ok(recur_log_softmax(g, RECUR_NONE)));
    assert_string_equal(recur_errmsg(g), first);

    /* The graph stays usable. */
    recur_clear_error(g);
    recur_value y = recur_softmax(g, a);
    TU_OK(g, y);
    const float ad[6] = {1, 2, 3, 1001, 1002, 1003};
    recur_feed feed = {a, ad, 6};
    float *got = tu_eval(g, y, 1, &feed);
    tu_assert_close(got, SM123, 3, 1e-6, 0);
    tu_assert_close(got + 3, SM123, 3, 1e-6, 0);
    free(got);
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_values),
        cmocka_unit_test(test_softmax_rows_sum_to_one),
        cmocka_unit_test(test_large_inputs),
        cmocka_unit_test(test_helper_values),
        cmocka_unit_test(test_gradient_rules_use_helpers),
        cmocka_unit_test(test_softmax_gradients),
        cmocka_unit_test(test_helper_gradients),
        cmocka_unit_test(test_second_order),
        cmocka_unit_test(test_shape_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
