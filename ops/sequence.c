/*
 * ops/sequence.c — per-sequence lengths: length_mask.
 *
 * A batch of sequences padded to T steps has one length per element,
 * lengths [B], whole numbers in 1..T. The mask of the real steps is
 *   M[t, b] = 1 if t < lengths[b], else 0          ([T, B])
 * A loop with lengths (recur_loop_lengths) holds each element's state
 * after its last step with M and zeroes its outputs past it; losses over
 * padded sequences weight their positions with M.
 */
#include <math.h>
#include <stdio.h>

#include "ops/op.h"

static recur_status length_mask_shape(recur_graph *g, recur_node *n)
{
    recur_shape lengths = recur_in_shape(g, n, 0);
    int64_t T = n->attr.i[0];
    if (lengths.ndim != 1) return recur_shape_fail(g, n, "the lengths must be a vector [B], one per sequence");
    if (T < 1) return recur_shape_fail(g, n, "the steps T = %lld, must be >= 1", (long long)T);
    return recur_shape_set(g, n, "the mask", recur_shape2(T, lengths.d[0]));
}

/* M[t, b] = (t < len[b]); a length that is not a whole number in 1..T (0, T + 1, 2.5, NaN) fails naming its position. */
static recur_status length_mask_forward(const recur_kernel_args *a)
{
    int64_t T = a->node->attr.i[0], B = a->xs[0].d[0];
    const float *len = a->x[0];
    for (int64_t b = 0; b < B; b++)
        if (!(len[b] >= 1 && (double)len[b] <= (double)T && len[b] == floorf(len[b])))
            return recur_kernel_fail(a, "lengths[%lld] = %g is not a whole number in 1..%lld (the sequences' steps)",
                                     (long long)b, (double)len[b], (long long)T);
    for (int64_t t = 0; t < T; t++)
        for (int64_t b = 0; b < B; b++) a->y[t * B + b] = (float)t < len[b] ? 1.0f : 0.0f;
    return RECUR_OK;
}

/* The mask is piecewise constant in the (whole-number) lengths: no gradient flows to them. */
static recur_status length_mask_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)g, (void)y, (void)dy, (void)needs, (void)dx;
    return RECUR_OK;
}

static void steps_attrs(const recur_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "T=%lld", (long long)n->attr.i[0]);
}

recur_value recur_length_mask(recur_graph *g, recur_value lengths, int64_t T)
{
    recur_attr attr = {.i = {T}};
    return recur_unary(g, RECUR_OP_LENGTH_MASK, lengths, &attr);
}

RECUR_OP_DEF(length_mask, .min_in = 1, .max_in = 1, .shape = length_mask_shape, .forward = length_mask_forward,
             .grad = length_mask_grad, .attrs = steps_attrs);
