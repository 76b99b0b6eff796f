/*
 * examples/seq2seq_reverse.c — an encoder-decoder with attention learns to
 * reverse sequences of letters. The encoder's final state is the decoder's
 * context vector; the decoder is trained with teacher forcing, then decodes
 * new sequences greedily and with beam search from [START] to [END],
 * printing the attention of the first one (an anti-diagonal when it works).
 */
#include <stdio.h>
#include <string.h>

#include "recur.h"
#include "recur/optim.h"

enum { PAD, START, END, FIRST, V = FIRST + 6, S = 5, T = S + 1, B = 32 };

static uint64_t rng = 3;
static int letter(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return FIRST + (int)((rng >> 33) % (V - FIRST));
}

int main(void)
{
    recur_graph *g = recur_graph_new(17);
    recur_seq2seq m;
    recur_seq2seq_opts o = {.kind = RECUR_LSTM, .src_vocab = V, .tgt_vocab = V, .embed = 16, .hidden = 48,
                            .attention = RECUR_ATTN_ADDITIVE, .start_id = START, .end_id = END};
    if (recur_seq2seq_new(g, "rev", &o, &m) != RECUR_OK || recur_seq2seq_train_graph(g, &m, S, T, B) != RECUR_OK ||
        recur_unroll(g) != RECUR_OK)
        return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    recur_value ps[32], gs[32], outs[33] = {m.loss};
    int np = recur_params(g, ps, 32);
    recur_grad(g, m.loss, np, ps, gs);
    memcpy(outs + 1, gs, sizeof gs[0] * (size_t)np);
    recur_plan *plan = recur_compile(g, np + 1, outs, NULL);
    recur_optim_opts oo = recur_optim_defaults(RECUR_OPTIM_ADAM);
    oo.lr = 5e-3;
    oo.max_grad_norm = 5;
    recur_optim *opt = recur_optim_new(g, &oo, np, ps);
    if (!plan || !opt) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;

    float src[S * B], smask[S * B], din[T * B], dtgt[T * B], tmask[T * B], l = 0;
    for (int i = 0; i < S * B; i++) smask[i] = 1;
    for (int i = 0; i < T * B; i++) tmask[i] = 1;
    for (int step = 1; step <= 400; step++) {
        for (int b = 0; b < B; b++) {
            for (int s = 0; s < S; s++) src[s * B + b] = (float)letter();
            din[b] = START; /* teacher forcing: the decoder reads [START] + target */
            for (int t = 0; t < S; t++) din[(t + 1) * B + b] = dtgt[t * B + b] = src[(S - 1 - t) * B + b];
            dtgt[S * B + b] = END;
        }
        recur_plan_feed(plan, m.src, src, S * B);
        recur_plan_feed(plan, m.src_mask, smask, S * B);
        recur_plan_feed(plan, m.dec_in, din, T * B);
        recur_plan_feed(plan, m.dec_tgt, dtgt, T * B);
        recur_plan_feed(plan, m.tgt_mask, tmask, T * B);
        recur_plan_run(plan);
        recur_optim_step_plan(opt, plan, gs);
        recur_plan_fetch(plan, m.loss, &l, 1);
        if (step % 100 == 0) printf("step %d  loss %.4f\n", step, (double)l);
    }

    recur_translator *tr = recur_translator_new(g, &m, S);
    if (!tr) return fprintf(stderr, "%s\n", recur_errmsg(g)), 1;
    for (int k = 0; k < 4; k++) {
        int64_t in[S], out[8], n = 0, beam[8], nb = 0;
        float attn[8 * S];
        for (int s = 0; s < S; s++) in[s] = letter();
        recur_translate_greedy(tr, in, S, out, 8, &n, attn);
        recur_translate_beam(tr, in, S, 3, 0.6f, beam, 8, &nb);
        printf("%c%c%c%c%c -> greedy ", 'a' + (int)in[0] - FIRST, 'a' + (int)in[1] - FIRST, 'a' + (int)in[2] - FIRST,
               'a' + (int)in[3] - FIRST, 'a' + (int)in[4] - FIRST);
        for (int i = 0; i < n; i++) putchar('a' + (int)out[i] - FIRST);
        printf(", beam 3 ");
        for (int i = 0; i < nb; i++) putchar('a' + (int)beam[i] - FIRST);
        putchar('\n');
        if (k == 0) {
            printf("attention of the first (rows: output tokens, columns: source tokens):\n");
            for (int i = 0; i < n; i++) {
                for (int s = 0; s < S; s++) printf(" %4.2f", (double)attn[i * S + s]);
                putchar('\n');
            }
        }
    }
    recur_translator_free(tr);
    recur_optim_free(opt);
    recur_plan_free(plan);
    recur_graph_free(g);
    return 0;
}
