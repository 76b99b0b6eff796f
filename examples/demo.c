/*
 * examples/demo.c — recur end to end in one small program: build a graph
 * (the seed experiment's dense net: a window of 5 values of
 * sin(t) + 0.5 sin(3t), 5 leaky-ReLU units with slope 0.1, 1 linear
 * output), differentiate it symbolically, compile it, and train it with SGD,
 * printing the graph, progress and the test error.
 *
 * Usage: demo [steps]     (default 3000)
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime and CLOCK_MONOTONIC are POSIX, not C11 */
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "recur.h"

enum { WINDOW = 5, HIDDEN = 5, TRAIN = 400, TEST = 200 };

static double series(int i) { return sin(0.1 * i) + 0.5 * sin(0.3 * i); }

/* Windows starting at `from`: x[n] = series(from+n .. from+n+4), t[n] = series(from+n+5). */
static void windows(int from, int n, float *x, float *t)
{
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < WINDOW; k++) x[i * WINDOW + k] = (float)series(from + i + k);
        t[i] = (float)series(from + i + WINDOW);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(recur_graph *g, const char *what)
{
    fprintf(stderr, "demo: %s: %s\n", what, recur_errmsg(g));
    recur_graph_free(g);
    return 1;
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 3000;
    if (steps < 1) {
        fprintf(stderr, "usage: demo [steps >= 1]\n");
        return 2;
    }
    recur_graph *g = recur_graph_new(7);
    if (!g) return 1;

    /* The model: y = W2 leaky_relu(W1 x + b1, 0.1) + b2, loss = mean (y - t)^2. */
    recur_value x = recur_input(g, "x", recur_shape2(TRAIN, WINDOW));
    recur_value t = recur_input(g, "t", recur_shape2(TRAIN, 1));
    recur_value W1 = recur_param(g, "W1", recur_shape2(HIDDEN, WINDOW), recur_init_xavier());
    recur_value b1 = recur_param(g, "b1", recur_shape1(HIDDEN), recur_init_zeros());
    recur_value W2 = recur_param(g, "W2", recur_shape2(1, HIDDEN), recur_init_xavier());
    recur_value b2 = recur_param(g, "b2", recur_shape1(1), recur_init_zeros());
    recur_value h = recur_leaky_relu(g, recur_bias_add(g, recur_matmul(g, x, W1, 0, 1), b1), 0.1f);
    recur_value y = recur_name(g, recur_bias_add(g, recur_matmul(g, h, W2, 0, 1), b2), "y");
    recur_value loss = recur_name(g, recur_mse(g, y, t), "loss");
    if (!recur_ok(loss)) return fail(g, "building the model");

    recur_value params[4] = {W1, b1, W2, b2}, grads[4];
    if (recur_grad(g, loss, 4, params, grads) != RECUR_OK) return fail(g, "differentiating");
    printf("The graph, forward and backward (%d nodes):\n", recur_graph_size(g));
    recur_graph_dump(g, stdout);

    recur_value outs[5] = {loss, grads[0], grads[1], grads[2], grads[3]};
    recur_plan *train = recur_compile(g, 5, outs, NULL);
    if (!train) return fail(g, "compiling");
    printf("\nCompiled training plan: %d kernels, %.1f KiB of buffers (backend %s)\n\n", recur_plan_size(train),
           (double)recur_plan_memory(train) / 1024.0, recur_plan_backend(train));

    static float xs[TRAIN * WINDOW], ts[TRAIN];
    windows(0, TRAIN, xs, ts);
    recur_plan_feed(train, x, xs, TRAIN * WINDOW);
    recur_plan_feed(train, t, ts, TRAIN);

    const float lr = 0.1f;
    int tty = isatty(STDOUT_FILENO);
    double start = now();
    float first = 0, l = 0;
    for (int step = 1; step <= steps; step++) {
        if (recur_plan_run(train) != RECUR_OK) {
            fprintf(stderr, "demo: %s\n", recur_plan_errmsg(train));
            break;
        }
        recur_plan_fetch(train, loss, &l, 1);
        if (step == 1) first = l;
        for (int k = 0; k < 4; k++) { /* SGD: w <- w - lr dL/dw */
            float *w = recur_param_data(g, params[k]);
            const float *dw = recur_plan_output(train, grads[k]);
            int64_t n = recur_shape_numel(recur_value_shape(g, params[k]));
            for (int64_t i = 0; i < n; i++) w[i] -= lr * dw[i];
        }
        if (step % 100 == 0 || step == steps) {
            double el = now() - start, rate = step / el, eta = (steps - step) / rate;
            printf(tty ? "\rstep %5d/%d  loss %.6f  %.0f steps/s  ETA %.1fs   " : "step %5d/%d  loss %.6f  %.0f steps/s  ETA %.1fs\n",
                   step, steps, (double)l, rate, eta);
            fflush(stdout);
        }
    }
    if (tty) printf("\n");
    recur_plan_free(train);

    /* Held-out windows further along the series, through a plan for y only. */
    recur_plan *infer = recur_compile(g, 1, &y, &(recur_compile_opts){.inference = 1});
    if (!infer) return fail(g, "compiling the inference plan");
    windows(TRAIN + 50, TRAIN, xs, ts); /* the plan's input holds TRAIN windows */
    recur_plan_feed(infer, x, xs, TRAIN * WINDOW);
    if (recur_plan_run(infer) != RECUR_OK) {
        fprintf(stderr, "demo: %s\n", recur_plan_errmsg(infer));
        return 1;
    }
    const float *pred = recur_plan_output(infer, y);
    double se = 0;
    for (int i = 0; i < TEST; i++) se += (pred[i] - ts[i]) * (pred[i] - ts[i]);
    printf("\ntraining mse %.6f -> %.6f; held-out mse %.6f over %d windows\n", (double)first, (double)l,
           se / TEST, TEST);
    printf("first held-out predictions (target -> predicted):\n");
    for (int i = 0; i < 5; i++) printf("  %+.4f -> %+.4f\n", (double)ts[i], (double)pred[i]);
    recur_plan_free(infer);
    recur_graph_free(g);
    return 0;
}
