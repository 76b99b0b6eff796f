/*
 * ops/arith.c — arithmetic: add, sub, mul, div (with NumPy broadcasting),
 * neg, scale, square, one_minus, and bias_add (an add with a stricter check).
 */
#include "ops/broadcast.h"
#include "ops/parallel.h"
#include "ops/pointwise.h"

/* ------------------------------------------------------- binary, broadcasting */

static recur_status binary_shape(recur_graph *g, recur_node *n)
{
    recur_shape s;
    if (!recur_broadcast_shape(recur_in_shape(g, n, 0), recur_in_shape(g, n, 1), &s))
        return recur_shape_fail(g, n, "shapes do not broadcast (dimensions must be equal or 1, aligned at the last)");
    return recur_shape_set(g, n, "the result", s); /* [2^40, 1] + [1, 2^40] fits no value */
}

/* The loops: y = a (op) b, elementwise. */
RECUR_POINTWISE_LOOP(add_loop, 2, a + b)
RECUR_POINTWISE_LOOP(sub_loop, 2, a - b)
RECUR_POINTWISE_LOOP(mul_loop, 2, a * b)
RECUR_POINTWISE_LOOP(div_loop, 2, a / b)

typedef struct run_job {
    recur_pointwise_fn f;
    int64_t q, pa, pb; /* run length, periods of a and b */
    const float *a, *b;
    float *y;
} run_job;

/* Runs [lo, hi) of a broadcast in which both operands repeat whole (see binary_forward). */
static void runs_range(void *ctx, int64_t lo, int64_t hi, int part)
{
    const run_job *j = ctx;
    (void)part;
    for (int64_t r = lo; r < hi; r++) j->f(0.0f, j->a + (r * j->q) % j->pa, j->b + (r * j->q) % j->pb, j->y + r * j->q, j->q);
}

/*
 * y_i = a_{i'} (op) b_{i''}, where i' and i'' are i mapped into the operands.
 * Equal shapes run the op's loop over the whole. When each operand only
 * repeats whole (a scalar, a bias row: recur_bcast_period), the smaller
 * period q divides the larger, so the output splits into runs of q
 * elements contiguous in both operands: y[r q + j] = a[(r q) mod pa + j]
 * (op) b[(r q) mod pb + j], each run one vectorized loop. Other broadcasts
 * (short periods, general index maps) gather both operands block by block
 * into contiguous buffers and run the loop on each block.
 */
static recur_status binary_forward(const recur_kernel_args *k)
{
    recur_pointwise_fn f = recur_op(k->node->op)->pointwise;
    if (!f) return recur_kernel_fail(k, "not a binary arithmetic op");
    int64_t n = recur_shape_numel(k->node->shape);
    const float *A = k->x[0], *B = k->x[1];
    int64_t pa = recur_bcast_period(k->node->shape, k->xs[0]);
    int64_t pb = recur_bcast_period(k->node->shape, k->xs[1]);
    if (pa == n && pb == n) return recur_pointwise_forward(k);
    if (pa > 0 && pb > 0 && (pa < pb ? pa : pb) >= 16) {
        run_job j = {.f = f, .q = pa < pb ? pa : pb, .pa = pa, .pb = pb, .a = A, .b = B, .y = k->y};
        recur_parallel_range(n / j.q, 2 * n, runs_range, &j);
        return RECUR_OK;
    }
    enum { BLOCK = 256 };
    float a[BLOCK], b[BLOCK];
    recur_bcast ia, ib;
    recur_bcast_init(&ia, k->node->shape, k->xs[0]);
    recur_bcast_init(&ib, k->node->shape, k->xs[1]);
    for (int64_t base = 0; base < n; base += BLOCK) {
        int64_t len = n - base < BLOCK ? n - base : BLOCK;
        for (int64_t i = 0; i < len; i++) {
            a[i] = A[pa > 0 ? (base + i) % pa : recur_bcast_offset(&ia, base + i)];
            b[i] = B[pb > 0 ? (base + i) % pb : recur_bcast_offset(&ib, base + i)];
        }
        f(0.0f, a, b, k->y + base, len);
    }
    return RECUR_OK;
}

/* Sums a gradient back to operand i's shape (the inverse of its broadcast). */
static recur_value to_operand(recur_graph *g, recur_value y, int i, recur_value grad)
{
    return recur_sum_to(g, grad, g->nodes[g->nodes[y.id].in[i]].shape);
}

static recur_value operand(const recur_graph *g, recur_value y, int i)
{
    return (recur_value){g->nodes[y.id].in[i]};
}

/* Finishes a two-input gradient rule: the status of whichever gradients were wanted. */
static recur_status done2(recur_graph *g, const int *needs, const recur_value *dx)
{
    for (int i = 0; i < 2; i++)
        if (needs[i] && !recur_ok(dx[i])) return recur_built(g, dx[i]);
    return RECUR_OK;
}

/* d(a + b) = da + db: each operand gets dy summed to its shape. */
static recur_status add_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    if (needs[0]) dx[0] = to_operand(g, y, 0, dy);
    if (needs[1]) dx[1] = to_operand(g, y, 1, dy);
    return done2(g, needs, dx);
}

/* d(a - b): da = dy, db = -dy. */
static recur_status sub_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    if (needs[0]) dx[0] = to_operand(g, y, 0, dy);
    if (needs[1]) dx[1] = to_operand(g, y, 1, recur_neg(g, dy));
    return done2(g, needs, dx);
}

/* d(a * b): da = dy * b, db = dy * a. */
static recur_status mul_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    if (needs[0]) dx[0] = to_operand(g, y, 0, recur_mul(g, dy, operand(g, y, 1)));
    if (needs[1]) dx[1] = to_operand(g, y, 1, recur_mul(g, dy, operand(g, y, 0)));
    return done2(g, needs, dx);
}

/* d(a / b): da = dy / b, db = -dy * a / b^2 = -(dy * y) / b. */
static recur_status div_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    recur_value b = operand(g, y, 1);
    if (needs[0]) dx[0] = to_operand(g, y, 0, recur_div(g, dy, b));
    if (needs[1]) dx[1] = to_operand(g, y, 1, recur_neg(g, recur_div(g, recur_mul(g, dy, y), b)));
    return done2(g, needs, dx);
}

recur_value recur_add(recur_graph *g, recur_value a, recur_value b) { return recur_binary(g, RECUR_OP_ADD, a, b); }
recur_value recur_sub(recur_graph *g, recur_value a, recur_value b) { return recur_binary(g, RECUR_OP_SUB, a, b); }
recur_value recur_mul(recur_graph *g, recur_value a, recur_value b) { return recur_binary(g, RECUR_OP_MUL, a, b); }
recur_value recur_div(recur_graph *g, recur_value a, recur_value b) { return recur_binary(g, RECUR_OP_DIV, a, b); }

recur_value recur_bias_add(recur_graph *g, recur_value x, recur_value b)
{
    recur_node *nx = recur_operand(g, x, "bias_add"), *nb = recur_operand(g, b, "bias_add");
    if (!nx || !nb) return RECUR_NONE;
    if (nb->shape.ndim != 1 || nx->shape.ndim < 1 || nb->shape.d[0] != nx->shape.d[nx->shape.ndim - 1]) {
        char sx[64], sb[64];
        recur_set_error(g, RECUR_ERR_SHAPE,
                        "op bias_add: bias \"%s\" %s must be a vector as long as the last dimension of \"%s\" %s",
                        recur_node_name(g, b.id), recur_shape_str(nb->shape, sb, sizeof sb), recur_node_name(g, x.id),
                        recur_shape_str(nx->shape, sx, sizeof sx));
        return RECUR_NONE;
    }
    return recur_add(g, x, b);
}

RECUR_OP_DEF(add, .min_in = 2, .max_in = 2, .shape = binary_shape, .forward = binary_forward, .grad = add_grad,
             .pointwise = add_loop, .arity = 2);
RECUR_OP_DEF(sub, .min_in = 2, .max_in = 2, .shape = binary_shape, .forward = binary_forward, .grad = sub_grad,
             .pointwise = sub_loop, .arity = 2);
RECUR_OP_DEF(mul, .min_in = 2, .max_in = 2, .shape = binary_shape, .forward = binary_forward, .grad = mul_grad,
             .pointwise = mul_loop, .arity = 2);
RECUR_OP_DEF(div, .min_in = 2, .max_in = 2, .shape = binary_shape, .forward = binary_forward, .grad = div_grad,
             .pointwise = div_loop, .arity = 2);

/* ------------------------------------------------------------------ unary */

/* d(-x) = -dy; d(1 - x) = -dy */
static recur_status neg_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)y, (void)needs;
    dx[0] = recur_neg(g, dy);
    return recur_built(g, dx[0]);
}

/* d(s x) = s dy */
static recur_status scale_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    dx[0] = recur_scale(g, dy, g->nodes[y.id].attr.f[0]);
    return recur_built(g, dx[0]);
}

/* d(x^2) = 2 x dy */
static recur_status square_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    dx[0] = recur_mul(g, dy, recur_scale(g, operand(g, y, 0), 2.0f));
    return recur_built(g, dx[0]);
}

static void scale_attrs(const recur_node *n, char *buf, size_t len) { snprintf(buf, len, "s=%g", (double)n->attr.f[0]); }

recur_value recur_neg(recur_graph *g, recur_value x) { return recur_unary(g, RECUR_OP_NEG, x, NULL); }
recur_value recur_square(recur_graph *g, recur_value x) { return recur_unary(g, RECUR_OP_SQUARE, x, NULL); }
recur_value recur_one_minus(recur_graph *g, recur_value x) { return recur_unary(g, RECUR_OP_ONE_MINUS, x, NULL); }

recur_value recur_scale(recur_graph *g, recur_value x, float s)
{
    recur_attr attr = {.f = {s}};
    return recur_unary(g, RECUR_OP_SCALE, x, &attr);
}

/* The loops: -x, s x, x^2, 1 - x. */
RECUR_POINTWISE_LOOP(neg_loop, 1, -a)
RECUR_POINTWISE_LOOP(scale_loop, 1, s * a)
RECUR_POINTWISE_LOOP(square_loop, 1, a * a)
RECUR_POINTWISE_LOOP(one_minus_loop, 1, 1.0f - a)

RECUR_OP_DEF(neg, .min_in = 1, .max_in = 1, .shape = recur_shape_same_as_first, .forward = recur_pointwise_forward,
             .grad = neg_grad, .pointwise = neg_loop, .arity = 1);
RECUR_OP_DEF(scale, .min_in = 1, .max_in = 1, .shape = recur_shape_same_as_first, .forward = recur_pointwise_forward,
             .grad = scale_grad, .attrs = scale_attrs, .pointwise = scale_loop, .arity = 1);
RECUR_OP_DEF(square, .min_in = 1, .max_in = 1, .shape = recur_shape_same_as_first, .forward = recur_pointwise_forward,
             .grad = square_grad, .pointwise = square_loop, .arity = 1);
RECUR_OP_DEF(one_minus, .min_in = 1, .max_in = 1, .shape = recur_shape_same_as_first,
             .forward = recur_pointwise_forward, .grad = neg_grad, .pointwise = one_minus_loop, .arity = 1);
