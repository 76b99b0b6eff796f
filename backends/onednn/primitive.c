/*
 * backends/onednn/primitive.c — what every oneDNN kernel of the backend is
 * made of: the process's CPU engine, and a primitive created once per node
 * with a memory object per argument and a stream of its own (onednn.h says
 * who owns what), plus counters for the tests.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <threads.h>

#include "onednn.h"

/* ------------------------------------------------------------ the engine */

static once_flag engine_once = ONCE_FLAG_INIT;
static dnnl_engine_t engine;
static dnnl_status_t engine_status = dnnl_runtime_error;

static void engine_create(void) { engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0); }

/* The process's CPU engine, created on first use; kept until the process ends. */
dnnl_engine_t recur_onednn_engine(void)
{
    call_once(&engine_once, engine_create);
    return engine_status == dnnl_success ? engine : NULL;
}

/* ---------------------------------------------------------- the counters */

static atomic_long n_created, n_alive;

long recur_onednn_primitives_created(void) { return atomic_load(&n_created); }
long recur_onednn_primitives_alive(void) { return atomic_load(&n_alive); }

/* ------------------------------------------------------------ primitives */

/* Writes "<what>: <call> failed: <status>" to err and returns RECUR_ERR_RUNTIME. */
static recur_status dnnl_fail(char *err, size_t errlen, const char *what, const char *call, dnnl_status_t s)
{
    snprintf(err, errlen, "oneDNN %s: %s failed: %s", what, call, dnnl_status2str(s));
    return RECUR_ERR_RUNTIME;
}

#define DNNL_TRY(call, name)                                                    \
    do {                                                                        \
        dnnl_status_t s_ = (call);                                              \
        if (s_ != dnnl_success) return dnnl_fail(err, errlen, p->what, name, s_); \
    } while (0)

static recur_status prim_create(onednn_prim *p, const_dnnl_op_desc_t desc, int n_args, onednn_arg *args, char *err,
                                size_t errlen);

/* Created with OpenMP's count at 1: oneDNN sizes a primitive's threading when it is created (onednn.h). */
recur_status recur_onednn_prim_create(onednn_prim *p, const_dnnl_op_desc_t desc, int n_args, onednn_arg *args,
                                      char *err, size_t errlen)
{
    int saved = recur_onednn_serial_begin();
    recur_status st = prim_create(p, desc, n_args, args, err, errlen);
    recur_onednn_serial_end(saved);
    return st;
}

static recur_status prim_create(onednn_prim *p, const_dnnl_op_desc_t desc, int n_args, onednn_arg *args, char *err,
                                size_t errlen)
{
    dnnl_engine_t eng = recur_onednn_engine();
    if (!eng) return dnnl_fail(err, errlen, p->what, "dnnl_engine_create (CPU engine)", engine_status);
    if (n_args + 1 > ONEDNN_MAX_ARGS) {
        snprintf(err, errlen, "oneDNN %s: %d arguments, at most %d fit", p->what, n_args, ONEDNN_MAX_ARGS - 1);
        return RECUR_ERR_RUNTIME;
    }

    /* The scratchpad is ours (allocated below), so executing never allocates one. */
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    DNNL_TRY(dnnl_primitive_attr_create(&attr), "dnnl_primitive_attr_create");
    dnnl_status_t s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&pd, desc, attr, eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return dnnl_fail(err, errlen, p->what, "dnnl_primitive_desc_create", s);
    for (int i = 0; i < n_args; i++) /* layouts left to the primitive */
        if (args[i].md.format_kind == dnnl_format_kind_any)
            args[i].md = *dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, args[i].arg);
    s = dnnl_primitive_create(&p->prim, pd);
    const dnnl_memory_desc_t *scratch_md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    dnnl_memory_desc_t scratch = scratch_md ? *scratch_md : (dnnl_memory_desc_t){0};
    dnnl_primitive_desc_destroy(pd);
    if (s != dnnl_success) {
        p->prim = NULL;
        return dnnl_fail(err, errlen, p->what, "dnnl_primitive_create", s);
    }
    atomic_fetch_add(&n_created, 1);
    atomic_fetch_add(&n_alive, 1);

    DNNL_TRY(dnnl_stream_create(&p->stream, eng, dnnl_stream_default_flags), "dnnl_stream_create");
    for (int i = 0; i < n_args; i++) {
        p->args[i].arg = args[i].arg;
        p->bind[i] = args[i].bind;
        DNNL_TRY(dnnl_memory_create(&p->args[i].memory, &args[i].md, eng, DNNL_MEMORY_NONE), "dnnl_memory_create");
        p->n_args = i + 1;
    }
    if (scratch_md && dnnl_memory_desc_get_size(&scratch) > 0) { /* in the step's workspace */
        int i = p->n_args;
        p->args[i].arg = DNNL_ARG_SCRATCHPAD;
        p->bind[i] = ONEDNN_BIND_WORK;
        DNNL_TRY(dnnl_memory_create(&p->args[i].memory, &scratch, eng, DNNL_MEMORY_NONE), "dnnl_memory_create (scratchpad)");
        p->n_args = i + 1;
        p->scratch = p->work = dnnl_memory_desc_get_size(&scratch);
    }
    return RECUR_OK;
}

void recur_onednn_prim_free(onednn_prim *p)
{
    if (!p) return;
    for (int b = 0; b < p->n_blocks; b++) recur_onednn_prim_free(p->blocks[b]);
    free(p->blocks);
    if (p->owns_packed) recur_onednn_packed_free(p->packed);
    for (int i = 0; i < p->n_args; i++) dnnl_memory_destroy(p->args[i].memory);
    if (p->stream) dnnl_stream_destroy(p->stream);
    if (p->prim) {
        dnnl_primitive_destroy(p->prim);
        atomic_fetch_sub(&n_alive, 1);
    }
    free(p);
}

/* --------------------------------------------------------------- backend */
