/* hello.c — an Elman RNN over a sequence of 3 steps, run once; the README's first program. */
#include <stdio.h>
#include <recur.h>

int main(void)
{
    recur_graph *g = recur_graph_new(42);                         /* 42 seeds the initializers */
    recur_value xs = recur_input(g, "xs", recur_shape3(3, 1, 2)); /* [T = 3 steps, B = 1, 2 features] */
    recur_rnn_opts o = {.kind = RECUR_RNN_TANH, .input_size = 2, .hidden = 4};
    recur_rnn rnn;
    if (recur_rnn_new(g, "rnn", &o, xs, RECUR_NONE, RECUR_NONE, &rnn) != RECUR_OK || recur_unroll(g) != RECUR_OK)
        return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    recur_plan *p = recur_compile(g, 1, &rnn.h_n, NULL);         /* h after the last step */
    if (!p) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    float x[6] = {1, 0, 0, 1, 1, 1}, h[4];
    if (recur_plan_feed(p, xs, x, 6) != RECUR_OK || recur_plan_run(p) != RECUR_OK ||
        recur_plan_fetch(p, rnn.h_n, h, 4) != RECUR_OK)
        return fprintf(stderr, "%s\n", recur_plan_errmsg(p)), 1;
    printf("recur %s: h_3 = [%.4f %.4f %.4f %.4f]\n", recur_version(), h[0], h[1], h[2], h[3]);
    recur_plan_free(p);
    recur_graph_free(g);
    return 0;
}
