/*
 * graph/include/graph/error.h — the one error record every recur object
 * keeps (internal to the library).
 *
 * A graph, plan, stepper, optimizer, checkpoint, trainer and translator each
 * hold a recur_error; calls that have no object (data loading, plots) use
 * the calling thread's record. A failing call writes its status and a
 * message naming what failed (the node, the op, the shapes, the file and
 * offset) with recur_error_set; the object's errmsg call reads it back. The
 * message of the most recent failure stays until the next one.
 */
#ifndef RECUR_GRAPH_ERROR_H
#define RECUR_GRAPH_ERROR_H

#include <stdarg.h>

#include "recur/common.h"

/* Bytes of a message, its NUL included; longer messages are cut. */
#define RECUR_ERRMSG_BYTES 1024

typedef struct recur_error {
    recur_status code;            /* RECUR_OK: no failure recorded */
    char msg[RECUR_ERRMSG_BYTES]; /* "" when none */
} recur_error;

/* Records `code` with a printf-style message on e (NULL: nothing) and returns code. */
recur_status recur_error_set(recur_error *e, recur_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* recur_error_set with a va_list. */
recur_status recur_error_vset(recur_error *e, recur_status code, const char *fmt, va_list ap);

/* Records on e the failure recorded on `from` (a plan's on its graph, say), prefixed by `context` (or NULL). */
recur_status recur_error_copy(recur_error *e, const recur_error *from, const char *context);

/* Forgets the recorded failure. */
void recur_error_clear(recur_error *e);

/* The message of e, or `none` when e is NULL (such as "no plan (NULL)"). Never NULL. */
const char *recur_error_msg(const recur_error *e, const char *none);

/* The status of e, RECUR_ERR_ARG when e is NULL. */
recur_status recur_error_code(const recur_error *e);

/* The calling thread's record, for calls that have no object to keep one (data loading, plots). */
recur_error *recur_thread_error(void);

#endif
