/*
 * draw/draw_extras.c — what a figure may carry besides the network: the
 * legend of its edge styles and a highlighted path through time.
 *
 * The legend is one box (a Graphviz HTML table): a short sample of each
 * edge style the figure uses, drawn in that style, beside what it means.
 * It is drawn when the figure uses more than one line style (solid,
 * dashed, dotted), or always or never as opts->legend says.
 *
 * The highlighted path (RECUR_HIGHLIGHT_TIME_PATH) runs along the top row
 * of cells: forwards from the first step's input through each state edge
 * to the last step's output; in the backward view from the loss into the
 * last step's gradient cell and back against time to the first step.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"

/* What each edge kind means, its line style, colour and width (as draw_scene.c draws it). */
static const struct {
    const char *meaning, *style, *color;
    int width;
} legend_of[DRAW_E_KIND_COUNT] = {
    [DRAW_E_DATA] = {"a value", "solid", "black", 1},
    [DRAW_E_STATE] = {"the state, to the next step", "solid", "black", 2},
    [DRAW_E_EXPORT] = {"a final state passed on (the context)", "dashed", "black", 1},
    [DRAW_E_CAPTURE] = {"a value read at every step", "dotted", "#777777", 1},
    [DRAW_E_FEEDBACK] = {"an output fed back as the next input", "dashed", "#666666", 1},
    [DRAW_E_SKIP] = {"a residual connection", "solid", "#2e7d32", 2},
    [DRAW_E_GRAD] = {"a gradient", "solid", "#c00000", 1},
    [DRAW_E_ATTENTION] = {"attention reading the memory", "dotted", "#7b4fa0", 2},
};

/* Appends printf-style text to buf (of size len). */
static void append(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used + 1 >= len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

/* The legend's cells for one style sample and its meaning. */
static void entry(char *buf, size_t len, const char *style, const char *color, int width, const char *meaning)
{
    append(buf, len,
           "<TD WIDTH=\"30\" HEIGHT=\"10\" SIDES=\"B\" BORDER=\"%d\" STYLE=\"%s\" COLOR=\"%s\"></TD>"
           "<TD ALIGN=\"LEFT\">%s</TD><TD WIDTH=\"10\"></TD>",
           width, style, color, meaning);
}

static void legend(draw_scene *s)
{
    int used[DRAW_E_KIND_COUNT] = {0}, styles = 0, highlight = 0;
    for (int i = 0; i < s->n_edges; i++) {
        used[s->edges[i].kind] = 1;
        highlight |= s->edges[i].highlight;
    }
    int solid = 0, dashed = 0, dotted = 0;
    for (int k = 0; k < DRAW_E_KIND_COUNT; k++) {
        if (!used[k] || k == DRAW_E_INVIS) continue;
        solid |= strcmp(legend_of[k].style, "solid") == 0;
        dashed |= strcmp(legend_of[k].style, "dashed") == 0;
        dotted |= strcmp(legend_of[k].style, "dotted") == 0;
    }
    /* Colours count as styles of their own: gradients red, residual connections green, the highlight. */
    styles = solid + dashed + dotted + used[DRAW_E_GRAD] + used[DRAW_E_SKIP] + highlight;
    if (s->o->legend < 0 || (s->o->legend == 0 && styles < 2)) return;
    char html[4096] = "<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"2\" CELLPADDING=\"1\"><TR>";
    for (int k = 0; k < DRAW_E_KIND_COUNT; k++)
        if (used[k] && k != DRAW_E_INVIS)
            entry(html, sizeof html, legend_of[k].style, legend_of[k].color, legend_of[k].width, legend_of[k].meaning);
    if (highlight) entry(html, sizeof html, "solid", "#e06000", 3, "the path through time");
    append(html, sizeof html, "</TR></TABLE>");
    int I = recur_draw_item_add(s, DRAW_NOTE, DRAW_NOTE_LEGEND, -1, html);
    if (I < 0) return;
    draw_item *it = &s->items[I];
    it->html = 1;
    /* dot: a rank of its own below everything; pinned: centred below (draw_place.c). */
    int bottom = 0;
    for (int i = 0; i < s->n_items; i++)
        if (i != I && s->items[i].layer < bottom) bottom = s->items[i].layer;
    it->layer = bottom - 1;
}

/* ---------------------------------------------------------------- highlight */

/* The loop of the top row of cells (or gradient cells), -1 if none. */
static int top_loop(const draw_ctx *c)
{
    int best = -1;
    for (int li = 0; li < c->n_loops; li++)
        if (c->loops[li].used && (best < 0 || c->loops[li].row > c->loops[best].row)) best = li;
    return best;
}

static void mark_edge(draw_scene *s, int e)
{
    s->edges[e].highlight = 1;
    s->items[s->edges[e].from].highlight = 1;
    s->items[s->edges[e].to].highlight = 1;
}

/* 1 if item i is a cell (kind) of loop li or its row's ellipsis. */
static int in_row(const draw_scene *s, int i, draw_kind kind, int li)
{
    const draw_item *it = &s->items[i];
    return (it->kind == kind && it->a == li) || (it->kind == DRAW_ELLIPSIS && it->a == li && it->grad == (kind == DRAW_GRAD) &&
                                                 (it->b < 0 || kind == DRAW_GRAD));
}

static void highlight(draw_ctx *c, draw_scene *s)
{
    int li = top_loop(c);
    if (li < 0 || s->op_level) return;
    const draw_loop *P = &c->loops[li];
    int64_t first = recur_draw_time_of(c, li, 0), last = recur_draw_time_of(c, li, P->T - 1);
    if (c->o.view == RECUR_VIEW_BACKWARD) {
        /* The loss into the last step's gradient cell, then back against time along the row. */
        int at_last = recur_draw_item_find(s, DRAW_GRAD, li, (int)last);
        for (int e = 0; e < s->n_edges; e++) {
            const draw_edge *d = &s->edges[e];
            if (d->kind != DRAW_E_GRAD) continue;
            if ((s->items[d->from].kind == DRAW_LOSS && d->to == at_last) ||
                (in_row(s, d->from, DRAW_GRAD, li) && in_row(s, d->to, DRAW_GRAD, li)))
                mark_edge(s, e);
        }
        return;
    }
    int start = recur_draw_item_find(s, DRAW_CELL, li, c->unrolled ? (int)first : -1);
    int end = recur_draw_item_find(s, DRAW_CELL, li, c->unrolled ? (int)last : -1);
    for (int e = 0; e < s->n_edges; e++) {
        const draw_edge *d = &s->edges[e];
        const draw_item *a = &s->items[d->from];
        if (d->kind == DRAW_E_STATE && in_row(s, d->from, DRAW_CELL, li) && in_row(s, d->to, DRAW_CELL, li))
            mark_edge(s, e);
        else if (d->to == start && d->kind == DRAW_E_DATA && a->layer < s->items[start].layer)
            mark_edge(s, e); /* the first step's input */
    }
    /* From the last step upwards to an output. */
    for (int from = end, hops = 0; from >= 0 && hops < 16 && s->items[from].kind != DRAW_OUTPUT; hops++) {
        int next = -1;
        for (int e = 0; e < s->n_edges && next < 0; e++) {
            const draw_edge *d = &s->edges[e];
            if (d->from == from && (d->kind == DRAW_E_DATA || d->kind == DRAW_E_SKIP) &&
                s->items[d->to].layer > s->items[from].layer)
                mark_edge(s, e), next = d->to;
        }
        from = next;
    }
}

recur_status recur_draw_extras(draw_ctx *c, draw_scene *s)
{
    if (c->o.highlight == RECUR_HIGHLIGHT_TIME_PATH) highlight(c, s);
    recur_draw_equations(c, s);
    legend(s);
    return s->st == RECUR_OK ? RECUR_OK : recur_set_error(c->g, RECUR_ERR_NOMEM, "draw: out of memory");
}
