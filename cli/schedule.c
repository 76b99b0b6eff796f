/*
 * cli/schedule.c — `recur train`'s learning rate at each step (see schedule.h).
 */
#include "schedule.h"

#include <stdio.h>
#include <string.h>

double cli_lr_at(const cli_lr *s, int64_t t)
{
    double warm = s->warmup > 0 && t + 1 < s->warmup ? (double)(t + 1) / (double)s->warmup : 1;
    return s->lr0 * warm * recur_schedule_lr(&s->decay, 1, t);
}

int cli_lr_parse(const char *name, recur_schedule_kind *kind)
{
    if (strcmp(name, "constant") == 0) *kind = RECUR_SCHEDULE_CONSTANT;
    else if (strcmp(name, "step") == 0) *kind = RECUR_SCHEDULE_STEP;
    else if (strcmp(name, "exp") == 0) *kind = RECUR_SCHEDULE_EXPONENTIAL;
    else return -1;
    return 0;
}

const char *cli_lr_name(recur_schedule_kind kind)
{
    return kind == RECUR_SCHEDULE_STEP ? "step" : kind == RECUR_SCHEDULE_EXPONENTIAL ? "exp" : "constant";
}

char *cli_lr_describe(const cli_lr *s, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%g", s->lr0);
    if (n >= 0 && (size_t)n < len && s->warmup > 0)
        n += snprintf(buf + n, len - (size_t)n, ", warmed up linearly over %lld steps", (long long)s->warmup);
    if (n >= 0 && (size_t)n < len && s->decay.kind == RECUR_SCHEDULE_STEP)
        snprintf(buf + n, len - (size_t)n, ", times %g every %lld steps", s->decay.gamma, (long long)s->decay.step_size);
    else if (n >= 0 && (size_t)n < len && s->decay.kind == RECUR_SCHEDULE_EXPONENTIAL)
        snprintf(buf + n, len - (size_t)n, ", times %g every step", s->decay.gamma);
    return buf;
}
