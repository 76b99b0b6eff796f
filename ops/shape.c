/*
 * ops/shape.c — ops that cut and join tensors along one axis: concat,
 * slice (and split, n slices), stack (a new axis), take (one index of an
 * axis, removing it; select_step is take along axis 0) and pad_axis (the
 * gradient of slice).
 *
 * Attributes (the axis is stored normalised, in [0, rank)):
 *   concat:   i[0] = axis
 *   slice:    i[0] = axis, i[1] = start, i[2] = len
 *   stack:    i[0] = axis (of the result)
 *   take:     i[0] = axis, i[1] = index
 *   pad_axis: i[0] = axis, i[1] = start, i[2] = total
 *
 * Every kernel sees its tensors as [outer, axis, inner] blocks: outer is
 * the product of the dimensions before the axis, inner of those after it,
 * so one step along the axis moves `inner` floats and an outer block holds
 * axis * inner floats. The kernels copy runs of whole blocks.
 */
#include <string.h>

#include "ops/op.h"
#include "ops/parallel.h"

/* The products of the dimensions of s before and after `axis`. */
static void blocks(recur_shape s, int axis, int64_t *outer, int64_t *inner)
{
    *outer = *inner = 1;
    for (int i = 0; i < axis; i++) *outer *= s.d[i];
    for (int i = axis + 1; i < s.ndim; i++) *inner *= s.d[i];
}

typedef struct copy_job {
    float *dst;
    const float *src;
    int64_t dst_step, src_step, count;
} copy_job;

static void copy_range(void *ctx, int64_t lo, int64_t hi, int part)
{
    const copy_job *j = ctx;
    (void)part;
    for (int64_t o = lo; o < hi; o++)
        memcpy(j->dst + o * j->dst_step, j->src + o * j->src_step, sizeof(float) * (size_t)j->count);
}

/*
 * For o < outer: copies `count` floats from src + o * src_step to
 * dst + o * dst_step; the blocks spread over the threads when there are
 * many floats to move.
 */
static void copy_blocks(float *dst, int64_t dst_step, const float *src, int64_t src_step, int64_t outer,
                        int64_t count)
{
    copy_job j = {.dst = dst, .src = src, .dst_step = dst_step, .src_step = src_step, .count = count};
    recur_parallel_range(outer, outer * count, copy_range, &j);
}

/*
 * Normalises `axis` (negative counts from the end) for a value of rank
 * `ndim` in op `opname`; -1 with a RECUR_ERR_ARG naming the op and x if it
 * is out of range.
 */
static int axis_arg(recur_graph *g, const char *opname, recur_value x, int axis, int ndim)
{
    int ax = recur_axis(axis, ndim);
    if (ax < 0) {
        char shp[64], valid[48] = "it has no axes";
        if (ndim > 0) snprintf(valid, sizeof valid, "valid axes are %d..%d", -ndim, ndim - 1);
        recur_set_error(g, RECUR_ERR_ARG, "op %s: axis %d is out of range for \"%s\" %s (%s)", opname, axis,
                        recur_node_name(g, x.id), recur_shape_str(g->nodes[x.id].shape, shp, sizeof shp), valid);
    }
    return ax;
}

/* Checks that xs[0..n-1] (n >= 1, xs not NULL) are usable operands of op `opname`. */
static int operands(recur_graph *g, const char *opname, int n, const recur_value *xs)
{
    if (!g) return 0;
    if (n < 1 || !xs) {
        recur_set_error(g, RECUR_ERR_ARG, "op %s: needs at least one value (n = %d%s)", opname, n,
                        xs ? "" : ", xs is NULL");
        return 0;
    }
    for (int i = 0; i < n; i++)
        if (!recur_operand(g, xs[i], opname)) return 0;
    return 1;
}

static recur_value operand(const recur_graph *g, recur_value y, int i)
{
    return (recur_value){g->nodes[y.id].in[i]};
}

static void axis_attrs(const recur_node *n, char *buf, size_t len) { snprintf(buf, len, "axis=%d", (int)n->attr.i[0]); }

/* ----------------------------------------------------------------- concat */

/* Inputs of one rank >= 1, equal outside the axis; the result's axis is the sum of theirs. */
static recur_status concat_shape(recur_graph *g, recur_node *n)
{
    recur_shape s = recur_in_shape(g, n, 0);
    int ax = (int)n->attr.i[0];
    if (ax < 0 || ax >= s.ndim) return recur_shape_fail(g, n, "axis %d is out of range for rank %d", ax, s.ndim);
    int64_t total = 0;
    for (int k = 0; k < n->n_in; k++) {
        recur_shape x = recur_in_shape(g, n, k);
        int same = x.ndim == s.ndim;
        for (int i = 0; same && i < s.ndim; i++) same = i == ax || x.d[i] == s.d[i];
        if (!same)
            return recur_shape_fail(g, n, "input %d does not match input 0 outside axis %d (same rank, same "
                                          "dimensions except along the axis)", k, ax);
        total = total > RECUR_MAX_NUMEL ? total : total + x.d[ax]; /* each term <= 2^40: no overflow */
    }
    s.d[ax] = total;
    return recur_shape_set(g, n, "the result", s);
}

typedef struct concat_job {
    const recur_kernel_args *a;
    int ax;
    int64_t outer, inner, ylen; /* ylen: the output's length along the axis */
} concat_job;

/* Copies items [lo, hi) of the n_in * outer blocks, item i = (input i / outer, outer index i % outer). */
static void concat_range(void *ctx, int64_t lo, int64_t hi, int part)
{
    const concat_job *j = ctx;
    (void)part;
    int k = (int)(lo / j->outer);
    int64_t off = 0;
    for (int q = 0; q < k; q++) off += j->a->xs[q].d[j->ax];
    for (int64_t i = lo; i < hi; k++) { /* the items of input k in [lo, hi) */
        int64_t len = j->a->xs[k].d[j->ax], o0 = i - k * j->outer, o1 = hi - k * j->outer;
        if (o1 > j->outer) o1 = j->outer;
        for (int64_t o = o0; o < o1; o++)
            memcpy(j->a->y + (o * j->ylen + off) * j->inner, j->a->x[k] + o * len * j->inner,
                   sizeof(float) * (size_t)(len * j->inner));
        i += o1 - o0;
        off += len;
    }
}

/*
 * y[o, off_k + j, i] = x_k[o, j, i] for j < len_k, off_k = len_0 + ... + len_{k-1}:
 * n_in * outer block copies, spread over the threads when large.
 */
static recur_status concat_forward(const recur_kernel_args *a)
{
    concat_job j = {.a = a, .ax = (int)a->node->attr.i[0]};
    blocks(a->node->shape, j.ax, &j.outer, &j.inner);
    j.ylen = a->node->shape.d[j.ax];
    int64_t n = recur_shape_numel(a->node->shape);
    if (n > 0) recur_parallel_range(a->n_in * j.outer, n, concat_range, &j);
    return RECUR_OK;
}

/* d concat: dx_k = slice(dy, axis, off_k, len_k), the part of dy that x_k filled */
static recur_status concat_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    int ax = (int)g->nodes[y.id].attr.i[0], n_in = g->nodes[y.id].n_in;
    int64_t off = 0;
    for (int k = 0; k < n_in; k++) {
        /* Builders append nodes and may move the node array: read it afresh. */
        int64_t len = g->nodes[operand(g, y, k).id].shape.d[ax];
        if (needs[k]) {
            dx[k] = recur_slice(g, dy, ax, off, len);
            if (!recur_ok(dx[k])) return recur_built(g, dx[k]);
        }
        off += len;
    }
    return RECUR_OK;
}

recur_value recur_concat(recur_graph *g, int n, const recur_value *xs, int axis)
{
    if (!operands(g, "concat", n, xs)) return RECUR_NONE;
    int ax = axis_arg(g, "concat", xs[0], axis, g->nodes[xs[0].id].shape.ndim);
    if (ax < 0) return RECUR_NONE;
    if (n == 1) return xs[0];
    recur_attr attr = {.i = {ax}};
    return recur_node_add(g, RECUR_OP_CONCAT, n, xs, &attr);
}

RECUR_OP_DEF(concat, .min_in = 1, .max_in = -1, .shape = concat_shape,
                                       .forward = concat_forward, .grad = concat_grad, .attrs = axis_attrs);

/* ------------------------------------------------------------------ slice */

static recur_status slice_shape(recur_graph *g, recur_node *n)
{
    recur_shape x = recur_in_shape(g, n, 0);
    int ax = (int)n->attr.i[0];
    int64_t start = n->attr.i[1], len = n->attr.i[2];
    if (ax < 0 || ax >= x.ndim) return recur_shape_fail(g, n, "axis %d is out of range for rank %d", ax, x.ndim);
    if (len < 1)
        return recur_shape_fail(g, n, "the slice at start %lld has length %lld; a slice has length >= 1",
                                (long long)start, (long long)len);
    /* x.d[ax] >= 1 and len >= 1: x.d[ax] - len cannot overflow (start + len can: then the end is not printed) */
    if (start < 0 || start > x.d[ax] - len) {
        if (start > INT64_MAX - len)
            return recur_shape_fail(g, n, "the slice at start %lld of length %lld ends beyond any axis (axis %d has "
                                          "length %lld)", (long long)start, (long long)len, ax, (long long)x.d[ax]);
        return recur_shape_fail(g, n, "slice [%lld, %lld) of length %lld is not inside axis %d of length %lld",
                                (long long)start, (long long)(start + len), (long long)len, ax, (long long)x.d[ax]);
    }
    n->shape = x;
    n->shape.d[ax] = len;
    return RECUR_OK;
}

/* y[o, j, i] = x[o, start + j, i] for j < len */
static recur_status slice_forward(const recur_kernel_args *a)
{
    int ax = (int)a->node->attr.i[0];
    int64_t start = a->node->attr.i[1], len = a->node->attr.i[2], outer, inner;
    blocks(a->xs[0], ax, &outer, &inner);
    copy_blocks(a->y, len * inner, a->x[0] + start * inner, a->xs[0].d[ax] * inner, outer, len * inner);
    return RECUR_OK;
}

/* d slice: dx = pad_axis(dy, axis, start, D), zeros where x was cut away */
static recur_status slice_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    const recur_attr at = g->nodes[y.id].attr;
    int64_t total = g->nodes[operand(g, y, 0).id].shape.d[at.i[0]];
    dx[0] = recur_pad_axis(g, dy, (int)at.i[0], at.i[1], total);
    return recur_built(g, dx[0]);
}

static void slice_attrs(const recur_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "axis=%d start=%lld len=%lld", (int)n->attr.i[0], (long long)n->attr.i[1],
             (long long)n->attr.i[2]);
}

recur_value recur_slice(recur_graph *g, recur_value x, int axis, int64_t start, int64_t len)
{
    recur_node *n = recur_operand(g, x, "slice");
    if (!n) return RECUR_NONE;
    int ax = axis_arg(g, "slice", x, axis, n->shape.ndim);
    if (ax < 0) return RECUR_NONE;
    if (start == 0 && len == n->shape.d[ax]) return x;
    recur_attr attr = {.i = {ax, start, len}};
    return recur_unary(g, RECUR_OP_SLICE, x, &attr);
}

/*
 * take(x, axis, i) and slice(x, axis, i, len) read a contiguous block of x
 * when every dimension of x before the axis is 1 (select_step of a stacked
 * sequence, a block of rows): the view starts i * (floats after the axis)
 * floats into x. -1 otherwise.
 */
static int64_t leading_block(const recur_graph *g, const recur_node *n)
{
    recur_shape xs = g->nodes[n->in[0]].shape;
    int64_t axis = n->attr.i[0], inner = 1;
    for (int d = 0; d < axis; d++)
        if (xs.d[d] != 1) return -1;
    for (int d = (int)axis + 1; d < xs.ndim; d++) inner *= xs.d[d];
    return (int64_t)sizeof(float) * n->attr.i[1] * inner;
}

RECUR_OP_DEF(slice, .min_in = 1, .max_in = 1, .shape = slice_shape,
             .forward = slice_forward, .grad = slice_grad, .attrs = slice_attrs, .view_offset = leading_block);

/* ------------------------------------------------------------------ split */

/* n slices of length D / n; on failure the slices already made are removed again. */
recur_status recur_split(recur_graph *g, recur_value x, int axis, int n, recur_value *out)
{
    if (!g) return RECUR_ERR_ARG;
    if (n < 1 || !out)
        return recur_set_error(g, RECUR_ERR_ARG, "op split: needs n >= 1 parts and an array for them (n = %d%s)", n,
                               out ? "" : ", out is NULL");
    for (int i = 0; i < n; i++) out[i] = RECUR_NONE;
    recur_node *nx = recur_operand(g, x, "split");
    if (!nx) return g->error.code;
    recur_shape s = nx->shape;
    int ax = axis_arg(g, "split", x, axis, s.ndim);
    if (ax < 0) return g->error.code;
    if (s.d[ax] % n != 0) {
        char shp[64];
        return recur_set_error(g, RECUR_ERR_SHAPE,
                               "op split: axis %d of \"%s\" %s has length %lld, which does not divide into %d "
                               "equal parts",
                               ax, recur_node_name(g, x.id), recur_shape_str(s, shp, sizeof shp),
                               (long long)s.d[ax], n);
    }
    int64_t part = s.d[ax] / n;
    int n0 = g->n;
    for (int i = 0; i < n; i++) {
        out[i] = recur_slice(g, x, ax, i * part, part);
        if (!recur_ok(out[i])) {
            recur_status st = recur_built(g, out[i]);
            recur_graph_truncate(g, n0);
            for (int k = 0; k < n; k++) out[k] = RECUR_NONE;
            return st;
        }
    }
    return RECUR_OK;
}

/* ------------------------------------------------------------------ stack */

/* Inputs of one shape; the result has a new dimension n at the axis (rank + 1 <= RECUR_MAX_DIMS). */
static recur_status stack_shape(recur_graph *g, recur_node *n)
{
    recur_shape s = recur_in_shape(g, n, 0);
    int ax = (int)n->attr.i[0];
    if (s.ndim >= RECUR_MAX_DIMS)
        return recur_shape_fail(g, n, "stacking values of rank %d would make rank %d (at most %d)", s.ndim,
                                s.ndim + 1, RECUR_MAX_DIMS);
    if (ax < 0 || ax > s.ndim) return recur_shape_fail(g, n, "axis %d is out of range for rank %d", ax, s.ndim + 1);
    for (int k = 1; k < n->n_in; k++)
        if (!recur_shape_equal(recur_in_shape(g, n, k), s))
            return recur_shape_fail(g, n, "input %d differs from input 0 (stacked values must have one shape)", k);
    recur_shape y = {s.ndim + 1, {0}};
    for (int i = 0, j = 0; i < y.ndim; i++) y.d[i] = i == ax ? n->n_in : s.d[j++];
    return recur_shape_set(g, n, "the result", y);
}

/* y[o, k, i] = x_k[o, i] */
static recur_status stack_forward(const recur_kernel_args *a)
{
    int ax = (int)a->node->attr.i[0];
    int64_t outer, inner;
    blocks(a->node->shape, ax, &outer, &inner);
    for (int k = 0; k < a->n_in; k++) copy_blocks(a->y + k * inner, a->n_in * inner, a->x[k], inner, outer, inner);
    return RECUR_OK;
}

/* d stack: dx_k = take(dy, axis, k) */
static recur_status stack_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    int ax = (int)g->nodes[y.id].attr.i[0], n_in = g->nodes[y.id].n_in;
    for (int k = 0; k < n_in; k++)
        if (needs[k]) {
            dx[k] = recur_take(g, dy, ax, k);
            if (!recur_ok(dx[k])) return recur_built(g, dx[k]);
        }
    return RECUR_OK;
}

recur_value recur_stack(recur_graph *g, int n, const recur_value *xs, int axis)
{
    if (!operands(g, "stack", n, xs)) return RECUR_NONE;
    /* The axis is one of the result's, which has one more dimension. */
    int ax = axis_arg(g, "stack", xs[0], axis, g->nodes[xs[0].id].shape.ndim + 1);
    if (ax < 0) return RECUR_NONE;
    recur_attr attr = {.i = {ax}};
    return recur_node_add(g, RECUR_OP_STACK, n, xs, &attr);
}

RECUR_OP_DEF(stack, .min_in = 1, .max_in = -1, .shape = stack_shape,
                                      .forward = stack_forward, .grad = stack_grad, .attrs = axis_attrs);

/* ------------------------------------------------------------------- take */

static recur_status take_shape(recur_graph *g, recur_node *n)
{
    recur_shape x = recur_in_shape(g, n, 0);
    int ax = (int)n->attr.i[0];
    int64_t index = n->attr.i[1];
    if (ax < 0 || ax >= x.ndim) return recur_shape_fail(g, n, "axis %d is out of range for rank %d", ax, x.ndim);
    if (index < 0 || index >= x.d[ax])
        return recur_shape_fail(g, n, "index %lld is outside axis %d of length %lld", (long long)index, ax,
                                (long long)x.d[ax]);
    n->shape.ndim = x.ndim - 1;
    for (int i = 0, j = 0; i < x.ndim; i++)
        if (i != ax) n->shape.d[j++] = x.d[i];
    return RECUR_OK;
}

/* y[o, i] = x[o, index, i] */
static recur_status take_forward(const recur_kernel_args *a)
{
    int ax = (int)a->node->attr.i[0];
    int64_t outer, inner;
    blocks(a->xs[0], ax, &outer, &inner);
    copy_blocks(a->y, inner, a->x[0] + a->node->attr.i[1] * inner, a->xs[0].d[ax] * inner, outer, inner);
    return RECUR_OK;
}

/* d take: dx = pad_axis(dy with a size-1 axis put back, axis, index, D) */
static recur_status take_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    const recur_attr at = g->nodes[y.id].attr;
    int ax = (int)at.i[0];
    recur_shape one = g->nodes[operand(g, y, 0).id].shape;
    int64_t total = one.d[ax];
    one.d[ax] = 1;
    dx[0] = recur_pad_axis(g, recur_reshape(g, dy, one), ax, at.i[1], total);
    return recur_built(g, dx[0]);
}

static void take_attrs(const recur_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "axis=%d index=%lld", (int)n->attr.i[0], (long long)n->attr.i[1]);
}

/* take, reporting errors of the axis as op `opname`. */
static recur_value take(recur_graph *g, recur_value x, int axis, int64_t index, const char *opname)
{
    recur_node *n = recur_operand(g, x, opname);
    if (!n) return RECUR_NONE;
    int ax = axis_arg(g, opname, x, axis, n->shape.ndim);
    if (ax < 0) return RECUR_NONE;
    recur_attr attr = {.i = {ax, index}};
    return recur_unary(g, RECUR_OP_TAKE, x, &attr);
}

recur_value recur_take(recur_graph *g, recur_value x, int axis, int64_t index)
{
    return take(g, x, axis, index, "take");
}

recur_value recur_select_step(recur_graph *g, recur_value x, int64_t t) { return take(g, x, 0, t, "select_step"); }

RECUR_OP_DEF(take, .min_in = 1, .max_in = 1, .shape = take_shape,
             .forward = take_forward, .grad = take_grad, .attrs = take_attrs, .view_offset = leading_block);

/* --------------------------------------------------------------- pad_axis */

static recur_status pad_axis_shape(recur_graph *g, recur_node *n)
{
    recur_shape x = recur_in_shape(g, n, 0);
    int ax = (int)n->attr.i[0];
    int64_t start = n->attr.i[1], total = n->attr.i[2];
    if (ax < 0 || ax >= x.ndim) return recur_shape_fail(g, n, "axis %d is out of range for rank %d", ax, x.ndim);
    /* total >= x.d[ax] >= 1 is checked first, so total - x.d[ax] cannot overflow */
    if (start < 0 || total < x.d[ax] || start > total - x.d[ax])
        return recur_shape_fail(g, n, "placing axis %d of length %lld at %lld does not fit inside length %lld", ax,
                                (long long)x.d[ax], (long long)start, (long long)total);
    x.d[ax] = total;
    return recur_shape_set(g, n, "the result", x);
}

/* y[o, j, i] = x[o, j - start, i] for start <= j < start + len, else 0 */
static recur_status pad_axis_forward(const recur_kernel_args *a)
{
    int ax = (int)a->node->attr.i[0];
    int64_t start = a->node->attr.i[1], total = a->node->attr.i[2], len = a->xs[0].d[ax], outer, inner;
    blocks(a->xs[0], ax, &outer, &inner);
    memset(a->y, 0, sizeof(float) * (size_t)recur_shape_numel(a->node->shape));
    copy_blocks(a->y + start * inner, total * inner, a->x[0], len * inner, outer, len * inner);
    return RECUR_OK;
}

/* d pad_axis: dx = slice(dy, axis, start, len), the part of dy where x was placed */
static recur_status pad_axis_grad(recur_graph *g, recur_value y, recur_value dy, const int *needs, recur_value *dx)
{
    (void)needs;
    const recur_attr at = g->nodes[y.id].attr;
    int64_t len = g->nodes[operand(g, y, 0).id].shape.d[at.i[0]];
    dx[0] = recur_slice(g, dy, (int)at.i[0], at.i[1], len);
    return recur_built(g, dx[0]);
}

static void pad_axis_attrs(const recur_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "axis=%d start=%lld total=%lld", (int)n->attr.i[0], (long long)n->attr.i[1],
             (long long)n->attr.i[2]);
}

recur_value recur_pad_axis(recur_graph *g, recur_value x, int axis, int64_t start, int64_t total)
{
    recur_node *n = recur_operand(g, x, "pad_axis");
    if (!n) return RECUR_NONE;
    int ax = axis_arg(g, "pad_axis", x, axis, n->shape.ndim);
    if (ax < 0) return RECUR_NONE;
    if (start == 0 && total == n->shape.d[ax]) return x;
    recur_attr attr = {.i = {ax, start, total}};
    return recur_unary(g, RECUR_OP_PAD_AXIS, x, &attr);
}

RECUR_OP_DEF(pad_axis, .min_in = 1, .max_in = 1, .shape = pad_axis_shape,
                                         .forward = pad_axis_forward, .grad = pad_axis_grad,
                                         .attrs = pad_axis_attrs);
