/*
 * onnx/onnx_impl.h — what the ONNX importer's and exporter's files share
 * (private to the onnx layer): the generated protobuf-c schema, host
 * tensors (constants known at import time), the importer's symbol table
 * and context, and the exporter's model under construction.
 */
#ifndef RECUR_ONNX_IMPL_H
#define RECUR_ONNX_IMPL_H

#include <stdarg.h>

#include "graph/ir.h"
#include "recur/layers.h"
#include "recur/onnx.h"
#include "recur_onnx.pb-c.h"

typedef RecurOnnx__NodeProto onnx_node;
typedef RecurOnnx__GraphProto onnx_graph;
typedef RecurOnnx__TensorProto onnx_tensor_proto;
typedef RecurOnnx__AttributeProto onnx_attr;

/* ONNX's element types (TensorProto.DataType) that recur reads. */
enum {
    ONNX_FLOAT = 1, ONNX_UINT8 = 2, ONNX_INT8 = 3, ONNX_INT32 = 6, ONNX_INT64 = 7, ONNX_BOOL = 9, ONNX_DOUBLE = 11
};

/* The most dimensions of a host tensor, and of any dimension list read from a file. */
#define ONNX_MAX_RANK 8
/* The most elements of a tensor read from a file (2^31; the file must hold them). */
#define ONNX_MAX_NUMEL ((int64_t)1 << 31)
/* The most elements of a tensor computed at import (ConstantOfShape, Expand, ... of constants: 2^26). */
#define ONNX_MAX_FOLD ((int64_t)1 << 26)

/*
 * A host tensor: a constant known at import time (an initializer, a
 * Constant node, a shape). Values are doubles, exact for float32 and for
 * integers up to 2^53; is_int marks an integer tensor (int64 shapes,
 * indices), whose arithmetic is folded at import. Float tensors are only
 * moved (reshaped, sliced, concatenated) at import, never computed with,
 * so their values stay the file's floats bit for bit.
 */
typedef struct onnx_tensor {
    int ndim;
    int64_t d[ONNX_MAX_RANK];
    int64_t numel;
    double *v;
    int is_int;
} onnx_tensor;

/*
 * A host tensor's value as an integer, clamped to [-2^62, 2^62] (NaN gives
 * -2^62): converting a double outside int64's range is undefined in C, and
 * a clamped value still fails every range check an index or a dimension meets.
 */
static inline int64_t recur_onnx_int(double v)
{
    const double lim = 4611686018427387904.0; /* 2^62 */
    if (!(v > -lim)) return -((int64_t)1 << 62);
    if (v > lim) return (int64_t)1 << 62;
    return (int64_t)v;
}

/* What a name of the ONNX graph stands for during import. */
typedef enum onnx_sym_kind {
    ONNX_SYM_VALUE,  /* a recur value */
    ONNX_SYM_CONST,  /* a host tensor */
    ONNX_SYM_ITER,   /* a Loop body's iteration number */
    ONNX_SYM_SEQ,    /* a sequence of a scripted loop (SequenceEmpty/SequenceInsert) */
    ONNX_SYM_ABSENT  /* the empty name of an optional input */
} onnx_sym_kind;

typedef struct onnx_sym {
    char *name;
    onnx_sym_kind kind;
    int scope;                /* the body nesting depth that defined it (0: the main graph) */
    recur_value v;            /* VALUE; SEQ: the per-step item inserted (RECUR_NONE: empty), or the stacked items */
    int integer;              /* VALUE: holds whole numbers (an integer input, a cast to an integer type) */
    recur_value transposed;   /* VALUE made by transposing a matrix: that matrix (MatMul reads it with trans_b) */
    onnx_tensor t;            /* CONST */
    int param;                /* CONST from an initializer: it becomes a parameter when an op reads it */
    recur_value cached;       /* CONST: its recur value once made */
    int seq_state;            /* SEQ: 1 + the index of the loop state carrying it; 0: not a body state */
    int stacked;              /* SEQ: v is the items stacked over the steps (a loop's final sequence) */
} onnx_sym;

struct recur_onnx_loop_scope;

/* The importer's state. */
typedef struct recur_onnx_ctx {
    recur_graph *g;
    const char *src;                     /* the file's name, or "(memory)" */
    const recur_onnx_import_opts *opts;
    int64_t opset;
    onnx_sym *syms;
    int n_syms, cap_syms;
    int scope;                           /* the current body nesting depth */
    const onnx_node *node;               /* the node being imported, for messages */
    struct recur_onnx_loop_scope *loop;  /* the Loop or Scan body being imported, or NULL */
    /*
     * Imports the nodes of a Scan's or Loop's body graph, in order, in the
     * current scope; import.c sets it to its node importer. A body's nodes
     * are imported like the main graph's, so the import is truly recursive:
     * import.c's node importer finds an op's importer in import_ops.c's
     * table, whose Scan and Loop importers (import_loop.c) import their
     * body with it. Calling back through this pointer keeps the files'
     * dependencies one way: import.c -> import_ops.c -> import_loop.c.
     */
    recur_status (*import_body)(struct recur_onnx_ctx *c, const onnx_graph *body);
} recur_onnx_ctx;

/* ---------------------------------------------------------------- messages (errors.c) */

/* Records on the graph "onnx <src>: node "<name>" (<op>): <message>" (without the node part outside a node). */
recur_status recur_onnx_fail(recur_onnx_ctx *c, recur_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The graph's error after a builder failed, prefixed with the node being imported. */
recur_status recur_onnx_fail_builder(recur_onnx_ctx *c);

/* ---------------------------------------------------------------- attributes (proto_util.c) */

/* The attribute called `name` of node n, NULL if it has none. */
const onnx_attr *recur_onnx_attr(const onnx_node *n, const char *name);
/* An integer attribute, or `def` when absent; RECUR_ERR_FORMAT if it has another type. */
recur_status recur_onnx_attr_int(recur_onnx_ctx *c, const onnx_node *n, const char *name, int64_t def, int64_t *out);
/* A float attribute, or `def`. */
recur_status recur_onnx_attr_float(recur_onnx_ctx *c, const onnx_node *n, const char *name, float def, float *out);
/* A string attribute copied into buf (len bytes), or `def`. */
recur_status recur_onnx_attr_str(recur_onnx_ctx *c, const onnx_node *n, const char *name, const char *def, char *buf,
                                 size_t len);
/* An integer list attribute: *ints points into the node (NULL, *n_out = -1 when absent). */
recur_status recur_onnx_attr_ints(recur_onnx_ctx *c, const onnx_node *n, const char *name, const int64_t **ints,
                                  int *n_out);
/* A graph attribute, NULL with an error when absent or of another type. */
const onnx_graph *recur_onnx_attr_graph(recur_onnx_ctx *c, const onnx_node *n, const char *name);

/* Decodes a TensorProto into t (allocated; free with recur_onnx_tensor_free). `what` names it in messages. */
recur_status recur_onnx_tensor_read(recur_onnx_ctx *c, const onnx_tensor_proto *p, const char *what, onnx_tensor *t);

/* ---------------------------------------------------------------- host tensors (symtab.c) */

/* Allocates t with the given dimensions (values zero), at most ONNX_MAX_FOLD elements; an error on a bad shape. */
recur_status recur_onnx_tensor_alloc(recur_onnx_ctx *c, onnx_tensor *t, int ndim, const int64_t *d, int is_int);
/* The same with a limit of max_numel elements (a tensor read from a file, whose data is there). */
recur_status recur_onnx_tensor_alloc_max(recur_onnx_ctx *c, onnx_tensor *t, int ndim, const int64_t *d, int is_int,
                                         int64_t max_numel);
void recur_onnx_tensor_free(onnx_tensor *t);
/* A deep copy. */
recur_status recur_onnx_tensor_copy(recur_onnx_ctx *c, const onnx_tensor *from, onnx_tensor *to);
/* The tensor's shape as a recur shape (rank 0..4, dims >= 1), or an error naming `what`. */
recur_status recur_onnx_tensor_shape(recur_onnx_ctx *c, const onnx_tensor *t, const char *what, recur_shape *out);

/* ---------------------------------------------------------------- symbols (symtab.c) */

/* The symbol of `name` visible now (innermost definition), NULL if none. */
onnx_sym *recur_onnx_sym(recur_onnx_ctx *c, const char *name);
/* Defines name as a recur value. */
recur_status recur_onnx_def_value(recur_onnx_ctx *c, const char *name, recur_value v, int integer);
/* Defines name as a host tensor; takes ownership of t's values. */
recur_status recur_onnx_def_const(recur_onnx_ctx *c, const char *name, onnx_tensor *t, int param);
/* Defines name as another kind of symbol (ITER, SEQ, ABSENT); returns it or NULL on error. */
onnx_sym *recur_onnx_def_other(recur_onnx_ctx *c, const char *name, onnx_sym_kind kind);
/* Forgets the symbols defined at scope depth >= depth. */
void recur_onnx_scope_drop(recur_onnx_ctx *c, int depth);
void recur_onnx_syms_free(recur_onnx_ctx *c);

/* Input i of the node being imported: its name, or NULL when absent or empty. */
const char *recur_onnx_in_name(const onnx_node *n, int i);
/* Input i's symbol (an error naming it when it is undefined or missing). */
onnx_sym *recur_onnx_in(recur_onnx_ctx *c, const onnx_node *n, int i);
/* Input i's host tensor if it is a constant, else NULL (no error). */
const onnx_tensor *recur_onnx_in_const(recur_onnx_ctx *c, const onnx_node *n, int i);
/* Input i as a recur value (a constant is made a recur constant or parameter once). */
recur_status recur_onnx_in_value(recur_onnx_ctx *c, const onnx_node *n, int i, recur_value *out);
/* A symbol as a recur value. */
recur_status recur_onnx_sym_value(recur_onnx_ctx *c, onnx_sym *s, recur_value *out);
/* The shape of input i (of its host tensor or its recur value). */
recur_status recur_onnx_in_dims(recur_onnx_ctx *c, const onnx_node *n, int i, int *ndim, int64_t *d);
/* Input i, a constant integer list (a 0-D or 1-D integer tensor), copied to vals (cap entries). */
recur_status recur_onnx_in_ints(recur_onnx_ctx *c, const onnx_node *n, int i, int64_t *vals, int cap, int *count);
/* Defines output i of the node. */
recur_status recur_onnx_out_value(recur_onnx_ctx *c, const onnx_node *n, int i, recur_value v, int integer);

/* ---------------------------------------------------------------- the op importers */

typedef recur_status (*recur_onnx_op_fn)(recur_onnx_ctx *c, const onnx_node *n);

/* The importer of an op type (import_ops.c lists them all), NULL for an op recur does not import. */
recur_onnx_op_fn recur_onnx_op_importer(const char *op_type);

/* Constant folding (import_fold.c): 1 when it computed every output of n from constants, 0 when the
 * node is not foldable (nothing recorded), or -1 with an error. */
int recur_onnx_fold(recur_onnx_ctx *c, const onnx_node *n);

/* Shape arithmetic shared by folding and the graph forms of the ops (import_fold.c). */
recur_status recur_onnx_axis(recur_onnx_ctx *c, int64_t axis, int ndim, int *out);
/* The axes of Squeeze/Unsqueeze/Reduce: input `input` from op set 13, else the attribute (*count -1: none given). */
recur_status recur_onnx_axes(recur_onnx_ctx *c, const onnx_node *n, int input, int64_t *axes, int *count);
recur_status recur_onnx_unsqueeze_dims(recur_onnx_ctx *c, int ndim, const int64_t *d, const int64_t *axes, int n_axes,
                                       int *out_ndim, int64_t *out);
/* n_axes < 0: every dimension of size 1. */
recur_status recur_onnx_squeeze_dims(recur_onnx_ctx *c, int ndim, const int64_t *d, const int64_t *axes, int n_axes,
                                     int *out_ndim, int64_t *out);
recur_status recur_onnx_reshape_dims(recur_onnx_ctx *c, int ndim, const int64_t *d, const int64_t *spec, int n_spec,
                                     int allowzero, int *out_ndim, int64_t *out);
recur_status recur_onnx_broadcast_dims(recur_onnx_ctx *c, int na, const int64_t *a, int nb, const int64_t *b,
                                       int *out_ndim, int64_t *out);
/* ONNX's clamping of a [start, end) range to a dimension. */
void recur_onnx_slice_range(int64_t dim, int64_t start, int64_t end, int64_t *s, int64_t *len);
/* A Slice node's start and length per axis of an input of dims d (steps must be 1). */
recur_status recur_onnx_slice_spec(recur_onnx_ctx *c, const onnx_node *n, int ndim, const int64_t *d, int64_t *start,
                                   int64_t *len);

/* The module path of a node named by PyTorch ("/out/MatMul" -> "out") into buf; 0 if it has none. */
int recur_onnx_module_path(const char *node_name, char *buf, size_t len);

/* LSTM, GRU, RNN (import_rnn.c). */
recur_status recur_onnx_import_lstm(recur_onnx_ctx *c, const onnx_node *n);
recur_status recur_onnx_import_gru(recur_onnx_ctx *c, const onnx_node *n);
recur_status recur_onnx_import_rnn(recur_onnx_ctx *c, const onnx_node *n);

/* Scan, Loop and the sequence ops of a scripted loop (import_loop.c); a body is imported by c->import_body. */
recur_status recur_onnx_import_scan(recur_onnx_ctx *c, const onnx_node *n);
recur_status recur_onnx_import_loop(recur_onnx_ctx *c, const onnx_node *n);
recur_status recur_onnx_import_seq_empty(recur_onnx_ctx *c, const onnx_node *n);
recur_status recur_onnx_import_seq_insert(recur_onnx_ctx *c, const onnx_node *n);
recur_status recur_onnx_import_seq_concat(recur_onnx_ctx *c, const onnx_node *n);
/* Gather whose indices are a Loop body's iteration number: the step of a sequence input, or 0 (not that case). */
int recur_onnx_loop_gather(recur_onnx_ctx *c, const onnx_node *n, recur_status *st);

/*
 * The attributes of ONNX's recurrent ops beyond PyTorch's cells
 * (import_rnn_ext.c, one function each: the one place where each maps onto
 * recur's API): sequence_lens onto the loops' lengths, clip and P onto the
 * cells' options. Each fills its part of *x, or returns an error naming the
 * node, its op type and the attribute.
 */
typedef struct recur_onnx_rnn_ext {
    int64_t T, B, H, D;     /* sequence length, batch, hidden size and directions of the node */
    recur_value lengths;    /* sequence_lens as a recur value [B] (RECUR_NONE: every sequence is T long) */
    recur_cell_opts cell;   /* the cells' clip and peepholes */
    const onnx_tensor *P;   /* peephole weights [D, 3H] (ONNX's order i, o, f), or NULL */
} recur_onnx_rnn_ext;
/* Copies direction d's peephole weights into the cell's "weight_peephole" [3, H] (recur's order i, f, o). */
recur_status recur_onnx_rnn_load_peepholes(recur_onnx_ctx *c, const recur_onnx_rnn_ext *x, int d, const recur_cell *cell);
recur_status recur_onnx_rnn_sequence_lens(recur_onnx_ctx *c, const onnx_node *n, int input, recur_onnx_rnn_ext *x);
recur_status recur_onnx_rnn_clip(recur_onnx_ctx *c, const onnx_node *n, recur_onnx_rnn_ext *x);
recur_status recur_onnx_rnn_peepholes(recur_onnx_ctx *c, const onnx_node *n, int input, recur_onnx_rnn_ext *x);

/* ---------------------------------------------------------------- export */

/* The exporter's model under construction (export.c makes it; export_builder.c's helpers fill it). */
typedef struct recur_onnx_out {
    recur_graph *g;
    onnx_graph *gp;          /* the graph being filled (the main graph or a Scan body) */
    onnx_graph *main;        /* the main graph (where parameters and constants go) */
    char **names;            /* per recur node: its ONNX name once emitted, else NULL */
    void **allocs;           /* everything allocated for the model, freed together */
    size_t n_allocs, cap_allocs;
    char **used;             /* every tensor and node name given so far */
    size_t n_used;
    char *needed;            /* per recur node: 1 if the outputs need it */
    char *as_cell;           /* per loop: 1 once written as an LSTM/GRU/RNN node (its outputs are ONNX's) */
    int counter;             /* for fresh names */
} recur_onnx_out;

/* The protobuf messages under construction (export_builder.c). Allocation in the model (zeroed); NULL after
 * recording an error on g. */
void *recur_onnx_alloc(recur_onnx_out *o, size_t bytes);
char *recur_onnx_strdup(recur_onnx_out *o, const char *s);
/* 1 if some tensor or node of the model is already called `name`. */
int recur_onnx_name_used(const recur_onnx_out *o, const char *name);
/* Gives `name` itself (the caller checked recur_onnx_name_used): its copy in the model, NULL on error. */
char *recur_onnx_claim(recur_onnx_out *o, const char *name);
/* A fresh tensor name: base itself if free, else "<base>_<k>". */
char *recur_onnx_fresh(recur_onnx_out *o, const char *base);
/* Appends a node of op_type with inputs/outputs to the graph being filled; NULL on error. */
onnx_node *recur_onnx_emit(recur_onnx_out *o, const char *op_type, const char *name, int n_in, const char *const *in,
                           int n_out, const char *const *out);
/* Attributes on an emitted node. */
recur_status recur_onnx_set_int(recur_onnx_out *o, onnx_node *n, const char *name, int64_t v);
recur_status recur_onnx_set_float(recur_onnx_out *o, onnx_node *n, const char *name, float v);
recur_status recur_onnx_set_str(recur_onnx_out *o, onnx_node *n, const char *name, const char *v);
recur_status recur_onnx_set_ints(recur_onnx_out *o, onnx_node *n, const char *name, int count, const int64_t *v);
recur_status recur_onnx_set_strings(recur_onnx_out *o, onnx_node *n, const char *name, int count, const char *const *v);
recur_status recur_onnx_set_graph(recur_onnx_out *o, onnx_node *n, const char *name, onnx_graph *body);
/* A float tensor attribute (Constant's and ConstantOfShape's value). */
recur_status recur_onnx_set_tensor(recur_onnx_out *o, onnx_node *n, const char *name, int ndim, const int64_t *d,
                                   const float *v);
/* Adds an initializer (float data or int64 data) to the graph being filled; returns its name or NULL. */
const char *recur_onnx_init_float(recur_onnx_out *o, const char *name, int ndim, const int64_t *d, const float *v);
const char *recur_onnx_init_ints(recur_onnx_out *o, const char *name, int ndim, const int64_t *d, const int64_t *v);
/* A value info (float tensor of a fixed shape) for a graph input or output. */
RecurOnnx__ValueInfoProto *recur_onnx_value_info(recur_onnx_out *o, const char *name, recur_shape s, int elem);
/* Appends to a repeated field of the graph. */
recur_status recur_onnx_graph_add_input(recur_onnx_out *o, onnx_graph *gp, RecurOnnx__ValueInfoProto *vi);
recur_status recur_onnx_graph_add_output(recur_onnx_out *o, onnx_graph *gp, RecurOnnx__ValueInfoProto *vi);
/* Appends a metadata entry key = value (NULL: empty) to the model. */
recur_status recur_onnx_add_meta(recur_onnx_out *o, RecurOnnx__ModelProto *m, const char *key, const char *value);

/* A new name for node id's value: an input's or parameter's own name, else its node name made unique
 * (export_builder.c). */
char *recur_onnx_name_for(recur_onnx_out *o, int32_t id);
/* The names of recur nodes' values and their writing (export_ops.c). 1 for a node written only when something
 * reads it (recur_onnx_name_of): parameters and constants (the weights an LSTM node holds converted are not
 * written twice) and a loop's lengths mask (an LSTM node reads its lengths). */
int recur_onnx_lazy(const recur_graph *g, int32_t id);
/* The ONNX name of node id's value, emitting a lazy node when first read. NULL after recording an error. */
const char *recur_onnx_name_of(recur_onnx_out *o, int32_t id);
/* Emits one ordinary node (export_ops.c). */
recur_status recur_onnx_export_node(recur_onnx_out *o, int32_t id);
/* Emits a loop: a built-in cell as LSTM/GRU/RNN, anything else as a Scan (export_loop.c). */
recur_status recur_onnx_export_loop(recur_onnx_out *o, int li);

#endif
