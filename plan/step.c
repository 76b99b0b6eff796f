/*
 * plan/step.c — running one step of a compiled plan: its kernel called on
 * the step's inputs, output and workspace (the executor's loop and the
 * lanes' threads both run steps through it).
 */
#include "plan_impl.h"

recur_status recur_plan_step_run(recur_plan *p, int s, uint64_t execution, float *work, char *err, size_t errlen)
{
    const plan_step *step = &p->steps[s];
    recur_kernel_args a = {.node = &p->g->nodes[step->id], .y = p->val[step->id], .x = p->xptr + step->x_off,
                           .xs = p->xshape + step->x_off, .n_in = step->n_in, .work = work && step->work ? work : step->work_at,
                           .state = step->state, .run = p->run, .execution = execution, .inference = p->opts.inference,
                           .inner = step->inner >= 0 ? &p->g->nodes[step->inner] : NULL,
                           .err = err, .errlen = errlen};
    return step->fn(&a);
}
