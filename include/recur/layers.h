/*
 * recur/layers.h — the layer library: dense and embedding layers, the
 * recurrent cells (Elman RNN, LSTM, GRU) built from primitive ops, custom
 * cells, and recurrent layers over sequences (stacked, residual,
 * bidirectional) built on the loop node.
 *
 * Parameters use PyTorch's layout and names so weights copy over without
 * arithmetic: a cell has weight_ih [G*H, I], weight_hh [G*H, H], bias_ih
 * [G*H] and bias_hh [G*H], with the gates in PyTorch's order (LSTM: i, f,
 * g, o; GRU: r, z, n), G = 1, 4, 3 for RNN, LSTM, GRU. A multi-layer
 * recurrent layer names them "<name>.weight_ih_l<k>[_reverse]" and so on.
 * Sequences are time-major [T, B, F].
 *
 * Sharing: a layer whose parameter names already exist in the graph (with
 * the same shapes) reuses those parameters instead of creating new ones.
 * Building the same layers again under the same names therefore makes a
 * second model with shared weights, e.g. a generation model over one time
 * step next to the training model over T steps.
 */
#ifndef RECUR_LAYERS_H
#define RECUR_LAYERS_H

#include "loop.h"
#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------ dense, embedding */

/**
 * A dense (fully connected) layer y = x W^T + b over the last dimension of
 * x [..., in]: parameters "<name>.weight" [out, in] (Xavier) and
 * "<name>.bias" [out] (zeros; omitted when bias is 0).
 */
RECUR_API recur_value recur_dense(recur_graph *g, const char *name, recur_value x, int64_t out, int bias);

/**
 * An embedding lookup: ids of any shape S (whole numbers in [0, vocab)) to
 * S + [dim], from the parameter "<name>.weight" [vocab, dim] (normal, std 1).
 */
RECUR_API recur_value recur_embedding(recur_graph *g, const char *name, recur_value ids, int64_t vocab, int64_t dim);

/* ------------------------------------------------------------------ cells */

/** The built-in cells. */
typedef enum recur_cell_kind {
    RECUR_RNN_TANH, /**< h' = tanh(W_ih x + b_ih + W_hh h + b_hh) */
    RECUR_RNN_RELU, /**< the same with relu */
    RECUR_LSTM,     /**< PyTorch's LSTM (gates i, f, g, o); states h and c */
    RECUR_GRU,      /**< PyTorch's GRU: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) */
    RECUR_GRU_CHO   /**< Cho et al.'s original GRU: n = tanh(W_in x + b_in + W_hn (r * h) + b_hn) */
} recur_cell_kind;

/** The most states a cell may carry. */
#define RECUR_MAX_CELL_STATES 4

typedef struct recur_cell recur_cell;

/**
 * A cell's step: from the step input x [B, I] and the current states,
 * build the next states and the step's output (usually the new h) with
 * ordinary builders. Returns RECUR_OK or the graph's error.
 */
typedef recur_status (*recur_cell_step_fn)(recur_graph *g, const recur_cell *cell, recur_value x,
                                           const recur_value *state, recur_value *next, recur_value *out);

/**
 * A cell: what one time step computes. Built-in cells come from
 * recur_cell_new; a custom cell is any struct filled by user code with its
 * own step function (and its parameters in `param`/`user`). Every layer
 * helper below accepts either, so a custom cell gets unrolling, gradients,
 * stacking, bidirectionality, steppers and diagrams for free.
 */
struct recur_cell {
    const char *name;                         /**< a label, used in loop and node names */
    int n_state;                              /**< how many states the cell carries (LSTM: 2, h then c) */
    int64_t state_size[RECUR_MAX_CELL_STATES];/**< each state's feature size (states are [B, size]) */
    int64_t input_size, output_size;          /**< features of x and of the step output */
    recur_cell_step_fn step;
    recur_cell_kind kind;                     /**< for built-in cells */
    recur_value param[4];                     /**< built-in cells: weight_ih, weight_hh, bias_ih, bias_hh */
    void *user;                               /**< for custom cells */
    float clip;                               /**< built-in cells: gate preactivations clipped to [-clip, clip]; 0: none */
    recur_value peephole;                     /**< built-in LSTM with peepholes: "weight_peephole" [3, H] (P_i, P_f, P_o) */
};

/** Options of a built-in cell beyond PyTorch's (ONNX's cells have them); zeros: none. */
typedef struct recur_cell_opts {
    float clip;    /**< > 0: every gate preactivation (peephole terms included) is clipped to [-clip, clip] before its
                        activation, as ONNX's `clip` (the tanh of an LSTM's cell state is not clipped) */
    int peepholes; /**< LSTM: 1 adds peepholes (ONNX's P): i = sigmoid(a_i + P_i c), f = sigmoid(a_f + P_f c) with the
                        previous cell state, o = sigmoid(a_o + P_o c') with the new one; weights "<prefix>.weight_peephole"
                        [3, H], zeros at first */
} recur_cell_opts;

/**
 * Creates a built-in cell with parameters "<prefix>.weight_ih" and so on
 * (suffix may be NULL; with suffix "_l0" the names are
 * "<prefix>.weight_ih_l0"), drawn from U(-1/sqrt(H), 1/sqrt(H)) as PyTorch
 * does. Returns RECUR_OK and fills *cell.
 */
RECUR_API recur_status recur_cell_new(recur_graph *g, recur_cell *cell, recur_cell_kind kind, const char *prefix,
                            const char *suffix, int64_t input_size, int64_t hidden);

/** recur_cell_new with options (NULL: none): a clip bound, LSTM peepholes. */
RECUR_API recur_status recur_cell_new_opts(recur_graph *g, recur_cell *cell, recur_cell_kind kind, const char *prefix,
                                           const char *suffix, int64_t input_size, int64_t hidden,
                                           const recur_cell_opts *opts);

/** The name of a cell kind ("lstm", ...). */
RECUR_API const char *recur_cell_kind_name(recur_cell_kind kind);

/* ------------------------------------------------------ recurrent layers */

/** What one recurrent loop over a sequence yields. */
typedef struct recur_seq_result {
    recur_value outputs;                             /**< [T, B, output_size], in time order */
    recur_value final[RECUR_MAX_CELL_STATES];        /**< each state after the last step, [B, size] */
    recur_loop loop;
} recur_seq_result;

/**
 * Runs `cell` over xs [T, B, I] in a loop named `name` (reverse walks time
 * backwards), from initial states `init` (n_state values [B, size]; NULL:
 * zeros).
 */
RECUR_API recur_status recur_cell_over(recur_graph *g, const recur_cell *cell, const char *name, recur_value xs,
                             const recur_value *init, int reverse, recur_seq_result *out);

/**
 * recur_cell_over with per-sequence lengths [B] (RECUR_NONE: none; see
 * recur_loop_lengths): each sequence's states stop at its last step, its
 * outputs past it are zero, its final states are its own last step's.
 */
RECUR_API recur_status recur_cell_over_lengths(recur_graph *g, const recur_cell *cell, const char *name, recur_value xs,
                                               recur_value lengths, const recur_value *init, int reverse,
                                               recur_seq_result *out);

/** How a bidirectional layer joins its two directions. */
typedef enum recur_merge { RECUR_MERGE_CONCAT, RECUR_MERGE_SUM } recur_merge;

/** Options of a (possibly stacked, bidirectional, residual) recurrent layer; zeros are defaults. */
typedef struct recur_rnn_opts {
    recur_cell_kind kind;
    int64_t input_size, hidden;
    int layers;          /**< stacked layers (default 1) */
    int bidirectional;   /**< 1: a forward and a reverse loop per layer */
    recur_merge merge;   /**< how directions join (default concatenation, as PyTorch) */
    int residual;        /**< 1: layer k > 0 adds its input to its output (sizes must agree) */
    float dropout;       /**< dropout between layers (not after the last), as PyTorch */
    uint64_t seed;       /**< dropout seed */
    const recur_value *lengths; /**< NULL, or per-sequence lengths [B] (see recur_loop_lengths): every loop of
                                     the layer stops each sequence at its length, as PyTorch's packed sequences */
    recur_cell_opts cell;       /**< every cell's clip and peepholes (recur_cell_opts) */
} recur_rnn_opts;

/** A recurrent layer's results and parameters. */
typedef struct recur_rnn {
    recur_value outputs;   /**< [T, B, D*H] (concat) or [T, B, H] (sum) from the top layer */
    recur_value h_n;       /**< [layers*D, B, H], PyTorch's order (layer-major, forward first) */
    recur_value c_n;       /**< LSTM only, like h_n; RECUR_NONE otherwise */
    int n_cells;
    recur_cell cells[16];  /**< layer-major, forward then reverse: PyTorch's parameter order */
    recur_loop loops[16];
} recur_rnn;

/**
 * Builds a PyTorch-compatible recurrent layer (nn.RNN / nn.LSTM / nn.GRU)
 * over xs [T, B, I] from h0 (and c0 for an LSTM) of shape exactly
 * [layers*D, B, H] (RECUR_NONE: zeros; a c0 for a GRU or RNN, or a state of
 * another shape, is an error naming it). Parameters are named
 * "<name>.weight_ih_l0", "<name>.weight_hh_l0_reverse", ... as in PyTorch's
 * state_dict. A layer has at most 16 cells (layers x directions). With
 * opts->lengths, every sequence of the batch stops at its own length.
 */
RECUR_API recur_status recur_rnn_new(recur_graph *g, const char *name, const recur_rnn_opts *opts, recur_value xs,
                           recur_value h0, recur_value c0, recur_rnn *out);

/* ------------------------------------------------------------------ heads */

/** The last time step of a sequence [T, ...] (a many-to-one head's input). */
RECUR_API recur_value recur_last_step(recur_graph *g, recur_value seq);

#ifdef __cplusplus
}
#endif
#endif
