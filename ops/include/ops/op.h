/*
 * ops/include/ops/op.h — the op table: for each op its name, arity, shape
 * rule, reference kernel, elementwise loop and gradient rule, kept together
 * in one definition, and the properties the op list gives it (internal to
 * the library).
 *
 * An op's file (ops/<family>.c) defines its builder(s) from recur/ops.h and
 * its definition (RECUR_OP_DEF); the list (ops/op_list.h) names it and
 * gives its properties; ops/common.c collects both by op id.
 */
#ifndef RECUR_OPS_OP_H
#define RECUR_OPS_OP_H

#include <stddef.h>

#include "graph/ir.h"
#include "ops/op_list.h"
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
                               * x[0], x[1] are the matmul's operands, x[2] the bias row (plan/matmul_bias.c) */
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

/*
 * An elementwise loop: y_i = f(a_i, b_i) for i < n, with s the node's
 * attr.f[0] (b is unused by one-input ops, which may pass a). Written with
 * RECUR_POINTWISE_LOOP (ops/pointwise.h); the op's own kernel and fused
 * kernels both run it, so fusion changes no result.
 */
typedef void (*recur_pointwise_fn)(float s, const float *a, const float *b, float *y, int64_t n);

typedef struct recur_op_def {
    const char *name;    /* set by RECUR_OP_DEF from the op's identifier */
    int min_in, max_in;  /* accepted number of inputs; max_in < 0: no limit */
    /* Computes n->shape from the inputs' shapes and n->attr; on failure
     * records the error (recur_shape_fail) and returns it. NULL: the shape
     * is n->attr.target. */
    recur_status (*shape)(recur_graph *g, recur_node *n);
    recur_kernel_fn forward;   /* NULL for leaves the executor feeds itself */
    recur_grad_fn grad;        /* NULL: the op has no gradient rule */
    /* An elementwise op: its loop and its number of inputs (of the output's
     * shape, or broadcasting like add's); NULL and 0 for any other op. */
    recur_pointwise_fn pointwise;
    int arity;
    /* A node whose output is input 0's data read in place (a view): the
     * byte offset into input 0 where it starts, or -1 when this node is no
     * such view. NULL: never a view. */
    int64_t (*view_offset)(const recur_graph *g, const recur_node *n);
    /* Workspace bytes the kernel needs (NULL: none). */
    size_t (*workspace)(const recur_graph *g, const recur_node *n);
    /* Why a node of this op cannot be compiled or differentiated, for error
     * messages (NULL: the generic message). */
    const char *hint;
    /* Writes the node's attributes as "k=v k=v" for dumps (NULL: none). */
    void (*attrs)(const recur_node *n, char *buf, size_t len);
} recur_op_def;

/* Defines op `ident`'s table entry, recur_def_<ident>, named "<ident>": RECUR_OP_DEF(tanh, .min_in = 1, ...). */
#define RECUR_OP_DEF(ident, ...) const recur_op_def recur_def_##ident = {.name = #ident, __VA_ARGS__}

/* The definition of op id `op` (never NULL for ids below RECUR_OP_COUNT). */
const recur_op_def *recur_op(int op);

/* Every op's definition, written in its family's file. */
#define RECUR_OP_EXTERN(ID, name, flags, rows, mask, cost, glyph) extern const recur_op_def recur_def_##name;
RECUR_OP_LIST(RECUR_OP_EXTERN)
#undef RECUR_OP_EXTERN

/* The reference kernel of a matmul with its bias add (k->inner: the matmul; x[2]: a row of the output's last dimension). */
recur_status recur_matmul_bias_forward(const recur_kernel_args *k);

/*
 * 1 if matmul node `product`, its inputs of shapes xs, is one row by a
 * matrix stored by rows (a [.., 1, K] . W^T, W [N, K]), which
 * recur_gemv_forward computes (ops/gemv.c).
 */
int recur_gemv_suits(const recur_node *product, const recur_shape *xs);

/*
 * y = W a, or W a + bias as a matmul+bias step (k->inner: the matmul;
 * x[2]: the bias row), for a product recur_gemv_suits accepts: W streamed
 * once, its rows cut over the pool; the same bits on any number of threads.
 */
recur_status recur_gemv_forward(const recur_kernel_args *k);

/*
 * Copies W [N, K] (stored by rows) into `packed` (N * K floats) in the
 * layout recur_gemv_packed_forward reads: four rows' columns interleaved
 * by eights, so each thread streams one run (ops/gemv.c). Rows are cut
 * over the pool.
 */
void recur_gemv_pack(const float *W, int64_t N, int64_t K, float *packed);

/*
 * recur_gemv_forward reading W (x[1]'s shape) from `packed`, a copy
 * recur_gemv_pack made: the same bits.
 */
recur_status recur_gemv_packed_forward(const recur_kernel_args *k, const float *packed);

/*
 * The gather kernel, of the table's columns (attr.i[0] = 1) reading
 * `rows`, a copy of the table [D, V] transposed to [V, D] (one-hot
 * generation from weights kept transposed: each index one contiguous
 * row); rows NULL: the op's own kernel (ops/index.c).
 */
recur_status recur_gather_forward_from(const recur_kernel_args *a, const float *rows);

/* The table [D, V] of a gather of columns as the rows [V, D] recur_gather_forward_from reads. */
void recur_gather_table_rows(const float *table, int64_t D, int64_t V, float *rows);

/* ------------------------------------------------- the list's properties */

/* The flags of the op list (ops/op_list.h says what each means). */
enum {
    RECUR_OPP_LEAF = 1u << 0,
    RECUR_OPP_HOIST = 1u << 1,
    RECUR_OPP_RECOMPUTE = 1u << 2,
    RECUR_OPP_SELECT = 1u << 3,
    RECUR_OPP_AFFINE = 1u << 4
};

/*
 * How the rows (axis 0) of an op's result follow its operands' rows. For
 * every rule but NONE the result has at least 2 dimensions; an operand
 * whose rows the result's follow is row-aligned, any other is read whole
 * by every row (a weight, a table, a bias that broadcasts).
 *   NONE     rows mix (reductions over axis 0, transposes, stacks)
 *   RANK     row-wise; an operand is aligned when it has the result's rank
 *            (lower ranks broadcast from the last axis)
 *   AXIS     RANK, when the op's axis (attr.i[0]) is not 0
 *   NOTRANS  RANK, for a result of 3 or more dimensions and attr.i[0] == 0
 *            (a matmul's rows form: a batch of rows times a matrix)
 *   MASK     row-wise; the operands in the list's rows_mask are aligned
 */
enum { RECUR_ROWS_NONE, RECUR_ROWS_RANK, RECUR_ROWS_AXIS, RECUR_ROWS_NOTRANS, RECUR_ROWS_MASK };

/* One op's line of the list. */
typedef struct recur_op_props {
    unsigned flags;    /* RECUR_OPP_* */
    int rows;          /* RECUR_ROWS_* */
    unsigned rows_mask;
    int cost;          /* a fused kernel's work per element, in floats moved */
    const char *glyph; /* a diagram's symbol for the op, or NULL */
} recur_op_props;

/* The list's line for op `op`. */
const recur_op_props *recur_op_props_of(int op);

/* 1 if op has the flag (RECUR_OPP_*). */
int recur_op_has(int op, unsigned flag);

/*
 * The rows of node n: with k < 0, 1 if n's result rows follow its
 * operands' rows at all (its rule and its attributes allow it), else 0;
 * with k >= 0, 1 if operand k is row-aligned, 0 if it is read whole, -1 if
 * n is not row-wise at all.
 */
int recur_op_rows(const recur_graph *g, const recur_node *n, int k);

/* The number of inputs of an elementwise op (recur_op_def.arity), 0 for any other op. */
int recur_pointwise_arity(int op);

/* Shared helpers for op files. */

/* A view_offset for ops whose output is always its input read whole (reshape, alias, stop_gradient): 0. */
int64_t recur_view_whole(const recur_graph *g, const recur_node *n);

/* Shape rule of ops whose output has the shape of input 0. */
recur_status recur_shape_same_as_first(recur_graph *g, recur_node *n);

/* Shape rule of ops whose inputs must all have one shape, which the output takes. */
recur_status recur_shape_all_equal(recur_graph *g, recur_node *n);

/* The most elements a value may hold, as for leaves (graph/graph.c) and checkpoint tensors. */
#define RECUR_MAX_NUMEL ((int64_t)1 << 40)

/*
 * For shape rules: sets n->shape = s when s is a shape a value may have
 * (rank 0..RECUR_MAX_DIMS, dimensions >= 1, at most RECUR_MAX_NUMEL
 * elements, counted without overflow). Otherwise records a RECUR_ERR_SHAPE
 * naming the node, `what` ("the result", "the requested shape"), s, the
 * reason and the operands, and returns it. Every rule whose result can hold
 * more elements than an operand ends with it.
 */
recur_status recur_shape_set(recur_graph *g, recur_node *n, const char *what, recur_shape s);

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
