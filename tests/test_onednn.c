/*
 * tests/test_onednn.c — the oneDNN backend against the reference backend:
 * every matmul form and transpose combination on awkward sizes, every
 * eltwise and binary op the backend runs on awkward sizes, which binary
 * broadcasts it takes and which it leaves to the reference kernels, the
 * forward and backward passes of a small MLP and of an unrolled LSTM layer,
 * no allocation and no primitive creation while a plan runs, errors that
 * name the operation and its shapes, the backend's name, and the default
 * backend taken from RECUR_BACKEND.
 */
#include "test_util.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/builtin.h"
#include "backends/onednn/onednn.h"

/*
 * Agreement of oneDNN with the reference kernel on one product element
 * y = sum_l a_l b_l: the reference sums in double, oneDNN in float (in its
 * own order), so they differ by float rounding of the sum, bounded by a few
 * float epsilons (6e-8) times sum_l |a_l b_l|. MM_TOL allows 1e-6 of that
 * sum (the differences seen are at most 2e-7 of it).
 */
#define MM_TOL 1e-6

/*
 * Agreement of whole networks, whose gradients are sums with cancellation:
 * each element within NET_TOL times the largest magnitude of its output
 * tensor (the differences seen are about 3e-7 of it: float rounding).
 */
#define NET_TOL 1e-5

/*
 * Agreement of a oneDNN eltwise node with the reference kernel, relative
 * to the reference value: oneDNN's tanh was measured at most 1.2 ulp from
 * the exact value, logistic 3.5, exp 2.6, the reference kernels' libm
 * calls 2.3, so they differ by at most 6 ulp, 7e-7 of the value; ELT_TOL
 * allows 1e-6. relu, leaky relu, sqrt and square are exact on both. The
 * gradient helpers are checked within ELT_TOL of |dy| instead: as |y| -> 1
 * the reference's dy (1 - y*y) loses the low bits of 1 - y^2 to
 * cancellation, which oneDNN's dy (1 - y)(1 + y) keeps, so the two differ
 * by a few float epsilons of dy, not of the (small) result.
 */
#define ELT_TOL 1e-6

static const int64_t sizes[] = {1, 7, 33, 129};

/* The sizes of the elementwise agreement tests. */
static const int64_t elt_sizes[] = {1, 7, 33, 1000};

/* Fills n floats of `dst` with |src|. */
static void abs_copy(float *dst, const float *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] = fabsf(src[i]);
}

/*
 * Builds matmul(a, b, ta, tb) for a of shape as and b of shape bs, runs it
 * on both backends with random inputs and checks each element within
 * MM_TOL * sum_l |a_l b_l| (that sum is the same product run on the
 * reference backend with |a| and |b|).
 */
static void check_matmul(recur_shape as, recur_shape bs, int ta, int tb)
{
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", as), b = recur_input(g, "b", bs);
    recur_value y = recur_matmul(g, a, b, ta, tb);
    TU_OK(g, y);
    int64_t na = recur_shape_numel(as), nb = recur_shape_numel(bs), ny = recur_shape_numel(recur_value_shape(g, y));
    float *da = malloc(sizeof(float) * (size_t)na), *db = malloc(sizeof(float) * (size_t)nb);
    float *abs_a = malloc(sizeof(float) * (size_t)na), *abs_b = malloc(sizeof(float) * (size_t)nb);
    assert_true(da && db && abs_a && abs_b);
    tu_fill_uniform(da, na, -1, 1, (uint64_t)(na * 31 + nb));
    tu_fill_uniform(db, nb, -1, 1, (uint64_t)(nb * 17 + na + 5));
    abs_copy(abs_a, da, na);
    abs_copy(abs_b, db, nb);
    recur_feed feeds[2] = {{a, da, na}, {b, db, nb}}, abs_feeds[2] = {{a, abs_a, na}, {b, abs_b, nb}};
    float *got = tu_eval_on(g, y, 2, feeds, "onednn");
    float *want = tu_eval_on(g, y, 2, feeds, "reference");
    float *mag = tu_eval_on(g, y, 2, abs_feeds, "reference");
    for (int64_t i = 0; i < ny; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= MM_TOL * mag[i])) {
            char sa[64], sb[64];
            fail_msg("matmul a %s (trans_a=%d) . b %s (trans_b=%d): element %lld: oneDNN %.9g, reference %.9g "
                     "(|diff| %.3g > %.1g * %.4g)",
                     recur_shape_str(as, sa, sizeof sa), ta, recur_shape_str(bs, sb, sizeof sb), tb, (long long)i,
                     (double)got[i], (double)want[i], d, MM_TOL, (double)mag[i]);
        }
    }
    free(got), free(want), free(mag);
    free(da), free(db), free(abs_a), free(abs_b);
    recur_graph_free(g);
}

/* The i-th size triple (m, k, n): every size of `sizes` in every role over four consecutive i. */
static void triple(int i, int64_t *m, int64_t *k, int64_t *n)
{
    *m = sizes[i % 4];
    *k = sizes[(i + 1) % 4];
    *n = sizes[(i + 3) % 4];
}

/* a [m, k] (or [k, m]) . b [k, n] (or [n, k]). */
static void test_plain_2d(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++) {
        int64_t m, k, n;
        triple(i, &m, &k, &n);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                check_matmul(ta ? recur_shape2(k, m) : recur_shape2(m, k), tb ? recur_shape2(n, k) : recur_shape2(k, n),
                             ta, tb);
    }
}

/*
 * A product of one row by a matrix stored by rows (a [.., 1, K] . W^T: a
 * generation step at batch 1) is streamed by recur's own kernel
 * (ops/gemv.c), with or without its bias, on awkward sizes (K not a
 * multiple of the 8 lanes, N not of the 4 rows read together, rows split
 * over threads); other products stay with oneDNN; every one agrees with the
 * reference, and on 1, 2 and 3 threads with the same bits.
 */
static void test_one_row_products_streamed(void **state)
{
    (void)state;
    const recur_backend *be = &recur_backend_onednn_impl;
    const int64_t shapes[][2] = {{77, 203}, {64, 130}, {7, 1}, {600, 2051}}; /* K, N */
    for (int i = 0; i < 4; i++) {
        int64_t K = shapes[i][0], N = shapes[i][1];
        recur_shape as = i == 1 ? recur_shape3(1, 1, K) : recur_shape2(1, K);
        check_matmul(as, recur_shape2(N, K), 0, 1);
        recur_graph *g = recur_graph_new(1);
        recur_value a = recur_input(g, "a", as), w = recur_input(g, "w", recur_shape2(N, K));
        recur_value bias = recur_input(g, "bias", recur_shape1(N));
        recur_value y = recur_add(g, recur_matmul(g, a, w, 0, 1), bias);
        recur_value other = recur_matmul(g, recur_input(g, "a2", recur_shape2(2, K)), w, 0, 1); /* two rows */
        TU_OK(g, other);
        const recur_node *prod = &g->nodes[g->nodes[y.id].in[0]];
        assert_ptr_equal(be->select(g, prod), recur_onednn_gemv);
        assert_ptr_equal(be->select_matmul_bias(g, prod), recur_onednn_gemv);
        assert_ptr_not_equal(be->select(g, &g->nodes[other.id]), recur_onednn_gemv);
        float *da = malloc(sizeof(float) * (size_t)K), *dw = malloc(sizeof(float) * (size_t)(N * K)), *db = malloc(sizeof(float) * (size_t)N);
        tu_fill_uniform(da, K, -1, 1, 11), tu_fill_uniform(dw, N * K, -1, 1, 12), tu_fill_uniform(db, N, -1, 1, 13);
        recur_feed feeds[3] = {{a, da, K}, {w, dw, N * K}, {bias, db, N}};
        float *want = tu_eval_on(g, y, 3, feeds, "reference"), *first = NULL;
        for (int threads = 1; threads <= 3; threads++) {
            recur_set_threads(threads);
            float *got = tu_eval_on(g, y, 3, feeds, "onednn");
            tu_assert_close(got, want, N, 1e-5, 1e-5);
            if (!first) first = got;
            else assert_memory_equal(got, first, sizeof(float) * (size_t)N), free(got);
        }
        recur_set_threads(0);
        free(first), free(want), free(da), free(dw), free(db);
        recur_graph_free(g);
    }
}

/* Returns a malloc'd copy of output v of plan p (of graph g), after a run. */
static float *run_fetch(recur_plan *p, recur_graph *g, recur_value v)
{
    int64_t n = recur_shape_numel(recur_value_shape(g, v));
    float *out = malloc(sizeof(float) * (size_t)n);
    assert_non_null(out);
    assert_int_equal(recur_plan_fetch(p, v, out, n), RECUR_OK);
    return out;
}

/* Runs p and returns a malloc'd copy of its output y. */
static float *run_and_fetch(recur_plan *p, recur_graph *g, recur_value y)
{
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    return run_fetch(p, g, y);
}

/* Asserts that plan `kept` gives the same bits as plan `plain` for y, and frees both results. */
static void assert_same_run(recur_graph *g, recur_plan *kept, recur_plan *plain, recur_value y)
{
    float *a = run_and_fetch(kept, g, y), *b = run_and_fetch(plain, g, y);
    assert_memory_equal(a, b, sizeof(float) * (size_t)recur_shape_numel(recur_value_shape(g, y)));
    free(a), free(b);
}

/*
 * In a plan compiled with keep_packed_params, a one-row product by a
 * parameter reads a copy of it packed for the streaming kernel
 * (backends/onednn/kept.c): the same bits as the plan without, on awkward
 * sizes (N mod 4 from 0 to 3, K a multiple of 8 or not), on 1 to 3
 * threads; the copy follows the parameter when recur_param_set, a write
 * after recur_param_data or an optimizer step changed it; it is held once
 * per parameter however many products read it (plan memory: T products at
 * batch 1 by an LSTM's recurrent weights), a one-hot symbol's lookup reads
 * its weights kept transposed, and a fed weight matrix is not kept.
 */
static void test_one_row_products_kept(void **state)
{
    (void)state;
    const int64_t shapes[][2] = {{77, 203}, {64, 130}, {7, 1}, {16, 8}, {600, 2051}, {9, 5}}; /* K, N */
    for (int i = 0; i < 6; i++) {
        int64_t K = shapes[i][0], N = shapes[i][1];
        recur_graph *g = recur_graph_new(1);
        recur_value a = recur_input(g, "a", recur_shape2(1, K));
        recur_value w = recur_param(g, "w", recur_shape2(N, K), recur_init_uniform(-1, 1));
        recur_value bias = recur_param(g, "bias", recur_shape1(N), recur_init_uniform(-1, 1));
        recur_value y = recur_add(g, recur_matmul(g, a, w, 0, 1), bias);
        TU_OK(g, y);
        recur_compile_opts ko = {.backend = "onednn", .keep_packed_params = 1}, po = {.backend = "onednn"};
        recur_plan *kept = recur_compile(g, 1, &y, &ko), *plain = recur_compile(g, 1, &y, &po);
        assert_non_null(kept);
        assert_non_null(plain);
        assert_int_equal(recur_plan_memory(kept) - recur_plan_memory(plain), sizeof(float) * (size_t)(N * K));
        float *da = malloc(sizeof(float) * (size_t)K), *dw = malloc(sizeof(float) * (size_t)(N * K));
        tu_fill_uniform(da, K, -1, 1, 31);
        assert_int_equal(recur_plan_feed(kept, a, da, K), RECUR_OK);
        assert_int_equal(recur_plan_feed(plain, a, da, K), RECUR_OK);
        for (int threads = 1; threads <= 3; threads++) {
            recur_set_threads(threads);
            assert_same_run(g, kept, plain, y);
        }
        recur_set_threads(0);
        /* the weights changed three ways: each run after the change reads the new ones */
        tu_fill_uniform(dw, N * K, -1, 1, 32);
        assert_int_equal(recur_param_set(g, w, dw, N * K), RECUR_OK);
        assert_same_run(g, kept, plain, y);
        float *wd = recur_param_data(g, w);
        for (int64_t j = 0; j < N * K; j += 3) wd[j] = -wd[j];
        assert_same_run(g, kept, plain, y);
        recur_optim_opts oo = recur_optim_defaults(RECUR_OPTIM_SGD);
        oo.lr = 0.5;
        recur_optim *opt = recur_optim_new(g, &oo, 1, &w);
        assert_non_null(opt);
        assert_same_run(g, kept, plain, y); /* (recur_optim_new took the parameter's pointer) */
        tu_fill_uniform(dw, N * K, -1, 1, 33);
        const float *grads[1] = {dw};
        assert_int_equal(recur_optim_step(opt, grads), RECUR_OK);
        assert_same_run(g, kept, plain, y);
        float *want = tu_eval_on(g, y, 1, (recur_feed[]){{a, da, K}}, "reference"), *got = run_and_fetch(kept, g, y);
        tu_assert_close(got, want, N, 1e-5, 1e-5);
        free(want), free(got);
        recur_optim_free(opt);
        recur_plan_free(kept), recur_plan_free(plain);
        free(da), free(dw);
        recur_graph_free(g);
    }
    /* an LSTM layer unrolled at batch 1: its T per-step products share one copy of the recurrent weights */
    enum { T = 3, I = 5, H = 12 };
    recur_graph *g = recur_graph_new(2);
    recur_value x = recur_input(g, "x", recur_shape3(T, 1, I));
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = I, .hidden = H};
    recur_rnn rnn;
    TU_ST(g, recur_rnn_new(g, "lstm", &o, x, RECUR_NONE, RECUR_NONE, &rnn));
    TU_ST(g, recur_unroll(g));
    recur_compile_opts ko = {.backend = "onednn", .inference = 1, .keep_packed_params = 1};
    recur_compile_opts po = {.backend = "onednn", .inference = 1};
    recur_plan *kept = recur_compile(g, 1, &rnn.outputs, &ko), *plain = recur_compile(g, 1, &rnn.outputs, &po);
    assert_non_null(kept);
    assert_non_null(plain);
    size_t extra = recur_plan_memory(kept) - recur_plan_memory(plain), recurrent = sizeof(float) * 4 * H * H;
    assert_true(extra == recurrent || extra == recurrent + sizeof(float) * 4 * H * I); /* (the input weights too when
                                                                                        * their products are not hoisted) */
    float dx[T * I];
    tu_fill_uniform(dx, T * I, -1, 1, 34);
    assert_int_equal(recur_plan_feed(kept, x, dx, T * I), RECUR_OK);
    assert_int_equal(recur_plan_feed(plain, x, dx, T * I), RECUR_OK);
    assert_same_run(g, kept, plain, rnn.outputs);
    recur_plan_free(kept), recur_plan_free(plain);
    recur_graph_free(g);
    /* a one-hot symbol's lookup (a gather of the weights' columns after the one-hot pass) reads them
     * kept transposed: the same bits, and the new weights after a change */
    enum { V = 37, D = 50 };
    g = recur_graph_new(4);
    recur_value ids = recur_input(g, "ids", recur_shape2(1, 1));
    recur_value wv = recur_param(g, "w", recur_shape2(D, V), recur_init_uniform(-1, 1));
    recur_value looked = recur_matmul(g, recur_one_hot(g, ids, V), wv, 0, 1);
    TU_OK(g, looked);
    TU_ST(g, recur_unroll(g)); /* (the passes: the product becomes a lookup) */
    kept = recur_compile(g, 1, &looked, &ko), plain = recur_compile(g, 1, &looked, &po);
    assert_non_null(kept);
    assert_non_null(plain);
    assert_int_equal(recur_plan_memory(kept) - recur_plan_memory(plain), sizeof(float) * V * D);
    for (int i = 0; i < 3; i++) {
        float id = (float)(i * 17 % V);
        assert_int_equal(recur_plan_feed(kept, ids, &id, 1), RECUR_OK);
        assert_int_equal(recur_plan_feed(plain, ids, &id, 1), RECUR_OK);
        float *got = run_and_fetch(kept, g, looked), *want = run_and_fetch(plain, g, looked);
        assert_memory_equal(got, want, sizeof(float) * D);
        const float *w = recur_param_data(g, wv); /* (a column of w: the lookup itself) */
        for (int d = 0; d < D; d++) assert_true(got[d] == w[d * V + (int)id]);
        free(got), free(want);
        float *wd = recur_param_data(g, wv);
        for (int64_t j = 0; j < V * D; j++) wd[j] = wd[j] * 0.5f + (float)i;
    }
    recur_plan_free(kept), recur_plan_free(plain);
    recur_graph_free(g);
    /* weights fed as an input are not the graph's to keep */
    g = recur_graph_new(3);
    recur_value a = recur_input(g, "a", recur_shape2(1, 16)), w = recur_input(g, "w", recur_shape2(24, 16));
    recur_value y = recur_matmul(g, a, w, 0, 1);
    TU_OK(g, y);
    kept = recur_compile(g, 1, &y, &(recur_compile_opts){.backend = "onednn", .keep_packed_params = 1});
    plain = recur_compile(g, 1, &y, &(recur_compile_opts){.backend = "onednn"});
    assert_int_equal(recur_plan_memory(kept), recur_plan_memory(plain));
    recur_plan_free(kept), recur_plan_free(plain);
    recur_graph_free(g);
}

/*
 * How products are cut into blocks for recur's pool (backends/onednn/cut.c):
 * small products stay whole; a product over packed weights is cut by rows,
 * at least 4 blocks (a per-step product of 64 rows); an unpacked one is cut
 * across its larger operand, in blocks of 256 when the operand read again
 * is larger than L2, in about 4 row blocks when that is all the FLOPs ask
 * for, and blocks of at most 3e7 FLOPs otherwise; every cut covers the
 * whole in 2 to 64 blocks. A
 * weight gradient a^T b (a, b stored as they are) with y larger than L2 is
 * cut in depth, into 2 blocks of at least 512. Then products cut each way,
 * in every transposition, agree with the reference.
 */
static void test_cut_rule(void **state)
{
    (void)state;
    onednn_cut c = recur_onednn_cut(16, 128, 512, 0, 0, 1); /* a small layer's per-step product: 2 MFLOP */
    assert_int_equal(c.size, 16);
    c = recur_onednn_cut(64, 512, 2048, 0, 0, 1); /* bench (b)'s per-step product on packed weights */
    assert_int_equal(c.by_cols, 0);
    assert_int_equal(c.size, 16);
    c = recur_onednn_cut(64, 512, 2048, 0, 0, 0); /* the same on plain weights: b streamed, a small */
    assert_int_equal(c.by_cols, 1);
    assert_int_equal(c.size % 16, 0);
    assert_true(c.size >= 128 && c.size < 2048);
    c = recur_onednn_cut(1, 512, 2048, 0, 0, 0); /* a generation step of a large layer */
    assert_int_equal(c.by_cols, 1);
    assert_int_equal(c.size, 512);
    c = recur_onednn_cut(2048, 3200, 512, 0, 0, 1); /* a product of that shape: b read again, larger than L2 */
    assert_int_equal(c.by_cols, 0);
    assert_int_equal(c.size, 256);
    c = recur_onednn_cut(2048, 3200, 512, 1, 0, 1); /* bench (b)'s weight gradient dG^T H: in depth */
    assert_true(c.by_depth && !c.by_cols);
    assert_int_equal(c.size, 1600);
    assert_false(recur_onednn_cut(2048, 3200, 512, 1, 1, 0).by_depth); /* b^T's rows are strided */
    assert_false(recur_onednn_cut(512, 1280, 128, 1, 0, 0).by_depth); /* bench (a)'s: y fits in L2 */
    assert_false(recur_onednn_cut(2048, 1000, 512, 1, 0, 0).by_depth); /* too shallow for two blocks of 512 */
    /* mid-sized products make about 4 row blocks (a quarter each), large ones blocks of at most 3e7 FLOPs */
    c = recur_onednn_cut(1280, 89, 512, 0, 1, 1); /* bench (a)'s input product over all steps: 117 MFLOP */
    assert_false(c.by_cols || c.by_depth);
    assert_int_equal(c.size, 320);
    c = recur_onednn_cut(512, 1280, 89, 1, 0, 0); /* its input weight gradient: a^T's rows, y fits in L2 */
    assert_false(c.by_cols || c.by_depth);
    assert_int_equal(c.size, 128);
    c = recur_onednn_cut(8192, 128, 256, 0, 0, 0); /* 537 MFLOP: 17 blocks of 488 rows (the last 384) */
    assert_int_equal(c.size, 488);
    c = recur_onednn_cut(512, 3200, 2048, 0, 0, 0); /* the other: a is the smaller operand, still larger than L2 */
    assert_int_equal(c.by_cols, 1);
    assert_int_equal(c.size, 256);
    for (int64_t m = 1; m <= 4096; m *= 4)
        for (int64_t k = 8; k <= 4096; k *= 8)
            for (int64_t n = 1; n <= 4096; n *= 4)
                for (int form = 0; form < 8; form++) {
                    int packed = form & 1, ta = form >> 1 & 1, tb = form >> 2;
                    c = recur_onednn_cut(m, k, n, ta, tb, packed);
                    assert_false(c.by_cols && c.by_depth);
                    assert_true(!c.by_depth || (ta && !tb && c.size >= 512));
                    int64_t whole = c.by_depth ? k : c.by_cols ? n : m;
                    assert_true(c.size >= 1 && c.size <= whole);
                    assert_true(!c.by_cols || !packed);
                    int64_t blocks = (whole + c.size - 1) / c.size;
                    assert_true(blocks == 1 || (blocks >= 2 && blocks <= 64));
                    if (2.0 * (double)m * (double)k * (double)n < 2e6) assert_int_equal(blocks, 1);
                }
    /* in depth (2 blocks of 551 and 550 rows of a and b) */
    check_matmul(recur_shape2(1101, 400), recur_shape2(1101, 400), 1, 0);
    /* cut by columns with a larger than L2 (4 blocks of 304 columns, the last of 288), and by rows (4 of 280) */
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_matmul(ta ? recur_shape2(600, 300) : recur_shape2(300, 600),
                         tb ? recur_shape2(1200, 600) : recur_shape2(600, 1200), ta, tb);
            check_matmul(ta ? recur_shape2(600, 1100) : recur_shape2(1100, 600),
                         tb ? recur_shape2(300, 600) : recur_shape2(600, 300), ta, tb);
        }
}

/* a [..., k] . b [k, n] (or [n, k]): a's leading dims (3-D and 4-D) are rows. */
static void test_rows(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++) {
        int64_t m, k, n;
        triple(i, &m, &k, &n);
        for (int tb = 0; tb < 2; tb++) {
            recur_shape bs = tb ? recur_shape2(n, k) : recur_shape2(k, n);
            check_matmul(recur_shape3(3, m, k), bs, 0, tb);
            check_matmul(recur_shape4(2, m, 3, k), bs, 0, tb);
        }
    }
}

/* a [B, m, k] . b [B, k, n] and the 4-D form [B1, B2, ...], each operand possibly transposed. */
static void test_batched(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++) {
        int64_t m, k, n;
        triple(i, &m, &k, &n);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
                check_matmul(recur_shape3(3, ar, ac), recur_shape3(3, br, bc), ta, tb);
                check_matmul(recur_shape3(1, ar, ac), recur_shape3(1, br, bc), ta, tb);
                check_matmul(recur_shape4(2, 3, ar, ac), recur_shape4(2, 3, br, bc), ta, tb);
            }
    }
}


/*
 * Compiles `outs` of g on both backends, feeds them the same inputs, runs,
 * and checks that every output agrees within NET_TOL.
 */
static void compare_backends(recur_graph *g, int n_outs, const recur_value *outs, int n_feeds, const recur_feed *feeds)
{
    recur_compile_opts ro = {.backend = "reference"}, oo = {.backend = "onednn"};
    recur_plan *ref = recur_compile(g, n_outs, outs, &ro), *dnn = recur_compile(g, n_outs, outs, &oo);
    if (!ref || !dnn) fail_msg("compile: %s", recur_errmsg(g));
    assert_string_equal(recur_plan_backend(ref), "reference");
    assert_string_equal(recur_plan_backend(dnn), "onednn");
    for (int i = 0; i < n_feeds; i++) {
        assert_int_equal(recur_plan_feed(ref, feeds[i].value, feeds[i].data, feeds[i].n), RECUR_OK);
        assert_int_equal(recur_plan_feed(dnn, feeds[i].value, feeds[i].data, feeds[i].n), RECUR_OK);
    }
    if (recur_plan_run(ref) != RECUR_OK) fail_msg("run (reference): %s", recur_plan_errmsg(ref));
    if (recur_plan_run(dnn) != RECUR_OK) fail_msg("run (onednn): %s", recur_plan_errmsg(dnn));
    double worst = 0;
    for (int i = 0; i < n_outs; i++) {
        float *want = run_fetch(ref, g, outs[i]), *got = run_fetch(dnn, g, outs[i]);
        int64_t n = recur_shape_numel(recur_value_shape(g, outs[i]));
        double scale = 0;
        for (int64_t j = 0; j < n; j++) scale = fmax(scale, fabs((double)want[j]));
        for (int64_t j = 0; j < n; j++) {
            double d = fabs((double)got[j] - (double)want[j]);
            if (!(d <= NET_TOL * scale))
                fail_msg("%s element %lld: oneDNN %.9g, reference %.9g (|diff| %.3g > %.1g * max %.4g)",
                         recur_value_name(g, outs[i]), (long long)j, (double)got[j], (double)want[j], d, NET_TOL,
                         scale);
            if (scale > 0 && d / scale > worst) worst = d / scale;
        }
        free(want), free(got);
    }
    print_message("%d outputs agree: largest difference %.2g of the output's largest magnitude\n", n_outs, worst);
    recur_plan_free(ref);
    recur_plan_free(dnn);
}

/* Names each gradient "d/d<its wrt value>" for messages. */
static void name_grads(recur_graph *g, int n, const recur_value *wrt, const recur_value *grads)
{
    for (int i = 0; i < n; i++) {
        char name[128];
        snprintf(name, sizeof name, "d/d%s", recur_value_name(g, wrt[i]));
        TU_ST(g, recur_set_name(g, grads[i], name));
    }
}

/* A two-layer MLP, softmax cross-entropy: the loss and the gradients of every weight and of x. */
static void test_mlp_forward_backward(void **state)
{
    (void)state;
    enum { B = 33, I = 13, Hd = 29, C = 7 };
    recur_graph *g = recur_graph_new(3);
    recur_value x = recur_input(g, "x", recur_shape2(B, I));
    recur_value t = recur_input(g, "t", recur_shape1(B));
    recur_value h = recur_tanh(g, recur_dense(g, "l1", x, Hd, 1));
    recur_value logits = recur_dense(g, "l2", h, C, 1);
    recur_value loss = recur_softmax_xent(g, logits, t, RECUR_NONE);
    TU_OK(g, loss);
    recur_value wrt[5], grads[5];
    int np = recur_params(g, wrt, 4);
    assert_int_equal(np, 4);
    wrt[np++] = x;
    TU_ST(g, recur_grad(g, loss, np, wrt, grads));
    name_grads(g, np, wrt, grads);
    recur_value outs[7] = {loss, logits};
    for (int i = 0; i < np; i++) outs[2 + i] = grads[i];
    float xd[B * I], td[B];
    tu_fill_uniform(xd, B * I, -2, 2, 11);
    for (int i = 0; i < B; i++) td[i] = (float)(i * 5 % C);
    compare_backends(g, 2 + np, outs, 2, (recur_feed[]){{x, xd, B * I}, {t, td, B}});
    recur_graph_free(g);
}

/* An unrolled LSTM layer's training graph: the loss, outputs, final states and every gradient. */
typedef struct lstm_net {
    recur_graph *g;
    recur_value x, h0, c0;
    int n_outs;
    recur_value outs[16];
} lstm_net;

static lstm_net build_lstm(int64_t T, int64_t B, int64_t I, int64_t H, int layers)
{
    lstm_net m;
    recur_graph *g = m.g = recur_graph_new(7);
    m.x = recur_input(g, "x", recur_shape3(T, B, I));
    m.h0 = recur_input(g, "h0", recur_shape3(layers, B, H));
    m.c0 = recur_input(g, "c0", recur_shape3(layers, B, H));
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = I, .hidden = H, .layers = layers};
    recur_rnn rnn;
    TU_ST(g, recur_rnn_new(g, "lstm", &o, m.x, m.h0, m.c0, &rnn));
    float *w = malloc(sizeof(float) * (size_t)(T * B * H));
    assert_non_null(w);
    tu_fill_uniform(w, T * B * H, -1, 1, 21);
    recur_value wy = recur_constant(g, "wy", recur_shape3(T, B, H), w);
    free(w);
    recur_value loss = recur_add(g, recur_sum(g, recur_mul(g, rnn.outputs, wy)), recur_sum(g, rnn.c_n));
    TU_OK(g, loss);
    TU_ST(g, recur_unroll(g));
    recur_value wrt[12], grads[12];
    int nw = recur_params(g, wrt, 8);
    wrt[nw++] = m.x;
    wrt[nw++] = m.h0;
    wrt[nw++] = m.c0;
    TU_ST(g, recur_grad(g, loss, nw, wrt, grads));
    name_grads(g, nw, wrt, grads);
    m.n_outs = 0;
    m.outs[m.n_outs++] = loss;
    m.outs[m.n_outs++] = rnn.outputs;
    m.outs[m.n_outs++] = rnn.h_n;
    for (int i = 0; i < nw; i++) m.outs[m.n_outs++] = grads[i];
    return m;
}

static void fill_lstm_inputs(const lstm_net *m, float **x, float **h0, float **c0, recur_feed feeds[3])
{
    recur_value v[3] = {m->x, m->h0, m->c0};
    float **d[3] = {x, h0, c0};
    for (int i = 0; i < 3; i++) {
        int64_t n = recur_shape_numel(recur_value_shape(m->g, v[i]));
        *d[i] = malloc(sizeof(float) * (size_t)n);
        assert_non_null(*d[i]);
        tu_fill_uniform(*d[i], n, -1, 1, 40 + (uint64_t)i);
        feeds[i] = (recur_feed){v[i], *d[i], n};
    }
}

static void test_lstm_forward_backward(void **state)
{
    (void)state;
    lstm_net m = build_lstm(6, 3, 7, 33, 2);
    float *x, *h0, *c0;
    recur_feed feeds[3];
    fill_lstm_inputs(&m, &x, &h0, &c0, feeds);
    compare_backends(m.g, m.n_outs, m.outs, 3, feeds);
    free(x), free(h0), free(c0);
    recur_graph_free(m.g);
}

/*
 * Feeds both plans, runs them; the oneDNN run must allocate nothing, also
 * when it packs weights (checked from the second run on: the first may
 * warm up oneDNN's own caches). meson runs it with glibc's per-thread
 * caches off (tests/meson.build): a block a pool thread frees into its
 * cache counts as in use.
 */
static void feed_and_run_both(recur_plan *ref, recur_plan *dnn, int n_feeds, const recur_feed *feeds, int run)
{
    for (int i = 0; i < n_feeds; i++) {
        assert_int_equal(recur_plan_feed(ref, feeds[i].value, feeds[i].data, feeds[i].n), RECUR_OK);
        assert_int_equal(recur_plan_feed(dnn, feeds[i].value, feeds[i].data, feeds[i].n), RECUR_OK);
    }
    assert_int_equal(recur_plan_run(ref), RECUR_OK);
    struct mallinfo2 before = mallinfo2();
    if (recur_plan_run(dnn) != RECUR_OK) fail_msg("run (onednn): %s", recur_plan_errmsg(dnn));
    struct mallinfo2 after = mallinfo2();
    if (run > 0) {
        assert_int_equal(before.uordblks, after.uordblks);
        assert_int_equal(before.hblkhd, after.hblkhd);
    }
}

/*
 * Packs a weight w [K, N] read by four products x_i w (trans_b = 0) or
 * x_i w^T (w stored [N, K], trans_b = 1) and runs them; returns how many
 * times the run packed. Checks every product against the reference
 * backend, the plan's memory counting the packed copy, and that new data
 * fed to w between runs is packed again (stale packed weights would give
 * the old products).
 */
static long packed_products(int64_t rows, int tb)
{
    enum { K = 37, N = 29, NX = 4 };
    recur_graph *g = recur_graph_new(7);
    recur_value w = recur_input(g, "w", tb ? recur_shape2(N, K) : recur_shape2(K, N)), x[NX], y[NX];
    recur_feed feeds[NX + 1];
    float *xd[NX], wd[K * N];
    for (int i = 0; i < NX; i++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        x[i] = recur_input(g, name, recur_shape2(rows, K));
        y[i] = recur_matmul(g, x[i], w, 0, tb);
        TU_OK(g, y[i]);
        xd[i] = malloc(sizeof(float) * (size_t)(rows * K));
        assert_non_null(xd[i]);
        tu_fill_uniform(xd[i], rows * K, -1, 1, 11u + (uint64_t)i);
        feeds[i] = (recur_feed){x[i], xd[i], rows * K};
    }
    feeds[NX] = (recur_feed){w, wd, K * N};
    recur_compile_opts ro = {.backend = "reference"}, oo = {.backend = "onednn"};
    recur_plan *ref = recur_compile(g, NX, y, &ro), *dnn = recur_compile(g, NX, y, &oo);
    if (!ref || !dnn) fail_msg("compile: %s", recur_errmsg(g));
    long packs0 = recur_onednn_packs_done();
    for (int run = 0; run < 2; run++) {
        tu_fill_uniform(wd, K * N, -1, 1, 100u + (uint64_t)run); /* new weights each run */
        feed_and_run_both(ref, dnn, NX + 1, feeds, run);
        for (int i = 0; i < NX; i++) {
            float *want = run_fetch(ref, g, y[i]), *got = run_fetch(dnn, g, y[i]);
            for (int64_t j = 0; j < rows * N; j++)
                if (!(fabsf(got[j] - want[j]) <= 1e-5f * K))
                    fail_msg("run %d, product %d (trans_b=%d), element %lld: oneDNN %.9g, reference %.9g", run, i, tb,
                             (long long)j, (double)got[j], (double)want[j]);
            free(want), free(got);
        }
    }
    long packs = recur_onednn_packs_done() - packs0;
    if (packs > 0) /* the packed copy is the plan's memory too */
        assert_true(recur_plan_memory(dnn) >= recur_plan_memory(ref) + sizeof(float) * K * N);
    recur_plan_free(ref), recur_plan_free(dnn);
    for (int i = 0; i < NX; i++) free(xd[i]);
    recur_graph_free(g);
    return packs;
}

/*
 * Weights read by products of many rows together are packed into oneDNN's
 * preferred layout once per run (not once per product), in both
 * transpositions; weights of few rows are read as they are.
 */
/*
 * A weight gradient cut in depth with a bias added (the pass folds it into
 * the product, so block 0 adds it): y = a^T b + c agrees with the reference
 * on 1 and on 2 threads, and is bitwise the same on both (the partial sums
 * are added in block order whichever thread made them).
 */
static void test_depth_blocks_bias_and_threads(void **state)
{
    (void)state;
    enum { K = 1203, M = 400, N = 336 };
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", recur_shape2(K, M)), b = recur_input(g, "b", recur_shape2(K, N));
    recur_value c = recur_input(g, "c", recur_shape1(N));
    recur_value y = recur_add(g, recur_matmul(g, a, b, 1, 0), c);
    TU_OK(g, y);
    float *da = malloc(sizeof(float) * K * M), *db = malloc(sizeof(float) * K * N), dc[N];
    assert_true(da && db);
    tu_fill_uniform(da, K * M, -1, 1, 3);
    tu_fill_uniform(db, K * N, -1, 1, 4);
    tu_fill_uniform(dc, N, -1, 1, 5);
    recur_feed feeds[3] = {{a, da, K * M}, {b, db, K * N}, {c, dc, N}};
    float *want = tu_eval_on(g, y, 3, feeds, "reference"), *got[2];
    for (int t = 0; t < 2; t++) {
        assert_int_equal(recur_set_threads(t + 1), RECUR_OK);
        got[t] = tu_eval_on(g, y, 3, feeds, "onednn");
        for (int64_t i = 0; i < M * N; i++) {
            double tol = 1e-6 * (double)K + 1e-6 * fabs((double)dc[i % N]); /* |a| and |b| are at most 1 */
            if (!(fabs((double)got[t][i] - (double)want[i]) <= tol))
                fail_msg("%d threads: element %lld: oneDNN %.9g, reference %.9g", t + 1, (long long)i, (double)got[t][i],
                         (double)want[i]);
        }
    }
    assert_int_equal(recur_set_threads(0), RECUR_OK);
    assert_memory_equal(got[0], got[1], sizeof(float) * M * N);
    free(got[0]), free(got[1]), free(want), free(da), free(db);
    recur_graph_free(g);
}

static void test_packed_weights(void **state)
{
    (void)state;
    assert_int_equal(packed_products(80, 0), 2); /* 320 rows: one packing per run, two runs */
    assert_int_equal(packed_products(80, 1), 2);
    assert_int_equal(packed_products(5, 0), 0); /* 20 rows: not worth packing */
}

/*
 * Runs n_products products x_i w_i of R rows, each weight read by that
 * product alone (packed into the product's workspace as it runs), twice
 * with new weights; checks them against the reference backend and that a
 * run allocates nothing. Returns how many packings the runs did; *extra:
 * the oneDNN plan's memory over the reference plan's.
 */
static long packed_once(int n_products, size_t *extra)
{
    enum { R = 1100, K = 64, N = 64 };
    recur_graph *g = recur_graph_new(9);
    recur_value x[2], w[2], y[2];
    recur_feed feeds[4];
    float *xd[2], wd[2][K * N];
    for (int i = 0; i < n_products; i++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        x[i] = recur_input(g, name, recur_shape2(R, K));
        snprintf(name, sizeof name, "w%d", i);
        w[i] = recur_input(g, name, recur_shape2(K, N));
        y[i] = recur_matmul(g, x[i], w[i], 0, 0);
        TU_OK(g, y[i]);
        xd[i] = malloc(sizeof(float) * R * K);
        assert_non_null(xd[i]);
        tu_fill_uniform(xd[i], R * K, -1, 1, 21u + (uint64_t)i);
        feeds[2 * i] = (recur_feed){x[i], xd[i], R * K};
        feeds[2 * i + 1] = (recur_feed){w[i], wd[i], K * N};
    }
    recur_compile_opts ro = {.backend = "reference"}, oo = {.backend = "onednn"};
    recur_plan *ref = recur_compile(g, n_products, y, &ro), *dnn = recur_compile(g, n_products, y, &oo);
    if (!ref || !dnn) fail_msg("compile: %s", recur_errmsg(g));
    long packs0 = recur_onednn_packs_done();
    for (int run = 0; run < 2; run++) {
        for (int i = 0; i < n_products; i++) tu_fill_uniform(wd[i], K * N, -1, 1, 200u + (uint64_t)(2 * run + i));
        feed_and_run_both(ref, dnn, 2 * n_products, feeds, run);
        for (int i = 0; i < n_products; i++) {
            float *want = run_fetch(ref, g, y[i]), *got = run_fetch(dnn, g, y[i]);
            for (int64_t j = 0; j < R * N; j++)
                if (!(fabsf(got[j] - want[j]) <= 1e-5f * K))
                    fail_msg("run %d, product %d, element %lld: oneDNN %.9g, reference %.9g", run, i, (long long)j,
                             (double)got[j], (double)want[j]);
            free(want), free(got);
        }
    }
    *extra = recur_plan_memory(dnn) - recur_plan_memory(ref);
    recur_plan_free(ref), recur_plan_free(dnn);
    for (int i = 0; i < n_products; i++) free(xd[i]);
    recur_graph_free(g);
    return recur_onednn_packs_done() - packs0;
}

/*
 * A weight one product of many rows reads is packed into that product's
 * workspace each run, which the plan's arena holds only while the product
 * runs: two such products pack twice per run and need no more memory than
 * one (their workspaces share the same bytes; the arena's placement may
 * differ by a few hundred bytes, far from a second copy).
 */
static void test_packed_into_workspace(void **state)
{
    (void)state;
    size_t one, two;
    assert_int_equal(packed_once(1, &one), 2);
    assert_int_equal(packed_once(2, &two), 4);
    assert_true(one >= sizeof(float) * 64 * 64); /* the packed copy is the plan's memory while it lives */
    assert_true(two < one + sizeof(float) * 64 * 64 / 2);
}

/*
 * Chains of products h <- h U (four of 80 rows: U is packed), then, when
 * `both`, g <- g V from the chain's end (V packed too). Returns the oneDNN
 * plan's memory over the reference plan's, after checking the chain's end
 * against the reference backend.
 */
static size_t packed_chain_extra(int both)
{
    enum { R = 80, K = 64 };
    recur_graph *g = recur_graph_new(13);
    recur_value x = recur_input(g, "x", recur_shape2(R, K)), u = recur_input(g, "u", recur_shape2(K, K));
    recur_value v = recur_input(g, "v", recur_shape2(K, K)), h = x;
    for (int i = 0; i < 4; i++) h = recur_matmul(g, h, u, 0, 0);
    for (int i = 0; both && i < 4; i++) h = recur_matmul(g, h, v, 0, 0);
    TU_OK(g, h);
    float xd[R * K], ud[K * K], vd[K * K];
    tu_fill_uniform(xd, R * K, -1, 1, 31);
    tu_fill_uniform(ud, K * K, -0.2f, 0.2f, 32);
    tu_fill_uniform(vd, K * K, -0.2f, 0.2f, 33);
    recur_feed feeds[3] = {{x, xd, R * K}, {u, ud, K * K}, {v, vd, K * K}};
    compare_backends(g, 1, &h, both ? 3 : 2, feeds);
    recur_compile_opts ro = {.backend = "reference"}, oo = {.backend = "onednn"};
    recur_plan *ref = recur_compile(g, 1, &h, &ro), *dnn = recur_compile(g, 1, &h, &oo);
    assert_non_null(ref);
    assert_non_null(dnn);
    size_t extra = recur_plan_memory(dnn) - recur_plan_memory(ref);
    recur_plan_free(ref), recur_plan_free(dnn);
    recur_graph_free(g);
    return extra;
}

/*
 * A packed copy is a buffer of the plan's arena live from the first
 * product reading it to the last: V's copy, packed after U's last reader,
 * takes U's place (the plan needs no memory for it beyond U's).
 */
static void test_packed_copies_live_while_read(void **state)
{
    (void)state;
    size_t one = packed_chain_extra(0), two = packed_chain_extra(1);
    print_message("packed copies: %zu bytes for U alone, %zu for U then V\n", one, two);
    assert_true(one >= sizeof(float) * 64 * 64);
    assert_true(two < one + sizeof(float) * 64 * 64 / 2);
}

/* An LSTM layer whose recurrent weight is read by enough rows to be packed agrees with the reference. */
static void test_lstm_packed_forward_backward(void **state)
{
    (void)state;
    lstm_net m = build_lstm(20, 16, 7, 33, 1);
    float *x, *h0, *c0;
    recur_feed feeds[3];
    fill_lstm_inputs(&m, &x, &h0, &c0, feeds);
    long packs0 = recur_onednn_packs_done();
    compare_backends(m.g, m.n_outs, m.outs, 3, feeds);
    assert_true(recur_onednn_packs_done() > packs0);
    free(x), free(h0), free(c0);
    recur_graph_free(m.g);
}

/*
 * A training plan on oneDNN creates its primitives when compiled (one per
 * node the backend runs: matmuls, activations, bias adds), none while
 * running, allocates nothing while running, and destroys them when freed.
 */
static void test_compile_time_primitives_and_no_allocation(void **state)
{
    (void)state;
    lstm_net m = build_lstm(5, 4, 9, 16, 1);
    float *x, *h0, *c0;
    recur_feed feeds[3];
    fill_lstm_inputs(&m, &x, &h0, &c0, feeds);
    long created0 = recur_onednn_primitives_created(), alive0 = recur_onednn_primitives_alive();
    recur_compile_opts o = {.backend = "onednn"};
    recur_plan *p = recur_compile(m.g, m.n_outs, m.outs, &o);
    if (!p) fail_msg("compile: %s", recur_errmsg(m.g));
    long made = recur_onednn_primitives_created() - created0;
    assert_true(made > 10); /* 5 steps, forward and backward products */
    assert_int_equal(recur_onednn_primitives_alive() - alive0, made);
    for (int i = 0; i < 3; i++) assert_int_equal(recur_plan_feed(p, feeds[i].value, feeds[i].data, feeds[i].n), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    float loss1;
    assert_int_equal(recur_plan_fetch(p, m.outs[0], &loss1, 1), RECUR_OK);

    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < 10; i++) assert_int_equal(recur_plan_run(p), RECUR_OK);
    struct mallinfo2 after = mallinfo2();
    assert_int_equal(before.uordblks, after.uordblks);
    assert_int_equal(before.hblkhd, after.hblkhd);
    assert_int_equal(recur_onednn_primitives_created() - created0, made);
    /* Runs repeat exactly. */
    float loss2;
    assert_int_equal(recur_plan_fetch(p, m.outs[0], &loss2, 1), RECUR_OK);
    assert_true(loss1 == loss2);

    recur_plan_free(p);
    assert_int_equal(recur_onednn_primitives_alive(), alive0);
    free(x), free(h0), free(c0);
    recur_graph_free(m.g);
}

/*
 * One primitive per node the backend runs (two matmuls and a tanh), none
 * for ops left to the reference kernels (an add of equal shapes, a
 * tanh_grad); the plan names its backend. (Pointwise fusion is off: it
 * would run tanh, add and tanh_grad as one fused kernel. The products are
 * small enough, 1 MFLOP, to be one call each rather than row blocks.)
 */
static void test_one_primitive_per_node(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_set_passes(g, recur_passes(g) & ~RECUR_PASS_FUSE);
    recur_value a = recur_input(g, "a", recur_shape2(512, 32)); /* tanh runs on oneDNN from 16384 elements */
    recur_value w = tu_param(g, "w", recur_shape2(32, 32));
    recur_value m = recur_matmul(g, recur_matmul(g, a, w, 0, 0), w, 0, 1);
    recur_value y = recur_tanh_grad(g, recur_tanh(g, m), recur_add(g, m, a));
    TU_OK(g, y);
    long created0 = recur_onednn_primitives_created();
    recur_compile_opts o = {.backend = "onednn"};
    recur_plan *p = recur_compile(g, 1, &y, &o);
    assert_non_null(p);
    assert_string_equal(recur_plan_backend(p), "onednn");
    assert_int_equal(recur_onednn_primitives_created() - created0, 3);
    recur_plan_free(p);
    recur_graph_free(g);
}

/*
 * Evaluates y on the reference backend and on oneDNN, whose plan must
 * create exactly `prims` primitives when compiled (-1: 0 or 1), and checks
 * every element i within rtol of scale[i] (NULL: of the reference's value;
 * rtol 0: equal).
 */
static void check_both(recur_graph *g, recur_value y, int n_feeds, const recur_feed *feeds, long prims, double rtol,
                       const float *scale, const char *what)
{
    long created0 = recur_onednn_primitives_created();
    float *got = tu_eval_on(g, y, n_feeds, feeds, "onednn");
    long made = recur_onednn_primitives_created() - created0;
    if (prims >= 0 ? made != prims : made > 1) fail_msg("%s: %ld oneDNN primitives, want %ld", what, made, prims);
    float *want = tu_eval_on(g, y, n_feeds, feeds, "reference");
    int64_t n = recur_shape_numel(recur_value_shape(g, y));
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]), m = fabs((double)(scale ? scale[i] : want[i]));
        if (!(d <= rtol * m))
            fail_msg("%s: element %lld: oneDNN %.9g, reference %.9g (|diff| %.3g > %.1g of %.4g)", what, (long long)i,
                     (double)got[i], (double)want[i], d, rtol, m);
    }
    free(got), free(want);
}

/* The elementwise ops oneDNN eltwise runs, each with an input range that exercises it. */
typedef struct elt_case {
    const char *name;
    recur_value (*build)(recur_graph *g, recur_value x, recur_value dy);
    float lo, hi;
    int grad; /* 1: a gradient helper (x, dy): checked against |dy| */
} elt_case;

static recur_value elt_tanh(recur_graph *g, recur_value x, recur_value dy) { return (void)dy, recur_tanh(g, x); }
static recur_value elt_sigmoid(recur_graph *g, recur_value x, recur_value dy) { return (void)dy, recur_sigmoid(g, x); }
static recur_value elt_relu(recur_graph *g, recur_value x, recur_value dy) { return (void)dy, recur_relu(g, x); }
static recur_value elt_exp(recur_graph *g, recur_value x, recur_value dy) { return (void)dy, recur_exp(g, x); }
static recur_value elt_sqrt(recur_graph *g, recur_value x, recur_value dy) { return (void)dy, recur_sqrt(g, x); }
static recur_value elt_square(recur_graph *g, recur_value x, recur_value dy) { return (void)dy, recur_square(g, x); }
static recur_value elt_tanh_grad(recur_graph *g, recur_value y, recur_value dy) { return recur_tanh_grad(g, y, dy); }
static recur_value elt_relu_grad(recur_graph *g, recur_value x, recur_value dy) { return recur_relu_grad(g, x, dy); }

static recur_value elt_leaky(recur_graph *g, recur_value x, recur_value dy)
{
    return (void)dy, recur_leaky_relu(g, x, 0.1f);
}

static recur_value elt_leaky_grad(recur_graph *g, recur_value x, recur_value dy)
{
    return recur_leaky_relu_grad(g, x, dy, -0.3f);
}

static recur_value elt_sigmoid_grad(recur_graph *g, recur_value y, recur_value dy)
{
    return recur_sigmoid_grad(g, y, dy);
}

static const elt_case elt_cases[] = {
    {"tanh", elt_tanh, -6, 6, 0},
    {"sigmoid", elt_sigmoid, -20, 20, 0},
    {"exp", elt_exp, -20, 20, 0},
    {"sqrt", elt_sqrt, 0, 100, 0},
    {"leaky_relu", elt_leaky, -1, 1, 0},
    {"relu", elt_relu, -1, 1, 0},
    {"square", elt_square, -100, 100, 0},
    {"leaky_relu_grad", elt_leaky_grad, -1, 1, 1},
    {"tanh_grad", elt_tanh_grad, -1, 1, 1},       /* input 0 is tanh's output y */
    {"sigmoid_grad", elt_sigmoid_grad, 0, 1, 1}, /* input 0 is sigmoid's output y */
    {"relu_grad", elt_relu_grad, -1, 1, 1},
};

/*
 * Runs elt_cases[c] on a tensor of shape s with random inputs on both
 * backends; oneDNN must create `prims` primitives (-1: 0 or 1).
 */
static void check_eltwise(size_t c, recur_shape s, long prims)
{
    int64_t numel = recur_shape_numel(s);
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", s), dy = recur_input(g, "dy", s);
    recur_value y = elt_cases[c].build(g, x, dy);
    TU_OK(g, y);
    float *xd = malloc(sizeof(float) * (size_t)numel), *dyd = malloc(sizeof(float) * (size_t)numel);
    assert_true(xd && dyd);
    tu_fill_uniform(xd, numel, elt_cases[c].lo, elt_cases[c].hi, (uint64_t)(c * 1000 + (size_t)numel));
    tu_fill_uniform(dyd, numel, -2, 2, (uint64_t)(c * 1000 + (size_t)numel + 5));
    char what[96], sh[64];
    snprintf(what, sizeof what, "%s of %s", elt_cases[c].name, recur_shape_str(s, sh, sizeof sh));
    check_both(g, y, 2, (recur_feed[]){{x, xd, numel}, {dy, dyd, numel}}, prims, ELT_TOL,
               elt_cases[c].grad ? dyd : NULL, what);
    free(xd), free(dyd);
    recur_graph_free(g);
}

/*
 * Each eltwise op on [n] and [3, n] for awkward n (where the smaller ones
 * may stay on the reference kernel), and on [1025, 1025], large enough for
 * every op to run on oneDNN: the reference's values within ELT_TOL.
 */
static void test_eltwise_agrees(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof elt_cases / sizeof elt_cases[0]; c++) {
        for (int k = 0; k < 4; k++) {
            check_eltwise(c, recur_shape1(elt_sizes[k]), -1);
            check_eltwise(c, recur_shape2(3, elt_sizes[k]), -1);
        }
        check_eltwise(c, recur_shape2(1025, 1025), 1);
    }
}

/*
 * From which size each eltwise op runs on oneDNN: tanh, sigmoid and exp
 * from 16384, relu and square from 65536, sqrt, leaky relu and the
 * gradient helpers from 2^20 (backends/onednn/eltwise.c has the timings).
 */
static void test_eltwise_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int64_t from;
    } cases[] = {{"tanh", 16384},     {"sigmoid", 16384},     {"exp", 16384},      {"sqrt", 1 << 20},
                 {"leaky_relu", 1 << 20}, {"leaky_relu_grad", 1 << 20}, {"relu", 65536},  {"square", 65536},
                 {"tanh_grad", 1 << 20}, {"sigmoid_grad", 1 << 20}, {"relu_grad", 1 << 20}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t c = 0;
        while (strcmp(elt_cases[c].name, cases[i].name) != 0) c++;
        check_eltwise(c, recur_shape1(cases[i].from), 1);
        if (cases[i].from > 1) check_eltwise(c, recur_shape1(cases[i].from - 1), 0);
    }
}

/* A binary op by its id, for the tables below. */
static recur_value binary_op(recur_graph *g, int op, recur_value a, recur_value b)
{
    switch (op) {
    case 0: return recur_add(g, a, b);
    case 1: return recur_sub(g, a, b);
    case 2: return recur_mul(g, a, b);
    default: return recur_div(g, a, b);
    }
}

static const char *const binary_names[] = {"add", "sub", "mul", "div"};

/*
 * Evaluates a (op) b for operands of shapes as and bs (b kept away from 0)
 * on both backends, oneDNN creating `prims` primitives (-1: 0 or 1), and
 * checks equal results: IEEE arithmetic on the same pairs of floats.
 */
static void check_binary(int op, recur_shape as, recur_shape bs, long prims)
{
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", as), b = recur_input(g, "b", bs);
    recur_value y = binary_op(g, op, a, b);
    TU_OK(g, y);
    int64_t na = recur_shape_numel(as), nb = recur_shape_numel(bs);
    float *ad = malloc(sizeof(float) * (size_t)na), *bd = malloc(sizeof(float) * (size_t)nb);
    assert_true(ad && bd);
    tu_fill_uniform(ad, na, -3, 3, (uint64_t)(na + 3 * op));
    tu_fill_uniform(bd, nb, 0.5f, 2, (uint64_t)(nb + 7 * op + 1));
    for (int64_t i = 0; i < nb; i += 2) bd[i] = -bd[i];
    char what[160], sa[64], sb[64];
    snprintf(what, sizeof what, "%s of a %s and b %s", binary_names[op], recur_shape_str(as, sa, sizeof sa),
             recur_shape_str(bs, sb, sizeof sb));
    check_both(g, y, 2, (recur_feed[]){{a, ad, na}, {b, bd, nb}}, prims, 0, NULL, what);
    free(ad), free(bd);
    recur_graph_free(g);
}

/*
 * Every binary op and broadcast form on awkward sizes (R, C) from {1, 7,
 * 33, 1000}: equal shapes, a bias row [C], a column [R, 1], a scalar, the
 * repeated operand first, a middle dimension repeated in 3-D and two in
 * 4-D; and equal shapes large enough for oneDNN. (Where a size is 1 a form
 * may become equal shapes, which stay on the reference kernel when small.)
 */
static void test_binary_agrees(void **state)
{
    (void)state;
    for (int op = 0; op < 4; op++) {
        for (int k = 0; k < 4; k++) {
            int64_t R = elt_sizes[k], C = elt_sizes[(k + 1) % 4];
            recur_shape full = recur_shape2(R, C);
            check_binary(op, full, full, -1);
            check_binary(op, full, recur_shape1(C), -1);
            check_binary(op, full, recur_shape2(R, 1), -1);
            check_binary(op, full, recur_shape0(), -1);
            check_binary(op, recur_shape2(1, C), full, -1);
            check_binary(op, recur_shape3(R, 3, C), recur_shape3(R, 1, C), -1);
            check_binary(op, recur_shape4(2, R, 3, C), recur_shape4(1, R, 1, C), -1);
        }
        check_binary(op, recur_shape2(1000, 70), recur_shape2(1000, 70), 1);
    }
}

/*
 * Which binary nodes oneDNN runs: those whose first operand has the output's
 * shape (or whose second has, for add and mul, which commute), at any size
 * when the other operand repeats, from 65536 elements when both have the
 * output's shape.
 */
static void test_binary_forms(void **state)
{
    (void)state;
    enum { ADD, SUB, MUL, DIV };
    recur_shape rc = recur_shape2(4, 5), c = recur_shape1(5), r1 = recur_shape2(4, 1);
    check_binary(ADD, rc, c, 1);              /* bias row */
    check_binary(ADD, c, rc, 1);              /* the same, operands swapped */
    check_binary(MUL, r1, rc, 1);             /* a column first: mul commutes */
    check_binary(SUB, rc, recur_shape0(), 1); /* a scalar */
    check_binary(DIV, rc, r1, 1);
    check_binary(MUL, recur_shape4(2, 3, 4, 5), recur_shape4(1, 3, 1, 5), 1);
    check_binary(SUB, c, rc, 0);              /* the repeated operand first: sub does not commute */
    check_binary(DIV, r1, rc, 0);
    check_binary(ADD, r1, recur_shape2(1, 5), 0); /* both operands repeat */
    for (int op = ADD; op <= DIV; op++) {     /* equal shapes: from 65536 elements */
        check_binary(op, rc, rc, 0);
        check_binary(op, recur_shape2(256, 255), recur_shape2(256, 255), 0);
        check_binary(op, recur_shape2(256, 256), recur_shape2(256, 256), 1);
    }
}

/*
 * A graph of every op the backend moves, and its gradient: compiling makes
 * the primitives, running ten more times makes none and allocates nothing,
 * the results repeat exactly and agree with the reference, and freeing the
 * plan destroys them all. (Pointwise fusion is off, or it would run most
 * of these ops in fused kernels instead.)
 */
static void test_eltwise_binary_plan_allocates_nothing(void **state)
{
    (void)state;
    enum { R = 525, C = 2000 }; /* 1050000 elements: sqrt, leaky relu, relu, square, equal shapes run on oneDNN too */
    recur_graph *g = recur_graph_new(5);
    recur_set_passes(g, recur_passes(g) & ~RECUR_PASS_FUSE);
    recur_value x = recur_input(g, "x", recur_shape2(R, C));
    recur_value b = tu_param(g, "b", recur_shape1(C)), col = tu_param(g, "col", recur_shape2(R, 1));
    recur_value h = recur_mul(g, recur_add(g, x, b), col);
    recur_value t = recur_tanh(g, h), s = recur_sigmoid(g, h), l = recur_leaky_relu(g, h, 0.2f);
    recur_value e = recur_sqrt(g, recur_exp(g, s));
    recur_value y = recur_add(g, recur_div(g, recur_square(g, t), e), recur_add(g, recur_relu(g, h), l));
    recur_value loss = recur_sum(g, recur_mul(g, y, y));
    TU_OK(g, loss);
    recur_value wrt[3] = {x, b, col}, grads[3];
    TU_ST(g, recur_grad(g, loss, 3, wrt, grads));
    name_grads(g, 3, wrt, grads);
    recur_value outs[4] = {loss, grads[0], grads[1], grads[2]};
    float *xd = malloc(sizeof(float) * R * C);
    assert_non_null(xd);
    tu_fill_uniform(xd, R * C, -2, 2, 77);
    recur_feed feed = {x, xd, R * C};
    compare_backends(g, 4, outs, 1, &feed);

    /* The forward pass alone: the bias add, the column mul, seven activations, div, two adds and a mul. */
    long created0 = recur_onednn_primitives_created(), alive0 = recur_onednn_primitives_alive();
    recur_compile_opts o = {.backend = "onednn"};
    recur_plan *p = recur_compile(g, 1, &loss, &o);
    if (!p) fail_msg("compile: %s", recur_errmsg(g));
    assert_int_equal(recur_onednn_primitives_created() - created0, 13);
    recur_plan_free(p);
    assert_int_equal(recur_onednn_primitives_alive(), alive0);

    created0 = recur_onednn_primitives_created();
    p = recur_compile(g, 4, outs, &o);
    if (!p) fail_msg("compile: %s", recur_errmsg(g));
    long made = recur_onednn_primitives_created() - created0;
    assert_true(made > 13); /* and the backward pass's (leaky_relu_grad, divs, products, the column mul) */
    assert_int_equal(recur_onednn_primitives_alive() - alive0, made);
    assert_int_equal(recur_plan_feed(p, x, xd, R * C), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    float first[C];
    assert_int_equal(recur_plan_fetch(p, grads[1], first, C), RECUR_OK);

    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < 10; i++) assert_int_equal(recur_plan_run(p), RECUR_OK);
    struct mallinfo2 after = mallinfo2();
    assert_int_equal(before.uordblks, after.uordblks);
    assert_int_equal(before.hblkhd, after.hblkhd);
    assert_int_equal(recur_onednn_primitives_created() - created0, made);
    float again[C];
    assert_int_equal(recur_plan_fetch(p, grads[1], again, C), RECUR_OK);
    assert_memory_equal(first, again, sizeof first);

    recur_plan_free(p);
    assert_int_equal(recur_onednn_primitives_alive(), alive0);
    free(xd);
    recur_graph_free(g);
}

/*
 * A node the backend cannot run as asked fails to prepare with an error
 * naming the operation and its shapes (the backend's select never sends
 * such a node; this checks the message and that nothing leaks).
 */
static void test_prepare_errors_name_op_and_shapes(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", recur_shape1(3)), b = recur_input(g, "b", recur_shape2(2, 3));
    recur_value y = recur_sub(g, a, b);
    TU_OK(g, y);
    recur_shape xs[2] = {recur_shape1(3), recur_shape2(2, 3)};
    recur_kernel_args args = {.node = &g->nodes[y.id], .xs = xs, .n_in = 2};
    char err[512] = "";
    onednn_prim *p = calloc(1, sizeof *p);
    assert_non_null(p);
    assert_int_equal(recur_onednn_binary_prepare(&args, p, err, sizeof err), RECUR_ERR_RUNTIME);
    assert_non_null(strstr(err, "binary sub of a [3] and b [2, 3] into [2, 3]"));
    recur_onednn_prim_free(p);

    p = calloc(1, sizeof *p);
    assert_non_null(p);
    err[0] = 0;
    assert_int_equal(recur_onednn_eltwise_prepare(&args, p, err, sizeof err), RECUR_ERR_RUNTIME);
    assert_non_null(strstr(err, "eltwise sub of [2, 3]"));
    recur_onednn_prim_free(p);
    recur_graph_free(g);
}

/* Without a backend in the options, RECUR_BACKEND chooses, else oneDNN; an unknown name there is an error naming it. */
static void test_default_backend_from_environment(void **state)
{
    (void)state;
    const char *env = getenv("RECUR_BACKEND");
    char saved[64] = "";
    if (env) snprintf(saved, sizeof saved, "%s", env);
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", recur_shape2(3, 3));
    recur_value y = recur_matmul(g, a, a, 0, 1);
    TU_OK(g, y);
    const char *names[] = {"onednn", "reference"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(setenv("RECUR_BACKEND", names[i], 1), 0);
        recur_plan *p = recur_compile(g, 1, &y, NULL);
        assert_non_null(p);
        assert_string_equal(recur_plan_backend(p), names[i]);
        recur_plan_free(p);
    }
    assert_int_equal(unsetenv("RECUR_BACKEND"), 0); /* neither: the fastest, oneDNN */
    recur_plan *p = recur_compile(g, 1, &y, NULL);
    assert_non_null(p);
    assert_string_equal(recur_plan_backend(p), "onednn");
    recur_plan_free(p);
    assert_int_equal(setenv("RECUR_BACKEND", "quantum", 1), 0);
    assert_null(recur_compile(g, 1, &y, NULL));
    assert_int_equal(recur_errcode(g), RECUR_ERR_UNSUPPORTED);
    assert_non_null(strstr(recur_errmsg(g), "\"quantum\""));
    assert_non_null(strstr(recur_errmsg(g), "RECUR_BACKEND"));
    /* An explicit backend in the options wins over the environment. */
    recur_compile_opts o = {.backend = "onednn"};
    p = recur_compile(g, 1, &y, &o);
    assert_non_null(p);
    assert_string_equal(recur_plan_backend(p), "onednn");
    recur_plan_free(p);
    if (env) setenv("RECUR_BACKEND", saved, 1);
    else unsetenv("RECUR_BACKEND");
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_2d),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_one_row_products_streamed),
        cmocka_unit_test(test_one_row_products_kept),
        cmocka_unit_test(test_cut_rule),
        cmocka_unit_test(test_batched),
        cmocka_unit_test(test_depth_blocks_bias_and_threads),
        cmocka_unit_test(test_mlp_forward_backward),
        cmocka_unit_test(test_lstm_forward_backward),
        cmocka_unit_test(test_packed_weights),
        cmocka_unit_test(test_packed_into_workspace),
        cmocka_unit_test(test_packed_copies_live_while_read),
        cmocka_unit_test(test_lstm_packed_forward_backward),
        cmocka_unit_test(test_compile_time_primitives_and_no_allocation),
        cmocka_unit_test(test_one_primitive_per_node),
        cmocka_unit_test(test_eltwise_agrees),
        cmocka_unit_test(test_eltwise_sizes),
        cmocka_unit_test(test_binary_agrees),
        cmocka_unit_test(test_binary_forms),
        cmocka_unit_test(test_eltwise_binary_plan_allocates_nothing),
        cmocka_unit_test(test_prepare_errors_name_op_and_shapes),
        cmocka_unit_test(test_default_backend_from_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
