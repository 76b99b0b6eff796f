/*
 * backends/onednn/kept.c — weights kept from one run to the next in the
 * layout their reader wants: packed for the streaming kernel of one-row
 * products (ops/gemv.c), transposed for one-hot lookups.
 *
 * A generation step at batch 1 reads each weight matrix once to make one
 * row: its time is the time to stream the weights. Read from a copy laid
 * out for the kernel (recur_gemv_pack: each thread one stream instead of
 * four), a symbol of bench (e2), a 2-layer LSTM 512, took 0.1310 ms
 * against 0.1435 (`recur_infer --unkept`; medians of nine interleaved
 * runs, two threads). Packing reads and
 * writes the weights once, as much as a step reads, so the copy pays only
 * if it outlives the run: it does in a plan compiled with
 * keep_packed_params, which promises that parameters change only in ways
 * the graph counts (graph/ir.h param_writes). Each run compares the count
 * with the one its copies were packed at and packs them again if it has
 * changed, before any step reads them.
 *
 * A copy belongs to the plan's state and is shared by every product that
 * reads the same parameter (a loop unrolled at batch 1 reads its
 * recurrent weights at every step).
 *
 * A one-hot input's lookup (passes/one_hot.c: a gather of the input
 * weights' columns, W [4H, V] for an LSTM) reads one float of each row of
 * W, a cache line each; from a copy kept transposed it reads one row: the
 * lookup of a symbol of (e2) took 0.6 us instead of 2.0 (RECUR_PROFILE with
 * RECUR_DUMP), the symbol 0.1136 ms against 0.1154 (medians of nine
 * interleaved runs); of (e1) 0.06 us instead of 0.26.
 */
#include <stdio.h>
#include <stdlib.h>

#include "onednn.h"

/* The kept copy of parameter `id` [n, k] in `layout` in plan state s, made if there is none yet; NULL when out of memory. */
static onednn_kept *kept_get(onednn_plan *s, int32_t id, int layout, int64_t n, int64_t k)
{
    for (onednn_kept *c = s->kept; c; c = c->next)
        if (c->id == id && c->layout == layout && c->n == n && c->k == k) return c;
    onednn_kept *c = calloc(1, sizeof *c);
    size_t bytes = sizeof(float) * (size_t)(n * k);
    if (c) c->data = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!c || !c->data) {
        free(c);
        return NULL;
    }
    c->id = id;
    c->layout = layout;
    c->n = n;
    c->k = k;
    c->next = s->kept;
    s->kept = c;
    return c;
}

recur_status recur_onednn_kept_prepare(const recur_kernel_args *a, void **state, char *err, size_t errlen)
{
    *state = NULL;
    onednn_plan *s = a->plan_state;
    const recur_node *reader = a->inner ? a->inner : a->node;
    int gather = reader->op == RECUR_OP_GATHER; /* (of columns: recur_onednn_gather) */
    int32_t w = reader->in[gather ? 0 : 1];
    if (!s || !recur_plan_keeps_packed_params(s->plan) || !recur_plan_storage(s->plan, w))
        return RECUR_OK; /* W is computed or fed: read as it is */
    int64_t n = a->xs[gather ? 0 : 1].d[0], k = a->xs[gather ? 0 : 1].d[1];
    onednn_prim *p = calloc(1, sizeof *p);
    const onednn_kept *c = p ? kept_get(s, w, gather ? ONEDNN_KEPT_TRANSPOSED : ONEDNN_KEPT_GEMV, n, k) : NULL;
    if (!c) {
        free(p);
        snprintf(err, errlen, "out of memory for a packed copy of weights [%lld, %lld]", (long long)n, (long long)k);
        return RECUR_ERR_NOMEM;
    }
    p->kept = c;
    snprintf(p->what, sizeof p->what, "%s kept weights [%lld, %lld]", gather ? "gather of columns of" : "one-row product by",
             (long long)n, (long long)k);
    *state = p;
    return RECUR_OK;
}

recur_status recur_onednn_gemv(const recur_kernel_args *a)
{
    const onednn_prim *p = a->state;
    return p && p->kept ? recur_gemv_packed_forward(a, p->kept->data) : recur_gemv_forward(a);
}

recur_status recur_onednn_gather(const recur_kernel_args *a)
{
    const onednn_prim *p = a->state;
    return recur_gather_forward_from(a, p && p->kept ? p->kept->data : NULL);
}


void recur_onednn_plan_run_begin(void *plan_state)
{
    onednn_plan *s = plan_state;
    uint64_t writes = recur_plan_param_writes(s->plan);
    for (onednn_kept *c = s->kept; c; c = c->next) {
        if (c->fresh && c->writes == writes) continue;
        const float *w = recur_plan_storage(s->plan, c->id);
        if (c->layout == ONEDNN_KEPT_GEMV) recur_gemv_pack(w, c->n, c->k, c->data);
        else recur_gather_table_rows(w, c->n, c->k, c->data);
        c->fresh = 1;
        c->writes = writes;
    }
}

size_t recur_onednn_plan_bytes(const void *plan_state)
{
    const onednn_plan *s = plan_state;
    size_t bytes = 0;
    for (const onednn_kept *c = s ? s->kept : NULL; c; c = c->next) bytes += sizeof(float) * (size_t)(c->n * c->k);
    return bytes;
}

void recur_onednn_kept_free(onednn_plan *s)
{
    while (s->kept) {
        onednn_kept *next = s->kept->next;
        free(s->kept->data);
        free(s->kept);
        s->kept = next;
    }
}
