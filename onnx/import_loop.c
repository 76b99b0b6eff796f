/*
 * onnx/import_loop.c — ONNX's Scan and Loop as recur loop nodes, and the
 * sequence ops of PyTorch's scripted loops.
 *
 * Scan(init states..., sequences...) with body (states, steps) ->
 * (next states, per-step outputs): the states become loop states, the
 * sequences loop inputs, the per-step outputs stacked loop outputs.
 *
 * Loop(M, cond, init states...) with body (i, cond, states) -> (cond,
 * next states, per-step outputs) runs as a recur loop when it is a loop
 * over a sequence: M is known at import (PyTorch's `range(x.size(0))`
 * folds to a constant), cond stays true, and the body reads the sequence
 * as Gather(x, i) along axis 0 (which becomes the loop's step input).
 * A scripted loop collects its per-step values as
 *   SequenceEmpty -> (carried through the loop) SequenceInsert(seq, h_t)
 *   -> ConcatFromSequence(new_axis=1)
 * which becomes the stacked output of h_t.
 *
 * A body's nodes are imported by the context's import_body (import.c's
 * node importer, reached through the pointer: see onnx_impl.h).
 */
#include <stdlib.h>
#include <string.h>

#include "onnx_impl.h"

/* The Loop or Scan body being imported. */
typedef struct recur_onnx_loop_scope {
    recur_loop L;
    int64_t T;           /* a Loop's trip count */
    int scope;           /* the symbol scope of its body */
    int n_inputs;        /* sequences read through Gather(x, i) */
    recur_value seq[64], step[64];
    struct recur_onnx_loop_scope *outer;
} recur_onnx_loop_scope;

static const char *name_or(const char *s, const char *def) { return s && s[0] ? s : def; }

/* The body's initializers, as constants of its scope. */
static recur_status body_initializers(recur_onnx_ctx *c, const onnx_graph *body)
{
    for (size_t i = 0; i < body->n_initializer; i++) {
        const onnx_tensor_proto *p = body->initializer[i];
        onnx_tensor t;
        recur_status st;
        if (!p || !p->name || !p->name[0]) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "a body initializer has no name");
        if ((st = recur_onnx_tensor_read(c, p, "a body initializer", &t)) != RECUR_OK) return st;
        if ((st = recur_onnx_def_const(c, p->name, &t, 0)) != RECUR_OK) return st;
    }
    return RECUR_OK;
}

static const char *body_in(const onnx_graph *b, size_t i) { return b->input[i] && b->input[i]->name ? b->input[i]->name : ""; }
static const char *body_out(const onnx_graph *b, size_t i) { return b->output[i] && b->output[i]->name ? b->output[i]->name : ""; }

/* A body output as a recur value of the body (or of the outer graph). */
static recur_status body_value(recur_onnx_ctx *c, const onnx_graph *b, size_t i, recur_value *v)
{
    onnx_sym *s = recur_onnx_sym(c, body_out(b, i));
    if (!s) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "body output \"%s\" is computed by no node", body_out(b, i));
    return recur_onnx_sym_value(c, s, v);
}

/* Opens the loop and its scope; the caller closes with leave(). */
static recur_status open_body(recur_onnx_ctx *c, const onnx_node *n, int reverse, recur_onnx_loop_scope *ls)
{
    memset(ls, 0, sizeof *ls);
    char name[256];
    snprintf(name, sizeof name, "%s", name_or(n->name, n->op_type));
    for (int k = 2;; k++) { /* loop names are unique: "name#2" for a second one */
        int taken = 0;
        for (int i = 0; i < recur_loop_count(c->g); i++) taken |= strcmp(recur_loop_name(c->g, recur_loop_at(c->g, i)), name) == 0;
        if (!taken) break;
        snprintf(name, sizeof name, "%s#%d", name_or(n->name, n->op_type), k);
    }
    ls->L = recur_loop_begin(c->g, name, reverse);
    if (ls->L.id < 0) return recur_onnx_fail_builder(c);
    ls->outer = c->loop;
    c->loop = ls;
    ls->scope = ++c->scope;
    return RECUR_OK;
}

static void leave(recur_onnx_ctx *c, recur_onnx_loop_scope *ls)
{
    recur_onnx_scope_drop(c, ls->scope);
    c->scope = ls->scope - 1;
    c->loop = ls->outer;
}

/* Reads the int list attribute `name` (absent: all zeros) of `count` entries; all must equal one value. */
static recur_status same_dirs(recur_onnx_ctx *c, const onnx_node *n, const char *name, int count, int64_t *value)
{
    const int64_t *v;
    int k;
    recur_status st = recur_onnx_attr_ints(c, n, name, &v, &k);
    *value = -1;
    if (st != RECUR_OK) return st;
    if (k >= 0 && k != count) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "%s has %d entries, not %d", name, k, count);
    for (int i = 0; i < count; i++) {
        int64_t x = k >= 0 ? v[i] : 0;
        if (*value >= 0 && x != *value)
            return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "%s mixes values (recur's loop walks all its sequences one "
                                   "way)", name);
        *value = x;
    }
    return RECUR_OK;
}

recur_status recur_onnx_import_scan(recur_onnx_ctx *c, const onnx_node *n)
{
    int64_t M, in_dir = 0, out_dir = 0, in_axis = 0, out_axis = 0;
    recur_status st;
    if (c->opset < 9) return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "Scan of op set 8 is not supported");
    const onnx_graph *b = recur_onnx_attr_graph(c, n, "body");
    if (!b) return recur_errcode(c->g);
    if ((st = recur_onnx_attr_int(c, n, "num_scan_inputs", -1, &M)) != RECUR_OK) return st;
    int64_t N = (int64_t)n->n_input - M, K = (int64_t)n->n_output - N;
    if (M < 1 || N < 0 || K < 0 || b->n_input != (size_t)(N + M) || b->n_output != (size_t)(N + K) || M > 64)
        return recur_onnx_fail(c, RECUR_ERR_FORMAT, "num_scan_inputs=%lld does not fit %zu inputs, %zu outputs and a "
                               "body of %zu inputs and %zu outputs (1 to 64 scan inputs are supported)", (long long)M,
                               n->n_input, n->n_output, b->n_input, b->n_output);
    if ((st = same_dirs(c, n, "scan_input_directions", (int)M, &in_dir)) != RECUR_OK ||
        (st = same_dirs(c, n, "scan_output_directions", (int)K, &out_dir)) != RECUR_OK ||
        (st = same_dirs(c, n, "scan_input_axes", (int)M, &in_axis)) != RECUR_OK ||
        (st = same_dirs(c, n, "scan_output_axes", (int)K, &out_axis)) != RECUR_OK)
        return st;
    if (in_axis > 0 || out_axis > 0)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "scan axes other than 0 are not supported");
    if (K > 0 && out_dir != in_dir)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "scan_output_directions differ from scan_input_directions "
                               "(a recur loop stacks its outputs in time order)");
    recur_value init[64], seqs[64], states[64], outs[128];
    if (N > 64 || K > 128) return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "more than 64 states or 128 scan outputs");
    for (int64_t i = 0; i < N; i++)
        if ((st = recur_onnx_in_value(c, n, (int)i, &init[i])) != RECUR_OK) return st;
    for (int64_t i = 0; i < M; i++)
        if ((st = recur_onnx_in_value(c, n, (int)(N + i), &seqs[i])) != RECUR_OK) return st;
    recur_onnx_loop_scope ls;
    if ((st = open_body(c, n, in_dir == 1, &ls)) != RECUR_OK) return st;
    for (int64_t i = 0; i < N && st == RECUR_OK; i++) {
        states[i] = recur_loop_state(c->g, ls.L, body_in(b, (size_t)i), init[i]);
        st = recur_onnx_def_value(c, body_in(b, (size_t)i), states[i], 0);
    }
    for (int64_t i = 0; i < M && st == RECUR_OK; i++)
        st = recur_onnx_def_value(c, body_in(b, (size_t)(N + i)), recur_loop_input(c->g, ls.L, seqs[i]), 0);
    if (st == RECUR_OK) st = body_initializers(c, b);
    if (st == RECUR_OK) st = c->import_body(c, b);
    for (int64_t i = 0; i < N + K && st == RECUR_OK; i++) {
        st = body_value(c, b, (size_t)i, &outs[i]);
        if (st == RECUR_OK && i < N && recur_loop_next(c->g, ls.L, states[i], outs[i]) != RECUR_OK)
            st = recur_onnx_fail_builder(c);
    }
    leave(c, &ls);
    if (st != RECUR_OK) return st;
    if (recur_loop_end(c->g, ls.L) != RECUR_OK) return recur_onnx_fail_builder(c);
    for (int64_t i = 0; i < N + K && st == RECUR_OK; i++) {
        recur_value y = i < N ? recur_loop_final(c->g, ls.L, states[i]) : recur_loop_stacked(c->g, ls.L, outs[i]);
        st = recur_onnx_out_value(c, n, (int)i, y, 0);
    }
    return st;
}

int recur_onnx_loop_gather(recur_onnx_ctx *c, const onnx_node *n, recur_status *st)
{
    const char *iname = recur_onnx_in_name(n, 1);
    onnx_sym *is = iname ? recur_onnx_sym(c, iname) : NULL;
    if (!is || is->kind != ONNX_SYM_ITER || !c->loop) return 0;
    recur_onnx_loop_scope *ls = c->loop;
    int64_t axis;
    recur_value x;
    if ((*st = recur_onnx_attr_int(c, n, "axis", 0, &axis)) != RECUR_OK) return 1;
    if (axis != 0) {
        *st = recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "the iteration number indexes axis %lld (only a sequence's first "
                              "axis, its time, is supported)", (long long)axis);
        return 1;
    }
    if ((*st = recur_onnx_in_value(c, n, 0, &x)) != RECUR_OK) return 1;
    recur_value step = RECUR_NONE;
    for (int k = 0; k < ls->n_inputs; k++)
        if (ls->seq[k].id == x.id) step = ls->step[k];
    if (!recur_ok(step)) {
        recur_shape s = recur_value_shape(c->g, x);
        if (s.ndim < 1 || s.d[0] != ls->T) {
            *st = recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "the loop runs %lld times but indexes a sequence of %lld "
                                  "steps", (long long)ls->T, (long long)(s.ndim ? s.d[0] : 0));
            return 1;
        }
        if (ls->n_inputs == 64) {
            *st = recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "more than 64 sequences");
            return 1;
        }
        step = recur_loop_input(c->g, ls->L, x);
        ls->seq[ls->n_inputs] = x;
        ls->step[ls->n_inputs++] = step;
    }
    *st = recur_onnx_out_value(c, n, 0, step, 0);
    return 1;
}

/*
 * 1 when the body's condition output is always true: the condition input passed through, or a constant true,
 * possibly through Identity nodes (as PyTorch writes it). Checked before the body is imported.
 */
static int cond_stays_true(recur_onnx_ctx *c, const onnx_graph *b)
{
    const char *name = body_out(b, 0);
    for (int hops = 0; hops < 64; hops++) {
        if (strcmp(name, body_in(b, 1)) == 0) return 1;
        const onnx_node *src = NULL;
        for (size_t i = 0; i < b->n_node && !src; i++)
            for (size_t k = 0; b->node[i] && k < b->node[i]->n_output; k++)
                if (b->node[i]->output[k] && strcmp(b->node[i]->output[k], name) == 0) src = b->node[i];
        if (!src) { /* an outer constant */
            onnx_sym *s = recur_onnx_sym(c, name);
            return s && s->kind == ONNX_SYM_CONST && s->t.numel == 1 && s->t.v[0] != 0;
        }
        if (src->op_type && strcmp(src->op_type, "Identity") == 0 && src->n_input == 1 && src->input[0]) {
            name = src->input[0];
            continue;
        }
        const onnx_attr *a = src->op_type && strcmp(src->op_type, "Constant") == 0 ? recur_onnx_attr(src, "value") : NULL;
        onnx_tensor t;
        if (!a || !a->t || recur_onnx_tensor_read(c, a->t, "the condition", &t) != RECUR_OK) return 0;
        int yes = t.numel == 1 && t.v[0] != 0;
        recur_onnx_tensor_free(&t);
        return yes;
    }
    return 0;
}

recur_status recur_onnx_import_loop(recur_onnx_ctx *c, const onnx_node *n)
{
    recur_status st;
    const onnx_graph *b = recur_onnx_attr_graph(c, n, "body");
    if (!b) return recur_errcode(c->g);
    int64_t trip[1];
    int count;
    if (!recur_onnx_in_name(n, 0))
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "a Loop without a trip count (M) is not supported");
    if ((st = recur_onnx_in_ints(c, n, 0, trip, 1, &count)) != RECUR_OK) return st;
    if (count != 1 || trip[0] < 1) return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "trip count M must be at least 1");
    const onnx_tensor *cond = recur_onnx_in_const(c, n, 1);
    if (recur_onnx_in_name(n, 1) && (!cond || cond->numel != 1 || cond->v[0] == 0))
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "the loop condition must be a constant true");
    int64_t N = (int64_t)n->n_input - 2, K = (int64_t)n->n_output - N;
    if (N < 0 || K < 0 || b->n_input != (size_t)(N + 2) || b->n_output != (size_t)(N + K + 1) || N > 64 || K > 64)
        return recur_onnx_fail(c, RECUR_ERR_FORMAT, "%zu inputs, %zu outputs and a body of %zu inputs and %zu outputs "
                               "do not fit (up to 64 states and 64 scan outputs are supported)", n->n_input, n->n_output,
                               b->n_input, b->n_output);
    if (!cond_stays_true(c, b))
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "the body's condition output \"%s\" is not a constant true (a "
                               "loop that may stop early is not supported)", body_out(b, 0));
    recur_value init[64], states[64], outs[129];
    int is_seq[64] = {0};
    for (int64_t i = 0; i < N; i++) {
        onnx_sym *s = recur_onnx_in(c, n, (int)(2 + i));
        if (!s) return recur_errcode(c->g);
        is_seq[i] = s->kind == ONNX_SYM_SEQ;
        if (is_seq[i] && (s->seq_state || recur_ok(s->v)))
            return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "loop state %lld must start as an empty sequence", (long long)i);
        if (!is_seq[i] && (st = recur_onnx_sym_value(c, s, &init[i])) != RECUR_OK) return st;
    }
    recur_onnx_loop_scope ls;
    if ((st = open_body(c, n, 0, &ls)) != RECUR_OK) return st;
    ls.T = trip[0];
    onnx_sym *it = recur_onnx_def_other(c, body_in(b, 0), ONNX_SYM_ITER);
    onnx_tensor t;
    int64_t one = 1;
    st = it ? recur_onnx_tensor_alloc(c, &t, 0, &one, 1) : recur_errcode(c->g);
    if (st == RECUR_OK) {
        t.v[0] = 1; /* the condition stays true */
        st = recur_onnx_def_const(c, body_in(b, 1), &t, 0);
    }
    for (int64_t i = 0; i < N && st == RECUR_OK; i++) {
        if (is_seq[i]) {
            onnx_sym *s = recur_onnx_def_other(c, body_in(b, (size_t)(2 + i)), ONNX_SYM_SEQ);
            if (!s) st = recur_errcode(c->g);
            else s->seq_state = (int)i + 1;
            continue;
        }
        states[i] = recur_loop_state(c->g, ls.L, body_in(b, (size_t)(2 + i)), init[i]);
        st = recur_onnx_def_value(c, body_in(b, (size_t)(2 + i)), states[i], 0);
    }
    if (st == RECUR_OK) st = body_initializers(c, b);
    if (st == RECUR_OK) st = c->import_body(c, b);
    if (st == RECUR_OK && ls.n_inputs == 0)
        st = recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "the body reads no sequence by the iteration number (Gather(x, i)); "
                             "recur's loops run over sequences");
    for (int64_t i = 0; i < N + K && st == RECUR_OK; i++) {
        onnx_sym *s = recur_onnx_sym(c, body_out(b, (size_t)(1 + i)));
        if (!s) {
            st = recur_onnx_fail(c, RECUR_ERR_FORMAT, "body output \"%s\" is computed by no node", body_out(b, (size_t)(1 + i)));
        } else if (i < N && is_seq[i]) {
            if (s->kind != ONNX_SYM_SEQ || s->seq_state != (int)i + 1 || !recur_ok(s->v))
                st = recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "loop state %lld is a sequence that is not extended by one "
                                     "SequenceInsert per step", (long long)i);
            else outs[i] = s->v;
        } else if ((st = recur_onnx_sym_value(c, s, &outs[i])) == RECUR_OK && i < N &&
                   recur_loop_next(c->g, ls.L, states[i], outs[i]) != RECUR_OK) {
            st = recur_onnx_fail_builder(c);
        }
    }
    leave(c, &ls);
    if (st != RECUR_OK) return st;
    if (recur_loop_end(c->g, ls.L) != RECUR_OK) return recur_onnx_fail_builder(c);
    for (int64_t i = 0; i < N + K && st == RECUR_OK; i++) {
        if (i < N && is_seq[i]) {
            const char *out = (size_t)i < n->n_output ? n->output[i] : NULL;
            if (!out || !out[0]) continue;
            recur_value y = recur_loop_stacked(c->g, ls.L, outs[i]);
            if (!recur_ok(y)) return recur_onnx_fail_builder(c);
            onnx_sym *s = recur_onnx_def_other(c, out, ONNX_SYM_SEQ);
            if (!s) return recur_errcode(c->g);
            s->v = y;
            s->stacked = 1;
            continue;
        }
        recur_value y = i < N ? recur_loop_final(c->g, ls.L, states[i]) : recur_loop_stacked(c->g, ls.L, outs[i]);
        st = recur_onnx_out_value(c, n, (int)i, y, 0);
    }
    return st;
}

recur_status recur_onnx_import_seq_empty(recur_onnx_ctx *c, const onnx_node *n)
{
    if (n->n_output < 1 || !n->output[0] || !n->output[0][0]) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "no output");
    return recur_onnx_def_other(c, n->output[0], ONNX_SYM_SEQ) ? RECUR_OK : recur_errcode(c->g);
}

recur_status recur_onnx_import_seq_insert(recur_onnx_ctx *c, const onnx_node *n)
{
    onnx_sym *s = recur_onnx_in(c, n, 0);
    if (!s) return recur_errcode(c->g);
    if (recur_onnx_in_name(n, 2))
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "SequenceInsert at a position is not supported (only appending)");
    if (s->kind != ONNX_SYM_SEQ || !s->seq_state || recur_ok(s->v) || !c->loop || s->scope != c->scope)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "SequenceInsert is supported only to collect one value per step "
                               "of a loop (a scripted loop's list of outputs)");
    recur_value v;
    recur_status st = recur_onnx_in_value(c, n, 1, &v);
    if (st != RECUR_OK) return st;
    int state = s->seq_state;
    if (n->n_output < 1 || !n->output[0] || !n->output[0][0]) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "no output");
    onnx_sym *o = recur_onnx_def_other(c, n->output[0], ONNX_SYM_SEQ);
    if (!o) return recur_errcode(c->g);
    o->seq_state = state;
    o->v = v;
    return RECUR_OK;
}

recur_status recur_onnx_import_seq_concat(recur_onnx_ctx *c, const onnx_node *n)
{
    onnx_sym *s = recur_onnx_in(c, n, 0);
    int64_t axis, new_axis;
    recur_status st;
    if (!s) return recur_errcode(c->g);
    if (s->kind != ONNX_SYM_SEQ || !s->stacked)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "ConcatFromSequence is supported only on the sequence a loop "
                               "collected step by step");
    if ((st = recur_onnx_attr_int(c, n, "axis", 0, &axis)) != RECUR_OK ||
        (st = recur_onnx_attr_int(c, n, "new_axis", 0, &new_axis)) != RECUR_OK)
        return st;
    recur_value y = s->v; /* [T, ...]: the items stacked along a new axis 0 */
    recur_shape sh = recur_value_shape(c->g, y);
    if (axis != 0)
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "axis=%lld is not supported (only 0)", (long long)axis);
    if (!new_axis) { /* concatenated along the items' axis 0: [T * d0, ...] */
        if (sh.ndim < 2) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "the items are scalars: they need new_axis=1");
        recur_shape r = {.ndim = sh.ndim - 1};
        r.d[0] = sh.d[0] * sh.d[1];
        for (int k = 2; k < sh.ndim; k++) r.d[k - 1] = sh.d[k];
        y = recur_reshape(c->g, y, r);
    }
    return recur_onnx_out_value(c, n, 0, y, 0);
}
