/*
 * ops/include/ops/threads.h — recur's own threads (private): the process's
 * thread cap (recur_set_threads, recur/common.h) and a small pool of
 * worker threads that the kernels' large loops and the oneDNN backend's
 * large products run on.
 *
 * A job is n chunks, independent of each other. The calling thread takes
 * part: chunks are handed out one at a time from an atomic counter, to the
 * caller and to whichever workers are awake, so a worker whose core is
 * taken by another process simply takes fewer chunks (or none). The caller
 * waits only for chunks a worker has already taken, never for a worker to
 * start. Workers spin for a short while after a job (the next one usually
 * follows within microseconds) and then sleep on a futex, so an idle
 * recur costs no CPU and a busy machine is not fought for. When the caller
 * had to wait far longer for a worker's chunk than its own chunks took (the
 * worker lost its core to another process), the jobs of the next few
 * milliseconds run on the caller alone: a solo spell, longer while it keeps
 * happening (ops/threads.c); so do they when the caller itself waited long
 * for a core (another process shares it, and the worker spinning on the
 * other core keeps the scheduler from moving the caller there).
 *
 * One job runs at a time: a job offered while another runs (from another
 * thread of the program, or from inside a chunk) runs whole on the thread
 * that offered it, so nesting and concurrent callers never deadlock.
 */
#ifndef RECUR_OPS_THREADS_H
#define RECUR_OPS_THREADS_H

#include <stdint.h>

/* Chunk `chunk` of a job, run by participant `slot` (0: the caller; 0 <= slot < the job's width). */
typedef void (*recur_chunk_fn)(void *ctx, int64_t chunk, int slot);

/*
 * The threads recur may use: the cap set by recur_set_threads, or by
 * default the OMP_NUM_THREADS of the environment (its first number) if set,
 * else the processors this process may run on (sched_getaffinity). >= 1.
 */
int recur_threads_cap(void);

/*
 * Runs fn(ctx, c, slot) for every chunk c in [0, n_chunks), on at most
 * `width` threads at once (the caller and width - 1 workers), and returns
 * when every chunk has run. With width <= 1, n_chunks <= 1, or the pool
 * busy with another job, the caller runs them all, in order, as slot 0.
 */
void recur_pool_run(int64_t n_chunks, int width, recur_chunk_fn fn, void *ctx);

/* Test hooks: jobs handed to the pool (run with width >= 2), and chunks that workers ran. */
long recur_pool_jobs(void);
long recur_pool_worker_chunks(void);

/*
 * Test hooks: solo spells begun (ops/threads.c: jobs run on the caller
 * alone after a long wait for a worker, or after the caller waited long for
 * its own core), and those of them begun by the latter.
 */
long recur_pool_solo_spells(void);
long recur_pool_preempted_spells(void);

#endif
