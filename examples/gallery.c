/*
 * examples/gallery.c — regenerates the figure gallery in docs/figures/: the
 * textbook figures of recurrent networks, each built with recur's layer
 * API and drawn with recur_draw, as SVG and PNG, beside a copy of the code
 * that built it (<name>.c) and an index (README.md).
 *
 * Each figure is one function below between "figure <name>" markers; the
 * copy is cut from this file, so the gallery always shows the code that
 * made it.
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

/* figure helpers */
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
/* end figure */

/* figure cell */
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
/* end figure */

/* figure deep */
/* A deep RNN: three stacked layers, each reading the outputs of the one below. */
static recur_status fig_deep(void)
{
    recur_graph *g = recur_graph_new(2);
    recur_value x = recur_input(g, "x", recur_shape3(4, 1, 8)); /* [T, B, features] */
    recur_rnn_opts opts = {.kind = RECUR_RNN_TANH, .input_size = 8, .hidden = 8, .layers = 3};
    recur_rnn rnn;
    TRY(recur_rnn_new(g, "rnn", &opts, x, RECUR_NONE, RECUR_NONE, &rnn));
    recur_value y = recur_name(g, rnn.outputs, "y");

    const char *layer[] = {"layer 1", "layer 2", "layer 3"};
    recur_draw_opts o = {.view = RECUR_VIEW_ROLLED, .layer_labels = layer, .n_layer_labels = 3};
    TRY(save(g, 1, &y, &o, "deep_rolled"));
    o.view = RECUR_VIEW_UNROLLED;
    TRY(save(g, 1, &y, &o, "deep_unrolled"));
    recur_graph_free(g);
    return RECUR_OK;
}
/* end figure */

/* figure bidirectional */
/* A bidirectional RNN: a forward loop, a reverse loop above it, their outputs concatenated. */
static recur_status fig_bidirectional(void)
{
    recur_graph *g = recur_graph_new(3);
    recur_value x = recur_input(g, "x", recur_shape3(4, 1, 8));
    recur_rnn_opts opts = {.kind = RECUR_RNN_TANH, .input_size = 8, .hidden = 8, .bidirectional = 1};
    recur_rnn rnn;
    TRY(recur_rnn_new(g, "birnn", &opts, x, RECUR_NONE, RECUR_NONE, &rnn));
    recur_value y = recur_name(g, rnn.outputs, "y");

    const char *layer[] = {"forward", "backward"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .layer_labels = layer, .n_layer_labels = 2};
    TRY(save(g, 1, &y, &o, "bidirectional"));
    recur_graph_free(g);
    return RECUR_OK;
}
/* end figure */

/* figure deep_bidirectional */
/* A deep bidirectional RNN: three bidirectional layers, each reading both directions of the one below. */
static recur_status fig_deep_bidirectional(void)
{
    recur_graph *g = recur_graph_new(4);
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
/* end figure */

/* figure two_mlps */
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
/* end figure */

/* figure residual */
/* Stacked LSTMs with residual connections: layers 2 and 3 add their input to their output. */
static recur_status fig_residual(void)
{
    recur_graph *g = recur_graph_new(7);
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

/* figure bptt */
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
/* end figure */

/* figure long */
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
/* end figure */

typedef struct figure {
    const char *name;      /* the marker in this file and the stem of <name>.c */
    const char *title;
    const char *caption;
    const char *images[2]; /* the images it writes (one or two, side by side) */
    recur_status (*build)(void);
} figure;

static const figure figures[] = {
    {"cell", "A cell, rolled and unrolled",
     "An Elman cell reading \"it was the best of\": rolled, its state fed back through the black delay box; "
     "unrolled, one column per word, predicting the next word above each step.",
     {"cell_rolled", "cell_unrolled"}, fig_cell},
    {"deep", "A deep RNN", "Three stacked layers, rolled and unrolled: each layer reads the outputs of the one below.",
     {"deep_rolled", "deep_unrolled"}, fig_deep},
    {"bidirectional", "A bidirectional RNN",
     "Forward cells below, backward cells above (their state flows right to left), outputs concatenated above.",
     {"bidirectional", NULL}, fig_bidirectional},
    {"deep_bidirectional", "A deep bidirectional RNN",
     "Three bidirectional layers: a pair of rows per layer, each layer reading both directions of the one below.",
     {"deep_bidirectional", NULL}, fig_deep_bidirectional},
    {"seq2seq", "seq2seq",
     "The encoder (left) reads the source; its final state, the context vector, starts the decoder (right), whose "
     "outputs are fed back as its next inputs (dashed) when generating.",
     {"seq2seq", NULL}, fig_seq2seq},
    {"two_mlps", "An RNN as two MLPs",
     "The Elman cell at op level: one affine map of the input and one of the state, summed, then tanh; the new "
     "state returns through the delay.",
     {"two_mlps", NULL}, fig_two_mlps},
    {"residual", "Stacked LSTMs with residual connections",
     "Layers 2 and 3 add their input to their output: the green skip edges pass a row.", {"residual", NULL},
     fig_residual},
    {"bptt", "Backpropagation through time",
     "The unrolled network and its loss (bottom), and the gradient cells above it: the gradient flows from the "
     "loss back against time (red, right to left) and sums into the weights' gradients.",
     {"bptt", NULL}, fig_bptt},
    {"long", "A long sequence",
     "100 steps of a two-layer GRU drawn with max_steps = 6: the first and last three steps around an ellipsis.",
     {"long", NULL}, fig_long},
};

enum { N_FIGURES = sizeof figures / sizeof figures[0] };

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
               "`recur_draw` (see `include/recur/draw.h`). Every figure links the code that drew it.\n"
               "Regenerate them all with `ninja -C build gallery` (this page included: it is written by\n"
               "`examples/gallery.c`).\n\n");
    for (int i = 0; i < N_FIGURES; i++) {
        const figure *fig = &figures[i];
        fprintf(f, "## %s\n\n", fig->title);
        if (fig->images[1])
            fprintf(f, "| rolled | unrolled |\n|:---:|:---:|\n| ![](%s.png) | ![](%s.png) |\n\n", fig->images[0],
                    fig->images[1]);
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
