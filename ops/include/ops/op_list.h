/*
 * ops/include/ops/op_list.h — every op recur knows, one line each, with the
 * properties the passes, the compiler and the diagrams read (internal to
 * the library).
 *
 * The list generates the op ids (enum recur_op_id), declares each op's
 * definition recur_def_<name> (written in its family's file, ops/<file>.c,
 * with RECUR_OP_DEF: shape rule, kernels, gradient rule) and fills the op
 * table (ops/common.c). Adding an op is a line here, its definition and
 * builder in its file, and its builder in recur/ops.h; hoisting, fusion,
 * memory planning and drawing learn what they need from this line and the
 * definition, never from lists of their own.
 *
 * X(ID, name, flags, rows, rows_mask, cost, glyph):
 *   ID, name   RECUR_OP_<ID>; "name" in messages and dumps; recur_def_<name>
 *   flags      RECUR_OPP_* (ops/op.h):
 *                LEAF       no inputs: fed, stored or filled
 *                HOIST      applied to operands with a new leading (time)
 *                           axis it computes every step at once, so the
 *                           hoisting pass may take it out of a loop body
 *                RECOMPUTE  cheap enough that a fused kernel computes it
 *                           again from its input rather than keep it
 *                SELECT     its elements are elements of input 0 (reshape,
 *                           slice, select): reading it is reading input 0
 *                AFFINE     an affine map of its operands (sums, products with
 *                           a matrix, reshapes): the "cell internals" diagram
 *                           folds it into the box it feeds when its operands
 *                           are the cell's inputs, states and weights
 *   rows       how rows (axis 0) of the result depend on the operands' rows
 *              (RECUR_ROWS_*, ops/op.h): the diagrams follow time through
 *              it, hoisting checks its operands by it
 *   rows_mask  for RECUR_ROWS_MASK: the operands whose rows the result's follow
 *   cost       a fused kernel's work per element for it, in floats moved
 *              (a transcendental costs about four)
 *   glyph      how a cell-level diagram draws it where a symbol reads better
 *              than its name ("+"), or NULL
 */
#ifndef RECUR_OPS_OP_LIST_H
#define RECUR_OPS_OP_LIST_H

#define RECUR_OP_LIST(X)                                                                                          \
    /* leaves */                                                                                                  \
    X(INPUT, input, RECUR_OPP_LEAF, NONE, 0, 0, NULL)                                                            \
    X(PARAM, param, RECUR_OPP_LEAF, NONE, 0, 0, NULL)                                                            \
    X(CONST, const, RECUR_OPP_LEAF, NONE, 0, 0, NULL)                                                            \
    X(FILL, fill, RECUR_OPP_LEAF, NONE, 0, 0, NULL)                                                              \
    /* elementwise (ops/arith.c, ops/activation.c) */                                                             \
    X(ADD, add, RECUR_OPP_HOIST | RECUR_OPP_AFFINE, RANK, 0, 1, "+")                                             \
    X(SUB, sub, RECUR_OPP_HOIST | RECUR_OPP_AFFINE, RANK, 0, 1, "\xe2\x88\x92")                                  \
    X(MUL, mul, RECUR_OPP_HOIST, RANK, 0, 1, "\xc3\x97")                                                         \
    X(DIV, div, RECUR_OPP_HOIST, RANK, 0, 1, NULL)                                                               \
    X(NEG, neg, RECUR_OPP_HOIST | RECUR_OPP_RECOMPUTE | RECUR_OPP_AFFINE, RANK, 0, 1, NULL)                      \
    X(SCALE, scale, RECUR_OPP_HOIST | RECUR_OPP_RECOMPUTE | RECUR_OPP_AFFINE, RANK, 0, 1, NULL)                  \
    X(TANH, tanh, RECUR_OPP_HOIST | RECUR_OPP_RECOMPUTE, RANK, 0, 4, NULL)                                       \
    X(SIGMOID, sigmoid, RECUR_OPP_HOIST | RECUR_OPP_RECOMPUTE, RANK, 0, 4, "\xcf\x83")                           \
    X(RELU, relu, RECUR_OPP_HOIST, RANK, 0, 1, NULL)                                                             \
    X(LEAKY_RELU, leaky_relu, RECUR_OPP_HOIST, RANK, 0, 1, NULL)                                                 \
    X(SOFTPLUS, softplus, RECUR_OPP_HOIST, RANK, 0, 8, NULL)                                                     \
    X(CLIP, clip, RECUR_OPP_HOIST | RECUR_OPP_RECOMPUTE, RANK, 0, 1, NULL)                                       \
    X(EXP, exp, RECUR_OPP_HOIST | RECUR_OPP_RECOMPUTE, RANK, 0, 4, NULL)                                         \
    X(LOG, log, RECUR_OPP_HOIST, RANK, 0, 4, NULL)                                                               \
    X(SQRT, sqrt, RECUR_OPP_HOIST, RANK, 0, 1, NULL)                                                             \
    X(SQUARE, square, RECUR_OPP_HOIST, RANK, 0, 1, NULL)                                                         \
    X(ONE_MINUS, one_minus, RECUR_OPP_HOIST | RECUR_OPP_RECOMPUTE | RECUR_OPP_AFFINE, RANK, 0, 1, "1\xe2\x88\x92") \
    X(STOP_GRADIENT, stop_gradient, RECUR_OPP_SELECT | RECUR_OPP_AFFINE, RANK, 0, 0, NULL)                       \
    X(DROPOUT, dropout, 0, RANK, 0, 0, NULL)                                                                     \
    /* linear algebra and reductions (ops/matmul.c, ops/broadcast.c) */                                           \
    X(MATMUL, matmul, RECUR_OPP_HOIST | RECUR_OPP_AFFINE, NOTRANS, 0, 0, NULL)                                   \
    X(BROADCAST_TO, broadcast_to, RECUR_OPP_AFFINE, RANK, 0, 0, NULL)                                            \
    X(SUM_TO, sum_to, RECUR_OPP_AFFINE, RANK, 0, 0, NULL)                                                        \
    /* normalisers (ops/softmax.c) */                                                                             \
    X(SOFTMAX, softmax, RECUR_OPP_HOIST, RANK, 0, 0, NULL)                                                       \
    X(LOG_SOFTMAX, log_softmax, RECUR_OPP_HOIST, RANK, 0, 0, NULL)                                               \
    /* shape and index (ops/shape.c, ops/layout.c, ops/index.c) */                                                \
    X(CONCAT, concat, RECUR_OPP_AFFINE, AXIS, 0, 0, NULL)                                                        \
    X(SLICE, slice, RECUR_OPP_SELECT | RECUR_OPP_AFFINE, AXIS, 0, 0, NULL)                                       \
    X(RESHAPE, reshape, RECUR_OPP_SELECT | RECUR_OPP_AFFINE, NONE, 0, 0, NULL)                                   \
    X(TRANSPOSE, transpose, RECUR_OPP_AFFINE, NONE, 0, 0, NULL)                                                  \
    X(STACK, stack, RECUR_OPP_AFFINE, NONE, 0, 0, NULL)                                                          \
    X(TAKE, take, RECUR_OPP_SELECT | RECUR_OPP_AFFINE, NONE, 0, 0, NULL)                                         \
    X(GATHER, gather, RECUR_OPP_HOIST | RECUR_OPP_AFFINE, MASK, 1u << 1, 0, NULL)                                \
    X(ONE_HOT, one_hot, RECUR_OPP_HOIST | RECUR_OPP_AFFINE, MASK, 1u << 0, 0, NULL)                              \
    X(LENGTH_MASK, length_mask, 0, NONE, 0, 0, NULL) /* per-sequence lengths (ops/sequence.c) */                 \
    /* losses (ops/loss.c) */                                                                                     \
    X(MSE, mse, 0, NONE, 0, 0, NULL)                                                                             \
    X(SOFTMAX_XENT, softmax_xent, 0, NONE, 0, 0, NULL)                                                           \
    /* gradient helpers (ops/activation.c, ops/softmax.c, ops/loss.c, ops/index.c, ops/shape.c) */                \
    X(TANH_GRAD, tanh_grad, 0, RANK, 0, 1, NULL)                                                                 \
    X(SIGMOID_GRAD, sigmoid_grad, 0, RANK, 0, 1, NULL)                                                           \
    X(RELU_GRAD, relu_grad, 0, RANK, 0, 1, NULL)                                                                 \
    X(LEAKY_RELU_GRAD, leaky_relu_grad, 0, RANK, 0, 1, NULL)                                                     \
    X(CLIP_GRAD, clip_grad, 0, RANK, 0, 1, NULL)                                                                 \
    X(SOFTMAX_GRAD, softmax_grad, 0, RANK, 0, 0, NULL)                                                           \
    X(LOG_SOFTMAX_GRAD, log_softmax_grad, 0, RANK, 0, 0, NULL)                                                   \
    X(SOFTMAX_XENT_GRAD, softmax_xent_grad, 0, MASK, ~(1u << 2), 0, NULL)                                        \
    X(SCATTER_ADD, scatter_add, 0, NONE, 0, 0, NULL)                                                             \
    X(PAD_AXIS, pad_axis, RECUR_OPP_AFFINE, AXIS, 0, 0, NULL)                                                    \
    /* recurrence (graph/loop.c, ops/loop_ops.c) */                                                               \
    X(LOOP, loop, 0, NONE, 0, 0, NULL)               /* the loop node: sequences, initial states, captures */    \
    X(LOOP_STEP, loop_step, 0, NONE, 0, 0, NULL)     /* body placeholder: step t of a sequence input */          \
    X(LOOP_STATE, loop_state, 0, NONE, 0, 0, NULL)   /* body placeholder: a carried state at step t */           \
    X(LOOP_OUTPUT, loop_output, 0, NONE, 0, 0, NULL) /* a loop's stacked output or final state */               \
    X(ALIAS, alias, RECUR_OPP_SELECT | RECUR_OPP_AFFINE, NONE, 0, 0, NULL) /* the same value (what unrolling makes of an output) */

/* The op ids, in the list's order. */
typedef enum recur_op_id {
#define RECUR_OP_ENUM(ID, name, flags, rows, mask, cost, glyph) RECUR_OP_##ID,
    RECUR_OP_LIST(RECUR_OP_ENUM)
#undef RECUR_OP_ENUM
    RECUR_OP_COUNT
} recur_op_id;

#endif
