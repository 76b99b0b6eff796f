/*
 * examples/elman_rnn.c — the material's Elman network, written out op by op:
 *   h_t = tanh(W x_t + U h_{t-1} + b),  y_t = softmax(V h_t),
 * cross-entropy at every step, trained by BPTT to predict the next character
 * of a sentence, then run one step at a time (a stepper) to recite it.
 */
#include <stdio.h>
#include <string.h>

#include "recur.h"
#include "recur/optim.h"

static const char text[] = "it was the best of times, it was the worst of times.";

int main(void)
{
    enum { H = 48 };
    int T = (int)strlen(text) - 1, V = 0;
    char vocab[64] = "";
    for (const char *c = text; *c; c++)
        if (!strchr(vocab, *c)) vocab[V++] = *c;
    float in[64], out[64];
    for (int t = 0; t < T; t++) { /* inputs: characters 0..T-1; targets: 1..T */
        in[t] = (float)(strchr(vocab, text[t]) - vocab);
        out[t] = (float)(strchr(vocab, text[t + 1]) - vocab);
    }

    recur_graph *g = recur_graph_new(1);
    recur_value ids = recur_input(g, "ids", recur_shape2(T, 1)), targets = recur_input(g, "targets", recur_shape2(T, 1));
    recur_value W = recur_param(g, "W", recur_shape2(H, V), recur_init_xavier());
    recur_value U = recur_param(g, "U", recur_shape2(H, H), recur_init_orthogonal(1));
    recur_value b = recur_param(g, "b", recur_shape1(H), recur_init_zeros());
    recur_value Vw = recur_param(g, "V", recur_shape2(V, H), recur_init_xavier());

    recur_loop L = recur_loop_begin(g, "elman", 0);
    recur_value id_t = recur_loop_input(g, L, ids);                             /* the id at step t */
    recur_value x = recur_one_hot(g, id_t, V);                                  /* x_t [1, V] */
    recur_value h = recur_loop_state(g, L, "h", recur_fill(g, recur_shape2(1, H), 0));
    recur_value h1 = recur_tanh(g, recur_bias_add(g, recur_add(g, recur_matmul(g, x, W, 0, 1),
                                                              recur_matmul(g, h, U, 0, 1)), b));
    recur_value logits = recur_matmul(g, h1, Vw, 0, 1);                         /* V h_t */
    recur_value probs = recur_softmax(g, logits);                               /* y_t, for generation */
    recur_loop_next(g, L, h, h1);
    if (recur_loop_end(g, L) != RECUR_OK) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    recur_value loss = recur_softmax_xent(g, recur_loop_stacked(g, L, logits), targets, RECUR_NONE);

    /* A stepper for generation: it runs the body one step at a time. */
    recur_stepper *gen = recur_stepper_new(g, L, 1, &probs, NULL);
    if (!gen || recur_unroll(g) != RECUR_OK) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;

    recur_value params[4] = {W, U, b, Vw}, grads[4];
    recur_grad(g, loss, 4, params, grads);
    recur_plan *train = recur_compile(g, 5, (recur_value[]){loss, grads[0], grads[1], grads[2], grads[3]}, NULL);
    recur_optim_opts oo = recur_optim_defaults(RECUR_OPTIM_ADAM);
    oo.lr = 1e-2;
    oo.max_grad_norm = 5; /* clipping: the remedy for exploding gradients */
    recur_optim *opt = recur_optim_new(g, &oo, 4, params);
    if (!train || !opt) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    recur_plan_feed(train, ids, in, T);
    recur_plan_feed(train, targets, out, T);
    for (int step = 0; step <= 300; step++) {
        recur_plan_run(train);
        float l;
        recur_plan_fetch(train, loss, &l, 1);
        recur_optim_step_plan(opt, train, grads);
        if (step % 50 == 0) printf("step %3d  loss %.4f  gradient norm %.3f\n", step, (double)l, recur_optim_grad_norm(opt));
    }

    /* Recite: feed "it", then always the most likely next character. */
    printf("recited: it");
    float id = (float)(strchr(vocab, 'i') - vocab);
    for (int t = 0; t < T; t++) {
        recur_stepper_feed(gen, id_t, &id, 1);
        recur_stepper_step(gen);
        const float *p = recur_stepper_output(gen, probs);
        if (t == 0) { id = (float)(strchr(vocab, 't') - vocab); continue; } /* the prompt's second character */
        int best = 0;
        for (int v = 1; v < V; v++) best = p[v] > p[best] ? v : best;
        putchar(vocab[best]);
        id = (float)best;
    }
    putchar('\n');
    recur_optim_free(opt);
    recur_plan_free(train);
    recur_stepper_free(gen);
    recur_graph_free(g);
    return 0;
}
