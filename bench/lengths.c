/*
 * bench/lengths.c — what per-sequence lengths cost: a batch of sequences of
 * mixed lengths (each drawn from T/4 .. T) run through a layer with
 * recur_rnn_opts.lengths, against the same batch padded to T and run as if
 * every sequence were T long (no lengths). Both compute every step of every
 * sequence (a length holds the state after it: s' = m next + (1 - m) s, and
 * zeroes the outputs past it), so the ratio is the price of that masking.
 *
 * Layers: LSTM and GRU, T 100, B 64, I 128, H 256, one layer and a 2-layer
 * bidirectional stack; the training step (loss sum(outputs^2), gradients of
 * every weight and of the input) and the forward pass of an inference plan.
 *
 * usage: lengths [--quick] [--reps N] [--backend NAME]
 * prints a table and one line per case:
 *   lengths <case> <train|infer> padded_ms=.. lengths_ms=.. ratio=..
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recur.h"

enum { T = 100, B = 64, I = 128, H = 256, MAX_REPS = 41 };

typedef struct layer_case {
    const char *name;
    recur_cell_kind kind;
    int layers, bidirectional;
} layer_case;

static const layer_case cases[] = {
    {"lstm", RECUR_LSTM, 1, 0},
    {"gru", RECUR_GRU, 1, 0},
    {"lstm-2x-bi", RECUR_LSTM, 2, 1},
};

static double wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The layer over a batch, with lengths or without; its plan (training or inference). NULL on failure. */
static recur_plan *build(recur_graph *g, const layer_case *c, int with_lengths, int infer, const char *backend,
                         recur_value *xs, recur_value *lens)
{
    *xs = recur_input(g, "xs", recur_shape3(T, B, I));
    *lens = with_lengths ? recur_input(g, "lengths", recur_shape1(B)) : RECUR_NONE;
    recur_rnn_opts o = {.kind = c->kind, .input_size = I, .hidden = H, .layers = c->layers,
                        .bidirectional = c->bidirectional, .lengths = with_lengths ? lens : NULL};
    recur_rnn r;
    if (recur_rnn_new(g, "rnn", &o, *xs, RECUR_NONE, RECUR_NONE, &r) != RECUR_OK) return NULL;
    recur_value loss = recur_sum(g, recur_square(g, r.outputs));
    if (recur_unroll(g) != RECUR_OK) return NULL;
    if (infer) return recur_compile(g, 1, &r.outputs, &(recur_compile_opts){.backend = backend, .inference = 1});
    recur_value wrt[33], grads[33], outs[34];
    int n = recur_params(g, wrt, 32);
    wrt[n++] = *xs;
    if (recur_grad(g, loss, n, wrt, grads) != RECUR_OK) return NULL;
    outs[0] = loss;
    for (int i = 0; i < n; i++) outs[1 + i] = grads[i];
    return recur_compile(g, n + 1, outs, &(recur_compile_opts){.backend = backend});
}

/* A compiled case: its graph and plan, fed. */
typedef struct compiled {
    recur_graph *g;
    recur_plan *p;
} compiled;

static compiled prepare(const layer_case *c, int with_lengths, int infer, const char *backend, const float *x,
                        const float *lengths)
{
    compiled k = {recur_graph_new(7), NULL};
    recur_value xs, lens;
    k.p = build(k.g, c, with_lengths, infer, backend, &xs, &lens);
    if (!k.p) {
        fprintf(stderr, "lengths: %s: %s\n", c->name, recur_errmsg(k.g));
        exit(1);
    }
    recur_plan_feed(k.p, xs, x, (int64_t)T * B * I);
    if (with_lengths) recur_plan_feed(k.p, lens, lengths, B);
    if (recur_plan_run(k.p) != RECUR_OK) { /* the first run: pages touched, kernels made */
        fprintf(stderr, "lengths: %s: %s\n", c->name, recur_plan_errmsg(k.p));
        exit(1);
    }
    return k;
}

static double run_ms(recur_plan *p)
{
    double a = wall();
    recur_plan_run(p);
    return (wall() - a) * 1e3;
}

/*
 * Median ms of the case padded (ms[0]) and over lengths (ms[1]): the two
 * plans run in turns, so that a busy spell of the machine falls on both.
 */
static void time_case(const layer_case *c, int infer, const char *backend, const float *x, const float *lengths,
                      int reps, double ms[2])
{
    compiled k[2] = {prepare(c, 0, infer, backend, x, lengths), prepare(c, 1, infer, backend, x, lengths)};
    double t[2][MAX_REPS];
    for (int r = 0; r < reps; r++)
        for (int w = 0; w < 2; w++) t[r % 2 ? 1 - w : w][r] = run_ms(k[r % 2 ? 1 - w : w].p);
    for (int w = 0; w < 2; w++) {
        qsort(t[w], (size_t)reps, sizeof t[w][0], cmp_double);
        ms[w] = t[w][reps / 2];
        recur_plan_free(k[w].p);
        recur_graph_free(k[w].g);
    }
}

int main(int argc, char **argv)
{
    int reps = 15;
    const char *backend = "onednn";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) reps = 5;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--backend") && i + 1 < argc) backend = argv[++i];
        else {
            fprintf(stderr, "usage: lengths [--quick] [--reps N] [--backend NAME]\n");
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    if (reps > MAX_REPS) reps = MAX_REPS;

    /* One batch for every case: inputs in [-1, 1], lengths from T/4 to T (some exactly T). */
    float *x = malloc(sizeof *x * (size_t)T * B * I), lengths[B];
    unsigned s = 12345;
    for (size_t i = 0; i < (size_t)T * B * I; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
    }
    double mean = 0;
    for (int b = 0; b < B; b++) {
        s = s * 1664525u + 1013904223u;
        lengths[b] = b % 8 == 0 ? (float)T : (float)(T / 4 + (int)((s >> 8) % (T - T / 4 + 1)));
        mean += lengths[b] / B;
    }
    printf("# T=%d B=%d I=%d H=%d on %s, lengths %d..%d (mean %.1f); medians of %d runs, padded and over lengths\n", T,
           B, I, H, backend, T / 4, T, mean, reps);
    printf("%-12s %-6s %12s %12s %8s\n", "layer", "plan", "padded ms", "lengths ms", "ratio");
    char lines[2 * sizeof cases / sizeof *cases][160];
    int n_lines = 0;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (int infer = 0; infer < 2; infer++) {
            double ms[2];
            time_case(&cases[c], infer, backend, x, lengths, reps, ms);
            double padded = ms[0], masked = ms[1];
            const char *plan = infer ? "infer" : "train";
            printf("%-12s %-6s %12.2f %12.2f %8.3f\n", cases[c].name, plan, padded, masked, masked / padded);
            fflush(stdout);
            snprintf(lines[n_lines++], sizeof lines[0], "lengths %s %s padded_ms=%.3f lengths_ms=%.3f ratio=%.3f",
                     cases[c].name, plan, padded, masked, masked / padded);
        }
    for (int i = 0; i < n_lines; i++) puts(lines[i]);
    free(x);
    return 0;
}
