/*
 * tests/hand_cells.h — an LSTM and a GRU written by hand from primitive
 * ops, one product per gate and weight as a researcher writes them from
 * the equations (no concatenated weights): the custom cells that the
 * graph passes must make as fast as the built-in layers. Used by
 * tests/test_passes.c and bench/recur_rnn.c.
 */
#ifndef RECUR_TESTS_HAND_CELLS_H
#define RECUR_TESTS_HAND_CELLS_H

#include "recur.h"

/* A hand-written cell's weights: per gate W_k [H, in] and U_k [H, H]; four biases [H]. */
typedef struct hand_weights {
    recur_value W[4], U[4], b[4];
} hand_weights;

/*
 * LSTM step (recur_cell.step, user: a hand_weights), gates k = i, f, g, o:
 *   a_k = x W_k^T + b_k + h U_k^T,
 *   c' = sigmoid(a_f) c + sigmoid(a_i) tanh(a_g),  h' = sigmoid(a_o) tanh(c').
 */
recur_status hand_lstm_step(recur_graph *g, const recur_cell *c, recur_value x, const recur_value *s,
                            recur_value *next, recur_value *out);

/*
 * GRU step in PyTorch's form (user: a hand_weights; W/U 0..2 = r, z, n; b: b_r, b_z, b_in, b_hn):
 *   r = sigmoid(x W_r^T + b_r + h U_r^T),  z = sigmoid(x W_z^T + b_z + h U_z^T),
 *   n = tanh(x W_n^T + b_in + r (h U_n^T + b_hn)),  h' = (1 - z) n + z h.
 */
recur_status hand_gru_step(recur_graph *g, const recur_cell *c, recur_value x, const recur_value *s,
                           recur_value *next, recur_value *out);

#endif
