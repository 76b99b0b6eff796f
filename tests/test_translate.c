/*
 * tests/test_translate.c — the translator's beam search against brute
 * force. With a target vocabulary of 6 ids and at most 3 decoder steps
 * there are 13 finished outputs (0, 1 or 2 tokens out of the 3 ids that a
 * translation may contain: not [PAD], [START] or [END]; then [END]), and
 * a beam of 64 keeps every hypothesis, so beam
 * search is exhaustive: it must return the output whose score is best
 * under an independent oracle, the teacher-forced training graph, where
 *   log p(w_1 .. w_k [END] | src) = -(k + 1) * loss
 * (the loss is the mean cross-entropy over the k + 1 target tokens), and
 * the score is that log-probability divided by (k + 1)^alpha.
 */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { SRC_V = 7, TGT_V = 6, START = 1, END = 2, S = 3, MAX_LEN = 3 };

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

/* The oracle for outputs of k tokens: a copy of the model's teacher-forced graph with T = k + 1, B = 1. */
typedef struct oracle {
    recur_graph *g;
    recur_seq2seq m;
    recur_plan *plan;
} oracle;

static void oracle_new(oracle *o, recur_graph *model_graph, const recur_seq2seq_opts *opts, int64_t T)
{
    o->g = recur_graph_new(99);
    TU_ST(o->g, recur_seq2seq_new(o->g, "tr", opts, &o->m));
    copy_params(model_graph, o->g);
    TU_ST(o->g, recur_seq2seq_train_graph(o->g, &o->m, S, T, 1));
    TU_ST(o->g, recur_unroll(o->g));
    o->plan = recur_compile(o->g, 1, &o->m.loss, &(recur_compile_opts){.inference = 1});
    if (!o->plan) fail_msg("%s", recur_errmsg(o->g));
}

/* log p(tokens[0..k) [END] | src) by teacher forcing. */
static double oracle_logp(oracle *o, const int64_t *src, const int64_t *tokens, int64_t k)
{
    float s[S], smask[S], din[MAX_LEN], dtgt[MAX_LEN], tmask[MAX_LEN], loss;
    for (int i = 0; i < S; i++) s[i] = (float)src[i], smask[i] = 1;
    din[0] = START;
    for (int64_t t = 0; t < k; t++) din[t + 1] = dtgt[t] = (float)tokens[t];
    dtgt[k] = END;
    for (int64_t t = 0; t <= k; t++) tmask[t] = 1;
    recur_plan *p = o->plan;
    TU_ST(o->g, recur_plan_feed(p, o->m.src, s, S));
    TU_ST(o->g, recur_plan_feed(p, o->m.src_mask, smask, S));
    TU_ST(o->g, recur_plan_feed(p, o->m.dec_in, din, k + 1));
    TU_ST(o->g, recur_plan_feed(p, o->m.dec_tgt, dtgt, k + 1));
    TU_ST(o->g, recur_plan_feed(p, o->m.tgt_mask, tmask, k + 1));
    if (recur_plan_run(p) != RECUR_OK) fail_msg("%s", recur_plan_errmsg(p));
    TU_ST(o->g, recur_plan_fetch(p, o->m.loss, &loss, 1));
    return -(double)(k + 1) * loss;
}

/*
 * The best finished output by brute force over the 13 candidates; its
 * tokens go to best (count *best_len). Asserts that it wins by a margin
 * well above float rounding, so that the comparison is meaningful.
 */
static void brute_force(oracle *oracles, const int64_t *src, float alpha, int64_t *best, int64_t *best_len)
{
    static const int64_t words[3] = {3, 4, 5}; /* the ids a translation may contain (not [PAD] 0, [START], [END]) */
    double top = -INFINITY, second = -INFINITY;
    for (int64_t k = 0; k < MAX_LEN; k++) {
        int64_t combos = k == 0 ? 1 : k == 1 ? 3 : 9;
        for (int64_t c = 0; c < combos; c++) {
            int64_t tok[2] = {words[c % 3], words[c / 3]};
            double score = oracle_logp(&oracles[k], src, tok, k) / pow((double)(k + 1), alpha);
            if (score > top) {
                second = top, top = score;
                memcpy(best, tok, sizeof tok);
                *best_len = k;
            } else if (score > second) {
                second = score;
            }
        }
    }
    assert_true(top - second > 1e-3);
}

/* Exhaustive beam search finds the brute-force best, for LSTM (two states) and GRU, with and without length normalisation. */
static void test_exhaustive_beam_matches_brute_force(void **state)
{
    (void)state;
    const recur_cell_kind kinds[2] = {RECUR_LSTM, RECUR_GRU};
    const recur_attn_kind attns[2] = {RECUR_ATTN_DOT, RECUR_ATTN_ADDITIVE};
    const int64_t sources[3][S] = {{3, 4, 5}, {6, 6, 4}, {5, 3, 3}};
    const float alphas[2] = {0.0f, 1.0f};
    for (int c = 0; c < 2; c++) {
        recur_seq2seq_opts opts = {.kind = kinds[c], .src_vocab = SRC_V, .tgt_vocab = TGT_V, .embed = 5,
                                   .hidden = 6, .attention = attns[c], .attn_size = 4, .start_id = START,
                                   .end_id = END};
        recur_graph *g = recur_graph_new(31 + (uint64_t)c);
        recur_seq2seq m;
        TU_ST(g, recur_seq2seq_new(g, "tr", &opts, &m));
        /* Sharper output distributions than the initial ones, so that the best output wins clearly. */
        float *w = recur_param_data(g, m.W_out);
        for (int64_t i = 0; i < recur_shape_numel(recur_value_shape(g, m.W_out)); i++) w[i] *= 4;
        recur_translator *t = recur_translator_new(g, &m, S);
        if (!t) fail_msg("%s", recur_errmsg(g));
        oracle oracles[MAX_LEN];
        for (int64_t k = 0; k < MAX_LEN; k++) oracle_new(&oracles[k], g, &opts, k + 1);
        for (int s = 0; s < 3; s++) {
            for (int a = 0; a < 2; a++) {
                int64_t want[2] = {0, 0}, want_len = -1, got[MAX_LEN], got_len = -1;
                brute_force(oracles, sources[s], alphas[a], want, &want_len);
                if (recur_translate_beam(t, sources[s], S, 64, alphas[a], got, MAX_LEN, &got_len) != RECUR_OK)
                    fail_msg("beam: %s", recur_translator_errmsg(t));
                assert_int_equal(got_len, want_len);
                for (int64_t i = 0; i < want_len; i++) assert_int_equal(got[i], want[i]);
            }
        }
        for (int64_t k = 0; k < MAX_LEN; k++) {
            recur_plan_free(oracles[k].plan);
            recur_graph_free(oracles[k].g);
        }
        recur_translator_free(t);
        recur_graph_free(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exhaustive_beam_matches_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
