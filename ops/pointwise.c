/*
 * ops/pointwise.c — the kernel of an elementwise op over a whole tensor
 * (running its loop, ops/pointwise.h), and the row-sum loop of bias
 * gradients.
 */
#include "ops/parallel.h"
#include "ops/pointwise.h"

typedef struct pointwise_job {
    recur_pointwise_fn f;
    float s;
    const float *a, *b;
    float *y;
} pointwise_job;

static void pointwise_range(void *ctx, int64_t lo, int64_t hi, int part)
{
    const pointwise_job *j = ctx;
    (void)part;
    j->f(j->s, j->a + lo, j->b + lo, j->y + lo, hi - lo);
}

/* y = OP(x0, x1) elementwise, cut into one range per thread when large. */
recur_status recur_pointwise_forward(const recur_kernel_args *k)
{
    const recur_op_def *def = recur_op(k->node->op);
    int arity = def->pointwise ? def->arity : 0;
    if (arity == 0 || k->n_in != arity) return recur_kernel_fail(k, "not a pointwise op with %d inputs", k->n_in);
    int64_t n = recur_shape_numel(k->node->shape);
    pointwise_job j = {.f = def->pointwise, .s = k->node->attr.f[0], .a = k->x[0], .b = k->x[arity - 1], .y = k->y};
    recur_parallel_range(n, n * (arity + 1), pointwise_range, &j);
    return RECUR_OK;
}

RECUR_VECTOR_CLONES
void recur_sum_rows_loop(const float *x, int64_t R, int64_t stride, int64_t len, double *s)
{
    int64_t r = 0;
    for (; r + 4 <= R; r += 4) {
        const float *x0 = x + r * stride, *x1 = x0 + stride, *x2 = x1 + stride, *x3 = x2 + stride;
        for (int64_t c = 0; c < len; c++) s[c] = (((s[c] + x0[c]) + x1[c]) + x2[c]) + x3[c];
    }
    for (; r < R; r++) {
        const float *xr = x + r * stride;
        for (int64_t c = 0; c < len; c++) s[c] += xr[c];
    }
}
