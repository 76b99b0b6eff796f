/*
 * layers/seq2seq.c — encoder-decoder models.
 *
 * Encoder: over embedded source tokens, with the state held on padding:
 *   s_t = m_t * cell(x_t, s_{t-1}) + (1 - m_t) * s_{t-1}
 * so its final state is the state after each sentence's last real token:
 * the context vector, which initialises the decoder.
 * Decoder (teacher forcing): over embedded [START] + target tokens, output
 *   o_t = h_t                                  without attention
 *   o_t = tanh(W_c [context_t; h_t])           with attention over the encoder's states
 * and logits_t = W_out o_t + b_out, trained with masked cross-entropy
 * against target + [END].
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer_param.h"
#include "recur/seq2seq.h"

recur_status recur_seq2seq_new(recur_graph *g, const char *name, const recur_seq2seq_opts *opts, recur_seq2seq *m)
{
    if (!g) return RECUR_ERR_ARG;
    if (!opts || !m) return recur_set_error(g, RECUR_ERR_ARG, "seq2seq: options and model are required");
    memset(m, 0, sizeof *m);
    m->opts = *opts;
    recur_seq2seq_opts *o = &m->opts;
    if (o->src_vocab < 1 || o->tgt_vocab < 1 || o->embed < 1 || o->hidden < 1)
        return recur_set_error(g, RECUR_ERR_ARG, "seq2seq: vocabularies, embed and hidden sizes must be >= 1");
    if (o->start_id < 0 || o->start_id >= o->tgt_vocab || o->end_id < 0 || o->end_id >= o->tgt_vocab)
        return recur_set_error(g, RECUR_ERR_ARG, "seq2seq: start id %lld and end id %lld must be target tokens (< %lld)",
                               (long long)o->start_id, (long long)o->end_id, (long long)o->tgt_vocab);
    snprintf(m->name, sizeof m->name, "%s", name ? name : "seq2seq");
    char buf[160];
    int64_t H = o->hidden;
    snprintf(buf, sizeof buf, "%s.src_embedding", m->name);
    m->src_emb = recur_layer_param(g, buf, recur_shape2(o->src_vocab, o->embed), recur_init_normal(0, 1));
    snprintf(buf, sizeof buf, "%s.tgt_embedding", m->name);
    m->tgt_emb = recur_layer_param(g, buf, recur_shape2(o->tgt_vocab, o->embed), recur_init_normal(0, 1));
    snprintf(buf, sizeof buf, "%s.out.weight", m->name);
    m->W_out = recur_layer_param(g, buf, recur_shape2(o->tgt_vocab, H), recur_init_xavier());
    snprintf(buf, sizeof buf, "%s.out.bias", m->name);
    m->b_out = recur_layer_param(g, buf, recur_shape1(o->tgt_vocab), recur_init_zeros());
    if (!recur_ok(m->src_emb) || !recur_ok(m->tgt_emb) || !recur_ok(m->W_out) || !recur_ok(m->b_out)) return recur_errcode(g);
    snprintf(buf, sizeof buf, "%s.encoder", m->name);
    recur_status st = recur_cell_new(g, &m->enc, o->kind, buf, NULL, o->embed, H);
    snprintf(buf, sizeof buf, "%s.decoder", m->name);
    if (st == RECUR_OK) st = recur_cell_new(g, &m->dec, o->kind, buf, NULL, o->embed, H);
    if (st != RECUR_OK || o->attention == RECUR_ATTN_NONE) return st;
    if (o->attn_size < 1) o->attn_size = H;
    snprintf(buf, sizeof buf, "%s.attention.Wc", m->name);
    m->W_c = recur_layer_param(g, buf, recur_shape2(H, 2 * H), recur_init_xavier());
    if (o->attention == RECUR_ATTN_ADDITIVE) {
        snprintf(buf, sizeof buf, "%s.attention.Wk", m->name);
        m->Wk = recur_layer_param(g, buf, recur_shape2(o->attn_size, H), recur_init_xavier());
        snprintf(buf, sizeof buf, "%s.attention.Wq", m->name);
        m->Wq = recur_layer_param(g, buf, recur_shape2(o->attn_size, H), recur_init_xavier());
        snprintf(buf, sizeof buf, "%s.attention.v", m->name);
        m->v = recur_layer_param(g, buf, recur_shape2(1, o->attn_size), recur_init_xavier());
    } else if (o->attention != RECUR_ATTN_DOT) {
        return recur_set_error(g, RECUR_ERR_ARG, "seq2seq: unknown attention kind %d", (int)o->attention);
    }
    return recur_ok(m->W_c) ? RECUR_OK : recur_errcode(g);
}

/*
 * The encoder loop over ids [S, B]: with a mask [S, B] the state is held on
 * padding in the body (s' = m s_new + (1 - m) s, the output the held state),
 * with lengths [B] the loop holds it (recur_loop_lengths; outputs past a
 * sequence's end are zero).
 */
static recur_status encode(recur_graph *g, const recur_seq2seq *m, const char *loop_name, recur_value ids,
                           recur_value mask, recur_value lengths, recur_value *memory, recur_value *final,
                           recur_loop *loop)
{
    if (recur_value_check(g, ids, "seq2seq_encode") != RECUR_OK) return recur_errcode(g);
    recur_shape s = recur_value_shape(g, ids);
    if (s.ndim != 2) {
        char a[64];
        return recur_set_error(g, RECUR_ERR_SHAPE, "seq2seq_encode: source ids \"%s\" %s must be [S, B]",
                               recur_value_name(g, ids), recur_shape_str(s, a, sizeof a));
    }
    int64_t S = s.d[0], B = s.d[1];
    recur_value emb = recur_gather(g, m->src_emb, ids);
    recur_value m3 = recur_ok(lengths) ? RECUR_NONE : recur_reshape(g, mask, recur_shape3(S, B, 1));
    recur_value zero = recur_fill(g, recur_shape2(B, m->opts.hidden), 0.0f);
    recur_loop L = recur_loop_begin(g, loop_name, 0);
    if (L.id < 0) return recur_errcode(g);
    recur_value x = recur_loop_input(g, L, emb), mt = recur_ok(lengths) ? RECUR_NONE : recur_loop_input(g, L, m3);
    recur_status st = recur_ok(lengths) ? recur_loop_lengths(g, L, lengths) : recur_ok(mt) ? RECUR_OK : recur_errcode(g);
    recur_value state[RECUR_MAX_CELL_STATES], next[RECUR_MAX_CELL_STATES], y;
    for (int k = 0; k < m->enc.n_state; k++) state[k] = recur_loop_state(g, L, k ? "c" : "h", zero);
    if (st == RECUR_OK) st = m->enc.step(g, &m->enc, x, state, next, &y);
    for (int k = 0; k < m->enc.n_state && st == RECUR_OK; k++) {
        recur_value held = next[k];
        if (!recur_ok(lengths)) /* hold the state on padding: s' = m s_new + (1 - m) s */
            held = recur_add(g, recur_mul(g, mt, next[k]), recur_mul(g, recur_one_minus(g, mt), state[k]));
        st = recur_loop_next(g, L, state[k], held);
        if (k == 0) y = held;
    }
    if (st == RECUR_OK) st = recur_loop_end(g, L);
    if (st != RECUR_OK) return st;
    *loop = L;
    *memory = recur_loop_stacked(g, L, y);
    for (int k = 0; k < m->enc.n_state; k++) final[k] = recur_loop_final(g, L, state[k]);
    return recur_ok(*memory) ? RECUR_OK : recur_errcode(g);
}

recur_status recur_seq2seq_encode(recur_graph *g, const recur_seq2seq *m, const char *loop_name, recur_value ids,
                                 recur_value mask, recur_value *memory, recur_value *final, recur_loop *loop)
{
    return encode(g, m, loop_name, ids, mask, RECUR_NONE, memory, final, loop);
}

recur_status recur_seq2seq_encode_lengths(recur_graph *g, const recur_seq2seq *m, const char *loop_name,
                                         recur_value ids, recur_value lengths, recur_value *memory, recur_value *final,
                                         recur_loop *loop)
{
    if (recur_value_check(g, lengths, "seq2seq_encode_lengths") != RECUR_OK) return recur_errcode(g);
    return encode(g, m, loop_name, ids, RECUR_NONE, lengths, memory, final, loop);
}

recur_attention recur_seq2seq_attention(recur_graph *g, const recur_seq2seq *m, recur_value memory, recur_value mask)
{
    recur_attention a = {.kind = m->opts.attention, .memory = memory, .mask = mask,
                         .keys = RECUR_NONE, .Wq = m->Wq, .v = m->v};
    if (a.kind == RECUR_ATTN_ADDITIVE) a.keys = recur_matmul(g, memory, m->Wk, 0, 1);
    return a;
}

recur_status recur_seq2seq_decode_step(recur_graph *g, const recur_seq2seq *m, const recur_attention *a, recur_value x,
                                      const recur_value *state, recur_value *next, recur_value *o, recur_value *w)
{
    recur_value h;
    recur_status st = m->dec.step(g, &m->dec, x, state, next, &h);
    if (st != RECUR_OK) return st;
    *o = h;
    *w = RECUR_NONE;
    if (m->opts.attention == RECUR_ATTN_NONE) return RECUR_OK;
    recur_value ctx;
    if ((st = recur_attend(g, a, h, &ctx, w)) != RECUR_OK) return st;
    *o = recur_tanh(g, recur_matmul(g, recur_concat(g, 2, (recur_value[]){ctx, h}, 1), m->W_c, 0, 1));
    return recur_ok(*o) ? RECUR_OK : recur_errcode(g);
}

recur_status recur_seq2seq_train_graph(recur_graph *g, recur_seq2seq *m, int64_t S, int64_t T, int64_t B)
{
    if (!g) return RECUR_ERR_ARG;
    if (!m || S < 1 || T < 1 || B < 1)
        return recur_set_error(g, RECUR_ERR_ARG, "seq2seq_train_graph: a model and lengths >= 1 are required");
    char buf[160];
    snprintf(buf, sizeof buf, "%s.src", m->name);
    m->src = recur_input(g, buf, recur_shape2(S, B));
    m->src_lengths = RECUR_NONE;
    if (m->opts.lengths) { /* the sources' lengths, fed; their mask (for attention) computed from them */
        snprintf(buf, sizeof buf, "%s.src_lengths", m->name);
        m->src_lengths = recur_input(g, buf, recur_shape1(B));
        m->src_mask = recur_length_mask(g, m->src_lengths, S);
        snprintf(buf, sizeof buf, "%s.src_mask", m->name);
        if (recur_ok(m->src_mask) && recur_set_name(g, m->src_mask, buf) != RECUR_OK) return recur_errcode(g);
    } else {
        snprintf(buf, sizeof buf, "%s.src_mask", m->name);
        m->src_mask = recur_input(g, buf, recur_shape2(S, B));
    }
    snprintf(buf, sizeof buf, "%s.dec_in", m->name);
    m->dec_in = recur_input(g, buf, recur_shape2(T, B));
    snprintf(buf, sizeof buf, "%s.dec_tgt", m->name);
    m->dec_tgt = recur_input(g, buf, recur_shape2(T, B));
    snprintf(buf, sizeof buf, "%s.tgt_mask", m->name);
    m->tgt_mask = recur_input(g, buf, recur_shape2(T, B));
    if (!recur_ok(m->src) || !recur_ok(m->src_mask) || !recur_ok(m->dec_in) || !recur_ok(m->dec_tgt) ||
        !recur_ok(m->tgt_mask))
        return recur_errcode(g);

    recur_value memory, final[RECUR_MAX_CELL_STATES];
    snprintf(buf, sizeof buf, "%s.encoder", m->name);
    recur_status st = encode(g, m, buf, m->src, m->src_mask, m->src_lengths, &memory, final, &m->enc_loop);
    if (st != RECUR_OK) return st;
    m->context = final[0];
    recur_attention a = recur_seq2seq_attention(g, m, memory, m->src_mask);

    snprintf(buf, sizeof buf, "%s.decoder", m->name);
    recur_loop L = recur_loop_begin(g, buf, 0);
    if (L.id < 0) return recur_errcode(g);
    recur_value x = recur_gather(g, m->tgt_emb, recur_loop_input(g, L, m->dec_in));
    recur_value state[RECUR_MAX_CELL_STATES], next[RECUR_MAX_CELL_STATES], o, w;
    for (int k = 0; k < m->dec.n_state; k++) state[k] = recur_loop_state(g, L, k ? "c" : "h", final[k]);
    st = recur_seq2seq_decode_step(g, m, &a, x, state, next, &o, &w);
    for (int k = 0; k < m->dec.n_state && st == RECUR_OK; k++) st = recur_loop_next(g, L, state[k], next[k]);
    if (st == RECUR_OK) st = recur_loop_end(g, L);
    if (st != RECUR_OK) return st;
    m->dec_loop = L;
    /* The vocabulary layer runs once over all steps: [T, B, H] x [V, H]^T. */
    recur_value outs = recur_loop_stacked(g, L, o);
    m->logits = recur_bias_add(g, recur_matmul(g, outs, m->W_out, 0, 1), m->b_out);
    m->loss = recur_softmax_xent(g, m->logits, m->dec_tgt, m->tgt_mask);
    m->attn = recur_ok(w) ? recur_loop_stacked(g, L, w) : RECUR_NONE;
    return recur_ok(m->loss) ? RECUR_OK : recur_errcode(g);
}
