/*
 * tests/test_ops_index.c — gather (embedding lookup), scatter_add (its
 * gradient) and one_hot: forward values on hand-computed cases, the
 * gradient rules, gradients against finite differences on random shapes
 * (indices are constants or fed inputs, never differentiated), bad indices
 * found at run time, and shape errors.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* table [4, 3]: row r is 3r, 3r + 1, 3r + 2 */
static const float TABLE[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};


/* Feeds `n` floats to input v of plan p and runs it; the run's status. */
static recur_status feed_run(recur_plan *p, recur_value v, const float *data, int64_t n)
{
    assert_int_equal(recur_plan_feed(p, v, data, n), RECUR_OK);
    return recur_plan_run(p);
}

/* A run that must fail at run time with a message holding each of `parts`. */
static void expect_run_error(recur_plan *p, recur_value v, const float *data, int64_t n, const char *const *parts)
{
    assert_int_equal(feed_run(p, v, data, n), RECUR_ERR_RUNTIME);
    assert_int_equal(recur_plan_errcode(p), RECUR_ERR_RUNTIME);
    const char *msg = recur_plan_errmsg(p);
    for (int i = 0; parts[i]; i++)
        if (!strstr(msg, parts[i])) fail_msg("message \"%s\" lacks \"%s\"", msg, parts[i]);
}

/* ------------------------------------------------------------------ values */

static void test_gather_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value W = recur_constant(g, "W", recur_shape2(4, 3), TABLE);
    /* indices [2, 2] -> [2, 2, 3] */
    recur_value ids = recur_constant(g, "ids", recur_shape2(2, 2), (const float[]){3, 0, 1, 3});
    tu_expect_values(g, recur_gather(g, W, ids), recur_shape3(2, 2, 3), 0, NULL,
                  (const float[]){9, 10, 11, 0, 1, 2, 3, 4, 5, 9, 10, 11});
    /* a scalar index is one row */
    recur_value one = recur_scalar(g, 2);
    tu_expect_values(g, recur_gather(g, W, one), recur_shape1(3), 0, NULL, (const float[]){6, 7, 8});
    /* indices [2, 1, 2] -> rank 4 */
    recur_value ids3 = recur_constant(g, "ids3", recur_shape3(2, 1, 2), (const float[]){0, 0, 2, 1});
    tu_expect_values(g, recur_gather(g, W, ids3), recur_shape4(2, 1, 2, 3), 0, NULL,
                  (const float[]){0, 1, 2, 0, 1, 2, 6, 7, 8, 3, 4, 5});
    /* fed indices, as a model's token ids are */
    recur_value in = recur_input(g, "tokens", recur_shape1(3));
    tu_expect_values(g, recur_gather(g, W, in), recur_shape2(3, 3), 1, (recur_feed[]){{in, (const float[]){1, 1, 0}, 3}},
                  (const float[]){3, 4, 5, 3, 4, 5, 0, 1, 2});
    TU_ST(g, recur_graph_validate(g));
    recur_graph_free(g);
}

static void test_scatter_add_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    /* indices {1, 0, 1}, dy rows {1,2}, {3,4}, {5,6}: row 0 = {3,4}, row 1 = {1+5, 2+6}, row 2 untouched */
    recur_value ids = recur_constant(g, "ids", recur_shape1(3), (const float[]){1, 0, 1});
    recur_value dy = recur_constant(g, "dy", recur_shape2(3, 2), (const float[]){1, 2, 3, 4, 5, 6});
    tu_expect_values(g, recur_scatter_add(g, ids, dy, 3), recur_shape2(3, 2), 0, NULL, (const float[]){3, 4, 6, 8, 0, 0});
    /* indices [2, 2], dy [2, 2, 1] */
    recur_value ids2 = recur_constant(g, "ids2", recur_shape2(2, 2), (const float[]){0, 0, 3, 0});
    recur_value dy2 = recur_constant(g, "dy2", recur_shape3(2, 2, 1), (const float[]){1, 10, 100, 1000});
    tu_expect_values(g, recur_scatter_add(g, ids2, dy2, 4), recur_shape2(4, 1), 0, NULL,
                  (const float[]){1011, 0, 0, 100});
    /* a scalar index and dy [D] */
    recur_value ids0 = recur_scalar(g, 1);
    recur_value dy0 = recur_constant(g, "dy0", recur_shape1(2), (const float[]){7, 8});
    tu_expect_values(g, recur_scatter_add(g, ids0, dy0, 2), recur_shape2(2, 2), 0, NULL, (const float[]){0, 0, 7, 8});
    /* The sums are taken in double: 1e8 + 1 - 1e8 is 1 (in float 1e8 + 1 rounds back to 1e8). */
    recur_value ids3 = recur_constant(g, "ids3", recur_shape1(3), (const float[]){0, 0, 0});
    recur_value dy3 = recur_constant(g, "dy3", recur_shape2(3, 1), (const float[]){1e8f, 1, -1e8f});
    tu_expect_values(g, recur_scatter_add(g, ids3, dy3, 1), recur_shape2(1, 1), 0, NULL, (const float[]){1});
    recur_graph_free(g);
}

static void test_one_hot_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value ids = recur_constant(g, "ids", recur_shape1(2), (const float[]){2, 0});
    tu_expect_values(g, recur_one_hot(g, ids, 3), recur_shape2(2, 3), 0, NULL, (const float[]){0, 0, 1, 1, 0, 0});
    recur_value ids2 = recur_constant(g, "ids2", recur_shape2(2, 2), (const float[]){0, 1, 3, 2});
    tu_expect_values(g, recur_one_hot(g, ids2, 4), recur_shape3(2, 2, 4), 0, NULL,
                  (const float[]){1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0});
    tu_expect_values(g, recur_one_hot(g, recur_scalar(g, 1), 2), recur_shape1(2), 0, NULL, (const float[]){0, 1});
    /* depth 1: every index is 0 */
    tu_expect_values(g, recur_one_hot(g, recur_fill(g, recur_shape1(3), 0), 1), recur_shape2(3, 1), 0, NULL,
                  (const float[]){1, 1, 1});
    /* one_hot(ids) . W = gather(W, ids) */
    recur_value W = recur_constant(g, "W", recur_shape2(4, 3), TABLE);
    recur_value ids4 = recur_constant(g, "ids4", recur_shape1(3), (const float[]){3, 1, 3});
    float *a = tu_eval(g, recur_matmul(g, recur_one_hot(g, ids4, 4), W, 0, 0), 0, NULL);
    float *b = tu_eval(g, recur_gather(g, W, ids4), 0, NULL);
    tu_assert_close(a, b, 9, 0, 0);
    free(a);
    free(b);
    recur_graph_free(g);
}

static void test_dump_attrs(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value W = recur_input(g, "W", recur_shape2(4, 3)), ids = recur_input(g, "ids", recur_shape2(2, 2));
    recur_value dy = recur_input(g, "dy", recur_shape3(2, 2, 3));
    TU_OK(g, recur_gather(g, W, ids));
    TU_OK(g, recur_scatter_add(g, ids, dy, 4));
    TU_OK(g, recur_one_hot(g, ids, 5));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    TU_ST(g, recur_graph_dump(g, f));
    fclose(f);
    const char *lines[] = {"gather(%0, %1) [2, 2, 3]", "scatter_add(%1, %2) rows=4 [4, 3]",
                           "one_hot(%1) depth=5 [2, 2, 5]"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        if (!strstr(text, lines[i])) fail_msg("dump lacks \"%s\":\n%s", lines[i], text);
    free(text);
    recur_graph_free(g);
}

/* --------------------------------------------------------------- gradients */

static void test_gradient_rules(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value W = tu_param(g, "W", recur_shape2(4, 3));
    /* The indices as a parameter: on the path, but they get no gradient (zeros). */
    recur_value ids = recur_param(g, "ids", recur_shape1(3), recur_init_zeros());
    TU_OK(g, ids);
    TU_ST(g, recur_param_set(g, ids, (const float[]){3, 1, 3}, 3));
    recur_value y = recur_gather(g, W, ids);
    recur_value grads[2];
    TU_ST(g, recur_grad(g, recur_sum(g, y), 2, (recur_value[]){W, ids}, grads));
    assert_string_equal(recur_value_op(g, grads[0]), "scatter_add");
    /* d sum(gather(W, ids)) / dW: each row counts how often it was read, per column */
    float *gw = tu_eval(g, grads[0], 0, NULL);
    tu_assert_close(gw, (const float[]){0, 0, 0, 1, 1, 1, 0, 0, 0, 2, 2, 2}, 12, 0, 0);
    free(gw);
    float *gi = tu_eval(g, grads[1], 0, NULL);
    tu_assert_close(gi, (const float[]){0, 0, 0}, 3, 0, 0);
    free(gi);

    /* scatter_add's gradient wrt dy is a gather; wrt the indices nothing. */
    recur_value dy = tu_param(g, "dy", recur_shape2(3, 2));
    recur_value s = recur_scatter_add(g, ids, dy, 4);
    TU_ST(g, recur_grad(g, recur_sum(g, s), 2, (recur_value[]){dy, ids}, grads));
    assert_string_equal(recur_value_op(g, grads[0]), "gather");
    gi = tu_eval(g, grads[1], 0, NULL);
    tu_assert_close(gi, (const float[]){0, 0, 0}, 3, 0, 0);
    free(gi);

    /* one_hot: no gradient flows to its indices, and recur_grad succeeds. */
    recur_value oh = recur_one_hot(g, ids, 4);
    TU_ST(g, recur_grad(g, recur_sum(g, recur_mul(g, oh, recur_fill(g, recur_shape2(3, 4), 2))), 1, &ids, grads));
    gi = tu_eval(g, grads[0], 0, NULL);
    tu_assert_close(gi, (const float[]){0, 0, 0}, 3, 0, 0);
    free(gi);
    recur_graph_free(g);
}

/* Indices with repeats, in [0, rows): index i is (7 i + 3) % rows, so every shape has a few repeats. */
static void fill_indices(float *ids, int64_t n, int64_t rows)
{
    for (int64_t i = 0; i < n; i++) ids[i] = (float)((7 * i + 3) % rows);
}

static void test_gather_gradients(void **state)
{
    (void)state;
    const recur_shape index_shapes[] = {recur_shape0(), recur_shape1(5), recur_shape2(2, 3), recur_shape3(2, 2, 2)};
    const int64_t rows[] = {3, 4, 6, 5}, cols[] = {2, 3, 1, 4};
    for (int c = 0; c < 4; c++) {
        recur_graph *g = recur_graph_new(10 + (uint64_t)c);
        recur_value W = tu_param(g, "W", recur_shape2(rows[c], cols[c]));
        float ids_data[8];
        int64_t n = recur_shape_numel(index_shapes[c]);
        fill_indices(ids_data, n, rows[c]);
        /* Constant indices, and fed ones: both are data, not differentiated. */
        recur_value ids = c % 2 ? recur_input(g, "ids", index_shapes[c])
                                : recur_constant(g, "ids", index_shapes[c], ids_data);
        TU_OK(g, ids);
        recur_value y = recur_gather(g, W, ids);
        TU_OK(g, y);
        recur_feed feed = {ids, ids_data, n};
        tu_gradcheck(g, y, 1, &W, c % 2, &feed, 1e-2);
        recur_graph_free(g);
    }
    /* An embedding inside a small model: tanh(gather(W, ids) . U), the table read twice. */
    recur_graph *g = recur_graph_new(20);
    recur_value W = tu_param(g, "W", recur_shape2(5, 3)), U = tu_param(g, "U", recur_shape2(3, 2));
    recur_value ids = recur_constant(g, "ids", recur_shape2(2, 2), (const float[]){4, 0, 4, 4});
    recur_value e = recur_gather(g, W, ids);
    recur_value row0 = recur_sum(g, recur_gather(g, W, recur_scalar(g, 0)));
    recur_value y = recur_add(g, recur_tanh(g, recur_matmul(g, e, U, 0, 0)), row0);
    TU_OK(g, y);
    tu_gradcheck(g, y, 2, (recur_value[]){W, U}, 0, NULL, 1e-2);
    recur_graph_free(g);
}

static void test_scatter_add_gradients(void **state)
{
    (void)state;
    const recur_shape index_shapes[] = {recur_shape1(4), recur_shape2(3, 2), recur_shape0()};
    const int64_t rows[] = {3, 5, 2}, cols[] = {2, 3, 4};
    for (int c = 0; c < 3; c++) {
        recur_graph *g = recur_graph_new(30 + (uint64_t)c);
        float ids_data[8];
        recur_shape is = index_shapes[c], ds = is;
        ds.d[ds.ndim++] = cols[c];
        fill_indices(ids_data, recur_shape_numel(is), rows[c]);
        recur_value ids = recur_constant(g, "ids", is, ids_data);
        recur_value dy = tu_param(g, "dy", ds);
        recur_value y = recur_scatter_add(g, ids, dy, rows[c]);
        TU_OK(g, y);
        tu_gradcheck(g, y, 1, &dy, 0, NULL, 1e-2);
        recur_graph_free(g);
    }
}

static void test_one_hot_in_a_model_gradients(void **state)
{
    (void)state;
    /* softmax(one_hot(ids) . W): the gradient reaches W, the indices stay out of it. */
    recur_graph *g = recur_graph_new(40);
    recur_value W = tu_param(g, "W", recur_shape2(4, 3));
    recur_value ids = recur_input(g, "ids", recur_shape1(5));
    const float ids_data[5] = {3, 0, 0, 2, 3};
    recur_value y = recur_softmax(g, recur_matmul(g, recur_one_hot(g, ids, 4), W, 0, 0));
    TU_OK(g, y);
    tu_gradcheck(g, y, 1, &W, 1, (recur_feed[]){{ids, ids_data, 5}}, 1e-2);
    recur_graph_free(g);
}

/* ---------------------------------------------------------- run-time errors */

static void test_gather_bad_index_at_run_time(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value W = recur_constant(g, "W", recur_shape2(4, 3), TABLE);
    recur_value ids = recur_input(g, "ids", recur_shape1(3));
    recur_value y = recur_name(g, recur_gather(g, W, ids), "emb");
    TU_OK(g, y);
    recur_plan *p = recur_compile(g, 1, &y, NULL);
    assert_non_null(p);
    expect_run_error(p, ids, (const float[]){0, 4, 1}, 3,
                     (const char *const[]){"emb", "gather", "index 4", "position 1", "[0, 4)", NULL});
    expect_run_error(p, ids, (const float[]){0, 1, -1}, 3, (const char *const[]){"emb", "index -1", "position 2", NULL});
    expect_run_error(p, ids, (const float[]){1.5f, 1, 2}, 3,
                     (const char *const[]){"emb", "index 1.5", "position 0", "whole number", NULL});
    expect_run_error(p, ids, (const float[]){0, NAN, 2}, 3, (const char *const[]){"emb", "nan", "position 1", NULL});
    expect_run_error(p, ids, (const float[]){1e30f, 0, 2}, 3, (const char *const[]){"emb", "position 0", NULL});
    /* The plan runs fine afterwards with good data. */
    assert_int_equal(feed_run(p, ids, (const float[]){3, 0, 2}, 3), RECUR_OK);
    float out[9];
    assert_int_equal(recur_plan_fetch(p, y, out, 9), RECUR_OK);
    tu_assert_close(out, (const float[]){9, 10, 11, 0, 1, 2, 6, 7, 8}, 9, 0, 0);
    recur_plan_free(p);
    recur_graph_free(g);
}

static void test_one_hot_and_scatter_bad_index_at_run_time(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value ids = recur_input(g, "ids", recur_shape2(2, 2));
    recur_value oh = recur_name(g, recur_one_hot(g, ids, 3), "classes");
    TU_OK(g, oh);
    recur_plan *p = recur_compile(g, 1, &oh, NULL);
    assert_non_null(p);
    expect_run_error(p, ids, (const float[]){0, 1, 2, 3}, 4,
                     (const char *const[]){"classes", "one_hot", "index 3", "position 3", "[0, 3)", NULL});
    expect_run_error(p, ids, (const float[]){0, 0.25f, 2, 1}, 4, (const char *const[]){"index 0.25", "position 1", NULL});
    assert_int_equal(feed_run(p, ids, (const float[]){2, 2, 0, 1}, 4), RECUR_OK);
    float out[12];
    assert_int_equal(recur_plan_fetch(p, oh, out, 12), RECUR_OK);
    tu_assert_close(out, (const float[]){0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0}, 12, 0, 0);
    recur_plan_free(p);

    recur_value dy = recur_constant(g, "dy", recur_shape3(2, 2, 1), (const float[]){1, 2, 3, 4});
    recur_value s = recur_name(g, recur_scatter_add(g, ids, dy, 2), "acc");
    TU_OK(g, s);
    p = recur_compile(g, 1, &s, NULL);
    assert_non_null(p);
    expect_run_error(p, ids, (const float[]){0, 1, 2, 1}, 4,
                     (const char *const[]){"acc", "scatter_add", "index 2", "position 2", "[0, 2)", NULL});
    assert_int_equal(feed_run(p, ids, (const float[]){0, 1, 1, 1}, 4), RECUR_OK);
    float acc[2];
    assert_int_equal(recur_plan_fetch(p, s, acc, 2), RECUR_OK);
    tu_assert_close(acc, (const float[]){1, 9}, 2, 0, 0);
    recur_plan_free(p);
    recur_graph_free(g);
}

/* -------------------------------------------------------------- shape errors */

static void test_shape_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value W = recur_input(g, "W", recur_shape2(4, 3));
    recur_value v = recur_input(g, "v", recur_shape1(4));
    recur_value W3 = recur_input(g, "W3", recur_shape3(2, 4, 3));
    recur_value ids = recur_input(g, "ids", recur_shape2(2, 2));
    recur_value ids4 = recur_input(g, "ids4", recur_shape4(1, 2, 1, 2));
    recur_value dy = recur_input(g, "dy", recur_shape3(2, 2, 3));
    recur_value dy_bad = recur_input(g, "dy_bad", recur_shape3(2, 3, 3));

    TU_EXPECT_FAIL(g, recur_gather(g, v, ids), RECUR_ERR_SHAPE, "op gather", "matrix", "\"v\" [4]", "\"ids\" [2, 2]");
    TU_EXPECT_FAIL(g, recur_gather(g, W3, ids), RECUR_ERR_SHAPE, "op gather", "\"W3\" [2, 4, 3]");
    TU_EXPECT_FAIL(g, recur_gather(g, W, ids4), RECUR_ERR_SHAPE, "op gather", "rank 5", "\"ids4\" [1, 2, 1, 2]");
    TU_EXPECT_FAIL(g, recur_scatter_add(g, ids, dy_bad, 4), RECUR_ERR_SHAPE, "op scatter_add", "\"ids\" [2, 2]",
                "\"dy_bad\" [2, 3, 3]");
    TU_EXPECT_FAIL(g, recur_scatter_add(g, ids, ids, 4), RECUR_ERR_SHAPE, "op scatter_add");
    TU_EXPECT_FAIL(g, recur_scatter_add(g, ids, dy, 0), RECUR_ERR_SHAPE, "op scatter_add", "rows = 0");
    TU_EXPECT_FAIL(g, recur_one_hot(g, ids, 0), RECUR_ERR_SHAPE, "op one_hot", "depth = 0", "\"ids\" [2, 2]");
    TU_EXPECT_FAIL(g, recur_one_hot(g, ids, -2), RECUR_ERR_SHAPE, "op one_hot", "depth = -2");
    TU_EXPECT_FAIL(g, recur_one_hot(g, ids4, 3), RECUR_ERR_SHAPE, "op one_hot", "rank 5");
    TU_EXPECT_FAIL(g, recur_gather(g, W, RECUR_NONE), RECUR_ERR_VALUE, "gather");
    /* Usable afterwards. */
    recur_value y = recur_gather(g, W, ids);
    TU_OK(g, y);
    TU_OK(g, recur_scatter_add(g, ids, y, 4));
    TU_OK(g, recur_one_hot(g, ids, 2));
    TU_ST(g, recur_graph_validate(g));
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gather_values),
        cmocka_unit_test(test_scatter_add_values),
        cmocka_unit_test(test_one_hot_values),
        cmocka_unit_test(test_dump_attrs),
        cmocka_unit_test(test_gradient_rules),
        cmocka_unit_test(test_gather_gradients),
        cmocka_unit_test(test_scatter_add_gradients),
        cmocka_unit_test(test_one_hot_in_a_model_gradients),
        cmocka_unit_test(test_gather_bad_index_at_run_time),
        cmocka_unit_test(test_one_hot_and_scatter_bad_index_at_run_time),
        cmocka_unit_test(test_shape_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
