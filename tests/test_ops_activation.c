/*
 * tests/test_ops_activation.c — tanh, sigmoid, relu, leaky_relu, softplus,
 * exp, log, sqrt and the gradient helper ops tanh_grad, sigmoid_grad, relu_grad,
 * leaky_relu_grad: values on hand-computed cases (saturation at +-100
 * included), the accuracy of exp, sigmoid and tanh in ulps against double
 * precision over dense grids (and their NaN, infinity and signed-zero
 * cases), first- and second-order gradients against finite differences
 * on random shapes, and shape errors of the helpers.
 */
#include "test_util.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const float X5[5] = {-2, -0.5f, 0, 0.5f, 2};

/* Evaluates y = f(x) on a constant x of n elements and compares with want. */
static void check_unary(recur_value (*f)(recur_graph *, recur_value), const float *x, const float *want, int n,
                        double rtol, double atol)
{
    recur_graph *g = recur_graph_new(1);
    recur_value vx = recur_constant(g, "x", recur_shape1(n), x);
    recur_value y = f(g, vx);
    TU_OK(g, y);
    assert_true(recur_shape_equal(recur_value_shape(g, y), recur_shape1(n)));
    float *got = tu_eval(g, y, 0, NULL);
    tu_assert_close(got, want, n, rtol, atol);
    free(got);
    recur_graph_free(g);
}

static recur_value leaky01(recur_graph *g, recur_value x) { return recur_leaky_relu(g, x, 0.1f); }

static void test_activation_values(void **state)
{
    (void)state;
    check_unary(recur_tanh, X5, (const float[]){-0.96402758f, -0.46211716f, 0, 0.46211716f, 0.96402758f}, 5, 1e-6, 0);
    check_unary(recur_sigmoid, X5, (const float[]){0.11920292f, 0.37754067f, 0.5f, 0.62245933f, 0.88079708f}, 5, 1e-6,
                0);
    check_unary(recur_relu, X5, (const float[]){0, 0, 0, 0.5f, 2}, 5, 0, 0);
    check_unary(leaky01, X5, (const float[]){-0.2f, -0.05f, 0, 0.5f, 2}, 5, 1e-7, 0);
    check_unary(recur_exp, X5, (const float[]){0.13533528f, 0.60653066f, 1, 1.64872127f, 7.38905610f}, 5, 1e-6, 0);
    check_unary(recur_log, (const float[]){0.5f, 1, 2, 10}, (const float[]){-0.69314718f, 0, 0.69314718f, 2.30258509f},
                4, 1e-6, 0);
    check_unary(recur_sqrt, (const float[]){0, 0.25f, 1, 2, 9}, (const float[]){0, 0.5f, 1, 1.41421356f, 3}, 5, 1e-7,
                0);
}

/*
 * softplus(x) = log(1 + e^x) against the formula in double, from far below
 * zero (where it is e^x, tiny but not 0) to far above (where it is x, and
 * e^x overflows a float).
 */
static void test_softplus_values(void **state)
{
    (void)state;
    const float x[10] = {-100, -30, -5, -1, -1e-3f, 0, 1e-3f, 1, 20, 100};
    float want[10];
    for (int i = 0; i < 10; i++) want[i] = (float)(x[i] > 0 ? x[i] + log1p(exp(-(double)x[i])) : log1p(exp((double)x[i])));
    check_unary(recur_softplus, x, want, 10, 2e-6, 0);
    recur_graph *g = recur_graph_new(1);
    recur_value y = recur_softplus(g, recur_constant(g, "x", recur_shape1(10), x));
    float *got = tu_eval(g, y, 0, NULL);
    assert_true(got[0] > 0 && got[0] < 1e-40f); /* e^-100, a subnormal float: not flushed to 0 */
    assert_true(got[9] == 100.0f);
    free(got);
    recur_graph_free(g);
}

/*
 * A new pointwise op takes part in every pass without them naming it:
 * inside a loop body over step inputs it is hoisted out of the loop (one
 * softplus over [T, B, H], not T), and a plan fuses it with its neighbours
 * into one kernel whose results are bitwise those of the unfused plan.
 */
static void test_softplus_in_passes(void **state)
{
    (void)state;
    enum { T = 5, B = 3, H = 4 };
    recur_graph *g = recur_graph_new(2);
    recur_value xs = recur_input(g, "xs", recur_shape3(T, B, H));
    recur_value U = tu_param(g, "U", recur_shape2(H, H));
    recur_loop L = recur_loop_begin(g, "loop", 0);
    recur_value x = recur_loop_input(g, L, xs);
    recur_value h = recur_loop_state(g, L, "h", recur_fill(g, recur_shape2(B, H), 0));
    recur_value sx = recur_softplus(g, x); /* a function of x_t alone: hoisted */
    recur_value h1 = recur_tanh(g, recur_add(g, recur_softplus(g, recur_matmul(g, h, U, 0, 1)), sx));
    TU_ST(g, recur_loop_next(g, L, h, h1));
    TU_ST(g, recur_loop_end(g, L));
    recur_value hs = recur_loop_stacked(g, L, h1);
    recur_value loss = recur_sum(g, recur_square(g, hs));
    TU_ST(g, recur_unroll(g));
    recur_value dU;
    TU_ST(g, recur_grad(g, loss, 1, &U, &dU));
    int32_t order[4096];
    int n = recur_topo_order(g, 1, &loss, order, 4096), softplus = 0;
    for (int i = 0; i < n; i++) softplus += strcmp(recur_value_op(g, (recur_value){order[i]}), "softplus") == 0;
    int hoisted = (recur_passes(g) & RECUR_PASS_HOIST) != 0;
    assert_int_equal(softplus, hoisted ? T + 1 : 2 * T);
    float data[T * B * H];
    tu_fill_uniform(data, T * B * H, -2, 2, 3);
    recur_value outs[2] = {loss, dU};
    recur_plan *p[2];
    for (int k = 0; k < 2; k++) {
        p[k] = recur_compile(g, 2, outs, &(recur_compile_opts){.no_reuse = k});
        TU_OK(g, p[k] ? loss : RECUR_NONE);
        assert_int_equal(recur_plan_feed(p[k], xs, data, T * B * H), RECUR_OK);
        assert_int_equal(recur_plan_run(p[k]), RECUR_OK);
    }
    if ((recur_passes(g) & RECUR_PASS_FUSE) && strcmp(recur_plan_backend(p[0]), "reference") == 0)
        assert_true(recur_plan_size(p[0]) < recur_plan_size(p[1])); /* softplus fused with its neighbours */
    float a[1 + H * H], b[1 + H * H];
    assert_int_equal(recur_plan_fetch(p[0], loss, a, 1), RECUR_OK);
    assert_int_equal(recur_plan_fetch(p[1], loss, b, 1), RECUR_OK);
    assert_int_equal(recur_plan_fetch(p[0], dU, a + 1, H * H), RECUR_OK);
    assert_int_equal(recur_plan_fetch(p[1], dU, b + 1, H * H), RECUR_OK);
    assert_memory_equal(a, b, sizeof a);
    recur_plan_free(p[0]);
    recur_plan_free(p[1]);
    recur_graph_free(g);
}

static recur_value clip_half(recur_graph *g, recur_value x) { return recur_clip(g, x, 0.5f); }

/*
 * clip(x, 0.5) bounds values to [-0.5, 0.5]; its gradient passes dy inside
 * and nothing where it clipped (checked by finite differences on points
 * away from the bounds); a bound <= 0 or NaN is refused.
 */
static void test_clip(void **state)
{
    (void)state;
    const float x[7] = {-3, -0.5f, -0.25f, 0, 0.25f, 0.5f, 3};
    check_unary(clip_half, x, (const float[]){-0.5f, -0.5f, -0.25f, 0, 0.25f, 0.5f, 0.5f}, 7, 0, 0);
    recur_graph *g = recur_graph_new(1);
    const float away[6] = {-2, -0.3f, -0.1f, 0.2f, 0.45f, 1.5f};
    recur_value p = recur_param(g, "p", recur_shape1(6), recur_init_zeros());
    TU_ST(g, recur_param_set(g, p, away, 6));
    recur_value y = recur_clip(g, p, 0.5f);
    tu_gradcheck(g, y, 1, &p, 0, NULL, 1e-3);
    recur_value dp;
    TU_ST(g, recur_grad(g, recur_sum(g, recur_mul(g, y, recur_constant(g, "w", recur_shape1(6), away))), 1, &p, &dp));
    float *d = tu_eval(g, dp, 0, NULL);
    const float want[6] = {0, -0.3f, -0.1f, 0.2f, 0.45f, 0}; /* w where |x| < 0.5, 0 where clipped */
    tu_assert_close(d, want, 6, 0, 0);
    free(d);
    TU_EXPECT_FAIL(g, recur_clip(g, p, 0.0f), RECUR_ERR_ARG, "clip", "must be > 0");
    TU_EXPECT_FAIL(g, recur_clip(g, p, NAN), RECUR_ERR_ARG, "clip");
    recur_graph_free(g);
}

/* Far into saturation tanh and sigmoid give their limits exactly, never NaN. */
static void test_saturation(void **state)
{
    (void)state;
    const float big[4] = {-1000, -100, 100, 1000};
    check_unary(recur_tanh, big, (const float[]){-1, -1, 1, 1}, 4, 0, 0);
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_constant(g, "x", recur_shape1(4), big);
    recur_value y = recur_sigmoid(g, x);
    float *s = tu_eval(g, y, 0, NULL);
    for (int i = 0; i < 4; i++) assert_true(isfinite(s[i]));
    assert_true(s[0] == 0.0f);
    /* e^-100 / (1 + e^-100): a subnormal float, not 1 / inf. oneDNN's logistic (RECUR_BACKEND=onednn) gives 0
     * for results below FLT_MIN: as finite, and within 4e-44 of it. */
    const char *backend = getenv("RECUR_BACKEND");
    if (backend && strcmp(backend, "onednn") == 0) assert_true(s[1] >= 0.0f && s[1] <= expf(-100.0f));
    else assert_true(s[1] > 0.0f && s[1] == expf(-100.0f));
    assert_true(s[2] == 1.0f);
    assert_true(s[3] == 1.0f);
    free(s);
    /* Their gradients there are 0, not NaN. */
    recur_value xp = recur_param(g, "xp", recur_shape1(4), recur_init_zeros());
    TU_ST(g, recur_param_set(g, xp, big, 4));
    recur_value d[2];
    TU_ST(g, recur_grad(g, recur_sum(g, recur_tanh(g, xp)), 1, &xp, &d[0]));
    TU_ST(g, recur_grad(g, recur_sum(g, recur_sigmoid(g, xp)), 1, &xp, &d[1]));
    for (int k = 0; k < 2; k++) {
        float *v = tu_eval(g, d[k], 0, NULL);
        tu_assert_close(v, (const float[]){0, 0, 0, 0}, 4, 0, 1e-40);
        free(v);
    }
    recur_graph_free(g);
}

/* |got - want| in units of the last place of the float nearest want (2^-149 among the subnormals). */
static double ulps(float got, double want)
{
    if (isnan(want)) return isnan(got) ? 0 : INFINITY;
    float w = (float)want;
    if (isinf(w)) return got == w ? 0 : INFINITY;
    double ulp = fabsf(w) < FLT_MIN ? ldexp(1, -149) : (double)(nextafterf(fabsf(w), INFINITY) - fabsf(w));
    return fabs((double)got - want) / ulp;
}

static double exp_ref(double x) { return exp(x); }
static double sigmoid_ref(double x) { return 1 / (1 + exp(-x)); }
static double tanh_ref(double x) { return tanh(x); }

/*
 * Points for the accuracy checks: an even grid over [-110, 110] (through
 * exp's overflow at 88.7 and underflow to subnormals and 0 below -87.3),
 * and every 61st float of magnitude up to 16 with both signs (dense near
 * 0, where tanh switches from its polynomial to e^-2|x| at 0.6).
 */
static float *accuracy_points(int64_t *n)
{
    const int64_t grid = 400001;
    const uint32_t top = 0x41800000u, stride = 61; /* 16.0f */
    int64_t total = grid + 2 * (int64_t)(top / stride + 1);
    float *x = malloc(sizeof(float) * (size_t)total);
    assert_non_null(x);
    int64_t k = 0;
    for (int64_t i = 0; i < grid; i++) x[k++] = (float)(-110.0 + 220.0 * (double)i / (double)(grid - 1));
    for (uint32_t b = 0; b <= top; b += stride) {
        float v;
        memcpy(&v, &b, sizeof v);
        x[k++] = v;
        x[k++] = -v;
    }
    *n = k;
    return x;
}

/* Largest error in ulps of f (on the reference backend) against its double-precision formula. */
static double max_ulps(recur_value (*f)(recur_graph *, recur_value), double (*ref)(double), const float *x, int64_t n)
{
    recur_graph *g = recur_graph_new(1);
    recur_value y = f(g, recur_constant(g, "x", recur_shape1(n), x));
    TU_OK(g, y);
    float *got = tu_eval_on(g, y, 0, NULL, "reference");
    double worst = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = ulps(got[i], ref((double)x[i]));
        if (e > worst) worst = e, at = i;
    }
    print_message("%s: %.2f ulp at most (x = %.9g)\n", recur_value_op(g, y), worst, (double)x[at]);
    free(got);
    recur_graph_free(g);
    return worst;
}

/* exp, sigmoid and tanh stay within a few ulps of the true values everywhere, subnormal results included. */
static void test_accuracy_in_ulps(void **state)
{
    (void)state;
    int64_t n;
    float *x = accuracy_points(&n);
    assert_true(max_ulps(recur_exp, exp_ref, x, n) <= 2.0);
    assert_true(max_ulps(recur_sigmoid, sigmoid_ref, x, n) <= 3.0);
    assert_true(max_ulps(recur_tanh, tanh_ref, x, n) <= 3.0);
    free(x);
}

/* NaN stays NaN; infinities and the ends of the range give the limits; tanh keeps the sign of zero. */
static void test_special_values(void **state)
{
    (void)state;
    const float x[8] = {NAN, INFINITY, -INFINITY, 89.0f, -104.0f, FLT_MAX, -FLT_MAX, -0.0f};
    recur_graph *g = recur_graph_new(1);
    recur_value vx = recur_constant(g, "x", recur_shape1(8), x);
    float *e = tu_eval_on(g, recur_exp(g, vx), 0, NULL, "reference");
    float *s = tu_eval_on(g, recur_sigmoid(g, vx), 0, NULL, "reference");
    float *t = tu_eval_on(g, recur_tanh(g, vx), 0, NULL, "reference");
    assert_true(isnan(e[0]) && isnan(s[0]) && isnan(t[0]));
    const float want_e[7] = {INFINITY, 0, INFINITY, 0, INFINITY, 0, 1}, want_s[7] = {1, 0, 1, 0, 1, 0, 0.5f};
    const float want_t[7] = {1, -1, 1, -1, 1, -1, -0.0f};
    for (int i = 1; i < 8; i++) {
        assert_true(e[i] == want_e[i - 1]);
        assert_true(s[i] == want_s[i - 1]);
        assert_true(t[i] == want_t[i - 1]);
    }
    assert_true(signbit(t[7]));
    free(e);
    free(s);
    free(t);
    recur_graph_free(g);
}

/* log and sqrt follow C outside their domain: log 0 = -inf, log(-1) and sqrt(-1) are NaN. */
static void test_log_sqrt_outside_domain(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_constant(g, "x", recur_shape1(2), (const float[]){0, -1});
    float *l = tu_eval(g, recur_log(g, x), 0, NULL), *s = tu_eval(g, recur_sqrt(g, x), 0, NULL);
    assert_true(isinf(l[0]) && l[0] < 0);
    assert_true(isnan(l[1]));
    assert_true(s[0] == 0.0f);
    assert_true(isnan(s[1]));
    free(l);
    free(s);
    recur_graph_free(g);
}

/* Evaluates a helper op h(a, b) on constants of 4 elements and compares with want. */
static void check_helper(recur_value (*h)(recur_graph *, recur_value, recur_value), const float *a, const float *b,
                         const float *want)
{
    recur_graph *g = recur_graph_new(1);
    recur_value va = recur_constant(g, "a", recur_shape2(2, 2), a), vb = recur_constant(g, "b", recur_shape2(2, 2), b);
    recur_value y = h(g, va, vb);
    TU_OK(g, y);
    assert_true(recur_shape_equal(recur_value_shape(g, y), recur_shape2(2, 2)));
    float *got = tu_eval(g, y, 0, NULL);
    tu_assert_close(got, want, 4, 1e-6, 1e-7);
    free(got);
    recur_graph_free(g);
}

static recur_value leaky_grad01(recur_graph *g, recur_value x, recur_value dy)
{
    return recur_leaky_relu_grad(g, x, dy, 0.1f);
}

static void test_helper_values(void **state)
{
    (void)state;
    /* tanh_grad(y, dy) = dy (1 - y^2) */
    check_helper(recur_tanh_grad, (const float[]){-0.5f, 0, 0.5f, 0.9f}, (const float[]){2, 3, -1, 10},
                 (const float[]){1.5f, 3, -0.75f, 1.9f});
    /* sigmoid_grad(y, dy) = dy y (1 - y) */
    check_helper(recur_sigmoid_grad, (const float[]){0.5f, 0.2f, 0.9f, 0}, (const float[]){4, 1, 10, 5},
                 (const float[]){1, 0.16f, 0.9f, 0});
    /* relu_grad(x, dy) = dy [x > 0]; at x = 0 the gradient is 0 */
    check_helper(recur_relu_grad, (const float[]){-1, 0, 0.5f, 2}, (const float[]){3, 4, 5, 6},
                 (const float[]){0, 0, 5, 6});
    /* leaky_relu_grad(x, dy, 0.1) = dy if x > 0 else 0.1 dy */
    check_helper(leaky_grad01, (const float[]){-1, 0, 0.5f, 2}, (const float[]){3, 4, 5, 6},
                 (const float[]){0.3f, 0.4f, 5, 6});
}

/* The gradient of each op, built by recur_grad, on a known input: d f / dx at X5 (times dy = 1). */
static void test_gradient_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_param(g, "x", recur_shape1(5), recur_init_zeros());
    TU_ST(g, recur_param_set(g, x, X5, 5));
    recur_value d;
    TU_ST(g, recur_grad(g, recur_sum(g, recur_relu(g, x)), 1, &x, &d));
    float *v = tu_eval(g, d, 0, NULL);
    tu_assert_close(v, (const float[]){0, 0, 0, 1, 1}, 5, 0, 0);
    free(v);
    TU_ST(g, recur_grad(g, recur_sum(g, recur_leaky_relu(g, x, 0.1f)), 1, &x, &d));
    v = tu_eval(g, d, 0, NULL);
    tu_assert_close(v, (const float[]){0.1f, 0.1f, 0.1f, 1, 1}, 5, 1e-7, 0);
    free(v);
    /* 1 - tanh^2 and s (1 - s) at 0.5: 0.78644773, 0.23500371 */
    TU_ST(g, recur_grad(g, recur_sum(g, recur_tanh(g, x)), 1, &x, &d));
    v = tu_eval(g, d, 0, NULL);
    tu_assert_close(v + 3, (const float[]){0.78644773f}, 1, 1e-6, 0);
    free(v);
    TU_ST(g, recur_grad(g, recur_sum(g, recur_sigmoid(g, x)), 1, &x, &d));
    v = tu_eval(g, d, 0, NULL);
    tu_assert_close(v + 3, (const float[]){0.23500371f}, 1, 1e-6, 0);
    free(v);
    recur_graph_free(g);
}

/* A parameter whose elements lie in +-[lo, hi] with random signs (away from 0 when lo > 0). */
static recur_value param_away_from_zero(recur_graph *g, const char *name, recur_shape s, float lo, float hi,
                                        uint64_t seed)
{
    recur_value v = recur_param(g, name, s, recur_init_uniform(lo, hi));
    TU_OK(g, v);
    int64_t n = recur_shape_numel(s);
    float *data = recur_param_data(g, v), *sign = malloc(sizeof(float) * (size_t)n);
    assert_non_null(sign);
    tu_fill_uniform(sign, n, -1, 1, seed);
    for (int64_t i = 0; i < n; i++)
        if (sign[i] < 0) data[i] = -data[i];
    free(sign);
    return v;
}

enum { TANH, SIGMOID, RELU, LEAKY, EXP, LOG, SQRT, SOFTPLUS, N_ACT };
static const char *const ACT_NAMES[N_ACT] = {"tanh", "sigmoid", "relu", "leaky_relu", "exp", "log", "sqrt", "softplus"};

/* x for activation k: log and sqrt need positives, relu and leaky_relu values away from their kink. */
static recur_value act_input(recur_graph *g, int k, recur_shape s, uint64_t seed)
{
    if (k == LOG || k == SQRT) return recur_param(g, "x", s, recur_init_uniform(0.5f, 2));
    if (k == RELU || k == LEAKY) return param_away_from_zero(g, "x", s, 0.2f, 1.5f, seed);
    return recur_param(g, "x", s, recur_init_uniform(-2, 2));
}

static recur_value act_apply(recur_graph *g, int k, recur_value x)
{
    switch (k) {
    case TANH: return recur_tanh(g, x);
    case SIGMOID: return recur_sigmoid(g, x);
    case RELU: return recur_relu(g, x);
    case LEAKY: return recur_leaky_relu(g, x, 0.1f);
    case EXP: return recur_exp(g, x);
    case LOG: return recur_log(g, x);
    case SOFTPLUS: return recur_softplus(g, x);
    default: return recur_sqrt(g, x);
    }
}

static const recur_shape SHAPES[] = {{1, {5}}, {2, {3, 4}}, {3, {2, 3, 2}}, {4, {2, 1, 3, 2}}};
#define N_SHAPES (int)(sizeof SHAPES / sizeof SHAPES[0])

static void test_activation_gradients(void **state)
{
    (void)state;
    for (int k = 0; k < N_ACT; k++) {
        for (int c = 0; c < N_SHAPES; c++) {
            recur_graph *g = recur_graph_new((uint64_t)(k * 10 + c));
            recur_value x = act_input(g, k, SHAPES[c], (uint64_t)(k * 10 + c));
            TU_OK(g, x);
            recur_value y = act_apply(g, k, x);
            TU_OK(g, y);
            assert_string_equal(recur_value_op(g, y), ACT_NAMES[k]);
            tu_gradcheck(g, y, 1, &x, 0, NULL, 1e-2);
            recur_graph_free(g);
        }
    }
}

/* Second order: the gradient graph of each activation (built from the helper ops) differentiated again. */
static void test_activation_second_order(void **state)
{
    (void)state;
    for (int k = 0; k < N_ACT; k++) {
        for (int c = 0; c < N_SHAPES; c++) {
            recur_graph *g = recur_graph_new((uint64_t)(100 + k * 10 + c));
            recur_value x = act_input(g, k, SHAPES[c], (uint64_t)(100 + k * 10 + c));
            TU_OK(g, x);
            recur_value w = tu_param(g, "w", SHAPES[c]);
            recur_value dx;
            TU_ST(g, recur_grad(g, recur_sum(g, recur_mul(g, act_apply(g, k, x), w)), 1, &x, &dx));
            tu_gradcheck(g, dx, 2, (recur_value[]){x, w}, 0, NULL, 1e-2);
            recur_graph_free(g);
        }
    }
}

/* Each helper op differentiated with respect to both of its inputs. */
static void test_helper_gradients(void **state)
{
    (void)state;
    for (int k = 0; k < 4; k++) {
        for (int c = 0; c < N_SHAPES; c++) {
            recur_graph *g = recur_graph_new((uint64_t)(200 + k * 10 + c));
            /* relu_grad's and leaky_relu_grad's first input is x: keep it away from 0. */
            recur_value a = k >= 2 ? param_away_from_zero(g, "a", SHAPES[c], 0.2f, 1.5f, (uint64_t)(k * 10 + c))
                          : k == 1 ? recur_param(g, "a", SHAPES[c], recur_init_uniform(0.05f, 0.95f))
                                   : tu_param(g, "a", SHAPES[c]);
            recur_value b = tu_param(g, "b", SHAPES[c]);
            recur_value y = k == 0 ? recur_tanh_grad(g, a, b)
                          : k == 1 ? recur_sigmoid_grad(g, a, b)
                          : k == 2 ? recur_relu_grad(g, a, b)
                                   : recur_leaky_relu_grad(g, a, b, 0.1f);
            TU_OK(g, y);
            tu_gradcheck(g, y, 2, (recur_value[]){a, b}, 0, NULL, 1e-2);
            recur_graph_free(g);
        }
    }
}

static void test_helper_shape_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", recur_shape2(2, 3));
    recur_value b = recur_input(g, "b", recur_shape1(3));
    int before = recur_graph_size(g);
    recur_value (*helpers[])(recur_graph *, recur_value, recur_value) = {recur_tanh_grad, recur_sigmoid_grad,
                                                                        recur_relu_grad, leaky_grad01};
    const char *names[] = {"op tanh_grad", "op sigmoid_grad", "op relu_grad", "op leaky_relu_grad"};
    for (int k = 0; k < 4; k++) {
        /* No broadcasting: the two operands must have one shape. */
        assert_false(recur_ok(helpers[k](g, a, b)));
        assert_int_equal(recur_errcode(g), RECUR_ERR_SHAPE);
        const char *msg = recur_errmsg(g);
        assert_non_null(strstr(msg, names[k]));
        assert_non_null(strstr(msg, "\"a\" [2, 3]"));
        assert_non_null(strstr(msg, "\"b\" [3]"));
        assert_int_equal(recur_graph_size(g), before);
        recur_clear_error(g);
    }
    /* An invalid operand keeps the first error, and the graph stays usable. */
    assert_false(recur_ok(recur_tanh(g, RECUR_NONE)));
    assert_int_equal(recur_errcode(g), RECUR_ERR_VALUE);
    recur_clear_error(g);
    TU_OK(g, recur_tanh_grad(g, a, a));
    TU_OK(g, recur_leaky_relu(g, b, 0.1f));
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activation_values),
        cmocka_unit_test(test_softplus_values),
        cmocka_unit_test(test_softplus_in_passes),
        cmocka_unit_test(test_clip),
        cmocka_unit_test(test_saturation),
        cmocka_unit_test(test_accuracy_in_ulps),
        cmocka_unit_test(test_special_values),
        cmocka_unit_test(test_log_sqrt_outside_domain),
        cmocka_unit_test(test_helper_values),
        cmocka_unit_test(test_gradient_values),
        cmocka_unit_test(test_activation_gradients),
        cmocka_unit_test(test_activation_second_order),
        cmocka_unit_test(test_helper_gradients),
        cmocka_unit_test(test_helper_shape_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
