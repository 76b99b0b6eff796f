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

/* An Elman cell reading "it was the best of" and predicting the next word, rolled and unrolled. */
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
    TRY(recur_ok(y) ? RECUR_OK : recur_errcode(g));

    const char *words[] = {"it", "was", "the", "best", "of"};
    const char *next[] = {"was", "the", "best", "of", "times"};
    const char *layer[] = {"RNN"};
    recur_draw_opts o = {.view = RECUR_VIEW_ROLLED, .layer_labels = layer, .n_layer_labels = 1,
                         .input_labels = words, .n_input_labels = 5, .output_labels = next, .n_output_labels = 5};
    TRY(save(g, 1, &y, &o, "cell_rolled"));
    o.view = RECUR_VIEW_UNROLLED;
    TRY(save(g, 1, &y, &o, "cell_unrolled"));
    recur_graph_free(g);
    return RECUR_OK;
}

