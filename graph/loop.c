/*
 * graph/loop.c — building loops: opening one, declaring its sequence inputs
 * and carried states, closing the states, ending the body, and taking its
 * stacked outputs and final states into the outer graph.
 *
 * The body lives in the same node array as the outer graph; its nodes carry
 * loop = 1 + the loop's index. A node joins the body when one of its
 * operands is in the body (recur_loop_tag), so loop-invariant work done
 * while the loop is open stays outside it.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "ops/op.h"
#include "recur/loop.h"

#define INVALID_LOOP ((recur_loop){-1})

static void loop_rec_release(recur_loop_rec *L)
{
    free(L->name);
    free(L->seq), free(L->step);
    free(L->init), free(L->state), free(L->next);
    free(L->copies);
    free(L->hoisted);
    memset(L, 0, sizeof *L);
}

void recur_loops_free(recur_graph *g)
{
    while (g->n_loops > 0) loop_rec_release(&g->loops[--g->n_loops]);
    free(g->loops);
    g->loops = NULL;
    g->n_loops = 0;
}

void recur_loop_discard(recur_graph *g, recur_loop l, int n0)
{
    if (!g || l.id < 0 || l.id != g->n_loops - 1) return;
    recur_loop_rec *L = &g->loops[l.id];
    if (n0 > L->first) n0 = L->first;
    loop_rec_release(L);
    g->n_loops--;
    if (g->open_loop == l.id + 1) g->open_loop = 0;
    recur_graph_truncate(g, n0);
}

recur_status recur_graph_rollback(recur_graph *g, int size)
{
    if (!g) return RECUR_ERR_ARG;
    if (size < 0 || size > g->n)
        return recur_set_error(g, RECUR_ERR_ARG, "graph_rollback: size %d is not in 0..%d (the graph's size)", size, g->n);
    for (int li = 0; li < g->n_loops; li++) {
        const recur_loop_rec *L = &g->loops[li];
        if (!L->unrolled || L->first >= size) continue;
        for (int64_t i = 0; i < L->T * (L->last - L->first); i++)
            if (L->copies[i] >= size)
                return recur_set_error(g, RECUR_ERR_STATE,
                                       "graph_rollback: loop \"%s\" was unrolled after the graph had %d nodes; its copies "
                                       "cannot be dropped", L->name, size);
    }
    while (g->n_loops > 0 && g->loops[g->n_loops - 1].first >= size)
        recur_loop_discard(g, (recur_loop){g->n_loops - 1}, size);
    recur_graph_truncate(g, size);
    return RECUR_OK;
}

/* The record of loop l, or NULL with an error naming the call. */
static recur_loop_rec *loop_of(recur_graph *g, recur_loop l, const char *who)
{
    if (!g) return NULL;
    if (l.id < 0 || l.id >= g->n_loops) {
        recur_set_error(g, RECUR_ERR_VALUE, "%s: loop %d does not exist (an earlier recur_loop_begin failed?)", who,
                        l.id);
        return NULL;
    }
    return &g->loops[l.id];
}

/* The record of loop l if it is open, else NULL with an error. */
static recur_loop_rec *open_loop_of(recur_graph *g, recur_loop l, const char *who)
{
    recur_loop_rec *L = loop_of(g, l, who);
    if (L && !L->open) {
        recur_set_error(g, RECUR_ERR_STATE, "%s: loop \"%s\" is already ended", who, L->name);
        return NULL;
    }
    return L;
}

recur_status recur_loop_tag(recur_graph *g, recur_node *n)
{
    for (int k = 0; k < n->n_in; k++) {
        const recur_node *in = &g->nodes[n->in[k]];
        if (!in->loop) continue;
        if (in->loop != g->open_loop) {
            const char *opname = recur_op(n->op)->name;
            return recur_set_error(g, RECUR_ERR_STATE,
                                   "op %s (new node %s#%d): operand \"%s\" belongs to the body of loop \"%s\", which is "
                                   "ended; use recur_loop_stacked or recur_loop_final to use its values outside it",
                                   opname, opname, g->n, recur_node_name(g, n->in[k]),
                                   g->loops[in->loop - 1].name);
        }
        n->loop = in->loop;
    }
    return RECUR_OK;
}

/* Appends x to a growable int32 array of `count` entries. */
static int push(int32_t **arr, int count, int32_t x)
{
    int32_t *a = realloc(*arr, sizeof(int32_t) * (size_t)(count + 1));
    if (!a) return 0;
    a[count] = x;
    *arr = a;
    return 1;
}

recur_loop recur_loop_begin(recur_graph *g, const char *name, int reverse)
{
    if (!g) return INVALID_LOOP;
    if (g->open_loop) {
        recur_set_error(g, RECUR_ERR_STATE, "loop_begin: loop \"%s\" is still open (loops do not nest; end it first)",
                        g->loops[g->open_loop - 1].name);
        return INVALID_LOOP;
    }
    char auto_name[32];
    if (!name || !*name) {
        snprintf(auto_name, sizeof auto_name, "loop%d", g->n_loops);
        name = auto_name;
    }
    for (int i = 0; i < g->n_loops; i++)
        if (strcmp(g->loops[i].name, name) == 0) {
            recur_set_error(g, RECUR_ERR_ARG, "loop_begin: a loop named \"%s\" already exists", name);
            return INVALID_LOOP;
        }
    recur_loop_rec *loops = realloc(g->loops, sizeof *loops * (size_t)(g->n_loops + 1));
    if (!loops) {
        recur_set_error(g, RECUR_ERR_NOMEM, "loop_begin: out of memory");
        return INVALID_LOOP;
    }
    g->loops = loops;
    recur_loop_rec *L = &loops[g->n_loops];
    memset(L, 0, sizeof *L);
    L->name = strdup(name);
    if (!L->name) {
        recur_set_error(g, RECUR_ERR_NOMEM, "loop_begin: out of memory");
        return INVALID_LOOP;
    }
    L->reverse = reverse != 0;
    L->open = 1;
    L->node = -1;
    L->lengths = L->mask_seq = L->mask = -1;
    L->first = g->n;
    g->open_loop = ++g->n_loops;
    return (recur_loop){g->n_loops - 1};
}

/* Adds a body placeholder (op LOOP_STEP or LOOP_STATE) of loop l. */
static recur_value placeholder(recur_graph *g, recur_loop l, int op, int index, recur_shape shape, const char *name)
{
    recur_attr attr = {.i = {l.id, index}, .target = shape};
    recur_value v = recur_node_add(g, op, 0, NULL, &attr);
    if (!recur_ok(v)) return v;
    g->nodes[v.id].loop = l.id + 1;
    if (name && recur_set_name(g, v, name) != RECUR_OK) {
        recur_graph_truncate(g, v.id);
        return RECUR_NONE;
    }
    return v;
}

recur_value recur_loop_input(recur_graph *g, recur_loop l, recur_value seq)
{
    recur_loop_rec *L = open_loop_of(g, l, "loop_input");
    recur_node *s = L ? recur_operand(g, seq, "loop_input") : NULL;
    if (!s) return RECUR_NONE;
    char shp[64];
    if (s->loop) {
        recur_set_error(g, RECUR_ERR_STATE, "loop_input: sequence \"%s\" of loop \"%s\" is a body value, not a value of the outer graph",
                        recur_node_name(g, seq.id), L->name);
        return RECUR_NONE;
    }
    if (s->shape.ndim < 1) {
        recur_set_error(g, RECUR_ERR_SHAPE, "loop_input: sequence \"%s\" of loop \"%s\" is a scalar; a sequence is [T, ...]",
                        recur_node_name(g, seq.id), L->name);
        return RECUR_NONE;
    }
    if (L->n_seq > 0 && s->shape.d[0] != L->T) {
        recur_set_error(g, RECUR_ERR_SHAPE,
                        "loop_input: sequence \"%s\" %s of loop \"%s\" has %lld steps but \"%s\" has %lld",
                        recur_node_name(g, seq.id), recur_shape_str(s->shape, shp, sizeof shp), L->name,
                        (long long)s->shape.d[0], recur_node_name(g, L->seq[0]), (long long)L->T);
        return RECUR_NONE;
    }
    recur_shape step = {s->shape.ndim - 1, {0}};
    for (int i = 1; i < s->shape.ndim; i++) step.d[i - 1] = s->shape.d[i];
    int64_t T = s->shape.d[0];
    char name[160];
    snprintf(name, sizeof name, "%s[t]", recur_node_name(g, seq.id));
    recur_value v = placeholder(g, l, RECUR_OP_LOOP_STEP, L->n_seq, step, name);
    if (!recur_ok(v)) return v;
    L = &g->loops[l.id];
    if (!push(&L->seq, L->n_seq, seq.id) || !push(&L->step, L->n_seq, v.id)) {
        recur_graph_truncate(g, v.id);
        recur_set_error(g, RECUR_ERR_NOMEM, "loop_input: out of memory");
        return RECUR_NONE;
    }
    L->n_seq++;
    L->T = T;
    return v;
}

recur_value recur_loop_state(recur_graph *g, recur_loop l, const char *name, recur_value init)
{
    recur_loop_rec *L = open_loop_of(g, l, "loop_state");
    recur_node *i = L ? recur_operand(g, init, "loop_state") : NULL;
    if (!i) return RECUR_NONE;
    if (i->loop) {
        recur_set_error(g, RECUR_ERR_STATE,
                        "loop_state: initial value \"%s\" of loop \"%s\" is a body value, not a value of the outer graph",
                        recur_node_name(g, init.id), L->name);
        return RECUR_NONE;
    }
    char auto_name[160];
    if (!name || !*name) {
        snprintf(auto_name, sizeof auto_name, "%s.state%d", L->name, L->n_state);
        name = auto_name;
    }
    for (int k = 0; k < L->n_state; k++)
        if (strcmp(recur_node_name(g, L->state[k]), name) == 0) {
            recur_set_error(g, RECUR_ERR_ARG, "loop_state: loop \"%s\" has a state named \"%s\" already", L->name, name);
            return RECUR_NONE;
        }
    recur_value v = placeholder(g, l, RECUR_OP_LOOP_STATE, L->n_state, i->shape, name);
    if (!recur_ok(v)) return v;
    L = &g->loops[l.id];
    if (!push(&L->init, L->n_state, init.id) || !push(&L->state, L->n_state, v.id) ||
        !push(&L->next, L->n_state, -1)) {
        recur_graph_truncate(g, v.id);
        recur_set_error(g, RECUR_ERR_NOMEM, "loop_state: out of memory");
        return RECUR_NONE;
    }
    L->n_state++;
    return v;
}

/* Index of state placeholder `state` in L, or -1. */
static int state_index(const recur_loop_rec *L, recur_value state)
{
    for (int k = 0; k < L->n_state; k++)
        if (L->state[k] == state.id) return k;
    return -1;
}

recur_status recur_loop_next(recur_graph *g, recur_loop l, recur_value state, recur_value next)
{
    recur_loop_rec *L = open_loop_of(g, l, "loop_next");
    if (!L) return g ? g->error.code : RECUR_ERR_ARG;
    recur_node *nx = recur_operand(g, next, "loop_next");
    if (!nx) return g->error.code;
    int k = state_index(L, state);
    if (k < 0)
        return recur_set_error(g, RECUR_ERR_VALUE, "loop_next: value %d is not a state of loop \"%s\"", state.id,
                               L->name);
    char a[64], b[64];
    if (L->next[k] >= 0)
        return recur_set_error(g, RECUR_ERR_STATE, "loop_next: state \"%s\" of loop \"%s\" is closed already (with \"%s\")",
                               recur_node_name(g, state.id), L->name, recur_node_name(g, L->next[k]));
    if (!recur_shape_equal(nx->shape, g->nodes[state.id].shape))
        return recur_set_error(g, RECUR_ERR_SHAPE, "loop_next: state \"%s\" %s of loop \"%s\" closed with \"%s\" %s",
                               recur_node_name(g, state.id), recur_shape_str(g->nodes[state.id].shape, a, sizeof a),
                               L->name, recur_node_name(g, next.id), recur_shape_str(nx->shape, b, sizeof b));
    if (nx->loop && nx->loop != l.id + 1)
        return recur_set_error(g, RECUR_ERR_STATE, "loop_next: \"%s\" belongs to another loop's body",
                               recur_node_name(g, next.id));
    L->next[k] = next.id;
    return RECUR_OK;
}

recur_status recur_loop_lengths(recur_graph *g, recur_loop l, recur_value lengths)
{
    recur_loop_rec *L = open_loop_of(g, l, "loop_lengths");
    if (!L) return g ? g->error.code : RECUR_ERR_ARG;
    recur_node *n = recur_operand(g, lengths, "loop_lengths");
    if (!n) return g->error.code;
    char a[64], b[64];
    if (n->loop)
        return recur_set_error(g, RECUR_ERR_STATE, "loop_lengths: lengths \"%s\" of loop \"%s\" is a body value",
                               recur_node_name(g, lengths.id), L->name);
    if (L->lengths >= 0)
        return recur_set_error(g, RECUR_ERR_STATE, "loop_lengths: loop \"%s\" has lengths already (\"%s\")", L->name,
                               recur_node_name(g, L->lengths));
    if (L->n_seq == 0)
        return recur_set_error(g, RECUR_ERR_STATE,
                               "loop_lengths: loop \"%s\" has no sequence input yet: declare one first (recur_loop_input)",
                               L->name);
    if (n->shape.ndim != 1)
        return recur_set_error(g, RECUR_ERR_SHAPE, "loop_lengths: lengths \"%s\" %s of loop \"%s\" must be a vector [B]",
                               recur_node_name(g, lengths.id), recur_shape_str(n->shape, a, sizeof a), L->name);
    int64_t B = n->shape.d[0], T = L->T;
    for (int k = 0; k < L->n_seq; k++) {
        recur_shape s = g->nodes[L->seq[k]].shape;
        if (s.ndim >= 2 && s.d[1] != B)
            return recur_set_error(g, RECUR_ERR_SHAPE,
                                   "loop_lengths: lengths \"%s\" %s of loop \"%s\" give %lld sequences, but sequence "
                                   "\"%s\" %s has a batch of %lld",
                                   recur_node_name(g, lengths.id), recur_shape_str(n->shape, a, sizeof a), L->name,
                                   (long long)B, recur_node_name(g, L->seq[k]), recur_shape_str(s, b, sizeof b),
                                   (long long)s.d[1]);
    }
    /* The mask of the real steps [T, B] (checking the lengths when it runs), read step by step as [B, 1]. */
    const int n0 = g->n;
    char name[200];
    recur_value mask = recur_length_mask(g, lengths, T);
    snprintf(name, sizeof name, "%s.lengths", L->name);
    if (recur_ok(mask) && recur_set_name(g, mask, name) != RECUR_OK) mask = RECUR_NONE;
    recur_value seq = recur_ok(mask) ? recur_reshape(g, mask, recur_shape3(T, B, 1)) : RECUR_NONE;
    recur_value step = recur_ok(seq) ? recur_loop_input(g, l, seq) : RECUR_NONE;
    if (!recur_ok(step)) {
        recur_status st = g->error.code;
        L = &g->loops[l.id];
        if (L->n_seq > 0 && L->step[L->n_seq - 1] >= n0) L->n_seq--; /* the mask's input, if it was declared */
        recur_graph_truncate(g, n0);
        return st;
    }
    L = &g->loops[l.id];
    L->lengths = lengths.id;
    L->mask_seq = seq.id;
    L->mask = step.id;
    return RECUR_OK;
}

/* v [B, ...] times the step mask m [B, 1] reshaped to v's rank ([B] or [B, 1, ..., 1]). */
static recur_value masked(recur_graph *g, recur_value m, recur_value v)
{
    recur_shape s = recur_value_shape(g, v), ms = {s.ndim, {0}};
    ms.d[0] = s.ndim >= 1 ? s.d[0] : 1;
    for (int d = 1; d < s.ndim; d++) ms.d[d] = 1;
    return recur_mul(g, s.ndim == 2 ? m : recur_reshape(g, m, ms), v);
}

/*
 * With lengths, each state is held past its sequence's last step:
 *   s_{t+1} = m_t next_t + (1 - m_t) s_t,   m_t[b] = (t < lengths[b])
 * (a reverse loop, walking t down from T - 1, holds its initial state until
 * the sequence's last step). Builds the held value of every state in the
 * body and closes the states with it.
 */
static recur_status hold_states(recur_graph *g, recur_loop l)
{
    recur_loop_rec *L = &g->loops[l.id];
    recur_value m = {L->mask};
    for (int k = 0; k < L->n_state; k++) {
        L = &g->loops[l.id];
        recur_value state = {L->state[k]}, next = {L->next[k]};
        recur_shape s = g->nodes[state.id].shape;
        if (s.ndim < 1 || s.d[0] != g->nodes[m.id].shape.d[0]) {
            char a[64];
            return recur_set_error(g, RECUR_ERR_SHAPE,
                                   "loop_end: state \"%s\" %s of loop \"%s\" has no batch of %lld sequences to hold by "
                                   "the lengths",
                                   recur_node_name(g, state.id), recur_shape_str(s, a, sizeof a), L->name,
                                   (long long)g->nodes[m.id].shape.d[0]);
        }
        recur_value held = recur_add(g, masked(g, m, next), recur_sub(g, state, masked(g, m, state)));
        if (!recur_ok(held)) return g->error.code;
        g->loops[l.id].next[k] = held.id;
    }
    return RECUR_OK;
}

recur_status recur_loop_end(recur_graph *g, recur_loop l)
{
    recur_loop_rec *L = open_loop_of(g, l, "loop_end");
    if (!L) return g ? g->error.code : RECUR_ERR_ARG;
    if (L->n_seq == 0)
        return recur_set_error(g, RECUR_ERR_STATE, "loop_end: loop \"%s\" has no sequence input (recur_loop_input)",
                               L->name);
    for (int k = 0; k < L->n_state; k++)
        if (L->next[k] < 0)
            return recur_set_error(g, RECUR_ERR_STATE,
                                   "loop_end: state \"%s\" of loop \"%s\" was never closed with recur_loop_next",
                                   recur_node_name(g, L->state[k]), L->name);
    if (L->lengths >= 0 && !L->held) {
        const int n0 = g->n;
        recur_status st = hold_states(g, l);
        if (st != RECUR_OK) {
            recur_graph_truncate(g, n0);
            return st;
        }
        L = &g->loops[l.id];
        L->held = 1;
    }
    /* The loop node's inputs: sequences, initial states, and every outer value the body uses. */
    int n_in = 0, cap = L->n_seq + L->n_state + 16;
    recur_value *in = malloc(sizeof *in * (size_t)cap);
    char *seen = calloc((size_t)g->n + 1, 1);
    if (!in || !seen) {
        free(in);
        free(seen);
        return recur_set_error(g, RECUR_ERR_NOMEM, "loop_end: out of memory");
    }
    for (int k = 0; k < L->n_seq; k++) in[n_in++] = (recur_value){L->seq[k]};
    for (int k = 0; k < L->n_state; k++) in[n_in++] = (recur_value){L->init[k]};
    for (int k = 0; k < L->n_state; k++)
        if (!g->nodes[L->next[k]].loop && !seen[L->next[k]]) { /* a state closed with an outer value */
            seen[L->next[k]] = 1;
            in[n_in++] = (recur_value){L->next[k]};
        }
    for (int id = L->first; id < g->n; id++) {
        const recur_node *n = &g->nodes[id];
        if (n->loop != l.id + 1) continue;
        for (int k = 0; k < n->n_in; k++) {
            int32_t src = n->in[k];
            if (g->nodes[src].loop || seen[src]) continue;
            seen[src] = 1;
            if (n_in == cap) {
                recur_value *grown = realloc(in, sizeof *in * (size_t)(cap *= 2));
                if (!grown) {
                    free(in);
                    free(seen);
                    return recur_set_error(g, RECUR_ERR_NOMEM, "loop_end: out of memory");
                }
                in = grown;
            }
            in[n_in++] = (recur_value){src};
        }
    }
    free(seen);
    int last = g->n;
    g->open_loop = 0; /* the loop node itself is an outer node */
    recur_attr attr = {.i = {l.id}, .target = recur_shape0()};
    recur_value node = recur_node_add(g, RECUR_OP_LOOP, n_in, in, &attr);
    free(in);
    if (!recur_ok(node)) {
        g->open_loop = l.id + 1;
        return g->error.code;
    }
    L = &g->loops[l.id];
    L->node = node.id;
    L->last = last;
    L->open = 0;
    if (recur_set_name(g, node, L->name) != RECUR_OK) recur_clear_error(g); /* the name may be taken: keep loop#id */
    return RECUR_OK;
}

/* A loop output node (stacked or final) of an ended loop. */
static recur_value loop_output(recur_graph *g, recur_loop l, recur_value v, int final, const char *who)
{
    recur_loop_rec *L = loop_of(g, l, who);
    recur_node *n = L ? recur_operand(g, v, who) : NULL;
    if (!n) return RECUR_NONE;
    if (L->open) {
        recur_set_error(g, RECUR_ERR_STATE, "%s: loop \"%s\" must be ended first (recur_loop_end)", who, L->name);
        return RECUR_NONE;
    }
    if (final && state_index(L, v) < 0) {
        recur_set_error(g, RECUR_ERR_VALUE, "%s: \"%s\" is not a state of loop \"%s\"", who, recur_node_name(g, v.id),
                        L->name);
        return RECUR_NONE;
    }
    if (!final && n->loop != l.id + 1) {
        recur_set_error(g, RECUR_ERR_VALUE, "%s: \"%s\" is not a value of the body of loop \"%s\"", who,
                        recur_node_name(g, v.id), L->name);
        return RECUR_NONE;
    }
    recur_shape s = n->shape;
    if (!final) {
        if (s.ndim == RECUR_MAX_DIMS) {
            char shp[64];
            recur_set_error(g, RECUR_ERR_SHAPE, "%s: \"%s\" %s has %d dimensions already; stacking adds one", who,
                            recur_node_name(g, v.id), recur_shape_str(s, shp, sizeof shp), RECUR_MAX_DIMS);
            return RECUR_NONE;
        }
        for (int i = s.ndim; i > 0; i--) s.d[i] = s.d[i - 1];
        s.d[0] = L->T;
        s.ndim++;
    }
    recur_attr attr = {.i = {l.id, final, v.id}, .target = s};
    recur_value loopnode = {L->node};
    recur_value out = recur_node_add(g, RECUR_OP_LOOP_OUTPUT, 1, &loopnode, &attr);
    if (recur_ok(out) && L->unrolled) {
        /* Asked for after unrolling: alias the unrolled result at once. */
        recur_status st = recur_loop_output_unrolled(g, out);
        if (st != RECUR_OK) {
            recur_graph_truncate(g, out.id);
            return RECUR_NONE;
        }
    }
    return out;
}

recur_value recur_loop_stacked(recur_graph *g, recur_loop l, recur_value per_step)
{
    recur_value out = loop_output(g, l, per_step, 0, "loop_stacked");
    if (!recur_ok(out) || g->loops[l.id].mask_seq < 0) return out;
    /* With lengths, the steps past each sequence's end are zero: out * mask, the mask [T, B, 1, ...]. */
    const recur_loop_rec *L = &g->loops[l.id];
    recur_shape s = g->nodes[out.id].shape, ms = {s.ndim, {0}};
    int64_t B = g->nodes[L->mask_seq].shape.d[1];
    if (s.ndim < 2 || s.d[1] != B) return out; /* not a value per sequence: nothing to mask */
    ms.d[0] = s.d[0], ms.d[1] = B;
    for (int d = 2; d < s.ndim; d++) ms.d[d] = 1;
    recur_value mask = {L->mask_seq};
    if (s.ndim != 3) mask = recur_reshape(g, mask, ms);
    recur_value y = recur_mul(g, out, mask);
    if (!recur_ok(y)) recur_graph_truncate(g, out.id);
    return y;
}

recur_value recur_loop_final(recur_graph *g, recur_loop l, recur_value state)
{
    return loop_output(g, l, state, 1, "loop_final");
}

int recur_loop_count(const recur_graph *g) { return g ? g->n_loops : 0; }

recur_loop recur_loop_at(const recur_graph *g, int i)
{
    return g && i >= 0 && i < g->n_loops ? (recur_loop){i} : INVALID_LOOP;
}

const char *recur_loop_name(const recur_graph *g, recur_loop l)
{
    return g && l.id >= 0 && l.id < g->n_loops ? g->loops[l.id].name : NULL;
}

int64_t recur_loop_length(const recur_graph *g, recur_loop l)
{
    return g && l.id >= 0 && l.id < g->n_loops ? g->loops[l.id].T : 0;
}

int recur_loop_is_reverse(const recur_graph *g, recur_loop l)
{
    return g && l.id >= 0 && l.id < g->n_loops ? g->loops[l.id].reverse : 0;
}

recur_loop recur_value_loop(const recur_graph *g, recur_value v)
{
    const recur_node *n = recur_node_of(g, v);
    return n && n->loop > 0 ? (recur_loop){n->loop - 1} : INVALID_LOOP;
}

recur_status recur_loop_output_unrolled(recur_graph *g, recur_value out)
{
    const recur_node *n = &g->nodes[out.id];
    int li = (int)n->attr.i[0], final = (int)n->attr.i[1];
    int32_t v = (int32_t)n->attr.i[2];
    recur_loop_rec *L = &g->loops[li];
    recur_value result;
    if (final) {
        int k = 0;
        while (k < L->n_state && L->state[k] != v) k++;
        result = (recur_value){recur_loop_copy_at(g, L, L->next[k], recur_loop_time_of(L, L->T - 1))};
    } else if (g->nodes[v].loop && L->hoisted && L->hoisted[v - L->first] >= 0) {
        result = (recur_value){L->hoisted[v - L->first]}; /* already [T, ...] */
    } else {
        recur_value *steps = malloc(sizeof *steps * (size_t)L->T);
        if (!steps) return recur_set_error(g, RECUR_ERR_NOMEM, "unroll: out of memory");
        for (int64_t t = 0; t < L->T; t++) steps[t] = (recur_value){recur_loop_copy_at(g, L, v, t)};
        result = recur_stack(g, (int)L->T, steps, 0);
        free(steps);
        if (!recur_ok(result)) return g->error.code;
    }
    recur_node *o = &g->nodes[out.id];
    o->op = RECUR_OP_ALIAS;
    o->in[0] = result.id;
    memset(&o->attr, 0, sizeof o->attr);
    return RECUR_OK;
}

recur_value recur_loop_step_value(recur_graph *g, recur_loop l, recur_value v, int64_t t)
{
    if (!g) return RECUR_NONE;
    if (l.id < 0 || l.id >= g->n_loops) {
        recur_set_error(g, RECUR_ERR_VALUE, "loop_step_value: loop %d does not exist", l.id);
        return RECUR_NONE;
    }
    recur_loop_rec *L = &g->loops[l.id];
    recur_node *n = recur_operand(g, v, "loop_step_value");
    if (!n) return RECUR_NONE;
    if (!L->unrolled) {
        recur_set_error(g, RECUR_ERR_STATE, "loop_step_value: loop \"%s\" is not unrolled yet (recur_unroll)", L->name);
        return RECUR_NONE;
    }
    if (n->loop != l.id + 1 || t < 0 || t >= L->T) {
        recur_set_error(g, RECUR_ERR_ARG, "loop_step_value: \"%s\" at step %lld is not a body value of loop \"%s\" (T = %lld)",
                        recur_node_name(g, v.id), (long long)t, L->name, (long long)L->T);
        return RECUR_NONE;
    }
    int32_t c = recur_loop_copy_at(g, L, v.id, t);
    if (c < 0 && L->hoisted && L->hoisted[v.id - L->first] >= 0) {
        /* Hoisted and read by no step: its slice for step t is made on demand. */
        recur_value slice = recur_select_step(g, (recur_value){L->hoisted[v.id - L->first]}, t);
        if (!recur_ok(slice)) return slice;
        L = &g->loops[l.id];
        L->copies[t * (L->last - L->first) + (v.id - L->first)] = c = slice.id;
    }
    return (recur_value){c};
}
