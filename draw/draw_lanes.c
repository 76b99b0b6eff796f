/*
 * draw/draw_lanes.c — a rolled cell's state loops drawn round its boxes.
 *
 * At the internals level a rolled cell's boxes are laid out by dot
 * (draw_cluster.c) without its delays. Each state's loop (its next value,
 * the delay, the state as the step reads it) is then drawn here as the
 * textbooks draw it: out of the right side of the next value into a lane
 * of its own beside the boxes, down (or up) that lane to a lane below (or
 * above) them, and into the state from below, from above, or along its row
 * from a lane on the left. The delay sits on the loop: at the lower (upper)
 * right corner, or on the left lane beside the state. Loop j's lanes lie
 * 16 + 12 j points outside the boxes, so loops never run through the cell,
 * across its cell-state line or between its gates; they may cross each
 * other and the cell's input and output edges, at right angles, outside.
 * A loop whose every form would pass through a box is not drawn so, and
 * the caller lets dot lay its delays out instead.
 */
#include <math.h>
#include <stdlib.h>

#include "draw.h"

enum { LANE = 16, LANE_STEP = 12, CORNER = 6, ARROW = 7 /* arrowsize 0.7 */, CLEAR = 3, MAX_CORNERS = 6 };

typedef struct pt {
    double x, y;
} pt;

typedef struct rect {
    double x0, y0, x1, y1;
} rect;

static pt P(double x, double y) { return (pt){x, y}; }

static rect rect_of(const draw_item *it)
{
    return (rect){it->rx - it->w / 2, it->ry - it->h / 2, it->rx + it->w / 2, it->ry + it->h / 2};
}

static void grow(rect *b, double x, double y)
{
    if (x < b->x0) b->x0 = x;
    if (x > b->x1) b->x1 = x;
    if (y < b->y0) b->y0 = y;
    if (y > b->y1) b->y1 = y;
}

/* 1 if the axis-parallel segment p-q passes within CLEAR points of rect b. */
static int hits(pt p, pt q, rect b)
{
    double lx = fmin(p.x, q.x) - CLEAR, hx = fmax(p.x, q.x) + CLEAR;
    double ly = fmin(p.y, q.y) - CLEAR, hy = fmax(p.y, q.y) + CLEAR;
    return lx < b.x1 && hx > b.x0 && ly < b.y1 && hy > b.y0;
}

/* A loop's planned form: its corners from the next value's side to the state's, the delay at corner d. */
typedef struct plan {
    pt p[MAX_CORNERS];
    int n, d;
} plan;

/* 1 if no segment of the plan passes through a rect of the cell but its ends' (the first and last segment's). */
static int clear(const plan *f, const draw_scene *s, const int *box_items, int n_boxes, int from, int to)
{
    for (int k = 0; k + 1 < f->n; k++)
        for (int j = 0; j < n_boxes; j++) {
            int i = box_items[j];
            if ((k == 0 && i == from) || (k + 2 == f->n && i == to)) continue;
            if (hits(f->p[k], f->p[k + 1], rect_of(&s->items[i]))) return 0;
        }
    return 1;
}

/* 1 if the segments p-q and r-t cross. */
static int segments_cross(pt p, pt q, pt r, pt t)
{
    double d1 = (t.x - r.x) * (p.y - r.y) - (t.y - r.y) * (p.x - r.x);
    double d2 = (t.x - r.x) * (q.y - r.y) - (t.y - r.y) * (q.x - r.x);
    double d3 = (q.x - p.x) * (r.y - p.y) - (q.y - p.y) * (r.x - p.x);
    double d4 = (q.x - p.x) * (t.y - p.y) - (q.y - p.y) * (t.x - p.x);
    return (d1 > 0) != (d2 > 0) && (d3 > 0) != (d4 > 0);
}

/* How many of the cell's inner edges (dot's curves, sampled) the plan crosses. */
static int crossings(const plan *f, const draw_scene *s, int k)
{
    int n = 0;
    for (int e = 0; e < s->n_edges; e++) {
        const draw_edge *d = &s->edges[e];
        if (!d->pts || d->inner || s->items[d->from].cluster != k || s->items[d->to].cluster != k) continue;
        int hit = 0;
        for (int b = 0; b + 3 < d->n_pts && !hit; b += 3) {
            const double *c = &d->pts[2 * b];
            pt prev = P(c[0], c[1]);
            for (int q = 1; q <= 8 && !hit; q++) {
                pt at;
                recur_draw_bezier_point(c, q / 8.0, &at.x, &at.y);
                for (int j = 0; j + 1 < f->n && !hit; j++) hit = segments_cross(f->p[j], f->p[j + 1], prev, at);
                prev = at;
            }
        }
        n += hit;
    }
    return n;
}

/*
 * The Bezier points of the polyline q[0..n-1] with rounded corners, ending
 * ARROW points before q[n-1] (the arrow's tip, stored after the points).
 */
static recur_status polyline(draw_edge *e, const pt *q, int n)
{
    pt out[3 * 3 * MAX_CORNERS + 2];
    int m = 0;
    pt at = q[0];
    out[m++] = at;
    for (int k = 1; k < n; k++) {
        pt a = q[k - 1], b = q[k];
        double len = hypot(b.x - a.x, b.y - a.y);
        if (len <= 0) continue;
        pt dir = P((b.x - a.x) / len, (b.y - a.y) / len);
        /* The straight part ends CORNER before b (ARROW before the tip on the last). */
        double cut = k + 1 < n ? fmin(CORNER, len / 2) : fmin(ARROW, len);
        pt end = P(b.x - dir.x * cut, b.y - dir.y * cut);
        out[m++] = P(at.x + (end.x - at.x) / 3, at.y + (end.y - at.y) / 3);
        out[m++] = P(at.x + 2 * (end.x - at.x) / 3, at.y + 2 * (end.y - at.y) / 3);
        out[m++] = end;
        at = end;
        if (k + 1 < n) { /* round the corner at b towards the next segment */
            pt c = q[k + 1];
            double len2 = hypot(c.x - b.x, c.y - b.y);
            if (len2 <= 0) continue;
            pt dir2 = P((c.x - b.x) / len2, (c.y - b.y) / len2);
            double cut2 = fmin(CORNER, len2 / 2);
            pt after = P(b.x + dir2.x * cut2, b.y + dir2.y * cut2);
            out[m++] = P(at.x + dir.x * cut * 0.55, at.y + dir.y * cut * 0.55);
            out[m++] = P(after.x - dir2.x * cut2 * 0.55, after.y - dir2.y * cut2 * 0.55);
            out[m++] = after;
            at = after;
        }
    }
    free(e->pts);
    e->pts = malloc(sizeof *e->pts * 2 * (size_t)(m + 1));
    if (!e->pts) return RECUR_ERR_NOMEM;
    for (int k = 0; k < m; k++) e->pts[2 * k] = out[k].x, e->pts[2 * k + 1] = out[k].y;
    e->pts[2 * m] = q[n - 1].x, e->pts[2 * m + 1] = q[n - 1].y;
    e->n_pts = m;
    return RECUR_OK;
}

/*
 * Plans the loop of the j-th delay of cluster k (next value N, state S) in
 * the cell's bounds b: of the forms that pass no box, the one crossing the
 * fewest of the cell's edges, the most textbook-like of those; 0 if none.
 */
static int plan_loop(const draw_scene *s, int k, const int *box_items, int n_boxes, rect b, int j, int N, int S, plan *f)
{
    const draw_item *n = &s->items[N], *t = &s->items[S];
    double off = LANE + LANE_STEP * j;
    double xr = b.x1 + off, xl = b.x0 - off, yt = b.y1 + off, yb = b.y0 - off;
    pt out = P(n->rx + n->w / 2, n->ry), side = P(xr, n->ry);
    pt below = P(t->rx, t->ry - t->h / 2), above = P(t->rx, t->ry + t->h / 2), left = P(t->rx - t->w / 2, t->ry);
    int bottom_row = t->ry - t->h / 2 <= b.y0 + 1;
    /* The forms, most textbook-like first: into the state from below when it is in the bottom row. */
    plan forms[4] = {
        {{out, side, P(xr, yb), P(t->rx, yb), below}, 5, 2},                /* down the right, in from below */
        {{out, side, P(xr, yt), P(xl, yt), P(xl, t->ry), left}, 6, 4},      /* over the top, in from the left */
        {{out, side, P(xr, yt), P(t->rx, yt), above}, 5, 2},                /* up the right, in from above */
        {{out, side, P(xr, yb), P(xl, yb), P(xl, t->ry), left}, 6, 4},      /* under the bottom, in from the left */
    };
    /* Into the state from below first when it is in the bottom row, else last. */
    const int order[4] = {0, 1, 2, 3}, order_up[4] = {1, 2, 3, 0};
    const int *try = bottom_row ? order : order_up, n_try = 4;
    int best = -1, fewest = 0;
    for (int q = 0; q < n_try; q++) {
        const plan *form = &forms[try[q]];
        if (!clear(form, s, box_items, n_boxes, N, S)) continue;
        int n = crossings(form, s, k);
        if (best < 0 || n < fewest) best = try[q], fewest = n;
    }
    if (best >= 0) *f = forms[best];
    return best >= 0;
}

/* The state edge into delay D (in) and out of it (out); -1 if none. */
static void loop_edges(const draw_scene *s, int D, int *in, int *out)
{
    *in = *out = -1;
    for (int e = 0; e < s->n_edges; e++) {
        const draw_edge *d = &s->edges[e];
        if (d->kind != DRAW_E_STATE) continue;
        if (d->to == D && *in < 0) *in = e;
        if (d->from == D && *out < 0) *out = e;
    }
}

/* A point one half of the delay's side from its centre c, towards p. */
static pt delay_side(pt c, pt p, double half)
{
    double dx = p.x - c.x, dy = p.y - c.y;
    if (fabs(dx) >= fabs(dy)) return P(c.x + (dx > 0 ? half : -half), c.y);
    return P(c.x, c.y + (dy > 0 ? half : -half));
}

int recur_draw_lanes(draw_scene *s, int k)
{
    int *box_items = malloc(sizeof *box_items * ((size_t)s->n_items + 1));
    int *delays = malloc(sizeof *delays * ((size_t)s->n_items + 1));
    plan *plans = malloc(sizeof *plans * ((size_t)s->n_items + 1));
    int *ins = malloc(sizeof *ins * 2 * ((size_t)s->n_items + 1));
    if (!box_items || !delays || !plans || !ins) {
        free(box_items), free(delays), free(plans), free(ins);
        s->st = RECUR_ERR_NOMEM;
        return 0;
    }
    int n_boxes = 0, n_delays = 0;
    rect b = {INFINITY, INFINITY, -INFINITY, -INFINITY};
    for (int i = 0; i < s->n_items; i++) {
        const draw_item *it = &s->items[i];
        if (it->cluster != k || it->dropped || it->kind == DRAW_BLOCK) continue;
        if (it->kind == DRAW_DELAY) {
            delays[n_delays++] = i;
            continue;
        }
        box_items[n_boxes++] = i;
        rect a = rect_of(it);
        grow(&b, a.x0, a.y0), grow(&b, a.x1, a.y1);
    }
    /* dot's curves between the cell's boxes lie within the lanes too. */
    for (int e = 0; e < s->n_edges; e++) {
        const draw_edge *d = &s->edges[e];
        if (!d->pts || s->items[d->from].cluster != k || s->items[d->to].cluster != k) continue;
        for (int p = 0; p <= d->n_pts; p++) grow(&b, d->pts[2 * p], d->pts[2 * p + 1]);
    }
    int ok = n_boxes > 0;
    for (int j = 0; j < n_delays && ok; j++) {
        int *in = &ins[2 * j], *out = &ins[2 * j + 1];
        loop_edges(s, delays[j], in, out);
        ok = *in >= 0 && *out >= 0 && s->items[s->edges[*in].from].cluster == k &&
             s->items[s->edges[*out].to].cluster == k &&
             plan_loop(s, k, box_items, n_boxes, b, j, s->edges[*in].from, s->edges[*out].to, &plans[j]);
    }
    for (int j = 0; j < n_delays && ok; j++) { /* all planned: place the delays, draw the loops */
        draw_item *D = &s->items[delays[j]];
        const plan *f = &plans[j];
        pt c = f->p[f->d];
        D->rx = c.x, D->ry = c.y;
        pt to_d[MAX_CORNERS], from_d[MAX_CORNERS];
        int n_to = 0, n_from = 0;
        for (int q = 0; q < f->d; q++) to_d[n_to++] = f->p[q];
        to_d[n_to] = delay_side(c, f->p[f->d - 1], D->h / 2), n_to++;
        from_d[n_from++] = delay_side(c, f->p[f->d + 1], D->h / 2);
        for (int q = f->d + 1; q < f->n; q++) from_d[n_from++] = f->p[q];
        draw_edge *in = &s->edges[ins[2 * j]], *out = &s->edges[ins[2 * j + 1]];
        if (polyline(in, to_d, n_to) != RECUR_OK || polyline(out, from_d, n_from) != RECUR_OK) {
            s->st = RECUR_ERR_NOMEM;
            ok = 0;
        }
    }
    free(box_items), free(delays), free(plans), free(ins);
    return ok;
}
