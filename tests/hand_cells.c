/* tests/hand_cells.c — the hand-written LSTM and GRU cells (see hand_cells.h). */
#include "hand_cells.h"

recur_status hand_lstm_step(recur_graph *g, const recur_cell *c, recur_value x, const recur_value *s,
                            recur_value *next, recur_value *out)
{
    const hand_weights *w = c->user;
    recur_value a[4];
    for (int k = 0; k < 4; k++)
        a[k] = recur_add(g, recur_bias_add(g, recur_matmul(g, x, w->W[k], 0, 1), w->b[k]),
                         recur_matmul(g, s[0], w->U[k], 0, 1));
    next[1] = recur_add(g, recur_mul(g, recur_sigmoid(g, a[1]), s[1]), recur_mul(g, recur_sigmoid(g, a[0]), recur_tanh(g, a[2])));
    next[0] = *out = recur_mul(g, recur_sigmoid(g, a[3]), recur_tanh(g, next[1]));
    return recur_ok(next[0]) ? RECUR_OK : recur_errcode(g);
}

recur_status hand_gru_step(recur_graph *g, const recur_cell *c, recur_value x, const recur_value *s,
                           recur_value *next, recur_value *out)
{
    const hand_weights *w = c->user;
    recur_value h = s[0], xa[3], ha[3];
    for (int k = 0; k < 3; k++) {
        xa[k] = recur_bias_add(g, recur_matmul(g, x, w->W[k], 0, 1), w->b[k]);
        ha[k] = recur_matmul(g, h, w->U[k], 0, 1);
    }
    recur_value r = recur_sigmoid(g, recur_add(g, xa[0], ha[0])), z = recur_sigmoid(g, recur_add(g, xa[1], ha[1]));
    recur_value n = recur_tanh(g, recur_add(g, xa[2], recur_mul(g, r, recur_bias_add(g, ha[2], w->b[3]))));
    next[0] = *out = recur_add(g, recur_mul(g, recur_one_minus(g, z), n), recur_mul(g, z, h));
    return recur_ok(next[0]) ? RECUR_OK : recur_errcode(g);
}
