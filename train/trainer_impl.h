/*
 * train/trainer_impl.h — what the trainer's files share (private to
 * train/): the trainer's struct, the clock and the progress
 * writer (train/progress.c).
 */
#ifndef RECUR_TRAIN_TRAINER_IMPL_H
#define RECUR_TRAIN_TRAINER_IMPL_H

#include "graph/error.h"
#include "recur/trainer.h"

struct recur_trainer {
    recur_graph *g;
    recur_trainer_opts o;   /* with defaults filled in; o.extra points at `extra` */
    recur_value loss;
    int n;                  /* parameters trained */
    recur_value *grad;      /* their gradient values */
    recur_value *extra;     /* o.n_extra values (owned copy) */
    recur_plan *plan;
    recur_plan *eval_plan;  /* o.eval_model's instance, compiled for inference (NULL: none) */
    recur_value eval_loss_value; /* its loss */
    recur_optim *opt;
    int64_t step;           /* steps done since the training began */
    float last_loss;        /* NaN before the first step */
    float *window;          /* ring of the last o.mean_window losses */
    int64_t window_n;       /* how many of them are filled */
    int64_t window_pos;     /* where the next one goes */
    double eval_loss;       /* NaN before the first evaluation */
    int stop;               /* set by recur_trainer_stop */
    struct recur_mpi_trainer *mpi; /* recur_trainer_distribute's averaging over the ranks (NULL: one process) */
    /* progress */
    int mode;               /* the resolved recur_progress_mode: OFF, LINE or PLAIN */
    double run_start;       /* wall time the current run began */
    int64_t run_first;      /* steps done when it began */
    int64_t run_total;      /* steps done when it will end */
    double last_draw;       /* LINE: wall time of the last redraw */
    int line_len;           /* LINE: length of the line on screen (0: none open) */
    recur_error error;
    uint64_t n_errors;      /* failures recorded so far (tells whether a callback gave a reason) */
};

/* Monotonic wall time in seconds. */
double recur_trainer_now(void);

/* Resolves o.progress (AUTO looks at whether the progress file is a terminal) into t->mode. */
void recur_progress_init(recur_trainer *t);

/* Called after each step: writes the progress line when it is due (always when `last`). */
void recur_progress_step(recur_trainer *t, int last);

/* Writes an evaluation line. */
void recur_progress_eval(recur_trainer *t);

/* Ends the progress of a run (LINE: moves past the line on screen). */
void recur_progress_end(recur_trainer *t);

#endif
