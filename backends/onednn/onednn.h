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

#include "plan/plan.h"

/* The oneDNN backend ("onednn"). */
extern const recur_backend recur_backend_onednn_impl;

/* The most primitive arguments a node binds (matmul: src, weights, bias, dst, scratchpad; binary: src0, src1,
 * dst, scratchpad). */
#define ONEDNN_MAX_ARGS 5

/* Where a primitive argument's data lives at run time: input i (>= 0), or: */
enum {
    ONEDNN_BIND_OUTPUT = -1,
    ONEDNN_BIND_PACKED = -2, /* the node's packed weights (p->packed), in the plan's arena or its workspace */
    ONEDNN_BIND_WORK = -3,   /* the step's workspace (a->work): the scratchpad */
    ONEDNN_BIND_PARTIAL = -4 /* a depth block's partial sum, in the step's workspace */
};

/*
 * A weights operand packed into the layout a matmul primitive prefers
 * (backends/onednn/packed.c): held by the plan and shared by the products
 * that read it, or, for an operand one product reads, packed into that
 * product's workspace each time it runs (in_work).
 */
typedef struct onednn_packed {
    int32_t id;                   /* the value packed */
    dnnl_memory_desc_t from, to;  /* its plain (strided) and its packed layout */
    dnnl_primitive_t reorder;
    dnnl_stream_t stream;
    dnnl_memory_t src, dst;       /* dst: the packed buffer, in the plan's arena or the product's workspace */
    void *data;                   /* the buffer in the arena (in_work: NULL) */
    size_t bytes;                 /* its size */
    int first, last;              /* the steps reading it first and last */
    int in_work;                  /* 1: packed into the reading product's workspace, at every run */
    uint64_t packed_in;           /* 1 + the execution the buffer was last packed in; 0: never */
    struct onednn_packed *next;
} onednn_packed;

/*
 * A weights parameter W [n, k] kept from one run to the next in plans
 * compiled with keep_packed_params (kept.c), in the layout its reader wants:
 * packed for the streaming kernel of one-row products (ops/gemv.c), or
 * transposed for a gather of its columns (a one-hot input's lookup); made
 * again at the start of a run when the graph's parameters may have changed
 * since.
 */
enum { ONEDNN_KEPT_GEMV, ONEDNN_KEPT_TRANSPOSED };

typedef struct onednn_kept {
    int32_t id;           /* the parameter */
    int layout;           /* ONEDNN_KEPT_* */
    int64_t n, k;
    float *data;          /* n * k floats in that layout */
    int fresh;            /* 1: packed at least once, ... */
    uint64_t writes;      /* ... when the graph's param_writes was this */
    struct onednn_kept *next;
} onednn_kept;

/* The products reading one b operand, and the rows they have together. */
typedef struct pack_use {
    int32_t id;
    int trans;
    int64_t k, n, rows;
    int users;
    int first, last; /* the first and last step reading it */
} pack_use;

/* A plan's oneDNN state: which weights are worth packing, the packed copies, and the weights kept packed. */
typedef struct onednn_plan {
    const struct recur_plan *plan;
    pack_use *uses;
    int n_uses;
    onednn_packed *packed; /* a list */
    onednn_kept *kept;     /* a list */
} onednn_plan;

/* A node's prepared primitive. */
typedef struct onednn_prim onednn_prim;
struct onednn_prim {
    dnnl_primitive_t prim;
    dnnl_stream_t stream;
    int n_args;
    dnnl_exec_arg_t args[ONEDNN_MAX_ARGS]; /* argument id and its memory object */
    int bind[ONEDNN_MAX_ARGS];             /* ONEDNN_BIND_* or an input index */
    char what[192];                        /* the operation and its shapes, for messages */
    onednn_packed *packed;                 /* weights read packed (input 1 is packed before running), or NULL */
    const onednn_kept *kept;               /* a one-row product's weights kept packed (prim is NULL), or NULL */
    int owns_packed;                       /* 1: packed is this node's own (in_work), freed with it */
    size_t scratch;                        /* bytes of scratchpad, at the start of the workspace */
    size_t pack_at;                        /* where in the workspace an in_work packed copy goes */
    size_t work;                           /* bytes of workspace the kernel needs */
    /* A large product cut into blocks of rows, or of columns where it has few rows (matmul.c): each
     * block its own primitive with its own memory objects and stream, run as one chunk of a job on
     * recur's pool (ops/threads.h), single-threaded. */
    int n_blocks;                          /* 0: the product is one call of prim */
    onednn_prim **blocks;                  /* block b: rows (or columns) [b * size, ...) of the output */
    int64_t in_step[3], y_step;            /* floats from block b's part of input i (a, b, bias), of y, to block b + 1's */
    int slots;                             /* threads that may run blocks at once: a scratchpad each */
    size_t slot_bytes;                     /* bytes of each scratchpad, one after the other in the workspace */
    /* Blocks in depth: block 0 writes y, block b > 0 its partial sum, y's size, partial_at + (b - 1) *
     * partial_floats * 4 bytes into the workspace; y then adds the partial sums in order (onednn.c). */
    size_t partial_at;
    int64_t partial_floats;                /* 0: the blocks are not in depth */
};

/* One argument of a primitive to create: its id (DNNL_ARG_*), layout and binding.
 * A layout of format dnnl_format_tag_any lets the primitive choose; prim_create
 * writes the chosen layout back. */
typedef struct onednn_arg {
    int arg;
    dnnl_memory_desc_t md;
    int bind;
} onednn_arg;

/*
 * Creates in p the primitive of op descriptor `desc` (its arguments in
 * args), with a memory object per argument and a user-managed scratchpad
 * (p->scratch bytes at the start of the step's workspace). p->what must already describe the operation. On failure
 * returns RECUR_ERR_RUNTIME with a message naming p->what, the oneDNN call
 * and its status in err, and leaves p for recur_onednn_prim_free.
 */
recur_status recur_onednn_prim_create(onednn_prim *p, const_dnnl_op_desc_t desc, int n_args, onednn_arg *args,
                                      char *err, size_t errlen);

/*
 * oneDNN runs on OpenMP, whose thread count is per calling thread. recur
 * creates and runs every primitive with OpenMP's count at 1 in the calling
 * thread, so oneDNN never enters a parallel region of its own: no OpenMP
 * thread is ever started to spin at a barrier, and a product's threads are
 * recur's (row blocks on its pool, matmul.c). recur_onednn_serial_begin (serial.c)
 * sets the count to 1 and returns the caller's, which
 * recur_onednn_serial_end restores.
 */
int recur_onednn_serial_begin(void);
void recur_onednn_serial_end(int saved);

/* The process's CPU engine (created on first use), or NULL if oneDNN could not make one. */
dnnl_engine_t recur_onednn_engine(void);

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

/* The plan hooks of the backend (packed.c): the state counts the rows of
 * the products reading each weights operand, and holds the packed copies. */
recur_status recur_onednn_plan_open(const struct recur_plan *p, void **plan_state, char *err, size_t errlen);
void recur_onednn_plan_close(void *plan_state);
int recur_onednn_plan_buffers(const void *plan_state, recur_backend_buffer *list, int cap);
void recur_onednn_plan_buffers_placed(void *plan_state, const recur_backend_buffer *list, int n);

/*
 * Prepares a one-row product (recur_gemv_suits) or a gather of columns of
 * a plan compiled with keep_packed_params whose weights (table) are a
 * parameter or constant: *state becomes a primitive-less onednn_prim
 * pointing at the kept copy (made here, shared by every reader wanting the
 * same layout). Any other: *state NULL, and the kernel reads W as it is
 * (kept.c).
 */
recur_status recur_onednn_kept_prepare(const recur_kernel_args *a, void **state, char *err, size_t errlen);

/* The one-row product's kernel: from the kept copy if the node has one, else from W as it is. */
recur_status recur_onednn_gemv(const recur_kernel_args *a);

/* The gather's kernel: a gather of columns from the kept transposed table if the node has one, else the op's own. */
recur_status recur_onednn_gather(const recur_kernel_args *a);

/* Packs again the kept copies of a plan whose graph's parameters may have changed since the last run. */
void recur_onednn_plan_run_begin(void *plan_state);

/* Bytes the kept copies hold. */
size_t recur_onednn_plan_bytes(const void *plan_state);

/* Frees the kept copies (with the plan state). */
void recur_onednn_kept_free(onednn_plan *s);

/*
 * How a 2-D product is cut into blocks (cut.c): by rows, by columns or in
 * depth (along k, each block a partial sum), of `size` each (the whole: not cut).
 */
typedef struct onednn_cut {
    int by_cols, by_depth;
    int64_t size;
} onednn_cut;

/*
 * The cut of op(a) [m, k] . op(b) [k, n] (ta, tb: a, b stored transposed),
 * from its shape and whether the plan packs b (cut.c says why).
 */
onednn_cut recur_onednn_cut(int64_t m, int64_t k, int64_t n, int ta, int tb, int packed);

/* 1 if the products reading value id as b (trans, [k, n]) in the plan are worth packing it for. */
int recur_onednn_plan_packs(const void *plan_state, int32_t id, int trans, int64_t k, int64_t n);

/* 1 if the plan packs value id as b (trans, [k, n]) for one product only: into its workspace. */
int recur_onednn_plan_packs_once(const void *plan_state, int32_t id, int trans, int64_t k, int64_t n);

/*
 * The plan's packed copy of value id (read as b: trans, [k, n]) from layout
 * `from` into `to`, made now if the plan has none yet; with in_work, a new copy of the caller's
 * own (freed with recur_onednn_packed_free) whose buffer is given at each
 * update. Errors name `what`.
 */
recur_status recur_onednn_packed_get(void *plan_state, int32_t id, int trans, int64_t k, int64_t n,
                                     const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to, dnnl_engine_t eng,
                                     int in_work, onednn_packed **out, const char *what, char *err, size_t errlen);

/*
 * Packs `weights` into pk (in_work: into `into`) unless this execution
 * already did (an in_work copy is packed every time).
 */
recur_status recur_onednn_packed_update(onednn_packed *pk, const float *weights, void *into, uint64_t execution,
                                        char *err, size_t errlen, const char *what);

/* Destroys a packed copy of a node's own (in_work). */
void recur_onednn_packed_free(onednn_packed *pk);

/*
 * Debug counters (for tests): how many oneDNN primitives this process has
 * created so far, and how many of them are still alive.
 */
long recur_onednn_primitives_created(void);
long recur_onednn_primitives_alive(void);

/* Debug counter (for tests): how many times this process has packed weights (packed.c). */
long recur_onednn_packs_done(void);

#endif
