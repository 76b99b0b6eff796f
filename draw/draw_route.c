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
 *   corner into the delay and back under it.
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

static pt bez_point(const pt *b, double t)
{
    double u = 1 - t;
    return P(u * u * u * b[0].x + 3 * u * u * t * b[1].x + 3 * u * t * t * b[2].x + t * t * t * b[3].x,
             u * u * u * b[0].y + 3 * u * u * t * b[1].y + 3 * u * t * t * b[2].y + t * t * t * b[3].y);
}

/* The box the curve b[0..n) passes through other than a and z (or -1), sampled SAMPLES times a piece. */
static int blocked(const draw_scene *s, const pt *b, int n, int a, int z)
{
    for (int i = 0; i + 3 < n; i += 3)
        for (int k = 0; k <= SAMPLES; k++) {
            pt q = bez_point(b + i, (double)k / SAMPLES);
            for (int j = 0; j < s->n_items; j++) {
                const draw_item *it = &s->items[j];
                if (j == a || j == z || it->dropped || it->kind == DRAW_NOTE || it->kind == DRAW_BLOCK) continue;
                if (inside(it, q, MARGIN)) return j;
            }
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

/* Routes edge i; fills its points. */
static void route(draw_scene *s, int i)
{
    draw_edge *e = &s->edges[i];
    const draw_item *a = &s->items[e->from], *b = &s->items[e->to];
    pt n0, n1, p0, p1, out[3 * MAX_PTS + 1], mid[4];
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
            if (j == e->from || j == e->to || it->dropped || it->kind == DRAW_NOTE || it->kind == DRAW_BLOCK) continue;
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
    for (int i = 0; i < s->n_edges && s->st == RECUR_OK; i++) {
        draw_edge *e = &s->edges[i];
        if (e->kind == DRAW_E_INVIS || s->items[e->from].dropped || s->items[e->to].dropped) continue;
        if (e->inner) { /* routed by its cluster's dot layout: moved with its block */
            const draw_item *b = &s->items[e->inner - 1];
            for (int k = 0; k <= e->n_pts; k++) e->pts[2 * k] += b->x, e->pts[2 * k + 1] += b->y;
            e->inner = 0;
            continue;
        }
        route(s, i);
    }
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
