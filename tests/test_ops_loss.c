/*
 * tests/test_ops_loss.c — mse, softmax_xent and its gradient helper op
 * softmax_xent_grad: values on hand-computed cases (masked, weighted and
 * all-masked included), stability on logits of 1e4, gradients against
 * finite differences on random shapes, run-time errors for bad targets
 * (the plan stays usable) and shape errors.
 */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Logits of two rows over 3 classes: [0, 0, 0] (uniform) and [1, 2, 3]. */
static const float X23[6] = {0, 0, 0, 1, 2, 3};
/* -log softmax([0, 0, 0])[1] = log 3 and -log softmax([1, 2, 3])[2] = log(e^-2 + e^-1 + 1) */
static const double NLL0 = 1.0986122886681098, NLL1 = 0.40760596444438013;
/* softmax([1, 2, 3]) */
static const float SM123[3] = {0.0900305732f, 0.244728471f, 0.665240956f};

/* Evaluates a scalar value and returns it. */
static float eval_scalar(recur_graph *g, recur_value v)
{
    TU_OK(g, v);
    assert_int_equal(recur_value_shape(g, v).ndim, 0);
    float *out = tu_eval(g, v, 0, NULL);
    float y = out[0];
    free(out);
    return y;
}

/* softmax_xent of X23 with the given targets and mask (NULL: none). */
static float xent23(const float targets[2], const float *mask)
{
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_constant(g, "x", recur_shape2(2, 3), X23);
    recur_value t = recur_constant(g, "t", recur_shape1(2), targets);
    recur_value m = mask ? recur_constant(g, "m", recur_shape1(2), mask) : RECUR_NONE;
    float y = eval_scalar(g, recur_softmax_xent(g, x, t, m));
    recur_graph_free(g);
    return y;
}

static void assert_near(float got, double want, double rtol, double atol)
{
    float w = (float)want;
    tu_assert_close(&got, &w, 1, rtol, atol);
}

/* ------------------------------------------------------------------ mse */

static void test_mse_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value p = recur_constant(g, "p", recur_shape2(2, 2), (const float[]){1, 2, 3, 4});
    recur_value t = recur_constant(g, "t", recur_shape2(2, 2), (const float[]){1, 0, 5, 3});
    /* differences 0, 2, -2, 1: (0 + 4 + 4 + 1) / 4 */
    assert_near(eval_scalar(g, recur_mse(g, p, t)), 2.25, 0, 0);
    assert_near(eval_scalar(g, recur_mse(g, t, p)), 2.25, 0, 0);
    assert_near(eval_scalar(g, recur_mse(g, p, p)), 0, 0, 0);
    /* One element: a scalar pair. */
    recur_value a = recur_scalar(g, 1.5f), b = recur_scalar(g, -0.5f);
    assert_near(eval_scalar(g, recur_mse(g, a, b)), 4, 0, 0);
    recur_graph_free(g);
}

/* A long sum: 100000 squared differences of 0.001 each must give 1e-6, not drift. */
static void test_mse_long_sum(void **state)
{
    (void)state;
    enum { N = 100000 };
    float *p = calloc(N, sizeof(float)), *t = malloc(N * sizeof(float));
    assert_non_null(p);
    assert_non_null(t);
    for (int i = 0; i < N; i++) p[i] = 1000.001f, t[i] = 1000;
    recur_graph *g = recur_graph_new(1);
    recur_value vp = recur_constant(g, "p", recur_shape1(N), p), vt = recur_constant(g, "t", recur_shape1(N), t);
    double d = (double)1000.001f - 1000.0;
    assert_near(eval_scalar(g, recur_mse(g, vp, vt)), d * d, 1e-6, 0);
    recur_graph_free(g);
    free(p);
    free(t);
}

static void test_mse_gradients(void **state)
{
    (void)state;
    const recur_shape shapes[] = {recur_shape0(), recur_shape1(5), recur_shape2(3, 4), recur_shape3(2, 3, 2)};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        recur_graph *g = recur_graph_new(10 + c);
        recur_value p = tu_param(g, "p", shapes[c]), t = tu_param(g, "t", shapes[c]);
        recur_value y = recur_mse(g, p, t);
        TU_OK(g, y);
        tu_gradcheck(g, y, 2, (recur_value[]){p, t}, 0, NULL, 1e-2);
        recur_graph_free(g);
    }
}

/* The analytic gradient itself: d mse / dp = 2 (p - t) / N, d / dt = its negative. */
static void test_mse_gradient_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value p = recur_param(g, "p", recur_shape1(4), recur_init_zeros());
    recur_value t = recur_param(g, "t", recur_shape1(4), recur_init_zeros());
    TU_ST(g, recur_param_set(g, p, (const float[]){1, 2, 3, 4}, 4));
    TU_ST(g, recur_param_set(g, t, (const float[]){1, 0, 5, 3}, 4));
    recur_value loss = recur_scale(g, recur_mse(g, p, t), 3); /* dloss = 3 */
    recur_value grads[2];
    TU_ST(g, recur_grad(g, loss, 2, (recur_value[]){p, t}, grads));
    float *dp = tu_eval(g, grads[0], 0, NULL), *dt = tu_eval(g, grads[1], 0, NULL);
    /* 3 * 2 * (0, 2, -2, 1) / 4 */
    tu_assert_close(dp, (const float[]){0, 3, -3, 1.5f}, 4, 1e-6, 0);
    tu_assert_close(dt, (const float[]){0, -3, 3, -1.5f}, 4, 1e-6, 0);
    free(dp);
    free(dt);
    recur_graph_free(g);
}

/* --------------------------------------------------------- softmax_xent */

static void test_xent_values(void **state)
{
    (void)state;
    assert_near(xent23((const float[]){1, 2}, NULL), (NLL0 + NLL1) / 2, 1e-6, 0);
    /* Every mask of ones is the same as none. */
    assert_near(xent23((const float[]){1, 2}, (const float[]){1, 1}), (NLL0 + NLL1) / 2, 1e-6, 0);
    /* Row 0 masked: the mean over the one unmasked row. */
    assert_near(xent23((const float[]){1, 2}, (const float[]){0, 1}), NLL1, 1e-6, 0);
    /* A masked position's target is never read: a padding id -1 (or 7) is fine. */
    assert_near(xent23((const float[]){-1, 2}, (const float[]){0, 1}), NLL1, 1e-6, 0);
    assert_near(xent23((const float[]){1, 7}, (const float[]){1, 0}), NLL0, 1e-6, 0);
    /* Weights: sum m_i nll_i / sum m_i. */
    assert_near(xent23((const float[]){1, 2}, (const float[]){0.5f, 1}), (0.5 * NLL0 + NLL1) / 1.5, 1e-6, 0);
    /* Other classes of row 1: -log softmax([1, 2, 3])[c]. */
    assert_near(xent23((const float[]){0, 0}, (const float[]){0, 1}), NLL1 + 2, 1e-6, 0);
    assert_near(xent23((const float[]){0, 1}, (const float[]){0, 1}), NLL1 + 1, 1e-6, 0);
}

static void test_xent_all_masked_is_zero(void **state)
{
    (void)state;
    /* Every position masked: 0, not 0/0 = NaN; padding targets unread. */
    float y = xent23((const float[]){-1, -1}, (const float[]){0, 0});
    assert_true(y == 0.0f);
    /* The gradient is 0 too. */
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_param(g, "x", recur_shape2(2, 3), recur_init_uniform(-1, 1));
    recur_value t = recur_constant(g, "t", recur_shape1(2), (const float[]){-1, 99});
    recur_value m = recur_constant(g, "m", recur_shape1(2), (const float[]){0, 0});
    recur_value dx;
    TU_ST(g, recur_grad(g, recur_softmax_xent(g, x, t, m), 1, &x, &dx));
    float *d = tu_eval(g, dx, 0, NULL);
    for (int i = 0; i < 6; i++) assert_true(d[i] == 0.0f);
    free(d);
    recur_graph_free(g);
}

/* Rank-1 logits are one row with a scalar target; rank-4 logits work too. */
static void test_xent_ranks(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_constant(g, "x", recur_shape1(3), X23 + 3);
    recur_value t = recur_scalar(g, 2);
    assert_near(eval_scalar(g, recur_softmax_xent(g, x, t, RECUR_NONE)), NLL1, 1e-6, 0);
    /* [1, 2, 1, 3]: the rows of X23 again. */
    recur_value x4 = recur_constant(g, "x4", recur_shape4(1, 2, 1, 3), X23);
    recur_value t4 = recur_constant(g, "t4", recur_shape3(1, 2, 1), (const float[]){1, 2});
    assert_near(eval_scalar(g, recur_softmax_xent(g, x4, t4, RECUR_NONE)), (NLL0 + NLL1) / 2, 1e-6, 0);
    recur_graph_free(g);
}

/* Logits of +-1e4 neither overflow exp nor lose the answer. */
static void test_xent_stable_on_large_logits(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_param(g, "x", recur_shape2(2, 3), recur_init_zeros());
    TU_ST(g, recur_param_set(g, x, (const float[]){1e4f, 0, -1e4f, 1e4f, 0, -1e4f}, 6));
    recur_value t = recur_constant(g, "t", recur_shape1(2), (const float[]){0, 1});
    recur_value loss = recur_softmax_xent(g, x, t, RECUR_NONE);
    /* Row 0: nll = log(1 + e^-1e4 + e^-2e4) = 0; row 1: nll = 1e4. */
    assert_near(eval_scalar(g, loss), 5000, 1e-6, 0);
    recur_value dx;
    TU_ST(g, recur_grad(g, loss, 1, &x, &dx));
    float *d = tu_eval(g, dx, 0, NULL);
    /* (softmax - onehot) / 2: row 0 (1, 0, 0) - (1, 0, 0); row 1 (1, 0, 0) - (0, 1, 0). */
    tu_assert_close(d, (const float[]){0, 0, 0, 0.5f, -0.5f, 0}, 6, 0, 1e-7);
    free(d);
    recur_graph_free(g);
}

/* ---------------------------------------------------- softmax_xent_grad */

static void test_xent_grad_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_constant(g, "x", recur_shape2(2, 3), X23);
    recur_value t = recur_constant(g, "t", recur_shape1(2), (const float[]){1, 2});
    recur_value dl = recur_scalar(g, 2);
    /* No mask: 2 (softmax - onehot) / 2 per row. */
    recur_value z = recur_softmax_xent_grad(g, x, t, RECUR_NONE, dl);
    TU_OK(g, z);
    assert_true(recur_shape_equal(recur_value_shape(g, z), recur_shape2(2, 3)));
    float *v = tu_eval(g, z, 0, NULL);
    const float third = 1.0f / 3;
    tu_assert_close(v, (const float[]){third, third - 1, third, SM123[0], SM123[1], SM123[2] - 1}, 6, 1e-6, 1e-7);
    free(v);
    /* Row 0 masked: it is 0 and row 1 gets 2 * 1 / 1. */
    recur_value m = recur_constant(g, "m", recur_shape1(2), (const float[]){0, 1});
    z = recur_softmax_xent_grad(g, x, t, m, dl);
    TU_OK(g, z);
    v = tu_eval(g, z, 0, NULL);
    tu_assert_close(v, (const float[]){0, 0, 0, 2 * SM123[0], 2 * SM123[1], 2 * (SM123[2] - 1)}, 6, 1e-6, 1e-7);
    free(v);
    recur_graph_free(g);
}

/* Gradient checks through softmax_xent (whose rule builds softmax_xent_grad) on random shapes. */
static void test_xent_gradients(void **state)
{
    (void)state;
    struct {
        recur_shape logits;
        int masked;
    } cases[] = {
        {recur_shape1(4), 0},
        {recur_shape2(4, 5), 0},
        {recur_shape2(3, 6), 1},
        {recur_shape3(3, 2, 4), 1}, /* [T, B, C] with some positions masked */
        {recur_shape3(5, 3, 7), 0},
        {recur_shape4(2, 2, 2, 3), 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        recur_shape xs = cases[c].logits, ts = xs;
        ts.ndim--;
        int64_t rows = recur_shape_numel(ts), C = xs.d[xs.ndim - 1];
        float *t = malloc(sizeof(float) * (size_t)rows), *m = malloc(sizeof(float) * (size_t)rows);
        assert_non_null(t);
        assert_non_null(m);
        tu_fill_uniform(t, rows, 0, (float)C, 100 + c);
        tu_fill_uniform(m, rows, 0, 1, 200 + c);
        for (int64_t i = 0; i < rows; i++) {
            t[i] = floorf(t[i]);
            /* About a third masked, with weights 1 elsewhere; masked targets are padding (-1). */
            m[i] = (i == 0 || m[i] > 0.33f) ? 1.0f : 0.0f;
            if (cases[c].masked && m[i] == 0) t[i] = -1;
        }
        recur_graph *g = recur_graph_new(300 + c);
        recur_value x = recur_param(g, "x", xs, recur_init_uniform(-1, 1));
        TU_OK(g, x);
        /* Favour the target class as a partly trained model does: the loss stays below about 1, where its
         * float rounding (which the central differences divide by 2 eps) is small. */
        float *xd = recur_param_data(g, x);
        for (int64_t i = 0; i < rows; i++)
            if (t[i] >= 0) xd[i * C + (int64_t)t[i]] += 2;
        recur_value vt = recur_constant(g, "t", ts, t);
        recur_value vm = cases[c].masked ? recur_constant(g, "m", ts, m) : RECUR_NONE;
        recur_value y = recur_softmax_xent(g, x, vt, vm);
        TU_OK(g, y);
        tu_gradcheck(g, y, 1, &x, 0, NULL, 1e-2);
        recur_graph_free(g);
        free(t);
        free(m);
    }
}

/* Targets and the mask are data: asking for their gradient gives zeros. */
static void test_xent_no_gradient_to_targets(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = tu_param(g, "x", recur_shape2(2, 3));
    recur_value t = recur_param(g, "t", recur_shape1(2), recur_init_constant(1));
    recur_value m = recur_param(g, "m", recur_shape1(2), recur_init_constant(1));
    recur_value loss = recur_softmax_xent(g, x, t, m), grads[3];
    TU_ST(g, recur_grad(g, loss, 3, (recur_value[]){x, t, m}, grads));
    float *dt = tu_eval(g, grads[1], 0, NULL), *dm = tu_eval(g, grads[2], 0, NULL);
    tu_assert_close(dt, (const float[]){0, 0}, 2, 0, 0);
    tu_assert_close(dm, (const float[]){0, 0}, 2, 0, 0);
    free(dt);
    free(dm);
    /* softmax_xent_grad has no gradient rule of its own: a second derivative is refused by name. */
    int before = recur_graph_size(g);
    recur_value dd;
    assert_int_equal(recur_grad(g, recur_sum(g, grads[0]), 1, &x, &dd), RECUR_ERR_NOGRAD);
    assert_non_null(strstr(recur_errmsg(g), "softmax_xent_grad"));
    assert_int_equal(recur_graph_size(g), before + 1); /* only the sum stays */
    recur_graph_free(g);
}

/* --------------------------------------------------------- run-time errors */

/* Runs a plan computing softmax_xent of fed logits [2, 3] and targets [2]; bad targets fail the run. */
static void test_xent_bad_targets(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape2(2, 3));
    recur_value t = recur_input(g, "t", recur_shape1(2));
    recur_value m = recur_input(g, "m", recur_shape1(2));
    recur_value loss = recur_name(g, recur_softmax_xent(g, x, t, m), "loss");
    TU_OK(g, loss);
    recur_plan *p = recur_compile(g, 1, &loss, NULL);
    assert_non_null(p);
    assert_int_equal(recur_plan_feed(p, x, X23, 6), RECUR_OK);
    assert_int_equal(recur_plan_feed(p, m, (const float[]){1, 1}, 2), RECUR_OK);
    struct {
        float t[2];
        const char *want[2];
    } bad[] = {
        {{1, 3}, {"target 3 at position 1", "[0, 3)"}},
        {{-1, 2}, {"target -1 at position 0", "[0, 3)"}},
        {{1, 1.5f}, {"target 1.5 at position 1", "whole number"}},
        {{NAN, 2}, {"target nan at position 0", "[0, 3)"}},
        {{1e9f, 2}, {"target 1e+09 at position 0", "[0, 3)"}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(recur_plan_feed(p, t, bad[i].t, 2), RECUR_OK);
        assert_int_equal(recur_plan_run(p), RECUR_ERR_RUNTIME);
        assert_int_equal(recur_plan_errcode(p), RECUR_ERR_RUNTIME);
        const char *msg = recur_plan_errmsg(p);
        assert_non_null(strstr(msg, "loss"));
        assert_non_null(strstr(msg, "softmax_xent"));
        for (int k = 0; k < 2; k++)
            if (!strstr(msg, bad[i].want[k])) fail_msg("case %zu: \"%s\" lacks \"%s\"", i, msg, bad[i].want[k]);
    }
    /* The plan is still usable: good targets run and give the right value. */
    float y;
    assert_int_equal(recur_plan_feed(p, t, (const float[]){1, 2}, 2), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    assert_int_equal(recur_plan_fetch(p, loss, &y, 1), RECUR_OK);
    assert_near(y, (NLL0 + NLL1) / 2, 1e-6, 0);
    /* A bad target under a zero mask is not an error. */
    assert_int_equal(recur_plan_feed(p, t, (const float[]){1, 3}, 2), RECUR_OK);
    assert_int_equal(recur_plan_feed(p, m, (const float[]){1, 0}, 2), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    assert_int_equal(recur_plan_fetch(p, loss, &y, 1), RECUR_OK);
    assert_near(y, NLL0, 1e-6, 0);
    recur_plan_free(p);
    recur_graph_free(g);
}

/* The gradient op checks targets too (it may run without the loss in its plan). */
static void test_xent_grad_bad_targets(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_constant(g, "x", recur_shape2(2, 3), X23);
    recur_value t = recur_input(g, "t", recur_shape1(2));
    recur_value z = recur_name(g, recur_softmax_xent_grad(g, x, t, RECUR_NONE, recur_scalar(g, 1)), "dx");
    TU_OK(g, z);
    recur_plan *p = recur_compile(g, 1, &z, NULL);
    assert_non_null(p);
    assert_int_equal(recur_plan_feed(p, t, (const float[]){0, -2}, 2), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_ERR_RUNTIME);
    assert_non_null(strstr(recur_plan_errmsg(p), "dx"));
    assert_non_null(strstr(recur_plan_errmsg(p), "softmax_xent_grad"));
    assert_non_null(strstr(recur_plan_errmsg(p), "target -2 at position 1"));
    assert_int_equal(recur_plan_feed(p, t, (const float[]){0, 2}, 2), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    recur_plan_free(p);
    recur_graph_free(g);
}

/*
 * Masks are weights, checked at run time (issue 15): {1, NaN, -1, 2} gave a
 * NaN loss and {1, -1, 0, 0} a loss of 0, both without an error. Each bad
 * entry now fails the loss and its gradient op, naming the node and the
 * position; good weights still give sum m nll / sum m.
 */
static void test_xent_bad_masks(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_constant(g, "x", recur_shape2(4, 3), (const float[]){0, 0, 0, 1, 2, 3, 0, 0, 0, 1, 2, 3});
    recur_value t = recur_constant(g, "t", recur_shape1(4), (const float[]){1, 2, 1, 2});
    recur_value m = recur_input(g, "m", recur_shape1(4));
    recur_value loss = recur_name(g, recur_softmax_xent(g, x, t, m), "loss");
    recur_value dx = recur_name(g, recur_softmax_xent_grad(g, x, t, m, recur_scalar(g, 1)), "dx");
    TU_OK(g, loss), TU_OK(g, dx);
    recur_plan *pl = recur_compile(g, 1, &loss, NULL), *pd = recur_compile(g, 1, &dx, NULL);
    assert_non_null(pl);
    assert_non_null(pd);
    struct {
        float m[4];
        const char *want;
    } bad[] = {
        {{1, NAN, -1, 2}, "mask nan at position 1"},
        {{1, -1, 0, 0}, "mask -1 at position 1"},
        {{0, 0, 0, -0.5f}, "mask -0.5 at position 3"},
        {{INFINITY, 1, 1, 1}, "mask inf at position 0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        recur_plan *plans[2] = {pl, pd};
        const char *names[2] = {"node loss (op softmax_xent)", "node dx (op softmax_xent_grad)"};
        for (int k = 0; k < 2; k++) {
            assert_int_equal(recur_plan_feed(plans[k], m, bad[i].m, 4), RECUR_OK);
            assert_int_equal(recur_plan_run(plans[k]), RECUR_ERR_RUNTIME);
            const char *msg = recur_plan_errmsg(plans[k]);
            if (!strstr(msg, names[k]) || !strstr(msg, bad[i].want) || !strstr(msg, "not a weight"))
                fail_msg("case %zu: \"%s\" lacks \"%s\" or \"%s\"", i, msg, names[k], bad[i].want);
        }
    }
    /* Weights >= 0 are fine: (2 NLL1 + 0.5 NLL0) / 2.5, rows 0 and 2 masked out. */
    float y;
    assert_int_equal(recur_plan_feed(pl, m, (const float[]){0, 2, 0, 0.5f}, 4), RECUR_OK);
    assert_int_equal(recur_plan_run(pl), RECUR_OK);
    assert_int_equal(recur_plan_fetch(pl, loss, &y, 1), RECUR_OK);
    assert_near(y, (2 * NLL1 + 0.5 * NLL1) / 2.5, 1e-6, 0);
    assert_int_equal(recur_plan_feed(pl, m, (const float[]){0.5f, 0, 1, 0}, 4), RECUR_OK);
    assert_int_equal(recur_plan_run(pl), RECUR_OK);
    assert_int_equal(recur_plan_fetch(pl, loss, &y, 1), RECUR_OK);
    assert_near(y, NLL0, 1e-6, 0);
    recur_plan_free(pl);
    recur_plan_free(pd);
    recur_graph_free(g);
}

/* ------------------------------------------------------------ shape errors */

/* Asserts the last builder failed with a shape error naming every fragment, adding nothing. */
static void assert_shape_error(recur_graph *g, recur_value v, int before, const char *const *frags, int n)
{
    assert_false(recur_ok(v));
    assert_int_equal(recur_errcode(g), RECUR_ERR_SHAPE);
    const char *msg = recur_errmsg(g);
    for (int i = 0; i < n; i++)
        if (!strstr(msg, frags[i])) fail_msg("\"%s\" lacks \"%s\"", msg, frags[i]);
    assert_int_equal(recur_graph_size(g), before);
    recur_clear_error(g);
}

static void test_shape_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape3(4, 2, 5));
    recur_value t = recur_input(g, "t", recur_shape2(4, 2));
    recur_value m = recur_input(g, "m", recur_shape2(4, 2));
    recur_value t_bad = recur_input(g, "t_bad", recur_shape2(2, 4));
    recur_value m_bad = recur_input(g, "m_bad", recur_shape1(8));
    recur_value s = recur_input(g, "s", recur_shape0());
    recur_value dl_bad = recur_input(g, "dl_bad", recur_shape1(2));
    int n = recur_graph_size(g);

    assert_shape_error(g, recur_mse(g, x, t), n, (const char *[]){"op mse", "\"x\" [4, 2, 5]", "\"t\" [4, 2]"}, 3);
    assert_shape_error(g, recur_softmax_xent(g, x, t_bad, m), n,
                       (const char *[]){"op softmax_xent", "targets", "\"x\" [4, 2, 5]", "\"t_bad\" [2, 4]"}, 4);
    assert_shape_error(g, recur_softmax_xent(g, x, t, m_bad), n,
                       (const char *[]){"op softmax_xent", "mask", "\"m_bad\" [8]", "\"t\" [4, 2]"}, 4);
    assert_shape_error(g, recur_softmax_xent(g, s, s, RECUR_NONE), n,
                       (const char *[]){"op softmax_xent", "class", "\"s\" []"}, 3);
    /* Targets of the logits' own shape (a common slip: one-hot targets) are refused. */
    assert_shape_error(g, recur_softmax_xent(g, x, x, RECUR_NONE), n, (const char *[]){"op softmax_xent"}, 1);
    assert_shape_error(g, recur_softmax_xent_grad(g, x, t, m, dl_bad), n,
                       (const char *[]){"op softmax_xent_grad", "dloss", "\"dl_bad\" [2]"}, 3);
    assert_shape_error(g, recur_softmax_xent_grad(g, x, t, m_bad, s), n,
                       (const char *[]){"op softmax_xent_grad", "mask", "\"m_bad\" [8]"}, 3);

    /* An invalid operand keeps the first error. */
    assert_false(recur_ok(recur_mse(g, RECUR_NONE, t)));
    assert_int_equal(recur_errcode(g), RECUR_ERR_VALUE);
    assert_false(recur_ok(recur_softmax_xent(g, x, t, (recur_value){9999})));
    assert_int_equal(recur_graph_size(g), n);
    recur_clear_error(g);

    /* The graph stays usable. */
    TU_OK(g, recur_softmax_xent(g, x, t, m));
    TU_OK(g, recur_softmax_xent(g, x, t, RECUR_NONE));
    TU_OK(g, recur_softmax_xent_grad(g, x, t, RECUR_NONE, s));
    TU_OK(g, recur_mse(g, t, m));
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mse_values),
        cmocka_unit_test(test_mse_long_sum),
        cmocka_unit_test(test_mse_gradients),
        cmocka_unit_test(test_mse_gradient_values),
        cmocka_unit_test(test_xent_values),
        cmocka_unit_test(test_xent_all_masked_is_zero),
        cmocka_unit_test(test_xent_ranks),
        cmocka_unit_test(test_xent_stable_on_large_logits),
        cmocka_unit_test(test_xent_grad_values),
        cmocka_unit_test(test_xent_gradients),
        cmocka_unit_test(test_xent_no_gradient_to_targets),
        cmocka_unit_test(test_xent_bad_targets),
        cmocka_unit_test(test_xent_grad_bad_targets),
        cmocka_unit_test(test_xent_bad_masks),
        cmocka_unit_test(test_shape_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
