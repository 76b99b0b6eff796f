/*
 * plan/include/plan/plan.h — the compiler's face to the layers above it
 * (internal to the library): the backend interface, compiling with a given
 * backend, and what backends and the training helpers may ask of a plan.
 *
 * A backend chooses, for each node of a plan, the kernel that runs it, and
 * may prepare per-node state when the plan is compiled (oneDNN primitives,
 * created once per shape) and release it when the plan is freed. A backend
 * that has no kernel of its own for a node falls back to the op table's
 * reference kernel.
 */
#ifndef RECUR_PLAN_PLAN_H
#define RECUR_PLAN_PLAN_H

#include "graph/error.h"
#include "ops/op.h"
#include "recur/exec.h"

/* Memory a backend's plan state shares between nodes, planned with the plan's buffers. */
typedef struct recur_backend_buffer {
    int32_t id;      /* the value whose data it holds (packed weights), or -1: for reports */
    size_t bytes;
    int first, last; /* the steps using it: it is live from the first to the last */
    void *at;        /* where the plan put it (set before plan_buffers_placed) */
} recur_backend_buffer;

typedef struct recur_backend {
    const char *name;
    /* The kernel for node n of graph g, or NULL to use the reference kernel. */
    recur_kernel_fn (*select)(const recur_graph *g, const recur_node *n);
    /* The kernel computing a matmul (node `product`) together with the bias
     * row added to it (kernel args: node the add, inner the matmul, x the
     * matmul's operands and the bias), or NULL for the reference
     * recur_matmul_bias_forward; NULL hook: the same. */
    recur_kernel_fn (*select_matmul_bias)(const recur_graph *g, const recur_node *product);
    /* Prepares per-node state (*state) for kernel args whose buffers are
     * not yet known (y, x are NULL); NULL hook: nothing to prepare. Returns
     * RECUR_OK or an error with a message in err. */
    recur_status (*prepare)(const recur_kernel_args *a, void **state, char *err, size_t errlen);
    /* Bytes of workspace the kernel of a node prepared into `state` needs
     * while it runs (given as its a->work; NULL hook: none). */
    size_t (*work_bytes)(const void *state);
    /* Releases what prepare made. */
    void (*release)(void *state);
    /* Per-plan state that the plan's nodes share (NULL hooks: none): made
     * after the plan's steps, inputs and buffers are known and before the
     * first prepare, which receives it as a->plan_state; closed after the
     * last release. plan_open returns RECUR_OK or an error with err filled. */
    recur_status (*plan_open)(const struct recur_plan *p, void **plan_state, char *err, size_t errlen);
    void (*plan_close)(void *plan_state);
    /* Memory the plan state shares between nodes (packed weights), once
     * every node is prepared: plan_buffers writes up to cap entries (bytes,
     * first, last) to list and returns how many there are; the plan lays
     * them out in its arena with its own buffers and gives their places to
     * plan_buffers_placed. The buffers' contents do not last from one run
     * to the next. NULL hooks: none. */
    int (*plan_buffers)(const void *plan_state, recur_backend_buffer *list, int cap);
    void (*plan_buffers_placed)(void *plan_state, const recur_backend_buffer *list, int n);
    /* Bytes of memory the backend holds for the plan outside those buffers (counted by recur_plan_memory). */
    size_t (*plan_bytes)(const void *plan_state);
    /* Called at the start of every run, before any step (NULL hook: nothing): where copies the plan state
     * keeps from run to run (recur_compile_opts.keep_packed_params) are brought up to date. */
    void (*plan_run_begin)(void *plan_state);
} recur_backend;

/*
 * recur_compile_fed (recur/exec.h) with the backend given: what the
 * registry's recur_compile calls once it has found the backend by name.
 * NULL on failure, with the reason on the graph.
 */
recur_plan *recur_plan_compile(recur_graph *g, int n_outputs, const recur_value *outputs, int n_fed,
                               const recur_value *fed, const recur_compile_opts *opts, const recur_backend *be);

/* recur_stepper_new (recur/exec.h) with the backend given. */
recur_stepper *recur_stepper_compile(recur_graph *g, recur_loop l, int n_outputs, const recur_value *outputs,
                                     const recur_compile_opts *opts, const recur_backend *be);

/* What a backend may know of kernel i (0 <= i < recur_plan_kernel_count) of a plan being compiled. */
typedef struct recur_plan_kernel {
    const recur_node *node;   /* the node whose value it computes */
    const recur_node *inner;  /* a matmul computed inside it (node is its bias add), or NULL */
    int n_in;                 /* its inputs: ids and shapes */
    const int32_t *in;
    const recur_shape *xs;
    int runs;                 /* 0: runs nothing (a view, computed inside another kernel) */
    int fused;                /* 1: a fused pointwise kernel (node is its last value) */
} recur_plan_kernel;

/* The number of the plan's kernels, in the order they run. */
int recur_plan_kernel_count(const recur_plan *p);

/* Kernel i of the plan. */
recur_plan_kernel recur_plan_kernel_at(const recur_plan *p, int i);

/* 1 if the plan was compiled with keep_packed_params (recur/exec.h). */
int recur_plan_keeps_packed_params(const recur_plan *p);

/*
 * The data of parameter or constant `id` when the plan reads it where the
 * graph holds it (not fed), else NULL.
 */
const float *recur_plan_storage(const recur_plan *p, int32_t id);

/* The graph's count of parameter writes (graph/ir.h param_writes): it changes when parameters may have. */
uint64_t recur_plan_param_writes(const recur_plan *p);

/* The buffer a plan holds for value v (any value it reads or computes), or NULL. */
float *recur_plan_value_buffer(recur_plan *p, recur_value v);

/* The shape of a value the plan reads or computes (a zero-rank shape if none). */
recur_shape recur_plan_value_shape(const recur_plan *p, recur_value v);

/* 1 if v is one of the plan's outputs. */
int recur_plan_is_output(const recur_plan *p, recur_value v);

/* The plan's error record (graph/error.h), for helpers that fail on a plan's behalf. */
recur_error *recur_plan_error(recur_plan *p);

/* Marks fed value v as fed, for callers that wrote its buffer directly. */
void recur_plan_mark_fed(recur_plan *p, recur_value v);

/* Test hook: stretches of small steps handed to two threads so far (plan/lanes.c, RECUR_PASS_LANES). */
long recur_lanes_stretches_run(void);

#endif
