/*
 * tests/test_optim.c — optimizers, clipping and schedules.
 *
 * The oracle of every update is ref_run below: the algorithms as PyTorch's
 * documentation writes them (with the bias-corrected m_hat and v_hat of
 * Adam, the variance v - g_avg^2 of centered RMSprop), in double, one
 * parameter at a time. A few values are also checked against numbers worked
 * out by hand. The end-to-end test trains a small least-squares problem
 * built as a recur graph.
 */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { NA = 5, NB = 6, NP = NA + NB, MAXSTEPS = 8 };

/* ------------------------------------------------------------ the oracle */

/* The running state of the oracle: one array per state tensor, in double. */
typedef struct ref_state {
    double m[NP], v[NP], vmax[NP], buf[NP], gavg[NP], sum[NP];
} ref_state;

/*
 * Runs `steps` updates of the NP-element parameter p (double) from the
 * gradients grads[s], as PyTorch's documentation states each algorithm,
 * with clipping applied first the way torch.nn.utils does it (exactly
 * max_norm / norm, see recur_clip_grad_norm) and lr following the schedule.
 */
static void ref_run(const recur_optim_opts *o, double *p, double grads[][NP], int steps)
{
    static ref_state st;
    memset(&st, 0, sizeof st);
    for (int j = 0; j < NP; j++) st.sum[j] = o->initial_accumulator_value;
    double lr = o->lr;
    for (int s = 0; s < steps; s++) {
        int t = s + 1;
        double g[NP], norm = 0;
        for (int j = 0; j < NP; j++) norm += grads[s][j] * grads[s][j];
        norm = sqrt(norm);
        for (int j = 0; j < NP; j++) {
            g[j] = grads[s][j];
            if (o->max_grad_norm > 0 && norm > o->max_grad_norm) g[j] *= o->max_grad_norm / norm;
            if (o->clip_value > 0) g[j] = fmin(fmax(g[j], -o->clip_value), o->clip_value);
        }
        for (int j = 0; j < NP; j++) {
            double gt = g[j], lambda = o->weight_decay;
            switch (o->kind) {
            case RECUR_OPTIM_SGD:
                gt += lambda * p[j];
                if (o->momentum != 0) {
                    st.buf[j] = t > 1 ? o->momentum * st.buf[j] + (1 - o->dampening) * gt : gt;
                    gt = o->nesterov ? gt + o->momentum * st.buf[j] : st.buf[j];
                }
                p[j] -= lr * gt;
                break;
            case RECUR_OPTIM_ADAM:
            case RECUR_OPTIM_ADAMW: {
                if (o->kind == RECUR_OPTIM_ADAMW)
                    p[j] -= lr * lambda * p[j];
                else
                    gt += lambda * p[j];
                st.m[j] = o->beta1 * st.m[j] + (1 - o->beta1) * gt;
                st.v[j] = o->beta2 * st.v[j] + (1 - o->beta2) * gt * gt;
                double mhat = st.m[j] / (1 - pow(o->beta1, t));
                st.vmax[j] = fmax(st.vmax[j], st.v[j]);
                double vhat = (o->amsgrad ? st.vmax[j] : st.v[j]) / (1 - pow(o->beta2, t));
                p[j] -= lr * mhat / (sqrt(vhat) + o->eps);
                break;
            }
            case RECUR_OPTIM_RMSPROP: {
                gt += lambda * p[j];
                st.v[j] = o->alpha * st.v[j] + (1 - o->alpha) * gt * gt;
                double vt = st.v[j];
                if (o->centered) {
                    st.gavg[j] = o->alpha * st.gavg[j] + (1 - o->alpha) * gt;
                    vt -= st.gavg[j] * st.gavg[j];
                }
                if (o->momentum > 0) {
                    st.buf[j] = o->momentum * st.buf[j] + gt / (sqrt(vt) + o->eps);
                    p[j] -= lr * st.buf[j];
                } else {
                    p[j] -= lr * gt / (sqrt(vt) + o->eps);
                }
                break;
            }
            case RECUR_OPTIM_ADAGRAD: {
                double clr = lr / (1 + (t - 1) * o->lr_decay);
                gt += lambda * p[j];
                st.sum[j] += gt * gt;
                p[j] -= clr * gt / (sqrt(st.sum[j]) + o->eps);
                break;
            }
            }
        }
        if (o->schedule.kind == RECUR_SCHEDULE_EXPONENTIAL ||
            (o->schedule.kind == RECUR_SCHEDULE_STEP && t % o->schedule.step_size == 0))
            lr *= o->schedule.gamma;
    }
}

/* ---------------------------------------------------------------- harness */

/* A graph with two parameters: "a" [NA] and "b" [2, 3], filled from a seed. */
typedef struct fixture {
    recur_graph *g;
    recur_value a, b;
    double p0[NP];
} fixture;

static fixture make_fixture(uint64_t seed)
{
    fixture f;
    f.g = recur_graph_new(seed);
    f.a = tu_param(f.g, "a", recur_shape1(NA));
    f.b = tu_param(f.g, "b", recur_shape2(2, 3));
    const float *a = recur_param_data(f.g, f.a), *b = recur_param_data(f.g, f.b);
    for (int j = 0; j < NA; j++) f.p0[j] = a[j];
    for (int j = 0; j < NB; j++) f.p0[NA + j] = b[j];
    return f;
}

/* Gradients for `steps` steps: random in [-scale, scale), with a few small and negative entries. */
static void make_grads(float grads[][NP], double dgrads[][NP], int steps, float scale, uint64_t seed)
{
    for (int s = 0; s < steps; s++) {
        tu_fill_uniform(grads[s], NP, -scale, scale, seed * 100 + (uint64_t)s);
        for (int j = 0; j < NP; j++) dgrads[s][j] = grads[s][j];
    }
}

/* Runs `steps` optimizer steps on the fixture and compares both parameters with ref_run after each step. */
static void check_against_reference(const recur_optim_opts *o, int steps, float scale, uint64_t seed)
{
    fixture f = make_fixture(seed);
    float grads[MAXSTEPS][NP];
    double dgrads[MAXSTEPS][NP];
    make_grads(grads, dgrads, steps, scale, seed);
    recur_optim *opt = recur_optim_new(f.g, o, 2, (recur_value[]){f.a, f.b});
    TU_OK(f.g, opt ? f.a : RECUR_NONE);
    for (int s = 1; s <= steps; s++) {
        const float *gp[2] = {grads[s - 1], grads[s - 1] + NA};
        assert_int_equal(recur_optim_step(opt, gp), RECUR_OK);
        assert_int_equal(recur_optim_steps(opt), s);
        double want[NP];
        memcpy(want, f.p0, sizeof want);
        ref_run(o, want, dgrads, s);
        float wantf[NP], got[NP];
        for (int j = 0; j < NP; j++) wantf[j] = (float)want[j];
        memcpy(got, recur_param_data(f.g, f.a), sizeof(float) * NA);
        memcpy(got + NA, recur_param_data(f.g, f.b), sizeof(float) * NB);
        tu_assert_close(got, wantf, NP, 2e-5, 2e-6);
    }
    recur_optim_free(opt);
    recur_graph_free(f.g);
}

/* ------------------------------------------------------- update rules */

static void test_sgd(void **state)
{
    (void)state;
    recur_optim_opts o = recur_optim_defaults(RECUR_OPTIM_SGD);
    assert_int_equal(o.kind, RECUR_OPTIM_SGD);
    assert_true(o.lr == 1e-3 && o.momentum == 0 && o.weight_decay == 0);
    o.lr = 0.1;
    check_against_reference(&o, 3, 1, 1);
    o.weight_decay = 0.05;
    check_against_reference(&o, 3, 1, 2);
    o.momentum = 0.9;
    check_against_reference(&o, 4, 1, 3);
    o.dampening = 0.3;
    check_against_reference(&o, 4, 1, 4);
    o.dampening = 0;
    o.nesterov = 1;
    check_against_reference(&o, 4, 1, 5);
}

/* SGD by hand: p = 1, g = 0.5 then -0.25, lr 0.1, momentum 0.9, weight decay 0.1. */
static void test_sgd_by_hand(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value p = recur_param(g, "p", recur_shape0(), recur_init_constant(1));
    recur_optim_opts o = recur_optim_defaults(RECUR_OPTIM_SGD);
    o.lr = 0.1, o.momentum = 0.9, o.weight_decay = 0.1;
    recur_optim *opt = recur_optim_new(g, &o, 1, &p);
    assert_non_null(opt);
    float g1 = 0.5f, g2 = -0.25f;
    /* step 1: d = 0.5 + 0.1 * 1 = 0.6, buf = 0.6, p = 1 - 0.06 = 0.94 */
    assert_int_equal(recur_optim_step(opt, (const float *[]){&g1}), RECUR_OK);
    assert_float_equal(recur_param_data(g, p)[0], 0.94, 1e-6);
    /* step 2: d = -0.25 + 0.094 = -0.156, buf = 0.54 - 0.156 = 0.384, p = 0.94 - 0.0384 = 0.9016 */
    assert_int_equal(recur_optim_step(opt, (const float *[]){&g2}), RECUR_OK);
    assert_float_equal(recur_param_data(g, p)[0], 0.9016, 1e-6);
    recur_optim_tensor t;
    assert_int_equal(recur_optim_state_find(opt, "sgd.momentum/p", &t), RECUR_OK);
    assert_float_equal(t.data[0], 0.384, 1e-6);
    recur_optim_free(opt);
    recur_graph_free(g);
}

static void test_adam(void **state)
{
    (void)state;
    recur_optim_opts o = recur_optim_defaults(RECUR_OPTIM_ADAM);
    assert_true(o.beta1 == 0.9 && o.beta2 == 0.999 && o.eps == 1e-8 && o.weight_decay == 0 && o.lr == 1e-3);
    o.lr = 0.01;
    check_against_reference(&o, 5, 1, 11);
    o.weight_decay = 0.1;
    check_against_reference(&o, 5, 1, 12);
    o.beta1 = 0.5, o.beta2 = 0.9, o.eps = 1e-3;
    check_against_reference(&o, 5, 1, 13);
    o.amsgrad = 1; /* the random gradients shrink and grow, so v_max differs from v */
    check_against_reference(&o, 8, 1, 14);
    o.beta1 = 0;
    check_against_reference(&o, 3, 1, 15);
}

/*
 * Adam's first two steps by hand, from the paper: m1 = (1 - b1) g1 and
 * v1 = (1 - b2) g1^2 correct to m_hat = g1, v_hat = g1^2, so the first step
 * is lr * g1 / (|g1| + eps). With g1 = 2, g2 = -1, b1 = 0.9, b2 = 0.999:
 *   m2 = 0.9 * 0.2 - 0.1 = 0.08,       m_hat = 0.08 / 0.19
 *   v2 = 0.999 * 0.004 + 0.001 = 0.004996,  v_hat = 0.004996 / 0.001999
 */
static void test_adam_by_hand(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value p = recur_param(g, "w", recur_shape1(1), recur_init_constant(3));
    recur_optim_opts o = recur_optim_defaults(RECUR_OPTIM_ADAM);
    o.lr = 0.1;
    recur_optim *opt = recur_optim_new(g, &o, 1, &p);
    assert_non_null(opt);
    float g1 = 2, g2 = -1;
    assert_int_equal(recur_optim_step(opt, (const float *[]){&g1}), RECUR_OK);
    double p1 = 3 - 0.1 * 2 / (2 + 1e-8);
    assert_float_equal(recur_param_data(g, p)[0], p1, 1e-6);
    assert_int_equal(recur_optim_step(opt, (const float *[]){&g2}), RECUR_OK);
    double p2 = p1 - 0.1 * (0.08 / 0.19) / (sqrt(0.004996 / 0.001999) + 1e-8);
    assert_float_equal(recur_param_data(g, p)[0], p2, 1e-6);
    recur_optim_tensor m, v;
    assert_int_equal(recur_optim_state_find(opt, "adam.m/w", &m), RECUR_OK);
    assert_int_equal(recur_optim_state_find(opt, "adam.v/w", &v), RECUR_OK);
    assert_float_equal(m.data[0], 0.08, 1e-7);
    assert_float_equal(v.data[0], 0.004996, 1e-9);
    recur_optim_free(opt);
    recur_graph_free(g);
}

static void test_adamw(void **state)
{
    (void)state;
    recur_optim_opts o = recur_optim_defaults(RECUR_OPTIM_ADAMW);
    assert_true(o.weight_decay == 1e-2 && o.lr == 1e-3);
    o.lr = 0.02;
    check_against_reference(&o, 5, 1, 21);
    o.weight_decay = 0.5;
    o.amsgrad = 1;
    check_against_reference(&o, 6, 1, 22);

    /* Decoupled: with a zero gradient Adam's update is 0/(0 + eps) = 0, so only p *= 1 - lr wd is left. */
    recur_graph *g = recur_graph_new(1);
    recur_value p = recur_param(g, "w", recur_shape1(2), recur_init_constant(2));
    o = recur_optim_defaults(RECUR_OPTIM_ADAMW);
    o.lr = 0.1, o.weight_decay = 0.5;
    recur_optim *opt = recur_optim_new(g, &o, 1, &p);
    float zero[2] = {0, 0};
    assert_int_equal(recur_optim_step(opt, (const float *[]){zero}), RECUR_OK);
    assert_float_equal(recur_param_data(g, p)[0], 2 * 0.95, 1e-6);
    assert_float_equal(recur_param_data(g, p)[1], 2 * 0.95, 1e-6);
    recur_optim_free(opt);
    /* Adam's L2 decay instead goes through m and v: the first step moves by about lr, not lr wd p. */
    o.kind = RECUR_OPTIM_ADAM;
    opt = recur_optim_new(g, &o, 1, &p);
    assert_int_equal(recur_optim_step(opt, (const float *[]){zero}), RECUR_OK);
    assert_float_equal(recur_param_data(g, p)[0], 1.9 - 0.1, 1e-6);
    recur_optim_free(opt);
    recur_graph_free(g);
}

static void test_rmsprop(void **state)
{
    (void)state;
    recur_optim_opts o = recur_optim_defaults(RECUR_OPTIM_RMSPROP);
    assert_true(o.lr == 1e-2 && o.alpha == 0.99 && o.eps == 1e-8 && o.momentum == 0 && !o.centered);
    check_against_reference(&o, 4, 1, 31);
    o.alpha = 0.9;
    o.weight_decay = 0.1;
    check_against_reference(&o, 4, 1, 32);
    o.momentum = 0.8;
    check_against_reference(&o, 5, 1, 33);
    o.centered = 1;
    check_against_reference(&o, 5, 1, 34);
    o.momentum = 0;
    check_against_reference(&o, 5, 1, 35);
}

/* RMSprop's first step by hand: sq = (1 - alpha) g^2, so p moves by lr g / (sqrt(1 - alpha) |g| + eps). */
static void test_rmsprop_by_hand(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value p = recur_param(g, "w", recur_shape0(), recur_init_constant(1));
    recur_optim_opts o = recur_optim_defaults(RECUR_OPTIM_RMSPROP);
    o.alpha = 0.75;
    recur_optim *opt = recur_optim_new(g, &o, 1, &p);
    float g1 = 4;
    assert_int_equal(recur_optim_step(opt, (const float *[]){&g1}), RECUR_OK);
    assert_float_equal(recur_param_data(g, p)[0], 1 - 0.01 * 4 / (0.5 * 4 + 1e-8), 1e-7);
    recur_optim_free(opt);
    recur_graph_free(g);
}

static void test_adagrad(void **state)
{
    (void)state;
    recur_optim_opts o = recur_optim_defaults(RECUR_OPTIM_ADAGRAD);
    assert_true(o.lr == 1e-2 && o.eps == 1e-10 && o.lr_decay == 0 && o.initial_accumulator_value == 0);
    o.lr = 0.1;
    check_against_reference(&o, 4, 1, 41);
    o.lr_decay = 0.5;
    check_against_reference(&o, 4, 1, 42);
    o.weight_decay = 0.2;
    o.initial_accumulator_value = 0.3;
    check_against_reference(&o, 4, 1, 43);

    /* By hand: sum = 0.3 + 4, p = 1 - 0.1 * 2 / sqrt(4.3) (lr_decay starts at step 2). */
    recur_graph *g = recur_graph_new(1);
    recur_value p = recur_param(g, "w", recur_shape0(), recur_init_constant(1));
    o = recur_optim_defaults(RECUR_OPTIM_ADAGRAD);
    o.lr = 0.1, o.lr_decay = 1, o.initial_accumulator_value = 0.3;
    recur_optim *opt = recur_optim_new(g, &o, 1, &p);
    float g1 = 2, g2 = 1;
    assert_int_equal(recur_optim_step(opt, (const float *[]){&g1}), RECUR_OK);
    double p1 = 1 - 0.1 * 2 / (sqrt(4.3) + 1e-10);
    assert_float_equal(recur_param_data(g, p)[0], p1, 1e-7);
    /* step 2: lr / (1 + 1 * 1) = 0.05, sum = 5.3 */
    assert_int_equal(recur_optim_step(opt, (const float *[]){&g2}), RECUR_OK);
    assert_float_equal(recur_param_data(g, p)[0], p1 - 0.05 / sqrt(5.3), 1e-7);
    recur_optim_free(opt);
    recur_graph_free(g);
}

/* ---------------------------------------------------------------- clipping */

static void test_clip_grad_norm(void **state)
{
    (void)state;
    /* ||(3, 4, 0, 12)|| = 13 over two arrays. */
    float a[2] = {3, -4}, b[2] = {0, 12};
    float *gs[2] = {a, b};
    int64_t numel[2] = {2, 2};
    double norm = 0;
    assert_int_equal(recur_grad_norm(2, (const float *const *)gs, numel, &norm), RECUR_OK);
    assert_float_equal(norm, 13, 1e-12);
    /* Above max_norm: scaled by 6.5 / 13, direction kept, new norm 6.5. */
    assert_int_equal(recur_clip_grad_norm(2, gs, numel, 6.5, &norm), RECUR_OK);
    assert_float_equal(norm, 13, 1e-12);
    tu_assert_close(a, (float[]){1.5f, -2}, 2, 1e-7, 0);
    tu_assert_close(b, (float[]){0, 6}, 2, 1e-7, 0);
    assert_int_equal(recur_grad_norm(2, (const float *const *)gs, numel, &norm), RECUR_OK);
    assert_float_equal(norm, 6.5, 1e-6);
    /* At or below max_norm nothing changes. */
    assert_int_equal(recur_clip_grad_norm(2, gs, numel, 6.5 * (1 + 1e-6), &norm), RECUR_OK);
    assert_int_equal(recur_clip_grad_norm(2, gs, numel, 100, NULL), RECUR_OK);
    tu_assert_close(a, (float[]){1.5f, -2}, 2, 0, 0);
    tu_assert_close(b, (float[]){0, 6}, 2, 0, 0);

    /* A long random vector: the norm is the double-accumulated one and clipping lands on max_norm. */
    enum { N = 10000 };
    static float big[N];
    tu_fill_uniform(big, N, -3, 3, 7);
    double want = 0;
    for (int j = 0; j < N; j++) want += (double)big[j] * big[j];
    want = sqrt(want);
    float *one[1] = {big};
    int64_t n1[1] = {N};
    assert_int_equal(recur_clip_grad_norm(1, one, n1, 1.0, &norm), RECUR_OK);
    assert_float_equal(norm, want, want * 1e-12);
    assert_int_equal(recur_grad_norm(1, (const float *const *)one, n1, &norm), RECUR_OK);
    assert_float_equal(norm, 1.0, 1e-5);

    /* Non-finite: refused, the arrays stay as they were. */
    float c[3] = {1, NAN, 2};
    float *cs[1] = {c};
    int64_t n3[1] = {3};
    assert_int_equal(recur_clip_grad_norm(1, cs, n3, 1, &norm), RECUR_ERR_RUNTIME);
    assert_true(isnan(norm));
    assert_true(c[0] == 1 && c[2] == 2);
    c[1] = INFINITY;
    assert_int_equal(recur_clip_grad_norm(1, cs, n3, 1, &norm), RECUR_ERR_RUNTIME);
    assert_true(isinf(norm) && c[0] == 1);
    /* Bad arguments. */
    assert_int_equal(recur_clip_grad_norm(2, gs, numel, 0, &norm), RECUR_ERR_ARG);
    assert_int_equal(recur_clip_grad_norm(2, gs, numel, -1, &norm), RECUR_ERR_ARG);
    assert_int_equal(recur_clip_grad_norm(2, gs, numel, NAN, &norm), RECUR_ERR_ARG);
    assert_int_equal(recur_clip_grad_norm(2, NULL, numel, 1, &norm), RECUR_ERR_ARG);
    assert_int_equal(recur_clip_grad_norm(2, gs, NULL, 1, &norm), RECUR_ERR_ARG);
    assert_int_equal(recur_grad_norm(-1, (const float *const *)gs, numel, &norm), RECUR_ERR_ARG);
    assert_int_equal(recur_grad_norm(2, (const float *const *)gs, numel, NULL), RECUR_ERR_ARG);
    assert_int_equal(recur_grad_norm(0, NULL, NULL, &norm), RECUR_OK);
    assert_true(norm == 0);
}

static void test_clip_grad_value(void **state)
{
    (void)state;
    float a[4] = {-3, -0.5f, 0.25f, 7}, b[1] = {NAN};
    float *gs[2] = {a, b};
    int64_t numel[2] = {4, 1};
    assert_int_equal(recur_clip_grad_value(2, gs, numel, 1), RECUR_OK);
    tu_assert_close(a, (float[]){-1, -0.5f, 0.25f, 1}, 4, 0, 0);
    assert_true(isnan(b[0]));
    assert_int_equal(recur_clip_grad_value(2, gs, numel, 0), RECUR_ERR_ARG);
    assert_int_equal(recur_clip_grad_value(2, gs, numel, -2), RECUR_ERR_ARG);
    assert_int_equal(recur_clip_grad_value(2, NULL, numel, 1), RECUR_ERR_ARG);
    assert_int_equal(recur_clip_grad_value(1, gs, numel, 1e300), RECUR_OK);
    tu_assert_close(a, (float[]){-1, -0.5f, 0.25f, 1}, 4, 0, 0);
}

/* Clipping inside the step: the given gradients stay untouched; the rule sees clipped ones. */
static void test_step_clipping(void **state)
{
    (void)state;
    /* SGD, lr 1: p moves by exactly the clipped gradient. ||(3, 4)|| = 5 over two parameters. */
    recur_graph *g = recur_graph_new(1);
    recur_value u = recur_param(g, "u", recur_shape1(1), recur_init_zeros());
    recur_value w = recur_param(g, "w", recur_shape1(1), recur_init_zeros());
    recur_optim_opts o = recur_optim_defaults(RECUR_OPTIM_SGD);
    o.lr = 1, o.max_grad_norm = 1;
    recur_optim *opt = recur_optim_new(g, &o, 2, (recur_value[]){u, w});
    assert_non_null(opt);
    assert_true(recur_optim_grad_norm(opt) == -1);
    float gu = 3, gw = 4;
    assert_int_equal(recur_optim_step(opt, (const float *[]){&gu, &gw}), RECUR_OK);
    assert_float_equal(recur_optim_grad_norm(opt), 5, 1e-12);
    assert_true(gu == 3 && gw == 4);
    assert_float_equal(recur_param_data(g, u)[0], -0.6, 1e-7);
    assert_float_equal(recur_param_data(g, w)[0], -0.8, 1e-7);
    /* Below the bound: unchanged gradient. */
    gu = 0.3f, gw = -0.4f;
    assert_int_equal(recur_optim_step(opt, (const float *[]){&gu, &gw}), RECUR_OK);
    assert_float_equal(recur_optim_grad_norm(opt), 0.5, 1e-7);
    assert_float_equal(recur_param_data(g, u)[0], -0.9, 1e-6);
    assert_float_equal(recur_param_data(g, w)[0], -0.4, 1e-6);
    recur_optim_free(opt);
    /* Without max_grad_norm the norm is still reported; clip_value clamps each element. */
    o.max_grad_norm = 0, o.clip_value = 0.5;
    opt = recur_optim_new(g, &o, 2, (recur_value[]){u, w});
    gu = 3, gw = -0.25f;
    assert_int_equal(recur_optim_step(opt, (const float *[]){&gu, &gw}), RECUR_OK);
    assert_float_equal(recur_optim_grad_norm(opt), sqrt(9 + 0.0625), 1e-7);
    assert_float_equal(recur_param_data(g, u)[0], -1.4, 1e-6);
    assert_float_equal(recur_param_data(g, w)[0], -0.15, 1e-6);
    recur_optim_free(opt);
    recur_graph_free(g);

    /* Against the oracle, with both kinds of clipping and gradients large enough to be clipped. */
    o = recur_optim_defaults(RECUR_OPTIM_ADAM);
    o.lr = 0.05, o.max_grad_norm = 2;
    check_against_reference(&o, 4, 5, 51);
    o.clip_value = 0.3;
    check_against_reference(&o, 4, 5, 52);
    o = recur_optim_defaults(RECUR_OPTIM_SGD);
    o.lr = 0.1, o.momentum = 0.5, o.max_grad_norm = 1.5;
    check_against_reference(&o, 4, 5, 53);
}

/* -------------------------------------------------------------- schedules */

static void test_schedules(void **state)
{
    (void)state;
    recur_schedule step = {RECUR_SCHEDULE_STEP, 3, 0.5}, ex = {RECUR_SCHEDULE_EXPONENTIAL, 0, 0.9};
    /* StepLR(step_size 3, gamma 0.5) from 0.8: steps 1-3 at 0.8, 4-6 at 0.4, 7-9 at 0.2. */
    const double want_step[9] = {0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2, 0.2};
    for (int t = 0; t < 9; t++) {
        assert_float_equal(recur_schedule_lr(&step, 0.8, t), want_step[t], 1e-15);
        assert_float_equal(recur_schedule_lr(&ex, 0.8, t), 0.8 * pow(0.9, t), 1e-15);
        assert_float_equal(recur_schedule_lr(NULL, 0.8, t), 0.8, 0);
    }
    assert_true(isnan(recur_schedule_lr(&step, 0.8, -1)));
    recur_schedule bad = {RECUR_SCHEDULE_STEP, 0, 0.5};
    assert_true(isnan(recur_schedule_lr(&bad, 0.8, 2)));

    /* The optimizer's lr after n steps, and the updates made with it: SGD with g = 1 moves p by each step's lr. */
    recur_graph *g = recur_graph_new(1);
    recur_value p = recur_param(g, "p", recur_shape0(), recur_init_zeros());
    for (int k = 0; k < 2; k++) {
        recur_optim_opts o = recur_optim_defaults(RECUR_OPTIM_SGD);
        o.lr = 0.8;
        o.schedule = k == 0 ? step : ex;
        recur_param_init(g, p, recur_init_zeros());
        recur_optim *opt = recur_optim_new(g, &o, 1, &p);
        assert_non_null(opt);
        float one = 1;
        double moved = 0;
        for (int t = 0; t < 9; t++) {
            assert_float_equal(recur_optim_lr(opt), recur_schedule_lr(&o.schedule, 0.8, t), 1e-12);
            assert_int_equal(recur_optim_step(opt, (const float *[]){&one}), RECUR_OK);
            moved += k == 0 ? want_step[t] : 0.8 * pow(0.9, t);
            assert_float_equal(recur_param_data(g, p)[0], -moved, 1e-5);
        }
        assert_float_equal(recur_optim_lr(opt), k == 0 ? 0.1 : 0.8 * pow(0.9, 9), 1e-12);
        /* A rate set by hand is decayed from there: after step 12 (a multiple of 3) it halves. */
        assert_int_equal(recur_optim_set_lr(opt, 1.0), RECUR_OK);
        for (int t = 0; t < 3; t++) assert_int_equal(recur_optim_step(opt, (const float *[]){&one}), RECUR_OK);
        assert_float_equal(recur_optim_lr(opt), k == 0 ? 0.5 : pow(0.9, 3), 1e-12);
        recur_optim_free(opt);
    }
    /* Against the oracle with Adam. */
    recur_optim_opts o = recur_optim_defaults(RECUR_OPTIM_ADAM);
    o.lr = 0.1;
    o.schedule = (recur_schedule){RECUR_SCHEDULE_STEP, 2, 0.3};
    check_against_reference(&o, 6, 1, 61);
    o.schedule = ex;
    check_against_reference(&o, 6, 1, 62);
    recur_graph_free(g);
}

/* ----------------------------------------------------------- state, reset */

static void test_state_tensors(void **state)
{
    (void)state;
    struct {
        recur_optim_kind kind;
        int momentum, centered, amsgrad;
        const char *names[3];
    } cases[] = {
        {RECUR_OPTIM_SGD, 0, 0, 0, {NULL}},
        {RECUR_OPTIM_SGD, 1, 0, 0, {"sgd.momentum"}},
        {RECUR_OPTIM_ADAM, 0, 0, 0, {"adam.m", "adam.v"}},
        {RECUR_OPTIM_ADAM, 0, 0, 1, {"adam.m", "adam.v", "adam.v_max"}},
        {RECUR_OPTIM_ADAMW, 0, 0, 0, {"adamw.m", "adamw.v"}},
        {RECUR_OPTIM_RMSPROP, 0, 0, 0, {"rmsprop.square_avg"}},
        {RECUR_OPTIM_RMSPROP, 1, 1, 0, {"rmsprop.square_avg", "rmsprop.momentum", "rmsprop.grad_avg"}},
        {RECUR_OPTIM_ADAGRAD, 0, 0, 0, {"adagrad.sum"}},
    };
    fixture f = make_fixture(3);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        recur_optim_opts o = recur_optim_defaults(cases[c].kind);
        o.momentum = cases[c].momentum ? 0.9 : 0;
        o.centered = cases[c].centered;
        o.amsgrad = cases[c].amsgrad;
        recur_optim *opt = recur_optim_new(f.g, &o, 2, (recur_value[]){f.a, f.b});
        assert_non_null(opt);
        assert_int_equal(recur_optim_kind_of(opt), cases[c].kind);
        assert_int_equal(recur_optim_size(opt), 2);
        assert_int_equal(recur_optim_param(opt, 1).id, f.b.id);
        assert_int_equal(recur_optim_param(opt, 2).id, -1);
        int per = 0;
        while (per < 3 && cases[c].names[per]) per++;
        assert_int_equal(recur_optim_state_count(opt), 2 * per);
        for (int i = 0; i < 2 * per; i++) {
            recur_optim_tensor t;
            assert_int_equal(recur_optim_state(opt, i, &t), RECUR_OK);
            char want[64];
            snprintf(want, sizeof want, "%s/%s", cases[c].names[i % per], i < per ? "a" : "b");
            assert_string_equal(t.name, want);
            assert_int_equal(t.numel, i < per ? NA : NB);
            assert_int_equal(t.param.id, (i < per ? f.a : f.b).id);
            assert_true(recur_shape_equal(t.shape, recur_value_shape(f.g, t.param)));
            recur_optim_tensor u;
            assert_int_equal(recur_optim_state_find(opt, want, &u), RECUR_OK);
            assert_ptr_equal(u.data, t.data);
        }
        recur_optim_tensor t;
        assert_int_equal(recur_optim_state(opt, 2 * per, &t), RECUR_ERR_ARG);
        assert_int_equal(recur_optim_state_find(opt, "adam.m/zzz", &t), RECUR_ERR_ARG);
        assert_non_null(strstr(recur_optim_errmsg(opt), "adam.m/zzz"));
        recur_optim_free(opt);
    }
    recur_graph_free(f.g);
}

/*
 * A checkpoint round trip through the state API: optimizer A takes three
 * steps; B, made fresh, gets A's parameters, state tensors, step count and
 * lr after two; its third step must give exactly A's parameters.
 */
static void test_state_restore(void **state)
{
    (void)state;
    for (int kind = RECUR_OPTIM_SGD; kind <= RECUR_OPTIM_ADAGRAD; kind++) {
        recur_optim_opts o = recur_optim_defaults((recur_optim_kind)kind);
        o.lr = 0.05, o.momentum = 0.5, o.amsgrad = 1, o.centered = 1, o.lr_decay = 0.1;
        o.schedule = (recur_schedule){RECUR_SCHEDULE_EXPONENTIAL, 0, 0.7};
        fixture fa = make_fixture(9), fb = make_fixture(10);
        float grads[3][NP];
        double dg[3][NP];
        make_grads(grads, dg, 3, 1, 77);
        recur_optim *A = recur_optim_new(fa.g, &o, 2, (recur_value[]){fa.a, fa.b});
        recur_optim *B = recur_optim_new(fb.g, &o, 2, (recur_value[]){fb.a, fb.b});
        assert_non_null(A);
        assert_non_null(B);
        for (int s = 0; s < 2; s++)
            assert_int_equal(recur_optim_step(A, (const float *[]){grads[s], grads[s] + NA}), RECUR_OK);
        /* "save" A and "load" into B */
        TU_ST(fb.g, recur_param_set(fb.g, fb.a, recur_param_data(fa.g, fa.a), NA));
        TU_ST(fb.g, recur_param_set(fb.g, fb.b, recur_param_data(fa.g, fa.b), NB));
        for (int i = 0; i < recur_optim_state_count(A); i++) {
            recur_optim_tensor ta, tb;
            assert_int_equal(recur_optim_state(A, i, &ta), RECUR_OK);
            assert_int_equal(recur_optim_state_find(B, ta.name, &tb), RECUR_OK);
            assert_int_equal(ta.numel, tb.numel);
            memcpy(tb.data, ta.data, sizeof(float) * (size_t)ta.numel);
        }
        assert_int_equal(recur_optim_set_steps(B, recur_optim_steps(A)), RECUR_OK);
        assert_int_equal(recur_optim_set_lr(B, recur_optim_lr(A)), RECUR_OK);
        assert_int_equal(recur_optim_step(A, (const float *[]){grads[2], grads[2] + NA}), RECUR_OK);
        assert_int_equal(recur_optim_step(B, (const float *[]){grads[2], grads[2] + NA}), RECUR_OK);
        assert_memory_equal(recur_param_data(fa.g, fa.a), recur_param_data(fb.g, fb.a), sizeof(float) * NA);
        assert_memory_equal(recur_param_data(fa.g, fa.b), recur_param_data(fb.g, fb.b), sizeof(float) * NB);
        assert_true(recur_optim_lr(A) == recur_optim_lr(B));
        /* The third step changed something, so the comparison meant something. */
        double want[NP];
        memcpy(want, fa.p0, sizeof want);
        ref_run(&o, want, dg, 3);
        assert_float_equal(recur_param_data(fa.g, fa.a)[0], want[0], 1e-5);

        /* reset: a fresh optimizer again, giving the first step's result from the same start. */
        recur_optim_reset(A);
        assert_int_equal(recur_optim_steps(A), 0);
        assert_true(recur_optim_lr(A) == o.lr && recur_optim_grad_norm(A) == -1);
        TU_ST(fa.g, recur_param_set(fa.g, fa.a, (float[NA]){0}, NA));
        TU_ST(fb.g, recur_param_set(fb.g, fb.a, (float[NA]){0}, NA));
        recur_optim *C = recur_optim_new(fb.g, &o, 2, (recur_value[]){fb.a, fb.b});
        TU_ST(fb.g, recur_param_set(fb.g, fb.b, recur_param_data(fa.g, fa.b), NB));
        assert_int_equal(recur_optim_step(A, (const float *[]){grads[0], grads[0] + NA}), RECUR_OK);
        assert_int_equal(recur_optim_step(C, (const float *[]){grads[0], grads[0] + NA}), RECUR_OK);
        assert_memory_equal(recur_param_data(fa.g, fa.a), recur_param_data(fb.g, fb.a), sizeof(float) * NA);
        assert_memory_equal(recur_param_data(fa.g, fa.b), recur_param_data(fb.g, fb.b), sizeof(float) * NB);
        recur_optim_free(A);
        recur_optim_free(B);
        recur_optim_free(C);
        recur_graph_free(fa.g);
        recur_graph_free(fb.g);
    }
}

/* ---------------------------------------------- non-finite results refused */

/* Every value an optimizer holds (its parameters' and state tensors' floats), back to back. */
static float *optim_snapshot(recur_optim *opt, const fixture *f, size_t *n)
{
    int ns = recur_optim_state_count(opt);
    float *s = malloc(sizeof(float) * (size_t)(NP * (1 + ns))), *at = s;
    assert_non_null(s);
    memcpy(at, recur_param_data(f->g, f->a), sizeof(float) * NA), at += NA;
    memcpy(at, recur_param_data(f->g, f->b), sizeof(float) * NB), at += NB;
    for (int i = 0; i < ns; i++) {
        recur_optim_tensor t;
        assert_int_equal(recur_optim_state(opt, i, &t), RECUR_OK);
        memcpy(at, t.data, sizeof(float) * (size_t)t.numel);
        at += t.numel;
    }
    *n = (size_t)(at - s);
    return s;
}

/* The step fails with RECUR_ERR_RUNTIME, its message holding `needle`, and changes nothing (the step count and lr too). */
static void expect_refused(recur_optim *opt, const fixture *f, const float *grads, const char *needle)
{
    size_t n0, n1;
    float *before = optim_snapshot(opt, f, &n0);
    int64_t steps = recur_optim_steps(opt);
    double lr = recur_optim_lr(opt);
    assert_int_equal(recur_optim_step(opt, (const float *[]){grads, grads + NA}), RECUR_ERR_RUNTIME);
    if (!strstr(recur_optim_errmsg(opt), needle) || !strstr(recur_optim_errmsg(opt), "nothing changed"))
        fail_msg("message \"%s\" lacks \"%s\"", recur_optim_errmsg(opt), needle);
    float *after = optim_snapshot(opt, f, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, sizeof(float) * n0);
    assert_int_equal(recur_optim_steps(opt), steps);
    assert_true(recur_optim_lr(opt) == lr);
    free(before);
    free(after);
}

/*
 * NaN in Adam's state made a resumed run write all-NaN weights and say
 * "done". No kind writes a non-finite parameter or state value now: a NaN
 * in the state, a NaN parameter, and an overflow are each refused, naming
 * the tensor and the element, with nothing changed; the same step goes
 * through once the state is repaired.
 */
static void test_nonfinite_writes_refused(void **state)
{
    (void)state;
    for (int kind = RECUR_OPTIM_SGD; kind <= RECUR_OPTIM_ADAGRAD; kind++) {
        recur_optim_opts o = recur_optim_defaults((recur_optim_kind)kind);
        o.momentum = kind == RECUR_OPTIM_SGD || kind == RECUR_OPTIM_RMSPROP ? 0.5 : 0;
        fixture f = make_fixture(31 + (uint64_t)kind);
        float grads[2][NP];
        double dg[2][NP];
        make_grads(grads, dg, 2, 1, 5);
        recur_optim *opt = recur_optim_new(f.g, &o, 2, (recur_value[]){f.a, f.b});
        assert_non_null(opt);
        assert_int_equal(recur_optim_step(opt, (const float *[]){grads[0], grads[0] + NA}), RECUR_OK);

        /* A NaN in a state tensor of b (as a checkpoint restored without the finiteness check could leave). */
        recur_optim_tensor t;
        assert_int_equal(recur_optim_state(opt, recur_optim_state_count(opt) - 1, &t), RECUR_OK);
        float keep = t.data[4];
        t.data[4] = NAN;
        char needle[128];
        snprintf(needle, sizeof needle, "element 4 of ");
        expect_refused(opt, &f, grads[1], needle);
        assert_non_null(strstr(recur_optim_errmsg(opt), "\"b\"")); /* b itself, or its state tensor ".../b" */
        assert_non_null(strstr(recur_optim_errmsg(opt), "would write nan"));
        t.data[4] = keep;

        /* A NaN parameter. */
        float *a = recur_param_data(f.g, f.a);
        keep = a[2];
        a[2] = NAN;
        expect_refused(opt, &f, grads[1], "element 2 of parameter \"a\" [5]");
        a[2] = keep;

        /* Repaired: the step goes through and every value is finite. */
        assert_int_equal(recur_optim_step(opt, (const float *[]){grads[1], grads[1] + NA}), RECUR_OK);
        assert_int_equal(recur_optim_steps(opt), 2);
        size_t n;
        float *all = optim_snapshot(opt, &f, &n);
        for (size_t j = 0; j < n; j++) assert_true(isfinite(all[j]));
        free(all);
        recur_optim_free(opt);
        recur_graph_free(f.g);
    }

    /* An overflow: SGD with lr 1e38 and gradients near 1 sends a to -inf or +inf. */
    recur_optim_opts o = recur_optim_defaults(RECUR_OPTIM_SGD);
    o.lr = 1e38;
    fixture f = make_fixture(3);
    float g[NP];
    for (int j = 0; j < NP; j++) g[j] = j == 3 ? 1e4f : 0.5f;
    recur_optim *opt = recur_optim_new(f.g, &o, 2, (recur_value[]){f.a, f.b});
    assert_non_null(opt);
    expect_refused(opt, &f, g, "would write -inf to element 3 of parameter \"a\"");
    /* In b, after a was updated (by 5e37 per element, still finite): a is put back too. */
    g[3] = 0.5f;
    g[NA + 2] = -1e4f;
    expect_refused(opt, &f, g, "would write inf to element 2 of parameter \"b\" [2, 3]");
    recur_optim_free(opt);
    recur_graph_free(f.g);
}

/* ------------------------------------------------------------------ errors */

/* recur_optim_new must fail with code and a message holding `needle`. */
static void expect_new_fails(recur_graph *g, const recur_optim_opts *o, int n, const recur_value *params,
                             recur_status code, const char *needle)
{
    recur_clear_error(g);
    recur_optim *opt = recur_optim_new(g, o, n, params);
    if (opt) fail_msg("optim_new succeeded, expected an error about \"%s\"", needle);
    assert_int_equal(recur_errcode(g), code);
    if (!strstr(recur_errmsg(g), needle)) fail_msg("message \"%s\" does not mention \"%s\"", recur_errmsg(g), needle);
}

static void test_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value w = tu_param(g, "w", recur_shape2(2, 2));
    recur_value x = recur_input(g, "x", recur_shape1(4));
    recur_value y = recur_tanh(g, x);
    TU_OK(g, y);
    recur_optim_opts o = recur_optim_defaults(RECUR_OPTIM_ADAM);

    /* Values that are not parameters, repeats, no parameters. */
    expect_new_fails(g, &o, 2, (recur_value[]){w, x}, RECUR_ERR_VALUE, "params[1] \"x\" (op input) is not a parameter");
    expect_new_fails(g, &o, 1, &y, RECUR_ERR_VALUE, "not a parameter");
    expect_new_fails(g, &o, 1, (recur_value[]){{99}}, RECUR_ERR_VALUE, "params[0] (value 99)");
    expect_new_fails(g, &o, 1, (recur_value[]){RECUR_NONE}, RECUR_ERR_VALUE, "params[0]");
    expect_new_fails(g, &o, 2, (recur_value[]){w, w}, RECUR_ERR_ARG, "\"w\" is listed twice");
    expect_new_fails(g, &o, 0, &w, RECUR_ERR_ARG, "at least one parameter");
    expect_new_fails(g, &o, 1, NULL, RECUR_ERR_ARG, "params = NULL");
    assert_null(recur_optim_new(NULL, &o, 1, &w));

    /* Hyper-parameters out of range, each named. */
    struct {
        recur_optim_kind kind;
        const char *field;
        double value;
    } bad[] = {
        {RECUR_OPTIM_ADAM, "lr", -0.1},       {RECUR_OPTIM_ADAM, "lr", NAN},
        {RECUR_OPTIM_ADAM, "lr", INFINITY},   {RECUR_OPTIM_ADAM, "beta1", 1},
        {RECUR_OPTIM_ADAM, "beta1", -0.1},    {RECUR_OPTIM_ADAMW, "beta2", 1},
        {RECUR_OPTIM_ADAM, "beta2", 1.5},     {RECUR_OPTIM_ADAM, "eps", -1e-8},
        {RECUR_OPTIM_SGD, "weight_decay", -1}, {RECUR_OPTIM_SGD, "momentum", -0.9},
        {RECUR_OPTIM_SGD, "dampening", 1.5},  {RECUR_OPTIM_RMSPROP, "alpha", 1.01},
        {RECUR_OPTIM_RMSPROP, "momentum", -1}, {RECUR_OPTIM_ADAGRAD, "lr_decay", -1},
        {RECUR_OPTIM_ADAGRAD, "initial_accumulator_value", -1},
        {RECUR_OPTIM_ADAM, "max_grad_norm", -1}, {RECUR_OPTIM_SGD, "clip_value", -1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        recur_optim_opts b = recur_optim_defaults(bad[i].kind);
        double *field = !strcmp(bad[i].field, "lr")                          ? &b.lr
                        : !strcmp(bad[i].field, "beta1")                     ? &b.beta1
                        : !strcmp(bad[i].field, "beta2")                     ? &b.beta2
                        : !strcmp(bad[i].field, "eps")                       ? &b.eps
                        : !strcmp(bad[i].field, "weight_decay")              ? &b.weight_decay
                        : !strcmp(bad[i].field, "momentum")                  ? &b.momentum
                        : !strcmp(bad[i].field, "dampening")                 ? &b.dampening
                        : !strcmp(bad[i].field, "alpha")                     ? &b.alpha
                        : !strcmp(bad[i].field, "lr_decay")                  ? &b.lr_decay
                        : !strcmp(bad[i].field, "initial_accumulator_value") ? &b.initial_accumulator_value
                        : !strcmp(bad[i].field, "max_grad_norm")             ? &b.max_grad_norm
                                                                             : &b.clip_value;
        *field = bad[i].value;
        char needle[80];
        snprintf(needle, sizeof needle, "%s option %s = ", recur_optim_kind_name(bad[i].kind), bad[i].field);
        expect_new_fails(g, &b, 1, &w, RECUR_ERR_ARG, needle);
    }
    expect_new_fails(g, &(recur_optim_opts){.kind = RECUR_OPTIM_ADAM, .lr = 1, .beta1 = 0.9, .beta2 = 1}, 1, &w,
                     RECUR_ERR_ARG, "beta2 = 1 is outside [0, 1)");
    recur_optim_opts b = recur_optim_defaults(RECUR_OPTIM_SGD);
    b.nesterov = 1;
    expect_new_fails(g, &b, 1, &w, RECUR_ERR_ARG, "nesterov needs momentum > 0");
    b.momentum = 0.9, b.dampening = 0.1;
    expect_new_fails(g, &b, 1, &w, RECUR_ERR_ARG, "dampening = 0.1");
    b = recur_optim_defaults(RECUR_OPTIM_SGD);
    b.schedule = (recur_schedule){RECUR_SCHEDULE_STEP, 0, 0.5};
    expect_new_fails(g, &b, 1, &w, RECUR_ERR_ARG, "step_size = 0");
    b.schedule = (recur_schedule){RECUR_SCHEDULE_EXPONENTIAL, 0, 0};
    expect_new_fails(g, &b, 1, &w, RECUR_ERR_ARG, "gamma = 0");
    b.schedule = (recur_schedule){(recur_schedule_kind)9, 1, 1};
    expect_new_fails(g, &b, 1, &w, RECUR_ERR_ARG, "schedule kind 9");
    b = recur_optim_defaults((recur_optim_kind)17);
    expect_new_fails(g, &b, 1, &w, RECUR_ERR_ARG, "optimizer kind 17");

    /* Errors of a step: nothing changes, the step does not count. */
    recur_optim *opt = recur_optim_new(g, NULL, 1, &w);
    assert_non_null(opt);
    assert_int_equal(recur_optim_kind_of(opt), RECUR_OPTIM_ADAM);
    float before[4];
    memcpy(before, recur_param_data(g, w), sizeof before);
    assert_int_equal(recur_optim_step(opt, NULL), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_optim_errmsg(opt), "grads is NULL"));
    assert_int_equal(recur_optim_step(opt, (const float *[]){NULL}), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_optim_errmsg(opt), "grads[0] (the gradient of parameter \"w\") is NULL"));
    float nan_grad[4] = {1, 2, NAN, 4};
    assert_int_equal(recur_optim_step(opt, (const float *[]){nan_grad}), RECUR_ERR_RUNTIME);
    assert_int_equal(recur_optim_errcode(opt), RECUR_ERR_RUNTIME);
    assert_non_null(strstr(recur_optim_errmsg(opt), "parameter \"w\" [2, 2] holds a NaN"));
    assert_true(isnan(recur_optim_grad_norm(opt)));
    assert_memory_equal(recur_param_data(g, w), before, sizeof before);
    assert_int_equal(recur_optim_steps(opt), 0);
    recur_optim_tensor m;
    assert_int_equal(recur_optim_state_find(opt, "adam.m/w", &m), RECUR_OK);
    for (int j = 0; j < 4; j++) assert_true(m.data[j] == 0);
    assert_int_equal(recur_optim_set_lr(opt, -1), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_optim_errmsg(opt), "lr = -1"));
    assert_int_equal(recur_optim_set_lr(opt, NAN), RECUR_ERR_ARG);
    assert_int_equal(recur_optim_set_steps(opt, -3), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_optim_errmsg(opt), "-3"));
    assert_true(recur_optim_lr(opt) == 1e-3);
    assert_int_equal(recur_optim_state(opt, -1, &m), RECUR_ERR_ARG);
    assert_int_equal(recur_optim_state(opt, 0, NULL), RECUR_ERR_ARG);
    assert_int_equal(recur_optim_state_find(opt, NULL, &m), RECUR_ERR_ARG);
    recur_optim_free(opt);

    /* NULL handles are safe. */
    assert_int_equal(recur_optim_step(NULL, NULL), RECUR_ERR_ARG);
    assert_int_equal(recur_optim_errcode(NULL), RECUR_ERR_ARG);
    assert_non_null(recur_optim_errmsg(NULL));
    assert_int_equal(recur_optim_state_count(NULL), 0);
    recur_optim_free(NULL);
    recur_optim_reset(NULL);
    recur_graph_free(g);
}

static void test_kind_names(void **state)
{
    (void)state;
    const char *names[] = {"sgd", "adam", "adamw", "rmsprop", "adagrad"};
    for (int k = 0; k < 5; k++) {
        assert_string_equal(recur_optim_kind_name((recur_optim_kind)k), names[k]);
        recur_optim_kind kind = RECUR_OPTIM_SGD;
        assert_int_equal(recur_optim_kind_parse(names[k], &kind), RECUR_OK);
        assert_int_equal(kind, k);
    }
    assert_string_equal(recur_optim_kind_name((recur_optim_kind)5), "unknown");
    recur_optim_kind kind;
    assert_int_equal(recur_optim_kind_parse("adamax", &kind), RECUR_ERR_ARG);
    assert_int_equal(recur_optim_kind_parse(NULL, &kind), RECUR_ERR_ARG);
}

/* ------------------------------------------------------------- end to end */

/*
 * Least squares as a recur graph: loss = mean((x W^T + b - y)^2) with y made
 * by a known W*, b*. Adam (and SGD with Nesterov momentum) must bring the
 * loss down at least 100 times, through recur_optim_step_plan.
 */
static void test_minimise_quadratic(void **state)
{
    (void)state;
    enum { N = 16, I = 3, O = 2 };
    for (int k = 0; k < 2; k++) {
        recur_graph *g = recur_graph_new(5);
        recur_value x = recur_input(g, "x", recur_shape2(N, I));
        recur_value y = recur_input(g, "y", recur_shape2(N, O));
        recur_value W = tu_param(g, "W", recur_shape2(O, I));
        recur_value b = tu_param(g, "b", recur_shape1(O));
        recur_value loss = recur_mse(g, recur_bias_add(g, recur_matmul(g, x, W, 0, 1), b), y);
        TU_OK(g, loss);
        recur_value params[2] = {W, b}, grads[2];
        TU_ST(g, recur_grad(g, loss, 2, params, grads));
        recur_plan *plan = recur_compile(g, 3, (recur_value[]){loss, grads[0], grads[1]}, NULL);
        TU_OK(g, plan ? loss : RECUR_NONE);
        float xv[N * I], yv[N * O];
        const float Wt[O * I] = {1.5f, -2, 0.5f, 0.25f, 1, -1}, bt[O] = {0.3f, -0.7f};
        tu_fill_uniform(xv, N * I, -1, 1, 3);
        for (int n = 0; n < N; n++)
            for (int o = 0; o < O; o++) {
                double s = bt[o];
                for (int i = 0; i < I; i++) s += (double)xv[n * I + i] * Wt[o * I + i];
                yv[n * O + o] = (float)s;
            }
        assert_int_equal(recur_plan_feed(plan, x, xv, N * I), RECUR_OK);
        assert_int_equal(recur_plan_feed(plan, y, yv, N * O), RECUR_OK);

        recur_optim_opts o = recur_optim_defaults(k == 0 ? RECUR_OPTIM_ADAM : RECUR_OPTIM_SGD);
        o.lr = k == 0 ? 0.05 : 0.1;
        o.momentum = 0.9, o.nesterov = 1;
        recur_optim *opt = recur_optim_new(g, &o, 2, params);
        assert_non_null(opt);
        /* Before a run the plan has no outputs: the plan's error comes through. */
        assert_int_equal(recur_optim_step_plan(opt, plan, grads), RECUR_ERR_STATE);
        assert_non_null(strstr(recur_optim_errmsg(opt), "has not run"));
        float first = 0, last = 0;
        for (int s = 0; s < 400; s++) {
            assert_int_equal(recur_plan_run(plan), RECUR_OK);
            assert_int_equal(recur_plan_fetch(plan, loss, s == 0 ? &first : &last, 1), RECUR_OK);
            if (recur_optim_step_plan(opt, plan, grads) != RECUR_OK) fail_msg("%s", recur_optim_errmsg(opt));
        }
        assert_true(first > 0.5f);
        if (!(last < first / 100))
            fail_msg("%s: loss went from %g to %g only", recur_optim_kind_name(o.kind), first, last);
        /* The weights found are the ones that made y. */
        tu_assert_close(recur_param_data(g, W), Wt, O * I, 0, 1e-3);

        /* A gradient value of the wrong shape, or one the plan does not output. */
        assert_int_equal(recur_optim_step_plan(opt, plan, (recur_value[]){grads[1], grads[0]}), RECUR_ERR_SHAPE);
        assert_non_null(strstr(recur_optim_errmsg(opt), "[2] but parameter \"W\" has [2, 3]"));
        assert_int_equal(recur_optim_step_plan(opt, plan, (recur_value[]){x, grads[1]}), RECUR_ERR_VALUE);
        assert_non_null(strstr(recur_optim_errmsg(opt), "gradient 0 of parameter \"W\""));
        assert_int_equal(recur_optim_step_plan(opt, NULL, grads), RECUR_ERR_ARG);
        assert_int_equal(recur_optim_step_plan(opt, plan, NULL), RECUR_ERR_ARG);
        recur_optim_free(opt);
        recur_plan_free(plan);
        recur_graph_free(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd),
        cmocka_unit_test(test_sgd_by_hand),
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_adam_by_hand),
        cmocka_unit_test(test_adamw),
        cmocka_unit_test(test_rmsprop),
        cmocka_unit_test(test_rmsprop_by_hand),
        cmocka_unit_test(test_adagrad),
        cmocka_unit_test(test_clip_grad_norm),
        cmocka_unit_test(test_clip_grad_value),
        cmocka_unit_test(test_step_clipping),
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_state_tensors),
        cmocka_unit_test(test_state_restore),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_nonfinite_writes_refused),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_minimise_quadratic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
