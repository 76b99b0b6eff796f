/*
 * plan/stepper.c — running a loop's body one time step per call.
 *
 * The body is compiled as an ordinary plan in which the step values, the
 * state values and the captured values computed at run time are fed
 * (recur_compile_fed). After each run the next value of every state is
 * copied into that state's fed buffer: that copy is the delay. A loop with
 * per-sequence lengths reads its mask of real steps as a step value: the
 * stepper is fed the lengths instead and writes the mask of each step
 * itself, m[b] = (t < lengths[b]) with t counted in the loop's order since
 * the last reset.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"
#include "recur/exec.h"

struct recur_stepper {
    recur_graph *g;
    int loop;
    recur_plan *plan;
    recur_plan *init_plan; /* computes the initial states that need no feeding, or NULL */
    int n_state;
    int32_t *state, *next, *init;
    char *init_computed;
    int n_capture;
    int32_t *capture;      /* captured values fed by the caller */
    int32_t lengths, mask; /* a loop with lengths: its lengths value and the body's mask step, else -1 */
    float *len;            /* ... the lengths fed (NULL until they are) */
    int64_t B, T, steps;   /* ... their count, the loop's steps, and the steps taken since the last reset */
    recur_error error;
};

const char *recur_stepper_errmsg(const recur_stepper *s) { return recur_error_msg(s ? &s->error : NULL, "no stepper (NULL)"); }

/*
 * runtime[id] = 1 if node id depends on something only known at run time
 * (an input, a loop or one of its values); memoised, iterative.
 */
static int runtime_dependent(const recur_graph *g, int32_t id, char *memo /* 0 unknown, 1 no, 2 yes */)
{
    if (memo[id]) return memo[id] == 2;
    int32_t *stack = malloc(sizeof(int32_t) * ((size_t)g->n + 1));
    if (!stack) return 1; /* out of memory: treat as fed, the caller then feeds it */
    int top = 0;
    stack[top++] = id;
    while (top > 0) {
        int32_t v = stack[top - 1];
        const recur_node *n = &g->nodes[v];
        if (memo[v]) {
            top--;
            continue;
        }
        int op = n->op, pending = 0, dep = op == RECUR_OP_INPUT || op == RECUR_OP_LOOP ||
                                           op == RECUR_OP_LOOP_OUTPUT || op == RECUR_OP_LOOP_STEP ||
                                           op == RECUR_OP_LOOP_STATE;
        for (int k = 0; k < n->n_in && !dep; k++) {
            char m = memo[n->in[k]];
            if (m == 2) dep = 1;
            else if (m == 0) {
                stack[top++] = n->in[k];
                pending = 1;
            }
        }
        if (!pending || dep) {
            memo[v] = dep ? 2 : 1;
            top--;
        }
    }
    free(stack);
    return memo[id] == 2;
}

recur_stepper *recur_stepper_compile(recur_graph *g, recur_loop l, int n_outputs, const recur_value *outputs,
                                     const recur_compile_opts *opts, const recur_backend *be)
{
    if (!g || !be) return NULL;
    if (l.id < 0 || l.id >= g->n_loops) {
        recur_set_error(g, RECUR_ERR_VALUE, "stepper: loop %d does not exist", l.id);
        return NULL;
    }
    const recur_loop_rec *L = &g->loops[l.id];
    if (L->open) {
        recur_set_error(g, RECUR_ERR_STATE, "stepper: loop \"%s\" must be ended first", L->name);
        return NULL;
    }
    if (n_outputs < 0 || (n_outputs > 0 && !outputs)) {
        recur_set_error(g, RECUR_ERR_ARG, "stepper: bad output list");
        return NULL;
    }
    recur_stepper *s = calloc(1, sizeof *s);
    int n_out = n_outputs + L->n_state;
    recur_value *outs = malloc(sizeof *outs * (size_t)(n_out + 1));
    recur_value *fed = malloc(sizeof *fed * ((size_t)g->n + 1));
    char *memo = calloc((size_t)g->n + 1, 1), *is_fed = calloc((size_t)g->n + 1, 1);
    recur_value *inits = malloc(sizeof *inits * (size_t)(L->n_state + 1));
    if (!s || !outs || !fed || !memo || !is_fed || !inits) goto nomem;
    s->g = g;
    s->loop = l.id;
    s->n_state = L->n_state;
    s->state = malloc(sizeof(int32_t) * (size_t)(L->n_state + 1));
    s->next = malloc(sizeof(int32_t) * (size_t)(L->n_state + 1));
    s->init = malloc(sizeof(int32_t) * (size_t)(L->n_state + 1));
    s->init_computed = calloc((size_t)L->n_state + 1, 1);
    s->capture = malloc(sizeof(int32_t) * ((size_t)g->n + 1));
    if (!s->state || !s->next || !s->init || !s->init_computed || !s->capture) goto nomem;
    memcpy(s->state, L->state, sizeof(int32_t) * (size_t)L->n_state);
    s->lengths = L->lengths, s->mask = L->mask, s->T = L->T;
    s->B = L->lengths >= 0 ? g->nodes[L->lengths].shape.d[0] : 0;
    memcpy(s->next, L->next, sizeof(int32_t) * (size_t)L->n_state);
    memcpy(s->init, L->init, sizeof(int32_t) * (size_t)L->n_state);

    /* Fed: step and state placeholders, and captured values known only at run time. */
    int n_fed = 0;
    for (int k = 0; k < L->n_seq; k++) fed[n_fed++] = (recur_value){L->step[k]}, is_fed[L->step[k]] = 1;
    for (int k = 0; k < L->n_state; k++) fed[n_fed++] = (recur_value){L->state[k]}, is_fed[L->state[k]] = 1;
    for (int32_t id = L->first; id < L->last; id++) {
        const recur_node *n = &g->nodes[id];
        if (n->loop != l.id + 1) continue;
        for (int k = 0; k < n->n_in; k++) {
            int32_t src = n->in[k];
            if (g->nodes[src].loop || is_fed[src] || !runtime_dependent(g, src, memo)) continue;
            is_fed[src] = 1;
            fed[n_fed++] = (recur_value){src};
            s->capture[s->n_capture++] = src;
        }
    }
    for (int i = 0; i < n_outputs; i++) outs[i] = outputs[i];
    for (int k = 0; k < L->n_state; k++) outs[n_outputs + k] = (recur_value){L->next[k]};
    s->plan = recur_plan_compile(g, n_out, outs, n_fed, fed, opts, be);
    if (!s->plan) goto fail;

    /* Initial states computed from weights and constants alone get a plan of their own. */
    int n_init = 0;
    for (int k = 0; k < L->n_state; k++)
        if (!runtime_dependent(g, L->init[k], memo)) {
            s->init_computed[k] = 1;
            inits[n_init++] = (recur_value){L->init[k]};
        }
    if (n_init && !(s->init_plan = recur_plan_compile(g, n_init, inits, 0, NULL, opts, be))) goto fail;
    if (recur_stepper_reset(s) != RECUR_OK) {
        recur_error_copy(&g->error, &s->error, "stepper");
        goto fail;
    }
    free(outs), free(fed), free(memo), free(is_fed), free(inits);
    return s;
nomem:
    recur_set_error(g, RECUR_ERR_NOMEM, "stepper: out of memory");
fail:
    free(outs), free(fed), free(memo), free(is_fed), free(inits);
    recur_stepper_free(s);
    return NULL;
}

void recur_stepper_free(recur_stepper *s)
{
    if (!s) return;
    recur_plan_free(s->plan);
    recur_plan_free(s->init_plan);
    free(s->state), free(s->next), free(s->init), free(s->init_computed), free(s->capture), free(s->len);
    free(s);
}

int recur_stepper_captures(const recur_stepper *s, recur_value *out, int cap)
{
    if (!s) return 0;
    for (int i = 0; i < s->n_capture && i < cap && out; i++) out[i] = (recur_value){s->capture[i]};
    return s->n_capture;
}

static int state_index(const recur_stepper *s, recur_value v)
{
    for (int k = 0; k < s->n_state; k++)
        if (s->state[k] == v.id) return k;
    return -1;
}

recur_status recur_stepper_reset(recur_stepper *s)
{
    if (!s) return RECUR_ERR_ARG;
    s->steps = 0;
    if (s->init_plan && recur_plan_run(s->init_plan) != RECUR_OK)
        return recur_error_set(&s->error, recur_plan_errcode(s->init_plan), "reset: %s", recur_plan_errmsg(s->init_plan));
    for (int k = 0; k < s->n_state; k++) {
        recur_value st = {s->state[k]};
        int64_t n = recur_shape_numel(s->g->nodes[st.id].shape);
        float *buf = recur_plan_value_buffer(s->plan, st);
        if (s->init_computed[k])
            memcpy(buf, recur_plan_output(s->init_plan, (recur_value){s->init[k]}), sizeof(float) * (size_t)n);
        else
            memset(buf, 0, sizeof(float) * (size_t)n);
        recur_plan_mark_fed(s->plan, st);
    }
    return RECUR_OK;
}

/* Keeps the lengths of a loop with lengths: n whole numbers in 1..T. */
static recur_status feed_lengths(recur_stepper *s, const float *data, int64_t n)
{
    const char *name = s->g->loops[s->loop].name;
    if (!data || n != s->B)
        return recur_error_set(&s->error, RECUR_ERR_FEED, "feed: the lengths of loop \"%s\" are %lld floats, got %lld%s",
                               name, (long long)s->B, (long long)n, data ? "" : " (NULL buffer)");
    for (int64_t b = 0; b < n; b++)
        if (!(data[b] >= 1 && (double)data[b] <= (double)s->T && data[b] == floorf(data[b])))
            return recur_error_set(&s->error, RECUR_ERR_FEED,
                                   "feed: loop \"%s\": lengths[%lld] = %g is not a whole number in 1..%lld", name,
                                   (long long)b, (double)data[b], (long long)s->T);
    if (!s->len && !(s->len = malloc(sizeof(float) * (size_t)n)))
        return recur_error_set(&s->error, RECUR_ERR_NOMEM, "feed: out of memory");
    memcpy(s->len, data, sizeof(float) * (size_t)n);
    return RECUR_OK;
}

recur_status recur_stepper_feed(recur_stepper *s, recur_value v, const float *data, int64_t n)
{
    if (!s) return RECUR_ERR_ARG;
    if (s->lengths >= 0 && v.id == s->lengths) return feed_lengths(s, data, n);
    if (state_index(s, v) >= 0)
        return recur_error_set(&s->error, RECUR_ERR_VALUE, "feed: \"%s\" is a state: use recur_stepper_set_state",
                         recur_value_name(s->g, v));
    recur_status st = recur_plan_feed(s->plan, v, data, n);
    return st == RECUR_OK ? st : recur_error_set(&s->error, st, "%s", recur_plan_errmsg(s->plan));
}

/* The buffer of state v with its size checked against n, or NULL after recording an error. */
static float *state_buffer(recur_stepper *s, recur_value v, int64_t n, const void *data, const char *who)
{
    if (state_index(s, v) < 0) {
        recur_error_set(&s->error, RECUR_ERR_VALUE, "%s: value %d is not a state of loop \"%s\"", who, v.id,
                  s->g->loops[s->loop].name);
        return NULL;
    }
    int64_t want = recur_shape_numel(s->g->nodes[v.id].shape);
    if (!data || n != want) {
        char shp[64];
        recur_error_set(&s->error, RECUR_ERR_FEED, "%s: state \"%s\" %s holds %lld floats, got %lld%s", who,
                  recur_value_name(s->g, v), recur_shape_str(s->g->nodes[v.id].shape, shp, sizeof shp),
                  (long long)want, (long long)n, data ? "" : " (NULL buffer)");
        return NULL;
    }
    return recur_plan_value_buffer(s->plan, v);
}

recur_status recur_stepper_set_state(recur_stepper *s, recur_value state, const float *data, int64_t n)
{
    if (!s) return RECUR_ERR_ARG;
    float *buf = state_buffer(s, state, n, data, "set_state");
    if (!buf) return RECUR_ERR_FEED;
    memcpy(buf, data, sizeof(float) * (size_t)n);
    return RECUR_OK;
}

recur_status recur_stepper_get_state(recur_stepper *s, recur_value state, float *out, int64_t n)
{
    if (!s) return RECUR_ERR_ARG;
    float *buf = state_buffer(s, state, n, out, "get_state");
    if (!buf) return RECUR_ERR_FEED;
    memcpy(out, buf, sizeof(float) * (size_t)n);
    return RECUR_OK;
}

recur_status recur_stepper_step(recur_stepper *s)
{
    if (!s) return RECUR_ERR_ARG;
    if (s->mask >= 0) { /* this step's mask of real steps, from the lengths */
        const recur_loop_rec *L = &s->g->loops[s->loop];
        if (!s->len)
            return recur_error_set(&s->error, RECUR_ERR_FEED,
                                   "step: loop \"%s\" has lengths: feed them first (recur_stepper_feed with \"%s\")",
                                   L->name, recur_value_name(s->g, (recur_value){s->lengths}));
        int64_t t = L->reverse ? s->T - 1 - s->steps : s->steps;
        float *m = recur_plan_value_buffer(s->plan, (recur_value){s->mask});
        for (int64_t b = 0; b < s->B; b++) m[b] = (double)t < (double)s->len[b] && t >= 0 ? 1.0f : 0.0f;
        recur_plan_mark_fed(s->plan, (recur_value){s->mask});
    }
    recur_status st = recur_plan_run(s->plan);
    if (st != RECUR_OK) return recur_error_set(&s->error, st, "step: %s", recur_plan_errmsg(s->plan));
    /* The delay: each state takes its next value. */
    for (int k = 0; k < s->n_state; k++) {
        if (s->next[k] == s->state[k]) continue;
        recur_value sv = {s->state[k]};
        int64_t n = recur_shape_numel(s->g->nodes[sv.id].shape);
        memmove(recur_plan_value_buffer(s->plan, sv), recur_plan_output(s->plan, (recur_value){s->next[k]}),
               sizeof(float) * (size_t)n);
    }
    s->steps++;
    return RECUR_OK;
}

const float *recur_stepper_output(recur_stepper *s, recur_value v)
{
    if (!s) return NULL;
    const float *y = recur_plan_output(s->plan, v);
    if (!y) recur_error_set(&s->error, RECUR_ERR_VALUE, "output: %s", recur_plan_errmsg(s->plan));
    return y;
}
