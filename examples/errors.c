/*
 * examples/errors.c — what recur says when something is wrong. Four
 * mistakes, each reported by the object it was made on and printed:
 *   1. operands whose shapes do not fit (a builder fails, and so does every
 *      builder given its result: the expression is checked once at its end);
 *   2. running a plan whose input was never fed;
 *   3. data out of range at run time (a token id past the embedding table);
 *   4. a NaN, traced to the op that made it by a plan compiled with
 *      check_finite.
 * Exits 0 when every mistake was reported, 1 if one went unnoticed.
 */
#include <stdio.h>

#include "recur.h"

static int reported(int n, recur_status st, const char *msg)
{
    printf("%d. %s: %s\n", n, recur_status_str(st), msg);
    return st != RECUR_OK;
}

int main(void)
{
    recur_graph *g = recur_graph_new(1);
    if (!g) return 1;
    int caught = 0;

    /* 1. [2, 3] + [4, 3] does not broadcast; tanh of the failed sum fails too, keeping the first message. */
    recur_value a = recur_input(g, "a", recur_shape2(2, 3)), b = recur_input(g, "b", recur_shape2(4, 3));
    recur_value c = recur_tanh(g, recur_add(g, a, b));
    if (!recur_ok(c)) caught += reported(1, recur_errcode(g), recur_errmsg(g));
    recur_clear_error(g); /* the graph is as it was before the failed call, and usable */

    /* 2. A plan run before its input is fed. */
    recur_value twice = recur_scale(g, a, 2);
    recur_plan *p = recur_compile(g, 1, &twice, NULL);
    if (!p) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    recur_status st = recur_plan_run(p);
    if (st != RECUR_OK) caught += reported(2, st, recur_plan_errmsg(p));
    recur_plan_free(p);

    /* 3. Token 12 of a 10-row embedding table. */
    recur_value ids = recur_input(g, "ids", recur_shape1(3));
    recur_value rows = recur_embedding(g, "emb", ids, 10, 4);
    p = recur_compile(g, 1, &rows, NULL);
    if (!p) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    float bad[3] = {1, 2, 12};
    recur_plan_feed(p, ids, bad, 3);
    st = recur_plan_run(p);
    if (st != RECUR_OK) caught += reported(3, st, recur_plan_errmsg(p));
    recur_plan_free(p);

    /* 4. log(-1) is NaN: with check_finite the run stops at the node that made it. */
    recur_value v = recur_input(g, "v", recur_shape1(2));
    recur_value loss = recur_sum(g, recur_log(g, v));
    p = recur_compile(g, 1, &loss, &(recur_compile_opts){.check_finite = 1});
    if (!p) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    float x[2] = {1, -1};
    recur_plan_feed(p, v, x, 2);
    st = recur_plan_run(p);
    if (st != RECUR_OK) caught += reported(4, st, recur_plan_errmsg(p));
    recur_plan_free(p);

    recur_graph_free(g);
    printf("%d of 4 mistakes reported\n", caught);
    return caught == 4 ? 0 : 1;
}
