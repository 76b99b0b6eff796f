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

/* A long sequence: 100 steps, drawn as the first and last three around an ellipsis. */
static recur_status fig_long(void)
{
    recur_graph *g = recur_graph_new(9);
    recur_value x = recur_input(g, "x", recur_shape3(100, 1, 8));
    recur_rnn_opts opts = {.kind = RECUR_GRU, .input_size = 8, .hidden = 8, .layers = 2};
    recur_rnn rnn;
    TRY(recur_rnn_new(g, "gru", &opts, x, RECUR_NONE, RECUR_NONE, &rnn));
    recur_value y = recur_name(g, rnn.outputs, "y");

    const char *layer[] = {"GRU 1", "GRU 2"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .layer_labels = layer, .n_layer_labels = 2, .max_steps = 6};
    TRY(save(g, 1, &y, &o, "long"));
    recur_graph_free(g);
    return RECUR_OK;
}

