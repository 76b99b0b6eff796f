/*
 * backends/onednn/packed.c — weights packed once per execution of a plan.
 *
 * oneDNN's matmul runs fastest on weights in a blocked layout of its own
 * choosing (measured on this project's machine for the per-step recurrent
 * product of bench config (b), [64, 512] x [512, 2048]: 300 GFLOP/s on the
 * plain row-major weights, 420 on the blocked ones). A weight read by many
 * products — the recurrent weight U of an unrolled loop is read by T
 * forward products h_t U^T and T backward products dG_t U — is worth
 * reordering into that layout once per execution of the plan and read in
 * it by every product.
 *
 * The plan's state counts, per operand b (value id, transposition and
 * [K, N]), the matmuls reading it and their rows M summed. A matmul asks
 * for the blocked layout when its b is read by two or more products of
 * PACK_MIN_ROWS rows together, or by one product of PACK_ONE_MIN_ROWS rows
 * (the large input and weight-gradient products of a training step: about
 * 10% faster, measured). Packed copies read by several products live in
 * the plan's state, one per (value, layout); the first product of an
 * execution to read one reorders into it, the others find it done (a
 * value's buffer does not change while it is live within an execution,
 * and params and fed inputs change only between executions). An operand
 * read by one product is packed into that product's workspace as it runs:
 * the copy then takes memory only during that step (the plan's arena
 * places workspaces by liveness), not for the whole run.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "onednn.h"

/*
 * Rows below which packing does not pay: reordering reads and writes the
 * K x N weights once, and the blocked layout gains 10-40% on 2 M K N FLOPs.
 */
#define PACK_MIN_ROWS 256

/* ... and for a weight read by one product only (its packed copy is memory held through the run). */
#define PACK_ONE_MIN_ROWS 1024

static atomic_long n_packs;

long recur_onednn_packs_done(void) { return atomic_load(&n_packs); }

static int same_use(const pack_use *u, int32_t id, int trans, int64_t k, int64_t n)
{
    return u->id == id && u->trans == trans && u->k == k && u->n == n;
}

recur_status recur_onednn_plan_open(const recur_plan *p, void **plan_state, char *err, size_t errlen)
{
    onednn_plan *s = calloc(1, sizeof *s);
    int n_kernels = recur_plan_kernel_count(p);
    if (s) s->uses = malloc(sizeof *s->uses * (size_t)(n_kernels + 1));
    if (!s || !s->uses) {
        free(s);
        snprintf(err, errlen, "out of memory for the oneDNN plan state");
        return RECUR_ERR_NOMEM;
    }
    for (int i = 0; i < n_kernels; i++) {
        recur_plan_kernel kn = recur_plan_kernel_at(p, i);
        const recur_node *n = kn.inner ? kn.inner : kn.node; /* (a matmul with its bias add) */
        if (!kn.runs || kn.fused || n->op != RECUR_OP_MATMUL || kn.n_in < 2) continue;
        recur_shape as = kn.xs[0], bs = kn.xs[1];
        if (bs.ndim != 2 || as.ndim < 2) continue;
        int ta = (int)n->attr.i[0], tb = (int)n->attr.i[1];
        int64_t k = tb ? bs.d[1] : bs.d[0], nn = tb ? bs.d[0] : bs.d[1];
        int64_t rows = ta ? as.d[as.ndim - 1] : recur_shape_numel(as) / k;
        int j = 0;
        while (j < s->n_uses && !same_use(&s->uses[j], kn.in[1], tb, k, nn)) j++;
        if (j == s->n_uses) s->uses[s->n_uses++] = (pack_use){kn.in[1], tb, k, nn, 0, 0, i, i};
        s->uses[j].last = i;
        s->uses[j].rows += rows;
        s->uses[j].users++;
    }
    s->plan = p;
    *plan_state = s;
    return RECUR_OK;
}

static const pack_use *use_of(const onednn_plan *s, int32_t id, int trans, int64_t k, int64_t n)
{
    for (int j = 0; s && j < s->n_uses; j++)
        if (same_use(&s->uses[j], id, trans, k, n)) return &s->uses[j];
    return NULL;
}

int recur_onednn_plan_packs(const void *plan_state, int32_t id, int trans, int64_t k, int64_t n)
{
    const pack_use *u = use_of(plan_state, id, trans, k, n);
    return u && u->rows >= (u->users >= 2 ? PACK_MIN_ROWS : PACK_ONE_MIN_ROWS);
}

int recur_onednn_plan_packs_once(const void *plan_state, int32_t id, int trans, int64_t k, int64_t n)
{
    const pack_use *u = use_of(plan_state, id, trans, k, n);
    return recur_onednn_plan_packs(plan_state, id, trans, k, n) && u->users == 1;
}

/* Destroys one packed copy (also a half-made one). */
void recur_onednn_packed_free(onednn_packed *pk)
{
    if (!pk) return;
    if (pk->reorder) dnnl_primitive_destroy(pk->reorder);
    if (pk->stream) dnnl_stream_destroy(pk->stream);
    if (pk->src) dnnl_memory_destroy(pk->src);
    if (pk->dst) dnnl_memory_destroy(pk->dst);
    free(pk);
}

recur_status recur_onednn_packed_get(void *plan_state, int32_t id, int trans, int64_t k, int64_t n,
                                     const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to, dnnl_engine_t eng,
                                     int in_work, onednn_packed **out, const char *what, char *err, size_t errlen)
{
    onednn_plan *s = plan_state;
    const pack_use *use = use_of(s, id, trans, k, n);
    for (onednn_packed *pk = in_work ? NULL : s->packed; pk; pk = pk->next)
        if (pk->id == id && dnnl_memory_desc_equal(&pk->from, from) && dnnl_memory_desc_equal(&pk->to, to)) {
            *out = pk;
            return RECUR_OK;
        }
    onednn_packed *pk = calloc(1, sizeof *pk);
    if (!pk) {
        snprintf(err, errlen, "oneDNN %s: out of memory for packed weights", what);
        return RECUR_ERR_NOMEM;
    }
    pk->id = id;
    pk->from = *from;
    pk->to = *to;
    pk->in_work = in_work;
    pk->bytes = dnnl_memory_desc_get_size(to);
    pk->first = use ? use->first : 0;
    pk->last = use ? use->last : 0;
    dnnl_primitive_desc_t pd = NULL;
    const char *call = "dnnl_reorder_primitive_desc_create";
    int saved = recur_onednn_serial_begin(); /* (onednn.h) */
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, NULL);
    if (st == dnnl_success) call = "dnnl_primitive_create (reorder)", st = dnnl_primitive_create(&pk->reorder, pd);
    recur_onednn_serial_end(saved);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (st == dnnl_success) call = "dnnl_stream_create", st = dnnl_stream_create(&pk->stream, eng, dnnl_stream_default_flags);
    if (st == dnnl_success) call = "dnnl_memory_create", st = dnnl_memory_create(&pk->src, from, eng, DNNL_MEMORY_NONE);
    if (st == dnnl_success) st = dnnl_memory_create(&pk->dst, to, eng, DNNL_MEMORY_NONE);
    if (st != dnnl_success) {
        recur_onednn_packed_free(pk);
        snprintf(err, errlen, "oneDNN %s: %s failed while packing its weights: %s", what, call, dnnl_status2str(st));
        return RECUR_ERR_RUNTIME;
    }
    if (!in_work) {
        pk->next = s->packed;
        s->packed = pk;
    }
    *out = pk;
    return RECUR_OK;
}

recur_status recur_onednn_packed_update(onednn_packed *pk, const float *weights, void *into, uint64_t execution,
                                        char *err, size_t errlen, const char *what)
{
    if (!pk->in_work && pk->packed_in == execution + 1) return RECUR_OK;
    dnnl_status_t st = dnnl_memory_set_data_handle(pk->src, (void *)weights);
    if (st == dnnl_success) st = dnnl_memory_set_data_handle(pk->dst, pk->in_work ? into : pk->data);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, pk->src}, {DNNL_ARG_TO, pk->dst}};
    int saved = recur_onednn_serial_begin(); /* (onednn.h) */
    if (st == dnnl_success) st = dnnl_primitive_execute(pk->reorder, pk->stream, 2, args);
    if (st == dnnl_success) st = dnnl_stream_wait(pk->stream);
    recur_onednn_serial_end(saved);
    if (st != dnnl_success) {
        snprintf(err, errlen, "oneDNN %s: packing its weights failed: %s", what, dnnl_status2str(st));
        return RECUR_ERR_RUNTIME;
    }
    pk->packed_in = execution + 1;
    atomic_fetch_add(&n_packs, 1);
    return RECUR_OK;
}

void recur_onednn_plan_close(void *plan_state)
{
    onednn_plan *s = plan_state;
    if (!s) return;
    while (s->packed) {
        onednn_packed *next = s->packed->next;
        recur_onednn_packed_free(s->packed);
        s->packed = next;
    }
    recur_onednn_kept_free(s);
    free(s->uses);
    free(s);
}

int recur_onednn_plan_buffers(const void *plan_state, recur_backend_buffer *list, int cap)
{
    const onednn_plan *s = plan_state;
    int n = 0;
    for (const onednn_packed *pk = s ? s->packed : NULL; pk; pk = pk->next, n++)
        if (n < cap) list[n] = (recur_backend_buffer){pk->id, pk->bytes, pk->first, pk->last, NULL};
    return n;
}

void recur_onednn_plan_buffers_placed(void *plan_state, const recur_backend_buffer *list, int n)
{
    onednn_plan *s = plan_state;
    int i = 0;
    for (onednn_packed *pk = s->packed; pk && i < n; pk = pk->next, i++) {
        pk->data = list[i].at;
        pk->packed_in = 0; /* (its bytes are new) */
    }
}
