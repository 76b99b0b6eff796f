/*
 * train/schedule.c — learning-rate schedules counted in optimizer steps.
 *
 * With lr0 the starting rate and t the steps done:
 *   constant:     lr(t) = lr0
 *   step:         lr(t) = lr0 * gamma^floor(t / step_size)
 *   exponential:  lr(t) = lr0 * gamma^t
 * An optimizer applies them in PyTorch's chainable form: after step t it
 * multiplies its current lr by gamma when the schedule decays at t, so a
 * rate set by hand in between is decayed from where it was set.
 */
#include <math.h>

#include "optim_impl.h"

int recur_schedule_valid(const recur_schedule *s)
{
    if (!s) return 1;
    switch (s->kind) {
    case RECUR_SCHEDULE_CONSTANT: return 1;
    case RECUR_SCHEDULE_STEP:
        if (s->step_size < 1) return 0;
        /* fall through */
    case RECUR_SCHEDULE_EXPONENTIAL: return s->gamma > 0 && isfinite(s->gamma);
    }
    return 0;
}

double recur_schedule_lr(const recur_schedule *s, double lr0, int64_t t)
{
    if (!recur_schedule_valid(s) || t < 0) return NAN;
    if (!s) return lr0;
    switch (s->kind) {
    case RECUR_SCHEDULE_CONSTANT: return lr0;
    case RECUR_SCHEDULE_STEP: return lr0 * pow(s->gamma, (double)(t / s->step_size));
    case RECUR_SCHEDULE_EXPONENTIAL: return lr0 * pow(s->gamma, (double)t);
    }
    return NAN;
}

double recur_schedule_factor(const recur_schedule *s, int64_t t)
{
    switch (s->kind) {
    case RECUR_SCHEDULE_CONSTANT: return 1;
    case RECUR_SCHEDULE_STEP: return t > 0 && t % s->step_size == 0 ? s->gamma : 1;
    case RECUR_SCHEDULE_EXPONENTIAL: return s->gamma;
    }
    return 1;
}
