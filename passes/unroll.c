/*
 * passes/unroll.c — the unroll pass: each ended loop becomes T copies of its
 * body in the outer graph.
 *
 * For steps s = 0..T-1 (time t = s, or T-1-s for a reverse loop) every body
 * node is appended again with its operands mapped:
 *   step placeholder of sequence k  -> select_step(seq_k, t)
 *   state placeholder k             -> init_k at the first step, else the
 *                                      previous step's copy of next_k
 *   body node                       -> its copy at this step
 *   outer value (a weight)          -> itself: one node shared by all steps,
 *                                      so autodiff sums its gradient over steps.
 * A stacked output becomes stack(copies over t) and a final state the last
 * step's copy of next_k; the loop-output node turns into an alias of it, so
 * values the caller holds stay valid. A body node the hoisting pass computed
 * for every step at once (L->hoisted) is not copied: step t reads its
 * slice. The pipeline (passes/pipeline.c) runs prepare, hoisting, then
 * this, for each loop.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "ops/op.h"
#include "passes/passes.h"
#include "recur/passes.h"


/*
 * per_step[b] = 1 if hoisted body node b is read at every step: by a body
 * node that is not hoisted, or as a state's next value.
 */
static char *hoisted_read_per_step(const recur_graph *g, const recur_loop_rec *L, int li)
{
    int64_t nb = L->last - L->first;
    char *per_step = calloc((size_t)nb + 1, 1);
    if (!per_step) return NULL;
    for (int32_t id = L->first; id < L->last; id++) {
        const recur_node *n = &g->nodes[id];
        if (n->loop != li + 1 || L->hoisted[id - L->first] >= 0) continue;
        for (int k = 0; k < n->n_in; k++)
            if (g->nodes[n->in[k]].loop == li + 1 && L->hoisted[n->in[k] - L->first] >= 0) per_step[n->in[k] - L->first] = 1;
    }
    for (int k = 0; k < L->n_state; k++)
        if (g->nodes[L->next[k]].loop == li + 1 && L->hoisted[L->next[k] - L->first] >= 0)
            per_step[L->next[k] - L->first] = 1;
    return per_step;
}

recur_status recur_pass_unroll_prepare(recur_graph *g, int li)
{
    recur_loop_rec *L = &g->loops[li];
    int64_t nb = L->last - L->first;
    L->hoisted = malloc(sizeof(int32_t) * (size_t)(nb + 1));
    if (!L->hoisted) return recur_set_error(g, RECUR_ERR_NOMEM, "unroll: out of memory for loop \"%s\"", L->name);
    for (int64_t i = 0; i < nb; i++) L->hoisted[i] = -1;
    for (int k = 0; k < L->n_seq; k++) L->hoisted[L->step[k] - L->first] = L->seq[k]; /* step t of seq: seq[t] */
    return RECUR_OK;
}

/*
 * Step t of sequence seq. With RECUR_PASS_LANES, read where the step lies
 * rather than as a slice of the whole: through an alias, part t of a stack
 * along time (another loop's output: its value at t itself), the part of
 * a concatenation along time holding t (hoisting in chunks, hoist.c). The
 * step then waits only for what computes it, not for every step of the
 * sequence, and the plan's lanes can run it early. The same values either way.
 */
static recur_value step_of(recur_graph *g, int32_t seq, int64_t t)
{
    if (!recur_pass_on(g, RECUR_PASS_LANES)) return recur_select_step(g, (recur_value){seq}, t);
    for (int32_t id = seq;;) {
        const recur_node *n = &g->nodes[id];
        if (n->op == RECUR_OP_ALIAS && n->n_in == 1) {
            id = n->in[0];
        } else if (n->op == RECUR_OP_STACK && n->attr.i[0] == 0 && t >= 0 && t < n->n_in) {
            return (recur_value){n->in[t]};
        } else if (n->op == RECUR_OP_CONCAT && n->attr.i[0] == 0) {
            int k = 0;
            while (k < n->n_in && t >= g->nodes[n->in[k]].shape.d[0]) t -= g->nodes[n->in[k++]].shape.d[0];
            if (k == n->n_in) break;
            seq = id = n->in[k];
        } else {
            break;
        }
    }
    return recur_select_step(g, (recur_value){seq}, t);
}

recur_status recur_pass_unroll_loop(recur_graph *g, int li)
{
    recur_status st = RECUR_OK;
    recur_loop_rec *L = &g->loops[li];
    int64_t nb = L->last - L->first, T = L->T;
    L->copies = malloc(sizeof(int32_t) * (size_t)(T * nb));
    char *per_step = hoisted_read_per_step(g, L, li);
    if (!L->copies || !per_step) {
        free(per_step);
        return recur_set_error(g, RECUR_ERR_NOMEM, "unroll: out of memory for loop \"%s\"", L->name);
    }
    for (int64_t i = 0; i < T * nb; i++) L->copies[i] = -1;

    const int n_before = g->n; /* nodes from here on are this unrolling's copies */
    recur_value small[8], *in = small;
    int in_cap = 8;
    g->work += (uint64_t)(T * nb) + (uint64_t)g->n; /* each body node copied per step; the outputs found below */
    for (int64_t s = 0; s < T && st == RECUR_OK; s++) {
        int64_t t = recur_loop_time_of(L, s);
        for (int32_t id = L->first; id < L->last; id++) {
            L = &g->loops[li];
            recur_node *n = &g->nodes[id];
            if (n->loop != li + 1) continue;
            int32_t hoisted = L->hoisted[id - L->first];
            recur_value copy;
            if (hoisted >= 0) {
                /* Computed for every step at once: step t reads its slice, if anything reads it. */
                if (!per_step[id - L->first]) continue;
                copy = step_of(g, hoisted, t);
            } else if (n->op == RECUR_OP_LOOP_STATE) {
                int k = (int)n->attr.i[1];
                copy = s == 0 ? (recur_value){L->init[k]} : (recur_value){recur_loop_copy_at(g, L, L->next[k], recur_loop_time_of(L, s - 1))};
            } else {
                if (n->n_in > in_cap) {
                    recur_value *grown = malloc(sizeof *grown * (size_t)n->n_in);
                    if (!grown) {
                        st = recur_set_error(g, RECUR_ERR_NOMEM, "unroll: out of memory");
                        break;
                    }
                    if (in != small) free(in);
                    in = grown;
                    in_cap = n->n_in;
                }
                for (int k = 0; k < n->n_in; k++) in[k] = (recur_value){recur_loop_copy_at(g, L, n->in[k], t)};
                recur_attr attr = n->attr;
                if (n->op == RECUR_OP_DROPOUT) /* each step's copy draws its own mask */
                    attr.seed = recur_hash64(attr.seed ^ recur_hash64((uint64_t)t + 1));
                copy = recur_node_add(g, n->op, n->n_in, in, &attr);
            }
            if (!recur_ok(copy)) {
                st = g->error.code;
                break;
            }
            recur_node *c = &g->nodes[copy.id];
            if (copy.id >= n_before && !c->unrolled) {
                /* Annotate new nodes for diagrams and per-step queries. */
                c->unrolled = li + 1;
                c->step = t;
                c->origin = id;
                if (g->nodes[id].name && !c->name) {
                    char name[200];
                    snprintf(name, sizeof name, "%s@%lld", g->nodes[id].name, (long long)t);
                    c->name = strdup(name);
                }
            }
            g->loops[li].copies[t * nb + (id - g->loops[li].first)] = copy.id;
        }
    }
    if (in != small) free(in);
    free(per_step);
    if (st != RECUR_OK) return st;
    g->loops[li].unrolled = 1;
    /* Every output of this loop becomes an alias of its unrolled value. */
    for (int32_t id = 0; id < g->n; id++) {
        const recur_node *n = &g->nodes[id];
        if (n->removed || n->op != RECUR_OP_LOOP_OUTPUT || n->attr.i[0] != li) continue;
        recur_status st = recur_loop_output_unrolled(g, (recur_value){id});
        if (st != RECUR_OK) return st;
    }
    return RECUR_OK;
}
