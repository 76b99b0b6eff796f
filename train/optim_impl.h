/*
 * train/optim_impl.h — what the optimizer's files share (private to
 * train/): the update rule of each kind, the schedule's step, and the sum
 * of squares behind the gradient norm.
 */
#ifndef RECUR_TRAIN_OPTIM_IMPL_H
#define RECUR_TRAIN_OPTIM_IMPL_H

#include "recur/optim.h"

/* The most state tensors a kind keeps per parameter. */
#define RECUR_OPTIM_MAX_STATES 3

/* What one step's rule needs besides the options. */
typedef struct recur_optim_coef {
    float gscale; /* the global-norm clipping factor applied to every gradient (1: none) */
    float gclip;  /* then the clamp bound (0: none) */
    double lr;    /* this step's learning rate */
    int64_t t;    /* this step's number, 1 for the first */
} recur_optim_coef;

/*
 * An update rule: reads the gradient g and updates the parameter p and the
 * parameter's state tensors s[0..] (in the order the rule names them), all
 * of n floats.
 */
typedef void (*recur_optim_update_fn)(const recur_optim_opts *o, const recur_optim_coef *c, int64_t n, float *p,
                                      const float *g, float *const *s);

typedef struct recur_optim_rule {
    const char *name; /* "adam": the kind's name and the prefix of its state names */
    /* Writes the names of the state tensors kept per parameter under `o` and returns their count. */
    int (*states)(const recur_optim_opts *o, const char **names);
    recur_optim_update_fn update;
} recur_optim_rule;

/* The rule of a kind, NULL for an unknown kind (train/optim_rules.c). */
const recur_optim_rule *recur_optim_rule_of(recur_optim_kind kind);

/* 1 if recur_optim_new accepts the schedule (NULL is the constant one) (train/schedule.c). */
int recur_schedule_valid(const recur_schedule *s);

/* The factor the lr is multiplied by once step t (1 for the first) is done; s must be valid. */
double recur_schedule_factor(const recur_schedule *s, int64_t t);

/* sum_j x[j]^2 accumulated in double (train/clip.c). */
double recur_sumsq(const float *x, int64_t n);

#endif
