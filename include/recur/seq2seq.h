/*
 * recur/seq2seq.h — attention over a memory of encoder states, and
 * encoder-decoder (seq2seq) models: an encoder loop whose final state is the
 * decoder's initial state (the context vector), teacher-forced training,
 * and the blocks decoders are built from (translating: recur/translate.h).
 */
#ifndef RECUR_SEQ2SEQ_H
#define RECUR_SEQ2SEQ_H

#include "layers.h"

#ifdef __cplusplus
extern "C" {
#endif

/* -------------------------------------------------------------- attention */

/** How attention scores a memory position s against a query q. */
typedef enum recur_attn_kind {
    RECUR_ATTN_NONE,     /**< no attention */
    RECUR_ATTN_DOT,      /**< Luong's dot score: m_s . q (query and memory sizes must agree) */
    RECUR_ATTN_ADDITIVE  /**< Bahdanau's additive score: v . tanh(W_k m_s + W_q q) */
} recur_attn_kind;

/** Attention over a memory [S, B, H] (e.g. an encoder's stacked states). */
typedef struct recur_attention {
    recur_attn_kind kind;
    recur_value memory; /**< [S, B, H] */
    recur_value keys;   /**< additive: W_k memory, [S, B, A], computed once outside any loop */
    recur_value Wq, v;  /**< additive: [A, Hq] and [1, A] */
    recur_value mask;   /**< [S, B] with 1 for real positions and 0 for padding, or RECUR_NONE */
} recur_attention;

/**
 * Prepares attention over `memory` for queries of `query_size` features;
 * additive attention creates "<name>.Wk", "<name>.Wq", "<name>.v" with
 * `attn_size` hidden units. Call it outside the loop that will attend.
 */
RECUR_API recur_status recur_attention_new(recur_graph *g, const char *name, recur_attn_kind kind, recur_value memory,
                                 recur_value mask, int64_t query_size, int64_t attn_size, recur_attention *out);

/**
 * Attends with query q [B, Hq] (usually inside a decoder's loop body):
 *   scores_s = score(m_s, q) (padding positions get -1e9),
 *   w = softmax over s of scores  -> weights [B, S],
 *   context = sum_s w_s m_s       -> context [B, H].
 */
RECUR_API recur_status recur_attend(recur_graph *g, const recur_attention *a, recur_value q, recur_value *context,
                          recur_value *weights);

/* ---------------------------------------------------------------- seq2seq */

/** Options of an encoder-decoder model; zeros select defaults. */
typedef struct recur_seq2seq_opts {
    recur_cell_kind kind;      /**< cell of encoder and decoder (default RNN tanh; LSTM and GRU usual) */
    int64_t src_vocab, tgt_vocab;
    int64_t embed, hidden;     /**< embedding and state sizes */
    recur_attn_kind attention; /**< RECUR_ATTN_NONE, _DOT or _ADDITIVE (Luong-style output: tanh(W_c [context; h])) */
    int64_t attn_size;         /**< additive attention's hidden units (default hidden) */
    int64_t start_id, end_id;  /**< the [START] and [END] token ids of the target vocabulary */
    int64_t pad_id;            /**< its [PAD] id (default 0, RECUR_PAD_ID; -1: none): decoding never emits it */
    int lengths;               /**< 1: the training graph takes the sources' lengths [B] (src_lengths) instead of a
                                    mask; the encoder runs each source for its own length (recur_loop_lengths) */
} recur_seq2seq_opts;

/** An encoder-decoder model: its parameters, cells and the training graph's handles. */
typedef struct recur_seq2seq {
    recur_seq2seq_opts opts;
    char name[64];
    recur_cell enc, dec;       /**< encoder and decoder cells */
    recur_value src_emb, tgt_emb, W_out, b_out; /**< embeddings [V, embed]; output layer [tgt_vocab, hidden] */
    recur_value W_c, Wk, Wq, v;  /**< attention: output combination [hidden, 2 hidden] and additive scorer */
    /* The teacher-forced training graph (recur_seq2seq_train_graph): */
    recur_value src, src_mask; /**< inputs [S, B]: source ids and 1/0 mask (with opts.lengths the mask is computed) */
    recur_value src_lengths;   /**< with opts.lengths: input [B], each source's length (1..S), else RECUR_NONE */
    recur_value dec_in;        /**< input [T, B]: [START] + target ids (teacher forcing) */
    recur_value dec_tgt, tgt_mask; /**< inputs [T, B]: target ids + [END], and its mask */
    recur_value logits;        /**< [T, B, tgt_vocab] */
    recur_value loss;          /**< masked mean cross-entropy over the target tokens */
    recur_value attn;          /**< [T, B, S] attention weights per decoder step, or RECUR_NONE */
    recur_value context;       /**< the encoder's final state h (the context vector), [B, hidden] */
    recur_loop enc_loop, dec_loop;
} recur_seq2seq;

/** Creates the model's parameters ("<name>.encoder.weight_ih", ...) in g. */
RECUR_API recur_status recur_seq2seq_new(recur_graph *g, const char *name, const recur_seq2seq_opts *opts, recur_seq2seq *m);

/**
 * Builds the teacher-forced training graph for source length S, target
 * length T (including [END]) and batch B, filling the handles in *m. The
 * encoder skips padding (its state is held where the source mask is 0), so
 * its final state is the state after each sentence's last real token.
 */
RECUR_API recur_status recur_seq2seq_train_graph(recur_graph *g, recur_seq2seq *m, int64_t S, int64_t T, int64_t B);

/**
 * The building blocks of the model's graphs, for decoders of one's own
 * (the translator in recur/translate.h is built from them):
 *
 * recur_seq2seq_encode: the encoder loop `loop_name` over source ids [S, B]
 * with mask [S, B] (1 real, 0 padding; the state is held on padding):
 * *memory the stacked states [S, B, hidden], final[k] each state after the
 * last step, *loop the loop.
 */
RECUR_API recur_status recur_seq2seq_encode(recur_graph *g, const recur_seq2seq *m, const char *loop_name, recur_value ids,
                                 recur_value mask, recur_value *memory, recur_value *final, recur_loop *loop);

/** recur_seq2seq_encode with the sources' lengths [B] (1..S) instead of a mask: each runs for its own length. */
RECUR_API recur_status recur_seq2seq_encode_lengths(recur_graph *g, const recur_seq2seq *m, const char *loop_name,
                                                   recur_value ids, recur_value lengths, recur_value *memory,
                                                   recur_value *final, recur_loop *loop);

/** The model's attention (its kind and parameters) over `memory` [S, B, hidden] with `mask` [S, B] or RECUR_NONE. */
RECUR_API recur_attention recur_seq2seq_attention(recur_graph *g, const recur_seq2seq *m, recur_value memory, recur_value mask);

/**
 * One decoder step inside an open loop: from the embedded input x [B, embed]
 * and the states, the next states, the output *o [B, hidden] (before the
 * vocabulary layer W_out, b_out) and the attention weights *w [B, S]
 * (RECUR_NONE without attention).
 */
RECUR_API recur_status recur_seq2seq_decode_step(recur_graph *g, const recur_seq2seq *m, const recur_attention *a, recur_value x,
                                      const recur_value *state, recur_value *next, recur_value *o, recur_value *w);

#ifdef __cplusplus
}
#endif
#endif
