/*
 * examples/translate.c — experiment 4 of the material: seq2seq translation
 * English -> French on the Tatoeba sentence pairs, with attention.
 *
 * Data: eng_fra_tatoeba.tsv (found through RECUR_DATA or ../shared/data),
 * lines "english<TAB>french<TAB>attribution", sentences from tatoeba.org
 * under CC-BY 2.0 (France); each line's third column names its authors.
 *
 * Steps: tokenise both sides and build word vocabularies ([PAD], [START],
 * [END], [UNK], then the words seen at least --min-count times); keep pairs
 * of at most --max-len tokens; hold out about 10% of the English sentences
 * (all translations of a held-out sentence go with it, so the held-out
 * sources were never seen in training); train a GRU encoder-decoder with
 * additive attention by teacher forcing, Adam (the learning rate decaying
 * by 0.999 a step) and gradient clipping, on batches padded to fixed
 * lengths S and T: the encoder reads each source for its own length (the
 * batch's src_lengths, recur_seq2seq_opts.lengths: its final state is the
 * state after the sentence's last word, and attention leaves the padding
 * out), the decoder's loss is masked past each target's [END]; report the
 * masked cross-entropy over the held-out pairs (the training graph,
 * compiled for the loss alone) and translate held-out sentences greedily
 * and with beam search.
 *
 * Usage: translate [--steps N] [--hidden N] [--seed N] [--backend reference|onednn]
 *                  [--max-len N] [--min-count N]
 * Run it from the repository root (or set RECUR_DATA to the data folder).
 * The defaults (1200 steps, hidden 128, oneDNN) take about 30 s on two
 * cores; the reference backend is about 17 times slower (0.37 s a step
 * against 0.02 s). On a busy machine OMP_NUM_THREADS=1 keeps oneDNN's
 * threads from waiting on each other (2 threads took 3.5 minutes there).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime and CLOCK_MONOTONIC are POSIX, not C11 */
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recur.h"
#include "recur/data.h"
#include "recur/optim.h"

enum { BATCH = 32, EMBED = 128, MAX_PARAMS = 32, SHOW = 8, BEAM = 4 };

/* Command-line options. */
typedef struct options {
    int steps, hidden, max_len, min_count;
    uint64_t seed;
    const char *backend;
} options;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int usage(void)
{
    fprintf(stderr, "usage: translate [--steps N] [--hidden N] [--seed N] [--backend reference|onednn] "
                    "[--max-len N] [--min-count N]\n");
    return 2;
}

/* Reads "--name value" pairs into *o; 0 on success, -1 for an unknown name or a bad value. */
static int parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val) return -1;
        char *end;
        long long v = strtoll(val, &end, 10);
        if (!strcmp(name, "--backend")) o->backend = val;
        else if (!*val || *end || v < 0 || v > 1000000000) return -1;
        else if (!strcmp(name, "--steps")) o->steps = (int)v;
        else if (!strcmp(name, "--hidden")) o->hidden = (int)v;
        else if (!strcmp(name, "--seed")) o->seed = (uint64_t)v;
        else if (!strcmp(name, "--max-len")) o->max_len = (int)v;
        else if (!strcmp(name, "--min-count")) o->min_count = (int)v;
        else return -1;
        i++;
    }
    return o->steps >= 1 && o->hidden >= 1 && o->max_len >= 1 ? 0 : -1;
}

/* FNV-1a hash of a string, mixed with the seed. */
static uint64_t hash_text(const char *s, uint64_t seed)
{
    uint64_t h = 1469598103934665603ULL ^ (seed * 0x9E3779B97F4A7C15ULL);
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ^ (h >> 29);
}

/*
 * Splits the pairs by their English sentence: a sentence is held out when
 * its hash falls in the lowest 10 of 100 buckets, so the held-out part is
 * about 10% of the sentences, with all their translations.
 */
static void split_pairs(const recur_pairs *p, uint64_t seed, int64_t *train, int64_t *n_train, int64_t *held,
                        int64_t *n_held)
{
    *n_train = *n_held = 0;
    for (int64_t i = 0; i < recur_pairs_count(p); i++) {
        if (hash_text(recur_pairs_text(p, i, RECUR_SOURCE), seed) % 100 < 10) held[(*n_held)++] = i;
        else train[(*n_train)++] = i;
    }
}

/* Feeds one batch into a plan of the model's training graph. */
static recur_status feed_batch(recur_plan *plan, const recur_seq2seq *m, const recur_pair_batch *b)
{
    recur_status st = recur_plan_feed(plan, m->src, b->src, b->S * b->B);
    if (st == RECUR_OK) st = recur_plan_feed(plan, m->src_lengths, b->src_lengths, b->B); /* each source's length */
    if (st == RECUR_OK) st = recur_plan_feed(plan, m->dec_in, b->dec_in, b->T * b->B);
    if (st == RECUR_OK) st = recur_plan_feed(plan, m->dec_tgt, b->dec_tgt, b->T * b->B);
    if (st == RECUR_OK) st = recur_plan_feed(plan, m->tgt_mask, b->tgt_mask, b->T * b->B);
    return st;
}

/*
 * The held-out loss: each batch's loss is the mean cross-entropy over its
 * n_k target tokens (the mask's ones), so the loss over all of them is
 *   sum_k loss_k n_k / sum_k n_k.
 */
static recur_status held_out_loss(recur_plan *eval, const recur_seq2seq *m, recur_pair_batches *bb, double *loss)
{
    double sum = 0, tokens = 0;
    for (int64_t k = 0; k < recur_pair_batches_count(bb); k++) {
        recur_pair_batch b;
        recur_status st = recur_pair_batches_get(bb, k, &b);
        if (st == RECUR_OK) st = feed_batch(eval, m, &b);
        if (st == RECUR_OK) st = recur_plan_run(eval);
        if (st != RECUR_OK) return st;
        double n = 0;
        for (int64_t i = 0; i < b.T * b.B; i++) n += b.tgt_mask[i];
        sum += (double)recur_plan_output(eval, m->loss)[0] * n;
        tokens += n;
    }
    *loss = tokens > 0 ? sum / tokens : 0;
    return RECUR_OK;
}

/* 1 when held-out pairs i and j have the same English sentence. */
static int same_source(const recur_pairs *p, int64_t i, int64_t j)
{
    return !strcmp(recur_pairs_text(p, i, RECUR_SOURCE), recur_pairs_text(p, j, RECUR_SOURCE));
}

/* 1 when ids[0..n) are the French ids of a held-out pair with the English sentence of pair i. */
static int matches_a_reference(const recur_pairs *p, const int64_t *held, int64_t n_held, int64_t i,
                               const int64_t *ids, int64_t n)
{
    for (int64_t k = 0; k < n_held; k++) {
        int64_t len;
        const int64_t *ref = recur_pairs_ids(p, held[k], RECUR_TARGET, &len);
        if (same_source(p, held[k], i) && len == n && !memcmp(ref, ids, sizeof *ids * (size_t)n)) return 1;
    }
    return 0;
}

/* Prints "label words" for French ids[0..n). */
static void print_ids(const recur_pairs *p, const char *label, const int64_t *ids, int64_t n)
{
    char buf[1024];
    if (recur_pairs_decode(p, RECUR_TARGET, ids, n, buf, sizeof buf) != RECUR_OK) snprintf(buf, sizeof buf, "?");
    printf("  %-7s %s\n", label, buf);
}

/*
 * Translates every held-out English sentence (once, however many
 * translations it has) greedily, counting those whose output is exactly
 * one of its references, and prints SHOW of them, spread over the
 * held-out part, with all their references and the beam search's output.
 */
static int translate_held_out(recur_translator *tr, const recur_pairs *p, const int64_t *held, int64_t n_held,
                              int64_t max_out)
{
    int64_t out[64], beam[64], n_out, n_beam, sentences = 0, exact = 0, shown = 0;
    int64_t every = n_held / SHOW > 0 ? n_held / SHOW : 1;
    printf("\nHeld-out translations (greedy, and beam search of %d with length normalisation 0.6):\n", BEAM);
    for (int64_t k = 0; k < n_held; k++) {
        int64_t i = held[k], n, seen = 0;
        for (int64_t j = 0; j < k && !seen; j++) seen = same_source(p, held[j], i);
        if (seen) continue;
        const int64_t *src = recur_pairs_ids(p, i, RECUR_SOURCE, &n);
        if (recur_translate_greedy(tr, src, n, out, max_out, &n_out, NULL) != RECUR_OK) {
            fprintf(stderr, "translate: %s\n", recur_translator_errmsg(tr));
            return 1;
        }
        sentences++;
        exact += matches_a_reference(p, held, n_held, i, out, n_out);
        if (k / every < shown || shown == SHOW) continue;
        shown++;
        if (recur_translate_beam(tr, src, n, BEAM, 0.6f, beam, max_out, &n_beam) != RECUR_OK) {
            fprintf(stderr, "translate: %s\n", recur_translator_errmsg(tr));
            return 1;
        }
        printf("  EN:     %s\n", recur_pairs_text(p, i, RECUR_SOURCE));
        for (int64_t r = k; r < n_held; r++)
            if (same_source(p, held[r], i)) printf("  REF:    %s\n", recur_pairs_text(p, held[r], RECUR_TARGET));
        print_ids(p, "GREEDY:", out, n_out);
        print_ids(p, "BEAM:", beam, n_beam);
        printf("\n");
    }
    printf("greedy output equals a reference (as token ids; [UNK] counts as a word) for %lld of %lld held-out "
           "sentences (%.1f%%)\n",
           (long long)exact, (long long)sentences, sentences ? 100.0 * (double)exact / (double)sentences : 0.0);
    return 0;
}

int main(int argc, char **argv)
{
    options o = {.steps = 1200, .hidden = 128, .max_len = 10, .min_count = 2, .seed = 1, .backend = "onednn"};
    if (parse_args(argc, argv, &o) != 0) return usage();
    if (!recur_backend_available(o.backend)) {
        fprintf(stderr, "translate: backend \"%s\" is not available in this build\n", o.backend);
        return 2;
    }
    char path[1024];
    if (recur_data_path("eng_fra_tatoeba.tsv", path, sizeof path) != RECUR_OK) {
        printf("translate: the Tatoeba pairs are not here, so there is nothing to do (%s).\n"
               "Set RECUR_DATA to the folder holding eng_fra_tatoeba.tsv, or run from the repository root\n"
               "with ../shared/data beside it.\n",
               recur_data_errmsg());
        return 0;
    }

    /* The data: pairs, vocabularies, the split, fixed lengths S and T. */
    recur_pairs *p = recur_pairs_load(path, &(recur_pairs_opts){.min_count = o.min_count, .max_len = o.max_len});
    if (!p) return fprintf(stderr, "translate: %s\n", recur_data_errmsg()), 1;
    int64_t N = recur_pairs_count(p), n_train, n_held, S = 1, T = 1;
    int64_t *train = malloc(sizeof *train * (size_t)N), *held = malloc(sizeof *held * (size_t)N);
    if (!train || !held) return fprintf(stderr, "translate: out of memory\n"), 1;
    split_pairs(p, o.seed, train, &n_train, held, &n_held);
    for (int64_t i = 0; i < N; i++) {
        int64_t ns, nt;
        recur_pairs_ids(p, i, RECUR_SOURCE, &ns);
        recur_pairs_ids(p, i, RECUR_TARGET, &nt);
        S = ns > S ? ns : S;
        T = nt + 1 > T ? nt + 1 : T; /* the decoder also writes [END] */
    }
    printf("%s: %lld pairs of at most %d tokens (%lld left out); vocabularies: %lld English, %lld French words\n"
           "(words seen at least %d times, plus [PAD] [START] [END] [UNK]); %lld pairs for training, %lld held out;\n"
           "batches of %d padded to S = %lld source steps (each source read for its own length) and T = %lld "
           "target steps\n",
           path, (long long)N, o.max_len, (long long)recur_pairs_skipped(p),
           (long long)recur_pairs_vocab_size(p, RECUR_SOURCE), (long long)recur_pairs_vocab_size(p, RECUR_TARGET),
           o.min_count, (long long)n_train, (long long)n_held, BATCH, (long long)S, (long long)T);

    /* The model and its teacher-forced training graph, differentiated. */
    recur_graph *g = recur_graph_new(o.seed);
    recur_seq2seq m;
    recur_seq2seq_opts so = {.kind = RECUR_GRU,
                             .src_vocab = recur_pairs_vocab_size(p, RECUR_SOURCE),
                             .tgt_vocab = recur_pairs_vocab_size(p, RECUR_TARGET),
                             .embed = EMBED,
                             .hidden = o.hidden,
                             .attention = RECUR_ATTN_ADDITIVE,
                             .start_id = RECUR_START_ID,
                             .end_id = RECUR_END_ID,
                             .lengths = 1}; /* the sources come with their lengths, not a mask */
    if (recur_seq2seq_new(g, "fr", &so, &m) != RECUR_OK || recur_seq2seq_train_graph(g, &m, S, T, BATCH) != RECUR_OK ||
        recur_unroll(g) != RECUR_OK)
        return fprintf(stderr, "translate: building the model: %s\n", recur_errmsg(g)), 1;
    recur_value ps[MAX_PARAMS], gs[MAX_PARAMS], outs[MAX_PARAMS + 1] = {m.loss};
    int np = recur_params(g, ps, MAX_PARAMS);
    if (np > MAX_PARAMS || recur_grad(g, m.loss, np, ps, gs) != RECUR_OK)
        return fprintf(stderr, "translate: differentiating: %s\n", recur_errmsg(g)), 1;
    memcpy(outs + 1, gs, sizeof gs[0] * (size_t)np);
    recur_plan *plan = recur_compile(g, np + 1, outs, &(recur_compile_opts){.backend = o.backend});
    recur_plan *eval = recur_compile(g, 1, &m.loss, &(recur_compile_opts){.backend = o.backend, .inference = 1});
    recur_optim_opts oo = recur_optim_defaults(RECUR_OPTIM_ADAM);
    oo.lr = 3e-3;
    oo.max_grad_norm = 5;
    oo.schedule = (recur_schedule){.kind = RECUR_SCHEDULE_EXPONENTIAL, .gamma = 0.999};
    recur_optim *opt = plan && eval ? recur_optim_new(g, &oo, np, ps) : NULL;
    if (!opt) return fprintf(stderr, "translate: compiling: %s\n", recur_errmsg(g)), 1;
    int64_t n_weights = 0;
    for (int i = 0; i < np; i++) n_weights += recur_shape_numel(recur_value_shape(g, ps[i]));
    printf("model: GRU encoder and decoder, embeddings of %d, hidden %d, additive attention; %lld weights;\n"
           "Adam (lr %g decaying by 0.999 a step, gradient norm clipped at %g), backend %s\n\n",
           EMBED, o.hidden, (long long)n_weights, oo.lr, oo.max_grad_norm, recur_plan_backend(plan));

    /* Training: one batcher per epoch, reshuffled with a new seed. */
    recur_pair_batch_opts bo = {.src_len = S, .tgt_len = T};
    recur_pair_batches *hb = recur_pair_batches_new(p, held, n_held, BATCH, o.seed, &bo), *tb = NULL;
    if (!hb) return fprintf(stderr, "translate: %s\n", recur_data_errmsg()), 1;
    double t0 = now(), run_loss = 0, ho = 0;
    int64_t epoch = 0, k = 0, in_run = 0;
    for (int step = 1; step <= o.steps; step++) {
        if (!tb || k == recur_pair_batches_count(tb)) {
            recur_pair_batches_free(tb);
            tb = recur_pair_batches_new(p, train, n_train, BATCH, o.seed + (uint64_t)++epoch, &bo);
            if (!tb) return fprintf(stderr, "translate: %s\n", recur_data_errmsg()), 1;
            k = 0;
        }
        recur_pair_batch b;
        recur_status st = recur_pair_batches_get(tb, k++, &b);
        if (st == RECUR_OK) st = feed_batch(plan, &m, &b);
        if (st == RECUR_OK) st = recur_plan_run(plan);
        if (st != RECUR_OK) return fprintf(stderr, "translate: step %d: %s\n", step, recur_plan_errmsg(plan)), 1;
        if (recur_optim_step_plan(opt, plan, gs) != RECUR_OK)
            return fprintf(stderr, "translate: step %d: %s\n", step, recur_optim_errmsg(opt)), 1;
        run_loss += recur_plan_output(plan, m.loss)[0];
        in_run++;
        if (step % 100 == 0 || step == o.steps) {
            if (held_out_loss(eval, &m, hb, &ho) != RECUR_OK)
                return fprintf(stderr, "translate: held-out loss: %s\n", recur_plan_errmsg(eval)), 1;
            printf("step %5d  epoch %2lld  training loss %.3f  held-out loss %.3f  grad norm %5.2f  %5.1f s\n", step,
                   (long long)epoch, run_loss / (double)in_run, ho, recur_optim_grad_norm(opt), now() - t0);
            fflush(stdout);
            run_loss = 0, in_run = 0;
        }
    }
    double seconds = now() - t0;
    printf("\nheld-out loss %.3f (perplexity %.1f) over %lld pairs after %d steps (%.1f epochs) in %.0f s\n", ho,
           exp(ho), (long long)n_held, o.steps, (double)o.steps * BATCH / (double)n_train, seconds);

    /* Translation: an encoder over one source and a decoder stepping one token at a time. */
    recur_translator *tr = recur_translator_new(g, &m, S);
    if (!tr) return fprintf(stderr, "translate: translator: %s\n", recur_errmsg(g)), 1;
    int rc = translate_held_out(tr, p, held, n_held, T < 64 ? T : 64);
    printf("Sentences from tatoeba.org (CC-BY 2.0 France); the authors of each pair are named in the data file.\n");

    recur_translator_free(tr);
    recur_pair_batches_free(tb);
    recur_pair_batches_free(hb);
    recur_optim_free(opt);
    recur_plan_free(eval);
    recur_plan_free(plan);
    recur_graph_free(g);
    recur_pairs_free(p);
    free(train), free(held);
    return rc;
}
