/*
 * tests/test_seq2seq.c — attention (dot and additive) and encoder-decoder
 * models: hand-computed attention, finite-difference checks of the
 * attention and seq2seq graphs, the encoder's padding hold, agreement of
 * step-by-step decoding with the unrolled graph, and learning to reverse.
 */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_dot_attention_by_hand(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    /* S = 2, B = 1, H = 2: m0 = (1, 0), m1 = (0, 1); q = (2, 0). */
    recur_value mem = recur_constant(g, "mem", recur_shape3(2, 1, 2), (const float[]){1, 0, 0, 1});
    recur_value q = recur_constant(g, "q", recur_shape2(1, 2), (const float[]){2, 0});
    recur_value mask = recur_constant(g, "mask", recur_shape2(2, 1), (const float[]){1, 0});
    recur_attention a, am;
    TU_ST(g, recur_attention_new(g, "att", RECUR_ATTN_DOT, mem, RECUR_NONE, 2, 0, &a));
    TU_ST(g, recur_attention_new(g, "attm", RECUR_ATTN_DOT, mem, mask, 2, 0, &am));
    recur_value ctx, w, ctxm, wm;
    TU_ST(g, recur_attend(g, &a, q, &ctx, &w));
    TU_ST(g, recur_attend(g, &am, q, &ctxm, &wm));
    float e2 = expf(2), w0 = e2 / (e2 + 1), w1 = 1 / (e2 + 1);
    float *v = tu_eval(g, w, 0, NULL);
    tu_assert_close(v, (const float[]){w0, w1}, 2, 1e-6, 1e-7);
    free(v);
    v = tu_eval(g, ctx, 0, NULL);
    tu_assert_close(v, (const float[]){w0, w1}, 2, 1e-6, 1e-7);
    free(v);
    v = tu_eval(g, wm, 0, NULL); /* the padded position gets no weight */
    tu_assert_close(v, (const float[]){1, 0}, 2, 0, 1e-7);
    free(v);
    /* Dot attention needs matching sizes. */
    assert_int_equal(recur_attention_new(g, "bad", RECUR_ATTN_DOT, mem, RECUR_NONE, 3, 0, &a), RECUR_ERR_SHAPE);
    assert_non_null(strstr(recur_errmsg(g), "size 2"));
    recur_graph_free(g);
}

static void test_attention_gradients(void **state)
{
    (void)state;
    for (int kind = RECUR_ATTN_DOT; kind <= RECUR_ATTN_ADDITIVE; kind++) {
        recur_graph *g = recur_graph_new(10 + (uint64_t)kind);
        recur_value mem = tu_param(g, "mem", recur_shape3(4, 2, 3));
        recur_value q = tu_param(g, "q", recur_shape2(2, 3));
        recur_value mask = recur_constant(g, "mask", recur_shape2(4, 2), (const float[]){1, 1, 1, 1, 1, 0, 0, 0});
        recur_attention a;
        TU_ST(g, recur_attention_new(g, "att", (recur_attn_kind)kind, mem, mask, 3, 5, &a));
        recur_value ctx, w;
        TU_ST(g, recur_attend(g, &a, q, &ctx, &w));
        recur_value wrt[4] = {mem, q, a.Wq, a.v};
        int n = kind == RECUR_ATTN_ADDITIVE ? 4 : 2;
        tu_gradcheck(g, ctx, n, wrt, 0, NULL, 1e-2);
        tu_gradcheck(g, w, n, wrt, 0, NULL, 1e-2);
        recur_graph_free(g);
    }
}

enum { V = 8, PAD = 0, START = 1, END = 2 };

static recur_seq2seq_opts opts_for(recur_cell_kind kind, recur_attn_kind att, int64_t hidden)
{
    return (recur_seq2seq_opts){.kind = kind, .src_vocab = V, .tgt_vocab = V, .embed = 8, .hidden = hidden,
                                .attention = att, .attn_size = 6, .start_id = START, .end_id = END};
}

/* The whole teacher-forced graph (encoder, decoder, attention, masked loss) against finite differences. */
static void test_seq2seq_gradients(void **state)
{
    (void)state;
    struct {
        recur_cell_kind kind;
        recur_attn_kind att;
    } cases[] = {{RECUR_LSTM, RECUR_ATTN_DOT}, {RECUR_GRU, RECUR_ATTN_ADDITIVE}, {RECUR_RNN_TANH, RECUR_ATTN_NONE}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        recur_graph *g = recur_graph_new(20 + c);
        recur_seq2seq m;
        recur_seq2seq_opts o = opts_for(cases[c].kind, cases[c].att, 5);
        TU_ST(g, recur_seq2seq_new(g, "s2s", &o, &m));
        TU_ST(g, recur_seq2seq_train_graph(g, &m, 3, 3, 2));
        TU_ST(g, recur_unroll(g));
        float src[6] = {3, 4, 5, 6, 7, PAD}, smask[6] = {1, 1, 1, 1, 1, 0};
        float din[6] = {START, START, 5, 7, 4, END}, dtgt[6] = {5, 7, 4, END, END, PAD}, tmask[6] = {1, 1, 1, 1, 1, 0};
        recur_feed feeds[5] = {{m.src, src, 6}, {m.src_mask, smask, 6}, {m.dec_in, din, 6}, {m.dec_tgt, dtgt, 6},
                               {m.tgt_mask, tmask, 6}};
        recur_value wrt[4] = {m.W_out, m.enc.param[1], m.dec.param[0], m.src_emb};
        tu_gradcheck(g, m.loss, 4, wrt, 5, feeds, 1e-2);
        if (cases[c].att != RECUR_ATTN_NONE) tu_gradcheck(g, m.loss, 1, &m.W_c, 5, feeds, 1e-2);
        recur_graph_free(g);
    }
}

/* Copies every parameter of `from` into the same-named parameter of `to`. */
static void copy_params(recur_graph *from, recur_graph *to)
{
    recur_value ps[64];
    int n = recur_params(from, ps, 64);
    for (int i = 0; i < n; i++) {
        recur_value q = recur_find(to, recur_value_name(from, ps[i]));
        TU_OK(to, q);
        TU_ST(to, recur_param_set(to, q, recur_param_data(from, ps[i]),
                                  recur_shape_numel(recur_value_shape(from, ps[i]))));
    }
}

/* The encoder holds its state over padding: a padded source gives the unpadded context. */
static void test_encoder_skips_padding(void **state)
{
    (void)state;
    recur_seq2seq_opts o = opts_for(RECUR_LSTM, RECUR_ATTN_NONE, 6);
    recur_graph *g1 = recur_graph_new(5), *g2 = recur_graph_new(6);
    recur_seq2seq m1, m2;
    TU_ST(g1, recur_seq2seq_new(g1, "s", &o, &m1));
    TU_ST(g2, recur_seq2seq_new(g2, "s", &o, &m2));
    copy_params(g1, g2);
    TU_ST(g1, recur_seq2seq_train_graph(g1, &m1, 5, 1, 1)); /* 3 tokens padded to 5 */
    TU_ST(g2, recur_seq2seq_train_graph(g2, &m2, 3, 1, 1)); /* the same 3 tokens */
    TU_ST(g1, recur_unroll(g1));
    TU_ST(g2, recur_unroll(g2));
    float *c1 = tu_eval(g1, m1.context, 2,
                        (recur_feed[]){{m1.src, (const float[]){3, 6, 4, PAD, PAD}, 5},
                                       {m1.src_mask, (const float[]){1, 1, 1, 0, 0}, 5}});
    float *c2 = tu_eval(g2, m2.context, 2,
                        (recur_feed[]){{m2.src, (const float[]){3, 6, 4}, 3}, {m2.src_mask, (const float[]){1, 1, 1}, 3}});
    tu_assert_close(c1, c2, 6, 1e-6, 1e-7);
    free(c1), free(c2);
    recur_graph_free(g1);
    recur_graph_free(g2);
}

/*
 * A model taking the sources' lengths instead of a mask computes the same
 * loss and gradients (attention, LSTM and GRU), and its lengths are checked
 * when it runs.
 */
static void test_lengths_match_mask(void **state)
{
    (void)state;
    const recur_cell_kind kinds[2] = {RECUR_LSTM, RECUR_GRU};
    for (int c = 0; c < 2; c++) {
        recur_seq2seq_opts o = opts_for(kinds[c], c ? RECUR_ATTN_ADDITIVE : RECUR_ATTN_DOT, 5), ol = o;
        ol.lengths = 1;
        recur_graph *g1 = recur_graph_new(8), *g2 = recur_graph_new(9);
        recur_seq2seq m1, m2;
        TU_ST(g1, recur_seq2seq_new(g1, "s", &o, &m1));
        TU_ST(g2, recur_seq2seq_new(g2, "s", &ol, &m2));
        copy_params(g1, g2);
        TU_ST(g1, recur_seq2seq_train_graph(g1, &m1, 3, 3, 2));
        TU_ST(g2, recur_seq2seq_train_graph(g2, &m2, 3, 3, 2));
        assert_true(recur_is_input(g2, m2.src_lengths));
        assert_false(recur_is_input(g2, m2.src_mask));
        TU_ST(g1, recur_unroll(g1));
        TU_ST(g2, recur_unroll(g2));
        recur_value p1[64], p2[64], d1[64], d2[64];
        int n1 = recur_params(g1, p1, 64), n2 = recur_params(g2, p2, 64);
        assert_int_equal(n1, n2);
        TU_ST(g1, recur_grad(g1, m1.loss, n1, p1, d1));
        TU_ST(g2, recur_grad(g2, m2.loss, n2, p2, d2));
        /* Column 0: 3 tokens; column 1: 2 tokens and a padding position holding a real id. */
        float src[6] = {3, 4, 5, 6, 7, 3}, smask[6] = {1, 1, 1, 1, 1, 0}, len[2] = {3, 2};
        float din[6] = {START, START, 5, 7, 4, END}, dtgt[6] = {5, 7, 4, END, END, PAD}, tmask[6] = {1, 1, 1, 1, 1, 0};
        recur_feed f1[5] = {{m1.src, src, 6}, {m1.src_mask, smask, 6}, {m1.dec_in, din, 6}, {m1.dec_tgt, dtgt, 6},
                            {m1.tgt_mask, tmask, 6}};
        recur_feed f2[5] = {{m2.src, src, 6}, {m2.src_lengths, len, 2}, {m2.dec_in, din, 6}, {m2.dec_tgt, dtgt, 6},
                            {m2.tgt_mask, tmask, 6}};
        for (int i = -1; i < n1; i++) {
            recur_value a = i < 0 ? m1.loss : d1[i], b = i < 0 ? m2.loss : d2[i];
            int64_t n = recur_shape_numel(recur_value_shape(g1, a));
            float *va = tu_eval(g1, a, 5, f1), *vb = tu_eval(g2, b, 5, f2);
            tu_assert_close(vb, va, n, 1e-5, 1e-7);
            free(va), free(vb);
        }
        recur_plan *p = recur_compile(g2, 1, &m2.loss, NULL);
        assert_non_null(p);
        for (int k = 0; k < 5; k++) assert_int_equal(recur_plan_feed(p, f2[k].value, f2[k].data, f2[k].n), RECUR_OK);
        const float bad[2] = {3, 4}; /* a source longer than S = 3 */
        assert_int_equal(recur_plan_feed(p, m2.src_lengths, bad, 2), RECUR_OK);
        assert_int_equal(recur_plan_run(p), RECUR_ERR_RUNTIME);
        assert_non_null(strstr(recur_plan_errmsg(p), "lengths[1] = 4"));
        recur_plan_free(p);
        recur_graph_free(g1);
        recur_graph_free(g2);
    }
}

/* Trains to reverse 4-token sequences with SGD; returns the final loss. */
static float train_reverse(recur_graph *g, recur_seq2seq *m, int steps)
{
    enum { S = 4, T = 5, B = 32 };
    TU_ST(g, recur_seq2seq_train_graph(g, m, S, T, B));
    TU_ST(g, recur_unroll(g));
    recur_value ps[64], grads[64];
    int np = recur_params(g, ps, 64);
    TU_ST(g, recur_grad(g, m->loss, np, ps, grads));
    recur_value outs[65];
    outs[0] = m->loss;
    memcpy(outs + 1, grads, sizeof(recur_value) * (size_t)np);
    recur_plan *p = recur_compile(g, np + 1, outs, NULL);
    if (!p) fail_msg("%s", recur_errmsg(g));
    float src[S * B], smask[S * B], din[T * B], dtgt[T * B], tmask[T * B], loss = 0;
    for (int i = 0; i < S * B; i++) smask[i] = 1;
    for (int i = 0; i < T * B; i++) tmask[i] = 1;
    uint64_t rng = 12345;
    for (int step = 0; step < steps; step++) {
        for (int b = 0; b < B; b++) {
            int tok[S];
            for (int s = 0; s < S; s++) {
                rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                tok[s] = 3 + (int)((rng >> 33) % 5);
                src[s * B + b] = (float)tok[s];
            }
            din[b] = START;
            for (int t = 0; t < S; t++) { /* target: the source reversed, then [END] */
                dtgt[t * B + b] = (float)tok[S - 1 - t];
                din[(t + 1) * B + b] = (float)tok[S - 1 - t];
            }
            dtgt[S * B + b] = END;
        }
        recur_plan_feed(p, m->src, src, S * B);
        recur_plan_feed(p, m->src_mask, smask, S * B);
        recur_plan_feed(p, m->dec_in, din, T * B);
        recur_plan_feed(p, m->dec_tgt, dtgt, T * B);
        recur_plan_feed(p, m->tgt_mask, tmask, T * B);
        if (recur_plan_run(p) != RECUR_OK) fail_msg("%s", recur_plan_errmsg(p));
        recur_plan_fetch(p, m->loss, &loss, 1);
        for (int k = 0; k < np; k++) {
            float *w = recur_param_data(g, ps[k]);
            const float *dw = recur_plan_output(p, grads[k]);
            int64_t n = recur_shape_numel(recur_value_shape(g, ps[k]));
            for (int64_t i = 0; i < n; i++) w[i] -= 0.5f * dw[i];
        }
    }
    recur_plan_free(p);
    return loss;
}

/*
 * Learning to reverse, then decoding: greedy decoding reverses held-out
 * sequences, beam search with beam 1 equals greedy, and the greedy tokens
 * are the argmax of the unrolled teacher-forced graph fed those same tokens
 * (step-by-step and unrolled execution agree).
 */
static void test_learns_to_reverse_and_decodes(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(77);
    recur_seq2seq m;
    recur_seq2seq_opts o = opts_for(RECUR_LSTM, RECUR_ATTN_DOT, 32);
    TU_ST(g, recur_seq2seq_new(g, "rev", &o, &m));
    float loss = train_reverse(g, &m, 400);
    print_message("reverse task: final training loss %.4f\n", (double)loss);
    assert_true(loss < 0.1f);

    recur_translator *t = recur_translator_new(g, &m, 6);
    if (!t) fail_msg("%s", recur_errmsg(g));
    int correct = 0;
    const int64_t tests[5][4] = {{3, 4, 5, 6}, {7, 7, 3, 4}, {5, 3, 6, 7}, {4, 4, 4, 5}, {6, 5, 4, 3}};
    for (int i = 0; i < 5; i++) {
        int64_t out[8], len = 0, bout[8], blen = 0;
        float attn[8 * 6];
        if (recur_translate_greedy(t, tests[i], 4, out, 8, &len, attn) != RECUR_OK)
            fail_msg("greedy: %s", recur_translator_errmsg(t));
        int ok = len == 4;
        for (int k = 0; ok && k < 4; k++) ok = out[k] == tests[i][3 - k];
        correct += ok;
        /* Attention rows are distributions over the 4 real source tokens (padding gets none). */
        for (int r = 0; r < len; r++) {
            double sum = 0;
            for (int s = 0; s < 6; s++) sum += attn[r * 6 + s];
            assert_true(fabs(sum - 1) < 1e-4);
            assert_true(attn[r * 6 + 4] < 1e-6 && attn[r * 6 + 5] < 1e-6);
        }
        assert_int_equal(recur_translate_beam(t, tests[i], 4, 1, 0, bout, 8, &blen), RECUR_OK);
        assert_int_equal(blen, len);
        assert_memory_equal(bout, out, sizeof(int64_t) * (size_t)len);
        assert_int_equal(recur_translate_beam(t, tests[i], 4, 4, 0.6f, bout, 8, &blen), RECUR_OK);
        assert_true(blen >= 1 && blen <= 8);
    }
    print_message("greedy decoding reversed %d of 5 held-out sequences\n", correct);

    /* Step-by-step decoding agrees with the unrolled teacher-forced graph fed the greedy tokens. */
    int64_t out[8], len = 0;
    assert_int_equal(recur_translate_greedy(t, tests[2], 4, out, 8, &len, NULL), RECUR_OK);
    assert_int_equal(len, 4);
    enum { S = 4, T = 5, B = 32 };
    float src[S * B], smask[S * B], din[T * B], tmask[T * B];
    for (int i = 0; i < S * B; i++) src[i] = (float)tests[2][i / B], smask[i] = 1;
    for (int i = 0; i < T * B; i++) din[i] = i < B ? START : (float)out[i / B - 1], tmask[i] = 1;
    float *logits = tu_eval(g, m.logits, 5,
                            (recur_feed[]){{m.src, src, S * B}, {m.src_mask, smask, S * B}, {m.dec_in, din, T * B},
                                           {m.dec_tgt, din, T * B}, {m.tgt_mask, tmask, T * B}});
    for (int step = 0; step < T; step++) {
        const float *z = logits + (int64_t)step * B * V; /* batch column 0 */
        int best = 0;
        for (int v = 1; v < V; v++)
            if (z[v] > z[best]) best = v;
        assert_int_equal(best, step < 4 ? out[step] : END);
    }
    free(logits);
    assert_true(correct >= 4);
    /* Bad input: too long a source. */
    assert_int_equal(recur_translate_greedy(t, tests[0], 7, out, 8, &len, NULL), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_translator_errmsg(t), "7 tokens"));
    /* A second translator for the same model (another source length) translates alike. */
    recur_translator *t2 = recur_translator_new(g, &m, 5);
    if (!t2) fail_msg("second translator: %s", recur_errmsg(g));
    for (int i = 0; i < 5; i++) {
        int64_t a[8], b[8], la = 0, lb = 0;
        assert_int_equal(recur_translate_greedy(t, tests[i], 4, a, 8, &la, NULL), RECUR_OK);
        assert_int_equal(recur_translate_greedy(t2, tests[i], 4, b, 8, &lb, NULL), RECUR_OK);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, sizeof(int64_t) * (size_t)la);
    }
    recur_translator_free(t2);
    recur_translator_free(t);
    recur_graph_free(g);
}

/*
 * Decoding never emits [START] or [PAD]: an untrained model whose output
 * bias favours them by far (and disfavours [END]) still translates into
 * other tokens, greedily and with beam search.
 */
static void test_decoding_skips_start_and_pad(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(5);
    recur_seq2seq m;
    recur_seq2seq_opts o = opts_for(RECUR_GRU, RECUR_ATTN_DOT, 8);
    TU_ST(g, recur_seq2seq_new(g, "skip", &o, &m));
    float *b = recur_param_data(g, m.b_out);
    b[PAD] = 50, b[START] = 40, b[END] = -50;
    recur_translator *t = recur_translator_new(g, &m, 4);
    if (!t) fail_msg("%s", recur_errmsg(g));
    const int64_t src[4] = {3, 4, 5, 6};
    int64_t out[6], len = 0;
    assert_int_equal(recur_translate_greedy(t, src, 4, out, 6, &len, NULL), RECUR_OK);
    assert_int_equal(len, 6); /* [END] is disfavoured: all six tokens come out */
    for (int i = 0; i < len; i++) assert_true(out[i] != PAD && out[i] != START);
    assert_int_equal(recur_translate_beam(t, src, 4, 3, 0, out, 6, &len), RECUR_OK);
    assert_int_equal(len, 6);
    for (int i = 0; i < len; i++) assert_true(out[i] != PAD && out[i] != START);
    recur_translator_free(t);
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dot_attention_by_hand),
        cmocka_unit_test(test_attention_gradients),
        cmocka_unit_test(test_seq2seq_gradients),
        cmocka_unit_test(test_encoder_skips_padding),
        cmocka_unit_test(test_lengths_match_mask),
        cmocka_unit_test(test_learns_to_reverse_and_decodes),
        cmocka_unit_test(test_decoding_skips_start_and_pad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
