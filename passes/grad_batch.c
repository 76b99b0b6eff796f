/*
 * passes/grad_batch.c — the gradient batching pass: a value's gradient
 * contributions summed with one op where the terms allow it (what autodiff
 * runs to sum them when RECUR_PASS_GRAD_BATCH is on; passes/pipeline.c):
 *
 *   sum_t pad_axis(d_t, axis, start_t, total), disjoint ranges
 *       = concat(d_0, zeros..., d_1, ...) along axis
 *         (the gradient of a sequence read one step at a time);
 *   sum_t op_a(A_t) op_b(B_t)   (2-D matmuls, the same flags and output shape)
 *       = op_a([A_0 | A_1 | ...]) op_b([B_0 ; B_1 ; ...])
 *         with the operands concatenated along their inner dimension
 *         (a weight's gradient over the steps of an unrolled loop: one large
 *         product instead of T small ones and T - 1 additions);
 *   sum_t sum_to(d_t, s)   (d_t of one shape, s without d_t's leading axis or 1 there)
 *       = sum_to([d_0; d_1; ...], s)
 *         (a bias's gradient over the steps: one reduction).
 */
#include <stdlib.h>

#include "ops/op.h"
#include "passes/passes.h"

static recur_value add_to(recur_graph *g, recur_value sum, recur_value term)
{
    return recur_ok(sum) ? recur_add(g, sum, term) : term;
}

/* The start of pad term v (the rank pad terms are concatenated in). */
static int64_t by_start(const recur_graph *g, int32_t v) { return g->nodes[v].attr.i[1]; }

/* Newest (largest id) first: the rank batched terms are joined in (see recur_grad_sum). */
static int64_t newest_first(const recur_graph *g, int32_t v)
{
    (void)g;
    return -(int64_t)v;
}

/* A term and its sort key. */
typedef struct keyed_term {
    int64_t key;
    int32_t id;
} keyed_term;

static int by_key(const void *a, const void *b)
{
    const keyed_term *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Sorts term ids by increasing key (a weight has a term per time step: T log T, not T^2). */
static void sort_terms(const recur_graph *g, int32_t *v, int n, int64_t (*key)(const recur_graph *, int32_t))
{
    keyed_term small[16], *kt = n <= 16 ? small : malloc(sizeof *kt * (size_t)n);
    if (!kt) { /* out of memory: an insertion sort in place */
        for (int i = 1; i < n; i++)
            for (int j = i; j > 0 && key(g, v[j - 1]) > key(g, v[j]); j--) {
                int32_t x = v[j];
                v[j] = v[j - 1], v[j - 1] = x;
            }
        return;
    }
    for (int i = 0; i < n; i++) kt[i] = (keyed_term){key(g, v[i]), v[i]};
    qsort(kt, (size_t)n, sizeof *kt, by_key);
    for (int i = 0; i < n; i++) v[i] = kt[i].id;
    if (kt != small) free(kt);
}

/*
 * The graph's live concatenations by their first input: head[x] is the
 * newest concatenation reading x first, next[c] the next older one, so
 * finding an existing join of some parts costs a walk over the joins of its
 * first part, not over the graph (a weight's gradient asks once per step).
 */
typedef struct concat_index {
    int32_t *head, *next;
} concat_index;

static int concat_index_make(const recur_graph *g, concat_index *ix)
{
    ix->head = malloc(sizeof(int32_t) * ((size_t)g->n + 1));
    ix->next = malloc(sizeof(int32_t) * ((size_t)g->n + 1));
    if (!ix->head || !ix->next) return 0;
    for (int32_t i = 0; i < g->n; i++) ix->head[i] = -1;
    for (int32_t i = 0; i < g->n; i++) {
        const recur_node *c = &g->nodes[i];
        if (c->removed || c->op != RECUR_OP_CONCAT || c->n_in < 1) continue;
        ix->next[i] = ix->head[c->in[0]];
        ix->head[c->in[0]] = i;
    }
    return 1;
}

static void concat_index_free(concat_index *ix) { free(ix->head), free(ix->next); }

/* An existing live concatenation of parts[0..n) along axis (among those the index knows), or -1. */
static int32_t find_concat(recur_graph *g, const concat_index *ix, const int32_t *parts, int n, int axis)
{
    for (int32_t i = ix->head[parts[0]]; i >= 0; i = ix->next[i]) {
        const recur_node *c = &g->nodes[i];
        g->work++;
        if (c->attr.i[0] != axis || c->n_in != n) continue;
        int same = 1;
        for (int k = 0; same && k < n; k++) same = c->in[k] == parts[k];
        if (same) return i;
    }
    return -1;
}

/*
 * The parts of step t of pieces[0..n) (each a concatenation along axis 0)
 * into parts[]: x_{k,t}, or x when every x_{k,t} is reshape(x, [1, ...]);
 * returns 1 in that second case.
 */
static int step_parts(const recur_graph *g, const recur_value *pieces, int n, int t, int32_t *parts)
{
    int unit = 1;
    for (int k = 0; k < n; k++) {
        const recur_node *x = &g->nodes[g->nodes[pieces[k].id].in[t]];
        recur_shape inner = g->nodes[x->in[0]].shape;
        unit &= x->op == RECUR_OP_RESHAPE && x->shape.d[0] == 1 && inner.ndim == x->shape.ndim - 1;
        for (int d = 1; unit && d < x->shape.ndim; d++) unit &= inner.d[d - 1] == x->shape.d[d];
    }
    for (int k = 0; k < n; k++) {
        int32_t x = g->nodes[pieces[k].id].in[t];
        parts[k] = unit ? g->nodes[x].in[0] : x;
    }
    return unit;
}

/*
 * concat_a([concat_0(x_{k,0}, ..., x_{k,T-1})]_k) = concat_0([concat_a(x_{0,t}, ..., x_{K-1,t})]_t)
 * for an axis a > 0, when every inner concatenation joins T parts along
 * axis 0 (a part reshape(x, [1, ...]), a take's gradient, counts as x
 * joined along a - 1 and reshaped). This is the gradient of a sequence
 * read by column slices of single steps: a hoisted projection sliced per
 * gate, in a cell written one product per gate. Joined step by step it is
 * laid out as a built-in cell's is, and the compiled plan can lay it over
 * the projection (one block per step for projection, gates and their
 * gradients). The layout other values already need decides: the steps'
 * joins when the graph has them all (the fused recurrent product's
 * gradient reads them, dh = [dg_0 | dg_1 | ...] U^T), else the gates'
 * when it joins one gate's steps already (a weight of that gate alone),
 * else the steps'. RECUR_NONE when the gates' layout stays.
 */
static recur_value steps_outside(recur_graph *g, const recur_value *pieces, int n, int axis)
{
    enum { MAX_GATES = 16 };
    if (axis == 0 || n > MAX_GATES) return RECUR_NONE;
    const recur_node *first = &g->nodes[pieces[0].id];
    int T = first->n_in;
    for (int k = 0; k < n; k++) {
        const recur_node *c = &g->nodes[pieces[k].id];
        if (c->op != RECUR_OP_CONCAT || c->attr.i[0] != 0 || c->n_in != T || T < 2) return RECUR_NONE;
        for (int t = 0; t < T; t++)
            if (g->nodes[c->in[t]].shape.d[0] != g->nodes[first->in[t]].shape.d[0]) return RECUR_NONE;
    }
    recur_value *steps = malloc(sizeof *steps * (size_t)T), out = RECUR_NONE;
    int32_t *gate = malloc(sizeof(int32_t) * (size_t)T), parts[MAX_GATES];
    concat_index ix = {NULL, NULL};
    if (!steps || !gate || !concat_index_make(g, &ix)) goto done;
    int have_steps = 1, have_gate = 0;
    for (int t = 0; t < T && have_steps; t++) {
        int unit = step_parts(g, pieces, n, t, parts);
        have_steps = find_concat(g, &ix, parts, n, unit ? axis - 1 : axis) >= 0;
    }
    for (int k = 0; k < n && !have_steps && !have_gate; k++) { /* gate k's steps joined along axis 0 elsewhere */
        int unit = 1;
        for (int t = 0; t < T; t++) {
            unit &= step_parts(g, pieces, n, t, parts);
            gate[t] = parts[k];
        }
        have_gate = unit && find_concat(g, &ix, gate, T, 0) >= 0;
    }
    if (have_gate) goto done;
    for (int t = 0; t < T; t++) {
        int unit = step_parts(g, pieces, n, t, parts), along = unit ? axis - 1 : axis;
        int32_t joined = find_concat(g, &ix, parts, n, along);
        if (joined >= 0) {
            steps[t] = (recur_value){joined};
        } else {
            recur_value list[MAX_GATES];
            for (int k = 0; k < n; k++) list[k] = (recur_value){parts[k]};
            steps[t] = recur_concat(g, n, list, along);
        }
        if (unit && recur_ok(steps[t])) {
            recur_shape one = g->nodes[g->nodes[pieces[0].id].in[t]].shape;
            one.d[axis] = g->nodes[steps[t].id].shape.d[axis - 1];
            steps[t] = recur_reshape(g, steps[t], one);
        }
        if (!recur_ok(steps[t])) goto done;
    }
    out = recur_concat(g, T, steps, 0);
done:
    free(steps), free(gate);
    concat_index_free(&ix);
    return out;
}

/* pad terms with disjoint ranges as one concatenation, or RECUR_NONE if they overlap. */
static recur_value concat_pads(recur_graph *g, int32_t *pads, int n)
{
    sort_terms(g, pads, n, by_start);
    const recur_node *first = &g->nodes[pads[0]];
    int axis = (int)first->attr.i[0];
    int64_t total = first->attr.i[2], at = 0;
    recur_value *pieces = malloc(sizeof *pieces * (size_t)(2 * n + 1));
    if (!pieces) return RECUR_NONE;
    int m = 0;
    recur_value out = RECUR_NONE;
    for (int i = 0; i <= n; i++) {
        int64_t start = i < n ? g->nodes[pads[i]].attr.i[1] : total;
        if (start < at) goto done; /* overlapping ranges: not a concatenation */
        if (start > at) {          /* a gap: zeros */
            recur_shape s = g->nodes[pads[0]].shape;
            s.d[axis] = start - at;
            pieces[m++] = recur_fill(g, s, 0.0f);
        }
        if (i == n) break;
        int32_t src = g->nodes[pads[i]].in[0];
        pieces[m++] = (recur_value){src};
        at = start + g->nodes[src].shape.d[axis];
    }
    out = m == n ? steps_outside(g, pieces, m, axis) : RECUR_NONE;
    if (!recur_ok(out)) out = recur_concat(g, m, pieces, axis);
done:
    free(pieces);
    return out;
}

/* 2-D matmul terms with equal flags and output shapes as one matmul. */
static recur_value batch_matmuls(recur_graph *g, const int32_t *mm, int n)
{
    recur_value *a = malloc(sizeof *a * (size_t)n), *b = malloc(sizeof *b * (size_t)n), out = RECUR_NONE;
    if (a && b) {
        int ta = (int)g->nodes[mm[0]].attr.i[0] != 0, tb = (int)g->nodes[mm[0]].attr.i[1] != 0;
        for (int i = 0; i < n; i++) {
            a[i] = (recur_value){g->nodes[mm[i]].in[0]};
            b[i] = (recur_value){g->nodes[mm[i]].in[1]};
        }
        /* The inner dimension: a's columns (rows when transposed), b's rows (columns when transposed). */
        recur_value A = recur_concat(g, n, a, ta ? 0 : 1), B = recur_concat(g, n, b, tb ? 1 : 0);
        out = recur_matmul(g, A, B, ta, tb);
    }
    free(a);
    free(b);
    return out;
}

/* sum_to terms of one input shape and target as one reduction over their concatenation. */
static recur_value batch_sums(recur_graph *g, const int32_t *st, int n)
{
    recur_value *parts = malloc(sizeof *parts * (size_t)n), out = RECUR_NONE;
    if (parts) {
        for (int i = 0; i < n; i++) parts[i] = (recur_value){g->nodes[st[i]].in[0]};
        /* The target read before the concatenation is added: adding a node may move the node array, and
         * the order in which a call's arguments are evaluated is the compiler's. */
        recur_shape target = g->nodes[st[0]].shape;
        out = recur_sum_to(g, recur_concat(g, n, parts, 0), target);
    }
    free(parts);
    return out;
}

static int is_sum_like(const recur_graph *g, int32_t v, int32_t ref)
{
    const recur_node *n = &g->nodes[v], *r = &g->nodes[ref];
    recur_shape x = g->nodes[n->in[0]].shape;
    int axis_free = n->shape.ndim < x.ndim || (n->shape.ndim > 0 && n->shape.d[0] == 1);
    return n->op == RECUR_OP_SUM_TO && axis_free && x.ndim >= 1 && recur_shape_equal(n->shape, r->shape) &&
           recur_shape_equal(x, g->nodes[r->in[0]].shape);
}

static int is_pad_like(const recur_graph *g, int32_t v, int32_t ref)
{
    const recur_node *n = &g->nodes[v], *r = &g->nodes[ref];
    return n->op == RECUR_OP_PAD_AXIS && n->attr.i[0] == r->attr.i[0] && n->attr.i[2] == r->attr.i[2];
}

static int is_matmul_like(const recur_graph *g, int32_t v, int32_t ref)
{
    const recur_node *n = &g->nodes[v], *r = &g->nodes[ref];
    return n->op == RECUR_OP_MATMUL && g->nodes[n->in[0]].shape.ndim == 2 && g->nodes[n->in[1]].shape.ndim == 2 &&
           (n->attr.i[0] != 0) == (r->attr.i[0] != 0) && (n->attr.i[1] != 0) == (r->attr.i[1] != 0) &&
           recur_shape_equal(n->shape, r->shape);
}

recur_value recur_pass_grad_batch(recur_graph *g, int n, const int32_t *terms)
{
    g->work += (uint64_t)n;
    if (n == 1) return (recur_value){terms[0]};
    int32_t *pads = malloc(sizeof(int32_t) * (size_t)n), *mms = malloc(sizeof(int32_t) * (size_t)n);
    int32_t *rest = malloc(sizeof(int32_t) * (size_t)n), *sums = malloc(sizeof(int32_t) * (size_t)n);
    if (!pads || !mms || !rest || !sums) {
        free(pads), free(mms), free(rest), free(sums);
        recur_set_error(g, RECUR_ERR_NOMEM, "grad: out of memory");
        return RECUR_NONE;
    }
    int np = 0, nm = 0, nr = 0, ns = 0;
    int32_t pad_ref = -1, mm_ref = -1, sum_ref = -1;
    for (int i = 0; i < n; i++) {
        int32_t v = terms[i];
        if (g->nodes[v].op == RECUR_OP_PAD_AXIS && (pad_ref < 0 || is_pad_like(g, v, pad_ref))) {
            if (pad_ref < 0) pad_ref = v;
            pads[np++] = v;
        } else if (g->nodes[v].op == RECUR_OP_MATMUL && (mm_ref < 0 || is_matmul_like(g, v, mm_ref)) &&
                   is_matmul_like(g, v, v)) {
            if (mm_ref < 0) mm_ref = v;
            mms[nm++] = v;
        } else if (g->nodes[v].op == RECUR_OP_SUM_TO && is_sum_like(g, v, sum_ref < 0 ? v : sum_ref)) {
            if (sum_ref < 0) sum_ref = v;
            sums[ns++] = v;
        } else {
            rest[nr++] = v;
        }
    }
    /* Batched terms in the order of the forward steps they come from: autodiff makes the steps' terms
     * last step first, so the newest term is the first step's. The per-step values then lie in one
     * order in every concatenation (the hoisted input's gradient, each weight's, the bias's), and the
     * executor can place them once and read every such concatenation as one buffer. */
    sort_terms(g, mms, nm, newest_first);
    sort_terms(g, sums, ns, newest_first);
    recur_value sum = RECUR_NONE;
    if (np >= 2) {
        recur_value c = concat_pads(g, pads, np);
        if (recur_ok(c)) sum = c;
        else for (int i = 0; i < np; i++) rest[nr++] = pads[i];
    } else if (np == 1) {
        rest[nr++] = pads[0];
    }
    if (nm >= 2) sum = add_to(g, sum, batch_matmuls(g, mms, nm));
    else if (nm == 1) rest[nr++] = mms[0];
    if (ns >= 2) sum = add_to(g, sum, batch_sums(g, sums, ns));
    else if (ns == 1) rest[nr++] = sums[0];
    for (int i = 0; i < nr; i++) sum = add_to(g, sum, (recur_value){rest[i]});
    free(pads), free(mms), free(rest), free(sums);
    return sum;
}
