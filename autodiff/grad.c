/*
 * autodiff/grad.c — symbolic reverse-mode differentiation.
 *
 * With L the scalar loss and adj(v) = dL/dv (the adjoint), the chain rule
 * read backwards over a topological order is
 *   adj(L) = 1,   adj(x) = sum over users y of x: (dy/dx)^T adj(y),
 * where each op's gradient rule builds the term (dy/dx)^T adj(y) as graph
 * nodes, and a node's terms are summed (passes/grad_batch.c) once all its
 * users are done (summed as the pass pipeline says: with gradient batching,
 * passes/grad_batch.c). Only nodes on a path from a wrt value to the loss
 * are visited.
 *
 * Every node differentiation adds is stamped with the forward node it
 * belongs to (recur_node.grad_of): the node whose gradient rule made it, or
 * whose adjoint it sums (graph/ir.h: recur_grad_step gives its loop and
 * step), as unrolling stamps its copies; diagrams of the backward pass
 * place gradient nodes by it.
 */
#include <stdlib.h>

#include "ops/op.h"
#include "passes/passes.h"
#include "recur/autodiff.h"

/* A node's gradient terms, summed when the node is reached (all its users are done by then). */
typedef struct terms {
    int n, cap;
    int32_t *v;
} terms;

static int push_term(terms *t, int32_t v)
{
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 4;
        int32_t *grown = realloc(t->v, sizeof(int32_t) * (size_t)cap);
        if (!grown) return 0;
        t->v = grown;
        t->cap = cap;
    }
    t->v[t->n++] = v;
    return 1;
}

/* Stamps the nodes from id `from` on that no rule has stamped yet as gradient nodes of forward node f. */
static void stamp(recur_graph *g, int32_t from, int32_t f)
{
    for (int32_t id = from; id < g->n; id++)
        if (!g->nodes[id].grad_of) g->nodes[id].grad_of = f + 1;
}

/* The adjoint of node i: the sum of its terms (RECUR_NONE if it has none), stamped as i's. */
static recur_value adjoint(recur_graph *g, terms *acc, int32_t i)
{
    int32_t from = g->n;
    recur_value a = acc[i].n ? recur_pipeline_grad_sum(g, acc[i].n, acc[i].v) : RECUR_NONE;
    stamp(g, from, i);
    return a;
}

recur_status recur_grad(recur_graph *g, recur_value loss, int n_wrt, const recur_value *wrt, recur_value *grads)
{
    if (!g) return RECUR_ERR_ARG;
    if (n_wrt < 0 || (n_wrt > 0 && (!wrt || !grads)))
        return recur_set_error(g, RECUR_ERR_ARG, "grad: bad wrt/grads arrays");
    for (int i = 0; i < n_wrt; i++) grads[i] = RECUR_NONE;
    if (!recur_ok(loss))
        return recur_set_error(g, RECUR_ERR_VALUE, "grad: the loss is the invalid value RECUR_NONE (an earlier call failed)");
    recur_node *ln = recur_operand(g, loss, "grad");
    if (!ln) return g->error.code ? g->error.code : RECUR_ERR_VALUE;
    if (recur_shape_numel(ln->shape) != 1) {
        char shp[64];
        return recur_set_error(g, RECUR_ERR_SHAPE, "grad: the loss \"%s\" must hold one element, its shape is %s",
                               recur_node_name(g, loss.id), recur_shape_str(ln->shape, shp, sizeof shp));
    }
    for (int i = 0; i < n_wrt; i++)
        if (!recur_operand(g, wrt[i], "grad")) return g->error.code;
    /* The pipeline's step before differentiating (passes/pipeline.c: matmul fusion of what unrolling did not see). */
    recur_status fused = recur_pipeline_before_grad(g);
    if (fused != RECUR_OK) return fused;
    ln = &g->nodes[loss.id]; /* the pass may have moved the node array */

    const int n0 = g->n; /* nodes from here on are gradient nodes, dropped on failure */
    recur_status st = RECUR_OK;
    char *on_path = calloc((size_t)n0 + 1, 1);
    terms *acc = calloc((size_t)n0 + 1, sizeof *acc);
    recur_value *adj = malloc(sizeof *adj * ((size_t)n0 + 1));
    int32_t *order = malloc(sizeof *order * ((size_t)n0 + 1));
    int count = on_path && acc && adj && order ? recur_topo(g, 1, &loss, NULL, order, "grad") : -2;
    if (count < 0) {
        free(on_path), free(acc), free(adj), free(order);
        return count == -2 ? recur_set_error(g, RECUR_ERR_NOMEM, "grad: out of memory") : g->error.code;
    }
    g->work += (uint64_t)n0 + 2 * (uint64_t)count; /* the adjoints, the path, the walk back */
    for (int i = 0; i < n0; i++) adj[i] = RECUR_NONE;

    /* on_path[v]: v depends on some wrt value. */
    for (int i = 0; i < n_wrt; i++) on_path[wrt[i].id] = 1;
    for (int j = 0; j < count; j++) {
        const recur_node *n = &g->nodes[order[j]];
        for (int k = 0; k < n->n_in && !on_path[order[j]]; k++)
            if (on_path[n->in[k]]) on_path[order[j]] = 1;
    }

    if (on_path[loss.id]) {
        recur_value one = recur_fill(g, ln->shape, 1.0f); /* the seed dL/dL */
        stamp(g, n0, loss.id);
        if (!recur_ok(one) || !push_term(&acc[loss.id], one.id)) st = recur_ok(one) ? RECUR_ERR_NOMEM : recur_built(g, one);
    }
    /* Users before their inputs: every adjoint is complete when it is reached. */
    for (int j = count - 1; j >= 0 && st == RECUR_OK; j--) {
        int32_t i = order[j];
        if (!on_path[i] || !acc[i].n) continue;
        adj[i] = adjoint(g, acc, i);
        if (!recur_ok(adj[i])) {
            st = recur_built(g, adj[i]);
            break;
        }
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
            int32_t from = g->n;
            st = def->grad(g, (recur_value){i}, adj[i], needp, dx);
            stamp(g, from, i);
        }
        /* Each contribution becomes a term of its input's adjoint (the rule may have moved the node array). */
        for (int k = 0; k < g->nodes[i].n_in && st == RECUR_OK; k++)
            if (needp[k] && recur_ok(dx[k]) && !push_term(&acc[g->nodes[i].in[k]], dx[k].id))
                st = recur_set_error(g, RECUR_ERR_NOMEM, "grad: out of memory");
        if (needp != needs) free(needp);
        if (dx != small) free(dx);
    }

    for (int i = 0; i < n_wrt && st == RECUR_OK; i++) {
        recur_value a = recur_ok(adj[wrt[i].id]) ? adj[wrt[i].id] : adjoint(g, acc, wrt[i].id);
        int32_t from = g->n;
        grads[i] = recur_ok(a) ? a : recur_fill(g, g->nodes[wrt[i].id].shape, 0.0f);
        stamp(g, from, wrt[i].id);
        if (!recur_ok(grads[i])) st = recur_built(g, grads[i]);
    }
    for (int i = 0; i < n0; i++) free(acc[i].v);
    free(on_path), free(acc), free(adj), free(order);
    if (st != RECUR_OK) {
        recur_graph_truncate(g, n0);
        for (int i = 0; i < n_wrt; i++) grads[i] = RECUR_NONE;
    }
    return st;
}
