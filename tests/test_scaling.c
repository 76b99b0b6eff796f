/*
 * tests/test_scaling.c — the cost of unrolling, differentiating and
 * compiling grows linearly with the sequence length T.
 *
 * The passes and the compiler count their basic steps on the graph
 * (recur_graph.work: loop iterations over nodes, steps, buffers, chains);
 * the count is deterministic, so unlike a clock it can be asserted. For a
 * layer over T = 500 and T = 2000, the 4x longer sequence may cost at most
 * 5x the work: a pass that became quadratic (a scan of every earlier step
 * for each step) would cost 16x. Wall-clock figures are in bench/ (the
 * T-scaling table of bench/scaling.c).
 */
#include "test_util.h"
#include "hand_cells.h"

#include "graph/ir.h"

enum { B = 2, I = 3, H = 4 };

/* Work of building a training plan for one layer over T steps: unroll, grad of every weight, compile. */
static uint64_t training_work(int64_t T, int hand)
{
    recur_graph *g = recur_graph_new(1);
    recur_value xs = recur_input(g, "xs", recur_shape3(T, B, I)), out;
    hand_weights w;
    if (hand) { /* a hand-written LSTM: matmul fusion, gradient batching of per-gate slices */
        for (int k = 0; k < 4; k++) {
            char name[16];
            snprintf(name, sizeof name, "W%d", k);
            w.W[k] = tu_param(g, name, recur_shape2(H, I));
            snprintf(name, sizeof name, "U%d", k);
            w.U[k] = tu_param(g, name, recur_shape2(H, H));
            snprintf(name, sizeof name, "b%d", k);
            w.b[k] = tu_param(g, name, recur_shape1(H));
        }
        recur_cell c = {.name = "hand_lstm", .n_state = 2, .state_size = {H, H}, .input_size = I, .output_size = H,
                        .step = hand_lstm_step, .user = &w};
        recur_seq_result r;
        TU_ST(g, recur_cell_over(g, &c, "lstm", xs, NULL, 0, &r));
        out = r.outputs;
    } else {
        recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = I, .hidden = H};
        recur_rnn r;
        TU_ST(g, recur_rnn_new(g, "lstm", &o, xs, RECUR_NONE, RECUR_NONE, &r));
        out = r.outputs;
    }
    recur_value loss = recur_sum(g, recur_square(g, out));
    TU_OK(g, loss);
    uint64_t before = g->work;
    TU_ST(g, recur_unroll(g));
    recur_value params[16], grads[16];
    int n = recur_params(g, params, 16);
    TU_ST(g, recur_grad(g, loss, n, params, grads));
    recur_value outs[17] = {loss};
    for (int i = 0; i < n; i++) outs[i + 1] = grads[i];
    recur_plan *p = recur_compile(g, n + 1, outs, &(recur_compile_opts){.backend = "reference"});
    TU_OK(g, p ? loss : RECUR_NONE);
    uint64_t work = g->work - before;
    recur_plan_free(p);
    recur_graph_free(g);
    return work;
}

static void check_linear(int hand)
{
    uint64_t short_work = training_work(500, hand), long_work = training_work(2000, hand);
    print_message("%s: work %llu at T = 500, %llu at T = 2000 (%.2fx for 4x the steps)\n",
                  hand ? "hand-written lstm" : "lstm", (unsigned long long)short_work, (unsigned long long)long_work,
                  (double)long_work / (double)short_work);
    assert_true(short_work > 500);             /* the passes do count */
    assert_true(long_work <= 5 * short_work); /* linear (4x), with room for log factors */
}

static void test_builtin_lstm_linear(void **state)
{
    (void)state;
    check_linear(0);
}

static void test_hand_written_lstm_linear(void **state)
{
    (void)state;
    check_linear(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_lstm_linear),
        cmocka_unit_test(test_hand_written_lstm_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
