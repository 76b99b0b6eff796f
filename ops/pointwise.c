/*
 * ops/pointwise.c — the loops of the elementwise ops (ops/pointwise.h):
 * one straight loop per op, which the compiler vectorizes, shared by the
 * ops' own kernels and the fused kernel (backends/fuse.c).
 */
#include "ops/parallel.h"
#include "ops/pointwise.h"

/*
 * Where the C library can pick a function's version at load time (GNU
 * ifunc), the loops are compiled three times, for x86-64-v4 (AVX-512),
 * x86-64-v3 (AVX2 and FMA) and the baseline, and the widest the CPU runs
 * is used. The build keeps floating point contraction off, so the only
 * fused multiply-adds are vmath.h's explicit fmaf calls, and every version
 * computes the same roundings and gives the same bits.
 */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#endif
#ifndef VECTOR_CLONES
#define VECTOR_CLONES
#endif

VECTOR_CLONES
int recur_pointwise_loop(int op, float s, const float *A, const float *B, float *y, int64_t n)
{
    (void)s;
    switch (op) {
#define LOOP_CASE(OP, ARITY, EXPR)              \
    case RECUR_OP_##OP:                         \
        for (int64_t i = 0; i < n; i++) {       \
            float a = A[i];                     \
            float b = ARITY == 2 ? B[i] : 0.0f; \
            (void)b;                            \
            y[i] = (EXPR);                      \
        }                                       \
        return 1;
        RECUR_POINTWISE_OPS(LOOP_CASE)
#undef LOOP_CASE
    default:
        return 0;
    }
}

typedef struct pointwise_job {
    int op;
    float s;
    const float *a, *b;
    float *y;
} pointwise_job;

static void pointwise_range(void *ctx, int64_t lo, int64_t hi, int part)
{
    const pointwise_job *j = ctx;
    (void)part;
    recur_pointwise_loop(j->op, j->s, j->a + lo, j->b + lo, j->y + lo, hi - lo);
}

/* y = OP(x0, x1) elementwise, cut into one range per thread when large. */
recur_status recur_pointwise_forward(const recur_kernel_args *k)
{
    int op = k->node->op, arity = recur_pointwise_arity(op);
    if (arity == 0 || k->n_in != arity) return recur_kernel_fail(k, "not a pointwise op with %d inputs", k->n_in);
    int64_t n = recur_shape_numel(k->node->shape);
    pointwise_job j = {.op = op, .s = k->node->attr.f[0], .a = k->x[0], .b = k->x[arity - 1], .y = k->y};
    recur_parallel_range(n, n * (arity + 1), pointwise_range, &j);
    return RECUR_OK;
}

VECTOR_CLONES
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
