/*
 * onnx/proto_util.c — reading the protobuf messages of an ONNX file:
 * node attributes and TensorProto data, every field checked against what
 * the file holds (the messages of a failure are errors.c's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_impl.h"

/* ---------------------------------------------------------------- attributes */

const onnx_attr *recur_onnx_attr(const onnx_node *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i] && n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0) return n->attribute[i];
    return NULL;
}

static recur_status wrong_type(recur_onnx_ctx *c, const char *name, const char *want)
{
    return recur_onnx_fail(c, RECUR_ERR_FORMAT, "attribute %s is not %s", name, want);
}

recur_status recur_onnx_attr_int(recur_onnx_ctx *c, const onnx_node *n, const char *name, int64_t def, int64_t *out)
{
    const onnx_attr *a = recur_onnx_attr(n, name);
    *out = def;
    if (!a) return RECUR_OK;
    if (a->type != RECUR_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) return wrong_type(c, name, "an integer");
    *out = a->i;
    return RECUR_OK;
}

recur_status recur_onnx_attr_float(recur_onnx_ctx *c, const onnx_node *n, const char *name, float def, float *out)
{
    const onnx_attr *a = recur_onnx_attr(n, name);
    *out = def;
    if (!a) return RECUR_OK;
    if (a->type != RECUR_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) return wrong_type(c, name, "a float");
    *out = a->f;
    return RECUR_OK;
}

recur_status recur_onnx_attr_str(recur_onnx_ctx *c, const onnx_node *n, const char *name, const char *def, char *buf,
                                 size_t len)
{
    const onnx_attr *a = recur_onnx_attr(n, name);
    snprintf(buf, len, "%s", def);
    if (!a) return RECUR_OK;
    if (a->type != RECUR_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING) return wrong_type(c, name, "a string");
    size_t k = a->s.len < len ? a->s.len : len - 1;
    if (k && !a->s.data) return wrong_type(c, name, "a string");
    if (k) memcpy(buf, a->s.data, k);
    buf[k] = 0;
    if (memchr(buf, 0, k)) return wrong_type(c, name, "a string without NUL");
    return RECUR_OK;
}

recur_status recur_onnx_attr_ints(recur_onnx_ctx *c, const onnx_node *n, const char *name, const int64_t **ints,
                                  int *n_out)
{
    const onnx_attr *a = recur_onnx_attr(n, name);
    *ints = NULL;
    *n_out = -1;
    if (!a) return RECUR_OK;
    if (a->type != RECUR_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS) return wrong_type(c, name, "a list of integers");
    if (a->n_ints > 1024) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "attribute %s has %zu entries", name, a->n_ints);
    *ints = a->ints;
    *n_out = (int)a->n_ints;
    return RECUR_OK;
}

const onnx_graph *recur_onnx_attr_graph(recur_onnx_ctx *c, const onnx_node *n, const char *name)
{
    const onnx_attr *a = recur_onnx_attr(n, name);
    if (!a || a->type != RECUR_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH || !a->g) {
        recur_onnx_fail(c, RECUR_ERR_FORMAT, "the graph attribute %s is missing", name);
        return NULL;
    }
    return a->g;
}

/* ---------------------------------------------------------------- tensors */

static double read_le(const uint8_t *p, int type)
{
    uint64_t u = 0;
    int bytes = type == ONNX_DOUBLE || type == ONNX_INT64 ? 8 : type == ONNX_FLOAT || type == ONNX_INT32 ? 4 : 1;
    for (int k = bytes - 1; k >= 0; k--) u = u << 8 | p[k];
    switch (type) {
    case ONNX_FLOAT: {
        uint32_t b = (uint32_t)u;
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    case ONNX_DOUBLE: {
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    case ONNX_INT64: return (double)(int64_t)u;
    case ONNX_INT32: return (double)(int32_t)(uint32_t)u;
    case ONNX_INT8: return (double)(int8_t)(uint8_t)u;
    default: return (double)u; /* UINT8, BOOL */
    }
}

static int type_bytes(int type)
{
    switch (type) {
    case ONNX_FLOAT: case ONNX_INT32: return 4;
    case ONNX_DOUBLE: case ONNX_INT64: return 8;
    case ONNX_UINT8: case ONNX_INT8: case ONNX_BOOL: return 1;
    default: return 0;
    }
}

recur_status recur_onnx_tensor_read(recur_onnx_ctx *c, const onnx_tensor_proto *p, const char *what, onnx_tensor *t)
{
    memset(t, 0, sizeof *t);
    int type = p->has_data_type ? p->data_type : 0;
    if (!type_bytes(type))
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "%s: element type %d is not supported (float, double, int8, "
                               "uint8, int32, int64 and bool are)", what, type);
    if (p->has_data_location && p->data_location != RECUR_ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "%s: data in an external file is not supported", what);
    if (p->n_dims > ONNX_MAX_RANK)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "%s: rank %zu (at most %d)", what, p->n_dims, ONNX_MAX_RANK);
    int64_t numel = 1;
    for (size_t k = 0; k < p->n_dims; k++) {
        if (p->dims[k] < 0 || (p->dims[k] > 0 && numel > ONNX_MAX_NUMEL / p->dims[k]))
            return recur_onnx_fail(c, RECUR_ERR_FORMAT, "%s: dimension %zu is %lld: more than %lld elements", what, k,
                                   (long long)p->dims[k], (long long)ONNX_MAX_NUMEL);
        numel *= p->dims[k];
    }
    /* the data must be in the file before anything is allocated for it */
    size_t n = (size_t)numel, have;
    if (p->has_raw_data) have = p->raw_data.len / (size_t)type_bytes(type);
    else if (type == ONNX_FLOAT) have = p->n_float_data;
    else if (type == ONNX_DOUBLE) have = p->n_double_data;
    else if (type == ONNX_INT64) have = p->n_int64_data;
    else have = p->n_int32_data; /* int32 and the small types are kept in int32_data */
    if (have != n || (p->has_raw_data && p->raw_data.len % (size_t)type_bytes(type)))
        return recur_onnx_fail(c, RECUR_ERR_FORMAT, "%s: its shape holds %zu elements but its data %zu", what, n, have);
    recur_status st = recur_onnx_tensor_alloc_max(c, t, (int)p->n_dims, p->dims, type != ONNX_FLOAT && type != ONNX_DOUBLE,
                                                  ONNX_MAX_NUMEL);
    if (st != RECUR_OK) return st;
    for (size_t i = 0; i < n; i++) {
        if (p->has_raw_data) t->v[i] = read_le(p->raw_data.data + i * (size_t)type_bytes(type), type);
        else if (type == ONNX_FLOAT) t->v[i] = p->float_data[i];
        else if (type == ONNX_DOUBLE) t->v[i] = p->double_data[i];
        else if (type == ONNX_INT64) t->v[i] = (double)p->int64_data[i];
        else t->v[i] = p->int32_data[i];
    }
    return RECUR_OK;
}
