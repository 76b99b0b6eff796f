/*
 * ops/gemv.c — a product of one row by a matrix stored by rows, streamed:
 *
 *   y_j = sum_l a_l W_jl  (+ bias_j),   j = 0 .. N-1,
 *
 * the matmul a [.., 1, K] . W^T with W [N, K] (trans_b = 1: a layer's
 * weights as PyTorch stores them), alone or with the bias row of a
 * matmul+bias step. A generation step at batch 1 is such products: each
 * reads its whole weight matrix to make one row, so its time is the time
 * to stream W (4 MiB for a 512-unit LSTM's recurrent weights), and a
 * general product kernel spends more on setting up than that.
 *
 * Each W row is read once, contiguously, four rows side by side so each
 * float of a is loaded once for four of them. A row's sum is kept in 8
 * lanes, lane i summing terms l = i, i + 8, i + 16, ... in order; the lanes
 * are then added in a fixed tree and the K mod 8 last terms after them.
 * Every row is summed the same way whether it is one of four or alone, so
 * y does not depend on how the rows are cut over the pool's threads
 * (recur_parallel_range, whole rows per thread). The loops are compiled per
 * CPU (pointwise.h's clones) without contraction, the lanes as one vector
 * each: every version gives the same bits.
 */
#include <string.h>

#include "ops/op.h"
#include "ops/parallel.h"
#include "ops/pointwise.h"

enum { LANES = 8 };

/*
 * Eight floats as one value: the lanes of a sum, added with one vector
 * instruction per step where the CPU has them (GNU C's vector types; the
 * same arithmetic lane by lane as the plain arrays elsewhere).
 */
#if defined(__GNUC__)
typedef float lanes __attribute__((vector_size(LANES * sizeof(float))));
/* (loads of floats stored as floats: unaligned, and allowed to alias them) */
typedef float lanes_unaligned __attribute__((vector_size(LANES * sizeof(float)), aligned(sizeof(float)), __may_alias__));
#define LOAD(p) (*(const lanes_unaligned *)(const void *)(p))
#define MUL_ADD(s, x, w) ((s) += (x) * (w))
#else
typedef struct lanes {
    float v[LANES];
} lanes;
static lanes load_lanes(const float *p)
{
    lanes r;
    memcpy(r.v, p, sizeof r.v);
    return r;
}
#define LOAD(p) load_lanes(p)
#define MUL_ADD(s, x, w) for (int i_ = 0; i_ < LANES; i_++) (s).v[i_] += (x).v[i_] * (w).v[i_]
#endif

/* The fixed order in which a row's lanes s and its last K mod LANES terms are added. */
static float finish(const lanes *sum, const float *a, const float *w, int64_t from, int64_t K)
{
    float s[LANES];
    memcpy(s, sum, sizeof s);
    float t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (int64_t l = from; l < K; l++) t += a[l] * w[l];
    return t;
}

/* Rows [lo, hi) of y = W a (bias added when given). */
RECUR_VECTOR_CLONES
static void gemv_rows(const float *a, const float *W, const float *bias, float *y, int64_t K, int64_t lo, int64_t hi)
{
    int64_t full = K / LANES * LANES, j = lo;
    for (; j + 4 <= hi; j += 4) {
        const float *w0 = W + j * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
        lanes s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
        for (int64_t l = 0; l < full; l += LANES) {
            lanes x = LOAD(a + l);
            MUL_ADD(s0, x, LOAD(w0 + l));
            MUL_ADD(s1, x, LOAD(w1 + l));
            MUL_ADD(s2, x, LOAD(w2 + l));
            MUL_ADD(s3, x, LOAD(w3 + l));
        }
        y[j] = finish(&s0, a, w0, full, K);
        y[j + 1] = finish(&s1, a, w1, full, K);
        y[j + 2] = finish(&s2, a, w2, full, K);
        y[j + 3] = finish(&s3, a, w3, full, K);
    }
    for (; j < hi; j++) {
        const float *w0 = W + j * K;
        lanes s0 = {0};
        for (int64_t l = 0; l < full; l += LANES) MUL_ADD(s0, LOAD(a + l), LOAD(w0 + l));
        y[j] = finish(&s0, a, w0, full, K);
    }
    if (bias)
        for (j = lo; j < hi; j++) y[j] = y[j] + bias[j];
}

typedef struct gemv_job {
    const float *a, *W, *bias;
    float *y;
    int64_t K;
} gemv_job;

static void gemv_range(void *ctx, int64_t lo, int64_t hi, int part)
{
    (void)part;
    const gemv_job *j = ctx;
    gemv_rows(j->a, j->W, j->bias, j->y, j->K, lo, hi);
}

int recur_gemv_suits(const recur_node *product, const recur_shape *xs)
{
    if (product->op != RECUR_OP_MATMUL || product->attr.i[0] || !product->attr.i[1]) return 0;
    const recur_shape *a = &xs[0], *b = &xs[1];
    if (b->ndim != 2 || a->ndim < 1) return 0;
    int64_t K = b->d[1];
    return a->d[a->ndim - 1] == K && recur_shape_numel(*a) == K;
}

recur_status recur_gemv_forward(const recur_kernel_args *k)
{
    const recur_shape *b = &k->xs[1];
    gemv_job j = {.a = k->x[0], .W = k->x[1], .bias = k->inner ? k->x[2] : NULL, .y = k->y, .K = b->d[1]};
    int64_t N = b->d[0];
    recur_parallel_range(N, N * j.K, gemv_range, &j);
    return RECUR_OK;
}
