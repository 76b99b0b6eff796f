/*
 * examples/gru_classifier.c — many-to-one: a GRU reads a sequence of
 * numbers and a dense head on its last step says whether their sum is
 * positive. Prints training loss and held-out accuracy.
 */
#include <stdio.h>
#include <string.h>

#include "recur.h"
#include "recur/optim.h"

enum { T = 10, B = 64, H = 16 };

static uint64_t rng = 7;
static float uniform(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(rng >> 11) * 0x1.0p-53) * 2 - 1;
}

/* A batch: xs [T, B, 1] uniform in [-1, 1), labels [B] = (sum > 0). */
static void batch(float *xs, float *labels)
{
    for (int b = 0; b < B; b++) {
        float s = 0;
        for (int t = 0; t < T; t++) s += xs[t * B + b] = uniform();
        labels[b] = s > 0;
    }
}

int main(void)
{
    recur_graph *g = recur_graph_new(5);
    recur_value xs = recur_input(g, "xs", recur_shape3(T, B, 1)), labels = recur_input(g, "labels", recur_shape1(B));
    recur_rnn gru;
    recur_rnn_opts o = {.kind = RECUR_GRU, .input_size = 1, .hidden = H};
    if (recur_rnn_new(g, "gru", &o, xs, RECUR_NONE, RECUR_NONE, &gru) != RECUR_OK) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    recur_value logits = recur_dense(g, "head", recur_last_step(g, gru.outputs), 2, 1); /* [B, 2] */
    recur_value loss = recur_softmax_xent(g, logits, labels, RECUR_NONE);
    if (!recur_ok(loss) || recur_unroll(g) != RECUR_OK) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    recur_value ps[8], gs[8], outs[10] = {loss, logits};
    int np = recur_params(g, ps, 8);
    recur_grad(g, loss, np, ps, gs);
    memcpy(outs + 2, gs, sizeof gs[0] * (size_t)np);
    recur_plan *plan = recur_compile(g, np + 2, outs, NULL);
    recur_optim_opts oo = recur_optim_defaults(RECUR_OPTIM_ADAM);
    oo.lr = 1e-2;
    recur_optim *opt = recur_optim_new(g, &oo, np, ps);
    if (!plan || !opt) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    float x[T * B], y[B], l = 0;
    for (int step = 1; step <= 300; step++) {
        batch(x, y);
        recur_plan_feed(plan, xs, x, T * B);
        recur_plan_feed(plan, labels, y, B);
        recur_plan_run(plan);
        recur_optim_step_plan(opt, plan, gs);
        recur_plan_fetch(plan, loss, &l, 1);
        if (step % 100 == 0) printf("step %d  loss %.4f\n", step, (double)l);
    }
    int right = 0;
    for (int k = 0; k < 10; k++) { /* held-out batches */
        batch(x, y);
        recur_plan_feed(plan, xs, x, T * B);
        recur_plan_feed(plan, labels, y, B);
        recur_plan_run(plan);
        const float *z = recur_plan_output(plan, logits);
        for (int b = 0; b < B; b++) right += (z[2 * b + 1] > z[2 * b]) == (y[b] > 0.5f);
    }
    printf("held-out accuracy: %.1f%% of %d sequences\n", 100.0 * right / (10 * B), 10 * B);
    recur_optim_free(opt);
    recur_plan_free(plan);
    recur_graph_free(g);
    return 0;
}
