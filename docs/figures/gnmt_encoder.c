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

/* The GNMT encoder: a bidirectional first layer, then a stack of LSTMs with residual connections above it. */
static recur_status fig_gnmt_encoder(void)
{
    recur_graph *g = recur_graph_new(14);
    recur_value x = recur_input(g, "x", recur_shape3(4, 1, 8));
    recur_rnn_opts first = {.kind = RECUR_LSTM, .input_size = 8, .hidden = 8, .bidirectional = 1};
    recur_rnn bi, stack;
    TRY(recur_rnn_new(g, "enc_bi", &first, x, RECUR_NONE, RECUR_NONE, &bi));
    recur_rnn_opts rest = {.kind = RECUR_LSTM, .input_size = 16, .hidden = 16, .layers = 3, .residual = 1};
    TRY(recur_rnn_new(g, "enc", &rest, bi.outputs, RECUR_NONE, RECUR_NONE, &stack));
    recur_value y = recur_name(g, stack.outputs, "y");

    const char *layer[] = {"forward", "backward", "LSTM 2", "LSTM 3", "LSTM 4"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .layer_labels = layer, .n_layer_labels = 5};
    TRY(save(g, 1, &y, &o, "gnmt_encoder"));
    recur_graph_free(g);
    return RECUR_OK;
}

