/*
 * plan/matmul_bias.c — a product and the bias added to it as one
 * kernel, a pass over a compiled plan.
 *
 * y = add(matmul(a, b), bias) (either order), with bias a row of y's last
 * dimension ([N], [1, N], ...) and the product read by nothing else: the
 * add's step computes y from a, b and bias (its inner node is the matmul),
 * and the matmul's step runs nothing and gets no buffer. oneDNN adds the
 * bias while it writes the product; other backends run the reference
 * recur_matmul_bias_forward. The hoisted input projection x W^T + b of a
 * recurrent layer is one such step, and so is a GRU's h U^T + b per step.
 */
#include <stdlib.h>

#include "plan_impl.h"

/* 1 if shape r is a row of y's last dimension: [N], [1, N], [1, 1, N] ... */
static int is_row(recur_shape r, recur_shape y)
{
    if (r.ndim < 1 || y.ndim < 1 || r.d[r.ndim - 1] != y.d[y.ndim - 1]) return 0;
    return recur_shape_numel(r) == r.d[r.ndim - 1];
}

void recur_fuse_matmul_bias(recur_plan *p)
{
    recur_graph *g = p->g;
    int *readers = calloc((size_t)p->n_vals + 1, sizeof(int)), *step_of = malloc(sizeof(int) * ((size_t)p->n_vals + 1));
    if (!readers || !step_of) goto out; /* an optimisation: the steps stay as they are */
    for (int i = 0; i < p->n_vals; i++) step_of[i] = -1;
    for (int s = 0; s < p->n_steps; s++) {
        step_of[p->steps[s].id] = s;
        for (int k = 0; !p->steps[s].dead && k < p->steps[s].n_in; k++) readers[p->steps[s].in[k]]++;
    }
    for (int s = 0; s < p->n_steps; s++) {
        plan_step *step = &p->steps[s];
        const recur_node *n = &g->nodes[step->id];
        if (step->dead || !step->fn || n->op != RECUR_OP_ADD || step->n_in != 2) continue;
        for (int k = 0; k < 2; k++) {
            int32_t prod = step->in[k], bias = step->in[1 - k];
            int q = step_of[prod];
            if (q < 0 || p->steps[q].dead || !p->steps[q].fn || g->nodes[prod].op != RECUR_OP_MATMUL ||
                p->steps[q].n_in != 2 || readers[prod] != 1 || (p->role[prod] & ROLE_OUTPUT) ||
                !recur_shape_equal(g->nodes[prod].shape, n->shape) || !is_row(g->nodes[bias].shape, n->shape))
                continue;
            plan_step *mm = &p->steps[q];
            recur_kernel_fn fn = p->be->select_matmul_bias ? p->be->select_matmul_bias(g, &g->nodes[prod]) : NULL;
            step->fn = fn ? fn : recur_matmul_bias_forward;
            step->inner = prod;
            step->own_in[0] = mm->in[0], step->own_in[1] = mm->in[1], step->own_in[2] = bias;
            step->in = step->own_in;
            step->n_in = 3;
            if (mm->work > step->work) step->work = mm->work;
            mm->fn = NULL;
            mm->dead = 1;
            break;
        }
    }
out:
    free(readers);
    free(step_of);
}
