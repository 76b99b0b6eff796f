/*
 * graph/topo.c — topological ordering of the nodes an output needs, and
 * dead-node elimination.
 */
#include <stdlib.h>

#include "graph/node.h"
#include "ops/op.h"

/*
 * Marks (mark[id] = 1) every node reachable backwards from the outputs.
 * An explicit stack keeps deep graphs (long unrolled loops) off the C stack.
 * Returns RECUR_OK or an error recorded on g.
 */
static recur_status mark_needed(recur_graph *g, int n_out, const recur_value *out, char *mark, const char *who)
{
    int32_t *stack = malloc(sizeof(int32_t) * (size_t)(g->n + 1));
    if (!stack) return recur_set_error(g, RECUR_ERR_NOMEM, "%s: out of memory", who);
    int top = 0;
    for (int i = 0; i < n_out; i++) {
        if (!recur_node_of(g, out[i])) {
            free(stack);
            return recur_set_error(g, RECUR_ERR_VALUE, "%s: output %d (value %d) is not a live node of this graph",
                                   who, i, out[i].id);
        }
        if (!mark[out[i].id]) {
            mark[out[i].id] = 1;
            stack[top++] = out[i].id;
        }
    }
    while (top > 0) {
        recur_node *n = &g->nodes[stack[--top]];
        for (int k = 0; k < n->n_in; k++) {
            if (!mark[n->in[k]]) {
                mark[n->in[k]] = 1;
                stack[top++] = n->in[k];
            }
        }
    }
    free(stack);
    return RECUR_OK;
}

int recur_topo_order(recur_graph *g, int n_outputs, const recur_value *outputs, int32_t *order, int cap)
{
    if (!g) return -1;
    if (n_outputs < 0 || (n_outputs > 0 && !outputs)) {
        recur_set_error(g, RECUR_ERR_ARG, "topo_order: bad output list");
        return -1;
    }
    char *mark = calloc((size_t)g->n + 1, 1);
    if (!mark) {
        recur_set_error(g, RECUR_ERR_NOMEM, "topo_order: out of memory");
        return -1;
    }
    if (mark_needed(g, n_outputs, outputs, mark, "topo_order") != RECUR_OK) {
        free(mark);
        return -1;
    }
    /* Nodes are appended after their inputs, so id order is a topological order. */
    int count = 0;
    for (int i = 0; i < g->n; i++) {
        if (!mark[i]) continue;
        if (count < cap && order) order[count] = i;
        count++;
    }
    free(mark);
    if (count > cap) {
        recur_set_error(g, RECUR_ERR_ARG, "topo_order: %d nodes needed but the buffer holds %d", count, cap);
        return -1;
    }
    return count;
}

int recur_graph_prune(recur_graph *g, int n_keep, const recur_value *keep)
{
    if (!g) return -1;
    char *mark = calloc((size_t)g->n + 1, 1);
    if (!mark) {
        recur_set_error(g, RECUR_ERR_NOMEM, "prune: out of memory");
        return -1;
    }
    if (mark_needed(g, n_keep, keep, mark, "prune") != RECUR_OK) {
        free(mark);
        return -1;
    }
    int removed = 0;
    for (int i = 0; i < g->n; i++) {
        recur_node *n = &g->nodes[i];
        if (mark[i] || n->removed || n->op == RECUR_OP_INPUT || n->op == RECUR_OP_PARAM) continue;
        n->removed = 1;
        removed++;
    }
    free(mark);
    return removed;
}
