/*
 * backends/reference/reference.c — the reference backend: plain,
 * obviously-correct C kernels from the op table. It is the oracle every
 * other backend is tested against.
 */
#include "plan/plan.h"

static recur_kernel_fn reference_select(const recur_graph *g, const recur_node *n)
{
    (void)g;
    return recur_op(n->op)->forward;
}

const recur_backend recur_backend_reference_impl = {.name = "reference", .select = reference_select};
