/*
 * train/tbptt.c — truncated BPTT: final states of one chunk become the
 * initial-state inputs of the next, so state crosses chunk boundaries and
 * gradient does not.
 */
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"
#include "recur/tbptt.h"

struct recur_tbptt {
    recur_plan *plan;
    int n;
    recur_value *init, *final;
    int64_t *len;
};

void recur_tbptt_free(recur_tbptt *tb)
{
    if (!tb) return;
    free(tb->init), free(tb->final), free(tb->len);
    free(tb);
}

recur_tbptt *recur_tbptt_new(recur_plan *plan, int n, const recur_value *init, const recur_value *final)
{
    if (!plan || n < 1 || !init || !final) return NULL;
    recur_tbptt *tb = calloc(1, sizeof *tb);
    if (!tb || !(tb->init = malloc(sizeof *tb->init * (size_t)n)) || !(tb->final = malloc(sizeof *tb->final * (size_t)n)) ||
        !(tb->len = malloc(sizeof *tb->len * (size_t)n))) {
        recur_tbptt_free(tb);
        return NULL;
    }
    tb->plan = plan;
    tb->n = n;
    memcpy(tb->init, init, sizeof *init * (size_t)n);
    memcpy(tb->final, final, sizeof *final * (size_t)n);
    for (int i = 0; i < n; i++) {
        recur_shape a = recur_plan_value_shape(plan, init[i]), b = recur_plan_value_shape(plan, final[i]);
        if (!recur_plan_value_buffer(plan, init[i]) || !recur_shape_equal(a, b) ||
            !recur_plan_is_output(plan, final[i])) {
            recur_error_set(recur_plan_error(plan), RECUR_ERR_VALUE,
                                 "tbptt: state %d: initial value %d must be an input the plan reads and final value %d "
                                 "an output of the same shape",
                                 i, init[i].id, final[i].id);
            recur_tbptt_free(tb);
            return NULL;
        }
        tb->len[i] = recur_shape_numel(a);
    }
    if (recur_tbptt_reset(tb) != RECUR_OK) {
        recur_tbptt_free(tb);
        return NULL;
    }
    return tb;
}

recur_status recur_tbptt_reset(recur_tbptt *tb)
{
    if (!tb) return RECUR_ERR_ARG;
    for (int i = 0; i < tb->n; i++) {
        memset(recur_plan_value_buffer(tb->plan, tb->init[i]), 0, sizeof(float) * (size_t)tb->len[i]);
        recur_plan_mark_fed(tb->plan, tb->init[i]);
    }
    return RECUR_OK;
}

recur_status recur_tbptt_run(recur_tbptt *tb)
{
    if (!tb) return RECUR_ERR_ARG;
    recur_status st = recur_plan_run(tb->plan);
    if (st != RECUR_OK) return st;
    for (int i = 0; i < tb->n; i++)
        memmove(recur_plan_value_buffer(tb->plan, tb->init[i]), recur_plan_output(tb->plan, tb->final[i]),
               sizeof(float) * (size_t)tb->len[i]);
    return RECUR_OK;
}
