/*
 * ops/index.c — ops that read integer indices: gather (embedding lookup),
 * its gradient scatter_add, and one_hot.
 *
 * Indices are float32 tensors holding whole numbers (recur/ops.h). The
 * kernels check every index at run time and fail with RECUR_ERR_RUNTIME
 * naming the bad value and its (flat) position; the executor adds the
 * node's name. No gradient flows to indices: they are data, not weights.
 *
 * Inputs and attributes:
 *   gather:      table [V, D], indices S            -> S + [D]
 *                i[0] = 1: the table's columns, table [D, V] -> S + [D]
 *                (what passes/one_hot.c makes of x W^T with x one-hot)
 *   scatter_add: indices S, dy S + [D]; i[0] = rows -> [rows, D]
 *   one_hot:     indices S; i[0] = depth            -> S + [depth]
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/op.h"
#include "ops/parallel.h"

static recur_value operand(const recur_graph *g, recur_value y, int i)
{
    return (recur_value){g->nodes[y.id].in[i]};
}

/* The integer value of index v, or -1 if v is not a whole number in [0, count). */
static int64_t index_of(float v, int64_t count)
{
    if (!(v >= 0 && (double)v < (double)count && v == floorf(v))) return -1;
    return (int64_t)v;
}

static recur_status bad_index(const recur_kernel_args *a, float v, int64_t pos, int64_t count, const char *what)
{
    return recur_kernel_fail(a, "index %g at position %lld is not %s (a whole number in [0, %lld))", (double)v,
                             (long long)pos, what, (long long)count);
}

/* S + [last] as a shape, or a failure of node n when S has rank RECUR_MAX_DIMS already or S + [last] is too large. */
static recur_status append_dim(recur_graph *g, recur_node *n, recur_shape s, int64_t last, const char *what)
{
    if (s.ndim >= RECUR_MAX_DIMS)
        return recur_shape_fail(g, n, "indices of rank %d would make a result of rank %d (at most %d) with %s",
                                s.ndim, s.ndim + 1, RECUR_MAX_DIMS, what);
    s.d[s.ndim++] = last;
    return recur_shape_set(g, n, "the result", s);
}

/* ----------------------------------------------------------------- gather */

static recur_status gather_shape(recur_graph *g, recur_node *n)
{
    recur_shape t = recur_in_shape(g, n, 0);
    int cols = n->attr.i[0] != 0;
    if (t.ndim != 2)
        return recur_shape_fail(g, n, cols ? "the table must be a matrix [D, columns]" : "the table must be a matrix [rows, D]");
    const char *what = cols ? "the table's column" : "the table's row";
    return append_dim(g, n, recur_in_shape(g, n, 1), t.d[cols ? 0 : 1], what);
}

/* Rows [lo, hi) of a gather from a table of rows (indices checked), on recur's pool. */
typedef struct gather_job {
    const float *table, *idx;
    float *y;
    int64_t V, D;
} gather_job;

static void gather_rows(void *ctx, int64_t lo, int64_t hi, int part)
{
    const gather_job *j = ctx;
    (void)part;
    for (int64_t s = lo; s < hi; s++)
        memcpy(j->y + s * j->D, j->table + index_of(j->idx[s], j->V) * j->D, sizeof(float) * (size_t)j->D);
}

/* Positions past which a column gather transposes its table first (each row then one copy). */
#define GATHER_TRANSPOSE_ROWS 8

/*
 * y[s, :] = table[idx[s], :] for every position s of the indices; of the
 * columns (i[0] = 1): y[s, d] = table[d, idx[s]], read down the column for
 * a few positions (one-hot generation at B = 1), else from a transposed
 * copy of the table in the workspace. Every index is checked first.
 */
static recur_status gather_forward(const recur_kernel_args *a) { return recur_gather_forward_from(a, NULL); }

void recur_gather_table_rows(const float *table, int64_t D, int64_t V, float *rows)
{
    for (int64_t d = 0; d < D; d++)
        for (int64_t v = 0; v < V; v++) rows[v * D + d] = table[d * V + v];
}

recur_status recur_gather_forward_from(const recur_kernel_args *a, const float *rows)
{
    int cols = a->node->attr.i[0] != 0;
    int64_t V = a->xs[0].d[cols ? 1 : 0], D = a->xs[0].d[cols ? 0 : 1], n = recur_shape_numel(a->xs[1]);
    const float *idx = a->x[1], *table = a->x[0];
    for (int64_t s = 0; s < n; s++)
        if (index_of(idx[s], V) < 0) return bad_index(a, idx[s], s, V, cols ? "a column of the table" : "a row of the table");
    if (cols && rows) { /* the table's transposed copy, given */
        table = rows;
        cols = 0;
    }
    if (cols && n <= GATHER_TRANSPOSE_ROWS) {
        for (int64_t s = 0; s < n; s++) {
            int64_t c = index_of(idx[s], V);
            for (int64_t d = 0; d < D; d++) a->y[s * D + d] = table[d * V + c];
        }
        return RECUR_OK;
    }
    if (cols) { /* the table [D, V] as rows [V, D] */
        recur_gather_table_rows(table, D, V, a->work);
        table = a->work;
    }
    gather_job j = {table, idx, a->y, V, D};
    recur_parallel_range(n, n * D, gather_rows, &j);
    return RECUR_OK;
}

/* A column gather's transposed table. */
static size_t gather_workspace(const recur_graph *g, const recur_node *n)
{
    return n->attr.i[0] ? sizeof(float) * (size_t)recur_shape_numel(g->nodes[n->in[0]].shape) : 0;
}

/*
 * d gather(W, idx) / dW = scatter_add(idx, dy, V): row r of dW is the sum
 * of the dy rows of the positions that read row r; of the columns, its
 * transpose. The indices get none.
 */
static recur_status gather_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    if (!needs[0]) return RECUR_OK;
    recur_value table = operand(g, y, 0), idx = operand(g, y, 1);
    int cols = g->nodes[y.id].attr.i[0] != 0;
    dx[0] = recur_scatter_add(g, idx, dy, g->nodes[table.id].shape.d[cols ? 1 : 0]);
    if (cols) dx[0] = recur_transpose2(g, dx[0]);
    return recur_built(g, dx[0]);
}

static void gather_attrs(const recur_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "%s", n->attr.i[0] ? "columns" : "");
}

recur_value recur_gather(recur_graph *g, recur_value table, recur_value indices)
{
    return recur_binary(g, RECUR_OP_GATHER, table, indices);
}

RECUR_OP_DEF(gather, .min_in = 2, .max_in = 2, .shape = gather_shape,
                                       .forward = gather_forward, .grad = gather_grad,
                                       .workspace = gather_workspace, .attrs = gather_attrs);

/* ------------------------------------------------------------ scatter_add */

static recur_status scatter_add_shape(recur_graph *g, recur_node *n)
{
    recur_shape s = recur_in_shape(g, n, 0), d = recur_in_shape(g, n, 1);
    int64_t rows = n->attr.i[0];
    if (rows < 1) return recur_shape_fail(g, n, "rows = %lld, must be >= 1", (long long)rows);
    recur_shape lead = d;
    lead.ndim = d.ndim - 1;
    if (d.ndim < 1 || !recur_shape_equal(lead, s))
        return recur_shape_fail(g, n, "dy must have the indices' shape plus a last dimension");
    return recur_shape_set(g, n, "the result", recur_shape2(rows, d.d[d.ndim - 1]));
}

/* The sums are taken in double (a common index may collect many rows). */
static size_t scatter_add_workspace(const recur_graph *g, const recur_node *n)
{
    (void)g;
    return sizeof(double) * (size_t)recur_shape_numel(n->shape);
}

/* y[r, :] = sum of dy[s, :] over the positions s with idx[s] = r */
static recur_status scatter_add_forward(const recur_kernel_args *a)
{
    int64_t rows = a->node->shape.d[0], D = a->node->shape.d[1], n = recur_shape_numel(a->xs[0]);
    const float *idx = a->x[0], *dy = a->x[1];
    double *acc = (double *)a->work;
    memset(acc, 0, sizeof(double) * (size_t)(rows * D));
    for (int64_t s = 0; s < n; s++) {
        int64_t r = index_of(idx[s], rows);
        if (r < 0) return bad_index(a, idx[s], s, rows, "a row of the result");
        for (int64_t j = 0; j < D; j++) acc[r * D + j] += dy[s * D + j];
    }
    for (int64_t i = 0; i < rows * D; i++) a->y[i] = (float)acc[i];
    return RECUR_OK;
}

/*
 * scatter_add is linear in dy, with the transposed map a gather:
 * d/d(dy) = gather(G, idx) for the upstream gradient G [rows, D]. The
 * indices get none.
 */
static recur_status scatter_add_grad(recur_graph *g, recur_value y, recur_value gy, const int *needs,
                                     recur_value *dx)
{
    if (!needs[1]) return RECUR_OK;
    dx[1] = recur_gather(g, gy, operand(g, y, 0));
    return recur_built(g, dx[1]);
}

static void rows_attrs(const recur_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "rows=%lld", (long long)n->attr.i[0]);
}

recur_value recur_scatter_add(recur_graph *g, recur_value indices, recur_value dy, int64_t rows)
{
    recur_value in[2] = {indices, dy};
    recur_attr attr = {.i = {rows}};
    return recur_node_add(g, RECUR_OP_SCATTER_ADD, 2, in, &attr);
}

RECUR_OP_DEF(scatter_add, .min_in = 2, .max_in = 2,
                                            .shape = scatter_add_shape, .forward = scatter_add_forward,
                                            .grad = scatter_add_grad, .workspace = scatter_add_workspace,
                                            .attrs = rows_attrs);

/* ---------------------------------------------------------------- one_hot */

static recur_status one_hot_shape(recur_graph *g, recur_node *n)
{
    int64_t depth = n->attr.i[0];
    if (depth < 1) return recur_shape_fail(g, n, "depth = %lld, must be >= 1", (long long)depth);
    return append_dim(g, n, recur_in_shape(g, n, 0), depth, "the depth");
}

/* y[s, c] = 1 if c = idx[s] else 0 */
static recur_status one_hot_forward(const recur_kernel_args *a)
{
    int64_t depth = a->node->attr.i[0], n = recur_shape_numel(a->xs[0]);
    const float *idx = a->x[0];
    memset(a->y, 0, sizeof(float) * (size_t)(n * depth));
    for (int64_t s = 0; s < n; s++) {
        int64_t c = index_of(idx[s], depth);
        if (c < 0) return bad_index(a, idx[s], s, depth, "within the depth");
        a->y[s * depth + c] = 1.0f;
    }
    return RECUR_OK;
}

/* The result is piecewise constant in the (integer) indices: no gradient flows, dx stays RECUR_NONE. */
static recur_status one_hot_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)g, (void)y, (void)dy, (void)needs, (void)dx;
    return RECUR_OK;
}

static void depth_attrs(const recur_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "depth=%lld", (long long)n->attr.i[0]);
}

recur_value recur_one_hot(recur_graph *g, recur_value indices, int64_t depth)
{
    recur_attr attr = {.i = {depth}};
    return recur_unary(g, RECUR_OP_ONE_HOT, indices, &attr);
}

RECUR_OP_DEF(one_hot, .min_in = 1, .max_in = 1, .shape = one_hot_shape,
                                        .forward = one_hot_forward, .grad = one_hot_grad, .attrs = depth_attrs);
