/*
 * ops/activation.c — pointwise nonlinearities (tanh, sigmoid, relu,
 * leaky_relu, softplus, clip, exp, log, sqrt) and the gradient helper ops
 * their rules build (tanh_grad, sigmoid_grad, relu_grad, leaky_relu_grad,
 * clip_grad).
 *
 * Each writes its formula once, as a loop (ops/pointwise.h; tanh, sigmoid
 * and exp from ops/vmath.h); its kernel is recur_pointwise_forward.
 */
#include "ops/op.h"
#include "ops/pointwise.h"

static recur_value operand(const recur_graph *g, recur_value y, int i)
{
    return (recur_value){g->nodes[y.id].in[i]};
}

/* d tanh = dy (1 - y^2), from the output y */
static recur_status tanh_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    dx[0] = recur_tanh_grad(g, y, dy);
    return recur_built(g, dx[0]);
}

/* d sigmoid = dy y (1 - y) */
static recur_status sigmoid_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    dx[0] = recur_sigmoid_grad(g, y, dy);
    return recur_built(g, dx[0]);
}

/* d relu = dy [x > 0] */
static recur_status relu_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    dx[0] = recur_relu_grad(g, operand(g, y, 0), dy);
    return recur_built(g, dx[0]);
}

/* d leaky_relu = dy ([x > 0] + slope [x <= 0]) */
static recur_status leaky_relu_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    dx[0] = recur_leaky_relu_grad(g, operand(g, y, 0), dy, g->nodes[y.id].attr.f[0]);
    return recur_built(g, dx[0]);
}

/* d e^x = dy e^x = dy y */
static recur_status exp_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    dx[0] = recur_mul(g, dy, y);
    return recur_built(g, dx[0]);
}

/* d log x = dy / x */
static recur_status log_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    dx[0] = recur_div(g, dy, operand(g, y, 0));
    return recur_built(g, dx[0]);
}

/* d softplus x = dy sigmoid(x): d/dx log(1 + e^x) = e^x / (1 + e^x) */
static recur_status softplus_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    dx[0] = recur_mul(g, dy, recur_sigmoid(g, operand(g, y, 0)));
    return recur_built(g, dx[0]);
}

/* d clip(x, c) = dy [-c < x < c] (0 where clipped) */
static recur_status clip_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    dx[0] = recur_clip_grad(g, operand(g, y, 0), dy, g->nodes[y.id].attr.f[0]);
    return recur_built(g, dx[0]);
}

/* d sqrt x = dy / (2 sqrt x) = 0.5 dy / y */
static recur_status sqrt_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    dx[0] = recur_div(g, recur_scale(g, dy, 0.5f), y);
    return recur_built(g, dx[0]);
}

static void slope_attrs(const recur_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "slope=%g", (double)n->attr.f[0]);
}

static void bound_attrs(const recur_node *n, char *buf, size_t len) { snprintf(buf, len, "c=%g", (double)n->attr.f[0]); }

recur_value recur_tanh(recur_graph *g, recur_value x) { return recur_unary(g, RECUR_OP_TANH, x, NULL); }
recur_value recur_sigmoid(recur_graph *g, recur_value x) { return recur_unary(g, RECUR_OP_SIGMOID, x, NULL); }
recur_value recur_relu(recur_graph *g, recur_value x) { return recur_unary(g, RECUR_OP_RELU, x, NULL); }
recur_value recur_exp(recur_graph *g, recur_value x) { return recur_unary(g, RECUR_OP_EXP, x, NULL); }
recur_value recur_log(recur_graph *g, recur_value x) { return recur_unary(g, RECUR_OP_LOG, x, NULL); }
recur_value recur_sqrt(recur_graph *g, recur_value x) { return recur_unary(g, RECUR_OP_SQRT, x, NULL); }
recur_value recur_softplus(recur_graph *g, recur_value x) { return recur_unary(g, RECUR_OP_SOFTPLUS, x, NULL); }

recur_value recur_leaky_relu(recur_graph *g, recur_value x, float slope)
{
    recur_attr attr = {.f = {slope}};
    return recur_unary(g, RECUR_OP_LEAKY_RELU, x, &attr);
}

recur_value recur_clip(recur_graph *g, recur_value x, float c)
{
    if (!(c > 0)) { /* (also NaN) */
        recur_set_error(g, RECUR_ERR_ARG, "op clip: the bound c = %g must be > 0", (double)c);
        return RECUR_NONE;
    }
    recur_attr attr = {.f = {c}};
    return recur_unary(g, RECUR_OP_CLIP, x, &attr);
}

/*
 * The loops. softplus(x) = log(1 + e^x) is computed as max(x, 0) +
 * log(1 + e^-|x|), which neither overflows for large x nor loses the small
 * values of very negative x.
 */
RECUR_POINTWISE_LOOP(tanh_loop, 1, recur_vtanhf(a))
RECUR_POINTWISE_LOOP(sigmoid_loop, 1, recur_vsigmoidf(a))
RECUR_POINTWISE_LOOP(relu_loop, 1, a > 0 ? a : 0.0f)
RECUR_POINTWISE_LOOP(leaky_relu_loop, 1, a > 0 ? a : s * a)
RECUR_POINTWISE_LOOP(softplus_loop, 1, (a > 0 ? a : 0.0f) + log1pf(recur_vexpf(-fabsf(a))))
RECUR_POINTWISE_LOOP(clip_loop, 1, a > s ? s : a < -s ? -s : a)
RECUR_POINTWISE_LOOP(exp_loop, 1, recur_vexpf(a))
RECUR_POINTWISE_LOOP(log_loop, 1, logf(a))
RECUR_POINTWISE_LOOP(sqrt_loop, 1, sqrtf(a))

#define POINTWISE(ident, grd, ...)                                                                             \
    RECUR_OP_DEF(ident, .min_in = 1, .max_in = 1, .shape = recur_shape_same_as_first,                         \
                 .forward = recur_pointwise_forward, .grad = grd, .pointwise = ident##_loop, .arity = 1, __VA_ARGS__)
POINTWISE(tanh, tanh_grad);
POINTWISE(sigmoid, sigmoid_grad);
POINTWISE(relu, relu_grad);
POINTWISE(leaky_relu, leaky_relu_grad, .attrs = slope_attrs);
POINTWISE(softplus, softplus_grad);
POINTWISE(clip, clip_grad, .attrs = bound_attrs);
POINTWISE(exp, exp_grad);
POINTWISE(log, log_grad);
POINTWISE(sqrt, sqrt_grad);

/* ------------------------------------------------- gradient helper ops */

/*
 * tanh_grad(y, dy) = dy (1 - y^2):
 *   d/d(dy) = g (1 - y^2) = tanh_grad(y, g);  d/dy = -2 y dy g.
 */
static recur_status tanh_grad_grad(recur_graph *g, recur_value y, recur_value gy, const int *needs, recur_value *dx)
{
    recur_value t = operand(g, y, 0), dy = operand(g, y, 1);
    if (needs[0]) dx[0] = recur_mul(g, recur_mul(g, gy, dy), recur_scale(g, t, -2.0f));
    if (needs[1]) dx[1] = recur_tanh_grad(g, t, gy);
    for (int i = 0; i < 2; i++)
        if (needs[i] && !recur_ok(dx[i])) return recur_built(g, dx[i]);
    return RECUR_OK;
}

/*
 * sigmoid_grad(y, dy) = dy y (1 - y):
 *   d/d(dy) = sigmoid_grad(y, g);  d/dy = g dy (1 - 2y).
 */
static recur_status sigmoid_grad_grad(recur_graph *g, recur_value y, recur_value gy, const int *needs,
                                      recur_value *dx)
{
    recur_value s = operand(g, y, 0), dy = operand(g, y, 1);
    if (needs[0]) dx[0] = recur_mul(g, recur_mul(g, gy, dy), recur_one_minus(g, recur_scale(g, s, 2.0f)));
    if (needs[1]) dx[1] = recur_sigmoid_grad(g, s, gy);
    for (int i = 0; i < 2; i++)
        if (needs[i] && !recur_ok(dx[i])) return recur_built(g, dx[i]);
    return RECUR_OK;
}

/* relu_grad(x, dy) is piecewise linear in dy: d/d(dy) = relu_grad(x, g); d/dx = 0 almost everywhere. */
static recur_status relu_grad_grad(recur_graph *g, recur_value y, recur_value gy, const int *needs, recur_value *dx)
{
    if (needs[1]) dx[1] = recur_relu_grad(g, operand(g, y, 0), gy);
    return needs[1] ? recur_built(g, dx[1]) : RECUR_OK;
}

static recur_status leaky_relu_grad_grad(recur_graph *g, recur_value y, recur_value gy, const int *needs,
                                         recur_value *dx)
{
    if (needs[1]) dx[1] = recur_leaky_relu_grad(g, operand(g, y, 0), gy, g->nodes[y.id].attr.f[0]);
    return needs[1] ? recur_built(g, dx[1]) : RECUR_OK;
}

recur_value recur_tanh_grad(recur_graph *g, recur_value y, recur_value dy)
{
    return recur_binary(g, RECUR_OP_TANH_GRAD, y, dy);
}

recur_value recur_sigmoid_grad(recur_graph *g, recur_value y, recur_value dy)
{
    return recur_binary(g, RECUR_OP_SIGMOID_GRAD, y, dy);
}

recur_value recur_relu_grad(recur_graph *g, recur_value x, recur_value dy)
{
    return recur_binary(g, RECUR_OP_RELU_GRAD, x, dy);
}

recur_value recur_leaky_relu_grad(recur_graph *g, recur_value x, recur_value dy, float slope)
{
    recur_value in[2] = {x, dy};
    recur_attr attr = {.f = {slope}};
    return recur_node_add(g, RECUR_OP_LEAKY_RELU_GRAD, 2, in, &attr);
}

recur_value recur_clip_grad(recur_graph *g, recur_value x, recur_value dy, float c)
{
    recur_value in[2] = {x, dy};
    recur_attr attr = {.f = {c}};
    return recur_node_add(g, RECUR_OP_CLIP_GRAD, 2, in, &attr);
}

/* clip_grad(x, dy) is piecewise linear in dy: d/d(dy) = clip_grad(x, g); d/dx = 0 almost everywhere. */
static recur_status clip_grad_grad(recur_graph *g, recur_value y, recur_value gy, const int *needs, recur_value *dx)
{
    if (needs[1]) dx[1] = recur_clip_grad(g, operand(g, y, 0), gy, g->nodes[y.id].attr.f[0]);
    return needs[1] ? recur_built(g, dx[1]) : RECUR_OK;
}

/* The helpers' loops: dy (1 - y^2), dy y (1 - y), dy [x > 0], dy ([x > 0] + slope [x <= 0]). */
RECUR_POINTWISE_LOOP(tanh_grad_loop, 2, b * (1.0f - a * a))
RECUR_POINTWISE_LOOP(sigmoid_grad_loop, 2, b * a * (1.0f - a))
RECUR_POINTWISE_LOOP(relu_grad_loop, 2, a > 0 ? b : 0.0f)
RECUR_POINTWISE_LOOP(leaky_relu_grad_loop, 2, a > 0 ? b : s * b)
RECUR_POINTWISE_LOOP(clip_grad_loop, 2, a > -s && a < s ? b : 0.0f)

#define POINTWISE_GRAD(ident, grd, ...)                                                                        \
    RECUR_OP_DEF(ident, .min_in = 2, .max_in = 2, .shape = recur_shape_all_equal,                             \
                 .forward = recur_pointwise_forward, .grad = grd, .pointwise = ident##_loop, .arity = 2, __VA_ARGS__)
POINTWISE_GRAD(tanh_grad, tanh_grad_grad);
POINTWISE_GRAD(sigmoid_grad, sigmoid_grad_grad);
POINTWISE_GRAD(relu_grad, relu_grad_grad);
POINTWISE_GRAD(leaky_relu_grad, leaky_relu_grad_grad, .attrs = slope_attrs);
POINTWISE_GRAD(clip_grad, clip_grad_grad, .attrs = bound_attrs);
