/*
 * graph/topo.c — topological ordering of the nodes outputs need, and
 * dead-node elimination.
 *
 * Nodes are appended after their inputs, but graph passes (unrolling) turn
 * an old node into an alias of a newer one, so id order is not always a
 * topological order: a depth-first post-order is computed instead, with an
 * explicit stack so that long unrolled graphs stay off the C stack.
 */
#include <stdlib.h>

#include "graph/ir.h"
#include "ops/op.h"

enum { WHITE, GREY, BLACK };

int recur_topo(recur_graph *g, int n_out, const recur_value *outs, const char *leaves, int32_t *order,
               const char *who)
{
    char *color = calloc((size_t)g->n + 1, 1);
    /* Each stack entry is a node and the index of the next input to visit. */
    int32_t *stack = malloc(sizeof(int32_t) * 2 * ((size_t)g->n + 1));
    if (!color || !stack) {
        free(color);
        free(stack);
        recur_set_error(g, RECUR_ERR_NOMEM, "%s: out of memory", who);
        return -1;
    }
    int count = 0, result = 0;
    for (int o = 0; o < n_out && result == 0; o++) {
        if (!recur_node_of(g, outs[o])) {
            recur_set_error(g, RECUR_ERR_VALUE, "%s: output %d (value %d) is not a live node of this graph", who, o,
                            outs[o].id);
            result = -1;
            break;
        }
        if (color[outs[o].id] != WHITE) continue;
        int top = 0;
        stack[0] = outs[o].id;
        stack[1] = 0;
        color[outs[o].id] = GREY;
        top = 1;
        while (top > 0) {
            g->work++;
            int32_t id = stack[2 * (top - 1)];
            int32_t *next = &stack[2 * (top - 1) + 1];
            const recur_node *n = &g->nodes[id];
            int n_in = leaves && leaves[id] ? 0 : n->n_in;
            if (*next < n_in) {
                int32_t in = n->in[(*next)++];
                if (g->nodes[in].removed) {
                    recur_set_error(g, RECUR_ERR_STATE, "%s: node %s uses removed node %s", who,
                                    recur_node_name(g, id), recur_node_name(g, in));
                    result = -1;
                    break;
                }
                if (color[in] == GREY) {
                    recur_set_error(g, RECUR_ERR_STATE, "%s: the graph has a cycle through nodes %s and %s", who,
                                    recur_node_name(g, id), recur_node_name(g, in));
                    result = -1;
                    break;
                }
                if (color[in] == WHITE) {
                    color[in] = GREY;
                    stack[2 * top] = in;
                    stack[2 * top + 1] = 0;
                    top++;
                }
            } else {
                color[id] = BLACK;
                order[count++] = id;
                top--;
            }
        }
    }
    free(color);
    free(stack);
    return result < 0 ? -1 : count;
}

int recur_topo_order(recur_graph *g, int n_outputs, const recur_value *outputs, int32_t *order, int cap)
{
    if (!g) return -1;
    if (n_outputs < 0 || (n_outputs > 0 && !outputs)) {
        recur_set_error(g, RECUR_ERR_ARG, "topo_order: bad output list");
        return -1;
    }
    int32_t *all = malloc(sizeof(int32_t) * ((size_t)g->n + 1));
    if (!all) {
        recur_set_error(g, RECUR_ERR_NOMEM, "topo_order: out of memory");
        return -1;
    }
    int count = recur_topo(g, n_outputs, outputs, NULL, all, "topo_order");
    if (count > cap || (count > 0 && !order)) {
        recur_set_error(g, RECUR_ERR_ARG, "topo_order: %d nodes needed but the buffer holds %d", count, cap);
        count = -1;
    }
    for (int i = 0; i < count; i++) order[i] = all[i];
    free(all);
    return count;
}

int recur_graph_prune(recur_graph *g, int n_keep, const recur_value *keep)
{
    if (!g) return -1;
    int32_t *order = malloc(sizeof(int32_t) * ((size_t)g->n + 1));
    char *needed = calloc((size_t)g->n + 1, 1);
    if (!order || !needed) {
        free(order);
        free(needed);
        recur_set_error(g, RECUR_ERR_NOMEM, "prune: out of memory");
        return -1;
    }
    int count = recur_topo(g, n_keep, keep, NULL, order, "prune");
    int removed = -1;
    if (count >= 0) {
        for (int i = 0; i < count; i++) needed[order[i]] = 1;
        removed = 0;
        for (int i = 0; i < g->n; i++) {
            recur_node *n = &g->nodes[i];
            if (needed[i] || n->removed || n->op == RECUR_OP_INPUT || n->op == RECUR_OP_PARAM) continue;
            if (n->loop || n->op == RECUR_OP_LOOP) continue; /* loop bodies serve steppers and diagrams */
            n->removed = 1;
            removed++;
        }
    }
    free(order);
    free(needed);
    return removed;
}
