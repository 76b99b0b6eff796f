/*
 * plan/fuse.c — pointwise fusion, a pass over a compiled plan.
 *
 * A group of elementwise ops of one shape (tanh, sigmoid, +, *, their
 * gradient helpers, ...) runs as one step: a small program over the
 * group's inputs (its leaves), block by block, with intermediates kept in
 * cache-sized registers. A member whose value something outside the group
 * reads is one of the kernel's outputs and keeps its buffer; the others
 * get none. The kernel runs where the group's last member ran, so a
 * member may join only if everything outside the group that reads it runs
 * later than that: members read by earlier steps pull those steps into
 * the group too, or stay out. An LSTM step's gate activations, cell
 * state, tanh of it and output are then one kernel with several outputs,
 * and so are the gate gradients of its backward step.
 *
 * Each instruction runs the loop its op's own kernel runs (the op's
 * elementwise loop, ops/pointwise.h), in the same order, so results are
 * bitwise those of the unfused plan. The graph itself is not changed.
 *
 * Leaves of the output's shape are read in place; a leaf that broadcasts by
 * whole repeats (a bias row, a scalar) is expanded block by block; a leaf
 * that is a column slice of a wider value (a gate of a preactivation) is
 * read from that value. Outputs that a concatenation along the last axis
 * joins (the per-gate gradients of a step) are written straight into
 * their columns of it, and the concatenation runs nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "plan_impl.h"
#include "ops/broadcast.h"
#include "ops/parallel.h"
#include "ops/pointwise.h"

#define BLOCK 256      /* elements per register */
#define MAX_LEAVES 24
#define MAX_INSTS 64

typedef struct fused_inst {
    int op;
    recur_pointwise_fn fn; /* the op's elementwise loop */
    float s;           /* attr.f[0] */
    int a, b;          /* source registers: 0..n_leaves-1 leaves, then instruction results */
    int out;           /* index into the program's outputs, or -1: a register only */
} fused_inst;

#define MAX_DSTS 4     /* places one output is written to */

/* A place an output is written to: value id's buffer, `offset` bytes in. */
typedef struct fused_dst {
    int32_t id;
    size_t offset;
    int64_t cols;      /* 0: contiguous; else rows of cols floats ... */
    int64_t stride;    /* ... stride floats apart: columns of a concatenation */
    float *at;         /* bound once the plan's memory is laid out */
} fused_dst;

/* An instruction result that leaves the kernel: the value it is, written to each of its places. */
typedef struct fused_out {
    int32_t id;
    int n_dst;         /* dst[0]: the value's own buffer (or its columns of its first concatenation) */
    fused_dst dst[MAX_DSTS];
} fused_out;

typedef struct fused_prog {
    int n_leaves, n_insts, n_out;
    int parts;                    /* ranges the kernel may run at once (a set of scratch registers each) */
    int64_t work;                 /* floats moved per element, for the threading threshold (work_per_element) */
    int32_t leaves[MAX_LEAVES];   /* leaf value ids (the step's inputs) */
    /* A leaf that is a slice x[..., start:start+cols] of the last axis of a value x [..., stride]
     * is read from x itself (leaves[l] is x): element i of the leaf is
     * x[(i / cols) * stride + start + i % cols]. cols[l] == 0: a leaf read as it is. */
    int64_t cols[MAX_LEAVES], stride[MAX_LEAVES], start[MAX_LEAVES];
    fused_inst inst[MAX_INSTS];   /* in dependency order; the last is the step's own value */
    fused_out out[];              /* n_out of them (MAX_INSTS while the program is built) */
} fused_prog;

/* Bytes of a program with n outputs. */
static size_t prog_bytes(int n_out) { return sizeof(fused_prog) + sizeof(fused_out) * (size_t)n_out; }

void recur_fused_free(void *program) { free(program); }


/* One run of a fused kernel: the program, its leaves, and how each broadcasts (recur_bcast_stretch). */
typedef struct fused_job {
    const fused_prog *fp;
    const recur_kernel_args *k;
    int64_t n, period[MAX_LEAVES], stretch[MAX_LEAVES];
} fused_job;

/*
 * Registers of block `base` (len elements): leaves of the output's shape
 * point into their data; a leaf repeating with period p is copied out in
 * runs, element i reading i mod p; a stretched leaf (a mask [B, 1] over
 * [B, H]) is written as runs of its elements, element i reading
 * (i / stretch) mod p; a column slice is copied out row run by row run.
 */
static void load_leaves(const fused_job *j, int64_t base, int64_t len, float *scratch, const float **reg)
{
    for (int l = 0; l < j->fp->n_leaves; l++) {
        int64_t cols = j->fp->cols[l];
        if (cols > 0) {
            float *r = scratch + (size_t)l * BLOCK;
            const float *x = j->k->x[l] + j->fp->start[l];
            for (int64_t i = 0; i < len;) {
                int64_t row = (base + i) / cols, col = (base + i) % cols;
                int64_t run = cols - col < len - i ? cols - col : len - i;
                memcpy(r + i, x + row * j->fp->stride[l] + col, sizeof(float) * (size_t)run);
                i += run;
            }
            reg[l] = r;
            continue;
        }
        int64_t p = j->period[l], stretch = j->stretch[l];
        if (p == j->n) {
            reg[l] = j->k->x[l] + base;
            continue;
        }
        float *r = scratch + (size_t)l * BLOCK;
        const float *x = j->k->x[l];
        if (stretch > 1) {
            for (int64_t i = 0; i < len;) {
                int64_t e = base + i, run = stretch - e % stretch;
                if (run > len - i) run = len - i;
                float v = x[(e / stretch) % p];
                for (int64_t q = 0; q < run; q++) r[i + q] = v;
                i += run;
            }
        } else if (p < 16) { /* a scalar or a short row: element by element */
            for (int64_t i = 0, at = base % p; i < len; i++) {
                r[i] = x[at];
                if (++at == p) at = 0;
            }
        } else { /* whole runs of the row */
            for (int64_t i = 0, at = base % p; i < len; at = 0) {
                int64_t run = p - at < len - i ? p - at : len - i;
                memcpy(r + i, x + at, sizeof(float) * (size_t)run);
                i += run;
            }
        }
        reg[l] = r;
    }
}

/* Writes block `base` (len elements, in r) of an output to a place: contiguous, or columns of a wider value. */
static void store(const fused_dst *d, int64_t base, int64_t len, const float *r)
{
    if (!d->cols) {
        if (d->at + base != r) memcpy(d->at + base, r, sizeof(float) * (size_t)len);
        return;
    }
    for (int64_t i = 0; i < len;) {
        int64_t row = (base + i) / d->cols, col = (base + i) % d->cols;
        int64_t run = d->cols - col < len - i ? d->cols - col : len - i;
        memcpy(d->at + row * d->stride + col, r + i, sizeof(float) * (size_t)run);
        i += run;
    }
}

/*
 * A fused kernel's work per element in floats moved, the measure the
 * threading threshold takes (ops/parallel.h): what it reads and writes,
 * and as much again per instruction (an exp, sigmoid or tanh costs about
 * what streaming a few floats does).
 */
static int64_t work_per_element(const fused_prog *fp)
{
    int64_t w = fp->n_leaves + fp->n_out;
    for (int t = 0; t < fp->n_insts; t++) w += recur_op_props_of(fp->inst[t].op)->cost;
    return w;
}

/* Blocks [lo, hi) of BLOCK elements, with part `part`'s scratch registers. */
static void fused_blocks(void *ctx, int64_t lo, int64_t hi, int part)
{
    const fused_job *j = ctx;
    const fused_prog *fp = j->fp;
    float *scratch = j->k->work + (size_t)part * (size_t)(fp->n_leaves + fp->n_insts) * BLOCK;
    const float *reg[MAX_LEAVES + MAX_INSTS];
    for (int64_t blk = lo; blk < hi; blk++) {
        int64_t base = blk * BLOCK, len = j->n - base < BLOCK ? j->n - base : BLOCK;
        load_leaves(j, base, len, scratch, reg);
        for (int t = 0; t < fp->n_insts; t++) {
            const fused_inst *in = &fp->inst[t];
            const fused_out *o = in->out >= 0 ? &fp->out[in->out] : NULL;
            /* computed into its own buffer where it has one, else into a register and stored */
            float *dst = o && !o->dst[0].cols ? o->dst[0].at + base : scratch + (size_t)(fp->n_leaves + t) * BLOCK;
            in->fn(in->s, reg[in->a], in->b >= 0 ? reg[in->b] : reg[in->a], dst, len);
            for (int d = 0; o && d < o->n_dst; d++) store(&o->dst[d], base, len, dst);
            reg[fp->n_leaves + t] = dst;
        }
    }
}

/*
 * The fused kernel: for each block of BLOCK elements, registers point at
 * leaf data (or an expanded copy of a broadcast leaf) and instruction
 * results; outputs are written where they live. Blocks are independent,
 * so a large tensor's blocks are cut into one range per thread, each with
 * its own scratch registers (fp->parts sets of them).
 */
static recur_status fused_forward(const recur_kernel_args *k)
{
    fused_job j = {.fp = k->state, .k = k, .n = recur_shape_numel(k->node->shape)};
    for (int t = 0; t < j.fp->n_insts; t++)
        if (!j.fp->inst[t].fn) return recur_kernel_fail(k, "fused kernel: op %d is not pointwise", j.fp->inst[t].op);
    for (int l = 0; l < j.fp->n_leaves; l++) {
        j.stretch[l] = 1;
        j.period[l] = j.fp->cols[l] ? 0 : recur_bcast_stretch(k->node->shape, k->xs[l], &j.stretch[l]);
    }
    int64_t n_blocks = (j.n + BLOCK - 1) / BLOCK, floats = j.n * j.fp->work;
    if (recur_parallel_parts(n_blocks, floats) <= j.fp->parts) recur_parallel_range(n_blocks, floats, fused_blocks, &j);
    else fused_blocks(&j, 0, n_blocks, 0); /* more threads now than when compiled: scratch for one */
    return RECUR_OK;
}

/*
 * The value a fused kernel reads for leaf src: src itself, or, when src is
 * a slice of the last axis of a value x (a gate of a preactivation
 * [B, G*H]) with the output's shape, or step t of such a slice of a
 * sequence [T, B, G*H], x (its columns start.. start+cols of rows of
 * `stride`, start counting the rows of earlier steps). The slice then need
 * not be copied out at all.
 */
static int32_t column_slice_source(const recur_plan *p, int32_t src, recur_shape out, int64_t *cols, int64_t *stride,
                                   int64_t *start)
{
    const recur_graph *g = p->g;
    const recur_node *n = &g->nodes[src];
    if (!recur_shape_equal(n->shape, out)) return src;
    int64_t rows_before = 0; /* a select of step t of a sliced sequence: rows t * (rows per step) onwards */
    if (n->op == RECUR_OP_TAKE && n->attr.i[0] == 0 && g->nodes[n->in[0]].shape.ndim >= 2) {
        const recur_node *seq = &g->nodes[n->in[0]];
        rows_before = n->attr.i[1] * (recur_shape_numel(seq->shape) / seq->shape.d[0] / seq->shape.d[seq->shape.ndim - 1]);
        n = seq;
    }
    if (n->op != RECUR_OP_SLICE || n->attr.i[0] != n->shape.ndim - 1) return src;
    const recur_node *x = &g->nodes[n->in[0]];
    if (!p->role[n->in[0]] || n->attr.i[2] == x->shape.d[x->shape.ndim - 1]) return src;
    *cols = n->attr.i[2];
    *stride = x->shape.d[x->shape.ndim - 1];
    *start = rows_before * *stride + n->attr.i[1];
    return n->in[0];
}

/*
 * The value a fused kernel reads for leaf src when src only repeats a
 * smaller value x: src = broadcast_to(x) of the output's shape, or step t
 * of broadcast_to(x, [T, ...]) (the gradient of a sum over a sequence) --
 * x itself, read with its period (x repeats whole in the output). src
 * otherwise.
 */
static int32_t broadcast_source(const recur_plan *p, int32_t src, recur_shape out)
{
    const recur_graph *g = p->g;
    const recur_node *n = &g->nodes[src];
    if (!recur_shape_equal(n->shape, out)) return src;
    if (n->op == RECUR_OP_TAKE && n->attr.i[0] == 0) n = &g->nodes[n->in[0]];
    if (n->op != RECUR_OP_BROADCAST_TO || !p->role[n->in[0]]) return src;
    return recur_bcast_period(out, g->nodes[n->in[0]].shape) > 0 ? n->in[0] : src;
}

/* The steps that read each value: those of value v are step[first[v] .. first[v + 1]). */
typedef struct reader_lists {
    int *first, *step;
} reader_lists;

/* The reader lists of the plan's live steps as they are now; 0 if out of memory. */
static int readers_make(const recur_plan *p, reader_lists *r)
{
    int n = p->n_vals, n_reads = 0;
    for (int s = 0; s < p->n_steps; s++) n_reads += p->steps[s].dead ? 0 : p->steps[s].n_in;
    r->first = calloc((size_t)n + 2, sizeof(int));
    r->step = malloc(sizeof(int) * ((size_t)n_reads + 1));
    if (!r->first || !r->step) return 0;
    for (int s = 0; s < p->n_steps; s++)
        for (int k = 0; !p->steps[s].dead && k < p->steps[s].n_in; k++) r->first[p->steps[s].in[k] + 2]++;
    for (int i = 0; i < n; i++) r->first[i + 2] += r->first[i + 1];
    for (int s = 0; s < p->n_steps; s++)
        for (int k = 0; !p->steps[s].dead && k < p->steps[s].n_in; k++) r->step[r->first[p->steps[s].in[k] + 1]++] = s;
    return 1;
}

static void readers_free(reader_lists *r) { free(r->first), free(r->step); }

static int n_readers(const reader_lists *r, int32_t v) { return r->first[v + 1] - r->first[v]; }

/* A plan being fused: who reads what, and the group being formed. */
typedef struct fuse_ctx {
    recur_plan *p;
    int *step_of;              /* value id -> the step computing it, or -1 */
    reader_lists r;            /* who reads each value, before fusion */
    char *taken;               /* steps already in a group: every such group runs later than any step not taken */
    char *mark;                /* steps in the group being formed */
    int *members;
    int n_members;
    int *group_of;             /* step -> the root of the group that took it, or -1 */
    int *recomputed_by;        /* value -> the root of a group computing it again from its input (instead of
                                * reading it), or -1: that group's members no longer read it */
    char *extra_read;          /* value -> 1 if such a group reads it (the input of what it computes again) */
} fuse_ctx;

/* 1 if step s's value may be computed inside a fused kernel of the given shape. */
static int fusable(const recur_plan *p, const plan_step *step, recur_shape shape)
{
    const recur_node *n = &p->g->nodes[step->id];
    if (step->dead || !step->fn || step->inner >= 0 || !recur_pointwise_arity(n->op) || !recur_shape_equal(n->shape, shape))
        return 0;
    int64_t stretch;
    for (int k = 0; k < step->n_in; k++) /* every operand: the output's shape, or a smaller one repeated or stretched */
        if (recur_bcast_stretch(shape, p->g->nodes[step->in[k]].shape, &stretch) <= 0) return 0;
    return 1;
}

/*
 * Adds step q to the group whose kernel runs at step `root`, with every
 * step before the root that reads a value joining the group (transitively):
 * those could not run before the kernel. 1 if added; 0 (and the group as
 * it was) if one of them cannot join.
 */
static int absorb(fuse_ctx *c, int q, int root, recur_shape shape)
{
    int start = c->n_members;
    c->members[c->n_members++] = q;
    c->mark[q] = 1;
    for (int j = start; j < c->n_members; j++) {
        int32_t v = c->p->steps[c->members[j]].id;
        PLAN_WORK(c->p, 1 + c->r.first[v + 1] - c->r.first[v]);
        for (int u = c->r.first[v]; u < c->r.first[v + 1]; u++) {
            int s = c->r.step[u];
            if (c->mark[s] || s > root || c->taken[s]) continue; /* in the group, or runs after its kernel */
            if (!fusable(c->p, &c->p->steps[s], shape) || c->n_members == MAX_INSTS) goto undo;
            c->members[c->n_members++] = s;
            c->mark[s] = 1;
        }
    }
    return 1;
undo:
    while (c->n_members > start) c->mark[c->members[--c->n_members]] = 0;
    return 0;
}

/* 1 if reader step u still reads value v: not a member of a group that computes v again instead. */
static int still_reads(const fuse_ctx *c, int32_t v, int u)
{
    return c->recomputed_by[v] < 0 || c->group_of[u] != c->recomputed_by[v];
}

/* 1 if something outside the group reads member step s's value (or it is a plan output). */
static int read_outside(const fuse_ctx *c, int s)
{
    int32_t v = c->p->steps[s].id;
    if ((c->p->role[v] & ROLE_OUTPUT) || c->extra_read[v]) return 1;
    for (int u = c->r.first[v]; u < c->r.first[v + 1]; u++)
        if (!c->mark[c->r.step[u]] && still_reads(c, v, c->r.step[u])) return 1;
    return 0;
}

/* A program being built: registers are leaves 0..MAX_LEAVES-1 and MAX_LEAVES + instruction index until renumbered. */
typedef struct builder {
    const fuse_ctx *c;
    fused_prog *fp;
    recur_shape shape;         /* the group's */
    int inlined[MAX_INSTS];    /* steps computed by columns inside the program (emit_columns) */
    int n_inlined;
    int32_t slice[MAX_INSTS];  /* column slices of inlined steps that members read ... */
    int slice_reg[MAX_INSTS];  /* ... and the registers holding them */
    int n_slices;
    int root;                  /* the step the kernel runs at */
    int32_t again[MAX_INSTS];  /* values computed again from their input instead of read ... */
    int again_reg[MAX_INSTS];  /* ... and their registers */
    int n_again;
} builder;

/* The register of leaf `leaf` read with columns (cols, stride, start) (cols 0: as it is); -1 if too many leaves. */
static int leaf_reg(builder *b, int32_t leaf, int64_t cols, int64_t stride, int64_t start)
{
    fused_prog *fp = b->fp;
    for (int l = 0; l < fp->n_leaves; l++)
        if (fp->leaves[l] == leaf && fp->cols[l] == cols && fp->start[l] == start && fp->stride[l] == stride) return l;
    if (fp->n_leaves == MAX_LEAVES) return -1;
    int l = fp->n_leaves++;
    fp->leaves[l] = leaf;
    fp->cols[l] = cols, fp->stride[l] = stride, fp->start[l] = start;
    return l;
}

/* Appends instruction op(a, b); its register, or -1 if the program is full. */
static int emit(builder *b, const recur_node *node, int a, int r)
{
    fused_prog *fp = b->fp;
    if (fp->n_insts == MAX_INSTS) return -1;
    fp->inst[fp->n_insts] = (fused_inst){.op = node->op, .fn = recur_op(node->op)->pointwise, .s = node->attr.f[0],
                                         .a = a, .b = r, .out = -1};
    return MAX_LEAVES + fp->n_insts++;
}

/*
 * 1 if step q (a pointwise op of shape [..., W]) can be computed for a
 * window of its columns inside the program: nothing outside the group
 * needs its value, only column slices of it that members read (or, for
 * an inner step, the one step that reads it), and each of its operands
 * has its shape, is a row [W], a scalar, or such a step itself.
 */
static int inlinable(const builder *b, int q, int32_t reader)
{
    const fuse_ctx *c = b->c;
    const recur_plan *p = c->p;
    const plan_step *step = &p->steps[q];
    const recur_node *n = &p->g->nodes[step->id];
    if (c->taken[q] || c->mark[q] || !fusable(p, step, n->shape) || (p->role[step->id] & ROLE_OUTPUT) || c->extra_read[step->id])
        return 0;
    for (int u = c->r.first[step->id]; u < c->r.first[step->id + 1]; u++) {
        const plan_step *r = &p->steps[c->r.step[u]];
        if (reader >= 0) { /* an inner step: read by its outer step only */
            if (r->id != reader) return 0;
            continue;
        }
        const recur_node *sl = &p->g->nodes[r->id];
        if (sl->op != RECUR_OP_SLICE || sl->attr.i[0] != sl->shape.ndim - 1 || !recur_shape_equal(sl->shape, b->shape) ||
            (p->role[r->id] & ROLE_OUTPUT))
            return 0;
        for (int v = c->r.first[r->id]; v < c->r.first[r->id + 1]; v++)
            if (!c->mark[c->r.step[v]]) return 0;
    }
    int64_t w = n->shape.d[n->shape.ndim - 1];
    for (int k = 0; k < step->n_in; k++) { /* operands of its shape are read by columns (or inlined in turn) */
        recur_shape x = p->g->nodes[step->in[k]].shape;
        int64_t numel = recur_shape_numel(x);
        if (!recur_shape_equal(x, n->shape) && numel != 1 && !(numel == w && x.d[x.ndim - 1] == w)) return 0;
    }
    return 1;
}
/* Emits step q's op on columns [start, start + cols) of its value; the result's register, or -1. */
static int emit_columns(builder *b, int q, int64_t cols, int64_t start)
{
    const recur_plan *p = b->c->p;
    const plan_step *step = &p->steps[q];
    const recur_node *n = &p->g->nodes[step->id];
    int64_t w = n->shape.d[n->shape.ndim - 1];
    int reg[2] = {-1, -1};
    for (int k = 0; k < step->n_in; k++) {
        int32_t x = step->in[k];
        recur_shape xs = p->g->nodes[x].shape;
        int q2 = b->c->step_of[x];
        if (!recur_shape_equal(xs, n->shape)) /* a row read by columns too, or a scalar */
            reg[k] = recur_shape_numel(xs) == 1 ? leaf_reg(b, x, 0, 0, 0) : leaf_reg(b, x, cols, 0, start);
        else if (q2 >= 0 && recur_pointwise_arity(p->g->nodes[x].op) && inlinable(b, q2, step->id))
            reg[k] = emit_columns(b, q2, cols, start);
        else
            reg[k] = leaf_reg(b, x, cols, w, start);
        if (reg[k] < 0) return -1;
    }
    int seen = 0;
    for (int i = 0; i < b->n_inlined; i++) seen |= b->inlined[i] == q;
    if (!seen) b->inlined[b->n_inlined++] = q;
    return emit(b, n, reg[0], reg[1]);
}

/*
 * Computing again instead of keeping: a value y = tanh(x) (or sigmoid, exp,
 * 1 - x, -x, s x) that an earlier kernel computes, whose input x is kept
 * for readers close before this kernel anyway, is computed again here
 * from x rather than read: tanh(c_t) of an LSTM's forward step is then not
 * kept from the forward pass to the backward one (its cell state c_t is:
 * the next step reads it), nor a GRU's 1 - z_t beside z_t, and the forward
 * kernel writes one value less. Applies when x lives at most a quarter as
 * many steps longer as y would be kept (plan steps as the measure); for
 * the cheap ops also when this kernel reads x anyway. The input x, or -1.
 */
static int32_t recompute_from(const builder *b, int32_t src)
{
    const fuse_ctx *c = b->c;
    const recur_plan *p = c->p;
    int q = c->step_of[src];
    if (q < 0 || c->taken[q] || c->mark[q] || (p->role[src] & ROLE_OUTPUT) || !fusable(p, &p->steps[q], b->shape)) return -1;
    const recur_node *y = &p->g->nodes[src];
    if (!recur_op_has(y->op, RECUR_OPP_RECOMPUTE)) return -1;
    if (c->recomputed_by[src] >= 0 && c->recomputed_by[src] != b->root) return -1;
    int32_t x = y->in[0];
    int qx = c->step_of[x];
    if (!p->role[x] || !recur_shape_equal(p->g->nodes[x].shape, b->shape) || (qx >= 0 && p->steps[qx].dead)) return -1;
    int cheap = recur_op_props_of(y->op)->cost <= 1;
    int last = -1; /* the last step reading x besides y's (for cheap ops, a member of this group counts as the kernel) */
    for (int u = c->r.first[x]; u < c->r.first[x + 1]; u++) {
        int s = c->r.step[u];
        if (c->mark[s] && !cheap) continue;
        if (c->mark[s]) s = b->root;
        if (s != q && s <= b->root && s > last) last = s;
    }
    return last >= 0 && (int64_t)(b->root - last) * 4 <= (int64_t)(b->root - q) ? x : -1;
}

/*
 * The register for member operand src: an earlier member's result, a
 * column slice of a step computed inside the program, or a leaf (a column
 * slice of a wider value is read from it). -1 if the program is full.
 */
static int operand(builder *b, int m, int32_t src, const int *member_reg)
{
    const fuse_ctx *c = b->c;
    const recur_plan *p = c->p;
    for (int q = 0; q < m; q++)
        if (p->steps[c->members[q]].id == src) return member_reg[q];
    const recur_node *n = &p->g->nodes[src];
    int q = n->op == RECUR_OP_SLICE ? c->step_of[n->in[0]] : -1;
    if (q >= 0 && n->attr.i[0] == n->shape.ndim - 1 && recur_shape_equal(n->shape, b->shape) &&
        recur_pointwise_arity(p->g->nodes[n->in[0]].op) && inlinable(b, q, -1)) {
        for (int i = 0; i < b->n_slices; i++)
            if (b->slice[i] == src) return b->slice_reg[i];
        int r = emit_columns(b, q, n->attr.i[2], n->attr.i[1]);
        if (r >= 0) b->slice[b->n_slices] = src, b->slice_reg[b->n_slices++] = r;
        return r;
    }
    for (int i = 0; i < b->n_again; i++)
        if (b->again[i] == src) return b->again_reg[i];
    int32_t x = recompute_from(b, src);
    if (x >= 0 && b->n_again < MAX_INSTS) {
        int a = operand(b, m, x, member_reg);
        int r = a < 0 ? -1 : emit(b, &p->g->nodes[src], a, -1);
        if (r >= 0) b->again[b->n_again] = src, b->again_reg[b->n_again++] = r;
        return r;
    }
    int64_t cols = 0, stride = 0, start = 0;
    int32_t whole = broadcast_source(p, src, b->shape);
    if (whole != src) return leaf_reg(b, whole, 0, 0, 0);
    int32_t leaf = column_slice_source(p, src, b->shape, &cols, &stride, &start);
    return leaf_reg(b, leaf, cols, stride, start);
}

/*
 * Builds the program of the group c->members (sorted in plan order) into
 * b->fp; member_inst[m]: the instruction computing member m. 0 if it does
 * not fit.
 */
static int build_program(builder *b, int *member_inst)
{
    const fuse_ctx *c = b->c;
    const recur_plan *p = c->p;
    fused_prog *fp = b->fp;
    int n_members = c->n_members, member_reg[MAX_INSTS];
    memset(fp, 0, sizeof *fp);
    for (int m = 0; m < n_members; m++) {
        const plan_step *st = &p->steps[c->members[m]];
        int reg[2] = {-1, -1};
        for (int k = 0; k < st->n_in; k++)
            if ((reg[k] = operand(b, m, st->in[k], member_reg)) < 0) return 0;
        if ((member_reg[m] = emit(b, &p->g->nodes[st->id], reg[0], reg[1])) < 0) return 0;
        member_inst[m] = member_reg[m] - MAX_LEAVES;
        if (m == n_members - 1 || read_outside(c, c->members[m])) {
            fp->inst[member_inst[m]].out = fp->n_out;
            fp->out[fp->n_out++] = (fused_out){.id = st->id, .n_dst = 1, .dst[0] = {.id = st->id}};
        }
    }
    /* Registers: leaves first, then instruction results. */
    for (int t = 0; t < fp->n_insts; t++) {
        fused_inst *in = &fp->inst[t];
        if (in->a >= MAX_LEAVES) in->a = fp->n_leaves + (in->a - MAX_LEAVES);
        if (in->b >= MAX_LEAVES) in->b = fp->n_leaves + (in->b - MAX_LEAVES);
    }
    return 1;
}

/* Arithmetic that a one-instruction program runs as fast as its own kernel: the cheapest elementwise ops. */
static int cheap_arithmetic(int op) { return recur_pointwise_arity(op) && recur_op_props_of(op)->cost <= 1; }

/* 1 if step reads a column slice that a program could read from its source instead of a copy. */
static int reads_column_slice(const recur_plan *p, const plan_step *step, recur_shape shape)
{
    for (int k = 0; k < step->n_in; k++) {
        int64_t cols = 0, stride = 0, start = 0;
        if (column_slice_source(p, step->in[k], shape, &cols, &stride, &start) != step->in[k]) return 1;
    }
    return 0;
}

/* The step computing the data value x reads: through slices, selects and reshapes to their source; -1 for none. */
static int source_step(const fuse_ctx *c, int32_t x)
{
    const recur_graph *g = c->p->g;
    for (;;) {
        const recur_node *n = &g->nodes[x];
        if (!recur_op_has(n->op, RECUR_OPP_SELECT)) return c->step_of[x];
        x = n->in[0];
    }
}

/*
 * Members that the plan runs before a step computing a large value (8
 * times the group's size or more: a sequence, not a step) that the group
 * reads leave the group, with everything before them: such a step marks
 * a phase of the computation (the gradients of a whole output sequence
 * before the backward pass), and a kernel joining work from both sides
 * would keep what its early members read alive across it (the last
 * forward step of an LSTM would join the first backward one, and the
 * input projection of every step would live until the gate gradients
 * begin to be written). Heuristic; correctness does not depend on it.
 */
static void keep_after_operands(fuse_ctx *c)
{
    const recur_plan *p = c->p;
    int64_t numel = recur_shape_numel(p->g->nodes[p->steps[c->members[0]].id].shape);
    int last = -1;
    for (int i = 0; i < c->n_members; i++) {
        const plan_step *m = &p->steps[c->members[i]];
        for (int k = 0; k < m->n_in; k++) {
            int q = source_step(c, m->in[k]);
            if (q >= 0 && !c->mark[q] && q > last && recur_shape_numel(p->g->nodes[p->steps[q].id].shape) >= 8 * numel)
                last = q;
        }
    }
    int kept = 0;
    for (int i = 0; i < c->n_members; i++) {
        if (c->members[i] > last) c->members[kept++] = c->members[i];
        else c->mark[c->members[i]] = 0;
    }
    c->n_members = kept;
}

/* Forms the group whose kernel runs at step r and turns it into a fused step; 0 if it stays as it is. */
static recur_status fuse_group(fuse_ctx *c, int r)
{
    recur_plan *p = c->p;
    recur_shape shape = p->g->nodes[p->steps[r].id].shape;
    c->n_members = 0;
    absorb(c, r, r, shape); /* nothing before r reads r's value */
    for (int i = 0; i < c->n_members; i++) { /* members' operands join where they can */
        const plan_step *m = &p->steps[c->members[i]];
        for (int k = 0; k < m->n_in; k++) {
            int q = c->step_of[m->in[k]];
            if (q >= 0 && !c->mark[q] && !c->taken[q] && fusable(p, &p->steps[q], shape)) absorb(c, q, r, shape);
        }
    }
    keep_after_operands(c);
    int n_members = c->n_members;
    int single = n_members == 1 && !(cheap_arithmetic(p->g->nodes[p->steps[r].id].op) && reads_column_slice(p, &p->steps[r], shape));
    /* Plan order is a dependency order for the program. */
    for (int i = 1; i < n_members; i++)
        for (int j = i; j > 0 && c->members[j] < c->members[j - 1]; j--) {
            int t = c->members[j];
            c->members[j] = c->members[j - 1], c->members[j - 1] = t;
        }
    fused_prog *fp = single ? NULL : malloc(prog_bytes(MAX_INSTS));
    recur_status st = RECUR_OK;
    if (!single && !fp) st = recur_error_set(&p->error, RECUR_ERR_NOMEM, "compile: out of memory fusing");
    builder b = {.c = c, .fp = fp, .shape = shape, .root = r};
    int member_inst[MAX_INSTS];
    if (fp && build_program(&b, member_inst)) {
        fused_prog *fit = realloc(fp, prog_bytes(fp->n_out)); /* only the outputs it has */
        if (fit) fp = fit;
        for (int i = 0; i < b.n_inlined; i++) { /* computed by columns inside the kernel: no buffer, no run */
            plan_step *q = &p->steps[b.inlined[i]];
            q->fn = NULL;
            q->dead = 1;
            c->taken[b.inlined[i]] = 1;
        }
        for (int i = 0; i < b.n_again; i++) { /* the group reads their inputs, not them */
            c->recomputed_by[b.again[i]] = r;
            c->extra_read[p->g->nodes[b.again[i]].in[0]] = 1;
        }
        for (int i = 0; i < n_members; i++) c->group_of[c->members[i]] = r;
        for (int i = 0; i < n_members - 1; i++) {
            plan_step *m = &p->steps[c->members[i]];
            int out = fp->inst[member_inst[i]].out >= 0;
            m->fn = NULL;
            m->n_in = 0;
            m->dead = !out;              /* an intermediate: no buffer */
            m->made_by = out ? r : -1;   /* an output: its buffer, written by step r */
            c->taken[c->members[i]] = 1;
        }
        plan_step *root = &p->steps[r];
        root->fn = fused_forward;
        root->state = fp;
        root->owns_state = 1;
        root->n_in = fp->n_leaves;
        root->in = fp->leaves;
        int64_t numel = recur_shape_numel(shape);
        fp->work = work_per_element(fp);
        fp->parts = recur_parallel_parts((numel + BLOCK - 1) / BLOCK, numel * fp->work);
        root->work = sizeof(float) * (size_t)BLOCK * (size_t)(fp->n_leaves + fp->n_insts) * (size_t)fp->parts;
    } else {
        free(fp); /* too large a program: the steps stay as they are */
    }
    c->taken[r] = 1;
    for (int i = 0; i < n_members; i++) c->mark[c->members[i]] = 0;
    return st;
}

/* 1 if steps a and b are the same concatenation of the same values. */
static int same_concat(const recur_plan *p, const plan_step *a, const plan_step *b)
{
    const recur_node *x = &p->g->nodes[a->id], *y = &p->g->nodes[b->id];
    return x->op == RECUR_OP_CONCAT && y->op == RECUR_OP_CONCAT && x->attr.i[0] == y->attr.i[0] && a->n_in == b->n_in &&
           memcmp(a->in, b->in, sizeof(int32_t) * (size_t)a->n_in) == 0;
}

/* 1 if step s is a concatenation along the last axis of distinct values that fused kernels write (where[]). */
static int columns_candidate(const recur_plan *p, const plan_step *step, fused_out **where)
{
    const recur_node *n = &p->g->nodes[step->id];
    if (step->dead || !step->fn || n->op != RECUR_OP_CONCAT || n->attr.i[0] != n->shape.ndim - 1 ||
        (p->role[step->id] & ROLE_OUTPUT))
        return 0;
    for (int k = 0; k < step->n_in; k++) {
        if (!where[step->in[k]] || (p->role[step->in[k]] & ROLE_OUTPUT)) return 0;
        for (int j = 0; j < k; j++)
            if (step->in[j] == step->in[k]) return 0;
    }
    return 1;
}

/*
 * Concatenations along the last axis of values that fused kernels write
 * (the per-gate gradients of a step, joined into the gradient of the
 * preactivation): each part is written into its columns of every such
 * concatenation reading it (a GRU joins its gate gradients twice, with a
 * different third part), and the concatenations run nothing (made_by: the first kernel writing them). A concatenation identical to an earlier
 * one stays a step: the executor makes it share the earlier one's buffer.
 * A part that only such concatenations read lies in the columns of the
 * first (no buffer of its own); a part something else reads too (a
 * hand-written cell's per-gate bias gradient) keeps its own buffer as well.
 * where[v]: the fused_out value v is, or NULL.
 */
static void place_columns(fuse_ctx *c, fused_out **where)
{
    recur_plan *p = c->p;
    recur_graph *g = p->g;
    reader_lists r; /* the steps reading each value now */
    int *rep = malloc(sizeof(int) * ((size_t)p->n_steps + 1)); /* a candidate's step, an identical copy's original, or -1 */
    int lists = readers_make(p, &r);
    if (!lists || !rep) goto out; /* an optimisation: the concatenations copy */
    const int *first = r.first, *readers = r.step;
    for (int s = 0; s < p->n_steps; s++) {
        rep[s] = columns_candidate(p, &p->steps[s], where) ? s : -1;
        if (rep[s] != s) continue;
        /* An identical earlier concatenation reads the same first part: look among that part's readers only. */
        int32_t x = p->steps[s].in[0];
        PLAN_WORK(p, first[x + 1] - first[x]);
        for (int u = first[x]; u < first[x + 1]; u++) {
            int e = readers[u];
            if (e < s && rep[e] == e && same_concat(p, &p->steps[e], &p->steps[s]) && e < rep[s]) rep[s] = e;
        }
    }
    /* Each part goes to every candidate reading it, besides its own place: drop candidates with a part read by too many. */
    for (int s = 0; s < p->n_steps; s++) {
        for (int k = 0; rep[s] == s && k < p->steps[s].n_in; k++) {
            int32_t x = p->steps[s].in[k], places = 0;
            for (int u = first[x]; u < first[x + 1]; u++) places += rep[readers[u]] == readers[u];
            if (places >= MAX_DSTS) { /* s and its identical copies, which read x too */
                for (int u = first[x]; u < first[x + 1]; u++)
                    if (rep[readers[u]] == s) rep[readers[u]] = -1;
                rep[s] = -1;
            }
        }
    }
    for (int s = 0; s < p->n_steps; s++) {
        plan_step *step = &p->steps[s];
        if (rep[s] != s) continue;
        const recur_node *cat = &g->nodes[step->id];
        int64_t col = 0, stride = cat->shape.d[cat->shape.ndim - 1];
        int writer = s;
        for (int k = 0; k < step->n_in; k++) {
            int32_t x = step->in[k];
            const recur_node *part = &g->nodes[x];
            int64_t cols = part->shape.d[part->shape.ndim - 1];
            fused_out *o = where[x];
            fused_dst d = {.id = step->id, .offset = sizeof(float) * (size_t)col, .cols = cols, .stride = stride};
            int only_joined = 1; /* read by placed concatenations (and their copies) only */
            for (int u = first[x]; u < first[x + 1]; u++) only_joined &= rep[readers[u]] >= 0 && rep[rep[readers[u]]] == rep[readers[u]];
            if (only_joined && o->n_dst == 1 && !o->dst[0].cols) { /* its first concatenation: where the value lies */
                o->dst[0] = (fused_dst){.id = x, .cols = cols, .stride = stride};
                p->steps[c->step_of[x]].columns_of = step->id;
                p->steps[c->step_of[x]].columns_at = d.offset;
            } else {
                o->dst[o->n_dst++] = d; /* besides its own place */
            }
            int w = c->step_of[x], at = p->steps[w].made_by >= 0 ? p->steps[w].made_by : w;
            if (at < writer) writer = at;
            col += cols;
        }
        step->fn = NULL;
        step->made_by = writer;
    }
out:
    readers_free(&r);
    free(rep);
}

/*
 * A gradient written into columns of a concatenation overwrites the value
 * it was computed from when nothing else reads that value: y = sigmoid(x)
 * of a forward step is read only by the backward kernel computing
 * dx = sigmoid_grad(y, dy), so y is written where dx will be (its columns
 * of the step's gate gradients) and dx replaces it. The backward kernel
 * reads y as a column leaf, copied into its registers block by block
 * before any instruction writes, so the overwrite is safe. An LSTM's
 * gates then cost no memory of their own beyond the gradients' buffer.
 * Operand a (then b) of the instruction computing the part is tried.
 * Overwriting y keeps the planner's invariant (plan/memory.c: nothing
 * writes over an output's bytes) because y must be no output and have one
 * reader: an output that is a view of y would be a second reader.
 */
static void overwrite_operands(fuse_ctx *c, fused_out **where)
{
    recur_plan *p = c->p;
    reader_lists r;
    fused_prog **prog_of = calloc((size_t)p->n_vals + 1, sizeof *prog_of);
    int lists = readers_make(p, &r);
    if (!lists || !prog_of) goto out;
    for (int s = 0; s < p->n_steps; s++) {
        plan_step *step = &p->steps[s];
        fused_prog *fp = step->owns_state ? step->state : NULL;
        for (int o = 0; fp && o < fp->n_out; o++) prog_of[fp->out[o].id] = fp;
    }
    for (int s = 0; s < p->n_steps; s++) {
        const plan_step *part = &p->steps[s];
        fused_prog *fp = prog_of[part->id];
        if (part->dead || part->columns_of < 0 || !fp) continue;
        const fused_out *po = where[part->id];
        int t = 0;
        while (t < fp->n_insts && fp->inst[t].out != (int)(po - fp->out)) t++;
        for (int k = 0; t < fp->n_insts && k < 2; k++) {
            int l = k == 0 ? fp->inst[t].a : fp->inst[t].b;
            if (l < 0 || l >= fp->n_leaves || fp->cols[l]) continue;
            int32_t v = fp->leaves[l];
            fused_out *vo = where[v];
            int q = c->step_of[v];
            if (!vo || q < 0 || vo->n_dst != 1 || vo->dst[0].cols || n_readers(&r, v) != 1 || (p->role[v] & ROLE_OUTPUT) ||
                p->steps[q].columns_of >= 0 || !recur_shape_equal(p->g->nodes[v].shape, p->g->nodes[part->id].shape))
                continue;
            vo->dst[0].cols = po->dst[0].cols, vo->dst[0].stride = po->dst[0].stride;
            p->steps[q].columns_of = part->columns_of;
            p->steps[q].columns_at = part->columns_at;
            fp->cols[l] = po->dst[0].cols, fp->stride[l] = po->dst[0].stride, fp->start[l] = 0;
            break;
        }
    }
out:
    readers_free(&r);
    free(prog_of);
}

recur_status recur_fuse_pointwise(recur_plan *p)
{
    int n = p->n_vals;
    fuse_ctx c = {.p = p};
    int lists = readers_make(p, &c.r);
    c.step_of = malloc(sizeof(int) * ((size_t)n + 1));
    c.taken = calloc((size_t)p->n_steps + 1, 1);
    c.mark = calloc((size_t)p->n_steps + 1, 1);
    c.members = malloc(sizeof(int) * ((size_t)MAX_INSTS + 1));
    c.group_of = malloc(sizeof(int) * ((size_t)p->n_steps + 1));
    c.recomputed_by = malloc(sizeof(int) * ((size_t)n + 1));
    c.extra_read = calloc((size_t)n + 1, 1);
    fused_out **where = calloc((size_t)n + 1, sizeof *where);
    recur_status st = RECUR_OK;
    if (!lists || !c.step_of || !c.taken || !c.mark || !c.members || !c.group_of || !c.recomputed_by || !c.extra_read || !where) {
        st = recur_error_set(&p->error, RECUR_ERR_NOMEM, "compile: out of memory fusing");
        goto out;
    }
    PLAN_WORK(p, 2 * (uint64_t)n + 8 * (uint64_t)p->n_steps); /* the passes below, each over the values or the steps */
    for (int i = 0; i < n; i++) c.step_of[i] = -1, c.recomputed_by[i] = -1;
    for (int s = 0; s < p->n_steps; s++) c.step_of[p->steps[s].id] = s, c.group_of[s] = -1;
    /* Groups from the last step backwards: each root takes in what it can. */
    for (int r = p->n_steps - 1; r >= 0 && st == RECUR_OK; r--)
        if (!c.taken[r] && fusable(p, &p->steps[r], p->g->nodes[p->steps[r].id].shape)) st = fuse_group(&c, r);
    if (st != RECUR_OK) goto out;
    for (int s = 0; s < p->n_steps; s++) {
        fused_prog *fp = p->steps[s].owns_state ? p->steps[s].state : NULL;
        for (int o = 0; fp && o < fp->n_out; o++) where[fp->out[o].id] = &fp->out[o];
    }
    place_columns(&c, where);
    overwrite_operands(&c, where);
    /* Values that fused kernels read from their source (column slices, selects of them, repeats of a smaller
     * value) are not copied out when nothing else reads them; what only those read then goes too. */
    for (int changed = 1; changed && st == RECUR_OK;) {
        reader_lists now;
        changed = 0;
        if (!readers_make(p, &now)) st = recur_error_set(&p->error, RECUR_ERR_NOMEM, "compile: out of memory fusing");
        for (int s = 0; st == RECUR_OK && s < p->n_steps; s++) {
            plan_step *step = &p->steps[s];
            int op = p->g->nodes[step->id].op;
            if (!step->dead && step->fn && (op == RECUR_OP_SLICE || op == RECUR_OP_TAKE || op == RECUR_OP_BROADCAST_TO) &&
                !n_readers(&now, step->id) && !(p->role[step->id] & ROLE_OUTPUT))
                step->dead = 1, step->fn = NULL, changed = 1;
        }
        readers_free(&now);
    }
out:
    readers_free(&c.r);
    free(c.step_of), free(c.taken), free(c.mark), free(c.members), free(where);
    free(c.group_of), free(c.recomputed_by), free(c.extra_read);
    return st;
}

recur_status recur_fused_bind(recur_plan *p)
{
    char *strided = calloc((size_t)p->n_vals + 1, 1);
    if (!strided) return recur_error_set(&p->error, RECUR_ERR_NOMEM, "compile: out of memory");
    for (int s = 0; s < p->n_steps; s++) {
        fused_prog *fp = p->steps[s].owns_state ? p->steps[s].state : NULL;
        for (int o = 0; fp && o < fp->n_out; o++) {
            for (int d = 0; d < fp->out[o].n_dst; d++) {
                fused_dst *dst = &fp->out[o].dst[d];
                dst->at = p->val[dst->id] ? (float *)((char *)p->val[dst->id] + dst->offset) : NULL;
                if (!dst->at) {
                    free(strided);
                    return recur_error_set(&p->error, RECUR_ERR_RUNTIME, "compile: node %s: a fused kernel's output %s has no buffer",
                                                recur_node_name(p->g, p->steps[s].id), recur_node_name(p->g, fp->out[o].id));
                }
            }
            strided[fp->out[o].id] = fp->out[o].dst[0].cols > 0;
        }
    }
    recur_status st = RECUR_OK;
    for (int s = 0; s < p->n_steps && st == RECUR_OK; s++) { /* columns of a concatenation are no buffer to read */
        const plan_step *step = &p->steps[s];
        const fused_prog *fp = step->owns_state ? step->state : NULL;
        for (int k = 0; step->fn && k < step->n_in; k++)
            if (strided[step->in[k]] && !(fp && fp->cols[k] && fp->start[k] == 0)) /* a fused kernel reads it by columns */
                st = recur_error_set(&p->error, RECUR_ERR_RUNTIME, "compile: node %s reads %s, which lies in columns of a concatenation",
                                          recur_node_name(p->g, step->id), recur_node_name(p->g, step->in[k]));
    }
    free(strided);
    return st;
}

void recur_fused_describe(const void *program, const recur_graph *g, char *buf, size_t len)
{
    const fused_prog *fp = program;
    size_t at = 0;
    buf[0] = 0;
    for (int t = 0; t < fp->n_insts && at < len; t++)
        at += (size_t)snprintf(buf + at, len - at, "%s%s", t ? " " : "", recur_op(fp->inst[t].op)->name);
    for (int o = 0; o < fp->n_out && at < len; o++)
        at += (size_t)snprintf(buf + at, len - at, "%s%s%s", o ? ", " : " -> ", recur_node_name(g, fp->out[o].id),
                               fp->out[o].dst[0].cols ? " (columns)" : "");
}

/* Floats that n elements read or written by rows of `cols` spaced `stride` apart span (cols 0: contiguous). */
static int64_t span(int64_t n, int64_t cols, int64_t stride) { return cols ? (n / cols - 1) * stride + cols : n; }

/* Where leaf l of fp is read, for an output of n elements: *first floats into the leaf's value, *floats of them. */
static void leaf_extent(const recur_graph *g, const fused_prog *fp, int l, int64_t n, int64_t *first, int64_t *floats)
{
    *first = fp->cols[l] ? fp->start[l] : 0;
    *floats = fp->cols[l] ? span(n, fp->cols[l], fp->stride[l]) : recur_shape_numel(g->nodes[fp->leaves[l]].shape);
}

void recur_fused_read_extent(const recur_plan *p, int s, int l, int64_t *first, int64_t *floats)
{
    const plan_step *step = &p->steps[s];
    leaf_extent(p->g, step->state, l, recur_shape_numel(p->g->nodes[step->id].shape), first, floats);
}

size_t recur_fused_plan_bytes(const recur_plan *p)
{
    size_t bytes = 0;
    for (int s = 0; s < p->n_steps; s++)
        if (p->steps[s].owns_state && p->steps[s].state) bytes += prog_bytes(((const fused_prog *)p->steps[s].state)->n_out);
    return bytes;
}

/*
 * The windows of a region of memory (rows of `row` floats) that step s, a
 * fused kernel, reads and writes: where(ctx, id, offset, floats, writing,
 * &start) says whether `floats` floats of value id from byte `offset` on,
 * read (writing 0) or written (1), lie apart from the region (0), inside
 * it starting `start` floats into it (1), or partly in it (-1). Reads go
 * to rd_start/rd_cols, writes to wr_start/wr_cols (at most *n_rd, *n_wr
 * of each; set to the counts). Returns 1 if s is a fused kernel that
 * touches the region only by columns of rows of `row` floats starting in
 * its first row, else 0. Element i of a window read is copied into a
 * register before the block writing element i runs, so a kernel may write
 * a window it reads, or one apart from it, but not one overlapping it.
 */
int recur_fused_windows(const recur_plan *p, int s, int64_t row,
                        int (*where)(void *ctx, int32_t id, size_t offset, int64_t floats, int writing, int64_t *start),
                        void *ctx, int64_t *rd_start, int64_t *rd_cols, int *n_rd, int64_t *wr_start, int64_t *wr_cols,
                        int *n_wr)
{
    const plan_step *step = &p->steps[s];
    const fused_prog *fp = step->owns_state ? step->state : NULL;
    int max_rd = *n_rd, max_wr = *n_wr;
    *n_rd = *n_wr = 0;
    if (!fp) return 0;
    int64_t n = recur_shape_numel(p->g->nodes[step->id].shape), at;
    for (int l = 0; l < fp->n_leaves; l++) {
        int64_t cols = fp->cols[l], first, floats;
        leaf_extent(p->g, fp, l, n, &first, &floats);
        int in = where(ctx, fp->leaves[l], sizeof(float) * (size_t)first, floats, 0, &at);
        if (!in) continue;
        if (in < 0 || !cols || fp->stride[l] != row || at + cols > row || *n_rd == max_rd) return 0;
        rd_start[*n_rd] = at, rd_cols[(*n_rd)++] = cols;
    }
    for (int o = 0; o < fp->n_out; o++)
        for (int d = 0; d < fp->out[o].n_dst; d++) {
            const fused_dst *w = &fp->out[o].dst[d];
            int in = where(ctx, w->id, w->offset, span(n, w->cols, w->stride), 1, &at);
            if (!in) continue;
            if (in < 0 || !w->cols || w->stride != row || at + w->cols > row || *n_wr == max_wr) return 0;
            wr_start[*n_wr] = at, wr_cols[(*n_wr)++] = w->cols;
        }
    return 1;
}
