/*
 * recur/draw.h — diagrams of a graph through Graphviz, in the style of the
 * textbook figures of recurrent networks.
 *
 * Views:
 *   - rolled: each loop drawn once as its cell, the state fed back through
 *     a small black "delay" box beside it; a final state used outside the
 *     loop (an encoder's context, h_n) leaves on a dashed edge;
 *   - unrolled: one column per time step, time left to right; the cells of
 *     one loop form a row joined by state edges (right to left for a
 *     reverse loop), the initial state is an empty circle at the row's
 *     start, sequence inputs are at the bottom (one box per step for all
 *     of a loop's tokens: ids and their mask) and outputs at the top;
 *   - both: rolled and unrolled side by side, "=" between them;
 *   - backward: unrolled, with the gradient graph (below).
 * Levels:
 *   - cell: one box per cell (per step when unrolled), labelled with the
 *     loop's name or a layer label; the glue between layers is drawn only
 *     where streams join (a bidirectional layer's concatenation or sum, a
 *     residual addition) and named layers of a head (recur_name(dense,
 *     "dense")) as a box per step;
 *   - internals: inside each cell its gates, nonlinearities, products and
 *     sums, its affine maps folded into the boxes they feed (the LSTM and
 *     GRU blocks of the textbooks);
 *   - op: every op, grouped in a cluster per loop (and per step when
 *     unrolled); each cluster is laid out on its own, so every step looks
 *     alike.
 *
 * Layout: the cell-level views are placed on a grid of layers (rows from
 * bottom to top) and columns (time), and their edges routed around the
 * boxes, so that no edge crosses a box and no label covers a box or an
 * arrowhead (labels such as "h, c" or "context" are placed in the gap the
 * edge crosses). Stacked layers are rows from bottom to top; the reverse
 * loop of a bidirectional layer is the row above its forward loop, each
 * row a little offset so that inputs and outputs pass beside the other
 * row's cells; a loop whose initial state is another loop's final state (a
 * decoder) takes the columns right of that loop, the context passing
 * across on a dashed edge; residual additions get skip edges that pass a
 * row. A loop that reads all of another loop's states at every step
 * (attention) gets a memory box over those states and an attention box per
 * step. Values computed step by step along the time axis outside loops (a
 * dense head over all outputs, an embedding of the tokens) are split into
 * steps as well.
 *
 * The backward view draws an unrolled graph with the gradient graph that
 * recur_grad added for opts->loss: forward rows as in the unrolled view, the
 * loss above them, and above that one row of gradient cells per loop (the
 * top layer's first), gradients flowing against time (right to left) and
 * from each layer's step to the layer below at the same step. Each
 * gradient node sits in the cell of the forward node autodiff stamped it
 * with (the node it differentiates, at its time step); a node that sums
 * over all steps (a weight's gradient) sits outside the cells: the weight
 * gradients read from the same cells share one box beside their row, each
 * named by its weight (dL/dW). At cell level the edges that read forward
 * activations are left out, and the gradient seed dL/dL = 1 is drawn as
 * the loss.
 *
 * A figure can carry a legend of its edge styles, a highlighted path
 * through time, labels on its state edges and its cells' equations; its
 * font (pinned to DejaVu Sans), size and PNG resolution are options.
 *
 * Output is deterministic: the same graph and options give the same bytes
 * wherever the font is installed. Graphviz keeps global state: do not draw
 * from two threads at once.
 */
#ifndef RECUR_DRAW_H
#define RECUR_DRAW_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Which picture of the network to draw. */
typedef enum recur_draw_view {
    RECUR_VIEW_ROLLED,    /**< each loop once, with its delay box */
    RECUR_VIEW_UNROLLED,  /**< one column per time step */
    RECUR_VIEW_BACKWARD,  /**< unrolled, with the gradient graph of opts->loss */
    RECUR_VIEW_BOTH       /**< rolled and unrolled side by side, joined by "=" (cell level) */
} recur_draw_view;

/** How much detail: cells, their insides, or ops. */
typedef enum recur_draw_level {
    RECUR_LEVEL_CELL,     /**< one box per cell (and step) */
    RECUR_LEVEL_OP,       /**< every op, grouped per cell (and step) */
    RECUR_LEVEL_INTERNALS /**< inside each cell: its gates (sigmoid boxes named "forget gate", ...), its
                               nonlinearities, its products and sums as x and + circles, each state through
                               its own delay (rolled, its loop drawn round the cell); the affine maps
                               (W x + U h + b) are folded into the boxes they feed and the parameters left
                               out. A value a cell names with recur_name keeps its
                               name (so a custom cell names its gates); an unnamed sigmoid is named by what it
                               gates: the state (forget), the cell's squashed new state (output), a squashed
                               input (input), a projection of the state (reset), or both z and 1 - z (update). */
} recur_draw_level;

/** What a drawing highlights (drawn thick, in orange). */
typedef enum recur_draw_highlight {
    RECUR_HIGHLIGHT_NONE,
    /**
     * The path through time of the top row: unrolled, from the first input
     * through every state edge to the last output; in the backward view,
     * the gradient path from the loss at the last step back through every
     * gradient cell to step 1 (the path along which gradients vanish or
     * explode).
     */
    RECUR_HIGHLIGHT_TIME_PATH
} recur_draw_highlight;

/** The most boxes plus edges a drawing may have to be laid out (SVG, PNG, PDF); DOT has no limit. */
#define RECUR_DRAW_MAX_ITEMS 3000

/**
 * Options of a drawing; a zeroed struct (or NULL) draws the rolled view at
 * cell level. Label arrays may hold NULL entries (the default label).
 */
typedef struct recur_draw_opts {
    recur_draw_view view;
    recur_draw_level level;
    const char *title;                 /**< a heading above the figure, or NULL */
    /**
     * Unrolled views: the label of the input token of each time column, and
     * of each per-step output (the next word a language model predicts).
     * Columns run over the first loop's steps, then (in an encoder-decoder)
     * over the steps of the loop that follows it. Default: "xs[3]".
     */
    const char *const *input_labels;
    int n_input_labels;
    const char *const *output_labels;
    int n_output_labels;
    /** A label per loop, by loop index (recur_loop_at), for its cells. Default: the loop's name. */
    const char *const *layer_labels;
    int n_layer_labels;
    /**
     * Unrolled views: a loop longer than this shows its first and last few
     * steps around an ellipsis column ("..."). 0: every step; else >= 2.
     */
    int max_steps;
    /**
     * 1: draw generation: each step's output is fed back (dashed) as the
     * next step's input token, for the loops that follow another (the
     * decoders of an encoder-decoder), or for every bottom-row loop when no
     * loop follows another.
     */
    int feedback;
    /** Op level: leave parameters out (in the unrolled view each step shows its own copy). */
    int hide_params;
    /** The backward view's loss: the scalar value the gradients were taken of. */
    recur_value loss;
    /**
     * Type: the font family (default "DejaVu Sans", Debian's fonts-dejavu-core;
     * pinned so that a drawing gives the same bytes on every machine that
     * has it) and the size of the cells' labels in points (default 14; the
     * other labels are drawn in proportion).
     */
    const char *font;
    double font_size;
    /** PNG: pixels per inch (default 144). SVG and PDF are drawn in points. */
    double dpi;
    /** The largest width and height in inches: a larger drawing is scaled down to fit (0: no limit). */
    double width, height;
    /**
     * Label the state edges of the unrolled and backward views with the
     * state's name and step (h_t, and c_t beside it for an LSTM), and the
     * initial state h_0 or h_-1; the rolled view labels its delay.
     */
    int state_labels;
    /** Number the steps from 1 in labels, as some texts do (x_1 ... x_T, initial state h_0). */
    int one_based;
    /** Write each cell's equations beside the figure, generated from the graph (h' = tanh(W_ih x + ...)). */
    int equations;
    /** A path to highlight. */
    recur_draw_highlight highlight;
    /**
     * The legend explaining the edge styles, drawn whenever the figure uses
     * more than one (dashed: a context, feedback or exported state; dotted:
     * attention or a value read at every step; red: gradients): 0 when
     * needed, 1 always, -1 never.
     */
    int legend;
} recur_draw_opts;

/**
 * Draws the part of g that `outputs` need (n_outputs == 0: every value no
 * other value uses) into the file `path`, whose extension chooses the
 * format: .dot or .gv (the Graphviz source, not laid out), .svg, .png,
 * .pdf. The file is written under a temporary name and renamed, so a failed
 * call leaves nothing at `path`.
 * Errors (the message through recur_errmsg): RECUR_ERR_ARG for a bad option,
 * an unknown extension, a backward view whose loss is not a scalar or has
 * no gradients among the outputs, or a figure of more than
 * RECUR_DRAW_MAX_ITEMS boxes and edges in a laid-out format (refused before
 * Graphviz sees it, naming its size: draw fewer steps with max_steps);
 * RECUR_ERR_VALUE for a bad output, RECUR_ERR_STATE while a loop is open,
 * RECUR_ERR_IO when the file cannot be written, RECUR_ERR_UNSUPPORTED when
 * Graphviz lacks the format's plugin.
 */
RECUR_API recur_status recur_draw(recur_graph *g, int n_outputs, const recur_value *outputs, const recur_draw_opts *opts,
                        const char *path);

/**
 * Draws into memory: `format` is "dot", "gv", "svg", "png" or "pdf". On
 * success *out holds *len bytes (followed by a NUL that *len does not
 * count, so text formats can be used as strings); free it with
 * recur_draw_free. On failure *out is NULL and *len 0.
 */
RECUR_API recur_status recur_draw_mem(recur_graph *g, int n_outputs, const recur_value *outputs, const recur_draw_opts *opts,
                            const char *format, char **out, size_t *len);

/** Frees a buffer from recur_draw_mem. NULL is allowed. */
RECUR_API void recur_draw_free(char *buf);

#ifdef __cplusplus
}
#endif
#endif
