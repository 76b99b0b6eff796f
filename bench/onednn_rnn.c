/*
 * onednn_rnn — anchor benchmark: one RNN training step written directly
 * against oneDNN's C API (v2.6), the yardstick that recur's own training step
 * is compared against.
 *
 * For each configuration the program builds, once and outside the timed loop:
 *   - the forward_training primitive: runs the whole sequence (all T steps,
 *     input projection and recurrence) and writes dst_layer (every step's h),
 *     dst_iter (final h) and, for LSTM, dst_iter_c (final c), plus the
 *     workspace (gates and states of every step, kept for the backward pass);
 *   - the backward primitive: reads the workspace and the output gradients
 *     (diff_dst_layer, diff_dst_iter[, diff_dst_iter_c]) and computes
 *     diff_src_layer (gradient w.r.t. the input sequence, "backward data") and
 *     diff_weights_layer, diff_weights_iter, diff_bias ("backward weights");
 *   - the weights in the layouts oneDNN picked (format "any"): the user's
 *     ldigo weights are reordered once into the forward layout and once into
 *     the backward layout.
 * It then times a training step = zero the weight gradients (oneDNN's RNN
 * backward accumulates into them) + forward_training + backward, and prints
 * the median over repeated steps.
 *
 * The loss whose gradient is propagated is the one of bench/torch_rnn.py:
 * sum(output) + sum(h_T) [+ sum(c_T)], so every output gradient is 1. The
 * initial states are zero and get no gradient (PyTorch's default h0 = c0 = 0),
 * which oneDNN expresses by passing no src_iter / diff_src_iter at all.
 *
 * Configurations (time-major, T steps, B batch, I inputs, H hidden units):
 *   a  LSTM  T=40 B=32 I=89  H=128
 *   b  LSTM  T=50 B=64 I=512 H=512
 *   c  GRU   T=50 B=64 I=512 H=512  (linear-before-reset, PyTorch's GRU)
 *   g  LSTM  T=40 B=64 I=84  H=128  (the LSTM layer alone of run.sh's character model)
 *
 * Usage: onednn_rnn [--quick] [--config a|b|c|g] [--reps N]
 * Output, per configuration, a readable line and a machine-readable line:
 *   anchor onednn <a|b|c|g> ms=<median> ws_mb=<workspace MiB> gflops=<GFLOP/s>
 * Threads: oneDNN is built on OpenMP here; set OMP_NUM_THREADS.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dnnl.h>
#include <dnnl_debug.h>

/* Abort with the name of the oneDNN call that failed and its status. */
#define CHECK(call)                                                          \
    do {                                                                     \
        dnnl_status_t check_status_ = (call);                                \
        if (check_status_ != dnnl_success) {                                 \
            fprintf(stderr, "onednn_rnn: %s failed: %s (%s:%d)\n", #call,    \
                    dnnl_status2str(check_status_), __FILE__, __LINE__);     \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

typedef enum { CELL_LSTM, CELL_GRU } cell_kind;

typedef struct {
    char name;        /* 'a', 'b', 'c' */
    cell_kind cell;
    dnnl_dim_t T, B, I, H;
} rnn_config;

static const rnn_config CONFIGS[] = {
    {'a', CELL_LSTM, 40, 32, 89, 128},
    {'b', CELL_LSTM, 50, 64, 512, 512},
    {'c', CELL_GRU, 50, 64, 512, 512},
    {'g', CELL_LSTM, 40, 64, 84, 128}, /* the LSTM layer of run.sh's character model (bench/recur_infer.c g) */
};
#define N_CONFIGS (sizeof CONFIGS / sizeof CONFIGS[0])

/* Number of gates G: i, f, g, o for LSTM; u (update), r (reset), n for GRU. */
static dnnl_dim_t n_gates(cell_kind cell) { return cell == CELL_LSTM ? 4 : 3; }

/* Bias rows: G for LSTM; G + 1 for linear-before-reset GRU, whose extra row
 * is b_hn, the bias of W_hn h that the reset gate multiplies (PyTorch keeps it
 * as part of bias_hh). */
static dnnl_dim_t n_bias_gates(cell_kind cell)
{
    return cell == CELL_LSTM ? n_gates(cell) : n_gates(cell) + 1;
}

/*
 * FLOPs of one training step, counting only the matrix products (the gate
 * pointwise arithmetic is O(T*B*G*H) and negligible):
 *   forward:          every step multiplies [x_t, h_{t-1}] (B x (I+H)) by the
 *                     stacked gate weights ((I+H) x G*H): 2*B*(I+H)*G*H per
 *                     step, 2*T*B*(I+H)*G*H for the sequence;
 *   backward data:    the same product transposed, giving d[x_t, h_{t-1}];
 *   backward weights: the same product once more, giving dW;
 * so a training step is 3 * 2*T*B*(I+H)*G*H.
 */
static double step_flops(const rnn_config *c)
{
    double fwd = 2.0 * (double)c->T * (double)c->B * (double)(c->I + c->H) *
                 (double)n_gates(c->cell) * (double)c->H;
    return 3.0 * fwd;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Deterministic uniform numbers in [-scale, scale) (xorshift32). */
static unsigned rng_state = 2463534242u;
static float uniform(float scale)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return scale * (2.0f * (float)(rng_state >> 8) / 16777216.0f - 1.0f);
}

static dnnl_memory_desc_t md_plain(int ndims, const dnnl_dim_t *dims,
                                   dnnl_format_tag_t tag)
{
    dnnl_memory_desc_t md;
    dnnl_dims_t full = {0}; /* the API reads a whole dnnl_dims_t */
    for (int i = 0; i < ndims; i++) full[i] = dims[i];
    CHECK(dnnl_memory_desc_init_by_tag(&md, ndims, full, dnnl_f32, tag));
    return md;
}

static dnnl_memory_t mem_new(const dnnl_memory_desc_t *md, dnnl_engine_t eng)
{
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
    return m;
}

static float *mem_ptr(dnnl_memory_t m)
{
    void *p = NULL;
    CHECK(dnnl_memory_get_data_handle(m, &p));
    return p;
}

static size_t mem_bytes(dnnl_memory_t m)
{
    const dnnl_memory_desc_t *md;
    CHECK(dnnl_memory_get_memory_desc(m, &md));
    return dnnl_memory_desc_get_size(md);
}

static void mem_fill_uniform(dnnl_memory_t m, float scale)
{
    float *p = mem_ptr(m);
    size_t n = mem_bytes(m) / sizeof(float);
    for (size_t i = 0; i < n; i++) p[i] = uniform(scale);
}

static void mem_fill_const(dnnl_memory_t m, float value)
{
    float *p = mem_ptr(m);
    size_t n = mem_bytes(m) / sizeof(float);
    for (size_t i = 0; i < n; i++) p[i] = value;
}

/* The memory descriptor a primitive expects for execution argument `arg`. */
static const dnnl_memory_desc_t *pd_md(const_dnnl_primitive_desc_t pd, int arg)
{
    return dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
}

/* A name for the layout oneDNN chose for a 5-d weights tensor. */
static const char *weights_layout(const dnnl_memory_desc_t *md)
{
    static const dnnl_format_tag_t tags[] = {dnnl_ldigo, dnnl_ldgoi};
    static const char *names[] = {"ldigo", "ldgoi"};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        dnnl_memory_desc_t plain = md_plain(md->ndims, md->dims, tags[i]);
        if (dnnl_memory_desc_equal(md, &plain)) return names[i];
    }
    return md->format_kind == dnnl_format_kind_rnn_packed ? "rnn_packed"
                                                          : "other (blocked/padded)";
}

/*
 * Returns memory in the layout `want` holding the values of `user`: `user`
 * itself when the layouts agree, else a new memory filled by a reorder
 * primitive (run once, here, outside any timed loop). *reordered tells which.
 */
static dnnl_memory_t to_layout(dnnl_memory_t user, const dnnl_memory_desc_t *want,
                               dnnl_engine_t eng, dnnl_stream_t stream,
                               int *reordered)
{
    const dnnl_memory_desc_t *have;
    CHECK(dnnl_memory_get_memory_desc(user, &have));
    if (dnnl_memory_desc_equal(have, want)) {
        *reordered = 0;
        return user;
    }
    dnnl_memory_t out = mem_new(want, eng);
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t reorder;
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, have, eng, want, eng, NULL));
    CHECK(dnnl_primitive_create(&reorder, rpd));
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, out}};
    CHECK(dnnl_primitive_execute(reorder, stream, 2, args));
    CHECK(dnnl_stream_wait(stream));
    CHECK(dnnl_primitive_destroy(reorder));
    CHECK(dnnl_primitive_desc_destroy(rpd));
    *reordered = 1;
    return out;
}

typedef struct {
    double ms_median, ms_min, ms_max;
    int reps;
    size_t workspace_bytes, scratch_fwd_bytes, scratch_bwd_bytes;
    int reorder_fwd, reorder_bwd;
    const char *layout_fwd, *layout_bwd, *layout_diff; /* of weights_layer */
} rnn_result;

typedef struct {
    int quick;
    int reps;    /* > 0: exactly this many timed steps */
} run_options;

static rnn_result bench_config(const rnn_config *c, const run_options *opt,
                               dnnl_engine_t eng, dnnl_stream_t stream)
{
    const int lstm = c->cell == CELL_LSTM;
    const dnnl_dim_t T = c->T, B = c->B, I = c->I, H = c->H;
    const dnnl_dim_t G = n_gates(c->cell), GB = n_bias_gates(c->cell);
    rnn_result res;
    memset(&res, 0, sizeof res);

    /* Shapes: one layer (L=1), one direction (D=1). */
    const dnnl_dim_t src_layer_dims[] = {T, B, I};
    const dnnl_dim_t dst_layer_dims[] = {T, B, H};
    const dnnl_dim_t iter_dims[] = {1, 1, B, H};          /* ldnc */
    const dnnl_dim_t wl_dims[] = {1, 1, I, G, H};         /* ldigo */
    const dnnl_dim_t wi_dims[] = {1, 1, H, G, H};         /* ldigo */
    const dnnl_dim_t bias_dims[] = {1, 1, GB, H};         /* ldgo */

    /* Activations and their gradients: plain, as a user holds them. */
    dnnl_memory_desc_t src_layer_md = md_plain(3, src_layer_dims, dnnl_tnc);
    dnnl_memory_desc_t dst_layer_md = md_plain(3, dst_layer_dims, dnnl_tnc);
    dnnl_memory_desc_t iter_md = md_plain(4, iter_dims, dnnl_ldnc);
    dnnl_memory_desc_t bias_md = md_plain(4, bias_dims, dnnl_ldgo);
    /* Weights and weight gradients: let oneDNN choose (format "any"). */
    dnnl_memory_desc_t wl_any = md_plain(5, wl_dims, dnnl_format_tag_any);
    dnnl_memory_desc_t wi_any = md_plain(5, wi_dims, dnnl_format_tag_any);
    /* The user's copy of the weights, in PyTorch-compatible ldigo. */
    dnnl_memory_desc_t wl_user_md = md_plain(5, wl_dims, dnnl_ldigo);
    dnnl_memory_desc_t wi_user_md = md_plain(5, wi_dims, dnnl_ldigo);

    /* Scratchpad owned by us, allocated once (as recur's compiled plan does). */
    dnnl_primitive_attr_t attr;
    CHECK(dnnl_primitive_attr_create(&attr));
    CHECK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));

    /* Forward training: no src_iter (zero initial state), but dst_iter
     * (and dst_iter_c) are produced, since the loss uses the final state. */
    dnnl_rnn_desc_t fwd_d, bwd_d;
    if (lstm) {
        CHECK(dnnl_lstm_forward_desc_init(&fwd_d, dnnl_forward_training,
                dnnl_unidirectional_left2right, &src_layer_md, NULL, NULL,
                &wl_any, &wi_any, &bias_md, &dst_layer_md, &iter_md, &iter_md,
                0));
    } else {
        CHECK(dnnl_lbr_gru_forward_desc_init(&fwd_d, dnnl_forward_training,
                dnnl_unidirectional_left2right, &src_layer_md, NULL, &wl_any,
                &wi_any, &bias_md, &dst_layer_md, &iter_md, 0));
    }
    dnnl_primitive_desc_t fwd_pd, bwd_pd;
    CHECK(dnnl_primitive_desc_create(&fwd_pd, &fwd_d, attr, eng, NULL));

    /* Backward (data and weights in one primitive); the forward pd is the
     * hint that makes both agree on the workspace layout. */
    if (lstm) {
        CHECK(dnnl_lstm_backward_desc_init(&bwd_d, dnnl_backward,
                dnnl_unidirectional_left2right, &src_layer_md, NULL, NULL,
                &wl_any, &wi_any, &bias_md, &dst_layer_md, &iter_md, &iter_md,
                &src_layer_md, NULL, NULL, &wl_any, &wi_any, &bias_md,
                &dst_layer_md, &iter_md, &iter_md, 0));
    } else {
        CHECK(dnnl_lbr_gru_backward_desc_init(&bwd_d, dnnl_backward,
                dnnl_unidirectional_left2right, &src_layer_md, NULL, &wl_any,
                &wi_any, &bias_md, &dst_layer_md, &iter_md, &src_layer_md,
                NULL, &wl_any, &wi_any, &bias_md, &dst_layer_md, &iter_md, 0));
    }
    CHECK(dnnl_primitive_desc_create(&bwd_pd, &bwd_d, attr, eng, fwd_pd));

    dnnl_primitive_t fwd, bwd;
    CHECK(dnnl_primitive_create(&fwd, fwd_pd));
    CHECK(dnnl_primitive_create(&bwd, bwd_pd));

    /* Data. Weights as PyTorch initializes them: U(-1/sqrt(H), 1/sqrt(H)). */
    float wscale = 1.0f;
    while (wscale * wscale * (float)H > 1.0f) wscale *= 0.5f; /* ~1/sqrt(H) */
    dnnl_memory_t src_layer = mem_new(&src_layer_md, eng);
    dnnl_memory_t wl_user = mem_new(&wl_user_md, eng);
    dnnl_memory_t wi_user = mem_new(&wi_user_md, eng);
    dnnl_memory_t bias = mem_new(&bias_md, eng);
    mem_fill_uniform(src_layer, 1.0f);
    mem_fill_uniform(wl_user, wscale);
    mem_fill_uniform(wi_user, wscale);
    mem_fill_uniform(bias, wscale);

    /* The one-time weight reorders into the forward and backward layouts. */
    int r1, r2, r3, r4;
    dnnl_memory_t wl_fwd = to_layout(wl_user, pd_md(fwd_pd, DNNL_ARG_WEIGHTS_LAYER), eng, stream, &r1);
    dnnl_memory_t wi_fwd = to_layout(wi_user, pd_md(fwd_pd, DNNL_ARG_WEIGHTS_ITER), eng, stream, &r2);
    dnnl_memory_t wl_bwd = to_layout(wl_user, pd_md(bwd_pd, DNNL_ARG_WEIGHTS_LAYER), eng, stream, &r3);
    dnnl_memory_t wi_bwd = to_layout(wi_user, pd_md(bwd_pd, DNNL_ARG_WEIGHTS_ITER), eng, stream, &r4);
    res.reorder_fwd = r1 || r2;
    res.reorder_bwd = r3 || r4;
    res.layout_fwd = weights_layout(pd_md(fwd_pd, DNNL_ARG_WEIGHTS_LAYER));
    res.layout_bwd = weights_layout(pd_md(bwd_pd, DNNL_ARG_WEIGHTS_LAYER));
    res.layout_diff = weights_layout(pd_md(bwd_pd, DNNL_ARG_DIFF_WEIGHTS_LAYER));

    /* Forward outputs, workspace, scratchpads. */
    dnnl_memory_t dst_layer = mem_new(pd_md(fwd_pd, DNNL_ARG_DST_LAYER), eng);
    dnnl_memory_t dst_iter = mem_new(pd_md(fwd_pd, DNNL_ARG_DST_ITER), eng);
    dnnl_memory_t dst_iter_c = lstm ? mem_new(pd_md(fwd_pd, DNNL_ARG_DST_ITER_C), eng) : NULL;
    const dnnl_memory_desc_t *ws_md = pd_md(fwd_pd, DNNL_ARG_WORKSPACE);
    if (!dnnl_memory_desc_equal(ws_md, pd_md(bwd_pd, DNNL_ARG_WORKSPACE))) {
        fprintf(stderr, "onednn_rnn: forward and backward workspace layouts differ\n");
        exit(1);
    }
    dnnl_memory_t workspace = mem_new(ws_md, eng);
    dnnl_memory_t scratch_fwd = mem_new(pd_md(fwd_pd, DNNL_ARG_SCRATCHPAD), eng);
    dnnl_memory_t scratch_bwd = mem_new(pd_md(bwd_pd, DNNL_ARG_SCRATCHPAD), eng);
    res.workspace_bytes = mem_bytes(workspace);
    res.scratch_fwd_bytes = mem_bytes(scratch_fwd);
    res.scratch_bwd_bytes = mem_bytes(scratch_bwd);

    /* Backward inputs (output gradients of the sum loss are all ones) and
     * outputs (the gradients, in whatever layout oneDNN chose). */
    dnnl_memory_t diff_dst_layer = mem_new(pd_md(bwd_pd, DNNL_ARG_DIFF_DST_LAYER), eng);
    dnnl_memory_t diff_dst_iter = mem_new(pd_md(bwd_pd, DNNL_ARG_DIFF_DST_ITER), eng);
    dnnl_memory_t diff_dst_iter_c = lstm ? mem_new(pd_md(bwd_pd, DNNL_ARG_DIFF_DST_ITER_C), eng) : NULL;
    mem_fill_const(diff_dst_layer, 1.0f);
    mem_fill_const(diff_dst_iter, 1.0f);
    if (lstm) mem_fill_const(diff_dst_iter_c, 1.0f);
    dnnl_memory_t diff_src_layer = mem_new(pd_md(bwd_pd, DNNL_ARG_DIFF_SRC_LAYER), eng);
    dnnl_memory_t diff_wl = mem_new(pd_md(bwd_pd, DNNL_ARG_DIFF_WEIGHTS_LAYER), eng);
    dnnl_memory_t diff_wi = mem_new(pd_md(bwd_pd, DNNL_ARG_DIFF_WEIGHTS_ITER), eng);
    dnnl_memory_t diff_bias = mem_new(pd_md(bwd_pd, DNNL_ARG_DIFF_BIAS), eng);

    dnnl_exec_arg_t fwd_args[] = {
        {DNNL_ARG_SRC_LAYER, src_layer},
        {DNNL_ARG_WEIGHTS_LAYER, wl_fwd},
        {DNNL_ARG_WEIGHTS_ITER, wi_fwd},
        {DNNL_ARG_BIAS, bias},
        {DNNL_ARG_DST_LAYER, dst_layer},
        {DNNL_ARG_DST_ITER, dst_iter},
        {DNNL_ARG_WORKSPACE, workspace},
        {DNNL_ARG_SCRATCHPAD, scratch_fwd},
        {DNNL_ARG_DST_ITER_C, dst_iter_c}, /* last: LSTM only */
    };
    dnnl_exec_arg_t bwd_args[] = {
        {DNNL_ARG_SRC_LAYER, src_layer},
        {DNNL_ARG_WEIGHTS_LAYER, wl_bwd},
        {DNNL_ARG_WEIGHTS_ITER, wi_bwd},
        {DNNL_ARG_BIAS, bias},
        {DNNL_ARG_DST_LAYER, dst_layer},
        {DNNL_ARG_DST_ITER, dst_iter},
        {DNNL_ARG_WORKSPACE, workspace},
        {DNNL_ARG_SCRATCHPAD, scratch_bwd},
        {DNNL_ARG_DIFF_DST_LAYER, diff_dst_layer},
        {DNNL_ARG_DIFF_DST_ITER, diff_dst_iter},
        {DNNL_ARG_DIFF_SRC_LAYER, diff_src_layer},
        {DNNL_ARG_DIFF_WEIGHTS_LAYER, diff_wl},
        {DNNL_ARG_DIFF_WEIGHTS_ITER, diff_wi},
        {DNNL_ARG_DIFF_BIAS, diff_bias},
        {DNNL_ARG_DST_ITER_C, dst_iter_c},           /* last two: LSTM only */
        {DNNL_ARG_DIFF_DST_ITER_C, diff_dst_iter_c},
    };
    const int n_fwd_args = (int)(sizeof fwd_args / sizeof fwd_args[0]) - (lstm ? 0 : 1);
    const int n_bwd_args = (int)(sizeof bwd_args / sizeof bwd_args[0]) - (lstm ? 0 : 2);

    float *dwl = mem_ptr(diff_wl), *dwi = mem_ptr(diff_wi), *db = mem_ptr(diff_bias);
    const size_t dwl_bytes = mem_bytes(diff_wl), dwi_bytes = mem_bytes(diff_wi),
                 db_bytes = mem_bytes(diff_bias);

    /* Repetition policy: 2 (full: 3) untimed warm-up steps, then --reps N
     * gives exactly N timed steps; otherwise up to 15 (full: 50) steps,
     * stopping early once 2 s (full: 15 s) of timed steps have run, but never
     * fewer than 3 (full: 5). */
    const int warmup = opt->quick ? 2 : 3;
    const int max_reps = opt->reps > 0 ? opt->reps : (opt->quick ? 15 : 50);
    const int min_reps = opt->reps > 0 ? opt->reps : (opt->quick ? 3 : 5);
    const double budget_s = opt->quick ? 2.0 : 15.0;
    double *times = malloc((size_t)max_reps * sizeof *times);
    if (!times) {
        fprintf(stderr, "onednn_rnn: out of memory\n");
        exit(1);
    }

    double spent = 0.0;
    int n = 0;
    for (int it = 0; it < warmup + max_reps; it++) {
        double t0 = now_seconds();
        /* --- one training step --- */
        memset(dwl, 0, dwl_bytes); /* backward accumulates into the gradients */
        memset(dwi, 0, dwi_bytes);
        memset(db, 0, db_bytes);
        CHECK(dnnl_primitive_execute(fwd, stream, n_fwd_args, fwd_args));
        CHECK(dnnl_primitive_execute(bwd, stream, n_bwd_args, bwd_args));
        CHECK(dnnl_stream_wait(stream));
        /* --- end of step --- */
        double dt = now_seconds() - t0;
        if (it < warmup) continue;
        times[n++] = dt;
        spent += dt;
        if (n >= min_reps && spent >= budget_s) break;
    }

    /* A cheap sanity check that the gradients are real numbers. */
    float probe = dwl[0] + dwi[0] + db[0] + mem_ptr(diff_src_layer)[0];
    if (probe != probe) {
        fprintf(stderr, "onednn_rnn: config %c produced NaN gradients\n", c->name);
        exit(1);
    }

    res.reps = n;
    res.ms_min = 1e3 * times[0];
    res.ms_max = 1e3 * times[0];
    for (int i = 1; i < n; i++) {
        if (1e3 * times[i] < res.ms_min) res.ms_min = 1e3 * times[i];
        if (1e3 * times[i] > res.ms_max) res.ms_max = 1e3 * times[i];
    }
    res.ms_median = 1e3 * median(times, n);
    free(times);

    /* Cleanup. */
    dnnl_memory_t mems[] = {src_layer, wl_user, wi_user, bias, dst_layer,
                            dst_iter, dst_iter_c, workspace, scratch_fwd,
                            scratch_bwd, diff_dst_layer, diff_dst_iter,
                            diff_dst_iter_c, diff_src_layer, diff_wl, diff_wi,
                            diff_bias};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i]) CHECK(dnnl_memory_destroy(mems[i]));
    if (wl_fwd != wl_user) CHECK(dnnl_memory_destroy(wl_fwd));
    if (wi_fwd != wi_user) CHECK(dnnl_memory_destroy(wi_fwd));
    if (wl_bwd != wl_user) CHECK(dnnl_memory_destroy(wl_bwd));
    if (wi_bwd != wi_user) CHECK(dnnl_memory_destroy(wi_bwd));
    CHECK(dnnl_primitive_destroy(fwd));
    CHECK(dnnl_primitive_destroy(bwd));
    CHECK(dnnl_primitive_desc_destroy(fwd_pd));
    CHECK(dnnl_primitive_desc_destroy(bwd_pd));
    CHECK(dnnl_primitive_attr_destroy(attr));
    return res;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: onednn_rnn [--quick] [--config a|b|c|g] [--reps N]\n"
            "  a  LSTM T=40 B=32 I=89  H=128\n"
            "  b  LSTM T=50 B=64 I=512 H=512\n"
            "  c  GRU (linear-before-reset) T=50 B=64 I=512 H=512\n"
            "  g  LSTM T=40 B=64 I=84  H=128 (the character model's layer)\n"
            "Times forward_training + backward (with weight gradients); threads\n"
            "follow OMP_NUM_THREADS.\n");
}

int main(int argc, char **argv)
{
    run_options opt = {0, 0};
    char only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            opt.quick = 1;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            if (strlen(v) != 1 || ((v[0] < 'a' || v[0] > 'c') && v[0] != 'g')) {
                fprintf(stderr, "onednn_rnn: unknown config '%s'\n", v);
                usage(stderr);
                return 2;
            }
            only = v[0];
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            char *end;
            long r = strtol(argv[++i], &end, 10);
            if (*end != '\0' || r < 1 || r > 100000) {
                fprintf(stderr, "onednn_rnn: bad --reps '%s'\n", argv[i]);
                return 2;
            }
            opt.reps = (int)r;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "onednn_rnn: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }

    dnnl_engine_t eng;
    dnnl_stream_t stream;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, eng, dnnl_stream_default_flags));

    const dnnl_version_t *v = dnnl_version();
    const char *omp = getenv("OMP_NUM_THREADS");
    printf("# oneDNN %d.%d.%d, ISA %s, OMP_NUM_THREADS=%s%s\n", v->major,
           v->minor, v->patch, dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()),
           omp ? omp : "(unset)", opt.quick ? ", quick" : "");

    for (size_t k = 0; k < N_CONFIGS; k++) {
        const rnn_config *c = &CONFIGS[k];
        if (only && c->name != only) continue;
        rnn_result r = bench_config(c, &opt, eng, stream);
        const double ws_mb = (double)r.workspace_bytes / (1024.0 * 1024.0);
        const double gflops = step_flops(c) / (r.ms_median * 1e-3) / 1e9;
        printf("onednn (%c) %s T=%ld B=%ld I=%ld H=%ld: %.3f ms/step median of %d "
               "(min %.3f, max %.3f), %.1f GFLOP/s, workspace %.2f MiB, "
               "scratchpad fwd %.2f / bwd %.2f MiB; weights fwd %s%s, bwd %s%s, "
               "grads %s\n",
               c->name, c->cell == CELL_LSTM ? "LSTM" : "GRU(lbr)", (long)c->T,
               (long)c->B, (long)c->I, (long)c->H, r.ms_median, r.reps, r.ms_min,
               r.ms_max, gflops, ws_mb,
               (double)r.scratch_fwd_bytes / (1024.0 * 1024.0),
               (double)r.scratch_bwd_bytes / (1024.0 * 1024.0),
               r.layout_fwd, r.reorder_fwd ? " (reordered once)" : "",
               r.layout_bwd, r.reorder_bwd ? " (reordered once)" : "",
               r.layout_diff);
        printf("anchor onednn %c ms=%.3f ws_mb=%.2f gflops=%.1f\n", c->name,
               r.ms_median, ws_mb, gflops);
        fflush(stdout);
    }

    CHECK(dnnl_stream_destroy(stream));
    CHECK(dnnl_engine_destroy(eng));
    return 0;
}
