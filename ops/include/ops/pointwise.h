/*
 * ops/include/ops/pointwise.h — the elementwise ops' loops (internal to the
 * library).
 *
 * Each elementwise op writes its formula once, in its own file, as a loop:
 *
 *   RECUR_POINTWISE_LOOP(tanh_loop, 1, recur_vtanhf(a))
 *
 * defines `static void tanh_loop(float s, const float *A, const float *B,
 * float *y, int64_t n)` computing y_i = EXPR from a = A[i], b = B[i] (two
 * inputs only) and s (the node's attr.f[0]), a straight loop the compiler
 * vectorizes. The op's definition points at it (.pointwise, .arity); its
 * own kernel (recur_pointwise_forward) and the fused kernels of the
 * compiler (plan/fuse.c) both run it, so a fused chain gives bitwise what
 * its ops give one by one.
 *
 * Where the C library can pick a function's version at load time (GNU
 * ifunc), each loop is compiled three times, for x86-64-v4 (AVX-512),
 * x86-64-v3 (AVX2 and FMA) and the baseline, and the widest the CPU runs is
 * used. ops/ builds with floating point contraction off, so the only fused
 * multiply-adds are vmath.h's explicit fmaf calls, and every version
 * computes the same roundings and gives the same bits.
 */
#ifndef RECUR_OPS_POINTWISE_H
#define RECUR_OPS_POINTWISE_H

#include <math.h>

#include "ops/op.h"
#include "ops/vmath.h"

#if defined(__GNUC__) && defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define RECUR_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#endif
#ifndef RECUR_VECTOR_CLONES
#define RECUR_VECTOR_CLONES
#endif

/* Defines the elementwise loop `fname` of an op with ARITY (1 or 2) inputs computing EXPR of a, b and s. */
#define RECUR_POINTWISE_LOOP(fname, ARITY, EXPR)                                                      \
    RECUR_VECTOR_CLONES static void fname(float s, const float *A, const float *B, float *y, int64_t n) \
    {                                                                                                 \
        (void)s;                                                                                      \
        (void)B;                                                                                      \
        for (int64_t i = 0; i < n; i++) {                                                             \
            float a = A[i];                                                                           \
            float b = (ARITY) == 2 ? B[i] : 0.0f;                                                     \
            (void)b;                                                                                  \
            y[i] = (EXPR);                                                                            \
        }                                                                                             \
    }

/*
 * s_c += x[r, c] for r = 0 .. R-1 in that order and c < len, in double:
 * x's rows lie `stride` floats apart. The loop behind a bias gradient's
 * reduction (ops/broadcast.c), vectorized over c, with four rows per pass
 * over s (each column still adds its rows one after another, so the sums
 * are those of the plain loop).
 */
void recur_sum_rows_loop(const float *x, int64_t R, int64_t stride, int64_t len, double *s);

/*
 * The kernel of an elementwise op whose inputs all have its output's shape
 * (activations, their gradient helpers, neg/scale/square/one_minus): the
 * op's loop over the whole tensor, split across threads when large
 * (ops/parallel.h).
 */
recur_status recur_pointwise_forward(const recur_kernel_args *k);

#endif
