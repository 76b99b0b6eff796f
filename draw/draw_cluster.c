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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"

enum { PAD = 10, LABEL_BAND = DRAW_LABEL_BAND };

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

/* 1 if item i is left out of the dot layout: a rolled cell's delay at the internals level (draw_lanes.c). */
static int own_delay(const draw_scene *s, int i, int lanes) { return lanes && s->items[i].kind == DRAW_DELAY; }

/* Drops the routes dot made for cluster k's inner edges (before laying it out again). */
static void drop_routes(draw_scene *s, int k)
{
    for (int e = 0; e < s->n_edges; e++) {
        draw_edge *d = &s->edges[e];
        if (d->pts && !d->inner && s->items[d->from].cluster == k && s->items[d->to].cluster == k) {
            free(d->pts);
            d->pts = NULL, d->n_pts = 0;
        }
    }
}

/*
 * Lays out cluster k; adds its block. With lanes, its delays are left out
 * of dot's layout and its state loops drawn round it (draw_lanes.c); when
 * they cannot be, it is laid out again with them.
 */
static recur_status one_cluster(GVC_t *gvc, draw_scene *s, int k, member *m, int *local, int lanes)
{
    int n = 0;
    for (int i = 0; i < s->n_items; i++)
        if (s->items[i].cluster == k && !s->items[i].dropped && !own_delay(s, i, lanes)) m[n++] = (member){s->items[i].a, i};
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
    /*
     * Internals level: a state off any line entering a step's cell runs across the cells: in the row of
     * the value it becomes when it feeds that value (an RNN's h into tanh), else in the top row (an
     * LSTM's h, whose h' is the cell's top; rank max, as rankdir is BT).
     */
    for (int j = 0; j < n && st == RECUR_OK; j++) {
        int b = s->items[m[j].idx].beside - 1;
        if (b < 0 || s->items[b].cluster != k || s->items[b].dropped) continue;
        int feeds = 0;
        for (int e = 0; e < s->n_edges && !feeds; e++) feeds = s->edges[e].from == m[j].idx && s->edges[e].to == b;
        char name[24];
        snprintf(name, sizeof name, "beside%d", j);
        Agraph_t *row = agsubg(H, name, 1);
        if (!row) {
            st = RECUR_ERR_NOMEM;
            break;
        }
        set(row, "rank", feeds ? "same" : "max");
        agsubnode(row, nodes[j], 1);
        if (feeds) agsubnode(row, nodes[local[b]], 1);
    }
    /* Inner edges in the order of the nodes they join, so that isomorphic clusters give one layout. */
    int n_inner = 0;
    int *inner = malloc(sizeof *inner * ((size_t)s->n_edges + 1));
    Agedge_t **made = calloc((size_t)s->n_edges + 1, sizeof *made);
    if (!inner || !made) st = RECUR_ERR_NOMEM;
    for (int j = 0; j < n && st == RECUR_OK; j++)
        for (int e = 0; e < s->n_edges; e++) {
            const draw_edge *d = &s->edges[e];
            if (d->from != m[j].idx || d->kind == DRAW_E_INVIS || s->items[d->to].cluster != k || s->items[d->to].dropped ||
                own_delay(s, d->to, lanes))
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
        /* A state on its line reaches the gates below it: the line is drawn above what feeds it (a GRU's
         * h line on top; the LSTM's tanh(c') and h' stay above its cell-state line). */
        const draw_item *from = &s->items[d->from];
        int down = s->internals && (from->line || from->beside) && from->kind == DRAW_INPUT && s->items[d->to].line != from->line;
        if (!ranks(d) || down) set(e, "constraint", "false");
    }
    if (st == RECUR_OK && gvLayout(gvc, H, "dot") != 0) st = RECUR_ERR_RUNTIME;
    int again = 0;
    if (st == RECUR_OK) {
        /* Places relative to the centre of dot's bounding box; dot's curves for the inner edges. */
        boxf bb = GD_bb(H);
        double cx = (bb.LL.x + bb.UR.x) / 2, cy = (bb.LL.y + bb.UR.y) / 2;
        double x0 = bb.LL.x - cx, x1 = bb.UR.x - cx, y0 = bb.LL.y - cy, y1 = bb.UR.y - cy;
        for (int j = 0; j < n; j++) {
            draw_item *it = &s->items[m[j].idx];
            it->rx = ND_coord(nodes[j]).x - cx;
            it->ry = ND_coord(nodes[j]).y - cy;
        }
        for (int q = 0; q < n_inner && st == RECUR_OK; q++) {
            draw_edge *d = &s->edges[inner[q]];
            if (!made[q] || !ED_spl(made[q]) || ED_spl(made[q])->size < 1) continue;
            const bezier *bz = &ED_spl(made[q])->list[0];
            if (bz->size < 4) continue;
            free(d->pts);
            d->pts = malloc(sizeof *d->pts * 2 * ((size_t)bz->size + 1));
            if (!d->pts) {
                st = RECUR_ERR_NOMEM;
                break;
            }
            for (int p = 0; p < bz->size; p++) {
                d->pts[2 * p] = bz->list[p].x - cx;
                d->pts[2 * p + 1] = bz->list[p].y - cy;
            }
            pointf tip = bz->eflag ? bz->ep : bz->list[bz->size - 1];
            d->pts[2 * bz->size] = tip.x - cx;
            d->pts[2 * bz->size + 1] = tip.y - cy;
            d->n_pts = bz->size;
        }
        /* The state loops round the boxes, or dot's layout again with the delays. */
        if (st == RECUR_OK && lanes && !recur_draw_lanes(s, k)) {
            st = s->st;
            again = st == RECUR_OK;
            drop_routes(s, k);
        }
        if (st == RECUR_OK && !again) {
            /* The block holds every member and route (the loops' lanes too), and the label's band below. */
            for (int i = 0; i < s->n_items; i++) {
                const draw_item *it = &s->items[i];
                if (it->cluster != k || it->dropped || it->kind == DRAW_BLOCK) continue;
                x0 = fmin(x0, it->rx - it->w / 2), x1 = fmax(x1, it->rx + it->w / 2);
                y0 = fmin(y0, it->ry - it->h / 2), y1 = fmax(y1, it->ry + it->h / 2);
            }
            for (int e = 0; e < s->n_edges; e++) {
                const draw_edge *d = &s->edges[e];
                if (!d->pts || d->inner || s->items[d->from].cluster != k || s->items[d->to].cluster != k) continue;
                for (int p = 0; p <= d->n_pts; p++) {
                    x0 = fmin(x0, d->pts[2 * p]), x1 = fmax(x1, d->pts[2 * p]);
                    y0 = fmin(y0, d->pts[2 * p + 1]), y1 = fmax(y1, d->pts[2 * p + 1]);
                }
            }
            double mx = (x0 + x1) / 2, my = (y0 + y1) / 2 - LABEL_BAND / 2.0;
            int B = recur_draw_item_add(s, DRAW_BLOCK, k, -1, "");
            if (B >= 0) {
                draw_item *b = &s->items[B];
                const draw_item *first = &s->items[m[0].idx];
                b->col = first->col;
                b->loop = first->loop;
                b->layer = s->clusters[k].base >= 0 ? s->clusters[k].base : first->layer;
                /* at least as wide as its label (DejaVu Sans averages about 0.6 em a character) */
                double label_w = 0.6 * (s->label_pt > 0 ? s->label_pt : 11.2) * (double)strlen(s->clusters[k].label);
                b->w = x1 - x0 + 2 * PAD;
                if (b->w < label_w + 2 * PAD) b->w = label_w + 2 * PAD;
                b->h = y1 - y0 + 2 * PAD + LABEL_BAND;
                b->cluster = k;
                /* A reverse loop's cell mirrored: its state comes from the right and leaves to the left. */
                double flip = s->clusters[k].reverse ? -1 : 1;
                for (int i = 0; i < s->n_items; i++) {
                    draw_item *it = &s->items[i];
                    if (it->cluster != k || it->dropped || it->kind == DRAW_BLOCK) continue;
                    it->member = B + 1;
                    it->rx = flip * (it->rx - mx), it->ry -= my;
                }
                for (int e = 0; e < s->n_edges; e++) {
                    draw_edge *d = &s->edges[e];
                    if (!d->pts || d->inner || s->items[d->from].cluster != k || s->items[d->to].cluster != k) continue;
                    for (int p = 0; p <= d->n_pts; p++) d->pts[2 * p] = flip * (d->pts[2 * p] - mx), d->pts[2 * p + 1] -= my;
                    d->inner = B + 1;
                }
            } else {
                st = RECUR_ERR_NOMEM;
            }
        }
        gvFreeLayout(gvc, H);
    }
    free(nodes), free(inner), free(made);
    agclose(H);
    if (again) return one_cluster(gvc, s, k, m, local, 0);
    return st;
}

recur_status recur_draw_clusters(GVC_t *gvc, draw_scene *s)
{
    member *m = malloc(sizeof *m * ((size_t)s->n_items + 1));
    int *local = malloc(sizeof *local * ((size_t)s->n_items + 1));
    recur_status st = m && local ? RECUR_OK : RECUR_ERR_NOMEM;
    int n_clusters = s->n_clusters;
    for (int k = 0; k < n_clusters && st == RECUR_OK; k++) st = one_cluster(gvc, s, k, m, local, s->internals);
    free(m), free(local);
    if (st == RECUR_OK && s->st != RECUR_OK) st = s->st;
    return st;
}
