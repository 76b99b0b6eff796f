/*
 * train/trainer.c — the training loop: making a trainer (gradients, one
 * plan, the optimizer), one step (feed, run, check the loss, update,
 * callbacks) and the queries. Checkpoints are in train/trainer_ckpt.c,
 * the progress line in train/progress.c.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph/ir.h"
#include "mpi_impl.h"
#include "recur/autodiff.h"
#include "trainer_impl.h"

recur_status recur_trainer_set_error(recur_trainer *t, recur_status code, const char *fmt, ...)
{
    if (!t) return code;
    va_list ap;
    va_start(ap, fmt);
    recur_error_vset(&t->error, code, fmt, ap);
    va_end(ap);
    t->n_errors++;
    return code;
}

const char *recur_trainer_errmsg(const recur_trainer *t) { return recur_error_msg(t ? &t->error : NULL, "no trainer (NULL)"); }
recur_status recur_trainer_errcode(const recur_trainer *t) { return recur_error_code(t ? &t->error : NULL); }

recur_trainer_opts recur_trainer_defaults(void)
{
    recur_trainer_opts o;
    memset(&o, 0, sizeof o);
    o.optim = recur_optim_defaults(RECUR_OPTIM_ADAM);
    return o;
}

/* ------------------------------------------------------------- lifecycle */

void recur_trainer_free(recur_trainer *t)
{
    if (!t) return;
    recur_optim_free(t->opt);
    recur_mpi_trainer_free(t->mpi);
    recur_plan_free(t->plan);
    recur_plan_free(t->eval_plan);
    free(t->window);
    free(t->extra);
    free(t->grad);
    free(t);
}

/* Checks the options recur_optim_new and recur_compile do not check; records the first problem on g. */
static int opts_valid(recur_graph *g, const recur_trainer_opts *o)
{
    const char *field = NULL;
    double x = 0;
    if (o->n_extra < 0 || (o->n_extra > 0 && !o->extra))
        return recur_set_error(g, RECUR_ERR_ARG, "trainer_new: n_extra = %d needs as many values in extra%s", o->n_extra,
                               o->extra ? "" : " (extra = NULL)"), 0;
    if (o->progress < RECUR_PROGRESS_AUTO || o->progress > RECUR_PROGRESS_PLAIN)
        return recur_set_error(g, RECUR_ERR_ARG, "trainer_new: unknown progress mode %d", (int)o->progress), 0;
    if (o->eval_every < 0) field = "eval_every", x = (double)o->eval_every;
    else if (o->progress_every < 0) field = "progress_every", x = (double)o->progress_every;
    else if (o->steps_per_epoch < 0) field = "steps_per_epoch", x = (double)o->steps_per_epoch;
    else if (o->mean_window < 0) field = "mean_window", x = (double)o->mean_window;
    else if (!(o->tokens_per_step >= 0) || isinf(o->tokens_per_step)) field = "tokens_per_step", x = o->tokens_per_step;
    if (field) return recur_set_error(g, RECUR_ERR_ARG, "trainer_new: option %s = %g must be >= 0", field, x), 0;
    if (o->eval_model && !o->eval && (!o->eval_shapes || !o->eval_feed || o->eval_batches < 1))
        return recur_set_error(g, RECUR_ERR_ARG, "trainer_new: an eval_model needs eval_shapes, an eval_feed and "
                               "eval_batches >= 1 (%lld)", (long long)o->eval_batches), 0;
    return 1;
}

/* Prefixes the graph's recorded message with "trainer_new: <what>: " and returns NULL. */
static recur_trainer *new_fail(recur_graph *g, recur_trainer *t, const char *what)
{
    char msg[sizeof g->error.msg];
    snprintf(msg, sizeof msg, "%s", recur_errmsg(g));
    recur_set_error(g, recur_errcode(g) ? recur_errcode(g) : RECUR_ERR_STATE, "trainer_new: %s: %s", what, msg);
    recur_trainer_free(t);
    return NULL;
}

recur_trainer *recur_trainer_new(recur_graph *g, recur_value loss, int n_params, const recur_value *params,
                                 const recur_trainer_opts *o)
{
    if (!g) return NULL;
    recur_trainer_opts defaults = recur_trainer_defaults();
    if (!o) o = &defaults;
    if (!opts_valid(g, o)) return NULL;
    if (n_params < 1 || !params) {
        recur_set_error(g, RECUR_ERR_ARG, "trainer_new: needs at least one parameter (n_params = %d%s)", n_params,
                        params ? "" : ", params = NULL");
        return NULL;
    }
    recur_trainer *t = calloc(1, sizeof *t);
    if (!t) return recur_set_error(g, RECUR_ERR_NOMEM, "trainer_new: out of memory"), NULL;
    t->g = g;
    t->o = *o;
    t->loss = loss;
    t->n = n_params;
    t->last_loss = NAN;
    t->eval_loss = NAN;
    if (!t->o.progress_every) t->o.progress_every = 100;
    if (!t->o.mean_window) t->o.mean_window = 100;
    if (!t->o.progress_file) t->o.progress_file = stderr;

    int n_out = 1 + n_params + o->n_extra;
    t->grad = malloc(sizeof *t->grad * (size_t)n_params);
    t->extra = malloc(sizeof *t->extra * ((size_t)o->n_extra + 1));
    t->window = malloc(sizeof *t->window * (size_t)t->o.mean_window);
    recur_value *outs = malloc(sizeof *outs * (size_t)n_out);
    if (!t->grad || !t->extra || !t->window || !outs) {
        free(outs);
        recur_set_error(g, RECUR_ERR_NOMEM, "trainer_new: out of memory");
        recur_trainer_free(t);
        return NULL;
    }
    if (o->n_extra) memcpy(t->extra, o->extra, sizeof *t->extra * (size_t)o->n_extra);
    t->o.extra = t->extra;

    if (recur_grad(g, loss, n_params, params, t->grad) != RECUR_OK) {
        free(outs);
        return new_fail(g, t, "differentiating the loss");
    }
    outs[0] = loss;
    memcpy(outs + 1, t->grad, sizeof *outs * (size_t)n_params);
    if (o->n_extra) memcpy(outs + 1 + n_params, t->extra, sizeof *outs * (size_t)o->n_extra);
    t->plan = recur_compile(g, n_out, outs, &t->o.compile);
    free(outs);
    if (!t->plan) return new_fail(g, t, "compiling the training plan");
    t->opt = recur_optim_new(g, &t->o.optim, n_params, params);
    if (!t->opt) return new_fail(g, t, "making the optimizer");
    if (o->eval_model && !o->eval) { /* the evaluation model's instance, sharing the parameters */
        const recur_model *m = o->eval_model;
        recur_value *in = malloc(sizeof *in * ((size_t)m->n_inputs + 1)), *out = malloc(sizeof *out * ((size_t)m->n_outputs + 1));
        recur_status st = in && out ? recur_model_instance(g, m, "eval.", o->eval_shapes, in, out)
                                    : recur_set_error(g, RECUR_ERR_NOMEM, "out of memory");
        if (st == RECUR_OK && recur_shape_numel(recur_value_shape(g, out[0])) != 1)
            st = recur_set_error(g, RECUR_ERR_SHAPE, "its output 0 (the loss) \"%s\" must hold one element",
                                 recur_value_name(g, out[0]));
        if (st == RECUR_OK) {
            t->eval_loss_value = out[0];
            recur_compile_opts co = t->o.compile;
            co.inference = 1;
            if (!(t->eval_plan = recur_compile(g, 1, &out[0], &co))) st = recur_errcode(g);
        }
        free(in), free(out);
        if (st != RECUR_OK) return new_fail(g, t, "building the evaluation model");
    }
    recur_progress_init(t);
    return t;
}

/* ------------------------------------------------------------------ a step */

/*
 * Gives the reason of a callback that returned st != RECUR_OK: its own
 * message when it recorded one (t->n_errors went past errors_before), else
 * the plan's when a plan call failed during it (its message changed),
 * else the status's name.
 */
static recur_status callback_fail(recur_trainer *t, recur_status st, int64_t step, const char *who,
                                  uint64_t errors_before, const char *plan_msg_before)
{
    if (t->n_errors != errors_before)
        return recur_trainer_set_error(t, st, "step %lld: %s: %s", (long long)step, who, t->error.msg);
    const char *pm = recur_plan_errmsg(t->plan);
    if (plan_msg_before && recur_plan_errcode(t->plan) != RECUR_OK && strcmp(pm, plan_msg_before) != 0)
        return recur_trainer_set_error(t, st, "step %lld: %s: %s", (long long)step, who, pm);
    return recur_trainer_set_error(t, st, "step %lld: %s returned %s", (long long)step, who, recur_status_str(st));
}

/* Adds a step's loss to the running-mean window. */
static void window_push(recur_trainer *t, float loss)
{
    t->window[t->window_pos] = loss;
    t->window_pos = (t->window_pos + 1) % t->o.mean_window;
    if (t->window_n < t->o.mean_window) t->window_n++;
}

/*
 * The trainer's own evaluation: the mean loss of eval_batches batches
 * through the eval model's plan. Distributed, rank r of N runs batches
 * r, r + N, ... and the sums of losses and counts are summed over the
 * ranks, so the mean is over every batch as in one process.
 */
static recur_status evaluate_model(void *user, recur_trainer *t, int64_t step, double *loss)
{
    (void)user, (void)step;
    double sum[2] = {0, 0}; /* losses, batches */
    int64_t first = t->mpi ? recur_mpi_rank() : 0, stride = t->mpi ? recur_mpi_size() : 1;
    for (int64_t k = first; k < t->o.eval_batches; k += stride) {
        uint64_t errors = t->n_errors;
        recur_status st = t->o.eval_feed(t->o.user, k, t->eval_plan);
        if (st != RECUR_OK) /* its reason: what it gave, or what the eval plan says, or its status */
            return recur_trainer_set_error(t, st, "step %lld: the eval_feed callback (batch %lld): %s", (long long)t->step,
                                           (long long)k,
                                           t->n_errors != errors                      ? t->error.msg
                                           : recur_plan_errcode(t->eval_plan) != RECUR_OK ? recur_plan_errmsg(t->eval_plan)
                                                                                       : recur_status_str(st));
        float l;
        if ((st = recur_plan_run(t->eval_plan)) != RECUR_OK || (st = recur_plan_fetch(t->eval_plan, t->eval_loss_value, &l, 1)))
            return recur_trainer_set_error(t, st, "step %lld: evaluation batch %lld: %s", (long long)t->step,
                                           (long long)k, recur_plan_errmsg(t->eval_plan));
        sum[0] += l;
        sum[1] += 1;
    }
    if (t->mpi && recur_mpi_sum(sum, 2) != RECUR_OK)
        return recur_trainer_set_error(t, RECUR_ERR_RUNTIME, "step %lld: evaluation: %s", (long long)t->step,
                                       recur_mpi_errmsg());
    *loss = sum[0] / sum[1];
    return RECUR_OK;
}

static recur_status evaluate(recur_trainer *t)
{
    double l = NAN;
    uint64_t errors = t->n_errors;
    recur_status st = t->eval_plan ? evaluate_model(NULL, t, t->step, &l) : t->o.eval(t->o.user, t, t->step, &l);
    if (st != RECUR_OK && t->eval_plan) return st;
    if (st != RECUR_OK) return callback_fail(t, st, t->step, "the eval callback", errors, NULL);
    if (t->mpi && !t->eval_plan) { /* distributed: the mean of the ranks' losses */
        if (recur_mpi_sum(&l, 1) != RECUR_OK)
            return recur_trainer_set_error(t, RECUR_ERR_RUNTIME, "step %lld: evaluation: %s", (long long)t->step,
                                           recur_mpi_errmsg());
        l /= recur_mpi_size();
    }
    t->eval_loss = l;
    recur_progress_eval(t);
    return RECUR_OK;
}

/* One training step (see the top of recur/trainer.h). Steps are numbered from 1 in messages. */
static recur_status train_step(recur_trainer *t)
{
    int64_t s = t->step + 1;
    if (t->o.feed) {
        char before[sizeof t->error.msg];
        snprintf(before, sizeof before, "%s", recur_plan_errmsg(t->plan));
        uint64_t errors = t->n_errors;
        recur_status st = t->o.feed(t->o.user, t->step, t->plan);
        if (st != RECUR_OK) return callback_fail(t, st, s, "the feed callback", errors, before);
    }
    if (recur_plan_run(t->plan) != RECUR_OK)
        return recur_trainer_set_error(t, recur_plan_errcode(t->plan), "step %lld: %s", (long long)s,
                                       recur_plan_errmsg(t->plan));
    if (t->mpi && recur_mpi_trainer_after_run(t->mpi) != RECUR_OK) /* the loss and gradients, averaged over the ranks */
        return recur_trainer_set_error(t, RECUR_ERR_RUNTIME, "step %lld: averaging over the ranks: %s", (long long)s,
                                       recur_mpi_errmsg());
    const float *lp = recur_plan_output(t->plan, t->loss);
    float loss = lp ? lp[0] : NAN;
    if (!isfinite(loss))
        return recur_trainer_set_error(t, RECUR_ERR_RUNTIME, "step %lld: the loss \"%s\" is %s%s", (long long)s,
                                       recur_value_name(t->g, t->loss),
                                       isnan(loss) ? "NaN" : loss > 0 ? "infinite" : "-infinite",
                                       t->o.compile.check_finite
                                           ? ""
                                           : " (set compile.check_finite = 1 to find the op that made it)");
    if (recur_optim_step_plan(t->opt, t->plan, t->grad) != RECUR_OK)
        return recur_trainer_set_error(t, recur_optim_errcode(t->opt), "step %lld: %s", (long long)s,
                                       recur_optim_errmsg(t->opt));
    t->step = s;
    t->last_loss = loss;
    window_push(t, loss);
    if (t->o.on_step) {
        uint64_t errors = t->n_errors;
        recur_status st = t->o.on_step(t->o.user, t, s, loss);
        if (st != RECUR_OK) return callback_fail(t, st, s, "the step callback", errors, NULL);
    }
    if ((t->o.eval || t->eval_plan) && t->o.eval_every > 0 && s % t->o.eval_every == 0) return evaluate(t);
    return RECUR_OK;
}

recur_status recur_trainer_run(recur_trainer *t, int64_t n_steps)
{
    if (!t) return RECUR_ERR_ARG;
    if (n_steps < 0)
        return recur_trainer_set_error(t, RECUR_ERR_ARG, "trainer_run: n_steps = %lld must be >= 0",
                                       (long long)n_steps);
    t->stop = 0;
    t->run_start = recur_trainer_now();
    t->run_first = t->step;
    t->run_total = t->step + n_steps;
    t->last_draw = -1;
    recur_status st = RECUR_OK;
    for (int64_t i = 0; i < n_steps && st == RECUR_OK && !t->stop; i++) {
        st = train_step(t);
        if (st == RECUR_OK) recur_progress_step(t, t->stop || i == n_steps - 1);
    }
    if (st == RECUR_OK && (t->o.eval || t->eval_plan) && t->o.eval_every == 0 && t->step > t->run_first) st = evaluate(t);
    recur_progress_end(t);
    return st;
}

void recur_trainer_stop(recur_trainer *t)
{
    if (t) t->stop = 1;
}

/* --------------------------------------------------------------- queries */

recur_plan *recur_trainer_plan(recur_trainer *t) { return t ? t->plan : NULL; }
recur_optim *recur_trainer_optim(recur_trainer *t) { return t ? t->opt : NULL; }
int64_t recur_trainer_step(const recur_trainer *t) { return t ? t->step : 0; }
float recur_trainer_loss(const recur_trainer *t) { return t ? t->last_loss : NAN; }
double recur_trainer_eval_loss(const recur_trainer *t) { return t ? t->eval_loss : NAN; }

