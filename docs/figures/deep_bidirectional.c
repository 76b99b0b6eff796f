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

/* A deep bidirectional RNN: three bidirectional layers, each reading both directions of the one below. */
static recur_status fig_deep_bidirectional(void)
{
    recur_graph *g = recur_graph_new(7);
    recur_value x = recur_input(g, "x", recur_shape3(4, 1, 8));
    recur_rnn_opts opts = {.kind = RECUR_RNN_TANH, .input_size = 8, .hidden = 8, .layers = 3, .bidirectional = 1};
    recur_rnn rnn;
    TRY(recur_rnn_new(g, "birnn", &opts, x, RECUR_NONE, RECUR_NONE, &rnn));
    recur_value y = recur_name(g, rnn.outputs, "y");

    const char *layer[] = {"forward 1", "backward 1", "forward 2", "backward 2", "forward 3", "backward 3"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .layer_labels = layer, .n_layer_labels = 6};
    TRY(save(g, 1, &y, &o, "deep_bidirectional"));
    recur_graph_free(g);
    return RECUR_OK;
}

