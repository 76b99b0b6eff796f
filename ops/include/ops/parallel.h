/*
 * ops/include/ops/parallel.h — threads for the memory-bound kernels (private): a loop
 * over independent items (elements, rows, column blocks) runs on recur's
 * pool (ops/threads.h: the caller and up to recur_threads_cap() - 1
 * workers, taking chunks of the loop as they come) once it moves enough
 * floats to pay for it; smaller loops call the body once, on the calling
 * thread, without touching the pool at all.
 *
 * Kernels split work over output elements, never over a summed axis, so
 * results do not depend on the number of threads.
 */
#ifndef RECUR_OPS_PARALLEL_H
#define RECUR_OPS_PARALLEL_H

#include <stdint.h>

/*
 * Floats moved from which a loop is split across threads. Handing a job to
 * the pool costs a microsecond or two with its workers awake and a few more
 * to wake them; and on a machine where other processes want the cores, a
 * worker can lose its core in the middle of a chunk, which the caller then
 * waits for. So a loop is split only when it is worth a few tens of
 * microseconds on one core: an LSTM step's fused kernel from a batch of
 * 64 x 128 (moving about 290,000 floats by this measure) is, a batch of
 * 16 x 128 (72,000) and a generation step are not.
 */
#define RECUR_PARALLEL_MIN 131072

/* A loop body: handles items [lo, hi) as part `part` (0 .. parts-1: the thread running it, whose
 * scratch it may use; one thread runs one range at a time). */
typedef void (*recur_range_fn)(void *ctx, int64_t lo, int64_t hi, int part);

/* The number of parts recur_parallel_range will cut n items into for a loop moving `floats` floats. */
int recur_parallel_parts(int64_t n, int64_t floats);

/*
 * Runs fn over items [0, n): with recur_parallel_parts(n, floats) = 1,
 * calls fn(ctx, 0, n, 0) directly; otherwise cuts [0, n) into contiguous
 * ranges (a few per thread, each moving at least 131072 floats) that the
 * pool's threads take one at a time,
 * `part` naming the thread (< recur_parallel_parts).
 */
void recur_parallel_range(int64_t n, int64_t floats, recur_range_fn fn, void *ctx);

/*
 * recur_parallel_range with the least a chunk moves given: `chunk_floats`
 * floats (the cut is still at least a range per thread and at most a few).
 * recur_parallel_range takes 131072; a kernel that only streams its
 * operand, where each chunk restarts the hardware's prefetching, wants
 * more (ops/gemv.c).
 */
void recur_parallel_range_chunked(int64_t n, int64_t floats, int64_t chunk_floats, recur_range_fn fn, void *ctx);

#endif
