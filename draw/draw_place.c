/*
 * draw/draw_place.c — the pinned layout of the cell-level views: every box
 * at its place on a grid of layers (bottom to top) and columns (time, left
 * to right), as textbooks draw recurrent networks. Graphviz measures the
 * boxes and routes the edges around them (its "nop2" engine, neato -n2,
 * with splines=true), but moves nothing, so columns never swap and every
 * step looks alike.
 *
 *   y(layer)  the layers from the bottom, each as high as its highest box,
 *             GAP_Y apart;
 *   x(col)    the columns from the left, each as wide as the widest box of
 *             its main slot plus the side slots right of it (a rolled cell's
 *             delay and its label), GAP_X apart, wider where a label sits in
 *             the gap (an initial state's "h, c", the "context");
 *   an item with no column (the loss, a weight's gradient) sits at the mean
 *   x of the items it is joined to, moved as little as needed to clear the
 *   other boxes of its layer.
 * Ports give the textbook's shapes: a state leaves a cell at its side and
 * enters the next one at the facing side; a value rises from the top of a
 * box into the bottom of the next one in its column; the delay loop leaves
 * the cell's upper right corner and comes back into its lower right corner.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <graphviz/gvc.h>

#include "draw.h"

enum { GAP_X = 22, GAP_Y = 30, SIDE_GAP = 28, LABEL_GAP = 10, CLEAR = 8 };

/* The space before a side slot's item: room for a loop or an arrow, or a label's small gap. */
static double side_gap(const draw_item *it) { return it->kind == DRAW_LABEL ? LABEL_GAP : SIDE_GAP; }

/* 1 if edge e takes part in ranking an item whose layer is unknown. */
static int ranks(const draw_edge *e)
{
    return e->kind == DRAW_E_DATA || e->kind == DRAW_E_GRAD || e->kind == DRAW_E_SKIP;
}

void recur_draw_fill_layers(draw_scene *s)
{
    for (int pass = 0, changed = 1; changed && pass < s->n_items; pass++) {
        changed = 0;
        for (int i = 0; i < s->n_edges; i++) {
            const draw_edge *e = &s->edges[i];
            draw_item *to = &s->items[e->to];
            int from = s->items[e->from].layer;
            if (!ranks(e) || from < 0 || to->layer > from || to->kind == DRAW_NOTE) continue;
            if (to->layer < 0 && !to->gap) to->layer = from + 1, changed = 1;
        }
    }
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

/* The sorted distinct values of v[0..n) into out; returns their count. */
static int distinct(int *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_int);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!m || v[m - 1] != v[i]) v[m++] = v[i];
    return m;
}

/* Index of x in the sorted v[0..n), -1 if absent. */
static int find(const int *v, int n, int x)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (v[mid] == x) return mid;
        if (v[mid] < x) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* Items placed by the grid (not by their neighbours). */
static int on_grid(const draw_item *it) { return it->col >= 0 && it->kind != DRAW_NOTE && !it->dropped && !it->member; }

/* Items the layout does not place itself: merged away, or inside a block (placed with it). */
static int passive(const draw_item *it) { return it->dropped || it->member; }

/* Overlap test of the item at x with the items of its rank already placed. */
static int clear_at(const draw_scene *s, const char *placed, const int *rank_of, int r, int self, double x)
{
    const draw_item *it = &s->items[self];
    for (int j = 0; j < s->n_items; j++) {
        const draw_item *o = &s->items[j];
        if (j == self || !placed[j] || rank_of[j] != r || o->gap || passive(o)) continue;
        if (fabs(o->x - x) < (o->w + it->w) / 2 + GAP_X / 2.0) return j;
    }
    return -1;
}

/* Places an item without a column at the free x nearest to `want` in its rank. */
static void place_free(draw_scene *s, char *placed, const int *rank_of, int self, double want)
{
    draw_item *it = &s->items[self];
    double best = want;
    int hit = clear_at(s, placed, rank_of, rank_of[self], self, want);
    if (hit >= 0) {
        /* Try just left and just right of every placed item of the rank; keep the nearest free spot. */
        double dist = INFINITY;
        for (int j = 0; j < s->n_items; j++) {
            const draw_item *o = &s->items[j];
            if (j == self || !placed[j] || rank_of[j] != rank_of[self] || o->gap) continue;
            for (int side = -1; side <= 1; side += 2) {
                double x = o->x + side * ((o->w + it->w) / 2 + GAP_X / 2.0 + 0.5);
                if (fabs(x - want) < dist && clear_at(s, placed, rank_of, rank_of[self], self, x) < 0)
                    dist = fabs(x - want), best = x;
            }
        }
    }
    it->x = best;
    placed[self] = 1;
}

recur_status recur_draw_place(draw_scene *s)
{
    int n = s->n_items;
    if (n == 0) return RECUR_OK;
    recur_draw_fill_layers(s);
    for (int i = 0; i < s->n_items; i++)
        if (s->items[i].layer < 0 && s->items[i].kind != DRAW_NOTE) s->items[i].layer = 0;
    int *layers = malloc(sizeof(int) * (size_t)n), *cols = malloc(sizeof(int) * (size_t)n);
    int *rank_of = malloc(sizeof(int) * (size_t)n);
    char *placed = calloc((size_t)n, 1);
    double *rank_h = NULL, *rank_y = NULL, *left = NULL, *right = NULL, *cx = NULL, *gap = NULL, *side_w = NULL;
    double *main_right = NULL, *main_left = NULL, *side_g = NULL;
    if (!layers || !cols || !rank_of || !placed) goto nomem;
    int nl = 0, nc = 0, max_side = 0;
    for (int i = 0; i < n; i++) {
        const draw_item *it = &s->items[i];
        if (!passive(it)) layers[nl++] = it->layer;
        if (on_grid(it)) cols[nc++] = it->col;
        if (abs(it->side) > max_side) max_side = abs(it->side);
    }
    nl = distinct(layers, nl);
    nc = distinct(cols, nc);
    int slots = 2 * max_side + 1;
    rank_h = calloc((size_t)nl + 1, sizeof *rank_h);
    rank_y = calloc((size_t)nl + 1, sizeof *rank_y);
    left = calloc((size_t)nc + 1, sizeof *left);
    right = calloc((size_t)nc + 1, sizeof *right);
    cx = calloc((size_t)nc + 1, sizeof *cx);
    main_right = calloc((size_t)nc + 1, sizeof *main_right);
    side_g = calloc(((size_t)nc + 1) * (size_t)slots, sizeof *side_g);
    main_left = calloc((size_t)nc + 1, sizeof *main_left);
    gap = calloc((size_t)nc + 1, sizeof *gap);
    side_w = calloc(((size_t)nc + 1) * (size_t)slots, sizeof *side_w);
    if (!rank_h || !rank_y || !left || !right || !cx || !gap || !side_w || !main_right || !main_left || !side_g) goto nomem;

    /* Ranks: bottom to top, each as high as its highest box. */
    for (int i = 0; i < n; i++) {
        const draw_item *it = &s->items[i];
        rank_of[i] = passive(it) ? 0 : find(layers, nl, it->layer);
        if (!it->gap && it->kind != DRAW_NOTE && !passive(it) && it->h > rank_h[rank_of[i]]) rank_h[rank_of[i]] = it->h;
    }
    for (int r = 0; r < nl; r++)
        rank_y[r] = r == 0 ? rank_h[0] / 2 : rank_y[r - 1] + rank_h[r - 1] / 2 + GAP_Y + rank_h[r] / 2;

    /* Columns: the main slot's extent left and right of the centre, the side slots either side, the gap after. */
    for (int c = 0; c < nc; c++) gap[c] = GAP_X;
    for (int i = 0; i < n; i++) {
        const draw_item *it = &s->items[i];
        if (!on_grid(it)) continue;
        int c = find(cols, nc, it->col);
        if (it->gap) {
            if (it->w + 16 > gap[c]) gap[c] = it->w + 16;
        } else if (it->side != 0) {
            size_t slot = (size_t)c * (size_t)slots + (size_t)(max_side + it->side);
            if (it->w > side_w[slot]) side_w[slot] = it->w;
            if (side_gap(it) > side_g[slot]) side_g[slot] = side_gap(it);
        } else {
            if (it->w / 2 - it->nudge > left[c]) left[c] = it->w / 2 - it->nudge;
            if (it->w / 2 + it->nudge > right[c]) right[c] = it->w / 2 + it->nudge;
        }
    }
    double x = 0;
    for (int c = 0; c < nc; c++) {
        double l = left[c], r = right[c];
        main_left[c] = left[c], main_right[c] = right[c];
        for (int k = 1; k <= max_side; k++) {
            size_t out = (size_t)c * (size_t)slots + (size_t)(max_side + k), in = (size_t)c * (size_t)slots + (size_t)(max_side - k);
            if (side_w[out] > 0) r += side_g[out] + side_w[out];
            if (side_w[in] > 0) l += side_g[in] + side_w[in];
        }
        cx[c] = x + l;
        left[c] = l; /* the whole extents from here on */
        right[c] = cx[c] + r;
        x = right[c] + gap[c];
    }
    /* Grid items. */
    for (int i = 0; i < n; i++) {
        draw_item *it = &s->items[i];
        if (passive(it)) continue;
        it->y = rank_y[rank_of[i]];
        if (!on_grid(it)) continue;
        int c = find(cols, nc, it->col);
        if (it->gap) {
            it->x = c + 1 < nc ? (right[c] + cx[c + 1] - left[c + 1]) / 2 : right[c] + gap[c] / 2;
            it->y += it->h / 2 + 5; /* just above the edge through the gap */
        } else if (it->side != 0) {
            /* Side slots start at the edge of the main box of their row (or else of the column) and go
             * outwards, slot after slot: a rolled cell's delay hugs its own cell. */
            int dir = it->side > 0 ? 1 : -1;
            double r = -1;
            for (int j = 0; j < n; j++) {
                const draw_item *o = &s->items[j];
                if (on_grid(o) && !o->gap && o->side == 0 && o->col == it->col && rank_of[j] == rank_of[i]) {
                    double extent = dir > 0 ? o->w / 2 + o->nudge : o->w / 2 - o->nudge;
                    if (extent > r) r = extent;
                }
            }
            if (r < 0) r = dir > 0 ? main_right[c] : main_left[c];
            for (int k = 1; k <= dir * it->side; k++) {
                size_t slot = (size_t)c * (size_t)slots + (size_t)(max_side + dir * k);
                double w = 0;
                for (int j = 0; j < n && k < dir * it->side; j++) { /* this row's item in slot k */
                    const draw_item *o = &s->items[j];
                    if (on_grid(o) && o->col == it->col && o->side == dir * k && rank_of[j] == rank_of[i] && o->w > w) w = o->w;
                }
                if (k < dir * it->side) {
                    if (w > 0) r += side_g[slot] + w;
                } else {
                    it->x = cx[c] + dir * (r + side_g[slot] + it->w / 2);
                }
            }
        } else {
            it->x = cx[c] + it->nudge;
        }
        placed[i] = 1;
    }
    /* Members of blocks: where their cluster's own layout put them. */
    for (int i = 0; i < n; i++) {
        draw_item *it = &s->items[i];
        if (!it->member || !placed[it->member - 1]) continue;
        it->x = s->items[it->member - 1].x + it->rx;
        it->y = s->items[it->member - 1].y + it->ry;
        placed[i] = 1;
    }
    /* Items without a column: at the mean x of their placed neighbours, then clear of the others. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            draw_item *it = &s->items[i];
            if (placed[i] || it->kind == DRAW_NOTE || passive(it)) continue;
            double sum = 0;
            int count = 0;
            for (int e = 0; e < s->n_edges; e++) {
                const draw_edge *d = &s->edges[e];
                int other = d->from == i ? d->to : d->to == i ? d->from : -1;
                if (other < 0 || d->kind == DRAW_E_INVIS || !placed[other]) continue;
                sum += s->items[other].x;
                count++;
            }
            if (count || pass == 1) place_free(s, placed, rank_of, i, count ? sum / count : 0);
        }
    /* Last, a safeguard: Graphviz routes around boxes only when no two come within CLEAR points. */
    for (int r = 0; r < nl; r++)
        for (int pass = 0, moved = 1; moved && pass < 64; pass++) {
            moved = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) {
                    draw_item *a = &s->items[i], *b = &s->items[j];
                    if (i == j || rank_of[i] != r || rank_of[j] != r || a->x > b->x || (a->x == b->x && i > j) ||
                        a->kind == DRAW_NOTE || b->kind == DRAW_NOTE || passive(a) || passive(b))
                        continue;
                    double need = (a->w + b->w) / 2 + CLEAR - (b->x - a->x);
                    if (need > 0 && fabs(a->y - b->y) < (a->h + b->h) / 2 + CLEAR) b->x += need, moved = 1;
                }
        }
    for (int i = 0; i < n; i++) {
        draw_item *it = &s->items[i];
        if (it->member) it->x = s->items[it->member - 1].x + it->rx, it->y = s->items[it->member - 1].y + it->ry;
    }
    /* Notes: the legend centred below everything, the equations right of it, "=" between views. */
    double min_x = INFINITY, max_x = -INFINITY, min_y = INFINITY, max_y = -INFINITY;
    for (int i = 0; i < n; i++) {
        const draw_item *it = &s->items[i];
        if (it->kind == DRAW_NOTE || passive(it)) continue;
        if (it->x - it->w / 2 < min_x) min_x = it->x - it->w / 2;
        if (it->x + it->w / 2 > max_x) max_x = it->x + it->w / 2;
        if (it->y - it->h / 2 < min_y) min_y = it->y - it->h / 2;
        if (it->y + it->h / 2 > max_y) max_y = it->y + it->h / 2;
    }
    for (int i = 0; i < n; i++) {
        draw_item *it = &s->items[i];
        if (it->kind != DRAW_NOTE) continue;
        if (it->a == DRAW_NOTE_LEGEND) {
            it->x = (min_x + max_x) / 2;
            it->y = min_y - GAP_Y / 2.0 - it->h / 2;
        } else if (it->a == DRAW_NOTE_EQUATIONS) {
            it->x = max_x + 2 * GAP_X + it->w / 2;
            it->y = (min_y + max_y) / 2;
        } else if (on_grid(it) || it->col >= 0) { /* "=" in its own column, mid-height */
            int c = find(cols, nc, it->col);
            it->x = c >= 0 ? cx[c] : max_x + GAP_X;
            it->y = (min_y + max_y) / 2;
        }
    }
    free(layers), free(cols), free(rank_of), free(placed);
    free(rank_h), free(rank_y), free(left), free(right), free(cx), free(gap), free(side_w), free(main_right), free(main_left), free(side_g);
    return RECUR_OK;
nomem:
    free(layers), free(cols), free(rank_of), free(placed);
    free(rank_h), free(rank_y), free(left), free(right), free(cx), free(gap), free(side_w), free(main_right), free(main_left), free(side_g);
    return RECUR_ERR_NOMEM;
}

void recur_draw_edge_labels(draw_scene *s)
{
    int n_edges = s->n_edges;
    for (int i = 0; i < n_edges && s->st == RECUR_OK; i++) {
        if (!s->edges[i].label[0]) continue;
        draw_edge e = s->edges[i];
        const draw_item *a = &s->items[e.from], *b = &s->items[e.to];
        if (a->layer != b->layer || a->col < 0 || b->col < 0) continue; /* keeps its xlabel */
        int layer = a->layer, col = a->col < b->col ? a->col : b->col, delay = b->kind == DRAW_DELAY, bside = b->side;
        int L = recur_draw_item_add(s, DRAW_LABEL, i, -1, e.label);
        if (L < 0) return;
        draw_item *it = &s->items[L];
        it->layer = layer;
        it->col = col;
        it->loop = s->items[e.from].loop;
        if (delay) it->side = 2 * bside; /* the rolled view: beside the delay it names, further out */
        else it->gap = 1;        /* in the gap the edge crosses, just above it */
        s->edges[i].label[0] = '\0';
    }
}

/* ------------------------------------------------------------------ ports */

/* 1 if the items share a column (their centres within a point of each other). */
static int same_column(const draw_item *a, const draw_item *b) { return fabs(a->x - b->x) < 1.0 || (a->col >= 0 && a->col == b->col && a->side == b->side); }

void recur_draw_ports(draw_scene *s)
{
    for (int i = 0; i < s->n_edges; i++) {
        draw_edge *e = &s->edges[i];
        const draw_item *a = &s->items[e->from], *b = &s->items[e->to];
        e->tailport[0] = e->headport[0] = '\0';
        if (e->kind == DRAW_E_INVIS || a->member || b->member) continue;
        if (b->kind == DRAW_DELAY) { /* the loop out of the cell's upper corner on the delay's side into it */
            snprintf(e->tailport, sizeof e->tailport, b->x > a->x ? "ne" : "nw");
            snprintf(e->headport, sizeof e->headport, "n");
        } else if (a->kind == DRAW_DELAY) { /* and back into its lower corner */
            snprintf(e->tailport, sizeof e->tailport, "s");
            snprintf(e->headport, sizeof e->headport, a->x > b->x ? "se" : "sw");
        } else if (e->kind == DRAW_E_FEEDBACK && fabs(a->x - b->x) < 1.0) { /* rolled: down the right side */
            snprintf(e->tailport, sizeof e->tailport, "e");
            snprintf(e->headport, sizeof e->headport, "e");
        } else if (e->kind == DRAW_E_FEEDBACK) { /* down the gap between two columns */
            snprintf(e->tailport, sizeof e->tailport, a->x < b->x ? "e" : "w");
            snprintf(e->headport, sizeof e->headport, a->x < b->x ? "w" : "e");
        } else if (e->kind == DRAW_E_ATTENTION) { /* from the memory to each step: wherever is nearest */
            continue;
        } else if (a->layer == b->layer) { /* along a row: side to facing side */
            snprintf(e->tailport, sizeof e->tailport, a->x < b->x ? "e" : "w");
            snprintf(e->headport, sizeof e->headport, a->x < b->x ? "w" : "e");
        } else if (same_column(a, b)) { /* up a column: top to bottom */
            snprintf(e->tailport, sizeof e->tailport, a->y < b->y ? "n" : "s");
            snprintf(e->headport, sizeof e->headport, a->y < b->y ? "s" : "n");
        }
    }
}

/* ---------------------------------------------------------------- measure */

recur_status recur_draw_measure(GVC_t *gvc, Agraph_t *G, Agnode_t *const *nodes, draw_scene *s)
{
    /* Every node at the origin and no edges routed: nop2 only sizes the boxes from their labels. */
    agsafeset(G, "splines", "false", "");
    for (int i = 0; i < s->n_items; i++)
        if (nodes[i]) agsafeset(nodes[i], "pos", "0,0", "");
    if (gvLayout(gvc, G, "nop2") != 0) return RECUR_ERR_RUNTIME;
    for (int i = 0; i < s->n_items; i++) {
        if (!nodes[i]) continue;
        s->items[i].w = ND_width(nodes[i]) * 72.0;
        s->items[i].h = ND_height(nodes[i]) * 72.0;
    }
    gvFreeLayout(gvc, G);
    return RECUR_OK;
}

/* 1 if a route of s passes through the rectangle [x0, x1] x [y0, y1] (its Bezier curves sampled). */
static int route_through(const draw_scene *s, double x0, double x1, double y0, double y1)
{
    for (int e = 0; e < s->n_edges; e++) {
        const draw_edge *d = &s->edges[e];
        for (int k = 0; d->pts && k + 3 < d->n_pts; k += 3) {
            const double *p = &d->pts[2 * k];
            for (int q = 0; q <= 16; q++) {
                double x, y;
                recur_draw_bezier_point(p, q / 16.0, &x, &y);
                if (x >= x0 && x <= x1 && y >= y0 && y <= y1) return 1;
            }
        }
    }
    return 0;
}

/*
 * The x of a block's label in the band along its bottom: its centre, or the
 * nearest place right or left of it that no edge passes (an input rising
 * into the cell through the middle of the label).
 */
static double label_x(const draw_scene *s, const draw_item *b, double text_w)
{
    double y0 = b->y - b->h / 2, y1 = y0 + DRAW_LABEL_BAND;
    double room = (b->w - text_w) / 2 - 6;
    for (double step = 0; step <= room; step += 6)
        for (int side = 0; side < (step > 0 ? 2 : 1); side++) {
            double x = b->x + (side ? -step : step);
            if (!route_through(s, x - text_w / 2 - 3, x + text_w / 2 + 3, y0, y1)) return x;
        }
    return b->x;
}

void recur_draw_pin(Agraph_t *G, Agnode_t *const *nodes, int n_nodes, Agedge_t *const *edges, const draw_scene *s)
{
    agsafeset(G, "splines", "true", "");
    agsafeset(G, "layout", "nop2", "");
    for (int i = 0; i < s->n_items; i++) { /* the clusters' boxes: their blocks */
        const draw_item *b = &s->items[i];
        Agraph_t *sub = b->kind == DRAW_BLOCK ? agsubg(G, (char *)s->clusters[b->cluster].name, 0) : NULL;
        if (!sub) continue;
        char bb[96];
        snprintf(bb, sizeof bb, "%.1f,%.1f,%.1f,%.1f", b->x - b->w / 2, b->y - b->h / 2, b->x + b->w / 2, b->y + b->h / 2);
        agsafeset(sub, "bb", bb, "");
        agsafeset(sub, "labelloc", "b", "");
        const char *label = agget(sub, "label"), *size = agget(sub, "fontsize");
        double font = size && size[0] ? atof(size) : 11, text_w = label ? 0.6 * font * (double)strlen(label) : 0;
        char lp[64];
        snprintf(lp, sizeof lp, "%.1f,%.1f", label_x(s, b, text_w), b->y - b->h / 2 + DRAW_LABEL_BAND / 2.0);
        agsafeset(sub, "lp", lp, "");
    }
    for (int i = 0; i < n_nodes && i < s->n_items; i++) {
        if (!nodes[i]) continue;
        char pos[64];
        snprintf(pos, sizeof pos, "%.1f,%.1f!", s->items[i].x, s->items[i].y);
        agsafeset(nodes[i], "pos", pos, "");
    }
    for (int i = 0; i < s->n_edges; i++) {
        const draw_edge *d = &s->edges[i];
        char pos[1024];
        if (!edges[i]) continue;
        if (d->tailport[0]) agsafeset(edges[i], "tailport", (char *)d->tailport, "");
        if (d->headport[0]) agsafeset(edges[i], "headport", (char *)d->headport, "");
        if (recur_draw_edge_pos(d, pos, sizeof pos)) agsafeset(edges[i], "pos", pos, "");
    }
}
