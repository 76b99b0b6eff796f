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
 * seq2seq: an encoder reads "how are you"; its final state, the context
 * vector, starts the decoder, which reads [START] and its own previous
 * words and says "comment allez vous [END]". Then a long pair, drawn with
 * the first and last steps of each loop around an ellipsis.
 */
static recur_status fig_seq2seq(void)
{
    recur_graph *g = recur_graph_new(8);
    recur_value src = recur_input(g, "src", recur_shape2(3, 1)); /* source ids [S, B] */
    recur_value tgt = recur_input(g, "tgt", recur_shape2(4, 1)); /* [START] + target ids [T, B] */
    recur_cell enc, dec;
    TRY(recur_cell_new(g, &enc, RECUR_LSTM, "encoder", NULL, 16, 32));
    TRY(recur_cell_new(g, &dec, RECUR_LSTM, "decoder", NULL, 16, 32));
    recur_seq_result e, d;
    TRY(recur_cell_over(g, &enc, "encoder", recur_embedding(g, "src_embed", src, 1000, 16), NULL, 0, &e));
    TRY(recur_cell_over(g, &dec, "decoder", recur_embedding(g, "tgt_embed", tgt, 1000, 16), e.final, 0, &d));
    recur_value y = recur_name(g, recur_softmax(g, recur_dense(g, "out", d.outputs, 1000, 1)), "y");
    TRY(recur_ok(y) ? RECUR_OK : recur_errcode(g));

    const char *in[] = {"how", "are", "you", "[START]", "comment", "allez", "vous"};
    const char *out[] = {"", "", "", "comment", "allez", "vous", "[END]"};
    const char *layer[] = {"encoder", "decoder"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .layer_labels = layer, .n_layer_labels = 2,
                         .input_labels = in, .n_input_labels = 7, .output_labels = out, .n_output_labels = 7,
                         .feedback = 1};
    TRY(save(g, 1, &y, &o, "seq2seq"));
    recur_graph_free(g);

    g = recur_graph_new(9); /* a long pair: 30 source and 40 target steps */
    src = recur_input(g, "src", recur_shape2(30, 1));
    tgt = recur_input(g, "tgt", recur_shape2(40, 1));
    TRY(recur_cell_new(g, &enc, RECUR_GRU, "encoder", NULL, 16, 32));
    TRY(recur_cell_new(g, &dec, RECUR_GRU, "decoder", NULL, 16, 32));
    TRY(recur_cell_over(g, &enc, "encoder", recur_embedding(g, "src_embed", src, 1000, 16), NULL, 0, &e));
    TRY(recur_cell_over(g, &dec, "decoder", recur_embedding(g, "tgt_embed", tgt, 1000, 16), e.final, 0, &d));
    y = recur_name(g, recur_softmax(g, recur_dense(g, "out", d.outputs, 1000, 1)), "y");
    TRY(recur_ok(y) ? RECUR_OK : recur_errcode(g));
    recur_draw_opts long_o = {.view = RECUR_VIEW_UNROLLED, .layer_labels = layer, .n_layer_labels = 2,
                              .max_steps = 4, .feedback = 1};
    TRY(save(g, 1, &y, &long_o, "seq2seq_long"));
    recur_graph_free(g);
    return RECUR_OK;
}

