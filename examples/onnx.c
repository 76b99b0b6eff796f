/*
 * examples/onnx.c — models in and out through ONNX (recur/onnx.h).
 *
 * Without an argument: builds a small LSTM tagger, exports it to
 * onnx_tagger.onnx in the current directory, imports that file into a new
 * graph and checks that both compute the same outputs on the same input.
 * With a path: imports that model (PyTorch's torch.onnx.export writes such
 * files; symbolic dimensions such as "batch" or "seq" take the value 1, or
 * the one given as NAME=VALUE) and lists its inputs, outputs and parameters.
 *
 * Usage: onnx [model.onnx [NAME=VALUE...]]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recur.h"

enum { T = 6, B = 2, I = 3, H = 8, C = 4 };

/* Lists what an import made: the inputs to feed, the outputs, the parameters. */
static void describe(recur_graph *g, const recur_onnx_model *m)
{
    char shape[64];
    printf("producer %s, op set %lld\n", m->producer, (long long)m->opset);
    for (int i = 0; i < m->n_inputs; i++)
        printf("  input  %-20s %s\n", m->inputs[i].name,
               recur_shape_str(recur_value_shape(g, m->inputs[i].value), shape, sizeof shape));
    for (int i = 0; i < m->n_outputs; i++)
        printf("  output %-20s %s\n", m->outputs[i].name,
               recur_shape_str(recur_value_shape(g, m->outputs[i].value), shape, sizeof shape));
    recur_value ps[256];
    int n = recur_params(g, ps, 256);
    for (int i = 0; i < n && i < 256; i++)
        printf("  param  %-20s %s\n", recur_value_name(g, ps[i]), recur_shape_str(recur_value_shape(g, ps[i]), shape, sizeof shape));
}

/* Imports `path`, with NAME=VALUE pairs for its symbolic dimensions. */
static int import_file(const char *path, int n_dims, char **dims)
{
    recur_onnx_dim given[16];
    int n = 0;
    for (int i = 0; i < n_dims && n < 16; i++) {
        char *eq = strchr(dims[i], '=');
        if (!eq) return fprintf(stderr, "onnx: %s is not NAME=VALUE\n", dims[i]), 2;
        *eq = 0;
        given[n++] = (recur_onnx_dim){.name = dims[i], .value = atoll(eq + 1)};
    }
    recur_graph *g = recur_graph_new(1);
    recur_onnx_model m;
    recur_onnx_import_opts o = {.dims = given, .n_dims = n, .default_dim = 1};
    if (!g || recur_onnx_import(g, path, &o, &m) != RECUR_OK)
        return fprintf(stderr, "onnx: %s\n", g ? recur_errmsg(g) : "out of memory"), 1;
    describe(g, &m);
    recur_onnx_model_clear(&m);
    recur_graph_free(g);
    return 0;
}

/* The output of `out` for input `in` fed with x; 0, or 1 after printing why. */
static int run(recur_graph *g, recur_value in, recur_value out, const float *x, float *y)
{
    if (recur_unroll(g) != RECUR_OK) return fprintf(stderr, "onnx: %s\n", recur_errmsg(g)), 1;
    recur_plan *p = recur_compile(g, 1, &out, &(recur_compile_opts){.inference = 1});
    if (!p) return fprintf(stderr, "onnx: %s\n", recur_errmsg(g)), 1;
    int bad = recur_plan_feed(p, in, x, T * B * I) != RECUR_OK || recur_plan_run(p) != RECUR_OK ||
              recur_plan_fetch(p, out, y, T * B * C) != RECUR_OK;
    if (bad) fprintf(stderr, "onnx: %s\n", recur_plan_errmsg(p));
    recur_plan_free(p);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc > 1) return import_file(argv[1], argc - 2, argv + 2);

    /* A tagger: an LSTM over xs [T, B, I], a softmax over C tags at every step. */
    recur_graph *g = recur_graph_new(42);
    recur_value xs = recur_input(g, "xs", recur_shape3(T, B, I));
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = I, .hidden = H};
    recur_rnn lstm;
    if (recur_rnn_new(g, "lstm", &o, xs, RECUR_NONE, RECUR_NONE, &lstm) != RECUR_OK)
        return fprintf(stderr, "onnx: %s\n", recur_errmsg(g)), 1;
    recur_value tags = recur_softmax(g, recur_dense(g, "out", lstm.outputs, C, 1));
    const char *names[1] = {"tags"};
    if (recur_onnx_export(g, 1, &tags, &(recur_onnx_export_opts){.output_names = names}, "onnx_tagger.onnx") != RECUR_OK)
        return fprintf(stderr, "onnx: %s\n", recur_errmsg(g)), 1;
    printf("wrote onnx_tagger.onnx\n");

    /* Read back into a graph of its own: the LSTM node becomes recur's LSTM cell again. */
    recur_graph *g2 = recur_graph_new(1);
    recur_onnx_model m;
    if (recur_onnx_import(g2, "onnx_tagger.onnx", NULL, &m) != RECUR_OK)
        return fprintf(stderr, "onnx: %s\n", recur_errmsg(g2)), 1;
    describe(g2, &m);

    float x[T * B * I], y1[T * B * C], y2[T * B * C];
    for (int i = 0; i < T * B * I; i++) x[i] = sinf(0.37f * (float)i);
    if (run(g, xs, tags, x, y1) || run(g2, m.inputs[0].value, m.outputs[0].value, x, y2)) return 1;
    double worst = 0;
    for (int i = 0; i < T * B * C; i++) worst = fmax(worst, fabs((double)y1[i] - y2[i]));
    printf("largest difference between the two graphs' outputs: %g\n", worst);
    recur_onnx_model_clear(&m);
    recur_graph_free(g2);
    recur_graph_free(g);
    return worst < 1e-6 ? 0 : 1;
}
