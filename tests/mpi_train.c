/*
 * tests/mpi_train.c — the program tests/test_mpi.c runs under mpirun (and
 * without it): trains a small model data-parallel (recur/mpi.h) on
 * synthetic data and writes rank 0's parameters.
 *
 *   mpi_train MODEL GLOBAL_BATCH STEPS OUT [options]
 *
 * MODEL is "lstm" (a language model: embedding, LSTM, dense softmax over
 * the next token at every step) or "gru" (a classifier: a GRU over a
 * sequence of vectors, a dense softmax over classes at its last step).
 * Every rank reads GLOBAL_BATCH / ranks sequences per step, its slice of
 * the global batch (recur_shard_offset), so any number of ranks takes the
 * steps one process with GLOBAL_BATCH takes. OUT gets the parameters as
 * raw floats (every parameter in the graph's order), then one line of text
 * is printed: "step S loss L eval E".
 *
 * Options: --resume PATH (go on from a checkpoint), --save PATH (save
 * after every step), --kill-rank R --kill-at S (rank R kills itself with
 * SIGKILL at step S), --no-overlap, --bucket-bytes N, --seed-by-rank (each
 * rank seeds its graph differently: only the broadcast makes them agree).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recur.h"

enum { T = 8, V = 12, E = 8, H = 16, F = 5, C = 4, N_TRAIN = 640, N_TEST = 128 };

typedef struct run {
    const char *model;
    int64_t B;            /* this rank's batch */
    int rank, size;
    recur_value x, y, loss;
    float *data, *labels; /* N_TRAIN + N_TEST sequences: lstm: T + 1 ids each; gru: T F floats and a label */
    int64_t *perm, perm_epoch;
    float *bx, *by;
    recur_plan *eval;
    int kill_rank;
    int64_t kill_at;
} run;

static uint64_t rng = 12345;
static float uniform(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(rng >> 11) * 0x1.0p-53);
}

/* The data: lstm, sequences from a noisy rule (next = 3 id + 1 mod V, sometimes random); gru, the class of the largest feature sum. */
static void make_data(run *r)
{
    int lm = strcmp(r->model, "lstm") == 0;
    int n = N_TRAIN + N_TEST;
    r->data = malloc(sizeof(float) * (size_t)n * (lm ? T + 1 : T * F));
    r->labels = malloc(sizeof(float) * (size_t)n);
    for (int i = 0; i < n; i++) {
        if (lm) {
            float *s = r->data + (size_t)i * (T + 1);
            s[0] = (float)(int)(uniform() * V);
            for (int t = 1; t <= T; t++) s[t] = uniform() < 0.8f ? (float)(((int)s[t - 1] * 3 + 1) % V) : (float)(int)(uniform() * V);
        } else {
            float *s = r->data + (size_t)i * T * F, sum[C] = {0};
            for (int k = 0; k < T * F; k++) s[k] = 2 * uniform() - 1, sum[k % F % C] += s[k];
            int best = 0;
            for (int c = 1; c < C; c++) best = sum[c] > sum[best] ? c : best;
            r->labels[i] = (float)best;
        }
    }
}

/* Puts sequences idx[0..B) (indices into the data) into bx, by, time-major. */
static void gather(run *r, const int64_t *idx, int64_t B)
{
    int lm = strcmp(r->model, "lstm") == 0;
    for (int64_t b = 0; b < B; b++) {
        if (lm) {
            const float *s = r->data + (size_t)idx[b] * (T + 1);
            for (int t = 0; t < T; t++) r->bx[t * B + b] = s[t], r->by[t * B + b] = s[t + 1];
        } else {
            const float *s = r->data + (size_t)idx[b] * T * F;
            for (int t = 0; t < T; t++)
                for (int f = 0; f < F; f++) r->bx[(t * B + b) * F + f] = s[t * F + f];
            r->by[b] = r->labels[idx[b]];
        }
    }
}

static int64_t steps_per_epoch(const run *r) { return recur_shard_steps(N_TRAIN, r->B, r->size); }

static recur_status feed(void *user, int64_t step, recur_plan *plan)
{
    run *r = user;
    int64_t spe = steps_per_epoch(r), epoch = step / spe, k = step % spe;
    if (epoch != r->perm_epoch) {
        recur_permutation(r->perm, N_TRAIN, 99 + (uint64_t)epoch);
        r->perm_epoch = epoch;
    }
    gather(r, r->perm + recur_shard_offset(k, r->B, r->rank, r->size), r->B);
    int lm = strcmp(r->model, "lstm") == 0;
    recur_status st = recur_plan_feed(plan, r->x, r->bx, lm ? T * r->B : T * r->B * F);
    return st == RECUR_OK ? recur_plan_feed(plan, r->y, r->by, lm ? T * r->B : r->B) : st;
}

static recur_status on_step(void *user, recur_trainer *t, int64_t step, float loss)
{
    (void)t, (void)loss;
    run *r = user;
    if (r->rank == r->kill_rank && step == r->kill_at) raise(SIGKILL);
    return RECUR_OK;
}

/* The rank's share of the test sequences in batches of B (the last one wrapping around its share); its mean loss. */
static recur_status eval(void *user, recur_trainer *t, int64_t step, double *loss)
{
    (void)step;
    run *r = user;
    int64_t first, count;
    recur_shard_range(N_TEST, r->rank, r->size, &first, &count);
    int lm = strcmp(r->model, "lstm") == 0;
    int64_t *idx = malloc(sizeof *idx * (size_t)r->B);
    double sum = 0;
    int64_t batches = 0;
    for (int64_t at = 0; at < count; at += r->B, batches++) {
        for (int64_t b = 0; b < r->B; b++) idx[b] = N_TRAIN + first + (at + b) % count;
        gather(r, idx, r->B);
        float l;
        int64_t nx = lm ? T * r->B : T * r->B * F, ny = lm ? T * r->B : r->B;
        if (recur_plan_feed(r->eval, r->x, r->bx, nx) != RECUR_OK || recur_plan_feed(r->eval, r->y, r->by, ny) != RECUR_OK ||
            recur_plan_run(r->eval) != RECUR_OK || recur_plan_fetch(r->eval, r->loss, &l, 1) != RECUR_OK) {
            free(idx);
            return recur_trainer_set_error(t, RECUR_ERR_RUNTIME, "eval: %s", recur_plan_errmsg(r->eval));
        }
        sum += l;
    }
    free(idx);
    *loss = sum / (double)batches;
    return RECUR_OK;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: mpi_train lstm|gru GLOBAL_BATCH STEPS OUT [--resume PATH] [--save PATH] "
                        "[--kill-rank R --kill-at S] [--no-overlap] [--bucket-bytes N] [--seed-by-rank]\n");
        return 2;
    }
    if (recur_mpi_launched() && recur_mpi_init(&argc, &argv) != RECUR_OK)
        return fprintf(stderr, "mpi_train: %s\n", recur_mpi_errmsg()), 1;
    run r = {.model = argv[1], .rank = recur_mpi_rank(), .size = recur_mpi_size(), .perm_epoch = -1, .kill_rank = -1};
    int64_t global = atoll(argv[2]), steps = atoll(argv[3]);
    const char *out = argv[4], *resume = NULL, *save = NULL;
    recur_mpi_opts mo = {0};
    int seed_by_rank = 0;
    for (int i = 5; i < argc; i++) {
        if (!strcmp(argv[i], "--resume") && i + 1 < argc) resume = argv[++i];
        else if (!strcmp(argv[i], "--save") && i + 1 < argc) save = argv[++i];
        else if (!strcmp(argv[i], "--kill-rank") && i + 1 < argc) r.kill_rank = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--kill-at") && i + 1 < argc) r.kill_at = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--bucket-bytes") && i + 1 < argc) mo.bucket_bytes = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--no-overlap")) mo.no_overlap = 1;
        else if (!strcmp(argv[i], "--seed-by-rank")) seed_by_rank = 1;
        else return fprintf(stderr, "mpi_train: unknown option %s\n", argv[i]), 2;
    }
    if (strcmp(r.model, "lstm") != 0 && strcmp(r.model, "gru") != 0) return fprintf(stderr, "mpi_train: model lstm or gru\n"), 2;
    if (global % r.size) return fprintf(stderr, "mpi_train: %d ranks do not divide batch %lld\n", r.size, (long long)global), 2;
    r.B = global / r.size;
    int lm = strcmp(r.model, "lstm") == 0;
    make_data(&r);
    r.perm = malloc(sizeof *r.perm * N_TRAIN);
    r.bx = malloc(sizeof(float) * (size_t)(T * r.B * F));
    r.by = malloc(sizeof(float) * (size_t)(T * r.B));

    recur_graph *g = recur_graph_new(seed_by_rank ? 7 + (uint64_t)r.rank : 7);
    recur_rnn rnn;
    recur_value logits;
    if (lm) {
        r.x = recur_input(g, "ids", recur_shape2(T, r.B));
        r.y = recur_input(g, "next", recur_shape2(T, r.B));
        recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = E, .hidden = H};
        recur_rnn_new(g, "lstm", &o, recur_embedding(g, "emb", r.x, V, E), RECUR_NONE, RECUR_NONE, &rnn);
        logits = recur_dense(g, "out", rnn.outputs, V, 1);
    } else {
        r.x = recur_input(g, "xs", recur_shape3(T, r.B, F));
        r.y = recur_input(g, "labels", recur_shape1(r.B));
        recur_rnn_opts o = {.kind = RECUR_GRU, .input_size = F, .hidden = H};
        recur_rnn_new(g, "gru", &o, r.x, RECUR_NONE, RECUR_NONE, &rnn);
        logits = recur_dense(g, "head", recur_last_step(g, rnn.outputs), C, 1);
    }
    r.loss = recur_softmax_xent(g, logits, r.y, RECUR_NONE);
    if (!recur_ok(r.loss) || recur_unroll(g) != RECUR_OK) return fprintf(stderr, "mpi_train: %s\n", recur_errmsg(g)), 1;
    recur_value params[16];
    int np = recur_params(g, params, 16);
    recur_trainer_opts o = recur_trainer_defaults();
    o.optim.lr = 1e-2;
    o.optim.max_grad_norm = 0.5; /* clips most steps: the norm must be the global one */
    o.feed = feed;
    o.on_step = on_step;
    o.eval = eval;
    o.user = &r;
    o.progress = RECUR_PROGRESS_OFF;
    recur_trainer *t = recur_trainer_new(g, r.loss, np, params, &o);
    if (!t) return fprintf(stderr, "mpi_train: %s\n", recur_errmsg(g)), 1;
    recur_compile_opts eo = {.inference = 1};
    r.eval = recur_compile(g, 1, &r.loss, &eo);
    if (!r.eval) return fprintf(stderr, "mpi_train: %s\n", recur_errmsg(g)), 1;
    recur_status st = RECUR_OK;
    if (resume && (st = recur_trainer_load(t, resume)) != RECUR_OK)
        fprintf(stderr, "mpi_train: rank %d: %s\n", r.rank, recur_trainer_errmsg(t));
    if (st == RECUR_OK && (st = recur_trainer_distribute(t, &mo)) != RECUR_OK)
        fprintf(stderr, "mpi_train: rank %d: %s\n", r.rank, recur_trainer_errmsg(t));
    for (int64_t s = 0; st == RECUR_OK && s < steps; s++) { /* a step, then the save */
        st = recur_trainer_run(t, 1);
        if (st == RECUR_OK && save) st = recur_trainer_save(t, save);
        if (st != RECUR_OK) fprintf(stderr, "mpi_train: rank %d: %s\n", r.rank, recur_trainer_errmsg(t));
    }
    if (st != RECUR_OK) recur_mpi_abort(1);
    double e = recur_trainer_eval_loss(t);
    if (r.rank == 0) {
        FILE *f = fopen(out, "wb");
        for (int i = 0; f && i < np; i++)
            fwrite(recur_param_data(g, params[i]), sizeof(float), (size_t)recur_shape_numel(recur_value_shape(g, params[i])), f);
        if (!f || fclose(f) != 0) return fprintf(stderr, "mpi_train: cannot write %s\n", out), 1;
        recur_mpi_stats ms = recur_trainer_mpi_stats(t);
        printf("step %lld loss %.9g eval %.9g ranks %d bytes %lld messages %d buckets %d\n", (long long)recur_trainer_step(t),
               (double)recur_trainer_loss(t), e, ms.ranks, (long long)ms.bytes_per_step, ms.messages_per_step, ms.buckets);
    }
    recur_plan_free(r.eval);
    recur_trainer_free(t);
    recur_graph_free(g);
    free(r.data), free(r.labels), free(r.perm), free(r.bx), free(r.by);
    recur_mpi_finalize();
    return 0;
}
