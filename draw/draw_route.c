/*
 * draw/draw_route.c — the edges of the pinned layout, routed on its grid.
 *
 * An edge is a smooth curve through a few waypoints (a cubic Hermite
 * spline, written as Graphviz's Bezier points):
 *   its ends at the ports the layout chose (leaving and entering along the
 *   port's normal: a value rises out of the top of a box into the bottom
 *   of the next) or, without a port, where the line between the centres
 *   meets each box;
 *   straight when that line passes no other box; otherwise through a
 *   corridor beside the boxes in the way: a vertical one left or right of
 *   them for an edge between layers, a horizontal one above or below them
 *   for an edge along a layer, the nearest that is free;
 *   the rolled view's delay loop as two arches, out of the cell's top
 *   corner into the delay and back under it;
 *   when no corridor is free (an edge out of the middle of a dense
 *   cluster), the shortest path on a grid around the boxes.
 * Every candidate curve is sampled and kept only if it passes no box it
 * does not join (CLEAR points of room), so no edge crosses a box; if none
 * is free the straight line is kept. Graphviz (nop2) then draws the
 * curves as given: its own router takes minutes on a few hundred boxes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"

enum { ARROW = 7 /* arrowsize 0.7 */, MARGIN = 4, MAX_PTS = 8, SAMPLES = 12 };

typedef struct pt {
    double x, y;
} pt;

static pt P(double x, double y) { return (pt){x, y}; }

static int round_kind(const draw_item *it)
{
    return it->kind == DRAW_INIT || it->kind == DRAW_ATTN || it->kind == DRAW_GLYPH ||
           (it->kind == DRAW_JOIN && strlen(it->label) <= 2);
}

/* Where the line from the centre of `it` towards q leaves it. */
static pt clip(const draw_item *it, pt q)
{
    double dx = q.x - it->x, dy = q.y - it->y, a = it->w / 2, b = it->h / 2;
    if (fabs(dx) < 1e-9 && fabs(dy) < 1e-9) return P(it->x, it->y + b);
    double t;
    if (round_kind(it)) {
        t = 1.0 / sqrt(dx * dx / (a * a) + dy * dy / (b * b));
    } else {
        double tx = fabs(dx) > 1e-9 ? a / fabs(dx) : INFINITY, ty = fabs(dy) > 1e-9 ? b / fabs(dy) : INFINITY;
        t = tx < ty ? tx : ty;
    }
    return P(it->x + t * dx, it->y + t * dy);
}

/* The point of compass port `port` on `it` and the outward normal there. */
static pt port_point(const draw_item *it, const char *port, pt *normal)
{
    double a = it->w / 2, b = it->h / 2, inset = it->kind == DRAW_CELL || it->kind == DRAW_GRAD ? 10 : 0;
    int n = strchr(port, 'n') != NULL, s = strchr(port, 's') != NULL;
    int e = strchr(port, 'e') != NULL, w = strchr(port, 'w') != NULL;
    double dx = e ? 1 : w ? -1 : 0, dy = n ? 1 : s ? -1 : 0;
    *normal = P(dx, dy);
    if (dx != 0 && dy != 0) { /* a corner: on the top or bottom edge, clear of a rounded corner */
        *normal = P(0, dy);
        return P(it->x + dx * (a - inset), it->y + dy * b);
    }
    return P(it->x + dx * a, it->y + dy * b);
}

/* 1 if q lies within `it` grown by m points. */
static int inside(const draw_item *it, pt q, double m)
{
    return fabs(q.x - it->x) < it->w / 2 + m && fabs(q.y - it->y) < it->h / 2 + m;
}

/* The Bezier points of the Hermite spline through w[0..n) with end tangents t0, t1. */
static int spline(const pt *w, int n, pt t0, pt t1, pt *out)
{
    int k = 0;
    for (int i = 0; i + 1 < n; i++) {
        pt ta = i == 0 ? t0 : P((w[i + 1].x - w[i - 1].x) / 2, (w[i + 1].y - w[i - 1].y) / 2);
        pt tb = i + 2 == n ? t1 : P((w[i + 2].x - w[i].x) / 2, (w[i + 2].y - w[i].y) / 2);
        if (i == 0) out[k++] = w[0];
        out[k++] = P(w[i].x + ta.x / 3, w[i].y + ta.y / 3);
        out[k++] = P(w[i + 1].x - tb.x / 3, w[i + 1].y - tb.y / 3);
        out[k++] = w[i + 1];
    }
    return k;
}

void recur_draw_bezier_point(const double *p, double t, double *x, double *y)
{
    double u = 1 - t, b0 = u * u * u, b1 = 3 * u * u * t, b2 = 3 * u * t * t, b3 = t * t * t;
    *x = b0 * p[0] + b1 * p[2] + b2 * p[4] + b3 * p[6];
    *y = b0 * p[1] + b1 * p[3] + b2 * p[5] + b3 * p[7];
}

static pt bez_point(const pt *b, double t)
{
    const double p[8] = {b[0].x, b[0].y, b[1].x, b[1].y, b[2].x, b[2].y, b[3].x, b[3].y};
    pt q;
    recur_draw_bezier_point(p, t, &q.x, &q.y);
    return q;
}

/* The box the curve b[0..n) passes through other than a and z (or -1), sampled SAMPLES times a piece. */
/*
 * 1 if item j is in the way of an edge from item a to item z: every box but
 * theirs, and the block of a cluster neither end is in (an edge between two
 * other places goes round a cell, not through it between its boxes).
 */
static int obstacle(const draw_scene *s, int j, int a, int z)
{
    const draw_item *it = &s->items[j];
    if (j == a || j == z || it->dropped || it->kind == DRAW_NOTE) return 0;
    return it->kind != DRAW_BLOCK || (s->items[a].member != j + 1 && s->items[z].member != j + 1);
}

static int blocked(const draw_scene *s, const pt *b, int n, int a, int z)
{
    for (int i = 0; i + 3 < n; i += 3)
        for (int k = 0; k <= SAMPLES; k++) {
            pt q = bez_point(b + i, (double)k / SAMPLES);
            for (int j = 0; j < s->n_items; j++)
                if (obstacle(s, j, a, z) && inside(&s->items[j], q, MARGIN)) return j;
        }
    return -1;
}

/* Lengths and directions. */
static double len(pt v) { return sqrt(v.x * v.x + v.y * v.y); }

static pt scale(pt v, double k) { return P(v.x * k, v.y * k); }

/*
 * A candidate route through waypoints mid[0..n_mid) from tail point p0 to
 * head point p1 (the arrow's tip), leaving along n0 and arriving along n1
 * (into the head). Writes the Bezier points (ending at the arrow's base);
 * returns their count, or 0 if the curve passes a box.
 */
static int try_route(const draw_scene *s, const draw_edge *e, pt p0, pt n0, pt p1, pt n1, const pt *mid, int n_mid,
                     pt *out)
{
    pt w[MAX_PTS];
    int n = 0;
    w[n++] = p0;
    for (int i = 0; i < n_mid; i++) w[n++] = mid[i];
    /* The curve ends ARROW points before the tip, arriving along n1. */
    double l = len(n1);
    pt base = l > 0 ? P(p1.x - n1.x / l * ARROW, p1.y - n1.y / l * ARROW) : p1;
    w[n++] = base;
    /* End tangents along the ports' normals, as long as the first and last legs (at most 40 points). */
    double k0 = len(P(w[1].x - w[0].x, w[1].y - w[0].y)), k1 = len(P(w[n - 1].x - w[n - 2].x, w[n - 1].y - w[n - 2].y));
    if (k0 > 40) k0 = 40;
    if (k1 > 40) k1 = 40;
    pt t0 = scale(n0, k0 / (len(n0) > 0 ? len(n0) : 1)), t1 = scale(n1, k1 / (l > 0 ? l : 1));
    int m = spline(w, n, t0, t1, out);
    return blocked(s, out, m, e->from, e->to) < 0 ? m : 0;
}

/* The vertical extent a box occupies, for corridors. */
static double top_of(const draw_item *it) { return it->y + it->h / 2; }

static double bottom_of(const draw_item *it) { return it->y - it->h / 2; }


/* --------------------------------------------------- the grid, last resort */

/*
 * When no corridor is free (an edge leaving the middle of a dense cluster),
 * a shortest path on a grid of GRID-point cells around every box (A*,
 * eight directions), shortened to the points that see each other, drawn
 * smooth if that stays clear, else as straight segments.
 */
enum { GRID = 4 };

typedef struct grid {
    int w, h;
    double x0, y0;
    int32_t *wall;    /* 1: inside a box (grown by MARGIN - 2); 2 + j: inside block j between its boxes */
    int32_t open_a, open_z; /* the route being made may cross these walls (its ends' blocks' 2 + j), else 0 */
} grid;

static int grid_make(const draw_scene *s, grid *gr)
{
    double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
    for (int i = 0; i < s->n_items; i++) {
        const draw_item *it = &s->items[i];
        if (it->dropped || it->kind == DRAW_NOTE || it->kind == DRAW_BLOCK) continue;
        if (it->x - it->w / 2 < x0) x0 = it->x - it->w / 2;
        if (it->y - it->h / 2 < y0) y0 = it->y - it->h / 2;
        if (it->x + it->w / 2 > x1) x1 = it->x + it->w / 2;
        if (it->y + it->h / 2 > y1) y1 = it->y + it->h / 2;
    }
    gr->x0 = x0 - 60, gr->y0 = y0 - 60;
    gr->w = (int)((x1 - x0 + 120) / GRID) + 1, gr->h = (int)((y1 - y0 + 120) / GRID) + 1;
    if (gr->w < 1 || gr->h < 1 || (double)gr->w * gr->h > 4e6) return 0;
    gr->wall = calloc((size_t)gr->w * (size_t)gr->h, sizeof *gr->wall);
    if (!gr->wall) return 0;
    for (int i = 0; i < s->n_items; i++) { /* the blocks first: their boxes go over them */
        const draw_item *it = &s->items[i];
        if (it->dropped || it->kind != DRAW_BLOCK) continue;
        int cx0 = (int)floor((it->x - it->w / 2 - gr->x0) / GRID), cx1 = (int)floor((it->x + it->w / 2 - gr->x0) / GRID);
        int cy0 = (int)floor((it->y - it->h / 2 - gr->y0) / GRID), cy1 = (int)floor((it->y + it->h / 2 - gr->y0) / GRID);
        for (int y = cy0 < 0 ? 0 : cy0; y <= cy1 && y < gr->h; y++)
            for (int x = cx0 < 0 ? 0 : cx0; x <= cx1 && x < gr->w; x++) gr->wall[(size_t)y * (size_t)gr->w + (size_t)x] = 2 + i;
    }
    for (int i = 0; i < s->n_items; i++) {
        const draw_item *it = &s->items[i];
        if (it->dropped || it->kind == DRAW_NOTE || it->kind == DRAW_BLOCK) continue;
        double m = MARGIN - 2; /* tight: dot packs a cluster's boxes 14 points apart */
        int cx0 = (int)floor((it->x - it->w / 2 - m - gr->x0) / GRID), cx1 = (int)floor((it->x + it->w / 2 + m - gr->x0) / GRID);
        int cy0 = (int)floor((it->y - it->h / 2 - m - gr->y0) / GRID), cy1 = (int)floor((it->y + it->h / 2 + m - gr->y0) / GRID);
        for (int y = cy0 < 0 ? 0 : cy0; y <= cy1 && y < gr->h; y++)
            for (int x = cx0 < 0 ? 0 : cx0; x <= cx1 && x < gr->w; x++) gr->wall[(size_t)y * (size_t)gr->w + (size_t)x] = 1;
    }
    return 1;
}

static int cell_of(const grid *gr, pt p, int *x, int *y)
{
    *x = (int)floor((p.x - gr->x0) / GRID), *y = (int)floor((p.y - gr->y0) / GRID);
    return *x >= 0 && *y >= 0 && *x < gr->w && *y < gr->h;
}

static pt centre_of(const grid *gr, int c) { return P(gr->x0 + (c % gr->w + 0.5) * GRID, gr->y0 + (c / gr->w + 0.5) * GRID); }

/* 1 if a route may not pass a cell of this wall value: a box, or a block its ends are not in. */
static int shut(const grid *gr, int32_t w) { return w == 1 || (w >= 2 && w != gr->open_a && w != gr->open_z); }

/* 1 if the straight segment a-b crosses no wall cell. */
static int sees(const grid *gr, pt a, pt b)
{
    double d = len(P(b.x - a.x, b.y - a.y));
    int steps = (int)(d / (GRID / 2.0)) + 1;
    for (int k = 0; k <= steps; k++) {
        int x, y;
        pt q = P(a.x + (b.x - a.x) * k / steps, a.y + (b.y - a.y) * k / steps);
        if (!cell_of(gr, q, &x, &y) || shut(gr, gr->wall[(size_t)y * (size_t)gr->w + (size_t)x])) return 0;
    }
    return 1;
}

/* A*, from cell `from` to cell `to`: the path's cells into path (to first), their count; 0 if none. */
static int astar(const grid *gr, int from, int to, int *path, int cap)
{
    size_t n = (size_t)gr->w * (size_t)gr->h;
    float *cost = malloc(sizeof *cost * n);
    int *prev = malloc(sizeof *prev * n), *heap = malloc(sizeof *heap * n);
    float *key = malloc(sizeof *key * n);
    char *done = calloc(n, 1);
    int found = 0, hn = 0;
    if (!cost || !prev || !heap || !key || !done) goto out;
    for (size_t i = 0; i < n; i++) cost[i] = INFINITY;
    int tx = to % gr->w, ty = to / gr->w;
    cost[from] = 0, prev[from] = -1, heap[hn++] = from, key[from] = 0;
    while (hn > 0) {
        int c = heap[0];
        heap[0] = heap[--hn];
        for (int i = 0;;) { /* sift down */
            int l = 2 * i + 1, r = l + 1, m = i;
            if (l < hn && key[heap[l]] < key[heap[m]]) m = l;
            if (r < hn && key[heap[r]] < key[heap[m]]) m = r;
            if (m == i) break;
            int t = heap[i];
            heap[i] = heap[m], heap[m] = t, i = m;
        }
        if (done[c]) continue;
        done[c] = 1;
        if (c == to) {
            found = 1;
            break;
        }
        int x = c % gr->w, y = c / gr->w;
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                int nx = x + dx, ny = y + dy;
                if ((!dx && !dy) || nx < 0 || ny < 0 || nx >= gr->w || ny >= gr->h) continue;
                int nc = ny * gr->w + nx;
                if (done[nc] || (shut(gr, gr->wall[nc]) && nc != to)) continue;
                float step = dx && dy ? 1.4142f : 1.0f, cnew = cost[c] + step;
                if (cnew >= cost[nc] || hn >= (int)n) continue;
                cost[nc] = cnew, prev[nc] = c;
                float hx = (float)abs(nx - tx), hy = (float)abs(ny - ty);
                key[nc] = cnew + (hx > hy ? hx + 0.4142f * hy : hy + 0.4142f * hx);
                heap[hn] = nc; /* sift up */
                for (int i = hn++; i > 0 && key[heap[(i - 1) / 2]] > key[heap[i]]; i = (i - 1) / 2) {
                    int t = heap[i];
                    heap[i] = heap[(i - 1) / 2], heap[(i - 1) / 2] = t;
                }
            }
    }
    int k = 0;
    if (found)
        for (int c = to; c >= 0 && k < cap; c = prev[c]) path[k++] = c;
    if (k >= cap) k = 0;
out:
    free(cost), free(prev), free(heap), free(key), free(done);
    return found ? k : 0;
}

/* The grid's route from p0 (leaving along n0) to p1 (arriving along n1) into out; its point count, 0 if none. */
static int grid_route(const draw_scene *s, const draw_edge *e, grid *gr, pt p0, pt n0, pt p1, pt n1, pt *out, int cap)
{
    if (!gr->wall && !grid_make(s, gr)) return 0;
    double l0 = len(n0) > 0 ? len(n0) : 1, l1 = len(n1) > 0 ? len(n1) : 1;
    pt a = P(p0.x + n0.x / l0 * (MARGIN + GRID), p0.y + n0.y / l0 * (MARGIN + GRID));
    pt z = P(p1.x - n1.x / l1 * (ARROW + MARGIN + GRID), p1.y - n1.y / l1 * (ARROW + MARGIN + GRID));
    int ax, ay, zx, zy;
    if (!cell_of(gr, a, &ax, &ay) || !cell_of(gr, z, &zx, &zy)) return 0;
    int from = ay * gr->w + ax, to = zy * gr->w + zx, cap_path = gr->w * 4 + gr->h * 4;
    int32_t wall_from = gr->wall[from], wall_to = gr->wall[to];
    /* It may cross the blocks its ends are in (between their boxes), not another cell. */
    gr->open_a = s->items[e->from].member ? 1 + s->items[e->from].member : 0;
    gr->open_z = s->items[e->to].member ? 1 + s->items[e->to].member : 0;
    gr->wall[from] = gr->wall[to] = 0; /* the ends lie just outside their boxes */
    int *path = malloc(sizeof *path * (size_t)cap_path);
    int k = path ? astar(gr, from, to, path, cap_path) : 0;
    gr->wall[from] = wall_from, gr->wall[to] = wall_to;
    if (k < 1) {
        free(path);
        return 0;
    }
    /* The path's corners that see each other, from a to z (path runs z first). */
    pt w[MAX_PTS * 4];
    int n = 0;
    w[n++] = p0;
    w[n++] = a;
    int at = k - 1;
    while (at > 0 && n < MAX_PTS * 4 - 3) {
        int next = at - 1;
        for (int j = 0; j < at; j++)
            if (sees(gr, centre_of(gr, path[at]), centre_of(gr, path[j]))) {
                next = j;
                break;
            }
        w[n++] = centre_of(gr, path[next]);
        at = next;
    }
    free(path);
    w[n - 1] = z; /* the last corner is z's cell: z itself */
    pt base = P(p1.x - n1.x / l1 * ARROW, p1.y - n1.y / l1 * ARROW);
    w[n++] = base;
    /* Smooth if that stays clear, else straight segments. */
    int m = n * 3 - 2 <= cap ? spline(w, n, scale(n0, 20 / l0), scale(n1, 20 / l1), out) : 0;
    if (m && blocked(s, out, m, e->from, e->to) < 0) return m;
    if ((n - 1) * 3 + 1 > cap) return 0;
    m = 0;
    out[m++] = w[0];
    for (int i = 0; i + 1 < n; i++) {
        out[m++] = P(w[i].x + (w[i + 1].x - w[i].x) / 3, w[i].y + (w[i + 1].y - w[i].y) / 3);
        out[m++] = P(w[i].x + 2 * (w[i + 1].x - w[i].x) / 3, w[i].y + 2 * (w[i + 1].y - w[i].y) / 3);
        out[m++] = w[i + 1];
    }
    return m;
}

/* Routes edge i; fills its points. */
static void route(draw_scene *s, int i, grid *gr)
{
    draw_edge *e = &s->edges[i];
    const draw_item *a = &s->items[e->from], *b = &s->items[e->to];
    pt n0, n1, p0, p1, out[3 * 4 * MAX_PTS + 1], mid[4];
    /* The ends. */
    if (e->tailport[0]) {
        p0 = port_point(a, e->tailport, &n0);
    } else {
        p0 = clip(a, P(b->x, b->y));
        n0 = P(b->x - a->x, b->y - a->y);
    }
    if (e->headport[0]) {
        pt out_normal;
        p1 = port_point(b, e->headport, &out_normal);
        n1 = P(-out_normal.x, -out_normal.y);
    } else {
        p1 = clip(b, P(a->x, a->y));
        n1 = P(b->x - a->x, b->y - a->y);
    }
    int m = 0;
    if (a->kind == DRAW_DELAY || b->kind == DRAW_DELAY) {
        /* The rolled view's loop: an arch over (cell to delay) or under (delay to cell). */
        double lift = b->kind == DRAW_DELAY ? 26 : -26;
        n0 = P(0, lift), n1 = P(0, -lift);
        pt t0 = P(0, 3 * lift), t1 = P(0, -3 * lift), w[2] = {p0, P(p1.x, p1.y - (lift > 0 ? -ARROW : ARROW))};
        m = spline(w, 2, t0, t1, out);
    }
    if (!m) m = try_route(s, e, p0, n0, p1, n1, NULL, 0, out);
    if (!m && !e->tailport[0] && !e->headport[0] && fabs(a->y - b->y) > 1.0) {
        /* Out of the top of the lower box into the bottom of the upper one (or down), straight. */
        const char *up = b->y > a->y ? "n" : "s", *down = b->y > a->y ? "s" : "n";
        pt q0, q1, k0, k1;
        q0 = port_point(a, up, &k0);
        q1 = port_point(b, down, &k1);
        /* Into a wide box where it lies above (or below) the tail, so that a fan of edges keeps apart. */
        double half = b->w / 2 - 8 > 0 ? b->w / 2 - 8 : 0;
        q1.x = a->x < b->x - half ? b->x - half : a->x > b->x + half ? b->x + half : a->x;
        m = try_route(s, e, q0, k0, q1, P(-k1.x, -k1.y), NULL, 0, out);
        if (m) p0 = q0, p1 = q1;
    }
    /* Corridors: beside the boxes in the way, nearest first. */
    int flat = fabs(a->y - b->y) < 1.0;
    for (int attempt = 0; !m && attempt < 6; attempt++) {
        /* The boxes the straight line passes: their extent across the corridor and along it. */
        double lo = INFINITY, hi = -INFINITY, from = INFINITY, to = -INFINITY;
        pt line[4] = {p0, P(p0.x + (p1.x - p0.x) / 3, p0.y + (p1.y - p0.y) / 3),
                      P(p0.x + 2 * (p1.x - p0.x) / 3, p0.y + 2 * (p1.y - p0.y) / 3), p1};
        for (int j = 0; j < s->n_items; j++) {
            const draw_item *it = &s->items[j];
            if (!obstacle(s, j, e->from, e->to)) continue;
            int hit = 0;
            for (int k = 0; k <= 4 * SAMPLES && !hit; k++)
                hit = inside(it, bez_point(line, (double)k / (4 * SAMPLES)), MARGIN + 6 * attempt);
            if (!hit) continue;
            double l = flat ? bottom_of(it) : it->x - it->w / 2, h = flat ? top_of(it) : it->x + it->w / 2;
            double f = flat ? it->x - it->w / 2 : bottom_of(it), t = flat ? it->x + it->w / 2 : top_of(it);
            if (l < lo) lo = l;
            if (h > hi) hi = h;
            if (f < from) from = f;
            if (t > to) to = t;
        }
        if (lo > hi) break; /* nothing in the way: the straight line failed near its ends */
        double gap = 12 + 6 * attempt;
        double sides[2] = {lo - gap, hi + gap};
        double centre = flat ? (p0.y + p1.y) / 2 : (p0.x + p1.x) / 2;
        int first = fabs(sides[0] - centre) <= fabs(sides[1] - centre) ? 0 : 1;
        /* Along the corridor from just before the first box in the way to just after the last. */
        double along0 = flat ? p0.x : p0.y, along1 = flat ? p1.x : p1.y;
        double a0 = along0 < along1 ? from - gap / 2 : to + gap / 2, a1 = along0 < along1 ? to + gap / 2 : from - gap / 2;
        /* ... but never back past the ends. */
        double amin = along0 < along1 ? along0 : along1, amax = along0 < along1 ? along1 : along0, pad = (amax - amin) / 8;
        a0 = a0 < amin + pad ? amin + pad : a0 > amax - pad ? amax - pad : a0;
        a1 = a1 < amin + pad ? amin + pad : a1 > amax - pad ? amax - pad : a1;
        for (int k = 0; k < 2 && !m; k++) {
            double c = sides[k ? 1 - first : first];
            mid[0] = flat ? P(a0, c) : P(c, a0);
            mid[1] = flat ? P(a1, c) : P(c, a1);
            /* An end without a port leaves (or enters) its box towards the corridor. */
            pt q0 = p0, k0 = n0, q1 = p1, k1 = n1;
            if (!e->tailport[0]) q0 = clip(a, mid[0]), k0 = P(mid[0].x - a->x, mid[0].y - a->y);
            if (!e->headport[0]) q1 = clip(b, mid[1]), k1 = P(b->x - mid[1].x, b->y - mid[1].y);
            m = try_route(s, e, q0, k0, q1, k1, mid, 2, out);
            if (m) p1 = q1; /* the arrow's tip */
        }
    }
    if (!m) { /* the grid */
        pt q0 = p0, k0 = n0, q1 = p1, k1 = n1;
        if (!e->tailport[0]) k0 = P(b->x - a->x, b->y - a->y), q0 = clip(a, P(b->x, b->y));
        if (!e->headport[0]) k1 = P(b->x - a->x, b->y - a->y), q1 = clip(b, P(a->x, a->y));
        m = grid_route(s, e, gr, q0, k0, q1, k1, out, (int)(sizeof out / sizeof out[0]));
        /* The side of the head facing the tail may be shut by a box beside it: into another side. */
        static const char *const sides[4] = {"s", "n", "w", "e"};
        for (int k = 0; !m && !e->headport[0] && k < 4; k++) {
            pt normal;
            q1 = port_point(b, sides[k], &normal);
            k1 = P(-normal.x, -normal.y);
            m = grid_route(s, e, gr, q0, k0, q1, k1, out, (int)(sizeof out / sizeof out[0]));
        }
        if (m) p1 = q1;
    }
    if (!m) { /* nothing free: the straight line, crossing what it must */
        pt w[2] = {p0, P(p1.x - n1.x / (len(n1) > 0 ? len(n1) : 1) * ARROW, p1.y - n1.y / (len(n1) > 0 ? len(n1) : 1) * ARROW)};
        m = spline(w, 2, P(w[1].x - w[0].x, w[1].y - w[0].y), P(w[1].x - w[0].x, w[1].y - w[0].y), out);
    }
    e->n_pts = m;
    e->pts = malloc(sizeof *e->pts * 2 * (size_t)(m + 1));
    if (!e->pts) {
        s->st = RECUR_ERR_NOMEM;
        return;
    }
    for (int k = 0; k < m; k++) e->pts[2 * k] = out[k].x, e->pts[2 * k + 1] = out[k].y;
    e->pts[2 * m] = p1.x, e->pts[2 * m + 1] = p1.y; /* the arrow's tip */
}

recur_status recur_draw_route(draw_scene *s)
{
    grid gr = {0};
    for (int i = 0; i < s->n_edges && s->st == RECUR_OK; i++) {
        draw_edge *e = &s->edges[i];
        if (e->kind == DRAW_E_INVIS || s->items[e->from].dropped || s->items[e->to].dropped) continue;
        if (e->inner) { /* routed by its cluster's dot layout: moved with its block */
            const draw_item *b = &s->items[e->inner - 1];
            for (int k = 0; k <= e->n_pts; k++) e->pts[2 * k] += b->x, e->pts[2 * k + 1] += b->y;
            e->inner = 0;
            continue;
        }
        route(s, i, &gr);
    }
    free(gr.wall);
    return s->st;
}

/* Graphviz's "pos" of a routed edge: "e,<tip> <Bezier points>". */
int recur_draw_edge_pos(const draw_edge *e, char *buf, size_t n)
{
    if (!e->pts || e->n_pts < 4) return 0;
    size_t used = (size_t)snprintf(buf, n, "e,%.1f,%.1f", e->pts[2 * e->n_pts], e->pts[2 * e->n_pts + 1]);
    for (int k = 0; k < e->n_pts && used < n; k++)
        used += (size_t)snprintf(buf + used, n - used, " %.1f,%.1f", e->pts[2 * k], e->pts[2 * k + 1]);
    return used < n;
}
