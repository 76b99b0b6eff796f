/*
 * recur/onnx.h — ONNX in and out: import an ONNX model (PyTorch's
 * recurrent models among them) as a recur graph with its parameters
 * loaded, and export a recur graph as an ONNX model that other runtimes run.
 *
 * Import. recur_onnx_import reads a model (a ModelProto, ONNX's protobuf
 * schema from Debian's libonnx-dev) and adds to a graph:
 *   - an input per graph input that is not an initializer, named as in the
 *     file. recur's tensors are float32: an integer input (token ids) is a
 *     float input holding whole numbers. Symbolic dimensions ("batch",
 *     "seq") take their values from the options (recur graphs are static);
 *   - a parameter per float initializer an op reads as a tensor, named as
 *     in the file, so the imported model can be trained further;
 *   - LSTM, GRU (both linear_before_reset forms) and RNN nodes become
 *     recur's built-in cells over loop nodes (recur_cell_over_lengths), with
 *     direction (forward, reverse, bidirectional), layout, hidden_size,
 *     initial states, sequence_lens (constant or an input: the loops'
 *     lengths), clip and LSTM peepholes (recur_cell_opts); their weights
 *     converted to PyTorch's gate order and named after the node as PyTorch
 *     names them: node "/lstm/LSTM_1" makes "lstm.weight_ih_l1",
 *     "lstm.bias_hh_l1_reverse" and so on. Activations other than the
 *     cells' own (an RNN's may be Tanh or Relu), activation_alpha/beta and
 *     input_forget are refused;
 *   - Scan, and Loop with a fixed trip count, become loop nodes; PyTorch's
 *     scripted loops (a Loop whose per-step outputs are collected with
 *     SequenceEmpty / SequenceInsert / ConcatFromSequence) give stacked
 *     loop outputs;
 *   - the ops around them (Gather, MatMul, Gemm, Add, Sub, Mul, Div, Neg,
 *     Tanh, Sigmoid, Relu, LeakyRelu, Exp, Log, Sqrt, Softplus, Clip, Softmax,
 *     LogSoftmax, Concat, Slice, Split, Squeeze, Unsqueeze, Flatten,
 *     Transpose, Reshape, Expand, OneHot, Identity, Dropout, Constant,
 *     ConstantOfShape, Shape, Cast where trivial) become their recur ops;
 *     what depends only on constants and on shapes (PyTorch makes its zero
 *     initial states at run time as Shape -> Gather -> Unsqueeze -> Concat
 *     -> Expand) is computed once at import.
 * The result can be unrolled, differentiated, trained, stepped and drawn
 * like any recur graph. Anything recur cannot express is an error naming
 * the node, its op type and the attribute or input, e.g.
 *   onnx model.onnx: node "/lstm/LSTM" (LSTM): input_forget=1 is not supported
 * and the graph is left as it was (nothing is added). A malformed file is a
 * RECUR_ERR_FORMAT naming the file and what is wrong.
 *
 * Export. recur_onnx_export writes the part of a graph that computes the
 * given outputs: a loop made by recur_cell_over / recur_rnn_new with a
 * built-in cell becomes an ONNX LSTM, GRU or RNN node (gate order and
 * weight layout converted, with its clip, peepholes and per-sequence
 * lengths as sequence_lens); any other loop (a custom cell) becomes a Scan
 * whose body holds the cell's ops; parameters and constants become
 * initializers under their names. Inputs keep their float type, so token
 * ids are fed to the exported model as floats too. Loss ops and gradient
 * helpers have no export (export a model's outputs, not its loss), nor has
 * a custom cell's loop with per-sequence lengths (a Scan runs every step;
 * refused naming the loop).
 * Exporting then importing gives a graph that computes the same outputs bit
 * for bit on the reference backend.
 */
#ifndef RECUR_ONNX_H
#define RECUR_ONNX_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The most graph inputs or outputs a model may have for import and export. */
#define RECUR_ONNX_MAX_IO 32

/** The longest input or output name kept, in bytes with the NUL. */
#define RECUR_ONNX_MAX_NAME 256

/** The value of one symbolic dimension (an input dimension written as a name, "batch"). */
typedef struct recur_onnx_dim {
    const char *name;
    int64_t value;
} recur_onnx_dim;

/** Options of recur_onnx_import; a NULL pointer or zeros mean the defaults. */
typedef struct recur_onnx_import_opts {
    const recur_onnx_dim *dims; /**< values of the symbolic dimensions of the inputs */
    int n_dims;
    /**
     * A value for every symbolic dimension not in `dims` (0: none, and such
     * a dimension is an error naming the input and the dimension).
     */
    int64_t default_dim;
} recur_onnx_import_opts;

/** One graph input or output of an imported model. */
typedef struct recur_onnx_io {
    char name[RECUR_ONNX_MAX_NAME]; /**< its name in the ONNX file */
    recur_value value;              /**< the recur value */
} recur_onnx_io;

/** What recur_onnx_import made; release with recur_onnx_model_clear. */
typedef struct recur_onnx_model {
    int n_inputs, n_outputs;
    recur_onnx_io inputs[RECUR_ONNX_MAX_IO];  /**< the fed inputs, in the file's order */
    recur_onnx_io outputs[RECUR_ONNX_MAX_IO]; /**< the graph outputs, in the file's order */
    int n_meta;                               /**< the model's metadata_props (key/value strings) */
    char **meta_keys, **meta_values;
    char producer[64];                        /**< producer_name (cut to fit) */
    int64_t opset;                            /**< the version of the default ("ai.onnx") op set */
} recur_onnx_model;

/**
 * Imports the ONNX model in file `path` into g (see the top of this
 * header). On success fills *out (release it with recur_onnx_model_clear)
 * and returns RECUR_OK. On failure returns RECUR_ERR_IO (unreadable file),
 * RECUR_ERR_FORMAT (not a valid model), RECUR_ERR_UNSUPPORTED (an op or
 * attribute recur cannot express) or the error of a builder, with the
 * reason on g (recur_errmsg); g is left as it was and *out empty. No loop
 * may be open on g.
 */
RECUR_API recur_status recur_onnx_import(recur_graph *g, const char *path, const recur_onnx_import_opts *opts,
                                         recur_onnx_model *out);

/** recur_onnx_import from the `len` bytes at `buf` (messages name the source "(memory)"). */
RECUR_API recur_status recur_onnx_import_mem(recur_graph *g, const void *buf, size_t len,
                                             const recur_onnx_import_opts *opts, recur_onnx_model *out);

/** Frees what an import allocated in m (its metadata) and empties it. NULL is allowed. */
RECUR_API void recur_onnx_model_clear(recur_onnx_model *m);

/** Options of recur_onnx_export; a NULL pointer or zeros mean the defaults. */
typedef struct recur_onnx_export_opts {
    /** n_outputs names of the graph outputs; NULL: each output's node name. */
    const char *const *output_names;
    /** metadata_props written into the model (n_meta key/value strings). */
    const char *const *meta_keys;
    const char *const *meta_values;
    int n_meta;
    /** the graph's name (NULL: "recur"). */
    const char *graph_name;
} recur_onnx_export_opts;

/**
 * Writes the part of g that computes `outputs` (n_outputs values of the
 * outer graph, of loops not unrolled or unrolled) as an ONNX model (op set
 * 14, IR version 7) to `path`. RECUR_ERR_UNSUPPORTED names a node whose op
 * has no export; RECUR_ERR_IO names the file. The reason of a failure is
 * recorded on g.
 */
RECUR_API recur_status recur_onnx_export(recur_graph *g, int n_outputs, const recur_value *outputs,
                                         const recur_onnx_export_opts *opts, const char *path);

/** recur_onnx_export into a new buffer of *len bytes, to be released with free(). */
RECUR_API recur_status recur_onnx_export_mem(recur_graph *g, int n_outputs, const recur_value *outputs,
                                             const recur_onnx_export_opts *opts, void **buf, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
