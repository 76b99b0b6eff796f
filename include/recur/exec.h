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
#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One input fed to a run: its value and its numel(shape) floats. */
typedef struct recur_feed {
    recur_value value;
    const float *data;
    int64_t n;
} recur_feed;

/** A compiled plan: the graph's nodes in order with their buffers. */
typedef struct recur_plan recur_plan;

/** Options of recur_compile; NULL or zeros select the defaults. */
typedef struct recur_compile_opts {
    const char *backend; /**< "reference" or "onednn"; NULL: the environment variable RECUR_BACKEND if set
                              and not empty (an unknown name there fails to compile, naming it), else "onednn",
                              the fastest (the reference backend is plain C, the oracle of the tests) */
    int inference;       /**< 1: dropout is the identity */
    int no_reuse;        /**< 1: every value gets its own buffer: no shared memory, views, in-place concatenation,
                              shared computations or fusion (for debugging) */
    int check_finite;    /**< 1: after each node, stop with RECUR_ERR_RUNTIME naming the first node that made a NaN or Inf
                              (pointwise fusion is off in such a plan, so every node is checked); a NaN or Inf fed in,
                              or held by a parameter or constant, is found before any node runs and its input named */
    int profile;         /**< 1: time every kernel; recur_plan_profile reports the time per op */
    int keep_packed_params; /**< 1: the plan may keep copies of parameters in layouts of its own from one run to the
                              next (the oneDNN backend: the weights of one-row products, a generation step at batch
                              1, about 10% faster). A run first repacks them if they may have changed: after
                              recur_param_set, an optimizer step, a checkpoint load or a call of recur_param_data.
                              Writes through a pointer recur_param_data gave before the plan's last run are not
                              seen: get the pointer again to write again */
} recur_compile_opts;

/**
 * Compiles the part of g needed to compute `outputs` (whose values stay
 * readable after each run). NULL on failure, with the reason on the graph
 * (recur_errmsg(g)). The graph must not gain nodes the plan needs after
 * this; adding other nodes is fine. The plan keeps a pointer to g: free the
 * plan before the graph.
 */
RECUR_API recur_plan *recur_compile(recur_graph *g, int n_outputs, const recur_value *outputs,
                          const recur_compile_opts *opts);

/**
 * Like recur_compile, but each value in `fed` (any node, not only an input)
 * is fed at run time with recur_plan_feed instead of being computed, and
 * what only it needs is left out of the plan. Step-by-step execution of a
 * loop body uses this with the body's step and state values.
 */
RECUR_API recur_plan *recur_compile_fed(recur_graph *g, int n_outputs, const recur_value *outputs, int n_fed,
                              const recur_value *fed, const recur_compile_opts *opts);

/** Frees a plan. NULL is allowed. */
RECUR_API void recur_plan_free(recur_plan *p);

/** Message of the plan's most recent failure ("" if none). */
RECUR_API const char *recur_plan_errmsg(const recur_plan *p);

/** Status of the plan's most recent failure. */
RECUR_API recur_status recur_plan_errcode(const recur_plan *p);

/**
 * Copies n floats into input `v` (or a value compiled as fed) for the next
 * runs. RECUR_ERR_FEED if n is not its element count, RECUR_ERR_VALUE if v
 * is not an input the plan reads.
 */
RECUR_API recur_status recur_plan_feed(recur_plan *p, recur_value v, const float *data, int64_t n);

/** recur_plan_feed by the input's name. */
RECUR_API recur_status recur_plan_feed_name(recur_plan *p, const char *name, const float *data, int64_t n);

/**
 * Runs the plan once. Every input it needs must have been fed (once; feeds
 * persist between runs). RECUR_ERR_RUNTIME if a kernel met bad data.
 */
RECUR_API recur_status recur_plan_run(recur_plan *p);

/** Copies output v (n must be its element count) after a run. */
RECUR_API recur_status recur_plan_fetch(recur_plan *p, recur_value v, float *out, int64_t n);

/**
 * Pointer to output v's buffer, valid until the next run or recur_plan_free.
 * NULL with an error if v is not an output of the plan or nothing ran yet.
 */
RECUR_API const float *recur_plan_output(recur_plan *p, recur_value v);

/**
 * A hook of recur_plan_on_ready: output v of plan p is final for this run
 * and `data` (n floats, the plan's own buffer of v) is no longer read or
 * written by the run. It may change data in place (what it leaves is the
 * run's output) and, for the rest of the run, keep working on it in the
 * background (an MPI_Iallreduce): nothing of the plan touches it until
 * recur_plan_run returns. A status other than RECUR_OK stops the run.
 */
typedef recur_status (*recur_plan_ready_fn)(void *user, recur_plan *p, recur_value v, float *data, int64_t n);

/**
 * Calls fn(user, p, v, data, n) in every later run of p as soon as output
 * v is final and done with: after the last kernel that writes or reads its
 * buffer (a kernel reading a view of v counts; before the first kernel for
 * a value no kernel computes, such as a parameter). Hooks run in the order
 * of those kernels (in the order they were set when several follow the same
 * one), so a hook on each gradient of a training plan sees them as
 * backpropagation finishes them, and can start to send one while the
 * others are computed (recur/mpi.h does). fn NULL removes v's hook; setting
 * one again replaces it. A hook's failing status stops the run, the plan's
 * message naming v. RECUR_ERR_VALUE if v is not an output of p,
 * RECUR_ERR_NOMEM. Not for the run path: it takes time linear in the plan.
 */
RECUR_API recur_status recur_plan_on_ready(recur_plan *p, recur_value v, recur_plan_ready_fn fn, void *user);

/**
 * The number of runs the plan has completed. Dropout masks depend on it
 * (each run draws new ones), so a training run resumed from a checkpoint
 * sets it back (recur_plan_set_runs) to draw the masks an uninterrupted
 * run would have drawn.
 */
RECUR_API uint64_t recur_plan_runs(const recur_plan *p);

/** Sets the count of completed runs (see recur_plan_runs). RECUR_ERR_ARG for a NULL plan. */
RECUR_API recur_status recur_plan_set_runs(recur_plan *p, uint64_t runs);

/**
 * Bytes of memory the plan allocated: one arena holding its values, each
 * kernel's workspace while it runs, and memory its backend shares between
 * kernels (oneDNN: weights packed in its blocked layout, while products read
 * them), placed by live ranges; plus the fused kernels' programs and
 * anything else the backend holds. Parameters are excluded.
 */
RECUR_API size_t recur_plan_memory(const recur_plan *p);

/**
 * Writes, for a plan compiled with opts.profile, the time its runs spent in
 * each op (total milliseconds, share, kernel calls), slowest first.
 */
RECUR_API recur_status recur_plan_profile(const recur_plan *p, FILE *f);

/**
 * Forgets the times a profiled plan has gathered (recur_plan_profile,
 * recur_plan_dump), so what follows counts only later runs: call it after
 * warm-up runs, whose first run pays one-time costs (oneDNN generates some
 * kernels' code on their first call). RECUR_ERR_ARG for a NULL plan.
 */
RECUR_API recur_status recur_plan_profile_reset(recur_plan *p);

/**
 * Writes the plan's kernels in the order they run, one per line: the
 * node, its op (a fused kernel: its ops and the values it writes), shape
 * and inputs; for a plan compiled with opts.profile also the time spent
 * in it over all runs. For seeing what the passes made of a graph.
 */
RECUR_API recur_status recur_plan_dump(const recur_plan *p, FILE *f);

/**
 * Writes where the plan's memory goes (recur_plan_memory): the arena, the
 * fused kernels' programs and other backend memory; the point of the run
 * where the most bytes are live, and the `top` largest buffers live then
 * (a value with its shape, a kernel's workspace, or a copy the backend
 * keeps, such as packed weights), each with the kernels it is live over
 * (numbered as recur_plan_dump numbers them). For seeing what to change
 * when a plan needs too much memory. RECUR_ERR_ARG for a NULL plan or
 * stream or a negative top.
 */
RECUR_API recur_status recur_plan_memory_report(const recur_plan *p, FILE *f, int top);

/** Number of kernels the plan runs per run (views and steps fused into others run none). */
RECUR_API int recur_plan_size(const recur_plan *p);

/** Name of the plan's backend. */
RECUR_API const char *recur_plan_backend(const recur_plan *p);

/* ------------------------------------------------ step-by-step execution */

/**
 * A stepper runs one loop's body one time step per call, keeping the
 * carried states between calls: generation and streaming inference (one
 * token in, one distribution out). It needs no unrolling and works before
 * or after recur_unroll.
 *
 * Each step it reads the current states and the step inputs (fed through
 * the step values recur_loop_input returned), computes the requested
 * per-step outputs, and moves every state to its next value. Captured
 * values that are computed from inputs or from other loops (an encoder's
 * states for attention) must be fed once with recur_stepper_feed; weights
 * and constants are read directly.
 */
typedef struct recur_stepper recur_stepper;

/**
 * Compiles loop l's body for stepping, with `outputs` (body values) readable
 * after each step. States start from their initial values when those are
 * computed from parameters and constants only, otherwise from zeros until
 * recur_stepper_set_state. NULL with the reason on the graph.
 */
RECUR_API recur_stepper *recur_stepper_new(recur_graph *g, recur_loop l, int n_outputs, const recur_value *outputs,
                                 const recur_compile_opts *opts);

/** Frees a stepper. NULL is allowed. */
RECUR_API void recur_stepper_free(recur_stepper *s);

/** Message of the stepper's most recent failure. */
RECUR_API const char *recur_stepper_errmsg(const recur_stepper *s);

/** Feeds a step value (for the next steps) or a captured value. */
RECUR_API recur_status recur_stepper_feed(recur_stepper *s, recur_value v, const float *data, int64_t n);

/** Sets a state's current value (e.g. a decoder's context from an encoder). */
RECUR_API recur_status recur_stepper_set_state(recur_stepper *s, recur_value state, const float *data, int64_t n);

/** Copies a state's current value out. */
RECUR_API recur_status recur_stepper_get_state(recur_stepper *s, recur_value state, float *out, int64_t n);

/** Puts every state back to its initial value (see recur_stepper_new). */
RECUR_API recur_status recur_stepper_reset(recur_stepper *s);

/**
 * Lists the captured values this stepper needs fed (computed at run time
 * outside its loop, like an encoder's states): writes up to cap of them to
 * out and returns how many there are.
 */
RECUR_API int recur_stepper_captures(const recur_stepper *s, recur_value *out, int cap);

/** Runs one step. */
RECUR_API recur_status recur_stepper_step(recur_stepper *s);

/** The last step's value of output v (valid until the next step). */
RECUR_API const float *recur_stepper_output(recur_stepper *s, recur_value v);

/** 1 if a backend of that name is built into this library. */
RECUR_API int recur_backend_available(const char *name);

#ifdef __cplusplus
}
#endif
#endif
