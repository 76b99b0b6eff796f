/*
 * backends/onednn/matmul.c — the matmul op (ops/matmul.c) as oneDNN matmul
 * primitives, in each of its forms:
 *   plain   a [M, K] . b [K, N]            one 2-D product
 *   rows    a [..., K] . b [K, N]          one 2-D product of [R, K] and [K, N], R = a's leading dims
 *   batched a [..., M, K] . b [..., K, N]  one 3-D product, the leading dims (one or two) as the batch
 * Transposed operands are described by their strides, never copied.
 *
 * Threads. Every primitive runs single-threaded (onednn.h). A 2-D product
 * of enough FLOPs is cut (cut.c: by its shape alone) into row blocks,
 * op(a) rows [r0, r0 + R) . b = y rows [r0, r0 + R), each block a
 * primitive of its own reading the same (maybe packed) b, or into column
 * blocks, a . op(b) columns [c0, c0 + C) = y columns [c0, c0 + C) (with
 * the bias's columns), reading b as it is, or, for a weight gradient a^T b
 * with y larger than L2, into blocks in depth, op(a) columns [k0, k0 + S)
 * . b rows [k0, k0 + S), partial sums that are then added to y in block
 * order (deterministic whatever the threads). The blocks run as chunks of one
 * job on recur's pool (ops/threads.h): the calling thread and whichever
 * workers are awake take them one at a time. A small product (a step of
 * generation of a small layer, the per-step products of a small batch) is
 * one call on the calling thread.
 */
#include <stdio.h>
#include <stdlib.h>

#include "onednn.h"
#include "ops/threads.h"

/*
 * The geometry oneDNN sees: `batch` products op(a) [m, k] . op(b) [k, n]
 * (batch 0: a 2-D product with no batch dimension).
 */
typedef struct mm_dims {
    int64_t batch, m, k, n;
} mm_dims;

static mm_dims dims_of(recur_shape a, recur_shape b, int ta, int tb)
{
    mm_dims q;
    int ra = a.ndim, rb = b.ndim;
    q.k = ta ? a.d[ra - 2] : a.d[ra - 1];
    q.n = tb ? b.d[rb - 2] : b.d[rb - 1];
    if (rb == 2) {
        /* plain or rows: every leading dimension of a is a row */
        q.batch = 0;
        q.m = recur_shape_numel(a) / q.k;
    } else {
        q.batch = 1;
        for (int i = 0; i < ra - 2; i++) q.batch *= a.d[i];
        q.m = ta ? a.d[ra - 1] : a.d[ra - 2];
    }
    return q;
}

/* A 2-D descriptor of rows x cols floats whose elements (i, j) lie i * rs + j * cs apart. */
static dnnl_status_t strided_md(dnnl_memory_desc_t *md, int64_t rows, int64_t cols, int64_t rs, int64_t cs)
{
    dnnl_dims_t dims = {rows, cols}, strides = {rs, cs};
    return dnnl_memory_desc_init_by_strides(md, 2, dims, dnnl_f32, strides);
}

/*
 * The descriptor of a row-major operand op(x) [rows, cols] (with the batch
 * dimension in front when batch > 0). Stored untransposed, x [rows, cols]
 * has strides (cols, 1); stored transposed, x [cols, rows] is read with
 * strides (1, rows). Batch entries lie rows * cols floats apart.
 */
static dnnl_status_t operand_md(dnnl_memory_desc_t *md, int64_t batch, int64_t rows, int64_t cols, int trans)
{
    dnnl_dims_t dims = {0}, strides = {0};
    int nd = 0;
    if (batch > 0) {
        dims[nd] = batch;
        strides[nd++] = rows * cols;
    }
    dims[nd] = rows;
    strides[nd++] = trans ? 1 : cols;
    dims[nd] = cols;
    strides[nd++] = trans ? rows : 1;
    return dnnl_memory_desc_init_by_strides(md, nd, dims, dnnl_f32, strides);
}

/* Writes "oneDNN <what>: <call> failed: <status>" and returns RECUR_ERR_RUNTIME. */
static recur_status md_fail(const onednn_prim *p, const char *call, dnnl_status_t s, char *err, size_t errlen)
{
    snprintf(err, errlen, "oneDNN %s: %s failed: %s", p->what, call, dnnl_status2str(s));
    return RECUR_ERR_RUNTIME;
}

/* Room for nb blocks in p, or RECUR_ERR_NOMEM naming p. */
static recur_status alloc_blocks(onednn_prim *p, int nb, char *err, size_t errlen)
{
    p->blocks = calloc((size_t)nb, sizeof *p->blocks);
    if (p->blocks) return RECUR_OK;
    snprintf(err, errlen, "oneDNN %s: out of memory for its blocks", p->what);
    return RECUR_ERR_NOMEM;
}

/*
 * Block b of p, named after p and its `part` [from, from + count), counted
 * in p->n_blocks (so freeing p frees it); NULL, with err written, when out of memory.
 */
static onednn_prim *new_block(onednn_prim *p, int b, const char *part, int64_t from, int64_t count, char *err,
                              size_t errlen)
{
    onednn_prim *blk = p->blocks[b] = calloc(1, sizeof *blk);
    if (!blk) {
        snprintf(err, errlen, "oneDNN %s: out of memory for its blocks", p->what);
        return NULL;
    }
    p->n_blocks = b + 1;
    snprintf(blk->what, sizeof blk->what, "%.150s, %s %lld..%lld", p->what, part, (long long)from,
             (long long)(from + count - 1));
    return blk;
}

/* Block blk's scratchpad counted in the size of p's scratchpad slots (each holds any block's). */
static void count_scratch(onednn_prim *p, const onednn_prim *blk)
{
    if (blk->scratch > p->slot_bytes) p->slot_bytes = (blk->scratch + 63) / 64 * 64;
}

/* p->slots, the threads that may run p's nb blocks at once (a scratchpad slot each); returns the slots' bytes. */
static size_t slots_bytes(onednn_prim *p, int nb)
{
    int cap = recur_threads_cap();
    p->slots = cap < nb ? cap : nb;
    return (size_t)p->slots * p->slot_bytes;
}

/*
 * Prepares product mm (2-D, m x k x n in q) as blocks of `size` rows
 * (by_cols 0) or columns (by_cols 1), the last maybe smaller. Row block b
 * reads op(a) and writes y from row b * size on; column block b reads
 * op(b), the bias and y from column b * size on. Row blocks read b as the
 * first block's primitive chose to (packed, if the plan packs b, once per
 * run for all of them); column blocks read it as it is.
 */
static recur_status prepare_blocks(const recur_kernel_args *a, onednn_prim *p, const recur_node *mm, mm_dims q,
                                   int64_t size, int by_cols, int ta, int tb, char *err, size_t errlen)
{
    int64_t whole = by_cols ? q.n : q.m;
    int nb = (int)((whole + size - 1) / size);
    if (alloc_blocks(p, nb, err, errlen) != RECUR_OK) return RECUR_ERR_NOMEM;
    /* Element (i, j) of op(a) lies at i * a_rs + j * a_cs, of op(b) at i * b_rs + j * b_cs. */
    int64_t a_rs = ta ? 1 : q.k, a_cs = ta ? q.m : 1, b_rs = tb ? 1 : q.n, b_cs = tb ? q.k : 1;
    if (by_cols) p->in_step[1] = size * b_cs, p->in_step[2] = size, p->y_step = size;
    else p->in_step[0] = size * a_rs, p->y_step = size * q.n;
    int pack = !by_cols && recur_onednn_plan_packs(a->plan_state, mm->in[1], tb, q.k, q.n);
    dnnl_memory_desc_t plain_b, chosen_b;
    dnnl_status_t s = strided_md(&plain_b, q.k, q.n, b_rs, b_cs);
    if (s != dnnl_success) return md_fail(p, "dnnl_memory_desc_init_by_strides", s, err, errlen);
    for (int b = 0; b < nb; b++) {
        int64_t r = b < nb - 1 ? size : whole - size * (nb - 1);
        int64_t rows = by_cols ? q.m : r, cols = by_cols ? r : q.n;
        onednn_prim *blk = new_block(p, b, by_cols ? "columns" : "rows", b * size, r, err, errlen);
        if (!blk) return RECUR_ERR_NOMEM;
        onednn_arg args[4] = {{.arg = DNNL_ARG_SRC, .bind = 0},
                              {.arg = DNNL_ARG_WEIGHTS, .bind = 1},
                              {.arg = DNNL_ARG_DST, .bind = ONEDNN_BIND_OUTPUT},
                              {.arg = DNNL_ARG_BIAS, .bind = 2}};
        s = strided_md(&args[0].md, rows, q.k, a_rs, a_cs);
        if (s == dnnl_success) s = strided_md(&args[1].md, q.k, cols, b_rs, b_cs);
        if (s == dnnl_success) s = strided_md(&args[2].md, rows, cols, q.n, 1);
        if (s == dnnl_success && a->inner) s = strided_md(&args[3].md, 1, cols, q.n, 1);
        if (s != dnnl_success) return md_fail(p, "dnnl_memory_desc_init_by_strides", s, err, errlen);
        if (pack && b == 0) {
            dnnl_dims_t kn = {q.k, q.n};
            s = dnnl_memory_desc_init_by_tag(&args[1].md, 2, kn, dnnl_f32, dnnl_format_tag_any);
            if (s != dnnl_success) return md_fail(p, "dnnl_memory_desc_init_by_tag", s, err, errlen);
        } else if (pack) {
            args[1].md = chosen_b;
        }
        dnnl_matmul_desc_t desc;
        s = dnnl_matmul_desc_init(&desc, &args[0].md, &args[1].md, a->inner ? &args[3].md : NULL, &args[2].md);
        if (s != dnnl_success) return md_fail(p, "dnnl_matmul_desc_init", s, err, errlen);
        recur_status st = recur_onednn_prim_create(blk, &desc, a->inner ? 4 : 3, args, err, errlen);
        if (st != RECUR_OK) return st;
        if (b == 0) chosen_b = args[1].md;
        if (b == 0 && pack && dnnl_memory_desc_equal(&chosen_b, &plain_b)) pack = 0; /* b is read as it is */
        if (pack) blk->bind[1] = ONEDNN_BIND_PACKED; /* args[1] is the weights: the node's packed copy */
        count_scratch(p, blk);
    }
    p->pack_at = p->work = slots_bytes(p, nb);
    if (!pack) return RECUR_OK;
    int once = recur_onednn_plan_packs_once(a->plan_state, mm->in[1], tb, q.k, q.n); /* into the workspace */
    recur_status st = recur_onednn_packed_get(a->plan_state, mm->in[1], tb, q.k, q.n, &plain_b, &chosen_b,
                                              recur_onednn_engine(), once, &p->packed, p->what, err, errlen);
    if (st != RECUR_OK) return st;
    p->owns_packed = once;
    if (once) p->work = p->pack_at + p->packed->bytes;
    return RECUR_OK;
}

/*
 * Prepares product mm, a^T b with a [k, m] and b [k, n] stored as they are
 * (2-D, m x k x n in q), as blocks in depth of `size` rows of a and b each,
 * the last maybe fewer: block 0 (with the bias) writes y, block i > 0 its
 * partial sum in the workspace, after the scratchpads (onednn.c adds them
 * to y). Every block reads b as it is.
 */
static recur_status prepare_depth_blocks(const recur_kernel_args *a, onednn_prim *p, mm_dims q, int64_t size, char *err,
                                         size_t errlen)
{
    int nb = (int)((q.k + size - 1) / size);
    if (alloc_blocks(p, nb, err, errlen) != RECUR_OK) return RECUR_ERR_NOMEM;
    p->in_step[0] = size * q.m, p->in_step[1] = size * q.n, p->y_step = 0;
    for (int b = 0; b < nb; b++) {
        int64_t depth = b < nb - 1 ? size : q.k - size * (nb - 1);
        onednn_prim *blk = new_block(p, b, "depth", b * size, depth, err, errlen);
        if (!blk) return RECUR_ERR_NOMEM;
        int bias = a->inner && b == 0;
        onednn_arg args[4] = {{.arg = DNNL_ARG_SRC, .bind = 0},
                              {.arg = DNNL_ARG_WEIGHTS, .bind = 1},
                              {.arg = DNNL_ARG_DST, .bind = b == 0 ? ONEDNN_BIND_OUTPUT : ONEDNN_BIND_PARTIAL},
                              {.arg = DNNL_ARG_BIAS, .bind = 2}};
        dnnl_status_t s = strided_md(&args[0].md, q.m, depth, 1, q.m);
        if (s == dnnl_success) s = strided_md(&args[1].md, depth, q.n, q.n, 1);
        if (s == dnnl_success) s = strided_md(&args[2].md, q.m, q.n, q.n, 1);
        if (s == dnnl_success && bias) s = strided_md(&args[3].md, 1, q.n, q.n, 1);
        if (s != dnnl_success) return md_fail(p, "dnnl_memory_desc_init_by_strides", s, err, errlen);
        dnnl_matmul_desc_t desc;
        s = dnnl_matmul_desc_init(&desc, &args[0].md, &args[1].md, bias ? &args[3].md : NULL, &args[2].md);
        if (s != dnnl_success) return md_fail(p, "dnnl_matmul_desc_init", s, err, errlen);
        recur_status st = recur_onednn_prim_create(blk, &desc, bias ? 4 : 3, args, err, errlen);
        if (st != RECUR_OK) return st;
        count_scratch(p, blk);
    }
    p->partial_at = slots_bytes(p, nb);
    p->partial_floats = q.m * q.n;
    p->work = p->partial_at + sizeof(float) * (size_t)(nb - 1) * (size_t)p->partial_floats;
    return RECUR_OK;
}

recur_status recur_onednn_matmul_prepare(const recur_kernel_args *a, onednn_prim *p, char *err, size_t errlen)
{
    const recur_node *mm = a->inner ? a->inner : a->node; /* inner: the product whose bias add a->node is */
    int ta = (int)mm->attr.i[0], tb = (int)mm->attr.i[1];
    recur_shape as = a->xs[0], bs = a->xs[1];
    char sa[64], sb[64], sy[64];
    snprintf(p->what, sizeof p->what, "matmul%s of a %s (trans_a=%d) and b %s (trans_b=%d) into %s", a->inner ? " with bias" : "",
             recur_shape_str(as, sa, sizeof sa), ta, recur_shape_str(bs, sb, sizeof sb), tb,
             recur_shape_str(a->node->shape, sy, sizeof sy));
    if (a->n_in != (a->inner ? 3 : 2) || as.ndim < 2 || bs.ndim < 2 || (bs.ndim != 2 && bs.ndim != as.ndim)) {
        snprintf(err, errlen, "oneDNN %s: not a matmul form this backend knows", p->what);
        return RECUR_ERR_RUNTIME;
    }
    mm_dims q = dims_of(as, bs, ta, tb);
    if (q.batch == 0) {
        int packs = recur_onednn_plan_packs(a->plan_state, mm->in[1], tb, q.k, q.n);
        onednn_cut cut = recur_onednn_cut(q.m, q.k, q.n, ta && as.ndim == 2, tb, packs); /* (a 2-D a: a^T's rows are a's columns) */
        if (cut.by_depth) return prepare_depth_blocks(a, p, q, cut.size, err, errlen);
        if (cut.size < (cut.by_cols ? q.n : q.m))
            return prepare_blocks(a, p, mm, q, cut.size, cut.by_cols, ta, tb, err, errlen);
    }
    onednn_arg args[4] = {{.arg = DNNL_ARG_SRC, .bind = 0},
                          {.arg = DNNL_ARG_WEIGHTS, .bind = 1},
                          {.arg = DNNL_ARG_DST, .bind = ONEDNN_BIND_OUTPUT},
                          {.arg = DNNL_ARG_BIAS, .bind = 2}};
    int n_args = a->inner ? 4 : 3;
    dnnl_status_t s = operand_md(&args[0].md, q.batch, q.m, q.k, ta);
    if (s == dnnl_success) s = operand_md(&args[1].md, q.batch, q.k, q.n, tb);
    if (s == dnnl_success) s = operand_md(&args[2].md, q.batch, q.m, q.n, 0);
    if (s == dnnl_success && a->inner) s = operand_md(&args[3].md, q.batch ? 1 : 0, 1, q.n, 0); /* a row, broadcast */
    if (s != dnnl_success) {
        snprintf(err, errlen, "oneDNN %s: dnnl_memory_desc_init_by_strides failed: %s", p->what,
                 dnnl_status2str(s));
        return RECUR_ERR_RUNTIME;
    }
    /* Weights read by enough products are packed into the layout the primitive chooses (packed.c). */
    dnnl_memory_desc_t plain_b = args[1].md;
    int pack = q.batch == 0 && recur_onednn_plan_packs(a->plan_state, mm->in[1], tb, q.k, q.n);
    if (pack) {
        dnnl_dims_t kn = {q.k, q.n};
        s = dnnl_memory_desc_init_by_tag(&args[1].md, 2, kn, dnnl_f32, dnnl_format_tag_any);
        if (s != dnnl_success) {
            snprintf(err, errlen, "oneDNN %s: dnnl_memory_desc_init_by_tag failed: %s", p->what, dnnl_status2str(s));
            return RECUR_ERR_RUNTIME;
        }
    }
    dnnl_matmul_desc_t desc;
    s = dnnl_matmul_desc_init(&desc, &args[0].md, &args[1].md, a->inner ? &args[3].md : NULL, &args[2].md);
    if (s != dnnl_success) {
        snprintf(err, errlen, "oneDNN %s: dnnl_matmul_desc_init failed: %s", p->what, dnnl_status2str(s));
        return RECUR_ERR_RUNTIME;
    }
    recur_status st = recur_onednn_prim_create(p, &desc, n_args, args, err, errlen);
    if (st != RECUR_OK || !pack || dnnl_memory_desc_equal(&args[1].md, &plain_b)) return st; /* (chosen: b as it is) */
    int once = recur_onednn_plan_packs_once(a->plan_state, mm->in[1], tb, q.k, q.n); /* into the workspace */
    st = recur_onednn_packed_get(a->plan_state, mm->in[1], tb, q.k, q.n, &plain_b, &args[1].md, recur_onednn_engine(), once,
                                 &p->packed, p->what, err, errlen);
    if (st != RECUR_OK) return st;
    p->owns_packed = once;
    p->bind[1] = ONEDNN_BIND_PACKED; /* args[1] is the weights (see above): the packed copy */
    if (once) {
        p->pack_at = (p->scratch + 63) / 64 * 64;
        p->work = p->pack_at + p->packed->bytes;
    }
    return RECUR_OK;
}
