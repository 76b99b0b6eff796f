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
 * oneDNN call costs about half a microsecond to dispatch. A product of one
 * row by a layer's weights (a generation step at batch 1) runs on recur's
 * own streaming kernel (ops/gemv.c): measured on this machine, two
 * threads, bench (e2) (RECUR_PROFILE with RECUR_DUMP), a [1, 512] x
 * [512, 2048] product with its bias took 0.042-0.045 ms as oneDNN matmul
 * blocks and 0.036 streamed, the [1, 512] x [512, 84] output layer 0.0105
 * and 0.0025; a symbol of (e2) 0.1305 and 0.1243 ms, of (e1) 0.0091 and
 * 0.0053 (medians of interleaved runs).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "onednn.h"
#include "ops/parallel.h"
#include "ops/threads.h"

/*
 * Points each argument of p at its buffer and executes p: block `blk` of
 * owner's blocks (input i and the output owner->in_step[i] and y_step
 * floats per block in), or the whole product (blk = 0 with no blocks), the
 * scratchpad at `scratch`, packed weights from `owner` (the node's own
 * primitive, which a block belongs to). Inputs are only read: the const is
 * cast away because the handle is untyped. On failure *call names the
 * oneDNN call.
 */
static dnnl_status_t run_prim(const onednn_prim *p, const onednn_prim *owner, const recur_kernel_args *a, char *work,
                              char *scratch, int64_t blk, const char **call)
{
    for (int i = 0; i < p->n_args; i++) {
        int b = p->bind[i];
        void *data = b == ONEDNN_BIND_OUTPUT ? (void *)(a->y + blk * owner->y_step)
                     : b == ONEDNN_BIND_WORK ? (void *)scratch
                     : b == ONEDNN_BIND_PARTIAL
                         ? (void *)(work + owner->partial_at + sizeof(float) * (size_t)((blk - 1) * owner->partial_floats))
                     : b == ONEDNN_BIND_PACKED ? (owner->owns_packed ? (void *)(work + owner->pack_at) : owner->packed->data)
                     : b < 3                   ? (void *)(a->x[b] + blk * owner->in_step[b])
                                               : (void *)a->x[b];
        dnnl_status_t s = dnnl_memory_set_data_handle(p->args[i].memory, data);
        if (s != dnnl_success) return *call = "dnnl_memory_set_data_handle", s;
    }
    dnnl_status_t s = dnnl_primitive_execute(p->prim, p->stream, p->n_args, p->args);
    if (s == dnnl_success) s = dnnl_stream_wait(p->stream);
    if (s != dnnl_success) *call = "dnnl_primitive_execute";
    return s;
}

/* A product's row blocks run as a job on recur's pool; the first failure is kept. */
typedef struct block_job {
    const onednn_prim *p;
    const recur_kernel_args *a;
    char *work;
    atomic_int failed;
    dnnl_status_t status;
    const char *call;
} block_job;

/* Block b, on the thread with scratchpad `slot` (each thread that takes blocks has its own). */
static void run_block(void *ctx, int64_t b, int slot)
{
    block_job *j = ctx;
    const onednn_prim *p = j->p;
    const char *call = NULL;
    dnnl_status_t s = run_prim(p->blocks[b], p, j->a, j->work, j->work + (size_t)slot * p->slot_bytes, b, &call);
    if (s != dnnl_success && atomic_exchange(&j->failed, 1) == 0) j->status = s, j->call = call;
}

/* Depth blocks' partial sums added to y (a product of `floats` floats, `parts` partial sums). */
typedef struct partial_job {
    float *y;
    const float *partial;
    int64_t floats;
    int parts;
} partial_job;

/* Elements of y in chunks [lo, hi) of PARTIAL_CHUNK: y += partial 1, then partial 2, ..., in that order. */
#define PARTIAL_CHUNK 4096

static void add_partials(void *ctx, int64_t lo, int64_t hi, int part)
{
    (void)part;
    const partial_job *j = ctx;
    int64_t from = lo * PARTIAL_CHUNK, to = hi * PARTIAL_CHUNK < j->floats ? hi * PARTIAL_CHUNK : j->floats;
    for (int b = 0; b < j->parts; b++) {
        const float *s = j->partial + (size_t)b * (size_t)j->floats;
        for (int64_t i = from; i < to; i++) j->y[i] += s[i];
    }
}

/*
 * Runs a prepared node: packs its weights if it reads them packed, then
 * runs its primitive, or its blocks on recur's pool (each a
 * single-threaded oneDNN call). OpenMP's count is 1 meanwhile (onednn.h).
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
    int saved = recur_onednn_serial_begin();
    dnnl_status_t s;
    const char *call = NULL;
    if (p->n_blocks) {
        block_job j = {.p = p, .a = a, .work = work};
        recur_pool_run(p->n_blocks, p->slots, run_block, &j);
        s = atomic_load(&j.failed) ? j.status : dnnl_success;
        call = j.call;
        if (s == dnnl_success && p->partial_floats) { /* blocks in depth: y = block 0's + the others' partial sums */
            partial_job pj = {a->y, (const float *)(work + p->partial_at), p->partial_floats, p->n_blocks - 1};
            int64_t chunks = (p->partial_floats + PARTIAL_CHUNK - 1) / PARTIAL_CHUNK;
            recur_parallel_range(chunks, p->partial_floats * (p->n_blocks + 1), add_partials, &pj);
        }
    } else {
        s = run_prim(p, p, a, work, work, 0, &call);
    }
    recur_onednn_serial_end(saved);
    if (s != dnnl_success) return recur_kernel_fail(a, "oneDNN %s: %s failed: %s", p->what, call, dnnl_status2str(s));
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

/* Node n's input shapes (the first two). */
static void input_shapes(const recur_graph *g, const recur_node *n, recur_shape *xs)
{
    xs[0] = xs[1] = (recur_shape){0};
    for (int i = 0; i < n->n_in && i < 2; i++) xs[i] = g->nodes[n->in[i]].shape;
}

/* 1 if node n gathers columns of its table (a one-hot lookup), which recur_onednn_gather runs. */
static int gathers_columns(const recur_node *n) { return n->op == RECUR_OP_GATHER && n->attr.i[0]; }

static recur_kernel_fn onednn_select(const recur_graph *g, const recur_node *n)
{
    recur_shape xs[2];
    input_shapes(g, n, xs);
    if (recur_gemv_suits(n, xs)) return recur_onednn_gemv; /* one row: streamed by recur's own kernel */
    if (gathers_columns(n)) return recur_onednn_gather; /* (maybe from weights kept transposed) */
    return kind_of(n, xs) != ONEDNN_NONE ? onednn_kernel : NULL;
}

static recur_kernel_fn onednn_select_matmul_bias(const recur_graph *g, const recur_node *product)
{
    recur_shape xs[2];
    input_shapes(g, product, xs);
    if (recur_gemv_suits(product, xs)) return recur_onednn_gemv;
    return onednn_kernel; /* a matmul primitive with a bias argument (matmul.c) */
}

static recur_status onednn_prepare(const recur_kernel_args *a, void **state, char *err, size_t errlen)
{
    *state = NULL;
    int kind = a->inner ? ONEDNN_MATMUL : kind_of(a->node, a->xs); /* a matmul with its bias add */
    if ((kind == ONEDNN_MATMUL && recur_gemv_suits(a->inner ? a->inner : a->node, a->xs)) ||
        (!a->inner && gathers_columns(a->node)))
        return recur_onednn_kept_prepare(a, state, err, errlen); /* recur_onednn_gemv, recur_onednn_gather */
    if (kind == ONEDNN_NONE) return RECUR_OK; /* a reference kernel */
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
    .plan_buffers_placed = recur_onednn_plan_buffers_placed,
    .plan_bytes = recur_onednn_plan_bytes,
    .plan_run_begin = recur_onednn_plan_run_begin};
