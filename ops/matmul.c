/*
 * ops/matmul.c — the matrix product op(a) . op(b), op = transpose when the
 * node's flag is set (attr.i[0] = trans_a, attr.i[1] = trans_b), in three
 * forms:
 *   plain:   a [M, K] . b [K, N] -> [M, N]                (transposes as flagged)
 *   rows:    a [..., K] . b [K, N] -> [..., N]            (a's leading dimensions are rows; trans_a = 0)
 *   batched: a [..., M, K] . b [..., K, N] -> [..., M, N] (equal leading dimensions, one product each)
 * The reference kernel is the plain triple loop accumulating in double: the
 * oracle the oneDNN backend is tested against.
 */
#include "ops/op.h"

/*
 * The geometry of a product: `batch` products of op(a) [m, k] and op(b)
 * [k, n], with a's and b's entries a_step and b_step floats apart (b_step
 * is 0 when every product shares b). The rows form is one product with m
 * the number of rows of a.
 */
typedef struct mm_geom {
    int64_t batch, m, k, n;
    int64_t kb;  /* b's inner dimension (equal to k when the shapes fit) */
    int64_t a_step, b_step;
} mm_geom;

/* The geometry of ranks a, b (both 2..4, b 2-D or of a's rank) with the given flags. */
static mm_geom geometry(recur_shape a, recur_shape b, int ta, int tb)
{
    mm_geom q;
    int ra = a.ndim, rb = b.ndim;
    q.k = ta ? a.d[ra - 2] : a.d[ra - 1];
    q.kb = tb ? b.d[rb - 1] : b.d[rb - 2];
    q.n = tb ? b.d[rb - 2] : b.d[rb - 1];
    if (rb == 2) {
        /* plain or rows: every leading dimension of a is a row */
        q.batch = 1;
        q.m = recur_shape_numel(a) / q.k;
        q.a_step = q.b_step = 0;
    } else {
        q.batch = 1;
        for (int i = 0; i < ra - 2; i++) q.batch *= a.d[i];
        q.m = ta ? a.d[ra - 1] : a.d[ra - 2];
        q.a_step = q.m * q.k;
        q.b_step = q.kb * q.n;
    }
    return q;
}

static recur_status matmul_shape(recur_graph *g, recur_node *n)
{
    recur_shape a = recur_in_shape(g, n, 0), b = recur_in_shape(g, n, 1);
    int ta = (int)n->attr.i[0], tb = (int)n->attr.i[1];
    char sa[64], sb[64];
    if (a.ndim < 2)
        return recur_shape_fail(g, n, "a has rank %d, matmul needs operands of rank 2 to 4", a.ndim);
    if (b.ndim < 2)
        return recur_shape_fail(g, n, "b has rank %d, matmul needs operands of rank 2 to 4", b.ndim);
    if (b.ndim != 2 && b.ndim != a.ndim)
        return recur_shape_fail(g, n, "ranks do not fit: a has rank %d and b rank %d (b must be 2-D or of a's rank)",
                                a.ndim, b.ndim);
    if (b.ndim == 2 && a.ndim > 2 && ta)
        return recur_shape_fail(g, n, "trans_a must be 0 when a of rank %d is multiplied by a 2-D b "
                                      "(a's leading dimensions are rows)", a.ndim);
    if (b.ndim > 2) {
        recur_shape la = {a.ndim - 2, {0}}, lb = {b.ndim - 2, {0}};
        for (int i = 0; i < a.ndim - 2; i++) la.d[i] = a.d[i], lb.d[i] = b.d[i];
        if (!recur_shape_equal(la, lb))
            return recur_shape_fail(g, n, "batch dimensions differ: %s (a) vs %s (b)",
                                    recur_shape_str(la, sa, sizeof sa), recur_shape_str(lb, sb, sizeof sb));
    }
    mm_geom q = geometry(a, b, ta, tb);
    if (q.k != q.kb)
        return recur_shape_fail(g, n, "inner dimensions differ: %lld (a, trans_a=%d) vs %lld (b, trans_b=%d)",
                                (long long)q.k, ta, (long long)q.kb, tb);
    /* a's leading dimensions, then op(a)'s rows (unless a supplies rows) and op(b)'s columns */
    recur_shape y = a;
    if (b.ndim == 2 && a.ndim > 2) {
        y.d[a.ndim - 1] = q.n;
    } else {
        y.d[a.ndim - 2] = q.m;
        y.d[a.ndim - 1] = q.n;
    }
    return recur_shape_set(g, n, "the result", y); /* [2^40, 1] x [1, 2^40] fits no value */
}

/*
 * y[p][i][j] = sum_l op(a)[p][i][l] op(b)[p][l][j], where
 *   op(a)[i][l] = a[i][l] (or a[l][i] if trans_a),  op(b)[l][j] = b[l][j] (or b[j][l] if trans_b);
 * each sum is taken in double, l = 0, 1, .., k - 1 in order.
 *
 * The sums are made a tile of MM_TI x MM_TJ results at a time, walking l
 * once per tile: each a and b element read then serves a whole row or
 * column of the tile, so the cost per product term stays the same however
 * long k grows (a weight gradient sums over every step of a sequence; one
 * result at a time walked a and b from memory with strides of a row). The
 * order of each sum, and so every result, is the one-at-a-time loop's.
 */
enum { MM_TI = 8, MM_TJ = 64 };

static recur_status matmul_forward(const recur_kernel_args *k)
{
    int ta = (int)k->node->attr.i[0], tb = (int)k->node->attr.i[1];
    mm_geom q = geometry(k->xs[0], k->xs[1], ta, tb);
    /* element strides of op(a) along (i, l) and of op(b) along (l, j) */
    int64_t ai = ta ? 1 : q.k, al = ta ? q.m : 1;
    int64_t bl = tb ? 1 : q.n, bj = tb ? q.k : 1;
    double acc[MM_TI][MM_TJ];
    for (int64_t p = 0; p < q.batch; p++) {
        const float *A = k->x[0] + p * q.a_step, *B = k->x[1] + p * q.b_step;
        float *Y = k->y + p * q.m * q.n;
        for (int64_t i0 = 0; i0 < q.m; i0 += MM_TI)
            for (int64_t j0 = 0; j0 < q.n; j0 += MM_TJ) {
                int64_t ni = q.m - i0 < MM_TI ? q.m - i0 : MM_TI, nj = q.n - j0 < MM_TJ ? q.n - j0 : MM_TJ;
                for (int64_t i = 0; i < ni; i++)
                    for (int64_t j = 0; j < nj; j++) acc[i][j] = 0;
                for (int64_t l = 0; l < q.k; l++)
                    for (int64_t i = 0; i < ni; i++) {
                        double a = (double)A[(i0 + i) * ai + l * al];
                        const float *b = B + l * bl + j0 * bj;
                        for (int64_t j = 0; j < nj; j++) acc[i][j] += a * (double)b[j * bj];
                    }
                for (int64_t i = 0; i < ni; i++)
                    for (int64_t j = 0; j < nj; j++) Y[(i0 + i) * q.n + j0 + j] = (float)acc[i][j];
            }
    }
    return RECUR_OK;
}

/*
 * For Y = op(A) . op(B): d op(A) = dY . op(B)^T and d op(B) = op(A)^T . dY,
 * written with the flags (no transpose nodes):
 *   dA = dY . op(B)^T     = matmul(dY, B, 0, !tb)   if !ta
 *   dA = op(B) . dY^T     = matmul(B, dY, tb, 1)    if ta
 *   dB = op(A)^T . dY     = matmul(A, dY, !ta, 0)   if !tb
 *   dB = dY^T . op(A)     = matmul(dY, A, 1, ta)    if tb
 * The batched form applies these per batch entry (the same calls). In the
 * rows form B is shared by every row, so dB sums over all of them: A and dY
 * are reshaped to [R, K] and [R, N] (R = the rows) and dB is one matmul of
 * those, one large product rather than one per step.
 */
/*
 * y = matmul(a, b) + bias: the product as matmul_forward computes it, then
 * y[r, j] += bias[j] for every row r, the float additions the add op makes
 * (so the result is bitwise that of the two kernels).
 */
recur_status recur_matmul_bias_forward(const recur_kernel_args *k)
{
    recur_kernel_args m = *k;
    m.node = k->inner;
    m.n_in = 2;
    m.inner = NULL;
    recur_status st = matmul_forward(&m);
    if (st != RECUR_OK) return st;
    int64_t n = recur_shape_numel(k->xs[2]), rows = recur_shape_numel(k->node->shape) / n;
    const float *bias = k->x[2];
    for (int64_t r = 0; r < rows; r++) {
        float *y = k->y + r * n;
        for (int64_t j = 0; j < n; j++) y[j] = y[j] + bias[j];
    }
    return RECUR_OK;
}

static recur_status matmul_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    const recur_node *n = &g->nodes[y.id];
    int ta = (int)n->attr.i[0], tb = (int)n->attr.i[1];
    recur_value a = {n->in[0]}, b = {n->in[1]};
    recur_shape as = g->nodes[a.id].shape, bs = g->nodes[b.id].shape, ys = n->shape;
    int rows = as.ndim > 2 && bs.ndim == 2;
    /* n may move once builders append nodes: everything it held is copied above. */
    if (needs[0]) dx[0] = ta ? recur_matmul(g, b, dy, tb, 1) : recur_matmul(g, dy, b, 0, !tb);
    if (needs[1]) {
        recur_value a2 = a, dy2 = dy;
        if (rows) {
            int64_t r = recur_shape_numel(as) / as.d[as.ndim - 1];
            a2 = recur_reshape(g, a, recur_shape2(r, as.d[as.ndim - 1]));
            dy2 = recur_reshape(g, dy, recur_shape2(r, ys.d[ys.ndim - 1]));
        }
        dx[1] = tb ? recur_matmul(g, dy2, a2, 1, ta) : recur_matmul(g, a2, dy2, !ta, 0);
    }
    for (int i = 0; i < 2; i++)
        if (needs[i] && !recur_ok(dx[i])) return recur_built(g, dx[i]);
    return RECUR_OK;
}

/* "transa=1 transb=1", naming only the flags that are set. */
static void matmul_attrs(const recur_node *n, char *buf, size_t len)
{
    int ta = (int)n->attr.i[0], tb = (int)n->attr.i[1];
    snprintf(buf, len, "%s%s%s", ta ? "transa=1" : "", ta && tb ? " " : "", tb ? "transb=1" : "");
}

recur_value recur_matmul(recur_graph *g, recur_value a, recur_value b, int trans_a, int trans_b)
{
    recur_value in[2] = {a, b};
    recur_attr attr = {.i = {trans_a != 0, trans_b != 0}};
    return recur_node_add(g, RECUR_OP_MATMUL, 2, in, &attr);
}

RECUR_OP_DEF(matmul, .min_in = 2, .max_in = 2, .shape = matmul_shape,
                                       .forward = matmul_forward, .grad = matmul_grad, .attrs = matmul_attrs);
