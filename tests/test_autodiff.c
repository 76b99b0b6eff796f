/*
 * tests/test_autodiff.c — symbolic reverse mode (recur_grad), the gradient
 * checker, and a small MLP that learns a sum of sines with SGD written here.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* L = sum(x*x + x): dL/dx = 2x + 1 (x used three times: the contributions are summed). */
static void test_grad_sums_over_uses(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape1(3));
    recur_value loss = recur_sum(g, recur_add(g, recur_mul(g, x, x), x));
    recur_value dx;
    TU_ST(g, recur_grad(g, loss, 1, &x, &dx));
    float *v = tu_eval(g, dx, 1, (recur_feed[]){{x, (const float[]){1, -2, 0.5f}, 3}});
    tu_assert_close(v, (const float[]){3, -3, 2}, 3, 0, 1e-6);
    free(v);
    recur_graph_free(g);
}

/* A wrt value the loss does not depend on gets zeros; stop_gradient cuts flow. */
static void test_unreachable_and_stopped(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_param(g, "a", recur_shape1(2), recur_init_constant(3));
    recur_value b = recur_param(g, "b", recur_shape1(2), recur_init_constant(5));
    recur_value c = recur_param(g, "c", recur_shape2(2, 2), recur_init_constant(1));
    /* L = sum(a * stop(b)) + sum(stop(a)): dL/da = b, dL/db = 0, dL/dc = 0 */
    recur_value loss = recur_add(g, recur_sum(g, recur_mul(g, a, recur_stop_gradient(g, b))),
                                 recur_sum(g, recur_stop_gradient(g, a)));
    recur_value d[3];
    TU_ST(g, recur_grad(g, loss, 3, (recur_value[]){a, b, c}, d));
    float *da = tu_eval(g, d[0], 0, NULL), *db = tu_eval(g, d[1], 0, NULL), *dc = tu_eval(g, d[2], 0, NULL);
    tu_assert_close(da, (const float[]){5, 5}, 2, 0, 0);
    tu_assert_close(db, (const float[]){0, 0}, 2, 0, 0);
    tu_assert_close(dc, (const float[]){0, 0, 0, 0}, 4, 0, 0);
    assert_true(recur_shape_equal(recur_value_shape(g, d[2]), recur_shape2(2, 2)));
    free(da), free(db), free(dc);
    recur_graph_free(g);
}

static void test_grad_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_param(g, "x", recur_shape1(3), recur_init_constant(1));
    recur_value y = recur_tanh(g, x);
    recur_value d = {5};
    int size = recur_graph_size(g);
    /* The loss must be one element. */
    assert_int_equal(recur_grad(g, y, 1, &x, &d), RECUR_ERR_SHAPE);
    assert_non_null(strstr(recur_errmsg(g), "[3]"));
    assert_false(recur_ok(d));
    assert_int_equal(recur_grad(g, RECUR_NONE, 1, &x, &d), RECUR_ERR_VALUE);
    assert_int_equal(recur_grad(g, recur_sum(g, y), 1, (recur_value[]){{999}}, &d), RECUR_ERR_VALUE);
    assert_int_equal(recur_grad(g, recur_sum(g, y), 1, &x, NULL), RECUR_ERR_ARG);
    /* Failures leave no gradient nodes behind (the sums built above are the only additions). */
    assert_int_equal(recur_graph_size(g), size + 2);
    recur_graph_free(g);
}

/* Gradients of gradients: the backward graph is ordinary graph, so it differentiates too. */
static void test_second_order(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(3);
    recur_value x = tu_param(g, "x", recur_shape2(3, 4));
    /* f = sum(tanh(x) * sigmoid(x)); g = df/dx; check dg/dx by finite differences. */
    recur_value f = recur_sum(g, recur_mul(g, recur_tanh(g, x), recur_sigmoid(g, x)));
    recur_value dfdx;
    TU_ST(g, recur_grad(g, f, 1, &x, &dfdx));
    tu_gradcheck(g, dfdx, 1, &x, 0, NULL, 2e-2);
    recur_graph_free(g);
}

/* The checker itself: it must find a wrong gradient. relu at exactly 0 has
 * analytic gradient 0 but a central difference of 0.5. */
static void test_gradcheck_detects_disagreement(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_param(g, "x", recur_shape1(4), recur_init_zeros());
    recur_value loss = recur_sum(g, recur_relu(g, x));
    recur_gradcheck_opts o = {.every_element = 1};
    recur_gradcheck_report r;
    TU_ST(g, recur_gradcheck(g, loss, 1, &x, 0, NULL, &o, &r));
    assert_int_equal(r.n_checks, 4);
    assert_true(r.max_rel_err > 0.9);
    assert_true(fabs(r.worst_fd - 0.5) < 1e-3);
    assert_true(r.worst_analytic == 0.0);
    /* Parameters are restored exactly. */
    for (int i = 0; i < 4; i++) assert_true(recur_param_data(g, x)[i] == 0.0f);
    recur_graph_free(g);
}

/* Random directions, and inputs (fed data) as wrt values. */
static void test_gradcheck_directions_and_inputs(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(2);
    recur_value x = recur_input(g, "x", recur_shape2(3, 5));
    recur_value w = tu_param(g, "w", recur_shape1(5));
    recur_value loss = recur_sum(g, recur_tanh(g, recur_mul(g, x, w)));
    float data[15];
    tu_fill_uniform(data, 15, -1, 1, 4);
    recur_feed feed = {x, data, 15};
    recur_gradcheck_opts o = {.n_directions = 6, .seed = 11};
    recur_gradcheck_report r;
    TU_ST(g, recur_gradcheck(g, loss, 2, (recur_value[]){x, w}, 1, &feed, &o, &r));
    assert_int_equal(r.n_checks, 6);
    assert_true(r.max_rel_err < 1e-2);
    /* An input in wrt must be fed. */
    assert_int_equal(recur_gradcheck(g, loss, 1, &x, 0, NULL, &o, &r), RECUR_ERR_FEED);
    /* Something that is neither a parameter nor an input cannot be perturbed. */
    recur_value t = recur_tanh(g, w);
    assert_int_equal(recur_gradcheck(g, loss, 1, &t, 1, &feed, &o, &r), RECUR_ERR_VALUE);
    recur_graph_free(g);
}

/*
 * The seed experiment's dense net: 5 inputs (a window of the series), 5
 * leaky-ReLU units (slope 0.1), 1 linear output, trained with plain SGD on
 * windows of sin(t) + 0.5 sin(3t); the mean squared error must fall 10x.
 */
static void test_mlp_learns_sum_of_sines(void **state)
{
    (void)state;
    enum { W = 5, H = 5, N = 256 };
    recur_graph *g = recur_graph_new(2024);
    recur_value x = recur_input(g, "x", recur_shape2(N, W));
    recur_value t = recur_input(g, "t", recur_shape2(N, 1));
    recur_value W1 = recur_param(g, "W1", recur_shape2(H, W), recur_init_xavier());
    recur_value b1 = recur_param(g, "b1", recur_shape1(H), recur_init_zeros());
    recur_value W2 = recur_param(g, "W2", recur_shape2(1, H), recur_init_xavier());
    recur_value b2 = recur_param(g, "b2", recur_shape1(1), recur_init_zeros());
    recur_value h = recur_leaky_relu(g, recur_bias_add(g, recur_matmul(g, x, W1, 0, 1), b1), 0.1f);
    recur_value y = recur_bias_add(g, recur_matmul(g, h, W2, 0, 1), b2);
    recur_value loss = recur_mse(g, y, t);
    recur_value params[4] = {W1, b1, W2, b2}, grads[4];
    TU_ST(g, recur_grad(g, loss, 4, params, grads));
    recur_value outs[5] = {loss, grads[0], grads[1], grads[2], grads[3]};
    recur_plan *p = recur_compile(g, 5, outs, NULL);
    assert_non_null(p);

    static float xs[N * W], ts[N];
    for (int i = 0; i < N; i++) {
        for (int k = 0; k <= W; k++) {
            double tt = 0.1 * (i + k);
            float v = (float)(sin(tt) + 0.5 * sin(3 * tt));
            if (k < W) xs[i * W + k] = v;
            else ts[i] = v;
        }
    }
    assert_int_equal(recur_plan_feed(p, x, xs, N * W), RECUR_OK);
    assert_int_equal(recur_plan_feed(p, t, ts, N), RECUR_OK);
    float first = 0, last = 0;
    for (int step = 0; step < 1500; step++) {
        assert_int_equal(recur_plan_run(p), RECUR_OK);
        float l;
        assert_int_equal(recur_plan_fetch(p, loss, &l, 1), RECUR_OK);
        assert_true(isfinite(l));
        if (step == 0) first = l;
        last = l;
        for (int k = 0; k < 4; k++) { /* w <- w - lr dL/dw */
            float *w = recur_param_data(g, params[k]);
            const float *dw = recur_plan_output(p, grads[k]);
            int64_t n = recur_shape_numel(recur_value_shape(g, params[k]));
            for (int64_t i = 0; i < n; i++) w[i] -= 0.1f * dw[i];
        }
    }
    print_message("mlp on sum of sines: mse %.5f -> %.5f\n", (double)first, (double)last);
    assert_true(last < first / 10);
    recur_plan_free(p);
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_sums_over_uses),
        cmocka_unit_test(test_unreachable_and_stopped),
        cmocka_unit_test(test_grad_errors),
        cmocka_unit_test(test_second_order),
        cmocka_unit_test(test_gradcheck_detects_disagreement),
        cmocka_unit_test(test_gradcheck_directions_and_inputs),
        cmocka_unit_test(test_mlp_learns_sum_of_sines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
