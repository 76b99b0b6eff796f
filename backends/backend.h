/*
 * backends/backend.h — the backend interface (private to the library).
 *
 * A backend chooses, for each node of a plan, the kernel that runs it, and
 * may prepare per-node state when the plan is compiled (oneDNN primitives,
 * created once per shape) and release it when the plan is freed. A backend
 * that has no kernel of its own for a node falls back to the op table's
 * reference kernel.
 */
#ifndef RECUR_BACKENDS_BACKEND_H
#define RECUR_BACKENDS_BACKEND_H

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
} recur_backend;

/* The portable reference backend: the op table's kernels, nothing else. */
extern const recur_backend recur_backend_reference_impl;

/* The buffer a plan holds for value v (any value it reads or computes), or NULL. */
float *recur_plan_value_buffer(recur_plan *p, recur_value v);

/* The shape of a value the plan reads or computes (a zero-rank shape if none). */
recur_shape recur_plan_value_shape(const recur_plan *p, recur_value v);

/* 1 if v is one of the plan's outputs. */
int recur_plan_is_output(const recur_plan *p, recur_value v);

/* Records an error on the plan (printf-style), returning code. */
recur_status recur_plan_set_error(recur_plan *p, recur_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Marks fed value v as fed, for callers that wrote its buffer directly. */
void recur_plan_mark_fed(recur_plan *p, recur_value v);

/* The backend called `name` (NULL: the default, recur_backend_default_name()), or NULL if it is not built in. */
const recur_backend *recur_backend_find(const char *name);

/* The name of the default backend: $RECUR_BACKEND if set and not empty, else "reference". */
const char *recur_backend_default_name(void);

#endif
