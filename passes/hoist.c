/*
 * passes/hoist.c — the hoisting pass: the part of a loop body that uses no
 * state is computed once for all time steps.
 *
 * A body node whose operands are step values, outer (loop-invariant) values
 * or other such nodes is a function of x_t alone, so applying the same op to
 * the whole sequence computes it for every t at once. With X = [x_0; ...;
 * x_{T-1}] stacked along a new leading axis:
 *   matmul(x_t, W)      -> matmul(X, W)        (rows form: one [T*B, K] product)
 *   x_t (+,-,*,/) c     -> X (+,-,*,/) c       (c broadcasts as it did to x_t)
 *   f(x_t) pointwise    -> f(X)
 *   gather(E, ids_t)    -> gather(E, IDS)
 * and the unrolled step t reads select_step(result, t). Its gradient, one
 * large op instead of T small ones, comes from the same ops' rules.
 */
#include <stdlib.h>

#include <string.h>

#include "graph/ir.h"
#include "ops/op.h"
#include "recur/passes.h"

/* 1 if op applies elementwise (one input). */
static int unary_pointwise(int op)
{
    switch (op) {
    case RECUR_OP_NEG: case RECUR_OP_SCALE: case RECUR_OP_TANH: case RECUR_OP_SIGMOID: case RECUR_OP_RELU:
    case RECUR_OP_LEAKY_RELU: case RECUR_OP_EXP: case RECUR_OP_LOG: case RECUR_OP_SQRT: case RECUR_OP_SQUARE:
    case RECUR_OP_ONE_MINUS:
        return 1;
    default:
        return 0;
    }
}

static int binary_pointwise(int op)
{
    return op == RECUR_OP_ADD || op == RECUR_OP_SUB || op == RECUR_OP_MUL || op == RECUR_OP_DIV;
}

/*
 * The stacked operands of body node n (stacked ids for body operands, the
 * operand itself for outer ones) if n can take a leading time axis, else 0.
 */
static int stackable(const recur_graph *g, const recur_loop_rec *L, const recur_node *n, recur_value *in)
{
    int li = n->loop, step_rank = -1;
    for (int k = 0; k < n->n_in; k++) {
        const recur_node *src = &g->nodes[n->in[k]];
        if (src->loop == li) {
            int32_t h = L->hoisted[n->in[k] - L->first];
            if (h < 0) return 0; /* depends on a state, or on something not hoisted */
            in[k] = (recur_value){h};
            if (src->shape.ndim > step_rank) step_rank = src->shape.ndim;
        } else {
            in[k] = (recur_value){n->in[k]};
        }
    }
    if (step_rank < 0 || step_rank >= RECUR_MAX_DIMS) return 0;
    if (unary_pointwise(n->op) || n->op == RECUR_OP_ONE_HOT) return 1;
    if (binary_pointwise(n->op)) {
        /* An outer operand must broadcast as before: no more dimensions than the step's. */
        for (int k = 0; k < 2; k++)
            if (g->nodes[n->in[k]].loop != li && g->nodes[n->in[k]].shape.ndim > step_rank) return 0;
        return 1;
    }
    if (n->op == RECUR_OP_MATMUL) /* x_t [B, K] times an outer 2-D weight: the rows form */
        return g->nodes[n->in[0]].loop == li && g->nodes[n->in[1]].loop != li && n->attr.i[0] == 0 &&
               g->nodes[n->in[0]].shape.ndim == 2 && g->nodes[n->in[1]].shape.ndim == 2;
    if (n->op == RECUR_OP_GATHER) /* an outer table, step ids */
        return g->nodes[n->in[0]].loop != li && g->nodes[n->in[1]].loop == li;
    if (n->op == RECUR_OP_SOFTMAX || n->op == RECUR_OP_LOG_SOFTMAX) return 1; /* along the last axis */
    return 0;
}

recur_status recur_hoist_loop(recur_graph *g, int li)
{
    recur_loop_rec *L = &g->loops[li];
    int64_t nb = L->last - L->first;
    L->hoisted = malloc(sizeof(int32_t) * (size_t)(nb + 1));
    if (!L->hoisted) return recur_set_error(g, RECUR_ERR_NOMEM, "unroll: out of memory hoisting loop \"%s\"", L->name);
    for (int64_t i = 0; i < nb; i++) L->hoisted[i] = -1;
    for (int k = 0; k < L->n_seq; k++) L->hoisted[L->step[k] - L->first] = L->seq[k];
    if (!(g->passes & RECUR_PASS_HOIST)) return RECUR_OK;

    recur_value in[8];
    for (int32_t id = L->first; id < L->last; id++) {
        L = &g->loops[li];
        const recur_node *n = &g->nodes[id];
        if (n->loop != li + 1 || n->n_in == 0 || n->n_in > 8 || !stackable(g, L, n, in)) continue;
        recur_attr attr = n->attr;
        recur_status before = g->error.code;
        char msg[sizeof g->error.msg];
        memcpy(msg, g->error.msg, sizeof msg);
        recur_value v = recur_node_add(g, n->op, n->n_in, in, &attr);
        if (!recur_ok(v)) { /* a shape the op refuses with a time axis: keep it per step */
            g->error.code = before;
            memcpy(g->error.msg, msg, sizeof msg);
            continue;
        }
        recur_node *h = &g->nodes[v.id];
        h->unrolled = li + 1;
        h->step = -1; /* every step at once */
        h->origin = id;
        g->loops[li].hoisted[id - g->loops[li].first] = v.id;
    }
    return RECUR_OK;
}
