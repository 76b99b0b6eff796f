/*
 * onnx/errors.c — the importer's error messages: every failure of an
 * import is recorded on the graph here, prefixed with the file and the
 * node being imported. It calls nothing else of the onnx layer, so every
 * other file of the importer may call it.
 */
#include <stdio.h>

#include "onnx_impl.h"

static const char *str_or(const char *s, const char *def) { return s && s[0] ? s : def; }

recur_status recur_onnx_fail(recur_onnx_ctx *c, recur_status code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->node)
        return recur_set_error(c->g, code, "onnx %s: node \"%s\" (%s): %s", c->src, str_or(c->node->name, "?"),
                               str_or(c->node->op_type, "?"), msg);
    return recur_set_error(c->g, code, "onnx %s: %s", c->src, msg);
}

recur_status recur_onnx_fail_builder(recur_onnx_ctx *c)
{
    recur_status st = recur_errcode(c->g);
    if (st == RECUR_OK) st = RECUR_ERR_STATE;
    char msg[RECUR_ERRMSG_BYTES];
    snprintf(msg, sizeof msg, "%s", recur_errmsg(c->g));
    return recur_onnx_fail(c, st, "%s", msg);
}
