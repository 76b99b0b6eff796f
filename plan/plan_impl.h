/*
 * plan/plan_impl.h — a compiled plan's layout, shared by the executor, memory
 * planning and the plan-level passes (private to plan/).
 */
#ifndef RECUR_PLAN_IMPL_H
#define RECUR_PLAN_IMPL_H

#include <stdatomic.h>

#include "plan/plan.h"
#include "recur/exec.h"

#define ALIGN_BYTES 64

/* Counts k basic steps of compiling on the plan's graph (recur_graph.work: the measure that compiling stays linear). */
#define PLAN_WORK(p, k) ((p)->g->work += (uint64_t)(k))

typedef struct plan_step {
    int32_t id;
    recur_kernel_fn fn;     /* NULL: nothing to run (a view, or fused into another step) */
    void *state;            /* backend state, or the step's fused program (owns_state) */
    int owns_state;         /* 1: state is a fused program the plan frees */
    int dead;               /* 1: computed inside another step's fused kernel: no buffer, no run */
    int made_by;            /* >= 0: no run of its own; step made_by's fused kernel writes this value
                             * (its buffer is live from that step); -1: the step computes its value */
    int32_t inner;          /* >= 0: a matmul computed inside this step's kernel (its bias add), else -1 */
    int32_t own_in[3];      /* inputs of such a step: the matmul's operands and the bias */
    int32_t columns_of;     /* >= 0: this value lies in columns of that concatenation, columns_at bytes into its
                             * first row (only fused kernels, which know the stride, write and read it) */
    size_t columns_at;
    int n_in;               /* the kernel's inputs: usually the node's, a fused kernel's leaves */
    const int32_t *in;
    size_t work;            /* workspace bytes this step needs (the op's, the backend's) */
    float *work_at;         /* ... and where it lies in the arena, or NULL */
    int x_off;              /* this step's slice of the plan's xptr/xshape arrays */
} plan_step;

/* One buffer of the plan's arena, for reports (recur_plan_memory_report). */
typedef struct plan_buffer {
    int kind;          /* PLAN_BUF_* below */
    int32_t id;        /* the value it holds (a value's root, or what a backend buffer holds, or -1); a workspace: its step */
    int first, last;   /* live from step first to step last (-1: before the run) */
    size_t bytes, offset;
} plan_buffer;

enum { PLAN_BUF_VALUE, PLAN_BUF_WORK, PLAN_BUF_BACKEND };

/* A hook of recur_plan_on_ready: fn is called after step `after` (-1: before the first). */
typedef struct plan_hook {
    int32_t id;
    int after;
    recur_plan_ready_fn fn;
    void *user;
} plan_hook;

/* Two threads through the plan's small steps (plan/lanes.c); dep NULL: none, the steps run in order. */
typedef struct plan_lanes {
    int *dep;                /* step s waits until every step up to dep[s] has finished */
    _Atomic uint64_t *done;  /* done[s] == execution + 1: step s finished in that run */
    _Atomic uint64_t *taken; /* taken[s] == execution + 1: a thread took step s in that run */
    int *stretch_end;        /* >= 0 at the first step of a stretch two threads run: the step after its last */
    int n_stretches;
    float *work[2];          /* each thread's workspace for the steps of a stretch */
    void *work_block;        /* (what holds them) */
    size_t work_bytes;
} plan_lanes;

struct recur_plan {
    recur_graph *g;
    const recur_backend *be;
    int n_steps;
    plan_step *steps;
    int n_vals;            /* graph size when compiled */
    float **val;           /* val[id]: the buffer of node id, NULL if not in the plan */
    char *role;            /* role[id]: ROLE_* below */
    int32_t *ins;          /* the steps' input ids, copied from their nodes */
    const float **xptr;    /* all steps' input pointers, back to back */
    recur_shape *xshape;
    int n_inputs;
    int32_t *inputs;       /* ids of the graph inputs the plan reads */
    void *arena;           /* the buffers, ALIGN_BYTES-aligned inside arena_block */
    void *arena_block;     /* what was allocated (zeroed by calloc: large blocks arrive as untouched zero pages) */
    size_t arena_bytes;
    plan_buffer *buffers;  /* the arena's buffers (NULL if they could not be recorded) */
    int n_buffers;
    uint64_t run;          /* completed runs */
    uint64_t executions;   /* started runs */
    void *be_state;        /* the backend's per-plan state (recur_backend.plan_open), or NULL */
    int ran;
    double op_ms[RECUR_OP_COUNT];  /* opts.profile: time spent per op over all runs */
    int64_t op_calls[RECUR_OP_COUNT];
    double fused_ms;               /* ... and in fused pointwise kernels */
    double *step_ms;               /* ... and in each step (NULL unless opts.profile) */
    int64_t fused_calls;
    recur_compile_opts opts;
    plan_lanes lanes;
    plan_hook *hooks;      /* recur_plan_on_ready's, sorted by `after` */
    int n_hooks;
    recur_error error;
};

enum { ROLE_NONE, ROLE_INPUT_UNFED, ROLE_INPUT_FED, ROLE_STORAGE, ROLE_COMPUTED, ROLE_OUTPUT = 8 };

/* Which buffer each value lives in: root[v] and the byte offset off[v] in it (plan/memory.c). */
typedef struct plan_layout {
    int32_t *root;
    size_t *off;
} plan_layout;

/*
 * Decides which values share a buffer (views, values computed into
 * concatenations or their columns, repeated computations, sequences laid
 * over sequences): steps that then compute nothing get fn NULL. Returns
 * RECUR_OK (lay to free with recur_plan_layout_free) or an error recorded
 * on the plan.
 */
recur_status recur_plan_layout(recur_plan *p, plan_layout *lay);

/*
 * Places the buffers of layout lay, every live step's workspace
 * (step->work bytes, at step->work_at) and the backend's n_shared buffers
 * (shared[i].at) in one arena by their live ranges. Returns RECUR_OK or
 * an error recorded on the plan.
 */
recur_status recur_plan_arena(recur_plan *p, const plan_layout *lay, recur_backend_buffer *shared, int n_shared);

/* Frees a layout's arrays. */
void recur_plan_layout_free(plan_layout *lay);

/*
 * Pointwise fusion (plan/fuse.c): groups of elementwise ops of one
 * shape become one step running a fused kernel over the group's leaves at
 * the group's last step. Members read outside the group are the kernel's
 * outputs (made_by that step); the others become dead. Runs before memory
 * planning. Returns RECUR_OK or an error recorded on the plan.
 */
recur_status recur_fuse_pointwise(recur_plan *p);

/*
 * Matmuls with a bias (plan/matmul_bias.c): a step adding a row to a
 * product nothing else reads computes the product too (inner), with the
 * backend's matmul kernel when it has one (it adds the bias as the product
 * is written), else the reference recur_matmul_bias_forward; the product's
 * step becomes dead. Runs before pointwise fusion.
 */
void recur_fuse_matmul_bias(recur_plan *p);

/*
 * Points the fused kernels' outputs at their buffers, once memory is laid
 * out; checks that no kernel reads a value written into columns of a
 * concatenation. Returns RECUR_OK or an error recorded on the plan.
 */
recur_status recur_fused_bind(recur_plan *p);

/*
 * The column windows of a region of memory (rows of `row` floats) that
 * step s, a fused kernel, reads and writes; 0 if s is no fused kernel or
 * touches the region otherwise. See plan/fuse.c.
 */
int recur_fused_windows(const recur_plan *p, int s, int64_t row,
                        int (*where)(void *ctx, int32_t id, size_t offset, int64_t floats, int writing, int64_t *start),
                        void *ctx, int64_t *rd_start, int64_t *rd_cols, int *n_rd, int64_t *wr_start, int64_t *wr_cols,
                        int *n_wr);

/*
 * Where step s, a fused kernel, reads its leaf l: *floats floats from
 * *first floats into the leaf's value (a column leaf: its rows' span).
 */
void recur_fused_read_extent(const recur_plan *p, int s, int l, int64_t *first, int64_t *floats);

/* Writes what fused program `program` computes ("sigmoid tanh mul ... -> outputs") into buf. */
void recur_fused_describe(const void *program, const recur_graph *g, char *buf, size_t len);

/* Bytes the plan's fused programs take. */
size_t recur_fused_plan_bytes(const recur_plan *p);

/* Frees a fused program (a plan step's owned state). */
void recur_fused_free(void *program);

/*
 * Runs step s's kernel (run `execution` of the plan) with workspace `work`
 * (NULL: the step's own in the arena), writing what failed into err; no
 * error is recorded.
 */
recur_status recur_plan_step_run(recur_plan *p, int s, uint64_t execution, float *work, char *err, size_t errlen);

/* column_root[v]: the concatenation value v lies in columns of, or -1 (n_vals entries; plan/step.c). */
void recur_plan_column_roots(const recur_plan *p, int32_t *column_root);

/* The memory value id may touch: its buffer, or its concatenation's whole buffer when it lies in columns of one. */
const float *recur_plan_value_span(const recur_plan *p, const int32_t *column_root, int32_t id, int64_t *floats);

/*
 * The memory step s reads as its input k: *floats floats from the result
 * (a fused kernel's leaf by the extent it reads; a value in columns of a
 * concatenation as the concatenation's whole buffer); NULL if it has none.
 */
const float *recur_plan_step_reads(const recur_plan *p, const int32_t *column_root, int s, int k, int64_t *floats);

/*
 * RECUR_PASS_LANES (plan/lanes.c): sorts the `count` nodes of a
 * topological order (leaf[id]: a fed value, whose inputs do not count) by
 * their height over the outputs, into a topological order in which chains
 * of equal length interleave. RECUR_OK, or RECUR_ERR_NOMEM (order as it was).
 */
recur_status recur_lanes_order(recur_graph *g, int32_t *order, int count, const char *leaf);

/*
 * For the arena, before it is laid out: if stretches of the plan could go
 * to two threads by data flow alone, *reach is reach[s], the step up to
 * which bytes last read at step s must stay untouched (a few running steps
 * later, n_steps at the end; the caller frees it); else NULL, and the
 * arena reuses bytes as soon as they are dead. RECUR_OK or RECUR_ERR_NOMEM.
 */
recur_status recur_lanes_reach(recur_plan *p, int **reach);

/*
 * Once the arena is laid out and every pointer resolved: each step's
 * dependencies by the memory it touches (shared: the backend's buffers,
 * placed), and the stretches of small steps worth two threads. Without
 * memory (or past its budget of work) the plan simply has no lanes.
 */
recur_status recur_lanes_prepare(recur_plan *p, const recur_backend_buffer *shared, int n_shared);

/*
 * If step s begins a stretch for two threads: runs it on the pool and
 * returns the step after it, with *status RECUR_OK, or the first failure's
 * status, step and message. Else -1, nothing run.
 */
int recur_lanes_run(recur_plan *p, int s, uint64_t execution, recur_status *status, char *err, size_t errlen, int *failed_step);

/* Frees a plan's lanes. */
void recur_lanes_free(plan_lanes *l);

#endif
