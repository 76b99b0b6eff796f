/*
 * train/mpi_impl.h — what the trainer (train/trainer.c, trainer_ckpt.c)
 * asks of its MPI averaging (train/mpi.c); private to train/.
 */
#ifndef RECUR_TRAIN_MPI_IMPL_H
#define RECUR_TRAIN_MPI_IMPL_H

#include "recur/mpi.h"

/* A distributed trainer's averaging: its buffers, buckets and requests (train/mpi.c). */
typedef struct recur_mpi_trainer recur_mpi_trainer;

/* Frees it. NULL is allowed. */
void recur_mpi_trainer_free(recur_mpi_trainer *m);

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
