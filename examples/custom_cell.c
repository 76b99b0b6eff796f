/*
 * examples/custom_cell.c — a recurrent cell defined here, in user code, from
 * primitive ops: the minimal gated unit (Zhou et al. 2016),
 *   f  = sigmoid(W_f x + U_f h + b_f)
 *   n  = tanh(W_n x + U_n (f * h) + b_n)
 *   h' = (1 - f) h + f n.
 * recur unrolls it, differentiates it (checked here against finite
 * differences), trains it to predict a sum of sines from windows of 5
 * values read one per step, and draws it: rolled at op level (the cell's
 * ops inside its loop, the state fed back through the delay box) and
 * unrolled over the 5 steps, as SVG files in the directory given as the
 * first argument (default examples/out).
 *
 * Usage: custom_cell [OUTDIR]
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <sys/stat.h>

#include "recur.h"
#include "recur/draw.h"
#include "recur/optim.h"

enum { W = 5, N = 200, H = 8 };

typedef struct mgu {
    recur_value Wf, Uf, bf, Wn, Un, bn;
} mgu;

static recur_status mgu_step(recur_graph *g, const recur_cell *cell, recur_value x, const recur_value *state,
                             recur_value *next, recur_value *out)
{
    const mgu *p = cell->user;
    recur_value h = state[0];
    recur_value f = recur_sigmoid(g, recur_bias_add(g, recur_add(g, recur_matmul(g, x, p->Wf, 0, 1),
                                                                 recur_matmul(g, h, p->Uf, 0, 1)), p->bf));
    recur_value n = recur_tanh(g, recur_bias_add(g, recur_add(g, recur_matmul(g, x, p->Wn, 0, 1),
                                                              recur_matmul(g, recur_mul(g, f, h), p->Un, 0, 1)), p->bn));
    next[0] = *out = recur_add(g, recur_mul(g, recur_one_minus(g, f), h), recur_mul(g, f, n));
    return recur_ok(next[0]) ? RECUR_OK : recur_errcode(g);
}

int main(int argc, char **argv)
{
    const char *outdir = argc > 1 ? argv[1] : "examples/out";
    recur_graph *g = recur_graph_new(23);
    mgu p = {recur_param(g, "Wf", recur_shape2(H, 1), recur_init_xavier()),
             recur_param(g, "Uf", recur_shape2(H, H), recur_init_orthogonal(1)),
             recur_param(g, "bf", recur_shape1(H), recur_init_zeros()),
             recur_param(g, "Wn", recur_shape2(H, 1), recur_init_xavier()),
             recur_param(g, "Un", recur_shape2(H, H), recur_init_orthogonal(1)),
             recur_param(g, "bn", recur_shape1(H), recur_init_zeros())};
    recur_cell cell = {.name = "mgu", .n_state = 1, .state_size = {H}, .input_size = 1, .output_size = H,
                       .step = mgu_step, .user = &p};

    /* Windows of the series, read one value per step: xs [W, N, 1]; targets [N, 1]. */
    recur_value xs = recur_input(g, "xs", recur_shape3(W, N, 1)), ys = recur_input(g, "ys", recur_shape2(N, 1));
    recur_seq_result r;
    if (recur_cell_over(g, &cell, "mgu", xs, NULL, 0, &r) != RECUR_OK) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    recur_value pred = recur_dense(g, "out", r.final[0], 1, 1);
    recur_value loss = recur_mse(g, pred, ys);
    if (!recur_ok(loss)) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;

    /* Diagrams of the cell, before unrolling: rolled with every op, and unrolled over the window. */
    char path[512];
    mkdir(outdir, 0755);
    snprintf(path, sizeof path, "%s/custom_cell_rolled.svg", outdir);
    recur_draw_opts rolled = {.view = RECUR_VIEW_ROLLED, .level = RECUR_LEVEL_OP,
                              .title = "minimal gated unit (custom cell), rolled"};
    if (recur_draw(g, 1, &pred, &rolled, path) != RECUR_OK) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    printf("wrote %s\n", path);
    snprintf(path, sizeof path, "%s/custom_cell_unrolled.svg", outdir);
    recur_draw_opts unrolled = {.view = RECUR_VIEW_UNROLLED, .level = RECUR_LEVEL_CELL,
                                .title = "minimal gated unit (custom cell), unrolled over a window of 5"};
    if (recur_draw(g, 1, &pred, &unrolled, path) != RECUR_OK) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    printf("wrote %s\n", path);

    if (recur_unroll(g) != RECUR_OK) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;

    static float x[W * N], y[N];
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < W; k++) x[k * N + i] = (float)(sin(0.1 * (i + k)) + 0.5 * sin(0.3 * (i + k)));
        y[i] = (float)(sin(0.1 * (i + W)) + 0.5 * sin(0.3 * (i + W)));
    }
    recur_feed feeds[2] = {{xs, x, W * N}, {ys, y, N}};

    recur_value ps[8], gs[8], outs[9] = {loss};
    int np = recur_params(g, ps, 8);
    /* The custom cell's gradients, against central differences along random directions. */
    recur_gradcheck_report rep;
    recur_gradcheck_opts go = {.eps = 1e-2f, .n_directions = 8, .seed = 1};
    if (recur_gradcheck(g, loss, np, ps, 2, feeds, &go, &rep) != RECUR_OK) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    printf("gradient check of the custom cell: %d directions, worst relative error %.2e\n", rep.n_checks, rep.max_rel_err);

    recur_grad(g, loss, np, ps, gs);
    memcpy(outs + 1, gs, sizeof gs[0] * (size_t)np);
    recur_plan *plan = recur_compile(g, np + 1, outs, NULL);
    recur_optim_opts oo = recur_optim_defaults(RECUR_OPTIM_ADAM);
    oo.lr = 1e-2;
    recur_optim *opt = recur_optim_new(g, &oo, np, ps);
    if (!plan || !opt) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    recur_plan_feed(plan, xs, x, W * N);
    recur_plan_feed(plan, ys, y, N);
    float l = 0;
    for (int step = 0; step <= 600; step++) {
        recur_plan_run(plan);
        recur_plan_fetch(plan, loss, &l, 1);
        if (step % 150 == 0) printf("step %d  mse %.5f\n", step, (double)l);
        recur_optim_step_plan(opt, plan, gs);
    }
    recur_optim_free(opt);
    recur_plan_free(plan);
    recur_graph_free(g);
    return 0;
}
