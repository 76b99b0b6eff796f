/*
 * graph/dump.c — a readable listing of a graph.
 */
#include "graph/ir.h"
#include "ops/op.h"

recur_status recur_graph_dump(const recur_graph *g, FILE *f)
{
    if (!g) return RECUR_ERR_ARG;
    /* The graph keeps its error record even when the caller holds it const (it is never const itself). */
    if (!f) return recur_error_set(&((recur_graph *)g)->error, RECUR_ERR_ARG, "graph_dump: the stream is NULL");
    for (int i = 0; i < g->n; i++) {
        const recur_node *n = &g->nodes[i];
        if (n->removed) continue;
        const recur_op_def *def = recur_op(n->op);
        char shp[64], attrs[160] = "";
        fprintf(f, "%%%d = %s(", i, def->name);
        for (int k = 0; k < n->n_in; k++) fprintf(f, k ? ", %%%d" : "%%%d", (int)n->in[k]);
        fputc(')', f);
        if (def->attrs) {
            def->attrs(n, attrs, sizeof attrs);
            if (attrs[0]) fprintf(f, " %s", attrs);
        }
        fprintf(f, " %s", recur_shape_str(n->shape, shp, sizeof shp));
        if (n->name) fprintf(f, "  \"%s\"", n->name);
        fputc('\n', f);
    }
    if (ferror(f))
        return recur_error_set(&((recur_graph *)g)->error, RECUR_ERR_IO,
                               "graph_dump: writing the listing of %d nodes failed (the stream reports an error)", g->n);
    return RECUR_OK;
}
