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
 * Each W row is read once, four rows side by side so each float of a is
 * loaded once for four of them. A row's sum is kept in 8 lanes, lane i
 * summing terms l = i, i + 8, i + 16, ... in order; the lanes are then
 * added in a fixed tree and the K mod 8 last terms after them. Every row
 * is summed the same way whether it is one of four or alone, so y does not
 * depend on how the rows are cut over the pool's threads
 * (recur_parallel_range, whole rows per thread). The loops are compiled
 * per CPU (pointwise.h's clones) without contraction, the lanes as one
 * vector each: every version gives the same bits.
 *
 * W may also be read from a copy packed for this kernel (recur_gemv_pack):
 * each group of four rows stored as one run, 8 columns of row 0, of row 1,
 * of row 2, of row 3, then the next 8 columns, ..., then the four rows'
 * last K mod 8 columns; the N mod 4 last rows as they are. A thread then
 * reads one stream instead of four (measured in a test program, two
 * threads, 4 MiB products: 140-150 GB/s against 125-135), and every row is
 * summed in the same order, so the packed copy gives the same bits.
 */
#include <string.h>

#include "ops/op.h"
#include "ops/parallel.h"
#include "ops/pointwise.h"

enum { LANES = 8 };

/*
 * Floats of W a chunk of a product streams, at least: a 4 MiB product of
 * (e2) in 4 chunks rather than 8 or 16, each thread's reading restarted
 * less often. Measured, interleaved medians: 0.1126 ms a symbol of (e2)
 * against 0.1177 with 131072 floats a chunk and 0.1225 with 16 chunks.
 */
#define STREAM_CHUNK_FLOATS 262144

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

/* The fixed order in which a row's lanes s and its last `tail` terms (a_tail . w_tail) are added. */
static float finish(const lanes *sum, const float *a_tail, const float *w_tail, int64_t tail)
{
    float s[LANES];
    memcpy(s, sum, sizeof s);
    float t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (int64_t l = 0; l < tail; l++) t += a_tail[l] * w_tail[l];
    return t;
}

/* One row's sum a . w, alone: the same order as in a group of four. */
static inline float one_row(const float *a, const float *w, int64_t K)
{
    int64_t full = K / LANES * LANES;
    lanes s0 = {0};
    for (int64_t l = 0; l < full; l += LANES) MUL_ADD(s0, LOAD(a + l), LOAD(w + l));
    return finish(&s0, a + full, w + full, K - full);
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
        y[j] = finish(&s0, a + full, w0 + full, K - full);
        y[j + 1] = finish(&s1, a + full, w1 + full, K - full);
        y[j + 2] = finish(&s2, a + full, w2 + full, K - full);
        y[j + 3] = finish(&s3, a + full, w3 + full, K - full);
    }
    for (; j < hi; j++) y[j] = one_row(a, W + j * K, K);
    if (bias)
        for (j = lo; j < hi; j++) y[j] = y[j] + bias[j];
}

/*
 * Groups [lo, hi) of four rows of y = W a from W packed (see the top),
 * bias added when given: the same sums as gemv_rows.
 */
RECUR_VECTOR_CLONES
static void gemv_groups_packed(const float *a, const float *P, const float *bias, float *y, int64_t K, int64_t lo,
                               int64_t hi)
{
    int64_t full = K / LANES * LANES;
    for (int64_t g = lo; g < hi; g++) {
        const float *p = P + g * 4 * K;
        lanes s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
        for (int64_t l = 0; l < full; l += LANES, p += 4 * LANES) {
            lanes x = LOAD(a + l);
            MUL_ADD(s0, x, LOAD(p));
            MUL_ADD(s1, x, LOAD(p + LANES));
            MUL_ADD(s2, x, LOAD(p + 2 * LANES));
            MUL_ADD(s3, x, LOAD(p + 3 * LANES));
        }
        int64_t tail = K - full, j = 4 * g;
        y[j] = finish(&s0, a + full, p, tail);
        y[j + 1] = finish(&s1, a + full, p + tail, tail);
        y[j + 2] = finish(&s2, a + full, p + 2 * tail, tail);
        y[j + 3] = finish(&s3, a + full, p + 3 * tail, tail);
        if (bias)
            for (int r = 0; r < 4; r++) y[j + r] = y[j + r] + bias[j + r];
    }
}

typedef struct gemv_job {
    const float *a, *W, *bias;
    float *y;
    int64_t K, N;
} gemv_job;

static void gemv_range(void *ctx, int64_t lo, int64_t hi, int part)
{
    (void)part;
    const gemv_job *j = ctx;
    gemv_rows(j->a, j->W, j->bias, j->y, j->K, lo, hi);
}

/*
 * Units [lo, hi) of a product from packed W: unit u < N / 4 is group u,
 * the others the last N mod 4 rows, stored as they are.
 */
static void packed_range(void *ctx, int64_t lo, int64_t hi, int part)
{
    (void)part;
    const gemv_job *j = ctx;
    int64_t groups = j->N / 4;
    if (lo < groups) gemv_groups_packed(j->a, j->W, j->bias, j->y, j->K, lo, hi < groups ? hi : groups);
    if (hi > groups) gemv_rows(j->a, j->W, j->bias, j->y, j->K, 4 * groups + (lo > groups ? lo - groups : 0),
                               4 * groups + (hi - groups));
}

/* What recur_gemv_pack copies: W [.., K] into `packed`. */
typedef struct pack_job {
    const float *W;
    float *packed;
    int64_t K;
} pack_job;

/* Rows' groups [lo, hi) of W [N, K] copied into the packed layout (see the top). */
static void pack_range(void *ctx, int64_t lo, int64_t hi, int part)
{
    (void)part;
    const pack_job *j = ctx;
    int64_t K = j->K, full = K / LANES * LANES, tail = K - full;
    float *P = j->packed;
    for (int64_t g = lo; g < hi; g++) {
        const float *w = j->W + g * 4 * K;
        float *p = P + g * 4 * K;
        for (int64_t l = 0; l < full; l += LANES)
            for (int r = 0; r < 4; r++, p += LANES) memcpy(p, w + r * K + l, sizeof(float) * LANES);
        for (int r = 0; r < 4; r++, p += tail) memcpy(p, w + r * K + full, sizeof(float) * (size_t)tail);
    }
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
    gemv_job j = {.a = k->x[0], .W = k->x[1], .bias = k->inner ? k->x[2] : NULL, .y = k->y, .K = b->d[1], .N = b->d[0]};
    recur_parallel_range_chunked(j.N, j.N * j.K, STREAM_CHUNK_FLOATS, gemv_range, &j);
    return RECUR_OK;
}

void recur_gemv_pack(const float *W, int64_t N, int64_t K, float *packed)
{
    pack_job j = {.W = W, .packed = packed, .K = K};
    recur_parallel_range(N / 4, N / 4 * 4 * K, pack_range, &j);
    memcpy(packed + N / 4 * 4 * K, W + N / 4 * 4 * K, sizeof(float) * (size_t)(N % 4 * K));
}

recur_status recur_gemv_packed_forward(const recur_kernel_args *k, const float *packed)
{
    const recur_shape *b = &k->xs[1];
    gemv_job j = {.a = k->x[0], .W = packed, .bias = k->inner ? k->x[2] : NULL, .y = k->y, .K = b->d[1], .N = b->d[0]};
    recur_parallel_range_chunked(j.N / 4 + j.N % 4, j.N * j.K, STREAM_CHUNK_FLOATS, packed_range, &j);
    return RECUR_OK;
}
