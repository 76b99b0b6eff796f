/*
 * tests/test_draw_figures.c — drawings checked where a reader sees them:
 * each is written as DOT, read back and handed to Graphviz's nop2 engine,
 * which sizes the boxes and keeps recur's positions and curves, so the test
 * sees the figure's geometry. Every figure must have no two boxes
 * overlapping, no edge passing through a rect it does not join, and every
 * arrow ending on its rect.
 *
 * First the defects issue 14 listed, each a test that failed before the
 * layout was redone (crossing inputs in bidirectional layers, labels on
 * arrowheads, feedback overshooting its column, outputs above the wrong
 * step, staircase final states, attention as an all-to-all band, the mask
 * as a second word, scrambled columns, all-to-all gradients between layers,
 * a backward view without gradients, op-level steps laid out differently,
 * too large a figure), then the options (legend, dpi, font, size, state
 * labels, highlight, side by side, internals, equations), then every
 * figure of the gallery (examples/gallery.c, built here with its drawings
 * checked instead of saved): counts of boxes and edges, rows and columns.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <graphviz/gvc.h>

/* ------------------------------------------------------------ geometry */

/* The one Graphviz context (contexts are kept: freeing one invalidates its font cache). */
static GVC_t *context(void)
{
    static GVC_t *gvc;
    if (!gvc) gvc = gvContext();
    return gvc;
}

/* Draws to DOT and lays it out as recur does (nop2 for pinned figures, dot otherwise). */
static Agraph_t *laid_out(recur_graph *g, int n, const recur_value *outs, const recur_draw_opts *o)
{
    char *text = NULL;
    size_t len = 0;
    TU_ST(g, recur_draw_mem(g, n, outs, o, "dot", &text, &len));
    Agraph_t *G = agmemread(text);
    recur_draw_free(text);
    assert_non_null(G);
    const char *engine = agget(G, "layout");
    assert_int_equal(gvLayout(context(), G, engine && *engine ? engine : "dot"), 0);
    return G;
}

static void laid_out_free(Agraph_t *G)
{
    gvFreeLayout(context(), G);
    agclose(G);
}

static Agnode_t *find_node(Agraph_t *G, const char *name) { return agnode(G, (char *)name, 0); }

static const char *get(void *obj, const char *name)
{
    const char *v = agget(obj, (char *)name);
    return v ? v : "";
}

static int named(Agnode_t *v, const char *prefix) { return strncmp(agnameof(v), prefix, strlen(prefix)) == 0; }

static int shown(Agedge_t *e) { return !strstr(get(e, "style"), "invis"); }

typedef struct rect {
    double x0, y0, x1, y1;
} rect;

static rect rect_of(Agnode_t *v)
{
    double w = ND_width(v) * 36, h = ND_height(v) * 36;
    return (rect){ND_coord(v).x - w, ND_coord(v).y - h, ND_coord(v).x + w, ND_coord(v).y + h};
}

static double cx(Agnode_t *v) { return ND_coord(v).x; }

static double cy(Agnode_t *v) { return ND_coord(v).y; }

static int in_rect(rect b, pointf p, double m) { return p.x > b.x0 - m && p.x < b.x1 + m && p.y > b.y0 - m && p.y < b.y1 + m; }

/* Points along edge e's curve (every Bezier piece sampled), up to cap; returns their count. */
static int samples(Agedge_t *e, pointf *out, int cap)
{
    int n = 0;
    if (!ED_spl(e)) return 0;
    for (int s = 0; s < ED_spl(e)->size; s++) {
        const bezier *bz = &ED_spl(e)->list[s];
        for (int i = 0; i + 3 < bz->size; i += 3)
            for (int k = 0; k <= 16 && n < cap; k++) {
                double t = k / 16.0, u = 1 - t;
                const pointf *p = bz->list + i;
                out[n++] = (pointf){u * u * u * p[0].x + 3 * u * u * t * p[1].x + 3 * u * t * t * p[2].x + t * t * t * p[3].x,
                                    u * u * u * p[0].y + 3 * u * u * t * p[1].y + 3 * u * t * t * p[2].y + t * t * t * p[3].y};
            }
    }
    return n;
}

/* Where edge e's arrow points (its tip), or its curve's end. */
static pointf tip(Agedge_t *e)
{
    const bezier *bz = &ED_spl(e)->list[ED_spl(e)->size - 1];
    return bz->eflag ? bz->ep : bz->list[bz->size - 1];
}

/* 1 if the segments p-q and r-s cross. */
static int cross(pointf p, pointf q, pointf r, pointf s)
{
    double d1 = (s.x - r.x) * (p.y - r.y) - (s.y - r.y) * (p.x - r.x);
    double d2 = (s.x - r.x) * (q.y - r.y) - (s.y - r.y) * (q.x - r.x);
    double d3 = (q.x - p.x) * (r.y - p.y) - (q.y - p.y) * (r.x - p.x);
    double d4 = (q.x - p.x) * (s.y - p.y) - (q.y - p.y) * (s.x - p.x);
    return ((d1 > 0) != (d2 > 0)) && ((d3 > 0) != (d4 > 0));
}

/* 1 if the curves of edges a and b cross (away from the boxes they share). */
static int curves_cross(Agedge_t *a, Agedge_t *b)
{
    pointf p[512], q[512];
    int n = samples(a, p, 512), m = samples(b, q, 512);
    for (int i = 0; i + 1 < n; i++)
        for (int j = 0; j + 1 < m; j++)
            if (cross(p[i], p[i + 1], q[j], q[j + 1])) return 1;
    return 0;
}

/* The first visible edge from a to b (NULL if none). */
static Agedge_t *edge_between(Agraph_t *G, const char *a, const char *b)
{
    Agnode_t *x = find_node(G, a), *y = find_node(G, b);
    if (!x || !y) return NULL;
    for (Agedge_t *e = agfstout(G, x); e; e = agnxtout(G, e))
        if (aghead(e) == y && shown(e)) return e;
    return NULL;
}

static int count(Agraph_t *G, const char *prefix)
{
    int n = 0;
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v)) n += named(v, prefix);
    return n;
}

static int count_labelled(Agraph_t *G, const char *prefix, const char *text)
{
    int n = 0;
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v)) n += named(v, prefix) && strstr(get(v, "label"), text);
    return n;
}

static Agnode_t *labelled(Agraph_t *G, const char *prefix, const char *text)
{
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
        if (named(v, prefix) && strcmp(get(v, "label"), text) == 0) return v;
    return NULL;
}

static int count_edges(Agraph_t *G, const char *color)
{
    int n = 0;
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
        for (Agedge_t *e = agfstout(G, v); e; e = agnxtout(G, e)) n += shown(e) && (!color || strcmp(get(e, "color"), color) == 0);
    return n;
}

/*
 * What every figure must be: no two boxes overlapping, no edge's curve
 * inside a rect it does not join (2 points inside its border), every arrow
 * ending on (within 3 points of) its head's rect.
 */
static void assert_clean(Agraph_t *G, const char *what)
{
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
        for (Agnode_t *w = agnxtnode(G, v); w; w = agnxtnode(G, w)) {
            rect a = rect_of(v), b = rect_of(w);
            if (a.x0 < b.x1 - 1 && b.x0 < a.x1 - 1 && a.y0 < b.y1 - 1 && b.y0 < a.y1 - 1)
                fail_msg("%s: boxes %s and %s overlap", what, agnameof(v), agnameof(w));
        }
    pointf p[2048];
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
        for (Agedge_t *e = agfstout(G, v); e; e = agnxtout(G, e)) {
            if (!shown(e)) continue;
            int n = samples(e, p, 2048);
            assert_true(n > 1);
            for (Agnode_t *w = agfstnode(G); w; w = agnxtnode(G, w)) {
                if (w == agtail(e) || w == aghead(e)) continue;
                rect b = rect_of(w);
                b.x0 += 2, b.y0 += 2, b.x1 -= 2, b.y1 -= 2;
                for (int i = 0; i < n; i++)
                    if (in_rect(b, p[i], 0))
                        fail_msg("%s: edge %s -> %s passes through %s", what, agnameof(agtail(e)), agnameof(aghead(e)),
                                 agnameof(w));
            }
            if (!in_rect(rect_of(aghead(e)), tip(e), 3))
                fail_msg("%s: edge %s -> %s ends away from its head", what, agnameof(agtail(e)), agnameof(aghead(e)));
        }
}

/*
 * A rolled cell drawn with its internals: its state loops (the edges into
 * and out of its delays) run round its boxes, crossing no edge of a state's
 * line (boxes in one row) and no edge into a gate, and at most one other
 * edge between two boxes of the cell; they may cross each other and the
 * cell's input and output edges.
 */
static void assert_loops_outside(Agraph_t *G, const char *what)
{
    Agraph_t *cell = NULL;
    for (Agraph_t *sub = agfstsubg(G); sub; sub = agnxtsubg(sub))
        if (strncmp(agnameof(sub), "cluster", 7) == 0) cell = sub;
    assert_non_null(cell);
    rect b = {GD_bb(cell).LL.x, GD_bb(cell).LL.y, GD_bb(cell).UR.x, GD_bb(cell).UR.y};
    int loops = 0, others = 0;
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
        for (Agedge_t *e = agfstout(G, v); e; e = agnxtout(G, e)) {
            if (!shown(e) || (!named(agtail(e), "delay_") && !named(aghead(e), "delay_"))) continue;
            loops++;
            for (Agnode_t *w = agfstnode(G); w; w = agnxtnode(G, w))
                for (Agedge_t *f = agfstout(G, w); f; f = agnxtout(G, f)) {
                    Agnode_t *t = agtail(f), *h = aghead(f);
                    if (!shown(f) || named(t, "delay_") || named(h, "delay_") || !in_rect(b, ND_coord(t), 0) ||
                        !in_rect(b, ND_coord(h), 0))
                        continue;
                    if (!curves_cross(e, f)) continue;
                    if (fabs(cy(t) - cy(h)) < 1 || strstr(get(h, "label"), "gate") || ++others > 1)
                        fail_msg("%s: the loop %s -> %s crosses %s -> %s inside the cell", what, agnameof(agtail(e)),
                                 agnameof(aghead(e)), agnameof(t), agnameof(h));
                }
        }
    assert_true(loops >= 2);
}

/* The cluster subgraph holding node v, NULL if none. */
static Agraph_t *cluster_of(Agraph_t *G, Agnode_t *v)
{
    for (Agraph_t *sub = agfstsubg(G); sub; sub = agnxtsubg(sub))
        if (strncmp(agnameof(sub), "cluster", 7) == 0 && agsubnode(sub, v, 0)) return sub;
    return NULL;
}

/*
 * Unrolled internals: a state enters each step's cell once, into its box
 * (h[t-1], c[t-1]), the one edge from one cell into another; returns how
 * many such edges there are.
 */
static int assert_states_enter_once(Agraph_t *G, const char *what)
{
    int n = 0;
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
        for (Agedge_t *e = agfstout(G, v); e; e = agnxtout(G, e)) {
            Agraph_t *a = cluster_of(G, agtail(e)), *b = cluster_of(G, aghead(e));
            if (!shown(e) || !a || !b || a == b) continue;
            n++;
            if (!named(aghead(e), "in_") || !strchr(get(aghead(e), "label"), '['))
                fail_msg("%s: edge %s -> %s enters %s other than through a state's or input's box", what,
                         agnameof(agtail(e)), agnameof(aghead(e)), agnameof(b));
        }
    return n;
}

static const char *nm(char *buf, const char *fmt, int a, int b)
{
    snprintf(buf, 64, fmt, a, b);
    return buf;
}

/* ------------------------------------------------------------- models */

/* A (bidirectional, stacked) layer over x [T, 1, 4]. */
static recur_rnn layer_over(recur_graph *g, int64_t T, recur_cell_kind kind, int layers, int bidirectional)
{
    recur_value xs = recur_input(g, "x", recur_shape3(T, 1, 4));
    recur_rnn_opts o = {.kind = kind, .input_size = 4, .hidden = 4, .layers = layers, .bidirectional = bidirectional};
    recur_rnn rnn;
    TU_ST(g, recur_rnn_new(g, "rnn", &o, xs, RECUR_NONE, RECUR_NONE, &rnn));
    return rnn;
}

/* layer_over's outputs drawn with o (unrolled first for a view that is not rolled); *g gets the graph. */
static Agraph_t *draw_layer(recur_graph **g, uint64_t seed, int64_t T, recur_cell_kind kind, int layers, int bi,
                            const recur_draw_opts *o)
{
    *g = recur_graph_new(seed);
    recur_rnn r = layer_over(*g, T, kind, layers, bi);
    if (o->view != RECUR_VIEW_ROLLED) TU_ST(*g, recur_unroll(*g));
    return laid_out(*g, 1, &r.outputs, o);
}

static void drawing_free(Agraph_t *G, recur_graph *g)
{
    laid_out_free(G);
    recur_graph_free(g);
}

/* An LSTM encoder over S steps whose final states start an LSTM decoder over T steps; d gets the decoder. */
static recur_value enc_dec(recur_graph *g, int64_t S, int64_t T, recur_seq_result *d)
{
    recur_value src = recur_input(g, "src", recur_shape3(S, 1, 4)), tgt = recur_input(g, "tgt", recur_shape3(T, 1, 4));
    recur_cell enc, dec;
    TU_ST(g, recur_cell_new(g, &enc, RECUR_LSTM, "enc", NULL, 4, 4));
    TU_ST(g, recur_cell_new(g, &dec, RECUR_LSTM, "dec", NULL, 4, 4));
    recur_seq_result e;
    TU_ST(g, recur_cell_over(g, &enc, "encoder", src, NULL, 0, &e));
    TU_ST(g, recur_cell_over(g, &dec, "decoder", tgt, e.final, 0, d));
    return recur_name(g, d->outputs, "y");
}

/* recur_seq2seq with additive attention, S source and T target steps. */
static recur_seq2seq attention_model(recur_graph *g, int64_t S, int64_t T, recur_cell_kind kind)
{
    recur_seq2seq_opts o = {.kind = kind, .src_vocab = 10, .tgt_vocab = 10, .embed = 4, .hidden = 4,
                            .attention = RECUR_ATTN_ADDITIVE, .start_id = 1, .end_id = 2};
    recur_seq2seq m;
    TU_ST(g, recur_seq2seq_new(g, "s2s", &o, &m));
    TU_ST(g, recur_seq2seq_train_graph(g, &m, S, T, 1));
    return m;
}

/* -------------------------------------------------------- the defects */

/* Bidirectional, unrolled: x[t] enters the backward cell from below, beside the forward cell, never at its side. */
static void test_bidirectional_inputs_beside_cells(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_rnn rnn = layer_over(g, 4, RECUR_LSTM, 1, 1);
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED};
    Agraph_t *G = laid_out(g, 1, &rnn.outputs, &o);
    assert_clean(G, "bidirectional");
    char in[64], bw[64], fw[64];
    for (int t = 0; t < 4; t++) {
        Agedge_t *e = edge_between(G, nm(in, "in_0_%d", t, 0), nm(bw, "cell_1_%d", t, 0));
        assert_non_null(e);
        rect b = rect_of(find_node(G, bw));
        pointf p = tip(e);
        assert_true(fabs(p.y - b.y0) < 2);                    /* on the bottom side, */
        assert_true(p.x > b.x0 + 4 && p.x < b.x1 - 4);        /* not at a corner where the state leaves */
        /* The forward cell's output goes up the other side of the backward cell: the two never cross. */
        Agedge_t *up = NULL;
        for (Agedge_t *x = agfstout(G, find_node(G, nm(fw, "cell_0_%d", t, 0))); x && !up; x = agnxtout(G, x))
            if (named(aghead(x), "join_")) up = x;
        assert_non_null(up);
        assert_false(curves_cross(e, up));
    }
    laid_out_free(G);
    recur_graph_free(g);
}

/* Bidirectional, rolled: the forward output to the concatenation stays clear of the forward cell's delay loop. */
static void test_bidirectional_rolled_clear_of_delay(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(2);
    recur_rnn rnn = layer_over(g, 4, RECUR_LSTM, 1, 1);
    recur_draw_opts o = {.view = RECUR_VIEW_ROLLED};
    Agraph_t *G = laid_out(g, 1, &rnn.outputs, &o);
    assert_clean(G, "bidirectional rolled");
    Agedge_t *up = NULL;
    for (Agedge_t *x = agfstout(G, find_node(G, "cell_0")); x && !up; x = agnxtout(G, x))
        if (named(aghead(x), "join_")) up = x;
    assert_non_null(up);
    assert_false(curves_cross(up, edge_between(G, "cell_0", "delay_0")));
    assert_false(curves_cross(up, edge_between(G, "delay_0", "cell_0")));
    laid_out_free(G);
    recur_graph_free(g);
}

/*
 * Labels: "context" and "h, c" are boxes of their own, clear of every other
 * rect and every arrowhead, 11 points high or more, and a PNG is drawn at
 * 144 dpi by default (a rolled cell was 133 x 179 pixels at 96).
 */
static void test_labels_clear_and_readable(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(3);
    recur_seq_result d;
    recur_value y = enc_dec(g, 3, 4, &d);
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED};
    Agraph_t *G = laid_out(g, 1, &y, &o);
    assert_clean(G, "labels");
    const char *texts[] = {"context", "h, c"};
    for (int k = 0; k < 2; k++) {
        Agnode_t *l = labelled(G, "label_", texts[k]);
        assert_non_null(l);
        assert_true(atof(get(l, "fontsize")) >= 11);
        rect b = rect_of(l);
        for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
            for (Agedge_t *e = agfstout(G, v); e; e = agnxtout(G, e))
                if (shown(e)) assert_false(in_rect(b, tip(e), 2)); /* no arrowhead on it */
        assert_string_equal(get(G, "fontname"), "DejaVu Sans");
    }
    laid_out_free(G);
    /* At 144 dpi by default: the rolled cell figure twice the size in pixels it has in points. */
    char *png = NULL;
    size_t len = 0;
    o.view = RECUR_VIEW_ROLLED;
    o.legend = -1;
    TU_ST(g, recur_draw_mem(g, 1, &y, &o, "png", &png, &len));
    unsigned w = (unsigned)(unsigned char)png[16] << 24 | (unsigned)(unsigned char)png[17] << 16 |
                 (unsigned)(unsigned char)png[18] << 8 | (unsigned)(unsigned char)png[19];
    recur_draw_free(png);
    o.dpi = 72;
    TU_ST(g, recur_draw_mem(g, 1, &y, &o, "png", &png, &len));
    unsigned w72 = (unsigned)(unsigned char)png[18] << 8 | (unsigned)(unsigned char)png[19];
    recur_draw_free(png);
    assert_true(w >= 2 * w72 - 4 && w <= 2 * w72 + 4);
    recur_graph_free(g);
}

/*
 * seq2seq with feedback: each output goes down the gap right of its column
 * into the next input, never past that input nor across another output's
 * edge; with max_steps the outputs stay above their own steps.
 */
static void test_feedback_within_its_gap(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(4);
    recur_seq_result d;
    recur_value y = enc_dec(g, 3, 6, &d);
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .feedback = 1};
    Agraph_t *G = laid_out(g, 1, &y, &o);
    assert_clean(G, "feedback");
    int tgt = recur_find(g, "tgt").id, fed = 0;
    char a[64], b[64];
    pointf p[512];
    for (int t = 0; t + 1 < 6; t++) {
        Agedge_t *e = edge_between(G, nm(a, "out_0_%d", t, 0), nm(b, "in_%d_%d", tgt, t + 1));
        assert_non_null(e);
        fed++;
        rect from = rect_of(find_node(G, a)), to = rect_of(find_node(G, b));
        int n = samples(e, p, 512);
        for (int i = 0; i < n; i++) assert_true(p[i].x >= from.x0 - 1 && p[i].x <= to.x1 + 1); /* no overshoot */
        for (int u = 0; u < 6; u++) {
            Agedge_t *out = edge_between(G, nm(a, "cell_1_%d", u, 0), nm(b, "out_0_%d", u, 0));
            assert_non_null(out);
            assert_false(curves_cross(e, out));
        }
    }
    assert_int_equal(fed, 5);
    laid_out_free(G);
    o.max_steps = 4;
    G = laid_out(g, 1, &y, &o);
    assert_clean(G, "feedback, max_steps");
    const int shown_steps[] = {0, 1, 4, 5};
    for (int k = 0; k < 4; k++) {
        int t = shown_steps[k];
        Agnode_t *out = find_node(G, nm(a, "out_0_%d", t, 0)), *cell = find_node(G, nm(b, "cell_1_%d", t, 0));
        assert_non_null(out);
        assert_non_null(cell);
        assert_true(fabs(cx(out) - cx(cell)) < 1); /* y[t] above decoder step t */
        assert_true(cy(out) > cy(cell));
    }
    laid_out_free(G);
    recur_graph_free(g);
}

/* Final states used as outputs sit beside their cell, on its row, not at staircase heights. */
static void test_final_states_beside_cell(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(5);
    recur_seq_result d;
    recur_value outs[3] = {enc_dec(g, 3, 4, &d), recur_name(g, d.final[0], "h_n"), recur_name(g, d.final[1], "c_n")};
    for (int view = 0; view < 2; view++) {
        recur_draw_opts o = {.view = (recur_draw_view)view};
        Agraph_t *G = laid_out(g, 3, outs, &o);
        assert_clean(G, "final states");
        Agnode_t *cell = find_node(G, view ? "cell_1_3" : "cell_1"), *h = labelled(G, "out_", "h_n"), *c = labelled(G, "out_", "c_n");
        assert_non_null(h);
        assert_non_null(c);
        assert_true(fabs(cy(h) - cy(cell)) < 1 && fabs(cy(c) - cy(cell)) < 1);
        assert_true(cx(h) > cx(cell) && cx(c) > cx(cell));
        assert_string_equal(get(agfstin(G, h), "style"), "dashed");
        laid_out_free(G);
    }
    recur_graph_free(g);
}

/*
 * Attention: one memory rect, an attention rect per decoder step, no edge from
 * the encoder's cells to the decoder's but the context; the mask of the
 * source is no second word: one input rect per step.
 */
static void test_attention_boxes(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(6);
    recur_seq2seq m = attention_model(g, 3, 4, RECUR_GRU);
    recur_value outs[2] = {m.logits, m.attn};
    const char *words[] = {"how", "are", "you", "[START]", "comment", "allez", "vous"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .input_labels = words, .n_input_labels = 7};
    Agraph_t *G = laid_out(g, 2, outs, &o);
    assert_clean(G, "attention");
    assert_int_equal(count(G, "memory_"), 1);
    assert_int_equal(count(G, "attn_"), 4);
    assert_int_equal(count(G, "in_"), 3 + 4);
    for (int k = 0; k < 7; k++) assert_int_equal(count_labelled(G, "in_", words[k]) , 1);
    int enc_to_dec = 0, into_attention = 0;
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
        for (Agedge_t *e = agfstout(G, v); e; e = agnxtout(G, e)) {
            if (!shown(e)) continue;
            enc_to_dec += named(v, "cell_0_") && named(aghead(e), "cell_1_");
            into_attention += named(v, "memory_") && named(aghead(e), "attn_");
        }
    assert_int_equal(enc_to_dec, 1); /* the context */
    assert_int_equal(into_attention, 4);
    laid_out_free(G);
    /* Rolled: the encoder's delay on its side, never beyond the decoder. */
    o.view = RECUR_VIEW_ROLLED;
    G = laid_out(g, 2, outs, &o);
    assert_clean(G, "attention rolled");
    assert_true(cx(find_node(G, "delay_0")) < cx(find_node(G, "cell_1")));
    laid_out_free(G);
    recur_graph_free(g);
}

/* Drawing a seq2seq's loss keeps the columns: the encoder's steps in order, then the decoder's. */
static void test_loss_keeps_columns(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(7);
    recur_seq2seq m = attention_model(g, 3, 4, RECUR_LSTM);
    const char *words[] = {"how", "are", "you", "[START]", "comment", "allez", "vous"};
    const char *next[] = {"", "", "", "comment", "allez", "vous", "[END]"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .input_labels = words, .n_input_labels = 7,
                         .output_labels = next, .n_output_labels = 7, .feedback = 1};
    Agraph_t *G = laid_out(g, 1, &m.loss, &o);
    assert_clean(G, "loss");
    char a[64], b[64];
    for (int t = 1; t < 7; t++) {
        Agnode_t *prev = find_node(G, t - 1 < 3 ? nm(a, "cell_0_%d", t - 1, 0) : nm(a, "cell_1_%d", t - 4, 0));
        Agnode_t *cur = find_node(G, t < 3 ? nm(b, "cell_0_%d", t, 0) : nm(b, "cell_1_%d", t - 3, 0));
        assert_non_null(prev);
        assert_non_null(cur);
        assert_true(cx(cur) > cx(prev));
    }
    laid_out_free(G);
    recur_graph_free(g);
}

/* An unrolled two-layer RNN with a loss over every step and the gradients of all its weights. */
static recur_value two_layer_grads(recur_graph *g, recur_value *grads, int *n)
{
    recur_rnn rnn = layer_over(g, 4, RECUR_RNN_TANH, 2, 0);
    recur_value target = recur_input(g, "target", recur_shape2(4, 1));
    recur_value loss = recur_name(g, recur_softmax_xent(g, recur_dense(g, "out", rnn.outputs, 5, 1), target, RECUR_NONE), "loss");
    TU_OK(g, loss);
    TU_ST(g, recur_unroll(g));
    recur_value params[16];
    *n = recur_params(g, params, 16);
    TU_ST(g, recur_grad(g, loss, *n, params, grads));
    return loss;
}

/*
 * Backward view of a two-layer stack: one gradient edge per step from the
 * upper layer's cell to the lower one's (not 16 dotted ones), the weights'
 * gradients named by their weights and beside their layer's row.
 */
static void test_backward_per_step_between_layers(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(8);
    recur_value grads[16];
    int n;
    recur_value loss = two_layer_grads(g, grads, &n);
    recur_draw_opts o = {.view = RECUR_VIEW_BACKWARD, .loss = loss};
    Agraph_t *G = laid_out(g, n, grads, &o);
    assert_clean(G, "backward");
    assert_int_equal(count_edges(G, "#777777"), 0); /* nothing dotted */
    char a[64], b[64];
    for (int t = 0; t < 4; t++)
        for (int u = 0; u < 4; u++)
            assert_int_equal(edge_between(G, nm(a, "grad_1_%d", t, 0), nm(b, "grad_0_%d", u, 0)) != NULL, t == u);
    assert_int_equal(count_labelled(G, "out_", "y0"), 0);
    Agnode_t *upper = NULL;
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
        if (named(v, "out_") && strstr(get(v, "label"), "\xe2\x88\x82L/\xe2\x88\x82rnn.weight_ih_l1")) upper = v;
    assert_non_null(upper);
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
        if (named(v, "grad_")) assert_true(cx(upper) > cx(v)); /* beside its row, not thrown to the left */
    laid_out_free(G);
    recur_graph_free(g);
}

/* Backward view of a seq2seq: a gradient cell per encoder step, its gradient flowing back in time. */
static void test_backward_seq2seq(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(9);
    recur_seq2seq m = attention_model(g, 3, 4, RECUR_GRU);
    TU_ST(g, recur_unroll(g));
    recur_value params[32], grads[32];
    int n = recur_params(g, params, 32);
    TU_ST(g, recur_grad(g, m.loss, n, params, grads));
    recur_draw_opts o = {.view = RECUR_VIEW_BACKWARD, .loss = m.loss};
    Agraph_t *G = laid_out(g, n, grads, &o);
    assert_clean(G, "backward seq2seq");
    assert_int_equal(count(G, "grad_0_"), 3);
    char a[64], b[64];
    for (int t = 0; t + 1 < 3; t++) {
        assert_non_null(edge_between(G, nm(a, "grad_0_%d", t + 1, 0), nm(b, "grad_0_%d", t, 0)));
        assert_null(edge_between(G, nm(a, "grad_0_%d", t, 0), nm(b, "grad_0_%d", t + 1, 0)));
    }
    laid_out_free(G);
    recur_graph_free(g);
}

/* The backward view of a loss with no gradients, or of a value that is no loss, is an error. */
static void test_backward_needs_gradients(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(10);
    recur_rnn rnn = layer_over(g, 3, RECUR_RNN_TANH, 1, 0);
    recur_value loss = recur_mse(g, recur_last_step(g, rnn.outputs), recur_input(g, "want", recur_shape2(1, 4)));
    TU_OK(g, loss);
    char *out = NULL;
    size_t len = 0;
    recur_draw_opts o = {.view = RECUR_VIEW_BACKWARD, .loss = loss};
    assert_int_equal(recur_draw_mem(g, 1, &rnn.outputs, &o, "dot", &out, &len), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_errmsg(g), "recur_grad"));
    assert_null(out);
    o.loss = recur_find(g, "x"); /* an input drawn as a "loss" before */
    assert_int_equal(recur_draw_mem(g, 1, &rnn.outputs, &o, "dot", &out, &len), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_errmsg(g), "scalar"));
    assert_non_null(strstr(recur_errmsg(g), "[3, 1, 4]"));
    recur_graph_free(g);
}

/*
 * Op level, unrolled GRU: each step's cluster holds its x[t], every step's
 * ops sit alike inside their cluster, the steps keep their order, and the
 * initial state's circle is left of step 0, level with it.
 */
static void test_op_level_steps_alike(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(11);
    recur_value xs = recur_input(g, "x", recur_shape3(3, 1, 4));
    recur_cell cell;
    TU_ST(g, recur_cell_new(g, &cell, RECUR_GRU, "gru", NULL, 4, 4));
    recur_seq_result r;
    TU_ST(g, recur_cell_over(g, &cell, "gru", xs, NULL, 0, &r));
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .level = RECUR_LEVEL_OP, .hide_params = 1};
    Agraph_t *G = laid_out(g, 1, &r.outputs, &o);
    assert_clean(G, "op level");
    char a[64], b[64];
    Agraph_t *cl[3];
    for (int t = 0; t < 3; t++) {
        cl[t] = agsubg(G, (char *)nm(a, "cluster_cell0_%d", t, 0), 0);
        assert_non_null(cl[t]);
        assert_non_null(agsubnode(cl[t], find_node(G, nm(b, "in_0_%d", t, 0)), 0));
        if (t) assert_true(GD_bb(cl[t]).LL.x > GD_bb(cl[t - 1]).UR.x); /* in order */
    }
    int compared = 0;
    for (Agnode_t *v = agfstnode(cl[0]); v; v = agnxtnode(cl[0], v)) {
        int id, t;
        if (sscanf(agnameof(v), "op_%d_%d", &id, &t) != 2) continue;
        for (int u = 1; u < 3; u++) {
            Agnode_t *w = find_node(G, nm(a, "op_%d_%d", id, u));
            assert_non_null(w);
            assert_true(fabs((cx(w) - GD_bb(cl[u]).LL.x) - (cx(v) - GD_bb(cl[0]).LL.x)) < 0.5);
            assert_true(fabs((cy(w) - GD_bb(cl[u]).LL.y) - (cy(v) - GD_bb(cl[0]).LL.y)) < 0.5);
            compared++;
        }
    }
    assert_true(compared >= 2 * 15);
    Agnode_t *init = find_node(G, "init_0");
    assert_non_null(init);
    assert_true(cx(init) < GD_bb(cl[0]).LL.x);
    assert_true(cy(init) > GD_bb(cl[0]).LL.y && cy(init) < GD_bb(cl[0]).UR.y);
    laid_out_free(G);
    recur_graph_free(g);
    /*
     * `recur draw`'s model at op level: each step's one-hot (an outer op joined to that step's cell
     * alone) inside the cell, between its token and the product; the initial state's edge around the
     * product of the input into the state's product (it passed straight through it once).
     */
    g = recur_graph_new(12);
    recur_value ids = recur_input(g, "ids", recur_shape2(3, 1));
    recur_rnn_opts ro = {.kind = RECUR_RNN_TANH, .input_size = 5, .hidden = 8};
    recur_rnn rnn;
    TU_ST(g, recur_rnn_new(g, "rnn", &ro, recur_one_hot(g, ids, 5), RECUR_NONE, RECUR_NONE, &rnn));
    recur_value probs = recur_softmax(g, recur_dense(g, "out", rnn.outputs, 5, 1));
    TU_ST(g, recur_unroll(g));
    G = laid_out(g, 1, &probs, &o);
    assert_clean(G, "op level, one-hot input");
    int inside = 0;
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
        if (named(v, "op_") && strcmp(get(v, "label"), "one_hot") == 0) {
            Agraph_t *c = cluster_of(G, v);
            assert_non_null(c);
            inside++;
        }
    assert_int_equal(inside, 3);
    laid_out_free(G);
    recur_graph_free(g);
}

/* Too large a figure is refused before Graphviz lays it out (it grew to 24 GB), naming its size and the limit. */
static void test_too_large_refused(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(12);
    recur_value grads[16];
    recur_rnn rnn = layer_over(g, 120, RECUR_LSTM, 2, 0);
    recur_value target = recur_input(g, "target", recur_shape2(120, 1));
    recur_value loss = recur_softmax_xent(g, recur_dense(g, "out", rnn.outputs, 5, 1), target, RECUR_NONE);
    TU_OK(g, loss);
    TU_ST(g, recur_unroll(g));
    recur_value params[16];
    int n = recur_params(g, params, 16);
    TU_ST(g, recur_grad(g, loss, n, params, grads));
    recur_draw_opts o = {.view = RECUR_VIEW_BACKWARD, .level = RECUR_LEVEL_OP, .loss = loss};
    char *out = NULL;
    size_t len = 0;
    clock_t t0 = clock();
    assert_int_equal(recur_draw_mem(g, n, grads, &o, "svg", &out, &len), RECUR_ERR_ARG);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 10);
    assert_null(out);
    char limit[32];
    snprintf(limit, sizeof limit, "at most %d", RECUR_DRAW_MAX_ITEMS);
    assert_non_null(strstr(recur_errmsg(g), limit));
    assert_non_null(strstr(recur_errmsg(g), "boxes"));
    assert_non_null(strstr(recur_errmsg(g), "max_steps"));
    TU_ST(g, recur_draw_mem(g, n, grads, &o, "dot", &out, &len)); /* DOT is not laid out: no limit */
    recur_draw_free(out);
    o.max_steps = 4; /* abbreviated, it draws */
    TU_ST(g, recur_draw_mem(g, n, grads, &o, "svg", &out, &len));
    recur_draw_free(out);
    recur_graph_free(g);
}

/* ------------------------------------------------------------- options */

/* A legend whenever the figure uses more than one line style, unless told otherwise. */
static void test_legend(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(13);
    recur_seq_result d;
    recur_value y = enc_dec(g, 3, 4, &d);
    recur_rnn rnn = layer_over(g, 3, RECUR_RNN_TANH, 1, 0);
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED};
    Agraph_t *G = laid_out(g, 1, &y, &o); /* the context is dashed */
    assert_int_equal(count(G, "note_"), 1);
    assert_non_null(strstr(get(find_node(G, "note_0"), "label"), "dashed"));
    laid_out_free(G);
    G = laid_out(g, 1, &rnn.outputs, &o); /* solid only */
    assert_int_equal(count(G, "note_"), 0);
    laid_out_free(G);
    o.legend = 1;
    G = laid_out(g, 1, &rnn.outputs, &o);
    assert_int_equal(count(G, "note_"), 1);
    assert_clean(G, "legend");
    assert_true(cy(find_node(G, "note_0")) < cy(find_node(G, "cell_2_0"))); /* below the figure */
    laid_out_free(G);
    o.legend = -1;
    G = laid_out(g, 1, &y, &o);
    assert_int_equal(count(G, "note_"), 0);
    laid_out_free(G);
    recur_graph_free(g);
}

/* Font, size and their checks. */
static void test_type_and_size(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(14);
    recur_rnn rnn = layer_over(g, 3, RECUR_RNN_TANH, 1, 0);
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .font = "DejaVu Serif", .font_size = 20, .width = 3};
    Agraph_t *G = laid_out(g, 1, &rnn.outputs, &o);
    assert_string_equal(get(G, "fontname"), "DejaVu Serif");
    assert_string_equal(get(find_node(G, "cell_0_0"), "fontsize"), "20");
    assert_string_equal(get(G, "size"), "3,1000");
    laid_out_free(G);
    char *out = NULL;
    size_t len = 0;
    const double bad[] = {-1, 5000};
    for (int k = 0; k < 2; k++) {
        o = (recur_draw_opts){.dpi = bad[k]};
        assert_int_equal(recur_draw_mem(g, 1, &rnn.outputs, &o, "png", &out, &len), RECUR_ERR_ARG);
        assert_non_null(strstr(recur_errmsg(g), "dpi"));
    }
    o = (recur_draw_opts){.highlight = (recur_draw_highlight)9};
    assert_int_equal(recur_draw_mem(g, 1, &rnn.outputs, &o, "dot", &out, &len), RECUR_ERR_ARG);
    recur_graph_free(g);
}

/* State edges labelled with their states and steps, from 0 or from 1. */
static void test_state_labels(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(15);
    recur_rnn rnn = layer_over(g, 3, RECUR_LSTM, 1, 0);
    const char *zero[] = {"h\xe2\x82\x8b\xe2\x82\x81, c\xe2\x82\x8b\xe2\x82\x81", "h\xe2\x82\x80, c\xe2\x82\x80",
                          "h\xe2\x82\x81, c\xe2\x82\x81"};
    const char *one[] = {"h\xe2\x82\x80, c\xe2\x82\x80", "h\xe2\x82\x81, c\xe2\x82\x81", "h\xe2\x82\x82, c\xe2\x82\x82"};
    for (int based = 0; based < 2; based++) {
        recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .state_labels = 1, .one_based = based};
        Agraph_t *G = laid_out(g, 1, &rnn.outputs, &o);
        assert_clean(G, "state labels");
        char a[64], b[64];
        for (int k = 0; k < 3; k++) {
            Agnode_t *l = labelled(G, "label_", based ? one[k] : zero[k]);
            assert_non_null(l);
            /* between the state edge's cells (or the circle and step 0), just above the edge */
            Agnode_t *left = find_node(G, k ? nm(a, "cell_0_%d", k - 1, 0) : "init_0"), *right = find_node(G, nm(b, "cell_0_%d", k, 0));
            assert_true(cx(l) > cx(left) && cx(l) < cx(right));
            assert_true(cy(l) > cy(right));
        }
        assert_non_null(labelled(G, "in_", based ? "x[1]" : "x[0]"));
        laid_out_free(G);
    }
    recur_graph_free(g);
}

/* The path through time, highlighted: the top row's state edges, its first input and its last output. */
static void test_highlight(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(16);
    recur_value grads[16];
    int n;
    recur_value loss = two_layer_grads(g, grads, &n);
    recur_draw_opts o = {.view = RECUR_VIEW_BACKWARD, .loss = loss, .highlight = RECUR_HIGHLIGHT_TIME_PATH};
    Agraph_t *G = laid_out(g, n, grads, &o);
    /* The loss into step 3's gradient cell, then 3 -> 2 -> 1 -> 0 along the top gradient row. */
    assert_int_equal(count_edges(G, "#e06000"), 4);
    char a[64], b[64];
    assert_string_equal(get(edge_between(G, nm(a, "loss_%d", loss.id, 0), "grad_1_3"), "color"), "#e06000");
    for (int t = 3; t > 0; t--)
        assert_string_equal(get(edge_between(G, nm(a, "grad_1_%d", t, 0), nm(b, "grad_1_%d", t - 1, 0)), "color"), "#e06000");
    assert_non_null(strstr(get(find_node(G, "note_0"), "label"), "path through time"));
    laid_out_free(G);
    recur_graph_free(g);
}

/* Rolled and unrolled side by side: each layer's rolled cell on its unrolled row, "=" between. */
static void test_side_by_side(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(17);
    recur_rnn rnn = layer_over(g, 3, RECUR_GRU, 2, 0);
    recur_draw_opts o = {.view = RECUR_VIEW_BOTH};
    Agraph_t *G = laid_out(g, 1, &rnn.outputs, &o);
    assert_clean(G, "both");
    assert_int_equal(count(G, "cell_"), 2);
    assert_int_equal(count(G, "ucell_"), 6);
    assert_int_equal(count(G, "delay_"), 2);
    Agnode_t *eq = labelled(G, "label_", "=");
    assert_non_null(eq);
    char a[64];
    for (int l = 0; l < 2; l++) {
        Agnode_t *rolled = find_node(G, nm(a, "cell_%d", l, 0)), *first = find_node(G, nm(a, "ucell_%d_0", l, 0));
        assert_true(fabs(cy(rolled) - cy(first)) < 1);
        assert_true(cx(rolled) < cx(eq) && cx(eq) < cx(first));
    }
    laid_out_free(G);
    o.level = RECUR_LEVEL_OP;
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(recur_draw_mem(g, 1, &rnn.outputs, &o, "dot", &out, &len), RECUR_ERR_ARG);
    recur_graph_free(g);
}

/* The internals level names the gates of built-in and custom cells and folds their affine maps. */
static void test_internals(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(18);
    recur_rnn lstm = layer_over(g, 3, RECUR_LSTM, 1, 0);
    recur_draw_opts o = {.view = RECUR_VIEW_ROLLED, .level = RECUR_LEVEL_INTERNALS, .equations = 1};
    Agraph_t *G = laid_out(g, 1, &lstm.outputs, &o);
    assert_clean(G, "LSTM internals");
    const char *gates[] = {"forget gate", "input gate", "output gate"};
    for (int k = 0; k < 3; k++) assert_int_equal(count_labelled(G, "op_", gates[k]), 1);
    assert_int_equal(count_labelled(G, "op_", "matmul"), 0); /* folded into the gates */
    assert_int_equal(count_labelled(G, "glyph_", "\xc3\x97"), 3);
    assert_int_equal(count_labelled(G, "glyph_", "+"), 1);
    assert_int_equal(count(G, "delay_"), 2); /* h and c, each through its own */
    /* The cell-state line: c[t-1], f x c and the sum in one row. */
    Agnode_t *c = labelled(G, "in_", "c[t-1]"), *plus = labelled(G, "glyph_", "+");
    assert_non_null(c);
    assert_true(fabs(cy(c) - cy(plus)) < 1);
    const char *eq = get(find_node(G, "note_1"), "label"); /* note_1: the equations (note_0 would be the legend) */
    assert_non_null(strstr(eq, "c' = f \xe2\x8a\x99 c + i \xe2\x8a\x99 tanh(a3)"));
    assert_non_null(strstr(eq, "h' = o \xe2\x8a\x99 tanh(c')"));
    laid_out_free(G);
    recur_graph_free(g);
    g = recur_graph_new(19);
    recur_rnn gru = layer_over(g, 3, RECUR_GRU, 1, 0);
    G = laid_out(g, 1, &gru.outputs, &o);
    assert_clean(G, "GRU internals");
    assert_int_equal(count_labelled(G, "op_", "update gate"), 1);
    assert_int_equal(count_labelled(G, "op_", "reset gate"), 1);
    assert_int_equal(count_labelled(G, "glyph_", "1\xe2\x88\x92"), 1);
    laid_out_free(G);
    recur_graph_free(g);
    /* Unrolled, two LSTM layers: h, c and the layer below enter each step's cell once, h and c in rows across. */
    recur_draw_opts u = {.view = RECUR_VIEW_UNROLLED, .level = RECUR_LEVEL_INTERNALS};
    G = draw_layer(&g, 21, 3, RECUR_LSTM, 2, 0, &u);
    assert_clean(G, "unrolled LSTM internals");
    assert_int_equal(assert_states_enter_once(G, "unrolled LSTM internals"), 2 * 2 * 2 + 3); /* h, c: 2 per layer; x: 3 */
    for (int t = 0; t < 3; t++) {
        char name[16];
        snprintf(name, sizeof name, "c[%d]", t - 1);
        assert_int_equal(count_labelled(G, "in_", name), 2);
        Agnode_t *cs = labelled(G, "in_", name), *hs;
        snprintf(name, sizeof name, "h[%d]", t - 1);
        hs = labelled(G, "in_", name);
        assert_non_null(cs), assert_non_null(hs);
        assert_true(cy(hs) > cy(cs)); /* h's row above c's */
    }
    drawing_free(G, g);
    /* Bidirectional: the reverse direction's state comes from step t + 1 (h[3] at the last step), its cells mirrored. */
    G = draw_layer(&g, 22, 3, RECUR_GRU, 1, 1, &u);
    assert_clean(G, "unrolled bidirectional GRU internals");
    assert_int_equal(count_labelled(G, "in_", "h[-1]"), 1);
    assert_int_equal(count_labelled(G, "in_", "h[3]"), 1);
    assert_int_equal(count_labelled(G, "in_", "h[1]"), 2); /* forward at step 2, reverse at step 0 */
    for (int t = 0; t < 3; t++) { /* each step's input below both cells, outside them, a box of it in each */
        char a[32];
        snprintf(a, sizeof a, "in_0_%d", t);
        Agnode_t *x = find_node(G, a);
        assert_non_null(x);
        assert_null(cluster_of(G, x));
    }
    drawing_free(G, g);
    /* A second layer reads the first's outputs, an unnamed sequence: its step is x[t], as its equations say. */
    G = draw_layer(&g, 20, 3, RECUR_GRU, 2, 0, &o);
    assert_clean(G, "two GRU layers' internals");
    assert_int_equal(count_labelled(G, "in_", "x[t]"), 2);
    assert_int_equal(count_labelled(G, "in_", "loop_output"), 0);
    drawing_free(G, g);
}

/* An Elman cell's equation, written from its graph. */
/* No edge passes through a cell (a cluster's box) that neither of its ends is in. */
static void assert_round_cells(Agraph_t *G, const char *what)
{
    pointf p[2048];
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
        for (Agedge_t *e = agfstout(G, v); e; e = agnxtout(G, e)) {
            if (!shown(e)) continue;
            int n = samples(e, p, 2048);
            for (Agraph_t *c = agfstsubg(G); c; c = agnxtsubg(c)) {
                if (strncmp(agnameof(c), "cluster", 7) != 0 || agsubnode(c, agtail(e), 0) || agsubnode(c, aghead(e), 0))
                    continue;
                rect b = {GD_bb(c).LL.x + 2, GD_bb(c).LL.y + 2, GD_bb(c).UR.x - 2, GD_bb(c).UR.y - 2};
                for (int i = 0; i < n; i++)
                    if (in_rect(b, p[i], 0))
                        fail_msg("%s: edge %s -> %s passes through %s", what, agnameof(agtail(e)), agnameof(aghead(e)),
                                 agnameof(c));
            }
        }
}

/*
 * Every built-in layer, stacked or not, one way or both, at every level, rolled and unrolled: clean,
 * and no edge through a cell it does not join.
 */
static void test_sweep(void **state)
{
    (void)state;
    const recur_cell_kind kinds[3] = {RECUR_RNN_TANH, RECUR_LSTM, RECUR_GRU};
    const recur_draw_level levels[3] = {RECUR_LEVEL_CELL, RECUR_LEVEL_INTERNALS, RECUR_LEVEL_OP};
    int drawn = 0;
    for (int k = 0; k < 3; k++)
        for (int layers = 1; layers <= 2; layers++)
            for (int bi = 0; bi < 2; bi++)
                for (int lv = 0; lv < 3; lv++)
                    for (int unrolled = 0; unrolled < 2; unrolled++) {
                        recur_draw_opts o = {.view = unrolled ? RECUR_VIEW_UNROLLED : RECUR_VIEW_ROLLED,
                                             .level = levels[lv], .hide_params = 1};
                        char what[96];
                        snprintf(what, sizeof what, "kind %d, %d layer(s), %s, level %d, %s", (int)kinds[k], layers,
                                 bi ? "bidirectional" : "forward", lv, unrolled ? "unrolled" : "rolled");
                        recur_graph *g;
                        Agraph_t *G = draw_layer(&g, 40, 2, kinds[k], layers, bi, &o);
                        assert_clean(G, what);
                        assert_round_cells(G, what);
                        drawing_free(G, g);
                        drawn++;
                    }
    assert_int_equal(drawn, 72);
}

static void test_equations(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(20);
    recur_rnn rnn = layer_over(g, 3, RECUR_RNN_TANH, 1, 0);
    recur_draw_opts o = {.view = RECUR_VIEW_ROLLED, .equations = 1, .legend = -1};
    Agraph_t *G = laid_out(g, 1, &rnn.outputs, &o);
    assert_clean(G, "equations");
    Agnode_t *note = find_node(G, "note_1");
    assert_non_null(note);
    assert_non_null(strstr(get(note, "label"), "h' = tanh(W_ih_l0 x + b_ih_l0 + W_hh_l0 h + b_hh_l0)"));
    assert_true(cx(note) > cx(find_node(G, "cell_0"))); /* beside the figure */
    laid_out_free(G);
    recur_graph_free(g);
}

/* ----------------------------------------------------------- recur draw */

/* Runs `recur draw ARGS` (the tool of this build, $RECUR_CLI); its exit status, its stderr in err. */
static int recur_draw_cli(const char *args, char *err, size_t len)
{
    const char *cli = getenv("RECUR_CLI");
    if (!cli) return -1;
    char cmd[4096], path[] = "/tmp/recur_draw_cli_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    snprintf(cmd, sizeof cmd, "%s draw %s > /dev/null 2> %s", cli, args, path);
    int st = system(cmd);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(err, 1, len - 1, f) : 0;
    err[n] = '\0';
    if (f) fclose(f);
    unlink(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * The tool: a figure too large to lay out is refused at once (it grew to
 * 24 GB), a large model is drawn without its weights (2.9 GB before), and
 * the options reach the library.
 */
/* Runs `recur draw ARGS` with every %s of args replaced by dir (one per process: the variants run side by side). */
static void expect_cli(int want, const char *dir, const char *args, char *err, size_t len)
{
    char full[2048];
    size_t k = 0;
    for (const char *p = args; *p && k + 256 < sizeof full; p++) {
        if (p[0] == '%' && p[1] == 's') k += (size_t)snprintf(full + k, sizeof full - k, "%s", dir), p++;
        else full[k++] = *p;
    }
    full[k] = '\0';
    int got = recur_draw_cli(full, err, len);
    if (got != want) fail_msg("recur draw %s: exit %d, want %d; stderr: %s", full, got, want, err);
}

static void test_cli(void **state)
{
    (void)state;
    if (!getenv("RECUR_CLI")) skip();
    char err[4096], args[2048], text[320], dir[] = "/tmp/recur_draw_XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    for (int i = 0; i < 300; i++) text[i] = "the quick brown fox "[i % 20];
    text[300] = '\0';
    snprintf(args, sizeof args, "--view backward --level op --layers 8 --hidden 4 --text '%s' -o %%s/big.svg", text);
    time_t t0 = time(NULL);
    expect_cli(2, dir, args, err, sizeof err);
    assert_true(time(NULL) - t0 < 30);
    assert_non_null(strstr(err, "RECUR_DRAW_MAX_ITEMS"));
    assert_non_null(strstr(err, "--max-steps"));
    struct rusage before, after;
    getrusage(RUSAGE_CHILDREN, &before);
    expect_cli(0, dir, "--hidden 4096 --layers 8 -o %s/wide.svg", err, sizeof err);
    getrusage(RUSAGE_CHILDREN, &after);
    assert_true(after.ru_maxrss < 400 * 1024); /* kilobytes: no 4096-unit weights */
    expect_cli(0, dir, "--view both --level cell --state-labels --one-based --highlight time --equations "
                       "--dpi 100 --font-size 12 -o %s/opts.png", err, sizeof err);
    expect_cli(0, dir, "--level internals --legend -o %s/int.dot", err, sizeof err);
    expect_cli(2, dir, "--highlight everything -o %s/x.svg", err, sizeof err);
    assert_non_null(strstr(err, "--highlight"));
    expect_cli(2, dir, "--level gates -o %s/x.svg", err, sizeof err);
    const char *names[] = {"big.svg", "wide.svg", "opts.png", "int.dot", "x.svg"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    assert_int_equal(rmdir(dir), 0);
}

/* --------------------------------------------------------- the gallery */

static recur_status check_figure(recur_graph *g, int n_out, const recur_value *out, const recur_draw_opts *o,
                                 const char *stem);
#define GALLERY_CHECK check_figure
#include "../examples/gallery.c"

/* What each figure of the gallery must show, beyond assert_clean. */
static void expect(Agraph_t *G, const char *stem)
{
    char a[64], b[64];
    if (strcmp(stem, "cell_rolled") == 0) {
        assert_int_equal(count(G, "cell_"), 1);
        assert_int_equal(count(G, "delay_"), 1);
        assert_int_equal(count(G, "out_"), 2);
        Agnode_t *h = labelled(G, "out_", "h_n");
        assert_true(fabs(cy(h) - cy(find_node(G, "cell_0"))) < 1);
        assert_string_equal(get(agfstin(G, h), "style"), "dashed"); /* the exported state */
    } else if (strcmp(stem, "cell_unrolled") == 0) {
        assert_int_equal(count(G, "cell_0_"), 5);
        assert_int_equal(count(G, "in_"), 5);
        assert_int_equal(count(G, "out_"), 6);
        assert_int_equal(count(G, "label_"), 5); /* h-1 .. h3 */
        for (int t = 0; t < 5; t++) assert_true(fabs(cy(find_node(G, nm(a, "cell_0_%d", t, 0))) - cy(find_node(G, "cell_0_0"))) < 1);
    } else if (strcmp(stem, "cell_icon") == 0) {
        assert_int_equal(count(G, "cell_"), 1);
        assert_int_equal(count(G, "delay_"), 1);
    } else if (strcmp(stem, "layer_icon") == 0) {
        assert_int_equal(count_labelled(G, "op_", "matmul"), 2);
        assert_int_equal(count_labelled(G, "op_", "tanh"), 1);
        assert_int_equal(count(G, "param_"), 4);
    } else if (strcmp(stem, "lstm_block") == 0) {
        assert_int_equal(count_labelled(G, "op_", "gate"), 3);
        assert_int_equal(count(G, "delay_"), 2);
        assert_int_equal(count(G, "note_"), 1);
        assert_loops_outside(G, stem);
    } else if (strcmp(stem, "gru_block") == 0) {
        assert_int_equal(count_labelled(G, "op_", "gate"), 2);
        assert_int_equal(count(G, "delay_"), 1);
        assert_loops_outside(G, stem);
        /* Its state's line above the gates that feed it, as the textbooks draw a GRU. */
        Agnode_t *h = labelled(G, "in_", "h[t-1]");
        assert_non_null(h);
        for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
            if (named(v, "op_") && strstr(get(v, "label"), "gate")) assert_true(cy(v) < cy(h));
    } else if (strcmp(stem, "lstm_head") == 0) {
        for (int t = 0; t < 4; t++) {
            Agnode_t *cell = find_node(G, nm(a, "cell_0_%d", t, 0)), *out = find_node(G, nm(b, "out_0_%d", t, 0));
            Agnode_t *dense = NULL;
            for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
                if (named(v, "op_") && fabs(cx(v) - cx(cell)) < 1) dense = v;
            assert_non_null(dense); /* the head's layer between the cell and the output */
            assert_true(cy(cell) < cy(dense) && cy(dense) < cy(out));
        }
    } else if (strcmp(stem, "deep") == 0) {
        assert_int_equal(count(G, "cell_"), 3);
        assert_int_equal(count(G, "ucell_"), 12);
        for (int l = 0; l < 3; l++)
            assert_true(fabs(cy(find_node(G, nm(a, "cell_%d", l, 0))) - cy(find_node(G, nm(b, "ucell_%d_0", l, 0)))) < 1);
    } else if (strcmp(stem, "bidirectional_concat") == 0 || strcmp(stem, "bidirectional_sum") == 0) {
        int sum = stem[14] == 's', f = sum ? 2 : 0;
        assert_int_equal(count(G, "cell_"), 8);
        assert_int_equal(count_labelled(G, "join_", sum ? "+" : "concat"), 4);
        for (int t = 0; t < 4; t++) assert_true(cy(find_node(G, nm(a, "cell_%d_%d", f + 1, t))) > cy(find_node(G, nm(b, "cell_%d_%d", f, t))));
    } else if (strcmp(stem, "deep_bidirectional") == 0) {
        assert_int_equal(count(G, "cell_"), 24);
        assert_int_equal(count(G, "join_"), 12);
    } else if (strcmp(stem, "seq2seq") == 0) {
        assert_int_equal(count(G, "cell_0_"), 3);
        assert_int_equal(count(G, "cell_1_"), 4);
        assert_int_equal(count_edges(G, "#666666"), 3); /* the words fed back */
        assert_non_null(labelled(G, "label_", "context"));
    } else if (strcmp(stem, "seq2seq_long") == 0) {
        assert_int_equal(count(G, "cell_0_"), 4);
        assert_int_equal(count(G, "cell_1_"), 4);
        const int shown[] = {0, 1, 38, 39};
        for (int k = 0; k < 4; k++)
            assert_true(fabs(cx(find_node(G, nm(a, "out_0_%d", shown[k], 0))) - cx(find_node(G, nm(b, "cell_1_%d", shown[k], 0)))) < 1);
    } else if (strcmp(stem, "attention") == 0) {
        assert_int_equal(count(G, "memory_"), 1);
        assert_int_equal(count(G, "attn_"), 4);
        assert_int_equal(count_labelled(G, "out_", "weights"), 4);
    } else if (strcmp(stem, "two_mlps") == 0) {
        assert_int_equal(count_labelled(G, "op_", "MLP of x"), 1);
        assert_int_equal(count_labelled(G, "op_", "MLP of h"), 1);
        assert_int_equal(count_labelled(G, "glyph_", "+"), 1);
        assert_loops_outside(G, stem);
        /* Two names of one initial told apart in the equations: M_x and M_h, not M and M. */
        assert_int_equal(count_labelled(G, "note_", "M_x = "), 1);
        assert_int_equal(count_labelled(G, "note_", "tanh(M_x + M_h)"), 1);
    } else if (strcmp(stem, "custom_gates") == 0) {
        assert_int_equal(count_labelled(G, "op_", "forget gate"), 3);
        assert_non_null(agsubg(G, "cluster_cell0_2", 0));
        assert_int_equal(assert_states_enter_once(G, stem), 2); /* h from step 1 to 2 and from 2 to 3 */
        for (int t = 0; t < 3; t++) assert_non_null(labelled(G, "in_", nm(a, "h[%d]", t, 0)));
        assert_non_null(strstr(get(find_node(G, "note_1"), "label"), "f = \xcf\x83(W_0 x + U_0 h + b_0)"));
        assert_non_null(strstr(get(find_node(G, "note_1"), "label"), "h' = f \xe2\x8a\x99 h + (1 \xe2\x88\x92 f) \xe2\x8a\x99 tanh(W_1 x + U_1 h + b_1)"));
    } else if (strcmp(stem, "residual") == 0) {
        assert_int_equal(count(G, "cell_"), 12);
        assert_int_equal(count_edges(G, "#2e7d32"), 8);
    } else if (strcmp(stem, "gnmt_encoder") == 0) {
        assert_int_equal(count(G, "cell_"), 8 + 12);
        assert_int_equal(count_labelled(G, "join_", "concat"), 4);
        assert_int_equal(count_edges(G, "#2e7d32"), 8);
    } else if (strcmp(stem, "bptt") == 0 || strcmp(stem, "bptt_deep") == 0) {
        int layers = stem[4] ? 2 : 1;
        assert_int_equal(count(G, "grad_"), 4 * layers);
        assert_int_equal(count(G, "loss_"), 1);
        assert_int_equal(count(G, "out_"), layers); /* a rect of weight gradients per layer */
        assert_int_equal(count_edges(G, "#e06000"), layers == 2 ? 4 : 0);
    } else {
        fail_msg("no expectations for figure %s", stem);
    }
}

static int figures_checked;

static recur_status check_figure(recur_graph *g, int n_out, const recur_value *out, const recur_draw_opts *o,
                                 const char *stem)
{
    Agraph_t *G = laid_out(g, n_out, out, o);
    assert_clean(G, stem);
    expect(G, stem);
    laid_out_free(G);
    figures_checked++;
    return RECUR_OK;
}

static void test_gallery(void **state)
{
    (void)state;
    for (int i = 0; i < N_FIGURES; i++) assert_int_equal(figures[i].build(), RECUR_OK);
    int images = 0;
    for (int i = 0; i < N_FIGURES; i++) images += 1 + (figures[i].images[1] != NULL);
    assert_int_equal(figures_checked, images);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bidirectional_inputs_beside_cells),
        cmocka_unit_test(test_bidirectional_rolled_clear_of_delay),
        cmocka_unit_test(test_labels_clear_and_readable),
        cmocka_unit_test(test_feedback_within_its_gap),
        cmocka_unit_test(test_final_states_beside_cell),
        cmocka_unit_test(test_attention_boxes),
        cmocka_unit_test(test_loss_keeps_columns),
        cmocka_unit_test(test_backward_per_step_between_layers),
        cmocka_unit_test(test_backward_seq2seq),
        cmocka_unit_test(test_backward_needs_gradients),
        cmocka_unit_test(test_op_level_steps_alike),
        cmocka_unit_test(test_too_large_refused),
        cmocka_unit_test(test_legend),
        cmocka_unit_test(test_type_and_size),
        cmocka_unit_test(test_state_labels),
        cmocka_unit_test(test_highlight),
        cmocka_unit_test(test_side_by_side),
        cmocka_unit_test(test_internals),
        cmocka_unit_test(test_equations),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_gallery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
