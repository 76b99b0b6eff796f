/*
 * frontends/dense.c — dense and embedding layers.
 */
#include <stdio.h>
#include <string.h>

#include "frontends/frontend.h"
#include "graph/node.h"

recur_value recur_layer_param(recur_graph *g, const char *name, recur_shape shape, recur_init init)
{
    for (int i = 0; i < g->n; i++) {
        const recur_node *n = &g->nodes[i];
        if (n->removed || !n->name || strcmp(n->name, name) != 0) continue;
        char a[64], b[64];
        if (n->op == RECUR_OP_PARAM && recur_shape_equal(n->shape, shape)) return (recur_value){i};
        recur_set_error(g, RECUR_ERR_SHAPE, "layer parameter \"%s\" %s exists already as a %s of shape %s", name,
                        recur_shape_str(shape, a, sizeof a), n->op == RECUR_OP_PARAM ? "parameter" : "non-parameter",
                        recur_shape_str(n->shape, b, sizeof b));
        return RECUR_NONE;
    }
    return recur_param(g, name, shape, init);
}

recur_value recur_dense(recur_graph *g, const char *name, recur_value x, int64_t out, int bias)
{
    recur_node *n = recur_operand(g, x, "dense");
    if (!n) return RECUR_NONE;
    if (n->shape.ndim < 1 || out < 1) {
        char shp[64];
        recur_set_error(g, RECUR_ERR_SHAPE, "dense \"%s\": input \"%s\" %s needs a feature dimension and out >= 1 (got %lld)",
                        name ? name : "", recur_node_name(g, x.id), recur_shape_str(n->shape, shp, sizeof shp),
                        (long long)out);
        return RECUR_NONE;
    }
    int64_t in = n->shape.d[n->shape.ndim - 1];
    char wname[256], bname[256];
    snprintf(wname, sizeof wname, "%s.weight", name ? name : "dense");
    snprintf(bname, sizeof bname, "%s.bias", name ? name : "dense");
    recur_value W = recur_layer_param(g, wname, recur_shape2(out, in), recur_init_xavier());
    /* y = x W^T (+ b) */
    recur_value y = recur_matmul(g, x, W, 0, 1);
    if (bias) y = recur_bias_add(g, y, recur_layer_param(g, bname, recur_shape1(out), recur_init_zeros()));
    return y;
}

recur_value recur_embedding(recur_graph *g, const char *name, recur_value ids, int64_t vocab, int64_t dim)
{
    if (!recur_operand(g, ids, "embedding")) return RECUR_NONE;
    char wname[256];
    snprintf(wname, sizeof wname, "%s.weight", name ? name : "embedding");
    recur_value E = recur_layer_param(g, wname, recur_shape2(vocab, dim), recur_init_normal(0, 1));
    return recur_gather(g, E, ids);
}

recur_value recur_last_step(recur_graph *g, recur_value seq)
{
    recur_node *n = recur_operand(g, seq, "last_step");
    if (!n) return RECUR_NONE;
    if (n->shape.ndim < 1) {
        recur_set_error(g, RECUR_ERR_SHAPE, "last_step: \"%s\" is a scalar, not a sequence", recur_node_name(g, seq.id));
        return RECUR_NONE;
    }
    return recur_select_step(g, seq, n->shape.d[0] - 1);
}
