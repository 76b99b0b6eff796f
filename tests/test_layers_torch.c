/*
 * tests/test_layers_torch.c — recur's RNN, LSTM and GRU layers (1 and 2
 * layers, one and two directions) against PyTorch's nn.RNN / nn.LSTM /
 * nn.GRU: outputs, final states and the gradients of a scalar loss with
 * respect to the input, the initial states and every weight, for the same
 * weights. The reference values were computed by tests/gen_torch_ref.py in
 * float64 and are committed in tests/data/torch/. With per-sequence lengths
 * (1 to 3 layers, unsorted lengths including 1 and T, random padding)
 * against pack_padded_sequence through the same modules: the values of
 * tests/gen_torch_packed.py in tests/data/torch_packed/, and outputs and
 * input gradients exactly zero past each sequence's end. ONNX's cell
 * options (clip, LSTM peepholes), which PyTorch's modules lack, against the
 * cells written out in float64 by tests/gen_cell_options.py.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torch_ref.h"

/* Agreement: 1e-5 relative, or 1e-5 absolute for values near zero (float32 against float64). */
#define RTOL 1e-5
#define ATOL 1e-5

static const char *cases[] = {
    "rnn_tanh_l1_uni", "rnn_tanh_l1_bi", "rnn_tanh_l2_uni", "rnn_tanh_l2_bi",
    "rnn_relu_l1_uni", "rnn_relu_l1_bi", "rnn_relu_l2_uni", "rnn_relu_l2_bi",
    "lstm_l1_uni",     "lstm_l1_bi",     "lstm_l2_uni",     "lstm_l2_bi",
    "gru_l1_uni",      "gru_l1_bi",      "gru_l2_uni",      "gru_l2_bi",
};

typedef struct compared {
    double worst_rel; /* over values with |reference| >= 1e-3 */
    double worst_abs;
    char worst[96];
} compared;

/* Compares n values of recur with the reference tensor `name`; fails the test beyond tolerance. */
static void compare(const torch_ref *ref, const char *name, const float *got, int64_t n, compared *c, const char *cs)
{
    int nd;
    int64_t dims[4];
    const double *want = torch_ref_get_double(ref, name, &nd, dims);
    if (!want) fail_msg("%s: reference has no tensor %s", cs, name);
    assert_int_equal(torch_ref_numel(ref, name), n);
    for (int64_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        double rel = err / fmax(fabs(want[i]), 1e-30);
        if (err > c->worst_abs) c->worst_abs = err;
        if (fabs(want[i]) >= 1e-3 && rel > c->worst_rel) {
            c->worst_rel = rel;
            snprintf(c->worst, sizeof c->worst, "%s[%lld]", name, (long long)i);
        }
        if (!(err <= RTOL * fabs(want[i]) || err <= ATOL))
            fail_msg("%s: %s[%lld] = %.9g, PyTorch %.9g (abs err %.3g, rel %.3g)", cs, name, (long long)i,
                     (double)got[i], want[i], err, rel);
    }
}

static recur_value ref_constant(recur_graph *g, const torch_ref *ref, const char *name)
{
    int nd;
    int64_t d[4];
    const float *v = torch_ref_get(ref, name, &nd, d);
    if (!v) return RECUR_NONE;
    recur_shape s = {nd, {d[0], d[1], d[2], d[3]}};
    return recur_constant(g, name, s, v);
}

static const char *packed_cases[] = {
    "rnn_tanh_l1_uni", "rnn_tanh_l1_bi", "rnn_tanh_l2_uni", "rnn_tanh_l2_bi", "rnn_tanh_l3_uni", "rnn_tanh_l3_bi",
    "lstm_l1_uni",     "lstm_l1_bi",     "lstm_l2_uni",     "lstm_l2_bi",     "lstm_l3_uni",     "lstm_l3_bi",
    "gru_l1_uni",      "gru_l1_bi",      "gru_l2_uni",      "gru_l2_bi",      "gru_l3_uni",      "gru_l3_bi",
};

static const char *option_cases[] = {
    "lstm_l1_uni_clip", "lstm_l1_uni_peephole", "lstm_l2_bi_peephole", "lstm_l1_bi_clip_peephole",
    "gru_l1_uni_clip",  "gru_l2_bi_clip",       "rnn_tanh_l1_uni_clip",
};

/* Every value of sequence b past its length in a [T, B, F] tensor is exactly zero. */
static void check_zero_past(const char *cs, const char *what, const float *v, const float *lengths, int T, int B, int F)
{
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            for (int f = 0; f < F && t >= (int)lengths[b]; f++)
                if (v[((size_t)t * B + b) * F + f] != 0.0f)
                    fail_msg("%s: %s[t=%d, b=%d, %d] = %g past the length %g", cs, what, t, b, f,
                             (double)v[((size_t)t * B + b) * F + f], (double)lengths[b]);
}

static void run_case(const char *dir, const char *cs, const char *backend)
{
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/%s.ref", dir, cs);
    torch_ref *ref = torch_ref_load(tu_data_path(path), err, sizeof err);
    if (!ref) fail_msg("%s", err);
    const char *cell = torch_ref_meta_str(ref, "cell");
    int L = torch_ref_meta_int(ref, "layers", 0), bi = torch_ref_meta_int(ref, "bidirectional", 0);
    int T = torch_ref_meta_int(ref, "T", 0), B = torch_ref_meta_int(ref, "B", 0);
    int I = torch_ref_meta_int(ref, "I", 0), H = torch_ref_meta_int(ref, "H", 0);
    int D = bi ? 2 : 1;
    recur_cell_kind kind = strcmp(cell, "lstm") == 0   ? RECUR_LSTM
                         : strcmp(cell, "gru") == 0    ? RECUR_GRU
                         : strcmp(cell, "rnn_relu") == 0 ? RECUR_RNN_RELU
                                                        : RECUR_RNN_TANH;
    int lstm = kind == RECUR_LSTM;

    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape3(T, B, I));
    recur_value h0 = recur_input(g, "h0", recur_shape3(L * D, B, H));
    recur_value c0 = lstm ? recur_input(g, "c0", recur_shape3(L * D, B, H)) : RECUR_NONE;
    const float *lengths = torch_ref_get(ref, "lengths", NULL, NULL);
    recur_value len = lengths ? recur_input(g, "lengths", recur_shape1(B)) : RECUR_NONE;
    const char *clip = torch_ref_meta_str(ref, "clip");
    int peepholes = torch_ref_meta_int(ref, "peepholes", 0);
    recur_rnn_opts o = {.kind = kind, .input_size = I, .hidden = H, .layers = L, .bidirectional = bi,
                        .lengths = lengths ? &len : NULL,
                        .cell = {.clip = clip ? (float)atof(clip) : 0.0f, .peepholes = peepholes}};
    recur_rnn rnn;
    TU_ST(g, recur_rnn_new(g, "m", &o, x, h0, c0, &rnn));

    /* Copy PyTorch's weights in by name: "m.weight_ih_l0" <- "weight_ih_l0". */
    recur_value params[64];
    int np = recur_params(g, params, 64);
    assert_int_equal(np, (4 + peepholes) * L * D);
    for (int p = 0; p < np; p++) {
        const char *name = recur_value_name(g, params[p]) + 2;
        int nd;
        int64_t d[4];
        const float *v = torch_ref_get(ref, name, &nd, d);
        if (!v) fail_msg("%s: no reference weight %s", cs, name);
        TU_ST(g, recur_param_set(g, params[p], v, torch_ref_numel(ref, name)));
    }
    /* L = sum(y Wy) + sum(h_n Wh) (+ sum(c_n Wc)), as the script computed it. */
    recur_value loss = recur_add(g, recur_sum(g, recur_mul(g, rnn.outputs, ref_constant(g, ref, "Wy"))),
                                 recur_sum(g, recur_mul(g, rnn.h_n, ref_constant(g, ref, "Wh"))));
    if (lstm) loss = recur_add(g, loss, recur_sum(g, recur_mul(g, rnn.c_n, ref_constant(g, ref, "Wc"))));
    TU_OK(g, loss);
    TU_ST(g, recur_unroll(g));
    recur_value wrt[70], grads[70];
    int nw = 0;
    wrt[nw++] = x;
    wrt[nw++] = h0;
    if (lstm) wrt[nw++] = c0;
    for (int p = 0; p < np; p++) wrt[nw++] = params[p];
    TU_ST(g, recur_grad(g, loss, nw, wrt, grads));

    recur_value outs[80];
    int no = 0;
    outs[no++] = loss;
    outs[no++] = rnn.outputs;
    outs[no++] = rnn.h_n;
    if (lstm) outs[no++] = rnn.c_n;
    for (int i = 0; i < nw; i++) outs[no++] = grads[i];
    recur_compile_opts copts = {.backend = backend};
    recur_plan *plan = recur_compile(g, no, outs, &copts);
    if (!plan) fail_msg("%s: %s", cs, recur_errmsg(g));
    int nd;
    int64_t d[4];
    assert_int_equal(recur_plan_feed(plan, x, torch_ref_get(ref, "x", &nd, d), T * B * I), RECUR_OK);
    assert_int_equal(recur_plan_feed(plan, h0, torch_ref_get(ref, "h0", &nd, d), L * D * B * H), RECUR_OK);
    if (lstm) assert_int_equal(recur_plan_feed(plan, c0, torch_ref_get(ref, "c0", &nd, d), L * D * B * H), RECUR_OK);
    if (lengths) assert_int_equal(recur_plan_feed(plan, len, lengths, B), RECUR_OK);
    if (recur_plan_run(plan) != RECUR_OK) fail_msg("%s: %s", cs, recur_plan_errmsg(plan));

    compared c = {0, 0, ""};
    compare(ref, "loss", recur_plan_output(plan, loss), 1, &c, cs);
    compare(ref, "y", recur_plan_output(plan, rnn.outputs), (int64_t)T * B * D * H, &c, cs);
    compare(ref, "h_n", recur_plan_output(plan, rnn.h_n), (int64_t)L * D * B * H, &c, cs);
    if (lstm) compare(ref, "c_n", recur_plan_output(plan, rnn.c_n), (int64_t)L * D * B * H, &c, cs);
    for (int i = 0; i < nw; i++) {
        char gname[96];
        const char *wname = i == 0 ? "x" : i == 1 ? "h0" : (lstm && i == 2) ? "c0" : recur_value_name(g, wrt[i]) + 2;
        snprintf(gname, sizeof gname, "grad_%s", wname);
        compare(ref, gname, recur_plan_output(plan, grads[i]), recur_shape_numel(recur_value_shape(g, wrt[i])), &c,
                cs);
    }
    if (lengths) {
        check_zero_past(cs, "y", recur_plan_output(plan, rnn.outputs), lengths, T, B, D * H);
        check_zero_past(cs, "grad_x", recur_plan_output(plan, grads[0]), lengths, T, B, I);
    }
    print_message("%-16s %-9s agrees with the reference: worst relative error %.2g (%s), worst absolute %.2g\n", cs,
                  backend ? backend : "reference", c.worst_rel, c.worst[0] ? c.worst : "-", c.worst_abs);
    recur_plan_free(plan);
    recur_graph_free(g);
    torch_ref_free(ref);
}

static void test_reference_backend(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case("torch", cases[i], NULL);
}

static void test_cell_options(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof option_cases / sizeof option_cases[0]; i++) run_case("cell_options", option_cases[i], NULL);
}

static void test_packed_sequences(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof packed_cases / sizeof packed_cases[0]; i++) run_case("torch_packed", packed_cases[i], NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_backend),
        cmocka_unit_test(test_packed_sequences),
        cmocka_unit_test(test_cell_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
