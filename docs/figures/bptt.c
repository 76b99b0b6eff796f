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

/*
 * Backpropagation through time: the unrolled network, its loss, and the
 * gradient flowing back against time to the weights.
 */
static recur_status fig_bptt(void)
{
    recur_graph *g = recur_graph_new(8);
    recur_value x = recur_input(g, "x", recur_shape3(4, 1, 8));
    recur_value target = recur_input(g, "target", recur_shape2(4, 1)); /* the class of each step */
    recur_cell cell;
    TRY(recur_cell_new(g, &cell, RECUR_RNN_TANH, "rnn", NULL, 8, 8));
    recur_seq_result r;
    TRY(recur_cell_over(g, &cell, "rnn", x, NULL, 0, &r));
    recur_value logits = recur_dense(g, "out", r.outputs, 10, 1);
    recur_value loss = recur_name(g, recur_softmax_xent(g, logits, target, RECUR_NONE), "loss");
    TRY(recur_ok(loss) ? RECUR_OK : recur_errcode(g));
    TRY(recur_unroll(g));
    recur_value wrt[2] = {cell.param[0], cell.param[1]}, grads[2];
    TRY(recur_grad(g, loss, 2, wrt, grads));
    recur_name(g, grads[0], "dL/dW_ih");
    recur_name(g, grads[1], "dL/dW_hh");

    const char *layer[] = {"RNN"};
    recur_draw_opts o = {.view = RECUR_VIEW_BACKWARD, .loss = loss, .layer_labels = layer, .n_layer_labels = 1};
    TRY(save(g, 2, grads, &o, "bptt"));
    recur_graph_free(g);
    return RECUR_OK;
}

