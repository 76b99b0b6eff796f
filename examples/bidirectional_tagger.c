/*
 * examples/bidirectional_tagger.c — many-to-many with context from both
 * sides: a 2-layer bidirectional LSTM tags each position of a digit
 * sequence with whether that digit is larger than both of its neighbours
 * (a question a forward-only RNN cannot answer at the position itself).
 */
#include <stdio.h>
#include <string.h>

#include "recur.h"
#include "recur/optim.h"

enum { T = 12, B = 32, V = 10, E = 8, H = 24 };

static uint64_t rng = 11;
static int digit(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (int)((rng >> 33) % V);
}

/* ids [T, B] random digits; tags [T, B] = 1 where the digit beats both neighbours (edges: the one neighbour). */
static void batch(float *ids, float *tags)
{
    for (int i = 0; i < T * B; i++) ids[i] = (float)digit();
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            float d = ids[t * B + b];
            int peak = (t == 0 || d > ids[(t - 1) * B + b]) && (t == T - 1 || d > ids[(t + 1) * B + b]);
            tags[t * B + b] = (float)peak;
        }
}

int main(void)
{
    recur_graph *g = recur_graph_new(9);
    recur_value ids = recur_input(g, "ids", recur_shape2(T, B)), tags = recur_input(g, "tags", recur_shape2(T, B));
    recur_rnn rnn;
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = E, .hidden = H, .layers = 2, .bidirectional = 1};
    if (recur_rnn_new(g, "bilstm", &o, recur_embedding(g, "emb", ids, V, E), RECUR_NONE, RECUR_NONE, &rnn) != RECUR_OK)
        return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    recur_value logits = recur_dense(g, "tagger", rnn.outputs, 2, 1); /* [T, B, 2] from [T, B, 2H] */
    recur_value loss = recur_softmax_xent(g, logits, tags, RECUR_NONE);
    if (!recur_ok(loss) || recur_unroll(g) != RECUR_OK) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    recur_value ps[32], gs[32], outs[34] = {loss, logits};
    int np = recur_params(g, ps, 32);
    recur_grad(g, loss, np, ps, gs);
    memcpy(outs + 2, gs, sizeof gs[0] * (size_t)np);
    recur_plan *plan = recur_compile(g, np + 2, outs, NULL);
    recur_optim_opts oo = recur_optim_defaults(RECUR_OPTIM_ADAM);
    oo.lr = 1e-2;
    recur_optim *opt = recur_optim_new(g, &oo, np, ps);
    if (!plan || !opt) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    printf("%d cells (layers x directions), %d parameter tensors\n", rnn.n_cells, np);
    float x[T * B], y[T * B], l = 0;
    for (int step = 1; step <= 200; step++) {
        batch(x, y);
        recur_plan_feed(plan, ids, x, T * B);
        recur_plan_feed(plan, tags, y, T * B);
        recur_plan_run(plan);
        recur_optim_step_plan(opt, plan, gs);
        recur_plan_fetch(plan, loss, &l, 1);
        if (step % 50 == 0) printf("step %d  loss %.4f\n", step, (double)l);
    }
    batch(x, y);
    recur_plan_feed(plan, ids, x, T * B);
    recur_plan_feed(plan, tags, y, T * B);
    recur_plan_run(plan);
    const float *z = recur_plan_output(plan, logits);
    int right = 0;
    for (int i = 0; i < T * B; i++) right += (z[2 * i + 1] > z[2 * i]) == (y[i] > 0.5f);
    printf("held-out tagging accuracy: %.1f%% of %d positions\n", 100.0 * right / (T * B), T * B);
    printf("digits: ");
    for (int t = 0; t < T; t++) printf("%d", (int)x[t * B]);
    printf("\npeaks:  ");
    for (int t = 0; t < T; t++) putchar(z[2 * (t * B) + 1] > z[2 * (t * B)] ? '^' : ' ');
    printf("\n");
    recur_optim_free(opt);
    recur_plan_free(plan);
    recur_graph_free(g);
    return 0;
}
