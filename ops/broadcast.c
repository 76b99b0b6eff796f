/*
 * ops/broadcast.c — NumPy broadcasting: the shape rule the binary ops
 * share, broadcast_to, its inverse sum_to, and the strided index walk the
 * kernels use.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/broadcast.h"
#include "ops/pointwise.h"
#include "ops/parallel.h"

/* The most columns a thread sums at a time (their double accumulators stay in L1). */
#define MAX_COLUMNS 4096

/* A shape padded on the left with 1s to RECUR_MAX_DIMS dimensions. */
static void pad4(recur_shape s, int64_t d[RECUR_MAX_DIMS])
{
    int off = RECUR_MAX_DIMS - s.ndim;
    for (int i = 0; i < RECUR_MAX_DIMS; i++) d[i] = i < off ? 1 : s.d[i - off];
}

int recur_broadcast_shape(recur_shape a, recur_shape b, recur_shape *out)
{
    int64_t da[RECUR_MAX_DIMS], db[RECUR_MAX_DIMS];
    if (a.ndim < 0 || a.ndim > RECUR_MAX_DIMS || b.ndim < 0 || b.ndim > RECUR_MAX_DIMS) return 0;
    pad4(a, da);
    pad4(b, db);
    out->ndim = a.ndim > b.ndim ? a.ndim : b.ndim;
    int off = RECUR_MAX_DIMS - out->ndim;
    for (int i = 0; i < RECUR_MAX_DIMS; i++) {
        if (da[i] != db[i] && da[i] != 1 && db[i] != 1) return 0;
        if (i >= off) out->d[i - off] = da[i] > db[i] ? da[i] : db[i];
    }
    for (int i = out->ndim; i < RECUR_MAX_DIMS; i++) out->d[i] = 0;
    return 1;
}

void recur_bcast_init(recur_bcast *it, recur_shape out, recur_shape in)
{
    int64_t din[RECUR_MAX_DIMS], st[RECUR_MAX_DIMS];
    pad4(out, it->d);
    pad4(in, din);
    /* Row-major strides of the padded input; a broadcast (size-1) dimension gets stride 0. */
    int64_t acc = 1;
    for (int i = RECUR_MAX_DIMS - 1; i >= 0; i--) {
        st[i] = acc;
        acc *= din[i];
    }
    for (int i = 0; i < RECUR_MAX_DIMS; i++) it->st[i] = (din[i] == 1 && it->d[i] != 1) ? 0 : st[i];
}

int64_t recur_bcast_period(recur_shape out, recur_shape in)
{
    int lead = 0;
    while (lead < in.ndim && in.d[lead] == 1) lead++;
    int k = in.ndim - lead; /* in's dimensions that matter */
    if (k > out.ndim) return 0;
    for (int i = 0; i < k; i++)
        if (in.d[lead + i] != out.d[out.ndim - k + i]) return 0;
    return recur_shape_numel(in);
}

int64_t recur_bcast_stretch(recur_shape out, recur_shape in, int64_t *stretch)
{
    int lead = 0, trail = 0;
    while (lead < in.ndim && in.d[lead] == 1) lead++;
    while (trail < in.ndim - lead && in.d[in.ndim - 1 - trail] == 1) trail++;
    int k = in.ndim - lead; /* in's dimensions that matter, the last `trail` of them 1s */
    if (k > out.ndim) return 0;
    *stretch = 1;
    for (int i = 0; i < trail; i++) *stretch *= out.d[out.ndim - 1 - i];
    for (int i = 0; i < k - trail; i++)
        if (in.d[lead + i] != out.d[out.ndim - k + i]) return 0;
    return recur_shape_numel(in);
}

int64_t recur_bcast_offset(const recur_bcast *it, int64_t flat)
{
    int64_t off = 0;
    for (int i = RECUR_MAX_DIMS - 1; i >= 0; i--) {
        int64_t idx = flat % it->d[i];
        flat /= it->d[i];
        off += idx * it->st[i];
    }
    return off;
}

/* ----------------------------------------------------------- broadcast_to */

/* y = x repeated along broadcast dimensions; target shape in attr.target. */
static recur_status broadcast_to_shape(recur_graph *g, recur_node *n)
{
    recur_shape x = recur_in_shape(g, n, 0), out;
    recur_status st = recur_shape_set(g, n, "the requested shape", n->attr.target);
    if (st != RECUR_OK) return st;
    if (!recur_broadcast_shape(x, n->attr.target, &out) || !recur_shape_equal(out, n->attr.target)) {
        char t[64];
        return recur_shape_fail(g, n, "cannot broadcast to %s", recur_shape_str(n->attr.target, t, sizeof t));
    }
    n->shape = out;
    return RECUR_OK;
}

typedef struct repeat_job {
    const float *x;
    float *y;
    int64_t period;
} repeat_job;

/* Rows [lo, hi) of a broadcast by whole repeats: each a copy of x. */
static void repeat_range(void *ctx, int64_t lo, int64_t hi, int part)
{
    const repeat_job *j = ctx;
    (void)part;
    for (int64_t r = lo; r < hi; r++) memcpy(j->y + r * j->period, j->x, sizeof(float) * (size_t)j->period);
}

static recur_status broadcast_to_forward(const recur_kernel_args *a)
{
    int64_t n = recur_shape_numel(a->node->shape), period = recur_bcast_period(a->node->shape, a->xs[0]);
    if (period >= 16) { /* whole repeats: y[r, j] = x[j], one copy of x per row r */
        repeat_job j = {.x = a->x[0], .y = a->y, .period = period};
        recur_parallel_range(n / period, n, repeat_range, &j);
        return RECUR_OK;
    }
    if (period == 1) { /* a scalar: a fill the compiler vectorizes */
        float v = a->x[0][0];
        for (int64_t i = 0; i < n; i++) a->y[i] = v;
        return RECUR_OK;
    }
    if (period > 0) { /* short repeats: y_i = x_{i mod period} */
        for (int64_t i = 0, j = 0; i < n; i++) {
            a->y[i] = a->x[0][j];
            if (++j == period) j = 0;
        }
        return RECUR_OK;
    }
    recur_bcast it;
    recur_bcast_init(&it, a->node->shape, a->xs[0]);
    for (int64_t i = 0; i < n; i++) a->y[i] = a->x[0][recur_bcast_offset(&it, i)];
    return RECUR_OK;
}

/* d/dx broadcast_to(x) . dy = sum_to(dy, shape(x)) */
static recur_status broadcast_to_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    recur_value x = {g->nodes[y.id].in[0]};
    dx[0] = recur_sum_to(g, dy, g->nodes[x.id].shape);
    return recur_built(g, dx[0]);
}

recur_value recur_broadcast_to(recur_graph *g, recur_value x, recur_shape shape)
{
    recur_node *n = recur_operand(g, x, "broadcast_to");
    if (!n) return RECUR_NONE;
    if (recur_shape_equal(n->shape, shape)) return x;
    recur_attr attr = {.target = shape};
    return recur_unary(g, RECUR_OP_BROADCAST_TO, x, &attr);
}

/* ----------------------------------------------------------------- sum_to */

/* y = sum of x over the dimensions that broadcasting from attr.target expanded. */
static recur_status sum_to_shape(recur_graph *g, recur_node *n)
{
    recur_shape x = recur_in_shape(g, n, 0), out;
    recur_status st = recur_shape_set(g, n, "the requested shape", n->attr.target);
    if (st != RECUR_OK) return st;
    if (!recur_broadcast_shape(n->attr.target, x, &out) || !recur_shape_equal(out, x)) {
        char t[64];
        return recur_shape_fail(g, n, "cannot sum down to %s (it must broadcast to the operand's shape)",
                                recur_shape_str(n->attr.target, t, sizeof t));
    }
    n->shape = n->attr.target;
    return RECUR_OK;
}

/* Accumulates in double (workspace) so long sums keep float precision. */
static size_t sum_to_workspace(const recur_graph *g, const recur_node *n)
{
    (void)g;
    return sizeof(double) * (size_t)recur_shape_numel(n->shape);
}

typedef struct rows_job {
    const float *x;
    int64_t R, C, width; /* x is [R, C]; columns per block */
    double *acc;
    float *y;
} rows_job;

/* Column blocks [lo, hi) of a row sum (see sum_rows). */
static void sum_rows_range(void *ctx, int64_t lo, int64_t hi, int part)
{
    const rows_job *j = ctx;
    (void)part;
    for (int64_t b = lo; b < hi; b++) {
        int64_t c0 = b * j->width, len = j->C - c0 < j->width ? j->C - c0 : j->width;
        double *s = j->acc + c0;
        for (int64_t c = 0; c < len; c++) s[c] = 0;
        recur_sum_rows_loop(j->x + c0, j->R, j->C, len, s);
        for (int64_t c = 0; c < len; c++) j->y[c0 + c] = (float)s[c];
    }
}

/*
 * Summing whole rows (a bias gradient): x is [R, C], y_j = sum_r x[r, j],
 * accumulated in double row after row, r = 0 .. R-1, the same order for
 * every column. The columns are cut into one contiguous block per thread
 * (at most MAX_COLUMNS, so the accumulators stay in cache), and each
 * thread streams the rows through its block (acc[j] += x[r, j] vectorizes
 * over j). The sums, and so the results, do not depend on the threads.
 */
static void sum_rows(const float *x, int64_t R, int64_t C, double *acc, float *y)
{
    int parts = recur_parallel_parts((C + 15) / 16, R * C);
    int64_t width = (C + parts - 1) / parts;
    width = (width + 15) / 16 * 16;
    if (width > MAX_COLUMNS) width = MAX_COLUMNS;
    rows_job j = {.x = x, .R = R, .C = C, .width = width, .acc = acc, .y = y};
    recur_parallel_range((C + width - 1) / width, R * C, sum_rows_range, &j);
}

static recur_status sum_to_forward(const recur_kernel_args *a)
{
    int64_t ny = recur_shape_numel(a->node->shape), nx = recur_shape_numel(a->xs[0]);
    double *acc = (double *)a->work;
    int64_t period = recur_bcast_period(a->xs[0], a->node->shape);
    if (period > 0) {
        sum_rows(a->x[0], nx / period, period, acc, a->y);
        return RECUR_OK;
    }
    memset(acc, 0, sizeof(double) * (size_t)ny);
    recur_bcast it;
    recur_bcast_init(&it, a->xs[0], a->node->shape);
    for (int64_t i = 0; i < nx; i++) acc[recur_bcast_offset(&it, i)] += a->x[0][i];
    for (int64_t i = 0; i < ny; i++) a->y[i] = (float)acc[i];
    return RECUR_OK;
}

/* d/dx sum_to(x) . dy = broadcast_to(dy, shape(x)) */
static recur_status sum_to_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    recur_value x = {g->nodes[y.id].in[0]};
    dx[0] = recur_broadcast_to(g, dy, g->nodes[x.id].shape);
    return recur_built(g, dx[0]);
}

recur_value recur_sum_to(recur_graph *g, recur_value x, recur_shape shape)
{
    recur_node *n = recur_operand(g, x, "sum_to");
    if (!n) return RECUR_NONE;
    if (recur_shape_equal(n->shape, shape)) return x;
    recur_attr attr = {.target = shape};
    return recur_unary(g, RECUR_OP_SUM_TO, x, &attr);
}

static void target_attrs(const recur_node *n, char *buf, size_t len)
{
    char t[64];
    snprintf(buf, len, "to=%s", recur_shape_str(n->attr.target, t, sizeof t));
}

RECUR_OP_DEF(broadcast_to, .min_in = 1, .max_in = 1,
                                             .shape = broadcast_to_shape, .forward = broadcast_to_forward,
                                             .grad = broadcast_to_grad, .attrs = target_attrs);
RECUR_OP_DEF(sum_to, .min_in = 1, .max_in = 1, .shape = sum_to_shape,
                                       .forward = sum_to_forward, .grad = sum_to_grad,
                                       .workspace = sum_to_workspace, .attrs = target_attrs);

/* --------------------------------------------------------- stop_gradient */

static recur_status identity_forward(const recur_kernel_args *a)
{
    memcpy(a->y, a->x[0], sizeof(float) * (size_t)recur_shape_numel(a->node->shape));
    return RECUR_OK;
}

/* No gradient flows through: dx stays RECUR_NONE (zero). */
static recur_status stop_gradient_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs,
                                       recur_value *dx)
{
    (void)g, (void)y, (void)dy, (void)needs, (void)dx;
    return RECUR_OK;
}

recur_value recur_stop_gradient(recur_graph *g, recur_value x)
{
    return recur_unary(g, RECUR_OP_STOP_GRADIENT, x, NULL);
}

RECUR_OP_DEF(stop_gradient, .min_in = 1, .max_in = 1,
             .shape = recur_shape_same_as_first, .forward = identity_forward, .grad = stop_gradient_grad,
             .view_offset = recur_view_whole);
