/*
 * backends/onednn/eltwise.c — pointwise nonlinearities (ops/activation.c,
 * square from ops/arith.c) as oneDNN eltwise primitives:
 *
 *   tanh, sigmoid (logistic), relu, exp, sqrt, square   y = f(x)
 *   leaky_relu(x; slope)     y = x > 0 ? x : slope x       relu with alpha = slope
 *   leaky_relu_grad(x, dy)   = x > 0 ? dy : slope dy       relu backward from the input, alpha = slope
 *
 * The ops are elementwise, so every tensor is seen as one dense vector of
 * numel floats, whatever its shape.
 *
 * Which ops run here was measured: one node of each op on each backend,
 * one OpenMP thread, the median of 9 timings of repeated runs, microseconds
 * per call at [32, 128] / [32, 512] / [64, 2048] / [3200, 2048], reference
 * kernel -> oneDNN (the figures of three rounds varied by up to 2x; the
 * machine was shared):
 *   tanh          42 -> 1.1     170 -> 4.5    2500 -> 40    140000 -> 8400    (libm tanhf is slow)
 *   sigmoid       11 -> 1.2      42 -> 4.2     400 -> 35     35000 -> 8000
 *   exp            8 -> 0.9      28 -> 3.1     420 -> 24     54000 -> 11000
 *   sqrt           6 -> 0.5      22 -> 1.6     210 -> 20     38000 -> 1400
 *   leaky_relu   1.5 -> 0.3     8.1 -> 1.0      50 -> 9      15000 -> 2000
 *   relu         0.4 -> 0.3     1.3 -> 1.0      11 -> 9       1400 -> 1400    (both at memory speed)
 *   square       0.3 -> 0.3     1.3 -> 1.0      11 -> 10      1500 -> 1500
 *   leaky_relu_grad  2.5 -> 1.1  38 -> 7.4      81 -> 83     12000 -> 7600
 * Accuracy, against double-precision libm on 4M points of each range:
 * tanh 1.2 ulp at most, logistic 3.5, exp 2.6, sqrt and square exact;
 * exp and logistic give 0 where the true result is below FLT_MIN (x below
 * about -87.3: a subnormal on the reference kernel).
 * Not kept here: log, 1.5 to 3 times faster but wrong near 1 (log 1 =
 * -1.4e-6, millions of ulp) in oneDNN 2.6; and, where eltwise backward lost
 * to the reference's one-line vectorized loops (oneDNN costs about 0.6 us
 * a call to dispatch):
 *   tanh_grad (tanh_use_dst_for_bwd)        0.6 -> 1.1   2.4 -> 3.7   22 -> 30   (large: a tie)
 *   sigmoid_grad (logistic_use_dst_for_bwd) 0.5 -> 1.1   1.6 -> 3.9   20 -> 30
 *   relu_grad (relu backward)               0.4 -> 1.1   1.6 -> 3.6   18 -> 30
 * With two threads the timings were dominated by the other jobs on the
 * two-core machine (oneDNN's threads waiting at barriers) and decided nothing.
 */
#include <stdio.h>

#include "backends/onednn/onednn.h"

/* How an op maps onto oneDNN eltwise: its algorithm, forward or backward, and its alpha. */
typedef struct eltwise_form {
    int op;
    dnnl_alg_kind_t alg;
    int backward; /* 1: inputs (x, dy) -> dx through eltwise backward, x as DNNL_ARG_SRC */
    int slope;    /* 1: alpha is the node's attr.f[0] (leaky relu's slope), else 0 */
} eltwise_form;

static const eltwise_form forms[] = {
    {RECUR_OP_TANH, dnnl_eltwise_tanh, 0, 0},
    {RECUR_OP_SIGMOID, dnnl_eltwise_logistic, 0, 0},
    {RECUR_OP_RELU, dnnl_eltwise_relu, 0, 0},
    {RECUR_OP_LEAKY_RELU, dnnl_eltwise_relu, 0, 1},
    {RECUR_OP_EXP, dnnl_eltwise_exp, 0, 0},
    {RECUR_OP_SQRT, dnnl_eltwise_sqrt, 0, 0},
    {RECUR_OP_SQUARE, dnnl_eltwise_square, 0, 0},
    {RECUR_OP_LEAKY_RELU_GRAD, dnnl_eltwise_relu, 1, 1},
};

static const eltwise_form *form_of(int op)
{
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        if (forms[i].op == op) return &forms[i];
    return NULL;
}

int recur_onednn_eltwise_runs(const recur_node *n)
{
    /* An empty tensor has nothing to compute: the reference kernel's empty loop does it. */
    return form_of(n->op) != NULL && recur_shape_numel(n->shape) > 0;
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
    if (!f || a->n_in != (f->backward ? 2 : 1)) {
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
    if (!f->backward) {
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
    onednn_arg args[3] = {{.arg = DNNL_ARG_SRC, .md = md, .bind = 0},
                          {.arg = DNNL_ARG_DIFF_DST, .md = md, .bind = 1},
                          {.arg = DNNL_ARG_DIFF_SRC, .md = md, .bind = ONEDNN_BIND_OUTPUT}};
    return recur_onednn_prim_create(p, &desc, 3, args, err, errlen);
}
