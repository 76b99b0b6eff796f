/*
 * examples/gallery.c — regenerates the figure gallery in docs/figures/: the
 * textbook figures of recurrent networks, each built with recur's layer
 * API and drawn with recur_draw, as SVG and PNG, beside a copy of the code
 * that built it (<name>.c) and an index (README.md).
 *
 * Each figure is one function below between "figure <name>" markers; the
 * copy is cut from this file, so the gallery always shows the code that
 * made it. tests/test_draw_figures.c (test_gallery) builds the same figures (it defines
 * GALLERY_CHECK, its function that checks a drawing instead of saving it)
 * and checks the structure of each.
 *
 * Usage: gallery [outdir [source]]
 *   outdir  where to write (default docs/figures)
 *   source  this file, to cut the code from (default: the path meson
 *           compiled it from)
 * `ninja -C build gallery` runs it on the source tree's docs/figures.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "recur.h"

#ifndef GALLERY_SOURCE
#define GALLERY_SOURCE "examples/gallery.c"
#endif

#ifdef GALLERY_CHECK
#define save GALLERY_CHECK /* the tests check each drawing instead */
#else
/* Where the figures go (set by main). */
static const char *outdir = "docs/figures";

/* Draws <outdir>/<stem>.svg and .png at the gallery's resolution. */
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
#endif

/* figure helpers */
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
/* end figure */

/* figure cell */
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
/* end figure */

/* figure icons */
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
/* end figure */

/* figure lstm_block */
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
/* end figure */

/* figure lstm_head */
/* An LSTM followed by its dense and softmax layers at every step, predicting the next word. */
static recur_status fig_lstm_head(void)
{
    recur_graph *g = recur_graph_new(4);
    recur_value x = recur_input(g, "x", recur_shape3(4, 1, 16)); /* embedded words [T, B, E] */
    recur_rnn_opts opts = {.kind = RECUR_LSTM, .input_size = 16, .hidden = 32};
    recur_rnn rnn;
    TRY(recur_rnn_new(g, "lstm", &opts, x, RECUR_NONE, RECUR_NONE, &rnn));
    recur_value logits = recur_name(g, recur_dense(g, "dense", rnn.outputs, 1000, 1), "dense");
    recur_value p = recur_name(g, recur_softmax(g, logits), "p(next word)");
    TRY(recur_ok(p) ? RECUR_OK : recur_errcode(g));

    const char *words[] = {"it", "was", "the", "best"}, *next[] = {"was", "the", "best", "of"};
    const char *layer[] = {"LSTM"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .layer_labels = layer, .n_layer_labels = 1,
                         .input_labels = words, .n_input_labels = 4, .output_labels = next, .n_output_labels = 4};
    TRY(save(g, 1, &p, &o, "lstm_head"));
    recur_graph_free(g);
    return RECUR_OK;
}
/* end figure */

/* figure deep */
/* A deep RNN, three stacked layers, rolled and unrolled side by side in one figure. */
static recur_status fig_deep(void)
{
    recur_graph *g = recur_graph_new(5);
    recur_value x = recur_input(g, "x", recur_shape3(4, 1, 8)); /* [T, B, features] */
    recur_rnn_opts opts = {.kind = RECUR_RNN_TANH, .input_size = 8, .hidden = 8, .layers = 3};
    recur_rnn rnn;
    TRY(recur_rnn_new(g, "rnn", &opts, x, RECUR_NONE, RECUR_NONE, &rnn));
    recur_value y = recur_name(g, rnn.outputs, "y");

    const char *layer[] = {"layer 1", "layer 2", "layer 3"};
    recur_draw_opts o = {.view = RECUR_VIEW_BOTH, .layer_labels = layer, .n_layer_labels = 3};
    TRY(save(g, 1, &y, &o, "deep"));
    recur_graph_free(g);
    return RECUR_OK;
}
/* end figure */

/* figure bidirectional */
/* A bidirectional RNN: a forward row, a backward row above it, their outputs joined by concatenation, then by sum. */
static recur_status fig_bidirectional(void)
{
    recur_graph *g = recur_graph_new(6);
    recur_value x = recur_input(g, "x", recur_shape3(4, 1, 8));
    recur_rnn_opts opts = {.kind = RECUR_RNN_TANH, .input_size = 8, .hidden = 8, .bidirectional = 1};
    recur_rnn cat, sum;
    TRY(recur_rnn_new(g, "concat", &opts, x, RECUR_NONE, RECUR_NONE, &cat));
    opts.merge = RECUR_MERGE_SUM;
    TRY(recur_rnn_new(g, "sum", &opts, x, RECUR_NONE, RECUR_NONE, &sum));
    recur_value y1 = recur_name(g, cat.outputs, "y"), y2 = recur_name(g, sum.outputs, "y'");

    const char *layer[] = {"forward", "backward", "forward", "backward"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .layer_labels = layer, .n_layer_labels = 4};
    TRY(save(g, 1, &y1, &o, "bidirectional_concat"));
    TRY(save(g, 1, &y2, &o, "bidirectional_sum"));
    recur_graph_free(g);
    return RECUR_OK;
}
/* end figure */

/* figure deep_bidirectional */
/* A deep bidirectional RNN: three bidirectional layers, each reading both directions of the one below. */
static recur_status fig_deep_bidirectional(void)
{
    recur_graph *g = recur_graph_new(7);
    recur_value x = recur_input(g, "x", recur_shape3(4, 1, 8));
    recur_rnn_opts opts = {.kind = RECUR_RNN_TANH, .input_size = 8, .hidden = 8, .layers = 3, .bidirectional = 1};
    recur_rnn rnn;
    TRY(recur_rnn_new(g, "birnn", &opts, x, RECUR_NONE, RECUR_NONE, &rnn));
    recur_value y = recur_name(g, rnn.outputs, "y");

    const char *layer[] = {"forward 1", "backward 1", "forward 2", "backward 2", "forward 3", "backward 3"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .layer_labels = layer, .n_layer_labels = 6};
    TRY(save(g, 1, &y, &o, "deep_bidirectional"));
    recur_graph_free(g);
    return RECUR_OK;
}
/* end figure */

/* figure seq2seq */
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
/* end figure */

/* figure attention */
/*
 * Attention (recur_seq2seq with Bahdanau's additive score): at each decoder
 * step an attention box reads the memory of the encoder's states, weighs
 * them (its output: the weights) and makes the step's output from them.
 */
static recur_status fig_attention(void)
{
    recur_graph *g = recur_graph_new(10);
    recur_seq2seq_opts opts = {.kind = RECUR_LSTM, .src_vocab = 1000, .tgt_vocab = 1000, .embed = 16, .hidden = 32,
                               .attention = RECUR_ATTN_ADDITIVE, .start_id = 1, .end_id = 2};
    recur_seq2seq m;
    TRY(recur_seq2seq_new(g, "nmt", &opts, &m));
    TRY(recur_seq2seq_train_graph(g, &m, 3, 4, 1));
    recur_value out[2] = {recur_name(g, m.logits, "y"), recur_name(g, m.attn, "weights")};
    TRY(recur_ok(out[1]) ? RECUR_OK : recur_errcode(g));

    const char *in[] = {"how", "are", "you", "[START]", "comment", "allez", "vous"};
    const char *layer[] = {"encoder", "decoder"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .layer_labels = layer, .n_layer_labels = 2,
                         .input_labels = in, .n_input_labels = 7};
    TRY(save(g, 2, out, &o, "attention"));
    recur_graph_free(g);
    return RECUR_OK;
}
/* end figure */

/* figure two_mlps */
/*
 * An RNN as two MLPs whose outputs are summed: a cell written by hand,
 * naming its two maps, drawn at the cell internals level.
 */
typedef struct two_mlps {
    recur_value Wx, bx, Wh, bh;
} two_mlps;

static recur_status two_mlps_step(recur_graph *g, const recur_cell *cell, recur_value x, const recur_value *state,
                                  recur_value *next, recur_value *out)
{
    const two_mlps *p = cell->user;
    recur_value mx = recur_name(g, recur_bias_add(g, recur_matmul(g, x, p->Wx, 0, 1), p->bx), "MLP of x");
    recur_value mh = recur_name(g, recur_bias_add(g, recur_matmul(g, state[0], p->Wh, 0, 1), p->bh), "MLP of h");
    next[0] = *out = recur_tanh(g, recur_add(g, mx, mh));
    return recur_ok(next[0]) ? RECUR_OK : recur_errcode(g);
}

static recur_status fig_two_mlps(void)
{
    recur_graph *g = recur_graph_new(11);
    two_mlps p = {recur_param(g, "Wx", recur_shape2(8, 8), recur_init_xavier()),
                  recur_param(g, "bx", recur_shape1(8), recur_init_zeros()),
                  recur_param(g, "Wh", recur_shape2(8, 8), recur_init_orthogonal(1)),
                  recur_param(g, "bh", recur_shape1(8), recur_init_zeros())};
    recur_cell cell = {.name = "rnn", .n_state = 1, .state_size = {8}, .input_size = 8, .output_size = 8,
                       .step = two_mlps_step, .user = &p};
    recur_value x = recur_input(g, "x", recur_shape3(5, 1, 8));
    recur_seq_result r;
    TRY(recur_cell_over(g, &cell, "rnn", x, NULL, 0, &r));
    recur_value h = recur_name(g, r.outputs, "h");

    recur_draw_opts o = {.view = RECUR_VIEW_ROLLED, .level = RECUR_LEVEL_INTERNALS, .equations = 1};
    TRY(save(g, 1, &h, &o, "two_mlps"));
    recur_graph_free(g);
    return RECUR_OK;
}
/* end figure */

/* figure custom_gates */
/*
 * A cell of one's own naming its gate: a gated RNN whose one gate keeps the
 * old state or lets the new one in,
 *   f = sigmoid(W_0 x + U_0 h + b_0),  h' = f h + (1 - f) tanh(W_1 x + U_1 h + b_1),
 * unrolled at the cell internals level, its steps numbered from 1, its
 * equations beside it.
 */
typedef struct gated {
    recur_value W[2], U[2], b[2]; /* 0: the gate, 1: the candidate state */
} gated;

/* W_k x + U_k h + b_k */
static recur_value gated_map(recur_graph *g, const gated *p, int k, recur_value x, recur_value h)
{
    return recur_bias_add(g, recur_add(g, recur_matmul(g, x, p->W[k], 0, 1), recur_matmul(g, h, p->U[k], 0, 1)), p->b[k]);
}

static recur_status gated_step(recur_graph *g, const recur_cell *cell, recur_value x, const recur_value *state,
                               recur_value *next, recur_value *out)
{
    const gated *p = cell->user;
    recur_value f = recur_name(g, recur_sigmoid(g, gated_map(g, p, 0, x, state[0])), "forget gate");
    recur_value keep = recur_mul(g, f, state[0]), new_part = recur_tanh(g, gated_map(g, p, 1, x, state[0]));
    next[0] = *out = recur_add(g, keep, recur_mul(g, recur_one_minus(g, f), new_part));
    return recur_ok(next[0]) ? RECUR_OK : recur_errcode(g);
}

static recur_status fig_custom_gates(void)
{
    recur_graph *g = recur_graph_new(12);
    gated p;
    const char *names[3][2] = {{"W_0", "W_1"}, {"U_0", "U_1"}, {"b_0", "b_1"}};
    for (int k = 0; k < 2; k++) {
        p.W[k] = recur_param(g, names[0][k], recur_shape2(4, 4), recur_init_xavier());
        p.U[k] = recur_param(g, names[1][k], recur_shape2(4, 4), recur_init_orthogonal(1));
        p.b[k] = recur_param(g, names[2][k], recur_shape1(4), recur_init_zeros());
    }
    recur_cell cell = {.name = "gated", .n_state = 1, .state_size = {4}, .input_size = 4, .output_size = 4,
                       .step = gated_step, .user = &p};
    recur_value x = recur_input(g, "x", recur_shape3(3, 1, 4));
    recur_seq_result r;
    TRY(recur_cell_over(g, &cell, "gated RNN", x, NULL, 0, &r));
    recur_value h = recur_name(g, r.outputs, "h");

    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .level = RECUR_LEVEL_INTERNALS, .equations = 1,
                         .one_based = 1};
    TRY(save(g, 1, &h, &o, "custom_gates"));
    recur_graph_free(g);
    return RECUR_OK;
}
/* end figure */

/* figure residual */
/* Stacked LSTMs with residual connections: layers 2 and 3 add their input to their output. */
static recur_status fig_residual(void)
{
    recur_graph *g = recur_graph_new(13);
    recur_value x = recur_input(g, "x", recur_shape3(4, 1, 8));
    recur_rnn_opts opts = {.kind = RECUR_LSTM, .input_size = 8, .hidden = 8, .layers = 3, .residual = 1};
    recur_rnn rnn;
    TRY(recur_rnn_new(g, "lstm", &opts, x, RECUR_NONE, RECUR_NONE, &rnn));
    recur_value y = recur_name(g, rnn.outputs, "y");

    const char *layer[] = {"LSTM 1", "LSTM 2", "LSTM 3"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .layer_labels = layer, .n_layer_labels = 3};
    TRY(save(g, 1, &y, &o, "residual"));
    recur_graph_free(g);
    return RECUR_OK;
}
/* end figure */

/* figure gnmt_encoder */
/* The GNMT encoder: a bidirectional first layer, then a stack of LSTMs with residual connections above it. */
static recur_status fig_gnmt_encoder(void)
{
    recur_graph *g = recur_graph_new(14);
    recur_value x = recur_input(g, "x", recur_shape3(4, 1, 8));
    recur_rnn_opts first = {.kind = RECUR_LSTM, .input_size = 8, .hidden = 8, .bidirectional = 1};
    recur_rnn bi, stack;
    TRY(recur_rnn_new(g, "enc_bi", &first, x, RECUR_NONE, RECUR_NONE, &bi));
    recur_rnn_opts rest = {.kind = RECUR_LSTM, .input_size = 16, .hidden = 16, .layers = 3, .residual = 1};
    TRY(recur_rnn_new(g, "enc", &rest, bi.outputs, RECUR_NONE, RECUR_NONE, &stack));
    recur_value y = recur_name(g, stack.outputs, "y");

    const char *layer[] = {"forward", "backward", "LSTM 2", "LSTM 3", "LSTM 4"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .layer_labels = layer, .n_layer_labels = 5};
    TRY(save(g, 1, &y, &o, "gnmt_encoder"));
    recur_graph_free(g);
    return RECUR_OK;
}
/* end figure */

/* figure bptt */
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
/* end figure */

typedef struct figure {
    const char *name;      /* the marker in this file and the stem of <name>.c */
    const char *title;
    const char *caption;
    const char *images[2]; /* the images it writes (one or two, side by side) */
    const char *heads[2];  /* the headings of two images side by side */
    recur_status (*build)(void);
} figure;

static const figure figures[] = {
    {"cell", "A cell, rolled and unrolled (figures 19-9, 19-10, 19-11, 19-13)",
     "An Elman cell reading \"it was the best of\": rolled, its state fed back through the black delay box and "
     "its final state h_n passed out on a dashed edge; unrolled, one column per word, the next word predicted "
     "above each step, each state edge labelled with its step.",
     {"cell_rolled", "cell_unrolled"}, {"rolled", "unrolled"}, fig_cell},
    {"icons", "The cell icon and the layer icon (figure 19-12)",
     "The same cell as one icon (its state h through the delay), and as the layer of ops it stands for: two "
     "products with weights, the biases, their sum and tanh.",
     {"cell_icon", "layer_icon"}, {"cell icon", "layer icon"}, fig_icons},
    {"lstm_block", "The LSTM and GRU blocks (figure 19-14)",
     "The cell internals level: the LSTM's cell-state line running through (c[t-1], x, +), its forget, input and "
     "output gates named, sigmoid and tanh boxes, h and c each through its own delay; the GRU in the same style "
     "(update and reset gates, 1-z); each with its equations, written from the graph.",
     {"lstm_block", "gru_block"}, {"LSTM", "GRU"}, fig_lstm_block},
    {"lstm_head", "An LSTM with its dense and softmax head (figures 19-15, 19-17)",
     "At each step the LSTM's output goes through the dense layer and the softmax to the probabilities of the next "
     "word (the head's layers are drawn because they are named).",
     {"lstm_head", NULL}, {NULL, NULL}, fig_lstm_head},
    {"deep", "A deep RNN, rolled and unrolled (figure 19-19)",
     "Three stacked layers, rolled (left) and unrolled (right) side by side in one figure: each layer reads the "
     "outputs of the one below.",
     {"deep", NULL}, {NULL, NULL}, fig_deep},
    {"bidirectional", "A bidirectional RNN, joined by concatenation and by sum (figure 19-20)",
     "Forward cells below, backward cells above (their state flows right to left); each input reaches the backward "
     "cell beside the forward one, and the two outputs of a step are concatenated (left) or summed (right).",
     {"bidirectional_concat", "bidirectional_sum"}, {"concatenated", "summed"}, fig_bidirectional},
    {"deep_bidirectional", "A deep bidirectional RNN (figure 19-21)",
     "Three bidirectional layers: a pair of rows per layer, each layer reading the concatenation of both directions "
     "of the one below.",
     {"deep_bidirectional", NULL}, {NULL, NULL}, fig_deep_bidirectional},
    {"seq2seq", "seq2seq, short and long (figures 19-22, 19-23)",
     "The encoder (left) reads the source; its final state, the context vector (dashed), starts the decoder "
     "(right), whose outputs are fed back as its next inputs (dashed) when generating. The long pair (30 and 40 "
     "steps) shows the first and last two steps of each loop around an ellipsis.",
     {"seq2seq", "seq2seq_long"}, {"short", "long"}, fig_seq2seq},
    {"attention", "Attention (GNMT)",
     "recur_seq2seq with additive attention: the memory box gathers the encoder's states; at each decoder step an "
     "attention box reads it (dotted), weighs its positions (the weights leave from it) and makes the step's "
     "output from the decoder's state and the weighted memory.",
     {"attention", NULL}, {NULL, NULL}, fig_attention},
    {"two_mlps", "An RNN as two MLPs",
     "A cell written as two named maps, one of the input and one of the state, whose outputs are summed and "
     "squashed; the new state returns through the delay.",
     {"two_mlps", NULL}, {NULL, NULL}, fig_two_mlps},
    {"custom_gates", "A custom cell with its gate named",
     "A gated RNN written by hand, its one gate named with recur_name (\"forget gate\"): unrolled at the cell "
     "internals level, its steps numbered from 1, its equations beside it.",
     {"custom_gates", NULL}, {NULL, NULL}, fig_custom_gates},
    {"residual", "Stacked LSTMs with residual connections",
     "Layers 2 and 3 add their input to their output: the green skip edges pass a row.", {"residual", NULL},
     {NULL, NULL}, fig_residual},
    {"gnmt_encoder", "The GNMT encoder",
     "A bidirectional first layer (its two directions concatenated), then three LSTMs with residual connections "
     "between the upper ones.",
     {"gnmt_encoder", NULL}, {NULL, NULL}, fig_gnmt_encoder},
    {"bptt", "Backpropagation through time, one and two layers",
     "The unrolled network and its loss, and above them one row of gradient cells per layer (the top layer's "
     "first): the gradient flows from the loss back against time (red, right to left), from each layer's step to "
     "the layer below at the same step, and sums into each layer's weight gradients (the boxes at the right). The "
     "two-layer figure highlights the path from the loss at the last step back to step 1, along which gradients "
     "vanish or explode.",
     {"bptt", "bptt_deep"}, {"one layer", "two layers"}, fig_bptt},
};

enum { N_FIGURES = sizeof figures / sizeof figures[0] };

#ifndef GALLERY_CHECK
/* Copies the code between "figure <name>" and "end figure" in `source` to <outdir>/<name>.c. */
static int write_code(const char *source, const char *name)
{
    FILE *in = fopen(source, "r");
    if (!in) {
        fprintf(stderr, "gallery: cannot read %s: %s\n", source, strerror(errno));
        return 0;
    }
    char path[1024], begin[128], line[1024];
    snprintf(path, sizeof path, "%s/%s.c", outdir, name);
    snprintf(begin, sizeof begin, "/* figure %s */", name);
    FILE *out = fopen(path, "w");
    if (!out) {
        fprintf(stderr, "gallery: cannot write %s: %s\n", path, strerror(errno));
        fclose(in);
        return 0;
    }
    fprintf(out, "/* The code that drew this figure, cut from examples/gallery.c. */\n");
    fprintf(out, "#include <stdio.h>\n\n#include \"recur.h\"\n\n");
    /* The shared helpers first, then the figure's function. */
    const char *const markers[2] = {"/* figure helpers */", begin};
    int found = 0;
    for (int m = 0; m < 2; m++) {
        rewind(in);
        int inside = 0;
        while (fgets(line, sizeof line, in)) {
            if (!inside && strncmp(line, markers[m], strlen(markers[m])) == 0 && line[strlen(markers[m])] == '\n') {
                inside = 1;
                found += m;
                continue;
            }
            if (inside && strncmp(line, "/* end figure */", 16) == 0) break;
            if (inside) fputs(line, out);
        }
        fputc('\n', out);
    }
    fclose(in);
    int ok = fclose(out) == 0 && found;
    if (!found) fprintf(stderr, "gallery: no figure \"%s\" in %s\n", name, source);
    return ok;
}

/* The index of the gallery. */
static int write_readme(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/README.md", outdir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "gallery: cannot write %s: %s\n", path, strerror(errno));
        return 0;
    }
    fprintf(f, "# Figure gallery\n\n"
               "The textbook figures of recurrent networks, each built with recur's layer API and drawn by\n"
               "`recur_draw` (see `include/recur/draw.h`); the numbers are those of the material's figures.\n"
               "Every figure links the code that drew it. Regenerate them all with one command,\n"
               "`ninja -C build gallery` (this page included: it is written by `examples/gallery.c`); the\n"
               "text is set in DejaVu Sans (Debian's fonts-dejavu-core, which `scripts/setup.sh` installs),\n"
               "so the same code gives the same files on any machine. `tests/test_draw_figures.c` checks\n"
               "the structure of every figure.\n\n");
    for (int i = 0; i < N_FIGURES; i++) {
        const figure *fig = &figures[i];
        fprintf(f, "## %s\n\n", fig->title);
        if (fig->images[1])
            fprintf(f, "| %s | %s |\n|:---:|:---:|\n| ![](%s.png) | ![](%s.png) |\n\n", fig->heads[0], fig->heads[1],
                    fig->images[0], fig->images[1]);
        else
            fprintf(f, "![%s](%s.png)\n\n", fig->title, fig->images[0]);
        fprintf(f, "%s Code: [%s.c](%s.c); vector: ", fig->caption, fig->name, fig->name);
        for (int k = 0; k < 2 && fig->images[k]; k++) fprintf(f, "%s[%s.svg](%s.svg)", k ? ", " : "", fig->images[k], fig->images[k]);
        fprintf(f, ".\n\n");
    }
    return fclose(f) == 0;
}

int main(int argc, char **argv)
{
    if (argc > 1) outdir = argv[1];
    const char *source = argc > 2 ? argv[2] : GALLERY_SOURCE;
    if (mkdir(outdir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "gallery: cannot create %s: %s\n", outdir, strerror(errno));
        return 1;
    }
    int failed = 0;
    for (int i = 0; i < N_FIGURES; i++) {
        if (figures[i].build() != RECUR_OK || !write_code(source, figures[i].name)) {
            failed++;
            continue;
        }
        printf("gallery: %s\n", figures[i].name);
    }
    if (!write_readme()) failed++;
    if (failed) fprintf(stderr, "gallery: %d figure(s) failed\n", failed);
    return failed ? 1 : 0;
}
#endif
