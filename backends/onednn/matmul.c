/*
 * backends/onednn/matmul.c — the matmul op (ops/matmul.c) as oneDNN matmul
 * primitives, in each of its forms:
 *   plain   a [M, K] . b [K, N]            one 2-D product
 *   rows    a [..., K] . b [K, N]          one 2-D product of [R, K] and [K, N], R = a's leading dims
 *   batched a [..., M, K] . b [..., K, N]  one 3-D product, the leading dims (one or two) as the batch
 * Transposed operands are described by their strides, never copied.
 *
 * Threads. Every primitive runs single-threaded (onednn.h). A 2-D product
 * of enough FLOPs is cut into row blocks, op(a) rows [r0, r0 + R) . b =
 * y rows [r0, r0 + R), each block a primitive of its own reading the same
 * (packed) b, and the blocks run as chunks of one job on recur's pool
 * (ops/threads.h): the calling thread and whichever workers are awake take
 * them one at a time. A small product (a step of generation, the per-step
 * products of a small batch) is one call on the calling thread. How a
 * product is cut depends on its shape only, never on the thread count, and
 * each row of y is a whole K-long sum inside one call, so results do not
 * depend on the threads.
 */
#include <stdio.h>
#include <stdlib.h>

#include "onednn.h"
#include "ops/threads.h"

/*
 * A product below this many FLOPs (2 M K N) is one call on the calling
 * thread: at oneDNN's single-core rate (60-120 GFLOP/s here) it takes under
 * about 20 us, and handing blocks to a second thread saves less than a
 * woken thread may cost.
 */
#define SPLIT_MIN_FLOPS 2e6

/* FLOPs per block aimed at: the more blocks, the better a thread that lost its core is made up for. */
#define BLOCK_FLOPS 1e6

/* The most blocks a product is cut into. */
#define MAX_BLOCKS 64

/*
 * The fewest rows of a block: a call streams all of b once, so a block
 * must do enough with it (2 R FLOPs per float of b). b of up to
 * SMALL_B_FLOATS floats (512 KiB) stays in a core's L2 cache from one call
 * to the next; a larger b comes from L3 each time and needs taller blocks.
 */
#define SMALL_B_FLOATS (128 * 1024)
#define MIN_ROWS_SMALL_B 16
#define MIN_ROWS_LARGE_B 128

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

/*
 * The rows of each block of an m x k x n product, or m when it is not cut
 * (see the constants above). Rows are a multiple of 8.
 */
static int64_t block_rows_for(int64_t m, int64_t k, int64_t n)
{
    double flops = 2.0 * (double)m * (double)k * (double)n;
    if (flops < SPLIT_MIN_FLOPS) return m;
    int64_t min_rows = k * n <= SMALL_B_FLOATS ? MIN_ROWS_SMALL_B : MIN_ROWS_LARGE_B;
    double want = flops / BLOCK_FLOPS;
    int64_t nb = want < (double)MAX_BLOCKS ? (int64_t)want : MAX_BLOCKS;
    if (nb > m / min_rows) nb = m / min_rows;
    if (nb < 2) return m;
    int64_t rows = (m + nb - 1) / nb;
    rows = (rows + 7) / 8 * 8;
    return rows < m ? rows : m;
}

/*
 * The descriptor of rows rows of a row-major operand op(x) [.., cols]
 * stored untransposed ([.., cols], strides (cols, 1)) or transposed
 * ([cols, ld], strides (1, ld)).
 */
static dnnl_status_t block_md(dnnl_memory_desc_t *md, int64_t rows, int64_t cols, int trans, int64_t ld)
{
    dnnl_dims_t dims = {rows, cols}, strides = {trans ? 1 : cols, trans ? ld : 1};
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

/*
 * Prepares product mm (2-D, m x k x n in q) as row blocks of `rows` rows
 * (the last may have fewer): block b reads op(a) and writes y from row
 * b * rows on; every block reads b as the first block's primitive chose
 * to (packed, if the plan packs b, once per run for all of them).
 */
static recur_status prepare_blocks(const recur_kernel_args *a, onednn_prim *p, const recur_node *mm, mm_dims q,
                                   int64_t rows, int ta, int tb, char *err, size_t errlen)
{
    int nb = (int)((q.m + rows - 1) / rows);
    p->blocks = calloc((size_t)nb, sizeof *p->blocks);
    if (!p->blocks) {
        snprintf(err, errlen, "oneDNN %s: out of memory for its row blocks", p->what);
        return RECUR_ERR_NOMEM;
    }
    p->a_step = ta ? rows : rows * q.k;
    p->y_step = rows * q.n;
    int pack = recur_onednn_plan_packs(a->plan_state, mm->in[1], tb, q.k, q.n);
    dnnl_memory_desc_t plain_b, chosen_b;
    dnnl_status_t s = operand_md(&plain_b, 0, q.k, q.n, tb);
    if (s != dnnl_success) return md_fail(p, "dnnl_memory_desc_init_by_strides", s, err, errlen);
    for (int b = 0; b < nb; b++) {
        int64_t r = b < nb - 1 ? rows : q.m - rows * (nb - 1);
        onednn_prim *blk = p->blocks[b] = calloc(1, sizeof *blk);
        if (!blk) {
            snprintf(err, errlen, "oneDNN %s: out of memory for its row blocks", p->what);
            return RECUR_ERR_NOMEM;
        }
        p->n_blocks = b + 1;
        snprintf(blk->what, sizeof blk->what, "%.150s, rows %lld..%lld", p->what, (long long)(b * rows),
                 (long long)(b * rows + r - 1));
        onednn_arg args[4] = {{.arg = DNNL_ARG_SRC, .bind = 0},
                              {.arg = DNNL_ARG_WEIGHTS, .bind = 1},
                              {.arg = DNNL_ARG_DST, .bind = ONEDNN_BIND_OUTPUT},
                              {.arg = DNNL_ARG_BIAS, .bind = 2}};
        s = block_md(&args[0].md, r, q.k, ta, q.m);
        if (s == dnnl_success) s = block_md(&args[2].md, r, q.n, 0, q.n);
        if (s == dnnl_success && a->inner) s = operand_md(&args[3].md, 0, 1, q.n, 0);
        if (s != dnnl_success) return md_fail(p, "dnnl_memory_desc_init_by_strides", s, err, errlen);
        args[1].md = plain_b;
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
        if (pack) blk->bind[1] = ONEDNN_BIND_PACKED; /* args[1] is the weights: the node's packed copy */
        if (blk->scratch > p->slot_bytes) p->slot_bytes = (blk->scratch + 63) / 64 * 64;
    }
    int cap = recur_threads_cap();
    p->slots = cap < nb ? cap : nb;
    p->pack_at = p->work = (size_t)p->slots * p->slot_bytes;
    if (!pack) return RECUR_OK;
    int once = recur_onednn_plan_packs_once(a->plan_state, mm->in[1], tb, q.k, q.n); /* into the workspace */
    recur_status st = recur_onednn_packed_get(a->plan_state, mm->in[1], tb, q.k, q.n, &plain_b, &chosen_b,
                                              recur_onednn_engine(), once, &p->packed, p->what, err, errlen);
    if (st != RECUR_OK) return st;
    p->owns_packed = once;
    if (once) p->work = p->pack_at + p->packed->bytes;
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
        int64_t rows = block_rows_for(q.m, q.k, q.n);
        if (rows < q.m) return prepare_blocks(a, p, mm, q, rows, ta, tb, err, errlen);
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
    if (st != RECUR_OK || !pack) return st;
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
