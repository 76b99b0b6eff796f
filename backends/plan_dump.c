/*
 * backends/plan_dump.c — a compiled plan's kernels as text, in the order
 * they run (recur_plan_dump).
 */
#include <stdio.h>

#include "backends/plan.h"

recur_status recur_plan_dump(const recur_plan *p, FILE *f)
{
    if (!p || !f) return RECUR_ERR_ARG;
    const recur_graph *g = p->g;
    double total = 0;
    for (int s = 0; p->step_ms && s < p->n_steps; s++) total += p->step_ms[s];
    int k = 0;
    for (int s = 0; s < p->n_steps; s++) {
        const plan_step *step = &p->steps[s];
        if (!step->fn) continue;
        const recur_node *n = &g->nodes[step->id];
        char shp[64], what[1024];
        if (step->owns_state) recur_fused_describe(step->state, g, what, sizeof what);
        else if (step->inner >= 0) snprintf(what, sizeof what, "matmul+bias");
        else snprintf(what, sizeof what, "%s", recur_op(n->op)->name);
        fprintf(f, "%5d %-24s %-14s %s <-", k++, recur_node_name(g, step->id), recur_shape_str(n->shape, shp, sizeof shp),
                step->owns_state ? "fused" : what);
        for (int i = 0; i < step->n_in; i++) fprintf(f, " %s", recur_node_name(g, step->in[i]));
        if (step->owns_state) fprintf(f, " [%s]", what);
        if (p->step_ms) fprintf(f, "  %.3f ms (%.1f%%)", p->step_ms[s], total > 0 ? 100 * p->step_ms[s] / total : 0.0);
        fputc('\n', f);
    }
    return RECUR_OK;
}
