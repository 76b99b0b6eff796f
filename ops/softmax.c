/*
 * ops/softmax.c — softmax and log_softmax along the last axis, and the
 * gradient helper ops their rules build (softmax_grad, log_softmax_grad).
 * Every op here works row by row: a row is a run of the last dimension's
 * length, and sums along it are taken in double.
 */
#include <math.h>

#include "ops/op.h"

static recur_value operand(const recur_graph *g, recur_value y, int i)
{
    return (recur_value){g->nodes[y.id].in[i]};
}

/* The length of a row (the last dimension) and the number of rows. */
static int64_t row_len(recur_shape s) { return s.d[s.ndim - 1]; }
static int64_t row_count(recur_shape s) { return recur_shape_numel(s) / s.d[s.ndim - 1]; }

/* Shape rule of the normalisers: the shape of x, which needs a last axis. */
static recur_status softmax_shape(recur_graph *g, recur_node *n)
{
    recur_shape x = recur_in_shape(g, n, 0);
    if (x.ndim < 1) return recur_shape_fail(g, n, "needs at least 1 dimension (it works along the last axis)");
    n->shape = x;
    return RECUR_OK;
}

/* Shape rule of the helpers: (y, dy) of one shape with a last axis. */
static recur_status softmax_grad_shape(recur_graph *g, recur_node *n)
{
    if (recur_in_shape(g, n, 0).ndim < 1)
        return recur_shape_fail(g, n, "needs at least 1 dimension (it works along the last axis)");
    return recur_shape_all_equal(g, n);
}

/* y_i = exp(x_i - m) / sum_j exp(x_j - m), m = max_j x_j (so no exp overflows) */
static recur_status softmax_forward(const recur_kernel_args *k)
{
    int64_t len = row_len(k->xs[0]), rows = row_count(k->xs[0]);
    for (int64_t r = 0; r < rows; r++) {
        const float *x = k->x[0] + r * len;
        float *y = k->y + r * len;
        float m = x[0];
        for (int64_t j = 1; j < len; j++) m = x[j] > m ? x[j] : m;
        double sum = 0;
        for (int64_t j = 0; j < len; j++) {
            y[j] = expf(x[j] - m);
            sum += y[j];
        }
        float inv = (float)(1.0 / sum);
        for (int64_t j = 0; j < len; j++) y[j] *= inv;
    }
    return RECUR_OK;
}

/* y_i = x_i - m - log sum_j exp(x_j - m), m = max_j x_j */
static recur_status log_softmax_forward(const recur_kernel_args *k)
{
    int64_t len = row_len(k->xs[0]), rows = row_count(k->xs[0]);
    for (int64_t r = 0; r < rows; r++) {
        const float *x = k->x[0] + r * len;
        float *y = k->y + r * len;
        float m = x[0];
        for (int64_t j = 1; j < len; j++) m = x[j] > m ? x[j] : m;
        double sum = 0;
        for (int64_t j = 0; j < len; j++) sum += exp((double)x[j] - m);
        double lse = (double)m + log(sum);
        for (int64_t j = 0; j < len; j++) y[j] = (float)((double)x[j] - lse);
    }
    return RECUR_OK;
}

/* d softmax: dx = y (dy - sum(dy y)), from the output y */
static recur_status softmax_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    dx[0] = recur_softmax_grad(g, y, dy);
    return recur_built(g, dx[0]);
}

/* d log_softmax: dx = dy - exp(y) sum(dy), from the output y */
static recur_status log_softmax_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs,
                                     recur_value *dx)
{
    (void)needs;
    dx[0] = recur_log_softmax_grad(g, y, dy);
    return recur_built(g, dx[0]);
}

recur_value recur_softmax(recur_graph *g, recur_value x) { return recur_unary(g, RECUR_OP_SOFTMAX, x, NULL); }
recur_value recur_log_softmax(recur_graph *g, recur_value x) { return recur_unary(g, RECUR_OP_LOG_SOFTMAX, x, NULL); }

RECUR_OP_DEF(softmax, .min_in = 1, .max_in = 1, .shape = softmax_shape,
                                        .forward = softmax_forward, .grad = softmax_grad);
RECUR_OP_DEF(log_softmax, .min_in = 1, .max_in = 1, .shape = softmax_shape,
                                            .forward = log_softmax_forward, .grad = log_softmax_grad);

/* ------------------------------------------------- gradient helper ops */

/* z_i = y_i (dy_i - s), s = sum_j dy_j y_j  (inputs y, dy) */
static recur_status softmax_grad_forward(const recur_kernel_args *k)
{
    int64_t len = row_len(k->xs[0]), rows = row_count(k->xs[0]);
    for (int64_t r = 0; r < rows; r++) {
        const float *y = k->x[0] + r * len, *dy = k->x[1] + r * len;
        float *z = k->y + r * len;
        double s = 0;
        for (int64_t j = 0; j < len; j++) s += (double)dy[j] * y[j];
        for (int64_t j = 0; j < len; j++) z[j] = (float)(y[j] * (dy[j] - s));
    }
    return RECUR_OK;
}

/* z_i = dy_i - exp(y_i) S, S = sum_j dy_j  (inputs y, dy) */
static recur_status log_softmax_grad_forward(const recur_kernel_args *k)
{
    int64_t len = row_len(k->xs[0]), rows = row_count(k->xs[0]);
    for (int64_t r = 0; r < rows; r++) {
        const float *y = k->x[0] + r * len, *dy = k->x[1] + r * len;
        float *z = k->y + r * len;
        double sum = 0;
        for (int64_t j = 0; j < len; j++) sum += dy[j];
        for (int64_t j = 0; j < len; j++) z[j] = (float)(dy[j] - exp((double)y[j]) * sum);
    }
    return RECUR_OK;
}

/* Sum along the last axis, kept as a 1 so it broadcasts back over the row. */
static recur_value row_sum(recur_graph *g, recur_value x) { return recur_sum_axis(g, x, -1, 1); }

/*
 * softmax_grad(y, dy) = z, z_i = y_i (dy_i - s), s = sum_j dy_j y_j; with
 * upstream gradient G (per row, t = sum_i G_i y_i):
 *   d/d(dy)_k = sum_i G_i (delta_ik y_i - y_i y_k) = y_k (G_k - t) = softmax_grad(y, G)
 *   d/dy_k    = sum_i G_i (delta_ik (dy_i - s) - y_i dy_k) = G_k (dy_k - s) - dy_k t
 */
static recur_status softmax_grad_grad(recur_graph *g, recur_value z, recur_value gz, const int *needs,
                                      recur_value *dx)
{
    recur_value y = operand(g, z, 0), dy = operand(g, z, 1);
    if (needs[0]) {
        recur_value s = row_sum(g, recur_mul(g, dy, y)), t = row_sum(g, recur_mul(g, gz, y));
        dx[0] = recur_sub(g, recur_mul(g, gz, recur_sub(g, dy, s)), recur_mul(g, dy, t));
    }
    if (needs[1]) dx[1] = recur_softmax_grad(g, y, gz);
    for (int i = 0; i < 2; i++)
        if (needs[i] && !recur_ok(dx[i])) return recur_built(g, dx[i]);
    return RECUR_OK;
}

/*
 * log_softmax_grad(y, dy) = z, z_i = dy_i - e^{y_i} S, S = sum_j dy_j; with
 * upstream gradient G:
 *   d/d(dy)_k = G_k - sum_i G_i e^{y_i}   (the transposed Jacobian, not log_softmax_grad(y, G))
 *   d/dy_k    = -G_k e^{y_k} S
 */
static recur_status log_softmax_grad_grad(recur_graph *g, recur_value z, recur_value gz, const int *needs,
                                          recur_value *dx)
{
    recur_value y = operand(g, z, 0), dy = operand(g, z, 1);
    recur_value ge = recur_mul(g, gz, recur_exp(g, y));
    if (needs[0]) dx[0] = recur_neg(g, recur_mul(g, ge, row_sum(g, dy)));
    if (needs[1]) dx[1] = recur_sub(g, gz, row_sum(g, ge));
    for (int i = 0; i < 2; i++)
        if (needs[i] && !recur_ok(dx[i])) return recur_built(g, dx[i]);
    return RECUR_OK;
}

recur_value recur_softmax_grad(recur_graph *g, recur_value y, recur_value dy)
{
    return recur_binary(g, RECUR_OP_SOFTMAX_GRAD, y, dy);
}

recur_value recur_log_softmax_grad(recur_graph *g, recur_value y, recur_value dy)
{
    return recur_binary(g, RECUR_OP_LOG_SOFTMAX_GRAD, y, dy);
}

RECUR_OP_DEF(softmax_grad, .min_in = 2, .max_in = 2,
                                             .shape = softmax_grad_shape, .forward = softmax_grad_forward,
                                             .grad = softmax_grad_grad);
RECUR_OP_DEF(log_softmax_grad, .min_in = 2, .max_in = 2,
                                                 .shape = softmax_grad_shape, .forward = log_softmax_grad_forward,
                                                 .grad = log_softmax_grad_grad);
