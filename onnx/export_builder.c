/*
 * onnx/export_builder.c — the exporter's protobuf messages under
 * construction: allocation in the model (every allocation kept in one
 * list, freed together once the model is packed), unique tensor and node
 * names, nodes, attributes, initializers, value infos, graph inputs and
 * outputs, metadata. It calls nothing else of the exporter, so the
 * driver (export.c), the ops (export_ops.c) and the loops (export_loop.c)
 * all build on it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_impl.h"

/* ---------------------------------------------------------------- allocation */

void *recur_onnx_alloc(recur_onnx_out *o, size_t bytes)
{
    if (o->n_allocs == o->cap_allocs) {
        size_t cap = o->cap_allocs ? 2 * o->cap_allocs : 256;
        void **grown = realloc(o->allocs, sizeof *grown * cap);
        if (!grown) goto fail;
        o->allocs = grown;
        o->cap_allocs = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) goto fail;
    o->allocs[o->n_allocs++] = p;
    return p;
fail:
    recur_set_error(o->g, RECUR_ERR_NOMEM, "onnx_export: out of memory");
    return NULL;
}

char *recur_onnx_strdup(recur_onnx_out *o, const char *s)
{
    size_t len = strlen(s);
    char *p = recur_onnx_alloc(o, len + 1);
    if (p) memcpy(p, s, len + 1);
    return p;
}

/* Appends item to a repeated field (*arr, *n), growing it in powers of two. */
static int push(recur_onnx_out *o, void ***arr, size_t *n, void *item)
{
    if (!item) return -1;
    if ((*n & (*n - 1)) == 0) { /* 0, 1, 2, 4, ...: full */
        void **grown = recur_onnx_alloc(o, sizeof *grown * (*n ? 2 * *n : 4));
        if (!grown) return -1;
        if (*n) memcpy(grown, *arr, sizeof *grown * *n);
        *arr = grown;
    }
    (*arr)[(*n)++] = item;
    return 0;
}

/* ---------------------------------------------------------------- names */

/* A linear scan is fast enough for the graphs exported. */
int recur_onnx_name_used(const recur_onnx_out *o, const char *name)
{
    for (size_t i = 0; i < o->n_used; i++)
        if (strcmp(o->used[i], name) == 0) return 1;
    return 0;
}

char *recur_onnx_claim(recur_onnx_out *o, const char *name)
{
    char *s = recur_onnx_strdup(o, name);
    if (!s || push(o, (void ***)&o->used, &o->n_used, s) != 0) return NULL;
    return s;
}

char *recur_onnx_fresh(recur_onnx_out *o, const char *base)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", base);
    while (recur_onnx_name_used(o, buf)) snprintf(buf, sizeof buf, "%s_%d", base, ++o->counter);
    return recur_onnx_claim(o, buf);
}

/* ---------------------------------------------------------------- nodes, attributes, initializers */

onnx_node *recur_onnx_emit(recur_onnx_out *o, const char *op_type, const char *name, int n_in, const char *const *in,
                           int n_out, const char *const *out)
{
    onnx_node *n = recur_onnx_alloc(o, sizeof *n);
    if (!n) return NULL;
    recur_onnx__node_proto__init(n);
    n->op_type = recur_onnx_strdup(o, op_type);
    n->name = recur_onnx_fresh(o, name ? name : op_type);
    n->input = recur_onnx_alloc(o, sizeof *n->input * (size_t)(n_in ? n_in : 1));
    n->output = recur_onnx_alloc(o, sizeof *n->output * (size_t)(n_out ? n_out : 1));
    if (!n->op_type || !n->name || !n->input || !n->output) return NULL;
    for (int i = 0; i < n_in; i++)
        if (!(n->input[i] = recur_onnx_strdup(o, in[i] ? in[i] : ""))) return NULL;
    for (int i = 0; i < n_out; i++)
        if (!(n->output[i] = recur_onnx_strdup(o, out[i]))) return NULL;
    n->n_input = (size_t)n_in;
    n->n_output = (size_t)n_out;
    return push(o, (void ***)&o->gp->node, &o->gp->n_node, n) == 0 ? n : NULL;
}

static onnx_attr *new_attr(recur_onnx_out *o, onnx_node *n, const char *name, RecurOnnx__AttributeProto__AttributeType type)
{
    onnx_attr *a = recur_onnx_alloc(o, sizeof *a);
    if (!a) return NULL;
    recur_onnx__attribute_proto__init(a);
    a->name = recur_onnx_strdup(o, name);
    a->has_type = 1;
    a->type = type;
    return a->name && push(o, (void ***)&n->attribute, &n->n_attribute, a) == 0 ? a : NULL;
}

recur_status recur_onnx_set_int(recur_onnx_out *o, onnx_node *n, const char *name, int64_t v)
{
    onnx_attr *a = new_attr(o, n, name, RECUR_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (!a) return RECUR_ERR_NOMEM;
    a->has_i = 1;
    a->i = v;
    return RECUR_OK;
}

recur_status recur_onnx_set_float(recur_onnx_out *o, onnx_node *n, const char *name, float v)
{
    onnx_attr *a = new_attr(o, n, name, RECUR_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (!a) return RECUR_ERR_NOMEM;
    a->has_f = 1;
    a->f = v;
    return RECUR_OK;
}

recur_status recur_onnx_set_str(recur_onnx_out *o, onnx_node *n, const char *name, const char *v)
{
    onnx_attr *a = new_attr(o, n, name, RECUR_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    char *s = a ? recur_onnx_strdup(o, v) : NULL;
    if (!s) return RECUR_ERR_NOMEM;
    a->has_s = 1;
    a->s.data = (uint8_t *)s;
    a->s.len = strlen(s);
    return RECUR_OK;
}

recur_status recur_onnx_set_ints(recur_onnx_out *o, onnx_node *n, const char *name, int count, const int64_t *v)
{
    onnx_attr *a = new_attr(o, n, name, RECUR_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *p = a ? recur_onnx_alloc(o, sizeof *p * (size_t)(count ? count : 1)) : NULL;
    if (!p) return RECUR_ERR_NOMEM;
    if (count) memcpy(p, v, sizeof *p * (size_t)count);
    a->ints = p;
    a->n_ints = (size_t)count;
    return RECUR_OK;
}

recur_status recur_onnx_set_strings(recur_onnx_out *o, onnx_node *n, const char *name, int count, const char *const *v)
{
    onnx_attr *a = new_attr(o, n, name, RECUR_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
    ProtobufCBinaryData *list = a ? recur_onnx_alloc(o, sizeof *list * (size_t)(count ? count : 1)) : NULL;
    if (!list) return RECUR_ERR_NOMEM;
    for (int i = 0; i < count; i++) {
        if (!(list[i].data = (uint8_t *)recur_onnx_strdup(o, v[i]))) return RECUR_ERR_NOMEM;
        list[i].len = strlen(v[i]);
    }
    a->strings = list;
    a->n_strings = (size_t)count;
    return RECUR_OK;
}

recur_status recur_onnx_set_graph(recur_onnx_out *o, onnx_node *n, const char *name, onnx_graph *body)
{
    onnx_attr *a = new_attr(o, n, name, RECUR_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
    if (!a) return RECUR_ERR_NOMEM;
    a->g = body;
    return RECUR_OK;
}

static onnx_tensor_proto *new_tensor(recur_onnx_out *o, const char *name, int ndim, const int64_t *d, int type)
{
    onnx_tensor_proto *t = recur_onnx_alloc(o, sizeof *t);
    int64_t *dims = recur_onnx_alloc(o, sizeof *dims * (size_t)(ndim ? ndim : 1));
    if (!t || !dims) return NULL;
    recur_onnx__tensor_proto__init(t);
    if (ndim) memcpy(dims, d, sizeof *dims * (size_t)ndim);
    t->dims = dims;
    t->n_dims = (size_t)ndim;
    t->has_data_type = 1;
    t->data_type = type;
    t->name = recur_onnx_fresh(o, name);
    return t->name ? t : NULL;
}

static int64_t numel_of(int ndim, const int64_t *d)
{
    int64_t n = 1;
    for (int k = 0; k < ndim; k++) n *= d[k];
    return n;
}

const char *recur_onnx_init_float(recur_onnx_out *o, const char *name, int ndim, const int64_t *d, const float *v)
{
    onnx_tensor_proto *t = new_tensor(o, name, ndim, d, ONNX_FLOAT);
    size_t n = (size_t)numel_of(ndim, d);
    float *data = t ? recur_onnx_alloc(o, sizeof *data * n) : NULL;
    if (!data) return NULL;
    memcpy(data, v, sizeof *data * n);
    t->float_data = data;
    t->n_float_data = n;
    return push(o, (void ***)&o->gp->initializer, &o->gp->n_initializer, t) == 0 ? t->name : NULL;
}

const char *recur_onnx_init_ints(recur_onnx_out *o, const char *name, int ndim, const int64_t *d, const int64_t *v)
{
    onnx_tensor_proto *t = new_tensor(o, name, ndim, d, ONNX_INT64);
    size_t n = (size_t)numel_of(ndim, d);
    int64_t *data = t ? recur_onnx_alloc(o, sizeof *data * (n ? n : 1)) : NULL;
    if (!data) return NULL;
    if (n) memcpy(data, v, sizeof *data * n);
    t->int64_data = data;
    t->n_int64_data = n;
    return push(o, (void ***)&o->gp->initializer, &o->gp->n_initializer, t) == 0 ? t->name : NULL;
}

recur_status recur_onnx_set_tensor(recur_onnx_out *o, onnx_node *n, const char *name, int ndim, const int64_t *d,
                                   const float *v)
{
    onnx_attr *a = new_attr(o, n, name, RECUR_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    onnx_tensor_proto *t = a ? new_tensor(o, name, ndim, d, ONNX_FLOAT) : NULL;
    size_t count = (size_t)numel_of(ndim, d);
    float *data = t ? recur_onnx_alloc(o, sizeof *data * count) : NULL;
    if (!data) return RECUR_ERR_NOMEM;
    memcpy(data, v, sizeof *data * count);
    t->float_data = data;
    t->n_float_data = count;
    a->t = t;
    return RECUR_OK;
}

RecurOnnx__ValueInfoProto *recur_onnx_value_info(recur_onnx_out *o, const char *name, recur_shape s, int elem)
{
    RecurOnnx__ValueInfoProto *vi = recur_onnx_alloc(o, sizeof *vi);
    RecurOnnx__TypeProto *tp = recur_onnx_alloc(o, sizeof *tp);
    RecurOnnx__TypeProto__Tensor *tt = recur_onnx_alloc(o, sizeof *tt);
    RecurOnnx__TensorShapeProto *sp = recur_onnx_alloc(o, sizeof *sp);
    RecurOnnx__TensorShapeProto__Dimension **dims = recur_onnx_alloc(o, sizeof *dims * RECUR_MAX_DIMS);
    if (!vi || !tp || !tt || !sp || !dims) return NULL;
    recur_onnx__value_info_proto__init(vi);
    recur_onnx__type_proto__init(tp);
    recur_onnx__type_proto__tensor__init(tt);
    recur_onnx__tensor_shape_proto__init(sp);
    for (int k = 0; k < s.ndim; k++) {
        if (!(dims[k] = recur_onnx_alloc(o, sizeof *dims[k]))) return NULL;
        recur_onnx__tensor_shape_proto__dimension__init(dims[k]);
        dims[k]->value_case = RECUR_ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dims[k]->dim_value = s.d[k];
    }
    sp->dim = dims;
    sp->n_dim = (size_t)s.ndim;
    tt->has_elem_type = 1;
    tt->elem_type = elem;
    tt->shape = sp;
    tp->value_case = RECUR_ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    vi->name = recur_onnx_strdup(o, name);
    return vi->name ? vi : NULL;
}

recur_status recur_onnx_graph_add_input(recur_onnx_out *o, onnx_graph *gp, RecurOnnx__ValueInfoProto *vi)
{
    return push(o, (void ***)&gp->input, &gp->n_input, vi) == 0 ? RECUR_OK : RECUR_ERR_NOMEM;
}

recur_status recur_onnx_graph_add_output(recur_onnx_out *o, onnx_graph *gp, RecurOnnx__ValueInfoProto *vi)
{
    return push(o, (void ***)&gp->output, &gp->n_output, vi) == 0 ? RECUR_OK : RECUR_ERR_NOMEM;
}

recur_status recur_onnx_add_meta(recur_onnx_out *o, RecurOnnx__ModelProto *m, const char *key, const char *value)
{
    RecurOnnx__StringStringEntryProto *e = recur_onnx_alloc(o, sizeof *e);
    if (!e) return RECUR_ERR_NOMEM;
    recur_onnx__string_string_entry_proto__init(e);
    e->key = recur_onnx_strdup(o, key ? key : "");
    e->value = recur_onnx_strdup(o, value ? value : "");
    if (!e->key || !e->value || push(o, (void ***)&m->metadata_props, &m->n_metadata_props, e) != 0)
        return RECUR_ERR_NOMEM;
    return RECUR_OK;
}

/* ---------------------------------------------------------------- names of recur nodes */

/* The name a node's value gets in the model: its own for inputs and parameters, else its name made unique. */
char *recur_onnx_name_for(recur_onnx_out *o, int32_t id)
{
    const recur_node *n = &o->g->nodes[id];
    if ((n->op == RECUR_OP_INPUT || n->op == RECUR_OP_PARAM) && !recur_onnx_name_used(o, recur_node_name(o->g, id)))
        return recur_onnx_claim(o, recur_node_name(o->g, id));
    return recur_onnx_fresh(o, recur_node_name(o->g, id));
}
