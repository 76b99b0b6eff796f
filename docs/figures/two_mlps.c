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
 * An RNN as two MLPs whose outputs are summed: a cell written by hand,
 * naming its two maps, drawn at the cell internals level.
 */
typedef struct two_mlps {
    recur_value Wx, bx, Wh, bh;
} two_mlps;

static recur_status two_mlps_step(recur_graph *g, const recur_cell *cell, recur_value x, const recur_value *state,
                                  recur_value *next, recur_value *out)
{
    const two_mlps *p = cell->user;
    recur_value mx = recur_name(g, recur_bias_add(g, recur_matmul(g, x, p->Wx, 0, 1), p->bx), "MLP of x");
    recur_value mh = recur_name(g, recur_bias_add(g, recur_matmul(g, state[0], p->Wh, 0, 1), p->bh), "MLP of h");
    next[0] = *out = recur_tanh(g, recur_add(g, mx, mh));
    return recur_ok(next[0]) ? RECUR_OK : recur_errcode(g);
}

static recur_status fig_two_mlps(void)
{
    recur_graph *g = recur_graph_new(11);
    two_mlps p = {recur_param(g, "Wx", recur_shape2(8, 8), recur_init_xavier()),
                  recur_param(g, "bx", recur_shape1(8), recur_init_zeros()),
                  recur_param(g, "Wh", recur_shape2(8, 8), recur_init_orthogonal(1)),
                  recur_param(g, "bh", recur_shape1(8), recur_init_zeros())};
    recur_cell cell = {.name = "rnn", .n_state = 1, .state_size = {8}, .input_size = 8, .output_size = 8,
                       .step = two_mlps_step, .user = &p};
    recur_value x = recur_input(g, "x", recur_shape3(5, 1, 8));
    recur_seq_result r;
    TRY(recur_cell_over(g, &cell, "rnn", x, NULL, 0, &r));
    recur_value h = recur_name(g, r.outputs, "h");

    recur_draw_opts o = {.view = RECUR_VIEW_ROLLED, .level = RECUR_LEVEL_INTERNALS, .equations = 1};
    TRY(save(g, 1, &h, &o, "two_mlps"));
    recur_graph_free(g);
    return RECUR_OK;
}

