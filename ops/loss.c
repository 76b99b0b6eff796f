/*
 * ops/loss.c — losses: mean squared error and softmax cross-entropy with
 * integer targets (fused and numerically stable), and the fused gradient
 * helper op of the latter (softmax_xent_grad). Both losses are scalars;
 * their sums are taken in double.
 *
 * Inputs of the cross-entropy ops; the mask is optional and, when given,
 * always the last input, so a node's input count says whether it has one.
 * Its entries are weights, checked at run time: finite and >= 0.
 *   softmax_xent:      logits [..., C], targets [...] [, mask [...]]
 *   softmax_xent_grad: logits [..., C], targets [...], dloss [] [, mask [...]]
 */
#include <float.h>
#include <math.h>

#include "ops/op.h"
#include "ops/parallel.h"
#include "ops/pointwise.h"
#include "ops/vmath.h"

/* Floats moved per element by the measure of ops/parallel.h: a vectorized exp costs about 4. */
#define XENT_COST 4

/* Classes whose exps are taken at once (a block on the stack) before they are summed in double. */
#define XENT_BLOCK 64

static recur_value operand(const recur_graph *g, recur_value y, int i)
{
    return (recur_value){g->nodes[y.id].in[i]};
}

/* ------------------------------------------------------------------ mse */

static recur_status mse_shape(recur_graph *g, recur_node *n)
{
    if (!recur_shape_equal(recur_in_shape(g, n, 0), recur_in_shape(g, n, 1)))
        return recur_shape_fail(g, n, "pred and target must have the same shape");
    n->shape = recur_shape0();
    return RECUR_OK;
}

/* y = (1/N) sum_i (p_i - t_i)^2 */
static recur_status mse_forward(const recur_kernel_args *k)
{
    int64_t n = recur_shape_numel(k->xs[0]);
    const float *p = k->x[0], *t = k->x[1];
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)p[i] - t[i];
        sum += d * d;
    }
    k->y[0] = (float)(sum / (double)n);
    return RECUR_OK;
}

/* d mse: dp = dy * 2 (p - t) / N (dy a scalar, broadcast), dt = -dp */
static recur_status mse_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    recur_value p = operand(g, y, 0), t = operand(g, y, 1);
    float two_over_n = 2.0f / (float)recur_shape_numel(g->nodes[p.id].shape);
    recur_value dp = recur_mul(g, recur_scale(g, recur_sub(g, p, t), two_over_n), dy);
    if (needs[0]) dx[0] = dp;
    if (needs[1]) dx[1] = recur_neg(g, dp);
    for (int i = 0; i < 2; i++)
        if (needs[i] && !recur_ok(dx[i])) return recur_built(g, dx[i]);
    return RECUR_OK;
}

recur_value recur_mse(recur_graph *g, recur_value pred, recur_value target)
{
    return recur_binary(g, RECUR_OP_MSE, pred, target);
}

RECUR_OP_DEF(mse, .min_in = 2, .max_in = 2, .shape = mse_shape,
                                    .forward = mse_forward, .grad = mse_grad);

/* --------------------------------------------------------- softmax_xent */

/*
 * Checks logits [..., C], targets of logits' shape without the last
 * dimension, and the optional mask (input `mask_in`, if present) of the
 * targets' shape.
 */
static recur_status xent_check(recur_graph *g, recur_node *n, int mask_in)
{
    recur_shape x = recur_in_shape(g, n, 0), t = recur_in_shape(g, n, 1);
    if (x.ndim < 1) return recur_shape_fail(g, n, "logits need a last (class) dimension");
    recur_shape rows = x;
    rows.ndim--;
    if (!recur_shape_equal(t, rows))
        return recur_shape_fail(g, n, "targets must have the logits' shape without the last (class) dimension");
    if (mask_in < n->n_in && !recur_shape_equal(recur_in_shape(g, n, mask_in), t))
        return recur_shape_fail(g, n, "the mask must have the targets' shape");
    return RECUR_OK;
}

static recur_status xent_shape(recur_graph *g, recur_node *n)
{
    recur_status st = xent_check(g, n, 2);
    if (st == RECUR_OK) n->shape = recur_shape0();
    return st;
}

static recur_status xent_grad_shape(recur_graph *g, recur_node *n)
{
    recur_status st = xent_check(g, n, 3);
    if (st != RECUR_OK) return st;
    if (recur_shape_numel(recur_in_shape(g, n, 2)) != 1)
        return recur_shape_fail(g, n, "dloss must hold one element");
    n->shape = recur_in_shape(g, n, 0);
    return RECUR_OK;
}

/* The class index of target t of a row of C classes, or -1 if t is not a whole number in [0, C). */
static int64_t class_of(float t, int64_t C)
{
    if (!(t >= 0 && t < (float)C && t == floorf(t))) return -1;
    return (int64_t)t;
}

static recur_status bad_target(const recur_kernel_args *k, int64_t i, float t, int64_t C)
{
    return recur_kernel_fail(k, "target %g at position %lld is not a class index (a whole number in [0, %lld))",
                             (double)t, (long long)i, (long long)C);
}

/*
 * A mask entry is a weight: finite and >= 0 (1 keeps a position, 0 masks
 * it out). A negative one could cancel the others (1, -1 summed to 0: a
 * loss of 0 with no error), a NaN or Inf would make the loss NaN.
 */
static int mask_ok(float m) { return m >= 0 && m <= FLT_MAX; }

static recur_status bad_mask(const recur_kernel_args *k, int64_t i, float m)
{
    return recur_kernel_fail(k, "mask %g at position %lld is not a weight (a finite number >= 0: 1 keeps the "
                                "position, 0 masks it out)", (double)m, (long long)i);
}

/* e[q] = e^(x[q] - m) for q < n, vectorized (ops/vmath.h's exp, to about 1 ulp). */
RECUR_VECTOR_CLONES static void shifted_exps(const float *x, float m, float *e, int64_t n)
{
    for (int64_t q = 0; q < n; q++) e[q] = recur_vexpf(x[q] - m);
}

/*
 * log sum_j exp(x_j) of a row, as m + log sum_j exp(x_j - m) with m =
 * max_j x_j: the exps in float, XENT_BLOCK at a time, summed in double in
 * the order of j (a row's result does not depend on how rows are shared).
 */
static double row_lse(const float *x, int64_t C)
{
    float m = x[0], e[XENT_BLOCK];
    for (int64_t j = 1; j < C; j++) m = x[j] > m ? x[j] : m;
    double sum = 0;
    for (int64_t j = 0; j < C; j += XENT_BLOCK) {
        int64_t n = C - j < XENT_BLOCK ? C - j : XENT_BLOCK;
        shifted_exps(x + j, m, e, n);
        for (int64_t q = 0; q < n; q++) sum += e[q];
    }
    return (double)m + log(sum);
}

/* The rows of softmax_xent, on recur's pool: each row's weighted nll into the workspace. */
typedef struct xent_nll {
    const recur_kernel_args *k;
    const float *mask;
    int64_t C;
    double *nll;
} xent_nll;

static void xent_nll_rows(void *ctx, int64_t lo, int64_t hi, int part)
{
    const xent_nll *j = ctx;
    (void)part;
    for (int64_t i = lo; i < hi; i++) {
        float m = j->mask ? j->mask[i] : 1.0f;
        if (m == 0) {
            j->nll[i] = 0;
            continue;
        }
        const float *x = j->k->x[0] + i * j->C;
        j->nll[i] = m * (row_lse(x, j->C) - x[class_of(j->k->x[1][i], j->C)]);
    }
}

/*
 * y = sum_i m_i nll_i / sum_i m_i, nll_i = lse(x_i) - x_i[t_i]; rows with
 * m_i = 0 are skipped (their targets unchecked); y = 0 if sum_i m_i = 0.
 * Masks and targets are checked first, on the calling thread; the rows'
 * nll then run on the pool and are summed in row order, so the bits do not
 * depend on the threads.
 */
static recur_status xent_forward(const recur_kernel_args *k)
{
    int64_t C = k->xs[0].d[k->xs[0].ndim - 1], rows = recur_shape_numel(k->xs[1]);
    const float *mask = k->n_in > 2 ? k->x[2] : NULL;
    double loss = 0, msum = 0;
    for (int64_t i = 0; i < rows; i++) {
        float m = mask ? mask[i] : 1.0f;
        if (!mask_ok(m)) return bad_mask(k, i, m);
        if (m == 0) continue;
        if (class_of(k->x[1][i], C) < 0) return bad_target(k, i, k->x[1][i], C);
        msum += m;
    }
    xent_nll j = {.k = k, .mask = mask, .C = C, .nll = (double *)k->work};
    recur_parallel_range(rows, rows * C * XENT_COST, xent_nll_rows, &j);
    for (int64_t i = 0; i < rows; i++) loss += j.nll[i];
    k->y[0] = msum != 0 ? (float)(loss / msum) : 0.0f;
    return RECUR_OK;
}

/* A double per row for its nll. */
static size_t xent_workspace(const recur_graph *g, const recur_node *n)
{
    recur_shape t = g->nodes[n->in[1]].shape;
    return sizeof(double) * (size_t)recur_shape_numel(t);
}

/*
 * d softmax_xent / d logits = softmax_xent_grad(logits, targets, mask, dy);
 * targets and mask are data (class ids, weights): no gradient flows to them.
 */
static recur_status xent_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    if (!needs[0]) return RECUR_OK;
    const recur_node *n = &g->nodes[y.id];
    recur_value mask = n->n_in > 2 ? operand(g, y, 2) : RECUR_NONE;
    dx[0] = recur_softmax_xent_grad(g, operand(g, y, 0), operand(g, y, 1), mask, dy);
    return recur_built(g, dx[0]);
}

recur_value recur_softmax_xent(recur_graph *g, recur_value logits, recur_value targets, recur_value mask)
{
    recur_value in[3] = {logits, targets, mask};
    return recur_node_add(g, RECUR_OP_SOFTMAX_XENT, recur_ok(mask) ? 3 : 2, in, NULL);
}

RECUR_OP_DEF(softmax_xent, .min_in = 2, .max_in = 3, .shape = xent_shape,
                                             .forward = xent_forward, .grad = xent_grad, .workspace = xent_workspace);

/* ---------------------------------------------------- softmax_xent_grad */

/* Rows of softmax_xent_grad, computed on recur's pool (ops/parallel.h). */
typedef struct xent_rows {
    const recur_kernel_args *k;
    const float *mask;
    int64_t C;
    double scale;
    int none; /* every mask 0: z = 0 */
} xent_rows;

/* z[q] = s e^(x[q] - lse) for q < C, vectorized: a row's softmax, scaled. */
RECUR_VECTOR_CLONES static void scaled_softmax(const float *x, float lse, float s, float *z, int64_t C)
{
    for (int64_t q = 0; q < C; q++) z[q] = s * recur_vexpf(x[q] - lse);
}

/* Rows [lo, hi) of z (see xent_grad_forward); their targets and masks are already checked. */
static void xent_grad_rows(void *ctx, int64_t lo, int64_t hi, int part)
{
    const xent_rows *j = ctx;
    int64_t C = j->C;
    (void)part;
    for (int64_t i = lo; i < hi; i++) {
        const float *x = j->k->x[0] + i * C;
        float *z = j->k->y + i * C;
        float m = j->mask ? j->mask[i] : 1.0f;
        if (m == 0 || j->none) {
            for (int64_t q = 0; q < C; q++) z[q] = 0.0f;
            continue;
        }
        int64_t c = class_of(j->k->x[1][i], C);
        float lse = (float)row_lse(x, C), s = (float)(j->scale * m);
        scaled_softmax(x, lse, s, z, C);
        z[c] -= s;
    }
}

/*
 * z_i = dloss m_i (softmax(x_i) - onehot(t_i)) / sum_j m_j per row i; rows
 * with m_i = 0 (or every row, if sum_j m_j = 0) are 0 and their targets
 * unchecked. The masks and targets are checked first, on the calling
 * thread; the rows, independent of each other (each computed as on one
 * thread, so the bits do not depend on the threads), then run on the pool,
 * their exps vectorized in float (two per element: the log-sum-exp and the
 * softmax).
 */
static recur_status xent_grad_forward(const recur_kernel_args *k)
{
    int64_t C = k->xs[0].d[k->xs[0].ndim - 1], rows = recur_shape_numel(k->xs[1]);
    const float *mask = k->n_in > 3 ? k->x[3] : NULL;
    double msum = 0;
    for (int64_t i = 0; i < rows; i++) {
        float m = mask ? mask[i] : 1.0f;
        if (!mask_ok(m)) return bad_mask(k, i, m);
        msum += m;
    }
    for (int64_t i = 0; i < rows && msum != 0; i++) {
        if (mask && mask[i] == 0) continue;
        if (class_of(k->x[1][i], C) < 0) return bad_target(k, i, k->x[1][i], C);
    }
    xent_rows j = {.k = k, .mask = mask, .C = C, .scale = msum != 0 ? (double)k->x[2][0] / msum : 0.0, .none = msum == 0};
    recur_parallel_range(rows, rows * C * XENT_COST, xent_grad_rows, &j);
    return RECUR_OK;
}

recur_value recur_softmax_xent_grad(recur_graph *g, recur_value logits, recur_value targets, recur_value mask,
                                    recur_value dloss)
{
    recur_value in[4] = {logits, targets, dloss, mask};
    return recur_node_add(g, RECUR_OP_SOFTMAX_XENT_GRAD, recur_ok(mask) ? 4 : 3, in, NULL);
}

/* No gradient rule: second derivatives of the cross-entropy are not needed (training differentiates once). */
RECUR_OP_DEF(softmax_xent_grad, .min_in = 3, .max_in = 4,
                                                  .shape = xent_grad_shape, .forward = xent_grad_forward);
