/*
 * tests/test_graph.c — the graph core: leaves, names, initializers,
 * queries, validation, ordering, pruning, dumps and error handling.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_leaves_and_names(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(7);
    recur_value x = recur_input(g, "x", recur_shape2(4, 3));
    recur_value w = recur_param(g, "w", recur_shape2(3, 2), recur_init_zeros());
    recur_value c = recur_constant(g, "c", recur_shape1(2), (const float[]){1, 2});
    TU_OK(g, x), TU_OK(g, w), TU_OK(g, c);
    assert_true(recur_is_input(g, x));
    assert_false(recur_is_input(g, w));
    assert_true(recur_is_param(g, w));
    assert_false(recur_is_param(g, c));
    assert_string_equal(recur_value_name(g, x), "x");
    assert_string_equal(recur_value_op(g, w), "param");
    assert_int_equal(recur_find(g, "w").id, w.id);
    assert_int_equal(recur_find(g, "c").id, c.id);
    assert_false(recur_ok(recur_find(g, "nope")));
    assert_non_null(strstr(recur_errmsg(g), "nope"));

    recur_value y = recur_name(g, recur_tanh(g, x), "y");
    TU_OK(g, y);
    assert_string_equal(recur_value_name(g, y), "y");
    assert_int_equal(recur_find(g, "y").id, y.id);
    /* Automatic names are op#id. */
    recur_value t = recur_tanh(g, x);
    char want[32];
    snprintf(want, sizeof want, "tanh#%d", t.id);
    assert_string_equal(recur_value_name(g, t), want);

    /* Duplicate names of inputs/params are refused and nothing is added. */
    int size = recur_graph_size(g);
    assert_false(recur_ok(recur_input(g, "x", recur_shape1(1))));
    assert_int_equal(recur_errcode(g), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_errmsg(g), "\"x\""));
    assert_false(recur_ok(recur_param(g, "w", recur_shape1(1), recur_init_zeros())));
    assert_false(recur_ok(recur_input(g, NULL, recur_shape1(1))));
    assert_int_equal(recur_set_name(g, t, "w"), RECUR_ERR_ARG);
    assert_int_equal(recur_graph_size(g), size);

    int n = recur_params(g, NULL, 0);
    assert_int_equal(n, 1);
    recur_value ps[4];
    assert_int_equal(recur_params(g, ps, 4), 1);
    assert_int_equal(ps[0].id, w.id);
    recur_graph_free(g);
}

static void test_bad_shapes(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    assert_false(recur_ok(recur_input(g, "a", (recur_shape){5, {1, 1, 1, 1}})));
    assert_int_equal(recur_errcode(g), RECUR_ERR_SHAPE);
    assert_non_null(strstr(recur_errmsg(g), "input"));
    assert_false(recur_ok(recur_input(g, "b", recur_shape2(3, 0))));
    assert_non_null(strstr(recur_errmsg(g), "[3, 0]"));
    assert_false(recur_ok(recur_param(g, "c", recur_shape1(-2), recur_init_zeros())));
    assert_int_equal(recur_graph_size(g), 0);
    /* A scalar is fine. */
    TU_OK(g, recur_input(g, "s", recur_shape0()));
    recur_graph_free(g);
}

static void test_invalid_values_keep_first_error(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", recur_shape1(3));
    recur_value b = recur_input(g, "b", recur_shape1(4));
    recur_value bad = recur_add(g, a, b);
    assert_false(recur_ok(bad));
    char first[1024];
    snprintf(first, sizeof first, "%s", recur_errmsg(g));
    /* A chain built on the failure fails too and keeps the first message. */
    recur_value chain = recur_tanh(g, recur_mul(g, bad, a));
    assert_false(recur_ok(chain));
    assert_string_equal(recur_errmsg(g), first);
    /* A value from nowhere is refused with its own message. */
    recur_clear_error(g);
    assert_int_equal(recur_errcode(g), RECUR_OK);
    assert_false(recur_ok(recur_tanh(g, (recur_value){99})));
    assert_int_equal(recur_errcode(g), RECUR_ERR_VALUE);
    assert_non_null(strstr(recur_errmsg(g), "99"));
    recur_clear_error(g);
    assert_false(recur_ok(recur_tanh(g, RECUR_NONE)));
    assert_int_equal(recur_errcode(g), RECUR_ERR_VALUE);
    recur_graph_free(g);
}

static void param_values(recur_graph *g, recur_value v, float *out)
{
    int64_t n = recur_shape_numel(recur_value_shape(g, v));
    memcpy(out, recur_param_data(g, v), sizeof(float) * (size_t)n);
}

static void test_initializers(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(42);
    const int64_t R = 64, C = 100, N = R * C;
    float *w = malloc(sizeof(float) * (size_t)N);
    assert_non_null(w);

    recur_value z = recur_param(g, "z", recur_shape2(R, C), recur_init_zeros());
    param_values(g, z, w);
    for (int64_t i = 0; i < N; i++) assert_true(w[i] == 0.0f);

    recur_value k = recur_param(g, "k", recur_shape2(R, C), recur_init_constant(0.25f));
    param_values(g, k, w);
    for (int64_t i = 0; i < N; i++) assert_true(w[i] == 0.25f);

    recur_value u = recur_param(g, "u", recur_shape2(R, C), recur_init_uniform(-0.5f, 1.5f));
    param_values(g, u, w);
    double mean = 0;
    for (int64_t i = 0; i < N; i++) {
        assert_true(w[i] >= -0.5f && w[i] < 1.5f);
        mean += w[i];
    }
    mean /= (double)N;
    assert_true(fabs(mean - 0.5) < 0.03);

    recur_value nrm = recur_param(g, "n", recur_shape2(R, C), recur_init_normal(2.0f, 0.5f));
    param_values(g, nrm, w);
    double m = 0, v = 0;
    for (int64_t i = 0; i < N; i++) m += w[i];
    m /= (double)N;
    for (int64_t i = 0; i < N; i++) v += (w[i] - m) * (w[i] - m);
    v /= (double)(N - 1);
    assert_true(fabs(m - 2.0) < 0.03);
    assert_true(fabs(sqrt(v) - 0.5) < 0.02);

    /* Xavier: U(-s, s), s = sqrt(6 / (fan_in + fan_out)) with fan_out = rows, fan_in = cols. */
    recur_value xv = recur_param(g, "xv", recur_shape2(R, C), recur_init_xavier());
    param_values(g, xv, w);
    double s = sqrt(6.0 / (double)(R + C)), maxabs = 0;
    for (int64_t i = 0; i < N; i++) maxabs = fmax(maxabs, fabs(w[i]));
    assert_true(maxabs <= s && maxabs > 0.9 * s);

    /* Orthogonal, wide: rows are orthonormal (W W^T = gain^2 I). */
    recur_value o = recur_param(g, "o", recur_shape2(R, C), recur_init_orthogonal(1.0f));
    param_values(g, o, w);
    for (int64_t i = 0; i < R; i++)
        for (int64_t j = 0; j < R; j++) {
            double dot = 0;
            for (int64_t c = 0; c < C; c++) dot += (double)w[i * C + c] * w[j * C + c];
            assert_true(fabs(dot - (i == j ? 1.0 : 0.0)) < 1e-4);
        }
    /* Orthogonal, tall with gain 2: columns orthogonal with norm 2. */
    recur_value ot = recur_param(g, "ot", recur_shape2(C, R), recur_init_orthogonal(2.0f));
    param_values(g, ot, w);
    for (int64_t i = 0; i < R; i++)
        for (int64_t j = 0; j < R; j++) {
            double dot = 0;
            for (int64_t r = 0; r < C; r++) dot += (double)w[r * R + i] * w[r * R + j];
            assert_true(fabs(dot - (i == j ? 4.0 : 0.0)) < 1e-3);
        }

    /* Bad initializers are errors, not aborts. */
    assert_false(recur_ok(recur_param(g, "bad", recur_shape1(3), recur_init_uniform(1, 1))));
    assert_non_null(strstr(recur_errmsg(g), "bad"));
    assert_false(recur_ok(recur_param(g, "bad2", recur_shape1(3), recur_init_normal(0, -1))));
    assert_false(recur_ok(recur_find(g, "bad2")));
    free(w);
    recur_graph_free(g);
}

static void test_initializers_are_seeded(void **state)
{
    (void)state;
    float a[12], b[12], c[12];
    recur_graph *g1 = recur_graph_new(5), *g2 = recur_graph_new(5), *g3 = recur_graph_new(6);
    recur_value p1 = recur_param(g1, "p", recur_shape2(3, 4), recur_init_normal(0, 1));
    recur_value p2 = recur_param(g2, "p", recur_shape2(3, 4), recur_init_normal(0, 1));
    recur_value p3 = recur_param(g3, "p", recur_shape2(3, 4), recur_init_normal(0, 1));
    param_values(g1, p1, a);
    param_values(g2, p2, b);
    param_values(g3, p3, c);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    /* Re-initialising draws new values from the stream. */
    TU_ST(g1, recur_param_init(g1, p1, recur_init_normal(0, 1)));
    param_values(g1, p1, c);
    assert_memory_not_equal(a, c, sizeof a);
    recur_graph_free(g1);
    recur_graph_free(g2);
    recur_graph_free(g3);
}

static void test_param_set_and_data(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value p = recur_param(g, "p", recur_shape2(2, 2), recur_init_zeros());
    recur_value x = recur_input(g, "x", recur_shape1(2));
    const float v[4] = {1, 2, 3, 4};
    TU_ST(g, recur_param_set(g, p, v, 4));
    assert_memory_equal(recur_param_data(g, p), v, sizeof v);
    assert_int_equal(recur_param_set(g, p, v, 3), RECUR_ERR_FEED);
    assert_non_null(strstr(recur_errmsg(g), "\"p\" [2, 2]"));
    assert_int_equal(recur_param_set(g, x, v, 2), RECUR_ERR_VALUE);
    assert_null(recur_param_data(g, x));
    assert_int_equal(recur_param_set(g, p, NULL, 4), RECUR_ERR_FEED);
    recur_graph_free(g);
}

static void test_topo_order_and_prune(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape1(3));
    recur_value a = recur_tanh(g, x);
    recur_value dead = recur_exp(g, a);       /* not needed by b */
    recur_value dead2 = recur_neg(g, dead);
    recur_value b = recur_add(g, a, x);
    TU_OK(g, b);
    int32_t order[16];
    int n = recur_topo_order(g, 1, &b, order, 16);
    assert_int_equal(n, 3);
    assert_int_equal(order[0], x.id);
    assert_int_equal(order[1], a.id);
    assert_int_equal(order[2], b.id);
    /* Too small a buffer is an error, not an overflow. */
    assert_int_equal(recur_topo_order(g, 1, &b, order, 2), -1);
    assert_int_equal(recur_errcode(g), RECUR_ERR_ARG);

    recur_value unused = recur_input(g, "unused", recur_shape1(1));
    assert_int_equal(recur_graph_prune(g, 1, &b), 2);
    assert_string_equal(recur_value_name(g, b), recur_value_name(g, b));
    assert_true(recur_is_input(g, unused)); /* inputs and params survive */
    assert_null(recur_value_name(g, dead));
    assert_false(recur_ok(recur_tanh(g, dead2)));
    assert_non_null(strstr(recur_errmsg(g), "removed"));
    TU_ST(g, recur_graph_validate(g));
    /* The pruned graph still runs. */
    float *y = tu_eval(g, b, 1, (recur_feed[]){{x, (const float[]){0, 1, -1}, 3}});
    tu_assert_close(y, (const float[]){0, 1 + tanhf(1), -1 - tanhf(1)}, 3, 1e-6, 1e-7);
    free(y);
    recur_graph_free(g);
}

static void test_dump(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape2(2, 3));
    recur_value y = recur_name(g, recur_scale(g, recur_tanh(g, x), 0.5f), "half");
    TU_OK(g, y);
    char buf[1024] = "";
    FILE *f = tmpfile();
    assert_non_null(f);
    TU_ST(g, recur_graph_dump(g, f));
    rewind(f);
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = 0;
    fclose(f);
    assert_non_null(strstr(buf, "%0 = input() [2, 3]  \"x\""));
    assert_non_null(strstr(buf, "%1 = tanh(%0) [2, 3]"));
    assert_non_null(strstr(buf, "%2 = scale(%1) s=0.5 [2, 3]  \"half\""));
    recur_graph_free(g);
}

static void test_validate(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape2(2, 3));
    recur_value y = recur_sum(g, recur_mul(g, recur_sigmoid(g, x), x));
    TU_OK(g, y);
    TU_ST(g, recur_graph_validate(g));
    assert_int_equal(recur_graph_validate(NULL), RECUR_ERR_ARG);
    recur_graph_free(g);
}

static void test_status_strings_and_shapes(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(recur_status_str(RECUR_OK), "ok");
    assert_string_equal(recur_status_str(RECUR_ERR_SHAPE), "shape mismatch");
    assert_string_equal(recur_shape_str(recur_shape0(), buf, sizeof buf), "[]");
    assert_string_equal(recur_shape_str(recur_shape4(1, 2, 3, 4), buf, sizeof buf), "[1, 2, 3, 4]");
    /* Truncation keeps the string terminated. */
    assert_int_equal(strlen(recur_shape_str(recur_shape4(1000, 2000, 3000, 4000), buf, 8)), 7);
    assert_int_equal(recur_shape_numel(recur_shape3(2, 3, 4)), 24);
    assert_int_equal(recur_shape_numel(recur_shape0()), 1);
    assert_true(recur_shape_equal(recur_shape2(2, 3), recur_shape2(2, 3)));
    assert_false(recur_shape_equal(recur_shape2(2, 3), recur_shape3(2, 3, 1)));
    /* NULL graphs are survived. */
    assert_false(recur_ok(recur_input(NULL, "x", recur_shape1(1))));
    assert_int_equal(recur_errcode(NULL), RECUR_ERR_ARG);
    recur_graph_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaves_and_names),
        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_invalid_values_keep_first_error),
        cmocka_unit_test(test_initializers),
        cmocka_unit_test(test_initializers_are_seeded),
        cmocka_unit_test(test_param_set_and_data),
        cmocka_unit_test(test_topo_order_and_prune),
        cmocka_unit_test(test_dump),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_status_strings_and_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
