/*
 * recur/mpi.h — data-parallel training over MPI (Open MPI): every rank
 * builds the same graph, starts from rank 0's parameters, reads its own
 * shard of the data, and after each backward pass the gradients are
 * averaged across the ranks, so N ranks with batch B each take the steps
 * one process with batch N B would take (only the order of the sums
 * differs). A program needs three calls:
 *
 *   recur_mpi_init(&argc, &argv);          // MPI_Init; rank and size known from here
 *   ... build the graph, recur_trainer_new(...) with a feed that reads the
 *       rank's shard (recur_shard_offset in recur/data.h) ...
 *   recur_trainer_distribute(t, NULL);     // rank 0's weights; gradients averaged from now on
 *   recur_trainer_run(t, steps);           // only rank 0 prints and saves
 *   recur_mpi_finalize();
 *
 * and runs as `mpirun -np 4 ./program` (several machines: `mpirun
 * --hostfile hosts -np 8 ./program`). Without recur_mpi_init recur never
 * touches MPI, and every call here acts as on one rank: rank 0 of 1,
 * sums of one term, broadcasts that change nothing.
 *
 * How the gradients travel: each gradient is reduced in place in the
 * training plan's own buffer (MPI_Iallreduce with MPI_IN_PLACE; nothing is
 * copied by recur). recur_plan_on_ready (recur/exec.h) tells when
 * backpropagation has finished a gradient; gradients are grouped, in the
 * order backward finishes them, into buckets of about bucket_bytes, and a
 * bucket's reductions start as soon as its last gradient is done, while
 * backward computes the next ones; the trainer waits for them all after
 * the run, then divides by the number of ranks:
 *
 *   g = (1/N) sum_r g_r,   loss = (1/N) sum_r loss_r
 *
 * With equal batches on every rank and a loss that is a mean over the
 * batch, that is the gradient and loss of the whole batch of N B. Clipping
 * by global norm (max_grad_norm) then works on the averaged gradients: the
 * norm is the global one, and every rank clips alike.
 *
 * Failures: a call that fails returns a status and leaves its reason in
 * recur_mpi_errmsg() (per thread), naming the rank, the buffer and its
 * size. A rank that fails alone inside a training step (its feed, a NaN
 * only it sees) leaves the others waiting in the reduction: a program
 * should end the job then with recur_mpi_abort, as `recur train` does. A
 * rank that dies (killed, out of memory) ends the job through mpirun, which
 * stops the other ranks and names the dead one.
 */
#ifndef RECUR_MPI_H
#define RECUR_MPI_H

#include "checkpoint.h"
#include "common.h"
#include "trainer.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * 1 when this process was started by an MPI launcher (mpirun, mpiexec,
 * srun): one of the environment variables OMPI_COMM_WORLD_SIZE,
 * PMIX_RANK, PMI_SIZE is set. It touches no MPI function, so a program
 * can ask it before deciding to call recur_mpi_init.
 */
RECUR_API int recur_mpi_launched(void);

/**
 * Initializes MPI (MPI_Init_thread, funneled: only the calling thread
 * uses MPI), unless the program already did, and makes MPI's errors return
 * to recur instead of ending the process. argc and argv may be NULL.
 * Started without a launcher, the process is a world of one rank (Open MPI
 * takes about a second for that). RECUR_ERR_RUNTIME with MPI's message if
 * MPI cannot start. Calling it again does nothing.
 */
RECUR_API recur_status recur_mpi_init(int *argc, char ***argv);

/**
 * Finalizes MPI if recur_mpi_init initialized it (a program that called
 * MPI_Init itself finalizes it itself). Every rank must call it. Does
 * nothing without recur_mpi_init.
 */
RECUR_API recur_status recur_mpi_finalize(void);

/** 1 between recur_mpi_init and recur_mpi_finalize. */
RECUR_API int recur_mpi_active(void);

/** This process's rank in MPI_COMM_WORLD (0 without MPI). */
RECUR_API int recur_mpi_rank(void);

/** The number of ranks (1 without MPI). */
RECUR_API int recur_mpi_size(void);

/** Message of the calling thread's most recent failure of a call of this header ("" if none). */
RECUR_API const char *recur_mpi_errmsg(void);

/**
 * Ends every rank of the job with exit code `code` (MPI_Abort), after
 * flushing stdout and stderr; without MPI it exits the process. For a
 * program whose rank failed alone (see the top of this header).
 */
RECUR_API void recur_mpi_abort(int code);

/** Waits until every rank has called it (MPI_Barrier). */
RECUR_API recur_status recur_mpi_barrier(void);

/**
 * Replaces x[0..n) on every rank by its sum over the ranks (in double).
 * For an evaluation: each rank sums its shard's losses and counts, then
 * sum / count is the mean over every shard. Every rank must call it with
 * the same n.
 */
RECUR_API recur_status recur_mpi_sum(double *x, int n);

/**
 * Copies rank 0's x[0..n) to every rank (MPI_Bcast; any n, sent in parts
 * of at most 2^30 floats). `what` names the buffer in messages.
 */
RECUR_API recur_status recur_mpi_broadcast(float *x, int64_t n, const char *what);

/** Copies rank 0's parameters of g (every parameter, in the graph's order) to every rank. */
RECUR_API recur_status recur_mpi_broadcast_params(recur_graph *g);

/**
 * recur_ckpt_load_flags for every rank from a file only rank 0 needs to
 * see: rank 0 reads `path` and sends its bytes to the others, and every
 * rank parses them. When rank 0 cannot read it, every rank fails with
 * rank 0's reason. (Checkpoints are written by rank 0 alone, on its
 * machine: this is how the other machines resume from them.)
 */
RECUR_API recur_status recur_mpi_ckpt_load(const char *path, unsigned flags, recur_ckpt **out);

/* ---------------------------------------------------- the trainer, distributed */

/** Options of recur_trainer_distribute; zeros select the defaults. */
typedef struct recur_mpi_opts {
    /**
     * A bucket's reductions start once about this many bytes of gradients
     * are done (default 4 MiB; the last bucket takes what is left). Smaller
     * buckets start sooner, larger ones send fewer messages.
     */
    int64_t bucket_bytes;
    /** 1: reduce every gradient after the whole backward pass, in one blocking call each (for measuring overlap). */
    int no_overlap;
} recur_mpi_opts;

/**
 * Makes trainer t data-parallel over every rank of MPI_COMM_WORLD; every
 * rank calls it, after recur_trainer_new (and after restoring a
 * checkpoint, if any). It
 *   - copies rank 0's parameters, optimizer state (step count, lr, every
 *     state tensor), step count and plan runs to every rank;
 *   - from the next step on, averages the loss and every gradient over the
 *     ranks in place in the training plan (see the top of this header);
 *   - turns progress off on every rank but 0, and counts tokens per
 *     second over all ranks (tokens_per_step times the number of ranks);
 *   - makes the trainer's own evaluation (eval_model) run batches k =
 *     rank, rank + N, ... and report the mean over all of them, and an
 *     eval callback's loss the mean of the ranks' losses;
 *   - makes recur_trainer_save write on rank 0 only (every rank returns
 *     rank 0's status), and recur_trainer_load read on rank 0 only
 *     (recur_mpi_ckpt_load).
 * Under one rank, or without recur_mpi_init, it changes nothing and
 * returns RECUR_OK, so a program can call it unconditionally. o may be
 * NULL. Errors are left in recur_trainer_errmsg.
 */
RECUR_API recur_status recur_trainer_distribute(recur_trainer *t, const recur_mpi_opts *o);

/** What the averaging of a distributed trainer has cost so far (recur_trainer_mpi_stats). */
typedef struct recur_mpi_stats {
    int ranks;               /**< the number of ranks (1: not distributed) */
    int64_t steps;           /**< steps whose gradients were averaged */
    int64_t bytes_per_step;  /**< bytes each rank reduces per step (the gradients and the loss) */
    int messages_per_step;   /**< reductions per step (buffers adjacent in memory travel as one) */
    int buckets;             /**< buckets per step */
    double seconds_in_hooks; /**< time spent starting reductions during backward */
    double seconds_waiting;  /**< time spent after backward waiting for the reductions to end, and dividing */
} recur_mpi_stats;

/** The costs of trainer t's averaging so far (all zeros but ranks = 1 for a trainer not distributed). */
RECUR_API recur_mpi_stats recur_trainer_mpi_stats(const recur_trainer *t);

#ifdef __cplusplus
}
#endif
#endif
