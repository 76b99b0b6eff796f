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

/* The cell as one icon, and the layer of ops it stands for (its weights, products and sums). */
static recur_status fig_icons(void)
{
    recur_graph *g = recur_graph_new(2);
    recur_value x = recur_input(g, "x", recur_shape3(4, 1, 8));
    recur_cell cell;
    TRY(recur_cell_new(g, &cell, RECUR_RNN_TANH, "rnn", NULL, 8, 8));
    recur_seq_result r;
    TRY(recur_cell_over(g, &cell, "rnn", x, NULL, 0, &r));
    recur_value y = recur_name(g, r.outputs, "y");

    const char *layer[] = {"cell"};
    recur_draw_opts o = {.view = RECUR_VIEW_ROLLED, .layer_labels = layer, .n_layer_labels = 1, .state_labels = 1};
    TRY(save(g, 1, &y, &o, "cell_icon"));
    o.level = RECUR_LEVEL_OP;
    TRY(save(g, 1, &y, &o, "layer_icon"));
    recur_graph_free(g);
    return RECUR_OK;
}

