/*
 * draw/draw_edges.c — the edges of a scene, from what each key reads.
 *
 * A key (a value at a step) is either drawn as an item or hidden; a hidden
 * key stands for the items it reads, so at cell level the ops between two
 * cells collapse into one edge. With vis(k) the items key k stands for,
 * computed in post-order:
 *   vis(k) = { item(k) }                          when k is drawn,
 *   vis(k) = union of vis(r) over k's references r  when k is hidden,
 * and a drawn key k gets an edge J -> item(k) for each J in vis(r) of each
 * reference r (none when J is item(k): the inside of a cell). How the
 * reference reached its key gives the edge's kind: through a state
 * placeholder a state edge, through a final state an exported state, a
 * captured outer value a dotted edge, and so on (edge_kind).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "ops/op.h"

static void vis_push(draw_ctx *c, draw_vis *vis, int32_t item, int flags)
{
    if (vis->n == vis->cap) {
        int cap = vis->cap ? 2 * vis->cap : 256;
        draw_vis_entry *v = realloc(vis->v, sizeof *v * (size_t)cap);
        if (!v) {
            c->st = RECUR_ERR_NOMEM;
            return;
        }
        vis->v = v;
        vis->cap = cap;
    }
    vis->v[vis->n++] = (draw_vis_entry){item, flags};
}

void recur_draw_vis_free(draw_vis *vis)
{
    free(vis->v), free(vis->start), free(vis->len);
    memset(vis, 0, sizeof *vis);
}

/* The kind of an edge J -> I reached with `flags`, or -1 to leave it out. */
static int edge_kind(const draw_scene *s, int from, int to, int flags)
{
    const draw_item *J = &s->items[from], *I = &s->items[to];
    if (flags & DRAW_VIA_INIT) return J->kind == DRAW_INIT ? DRAW_E_STATE : DRAW_E_EXPORT;
    if (flags & DRAW_VIA_STATE) return DRAW_E_STATE;
    if (flags & DRAW_VIA_FINAL) return DRAW_E_EXPORT;
    if (flags & DRAW_VIA_CAPTURE) return DRAW_E_CAPTURE;
    /* A gradient reading a forward activation: dotted at op level, left out at cell level. */
    if (I->grad && !J->grad && J->kind != DRAW_LOSS) return s->op_level ? DRAW_E_CAPTURE : -1;
    /* Between gradient cells through a sum over all steps (a batched matmul): dotted. */
    if (flags & DRAW_VIA_GATHER && I->kind == DRAW_GRAD && J->kind == DRAW_GRAD) return DRAW_E_CAPTURE;
    if (I->grad || J->grad) return DRAW_E_GRAD;
    return DRAW_E_DATA;
}

/* Appends n as subscript digits (U+2080...; U+208B for the minus sign). */
static void subscript(long long n, char *buf, size_t len)
{
    char digits[24];
    snprintf(digits, sizeof digits, "%lld", n);
    for (const char *d = digits; *d; d++) {
        size_t used = strlen(buf);
        if (*d == '-') snprintf(buf + used, len - used, "\xe2\x82\x8b");
        else snprintf(buf + used, len - used, "\xe2\x82%c", (char)(0x80 + (*d - '0')));
    }
}

/*
 * The label of an edge carrying loop li's states at cell level, where one
 * edge carries them all: their names ("h, c") when there are several, or
 * with opts->state_labels each with its step ("h₁, c₁"; `step` the
 * step whose states they are, -1 the initial states; LLONG_MIN: no step).
 */
static const char *state_label_at(const draw_ctx *c, const draw_scene *s, int li, long long step, char *buf, size_t len)
{
    buf[0] = '\0';
    if (s->op_level || li < 0) return buf;
    const recur_loop_rec *L = &c->g->loops[li];
    if (L->n_state < 2 && !c->o.state_labels) return buf;
    for (int k = 0; k < L->n_state; k++) {
        const char *name = recur_draw_user_name(c->g, L->state[k]);
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", k ? ", " : "", name ? name : "state");
        if (c->o.state_labels && step != LLONG_MIN) subscript(step + (c->o.one_based ? 1 : 0), buf, len);
    }
    return buf;
}

static const char *state_label(const draw_ctx *c, const draw_scene *s, int li, char *buf, size_t len)
{
    return state_label_at(c, s, li, c->unrolled ? -1 : LLONG_MIN, buf, len);
}

void recur_draw_state_labels(const draw_ctx *c, draw_scene *s)
{
    if (!c->o.state_labels || s->op_level || !c->unrolled) return;
    for (int e = 0; e < s->n_edges; e++) {
        draw_edge *d = &s->edges[e];
        const draw_item *a = &s->items[d->from], *b = &s->items[d->to];
        if (d->kind != DRAW_E_STATE || (a->kind != DRAW_CELL && a->kind != DRAW_ELLIPSIS) || b->kind != DRAW_CELL ||
            a->loop != b->loop || a->kind != DRAW_CELL)
            continue;
        state_label_at(c, s, a->loop, a->b, d->label, sizeof d->label); /* the states after step a->b */
    }
}

/* The tag of a state edge: the state's index at op level; 0 at cell level, where states share one edge. */
static int state_tag(const draw_scene *s, int tag) { return s->op_level ? tag : 0; }

/* The ellipsis item of loop li's cell row. */
static int row_ellipsis(draw_scene *s, int li)
{
    int e = recur_draw_item_add(s, DRAW_ELLIPSIS, li, -1, "\xe2\x80\xa6");
    if (e >= 0) s->items[e].loop = li;
    return e;
}

void recur_draw_edges_into(draw_ctx *c, draw_scene *s, const int32_t *item, const draw_vis *vis, const draw_ref *r, int to,
                     int init_loop)
{
    int rk = recur_draw_key_index(c, r->key);
    if (rk < 0 || to < 0) return;
    int tag = r->flags & DRAW_VIA_STATE ? state_tag(s, r->tag) : 0;
    char label[128];
    if (item[rk] == DRAW_DROPPED) { /* a state carried over the hidden steps comes out of the ellipsis */
        int li = recur_draw_body_loop(c, r->key.id) - 1;
        if (r->flags & DRAW_VIA_STATE && li >= 0)
            recur_draw_edge_add(s, row_ellipsis(s, li), to, DRAW_E_STATE, tag, "");
        return;
    }
    if (item[rk] == DRAW_PER_USER) {
        char label[256];
        recur_draw_op_label(c, r->key.id, label, sizeof label);
        /* One copy per cluster, or per column for ops outside cells (a dense head at each step). */
        const draw_item *user = &s->items[to];
        int where = user->cluster >= 0 ? user->cluster : user->col >= 0 ? 100000 + user->col : -1;
        int p = recur_draw_item_add(s, DRAW_PARAM, r->key.id, where, label);
        if (p >= 0) s->items[p].cluster = s->items[to].cluster;
        recur_draw_edge_add(s, p, to, DRAW_E_DATA, 0, "");
        return;
    }
    if (vis->len[rk] == 0 && r->flags & DRAW_VIA_INIT) {
        if (init_loop < 0) return;
        int init = recur_draw_item_add(s, DRAW_INIT, init_loop, -1, "");
        if (init >= 0) s->items[init].loop = init_loop;
        recur_draw_edge_add(s, init, to, DRAW_E_STATE, tag, state_label(c, s, init_loop, label, sizeof label));
        return;
    }
    for (int i = vis->start[rk]; i < vis->start[rk] + vis->len[rk]; i++) {
        int from = vis->v[i].item, flags = vis->v[i].flags | r->flags;
        if (from == to) continue;
        int kind = edge_kind(s, from, to, flags);
        if (kind < 0) continue;
        label[0] = '\0'; /* states are named on the edges from the initial states only */
        if (kind == DRAW_E_EXPORT && flags & DRAW_VIA_INIT && !s->op_level) snprintf(label, sizeof label, "context");
        if (kind == DRAW_E_DATA && s->items[to].kind == DRAW_JOIN && s->items[from].level >= 0 &&
            s->items[from].level < s->items[to].level)
            kind = DRAW_E_SKIP; /* a residual input passing the rows between */
        recur_draw_edge_add(s, from, to, (draw_edge_kind)kind, kind == DRAW_E_STATE ? tag : 0, label);
    }
}

static int by_entry(const void *a, const void *b)
{
    const draw_vis_entry *x = a, *y = b;
    if (x->item != y->item) return x->item < y->item ? -1 : 1;
    return x->flags < y->flags ? -1 : x->flags > y->flags;
}

/* A join sits at the level of the highest cell it reads; lower inputs are skip edges. */
static void join_level(draw_ctx *c, draw_scene *s, const int32_t *item, const draw_vis *vis, int k, int I)
{
    int level = -1;
    for (int r = c->op_start[k]; r < c->op_start[k + 1]; r++) {
        int rk = recur_draw_key_index(c, c->refs.v[r].key);
        if (rk < 0 || item[rk] < DRAW_HIDDEN) continue;
        for (int i = vis->start[rk]; i < vis->start[rk] + vis->len[rk]; i++)
            if (s->items[vis->v[i].item].level > level) level = s->items[vis->v[i].item].level;
    }
    s->items[I].level = level;
}

recur_status recur_draw_connect(draw_ctx *c, draw_scene *s, const int32_t *item, draw_vis *vis)
{
    int nk = c->n_keys;
    vis->start = calloc((size_t)nk + 1, sizeof *vis->start);
    vis->len = calloc((size_t)nk + 1, sizeof *vis->len);
    if (!vis->start || !vis->len) return recur_set_error(c->g, RECUR_ERR_NOMEM, "draw: out of memory");
    for (int j = 0; j < nk && c->st == RECUR_OK && s->st == RECUR_OK; j++) {
        int k = c->post[j], I = item[k];
        int li = recur_draw_body_loop(c, c->keys[k].id) - 1;
        vis->start[k] = vis->n;
        if (I >= 0) {
            if (s->items[I].kind == DRAW_JOIN) join_level(c, s, item, vis, k, I);
            for (int r = c->op_start[k]; r < c->op_start[k + 1]; r++)
                recur_draw_edges_into(c, s, item, vis, &c->refs.v[r], I, li);
            vis_push(c, vis, I, 0);
        } else if (I == DRAW_HIDDEN) {
            int gather = c->o.view == RECUR_VIEW_BACKWARD && !recur_draw_is_forward(c, c->keys[k]) && !c->gloop[k]
                             ? DRAW_VIA_GATHER
                             : 0;
            for (int r = c->op_start[k]; r < c->op_start[k + 1]; r++) {
                const draw_ref *ref = &c->refs.v[r];
                int rk = recur_draw_key_index(c, ref->key);
                if (rk < 0 || item[rk] < DRAW_HIDDEN) continue;
                for (int i = vis->start[rk]; i < vis->start[rk] + vis->len[rk]; i++)
                    vis_push(c, vis, vis->v[i].item, vis->v[i].flags | ref->flags | gather);
                if (vis->len[rk] == 0 && ref->flags & DRAW_VIA_INIT && li >= 0 && c->unrolled) {
                    /* A hidden value reading an initial state that is drawn as nothing: the empty circle. */
                    int init = recur_draw_item_add(s, DRAW_INIT, li, -1, "");
                    if (init >= 0) s->items[init].loop = li, vis_push(c, vis, init, ref->flags);
                }
            }
            if (c->st != RECUR_OK) break;
            /* A set: sorted, each (item, flags) once. */
            draw_vis_entry *v = vis->v + vis->start[k];
            int n = vis->n - vis->start[k], m = 0;
            if (n > 1) qsort(v, (size_t)n, sizeof *v, by_entry);
            for (int i = 0; i < n; i++)
                if (!m || by_entry(&v[m - 1], &v[i]) != 0) v[m++] = v[i];
            vis->n = vis->start[k] + m;
        } else if (I == DRAW_DROPPED && li >= 0) {
            /* The first hidden step: the states that enter it go into the ellipsis. */
            for (int r = c->op_start[k]; r < c->op_start[k + 1]; r++) {
                const draw_ref *ref = &c->refs.v[r];
                int rk = recur_draw_key_index(c, ref->key);
                if (!(ref->flags & DRAW_VIA_STATE) || rk < 0 || item[rk] < DRAW_HIDDEN) continue;
                for (int i = vis->start[rk]; i < vis->start[rk] + vis->len[rk]; i++)
                    recur_draw_edge_add(s, vis->v[i].item, row_ellipsis(s, li), DRAW_E_STATE, state_tag(s, ref->tag), "");
            }
        }
        vis->len[k] = vis->n - vis->start[k];
    }
    if (c->st != RECUR_OK || s->st != RECUR_OK) return recur_set_error(c->g, RECUR_ERR_NOMEM, "draw: out of memory");
    return RECUR_OK;
}

/*
 * The name of the value gradient node id is the gradient of: its stamp's
 * forward node, or (a weight's gradient made by the rule of the product or
 * sum that reads the weight) that node's one named operand of id's shape.
 */
static const char *grad_of_name(const draw_ctx *c, int32_t id)
{
    const recur_graph *g = c->g;
    const recur_node *n = &g->nodes[id];
    if (!n->grad_of) return NULL;
    const recur_node *f = &g->nodes[n->grad_of - 1];
    if (recur_shape_equal(f->shape, n->shape) && recur_draw_user_name(g, n->grad_of - 1))
        return recur_draw_user_name(g, n->grad_of - 1);
    const char *found = NULL;
    for (int k = 0; k < f->n_in; k++) {
        const recur_node *x = &g->nodes[f->in[k]];
        if (x->op != RECUR_OP_PARAM || !recur_shape_equal(x->shape, n->shape)) continue;
        if (found) return NULL; /* two candidates: say nothing */
        found = recur_draw_user_name(g, f->in[k]);
    }
    return found;
}

void recur_draw_outputs(draw_ctx *c, draw_scene *s, const int32_t *item, const draw_vis *vis)
{
    for (int k = 0; k < c->n_out; k++) {
        int32_t id = c->out[k].id;
        int per_step = c->unrolled && c->td[id];
        char name[160], label[256];
        if (recur_draw_user_name(c->g, id))
            snprintf(name, sizeof name, "%s", recur_draw_user_name(c->g, id));
        else if (grad_of_name(c, id)) /* a gradient: of what */
            snprintf(name, sizeof name, "\xe2\x88\x82L/\xe2\x88\x82%s", grad_of_name(c, id));
        else
            snprintf(name, sizeof name, c->n_out == 1 ? "y" : "y%d", k);
        const draw_refs *refs = &c->out_refs[k];
        for (int i = 0; i < refs->n; i++) {
            int32_t t = per_step ? refs->v[i].key.t : DRAW_NOSTEP;
            int col = -1;
            if (t != DRAW_NOSTEP) {
                col = recur_draw_col(c, c->axis[id], t);
                if (col < 0) continue; /* a hidden step */
                int64_t at = c->loops[c->axis[id]].label0 + t;
                if (at < c->o.n_output_labels && c->o.output_labels[at])
                    snprintf(label, sizeof label, "%s", c->o.output_labels[at]);
                else
                    snprintf(label, sizeof label, "%s[%lld]", name, recur_draw_step_number(c, t));
            } else {
                snprintf(label, sizeof label, c->td[id] ? "%s[t]" : "%s", name); /* rolled: the output at t */
            }
            int O = recur_draw_item_add(s, DRAW_OUTPUT, k, t, label);
            if (O < 0) return;
            draw_item *it = &s->items[O];
            it->col = col;
            it->loop = c->td[id] ? c->axis[id] : -1;
            it->grad = c->o.view == RECUR_VIEW_BACKWARD && !c->fwd[id];
            recur_draw_edges_into(c, s, item, vis, &refs->v[i], O, -1);
        }
    }
}

int recur_draw_final_source(const draw_scene *s, int out)
{
    int src = -1;
    for (int e = 0; e < s->n_edges; e++) {
        const draw_edge *d = &s->edges[e];
        if (d->to != out) continue;
        if (d->kind != DRAW_E_EXPORT || s->items[d->from].kind != DRAW_CELL || src >= 0) return -1;
        src = d->from;
    }
    return src;
}

void recur_draw_place_outputs(const draw_ctx *c, draw_scene *s, int top, int first_side)
{
    int per_step = 0, layer = top + 1;
    for (int k = 0; k < c->n_out; k++) {
        if (c->o.view == RECUR_VIEW_BACKWARD && !c->fwd[c->out[k].id]) continue; /* the gradients: placed later */
        int any = 0;
        for (int i = 0; i < s->n_items; i++) {
            draw_item *it = &s->items[i];
            if (it->kind != DRAW_OUTPUT || it->a != k || it->space != s->space) continue;
            int src = s->pinned ? recur_draw_final_source(s, i) : -1;
            if (src >= 0) { /* a final state: beside its cell, on a dashed edge (the textbook's exported state) */
                const draw_item *cell = &s->items[src];
                it->layer = cell->layer;
                it->col = cell->col;
                it->loop = cell->loop;
                int side = first_side;
                for (int j = 0; j < s->n_items; j++)
                    if (j != i && s->items[j].col == it->col && s->items[j].layer == it->layer && s->items[j].side >= side)
                        side = s->items[j].side + 1;
                it->side = side;
            } else if (c->td[c->out[k].id] && c->unrolled) { /* one per step, a layer of their own */
                it->layer = layer;
                any = 1;
            } else {
                it->layer = -2 - k; /* below: after the per-step outputs */
            }
        }
        layer += any;
        per_step += any;
    }
    for (int i = 0; i < s->n_items; i++) {
        draw_item *it = &s->items[i];
        if (it->kind != DRAW_OUTPUT || it->layer > -2 || it->space != s->space) continue;
        it->layer = layer;
        if (!c->unrolled && it->loop >= 0) it->col = c->loops[it->loop].col0;
        /* Two outputs of one column: the later one a layer higher. */
        for (int j = 0; j < i; j++) {
            const draw_item *o = &s->items[j];
            if (o->kind == DRAW_OUTPUT && o->space == s->space && it->col >= 0 && o->col == it->col && o->side == 0 &&
                o->layer >= it->layer)
                it->layer = o->layer + 1;
        }
    }
}

/* Joins sit one layer above the highest item they read (below the next row of cells). */
void recur_draw_join_layers(draw_scene *s)
{
    for (int pass = 0, changed = 1; changed && pass < s->n_items; pass++) {
        changed = 0;
        for (int e = 0; e < s->n_edges; e++) {
            draw_item *to = &s->items[s->edges[e].to];
            const draw_item *from = &s->items[s->edges[e].from];
            if (to->kind != DRAW_JOIN || from->layer < 0 || s->edges[e].loose) continue;
            int layer = from->layer + 1;
            if (layer % 10 == 0) layer--; /* never into the next row of cells */
            if (layer > to->layer) to->layer = layer, changed = 1;
        }
    }
}

void recur_draw_op_label(const draw_ctx *c, int32_t id, char *buf, size_t len)
{
    const recur_node *n = &c->g->nodes[id];
    const char *op = recur_op(n->op)->name, *name = recur_draw_user_name(c->g, id);
    if (n->op == RECUR_OP_LOOP_STEP) { /* the step of its sequence: "xs[t]" */
        int32_t seq = c->g->loops[n->loop - 1].seq[n->attr.i[1]];
        const char *seq_name = recur_draw_user_name(c->g, seq);
        snprintf(buf, len, "%s[t]", seq_name ? seq_name : recur_op(c->g->nodes[seq].op)->name);
    } else if (n->op == RECUR_OP_PARAM || n->op == RECUR_OP_INPUT || n->op == RECUR_OP_LOOP_STATE) {
        snprintf(buf, len, "%s", name ? name : op);
    } else if (name) {
        snprintf(buf, len, "%s\n%s", op, name);
    } else {
        snprintf(buf, len, "%s", op);
    }
}

const char *recur_draw_join_label(const draw_ctx *c, int32_t id)
{
    int op = c->g->nodes[id].op;
    const char *glyph = recur_op_props_of(op)->glyph; /* "+", "−", "×" (the op list) */
    return glyph ? glyph : recur_op(op)->name;
}
