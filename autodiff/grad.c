/*
 * autodiff/grad.c — symbolic reverse-mode differentiation.
 *
 * With L the scalar loss and adj(v) = dL/dv (the adjoint), the chain rule
 * read backwards over a topological order is
 *   adj(L) = 1,   adj(x) = sum over users y of x: (dy/dx)^T adj(y),
 * where each op's gradient rule builds the term (dy/dx)^T adj(y) as graph
 * nodes. Only nodes on a path from a wrt value to the loss are visited.
 */
#include <stdlib.h>

#include "ops/op.h"
#include "recur/autodiff.h"

recur_status recur_grad(recur_graph *g, recur_value loss, int n_wrt, const recur_value *wrt, recur_value *grads)
{
    if (!g) return RECUR_ERR_ARG;
    if (n_wrt < 0 || (n_wrt > 0 && (!wrt || !grads)))
        return recur_set_error(g, RECUR_ERR_ARG, "grad: bad wrt/grads arrays");
    for (int i = 0; i < n_wrt; i++) grads[i] = RECUR_NONE;
    if (!recur_ok(loss))
        return recur_set_error(g, RECUR_ERR_VALUE, "grad: the loss is the invalid value RECUR_NONE (an earlier call failed)");
    recur_node *ln = recur_operand(g, loss, "grad");
    if (!ln) return g->err ? g->err : RECUR_ERR_VALUE;
    if (recur_shape_numel(ln->shape) != 1) {
        char shp[64];
        return recur_set_error(g, RECUR_ERR_SHAPE, "grad: the loss \"%s\" must hold one element, its shape is %s",
                               recur_node_name(g, loss.id), recur_shape_str(ln->shape, shp, sizeof shp));
    }
    for (int i = 0; i < n_wrt; i++)
        if (!recur_operand(g, wrt[i], "grad")) return g->err;

    const int n0 = g->n; /* nodes from here on are gradient nodes, dropped on failure */
    recur_status st = RECUR_OK;
    char *on_path = calloc((size_t)n0 + 1, 1);
    recur_value *adj = malloc(sizeof *adj * ((size_t)n0 + 1));
    int32_t *order = malloc(sizeof *order * ((size_t)n0 + 1));
    int count = on_path && adj && order ? recur_topo(g, 1, &loss, NULL, order, "grad") : -2;
    if (count < 0) {
        free(on_path);
        free(adj);
        free(order);
        return count == -2 ? recur_set_error(g, RECUR_ERR_NOMEM, "grad: out of memory") : g->err;
    }
    for (int i = 0; i < n0; i++) adj[i] = RECUR_NONE;

    /* on_path[v]: v depends on some wrt value. */
    for (int i = 0; i < n_wrt; i++) on_path[wrt[i].id] = 1;
    for (int j = 0; j < count; j++) {
        const recur_node *n = &g->nodes[order[j]];
        for (int k = 0; k < n->n_in && !on_path[order[j]]; k++)
            if (on_path[n->in[k]]) on_path[order[j]] = 1;
    }

    if (on_path[loss.id]) {
        adj[loss.id] = recur_fill(g, ln->shape, 1.0f);
        if (!recur_ok(adj[loss.id])) st = recur_built(g, adj[loss.id]);
    }
    /* Users before their inputs: every adjoint is complete when it is used. */
    for (int j = count - 1; j >= 0 && st == RECUR_OK; j--) {
        int32_t i = order[j];
        if (!recur_ok(adj[i]) || !on_path[i]) continue;
        const recur_node *n = &g->nodes[i];
        if (n->n_in == 0) continue;
        int needs[64], *needp = n->n_in <= 64 ? needs : malloc(sizeof(int) * (size_t)n->n_in);
        recur_value small[64], *dx = n->n_in <= 64 ? small : malloc(sizeof *dx * (size_t)n->n_in);
        if (!needp || !dx) {
            if (needp != needs) free(needp);
            if (dx != small) free(dx);
            st = recur_set_error(g, RECUR_ERR_NOMEM, "grad: out of memory");
            break;
        }
        int any = 0;
        for (int k = 0; k < n->n_in; k++) {
            needp[k] = on_path[n->in[k]];
            any |= needp[k];
            dx[k] = RECUR_NONE;
        }
        const recur_op_def *def = recur_op(n->op);
        if (any && !def->grad) {
            char shp[64];
            st = recur_set_error(g, RECUR_ERR_NOGRAD, "grad: op %s (node %s %s) has no gradient rule%s%s", def->name,
                                 recur_node_name(g, i), recur_shape_str(n->shape, shp, sizeof shp),
                                 def->hint ? ": " : "", def->hint ? def->hint : "");
        } else if (any) {
            st = def->grad(g, (recur_value){i}, adj[i], needp, dx);
        }
        /* Sum each contribution into its input's adjoint. Builders append
         * nodes and may move the node array: index it afresh each time. */
        for (int k = 0; k < g->nodes[i].n_in && st == RECUR_OK; k++) {
            if (!needp[k] || !recur_ok(dx[k])) continue;
            int32_t in = g->nodes[i].in[k];
            adj[in] = recur_ok(adj[in]) ? recur_add(g, adj[in], dx[k]) : dx[k];
            if (!recur_ok(adj[in])) st = recur_built(g, adj[in]);
        }
        if (needp != needs) free(needp);
        if (dx != small) free(dx);
    }

    for (int i = 0; i < n_wrt && st == RECUR_OK; i++) {
        grads[i] = recur_ok(adj[wrt[i].id]) ? adj[wrt[i].id] : recur_fill(g, g->nodes[wrt[i].id].shape, 0.0f);
        if (!recur_ok(grads[i])) st = recur_built(g, grads[i]);
    }
    free(on_path);
    free(adj);
    free(order);
    if (st != RECUR_OK) {
        recur_graph_truncate(g, n0);
        for (int i = 0; i < n_wrt; i++) grads[i] = RECUR_NONE;
    }
    return st;
}
