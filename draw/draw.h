/*
 * draw/draw.h — internals of the Graphviz export (private to draw/).
 *
 * A drawing is made in four steps:
 *   1. analysis: which values are time-distributed, which drawn values
 *      ("keys": a node at a time step) the outputs need and what each key
 *      reads (draw_time.c, draw_layout.c), where each loop goes (rows and
 *      columns, draw_layout.c) and, for the backward view, at which step
 *      each gradient node sits (from autodiff's stamps); for the internals
 *      level, which values fold away and what each gate is (draw_gates.c);
 *   2. a scene: the boxes, edges and clusters of one view (draw_rolled.c,
 *      draw_unrolled.c), keys joined into boxes by draw_edges.c, attention
 *      boxes (draw_attention.c), the legend, highlight and equations
 *      (draw_extras.c, draw_equations.c), on the containers of draw_scene.c;
 *   3. a layout: Graphviz measures the boxes; each op-level cluster is laid
 *      out by dot on its own (draw_cluster.c); every box is pinned on the
 *      grid of layers and columns (draw_place.c) and every edge routed
 *      around the boxes (draw_route.c); a graph without loops at op level
 *      is left to dot;
 *   4. the scene as a cgraph graph (draw_scene.c, with the deterministic
 *      object ids of draw_ids.c), rendered by gvc (draw.c).
 */
#ifndef RECUR_GRAPH_DRAW_H
#define RECUR_GRAPH_DRAW_H

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include "graph/ir.h"
#include "recur/draw.h"

/* ------------------------------------------------------------------ keys */

/* The step of a value that has none (an outer value, or any value of the rolled view). */
#define DRAW_NOSTEP (-1)

/* A drawn value: node `id` at time step t. Body nodes are keyed by their own id
 * at each step, and unrolled copies by the body node they copy. */
typedef struct draw_key {
    int32_t id, t;
} draw_key;

/* How a reference reached its key. */
enum {
    DRAW_VIA_FINAL = 1,   /* through a loop's final state */
    DRAW_VIA_STATE = 2,   /* through a state placeholder (tag: the state's index) */
    DRAW_VIA_INIT = 4,    /* through a state's initial value, at the loop's first step */
    DRAW_VIA_CAPTURE = 8, /* an outer value a loop body captures (not a weight) */
    DRAW_VIA_ALL = 16,    /* one step of a whole sequence read at once */
    DRAW_VIA_GATHER = 32  /* through a gradient node that gathers over time (backward view) */
};

/* A key one value reads, with how it got there. */
typedef struct draw_ref {
    draw_key key;
    int flags, tag;
} draw_ref;

/* A growable list of references. */
typedef struct draw_refs {
    draw_ref *v;
    int n, cap;
} draw_refs;

/* ----------------------------------------------------------------- loops */

/* Where a loop is drawn. */
typedef struct draw_loop {
    int used;        /* the outputs need it */
    int level;       /* stacking level: 0, or 1 + the level of the loops its inputs come from */
    int sub;         /* sub-row within the level (a bidirectional layer's reverse loop: 1) */
    int row;         /* row from the bottom over all levels */
    int col0, width; /* drawn columns [col0, col0 + width), from 1 (0: initial states) */
    int label0;      /* the per-column label of its step 0 */
    int head, tail;  /* steps shown before and after the ellipsis; head == T when none */
    int follows;     /* 1 + the loop whose final state starts this one (decoder of an encoder), 0: none */
    int64_t T;
    int reverse;
    int nudge;       /* -1, 0, 1: a bidirectional layer's forward row is drawn a little left, its reverse row right */
} draw_loop;

/* -------------------------------------------------------------- analysis */

typedef struct draw_ctx {
    recur_graph *g;
    recur_draw_opts o;
    int unrolled;           /* 1: keys carry time steps (unrolled and backward views) */
    int n;                  /* nodes of g */
    int n_out;
    recur_value *out;       /* the values drawn as outputs */
    /* time-distributed outer values (recur_draw_time.c) */
    int64_t *td;            /* td[id]: T when node id is computed step by step along axis 0, else 0 */
    int64_t *t0;            /* t0[id]: the step of a time-distributed node's row 0 (a chunk of a sequence: its first step; else 0) */
    int32_t *axis;          /* the loop whose columns a time-distributed node uses */
    char *token;            /* 1: a sequence input a loop reads (drawn as tokens), 2: another per-step leaf */
    char *join;             /* 1: a time-distributed node joining the outputs of different loops */
    int32_t *first_token;   /* per loop: its first sequence token (cell level draws one input box per step), -1 */
    char *folded;           /* internals level: 1 for affine maps folded into the box they feed (draw_gates.c) */
    char *line;             /* internals level: 1 + the state whose line (state to next state) the node is on */
    /* loops */
    draw_loop *loops;
    int n_loops, n_rows, n_levels;
    /* keys (draw_layout.c) */
    int32_t *slot0;         /* first slot of node id in `index`, -1: the node is never drawn */
    int32_t *index;         /* key index of each slot, -1: none */
    draw_key *keys;
    int n_keys, cap_keys;
    int32_t *op_start;      /* the references of key i are refs[op_start[i] .. op_start[i + 1]) */
    draw_refs refs;
    int32_t *post;          /* key indexes, each after the keys it reads */
    draw_refs *out_refs;    /* what each output resolves to */
    draw_refs *init_refs;   /* rolled view: what each loop's initial states resolve to (tag: state) */
    /* backward view (draw_layout.c, from autodiff's stamps) */
    char *fwd;              /* fwd[id]: the loss needs node id */
    int32_t *gloop;         /* per key: 1 + the loop of the gradient cell it belongs to, 0: none */
    int32_t *gstep;         /* per key: that cell's step */
    int32_t seed;           /* the gradient seed dL/dL = 1, -1: none */
    recur_status st;        /* RECUR_ERR_NOMEM once an allocation failed */
} draw_ctx;

/* Analyses g for drawing `outputs` with options o (already checked). On failure the error is on g. */
recur_status recur_draw_analyse(draw_ctx *c, recur_graph *g, int n_out, const recur_value *out, const recur_draw_opts *o);

/* Frees what recur_draw_analyse allocated. */
void recur_draw_ctx_free(draw_ctx *c);

/* recur_draw_time.c: marks time-distributed values (c->td, axis, token, join). */
recur_status recur_draw_time(draw_ctx *c);

/*
 * 1 if node id is a loop's mask of the real steps (recur_loop_lengths: the
 * length_mask op, reshaped or read a step at a time): bookkeeping of a loop
 * over lengths, which the cell level does not draw (the op level does).
 */
int recur_draw_is_length_mask(const draw_ctx *c, int32_t id);

/*
 * Sets in `loops` (one bit per loop) the loops whose values node `id`
 * depends on through outer nodes. `seen` (cleared), `stack` and `list`
 * have room for every node; the visited nodes are listed in `list` (so the
 * caller can clear `seen` again) and counted in *n_list.
 */
void recur_draw_loops_of(draw_ctx *c, int32_t id, uint64_t *loops, char *seen, int32_t *stack, int32_t *list, int *n_list);

/* Appends to `out` the keys node id's value at step t consists of (t == DRAW_NOSTEP: its whole value). */
void recur_draw_resolve(draw_ctx *c, int32_t id, int32_t t, int flags, int tag, draw_refs *out);

/* Appends to `out` what key k reads. */
void recur_draw_operands(draw_ctx *c, draw_key k, draw_refs *out);

/* Appends a reference (records RECUR_ERR_NOMEM on c). */
void recur_draw_refs_push(draw_ctx *c, draw_refs *r, draw_key k, int flags, int tag);

/* The key index of k, -1 if it is not drawn. */
int recur_draw_key_index(const draw_ctx *c, draw_key k);

/* 1 + the loop whose body holds node id (or of which it is an unrolled copy), 0: none. */
int recur_draw_body_loop(const draw_ctx *c, int32_t id);

/* The time step of loop li at walk position s (reverse loops walk from T-1 down). */
int64_t recur_draw_time_of(const draw_ctx *c, int li, int64_t s);

/* The drawn column of step t of loop li, -1 if the step is hidden by the ellipsis. */
int recur_draw_col(const draw_ctx *c, int li, int64_t t);

/* The column of loop li's ellipsis, -1 if it shows every step. */
int recur_draw_ellipsis_col(const draw_ctx *c, int li);

/* Cell level: 1 if node id is a named layer of a head over the steps (a box per step): named, time-distributed, not an output. */
int recur_draw_head_layer(const draw_ctx *c, int32_t id);

/* The label of loop li's cells (a layer label or the loop's name). */
const char *recur_draw_loop_label(const draw_ctx *c, int li);

/* Node id's name unless it is an automatic one ("add#12"), else NULL. */
const char *recur_draw_user_name(const recur_graph *g, int32_t id);

/* 1 if key k is a forward value: not part of the backward view's gradient graph. */
int recur_draw_is_forward(const draw_ctx *c, draw_key k);


/* ----------------------------------------------------------------- scene */

typedef enum draw_kind {
    DRAW_INPUT,    /* a sequence input token */
    DRAW_CELL,     /* a loop's cell (at a step) */
    DRAW_GRAD,     /* a loop's gradient cell at a step (backward view) */
    DRAW_JOIN,     /* where the outputs of two loops join (concat, sum, residual add) */
    DRAW_OP,       /* an op (op level) */
    DRAW_PARAM,    /* a parameter (op level) */
    DRAW_OUTPUT,   /* a drawn output */
    DRAW_LOSS,     /* the loss of the backward view */
    DRAW_INIT,     /* an initial state: an empty circle */
    DRAW_DELAY,    /* the delay of a rolled loop: a small black box */
    DRAW_ELLIPSIS, /* the steps left out of a long loop */
    DRAW_LABEL,    /* a label beside an edge or a box (a plain text item, so nothing is drawn over it) */
    DRAW_MEMORY,   /* the memory attention reads: an encoder's states */
    DRAW_ATTN,     /* attention at a decoder step */
    DRAW_GLYPH,    /* internals level: a product or sum drawn as a small circle */
    DRAW_NOTE,     /* the legend, the equations, the "=" between side-by-side views */
    DRAW_BLOCK,    /* pinned op level: a cluster placed whole (not drawn; its members sit inside it) */
    DRAW_KIND_COUNT
} draw_kind;

typedef struct draw_item {
    draw_kind kind;
    int a, b;         /* identity within the kind (say loop and step) */
    char name[48];    /* the DOT node name, made from kind, a and b */
    char *label;
    int layer;        /* vertical order: items of one layer share a rank; -1: placed by the edges */
    int col;          /* horizontal order, -1: none */
    int cluster;      /* index of its cluster, -1: none */
    int loop;         /* the loop it belongs to (colours), -1: none */
    int level;        /* stacking level of the cells it comes from, -1: none */
    int grad;         /* part of the gradient graph */
    int reverse;      /* of a reverse loop */
    int side;         /* pinned layout: 0 in its column's main slot; k > 0 the k-th slot right of it */
    int gap;          /* a label in the gap right of its column (at its layer, above the edges there) */
    int highlight;    /* on the highlighted path */
    int html;         /* its label is Graphviz HTML (the legend, the equations) */
    double nudge;     /* pinned layout: points right of its slot's centre */
    double w, h;      /* its size in points (measured by Graphviz) */
    double x, y;      /* its centre in points (pinned layout) */
    int space;        /* the view it belongs to when two are drawn side by side (part of its identity) */
    int dropped;      /* merged into another item: not drawn (nor its edges) */
    int member;       /* pinned op level: 1 + the DRAW_BLOCK item of its cluster, 0: none */
    int line;         /* internals level: 1 + the state whose line it is on (drawn in one row), 0: none */
    int beside;       /* internals level: 1 + the item drawn in its row (a state entering a step's cell off any
                       * line, beside the value it becomes), 0: none */
    double rx, ry;    /* a member's place relative to its block's centre */
} draw_item;

typedef enum draw_edge_kind {
    DRAW_E_DATA,     /* a value flowing up to its user */
    DRAW_E_STATE,    /* a carried state (horizontal when unrolled, through the delay when rolled) */
    DRAW_E_EXPORT,   /* a final state used outside its loop: dashed */
    DRAW_E_CAPTURE,  /* an outer value a body reads at every step: dotted, not ranked */
    DRAW_E_FEEDBACK, /* an output fed back as the next input: dashed */
    DRAW_E_SKIP,     /* a residual connection passing a row */
    DRAW_E_GRAD,     /* gradient flow */
    DRAW_E_ATTENTION,/* what attention reads: the memory, dotted */
    DRAW_E_INVIS,    /* layout only */
    DRAW_E_KIND_COUNT
} draw_edge_kind;

typedef struct draw_edge {
    int from, to;
    draw_edge_kind kind;
    int tag;          /* a state's index (tells parallel state edges apart), else 0 */
    char label[48];
    int loose;        /* 1: does not constrain the ranks */
    int highlight;    /* on the highlighted path */
    char tailport[4], headport[4]; /* compass points, set by the pinned layout */
    double *pts;      /* pinned layout: the route's Bezier points (x, y pairs), then the arrow's tip */
    int n_pts;        /* Bezier points in pts (without the tip) */
    int inner;        /* 1 + the block whose dot layout routed it (pts relative to the block's centre), 0: none */
} draw_edge;

typedef enum draw_cluster_style {
    DRAW_CL_CELL,     /* the ops of a cell (at a step) */
    DRAW_CL_GRAD      /* the gradient ops of a cell at a step */
} draw_cluster_style;

typedef struct draw_cluster {
    char name[48];    /* "cluster_..." */
    char *label;
    int parent;       /* -1: the root graph */
    draw_cluster_style style;
    int reverse;
    int base;         /* op level: the layer of its first ops (recur_draw_op_layers); -1: none */
} draw_cluster;

typedef struct draw_scene {
    draw_item *items;
    int n_items, cap_items;
    draw_edge *edges;
    int n_edges, cap_edges;
    draw_cluster *clusters;
    int n_clusters, cap_clusters;
    int32_t *item_hash, *edge_hash; /* open addressing: index + 1, 0 empty */
    int item_hash_cap, edge_hash_cap;
    int op_level;
    int pinned;       /* cell level: every item placed on the grid of layers and columns (draw_place.c) */
    int internals;    /* the "cell internals" level: gates and nonlinearities as filled boxes */
    double label_pt;  /* the clusters' labels' font size in points (0: 11.2, the default's) */
    const recur_draw_opts *o;
    int space;        /* the space of the items being made (recur_draw_scene_append) */
    recur_status st;  /* RECUR_ERR_NOMEM once an allocation failed */
} draw_scene;

/* The item of (kind, a, b), -1 if none. */
int recur_draw_item_find(const draw_scene *s, draw_kind kind, int a, int b);

/* The item of (kind, a, b), made with `label` if new; -1 when out of memory. */
int recur_draw_item_add(draw_scene *s, draw_kind kind, int a, int b, const char *label);

/* Adds an edge unless one of the same kind and tag joins the same items; returns its index or -1. */
int recur_draw_edge_add(draw_scene *s, int from, int to, draw_edge_kind kind, int tag, const char *label);

/* Adds a cluster; returns its index or -1. */
int recur_draw_cluster_add(draw_scene *s, const char *name, const char *label, int parent, draw_cluster_style style);

void recur_draw_scene_free(draw_scene *s);

/* The notes (DRAW_NOTE items, by their `a`). */
enum { DRAW_NOTE_LEGEND, DRAW_NOTE_EQUATIONS, DRAW_NOTE_EQUALS };

/* The pinned font: Debian's fonts-dejavu-core (scripts/setup.sh installs it). */
#define RECUR_DRAW_FONT "DejaVu Sans"

/* draw_ids.c: the cgraph discipline of drawings, whose object ids do not depend on the heap. */
Agdisc_t *recur_draw_disc(void);

/*
 * The scene as a cgraph graph (NULL when out of memory); close it with
 * agclose. node[i] is set to item i's node and edge[i] to edge i's (room
 * for s->n_items and s->n_edges).
 */
Agraph_t *recur_draw_scene_graph(const draw_scene *s, const recur_draw_opts *o, Agnode_t **node, Agedge_t **edge);

/* draw_place.c: items with no layer one above the highest item they read (as far as edges say). */
void recur_draw_fill_layers(draw_scene *s);

/* draw_place.c: the pinned layout (s->pinned): every item's x and y from its layer and column. */
recur_status recur_draw_place(draw_scene *s);

/* The ports of the pinned layout's edges (after recur_draw_place). */
void recur_draw_ports(draw_scene *s);

/* draw_route.c: the routes of the pinned layout's edges (after recur_draw_ports). */
recur_status recur_draw_route(draw_scene *s);

/* Writes edge e's route as Graphviz's "pos" into buf; 0 if it has none (or buf is too small). */
int recur_draw_edge_pos(const draw_edge *e, char *buf, size_t n);

/*
 * The point at t in [0, 1] of the cubic Bezier piece p (4 points as x, y
 * pairs: a route's pts from 6 k on, k < (n_pts - 1) / 3).
 */
void recur_draw_bezier_point(const double *p, double t, double *x, double *y);

/* Sizes of the items of G, as Graphviz draws them (into items' w and h). */
recur_status recur_draw_measure(GVC_t *gvc, Agraph_t *G, Agnode_t *const *node, draw_scene *s);

/*
 * Writes the pinned positions, routes and clusters' boxes into G (items
 * from n_nodes on, blocks made after G, are not in it), for Graphviz's
 * nop2 engine to draw as they are.
 */
void recur_draw_pin(Agraph_t *G, Agnode_t *const *node, int n_nodes, Agedge_t *const *edge, const draw_scene *s);

/* A block's band along its bottom for its cluster's label, in points. */
enum { DRAW_LABEL_BAND = 18 };

/*
 * draw_cluster.c, pinned op level: lays out each cluster's items with dot
 * as a graph of its own and makes a DRAW_BLOCK item standing for it on the
 * grid (after recur_draw_measure).
 */
recur_status recur_draw_clusters(GVC_t *gvc, draw_scene *s);

/*
 * draw_lanes.c, rolled internals level: draws the state loops of cluster
 * k, laid out by dot without its delays (members' rx, ry and the inner
 * edges' routes relative to one centre), round its boxes in lanes of their
 * own: places the delays and routes the edges into and out of them. 1 if
 * every loop was drawn so; 0 (and nothing changed) if one could not be,
 * or out of memory (s->st set).
 */
int recur_draw_lanes(draw_scene *s, int k);

/* ----------------------------------------------------------------- views */

/* What a key becomes in a scene. */
enum {
    DRAW_HIDDEN = -1,  /* not drawn: edges pass through it to what it reads */
    DRAW_DROPPED = -2, /* at a step hidden by the ellipsis: not drawn and not passed through */
    DRAW_PER_USER = -3 /* a parameter drawn again in each cluster that uses it */
};

/* The items each key stands for (its own, or what a hidden key reads), with how they were reached. */
typedef struct draw_vis_entry {
    int32_t item;
    int flags;
} draw_vis_entry;

typedef struct draw_vis {
    draw_vis_entry *v;
    int n, cap;
    int32_t *start, *len; /* per key: its entries v[start .. start + len) */
} draw_vis;

/*
 * draw_edges.c: given the item of every key (an item index or one of the
 * values above), adds the edges between items, passing through hidden
 * keys, and fills `vis` for later edges.
 */
recur_status recur_draw_connect(draw_ctx *c, draw_scene *s, const int32_t *item, draw_vis *vis);

/*
 * Adds the edges from what reference r stands for into item `to`. For a
 * state's initial value that stands for nothing drawn, an empty circle of
 * loop `init_loop` is made (none when init_loop < 0).
 */
void recur_draw_edges_into(draw_ctx *c, draw_scene *s, const int32_t *item, const draw_vis *vis, const draw_ref *r, int to,
                     int init_loop);

/* Adds an item per output (per step for a time-distributed output) and its edges. */
void recur_draw_outputs(draw_ctx *c, draw_scene *s, const int32_t *item, const draw_vis *vis);

void recur_draw_vis_free(draw_vis *vis);

/* The cell whose final state output item `out` shows (its one edge, dashed, from that cell), -1 if none. */
int recur_draw_final_source(const draw_scene *s, int out);

/*
 * Layers (and columns) of the forward outputs above layer `top`: a final
 * state beside its cell (pinned layouts; in the first free side slot from
 * `first_side`), per-step outputs one layer each, the others one layer
 * above those. Returns nothing; the layers used end at the highest output.
 */
void recur_draw_place_outputs(const draw_ctx *c, draw_scene *s, int top, int first_side);

/* Puts each join one layer above the highest item it reads (below the next row of cells, at 10 (r + 1)). */
void recur_draw_join_layers(draw_scene *s);

/* Pinned layouts: a bidirectional layer's rows (cells, gradient cells, initial states) offset to either side. */
void recur_draw_nudge(const draw_ctx *c, draw_scene *s);

/*
 * Op level: the ops of each cluster in layers base + depth, depth the
 * longest path to them inside the cluster, so that every step's ops (and
 * every step's gradient ops) are laid out alike.
 */
void recur_draw_op_layers(draw_scene *s);

/* opts->state_labels: each state edge between two cells labelled with the states it carries and their step. */
void recur_draw_state_labels(const draw_ctx *c, draw_scene *s);

/* Pinned layouts: each labelled edge's label becomes a DRAW_LABEL item beside it (nothing is drawn over it). */
void recur_draw_edge_labels(draw_scene *s);

/* The views. */
recur_status recur_draw_rolled(draw_ctx *c, draw_scene *s);
recur_status recur_draw_unrolled(draw_ctx *c, draw_scene *s);

/*
 * Appends the items, edges and clusters of scene `from` to `to`, their
 * names prefixed with `prefix` and their columns moved right by `cols`
 * (two views side by side).
 */
void recur_draw_scene_append(draw_scene *to, const draw_scene *from, const char *prefix, int cols);

/* draw_attention.c: a loop reading all of another's states at every step gets a memory box and attention boxes. */
void recur_draw_attention(draw_ctx *c, draw_scene *s);

/* draw_gates.c: marks folded nodes and state lines (c->folded, c->line) for the internals level. */
recur_status recur_draw_fold(draw_ctx *c);

/* 1 if body node `from` of loop li reaches `to` (through affine ops and products only, with sums_only). */
int recur_draw_reaches(const draw_ctx *c, int li, int32_t from, int32_t to, int sums_only);

/* The gate a sigmoid is ("forget gate", its letter 'f' in *letter), NULL if none (draw_gates.c). */
const char *recur_draw_gate(const draw_ctx *c, int32_t id, char *letter);

/* Internals level: the label of node id's box (its symbol and its name or gate). */
void recur_draw_internals_label(const draw_ctx *c, int32_t id, char *buf, size_t len);

/* Internals level: 1 if node id is drawn as a small circle with its symbol (a product, a sum, 1 - z). */
int recur_draw_is_glyph(const draw_ctx *c, int32_t id);

/* draw_equations.c: each loop's equations, written from its graph, as a note beside the figure (opts->equations). */
void recur_draw_equations(draw_ctx *c, draw_scene *s);

/* draw_extras.c: the highlighted path (opts->highlight) and the legend. */
recur_status recur_draw_extras(draw_ctx *c, draw_scene *s);

/* The label of an op-level item for node id. */
void recur_draw_op_label(const draw_ctx *c, int32_t id, char *buf, size_t len);

/* The label of a join node ("+", "concat", ...). */
const char *recur_draw_join_label(const draw_ctx *c, int32_t id);

/* Writes a label for the input token of `id` at step t (DRAW_NOSTEP: rolled). */
void recur_draw_token_label(const draw_ctx *c, int32_t id, int64_t t, char *buf, size_t len);

/* Cell level: the label of loop li's one input box at step t: the input label, or its tokens' labels. */
void recur_draw_step_label(const draw_ctx *c, int li, int64_t t, char *buf, size_t len);

/* Step t as labels number it (from 1 with opts->one_based). */
long long recur_draw_step_number(const draw_ctx *c, int64_t t);

#endif
