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

/* A bidirectional RNN: a forward row, a backward row above it, their outputs joined by concatenation, then by sum. */
static recur_status fig_bidirectional(void)
{
    recur_graph *g = recur_graph_new(6);
    recur_value x = recur_input(g, "x", recur_shape3(4, 1, 8));
    recur_rnn_opts opts = {.kind = RECUR_RNN_TANH, .input_size = 8, .hidden = 8, .bidirectional = 1};
    recur_rnn cat, sum;
    TRY(recur_rnn_new(g, "concat", &opts, x, RECUR_NONE, RECUR_NONE, &cat));
    opts.merge = RECUR_MERGE_SUM;
    TRY(recur_rnn_new(g, "sum", &opts, x, RECUR_NONE, RECUR_NONE, &sum));
    recur_value y1 = recur_name(g, cat.outputs, "y"), y2 = recur_name(g, sum.outputs, "y'");

    const char *layer[] = {"forward", "backward", "forward", "backward"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .layer_labels = layer, .n_layer_labels = 4};
    TRY(save(g, 1, &y1, &o, "bidirectional_concat"));
    TRY(save(g, 1, &y2, &o, "bidirectional_sum"));
    recur_graph_free(g);
    return RECUR_OK;
}

