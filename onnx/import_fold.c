/*
 * onnx/import_fold.c — what the importer computes once instead of making
 * graph nodes: every node whose inputs are all constants (or, for Shape,
 * whose input's shape is known, as every recur value's is), and the shape
 * arithmetic that Reshape, Squeeze, Unsqueeze, Slice and Expand share with
 * their graph forms (import_ops.c).
 *
 * PyTorch builds an RNN's zero initial state at run time as
 *   Shape(x) -> Gather(0 or 1) -> Unsqueeze -> Concat([L], B, [H]) -> Expand(0)
 * which folds here into one constant [L, B, H] of zeros. Float constants
 * are only moved (sliced, reshaped, gathered, concatenated), never
 * computed with, so folding changes no float; integer arithmetic (shapes,
 * indices) is folded exactly.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_impl.h"

/* ---------------------------------------------------------------- shape arithmetic */

recur_status recur_onnx_axis(recur_onnx_ctx *c, int64_t axis, int ndim, int *out)
{
    *out = 0;
    if (axis < -ndim || axis >= ndim)
        return recur_onnx_fail(c, RECUR_ERR_FORMAT, "axis %lld is out of range for rank %d", (long long)axis, ndim);
    *out = (int)(axis < 0 ? axis + ndim : axis);
    return RECUR_OK;
}

recur_status recur_onnx_axes(recur_onnx_ctx *c, const onnx_node *n, int input, int64_t *axes, int *count)
{
    *count = -1;
    if (c->opset >= 13 && recur_onnx_in_name(n, input)) return recur_onnx_in_ints(c, n, input, axes, ONNX_MAX_RANK, count);
    const int64_t *a;
    int k;
    recur_status st = recur_onnx_attr_ints(c, n, "axes", &a, &k);
    if (st != RECUR_OK || k < 0) return st;
    if (k > ONNX_MAX_RANK) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "%d axes", k);
    memcpy(axes, a, sizeof *axes * (size_t)k);
    *count = k;
    return RECUR_OK;
}

recur_status recur_onnx_unsqueeze_dims(recur_onnx_ctx *c, int ndim, const int64_t *d, const int64_t *axes, int n_axes,
                                       int *out_ndim, int64_t *out)
{
    int rank = ndim + n_axes, is_new[ONNX_MAX_RANK] = {0};
    if (n_axes < 1 || rank > ONNX_MAX_RANK) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "Unsqueeze needs 1 to %d axes",
                                                                   ONNX_MAX_RANK - ndim);
    for (int k = 0; k < n_axes; k++) {
        int ax;
        recur_status st = recur_onnx_axis(c, axes[k], rank, &ax);
        if (st != RECUR_OK) return st;
        if (is_new[ax]) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "axis %d is repeated", ax);
        is_new[ax] = 1;
    }
    for (int k = 0, j = 0; k < rank; k++) out[k] = is_new[k] ? 1 : d[j++];
    *out_ndim = rank;
    return RECUR_OK;
}

recur_status recur_onnx_squeeze_dims(recur_onnx_ctx *c, int ndim, const int64_t *d, const int64_t *axes, int n_axes,
                                     int *out_ndim, int64_t *out)
{
    int drop[ONNX_MAX_RANK] = {0}, r = 0;
    for (int k = 0; k < n_axes; k++) {
        int ax;
        recur_status st = recur_onnx_axis(c, axes[k], ndim, &ax);
        if (st != RECUR_OK) return st;
        if (d[ax] != 1) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "axis %d has size %lld, not 1", ax, (long long)d[ax]);
        drop[ax] = 1;
    }
    for (int k = 0; k < ndim; k++)
        if (n_axes < 0 ? d[k] != 1 : !drop[k]) out[r++] = d[k];
    *out_ndim = r;
    return RECUR_OK;
}

recur_status recur_onnx_reshape_dims(recur_onnx_ctx *c, int ndim, const int64_t *d, const int64_t *spec, int n_spec,
                                     int allowzero, int *out_ndim, int64_t *out)
{
    int64_t numel = 1, known = 1;
    int infer = -1;
    for (int k = 0; k < ndim; k++) numel *= d[k];
    if (n_spec > ONNX_MAX_RANK) return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "a shape of rank %d", n_spec);
    for (int k = 0; k < n_spec; k++) {
        int64_t v = spec[k];
        if (v == 0 && !allowzero) {
            if (k >= ndim) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "shape entry %d is 0 beyond the input's rank", k);
            v = d[k];
        }
        if (v == -1) {
            if (infer >= 0) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "the shape has two -1 entries");
            infer = k;
            out[k] = 1;
            continue;
        }
        if (v < 1 || v > ONNX_MAX_NUMEL) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "shape entry %d is %lld", k, (long long)v);
        out[k] = v;
        known *= v;
        if (known > ONNX_MAX_NUMEL) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "the shape is too large");
    }
    if (infer >= 0) {
        if (numel % known) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "%lld elements do not divide by %lld",
                                                  (long long)numel, (long long)known);
        out[infer] = numel / known;
        known = numel;
    }
    if (known != numel)
        return recur_onnx_fail(c, RECUR_ERR_FORMAT, "reshaping %lld elements to a shape of %lld", (long long)numel,
                               (long long)known);
    *out_ndim = n_spec;
    return RECUR_OK;
}

recur_status recur_onnx_broadcast_dims(recur_onnx_ctx *c, int na, const int64_t *a, int nb, const int64_t *b,
                                       int *out_ndim, int64_t *out)
{
    int n = na > nb ? na : nb;
    for (int k = 0; k < n; k++) {
        int64_t x = k - (n - na) >= 0 ? a[k - (n - na)] : 1, y = k - (n - nb) >= 0 ? b[k - (n - nb)] : 1;
        if (x != y && x != 1 && y != 1)
            return recur_onnx_fail(c, RECUR_ERR_FORMAT, "dimensions %lld and %lld do not broadcast", (long long)x,
                                   (long long)y);
        out[k] = x == 1 ? y : x;
    }
    *out_ndim = n;
    return RECUR_OK;
}

void recur_onnx_slice_range(int64_t dim, int64_t start, int64_t end, int64_t *s, int64_t *len)
{
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    start = start < 0 ? 0 : start > dim ? dim : start;
    end = end < 0 ? 0 : end > dim ? dim : end;
    *s = start;
    *len = end > start ? end - start : 0;
}

recur_status recur_onnx_slice_spec(recur_onnx_ctx *c, const onnx_node *n, int ndim, const int64_t *d,
                                   int64_t *start, int64_t *len)
{
    int64_t st_[ONNX_MAX_RANK], en[ONNX_MAX_RANK], ax[ONNX_MAX_RANK], sp[ONNX_MAX_RANK];
    int n_st, n_en, n_ax = -1, n_sp = -1;
    recur_status st;
    for (int k = 0; k < ndim; k++) start[k] = 0, len[k] = d[k];
    if (c->opset >= 10) {
        if ((st = recur_onnx_in_ints(c, n, 1, st_, ONNX_MAX_RANK, &n_st)) != RECUR_OK) return st;
        if ((st = recur_onnx_in_ints(c, n, 2, en, ONNX_MAX_RANK, &n_en)) != RECUR_OK) return st;
        if (recur_onnx_in_name(n, 3) && (st = recur_onnx_in_ints(c, n, 3, ax, ONNX_MAX_RANK, &n_ax)) != RECUR_OK) return st;
        if (recur_onnx_in_name(n, 4) && (st = recur_onnx_in_ints(c, n, 4, sp, ONNX_MAX_RANK, &n_sp)) != RECUR_OK) return st;
    } else {
        const int64_t *a;
        if ((st = recur_onnx_attr_ints(c, n, "starts", &a, &n_st)) != RECUR_OK) return st;
        if (n_st > ONNX_MAX_RANK) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "too many starts");
        if (n_st > 0) memcpy(st_, a, sizeof *a * (size_t)n_st);
        if ((st = recur_onnx_attr_ints(c, n, "ends", &a, &n_en)) != RECUR_OK) return st;
        if (n_en > ONNX_MAX_RANK) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "too many ends");
        if (n_en > 0) memcpy(en, a, sizeof *a * (size_t)n_en);
        if ((st = recur_onnx_attr_ints(c, n, "axes", &a, &n_ax)) != RECUR_OK) return st;
        if (n_ax > ONNX_MAX_RANK) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "too many axes");
        if (n_ax > 0) memcpy(ax, a, sizeof *a * (size_t)n_ax);
    }
    if (n_st != n_en || n_st < 0 || (n_ax >= 0 && n_ax != n_st) || (n_sp >= 0 && n_sp != n_st))
        return recur_onnx_fail(c, RECUR_ERR_FORMAT, "starts, ends, axes and steps differ in length");
    for (int k = 0; k < n_st; k++) {
        int a_;
        if ((st = recur_onnx_axis(c, n_ax >= 0 ? ax[k] : k, ndim, &a_)) != RECUR_OK) return st;
        if (n_sp >= 0 && sp[k] != 1)
            return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "steps=%lld is not supported (only 1)", (long long)sp[k]);
        recur_onnx_slice_range(d[a_], st_[k], en[k], &start[a_], &len[a_]);
        if (len[a_] < 1) return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "the slice of axis %d is empty", a_);
    }
    return RECUR_OK;
}

/* ---------------------------------------------------------------- host tensor ops */

/* The strides of a row-major tensor. */
static void strides(const onnx_tensor *t, int64_t *s)
{
    int64_t acc = 1;
    for (int k = t->ndim - 1; k >= 0; k--) s[k] = acc, acc *= t->d[k];
}

/* out[i] = in[offset + sum_k idx_k * stride_k] over out's multi-index: views of `in` (slices, transposes, broadcasts). */
static void copy_view(const onnx_tensor *in, onnx_tensor *out, int64_t offset, const int64_t *stride)
{
    int64_t idx[ONNX_MAX_RANK] = {0};
    for (int64_t i = 0; i < out->numel; i++) {
        int64_t src = offset;
        for (int k = 0; k < out->ndim; k++) src += idx[k] * stride[k];
        out->v[i] = in->v[src];
        for (int k = out->ndim - 1; k >= 0; k--) {
            if (++idx[k] < out->d[k]) break;
            idx[k] = 0;
        }
    }
}

static int define_out(recur_onnx_ctx *c, const onnx_node *n, onnx_tensor *t)
{
    if (n->n_output < 1 || !n->output[0] || !n->output[0][0]) {
        recur_onnx_tensor_free(t);
        recur_onnx_fail(c, RECUR_ERR_FORMAT, "the node has no output");
        return -1;
    }
    return recur_onnx_def_const(c, n->output[0], t, 0) == RECUR_OK ? 1 : -1;
}

static int fold_constant(recur_onnx_ctx *c, const onnx_node *n)
{
    onnx_tensor t;
    const onnx_attr *a;
    int is_int = 1;
    if ((a = recur_onnx_attr(n, "value")) && a->t) {
        if (recur_onnx_tensor_read(c, a->t, "attribute value", &t) != RECUR_OK) return -1;
        return define_out(c, n, &t);
    }
    int64_t one = 1;
    if ((a = recur_onnx_attr(n, "value_float")) || (a = recur_onnx_attr(n, "value_int"))) {
        if (recur_onnx_tensor_alloc(c, &t, 0, &one, a->type == RECUR_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) != RECUR_OK)
            return -1;
        t.v[0] = t.is_int ? (double)a->i : a->f;
        return define_out(c, n, &t);
    }
    if ((a = recur_onnx_attr(n, "value_floats")) || (a = recur_onnx_attr(n, "value_ints"))) {
        is_int = a->type == RECUR_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        int64_t len = (int64_t)(is_int ? a->n_ints : a->n_floats);
        if (recur_onnx_tensor_alloc(c, &t, 1, &len, is_int) != RECUR_OK) return -1;
        for (int64_t i = 0; i < len; i++) t.v[i] = is_int ? (double)a->ints[i] : a->floats[i];
        return define_out(c, n, &t);
    }
    recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "a Constant without a value, value_float(s) or value_int(s)");
    return -1;
}

static int fold_shape(recur_onnx_ctx *c, const onnx_node *n)
{
    int ndim;
    int64_t d[ONNX_MAX_RANK], start, end, len;
    if (recur_onnx_in_dims(c, n, 0, &ndim, d) != RECUR_OK) return -1;
    if (recur_onnx_attr_int(c, n, "start", 0, &start) != RECUR_OK || recur_onnx_attr_int(c, n, "end", ndim, &end) != RECUR_OK)
        return -1;
    recur_onnx_slice_range(ndim, start, end, &start, &len);
    onnx_tensor t;
    if (recur_onnx_tensor_alloc(c, &t, 1, &len, 1) != RECUR_OK) return -1;
    for (int64_t k = 0; k < len; k++) t.v[k] = (double)d[start + k];
    return define_out(c, n, &t);
}

static int fold_constant_of_shape(recur_onnx_ctx *c, const onnx_node *n)
{
    int64_t d[ONNX_MAX_RANK];
    int nd;
    if (recur_onnx_in_ints(c, n, 0, d, ONNX_MAX_RANK, &nd) != RECUR_OK) return -1;
    double fill = 0;
    int is_int = 0;
    const onnx_attr *a = recur_onnx_attr(n, "value");
    if (a && a->t) {
        onnx_tensor v;
        if (recur_onnx_tensor_read(c, a->t, "attribute value", &v) != RECUR_OK) return -1;
        if (v.numel != 1) {
            recur_onnx_tensor_free(&v);
            recur_onnx_fail(c, RECUR_ERR_FORMAT, "attribute value must hold one element");
            return -1;
        }
        fill = v.v[0];
        is_int = v.is_int;
        recur_onnx_tensor_free(&v);
    }
    onnx_tensor t;
    if (recur_onnx_tensor_alloc(c, &t, nd, d, is_int) != RECUR_OK) return -1;
    for (int64_t i = 0; i < t.numel; i++) t.v[i] = fill;
    return define_out(c, n, &t);
}

static int fold_cast(recur_onnx_ctx *c, const onnx_node *n, const onnx_tensor *x)
{
    int64_t to;
    if (recur_onnx_attr_int(c, n, "to", 0, &to) != RECUR_OK) return -1;
    onnx_tensor t;
    if (recur_onnx_tensor_copy(c, x, &t) != RECUR_OK) return -1;
    switch (to) {
    case ONNX_FLOAT:
        t.is_int = 0;
        for (int64_t i = 0; i < t.numel; i++) t.v[i] = (float)t.v[i];
        break;
    case ONNX_DOUBLE: t.is_int = 0; break;
    case ONNX_BOOL:
        t.is_int = 1;
        for (int64_t i = 0; i < t.numel; i++) t.v[i] = t.v[i] != 0;
        break;
    case ONNX_INT64: case ONNX_INT32: case ONNX_INT8: case ONNX_UINT8:
        t.is_int = 1;
        for (int64_t i = 0; i < t.numel; i++) t.v[i] = isfinite(t.v[i]) ? trunc(t.v[i]) : 0;
        break;
    default:
        recur_onnx_tensor_free(&t);
        recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "Cast to element type %lld is not supported", (long long)to);
        return -1;
    }
    return define_out(c, n, &t);
}

/* Gather along an axis with constant indices. */
static int fold_gather(recur_onnx_ctx *c, const onnx_node *n, const onnx_tensor *x, const onnx_tensor *idx)
{
    int64_t axis64;
    int axis;
    if (recur_onnx_attr_int(c, n, "axis", 0, &axis64) != RECUR_OK || recur_onnx_axis(c, axis64, x->ndim, &axis) != RECUR_OK)
        return -1;
    int64_t d[ONNX_MAX_RANK], outer = 1, inner = 1;
    int nd = 0;
    if (x->ndim - 1 + idx->ndim > ONNX_MAX_RANK) return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "rank too large"), -1;
    for (int k = 0; k < axis; k++) d[nd++] = x->d[k], outer *= x->d[k];
    for (int k = 0; k < idx->ndim; k++) d[nd++] = idx->d[k];
    for (int k = axis + 1; k < x->ndim; k++) d[nd++] = x->d[k], inner *= x->d[k];
    onnx_tensor t;
    if (recur_onnx_tensor_alloc(c, &t, nd, d, x->is_int) != RECUR_OK) return -1;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < idx->numel; j++) {
            int64_t k = recur_onnx_int(idx->v[j]);
            if (k < 0) k += x->d[axis];
            if (k < 0 || k >= x->d[axis]) {
                recur_onnx_tensor_free(&t);
                recur_onnx_fail(c, RECUR_ERR_FORMAT, "index %lld is out of range for a dimension of %lld",
                                (long long)recur_onnx_int(idx->v[j]), (long long)x->d[axis]);
                return -1;
            }
            memcpy(t.v + (o * idx->numel + j) * inner, x->v + (o * x->d[axis] + k) * inner, sizeof *t.v * (size_t)inner);
        }
    return define_out(c, n, &t);
}

static int fold_reshaped(recur_onnx_ctx *c, const onnx_node *n, const onnx_tensor *x, int nd, const int64_t *d)
{
    onnx_tensor t;
    if (recur_onnx_tensor_copy(c, x, &t) != RECUR_OK) return -1;
    t.ndim = nd;
    memcpy(t.d, d, sizeof *d * (size_t)nd);
    return define_out(c, n, &t);
}

static int fold_concat(recur_onnx_ctx *c, const onnx_node *n)
{
    int64_t axis64, d[ONNX_MAX_RANK];
    int axis, is_int = 1;
    const onnx_tensor *first = recur_onnx_in_const(c, n, 0);
    if (!first || recur_onnx_attr_int(c, n, "axis", 0, &axis64) != RECUR_OK ||
        recur_onnx_axis(c, axis64, first->ndim, &axis) != RECUR_OK)
        return first ? -1 : 0;
    memcpy(d, first->d, sizeof d);
    d[axis] = 0;
    for (size_t i = 0; i < n->n_input; i++) {
        const onnx_tensor *x = recur_onnx_in_const(c, n, (int)i);
        int same = x && x->ndim == first->ndim;
        for (int k = 0; same && k < x->ndim; k++) same = k == axis || x->d[k] == first->d[k];
        if (!same) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "input %zu does not match input 0's shape", i), -1;
        d[axis] += x->d[axis];
        is_int &= x->is_int;
    }
    onnx_tensor t;
    if (recur_onnx_tensor_alloc(c, &t, first->ndim, d, is_int) != RECUR_OK) return -1;
    int64_t outer = 1, inner = 1, at = 0;
    for (int k = 0; k < axis; k++) outer *= d[k];
    for (int k = axis + 1; k < first->ndim; k++) inner *= d[k];
    for (int64_t o = 0; o < outer; o++)
        for (size_t i = 0; i < n->n_input; i++) {
            const onnx_tensor *x = recur_onnx_in_const(c, n, (int)i);
            int64_t block = x->d[axis] * inner;
            memcpy(t.v + at, x->v + o * block, sizeof *t.v * (size_t)block);
            at += block;
        }
    return define_out(c, n, &t);
}

static int fold_slice(recur_onnx_ctx *c, const onnx_node *n, const onnx_tensor *x)
{
    int64_t start[ONNX_MAX_RANK], len[ONNX_MAX_RANK], s[ONNX_MAX_RANK], off = 0;
    if (recur_onnx_slice_spec(c, n, x->ndim, x->d, start, len) != RECUR_OK) return -1;
    strides(x, s);
    for (int k = 0; k < x->ndim; k++) off += start[k] * s[k];
    onnx_tensor t;
    if (recur_onnx_tensor_alloc(c, &t, x->ndim, len, x->is_int) != RECUR_OK) return -1;
    copy_view(x, &t, off, s);
    return define_out(c, n, &t);
}

static int fold_transpose(recur_onnx_ctx *c, const onnx_node *n, const onnx_tensor *x)
{
    const int64_t *perm;
    int np;
    int64_t s[ONNX_MAX_RANK], d[ONNX_MAX_RANK], st[ONNX_MAX_RANK];
    if (recur_onnx_attr_ints(c, n, "perm", &perm, &np) != RECUR_OK) return -1;
    if (np >= 0 && np != x->ndim) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "perm has %d entries for rank %d", np, x->ndim), -1;
    strides(x, s);
    int used[ONNX_MAX_RANK] = {0};
    for (int k = 0; k < x->ndim; k++) {
        int64_t p = np >= 0 ? perm[k] : x->ndim - 1 - k;
        if (p < 0 || p >= x->ndim || used[p]) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "perm is not a permutation"), -1;
        used[p] = 1;
        d[k] = x->d[p];
        st[k] = s[p];
    }
    onnx_tensor t;
    if (recur_onnx_tensor_alloc(c, &t, x->ndim, d, x->is_int) != RECUR_OK) return -1;
    copy_view(x, &t, 0, st);
    return define_out(c, n, &t);
}

static int fold_expand(recur_onnx_ctx *c, const onnx_node *n, const onnx_tensor *x)
{
    int64_t spec[ONNX_MAX_RANK], d[ONNX_MAX_RANK], s[ONNX_MAX_RANK], st[ONNX_MAX_RANK];
    int ns, nd;
    if (recur_onnx_in_ints(c, n, 1, spec, ONNX_MAX_RANK, &ns) != RECUR_OK ||
        recur_onnx_broadcast_dims(c, x->ndim, x->d, ns, spec, &nd, d) != RECUR_OK)
        return -1;
    strides(x, s);
    for (int k = 0; k < nd; k++) {
        int j = k - (nd - x->ndim);
        st[k] = j >= 0 && x->d[j] != 1 ? s[j] : 0;
    }
    onnx_tensor t;
    if (recur_onnx_tensor_alloc(c, &t, nd, d, x->is_int) != RECUR_OK) return -1;
    copy_view(x, &t, 0, st);
    return define_out(c, n, &t);
}

/* Integer arithmetic (shapes and indices), broadcasting. */
static int fold_arith(recur_onnx_ctx *c, const onnx_node *n, const onnx_tensor *a, const onnx_tensor *b, char op)
{
    int64_t d[ONNX_MAX_RANK], sa[ONNX_MAX_RANK], sb[ONNX_MAX_RANK], za[ONNX_MAX_RANK] = {0}, zb[ONNX_MAX_RANK] = {0};
    int nd;
    if (recur_onnx_broadcast_dims(c, a->ndim, a->d, b->ndim, b->d, &nd, d) != RECUR_OK) return -1;
    strides(a, sa);
    strides(b, sb);
    for (int k = 0; k < nd; k++) {
        int ja = k - (nd - a->ndim), jb = k - (nd - b->ndim);
        za[k] = ja >= 0 && a->d[ja] != 1 ? sa[ja] : 0;
        zb[k] = jb >= 0 && b->d[jb] != 1 ? sb[jb] : 0;
    }
    onnx_tensor ta, tb;
    if (recur_onnx_tensor_alloc(c, &ta, nd, d, 1) != RECUR_OK) return -1;
    if (recur_onnx_tensor_alloc(c, &tb, nd, d, 1) != RECUR_OK) return recur_onnx_tensor_free(&ta), -1;
    copy_view(a, &ta, 0, za);
    copy_view(b, &tb, 0, zb);
    for (int64_t i = 0; i < ta.numel; i++) {
        double x = ta.v[i], y = tb.v[i];
        if (op == '/' && y == 0) {
            recur_onnx_tensor_free(&ta);
            recur_onnx_tensor_free(&tb);
            return recur_onnx_fail(c, RECUR_ERR_FORMAT, "integer division by zero"), -1;
        }
        ta.v[i] = op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : trunc(x / y);
    }
    recur_onnx_tensor_free(&tb);
    return define_out(c, n, &ta);
}

int recur_onnx_fold(recur_onnx_ctx *c, const onnx_node *n)
{
    const char *op = n->op_type ? n->op_type : "";
    if (strcmp(op, "Constant") == 0) return fold_constant(c, n);
    if (strcmp(op, "Shape") == 0) return fold_shape(c, n);
    if (strcmp(op, "ConstantOfShape") == 0) return fold_constant_of_shape(c, n);
    if (strcmp(op, "Concat") == 0) {
        for (size_t i = 0; i < n->n_input; i++)
            if (!recur_onnx_in_const(c, n, (int)i)) return 0;
        return n->n_input ? fold_concat(c, n) : 0;
    }
    const onnx_tensor *x = recur_onnx_in_const(c, n, 0);
    if (!x) return 0;
    /* a weight read transposed (x . W^T as a MatMul of Transpose(W)) stays a parameter, read with trans_b */
    onnx_sym *xs = recur_onnx_sym(c, n->input[0]);
    if (strcmp(op, "Transpose") == 0 && xs->param && !x->is_int && x->ndim == 2) return 0;
    if (strcmp(op, "Identity") == 0) return fold_reshaped(c, n, x, x->ndim, x->d);
    if (strcmp(op, "Cast") == 0) return fold_cast(c, n, x);
    if (strcmp(op, "Slice") == 0) return fold_slice(c, n, x);
    if (strcmp(op, "Transpose") == 0) return fold_transpose(c, n, x);
    int nd;
    int64_t d[ONNX_MAX_RANK], axes[ONNX_MAX_RANK];
    if (strcmp(op, "Unsqueeze") == 0 || strcmp(op, "Squeeze") == 0) {
        int na;
        if (recur_onnx_axes(c, n, 1, axes, &na) != RECUR_OK) return -1;
        recur_status st = op[0] == 'U' ? recur_onnx_unsqueeze_dims(c, x->ndim, x->d, axes, na < 0 ? 0 : na, &nd, d)
                                       : recur_onnx_squeeze_dims(c, x->ndim, x->d, axes, na, &nd, d);
        return st == RECUR_OK ? fold_reshaped(c, n, x, nd, d) : -1;
    }
    const onnx_tensor *y = recur_onnx_in_const(c, n, 1);
    if (strcmp(op, "Reshape") == 0 && y) {
        int64_t spec[ONNX_MAX_RANK], allowzero;
        int ns;
        if (recur_onnx_in_ints(c, n, 1, spec, ONNX_MAX_RANK, &ns) != RECUR_OK ||
            recur_onnx_attr_int(c, n, "allowzero", 0, &allowzero) != RECUR_OK ||
            recur_onnx_reshape_dims(c, x->ndim, x->d, spec, ns, (int)allowzero, &nd, d) != RECUR_OK)
            return -1;
        return fold_reshaped(c, n, x, nd, d);
    }
    if (strcmp(op, "Gather") == 0 && y) return fold_gather(c, n, x, y);
    if (strcmp(op, "Expand") == 0 && y) return fold_expand(c, n, x);
    if (x->is_int && y && y->is_int && op[0] && !op[3]) {
        const char *ops = "Add+Sub-Mul*Div/";
        for (int k = 0; k < 4; k++)
            if (strncmp(op, ops + 4 * k, 3) == 0) return fold_arith(c, n, x, y, ops[4 * k + 3]);
    }
    return 0;
}
