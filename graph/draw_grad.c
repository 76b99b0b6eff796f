/*
 * graph/draw_grad.c — where the gradient nodes of the backward view go.
 *
 * recur_grad does not record which forward node a gradient node belongs
 * to, so each gradient node is given the cell (loop, step) whose backward
 * computation it is part of by these rules, in order:
 *   1. a node that reads forward values at some step sits at the latest
 *      step (in its loop's walk order) among those and its placed gradient
 *      operands: step t's backward reads the forward values of step t and
 *      the state h_{t-1} it started from, and the gradients arriving at t
 *      (tanh_grad(h_t, adj) sits at t, and so does a weight's contribution
 *      adj(pre_t)^T h_{t-1}); a node that reads a whole sequence, or
 *      concatenates or stacks values of several steps, gathers over time
 *      and sits nowhere (nor do the rules below place it);
 *   2. else, when every gradient node it reads has a place and they agree,
 *      it sits there (a bias gradient sum_to(adj(pre_t)) sits at step t);
 *   3. else, when the gradient nodes that use it agree, it sits with them
 *      (the sum of two contributions to adj(h_t) sits where tanh_grad at t,
 *      its user, sits) — taken from the last node to the first;
 *   4. else rule 2 again, ignoring operands without a place.
 * A node left without a place (the sum of a weight's gradient over every
 * step) is drawn outside the cells. A time-distributed gradient value (the
 * gradient of a dense head over all steps) sits at its own step.
 * The seed dL/dL = 1 is the first gradient node recur_grad made: a fill.
 */
#include <stdlib.h>

#include "graph/draw.h"

/* The walk position of step t in loop li (how far the loop has run). */
static int64_t walk_pos(const draw_ctx *c, int li, int64_t t)
{
    return c->g->loops[li].reverse ? c->g->loops[li].T - 1 - t : t;
}

/* 1 if cell (l1, t1) comes after (l2, t2): later in the walk, then higher row, then higher loop. */
static int later(const draw_ctx *c, int l1, int64_t t1, int l2, int64_t t2)
{
    int64_t p1 = walk_pos(c, l1, t1), p2 = walk_pos(c, l2, t2);
    if (p1 != p2) return p1 > p2;
    if (c->loops[l1].row != c->loops[l2].row) return c->loops[l1].row > c->loops[l2].row;
    return l1 > l2;
}

/* The forward cell of key k: 1 + loop (its step in *t), or 0 for an untimed or gradient key. */
static int forward_cell(const draw_ctx *c, draw_key k, int64_t *t)
{
    if (k.t == DRAW_NOSTEP || !draw_is_forward(c, k)) return 0;
    int li = draw_body_loop(c, k.id);
    if (!li) li = c->axis[k.id] + 1;
    *t = k.t;
    return li;
}

/* Rules 2 and 4: places key i where its placed gradient operands agree (strict: all must be placed). */
static void agree_operands(draw_ctx *c, int i, int strict)
{
    int have = 0;
    int32_t loop = 0, step = 0;
    for (int r = c->op_start[i]; r < c->op_start[i + 1]; r++) {
        draw_key k = c->refs.v[r].key;
        int j = draw_key_index(c, k);
        if (j < 0 || draw_is_forward(c, k)) continue;
        if (c->gloop[j] <= 0) {
            if (strict) return;
            continue;
        }
        if (!have) {
            loop = c->gloop[j], step = c->gstep[j], have = 1;
        } else if (loop != c->gloop[j] || step != c->gstep[j]) {
            return;
        }
    }
    if (have) c->gloop[i] = loop, c->gstep[i] = step;
}

recur_status draw_grad_steps(draw_ctx *c)
{
    int nk = c->n_keys;
    c->gloop = calloc((size_t)nk + 1, sizeof *c->gloop);
    c->gstep = calloc((size_t)nk + 1, sizeof *c->gstep);
    int32_t *order = malloc(sizeof *order * ((size_t)nk + 1));
    int32_t *n_users = calloc((size_t)nk + 2, sizeof *n_users), *users = NULL;
    if (!c->gloop || !c->gstep || !order || !n_users) {
        free(order), free(n_users);
        return recur_set_error(c->g, RECUR_ERR_NOMEM, "draw: out of memory");
    }
    /* The untimed gradient keys by node id: recur_grad makes operands before users. */
    int n = 0;
    for (int32_t id = 0; id < c->n; id++) {
        if (c->fwd[id] || c->td[id] || draw_body_loop(c, id)) continue;
        int i = draw_key_index(c, (draw_key){id, DRAW_NOSTEP});
        if (i < 0) continue;
        if (c->seed < 0 && c->g->nodes[id].op == RECUR_OP_FILL && recur_shape_numel(c->g->nodes[id].shape) == 1)
            c->seed = id;
        order[n++] = i;
    }
    for (int i = 0; i < nk; i++) { /* time-distributed gradient values: their own step */
        draw_key k = c->keys[i];
        if (k.t != DRAW_NOSTEP && !draw_is_forward(c, k) && c->axis[k.id] >= 0)
            c->gloop[i] = c->axis[k.id] + 1, c->gstep[i] = k.t;
    }
    /* Rules 1 and 2. */
    for (int j = 0; j < n; j++) {
        int i = order[j], best = 0, n_fwd = 0, steps = 0, whole = 0;
        int64_t bt = 0;
        for (int r = c->op_start[i]; r < c->op_start[i + 1]; r++) {
            draw_key k = c->refs.v[r].key;
            int64_t t;
            whole |= c->refs.v[r].flags & DRAW_VIA_ALL;
            int li = forward_cell(c, k, &t);
            n_fwd += li != 0;
            if (!li) {
                int g = draw_key_index(c, k);
                if (g < 0 || draw_is_forward(c, k) || c->gloop[g] <= 0) continue;
                li = c->gloop[g], t = c->gstep[g];
            }
            if (best && (li != best || t != bt)) steps++;
            if (!best || later(c, li - 1, t, best - 1, bt)) best = li, bt = t;
        }
        int op = c->g->nodes[c->keys[i].id].op;
        if (whole || ((op == RECUR_OP_CONCAT || op == RECUR_OP_STACK) && steps)) {
            c->gloop[i] = -1; /* gathers over time: no place, and rules 3 and 4 leave it so */
            continue;
        }
        if (n_fwd) {
            c->gloop[i] = best, c->gstep[i] = (int32_t)bt;
        } else {
            agree_operands(c, i, 1);
        }
    }
    /* Rule 3 needs each untimed gradient key's users. */
    for (int j = 0; j < n; j++)
        for (int r = c->op_start[order[j]]; r < c->op_start[order[j] + 1]; r++) {
            int in = draw_key_index(c, c->refs.v[r].key);
            if (in >= 0) n_users[in + 1]++;
        }
    for (int i = 0; i < nk; i++) n_users[i + 1] += n_users[i];
    users = malloc(sizeof *users * ((size_t)n_users[nk] + 1));
    int32_t *fill = malloc(sizeof *fill * ((size_t)nk + 1));
    if (!users || !fill) {
        free(order), free(n_users), free(users), free(fill);
        return recur_set_error(c->g, RECUR_ERR_NOMEM, "draw: out of memory");
    }
    for (int i = 0; i < nk; i++) fill[i] = n_users[i];
    for (int j = 0; j < n; j++)
        for (int r = c->op_start[order[j]]; r < c->op_start[order[j] + 1]; r++) {
            int in = draw_key_index(c, c->refs.v[r].key);
            if (in >= 0) users[fill[in]++] = order[j];
        }
    for (int j = n - 1; j >= 0; j--) {
        int i = order[j], have = 0, same = 1;
        if (c->gloop[i]) continue;
        int32_t l = 0, t = 0;
        for (int u = n_users[i]; u < n_users[i + 1]; u++) {
            int w = users[u];
            if (c->gloop[w] <= 0) continue;
            if (!have) l = c->gloop[w], t = c->gstep[w], have = 1;
            else if (l != c->gloop[w] || t != c->gstep[w]) same = 0;
        }
        if (have && same) c->gloop[i] = l, c->gstep[i] = t;
    }
    /* Rule 4. */
    for (int j = 0; j < n; j++)
        if (!c->gloop[order[j]]) agree_operands(c, order[j], 0);
    for (int i = 0; i < nk; i++)
        if (c->gloop[i] < 0) c->gloop[i] = 0;
    free(order), free(n_users), free(users), free(fill);
    return RECUR_OK;
}
