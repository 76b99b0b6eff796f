/*
 * tests/test_ops_matmul.c — matmul in its three forms (plain 2-D, a's
 * leading dimensions as rows against a 2-D b, batched of equal rank):
 * forward values for every transpose combination, gradients against
 * finite differences on random shapes, and shape errors.
 */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A = [[1,2,3],[4,5,6]] (2x3), B = [[7,8],[9,10],[11,12]] (3x2), A.B = [[58,64],[139,154]]. */
static const float A23[6] = {1, 2, 3, 4, 5, 6};
static const float B32[6] = {7, 8, 9, 10, 11, 12};
static const float AB[4] = {58, 64, 139, 154};
/* A second pair: C = [[1,0,0],[0,1,-1]], D = [[1,2],[3,4],[5,6]]; C.B = [[7,8],[-2,-2]], C.D = [[1,2],[-2,-2]]. */
static const float C23[6] = {1, 0, 0, 0, 1, -1};
static const float D32[6] = {1, 2, 3, 4, 5, 6};
static const float CB[4] = {7, 8, -2, -2};
static const float CD[4] = {1, 2, -2, -2};

/* Writes the transpose of each of `batch` row-major [r, c] matrices of src to dst ([c, r] each). */
static void transpose_host(const float *src, float *dst, int batch, int r, int c)
{
    for (int p = 0; p < batch; p++)
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++) dst[p * r * c + j * r + i] = src[p * r * c + i * c + j];
}

/* Concatenates two 6-float blocks. */
static void join2(const float *x, const float *y, float *out)
{
    memcpy(out, x, 6 * sizeof(float));
    memcpy(out + 6, y, 6 * sizeof(float));
}

/*
 * Builds matmul(a, b, ta, tb) from constants whose storage is a (shape sa)
 * and b (shape sb) given untransposed, transposing the last two dimensions
 * of each operand whose flag is set; checks the shape and the values.
 */
static void check_product(recur_shape sa, const float *a, recur_shape sb, const float *b, int ta, int tb,
                          recur_shape want_shape, const float *want)
{
    float at[24], bt[24];
    int64_t na = recur_shape_numel(sa), nb = recur_shape_numel(sb);
    assert_true(na <= 24 && nb <= 24);
    recur_shape ssa = sa, ssb = sb;
    if (ta) {
        int r = (int)sa.d[sa.ndim - 2], c = (int)sa.d[sa.ndim - 1];
        transpose_host(a, at, (int)(na / (r * c)), r, c);
        ssa.d[sa.ndim - 2] = c, ssa.d[sa.ndim - 1] = r;
    } else {
        memcpy(at, a, sizeof(float) * (size_t)na);
    }
    if (tb) {
        int r = (int)sb.d[sb.ndim - 2], c = (int)sb.d[sb.ndim - 1];
        transpose_host(b, bt, (int)(nb / (r * c)), r, c);
        ssb.d[sb.ndim - 2] = c, ssb.d[sb.ndim - 1] = r;
    } else {
        memcpy(bt, b, sizeof(float) * (size_t)nb);
    }
    recur_graph *g = recur_graph_new(1);
    recur_value va = recur_constant(g, "a", ssa, at), vb = recur_constant(g, "b", ssb, bt);
    recur_value y = recur_matmul(g, va, vb, ta, tb);
    TU_OK(g, y);
    recur_shape s = recur_value_shape(g, y);
    if (!recur_shape_equal(s, want_shape)) {
        char got[64], wanted[64];
        fail_msg("matmul ta=%d tb=%d: shape %s, want %s", ta, tb, recur_shape_str(s, got, sizeof got),
                 recur_shape_str(want_shape, wanted, sizeof wanted));
    }
    float *v = tu_eval(g, y, 0, NULL);
    tu_assert_close(v, want, recur_shape_numel(want_shape), 0, 0);
    free(v);
    recur_graph_free(g);
}

static void test_plain_all_transposes(void **state)
{
    (void)state;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_product(recur_shape2(2, 3), A23, recur_shape2(3, 2), B32, ta, tb, recur_shape2(2, 2), AB);
            check_product(recur_shape2(2, 3), C23, recur_shape2(3, 2), D32, ta, tb, recur_shape2(2, 2), CD);
        }
}

static void test_plain_non_square(void **state)
{
    (void)state;
    /* [3,2] . [2,3]: B.A = [[39,54,69],[49,68,87],[59,82,105]] */
    const float BA[9] = {39, 54, 69, 49, 68, 87, 59, 82, 105};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            check_product(recur_shape2(3, 2), B32, recur_shape2(2, 3), A23, ta, tb, recur_shape2(3, 3), BA);
    /* a row times a column, and a column times a row */
    const float row[3] = {1, 2, 3}, col[3] = {4, 5, 6};
    check_product(recur_shape2(1, 3), row, recur_shape2(3, 1), col, 0, 0, recur_shape2(1, 1), (const float[]){32});
    check_product(recur_shape2(3, 1), col, recur_shape2(1, 3), row, 0, 0, recur_shape2(3, 3),
                  (const float[]){4, 8, 12, 5, 10, 15, 6, 12, 18});
}

/* [2, 2, 3] . [3, 2] -> [2, 2, 2] and [1, 2, 2, 3] . [3, 2] -> [1, 2, 2, 2]: rows of a against one b. */
static void test_rows_form(void **state)
{
    (void)state;
    float a[12], want[8];
    join2(A23, C23, a);
    memcpy(want, AB, sizeof AB);
    memcpy(want + 4, CB, sizeof CB);
    for (int tb = 0; tb < 2; tb++) {
        check_product(recur_shape3(2, 2, 3), a, recur_shape2(3, 2), B32, 0, tb, recur_shape3(2, 2, 2), want);
        check_product(recur_shape4(1, 2, 2, 3), a, recur_shape2(3, 2), B32, 0, tb, recur_shape4(1, 2, 2, 2), want);
    }
    /* [4, 3] rows as [4, 1, 3]: the same numbers in another arrangement */
    check_product(recur_shape3(4, 1, 3), a, recur_shape2(3, 2), B32, 0, 0, recur_shape3(4, 1, 2), want);
}

/* [2, 2, 3] . [2, 3, 2] -> [2, 2, 2]: batch 0 is A.B, batch 1 is C.D; the same in rank 4 as [2, 1, ...]. */
static void test_batched_all_transposes(void **state)
{
    (void)state;
    float a[12], b[12], want[8];
    join2(A23, C23, a);
    join2(B32, D32, b);
    memcpy(want, AB, sizeof AB);
    memcpy(want + 4, CD, sizeof CD);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_product(recur_shape3(2, 2, 3), a, recur_shape3(2, 3, 2), b, ta, tb, recur_shape3(2, 2, 2), want);
            check_product(recur_shape4(2, 1, 2, 3), a, recur_shape4(2, 1, 3, 2), b, ta, tb,
                          recur_shape4(2, 1, 2, 2), want);
            check_product(recur_shape4(1, 2, 2, 3), a, recur_shape4(1, 2, 3, 2), b, ta, tb,
                          recur_shape4(1, 2, 2, 2), want);
        }
}

static void test_dump_attrs(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", recur_shape2(2, 3)), b = recur_input(g, "b", recur_shape2(4, 3));
    TU_OK(g, recur_matmul(g, a, b, 0, 1));
    TU_OK(g, recur_matmul(g, a, a, 1, 0));
    TU_OK(g, recur_matmul(g, b, b, 7, 0)); /* any nonzero flag means transpose */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    TU_ST(g, recur_graph_dump(g, f));
    fclose(f);
    assert_non_null(strstr(text, "matmul(%0, %1) transb=1 [2, 4]"));
    assert_non_null(strstr(text, "matmul(%0, %0) transa=1 [3, 3]"));
    assert_non_null(strstr(text, "matmul(%1, %1) transa=1 [3, 3]"));
    free(text);
    recur_graph_free(g);
}

/* Gradient checks of both operands for every flag combination of one operand shape pair. */
static void gradcheck_product(recur_shape sa, recur_shape sb, int ta, int tb, uint64_t seed)
{
    recur_graph *g = recur_graph_new(seed);
    recur_value a = tu_param(g, "a", sa), b = tu_param(g, "b", sb);
    recur_value y = recur_matmul(g, a, b, ta, tb);
    TU_OK(g, y);
    tu_gradcheck(g, y, 2, (recur_value[]){a, b}, 0, NULL, 1e-2);
    recur_graph_free(g);
}

/* The shape of an operand [.., r, c] stored transposed when t is set. */
static recur_shape stored(recur_shape s, int t)
{
    if (t) {
        int64_t r = s.d[s.ndim - 2];
        s.d[s.ndim - 2] = s.d[s.ndim - 1];
        s.d[s.ndim - 1] = r;
    }
    return s;
}

static void test_plain_gradients(void **state)
{
    (void)state;
    /* op(a) [M, K], op(b) [K, N] */
    const int64_t mkn[][3] = {{3, 4, 5}, {1, 6, 2}, {4, 1, 3}, {2, 3, 1}};
    for (size_t c = 0; c < sizeof mkn / sizeof mkn[0]; c++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                gradcheck_product(stored(recur_shape2(mkn[c][0], mkn[c][1]), ta),
                                  stored(recur_shape2(mkn[c][1], mkn[c][2]), tb), ta, tb, c * 4 + (uint64_t)(ta * 2 + tb));
}

static void test_rows_gradients(void **state)
{
    (void)state;
    for (int tb = 0; tb < 2; tb++) {
        gradcheck_product(recur_shape3(3, 2, 4), stored(recur_shape2(4, 5), tb), 0, tb, 40 + (uint64_t)tb);
        gradcheck_product(recur_shape4(2, 3, 1, 3), stored(recur_shape2(3, 2), tb), 0, tb, 50 + (uint64_t)tb);
        gradcheck_product(recur_shape3(1, 1, 2), stored(recur_shape2(2, 3), tb), 0, tb, 60 + (uint64_t)tb);
    }
}

static void test_batched_gradients(void **state)
{
    (void)state;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            uint64_t s = 70 + (uint64_t)(ta * 2 + tb);
            gradcheck_product(stored(recur_shape3(2, 3, 4), ta), stored(recur_shape3(2, 4, 2), tb), ta, tb, s);
            gradcheck_product(stored(recur_shape4(2, 2, 2, 3), ta), stored(recur_shape4(2, 2, 3, 3), tb), ta, tb,
                              s + 10);
        }
}

/*
 * In the rows form, b's gradient is one matmul over all T*B rows
 * ([T*B, K]^T . [T*B, N]) rather than per-step products summed.
 */
static void test_rows_weight_gradient_is_one_matmul(void **state)
{
    (void)state;
    for (int tb = 0; tb < 2; tb++) {
        recur_graph *g = recur_graph_new(3);
        recur_value x = tu_param(g, "x", recur_shape3(5, 2, 3));
        recur_value w = tu_param(g, "w", stored(recur_shape2(3, 4), tb));
        recur_value loss = recur_sum(g, recur_matmul(g, x, w, 0, tb));
        recur_value grads[2];
        TU_ST(g, recur_grad(g, loss, 2, (recur_value[]){x, w}, grads));
        assert_string_equal(recur_value_op(g, grads[1]), "matmul");
        recur_shape s = recur_value_shape(g, grads[1]);
        assert_true(recur_shape_equal(s, recur_value_shape(g, w)));
        /* d sum(x.w)/dw[k][n] = sum over rows of x[.., k] */
        float *gx = tu_eval(g, grads[1], 0, NULL);
        const float *xd = recur_param_data(g, x);
        for (int k = 0; k < 3; k++) {
            double col = 0;
            for (int r = 0; r < 10; r++) col += xd[r * 3 + k];
            for (int n = 0; n < 4; n++) {
                float want = (float)col;
                tu_assert_close(&gx[tb ? n * 3 + k : k * 4 + n], &want, 1, 1e-5, 1e-5);
            }
        }
        free(gx);
        recur_graph_free(g);
    }
}

/* Tries a bad product, checks the status, that the message holds each of `parts` and that nothing was added. */
static void expect_shape_error(recur_graph *g, recur_value a, recur_value b, int ta, int tb, const char *const *parts,
                               int n_parts)
{
    int before = recur_graph_size(g);
    recur_clear_error(g);
    assert_false(recur_ok(recur_matmul(g, a, b, ta, tb)));
    assert_int_equal(recur_errcode(g), RECUR_ERR_SHAPE);
    const char *msg = recur_errmsg(g);
    for (int i = 0; i < n_parts; i++)
        if (!strstr(msg, parts[i])) fail_msg("message \"%s\" lacks \"%s\"", msg, parts[i]);
    assert_int_equal(recur_graph_size(g), before);
}

static void test_shape_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value a = recur_input(g, "a", recur_shape2(2, 3));
    recur_value b = recur_input(g, "b", recur_shape2(5, 4));
    recur_value bt = recur_input(g, "bt", recur_shape2(4, 5));
    recur_value v = recur_input(g, "v", recur_shape1(3));
    recur_value s3 = recur_input(g, "s3", recur_shape3(2, 2, 3));
    recur_value w = recur_input(g, "w", recur_shape2(3, 4));
    recur_value b3 = recur_input(g, "b3", recur_shape3(4, 3, 2));
    recur_value c4 = recur_input(g, "c4", recur_shape4(2, 2, 3, 2));
    recur_value d4 = recur_input(g, "d4", recur_shape4(2, 3, 3, 2));

    expect_shape_error(g, a, b, 0, 0,
                       (const char *[]){"op matmul", "inner dimensions differ: 3 (a, trans_a=0) vs 5 (b, trans_b=0)",
                                        "\"a\" [2, 3]", "\"b\" [5, 4]"},
                       4);
    expect_shape_error(g, a, bt, 0, 1,
                       (const char *[]){"inner dimensions differ: 3 (a, trans_a=0) vs 5 (b, trans_b=1)",
                                        "\"bt\" [4, 5]"},
                       2);
    expect_shape_error(g, a, w, 1, 0,
                       (const char *[]){"inner dimensions differ: 2 (a, trans_a=1) vs 3 (b, trans_b=0)"}, 1);
    /* rank-1 operands, on either side */
    expect_shape_error(g, v, w, 0, 0, (const char *[]){"op matmul", "a has rank 1", "\"v\" [3]", "\"w\" [3, 4]"}, 4);
    expect_shape_error(g, w, v, 0, 0, (const char *[]){"b has rank 1", "\"v\" [3]"}, 2);
    /* trans_a with the rows form */
    expect_shape_error(g, s3, w, 1, 0, (const char *[]){"trans_a must be 0", "\"s3\" [2, 2, 3]", "\"w\" [3, 4]"}, 3);
    /* batch dimensions differing, rank 3 and rank 4 */
    expect_shape_error(g, s3, b3, 0, 0,
                       (const char *[]){"batch dimensions differ: [2] (a) vs [4] (b)", "\"b3\" [4, 3, 2]"}, 2);
    expect_shape_error(g, c4, d4, 0, 1, (const char *[]){"batch dimensions differ: [2, 2] (a) vs [2, 3] (b)"}, 1);
    /* ranks that fit no form: a 2-D against b 3-D */
    expect_shape_error(g, a, b3, 0, 0, (const char *[]){"ranks do not fit", "\"a\" [2, 3]", "\"b3\" [4, 3, 2]"}, 3);
    /* the inner check in the rows and batched forms */
    expect_shape_error(g, s3, b, 0, 0, (const char *[]){"inner dimensions differ: 3 (a, trans_a=0) vs 5"}, 1);
    expect_shape_error(g, c4, c4, 0, 0, (const char *[]){"inner dimensions differ: 2 (a, trans_a=0) vs 3"}, 1);

    /* An invalid operand keeps the first message. */
    recur_clear_error(g);
    assert_false(recur_ok(recur_matmul(g, a, b, 0, 0)));
    char first[1024];
    snprintf(first, sizeof first, "%s", recur_errmsg(g));
    assert_false(recur_ok(recur_matmul(g, RECUR_NONE, w, 0, 0)));
    assert_string_equal(recur_errmsg(g), first);

    /* The graph stays usable. */
    recur_clear_error(g);
    recur_value y = recur_matmul(g, a, w, 0, 0);
    TU_OK(g, y);
    float ad[6], wd[12];
    tu_fill_uniform(ad, 6, -1, 1, 1);
    tu_fill_uniform(wd, 12, -1, 1, 2);
    recur_feed feeds[2] = {{a, ad, 6}, {w, wd, 12}};
    float *got = tu_eval(g, y, 2, feeds);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            float want = ad[i * 3] * wd[j] + ad[i * 3 + 1] * wd[4 + j] + ad[i * 3 + 2] * wd[8 + j];
            tu_assert_close(&got[i * 4 + j], &want, 1, 1e-6, 1e-6);
        }
    free(got);
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_all_transposes),
        cmocka_unit_test(test_plain_non_square),
        cmocka_unit_test(test_rows_form),
        cmocka_unit_test(test_batched_all_transposes),
        cmocka_unit_test(test_dump_attrs),
        cmocka_unit_test(test_plain_gradients),
        cmocka_unit_test(test_rows_gradients),
        cmocka_unit_test(test_batched_gradients),
        cmocka_unit_test(test_rows_weight_gradient_is_one_matmul),
        cmocka_unit_test(test_shape_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
