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
 * seq2seq: an encoder reads "how are you"; its final state (the context)
 * starts the decoder, which reads [START] and its own previous words and
 * predicts "comment allez vous [END]".
 */
static recur_status fig_seq2seq(void)
{
    recur_graph *g = recur_graph_new(5);
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
    return RECUR_OK;
}

