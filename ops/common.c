/*
 * ops/common.c — the op table and helpers shared by the op files.
 */
#include <stdarg.h>
#include <stdio.h>

#include "ops/op.h"

/* One entry per op id; each op's file defines its entry. */
static const recur_op_def *const table[RECUR_OP_COUNT] = {
    [RECUR_OP_INPUT] = &recur_def_input,
    [RECUR_OP_PARAM] = &recur_def_param,
    [RECUR_OP_CONST] = &recur_def_const,
    [RECUR_OP_FILL] = &recur_def_fill,
    /* ops/arith.c */
    [RECUR_OP_ADD] = &recur_def_add,
    [RECUR_OP_SUB] = &recur_def_sub,
    [RECUR_OP_MUL] = &recur_def_mul,
    [RECUR_OP_DIV] = &recur_def_div,
    [RECUR_OP_NEG] = &recur_def_neg,
    [RECUR_OP_SCALE] = &recur_def_scale,
    [RECUR_OP_SQUARE] = &recur_def_square,
    [RECUR_OP_ONE_MINUS] = &recur_def_one_minus,
    /* ops/activation.c */
    [RECUR_OP_TANH] = &recur_def_tanh,
    [RECUR_OP_SIGMOID] = &recur_def_sigmoid,
    [RECUR_OP_RELU] = &recur_def_relu,
    [RECUR_OP_LEAKY_RELU] = &recur_def_leaky_relu,
    [RECUR_OP_EXP] = &recur_def_exp,
    [RECUR_OP_LOG] = &recur_def_log,
    [RECUR_OP_SQRT] = &recur_def_sqrt,
    [RECUR_OP_TANH_GRAD] = &recur_def_tanh_grad,
    [RECUR_OP_SIGMOID_GRAD] = &recur_def_sigmoid_grad,
    [RECUR_OP_RELU_GRAD] = &recur_def_relu_grad,
    [RECUR_OP_LEAKY_RELU_GRAD] = &recur_def_leaky_relu_grad,
    /* ops/broadcast.c */
    [RECUR_OP_BROADCAST_TO] = &recur_def_broadcast_to,
    [RECUR_OP_SUM_TO] = &recur_def_sum_to,
    [RECUR_OP_STOP_GRADIENT] = &recur_def_stop_gradient,
    /* ops/matmul.c */
    [RECUR_OP_MATMUL] = &recur_def_matmul,
    /* ops/softmax.c */
    [RECUR_OP_SOFTMAX] = &recur_def_softmax,
    [RECUR_OP_LOG_SOFTMAX] = &recur_def_log_softmax,
    [RECUR_OP_SOFTMAX_GRAD] = &recur_def_softmax_grad,
    [RECUR_OP_LOG_SOFTMAX_GRAD] = &recur_def_log_softmax_grad,
    /* ops/layout.c */
    [RECUR_OP_RESHAPE] = &recur_def_reshape,
    [RECUR_OP_TRANSPOSE] = &recur_def_transpose,
    /* ops/shape.c */
    [RECUR_OP_CONCAT] = &recur_def_concat,
    [RECUR_OP_SLICE] = &recur_def_slice,
    [RECUR_OP_STACK] = &recur_def_stack,
    [RECUR_OP_TAKE] = &recur_def_take,
    [RECUR_OP_PAD_AXIS] = &recur_def_pad_axis,
    /* ops/index.c */
    [RECUR_OP_GATHER] = &recur_def_gather,
    [RECUR_OP_SCATTER_ADD] = &recur_def_scatter_add,
    [RECUR_OP_ONE_HOT] = &recur_def_one_hot,
    /* ops/loss.c */
    [RECUR_OP_MSE] = &recur_def_mse,
    [RECUR_OP_SOFTMAX_XENT] = &recur_def_softmax_xent,
    [RECUR_OP_SOFTMAX_XENT_GRAD] = &recur_def_softmax_xent_grad,
    /* ops/dropout.c */
    [RECUR_OP_DROPOUT] = &recur_def_dropout,
    /* ops/loop_ops.c */
    [RECUR_OP_LOOP] = &recur_def_loop,
    [RECUR_OP_LOOP_STEP] = &recur_def_loop_step,
    [RECUR_OP_LOOP_STATE] = &recur_def_loop_state,
    [RECUR_OP_LOOP_OUTPUT] = &recur_def_loop_output,
    [RECUR_OP_ALIAS] = &recur_def_alias,
};

static const recur_op_def unknown_def = {.name = "unknown", .min_in = 0, .max_in = -1};

const recur_op_def *recur_op(int op)
{
    if (op < 0 || op >= RECUR_OP_COUNT || !table[op]) return &unknown_def;
    return table[op];
}

recur_status recur_shape_same_as_first(recur_graph *g, recur_node *n)
{
    (void)g;
    n->shape = recur_in_shape(g, n, 0);
    return RECUR_OK;
}

recur_status recur_shape_all_equal(recur_graph *g, recur_node *n)
{
    recur_shape s = recur_in_shape(g, n, 0);
    for (int i = 1; i < n->n_in; i++)
        if (!recur_shape_equal(s, recur_in_shape(g, n, i)))
            return recur_shape_fail(g, n, "operands must have the same shape");
    n->shape = s;
    return RECUR_OK;
}

recur_status recur_kernel_fail(const recur_kernel_args *a, const char *fmt, ...)
{
    if (a->err && a->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a->err, a->errlen, fmt, ap);
        va_end(ap);
    }
    return RECUR_ERR_RUNTIME;
}

recur_value recur_unary(recur_graph *g, int op, recur_value x, const recur_attr *attr)
{
    return recur_node_add(g, op, 1, &x, attr);
}

recur_value recur_binary(recur_graph *g, int op, recur_value a, recur_value b)
{
    recur_value in[2] = {a, b};
    return recur_node_add(g, op, 2, in, NULL);
}

void recur_strides(recur_shape s, int64_t st[RECUR_MAX_DIMS])
{
    int64_t acc = 1;
    for (int i = RECUR_MAX_DIMS - 1; i >= 0; i--) {
        if (i < s.ndim) {
            st[i] = acc;
            acc *= s.d[i];
        } else {
            st[i] = 0;
        }
    }
}
