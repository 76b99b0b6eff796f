/*
 * tests/test_layers.c — the layer library: dense and embedding layers,
 * every built-in cell (the Cho GRU against a plain-C reference, all against
 * finite differences), stacked / residual / bidirectional layers against
 * their composition by hand, heads, and a custom cell from user code.
 */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { T = 4, B = 2, I = 3, H = 5 };

static void test_dense_and_embedding(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape3(2, 2, 3));
    recur_value y = recur_dense(g, "fc", x, 4, 1);
    TU_OK(g, y);
    assert_true(recur_shape_equal(recur_value_shape(g, y), recur_shape3(2, 2, 4)));
    recur_value W = recur_find(g, "fc.weight"), b = recur_find(g, "fc.bias");
    TU_OK(g, W), TU_OK(g, b);
    for (int i = 0; i < 4; i++) recur_param_data(g, b)[i] = (float)i;
    float xv[12];
    tu_fill_uniform(xv, 12, -1, 1, 1);
    float *got = tu_eval(g, y, 1, (recur_feed[]){{x, xv, 12}});
    const float *w = recur_param_data(g, W);
    for (int r = 0; r < 4; r++)
        for (int o = 0; o < 4; o++) {
            double a = o;
            for (int k = 0; k < 3; k++) a += (double)xv[r * 3 + k] * w[o * 3 + k];
            assert_true(fabs(got[r * 4 + o] - a) < 1e-5);
        }
    free(got);
    recur_value ids = recur_constant(g, "ids", recur_shape2(2, 1), (const float[]){2, 0});
    recur_value e = recur_embedding(g, "emb", ids, 3, 4);
    TU_OK(g, e);
    got = tu_eval(g, e, 0, NULL);
    const float *E = recur_param_data(g, recur_find(g, "emb.weight"));
    assert_memory_equal(got, E + 8, 4 * sizeof(float));
    assert_memory_equal(got + 4, E, 4 * sizeof(float));
    free(got);
    /* A dense layer on a scalar is refused. */
    assert_false(recur_ok(recur_dense(g, "bad", recur_scalar(g, 1), 3, 1)));
    assert_non_null(strstr(recur_errmsg(g), "bad"));
    recur_graph_free(g);
}

static double sig(double x) { return 1 / (1 + exp(-x)); }

/* Cho et al.'s GRU, one step, in plain C: n = tanh(W_in x + b_in + W_hn (r * h) + b_hn). */
static void cho_reference(const float *Wih, const float *Whh, const float *bih, const float *bhh, const float *x,
                          const float *h, float *out)
{
    for (int b = 0; b < B; b++) {
        double r[H], z[H], rh[H];
        for (int j = 0; j < H; j++) {
            double ar = bih[j] + bhh[j], az = bih[H + j] + bhh[H + j];
            for (int k = 0; k < I; k++) {
                ar += (double)Wih[j * I + k] * x[b * I + k];
                az += (double)Wih[(H + j) * I + k] * x[b * I + k];
            }
            for (int k = 0; k < H; k++) {
                ar += (double)Whh[j * H + k] * h[b * H + k];
                az += (double)Whh[(H + j) * H + k] * h[b * H + k];
            }
            r[j] = sig(ar), z[j] = sig(az);
        }
        for (int k = 0; k < H; k++) rh[k] = r[k] * h[b * H + k];
        for (int j = 0; j < H; j++) {
            double an = bih[2 * H + j] + bhh[2 * H + j];
            for (int k = 0; k < I; k++) an += (double)Wih[(2 * H + j) * I + k] * x[b * I + k];
            for (int k = 0; k < H; k++) an += (double)Whh[(2 * H + j) * H + k] * rh[k];
            out[b * H + j] = (float)((1 - z[j]) * tanh(an) + z[j] * h[b * H + j]);
        }
    }
}

static void test_cho_gru_against_reference(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(3);
    recur_cell c;
    TU_ST(g, recur_cell_new(g, &c, RECUR_GRU_CHO, "cho", NULL, I, H));
    recur_value xs = recur_input(g, "xs", recur_shape3(T, B, I)), h0 = recur_input(g, "h0", recur_shape2(B, H));
    recur_seq_result r;
    TU_ST(g, recur_cell_over(g, &c, "cho", xs, &h0, 0, &r));
    TU_ST(g, recur_unroll(g));
    float x[T * B * I], h[B * H], want[T * B * H];
    tu_fill_uniform(x, T * B * I, -1, 1, 5);
    tu_fill_uniform(h, B * H, -1, 1, 6);
    const float *p[4];
    for (int i = 0; i < 4; i++) p[i] = recur_param_data(g, c.param[i]);
    float cur[B * H];
    memcpy(cur, h, sizeof cur);
    for (int t = 0; t < T; t++) {
        cho_reference(p[0], p[1], p[2], p[3], x + t * B * I, cur, want + t * B * H);
        memcpy(cur, want + t * B * H, sizeof cur);
    }
    float *got = tu_eval(g, r.outputs, 2, (recur_feed[]){{xs, x, T * B * I}, {h0, h, B * H}});
    tu_assert_close(got, want, T * B * H, 1e-5, 1e-6);
    free(got);
    /* The Cho form really differs from PyTorch's. */
    recur_graph *g2 = recur_graph_new(3);
    recur_cell c2;
    TU_ST(g2, recur_cell_new(g2, &c2, RECUR_GRU, "cho", NULL, I, H));
    recur_value xs2 = recur_input(g2, "xs", recur_shape3(T, B, I)), h02 = recur_input(g2, "h0", recur_shape2(B, H));
    TU_ST(g2, recur_cell_over(g2, &c2, "gru", xs2, &h02, 0, &r));
    TU_ST(g2, recur_unroll(g2));
    got = tu_eval(g2, r.outputs, 2, (recur_feed[]){{xs2, x, T * B * I}, {h02, h, B * H}});
    double diff = 0;
    for (int i = 0; i < T * B * H; i++) diff += fabs(got[i] - want[i]);
    assert_true(diff > 1e-3);
    free(got);
    recur_graph_free(g2);
    recur_graph_free(g);
}

/* Every built-in cell over a sequence, forward and reverse, against finite differences. */
static void test_cell_gradients(void **state)
{
    (void)state;
    recur_cell_kind kinds[] = {RECUR_RNN_TANH, RECUR_RNN_RELU, RECUR_LSTM, RECUR_GRU, RECUR_GRU_CHO};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (int reverse = 0; reverse < 2; reverse++) {
            recur_graph *g = recur_graph_new(40 + k * 2 + (uint64_t)reverse);
            recur_cell c;
            TU_ST(g, recur_cell_new(g, &c, kinds[k], "c", NULL, I, H));
            recur_value xs = recur_input(g, "xs", recur_shape3(T, B, I));
            recur_seq_result r;
            TU_ST(g, recur_cell_over(g, &c, "c", xs, NULL, reverse, &r));
            recur_value y = recur_concat(g, 2, (recur_value[]){recur_reshape(g, r.outputs, recur_shape2(T * B, H)), r.final[c.n_state - 1]}, 0);
            TU_OK(g, y);
            TU_ST(g, recur_unroll(g));
            float x[T * B * I];
            tu_fill_uniform(x, T * B * I, -1, 1, 7);
            recur_feed f = {xs, x, T * B * I};
            /* relu's kinks need a small step: with 1e-2 some pre-activations cross 0. */
            float eps = kinds[k] == RECUR_RNN_RELU ? 1e-3f : 1e-2f;
            tu_gradcheck_eps(g, y, 5, (recur_value[]){c.param[0], c.param[1], c.param[2], c.param[3], xs}, 1, &f,
                             1e-2, eps);
            recur_graph_free(g);
        }
    }
}

/* Evaluates a [T,B,*] value with xs fed. */
static float *eval_seq(recur_graph *g, recur_value v, recur_value xs, const float *x, int64_t n)
{
    return tu_eval(g, v, 1, (recur_feed[]){{xs, x, n}});
}

/*
 * A 2-layer bidirectional residual stack, summing directions, equals the
 * same layers composed by hand from recur_cell_over with the same weights.
 */
static void test_stack_bidirectional_residual(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(9);
    recur_value xs = recur_input(g, "xs", recur_shape3(T, B, H));
    recur_rnn_opts o = {.kind = RECUR_GRU, .input_size = H, .hidden = H, .layers = 2, .bidirectional = 1,
                        .merge = RECUR_MERGE_SUM, .residual = 1};
    recur_rnn rnn;
    TU_ST(g, recur_rnn_new(g, "s", &o, xs, RECUR_NONE, RECUR_NONE, &rnn));
    assert_int_equal(rnn.n_cells, 4);
    assert_true(recur_shape_equal(recur_value_shape(g, rnn.outputs), recur_shape3(T, B, H)));
    assert_true(recur_shape_equal(recur_value_shape(g, rnn.h_n), recur_shape3(4, B, H)));
    assert_false(recur_ok(rnn.c_n));
    TU_OK(g, recur_find(g, "s.weight_hh_l1_reverse"));
    assert_int_equal(recur_loop_count(g), 4);
    assert_true(recur_loop_is_reverse(g, rnn.loops[3]));
    /* By hand, with the same cells: layer 0 = fwd + rev; layer 1 = fwd + rev + its input. */
    recur_seq_result r[4];
    recur_value in = xs;
    for (int l = 0; l < 2; l++) {
        TU_ST(g, recur_cell_over(g, &rnn.cells[2 * l], NULL, in, NULL, 0, &r[2 * l]));
        TU_ST(g, recur_cell_over(g, &rnn.cells[2 * l + 1], NULL, in, NULL, 1, &r[2 * l + 1]));
        recur_value sum = recur_add(g, r[2 * l].outputs, r[2 * l + 1].outputs);
        in = l ? recur_add(g, sum, in) : sum;
    }
    TU_ST(g, recur_unroll(g));
    float x[T * B * H];
    tu_fill_uniform(x, T * B * H, -1, 1, 8);
    float *a = eval_seq(g, rnn.outputs, xs, x, T * B * H), *b = eval_seq(g, in, xs, x, T * B * H);
    tu_assert_close(a, b, T * B * H, 0, 0);
    free(a), free(b);
    /* h_n holds the final states in PyTorch's order: layer 1 reverse is entry 3. */
    float *hn = eval_seq(g, rnn.h_n, xs, x, T * B * H), *h3 = eval_seq(g, r[3].final[0], xs, x, T * B * H);
    tu_assert_close(hn + 3 * B * H, h3, B * H, 0, 0);
    free(hn), free(h3);
    /* A layer whose input size does not match the sequence fails and is rolled back. */
    recur_rnn bad;
    recur_rnn_opts ob = {.kind = RECUR_LSTM, .input_size = I, .hidden = H, .layers = 2, .bidirectional = 1};
    int size = recur_graph_size(g), loops = recur_loop_count(g);
    assert_int_equal(recur_rnn_new(g, "bad", &ob, xs, RECUR_NONE, RECUR_NONE, &bad), RECUR_ERR_SHAPE);
    assert_non_null(strstr(recur_errmsg(g), "[T, B, 3]"));
    assert_false(recur_ok(recur_find(g, "bad.weight_ih_l0")));
    assert_int_equal(recur_graph_size(g), size); /* a failed layer leaves nothing behind */
    assert_int_equal(recur_loop_count(g), loops);
    recur_graph_free(g);
}

/*
 * Initial states are checked when the layer is built: h0 and c0 must be
 * [layers x directions, B, H], and a GRU or Elman layer takes no c0; the
 * error names the layer, the caller's value and both shapes, and the
 * failed layer leaves nothing behind.
 */
static void test_rnn_initial_state_errors(void **state)
{
    (void)state;
    enum { T = 3, B = 2, I = 4, H = 5 };
    recur_graph *g = recur_graph_new(2);
    recur_value xs = recur_input(g, "xs", recur_shape3(T, B, I));
    recur_value h_ok = recur_input(g, "h_ok", recur_shape3(4, B, H)), c_ok = recur_input(g, "c_ok", recur_shape3(4, B, H));
    recur_value h_many = recur_input(g, "h_many", recur_shape3(5, B, H)), h_wide = recur_input(g, "h_wide", recur_shape3(4, B, H + 1));
    recur_rnn r;
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = I, .hidden = H, .layers = 2, .bidirectional = 1};
    int size = recur_graph_size(g);
    assert_int_equal(recur_rnn_new(g, "enc", &o, xs, h_many, c_ok, &r), RECUR_ERR_SHAPE);
    const char *msg = recur_errmsg(g);
    assert_non_null(strstr(msg, "\"enc\""));
    assert_non_null(strstr(msg, "h0 \"h_many\" is [5, 2, 5]"));
    assert_non_null(strstr(msg, "[4, 2, 5]"));
    assert_int_equal(recur_rnn_new(g, "enc", &o, xs, h_ok, h_wide, &r), RECUR_ERR_SHAPE);
    assert_non_null(strstr(recur_errmsg(g), "c0 \"h_wide\" is [4, 2, 6]"));
    o.kind = RECUR_GRU;
    assert_int_equal(recur_rnn_new(g, "gru", &o, xs, h_ok, c_ok, &r), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_errmsg(g), "c0 \"c_ok\""));
    assert_non_null(strstr(recur_errmsg(g), "gru cell has no such state"));
    assert_int_equal(recur_graph_size(g), size); /* nothing left behind */
    assert_int_equal(recur_rnn_new(g, "gru", &o, xs, h_ok, RECUR_NONE, &r), RECUR_OK); /* the right ones build */
    recur_graph_free(g);
}

/* Many-to-one (classification from the last step) and many-to-many (tagging) heads train. */
static void test_heads_learn(void **state)
{
    (void)state;
    enum { N = 16, TT = 6 };
    recur_graph *g = recur_graph_new(12);
    recur_value xs = recur_input(g, "xs", recur_shape3(TT, N, 1));
    recur_value cls = recur_input(g, "cls", recur_shape1(N));    /* 1 if the sum of the sequence is positive */
    recur_value tags = recur_input(g, "tags", recur_shape2(TT, N)); /* 1 where the step is positive */
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = 1, .hidden = 8};
    recur_rnn rnn;
    TU_ST(g, recur_rnn_new(g, "lstm", &o, xs, RECUR_NONE, RECUR_NONE, &rnn));
    recur_value one = recur_dense(g, "cls_head", recur_last_step(g, rnn.outputs), 2, 1);
    recur_value many = recur_dense(g, "tag_head", rnn.outputs, 2, 1);
    recur_value loss = recur_add(g, recur_softmax_xent(g, one, cls, RECUR_NONE),
                                 recur_softmax_xent(g, many, tags, RECUR_NONE));
    TU_OK(g, loss);
    TU_ST(g, recur_unroll(g));
    recur_value ps[32], gs[32];
    int np = recur_params(g, ps, 32);
    TU_ST(g, recur_grad(g, loss, np, ps, gs));
    recur_value outs[33] = {loss};
    memcpy(outs + 1, gs, sizeof(recur_value) * (size_t)np);
    recur_plan *p = recur_compile(g, np + 1, outs, NULL);
    assert_non_null(p);
    float x[TT * N], c[N], tg[TT * N], first = 0, last = 0;
    tu_fill_uniform(x, TT * N, -1, 1, 13);
    for (int n = 0; n < N; n++) {
        float s = 0;
        for (int t = 0; t < TT; t++) s += x[t * N + n], tg[t * N + n] = x[t * N + n] > 0;
        c[n] = s > 0;
    }
    recur_plan_feed(p, xs, x, TT * N);
    recur_plan_feed(p, cls, c, N);
    recur_plan_feed(p, tags, tg, TT * N);
    for (int step = 0; step < 300; step++) {
        assert_int_equal(recur_plan_run(p), RECUR_OK);
        recur_plan_fetch(p, loss, &last, 1);
        if (!step) first = last;
        for (int k = 0; k < np; k++) {
            float *w = recur_param_data(g, ps[k]);
            const float *d = recur_plan_output(p, gs[k]);
            for (int64_t i = 0; i < recur_shape_numel(recur_value_shape(g, ps[k])); i++) w[i] -= 0.5f * d[i];
        }
    }
    print_message("heads: loss %.4f -> %.4f\n", (double)first, (double)last);
    assert_true(last < first / 4);
    recur_plan_free(p);
    recur_graph_free(g);
}

/*
 * A custom cell from user code: the minimal gated unit,
 *   f = sigmoid(x Wf^T + h Uf^T),  n = tanh(x Wn^T + (f * h) Un^T),  h' = (1 - f) h + f n.
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

static void test_custom_cell(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(21);
    recur_value p[4] = {tu_param(g, "Wf", recur_shape2(H, I)), tu_param(g, "Uf", recur_shape2(H, H)),
                        tu_param(g, "Wn", recur_shape2(H, I)), tu_param(g, "Un", recur_shape2(H, H))};
    recur_cell mgu = {.name = "mgu", .n_state = 1, .state_size = {H}, .input_size = I, .output_size = H,
                      .step = mgu_step, .user = p};
    recur_value xs = recur_input(g, "xs", recur_shape3(T, B, I));
    recur_seq_result fwd, rev;
    TU_ST(g, recur_cell_over(g, &mgu, "mgu", xs, NULL, 0, &fwd));
    TU_ST(g, recur_cell_over(g, &mgu, "mgu_rev", xs, NULL, 1, &rev));
    recur_value y = recur_concat(g, 2, (recur_value[]){fwd.outputs, rev.outputs}, 2);
    TU_ST(g, recur_unroll(g));
    float x[T * B * I];
    tu_fill_uniform(x, T * B * I, -1, 1, 22);
    recur_feed f = {xs, x, T * B * I};
    tu_gradcheck(g, y, 5, (recur_value[]){p[0], p[1], p[2], p[3], xs}, 1, &f, 1e-2);
    /* A wrong input size is reported with the cell's name. */
    recur_value bad = recur_input(g, "bad", recur_shape3(T, B, I + 1));
    recur_seq_result r;
    assert_int_equal(recur_cell_over(g, &mgu, "x", bad, NULL, 0, &r), RECUR_ERR_SHAPE);
    assert_non_null(strstr(recur_errmsg(g), "mgu"));
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_and_embedding),
        cmocka_unit_test(test_cho_gru_against_reference),
        cmocka_unit_test(test_cell_gradients),
        cmocka_unit_test(test_stack_bidirectional_residual),
        cmocka_unit_test(test_rnn_initial_state_errors),
        cmocka_unit_test(test_heads_learn),
        cmocka_unit_test(test_custom_cell),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
