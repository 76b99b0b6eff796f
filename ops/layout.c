/*
 * ops/layout.c — ops that move data without arithmetic on it: reshape
 * (same elements, new shape) and transpose (permuted dimensions).
 */
#include <string.h>

#include "ops/op.h"

/* ---------------------------------------------------------------- reshape */

static recur_status reshape_shape(recur_graph *g, recur_node *n)
{
    recur_shape t = n->attr.target;
    recur_status st = recur_shape_set(g, n, "the requested shape", t);
    if (st != RECUR_OK) return st;
    char shp[64];
    if (recur_shape_numel(t) != recur_shape_numel(recur_in_shape(g, n, 0)))
        return recur_shape_fail(g, n, "cannot reshape to %s (element counts differ)", recur_shape_str(t, shp, sizeof shp));
    return RECUR_OK;
}

static recur_status copy_forward(const recur_kernel_args *a)
{
    memcpy(a->y, a->x[0], sizeof(float) * (size_t)recur_shape_numel(a->node->shape));
    return RECUR_OK;
}

/* d reshape(x) = reshape(dy, shape(x)) */
static recur_status reshape_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    dx[0] = recur_reshape(g, dy, g->nodes[g->nodes[y.id].in[0]].shape);
    return recur_built(g, dx[0]);
}

static void reshape_attrs(const recur_node *n, char *buf, size_t len)
{
    char t[64];
    snprintf(buf, len, "to=%s", recur_shape_str(n->attr.target, t, sizeof t));
}

recur_value recur_reshape(recur_graph *g, recur_value x, recur_shape shape)
{
    recur_node *n = recur_operand(g, x, "reshape");
    if (!n) return RECUR_NONE;
    if (recur_shape_equal(n->shape, shape)) return x;
    recur_attr attr = {.target = shape};
    return recur_unary(g, RECUR_OP_RESHAPE, x, &attr);
}

RECUR_OP_DEF(reshape, .min_in = 1, .max_in = 1, .shape = reshape_shape,
             .forward = copy_forward, .grad = reshape_grad, .attrs = reshape_attrs, .view_offset = recur_view_whole);

/* -------------------------------------------------------------- transpose */

/* attr.i[0..ndim-1] = perm: output dimension k is input dimension perm[k]. */
static recur_status transpose_shape(recur_graph *g, recur_node *n)
{
    recur_shape x = recur_in_shape(g, n, 0);
    int seen[RECUR_MAX_DIMS] = {0};
    for (int k = 0; k < x.ndim; k++) {
        int64_t p = n->attr.i[k];
        if (p < 0 || p >= x.ndim || seen[p]++)
            return recur_shape_fail(g, n, "perm is not a permutation of 0..%d", x.ndim - 1);
        n->shape.d[k] = x.d[p];
    }
    n->shape.ndim = x.ndim;
    return RECUR_OK;
}

/* y[i_0..i_{n-1}] = x[j] with j_{perm[k]} = i_k */
static recur_status transpose_forward(const recur_kernel_args *a)
{
    recur_shape xs = a->xs[0], ys = a->node->shape;
    int nd = xs.ndim;
    int64_t xst[RECUR_MAX_DIMS], st[RECUR_MAX_DIMS] = {0}, d[RECUR_MAX_DIMS] = {1, 1, 1, 1};
    recur_strides(xs, xst);
    /* Walk y in order over 4 padded dimensions; st[k] is x's stride along y's dimension k. */
    int off = RECUR_MAX_DIMS - nd;
    for (int k = 0; k < nd; k++) {
        d[off + k] = ys.d[k];
        st[off + k] = xst[a->node->attr.i[k]];
    }
    const float *x = a->x[0];
    float *y = a->y;
    for (int64_t i0 = 0; i0 < d[0]; i0++)
        for (int64_t i1 = 0; i1 < d[1]; i1++)
            for (int64_t i2 = 0; i2 < d[2]; i2++)
                for (int64_t i3 = 0; i3 < d[3]; i3++)
                    *y++ = x[i0 * st[0] + i1 * st[1] + i2 * st[2] + i3 * st[3]];
    return RECUR_OK;
}

/* d transpose(x, p) = transpose(dy, p^-1) */
static recur_status transpose_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    const recur_node *n = &g->nodes[y.id];
    int inv[RECUR_MAX_DIMS];
    for (int k = 0; k < n->shape.ndim; k++) inv[n->attr.i[k]] = k;
    dx[0] = recur_transpose(g, dy, inv);
    return recur_built(g, dx[0]);
}

static void transpose_attrs(const recur_node *n, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "perm=");
    for (int k = 0; k < n->shape.ndim && used < len; k++)
        used += (size_t)snprintf(buf + used, len - used, k ? ",%d" : "%d", (int)n->attr.i[k]);
}

recur_value recur_transpose(recur_graph *g, recur_value x, const int *perm)
{
    recur_node *n = recur_operand(g, x, "transpose");
    if (!n) return RECUR_NONE;
    if (!perm) {
        recur_set_error(g, RECUR_ERR_ARG, "op transpose: NULL permutation for \"%s\"", recur_node_name(g, x.id));
        return RECUR_NONE;
    }
    recur_attr attr = {0};
    for (int k = 0; k < n->shape.ndim; k++) attr.i[k] = perm[k];
    return recur_unary(g, RECUR_OP_TRANSPOSE, x, &attr);
}

recur_value recur_transpose2(recur_graph *g, recur_value x)
{
    recur_node *n = recur_operand(g, x, "transpose");
    if (!n) return RECUR_NONE;
    int nd = n->shape.ndim, perm[RECUR_MAX_DIMS] = {0, 1, 2, 3};
    if (nd < 2) {
        char shp[64];
        recur_set_error(g, RECUR_ERR_SHAPE, "op transpose: \"%s\" %s has fewer than 2 dimensions",
                        recur_node_name(g, x.id), recur_shape_str(n->shape, shp, sizeof shp));
        return RECUR_NONE;
    }
    perm[nd - 2] = nd - 1;
    perm[nd - 1] = nd - 2;
    return recur_transpose(g, x, perm);
}

RECUR_OP_DEF(transpose, .min_in = 1, .max_in = 1, .shape = transpose_shape,
                                          .forward = transpose_forward, .grad = transpose_grad,
                                          .attrs = transpose_attrs);
