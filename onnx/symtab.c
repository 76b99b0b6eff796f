/*
 * onnx/symtab.c — the importer's symbol table: what each name of the ONNX
 * graph stands for (a recur value, a host tensor, a loop's iteration
 * number or sequence), with nested scopes for Scan and Loop bodies, and
 * host tensors themselves.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_impl.h"

/* ---------------------------------------------------------------- host tensors */

recur_status recur_onnx_tensor_alloc(recur_onnx_ctx *c, onnx_tensor *t, int ndim, const int64_t *d, int is_int)
{
    return recur_onnx_tensor_alloc_max(c, t, ndim, d, is_int, ONNX_MAX_FOLD);
}

recur_status recur_onnx_tensor_alloc_max(recur_onnx_ctx *c, onnx_tensor *t, int ndim, const int64_t *d, int is_int,
                                         int64_t max_numel)
{
    memset(t, 0, sizeof *t);
    if (ndim < 0 || ndim > ONNX_MAX_RANK)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "a tensor of rank %d (at most %d)", ndim, ONNX_MAX_RANK);
    int64_t numel = 1;
    for (int k = 0; k < ndim; k++) {
        if (d[k] < 0 || d[k] > ONNX_MAX_NUMEL)
            return recur_onnx_fail(c, RECUR_ERR_FORMAT, "a tensor dimension of %lld", (long long)d[k]);
        numel *= d[k];
        if (numel > max_numel)
            return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "a tensor of more than %lld elements computed at import",
                                   (long long)max_numel);
        t->d[k] = d[k];
    }
    t->ndim = ndim;
    t->numel = numel;
    t->is_int = is_int;
    t->v = calloc((size_t)(numel ? numel : 1), sizeof *t->v);
    if (!t->v) return recur_onnx_fail(c, RECUR_ERR_NOMEM, "out of memory for a tensor of %lld elements",
                                      (long long)numel);
    return RECUR_OK;
}

void recur_onnx_tensor_free(onnx_tensor *t)
{
    free(t->v);
    t->v = NULL;
}

recur_status recur_onnx_tensor_copy(recur_onnx_ctx *c, const onnx_tensor *from, onnx_tensor *to)
{
    recur_status st = recur_onnx_tensor_alloc(c, to, from->ndim, from->d, from->is_int);
    if (st == RECUR_OK && from->numel) memcpy(to->v, from->v, sizeof *to->v * (size_t)from->numel);
    return st;
}

recur_status recur_onnx_tensor_shape(recur_onnx_ctx *c, const onnx_tensor *t, const char *what, recur_shape *out)
{
    if (t->ndim > RECUR_MAX_DIMS)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "%s has rank %d; recur's tensors have at most %d dimensions",
                               what, t->ndim, RECUR_MAX_DIMS);
    out->ndim = t->ndim;
    for (int k = 0; k < t->ndim; k++) {
        if (t->d[k] < 1) return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "%s has an empty dimension", what);
        out->d[k] = t->d[k];
    }
    return RECUR_OK;
}

/* ---------------------------------------------------------------- symbols */

onnx_sym *recur_onnx_sym(recur_onnx_ctx *c, const char *name)
{
    for (int i = c->n_syms - 1; i >= 0; i--)
        if (strcmp(c->syms[i].name, name) == 0) return &c->syms[i];
    return NULL;
}

static onnx_sym *define(recur_onnx_ctx *c, const char *name, onnx_sym_kind kind)
{
    onnx_sym *old = recur_onnx_sym(c, name);
    if (old && old->scope == c->scope) {
        recur_onnx_fail(c, RECUR_ERR_FORMAT, "\"%s\" is defined twice", name);
        return NULL;
    }
    if (c->n_syms == c->cap_syms) {
        int cap = c->cap_syms ? 2 * c->cap_syms : 64;
        onnx_sym *s = realloc(c->syms, sizeof *s * (size_t)cap);
        if (!s) {
            recur_onnx_fail(c, RECUR_ERR_NOMEM, "out of memory");
            return NULL;
        }
        c->syms = s;
        c->cap_syms = cap;
    }
    onnx_sym *s = &c->syms[c->n_syms];
    memset(s, 0, sizeof *s);
    if (!(s->name = strdup(name))) {
        recur_onnx_fail(c, RECUR_ERR_NOMEM, "out of memory");
        return NULL;
    }
    c->n_syms++;
    s->kind = kind;
    s->scope = c->scope;
    s->v = s->cached = s->transposed = RECUR_NONE;
    return s;
}

recur_status recur_onnx_def_value(recur_onnx_ctx *c, const char *name, recur_value v, int integer)
{
    if (!recur_ok(v)) return recur_onnx_fail_builder(c);
    onnx_sym *s = define(c, name, ONNX_SYM_VALUE);
    if (!s) return recur_errcode(c->g);
    s->v = v;
    s->integer = integer;
    return RECUR_OK;
}

recur_status recur_onnx_def_const(recur_onnx_ctx *c, const char *name, onnx_tensor *t, int param)
{
    onnx_sym *s = define(c, name, ONNX_SYM_CONST);
    if (!s) {
        recur_onnx_tensor_free(t);
        return recur_errcode(c->g);
    }
    s->t = *t;
    t->v = NULL;
    s->param = param;
    return RECUR_OK;
}

onnx_sym *recur_onnx_def_other(recur_onnx_ctx *c, const char *name, onnx_sym_kind kind) { return define(c, name, kind); }

void recur_onnx_scope_drop(recur_onnx_ctx *c, int depth)
{
    while (c->n_syms > 0 && c->syms[c->n_syms - 1].scope >= depth) {
        onnx_sym *s = &c->syms[--c->n_syms];
        free(s->name);
        recur_onnx_tensor_free(&s->t);
    }
}

void recur_onnx_syms_free(recur_onnx_ctx *c)
{
    recur_onnx_scope_drop(c, 0);
    free(c->syms);
    c->syms = NULL;
    c->cap_syms = 0;
}

/* ---------------------------------------------------------------- node inputs and outputs */

const char *recur_onnx_in_name(const onnx_node *n, int i)
{
    if (i < 0 || (size_t)i >= n->n_input || !n->input[i] || !n->input[i][0]) return NULL;
    return n->input[i];
}

onnx_sym *recur_onnx_in(recur_onnx_ctx *c, const onnx_node *n, int i)
{
    const char *name = recur_onnx_in_name(n, i);
    if (!name) {
        recur_onnx_fail(c, RECUR_ERR_FORMAT, "input %d is missing", i);
        return NULL;
    }
    onnx_sym *s = recur_onnx_sym(c, name);
    if (!s) recur_onnx_fail(c, RECUR_ERR_FORMAT, "input %d \"%s\" is not defined before the node", i, name);
    return s;
}

const onnx_tensor *recur_onnx_in_const(recur_onnx_ctx *c, const onnx_node *n, int i)
{
    const char *name = recur_onnx_in_name(n, i);
    onnx_sym *s = name ? recur_onnx_sym(c, name) : NULL;
    return s && s->kind == ONNX_SYM_CONST ? &s->t : NULL;
}

/* 1 when every value of t is the same. */
static int uniform(const onnx_tensor *t)
{
    for (int64_t i = 1; i < t->numel; i++)
        if (t->v[i] != t->v[0] || signbit(t->v[i]) != signbit(t->v[0])) return 0;
    return 1;
}

recur_status recur_onnx_sym_value(recur_onnx_ctx *c, onnx_sym *s, recur_value *out)
{
    *out = RECUR_NONE;
    switch (s->kind) {
    case ONNX_SYM_VALUE: *out = s->v; return RECUR_OK;
    case ONNX_SYM_CONST: break;
    case ONNX_SYM_ITER:
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "the loop's iteration number \"%s\" is used other than to index "
                               "a sequence along its first axis (Gather)", s->name);
    case ONNX_SYM_SEQ:
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "the sequence \"%s\" is used other than to collect a loop's "
                               "steps (SequenceInsert, ConcatFromSequence)", s->name);
    case ONNX_SYM_ABSENT: return recur_onnx_fail(c, RECUR_ERR_FORMAT, "a required input is empty");
    }
    if (recur_ok(s->cached)) {
        *out = s->cached;
        return RECUR_OK;
    }
    recur_shape shape;
    recur_status st = recur_onnx_tensor_shape(c, &s->t, s->name, &shape);
    if (st != RECUR_OK) return st;
    float *f = malloc(sizeof *f * (size_t)s->t.numel);
    if (!f) return recur_onnx_fail(c, RECUR_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < s->t.numel; i++) f[i] = (float)s->t.v[i];
    recur_value v;
    if (s->param && !s->t.is_int) { /* an initializer: a trainable parameter under its name */
        v = recur_param(c->g, s->name, shape, recur_init_zeros());
        if (recur_ok(v) && recur_param_set(c->g, v, f, s->t.numel) != RECUR_OK) v = RECUR_NONE;
    } else if (uniform(&s->t)) {
        v = recur_fill(c->g, shape, f[0]);
    } else {
        v = recur_constant(c->g, NULL, shape, f);
    }
    free(f);
    if (!recur_ok(v)) return recur_onnx_fail_builder(c);
    s->cached = *out = v;
    return RECUR_OK;
}

recur_status recur_onnx_in_value(recur_onnx_ctx *c, const onnx_node *n, int i, recur_value *out)
{
    *out = RECUR_NONE;
    onnx_sym *s = recur_onnx_in(c, n, i);
    return s ? recur_onnx_sym_value(c, s, out) : recur_errcode(c->g);
}

recur_status recur_onnx_in_dims(recur_onnx_ctx *c, const onnx_node *n, int i, int *ndim, int64_t *d)
{
    onnx_sym *s = recur_onnx_in(c, n, i);
    if (!s) return recur_errcode(c->g);
    if (s->kind == ONNX_SYM_CONST) {
        *ndim = s->t.ndim;
        memcpy(d, s->t.d, sizeof *d * (size_t)s->t.ndim);
        return RECUR_OK;
    }
    recur_value v;
    recur_status st = recur_onnx_sym_value(c, s, &v);
    if (st != RECUR_OK) return st;
    recur_shape sh = recur_value_shape(c->g, v);
    *ndim = sh.ndim;
    memcpy(d, sh.d, sizeof *d * (size_t)sh.ndim);
    return RECUR_OK;
}

recur_status recur_onnx_in_ints(recur_onnx_ctx *c, const onnx_node *n, int i, int64_t *vals, int cap, int *count)
{
    const onnx_tensor *t = recur_onnx_in_const(c, n, i);
    if (!t) {
        if (!recur_onnx_in(c, n, i)) return recur_errcode(c->g);
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "input %d \"%s\" must be known at import (a constant, or "
                               "computed from shapes)", i, recur_onnx_in_name(n, i));
    }
    if (!t->is_int || t->ndim > 1 || t->numel > cap)
        return recur_onnx_fail(c, RECUR_ERR_FORMAT, "input %d \"%s\" must be a list of at most %d integers", i,
                               recur_onnx_in_name(n, i), cap);
    for (int64_t k = 0; k < t->numel; k++) vals[k] = recur_onnx_int(t->v[k]);
    *count = (int)t->numel;
    return RECUR_OK;
}

recur_status recur_onnx_out_value(recur_onnx_ctx *c, const onnx_node *n, int i, recur_value v, int integer)
{
    if (!recur_ok(v)) return recur_onnx_fail_builder(c);
    if ((size_t)i >= n->n_output || !n->output[i] || !n->output[i][0]) return RECUR_OK; /* an unused optional output */
    return recur_onnx_def_value(c, n->output[i], v, integer);
}
