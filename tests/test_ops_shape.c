/*
 * tests/test_ops_shape.c — concat, slice, split, stack, take, select_step
 * and pad_axis: forward values on hand-computed cases (negative axes,
 * inputs of different lengths, a concat of 50 values), the gradient rules
 * each builds, gradients against finite differences on random shapes, and
 * error paths.
 */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 0, 1, 2, ... : the values of the test tensors below. */
static const float IOTA[24] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23};

/* Checks y's shape and its values against `want`, exactly (these ops only move data). */
static void expect_values(recur_graph *g, recur_value y, recur_shape s, const float *want)
{
    tu_expect_values(g, y, s, 0, NULL, want);
}

/* ------------------------------------------------------------------ concat */

static void test_concat_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    /* Three inputs of lengths 1, 2, 3 along the last axis. */
    recur_value a = recur_constant(g, "a", recur_shape2(2, 1), (const float[]){1, 2});
    recur_value b = recur_constant(g, "b", recur_shape2(2, 2), (const float[]){3, 4, 5, 6});
    recur_value c = recur_constant(g, "c", recur_shape2(2, 3), (const float[]){7, 8, 9, 10, 11, 12});
    const float want[12] = {1, 3, 4, 7, 8, 9, 2, 5, 6, 10, 11, 12};
    expect_values(g, recur_concat(g, 3, (recur_value[]){a, b, c}, 1), recur_shape2(2, 6), want);
    expect_values(g, recur_concat(g, 3, (recur_value[]){a, b, c}, -1), recur_shape2(2, 6), want);
    /* The order of the inputs is the order along the axis. */
    expect_values(g, recur_concat(g, 3, (recur_value[]){c, a, b}, 1), recur_shape2(2, 6),
                  (const float[]){7, 8, 9, 1, 3, 4, 10, 11, 12, 2, 5, 6});
    /* Along the first axis: rows appended. */
    recur_value r1 = recur_constant(g, "r1", recur_shape2(1, 3), (const float[]){1, 2, 3});
    recur_value r2 = recur_constant(g, "r2", recur_shape2(2, 3), (const float[]){4, 5, 6, 7, 8, 9});
    expect_values(g, recur_concat(g, 2, (recur_value[]){r1, r2}, 0), recur_shape2(3, 3),
                  (const float[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
    expect_values(g, recur_concat(g, 2, (recur_value[]){r2, r1}, -2), recur_shape2(3, 3),
                  (const float[]){4, 5, 6, 7, 8, 9, 1, 2, 3});
    /* A middle axis of a 3-D value: [2,1,2] ++ [2,2,2] -> [2,3,2]. */
    recur_value m1 = recur_constant(g, "m1", recur_shape3(2, 1, 2), (const float[]){1, 2, 3, 4});
    recur_value m2 = recur_constant(g, "m2", recur_shape3(2, 2, 2), (const float[]){5, 6, 7, 8, 9, 10, 11, 12});
    expect_values(g, recur_concat(g, 2, (recur_value[]){m1, m2}, 1), recur_shape3(2, 3, 2),
                  (const float[]){1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12});
    /* One value is itself; the same value twice is repeated. */
    assert_int_equal(recur_concat(g, 1, &b, 0).id, b.id);
    expect_values(g, recur_concat(g, 2, (recur_value[]){a, a}, 1), recur_shape2(2, 2), (const float[]){1, 1, 2, 2});
    TU_ST(g, recur_graph_validate(g));
    recur_graph_free(g);
}

/* 50 inputs, as a concat over the time steps of a sequence makes. */
static void test_concat_many(void **state)
{
    (void)state;
    enum { N = 50 };
    recur_graph *g = recur_graph_new(1);
    /* x_k = [[k], [100 + k]] along axis 1: row 0 is 0..49, row 1 is 100..149. */
    recur_value cols[N];
    for (int k = 0; k < N; k++) {
        cols[k] = recur_constant(g, NULL, recur_shape2(2, 1), (const float[]){(float)k, 100.0f + (float)k});
        TU_OK(g, cols[k]);
    }
    float want[2 * N];
    for (int k = 0; k < N; k++) want[k] = (float)k, want[N + k] = 100.0f + (float)k;
    expect_values(g, recur_concat(g, N, cols, 1), recur_shape2(2, N), want);

    /* x_k of k % 3 + 1 rows of 2 along axis 0, x_k[j][c] = 1000 k + 10 j + c. */
    recur_value rows[N];
    float big[N * 3 * 2];
    int64_t total = 0;
    for (int k = 0; k < N; k++) {
        int len = k % 3 + 1;
        float data[6];
        for (int j = 0; j < len; j++)
            for (int c = 0; c < 2; c++) {
                data[j * 2 + c] = 1000.0f * (float)k + 10.0f * (float)j + (float)c;
                big[(total + j) * 2 + c] = data[j * 2 + c];
            }
        total += len;
        rows[k] = recur_constant(g, NULL, recur_shape2(len, 2), data);
        TU_OK(g, rows[k]);
    }
    assert_int_equal(total, 99);
    expect_values(g, recur_concat(g, N, rows, 0), recur_shape2(total, 2), big);
    recur_graph_free(g);
}

/* ----------------------------------------------------------- slice, split */

/* Concatenations large enough to split across threads, along each axis, against a plain loop. */
static void test_concat_large(void **state)
{
    (void)state;
    enum { R = 97, N = 3 };
    const int64_t len[N] = {700, 1, 301};
    recur_graph *g = recur_graph_new(1);
    recur_value xs[N];
    float *data[N];
    for (int k = 0; k < N; k++) {
        data[k] = malloc(sizeof(float) * (size_t)(R * len[k]));
        assert_non_null(data[k]);
        tu_fill_uniform(data[k], R * len[k], -1, 1, (uint64_t)k + 1);
        char name[8];
        snprintf(name, sizeof name, "x%d", k);
        xs[k] = recur_constant(g, name, recur_shape2(R, len[k]), data[k]);
    }
    int64_t total = len[0] + len[1] + len[2];
    float *want = malloc(sizeof(float) * (size_t)(R * total));
    assert_non_null(want);
    for (int64_t r = 0, off = 0; r < R; r++, off = 0) /* along axis 1: row r of each input in turn */
        for (int k = 0; k < N; k++, off += len[k - 1])
            memcpy(want + r * total + off, data[k] + r * len[k], sizeof(float) * (size_t)len[k]);
    float *got = tu_eval(g, recur_concat(g, N, xs, 1), 0, NULL);
    assert_memory_equal(got, want, sizeof(float) * (size_t)(R * total));
    free(got);
    /* along axis 0: the transposed layout, each input [len_k, R] whole after the other */
    recur_value ts[N];
    for (int k = 0; k < N; k++) {
        char name[8];
        snprintf(name, sizeof name, "t%d", k);
        ts[k] = recur_constant(g, name, recur_shape2(len[k], R), data[k]);
    }
    for (int k = 0, off = 0; k < N; off += (int)(len[k] * R), k++)
        memcpy(want + off, data[k], sizeof(float) * (size_t)(len[k] * R));
    got = tu_eval(g, recur_concat(g, N, ts, 0), 0, NULL);
    assert_memory_equal(got, want, sizeof(float) * (size_t)(R * total));
    free(got);
    recur_graph_free(g);
    for (int k = 0; k < N; k++) free(data[k]);
    free(want);
}

static void test_slice_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_constant(g, "x", recur_shape2(3, 4), IOTA);
    expect_values(g, recur_slice(g, x, 1, 1, 2), recur_shape2(3, 2), (const float[]){1, 2, 5, 6, 9, 10});
    expect_values(g, recur_slice(g, x, -1, 3, 1), recur_shape2(3, 1), (const float[]){3, 7, 11});
    expect_values(g, recur_slice(g, x, -2, 2, 1), recur_shape2(1, 4), (const float[]){8, 9, 10, 11});
    expect_values(g, recur_slice(g, x, 0, 0, 2), recur_shape2(2, 4), (const float[]){0, 1, 2, 3, 4, 5, 6, 7});
    /* The whole axis is x itself. */
    assert_int_equal(recur_slice(g, x, 1, 0, 4).id, x.id);
    /* A middle axis of a 3-D value and the last of a 4-D one. */
    recur_value x3 = recur_constant(g, "x3", recur_shape3(2, 3, 2), IOTA);
    expect_values(g, recur_slice(g, x3, 1, 1, 2), recur_shape3(2, 2, 2), (const float[]){2, 3, 4, 5, 8, 9, 10, 11});
    recur_value x4 = recur_constant(g, "x4", recur_shape4(2, 1, 2, 3), IOTA);
    expect_values(g, recur_slice(g, x4, 3, 2, 1), recur_shape4(2, 1, 2, 1), (const float[]){2, 5, 8, 11});
    recur_graph_free(g);
}

static void test_split_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_constant(g, "x", recur_shape2(2, 6), IOTA);
    recur_value parts[3];
    for (int axis = 1; axis >= -1; axis -= 2) {
        TU_ST(g, recur_split(g, x, axis, 3, parts));
        expect_values(g, parts[0], recur_shape2(2, 2), (const float[]){0, 1, 6, 7});
        expect_values(g, parts[1], recur_shape2(2, 2), (const float[]){2, 3, 8, 9});
        expect_values(g, parts[2], recur_shape2(2, 2), (const float[]){4, 5, 10, 11});
    }
    TU_ST(g, recur_split(g, x, 0, 2, parts));
    expect_values(g, parts[0], recur_shape2(1, 6), (const float[]){0, 1, 2, 3, 4, 5});
    expect_values(g, parts[1], recur_shape2(1, 6), (const float[]){6, 7, 8, 9, 10, 11});
    /* One part is x; as many parts as elements are single columns. */
    TU_ST(g, recur_split(g, x, 1, 1, parts));
    assert_int_equal(parts[0].id, x.id);
    recur_value cols[6];
    TU_ST(g, recur_split(g, x, 1, 6, cols));
    for (int k = 0; k < 6; k++) expect_values(g, cols[k], recur_shape2(2, 1), (const float[]){(float)k, 6.0f + k});
    recur_graph_free(g);
}

/* ------------------------------------------------------------------- stack */

static void test_stack_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value xs[3];
    for (int k = 0; k < 3; k++) xs[k] = recur_constant(g, NULL, recur_shape2(2, 2), IOTA + 1 + 4 * k);
    /* x_0 = [[1,2],[3,4]], x_1 = [[5,6],[7,8]], x_2 = [[9,10],[11,12]] */
    expect_values(g, recur_stack(g, 3, xs, 0), recur_shape3(3, 2, 2),
                  (const float[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    expect_values(g, recur_stack(g, 3, xs, -3), recur_shape3(3, 2, 2),
                  (const float[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    /* y[i, k, j] = x_k[i, j] */
    expect_values(g, recur_stack(g, 3, xs, 1), recur_shape3(2, 3, 2),
                  (const float[]){1, 2, 5, 6, 9, 10, 3, 4, 7, 8, 11, 12});
    /* y[i, j, k] = x_k[i, j]; axis -1 is the new last one */
    const float last[12] = {1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12};
    expect_values(g, recur_stack(g, 3, xs, 2), recur_shape3(2, 2, 3), last);
    expect_values(g, recur_stack(g, 3, xs, -1), recur_shape3(2, 2, 3), last);
    /* Scalars stack into a vector; one value gains a size-1 axis. */
    recur_value s[4];
    for (int k = 0; k < 4; k++) s[k] = recur_scalar(g, (float)(k * k));
    expect_values(g, recur_stack(g, 4, s, 0), recur_shape1(4), (const float[]){0, 1, 4, 9});
    expect_values(g, recur_stack(g, 1, xs, 1), recur_shape3(2, 1, 2), (const float[]){1, 2, 3, 4});
    /* T = 40 steps of [2]: [T, 2] */
    enum { T = 40 };
    recur_value steps[T];
    float want[2 * T];
    for (int t = 0; t < T; t++) {
        want[2 * t] = (float)t, want[2 * t + 1] = -(float)t;
        steps[t] = recur_constant(g, NULL, recur_shape1(2), want + 2 * t);
    }
    expect_values(g, recur_stack(g, T, steps, 0), recur_shape2(T, 2), want);
    TU_ST(g, recur_graph_validate(g));
    recur_graph_free(g);
}

/* ---------------------------------------------------- take, select_step */

static void test_take_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_constant(g, "x", recur_shape3(2, 3, 2), IOTA);
    expect_values(g, recur_take(g, x, 1, 2), recur_shape2(2, 2), (const float[]){4, 5, 10, 11});
    expect_values(g, recur_take(g, x, -1, 1), recur_shape2(2, 3), (const float[]){1, 3, 5, 7, 9, 11});
    expect_values(g, recur_take(g, x, 0, 1), recur_shape2(3, 2), (const float[]){6, 7, 8, 9, 10, 11});
    expect_values(g, recur_select_step(g, x, 0), recur_shape2(3, 2), (const float[]){0, 1, 2, 3, 4, 5});
    expect_values(g, recur_select_step(g, x, 1), recur_shape2(3, 2), (const float[]){6, 7, 8, 9, 10, 11});
    /* A vector's element is a scalar; a 4-D value loses one axis. */
    recur_value v = recur_constant(g, "v", recur_shape1(3), (const float[]){4, 5, 6});
    expect_values(g, recur_take(g, v, 0, 2), recur_shape0(), (const float[]){6});
    recur_value x4 = recur_constant(g, "x4", recur_shape4(2, 2, 3, 2), IOTA);
    expect_values(g, recur_take(g, x4, 2, 1), recur_shape3(2, 2, 2), (const float[]){2, 3, 8, 9, 14, 15, 20, 21});
    recur_graph_free(g);
}

/* --------------------------------------------------------------- pad_axis */

static void test_pad_axis_values(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_constant(g, "x", recur_shape2(2, 2), (const float[]){1, 2, 3, 4});
    expect_values(g, recur_pad_axis(g, x, 1, 1, 4), recur_shape2(2, 4), (const float[]){0, 1, 2, 0, 0, 3, 4, 0});
    expect_values(g, recur_pad_axis(g, x, -1, 0, 3), recur_shape2(2, 3), (const float[]){1, 2, 0, 3, 4, 0});
    expect_values(g, recur_pad_axis(g, x, 0, 1, 3), recur_shape2(3, 2), (const float[]){0, 0, 1, 2, 3, 4});
    expect_values(g, recur_pad_axis(g, x, 0, 2, 4), recur_shape2(4, 2), (const float[]){0, 0, 0, 0, 1, 2, 3, 4});
    assert_int_equal(recur_pad_axis(g, x, 1, 0, 2).id, x.id);
    /* pad_axis undoes slice where the slice kept data: pad(slice(x)) keeps the middle, zeros the rest. */
    recur_value x3 = recur_constant(g, "x3", recur_shape3(2, 3, 2), IOTA);
    expect_values(g, recur_pad_axis(g, recur_slice(g, x3, 1, 1, 1), 1, 1, 3), recur_shape3(2, 3, 2),
                  (const float[]){0, 0, 2, 3, 0, 0, 0, 0, 8, 9, 0, 0});
    recur_graph_free(g);
}

static void test_dump_attrs(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", recur_shape2(2, 3)), b = recur_input(g, "b", recur_shape2(2, 3));
    TU_OK(g, recur_concat(g, 2, (recur_value[]){a, b}, -1));
    TU_OK(g, recur_slice(g, a, -1, 1, 2));
    TU_OK(g, recur_stack(g, 2, (recur_value[]){a, b}, 0));
    TU_OK(g, recur_take(g, a, 1, 2));
    TU_OK(g, recur_pad_axis(g, a, 0, 1, 4));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    TU_ST(g, recur_graph_dump(g, f));
    fclose(f);
    const char *lines[] = {"concat(%0, %1) axis=1 [2, 6]", "slice(%0) axis=1 start=1 len=2 [2, 2]",
                           "stack(%0, %1) axis=0 [2, 2, 3]", "take(%0) axis=1 index=2 [2]",
                           "pad_axis(%0) axis=0 start=1 total=4 [4, 3]"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        if (!strstr(text, lines[i])) fail_msg("dump lacks \"%s\":\n%s", lines[i], text);
    free(text);
    recur_graph_free(g);
}

/* --------------------------------------------------------------- gradients */

/* Each rule builds the op named in the design: concat -> slice, slice -> pad_axis, stack -> take, ... */
static void test_gradient_rules(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value a = tu_param(g, "a", recur_shape2(2, 3)), b = tu_param(g, "b", recur_shape2(2, 3));
    struct {
        recur_value y;
        const char *want;
    } cases[] = {
        {recur_concat(g, 2, (recur_value[]){a, b}, 0), "slice"},
        {recur_slice(g, a, 1, 1, 1), "pad_axis"},
        {recur_stack(g, 2, (recur_value[]){a, b}, 1), "take"},
        {recur_take(g, a, 0, 1), "pad_axis"},
        {recur_pad_axis(g, a, 1, 2, 7), "slice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TU_OK(g, cases[i].y);
        /* a reaches sum(y) only through the op, so its gradient is the node the rule built */
        recur_value ga;
        TU_ST(g, recur_grad(g, recur_sum(g, cases[i].y), 1, &a, &ga));
        assert_string_equal(recur_value_op(g, ga), cases[i].want);
    }
    recur_graph_free(g);
}

/* Random parameters of the given shapes, their op, and a gradient check of every one. */
static void check_concat(int n, const recur_shape *shapes, int axis, uint64_t seed)
{
    recur_graph *g = recur_graph_new(seed);
    recur_value xs[64];
    for (int k = 0; k < n; k++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", k);
        xs[k] = tu_param(g, name, shapes[k]);
    }
    recur_value y = recur_concat(g, n, xs, axis);
    TU_OK(g, y);
    tu_gradcheck(g, y, n, xs, 0, NULL, 1e-2);
    recur_graph_free(g);
}

static void test_concat_gradients(void **state)
{
    (void)state;
    check_concat(3, (const recur_shape[]){recur_shape2(2, 3), recur_shape2(1, 3), recur_shape2(3, 3)}, 0, 1);
    check_concat(2, (const recur_shape[]){recur_shape3(2, 1, 3), recur_shape3(2, 4, 3)}, 1, 2);
    check_concat(3, (const recur_shape[]){recur_shape4(2, 1, 2, 1), recur_shape4(2, 1, 2, 3), recur_shape4(2, 1, 2, 2)},
                 -1, 3);
    check_concat(2, (const recur_shape[]){recur_shape1(3), recur_shape1(5)}, 0, 4);
    /* 50 steps of [1, 2] along axis 0 */
    recur_shape many[50];
    for (int k = 0; k < 50; k++) many[k] = recur_shape2(1, 2);
    check_concat(50, many, 0, 5);
}

static void test_slice_gradients(void **state)
{
    (void)state;
    struct {
        recur_shape s;
        int axis;
        int64_t start, len;
    } cases[] = {
        {recur_shape2(4, 5), 1, 1, 3},
        {recur_shape3(3, 4, 2), 0, 1, 2},
        {recur_shape4(2, 3, 4, 2), -2, 2, 2},
        {recur_shape1(6), 0, 5, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        recur_graph *g = recur_graph_new(10 + c);
        recur_value x = tu_param(g, "x", cases[c].s);
        recur_value y = recur_slice(g, x, cases[c].axis, cases[c].start, cases[c].len);
        TU_OK(g, y);
        tu_gradcheck(g, y, 1, &x, 0, NULL, 1e-2);
        recur_graph_free(g);
    }
}

static void test_split_gradients(void **state)
{
    (void)state;
    /* y = p0 * p1 + p2 for the three parts of x: every part reaches the loss differently. */
    const recur_shape shapes[] = {recur_shape2(2, 6), recur_shape3(3, 2, 2), recur_shape4(2, 3, 1, 3)};
    const int axes[] = {1, 0, -1};
    for (int c = 0; c < 3; c++) {
        recur_graph *g = recur_graph_new(20 + (uint64_t)c);
        recur_value x = tu_param(g, "x", shapes[c]), p[3];
        TU_ST(g, recur_split(g, x, axes[c], 3, p));
        recur_value y = recur_add(g, recur_mul(g, p[0], p[1]), p[2]);
        TU_OK(g, y);
        tu_gradcheck(g, y, 1, &x, 0, NULL, 1e-2);
        recur_graph_free(g);
    }
}

static void test_stack_gradients(void **state)
{
    (void)state;
    for (int axis = -1; axis <= 2; axis++) {
        recur_graph *g = recur_graph_new(30 + (uint64_t)(axis + 1));
        recur_value xs[3];
        for (int k = 0; k < 3; k++) xs[k] = tu_param(g, k == 0 ? "a" : k == 1 ? "b" : "c", recur_shape2(2, 3));
        recur_value y = recur_stack(g, 3, xs, axis);
        TU_OK(g, y);
        tu_gradcheck(g, y, 3, xs, 0, NULL, 1e-2);
        recur_graph_free(g);
    }
    /* 4 values of [2, 1, 2] along a new last axis (rank 4), and 30 steps of [2] */
    recur_graph *g = recur_graph_new(40);
    recur_value xs[30];
    for (int k = 0; k < 4; k++) {
        char name[8];
        snprintf(name, sizeof name, "x%d", k);
        xs[k] = tu_param(g, name, recur_shape3(2, 1, 2));
    }
    recur_value y = recur_stack(g, 4, xs, 3);
    TU_OK(g, y);
    tu_gradcheck(g, y, 4, xs, 0, NULL, 1e-2);
    recur_graph_free(g);
    g = recur_graph_new(41);
    for (int k = 0; k < 30; k++) {
        char name[8];
        snprintf(name, sizeof name, "s%d", k);
        xs[k] = tu_param(g, name, recur_shape1(2));
    }
    y = recur_stack(g, 30, xs, 0);
    TU_OK(g, y);
    tu_gradcheck(g, y, 30, xs, 0, NULL, 1e-2);
    recur_graph_free(g);
}

static void test_take_gradients(void **state)
{
    (void)state;
    struct {
        recur_shape s;
        int axis;
        int64_t index;
    } cases[] = {
        {recur_shape2(3, 4), 0, 2},
        {recur_shape3(2, 3, 4), 1, 0},
        {recur_shape4(2, 2, 3, 2), -1, 1},
        {recur_shape1(5), 0, 3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        recur_graph *g = recur_graph_new(50 + c);
        recur_value x = tu_param(g, "x", cases[c].s);
        recur_value y = recur_take(g, x, cases[c].axis, cases[c].index);
        TU_OK(g, y);
        tu_gradcheck(g, y, 1, &x, 0, NULL, 1e-2);
        recur_graph_free(g);
    }
    /* select_step of every step of a sequence, summed with different weights: each step's rows get theirs */
    recur_graph *g = recur_graph_new(60);
    recur_value x = tu_param(g, "x", recur_shape3(4, 2, 3));
    recur_value y = recur_select_step(g, x, 0);
    for (int t = 1; t < 4; t++) y = recur_add(g, y, recur_scale(g, recur_select_step(g, x, t), (float)(t + 1)));
    TU_OK(g, y);
    tu_gradcheck(g, y, 1, &x, 0, NULL, 1e-2);
    recur_graph_free(g);
}

static void test_pad_axis_gradients(void **state)
{
    (void)state;
    struct {
        recur_shape s;
        int axis;
        int64_t start, total;
    } cases[] = {
        {recur_shape2(2, 3), 1, 2, 6},
        {recur_shape3(2, 2, 2), 0, 1, 4},
        {recur_shape4(1, 2, 3, 2), -2, 0, 5},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        recur_graph *g = recur_graph_new(70 + c);
        recur_value x = tu_param(g, "x", cases[c].s);
        recur_value y = recur_pad_axis(g, x, cases[c].axis, cases[c].start, cases[c].total);
        TU_OK(g, y);
        tu_gradcheck(g, y, 1, &x, 0, NULL, 1e-2);
        recur_graph_free(g);
    }
}

/* ------------------------------------------------------------------ errors */

static void test_concat_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", recur_shape2(2, 3));
    recur_value b = recur_input(g, "b", recur_shape2(3, 2));
    recur_value c = recur_input(g, "c", recur_shape3(2, 3, 1));
    recur_value s = recur_scalar(g, 1);
    TU_EXPECT_FAIL(g, recur_concat(g, 2, (recur_value[]){a, a}, 2), RECUR_ERR_ARG, "op concat", "axis 2",
                "\"a\" [2, 3]");
    TU_EXPECT_FAIL(g, recur_concat(g, 2, (recur_value[]){a, a}, -3), RECUR_ERR_ARG, "op concat", "axis -3");
    /* Dimensions outside the axis differ: [2,3] ++ [3,2] along 0 and along 1. */
    TU_EXPECT_FAIL(g, recur_concat(g, 2, (recur_value[]){a, b}, 0), RECUR_ERR_SHAPE, "op concat", "input 1",
                "\"a\" [2, 3]", "\"b\" [3, 2]");
    TU_EXPECT_FAIL(g, recur_concat(g, 2, (recur_value[]){a, b}, 1), RECUR_ERR_SHAPE, "op concat", "\"b\" [3, 2]");
    /* Ranks differ; the third of three inputs is the bad one. */
    TU_EXPECT_FAIL(g, recur_concat(g, 3, (recur_value[]){a, a, c}, 0), RECUR_ERR_SHAPE, "input 2",
                "\"c\" [2, 3, 1]");
    /* Scalars have no axis; nothing to join; no array. */
    TU_EXPECT_FAIL(g, recur_concat(g, 2, (recur_value[]){s, s}, 0), RECUR_ERR_ARG, "op concat", "axis 0");
    TU_EXPECT_FAIL(g, recur_concat(g, 0, (recur_value[]){a}, 0), RECUR_ERR_ARG, "op concat", "n = 0");
    TU_EXPECT_FAIL(g, recur_concat(g, 2, NULL, 0), RECUR_ERR_ARG, "op concat");
    /* An invalid operand keeps the first message. */
    assert_false(recur_ok(recur_concat(g, 2, (recur_value[]){a, b}, 0)));
    char first[1024];
    snprintf(first, sizeof first, "%s", recur_errmsg(g));
    assert_false(recur_ok(recur_concat(g, 3, (recur_value[]){a, RECUR_NONE, a}, 0)));
    assert_string_equal(recur_errmsg(g), first);
    /* The graph stays usable. */
    recur_clear_error(g);
    recur_value y = recur_concat(g, 2, (recur_value[]){a, a}, 0);
    TU_OK(g, y);
    float *v = tu_eval(g, y, 1, (recur_feed[]){{a, IOTA, 6}});
    tu_assert_close(v, (const float[]){0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5}, 12, 0, 0);
    free(v);
    TU_ST(g, recur_graph_validate(g));
    recur_graph_free(g);
}

static void test_slice_split_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value x = recur_input(g, "x", recur_shape2(3, 4));
    /* Past the end, before the start, empty. */
    TU_EXPECT_FAIL(g, recur_slice(g, x, 1, 3, 2), RECUR_ERR_SHAPE, "op slice", "[3, 5)", "length 4", "\"x\" [3, 4]");
    TU_EXPECT_FAIL(g, recur_slice(g, x, 0, 0, 4), RECUR_ERR_SHAPE, "op slice", "length 3");
    TU_EXPECT_FAIL(g, recur_slice(g, x, 0, -1, 2), RECUR_ERR_SHAPE, "op slice", "[-1, 1)");
    TU_EXPECT_FAIL(g, recur_slice(g, x, 0, 1, 0), RECUR_ERR_SHAPE, "op slice");
    TU_EXPECT_FAIL(g, recur_slice(g, x, 2, 0, 1), RECUR_ERR_ARG, "op slice", "axis 2", "\"x\" [3, 4]");
    TU_EXPECT_FAIL(g, recur_slice(g, x, -3, 0, 1), RECUR_ERR_ARG, "op slice", "axis -3");

    /* split: the axis must divide; nothing is added and out[] is invalid on failure. */
    recur_value parts[6] = {x, x, x, x, x, x};
    int before = recur_graph_size(g);
    assert_int_equal(recur_split(g, x, 1, 3, parts), RECUR_ERR_SHAPE);
    tu_check_error(g, before, RECUR_ERR_SHAPE,
                (const char *const[]){"op split", "\"x\" [3, 4]", "length 4", "3 equal parts", NULL});
    for (int k = 0; k < 3; k++) assert_false(recur_ok(parts[k]));
    assert_int_equal(recur_split(g, x, 2, 2, parts), RECUR_ERR_ARG);
    tu_check_error(g, before, RECUR_ERR_ARG, (const char *const[]){"op split", "axis 2", NULL});
    assert_int_equal(recur_split(g, x, 0, 0, parts), RECUR_ERR_ARG);
    tu_check_error(g, before, RECUR_ERR_ARG, (const char *const[]){"op split", "n = 0", NULL});
    assert_int_equal(recur_split(g, x, 0, 3, NULL), RECUR_ERR_ARG);
    tu_check_error(g, before, RECUR_ERR_ARG, (const char *const[]){"op split", NULL});
    assert_int_equal(recur_split(g, RECUR_NONE, 0, 3, parts), RECUR_ERR_VALUE);
    tu_check_error(g, before, RECUR_ERR_VALUE, (const char *const[]){"split", NULL});
    /* More parts than elements along the axis does not divide either. */
    assert_int_equal(recur_split(g, x, 0, 6, parts), RECUR_ERR_SHAPE);
    recur_clear_error(g);
    /* Usable afterwards. */
    TU_ST(g, recur_split(g, x, 1, 4, parts));
    assert_int_equal(recur_graph_size(g), before + 4);
    recur_graph_free(g);
}

static void test_stack_take_pad_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", recur_shape2(2, 3));
    recur_value b = recur_input(g, "b", recur_shape2(3, 2));
    recur_value c4 = recur_input(g, "c4", recur_shape4(1, 2, 1, 2));
    recur_value s = recur_scalar(g, 2);
    /* stack */
    TU_EXPECT_FAIL(g, recur_stack(g, 2, (recur_value[]){a, b}, 0), RECUR_ERR_SHAPE, "op stack", "input 1",
                "\"a\" [2, 3]", "\"b\" [3, 2]");
    TU_EXPECT_FAIL(g, recur_stack(g, 3, (recur_value[]){a, a, c4}, 0), RECUR_ERR_SHAPE, "op stack", "input 2");
    TU_EXPECT_FAIL(g, recur_stack(g, 2, (recur_value[]){c4, c4}, 0), RECUR_ERR_SHAPE, "op stack", "rank 5");
    TU_EXPECT_FAIL(g, recur_stack(g, 2, (recur_value[]){a, a}, 3), RECUR_ERR_ARG, "op stack", "axis 3", "\"a\" [2, 3]");
    TU_EXPECT_FAIL(g, recur_stack(g, 2, (recur_value[]){a, a}, -4), RECUR_ERR_ARG, "op stack", "axis -4");
    TU_EXPECT_FAIL(g, recur_stack(g, 0, (recur_value[]){a}, 0), RECUR_ERR_ARG, "op stack");
    /* take, select_step */
    TU_EXPECT_FAIL(g, recur_take(g, a, 1, 3), RECUR_ERR_SHAPE, "op take", "index 3", "length 3", "\"a\" [2, 3]");
    TU_EXPECT_FAIL(g, recur_take(g, a, 0, -1), RECUR_ERR_SHAPE, "op take", "index -1");
    TU_EXPECT_FAIL(g, recur_take(g, a, 2, 0), RECUR_ERR_ARG, "op take", "axis 2");
    TU_EXPECT_FAIL(g, recur_select_step(g, a, 2), RECUR_ERR_SHAPE, "index 2", "length 2", "\"a\" [2, 3]");
    TU_EXPECT_FAIL(g, recur_select_step(g, s, 0), RECUR_ERR_ARG, "op select_step", "axis 0");
    /* pad_axis */
    TU_EXPECT_FAIL(g, recur_pad_axis(g, a, 1, 1, 3), RECUR_ERR_SHAPE, "op pad_axis", "length 3", "at 1",
                "inside length 3");
    TU_EXPECT_FAIL(g, recur_pad_axis(g, a, 1, 0, 2), RECUR_ERR_SHAPE, "op pad_axis");
    TU_EXPECT_FAIL(g, recur_pad_axis(g, a, 0, -1, 4), RECUR_ERR_SHAPE, "op pad_axis", "at -1");
    TU_EXPECT_FAIL(g, recur_pad_axis(g, a, -3, 0, 4), RECUR_ERR_ARG, "op pad_axis", "axis -3");
    /* Usable afterwards. */
    TU_OK(g, recur_stack(g, 2, (recur_value[]){b, b}, 2));
    TU_ST(g, recur_graph_validate(g));
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concat_values),
        cmocka_unit_test(test_concat_many),
        cmocka_unit_test(test_concat_large),
        cmocka_unit_test(test_slice_values),
        cmocka_unit_test(test_split_values),
        cmocka_unit_test(test_stack_values),
        cmocka_unit_test(test_take_values),
        cmocka_unit_test(test_pad_axis_values),
        cmocka_unit_test(test_dump_attrs),
        cmocka_unit_test(test_gradient_rules),
        cmocka_unit_test(test_concat_gradients),
        cmocka_unit_test(test_slice_gradients),
        cmocka_unit_test(test_split_gradients),
        cmocka_unit_test(test_stack_gradients),
        cmocka_unit_test(test_take_gradients),
        cmocka_unit_test(test_pad_axis_gradients),
        cmocka_unit_test(test_concat_errors),
        cmocka_unit_test(test_slice_split_errors),
        cmocka_unit_test(test_stack_take_pad_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
