/*
 * ops/loop_ops.c — the ops of recurrence (graph/loop.c builds them). None
 * but alias has a kernel: a loop runs once unrolled (recur_unroll) or step
 * by step (a stepper, where its placeholders are fed).
 */
#include <string.h>

#include "ops/op.h"

static const char unroll_hint[] =
    "a loop runs after recur_unroll(g), or step by step with recur_stepper_new";

static void loop_attrs(const recur_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "loop=%d", (int)n->attr.i[0]);
}

static void loop_output_attrs(const recur_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "loop=%d %s=%%%d", (int)n->attr.i[0], n->attr.i[1] ? "final" : "stacked", (int)n->attr.i[2]);
}

RECUR_OP_DEF(loop, .min_in = 1, .max_in = -1, .hint = unroll_hint,
                                     .attrs = loop_attrs);
RECUR_OP_DEF(loop_step, .min_in = 0, .max_in = 0, .attrs = loop_attrs,
                                          .hint = "a loop's step value is fed by its stepper or replaced by unrolling");
RECUR_OP_DEF(loop_state, .min_in = 0, .max_in = 0, .attrs = loop_attrs,
                                           .hint = "a loop's state value is fed by its stepper or replaced by unrolling");
RECUR_OP_DEF(loop_output, .min_in = 1, .max_in = 1, .hint = unroll_hint,
                                            .attrs = loop_output_attrs);

/* alias: y = x */
static recur_status alias_forward(const recur_kernel_args *a)
{
    memcpy(a->y, a->x[0], sizeof(float) * (size_t)recur_shape_numel(a->node->shape));
    return RECUR_OK;
}

/* d alias(x) = dy */
static recur_status alias_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)g, (void)y, (void)needs;
    dx[0] = dy;
    return RECUR_OK;
}

RECUR_OP_DEF(alias, .min_in = 1, .max_in = 1, .shape = recur_shape_same_as_first,
             .forward = alias_forward, .grad = alias_grad, .view_offset = recur_view_whole);
