/* The code that drew this figure, cut from examples/gallery.c. */
#include <stdio.h>

#include "recur.h"

/* save(g, n, outputs, &opts, "stem") draws stem.svg and stem.png (examples/gallery.c). */

/* Stops a figure at its first failure, with the graph's message. */
#define TRY(st)                                                                     \
    do {                                                                            \
        recur_status st_ = (st);                                                    \
        if (st_ != RECUR_OK) {                                                      \
            fprintf(stderr, "gallery: %s: %s\n", __func__, recur_errmsg(g));        \
            recur_graph_free(g);                                                    \
            return st_;                                                             \
        }                                                                           \
    } while (0)

/*
 * Attention (recur_seq2seq with Bahdanau's additive score): at each decoder
 * step an attention box reads the memory of the encoder's states, weighs
 * them (its output: the weights) and makes the step's output from them.
 */
static recur_status fig_attention(void)
{
    recur_graph *g = recur_graph_new(10);
    recur_seq2seq_opts opts = {.kind = RECUR_LSTM, .src_vocab = 1000, .tgt_vocab = 1000, .embed = 16, .hidden = 32,
                               .attention = RECUR_ATTN_ADDITIVE, .start_id = 1, .end_id = 2};
    recur_seq2seq m;
    TRY(recur_seq2seq_new(g, "nmt", &opts, &m));
    TRY(recur_seq2seq_train_graph(g, &m, 3, 4, 1));
    recur_value out[2] = {recur_name(g, m.logits, "y"), recur_name(g, m.attn, "weights")};
    TRY(recur_ok(out[1]) ? RECUR_OK : recur_errcode(g));

    const char *in[] = {"how", "are", "you", "[START]", "comment", "allez", "vous"};
    const char *layer[] = {"encoder", "decoder"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .layer_labels = layer, .n_layer_labels = 2,
                         .input_labels = in, .n_input_labels = 7};
    TRY(save(g, 2, out, &o, "attention"));
    recur_graph_free(g);
    return RECUR_OK;
}

