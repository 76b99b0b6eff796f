/*
 * draw/recur_draw_unrolled.c — the unrolled and backward views: one column per
 * time step.
 *
 * Layers from the bottom (items of one layer share a rank):
 *   0                   the sequence input tokens,
 *   10 (r + 1)          the cells of row r; the joins fed by row r just above it,
 *   above every cell    one layer per output (per-step outputs in columns),
 *   then                the loss (backward view), and one row of gradient
 *                       cells per loop row, the top row's first (it is
 *                       nearest the loss), and the gradient outputs.
 * Columns are kept in order and straight by invisible edges (draw_scene.c),
 * not by clusters (dot does not keep clusters in the order of flat edges);
 * at op level the ops of each cell at a step form a cluster.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"

static int row_layer(int row) { return 10 * (row + 1); }

/* The cluster of the ops of loop li at step t (gradient ops when grad). */
static int cell_cluster(draw_ctx *c, draw_scene *s, int li, int64_t t, int grad)
{
    char name[48], label[256];
    snprintf(name, sizeof name, "%s%d_%lld", grad ? "grad" : "cell", li, (long long)t);
    for (int i = 0; i < s->n_clusters; i++)
        if (strcmp(s->clusters[i].name + 8, name) == 0) return i; /* after "cluster_" */
    snprintf(label, sizeof label, "%s%s, t = %lld", grad ? "\xe2\x88\x82 " : "", recur_draw_loop_label(c, li), recur_draw_step_number(c, t));
    int cl = recur_draw_cluster_add(s, name, label, -1, grad ? DRAW_CL_GRAD : DRAW_CL_CELL);
    if (cl >= 0) {
        s->clusters[cl].reverse = c->loops[li].reverse;
        /* Forward rows bottom up; gradient rows above them, the top row's first (nearest the loss). */
        int row = c->loops[li].row;
        s->clusters[cl].base = 1000 * (1 + (grad ? c->n_rows + 1 + (c->n_rows - 1 - row) : row));
    }
    return cl;
}

/* Makes item (kind, a, b) at column col of loop li. */
static int place(draw_scene *s, draw_kind kind, int a, int b, const char *label, int layer, int col, int li)
{
    int I = recur_draw_item_add(s, kind, a, b, label);
    if (I < 0) return I;
    draw_item *it = &s->items[I];
    it->layer = layer;
    it->col = col;
    it->loop = li;
    return I;
}

/* What key k is drawn as at cell level. */
static int32_t cell_item(draw_ctx *c, draw_scene *s, int k, int loss_item)
{
    draw_key key = c->keys[k];
    const recur_node *n = &c->g->nodes[key.id];
    char label[256];
    if (c->o.view == RECUR_VIEW_BACKWARD && !recur_draw_is_forward(c, key)) {
        if (key.id == c->seed) return loss_item;
        if (!c->gloop[k]) return DRAW_HIDDEN;
        int li = c->gloop[k] - 1, col = recur_draw_col(c, li, c->gstep[k]);
        if (col < 0) return DRAW_DROPPED;
        snprintf(label, sizeof label, "\xe2\x88\x82 %s", recur_draw_loop_label(c, li));
        int I = place(s, DRAW_GRAD, li, c->gstep[k], label, -1, col, li);
        if (I >= 0) s->items[I].grad = 1, s->items[I].reverse = c->loops[li].reverse;
        return I;
    }
    if (key.id == c->o.loss.id && c->o.view == RECUR_VIEW_BACKWARD) return loss_item;
    if (!n->loop && recur_draw_is_length_mask(c, key.id)) return DRAW_DROPPED; /* the lengths' mask: not a value drawn */
    int li = recur_draw_body_loop(c, key.id) - 1;
    if (n->loop && li >= 0 && key.t == DRAW_NOSTEP) return DRAW_HIDDEN; /* a body value read whole (by a gradient) */
    if (n->loop && li >= 0) {
        int col = recur_draw_col(c, li, key.t);
        if (col < 0) return DRAW_DROPPED;
        int I = place(s, DRAW_CELL, li, key.t, recur_draw_loop_label(c, li), row_layer(c->loops[li].row), col, li);
        if (I >= 0) s->items[I].level = c->loops[li].level, s->items[I].reverse = c->loops[li].reverse;
        return I;
    }
    if (key.t == DRAW_NOSTEP) return DRAW_HIDDEN;
    int col = recur_draw_col(c, c->axis[key.id], key.t);
    if (col < 0) return DRAW_DROPPED;
    if (c->token[key.id] == 1) { /* one box per step for all the tokens of the loop (ids and their mask) */
        int li = c->axis[key.id];
        recur_draw_step_label(c, li, key.t, label, sizeof label);
        return place(s, DRAW_INPUT, c->first_token[li], key.t, label, 0, col, li);
    }
    if (c->join[key.id])
        return place(s, DRAW_JOIN, key.id, key.t, recur_draw_join_label(c, key.id), -1, col, c->axis[key.id]);
    if (recur_draw_head_layer(c, key.id)) /* a named layer of the head (dense, softmax): a box per step */
        return place(s, DRAW_OP, key.id, key.t, recur_draw_user_name(c->g, key.id), -1, col, c->axis[key.id]);
    return DRAW_HIDDEN;
}

/* What key k is drawn as at op level. */
static int32_t op_item(draw_ctx *c, draw_scene *s, int k, int loss_item)
{
    draw_key key = c->keys[k];
    const recur_node *n = &c->g->nodes[key.id];
    char label[256];
    if (key.id == c->seed) return loss_item;
    int internals = c->o.level == RECUR_LEVEL_INTERNALS;
    if (n->op == RECUR_OP_PARAM) return c->o.hide_params || internals ? DRAW_HIDDEN : DRAW_PER_USER;
    if (n->op == RECUR_OP_FILL) return DRAW_HIDDEN; /* an initial zero state becomes an empty circle */
    if (internals && c->folded[key.id] && !c->token[key.id]) return DRAW_HIDDEN; /* W x + U h + b: into its box */
    int li = -1, grad = 0;
    int64_t t = key.t;
    if (n->loop && key.t == DRAW_NOSTEP) return DRAW_HIDDEN; /* a body value read whole (by a gradient) */
    if (n->loop) {
        li = n->loop - 1;
    } else if (c->o.view == RECUR_VIEW_BACKWARD && !recur_draw_is_forward(c, key) && c->gloop[k]) {
        li = c->gloop[k] - 1, t = c->gstep[k], grad = 1;
    }
    if (li >= 0) {
        if (recur_draw_col(c, li, t) < 0) return DRAW_DROPPED;
        if (internals) recur_draw_internals_label(c, key.id, label, sizeof label);
        else recur_draw_op_label(c, key.id, label, sizeof label);
        int glyph = internals && recur_draw_is_glyph(c, key.id);
        int I = recur_draw_item_add(s, glyph ? DRAW_GLYPH : DRAW_OP, key.id, key.t, label);
        if (I >= 0) {
            s->items[I].line = internals && !grad ? c->line[key.id] : 0;
            s->items[I].cluster = cell_cluster(c, s, li, t, grad);
            s->items[I].col = recur_draw_col(c, li, t);
            s->items[I].loop = li;
            s->items[I].grad = grad;
            s->items[I].level = grad ? -1 : c->loops[li].level;
        }
        return I;
    }
    int col = key.t == DRAW_NOSTEP ? -1 : recur_draw_col(c, c->axis[key.id], key.t);
    if (key.t != DRAW_NOSTEP && col < 0) return DRAW_DROPPED;
    if (c->token[key.id] || n->op == RECUR_OP_INPUT) {
        if (key.t != DRAW_NOSTEP)
            recur_draw_token_label(c, key.id, key.t, label, sizeof label);
        else
            recur_draw_op_label(c, key.id, label, sizeof label);
        int I = place(s, DRAW_INPUT, key.id, key.t, label, c->token[key.id] == 1 ? 0 : -1, col, c->axis[key.id]);
        /* A step's token inside the cell that reads it, at the foot of its ops. */
        if (I >= 0 && c->token[key.id] == 1 && key.t != DRAW_NOSTEP && c->loops[c->axis[key.id]].used)
            s->items[I].cluster = cell_cluster(c, s, c->axis[key.id], key.t, 0);
        return I;
    }
    if (internals) recur_draw_internals_label(c, key.id, label, sizeof label);
    else recur_draw_op_label(c, key.id, label, sizeof label);
    int I = place(s, internals && recur_draw_is_glyph(c, key.id) ? DRAW_GLYPH : DRAW_OP, key.id, key.t, label, -1, col,
                  key.t == DRAW_NOSTEP ? -1 : c->axis[key.id]);
    if (I >= 0) s->items[I].grad = !recur_draw_is_forward(c, key);
    return I;
}

/*
 * Internals level: the state enters each step's cell once, as the rolled
 * cell draws it. The state edges from the previous step (or the initial
 * state) into a step's boxes become one state edge into a box "h[t-1]" in
 * that step's cell, and plain edges from it to the boxes (laid out inside
 * the cell by dot, on its state's line), instead of one state edge per box
 * crossing into the next cell; the values another loop's cell gives it
 * (the layer below) enter likewise, through a box "x[t]".
 */
static void state_entries(draw_ctx *c, draw_scene *s)
{
    /* A step's token read by the cells of two loops (a bidirectional layer) stays below them, outside both. */
    for (int i = 0; i < s->n_items; i++) {
        draw_item *it = &s->items[i];
        if (it->kind != DRAW_INPUT || it->cluster < 0 || it->b < 0 || it->a < 0 || it->a >= c->n || !c->token[it->a])
            continue;
        int other = 0;
        for (int e = 0; e < s->n_edges && !other; e++)
            other = s->edges[e].from == i && s->items[s->edges[e].to].cluster >= 0 &&
                    s->items[s->edges[e].to].cluster != it->cluster;
        if (other) it->cluster = -1;
    }
    int n_edges = s->n_edges;
    for (int e = 0; e < n_edges; e++) {
        draw_edge d = s->edges[e];
        const draw_item *to = &s->items[d.to], *from = &s->items[d.from];
        if (to->cluster < 0 || from->cluster == to->cluster || to->grad || to->loop < 0 || to->b < 0) continue;
        int64_t t = to->b;
        int state = d.kind == DRAW_E_STATE && d.tag < c->g->loops[to->loop].n_state;
        /* (a token outside the cells: each cell reading it gets a box of it) */
        int token = from->kind == DRAW_INPUT && from->cluster < 0 && from->b >= 0;
        int input = d.kind == DRAW_E_DATA && !from->grad && (token || (from->cluster >= 0 && from->loop != to->loop));
        if (!state && !input) continue;
        /* The carried state, h[t-1]; or the step of a sequence another loop makes (the layer below), x[t]. */
        int32_t a = state ? c->g->loops[to->loop].state[d.tag] : from->a;
        const char *name = state ? recur_draw_user_name(c->g, a) : NULL;
        char label[96];
        /* (a reverse loop's state comes from step t + 1) */
        int from_step = state ? (c->loops[to->loop].reverse ? 1 : -1) : 0;
        if (token && !state)
            snprintf(label, sizeof label, "%s", from->label);
        else
            snprintf(label, sizeof label, "%s[%lld]", state ? (name ? name : "state") : "x",
                     recur_draw_step_number(c, t) + from_step);
        /* Its identity: the state and step (a state is one loop's); the cell and source item for an input
         * (both directions of the layer above read the same value: a box in each). */
        int ka = state ? a : -(2 + to->cluster), kb = state ? (int)t : d.from;
        int found = recur_draw_item_find(s, DRAW_INPUT, ka, kb);
        int P = recur_draw_item_add(s, DRAW_INPUT, ka, kb, label);
        if (P < 0) return;
        to = &s->items[d.to]; /* (items may have moved) */
        if (found < 0) {
            draw_item *it = &s->items[P];
            it->cluster = to->cluster, it->col = to->col, it->loop = to->loop, it->level = to->level;
            it->line = state ? c->line[a] : 0;
            if (state && !it->line) { /* beside the value it becomes (an LSTM's h', an RNN's tanh), across the cells */
                int32_t next = c->g->loops[to->loop].next[d.tag];
                int N = recur_draw_item_find(s, DRAW_OP, next, (int)t);
                if (N < 0) N = recur_draw_item_find(s, DRAW_GLYPH, next, (int)t);
                if (N >= 0 && s->items[N].cluster == it->cluster) it->beside = N + 1;
            }
            recur_draw_edge_add(s, d.from, P, d.kind, d.tag, d.label);
        }
        draw_edge *inner = &s->edges[e];
        inner->from = P;
        inner->kind = DRAW_E_DATA;
        inner->tag = 0;
        inner->label[0] = 0;
    }
}

/*
 * Op level: an outer op of one step whose every edge joins it to one cell
 * (the one-hot of the step's token, read by the cell's product) is drawn
 * inside that cell, not above it with its edges leaving the cell and
 * coming back.
 */
static void adopt_step_ops(draw_scene *s)
{
    for (int i = 0; i < s->n_items; i++) {
        draw_item *it = &s->items[i];
        if (it->kind != DRAW_OP || it->cluster >= 0 || it->b < 0 || it->grad) continue;
        int cl = -1, ok = 1, n = 0;
        for (int e = 0; e < s->n_edges && ok; e++) {
            const draw_edge *d = &s->edges[e];
            if (d->kind == DRAW_E_INVIS || (d->from != i && d->to != i)) continue;
            const draw_item *other = &s->items[d->from == i ? d->to : d->from];
            ok = other->cluster >= 0 && (cl < 0 || other->cluster == cl) && !other->grad;
            cl = other->cluster, n++;
        }
        if (ok && n > 0) it->cluster = cl;
    }
}

/* Ellipses of the rows beside the cells (inputs, joins, outputs, gradients) of loops with hidden steps. */
static void row_ellipses(draw_ctx *c, draw_scene *s)
{
    int n = s->n_items;
    for (int li = 0; li < c->n_loops; li++) {
        int ecol = recur_draw_ellipsis_col(c, li);
        if (!c->loops[li].used || ecol < 0) continue;
        for (int i = 0; i < n; i++) {
            const draw_item *it = &s->items[i];
            if (it->loop != li || it->col < 0 || it->layer < 0 || it->kind == DRAW_CELL || it->kind == DRAW_OP ||
                it->kind == DRAW_ELLIPSIS || it->kind == DRAW_INIT)
                continue;
            int e = place(s, DRAW_ELLIPSIS, li, it->layer, "\xe2\x80\xa6", it->layer, ecol, li);
            if (e >= 0 && it->kind == DRAW_GRAD) s->items[e].grad = 1;
        }
        /* The gradient flows over the hidden steps through its row's ellipsis. */
        int first_hidden = c->loops[li].head, last_hidden = (int)(c->loops[li].T - c->loops[li].tail - 1);
        int before = recur_draw_item_find(s, DRAW_GRAD, li, first_hidden - 1);
        int after = recur_draw_item_find(s, DRAW_GRAD, li, last_hidden + 1);
        if (before >= 0 && after >= 0) {
            int e = recur_draw_item_find(s, DRAW_ELLIPSIS, li, s->items[before].layer);
            int lo = c->loops[li].reverse ? before : after, hi = c->loops[li].reverse ? after : before;
            recur_draw_edge_add(s, lo, e, DRAW_E_GRAD, 0, "");
            recur_draw_edge_add(s, e, hi, DRAW_E_GRAD, 0, "");
        }
    }
}

/* 1 if gradient outputs i and j are read from the same items. */
static int same_sources(const draw_scene *s, int i, int j)
{
    for (int pass = 0; pass < 2; pass++) {
        int a = pass ? j : i, b = pass ? i : j;
        for (int e = 0; e < s->n_edges; e++) {
            if (s->edges[e].to != a || s->edges[e].kind == DRAW_E_INVIS) continue;
            int found = 0;
            for (int f = 0; f < s->n_edges && !found; f++)
                found = s->edges[f].to == b && s->edges[f].from == s->edges[e].from && s->edges[f].kind != DRAW_E_INVIS;
            if (!found) return 0;
        }
    }
    return 1;
}

/*
 * Cell level, backward view: the gradients of the weights. Those read from
 * the same gradient cells (a layer's W_ih, W_hh and biases) share one box
 * listing them; each box sits a layer above the highest cell it reads (or
 * above the top gradient row), where its cells' edges gather.
 */
static void grad_outputs(draw_scene *s, int grad_top)
{
    int right = 0;
    for (int i = 0; i < s->n_items; i++)
        if (s->items[i].col > right) right = s->items[i].col;
    for (int i = 0; i < s->n_items; i++) {
        draw_item *it = &s->items[i];
        if (it->kind != DRAW_OUTPUT || !it->grad || it->dropped) continue;
        for (int j = i + 1; j < s->n_items; j++) {
            draw_item *o = &s->items[j];
            if (o->kind != DRAW_OUTPUT || !o->grad || o->dropped || o->col >= 0 || it->col >= 0 || !same_sources(s, i, j))
                continue;
            size_t n = strlen(it->label) + strlen(o->label) + 2;
            char *label = malloc(n);
            if (!label) {
                s->st = RECUR_ERR_NOMEM;
                return;
            }
            snprintf(label, n, "%s\n%s", it->label, o->label);
            free(it->label);
            it->label = label;
            o->dropped = 1;
            for (int e = 0; e < s->n_edges; e++)
                if (s->edges[e].to == j) s->edges[e].kind = DRAW_E_INVIS;
        }
        int layer = -1;
        for (int e = 0; e < s->n_edges; e++)
            if (s->edges[e].to == i && s->edges[e].kind != DRAW_E_INVIS && s->items[s->edges[e].from].layer > layer)
                layer = s->items[s->edges[e].from].layer;
        if (it->col >= 0) {
            it->layer = grad_top + 10;
        } else { /* right of the columns, clear of the edges between the rows */
            it->layer = (layer >= 0 ? layer : grad_top) + 5;
            it->col = right + 1;
        }
    }
}

/*
 * Generation: each step's output (or cell) feeds the next step's input
 * token, for the loops that follow another (decoders), else for the loops
 * of the bottom level.
 */
static void feedback(draw_ctx *c, draw_scene *s)
{
    int any_follower = 0;
    for (int li = 0; li < c->n_loops; li++) any_follower |= c->loops[li].used && c->loops[li].follows;
    for (int li = 0; li < c->n_loops; li++) {
        const draw_loop *P = &c->loops[li];
        if (!P->used || (any_follower ? !P->follows : P->level != 0)) continue;
        for (int64_t s0 = 0; s0 + 1 < P->T; s0++) {
            int64_t t = recur_draw_time_of(c, li, s0), t1 = recur_draw_time_of(c, li, s0 + 1);
            int from = -1, to = -1;
            for (int i = 0; i < s->n_items && from < 0; i++)
                if (s->items[i].kind == DRAW_OUTPUT && s->items[i].loop == li && s->items[i].b == t) from = i;
            if (from < 0) from = recur_draw_item_find(s, DRAW_CELL, li, (int)t);
            for (int i = 0; i < s->n_items && to < 0; i++)
                if (s->items[i].kind == DRAW_INPUT && s->items[i].loop == li && s->items[i].b == t1) to = i;
            if (from >= 0 && to >= 0) recur_draw_edge_add(s, from, to, DRAW_E_FEEDBACK, 0, "");
        }
    }
}

recur_status recur_draw_unrolled(draw_ctx *c, draw_scene *s)
{
    int n_cols = 0;
    for (int li = 0; li < c->n_loops; li++)
        if (c->loops[li].used && c->loops[li].col0 + c->loops[li].width > n_cols)
            n_cols = c->loops[li].col0 + c->loops[li].width;
    s->op_level = c->o.level != RECUR_LEVEL_CELL || n_cols == 0;
    s->pinned = !s->op_level;
    int32_t *item = malloc(sizeof *item * ((size_t)c->n_keys + 1));
    draw_vis vis = {0};
    if (!item) return recur_set_error(c->g, RECUR_ERR_NOMEM, "draw: out of memory");
    int loss_item = -1;
    if (c->o.view == RECUR_VIEW_BACKWARD) {
        const char *name = recur_draw_user_name(c->g, c->o.loss.id);
        loss_item = recur_draw_item_add(s, s->op_level ? DRAW_OP : DRAW_LOSS, c->o.loss.id, -1, name ? name : "loss");
    }
    for (int j = 0; j < c->n_keys; j++)
        item[j] = s->op_level ? op_item(c, s, j, loss_item) : cell_item(c, s, j, loss_item);
    recur_status st = s->st == RECUR_OK ? recur_draw_connect(c, s, item, &vis) : RECUR_ERR_NOMEM;
    if (st == RECUR_OK) recur_draw_outputs(c, s, item, &vis);
    if (st == RECUR_OK) recur_draw_attention(c, s);
    if (st == RECUR_OK) recur_draw_state_labels(c, s);
    if (st == RECUR_OK && c->o.level == RECUR_LEVEL_INTERNALS && c->o.view != RECUR_VIEW_BACKWARD) state_entries(c, s);
    if (st == RECUR_OK && s->op_level) adopt_step_ops(s);

    /* Layers of what recur_draw_connect and recur_draw_outputs made, then of the outputs and gradients. */
    int top = 0;
    for (int i = 0; i < s->n_items; i++) {
        draw_item *it = &s->items[i];
        if (it->kind == DRAW_INIT || (it->kind == DRAW_ELLIPSIS && it->b < 0)) {
            const draw_loop *P = &c->loops[it->loop];
            it->layer = row_layer(P->row);
            it->col = it->kind == DRAW_INIT ? (P->reverse ? P->col0 + P->width : P->col0 - 1) : recur_draw_ellipsis_col(c, it->loop);
            if (s->op_level && it->kind == DRAW_INIT) it->layer = 1000 * (1 + P->row); /* beside its row's cells */
        }
    }
    if (!s->op_level) recur_draw_join_layers(s), recur_draw_fill_layers(s); /* and a head's layers */
    else recur_draw_op_layers(s);
    for (int i = 0; i < s->n_items; i++)
        if (!s->items[i].grad && s->items[i].layer > top) top = s->items[i].layer;
    recur_draw_place_outputs(c, s, top, 1);
    int n_fwd_out = 0;
    for (int i = 0; i < s->n_items; i++)
        if (s->items[i].kind == DRAW_OUTPUT && !s->items[i].grad && s->items[i].layer - top > n_fwd_out)
            n_fwd_out = s->items[i].layer - top;
    if (c->o.view == RECUR_VIEW_BACKWARD && loss_item >= 0) {
        int loss_layer = top + 1 + n_fwd_out, grad_top = loss_layer;
        if (!s->op_level) s->items[loss_item].layer = loss_layer;
        for (int i = 0; i < s->n_items; i++) {
            draw_item *it = &s->items[i];
            if (it->kind != DRAW_GRAD) continue;
            it->layer = loss_layer + row_layer(c->n_rows - 1 - c->loops[it->a].row);
            if (it->layer > grad_top) grad_top = it->layer;
        }
        if (!s->op_level) grad_outputs(s, grad_top);
    }
    if (!s->op_level && st == RECUR_OK) row_ellipses(c, s);
    if (c->o.feedback && st == RECUR_OK) feedback(c, s);
    s->pinned = !s->op_level || s->n_clusters > 0; /* op level: clusters placed whole (draw_cluster.c) */
    s->internals = c->o.level == RECUR_LEVEL_INTERNALS;
    if (s->pinned) recur_draw_nudge(c, s);
    recur_draw_vis_free(&vis);
    free(item);
    if (st == RECUR_OK && s->st != RECUR_OK) st = recur_set_error(c->g, RECUR_ERR_NOMEM, "draw: out of memory");
    return st;
}
