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

/* Stacked LSTMs with residual connections: layers 2 and 3 add their input to their output. */
static recur_status fig_residual(void)
{
    recur_graph *g = recur_graph_new(13);
    recur_value x = recur_input(g, "x", recur_shape3(4, 1, 8));
    recur_rnn_opts opts = {.kind = RECUR_LSTM, .input_size = 8, .hidden = 8, .layers = 3, .residual = 1};
    recur_rnn rnn;
    TRY(recur_rnn_new(g, "lstm", &opts, x, RECUR_NONE, RECUR_NONE, &rnn));
    recur_value y = recur_name(g, rnn.outputs, "y");

    const char *layer[] = {"LSTM 1", "LSTM 2", "LSTM 3"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .layer_labels = layer, .n_layer_labels = 3};
    TRY(save(g, 1, &y, &o, "residual"));
    recur_graph_free(g);
    return RECUR_OK;
}

