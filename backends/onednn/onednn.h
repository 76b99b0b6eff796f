/*
 * backends/onednn/onednn.h — the oneDNN backend's internals (private to the
 * library).
 *
 * A node the backend runs holds one oneDNN primitive, created when the plan
 * is compiled, with a memory object per operand and a stream of its own.
 * The kernel only points those memory objects at the plan's buffers and
 * executes: it allocates and creates nothing.
 *
 * Threads: the CPU engine is created once per process (on first use,
 * through call_once) and shared, which oneDNN allows. Everything else a
 * node uses (primitive, memory objects, stream, scratchpad) belongs to that
 * node, so plans may be compiled, run and freed in different threads at
 * once; one plan must not run in two threads at once (its buffers are
 * shared anyway).
 */
#ifndef RECUR_BACKENDS_ONEDNN_H
#define RECUR_BACKENDS_ONEDNN_H

#include <dnnl.h>
#include <dnnl_debug.h>

#include "backends/backend.h"

/* The oneDNN backend ("onednn"). */
extern const recur_backend recur_backend_onednn_impl;

/* The most primitive arguments a node binds (matmul: src, weights, dst, scratchpad; binary: src0, src1, dst,
 * scratchpad). */
#define ONEDNN_MAX_ARGS 4

/* Where a primitive argument's data lives at run time: input i (>= 0), or: */
enum { ONEDNN_BIND_OUTPUT = -1, ONEDNN_BIND_OWN = -2 /* memory the node allocated (scratchpad) */ };

/* A node's prepared primitive. */
typedef struct onednn_prim {
    dnnl_primitive_t prim;
    dnnl_stream_t stream;
    int n_args;
    dnnl_exec_arg_t args[ONEDNN_MAX_ARGS]; /* argument id and its memory object */
    int bind[ONEDNN_MAX_ARGS];             /* ONEDNN_BIND_* or an input index */
    char what[192];                        /* the operation and its shapes, for messages */
} onednn_prim;

/* One argument of a primitive to create: its id (DNNL_ARG_*), layout and binding. */
typedef struct onednn_arg {
    int arg;
    dnnl_memory_desc_t md;
    int bind;
} onednn_arg;

/*
 * Creates in p the primitive of op descriptor `desc` (its arguments in
 * args), with a user-managed scratchpad allocated here, and a memory object
 * per argument. p->what must already describe the operation. On failure
 * returns RECUR_ERR_RUNTIME with a message naming p->what, the oneDNN call
 * and its status in err, and leaves p for recur_onednn_prim_free.
 */
recur_status recur_onednn_prim_create(onednn_prim *p, const_dnnl_op_desc_t desc, int n_args, const onednn_arg *args,
                                      char *err, size_t errlen);

/* Destroys what recur_onednn_prim_create made (also after a failure). */
void recur_onednn_prim_free(onednn_prim *p);

/*
 * Prepares node a->node (a matmul) into p: writes p->what and creates the
 * primitive (backends/onednn/matmul.c).
 */
recur_status recur_onednn_matmul_prepare(const recur_kernel_args *a, onednn_prim *p, char *err, size_t errlen);

/*
 * 1 if the backend runs node n (an activation or a gradient helper op of
 * one) as a oneDNN eltwise primitive (backends/onednn/eltwise.c).
 */
int recur_onednn_eltwise_runs(const recur_node *n);

/* Prepares node a->node, one that recur_onednn_eltwise_runs accepts, into p. */
recur_status recur_onednn_eltwise_prepare(const recur_kernel_args *a, onednn_prim *p, char *err, size_t errlen);

/*
 * 1 if the backend runs node n (add, sub, mul, div) whose inputs have the
 * shapes xs[0], xs[1] as a oneDNN binary primitive (backends/onednn/binary.c).
 */
int recur_onednn_binary_runs(const recur_node *n, const recur_shape *xs);

/* Prepares node a->node, one that recur_onednn_binary_runs accepts, into p. */
recur_status recur_onednn_binary_prepare(const recur_kernel_args *a, onednn_prim *p, char *err, size_t errlen);

/*
 * Debug counters (for tests): how many oneDNN primitives this process has
 * created so far, and how many of them are still alive.
 */
long recur_onednn_primitives_created(void);
long recur_onednn_primitives_alive(void);

#endif
