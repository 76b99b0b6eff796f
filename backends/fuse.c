/*
 * backends/fuse.c — pointwise fusion, a pass over a compiled plan.
 *
 * A chain of elementwise ops (tanh, sigmoid, +, *, their gradient helpers,
 * ...) whose intermediate values are read by nothing outside the chain is
 * one function of the chain's inputs (its leaves). The chain's last op
 * becomes one step running a small program over the leaves, block by
 * block, with the intermediates kept in cache-sized registers; the other
 * steps of the chain run nothing and get no buffer. Each instruction runs
 * the loop its op's own kernel runs (recur_pointwise_loop), in the same
 * order, so results are bitwise those of the unfused plan. The graph
 * itself is not changed.
 *
 * Leaves of the output's shape are read in place; a leaf that broadcasts by
 * whole repeats (a bias row, a scalar) is expanded block by block.
 */
#include <stdlib.h>
#include <string.h>

#include "backends/plan.h"
#include "ops/broadcast.h"
#include "ops/parallel.h"
#include "ops/pointwise.h"

#define BLOCK 256      /* elements per register */
#define MAX_LEAVES 16
#define MAX_INSTS 48

typedef struct fused_inst {
    int op;
    float s;           /* attr.f[0] */
    int a, b;          /* source registers: 0..n_leaves-1 leaves, then instruction results */
} fused_inst;

typedef struct fused_prog {
    int n_leaves, n_insts;
    int parts;                    /* ranges the kernel may run at once (a set of scratch registers each) */
    int32_t leaves[MAX_LEAVES];   /* leaf value ids (the step's inputs) */
    /* A leaf that is a slice x[..., start:start+cols] of the last axis of a value x [..., stride]
     * is read from x itself (leaves[l] is x): element i of the leaf is
     * x[(i / cols) * stride + start + i % cols]. cols[l] == 0: a leaf read as it is. */
    int64_t cols[MAX_LEAVES], stride[MAX_LEAVES], start[MAX_LEAVES];
    fused_inst inst[MAX_INSTS];   /* in dependency order; the last is the output */
} fused_prog;

void recur_fused_free(void *program) { free(program); }

/* One run of a fused kernel: the program, its leaves, and their periods. */
typedef struct fused_job {
    const fused_prog *fp;
    const recur_kernel_args *k;
    int64_t n, period[MAX_LEAVES];
} fused_job;

/*
 * Registers of block `base` (len elements): leaves of the output's shape
 * point into their data; a leaf repeating with period p is copied out in
 * runs, element i reading i mod p.
 */
static void load_leaves(const fused_job *j, int64_t base, int64_t len, float *scratch, const float **reg)
{
    for (int l = 0; l < j->fp->n_leaves; l++) {
        int64_t cols = j->fp->cols[l];
        if (cols > 0) { /* a column slice of a wider value: copied out row run by row run */
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
        int64_t p = j->period[l];
        if (p == j->n) {
            reg[l] = j->k->x[l] + base;
            continue;
        }
        float *r = scratch + (size_t)l * BLOCK;
        const float *x = j->k->x[l];
        if (p < 16) { /* a scalar or a short row: element by element */
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
            float *out = t == fp->n_insts - 1 ? j->k->y + base : scratch + (size_t)(fp->n_leaves + t) * BLOCK;
            recur_pointwise_loop(in->op, in->s, reg[in->a], in->b >= 0 ? reg[in->b] : reg[in->a], out, len);
            reg[fp->n_leaves + t] = out;
        }
    }
}

/*
 * The fused kernel: for each block of BLOCK elements, registers point at
 * leaf data (or an expanded copy of a broadcast leaf) and instruction
 * results; the last instruction writes the output directly. Blocks are
 * independent, so a large tensor's blocks are cut into one range per
 * thread, each with its own scratch registers (fp->parts sets of them).
 */
static recur_status fused_forward(const recur_kernel_args *k)
{
    fused_job j = {.fp = k->state, .k = k, .n = recur_shape_numel(k->node->shape)};
    for (int t = 0; t < j.fp->n_insts; t++)
        if (!recur_pointwise_arity(j.fp->inst[t].op))
            return recur_kernel_fail(k, "fused kernel: op %d is not pointwise", j.fp->inst[t].op);
    for (int l = 0; l < j.fp->n_leaves; l++)
        j.period[l] = j.fp->cols[l] ? 0 : recur_bcast_period(k->node->shape, k->xs[l]);
    int64_t n_blocks = (j.n + BLOCK - 1) / BLOCK, floats = j.n * (j.fp->n_leaves + 1);
    if (recur_parallel_parts(n_blocks, floats) <= j.fp->parts) recur_parallel_range(n_blocks, floats, fused_blocks, &j);
    else fused_blocks(&j, 0, n_blocks, 0); /* more threads now than when compiled: scratch for one */
    return RECUR_OK;
}

/*
 * The value a fused kernel reads for leaf src: src itself, or, when src is
 * a slice of the last axis of a value x (a gate of a preactivation
 * [B, G*H]) with the output's shape, x (its columns start.. start+cols of
 * rows of `stride`). The slice then need not be copied out at all.
 */
static int32_t column_slice_source(const recur_plan *p, int32_t src, recur_shape out, int64_t *cols, int64_t *stride,
                                   int64_t *start)
{
    const recur_graph *g = p->g;
    const recur_node *n = &g->nodes[src];
    if (n->op != RECUR_OP_SLICE || n->attr.i[0] != n->shape.ndim - 1 || !recur_shape_equal(n->shape, out)) return src;
    const recur_node *x = &g->nodes[n->in[0]];
    if (!p->role[n->in[0]] || n->attr.i[2] == x->shape.d[x->shape.ndim - 1]) return src;
    *cols = n->attr.i[2];
    *stride = x->shape.d[x->shape.ndim - 1];
    *start = n->attr.i[1];
    return n->in[0];
}

/* Builds step root's program from the member steps (in plan order); 0 if it does not fit. */
static int build_program(recur_plan *p, const int *members, int n_members, fused_prog *fp)
{
    recur_graph *g = p->g;
    memset(fp, 0, sizeof *fp);
    if (n_members > MAX_INSTS) return 0;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n_members);
    if (!ids) return 0;
    for (int m = 0; m < n_members; m++) ids[m] = p->steps[members[m]].id;
    int ok = 1;
    for (int m = 0; m < n_members && ok; m++) {
        const plan_step *st = &p->steps[members[m]];
        const recur_node *node = &g->nodes[st->id];
        fused_inst *in = &fp->inst[m];
        in->op = node->op;
        in->s = node->attr.f[0];
        in->b = -1;
        for (int k = 0; k < st->n_in && ok; k++) {
            int32_t src = st->in[k], r = -1;
            for (int q = 0; q < m; q++) /* an earlier member's result */
                if (ids[q] == src) r = q;
            if (r >= 0) {
                r += MAX_LEAVES; /* renumbered below, once the leaf count is known */
            } else {
                int64_t cols = 0, stride = 0, start = 0;
                int32_t leaf = column_slice_source(p, src, g->nodes[ids[n_members - 1]].shape, &cols, &stride, &start);
                for (int l = 0; l < fp->n_leaves; l++)
                    if (fp->leaves[l] == leaf && fp->cols[l] == cols && fp->start[l] == start) r = l;
                if (r < 0) {
                    if (fp->n_leaves == MAX_LEAVES) ok = 0;
                    else {
                        r = fp->n_leaves++;
                        fp->leaves[r] = leaf;
                        fp->cols[r] = cols, fp->stride[r] = stride, fp->start[r] = start;
                    }
                }
            }
            if (k == 0) in->a = r;
            else in->b = r;
        }
    }
    /* Registers: leaves first, then instruction results. */
    for (int m = 0; m < n_members && ok; m++) {
        fused_inst *in = &fp->inst[m];
        if (in->a >= MAX_LEAVES) in->a = fp->n_leaves + (in->a - MAX_LEAVES);
        if (in->b >= MAX_LEAVES) in->b = fp->n_leaves + (in->b - MAX_LEAVES);
    }
    fp->n_insts = n_members;
    free(ids);
    return ok;
}

/* 1 if step s's value may be computed inside its single user's fused kernel. */
static int fusable(const recur_plan *p, const plan_step *step, recur_shape shape)
{
    const recur_node *n = &p->g->nodes[step->id];
    if (step->dead || !step->fn || !recur_pointwise_arity(n->op) || !recur_shape_equal(n->shape, shape)) return 0;
    for (int k = 0; k < step->n_in; k++) /* every operand: the output's shape or whole repeats of a smaller one */
        if (recur_bcast_period(shape, p->g->nodes[step->in[k]].shape) <= 0) return 0;
    return 1;
}

/* Arithmetic that a one-instruction program runs as fast as its own kernel. */
static int cheap_arithmetic(int op)
{
    return op == RECUR_OP_ADD || op == RECUR_OP_SUB || op == RECUR_OP_MUL || op == RECUR_OP_DIV || op == RECUR_OP_NEG ||
           op == RECUR_OP_SCALE || op == RECUR_OP_ONE_MINUS;
}

/* 1 if step reads a column slice that a program could read from its source instead of a copy. */
static int reads_column_slice(const recur_plan *p, const plan_step *step, recur_shape shape)
{
    for (int k = 0; k < step->n_in; k++) {
        int64_t cols = 0, stride = 0, start = 0;
        if (column_slice_source(p, step->in[k], shape, &cols, &stride, &start) != step->in[k]) return 1;
    }
    return 0;
}

recur_status recur_fuse_pointwise(recur_plan *p)
{
    recur_graph *g = p->g;
    int n = p->n_vals;
    int *users = calloc((size_t)n + 1, sizeof(int)), *step_of = malloc(sizeof(int) * ((size_t)n + 1));
    int *members = malloc(sizeof(int) * (size_t)(p->n_steps + 1)), *stack = malloc(sizeof(int) * (size_t)(p->n_steps + 1));
    char *taken = calloc((size_t)p->n_steps + 1, 1);
    recur_status st = RECUR_OK;
    if (!users || !step_of || !members || !stack || !taken) {
        st = recur_plan_set_error(p, RECUR_ERR_NOMEM, "compile: out of memory fusing");
        goto out;
    }
    for (int i = 0; i < n; i++) step_of[i] = -1;
    for (int s = 0; s < p->n_steps; s++) {
        step_of[p->steps[s].id] = s;
        for (int k = 0; k < p->steps[s].n_in; k++) users[p->steps[s].in[k]]++;
    }
    /* Roots from the last step backwards; each takes in the single-use pointwise steps it reads. */
    for (int r = p->n_steps - 1; r >= 0; r--) {
        plan_step *root = &p->steps[r];
        recur_shape shape = g->nodes[root->id].shape;
        if (taken[r] || !fusable(p, root, shape)) continue;
        int n_members = 0, top = 0;
        stack[top++] = r;
        while (top > 0) { /* collect the chain behind the root */
            int s = stack[--top];
            members[n_members++] = s;
            taken[s] = 1;
            for (int k = 0; k < p->steps[s].n_in; k++) {
                int32_t src = p->steps[s].in[k];
                int q = step_of[src];
                if (q < 0 || taken[q] || users[src] != 1 || (p->role[src] & ROLE_OUTPUT) ||
                    !fusable(p, &p->steps[q], shape) || n_members + top >= MAX_INSTS)
                    continue;
                stack[top++] = q;
            }
        }
        if (n_members < 2 && !(cheap_arithmetic(g->nodes[root->id].op) && reads_column_slice(p, root, shape))) continue;
        /* Plan order is a dependency order for the program. */
        for (int i = 1; i < n_members; i++)
            for (int j = i; j > 0 && members[j] < members[j - 1]; j--) {
                int t = members[j];
                members[j] = members[j - 1], members[j - 1] = t;
            }
        fused_prog *fp = malloc(sizeof *fp);
        if (!fp) {
            st = recur_plan_set_error(p, RECUR_ERR_NOMEM, "compile: out of memory fusing");
            goto out;
        }
        if (!build_program(p, members, n_members, fp)) {
            free(fp);
            for (int i = 0; i < n_members; i++) taken[members[i]] = members[i] == r; /* leave them unfused */
            continue;
        }
        for (int i = 0; i < n_members - 1; i++) {
            plan_step *m = &p->steps[members[i]];
            m->dead = 1;
            m->fn = NULL;
        }
        root->fn = fused_forward;
        root->state = fp;
        root->owns_state = 1;
        root->n_in = fp->n_leaves;
        root->in = fp->leaves;
        int64_t numel = recur_shape_numel(shape);
        fp->parts = recur_parallel_parts((numel + BLOCK - 1) / BLOCK, numel * (fp->n_leaves + 1));
        root->work = sizeof(float) * (size_t)BLOCK * (size_t)(fp->n_leaves + fp->n_insts) * (size_t)fp->parts;
    }
    /* Column slices that fused kernels read from their source and nothing else reads are not copied out. */
    if (st == RECUR_OK) {
        memset(users, 0, sizeof(int) * ((size_t)n + 1));
        for (int s = 0; s < p->n_steps; s++)
            for (int k = 0; !p->steps[s].dead && k < p->steps[s].n_in; k++) users[p->steps[s].in[k]]++;
        for (int s = 0; s < p->n_steps; s++) {
            plan_step *step = &p->steps[s];
            if (!step->dead && step->fn && g->nodes[step->id].op == RECUR_OP_SLICE && !users[step->id] &&
                !(p->role[step->id] & ROLE_OUTPUT))
                step->dead = 1, step->fn = NULL;
        }
    }
out:
    free(users), free(step_of), free(members), free(stack), free(taken);
    return st;
}
