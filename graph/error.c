/*
 * graph/error.c — the error record every object keeps (graph/error.h).
 */
#include <stdio.h>
#include <string.h>

#include "graph/error.h"

recur_status recur_error_vset(recur_error *e, recur_status code, const char *fmt, va_list ap)
{
    if (!e) return code;
    /* Through a copy: an argument may point into e->msg (a message wrapped with more context). */
    char msg[RECUR_ERRMSG_BYTES];
    vsnprintf(msg, sizeof msg, fmt, ap);
    memcpy(e->msg, msg, sizeof msg);
    e->code = code;
    return code;
}

recur_status recur_error_set(recur_error *e, recur_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    recur_error_vset(e, code, fmt, ap);
    va_end(ap);
    return code;
}

recur_status recur_error_copy(recur_error *e, const recur_error *from, const char *context)
{
    if (!from) return recur_error_set(e, RECUR_ERR_ARG, "%s%s(no error record)", context ? context : "", context ? ": " : "");
    if (!e || (e == from && !context)) return from->code;
    return recur_error_set(e, from->code, "%s%s%s", context ? context : "", context ? ": " : "", from->msg);
}

void recur_error_clear(recur_error *e)
{
    if (!e) return;
    e->code = RECUR_OK;
    e->msg[0] = 0;
}

const char *recur_error_msg(const recur_error *e, const char *none) { return e ? e->msg : none; }

recur_status recur_error_code(const recur_error *e) { return e ? e->code : RECUR_ERR_ARG; }

recur_error *recur_thread_error(void)
{
    static _Thread_local recur_error record;
    return &record;
}
