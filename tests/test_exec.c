/*
 * tests/test_exec.c — the executor: compiling plans, feeding, running,
 * fetching, buffer reuse, no allocation while running, error paths.
 */
#include "test_util.h"

#include "../plan/arena.h"
#include "plan/plan.h"

#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_feed_run_fetch(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape1(3));
    recur_value k = recur_param(g, "k", recur_shape1(3), recur_init_constant(2));
    recur_value y = recur_mul(g, x, k);
    recur_value s = recur_sum(g, y);
    TU_OK(g, s);
    recur_plan *p = recur_compile(g, 2, (recur_value[]){y, s}, NULL);
    assert_non_null(p);
    /* NULL options: the default backend, RECUR_BACKEND's if set, else the fastest, "onednn". */
    const char *env = getenv("RECUR_BACKEND");
    assert_string_equal(recur_plan_backend(p), env && env[0] ? env : "onednn");
    assert_int_equal(recur_plan_size(p), 2);
    assert_int_equal(recur_plan_feed_name(p, "x", (const float[]){1, 2, 3}, 3), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    float out[3], total;
    assert_int_equal(recur_plan_fetch(p, y, out, 3), RECUR_OK);
    tu_assert_close(out, (const float[]){2, 4, 6}, 3, 0, 0);
    assert_int_equal(recur_plan_fetch(p, s, &total, 1), RECUR_OK);
    assert_true(total == 12.0f);
    const float *direct = recur_plan_output(p, y);
    assert_non_null(direct);
    assert_true(direct[2] == 6.0f);

    /* Parameters live in the graph: a change is seen by the next run, feeds persist. */
    recur_param_data(g, k)[0] = 10;
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    assert_int_equal(recur_plan_fetch(p, s, &total, 1), RECUR_OK);
    assert_true(total == 20.0f);
    recur_plan_free(p);
    recur_graph_free(g);
}

static void test_feed_and_fetch_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape2(2, 3));
    recur_value other = recur_input(g, "other", recur_shape1(1));
    recur_value y = recur_tanh(g, x);
    recur_value z = recur_exp(g, y);
    recur_plan *p = recur_compile(g, 1, &z, NULL);
    assert_non_null(p);
    float data[6] = {0};

    /* Running before feeding names the input and its shape. */
    assert_int_equal(recur_plan_run(p), RECUR_ERR_FEED);
    assert_non_null(strstr(recur_plan_errmsg(p), "\"x\" [2, 3]"));
    assert_non_null(strstr(recur_plan_errmsg(p), "never fed"));
    /* Fetching before a successful run. */
    float out[6];
    assert_int_equal(recur_plan_fetch(p, z, out, 6), RECUR_ERR_STATE);
    /* Wrong sizes, NULL data, inputs the plan does not read, unknown names. */
    assert_int_equal(recur_plan_feed(p, x, data, 5), RECUR_ERR_FEED);
    assert_non_null(strstr(recur_plan_errmsg(p), "takes 6 floats, got 5"));
    assert_int_equal(recur_plan_feed(p, x, NULL, 6), RECUR_ERR_FEED);
    assert_int_equal(recur_plan_feed(p, other, data, 1), RECUR_ERR_VALUE);
    assert_non_null(strstr(recur_plan_errmsg(p), "other"));
    assert_int_equal(recur_plan_feed(p, y, data, 6), RECUR_ERR_VALUE);
    assert_int_equal(recur_plan_feed(p, (recur_value){1000}, data, 6), RECUR_ERR_VALUE);
    assert_int_equal(recur_plan_feed_name(p, "nope", data, 6), RECUR_ERR_VALUE);
    /* The plan is still usable. */
    assert_int_equal(recur_plan_feed(p, x, data, 6), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    assert_int_equal(recur_plan_fetch(p, z, out, 6), RECUR_OK);
    assert_true(out[0] == 1.0f); /* exp(tanh(0)) */
    recur_plan_free(p);
    recur_graph_free(g);
}

static void test_fetch_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape1(4));
    recur_value y = recur_tanh(g, x);
    recur_value z = recur_exp(g, y);
    recur_plan *p = recur_compile(g, 1, &z, NULL);
    assert_non_null(p);
    float data[4] = {0, 1, 2, 3}, out[4];
    assert_int_equal(recur_plan_feed(p, x, data, 4), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    /* y is computed but is not an output (its buffer may be reused). */
    assert_int_equal(recur_plan_fetch(p, y, out, 4), RECUR_ERR_VALUE);
    assert_non_null(strstr(recur_plan_errmsg(p), "not an output"));
    assert_null(recur_plan_output(p, y));
    assert_int_equal(recur_plan_fetch(p, z, out, 3), RECUR_ERR_FEED);
    assert_int_equal(recur_plan_fetch(p, z, NULL, 4), RECUR_ERR_FEED);
    assert_int_equal(recur_plan_fetch(p, z, out, 4), RECUR_OK);
    assert_true(fabsf(out[1] - expf(tanhf(1))) < 1e-6f);
    recur_plan_free(p);
    recur_graph_free(g);
}

static void test_compile_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape1(4));
    recur_value y = recur_tanh(g, x);
    assert_null(recur_compile(g, 0, &y, NULL));
    assert_int_equal(recur_errcode(g), RECUR_ERR_ARG);
    assert_null(recur_compile(g, 1, (recur_value[]){{77}}, NULL));
    assert_int_equal(recur_errcode(g), RECUR_ERR_VALUE);
    recur_compile_opts o = {.backend = "quantum"};
    assert_null(recur_compile(g, 1, &y, &o));
    assert_int_equal(recur_errcode(g), RECUR_ERR_UNSUPPORTED);
    assert_non_null(strstr(recur_errmsg(g), "quantum"));
    assert_true(recur_backend_available("reference"));
    assert_false(recur_backend_available("quantum"));
    assert_null(recur_compile(NULL, 1, &y, NULL));
    recur_graph_free(g);
}

/* A long chain: with reuse, the plan needs a few buffers, not one per node. */
static void test_buffer_reuse(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    const int64_t N = 1000;
    recur_value x = recur_input(g, "x", recur_shape1(N));
    recur_value h = x;
    for (int i = 0; i < 50; i++) h = recur_add(g, recur_tanh(g, h), x);
    TU_OK(g, h);
    recur_set_passes(g, RECUR_PASS_ALL & ~RECUR_PASS_FUSE); /* liveness alone: fusion would keep no intermediates at all */
    float *data = malloc(sizeof(float) * (size_t)N);
    assert_non_null(data);
    tu_fill_uniform(data, N, -1, 1, 3);
    recur_plan *reuse = recur_compile(g, 1, &h, NULL);
    recur_compile_opts o = {.no_reuse = 1};
    recur_plan *fresh = recur_compile(g, 1, &h, &o);
    assert_non_null(reuse);
    assert_non_null(fresh);
    size_t bytes = sizeof(float) * (size_t)N;
    assert_true(recur_plan_memory(fresh) >= 101 * bytes);
    assert_true(recur_plan_memory(reuse) <= 4 * bytes);
    recur_plan *plans[2] = {reuse, fresh};
    float *out[2];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(recur_plan_feed(plans[k], x, data, N), RECUR_OK);
        assert_int_equal(recur_plan_run(plans[k]), RECUR_OK);
        out[k] = malloc(bytes);
        assert_int_equal(recur_plan_fetch(plans[k], h, out[k], N), RECUR_OK);
    }
    assert_memory_equal(out[0], out[1], bytes);
    /* And both agree with the math done here. */
    for (int64_t i = 0; i < N; i += 97) {
        float v = data[i];
        for (int k = 0; k < 50; k++) v = tanhf(v) + data[i];
        assert_true(fabsf(v - out[0][i]) < 1e-5f);
    }
    free(out[0]), free(out[1]), free(data);
    recur_plan_free(reuse);
    recur_plan_free(fresh);
    recur_graph_free(g);
}

/*
 * The memory report: the total recur_plan_memory gives, then the peak and
 * the largest buffers live at it, largest first: here a [2, 3000] product
 * (24 KB), then the [2, 8] input among the rest (on oneDNN the product's
 * workspace too).
 */
static void test_memory_report(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape2(2, 8));
    recur_value w = recur_param(g, "w", recur_shape2(8, 3000), recur_init_uniform(-1, 1));
    recur_value y = recur_matmul(g, recur_tanh(g, x), w, 0, 0), z = recur_sum(g, y);
    TU_OK(g, z);
    recur_set_name(g, y, "product");
    recur_plan *p = recur_compile(g, 1, &z, NULL);
    assert_non_null(p);
    char *text = NULL, want[64];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(recur_plan_memory_report(p, f, 4), RECUR_OK);
    fclose(f);
    print_message("%s", text);
    snprintf(want, sizeof want, "memory: %zu bytes", recur_plan_memory(p));
    assert_non_null(strstr(text, want));
    const char *peak = strstr(text, "peak:"), *big = strstr(text, "product [2, 3000]"), *in = strstr(text, "x [2, 8] (input)");
    assert_non_null(peak);
    assert_non_null(big);
    assert_non_null(in);
    assert_true(peak < big && big < in); /* largest first */
    free(text);
    assert_int_equal(recur_plan_memory_report(p, stdout, -1), RECUR_ERR_ARG);
    assert_int_equal(recur_plan_memory_report(NULL, stdout, 3), RECUR_ERR_ARG);
    recur_plan_free(p);
    recur_graph_free(g);
}

/* Text a profiled plan's report writes (recur_plan_profile or, dump = 1, recur_plan_dump); free it. */
static char *profile_text(const recur_plan *p, int dump)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(dump ? recur_plan_dump(p, f) : recur_plan_profile(p, f), RECUR_OK);
    fclose(f);
    return text;
}

/* The calls of `op` a profile reports, or 0 when it lists no such line. */
static long long profile_calls(const char *text, const char *op)
{
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char name[32];
        double ms, share;
        long long calls;
        if (sscanf(line, "%31s %lf %lf%% %lld", name, &ms, &share, &calls) == 4 && strcmp(name, op) == 0) return calls;
    }
    return 0;
}

/* The times a dump shows, and those of them that are zero. */
static int times(const char *dump) { return tu_count_of(dump, " ms ("); }
static int zero_times(const char *dump) { return tu_count_of(dump, " 0.000 ms (0.0%)"); }

/*
 * A profiled plan counts every kernel call of its runs, per op;
 * recur_plan_profile_reset forgets them (and the dump's times), so a
 * profile after warm-up runs counts only what follows.
 */
static void test_profile_reset(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape2(4, 8));
    recur_value w = recur_param(g, "w", recur_shape2(8, 8), recur_init_uniform(-1, 1));
    recur_value h = recur_matmul(g, x, w, 0, 0);
    recur_value y = recur_sum(g, recur_matmul(g, recur_mul(g, recur_tanh(g, h), recur_sigmoid(g, h)), w, 0, 0));
    TU_OK(g, y);
    recur_compile_opts o = {.profile = 1, .backend = "reference"};
    recur_plan *p = recur_compile(g, 1, &y, &o);
    assert_non_null(p);
    assert_int_equal(recur_plan_feed_name(p, "x", (const float[32]){1}, 32), RECUR_OK);
    for (int r = 0; r < 3; r++) assert_int_equal(recur_plan_run(p), RECUR_OK);
    char *text = profile_text(p, 1);
    int fused = strstr(text, " fused <-") != NULL; /* tanh(h) sigmoid(h): one kernel (unless passes are off) */
    assert_true(zero_times(text) < times(text)); /* the dump shows each kernel's time */
    free(text);
    text = profile_text(p, 0);
    assert_int_equal(profile_calls(text, "matmul"), 6);
    assert_true(!fused || strstr(text, "(fused pointwise)"));
    free(text);
    assert_int_equal(recur_plan_profile_reset(p), RECUR_OK);
    text = profile_text(p, 0);
    assert_int_equal(profile_calls(text, "matmul"), 0);
    assert_null(strstr(text, "(fused pointwise)"));
    free(text);
    text = profile_text(p, 1);
    assert_true(times(text) > 0 && zero_times(text) == times(text)); /* ... and the dump's times are zero */
    free(text);
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    text = profile_text(p, 0);
    assert_int_equal(profile_calls(text, "matmul"), 2);
    free(text);
    assert_int_equal(recur_plan_profile_reset(NULL), RECUR_ERR_ARG);
    recur_plan_free(p);
    recur_graph_free(g);
}

/*
 * Arena placement: buffers live at the same step never overlap in memory;
 * the arena is at least the largest total live at one step, and for a
 * chain of values each read only by the next it is two buffers, not n.
 */
static void test_arena_placement(void **state)
{
    (void)state;
    enum { N = 200, STEPS = 60 };
    arena_buf b[N];
    uint64_t r = 12345;
    for (int i = 0; i < N; i++) {
        r = r * 6364136223846793005u + 1442695040888963407u;
        int first = (int)((r >> 33) % STEPS), len = (int)((r >> 20) % 12);
        b[i] = (arena_buf){first, first + len, 64 * (1 + (size_t)((r >> 40) % 50)), 0};
    }
    size_t total = 0;
    assert_int_equal(recur_arena_place(b, N, &total, NULL), 0);
    size_t peak = 0;
    for (int s = 0; s < STEPS + 12; s++) {
        size_t live = 0;
        for (int i = 0; i < N; i++) live += b[i].first <= s && s <= b[i].last ? b[i].bytes : 0;
        if (live > peak) peak = live;
    }
    assert_true(total >= peak);
    for (int i = 0; i < N; i++) {
        assert_true(b[i].offset + b[i].bytes <= total);
        for (int j = 0; j < i; j++) {
            int together = !(b[i].last < b[j].first || b[j].last < b[i].first);
            int overlap = b[i].offset < b[j].offset + b[j].bytes && b[j].offset < b[i].offset + b[i].bytes;
            if (together && overlap) fail_msg("buffers %d and %d are live together and overlap", i, j);
        }
    }
    print_message("arena %zu bytes for a peak of %zu live\n", total, peak);
    arena_buf chain[N];
    for (int i = 0; i < N; i++) chain[i] = (arena_buf){i, i + 1, 640, 0};
    assert_int_equal(recur_arena_place(chain, N, &total, NULL), 0);
    assert_int_equal(total, 2 * 640);
}

/* Runs the plan of y fed with x and returns a copy of y. */
static float *run_one(recur_graph *g, recur_value y, recur_plan **plan, int n_feeds, const recur_feed *feeds)
{
    *plan = recur_compile(g, 1, &y, NULL);
    if (!*plan) fail_msg("compile: %s", recur_errmsg(g));
    for (int i = 0; i < n_feeds; i++)
        assert_int_equal(recur_plan_feed(*plan, feeds[i].value, feeds[i].data, feeds[i].n), RECUR_OK);
    assert_int_equal(recur_plan_run(*plan), RECUR_OK);
    int64_t n = recur_shape_numel(recur_value_shape(g, y));
    float *out = malloc(sizeof(float) * (size_t)n);
    assert_int_equal(recur_plan_fetch(*plan, y, out, n), RECUR_OK);
    return out;
}

/*
 * In-place concatenation: values the plan computes are computed straight
 * into their part of a concatenation along its outer axis (same buffer,
 * offset by the values before them), the concat runs no kernel, and the
 * result is that of copying; a fed input is still copied in beside
 * computed parts; a concatenation along an inner axis copies.
 */
static void test_concat_in_place(void **state)
{
    (void)state;
    enum { R = 3, C = 4 };
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", recur_shape2(R, C)), b = recur_input(g, "b", recur_shape2(R, C));
    recur_value ta = recur_tanh(g, a), sb = recur_sigmoid(g, b);
    recur_value rows = recur_concat(g, 2, (recur_value[]){ta, sb}, 0);
    recur_value mixed = recur_concat(g, 3, (recur_value[]){a, recur_exp(g, b), ta}, 0);
    recur_value cols = recur_concat(g, 2, (recur_value[]){recur_neg(g, a), recur_neg(g, b)}, 1);
    recur_value y_rows = recur_scale(g, rows, 2), y_mixed = recur_scale(g, mixed, 2), y_cols = recur_scale(g, cols, 2);
    TU_OK(g, y_cols);
    recur_set_passes(g, RECUR_PASS_ALL & ~RECUR_PASS_FUSE); /* fusion would hide the elementwise values */
    float ad[R * C], bd[R * C];
    tu_fill_uniform(ad, R * C, -2, 2, 1);
    tu_fill_uniform(bd, R * C, -2, 2, 2);
    recur_feed feeds[2] = {{a, ad, R * C}, {b, bd, R * C}};

    recur_plan *p;
    float *got = run_one(g, y_rows, &p, 2, feeds);
    for (int i = 0; i < R * C; i++) {
        assert_float_equal(got[i], 2 * tanhf(ad[i]), 1e-6);
        assert_float_equal(got[R * C + i], 2 / (1 + expf(-bd[i])), 1e-6);
    }
    float *cat = recur_plan_value_buffer(p, rows);
    assert_ptr_equal(recur_plan_value_buffer(p, ta), cat);
    assert_ptr_equal(recur_plan_value_buffer(p, sb), cat + R * C);
    assert_int_equal(recur_plan_size(p), 3); /* tanh, sigmoid, scale: the concat runs nothing */
    free(got), recur_plan_free(p);

    /* The same values joined again (as [2, R, C]) and a row block of it read in place: views of that buffer. */
    recur_value again = recur_concat(g, 2, (recur_value[]){recur_reshape(g, ta, recur_shape3(1, R, C)),
                                                           recur_reshape(g, sb, recur_shape3(1, R, C))}, 0);
    recur_value second = recur_take(g, again, 0, 1), y_both = recur_add(g, recur_sum(g, rows), recur_sum(g, second));
    TU_OK(g, y_both);
    got = run_one(g, y_both, &p, 2, feeds);
    double want = 0;
    for (int i = 0; i < R * C; i++) want += tanh(ad[i]) + 2 / (1 + exp(-bd[i]));
    assert_float_equal(got[0], want, 1e-4);
    cat = recur_plan_value_buffer(p, rows);
    assert_ptr_equal(recur_plan_value_buffer(p, again), cat);
    assert_ptr_equal(recur_plan_value_buffer(p, second), cat + R * C);
    free(got), recur_plan_free(p);

    got = run_one(g, y_mixed, &p, 2, feeds);
    for (int i = 0; i < R * C; i++) {
        assert_float_equal(got[i], 2 * ad[i], 1e-6);
        assert_float_equal(got[R * C + i], 2 * expf(bd[i]), 1e-5 * fabsf(got[R * C + i]));
        assert_float_equal(got[2 * R * C + i], 2 * tanhf(ad[i]), 1e-6);
    }
    cat = recur_plan_value_buffer(p, mixed);
    assert_ptr_equal(recur_plan_value_buffer(p, ta), cat + 2 * R * C);
    assert_ptr_not_equal(recur_plan_value_buffer(p, a), cat); /* the fed input is copied in */
    free(got), recur_plan_free(p);

    got = run_one(g, y_cols, &p, 2, feeds);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < 2 * C; c++)
            assert_float_equal(got[r * 2 * C + c], -2 * (c < C ? ad[r * C + c] : bd[r * C + c - C]), 1e-6);
    free(got), recur_plan_free(p);
    recur_graph_free(g);
}

/*
 * A stack along the outer axis is laid out as a concatenation: its parts
 * are computed straight into it. A join whose parts all lie in it may
 * itself be a part of a later join (hoisting in chunks joins chunks of
 * steps, then the chunks): every value lies in the outer buffer, nothing
 * is copied, and the results are those of copying.
 */
static void test_stack_and_nested_joins_in_place(void **state)
{
    (void)state;
    enum { R = 3, C = 4, N = R * C };
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", recur_shape2(R, C)), b = recur_input(g, "b", recur_shape2(R, C));
    recur_value ta = recur_tanh(g, a), sb = recur_sigmoid(g, b), ea = recur_exp(g, a), nb = recur_neg(g, b);
    recur_value first = recur_stack(g, 2, (recur_value[]){ta, sb}, 0), second = recur_stack(g, 2, (recur_value[]){ea, nb}, 0);
    recur_value both = recur_concat(g, 2, (recur_value[]){first, second}, 0);
    recur_value y = recur_scale(g, recur_add(g, both, both), 0.5f);
    TU_OK(g, y);
    recur_set_passes(g, RECUR_PASS_ALL & ~RECUR_PASS_FUSE); /* fusion would hide the elementwise values */
    float ad[N], bd[N];
    tu_fill_uniform(ad, N, -2, 2, 3);
    tu_fill_uniform(bd, N, -2, 2, 4);
    recur_feed feeds[2] = {{a, ad, N}, {b, bd, N}};
    recur_plan *p;
    float *got = run_one(g, y, &p, 2, feeds);
    for (int i = 0; i < N; i++) {
        assert_float_equal(got[i], tanhf(ad[i]), 1e-6);
        assert_float_equal(got[N + i], 1 / (1 + expf(-bd[i])), 1e-6);
        assert_float_equal(got[2 * N + i], expf(ad[i]), 1e-5 * expf(ad[i]));
        assert_float_equal(got[3 * N + i], -bd[i], 1e-6);
    }
    float *at = recur_plan_value_buffer(p, both);
    assert_ptr_equal(recur_plan_value_buffer(p, first), at);
    assert_ptr_equal(recur_plan_value_buffer(p, second), at + 2 * N);
    assert_ptr_equal(recur_plan_value_buffer(p, ta), at);
    assert_ptr_equal(recur_plan_value_buffer(p, sb), at + N);
    assert_ptr_equal(recur_plan_value_buffer(p, ea), at + 2 * N);
    assert_ptr_equal(recur_plan_value_buffer(p, nb), at + 3 * N);
    assert_int_equal(recur_plan_size(p), 6); /* four elementwise ops, the add and the scale: no join copies */
    free(got), recur_plan_free(p);
    recur_graph_free(g);
}

/*
 * Shared computations: a step computing what an earlier step computes
 * (the same op and attributes on the same values) runs nothing and reads
 * the earlier result; two reductions of one buffer over its leading axes
 * ([2, R, C] and [2R, C] views of one concatenation) share one result.
 */
static void test_shared_computations(void **state)
{
    (void)state;
    enum { R = 3, C = 5 };
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", recur_shape2(R, C)), b = recur_input(g, "b", recur_shape2(R, C));
    recur_value t1 = recur_tanh(g, a), t2 = recur_tanh(g, a), other = recur_tanh(g, b);
    recur_value ea = recur_exp(g, a), eb = recur_exp(g, b);
    recur_value flat = recur_concat(g, 2, (recur_value[]){ea, eb}, 0);
    recur_value stacked = recur_concat(g, 2, (recur_value[]){recur_reshape(g, ea, recur_shape3(1, R, C)),
                                                              recur_reshape(g, eb, recur_shape3(1, R, C))}, 0);
    recur_value s1 = recur_sum_to(g, flat, recur_shape1(C)), s2 = recur_sum_to(g, stacked, recur_shape1(C));
    recur_value y = recur_add(g, recur_add(g, recur_sum(g, recur_add(g, t1, t2)), recur_sum(g, other)),
                              recur_sum(g, recur_sub(g, s1, recur_scale(g, s2, 0.5f))));
    TU_OK(g, y);
    /* (without lanes' order, in which `other` comes after t1 is dead and may take its bytes by liveness) */
    recur_set_passes(g, RECUR_PASS_ALL & ~(RECUR_PASS_FUSE | RECUR_PASS_LANES));
    float ad[R * C], bd[R * C];
    tu_fill_uniform(ad, R * C, -1, 1, 5);
    tu_fill_uniform(bd, R * C, -1, 1, 6);
    recur_feed feeds[2] = {{a, ad, R * C}, {b, bd, R * C}};
    recur_plan *p;
    float *got = run_one(g, y, &p, 2, feeds);
    double want = 0;
    for (int i = 0; i < R * C; i++) want += 2 * tanh(ad[i]) + tanh(bd[i]) + 0.5 * (exp(ad[i]) + exp(bd[i]));
    assert_float_equal(got[0], want, 1e-4);
    assert_ptr_equal(recur_plan_value_buffer(p, t2), recur_plan_value_buffer(p, t1));
    assert_ptr_not_equal(recur_plan_value_buffer(p, other), recur_plan_value_buffer(p, t1));
    assert_ptr_equal(recur_plan_value_buffer(p, s2), recur_plan_value_buffer(p, s1));
    free(got), recur_plan_free(p);
    recur_graph_free(g);
}

/* Running a compiled plan allocates nothing (checked through glibc's heap statistics). */
static void test_run_allocates_nothing(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape2(8, 16));
    recur_value w = tu_param(g, "w", recur_shape1(16));
    recur_value loss = recur_mean(g, recur_square(g, recur_tanh(g, recur_mul(g, x, w))));
    recur_value dw;
    TU_ST(g, recur_grad(g, loss, 1, &w, &dw));
    recur_plan *p = recur_compile(g, 2, (recur_value[]){loss, dw}, NULL);
    assert_non_null(p);
    float data[128];
    tu_fill_uniform(data, 128, -1, 1, 9);
    assert_int_equal(recur_plan_feed(p, x, data, 128), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < 20; i++) assert_int_equal(recur_plan_run(p), RECUR_OK);
    struct mallinfo2 after = mallinfo2();
    assert_int_equal(before.uordblks, after.uordblks);
    assert_int_equal(before.hblkhd, after.hblkhd);
    recur_plan_free(p);
    recur_graph_free(g);
}

static void test_check_finite_names_the_node(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape1(3));
    recur_value l = recur_name(g, recur_log(g, x), "logx");
    recur_value y = recur_scale(g, l, 2);
    recur_compile_opts o = {.check_finite = 1};
    recur_plan *p = recur_compile(g, 1, &y, &o);
    assert_non_null(p);
    assert_int_equal(recur_plan_feed(p, x, (const float[]){1, -1, 2}, 3), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_ERR_RUNTIME);
    assert_non_null(strstr(recur_plan_errmsg(p), "logx"));
    assert_non_null(strstr(recur_plan_errmsg(p), "element 1"));
    /* Good data runs fine afterwards. */
    assert_int_equal(recur_plan_feed(p, x, (const float[]){1, 3, 2}, 3), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    recur_plan_free(p);
    recur_graph_free(g);
}

/* Adding nodes to the graph after compiling (which may move its node array) leaves the plan working. */
static void test_graph_grows_after_compile(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape1(2));
    recur_value y = recur_add(g, recur_tanh(g, x), x);
    recur_plan *p = recur_compile(g, 1, &y, NULL);
    assert_non_null(p);
    for (int i = 0; i < 500; i++) TU_OK(g, recur_neg(g, y));
    assert_int_equal(recur_plan_feed(p, x, (const float[]){0.5f, -2}, 2), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    float out[2];
    assert_int_equal(recur_plan_fetch(p, y, out, 2), RECUR_OK);
    tu_assert_close(out, (const float[]){tanhf(0.5f) + 0.5f, tanhf(-2) - 2}, 2, 1e-6, 0);
    recur_plan_free(p);
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feed_run_fetch),
        cmocka_unit_test(test_feed_and_fetch_errors),
        cmocka_unit_test(test_fetch_errors),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_buffer_reuse),
        cmocka_unit_test(test_arena_placement),
        cmocka_unit_test(test_memory_report),
        cmocka_unit_test(test_profile_reset),
        cmocka_unit_test(test_concat_in_place),
        cmocka_unit_test(test_stack_and_nested_joins_in_place),
        cmocka_unit_test(test_shared_computations),
        cmocka_unit_test(test_run_allocates_nothing),
        cmocka_unit_test(test_check_finite_names_the_node),
        cmocka_unit_test(test_graph_grows_after_compile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
