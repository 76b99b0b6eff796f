/*
 * recur/exec.h — compiling a graph into a plan and running it on a backend.
 *
 * A plan fixes the order of the nodes needed for its outputs, gives every
 * intermediate value a buffer (buffers are reused once their value is dead)
 * and allocates all memory when it is compiled: running a plan allocates
 * nothing. Parameters are read from (and written by optimizers into) the
 * graph's own storage, so every plan of a graph sees the same weights.
 *
 *   recur_plan *p = recur_compile(g, 2, (recur_value[]){loss, dW}, NULL);
 *   recur_plan_feed(p, x, xdata, n);
 *   recur_plan_run(p);
 *   float l; recur_plan_fetch(p, loss, &l, 1);
 */
#ifndef RECUR_EXEC_H
#define RECUR_EXEC_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A compiled plan: the graph's nodes in order with their buffers. */
typedef struct recur_plan recur_plan;

/** Options of recur_compile; NULL or zeros select the defaults. */
typedef struct recur_compile_opts {
    const char *backend; /**< "reference" (default) or "onednn" where built */
    int inference;       /**< 1: dropout is the identity */
    int no_reuse;        /**< 1: every value gets its own buffer (for debugging) */
    int check_finite;    /**< 1: after each node, stop with RECUR_ERR_RUNTIME naming the first node that made a NaN or Inf */
} recur_compile_opts;

/**
 * Compiles the part of g needed to compute `outputs` (whose values stay
 * readable after each run). NULL on failure, with the reason on the graph
 * (recur_errmsg(g)). The graph must not gain nodes the plan needs after
 * this; adding other nodes is fine. The plan keeps a pointer to g: free the
 * plan before the graph.
 */
recur_plan *recur_compile(recur_graph *g, int n_outputs, const recur_value *outputs,
                          const recur_compile_opts *opts);

/** Frees a plan. NULL is allowed. */
void recur_plan_free(recur_plan *p);

/** Message of the plan's most recent failure ("" if none). */
const char *recur_plan_errmsg(const recur_plan *p);

/** Status of the plan's most recent failure. */
recur_status recur_plan_errcode(const recur_plan *p);

/**
 * Copies n floats into input `v` for the next runs. RECUR_ERR_FEED if n is
 * not the input's element count, RECUR_ERR_VALUE if v is not an input the
 * plan needs.
 */
recur_status recur_plan_feed(recur_plan *p, recur_value v, const float *data, int64_t n);

/** recur_plan_feed by the input's name. */
recur_status recur_plan_feed_name(recur_plan *p, const char *name, const float *data, int64_t n);

/**
 * Runs the plan once. Every input it needs must have been fed (once; feeds
 * persist between runs). RECUR_ERR_RUNTIME if a kernel met bad data.
 */
recur_status recur_plan_run(recur_plan *p);

/** Copies output v (n must be its element count) after a run. */
recur_status recur_plan_fetch(recur_plan *p, recur_value v, float *out, int64_t n);

/**
 * Pointer to output v's buffer, valid until the next run or recur_plan_free.
 * NULL with an error if v is not an output of the plan or nothing ran yet.
 */
const float *recur_plan_output(recur_plan *p, recur_value v);

/** Bytes of memory the plan allocated for its values and workspace (parameters excluded). */
size_t recur_plan_memory(const recur_plan *p);

/** Number of nodes the plan executes per run. */
int recur_plan_size(const recur_plan *p);

/** Name of the plan's backend. */
const char *recur_plan_backend(const recur_plan *p);

/** 1 if a backend of that name is built into this library. */
int recur_backend_available(const char *name);

#ifdef __cplusplus
}
#endif
#endif
