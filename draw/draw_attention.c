/*
 * draw/draw_attention.c — attention drawn as textbooks draw it, at cell
 * level: a loop whose cells read all of another loop's states at every
 * step (a decoder attending over its encoder's outputs) gets
 *
 *   one memory box, the states it attends over, fed by the other loop's
 *   cells and drawn above the middle of that loop's steps;
 *   one attention box per step (per cell rolled), reading the memory on a
 *   dotted edge.
 *
 * Where the attention sits follows the graph: when the loop's next states
 * do not depend on the memory (Luong's attention, recur's seq2seq: the
 * cell's new state is the query and the attention makes the step's
 * output), the cell feeds the attention box above it and the cell's
 * outputs leave from the attention box; when they do (Bahdanau's), the
 * attention box sits below the cell and feeds it. Either way the edges
 * that made the all-to-all band, one per memory position and step, go.
 * Other values read at every step (the mask of the memory) are drawn with
 * the memory, not as edges of their own.
 */
#include <stdio.h>
#include <stdlib.h>

#include "draw.h"

/* 1 if a next state of loop li depends on an outer value its body reads other than a weight or constant. */
static int state_reads_capture(const draw_ctx *c, int li)
{
    const recur_graph *g = c->g;
    const recur_loop_rec *L = &g->loops[li];
    int n_body = L->last - L->first;
    char *seen = calloc((size_t)n_body + 1, 1);
    int32_t *stack = malloc(sizeof *stack * ((size_t)n_body + 1));
    int found = 0, top = 0;
    if (!seen || !stack) {
        free(seen), free(stack);
        return 0;
    }
    for (int k = 0; k < L->n_state; k++) {
        int32_t v = L->next[k];
        if (v >= L->first && v < L->last && !seen[v - L->first]) seen[v - L->first] = 1, stack[top++] = v;
    }
    while (top > 0 && !found) {
        const recur_node *n = &g->nodes[stack[--top]];
        for (int i = 0; i < n->n_in && !found; i++) {
            int32_t in = n->in[i];
            const recur_node *x = &g->nodes[in];
            if (x->loop == li + 1) {
                if (!seen[in - L->first]) seen[in - L->first] = 1, stack[top++] = in;
            } else if (x->op != RECUR_OP_PARAM && x->op != RECUR_OP_CONST && x->op != RECUR_OP_FILL) {
                found = 1;
            }
        }
    }
    free(seen), free(stack);
    return found;
}

/* The middle drawn column of loop li (rolled: its one column). */
static int middle_col(const draw_ctx *c, int li)
{
    const draw_loop *P = &c->loops[li];
    return c->unrolled ? P->col0 + (P->width - 1) / 2 : P->col0;
}

void recur_draw_attention(draw_ctx *c, draw_scene *s)
{
    if (s->op_level) return;
    int n_edges = s->n_edges;
    int *before = calloc((size_t)c->n_loops + 1, sizeof *before); /* 1 + 1: attention feeds the cell; 1: after it */
    if (!before) {
        s->st = RECUR_ERR_NOMEM;
        return;
    }
    for (int e = 0; e < n_edges && s->st == RECUR_OK; e++) {
        draw_edge *d = &s->edges[e];
        if (d->kind != DRAW_E_CAPTURE) continue;
        int J = d->from, I = d->to;
        const draw_item *src = &s->items[J], *cell = &s->items[I];
        int mem_loop = src->loop, li = cell->loop;
        if (cell->kind != DRAW_CELL || (src->kind != DRAW_CELL && src->kind != DRAW_INPUT) || mem_loop < 0 ||
            mem_loop == li)
            continue;
        d->kind = DRAW_E_INVIS; /* the all-to-all edge goes */
        if (!before[li]) before[li] = 1 + state_reads_capture(c, li);
        int under = before[li] == 2;
        int M = recur_draw_item_find(s, DRAW_MEMORY, mem_loop, -1);
        if (M < 0) {
            char label[160];
            snprintf(label, sizeof label, "memory: %s states", recur_draw_loop_label(c, mem_loop));
            M = recur_draw_item_add(s, DRAW_MEMORY, mem_loop, -1, label);
            if (M < 0) break;
            s->items[M].loop = mem_loop;
            s->items[M].col = middle_col(c, mem_loop);
            s->items[M].layer = 10 * (c->loops[mem_loop].row + 1) + 5;
        }
        if (src->kind == DRAW_CELL) recur_draw_edge_add(s, J, M, DRAW_E_DATA, 0, "");
        int A = recur_draw_item_find(s, DRAW_ATTN, li, cell->b);
        if (A < 0) {
            A = recur_draw_item_add(s, DRAW_ATTN, li, cell->b, "attention");
            if (A < 0) break;
            cell = &s->items[I];
            draw_item *a = &s->items[A];
            a->loop = li;
            a->col = cell->col;
            a->layer = cell->layer + (under ? -5 : 5);
            a->nudge = cell->nudge;
            recur_draw_edge_add(s, M, A, DRAW_E_ATTENTION, 0, "");
            if (under) recur_draw_edge_add(s, A, I, DRAW_E_DATA, 0, "");
            else recur_draw_edge_add(s, I, A, DRAW_E_DATA, 0, "");
        }
    }
    /* Luong: what the cells passed up (their outputs) leaves from the attention box. */
    for (int e = 0; e < s->n_edges; e++) {
        draw_edge *d = &s->edges[e];
        const draw_item *from = &s->items[d->from], *to = &s->items[d->to];
        int above = to->kind == DRAW_OUTPUT || to->kind == DRAW_JOIN || to->kind == DRAW_LOSS ||
                    (to->kind == DRAW_CELL && to->level > from->level);
        if (from->kind != DRAW_CELL || from->loop < 0 || before[from->loop] != 1 || !above || d->kind == DRAW_E_INVIS)
            continue;
        int A = recur_draw_item_find(s, DRAW_ATTN, from->loop, from->b);
        if (A >= 0) d->from = A;
    }
    free(before);
}
