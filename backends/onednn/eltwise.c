/*
 * backends/onednn/eltwise.c — pointwise nonlinearities (ops/activation.c,
 * square from ops/arith.c) and gradient helpers as oneDNN eltwise
 * primitives:
 *
 *   tanh, sigmoid (logistic), relu, exp, sqrt, square   y = f(x)
 *   leaky_relu(x; slope)     y = x > 0 ? x : slope x    relu with alpha = slope
 *   tanh_grad(y, dy)         = dy (1 - y^2)             tanh backward from the output (tanh_use_dst_for_bwd)
 *   sigmoid_grad(y, dy)      = dy y (1 - y)             logistic backward from the output
 *   relu_grad(x, dy)         = x > 0 ? dy : 0           relu backward from the input
 *   leaky_relu_grad(x, dy)   = x > 0 ? dy : slope dy    the same with alpha = slope
 *
 * The ops are elementwise, so every tensor is seen as one dense vector of
 * numel floats, whatever its shape.
 *
 * An op runs here from the size where oneDNN was measured faster, on two
 * threads above all (min_numel below). First measured: one node on
 * each backend, the median of 9 timings of repeated runs on the quiet
 * two-core machine, microseconds per call at [32, 128] / [32, 512] /
 * [64, 2048] / [3200, 2048], reference kernel -> oneDNN, one OpenMP thread
 * (two threads):
 *   tanh          39 -> 1.1 (5.0)   160 -> 4.0 (7.2)   1300 -> 32 (27)   64000 -> 3200 (1300)
 *   sigmoid       10 -> 1.1 (5.1)    39 -> 4.0 (7.3)    310 -> 31 (27)   16000 -> 3200 (1300)
 *   exp          7.0 -> 0.8 (4.4)    28 -> 2.8 (6.4)    220 -> 22 (23)   11000 -> 2600 (1100)
 *   sqrt         5.2 -> 0.5 (4.2)    21 -> 1.5 (5.1)    170 -> 11 (10)    8400 -> 880 (350)
 *   leaky_relu   1.6 -> 0.3 (4.3)   7.4 -> 1.0 (5.3)     61 -> 8.4 (9)    2900 -> 890 (360)
 *   leaky_relu_grad 2.8 -> 1.3 (5.5) 7.3 -> 3.7 (7.1)    61 -> 30 (19)    3100 -> 1600 (850)
 *   relu         0.3 -> 0.3 (4.1)   1.2 -> 1.0 (5.0)     10 -> 7.9 (6.9)   940 -> 930 (370)
 *   square       0.3 -> 0.3 (4.3)   1.2 -> 1.0 (4.9)    9.6 -> 8.0 (6.8)   890 -> 900 (350)
 *   tanh_grad    0.4 -> 1.0 (4.8)   1.4 -> 3.4 (6.5)     16 -> 27 (19)    1600 -> 1600 (770)
 *   sigmoid_grad 0.6 -> 1.0 (4.7)   2.4 -> 3.4 (6.4)     19 -> 27 (19)    1600 -> 1600 (780)
 *   relu_grad    0.4 -> 1.0 (4.9)   1.4 -> 3.4 (6.5)     16 -> 27 (19)    1600 -> 1600 (780)
 * (libm's scalar tanhf and expf made the reference slow on the first four;
 * the others are one-line loops it runs at memory speed, and a oneDNN call
 * costs about 0.5 us to dispatch on one thread, 4 us on two.)
 *
 * Since the reference kernels became vectorized and threaded (ops/vmath.h,
 * ops/pointwise.c), measured again the same way (minimum of 9 timings, the
 * machine shared), reference -> oneDNN, one thread (two threads):
 *   sigmoid  [32, 128] 2.0 -> 1.6 (1.7 -> 4.5)  [32, 256] 3.3 -> 2.1 (3.3 -> 5.9)
 *            [64, 256] 6.6 -> 3.9 (8.4 -> 8.1)  [64, 2048] 63 -> 39 (36 -> 24)
 *   tanh     [32, 128] 2.5 -> 1.4 (2.3 -> 4.6)  [32, 256] 4.6 -> 2.2 (4.8 -> 5.5)
 *            [64, 256] 9.0 -> 4.1 (9.4 -> 7.0)  [64, 2048] 79 -> 36 (43 -> 27)
 *   exp      [32, 128] 1.5 -> 1.1 (1.6 -> 5.7)  [64, 512] 12 -> 6.7 (9.9 -> 9.0)
 *   sqrt     [32, 128] 0.3 -> 0.5 (0.3 -> 5.4)  [64, 2048] 11 -> 12 (9.3 -> 11)   [3200, 2048] 880 -> 910 (470 -> 480)
 *   leaky_relu       [64, 2048] 7.0 -> 8.4 (7.2 -> 9.9)   [3200, 2048] 1000 -> 1200 (550 -> 480)
 *   leaky_relu_grad  [64, 2048] 16 -> 29 (9.9 -> 20)      [3200, 2048] 2200 -> 2000 (780 -> 940)
 * oneDNN's AVX-512 tanh, logistic and exp still win from 16384 elements;
 * below, its dispatch on two threads costs more than the whole reference
 * loop. sqrt and leaky relu are now memory-bound loops on both sides, so
 * they stay on the reference kernel up to 1M elements.
 *
 * Accuracy, against double-precision libm on 4M points of each range:
 * tanh 1.2 ulp at most, logistic 3.5, exp 2.6, sqrt and square exact;
 * exp and logistic give 0 where the true result is below FLT_MIN (x below
 * about -87.3: a subnormal on the reference kernel). log stays on the
 * reference kernel: oneDNN 2.6's is 2.3 times faster but wrong near 1
 * (log 1 = -1.4e-6).
 */
#include <stdio.h>

#include "onednn.h"

/* How an op maps onto oneDNN eltwise, and from which size it runs there. */
typedef struct eltwise_form {
    int op;
    dnnl_alg_kind_t alg;
    int data_arg;      /* 0: forward, y = f(x); else backward, inputs (data, dy), data as this argument */
    int slope;         /* 1: alpha is the node's attr.f[0] (leaky relu's slope), else 0 */
    int64_t min_numel; /* smaller tensors stay on the reference kernel (see the measurements above) */
} eltwise_form;

static const eltwise_form forms[] = {
    {RECUR_OP_TANH, dnnl_eltwise_tanh, 0, 0, 16384},
    {RECUR_OP_SIGMOID, dnnl_eltwise_logistic, 0, 0, 16384},
    {RECUR_OP_EXP, dnnl_eltwise_exp, 0, 0, 16384},
    {RECUR_OP_SQRT, dnnl_eltwise_sqrt, 0, 0, 1 << 20},
    {RECUR_OP_LEAKY_RELU, dnnl_eltwise_relu, 0, 1, 1 << 20},
    {RECUR_OP_LEAKY_RELU_GRAD, dnnl_eltwise_relu, DNNL_ARG_SRC, 1, 1 << 20},
    {RECUR_OP_RELU, dnnl_eltwise_relu, 0, 0, 65536},
    {RECUR_OP_SQUARE, dnnl_eltwise_square, 0, 0, 65536},
    {RECUR_OP_TANH_GRAD, dnnl_eltwise_tanh_use_dst_for_bwd, DNNL_ARG_DST, 0, 1 << 20},
    {RECUR_OP_SIGMOID_GRAD, dnnl_eltwise_logistic_use_dst_for_bwd, DNNL_ARG_DST, 0, 1 << 20},
    {RECUR_OP_RELU_GRAD, dnnl_eltwise_relu, DNNL_ARG_SRC, 0, 1 << 20},
};

static const eltwise_form *form_of(int op)
{
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        if (forms[i].op == op) return &forms[i];
    return NULL;
}

int recur_onednn_eltwise_runs(const recur_node *n)
{
    const eltwise_form *f = form_of(n->op);
    int64_t numel = recur_shape_numel(n->shape);
    /* An empty tensor has nothing to compute: the reference kernel's empty loop does it. */
    return f != NULL && numel > 0 && numel >= f->min_numel;
}

recur_status recur_onednn_eltwise_prepare(const recur_kernel_args *a, onednn_prim *p, char *err, size_t errlen)
{
    const recur_node *n = a->node;
    const eltwise_form *f = form_of(n->op);
    const char *name = recur_op(n->op)->name;
    char sy[64];
    recur_shape_str(n->shape, sy, sizeof sy);
    float alpha = f && f->slope ? n->attr.f[0] : 0.0f;
    if (f && f->slope) snprintf(p->what, sizeof p->what, "eltwise %s (slope %g) of %s", name, (double)alpha, sy);
    else snprintf(p->what, sizeof p->what, "eltwise %s of %s", name, sy);
    if (!f || a->n_in != (f->data_arg ? 2 : 1)) {
        snprintf(err, errlen, "oneDNN %s: not an elementwise form this backend knows", p->what);
        return RECUR_ERR_RUNTIME;
    }

    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {recur_shape_numel(n->shape)};
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&md, 1, dims, dnnl_f32, dnnl_a);
    if (s != dnnl_success) {
        snprintf(err, errlen, "oneDNN %s: dnnl_memory_desc_init_by_tag failed: %s", p->what, dnnl_status2str(s));
        return RECUR_ERR_RUNTIME;
    }
    dnnl_eltwise_desc_t desc;
    if (!f->data_arg) {
        s = dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_inference, f->alg, &md, alpha, 0.0f);
        if (s != dnnl_success) {
            snprintf(err, errlen, "oneDNN %s: dnnl_eltwise_forward_desc_init failed: %s", p->what,
                     dnnl_status2str(s));
            return RECUR_ERR_RUNTIME;
        }
        onednn_arg args[2] = {{.arg = DNNL_ARG_SRC, .md = md, .bind = 0},
                              {.arg = DNNL_ARG_DST, .md = md, .bind = ONEDNN_BIND_OUTPUT}};
        return recur_onednn_prim_create(p, &desc, 2, args, err, errlen);
    }
    s = dnnl_eltwise_backward_desc_init(&desc, f->alg, &md, &md, alpha, 0.0f);
    if (s != dnnl_success) {
        snprintf(err, errlen, "oneDNN %s: dnnl_eltwise_backward_desc_init failed: %s", p->what, dnnl_status2str(s));
        return RECUR_ERR_RUNTIME;
    }
    onednn_arg args[3] = {{.arg = f->data_arg, .md = md, .bind = 0},
                          {.arg = DNNL_ARG_DIFF_DST, .md = md, .bind = 1},
                          {.arg = DNNL_ARG_DIFF_SRC, .md = md, .bind = ONEDNN_BIND_OUTPUT}};
    return recur_onednn_prim_create(p, &desc, 3, args, err, errlen);
}
