/*
 * recur/graph.h — the static computational graph: creating graphs, their
 * leaves (inputs, parameters, constants), names, queries, validation,
 * ordering, pruning and a textual dump.
 *
 * A graph is built once and run many times. Every node has exactly one
 * output value, identified by the node's id (see recur_value). Nodes are
 * only ever appended and ids never change. Builders only take existing
 * values as operands, so a graph is acyclic by construction; recurrence is
 * expressed with the loop node (recur/loop.h), never with cycles.
 *
 * Errors: a builder that fails returns RECUR_NONE and leaves the graph as it
 * was (no node is added); recur_errmsg() tells why, naming the op, the node
 * and the shapes involved. The graph stays fully usable after an error.
 */
#ifndef RECUR_GRAPH_H
#define RECUR_GRAPH_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque graph. */
typedef struct recur_graph recur_graph;

/** Creates an empty graph whose parameter initializers draw from `seed`. NULL if out of memory. */
RECUR_API recur_graph *recur_graph_new(uint64_t seed);

/** Frees a graph, its nodes and its parameter storage. NULL is allowed. */
RECUR_API void recur_graph_free(recur_graph *g);

/* ---------------------------------------------------------------- errors */

/** Status of the most recent failed call on g, RECUR_OK if none since the last clear. */
RECUR_API recur_status recur_errcode(const recur_graph *g);

/** Message of the most recent failed call on g ("" if none). Valid until the next failing call. */
RECUR_API const char *recur_errmsg(const recur_graph *g);

/** Forgets the recorded error. */
RECUR_API void recur_clear_error(recur_graph *g);

/**
 * Records an error on g (a printf-style message) and returns `code`: for
 * code that builds on recur, such as a custom cell's step function refusing
 * its input, so that its caller reads the reason with recur_errmsg.
 */
RECUR_API recur_status recur_set_error(recur_graph *g, recur_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---------------------------------------------------------------- leaves */

/**
 * An input: a placeholder whose data is fed at run time (recur_plan_feed).
 * `name` must be unique in the graph (it is how callers feed it by name).
 */
RECUR_API recur_value recur_input(recur_graph *g, const char *name, recur_shape shape);

/** How a parameter's initial values are drawn. */
typedef enum recur_init_kind {
    RECUR_INIT_ZEROS,      /**< all 0 */
    RECUR_INIT_CONSTANT,   /**< all a */
    RECUR_INIT_UNIFORM,    /**< uniform in [a, b) */
    RECUR_INIT_NORMAL,     /**< normal with mean a and standard deviation b */
    RECUR_INIT_XAVIER,     /**< Glorot uniform: U(-s, s), s = gain(a, default 1) * sqrt(6 / (fan_in + fan_out)) */
    RECUR_INIT_ORTHOGONAL  /**< a (semi-)orthogonal matrix times gain a (default 1), from Gram-Schmidt of a normal draw */
} recur_init_kind;

/**
 * An initializer. For a matrix [rows, cols] fan_out = rows and fan_in = cols
 * (PyTorch's convention for weights [out, in]); for higher ranks the leading
 * dimension is fan_out and the rest multiply into fan_in; a vector has
 * fan_in = fan_out = its length. Orthogonal treats the tensor as
 * [d0, numel/d0].
 */
typedef struct recur_init {
    recur_init_kind kind;
    float a, b;
} recur_init;

/** Initializer shorthands. */
RECUR_API recur_init recur_init_zeros(void);
RECUR_API recur_init recur_init_constant(float value);
RECUR_API recur_init recur_init_uniform(float lo, float hi);
RECUR_API recur_init recur_init_normal(float mean, float stddev);
RECUR_API recur_init recur_init_xavier(void);
RECUR_API recur_init recur_init_orthogonal(float gain);

/**
 * A trainable parameter with storage owned by the graph, filled at once
 * from `init` with the graph's random generator. `name` must be unique.
 */
RECUR_API recur_value recur_param(recur_graph *g, const char *name, recur_shape shape, recur_init init);

/**
 * Re-draws a parameter's values from an initializer (using the graph's
 * generator). RECUR_ERR_VALUE if v is not a parameter.
 */
RECUR_API recur_status recur_param_init(recur_graph *g, recur_value v, recur_init init);

/**
 * A constant holding a copy of `data` (numel(shape) floats). `name` may be
 * NULL for an automatic one.
 */
RECUR_API recur_value recur_constant(recur_graph *g, const char *name, recur_shape shape, const float *data);

/** A scalar constant. */
RECUR_API recur_value recur_scalar(recur_graph *g, float x);

/** A constant of the given shape with every element equal to x (an op without inputs). */
RECUR_API recur_value recur_fill(recur_graph *g, recur_shape shape, float x);

/**
 * The storage of a parameter or constant: numel floats that the caller may
 * read and (for parameters) write, e.g. to load weights. NULL (with an error)
 * for any other kind of value. Valid until the graph is freed. A plan
 * compiled with keep_packed_params (recur/exec.h) sees what is written
 * through the pointer before its next run, but not what is written through
 * it after that run: call this again before writing again.
 */
RECUR_API float *recur_param_data(recur_graph *g, recur_value v);

/** Copies n floats into a parameter; RECUR_ERR_FEED if n is not its element count. */
RECUR_API recur_status recur_param_set(recur_graph *g, recur_value v, const float *data, int64_t n);

/* --------------------------------------------------------------- queries */

/** Number of nodes ever added (ids run from 0 to this - 1). */
RECUR_API int recur_graph_size(const recur_graph *g);

/**
 * Bytes the graph itself holds: its node array, inputs, names, the data of
 * parameters and constants, and its loops' records (an unrolled loop's
 * table of copies is 4 bytes per body node and step). Compiled plans hold
 * their own memory (recur_plan_memory).
 */
RECUR_API size_t recur_graph_memory(const recur_graph *g);

/** The shape of a value; a zero-rank shape with an error if v is invalid. */
RECUR_API recur_shape recur_value_shape(const recur_graph *g, recur_value v);

/** The name of a value's node (automatic names look like "add#12"); NULL if v is invalid. */
RECUR_API const char *recur_value_name(const recur_graph *g, recur_value v);

/** The op name of a value's node ("matmul", "input", "param", ...); NULL if invalid. */
RECUR_API const char *recur_value_op(const recur_graph *g, recur_value v);

/**
 * Renames a node. Names of inputs and parameters must stay unique;
 * RECUR_ERR_ARG if another node already has the name.
 */
RECUR_API recur_status recur_set_name(recur_graph *g, recur_value v, const char *name);

/** The value whose node is called `name`, RECUR_NONE (with an error) if there is none. */
RECUR_API recur_value recur_find(const recur_graph *g, const char *name);

/**
 * RECUR_OK if v is a live value of g. Otherwise records why on g, naming
 * `who` (the call or layer checking it), and returns the error; an invalid
 * v (RECUR_NONE from a failed builder) keeps that builder's message.
 */
RECUR_API recur_status recur_value_check(recur_graph *g, recur_value v, const char *who);

/**
 * Drops every node added since g had `size` nodes (recur_graph_size) and
 * every loop begun since: undoes a build of several calls that failed
 * halfway (a layer half made), leaving the graph as it was. Values held
 * from before stay valid. RECUR_ERR_ARG for a size out of 0..recur_graph_size;
 * RECUR_ERR_STATE when an unrolled loop's copies would be dropped (roll
 * back to a size after recur_unroll, or build again).
 */
RECUR_API recur_status recur_graph_rollback(recur_graph *g, int size);

/** 1 if a node of g is called `name` (named by its builder or recur_set_name), else 0; records no error. */
RECUR_API int recur_name_taken(const recur_graph *g, const char *name);

/** 1 if v is a parameter of g. */
RECUR_API int recur_is_param(const recur_graph *g, recur_value v);

/** 1 if v is an input of g. */
RECUR_API int recur_is_input(const recur_graph *g, recur_value v);

/**
 * Lists the parameters of g in creation order: writes up to `cap` of them to
 * `out` (which may be NULL when cap is 0) and returns how many there are.
 */
RECUR_API int recur_params(const recur_graph *g, recur_value *out, int cap);

/* ------------------------------------------------------- whole-graph work */

/**
 * Checks the whole graph: every input of every live node exists and is
 * live, and re-running every shape rule gives the recorded shapes.
 * RECUR_OK or the first problem found.
 */
RECUR_API recur_status recur_graph_validate(recur_graph *g);

/**
 * Writes into `order` (capacity `cap`) the ids of the nodes needed to
 * compute `outputs`, each after its inputs (a depth-first topological order).
 * Returns the count, or -1 with an error (bad value, too small a buffer).
 */
RECUR_API int recur_topo_order(recur_graph *g, int n_outputs, const recur_value *outputs, int32_t *order, int cap);

/**
 * Dead-node elimination: removes every node that is neither needed by one
 * of `keep`, nor an input or a parameter. Ids of the remaining nodes do not
 * change; a removed value is invalid from then on (using it is an error
 * naming it). Returns the number of nodes removed, or -1 with an error.
 */
RECUR_API int recur_graph_prune(recur_graph *g, int n_keep, const recur_value *keep);

/**
 * Writes a readable listing of the live nodes to f, one per line:
 *   %7 = matmul(%3, %5) transb=1 [4, 6]  "h1"
 * RECUR_ERR_ARG for a NULL stream, RECUR_ERR_IO when the stream reports a
 * write error (recur_errmsg says which).
 */
RECUR_API recur_status recur_graph_dump(const recur_graph *g, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
