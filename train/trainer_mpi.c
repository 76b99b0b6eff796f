/*
 * train/trainer_mpi.c — a trainer made data-parallel (recur/mpi.h:
 * recur_trainer_distribute): rank 0's parameters, optimizer state and
 * counts copied to every rank, then the averaging of the loss and
 * gradients (train/mpi.c) hooked on the trainer's plan. Above both the
 * trainer (train/trainer.c) and MPI's averaging, so neither calls the other
 * back.
 */
#include <stdlib.h>

#include "mpi_impl.h"
#include "plan/plan.h"
#include "trainer_impl.h"

/* Copies rank 0's trainer (parameters, optimizer state, counts) to every rank. */
static recur_status broadcast_trainer(recur_trainer *t)
{
    recur_status st = recur_mpi_broadcast_params(t->g);
    int ns = recur_optim_state_count(t->opt);
    for (int i = 0; i < ns && st == RECUR_OK; i++) {
        recur_optim_tensor s;
        recur_optim_state(t->opt, i, &s);
        st = recur_mpi_broadcast(s.data, s.numel, s.name);
    }
    if (st != RECUR_OK) return st;
    double counts[4] = {(double)t->step, (double)recur_optim_steps(t->opt), recur_optim_lr(t->opt),
                        (double)recur_plan_runs(t->plan)};
    if ((st = recur_mpi_counts_broadcast(counts, 4)) != RECUR_OK) return st;
    t->step = (int64_t)counts[0];
    recur_optim_set_steps(t->opt, (int64_t)counts[1]);
    recur_optim_set_lr(t->opt, counts[2]);
    recur_plan_set_runs(t->plan, (uint64_t)counts[3]);
    return RECUR_OK;
}

recur_status recur_trainer_distribute(recur_trainer *t, const recur_mpi_opts *o)
{
    if (!t) return RECUR_ERR_ARG;
    if (!recur_mpi_active() || recur_mpi_size() == 1) return RECUR_OK;
    int rank = recur_mpi_rank();
    if (t->mpi) return recur_trainer_set_error(t, RECUR_ERR_STATE, "trainer_distribute: rank %d: already distributed", rank);
    recur_mpi_opts opts = o ? *o : (recur_mpi_opts){0};
    if (opts.bucket_bytes < 0)
        return recur_trainer_set_error(t, RECUR_ERR_ARG, "trainer_distribute: bucket_bytes = %lld must be >= 0",
                                       (long long)opts.bucket_bytes);
    if (!opts.bucket_bytes) opts.bucket_bytes = (int64_t)4 << 20;
    recur_mpi_trainer *m = NULL;
    recur_status st = broadcast_trainer(t);
    if (st == RECUR_OK) st = recur_mpi_trainer_new(t->plan, t->g, t->loss, t->n, t->grad, &opts, &m);
    if (st != RECUR_OK) return recur_trainer_set_error(t, st, "trainer_distribute: %s", recur_mpi_errmsg());
    t->mpi = m;
    if (rank != 0) t->mode = RECUR_PROGRESS_OFF;
    t->o.tokens_per_step *= recur_mpi_size();
    return RECUR_OK;
}

recur_mpi_stats recur_trainer_mpi_stats(const recur_trainer *t)
{
    return t ? recur_mpi_trainer_stats(t->mpi) : (recur_mpi_stats){.ranks = 1};
}
