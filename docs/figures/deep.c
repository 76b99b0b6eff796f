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

/* A deep RNN, three stacked layers, rolled and unrolled side by side in one figure. */
static recur_status fig_deep(void)
{
    recur_graph *g = recur_graph_new(5);
    recur_value x = recur_input(g, "x", recur_shape3(4, 1, 8)); /* [T, B, features] */
    recur_rnn_opts opts = {.kind = RECUR_RNN_TANH, .input_size = 8, .hidden = 8, .layers = 3};
    recur_rnn rnn;
    TRY(recur_rnn_new(g, "rnn", &opts, x, RECUR_NONE, RECUR_NONE, &rnn));
    recur_value y = recur_name(g, rnn.outputs, "y");

    const char *layer[] = {"layer 1", "layer 2", "layer 3"};
    recur_draw_opts o = {.view = RECUR_VIEW_BOTH, .layer_labels = layer, .n_layer_labels = 3};
    TRY(save(g, 1, &y, &o, "deep"));
    recur_graph_free(g);
    return RECUR_OK;
}

