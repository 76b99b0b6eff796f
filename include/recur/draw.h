/*
 * recur/draw.h — diagrams of a graph through Graphviz, in the style of the
 * textbook figures of recurrent networks.
 *
 * Two views:
 *   - rolled: each loop drawn once as its cell, the state fed back through
 *     a small black "delay" box; a final state used outside the loop (an
 *     encoder's context, h_n) leaves the cell on a dashed edge;
 *   - unrolled: one column per time step, time left to right; the cells of
 *     one loop form a row joined by state edges (right to left for a
 *     reverse loop), the initial state is an empty circle at the row's
 *     start, sequence inputs are at the bottom and outputs at the top.
 * and two levels:
 *   - cell: one box per cell (per step when unrolled), labelled with the
 *     loop's name or a layer label; the glue between layers is drawn only
 *     where streams join (a bidirectional layer's concatenation or sum, a
 *     residual addition) as a small join node per step;
 *   - op: every op, grouped in a cluster per loop (and per step when
 *     unrolled).
 *
 * Layout: stacked layers are rows from bottom to top; the reverse loop of a
 * bidirectional layer is the row above its forward loop; a loop whose
 * initial state is another loop's final state (a decoder) takes the columns
 * right of that loop, and the context passes across on a dashed edge;
 * residual additions get skip edges that pass a row. Values computed step
 * by step along the time axis outside loops (a dense head over all outputs,
 * an embedding of the tokens) are split into steps as well.
 *
 * The backward view draws an unrolled graph with the gradient graph that
 * recur_grad added for opts->loss: forward rows as in the unrolled view, the
 * loss above them, and above that one row of gradient cells per loop (the
 * top layer's first), gradients flowing against time (right to left). Each
 * gradient node sits in the cell of the forward node autodiff stamped it
 * with (the node it differentiates, at its time step); a node that sums
 * over all steps (a weight's gradient, a batched matmul through a hoisted
 * input projection) sits outside the cells, and gradient edges through it
 * are dotted. At cell level the edges that read
 * forward activations are left out, and the gradient seed dL/dL = 1 is
 * drawn as the loss.
 *
 * Output is deterministic: the same graph and options give the same bytes.
 * Graphviz keeps global state: do not draw from two threads at once.
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
    RECUR_VIEW_BACKWARD   /**< unrolled, with the gradient graph of opts->loss */
} recur_draw_view;

/** How much detail: cells or ops. */
typedef enum recur_draw_level {
    RECUR_LEVEL_CELL,  /**< one box per cell (and step) */
    RECUR_LEVEL_OP     /**< every op, grouped per cell (and step) */
} recur_draw_level;

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
} recur_draw_opts;

/**
 * Draws the part of g that `outputs` need (n_outputs == 0: every value no
 * other value uses) into the file `path`, whose extension chooses the
 * format: .dot or .gv (the Graphviz source, not laid out), .svg, .png,
 * .pdf. The file is written under a temporary name and renamed, so a failed
 * call leaves nothing at `path`.
 * Errors (the message through recur_errmsg): RECUR_ERR_ARG for a bad option
 * or an unknown extension, RECUR_ERR_VALUE for a bad output, RECUR_ERR_STATE
 * while a loop is open, RECUR_ERR_IO when the file cannot be written,
 * RECUR_ERR_UNSUPPORTED when Graphviz lacks the format's plugin.
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
