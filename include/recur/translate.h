/*
 * recur/translate.h — translating with a trained encoder-decoder model
 * (recur/seq2seq.h): the encoder runs once over the source, the decoder one
 * step at a time from the [START] token until it emits [END]; greedy and
 * beam-search decoding.
 */
#ifndef RECUR_TRANSLATE_H
#define RECUR_TRANSLATE_H

#include "exec.h"
#include "seq2seq.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A decoder for translating one sentence of up to max_src tokens at a time. */
typedef struct recur_translator recur_translator;

/**
 * Builds (in g, sharing m's parameters) an encoder over one padded source of
 * max_src tokens and a decoder that runs one step per call, and compiles
 * them. Call after recur_seq2seq_new; it unrolls g's loops. It may be
 * called again for the same model (another max_src): each translator's
 * inputs are named "<model>.translate", "<model>.translate2", ...
 */
RECUR_API recur_translator *recur_translator_new(recur_graph *g, recur_seq2seq *m, int64_t max_src);

/** Frees a translator. */
RECUR_API void recur_translator_free(recur_translator *t);

/** Message of the translator's most recent failure. */
RECUR_API const char *recur_translator_errmsg(const recur_translator *t);

/**
 * Translates src (n ids) greedily: from [START], feed the most likely token
 * (never [START] or [PAD]) back until [END] or max_len tokens. Writes the ids (without [START] and
 * [END]) to out and their count to *out_len. attn, if not NULL, receives
 * the attention weights, max_len x max_src floats (row per output token).
 */
RECUR_API recur_status recur_translate_greedy(recur_translator *t, const int64_t *src, int64_t n, int64_t *out,
                                    int64_t max_len, int64_t *out_len, float *attn);

/**
 * Beam search with `beam` hypotheses, scoring by total log-probability
 * divided by length^alpha (alpha = 0: no length normalisation).
 */
RECUR_API recur_status recur_translate_beam(recur_translator *t, const int64_t *src, int64_t n, int beam, float alpha,
                                  int64_t *out, int64_t max_len, int64_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
