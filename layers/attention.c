/*
 * layers/attention.c — attention over a memory of encoder states,
 * written with primitive ops (so it differentiates, fuses and draws like
 * everything else).
 *
 * For memory m [S, B, H], query q [B, Hq]:
 *   dot:       score[s, b] = sum_h m[s, b, h] q[b, h]
 *   additive:  score[s, b] = v . tanh(K[s, b] + q[b] Wq^T),  K = m Wk^T (precomputed)
 *   masked:    score += (mask - 1) * 1e9       (padding positions vanish)
 *   w[b, s]   = softmax_s score[s, b]
 *   ctx[b, h] = sum_s w[b, s] m[s, b, h]
 */
#include <stdio.h>

#include "layer_param.h"
#include "recur/seq2seq.h"

recur_status recur_attention_new(recur_graph *g, const char *name, recur_attn_kind kind, recur_value memory,
                                 recur_value mask, int64_t query_size, int64_t attn_size, recur_attention *out)
{
    if (!g) return RECUR_ERR_ARG;
    if (!out) return recur_set_error(g, RECUR_ERR_ARG, "attention: a result struct is required");
    if (recur_value_check(g, memory, "attention") != RECUR_OK) return recur_errcode(g);
    recur_shape m_shape = recur_value_shape(g, memory);
    char shp[64];
    if (m_shape.ndim != 3)
        return recur_set_error(g, RECUR_ERR_SHAPE, "attention \"%s\": memory \"%s\" %s must be [S, B, H]",
                               name ? name : "", recur_value_name(g, memory),
                               recur_shape_str(m_shape, shp, sizeof shp));
    int64_t S = m_shape.d[0], B = m_shape.d[1], H = m_shape.d[2];
    if (recur_ok(mask)) {
        if (recur_value_check(g, mask, "attention") != RECUR_OK) return recur_errcode(g);
        recur_shape mk_shape = recur_value_shape(g, mask);
        if (!recur_shape_equal(mk_shape, recur_shape2(S, B)))
            return recur_set_error(g, RECUR_ERR_SHAPE, "attention \"%s\": mask \"%s\" %s must be [S, B] = [%lld, %lld]",
                                   name ? name : "", recur_value_name(g, mask),
                                   recur_shape_str(mk_shape, shp, sizeof shp), (long long)S, (long long)B);
    }
    out->kind = kind;
    out->memory = memory;
    out->mask = mask;
    out->keys = out->Wq = out->v = RECUR_NONE;
    if (kind == RECUR_ATTN_DOT) {
        if (query_size != H)
            return recur_set_error(g, RECUR_ERR_SHAPE,
                                   "attention \"%s\": dot scores need queries of the memory's size %lld, not %lld",
                                   name ? name : "", (long long)H, (long long)query_size);
        return RECUR_OK;
    }
    if (kind != RECUR_ATTN_ADDITIVE)
        return recur_set_error(g, RECUR_ERR_ARG, "attention \"%s\": unknown kind %d", name ? name : "", (int)kind);
    if (attn_size < 1) attn_size = H;
    char n1[160], n2[160], n3[160];
    snprintf(n1, sizeof n1, "%s.Wk", name ? name : "attention");
    snprintf(n2, sizeof n2, "%s.Wq", name ? name : "attention");
    snprintf(n3, sizeof n3, "%s.v", name ? name : "attention");
    recur_value Wk = recur_layer_param(g, n1, recur_shape2(attn_size, H), recur_init_xavier());
    out->Wq = recur_layer_param(g, n2, recur_shape2(attn_size, query_size), recur_init_xavier());
    out->v = recur_layer_param(g, n3, recur_shape2(1, attn_size), recur_init_xavier());
    out->keys = recur_matmul(g, memory, Wk, 0, 1); /* [S, B, A], once for all decoder steps */
    return recur_ok(out->keys) && recur_ok(out->v) ? RECUR_OK : recur_errcode(g);
}

recur_status recur_attend(recur_graph *g, const recur_attention *a, recur_value q, recur_value *context,
                          recur_value *weights)
{
    if (!g) return RECUR_ERR_ARG;
    if (!a || !context) return recur_set_error(g, RECUR_ERR_ARG, "attend: attention and context are required");
    recur_shape ms = recur_value_shape(g, a->memory);
    int64_t S = ms.d[0], B = ms.d[1];
    recur_value scores; /* [S, B] */
    if (a->kind == RECUR_ATTN_DOT) {
        scores = recur_sum_axis(g, recur_mul(g, a->memory, q), 2, 0);
    } else {
        recur_value e = recur_tanh(g, recur_add(g, a->keys, recur_matmul(g, q, a->Wq, 0, 1)));
        scores = recur_reshape(g, recur_matmul(g, e, a->v, 0, 1), recur_shape2(S, B));
    }
    if (recur_ok(a->mask)) scores = recur_add(g, scores, recur_scale(g, recur_sub(g, a->mask, recur_scalar(g, 1)), 1e9f));
    recur_value w = recur_softmax(g, recur_transpose2(g, scores)); /* [B, S] */
    recur_value w_sb1 = recur_reshape(g, recur_transpose2(g, w), recur_shape3(S, B, 1));
    *context = recur_sum_axis(g, recur_mul(g, a->memory, w_sb1), 0, 0);
    if (weights) *weights = w;
    return recur_ok(*context) ? RECUR_OK : recur_errcode(g);
}
