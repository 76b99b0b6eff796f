/*
 * draw/draw_grad.c — where the gradient nodes of the backward view go.
 *
 * recur_grad does not record which forward node a gradient node belongs
 * to, so each gradient node is given the cell (loop, step) whose backward
 * computation it belongs to. Gradients flow against time: a gradient node
 * sits no later (in its loop's walk order) than the gradient nodes it reads,
 * and no earlier than the forward values it reads. So, taking the nodes in
 * the order recur_grad made them (operands first):
 *   1. a node sits at the earliest place among the gradient nodes it reads,
 *      but not before the latest forward value it reads (ties go to the
 *      forward value's loop): tanh_grad(h_t, adj(h_t)) sits at t, and so
 *      do f_t's gradient adj(c_t) c_{t-1} and a weight's contribution
 *      adj(pre_t)^T h_{t-1}, while the sum of adj(h_t)'s contributions from
 *      steps t and t + 1 sits at t; a node reading only forward values sits
 *      at the latest of them, unless it also reads a gradient node without a
 *      place yet, which leaves it to rule 2 (and then to rule 3); row t of a
 *      gradient over all steps (a take along time) counts as step t;
 *   2. then, from the last node to the first, a node that reads no forward
 *      value moves to where all its placed users agree to be (so a stacked
 *      layer's sum adj(h1_t) of contributions from layer 2 at t and layer 1
 *      at t + 1 joins layer 1's tanh_grad at t), and a node without a place
 *      gets its users' place the same way;
 *   3. a node still without a place that reads forward values sits at the
 *      latest of them.
 * A node that reads a whole sequence at once, concatenates or stacks
 * values of several steps, or is one of the additions that sum a drawn
 * gradient (a weight's gradient over every step), gathers over time and
 * sits nowhere, as does what reads only such nodes: it is drawn outside the
 * cells. A time-distributed gradient value
 * (the gradient of a dense head over all steps) sits at its own step. The
 * seed dL/dL = 1 is the first gradient node recur_grad made: a fill.
 */
#include <stdlib.h>

#include "draw.h"

/* The walk position of step t in loop li (how far the loop has run). */
static int64_t walk_pos(const draw_ctx *c, int li, int64_t t)
{
    return c->g->loops[li].reverse ? c->g->loops[li].T - 1 - t : t;
}

/* The forward cell of key k: 1 + loop (its step in *t), or 0 for an untimed or gradient key. */
static int forward_cell(const draw_ctx *c, draw_key k, int64_t *t)
{
    if (k.t == DRAW_NOSTEP || !recur_draw_is_forward(c, k)) return 0;
    int li = recur_draw_body_loop(c, k.id);
    if (!li) li = c->axis[k.id] + 1;
    *t = k.t;
    return li;
}

/*
 * Marks as gathering (gloop = -1) the chain of additions that sums gradient
 * node `id` from contributions of many steps; `stack` has room for every
 * reference of every key.
 */
static void accumulation(draw_ctx *c, int32_t id, int32_t *stack)
{
    int top = 0, i = recur_draw_key_index(c, (draw_key){id, DRAW_NOSTEP});
    if (i < 0 || c->fwd[id] || c->td[id] || recur_draw_body_loop(c, id)) return;
    stack[top++] = i;
    while (top > 0) {
        int k = stack[--top];
        const recur_node *n = &c->g->nodes[c->keys[k].id];
        if (n->op != RECUR_OP_ADD || c->gloop[k] < 0) continue;
        c->gloop[k] = -1;
        for (int r = c->op_start[k]; r < c->op_start[k + 1]; r++) {
            draw_key in = c->refs.v[r].key;
            int j = recur_draw_key_index(c, in);
            if (j >= 0 && in.t == DRAW_NOSTEP && !recur_draw_is_forward(c, in)) stack[top++] = j;
        }
    }
}

recur_status recur_draw_grad_steps(draw_ctx *c)
{
    int nk = c->n_keys;
    c->gloop = calloc((size_t)nk + 1, sizeof *c->gloop);
    c->gstep = calloc((size_t)nk + 1, sizeof *c->gstep);
    int32_t *order = malloc(sizeof *order * ((size_t)nk + 1));
    int32_t *n_users = calloc((size_t)nk + 2, sizeof *n_users), *users = NULL;
    char *fwd_reads = calloc((size_t)nk + 1, 1);
    int32_t *pending = calloc((size_t)nk + 1, sizeof *pending), *pending_t = calloc((size_t)nk + 1, sizeof *pending_t);
    if (!c->gloop || !c->gstep || !order || !n_users || !fwd_reads || !pending || !pending_t) {
        free(order), free(n_users), free(fwd_reads), free(pending), free(pending_t);
        return recur_set_error(c->g, RECUR_ERR_NOMEM, "draw: out of memory");
    }
    /* The untimed gradient keys by node id: recur_grad makes operands before users. */
    int n = 0;
    for (int32_t id = 0; id < c->n; id++) {
        if (c->fwd[id] || c->td[id] || recur_draw_body_loop(c, id)) continue;
        int i = recur_draw_key_index(c, (draw_key){id, DRAW_NOSTEP});
        if (i < 0) continue;
        if (c->seed < 0 && c->g->nodes[id].op == RECUR_OP_FILL && recur_shape_numel(c->g->nodes[id].shape) == 1)
            c->seed = id;
        order[n++] = i;
    }
    for (int i = 0; i < nk; i++) { /* time-distributed gradient values: their own step */
        draw_key k = c->keys[i];
        if (k.t != DRAW_NOSTEP && !recur_draw_is_forward(c, k) && c->axis[k.id] >= 0)
            c->gloop[i] = c->axis[k.id] + 1, c->gstep[i] = k.t;
    }
    /* The sums a drawn gradient is accumulated by (a weight's gradient over the steps) gather. */
    int32_t *stack = malloc(sizeof *stack * ((size_t)c->refs.n + (size_t)nk + 1));
    if (!stack) {
        free(order), free(n_users), free(fwd_reads), free(pending), free(pending_t);
        return recur_set_error(c->g, RECUR_ERR_NOMEM, "draw: out of memory");
    }
    for (int k = 0; k < c->n_out; k++) {
        int32_t id = c->out[k].id;
        while (c->g->nodes[id].op == RECUR_OP_ALIAS) id = c->g->nodes[id].in[0];
        accumulation(c, id, stack);
    }
    free(stack);
    /* Rule 1. */
    for (int j = 0; j < n; j++) {
        if (c->gloop[order[j]] < 0) continue;
        int i = order[j], lo = 0, hi = 0, steps = 0, whole = 0, unplaced = 0;
        int64_t lo_t = 0, hi_t = 0, take_t = -1;
        for (int r = c->op_start[i]; r < c->op_start[i + 1]; r++) {
            draw_key k = c->refs.v[r].key;
            int64_t t;
            whole |= c->refs.v[r].flags & DRAW_VIA_ALL;
            int li = forward_cell(c, k, &t);
            if (li) { /* lo: the latest forward value read */
                if (lo && (li != lo || t != lo_t)) steps++;
                if (!lo || walk_pos(c, li - 1, t) > walk_pos(c, lo - 1, lo_t)) lo = li, lo_t = t;
                continue;
            }
            int g = recur_draw_key_index(c, k);
            if (g < 0 || recur_draw_is_forward(c, k)) continue;
            if (c->gloop[g] <= 0) {
                const recur_node *x = &c->g->nodes[k.id];
                if (x->op == RECUR_OP_TAKE && x->attr.i[0] == 0) /* row t of a gradient over all steps */
                    take_t = x->attr.i[1];
                else
                    unplaced = 1;
                continue;
            }
            li = c->gloop[g], t = c->gstep[g];
            if (hi && (li != hi || t != hi_t)) steps++;
            /* hi: the earliest gradient read; between equals the lower row */
            if (!hi || walk_pos(c, li - 1, t) < walk_pos(c, hi - 1, hi_t) ||
                (walk_pos(c, li - 1, t) == walk_pos(c, hi - 1, hi_t) && c->loops[li - 1].row < c->loops[hi - 1].row))
                hi = li, hi_t = t;
        }
        int op = c->g->nodes[c->keys[i].id].op;
        if (whole || ((op == RECUR_OP_CONCAT || op == RECUR_OP_STACK) && steps)) {
            c->gloop[i] = -1; /* gathers over time: no place, nor does rule 2 give it one */
            continue;
        }
        /* A row taken from a gradient over all steps counts as step take_t of the loop at hand. */
        int near = hi ? hi : lo;
        if (take_t >= 0 && near && take_t < c->loops[near - 1].T &&
            (!hi || walk_pos(c, near - 1, take_t) < walk_pos(c, hi - 1, hi_t)))
            hi = near, hi_t = take_t;
        if (hi && (!lo || walk_pos(c, hi - 1, hi_t) > walk_pos(c, lo - 1, lo_t))) {
            c->gloop[i] = hi, c->gstep[i] = (int32_t)hi_t;
        } else if (lo && hi) {
            c->gloop[i] = lo, c->gstep[i] = (int32_t)lo_t;
        } else if (lo) { /* only forward values: the latest, unless a gradient read has no place yet (rule 3) */
            pending[i] = lo, pending_t[i] = (int32_t)lo_t;
            if (!unplaced) c->gloop[i] = lo, c->gstep[i] = (int32_t)lo_t;
        }
        fwd_reads[i] = lo != 0 && c->gloop[i] > 0;
    }
    /* Rule 2 needs each untimed gradient key's users. */
    for (int j = 0; j < n; j++)
        for (int r = c->op_start[order[j]]; r < c->op_start[order[j] + 1]; r++) {
            int in = recur_draw_key_index(c, c->refs.v[r].key);
            if (in >= 0) n_users[in + 1]++;
        }
    for (int i = 0; i < nk; i++) n_users[i + 1] += n_users[i];
    users = malloc(sizeof *users * ((size_t)n_users[nk] + 1));
    int32_t *fill = malloc(sizeof *fill * ((size_t)nk + 1));
    if (!users || !fill) {
        free(order), free(n_users), free(users), free(fill), free(fwd_reads), free(pending), free(pending_t);
        return recur_set_error(c->g, RECUR_ERR_NOMEM, "draw: out of memory");
    }
    for (int i = 0; i < nk; i++) fill[i] = n_users[i];
    for (int j = 0; j < n; j++)
        for (int r = c->op_start[order[j]]; r < c->op_start[order[j] + 1]; r++) {
            int in = recur_draw_key_index(c, c->refs.v[r].key);
            if (in >= 0) users[fill[in]++] = order[j];
        }
    /* Rule 2. */
    for (int j = n - 1; j >= 0; j--) {
        int i = order[j], have = 0, same = 1;
        if (c->gloop[i] < 0 || fwd_reads[i]) continue;
        int32_t l = 0, t = 0;
        for (int u = n_users[i]; u < n_users[i + 1]; u++) {
            int w = users[u];
            if (c->gloop[w] <= 0) continue;
            if (!have) l = c->gloop[w], t = c->gstep[w], have = 1;
            else if (l != c->gloop[w] || t != c->gstep[w]) same = 0;
        }
        if (have && same) c->gloop[i] = l, c->gstep[i] = t;
    }
    /* Rule 3: what still has no place sits at the latest forward value it reads. */
    for (int i = 0; i < nk; i++) {
        if (c->gloop[i] == 0 && pending[i]) c->gloop[i] = pending[i], c->gstep[i] = pending_t[i];
        if (c->gloop[i] < 0) c->gloop[i] = 0;
    }
    free(order), free(n_users), free(users), free(fill), free(fwd_reads), free(pending), free(pending_t);
    return RECUR_OK;
}
