/*
 * onnx/import.c — recur_onnx_import: reads a ModelProto, declares the
 * graph's inputs and initializers, imports its nodes in order (each by
 * its op's importer, import_ops.c; a Scan's or Loop's body comes back
 * here through the context's import_body, see onnx_impl.h) and names its
 * outputs. A failure rolls the graph back to what it was, so no
 * half-imported model remains.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "onnx_impl.h"

/* The largest file read (protobuf itself is limited to 2 GiB). */
#define ONNX_MAX_FILE ((size_t)2000 * 1024 * 1024)

static int64_t dim_value(const recur_onnx_import_opts *o, const char *name)
{
    if (o)
        for (int i = 0; i < o->n_dims; i++)
            if (o->dims && o->dims[i].name && strcmp(o->dims[i].name, name) == 0) return o->dims[i].value;
    return o ? o->default_dim : 0;
}

/* Declares a graph input (not an initializer) as a recur input of the shape its type gives. */
static recur_status declare_input(recur_onnx_ctx *c, const RecurOnnx__ValueInfoProto *vi, recur_onnx_model *m)
{
    const char *name = vi->name;
    if (!name || !name[0]) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "a graph input has no name");
    if (!vi->type || vi->type->value_case != RECUR_ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !vi->type->tensor_type)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "graph input \"%s\" is not a tensor", name);
    const RecurOnnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    int elem = tt->has_elem_type ? tt->elem_type : 0;
    int integer = elem == ONNX_INT64 || elem == ONNX_INT32 || elem == ONNX_INT8 || elem == ONNX_UINT8;
    if (elem != ONNX_FLOAT && elem != ONNX_DOUBLE && !integer)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "graph input \"%s\" has element type %d (float, double and "
                               "integer inputs are supported)", name, elem);
    if (!tt->shape)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "graph input \"%s\" has no shape", name);
    if (tt->shape->n_dim > RECUR_MAX_DIMS)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "graph input \"%s\" has rank %zu (at most %d)", name,
                               tt->shape->n_dim, RECUR_MAX_DIMS);
    recur_shape s = {.ndim = (int)tt->shape->n_dim};
    for (int k = 0; k < s.ndim; k++) {
        const RecurOnnx__TensorShapeProto__Dimension *d = tt->shape->dim[k];
        int64_t v = 0;
        if (d && d->value_case == RECUR_ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) v = d->dim_value;
        else if (d && d->value_case == RECUR_ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param) {
            v = dim_value(c->opts, d->dim_param);
            if (v < 1)
                return recur_onnx_fail(c, RECUR_ERR_ARG, "graph input \"%s\": dimension %d is \"%s\"; give its value "
                                       "in the import options (recur's graphs have fixed shapes)", name, k, d->dim_param);
        }
        if (v < 1 || v > ONNX_MAX_NUMEL)
            return recur_onnx_fail(c, v < 1 ? RECUR_ERR_UNSUPPORTED : RECUR_ERR_FORMAT,
                                   "graph input \"%s\": dimension %d is %lld (known sizes >= 1 are supported)", name, k,
                                   (long long)v);
        s.d[k] = v;
    }
    if (m->n_inputs == RECUR_ONNX_MAX_IO)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "more than %d graph inputs", RECUR_ONNX_MAX_IO);
    if (strlen(name) >= RECUR_ONNX_MAX_NAME)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "graph input name longer than %d bytes", RECUR_ONNX_MAX_NAME - 1);
    recur_value v = recur_input(c->g, name, s);
    recur_status st = recur_onnx_def_value(c, name, v, integer);
    if (st != RECUR_OK) return st;
    recur_onnx_io *io = &m->inputs[m->n_inputs++];
    snprintf(io->name, sizeof io->name, "%s", name);
    io->value = v;
    return RECUR_OK;
}

/* Imports the nodes of a graph (the main graph, or a body through c->import_body) in order. */
static recur_status import_nodes(recur_onnx_ctx *c, const onnx_graph *gp)
{
    for (size_t i = 0; i < gp->n_node; i++) {
        const onnx_node *n = gp->node[i];
        if (!n) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "node %zu is empty", i);
        const onnx_node *outer = c->node;
        c->node = n;
        const char *op = n->op_type ? n->op_type : "";
        recur_status st;
        if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
            st = recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "op domain \"%s\" is not supported", n->domain);
        else {
            int folded = recur_onnx_fold(c, n);
            if (folded < 0) st = recur_errcode(c->g);
            else if (folded) st = RECUR_OK;
            else {
                recur_onnx_op_fn fn = recur_onnx_op_importer(op);
                st = fn ? fn(c, n) : recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "op type %s is not supported", op);
            }
        }
        c->node = outer;
        if (st != RECUR_OK) return st;
    }
    return RECUR_OK;
}

/* Declares the initializers, the inputs, imports the nodes and records the outputs. */
static recur_status import_graph(recur_onnx_ctx *c, const onnx_graph *gp, recur_onnx_model *m)
{
    recur_status st;
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const onnx_tensor_proto *p = gp->initializer[i];
        if (!p || !p->name || !p->name[0]) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "initializer %zu has no name", i);
        onnx_tensor t;
        char what[300];
        snprintf(what, sizeof what, "initializer \"%.256s\"", p->name);
        if ((st = recur_onnx_tensor_read(c, p, what, &t)) != RECUR_OK) return st;
        if ((st = recur_onnx_def_const(c, p->name, &t, 1)) != RECUR_OK) return st;
    }
    if (gp->n_sparse_initializer) return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "sparse initializers are not supported");
    for (size_t i = 0; i < gp->n_input; i++) {
        const RecurOnnx__ValueInfoProto *vi = gp->input[i];
        if (!vi) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "graph input %zu is empty", i);
        onnx_sym *s = vi->name ? recur_onnx_sym(c, vi->name) : NULL;
        if (s && s->kind == ONNX_SYM_CONST) continue; /* an initializer listed as an input (older exporters) */
        if ((st = declare_input(c, vi, m)) != RECUR_OK) return st;
    }
    if ((st = import_nodes(c, gp)) != RECUR_OK) return st;
    if (gp->n_output == 0) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "the graph has no output");
    if (gp->n_output > RECUR_ONNX_MAX_IO)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "more than %d graph outputs", RECUR_ONNX_MAX_IO);
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = gp->output[i] ? gp->output[i]->name : NULL;
        onnx_sym *s = name ? recur_onnx_sym(c, name) : NULL;
        if (!s) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "graph output \"%s\" is computed by no node", name ? name : "");
        if (strlen(name) >= RECUR_ONNX_MAX_NAME)
            return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "graph output name longer than %d bytes",
                                   RECUR_ONNX_MAX_NAME - 1);
        recur_onnx_io *io = &m->outputs[m->n_outputs++];
        snprintf(io->name, sizeof io->name, "%s", name);
        if ((st = recur_onnx_sym_value(c, s, &io->value)) != RECUR_OK) return st;
    }
    return RECUR_OK;
}

static recur_status copy_meta(recur_onnx_ctx *c, const RecurOnnx__ModelProto *mp, recur_onnx_model *m)
{
    if (mp->n_metadata_props == 0) return RECUR_OK;
    if (mp->n_metadata_props > 4096) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "%zu metadata entries", mp->n_metadata_props);
    m->meta_keys = calloc(mp->n_metadata_props, sizeof *m->meta_keys);
    m->meta_values = calloc(mp->n_metadata_props, sizeof *m->meta_values);
    if (!m->meta_keys || !m->meta_values) return recur_onnx_fail(c, RECUR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < mp->n_metadata_props; i++) {
        const RecurOnnx__StringStringEntryProto *e = mp->metadata_props[i];
        m->meta_keys[i] = strdup(e && e->key ? e->key : "");
        m->meta_values[i] = strdup(e && e->value ? e->value : "");
        m->n_meta = (int)i + 1;
        if (!m->meta_keys[i] || !m->meta_values[i]) return recur_onnx_fail(c, RECUR_ERR_NOMEM, "out of memory");
    }
    return RECUR_OK;
}

/* How deep messages may nest in a file (a Scan body inside a Loop body is 5 levels deep). */
#define ONNX_MAX_NESTING 48

/* Reads a varint at *p (< end); 0 when it runs past the end or is too long. */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 1;
    }
    return 0;
}

/*
 * 1 unless messages of type d in the wire bytes [p, p + len) nest deeper than ONNX_MAX_NESTING: checked
 * before protobuf-c's unpacking, which recurses once per level, so that no file exhausts the stack. A
 * malformed encoding stops the walk (the unpacking reports it).
 */
static int nesting_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, int depth)
{
    if (depth > ONNX_MAX_NESTING) return 0;
    const uint8_t *end = p + len;
    while (p < end) {
        uint64_t tag, n;
        if (!varint(&p, end, &tag)) return 1;
        switch (tag & 7) {
        case 0: if (!varint(&p, end, &n)) return 1; break;
        case 1: if ((size_t)(end - p) < 8) return 1; p += 8; break;
        case 5: if ((size_t)(end - p) < 4) return 1; p += 4; break;
        case 2: {
            if (!varint(&p, end, &n) || n > (uint64_t)(end - p)) return 1;
            for (unsigned i = 0; i < d->n_fields; i++)
                if (d->fields[i].id == (tag >> 3) && d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE &&
                    !nesting_ok(d->fields[i].descriptor, p, (size_t)n, depth + 1))
                    return 0;
            p += n;
            break;
        }
        default: return 1;
        }
    }
    return 1;
}

static recur_status import_model(recur_graph *g, const char *src, const void *buf, size_t len,
                                 const recur_onnx_import_opts *opts, recur_onnx_model *m)
{
    recur_onnx_ctx c = {.g = g, .src = src, .opts = opts, .import_body = import_nodes};
    if (!nesting_ok(&recur_onnx__model_proto__descriptor, buf, len, 0))
        return recur_onnx_fail(&c, RECUR_ERR_FORMAT, "messages nest more than %d levels deep", ONNX_MAX_NESTING);
    RecurOnnx__ModelProto *mp = recur_onnx__model_proto__unpack(NULL, len, buf);
    if (!mp) return recur_onnx_fail(&c, RECUR_ERR_FORMAT, "not an ONNX model (the protobuf message does not parse)");
    recur_status st = RECUR_OK;
    c.opset = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const RecurOnnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (o && (!o->domain || !o->domain[0] || strcmp(o->domain, "ai.onnx") == 0) && o->has_version) c.opset = o->version;
    }
    if (!mp->graph) st = recur_onnx_fail(&c, RECUR_ERR_FORMAT, "the model has no graph");
    else if (c.opset < 7 || c.opset > 18)
        st = recur_onnx_fail(&c, RECUR_ERR_UNSUPPORTED, c.opset < 0 ? "the model imports no default op set"
                                                                   : "op set %lld (7 to 18 are supported)",
                             (long long)c.opset);
    if (st == RECUR_OK) {
        m->opset = c.opset;
        snprintf(m->producer, sizeof m->producer, "%s", mp->producer_name ? mp->producer_name : "");
        st = copy_meta(&c, mp, m);
    }
    if (st == RECUR_OK) st = import_graph(&c, mp->graph, m);
    recur_onnx_syms_free(&c);
    recur_onnx__model_proto__free_unpacked(mp, NULL);
    return st;
}

static recur_status import_any(recur_graph *g, const char *src, const void *buf, size_t len,
                               const recur_onnx_import_opts *opts, recur_onnx_model *out)
{
    if (!out) return recur_set_error(g, RECUR_ERR_ARG, "onnx_import: no result given (out is NULL)");
    memset(out, 0, sizeof *out);
    if (g->open_loop) return recur_set_error(g, RECUR_ERR_STATE, "onnx_import: a loop is open on the graph");
    int n0 = recur_graph_size(g);
    recur_status st = import_model(g, src, buf, len, opts, out);
    if (st != RECUR_OK) {
        char msg[RECUR_ERRMSG_BYTES];
        snprintf(msg, sizeof msg, "%s", recur_errmsg(g));
        recur_graph_rollback(g, n0); /* the nodes and loops the import made */
        recur_onnx_model_clear(out);
        recur_set_error(g, st, "%s", msg);
    }
    return st;
}

recur_status recur_onnx_import_mem(recur_graph *g, const void *buf, size_t len, const recur_onnx_import_opts *opts,
                                   recur_onnx_model *out)
{
    if (!g) return RECUR_ERR_ARG;
    if (!buf && len) return recur_set_error(g, RECUR_ERR_ARG, "onnx_import: no buffer");
    return import_any(g, "(memory)", buf ? buf : "", len, opts, out);
}

recur_status recur_onnx_import(recur_graph *g, const char *path, const recur_onnx_import_opts *opts,
                               recur_onnx_model *out)
{
    if (!g) return RECUR_ERR_ARG;
    if (!path) return recur_set_error(g, RECUR_ERR_ARG, "onnx_import: no path");
    if (out) memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return recur_set_error(g, RECUR_ERR_IO, "onnx %s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return recur_set_error(g, RECUR_ERR_IO, "onnx %s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > ONNX_MAX_FILE) {
        fclose(f);
        return recur_set_error(g, RECUR_ERR_FORMAT, "onnx %s: %lld bytes is larger than an ONNX file can be", path,
                               (long long)sb.st_size);
    }
    size_t len = (size_t)sb.st_size;
    void *buf = malloc(len ? len : 1);
    if (!buf) {
        fclose(f);
        return recur_set_error(g, RECUR_ERR_NOMEM, "onnx %s: out of memory for %zu bytes", path, len);
    }
    size_t got = fread(buf, 1, len, f);
    int err = ferror(f);
    fclose(f);
    if (got != len || err) {
        free(buf);
        return recur_set_error(g, RECUR_ERR_IO, "onnx %s: read %zu of %zu bytes", path, got, len);
    }
    recur_status st = import_any(g, path, buf, len, opts, out);
    free(buf);
    return st;
}

void recur_onnx_model_clear(recur_onnx_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_meta; i++) {
        free(m->meta_keys[i]);
        free(m->meta_values[i]);
    }
    free(m->meta_keys);
    free(m->meta_values);
    memset(m, 0, sizeof *m);
}
