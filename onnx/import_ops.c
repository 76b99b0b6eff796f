/*
 * onnx/import_ops.c — the importers of ONNX's ordinary ops, each making
 * the recur op(s) that compute the same thing, and the table from op type
 * to importer. Nodes whose inputs are all known at import never get here
 * (import_fold.c computes them).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_impl.h"

/* Defines output 0 of n as v, holding whole numbers when `integer`. */
static recur_status out0(recur_onnx_ctx *c, const onnx_node *n, recur_value v, int integer)
{
    return recur_onnx_out_value(c, n, 0, v, integer);
}

static int in_integer(recur_onnx_ctx *c, const onnx_node *n, int i)
{
    const char *name = recur_onnx_in_name(n, i);
    onnx_sym *s = name ? recur_onnx_sym(c, name) : NULL;
    return s && ((s->kind == ONNX_SYM_VALUE && s->integer) || (s->kind == ONNX_SYM_CONST && s->t.is_int));
}

/* ---------------------------------------------------------------- elementwise */

static recur_status binary(recur_onnx_ctx *c, const onnx_node *n,
                           recur_value (*fn)(recur_graph *, recur_value, recur_value), int keeps_integers)
{
    recur_value a, b;
    recur_status st;
    if ((st = recur_onnx_in_value(c, n, 0, &a)) != RECUR_OK || (st = recur_onnx_in_value(c, n, 1, &b)) != RECUR_OK) return st;
    return out0(c, n, fn(c->g, a, b), keeps_integers && in_integer(c, n, 0) && in_integer(c, n, 1));
}

static recur_status op_add(recur_onnx_ctx *c, const onnx_node *n) { return binary(c, n, recur_add, 1); }
static recur_status op_sub(recur_onnx_ctx *c, const onnx_node *n) { return binary(c, n, recur_sub, 1); }
static recur_status op_mul(recur_onnx_ctx *c, const onnx_node *n) { return binary(c, n, recur_mul, 1); }
static recur_status op_div(recur_onnx_ctx *c, const onnx_node *n)
{
    if (in_integer(c, n, 0) && in_integer(c, n, 1))
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "integer division of values computed at run time is not supported");
    return binary(c, n, recur_div, 0);
}

static recur_status unary(recur_onnx_ctx *c, const onnx_node *n, recur_value (*fn)(recur_graph *, recur_value))
{
    recur_value x;
    recur_status st = recur_onnx_in_value(c, n, 0, &x);
    return st != RECUR_OK ? st : out0(c, n, fn(c->g, x), 0);
}

static recur_status op_neg(recur_onnx_ctx *c, const onnx_node *n) { return unary(c, n, recur_neg); }
static recur_status op_tanh(recur_onnx_ctx *c, const onnx_node *n) { return unary(c, n, recur_tanh); }
static recur_status op_sigmoid(recur_onnx_ctx *c, const onnx_node *n) { return unary(c, n, recur_sigmoid); }
static recur_status op_relu(recur_onnx_ctx *c, const onnx_node *n) { return unary(c, n, recur_relu); }
static recur_status op_exp(recur_onnx_ctx *c, const onnx_node *n) { return unary(c, n, recur_exp); }
static recur_status op_log(recur_onnx_ctx *c, const onnx_node *n) { return unary(c, n, recur_log); }
static recur_status op_sqrt(recur_onnx_ctx *c, const onnx_node *n) { return unary(c, n, recur_sqrt); }
static recur_status op_softplus(recur_onnx_ctx *c, const onnx_node *n) { return unary(c, n, recur_softplus); }

static recur_status op_leaky_relu(recur_onnx_ctx *c, const onnx_node *n)
{
    float alpha;
    recur_value x;
    recur_status st;
    if ((st = recur_onnx_attr_float(c, n, "alpha", 0.01f, &alpha)) != RECUR_OK ||
        (st = recur_onnx_in_value(c, n, 0, &x)) != RECUR_OK)
        return st;
    return out0(c, n, recur_leaky_relu(c->g, x, alpha), 0);
}

/* Clip(x, min, max) with constant bounds -c and c (recur's clip), or the attributes of op set < 11. */
static recur_status op_clip(recur_onnx_ctx *c, const onnx_node *n)
{
    recur_value x;
    recur_status st = recur_onnx_in_value(c, n, 0, &x);
    if (st != RECUR_OK) return st;
    float lo = -INFINITY, hi = INFINITY;
    if (c->opset < 11) {
        if ((st = recur_onnx_attr_float(c, n, "min", -INFINITY, &lo)) != RECUR_OK ||
            (st = recur_onnx_attr_float(c, n, "max", INFINITY, &hi)) != RECUR_OK)
            return st;
    } else {
        for (int i = 1; i <= 2; i++) {
            if (!recur_onnx_in_name(n, i)) continue;
            const onnx_tensor *t = recur_onnx_in_const(c, n, i);
            if (!t || t->numel != 1)
                return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "input %d must be a constant scalar", i);
            *(i == 1 ? &lo : &hi) = (float)t->v[0];
        }
    }
    if (!(hi > 0) || lo != -hi)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "bounds [%g, %g] are not supported (only [-c, c] with c > 0)",
                               (double)lo, (double)hi);
    return out0(c, n, isinf(hi) ? x : recur_clip(c->g, x, hi), 0);
}

/* Softmax and LogSoftmax over the last axis (the only one recur's ops take). */
static recur_status softmax_like(recur_onnx_ctx *c, const onnx_node *n, recur_value (*fn)(recur_graph *, recur_value))
{
    recur_value x;
    int64_t axis;
    int ax;
    recur_status st;
    if ((st = recur_onnx_in_value(c, n, 0, &x)) != RECUR_OK ||
        (st = recur_onnx_attr_int(c, n, "axis", c->opset >= 13 ? -1 : 1, &axis)) != RECUR_OK)
        return st;
    int rank = recur_value_shape(c->g, x).ndim;
    if ((st = recur_onnx_axis(c, axis, rank, &ax)) != RECUR_OK) return st;
    if (ax != rank - 1)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "axis=%lld is not supported (only the last axis, %d)",
                               (long long)axis, rank - 1);
    return out0(c, n, fn(c->g, x), 0);
}

static recur_status op_softmax(recur_onnx_ctx *c, const onnx_node *n) { return softmax_like(c, n, recur_softmax); }
static recur_status op_log_softmax(recur_onnx_ctx *c, const onnx_node *n) { return softmax_like(c, n, recur_log_softmax); }

/* ---------------------------------------------------------------- products */

/*
 * The module path of a node named by PyTorch ("/out/MatMul" -> "out"), written to buf;
 * 0 when the name has no such path.
 */
int recur_onnx_module_path(const char *node_name, char *buf, size_t len)
{
    if (!node_name || node_name[0] != '/') return 0;
    const char *last = strrchr(node_name, '/');
    size_t k = (size_t)(last - node_name);
    if (k <= 1 || k >= len) return 0;
    memcpy(buf, node_name + 1, k - 1);
    buf[k - 1] = 0;
    for (char *p = buf; *p; p++)
        if (*p == '/') *p = '.';
    return 1;
}

/*
 * PyTorch exports a Linear layer over a sequence as MatMul(x, W^T) with W^T an unnamed
 * initializer ("onnx::MatMul_12"): import it as the layer's weight in PyTorch's layout,
 * "<module>.weight" [out, in], read transposed (what recur_dense does). 0: not that case.
 */
static int linear_weight(recur_onnx_ctx *c, const onnx_node *n, recur_value *W)
{
    const char *name = recur_onnx_in_name(n, 1);
    onnx_sym *s = name ? recur_onnx_sym(c, name) : NULL;
    char path[200], wname[256];
    if (!s || s->kind != ONNX_SYM_CONST || !s->param || s->t.is_int || s->t.ndim != 2 || recur_ok(s->cached) ||
        strncmp(name, "onnx::", 6) != 0 || !recur_onnx_module_path(n->name, path, sizeof path))
        return 0;
    snprintf(wname, sizeof wname, "%s.weight", path);
    if (recur_name_taken(c->g, wname)) return 0;
    int64_t K = s->t.d[0], N = s->t.d[1];
    if (K < 1 || N < 1) return 0;
    *W = recur_param(c->g, wname, recur_shape2(N, K), recur_init_zeros());
    float *w = recur_param_data(c->g, *W);
    if (!w) return -1;
    for (int64_t i = 0; i < K; i++)
        for (int64_t j = 0; j < N; j++) w[j * K + i] = (float)s->t.v[i * N + j];
    return 1;
}

static recur_status op_matmul(recur_onnx_ctx *c, const onnx_node *n)
{
    recur_value a, b;
    recur_status st;
    if ((st = recur_onnx_in_value(c, n, 0, &a)) != RECUR_OK) return st;
    int lin = linear_weight(c, n, &b);
    if (lin < 0) return recur_onnx_fail_builder(c);
    if (lin) return out0(c, n, recur_matmul(c->g, a, b, 0, 1), 0);
    onnx_sym *sb = recur_onnx_in(c, n, 1);
    if (!sb) return recur_errcode(c->g);
    if (sb->kind == ONNX_SYM_VALUE && recur_ok(sb->transposed)) /* x . W^T read as recur's trans_b product */
        return out0(c, n, recur_matmul(c->g, a, sb->transposed, 0, 1), 0);
    if ((st = recur_onnx_sym_value(c, sb, &b)) != RECUR_OK) return st;
    return out0(c, n, recur_matmul(c->g, a, b, 0, 0), 0);
}

/* Gemm: alpha op(A) op(B) + beta C. */
static recur_status op_gemm(recur_onnx_ctx *c, const onnx_node *n)
{
    recur_value a, b, y, cv;
    int64_t ta, tb;
    float alpha, beta;
    recur_status st;
    if ((st = recur_onnx_in_value(c, n, 0, &a)) != RECUR_OK || (st = recur_onnx_in_value(c, n, 1, &b)) != RECUR_OK ||
        (st = recur_onnx_attr_int(c, n, "transA", 0, &ta)) != RECUR_OK ||
        (st = recur_onnx_attr_int(c, n, "transB", 0, &tb)) != RECUR_OK ||
        (st = recur_onnx_attr_float(c, n, "alpha", 1.0f, &alpha)) != RECUR_OK ||
        (st = recur_onnx_attr_float(c, n, "beta", 1.0f, &beta)) != RECUR_OK)
        return st;
    y = recur_matmul(c->g, a, b, ta != 0, tb != 0);
    if (alpha != 1.0f) y = recur_scale(c->g, y, alpha);
    if (recur_onnx_in_name(n, 2)) {
        if ((st = recur_onnx_in_value(c, n, 2, &cv)) != RECUR_OK) return st;
        if (beta != 1.0f) cv = recur_scale(c->g, cv, beta);
        y = recur_add(c->g, y, cv);
    }
    return out0(c, n, y, 0);
}

/* ---------------------------------------------------------------- gather */

static recur_status op_gather(recur_onnx_ctx *c, const onnx_node *n)
{
    recur_status st = RECUR_OK;
    if (recur_onnx_loop_gather(c, n, &st)) return st;
    int64_t axis64;
    int axis, nd;
    int64_t d[ONNX_MAX_RANK];
    recur_value x, idx;
    if ((st = recur_onnx_attr_int(c, n, "axis", 0, &axis64)) != RECUR_OK || (st = recur_onnx_in_dims(c, n, 0, &nd, d)) != RECUR_OK ||
        (st = recur_onnx_axis(c, axis64, nd, &axis)) != RECUR_OK || (st = recur_onnx_in_value(c, n, 0, &x)) != RECUR_OK)
        return st;
    const onnx_tensor *ci = recur_onnx_in_const(c, n, 1);
    if (ci && ci->ndim <= 1) { /* fixed positions: take one, or a slice, or several stacked */
        int64_t k0 = 0, contiguous = 1;
        recur_value *parts = malloc(sizeof *parts * (size_t)(ci->numel ? ci->numel : 1));
        if (!parts) return recur_onnx_fail(c, RECUR_ERR_NOMEM, "out of memory");
        for (int64_t j = 0; j < ci->numel; j++) {
            int64_t k = recur_onnx_int(ci->v[j]);
            if (k < 0) k += d[axis];
            if (k < 0 || k >= d[axis]) {
                free(parts);
                return recur_onnx_fail(c, RECUR_ERR_FORMAT, "index %lld is out of range for a dimension of %lld",
                                       (long long)recur_onnx_int(ci->v[j]), (long long)d[axis]);
            }
            if (j == 0) k0 = k;
            contiguous &= k == k0 + j;
            parts[j] = recur_take(c->g, x, axis, k);
        }
        recur_value y;
        if (ci->ndim == 0) y = parts[0];
        else if (ci->numel < 1) y = RECUR_NONE, recur_set_error(c->g, RECUR_ERR_UNSUPPORTED, "no index");
        else if (contiguous) y = recur_slice(c->g, x, axis, k0, ci->numel);
        else y = recur_stack(c->g, (int)ci->numel, parts, axis);
        free(parts);
        return out0(c, n, y, in_integer(c, n, 0));
    }
    if ((st = recur_onnx_in_value(c, n, 1, &idx)) != RECUR_OK) return st;
    if (axis != 0 || nd != 2)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "Gather with indices computed at run time takes rows of a "
                               "matrix (axis 0 of a 2-D table, an embedding); here axis %d of a rank-%d tensor", axis, nd);
    return out0(c, n, recur_gather(c->g, x, idx), in_integer(c, n, 0));
}

/* ---------------------------------------------------------------- shape ops */

static recur_status op_concat(recur_onnx_ctx *c, const onnx_node *n)
{
    int64_t axis64;
    int axis;
    recur_status st;
    if (n->n_input < 1 || n->n_input > 4096) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "%zu inputs", n->n_input);
    recur_value *xs = malloc(sizeof *xs * n->n_input);
    if (!xs) return recur_onnx_fail(c, RECUR_ERR_NOMEM, "out of memory");
    int integer = 1;
    for (size_t i = 0; i < n->n_input; i++) {
        if ((st = recur_onnx_in_value(c, n, (int)i, &xs[i])) != RECUR_OK) return free(xs), st;
        integer &= in_integer(c, n, (int)i);
    }
    int rank = recur_value_shape(c->g, xs[0]).ndim;
    if ((st = recur_onnx_attr_int(c, n, "axis", 0, &axis64)) != RECUR_OK || (st = recur_onnx_axis(c, axis64, rank, &axis)) != RECUR_OK)
        return free(xs), st;
    recur_value y = n->n_input == 1 ? xs[0] : recur_concat(c->g, (int)n->n_input, xs, axis);
    free(xs);
    return out0(c, n, y, integer);
}

static recur_status op_slice(recur_onnx_ctx *c, const onnx_node *n)
{
    recur_value x;
    int nd;
    int64_t d[ONNX_MAX_RANK], start[ONNX_MAX_RANK], len[ONNX_MAX_RANK];
    recur_status st;
    if ((st = recur_onnx_in_value(c, n, 0, &x)) != RECUR_OK || (st = recur_onnx_in_dims(c, n, 0, &nd, d)) != RECUR_OK ||
        (st = recur_onnx_slice_spec(c, n, nd, d, start, len)) != RECUR_OK)
        return st;
    for (int k = 0; k < nd; k++)
        if (len[k] != d[k]) x = recur_slice(c->g, x, k, start[k], len[k]);
    return out0(c, n, x, in_integer(c, n, 0));
}

static recur_status op_split(recur_onnx_ctx *c, const onnx_node *n)
{
    recur_value x;
    int nd, axis, ns = -1;
    int64_t d[ONNX_MAX_RANK], axis64, parts[64];
    recur_status st;
    if ((st = recur_onnx_in_value(c, n, 0, &x)) != RECUR_OK || (st = recur_onnx_in_dims(c, n, 0, &nd, d)) != RECUR_OK ||
        (st = recur_onnx_attr_int(c, n, "axis", 0, &axis64)) != RECUR_OK || (st = recur_onnx_axis(c, axis64, nd, &axis)) != RECUR_OK)
        return st;
    int n_out = (int)n->n_output;
    if (n_out < 1 || n_out > 64) return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "%d outputs (1 to 64 are supported)", n_out);
    if (c->opset >= 13 && recur_onnx_in_name(n, 1)) {
        if ((st = recur_onnx_in_ints(c, n, 1, parts, 64, &ns)) != RECUR_OK) return st;
    } else {
        const int64_t *a;
        if ((st = recur_onnx_attr_ints(c, n, "split", &a, &ns)) != RECUR_OK) return st;
        if (ns > 64) return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "more than 64 parts");
        if (ns > 0) memcpy(parts, a, sizeof *a * (size_t)ns);
    }
    if (ns < 0) { /* equal parts, the last one smaller when they do not divide (op set 18) */
        int64_t each = (d[axis] + n_out - 1) / n_out;
        for (int k = 0; k < n_out; k++) parts[k] = k + 1 < n_out ? each : d[axis] - each * (n_out - 1);
        ns = n_out;
    }
    int64_t at = 0;
    for (int k = 0; k < ns; k++) at += parts[k] > 0 ? parts[k] : 0;
    if (ns != n_out || at != d[axis])
        return recur_onnx_fail(c, RECUR_ERR_FORMAT, "split sizes do not cover dimension %d (%lld) in %d parts", axis,
                               (long long)d[axis], n_out);
    at = 0;
    for (int k = 0; k < n_out; k++) {
        if (parts[k] < 1) return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "part %d is empty", k);
        if ((st = recur_onnx_out_value(c, n, k, recur_slice(c->g, x, axis, at, parts[k]), in_integer(c, n, 0))) != RECUR_OK)
            return st;
        at += parts[k];
    }
    return RECUR_OK;
}

/* Reshape to dims computed by the op's rule. */
static recur_status reshaped(recur_onnx_ctx *c, const onnx_node *n, recur_value x, int nd, const int64_t *d)
{
    recur_shape s = {.ndim = nd};
    if (nd > RECUR_MAX_DIMS)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "a result of rank %d (recur's tensors have at most %d dimensions)",
                               nd, RECUR_MAX_DIMS);
    memcpy(s.d, d, sizeof *d * (size_t)nd);
    recur_value y = recur_shape_equal(s, recur_value_shape(c->g, x)) ? x : recur_reshape(c->g, x, s);
    return out0(c, n, y, in_integer(c, n, 0));
}

static recur_status op_reshape_family(recur_onnx_ctx *c, const onnx_node *n)
{
    recur_value x;
    int nd, ond, na;
    int64_t d[ONNX_MAX_RANK], od[ONNX_MAX_RANK], spec[ONNX_MAX_RANK];
    recur_status st;
    if ((st = recur_onnx_in_value(c, n, 0, &x)) != RECUR_OK || (st = recur_onnx_in_dims(c, n, 0, &nd, d)) != RECUR_OK) return st;
    const char *op = n->op_type;
    if (strcmp(op, "Reshape") == 0) {
        int64_t allowzero;
        if ((st = recur_onnx_in_ints(c, n, 1, spec, ONNX_MAX_RANK, &na)) != RECUR_OK ||
            (st = recur_onnx_attr_int(c, n, "allowzero", 0, &allowzero)) != RECUR_OK ||
            (st = recur_onnx_reshape_dims(c, nd, d, spec, na, (int)allowzero, &ond, od)) != RECUR_OK)
            return st;
    } else if (strcmp(op, "Flatten") == 0) {
        int64_t axis64;
        int axis;
        if ((st = recur_onnx_attr_int(c, n, "axis", 1, &axis64)) != RECUR_OK) return st;
        if ((st = recur_onnx_axis(c, axis64, nd + 1, &axis)) != RECUR_OK) return st;
        od[0] = od[1] = 1;
        for (int k = 0; k < nd; k++) od[k >= axis] *= d[k];
        ond = 2;
    } else {
        if ((st = recur_onnx_axes(c, n, 1, spec, &na)) != RECUR_OK) return st;
        st = op[0] == 'U' ? recur_onnx_unsqueeze_dims(c, nd, d, spec, na < 0 ? 0 : na, &ond, od)
                          : recur_onnx_squeeze_dims(c, nd, d, spec, na, &ond, od);
        if (st != RECUR_OK) return st;
    }
    return reshaped(c, n, x, ond, od);
}

static recur_status op_transpose(recur_onnx_ctx *c, const onnx_node *n)
{
    recur_value x;
    const int64_t *perm;
    int np, p[RECUR_MAX_DIMS];
    recur_status st;
    if ((st = recur_onnx_in_value(c, n, 0, &x)) != RECUR_OK || (st = recur_onnx_attr_ints(c, n, "perm", &perm, &np)) != RECUR_OK)
        return st;
    int rank = recur_value_shape(c->g, x).ndim;
    if (np >= 0 && np != rank) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "perm has %d entries for rank %d", np, rank);
    for (int k = 0; k < rank; k++) {
        int64_t v = np >= 0 ? perm[k] : rank - 1 - k;
        if (v < 0 || v >= rank) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "perm entry %lld is out of range", (long long)v);
        p[k] = (int)v;
    }
    recur_status s2 = out0(c, n, recur_transpose(c->g, x, p), in_integer(c, n, 0));
    if (s2 == RECUR_OK && rank == 2 && p[0] == 1 && n->n_output > 0 && n->output[0] && n->output[0][0])
        recur_onnx_sym(c, n->output[0])->transposed = x; /* MatMul(a, x^T) becomes recur's trans_b product */
    return s2;
}

static recur_status op_expand(recur_onnx_ctx *c, const onnx_node *n)
{
    recur_value x;
    int nd, ns, od_n;
    int64_t d[ONNX_MAX_RANK], spec[ONNX_MAX_RANK], od[ONNX_MAX_RANK];
    recur_status st;
    if ((st = recur_onnx_in_value(c, n, 0, &x)) != RECUR_OK || (st = recur_onnx_in_dims(c, n, 0, &nd, d)) != RECUR_OK ||
        (st = recur_onnx_in_ints(c, n, 1, spec, ONNX_MAX_RANK, &ns)) != RECUR_OK ||
        (st = recur_onnx_broadcast_dims(c, nd, d, ns, spec, &od_n, od)) != RECUR_OK)
        return st;
    if (od_n > RECUR_MAX_DIMS) return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "a result of rank %d", od_n);
    recur_shape s = {.ndim = od_n};
    memcpy(s.d, od, sizeof *od * (size_t)od_n);
    recur_value y = recur_shape_equal(s, recur_value_shape(c->g, x)) ? x : recur_broadcast_to(c->g, x, s);
    return out0(c, n, y, in_integer(c, n, 0));
}

/* ---------------------------------------------------------------- identities */

static recur_status op_identity(recur_onnx_ctx *c, const onnx_node *n)
{
    recur_value x;
    recur_status st = recur_onnx_in_value(c, n, 0, &x);
    if (st != RECUR_OK) return st;
    if (strcmp(n->op_type, "Dropout") == 0 && n->n_output > 1 && n->output[1] && n->output[1][0])
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "the mask output of Dropout is not supported");
    return out0(c, n, x, in_integer(c, n, 0));
}

/* Cast: recur keeps every tensor in float32, so a cast is the identity where it changes no value. */
static recur_status op_cast(recur_onnx_ctx *c, const onnx_node *n)
{
    int64_t to;
    recur_value x;
    recur_status st;
    if ((st = recur_onnx_attr_int(c, n, "to", 0, &to)) != RECUR_OK || (st = recur_onnx_in_value(c, n, 0, &x)) != RECUR_OK)
        return st;
    int integer = in_integer(c, n, 0);
    switch (to) {
    case ONNX_FLOAT: case ONNX_DOUBLE: return out0(c, n, x, integer);
    case ONNX_INT64: case ONNX_INT32:
        if (integer) return out0(c, n, x, 1);
        /* recur's convention: inputs read as indices hold whole numbers (checked where they index) */
        if (recur_is_input(c->g, x)) return out0(c, n, x, 1);
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "Cast of a computed float value to element type %lld "
                               "(rounding) is not supported", (long long)to);
    default:
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "Cast to element type %lld is not supported", (long long)to);
    }
}

/* OneHot(indices, depth, [off, on]) along the last axis, with off = 0 and on = 1. */
static recur_status op_one_hot(recur_onnx_ctx *c, const onnx_node *n)
{
    recur_value idx;
    int64_t axis, depth[1];
    int nd;
    recur_status st;
    if ((st = recur_onnx_in_value(c, n, 0, &idx)) != RECUR_OK || (st = recur_onnx_attr_int(c, n, "axis", -1, &axis)) != RECUR_OK)
        return st;
    const onnx_tensor *dt = recur_onnx_in_const(c, n, 1), *vt = recur_onnx_in_const(c, n, 2);
    if (!dt || dt->numel != 1 || !vt || vt->numel != 2)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "depth and values must be constants (one and two elements)");
    depth[0] = recur_onnx_int(dt->v[0]);
    nd = recur_value_shape(c->g, idx).ndim;
    if (axis != -1 && axis != nd) return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "axis=%lld is not supported (only -1)", (long long)axis);
    if (vt->v[0] != 0 || vt->v[1] != 1)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "values other than [0, 1] are not supported");
    if (depth[0] < 1) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "depth %lld", (long long)depth[0]);
    return out0(c, n, recur_one_hot(c->g, idx, depth[0]), 0);
}

/* Ops folded when their inputs are known (Shape always is): here they were not. */
static recur_status op_needs_constants(recur_onnx_ctx *c, const onnx_node *n)
{
    (void)n;
    return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "its inputs must be known at import (constants or shapes)");
}

/* ---------------------------------------------------------------- the table */

static const struct {
    const char *op;
    recur_onnx_op_fn fn;
} importers[] = {
    {"Add", op_add}, {"Sub", op_sub}, {"Mul", op_mul}, {"Div", op_div}, {"Neg", op_neg},
    {"Tanh", op_tanh}, {"Sigmoid", op_sigmoid}, {"Relu", op_relu}, {"LeakyRelu", op_leaky_relu},
    {"Exp", op_exp}, {"Clip", op_clip}, {"Log", op_log}, {"Sqrt", op_sqrt}, {"Softplus", op_softplus},
    {"Softmax", op_softmax}, {"LogSoftmax", op_log_softmax},
    {"MatMul", op_matmul}, {"Gemm", op_gemm}, {"Gather", op_gather},
    {"Concat", op_concat}, {"Slice", op_slice}, {"Split", op_split},
    {"Reshape", op_reshape_family}, {"Squeeze", op_reshape_family}, {"Unsqueeze", op_reshape_family},
    {"Flatten", op_reshape_family}, {"Transpose", op_transpose}, {"Expand", op_expand},
    {"Identity", op_identity}, {"Dropout", op_identity}, {"Cast", op_cast}, {"OneHot", op_one_hot},
    {"ConstantOfShape", op_needs_constants},
    {"LSTM", recur_onnx_import_lstm}, {"GRU", recur_onnx_import_gru}, {"RNN", recur_onnx_import_rnn},
    {"Scan", recur_onnx_import_scan}, {"Loop", recur_onnx_import_loop},
    {"SequenceEmpty", recur_onnx_import_seq_empty}, {"SequenceInsert", recur_onnx_import_seq_insert},
    {"ConcatFromSequence", recur_onnx_import_seq_concat},
};

recur_onnx_op_fn recur_onnx_op_importer(const char *op_type)
{
    for (size_t i = 0; i < sizeof importers / sizeof importers[0]; i++)
        if (strcmp(importers[i].op, op_type) == 0) return importers[i].fn;
    return NULL;
}
