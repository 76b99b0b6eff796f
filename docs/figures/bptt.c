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
 * Backpropagation through time, for a one- and a two-layer stack: the
 * unrolled network and its loss, and above them a row of gradient cells
 * per layer, the gradient flowing back against time; the two-layer figure
 * highlights the path from the loss at the last step back to step 1.
 */
static recur_status fig_bptt(void)
{
    for (int layers = 1; layers <= 2; layers++) {
        recur_graph *g = recur_graph_new(15);
        recur_value x = recur_input(g, "x", recur_shape3(4, 1, 8));
        recur_value target = recur_input(g, "target", recur_shape2(4, 1)); /* the class of each step */
        recur_rnn_opts opts = {.kind = RECUR_RNN_TANH, .input_size = 8, .hidden = 8, .layers = layers};
        recur_rnn rnn;
        TRY(recur_rnn_new(g, "rnn", &opts, x, RECUR_NONE, RECUR_NONE, &rnn));
        recur_value logits = recur_dense(g, "out", rnn.outputs, 10, 1);
        recur_value loss = recur_name(g, recur_softmax_xent(g, logits, target, RECUR_NONE), "loss");
        TRY(recur_ok(loss) ? RECUR_OK : recur_errcode(g));
        TRY(recur_unroll(g));
        recur_value params[16], grads[16];
        int n = recur_params(g, params, 16);
        TRY(recur_grad(g, loss, n, params, grads));

        const char *layer[] = {"RNN 1", "RNN 2"};
        recur_draw_opts o = {.view = RECUR_VIEW_BACKWARD, .loss = loss, .layer_labels = layer,
                             .n_layer_labels = layers, .state_labels = 1,
                             .highlight = layers == 2 ? RECUR_HIGHLIGHT_TIME_PATH : RECUR_HIGHLIGHT_NONE};
        TRY(save(g, n, grads, &o, layers == 1 ? "bptt" : "bptt_deep"));
        recur_graph_free(g);
    }
    return RECUR_OK;
}

