/*
 * draw/draw_scene.c — a scene (boxes, edges, clusters) and its cgraph graph.
 *
 * The graph is laid out bottom to top (rankdir=BT): items of one layer
 * share a rank (a rank=same subgraph), layers are kept in order by
 * invisible edges, the items of a layer are chained left to right in column
 * order, and the items of one column are chained by invisible heavy edges
 * so that each time step stands straight. An edge between two
 * items of one layer that runs right to left (a reverse loop's state, a
 * gradient against time) is written left to right with dir=back, so the
 * columns keep their order. Names are made from the items' kinds and
 * indices, never from pointers, so the output is deterministic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"

static const char *const kind_prefix[DRAW_KIND_COUNT] = {"in",   "cell",  "grad", "join", "op",   "param", "out",
                                                         "loss", "init",  "delay", "ell", "label", "memory",
                                                         "attn", "glyph", "note", "block"};

static uint32_t mix(uint32_t h, uint32_t x)
{
    h ^= x + 0x9e3779b9u + (h << 6) + (h >> 2);
    return h;
}

static uint32_t item_hash(draw_kind kind, int a, int b, int space)
{
    return mix(mix(mix(mix(17u, (uint32_t)kind), (uint32_t)a), (uint32_t)b), (uint32_t)space);
}

static uint32_t edge_hash(int from, int to, draw_edge_kind kind, int tag)
{
    return mix(mix(mix(mix(31u, (uint32_t)from), (uint32_t)to), (uint32_t)kind), (uint32_t)tag);
}

/* Doubles an open-addressing table of indexes + 1, re-inserting with `hash`. */
static int rehash(draw_scene *s, int32_t **table, int *cap, int n, int items)
{
    int new_cap = *cap ? 2 * *cap : 256;
    int32_t *t = calloc((size_t)new_cap, sizeof *t);
    if (!t) return 0;
    for (int i = 0; i < n; i++) {
        uint32_t h = items ? item_hash(s->items[i].kind, s->items[i].a, s->items[i].b, s->items[i].space)
                           : edge_hash(s->edges[i].from, s->edges[i].to, s->edges[i].kind, s->edges[i].tag);
        uint32_t j = h & (uint32_t)(new_cap - 1);
        while (t[j]) j = (j + 1) & (uint32_t)(new_cap - 1);
        t[j] = i + 1;
    }
    free(*table);
    *table = t;
    *cap = new_cap;
    return 1;
}

int recur_draw_item_find(const draw_scene *s, draw_kind kind, int a, int b)
{
    if (!s->item_hash_cap) return -1;
    uint32_t j = item_hash(kind, a, b, s->space) & (uint32_t)(s->item_hash_cap - 1);
    for (; s->item_hash[j]; j = (j + 1) & (uint32_t)(s->item_hash_cap - 1)) {
        const draw_item *it = &s->items[s->item_hash[j] - 1];
        if (it->kind == kind && it->a == a && it->b == b && it->space == s->space) return s->item_hash[j] - 1;
    }
    return -1;
}

int recur_draw_item_add(draw_scene *s, draw_kind kind, int a, int b, const char *label)
{
    int found = recur_draw_item_find(s, kind, a, b);
    if (found >= 0) return found;
    if (s->n_items == s->cap_items) {
        int cap = s->cap_items ? 2 * s->cap_items : 64;
        draw_item *items = realloc(s->items, sizeof *items * (size_t)cap);
        if (!items) goto nomem;
        s->items = items;
        s->cap_items = cap;
    }
    if (2 * (s->n_items + 1) > s->item_hash_cap && !rehash(s, &s->item_hash, &s->item_hash_cap, s->n_items, 1))
        goto nomem;
    draw_item *it = &s->items[s->n_items];
    memset(it, 0, sizeof *it);
    it->kind = kind, it->a = a, it->b = b, it->space = s->space;
    it->layer = it->col = it->cluster = it->loop = it->level = -1;
    if (b >= 0)
        snprintf(it->name, sizeof it->name, "%s_%d_%d", kind_prefix[kind], a, b);
    else
        snprintf(it->name, sizeof it->name, "%s_%d", kind_prefix[kind], a);
    it->label = strdup(label ? label : "");
    if (!it->label) goto nomem;
    uint32_t j = item_hash(kind, a, b, s->space) & (uint32_t)(s->item_hash_cap - 1);
    while (s->item_hash[j]) j = (j + 1) & (uint32_t)(s->item_hash_cap - 1);
    s->item_hash[j] = ++s->n_items;
    return s->n_items - 1;
nomem:
    s->st = RECUR_ERR_NOMEM;
    return -1;
}

int recur_draw_edge_add(draw_scene *s, int from, int to, draw_edge_kind kind, int tag, const char *label)
{
    if (from < 0 || to < 0) return -1;
    if (s->edge_hash_cap) {
        uint32_t j = edge_hash(from, to, kind, tag) & (uint32_t)(s->edge_hash_cap - 1);
        for (; s->edge_hash[j]; j = (j + 1) & (uint32_t)(s->edge_hash_cap - 1)) {
            const draw_edge *e = &s->edges[s->edge_hash[j] - 1];
            if (e->from == from && e->to == to && e->kind == kind && e->tag == tag) return s->edge_hash[j] - 1;
        }
    }
    if (s->n_edges == s->cap_edges) {
        int cap = s->cap_edges ? 2 * s->cap_edges : 64;
        draw_edge *edges = realloc(s->edges, sizeof *edges * (size_t)cap);
        if (!edges) goto nomem;
        s->edges = edges;
        s->cap_edges = cap;
    }
    if (2 * (s->n_edges + 1) > s->edge_hash_cap && !rehash(s, &s->edge_hash, &s->edge_hash_cap, s->n_edges, 0))
        goto nomem;
    draw_edge *e = &s->edges[s->n_edges];
    memset(e, 0, sizeof *e);
    e->from = from, e->to = to, e->kind = kind, e->tag = tag;
    e->loose = kind == DRAW_E_CAPTURE;
    snprintf(e->label, sizeof e->label, "%s", label ? label : "");
    uint32_t j = edge_hash(from, to, kind, tag) & (uint32_t)(s->edge_hash_cap - 1);
    while (s->edge_hash[j]) j = (j + 1) & (uint32_t)(s->edge_hash_cap - 1);
    s->edge_hash[j] = ++s->n_edges;
    return s->n_edges - 1;
nomem:
    s->st = RECUR_ERR_NOMEM;
    return -1;
}

int recur_draw_cluster_add(draw_scene *s, const char *name, const char *label, int parent, draw_cluster_style style)
{
    if (s->n_clusters == s->cap_clusters) {
        int cap = s->cap_clusters ? 2 * s->cap_clusters : 32;
        draw_cluster *cl = realloc(s->clusters, sizeof *cl * (size_t)cap);
        if (!cl) {
            s->st = RECUR_ERR_NOMEM;
            return -1;
        }
        s->clusters = cl;
        s->cap_clusters = cap;
    }
    draw_cluster *cl = &s->clusters[s->n_clusters];
    memset(cl, 0, sizeof *cl);
    snprintf(cl->name, sizeof cl->name, "cluster_%s", name);
    cl->label = strdup(label ? label : "");
    if (!cl->label) {
        s->st = RECUR_ERR_NOMEM;
        return -1;
    }
    cl->parent = parent;
    cl->style = style;
    cl->base = -1;
    return s->n_clusters++;
}

void recur_draw_scene_free(draw_scene *s)
{
    for (int i = 0; i < s->n_items; i++) free(s->items[i].label);
    for (int i = 0; i < s->n_clusters; i++) free(s->clusters[i].label);
    for (int i = 0; i < s->n_edges; i++) free(s->edges[i].pts);
    free(s->items), free(s->edges), free(s->clusters), free(s->item_hash), free(s->edge_hash);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------- to cgraph */

/* Sets an attribute, declaring it on the root (empty default) if it is new. */
static void set(void *obj, const char *name, const char *value)
{
    agsafeset(obj, (char *)name, (char *)value, "");
}

/* Sets a numeric attribute. */
static void setf(void *obj, const char *name, double value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.4g", value);
    set(obj, name, buf);
}

/* Escapes a label for Graphviz, whose labels read "\n", "\l" and "\N" as escapes. */
static void escape_label(const char *in, char *out, size_t len)
{
    size_t j = 0;
    for (; *in && j + 2 < len; in++) {
        if (*in == '\\') out[j++] = '\\';
        out[j++] = *in;
    }
    out[j] = '\0';
}

/* The type of a drawing: the family and the cells' size, the rest in proportion. */
typedef struct type {
    const char *font;
    double size;
} type;

/* Each kind's look: "name=value" attributes (";" between) and its font size relative to the cells' (0: theirs). */
static const struct {
    const char *attrs;
    double font;
} look[DRAW_KIND_COUNT] = {
    [DRAW_INPUT] = {"style=rounded", 0},
    [DRAW_CELL] = {"style=rounded,filled;fillcolor=#dbe9f6;height=0.5;width=0.9", 0},
    [DRAW_GRAD] = {"style=rounded,filled;fillcolor=#f8d7d7;color=#b00000;height=0.5;width=0.9", 0},
    [DRAW_JOIN] = {"", 0},
    [DRAW_OP] = {"style=rounded,filled;fillcolor=white", 0.8},
    [DRAW_PARAM] = {"style=filled;fillcolor=#eeeeee;color=#888888;height=0.25", 0.7},
    [DRAW_OUTPUT] = {"style=rounded,filled;fillcolor=#e2f0d9", 0},
    [DRAW_LOSS] = {"style=filled;fillcolor=#fff2cc", 0},
    [DRAW_INIT] = {"shape=circle;width=0.26;fixedsize=true", 0},
    [DRAW_DELAY] = {"shape=square;style=filled;fillcolor=black;width=0.18;height=0.18;fixedsize=true", 0},
    [DRAW_ELLIPSIS] = {"shape=plaintext", 1.3},
    [DRAW_LABEL] = {"shape=plaintext;margin=0.02,0.01;height=0.1;width=0.1", 0.8},
    [DRAW_MEMORY] = {"style=filled;fillcolor=#f3e8fb;color=#7b4fa0", 0.8},
    [DRAW_ATTN] = {"shape=ellipse;style=filled;fillcolor=#f3e8fb;color=#7b4fa0", 0.8},
    [DRAW_GLYPH] = {"shape=circle;width=0.34;fixedsize=true;style=filled;fillcolor=white", 0},
    [DRAW_NOTE] = {"shape=plaintext", 0.8},
    [DRAW_BLOCK] = {"", 0},
};

/* Sets the "name=value;..." attributes of `attrs` on obj. */
static void set_all(void *obj, const char *attrs)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", attrs);
    for (char *part = buf, *next; part && *part; part = next) {
        next = strchr(part, ';');
        if (next) *next++ = '\0';
        char *eq = strchr(part, '=');
        if (!eq) continue;
        *eq = '\0';
        set(obj, part, eq + 1);
    }
}

static void style_item(Agraph_t *G, Agnode_t *n, const draw_item *it, int op_level, int internals, const type *ty)
{
    char label[512];
    if (it->html) {
        set(n, "label", ""); /* declared plain; an HTML string is set through agstrdup_html */
        char *h = agstrdup_html(G, it->label);
        agxset(n, agattr(G, AGNODE, "label", NULL), h);
        agstrfree(G, h);
    } else {
        escape_label(it->label, label, sizeof label);
        set(n, "label", label);
    }
    set_all(n, look[it->kind].attrs);
    if (look[it->kind].font > 0) setf(n, "fontsize", look[it->kind].font * ty->size);
    /* What depends on the item: a reverse loop's colour, a gradient's, a join's circle. */
    if (it->kind == DRAW_INPUT && op_level) setf(n, "fontsize", 0.8 * ty->size);
    if (it->kind == DRAW_CELL && it->reverse) set(n, "fillcolor", "#fbe3cf");
    if (it->kind == DRAW_JOIN && strlen(it->label) <= 2) set_all(n, "shape=circle;width=0.34;fixedsize=true");
    if (it->kind == DRAW_JOIN && strlen(it->label) > 2) setf(n, "fontsize", 0.8 * ty->size);
    if (it->kind == DRAW_OP && (it->grad || internals)) set(n, "fillcolor", it->grad ? "#fdf0f0" : "#fdf3c4");
    if (it->kind == DRAW_OUTPUT && it->grad) set_all(n, "fillcolor=#f8d7d7;color=#b00000");
    if (it->highlight) set_all(n, "color=#e06000;penwidth=2.5");
}

static void style_edge(Agedge_t *e, const draw_edge *d, int op_level)
{
    switch (d->kind) {
    case DRAW_E_DATA:
        break;
    case DRAW_E_STATE:
        set(e, "penwidth", "1.6");
        if (op_level) set(e, "constraint", "false");
        break;
    case DRAW_E_EXPORT:
        set(e, "style", "dashed");
        set(e, "penwidth", "1.4");
        if (op_level) set(e, "constraint", "false");
        break;
    case DRAW_E_CAPTURE:
        set(e, "style", "dotted");
        set(e, "color", "#777777");
        break;
    case DRAW_E_FEEDBACK:
        set(e, "style", "dashed");
        set(e, "color", "#666666");
        set(e, "weight", "0");
        break;
    case DRAW_E_SKIP:
        set(e, "color", "#2e7d32");
        set(e, "penwidth", "1.4");
        break;
    case DRAW_E_GRAD:
        set(e, "color", "#c00000");
        break;
    case DRAW_E_ATTENTION:
        set(e, "style", "dotted");
        set(e, "color", "#7b4fa0");
        set(e, "penwidth", "1.4");
        break;
    case DRAW_E_INVIS:
        set(e, "style", "invis");
        break;
    case DRAW_E_KIND_COUNT:
        break;
    }
    if (d->loose) set(e, "constraint", "false");
    if (d->highlight) {
        set(e, "color", "#e06000");
        set(e, "penwidth", "3");
    }
    /* xlabel, not label: dot lays out labels of flat edges with extra ranks, and crashes on some. */
    if (d->label[0]) set(e, "xlabel", d->label);
}

/* Layer, column and index of an item, to sort items into rank groups and column chains. */
typedef struct place {
    int layer, col, order, idx; /* order: the node an op item draws, so that every step orders its ops alike */
} place;

static int by_layer(const void *a, const void *b)
{
    const place *x = a, *y = b;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int by_layer_col(const void *a, const void *b)
{
    const place *x = a, *y = b;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    if (x->col != y->col) return x->col < y->col ? -1 : 1;
    if (x->order != y->order) return x->order < y->order ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int by_col_layer(const void *a, const void *b)
{
    const place *x = a, *y = b;
    if (x->col != y->col) return x->col < y->col ? -1 : 1;
    return by_layer(a, b);
}

/* 1 if edge e takes part in ranking. */
static int ranked(Agedge_t *e)
{
    const char *c = agget(e, "constraint");
    return !c || strcmp(c, "false") != 0;
}

/*
 * An invisible edge a -> b of the given weight for the layout. Between two
 * items of one rank (flat) an edge already joining them gets the weight
 * instead: dot trips over some parallel flat edges. Between ranks an edge
 * a -> b that takes part in ranking does the same; a loose one does not
 * keep a below b, so the invisible edge is added beside it.
 * Returns 0 when out of memory.
 */
static int invisible(Agraph_t *G, Agnode_t *a, Agnode_t *b, const char *weight, int flat)
{
    if (a == b) return 1;
    Agedge_t *e = agedge(G, a, b, NULL, 0);
    if (e && !flat && !ranked(e)) e = NULL;
    if (!e && flat) e = agedge(G, b, a, NULL, 0);
    if (!e && !flat && (e = agedge(G, b, a, NULL, 0)) && ranked(e)) return 1; /* the other way already: leave it */
    if (e && (flat || ranked(e))) {
        if (atoi(agget(e, "weight") ? agget(e, "weight") : "1") < atoi(weight)) set(e, "weight", weight);
        return 1;
    }
    e = agedge(G, a, b, NULL, 1);
    if (e) {
        set(e, "style", "invis");
        set(e, "weight", weight);
    }
    return e != NULL;
}

/* 1 if items a and b share a column and another item of it lies between their layers (pl sorted by column, layer). */
static int passes(const draw_scene *s, const place *pl, int a, int b)
{
    const draw_item *x = &s->items[a], *y = &s->items[b];
    if (x->col < 0 || x->col != y->col || x->layer < 0 || y->layer < 0) return 0;
    int lo = x->layer < y->layer ? x->layer : y->layer, hi = x->layer ^ y->layer ^ lo;
    for (int i = 0; i < s->n_items; i++)
        if (pl[i].col == x->col && pl[i].layer > lo && pl[i].layer < hi) return 1;
    return 0;
}

/* dot's rank groups, and the invisible edges keeping layers, rows and columns in order. */
static int dot_order(Agraph_t *G, const draw_scene *s, Agnode_t **node, place *pl)
{
    qsort(pl, (size_t)s->n_items, sizeof *pl, by_layer);
    Agnode_t *prev_first = NULL;
    for (int i = 0; i < s->n_items;) {
        int j = i;
        while (j < s->n_items && pl[j].layer == pl[i].layer) j++;
        if (pl[i].layer >= 0) {
            if (prev_first && !invisible(G, prev_first, node[pl[i].idx], "0", 0)) return 0;
            prev_first = node[pl[i].idx];
        }
        i = j;
    }
    /* Rows: the items of a layer left to right in column order. */
    qsort(pl, (size_t)s->n_items, sizeof *pl, by_layer_col);
    for (int i = 1; i < s->n_items; i++)
        if (pl[i].layer >= 0 && pl[i].layer == pl[i - 1].layer && pl[i - 1].col >= 0 && pl[i].col >= pl[i - 1].col &&
            !invisible(G, node[pl[i - 1].idx], node[pl[i].idx], "0", 1))
            return 0;
    /* Columns: each item above the one below it in its column. */
    qsort(pl, (size_t)s->n_items, sizeof *pl, by_col_layer);
    for (int i = 1; i < s->n_items; i++)
        if (pl[i].col >= 0 && pl[i].col == pl[i - 1].col && pl[i - 1].layer >= 0 && pl[i].layer > pl[i - 1].layer &&
            !invisible(G, node[pl[i - 1].idx], node[pl[i].idx], "8", 0))
            return 0;
    /* Feedback edges from the outputs down to the inputs keep the columns in order only so. */
    for (int i = 0; i < s->n_edges; i++)
        if (s->edges[i].kind == DRAW_E_FEEDBACK) {
            agsafeset(G, "ordering", "out", "");
            break;
        }
    return 1;
}

Agraph_t *recur_draw_scene_graph(const draw_scene *s, const recur_draw_opts *o, Agnode_t **node, Agedge_t **edge)
{
    Agraph_t *G = agopen("recur", Agdirected, recur_draw_disc());
    if (!G) return NULL;
    type ty = {o->font && *o->font ? o->font : RECUR_DRAW_FONT, o->font_size > 0 ? o->font_size : 14};
    char size[64] = "";
    if (o->width > 0 || o->height > 0)
        snprintf(size, sizeof size, "%.4g,%.4g", o->width > 0 ? o->width : 1000.0, o->height > 0 ? o->height : 1000.0);
    char font_size[32], edge_size[32];
    snprintf(font_size, sizeof font_size, "%.4g", ty.size);
    snprintf(edge_size, sizeof edge_size, "%.4g", 0.8 * ty.size);
    /* Declarations with their defaults, in a fixed order. */
    agattr(G, AGRAPH, "rankdir", "BT");
    agattr(G, AGRAPH, "newrank", "true");
    agattr(G, AGRAPH, "nodesep", s->op_level ? "0.2" : "0.3");
    agattr(G, AGRAPH, "ranksep", s->op_level ? "0.25" : "0.35");
    agattr(G, AGRAPH, "fontname", (char *)ty.font);
    agattr(G, AGRAPH, "fontsize", font_size);
    agattr(G, AGRAPH, "labelloc", "t");
    agattr(G, AGRAPH, "label", "");
    agattr(G, AGRAPH, "size", size);
    agattr(G, AGRAPH, "style", "");
    agattr(G, AGRAPH, "color", "");
    agattr(G, AGRAPH, "fillcolor", "");
    agattr(G, AGRAPH, "rank", "");
    agattr(G, AGNODE, "fontname", (char *)ty.font);
    agattr(G, AGNODE, "fontsize", font_size);
    agattr(G, AGNODE, "shape", "box");
    agattr(G, AGNODE, "height", "0.3");
    agattr(G, AGNODE, "width", "0.3");
    agattr(G, AGNODE, "margin", "0.1,0.05");
    agattr(G, AGEDGE, "fontname", (char *)ty.font);
    agattr(G, AGEDGE, "fontsize", edge_size);
    agattr(G, AGEDGE, "arrowsize", "0.7");

    Agraph_t **sub = calloc((size_t)s->n_clusters + 1, sizeof *sub);
    place *pl = malloc(sizeof *pl * ((size_t)s->n_items + 1));
    if (!sub || !pl) goto fail;
    for (int i = 0; i < s->n_clusters; i++) {
        const draw_cluster *cl = &s->clusters[i];
        Agraph_t *parent = cl->parent >= 0 ? sub[cl->parent] : G;
        sub[i] = agsubg(parent, (char *)cl->name, 1);
        if (!sub[i]) goto fail;
        char label[256];
        escape_label(cl->label, label, sizeof label);
        set(sub[i], "label", label);
        set(sub[i], "style", "rounded,filled");
        set(sub[i], "fontsize", edge_size);
        switch (cl->style) {
        case DRAW_CL_CELL:
            set(sub[i], "fillcolor", cl->reverse ? "#fdf0e4" : "#eaf2fb");
            set(sub[i], "color", cl->reverse ? "#e6a06a" : "#7aa6d6");
            break;
        case DRAW_CL_GRAD:
            set(sub[i], "fillcolor", "#fbeaea");
            set(sub[i], "color", "#c00000");
            break;
        }
    }
    for (int i = 0; i < s->n_items; i++) {
        const draw_item *it = &s->items[i];
        pl[i] = (place){it->dropped ? -1 : it->layer, it->col, it->kind == DRAW_OP || it->kind == DRAW_INPUT ? it->a : 0, i};
        if (it->dropped) continue;
        node[i] = agnode(it->cluster >= 0 ? sub[it->cluster] : G, (char *)it->name, 1);
        if (!node[i]) goto fail;
        style_item(G, node[i], it, s->op_level, s->internals, &ty);
    }
    qsort(pl, (size_t)s->n_items, sizeof *pl, by_col_layer);
    for (int i = 0; i < s->n_edges; i++) {
        const draw_edge *d = &s->edges[i];
        const draw_item *a = &s->items[d->from], *b = &s->items[d->to];
        if ((s->pinned && d->kind == DRAW_E_INVIS) || a->dropped || b->dropped) continue; /* nothing to route */
        /* dot: right to left within a layer, written left to right and drawn backwards; so is an output fed
         * back down to an input, which dot then routes as an ordinary upward edge. */
        int back = !s->pinned && ((a->layer >= 0 && a->layer == b->layer && a->col > b->col && b->col >= 0) ||
                                  d->kind == DRAW_E_FEEDBACK);
        Agedge_t *e = back ? agedge(G, node[d->to], node[d->from], NULL, 1) : agedge(G, node[d->from], node[d->to], NULL, 1);
        if (!e) goto fail;
        edge[i] = e;
        style_edge(e, d, s->op_level);
        if (back) set(e, "dir", "back");
        /* dot: an edge passing an item of its column: into a cell on the left side, else on the right,
         * so that the edges around a row never cross and every column looks alike. */
        if (!s->pinned && !back && passes(s, pl, d->from, d->to)) {
            const char *side = b->kind == DRAW_CELL || b->kind == DRAW_GRAD ? "w" : "e";
            set(e, "tailport", side);
            set(e, "headport", side);
        }
    }
    /* Rank groups by layer (the pinned layout ignores them; they name each item's layer). */
    qsort(pl, (size_t)s->n_items, sizeof *pl, by_layer);
    for (int i = 0; i < s->n_items;) {
        int j = i;
        while (j < s->n_items && pl[j].layer == pl[i].layer) j++;
        if (pl[i].layer >= 0) {
            char name[32];
            snprintf(name, sizeof name, "rank_%d", pl[i].layer);
            Agraph_t *r = agsubg(G, name, 1);
            if (!r) goto fail;
            set(r, "rank", "same");
            for (int k = i; k < j; k++)
                if (s->items[pl[k].idx].kind != DRAW_NOTE || !s->pinned) agsubnode(r, node[pl[k].idx], 1);
        }
        i = j;
    }
    if (!s->pinned && !dot_order(G, s, node, pl)) goto fail;
    if (o->title && *o->title) {
        char label[512];
        escape_label(o->title, label, sizeof label);
        agset(G, "label", label);
    }
    free(sub), free(pl);
    return G;
fail:
    free(sub), free(pl);
    agclose(G);
    return NULL;
}

void recur_draw_scene_append(draw_scene *to, const draw_scene *from, const char *prefix, int cols)
{
    int item0 = to->n_items, cluster0 = to->n_clusters, space = to->space;
    for (int i = 0; i < from->n_clusters && to->st == RECUR_OK; i++) {
        const draw_cluster *cl = &from->clusters[i];
        char name[48];
        snprintf(name, sizeof name, "%s%s", prefix, cl->name + 8); /* after "cluster_" */
        int k = recur_draw_cluster_add(to, name, cl->label, cl->parent >= 0 ? cl->parent + cluster0 : -1, cl->style);
        if (k >= 0) to->clusters[k].reverse = cl->reverse;
    }
    to->space = space + 1; /* the copies are items of their own, whatever their kind and identity */
    for (int i = 0; i < from->n_items && to->st == RECUR_OK; i++) {
        const draw_item *it = &from->items[i];
        int I = recur_draw_item_add(to, it->kind, it->a, it->b, it->label);
        if (I < 0) break;
        draw_item *copy = &to->items[I];
        char *label = copy->label;
        *copy = *it;
        copy->label = label;
        copy->space = to->space;
        snprintf(copy->name, sizeof copy->name, "%s%s", prefix, it->name);
        if (copy->col >= 0) copy->col += cols;
        if (copy->cluster >= 0) copy->cluster += cluster0;
    }
    to->space = space;
    for (int i = 0; i < from->n_edges && to->st == RECUR_OK; i++) {
        const draw_edge *e = &from->edges[i];
        int k = recur_draw_edge_add(to, e->from + item0, e->to + item0, e->kind, e->tag, e->label);
        if (k < 0) return;
        draw_edge copy = *e;
        copy.from = e->from + item0, copy.to = e->to + item0;
        copy.pts = NULL, copy.n_pts = 0; /* routes are made after the scenes are joined */
        to->edges[k] = copy;
    }
}
