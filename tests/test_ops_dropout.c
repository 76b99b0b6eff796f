/*
 * tests/test_ops_dropout.c — inverted dropout: the share of zeros is p and
 * kept values are scaled by 1/(1-p); forward and backward of one run use
 * one mask, successive runs new ones, equal (seed, run) the same one; a
 * plan compiled for inference is the identity; p outside [0, 1) is refused.
 *
 * Finite differences cannot check dropout's gradient (every run draws a
 * new mask), so the test checks it exactly: with L = sum(w * dropout(x)),
 * dL/dx_i = w_i / (1 - p) where element i was kept and 0 where it was dropped.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ROWS = 200, COLS = 500, N = ROWS * COLS };

/* The scale the kernel applies to kept elements. */
static float keep_scale(float p) { return (float)(1.0 / (1.0 - (double)p)); }

/* A graph with x [ROWS, COLS] (uniform in [1, 2), never 0), y = dropout(x), and optionally dL/dx for L = sum(w * y). */
typedef struct fixture {
    recur_graph *g;
    recur_value x, y, dx;
    float *xdata, *w;
} fixture;

static fixture make(float p, uint64_t seed, int with_grad)
{
    fixture f = {.g = recur_graph_new(1), .xdata = malloc(sizeof(float) * N), .w = malloc(sizeof(float) * N)};
    assert_non_null(f.xdata);
    assert_non_null(f.w);
    tu_fill_uniform(f.xdata, N, 1, 2, 11);
    tu_fill_uniform(f.w, N, 0.5f, 1.5f, 12);
    recur_shape s = recur_shape2(ROWS, COLS);
    f.x = recur_param(f.g, "x", s, recur_init_zeros());
    TU_ST(f.g, recur_param_set(f.g, f.x, f.xdata, N));
    f.y = recur_name(f.g, recur_dropout(f.g, f.x, p, seed), "drop");
    TU_OK(f.g, f.y);
    f.dx = RECUR_NONE;
    if (with_grad) {
        recur_value loss = recur_sum(f.g, recur_mul(f.g, f.y, recur_constant(f.g, "w", s, f.w)));
        TU_ST(f.g, recur_grad(f.g, loss, 1, &f.x, &f.dx));
    }
    return f;
}

static void release(fixture *f)
{
    recur_graph_free(f->g);
    free(f->xdata);
    free(f->w);
}

static recur_plan *compile(fixture *f, int inference)
{
    recur_compile_opts o = {.inference = inference};
    int n = recur_ok(f->dx) ? 2 : 1;
    recur_plan *p = recur_compile(f->g, n, (recur_value[]){f->y, f->dx}, &o);
    if (!p) fail_msg("compile: %s", recur_errmsg(f->g));
    return p;
}

static void run(recur_plan *p)
{
    if (recur_plan_run(p) != RECUR_OK) fail_msg("run: %s", recur_plan_errmsg(p));
}

/* Every element is 0 or x / (1 - p); returns the share of zeros. */
static double check_scaled(const fixture *f, const float *y, float p)
{
    float scale = keep_scale(p);
    int64_t zeros = 0;
    for (int64_t i = 0; i < N; i++) {
        if (y[i] == 0) {
            zeros++;
            continue;
        }
        float want = f->xdata[i] * scale;
        tu_assert_close(&y[i], &want, 1, 1e-7, 0);
    }
    return (double)zeros / N;
}

static void test_share_of_zeros_and_scale(void **state)
{
    (void)state;
    const float ps[] = {0.1f, 0.3f, 0.5f, 0.9f};
    for (size_t c = 0; c < sizeof ps / sizeof ps[0]; c++) {
        fixture f = make(ps[c], 42 + c, 0);
        recur_plan *p = compile(&f, 0);
        run(p);
        double share = check_scaled(&f, recur_plan_output(p, f.y), ps[c]);
        /* The standard deviation of the share is sqrt(p (1 - p) / N) <= 0.0016: allow 5 of them. */
        if (fabs(share - ps[c]) > 0.008) fail_msg("p = %g: %.4f of the elements are zero", (double)ps[c], share);
        recur_plan_free(p);
        release(&f);
    }
}

/* p = 0 keeps everything unchanged. */
static void test_p_zero_is_identity(void **state)
{
    (void)state;
    fixture f = make(0, 1, 1);
    recur_plan *p = compile(&f, 0);
    run(p);
    tu_assert_close(recur_plan_output(p, f.y), f.xdata, N, 0, 0);
    tu_assert_close(recur_plan_output(p, f.dx), f.w, N, 0, 0);
    recur_plan_free(p);
    release(&f);
}

/* Forward and backward of one run share the mask: dx_i = w_i / (1 - p) where y_i != 0, else exactly 0. */
static void test_gradient_uses_the_runs_mask(void **state)
{
    (void)state;
    const float prob = 0.4f, scale = keep_scale(prob);
    fixture f = make(prob, 7, 1);
    recur_plan *p = compile(&f, 0);
    for (int r = 0; r < 3; r++) {
        run(p);
        const float *y = recur_plan_output(p, f.y), *dx = recur_plan_output(p, f.dx);
        check_scaled(&f, y, prob);
        for (int64_t i = 0; i < N; i++) {
            if (y[i] == 0) {
                if (dx[i] != 0) fail_msg("run %d element %lld: dropped but its gradient is %g", r, (long long)i, (double)dx[i]);
            } else {
                float want = f.w[i] * scale;
                tu_assert_close(&dx[i], &want, 1, 1e-6, 0);
            }
        }
    }
    recur_plan_free(p);
    release(&f);
}

/* Share of elements dropped in exactly one of a and b. */
static double mask_difference(const float *a, const float *b)
{
    int64_t diff = 0;
    for (int64_t i = 0; i < N; i++) diff += (a[i] == 0) != (b[i] == 0);
    return (double)diff / N;
}

static void test_masks_change_between_runs(void **state)
{
    (void)state;
    const float prob = 0.3f;
    fixture f = make(prob, 5, 0);
    recur_plan *p = compile(&f, 0);
    float *first = malloc(sizeof(float) * N);
    assert_non_null(first);
    run(p);
    memcpy(first, recur_plan_output(p, f.y), sizeof(float) * N);
    run(p);
    /* Independent masks disagree on a share 2 p (1 - p) = 0.42 of the elements. */
    double d = mask_difference(first, recur_plan_output(p, f.y));
    if (fabs(d - 0.42) > 0.01) fail_msg("successive runs' masks differ on %.4f of the elements", d);

    /* The mask is a pure function of (seed, run, index): a second plan's first run repeats the first. */
    recur_plan *q = compile(&f, 0);
    run(q);
    tu_assert_close(recur_plan_output(q, f.y), first, N, 0, 0);
    recur_plan_free(q);
    recur_plan_free(p);

    /* Another seed, another mask. */
    fixture h = make(prob, 6, 0);
    p = compile(&h, 0);
    run(p);
    d = mask_difference(first, recur_plan_output(p, h.y));
    if (fabs(d - 0.42) > 0.01) fail_msg("masks of seeds 5 and 6 differ on %.4f of the elements", d);
    recur_plan_free(p);
    release(&h);
    free(first);
    release(&f);
}

static void test_inference_is_identity(void **state)
{
    (void)state;
    fixture f = make(0.5f, 3, 1);
    recur_plan *p = compile(&f, 1);
    for (int r = 0; r < 2; r++) {
        run(p);
        tu_assert_close(recur_plan_output(p, f.y), f.xdata, N, 0, 0);
        tu_assert_close(recur_plan_output(p, f.dx), f.w, N, 0, 0);
    }
    recur_plan_free(p);
    release(&f);
}

static void test_bad_p_rejected(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape2(2, 3));
    int before = recur_graph_size(g);
    const float bad[] = {1.0f, 1.5f, -0.1f, -INFINITY, NAN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(recur_ok(recur_dropout(g, x, bad[i], 1)));
        assert_int_equal(recur_errcode(g), RECUR_ERR_ARG);
        assert_non_null(strstr(recur_errmsg(g), "dropout"));
        assert_non_null(strstr(recur_errmsg(g), "\"x\""));
        assert_non_null(strstr(recur_errmsg(g), "[0, 1)"));
        assert_int_equal(recur_graph_size(g), before);
        recur_clear_error(g);
    }
    /* An invalid operand keeps the first error. */
    assert_false(recur_ok(recur_dropout(g, RECUR_NONE, 0.5f, 1)));
    assert_int_equal(recur_errcode(g), RECUR_ERR_VALUE);
    recur_clear_error(g);
    /* The graph stays usable, and the node's attributes are listed. */
    recur_value y = recur_dropout(g, x, 0.25f, 99);
    TU_OK(g, y);
    assert_true(recur_shape_equal(recur_value_shape(g, y), recur_shape2(2, 3)));
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    assert_non_null(mem);
    TU_ST(g, recur_graph_dump(g, mem));
    fclose(mem);
    assert_non_null(strstr(text, "dropout(%0) p=0.25 seed=99 [2, 3]"));
    free(text);
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_share_of_zeros_and_scale),
        cmocka_unit_test(test_p_zero_is_identity),
        cmocka_unit_test(test_gradient_uses_the_runs_mask),
        cmocka_unit_test(test_masks_change_between_runs),
        cmocka_unit_test(test_inference_is_identity),
        cmocka_unit_test(test_bad_p_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
