/*
 * plan/step.c — one step of a compiled plan: running it (its kernel called
 * on the step's inputs, output and workspace; the executor's loop and the
 * lanes' threads both run steps through it), and the memory it touches
 * (for the ready hooks and the lanes' dependencies).
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

void recur_plan_column_roots(const recur_plan *p, int32_t *column_root)
{
    for (int32_t id = 0; id < p->n_vals; id++) column_root[id] = -1;
    for (int s = 0; s < p->n_steps; s++)
        if (p->steps[s].columns_of >= 0) column_root[p->steps[s].id] = p->steps[s].columns_of;
}

const float *recur_plan_value_span(const recur_plan *p, const int32_t *column_root, int32_t id, int64_t *floats)
{
    int32_t root = column_root[id] >= 0 ? column_root[id] : id;
    *floats = recur_shape_numel(p->g->nodes[root].shape);
    return p->val[root];
}

const float *recur_plan_step_reads(const recur_plan *p, const int32_t *column_root, int s, int k, int64_t *floats)
{
    const plan_step *step = &p->steps[s];
    if (column_root[step->in[k]] >= 0) return recur_plan_value_span(p, column_root, step->in[k], floats);
    int64_t first = 0;
    *floats = recur_shape_numel(p->xshape[step->x_off + k]);
    if (step->owns_state) recur_fused_read_extent(p, s, k, &first, floats);
    const float *x = p->xptr[step->x_off + k];
    return x ? x + first : NULL;
}
