/*
 * tests/test_tbptt.c — truncated BPTT: chunked runs with carried state give
 * the gradients of one graph whose chunks are joined by stop_gradient, and
 * with one chunk (k >= T) the gradients of full BPTT.
 */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { T = 12, B = 2, I = 3, H = 4 };

typedef struct weights {
    recur_value W, U, b;
} weights;

static weights make_weights(recur_graph *g)
{
    weights w = {tu_param(g, "W", recur_shape2(H, I)), tu_param(g, "U", recur_shape2(H, H)),
                 tu_param(g, "b", recur_shape1(H))};
    return w;
}

/* An Elman loop over xs from h0; returns sum(hs^2) and the final state. */
static recur_value elman(recur_graph *g, const weights *w, recur_value xs, recur_value h0, recur_value *final)
{
    recur_loop L = recur_loop_begin(g, NULL, 0);
    recur_value x = recur_loop_input(g, L, xs), h = recur_loop_state(g, L, "h", h0);
    recur_value nh = recur_tanh(g, recur_bias_add(g, recur_add(g, recur_matmul(g, x, w->W, 0, 1),
                                                                recur_matmul(g, h, w->U, 0, 1)), w->b));
    TU_ST(g, recur_loop_next(g, L, h, nh));
    TU_ST(g, recur_loop_end(g, L));
    *final = recur_loop_final(g, L, h);
    return recur_sum(g, recur_square(g, recur_loop_stacked(g, L, nh)));
}

/* Gradients of sum over chunks via recur_tbptt with chunks of k steps, summed. */
static void tbptt_grads(int k, const float *xs, const float *init_w, float out[3][H * H])
{
    recur_graph *g = recur_graph_new(1);
    weights w = make_weights(g);
    recur_value *p[3] = {&w.W, &w.U, &w.b};
    for (int i = 0; i < 3; i++) {
        int64_t n = recur_shape_numel(recur_value_shape(g, *p[i]));
        TU_ST(g, recur_param_set(g, *p[i], init_w + i * H * H, n));
    }
    recur_value x = recur_input(g, "x", recur_shape3(k, B, I)), h0 = recur_input(g, "h0", recur_shape2(B, H)), hT;
    recur_value loss = elman(g, &w, x, h0, &hT);
    TU_ST(g, recur_unroll(g));
    recur_value grads[3];
    TU_ST(g, recur_grad(g, loss, 3, (recur_value[]){w.W, w.U, w.b}, grads));
    recur_value outs[5] = {loss, hT, grads[0], grads[1], grads[2]};
    recur_plan *plan = recur_compile(g, 5, outs, NULL);
    assert_non_null(plan);
    recur_tbptt *tb = recur_tbptt_new(plan, 1, &h0, &hT);
    if (!tb) fail_msg("%s", recur_plan_errmsg(plan));
    memset(out, 0, sizeof(float) * 3 * H * H);
    for (int c = 0; c * k < T; c++) {
        assert_int_equal(recur_plan_feed(plan, x, xs + c * k * B * I, (int64_t)k * B * I), RECUR_OK);
        assert_int_equal(recur_tbptt_run(tb), RECUR_OK);
        for (int i = 0; i < 3; i++) {
            const float *gi = recur_plan_output(plan, grads[i]);
            for (int64_t e = 0; e < recur_shape_numel(recur_value_shape(g, *p[i])); e++) out[i][e] += gi[e];
        }
    }
    /* Errors: a value that is not an input of the plan as a carried state. */
    assert_null(recur_tbptt_new(plan, 1, &loss, &hT));
    assert_non_null(strstr(recur_plan_errmsg(plan), "tbptt"));
    recur_tbptt_free(tb);
    recur_plan_free(plan);
    recur_graph_free(g);
}

/* The same gradients from one graph: three chained loops of 4 steps, joined by stop_gradient or not. */
static void chained_grads(int stop, const float *xs, const float *init_w, float out[3][H * H])
{
    recur_graph *g = recur_graph_new(1);
    weights w = make_weights(g);
    recur_value *p[3] = {&w.W, &w.U, &w.b};
    for (int i = 0; i < 3; i++)
        TU_ST(g, recur_param_set(g, *p[i], init_w + i * H * H, recur_shape_numel(recur_value_shape(g, *p[i]))));
    recur_value xin = recur_input(g, "x", recur_shape3(T, B, I));
    recur_value h = recur_fill(g, recur_shape2(B, H), 0), loss = RECUR_NONE;
    for (int c = 0; c < 3; c++) {
        recur_value chunk = recur_slice(g, xin, 0, c * 4, 4), final;
        recur_value l = elman(g, &w, chunk, h, &final);
        loss = c ? recur_add(g, loss, l) : l;
        h = stop ? recur_stop_gradient(g, final) : final;
    }
    TU_ST(g, recur_unroll(g));
    recur_value grads[3];
    TU_ST(g, recur_grad(g, loss, 3, (recur_value[]){w.W, w.U, w.b}, grads));
    for (int i = 0; i < 3; i++) {
        float *v = tu_eval(g, grads[i], 1, (recur_feed[]){{xin, xs, T * B * I}});
        memcpy(out[i], v, sizeof(float) * (size_t)recur_shape_numel(recur_value_shape(g, *p[i])));
        free(v);
    }
    recur_graph_free(g);
}

static void test_truncated_equals_stopped_graph(void **state)
{
    (void)state;
    float xs[T * B * I], init_w[3 * H * H], a[3][H * H], b[3][H * H], full[3][H * H];
    tu_fill_uniform(xs, T * B * I, -1, 1, 1);
    tu_fill_uniform(init_w, 3 * H * H, -0.6f, 0.6f, 2);
    tbptt_grads(4, xs, init_w, a);
    chained_grads(1, xs, init_w, b);
    int64_t n[3] = {H * I, H * H, H};
    for (int i = 0; i < 3; i++) tu_assert_close(a[i], b[i], n[i], 1e-5, 1e-6);
    /* Truncation really changes the gradient of U (state crosses chunks, gradient does not). */
    chained_grads(0, xs, init_w, full);
    double diff = 0;
    for (int e = 0; e < H * H; e++) diff += fabs(full[1][e] - a[1][e]);
    assert_true(diff > 1e-3);
}

static void test_one_chunk_is_full_bptt(void **state)
{
    (void)state;
    float xs[T * B * I], init_w[3 * H * H], a[3][H * H], full[3][H * H];
    tu_fill_uniform(xs, T * B * I, -1, 1, 3);
    tu_fill_uniform(init_w, 3 * H * H, -0.6f, 0.6f, 4);
    tbptt_grads(T, xs, init_w, a);
    chained_grads(0, xs, init_w, full);
    int64_t n[3] = {H * I, H * H, H};
    for (int i = 0; i < 3; i++) tu_assert_close(a[i], full[i], n[i], 1e-5, 1e-6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_equals_stopped_graph),
        cmocka_unit_test(test_one_chunk_is_full_bptt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
