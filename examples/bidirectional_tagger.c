/*
 * examples/bidirectional_tagger.c — many-to-many with context from both
 * sides, over sentences of different lengths: a 2-layer bidirectional
 * LSTM tags each digit of a "sentence" of 3 to 12 digits with whether it
 * is larger than both of its neighbours (at the sentence's ends, than its
 * one neighbour), a question a forward-only RNN cannot answer at the
 * position itself.
 *
 * A batch pads its sentences to T = 12 steps with random digits and gives
 * their lengths [B] (recur_rnn_opts.lengths): each loop stops each
 * sentence at its own last digit, and the reverse half of each layer
 * starts there, so a sentence's last digit is tagged against its real
 * neighbour and not the padding. The loss is the cross-entropy over the
 * real positions only (a mask from the lengths, recur_length_mask). At the
 * end one sentence is tagged alone (the same layers over exactly its
 * length, a batch of 1) and inside a padded batch, then again with other
 * padding: the scores agree.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "recur.h"
#include "recur/optim.h"

enum { T = 12, B = 32, V = 10, E = 8, H = 24, MIN_LEN = 3, STEPS = 300 };

/* The sentence shown at the end, tagged alone and in a batch. */
static const float demo[] = {3, 8, 1, 5, 9, 2, 7};
enum { DEMO_LEN = (int)(sizeof demo / sizeof demo[0]) };

static uint64_t rng = 11;

/* A uniform whole number in [0, n). */
static int uniform(int n)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (int)((rng >> 33) % (uint64_t)n);
}

/* tags [T, B] of sentences ids [T, B] of lengths lens [B]: 1 at a digit larger than its neighbours in its sentence. */
static void tag(const float *ids, const float *lens, float *tags)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int len = (int)lens[b];
            float d = ids[t * B + b];
            int peak = t < len && (t == 0 || d > ids[(t - 1) * B + b]) && (t == len - 1 || d > ids[(t + 1) * B + b]);
            tags[t * B + b] = (float)peak;
        }
}

/* New padding: random digits past each sentence's end. */
static void repad(float *ids, const float *lens)
{
    for (int b = 0; b < B; b++)
        for (int t = (int)lens[b]; t < T; t++) ids[t * B + b] = (float)uniform(V);
}

/* A batch of B random sentences of MIN_LEN..T digits, padded with random digits, and their tags. */
static void batch(float *ids, float *lens, float *tags)
{
    for (int b = 0; b < B; b++) lens[b] = (float)(MIN_LEN + uniform(T - MIN_LEN + 1));
    for (int i = 0; i < T * B; i++) ids[i] = (float)uniform(V);
    tag(ids, lens, tags);
}

/*
 * The tagger over ids [steps, n] (lengths [n], or RECUR_NONE for
 * sentences of exactly `steps` digits): embedding, bidirectional LSTM,
 * dense scores [steps, n, 2]. Built twice, it shares its parameters by
 * name.
 */
static recur_value tagger(recur_graph *g, recur_value ids, recur_value lens, int *n_cells)
{
    recur_rnn rnn;
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = E, .hidden = H, .layers = 2, .bidirectional = 1,
                        .lengths = recur_ok(lens) ? &lens : NULL};
    if (recur_rnn_new(g, "bilstm", &o, recur_embedding(g, "emb", ids, V, E), RECUR_NONE, RECUR_NONE, &rnn) != RECUR_OK)
        return RECUR_NONE;
    *n_cells = rnn.n_cells;
    return recur_dense(g, "tagger", rnn.outputs, 2, 1); /* [steps, n, 2] from [steps, n, 2H] */
}

/* The largest difference between the scores of column b of a batch [T, B, 2] and of a sentence alone [len, 1, 2]. */
static double column_vs_alone(const float *batch_z, int b, const float *alone_z, int len)
{
    double worst = 0;
    for (int t = 0; t < len; t++)
        for (int k = 0; k < 2; k++) worst = fmax(worst, fabs(batch_z[(t * B + b) * 2 + k] - alone_z[t * 2 + k]));
    return worst;
}

int main(void)
{
    recur_graph *g = recur_graph_new(9);
    recur_value ids = recur_input(g, "ids", recur_shape2(T, B)), tags = recur_input(g, "tags", recur_shape2(T, B));
    recur_value lens = recur_input(g, "lens", recur_shape1(B));        /* each sentence's length, 3..T */
    recur_value one = recur_input(g, "one", recur_shape2(DEMO_LEN, 1)); /* a sentence alone, no padding */
    int n_cells = 0;
    recur_value logits = tagger(g, ids, lens, &n_cells), alone = tagger(g, one, RECUR_NONE, &n_cells);
    recur_value loss = recur_softmax_xent(g, logits, tags, recur_length_mask(g, lens, T)); /* real positions only */
    if (!recur_ok(alone) || !recur_ok(loss) || recur_unroll(g) != RECUR_OK)
        return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    recur_value ps[32], gs[32], outs[33] = {loss};
    int np = recur_params(g, ps, 32);
    if (recur_grad(g, loss, np, ps, gs) != RECUR_OK) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    memcpy(outs + 1, gs, sizeof gs[0] * (size_t)np);
    recur_plan *plan = recur_compile(g, np + 1, outs, NULL);
    recur_plan *scores = recur_compile(g, 1, &logits, &(recur_compile_opts){.inference = 1});
    recur_plan *single = recur_compile(g, 1, &alone, &(recur_compile_opts){.inference = 1});
    recur_optim_opts oo = recur_optim_defaults(RECUR_OPTIM_ADAM);
    oo.lr = 1e-2;
    recur_optim *opt = recur_optim_new(g, &oo, np, ps);
    if (!plan || !scores || !single || !opt) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    printf("%d cells (layers x directions), %d parameter tensors; sentences of %d to %d digits padded to %d\n", n_cells,
           np, MIN_LEN, T, T);

    float x[T * B], y[T * B], len[B], l = 0;
    for (int step = 1; step <= STEPS; step++) {
        batch(x, len, y);
        recur_plan_feed(plan, ids, x, T * B);
        recur_plan_feed(plan, lens, len, B);
        recur_plan_feed(plan, tags, y, T * B);
        if (recur_plan_run(plan) != RECUR_OK || recur_optim_step_plan(opt, plan, gs) != RECUR_OK)
            return fprintf(stderr, "%s\n", recur_plan_errmsg(plan)), 1;
        recur_plan_fetch(plan, loss, &l, 1);
        if (step % 50 == 0) printf("step %d  loss %.4f (mean over the real positions)\n", step, (double)l);
    }

    /* Held out: a new batch, with the demo sentence in column 0; accuracy over the real positions. */
    batch(x, len, y);
    len[0] = DEMO_LEN;
    for (int t = 0; t < DEMO_LEN; t++) x[t * B] = demo[t];
    tag(x, len, y);
    recur_plan_feed(scores, ids, x, T * B);
    recur_plan_feed(scores, lens, len, B);
    if (recur_plan_run(scores) != RECUR_OK) return fprintf(stderr, "%s\n", recur_plan_errmsg(scores)), 1;
    static float z[T * B * 2], z2[T * B * 2];
    memcpy(z, recur_plan_output(scores, logits), sizeof z);
    int right = 0, real = 0;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            int i = t * B + b;
            if (t >= (int)len[b]) continue;
            real++;
            right += (z[2 * i + 1] > z[2 * i]) == (y[i] > 0.5f);
        }
    printf("held-out tagging accuracy: %.1f%% of %d real positions (the padding's %d left out)\n",
           100.0 * right / real, real, T * B - real);

    /* The demo sentence alone, over exactly its length, against its column of the padded batch. */
    recur_plan_feed(single, one, demo, DEMO_LEN);
    if (recur_plan_run(single) != RECUR_OK) return fprintf(stderr, "%s\n", recur_plan_errmsg(single)), 1;
    const float *za = recur_plan_output(single, alone);
    printf("digits: ");
    for (int t = 0; t < DEMO_LEN; t++) printf("%d", (int)demo[t]);
    printf("      (a sentence of %d digits)\nalone:  ", DEMO_LEN);
    for (int t = 0; t < DEMO_LEN; t++) putchar(za[2 * t + 1] > za[2 * t] ? '^' : ' ');
    printf("      (peaks, tagged alone: one sequence of %d steps)\nbatch:  ", DEMO_LEN);
    for (int t = 0; t < DEMO_LEN; t++) putchar(z[2 * (t * B) + 1] > z[2 * (t * B)] ? '^' : ' ');
    printf("      (tagged in column 0 of a batch of %d padded to %d)\n", B, T);
    printf("largest score difference, alone against in the padded batch: %.2g\n", column_vs_alone(z, 0, za, DEMO_LEN));

    /* The same sentences with other padding: every real position's scores are unchanged. */
    repad(x, len);
    recur_plan_feed(scores, ids, x, T * B);
    if (recur_plan_run(scores) != RECUR_OK) return fprintf(stderr, "%s\n", recur_plan_errmsg(scores)), 1;
    memcpy(z2, recur_plan_output(scores, logits), sizeof z2);
    double worst = 0;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            for (int k = 0; k < 2 && t < (int)len[b]; k++)
                worst = fmax(worst, fabs(z[(t * B + b) * 2 + k] - z2[(t * B + b) * 2 + k]));
    printf("largest score difference over the batch's %d real positions with other padding digits: %.2g\n", real,
           worst);

    recur_optim_free(opt);
    recur_plan_free(single);
    recur_plan_free(scores);
    recur_plan_free(plan);
    recur_graph_free(g);
    return 0;
}
