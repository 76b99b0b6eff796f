/*
 * ops/pointwise.h — the elementwise ops as one table of formulas (private),
 * for kernels that evaluate several of them in one pass (pointwise fusion).
 *
 * X(OP, ARITY, EXPR): EXPR computes the result from a (input 0), b (input 1)
 * and s (attr.f[0]); the same formulas as the ops' own kernels.
 */
#ifndef RECUR_OPS_POINTWISE_H
#define RECUR_OPS_POINTWISE_H

#include <math.h>

#include "graph/node.h"

/* sigmoid(x) = 1 / (1 + e^-x), written to stay finite for large |x|. */
static inline float recur_sigmoidf(float x)
{
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

#define RECUR_POINTWISE_OPS(X)                              \
    X(NEG, 1, -a)                                           \
    X(SCALE, 1, s * a)                                      \
    X(SQUARE, 1, a * a)                                     \
    X(ONE_MINUS, 1, 1.0f - a)                               \
    X(TANH, 1, tanhf(a))                                    \
    X(SIGMOID, 1, recur_sigmoidf(a))                        \
    X(RELU, 1, a > 0 ? a : 0.0f)                            \
    X(LEAKY_RELU, 1, a > 0 ? a : s * a)                     \
    X(EXP, 1, expf(a))                                      \
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

#endif
