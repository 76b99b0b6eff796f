/*
 * tests/test_onnx.c — ONNX in and out.
 *
 * Import: the models of tests/data/onnx/ (written by tests/gen_onnx_ref.py)
 * imported, unrolled, compiled and run on the suite's backend match the
 * outputs of the PyTorch that exported them (or of the float64 NumPy
 * implementation of the ONNX op definitions, for the hand-written Scan and
 * GRU models, and ONNX's clip, peepholes and sequence_lens) to 1e-4;
 * parameters carry PyTorch's names; an imported model
 * differentiates (gradient check), trains on and runs step by step. Models recur cannot
 * express fail with a message naming the node, its op type and the
 * attribute, leaving the graph unchanged; every truncation and many
 * corruptions of a valid file fail cleanly or import a smaller model,
 * never crash.
 *
 * Export: built-in cells (LSTM, GRU in both forms, tanh and relu RNNs;
 * stacked, bidirectional) become ONNX LSTM/GRU/RNN nodes and custom cells
 * a Scan; exporting then importing gives the same outputs bit for bit on
 * the reference backend.
 *
 * RECUR_ONNX_OUT=<dir> makes the export tests leave their models and
 * recur's outputs in <dir> (NAME.onnx, NAME.ref), for tests/ort/check.js
 * to run in ONNX Runtime.
 */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "graph/ir.h"
#include "torch_ref.h"

/* ---------------------------------------------------------------- helpers */

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* 1 if the bytes hold the string s (an op type, say). */
static int holds(const void *bytes, size_t len, const char *s)
{
    size_t k = strlen(s);
    for (size_t i = 0; i + k <= len; i++)
        if (memcmp((const char *)bytes + i, s, k) == 0) return 1;
    return 0;
}

static torch_ref *load_ref(const char *name)
{
    char rel[128], err[256];
    snprintf(rel, sizeof rel, "onnx/%s.ref", name);
    torch_ref *r = torch_ref_load(tu_data_path(rel), err, sizeof err);
    if (!r) fail_msg("%s", err);
    return r;
}

/* The symbolic dimensions of a case ("dims=T:5,B:3" in the reference's meta line). */
static int ref_dims(const torch_ref *r, recur_onnx_dim *dims, char names[][16])
{
    const char *s = torch_ref_meta_str(r, "dims");
    int n = 0;
    while (s && *s && n < 4) {
        long v;
        if (sscanf(s, "%15[^:]:%ld", names[n], &v) != 2) break;
        dims[n].name = names[n];
        dims[n].value = v;
        n++;
        s = strchr(s, ',');
        if (s) s++;
    }
    return n;
}

/* Imports case `name` into g, failing the test on an error. */
static void import_case(recur_graph *g, const char *name, const torch_ref *r, recur_onnx_model *m)
{
    char rel[128];
    char names[4][16];
    recur_onnx_dim dims[4];
    recur_onnx_import_opts o = {.dims = dims, .n_dims = ref_dims(r, dims, names)};
    snprintf(rel, sizeof rel, "onnx/%s.onnx", name);
    recur_status st = recur_onnx_import(g, tu_data_path(rel), &o, m);
    if (st != RECUR_OK) fail_msg("import %s: %s", name, recur_errmsg(g));
}

/* Runs the imported model's outputs on the suite's backend with the reference's inputs; returns the plan. */
static recur_plan *run_model(recur_graph *g, const recur_onnx_model *m, const torch_ref *r, const char *backend)
{
    TU_ST(g, recur_unroll(g));
    recur_value outs[RECUR_ONNX_MAX_IO];
    for (int i = 0; i < m->n_outputs; i++) outs[i] = m->outputs[i].value;
    recur_compile_opts co = {.backend = backend};
    recur_plan *p = recur_compile(g, m->n_outputs, outs, &co);
    if (!p) fail_msg("compile: %s", recur_errmsg(g));
    for (int i = 0; i < m->n_inputs; i++) {
        const float *x = torch_ref_get(r, m->inputs[i].name, NULL, NULL);
        if (!x) fail_msg("the reference has no input %s", m->inputs[i].name);
        assert_int_equal(recur_plan_feed(p, m->inputs[i].value, x, torch_ref_numel(r, m->inputs[i].name)), RECUR_OK);
    }
    if (recur_plan_run(p) != RECUR_OK) fail_msg("run: %s", recur_plan_errmsg(p));
    return p;
}

/* Imports case `name`, runs it and compares every output with the reference. */
static void check_case(const char *name)
{
    torch_ref *r = load_ref(name);
    recur_graph *g = recur_graph_new(1);
    recur_onnx_model m;
    import_case(g, name, r, &m);
    recur_plan *p = run_model(g, &m, r, NULL);
    for (int i = 0; i < m.n_outputs; i++) {
        const float *want = torch_ref_get(r, m.outputs[i].name, NULL, NULL);
        if (!want) fail_msg("the reference has no output %s", m.outputs[i].name);
        int64_t n = torch_ref_numel(r, m.outputs[i].name);
        assert_int_equal(recur_shape_numel(recur_value_shape(g, m.outputs[i].value)), n);
        const float *got = recur_plan_output(p, m.outputs[i].value);
        assert_non_null(got);
        tu_assert_close(got, want, n, 1e-4, 1e-4);
    }
    recur_plan_free(p);
    recur_onnx_model_clear(&m);
    recur_graph_free(g);
    torch_ref_free(r);
}

static void expect_param(recur_graph *g, const char *name, recur_shape s)
{
    recur_value v = recur_find(g, name);
    if (!recur_ok(v) || !recur_is_param(g, v)) fail_msg("no parameter %s", name);
    assert_true(recur_shape_equal(recur_value_shape(g, v), s));
}

/* ---------------------------------------------------------------- import: PyTorch's models */

static void test_import_language_model(void **state)
{
    (void)state;
    check_case("lm_lstm");
    /* PyTorch's names: the embedding and bias by their initializers, the LSTM and the Linear after their nodes */
    torch_ref *r = load_ref("lm_lstm");
    recur_graph *g = recur_graph_new(1);
    recur_onnx_model m;
    import_case(g, "lm_lstm", r, &m);
    expect_param(g, "emb.weight", recur_shape2(11, 6));
    expect_param(g, "lstm.weight_ih_l0", recur_shape2(28, 6));
    expect_param(g, "lstm.weight_hh_l0", recur_shape2(28, 7));
    expect_param(g, "lstm.bias_ih_l0", recur_shape1(28));
    expect_param(g, "lstm.bias_hh_l0", recur_shape1(28));
    expect_param(g, "out.weight", recur_shape2(11, 7));
    expect_param(g, "out.bias", recur_shape1(11));
    assert_int_equal(recur_params(g, NULL, 0), 7);
    assert_int_equal(recur_loop_count(g), 1);
    assert_string_equal(m.inputs[0].name, "ids");
    assert_true(recur_shape_equal(recur_value_shape(g, m.inputs[0].value), recur_shape2(5, 3)));
    recur_onnx_model_clear(&m);
    recur_graph_free(g);
    torch_ref_free(r);
}

static void test_import_gru_classifier(void **state)
{
    (void)state;
    check_case("gru_classifier");
    recur_graph *g = recur_graph_new(1);
    torch_ref *r = load_ref("gru_classifier");
    recur_onnx_model m;
    import_case(g, "gru_classifier", r, &m);
    expect_param(g, "gru.weight_ih_l1", recur_shape2(15, 5));
    assert_int_equal(recur_loop_count(g), 2);
    recur_onnx_model_clear(&m);
    recur_graph_free(g);
    torch_ref_free(r);
}

static void test_import_bidirectional_tagger(void **state)
{
    (void)state;
    check_case("bilstm_tagger");
    recur_graph *g = recur_graph_new(1);
    torch_ref *r = load_ref("bilstm_tagger");
    recur_onnx_model m;
    import_case(g, "bilstm_tagger", r, &m);
    expect_param(g, "lstm.weight_hh_l0_reverse", recur_shape2(20, 5));
    assert_int_equal(recur_loop_count(g), 2);
    assert_true(recur_loop_is_reverse(g, recur_loop_at(g, 1)));
    recur_onnx_model_clear(&m);
    recur_graph_free(g);
    torch_ref_free(r);
}

static void test_import_relu_rnn_final_state(void **state)
{
    (void)state;
    check_case("rnn_relu_3layer");
}

static void test_import_lstm_with_initial_state(void **state)
{
    (void)state;
    check_case("lstm_h0c0");
}

static void test_import_scripted_loop(void **state)
{
    (void)state;
    check_case("scripted_elman");
    recur_graph *g = recur_graph_new(1);
    torch_ref *r = load_ref("scripted_elman");
    recur_onnx_model m;
    import_case(g, "scripted_elman", r, &m);
    assert_int_equal(recur_loop_count(g), 1); /* the Loop is one loop node, its list the stacked output */
    assert_string_equal(recur_value_op(g, m.outputs[0].value), "loop_output");
    recur_onnx_model_clear(&m);
    recur_graph_free(g);
    torch_ref_free(r);
}

/* ---------------------------------------------------------------- import: Scan and the GRU of Cho et al. */

static void test_import_scan(void **state)
{
    (void)state;
    check_case("scan_cell");
    check_case("scan_cell_reverse");
}

static void test_import_gru_linear_before_reset_0(void **state)
{
    (void)state;
    check_case("gru_cho");
}

/* An imported loop differentiates like any graph: the gradient of the Scan cell's outputs by its weights. */
static void test_import_differentiates(void **state)
{
    (void)state;
    torch_ref *r = load_ref("scan_cell");
    recur_graph *g = recur_graph_new(1);
    recur_onnx_model m;
    import_case(g, "scan_cell", r, &m);
    recur_value Wz = recur_find(g, "Wz"), Uh = recur_find(g, "Uh");
    assert_true(recur_is_param(g, Wz) && recur_is_param(g, Uh));
    recur_feed feeds[2];
    for (int i = 0; i < 2; i++)
        feeds[i] = (recur_feed){m.inputs[i].value, torch_ref_get(r, m.inputs[i].name, NULL, NULL),
                                torch_ref_numel(r, m.inputs[i].name)};
    TU_ST(g, recur_unroll(g));
    recur_value wrt[2] = {Wz, Uh};
    tu_gradcheck(g, m.outputs[1].value, 2, wrt, 2, feeds, 1e-2);
    recur_onnx_model_clear(&m);
    recur_graph_free(g);
    torch_ref_free(r);
}

/* An imported PyTorch model trains on in recur: Adam on its parameters lowers its cross-entropy on fixed targets. */
static void test_import_trains(void **state)
{
    (void)state;
    torch_ref *r = load_ref("lm_lstm");
    recur_graph *g = recur_graph_new(1);
    recur_onnx_model m;
    import_case(g, "lm_lstm", r, &m);
    recur_value next = recur_input(g, "next", recur_shape2(5, 3));
    recur_value loss = recur_softmax_xent(g, m.outputs[0].value, next, RECUR_NONE);
    TU_OK(g, loss);
    TU_ST(g, recur_unroll(g));
    recur_value params[16], grads[16], outs[17];
    int n = recur_params(g, params, 16);
    assert_int_equal(n, 7);
    TU_ST(g, recur_grad(g, loss, n, params, grads));
    outs[0] = loss;
    memcpy(outs + 1, grads, sizeof *grads * (size_t)n);
    recur_plan *p = recur_compile(g, n + 1, outs, NULL);
    if (!p) fail_msg("compile: %s", recur_errmsg(g));
    recur_optim_opts oo = recur_optim_defaults(RECUR_OPTIM_ADAM);
    oo.lr = 0.05;
    recur_optim *adam = recur_optim_new(g, &oo, n, params);
    assert_non_null(adam);
    float targets[15];
    for (int i = 0; i < 15; i++) targets[i] = (float)((i * 4 + 1) % 11);
    const float *ids = torch_ref_get(r, "ids", NULL, NULL);
    float first = 0, last = 0;
    for (int step = 0; step < 30; step++) {
        assert_int_equal(recur_plan_feed(p, m.inputs[0].value, ids, 15), RECUR_OK);
        assert_int_equal(recur_plan_feed(p, next, targets, 15), RECUR_OK);
        if (recur_plan_run(p) != RECUR_OK) fail_msg("run: %s", recur_plan_errmsg(p));
        last = recur_plan_output(p, loss)[0];
        if (step == 0) first = last;
        assert_int_equal(recur_optim_step_plan(adam, p, grads), RECUR_OK);
    }
    if (!(last < 0.5f * first)) fail_msg("the loss went from %g to %g in 30 steps", (double)first, (double)last);
    recur_optim_free(adam);
    recur_plan_free(p);
    recur_onnx_model_clear(&m);
    recur_graph_free(g);
    torch_ref_free(r);
}

/* An imported loop runs step by step (a stepper, as for generation): the Scan cell's states match the NumPy reference. */
static void test_import_steps(void **state)
{
    (void)state;
    torch_ref *r = load_ref("scan_cell");
    recur_graph *g = recur_graph_new(1);
    recur_onnx_model m;
    import_case(g, "scan_cell", r, &m);
    assert_int_equal(recur_loop_count(g), 1);
    const recur_loop_rec *L = &g->loops[0];
    recur_value x_t = {L->step[0]}, h = {L->state[0]}, h_next = {L->next[0]};
    int64_t dims[4];
    int nd;
    const float *x = torch_ref_get(r, "x", &nd, dims), *h0 = torch_ref_get(r, "h0", NULL, NULL);
    const float *ys = torch_ref_get(r, "ys", NULL, NULL);
    int64_t T = dims[0], step = dims[1] * dims[2], H = torch_ref_numel(r, "h0");
    recur_stepper *st = recur_stepper_new(g, recur_loop_at(g, 0), 1, &h_next, NULL);
    if (!st) fail_msg("stepper: %s", recur_errmsg(g));
    assert_int_equal(recur_stepper_set_state(st, h, h0, H), RECUR_OK);
    for (int64_t t = 0; t < T; t++) {
        assert_int_equal(recur_stepper_feed(st, x_t, x + t * step, step), RECUR_OK);
        if (recur_stepper_step(st) != RECUR_OK) fail_msg("step: %s", recur_stepper_errmsg(st));
        tu_assert_close(recur_stepper_output(st, h_next), ys + t * H, H, 1e-4, 1e-4);
    }
    recur_stepper_free(st);
    recur_onnx_model_clear(&m);
    recur_graph_free(g);
    torch_ref_free(r);
}

/* ---------------------------------------------------------------- import: what recur refuses */

static void expect_refused(const char *name, recur_status code, const char *const *parts)
{
    char rel[128];
    snprintf(rel, sizeof rel, "onnx/%s.onnx", name);
    recur_graph *g = recur_graph_new(1);
    recur_value keep = recur_input(g, "already_here", recur_shape1(2));
    int before = recur_graph_size(g);
    recur_onnx_model m;
    recur_status st = recur_onnx_import(g, tu_data_path(rel), NULL, &m);
    if (st != code) fail_msg("%s: status %d, want %d: %s", name, st, code, recur_errmsg(g));
    for (int i = 0; parts[i]; i++)
        if (!strstr(recur_errmsg(g), parts[i])) fail_msg("%s: message \"%s\" lacks \"%s\"", name, recur_errmsg(g), parts[i]);
    assert_int_equal(recur_graph_size(g), before);
    assert_int_equal(recur_loop_count(g), 0);
    assert_int_equal(recur_params(g, NULL, 0), 0);
    assert_int_equal(m.n_inputs + m.n_outputs, 0);
    assert_true(recur_ok(keep));
    recur_graph_free(g);
}

#define REFUSED(name, code, ...) expect_refused(name, code, (const char *const[]){__VA_ARGS__, NULL})

static void test_import_refuses_what_recur_cannot_express(void **state)
{
    (void)state;
    REFUSED("bad_input_forget", RECUR_ERR_UNSUPPORTED, "node \"/lstm/LSTM\" (LSTM)", "input_forget=1 is not supported");
    REFUSED("bad_activations", RECUR_ERR_UNSUPPORTED, "node \"/lstm/LSTM\" (LSTM)", "activations=[Relu, Tanh, Tanh]");
    REFUSED("bad_op", RECUR_ERR_UNSUPPORTED, "node \"cosine\" (Cos)", "op type Cos is not supported");
    REFUSED("bad_loop_cond", RECUR_ERR_UNSUPPORTED, "node \"/Loop\" (Loop)", "not a constant true");
    /* an index of 2^63 - 1 (past a double's exact integers), of a constant and of an input */
    REFUSED("bad_gather_fold", RECUR_ERR_FORMAT, "node \"fold\" (Gather)", "out of range for a dimension of 3");
    REFUSED("bad_gather_index", RECUR_ERR_FORMAT, "node \"pick\" (Gather)", "out of range for a dimension of 3");
}

/*
 * ONNX's cell options beyond PyTorch's: an LSTM with clip, peepholes and constant sequence_lens (bidirectional,
 * from h0 and c0), a reverse GRU with clip whose lengths are an input fed at run time, a batch-first (layout=1)
 * bidirectional LSTM from h0 and c0, against float64 NumPy.
 */
static void test_import_clip_peepholes_lengths(void **state)
{
    (void)state;
    check_case("lstm_options");
    check_case("gru_lengths");
    check_case("lstm_layout1");
    recur_graph *g = recur_graph_new(1);
    torch_ref *r = load_ref("lstm_options");
    recur_onnx_model m;
    import_case(g, "lstm_options", r, &m);
    expect_param(g, "lstm.weight_peephole_l0", recur_shape2(3, 4));
    expect_param(g, "lstm.weight_peephole_l0_reverse", recur_shape2(3, 4));
    recur_onnx_model_clear(&m);
    recur_graph_free(g);
    torch_ref_free(r);
}

static void test_import_malformed_files(void **state)
{
    (void)state;
    REFUSED("bad_dangling", RECUR_ERR_FORMAT, "node \"dangling\" (Tanh)", "\"nowhere\" is not defined");
    REFUSED("bad_huge", RECUR_ERR_FORMAT, "initializer \"huge\"", "more than");
    /* not a file, not a model, a missing symbolic dimension */
    recur_graph *g = recur_graph_new(1);
    recur_onnx_model m;
    assert_int_equal(recur_onnx_import(g, "/nonexistent/model.onnx", NULL, &m), RECUR_ERR_IO);
    assert_non_null(strstr(recur_errmsg(g), "/nonexistent/model.onnx"));
    assert_int_equal(recur_onnx_import_mem(g, "\xff\xff\xff", 3, NULL, &m), RECUR_ERR_FORMAT);
    assert_int_equal(recur_onnx_import_mem(g, "", 0, NULL, &m), RECUR_ERR_FORMAT);
    assert_int_equal(recur_onnx_import(g, tu_data_path("onnx/lm_lstm.onnx"), NULL, &m), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_errmsg(g), "graph input \"ids\": dimension 0 is \"T\""));
    assert_int_equal(recur_graph_size(g), 0);
    recur_graph_free(g);
}

/* Puts a length-delimited protobuf field (field number f) around b[*pos..end), writing its head before *pos. */
static void wrap(unsigned char *b, size_t *pos, size_t end, int f)
{
    unsigned char head[12];
    size_t h = 0, len = end - *pos;
    head[h++] = (unsigned char)(f << 3 | 2);
    do {
        head[h++] = (unsigned char)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
        len >>= 7;
    } while (len);
    *pos -= h;
    memcpy(b + *pos, head, h);
}

/*
 * Messages nested 40000 deep (graph -> node -> attribute -> graph ...), more than protobuf-c's recursive
 * unpacking has stack for, are refused before they are unpacked.
 */
static void test_import_deep_nesting(void **state)
{
    (void)state;
    size_t end = 1 << 21, pos = end;
    unsigned char *b = malloc(end);
    assert_non_null(b);
    for (int level = 0; level < 40000; level++) {
        wrap(b, &pos, end, 6); /* AttributeProto.g */
        wrap(b, &pos, end, 5); /* NodeProto.attribute */
        wrap(b, &pos, end, 1); /* GraphProto.node */
    }
    wrap(b, &pos, end, 7); /* ModelProto.graph */
    recur_graph *g = recur_graph_new(1);
    recur_onnx_model m;
    assert_int_equal(recur_onnx_import_mem(g, b + pos, end - pos, NULL, &m), RECUR_ERR_FORMAT);
    assert_non_null(strstr(recur_errmsg(g), "nest"));
    recur_graph_free(g);
    free(b);
}

/* Every truncation and byte corruption of a valid model fails cleanly (graph unchanged) or imports. */
static void test_import_truncated_and_corrupt(void **state)
{
    (void)state;
    size_t len;
    unsigned char *bytes = read_file(tu_data_path("onnx/bilstm_tagger.onnx"), &len);
    unsigned char *copy = malloc(len);
    assert_non_null(copy);
    recur_graph *g = recur_graph_new(1);
    int refused = 0, imported = 0;
    for (size_t cut = 0; cut < len; cut++) {
        recur_onnx_model m;
        recur_status st = recur_onnx_import_mem(g, bytes, cut, NULL, &m);
        if (st == RECUR_OK) {
            imported++;
            recur_onnx_model_clear(&m);
            recur_graph_free(g);
            g = recur_graph_new(1);
        } else {
            refused++;
            assert_int_equal(recur_graph_size(g), 0);
            assert_true(recur_errmsg(g)[0] != 0);
        }
    }
    uint64_t s = 16;
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(copy, bytes, len);
        for (int k = 0; k < 1 + trial % 4; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            copy[(s >> 33) % len] = (unsigned char)(s >> 20);
        }
        recur_onnx_model m;
        if (recur_onnx_import_mem(g, copy, len, NULL, &m) == RECUR_OK) {
            recur_onnx_model_clear(&m);
            recur_graph_free(g);
            g = recur_graph_new(1);
        } else {
            assert_int_equal(recur_graph_size(g), 0);
        }
    }
    assert_true(refused > (int)len / 2);
    (void)imported;
    recur_graph_free(g);
    free(copy);
    free(bytes);
}

/* ---------------------------------------------------------------- export and the round trip */

/* Where RECUR_ONNX_OUT asks for the exported models, for ONNX Runtime (tests/ort/check.js). */
static void save_for_ort(const char *name, const void *bytes, size_t len, int n_in, const char *const *in_names,
                         float *const *in_data, const int64_t *in_n, const recur_shape *in_shapes, int n_out,
                         const char *const *out_names, float *const *out_data, const recur_shape *out_shapes)
{
    const char *dir = getenv("RECUR_ONNX_OUT");
    if (!dir || !dir[0]) return;
    char path[512];
    snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    fclose(f);
    snprintf(path, sizeof path, "%s/%s.ref", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# recur torch reference v1: written by tests/test_onnx.c (recur's outputs)\nmeta source=recur\n");
    for (int k = 0; k < n_in + n_out; k++) {
        const recur_shape *s = k < n_in ? &in_shapes[k] : &out_shapes[k - n_in];
        const float *x = k < n_in ? in_data[k] : out_data[k - n_in];
        int64_t n = k < n_in ? in_n[k] : recur_shape_numel(*s);
        fprintf(f, "tensor %s %d", k < n_in ? in_names[k] : out_names[k - n_in], s->ndim ? s->ndim : 1);
        for (int d = 0; d < (s->ndim ? s->ndim : 1); d++) fprintf(f, " %lld", (long long)(s->ndim ? s->d[d] : 1));
        for (int64_t i = 0; i < n; i++) fprintf(f, "%s%.9g", i % 8 ? " " : "\n", (double)x[i]);
        fprintf(f, "\n");
    }
    fclose(f);
}

/* A model to export: its graph, inputs (fed with random data or ids below `vocab`) and outputs. */
typedef struct model {
    recur_graph *g;
    int n_in, n_out;
    recur_value in[4], out[4];
    int64_t vocab[4]; /* > 0: the input holds ids in [0, vocab) */
    int64_t steps[4]; /* > 0: the input holds per-sequence lengths in 1..steps */
} model;

/* Runs the model on the reference backend with deterministic inputs; returns the outputs (malloc'd). */
static void run_ref(model *md, float **in_data, float **out_data)
{
    TU_ST(md->g, recur_unroll(md->g));
    recur_compile_opts co = {.backend = "reference"};
    recur_plan *p = recur_compile(md->g, md->n_out, md->out, &co);
    if (!p) fail_msg("compile: %s", recur_errmsg(md->g));
    for (int i = 0; i < md->n_in; i++) {
        int64_t n = recur_shape_numel(recur_value_shape(md->g, md->in[i]));
        if (!in_data[i]) {
            in_data[i] = malloc(sizeof(float) * (size_t)n);
            tu_fill_uniform(in_data[i], n, -1.0f, 1.0f, 100 + (uint64_t)i);
            for (int64_t k = 0; md->vocab[i] > 0 && k < n; k++)
                in_data[i][k] = (float)((k * 7 + i * 3) % md->vocab[i]);
            for (int64_t k = 0; md->steps[i] > 0 && k < n; k++) in_data[i][k] = (float)(md->steps[i] - k % md->steps[i]);
        }
        assert_int_equal(recur_plan_feed(p, md->in[i], in_data[i], n), RECUR_OK);
    }
    if (recur_plan_run(p) != RECUR_OK) fail_msg("run: %s", recur_plan_errmsg(p));
    for (int i = 0; i < md->n_out; i++) {
        int64_t n = recur_shape_numel(recur_value_shape(md->g, md->out[i]));
        out_data[i] = malloc(sizeof(float) * (size_t)n);
        assert_int_equal(recur_plan_fetch(p, md->out[i], out_data[i], n), RECUR_OK);
    }
    recur_plan_free(p);
}

/*
 * Exports md (before unrolling), imports the bytes into a new graph, and checks that both give the same
 * outputs bit for bit on the reference backend. `must_hold` / `must_lack` are op types the file must (not) use.
 */
static void round_trip(const char *name, model *md, const char *must_hold, const char *must_lack)
{
    static const char *out_names[4] = {"out0", "out1", "out2", "out3"};
    void *bytes;
    size_t len;
    recur_onnx_export_opts eo = {.output_names = out_names};
    if (recur_onnx_export_mem(md->g, md->n_out, md->out, &eo, &bytes, &len) != RECUR_OK)
        fail_msg("export %s: %s", name, recur_errmsg(md->g));
    if (must_hold && !holds(bytes, len, must_hold)) fail_msg("%s: the file has no %s", name, must_hold);
    if (must_lack && holds(bytes, len, must_lack)) fail_msg("%s: the file has a %s", name, must_lack);
    float *in_data[4] = {0}, *want[4] = {0}, *got[4] = {0};
    const char *in_names[4];
    int64_t in_n[4];
    recur_shape in_shapes[4], out_shapes[4];
    for (int i = 0; i < md->n_in; i++) {
        in_names[i] = recur_value_name(md->g, md->in[i]);
        in_shapes[i] = recur_value_shape(md->g, md->in[i]);
        in_n[i] = recur_shape_numel(in_shapes[i]);
    }
    for (int i = 0; i < md->n_out; i++) out_shapes[i] = recur_value_shape(md->g, md->out[i]);
    run_ref(md, in_data, want);

    model back = {.g = recur_graph_new(2), .n_in = md->n_in, .n_out = md->n_out};
    recur_onnx_model m;
    if (recur_onnx_import_mem(back.g, bytes, len, NULL, &m) != RECUR_OK) fail_msg("import %s: %s", name, recur_errmsg(back.g));
    assert_int_equal(m.n_inputs, md->n_in);
    assert_int_equal(m.n_outputs, md->n_out);
    for (int i = 0; i < md->n_in; i++) {
        assert_string_equal(m.inputs[i].name, in_names[i]);
        back.in[i] = m.inputs[i].value;
    }
    for (int i = 0; i < md->n_out; i++) {
        assert_string_equal(m.outputs[i].name, out_names[i]);
        back.out[i] = m.outputs[i].value;
    }
    run_ref(&back, in_data, got);
    for (int i = 0; i < md->n_out; i++) {
        int64_t n = recur_shape_numel(out_shapes[i]);
        assert_true(recur_shape_equal(recur_value_shape(back.g, back.out[i]), out_shapes[i]));
        for (int64_t k = 0; k < n; k++)
            if (memcmp(&got[i][k], &want[i][k], sizeof(float)) != 0)
                fail_msg("%s: output %d element %lld: %.9g after the round trip, %.9g before", name, i, (long long)k,
                         (double)got[i][k], (double)want[i][k]);
    }
    save_for_ort(name, bytes, len, md->n_in, in_names, in_data, in_n, in_shapes, md->n_out, out_names, want, out_shapes);
    for (int i = 0; i < 4; i++) {
        free(in_data[i]);
        free(want[i]);
        free(got[i]);
    }
    free(bytes);
    recur_onnx_model_clear(&m);
    recur_graph_free(back.g);
    recur_graph_free(md->g);
}

/* A recurrent layer (recur_rnn_new) over x [T, B, I] with cell options, its outputs and final states the outputs. */
static model rnn_model_opts(recur_cell_kind kind, int layers, int bidirectional, int with_h0, recur_cell_opts cell,
                            int with_lengths);

static model rnn_model(recur_cell_kind kind, int layers, int bidirectional, int with_h0)
{
    return rnn_model_opts(kind, layers, bidirectional, with_h0, (recur_cell_opts){0}, 0);
}

static model rnn_model_opts(recur_cell_kind kind, int layers, int bidirectional, int with_h0, recur_cell_opts cell,
                            int with_lengths)
{
    const int64_t T = 4, B = 2, I = 3, H = 5;
    model md = {.g = recur_graph_new(7)};
    recur_value x = recur_input(md.g, "x", recur_shape3(T, B, I)), h0 = RECUR_NONE, c0 = RECUR_NONE;
    md.in[md.n_in++] = x;
    int D = bidirectional ? 2 : 1;
    if (with_h0) {
        h0 = md.in[md.n_in++] = recur_input(md.g, "h0", recur_shape3(layers * D, B, H));
        if (kind == RECUR_LSTM) c0 = md.in[md.n_in++] = recur_input(md.g, "c0", recur_shape3(layers * D, B, H));
    }
    recur_rnn rnn;
    recur_value lens = RECUR_NONE;
    if (with_lengths) {
        lens = md.in[md.n_in] = recur_input(md.g, "lengths", recur_shape1(B));
        md.steps[md.n_in++] = T;
    }
    recur_rnn_opts o = {.kind = kind, .input_size = I, .hidden = H, .layers = layers, .bidirectional = bidirectional,
                        .cell = cell, .lengths = with_lengths ? &lens : NULL};
    TU_ST(md.g, recur_rnn_new(md.g, "rnn", &o, x, h0, c0, &rnn));
    for (int k = 0; cell.peepholes && k < rnn.n_cells; k++) { /* peepholes start at zero: give them values */
        float *p = recur_param_data(md.g, rnn.cells[k].peephole);
        assert_non_null(p);
        tu_fill_uniform(p, 3 * H, -0.5f, 0.5f, 77 + (uint64_t)k);
    }
    md.out[md.n_out++] = rnn.outputs;
    md.out[md.n_out++] = rnn.h_n;
    if (kind == RECUR_LSTM) md.out[md.n_out++] = rnn.c_n;
    return md;
}

static void test_export_builtin_cells(void **state)
{
    (void)state;
    model md = rnn_model(RECUR_LSTM, 1, 0, 1);
    round_trip("lstm", &md, "LSTM", "Scan");
    md = rnn_model(RECUR_GRU, 1, 0, 1);
    round_trip("gru", &md, "GRU", "Scan");
    md = rnn_model(RECUR_GRU_CHO, 1, 0, 0);
    round_trip("gru_cho", &md, "GRU", "Scan");
    md = rnn_model(RECUR_RNN_TANH, 1, 0, 0);
    round_trip("rnn_tanh", &md, "RNN", "Scan");
    md = rnn_model(RECUR_RNN_RELU, 1, 0, 1);
    round_trip("rnn_relu", &md, "Relu", "Scan");
}

static void test_export_stacked_and_bidirectional(void **state)
{
    (void)state;
    model md = rnn_model(RECUR_LSTM, 2, 0, 0);
    round_trip("lstm_stacked", &md, "LSTM", "Scan");
    md = rnn_model(RECUR_GRU, 2, 1, 1);
    round_trip("gru_bidirectional_stacked", &md, "GRU", "Scan");
    md = rnn_model(RECUR_LSTM, 1, 1, 0);
    round_trip("lstm_bidirectional", &md, "LSTM", "Scan");
}

/* Cells with ONNX's options: clip, peepholes and lengths become the LSTM/GRU/RNN node's clip, P and sequence_lens. */
static void test_export_cell_options(void **state)
{
    (void)state;
    model md = rnn_model_opts(RECUR_LSTM, 1, 1, 1, (recur_cell_opts){.clip = 0.5f, .peepholes = 1}, 0);
    round_trip("lstm_clip_peepholes", &md, "LSTM", "Scan");
    md = rnn_model_opts(RECUR_GRU, 2, 0, 0, (recur_cell_opts){.clip = 0.7f}, 0);
    round_trip("gru_clip", &md, "GRU", "Scan");
    md = rnn_model_opts(RECUR_RNN_TANH, 1, 0, 0, (recur_cell_opts){.clip = 0.3f}, 0);
    round_trip("rnn_clip", &md, "RNN", "Scan");
    /* per-sequence lengths: ONNX's sequence_lens (a Cast of the lengths to int32) */
    md = rnn_model_opts(RECUR_LSTM, 2, 1, 1, (recur_cell_opts){0}, 1);
    round_trip("lstm_lengths", &md, "sequence_lens", "Scan");
    md = rnn_model_opts(RECUR_GRU, 1, 0, 0, (recur_cell_opts){.clip = 0.6f}, 1);
    round_trip("gru_lengths", &md, "sequence_lens", "Scan");
}

/* A custom cell (a minimal gated unit written from primitive ops) exports as a Scan. */
static recur_status mgu_step(recur_graph *g, const recur_cell *c, recur_value x, const recur_value *state,
                             recur_value *next, recur_value *out)
{
    const recur_value *p = c->param;
    recur_value f = recur_sigmoid(g, recur_add(g, recur_matmul(g, x, p[0], 0, 1), recur_matmul(g, state[0], p[1], 0, 1)));
    recur_value n = recur_tanh(g, recur_add(g, recur_matmul(g, x, p[2], 0, 1),
                                            recur_mul(g, f, recur_matmul(g, state[0], p[3], 0, 0))));
    next[0] = recur_add(g, recur_mul(g, recur_one_minus(g, f), state[0]), recur_scale(g, recur_mul(g, f, n), 0.5f));
    *out = next[0];
    return recur_ok(next[0]) ? RECUR_OK : recur_errcode(g);
}

static model custom_model(int reverse)
{
    const int64_t T = 5, B = 2, I = 3, H = 4;
    model md = {.g = recur_graph_new(9)};
    recur_value x = recur_input(md.g, "x", recur_shape3(T, B, I));
    md.in[md.n_in++] = x;
    recur_cell c = {.name = "mgu", .n_state = 1, .state_size = {H}, .input_size = I, .output_size = H, .step = mgu_step};
    c.param[0] = tu_param(md.g, "mgu.Wf", recur_shape2(H, I));
    c.param[1] = tu_param(md.g, "mgu.Uf", recur_shape2(H, H));
    c.param[2] = tu_param(md.g, "mgu.Wn", recur_shape2(H, I));
    c.param[3] = tu_param(md.g, "mgu.Un", recur_shape2(H, H));
    recur_seq_result r;
    TU_ST(md.g, recur_cell_over(md.g, &c, "mgu", x, NULL, reverse, &r));
    md.out[md.n_out++] = recur_log_softmax(md.g, recur_dense(md.g, "head", r.outputs, 3, 1));
    md.out[md.n_out++] = r.final[0];
    return md;
}

static void test_export_custom_cell_as_scan(void **state)
{
    (void)state;
    model md = custom_model(0);
    round_trip("custom_cell", &md, "Scan", "LSTM");
    md = custom_model(1);
    round_trip("custom_cell_reverse", &md, "Scan", NULL);

    /* a custom cell's loop with per-sequence lengths has no ONNX form (a Scan runs every step): refused by name */
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape3(4, 2, 3)), lens = recur_input(g, "lens", recur_shape1(2));
    recur_cell c = {.name = "mgu", .n_state = 1, .state_size = {4}, .input_size = 3, .output_size = 4, .step = mgu_step};
    c.param[0] = tu_param(g, "mgu.Wf", recur_shape2(4, 3));
    c.param[1] = tu_param(g, "mgu.Uf", recur_shape2(4, 4));
    c.param[2] = tu_param(g, "mgu.Wn", recur_shape2(4, 3));
    c.param[3] = tu_param(g, "mgu.Un", recur_shape2(4, 4));
    recur_seq_result r;
    TU_ST(g, recur_cell_over_lengths(g, &c, "mgu", x, lens, NULL, 0, &r));
    void *bytes = NULL;
    size_t len = 0;
    assert_int_equal(recur_onnx_export_mem(g, 1, &r.outputs, NULL, &bytes, &len), RECUR_ERR_UNSUPPORTED);
    assert_non_null(strstr(recur_errmsg(g), "per-sequence lengths"));
    assert_null(bytes);
    recur_graph_free(g);
}

/* A character model as `recur train` builds it: one-hot or embedding, a 2-layer LSTM, a dense head, softmax. */
static void test_export_char_models(void **state)
{
    (void)state;
    for (int embed = 0; embed < 2; embed++) {
        const int64_t T = 6, B = 2, V = 9, H = 8;
        model md = {.g = recur_graph_new(3)};
        recur_value ids = recur_input(md.g, "ids", recur_shape2(T, B));
        md.in[md.n_in] = ids;
        md.vocab[md.n_in++] = V;
        recur_value x = embed ? recur_embedding(md.g, "emb", ids, V, 5) : recur_one_hot(md.g, ids, V);
        recur_rnn rnn;
        recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = embed ? 5 : V, .hidden = H, .layers = 2};
        TU_ST(md.g, recur_rnn_new(md.g, "lstm", &o, x, RECUR_NONE, RECUR_NONE, &rnn));
        md.out[md.n_out++] = recur_softmax(md.g, recur_dense(md.g, "out", rnn.outputs, V, 1));
        md.out[md.n_out++] = rnn.h_n;
        round_trip(embed ? "char_embedding" : "char_one_hot", &md, "LSTM", "Scan");
    }
}

/*
 * Products of a one-hot after recur_unroll are lookups (passes/one_hot.c):
 * of W's columns for one_hot W^T (exported as a Transpose and a Gather),
 * and of W + b's rows for one_hot W + b over as many positions as rows.
 */
static void test_export_one_hot_lookups(void **state)
{
    (void)state;
    const int64_t T = 3, B = 2, V = 5;
    model md = {.g = recur_graph_new(4)};
    recur_value ids = recur_input(md.g, "ids", recur_shape2(T, B));
    md.in[md.n_in] = ids;
    md.vocab[md.n_in++] = V;
    recur_value W = tu_param(md.g, "W", recur_shape2(4, V)), W2 = tu_param(md.g, "W2", recur_shape2(V, 3));
    recur_value b2 = tu_param(md.g, "b2", recur_shape1(3));
    md.out[md.n_out++] = recur_matmul(md.g, recur_one_hot(md.g, ids, V), W, 0, 1);
    md.out[md.n_out++] = recur_add(md.g, recur_matmul(md.g, recur_one_hot(md.g, ids, V), W2, 0, 0), b2);
    recur_set_passes(md.g, RECUR_PASS_ALL);
    TU_ST(md.g, recur_unroll(md.g));
    assert_string_equal(recur_value_op(md.g, md.out[0]), "gather");
    assert_string_equal(recur_value_op(md.g, md.out[1]), "gather");
    round_trip("one_hot_lookups", &md, "Gather", "MatMul");
}

/* Export refuses what has no ONNX form, naming the node and op. */
static void test_export_refusals(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", recur_shape2(2, 3)), t = recur_input(g, "t", recur_shape1(2));
    recur_value loss = recur_softmax_xent(g, a, t, RECUR_NONE);
    void *bytes = NULL;
    size_t len = 0;
    assert_int_equal(recur_onnx_export_mem(g, 1, &loss, NULL, &bytes, &len), RECUR_ERR_UNSUPPORTED);
    assert_non_null(strstr(recur_errmsg(g), "softmax_xent"));
    assert_null(bytes);
    assert_int_equal(recur_onnx_export_mem(g, 0, &loss, NULL, &bytes, &len), RECUR_ERR_ARG);
    const char *same[2] = {"y", "y"};
    recur_value two[2] = {a, a};
    recur_onnx_export_opts eo = {.output_names = same};
    assert_int_equal(recur_onnx_export_mem(g, 2, two, &eo, &bytes, &len), RECUR_ERR_ARG);
    assert_int_equal(recur_onnx_export(g, 1, &a, NULL, "/nonexistent/dir/m.onnx"), RECUR_ERR_IO);
    recur_graph_free(g);
}

/* ---------------------------------------------------------------- the recur tool */

/* Runs the recur tool (RECUR_CLI) with `args` in directory dir, its output in dir/out.txt; returns its exit code. */
static int run_cli(const char *dir, const char *args)
{
    const char *cli = getenv("RECUR_CLI");
    if (!cli) fail_msg("RECUR_CLI is not set (meson test sets it)");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s >out.txt 2>&1", dir, cli, args);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int out_holds(const char *dir, const char *s)
{
    char path[512];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    size_t len;
    unsigned char *b = read_file(path, &len);
    int yes = holds(b, len, s);
    if (!yes) fprintf(stderr, "recur printed: %.*s\n", (int)len, (const char *)b);
    free(b);
    return yes;
}

/*
 * recur import / export / draw: a PyTorch model imported to a checkpoint under PyTorch's names, a refusal naming
 * the attribute (exit 1), an ONNX model drawn unrolled, and a trained character model exported, imported back
 * with the same parameters bit for bit and the same generated text.
 */
static void test_cli_import_export_draw(void **state)
{
    (void)state;
    char dir[] = "/tmp/recur_test_onnx_XXXXXX", cmd[1024];
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "import '%s' -o lm.ckpt --dims T=5,B=3", tu_data_path("onnx/lm_lstm.onnx"));
    assert_int_equal(run_cli(dir, cmd), 0);
    assert_true(out_holds(dir, "loop   lstm.l0"));
    char path[512];
    snprintf(path, sizeof path, "%s/lm.ckpt", dir);
    recur_ckpt *ck = NULL;
    assert_int_equal(recur_ckpt_load(path, &ck), RECUR_OK);
    assert_true(recur_ckpt_find(ck, "lstm.weight_ih_l0") >= 0 && recur_ckpt_find(ck, "out.weight") >= 0);
    recur_ckpt_free(ck);

    snprintf(cmd, sizeof cmd, "import '%s' -o bad.ckpt", tu_data_path("onnx/bad_input_forget.onnx"));
    assert_int_equal(run_cli(dir, cmd), 1);
    assert_true(out_holds(dir, "node \"/lstm/LSTM\" (LSTM): input_forget=1 is not supported"));
    assert_int_equal(run_cli(dir, "import lm.onnx"), 2); /* no -o */

    snprintf(cmd, sizeof cmd, "draw '%s' -o tagger.dot --view unrolled", tu_data_path("onnx/bilstm_tagger.onnx"));
    assert_int_equal(run_cli(dir, cmd), 0);
    snprintf(path, sizeof path, "%s/tagger.dot", dir);
    size_t len;
    unsigned char *dot = read_file(path, &len);
    assert_true(holds(dot, len, "lstm.l0_reverse"));
    free(dot);

    /* a model of `recur train`, out to ONNX and back */
    snprintf(path, sizeof path, "%s/text.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 300; i++) fputs(i % 3 ? "the cat sat on the mat. " : "a dog ran. ", f);
    fclose(f);
    assert_int_equal(run_cli(dir, "train text.txt -o char.ckpt --no-best --hidden 8 --layers 2 --steps 3 --window 8 "
                                  "--batch 4"), 0);
    assert_int_equal(run_cli(dir, "export char.ckpt -o char.onnx --steps 4 --batch 2"), 0);
    assert_int_equal(run_cli(dir, "import char.onnx -o back.ckpt"), 0);
    assert_true(out_holds(dir, "a character model"));
    recur_ckpt *a = NULL, *b = NULL;
    snprintf(path, sizeof path, "%s/char.ckpt", dir);
    assert_int_equal(recur_ckpt_load(path, &a), RECUR_OK);
    snprintf(path, sizeof path, "%s/back.ckpt", dir);
    assert_int_equal(recur_ckpt_load(path, &b), RECUR_OK);
    int params = 0;
    for (int i = 0; i < recur_ckpt_count(b); i++) {
        recur_ckpt_tensor t = recur_ckpt_at(b, i);
        int j = recur_ckpt_find(a, t.name);
        if (j < 0) fail_msg("%s is not in the trained checkpoint", t.name);
        recur_ckpt_tensor u = recur_ckpt_at(a, j);
        assert_true(recur_shape_equal(t.shape, u.shape));
        assert_memory_equal(t.data, u.data, sizeof(float) * (size_t)recur_shape_numel(t.shape));
        params++;
    }
    assert_int_equal(params, 10); /* 2 layers x 4, out.weight, out.bias */
    recur_ckpt_free(a);
    recur_ckpt_free(b);
    assert_int_equal(run_cli(dir, "generate char.ckpt -n 30 -p the -t 1 -s 5 >a.txt"), 0);
    assert_int_equal(run_cli(dir, "generate back.ckpt -n 30 -p the -t 1 -s 5 >b.txt"), 0);
    snprintf(cmd, sizeof cmd, "cmp -s '%s/a.txt' '%s/b.txt'", dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_language_model),
        cmocka_unit_test(test_import_gru_classifier),
        cmocka_unit_test(test_import_bidirectional_tagger),
        cmocka_unit_test(test_import_relu_rnn_final_state),
        cmocka_unit_test(test_import_lstm_with_initial_state),
        cmocka_unit_test(test_import_scripted_loop),
        cmocka_unit_test(test_import_scan),
        cmocka_unit_test(test_import_gru_linear_before_reset_0),
        cmocka_unit_test(test_import_differentiates),
        cmocka_unit_test(test_import_steps),
        cmocka_unit_test(test_import_trains),
        cmocka_unit_test(test_import_refuses_what_recur_cannot_express),
        cmocka_unit_test(test_import_clip_peepholes_lengths),
        cmocka_unit_test(test_import_malformed_files),
        cmocka_unit_test(test_import_truncated_and_corrupt),
        cmocka_unit_test(test_import_deep_nesting),
        cmocka_unit_test(test_export_builtin_cells),
        cmocka_unit_test(test_export_stacked_and_bidirectional),
        cmocka_unit_test(test_export_cell_options),
        cmocka_unit_test(test_export_custom_cell_as_scan),
        cmocka_unit_test(test_export_char_models),
        cmocka_unit_test(test_export_one_hot_lookups),
        cmocka_unit_test(test_export_refusals),
        cmocka_unit_test(test_cli_import_export_draw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
