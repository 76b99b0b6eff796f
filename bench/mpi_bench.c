/*
 * bench/mpi_bench.c — data-parallel training speed (recur/mpi.h): the
 * character model of `recur train` (one-hot symbols, an LSTM of 128, a
 * dense softmax; windows of 40 symbols of The Adventures of Sherlock
 * Holmes, or of a generated text without it) trained on every rank of
 * mpirun, each rank with its own batch (weak scaling: the per-rank batch
 * stays, the step's batch grows with the ranks).
 *
 *   mpirun -np 2 bench/mpi_bench [--steps N] [--batch B] [--hidden H] [--no-overlap] [--bucket-bytes N]
 *
 * Rank 0 prints one line:
 *   mpi ranks=2 batch=64 steps=.. ms_step=.. tok_s=.. mpi_share=.. hooks_ms=.. wait_ms=.. bytes=.. messages=..
 *   buckets=.. allreduce_ms=.. overlap=1
 * tok_s counts every rank's tokens; mpi_share is the share of a step spent
 * in MPI (starting reductions during backward plus waiting after it, the
 * slowest rank's); allreduce_ms is a blocking MPI_Allreduce of the same
 * bytes on its own (the message the estimate in docs/performance.md
 * starts from). bench/run_mpi runs it on 1 and 2 ranks and takes medians.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recur.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct bench {
    recur_corpus *text;
    int64_t L, B, n_windows;
    int rank, size;
    int64_t *perm;
    float *x, *y, *ones;
    recur_value ids, next, mask;
} bench;

static recur_status feed(void *user, int64_t step, recur_plan *plan)
{
    bench *b = user;
    int64_t spe = recur_shard_steps(b->n_windows, b->B, b->size);
    int64_t k = step % spe;
    recur_status st = recur_corpus_batch(b->text, b->L, b->L, b->perm + recur_shard_offset(k, b->B, b->rank, b->size), b->B,
                                         b->x, b->y, NULL);
    if (st == RECUR_OK) st = recur_plan_feed(plan, b->ids, b->x, b->L * b->B);
    if (st == RECUR_OK) st = recur_plan_feed(plan, b->next, b->y, b->L * b->B);
    if (st == RECUR_OK) st = recur_plan_feed(plan, b->mask, b->ones, b->L * b->B);
    return st;
}

/* A text of about n symbols: Sherlock Holmes when found, else words drawn from a fixed list. */
static recur_corpus *load_text(void)
{
    char path[4096];
    if (recur_data_path("sherlock_adventures.txt", path, sizeof path) == RECUR_OK) {
        recur_corpus *c = recur_corpus_load(path);
        if (c) return c;
    }
    static const char *words[] = {"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Holmes", "said", "Watson,", "and."};
    size_t n = 600000, len = 0;
    char *s = malloc(n + 16);
    uint64_t r = 1;
    while (len < n) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        const char *w = words[(r >> 33) % 12];
        len += (size_t)sprintf(s + len, "%s ", w);
    }
    recur_corpus *c = recur_corpus_from_text(s, len);
    free(s);
    return c;
}

int main(int argc, char **argv)
{
    if (recur_mpi_init(&argc, &argv) != RECUR_OK) return fprintf(stderr, "mpi_bench: %s\n", recur_mpi_errmsg()), 1;
    bench b = {.L = 40, .B = 64, .rank = recur_mpi_rank(), .size = recur_mpi_size()};
    int64_t steps = 60, H = 128, warm = 5;
    recur_mpi_opts mo = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) b.B = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--hidden") && i + 1 < argc) H = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--bucket-bytes") && i + 1 < argc) mo.bucket_bytes = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--no-overlap")) mo.no_overlap = 1;
        else return fprintf(stderr, "mpi_bench: unknown option %s\n", argv[i]), 2;
    }
    if (!(b.text = load_text())) return fprintf(stderr, "mpi_bench: %s\n", recur_data_errmsg()), 1;
    int64_t V = recur_corpus_vocab_size(b.text);
    b.n_windows = recur_corpus_window_count(b.text, b.L, b.L);
    b.perm = malloc(sizeof *b.perm * (size_t)b.n_windows);
    recur_permutation(b.perm, b.n_windows, 1);
    size_t LB = (size_t)(b.L * b.B);
    b.x = malloc(sizeof(float) * LB), b.y = malloc(sizeof(float) * LB), b.ones = malloc(sizeof(float) * LB);
    for (size_t i = 0; i < LB; i++) b.ones[i] = 1;

    recur_graph *g = recur_graph_new(1);
    b.ids = recur_input(g, "ids", recur_shape2(b.L, b.B));
    b.next = recur_input(g, "next", recur_shape2(b.L, b.B));
    b.mask = recur_input(g, "mask", recur_shape2(b.L, b.B));
    recur_rnn lstm;
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = V, .hidden = H};
    recur_status st = recur_rnn_new(g, "lstm", &o, recur_one_hot(g, b.ids, V), RECUR_NONE, RECUR_NONE, &lstm);
    recur_value loss = recur_softmax_xent(g, recur_dense(g, "out", lstm.outputs, V, 1), b.next, b.mask);
    if (st != RECUR_OK || !recur_ok(loss) || recur_unroll(g) != RECUR_OK)
        return fprintf(stderr, "mpi_bench: %s\n", recur_errmsg(g)), 1;
    recur_value params[16];
    int np = recur_params(g, params, 16);
    recur_trainer_opts to = recur_trainer_defaults();
    to.optim.lr = 2e-3;
    to.optim.max_grad_norm = 5;
    to.compile.backend = "onednn";
    to.feed = feed;
    to.user = &b;
    to.progress = RECUR_PROGRESS_OFF;
    recur_trainer *t = recur_trainer_new(g, loss, np, params, &to);
    if (!t) return fprintf(stderr, "mpi_bench: %s\n", recur_errmsg(g)), 1;
    if (recur_trainer_distribute(t, &mo) != RECUR_OK) return fprintf(stderr, "mpi_bench: %s\n", recur_trainer_errmsg(t)), 1;
    if (recur_trainer_run(t, warm) != RECUR_OK) return fprintf(stderr, "mpi_bench: %s\n", recur_trainer_errmsg(t)), 1;
    recur_mpi_stats s0 = recur_trainer_mpi_stats(t);
    recur_mpi_barrier();
    double t0 = now();
    if (recur_trainer_run(t, steps) != RECUR_OK) return fprintf(stderr, "mpi_bench: %s\n", recur_trainer_errmsg(t)), 1;
    recur_mpi_barrier();
    double secs = now() - t0;
    recur_mpi_stats s1 = recur_trainer_mpi_stats(t);
    /* the slowest rank's time in MPI */
    double in_mpi[2] = {s1.seconds_in_hooks - s0.seconds_in_hooks, s1.seconds_waiting - s0.seconds_waiting}, worst[2];
    MPI_Allreduce(in_mpi, worst, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    /* a blocking allreduce of the same bytes alone */
    double allreduce_ms = 0;
    if (b.size > 1) {
        int64_t n = s1.bytes_per_step / (int64_t)sizeof(float);
        float *buf = calloc((size_t)n, sizeof(float));
        for (int k = 0; k < 3; k++) MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        MPI_Barrier(MPI_COMM_WORLD);
        double a0 = now();
        for (int k = 0; k < 20; k++) MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        allreduce_ms = (now() - a0) / 20 * 1e3;
        free(buf);
    }
    if (b.rank == 0)
        printf("mpi ranks=%d batch=%lld hidden=%lld steps=%lld ms_step=%.2f tok_s=%.0f mpi_share=%.4f hooks_ms=%.3f wait_ms=%.3f "
               "bytes=%lld messages=%d buckets=%d allreduce_ms=%.3f overlap=%d\n",
               b.size, (long long)b.B, (long long)H, (long long)steps, secs / (double)steps * 1e3,
               (double)(b.L * b.B * b.size * steps) / secs, (worst[0] + worst[1]) / secs, worst[0] / (double)steps * 1e3,
               worst[1] / (double)steps * 1e3, (long long)s1.bytes_per_step, s1.messages_per_step, s1.buckets, allreduce_ms,
               !mo.no_overlap);
    recur_trainer_free(t);
    recur_graph_free(g);
    recur_corpus_free(b.text);
    free(b.perm), free(b.x), free(b.y), free(b.ones);
    recur_mpi_finalize();
    return 0;
}
