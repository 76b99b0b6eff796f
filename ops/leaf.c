/*
 * ops/leaf.c — leaves: inputs, parameters, constants and fills. Their
 * shape is the requested one (attr.target); inputs, parameters and
 * constants have no kernel (the executor points at their storage).
 */
#include "ops/op.h"

/* fill: y_i = attr.f[0] */
static recur_status fill_forward(const recur_kernel_args *a)
{
    int64_t n = recur_shape_numel(a->node->shape);
    for (int64_t i = 0; i < n; i++) a->y[i] = a->node->attr.f[0];
    return RECUR_OK;
}

static void fill_attrs(const recur_node *n, char *buf, size_t len) { snprintf(buf, len, "value=%g", (double)n->attr.f[0]); }

RECUR_OP_DEF(input, .min_in = 0, .max_in = 0);
RECUR_OP_DEF(param, .min_in = 0, .max_in = 0);
RECUR_OP_DEF(const, .min_in = 0, .max_in = 0);
RECUR_OP_DEF(fill, .min_in = 0, .max_in = 0, .forward = fill_forward, .attrs = fill_attrs);
