/*
 * tests/test_util.c — helpers shared by the CMocka tests.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tu_check_ok(recur_graph *g, int ok, const char *file, int line)
{
    if (ok) return;
    fail_msg("%s:%d: %s", file, line, g ? recur_errmsg(g) : "(no graph)");
}

int tu_count_of(const char *text, const char *what)
{
    int n = 0;
    for (const char *at = strstr(text, what); at; at = strstr(at + 1, what)) n++;
    return n;
}

void tu_fill_uniform(float *x, int64_t n, float lo, float hi, uint64_t seed)
{
    uint64_t s = seed * 2862933555777941757ULL + 3037000493ULL;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(s >> 11) * 0x1.0p-53;
        x[i] = (float)(lo + (hi - lo) * u);
    }
}

recur_value tu_param(recur_graph *g, const char *name, recur_shape shape)
{
    recur_value v = recur_param(g, name, shape, recur_init_uniform(-1, 1));
    TU_OK(g, v);
    return v;
}

float *tu_eval_on(recur_graph *g, recur_value v, int n_feeds, const recur_feed *feeds, const char *backend)
{
    recur_compile_opts o = {.backend = backend};
    recur_plan *p = recur_compile(g, 1, &v, &o);
    if (!p) fail_msg("compile: %s", recur_errmsg(g));
    for (int i = 0; i < n_feeds; i++)
        if (recur_plan_feed(p, feeds[i].value, feeds[i].data, feeds[i].n) != RECUR_OK &&
            recur_plan_errcode(p) != RECUR_ERR_VALUE)
            fail_msg("feed: %s", recur_plan_errmsg(p));
    if (recur_plan_run(p) != RECUR_OK) fail_msg("run: %s", recur_plan_errmsg(p));
    int64_t n = recur_shape_numel(recur_value_shape(g, v));
    float *out = malloc(sizeof(float) * (size_t)n);
    assert_non_null(out);
    assert_int_equal(recur_plan_fetch(p, v, out, n), RECUR_OK);
    recur_plan_free(p);
    return out;
}

float *tu_eval(recur_graph *g, recur_value v, int n_feeds, const recur_feed *feeds)
{
    return tu_eval_on(g, v, n_feeds, feeds, NULL);
}

void tu_assert_close(const float *got, const float *want, int64_t n, double rtol, double atol)
{
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= atol + rtol * fabs((double)want[i])))
            fail_msg("element %lld: got %.9g, want %.9g (|diff| %.3g > atol %.3g + rtol %.3g)", (long long)i,
                     (double)got[i], (double)want[i], d, atol, rtol);
    }
}

void tu_gradcheck(recur_graph *g, recur_value y, int n_wrt, const recur_value *wrt, int n_feeds,
                  const recur_feed *feeds, double tol)
{
    /* eps 1e-2: float rounding of L (about 1e-7 |L|) divided by eps stays far below the tolerance,
     * while the O(eps^2) truncation error of the central difference stays small for smooth ops. */
    tu_gradcheck_eps(g, y, n_wrt, wrt, n_feeds, feeds, tol, 1e-2f);
}

void tu_gradcheck_eps(recur_graph *g, recur_value y, int n_wrt, const recur_value *wrt, int n_feeds,
                      const recur_feed *feeds, double tol, float eps)
{
    recur_shape s = recur_value_shape(g, y);
    int64_t n = recur_shape_numel(s);
    float *w = malloc(sizeof(float) * (size_t)n);
    assert_non_null(w);
    tu_fill_uniform(w, n, 0.5f, 1.5f, (uint64_t)n * 7919u + (uint64_t)y.id);
    recur_value wc = recur_constant(g, NULL, s, w);
    free(w);
    /* L = sum((y - y0) w) with y0 = y at the unperturbed point: the same gradient, but L stays
     * near 0, so float rounding of L does not swamp the finite differences. */
    float *y0 = tu_eval(g, y, n_feeds, feeds);
    recur_value y0c = recur_constant(g, NULL, s, y0);
    free(y0);
    recur_value loss = recur_sum(g, recur_mul(g, recur_sub(g, y, y0c), wc));
    TU_OK(g, loss);
    recur_gradcheck_opts o = {.eps = eps, .every_element = 1};
    recur_gradcheck_report r;
    recur_status st = recur_gradcheck(g, loss, n_wrt, wrt, n_feeds, feeds, &o, &r);
    TU_ST(g, st);
    if (!(r.max_rel_err < tol))
        fail_msg("gradient of %s (%s) wrong: rel err %.3g >= %.3g at wrt %d element %lld: fd %.7g, analytic %.7g",
                 recur_value_name(g, y), recur_value_op(g, y), r.max_rel_err, tol, r.worst_wrt,
                 (long long)r.worst_index, r.worst_fd, r.worst_analytic);
    assert_true(r.n_checks > 0);
}

const char *tu_data_path(const char *rel)
{
    static char buf[4096];
    const char *root = getenv("RECUR_TEST_DATA");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : "tests/data", rel);
    return buf;
}

void tu_expect_values(recur_graph *g, recur_value y, recur_shape s, int n_feeds, const recur_feed *feeds,
                      const float *want)
{
    TU_OK(g, y);
    char got_s[64], want_s[64];
    if (!recur_shape_equal(recur_value_shape(g, y), s))
        fail_msg("shape %s, want %s", recur_shape_str(recur_value_shape(g, y), got_s, sizeof got_s),
                 recur_shape_str(s, want_s, sizeof want_s));
    float *got = tu_eval(g, y, n_feeds, feeds);
    tu_assert_close(got, want, recur_shape_numel(s), 0, 0);
    free(got);
}

void tu_check_error(recur_graph *g, int before, recur_status code, const char *const *parts)
{
    const char *msg = recur_errmsg(g);
    if (recur_errcode(g) != code)
        fail_msg("status %s, want %s (message \"%s\")", recur_status_str(recur_errcode(g)), recur_status_str(code), msg);
    for (int i = 0; parts[i]; i++)
        if (!strstr(msg, parts[i])) fail_msg("message \"%s\" lacks \"%s\"", msg, parts[i]);
    assert_int_equal(recur_graph_size(g), before);
    recur_clear_error(g);
}
