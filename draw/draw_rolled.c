/*
 * draw/recur_draw_rolled.c — the rolled view: each loop drawn once, its state
 * fed back through a delay.
 *
 * At cell level a loop is one box with an edge into a small black delay box
 * beside it and one back (the state at t feeding step t + 1); at op level
 * the loop's body ops sit in a cluster, each next state feeding the delay
 * and the delay feeding the state's placeholder. Rows and columns are the
 * unrolled view's (draw_layout.c) with one column per loop: stacked layers
 * above each other, a decoder right of its encoder with the context
 * (the encoder's final state) on a dashed edge.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"

static int row_layer(int row) { return 10 * (row + 1); }

/* The cluster holding loop li's ops (op level), made on first use. */
static int loop_cluster(draw_ctx *c, draw_scene *s, int *clusters, int li)
{
    if (clusters[li] < 0) {
        char name[32];
        snprintf(name, sizeof name, "loop%d", li);
        clusters[li] = recur_draw_cluster_add(s, name, recur_draw_loop_label(c, li), -1, DRAW_CL_CELL);
        if (clusters[li] >= 0) {
            s->clusters[clusters[li]].reverse = c->loops[li].reverse;
            s->clusters[clusters[li]].base = 1000 * (1 + c->loops[li].row);
        }
    }
    return clusters[li];
}

static int32_t key_item(draw_ctx *c, draw_scene *s, int *clusters, int k)
{
    draw_key key = c->keys[k];
    const recur_node *n = &c->g->nodes[key.id];
    int li = n->loop - 1, I;
    char label[256];
    if (!s->op_level) {
        if (li >= 0) {
            I = recur_draw_item_add(s, DRAW_CELL, li, -1, recur_draw_loop_label(c, li));
            if (I >= 0) {
                draw_item *it = &s->items[I];
                it->layer = row_layer(c->loops[li].row), it->col = c->loops[li].col0;
                it->loop = li, it->level = c->loops[li].level, it->reverse = c->loops[li].reverse;
            }
            return I;
        }
        if (recur_draw_is_length_mask(c, key.id)) return DRAW_DROPPED; /* the lengths' mask: not a value drawn */
        if (c->token[key.id] == 1) { /* one box for all the tokens of the loop (ids and their mask) */
            recur_draw_step_label(c, c->axis[key.id], DRAW_NOSTEP, label, sizeof label);
            I = recur_draw_item_add(s, DRAW_INPUT, c->first_token[c->axis[key.id]], -1, label);
        } else if (c->join[key.id]) {
            I = recur_draw_item_add(s, DRAW_JOIN, key.id, -1, recur_draw_join_label(c, key.id));
        } else if (recur_draw_head_layer(c, key.id)) { /* a named layer of the head (dense, softmax) */
            I = recur_draw_item_add(s, DRAW_OP, key.id, -1, recur_draw_user_name(c->g, key.id));
        } else {
            return DRAW_HIDDEN;
        }
        if (I >= 0) {
            s->items[I].loop = c->axis[key.id];
            s->items[I].col = c->loops[c->axis[key.id]].col0;
            if (s->items[I].kind == DRAW_INPUT) s->items[I].layer = 0;
        }
        return I;
    }
    int internals = c->o.level == RECUR_LEVEL_INTERNALS;
    if (n->op == RECUR_OP_PARAM) return c->o.hide_params || internals ? DRAW_HIDDEN : DRAW_PER_USER;
    if (n->op == RECUR_OP_FILL) return DRAW_HIDDEN;
    if (internals && c->folded[key.id] && !c->token[key.id]) return DRAW_HIDDEN; /* W x + U h + b: into its box */
    if (c->token[key.id] == 1) { /* the whole sequence; its step placeholder inside the cell reads "x[t]" */
        const char *name = recur_draw_user_name(c->g, key.id);
        I = recur_draw_item_add(s, DRAW_INPUT, key.id, -1, name ? name : "x");
        if (I >= 0) s->items[I].layer = 0;
        return I;
    }
    if (internals) recur_draw_internals_label(c, key.id, label, sizeof label);
    else recur_draw_op_label(c, key.id, label, sizeof label);
    if (internals && n->op == RECUR_OP_LOOP_STATE) { /* the state as the step reads it */
        const char *name = recur_draw_user_name(c->g, key.id);
        snprintf(label, sizeof label, "%s[t-1]", name ? name : "state");
    }
    draw_kind kind = n->op == RECUR_OP_INPUT ? DRAW_INPUT
                     : internals && (n->op == RECUR_OP_LOOP_STATE || n->op == RECUR_OP_LOOP_STEP) ? DRAW_INPUT
                     : internals && recur_draw_is_glyph(c, key.id) ? DRAW_GLYPH
                                                                   : DRAW_OP;
    I = recur_draw_item_add(s, kind, key.id, -1, label);
    if (I >= 0 && internals) s->items[I].line = c->line[key.id];
    if (I >= 0 && li >= 0) {
        s->items[I].cluster = loop_cluster(c, s, clusters, li);
        s->items[I].loop = li;
        s->items[I].level = c->loops[li].level;
    }
    return I;
}

/* The delay of loop li and its state edges; the initial states that come from other loops. */
static void delay(draw_ctx *c, draw_scene *s, const int32_t *item, const draw_vis *vis, int *clusters, int li)
{
    const recur_loop_rec *L = &c->g->loops[li];
    if (L->n_state == 0) return;
    int D = recur_draw_item_add(s, DRAW_DELAY, li, -1, "");
    if (D < 0) return;
    s->items[D].loop = li;
    if (!s->op_level) {
        int C = recur_draw_item_find(s, DRAW_CELL, li, -1);
        char label[128] = "";
        for (int k = 0; k < L->n_state && L->n_state > 1; k++) {
            const char *name = c->g->nodes[L->state[k]].name;
            size_t used = strlen(label);
            snprintf(label + used, sizeof label - used, "%s%s", k ? ", " : "", name ? name : "state");
        }
        /* Beside its cell: right of it, or left when its final state starts a loop drawn right of it. */
        int passed_on = 0;
        for (int b = 0; b < c->n_loops; b++) passed_on |= c->loops[b].used && c->loops[b].follows == li + 1;
        s->items[D].layer = s->items[C].layer;
        s->items[D].col = s->items[C].col;
        s->items[D].side = passed_on ? -1 : 1;
        recur_draw_edge_add(s, C, D, DRAW_E_STATE, 0, label);
        int back = recur_draw_edge_add(s, D, C, DRAW_E_STATE, 0, "");
        if (back >= 0) s->edges[back].loose = 1;
        for (int i = 0; i < c->init_refs[li].n; i++) recur_draw_edges_into(c, s, item, vis, &c->init_refs[li].v[i], C, -1);
        return;
    }
    s->items[D].cluster = loop_cluster(c, s, clusters, li);
    for (int k = 0; k < L->n_state; k++) {
        int next = recur_draw_key_index(c, (draw_key){L->next[k], DRAW_NOSTEP});
        int state = recur_draw_key_index(c, (draw_key){L->state[k], DRAW_NOSTEP});
        if (c->o.level == RECUR_LEVEL_INTERNALS && k > 0) { /* each state through its own delay */
            D = recur_draw_item_add(s, DRAW_DELAY, li, k, "");
            if (D < 0) return;
            s->items[D].loop = li;
            s->items[D].cluster = loop_cluster(c, s, clusters, li);
        }
        if (c->o.level == RECUR_LEVEL_INTERNALS) s->items[D].line = k + 1;
        if (next >= 0 && item[next] >= 0) recur_draw_edge_add(s, item[next], D, DRAW_E_STATE, k, "");
        if (state < 0 || item[state] < 0) continue;
        int back = recur_draw_edge_add(s, D, item[state], DRAW_E_STATE, k, "");
        if (back >= 0) s->edges[back].loose = 1;
        for (int i = 0; i < c->init_refs[li].n; i++)
            if (c->init_refs[li].v[i].tag == k) recur_draw_edges_into(c, s, item, vis, &c->init_refs[li].v[i], item[state], -1);
    }
}

/* Generation: the output fed back as the input, for decoders (else for the bottom loops). */
static void feedback(draw_ctx *c, draw_scene *s)
{
    int any_follower = 0;
    for (int li = 0; li < c->n_loops; li++) any_follower |= c->loops[li].used && c->loops[li].follows;
    for (int i = 0; i < s->n_items; i++) {
        const draw_item *out = &s->items[i];
        if (out->kind != DRAW_OUTPUT) continue;
        int li = c->td[c->out[out->a].id] ? c->axis[c->out[out->a].id] : -1;
        if (li < 0 || (any_follower ? !c->loops[li].follows : c->loops[li].level != 0)) continue;
        for (int j = 0; j < s->n_items; j++)
            if (s->items[j].kind == DRAW_INPUT && s->items[j].loop == li) recur_draw_edge_add(s, i, j, DRAW_E_FEEDBACK, 0, "");
    }
}

recur_status recur_draw_rolled(draw_ctx *c, draw_scene *s)
{
    int any = 0;
    for (int li = 0; li < c->n_loops; li++) any |= c->loops[li].used;
    s->op_level = c->o.level != RECUR_LEVEL_CELL || !any;
    s->pinned = !s->op_level;
    int *clusters = malloc(sizeof *clusters * ((size_t)c->n_loops + 1));
    int32_t *item = malloc(sizeof *item * ((size_t)c->n_keys + 1));
    draw_vis vis = {0};
    if (!clusters || !item) {
        free(clusters), free(item);
        return recur_set_error(c->g, RECUR_ERR_NOMEM, "draw: out of memory");
    }
    for (int li = 0; li < c->n_loops; li++) clusters[li] = -1;
    for (int j = 0; j < c->n_keys; j++) item[j] = key_item(c, s, clusters, j);
    recur_status st = s->st == RECUR_OK ? recur_draw_connect(c, s, item, &vis) : RECUR_ERR_NOMEM;
    if (st == RECUR_OK) {
        for (int li = 0; li < c->n_loops; li++)
            if (c->loops[li].used) delay(c, s, item, &vis, clusters, li);
        recur_draw_outputs(c, s, item, &vis);
        recur_draw_attention(c, s);
        if (!s->op_level) recur_draw_join_layers(s), recur_draw_fill_layers(s); /* and a head's layers */
        else recur_draw_op_layers(s);
        int top = 0;
        for (int i = 0; i < s->n_items; i++)
            if (s->items[i].kind != DRAW_OUTPUT && s->items[i].layer > top) top = s->items[i].layer;
        recur_draw_place_outputs(c, s, top, 3); /* a final state after the delay (1) and its label (2) */
        /* A final state drawn beside its cell leaves from the delay that holds it, not across the loop. */
        for (int e = 0; e < s->n_edges; e++) {
            draw_edge *d = &s->edges[e];
            const draw_item *from = &s->items[d->from], *to = &s->items[d->to];
            int D = from->kind == DRAW_CELL ? recur_draw_item_find(s, DRAW_DELAY, from->a, -1) : -1;
            if (d->kind == DRAW_E_EXPORT && D >= 0 && s->items[D].side > 0 && to->kind == DRAW_OUTPUT && to->side > 0)
                d->from = D;
        }
        if (c->o.feedback) feedback(c, s);
    }
    s->pinned = !s->op_level || s->n_clusters > 0; /* op level: clusters placed whole (draw_cluster.c) */
    s->internals = c->o.level == RECUR_LEVEL_INTERNALS;
    if (s->pinned) recur_draw_nudge(c, s);
    recur_draw_vis_free(&vis);
    free(clusters), free(item);
    if (st == RECUR_OK && s->st != RECUR_OK) st = recur_set_error(c->g, RECUR_ERR_NOMEM, "draw: out of memory");
    return st;
}
