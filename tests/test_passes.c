/*
 * tests/test_passes.c — the graph passes: with them on and off, every layer
 * family computes the same outputs and gradients, while the passes really
 * change the graph (one input-projection matmul instead of T, one matmul
 * per recurrent weight gradient instead of T), for built-in and custom
 * cells alike.
 */
#include "test_util.h"

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

typedef struct built {
    recur_graph *g;
    recur_value xs, loss, params[16], grads[16];
    int n_params;
} built;

/* kind < 0: the custom cell. Builds loss = sum(outputs^2) + sum(final h) and its gradients. */
static built build(int kind, unsigned passes, int bidirectional)
{
    built b;
    b.g = recur_graph_new(77);
    recur_set_passes(b.g, passes);
    b.xs = recur_input(b.g, "xs", recur_shape3(T, B, I));
    recur_value outputs, hfin;
    if (kind >= 0) {
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
    b.n_params = recur_params(b.g, b.params, 16);
    TU_ST(b.g, recur_grad(b.g, b.loss, b.n_params, b.params, b.grads));
    return b;
}

/* Every output and gradient agrees with the passes on and off. */
static void check_equivalent(int kind, int bidirectional)
{
    built on = build(kind, RECUR_PASS_ALL, bidirectional), off = build(kind, 0, bidirectional);
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

static void test_equivalence_all_families(void **state)
{
    (void)state;
    int kinds[] = {RECUR_RNN_TANH, RECUR_RNN_RELU, RECUR_LSTM, RECUR_GRU, RECUR_GRU_CHO, -1};
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
        /* Forward, per layer: off = 2 products per step (custom cell: 4); on = the input ones once. */
        int per_step = kind < 0 ? 4 : 2, layers = kind < 0 ? 1 : 2;
        assert_int_equal(mm_off_fwd, layers * per_step * T);
        assert_int_equal(mm_on_fwd, layers * (per_step / 2) * (T + 1));
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
        recur_value outs[17] = {b.loss};
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
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equivalence_all_families),
        cmocka_unit_test(test_passes_change_the_graph),
        cmocka_unit_test(test_fusion_is_exact),
        cmocka_unit_test(test_pass_switches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
