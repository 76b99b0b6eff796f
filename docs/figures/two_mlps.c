/* The code that drew this figure, cut from examples/gallery.c. */
#include <stdio.h>

#include "recur.h"

/* Where the figures go (set by main). */
static const char *outdir = "docs/figures";

/* Writes <outdir>/<stem>.svg and .png. */
static recur_status save(recur_graph *g, int n_out, const recur_value *out, const recur_draw_opts *o, const char *stem)
{
    static const char *const ext[] = {"svg", "png"};
    for (int i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.%s", outdir, stem, ext[i]);
        recur_status st = recur_draw(g, n_out, out, o, path);
        if (st != RECUR_OK) return st;
    }
    return RECUR_OK;
}

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

/* An Elman RNN at op level: one MLP for the input, one for the state, their outputs summed. */
static recur_status fig_two_mlps(void)
{
    recur_graph *g = recur_graph_new(6);
    recur_value x = recur_input(g, "x", recur_shape3(5, 1, 8));
    recur_cell cell;
    TRY(recur_cell_new(g, &cell, RECUR_RNN_TANH, "rnn", NULL, 8, 8));
    recur_seq_result r;
    TRY(recur_cell_over(g, &cell, "rnn", x, NULL, 0, &r));
    recur_value h = recur_name(g, r.outputs, "h");

    recur_draw_opts o = {.view = RECUR_VIEW_ROLLED, .level = RECUR_LEVEL_OP};
    TRY(save(g, 1, &h, &o, "two_mlps"));
    recur_graph_free(g);
    return RECUR_OK;
}

