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
 */
#include <stdlib.h>

#include <string.h>

#include "graph/ir.h"
#include "ops/op.h"
#include "passes/passes.h"

/*
 * The stacked operands of body node n (the hoisted [T, ...] value for a
 * body operand, the operand itself for an outer one) if its op may be
 * hoisted (RECUR_OPP_HOIST in the op list) and every body operand is
 * hoisted already; else 0.
 */
static int stackable(const recur_graph *g, const recur_loop_rec *L, const recur_node *n, recur_value *in)
{
    if (!recur_op_has(n->op, RECUR_OPP_HOIST)) return 0;
    int li = n->loop, any = 0;
    for (int k = 0; k < n->n_in; k++) {
        const recur_node *src = &g->nodes[n->in[k]];
        if (src->loop == li) {
            int32_t h = L->hoisted[n->in[k] - L->first];
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

recur_status recur_pass_hoist(recur_graph *g, int li)
{
    recur_loop_rec *L = &g->loops[li];
    g->work += (uint64_t)(L->last - L->first);
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
        if (!same_per_step(g, &g->nodes[id], &g->nodes[v.id])) { /* it would mean something else: keep it per step */
            recur_graph_truncate(g, v.id);
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
