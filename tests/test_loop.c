/*
 * tests/test_loop.c — the loop node: building, unrolling, BPTT against
 * finite differences, reverse loops, chained loops, step-by-step execution,
 * and the errors of loop building.
 */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { T = 5, B = 2, I = 3, H = 4 };

typedef struct elman {
    recur_graph *g;
    recur_value xs, h0, W, U, b, hs, hT, step_x, state_h, next_h;
    recur_loop L;
} elman;

/* h_t = tanh(x_t W^T + h_{t-1} U^T + b) over xs [T, B, I]. */
static elman build_elman(uint64_t seed, int reverse)
{
    elman e;
    e.g = recur_graph_new(seed);
    recur_graph *g = e.g;
    e.xs = recur_input(g, "xs", recur_shape3(T, B, I));
    e.h0 = recur_input(g, "h0", recur_shape2(B, H));
    e.W = tu_param(g, "W", recur_shape2(H, I));
    e.U = tu_param(g, "U", recur_shape2(H, H));
    e.b = tu_param(g, "b", recur_shape1(H));
    e.L = recur_loop_begin(g, "rnn", reverse);
    e.step_x = recur_loop_input(g, e.L, e.xs);
    e.state_h = recur_loop_state(g, e.L, "h", e.h0);
    e.next_h = recur_tanh(g, recur_bias_add(g, recur_add(g, recur_matmul(g, e.step_x, e.W, 0, 1),
                                                          recur_matmul(g, e.state_h, e.U, 0, 1)),
                                             e.b));
    TU_OK(g, e.next_h);
    TU_ST(g, recur_loop_next(g, e.L, e.state_h, e.next_h));
    TU_ST(g, recur_loop_end(g, e.L));
    e.hs = recur_loop_stacked(g, e.L, e.next_h);
    e.hT = recur_loop_final(g, e.L, e.state_h);
    TU_OK(g, e.hs);
    TU_OK(g, e.hT);
    return e;
}

/* The same recurrence in plain C: the oracle. */
static void elman_reference(const elman *e, const float *xs, const float *h0, int reverse, float *hs, float *hT)
{
    const float *W = recur_param_data(e->g, e->W), *U = recur_param_data(e->g, e->U), *b = recur_param_data(e->g, e->b);
    float h[B * H];
    memcpy(h, h0, sizeof h);
    for (int s = 0; s < T; s++) {
        int t = reverse ? T - 1 - s : s;
        float nh[B * H];
        for (int bi = 0; bi < B; bi++)
            for (int j = 0; j < H; j++) {
                double a = b[j];
                for (int k = 0; k < I; k++) a += (double)xs[(t * B + bi) * I + k] * W[j * I + k];
                for (int k = 0; k < H; k++) a += (double)h[bi * H + k] * U[j * H + k];
                nh[bi * H + j] = (float)tanh(a);
            }
        memcpy(h, nh, sizeof h);
        memcpy(hs + t * B * H, h, sizeof h);
    }
    memcpy(hT, h, sizeof h);
}

static void test_unrolled_matches_reference(void **state)
{
    (void)state;
    for (int reverse = 0; reverse < 2; reverse++) {
        elman e = build_elman(11 + (uint64_t)reverse, reverse);
        float xs[T * B * I], h0[B * H], want_hs[T * B * H], want_hT[B * H];
        tu_fill_uniform(xs, T * B * I, -1, 1, 1);
        tu_fill_uniform(h0, B * H, -0.5f, 0.5f, 2);
        TU_ST(e.g, recur_unroll(e.g));
        TU_ST(e.g, recur_graph_validate(e.g));
        assert_true(recur_shape_equal(recur_value_shape(e.g, e.hs), recur_shape3(T, B, H)));
        recur_feed feeds[2] = {{e.xs, xs, T * B * I}, {e.h0, h0, B * H}};
        float *hs = tu_eval(e.g, e.hs, 2, feeds), *hT = tu_eval(e.g, e.hT, 2, feeds);
        elman_reference(&e, xs, h0, reverse, want_hs, want_hT);
        tu_assert_close(hs, want_hs, T * B * H, 1e-5, 1e-6);
        tu_assert_close(hT, want_hT, B * H, 1e-5, 1e-6);
        free(hs), free(hT);
        recur_graph_free(e.g);
    }
}

/* BPTT through the unrolled graph against central differences, for every weight, the inputs and h0. */
static void test_bptt_gradients(void **state)
{
    (void)state;
    for (int reverse = 0; reverse < 2; reverse++) {
        elman e = build_elman(21 + (uint64_t)reverse, reverse);
        TU_ST(e.g, recur_unroll(e.g));
        float xs[T * B * I], h0[B * H];
        tu_fill_uniform(xs, T * B * I, -1, 1, 3);
        tu_fill_uniform(h0, B * H, -0.5f, 0.5f, 4);
        recur_feed feeds[2] = {{e.xs, xs, T * B * I}, {e.h0, h0, B * H}};
        recur_value y = recur_add(e.g, recur_sum(e.g, e.hs), recur_sum(e.g, recur_square(e.g, e.hT)));
        tu_gradcheck(e.g, y, 5, (recur_value[]){e.W, e.U, e.b, e.xs, e.h0}, 2, feeds, 1e-2);
        recur_graph_free(e.g);
    }
}

/* The unrolled graph shares one node per weight: W is used T times, its gradient summed. */
static void test_unroll_shares_weights(void **state)
{
    (void)state;
    elman e = build_elman(5, 0);
    int before = recur_graph_size(e.g);
    TU_ST(e.g, recur_unroll(e.g));
    int params = recur_params(e.g, NULL, 0);
    assert_int_equal(params, 3);
    assert_true(recur_graph_size(e.g) > before + T * 5);
    /* Per-step values exist after unrolling, and h at step t is the tanh copy of step t. */
    for (int t = 0; t < T; t++) {
        recur_value ht = recur_loop_step_value(e.g, e.L, e.next_h, t);
        TU_OK(e.g, ht);
        assert_string_equal(recur_value_op(e.g, ht), "tanh");
    }
    recur_value h_state1 = recur_loop_step_value(e.g, e.L, e.state_h, 1);
    assert_int_equal(h_state1.id, recur_loop_step_value(e.g, e.L, e.next_h, 0).id);
    assert_int_equal(recur_loop_step_value(e.g, e.L, e.state_h, 0).id, e.h0.id);
    assert_false(recur_ok(recur_loop_step_value(e.g, e.L, e.next_h, T)));
    /* Unrolling twice does nothing more. */
    int size = recur_graph_size(e.g);
    TU_ST(e.g, recur_unroll(e.g));
    assert_int_equal(recur_graph_size(e.g), size);
    recur_graph_free(e.g);
}

/* Stepping the body one step at a time gives the unrolled outputs. */
static void test_stepper_matches_unrolled(void **state)
{
    (void)state;
    elman e = build_elman(31, 0);
    float xs[T * B * I], h0[B * H], want_hs[T * B * H], want_hT[B * H];
    tu_fill_uniform(xs, T * B * I, -1, 1, 5);
    tu_fill_uniform(h0, B * H, -0.5f, 0.5f, 6);
    elman_reference(&e, xs, h0, 0, want_hs, want_hT);

    recur_stepper *s = recur_stepper_new(e.g, e.L, 1, &e.next_h, NULL);
    if (!s) fail_msg("%s", recur_errmsg(e.g));
    /* h0 is an input, so the state starts at zeros until set. */
    float got[B * H];
    assert_int_equal(recur_stepper_get_state(s, e.state_h, got, B * H), RECUR_OK);
    for (int i = 0; i < B * H; i++) assert_true(got[i] == 0.0f);
    assert_int_equal(recur_stepper_set_state(s, e.state_h, h0, B * H), RECUR_OK);
    /* Running without feeding the step input names it. */
    assert_int_equal(recur_stepper_step(s), RECUR_ERR_FEED);
    assert_non_null(strstr(recur_stepper_errmsg(s), "xs[t]"));
    for (int t = 0; t < T; t++) {
        assert_int_equal(recur_stepper_feed(s, e.step_x, xs + t * B * I, B * I), RECUR_OK);
        assert_int_equal(recur_stepper_step(s), RECUR_OK);
        const float *h = recur_stepper_output(s, e.next_h);
        assert_non_null(h);
        tu_assert_close(h, want_hs + t * B * H, B * H, 1e-5, 1e-6);
    }
    assert_int_equal(recur_stepper_get_state(s, e.state_h, got, B * H), RECUR_OK);
    tu_assert_close(got, want_hT, B * H, 1e-5, 1e-6);
    /* Errors: wrong sizes, values that are not states. */
    assert_int_equal(recur_stepper_set_state(s, e.state_h, h0, 3), RECUR_ERR_FEED);
    assert_non_null(strstr(recur_stepper_errmsg(s), "\"h\""));
    assert_int_equal(recur_stepper_set_state(s, e.next_h, h0, B * H), RECUR_ERR_FEED);
    assert_int_equal(recur_stepper_feed(s, e.state_h, h0, B * H), RECUR_ERR_VALUE);
    /* Reset goes back to zeros. */
    assert_int_equal(recur_stepper_reset(s), RECUR_OK);
    assert_int_equal(recur_stepper_get_state(s, e.state_h, got, B * H), RECUR_OK);
    assert_true(got[0] == 0.0f);
    recur_stepper_free(s);
    recur_graph_free(e.g);
}

/* A stepper whose initial state is a parameter starts from it; a captured input must be fed. */
static void test_stepper_initial_state_and_captures(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(3);
    recur_value xs = recur_input(g, "xs", recur_shape2(4, 2));
    recur_value bias = recur_input(g, "bias", recur_shape1(2)); /* captured, known only at run time */
    recur_value h0 = recur_param(g, "h0", recur_shape1(2), recur_init_constant(1));
    recur_loop L = recur_loop_begin(g, "acc", 0);
    recur_value x = recur_loop_input(g, L, xs);
    recur_value h = recur_loop_state(g, L, "h", h0);
    recur_value nh = recur_add(g, recur_add(g, h, x), bias); /* h_t = h_{t-1} + x_t + bias */
    TU_ST(g, recur_loop_next(g, L, h, nh));
    TU_ST(g, recur_loop_end(g, L));
    recur_stepper *s = recur_stepper_new(g, L, 1, &nh, NULL);
    if (!s) fail_msg("%s", recur_errmsg(g));
    float got[2];
    assert_int_equal(recur_stepper_get_state(s, h, got, 2), RECUR_OK);
    tu_assert_close(got, (const float[]){1, 1}, 2, 0, 0);
    assert_int_equal(recur_stepper_feed(s, x, (const float[]){1, 2}, 2), RECUR_OK);
    assert_int_equal(recur_stepper_step(s), RECUR_ERR_FEED);
    assert_non_null(strstr(recur_stepper_errmsg(s), "bias"));
    assert_int_equal(recur_stepper_feed(s, bias, (const float[]){10, 20}, 2), RECUR_OK);
    for (int i = 0; i < 3; i++) assert_int_equal(recur_stepper_step(s), RECUR_OK);
    tu_assert_close(recur_stepper_output(s, nh), (const float[]){34, 67}, 2, 0, 0);
    recur_stepper_free(s);
    recur_graph_free(g);
}

/* An encoder's final state initialises a decoder; gradients flow through both. */
static void test_chained_loops(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(8);
    recur_value src = recur_input(g, "src", recur_shape3(4, B, I));
    recur_value tgt = recur_input(g, "tgt", recur_shape3(3, B, I));
    recur_value h0 = recur_fill(g, recur_shape2(B, H), 0);
    recur_value We = tu_param(g, "We", recur_shape2(H, I + H));
    recur_value Wd = tu_param(g, "Wd", recur_shape2(H, I + H));

    recur_loop enc = recur_loop_begin(g, "encoder", 0);
    recur_value ex = recur_loop_input(g, enc, src);
    recur_value eh = recur_loop_state(g, enc, "h", h0);
    recur_value enh = recur_tanh(g, recur_matmul(g, recur_concat(g, 2, (recur_value[]){ex, eh}, 1), We, 0, 1));
    TU_ST(g, recur_loop_next(g, enc, eh, enh));
    TU_ST(g, recur_loop_end(g, enc));
    recur_value context = recur_loop_final(g, enc, eh);

    recur_loop dec = recur_loop_begin(g, "decoder", 0);
    recur_value dx = recur_loop_input(g, dec, tgt);
    recur_value dh = recur_loop_state(g, dec, "h", context);
    recur_value dnh = recur_tanh(g, recur_matmul(g, recur_concat(g, 2, (recur_value[]){dx, dh}, 1), Wd, 0, 1));
    TU_ST(g, recur_loop_next(g, dec, dh, dnh));
    TU_ST(g, recur_loop_end(g, dec));
    recur_value out = recur_loop_stacked(g, dec, dnh);
    TU_OK(g, out);
    assert_int_equal(recur_loop_count(g), 2);
    assert_string_equal(recur_loop_name(g, recur_loop_at(g, 1)), "decoder");
    assert_int_equal(recur_loop_length(g, enc), 4);
    assert_int_equal(recur_loop_length(g, dec), 3);
    TU_ST(g, recur_unroll(g));
    float s[4 * B * I], t[3 * B * I];
    tu_fill_uniform(s, 4 * B * I, -1, 1, 7);
    tu_fill_uniform(t, 3 * B * I, -1, 1, 8);
    recur_feed feeds[2] = {{src, s, 4 * B * I}, {tgt, t, 3 * B * I}};
    tu_gradcheck(g, out, 3, (recur_value[]){We, Wd, src}, 2, feeds, 1e-2);
    recur_graph_free(g);
}

/* Per-step gradient norms: d loss / d h_t shrinks going back in time with small weights. */
static void test_per_step_gradient_norms(void **state)
{
    (void)state;
    elman e = build_elman(41, 0);
    for (int k = 0; k < H * H; k++) recur_param_data(e.g, e.U)[k] *= 0.3f;
    TU_ST(e.g, recur_unroll(e.g));
    recur_value loss = recur_sum(e.g, e.hT);
    recur_value hts[T], dh[T];
    for (int t = 0; t < T; t++) hts[t] = recur_loop_step_value(e.g, e.L, e.next_h, t);
    TU_ST(e.g, recur_grad(e.g, loss, T, hts, dh));
    float xs[T * B * I], h0[B * H] = {0};
    tu_fill_uniform(xs, T * B * I, -1, 1, 9);
    recur_plan *p = recur_compile(e.g, T, dh, NULL);
    assert_non_null(p);
    assert_int_equal(recur_plan_feed(p, e.xs, xs, T * B * I), RECUR_OK);
    assert_int_equal(recur_plan_feed(p, e.h0, h0, B * H), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    double norm[T];
    for (int t = 0; t < T; t++) {
        const float *d = recur_plan_output(p, dh[t]);
        norm[t] = 0;
        for (int i = 0; i < B * H; i++) norm[t] += (double)d[i] * d[i];
        norm[t] = sqrt(norm[t]);
    }
    assert_true(fabs(norm[T - 1] - sqrt((double)B * H)) < 1e-6); /* d sum(h_T) / d h_T = 1 */
    for (int t = 0; t < T - 1; t++) assert_true(norm[t] < norm[t + 1]);
    recur_plan_free(p);
    recur_graph_free(e.g);
}

static void test_loop_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value xs = recur_input(g, "xs", recur_shape3(T, B, I));
    recur_value ys = recur_input(g, "ys", recur_shape3(T + 1, B, I));
    recur_value h0 = recur_input(g, "h0", recur_shape2(B, H));
    recur_value W = tu_param(g, "W", recur_shape2(H, I));
    recur_loop L = recur_loop_begin(g, "rnn", 0);
    assert_true(L.id >= 0);
    /* No nesting. */
    recur_loop L2 = recur_loop_begin(g, "inner", 0);
    assert_true(L2.id < 0);
    assert_non_null(strstr(recur_errmsg(g), "\"rnn\" is still open"));
    recur_value x = recur_loop_input(g, L, xs);
    /* Sequences of different lengths. */
    assert_false(recur_ok(recur_loop_input(g, L, ys)));
    assert_non_null(strstr(recur_errmsg(g), "6 steps"));
    recur_value h = recur_loop_state(g, L, "h", h0);
    recur_value nh = recur_tanh(g, recur_add(g, recur_matmul(g, x, W, 0, 1), h));
    TU_OK(g, nh);
    /* Stacking before the end. */
    assert_false(recur_ok(recur_loop_stacked(g, L, nh)));
    assert_non_null(strstr(recur_errmsg(g), "ended first"));
    /* A state left open is named; the loop stays open to be mended. */
    assert_int_equal(recur_loop_end(g, L), RECUR_ERR_STATE);
    assert_non_null(strstr(recur_errmsg(g), "\"h\""));
    assert_non_null(strstr(recur_errmsg(g), "never closed"));
    /* Closing with the wrong shape names both. */
    recur_value wrong = recur_sum_axis(g, nh, 1, 0);
    assert_int_equal(recur_loop_next(g, L, h, wrong), RECUR_ERR_SHAPE);
    assert_non_null(strstr(recur_errmsg(g), "[2, 4]"));
    assert_non_null(strstr(recur_errmsg(g), "[2]"));
    assert_int_equal(recur_loop_next(g, L, nh, nh), RECUR_ERR_VALUE); /* not a state */
    TU_ST(g, recur_loop_next(g, L, h, nh));
    /* A second state of the same name, and a state closed twice, are errors naming it. */
    assert_false(recur_ok(recur_loop_state(g, L, "h", h0)));
    assert_non_null(strstr(recur_errmsg(g), "state named \"h\" already"));
    assert_int_equal(recur_loop_next(g, L, h, recur_tanh(g, nh)), RECUR_ERR_STATE);
    assert_non_null(strstr(recur_errmsg(g), "\"h\" of loop \"rnn\" is closed already"));
    TU_ST(g, recur_loop_end(g, L));
    assert_int_equal(recur_loop_end(g, L), RECUR_ERR_STATE); /* twice */
    /* A body value used outside its loop. */
    int size = recur_graph_size(g);
    assert_false(recur_ok(recur_tanh(g, nh)));
    assert_non_null(strstr(recur_errmsg(g), "body of loop \"rnn\""));
    assert_int_equal(recur_graph_size(g), size);
    assert_false(recur_ok(recur_loop_final(g, L, nh))); /* not a state */
    recur_value hs = recur_loop_stacked(g, L, nh);
    TU_OK(g, hs);
    /* Compiling or differentiating a rolled loop says to unroll. */
    assert_null(recur_compile(g, 1, &hs, NULL));
    assert_non_null(strstr(recur_errmsg(g), "recur_unroll"));
    recur_value dW;
    assert_int_equal(recur_grad(g, recur_sum(g, hs), 1, &W, &dW), RECUR_ERR_NOGRAD);
    assert_non_null(strstr(recur_errmsg(g), "recur_unroll"));
    /* An invalid loop handle. */
    assert_false(recur_ok(recur_loop_input(g, (recur_loop){7}, xs)));
    assert_int_equal(recur_errcode(g), RECUR_ERR_VALUE);
    /* A loop without sequences cannot end. */
    recur_loop E = recur_loop_begin(g, "empty", 0);
    assert_int_equal(recur_loop_end(g, E), RECUR_ERR_STATE);
    assert_non_null(strstr(recur_errmsg(g), "no sequence input"));
    /* ... and while it is open, unrolling is refused. */
    assert_int_equal(recur_unroll(g), RECUR_ERR_STATE);
    recur_graph_free(g);
}

/* The same recurrence with per-sequence lengths, in plain C: sequence b's steps t >= len[b] keep the state and output 0. */
static void elman_lengths_reference(const elman *e, const float *xs, const float *h0, const float *len, int reverse,
                                    float *hs, float *hT)
{
    for (int bi = 0; bi < B; bi++) {
        float one[T * I], oh[T * H], ohT[H];
        float ones_h0[B * H] = {0};
        for (int t = 0; t < T; t++) memcpy(one + t * I, xs + (t * B + bi) * I, sizeof(float) * I);
        memcpy(ones_h0, h0 + bi * H, sizeof(float) * H);
        /* Run the whole recurrence on this sequence alone: its first len steps (reverse: from len - 1 down). */
        const float *W = recur_param_data(e->g, e->W), *U = recur_param_data(e->g, e->U), *b = recur_param_data(e->g, e->b);
        float h[H];
        memcpy(h, h0 + bi * H, sizeof h);
        int n = (int)len[bi];
        for (int t = 0; t < T; t++) memset(oh + t * H, 0, sizeof(float) * H);
        for (int s = 0; s < n; s++) {
            int t = reverse ? n - 1 - s : s;
            float nh[H];
            for (int j = 0; j < H; j++) {
                double a = b[j];
                for (int k = 0; k < I; k++) a += (double)one[t * I + k] * W[j * I + k];
                for (int k = 0; k < H; k++) a += (double)h[k] * U[j * H + k];
                nh[j] = (float)tanh(a);
            }
            memcpy(h, nh, sizeof h);
            memcpy(oh + t * H, h, sizeof h);
        }
        memcpy(ohT, h, sizeof h);
        for (int t = 0; t < T; t++) memcpy(hs + (t * B + bi) * H, oh + t * H, sizeof(float) * H);
        memcpy(hT + bi * H, ohT, sizeof ohT);
    }
}

/*
 * Lengths on a hand-built loop, forward and reverse: each sequence runs its
 * own first len steps (a reverse loop from its own last step down), its
 * outputs past them are zero and its final state is its last step's; the
 * unrolled graph and a stepper fed the lengths agree with the plain C
 * recurrence. Bad lengths fail the run naming the loop and the position.
 */
static void test_lengths(void **state)
{
    (void)state;
    float xs[T * B * I], h0[B * H], hs[T * B * H], hT[B * H];
    tu_fill_uniform(xs, T * B * I, -1, 1, 3);
    tu_fill_uniform(h0, B * H, -1, 1, 4);
    const float len[B] = {2, T};
    for (int reverse = 0; reverse < 2; reverse++) {
        recur_graph *g = recur_graph_new(5);
        elman e = {.g = g};
        e.xs = recur_input(g, "xs", recur_shape3(T, B, I));
        e.h0 = recur_input(g, "h0", recur_shape2(B, H));
        recur_value lv = recur_input(g, "len", recur_shape1(B));
        e.W = tu_param(g, "W", recur_shape2(H, I));
        e.U = tu_param(g, "U", recur_shape2(H, H));
        e.b = tu_param(g, "b", recur_shape1(H));
        e.L = recur_loop_begin(g, "rnn", reverse);
        assert_int_equal(recur_loop_lengths(g, e.L, lv), RECUR_ERR_STATE); /* before any sequence: T unknown */
        e.step_x = recur_loop_input(g, e.L, e.xs);
        assert_int_equal(recur_loop_lengths(g, e.L, recur_input(g, "len3", recur_shape1(3))), RECUR_ERR_SHAPE);
        assert_non_null(strstr(recur_errmsg(g), "a batch of 2"));
        TU_ST(g, recur_loop_lengths(g, e.L, lv));
        e.state_h = recur_loop_state(g, e.L, "h", e.h0);
        e.next_h = recur_tanh(g, recur_bias_add(g, recur_add(g, recur_matmul(g, e.step_x, e.W, 0, 1),
                                                              recur_matmul(g, e.state_h, e.U, 0, 1)),
                                                 e.b));
        TU_ST(g, recur_loop_next(g, e.L, e.state_h, e.next_h));
        TU_ST(g, recur_loop_end(g, e.L));
        e.hs = recur_loop_stacked(g, e.L, e.next_h);
        e.hT = recur_loop_final(g, e.L, e.state_h);
        TU_OK(g, e.hT);
        elman_lengths_reference(&e, xs, h0, len, reverse, hs, hT);
        /* A stepper, fed the lengths, steps through time in the loop's order. */
        recur_stepper *st = recur_stepper_new(g, e.L, 1, &e.next_h, NULL);
        if (!st) fail_msg("%s", recur_errmsg(g));
        assert_int_equal(recur_stepper_feed(st, lv, len, B), RECUR_OK);
        assert_int_equal(recur_stepper_set_state(st, e.state_h, h0, B * H), RECUR_OK);
        for (int s = 0; s < T; s++) {
            int t = reverse ? T - 1 - s : s;
            assert_int_equal(recur_stepper_feed(st, e.step_x, xs + t * B * I, B * I), RECUR_OK);
            if (recur_stepper_step(st) != RECUR_OK) fail_msg("%s", recur_stepper_errmsg(st));
            const float *y = recur_stepper_output(st, e.next_h);
            for (int bi = 0; bi < B; bi++)
                if (t < (int)len[bi]) tu_assert_close(y + bi * H, hs + (t * B + bi) * H, H, 1e-5, 1e-6);
        }
        float got[B * H];
        assert_int_equal(recur_stepper_get_state(st, e.state_h, got, B * H), RECUR_OK);
        tu_assert_close(got, hT, B * H, 1e-5, 1e-6);
        recur_stepper_free(st);
        /* Unrolled. */
        TU_ST(g, recur_unroll(g));
        recur_plan *p = recur_compile(g, 2, (recur_value[]){e.hs, e.hT}, NULL);
        assert_non_null(p);
        assert_int_equal(recur_plan_feed(p, e.xs, xs, T * B * I), RECUR_OK);
        assert_int_equal(recur_plan_feed(p, e.h0, h0, B * H), RECUR_OK);
        assert_int_equal(recur_plan_feed(p, lv, len, B), RECUR_OK);
        assert_int_equal(recur_plan_run(p), RECUR_OK);
        tu_assert_close(recur_plan_output(p, e.hs), hs, T * B * H, 1e-5, 1e-6);
        tu_assert_close(recur_plan_output(p, e.hT), hT, B * H, 1e-5, 1e-6);
        for (int t = 0; t < T; t++)
            for (int j = 0; j < H; j++)
                if (t >= (int)len[0]) assert_true(recur_plan_output(p, e.hs)[(t * B) * H + j] == 0.0f);
        /* Bad lengths: 0, T + 1, not whole, NaN. */
        const float bad[4] = {0, T + 1, 2.5f, NAN};
        for (int k = 0; k < 4; k++) {
            float l2[B] = {len[0], bad[k]};
            assert_int_equal(recur_plan_feed(p, lv, l2, B), RECUR_OK);
            assert_int_equal(recur_plan_run(p), RECUR_ERR_RUNTIME);
            assert_non_null(strstr(recur_plan_errmsg(p), "rnn.lengths"));
            assert_non_null(strstr(recur_plan_errmsg(p), "lengths[1]"));
        }
        recur_plan_free(p);
        recur_graph_free(g);
    }
}

/* Work that uses no step or state value stays outside the body (computed once). */
static void test_invariant_work_is_hoisted(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value xs = recur_input(g, "xs", recur_shape3(T, B, I));
    recur_value W = tu_param(g, "W", recur_shape2(H, I));
    recur_loop L = recur_loop_begin(g, "l", 0);
    recur_value x = recur_loop_input(g, L, xs);
    recur_value Wt = recur_transpose2(g, W); /* made inside, uses only W */
    recur_value y = recur_matmul(g, x, Wt, 0, 0);
    TU_OK(g, y);
    TU_ST(g, recur_loop_end(g, L));
    /* Wt is usable outside the loop: it is an outer value. */
    TU_OK(g, recur_sum(g, Wt));
    recur_value ys = recur_loop_stacked(g, L, y);
    TU_ST(g, recur_unroll(g));
    float xv[T * B * I];
    tu_fill_uniform(xv, T * B * I, -1, 1, 1);
    float *got = tu_eval(g, ys, 1, (recur_feed[]){{xs, xv, T * B * I}});
    const float *w = recur_param_data(g, W);
    for (int t = 0; t < T; t++)
        for (int bi = 0; bi < B; bi++)
            for (int j = 0; j < H; j++) {
                double a = 0;
                for (int k = 0; k < I; k++) a += (double)xv[(t * B + bi) * I + k] * w[j * I + k];
                assert_true(fabs(got[(t * B + bi) * H + j] - a) < 1e-5);
            }
    free(got);
    recur_graph_free(g);
}

/*
 * Dropout inside a loop body draws a new mask at every unrolled step (the
 * steps' copies get seeds of their own), and each step's backward pass
 * uses its own step's mask: with u = 1 and x = 0, y_t = mask_t / (1 - p)
 * and d sum(y) / du = sum_t y_t, from one run.
 */
static void test_dropout_mask_per_step(void **state)
{
    (void)state;
    enum { N = 64 };
    recur_graph *g = recur_graph_new(17);
    recur_value u = recur_param(g, "u", recur_shape2(B, N), recur_init_constant(1));
    recur_value h0 = recur_input(g, "h0", recur_shape2(B, N)), xs = recur_input(g, "xs", recur_shape3(T, B, N));
    recur_loop L = recur_loop_begin(g, "drop", 0);
    recur_value x = recur_loop_input(g, L, xs), h = recur_loop_state(g, L, "h", h0);
    recur_value pre = recur_add(g, recur_add(g, recur_scale(g, h, 0.0f), u), x); /* reads the state: not hoisted */
    recur_value next = recur_dropout(g, pre, 0.5f, 99);
    TU_ST(g, recur_loop_next(g, L, h, next));
    TU_ST(g, recur_loop_end(g, L));
    recur_value ys = recur_loop_stacked(g, L, next);
    TU_OK(g, ys);
    TU_ST(g, recur_unroll(g));
    recur_value du;
    TU_ST(g, recur_grad(g, recur_sum(g, ys), 1, &u, &du));
    recur_plan *p = recur_compile(g, 2, (recur_value[]){ys, du}, NULL);
    assert_non_null(p);
    float zeros[T * B * N] = {0};
    assert_int_equal(recur_plan_feed(p, h0, zeros, B * N), RECUR_OK);
    assert_int_equal(recur_plan_feed(p, xs, zeros, T * B * N), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    const float *y = recur_plan_output(p, ys), *d = recur_plan_output(p, du);
    int differ = 0;
    for (int t = 1; t < T; t++) differ += memcmp(y, y + t * B * N, sizeof(float) * B * N) != 0;
    assert_int_equal(differ, T - 1); /* every step's mask differs from step 0's */
    for (int i = 0; i < B * N; i++) {
        float sum = 0;
        for (int t = 0; t < T; t++) sum += y[t * B * N + i];
        assert_float_equal(d[i], sum, 1e-6f);
    }
    recur_plan_free(p);
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unrolled_matches_reference),
        cmocka_unit_test(test_bptt_gradients),
        cmocka_unit_test(test_unroll_shares_weights),
        cmocka_unit_test(test_dropout_mask_per_step),
        cmocka_unit_test(test_stepper_matches_unrolled),
        cmocka_unit_test(test_stepper_initial_state_and_captures),
        cmocka_unit_test(test_chained_loops),
        cmocka_unit_test(test_per_step_gradient_norms),
        cmocka_unit_test(test_loop_errors),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_invariant_work_is_hoisted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
