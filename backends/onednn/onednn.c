/*
 * backends/onednn/onednn.c — the oneDNN backend: matrix products run as
 * oneDNN matmul primitives (matmul.c), the activations whose libm calls
 * are slow as eltwise primitives (eltwise.c), the broadcasting arithmetic
 * as binary primitives (binary.c), every other op on its reference kernel.
 *
 * When a plan is compiled, prepare() creates each such node's primitive
 * once, with its memory objects and stream (see onednn.h for who owns
 * what and the threading rules); its scratchpad, and weights packed for it
 * alone, go in the step's workspace, which the plan's arena holds only
 * while the step runs; the kernel binds the plan's buffers and executes;
 * release() destroys it all with the plan.
 *
 * An op runs here only where it was measured faster than its reference
 * kernel (eltwise.c and binary.c list the figures): elementwise loops that
 * the reference kernels already run at memory speed stay there, since a
 * oneDNN call costs about half a microsecond to dispatch.
 */
#include <stdio.h>
#include <stdlib.h>

#include "onednn.h"

/*
 * Runs a prepared primitive: points each argument at its buffer (inputs
 * are only read: the const is cast away because the handle is untyped) and
 * executes.
 */
static recur_status onednn_kernel(const recur_kernel_args *a)
{
    const onednn_prim *p = a->state;
    if (!p) return recur_kernel_fail(a, "oneDNN: the node was not prepared when the plan was compiled");
    if (p->work && !a->work) return recur_kernel_fail(a, "oneDNN %s: no workspace was given", p->what);
    char *work = (char *)a->work;
    if (p->packed && recur_onednn_packed_update(p->packed, a->x[1], work + p->pack_at, a->execution, a->err, a->errlen,
                                                p->what) != RECUR_OK)
        return RECUR_ERR_RUNTIME;
    for (int i = 0; i < p->n_args; i++) {
        int b = p->bind[i];
        void *data = b == ONEDNN_BIND_OUTPUT ? (void *)a->y
                     : b == ONEDNN_BIND_WORK ? (void *)work
                     : b == ONEDNN_BIND_PACKED ? (p->owns_packed ? (void *)(work + p->pack_at) : p->packed->data)
                                               : (void *)a->x[b];
        dnnl_status_t s = dnnl_memory_set_data_handle(p->args[i].memory, data);
        if (s != dnnl_success)
            return recur_kernel_fail(a, "oneDNN %s: dnnl_memory_set_data_handle failed: %s", p->what,
                                     dnnl_status2str(s));
    }
    dnnl_status_t s = dnnl_primitive_execute(p->prim, p->stream, p->n_args, p->args);
    if (s == dnnl_success) s = dnnl_stream_wait(p->stream);
    if (s != dnnl_success)
        return recur_kernel_fail(a, "oneDNN %s: dnnl_primitive_execute failed: %s", p->what, dnnl_status2str(s));
    return RECUR_OK;
}

/* The primitive kind that runs node n (whose inputs have shapes xs), or ONEDNN_NONE for the reference kernel. */
enum { ONEDNN_NONE, ONEDNN_MATMUL, ONEDNN_ELTWISE, ONEDNN_BINARY };

static int kind_of(const recur_node *n, const recur_shape *xs)
{
    if (n->op == RECUR_OP_MATMUL) return ONEDNN_MATMUL;
    if (recur_onednn_eltwise_runs(n)) return ONEDNN_ELTWISE;
    if (n->n_in == 2 && recur_onednn_binary_runs(n, xs)) return ONEDNN_BINARY;
    return ONEDNN_NONE;
}

static recur_kernel_fn onednn_select(const recur_graph *g, const recur_node *n)
{
    recur_shape xs[2] = {{0}};
    for (int i = 0; i < n->n_in && i < 2; i++) xs[i] = g->nodes[n->in[i]].shape;
    return kind_of(n, xs) != ONEDNN_NONE ? onednn_kernel : NULL;
}

static recur_kernel_fn onednn_select_matmul_bias(const recur_graph *g, const recur_node *product)
{
    (void)g, (void)product;
    return onednn_kernel; /* a matmul primitive with a bias argument (matmul.c) */
}

static recur_status onednn_prepare(const recur_kernel_args *a, void **state, char *err, size_t errlen)
{
    *state = NULL;
    int kind = a->inner ? ONEDNN_MATMUL : kind_of(a->node, a->xs); /* a matmul with its bias add */
    if (kind == ONEDNN_NONE) return RECUR_OK;
    onednn_prim *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory for a oneDNN primitive");
        return RECUR_ERR_NOMEM;
    }
    recur_status st = kind == ONEDNN_MATMUL    ? recur_onednn_matmul_prepare(a, p, err, errlen)
                      : kind == ONEDNN_ELTWISE ? recur_onednn_eltwise_prepare(a, p, err, errlen)
                                               : recur_onednn_binary_prepare(a, p, err, errlen);
    if (st != RECUR_OK) {
        recur_onednn_prim_free(p);
        return st;
    }
    *state = p;
    return RECUR_OK;
}

static void onednn_release(void *state) { recur_onednn_prim_free(state); }

static size_t onednn_work_bytes(const void *state) { return state ? ((const onednn_prim *)state)->work : 0; }

const recur_backend recur_backend_onednn_impl = {
    .name = "onednn",
    .select = onednn_select,
    .select_matmul_bias = onednn_select_matmul_bias,
    .prepare = onednn_prepare,
    .work_bytes = onednn_work_bytes,
    .release = onednn_release,
    .plan_open = recur_onednn_plan_open,
    .plan_close = recur_onednn_plan_close,
    .plan_buffers = recur_onednn_plan_buffers,
    .plan_buffers_placed = recur_onednn_plan_buffers_placed};
