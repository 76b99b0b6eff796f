/*
 * onnx/export_ops.c — one ordinary recur node as ONNX node(s) (op set
 * 14). Each case writes the ONNX op computing exactly the recur op, so
 * that importing the file gives the same ops back:
 *   scale s: Mul(x, s)   one_minus: Sub(1, x)   square: Mul(x, x)
 *   matmul with transposes: Gemm for matrices, else Transpose + MatMul
 *   take: Gather with a scalar index   stack: Unsqueeze each + Concat
 *   gather (embedding): Cast(ids to int64) + Gather   one_hot: OneHot
 *   fill: ConstantOfShape   constants: Constant nodes   parameters: initializers
 *   clip c: Clip(x, -c, c)
 *   dropout, stop_gradient, alias: Identity (an exported model infers)
 */
#include <string.h>

#include "onnx_impl.h"
#include "ops/op.h"

static recur_status no_export(recur_onnx_out *o, int32_t id)
{
    return recur_set_error(o->g, RECUR_ERR_UNSUPPORTED,
                           "onnx_export: node \"%s\" (op %s) has no ONNX export (export a model's outputs, not its "
                           "loss or gradients)", recur_node_name(o->g, id), recur_op(o->g->nodes[id].op)->name);
}

/* Emits op_type over the node's inputs (or the given names), its output named for the node. */
static onnx_node *emit_as(recur_onnx_out *o, int32_t id, const char *op_type, int n_in, const char *const *in)
{
    char *out = recur_onnx_name_for(o, id);
    if (!out) return NULL;
    onnx_node *n = recur_onnx_emit(o, op_type, op_type, n_in, in, 1, (const char *const *)&out);
    if (n) o->names[id] = out;
    return n;
}

/* The node's own inputs' names. */
static onnx_node *emit_plain(recur_onnx_out *o, int32_t id, const char *op_type)
{
    const recur_node *n = &o->g->nodes[id];
    const char *in[RECUR_INLINE_INPUTS];
    if (n->n_in > RECUR_INLINE_INPUTS) return NULL;
    for (int k = 0; k < n->n_in; k++) in[k] = o->names[n->in[k]];
    return emit_as(o, id, op_type, n->n_in, in);
}

static const char *scalar(recur_onnx_out *o, const char *base, float v)
{
    return recur_onnx_init_float(o, base, 0, NULL, &v);
}

static const char *ints(recur_onnx_out *o, const char *base, int count, const int64_t *v)
{
    int64_t d = count;
    return recur_onnx_init_ints(o, base, 1, &d, v);
}

/* A Constant node holding a recur constant's values (imported back as a constant, not a parameter). */
static recur_status emit_constant(recur_onnx_out *o, int32_t id)
{
    const recur_node *n = &o->g->nodes[id];
    onnx_node *c = emit_as(o, id, "Constant", 0, NULL);
    return c ? recur_onnx_set_tensor(o, c, "value", n->shape.ndim, n->shape.d, n->data) : RECUR_ERR_NOMEM;
}

/* Emits a graph input or an initializer for a leaf. */
static recur_status export_leaf(recur_onnx_out *o, int32_t id)
{
    const recur_node *n = &o->g->nodes[id];
    if (n->op == RECUR_OP_INPUT) {
        char *name = recur_onnx_name_for(o, id);
        RecurOnnx__ValueInfoProto *vi = name ? recur_onnx_value_info(o, name, n->shape, ONNX_FLOAT) : NULL;
        if (!vi || recur_onnx_graph_add_input(o, o->gp, vi) != RECUR_OK) return RECUR_ERR_NOMEM;
        o->names[id] = name;
        return RECUR_OK;
    }
    if (n->op == RECUR_OP_PARAM) {
        const char *name = recur_onnx_init_float(o, recur_node_name(o->g, id), n->shape.ndim, n->shape.d, n->data);
        if (!name) return RECUR_ERR_NOMEM;
        o->names[id] = (char *)name;
        return RECUR_OK;
    }
    if (n->op == RECUR_OP_CONST) return emit_constant(o, id);
    /* fill: ConstantOfShape(shape) with the value */
    int64_t d[RECUR_MAX_DIMS], one = 1;
    memcpy(d, n->shape.d, sizeof d);
    const char *shape = ints(o, "shape", n->shape.ndim, d);
    onnx_node *c = shape ? emit_as(o, id, "ConstantOfShape", 1, &shape) : NULL;
    return c ? recur_onnx_set_tensor(o, c, "value", 1, &one, &n->attr.f[0]) : RECUR_ERR_NOMEM;
}

/* op(a) op(b): Gemm for two matrices, else MatMul with the transposes made explicit. */
static recur_status export_matmul(recur_onnx_out *o, int32_t id)
{
    const recur_node *n = &o->g->nodes[id];
    int ta = (int)n->attr.i[0], tb = (int)n->attr.i[1];
    const char *in[2] = {o->names[n->in[0]], o->names[n->in[1]]};
    if (!ta && !tb) return emit_plain(o, id, "MatMul") ? RECUR_OK : RECUR_ERR_NOMEM;
    recur_shape sa = o->g->nodes[n->in[0]].shape, sb = o->g->nodes[n->in[1]].shape;
    if (sa.ndim == 2 && sb.ndim == 2) {
        onnx_node *e = emit_as(o, id, "Gemm", 2, in);
        if (!e || (ta && recur_onnx_set_int(o, e, "transA", 1) != RECUR_OK) ||
            (tb && recur_onnx_set_int(o, e, "transB", 1) != RECUR_OK))
            return RECUR_ERR_NOMEM;
        return RECUR_OK;
    }
    for (int k = 0; k < 2; k++) {
        if (!(k ? tb : ta)) continue;
        recur_shape s = k ? sb : sa;
        int64_t perm[RECUR_MAX_DIMS];
        for (int j = 0; j < s.ndim; j++) perm[j] = j;
        perm[s.ndim - 2] = s.ndim - 1;
        perm[s.ndim - 1] = s.ndim - 2;
        char *t = recur_onnx_fresh(o, "transposed");
        onnx_node *e = t ? recur_onnx_emit(o, "Transpose", "Transpose", 1, &in[k], 1, (const char *const *)&t) : NULL;
        if (!e || recur_onnx_set_ints(o, e, "perm", s.ndim, perm) != RECUR_OK) return RECUR_ERR_NOMEM;
        in[k] = t;
    }
    return emit_as(o, id, "MatMul", 2, in) ? RECUR_OK : RECUR_ERR_NOMEM;
}

static recur_status export_stack(recur_onnx_out *o, int32_t id)
{
    const recur_node *n = &o->g->nodes[id];
    int64_t axis = n->attr.i[0];
    const char *ax = ints(o, "axes", 1, &axis);
    const char **parts = recur_onnx_alloc(o, sizeof *parts * (size_t)n->n_in);
    if (!ax || !parts) return RECUR_ERR_NOMEM;
    for (int k = 0; k < n->n_in; k++) {
        const char *in[2] = {o->names[n->in[k]], ax};
        char *u = recur_onnx_fresh(o, "unsqueezed");
        if (!u || !recur_onnx_emit(o, "Unsqueeze", "Unsqueeze", 2, in, 1, (const char *const *)&u)) return RECUR_ERR_NOMEM;
        parts[k] = u;
    }
    onnx_node *e = emit_as(o, id, "Concat", n->n_in, parts);
    return e && recur_onnx_set_int(o, e, "axis", axis) == RECUR_OK ? RECUR_OK : RECUR_ERR_NOMEM;
}

static recur_status export_concat(recur_onnx_out *o, int32_t id)
{
    const recur_node *n = &o->g->nodes[id];
    const char **in = recur_onnx_alloc(o, sizeof *in * (size_t)n->n_in);
    if (!in) return RECUR_ERR_NOMEM;
    for (int k = 0; k < n->n_in; k++) in[k] = o->names[n->in[k]];
    onnx_node *e = emit_as(o, id, "Concat", n->n_in, in);
    return e && recur_onnx_set_int(o, e, "axis", n->attr.i[0]) == RECUR_OK ? RECUR_OK : RECUR_ERR_NOMEM;
}

/* An op with one input and one extra constant input (a scalar or an int list). */
static recur_status with_const(recur_onnx_out *o, int32_t id, const char *op_type, const char *extra, int extra_first)
{
    const recur_node *n = &o->g->nodes[id];
    if (!extra) return RECUR_ERR_NOMEM;
    const char *in[2] = {o->names[n->in[0]], extra};
    if (extra_first) in[0] = extra, in[1] = o->names[n->in[0]];
    return emit_as(o, id, op_type, 2, in) ? RECUR_OK : RECUR_ERR_NOMEM;
}

int recur_onnx_lazy(const recur_graph *g, int32_t id)
{
    int op = g->nodes[id].op;
    if (op == RECUR_OP_PARAM || op == RECUR_OP_CONST || op == RECUR_OP_FILL || op == RECUR_OP_LENGTH_MASK) return 1;
    for (int li = 0; li < g->n_loops; li++)
        if (g->loops[li].mask_seq == id) return 1;
    return 0;
}

const char *recur_onnx_name_of(recur_onnx_out *o, int32_t id)
{
    if (o->names[id]) return o->names[id];
    if (!recur_onnx_lazy(o->g, id)) {
        recur_set_error(o->g, RECUR_ERR_STATE, "onnx_export: \"%s\" is read before it was emitted",
                        recur_node_name(o->g, id));
        return NULL;
    }
    onnx_graph *keep = o->gp; /* outer values go into the main graph, also when a Scan body reads them first */
    o->gp = o->main;
    recur_status st = o->g->nodes[id].n_in ? recur_onnx_export_node(o, id) : export_leaf(o, id);
    o->gp = keep;
    return st == RECUR_OK ? o->names[id] : NULL;
}

recur_status recur_onnx_export_node(recur_onnx_out *o, int32_t id)
{
    const recur_graph *g = o->g;
    const recur_node *n = &g->nodes[id];
    /* a loop with lengths zeroes its stacked outputs past each sequence's end (recur_loop_stacked: the output
     * times the loop's mask): an ONNX LSTM/GRU/RNN with sequence_lens does so itself */
    const recur_node *a = n->n_in == 2 ? &g->nodes[n->in[0]] : NULL;
    int masked_cell = n->op == RECUR_OP_MUL && a->op == RECUR_OP_LOOP_OUTPUT && o->as_cell[a->attr.i[0]] &&
                      n->in[1] == g->loops[a->attr.i[0]].mask_seq;
    for (int k = 0; k < (masked_cell ? 1 : n->n_in); k++)
        if (!recur_onnx_name_of(o, n->in[k])) return recur_errcode(o->g);
    int64_t d[RECUR_MAX_DIMS];
    memcpy(d, n->shape.d, sizeof d);
    onnx_node *e = NULL;
    switch (n->op) {
    case RECUR_OP_INPUT: case RECUR_OP_PARAM: case RECUR_OP_CONST: case RECUR_OP_FILL: return export_leaf(o, id);
    case RECUR_OP_ADD: e = emit_plain(o, id, "Add"); break;
    case RECUR_OP_SUB: e = emit_plain(o, id, "Sub"); break;
    case RECUR_OP_MUL: e = masked_cell ? emit_as(o, id, "Identity", 1, (const char *const *)&o->names[n->in[0]])
                                       : emit_plain(o, id, "Mul"); break;
    case RECUR_OP_DIV: e = emit_plain(o, id, "Div"); break;
    case RECUR_OP_NEG: e = emit_plain(o, id, "Neg"); break;
    case RECUR_OP_TANH: e = emit_plain(o, id, "Tanh"); break;
    case RECUR_OP_SIGMOID: e = emit_plain(o, id, "Sigmoid"); break;
    case RECUR_OP_RELU: e = emit_plain(o, id, "Relu"); break;
    case RECUR_OP_SOFTPLUS: e = emit_plain(o, id, "Softplus"); break;
    case RECUR_OP_EXP: e = emit_plain(o, id, "Exp"); break;
    case RECUR_OP_LOG: e = emit_plain(o, id, "Log"); break;
    case RECUR_OP_SQRT: e = emit_plain(o, id, "Sqrt"); break;
    case RECUR_OP_STOP_GRADIENT: case RECUR_OP_DROPOUT: case RECUR_OP_ALIAS: e = emit_plain(o, id, "Identity"); break;
    case RECUR_OP_LEAKY_RELU:
        if ((e = emit_plain(o, id, "LeakyRelu")) && recur_onnx_set_float(o, e, "alpha", n->attr.f[0]) != RECUR_OK) e = NULL;
        break;
    case RECUR_OP_CLIP: { /* clip(x, c) = min(max(x, -c), c) */
        const char *in[3] = {o->names[n->in[0]], scalar(o, "min", -n->attr.f[0]), scalar(o, "max", n->attr.f[0])};
        if (!in[1] || !in[2]) return RECUR_ERR_NOMEM;
        e = emit_as(o, id, "Clip", 3, in);
        break;
    }
    case RECUR_OP_SCALE: return with_const(o, id, "Mul", scalar(o, "scale", n->attr.f[0]), 0);
    case RECUR_OP_ONE_MINUS: return with_const(o, id, "Sub", scalar(o, "one", 1.0f), 1);
    case RECUR_OP_SQUARE: {
        const char *in[2] = {o->names[n->in[0]], o->names[n->in[0]]};
        e = emit_as(o, id, "Mul", 2, in);
        break;
    }
    case RECUR_OP_MATMUL: return export_matmul(o, id);
    case RECUR_OP_BROADCAST_TO: return with_const(o, id, "Expand", ints(o, "shape", n->shape.ndim, d), 0);
    case RECUR_OP_RESHAPE: return with_const(o, id, "Reshape", ints(o, "shape", n->shape.ndim, d), 0);
    case RECUR_OP_SOFTMAX: case RECUR_OP_LOG_SOFTMAX:
        if ((e = emit_plain(o, id, n->op == RECUR_OP_SOFTMAX ? "Softmax" : "LogSoftmax")) &&
            recur_onnx_set_int(o, e, "axis", -1) != RECUR_OK)
            e = NULL;
        break;
    case RECUR_OP_CONCAT: return export_concat(o, id);
    case RECUR_OP_STACK: return export_stack(o, id);
    case RECUR_OP_SLICE: {
        int64_t se[3] = {n->attr.i[1], n->attr.i[1] + n->attr.i[2], n->attr.i[0]};
        const char *in[4] = {o->names[n->in[0]], ints(o, "starts", 1, &se[0]), ints(o, "ends", 1, &se[1]),
                             ints(o, "axes", 1, &se[2])};
        if (!in[1] || !in[2] || !in[3]) return RECUR_ERR_NOMEM;
        e = emit_as(o, id, "Slice", 4, in);
        break;
    }
    case RECUR_OP_TRANSPOSE: {
        int rank = o->g->nodes[n->in[0]].shape.ndim;
        if ((e = emit_plain(o, id, "Transpose")) && recur_onnx_set_ints(o, e, "perm", rank, n->attr.i) != RECUR_OK) e = NULL;
        break;
    }
    case RECUR_OP_TAKE: {
        const char *idx = recur_onnx_init_ints(o, "index", 0, NULL, &n->attr.i[1]);
        if (!idx) return RECUR_ERR_NOMEM;
        const char *in[2] = {o->names[n->in[0]], idx};
        if ((e = emit_as(o, id, "Gather", 2, in)) && recur_onnx_set_int(o, e, "axis", n->attr.i[0]) != RECUR_OK) e = NULL;
        break;
    }
    case RECUR_OP_GATHER: { /* recur's ids are floats: ONNX's Gather wants integers */
        char *ids = recur_onnx_fresh(o, "ids");
        const char *cast_in = o->names[n->in[1]];
        onnx_node *c = ids ? recur_onnx_emit(o, "Cast", "Cast", 1, &cast_in, 1, (const char *const *)&ids) : NULL;
        if (!c || recur_onnx_set_int(o, c, "to", ONNX_INT64) != RECUR_OK) return RECUR_ERR_NOMEM;
        const char *in[2] = {o->names[n->in[0]], ids};
        if (n->attr.i[0]) { /* of the table's columns (passes/one_hot.c): the rows of its transpose */
            char *rows = recur_onnx_fresh(o, "rows");
            if (!rows || !recur_onnx_emit(o, "Transpose", "Transpose", 1, in, 1, (const char *const *)&rows)) return RECUR_ERR_NOMEM;
            in[0] = rows;
        }
        e = emit_as(o, id, "Gather", 2, in);
        break;
    }
    case RECUR_OP_ONE_HOT: {
        float values[2] = {0.0f, 1.0f}, depth = (float)n->attr.i[0];
        int64_t two = 2, one = 1;
        const char *in[3] = {o->names[n->in[0]], recur_onnx_init_float(o, "depth", 1, &one, &depth),
                             recur_onnx_init_float(o, "values", 1, &two, values)};
        if (!in[1] || !in[2]) return RECUR_ERR_NOMEM;
        if ((e = emit_as(o, id, "OneHot", 3, in)) && recur_onnx_set_int(o, e, "axis", -1) != RECUR_OK) e = NULL;
        break;
    }
    default: return no_export(o, id);
    }
    if (!e) return recur_errcode(o->g) == RECUR_ERR_NOMEM ? RECUR_ERR_NOMEM : recur_set_error(o->g, RECUR_ERR_NOMEM, "onnx_export: out of memory");
    return RECUR_OK;
}
