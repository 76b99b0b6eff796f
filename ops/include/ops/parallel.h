/*
 * ops/include/ops/parallel.h — threads for the memory-bound kernels (private): a loop
 * over independent items (elements, rows, column blocks) runs on OpenMP's
 * threads (the pool oneDNN uses, sized by OMP_NUM_THREADS) once it moves
 * enough floats to pay for waking them; smaller loops, and builds without
 * OpenMP, call the body once, on the calling thread, without entering
 * OpenMP at all.
 *
 * Kernels split work over output elements, never over a summed axis, so
 * results do not depend on the number of threads.
 */
#ifndef RECUR_OPS_PARALLEL_H
#define RECUR_OPS_PARALLEL_H

#include <stdint.h>

/*
 * Floats moved from which a loop is split across threads: waking the pool
 * costs a few microseconds, about the time one core takes to stream this
 * many.
 */
#define RECUR_PARALLEL_MIN 65536

/* A loop body: handles items [lo, hi) as part `part` (0 .. parts-1, one thread each). */
typedef void (*recur_range_fn)(void *ctx, int64_t lo, int64_t hi, int part);

/* The number of parts recur_parallel_range will cut n items into for a loop moving `floats` floats. */
int recur_parallel_parts(int64_t n, int64_t floats);

/*
 * Runs fn over items [0, n) cut into recur_parallel_parts(n, floats)
 * contiguous ranges of near-equal size, one per thread; with one part,
 * calls fn(ctx, 0, n, 0) directly.
 */
void recur_parallel_range(int64_t n, int64_t floats, recur_range_fn fn, void *ctx);

#endif
