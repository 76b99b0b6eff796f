/*
 * bench/scaling.c — what a sequence's length costs: a 1-layer LSTM (B 16,
 * I 64, H 128) trained on sequences of T = 50, 500, 5000, 20000 steps, the
 * loss sum(outputs^2) with the gradient of every weight, on each backend.
 * For each T it times building the graph, unrolling it, differentiating,
 * compiling the training plan and running it, and reports the plan's and
 * the graph's memory:
 *
 *   backend  T  build s  unroll s  grad s  compile s  run ms/step  plan MiB  graph MiB  nodes
 *
 * and, per backend, each T's compile time and run time per step against
 * T = 500's (linear cost: compile / T and run / T stay flat). Times are
 * wall-clock medians of --reps repetitions (the whole build-to-run, each a
 * new graph); the CPU time of the compile is printed beside it because this
 * shared machine's wall clock counts other processes' turns too.
 *
 * usage: scaling [--quick] [--reps N] [--backend NAME] [--T 50,500,...]
 * prints one machine-readable line per row:
 *   scaling <backend> T=<T> build_s=.. unroll_s=.. grad_s=.. compile_s=.. compile_cpu_s=..
 *           run_ms_per_step=.. plan_mib=.. graph_mib=.. nodes=..
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recur.h"

enum { B = 16, I = 64, H = 128, MAX_T = 16, MAX_REPS = 15 };

static double wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct row {
    double build, unroll, grad, compile, compile_cpu, run_step; /* seconds; run per step in ms */
    double plan_mib, graph_mib;
    int nodes;
} row;

/* One repetition at length T: everything from a new graph to the timed runs. Returns 0 on success. */
static int measure(const char *backend, int64_t T, int runs, row *r)
{
    double t0 = wall();
    recur_graph *g = recur_graph_new(1);
    recur_value xs = recur_input(g, "xs", recur_shape3(T, B, I));
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = I, .hidden = H};
    recur_rnn lstm;
    recur_status st = recur_rnn_new(g, "lstm", &o, xs, RECUR_NONE, RECUR_NONE, &lstm);
    recur_value loss = recur_sum(g, recur_square(g, lstm.outputs));
    double t1 = wall();
    if (st == RECUR_OK) st = recur_unroll(g);
    double t2 = wall();
    recur_value params[8], grads[8], outs[9];
    int n = recur_params(g, params, 8);
    if (st == RECUR_OK) st = recur_grad(g, loss, n, params, grads);
    double t3 = wall(), c3 = cpu();
    outs[0] = loss;
    for (int i = 0; i < n; i++) outs[1 + i] = grads[i];
    recur_plan *p = st == RECUR_OK ? recur_compile(g, n + 1, outs, &(recur_compile_opts){.backend = backend}) : NULL;
    double t4 = wall(), c4 = cpu();
    if (!p) {
        fprintf(stderr, "scaling: T=%lld on %s: %s\n", (long long)T, backend, recur_errmsg(g));
        recur_graph_free(g);
        return 1;
    }
    size_t nx = (size_t)T * B * I;
    float *x = malloc(sizeof *x * nx);
    for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
    recur_plan_feed(p, xs, x, (int64_t)nx);
    recur_plan_run(p); /* first run: pages touched, oneDNN's kernels made */
    /* Up to `runs` timed runs, fewer once a second has gone (at least one). */
    double times[MAX_REPS], spent = 0;
    int done = 0;
    while (done < runs && done < MAX_REPS && (done == 0 || spent < 1.0)) {
        double a = wall();
        recur_plan_run(p);
        times[done] = wall() - a;
        spent += times[done++];
    }
    r->build = t1 - t0, r->unroll = t2 - t1, r->grad = t3 - t2;
    r->compile = t4 - t3, r->compile_cpu = c4 - c3;
    r->run_step = median(times, done) / (double)T * 1e3;
    r->plan_mib = (double)recur_plan_memory(p) / (1 << 20);
    r->graph_mib = (double)recur_graph_memory(g) / (1 << 20);
    r->nodes = recur_graph_size(g);
    free(x);
    recur_plan_free(p);
    recur_graph_free(g);
    return 0;
}

int main(int argc, char **argv)
{
    int reps = 5, quick = 0, nT = 0;
    int64_t Ts[MAX_T];
    const char *backends[2] = {"reference", "onednn"};
    int nb = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--backend") && i + 1 < argc) backends[0] = argv[++i], nb = 1;
        else if (!strcmp(argv[i], "--T") && i + 1 < argc) {
            for (char *s = argv[++i]; *s && nT < MAX_T; s += *s == ',') Ts[nT++] = strtoll(s, &s, 10);
        } else {
            fprintf(stderr, "usage: scaling [--quick] [--reps N] [--backend NAME] [--T 50,500,...]\n");
            return 2;
        }
    }
    if (quick && reps > 2) reps = 2;
    if (reps < 1 || reps > MAX_REPS) reps = reps < 1 ? 1 : MAX_REPS;
    if (!nT) {
        int64_t def[] = {50, 500, 5000, 20000};
        for (nT = 0; nT < 4; nT++) Ts[nT] = def[nT];
    }
    printf("# LSTM B=%d I=%d H=%d, loss sum(outputs^2), gradients of every weight; medians of %d repetitions\n", B, I, H,
           reps);
    printf("%-9s %6s %8s %8s %8s %9s %9s %11s %9s %9s %8s\n", "backend", "T", "build s", "unroll s", "grad s",
           "compile s", "(cpu s)", "run ms/step", "plan MiB", "graph MiB", "nodes");
    for (int b = 0; b < nb; b++) {
        row med[MAX_T];
        for (int k = 0; k < nT; k++) {
            int64_t T = Ts[k];
            double v[6][MAX_REPS];
            row r;
            int r_here = reps;
            for (int q = 0; q < r_here; q++) {
                double start = wall();
                if (measure(backends[b], T, quick ? 1 : 7, &r)) return 1;
                double f[6] = {r.build, r.unroll, r.grad, r.compile, r.compile_cpu, r.run_step};
                for (int j = 0; j < 6; j++) v[j][q] = f[j];
                /* The longest sequences take long a run (minutes on the reference backend): fewer
                 * repetitions there, about a minute's worth. */
                if (q == 0) {
                    double each = wall() - start;
                    int fit = each > 0 ? (int)(60.0 / each) : reps;
                    r_here = fit < 1 ? 1 : fit < reps ? fit : reps;
                }
                fprintf(stderr, "\r# %s T=%lld: repetition %d of %d", backends[b], (long long)T, q + 1, r_here);
            }
            fprintf(stderr, "\r%60s\r", "");
            med[k] = r;
            med[k].build = median(v[0], r_here), med[k].unroll = median(v[1], r_here);
            med[k].grad = median(v[2], r_here), med[k].compile = median(v[3], r_here);
            med[k].compile_cpu = median(v[4], r_here), med[k].run_step = median(v[5], r_here);
            row *m = &med[k];
            printf("%-9s %6lld %8.3f %8.3f %8.3f %9.3f %9.3f %11.4f %9.1f %9.1f %8d\n", backends[b], (long long)T,
                   m->build, m->unroll, m->grad, m->compile, m->compile_cpu, m->run_step, m->plan_mib, m->graph_mib,
                   m->nodes);
            fflush(stdout);
        }
        int base = -1;
        for (int k = 0; k < nT; k++)
            if (Ts[k] == 500) base = k;
        if (base >= 0) {
            printf("# %s against T = 500: ", backends[b]);
            for (int k = 0; k < nT; k++) {
                double c = (med[k].compile_cpu / (double)Ts[k]) / (med[base].compile_cpu / 500.0);
                printf("T=%lld compile/T %.2fx run/step %.2fx%s", (long long)Ts[k], c,
                       med[k].run_step / med[base].run_step, k + 1 < nT ? ", " : "\n");
            }
        }
        for (int k = 0; k < nT; k++) {
            row *m = &med[k];
            printf("scaling %s T=%lld build_s=%.4f unroll_s=%.4f grad_s=%.4f compile_s=%.4f compile_cpu_s=%.4f "
                   "run_ms_per_step=%.5f plan_mib=%.2f graph_mib=%.2f nodes=%d\n",
                   backends[b], (long long)Ts[k], m->build, m->unroll, m->grad, m->compile, m->compile_cpu,
                   m->run_step, m->plan_mib, m->graph_mib, m->nodes);
        }
    }
    return 0;
}
