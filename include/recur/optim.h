/*
 * recur/optim.h — optimizers, gradient clipping and learning-rate schedules.
 *
 * An optimizer updates a fixed list of parameters of a graph in place (their
 * storage is recur_param_data) from gradients the caller computed, usually
 * the outputs of a plan compiled for recur_grad's gradient values:
 *
 *   recur_value params[2] = {W, b}, grads[2];
 *   recur_grad(g, loss, 2, params, grads);
 *   recur_plan *plan = recur_compile(g, 3, (recur_value[]){loss, grads[0], grads[1]}, NULL);
 *   recur_optim_opts o = recur_optim_defaults(RECUR_OPTIM_ADAM);
 *   o.lr = 1e-2;
 *   o.max_grad_norm = 5;
 *   recur_optim *opt = recur_optim_new(g, &o, 2, params);
 *   for (...) {
 *       feed the inputs; recur_plan_run(plan);
 *       if (recur_optim_step_plan(opt, plan, grads) != RECUR_OK) puts(recur_optim_errmsg(opt));
 *   }
 *   recur_optim_free(opt);
 *
 * The update rules are PyTorch's (torch.optim.SGD, Adam, AdamW, RMSprop,
 * Adagrad, with their defaults), written out with each kind below. In
 * them g is a parameter's gradient after clipping, p the parameter, t the
 * number of the step (1 for the first), lr the step's learning rate and wd
 * the weight decay; every state tensor starts at zero (Adagrad's sum at
 * initial_accumulator_value).
 *
 * A step allocates nothing: every state tensor is allocated when the
 * optimizer is made. The state (step count, learning rate and the named
 * state tensors) is readable and writable, so a checkpoint can save and
 * restore it exactly.
 */
#ifndef RECUR_OPTIM_H
#define RECUR_OPTIM_H

#include "exec.h"
#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* -------------------------------------------------------------- schedules */

/** How the learning rate changes from step to step. */
typedef enum recur_schedule_kind {
    RECUR_SCHEDULE_CONSTANT,    /**< lr never changes (the default) */
    RECUR_SCHEDULE_STEP,        /**< lr *= gamma after every step_size steps (PyTorch's StepLR) */
    RECUR_SCHEDULE_EXPONENTIAL  /**< lr *= gamma after every step (PyTorch's ExponentialLR) */
} recur_schedule_kind;

/**
 * A learning-rate schedule; zeros are the constant schedule. Schedules
 * count optimizer steps, not epochs: the lr of the first step is the
 * optimizer's lr, and once t steps are done the next step uses
 *   STEP:         lr * gamma^floor(t / step_size)
 *   EXPONENTIAL:  lr * gamma^t
 * which is what PyTorch's StepLR and ExponentialLR give when
 * scheduler.step() is called after every optimizer.step(). For a decay
 * every k epochs of n steps each, use step_size = k * n.
 */
typedef struct recur_schedule {
    recur_schedule_kind kind;
    int64_t step_size; /**< STEP: steps between decays (>= 1) */
    double gamma;      /**< STEP, EXPONENTIAL: the factor, > 0 (usually < 1) */
} recur_schedule;

/**
 * The learning rate of step t + 1 (after t steps are done) under schedule s
 * starting from lr0 (the closed forms above). NULL is the constant
 * schedule; NaN for a schedule recur_optim_new would refuse or t < 0.
 */
RECUR_API double recur_schedule_lr(const recur_schedule *s, double lr0, int64_t t);

/* ------------------------------------------------------------- optimizers */

/** The optimizers. */
typedef enum recur_optim_kind {
    /**
     * Stochastic gradient descent, with momentum m, dampening d and Nesterov:
     *   g += wd p;
     *   if m != 0: buf = (t == 1) ? g : m buf + (1 - d) g;
     *              g = nesterov ? g + m buf : buf;
     *   p -= lr g.
     * State: "sgd.momentum/<param>" (only when m != 0).
     */
    RECUR_OPTIM_SGD,
    /**
     * Adam (Kingma and Ba), with L2 weight decay added to the gradient:
     *   g += wd p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
     *   (amsgrad: v_max = max(v_max, v), used below in place of v)
     *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
     * State: "adam.m/<param>", "adam.v/<param>" (and "adam.v_max/<param>").
     */
    RECUR_OPTIM_ADAM,
    /**
     * AdamW (Loshchilov and Hutter): Adam with decoupled weight decay,
     * p *= 1 - lr wd first, then Adam's update without the L2 term.
     * State: "adamw.m/<param>", "adamw.v/<param>" (and "adamw.v_max/<param>").
     */
    RECUR_OPTIM_ADAMW,
    /**
     * RMSprop (Hinton), with smoothing alpha, optional momentum m and
     * centering:
     *   g += wd p;  sq = alpha sq + (1 - alpha) g^2;
     *   centered: ga = alpha ga + (1 - alpha) g;  avg = sqrt(sq - ga^2) + eps;
     *   otherwise: avg = sqrt(sq) + eps;
     *   m != 0: buf = m buf + g / avg;  p -= lr buf;
     *   m == 0: p -= lr g / avg.
     * State: "rmsprop.square_avg/<param>", "rmsprop.momentum/<param>" (when
     * m != 0), "rmsprop.grad_avg/<param>" (when centered).
     */
    RECUR_OPTIM_RMSPROP,
    /**
     * Adagrad (Duchi et al.), with learning-rate decay:
     *   g += wd p;  sum += g^2;
     *   p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(sum) + eps).
     * State: "adagrad.sum/<param>".
     */
    RECUR_OPTIM_ADAGRAD
} recur_optim_kind;

/** The name of an optimizer kind: "sgd", "adam", "adamw", "rmsprop", "adagrad" ("unknown" otherwise). */
RECUR_API const char *recur_optim_kind_name(recur_optim_kind kind);

/** The kind called `name` (as recur_optim_kind_name writes it); RECUR_ERR_ARG if there is none. */
RECUR_API recur_status recur_optim_kind_parse(const char *name, recur_optim_kind *kind);

/**
 * Options of an optimizer. Start from recur_optim_defaults(kind), which
 * fills PyTorch's defaults, and change what you need: a zero is a valid
 * setting of most fields (beta1 = 0, eps = 0), so zeros do not mean
 * "default" here. Fields a kind does not use are ignored.
 */
typedef struct recur_optim_opts {
    recur_optim_kind kind;
    double lr;                 /**< learning rate, >= 0 (SGD, Adam, AdamW: 1e-3; RMSprop, Adagrad: 1e-2) */
    /** >= 0: an L2 term wd p added to the gradient, but decoupled for AdamW (AdamW: 1e-2, others 0) */
    double weight_decay;
    double momentum;           /**< SGD, RMSprop: >= 0 (default 0, no momentum state) */
    double dampening;          /**< SGD: in [0, 1] (default 0) */
    int nesterov;              /**< SGD: 1 for Nesterov momentum (needs momentum > 0 and dampening 0) */
    double beta1, beta2;       /**< Adam, AdamW: in [0, 1) (defaults 0.9 and 0.999) */
    int amsgrad;               /**< Adam, AdamW: 1 to divide by the largest v so far */
    double eps;                /**< Adam, AdamW, RMSprop: >= 0 (default 1e-8); Adagrad: default 1e-10 */
    double alpha;              /**< RMSprop: smoothing constant in [0, 1] (default 0.99) */
    int centered;              /**< RMSprop: 1 to divide by an estimate of the gradient's variance */
    double lr_decay;           /**< Adagrad: >= 0 (default 0) */
    double initial_accumulator_value; /**< Adagrad: >= 0, the sum's starting value (default 0) */
    /**
     * > 0: every step first scales all the gradients by
     * max_grad_norm / ||g|| when their global L2 norm ||g|| (over every
     * parameter) is above it, as recur_clip_grad_norm does; 0: off (default).
     */
    double max_grad_norm;
    /** > 0: every gradient element is then clamped to [-clip_value, clip_value]; 0: off (default). */
    double clip_value;
    recur_schedule schedule;   /**< how lr changes from step to step (default constant) */
} recur_optim_opts;

/** PyTorch's defaults for `kind` (see each field of recur_optim_opts). */
RECUR_API recur_optim_opts recur_optim_defaults(recur_optim_kind kind);

/** An opaque optimizer. */
typedef struct recur_optim recur_optim;

/**
 * Creates an optimizer of the n parameters `params` of g (each a
 * parameter, none listed twice) with options `o` (NULL: Adam's defaults),
 * allocating every state tensor. NULL on failure, with the reason on the
 * graph (recur_errmsg(g)): a value that is not a parameter, or an option
 * out of range (the message names it, e.g. "beta2 = 1 is outside [0, 1)").
 * The optimizer keeps pointers to g and to the parameters' storage: free it
 * before the graph.
 */
RECUR_API recur_optim *recur_optim_new(recur_graph *g, const recur_optim_opts *o, int n, const recur_value *params);

/** Frees an optimizer and its state. NULL is allowed. */
RECUR_API void recur_optim_free(recur_optim *o);

/** Message of the optimizer's most recent failure ("" if none). */
RECUR_API const char *recur_optim_errmsg(const recur_optim *o);

/** Status of the optimizer's most recent failure (RECUR_OK if none). */
RECUR_API recur_status recur_optim_errcode(const recur_optim *o);

/**
 * One update of every parameter. grads[i] points at the gradient of
 * params[i] (as many floats as the parameter has), e.g.
 * recur_plan_output(plan, dparam_i); the gradients are only read. In
 * order: the global gradient norm is computed (in double); clipping
 * (max_grad_norm, then clip_value) applies to the values the rule reads;
 * the rule of the kind updates each parameter with the lr of this step;
 * the step count goes up by one and the schedule sets the next lr.
 * RECUR_ERR_ARG if grads or one of them is NULL. RECUR_ERR_RUNTIME if a
 * gradient holds a NaN or an infinity (the message names the parameter),
 * or if the update would write a NaN or an infinity into a parameter or a
 * state tensor (from a NaN in restored state, or an overflow; the message
 * names the parameter or state tensor, the element and the value): then
 * nothing is changed and the step does not count (to undo such a step, an
 * optimizer keeps a second copy of its parameters' values and state).
 */
RECUR_API recur_status recur_optim_step(recur_optim *o, const float *const *grads);

/**
 * recur_optim_step with grads[i] = recur_plan_output(plan, grad_values[i]):
 * grad_values[i] is the gradient value of params[i] in the same graph
 * (from recur_grad) and an output of `plan`, which must have run.
 * RECUR_ERR_SHAPE if its shape is not the parameter's; the plan's own
 * error (not an output, not run yet) otherwise.
 */
RECUR_API recur_status recur_optim_step_plan(recur_optim *o, recur_plan *plan, const recur_value *grad_values);

/** The learning rate the next step will use (after the schedule's changes so far). */
RECUR_API double recur_optim_lr(const recur_optim *o);

/**
 * Sets the learning rate of the next step; a schedule goes on from it
 * (STEP multiplies it by gamma at the next multiple of step_size).
 * RECUR_ERR_ARG if lr is negative or not finite.
 */
RECUR_API recur_status recur_optim_set_lr(recur_optim *o, double lr);

/** Steps done so far (each successful recur_optim_step counts one). */
RECUR_API int64_t recur_optim_steps(const recur_optim *o);

/**
 * Sets the count of steps done (to restore a checkpoint: Adam's bias
 * correction, Adagrad's decay and the schedule go on from it). It does not
 * change the lr. RECUR_ERR_ARG if t < 0.
 */
RECUR_API recur_status recur_optim_set_steps(recur_optim *o, int64_t t);

/**
 * The global L2 norm of the last step's gradients before clipping (-1
 * before the first step; NaN or infinite after a step refused for it).
 */
RECUR_API double recur_optim_grad_norm(const recur_optim *o);

/** Puts the optimizer back as recur_optim_new made it: zero steps, the options' lr, fresh state. */
RECUR_API void recur_optim_reset(recur_optim *o);

/** The optimizer's kind. */
RECUR_API recur_optim_kind recur_optim_kind_of(const recur_optim *o);

/** How many parameters the optimizer updates. */
RECUR_API int recur_optim_size(const recur_optim *o);

/** Parameter i (in the order given to recur_optim_new); RECUR_NONE if i is out of range. */
RECUR_API recur_value recur_optim_param(const recur_optim *o, int i);

/* ---------------------------------------------------------- state tensors */

/** One state tensor of an optimizer, as a checkpoint sees it. */
typedef struct recur_optim_tensor {
    const char *name;  /**< "<kind>.<state>/<parameter name>", e.g. "adam.m/lstm.weight_ih_l0" */
    float *data;       /**< numel floats, writable (to restore them); owned by the optimizer */
    int64_t numel;
    recur_shape shape; /**< the parameter's shape */
    recur_value param; /**< the parameter it belongs to */
} recur_optim_tensor;

/**
 * Number of state tensors (parameters times the kind's states per
 * parameter, see recur_optim_kind; 0 for SGD without momentum). They are
 * ordered by parameter, then by state in the order the kind lists them.
 */
RECUR_API int recur_optim_state_count(const recur_optim *o);

/** Describes state tensor i in *out; RECUR_ERR_ARG if i is out of range. */
RECUR_API recur_status recur_optim_state(recur_optim *o, int i, recur_optim_tensor *out);

/** Describes the state tensor called `name` in *out; RECUR_ERR_ARG (naming it) if there is none. */
RECUR_API recur_status recur_optim_state_find(recur_optim *o, const char *name, recur_optim_tensor *out);

/* --------------------------------------------------------------- clipping */

/**
 * The global L2 norm sqrt(sum_i sum_j grads[i][j]^2) of n arrays of
 * numel[i] floats each, accumulated in double, written to *norm.
 * RECUR_ERR_ARG for NULL arrays or a negative count.
 */
RECUR_API recur_status recur_grad_norm(int n, const float *const *grads, const int64_t *numel, double *norm);

/**
 * Clipping by global norm (the remedy for exploding gradients): computes
 * ||g|| as recur_grad_norm does and, when it is above max_norm, scales
 * every element of every array by max_norm / ||g||, so that the clipped
 * gradients have norm max_norm (PyTorch's clip_grad_norm_ divides by
 * ||g|| + 1e-6 instead). *norm (may be NULL) receives the norm before
 * clipping. RECUR_ERR_ARG for NULL arrays or max_norm <= 0 or NaN;
 * RECUR_ERR_RUNTIME, leaving the arrays as they were, if the norm is NaN or
 * infinite.
 */
RECUR_API recur_status recur_clip_grad_norm(int n, float *const *grads, const int64_t *numel, double max_norm,
                                  double *norm);

/**
 * Clipping by value: clamps every element to [-clip, clip] (PyTorch's
 * clip_grad_value_); NaNs stay NaN. RECUR_ERR_ARG for NULL arrays or
 * clip <= 0 or NaN.
 */
RECUR_API recur_status recur_clip_grad_value(int n, float *const *grads, const int64_t *numel, double clip);

#ifdef __cplusplus
}
#endif
#endif
