/*
 * draw/draw_gates.c — the "cell internals" level: a cell drawn as the
 * textbooks draw an LSTM or a GRU, from its graph.
 *
 *   folded    an affine map of the cell's inputs, states and weights (the
 *             op list's AFFINE ops: W x + U h + b, a slice of it) is not
 *             drawn: its edges pass through it into the box it feeds; a
 *             sum or difference folds when all its operands are such (not
 *             f c + i g), another affine op (a product with a weight) when
 *             at most one operand is drawn (U (f h)); unless the cell named
 *             it (recur_name: "MLP x"), which draws it as a box of that name;
 *   glyphs    a product, sum or 1 - z of anything else is a small circle
 *             with its symbol (x, +, 1-);
 *   gates     a sigmoid is a gate, named by what it gates (unless the cell
 *             named it with recur_name):
 *               update  it is used both as z and as 1 - z (a GRU's z);
 *               forget  it scales a state, and the product reaches the next
 *                       state through sums alone (c' = f c + ...);
 *               reset   it scales a state, or an affine map of one, and the
 *                       product passes a nonlinearity first (tanh(... r h));
 *               output  it scales the squashed new state (h' = o tanh(c'));
 *               input   it scales another squashed value (i tanh(g));
 *   the state line: the sums and products leading from a state to its next
 *   value (the LSTM's cell-state line, the GRU's h) are drawn in one row.
 */
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "ops/op.h"

/* A leaf of a cell's arithmetic: a weight, a constant, a fed input, a step or a state placeholder. */
static int leafish(const recur_node *n)
{
    return recur_op_has(n->op, RECUR_OPP_LEAF) || n->op == RECUR_OP_LOOP_STEP || n->op == RECUR_OP_LOOP_STATE;
}

recur_status recur_draw_fold(draw_ctx *c)
{
    const recur_graph *g = c->g;
    c->folded = calloc((size_t)c->n + 1, 1);
    c->line = calloc((size_t)c->n + 1, 1);
    if (!c->folded || !c->line) return RECUR_ERR_NOMEM;
    /* Operands come before their users: one pass in id order. */
    for (int32_t v = 0; v < c->n; v++) {
        const recur_node *n = &g->nodes[v];
        /* A value the cell named is shown, affine or not ("MLP x"). */
        if (n->removed || !recur_op_has(n->op, RECUR_OPP_AFFINE) || n->op == RECUR_OP_LOOP_OUTPUT ||
            (n->loop && recur_draw_user_name(g, v)))
            continue;
        /* An op with a symbol of its own (+, -, 1-) folds when all its operands do (W x + U h, not f c + i g);
         * another (a product with a weight, a slice) when at most one operand is drawn (U (f h)). */
        int drawn = 0;
        for (int k = 0; k < n->n_in; k++) drawn += !c->folded[n->in[k]] && !leafish(&g->nodes[n->in[k]]);
        c->folded[v] = (char)(n->n_in > 0 && (recur_op_props_of(n->op)->glyph ? drawn == 0 : drawn <= 1));
    }
    /* The state lines: from each state through sums and products to its next value. */
    for (int li = 0; li < g->n_loops; li++) {
        const recur_loop_rec *L = &g->loops[li];
        for (int k = 0; k < L->n_state && k < 120; k++) {
            int32_t v = L->state[k], next = L->next[k];
            for (int hops = 0; v != next && hops < 16; hops++) {
                int32_t step = -1;
                for (int32_t u = L->first; u < L->last && step < 0; u++) {
                    const recur_node *n = &g->nodes[u];
                    if (n->removed || c->folded[u] || (n->op != RECUR_OP_MUL && n->op != RECUR_OP_ADD && n->op != RECUR_OP_SUB))
                        continue;
                    for (int i = 0; i < n->n_in; i++)
                        if (n->in[i] == v && recur_draw_reaches(c, li, u, next, 1)) step = u;
                }
                if (step < 0) break;
                c->line[step] = (char)(k + 1);
                v = step;
            }
            if (v == next) c->line[L->state[k]] = (char)(k + 1);
        }
    }
    return RECUR_OK;
}

int recur_draw_reaches(const draw_ctx *c, int li, int32_t from, int32_t to, int sums_only)
{
    const recur_graph *g = c->g;
    const recur_loop_rec *L = &g->loops[li];
    if (from == to) return 1;
    /* Body nodes follow their operands: a forward sweep marks what `from` reaches. */
    int n = L->last - L->first;
    char *seen = calloc((size_t)n + 1, 1);
    if (!seen || from < L->first || from >= L->last) {
        free(seen);
        return 0;
    }
    seen[from - L->first] = 1;
    int found = 0;
    for (int32_t u = from + 1; u < L->last && !found; u++) {
        const recur_node *x = &g->nodes[u];
        if (x->removed) continue;
        int reached = 0;
        for (int i = 0; i < x->n_in && !reached; i++)
            reached = x->in[i] >= L->first && x->in[i] < L->last && seen[x->in[i] - L->first];
        if (!reached) continue;
        if (u == to) found = 1;
        /* Through sums and products only, or through anything. */
        if (!sums_only || recur_op_has(x->op, RECUR_OPP_AFFINE) || x->op == RECUR_OP_MUL) seen[u - L->first] = 1;
    }
    free(seen);
    return found;
}

/* 1 if node v is a state of loop li, or an affine map of one (W_hn h + b_hn). */
static int of_state(const draw_ctx *c, int li, int32_t v)
{
    const recur_graph *g = c->g;
    const recur_node *n = &g->nodes[v];
    if (n->op == RECUR_OP_LOOP_STATE) return n->loop == li + 1;
    if (!c->folded[v]) return 0;
    for (int k = 0; k < n->n_in; k++)
        if (of_state(c, li, n->in[k])) return 1;
    return 0;
}

/* 1 if v is a next state of loop li. */
static int is_next(const recur_loop_rec *L, int32_t v)
{
    for (int k = 0; k < L->n_state; k++)
        if (L->next[k] == v) return 1;
    return 0;
}

const char *recur_draw_gate(const draw_ctx *c, int32_t id, char *letter)
{
    const recur_graph *g = c->g;
    const recur_node *n = &g->nodes[id];
    *letter = '\0';
    if (n->op != RECUR_OP_SIGMOID || !n->loop || !c->folded) return NULL;
    int li = n->loop - 1;
    const recur_loop_rec *L = &g->loops[li];
    int one_minus = 0, scales_state = 0, reset = 0, output = 0, input = 0;
    for (int32_t u = id + 1; u < L->last; u++) {
        const recur_node *m = &g->nodes[u];
        if (m->removed) continue;
        int uses = 0, other = -1;
        for (int k = 0; k < m->n_in; k++) {
            if (m->in[k] == id) uses = 1;
            else other = m->in[k];
        }
        if (!uses) continue;
        if (m->op == RECUR_OP_ONE_MINUS) one_minus = 1;
        if (m->op != RECUR_OP_MUL || other < 0) continue;
        const recur_node *o = &g->nodes[other];
        if (of_state(c, li, other)) {
            int through_sums = 0;
            for (int k = 0; k < L->n_state && !through_sums; k++) through_sums = recur_draw_reaches(c, li, u, L->next[k], 1);
            if (through_sums) scales_state = 1;
            else reset = 1;
        } else if (o->op == RECUR_OP_TANH) {
            if (is_next(L, o->in[0])) output = 1;
            else input = 1;
        }
    }
    if (one_minus) return *letter = 'z', "update gate";
    if (scales_state) return *letter = 'f', "forget gate";
    if (reset) return *letter = 'r', "reset gate";
    if (output) return *letter = 'o', "output gate";
    if (input) return *letter = 'i', "input gate";
    return NULL;
}

void recur_draw_internals_label(const draw_ctx *c, int32_t id, char *buf, size_t len)
{
    const recur_node *n = &c->g->nodes[id];
    const char *glyph = recur_op_props_of(n->op)->glyph, *name = recur_draw_user_name(c->g, id);
    char letter;
    const char *gate = recur_draw_gate(c, id, &letter);
    const char *symbol = glyph ? glyph : recur_op(n->op)->name;
    if (n->op == RECUR_OP_LOOP_STEP) { /* the step of its sequence, "x[t]" unless named (as the equations say) */
        const char *seq = recur_draw_user_name(c->g, c->g->loops[n->loop - 1].seq[n->attr.i[1]]);
        snprintf(buf, len, "%s[t]", seq ? seq : "x");
    } else if (n->op == RECUR_OP_LOOP_STATE || recur_op_has(n->op, RECUR_OPP_LEAF)) {
        recur_draw_op_label(c, id, buf, len);
    } else if (name && recur_op_has(n->op, RECUR_OPP_AFFINE)) { /* a named affine map: its name says it all */
        snprintf(buf, len, "%s", name);
    } else if (name) {
        snprintf(buf, len, "%s\n%s", symbol, name);
    } else if (gate) {
        snprintf(buf, len, "%s\n%s", symbol, gate);
    } else {
        snprintf(buf, len, "%s", symbol);
    }
}

int recur_draw_is_glyph(const draw_ctx *c, int32_t id)
{
    const recur_node *n = &c->g->nodes[id];
    return !c->folded[id] && recur_draw_user_name(c->g, id) == NULL &&
           (n->op == RECUR_OP_MUL || n->op == RECUR_OP_ADD || n->op == RECUR_OP_SUB || n->op == RECUR_OP_ONE_MINUS);
}
