/*
 * passes/hoist.c — the hoisting pass: the part of a loop body that uses no
 * state is computed once for all time steps.
 *
 * A body node whose operands are step values, outer (loop-invariant) values
 * or other such nodes is a function of x_t alone, so applying the same op to
 * the whole sequence computes it for every t at once, when the op list says
 * the op may take a new leading axis (RECUR_OPP_HOIST) and its rows rule
 * confirms that the result's rows follow the stacked operands' rows alone.
 * With X = [x_0; ...; x_{T-1}] stacked along a new leading axis:
 *   matmul(x_t, W)      -> matmul(X, W)        (rows form: one [T*B, K] product)
 *   x_t (+,-,*,/) c     -> X (+,-,*,/) c       (c broadcasts as it did to x_t)
 *   f(x_t) pointwise    -> f(X)
 *   gather(E, ids_t)    -> gather(E, IDS)
 * and the unrolled step t reads select_step(result, t). Its gradient, one
 * large op instead of T small ones, comes from the same ops' rules.
 *
 * In chunks (with RECUR_PASS_LANES): when every sequence of the loop is
 * another loop's stacked output (a second layer reading the first), one
 * op over all T steps could start only once the other loop has finished
 * every step. It is computed instead over chunks of K steps,
 *   X_c = stack(x_{cK}, ..., x_{cK+K-1}),  Y_c = f(X_c),  result = concat(Y_0, Y_1, ...)
 * with x_t the other loop's value at step t itself, so chunk c's product
 * waits for those K steps alone, and the plan's lanes (plan/lanes.c) run it
 * and this loop's steps over it beside the other loop's later steps: the
 * two layers as a wavefront, K steps apart. The concatenation's parts are
 * computed in place (plan/memory.c), so step t still reads a view; so are
 * the stacks X_c (the other loop writes x_t there), and the gradient's
 * joins of the chunks (for the weight gradients) lie over them: nothing is
 * copied. One thread runs the plan in the same time as hoisting whole.
 */
#include <stdlib.h>

#include <string.h>

#include "graph/ir.h"
#include "ops/op.h"
#include "passes/passes.h"
#include "recur/passes.h"

/*
 * The stacked operands of body node n (the hoisted [T, ...] value for a
 * body operand, the operand itself for an outer one) if its op may be
 * hoisted (RECUR_OPP_HOIST in the op list) and every body operand is
 * hoisted already; else 0.
 */
static int stackable(const recur_graph *g, const int32_t *hoisted, const recur_loop_rec *L, const recur_node *n,
                     recur_value *in)
{
    if (!recur_op_has(n->op, RECUR_OPP_HOIST)) return 0;
    int li = n->loop, any = 0;
    for (int k = 0; k < n->n_in; k++) {
        const recur_node *src = &g->nodes[n->in[k]];
        if (src->loop == li) {
            int32_t h = hoisted[n->in[k] - L->first];
            if (h < 0) return 0; /* depends on a state, or on something not hoisted */
            in[k] = (recur_value){h};
            any = 1;
        } else {
            in[k] = (recur_value){n->in[k]};
        }
    }
    return any;
}

/*
 * 1 if hoisted node h (n over stacked operands) computes n for every step:
 * its rows follow exactly the stacked operands' rows, and every outer
 * operand is read whole as it was at each step (a weight, a bias that
 * broadcasts from the last axis), by the op's rows rule (recur_op_rows).
 */
static int same_per_step(const recur_graph *g, const recur_node *n, const recur_node *h)
{
    if (recur_op_rows(g, h, -1) != 1) return 0;
    for (int k = 0; k < n->n_in; k++)
        if (recur_op_rows(g, h, k) != (g->nodes[n->in[k]].loop == n->loop)) return 0;
    return 1;
}

/*
 * Hoists body node id over the stacked operands in hoisted[] (the loop's
 * sequences, or one chunk of them): the new node, or -1 when it may not be
 * hoisted (the graph and its error as they were).
 */
static int32_t hoist_node(recur_graph *g, int li, int32_t id, const int32_t *hoisted)
{
    const recur_loop_rec *L = &g->loops[li];
    const recur_node *n = &g->nodes[id];
    recur_value in[8];
    if (n->loop != li + 1 || n->n_in == 0 || n->n_in > 8 || !stackable(g, hoisted, L, n, in)) return -1;
    recur_attr attr = n->attr;
    recur_status before = g->error.code;
    char msg[sizeof g->error.msg];
    memcpy(msg, g->error.msg, sizeof msg);
    recur_value v = recur_node_add(g, n->op, n->n_in, in, &attr);
    if (!recur_ok(v)) { /* a shape the op refuses with a time axis: keep it per step */
        g->error.code = before;
        memcpy(g->error.msg, msg, sizeof msg);
        return -1;
    }
    if (!same_per_step(g, &g->nodes[id], &g->nodes[v.id])) { /* it would mean something else: keep it per step */
        recur_graph_truncate(g, v.id);
        return -1;
    }
    return v.id;
}

/* Marks node v as hoisted body node id of loop li, for every step at once. */
static void mark_hoisted(recur_graph *g, int li, int32_t id, int32_t v)
{
    recur_node *h = &g->nodes[v];
    h->unrolled = li + 1;
    h->step = -1; /* every step at once */
    h->origin = id;
    g->loops[li].hoisted[id - g->loops[li].first] = v;
}

/* The stack node behind sequence seq if it is another loop's stacked output (an alias of stack(v_0..v_{T-1})), else -1. */
static int32_t stacked_by_loop(const recur_graph *g, int32_t seq, int64_t T)
{
    const recur_node *n = &g->nodes[seq];
    if (n->op != RECUR_OP_ALIAS) return -1;
    int32_t id = seq;
    while (g->nodes[id].op == RECUR_OP_ALIAS && g->nodes[id].n_in == 1) id = g->nodes[id].in[0];
    n = &g->nodes[id];
    return n->op == RECUR_OP_STACK && n->attr.i[0] == 0 && n->n_in == T ? id : -1;
}

/*
 * Steps per chunk: about 256 rows of products at least (B rows a step:
 * fewer rows run a product at a poor rate) and 8 chunks at most, the
 * chunks of equal size but the last; T when not chunked (fewer than two).
 */
static int64_t chunk_steps(const recur_graph *g, const recur_loop_rec *L)
{
    if (!recur_pass_on(g, RECUR_PASS_LANES) || L->n_seq == 0 || L->lengths >= 0) return L->T;
    for (int k = 0; k < L->n_seq; k++)
        if (stacked_by_loop(g, L->seq[k], L->T) < 0) return L->T;
    const recur_shape s = g->nodes[L->seq[0]].shape;
    int64_t rows = s.ndim >= 2 ? s.d[1] : 1, k = (256 + rows - 1) / rows, fewest = (L->T + 7) / 8;
    if (k < fewest) k = fewest;
    int64_t chunks = (L->T + k / 2) / k; /* as many chunks as k fits best, then equal ones */
    if (chunks < 2) return L->T;
    return (L->T + chunks - 1) / chunks;
}

/* Hoisting over chunks of K steps (see the top of this file). */
static recur_status hoist_in_chunks(recur_graph *g, int li, int64_t K)
{
    recur_loop_rec *L = &g->loops[li];
    int64_t T = L->T, nb = L->last - L->first, C = (T + K - 1) / K;
    int32_t *chunk = malloc(sizeof *chunk * (size_t)(C * nb));
    recur_value *parts = malloc(sizeof *parts * (size_t)(K > C ? K : C)); /* a chunk's steps, or a node's chunks */
    if (!chunk || !parts) {
        free(chunk), free(parts);
        return recur_set_error(g, RECUR_ERR_NOMEM, "unroll: out of memory for loop \"%s\"", L->name);
    }
    recur_status st = RECUR_OK;
    for (int64_t c = 0; c < C && st == RECUR_OK; c++) {
        int32_t *h = chunk + c * nb;
        int64_t t0 = c * K, n_t = T - t0 < K ? T - t0 : K;
        for (int64_t i = 0; i < nb; i++) h[i] = -1;
        for (int k = 0; k < g->loops[li].n_seq && st == RECUR_OK; k++) { /* X_c: the other loop's steps t0 .. t0 + n_t */
            L = &g->loops[li];
            int32_t stack = stacked_by_loop(g, L->seq[k], T);
            for (int64_t t = 0; t < n_t; t++) parts[t] = (recur_value){g->nodes[stack].in[t0 + t]};
            recur_value x = recur_stack(g, (int)n_t, parts, 0);
            if (!recur_ok(x)) st = g->error.code;
            else h[g->loops[li].step[k] - g->loops[li].first] = x.id;
        }
        for (int32_t id = g->loops[li].first; id < g->loops[li].last && st == RECUR_OK; id++) {
            if (g->nodes[id].op == RECUR_OP_LOOP_STEP) continue;
            int32_t v = hoist_node(g, li, id, h);
            if (v >= 0) h[id - g->loops[li].first] = v;
        }
        g->work += (uint64_t)nb;
    }
    /* Each node hoisted in every chunk: its chunks' results, one after another along time. */
    for (int32_t i = 0; i < nb && st == RECUR_OK; i++) {
        L = &g->loops[li];
        int32_t id = L->first + i;
        if (g->nodes[id].op == RECUR_OP_LOOP_STEP) continue;
        int all = 1;
        for (int64_t c = 0; c < C; c++) all &= chunk[c * nb + i] >= 0;
        if (!all) continue;
        for (int64_t c = 0; c < C; c++) parts[c] = (recur_value){chunk[c * nb + i]};
        recur_value joined = recur_concat(g, (int)C, parts, 0);
        if (!recur_ok(joined)) st = g->error.code;
        else mark_hoisted(g, li, id, joined.id);
    }
    free(chunk), free(parts);
    return st;
}

recur_status recur_pass_hoist(recur_graph *g, int li)
{
    recur_loop_rec *L = &g->loops[li];
    g->work += (uint64_t)(L->last - L->first);
    int64_t K = chunk_steps(g, L);
    if (K < L->T) return hoist_in_chunks(g, li, K);
    for (int32_t id = L->first; id < L->last; id++) {
        int32_t v = hoist_node(g, li, id, g->loops[li].hoisted);
        if (v >= 0) mark_hoisted(g, li, id, v);
    }
    return RECUR_OK;
}
