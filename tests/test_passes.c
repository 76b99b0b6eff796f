/*
 * tests/test_passes.c — the graph passes: with them on and off, every layer
 * family computes the same outputs and gradients, while the passes really
 * change the graph (one input-projection matmul instead of T, one matmul
 * per recurrent weight gradient instead of T, one matmul for the gate
 * products a hand-written cell makes one per gate), for built-in and custom
 * cells alike.
 */
#include "test_util.h"
#include "hand_cells.h"

#include "plan/plan.h"
#include "graph/ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { T = 6, B = 3, I = 4, H = 5 };

/* How many nodes of op `op` computing `outs` the plan needs. */
static int count_ops(recur_graph *g, int n, const recur_value *outs, const char *op)
{
    int32_t *order = malloc(sizeof(int32_t) * (size_t)recur_graph_size(g));
    int k = recur_topo_order(g, n, outs, order, recur_graph_size(g)), count = 0;
    assert_true(k > 0);
    for (int i = 0; i < k; i++) count += strcmp(recur_value_op(g, (recur_value){order[i]}), op) == 0;
    free(order);
    return count;
}

/*
 * The minimal gated unit as a custom cell, with separate matmuls for its
 * input projections: f = sigmoid(x Wf^T + h Uf^T), n = tanh(x Wn^T + (f h) Un^T).
 */
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

/* The cells build() knows besides the built-in kinds (recur_cell_kind >= 0). */
enum { MGU = -1, HAND_LSTM = -2, HAND_GRU = -3 };

static const char *kind_name(int kind)
{
    return kind == MGU ? "custom mgu" : kind == HAND_LSTM ? "hand-written lstm" : kind == HAND_GRU ? "hand-written gru"
                                                                                                   : recur_cell_kind_name(kind);
}

typedef struct built {
    recur_graph *g;
    recur_value xs, loss, params[32], grads[32];
    int n_params;
    hand_weights user[2]; /* the hand-written cells' weights, per layer */
} built;

/*
 * Two layers of a hand-written cell over xs [steps, B, I] with separate
 * gate weights: the outputs and the last layer's final h.
 */
static void hand_layers(built *b, int kind, recur_value *outputs, recur_value *hfin)
{
    int G = kind == HAND_LSTM ? 4 : 3; /* gates; both cells have 4 biases */
    recur_value x = b->xs;
    for (int l = 0; l < 2; l++) {
        int64_t in = l == 0 ? I : H;
        hand_weights *p = &b->user[l];
        char name[32];
        for (int k = 0; k < G; k++) {
            snprintf(name, sizeof name, "l%d.W%d", l, k);
            p->W[k] = tu_param(b->g, name, recur_shape2(H, in));
            snprintf(name, sizeof name, "l%d.U%d", l, k);
            p->U[k] = tu_param(b->g, name, recur_shape2(H, H));
        }
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "l%d.b%d", l, k);
            p->b[k] = tu_param(b->g, name, recur_shape1(H));
        }
        recur_cell c = {.name = kind == HAND_LSTM ? "hand_lstm" : "hand_gru", .n_state = kind == HAND_LSTM ? 2 : 1,
                        .state_size = {H, H}, .input_size = in, .output_size = H,
                        .step = kind == HAND_LSTM ? hand_lstm_step : hand_gru_step, .user = p};
        recur_seq_result r;
        snprintf(name, sizeof name, "layer%d", l);
        TU_ST(b->g, recur_cell_over(b->g, &c, name, x, NULL, 0, &r));
        x = *outputs = r.outputs;
        *hfin = r.final[0];
    }
}

/* Builds loss = sum(outputs^2) + sum(final h) over `steps` steps and its gradients. */
static built build_steps(int kind, unsigned passes, int bidirectional, int64_t steps)
{
    built b;
    b.g = recur_graph_new(77);
    recur_set_passes(b.g, passes);
    b.xs = recur_input(b.g, "xs", recur_shape3(steps, B, I));
    recur_value outputs, hfin;
    if (kind == HAND_LSTM || kind == HAND_GRU) {
        hand_layers(&b, kind, &outputs, &hfin);
    } else if (kind >= 0) {
        recur_rnn_opts o = {.kind = (recur_cell_kind)kind, .input_size = I, .hidden = H, .layers = 2,
                            .bidirectional = bidirectional};
        recur_rnn r;
        TU_ST(b.g, recur_rnn_new(b.g, "rnn", &o, b.xs, RECUR_NONE, RECUR_NONE, &r));
        outputs = r.outputs;
        hfin = r.h_n;
    } else {
        static recur_value p[4];
        p[0] = tu_param(b.g, "Wf", recur_shape2(H, I));
        p[1] = tu_param(b.g, "Uf", recur_shape2(H, H));
        p[2] = tu_param(b.g, "Wn", recur_shape2(H, I));
        p[3] = tu_param(b.g, "Un", recur_shape2(H, H));
        recur_cell c = {.name = "mgu", .n_state = 1, .state_size = {H}, .input_size = I, .output_size = H,
                        .step = mgu_step, .user = p};
        recur_seq_result r;
        TU_ST(b.g, recur_cell_over(b.g, &c, "mgu", b.xs, NULL, 0, &r));
        outputs = r.outputs;
        hfin = r.final[0];
    }
    b.loss = recur_add(b.g, recur_sum(b.g, recur_square(b.g, outputs)), recur_sum(b.g, hfin));
    TU_OK(b.g, b.loss);
    TU_ST(b.g, recur_unroll(b.g));
    b.n_params = recur_params(b.g, b.params, 32);
    TU_ST(b.g, recur_grad(b.g, b.loss, b.n_params, b.params, b.grads));
    TU_ST(b.g, recur_graph_validate(b.g));
    return b;
}

static built build(int kind, unsigned passes, int bidirectional) { return build_steps(kind, passes, bidirectional, T); }

/* Every output and gradient agrees with passes `a` and passes `b`. */
static void check_same(int kind, int bidirectional, unsigned a, unsigned b)
{
    built on = build(kind, a, bidirectional), off = build(kind, b, bidirectional);
    assert_int_equal(on.n_params, off.n_params);
    float x[T * B * I];
    tu_fill_uniform(x, T * B * I, -1, 1, 5);
    recur_feed fon = {on.xs, x, T * B * I}, foff = {off.xs, x, T * B * I};
    for (int i = -1; i < on.n_params; i++) {
        recur_value a = i < 0 ? on.loss : on.grads[i], b = i < 0 ? off.loss : off.grads[i];
        int64_t n = recur_shape_numel(recur_value_shape(on.g, a));
        float *va = tu_eval(on.g, a, 1, &fon), *vb = tu_eval(off.g, b, 1, &foff);
        tu_assert_close(va, vb, n, 1e-5, 1e-6);
        free(va), free(vb);
    }
    recur_graph_free(on.g);
    recur_graph_free(off.g);
}

/* Every output and gradient agrees with the passes on and off. */
static void check_equivalent(int kind, int bidirectional) { check_same(kind, bidirectional, RECUR_PASS_ALL, 0); }

static void test_equivalence_all_families(void **state)
{
    (void)state;
    int kinds[] = {RECUR_RNN_TANH, RECUR_RNN_RELU, RECUR_LSTM, RECUR_GRU, RECUR_GRU_CHO, MGU, HAND_LSTM, HAND_GRU};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        check_equivalent(kinds[k], 0);
        if (kinds[k] >= 0) check_equivalent(kinds[k], 1);
    }
}

/* What the passes change: input projections hoisted, per-step weight gradients batched. */
static void test_passes_change_the_graph(void **state)
{
    (void)state;
    const int kinds[2] = {-1, RECUR_LSTM}; /* the custom cell and the built-in LSTM */
    for (int c = 0; c < 2; c++) {
        int kind = kinds[c];
        built on = build(kind, RECUR_PASS_ALL, 0), off = build(kind, 0, 0);
        int mm_on_fwd = count_ops(on.g, 1, &on.loss, "matmul"), mm_off_fwd = count_ops(off.g, 1, &off.loss, "matmul");
        int mm_on = count_ops(on.g, on.n_params, on.grads, "matmul");
        int mm_off = count_ops(off.g, off.n_params, off.grads, "matmul");
        /*
         * Forward, per layer: off = 2 products per step (custom cell: 4); on = the input ones once
         * (the custom cell's two share x: one fused product), the recurrent ones per step.
         */
        int per_step = kind < 0 ? 4 : 2, layers = kind < 0 ? 1 : 2;
        assert_int_equal(mm_off_fwd, layers * per_step * T);
        assert_int_equal(mm_on_fwd, layers * (per_step / 2) * T + (kind < 0 ? 1 : layers));
        print_message("%s: forward matmuls %d -> %d, forward+backward %d -> %d\n", kind < 0 ? "custom mgu" : "lstm x2",
                      mm_off_fwd, mm_on_fwd, mm_off, mm_on);
        assert_true(mm_on * 5 < mm_off * 3); /* the sequential dh_{t-1} = dpre_t U products remain */
        recur_graph_free(on.g);
        recur_graph_free(off.g);
    }
}

/* Pointwise fusion runs chains as one kernel: bitwise the same results, fewer buffers. */
static void test_fusion_is_exact(void **state)
{
    (void)state;
    int kinds[] = {RECUR_LSTM, RECUR_GRU, -1};
    for (size_t c = 0; c < sizeof kinds / sizeof kinds[0]; c++) {
        built b = build(kinds[c], RECUR_PASS_ALL, 0);
        recur_value outs[33] = {b.loss};
        memcpy(outs + 1, b.grads, sizeof(recur_value) * (size_t)b.n_params);
        recur_compile_opts ref = {.backend = "reference"};
        recur_plan *fused = recur_compile(b.g, b.n_params + 1, outs, &ref);
        recur_set_passes(b.g, RECUR_PASS_ALL & ~RECUR_PASS_FUSE);
        recur_plan *plain = recur_compile(b.g, b.n_params + 1, outs, &ref);
        assert_non_null(fused);
        assert_non_null(plain);
        float x[T * B * I];
        tu_fill_uniform(x, T * B * I, -1, 1, 9);
        recur_plan *plans[2] = {fused, plain};
        for (int k = 0; k < 2; k++) {
            assert_int_equal(recur_plan_feed(plans[k], b.xs, x, T * B * I), RECUR_OK);
            assert_int_equal(recur_plan_run(plans[k]), RECUR_OK);
        }
        for (int i = 0; i <= b.n_params; i++) {
            int64_t n = recur_shape_numel(recur_value_shape(b.g, outs[i]));
            assert_memory_equal(recur_plan_output(fused, outs[i]), recur_plan_output(plain, outs[i]), sizeof(float) * (size_t)n);
        }
        print_message("%s: %d kernels fused, %d unfused\n", kinds[c] < 0 ? "mgu" : recur_cell_kind_name(kinds[c]),
                      recur_plan_size(fused), recur_plan_size(plain));
        assert_true(recur_plan_size(fused) * 10 < recur_plan_size(plain) * 8);
        recur_plan_free(fused);
        recur_plan_free(plain);
        recur_graph_free(b.g);
    }
    /* Kernels per time step and layer of a training plan, with every pass on: the recurrent product
     * and one fused kernel each way (the LSTM's preactivation, hoisted input projection + recurrent
     * product + bias, is summed inside the forward kernel; the GRU's recurrent product adds its
     * bias as it is written, since its backward pass reads that sum). The cells written by hand,
     * one product and bias per gate, get the same count, and the same memory per step. */
    const int cells[] = {RECUR_LSTM, RECUR_GRU, MGU, HAND_LSTM, HAND_GRU}, per_step[] = {8, 8, 8, 8, 8};
    size_t step_bytes[5];
    for (size_t c = 0; c < sizeof cells / sizeof cells[0]; c++) {
        int size[2];
        size_t bytes[2];
        for (int k = 0; k < 2; k++) {
            built b = build_steps(cells[c], RECUR_PASS_ALL, 0, T * (k + 1));
            recur_value outs[33] = {b.loss};
            memcpy(outs + 1, b.grads, sizeof(recur_value) * (size_t)b.n_params);
            recur_compile_opts ref = {.backend = "reference"};
            recur_plan *p = recur_compile(b.g, b.n_params + 1, outs, &ref);
            assert_non_null(p);
            size[k] = recur_plan_size(p);
            bytes[k] = recur_plan_memory(p);
            recur_plan_free(p);
            recur_graph_free(b.g);
        }
        step_bytes[c] = (bytes[1] - bytes[0]) / T;
        print_message("%s: %d kernels, %zu bytes per step\n", kind_name(cells[c]), (size[1] - size[0]) / T, step_bytes[c]);
        assert_int_equal(size[1] - size[0], per_step[c] * T);
    }
    assert_true(step_bytes[3] * 10 <= step_bytes[0] * 11); /* hand-written LSTM within 10% of the built-in one */
    assert_true(step_bytes[4] * 10 <= step_bytes[1] * 11); /* ... GRU (written as Cho's: a little less) */
}

/*
 * Lengths cost no kernels: the mask of a loop over lengths ([B, 1] per
 * step, stretched over the state's columns) is read inside the fused
 * kernels, so a training plan over lengths has as many kernels per step
 * as over padded sequences, and computes bitwise what the unfused plan
 * computes.
 */
static void test_fusion_reads_length_masks(void **state)
{
    (void)state;
    const recur_cell_kind kinds[] = {RECUR_LSTM, RECUR_GRU, RECUR_RNN_TANH};
    const float lengths[B] = {(float)T, 1, (float)(T / 2)};
    for (size_t c = 0; c < sizeof kinds / sizeof kinds[0]; c++) {
        int size[2][2];
        for (int with = 0; with < 2; with++)
            for (int k = 0; k < 2; k++) {
                int64_t steps = T * (k + 1);
                recur_graph *g = recur_graph_new(5);
                recur_set_passes(g, RECUR_PASS_ALL);
                recur_value xs = recur_input(g, "xs", recur_shape3(steps, B, I));
                recur_value lens = recur_input(g, "lengths", recur_shape1(B));
                recur_rnn_opts o = {.kind = kinds[c], .input_size = I, .hidden = H, .lengths = with ? &lens : NULL};
                recur_rnn r;
                TU_ST(g, recur_rnn_new(g, "rnn", &o, xs, RECUR_NONE, RECUR_NONE, &r));
                recur_value loss = recur_sum(g, recur_square(g, r.outputs));
                TU_ST(g, recur_unroll(g));
                recur_value outs[33] = {loss}, params[32];
                int n = recur_params(g, params, 32);
                TU_ST(g, recur_grad(g, loss, n, params, outs + 1));
                recur_compile_opts ref = {.backend = "reference"};
                recur_plan *fused = recur_compile(g, n + 1, outs, &ref);
                recur_set_passes(g, RECUR_PASS_ALL & ~RECUR_PASS_FUSE);
                recur_plan *plain = recur_compile(g, n + 1, outs, &ref);
                assert_non_null(fused);
                assert_non_null(plain);
                float x[2 * T * B * I];
                tu_fill_uniform(x, steps * B * I, -1, 1, 3);
                recur_plan *plans[2] = {fused, plain};
                for (int q = 0; q < 2; q++) {
                    assert_int_equal(recur_plan_feed(plans[q], xs, x, steps * B * I), RECUR_OK);
                    if (with) assert_int_equal(recur_plan_feed(plans[q], lens, lengths, B), RECUR_OK);
                    assert_int_equal(recur_plan_run(plans[q]), RECUR_OK);
                }
                for (int i = 0; i <= n; i++)
                    assert_memory_equal(recur_plan_output(fused, outs[i]), recur_plan_output(plain, outs[i]),
                                        sizeof(float) * (size_t)recur_shape_numel(recur_value_shape(g, outs[i])));
                size[with][k] = recur_plan_size(fused);
                recur_plan_free(fused);
                recur_plan_free(plain);
                recur_graph_free(g);
            }
        print_message("%s: %d kernels per step padded, %d over lengths\n", recur_cell_kind_name(kinds[c]),
                      (size[0][1] - size[0][0]) / T, (size[1][1] - size[1][0]) / T);
        assert_int_equal(size[1][1] - size[1][0], size[0][1] - size[0][0]);
    }
}

/* Compiles outs of g with fusion on and off (reference backend), runs both on x fed as `in`, checks them bitwise equal. */
static recur_plan *fused_and_plain(recur_graph *g, int n, const recur_value *outs, recur_value in, const float *x, recur_plan **plain)
{
    recur_compile_opts ref = {.backend = "reference"};
    unsigned lanes = recur_passes(g) & RECUR_PASS_LANES; /* (the plan's order: as the caller set it) */
    recur_set_passes(g, (RECUR_PASS_ALL & ~RECUR_PASS_LANES) | lanes);
    recur_plan *fused = recur_compile(g, n, outs, &ref);
    recur_set_passes(g, (RECUR_PASS_ALL & ~(RECUR_PASS_FUSE | RECUR_PASS_LANES)) | lanes);
    *plain = recur_compile(g, n, outs, &ref);
    assert_non_null(fused);
    assert_non_null(*plain);
    int64_t numel = recur_shape_numel(recur_value_shape(g, in));
    recur_plan *plans[2] = {fused, *plain};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(recur_plan_feed(plans[k], in, x, numel), RECUR_OK);
        assert_int_equal(recur_plan_run(plans[k]), RECUR_OK);
    }
    for (int i = 0; i < n; i++)
        assert_memory_equal(recur_plan_output(fused, outs[i]), recur_plan_output(*plain, outs[i]),
                            sizeof(float) * (size_t)recur_shape_numel(recur_value_shape(g, outs[i])));
    return fused;
}

/*
 * Fused kernels with several outputs: an LSTM-like update whose gate
 * activations and cell state are read after it runs as one kernel writing
 * them all; intermediates nothing else reads get no buffer.
 */
static void test_fusion_several_outputs(void **state)
{
    (void)state;
    enum { R = 5, C = 7 };
    recur_graph *g = recur_graph_new(3);
    recur_value x = recur_input(g, "x", recur_shape2(R, C));
    recur_value i = recur_sigmoid(g, x), gg = recur_tanh(g, recur_scale(g, x, 0.5f));
    recur_value c = recur_mul(g, i, gg), tc = recur_tanh(g, c), h = recur_mul(g, tc, i);
    TU_OK(g, h);
    float xd[R * C];
    tu_fill_uniform(xd, R * C, -2, 2, 5);
    recur_plan *plain, *fused = fused_and_plain(g, 3, (recur_value[]){h, i, c}, x, xd, &plain);
    assert_int_equal(recur_plan_size(fused), 1); /* one kernel writes h, i and c */
    assert_int_equal(recur_plan_size(plain), 6);
    assert_null(recur_plan_value_buffer(fused, tc)); /* read by h only */
    assert_null(recur_plan_value_buffer(fused, gg));
    assert_non_null(recur_plan_value_buffer(fused, i));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(recur_plan_dump(fused, f), RECUR_OK);
    fclose(f);
    assert_non_null(strstr(text, "fused"));
    assert_non_null(strstr(text, recur_value_name(g, c)));
    free(text);
    recur_plan_free(fused);
    recur_plan_free(plain);
    recur_graph_free(g);
}

/*
 * A member of a fused group is computed where the group's last op runs,
 * so a value read earlier by something else (here a product feeding the
 * group's last op) stays out of the group and is computed in time.
 */
static void test_fusion_respects_earlier_readers(void **state)
{
    (void)state;
    enum { R = 4, C = 6 };
    recur_graph *g = recur_graph_new(3);
    recur_value x = recur_input(g, "x", recur_shape2(R, C));
    recur_value w = recur_param(g, "w", recur_shape2(C, C), recur_init_uniform(-1, 1));
    recur_value a = recur_tanh(g, x);
    recur_value m = recur_matmul(g, a, w, 0, 0);
    recur_value y = recur_add(g, recur_mul(g, a, recur_sigmoid(g, x)), m);
    TU_OK(g, y);
    float xd[R * C];
    tu_fill_uniform(xd, R * C, -2, 2, 6);
    recur_plan *plain, *fused = fused_and_plain(g, 1, &y, x, xd, &plain);
    assert_non_null(recur_plan_value_buffer(fused, a)); /* computed before the product reads it */
    assert_int_equal(recur_plan_size(fused), 3);         /* tanh, the product, one kernel for the rest */
    recur_plan_free(fused);
    recur_plan_free(plain);
    recur_graph_free(g);
}

/*
 * Outputs of fused kernels that a concatenation along the last axis joins
 * (a step's gate gradients) are written into their columns of it and the
 * concatenation runs nothing: also when two different concatenations join
 * some of the same parts (a GRU's), each gets them written. When a part is
 * also read elsewhere it gets its own buffer and the concatenation copies.
 */
static void test_fusion_writes_concat_columns(void **state)
{
    (void)state;
    enum { R = 5, C = 3 };
    for (int variant = 0; variant < 3; variant++) { /* one concatenation; a part also an output; two concatenations */
        recur_graph *g = recur_graph_new(3);
        recur_value x = recur_input(g, "x", recur_shape2(R, C));
        recur_value w = recur_param(g, "w", recur_shape2(3 * C, 2), recur_init_uniform(-1, 1));
        recur_value t = recur_tanh(g, x);
        recur_value p1 = recur_mul(g, recur_sigmoid(g, x), t), p2 = recur_add(g, t, x), p3 = recur_one_minus(g, t);
        recur_value p4 = recur_mul(g, p3, x);
        recur_value joined = recur_concat(g, 3, (recur_value[]){p1, p2, p3}, 1);
        recur_value y = recur_matmul(g, joined, w, 0, 0);
        recur_value joined2 = recur_concat(g, 3, (recur_value[]){p1, p2, p4}, 1);
        recur_value y2 = recur_matmul(g, joined2, w, 0, 0);
        TU_OK(g, y2);
        float xd[R * C];
        tu_fill_uniform(xd, R * C, -2, 2, 7);
        recur_value outs[2] = {variant == 2 ? y2 : y, variant == 1 ? p2 : y}; /* (y2 first: its parts run before y's product) */
        recur_plan *plain, *fused = fused_and_plain(g, variant ? 2 : 1, outs, x, xd, &plain);
        /* the fused kernel and the products; a concatenation copies only when p2 is also an output */
        assert_int_equal(recur_plan_size(fused), variant == 0 ? 2 : 3);
        assert_int_equal(recur_plan_size(plain), variant == 2 ? 10 : 7);
        recur_plan_free(fused);
        recur_plan_free(plain);
        recur_graph_free(g);
    }
}

/*
 * A gradient written into columns of a concatenation takes the place of
 * the activation it differentiates when nothing else reads that
 * activation (a = sigmoid(x) computed early, da = sigmoid_grad(a, dy) after
 * a product, in the kernel computing the other part too): both lie at one address, and the results are bitwise those
 * of the unfused plan.
 */
static void test_fusion_gradient_overwrites_activation(void **state)
{
    (void)state;
    enum { R = 5, C = 4 };
    recur_graph *g = recur_graph_new(3);
    recur_value x = recur_input(g, "x", recur_shape2(R, C));
    recur_value w = recur_param(g, "w", recur_shape2(C, C), recur_init_uniform(-1, 1));
    recur_value w2 = recur_param(g, "w2", recur_shape2(2 * C, 3), recur_init_uniform(-1, 1));
    recur_value a = recur_sigmoid(g, x);
    recur_value m = recur_matmul(g, recur_scale(g, a, 2.0f), w, 0, 0);
    recur_value d = recur_scale(g, m, 0.5f);
    recur_value da = recur_sigmoid_grad(g, a, d), db = recur_tanh_grad(g, recur_tanh(g, x), d);
    recur_value y = recur_matmul(g, recur_concat(g, 2, (recur_value[]){da, db}, 1), w2, 0, 0);
    TU_OK(g, y);
    float xd[R * C];
    tu_fill_uniform(xd, R * C, -2, 2, 12);
    recur_plan *plain, *fused = fused_and_plain(g, 1, &y, x, xd, &plain);
    assert_int_equal(recur_plan_size(fused), 4); /* sigmoid and scale; the product; the gradients; the product */
    assert_non_null(recur_plan_value_buffer(fused, a));
    assert_ptr_equal(recur_plan_value_buffer(fused, a), recur_plan_value_buffer(fused, da));
    assert_ptr_not_equal(recur_plan_value_buffer(plain, a), recur_plan_value_buffer(plain, da));
    recur_plan_free(fused);
    recur_plan_free(plain);
    recur_graph_free(g);
}

/*
 * Computing again instead of keeping: an LSTM's tanh(c_t), computed by
 * the forward kernel of step t, is computed again by the backward kernel
 * from c_t (which the next step's kernels read anyway) instead of being
 * kept from the forward pass to the backward one, and a GRU's 1 - z_t from
 * z_t, which the backward kernel reads anyway: only those of the last two
 * steps of a layer, whose backward kernels run soon after, keep a buffer,
 * where the unfused plan keeps one per layer and step; the results are
 * bitwise those of the unfused plan.
 */
static void test_fusion_recomputes_cheap_values(void **state)
{
    (void)state;
    /* The LSTM's tanh(c_t) = tanh(f c_{t-1} + i g); the GRU's 1 - z_t, z_t = sigmoid(...). */
    const int kinds[2] = {RECUR_LSTM, RECUR_GRU}, ops[2] = {RECUR_OP_TANH, RECUR_OP_ONE_MINUS};
    const int inputs[2] = {RECUR_OP_ADD, RECUR_OP_SIGMOID};
    for (int k = 0; k < 2; k++) {
        /* (in the plan's depth-first order: lanes' order interleaves the two layers, and which backward kernel
         * comes soon after its forward one changes with it) */
        built b = build(kinds[k], RECUR_PASS_ALL & ~RECUR_PASS_LANES, 0);
        recur_value outs[33] = {b.loss};
        memcpy(outs + 1, b.grads, sizeof(recur_value) * (size_t)b.n_params);
        float x[T * B * I];
        tu_fill_uniform(x, T * B * I, -1, 1, 23);
        recur_plan *plain, *fused = fused_and_plain(b.g, b.n_params + 1, outs, b.xs, x, &plain);
        int kept[2] = {0, 0}, found = 0;
        for (int i = 0; i < recur_graph_size(b.g); i++) {
            const recur_node *n = &b.g->nodes[i];
            if (n->removed || n->op != ops[k] || b.g->nodes[n->in[0]].op != inputs[k]) continue;
            found++;
            int in_fused = recur_plan_value_buffer(fused, (recur_value){i}) != NULL;
            kept[0] += in_fused;
            kept[1] += recur_plan_value_buffer(plain, (recur_value){i}) != NULL;
            if (in_fused) assert_true(n->step >= T - 2); /* (the last steps' backward kernels come soon after) */
        }
        print_message("%s: %d in the graph, %d kept fused, %d unfused\n", k ? "1 - z_t" : "tanh(c_t)", found, kept[0],
                      kept[1]);
        assert_int_equal(kept[1], 2 * T); /* two layers */
        assert_true(kept[0] <= 2 * 2);
        recur_plan_free(fused);
        recur_plan_free(plain);
        recur_graph_free(b.g);
    }
}

/*
 * Built-in LSTM and GRU layers of wider rows than the other tests use
 * (H = 64 and 40: gate windows of whole vectors and not, blocks spanning
 * parts of rows): loss and every gradient bitwise those of the unfused
 * plan.
 */
static void test_fusion_exact_wide_rows(void **state)
{
    (void)state;
    enum { TT = 4, BB = 3, II = 8 };
    const int kinds[2] = {RECUR_LSTM, RECUR_GRU}, hs[2] = {64, 40};
    for (int k = 0; k < 4; k++) {
        recur_graph *g = recur_graph_new(29);
        recur_value xs = recur_input(g, "xs", recur_shape3(TT, BB, II));
        recur_rnn_opts o = {.kind = (recur_cell_kind)kinds[k % 2], .input_size = II, .hidden = hs[k / 2], .layers = 1};
        recur_rnn r;
        TU_ST(g, recur_rnn_new(g, "rnn", &o, xs, RECUR_NONE, RECUR_NONE, &r));
        recur_value loss = recur_add(g, recur_sum(g, recur_square(g, r.outputs)), recur_sum(g, r.h_n));
        TU_ST(g, recur_unroll(g));
        recur_value params[8], outs[9] = {loss};
        int n = recur_params(g, params, 8);
        TU_ST(g, recur_grad(g, loss, n, params, outs + 1));
        float x[TT * BB * II];
        tu_fill_uniform(x, TT * BB * II, -1, 1, 41);
        recur_plan *plain, *fused = fused_and_plain(g, n + 1, outs, xs, x, &plain);
        assert_true(recur_plan_size(fused) < recur_plan_size(plain));
        recur_plan_free(fused);
        recur_plan_free(plain);
        recur_graph_free(g);
    }
}

/*
 * A fused kernel reads a value that only repeats a smaller one (step t of
 * broadcast_to(s, [T, R, C]), the gradient of a sum over a sequence, or
 * broadcast_to(s, [R, C])) as s itself: the repeated value gets no buffer
 * and no kernel; the results are bitwise those of the unfused plan. s is
 * a scalar and a row.
 */
static void test_fusion_reads_broadcasts_whole(void **state)
{
    (void)state;
    enum { TT = 3, R = 4, C = 5 };
    for (int row = 0; row < 2; row++) {
        recur_graph *g = recur_graph_new(4);
        recur_value x = recur_input(g, "x", recur_shape3(TT, R, C));
        recur_value s = recur_param(g, "s", row ? recur_shape1(C) : recur_shape0(), recur_init_uniform(-1, 1));
        recur_value seq = recur_broadcast_to(g, s, recur_shape3(TT, R, C)), one = recur_broadcast_to(g, s, recur_shape2(R, C));
        recur_value parts[TT];
        for (int t = 0; t < TT; t++) {
            recur_value a = recur_sigmoid(g, recur_take(g, x, 0, t));
            parts[t] = recur_mul(g, recur_sigmoid_grad(g, a, recur_take(g, seq, 0, t)), one);
        }
        recur_value y = recur_stack(g, TT, parts, 0);
        TU_OK(g, y);
        float xd[TT * R * C];
        tu_fill_uniform(xd, TT * R * C, -2, 2, 17);
        recur_plan *plain, *fused = fused_and_plain(g, 1, &y, x, xd, &plain);
        assert_null(recur_plan_value_buffer(fused, seq));
        assert_null(recur_plan_value_buffer(fused, one));
        assert_non_null(recur_plan_value_buffer(plain, seq));
        recur_plan_free(fused);
        recur_plan_free(plain);
        recur_graph_free(g);
    }
}

/*
 * A sequence laid over another (oneDNN's workspace layout): a hoisted
 * projection S [T, R, 2C] read step by step by forward kernels, which
 * write their activations where the step's gradients go, and the
 * concatenation of those gradients share one buffer; the results are
 * bitwise those of the unfused plan. Forms: 0 the forward kernel reads
 * slices of step t of S; 1 step t of slices of S (a cell written one
 * product per gate after matmul fusion); 2 a later kernel of the step
 * reads a window of S the forward kernel did not overwrite; 3 one it did
 * overwrite (then the buffers must stay apart).
 */
static void test_fusion_shares_sequence_buffer(void **state)
{
    (void)state;
    enum { TT = 3, R = 4 };
    for (int form = 0; form < 8; form++) {
        const int C = form < 4 ? 3 : 64, f = form % 4; /* C = 64: rows of whole vector lengths */
        recur_graph *g = recur_graph_new(3);
        recur_value x = recur_input(g, "x", recur_shape3(TT, R, 2));
        recur_value w = recur_param(g, "w", recur_shape2(2, 2 * C), recur_init_uniform(-1, 1));
        recur_value b = recur_param(g, "b", recur_shape1(2 * C), recur_init_uniform(-1, 1));
        recur_value v = recur_param(g, "v", recur_shape2(C, C), recur_init_uniform(-1, 1));
        recur_value w2 = recur_param(g, "w2", recur_shape2(2 * C, 2), recur_init_uniform(-1, 1));
        recur_value seq = recur_add(g, recur_matmul(g, x, w, 0, 0), b);
        recur_value gates = recur_slice(g, seq, 2, 0, C), cands = recur_slice(g, seq, 2, C, C);
        recur_value parts[TT];
        for (int t = 0; t < TT; t++) {
            recur_value pre = recur_take(g, seq, 0, t);
            recur_value g_pre = f ? recur_take(g, gates, 0, t) : recur_slice(g, pre, 1, 0, C);
            recur_value c_pre = f ? recur_take(g, cands, 0, t) : recur_slice(g, pre, 1, C, C);
            recur_value gate = recur_sigmoid(g, g_pre), cand, m;
            if (f < 2) {
                cand = recur_tanh(g, c_pre);
                m = recur_scale(g, recur_matmul(g, recur_mul(g, gate, cand), v, 0, 0), 0.5f);
            } else { /* gate is written over its window of S by the first kernel; cand is computed after m */
                m = recur_scale(g, recur_matmul(g, recur_scale(g, gate, 3.0f), v, 0, 0), 0.5f);
                cand = recur_tanh(g, f == 2 ? c_pre : g_pre);
            }
            parts[t] = recur_concat(g, 2, (recur_value[]){recur_sigmoid_grad(g, gate, m), recur_tanh_grad(g, cand, m)}, 1);
        }
        recur_value joined = recur_concat(g, TT, parts, 0);
        recur_value y = recur_matmul(g, joined, w2, 0, 0);
        TU_OK(g, y);
        float xd[TT * R * 2];
        tu_fill_uniform(xd, TT * R * 2, -1, 1, 13);
        recur_plan *plain, *fused = fused_and_plain(g, 1, &y, x, xd, &plain);
        assert_non_null(recur_plan_value_buffer(fused, seq));
        /* (gate and cand of step t are written into step t of both, so only the laying over lets them coincide) */
        if (f < 3) assert_ptr_equal(recur_plan_value_buffer(fused, seq), recur_plan_value_buffer(fused, joined));
        else assert_ptr_not_equal(recur_plan_value_buffer(fused, seq), recur_plan_value_buffer(fused, joined));
        recur_plan_free(fused);
        recur_plan_free(plain);
        recur_graph_free(g);
    }
}

/*
 * A fused kernel reads column slices (gates of a preactivation [R, 3C])
 * straight from the wide value: the slices are not copied out (no buffer,
 * no kernel), and the result is bitwise that of the unfused plan.
 */
static void test_fusion_reads_column_slices(void **state)
{
    (void)state;
    enum { R = 5, C = 7 };
    recur_graph *g = recur_graph_new(3);
    recur_value x = recur_input(g, "x", recur_shape2(R, 4));
    recur_value w = recur_param(g, "w", recur_shape2(4, 3 * C), recur_init_uniform(-1, 1));
    recur_value pre = recur_matmul(g, x, w, 0, 0);
    recur_value r = recur_slice(g, pre, 1, 0, C), z = recur_slice(g, pre, 1, C, C), n = recur_slice(g, pre, 1, 2 * C, C);
    recur_value y = recur_add(g, recur_mul(g, recur_sigmoid(g, recur_add(g, r, z)), recur_tanh(g, n)), z);
    TU_OK(g, y);
    float xd[R * 4];
    tu_fill_uniform(xd, R * 4, -1, 1, 4);
    recur_compile_opts ref = {.backend = "reference"};
    recur_set_passes(g, RECUR_PASS_ALL);
    recur_plan *fused = recur_compile(g, 1, &y, &ref);
    recur_set_passes(g, RECUR_PASS_ALL & ~RECUR_PASS_FUSE);
    recur_plan *plain = recur_compile(g, 1, &y, &ref);
    assert_non_null(fused);
    assert_non_null(plain);
    recur_plan *plans[2] = {fused, plain};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(recur_plan_feed(plans[k], x, xd, R * 4), RECUR_OK);
        assert_int_equal(recur_plan_run(plans[k]), RECUR_OK);
    }
    assert_memory_equal(recur_plan_output(fused, y), recur_plan_output(plain, y), sizeof(float) * R * C);
    assert_int_equal(recur_plan_size(fused), 2); /* the matmul and one fused kernel: no slice copies */
    assert_null(recur_plan_value_buffer(fused, r));
    assert_null(recur_plan_value_buffer(fused, n));
    assert_non_null(recur_plan_value_buffer(plain, r));
    recur_plan_free(fused);
    recur_plan_free(plain);
    recur_graph_free(g);
}

/*
 * A preactivation that only gate slices read (x W + b + tanh(x W2), cut into three
 * gates) is summed inside the fused kernel, gate by gate, from column
 * windows of its operands: it gets no buffer and no kernel of its own,
 * and the result is bitwise that of the unfused plan. When something
 * else reads it too, it is computed as before.
 */
static void test_fusion_sums_gate_windows(void **state)
{
    (void)state;
    enum { R = 5, C = 7 };
    for (int shared = 0; shared < 2; shared++) {
        recur_graph *g = recur_graph_new(3);
        recur_value x = recur_input(g, "x", recur_shape2(R, 4));
        recur_value w = recur_param(g, "w", recur_shape2(4, 3 * C), recur_init_uniform(-1, 1));
        recur_value bias = recur_param(g, "bias", recur_shape1(3 * C), recur_init_uniform(-1, 1));
        recur_value w2 = recur_param(g, "w2", recur_shape2(4, 3 * C), recur_init_uniform(-1, 1));
        recur_value z = recur_tanh(g, recur_matmul(g, x, w2, 0, 0));
        recur_value pre = recur_add(g, recur_add(g, recur_matmul(g, x, w, 0, 0), bias), z);
        recur_value r = recur_slice(g, pre, 1, 0, C), u = recur_slice(g, pre, 1, C, C), n = recur_slice(g, pre, 1, 2 * C, C);
        recur_value y = recur_add(g, recur_mul(g, recur_sigmoid(g, r), recur_tanh(g, n)), recur_scale(g, u, 0.5f));
        TU_OK(g, y);
        float xd[R * 4];
        tu_fill_uniform(xd, R * 4, -1, 1, 8);
        recur_plan *plain, *fused = fused_and_plain(g, 1 + shared, (recur_value[]){y, pre}, x, xd, &plain);
        /* two products and one fused kernel (tanh(z) is computed by windows too); when the
         * preactivation is an output, a kernel of its own computes it (with tanh) */
        assert_int_equal(recur_plan_size(fused), 3 + shared);
        if (!shared) assert_null(recur_plan_value_buffer(fused, pre));
        recur_plan_free(fused);
        recur_plan_free(plain);
        recur_graph_free(g);
    }
}

/*
 * A product and the bias row added to it run as one kernel (the plain,
 * row and batched forms, bias first or second), bitwise the two kernels'
 * result on the reference backend and within float rounding on oneDNN; a
 * product something else reads keeps its own kernel.
 */
static void test_matmul_bias(void **state)
{
    (void)state;
    enum { M = 6, K = 5, N = 7 };
    for (int form = 0; form < 4; form++) { /* plain; rows of a 3-D a; bias first; product also read */
        recur_graph *g = recur_graph_new(3);
        recur_shape xs = form == 1 ? recur_shape3(2, M, K) : recur_shape2(M, K);
        recur_value x = recur_input(g, "x", xs);
        recur_value w = recur_param(g, "w", recur_shape2(N, K), recur_init_uniform(-1, 1));
        recur_value b = recur_param(g, "b", form == 2 ? recur_shape2(1, N) : recur_shape1(N), recur_init_uniform(-1, 1));
        recur_value prod = recur_matmul(g, x, w, 0, 1);
        recur_value y = form == 2 ? recur_add(g, b, prod) : recur_add(g, prod, b);
        recur_value outs[2] = {y, recur_tanh(g, prod)};
        TU_OK(g, outs[1]);
        int64_t nx = recur_shape_numel(xs);
        float xd[2 * M * K];
        tu_fill_uniform(xd, nx, -1, 1, 11);
        recur_plan *plain, *fused = fused_and_plain(g, form == 3 ? 2 : 1, outs, x, xd, &plain);
        assert_int_equal(recur_plan_size(fused), form == 3 ? 3 : 1);
        assert_int_equal(recur_plan_size(plain), form == 3 ? 3 : 2);
        if (recur_backend_available("onednn")) {
            recur_compile_opts dnn = {.backend = "onednn"};
            recur_set_passes(g, RECUR_PASS_ALL);
            recur_plan *q = recur_compile(g, 1, &y, &dnn);
            assert_non_null(q);
            assert_int_equal(recur_plan_size(q), 1);
            assert_int_equal(recur_plan_feed(q, x, xd, nx), RECUR_OK);
            assert_int_equal(recur_plan_run(q), RECUR_OK);
            int64_t ny = recur_shape_numel(recur_value_shape(g, y));
            /* Tolerance: oneDNN sums the K products in its own order (1e-5 relative). */
            tu_assert_close(recur_plan_output(q, y), recur_plan_output(plain, y), ny, 1e-5f, 1e-5f);
            recur_plan_free(q);
        }
        recur_plan_free(fused);
        recur_plan_free(plain);
        recur_graph_free(g);
    }
}

/*
 * Matmul fusion on hand-written cells: the same outputs and gradients as
 * without it, one product per step where there were one per gate, one
 * concatenation per weight group for all steps, and a training plan with
 * exactly as many products as the built-in cell's (whose weights are
 * concatenated by hand): 2 per layer and step (h U forward, dA U backward)
 * and a constant number for the hoisted input products and the weight
 * gradients, whatever T.
 */
static void test_matmul_fusion_hand_written(void **state)
{
    (void)state;
    const unsigned no_mm = RECUR_PASS_ALL & ~RECUR_PASS_MATMUL_FUSE;
    const int hand[2] = {HAND_LSTM, HAND_GRU}, builtin[2] = {RECUR_LSTM, RECUR_GRU};
    for (int c = 0; c < 2; c++) {
        int G = hand[c] == HAND_LSTM ? 4 : 3;
        /* Tolerance: fused products sum the same terms, dh sums them in another order (1e-5 relative). */
        check_same(hand[c], 0, RECUR_PASS_ALL, no_mm);
        check_same(hand[c], 0, RECUR_PASS_MATMUL_FUSE, 0);
        int train[2];
        for (int64_t steps = T; steps <= 2 * T; steps += T) {
            built on = build_steps(hand[c], RECUR_PASS_ALL, 0, steps), off = build_steps(hand[c], no_mm, 0, steps);
            built ref = build_steps(builtin[c], RECUR_PASS_ALL, 0, steps);
            /* Forward, per layer: G hoisted input products and G per step -> 1 hoisted and 1 per step. */
            assert_int_equal(count_ops(off.g, 1, &off.loss, "matmul"), 2 * G * (steps + 1));
            assert_int_equal(count_ops(on.g, 1, &on.loss, "matmul"), 2 * (steps + 1));
            /* The weights are concatenated once per layer and side (W's, U's), not once per step, and
             * so are the per-gate biases of the input products (folded into one bias add). */
            assert_int_equal(count_ops(on.g, 1, &on.loss, "concat"), 2 * 3);
            assert_int_equal(count_ops(off.g, 1, &off.loss, "concat"), 0);
            int mm_on = count_ops(on.g, on.n_params, on.grads, "matmul");
            int mm_off = count_ops(off.g, off.n_params, off.grads, "matmul");
            int mm_ref = count_ops(ref.g, ref.n_params, ref.grads, "matmul");
            print_message("%s T=%lld: training plan matmuls %d without matmul fusion, %d with, built-in %d\n",
                          kind_name(hand[c]), (long long)steps, mm_off, mm_on, mm_ref);
            assert_int_equal(mm_on, mm_ref);
            assert_true(mm_on * 2 < mm_off);
            train[steps / T - 1] = mm_on;
            recur_graph_free(on.g);
            recur_graph_free(off.g);
            recur_graph_free(ref.g);
        }
        assert_int_equal(train[1] - train[0], 2 * 2 * T); /* T more steps: 2 products per layer and step */
    }
}

/* A loop-free graph with groups the pass must fuse and groups it must leave alone. */
typedef struct groups {
    recur_graph *g;
    recur_value x, y[9], loss, w[8], grads[8];
} groups;

enum { N_Y = 9, N_W = 7 };

/*
 * With A = P [M, K] (a parameter): y1 = P (P^T y0) and y3 = P W3 fuse;
 * y0 = P W0 must stay out of their group (y1's B depends on it); y2 = P V^T
 * (transposed B: another group, alone); y4 = P W3 again (the same B as y3:
 * a repeated product, left alone); y5 = z W0 (another A, z = tanh(x) from
 * the input x); y6 = X Q and y7 = X R, batched products of X [2, M, K] with
 * Q, R [2, K, N] (not 2-D); y8 = P (x^T x) (B is data: left alone).
 */
static groups build_groups(unsigned passes)
{
    enum { M = 3, K = 4, N = 5 };
    groups q;
    q.g = recur_graph_new(5);
    recur_graph *g = q.g;
    recur_set_passes(g, passes);
    q.x = recur_input(g, "x", recur_shape2(M, K));
    recur_value P = tu_param(g, "P", recur_shape2(M, K));
    recur_value z = recur_tanh(g, q.x);
    q.w[0] = tu_param(g, "W0", recur_shape2(K, N));
    q.w[1] = tu_param(g, "V", recur_shape2(N, K));
    q.w[2] = tu_param(g, "W3", recur_shape2(K, 2));
    recur_value X = recur_broadcast_to(g, recur_reshape(g, P, recur_shape3(1, M, K)), recur_shape3(2, M, K));
    q.w[3] = tu_param(g, "Q", recur_shape3(2, K, N));
    q.w[4] = tu_param(g, "R", recur_shape3(2, K, N));
    q.y[0] = recur_matmul(g, P, q.w[0], 0, 0);
    q.y[1] = recur_matmul(g, P, recur_matmul(g, P, q.y[0], 1, 0), 0, 0);
    q.y[2] = recur_matmul(g, P, q.w[1], 0, 1);
    q.y[3] = recur_matmul(g, P, q.w[2], 0, 0);
    q.y[4] = recur_matmul(g, P, q.w[2], 0, 0);
    q.y[5] = recur_matmul(g, z, q.w[0], 0, 0);
    q.y[6] = recur_matmul(g, X, q.w[3], 0, 0);
    q.y[7] = recur_matmul(g, X, q.w[4], 0, 0);
    q.y[8] = recur_matmul(g, P, recur_matmul(g, q.x, q.x, 1, 0), 0, 0);
    recur_value loss = recur_scalar(g, 0.0f);
    for (int k = 0; k < N_Y; k++) /* each product weighted differently, so that a swapped slice shows */
        loss = recur_add(g, loss, recur_scale(g, recur_sum(g, recur_square(g, q.y[k])), 1.0f + 0.5f * (float)k));
    q.loss = loss;
    TU_OK(g, q.loss);
    q.w[5] = q.x;
    q.w[6] = P;
    TU_ST(g, recur_grad(g, q.loss, N_W, q.w, q.grads)); /* fuses the loop-free graph */
    TU_ST(g, recur_graph_validate(g));
    return q;
}

static void test_matmul_fusion_groups(void **state)
{
    (void)state;
    groups on = build_groups(RECUR_PASS_ALL), off = build_groups(0);
    /* y1, y3 share A = P: slices of one product; everything else stays a product of its own. */
    const char *want[N_Y] = {"matmul", "slice", "matmul", "slice", "matmul", "matmul", "matmul", "matmul", "matmul"};
    for (int k = 0; k < N_Y; k++) {
        assert_string_equal(recur_value_op(on.g, on.y[k]), want[k]);
        assert_string_equal(recur_value_op(off.g, off.y[k]), "matmul");
    }
    /*
     * Fusing again (recur_unroll runs the pass) may fuse the gradient's products that have weights for
     * B (y0..y4 depend on parameters alone, and so do their adjoints' products), but a third time it
     * finds nothing new; the values below are taken after both.
     */
    TU_ST(on.g, recur_unroll(on.g));
    int size = recur_graph_size(on.g);
    TU_ST(on.g, recur_unroll(on.g));
    assert_int_equal(recur_graph_size(on.g), size);
    /* Values and gradients against the unfused graph (reference products, no pass): 1e-5 relative. */
    float x[3 * 4];
    tu_fill_uniform(x, 12, -1, 1, 3);
    recur_feed fon = {on.x, x, 12}, foff = {off.x, x, 12};
    for (int k = 0; k < N_Y + N_W; k++) {
        recur_value a = k < N_Y ? on.y[k] : on.grads[k - N_Y], b = k < N_Y ? off.y[k] : off.grads[k - N_Y];
        int64_t n = recur_shape_numel(recur_value_shape(on.g, a));
        assert_int_equal(n, recur_shape_numel(recur_value_shape(off.g, b)));
        float *va = tu_eval(on.g, a, 1, &fon), *vb = tu_eval(off.g, b, 1, &foff);
        tu_assert_close(va, vb, n, 1e-5, 1e-6);
        free(va), free(vb);
    }
    recur_graph_free(on.g);
    recur_graph_free(off.g);
}

/*
 * No pass invalidates a plan compiled earlier: a loop-free graph whose
 * products share an operand, compiled before recur_grad (which runs matmul
 * fusion on the forward graph), computes the same after it; the products
 * that plan reads stay products, and a plan compiled afterwards computes
 * the same values too (with the products it did not read fused).
 */
static void test_plans_survive_passes(void **state)
{
    (void)state;
    enum { M = 3, K = 4, N = 5 };
    recur_graph *g = recur_graph_new(9);
    recur_value x = recur_input(g, "x", recur_shape2(M, K));
    recur_value W1 = tu_param(g, "W1", recur_shape2(K, N)), W2 = tu_param(g, "W2", recur_shape2(K, N));
    recur_value W3 = tu_param(g, "W3", recur_shape2(K, 2));
    recur_value y1 = recur_matmul(g, x, W1, 0, 0), y2 = recur_matmul(g, x, W2, 0, 0);
    recur_value y3 = recur_matmul(g, x, W3, 0, 0); /* read by no plan, but its partners are */
    float xd[M * K], before[2][M * N], after[2][M * N];
    tu_fill_uniform(xd, M * K, -1, 1, 4);
    recur_plan *early = recur_compile(g, 2, (recur_value[]){y1, y2}, NULL);
    assert_non_null(early);
    assert_int_equal(recur_plan_feed(early, x, xd, M * K), RECUR_OK);
    assert_int_equal(recur_plan_run(early), RECUR_OK);
    assert_int_equal(recur_plan_fetch(early, y1, before[0], M * N), RECUR_OK);
    assert_int_equal(recur_plan_fetch(early, y2, before[1], M * N), RECUR_OK);
    recur_value loss = recur_add(g, recur_add(g, recur_sum(g, recur_square(g, y1)), recur_sum(g, y2)),
                                 recur_sum(g, recur_square(g, y3)));
    recur_value dW[3];
    TU_ST(g, recur_grad(g, loss, 3, (recur_value[]){W1, W2, W3}, dW));
    /* y1 and y2 were read by a plan: still products; y3 alone has no partner left to fuse with. */
    assert_string_equal(recur_value_op(g, y1), "matmul");
    assert_string_equal(recur_value_op(g, y2), "matmul");
    assert_int_equal(recur_plan_run(early), RECUR_OK);
    assert_int_equal(recur_plan_fetch(early, y1, after[0], M * N), RECUR_OK);
    assert_int_equal(recur_plan_fetch(early, y2, after[1], M * N), RECUR_OK);
    assert_memory_equal(before, after, sizeof before);
    recur_plan *late = recur_compile(g, 3, (recur_value[]){y1, y2, loss}, NULL);
    assert_non_null(late);
    assert_int_equal(recur_plan_feed(late, x, xd, M * K), RECUR_OK);
    assert_int_equal(recur_plan_run(late), RECUR_OK);
    assert_int_equal(recur_plan_fetch(late, y1, after[0], M * N), RECUR_OK);
    assert_memory_equal(before[0], after[0], sizeof before[0]);
    recur_plan_free(early);
    recur_plan_free(late);
    /* The same graph never compiled before recur_grad: all three products become slices of one. */
    recur_graph *h = recur_graph_new(9);
    x = recur_input(h, "x", recur_shape2(M, K));
    W1 = tu_param(h, "W1", recur_shape2(K, N)), W2 = tu_param(h, "W2", recur_shape2(K, N));
    y1 = recur_matmul(h, x, W1, 0, 0), y2 = recur_matmul(h, x, W2, 0, 0);
    loss = recur_add(h, recur_sum(h, y1), recur_sum(h, y2));
    TU_ST(h, recur_grad(h, loss, 2, (recur_value[]){W1, W2}, dW));
    const char *want = recur_passes(h) & RECUR_PASS_MATMUL_FUSE ? "slice" : "matmul";
    assert_string_equal(recur_value_op(h, y1), want);
    assert_string_equal(recur_value_op(h, y2), want);
    recur_graph_free(h);
    recur_graph_free(g);
}

/*
 * One-hot products as lookups, built over ids [n] (a one-hot of V = 7):
 * y1 = one_hot W1 (rows), y2 = one_hot W2^T (columns), y3 = one_hot W3 + b3
 * (the bias folded into the table for as many positions as rows), and an LSTM reading
 * the one-hot sequence (its hoisted input product); loss, and the
 * gradients of W1, W2 and the LSTM's weights.
 */
typedef struct one_hot_model {
    recur_graph *g;
    recur_value ids, y1, y2, y3, loss, grads[10];
    int n_params;
} one_hot_model;

static one_hot_model one_hot_build(unsigned passes, int64_t steps, int64_t batch)
{
    enum { V = 7 };
    one_hot_model m = {.g = recur_graph_new(31)};
    recur_graph *g = m.g;
    recur_set_passes(g, passes);
    m.ids = recur_input(g, "ids", recur_shape2(steps, batch));
    recur_value x = recur_one_hot(g, m.ids, V);
    recur_value W1 = tu_param(g, "W1", recur_shape2(V, 5)), W2 = tu_param(g, "W2", recur_shape2(4, V));
    m.y1 = recur_matmul(g, x, W1, 0, 0);
    m.y2 = recur_matmul(g, x, W2, 0, 1);
    recur_value W3 = tu_param(g, "W3", recur_shape2(V, 6)), b3 = tu_param(g, "b3", recur_shape1(6));
    m.y3 = recur_add(g, recur_matmul(g, recur_one_hot(g, m.ids, V), W3, 0, 0), b3); /* (its own one-hot: not fused with y1) */
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = V, .hidden = 3};
    recur_rnn r;
    TU_ST(g, recur_rnn_new(g, "lstm", &o, x, RECUR_NONE, RECUR_NONE, &r));
    TU_ST(g, recur_unroll(g));
    recur_value c1 = tu_param(g, "c1", recur_shape3(steps, batch, 5));
    m.loss = recur_add(g, recur_add(g, recur_sum(g, recur_mul(g, m.y1, c1)), recur_sum(g, recur_square(g, m.y2))),
                       recur_add(g, recur_sum(g, recur_tanh(g, r.outputs)), recur_sum(g, recur_square(g, m.y3))));
    recur_value params[10];
    m.n_params = recur_params(g, params, 10);
    assert_int_equal(m.n_params, 9); /* W1, W2, W3, b3, c1 and the LSTM's four */
    TU_ST(g, recur_grad(g, m.loss, m.n_params, params, m.grads));
    return m;
}

static void test_one_hot_products_as_lookups(void **state)
{
    (void)state;
    /* 12 positions (a column gather through a transposed copy) and 1 (read down the columns). */
    const int64_t shapes[2][2] = {{3, 4}, {1, 1}};
    for (int c = 0; c < 2; c++) {
        int64_t steps = shapes[c][0], batch = shapes[c][1], n = steps * batch;
        one_hot_model on = one_hot_build(RECUR_PASS_ALL, steps, batch), off = one_hot_build(0, steps, batch);
        /* y1 a lookup of W1's rows; y2 a slice of the lookup of [W2; the LSTM's W_ih]'s columns (matmul
         * fusion joined the two products of the one-hot first); no product reads the one-hot. */
        assert_string_equal(recur_value_op(on.g, on.y1), "gather");
        assert_string_equal(recur_value_op(on.g, on.y2), "slice");
        assert_int_equal(count_ops(on.g, 1, &on.y2, "gather"), 1);
        assert_int_equal(count_ops(on.g, 1, &on.loss, "one_hot"), 0);
        assert_string_equal(recur_value_op(off.g, off.y1), "matmul");
        assert_int_equal(count_ops(off.g, 1, &off.loss, "one_hot"), 2);
        assert_string_equal(recur_value_op(on.g, on.y3), n >= 7 ? "gather" : "add");
        float ids[12];
        for (int64_t i = 0; i < n; i++) ids[i] = (float)((i * 5 + 3) % 7);
        recur_feed fon = {on.ids, ids, n}, foff = {off.ids, ids, n};
        recur_value a[4] = {on.y1, on.y2, on.y3, on.loss}, b[4] = {off.y1, off.y2, off.y3, off.loss};
        for (int k = 0; k < 4 + on.n_params; k++) { /* the lookups exactly; the loss and gradients to rounding */
            recur_value va = k < 4 ? a[k] : on.grads[k - 4], vb = k < 4 ? b[k] : off.grads[k - 4];
            int64_t count = recur_shape_numel(recur_value_shape(on.g, va));
            float *x = tu_eval(on.g, va, 1, &fon), *y = tu_eval(off.g, vb, 1, &foff);
            if (k < 3) assert_memory_equal(x, y, sizeof(float) * (size_t)count);
            else tu_assert_close(x, y, count, 1e-5, 1e-6);
            free(x), free(y);
        }
        /* An id outside [0, V) fails the run naming it and its position, as the one-hot did. */
        ids[n - 1] = 7;
        recur_plan *p = recur_compile(on.g, 1, &on.y2, NULL);
        assert_non_null(p);
        assert_int_equal(recur_plan_feed(p, on.ids, ids, n), RECUR_OK);
        assert_int_equal(recur_plan_run(p), RECUR_ERR_RUNTIME);
        char want[64];
        snprintf(want, sizeof want, "index 7 at position %lld", (long long)(n - 1));
        assert_non_null(strstr(recur_plan_errmsg(p), want));
        recur_plan_free(p);
        recur_graph_free(on.g);
        recur_graph_free(off.g);
    }
}

/* A `layers`-layer `kind` layer over [TT, BB, 4] with passes `passes`: loss = sum(outputs^2) and its gradients, evaluated. */
static float *stacked_layers(int kind, int layers, unsigned passes, int64_t TT, int64_t BB, int *n_stacks, int64_t *n_out)
{
    recur_graph *g = recur_graph_new(31);
    recur_set_passes(g, passes);
    recur_value xs = recur_input(g, "xs", recur_shape3(TT, BB, 4));
    recur_rnn_opts o = {.kind = (recur_cell_kind)kind, .input_size = 4, .hidden = 5, .layers = layers};
    recur_rnn r;
    TU_ST(g, recur_rnn_new(g, "rnn", &o, xs, RECUR_NONE, RECUR_NONE, &r));
    recur_value outs[24] = {recur_sum(g, recur_square(g, r.outputs))};
    TU_OK(g, outs[0]);
    TU_ST(g, recur_unroll(g));
    recur_value params[23];
    int n = recur_params(g, params, 23);
    TU_ST(g, recur_grad(g, outs[0], n, params, outs + 1));
    *n_stacks = count_ops(g, 1, outs, "stack");
    float *x = malloc(sizeof(float) * (size_t)(TT * BB * 4));
    tu_fill_uniform(x, TT * BB * 4, -1, 1, 8);
    recur_feed f = {xs, x, TT * BB * 4};
    int64_t total = 0;
    for (int i = 0; i <= n; i++) total += recur_shape_numel(recur_value_shape(g, outs[i]));
    float *all = malloc(sizeof(float) * (size_t)total), *at = all;
    for (int i = 0; i <= n; i++) {
        int64_t k = recur_shape_numel(recur_value_shape(g, outs[i]));
        float *v = tu_eval(g, outs[i], 1, &f);
        memcpy(at, v, sizeof(float) * (size_t)k);
        free(v);
        at += k;
    }
    free(x);
    recur_graph_free(g);
    *n_out = total;
    return all;
}

/*
 * Hoisting in chunks (with RECUR_PASS_LANES): a second layer's input
 * products over chunks of steps of the first layer's outputs (12 steps of
 * 64 rows: 3 chunks of 4 steps, so 3 stacks of 4 of layer 1's values where
 * the whole plan had one of 12), its steps reading their chunk; loss and
 * gradients agree with the passes off and with hoisting whole, for LSTM
 * and GRU, and for three LSTM layers. A batch of 3 (under 256 rows a chunk
 * at any length) is not cut.
 */
static void test_hoisting_in_chunks(void **state)
{
    (void)state;
    const int kinds[2] = {RECUR_LSTM, RECUR_GRU};
    for (int k = 0; k < 2; k++) {
        int s_chunks, s_whole, s_none;
        int64_t n1, n2, n3;
        float *chunked = stacked_layers(kinds[k], 2, RECUR_PASS_ALL, 12, 64, &s_chunks, &n1);
        float *whole = stacked_layers(kinds[k], 2, RECUR_PASS_ALL & ~RECUR_PASS_LANES, 12, 64, &s_whole, &n2);
        float *none = stacked_layers(kinds[k], 2, 0, 12, 64, &s_none, &n3);
        assert_int_equal(n1, n2), assert_int_equal(n1, n3);
        if (s_chunks != s_whole + 2) fail_msg("kind %d: %d stacks in chunks, %d whole", kinds[k], s_chunks, s_whole);
        tu_assert_close(chunked, whole, n1, 1e-5, 1e-6);
        tu_assert_close(chunked, none, n1, 1e-5, 1e-6);
        free(chunked), free(whole), free(none);
        float *small = stacked_layers(kinds[k], 2, RECUR_PASS_ALL, 12, 3, &s_chunks, &n1);
        free(stacked_layers(kinds[k], 2, RECUR_PASS_ALL & ~RECUR_PASS_LANES, 12, 3, &s_whole, &n2));
        assert_int_equal(s_chunks, s_whole);
        free(small);
    }
    /* Three layers: the third hoisted in chunks over the second's, itself hoisted in chunks. */
    int s_chunks, s_whole;
    int64_t n1, n2;
    float *chunked = stacked_layers(RECUR_LSTM, 3, RECUR_PASS_ALL, 12, 64, &s_chunks, &n1);
    float *none = stacked_layers(RECUR_LSTM, 3, 0, 12, 64, &s_whole, &n2);
    free(stacked_layers(RECUR_LSTM, 3, RECUR_PASS_ALL & ~RECUR_PASS_LANES, 12, 64, &s_whole, &n2));
    if (s_chunks != s_whole + 4) fail_msg("3 layers: %d stacks in chunks, %d whole", s_chunks, s_whole);
    tu_assert_close(chunked, none, n1, 1e-5, 1e-6);
    free(chunked), free(none);
}

/* The pass switches and their environment variable. */
static void test_pass_switches(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_set_passes(g, RECUR_PASS_HOIST);
    assert_int_equal(recur_passes(g), RECUR_PASS_HOIST);
    recur_set_passes(g, 0xffu);
    assert_int_equal(recur_passes(g), RECUR_PASS_ALL);
    recur_graph_free(g);
    /* RECUR_PASSES names whole passes: "fuse" is not "matmul_fuse". */
    const char *saved = getenv("RECUR_PASSES");
    char *keep = saved ? strdup(saved) : NULL;
    const struct { const char *env; unsigned want; } cases[] = {
        {"none", 0},
        {"all", RECUR_PASS_ALL},
        {"hoist,grad_batch,fuse", RECUR_PASS_HOIST | RECUR_PASS_GRAD_BATCH | RECUR_PASS_FUSE},
        {"matmul_fuse", RECUR_PASS_MATMUL_FUSE},
        {"one_hot,hoist", RECUR_PASS_ONE_HOT | RECUR_PASS_HOIST},
        {"none,hoist", RECUR_PASS_HOIST},
        {"lanes,hoist", RECUR_PASS_LANES | RECUR_PASS_HOIST},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        setenv("RECUR_PASSES", cases[k].env, 1);
        g = recur_graph_new(1);
        assert_int_equal(recur_passes(g), cases[k].want);
        assert_int_equal(recur_unroll(g), RECUR_OK);
        recur_graph_free(g);
    }
    /* A name that is no pass is an error of the first call that runs passes, naming it; recur_set_passes overrides. */
    const struct { const char *env, *named; } bad[] = {
        {"ALL", "\"ALL\""}, {"bogus", "\"bogus\""}, {" all", "\" all\""}, {"fuse,matmul_fuse,unknown", "\"unknown\""},
        {"hoist,", "\"\""},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        setenv("RECUR_PASSES", bad[k].env, 1);
        g = recur_graph_new(1);
        recur_value x = recur_input(g, "x", recur_shape1(2));
        recur_value y = recur_tanh(g, x);
        assert_int_equal(recur_unroll(g), RECUR_ERR_ARG);
        assert_non_null(strstr(recur_errmsg(g), "RECUR_PASSES"));
        assert_non_null(strstr(recur_errmsg(g), bad[k].named));
        assert_null(recur_compile(g, 1, &y, NULL));
        assert_non_null(strstr(recur_errmsg(g), "compile: RECUR_PASSES"));
        recur_value dx;
        assert_int_equal(recur_grad(g, recur_sum(g, y), 1, &x, &dx), RECUR_ERR_ARG);
        recur_set_passes(g, RECUR_PASS_ALL);
        assert_int_equal(recur_unroll(g), RECUR_OK);
        recur_plan *p = recur_compile(g, 1, &y, NULL);
        assert_non_null(p);
        recur_plan_free(p);
        recur_graph_free(g);
    }
    if (keep) setenv("RECUR_PASSES", keep, 1);
    else unsetenv("RECUR_PASSES");
    free(keep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equivalence_all_families),
        cmocka_unit_test(test_passes_change_the_graph),
        cmocka_unit_test(test_fusion_is_exact),
        cmocka_unit_test(test_fusion_reads_column_slices),
        cmocka_unit_test(test_fusion_several_outputs),
        cmocka_unit_test(test_fusion_respects_earlier_readers),
        cmocka_unit_test(test_fusion_writes_concat_columns),
        cmocka_unit_test(test_fusion_sums_gate_windows),
        cmocka_unit_test(test_fusion_gradient_overwrites_activation),
        cmocka_unit_test(test_fusion_shares_sequence_buffer),
        cmocka_unit_test(test_fusion_reads_broadcasts_whole),
        cmocka_unit_test(test_fusion_reads_length_masks),
        cmocka_unit_test(test_fusion_exact_wide_rows),
        cmocka_unit_test(test_fusion_recomputes_cheap_values),
        cmocka_unit_test(test_matmul_bias),
        cmocka_unit_test(test_matmul_fusion_hand_written),
        cmocka_unit_test(test_matmul_fusion_groups),
        cmocka_unit_test(test_plans_survive_passes),
        cmocka_unit_test(test_pass_switches),
        cmocka_unit_test(test_hoisting_in_chunks),
        cmocka_unit_test(test_one_hot_products_as_lookups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
