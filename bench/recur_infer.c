/*
 * bench/recur_infer.c — recur's side of the inference and main-job
 * benchmarks (bench/run puts oneDNN, PyTorch and ONNX Runtime beside it):
 *
 *   (e) per-symbol generation latency at B = 1: one-hot over V = 84 symbols
 *       -> LSTM -> dense V, one step per symbol, the step's final states fed
 *       back as the next step's initial states and the argmax as its input;
 *       e1: one LSTM layer of 128 (run.sh's character model), e2: two
 *       layers of 512. ms per symbol, the median over rounds of 200 symbols.
 *       The plan is compiled with keep_packed_params, as `recur generate`
 *       compiles its own (`--unkept`: without, to measure what it gains).
 *   (f) whole-sequence inference, forward only (a plan compiled with
 *       inference = 1): f1 LSTM, f2 GRU, T=50 B=64 I=512 H=512; outputs
 *       every step's h and the final state. ms per sequence.
 *   (g) run.sh's character model's training step: one-hot 84 -> LSTM 128
 *       -> dense 84 -> softmax cross-entropy, windows of 40, batch 64:
 *       forward, backward and Adam with the gradient norm clipped at 5
 *       (the recur tool's defaults). ms per step.
 *
 * Every configuration's plan is compiled on the backend given (default:
 * recur's default, oneDNN) with the library's own threading (no OpenMP
 * settings needed). `--threads N` calls recur_set_threads(N) first.
 *
 * usage: recur_infer [--quick] [--config e1|e2|f1|f2|g] [--threads N] [--backend NAME] [--unkept]
 * prints a readable line and "recur <cfg> ms=<median> cpu_ms=<CPU time per step>" per configuration.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recur.h"

static double now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Prints the configuration's two lines from per-round wall and CPU times (divided by `per`). */
static void report(const char *cfg, const char *what, double *wall, double *cpu, int rounds, int per)
{
    qsort(wall, (size_t)rounds, sizeof *wall, cmp_double);
    qsort(cpu, (size_t)rounds, sizeof *cpu, cmp_double);
    double ms = wall[rounds / 2] / per, cpu_ms = cpu[rounds / 2] / per;
    printf("recur (%s) %s: %.4f ms (CPU %.4f ms), %d threads\n", cfg, what, ms, cpu_ms, recur_threads());
    printf("recur %s ms=%.4f cpu_ms=%.4f\n", cfg, ms, cpu_ms);
    fflush(stdout);
}

static int fail(recur_graph *g, const char *cfg)
{
    fprintf(stderr, "recur_infer (%s): %s\n", cfg, recur_errmsg(g));
    recur_graph_free(g);
    return 1;
}

/* (e) Generation: `symbols` symbols a round, one plan run each; kept: keep_packed_params. */
static int bench_generate(const char *cfg, int layers, int64_t H, int rounds, int symbols, const char *backend, int kept)
{
    enum { V = 84 };
    recur_graph *g = recur_graph_new(3);
    recur_value ids = recur_input(g, "ids", recur_shape2(1, 1));
    recur_value h0 = recur_input(g, "h0", recur_shape3(layers, 1, H)), c0 = recur_input(g, "c0", recur_shape3(layers, 1, H));
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = V, .hidden = H, .layers = layers};
    recur_rnn r;
    if (recur_rnn_new(g, "lstm", &o, recur_one_hot(g, ids, V), h0, c0, &r) != RECUR_OK) return fail(g, cfg);
    recur_value logits = recur_dense(g, "out", r.outputs, V, 1);
    if (!recur_ok(logits) || recur_unroll(g) != RECUR_OK) return fail(g, cfg);
    recur_value outs[3] = {logits, r.h_n, r.c_n};
    recur_compile_opts co = {
        .backend = backend, .inference = 1, .profile = getenv("RECUR_PROFILE") != NULL, .keep_packed_params = kept};
    recur_plan *p = recur_compile(g, 3, outs, &co);
    if (!p) return fail(g, cfg);
    int64_t ns = layers * H;
    float *state = calloc((size_t)(2 * ns), sizeof(float)), id = 0;
    double *wall = malloc(sizeof(double) * (size_t)rounds), *cpu = malloc(sizeof(double) * (size_t)rounds);
    for (int round = -1; round < rounds; round++) { /* round -1: warm-up */
        if (round == 0) recur_plan_profile_reset(p); /* the profile counts timed rounds only */
        double w0 = now_ms(CLOCK_MONOTONIC), c0t = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        for (int s = 0; s < symbols; s++) {
            recur_plan_feed(p, ids, &id, 1);
            recur_plan_feed(p, h0, state, ns);
            recur_plan_feed(p, c0, state + ns, ns);
            if (recur_plan_run(p) != RECUR_OK) {
                fprintf(stderr, "recur_infer (%s): %s\n", cfg, recur_plan_errmsg(p));
                return 1;
            }
            const float *l = recur_plan_output(p, logits);
            int best = 0;
            for (int i = 1; i < V; i++)
                if (l[i] > l[best]) best = i;
            id = (float)best;
            memcpy(state, recur_plan_output(p, r.h_n), sizeof(float) * (size_t)ns);
            memcpy(state + ns, recur_plan_output(p, r.c_n), sizeof(float) * (size_t)ns);
        }
        if (round >= 0) {
            wall[round] = now_ms(CLOCK_MONOTONIC) - w0;
            cpu[round] = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0t;
        }
    }
    char what[96];
    snprintf(what, sizeof what, "generation, LSTM %dx%lld over %d symbols, B=1, per symbol", layers, (long long)H, V);
    report(cfg, what, wall, cpu, rounds, symbols);
    if (getenv("RECUR_PROFILE")) recur_plan_profile(p, stdout);
    if (getenv("RECUR_DUMP")) recur_plan_dump(p, stdout);
    free(state), free(wall), free(cpu);
    recur_plan_free(p);
    recur_graph_free(g);
    return 0;
}

/* (f) Whole-sequence inference of one layer over [T, B, I]. */
static int bench_sequence(const char *cfg, recur_cell_kind kind, int rounds, const char *backend)
{
    enum { T = 50, B = 64, I = 512, H = 512 };
    recur_graph *g = recur_graph_new(3);
    recur_value xs = recur_input(g, "xs", recur_shape3(T, B, I));
    recur_rnn_opts o = {.kind = kind, .input_size = I, .hidden = H};
    recur_rnn r;
    if (recur_rnn_new(g, "rnn", &o, xs, RECUR_NONE, RECUR_NONE, &r) != RECUR_OK || recur_unroll(g) != RECUR_OK)
        return fail(g, cfg);
    recur_value outs[2] = {r.outputs, r.h_n};
    recur_compile_opts co = {.backend = backend, .inference = 1};
    recur_plan *p = recur_compile(g, 2, outs, &co);
    if (!p) return fail(g, cfg);
    float *x = malloc(sizeof(float) * T * B * I);
    for (int64_t i = 0; i < (int64_t)T * B * I; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    recur_plan_feed(p, xs, x, (int64_t)T * B * I);
    double *wall = malloc(sizeof(double) * (size_t)rounds), *cpu = malloc(sizeof(double) * (size_t)rounds);
    for (int round = -2; round < rounds; round++) {
        if (round == 0) recur_plan_profile_reset(p); /* the profile counts timed rounds only */
        double w0 = now_ms(CLOCK_MONOTONIC), c0t = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        if (recur_plan_run(p) != RECUR_OK) {
            fprintf(stderr, "recur_infer (%s): %s\n", cfg, recur_plan_errmsg(p));
            return 1;
        }
        if (round >= 0) {
            wall[round] = now_ms(CLOCK_MONOTONIC) - w0;
            cpu[round] = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0t;
        }
    }
    char what[96];
    snprintf(what, sizeof what, "inference, %s T=%d B=%d I=%d H=%d, per sequence", recur_cell_kind_name(kind), T, B, I, H);
    report(cfg, what, wall, cpu, rounds, 1);
    free(x), free(wall), free(cpu);
    recur_plan_free(p);
    recur_graph_free(g);
    return 0;
}

/* (g) The character model's training step, as `recur train` (run.sh) takes it. */
static int bench_charmodel(const char *cfg, int rounds, const char *backend)
{
    enum { T = 40, B = 64, V = 84, H = 128 };
    recur_graph *g = recur_graph_new(1);
    recur_value ids = recur_input(g, "ids", recur_shape2(T, B)), next = recur_input(g, "next", recur_shape2(T, B));
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = V, .hidden = H};
    recur_rnn r;
    if (recur_rnn_new(g, "lstm", &o, recur_one_hot(g, ids, V), RECUR_NONE, RECUR_NONE, &r) != RECUR_OK)
        return fail(g, cfg);
    recur_value loss = recur_softmax_xent(g, recur_dense(g, "out", r.outputs, V, 1), next, RECUR_NONE);
    if (!recur_ok(loss) || recur_unroll(g) != RECUR_OK) return fail(g, cfg);
    recur_value params[8], outs[9] = {loss}, *grads = outs + 1;
    int n = recur_params(g, params, 8);
    if (recur_grad(g, loss, n, params, grads) != RECUR_OK) return fail(g, cfg);
    recur_compile_opts co = {.backend = backend, .profile = getenv("RECUR_PROFILE") != NULL};
    recur_plan *p = recur_compile(g, 1 + n, outs, &co);
    if (!p) return fail(g, cfg);
    recur_optim_opts ao = recur_optim_defaults(RECUR_OPTIM_ADAM);
    ao.lr = 2e-3;
    ao.max_grad_norm = 5;
    recur_optim *adam = recur_optim_new(g, &ao, n, params);
    if (!adam) return fail(g, cfg);
    float x[T * B], y[T * B];
    uint64_t s = 7;
    for (int i = 0; i < T * B; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((s >> 33) % V);
        y[i] = (float)((s >> 45) % V);
    }
    double *wall = malloc(sizeof(double) * (size_t)rounds), *cpu = malloc(sizeof(double) * (size_t)rounds);
    for (int round = -3; round < rounds; round++) {
        if (round == 0) recur_plan_profile_reset(p); /* the profile counts timed rounds only */
        double w0 = now_ms(CLOCK_MONOTONIC), c0t = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        recur_plan_feed(p, ids, x, T * B);
        recur_plan_feed(p, next, y, T * B);
        if (recur_plan_run(p) != RECUR_OK || recur_optim_step_plan(adam, p, grads) != RECUR_OK) {
            fprintf(stderr, "recur_infer (%s): %s %s\n", cfg, recur_plan_errmsg(p), recur_optim_errmsg(adam));
            return 1;
        }
        if (round >= 0) {
            wall[round] = now_ms(CLOCK_MONOTONIC) - w0;
            cpu[round] = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0t;
        }
    }
    report(cfg, "character model training step (one-hot 84 -> LSTM 128 -> dense 84, T=40 B=64, Adam, clip 5)", wall, cpu,
           rounds, 1);
    if (getenv("RECUR_PROFILE")) recur_plan_profile(p, stdout);
    free(wall), free(cpu);
    recur_optim_free(adam);
    recur_plan_free(p);
    recur_graph_free(g);
    return 0;
}

int main(int argc, char **argv)
{
    int quick = 0, threads = -1, kept = 1;
    const char *only = NULL, *backend = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) only = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) backend = argv[++i];
        else if (strcmp(argv[i], "--unkept") == 0) kept = 0;
        else {
            fprintf(stderr, "usage: recur_infer [--quick] [--config e1|e2|f1|f2|g] [--threads N] [--backend NAME] [--unkept]\n");
            return 2;
        }
    }
    if (threads >= 0 && recur_set_threads(threads) != RECUR_OK) return fprintf(stderr, "recur_infer: bad --threads\n"), 2;
    int status = 0;
#define WANT(c) (!only || strcmp(only, c) == 0)
    if (WANT("e1")) status |= bench_generate("e1", 1, 128, quick ? 5 : 15, 200, backend, kept);
    if (WANT("e2")) status |= bench_generate("e2", 2, 512, quick ? 3 : 9, 200, backend, kept);
    if (WANT("f1")) status |= bench_sequence("f1", RECUR_LSTM, quick ? 5 : 21, backend);
    if (WANT("f2")) status |= bench_sequence("f2", RECUR_GRU, quick ? 5 : 21, backend);
    if (WANT("g")) status |= bench_charmodel("g", quick ? 11 : 41, backend);
#undef WANT
    return status;
}
