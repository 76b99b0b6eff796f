/*
 * tests/test_plan_outputs.c — a plan's outputs are what the graph computes,
 * whatever else the plan computes and however its memory is shared.
 *
 * The compiler shares memory between values (views, in-place
 * concatenations, sequences laid over sequences, fused kernels writing
 * gradients over activations) and fuses kernels; none of that may change an
 * output. For every layer family and example model this compiles plans
 * whose outputs are the model's values (its handles, every named value,
 * every gradient), every value the plan computes, and random subsets of
 * them, and checks each output bit for bit against a plan compiled with
 * no_reuse (every value in its own buffer, nothing fused) on the same graph,
 * over two runs. The graph passes that change the order of arithmetic
 * (hoisting, matmul fusion, gradient batching) are checked separately: the
 * same model built with the passes off, compiled with no_reuse, agrees to
 * 1e-5. Steppers and truncated BPTT are checked the same way.
 *
 * The backend comes from RECUR_BACKEND and the passes from RECUR_PASSES
 * (meson runs this suite on both backends, and with the passes off).
 */
#include "test_util.h"
#include "hand_cells.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_VALUES = 64, MAX_FEEDS = 8 };

/* A model built for the check: its graph, its values and its feeds. */
typedef struct model {
    recur_graph *g;
    recur_value loss;
    recur_value handle[MAX_VALUES]; /* the model's own values (layer results, attention weights, ...) */
    int n_handles;
    recur_value param[MAX_VALUES], grad[MAX_VALUES];
    int n_params;
    recur_feed feed[MAX_FEEDS];
    float *feed_data[MAX_FEEDS];
    int n_feeds;
    hand_weights hand[2]; /* a hand-written cell's weights (read while building) */
    recur_value mgu[4];
} model;

/* Which model a builder makes (the kinds of cell, attention, stacking). */
typedef struct model_spec {
    const char *name;
    void (*build)(model *m, const struct model_spec *spec);
    int kind, attention, layers, bidirectional, merge, residual, carry;
    int lengths; /* 1: the layer runs over per-sequence lengths (T and 2) */
    float dropout;
} model_spec;

enum { S = 3, T = 4, B = 2, I = 3, H = 4, V = 7 };
enum { MGU = -1, HAND_LSTM = -2, HAND_GRU = -3 }; /* custom cells, beside recur_cell_kind */

static void add_handle(model *m, recur_value v)
{
    TU_OK(m->g, v);
    assert_true(m->n_handles < MAX_VALUES);
    m->handle[m->n_handles++] = v;
}

/* An input fed with floats from fill(i) (ids, masks) or uniform noise in [-1, 1) when fill is NULL. */
static recur_value add_feed(model *m, const char *name, recur_shape shape, float (*fill)(int64_t i), uint64_t seed)
{
    recur_value v = recur_input(m->g, name, shape);
    TU_OK(m->g, v);
    int64_t n = recur_shape_numel(shape);
    float *x = malloc(sizeof(float) * (size_t)n);
    assert_non_null(x);
    if (fill)
        for (int64_t i = 0; i < n; i++) x[i] = fill(i);
    else
        tu_fill_uniform(x, n, -1, 1, seed);
    assert_true(m->n_feeds < MAX_FEEDS);
    m->feed_data[m->n_feeds] = x;
    m->feed[m->n_feeds++] = (recur_feed){v, x, n};
    return v;
}

static float ids_src(int64_t i) { return (float)(3 + (i * 5) % 4); }         /* source ids 3..6 */
static float ids_tgt(int64_t i) { return (float)(2 + (i * 3) % 5); }         /* target ids 2..6 */
static float ids_dec(int64_t i) { return i < B ? 1.0f : (float)(3 + i % 4); } /* [START], then ids */
static float ids_char(int64_t i) { return (float)((i * 5 + 1) % V); }
static float ids_next(int64_t i) { return (float)((i * 3 + 2) % V); }
/* [S, B] source mask: the second sentence is one token shorter. */
static float src_mask(int64_t i) { return i / B == S - 1 && i % B == 1 ? 0.0f : 1.0f; }
/* [T, B] target mask: the first sentence's last token is padding. */
static float tgt_mask(int64_t i) { return i / B == T - 1 && i % B == 0 ? 0.0f : 1.0f; }
/* [B] lengths: the whole sequence, and 2 of its T steps. */
static float seq_lengths(int64_t i) { return i == 0 ? (float)T : 2.0f; }

/* Unrolls, differentiates the loss with respect to every parameter. */
static void finish(model *m)
{
    TU_OK(m->g, m->loss);
    TU_ST(m->g, recur_unroll(m->g));
    m->n_params = recur_params(m->g, m->param, MAX_VALUES);
    assert_true(m->n_params > 0 && m->n_params <= MAX_VALUES);
    TU_ST(m->g, recur_grad(m->g, m->loss, m->n_params, m->param, m->grad));
}

static void build_seq2seq(model *m, const model_spec *spec)
{
    recur_seq2seq_opts o = {.kind = (recur_cell_kind)spec->kind, .src_vocab = V, .tgt_vocab = V, .embed = 3, .hidden = H,
                            .attention = (recur_attn_kind)spec->attention, .attn_size = 3, .start_id = 1, .end_id = 2};
    recur_seq2seq s;
    TU_ST(m->g, recur_seq2seq_new(m->g, "s2s", &o, &s));
    TU_ST(m->g, recur_seq2seq_train_graph(m->g, &s, S, T, B));
    /* The training graph's inputs, fed by name. */
    const struct {
        recur_value v;
        float (*fill)(int64_t);
    } in[] = {{s.src, ids_src}, {s.src_mask, src_mask}, {s.dec_in, ids_dec}, {s.dec_tgt, ids_tgt}, {s.tgt_mask, tgt_mask}};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        int64_t n = recur_shape_numel(recur_value_shape(m->g, in[i].v));
        float *x = malloc(sizeof(float) * (size_t)n);
        assert_non_null(x);
        for (int64_t k = 0; k < n; k++) x[k] = in[i].fill(k);
        m->feed_data[m->n_feeds] = x;
        m->feed[m->n_feeds++] = (recur_feed){in[i].v, x, n};
    }
    add_handle(m, s.logits);
    add_handle(m, s.context);
    if (recur_ok(s.attn)) add_handle(m, s.attn);
    m->loss = s.loss;
    finish(m);
}

static void build_rnn(model *m, const model_spec *spec)
{
    recur_value xs = add_feed(m, "xs", recur_shape3(T, B, I), NULL, 11);
    recur_value lengths = spec->lengths ? add_feed(m, "lengths", recur_shape1(B), seq_lengths, 0) : RECUR_NONE;
    recur_rnn_opts o = {.kind = (recur_cell_kind)spec->kind, .input_size = I, .hidden = H, .layers = spec->layers,
                        .bidirectional = spec->bidirectional, .merge = (recur_merge)spec->merge,
                        .residual = spec->residual, .dropout = spec->dropout, .seed = 5,
                        .lengths = spec->lengths ? &lengths : NULL};
    recur_rnn r;
    TU_ST(m->g, recur_rnn_new(m->g, "rnn", &o, xs, RECUR_NONE, RECUR_NONE, &r));
    add_handle(m, r.outputs);
    add_handle(m, r.h_n);
    recur_value loss = recur_add(m->g, recur_sum(m->g, recur_square(m->g, r.outputs)), recur_sum(m->g, r.h_n));
    if (recur_ok(r.c_n)) {
        add_handle(m, r.c_n);
        loss = recur_add(m->g, loss, recur_mean(m->g, r.c_n));
    }
    m->loss = loss;
    finish(m);
}

/* The minimal gated unit: f = sigmoid(x Wf^T + h Uf^T), n = tanh(x Wn^T + (f h) Un^T), h' = (1 - f) h + f n. */
static recur_status mgu_step(recur_graph *g, const recur_cell *c, recur_value x, const recur_value *s,
                             recur_value *next, recur_value *out)
{
    const recur_value *p = c->user;
    recur_value f = recur_sigmoid(g, recur_add(g, recur_matmul(g, x, p[0], 0, 1), recur_matmul(g, s[0], p[1], 0, 1)));
    recur_value n = recur_tanh(g, recur_add(g, recur_matmul(g, x, p[2], 0, 1),
                                            recur_matmul(g, recur_mul(g, f, s[0]), p[3], 0, 1)));
    next[0] = *out = recur_add(g, recur_mul(g, recur_one_minus(g, f), s[0]), recur_mul(g, f, n));
    return recur_ok(next[0]) ? RECUR_OK : recur_errcode(g);
}

/* A custom cell (two layers of a hand-written LSTM or GRU, or one MGU) and a dense head with an MSE loss. */
static void build_custom(model *m, const model_spec *spec)
{
    recur_value x = add_feed(m, "xs", recur_shape3(T, B, I), NULL, 12);
    recur_value target = add_feed(m, "target", recur_shape3(T, B, 2), NULL, 13);
    int layers = spec->kind == MGU ? 1 : 2, G = spec->kind == HAND_LSTM ? 4 : 3;
    char name[32];
    for (int l = 0; l < layers; l++) {
        int64_t in = l == 0 ? I : H;
        recur_cell c = {.n_state = spec->kind == HAND_LSTM ? 2 : 1, .state_size = {H, H}, .input_size = in,
                        .output_size = H};
        if (spec->kind == MGU) {
            const char *names[4] = {"Wf", "Uf", "Wn", "Un"};
            for (int k = 0; k < 4; k++) m->mgu[k] = tu_param(m->g, names[k], recur_shape2(H, k % 2 ? H : in));
            c.name = "mgu", c.step = mgu_step, c.user = m->mgu;
        } else {
            hand_weights *w = &m->hand[l];
            for (int k = 0; k < G; k++) {
                snprintf(name, sizeof name, "l%d.W%d", l, k);
                w->W[k] = tu_param(m->g, name, recur_shape2(H, in));
                snprintf(name, sizeof name, "l%d.U%d", l, k);
                w->U[k] = tu_param(m->g, name, recur_shape2(H, H));
            }
            for (int k = 0; k < 4; k++) {
                snprintf(name, sizeof name, "l%d.b%d", l, k);
                w->b[k] = tu_param(m->g, name, recur_shape1(H));
            }
            c.name = spec->kind == HAND_LSTM ? "hand_lstm" : "hand_gru";
            c.step = spec->kind == HAND_LSTM ? hand_lstm_step : hand_gru_step;
            c.user = w;
        }
        recur_seq_result r;
        snprintf(name, sizeof name, "layer%d", l);
        TU_ST(m->g, recur_cell_over(m->g, &c, name, x, NULL, l == 1, &r));
        x = r.outputs;
        add_handle(m, r.outputs);
        for (int k = 0; k < c.n_state; k++) add_handle(m, r.final[k]);
    }
    recur_value y = recur_dense(m->g, "head", x, 2, 1);
    add_handle(m, y);
    m->loss = recur_mse(m->g, y, target);
    finish(m);
}

/*
 * The character model of `recur train`: one-hot ids (or an embedding) ->
 * recurrent layer -> dense -> softmax cross-entropy against the next ids;
 * with carry, the layer starts from states fed as inputs (TBPTT).
 */
static void build_char(model *m, const model_spec *spec)
{
    recur_value ids = add_feed(m, "ids", recur_shape2(T, B), ids_char, 0);
    recur_value next = add_feed(m, "next", recur_shape2(T, B), ids_next, 0);
    recur_value h0 = RECUR_NONE, c0 = RECUR_NONE;
    if (spec->carry) {
        h0 = add_feed(m, "h0", recur_shape3(spec->layers, B, H), NULL, 14);
        if (spec->kind == RECUR_LSTM) c0 = add_feed(m, "c0", recur_shape3(spec->layers, B, H), NULL, 15);
    }
    recur_value x = spec->carry ? recur_embedding(m->g, "emb", ids, V, 3) : recur_one_hot(m->g, ids, V);
    recur_rnn_opts o = {.kind = (recur_cell_kind)spec->kind, .input_size = spec->carry ? 3 : V, .hidden = H,
                        .layers = spec->layers, .dropout = spec->dropout, .seed = 9};
    recur_rnn r;
    TU_ST(m->g, recur_rnn_new(m->g, "lstm", &o, x, h0, c0, &r));
    recur_value logits = recur_dense(m->g, "out", r.outputs, V, 1);
    add_handle(m, logits);
    add_handle(m, r.h_n);
    if (recur_ok(r.c_n)) add_handle(m, r.c_n);
    m->loss = recur_softmax_xent(m->g, logits, next, RECUR_NONE);
    finish(m);
}

/* A many-to-one classifier: an Elman RNN's last step through a dense layer, softmax probabilities and an MSE. */
static void build_classifier(model *m, const model_spec *spec)
{
    (void)spec;
    recur_value xs = add_feed(m, "xs", recur_shape3(T, B, I), NULL, 16);
    recur_value target = add_feed(m, "target", recur_shape2(B, 3), NULL, 17);
    recur_rnn_opts o = {.kind = RECUR_RNN_TANH, .input_size = I, .hidden = H};
    recur_rnn r;
    TU_ST(m->g, recur_rnn_new(m->g, "elman", &o, xs, RECUR_NONE, RECUR_NONE, &r));
    recur_value last = recur_last_step(m->g, r.outputs);
    recur_value p = recur_softmax(m->g, recur_dense(m->g, "cls", last, 3, 1));
    add_handle(m, r.outputs);
    add_handle(m, last);
    add_handle(m, p);
    m->loss = recur_mse(m->g, p, target);
    finish(m);
}

static const model_spec models[] = {
    {.name = "seq2seq lstm, additive attention", .build = build_seq2seq, .kind = RECUR_LSTM, .attention = RECUR_ATTN_ADDITIVE},
    {.name = "seq2seq lstm, dot attention", .build = build_seq2seq, .kind = RECUR_LSTM, .attention = RECUR_ATTN_DOT},
    {.name = "seq2seq gru, additive attention", .build = build_seq2seq, .kind = RECUR_GRU, .attention = RECUR_ATTN_ADDITIVE},
    {.name = "seq2seq gru, dot attention", .build = build_seq2seq, .kind = RECUR_GRU, .attention = RECUR_ATTN_DOT},
    {.name = "seq2seq rnn, no attention", .build = build_seq2seq, .kind = RECUR_RNN_TANH, .attention = RECUR_ATTN_NONE},
    {.name = "stacked lstm", .build = build_rnn, .kind = RECUR_LSTM, .layers = 2},
    {.name = "stacked gru with dropout", .build = build_rnn, .kind = RECUR_GRU, .layers = 2, .dropout = 0.3f},
    {.name = "residual gru", .build = build_rnn, .kind = RECUR_GRU, .layers = 3, .residual = 1},
    {.name = "residual lstm", .build = build_rnn, .kind = RECUR_LSTM, .layers = 3, .residual = 1},
    {.name = "bidirectional lstm, concatenated", .build = build_rnn, .kind = RECUR_LSTM, .layers = 1, .bidirectional = 1, .merge = RECUR_MERGE_CONCAT},
    {.name = "deep bidirectional gru, summed", .build = build_rnn, .kind = RECUR_GRU, .layers = 2, .bidirectional = 1, .merge = RECUR_MERGE_SUM},
    {.name = "deep bidirectional rnn relu, concatenated", .build = build_rnn, .kind = RECUR_RNN_RELU, .layers = 2, .bidirectional = 1, .merge = RECUR_MERGE_CONCAT},
    {.name = "gru (Cho)", .build = build_rnn, .kind = RECUR_GRU_CHO, .layers = 1},
    {.name = "stacked lstm over lengths", .build = build_rnn, .kind = RECUR_LSTM, .layers = 2, .lengths = 1},
    {.name = "bidirectional gru over lengths, concatenated", .build = build_rnn, .kind = RECUR_GRU, .layers = 1, .bidirectional = 1, .merge = RECUR_MERGE_CONCAT, .lengths = 1},
    {.name = "residual lstm over lengths, dropout", .build = build_rnn, .kind = RECUR_LSTM, .layers = 3, .residual = 1, .dropout = 0.2f, .lengths = 1},
    {.name = "custom cell: mgu", .build = build_custom, .kind = MGU},
    {.name = "custom cell: hand-written lstm", .build = build_custom, .kind = HAND_LSTM},
    {.name = "custom cell: hand-written gru", .build = build_custom, .kind = HAND_GRU},
    {.name = "char model (one-hot lstm)", .build = build_char, .kind = RECUR_LSTM, .layers = 1},
    {.name = "char model (2-layer gru, dropout)", .build = build_char, .kind = RECUR_GRU, .layers = 2, .dropout = 0.2f},
    {.name = "char model (embedding lstm, carried state)", .build = build_char, .kind = RECUR_LSTM, .layers = 2, .carry = 1},
    {.name = "many-to-one classifier", .build = build_classifier},
};
enum { N_MODELS = sizeof models / sizeof models[0] };

/* Builds a model with the graph's default passes (env_passes) or with every pass off. */
static model make(const model_spec *spec, int env_passes)
{
    model m;
    memset(&m, 0, sizeof m);
    m.g = recur_graph_new(7);
    assert_non_null(m.g);
    if (!env_passes) recur_set_passes(m.g, 0);
    spec->build(&m, spec);
    return m;
}

static void release(model *m)
{
    for (int i = 0; i < m->n_feeds; i++) free(m->feed_data[i]);
    recur_graph_free(m->g);
}

/* 1 if v is a value the graph computes (not an input, parameter or constant) in the outer graph. */
static int computed(const recur_graph *g, recur_value v)
{
    const char *op = recur_value_op(g, v);
    return op && strcmp(op, "input") && strcmp(op, "param") && strcmp(op, "const") && strncmp(op, "loop", 4) &&
           recur_value_loop(g, v).id < 0;
}

/* Appends v to outs unless it is there already. */
static void add_unique(recur_value *outs, int *n, recur_value v)
{
    for (int i = 0; i < *n; i++)
        if (outs[i].id == v.id) return;
    outs[(*n)++] = v;
}

/* The model's values: the loss, its handles, every named computed value, every gradient (outs: room for the graph). */
static int model_values(const model *m, recur_value *outs)
{
    int n = 0;
    add_unique(outs, &n, m->loss);
    for (int i = 0; i < m->n_handles; i++) add_unique(outs, &n, m->handle[i]);
    for (int id = 0; id < recur_graph_size(m->g); id++) {
        recur_value v = {id};
        const char *name = recur_value_name(m->g, v);
        if (computed(m->g, v) && name && !strchr(name, '#')) add_unique(outs, &n, v);
    }
    for (int i = 0; i < m->n_params; i++) add_unique(outs, &n, m->grad[i]);
    return n;
}

/* Every value a plan for the model's values computes (outs: room for the graph). */
static int every_value(const model *m, recur_value *outs)
{
    int n_model = model_values(m, outs), size = recur_graph_size(m->g);
    int32_t *order = malloc(sizeof(int32_t) * (size_t)size);
    assert_non_null(order);
    int count = recur_topo_order(m->g, n_model, outs, order, size), n = 0;
    assert_true(count > 0);
    for (int i = 0; i < count; i++)
        if (computed(m->g, (recur_value){order[i]})) outs[n++] = (recur_value){order[i]};
    free(order);
    return n;
}

static recur_plan *compile_run(const model *m, int n, const recur_value *outs, int no_reuse, int runs)
{
    recur_compile_opts o = {.no_reuse = no_reuse};
    recur_plan *p = recur_compile(m->g, n, outs, &o);
    if (!p) fail_msg("compile (no_reuse %d): %s", no_reuse, recur_errmsg(m->g));
    for (int i = 0; i < m->n_feeds; i++)
        if (recur_plan_feed(p, m->feed[i].value, m->feed[i].data, m->feed[i].n) != RECUR_OK &&
            recur_plan_errcode(p) != RECUR_ERR_VALUE)
            fail_msg("feed: %s", recur_plan_errmsg(p));
    for (int r = 0; r < runs; r++)
        if (recur_plan_run(p) != RECUR_OK) fail_msg("run: %s", recur_plan_errmsg(p));
    return p;
}

/* Fails naming the model, the output and the first element where plans a and b differ (bit for bit, or beyond tol). */
static void compare_outputs(const char *what, recur_graph *ga, recur_plan *a, int n, const recur_value *outs_a,
                            recur_plan *b, const recur_value *outs_b, double tol)
{
    for (int i = 0; i < n; i++) {
        const float *x = recur_plan_output(a, outs_a[i]), *y = recur_plan_output(b, outs_b[i]);
        if (!x || !y) fail_msg("%s: output %s: %s", what, recur_value_name(ga, outs_a[i]), recur_plan_errmsg(x ? b : a));
        int64_t numel = recur_shape_numel(recur_value_shape(ga, outs_a[i]));
        for (int64_t k = 0; k < numel; k++) {
            double d = fabs((double)x[k] - (double)y[k]);
            int same = tol == 0 ? memcmp(&x[k], &y[k], sizeof(float)) == 0 : d <= tol * (1 + fabs((double)y[k]));
            if (!same)
                fail_msg("%s: output %d %s (%s) element %lld: %.9g, but %.9g in the reference plan", what, i,
                         recur_value_name(ga, outs_a[i]), recur_value_op(ga, outs_a[i]), (long long)k, (double)x[k],
                         (double)y[k]);
        }
    }
}

/* The outputs outs of a plan with every pass and sharing on equal, bit for bit, those of a no_reuse plan. */
static void check_bitwise(const model *m, const char *what, int n, const recur_value *outs)
{
    recur_plan *shared = compile_run(m, n, outs, 0, 2), *alone = compile_run(m, n, outs, 1, 2);
    compare_outputs(what, m->g, shared, n, outs, alone, outs, 0);
    recur_plan_free(shared);
    recur_plan_free(alone);
}

/* Deterministic pseudo-random subset of outs (about one in `every`), at least one value. */
static int subset(const recur_value *outs, int n, int every, uint64_t seed, recur_value *sub)
{
    int k = 0;
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        if (s % (uint64_t)every == 0) sub[k++] = outs[i];
    }
    if (!k) sub[k++] = outs[n - 1];
    return k;
}

/* A model's values, every value and random subsets, each against no_reuse. */
static void check_model_bitwise(const model_spec *spec)
{
    model m = make(spec, 1);
    int size = recur_graph_size(m.g);
    recur_value *outs = malloc(sizeof *outs * (size_t)size), *sub = malloc(sizeof *sub * (size_t)size);
    assert_true(outs && sub);
    char what[160];
    int n = model_values(&m, outs);
    snprintf(what, sizeof what, "%s, its values and gradients", spec->name);
    check_bitwise(&m, what, n, outs);
    /* Each value alone: the loss and gradients are then computed for nothing but it. */
    for (int i = 0; i < n; i++) {
        snprintf(what, sizeof what, "%s, only %s", spec->name, recur_value_name(m.g, outs[i]));
        check_bitwise(&m, what, 1, &outs[i]);
    }
    n = every_value(&m, outs);
    snprintf(what, sizeof what, "%s, every value", spec->name);
    check_bitwise(&m, what, n, outs);
    for (int seed = 1; seed <= 12; seed++) {
        int k = subset(outs, n, seed % 3 == 0 ? 3 : seed % 3 == 1 ? 9 : 27, (uint64_t)seed, sub);
        snprintf(what, sizeof what, "%s, subset %d (%d values)", spec->name, seed, k);
        check_bitwise(&m, what, k, sub);
    }
    free(outs);
    free(sub);
    release(&m);
}

/* The same model's values with the graph passes off (no_reuse), to 1e-5: the passes reorder sums. */
static void check_model_passes(const model_spec *spec)
{
    model on = make(spec, 1), off = make(spec, 0);
    assert_int_equal(on.n_params, off.n_params);
    assert_int_equal(on.n_handles, off.n_handles);
    recur_value a[2 * MAX_VALUES + 1], b[2 * MAX_VALUES + 1];
    int n = 0;
    a[n] = on.loss, b[n++] = off.loss;
    for (int i = 0; i < on.n_handles; i++) a[n] = on.handle[i], b[n++] = off.handle[i];
    for (int i = 0; i < on.n_params; i++) {
        assert_string_equal(recur_value_name(on.g, on.param[i]), recur_value_name(off.g, off.param[i]));
        a[n] = on.grad[i], b[n++] = off.grad[i];
    }
    recur_plan *pa = compile_run(&on, n, a, 0, 1), *pb = compile_run(&off, n, b, 1, 1);
    char what[160];
    snprintf(what, sizeof what, "%s, graph passes on against off", spec->name);
    compare_outputs(what, on.g, pa, n, a, pb, b, 1e-5);
    recur_plan_free(pa);
    recur_plan_free(pb);
    release(&on);
    release(&off);
}

static void test_models_bitwise(void **state)
{
    (void)state;
    for (int i = 0; i < N_MODELS; i++) check_model_bitwise(&models[i]);
}

static void test_models_passes(void **state)
{
    (void)state;
    for (int i = 0; i < N_MODELS; i++) check_model_passes(&models[i]);
}

/*
 * The case reported: additive attention's weights fetched beside the loss
 * and d loss / d v were a gradient (rows summing to 0); they are the
 * softmax weights (rows summing to 1), the same as in a no_reuse plan.
 */
static void test_attention_weights_beside_gradient(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(7);
    recur_seq2seq_opts o = {.kind = RECUR_LSTM, .src_vocab = 6, .tgt_vocab = 6, .embed = 4, .hidden = 4,
                            .attention = RECUR_ATTN_ADDITIVE, .attn_size = 4, .start_id = 1, .end_id = 2};
    recur_seq2seq m;
    TU_ST(g, recur_seq2seq_new(g, "s2s", &o, &m));
    TU_ST(g, recur_seq2seq_train_graph(g, &m, 3, 2, 1));
    TU_ST(g, recur_unroll(g));
    recur_value v = recur_find(g, "s2s.attention.v"), dv;
    TU_ST(g, recur_grad(g, m.loss, 1, &v, &dv));
    recur_value outs[3] = {m.attn, m.loss, dv};
    float src[3] = {3, 4, 5}, ones[3] = {1, 1, 1}, din[2] = {1, 3}, dt[2] = {3, 2}, w[2][6];
    for (int no_reuse = 0; no_reuse < 2; no_reuse++) {
        recur_plan *p = recur_compile(g, 3, outs, &(recur_compile_opts){.no_reuse = no_reuse});
        TU_OK(g, p ? m.loss : RECUR_NONE);
        assert_int_equal(recur_plan_feed(p, m.src, src, 3), RECUR_OK);
        assert_int_equal(recur_plan_feed(p, m.src_mask, ones, 3), RECUR_OK);
        assert_int_equal(recur_plan_feed(p, m.dec_in, din, 2), RECUR_OK);
        assert_int_equal(recur_plan_feed(p, m.dec_tgt, dt, 2), RECUR_OK);
        assert_int_equal(recur_plan_feed(p, m.tgt_mask, ones, 2), RECUR_OK);
        assert_int_equal(recur_plan_run(p), RECUR_OK);
        assert_int_equal(recur_plan_fetch(p, m.attn, w[no_reuse], 6), RECUR_OK);
        recur_plan_free(p);
    }
    for (int r = 0; r < 2; r++) {
        double sum = 0;
        for (int s = 0; s < 3; s++) sum += w[0][3 * r + s];
        assert_true(fabs(sum - 1) < 1e-6);
    }
    assert_memory_equal(w[0], w[1], sizeof w[0]);
    assert_true(fabsf(w[0][0] - 0.36595f) < 1e-5f);
    recur_graph_free(g);
}

/* Truncated BPTT over three chunks: the carried states and every output agree with a no_reuse plan bit for bit. */
static void test_tbptt_bitwise(void **state)
{
    (void)state;
    const model_spec *spec = NULL;
    for (int i = 0; i < N_MODELS; i++)
        if (models[i].carry) spec = &models[i];
    assert_non_null(spec);
    model m = make(spec, 1);
    recur_value init[2] = {recur_find(m.g, "h0"), recur_find(m.g, "c0")}, final[2] = {m.handle[1], m.handle[2]};
    recur_value *outs = malloc(sizeof *outs * (size_t)recur_graph_size(m.g));
    assert_non_null(outs);
    int n = model_values(&m, outs);
    recur_plan *p[2];
    recur_tbptt *tb[2];
    for (int k = 0; k < 2; k++) {
        p[k] = compile_run(&m, n, outs, k, 0);
        tb[k] = recur_tbptt_new(p[k], 2, init, final);
        if (!tb[k]) fail_msg("tbptt: %s", recur_plan_errmsg(p[k]));
    }
    for (int chunk = 0; chunk < 3; chunk++) {
        float ids[T * B];
        for (int i = 0; i < T * B; i++) ids[i] = (float)((i * 7 + chunk * 3) % V);
        for (int k = 0; k < 2; k++) {
            assert_int_equal(recur_plan_feed(p[k], m.feed[0].value, ids, T * B), RECUR_OK);
            assert_int_equal(recur_tbptt_run(tb[k]), RECUR_OK);
        }
        char what[64];
        snprintf(what, sizeof what, "tbptt chunk %d", chunk);
        compare_outputs(what, m.g, p[0], n, outs, p[1], outs, 0);
    }
    for (int k = 0; k < 2; k++) {
        recur_tbptt_free(tb[k]);
        recur_plan_free(p[k]);
    }
    free(outs);
    release(&m);
}

/*
 * A stepper over a loop whose body is an LSTM cell, additive attention over
 * a memory and a dense softmax head: every body value as an output, and
 * random subsets, bit for bit against a no_reuse stepper over five steps.
 */
static void test_stepper_bitwise(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(3);
    recur_value xs = recur_input(g, "xs", recur_shape3(T, B, I)), mem = recur_input(g, "mem", recur_shape3(S, B, H));
    recur_cell cell;
    TU_ST(g, recur_cell_new(g, &cell, RECUR_LSTM, "cell", NULL, I + H, H));
    recur_attention att;
    TU_ST(g, recur_attention_new(g, "att", RECUR_ATTN_ADDITIVE, mem, RECUR_NONE, H, 3, &att));
    int first = recur_graph_size(g);
    recur_loop L = recur_loop_begin(g, "dec", 0);
    recur_value x = recur_loop_input(g, L, xs), s[2], next[2], out, ctx, w;
    s[0] = recur_loop_state(g, L, "h", recur_fill(g, recur_shape2(B, H), 0));
    s[1] = recur_loop_state(g, L, "c", recur_fill(g, recur_shape2(B, H), 0));
    TU_ST(g, recur_attend(g, &att, s[0], &ctx, &w));
    TU_ST(g, cell.step(g, &cell, recur_concat(g, 2, (recur_value[]){x, ctx}, 1), s, next, &out));
    recur_value p = recur_softmax(g, recur_dense(g, "head", out, V, 1));
    TU_OK(g, p);
    for (int k = 0; k < 2; k++) TU_ST(g, recur_loop_next(g, L, s[k], next[k]));
    TU_ST(g, recur_loop_end(g, L));
    int last = recur_graph_size(g);
    recur_value body[512], sub[512];
    int n = 0;
    for (int id = first; id < last && n < 512; id++) {
        const char *op = recur_value_op(g, (recur_value){id});
        if (recur_value_loop(g, (recur_value){id}).id == L.id && strncmp(op, "loop", 4)) body[n++] = (recur_value){id};
    }
    assert_true(n > 20);
    float mem_data[S * B * H], xd[B * I];
    tu_fill_uniform(mem_data, S * B * H, -1, 1, 21);
    for (int trial = 0; trial < 8; trial++) {
        int k = trial == 0 ? n : subset(body, n, trial % 2 ? 4 : 12, (uint64_t)trial, sub);
        const recur_value *outs = trial == 0 ? body : sub;
        recur_stepper *st[2];
        for (int r = 0; r < 2; r++) {
            st[r] = recur_stepper_new(g, L, k, outs, &(recur_compile_opts){.no_reuse = r});
            if (!st[r]) fail_msg("stepper: %s", recur_errmsg(g));
            recur_value cap[8];
            int n_cap = recur_stepper_captures(st[r], cap, 8);
            for (int c = 0; c < n_cap; c++) {
                int64_t numel = recur_shape_numel(recur_value_shape(g, cap[c]));
                float *data = malloc(sizeof(float) * (size_t)numel);
                tu_fill_uniform(data, numel, -1, 1, (uint64_t)(30 + c));
                if (cap[c].id == mem.id) memcpy(data, mem_data, sizeof mem_data);
                assert_int_equal(recur_stepper_feed(st[r], cap[c], data, numel), RECUR_OK);
                free(data);
            }
        }
        for (int t = 0; t < 5; t++) {
            tu_fill_uniform(xd, B * I, -1, 1, (uint64_t)(40 + t));
            for (int r = 0; r < 2; r++) {
                assert_int_equal(recur_stepper_feed(st[r], x, xd, B * I), RECUR_OK);
                if (recur_stepper_step(st[r]) != RECUR_OK) fail_msg("step: %s", recur_stepper_errmsg(st[r]));
            }
            for (int o = 0; o < k; o++) {
                const float *a = recur_stepper_output(st[0], outs[o]), *b = recur_stepper_output(st[1], outs[o]);
                assert_non_null(a);
                assert_non_null(b);
                int64_t numel = recur_shape_numel(recur_value_shape(g, outs[o]));
                if (memcmp(a, b, sizeof(float) * (size_t)numel) != 0)
                    fail_msg("stepper trial %d step %d: body value %s (%s) differs from the no_reuse stepper", trial, t,
                             recur_value_name(g, outs[o]), recur_value_op(g, outs[o]));
            }
        }
        recur_stepper_free(st[0]);
        recur_stepper_free(st[1]);
    }
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_weights_beside_gradient),
        cmocka_unit_test(test_models_bitwise),
        cmocka_unit_test(test_models_passes),
        cmocka_unit_test(test_tbptt_bitwise),
        cmocka_unit_test(test_stepper_bitwise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
