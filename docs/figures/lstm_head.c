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

/* An LSTM followed by its dense and softmax layers at every step, predicting the next word. */
static recur_status fig_lstm_head(void)
{
    recur_graph *g = recur_graph_new(4);
    recur_value x = recur_input(g, "x", recur_shape3(4, 1, 16)); /* embedded words [T, B, E] */
    recur_rnn_opts opts = {.kind = RECUR_LSTM, .input_size = 16, .hidden = 32};
    recur_rnn rnn;
    TRY(recur_rnn_new(g, "lstm", &opts, x, RECUR_NONE, RECUR_NONE, &rnn));
    recur_value logits = recur_name(g, recur_dense(g, "dense", rnn.outputs, 1000, 1), "dense");
    recur_value p = recur_name(g, recur_softmax(g, logits), "p(next word)");
    TRY(recur_ok(p) ? RECUR_OK : recur_errcode(g));

    const char *words[] = {"it", "was", "the", "best"}, *next[] = {"was", "the", "best", "of"};
    const char *layer[] = {"LSTM"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .layer_labels = layer, .n_layer_labels = 1,
                         .input_labels = words, .n_input_labels = 4, .output_labels = next, .n_output_labels = 4};
    TRY(save(g, 1, &p, &o, "lstm_head"));
    recur_graph_free(g);
    return RECUR_OK;
}

