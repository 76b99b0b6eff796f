/*
 * onnx/export.c — recur_onnx_export: the part of a graph that computes
 * the requested outputs, in topological order, as an ONNX ModelProto (op
 * set 14, IR version 7). The driver on top of the exporter: each node is
 * written by export_ops.c, each loop by export_loop.c, and the protobuf
 * messages are built with export_builder.c's helpers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_impl.h"

#define ONNX_OPSET 14
#define ONNX_IR_VERSION 7

/* ---------------------------------------------------------------- the model */

/* Emits every node the outputs need, in topological order. */
static recur_status emit_all(recur_onnx_out *o, int n_out, const recur_value *outs)
{
    recur_graph *g = o->g;
    int32_t *order = malloc(sizeof *order * (size_t)(g->n ? g->n : 1));
    if (!order) return recur_set_error(g, RECUR_ERR_NOMEM, "onnx_export: out of memory");
    int count = recur_topo(g, n_out, outs, NULL, order, "onnx_export");
    recur_status st = count < 0 ? g->error.code : RECUR_OK;
    o->needed = recur_onnx_alloc(o, (size_t)g->n + 1);
    o->as_cell = recur_onnx_alloc(o, (size_t)g->n_loops + 1);
    if (!o->needed || !o->as_cell) st = RECUR_ERR_NOMEM;
    for (int i = 0; i < count && st == RECUR_OK; i++) o->needed[order[i]] = 1;
    /* the graph's inputs first, in the order they were made */
    for (int32_t id = 0; id < g->n && st == RECUR_OK; id++)
        if (o->needed[id] && g->nodes[id].op == RECUR_OP_INPUT) st = recur_onnx_export_node(o, id);
    for (int i = 0; i < count && st == RECUR_OK; i++) {
        const recur_node *n = &g->nodes[order[i]];
        if (o->names[order[i]] || n->loop) continue; /* done with its loop, or a body node (its loop emits it) */
        if (n->op == RECUR_OP_LOOP) continue;      /* emitted with its outputs */
        if (recur_onnx_lazy(g, order[i])) continue; /* when read (recur_onnx_name_of) */
        if (n->op == RECUR_OP_LOOP_OUTPUT) st = recur_onnx_export_loop(o, (int)n->attr.i[0]);
        else st = recur_onnx_export_node(o, order[i]);
    }
    free(order);
    return st;
}

static recur_status build_model(recur_onnx_out *o, int n_out, const recur_value *outs, const recur_onnx_export_opts *opts,
                                RecurOnnx__ModelProto *m)
{
    recur_graph *g = o->g;
    recur_onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = ONNX_IR_VERSION;
    m->producer_name = "recur";
    m->producer_version = RECUR_VERSION_STRING;
    RecurOnnx__OperatorSetIdProto *ops = recur_onnx_alloc(o, sizeof *ops);
    onnx_graph *gp = recur_onnx_alloc(o, sizeof *gp);
    RecurOnnx__OperatorSetIdProto **opsv = recur_onnx_alloc(o, sizeof *opsv);
    if (!ops || !gp || !opsv) return RECUR_ERR_NOMEM;
    recur_onnx__operator_set_id_proto__init(ops);
    ops->domain = "";
    ops->has_version = 1;
    ops->version = ONNX_OPSET;
    opsv[0] = ops;
    m->opset_import = opsv;
    m->n_opset_import = 1;
    recur_onnx__graph_proto__init(gp);
    gp->name = recur_onnx_strdup(o, opts && opts->graph_name ? opts->graph_name : "recur");
    m->graph = gp;
    o->gp = o->main = gp;
    for (int i = 0; opts && i < opts->n_meta; i++)
        if (recur_onnx_add_meta(o, m, opts->meta_keys[i], opts->meta_values[i]) != RECUR_OK) return RECUR_ERR_NOMEM;
    /* the output names are taken first, so that no internal tensor takes one */
    char **out_names = recur_onnx_alloc(o, sizeof *out_names * (size_t)n_out);
    if (!out_names) return RECUR_ERR_NOMEM;
    for (int i = 0; i < n_out; i++) {
        const char *want = opts && opts->output_names && opts->output_names[i] ? opts->output_names[i]
                                                                                : recur_node_name(g, outs[i].id);
        if (recur_onnx_name_used(o, want))
            return recur_set_error(g, RECUR_ERR_ARG, "onnx_export: output name \"%s\" is given twice", want);
        if (!(out_names[i] = recur_onnx_claim(o, want))) return RECUR_ERR_NOMEM;
    }
    recur_status st = emit_all(o, n_out, outs);
    if (st != RECUR_OK) return st;
    for (int i = 0; i < n_out; i++) {
        const char *src = recur_onnx_name_of(o, outs[i].id);
        if (!src) return recur_errcode(g);
        onnx_node *id = recur_onnx_emit(o, "Identity", out_names[i], 1, &src, 1, (const char *const *)&out_names[i]);
        RecurOnnx__ValueInfoProto *vi = recur_onnx_value_info(o, out_names[i], g->nodes[outs[i].id].shape, ONNX_FLOAT);
        if (!id || !vi || recur_onnx_graph_add_output(o, gp, vi) != RECUR_OK) return RECUR_ERR_NOMEM;
    }
    return RECUR_OK;
}

recur_status recur_onnx_export_mem(recur_graph *g, int n_outputs, const recur_value *outputs,
                                   const recur_onnx_export_opts *opts, void **buf, size_t *len)
{
    if (!g) return RECUR_ERR_ARG;
    if (!buf || !len || !outputs || n_outputs < 1 || n_outputs > RECUR_ONNX_MAX_IO)
        return recur_set_error(g, RECUR_ERR_ARG, "onnx_export: need 1 to %d outputs and a place for the bytes",
                               RECUR_ONNX_MAX_IO);
    *buf = NULL;
    *len = 0;
    if (g->open_loop) return recur_set_error(g, RECUR_ERR_STATE, "onnx_export: a loop is open on the graph");
    for (int i = 0; i < n_outputs; i++) {
        if (recur_value_check(g, outputs[i], "onnx_export") != RECUR_OK) return recur_errcode(g);
        if (g->nodes[outputs[i].id].loop)
            return recur_set_error(g, RECUR_ERR_VALUE, "onnx_export: output \"%s\" is a value inside a loop's body "
                                   "(export recur_loop_stacked or recur_loop_final of it)", recur_node_name(g, outputs[i].id));
    }
    recur_onnx_out o = {.g = g};
    RecurOnnx__ModelProto m;
    o.names = calloc((size_t)g->n + 1, sizeof *o.names);
    recur_status st = o.names ? build_model(&o, n_outputs, outputs, opts, &m) : RECUR_ERR_NOMEM;
    if (st == RECUR_OK) {
        size_t n = recur_onnx__model_proto__get_packed_size(&m);
        uint8_t *p = malloc(n ? n : 1);
        if (p) {
            *len = recur_onnx__model_proto__pack(&m, p);
            *buf = p;
        } else {
            st = RECUR_ERR_NOMEM;
        }
    }
    if (st == RECUR_ERR_NOMEM && recur_errcode(g) != RECUR_ERR_NOMEM)
        recur_set_error(g, RECUR_ERR_NOMEM, "onnx_export: out of memory");
    for (size_t i = 0; i < o.n_allocs; i++) free(o.allocs[i]);
    free(o.allocs);
    free(o.names);
    return st;
}

recur_status recur_onnx_export(recur_graph *g, int n_outputs, const recur_value *outputs,
                               const recur_onnx_export_opts *opts, const char *path)
{
    if (!g) return RECUR_ERR_ARG;
    if (!path) return recur_set_error(g, RECUR_ERR_ARG, "onnx_export: no path");
    void *buf;
    size_t len;
    recur_status st = recur_onnx_export_mem(g, n_outputs, outputs, opts, &buf, &len);
    if (st != RECUR_OK) return st;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(buf);
        return recur_set_error(g, RECUR_ERR_IO, "onnx_export: cannot write %s: %s", path, strerror(errno));
    }
    size_t put = fwrite(buf, 1, len, f);
    int bad = fclose(f) != 0 || put != len;
    free(buf);
    if (bad) return recur_set_error(g, RECUR_ERR_IO, "onnx_export: writing %s failed", path);
    return RECUR_OK;
}
