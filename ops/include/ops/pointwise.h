/*
 * ops/include/ops/pointwise.h — the elementwise ops as one table of formulas (private),
 * for kernels that evaluate several of them in one pass (pointwise fusion).
 *
 * X(OP, ARITY, EXPR): EXPR computes the result from a (input 0), b (input 1)
 * and s (attr.f[0]). The ops' own kernels and the fused kernel both run
 * these formulas through recur_pointwise_loop (ops/pointwise.c), so a
 * fused chain gives bitwise what its ops give one by one.
 */
#ifndef RECUR_OPS_POINTWISE_H
#define RECUR_OPS_POINTWISE_H

#include <math.h>

#include "ops/op.h"
#include "ops/vmath.h"

#define RECUR_POINTWISE_OPS(X)                              \
    X(NEG, 1, -a)                                           \
    X(SCALE, 1, s * a)                                      \
    X(SQUARE, 1, a * a)                                     \
    X(ONE_MINUS, 1, 1.0f - a)                               \
    X(TANH, 1, recur_vtanhf(a))                             \
    X(SIGMOID, 1, recur_vsigmoidf(a))                       \
    X(RELU, 1, a > 0 ? a : 0.0f)                            \
    X(LEAKY_RELU, 1, a > 0 ? a : s * a)                     \
    X(EXP, 1, recur_vexpf(a))                               \
    X(LOG, 1, logf(a))                                      \
    X(SQRT, 1, sqrtf(a))                                    \
    X(ADD, 2, a + b)                                        \
    X(SUB, 2, a - b)                                        \
    X(MUL, 2, a * b)                                        \
    X(DIV, 2, a / b)                                        \
    X(TANH_GRAD, 2, b * (1.0f - a * a))                     \
    X(SIGMOID_GRAD, 2, b * a * (1.0f - a))                  \
    X(RELU_GRAD, 2, a > 0 ? b : 0.0f)                       \
    X(LEAKY_RELU_GRAD, 2, a > 0 ? b : s * b)

/* The number of inputs of a pointwise op, 0 for any other op. */
static inline int recur_pointwise_arity(int op)
{
    switch (op) {
#define RECUR_ARITY_CASE(OP, ARITY, EXPR) \
    case RECUR_OP_##OP: return ARITY;
        RECUR_POINTWISE_OPS(RECUR_ARITY_CASE)
#undef RECUR_ARITY_CASE
    default: return 0;
    }
}

/*
 * y_i = OP(a_i, b_i) (b unused by one-input ops, which may pass a) for
 * i < n, with s as OP's attribute: the table's formula as a loop the
 * compiler vectorizes. 0 if op is not pointwise (nothing is written).
 */
int recur_pointwise_loop(int op, float s, const float *a, const float *b, float *y, int64_t n);

/*
 * s_c += x[r, c] for r = 0 .. R-1 in that order and c < len, in double:
 * x's rows lie `stride` floats apart. The loop behind a bias gradient's
 * reduction (ops/broadcast.c), vectorized over c like the loops above,
 * with four rows per pass over s (each column still adds its rows one
 * after another, so the sums are those of the plain loop).
 */
void recur_sum_rows_loop(const float *x, int64_t R, int64_t stride, int64_t len, double *s);

/*
 * The kernel of a pointwise op whose inputs all have its output's shape
 * (activations, their gradient helpers, neg/scale/square/one_minus):
 * recur_pointwise_loop over the whole tensor, split across threads when
 * large (ops/parallel.h).
 */
recur_status recur_pointwise_forward(const recur_kernel_args *k);

#endif
