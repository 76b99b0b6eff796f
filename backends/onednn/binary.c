/*
 * backends/onednn/binary.c — add, sub, mul, div (ops/arith.c) as oneDNN
 * binary primitives, dst = src0 (op) src1.
 *
 * oneDNN repeats only src1 (each of its dimensions equals src0's or is 1),
 * and src0 has the output's shape. So a node runs here when input 0 has the
 * output's shape (src0 = a, src1 = b), or, for add and mul, which commute,
 * when input 1 has it (src0 = b, src1 = a). Where both operands repeat, or
 * where sub's or div's first operand does, the reference kernel runs.
 *
 * The shapes oneDNN sees are collapsed: the output's dimensions of size 1
 * are dropped and neighbours in which src1 is either whole or repeated are
 * merged, so x [T, B, F] + bias [F] is [T*B, F] + [1, F] and two equal
 * shapes are one vector [n] + [n].
 *
 * Measured: one node on each backend, the median of 9 timings of repeated
 * runs on the quiet two-core machine, microseconds per call at [32, 128] /
 * [32, 512] / [64, 2048] / [3200, 2048], reference kernel -> oneDNN, one
 * OpenMP thread (two threads):
 *   x + bias [C]        3.5 -> 0.7 (5.4)   14 -> 1.2 (6.4)   110 -> 9.3 (9.1)   5600 -> 960 (390)
 *   x * column [R, 1]    65 -> 0.6 (5.1)  260 -> 1.2 (6.0)  2100 -> 8.8 (8.2)  100000 -> 900 (350)
 *   add, equal shapes   0.4 -> 0.4 (4.9)  1.4 -> 1.5 (5.8)    16 -> 16 (10)     1500 -> 1500 (610)
 *   div, equal shapes   0.7 -> 0.5 (4.9)  2.9 -> 1.5 (5.4)    24 -> 16 (10)     1500 -> 1500 (610)
 * (sub, mul and div broadcast alike: the reference walks a repeated
 * operand with a counter or an index map, oneDNN with vector loads). So
 * broadcasts run here at any size (only a bias row of 4096 floats or fewer
 * on two threads loses, by 2 us); equal shapes, which the reference runs
 * at memory speed, from EQUAL_MIN_NUMEL elements, where oneDNN ties on one
 * thread and wins on two (a oneDNN call costs about 0.5 us to dispatch on
 * one thread, 4 us on two).
 */
#include <stdio.h>

#include "onednn.h"

/* Operands of equal shapes run here from this many elements (see above). */
#define EQUAL_MIN_NUMEL 65536

/* oneDNN's view of a binary node: which input is src0 and which src1, and their collapsed dimensions. */
typedef struct binary_form {
    int src0, src1;          /* input indices */
    int nd;                  /* 1..RECUR_MAX_DIMS */
    dnnl_dims_t dims, dims1; /* of src0 and dst; of src1 (1 where it repeats) */
} binary_form;

static dnnl_alg_kind_t alg_of(int op)
{
    switch (op) {
    case RECUR_OP_ADD: return dnnl_binary_add;
    case RECUR_OP_SUB: return dnnl_binary_sub;
    case RECUR_OP_MUL: return dnnl_binary_mul;
    case RECUR_OP_DIV: return dnnl_binary_div;
    default: return dnnl_alg_kind_undef;
    }
}

/* Dimension i of s padded on the left with 1s to nd dimensions. */
static int64_t dim_padded(recur_shape s, int nd, int i)
{
    int off = nd - s.ndim;
    return i < off ? 1 : s.d[i - off];
}

/* 1 if s, padded to y's rank, has y's dimensions. */
static int is_whole(recur_shape s, recur_shape y)
{
    if (s.ndim > y.ndim) return 0;
    for (int i = 0; i < y.ndim; i++)
        if (dim_padded(s, y.ndim, i) != y.d[i]) return 0;
    return 1;
}

/*
 * Fills f for op y = a (op) b and returns 1, or returns 0 if the node stays
 * on the reference kernel: an op oneDNN binary does not know, an empty
 * tensor, a first operand that repeats where the op does not commute, or
 * equal shapes smaller than EQUAL_MIN_NUMEL.
 */
static int binary_form_of(int op, recur_shape y, recur_shape a, recur_shape b, binary_form *f)
{
    int64_t numel = recur_shape_numel(y);
    if (alg_of(op) == dnnl_alg_kind_undef || numel == 0) return 0;
    if (is_whole(a, y) && is_whole(b, y) && numel < EQUAL_MIN_NUMEL) return 0;
    if (is_whole(a, y)) f->src0 = 0, f->src1 = 1;
    else if ((op == RECUR_OP_ADD || op == RECUR_OP_MUL) && is_whole(b, y)) f->src0 = 1, f->src1 = 0;
    else return 0;
    recur_shape s1 = f->src1 ? b : a;
    f->nd = 0;
    int last_whole = -1;
    for (int i = 0; i < y.ndim; i++) {
        if (y.d[i] == 1) continue;
        int whole = dim_padded(s1, y.ndim, i) == y.d[i];
        if (whole == last_whole) {
            f->dims[f->nd - 1] *= y.d[i];
            if (whole) f->dims1[f->nd - 1] *= y.d[i];
        } else {
            f->dims[f->nd] = y.d[i];
            f->dims1[f->nd] = whole ? y.d[i] : 1;
            f->nd++;
            last_whole = whole;
        }
    }
    if (f->nd == 0) { /* a scalar (or all dimensions 1) */
        f->dims[0] = f->dims1[0] = 1;
        f->nd = 1;
    }
    return 1;
}

int recur_onednn_binary_runs(const recur_node *n, const recur_shape *xs)
{
    binary_form f;
    return binary_form_of(n->op, n->shape, xs[0], xs[1], &f);
}

recur_status recur_onednn_binary_prepare(const recur_kernel_args *a, onednn_prim *p, char *err, size_t errlen)
{
    const recur_node *n = a->node;
    char sa[64], sb[64], sy[64];
    snprintf(p->what, sizeof p->what, "binary %s of a %s and b %s into %s", recur_op(n->op)->name,
             recur_shape_str(a->xs[0], sa, sizeof sa), recur_shape_str(a->xs[1], sb, sizeof sb),
             recur_shape_str(n->shape, sy, sizeof sy));
    binary_form f;
    if (a->n_in != 2 || !binary_form_of(n->op, n->shape, a->xs[0], a->xs[1], &f)) {
        snprintf(err, errlen, "oneDNN %s: not a binary form this backend knows", p->what);
        return RECUR_ERR_RUNTIME;
    }
    onednn_arg args[3] = {{.arg = DNNL_ARG_SRC_0, .bind = f.src0},
                          {.arg = DNNL_ARG_SRC_1, .bind = f.src1},
                          {.arg = DNNL_ARG_DST, .bind = ONEDNN_BIND_OUTPUT}};
    dnnl_format_tag_t tag = f.nd == 1 ? dnnl_a : f.nd == 2 ? dnnl_ab : f.nd == 3 ? dnnl_abc : dnnl_abcd;
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&args[0].md, f.nd, f.dims, dnnl_f32, tag);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&args[1].md, f.nd, f.dims1, dnnl_f32, tag);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&args[2].md, f.nd, f.dims, dnnl_f32, tag);
    if (s != dnnl_success) {
        snprintf(err, errlen, "oneDNN %s: dnnl_memory_desc_init_by_tag failed: %s", p->what, dnnl_status2str(s));
        return RECUR_ERR_RUNTIME;
    }
    dnnl_binary_desc_t desc;
    s = dnnl_binary_desc_init(&desc, alg_of(n->op), &args[0].md, &args[1].md, &args[2].md);
    if (s != dnnl_success) {
        snprintf(err, errlen, "oneDNN %s: dnnl_binary_desc_init failed: %s", p->what, dnnl_status2str(s));
        return RECUR_ERR_RUNTIME;
    }
    return recur_onednn_prim_create(p, &desc, 3, args, err, errlen);
}
