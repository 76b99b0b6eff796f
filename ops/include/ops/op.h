/*
 * ops/include/ops/op.h — the op table: for each op its name, arity, shape rule,
 * reference kernel and gradient rule, kept together in one entry (private
 * to the library).
 *
 * An op's file (ops/<family>.c) defines its builder(s) from recur/ops.h and
 * its `recur_op_def`; ops/common.c collects the definitions by op id.
 */
#ifndef RECUR_OPS_OP_H
#define RECUR_OPS_OP_H

#include <stddef.h>

#include "graph/ir.h"
#include "recur/ops.h"

/* What a kernel gets: its node, its output buffer and its inputs' buffers. */
typedef struct recur_kernel_args {
    const recur_node *node;
    float *y;                 /* output, numel(node->shape) floats */
    const float *const *x;    /* x[i]: input i */
    const recur_shape *xs;    /* xs[i]: shape of input i */
    int n_in;
    float *work;              /* the op's workspace (workspace() bytes), or NULL */
    void *state;              /* per-node state a backend prepared, or NULL */
    uint64_t run;             /* the plan's run counter (dropout masks) */
    uint64_t execution;       /* differs between any two executions of the plan, failed ones included:
                               * what a backend caches per execution (packed weights) is keyed on it */
    void *plan_state;         /* at prepare time: the backend's per-plan state (plan_open), or NULL */
    int inference;            /* 1 in plans compiled for inference */
    const recur_node *inner;  /* NULL, or a matmul computed inside this kernel, whose bias add `node` is:
                               * x[0], x[1] are the matmul's operands, x[2] the bias row (backends/matmul_bias.c) */
    char *err;                /* on failure the kernel writes its reason here */
    size_t errlen;
} recur_kernel_args;

/* A kernel: computes a->y. Returns RECUR_OK, or an error with a->err filled. */
typedef recur_status (*recur_kernel_fn)(const recur_kernel_args *a);

/*
 * A gradient rule: given node `y` (whose inputs are node->in) and the
 * gradient dy of the loss with respect to y, builds graph nodes for the
 * gradient of each input and writes them to dx[i]. dx[] arrives filled with
 * RECUR_NONE; leaving an entry RECUR_NONE means "no contribution" (a zero
 * gradient, as for integer-valued inputs or stop_gradient). Returns
 * RECUR_ERR_NOGRAD (with a message) for an input whose gradient the op does
 * not know, or the error of a builder that failed. `needs[i]` tells whether
 * the caller wants input i's gradient at all (skip work if not).
 */
typedef recur_status (*recur_grad_fn)(recur_graph *g, recur_value y, recur_value dy,
                                      const int *needs, recur_value *dx);

typedef struct recur_op_def {
    const char *name;
    int min_in, max_in;  /* accepted number of inputs; max_in < 0: no limit */
    /* Computes n->shape from the inputs' shapes and n->attr; on failure
     * records the error (recur_shape_fail) and returns it. NULL: the shape
     * is n->attr.target. */
    recur_status (*shape)(recur_graph *g, recur_node *n);
    recur_kernel_fn forward;   /* NULL for leaves the executor feeds itself */
    recur_grad_fn grad;        /* NULL: the op has no gradient rule */
    /* Workspace bytes the kernel needs (NULL: none). */
    size_t (*workspace)(const recur_graph *g, const recur_node *n);
    /* Why a node of this op cannot be compiled or differentiated, for error
     * messages (NULL: the generic message). */
    const char *hint;
    /* Writes the node's attributes as "k=v k=v" for dumps (NULL: none). */
    void (*attrs)(const recur_node *n, char *buf, size_t len);
} recur_op_def;

/* The definition of op id `op` (never NULL for ids below RECUR_OP_COUNT). */
const recur_op_def *recur_op(int op);

/* Definitions, one per op family file. */
extern const recur_op_def recur_def_input, recur_def_param, recur_def_const, recur_def_fill;
extern const recur_op_def recur_def_add, recur_def_sub, recur_def_mul, recur_def_div;
extern const recur_op_def recur_def_neg, recur_def_scale, recur_def_tanh, recur_def_sigmoid;
extern const recur_op_def recur_def_relu, recur_def_leaky_relu, recur_def_exp, recur_def_log;
extern const recur_op_def recur_def_sqrt, recur_def_square, recur_def_one_minus;
extern const recur_op_def recur_def_stop_gradient, recur_def_dropout;
extern const recur_op_def recur_def_matmul;

/* The reference kernel of a matmul with its bias add (k->inner: the matmul; x[2]: a row of the output's last dimension). */
recur_status recur_matmul_bias_forward(const recur_kernel_args *k);
extern const recur_op_def recur_def_broadcast_to, recur_def_sum_to;
extern const recur_op_def recur_def_softmax, recur_def_log_softmax;
extern const recur_op_def recur_def_concat, recur_def_slice, recur_def_reshape, recur_def_transpose;
extern const recur_op_def recur_def_stack, recur_def_take, recur_def_gather, recur_def_one_hot;
extern const recur_op_def recur_def_mse, recur_def_softmax_xent;
extern const recur_op_def recur_def_tanh_grad, recur_def_sigmoid_grad, recur_def_relu_grad;
extern const recur_op_def recur_def_leaky_relu_grad, recur_def_softmax_grad;
extern const recur_op_def recur_def_log_softmax_grad, recur_def_softmax_xent_grad;
extern const recur_op_def recur_def_scatter_add, recur_def_pad_axis;
extern const recur_op_def recur_def_loop, recur_def_loop_step, recur_def_loop_state, recur_def_loop_output;
extern const recur_op_def recur_def_alias;

/* Shared helpers for op files. */

/* Shape rule of ops whose output has the shape of input 0. */
recur_status recur_shape_same_as_first(recur_graph *g, recur_node *n);

/* Shape rule of ops whose inputs must all have one shape, which the output takes. */
recur_status recur_shape_all_equal(recur_graph *g, recur_node *n);

/* Writes a kernel error message (printf-style) and returns RECUR_ERR_RUNTIME. */
recur_status recur_kernel_fail(const recur_kernel_args *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Builds a node of a one-input op with attributes (NULL for none). */
recur_value recur_unary(recur_graph *g, int op, recur_value x, const recur_attr *attr);

/* Builds a node of a two-input op without attributes. */
recur_value recur_binary(recur_graph *g, int op, recur_value a, recur_value b);

/* For gradient rules: RECUR_OK if a builder produced v, else the graph's recorded error. */
static inline recur_status recur_built(const recur_graph *g, recur_value v)
{
    return recur_ok(v) ? RECUR_OK : (g->error.code != RECUR_OK ? g->error.code : RECUR_ERR_STATE);
}

/* Row-major strides of a shape (in elements). */
void recur_strides(recur_shape s, int64_t st[RECUR_MAX_DIMS]);

#endif
