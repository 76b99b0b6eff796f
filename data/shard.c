/*
 * data/shard.c — sharding a data set by rank for data-parallel training
 * (recur/mpi.h): every rank reads its own part, and every rank takes the
 * same number of steps per epoch.
 *
 * An epoch visits n items in an order perm (a permutation drawn from the
 * seed and the epoch, the same on every rank). With N ranks and B items per
 * rank per step, the global batch of step k is perm[k N B .. (k + 1) N B)
 * and rank r reads its slice of it, perm[(k N + r) B .. (k N + r + 1) B).
 * One process with batch N B reads the same items at step k, so N ranks
 * take one process's steps; the floor(n / (N B)) full global batches make
 * the epoch, the last n mod (N B) items of an order wait for another epoch.
 */
#include "data_util.h"

int64_t recur_shard_steps(int64_t n, int64_t batch, int size)
{
    if (n < 0 || batch < 1 || size < 1 || batch > INT64_MAX / size) {
        recur_error_set(recur_thread_error(), RECUR_ERR_ARG,
                        "shard_steps: %lld items, batch %lld, %d ranks: needs n >= 0, batch >= 1, size >= 1",
                        (long long)n, (long long)batch, size);
        return -1;
    }
    return n / (batch * size);
}

int64_t recur_shard_offset(int64_t k, int64_t batch, int rank, int size)
{
    if (k < 0 || batch < 1 || size < 1 || rank < 0 || rank >= size || batch > INT64_MAX / size ||
        k > (INT64_MAX / (batch * size)) - 1) {
        recur_error_set(recur_thread_error(), RECUR_ERR_ARG,
                        "shard_offset: step %lld, batch %lld, rank %d of %d: needs k >= 0, batch >= 1, 0 <= rank < size",
                        (long long)k, (long long)batch, rank, size);
        return -1;
    }
    return (k * size + rank) * batch;
}

/*
 * Rank r of N holds items [floor(n r / N), floor(n (r + 1) / N)): every
 * item once, the shares differing by at most one item.
 */
recur_status recur_shard_range(int64_t n, int rank, int size, int64_t *first, int64_t *count)
{
    if (n < 0 || size < 1 || rank < 0 || rank >= size || !first || !count)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG,
                               "shard_range: %lld items, rank %d of %d%s: needs n >= 0 and 0 <= rank < size",
                               (long long)n, rank, size, !first || !count ? " (NULL output)" : "");
    /* n r / N without overflowing: q N + m = n, so n r / N = q r + m r / N */
    int64_t q = n / size, m = n % size;
    int64_t lo = q * rank + m * rank / size, hi = q * (rank + 1) + m * (rank + 1) / size;
    *first = lo;
    *count = hi - lo;
    return RECUR_OK;
}
