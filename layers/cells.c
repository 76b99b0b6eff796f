/*
 * layers/cells.c — the built-in recurrent cells, each one time step
 * written with primitive ops (so fusion, gradients and diagrams come from
 * the general machinery, not from cell-specific code).
 *
 * With gi = x W_ih^T + b_ih and gh = h W_hh^T + b_hh (PyTorch's layout):
 *   RNN:   h' = act(gi + gh)
 *   LSTM:  [i f g o] = gi + gh;  c' = sigmoid(f) c + sigmoid(i) tanh(g);
 *          h' = sigmoid(o) tanh(c')
 *   GRU:   [r_i z_i n_i] = gi, [r_h z_h n_h] = gh;  r = sigmoid(r_i + r_h),
 *          z = sigmoid(z_i + z_h),  n = tanh(n_i + r * n_h),
 *          h' = (1 - z) n + z h
 *   GRU (Cho et al.):  n = tanh(n_i + (r * h) W_hn^T + b_hn), the rest as GRU.
 * Options (ONNX's cells): with clip, every gate preactivation is clipped to
 * [-clip, clip] before its activation; an LSTM with peepholes adds P_i c
 * and P_f c (the previous cell state) to i's and f's preactivations and
 * P_o c' (the new one) to o's.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layer_param.h"

enum { W_IH, W_HH, B_IH, B_HH };

const char *recur_cell_kind_name(recur_cell_kind kind)
{
    switch (kind) {
    case RECUR_RNN_TANH: return "rnn_tanh";
    case RECUR_RNN_RELU: return "rnn_relu";
    case RECUR_LSTM: return "lstm";
    case RECUR_GRU: return "gru";
    case RECUR_GRU_CHO: return "gru_cho";
    }
    return "unknown";
}

/* x W^T + b for a step input [B, I] and a weight [G*H, I]. */
static recur_value affine(recur_graph *g, recur_value x, recur_value W, recur_value b)
{
    return recur_bias_add(g, recur_matmul(g, x, W, 0, 1), b);
}

static recur_status built(recur_graph *g, const recur_value *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!recur_ok(v[i])) return recur_errcode(g) != RECUR_OK ? recur_errcode(g) : RECUR_ERR_STATE;
    return RECUR_OK;
}

/* A gate's preactivation as the activation reads it: clipped to [-c, c] when the cell clips. */
static recur_value clipped(recur_graph *g, const recur_cell *c, recur_value a)
{
    return c->clip > 0 ? recur_clip(g, a, c->clip) : a;
}

/* a + P_k s for peephole row k, when the cell has peepholes. */
static recur_value peep(recur_graph *g, const recur_cell *c, recur_value a, int k, recur_value s)
{
    if (!recur_ok(c->peephole)) return a;
    return recur_add(g, a, recur_mul(g, s, recur_take(g, c->peephole, 0, k)));
}

static recur_status rnn_step(recur_graph *g, const recur_cell *c, recur_value x, const recur_value *state,
                             recur_value *next, recur_value *out)
{
    recur_value pre = recur_add(g, affine(g, x, c->param[W_IH], c->param[B_IH]),
                                affine(g, state[0], c->param[W_HH], c->param[B_HH]));
    pre = clipped(g, c, pre);
    next[0] = c->kind == RECUR_RNN_RELU ? recur_relu(g, pre) : recur_tanh(g, pre);
    *out = next[0];
    return built(g, next, 1);
}

static recur_status lstm_step(recur_graph *g, const recur_cell *c, recur_value x, const recur_value *state,
                              recur_value *next, recur_value *out)
{
    recur_value gates = recur_add(g, affine(g, x, c->param[W_IH], c->param[B_IH]),
                                  affine(g, state[0], c->param[W_HH], c->param[B_HH]));
    recur_value q[4];
    recur_status st = recur_split(g, gates, 1, 4, q);
    if (st != RECUR_OK) return st;
    recur_value i = recur_sigmoid(g, clipped(g, c, peep(g, c, q[0], 0, state[1])));
    recur_value f = recur_sigmoid(g, clipped(g, c, peep(g, c, q[1], 1, state[1])));
    recur_value gg = recur_tanh(g, clipped(g, c, q[2]));
    next[1] = recur_add(g, recur_mul(g, f, state[1]), recur_mul(g, i, gg));
    recur_value o = recur_sigmoid(g, clipped(g, c, peep(g, c, q[3], 2, next[1])));
    next[0] = recur_mul(g, o, recur_tanh(g, next[1]));
    *out = next[0];
    return built(g, next, 2);
}

static recur_status gru_step(recur_graph *g, const recur_cell *c, recur_value x, const recur_value *state,
                             recur_value *next, recur_value *out)
{
    recur_value h = state[0], xi[3], hh[3];
    recur_status st = recur_split(g, affine(g, x, c->param[W_IH], c->param[B_IH]), 1, 3, xi);
    if (st != RECUR_OK) return st;
    recur_value n;
    if (c->kind == RECUR_GRU) {
        if ((st = recur_split(g, affine(g, h, c->param[W_HH], c->param[B_HH]), 1, 3, hh)) != RECUR_OK) return st;
        recur_value r = recur_sigmoid(g, clipped(g, c, recur_add(g, xi[0], hh[0])));
        recur_value z = recur_sigmoid(g, clipped(g, c, recur_add(g, xi[1], hh[1])));
        n = recur_tanh(g, clipped(g, c, recur_add(g, xi[2], recur_mul(g, r, hh[2]))));
        next[0] = recur_add(g, recur_mul(g, recur_one_minus(g, z), n), recur_mul(g, z, h));
    } else {
        /* Cho et al.: the reset gate scales h before W_hn. W_hh's rows split as [W_hr; W_hz; W_hn]. */
        int64_t H = c->state_size[0];
        recur_value Wrz = recur_slice(g, c->param[W_HH], 0, 0, 2 * H);
        recur_value Wn = recur_slice(g, c->param[W_HH], 0, 2 * H, H);
        recur_value brz = recur_slice(g, c->param[B_HH], 0, 0, 2 * H);
        recur_value bn = recur_slice(g, c->param[B_HH], 0, 2 * H, H);
        recur_value rz[2];
        if ((st = recur_split(g, affine(g, h, Wrz, brz), 1, 2, rz)) != RECUR_OK) return st;
        recur_value r = recur_sigmoid(g, clipped(g, c, recur_add(g, xi[0], rz[0])));
        recur_value z = recur_sigmoid(g, clipped(g, c, recur_add(g, xi[1], rz[1])));
        n = recur_tanh(g, clipped(g, c, recur_add(g, xi[2], affine(g, recur_mul(g, r, h), Wn, bn))));
        next[0] = recur_add(g, recur_mul(g, recur_one_minus(g, z), n), recur_mul(g, z, h));
    }
    *out = next[0];
    return built(g, next, 1);
}

recur_status recur_cell_new(recur_graph *g, recur_cell *cell, recur_cell_kind kind, const char *prefix,
                            const char *suffix, int64_t input_size, int64_t hidden)
{
    return recur_cell_new_opts(g, cell, kind, prefix, suffix, input_size, hidden, NULL);
}

recur_status recur_cell_new_opts(recur_graph *g, recur_cell *cell, recur_cell_kind kind, const char *prefix,
                                 const char *suffix, int64_t input_size, int64_t hidden, const recur_cell_opts *opts)
{
    if (!g) return RECUR_ERR_ARG;
    recur_cell_opts o = opts ? *opts : (recur_cell_opts){0};
    if (!(o.clip >= 0) || (o.peepholes && kind != RECUR_LSTM))
        return recur_set_error(g, RECUR_ERR_ARG, "cell_new: %s (clip %g, peepholes %d)",
                               o.peepholes && kind != RECUR_LSTM ? "only an LSTM has peepholes"
                                                                 : "the clip bound must be a number >= 0 (0: none)",
                               (double)o.clip, o.peepholes);
    if (!cell || input_size < 1 || hidden < 1)
        return recur_set_error(g, RECUR_ERR_ARG, "cell_new: need a cell and sizes >= 1 (input %lld, hidden %lld)",
                               (long long)input_size, (long long)hidden);
    int G;
    recur_cell_step_fn step;
    switch (kind) {
    case RECUR_RNN_TANH:
    case RECUR_RNN_RELU: G = 1, step = rnn_step; break;
    case RECUR_LSTM: G = 4, step = lstm_step; break;
    case RECUR_GRU:
    case RECUR_GRU_CHO: G = 3, step = gru_step; break;
    default: return recur_set_error(g, RECUR_ERR_ARG, "cell_new: unknown cell kind %d", (int)kind);
    }
    memset(cell, 0, sizeof *cell);
    cell->name = recur_cell_kind_name(kind);
    cell->kind = kind;
    cell->step = step;
    cell->n_state = kind == RECUR_LSTM ? 2 : 1;
    cell->state_size[0] = cell->state_size[1] = hidden;
    cell->input_size = input_size;
    cell->output_size = hidden;
    cell->clip = o.clip;
    cell->peephole = RECUR_NONE;
    /* PyTorch's default: every weight and bias from U(-1/sqrt(H), 1/sqrt(H)). */
    float k = (float)(1.0 / sqrt((double)hidden));
    const char *names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    recur_shape shapes[4] = {recur_shape2(G * hidden, input_size), recur_shape2(G * hidden, hidden),
                             recur_shape1(G * hidden), recur_shape1(G * hidden)};
    for (int p = 0; p < 4; p++) {
        char name[256];
        snprintf(name, sizeof name, "%s%s%s%s", prefix ? prefix : "", prefix ? "." : "", names[p], suffix ? suffix : "");
        cell->param[p] = recur_layer_param(g, name, shapes[p], recur_init_uniform(-k, k));
        if (!recur_ok(cell->param[p])) return recur_errcode(g);
    }
    if (o.peepholes) {
        char name[256];
        snprintf(name, sizeof name, "%s%sweight_peephole%s", prefix ? prefix : "", prefix ? "." : "", suffix ? suffix : "");
        cell->peephole = recur_layer_param(g, name, recur_shape2(3, hidden), recur_init_zeros());
        if (!recur_ok(cell->peephole)) return recur_errcode(g);
    }
    return RECUR_OK;
}
