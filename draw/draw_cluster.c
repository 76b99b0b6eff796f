/*
 * draw/draw_cluster.c — op-level layouts: each cluster (a cell's ops at a
 * step, its gradient ops at a step, a rolled loop's body) is laid out by
 * dot as a graph of its own, from its boxes' sizes and its inner edges
 * written in the order of the nodes they draw; then it is placed whole on
 * the grid as one block (draw_place.c), with its members inside it. Every
 * step of a loop makes the same graph, so dot lays every step out alike,
 * and no step trades places with another as dot did with clusters side by
 * side; the edges between clusters are routed by draw_route.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"

enum { PAD = 10, LABEL_BAND = 18 };

/* Members of a cluster sorted by the node they draw (then by item). */
typedef struct member {
    int a, idx;
} member;

static int by_node(const void *x, const void *y)
{
    const member *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    return p->idx < q->idx ? -1 : p->idx > q->idx;
}

static void set(void *obj, const char *name, const char *value) { agsafeset(obj, (char *)name, (char *)value, ""); }

/* 1 if edge d ranks its ends in a cluster's layout (as draw_scene.c's style_edge says for dot). */
static int ranks(const draw_edge *d)
{
    return !d->loose && d->kind != DRAW_E_STATE && d->kind != DRAW_E_EXPORT && d->kind != DRAW_E_CAPTURE;
}

/* Lays out cluster k; adds its block. */
static recur_status one_cluster(GVC_t *gvc, draw_scene *s, int k, member *m, int *local)
{
    int n = 0;
    for (int i = 0; i < s->n_items; i++)
        if (s->items[i].cluster == k && !s->items[i].dropped) m[n++] = (member){s->items[i].a, i};
    if (n == 0) return RECUR_OK;
    qsort(m, (size_t)n, sizeof *m, by_node);
    Agraph_t *H = agopen("cluster", Agdirected, recur_draw_disc());
    if (!H) return RECUR_ERR_NOMEM;
    agattr(H, AGRAPH, "rankdir", "BT");
    agattr(H, AGRAPH, "rank", "");
    agattr(H, AGRAPH, "nodesep", s->internals ? "0.35" : "0.2");
    agattr(H, AGRAPH, "ranksep", s->internals ? "0.3" : "0.25");
    agattr(H, AGNODE, "shape", "box");
    agattr(H, AGNODE, "fixedsize", "true");
    agattr(H, AGNODE, "label", "");
    agattr(H, AGEDGE, "constraint", "true");
    Agnode_t **nodes = calloc((size_t)n + 1, sizeof *nodes);
    recur_status st = nodes ? RECUR_OK : RECUR_ERR_NOMEM;
    for (int j = 0; j < n && st == RECUR_OK; j++) {
        const draw_item *it = &s->items[m[j].idx];
        local[m[j].idx] = j;
        char name[16], size[32];
        snprintf(name, sizeof name, "n%d", j);
        nodes[j] = agnode(H, name, 1);
        if (!nodes[j]) {
            st = RECUR_ERR_NOMEM;
            break;
        }
        snprintf(size, sizeof size, "%.4f", it->w / 72.0);
        set(nodes[j], "width", size);
        snprintf(size, sizeof size, "%.4f", it->h / 72.0);
        set(nodes[j], "height", size);
    }
    /* Internals level: a state's line (its sums and products, its delay) in one row. */
    for (int line = 1; line <= 8 && st == RECUR_OK; line++) {
        Agraph_t *row = NULL;
        for (int j = 0; j < n && st == RECUR_OK; j++) {
            if (s->items[m[j].idx].line != line) continue;
            if (!row) {
                char name[16];
                snprintf(name, sizeof name, "line%d", line);
                row = agsubg(H, name, 1);
                if (!row) st = RECUR_ERR_NOMEM;
                else set(row, "rank", "same");
            }
            if (row) agsubnode(row, nodes[j], 1);
        }
    }
    /* Inner edges in the order of the nodes they join, so that isomorphic clusters give one layout. */
    int n_inner = 0;
    int *inner = malloc(sizeof *inner * ((size_t)s->n_edges + 1));
    Agedge_t **made = calloc((size_t)s->n_edges + 1, sizeof *made);
    if (!inner || !made) st = RECUR_ERR_NOMEM;
    for (int j = 0; j < n && st == RECUR_OK; j++)
        for (int e = 0; e < s->n_edges; e++) {
            const draw_edge *d = &s->edges[e];
            if (d->from != m[j].idx || d->kind == DRAW_E_INVIS || s->items[d->to].cluster != k || s->items[d->to].dropped)
                continue;
            inner[n_inner++] = e;
        }
    for (int q = 0; q < n_inner && st == RECUR_OK; q++) {
        /* by the head's order too: a tail's edges in the order of their heads */
        for (int r = q + 1; r < n_inner; r++) {
            const draw_edge *x = &s->edges[inner[q]], *y = &s->edges[inner[r]];
            if (local[x->from] == local[y->from] && local[y->to] < local[x->to]) {
                int t = inner[q];
                inner[q] = inner[r], inner[r] = t;
            }
        }
        const draw_edge *d = &s->edges[inner[q]];
        Agedge_t *e = agedge(H, nodes[local[d->from]], nodes[local[d->to]], NULL, 1);
        if (!e) {
            st = RECUR_ERR_NOMEM;
            break;
        }
        made[q] = e;
        if (!ranks(d)) set(e, "constraint", "false");
    }
    if (st == RECUR_OK && gvLayout(gvc, H, "dot") != 0) st = RECUR_ERR_RUNTIME;
    if (st == RECUR_OK) {
        boxf bb = GD_bb(H);
        double cx = (bb.LL.x + bb.UR.x) / 2, cy = (bb.LL.y + bb.UR.y) / 2;
        int B = recur_draw_item_add(s, DRAW_BLOCK, k, -1, "");
        if (B >= 0) {
            draw_item *b = &s->items[B];
            const draw_item *first = &s->items[m[0].idx];
            b->col = first->col;
            b->loop = first->loop;
            b->layer = s->clusters[k].base >= 0 ? s->clusters[k].base : first->layer;
            b->w = bb.UR.x - bb.LL.x + 2 * PAD;
            b->h = bb.UR.y - bb.LL.y + 2 * PAD + LABEL_BAND;
            b->cluster = k;
            for (int j = 0; j < n; j++) {
                draw_item *it = &s->items[m[j].idx];
                it->member = B + 1;
                it->rx = ND_coord(nodes[j]).x - cx;
                it->ry = ND_coord(nodes[j]).y - cy + LABEL_BAND / 2.0; /* the label's band below */
            }
            /* dot's curves for the inner edges, relative to the block's centre. */
            for (int q = 0; q < n_inner && st == RECUR_OK; q++) {
                draw_edge *d = &s->edges[inner[q]];
                if (!made[q] || !ED_spl(made[q]) || ED_spl(made[q])->size < 1) continue;
                const bezier *bz = &ED_spl(made[q])->list[0];
                if (bz->size < 4) continue;
                d->pts = malloc(sizeof *d->pts * 2 * ((size_t)bz->size + 1));
                if (!d->pts) {
                    st = RECUR_ERR_NOMEM;
                    break;
                }
                for (int p = 0; p < bz->size; p++) {
                    d->pts[2 * p] = bz->list[p].x - cx;
                    d->pts[2 * p + 1] = bz->list[p].y - cy + LABEL_BAND / 2.0;
                }
                pointf tip = bz->eflag ? bz->ep : bz->list[bz->size - 1];
                d->pts[2 * bz->size] = tip.x - cx;
                d->pts[2 * bz->size + 1] = tip.y - cy + LABEL_BAND / 2.0;
                d->n_pts = bz->size;
                d->inner = B + 1;
            }
        } else {
            st = RECUR_ERR_NOMEM;
        }
        gvFreeLayout(gvc, H);
    }
    free(nodes), free(inner), free(made);
    agclose(H);
    return st;
}

recur_status recur_draw_clusters(GVC_t *gvc, draw_scene *s)
{
    member *m = malloc(sizeof *m * ((size_t)s->n_items + 1));
    int *local = malloc(sizeof *local * ((size_t)s->n_items + 1));
    recur_status st = m && local ? RECUR_OK : RECUR_ERR_NOMEM;
    int n_clusters = s->n_clusters;
    for (int k = 0; k < n_clusters && st == RECUR_OK; k++) st = one_cluster(gvc, s, k, m, local);
    free(m), free(local);
    if (st == RECUR_OK && s->st != RECUR_OK) st = s->st;
    return st;
}
