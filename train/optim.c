/*
 * train/optim.c — the optimizer handle: options and their checks, the
 * state tensors, and the step (gradient norm, clipping, the kind's rule,
 * the schedule). The rules themselves are in train/optim_rules.c.
 *
 * Memory: every state tensor lives in one arena allocated by
 * recur_optim_new; state tensor k of parameter i is
 * tensors[i * n_state + k], the tensors of one parameter side by side.
 * Beside it, the undo copy: before a parameter is updated, its values and
 * state are copied there, so that a step that would write a NaN or an
 * infinity anywhere is undone whole. A step only reads and writes existing
 * memory.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "optim_impl.h"

typedef struct optim_param {
    recur_value v;
    float *data;   /* the graph's storage of the parameter */
    int64_t numel;
    recur_shape shape;
} optim_param;

struct recur_optim {
    recur_graph *g;
    recur_optim_opts opts;
    const recur_optim_rule *rule;
    int n;
    optim_param *param;
    const float **grads;        /* recur_optim_step_plan's gradient pointers */
    int n_state;                /* state tensors per parameter */
    recur_optim_tensor *tensor; /* n * n_state of them, names owned */
    float *arena;
    int64_t arena_numel;
    float *undo;                /* the step's undo copy: every parameter's values (arena_numel floats), then
                                 * their state (n_state * arena_numel, laid out as the arena) */
    int64_t t;                  /* steps done */
    double lr;                  /* the next step's learning rate */
    double grad_norm;           /* the last step's norm before clipping, -1 before the first */
    recur_error error;
};

const char *recur_optim_errmsg(const recur_optim *o) { return recur_error_msg(o ? &o->error : NULL, "no optimizer (NULL)"); }
recur_status recur_optim_errcode(const recur_optim *o) { return recur_error_code(o ? &o->error : NULL); }

/* ---------------------------------------------------------------- options */

recur_optim_opts recur_optim_defaults(recur_optim_kind kind)
{
    recur_optim_opts o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.lr = 1e-3;
    o.beta1 = 0.9;
    o.beta2 = 0.999;
    o.eps = 1e-8;
    o.alpha = 0.99;
    switch (kind) {
    case RECUR_OPTIM_ADAMW: o.weight_decay = 1e-2; break;
    case RECUR_OPTIM_RMSPROP: o.lr = 1e-2; break;
    case RECUR_OPTIM_ADAGRAD:
        o.lr = 1e-2;
        o.eps = 1e-10;
        break;
    default: break;
    }
    return o;
}

/*
 * Records on g, unless lo <= x <= hi (x < hi when hi_open), that option
 * `field` of `kind` is out of range. Returns 1 when it is in range.
 */
static int in_range(recur_graph *g, const char *kind, const char *field, double x, double lo, double hi, int hi_open)
{
    if (x >= lo && (hi_open ? x < hi : x <= hi)) return 1;
    if (isinf(hi))
        recur_set_error(g, RECUR_ERR_ARG, "optim_new: %s option %s = %g must be a finite number >= %g", kind, field, x,
                        lo);
    else
        recur_set_error(g, RECUR_ERR_ARG, "optim_new: %s option %s = %g is outside [%g, %g%c", kind, field, x, lo, hi,
                        hi_open ? ')' : ']');
    return 0;
}

/* Checks every option the kind uses; records the first problem on g. */
static int opts_valid(recur_graph *g, const recur_optim_opts *o, const char *kind)
{
    const double inf = INFINITY;
    if (!in_range(g, kind, "lr", o->lr, 0, inf, 1) || !in_range(g, kind, "weight_decay", o->weight_decay, 0, inf, 1) ||
        !in_range(g, kind, "max_grad_norm", o->max_grad_norm, 0, inf, 1) ||
        !in_range(g, kind, "clip_value", o->clip_value, 0, inf, 1))
        return 0;
    switch (o->kind) {
    case RECUR_OPTIM_SGD:
        if (!in_range(g, kind, "momentum", o->momentum, 0, inf, 1) ||
            !in_range(g, kind, "dampening", o->dampening, 0, 1, 0))
            return 0;
        if (o->nesterov && (o->momentum <= 0 || o->dampening != 0)) {
            recur_set_error(g, RECUR_ERR_ARG,
                            "optim_new: sgd option nesterov needs momentum > 0 and dampening = 0 (momentum = %g, "
                            "dampening = %g)",
                            o->momentum, o->dampening);
            return 0;
        }
        break;
    case RECUR_OPTIM_ADAM:
    case RECUR_OPTIM_ADAMW:
        if (!in_range(g, kind, "beta1", o->beta1, 0, 1, 1) || !in_range(g, kind, "beta2", o->beta2, 0, 1, 1) ||
            !in_range(g, kind, "eps", o->eps, 0, inf, 1))
            return 0;
        break;
    case RECUR_OPTIM_RMSPROP:
        if (!in_range(g, kind, "alpha", o->alpha, 0, 1, 0) || !in_range(g, kind, "eps", o->eps, 0, inf, 1) ||
            !in_range(g, kind, "momentum", o->momentum, 0, inf, 1))
            return 0;
        break;
    case RECUR_OPTIM_ADAGRAD:
        if (!in_range(g, kind, "eps", o->eps, 0, inf, 1) || !in_range(g, kind, "lr_decay", o->lr_decay, 0, inf, 1) ||
            !in_range(g, kind, "initial_accumulator_value", o->initial_accumulator_value, 0, inf, 1))
            return 0;
        break;
    }
    if (!recur_schedule_valid(&o->schedule)) {
        const recur_schedule *s = &o->schedule;
        if (s->kind == RECUR_SCHEDULE_STEP && s->step_size < 1)
            recur_set_error(g, RECUR_ERR_ARG, "optim_new: schedule step_size = %lld must be >= 1",
                            (long long)s->step_size);
        else if (s->kind == RECUR_SCHEDULE_STEP || s->kind == RECUR_SCHEDULE_EXPONENTIAL)
            recur_set_error(g, RECUR_ERR_ARG, "optim_new: schedule gamma = %g must be finite and > 0", s->gamma);
        else
            recur_set_error(g, RECUR_ERR_ARG, "optim_new: unknown schedule kind %d", (int)s->kind);
        return 0;
    }
    return 1;
}

/* Checks that params[0..n-1] are distinct parameters of g; records the first problem. */
static int params_valid(recur_graph *g, int n, const recur_value *params)
{
    if (n < 1 || !params) {
        recur_set_error(g, RECUR_ERR_ARG, "optim_new: needs at least one parameter (n = %d%s)", n,
                        params ? "" : ", params = NULL");
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (!recur_is_param(g, params[i])) {
            const char *what = recur_value_op(g, params[i]);
            if (what)
                recur_set_error(g, RECUR_ERR_VALUE, "optim_new: params[%d] \"%s\" (op %s) is not a parameter", i,
                                recur_value_name(g, params[i]), what);
            else
                recur_set_error(g, RECUR_ERR_VALUE, "optim_new: params[%d] (value %d) is not a live node of this graph",
                                i, params[i].id);
            return 0;
        }
        for (int k = 0; k < i; k++)
            if (params[k].id == params[i].id) {
                recur_set_error(g, RECUR_ERR_ARG, "optim_new: parameter \"%s\" is listed twice (params[%d] and [%d])",
                                recur_value_name(g, params[i]), k, i);
                return 0;
            }
    }
    return 1;
}

/* ------------------------------------------------------------- lifecycle */

void recur_optim_free(recur_optim *o)
{
    if (!o) return;
    if (o->tensor)
        for (int i = 0; i < o->n * o->n_state; i++) free((char *)o->tensor[i].name);
    free(o->tensor);
    free(o->arena);
    free(o->undo);
    free(o->grads);
    free(o->param);
    free(o);
}

/* Lays out the state tensors in one arena and names them "<kind>.<state>/<param>". */
static int make_state(recur_optim *o)
{
    const char *names[RECUR_OPTIM_MAX_STATES];
    o->n_state = o->rule->states(&o->opts, names);
    int count = o->n * o->n_state;
    if (count == 0) return 1;
    o->tensor = calloc((size_t)count, sizeof *o->tensor);
    o->arena = calloc((size_t)(o->arena_numel * o->n_state), sizeof(float));
    if (!o->tensor || !o->arena) return 0;
    float *at = o->arena;
    for (int i = 0; i < o->n; i++) {
        const char *pname = recur_value_name(o->g, o->param[i].v);
        for (int k = 0; k < o->n_state; k++) {
            recur_optim_tensor *t = &o->tensor[i * o->n_state + k];
            size_t len = strlen(o->rule->name) + strlen(names[k]) + strlen(pname) + 3;
            char *name = malloc(len);
            if (!name) return 0;
            snprintf(name, len, "%s.%s/%s", o->rule->name, names[k], pname);
            t->name = name;
            t->data = at;
            t->numel = o->param[i].numel;
            t->shape = o->param[i].shape;
            t->param = o->param[i].v;
            at += t->numel;
        }
    }
    return 1;
}

recur_optim *recur_optim_new(recur_graph *g, const recur_optim_opts *opts, int n, const recur_value *params)
{
    if (!g) return NULL;
    recur_optim_opts defaults = recur_optim_defaults(RECUR_OPTIM_ADAM);
    if (!opts) opts = &defaults;
    const recur_optim_rule *rule = recur_optim_rule_of(opts->kind);
    if (!rule) {
        recur_set_error(g, RECUR_ERR_ARG, "optim_new: unknown optimizer kind %d", (int)opts->kind);
        return NULL;
    }
    if (!opts_valid(g, opts, rule->name) || !params_valid(g, n, params)) return NULL;
    recur_optim *o = calloc(1, sizeof *o);
    if (!o) goto nomem;
    o->g = g;
    o->opts = *opts;
    o->rule = rule;
    o->n = n;
    o->param = calloc((size_t)n, sizeof *o->param);
    o->grads = calloc((size_t)n, sizeof *o->grads);
    if (!o->param || !o->grads) goto nomem;
    for (int i = 0; i < n; i++) {
        optim_param *p = &o->param[i];
        p->v = params[i];
        p->data = recur_param_data(g, params[i]);
        p->shape = recur_value_shape(g, params[i]);
        p->numel = recur_shape_numel(p->shape);
        o->arena_numel += p->numel;
    }
    if (!make_state(o)) goto nomem;
    if (!(o->undo = malloc(sizeof(float) * (size_t)((1 + o->n_state) * o->arena_numel + 1)))) goto nomem;
    recur_optim_reset(o);
    return o;
nomem:
    recur_optim_free(o);
    recur_set_error(g, RECUR_ERR_NOMEM, "optim_new: out of memory for the state of %d parameters", n);
    return NULL;
}

void recur_optim_reset(recur_optim *o)
{
    if (!o) return;
    float init = o->opts.kind == RECUR_OPTIM_ADAGRAD ? (float)o->opts.initial_accumulator_value : 0.0f;
    for (int64_t j = 0; j < o->arena_numel * o->n_state; j++) o->arena[j] = init;
    o->t = 0;
    o->lr = o->opts.lr;
    o->grad_norm = -1;
}

/* ------------------------------------------------------------------- step */

/* Elements per piece of a parameter: a piece's values and state are still in the L1 cache when it is checked. */
#define PIECE 1024

/*
 * 1 if x[0..n) holds a NaN or an infinity: their exponent bits are all
 * ones, and adding 1 to an all-ones exponent carries into bit 31 (a loop of
 * and, add and or, which the compiler vectorizes).
 */
static int any_nonfinite(const float *x, int64_t n)
{
    uint32_t acc = 0, u;
    if (n == PIECE) { /* a count known here: the loop is vectorized whole */
        for (int j = 0; j < PIECE; j++) {
            memcpy(&u, &x[j], sizeof u);
            acc |= (u & 0x7f800000u) + 0x00800000u;
        }
    } else {
        for (int64_t j = 0; j < n; j++) {
            memcpy(&u, &x[j], sizeof u);
            acc |= (u & 0x7f800000u) + 0x00800000u;
        }
    }
    return (acc & 0x80000000u) != 0;
}

/* Puts back the values and state of parameters 0..i from the undo copy. */
static void undo_params(recur_optim *o, int i)
{
    const float *undo_p = o->undo, *undo_s = o->undo + o->arena_numel;
    int64_t off = 0;
    for (int q = 0; q <= i; q++) {
        int64_t m = o->param[q].numel;
        memcpy(o->param[q].data, undo_p + off, sizeof(float) * (size_t)m);
        if (o->n_state)
            memcpy(o->tensor[q * o->n_state].data, undo_s + off * o->n_state, sizeof(float) * (size_t)(m * o->n_state));
        off += m;
    }
}

/*
 * Runs the rule of every parameter in place, each parameter's values and
 * state first copied to the undo copy, then updated and checked a piece at
 * a time. A NaN or an infinity (from a NaN in restored state, a NaN
 * parameter, an overflow) puts back everything updated so far and fails
 * naming the tensor, the element and the value: a step writes all or
 * nothing. The rules are elementwise, so pieces give the values a whole
 * parameter at once gives.
 */
static recur_status update_all(recur_optim *o, const recur_optim_coef *c, const float *const *grads)
{
    float *undo_p = o->undo, *undo_s = o->undo + o->arena_numel;
    float *state[RECUR_OPTIM_MAX_STATES] = {0}, *piece[RECUR_OPTIM_MAX_STATES] = {0};
    int64_t off = 0;
    for (int i = 0; i < o->n; i++) {
        int64_t n = o->param[i].numel;
        float *p = o->param[i].data;
        for (int k = 0; k < o->n_state; k++) state[k] = o->tensor[i * o->n_state + k].data;
        memcpy(undo_p + off, p, sizeof(float) * (size_t)n);
        if (o->n_state) memcpy(undo_s + off * o->n_state, state[0], sizeof(float) * (size_t)(n * o->n_state));
        for (int64_t lo = 0; lo < n; lo += PIECE) {
            int64_t len = n - lo < PIECE ? n - lo : PIECE;
            for (int k = 0; k < o->n_state; k++) piece[k] = state[k] + lo;
            o->rule->update(&o->opts, c, len, p + lo, grads[i] + lo, piece);
            int bad = any_nonfinite(p + lo, len) ? -1 : -2; /* -1: the parameter, k >= 0: state tensor k */
            for (int k = 0; k < o->n_state && bad == -2; k++)
                if (any_nonfinite(piece[k], len)) bad = k;
            if (bad == -2) continue;
            const float *y = bad < 0 ? p : state[bad];
            const float *was = bad < 0 ? undo_p + off : undo_s + off * o->n_state + bad * n;
            int64_t j = lo;
            while (isfinite(y[j])) j++;
            char shp[64];
            recur_error_set(&o->error, RECUR_ERR_RUNTIME,
                            "optim_step: step %lld would write %g to element %lld of %s \"%s\" %s (it holds %g, "
                            "its gradient is %g): non-finite values are not written; step skipped, nothing changed",
                            (long long)c->t, (double)y[j], (long long)j, bad < 0 ? "parameter" : "state tensor",
                            bad < 0 ? recur_value_name(o->g, o->param[i].v) : o->tensor[i * o->n_state + bad].name,
                            recur_shape_str(o->param[i].shape, shp, sizeof shp), (double)was[j], (double)grads[i][j]);
            undo_params(o, i);
            return RECUR_ERR_RUNTIME;
        }
        off += n;
    }
    return RECUR_OK;
}

/*
 * One step: ||g|| over every gradient (in double); refuse a non-finite one;
 * the clipping factor min(1, max_grad_norm / ||g||); each parameter's rule,
 * the whole step undone if any value written is not finite; then t += 1
 * and lr *= the schedule's factor for step t.
 */
recur_status recur_optim_step(recur_optim *o, const float *const *grads)
{
    if (!o) return RECUR_ERR_ARG;
    if (!grads) return recur_error_set(&o->error, RECUR_ERR_ARG, "optim_step: grads is NULL");
    double sumsq = 0;
    for (int i = 0; i < o->n; i++) {
        if (!grads[i])
            return recur_error_set(&o->error, RECUR_ERR_ARG, "optim_step: grads[%d] (the gradient of parameter \"%s\") is NULL", i,
                              recur_value_name(o->g, o->param[i].v));
        sumsq += recur_sumsq(grads[i], o->param[i].numel);
    }
    o->grad_norm = sqrt(sumsq);
    if (!isfinite(sumsq)) {
        int bad = 0;
        while (bad < o->n - 1 && isfinite(recur_sumsq(grads[bad], o->param[bad].numel))) bad++;
        char shp[64];
        return recur_error_set(&o->error, RECUR_ERR_RUNTIME,
                          "optim_step: the gradient of parameter \"%s\" %s holds a NaN or an infinity; step %lld "
                          "skipped, nothing changed",
                          recur_value_name(o->g, o->param[bad].v),
                          recur_shape_str(o->param[bad].shape, shp, sizeof shp), (long long)o->t + 1);
    }
    const recur_optim_opts *opts = &o->opts;
    recur_optim_coef c = {.gscale = 1, .gclip = 0, .lr = o->lr, .t = o->t + 1};
    if (opts->max_grad_norm > 0 && o->grad_norm > opts->max_grad_norm)
        c.gscale = (float)(opts->max_grad_norm / o->grad_norm);
    if (opts->clip_value > 0) c.gclip = opts->clip_value > FLT_MAX ? FLT_MAX : (float)opts->clip_value;
    recur_graph_params_written(o->g);
    recur_status st = update_all(o, &c, grads);
    if (st != RECUR_OK) return st;
    o->t++;
    o->lr *= recur_schedule_factor(&opts->schedule, o->t);
    return RECUR_OK;
}

recur_status recur_optim_step_plan(recur_optim *o, recur_plan *plan, const recur_value *grad_values)
{
    if (!o) return RECUR_ERR_ARG;
    if (!plan || !grad_values)
        return recur_error_set(&o->error, RECUR_ERR_ARG, "optim_step_plan: %s is NULL", plan ? "grad_values" : "plan");
    for (int i = 0; i < o->n; i++) {
        const float *y = recur_plan_output(plan, grad_values[i]);
        if (!y)
            return recur_error_set(&o->error, recur_plan_errcode(plan), "optim_step_plan: gradient %d of parameter \"%s\": %s", i,
                              recur_value_name(o->g, o->param[i].v), recur_plan_errmsg(plan));
        recur_shape s = recur_value_shape(o->g, grad_values[i]);
        if (!recur_shape_equal(s, o->param[i].shape)) {
            char a[64], b[64];
            return recur_error_set(&o->error, RECUR_ERR_SHAPE,
                              "optim_step_plan: gradient %d \"%s\" has shape %s but parameter \"%s\" has %s", i,
                              recur_value_name(o->g, grad_values[i]), recur_shape_str(s, a, sizeof a),
                              recur_value_name(o->g, o->param[i].v), recur_shape_str(o->param[i].shape, b, sizeof b));
        }
        o->grads[i] = y;
    }
    return recur_optim_step(o, o->grads);
}

/* -------------------------------------------------------------- accessors */

double recur_optim_lr(const recur_optim *o) { return o ? o->lr : NAN; }

recur_status recur_optim_set_lr(recur_optim *o, double lr)
{
    if (!o) return RECUR_ERR_ARG;
    if (!(lr >= 0) || isinf(lr))
        return recur_error_set(&o->error, RECUR_ERR_ARG, "optim_set_lr: lr = %g must be a finite number >= 0", lr);
    o->lr = lr;
    return RECUR_OK;
}

int64_t recur_optim_steps(const recur_optim *o) { return o ? o->t : 0; }

recur_status recur_optim_set_steps(recur_optim *o, int64_t t)
{
    if (!o) return RECUR_ERR_ARG;
    if (t < 0) return recur_error_set(&o->error, RECUR_ERR_ARG, "optim_set_steps: step count %lld is negative", (long long)t);
    o->t = t;
    return RECUR_OK;
}

double recur_optim_grad_norm(const recur_optim *o) { return o ? o->grad_norm : -1; }

recur_optim_kind recur_optim_kind_of(const recur_optim *o) { return o ? o->opts.kind : RECUR_OPTIM_SGD; }

int recur_optim_size(const recur_optim *o) { return o ? o->n : 0; }

recur_value recur_optim_param(const recur_optim *o, int i)
{
    return o && i >= 0 && i < o->n ? o->param[i].v : RECUR_NONE;
}

int recur_optim_state_count(const recur_optim *o) { return o ? o->n * o->n_state : 0; }

recur_status recur_optim_state(recur_optim *o, int i, recur_optim_tensor *out)
{
    if (!o) return RECUR_ERR_ARG;
    int count = o->n * o->n_state;
    if (!out || i < 0 || i >= count)
        return recur_error_set(&o->error, RECUR_ERR_ARG, "optim_state: index %d is outside [0, %d)%s", i, count,
                          out ? "" : " or out is NULL");
    *out = o->tensor[i];
    return RECUR_OK;
}

recur_status recur_optim_state_find(recur_optim *o, const char *name, recur_optim_tensor *out)
{
    if (!o) return RECUR_ERR_ARG;
    if (!name || !out) return recur_error_set(&o->error, RECUR_ERR_ARG, "optim_state_find: %s is NULL", name ? "out" : "name");
    for (int i = 0; i < o->n * o->n_state; i++)
        if (strcmp(o->tensor[i].name, name) == 0) {
            *out = o->tensor[i];
            return RECUR_OK;
        }
    return recur_error_set(&o->error, RECUR_ERR_ARG, "optim_state_find: this %s optimizer has no state tensor \"%s\"",
                      o->rule->name, name);
}
