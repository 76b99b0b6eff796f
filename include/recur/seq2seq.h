/*
 * recur/seq2seq.h — attention over a memory of encoder states, and
 * encoder-decoder (seq2seq) models: an encoder loop whose final state is the
 * decoder's initial state (the context vector), teacher-forced training,
 * greedy and beam-search decoding from a [START] token to an [END] token.
 */
#ifndef RECUR_SEQ2SEQ_H
#define RECUR_SEQ2SEQ_H

#include "exec.h"
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
recur_status recur_attention_new(recur_graph *g, const char *name, recur_attn_kind kind, recur_value memory,
                                 recur_value mask, int64_t query_size, int64_t attn_size, recur_attention *out);

/**
 * Attends with query q [B, Hq] (usually inside a decoder's loop body):
 *   scores_s = score(m_s, q) (padding positions get -1e9),
 *   w = softmax over s of scores  -> weights [B, S],
 *   context = sum_s w_s m_s       -> context [B, H].
 */
recur_status recur_attend(recur_graph *g, const recur_attention *a, recur_value q, recur_value *context,
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
} recur_seq2seq_opts;

/** An encoder-decoder model: its parameters, cells and the training graph's handles. */
typedef struct recur_seq2seq {
    recur_seq2seq_opts opts;
    char name[64];
    recur_cell enc, dec;       /**< encoder and decoder cells */
    recur_value src_emb, tgt_emb, W_out, b_out; /**< embeddings [V, embed]; output layer [tgt_vocab, hidden] */
    recur_value W_c, Wk, Wq, v;  /**< attention: output combination [hidden, 2 hidden] and additive scorer */
    /* The teacher-forced training graph (recur_seq2seq_train_graph): */
    recur_value src, src_mask; /**< inputs [S, B]: source ids and 1/0 mask */
    recur_value dec_in;        /**< input [T, B]: [START] + target ids (teacher forcing) */
    recur_value dec_tgt, tgt_mask; /**< inputs [T, B]: target ids + [END], and its mask */
    recur_value logits;        /**< [T, B, tgt_vocab] */
    recur_value loss;          /**< masked mean cross-entropy over the target tokens */
    recur_value attn;          /**< [T, B, S] attention weights per decoder step, or RECUR_NONE */
    recur_value context;       /**< the encoder's final state h (the context vector), [B, hidden] */
    recur_loop enc_loop, dec_loop;
} recur_seq2seq;

/** Creates the model's parameters ("<name>.encoder.weight_ih", ...) in g. */
recur_status recur_seq2seq_new(recur_graph *g, const char *name, const recur_seq2seq_opts *opts, recur_seq2seq *m);

/**
 * Builds the teacher-forced training graph for source length S, target
 * length T (including [END]) and batch B, filling the handles in *m. The
 * encoder skips padding (its state is held where the source mask is 0), so
 * its final state is the state after each sentence's last real token.
 */
recur_status recur_seq2seq_train_graph(recur_graph *g, recur_seq2seq *m, int64_t S, int64_t T, int64_t B);

/** A decoder for translating one sentence of up to max_src tokens at a time. */
typedef struct recur_translator recur_translator;

/**
 * Builds (in g, sharing m's parameters) an encoder over one padded source of
 * max_src tokens and a decoder that runs one step per call, and compiles
 * them. Call after recur_seq2seq_new; it unrolls g's loops. It may be
 * called again for the same model (another max_src): each translator's
 * inputs are named "<model>.translate", "<model>.translate2", ...
 */
recur_translator *recur_translator_new(recur_graph *g, recur_seq2seq *m, int64_t max_src);

/** Frees a translator. */
void recur_translator_free(recur_translator *t);

/** Message of the translator's most recent failure. */
const char *recur_translator_errmsg(const recur_translator *t);

/**
 * Translates src (n ids) greedily: from [START], feed the most likely token
 * (never [START] or [PAD]) back until [END] or max_len tokens. Writes the ids (without [START] and
 * [END]) to out and their count to *out_len. attn, if not NULL, receives
 * the attention weights, max_len x max_src floats (row per output token).
 */
recur_status recur_translate_greedy(recur_translator *t, const int64_t *src, int64_t n, int64_t *out,
                                    int64_t max_len, int64_t *out_len, float *attn);

/**
 * Beam search with `beam` hypotheses, scoring by total log-probability
 * divided by length^alpha (alpha = 0: no length normalisation).
 */
recur_status recur_translate_beam(recur_translator *t, const int64_t *src, int64_t n, int beam, float alpha,
                                  int64_t *out, int64_t max_len, int64_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
