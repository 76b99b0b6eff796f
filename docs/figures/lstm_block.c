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

/* The LSTM and the GRU drawn as textbooks draw them: gates named, x and + circles, each state through its delay. */
static recur_status fig_lstm_block(void)
{
    recur_graph *g = recur_graph_new(3);
    recur_value x = recur_input(g, "x", recur_shape3(4, 1, 8));
    recur_cell lstm, gru;
    TRY(recur_cell_new(g, &lstm, RECUR_LSTM, "lstm", NULL, 8, 8));
    TRY(recur_cell_new(g, &gru, RECUR_GRU, "gru", NULL, 8, 8));
    recur_seq_result a, b;
    TRY(recur_cell_over(g, &lstm, "LSTM", x, NULL, 0, &a));
    TRY(recur_cell_over(g, &gru, "GRU", x, NULL, 0, &b));
    recur_value h_lstm = recur_name(g, a.outputs, "h"), h_gru = recur_name(g, b.outputs, "h'");

    recur_draw_opts o = {.view = RECUR_VIEW_ROLLED, .level = RECUR_LEVEL_INTERNALS, .equations = 1};
    TRY(save(g, 1, &h_lstm, &o, "lstm_block"));
    TRY(save(g, 1, &h_gru, &o, "gru_block"));
    recur_graph_free(g);
    return RECUR_OK;
}

