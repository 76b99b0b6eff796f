/*
 * plan/memory.c — where a compiled plan keeps its values.
 *
 * Layout (recur_plan_layout): which values share a buffer. A view reads
 * its input's buffer; a value computed straight into its part of a
 * concatenation, or into its columns, lives there; a step computing what
 * an earlier one computed reads that result; a sequence written step by
 * step may lie over one read step by step. Arena (recur_plan_arena): every
 * buffer and step workspace gets its live range and a place in one arena,
 * buffers live at different times sharing memory.
 *
 * The invariant every sharing rule keeps (a plan's outputs stay readable
 * after each run, as exec.h promises): the bytes of an output are written
 * by nothing after the output itself is written. Values share bytes in
 * three ways: at once (a view and its input, the parts of a concatenation,
 * columns), which is safe; by liveness in the arena, where an output's
 * buffer is live to the end of the run (recur_plan_arena pins it); and one
 * after the other inside one buffer, where a later value is written over an
 * earlier one that is dead by then: a sequence laid over a sequence
 * (share_sequences) and a fused kernel's gradient written over the
 * activation it reads (plan/fuse.c, overwrite_operands). Those two must
 * ask whether a buffer holds an output's bytes, which is more than whether
 * its value is an output: a view of it, or a value placed in it, may be the
 * output (output_roots). A seq2seq's attention weights were overwritten so:
 * the stacked weights were read by an output alias only, and the gradient
 * concatenation of the backward pass was laid over them.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "plan_impl.h"
#include "recur/passes.h"

static size_t value_bytes(const recur_node *n)
{
    size_t b = sizeof(float) * (size_t)recur_shape_numel(n->shape);
    return (b + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES;
}

/*
 * Views: nodes whose output is a contiguous run of their input's data read
 * as it is share its buffer, and no kernel runs. The op's definition says
 * where the output starts in its input (recur_op_def.view_offset: a
 * reshape at 0, a select of step t of a sequence t steps in); -1 if n is
 * no view.
 */
static int64_t view_offset(const recur_graph *g, const recur_node *n)
{
    const recur_op_def *def = recur_op(n->op);
    return def->view_offset ? def->view_offset(g, n) : -1;
}

/*
 * 1 if node n, a concatenation or a stack, lays its inputs one after
 * another in memory (every dimension before its axis is 1: a stack of T
 * values [B, H] along axis 0 is their concatenation [T * B, H] reshaped).
 */
static int concat_is_contiguous(const recur_node *n)
{
    if (n->op != RECUR_OP_CONCAT && n->op != RECUR_OP_STACK) return 0;
    for (int d = 0; d < n->attr.i[0]; d++)
        if (n->shape.d[d] != 1) return 0;
    return 1;
}

/*
 * The rest of an in-place concatenation: inputs computed straight into
 * their place in its buffer are there already; the others (inputs fed or
 * stored elsewhere) are copied in.
 */
static recur_status concat_rest(const recur_kernel_args *a)
{
    char *dst = (char *)a->y;
    for (int i = 0; i < a->n_in; i++) {
        size_t bytes = sizeof(float) * (size_t)recur_shape_numel(a->xs[i]);
        if ((const char *)a->x[i] != dst) memcpy(dst, a->x[i], bytes);
        dst += bytes;
    }
    return RECUR_OK;
}

/* 1 if step computes its value: by a kernel of its own or inside a fused kernel (made_by). */
static int computes(const plan_step *step) { return !step->dead && (step->fn || step->made_by >= 0); }

/* The step at which step s's value is written: its own, or the fused kernel's that writes it. */
static int written_at(const recur_plan *p, int s) { return p->steps[s].made_by >= 0 ? p->steps[s].made_by : s; }

/* Where value x lies: the value owning its buffer, and the byte offset into it (*at). */
static int32_t resolve(const int32_t *parent, const size_t *off, int32_t x, size_t *at)
{
    *at = 0;
    while (parent[x] != x) *at += off[x], x = parent[x];
    return x;
}

/*
 * A concatenation whose inputs all lie, in its order and back to back, in
 * one earlier concatenation's buffer (the same per-step values joined
 * twice, e.g. as [T, B, G] and as [T*B, G]) is a view of that buffer.
 */
static int same_as_placed(recur_plan *p, plan_step *step, int32_t *parent, size_t *off)
{
    const recur_graph *g = p->g;
    int32_t host = -1;
    size_t start = 0, at = 0;
    for (int k = 0; k < step->n_in; k++) {
        size_t x_off;
        int32_t x = resolve(parent, off, step->in[k], &x_off);
        if (k == 0) host = x, start = at = x_off;
        if (x != host || x_off != at || !concat_is_contiguous(&g->nodes[host]) || host == step->in[k]) return 0;
        at += sizeof(float) * (size_t)recur_shape_numel(g->nodes[step->in[k]].shape);
    }
    parent[step->id] = host;
    off[step->id] = start;
    step->fn = NULL;
    return 1;
}

/*
 * Values that fused kernels write straight into columns of a concatenation
 * along the last axis (plan/fuse.c: a step's gate gradients, and the
 * activations they overwrite): value x lies columns_at bytes into the
 * first row of concatenation columns_of; its other rows follow a row of
 * the concatenation later.
 */
static void place_columns(recur_plan *p, int32_t *parent, size_t *off)
{
    for (int s = 0; s < p->n_steps; s++) {
        const plan_step *step = &p->steps[s];
        if (step->dead || step->columns_of < 0) continue;
        parent[step->id] = step->columns_of;
        off[step->id] = step->columns_at;
    }
}

/* 1 if step s is a concatenation whose inputs were all computed straight into it (so it runs nothing itself). */
static int joined_in_place(const recur_plan *p, int s)
{
    const plan_step *step = &p->steps[s];
    return !step->dead && !step->fn && step->made_by < 0 && concat_is_contiguous(&p->g->nodes[step->id]);
}

/*
 * In-place concatenation: an input x_k of a contiguous concat y that the
 * plan computes (not fed, stored or an output), reads as no view and
 * concatenates nowhere else, is computed straight into its part of y's
 * buffer, y + sum_{j<k} numel(x_j): parent[x_k] = y, off[x_k] = that
 * offset in bytes. The concat then copies only its other inputs (or runs
 * nothing). Such a concatenation may itself be an input placed so (chunks
 * of steps joined, then the chunks joined: hoisting in chunks). Gradient
 * batching concatenates T per-step values into one [T*B, ...] operand;
 * this saves that copy and its memory.
 */
static void place_concats(recur_plan *p, const int *step_of, int32_t *parent, size_t *off)
{
    recur_graph *g = p->g;
    for (int s = 0; s < p->n_steps; s++) {
        plan_step *step = &p->steps[s];
        const recur_node *n = &g->nodes[step->id];
        if (step->dead || !step->fn || !concat_is_contiguous(n)) continue;
        if (same_as_placed(p, step, parent, off)) continue;
        size_t at = 0;
        int placed = 0;
        for (int k = 0; k < step->n_in; k++) {
            /* The value computed for input k: itself, or what a whole-buffer view of it (a reshape) reads. */
            int32_t in = step->in[k];
            size_t x_off;
            int32_t x = resolve(parent, off, in, &x_off);
            size_t bytes = sizeof(float) * (size_t)recur_shape_numel(g->nodes[in].shape);
            int ps = step_of[x];
            if (x_off == 0 && bytes == sizeof(float) * (size_t)recur_shape_numel(g->nodes[x].shape) &&
                (p->role[x] & 7) == ROLE_COMPUTED && !(p->role[x] & ROLE_OUTPUT) && !(p->role[in] & ROLE_OUTPUT) &&
                ps >= 0 && (computes(&p->steps[ps]) || joined_in_place(p, ps)) && view_offset(g, &g->nodes[x]) < 0) {
                parent[x] = step->id; /* (a repeated input is placed once: its next copy no longer resolves to itself) */
                off[x] = at;
                placed++;
            }
            at += bytes;
        }
        if (placed) step->fn = placed == step->n_in ? NULL : concat_rest;
    }
}

/* Step t's block of a sequence s and of a concatenation y laid over it: bytes [lo, hi) of their buffer. */
typedef struct region {
    const int32_t *parent;
    const size_t *off;
    int32_t y, s;
    size_t lo, hi;
} region;

/* Where `floats` floats of value id from byte `offset` on lie against the block: reads of s, writes of y count. */
static int in_region(void *ctx, int32_t id, size_t offset, int64_t floats, int writing, int64_t *start)
{
    const region *r = ctx;
    size_t at;
    int32_t x = resolve(r->parent, r->off, id, &at);
    at += offset;
    size_t end = at + sizeof(float) * (size_t)floats;
    if (x != (writing ? r->y : r->s) || end <= r->lo || at >= r->hi) return 0;
    if (at < r->lo || end > r->hi) return -1;
    *start = (int64_t)((at - r->lo) / sizeof(float));
    return 1;
}

/* The bytes [*lo, *hi) of its root that step r reads for its input k, from byte `at` of that root. */
static void read_extent(const recur_plan *p, int r, int k, size_t at, size_t *lo, size_t *hi)
{
    const plan_step *rs = &p->steps[r];
    int64_t first = 0, floats = recur_shape_numel(p->g->nodes[rs->in[k]].shape);
    if (rs->owns_state) recur_fused_read_extent(p, r, k, &first, &floats);
    *lo = at + sizeof(float) * (size_t)first;
    *hi = *lo + sizeof(float) * (size_t)floats;
}

static int windows_apart(int64_t a, int64_t a_cols, int64_t b, int64_t b_cols) { return a + a_cols <= b || b + b_cols <= a; }

/*
 * 1 if steps from..to may write their parts of a block of y over the same
 * block of s (rows of `row` floats): every step touching the block is a
 * fused kernel reading s there only by column windows no earlier one of
 * them wrote (a kernel may write a window it reads itself: see
 * recur_fused_windows).
 */
static int block_shareable(const recur_plan *p, int from, int to, int64_t row, region *reg)
{
    enum { MAX_WINDOWS = 64 };
    int64_t done[MAX_WINDOWS], done_cols[MAX_WINDOWS], rd[MAX_WINDOWS], rd_cols[MAX_WINDOWS], at;
    int n_done = 0;
    PLAN_WORK(p, to >= from ? to - from + 1 : 0);
    for (int r = from; r <= to; r++) {
        const plan_step *rs = &p->steps[r];
        if (rs->dead || !rs->fn) continue;
        int n_rd = MAX_WINDOWS, n_wr = MAX_WINDOWS - n_done;
        if (!rs->owns_state) { /* any other kernel must not touch the block */
            for (int k = 0; k < rs->n_in; k++)
                if (in_region(reg, rs->in[k], 0, recur_shape_numel(p->g->nodes[rs->in[k]].shape), 0, &at)) return 0;
            if (in_region(reg, rs->id, 0, recur_shape_numel(p->g->nodes[rs->id].shape), 1, &at)) return 0;
            continue;
        }
        if (!recur_fused_windows(p, r, row, in_region, reg, rd, rd_cols, &n_rd, done + n_done, done_cols + n_done, &n_wr))
            return 0;
        for (int i = 0; i < n_rd; i++) {
            for (int j = 0; j < n_done; j++)
                if (!windows_apart(rd[i], rd_cols[i], done[j], done_cols[j])) return 0;
            for (int j = n_done; j < n_done + n_wr; j++)
                if (!windows_apart(rd[i], rd_cols[i], done[j], done_cols[j]) && (rd[i] != done[j] || rd_cols[i] != done_cols[j]))
                    return 0;
        }
        n_done += n_wr;
    }
    return 1;
}

/*
 * The buffers holding an output's bytes, as the layout stands: marks[r] = 1
 * for the root r of every output (the output itself, or the value it is a
 * view of or was placed in). NULL if out of memory.
 */
static char *output_roots(const recur_plan *p, const int32_t *parent, const size_t *off)
{
    char *marks = calloc((size_t)p->n_vals + 1, 1);
    for (int i = 0; marks && i < p->n_vals; i++) {
        size_t at;
        if (p->role[i] & ROLE_OUTPUT) marks[resolve(parent, off, i, &at)] = 1;
    }
    return marks;
}

/*
 * A sequence laid over another one: a concatenation y of T equal parts
 * written step by step (the gate gradients of a backward pass, and the
 * gate activations written where their gradients go) may take the buffer
 * of a value s of the same size that is read step by step in the same
 * order (the hoisted input projection [T, B, G], read by selects of step
 * t, or by selects of step t of its column slices), when every part t is
 * first written after the last read of step t of s, or the kernels from
 * the first write to the last read are fused kernels that read s there by
 * column windows nothing wrote before (block_shareable). The projection,
 * the activations and the gradients of a step then share one [B, G]
 * block, as in oneDNN's RNN workspace.
 */
static void share_sequences(recur_plan *p, const int *step_of, int32_t *parent, size_t *off)
{
    recur_graph *g = p->g;
    int n = p->n_vals;
    int *first_write = NULL, *last_read = NULL; /* per step t of y and s */
    char *used = calloc((size_t)n + 1, 1);
    char *holds_output = output_roots(p, parent, off);
    if (!used || !holds_output) {
        free(used), free(holds_output);
        return;
    }
    for (int ys = 0; ys < p->n_steps; ys++) {
        const plan_step *cat = &p->steps[ys];
        const recur_node *y = &g->nodes[cat->id];
        int T = cat->n_in;
        if (cat->dead || cat->fn || !concat_is_contiguous(y) || parent[cat->id] != cat->id || T < 2 ||
            (p->role[cat->id] & 7) != ROLE_COMPUTED || holds_output[cat->id] || used[cat->id])
            continue;
        size_t part = sizeof(float) * (size_t)recur_shape_numel(g->nodes[cat->in[0]].shape);
        int equal = 1;
        for (int k = 0; k < T; k++) equal &= sizeof(float) * (size_t)recur_shape_numel(g->nodes[cat->in[k]].shape) == part;
        if (!equal) continue;
        free(first_write), free(last_read);
        first_write = malloc(sizeof(int) * (size_t)T), last_read = malloc(sizeof(int) * (size_t)T);
        if (!first_write || !last_read) break;
        /* When each part of y is first written. */
        for (int t = 0; t < T; t++) first_write[t] = p->n_steps;
        PLAN_WORK(p, n + p->n_steps);
        for (int i = 0; i < n; i++) {
            size_t at;
            int q = step_of[i];
            if (q < 0 || !computes(&p->steps[q]) || resolve(parent, off, i, &at) != cat->id) continue;
            int t = (int)(at / part), w = written_at(p, q);
            if (t < T && w < first_write[t]) first_write[t] = w;
        }
        int earliest = p->n_steps;
        for (int t = 0; t < T; t++) earliest = first_write[t] < earliest ? first_write[t] : earliest;
        for (int ss = 0; ss < p->n_steps; ss++) { /* a value s of y's size, read step by step */
            const plan_step *sv = &p->steps[ss];
            const recur_node *sn = &g->nodes[sv->id];
            if (!computes(sv) || parent[sv->id] != sv->id || sv->id == cat->id || used[sv->id] || sn->shape.ndim < 2 ||
                sn->shape.d[0] != T || sizeof(float) * (size_t)recur_shape_numel(sn->shape) != part * (size_t)T ||
                (p->role[sv->id] & 7) != ROLE_COMPUTED || holds_output[sv->id] || written_at(p, ss) >= earliest)
                continue;
            int ok = 1;
            PLAN_WORK(p, T + p->n_steps);
            for (int t = 0; t < T; t++) last_read[t] = -1;
            for (int r = 0; r < p->n_steps && ok; r++) { /* the kernels reading s, and which steps of it */
                const plan_step *rs = &p->steps[r];
                if (rs->dead || !rs->fn) continue;
                for (int k = 0; k < rs->n_in && ok; k++) {
                    size_t at, lo, hi;
                    if (resolve(parent, off, rs->in[k], &at) != sv->id) continue;
                    read_extent(p, r, k, at, &lo, &hi);
                    int t = (int)(lo / part);
                    ok = hi <= part * (size_t)(t + 1); /* within one step of s */
                    if (ok && r > last_read[t]) last_read[t] = r;
                }
            }
            int64_t row = sn->shape.d[sn->shape.ndim - 1];
            for (int t = 0; t < T && ok; t++) {
                region reg = {parent, off, cat->id, sv->id, part * (size_t)t, part * (size_t)(t + 1)};
                ok = block_shareable(p, first_write[t], last_read[t], row, &reg);
            }
            if (!ok) continue;
            parent[cat->id] = sv->id;
            off[cat->id] = 0;
            used[cat->id] = used[sv->id] = 1;
            break;
        }
    }
    free(first_write), free(last_read), free(used), free(holds_output);
}

/* 1 if nodes a and b apply the same op with the same attributes to the same inputs (given as canonical ids). */
static int same_computation(const recur_graph *g, const recur_node *a, const recur_node *b, const int32_t *canon)
{
    if (a->op != b->op || a->n_in != b->n_in || !recur_shape_equal(a->shape, b->shape)) return 0;
    for (int k = 0; k < a->n_in; k++)
        if (canon[a->in[k]] != canon[b->in[k]] || !recur_shape_equal(g->nodes[a->in[k]].shape, g->nodes[b->in[k]].shape))
            return 0;
    const recur_attr *x = &a->attr, *y = &b->attr;
    if (x->f[0] != y->f[0] || x->f[1] != y->f[1] || x->seed != y->seed || !recur_shape_equal(x->target, y->target))
        return 0;
    for (int i = 0; i < 6; i++)
        if (x->i[i] != y->i[i]) return 0;
    return 1;
}

/*
 * Steps by a 64-bit key, so that finding an earlier step like this one
 * costs a lookup rather than a scan of every earlier step (compiling stays
 * linear in the number of steps): a chain of step indices per bucket.
 */
typedef struct step_index {
    int *head, *next;
    uint64_t mask;
} step_index;

static int index_init(step_index *ix, int n_steps)
{
    uint64_t buckets = 16;
    while (buckets < 2 * (uint64_t)n_steps) buckets *= 2;
    ix->mask = buckets - 1;
    ix->head = malloc(sizeof(int) * buckets);
    ix->next = malloc(sizeof(int) * ((size_t)n_steps + 1));
    if (!ix->head || !ix->next) return 0;
    for (uint64_t b = 0; b < buckets; b++) ix->head[b] = -1;
    return 1;
}

static void index_free(step_index *ix) { free(ix->head), free(ix->next); }

/* Adds step s under key; a chain lists its steps newest first. */
static void index_add(step_index *ix, uint64_t key, int s)
{
    uint64_t b = key & ix->mask;
    ix->next[s] = ix->head[b];
    ix->head[b] = s;
}

static uint64_t mix(uint64_t h, uint64_t x)
{
    h ^= x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
}

static uint64_t mix_shape(uint64_t h, recur_shape s)
{
    h = mix(h, (uint64_t)s.ndim);
    for (int d = 0; d < s.ndim; d++) h = mix(h, (uint64_t)s.d[d]);
    return h;
}

/* The key of what node n computes, its inputs given as canonical ids (equal computations have equal keys). */
static uint64_t computation_key(const recur_graph *g, const recur_node *n, const int32_t *canon)
{
    uint64_t h = mix(mix((uint64_t)n->op, (uint64_t)n->n_in), 0);
    h = mix_shape(h, n->shape);
    for (int k = 0; k < n->n_in; k++) h = mix_shape(mix(h, (uint64_t)canon[n->in[k]]), g->nodes[n->in[k]].shape);
    uint32_t f0, f1;
    memcpy(&f0, &n->attr.f[0], 4), memcpy(&f1, &n->attr.f[1], 4);
    h = mix(mix(mix(h, f0), f1), n->attr.seed);
    for (int i = 0; i < 6; i++) h = mix(h, (uint64_t)n->attr.i[i]);
    return mix_shape(h, n->attr.target);
}

/*
 * Common subexpressions: a step that computes what an earlier step
 * computes (the same op and attributes on the same values: autodiff
 * writes some gradient pieces twice, e.g. the per-step gate gradient
 * joined once for the recurrent weight and once for the hoisted input
 * projection) runs nothing and reads the earliest such step's buffer.
 * Every op is a pure function of its inputs and attributes, dropout
 * included (its mask comes from its seed and the run counter).
 */
static void share_duplicates(recur_plan *p, int32_t *parent)
{
    recur_graph *g = p->g;
    int32_t *canon = parent; /* a duplicate's parent is its first computation */
    step_index ix;
    if (!index_init(&ix, p->n_steps)) {
        index_free(&ix);
        return; /* an optimisation: every step computes its own value */
    }
    for (int s = 0; s < p->n_steps; s++) {
        plan_step *step = &p->steps[s];
        const recur_node *n = &g->nodes[step->id];
        uint64_t key = computation_key(g, n, canon);
        if (!step->dead && step->fn && !step->owns_state && n->n_in > 0) {
            int found = -1;
            for (int e = ix.head[key & ix.mask]; e >= 0; e = ix.next[e]) {
                PLAN_WORK(p, 1);
                if (written_at(p, e) < s && same_computation(g, &g->nodes[p->steps[e].id], n, canon)) found = e;
            }
            if (found >= 0) {
                parent[step->id] = p->steps[found].id;
                step->fn = NULL;
                continue;
            }
        }
        if (computes(step) && !step->owns_state && step->columns_of < 0 && canon[step->id] == step->id)
            index_add(&ix, key, s);
    }
    index_free(&ix);
}

/* 1 if sum_to node n sums its input over leading axes only: its target is the input's trailing dimensions. */
static int sums_leading_axes(const recur_graph *g, const recur_node *n)
{
    recur_shape x = g->nodes[n->in[0]].shape, t = n->shape;
    if (t.ndim > x.ndim) return 0;
    for (int d = 0; d < t.ndim; d++)
        if (t.d[t.ndim - 1 - d] != x.d[x.ndim - 1 - d]) return 0;
    return 1;
}

/*
 * Reductions of one buffer: two sum_to steps that sum the same data over
 * its leading axes into the same shape compute the same values, whatever
 * shape their inputs give that data ([T, B, G] or [T*B, G], once the
 * concatenations share a buffer): the second reads the first's result.
 */
static void share_reductions(recur_plan *p, int32_t *parent, size_t *off)
{
    recur_graph *g = p->g;
    step_index ix;
    if (!index_init(&ix, p->n_steps)) {
        index_free(&ix);
        return;
    }
    for (int s = 0; s < p->n_steps; s++) {
        plan_step *step = &p->steps[s];
        const recur_node *n = &g->nodes[step->id];
        if (step->dead || !step->fn || n->op != RECUR_OP_SUM_TO || !sums_leading_axes(g, n)) continue;
        size_t at, e_at;
        int32_t src = resolve(parent, off, n->in[0], &at);
        int64_t numel = recur_shape_numel(g->nodes[n->in[0]].shape);
        uint64_t key = mix_shape(mix(mix(mix(0, (uint64_t)src), (uint64_t)at), (uint64_t)numel), n->shape);
        int found = -1;
        for (int e = ix.head[key & ix.mask]; e >= 0; e = ix.next[e]) {
            PLAN_WORK(p, 1);
            const recur_node *m = &g->nodes[p->steps[e].id];
            if (recur_shape_equal(m->shape, n->shape) && recur_shape_numel(g->nodes[m->in[0]].shape) == numel &&
                resolve(parent, off, m->in[0], &e_at) == src && e_at == at)
                found = e; /* the chain is newest first: the last match is the earliest step */
        }
        if (found >= 0) {
            parent[step->id] = p->steps[found].id;
            step->fn = NULL;
        } else {
            index_add(&ix, key, s);
        }
    }
    index_free(&ix);
}

/* The layout's arrays, allocated for p's values; 0 if out of memory. */
static int layout_alloc(const recur_plan *p, plan_layout *lay)
{
    int n = p->n_vals;
    lay->root = malloc(sizeof(int32_t) * ((size_t)n + 1));
    lay->off = calloc((size_t)n + 1, sizeof(size_t));
    if (!lay->root || !lay->off) return 0;
    for (int i = 0; i < n; i++) lay->root[i] = i;
    return 1;
}

void recur_plan_layout_free(plan_layout *lay)
{
    free(lay->root), free(lay->off);
    lay->root = NULL, lay->off = NULL;
}

recur_status recur_plan_layout(recur_plan *p, plan_layout *lay)
{
    recur_graph *g = p->g;
    int n = p->n_vals;
    int *step_of = malloc(sizeof(int) * ((size_t)n + 1));
    if (!layout_alloc(p, lay) || !step_of) {
        free(step_of);
        recur_plan_layout_free(lay);
        return recur_error_set(&p->error, RECUR_ERR_NOMEM, "compile: out of memory laying out the plan's buffers");
    }
    int32_t *root = lay->root;
    size_t *off = lay->off;
    PLAN_WORK(p, 6 * (uint64_t)p->n_steps + 2 * (uint64_t)n); /* the passes below, each over the steps or the values */
    for (int i = 0; i < n; i++) step_of[i] = -1;
    for (int s = 0; s < p->n_steps; s++) step_of[p->steps[s].id] = s;
    if (!p->opts.no_reuse) share_duplicates(p, root);
    /* Views share their input's buffer. */
    for (int s = 0; s < p->n_steps; s++) {
        plan_step *step = &p->steps[s];
        int64_t at = view_offset(g, &g->nodes[step->id]);
        if (step->dead || p->opts.no_reuse || at < 0) continue;
        root[step->id] = step->in[0];
        off[step->id] = (size_t)at;
        step->fn = NULL; /* nothing to run */
    }
    if (!p->opts.no_reuse) {
        place_columns(p, root, off);
        place_concats(p, step_of, root, off);
        share_sequences(p, step_of, root, off);
        share_reductions(p, root, off);
    }
    /* Follow parents to the root, adding offsets (a parent is a concat computed later, or a view's input). */
    for (int i = 0; i < n; i++) { /* in id order: a value resolved here is one step from its root for later ones */
        size_t at;
        root[i] = resolve(root, off, i, &at);
        off[i] = at;
    }
    free(step_of);
    return RECUR_OK;
}

/*
 * Lays the plan's buffers out in one arena. Every value lives in the
 * buffer of its root (lay) at a byte offset. A root's buffer is live from
 * the first step that writes into it to the last step that reads any value
 * in it (inputs and outputs: the whole run); a step's workspace only while
 * the step runs; a backend's shared buffer from the first step using it to
 * the last; buffers live at different times share memory (arena.c places
 * them).
 */
recur_status recur_plan_arena(recur_plan *p, const plan_layout *lay, recur_backend_buffer *shared, int n_shared)
{
    recur_graph *g = p->g;
    int n = p->n_vals, n_bufs = 0;
    const int32_t *root = lay->root;
    const size_t *off = lay->off;
    int *last_use = malloc(sizeof(int) * ((size_t)n + 1)), *buf_of = malloc(sizeof(int) * ((size_t)n + 1));
    char *pinned = calloc((size_t)n + 1, 1); /* roots of outputs: live to the end */
    arena_buf *bufs = malloc(sizeof *bufs * ((size_t)n + (size_t)p->n_steps + (size_t)n_shared + 1));
    recur_status st = RECUR_OK;
    if (!last_use || !buf_of || !pinned || !bufs) goto nomem;
    for (int i = 0; i < n; i++) last_use[i] = -1, buf_of[i] = -1;
    for (int s = 0; s < p->n_steps; s++) {
        const plan_step *step = &p->steps[s];
        if (step->dead) continue;
        for (int k = 0; k < step->n_in; k++) last_use[root[step->in[k]]] = s;
    }
    for (int i = 0; i < n; i++)
        if (p->role[i] & ROLE_OUTPUT) pinned[root[i]] = 1;
    /* Inputs are fed before a run and read during it: live throughout. */
    for (int i = 0; i < p->n_inputs; i++) {
        buf_of[p->inputs[i]] = n_bufs;
        bufs[n_bufs++] = (arena_buf){-1, p->n_steps, value_bytes(&g->nodes[p->inputs[i]]), 0};
    }
    /* Computed buffers: live from the first step writing into them to the last reading them. */
    int first_computed = n_bufs;
    for (int s = 0; s < p->n_steps; s++) {
        const plan_step *step = &p->steps[s];
        int32_t r = root[step->id];
        if (step->dead || (p->role[r] & 7) != ROLE_COMPUTED) continue;
        int from = p->opts.no_reuse ? -1 : written_at(p, s);
        if (buf_of[r] < 0) {
            buf_of[r] = n_bufs;
            bufs[n_bufs++] = (arena_buf){from, 0, value_bytes(&g->nodes[r]), 0};
        } else if (from < bufs[buf_of[r]].first) {
            bufs[buf_of[r]].first = from;
        }
    }
    for (int i = 0; i < n; i++) {
        arena_buf *b = buf_of[i] >= first_computed ? &bufs[buf_of[i]] : NULL;
        if (b) b->last = pinned[i] || p->opts.no_reuse ? p->n_steps : last_use[i] > b->first ? last_use[i] : b->first;
    }
    /* With lanes (plan/lanes.c), a buffer's bytes stay untouched a few running steps past its last reader:
     * the lanes order a step that writes bytes after every step still reading them, and reusing bytes at
     * once would so tie each new value to the last reader of the old one, holding two threads in step. */
    int *reach = NULL;
    if (recur_pass_on(g, RECUR_PASS_LANES) && !p->opts.no_reuse && recur_lanes_reach(p, &reach) != RECUR_OK) goto nomem;
    if (reach) {
        for (int b = first_computed; b < n_bufs; b++)
            if (bufs[b].last < p->n_steps) bufs[b].last = reach[bufs[b].last < 0 ? 0 : bufs[b].last];
        for (int i = 0; i < n_shared; i++)
            if (shared[i].last >= 0 && shared[i].last < p->n_steps) shared[i].last = reach[shared[i].last];
        free(reach);
    }
    /* Workspaces: live during their step. */
    int first_work = n_bufs;
    for (int s = 0; s < p->n_steps; s++) {
        const plan_step *step = &p->steps[s];
        if (step->dead || !step->fn || !step->work) continue;
        size_t bytes = (step->work + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES;
        bufs[n_bufs++] = (arena_buf){s, s, bytes, 0};
    }
    /* The backend's shared buffers: live from the first step using one to the last. */
    int first_shared = n_bufs;
    for (int i = 0; i < n_shared; i++)
        bufs[n_bufs++] = (arena_buf){shared[i].first, shared[i].last, (shared[i].bytes + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES, 0};
    size_t total = 0;
    if (recur_arena_place(bufs, n_bufs, &total, &g->work) != 0) goto nomem;
    p->arena_bytes = total;
    /* Zeroed, without touching the pages here: calloc takes a large block fresh from the system
     * (zero already), where memset would fault in every page of the arena at compile time. */
    if (total) {
        if (!(p->arena_block = calloc(total + ALIGN_BYTES, 1))) goto nomem;
        p->arena = (void *)(((uintptr_t)p->arena_block + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES);
    }
    for (int i = 0; i < n; i++)
        if (root[i] == i && buf_of[i] >= 0) p->val[i] = (float *)((char *)p->arena + bufs[buf_of[i]].offset);
    for (int i = 0; i < n; i++) /* views and placed values: in their root's buffer (arena or storage) */
        if (root[i] != i && p->val[root[i]]) p->val[i] = (float *)((char *)p->val[root[i]] + off[i]);
    for (int s = 0, b = first_work; s < p->n_steps; s++) {
        plan_step *step = &p->steps[s];
        step->work_at = NULL;
        if (!step->dead && step->fn && step->work) step->work_at = (float *)((char *)p->arena + bufs[b++].offset);
    }
    for (int i = 0; i < n_shared; i++) shared[i].at = (char *)p->arena + bufs[first_shared + i].offset;
    /* What each buffer holds, for recur_plan_memory_report (not needed to run: skipped if out of memory). */
    if ((p->buffers = malloc(sizeof *p->buffers * ((size_t)n_bufs + 1)))) {
        for (int i = 0; i < n; i++)
            if (buf_of[i] >= 0) p->buffers[buf_of[i]] = (plan_buffer){PLAN_BUF_VALUE, i, 0, 0, 0, 0};
        for (int s = 0, b = first_work; s < p->n_steps; s++)
            if (p->steps[s].work_at) p->buffers[b++] = (plan_buffer){PLAN_BUF_WORK, s, 0, 0, 0, 0};
        for (int i = 0; i < n_shared; i++) p->buffers[first_shared + i] = (plan_buffer){PLAN_BUF_BACKEND, shared[i].id, 0, 0, 0, 0};
        for (int b = 0; b < n_bufs; b++) {
            p->buffers[b].first = bufs[b].first, p->buffers[b].last = bufs[b].last;
            p->buffers[b].bytes = bufs[b].bytes, p->buffers[b].offset = bufs[b].offset;
        }
        p->n_buffers = n_bufs;
    }
    goto out;
nomem:
    st = recur_error_set(&p->error, RECUR_ERR_NOMEM, "compile: out of memory for the plan's buffers");
out:
    free(last_use);
    free(buf_of);
    free(pinned);
    free(bufs);
    return st;
}
