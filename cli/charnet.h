/*
 * cli/charnet.h — the recur tool's character-level language
 * model: ids → one-hot (or an embedding) → a recurrent layer (LSTM by
 * default) → a dense layer to the vocabulary's logits, and its description
 * in a checkpoint's metadata so that `recur generate` can rebuild it.
 *
 * Parameters (PyTorch's names): "emb.weight" [V, E] (only with an
 * embedding), "<cell>.weight_ih_l<k>", "<cell>.weight_hh_l<k>",
 * "<cell>.bias_ih_l<k>", "<cell>.bias_hh_l<k>" with <cell> = lstm, gru or
 * rnn, "out.weight" [V, H], "out.bias" [V].
 *
 * Metadata keys:
 *   model.kind        "char-rnn"
 *   model.cell        "lstm", "gru" or "rnn_tanh"
 *   model.vocab       the symbols, in id order (increasing code points), as UTF-8
 *   model.vocab_size  int, the number of symbols
 *   model.hidden      int
 *   model.layers      int
 *   model.embed       int (0: one-hot inputs)
 *   model.lines       int 1: trained on lines (recur train --lines), each a sequence that starts
 *                     after a newline and ends with one; absent: on windows of a text
 */
#ifndef RECUR_CLI_CHARNET_H
#define RECUR_CLI_CHARNET_H

#include "recur.h"
#include "recur/checkpoint.h"
#include "recur/data.h"

/* The model's sizes. */
typedef struct cli_model {
    recur_cell_kind cell;
    int64_t vocab;  /* V, the number of symbols */
    int64_t hidden; /* H */
    int64_t layers;
    int64_t embed;  /* E; 0: the cell reads one-hot vectors of V */
    double dropout; /* training only: the probability of dropping a unit between layers and before the output */
    uint64_t seed;  /* the dropout masks' seed */
    int lines;      /* 1: a model of lines (model.lines) */
} cli_model;

/* One instance of the model over T steps of B sequences. */
typedef struct cli_net {
    recur_value ids;    /* input [T, B]: symbol ids */
    recur_value logits; /* [T, B, V] */
    recur_value h0, c0; /* inputs [layers, B, H] of a carrying instance (c0: LSTM only), else RECUR_NONE */
    recur_value h_n, c_n;
    int64_t T, B;
} cli_net;

/* The model kind's layer name and parameter prefix ("lstm", "gru", "rnn"). */
const char *cli_cell_layer(recur_cell_kind cell);

/* Parses "lstm", "gru" or "rnn" (an Elman RNN with tanh); -1 if it is none of them. */
int cli_cell_parse(const char *name, recur_cell_kind *cell);

/*
 * Builds an instance of the model in g with inputs "<prefix>ids" and, when
 * `carry` is set, "<prefix>h0" and "<prefix>c0" for the initial states
 * (otherwise the states start at zero). Instances share their parameters
 * by name. With m->dropout > 0, units are dropped (inverted dropout) between
 * stacked layers and from the top layer's outputs before the dense layer,
 * as char-rnn does; a plan compiled with inference = 1 drops nothing.
 * RECUR_OK, or the graph's error.
 */
recur_status cli_net_build(recur_graph *g, const cli_model *m, const char *prefix, int64_t T, int64_t B, int carry,
                           cli_net *out);

/* The model over given inputs ids [T, B] and initial states h0, c0 (RECUR_NONE: zeros); RECUR_OK or the graph's error. */
recur_status cli_net_over(recur_graph *g, const cli_model *m, recur_value ids, recur_value h0, recur_value c0,
                          cli_net *out);

/* cli_net_over with lengths [B] (RECUR_NONE: none): each sequence stops at its own (recur_rnn_opts.lengths). */
recur_status cli_net_over_lengths(recur_graph *g, const cli_model *m, recur_value ids, recur_value lengths,
                                  recur_value h0, recur_value c0, cli_net *out);

/*
 * An instance of the model that carries its states, through
 * recur_model_instance (recur/model.h): inputs "<prefix>ids" [T, B],
 * "<prefix>h0" and for an LSTM "<prefix>c0" [layers, B, H], sharing every
 * parameter with the instances built before it, and unrolled. RECUR_OK, or
 * the graph's error (the graph then as it was).
 */
recur_status cli_net_instance(recur_graph *g, const cli_model *m, const char *prefix, int64_t T, int64_t B,
                              cli_net *out);

/*
 * The vocabulary of corpus c as one UTF-8 string of its symbols in id
 * order, malloc'd (free it). NULL with a reason in `why` (len bytes) when
 * the text holds a NUL character (metadata strings cannot) or memory runs
 * out.
 */
char *cli_vocab_string(const recur_corpus *c, char *why, size_t len);

/* Writes the model's metadata (see the top of this file) into ck. */
recur_status cli_model_save_meta(const cli_model *m, const char *vocab, recur_ckpt *ck);

/*
 * Reads and checks the model's metadata from ck: *m (without dropout), and *vocab as a
 * corpus over the vocabulary string, whose ids are the model's (free it).
 * RECUR_ERR_FORMAT with a reason in `why` naming the key when one is
 * missing, of the wrong type, out of range, or the vocabulary disagrees
 * with model.vocab_size, or naming the tensor when the sizes are not those
 * of the checkpoint's tensors (out.weight, the last layer's weight_hh,
 * emb.weight).
 */
recur_status cli_model_load_meta(recur_ckpt *ck, cli_model *m, recur_corpus **vocab, char *why, size_t len);

#endif
