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
 * A cell of one's own naming its gate: a gated RNN whose one gate keeps the
 * old state or lets the new one in,
 *   f = sigmoid(W_0 x + U_0 h + b_0),  h' = f h + (1 - f) tanh(W_1 x + U_1 h + b_1),
 * unrolled at the cell internals level, its steps numbered from 1, its
 * equations beside it.
 */
typedef struct gated {
    recur_value W[2], U[2], b[2]; /* 0: the gate, 1: the candidate state */
} gated;

/* W_k x + U_k h + b_k */
static recur_value gated_map(recur_graph *g, const gated *p, int k, recur_value x, recur_value h)
{
    return recur_bias_add(g, recur_add(g, recur_matmul(g, x, p->W[k], 0, 1), recur_matmul(g, h, p->U[k], 0, 1)), p->b[k]);
}

static recur_status gated_step(recur_graph *g, const recur_cell *cell, recur_value x, const recur_value *state,
                               recur_value *next, recur_value *out)
{
    const gated *p = cell->user;
    recur_value f = recur_name(g, recur_sigmoid(g, gated_map(g, p, 0, x, state[0])), "forget gate");
    recur_value keep = recur_mul(g, f, state[0]), new_part = recur_tanh(g, gated_map(g, p, 1, x, state[0]));
    next[0] = *out = recur_add(g, keep, recur_mul(g, recur_one_minus(g, f), new_part));
    return recur_ok(next[0]) ? RECUR_OK : recur_errcode(g);
}

static recur_status fig_custom_gates(void)
{
    recur_graph *g = recur_graph_new(12);
    gated p;
    const char *names[3][2] = {{"W_0", "W_1"}, {"U_0", "U_1"}, {"b_0", "b_1"}};
    for (int k = 0; k < 2; k++) {
        p.W[k] = recur_param(g, names[0][k], recur_shape2(4, 4), recur_init_xavier());
        p.U[k] = recur_param(g, names[1][k], recur_shape2(4, 4), recur_init_orthogonal(1));
        p.b[k] = recur_param(g, names[2][k], recur_shape1(4), recur_init_zeros());
    }
    recur_cell cell = {.name = "gated", .n_state = 1, .state_size = {4}, .input_size = 4, .output_size = 4,
                       .step = gated_step, .user = &p};
    recur_value x = recur_input(g, "x", recur_shape3(3, 1, 4));
    recur_seq_result r;
    TRY(recur_cell_over(g, &cell, "gated RNN", x, NULL, 0, &r));
    recur_value h = recur_name(g, r.outputs, "h");

    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .level = RECUR_LEVEL_INTERNALS, .equations = 1,
                         .one_based = 1};
    TRY(save(g, 1, &h, &o, "custom_gates"));
    recur_graph_free(g);
    return RECUR_OK;
}

