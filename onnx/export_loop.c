/*
 * onnx/export_loop.c — a loop node as ONNX: a loop that runs a built-in
 * cell becomes an LSTM, GRU or RNN node, any other loop (a custom cell, a
 * hand-written body) a Scan whose body holds the loop's ops.
 *
 * A loop runs a built-in cell when its body is, node for node, the body
 * recur_cell_over makes for that cell: the exporter builds each candidate
 * cell of the loop's sizes in a scratch graph and compares the two bodies
 * op by op, attribute by attribute, input by input, down to the cell's
 * four parameters (and an LSTM's peepholes; a clip bound is read from the
 * body's clip op). The cell's code is the definition, so nothing else
 * needs to record what made a loop. The weights are then written in
 * ONNX's layout: W [1, G*H, I], R [1, G*H, H], B [1, 2*G*H] with the gate
 * blocks moved from PyTorch's order (LSTM i f g o, GRU r z n) to ONNX's
 * (LSTM i o f c, GRU z r h).
 */
#include <stdlib.h>
#include <string.h>

#include "onnx_impl.h"

/* ONNX block j holds recur block onnx_block[kind][j]. */
static const int LSTM_FROM[4] = {0, 3, 1, 2}; /* i, o, f, c  <-  i, f, g, o */
static const int GRU_FROM[3] = {1, 0, 2};     /* z, r, h  <-  r, z, n */
static const int RNN_FROM[1] = {0};

/* ---------------------------------------------------------------- recognising a built-in cell */

typedef struct cell_match {
    recur_cell_kind kind;
    recur_cell_opts opts; /* clip, peepholes */
    int32_t param[5];     /* the loop's weight_ih, weight_hh, bias_ih, bias_hh, and weight_peephole or -1 */
    int32_t h_next;       /* the body node of the new h (the step output) */
    int32_t lens;         /* the scratch graph's lengths input, or -1 */
    int32_t loop_lengths; /* the loop's lengths (recur_loop_lengths), or -1 */
} cell_match;

static int same_attr(const recur_node *a, const recur_node *b)
{
    if (a->op != b->op || a->n_in != b->n_in || !recur_shape_equal(a->shape, b->shape)) return 0;
    /* a body placeholder's attributes name its loop, which differs between the graphs: placeholders are matched
     * by their place in the loop's record (same_body) */
    if (a->op == RECUR_OP_LOOP_STEP || a->op == RECUR_OP_LOOP_STATE) return 1;
    if (memcmp(a->attr.i, b->attr.i, sizeof a->attr.i) != 0 || memcmp(a->attr.f, b->attr.f, sizeof a->attr.f) != 0) return 0;
    return a->attr.target.ndim == b->attr.target.ndim && recur_shape_equal(a->attr.target, b->attr.target);
}

/* Matches outer value s of scratch graph sg with outer value r of g; the cell's parameters bind to the loop's. */
static int match_outer(const recur_graph *sg, const recur_cell *cell, int32_t s, const recur_graph *g, int32_t r,
                       cell_match *m, int depth)
{
    if (m->lens >= 0 && s == m->lens) return r == m->loop_lengths; /* the scratch loop's lengths are the loop's */
    for (int p = 0; p < 5; p++)
        if ((p < 4 ? cell->param[p] : cell->peephole).id == s) {
            const recur_node *rn = &g->nodes[r];
            if ((rn->op != RECUR_OP_PARAM && rn->op != RECUR_OP_CONST) || !recur_shape_equal(rn->shape, sg->nodes[s].shape))
                return 0;
            if (m->param[p] >= 0 && m->param[p] != r) return 0;
            m->param[p] = r;
            return 1;
        }
    const recur_node *a = &sg->nodes[s], *b = &g->nodes[r];
    if (depth > 4 || a->loop || b->loop || !same_attr(a, b) || a->n_in == 0) return 0;
    for (int k = 0; k < a->n_in; k++)
        if (!match_outer(sg, cell, a->in[k], g, b->in[k], m, depth + 1)) return 0;
    return 1;
}

/* Compares the bodies of loop 0 of sg (made by recur_cell_over with `cell`) and loop li of g. */
static int same_body(const recur_graph *sg, const recur_cell *cell, const recur_graph *g, int li, cell_match *m)
{
    const recur_loop_rec *A = &sg->loops[0], *Bl = &g->loops[li];
    int32_t *map = calloc((size_t)sg->n, sizeof *map);
    int ok = map != NULL;
    for (int k = 0; k < 5; k++) m->param[k] = -1;
    int32_t j = Bl->first;
    for (int32_t i = A->first; ok && i < A->last; i++) {
        if (sg->nodes[i].loop != 1) continue;
        while (j < Bl->last && g->nodes[j].loop != li + 1) j++;
        if (j >= Bl->last) {
            ok = 0;
            break;
        }
        const recur_node *a = &sg->nodes[i], *b = &g->nodes[j];
        ok = same_attr(a, b);
        for (int k = 0; ok && k < a->n_in; k++) {
            int32_t s = a->in[k], r = b->in[k];
            ok = sg->nodes[s].loop ? g->nodes[r].loop == li + 1 && map[s] == r : !g->nodes[r].loop &&
                                                                                       match_outer(sg, cell, s, g, r, m, 0);
        }
        map[i] = j++;
    }
    while (ok && j < Bl->last && g->nodes[j].loop != li + 1) j++;
    ok = ok && j >= Bl->last && A->n_state == Bl->n_state && A->n_seq == Bl->n_seq;
    for (int k = 0; ok && k < A->n_state; k++)
        ok = sg->nodes[A->next[k]].loop && map[A->next[k]] == Bl->next[k] && map[A->state[k]] == Bl->state[k];
    for (int k = 0; ok && k < A->n_seq; k++) ok = map[A->step[k]] == Bl->step[k];
    for (int p = 0; ok && p < 4; p++) ok = m->param[p] >= 0;
    ok = ok && (m->param[4] >= 0) == recur_ok(cell->peephole);
    /* the step output the scratch loop stacks (the new h; with lengths, before it is held past the end) */
    for (int32_t i = A->last; ok && i < sg->n; i++)
        if (sg->nodes[i].op == RECUR_OP_LOOP_OUTPUT && !sg->nodes[i].attr.i[1]) m->h_next = map[sg->nodes[i].attr.i[2]];
    free(map);
    return ok;
}

/* 1 (filling m) when loop li of g runs one of recur's built-in cells (with its clip and peepholes, if any). */
static int builtin_cell(const recur_graph *g, int li, cell_match *m)
{
    const recur_loop_rec *L = &g->loops[li];
    if (L->n_seq != (L->lengths >= 0 ? 2 : 1) || (L->n_state != 1 && L->n_state != 2)) return 0;
    recur_shape x = g->nodes[L->step[0]].shape, h = g->nodes[L->state[0]].shape;
    if (x.ndim != 2 || h.ndim != 2) return 0;
    float clip = 0;
    for (int32_t id = L->first; id < L->last && !clip; id++)
        if (g->nodes[id].loop == li + 1 && g->nodes[id].op == RECUR_OP_CLIP) clip = g->nodes[id].attr.f[0];
    static const recur_cell_kind kinds[] = {RECUR_LSTM, RECUR_GRU, RECUR_GRU_CHO, RECUR_RNN_TANH, RECUR_RNN_RELU};
    for (size_t c = 0; c < 2 * sizeof kinds / sizeof kinds[0]; c++) {
        recur_cell_kind kind = kinds[c / 2];
        recur_cell_opts opts = {.clip = clip, .peepholes = (int)(c % 2)};
        if ((kind == RECUR_LSTM) != (L->n_state == 2) || (opts.peepholes && kind != RECUR_LSTM)) continue;
        recur_graph *sg = recur_graph_new(0);
        if (!sg) return 0;
        recur_cell cell;
        recur_seq_result res;
        recur_value xs = recur_input(sg, "x", recur_shape3(L->T, x.d[0], x.d[1]));
        recur_value lens = L->lengths >= 0 ? recur_input(sg, "lens", recur_shape1(x.d[0])) : RECUR_NONE;
        m->lens = lens.id;
        m->loop_lengths = L->lengths;
        int ok = recur_cell_new_opts(sg, &cell, kind, "cell", NULL, x.d[1], h.d[1], &opts) == RECUR_OK &&
                 recur_cell_over_lengths(sg, &cell, "loop", xs, lens, NULL, L->reverse, &res) == RECUR_OK &&
                 same_body(sg, &cell, g, li, m);
        recur_graph_free(sg);
        if (ok) {
            m->kind = kind;
            m->opts = opts;
            return 1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- LSTM, GRU, RNN nodes */

/* The node's name as PyTorch writes it, from the parameter's: "lstm.weight_ih_l1_reverse" -> "/lstm/LSTM_1_reverse". */
static void node_name(const char *param, const char *op, char *buf, size_t len)
{
    char prefix[256];
    int layer = 0, rev = 0;
    const char *at = strstr(param, ".weight_ih");
    if (at) {
        snprintf(prefix, sizeof prefix, "%.*s", (int)(at - param), param);
        sscanf(at + 10, "_l%d", &layer);
        rev = strstr(at, "_reverse") != NULL;
    } else {
        snprintf(prefix, sizeof prefix, "%s", param);
    }
    for (char *p = prefix; *p; p++)
        if (*p == '.' || *p == '/') *p = '/';
    snprintf(buf, len, "/%s/%s_%d%s", prefix, op, layer, rev ? "_reverse" : "");
}

/* Writes a [1, G*H, cols] weight (or [1, G*H] bias when cols is 0) with the gate blocks in ONNX's order. */
static void onnx_blocks(const float *src, const int *from, int G, int64_t H, int64_t cols, float *dst)
{
    int64_t w = cols ? cols : 1;
    for (int j = 0; j < G; j++) memcpy(dst + j * H * w, src + from[j] * H * w, sizeof *dst * (size_t)(H * w));
}

/* Unsqueeze or Squeeze (op_type) of x along one axis: the name of the result, or NULL. */
static char *one_axis(recur_onnx_out *o, const char *op_type, const char *x, int64_t axis)
{
    if (!x) return NULL;
    int64_t one = 1;
    const char *ax = recur_onnx_init_ints(o, "axes", 1, &one, &axis);
    char *out = recur_onnx_fresh(o, op_type);
    const char *in[2] = {x, ax};
    if (!ax || !out || !recur_onnx_emit(o, op_type, op_type, 2, in, 1, (const char *const *)&out)) return NULL;
    return out;
}

/* The loop's outputs the model needs: *ok 0 when one is not an output an ONNX recurrent node has. */
static recur_status export_cell(recur_onnx_out *o, int li, const cell_match *m, int *done)
{
    recur_graph *g = o->g;
    const recur_loop_rec *L = &g->loops[li];
    *done = 0;
    /* every needed output must be Y (the stacked new h), Y_h or Y_c */
    for (int32_t id = L->node; id < g->n; id++) {
        const recur_node *n = &g->nodes[id];
        if (n->op != RECUR_OP_LOOP_OUTPUT || n->attr.i[0] != li || !o->needed[id]) continue;
        if (!n->attr.i[1] && n->attr.i[2] != m->h_next) return RECUR_OK;
    }
    const char *op = m->kind == RECUR_LSTM ? "LSTM" : m->kind == RECUR_GRU || m->kind == RECUR_GRU_CHO ? "GRU" : "RNN";
    int G = m->kind == RECUR_LSTM ? 4 : op[0] == 'G' ? 3 : 1;
    const int *from = G == 4 ? LSTM_FROM : G == 3 ? GRU_FROM : RNN_FROM;
    const recur_node *wih = &g->nodes[m->param[0]];
    int64_t H = g->nodes[L->state[0]].shape.d[1], I = wih->shape.d[1];
    float *W = malloc(sizeof *W * (size_t)(G * H * I)), *R = malloc(sizeof *R * (size_t)(G * H * H)),
          *Bv = malloc(sizeof *Bv * (size_t)(2 * G * H));
    recur_status st = RECUR_ERR_NOMEM;
    if (!W || !R || !Bv) goto done;
    onnx_blocks(wih->data, from, G, H, I, W);
    onnx_blocks(g->nodes[m->param[1]].data, from, G, H, H, R);
    onnx_blocks(g->nodes[m->param[2]].data, from, G, H, 0, Bv);
    onnx_blocks(g->nodes[m->param[3]].data, from, G, H, 0, Bv + G * H);
    char name[600];
    node_name(recur_node_name(g, m->param[0]), op, name, sizeof name);
    int64_t dw[3] = {1, G * H, I}, dr[3] = {1, G * H, H}, db[2] = {1, 2 * G * H};
    const char *peep = NULL;
    if (m->param[4] >= 0) { /* P [1, 3H]: ONNX's P_i, P_o, P_f from recur's rows i, f, o */
        const float *p = g->nodes[m->param[4]].data;
        float *P = malloc(sizeof *P * (size_t)(3 * H));
        if (!P) goto done;
        static const int rows[3] = {0, 2, 1};
        for (int j = 0; j < 3; j++) memcpy(P + j * H, p + rows[j] * H, sizeof *P * (size_t)H);
        int64_t dp[2] = {1, 3 * H};
        peep = recur_onnx_init_float(o, "P", 2, dp, P);
        free(P);
        if (!peep) goto done;
    }
    const char *lens = "";
    if (L->lengths >= 0) { /* ONNX's sequence_lens are int32 */
        const char *src = recur_onnx_name_of(o, L->lengths);
        char *cast = src ? recur_onnx_fresh(o, "sequence_lens") : NULL;
        onnx_node *c = cast ? recur_onnx_emit(o, "Cast", "Cast", 1, &src, 1, (const char *const *)&cast) : NULL;
        if (!c || recur_onnx_set_int(o, c, "to", ONNX_INT32) != RECUR_OK) goto done;
        lens = cast;
    }
    const char *in[8] = {recur_onnx_name_of(o, L->seq[0]), recur_onnx_init_float(o, "W", 3, dw, W), recur_onnx_init_float(o, "R", 3, dr, R),
                         recur_onnx_init_float(o, "B", 2, db, Bv), lens, one_axis(o, "Unsqueeze", recur_onnx_name_of(o, L->init[0]), 0),
                         G == 4 ? one_axis(o, "Unsqueeze", recur_onnx_name_of(o, L->init[1]), 0) : NULL, peep};
    char *out[3] = {recur_onnx_fresh(o, "Y"), recur_onnx_fresh(o, "Y_h"), G == 4 ? recur_onnx_fresh(o, "Y_c") : NULL};
    int n_in = peep ? 8 : G == 4 ? 7 : 6, n_out = G == 4 ? 3 : 2;
    for (int k = 0; k < n_in; k++)
        if (!in[k]) goto done;
    for (int k = 0; k < n_out; k++)
        if (!out[k]) goto done;
    onnx_node *e = recur_onnx_emit(o, op, name, n_in, in, n_out, (const char *const *)out);
    if (!e || recur_onnx_set_int(o, e, "hidden_size", H) != RECUR_OK ||
        recur_onnx_set_str(o, e, "direction", L->reverse ? "reverse" : "forward") != RECUR_OK)
        goto done;
    if (G == 3 && recur_onnx_set_int(o, e, "linear_before_reset", m->kind == RECUR_GRU) != RECUR_OK) goto done;
    if (m->opts.clip > 0 && recur_onnx_set_float(o, e, "clip", m->opts.clip) != RECUR_OK) goto done;
    static const char *const relu[1] = {"Relu"};
    if (m->kind == RECUR_RNN_RELU && recur_onnx_set_strings(o, e, "activations", 1, relu) != RECUR_OK) goto done;
    /* the loop's outputs: Y [T, 1, B, H] -> [T, B, H]; Y_h, Y_c [1, B, H] -> [B, H] */
    for (int32_t id = L->node; id < g->n; id++) {
        const recur_node *n = &g->nodes[id];
        if (n->op != RECUR_OP_LOOP_OUTPUT || n->attr.i[0] != li || !o->needed[id]) continue;
        int final = (int)n->attr.i[1];
        int k = !final ? 0 : n->attr.i[2] == L->state[0] ? 1 : 2;
        if (!(o->names[id] = one_axis(o, "Squeeze", out[k], k ? 0 : 1))) goto done;
    }
    *done = 1;
    o->as_cell[li] = 1;
    st = RECUR_OK;
done:
    free(W);
    free(R);
    free(Bv);
    if (st != RECUR_OK && recur_errcode(g) != RECUR_ERR_NOMEM) recur_set_error(g, st, "onnx_export: out of memory");
    return st;
}

/* ---------------------------------------------------------------- Scan */

static recur_status export_scan(recur_onnx_out *o, int li)
{
    recur_graph *g = o->g;
    const recur_loop_rec *L = &g->loops[li];
    onnx_graph *outer = o->gp, *body = recur_onnx_alloc(o, sizeof *body);
    int n_outs = 0;
    int32_t *stacked = malloc(sizeof *stacked * (size_t)(g->n - L->node + 1));
    recur_status st = RECUR_ERR_NOMEM;
    if (!body || !stacked) goto done;
    recur_onnx__graph_proto__init(body);
    body->name = recur_onnx_fresh(o, L->name);
    o->gp = body;
    /* body inputs: the states, then the steps of the sequences */
    for (int k = 0; k < L->n_state + L->n_seq; k++) {
        int32_t id = k < L->n_state ? L->state[k] : L->step[k - L->n_state];
        char *name = recur_onnx_name_for(o, id);
        RecurOnnx__ValueInfoProto *vi = name ? recur_onnx_value_info(o, name, g->nodes[id].shape, ONNX_FLOAT) : NULL;
        if (!vi || recur_onnx_graph_add_input(o, body, vi) != RECUR_OK) goto done;
        o->names[id] = name;
    }
    for (int32_t id = L->first; id < L->last; id++) {
        const recur_node *n = &g->nodes[id];
        if (n->loop != li + 1 || n->op == RECUR_OP_LOOP_STATE || n->op == RECUR_OP_LOOP_STEP) continue;
        if ((st = recur_onnx_export_node(o, id)) != RECUR_OK) goto done;
    }
    st = RECUR_ERR_NOMEM;
    /* the stacked values the model needs, once each */
    for (int32_t id = L->node; id < g->n; id++) {
        const recur_node *n = &g->nodes[id];
        if (n->op != RECUR_OP_LOOP_OUTPUT || n->attr.i[0] != li || n->attr.i[1] || !o->needed[id]) continue;
        int seen = 0;
        for (int k = 0; k < n_outs; k++) seen |= stacked[k] == (int32_t)n->attr.i[2];
        if (!seen) stacked[n_outs++] = (int32_t)n->attr.i[2];
    }
    /* body outputs: the next states, then the per-step values (each through an Identity of its own) */
    char **scan_out = recur_onnx_alloc(o, sizeof *scan_out * (size_t)(L->n_state + n_outs + 1));
    if (!scan_out) goto done;
    for (int k = 0; k < L->n_state + n_outs; k++) {
        int32_t v = k < L->n_state ? L->next[k] : stacked[k - L->n_state];
        char *name = recur_onnx_fresh(o, k < L->n_state ? "next" : "step_out");
        const char *src = recur_onnx_name_of(o, v);
        RecurOnnx__ValueInfoProto *vi = name ? recur_onnx_value_info(o, name, g->nodes[v].shape, ONNX_FLOAT) : NULL;
        if (!vi || !src || !recur_onnx_emit(o, "Identity", "Identity", 1, &src, 1, (const char *const *)&name) ||
            recur_onnx_graph_add_output(o, body, vi) != RECUR_OK)
            goto done;
        scan_out[k] = recur_onnx_fresh(o, k < L->n_state ? "final" : "stacked");
        if (!scan_out[k]) goto done;
    }
    o->gp = outer;
    const char **in = recur_onnx_alloc(o, sizeof *in * (size_t)(L->n_state + L->n_seq));
    int64_t *dirs = recur_onnx_alloc(o, sizeof *dirs * (size_t)(L->n_seq + n_outs + 1));
    if (!in || !dirs) goto done;
    for (int k = 0; k < L->n_state + L->n_seq; k++)
        if (!(in[k] = recur_onnx_name_of(o, k < L->n_state ? L->init[k] : L->seq[k - L->n_state]))) goto done;
    for (int k = 0; k < L->n_seq + n_outs; k++) dirs[k] = L->reverse;
    onnx_node *e = recur_onnx_emit(o, "Scan", L->name, L->n_state + L->n_seq, in, L->n_state + n_outs,
                                   (const char *const *)scan_out);
    if (!e || recur_onnx_set_graph(o, e, "body", body) != RECUR_OK ||
        recur_onnx_set_int(o, e, "num_scan_inputs", L->n_seq) != RECUR_OK ||
        recur_onnx_set_ints(o, e, "scan_input_directions", L->n_seq, dirs) != RECUR_OK ||
        (n_outs && recur_onnx_set_ints(o, e, "scan_output_directions", n_outs, dirs) != RECUR_OK))
        goto done;
    for (int32_t id = L->node; id < g->n; id++) {
        const recur_node *n = &g->nodes[id];
        if (n->op != RECUR_OP_LOOP_OUTPUT || n->attr.i[0] != li || !o->needed[id]) continue;
        int k = 0;
        if (n->attr.i[1])
            while (L->state[k] != n->attr.i[2]) k++;
        else
            while (stacked[k] != n->attr.i[2]) k++;
        o->names[id] = scan_out[n->attr.i[1] ? k : L->n_state + k];
    }
    st = RECUR_OK;
done:
    o->gp = outer;
    free(stacked);
    if (st == RECUR_ERR_NOMEM && recur_errcode(g) != RECUR_ERR_NOMEM) recur_set_error(g, st, "onnx_export: out of memory");
    return st;
}

recur_status recur_onnx_export_loop(recur_onnx_out *o, int li)
{
    const recur_loop_rec *L = &o->g->loops[li];
    if (L->unrolled)
        return recur_set_error(o->g, RECUR_ERR_STATE, "onnx_export: loop \"%s\" is unrolled but its outputs are not "
                               "aliases of the copies", L->name);
    cell_match m;
    if (builtin_cell(o->g, li, &m)) {
        int done;
        recur_status st = export_cell(o, li, &m, &done);
        if (st != RECUR_OK || done) return st;
    }
    if (L->lengths >= 0)
        return recur_set_error(o->g, RECUR_ERR_UNSUPPORTED, "onnx_export: loop \"%s\" has per-sequence lengths (\"%s\") "
                               "and runs a cell of its own: a Scan cannot stop each sequence at its length (a built-in "
                               "cell's loop exports as an LSTM, GRU or RNN node with sequence_lens)", L->name,
                               recur_node_name(o->g, L->lengths));
    return export_scan(o, li);
}
