/*
 * draw/draw.c — the drawing API: options, formats, rendering through gvc,
 * and files written under a temporary name so that a failure leaves
 * nothing at the target path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <graphviz/gvc.h>

#include "draw.h"

/* The formats: DOT is written by cgraph (not laid out), the rest rendered by gvc. */
static const struct {
    const char *name;
    const char *renderer; /* gvc's format name, NULL for DOT */
} formats[] = {{"dot", NULL}, {"gv", NULL}, {"svg", "svg"}, {"png", "png"}, {"pdf", "pdf"}};

enum { N_FORMATS = sizeof formats / sizeof formats[0] };

static int find_format(const char *name)
{
    for (int i = 0; i < N_FORMATS; i++)
        if (strcasecmp(name, formats[i].name) == 0) return i;
    return -1;
}

/* Graphviz's error messages during a render, kept for ours (Graphviz itself is not thread-safe). */
static char gv_msg[512];
static size_t gv_len;

static int gv_capture(char *msg)
{
    size_t n = strlen(msg);
    if (gv_len + n >= sizeof gv_msg) n = sizeof gv_msg - 1 - gv_len;
    memcpy(gv_msg + gv_len, msg, n);
    gv_len += n;
    gv_msg[gv_len] = '\0';
    return 0;
}

static recur_status check_labels(recur_graph *g, const char *what, const char *const *labels, int n)
{
    if (n < 0 || (n > 0 && !labels))
        return recur_set_error(g, RECUR_ERR_ARG, "draw: %s has %d entries but %s", what, n,
                               n < 0 ? "a count cannot be negative" : "the array is NULL");
    return RECUR_OK;
}

static recur_status check(recur_graph *g, int n_out, const recur_value *out, const recur_draw_opts *o)
{
    if (g->open_loop)
        return recur_set_error(g, RECUR_ERR_STATE, "draw: loop \"%s\" is still open; end it with recur_loop_end first",
                               g->loops[g->open_loop - 1].name);
    if (n_out < 0 || (n_out > 0 && !out))
        return recur_set_error(g, RECUR_ERR_ARG, "draw: %d outputs%s", n_out,
                               n_out < 0 ? " (a count cannot be negative)" : " but the array is NULL");
    for (int k = 0; k < n_out; k++) {
        const recur_node *n = recur_node_of(g, out[k]);
        if (!n)
            return recur_set_error(g, RECUR_ERR_VALUE, "draw: output %d (value %d) is not a live node of this graph", k,
                                   out[k].id);
        if (n->loop)
            return recur_set_error(g, RECUR_ERR_VALUE,
                                   "draw: output %d \"%s\" is a value of the body of loop \"%s\"; draw its "
                                   "recur_loop_stacked or recur_loop_final instead",
                                   k, recur_node_name(g, out[k].id), g->loops[n->loop - 1].name);
    }
    if ((int)o->view < RECUR_VIEW_ROLLED || o->view > RECUR_VIEW_BOTH)
        return recur_set_error(g, RECUR_ERR_ARG, "draw: unknown view %d", (int)o->view);
    if ((int)o->level < RECUR_LEVEL_CELL || o->level > RECUR_LEVEL_INTERNALS)
        return recur_set_error(g, RECUR_ERR_ARG, "draw: unknown level %d", (int)o->level);
    if (o->max_steps < 0 || o->max_steps == 1)
        return recur_set_error(g, RECUR_ERR_ARG,
                               "draw: max_steps is %d; use 0 (every step) or at least 2 (the first and last steps)",
                               o->max_steps);
    recur_status st;
    if ((st = check_labels(g, "input_labels", o->input_labels, o->n_input_labels)) != RECUR_OK ||
        (st = check_labels(g, "output_labels", o->output_labels, o->n_output_labels)) != RECUR_OK ||
        (st = check_labels(g, "layer_labels", o->layer_labels, o->n_layer_labels)) != RECUR_OK)
        return st;
    if (o->view == RECUR_VIEW_BACKWARD && (!recur_node_of(g, o->loss) || g->nodes[o->loss.id].loop))
        return recur_set_error(g, RECUR_ERR_ARG,
                               "draw: the backward view needs opts->loss, the value the gradients were taken of "
                               "(value %d is not a live node of the outer graph)",
                               o->loss.id);
    if (o->view == RECUR_VIEW_BACKWARD && recur_shape_numel(g->nodes[o->loss.id].shape) != 1) {
        char shape[64];
        return recur_set_error(g, RECUR_ERR_ARG,
                               "draw: the backward view's loss must be a scalar, the value the gradients were taken of; "
                               "\"%s\" is %s",
                               recur_node_name(g, o->loss.id), recur_shape_str(g->nodes[o->loss.id].shape, shape, sizeof shape));
    }
    if (o->dpi < 0 || o->width < 0 || o->height < 0 || o->font_size < 0 || o->dpi > 2400 || o->font_size > 200)
        return recur_set_error(g, RECUR_ERR_ARG,
                               "draw: dpi %g, width %g, height %g, font_size %g: each must be 0 (the default) or "
                               "positive (dpi at most 2400, font_size at most 200)",
                               o->dpi, o->width, o->height, o->font_size);
    if ((int)o->highlight < RECUR_HIGHLIGHT_NONE || o->highlight > RECUR_HIGHLIGHT_TIME_PATH)
        return recur_set_error(g, RECUR_ERR_ARG, "draw: unknown highlight %d", (int)o->highlight);
    return RECUR_OK;
}

/* The Graphviz source, written by cgraph into memory. */
static recur_status write_dot(recur_graph *g, Agraph_t *G, char **buf, size_t *len)
{
    FILE *f = open_memstream(buf, len);
    if (!f) return recur_set_error(g, RECUR_ERR_NOMEM, "draw: out of memory");
    int rc = agwrite(G, f);
    if (fclose(f) != 0 || rc != 0) {
        free(*buf);
        *buf = NULL, *len = 0;
        return recur_set_error(g, RECUR_ERR_NOMEM, "draw: could not write the DOT source (out of memory?)");
    }
    return RECUR_OK;
}

/*
 * The process's one Graphviz context, made on first use and kept: its
 * pango plugin caches font names across contexts, so freeing a context and
 * making another would leave that cache pointing at freed memory.
 */
static GVC_t *context(void)
{
    static GVC_t *gvc;
    if (!gvc) gvc = gvContext();
    return gvc;
}

/* Graphviz's errors go to gv_msg (warnings nowhere) between quiet() and loud(). */
static agusererrf old_f;
static agerrlevel_t old_level;

static void quiet(void)
{
    old_f = agseterrf(gv_capture);
    old_level = agseterr(AGERR);
    gv_len = 0;
    gv_msg[0] = '\0';
}

static void loud(void)
{
    agseterrf(old_f);
    agseterr(old_level);
    size_t n = strlen(gv_msg);
    while (n > 0 && (gv_msg[n - 1] == '\n' || gv_msg[n - 1] == ' ')) gv_msg[--n] = '\0';
}

/* Lays G out with `engine` and renders it into memory in gvc's format `renderer`. */
static recur_status render(recur_graph *g, GVC_t *gvc, Agraph_t *G, const char *engine, const char *renderer, char **buf,
                           size_t *len)
{
    quiet();
    int rc = -1, laid_out = 0;
    FILE *f = NULL;
    rc = gvLayout(gvc, G, engine);
    laid_out = rc == 0;
    if (rc == 0) f = open_memstream(buf, len);
    if (f) rc = gvRender(gvc, G, renderer, f);
    else if (laid_out) rc = -1;
    if (f && fclose(f) != 0) rc = -1;
    if (laid_out) gvFreeLayout(gvc, G);
    loud();
    if (rc == 0) return RECUR_OK;
    if (f) free(*buf);
    *buf = NULL, *len = 0;
    if (laid_out && !f) return recur_set_error(g, RECUR_ERR_NOMEM, "draw: out of memory");
    if (strstr(gv_msg, "not recognized"))
        return recur_set_error(g, RECUR_ERR_UNSUPPORTED,
                               "draw: this Graphviz installation cannot %s %s (%s); install Debian's libgvc6 "
                               "plugins (libgraphviz-dev) and check `dot -c`",
                               laid_out ? "render" : "lay out for", renderer, gv_msg);
    return recur_set_error(g, RECUR_ERR_RUNTIME, "draw: Graphviz failed to %s %s: %s", laid_out ? "render" : "lay out",
                           renderer, gv_msg[0] ? gv_msg : "no message");
}

/* Analyses g for a view (recur_draw_analyse), then folds the cells' affine maps when their insides are drawn. */
static recur_status analyse(draw_ctx *c, recur_graph *g, int n_out, const recur_value *out, const recur_draw_opts *o)
{
    recur_status st = recur_draw_analyse(c, g, n_out, out, o);
    if (st == RECUR_OK && (o->level == RECUR_LEVEL_INTERNALS || o->equations) && recur_draw_fold(c) != RECUR_OK)
        st = recur_set_error(g, RECUR_ERR_NOMEM, "draw: out of memory");
    return st;
}

/* The scene of a view (not RECUR_VIEW_BOTH). */
static recur_status scene_of(draw_ctx *c, draw_scene *s)
{
    return c->o.view == RECUR_VIEW_ROLLED ? recur_draw_rolled(c, s) : recur_draw_unrolled(c, s);
}

/* Rolled and unrolled side by side: the unrolled scene appended right of the rolled one, "=" between. */
static recur_status both(recur_graph *g, int n_out, const recur_value *out, const recur_draw_opts *o, draw_ctx *c,
                         draw_scene *s)
{
    recur_draw_opts unrolled = *o;
    unrolled.view = RECUR_VIEW_UNROLLED;
    unrolled.title = NULL;
    draw_ctx c2;
    draw_scene s2;
    memset(&s2, 0, sizeof s2);
    s2.o = &unrolled;
    recur_status st = analyse(&c2, g, n_out, out, &unrolled);
    if (st == RECUR_OK) st = recur_draw_unrolled(&c2, &s2);
    if (st == RECUR_OK && (s->op_level || s2.op_level))
        st = recur_set_error(g, RECUR_ERR_ARG, "draw: RECUR_VIEW_BOTH draws cells side by side; use RECUR_LEVEL_CELL "
                                               "(and a graph with loops)");
    if (st == RECUR_OK) {
        int right = 0;
        for (int i = 0; i < s->n_items; i++)
            if (s->items[i].col > right) right = s->items[i].col;
        int eq = recur_draw_item_add(s, DRAW_LABEL, -1, -1, "="); /* in a column of its own, at the middle row */
        if (eq >= 0) {
            s->items[eq].col = right + 1;
            s->items[eq].layer = 10 * (c->n_rows / 2 + 1);
        }
        recur_draw_scene_append(s, &s2, "u", right + 2);
        if (s->st != RECUR_OK) st = recur_set_error(g, RECUR_ERR_NOMEM, "draw: out of memory");
    }
    recur_draw_ctx_free(&c2);
    recur_draw_scene_free(&s2);
    return st;
}

/* Boxes and visible edges of a scene. */
static int scene_size(const draw_scene *s, int *boxes, int *edges)
{
    *boxes = s->n_items;
    *edges = 0;
    for (int i = 0; i < s->n_edges; i++) *edges += s->edges[i].kind != DRAW_E_INVIS;
    return *boxes + *edges;
}

/* Lays the scene out as far as the format needs and writes it into memory. */
static recur_status output(recur_graph *g, draw_scene *s, const recur_draw_opts *o, int fi, char **buf, size_t *len)
{
    Agnode_t **nodes = calloc((size_t)s->n_items + 1, sizeof *nodes);
    Agedge_t **edges = calloc((size_t)s->n_edges + 1, sizeof *edges);
    Agraph_t *G = nodes && edges ? recur_draw_scene_graph(s, o, nodes, edges) : NULL;
    GVC_t *gvc = context();
    recur_status st = RECUR_OK;
    if (!G || !gvc) st = recur_set_error(g, RECUR_ERR_NOMEM, "draw: out of memory building the graph");
    if (st == RECUR_OK && s->pinned) {
        /* Graphviz measures the boxes; recur places them; Graphviz routes the edges. */
        int n_nodes = s->n_items;
        quiet();
        st = recur_draw_measure(gvc, G, nodes, s);
        s->label_pt = 0.8 * (o->font_size > 0 ? o->font_size : 14); /* (as draw_scene.c sets the clusters' fontsize) */
        if (st == RECUR_OK && s->n_clusters > 0) st = recur_draw_clusters(gvc, s);
        loud();
        if (st != RECUR_OK)
            st = recur_set_error(g, st, "draw: Graphviz could not lay out the boxes: %s", gv_msg[0] ? gv_msg : "out of memory");
        else if (recur_draw_place(s) != RECUR_OK) st = recur_set_error(g, RECUR_ERR_NOMEM, "draw: out of memory");
        if (st == RECUR_OK) {
            recur_draw_ports(s);
            if (recur_draw_route(s) != RECUR_OK) st = recur_set_error(g, RECUR_ERR_NOMEM, "draw: out of memory");
        }
        if (st == RECUR_OK) recur_draw_pin(G, nodes, n_nodes, edges, s);
    }
    if (st == RECUR_OK && formats[fi].renderer) {
        if (strcmp(formats[fi].renderer, "png") == 0) {
            char dpi[32];
            snprintf(dpi, sizeof dpi, "%.4g", o->dpi > 0 ? o->dpi : 144.0);
            agsafeset(G, "dpi", dpi, "");
        }
        st = render(g, gvc, G, s->pinned ? "nop2" : "dot", formats[fi].renderer, buf, len);
    } else if (st == RECUR_OK) {
        st = write_dot(g, G, buf, len);
    }
    if (G) agclose(G);
    free(nodes), free(edges);
    return st;
}

/* Analyses g, builds the scene of the view and writes it in format `fi` into memory. */
static recur_status draw(recur_graph *g, int n_out, const recur_value *out, const recur_draw_opts *opts, int fi,
                         char **buf, size_t *len)
{
    recur_draw_opts o;
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    recur_status st = check(g, n_out, out, &o);
    if (st != RECUR_OK) return st;
    draw_ctx c;
    draw_scene s;
    memset(&s, 0, sizeof s);
    s.o = &o;
    recur_draw_opts first = o;
    if (o.view == RECUR_VIEW_BOTH) first.view = RECUR_VIEW_ROLLED;
    st = analyse(&c, g, n_out, out, &first);
    if (st == RECUR_OK) st = scene_of(&c, &s);
    if (st == RECUR_OK && o.view == RECUR_VIEW_BOTH) st = both(g, n_out, out, &o, &c, &s);
    if (st == RECUR_OK) st = recur_draw_extras(&c, &s);
    if (st == RECUR_OK && s.pinned) recur_draw_edge_labels(&s);
    int boxes = 0, edges = 0, large = st == RECUR_OK && scene_size(&s, &boxes, &edges) > RECUR_DRAW_MAX_ITEMS;
    if (large && !formats[fi].renderer) s.pinned = 0; /* DOT of a figure too large to lay out: dot's source, unplaced */
    if (large && formats[fi].renderer)
        st = recur_set_error(g, RECUR_ERR_ARG,
                             "draw: the figure has %d boxes and %d edges, %d in all; Graphviz lays out at most %d "
                             "(RECUR_DRAW_MAX_ITEMS) in reasonable time and memory: draw fewer steps (max_steps), "
                             "the cell level, or write .dot",
                             boxes, edges, boxes + edges, RECUR_DRAW_MAX_ITEMS);
    recur_draw_ctx_free(&c);
    if (st == RECUR_OK) st = output(g, &s, &o, fi, buf, len);
    recur_draw_scene_free(&s);
    return st;
}

/* Writes len bytes to `path` through a new file beside it, renamed into place once complete. */
static recur_status write_file(recur_graph *g, const char *path, const char *buf, size_t len)
{
    size_t n = strlen(path) + 48;
    char *tmp = malloc(n);
    if (!tmp) return recur_set_error(g, RECUR_ERR_NOMEM, "draw: out of memory");
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(tmp, n, "%s.tmp%ld.%d", path, (long)getpid(), attempt);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        recur_status st = recur_set_error(g, RECUR_ERR_IO, "draw: cannot write \"%s\": %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, buf + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
    }
    int err = done < len ? errno : 0;
    if (close(fd) != 0 && !err) err = errno;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (err) {
        unlink(tmp);
        recur_status st = recur_set_error(g, RECUR_ERR_IO, "draw: cannot write \"%s\": %s", path, strerror(err));
        free(tmp);
        return st;
    }
    free(tmp);
    return RECUR_OK;
}

recur_status recur_draw(recur_graph *g, int n_outputs, const recur_value *outputs, const recur_draw_opts *opts,
                        const char *path)
{
    if (!g) return RECUR_ERR_ARG;
    if (!path || !*path) return recur_set_error(g, RECUR_ERR_ARG, "draw: no file name given");
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash))
        return recur_set_error(g, RECUR_ERR_ARG, "draw: \"%s\" has no extension; use .dot, .gv, .svg, .png or .pdf",
                               path);
    int fi = find_format(dot + 1);
    if (fi < 0)
        return recur_set_error(g, RECUR_ERR_ARG,
                               "draw: unknown extension \"%s\" of \"%s\"; use .dot, .gv, .svg, .png or .pdf", dot, path);
    char *buf = NULL;
    size_t len = 0;
    recur_status st = draw(g, n_outputs, outputs, opts, fi, &buf, &len);
    if (st == RECUR_OK) st = write_file(g, path, buf, len);
    free(buf);
    return st;
}

recur_status recur_draw_mem(recur_graph *g, int n_outputs, const recur_value *outputs, const recur_draw_opts *opts,
                            const char *format, char **out, size_t *len)
{
    if (out) *out = NULL;
    if (len) *len = 0;
    if (!g) return RECUR_ERR_ARG;
    if (!out || !len) return recur_set_error(g, RECUR_ERR_ARG, "draw_mem: out and len must not be NULL");
    int fi = format ? find_format(format) : -1;
    if (fi < 0)
        return recur_set_error(g, RECUR_ERR_ARG, "draw_mem: unknown format \"%s\"; use dot, gv, svg, png or pdf",
                               format ? format : "(null)");
    return draw(g, n_outputs, outputs, opts, fi, out, len);
}

void recur_draw_free(char *buf) { free(buf); }
