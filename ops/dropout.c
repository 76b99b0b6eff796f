/*
 * ops/dropout.c — inverted dropout (attr.f[0] = p, attr.seed = seed).
 *
 * Element i is kept when u_i >= p, where u_i in [0, 1) is a hash of
 * (seed, the plan's run counter, i): no generator state, so the forward
 * and backward kernels of one run draw the same mask and every run draws
 * a new one. Kept elements are scaled by 1/(1-p) so the expected value is
 * unchanged; a plan compiled for inference copies x.
 */
#include <string.h>

#include "ops/op.h"

/* u_i = the top 53 bits of hash(key + i) as a double in [0, 1), key = hash(hash(seed) ^ run) */
static inline double mask_uniform(uint64_t key, int64_t i)
{
    return (double)(recur_hash64(key + (uint64_t)i) >> 11) * 0x1.0p-53;
}

/* y_i = x_i / (1 - p) if u_i >= p else 0; y = x in inference or when p = 0 */
static recur_status dropout_forward(const recur_kernel_args *k)
{
    int64_t n = recur_shape_numel(k->node->shape);
    double p = k->node->attr.f[0];
    if (k->inference || p == 0) {
        memcpy(k->y, k->x[0], sizeof(float) * (size_t)n);
        return RECUR_OK;
    }
    uint64_t key = recur_hash64(recur_hash64(k->node->attr.seed) ^ k->run);
    float scale = (float)(1.0 / (1.0 - p));
    for (int64_t i = 0; i < n; i++) k->y[i] = mask_uniform(key, i) >= p ? k->x[0][i] * scale : 0.0f;
    return RECUR_OK;
}

/* d dropout = dropout(dy) with the same p and seed: the same mask in the same run */
static recur_status dropout_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    const recur_attr *a = &g->nodes[y.id].attr;
    dx[0] = recur_dropout(g, dy, a->f[0], a->seed);
    return recur_built(g, dx[0]);
}

static void dropout_attrs(const recur_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "p=%g seed=%llu", (double)n->attr.f[0], (unsigned long long)n->attr.seed);
}

recur_value recur_dropout(recur_graph *g, recur_value x, float p, uint64_t seed)
{
    if (!recur_operand(g, x, "dropout")) return RECUR_NONE;
    if (!(p >= 0 && p < 1)) {
        recur_set_error(g, RECUR_ERR_ARG, "op dropout: p = %g for \"%s\" is not a probability in [0, 1)", (double)p,
                        recur_node_name(g, x.id));
        return RECUR_NONE;
    }
    recur_attr attr = {.f = {p}, .seed = seed};
    return recur_unary(g, RECUR_OP_DROPOUT, x, &attr);
}

RECUR_OP_DEF(dropout, .min_in = 1, .max_in = 1,
                                        .shape = recur_shape_same_as_first, .forward = dropout_forward,
                                        .grad = dropout_grad, .attrs = dropout_attrs);
