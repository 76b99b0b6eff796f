/*
 * layers/dense.c — dense and embedding layers.
 */
#include <stdio.h>
#include <string.h>

#include "layer_param.h"

recur_value recur_layer_param(recur_graph *g, const char *name, recur_shape shape, recur_init init)
{
    if (!recur_name_taken(g, name)) return recur_param(g, name, shape, init);
    recur_value v = recur_find(g, name);
    recur_shape have = recur_value_shape(g, v);
    int param = recur_is_param(g, v);
    if (param && recur_shape_equal(have, shape)) return v;
    char a[64], b[64];
    recur_set_error(g, RECUR_ERR_SHAPE, "layer parameter \"%s\" %s exists already as a %s of shape %s", name,
                    recur_shape_str(shape, a, sizeof a), param ? "parameter" : "non-parameter",
                    recur_shape_str(have, b, sizeof b));
    return RECUR_NONE;
}

recur_value recur_dense(recur_graph *g, const char *name, recur_value x, int64_t out, int bias)
{
    if (recur_value_check(g, x, "dense") != RECUR_OK) return RECUR_NONE;
    recur_shape xs = recur_value_shape(g, x);
    if (xs.ndim < 1 || out < 1) {
        char shp[64];
        recur_set_error(g, RECUR_ERR_SHAPE, "dense \"%s\": input \"%s\" %s needs a feature dimension and out >= 1 (got %lld)",
                        name ? name : "", recur_value_name(g, x), recur_shape_str(xs, shp, sizeof shp),
                        (long long)out);
        return RECUR_NONE;
    }
    int64_t in = xs.d[xs.ndim - 1];
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
    if (recur_value_check(g, ids, "embedding") != RECUR_OK) return RECUR_NONE;
    char wname[256];
    snprintf(wname, sizeof wname, "%s.weight", name ? name : "embedding");
    recur_value E = recur_layer_param(g, wname, recur_shape2(vocab, dim), recur_init_normal(0, 1));
    return recur_gather(g, E, ids);
}

recur_value recur_last_step(recur_graph *g, recur_value seq)
{
    if (recur_value_check(g, seq, "last_step") != RECUR_OK) return RECUR_NONE;
    recur_shape s = recur_value_shape(g, seq);
    if (s.ndim < 1) {
        recur_set_error(g, RECUR_ERR_SHAPE, "last_step: \"%s\" is a scalar, not a sequence", recur_value_name(g, seq));
        return RECUR_NONE;
    }
    return recur_select_step(g, seq, s.d[0] - 1);
}
