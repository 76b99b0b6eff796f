/*
 * passes/pipeline.c — the graph passes, in the order they run, and the one
 * place that reads which of them are on (recur_pass_on).
 *
 * recur_unroll:
 *   for each loop not unrolled yet:
 *     1. prepare   the loop's record of what is computed once (its sequences)
 *     2. hoist     RECUR_PASS_HOIST: the state-free part of the body, once over [T, ...]
 *     3. unroll    T copies of the rest; the loop's outputs become aliases
 *   4. matmul_fuse RECUR_PASS_MATMUL_FUSE: products sharing an operand, once every loop is unrolled
 *   5. one_hot     RECUR_PASS_ONE_HOT: products of a one-hot encoding as lookups
 * recur_grad (autodiff/grad.c):
 *   6. matmul_fuse and one_hot again, for products built after unrolling (or in a graph without loops)
 *   7. grad_batch  RECUR_PASS_GRAD_BATCH: each value's gradient terms summed with one op where they allow it
 * recur_compile (plan/executor.c):
 *   8. matmul_bias and pointwise fusion, RECUR_PASS_FUSE: passes over the plan, not the graph
 *
 * Passes add nodes; the two that rewrite nodes in place (unrolling turns a
 * loop's output nodes into aliases, matmul fusion turns products into
 * slices) never touch a node a compiled plan reads (recur_node.planned),
 * so running the pipeline never invalidates a plan compiled earlier.
 */
#include "passes/passes.h"
#include "recur/ops.h"
#include "recur/passes.h"

/* Every step's copy is an outer node now: fuse the products that share an operand, then look up one-hot products. */
static recur_status outer_passes(recur_graph *g)
{
    recur_status st = recur_pass_on(g, RECUR_PASS_MATMUL_FUSE) ? recur_pass_matmul_fuse(g) : RECUR_OK;
    if (st == RECUR_OK && recur_pass_on(g, RECUR_PASS_ONE_HOT)) st = recur_pass_one_hot(g);
    return st;
}

recur_status recur_unroll(recur_graph *g)
{
    if (!g) return RECUR_ERR_ARG;
    if (recur_passes_check(g, "unroll") != RECUR_OK) return g->error.code;
    if (g->open_loop)
        return recur_set_error(g, RECUR_ERR_STATE, "unroll: loop \"%s\" is still open (recur_loop_end)",
                               g->loops[g->open_loop - 1].name);
    for (int li = 0; li < g->n_loops; li++) {
        if (g->loops[li].unrolled) continue;
        recur_status st = recur_pass_unroll_prepare(g, li);
        if (st == RECUR_OK && recur_pass_on(g, RECUR_PASS_HOIST)) st = recur_pass_hoist(g, li);
        if (st == RECUR_OK) st = recur_pass_unroll_loop(g, li);
        if (st != RECUR_OK) return st;
    }
    return outer_passes(g);
}

recur_status recur_pipeline_before_grad(recur_graph *g)
{
    if (recur_passes_check(g, "grad") != RECUR_OK) return g->error.code;
    return outer_passes(g);
}

recur_value recur_pipeline_grad_sum(recur_graph *g, int n, const int32_t *terms)
{
    if (n == 1) return (recur_value){terms[0]};
    if (recur_pass_on(g, RECUR_PASS_GRAD_BATCH)) return recur_pass_grad_batch(g, n, terms);
    recur_value sum = {terms[0]};
    for (int i = 1; i < n && recur_ok(sum); i++) sum = recur_add(g, sum, (recur_value){terms[i]});
    return sum;
}
