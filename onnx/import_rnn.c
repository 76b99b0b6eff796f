/*
 * onnx/import_rnn.c — ONNX's LSTM, GRU and RNN ops as recur's built-in
 * cells, one loop per direction (recur_cell_over).
 *
 * ONNX keeps a direction's weights as W [G*H, I], R [G*H, H] and
 * B = [Wb, Rb] [2*G*H] with the gates in its own order; recur keeps
 * PyTorch's weight_ih, weight_hh, bias_ih, bias_hh with the gates in
 * PyTorch's order. The weights are only moved, block by block:
 *   LSTM: ONNX i, o, f, c   -> recur i, f, g(=c), o
 *   GRU:  ONNX z, r, h      -> recur r, z, n(=h)
 *   RNN:  one block.
 * GRU's linear_before_reset=1 is PyTorch's GRU (RECUR_GRU), 0 the
 * original form (RECUR_GRU_CHO). Outputs: Y [T, D, B, H] (layout 1:
 * [B, T, D, H]), Y_h and Y_c [D, B, H] (layout 1: [B, D, H]).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_impl.h"

typedef struct rnn_op {
    const char *op;     /* "LSTM" */
    const char *lower;  /* "lstm": the parameter prefix of a node without a PyTorch name */
    int G;              /* gate blocks */
    int perm[4];        /* recur block k is ONNX block perm[k] */
    int n_act;          /* activations per direction */
} rnn_op;

static const rnn_op LSTM_OP = {"LSTM", "lstm", 4, {0, 2, 3, 1}, 3};
static const rnn_op GRU_OP = {"GRU", "gru", 3, {1, 0, 2, 0}, 2};
static const rnn_op RNN_OP = {"RNN", "rnn", 1, {0, 0, 0, 0}, 1};

/* A node's weights, converted per direction, and its sizes. */
typedef struct rnn_import {
    const rnn_op *op;
    int64_t T, B, I, H;
    int D, reverse_only, layout;
    const onnx_tensor *W, *R, *Bias;
    recur_cell_kind kind[2];
} rnn_import;

/* The activations named by the node for direction d must be the cell's; RNN's pick tanh or relu. */
static recur_status activations(recur_onnx_ctx *c, const onnx_node *n, rnn_import *r, int64_t lbr)
{
    const onnx_attr *a = recur_onnx_attr(n, "activations");
    if (recur_onnx_attr(n, "activation_alpha") || recur_onnx_attr(n, "activation_beta"))
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "activation_alpha/activation_beta are not supported");
    if (a && (a->type != RECUR_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS || a->n_strings != (size_t)(r->op->n_act * r->D)))
        return recur_onnx_fail(c, RECUR_ERR_FORMAT, "activations must list %d names", r->op->n_act * r->D);
    for (int d = 0; d < r->D; d++) {
        char act[3][16] = {"Sigmoid", "Tanh", "Tanh"};
        if (r->op->G == 1) snprintf(act[0], sizeof act[0], "Tanh");
        for (int k = 0; a && k < r->op->n_act; k++) {
            const ProtobufCBinaryData *s = &a->strings[d * r->op->n_act + k];
            snprintf(act[k], sizeof act[k], "%.*s", (int)(s->len < 15 ? s->len : 15), s->data ? (const char *)s->data : "");
        }
        if (r->op->G == 1) {
            if (strcmp(act[0], "Tanh") != 0 && strcmp(act[0], "Relu") != 0)
                return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "activations=%s is not supported (Tanh or Relu)", act[0]);
            r->kind[d] = act[0][0] == 'T' ? RECUR_RNN_TANH : RECUR_RNN_RELU;
            continue;
        }
        for (int k = 0; k < r->op->n_act; k++)
            if (strcmp(act[k], k == 0 ? "Sigmoid" : "Tanh") != 0)
                return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "activations=[%s, %s%s%s] is not supported (only the "
                                       "default [Sigmoid, Tanh%s])", act[0], act[1], r->op->n_act > 2 ? ", " : "",
                                       r->op->n_act > 2 ? act[2] : "", r->op->n_act > 2 ? ", Tanh" : "");
        r->kind[d] = r->op->G == 4 ? RECUR_LSTM : lbr ? RECUR_GRU : RECUR_GRU_CHO;
    }
    return RECUR_OK;
}

/* Checks that input i is a constant of dims [D, rows, cols]. */
static recur_status weight(recur_onnx_ctx *c, const onnx_node *n, int i, const char *what, int64_t D, int64_t rows,
                           int64_t cols, const onnx_tensor **out)
{
    *out = recur_onnx_in_const(c, n, i);
    if (!*out) {
        if (!recur_onnx_in(c, n, i)) return recur_errcode(c->g);
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "input %s must be a constant (an initializer)", what);
    }
    const onnx_tensor *t = *out;
    int ok = t->ndim == (cols ? 3 : 2) && t->d[0] == D && t->d[1] == rows && (!cols || t->d[2] == cols) && !t->is_int;
    if (!ok)
        return recur_onnx_fail(c, RECUR_ERR_FORMAT, "input %s must be float [%lld, %lld%s%lld]", what, (long long)D,
                               (long long)rows, cols ? ", " : "", (long long)cols);
    return RECUR_OK;
}

/*
 * The parameter names of the node's cells: PyTorch names its nodes "/lstm/LSTM_1" for layer 1
 * of module "lstm", whose parameters are "lstm.weight_ih_l1" and so on. Writes the prefix and
 * the first free layer number.
 */
static void param_names(recur_onnx_ctx *c, const onnx_node *n, const rnn_import *r, char *prefix, size_t len, int *layer)
{
    const char *name = n->name ? n->name : "";
    const char *last = strrchr(name, '/');
    *layer = 0;
    if (recur_onnx_module_path(name, prefix, len)) {
        char comp[128];
        snprintf(comp, sizeof comp, "%s", last + 1);
        size_t k = strlen(comp);
        if (k > 8 && strcmp(comp + k - 8, "_reverse") == 0) comp[k -= 8] = 0;
        size_t j = k;
        while (j > 0 && isdigit((unsigned char)comp[j - 1])) j--;
        if (j < k && j > 0 && comp[j - 1] == '_' && k - j < 6) *layer = atoi(comp + j);
    } else if (name[0]) {
        snprintf(prefix, len, "%s", name);
    } else {
        snprintf(prefix, len, "%s", r->op->lower);
    }
    for (;; (*layer)++) { /* never share weights with parameters already in the graph */
        int taken = 0;
        char p[512];
        for (int d = 0; d < 2; d++) {
            snprintf(p, sizeof p, "%s.weight_ih_l%d%s", prefix, *layer, d ? "_reverse" : "");
            taken |= recur_name_taken(c->g, p);
        }
        if (!taken) return;
    }
}

/* Copies direction d's weights into the cell's parameters, moving the gate blocks to recur's order. */
static recur_status load_cell(recur_onnx_ctx *c, const rnn_import *r, int d, const recur_cell *cell)
{
    int64_t G = r->op->G, H = r->H, cols[2] = {r->I, r->H};
    const onnx_tensor *src[2] = {r->W, r->R};
    for (int p = 0; p < 4; p++) {
        float *dst = recur_param_data(c->g, cell->param[p]);
        if (!dst) return recur_onnx_fail_builder(c);
        int64_t width = p < 2 ? cols[p] : 1;
        for (int64_t k = 0; k < G; k++)
            for (int64_t row = 0; row < H; row++)
                for (int64_t col = 0; col < width; col++) {
                    int64_t from = r->op->perm[k] * H + row;
                    double v = p < 2 ? src[p]->v[(d * G * H + from) * width + col]
                                     : r->Bias ? r->Bias->v[d * 2 * G * H + (p - 2) * G * H + from] : 0.0;
                    dst[(k * H + row) * width + col] = (float)v;
                }
    }
    return RECUR_OK;
}

/* Initial state input i [D, B, H] (layout 1: [B, D, H]) for direction d, or RECUR_NONE (zeros). */
static recur_status initial(recur_onnx_ctx *c, const onnx_node *n, int i, const rnn_import *r, int d, recur_value *out)
{
    *out = RECUR_NONE;
    if (!recur_onnx_in_name(n, i)) return RECUR_OK;
    int nd;
    int64_t dims[ONNX_MAX_RANK];
    recur_status st = recur_onnx_in_dims(c, n, i, &nd, dims);
    if (st != RECUR_OK) return st;
    int64_t want[3] = {r->D, r->B, r->H};
    if (r->layout) want[0] = r->B, want[1] = r->D;
    if (nd != 3 || dims[0] != want[0] || dims[1] != want[1] || dims[2] != want[2])
        return recur_onnx_fail(c, RECUR_ERR_SHAPE, "initial state input %d must be [%lld, %lld, %lld]", i,
                               (long long)want[0], (long long)want[1], (long long)want[2]);
    recur_value v;
    if ((st = recur_onnx_in_value(c, n, i, &v)) != RECUR_OK) return st;
    *out = recur_take(c->g, v, r->layout ? 1 : 0, d);
    return recur_ok(*out) ? RECUR_OK : recur_onnx_fail_builder(c);
}

/* Stacks per-direction values [.., B, H] along a new direction axis and puts it where ONNX's layout wants it. */
static recur_value join(recur_onnx_ctx *c, const rnn_import *r, const recur_value *v, int seq)
{
    recur_graph *g = c->g;
    int axis = seq ? 1 : 0;
    recur_value y;
    if (r->D == 1) {
        recur_shape s = recur_value_shape(g, v[0]), t = {.ndim = s.ndim + 1};
        for (int k = 0, j = 0; k < t.ndim; k++) t.d[k] = k == axis ? 1 : s.d[j++];
        y = recur_reshape(g, v[0], t);
    } else {
        y = recur_stack(g, 2, v, axis);
    }
    if (!r->layout) return y;
    static const int seq_perm[4] = {2, 0, 1, 3}, state_perm[3] = {1, 0, 2};
    return recur_transpose(g, y, seq ? seq_perm : state_perm);
}

static recur_status import_recurrent(recur_onnx_ctx *c, const onnx_node *n, const rnn_op *op)
{
    rnn_import r = {.op = op};
    char dir[32];
    int64_t hidden, layout, lbr = 0, input_forget = 0;
    recur_status st;
    if ((st = recur_onnx_attr_str(c, n, "direction", "forward", dir, sizeof dir)) != RECUR_OK ||
        (st = recur_onnx_attr_int(c, n, "hidden_size", 0, &hidden)) != RECUR_OK ||
        (st = recur_onnx_attr_int(c, n, "layout", 0, &layout)) != RECUR_OK ||
        (st = recur_onnx_attr_int(c, n, "linear_before_reset", 0, &lbr)) != RECUR_OK ||
        (st = recur_onnx_attr_int(c, n, "input_forget", 0, &input_forget)) != RECUR_OK)
        return st;
    if (op->G == 4 && input_forget)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "input_forget=%lld is not supported", (long long)input_forget);
    if (strcmp(dir, "forward") == 0) r.D = 1;
    else if (strcmp(dir, "reverse") == 0) r.D = 1, r.reverse_only = 1;
    else if (strcmp(dir, "bidirectional") == 0) r.D = 2;
    else return recur_onnx_fail(c, RECUR_ERR_FORMAT, "direction=%s is not forward, reverse or bidirectional", dir);
    if (layout != 0 && layout != 1) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "layout=%lld is not 0 or 1", (long long)layout);
    r.layout = (int)layout;
    if ((st = activations(c, n, &r, lbr)) != RECUR_OK) return st;

    /* X: [T, B, I] (layout 1: [B, T, I]), made time-major */
    recur_value xs;
    int nd;
    int64_t d[ONNX_MAX_RANK];
    if ((st = recur_onnx_in_value(c, n, 0, &xs)) != RECUR_OK || (st = recur_onnx_in_dims(c, n, 0, &nd, d)) != RECUR_OK) return st;
    if (nd != 3) return recur_onnx_fail(c, RECUR_ERR_SHAPE, "input X must have rank 3, it has %d", nd);
    if (r.layout) {
        static const int swap[3] = {1, 0, 2};
        xs = recur_transpose(c->g, xs, swap);
        if (!recur_ok(xs)) return recur_onnx_fail_builder(c);
    }
    r.T = d[r.layout ? 1 : 0];
    r.B = d[r.layout ? 0 : 1];
    r.I = d[2];
    /* weights, and H from them when hidden_size is not given */
    const onnx_tensor *w = recur_onnx_in_const(c, n, 1);
    r.H = hidden > 0 ? hidden : w && w->ndim == 3 ? w->d[1] / op->G : 0;
    if (r.H < 1 || r.H > ONNX_MAX_NUMEL / 4) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "hidden_size is %lld", (long long)r.H);
    if ((st = weight(c, n, 1, "W", r.D, op->G * r.H, r.I, &r.W)) != RECUR_OK ||
        (st = weight(c, n, 2, "R", r.D, op->G * r.H, r.H, &r.R)) != RECUR_OK)
        return st;
    if (recur_onnx_in_name(n, 3) && (st = weight(c, n, 3, "B", r.D, 2 * op->G * r.H, 0, &r.Bias)) != RECUR_OK) return st;

    /* lengths, clip and peepholes: one place each (import_rnn_ext.c) */
    recur_onnx_rnn_ext ext = {.T = r.T, .B = r.B, .H = r.H, .D = r.D};
    if ((st = recur_onnx_rnn_sequence_lens(c, n, 4, &ext)) != RECUR_OK || (st = recur_onnx_rnn_clip(c, n, &ext)) != RECUR_OK)
        return st;
    if (op->G == 4 && (st = recur_onnx_rnn_peepholes(c, n, 7, &ext)) != RECUR_OK) return st;

    char prefix[256];
    int layer;
    param_names(c, n, &r, prefix, sizeof prefix, &layer);
    recur_value ys[2], hs[2], cs[2];
    for (int k = 0; k < r.D; k++) {
        int reverse = r.reverse_only || k == 1;
        char suffix[64], loop_name[320];
        snprintf(suffix, sizeof suffix, "_l%d%s", layer, reverse ? "_reverse" : "");
        snprintf(loop_name, sizeof loop_name, "%s.l%d%s", prefix, layer, reverse ? "_reverse" : "");
        recur_cell cell;
        recur_value init[2];
        if ((st = initial(c, n, 5, &r, k, &init[0])) != RECUR_OK ||
            (op->G == 4 && (st = initial(c, n, 6, &r, k, &init[1])) != RECUR_OK))
            return st;
        if (recur_cell_new_opts(c->g, &cell, r.kind[k], prefix, suffix, r.I, r.H, &ext.cell) != RECUR_OK)
            return recur_onnx_fail_builder(c);
        if ((st = load_cell(c, &r, k, &cell)) != RECUR_OK || (st = recur_onnx_rnn_load_peepholes(c, &ext, k, &cell)) != RECUR_OK)
            return st;
        recur_seq_result res;
        if (recur_cell_over_lengths(c->g, &cell, loop_name, xs, ext.lengths, init, reverse, &res) != RECUR_OK)
            return recur_onnx_fail_builder(c);
        ys[k] = res.outputs;
        hs[k] = res.final[0];
        cs[k] = op->G == 4 ? res.final[1] : RECUR_NONE;
    }
    int want[3];
    for (int i = 0; i < 3; i++) want[i] = (size_t)i < n->n_output && n->output[i] && n->output[i][0];
    if (want[2] && op->G != 4) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "%s has two outputs, not three", op->op);
    if (want[0] && (st = recur_onnx_out_value(c, n, 0, join(c, &r, ys, 1), 0)) != RECUR_OK) return st;
    if (want[1] && (st = recur_onnx_out_value(c, n, 1, join(c, &r, hs, 0), 0)) != RECUR_OK) return st;
    if (want[2] && (st = recur_onnx_out_value(c, n, 2, join(c, &r, cs, 0), 0)) != RECUR_OK) return st;
    return RECUR_OK;
}

recur_status recur_onnx_import_lstm(recur_onnx_ctx *c, const onnx_node *n) { return import_recurrent(c, n, &LSTM_OP); }
recur_status recur_onnx_import_gru(recur_onnx_ctx *c, const onnx_node *n) { return import_recurrent(c, n, &GRU_OP); }
recur_status recur_onnx_import_rnn(recur_onnx_ctx *c, const onnx_node *n) { return import_recurrent(c, n, &RNN_OP); }
