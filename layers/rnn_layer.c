/*
 * layers/rnn_layer.c — recurrent layers over sequences: one cell in one
 * loop (recur_cell_over), and PyTorch-compatible stacked, bidirectional,
 * residual layers (recur_rnn_new).
 */
#include <stdio.h>
#include <string.h>

#include "recur/layers.h"

static const char *state_name(const recur_cell *cell, int k, char *buf, size_t len)
{
    int builtin = cell->step && (cell->kind == RECUR_LSTM || cell->n_state == 1);
    if (builtin && k == 0) return "h";
    if (builtin && k == 1) return "c";
    snprintf(buf, len, "state%d", k);
    return buf;
}

recur_status recur_cell_over(recur_graph *g, const recur_cell *cell, const char *name, recur_value xs,
                             const recur_value *init, int reverse, recur_seq_result *out)
{
    return recur_cell_over_lengths(g, cell, name, xs, RECUR_NONE, init, reverse, out);
}

recur_status recur_cell_over_lengths(recur_graph *g, const recur_cell *cell, const char *name, recur_value xs,
                                     recur_value lengths, const recur_value *init, int reverse, recur_seq_result *out)
{
    if (!g) return RECUR_ERR_ARG;
    if (!cell || !cell->step || !out || cell->n_state < 0 || cell->n_state > RECUR_MAX_CELL_STATES)
        return recur_set_error(g, RECUR_ERR_ARG, "cell_over: need a cell with a step function, 0..%d states and a result",
                               RECUR_MAX_CELL_STATES);
    if (recur_value_check(g, xs, "cell_over") != RECUR_OK) return recur_errcode(g);
    recur_shape xn_shape = recur_value_shape(g, xs);
    char shp[64];
    if (xn_shape.ndim != 3 || xn_shape.d[2] != cell->input_size)
        return recur_set_error(g, RECUR_ERR_SHAPE,
                               "cell_over \"%s\": the %s cell takes sequences [T, B, %lld], got \"%s\" %s",
                               name ? name : "", cell->name ? cell->name : "custom", (long long)cell->input_size,
                               recur_value_name(g, xs), recur_shape_str(xn_shape, shp, sizeof shp));
    int64_t B = xn_shape.d[1];
    const int n0 = recur_graph_size(g);
    memset(out, 0, sizeof *out);
    recur_value init_v[RECUR_MAX_CELL_STATES];
    for (int k = 0; k < cell->n_state; k++) {
        recur_shape want = recur_shape2(B, cell->state_size[k]);
        init_v[k] = init && recur_ok(init[k]) ? init[k] : recur_fill(g, want, 0.0f);
        if (recur_value_check(g, init_v[k], "cell_over") != RECUR_OK) return recur_errcode(g);
        recur_shape in_shape = recur_value_shape(g, init_v[k]);
        if (!recur_shape_equal(in_shape, want)) {
            char a[64];
            recur_status st = recur_set_error(g, RECUR_ERR_SHAPE,
                                              "cell_over \"%s\": initial state %d \"%s\" is %s, the cell needs %s",
                                              name ? name : "", k, recur_value_name(g, init_v[k]),
                                              recur_shape_str(in_shape, a, sizeof a),
                                              recur_shape_str(want, shp, sizeof shp));
            recur_graph_rollback(g, n0);
            return st;
        }
    }
    /* Loop names are unique: a second model built from the same layers (sharing
     * their weights) gets "name#k" with k the loop's index. */
    char unique[256];
    if (name) {
        int taken = 0;
        for (int i = 0; i < recur_loop_count(g); i++) taken |= strcmp(recur_loop_name(g, recur_loop_at(g, i)), name) == 0;
        if (taken) {
            snprintf(unique, sizeof unique, "%s#%d", name, recur_loop_count(g));
            name = unique;
        }
    }
    recur_loop L = recur_loop_begin(g, name, reverse);
    if (L.id < 0) {
        recur_graph_rollback(g, n0);
        return recur_errcode(g);
    }
    recur_value x = recur_loop_input(g, L, xs), state[RECUR_MAX_CELL_STATES], next[RECUR_MAX_CELL_STATES], y;
    recur_status st = recur_ok(x) ? RECUR_OK : recur_errcode(g);
    if (st == RECUR_OK && recur_ok(lengths)) st = recur_loop_lengths(g, L, lengths);
    for (int k = 0; k < cell->n_state && st == RECUR_OK; k++) {
        char buf[32];
        state[k] = recur_loop_state(g, L, state_name(cell, k, buf, sizeof buf), init_v[k]);
        if (!recur_ok(state[k])) st = recur_errcode(g);
    }
    if (st == RECUR_OK) st = cell->step(g, cell, x, state, next, &y);
    for (int k = 0; k < cell->n_state && st == RECUR_OK; k++) st = recur_loop_next(g, L, state[k], next[k]);
    if (st == RECUR_OK) st = recur_loop_end(g, L);
    if (st != RECUR_OK) {
        recur_graph_rollback(g, n0);
        return st;
    }
    out->loop = L;
    out->outputs = recur_loop_stacked(g, L, y);
    for (int k = 0; k < cell->n_state; k++) out->final[k] = recur_loop_final(g, L, state[k]);
    return recur_ok(out->outputs) ? RECUR_OK : recur_errcode(g);
}

/*
 * Checks an initial state the caller gave (h0 or c0): [cells, B, H] exactly,
 * and only states the cell has (a GRU or an RNN has no c0). RECUR_OK, or a
 * shape error naming the caller's value.
 */
static recur_status check_initial(recur_graph *g, const char *name, const char *which, recur_value v, int has,
                                  recur_shape want, const char *cell)
{
    if (!recur_ok(v)) return RECUR_OK;
    if (recur_value_check(g, v, "rnn") != RECUR_OK) return recur_errcode(g);
    char a[64], b[64];
    recur_shape s = recur_value_shape(g, v);
    if (!has)
        return recur_set_error(g, RECUR_ERR_ARG, "rnn \"%s\": %s \"%s\" %s was given, but a %s cell has no such state",
                               name, which, recur_value_name(g, v), recur_shape_str(s, a, sizeof a), cell);
    if (!recur_shape_equal(s, want))
        return recur_set_error(g, RECUR_ERR_SHAPE,
                               "rnn \"%s\": initial state %s \"%s\" is %s; it must be [layers x directions, B, hidden] = %s",
                               name, which, recur_value_name(g, v), recur_shape_str(s, a, sizeof a),
                               recur_shape_str(want, b, sizeof b));
    return RECUR_OK;
}

/* Initial state idx of a [layers*D, B, H] tensor, or RECUR_NONE for zeros. */
static recur_value initial(recur_graph *g, recur_value all, int idx)
{
    return recur_ok(all) ? recur_take(g, all, 0, idx) : RECUR_NONE;
}

recur_status recur_rnn_new(recur_graph *g, const char *name, const recur_rnn_opts *opts, recur_value xs,
                           recur_value h0, recur_value c0, recur_rnn *out)
{
    if (!g) return RECUR_ERR_ARG;
    if (!opts || !out) return recur_set_error(g, RECUR_ERR_ARG, "rnn \"%s\": options and result are required", name);
    recur_rnn_opts o = *opts;
    if (o.layers <= 0) o.layers = 1;
    int D = o.bidirectional ? 2 : 1;
    if (o.layers * D > 16 || o.hidden < 1 || o.input_size < 1 || o.dropout < 0 || o.dropout >= 1)
        return recur_set_error(g, RECUR_ERR_ARG,
                               "rnn \"%s\": at most 16 cells (layers x directions), sizes >= 1, dropout in [0, 1)",
                               name ? name : "");
    if (!name) name = "rnn";
    memset(out, 0, sizeof *out);
    out->c_n = RECUR_NONE;
    if (recur_value_check(g, xs, "rnn") != RECUR_OK) return recur_errcode(g);
    int64_t H = o.hidden;
    recur_shape xshape = recur_value_shape(g, xs);
    if (xshape.ndim == 3) { /* (other shapes: cell_over names them) */
        recur_shape want = recur_shape3(o.layers * D, xshape.d[1], H);
        const char *cell = recur_cell_kind_name(o.kind);
        recur_status bad = check_initial(g, name, "h0", h0, 1, want, cell);
        if (bad == RECUR_OK) bad = check_initial(g, name, "c0", c0, o.kind == RECUR_LSTM, want, cell);
        if (bad != RECUR_OK) return bad;
    }
    recur_value lengths = o.lengths ? *o.lengths : RECUR_NONE;
    const int n0 = recur_graph_size(g);
    recur_value in = xs, h_fin[32], c_fin[32];
    recur_status st = RECUR_OK;
    for (int layer = 0; layer < o.layers && st == RECUR_OK; layer++) {
        int64_t in_size = layer == 0 ? o.input_size : (o.merge == RECUR_MERGE_SUM ? H : D * H);
        recur_value dir_out[2];
        for (int d = 0; d < D && st == RECUR_OK; d++) {
            int idx = layer * D + d;
            char suffix[32], loop_name[256];
            snprintf(suffix, sizeof suffix, "_l%d%s", layer, d ? "_reverse" : "");
            snprintf(loop_name, sizeof loop_name, "%s.l%d%s", name, layer, d ? "_reverse" : "");
            recur_cell *cell = &out->cells[idx];
            st = recur_cell_new_opts(g, cell, o.kind, name, suffix, in_size, H, &o.cell);
            if (st != RECUR_OK) break;
            recur_value init[2] = {initial(g, h0, idx), o.kind == RECUR_LSTM ? initial(g, c0, idx) : RECUR_NONE};
            recur_seq_result r;
            st = recur_cell_over_lengths(g, cell, loop_name, in, lengths, init, d, &r);
            if (st != RECUR_OK) break;
            out->loops[idx] = r.loop;
            dir_out[d] = r.outputs;
            h_fin[idx] = r.final[0];
            c_fin[idx] = cell->n_state > 1 ? r.final[1] : RECUR_NONE;
        }
        if (st != RECUR_OK) break;
        recur_value merged = D == 1 ? dir_out[0]
                           : o.merge == RECUR_MERGE_SUM ? recur_add(g, dir_out[0], dir_out[1])
                                                        : recur_concat(g, 2, dir_out, 2);
        if (o.residual && layer > 0) merged = recur_add(g, merged, in); /* x_{l+1} = f_l(x_l) + x_l */
        if (o.dropout > 0 && layer < o.layers - 1) merged = recur_dropout(g, merged, o.dropout, o.seed + (uint64_t)layer);
        if (!recur_ok(merged)) st = recur_errcode(g);
        in = merged;
    }
    if (st == RECUR_OK) {
        out->n_cells = o.layers * D;
        out->outputs = in;
        out->h_n = recur_stack(g, out->n_cells, h_fin, 0);
        if (o.kind == RECUR_LSTM) out->c_n = recur_stack(g, out->n_cells, c_fin, 0);
        if (!recur_ok(out->h_n) || (o.kind == RECUR_LSTM && !recur_ok(out->c_n))) st = recur_errcode(g);
    }
    if (st != RECUR_OK) {
        /* Leave the graph as it was: drop this layer's loops and nodes. */
        recur_graph_rollback(g, n0);
    }
    return st;
}
