/*
 * onednn_infer — anchor benchmark for inference: oneDNN's own LSTM / GRU
 * primitives in forward_inference, written directly against oneDNN's C API
 * (v2.6), beside bench/recur_infer.c's configurations:
 *
 *   (e) generation at B = 1, one symbol per step: one-hot over V = 84 ->
 *       LSTM -> logits = h W^T + b (a matmul primitive with bias), argmax
 *       fed back as the next input and the final states as the next initial
 *       states; e1: 1 layer of 128, e2: 2 layers of 512 (one primitive per
 *       layer: oneDNN stacks layers in one primitive only when their input
 *       and hidden sizes agree). ms per symbol, median over rounds of 200.
 *   (f) one layer over a whole sequence, T=50 B=64 I=512 H=512: f1 LSTM,
 *       f2 GRU (linear-before-reset, PyTorch's), from zero states, every
 *       step's h out. ms per sequence.
 *
 * Weights are reordered once, outside the timed loops, into the layouts the
 * primitives chose. Threads: oneDNN's OpenMP, OMP_NUM_THREADS.
 *
 * usage: onednn_infer [--quick] [--config e1|e2|f1|f2]
 * prints a readable line and "anchor onednn <cfg> ms=<median>" per configuration.
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

#define CHECK(call)                                                                                       \
    do {                                                                                                  \
        dnnl_status_t check_status_ = (call);                                                             \
        if (check_status_ != dnnl_success) {                                                              \
            fprintf(stderr, "onednn_infer: %s failed: %s (%s:%d)\n", #call, dnnl_status2str(check_status_), \
                    __FILE__, __LINE__);                                                                  \
            exit(1);                                                                                      \
        }                                                                                                 \
    } while (0)

static dnnl_engine_t eng;
static dnnl_stream_t stream;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static dnnl_memory_desc_t md_of(int nd, const dnnl_dim_t *dims, dnnl_format_tag_t tag)
{
    dnnl_memory_desc_t md;
    dnnl_dims_t full = {0};
    for (int i = 0; i < nd; i++) full[i] = dims[i];
    CHECK(dnnl_memory_desc_init_by_tag(&md, nd, full, dnnl_f32, tag));
    return md;
}

static dnnl_memory_t mem_new(const dnnl_memory_desc_t *md)
{
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
    return m;
}

static float *ptr(dnnl_memory_t m)
{
    void *p;
    CHECK(dnnl_memory_get_data_handle(m, &p));
    return p;
}

/* Fills m with small deterministic values in [-scale, scale). */
static void fill(dnnl_memory_t m, float scale, unsigned seed)
{
    const dnnl_memory_desc_t *md;
    CHECK(dnnl_memory_get_memory_desc(m, &md));
    size_t n = dnnl_memory_desc_get_size(md) / sizeof(float);
    float *p = ptr(m);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = scale * ((float)(seed >> 8) / 8388608.0f - 1.0f);
    }
}

/* Memory in layout `want` holding user's values (reordered once here). */
static dnnl_memory_t in_layout(dnnl_memory_t user, const dnnl_memory_desc_t *want)
{
    const dnnl_memory_desc_t *have;
    CHECK(dnnl_memory_get_memory_desc(user, &have));
    if (dnnl_memory_desc_equal(have, want)) return user;
    dnnl_memory_t out = mem_new(want);
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t r;
    CHECK(dnnl_reorder_primitive_desc_create(&pd, have, eng, want, eng, NULL));
    CHECK(dnnl_primitive_create(&r, pd));
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, out}};
    CHECK(dnnl_primitive_execute(r, stream, 2, args));
    CHECK(dnnl_stream_wait(stream));
    dnnl_primitive_destroy(r);
    dnnl_primitive_desc_destroy(pd);
    return out;
}

static const dnnl_memory_desc_t *pd_md(const_dnnl_primitive_desc_t pd, int arg)
{
    return dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
}

/* One forward_inference RNN layer (LSTM or lbr-GRU) over [T, B, I] -> [T, B, H], with its arguments bound. */
typedef struct layer {
    dnnl_primitive_t prim;
    dnnl_exec_arg_t args[12];
    int n_args;
    dnnl_memory_t src, dst, src_iter, src_iter_c, dst_iter, dst_iter_c;
} layer;

static layer layer_new(int lstm, dnnl_dim_t T, dnnl_dim_t B, dnnl_dim_t I, dnnl_dim_t H, int with_iter, unsigned seed)
{
    layer l = {0};
    dnnl_dim_t G = lstm ? 4 : 3, GB = lstm ? 4 : 4;
    dnnl_dim_t src_dims[] = {T, B, I}, dst_dims[] = {T, B, H}, iter_dims[] = {1, 1, B, H};
    dnnl_dim_t wl_dims[] = {1, 1, I, G, H}, wi_dims[] = {1, 1, H, G, H}, b_dims[] = {1, 1, GB, H};
    dnnl_memory_desc_t src_md = md_of(3, src_dims, dnnl_tnc), dst_md = md_of(3, dst_dims, dnnl_tnc);
    dnnl_memory_desc_t iter_md = md_of(4, iter_dims, dnnl_ldnc), b_md = md_of(4, b_dims, dnnl_ldgo);
    dnnl_memory_desc_t wl_any = md_of(5, wl_dims, dnnl_format_tag_any), wi_any = md_of(5, wi_dims, dnnl_format_tag_any);
    dnnl_memory_desc_t wl_user = md_of(5, wl_dims, dnnl_ldigo), wi_user = md_of(5, wi_dims, dnnl_ldigo);
    dnnl_memory_desc_t *it = with_iter ? &iter_md : NULL;
    dnnl_rnn_desc_t d;
    if (lstm)
        CHECK(dnnl_lstm_forward_desc_init(&d, dnnl_forward_inference, dnnl_unidirectional_left2right, &src_md, it, it,
                                          &wl_any, &wi_any, &b_md, &dst_md, it, it, 0));
    else
        CHECK(dnnl_lbr_gru_forward_desc_init(&d, dnnl_forward_inference, dnnl_unidirectional_left2right, &src_md, it,
                                             &wl_any, &wi_any, &b_md, &dst_md, it, 0));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &d, NULL, eng, NULL));
    CHECK(dnnl_primitive_create(&l.prim, pd));
    float k = 1.0f / 16;
    dnnl_memory_t wl = mem_new(&wl_user), wi = mem_new(&wi_user), bias = mem_new(&b_md);
    fill(wl, k, seed), fill(wi, k, seed + 1), fill(bias, k, seed + 2);
    l.src = mem_new(&src_md);
    l.dst = mem_new(&dst_md);
    fill(l.src, 1, seed + 3);
    dnnl_exec_arg_t a[] = {{DNNL_ARG_SRC_LAYER, l.src},
                           {DNNL_ARG_WEIGHTS_LAYER, in_layout(wl, pd_md(pd, DNNL_ARG_WEIGHTS_LAYER))},
                           {DNNL_ARG_WEIGHTS_ITER, in_layout(wi, pd_md(pd, DNNL_ARG_WEIGHTS_ITER))},
                           {DNNL_ARG_BIAS, bias},
                           {DNNL_ARG_DST_LAYER, l.dst}};
    memcpy(l.args, a, sizeof a);
    l.n_args = 5;
    const dnnl_memory_desc_t *ws = pd_md(pd, DNNL_ARG_SCRATCHPAD);
    if (ws && dnnl_memory_desc_get_size(ws) > 0) l.args[l.n_args++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, mem_new(ws)};
    if (with_iter) { /* (e): initial and final states, fed back step to step */
        l.src_iter = mem_new(&iter_md);
        l.dst_iter = mem_new(&iter_md);
        l.args[l.n_args++] = (dnnl_exec_arg_t){DNNL_ARG_SRC_ITER, l.src_iter};
        l.args[l.n_args++] = (dnnl_exec_arg_t){DNNL_ARG_DST_ITER, l.dst_iter};
        if (lstm) {
            l.src_iter_c = mem_new(&iter_md);
            l.dst_iter_c = mem_new(&iter_md);
            l.args[l.n_args++] = (dnnl_exec_arg_t){DNNL_ARG_SRC_ITER_C, l.src_iter_c};
            l.args[l.n_args++] = (dnnl_exec_arg_t){DNNL_ARG_DST_ITER_C, l.dst_iter_c};
        }
    }
    dnnl_primitive_desc_destroy(pd);
    return l;
}

static void layer_run(const layer *l) { CHECK(dnnl_primitive_execute(l->prim, stream, l->n_args, l->args)); }

/* Prints the median of `rounds` times, divided by `per`. */
static void report(const char *cfg, const char *what, double *t, int rounds, int per)
{
    qsort(t, (size_t)rounds, sizeof *t, cmp_double);
    printf("onednn (%s) %s: %.4f ms\n", cfg, what, t[rounds / 2] / per);
    printf("anchor onednn %s ms=%.4f\n", cfg, t[rounds / 2] / per);
    fflush(stdout);
}

/* (e) Generation over V symbols through `layers` LSTM layers of H and a dense layer. */
static void bench_generate(const char *cfg, int layers, dnnl_dim_t H, int rounds, int symbols)
{
    enum { V = 84 };
    layer l[2];
    for (int i = 0; i < layers; i++) l[i] = layer_new(1, 1, 1, i == 0 ? V : H, H, 1, 10u + (unsigned)i);
    /* logits [1, V] = h [1, H] . W^T (W [V, H], read through strides) + b */
    dnnl_dim_t h_dims[] = {1, H}, w_dims[] = {H, V}, y_dims[] = {1, V};
    dnnl_memory_desc_t h_md = md_of(2, h_dims, dnnl_ab), w_md = md_of(2, w_dims, dnnl_ba), y_md = md_of(2, y_dims, dnnl_ab);
    dnnl_matmul_desc_t md;
    CHECK(dnnl_matmul_desc_init(&md, &h_md, &w_md, &y_md, &y_md));
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t dense;
    CHECK(dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL));
    CHECK(dnnl_primitive_create(&dense, pd));
    dnnl_primitive_desc_destroy(pd);
    dnnl_memory_t w = mem_new(&w_md), b = mem_new(&y_md), y = mem_new(&y_md), h;
    fill(w, 1.0f / 16, 77), fill(b, 0.1f, 78);
    CHECK(dnnl_memory_create(&h, &h_md, eng, ptr(l[layers - 1].dst)));
    dnnl_exec_arg_t dargs[] = {{DNNL_ARG_SRC, h}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, y}};
    size_t hb = sizeof(float) * (size_t)H;
    double *t = malloc(sizeof(double) * (size_t)rounds);
    int id = 0;
    for (int round = -1; round < rounds; round++) {
        double t0 = now_ms();
        for (int s = 0; s < symbols; s++) {
            float *x = ptr(l[0].src);
            memset(x, 0, sizeof(float) * V);
            x[id] = 1;
            for (int i = 0; i < layers; i++) {
                if (i > 0) memcpy(ptr(l[i].src), ptr(l[i - 1].dst), hb);
                layer_run(&l[i]);
            }
            CHECK(dnnl_primitive_execute(dense, stream, 4, dargs));
            CHECK(dnnl_stream_wait(stream));
            const float *yl = ptr(y);
            id = 0;
            for (int i = 1; i < V; i++)
                if (yl[i] > yl[id]) id = i;
            for (int i = 0; i < layers; i++) { /* the final states are the next step's initial states */
                memcpy(ptr(l[i].src_iter), ptr(l[i].dst_iter), hb);
                memcpy(ptr(l[i].src_iter_c), ptr(l[i].dst_iter_c), hb);
            }
        }
        if (round >= 0) t[round] = now_ms() - t0;
    }
    char what[96];
    snprintf(what, sizeof what, "generation, LSTM %dx%lld over %d symbols, B=1, per symbol", layers, (long long)H, V);
    report(cfg, what, t, rounds, symbols);
    free(t);
}

/* (f) One layer's forward_inference over the whole sequence. */
static void bench_sequence(const char *cfg, int lstm, int rounds)
{
    layer l = layer_new(lstm, 50, 64, 512, 512, 0, 5);
    double *t = malloc(sizeof(double) * (size_t)rounds);
    for (int round = -2; round < rounds; round++) {
        double t0 = now_ms();
        layer_run(&l);
        CHECK(dnnl_stream_wait(stream));
        if (round >= 0) t[round] = now_ms() - t0;
    }
    report(cfg, lstm ? "inference, LSTM T=50 B=64 I=512 H=512, per sequence" : "inference, GRU(lbr) T=50 B=64 I=512 H=512, per sequence",
           t, rounds, 1);
    free(t);
}

int main(int argc, char **argv)
{
    int quick = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr, "usage: onednn_infer [--quick] [--config e1|e2|f1|f2]\n");
            return 2;
        }
    }
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, eng, dnnl_stream_default_flags));
    const char *omp = getenv("OMP_NUM_THREADS");
    printf("# oneDNN forward_inference anchors, OMP_NUM_THREADS=%s\n", omp ? omp : "(unset)");
#define WANT(c) (!only || strcmp(only, c) == 0)
    if (WANT("e1")) bench_generate("e1", 1, 128, quick ? 5 : 15, 200);
    if (WANT("e2")) bench_generate("e2", 2, 512, quick ? 3 : 9, 200);
    if (WANT("f1")) bench_sequence("f1", 1, quick ? 5 : 21);
    if (WANT("f2")) bench_sequence("f2", 0, quick ? 5 : 21);
#undef WANT
    return 0;
}
