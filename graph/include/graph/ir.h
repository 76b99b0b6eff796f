/*
 * graph/include/graph/ir.h — the graph's internal representation, shared by the graph
 * core, the op table, autodiff and the backends (private to the library).
 */
#ifndef RECUR_GRAPH_NODE_H
#define RECUR_GRAPH_NODE_H

#include <stdarg.h>

#include "recur/graph.h"
#include "recur/loop.h"
#include "graph/error.h"
#include "ops/op_list.h"
#include "graph/random.h"

/* Every op recur knows: the op list (ops/op_list.h) makes the ids, RECUR_OP_<NAME>. */

/*
 * Attributes of a node. Each op documents which fields it uses (in its ops/ file);
 * the rest stay zero.
 */
typedef struct recur_attr {
    float f[2];          /* scale factor, slope, dropout p, fill value */
    int64_t i[6];        /* axis, start, length, transposes, permutation, depth */
    uint64_t seed;       /* dropout */
    recur_shape target;  /* the requested shape of reshape, broadcast_to, sum_to, fill, leaves */
} recur_attr;

/* Inputs kept inline up to this count; more (concat, stack) go to the heap. */
#define RECUR_INLINE_INPUTS 4

typedef struct recur_node {
    int op;                  /* recur_op_id (ops/op_list.h) */
    int n_in;
    int32_t *in;             /* input ids; points to in_inline or to the heap */
    int32_t in_inline[RECUR_INLINE_INPUTS];
    recur_shape shape;       /* the output's shape */
    recur_attr attr;
    char *name;              /* NULL until named (or an automatic name is asked for) */
    float *data;             /* storage of a parameter or constant, else NULL */
    int removed;             /* 1 once pruned */
    int loop;                /* 1 + index of the loop whose body holds this node; 0: outer graph */
    int unrolled;            /* 1 + index of the loop this node is an unrolled copy from; 0: none */
    int64_t step;            /* for unrolled copies: the time step */
    int32_t origin;          /* for unrolled copies: the body node copied */
    int32_t grad_of;         /* for gradient nodes: 1 + the forward node whose gradient rule or adjoint sum made it
                              * (its time step is that node's: see recur_grad_step); 0: not a gradient node */
    int planned;             /* 1 once a compiled plan reads or computes the node: no pass rewrites it in place */
} recur_node;

/* A loop's record (graph/loop.c). Ids are node ids. */
typedef struct recur_loop_rec {
    char *name;
    int reverse;
    int open;               /* the body is being built */
    int unrolled;
    int64_t T;
    int32_t node;           /* the loop node, -1 until ended */
    int32_t first, last;    /* body nodes have ids in [first, last) and loop == 1 + index */
    int n_seq, n_state;
    int32_t *seq, *step;    /* sequence inputs and their step placeholders */
    int32_t *init, *state, *next; /* initial values, state placeholders, next values (-1: not closed) */
    int32_t *copies;        /* after unrolling: copies[t * (last - first) + (id - first)] */
    int32_t *hoisted;       /* after unrolling with RECUR_PASS_HOIST: the [T, ...] value computing body
                             * node id for every step at once, hoisted[id - first], or -1 */
    int32_t lengths;        /* per-sequence lengths [B] (recur_loop_lengths), an outer value, or -1 */
    int32_t mask_seq;       /* with lengths: the mask of the real steps [T, B, 1] (an outer value), else -1 */
    int32_t mask;           /* with lengths: its step [B, 1], a sequence input of the body, else -1 */
    int held;               /* with lengths: the states' next values hold past each sequence's end (loop_end) */
} recur_loop_rec;

struct recur_graph {
    recur_node *nodes;
    int n, cap;
    recur_loop_rec *loops;
    int n_loops;
    int open_loop;          /* 1 + index of the open loop, 0 if none */
    unsigned passes;        /* RECUR_PASS_* mask (recur/passes.h) */
    recur_rng rng;
    recur_error error;      /* the most recent failure (graph/error.h) */
    char passes_env_error[256]; /* why RECUR_PASSES could not be read ("" if it could): recur_passes_check */
    uint64_t work;          /* basic steps the passes and the compiler have taken on this graph: a deterministic
                             * measure that their cost stays linear in T (tests/test_scaling.c) */
    uint64_t param_writes;  /* changes each time parameters or constants may have been written (recur_param_data,
                             * recur_param_set, optimizer steps): plans that keep packed copies of them between
                             * runs (recur_compile_opts.keep_packed_params) repack when it has changed */
};

/* Records that the data of parameters or constants may be about to change (see param_writes). */
static inline void recur_graph_params_written(recur_graph *g) { g->param_writes++; }

/* The node of a valid, live value, or NULL. */
static inline recur_node *recur_node_of(const recur_graph *g, recur_value v)
{
    if (!g || v.id < 0 || v.id >= g->n || g->nodes[v.id].removed) return NULL;
    return &g->nodes[v.id];
}

/*
 * Checks that v is a usable operand of a new node of op `opname`: on an
 * invalid value keeps an earlier error (or records one), on a removed or
 * foreign id records one. Returns the node, or NULL after recording.
 */
recur_node *recur_operand(recur_graph *g, recur_value v, const char *opname);

/*
 * Appends a node of op `op` with the given inputs and attributes, after
 * running the op's shape rule. On failure nothing is added and RECUR_NONE
 * is returned with the error recorded. `attr` may be NULL.
 */
recur_value recur_node_add(recur_graph *g, int op, int n_in, const recur_value *in,
                           const recur_attr *attr);

/*
 * For shape rules: records a RECUR_ERR_SHAPE naming the op, the node about
 * to be made and every operand with its name and shape, after `what`.
 */
recur_status recur_shape_fail(recur_graph *g, const recur_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The shape of input i of node n. */
static inline recur_shape recur_in_shape(const recur_graph *g, const recur_node *n, int i)
{
    return g->nodes[n->in[i]].shape;
}

/* A node's name, making the automatic "op#id" name on first use. */
const char *recur_node_name(const recur_graph *g, int32_t id);

/* Normalises a possibly negative axis for a rank; -1 if out of range. */
int recur_axis(int axis, int ndim);

/*
 * Writes to `order` (room for g->n ids) the nodes needed for `outs`, each
 * after its inputs (depth-first post-order). A node with leaves[id] != 0
 * (leaves may be NULL) is included but its inputs are not followed.
 * Returns the count, or -1 with an error recorded as coming from `who`.
 */
int recur_topo(recur_graph *g, int n_out, const recur_value *outs, const char *leaves, int32_t *order,
               const char *who);

/*
 * Loop membership of a node about to be added (graph/loop.c): a node using
 * a body value of the open loop joins that body; using a body value of any
 * other loop is an error recorded on g.
 */
recur_status recur_loop_tag(recur_graph *g, recur_node *n);

/*
 * Makes loop-output node `out` of an unrolled loop an alias of its unrolled
 * value: a final state is the last step's copy of the state's next value, a
 * stacked output the stack of the copies over t (or the hoisted [T, ...]
 * value). graph/loop.c; the unroll pass calls it for every output, and
 * recur_loop_stacked/final for outputs made after unrolling.
 */
recur_status recur_loop_output_unrolled(recur_graph *g, recur_value out);

/* The copy of node id made for time t of unrolled loop L (an outer value maps to itself). */
static inline int32_t recur_loop_copy_at(const recur_graph *g, const recur_loop_rec *L, int32_t id, int64_t t)
{
    if (g->nodes[id].loop == 0) return id;
    return L->copies[t * (L->last - L->first) + (id - L->first)];
}

/* The time index of processing step s of loop L (a reverse loop walks from T - 1 down). */
static inline int64_t recur_loop_time_of(const recur_loop_rec *L, int64_t s) { return L->reverse ? L->T - 1 - s : s; }

/*
 * Drops loop l, which must be the graph's newest loop, and every node from
 * id n0 on: undoes a layer whose construction failed halfway.
 */
void recur_loop_discard(recur_graph *g, recur_loop l, int n0);

/* Frees the graph's loop records. */
void recur_loops_free(recur_graph *g);

/*
 * 1 if graph pass `pass` (RECUR_PASS_*, recur/passes.h) is on for g: the
 * one reader of the switches, for the pass pipeline (passes/pipeline.c)
 * and the compiler's plan passes.
 */
int recur_pass_on(const recur_graph *g, unsigned pass);

/*
 * RECUR_OK unless the RECUR_PASSES environment variable named something that
 * is no pass when g was made (and the program did not choose the passes with
 * recur_set_passes since): then records that error on g, naming `who` (the
 * call that runs passes: unroll, grad, compile), and returns it.
 */
recur_status recur_passes_check(recur_graph *g, const char *who);

/*
 * Where gradient node id belongs in time, from its autodiff stamp: *li =
 * 1 + the loop and *t the step of the forward node it differentiates when
 * that is an unrolled copy; *li = 0, *t = -1 for the gradient of an outer
 * value (a weight, a value computed for every step at once: it gathers
 * over the steps). Returns 1 for a gradient node, 0 (nothing written)
 * otherwise.
 */
static inline int recur_grad_step(const recur_graph *g, int32_t id, int *li, int64_t *t)
{
    const recur_node *n = &g->nodes[id];
    if (!n->grad_of) return 0;
    const recur_node *f = &g->nodes[n->grad_of - 1];
    int copy = f->unrolled && f->step >= 0;
    *li = copy ? f->unrolled : 0;
    *t = copy ? f->step : -1;
    return 1;
}

/* Removes every node with id >= n (used to undo a failed multi-node build). */
void recur_graph_truncate(recur_graph *g, int n);

#endif
