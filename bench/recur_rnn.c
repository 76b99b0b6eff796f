/*
 * bench/recur_rnn.c — recur's training step for the benchmark
 * configurations: the layer built from primitive ops in a loop node,
 * unrolled, differentiated (the graph passes on), compiled once, then timed:
 * forward + backward with the gradients of every weight and of the input.
 *
 *   (a) LSTM T=40 B=32 I=89 H=128      (b) LSTM T=50 B=64 I=512 H=512
 *   (c) GRU  T=50 B=64 I=512 H=512     (d) 2-layer LSTM T=50 B=50 I=65 H=128
 *
 * FLOPs of a step, as the anchors count them: per layer the forward
 * products are 2 T B (I + H) G H (G = 4 gates for LSTM, 3 for GRU), and a
 * training step does them three times (forward, data gradients, weight
 * gradients).
 *
 * --handwritten builds the layers with a cell written by hand instead, one
 * product per gate and weight as a user writes it from the equations:
 *   LSTM: a_k = x W_k^T + b_k + h U_k^T (k = i, f, g, o),
 *         c' = sigmoid(a_f) c + sigmoid(a_i) tanh(a_g),  h' = sigmoid(a_o) tanh(c')
 *   GRU:  r = sigmoid(x W_r^T + b_r + h U_r^T),  z = sigmoid(x W_z^T + b_z + h U_z^T),
 *         n = tanh(x W_n^T + b_in + r (h U_n^T + b_hn)),  h' = (1 - z) n + z h
 * so that the graph passes (matmul fusion above all) must find what the
 * built-in cells' concatenated weights give by construction.
 *
 * --bidirectional builds every layer with both directions; --passes nolanes
 * runs the graph passes without RECUR_PASS_LANES (side by side in
 * bench/run: what two threads through the small steps give). d1 and d2, by
 * name only, are (d)'s layers alone.
 *
 * usage: recur_rnn [--quick] [--config a|b|c|d|d1|d2] [--reps N] [--backend NAME] [--handwritten]
 *                  [--bidirectional] [--passes nolanes]
 * prints a readable line and "recur <cfg><tags> ms=<median> gflops=<rate> plan_mb=<MiB> nodes=<n>",
 * the tags -hand (--handwritten), -bidi, -nolanes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recur.h"
#include "tests/hand_cells.h"

typedef struct config {
    const char *name;
    recur_cell_kind kind;
    int layers;
    int64_t T, B, I, H;
} config;

static const config configs[] = {
    {"a", RECUR_LSTM, 1, 40, 32, 89, 128},
    {"b", RECUR_LSTM, 1, 50, 64, 512, 512},
    {"c", RECUR_GRU, 1, 50, 64, 512, 512},
    {"d", RECUR_LSTM, 2, 50, 50, 65, 128},
    /* only by name: (d)'s two layers alone, for "faster than two single layers in sequence" */
    {"d1", RECUR_LSTM, 1, 50, 50, 65, 128},
    {"d2", RECUR_LSTM, 1, 50, 50, 128, 128},
};

/* Variants (flags): both directions per layer; the passes without lanes. */
static int bidirectional;
static const char *passes_variant; /* NULL or "nolanes" */

/*
 * The configuration's layers from the hand-written cell over xs (weights
 * from U(-1/sqrt(H), 1/sqrt(H)) as the built-in cells'), and the anchors'
 * loss: every output and every layer's final states count once.
 */
static recur_value hand_layers(recur_graph *g, const config *c, recur_value xs, hand_weights *w)
{
    int G = c->kind == RECUR_LSTM ? 4 : 3;
    float k = (float)(1.0 / sqrt((double)c->H));
    recur_value x = xs, loss = recur_scalar(g, 0.0f);
    for (int l = 0; l < c->layers; l++) {
        int64_t in = l == 0 ? c->I : c->H;
        char name[32];
        for (int q = 0; q < G; q++) {
            snprintf(name, sizeof name, "l%d.W%d", l, q);
            w[l].W[q] = recur_param(g, name, recur_shape2(c->H, in), recur_init_uniform(-k, k));
            snprintf(name, sizeof name, "l%d.U%d", l, q);
            w[l].U[q] = recur_param(g, name, recur_shape2(c->H, c->H), recur_init_uniform(-k, k));
        }
        for (int q = 0; q < 4; q++) {
            snprintf(name, sizeof name, "l%d.b%d", l, q);
            w[l].b[q] = recur_param(g, name, recur_shape1(c->H), recur_init_uniform(-k, k));
        }
        recur_cell cell = {.name = c->kind == RECUR_LSTM ? "hand_lstm" : "hand_gru", .n_state = G == 4 ? 2 : 1,
                           .state_size = {c->H, c->H}, .input_size = in, .output_size = c->H,
                           .step = G == 4 ? hand_lstm_step : hand_gru_step, .user = &w[l]};
        recur_seq_result r;
        snprintf(name, sizeof name, "layer%d", l);
        if (recur_cell_over(g, &cell, name, x, NULL, 0, &r) != RECUR_OK) return RECUR_NONE;
        x = r.outputs;
        for (int s = 0; s < cell.n_state; s++) loss = recur_add(g, loss, recur_sum(g, r.final[s]));
    }
    return recur_add(g, loss, recur_sum(g, x));
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double step_flops(const config *c)
{
    double f = 0;
    int G = c->kind == RECUR_LSTM ? 4 : 3;
    int dirs = bidirectional ? 2 : 1;
    for (int l = 0; l < c->layers; l++) {
        double in = l == 0 ? (double)c->I : (double)(dirs * c->H);
        f += 2.0 * dirs * (double)c->T * (double)c->B * (in + (double)c->H) * G * (double)c->H;
    }
    return 3 * f;
}

static int run(const config *c, int reps, const char *backend, int handwritten)
{
    recur_graph *g = recur_graph_new(1);
    if (passes_variant) recur_set_passes(g, RECUR_PASS_ALL & ~RECUR_PASS_LANES);
    recur_value xs = recur_input(g, "xs", recur_shape3(c->T, c->B, c->I)), loss;
    hand_weights w[2];
    if (handwritten) {
        loss = hand_layers(g, c, xs, w);
    } else {
        recur_rnn_opts o = {.kind = c->kind, .input_size = c->I, .hidden = c->H, .layers = c->layers,
                            .bidirectional = bidirectional};
        recur_rnn rnn;
        if (recur_rnn_new(g, "rnn", &o, xs, RECUR_NONE, RECUR_NONE, &rnn) != RECUR_OK) goto fail;
        /* The anchors' loss: every output and final state counts once. */
        loss = recur_add(g, recur_sum(g, rnn.outputs), recur_sum(g, rnn.h_n));
        if (c->kind == RECUR_LSTM) loss = recur_add(g, loss, recur_sum(g, rnn.c_n));
    }
    if (!recur_ok(loss) || recur_unroll(g) != RECUR_OK) goto fail;
    recur_value wrt[33], grads[33];
    int n = recur_params(g, wrt, 32);
    wrt[n++] = xs;
    if (recur_grad(g, loss, n, wrt, grads) != RECUR_OK) goto fail;
    recur_compile_opts copts = {.backend = backend, .profile = getenv("RECUR_PROFILE") != NULL};
    recur_plan *p = recur_compile(g, n, grads, &copts);
    if (!p) goto fail;
    int64_t nx = c->T * c->B * c->I;
    float *x = malloc(sizeof(float) * (size_t)nx);
    for (int64_t i = 0; i < nx; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    recur_plan_feed(p, xs, x, nx);
    free(x);
    for (int w = 0; w < 2; w++) /* warm-up */
        if (recur_plan_run(p) != RECUR_OK) {
            fprintf(stderr, "recur_rnn: %s\n", recur_plan_errmsg(p));
            return 1;
        }
    recur_plan_profile_reset(p); /* the profile counts timed runs only */
    double *ms = malloc(sizeof(double) * (size_t)reps);
    for (int r = 0; r < reps; r++) {
        double t0 = now_ms();
        recur_plan_run(p);
        ms[r] = now_ms() - t0;
    }
    qsort(ms, (size_t)reps, sizeof(double), cmp_double);
    double med = ms[reps / 2], gflops = step_flops(c) / (med * 1e6), mb = (double)recur_plan_memory(p) / (1 << 20);
    printf("recur (%s) %s%s T=%lld B=%lld I=%lld H=%lld layers=%d backend=%s: %.3f ms/step, %.1f GFLOP/s, plan %.2f MiB, %d nodes\n",
           c->name, handwritten ? "hand-written " : "", recur_cell_kind_name(c->kind), (long long)c->T, (long long)c->B, (long long)c->I, (long long)c->H,
           c->layers, recur_plan_backend(p), med, gflops, mb, recur_plan_size(p));
    printf("recur %s%s%s%s%s ms=%.3f gflops=%.2f plan_mb=%.2f nodes=%d\n", c->name, handwritten ? "-hand" : "",
           bidirectional ? "-bidi" : "", passes_variant ? "-" : "", passes_variant ? passes_variant : "", med, gflops, mb,
           recur_plan_size(p));
    fflush(stdout);
    free(ms);
    if (copts.profile) recur_plan_profile(p, stdout);
    if (getenv("RECUR_DUMP")) {
        recur_plan_dump(p, stdout);
        recur_plan_memory_report(p, stdout, 12);
    }
    recur_plan_free(p);
    recur_graph_free(g);
    return 0;
fail:
    fprintf(stderr, "recur_rnn (%s): %s\n", c->name, recur_errmsg(g));
    recur_graph_free(g);
    return 1;
}

int main(int argc, char **argv)
{
    int quick = 0, reps = 0, handwritten = 0;
    const char *only = NULL, *backend = "onednn";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) only = argv[++i];
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) backend = argv[++i];
        else if (strcmp(argv[i], "--handwritten") == 0) handwritten = 1;
        else if (strcmp(argv[i], "--bidirectional") == 0) bidirectional = 1;
        else if (strcmp(argv[i], "--passes") == 0 && i + 1 < argc && strcmp(argv[i + 1], "nolanes") == 0)
            passes_variant = argv[++i];
        else {
            fprintf(stderr, "usage: recur_rnn [--quick] [--config a|b|c|d|d1|d2] [--reps N] [--backend NAME] [--handwritten] "
                            "[--bidirectional] [--passes nolanes]\n");
            return 2;
        }
    }
    int status = 0;
    for (size_t k = 0; k < sizeof configs / sizeof configs[0]; k++) {
        if (only ? strcmp(only, configs[k].name) != 0 : configs[k].name[1] != 0) continue;
        int big = configs[k].H >= 512;
        int r = reps > 0 ? reps : quick ? (big ? 3 : 7) : (big ? 11 : 31);
        status |= run(&configs[k], r, backend, handwritten);
    }
    return status;
}
