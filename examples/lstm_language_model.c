/*
 * examples/lstm_language_model.c — a character-level LSTM language model
 * over a short text, in the dozen lines the README shows: embed, LSTM,
 * dense to the vocabulary, cross-entropy at every step, BPTT with Adam;
 * then sampling with temperature from a stepper.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "recur.h"
#include "recur/optim.h"

static const char text[] =
    "it was the best of times, it was the worst of times, it was the age of wisdom, "
    "it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity.";

int main(void)
{
    enum { T = 32, B = 8, E = 16, H = 64 };
    int n = (int)strlen(text), V = 0;
    char vocab[96] = "";
    for (int i = 0; i < n; i++)
        if (!strchr(vocab, text[i])) vocab[V++] = text[i];

    /* The model: ids [T, B] -> embedding -> LSTM -> dense -> logits [T, B, V]. */
    recur_graph *g = recur_graph_new(3);
    recur_value ids = recur_input(g, "ids", recur_shape2(T, B)), next = recur_input(g, "next", recur_shape2(T, B));
    recur_rnn lstm;
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = E, .hidden = H};
    if (recur_rnn_new(g, "lstm", &o, recur_embedding(g, "emb", ids, V, E), RECUR_NONE, RECUR_NONE, &lstm) != RECUR_OK)
        return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    recur_value loss = recur_softmax_xent(g, recur_dense(g, "out", lstm.outputs, V, 1), next, RECUR_NONE);
    if (!recur_ok(loss) || recur_unroll(g) != RECUR_OK) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    recur_value params[16], outs[17] = {loss}, *grads = outs + 1; /* the loss, then its gradients */
    int np = recur_params(g, params, 16);
    recur_grad(g, loss, np, params, grads);
    recur_plan *train = recur_compile(g, 1 + np, outs, NULL);
    recur_optim_opts oo = recur_optim_defaults(RECUR_OPTIM_ADAM);
    oo.lr = 5e-3;
    recur_optim *opt = recur_optim_new(g, &oo, np, params);
    if (!train || !opt) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;

    float x[T * B], y[T * B];
    for (int step = 0; step <= 400; step++) {
        for (int b = 0; b < B; b++) { /* B windows at random offsets, time-major */
            int at = (step * 37 + b * 53) % (n - T - 1);
            for (int t = 0; t < T; t++) {
                x[t * B + b] = (float)(strchr(vocab, text[at + t]) - vocab);
                y[t * B + b] = (float)(strchr(vocab, text[at + t + 1]) - vocab);
            }
        }
        recur_plan_feed(train, ids, x, T * B);
        recur_plan_feed(train, next, y, T * B);
        recur_plan_run(train);
        float l;
        recur_plan_fetch(train, loss, &l, 1);
        if (step % 100 == 0) printf("step %3d  loss %.3f\n", step, (double)l);
        recur_optim_step_plan(opt, train, grads);
    }

    /* Generation: the same layers over one step and one sequence, built under the same
     * names so they share the trained weights; the final states are carried into the
     * initial states of the next step (recur_tbptt does exactly that). */
    recur_value id1 = recur_input(g, "id1", recur_shape2(1, 1));
    recur_value h0 = recur_input(g, "gen.h0", recur_shape3(1, 1, H)), c0 = recur_input(g, "gen.c0", recur_shape3(1, 1, H));
    recur_rnn gen;
    if (recur_rnn_new(g, "lstm", &o, recur_embedding(g, "emb", id1, V, E), h0, c0, &gen) != RECUR_OK)
        return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    recur_value probs = recur_softmax(g, recur_scale(g, recur_dense(g, "out", gen.outputs, V, 1), 1 / 0.5f)); /* temperature 0.5 */
    if (!recur_ok(probs) || recur_unroll(g) != RECUR_OK) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    /* keep_packed_params: the step reads its weights from copies laid out for one row at a time */
    recur_compile_opts gen_opts = {.inference = 1, .keep_packed_params = 1};
    recur_plan *step = recur_compile(g, 3, (recur_value[]){probs, gen.h_n, gen.c_n}, &gen_opts);
    recur_tbptt *carry = step ? recur_tbptt_new(step, 2, (recur_value[]){h0, c0}, (recur_value[]){gen.h_n, gen.c_n}) : NULL;
    if (!carry) return fprintf(stderr, "%s\n", step ? recur_plan_errmsg(step) : recur_errmsg(g)), 1;
    uint64_t seed = 42;
    float id = (float)(strchr(vocab, 'i') - vocab);
    printf("sample (temperature 0.5): i");
    for (int i = 0; i < 120; i++) {
        recur_plan_feed(step, id1, &id, 1);
        recur_tbptt_run(carry);
        const float *p = recur_plan_output(step, probs);
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(seed >> 11) * 0x1.0p-53, acc = 0;
        int c = 0;
        while (c < V - 1 && (acc += p[c]) < u) c++; /* draw from the distribution */
        putchar(vocab[c]);
        id = (float)c;
    }
    putchar('\n');
    recur_tbptt_free(carry);
    recur_plan_free(step);
    recur_optim_free(opt);
    recur_plan_free(train);
    recur_graph_free(g);
    return 0;
}
