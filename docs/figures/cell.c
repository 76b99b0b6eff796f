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
 * An Elman cell reading "it was the best of" and predicting the next word:
 * rolled, its state fed back through the black delay box and its final
 * state h_n exported on a dashed edge; unrolled, one column per word.
 */
static recur_status fig_cell(void)
{
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape2(5, 1)); /* token ids [T, B] */
    recur_value e = recur_embedding(g, "embed", x, 1000, 16);
    recur_cell cell;
    TRY(recur_cell_new(g, &cell, RECUR_RNN_TANH, "rnn", NULL, 16, 32));
    recur_seq_result r;
    TRY(recur_cell_over(g, &cell, "rnn", e, NULL, 0, &r));
    recur_value y = recur_name(g, recur_softmax(g, recur_dense(g, "out", r.outputs, 1000, 1)), "y");
    recur_value out[2] = {y, recur_name(g, r.final[0], "h_n")};
    TRY(recur_ok(out[1]) ? RECUR_OK : recur_errcode(g));

    const char *words[] = {"it", "was", "the", "best", "of"};
    const char *next[] = {"was", "the", "best", "of", "times"};
    const char *layer[] = {"RNN"};
    recur_draw_opts o = {.view = RECUR_VIEW_ROLLED, .layer_labels = layer, .n_layer_labels = 1,
                         .input_labels = words, .n_input_labels = 5, .output_labels = next, .n_output_labels = 5};
    TRY(save(g, 2, out, &o, "cell_rolled"));
    o.view = RECUR_VIEW_UNROLLED;
    o.state_labels = 1;
    TRY(save(g, 2, out, &o, "cell_unrolled"));
    recur_graph_free(g);
    return RECUR_OK;
}

