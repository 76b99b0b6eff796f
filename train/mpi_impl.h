/*
 * train/mpi_impl.h — what the trainer (train/trainer.c, trainer_ckpt.c,
 * trainer_mpi.c) asks of its MPI averaging (train/mpi.c); private to train/.
 */
#ifndef RECUR_TRAIN_MPI_IMPL_H
#define RECUR_TRAIN_MPI_IMPL_H

#include "recur/mpi.h"

/* A distributed trainer's averaging: its buffers, buckets and requests (train/mpi.c). */
typedef struct recur_mpi_trainer recur_mpi_trainer;

/*
 * The averaging of a training plan's loss and gradients over the ranks
 * (their buffers in the plan; with overlap, a ready hook on each:
 * recur_plan_on_ready). RECUR_OK with *out set, or the error, its reason
 * in recur_mpi_errmsg, and the plan's hooks taken back.
 */
recur_status recur_mpi_trainer_new(recur_plan *plan, recur_graph *g, recur_value loss, int n_grads,
                                   const recur_value *grads, const recur_mpi_opts *opts, recur_mpi_trainer **out);

/* Frees it. NULL is allowed. */
void recur_mpi_trainer_free(recur_mpi_trainer *m);

/* What its averaging has cost so far (ranks 1 and nothing else for NULL). */
recur_mpi_stats recur_mpi_trainer_stats(const recur_mpi_trainer *m);

/* Copies n doubles of rank 0 to every rank (a collective call); the reason of a failure in recur_mpi_errmsg. */
recur_status recur_mpi_counts_broadcast(double *x, int n);

/*
 * After a successful run of the training plan: waits for the reductions
 * started during backward (or, in the first run and without overlap, makes
 * them), then divides the loss and every gradient by the number of ranks.
 * The reason of a failure is in recur_mpi_errmsg.
 */
recur_status recur_mpi_trainer_after_run(recur_mpi_trainer *m);

/*
 * Every rank returns rank 0's status `st` (a collective call); a rank
 * other than 0 whose status is taken from rank 0 gets the message
 * "rank 0 failed <what>" in recur_mpi_errmsg.
 */
recur_status recur_mpi_trainer_agree(recur_mpi_trainer *m, recur_status st, const char *what);

#endif
