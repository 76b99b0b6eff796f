/*
 * draw/recur_draw_time.c — time in a drawing: which outer values are computed
 * step by step along the time axis, and what a value is at a step.
 *
 * An outer value is time-distributed with length T when its axis 0 is a
 * loop's time axis and row t of it depends only on row t of its
 * time-distributed operands: a loop's stacked output; a sequence a loop
 * reads; and an op that works row by row (elementwise ops, a matmul of
 * [T, B, K] by [K, N], a concatenation or softmax along a later axis, an
 * embedding of [T, B] ids...) over such operands. A diagram splits these
 * into steps, so a dense head over all outputs is drawn above each cell.
 * Such a value may cover a chunk of the steps only (hoisting in chunks,
 * passes/hoist.c: a stack of steps s .. s + n - 1, their joined gradients):
 * its row i is step s + i (t0[id] = s).
 *
 * Resolving a value at step t follows the loop structure without unrolling
 * it: a step placeholder is its sequence at t, a state placeholder is the
 * next value at the previous step (the initial value at the first), a
 * stacked output is the body value at t, a final state the next value at
 * the last step, an unrolled copy the body node it copies at its step.
 */
#include <stdlib.h>

#include "draw.h"
#include "ops/op.h"

void recur_draw_refs_push(draw_ctx *c, draw_refs *r, draw_key k, int flags, int tag)
{
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 16;
        draw_ref *v = realloc(r->v, sizeof *v * (size_t)cap);
        if (!v) {
            c->st = RECUR_ERR_NOMEM;
            return;
        }
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n++] = (draw_ref){k, flags, tag};
}

int recur_draw_body_loop(const draw_ctx *c, int32_t id)
{
    const recur_node *n = &c->g->nodes[id];
    return n->loop ? n->loop : n->unrolled;
}

int64_t recur_draw_time_of(const draw_ctx *c, int li, int64_t s)
{
    const recur_loop_rec *L = &c->g->loops[li];
    return L->reverse ? L->T - 1 - s : s;
}

/* Row-by-row ops (the op list's rows rule, recur_op_rows): an operand aligned with the result's axis 0 at step t gives row t. */
static int row_wise(const recur_graph *g, const recur_node *n) { return recur_op_rows(g, n, -1) == 1; }

/* 1 if operand k of a row-wise node is aligned with its axis 0. */
static int time_operand(const recur_graph *g, const recur_node *n, int k) { return recur_op_rows(g, n, k) == 1; }

static int is_leaf(const recur_node *n) { return recur_op_has(n->op, RECUR_OPP_LEAF); }

/*
 * If node n is a loop's stacked output — a loop-output node, or what
 * unrolling makes of one: a stack over axis 0 of the copies of one body
 * value at steps 0..T-1 — returns 1 + the loop and sets *body to the value
 * and *first to 0. A stack of the copies at steps s .. s + n - 1 only (a
 * chunk of them: passes/hoist.c hoists a second layer over chunks of the
 * first's steps) is one too, its row 0 step s: *first = s.
 */
static int stacked_output(const recur_graph *g, const recur_node *n, int32_t *body, int64_t *first_step)
{
    *first_step = 0;
    if (n->op == RECUR_OP_LOOP_OUTPUT && n->attr.i[1] == 0) {
        *body = (int32_t)n->attr.i[2];
        return (int)n->attr.i[0] + 1;
    }
    if (n->op != RECUR_OP_STACK || n->attr.i[0] != 0 || n->n_in < 1) return 0;
    const recur_node *first = &g->nodes[n->in[0]];
    int li = first->unrolled;
    if (!li || first->step < 0 || first->step + n->n_in > g->loops[li - 1].T) return 0;
    for (int k = 0; k < n->n_in; k++) {
        const recur_node *x = &g->nodes[n->in[k]];
        if (x->unrolled != li || x->origin != first->origin || x->step != first->step + k) return 0;
    }
    *body = first->origin;
    *first_step = first->step;
    return li;
}

/* Marks sequence `id` of loop li (length T) and, through row-wise ops, the tokens it is made of. */
static void mark_sequence(draw_ctx *c, int32_t id, int li, int64_t T, int32_t *stack)
{
    recur_graph *g = c->g;
    int top = 0;
    int32_t body;
    int64_t from;
    const recur_node *s = &g->nodes[id];
    if (c->td[id] || recur_draw_body_loop(c, id) || s->op == RECUR_OP_ALIAS || stacked_output(g, s, &body, &from)) return;
    c->td[id] = T;
    c->axis[id] = li;
    stack[top++] = id;
    /* Each node is marked when pushed, so the stack holds each at most once. */
    while (top > 0) {
        int32_t v = stack[--top];
        const recur_node *n = &g->nodes[v];
        if (is_leaf(n) || !row_wise(c->g, n)) {
            c->token[v] = 1;
            continue;
        }
        int any = 0;
        for (int k = 0; k < n->n_in; k++) {
            int32_t in = n->in[k];
            const recur_node *x = &g->nodes[in];
            if (!time_operand(g, n, k) || x->shape.ndim < 1 || x->shape.d[0] != T || x->op == RECUR_OP_PARAM) continue;
            any = 1;
            if (c->td[in] || recur_draw_body_loop(c, in) || x->op == RECUR_OP_ALIAS || stacked_output(g, x, &body, &from)) continue;
            c->td[in] = T;
            c->axis[in] = li;
            stack[top++] = in;
        }
        if (!any) c->token[v] = 1;
    }
}

/*
 * A concatenation along axis 0 of the gradients of one loop's steps 0 ..
 * T - 1, part t at step t (how gradient batching joins the per-step
 * gradients of a sequence): 1 + the loop, else 0. Its row t belongs to
 * step t, so the gradients drawn from it stay per step. The gradients of
 * steps s .. s + n - 1 only (a chunk of the sequence) are one too, row 0
 * at step s: *first = s.
 */
static int per_step_concat(const recur_graph *g, const recur_node *n, int64_t *first_step)
{
    if (n->op != RECUR_OP_CONCAT || n->attr.i[0] != 0 || n->n_in < 2) return 0;
    int L = 0;
    int64_t s0 = 0;
    for (int k = 0; k < n->n_in; k++) {
        int li;
        int64_t t;
        const recur_node *part = &g->nodes[n->in[k]];
        if (!recur_grad_step(g, n->in[k], &li, &t) || !li || (k == 0 && t < 0) || (k > 0 && t != s0 + k) ||
            (L && li != L) || part->shape.d[0] != g->nodes[n->in[0]].shape.d[0])
            return 0;
        if (k == 0) s0 = t;
        L = li;
    }
    if (s0 + n->n_in > g->loops[L - 1].T || n->shape.d[0] != n->n_in) return 0;
    *first_step = s0;
    return L;
}

/* Node v (outer, row-wise) in topological order: time-distributed if its aligned operands are. */
static void mark_row_wise(draw_ctx *c, int32_t v)
{
    recur_graph *g = c->g;
    const recur_node *n = &g->nodes[v];
    int64_t T = 0, rows = 0, from = 0;
    int ax = -1;
    for (int k = 0; k < n->n_in && !T; k++)
        if (time_operand(g, n, k) && c->td[n->in[k]])
            T = c->td[n->in[k]], ax = c->axis[n->in[k]], from = c->t0[n->in[k]], rows = g->nodes[n->in[k]].shape.d[0];
    if (!T || n->shape.d[0] != rows) return;
    for (int k = 0; k < n->n_in; k++) {
        const recur_node *in = &g->nodes[n->in[k]];
        if (!time_operand(g, n, k) || (c->td[n->in[k]] == T && c->t0[n->in[k]] == from) || in->shape.d[0] == 1 ||
            recur_draw_is_length_mask(c, n->in[k]))
            continue; /* (a loop's mask of its lengths zeroes the steps past each end: the steps stay per step) */
        if (in->shape.d[0] != rows || in->op == RECUR_OP_PARAM || !is_leaf(in)) return;
    }
    /* Leaves along time ([T, B] targets beside [T, B, C] logits) are per-step values too. */
    for (int k = 0; k < n->n_in; k++) {
        int32_t in = n->in[k];
        if (time_operand(g, n, k) && !c->td[in] && g->nodes[in].shape.d[0] == rows && is_leaf(&g->nodes[in])) {
            c->td[in] = T;
            c->t0[in] = from;
            c->axis[in] = ax;
            c->token[in] = 2;
        }
    }
    c->td[v] = T;
    c->t0[v] = from;
    c->axis[v] = ax;
}

void recur_draw_loops_of(draw_ctx *c, int32_t id, uint64_t *loops, char *seen, int32_t *stack, int32_t *list, int *n_list)
{
    recur_graph *g = c->g;
    int top = 0;
    seen[id] = 1;
    list[(*n_list)++] = id;
    stack[top++] = id;
    while (top > 0) {
        int32_t v = stack[--top];
        const recur_node *n = &g->nodes[v];
        int li = recur_draw_body_loop(c, v);
        if (!li && n->op == RECUR_OP_LOOP_OUTPUT) li = (int)n->attr.i[0] + 1;
        if (li) {
            loops[(li - 1) / 64] |= (uint64_t)1 << ((li - 1) % 64);
            continue;
        }
        for (int k = 0; k < n->n_in; k++) {
            int32_t in = n->in[k];
            if (seen[in]) continue;
            seen[in] = 1;
            list[(*n_list)++] = in;
            stack[top++] = in;
        }
    }
}

/*
 * A join: a time-distributed node with two aligned operands that come from
 * different sets of loops (a bidirectional layer's concat, a residual add).
 */
static recur_status mark_joins(draw_ctx *c)
{
    recur_graph *g = c->g;
    int words = (g->n_loops + 63) / 64;
    uint64_t *a = calloc((size_t)words * 2 + 1, sizeof *a), *b = a ? a + words : NULL;
    char *seen = calloc((size_t)c->n + 1, 1);
    int32_t *stack = malloc(sizeof *stack * ((size_t)c->n + 1));
    int32_t *list = malloc(sizeof *list * ((size_t)c->n + 1));
    recur_status st = a && seen && stack && list ? RECUR_OK : RECUR_ERR_NOMEM;
    for (int32_t v = 0; v < c->n && st == RECUR_OK && words > 0; v++) {
        const recur_node *n = &g->nodes[v];
        if (!c->td[v] || c->token[v] || n->removed || n->n_in < 2 || !row_wise(c->g, n)) continue;
        int found = 0;
        for (int k = 0; k < n->n_in && found < 2; k++) {
            if (!time_operand(g, n, k) || !c->td[n->in[k]]) continue;
            uint64_t *bits = found ? b : a;
            for (int w = 0; w < words; w++) bits[w] = 0;
            int n_list = 0;
            recur_draw_loops_of(c, n->in[k], bits, seen, stack, list, &n_list);
            for (int i = 0; i < n_list; i++) seen[list[i]] = 0;
            int any = 0;
            for (int w = 0; w < words; w++) any |= bits[w] != 0;
            if (!any) continue;
            if (found == 1) {
                int differ = 0;
                for (int w = 0; w < words; w++) differ |= a[w] != b[w];
                if (differ) found = 2;
            } else {
                found = 1;
            }
        }
        c->join[v] = found == 2;
    }
    free(a);
    free(seen);
    free(stack);
    free(list);
    return st;
}

int recur_draw_is_length_mask(const draw_ctx *c, int32_t id)
{
    const recur_graph *g = c->g;
    for (;;) {
        const recur_node *n = &g->nodes[id];
        if (n->op == RECUR_OP_LENGTH_MASK) return 1;
        if (n->op != RECUR_OP_RESHAPE && n->op != RECUR_OP_TAKE && n->op != RECUR_OP_BROADCAST_TO) return 0;
        id = n->in[0];
    }
}

recur_status recur_draw_time(draw_ctx *c)
{
    recur_graph *g = c->g;
    recur_value *all = malloc(sizeof *all * ((size_t)c->n + 1));
    int32_t *order = malloc(sizeof *order * ((size_t)c->n + 1));
    int32_t *stack = malloc(sizeof *stack * ((size_t)c->n + 1));
    if (!all || !order || !stack) {
        free(all), free(order), free(stack);
        return recur_set_error(g, RECUR_ERR_NOMEM, "draw: out of memory");
    }
    for (int li = 0; li < g->n_loops; li++) {
        const recur_loop_rec *L = &g->loops[li];
        for (int k = 0; k < L->n_seq; k++) /* the mask of a loop over lengths: a token of the op level only */
            if (L->seq[k] != L->mask_seq || c->o.level != RECUR_LEVEL_CELL) mark_sequence(c, L->seq[k], li, L->T, stack);
    }
    /* Then forwards over every live node in a topological order. */
    int n_all = 0;
    for (int32_t v = 0; v < c->n; v++)
        if (!g->nodes[v].removed) all[n_all++] = (recur_value){v};
    int count = recur_topo(g, n_all, all, NULL, order, "draw");
    free(all);
    if (count < 0) {
        free(order), free(stack);
        return g->error.code;
    }
    for (int j = 0; j < count; j++) {
        int32_t v = order[j], body;
        int64_t from;
        const recur_node *n = &g->nodes[v];
        if (c->td[v] || recur_draw_body_loop(c, v)) continue;
        int li = stacked_output(g, n, &body, &from);
        if (li) {
            c->td[v] = g->loops[li - 1].T;
            c->t0[v] = from;
            c->axis[v] = li - 1;
        } else if (n->op == RECUR_OP_ALIAS) {
            c->td[v] = c->td[n->in[0]];
            c->t0[v] = c->t0[n->in[0]];
            c->axis[v] = c->axis[n->in[0]];
        } else if ((li = per_step_concat(g, n, &from))) {
            c->td[v] = g->loops[li - 1].T;
            c->t0[v] = from;
            c->axis[v] = li - 1;
        } else if (row_wise(c->g, n)) {
            mark_row_wise(c, v);
        }
    }
    free(order);
    free(stack);
    return mark_joins(c) == RECUR_OK ? RECUR_OK : recur_set_error(g, RECUR_ERR_NOMEM, "draw: out of memory");
}

/* Index of state placeholder `state` in loop li, or -1. */
static int state_index(const recur_loop_rec *L, int32_t state)
{
    for (int k = 0; k < L->n_state; k++)
        if (L->state[k] == state) return k;
    return -1;
}

/* Body node b of loop li at step t (rolled: the node itself). */
static void resolve_body(draw_ctx *c, int li, int32_t b, int32_t t, int flags, int tag, draw_refs *out)
{
    recur_graph *g = c->g;
    for (;;) {
        const recur_loop_rec *L = &g->loops[li];
        const recur_node *n = &g->nodes[b];
        if (!c->unrolled) {
            recur_draw_refs_push(c, out, (draw_key){b, DRAW_NOSTEP}, flags, tag);
            return;
        }
        if (n->loop != li + 1) { /* a state closed with an outer value */
            recur_draw_resolve(c, b, DRAW_NOSTEP, flags, tag, out);
            return;
        }
        if (n->op == RECUR_OP_LOOP_STEP) {
            recur_draw_resolve(c, L->seq[n->attr.i[1]], t, flags, tag, out);
            return;
        }
        if (n->op == RECUR_OP_LOOP_STATE) {
            int k = (int)n->attr.i[1];
            int64_t s = L->reverse ? L->T - 1 - t : t;
            flags |= DRAW_VIA_STATE;
            tag = k;
            if (s == 0) {
                recur_draw_resolve(c, L->init[k], DRAW_NOSTEP, flags | DRAW_VIA_INIT, tag, out);
                return;
            }
            b = L->next[k];
            t = (int32_t)recur_draw_time_of(c, li, s - 1);
            continue;
        }
        recur_draw_refs_push(c, out, (draw_key){b, t}, flags, tag);
        return;
    }
}

/*
 * take(x, axis 0, t) where x is a sum of pad_axis(v_k, axis 0, start_k)
 * (how a stack's gradient is built when nothing is batched): row t comes
 * from the v_k whose rows cover t, so the step reads only those. Returns 0
 * (nothing appended) when x is not such a sum.
 */
static int take_of_pads(draw_ctx *c, const recur_node *take, int flags, int tag, draw_refs *out)
{
    recur_graph *g = c->g;
    int64_t t = take->attr.i[1];
    int32_t stack[64], found[64];
    int top = 0, n_found = 0;
    stack[top++] = take->in[0];
    while (top > 0) {
        const recur_node *x = &g->nodes[stack[--top]];
        if (x->op == RECUR_OP_ADD && x->n_in == 2 && top + 2 <= 64 &&
            recur_shape_equal(g->nodes[x->in[0]].shape, g->nodes[x->in[1]].shape)) {
            stack[top++] = x->in[0];
            stack[top++] = x->in[1];
        } else if (x->op == RECUR_OP_PAD_AXIS && x->attr.i[0] == 0) {
            int64_t start = x->attr.i[1], len = g->nodes[x->in[0]].shape.d[0];
            if (t >= start && t < start + len && len == 1 && n_found < 64) found[n_found++] = x->in[0];
        } else {
            return 0;
        }
    }
    for (int i = 0; i < n_found; i++) recur_draw_resolve(c, found[i], DRAW_NOSTEP, flags, tag, out);
    return n_found > 0;
}

void recur_draw_resolve(draw_ctx *c, int32_t id, int32_t t, int flags, int tag, draw_refs *out)
{
    recur_graph *g = c->g;
    for (;;) {
        const recur_node *n = &g->nodes[id];
        int32_t body;
        int64_t from;
        if (n->loop) {
            resolve_body(c, n->loop - 1, id, t, flags, tag, out);
            return;
        }
        if (n->unrolled) { /* an unrolled copy: its body node at its step */
            resolve_body(c, n->unrolled - 1, n->origin, (int32_t)n->step, flags, tag, out);
            return;
        }
        int li = stacked_output(g, n, &body, &from);
        if (li) {
            if (t != DRAW_NOSTEP || !c->unrolled) {
                resolve_body(c, li - 1, body, t, flags, tag, out);
            } else {
                for (int64_t s = from; s < from + n->shape.d[0] && s < g->loops[li - 1].T; s++)
                    resolve_body(c, li - 1, body, (int32_t)s, flags | DRAW_VIA_ALL, tag, out);
            }
            return;
        }
        if (n->op == RECUR_OP_LOOP_OUTPUT) { /* a final state */
            const recur_loop_rec *L = &g->loops[n->attr.i[0]];
            int k = state_index(L, (int32_t)n->attr.i[2]);
            int32_t last = (int32_t)recur_draw_time_of(c, (int)n->attr.i[0], L->T - 1);
            resolve_body(c, (int)n->attr.i[0], L->next[k], c->unrolled ? last : DRAW_NOSTEP, flags | DRAW_VIA_FINAL,
                         tag, out);
            return;
        }
        if (n->op == RECUR_OP_ALIAS) {
            /* Unrolling makes a final state an alias of the last step's copy. */
            if (g->nodes[n->in[0]].unrolled) flags |= DRAW_VIA_FINAL;
            id = n->in[0];
            continue;
        }
        if (n->op == RECUR_OP_TAKE && n->attr.i[0] == 0 && c->td[n->in[0]]) {
            /* One step of a time-distributed value (a many-to-one head's last step; a step of a chunk). */
            t = c->unrolled ? (int32_t)(c->t0[n->in[0]] + n->attr.i[1]) : DRAW_NOSTEP;
            id = n->in[0];
            continue;
        }
        if (n->op == RECUR_OP_TAKE && n->attr.i[0] == 0 && c->unrolled && take_of_pads(c, n, flags, tag, out)) return;
        if (c->td[id] && c->unrolled) {
            if (t != DRAW_NOSTEP) {
                recur_draw_refs_push(c, out, (draw_key){id, t}, flags, tag);
            } else {
                for (int64_t s = c->t0[id]; s < c->t0[id] + n->shape.d[0] && s < c->td[id]; s++)
                    recur_draw_refs_push(c, out, (draw_key){id, (int32_t)s}, flags | DRAW_VIA_ALL, tag);
            }
            return;
        }
        recur_draw_refs_push(c, out, (draw_key){id, DRAW_NOSTEP}, flags, tag);
        return;
    }
}

void recur_draw_operands(draw_ctx *c, draw_key k, draw_refs *out)
{
    recur_graph *g = c->g;
    const recur_node *n = &g->nodes[k.id];
    if (n->loop) {
        int li = n->loop - 1;
        const recur_loop_rec *L = &g->loops[li];
        if (n->op == RECUR_OP_LOOP_STEP) { /* rolled only: unrolled views look through placeholders */
            recur_draw_resolve(c, L->seq[n->attr.i[1]], DRAW_NOSTEP, 0, 0, out);
            return;
        }
        for (int i = 0; i < n->n_in; i++) {
            int32_t in = n->in[i];
            const recur_node *x = &g->nodes[in];
            if (x->loop) {
                resolve_body(c, li, in, k.t, 0, 0, out);
            } else {
                int captured = x->op != RECUR_OP_PARAM && x->op != RECUR_OP_CONST && x->op != RECUR_OP_FILL;
                recur_draw_resolve(c, in, DRAW_NOSTEP, captured ? DRAW_VIA_CAPTURE : 0, 0, out);
            }
        }
        return;
    }
    if (c->token[k.id] == 1) return; /* a sequence token: where the drawing starts */
    int64_t from;
    if (k.t != DRAW_NOSTEP && per_step_concat(g, n, &from)) { /* row t - from is step t's part */
        if (k.t >= from && k.t - from < n->n_in) recur_draw_resolve(c, n->in[k.t - from], DRAW_NOSTEP, 0, 0, out);
        return;
    }
    for (int i = 0; i < n->n_in; i++) {
        int32_t in = n->in[i];
        int timed = k.t != DRAW_NOSTEP && time_operand(g, n, i) && c->td[in] == c->td[k.id] && c->t0[in] == c->t0[k.id];
        recur_draw_resolve(c, in, timed ? k.t : DRAW_NOSTEP, 0, 0, out);
    }
}
