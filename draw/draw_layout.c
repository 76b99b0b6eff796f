/*
 * draw/draw_layout.c — the analysis behind a drawing: the drawn values
 * (keys) the outputs need and what each reads, and where each loop goes.
 *
 * Loops are placed on a grid of rows (bottom to top) and columns (time,
 * left to right):
 *   level(B) = 0 when B reads no loop's output, else 1 + the highest level
 *              of the loops its sequences come from (stacked layers);
 *   col0(B)  = the largest of col0(A) over those loops and col0(A) +
 *              width(A) over the loops A whose final state starts B (an
 *              encoder A left of its decoder B);
 * loops of one level whose columns overlap get sub-rows in creation order,
 * so a bidirectional layer's reverse loop is the row above its forward one.
 * A loop is T columns wide (unrolled), head + 1 + tail with an ellipsis
 * column when it has more than max_steps steps, and one column rolled.
 * Columns start at 1: column 0 (left of the first loops) holds the empty
 * circles of their initial states.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "ops/op.h"

int recur_draw_key_index(const draw_ctx *c, draw_key k)
{
    if (k.id < 0 || k.id >= c->n || c->slot0[k.id] < 0) return -1;
    return c->index[c->slot0[k.id] + (k.t == DRAW_NOSTEP ? 0 : k.t)];
}

/* Slots of node id: one per step for body and time-distributed nodes of the unrolled views. */
static int64_t slots_of(const draw_ctx *c, int32_t id)
{
    const recur_node *n = &c->g->nodes[id];
    if (!c->unrolled) return 1;
    if (n->loop) return c->g->loops[n->loop - 1].T;
    return c->td[id] ? c->td[id] : 1;
}

static void touch_loop(draw_ctx *c, int li, draw_refs *scratch);

/* Adds key k if it is new. */
static void add_key(draw_ctx *c, draw_key k, draw_refs *scratch)
{
    int32_t slot = c->slot0[k.id] + (k.t == DRAW_NOSTEP ? 0 : k.t);
    if (c->index[slot] >= 0) return;
    if (c->n_keys == c->cap_keys) {
        int cap = c->cap_keys ? 2 * c->cap_keys : 256;
        draw_key *keys = realloc(c->keys, sizeof *keys * (size_t)cap);
        if (!keys) {
            c->st = RECUR_ERR_NOMEM;
            return;
        }
        c->keys = keys;
        c->cap_keys = cap;
    }
    c->index[slot] = c->n_keys;
    c->keys[c->n_keys++] = k;
    int li = c->g->nodes[k.id].loop;
    if (li && !c->loops[li - 1].used) touch_loop(c, li - 1, scratch);
}

/* Adds the keys of a list of references (from index `from` on). */
static void add_refs(draw_ctx *c, const draw_refs *r, int from, draw_refs *scratch)
{
    for (int i = from; i < r->n && c->st == RECUR_OK; i++) add_key(c, r->v[i].key, scratch);
}

/*
 * A loop the drawing needs: its next states at every step are drawn (so
 * the whole cell shows even where the outputs use part of it), and in the
 * rolled view its initial states are resolved for the edges into the cell.
 */
static void touch_loop(draw_ctx *c, int li, draw_refs *scratch)
{
    recur_graph *g = c->g;
    const recur_loop_rec *L = &g->loops[li];
    c->loops[li].used = 1;
    draw_refs local = {0};
    for (int k = 0; k < L->n_state; k++) {
        int32_t next = L->next[k];
        if (g->nodes[next].loop != li + 1) continue;
        if (c->unrolled) {
            for (int32_t t = 0; t < L->T; t++) recur_draw_refs_push(c, &local, (draw_key){next, t}, 0, 0);
        } else {
            recur_draw_refs_push(c, &local, (draw_key){next, DRAW_NOSTEP}, 0, 0);
        }
    }
    if (!c->unrolled)
        for (int k = 0; k < L->n_state; k++)
            recur_draw_resolve(c, L->init[k], DRAW_NOSTEP, DRAW_VIA_INIT | DRAW_VIA_STATE, k, &c->init_refs[li]);
    /* Placeholders of a state whose next value is a state resolve to a step's key. */
    for (int i = 0; i < local.n && c->st == RECUR_OK; i++) {
        const recur_node *n = &g->nodes[local.v[i].key.id];
        if (c->unrolled && (n->op == RECUR_OP_LOOP_STATE || n->op == RECUR_OP_LOOP_STEP)) continue;
        add_key(c, local.v[i].key, scratch);
    }
    free(local.v);
    add_refs(c, &c->init_refs[li], 0, scratch);
}

/* Every key the outputs need, breadth first, with the references of each. */
static recur_status discover(draw_ctx *c)
{
    draw_refs scratch = {0};
    for (int k = 0; k < c->n_out && c->st == RECUR_OK; k++) {
        recur_draw_resolve(c, c->out[k].id, DRAW_NOSTEP, 0, 0, &c->out_refs[k]);
        add_refs(c, &c->out_refs[k], 0, &scratch);
    }
    if (c->o.view == RECUR_VIEW_BACKWARD && c->st == RECUR_OK) {
        draw_refs loss = {0};
        recur_draw_resolve(c, c->o.loss.id, DRAW_NOSTEP, 0, 0, &loss);
        add_refs(c, &loss, 0, &scratch);
        free(loss.v);
    }
    int cap = 0;
    for (int i = 0; i < c->n_keys && c->st == RECUR_OK; i++) {
        if (i + 2 > cap) {
            cap = c->cap_keys + 2;
            int32_t *starts = realloc(c->op_start, sizeof *starts * (size_t)cap);
            if (!starts) {
                c->st = RECUR_ERR_NOMEM;
                break;
            }
            c->op_start = starts;
        }
        c->op_start[i] = c->refs.n;
        recur_draw_operands(c, c->keys[i], &c->refs);
        add_refs(c, &c->refs, c->op_start[i], &scratch);
    }
    if (c->st == RECUR_OK) {
        int32_t *starts = realloc(c->op_start, sizeof *starts * ((size_t)c->n_keys + 1));
        if (starts) {
            c->op_start = starts;
            c->op_start[c->n_keys] = c->refs.n;
        } else {
            c->st = RECUR_ERR_NOMEM;
        }
    }
    free(scratch.v);
    return c->st;
}

/* Keys in post-order: each after every key it reads (depth first, explicit stack). */
static recur_status post_order(draw_ctx *c)
{
    int nk = c->n_keys;
    char *done = calloc((size_t)nk + 1, 1);
    int32_t *stack = malloc(sizeof *stack * 2 * ((size_t)nk + 1));
    c->post = malloc(sizeof *c->post * ((size_t)nk + 1));
    if (!done || !stack || !c->post) {
        free(done), free(stack);
        return RECUR_ERR_NOMEM;
    }
    int count = 0;
    for (int root = 0; root < nk; root++) {
        if (done[root]) continue;
        int top = 0;
        stack[0] = root, stack[1] = c->op_start[root];
        done[root] = 1;
        top = 1;
        while (top > 0) {
            int32_t k = stack[2 * (top - 1)];
            int32_t *next = &stack[2 * (top - 1) + 1];
            if (*next < c->op_start[k + 1]) {
                int in = recur_draw_key_index(c, c->refs.v[(*next)++].key);
                if (in < 0 || done[in]) continue;
                done[in] = 1;
                stack[2 * top] = in, stack[2 * top + 1] = c->op_start[in];
                top++;
            } else {
                c->post[count++] = k;
                top--;
            }
        }
    }
    free(done);
    free(stack);
    return RECUR_OK;
}

/* Rows and columns of the used loops (see the top of the file). */
static recur_status place_loops(draw_ctx *c)
{
    recur_graph *g = c->g;
    int nl = g->n_loops, words = (nl + 63) / 64;
    uint64_t *below = calloc((size_t)words + 1, sizeof *below), *before = calloc((size_t)words + 1, sizeof *before);
    char *seen = calloc((size_t)c->n + 1, 1);
    int32_t *stack = malloc(sizeof *stack * ((size_t)c->n + 1)), *list = malloc(sizeof *list * ((size_t)c->n + 1));
    int *subs = calloc((size_t)nl + 1, sizeof *subs);
    if (!below || !before || !seen || !stack || !list || !subs) {
        free(below), free(before), free(seen), free(stack), free(list), free(subs);
        return RECUR_ERR_NOMEM;
    }
    int m = c->o.max_steps;
    c->n_levels = 0;
    for (int li = 0; li < nl; li++) {
        draw_loop *P = &c->loops[li];
        const recur_loop_rec *L = &g->loops[li];
        P->T = L->T;
        P->reverse = L->reverse;
        P->head = (int)L->T;
        P->tail = 0;
        if (c->unrolled && m > 0 && L->T > m) P->head = (m + 1) / 2, P->tail = m / 2;
        P->width = !c->unrolled ? 1 : P->head < L->T ? P->head + 1 + P->tail : (int)L->T;
        P->col0 = 1; /* column 0 holds the initial states of the first loops */
        for (int w = 0; w < words; w++) below[w] = before[w] = 0;
        int n_list = 0;
        for (int k = 0; k < L->n_seq; k++) recur_draw_loops_of(c, L->seq[k], below, seen, stack, list, &n_list);
        for (int k = 0; k < L->n_state; k++) recur_draw_loops_of(c, L->init[k], before, seen, stack, list, &n_list);
        for (int i = 0; i < n_list; i++) seen[list[i]] = 0;
        int end = 0;
        for (int a = 0; a < li; a++) {
            const draw_loop *A = &c->loops[a];
            int bit = (int)(a % 64);
            if (!A->used) continue;
            if (below[a / 64] >> bit & 1) {
                if (A->level + 1 > P->level) P->level = A->level + 1;
                if (A->col0 > P->col0) P->col0 = A->col0;
                if (A->label0 > P->label0) P->label0 = A->label0;
            } else if (before[a / 64] >> bit & 1) {
                if (A->col0 + A->width > P->col0) P->col0 = A->col0 + A->width;
                if (A->label0 + A->T > P->label0) P->label0 = A->label0 + (int)A->T;
                if (A->col0 + A->width > end) end = A->col0 + A->width, P->follows = a + 1;
            }
        }
        /* A loop the outputs do not need keeps its columns (a sequence read by it and by a drawn loop
         * may be numbered by it) but takes no row. */
        if (!P->used) continue;
        /* The lowest free sub-row of the level: no other loop there overlaps these columns. */
        for (P->sub = 0;; P->sub++) {
            int clash = 0;
            for (int a = 0; a < li && !clash; a++) {
                const draw_loop *A = &c->loops[a];
                clash = A->used && A->level == P->level && A->sub == P->sub && A->col0 < P->col0 + P->width &&
                        P->col0 < A->col0 + A->width;
            }
            if (!clash) break;
        }
        if (P->level + 1 > c->n_levels) c->n_levels = P->level + 1;
        if (P->sub + 1 > subs[P->level]) subs[P->level] = P->sub + 1;
    }
    /* Rows: the sub-rows of each level, levels from the bottom. */
    int base[64 + 1] = {0}, *bases = c->n_levels <= 64 ? base : calloc((size_t)c->n_levels + 1, sizeof(int));
    if (!bases) {
        free(below), free(before), free(seen), free(stack), free(list), free(subs);
        return RECUR_ERR_NOMEM;
    }
    for (int l = 0; l < c->n_levels; l++) bases[l + 1] = bases[l] + subs[l];
    c->n_rows = bases[c->n_levels];
    for (int li = 0; li < nl; li++)
        if (c->loops[li].used) {
            draw_loop *P = &c->loops[li];
            P->row = bases[P->level] + P->sub;
            P->nudge = subs[P->level] == 2 ? (P->sub ? 1 : -1) : 0;
        }
    if (bases != base) free(bases);
    free(below), free(before), free(seen), free(stack), free(list), free(subs);
    return RECUR_OK;
}

int recur_draw_col(const draw_ctx *c, int li, int64_t t)
{
    const draw_loop *P = &c->loops[li];
    if (!c->unrolled || t == DRAW_NOSTEP) return P->col0;
    if (t < P->head) return P->col0 + (int)t;
    if (t >= P->T - P->tail) return P->col0 + P->head + 1 + (int)(t - (P->T - P->tail));
    return -1;
}

int recur_draw_ellipsis_col(const draw_ctx *c, int li)
{
    const draw_loop *P = &c->loops[li];
    return c->unrolled && P->head < P->T ? P->col0 + P->head : -1;
}

void recur_draw_nudge(const draw_ctx *c, draw_scene *s)
{
    enum { NUDGE = 24 }; /* points: enough for an edge to pass beside a cell of the other row */
    for (int i = 0; i < s->n_items; i++) {
        draw_item *it = &s->items[i];
        int row = it->kind == DRAW_CELL || it->kind == DRAW_GRAD || it->kind == DRAW_INIT ||
                  (it->kind == DRAW_ELLIPSIS && (it->b < 0 || it->grad));
        if (row && it->loop >= 0 && it->loop < c->n_loops) it->nudge = NUDGE * c->loops[it->loop].nudge;
    }
}

void recur_draw_op_layers(draw_scene *s)
{
    int n = s->n_items;
    int *depth = calloc((size_t)n + 1, sizeof *depth);
    if (!depth) {
        s->st = RECUR_ERR_NOMEM;
        return;
    }
    for (int pass = 0, changed = 1; changed && pass < n; pass++) {
        changed = 0;
        for (int e = 0; e < s->n_edges; e++) {
            const draw_edge *d = &s->edges[e];
            const draw_item *a = &s->items[d->from], *b = &s->items[d->to];
            if (a->cluster < 0 || a->cluster != b->cluster || d->loose || d->kind == DRAW_E_INVIS ||
                d->kind == DRAW_E_STATE || d->kind == DRAW_E_EXPORT || d->kind == DRAW_E_CAPTURE)
                continue;
            if (depth[d->from] + 1 > depth[d->to]) depth[d->to] = depth[d->from] + 1, changed = 1;
        }
    }
    for (int i = 0; i < n; i++) {
        draw_item *it = &s->items[i];
        if (it->cluster >= 0 && s->clusters[it->cluster].base >= 0) it->layer = s->clusters[it->cluster].base + depth[i];
    }
    free(depth);
}

int recur_draw_head_layer(const draw_ctx *c, int32_t id)
{
    if (!c->td[id] || c->token[id] || c->join[id] || c->g->nodes[id].loop || !recur_draw_user_name(c->g, id) ||
        c->o.level != RECUR_LEVEL_CELL)
        return 0;
    for (int k = 0; k < c->n_out; k++)
        if (c->out[k].id == id) return 0; /* drawn as the output */
    return 1;
}

const char *recur_draw_loop_label(const draw_ctx *c, int li)
{
    if (li < c->o.n_layer_labels && c->o.layer_labels[li]) return c->o.layer_labels[li];
    return c->g->loops[li].name;
}

int recur_draw_is_forward(const draw_ctx *c, draw_key k)
{
    return c->o.view != RECUR_VIEW_BACKWARD || c->fwd[k.id] || recur_draw_body_loop(c, k.id);
}

const char *recur_draw_user_name(const recur_graph *g, int32_t id)
{
    const char *name = g->nodes[id].name, *hash = name ? strchr(name, '#') : NULL;
    if (!hash) return name;
    /* recur_node_name's automatic names read "<op>#<id>" (unrolled copies add "@t"). */
    if (hash[1] < '0' || hash[1] > '9') return name;
    for (int op = 0; op < RECUR_OP_COUNT; op++) {
        const char *opname = recur_op(op)->name;
        if (strlen(opname) == (size_t)(hash - name) && strncmp(opname, name, (size_t)(hash - name)) == 0) return NULL;
    }
    return name;
}

/* The name a token is drawn with: its own, or (an unnamed reshaped mask, say) that of what it was made from. */
static const char *token_name(const draw_ctx *c, int32_t id)
{
    const char *name = recur_draw_user_name(c->g, id);
    for (int32_t v = id, hops = 0; !name && hops < 8 && c->g->nodes[v].n_in > 0; hops++) {
        v = c->g->nodes[v].in[0];
        name = recur_draw_user_name(c->g, v);
    }
    return name ? name : "x";
}

long long recur_draw_step_number(const draw_ctx *c, int64_t t) { return (long long)t + (c->o.one_based ? 1 : 0); }

void recur_draw_token_label(const draw_ctx *c, int32_t id, int64_t t, char *buf, size_t len)
{
    const char *name = token_name(c, id);
    if (t == DRAW_NOSTEP || !c->unrolled) {
        snprintf(buf, len, "%s[t]", name);
        return;
    }
    int64_t col = c->loops[c->axis[id]].label0 + t;
    if (col < c->o.n_input_labels && c->o.input_labels[col])
        snprintf(buf, len, "%s", c->o.input_labels[col]);
    else
        snprintf(buf, len, "%s[%lld]", name, recur_draw_step_number(c, t));
}

void recur_draw_step_label(const draw_ctx *c, int li, int64_t t, char *buf, size_t len)
{
    int first = c->first_token[li];
    if (c->unrolled && t != DRAW_NOSTEP) {
        int64_t col = c->loops[li].label0 + t;
        if (col < c->o.n_input_labels && c->o.input_labels[col]) {
            snprintf(buf, len, "%s", c->o.input_labels[col]);
            return;
        }
    }
    /* Every token of the loop drawn at this step: "src[0], mask[0]". */
    buf[0] = '\0';
    for (int32_t v = first; v >= 0 && v < c->n; v++) {
        if (c->token[v] != 1 || c->axis[v] != li || recur_draw_key_index(c, (draw_key){v, c->unrolled ? (int32_t)t : DRAW_NOSTEP}) < 0)
            continue;
        size_t used = strlen(buf);
        if (used) snprintf(buf + used, len - used, ", "), used = strlen(buf);
        recur_draw_token_label(c, v, t, buf + used, len - used);
    }
    if (!buf[0]) recur_draw_token_label(c, first, t, buf, len);
}

/* The values no other live value uses (what n_outputs == 0 draws). */
static recur_status sinks(draw_ctx *c)
{
    recur_graph *g = c->g;
    char *used = calloc((size_t)c->n + 1, 1);
    c->out = malloc(sizeof *c->out * ((size_t)c->n + 1));
    if (!used || !c->out) {
        free(used);
        return RECUR_ERR_NOMEM;
    }
    for (int32_t v = 0; v < c->n; v++) {
        const recur_node *n = &g->nodes[v];
        if (n->removed) continue;
        for (int k = 0; k < n->n_in; k++) used[n->in[k]] = 1;
    }
    c->n_out = 0;
    for (int32_t v = 0; v < c->n; v++) {
        const recur_node *n = &g->nodes[v];
        int leaf = recur_op_has(n->op, RECUR_OPP_LEAF);
        if (!n->removed && !used[v] && !leaf && !n->loop && !n->unrolled && n->op != RECUR_OP_LOOP)
            c->out[c->n_out++] = (recur_value){v};
    }
    free(used);
    return RECUR_OK;
}

/* fwd[id] = 1 for the nodes the loss needs. */
static recur_status forward_part(draw_ctx *c)
{
    recur_graph *g = c->g;
    int32_t *order = malloc(sizeof *order * ((size_t)c->n + 1));
    c->fwd = calloc((size_t)c->n + 1, 1);
    if (!order || !c->fwd) {
        free(order);
        return RECUR_ERR_NOMEM;
    }
    int count = recur_topo(g, 1, &c->o.loss, NULL, order, "draw");
    for (int j = 0; j < count; j++) c->fwd[order[j]] = 1;
    free(order);
    return count < 0 ? g->error.code : RECUR_OK;
}

/*
 * The backward view: where the gradient nodes go. Autodiff stamps every
 * gradient node with the forward node it belongs to (recur_node.grad_of:
 * the node whose gradient rule made it, or whose adjoint it sums), so a
 * gradient node is drawn in the cell (loop, step) of that forward node
 * (recur_grad_step): tanh_grad(h_t, adj(h_t)) and the sum adj(h_t) of h_t's
 * contributions at step t, a weight's per-step contribution
 * adj(pre_t)^T h_{t-1} at t. The gradient of an outer value (a weight's
 * gradient over every step, a sequence's computed at once) gathers over
 * time and sits in no cell. A time-distributed gradient value (the
 * gradient of a dense head over all steps, drawn per step) sits at its own
 * step. The seed dL/dL = 1 is the first scalar fill autodiff made.
 */
static recur_status grad_steps(draw_ctx *c)
{
    int nk = c->n_keys;
    c->gloop = calloc((size_t)nk + 1, sizeof *c->gloop);
    c->gstep = calloc((size_t)nk + 1, sizeof *c->gstep);
    if (!c->gloop || !c->gstep) return recur_set_error(c->g, RECUR_ERR_NOMEM, "draw: out of memory");
    for (int i = 0; i < nk; i++) {
        draw_key k = c->keys[i];
        if (recur_draw_is_forward(c, k)) continue;
        if (k.t != DRAW_NOSTEP) { /* time-distributed gradient values: their own step */
            if (c->axis[k.id] >= 0) c->gloop[i] = c->axis[k.id] + 1, c->gstep[i] = (int32_t)k.t;
            continue;
        }
        int li;
        int64_t t;
        if (c->td[k.id] || recur_draw_body_loop(c, k.id) || !recur_grad_step(c->g, k.id, &li, &t)) continue;
        const recur_node *n = &c->g->nodes[k.id];
        if (n->op == RECUR_OP_FILL && recur_shape_numel(n->shape) == 1 && (c->seed < 0 || k.id < c->seed))
            c->seed = k.id; /* the first scalar fill autodiff made */
        if (li) c->gloop[i] = li, c->gstep[i] = (int32_t)t;
    }
    return RECUR_OK;
}

recur_status recur_draw_analyse(draw_ctx *c, recur_graph *g, int n_out, const recur_value *out, const recur_draw_opts *o)
{
    memset(c, 0, sizeof *c);
    c->g = g;
    c->o = *o;
    c->n = g->n;
    c->seed = -1;
    c->unrolled = o->view != RECUR_VIEW_ROLLED;
    c->n_loops = g->n_loops;
    recur_status st = RECUR_OK;
    if (n_out > 0) {
        c->out = malloc(sizeof *c->out * (size_t)n_out);
        if (c->out) memcpy(c->out, out, sizeof *c->out * (size_t)n_out);
        c->n_out = n_out;
        if (!c->out) st = RECUR_ERR_NOMEM;
    } else {
        st = sinks(c);
    }
    size_t n1 = (size_t)c->n + 1;
    c->td = calloc(n1, sizeof *c->td);
    c->t0 = calloc(n1, sizeof *c->t0);
    c->axis = malloc(n1 * sizeof *c->axis);
    c->token = calloc(n1, 1);
    c->join = calloc(n1, 1);
    c->slot0 = malloc(n1 * sizeof *c->slot0);
    c->loops = calloc((size_t)c->n_loops + 1, sizeof *c->loops);
    c->out_refs = calloc((size_t)c->n_out + 1, sizeof *c->out_refs);
    c->init_refs = calloc((size_t)c->n_loops + 1, sizeof *c->init_refs);
    if (!c->td || !c->t0 || !c->axis || !c->token || !c->join || !c->slot0 || !c->loops || !c->out_refs || !c->init_refs)
        st = RECUR_ERR_NOMEM;
    if (st != RECUR_OK) return recur_set_error(g, st, "draw: out of memory");
    for (int32_t v = 0; v < c->n; v++) c->axis[v] = -1;
    if ((st = recur_draw_time(c)) != RECUR_OK) return st;
    c->first_token = malloc(sizeof *c->first_token * ((size_t)c->n_loops + 1));
    if (!c->first_token) return recur_set_error(g, RECUR_ERR_NOMEM, "draw: out of memory");
    for (int li = 0; li < c->n_loops; li++) c->first_token[li] = -1;
    for (int32_t v = c->n - 1; v >= 0; v--)
        if (c->token[v] == 1 && c->axis[v] >= 0) c->first_token[c->axis[v]] = v;
    if (o->view == RECUR_VIEW_BACKWARD && (st = forward_part(c)) != RECUR_OK)
        return st == RECUR_ERR_NOMEM ? recur_set_error(g, st, "draw: out of memory") : st;
    int64_t total = 0;
    for (int32_t v = 0; v < c->n; v++) {
        c->slot0[v] = (int32_t)total;
        total += slots_of(c, v);
    }
    if (total > INT32_MAX / 2) return recur_set_error(g, RECUR_ERR_ARG, "draw: the graph is too large to draw");
    c->index = malloc(sizeof *c->index * ((size_t)total + 1));
    if (!c->index) return recur_set_error(g, RECUR_ERR_NOMEM, "draw: out of memory");
    for (int64_t i = 0; i < total; i++) c->index[i] = -1;
    if (discover(c) != RECUR_OK || post_order(c) != RECUR_OK || place_loops(c) != RECUR_OK)
        return recur_set_error(g, RECUR_ERR_NOMEM, "draw: out of memory");
    if (o->view == RECUR_VIEW_BACKWARD && (st = grad_steps(c)) != RECUR_OK) return st;
    if (o->view == RECUR_VIEW_BACKWARD && c->seed < 0) {
        /* No gradient of the loss among what the outputs need: nothing to draw backwards. */
        char shape[64];
        return recur_set_error(g, RECUR_ERR_ARG,
                               "draw: the backward view needs the gradients of opts->loss, but the outputs hold no "
                               "gradient of \"%s\" %s; call recur_grad(g, loss, ...) and draw what it returns",
                               recur_node_name(g, o->loss.id), recur_shape_str(g->nodes[o->loss.id].shape, shape, sizeof shape));
    }
    return RECUR_OK;
}

void recur_draw_ctx_free(draw_ctx *c)
{
    free(c->out);
    free(c->td), free(c->t0), free(c->axis), free(c->token), free(c->join);
    free(c->loops);
    free(c->slot0), free(c->index), free(c->keys), free(c->op_start), free(c->refs.v), free(c->post);
    for (int k = 0; c->out_refs && k < c->n_out; k++) free(c->out_refs[k].v);
    free(c->out_refs);
    for (int li = 0; c->init_refs && li < c->n_loops; li++) free(c->init_refs[li].v);
    free(c->init_refs);
    free(c->fwd), free(c->gloop), free(c->gstep), free(c->first_token), free(c->folded), free(c->line);
    memset(c, 0, sizeof *c);
}
