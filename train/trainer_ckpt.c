/*
 * train/trainer_ckpt.c — a trainer to and from a checkpoint: every
 * parameter of the graph and every state tensor of the optimizer under
 * their names, plus the metadata
 *   trainer.step         int     steps done
 *   trainer.optim        string  the optimizer's kind ("adam")
 *   trainer.optim_steps  int     the optimizer's step count (Adam's bias correction, the schedule)
 *   trainer.lr           float   the next step's learning rate
 *   trainer.plan_runs    int     the training plan's completed runs (its dropout masks depend on them;
 *                                absent in older checkpoints: then left as it is)
 * and whatever the caller's on_save adds. A restore checks all of it
 * before it writes anything.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_impl.h"
#include "trainer_impl.h"

recur_ckpt *recur_trainer_checkpoint(recur_trainer *t)
{
    if (!t) return NULL;
    recur_ckpt *ck = recur_ckpt_from_params(t->g);
    if (!ck) return recur_trainer_set_error(t, recur_errcode(t->g), "trainer checkpoint: %s", recur_errmsg(t->g)), NULL;
    recur_status st = RECUR_OK;
    for (int i = 0; st == RECUR_OK && i < recur_optim_state_count(t->opt); i++) {
        recur_optim_tensor s;
        recur_optim_state(t->opt, i, &s);
        if (recur_ckpt_find(ck, s.name) >= 0)
            st = recur_trainer_set_error(t, RECUR_ERR_ARG,
                                         "trainer checkpoint: optimizer state \"%s\" has the name of a parameter",
                                         s.name);
        else if ((st = recur_ckpt_set_tensor(ck, s.name, s.shape, s.data)) != RECUR_OK)
            recur_trainer_set_error(t, st, "trainer checkpoint: %s", recur_ckpt_errmsg(ck));
    }
    if (st == RECUR_OK &&
        ((st = recur_ckpt_set_int(ck, "trainer.step", t->step)) != RECUR_OK ||
         (st = recur_ckpt_set_str(ck, "trainer.optim", recur_optim_kind_name(recur_optim_kind_of(t->opt)))) != RECUR_OK ||
         (st = recur_ckpt_set_int(ck, "trainer.optim_steps", recur_optim_steps(t->opt))) != RECUR_OK ||
         (st = recur_ckpt_set_float(ck, "trainer.lr", recur_optim_lr(t->opt))) != RECUR_OK ||
         (st = recur_ckpt_set_int(ck, "trainer.plan_runs", (int64_t)recur_plan_runs(t->plan))) != RECUR_OK))
        recur_trainer_set_error(t, st, "trainer checkpoint: %s", recur_ckpt_errmsg(ck));
    if (st == RECUR_OK && t->o.on_save) {
        uint64_t errors = t->n_errors;
        st = t->o.on_save(t->o.user, ck);
        if (st != RECUR_OK && t->n_errors == errors)
            recur_trainer_set_error(t, st, "trainer checkpoint: the save callback returned %s%s%s",
                                    recur_status_str(st), recur_ckpt_errcode(ck) ? ": " : "", recur_ckpt_errmsg(ck));
        else if (st != RECUR_OK)
            recur_trainer_set_error(t, st, "trainer checkpoint: the save callback: %s", t->error.msg);
    }
    if (st != RECUR_OK) {
        recur_ckpt_free(ck);
        return NULL;
    }
    return ck;
}

/*
 * Checks that ck holds tensor `name` with shape `want`; records the
 * problem (naming `what` and the tensor) and returns -1 otherwise, its
 * index when it does.
 */
static int check_tensor(recur_trainer *t, const recur_ckpt *ck, const char *what, const char *name, recur_shape want)
{
    int i = recur_ckpt_find(ck, name);
    if (i < 0) {
        recur_trainer_set_error(t, RECUR_ERR_ARG, "trainer restore: the checkpoint has no tensor for %s \"%s\"", what,
                                name);
        return -1;
    }
    recur_shape have = recur_ckpt_at(ck, i).shape;
    if (!recur_shape_equal(have, want)) {
        char a[64], b[64];
        recur_trainer_set_error(t, RECUR_ERR_SHAPE, "trainer restore: %s \"%s\" is %s in the checkpoint but %s here",
                                what, name, recur_shape_str(have, a, sizeof a), recur_shape_str(want, b, sizeof b));
        return -1;
    }
    return i;
}

/* Reads an int metadata entry >= 0; records the problem and returns -1 otherwise. */
static int64_t meta_count(recur_trainer *t, recur_ckpt *ck, const char *key)
{
    int64_t v = -1;
    recur_status st = recur_ckpt_get_int(ck, key, &v);
    if (st != RECUR_OK)
        return recur_trainer_set_error(t, st, "trainer restore: %s", recur_ckpt_errmsg(ck)), -1;
    if (v < 0)
        return recur_trainer_set_error(t, RECUR_ERR_FORMAT, "trainer restore: %s = %lld must be >= 0", key,
                                       (long long)v), -1;
    return v;
}

recur_status recur_trainer_restore(recur_trainer *t, recur_ckpt *ck)
{
    if (!t) return RECUR_ERR_ARG;
    if (!ck) return recur_trainer_set_error(t, RECUR_ERR_ARG, "trainer restore: the checkpoint is NULL");

    /* Every parameter and state tensor, with its shape. */
    int np = recur_params(t->g, NULL, 0), ns = recur_optim_state_count(t->opt);
    recur_value *params = malloc(sizeof *params * ((size_t)np + 1));
    int *at = malloc(sizeof *at * ((size_t)np + (size_t)ns + 1));
    if (!params || !at) {
        free(params);
        free(at);
        return recur_trainer_set_error(t, RECUR_ERR_NOMEM, "trainer restore: out of memory");
    }
    recur_params(t->g, params, np);
    int ok = 1;
    for (int i = 0; ok && i < np; i++)
        ok = (at[i] = check_tensor(t, ck, "parameter", recur_value_name(t->g, params[i]),
                                   recur_value_shape(t->g, params[i]))) >= 0;
    for (int i = 0; ok && i < ns; i++) {
        recur_optim_tensor s;
        recur_optim_state(t->opt, i, &s);
        ok = (at[np + i] = check_tensor(t, ck, "optimizer state", s.name, s.shape)) >= 0;
    }

    /* The metadata. */
    const char *kind = NULL, *want = recur_optim_kind_name(recur_optim_kind_of(t->opt));
    int64_t step = -1, optim_steps = -1;
    double lr = NAN;
    recur_status st;
    if (ok && (st = recur_ckpt_get_str(ck, "trainer.optim", &kind)) != RECUR_OK)
        ok = 0, recur_trainer_set_error(t, st, "trainer restore: %s", recur_ckpt_errmsg(ck));
    if (ok && strcmp(kind, want) != 0)
        ok = 0, recur_trainer_set_error(t, RECUR_ERR_ARG,
                                        "trainer restore: the checkpoint's optimizer is %s, this trainer's is %s", kind,
                                        want);
    if (ok) ok = (step = meta_count(t, ck, "trainer.step")) >= 0;
    if (ok) ok = (optim_steps = meta_count(t, ck, "trainer.optim_steps")) >= 0;
    int64_t runs = -1; /* (older checkpoints have none) */
    if (ok && recur_ckpt_meta_find(ck, "trainer.plan_runs") >= 0) ok = (runs = meta_count(t, ck, "trainer.plan_runs")) >= 0;
    if (ok && (st = recur_ckpt_get_float(ck, "trainer.lr", &lr)) != RECUR_OK)
        ok = 0, recur_trainer_set_error(t, st, "trainer restore: %s", recur_ckpt_errmsg(ck));
    if (ok && !(lr >= 0 && isfinite(lr)))
        ok = 0, recur_trainer_set_error(t, RECUR_ERR_FORMAT,
                                        "trainer restore: trainer.lr = %g must be a finite number >= 0", lr);

    /* The caller's state, last: after it nothing can fail. */
    if (ok && t->o.on_load) {
        uint64_t errors = t->n_errors;
        st = t->o.on_load(t->o.user, t, ck);
        if (st != RECUR_OK) {
            ok = 0;
            if (t->n_errors == errors)
                recur_trainer_set_error(t, st, "trainer restore: the load callback returned %s", recur_status_str(st));
            else
                recur_trainer_set_error(t, st, "trainer restore: the load callback: %s", t->error.msg);
        }
    }
    if (!ok) {
        free(params);
        free(at);
        return t->error.code;
    }

    for (int i = 0; i < np; i++) {
        recur_ckpt_tensor c = recur_ckpt_at(ck, at[i]);
        memcpy(recur_param_data(t->g, params[i]), c.data, sizeof(float) * (size_t)recur_shape_numel(c.shape));
    }
    for (int i = 0; i < ns; i++) {
        recur_optim_tensor s;
        recur_optim_state(t->opt, i, &s);
        memcpy(s.data, recur_ckpt_at(ck, at[np + i]).data, sizeof(float) * (size_t)s.numel);
    }
    recur_optim_set_steps(t->opt, optim_steps);
    recur_optim_set_lr(t->opt, lr);
    if (runs >= 0) recur_plan_set_runs(t->plan, (uint64_t)runs);
    t->step = step;
    t->last_loss = NAN;
    t->window_n = t->window_pos = 0;
    free(params);
    free(at);
    return RECUR_OK;
}

/* recur_trainer_save in this process. */
static recur_status save_here(recur_trainer *t, const char *path)
{
    recur_ckpt *ck = recur_trainer_checkpoint(t);
    if (!ck) return t->error.code;
    recur_status st = recur_ckpt_save(ck, path);
    if (st != RECUR_OK) recur_trainer_set_error(t, st, "trainer save: %s", recur_ckpt_errmsg(ck));
    recur_ckpt_free(ck);
    return st;
}

recur_status recur_trainer_save(recur_trainer *t, const char *path)
{
    if (!t) return RECUR_ERR_ARG;
    if (!path) return recur_trainer_set_error(t, RECUR_ERR_ARG, "trainer save: the path is NULL");
    if (!t->mpi) return save_here(t, path);
    /* distributed: rank 0 writes, every rank returns its status */
    recur_status st = recur_mpi_rank() == 0 ? save_here(t, path) : RECUR_OK;
    char what[300];
    snprintf(what, sizeof what, "to save %s", path);
    recur_status all = recur_mpi_trainer_agree(t->mpi, st, what);
    if (all != RECUR_OK && recur_mpi_rank() != 0)
        recur_trainer_set_error(t, all, "trainer save: rank %d: %s", recur_mpi_rank(), recur_mpi_errmsg());
    return all;
}

recur_status recur_trainer_load(recur_trainer *t, const char *path)
{
    if (!t) return RECUR_ERR_ARG;
    if (!path) return recur_trainer_set_error(t, RECUR_ERR_ARG, "trainer load: the path is NULL");
    recur_ckpt *ck = NULL;
    recur_status st = t->mpi ? recur_mpi_ckpt_load(path, 0, &ck) : recur_ckpt_load(path, &ck); /* distributed: rank 0 reads */
    if (st != RECUR_OK)
        recur_trainer_set_error(t, st, "trainer load: %s",
                                t->mpi ? recur_mpi_errmsg() : ck ? recur_ckpt_errmsg(ck) : "out of memory");
    else
        st = recur_trainer_restore(t, ck);
    recur_ckpt_free(ck);
    return st;
}
