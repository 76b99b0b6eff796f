/* The code that drew this figure, cut from examples/gallery.c. */
#include <stdio.h>

#include "recur.h"

/* save(g, n, outputs, &opts, "stem") draws stem.svg and stem.png (examples/gallery.c). */

/* Stops a figure at its first failure, with the graph's message. */
#define TRY(st)                                                                     \
    do {                                                                            \
        recur_status st_ = (st);                                                    \
        if (st_ != RECUR_OK) {                                                      \
            fprintf(stderr, "gallery: %s: %s\n", __func__, recur_errmsg(g));        \
            recur_graph_free(g);                                                    \
            return st_;                                                             \
        }                                                                           \
    } while (0)

/*
 * A cell of one's own naming its gate: the minimal gated unit (Zhou et al.
 * 2016), f = sigmoid(W_f x + U_f h + b_f), n = tanh(W_n x + U_n (f h) + b_n),
 * h' = (1 - f) h + f n; unrolled at the cell internals level, its steps
 * numbered from 1, its equations beside it.
 */
typedef struct mgu {
    recur_value Wf, Uf, bf, Wn, Un, bn;
} mgu;

static recur_status mgu_step(recur_graph *g, const recur_cell *cell, recur_value x, const recur_value *state,
                             recur_value *next, recur_value *out)
{
    const mgu *p = cell->user;
    recur_value h = state[0];
    recur_value f = recur_name(g, recur_sigmoid(g, recur_bias_add(g, recur_add(g, recur_matmul(g, x, p->Wf, 0, 1),
                                                                                  recur_matmul(g, h, p->Uf, 0, 1)), p->bf)),
                               "forget gate");
    recur_value n = recur_tanh(g, recur_bias_add(g, recur_add(g, recur_matmul(g, x, p->Wn, 0, 1),
                                                              recur_matmul(g, recur_mul(g, f, h), p->Un, 0, 1)), p->bn));
    next[0] = *out = recur_add(g, recur_mul(g, recur_one_minus(g, f), h), recur_mul(g, f, n));
    return recur_ok(next[0]) ? RECUR_OK : recur_errcode(g);
}

static recur_status fig_custom_gates(void)
{
    recur_graph *g = recur_graph_new(12);
    mgu p = {recur_param(g, "W_f", recur_shape2(4, 4), recur_init_xavier()),
             recur_param(g, "U_f", recur_shape2(4, 4), recur_init_orthogonal(1)),
             recur_param(g, "b_f", recur_shape1(4), recur_init_zeros()),
             recur_param(g, "W_n", recur_shape2(4, 4), recur_init_xavier()),
             recur_param(g, "U_n", recur_shape2(4, 4), recur_init_orthogonal(1)),
             recur_param(g, "b_n", recur_shape1(4), recur_init_zeros())};
    recur_cell cell = {.name = "mgu", .n_state = 1, .state_size = {4}, .input_size = 4, .output_size = 4,
                       .step = mgu_step, .user = &p};
    recur_value x = recur_input(g, "x", recur_shape3(3, 1, 4));
    recur_seq_result r;
    TRY(recur_cell_over(g, &cell, "MGU", x, NULL, 0, &r));
    recur_value h = recur_name(g, r.outputs, "h");

    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .level = RECUR_LEVEL_INTERNALS, .equations = 1,
                         .one_based = 1};
    TRY(save(g, 1, &h, &o, "custom_gates"));
    recur_graph_free(g);
    return RECUR_OK;
}

