/*
 * ops/reduce.c — sum and mean, over everything or along one axis. They are
 * built from sum_to (the inverse of broadcasting) and scale, so they share
 * its kernel and gradient rule:
 *   sum(x)          = sum_to(x, [])
 *   sum_axis(x, k)  = sum_to(x, shape with d_k = 1), reshaped without it unless keepdims
 *   mean            = sum / (number of elements summed)
 */
#include "ops/op.h"

recur_value recur_sum(recur_graph *g, recur_value x)
{
    if (!recur_operand(g, x, "sum")) return RECUR_NONE;
    return recur_sum_to(g, x, recur_shape0());
}

recur_value recur_mean(recur_graph *g, recur_value x)
{
    recur_node *n = recur_operand(g, x, "mean");
    if (!n) return RECUR_NONE;
    float inv = 1.0f / (float)recur_shape_numel(n->shape); /* (before adding nodes: the node array may move) */
    return recur_scale(g, recur_sum_to(g, x, recur_shape0()), inv);
}

/* sum along `axis` and the count it summed (0 on error). */
static recur_value sum_axis(recur_graph *g, recur_value x, int axis, int keepdims, const char *opname,
                            int64_t *count)
{
    recur_node *n = recur_operand(g, x, opname);
    if (!n) return RECUR_NONE;
    recur_shape s = n->shape;
    int ax = recur_axis(axis, s.ndim);
    if (ax < 0) {
        char shp[64];
        recur_set_error(g, RECUR_ERR_ARG, "op %s: axis %d is out of range for \"%s\" %s", opname, axis,
                        recur_node_name(g, x.id), recur_shape_str(s, shp, sizeof shp));
        return RECUR_NONE;
    }
    *count = s.d[ax];
    recur_shape kept = s;
    kept.d[ax] = 1;
    recur_value y = recur_sum_to(g, x, kept);
    if (keepdims) return y;
    recur_shape out = {s.ndim - 1, {0}};
    for (int i = 0, j = 0; i < s.ndim; i++)
        if (i != ax) out.d[j++] = s.d[i];
    return recur_reshape(g, y, out);
}

recur_value recur_sum_axis(recur_graph *g, recur_value x, int axis, int keepdims)
{
    int64_t count;
    return sum_axis(g, x, axis, keepdims, "sum_axis", &count);
}

recur_value recur_mean_axis(recur_graph *g, recur_value x, int axis, int keepdims)
{
    int64_t count = 1;
    recur_value s = sum_axis(g, x, axis, keepdims, "mean_axis", &count);
    return recur_ok(s) ? recur_scale(g, s, 1.0f / (float)count) : s;
}
