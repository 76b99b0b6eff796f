/*
 * cli/schedule.h — the learning rate of `recur train` at each step: a
 * linear warmup, then the library's step or exponential decay
 * (recur_schedule_lr), computed from the step count alone so that a
 * resumed run uses the rates an uninterrupted one would.
 */
#ifndef RECUR_CLI_SCHEDULE_H
#define RECUR_CLI_SCHEDULE_H

#include <stddef.h>

#include "recur/optim.h"

typedef struct cli_lr {
    double lr0;            /* the base rate */
    recur_schedule decay;  /* constant, step (gamma every step_size steps) or exponential (gamma every step) */
    int64_t warmup;        /* steps of linear warmup; 0: none */
} cli_lr;

/*
 * The rate of step t + 1, once t steps are done:
 *   lr(t) = lr0 * min(1, (t + 1) / warmup) * d(t),
 * d(t) = recur_schedule_lr(&decay, 1, t) (1, gamma^floor(t / step_size) or
 * gamma^t), the warmup factor 1 without a warmup.
 */
double cli_lr_at(const cli_lr *s, int64_t t);

/* Parses "constant", "step" or "exp" into *kind; -1 if it is none of them. */
int cli_lr_parse(const char *name, recur_schedule_kind *kind);

/* The name of a schedule kind as cli_lr_parse reads it. */
const char *cli_lr_name(recur_schedule_kind kind);

/* Describes s in words into buf ("0.002, warmup 100 steps, then x0.97 every 500 steps"); returns buf. */
char *cli_lr_describe(const cli_lr *s, char *buf, size_t len);

#endif
