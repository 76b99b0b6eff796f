/*
 * recur/trainer.h — the training loop: gradients, one compiled plan, an
 * optimizer, a feed callback, progress lines, periodic evaluation, NaN
 * detection and checkpoints that resume a run exactly.
 *
 *   static recur_status feed(void *user, int64_t step, recur_plan *plan)
 *   {
 *       batch *b = user;                      // choose the batch from `step`
 *       return recur_plan_feed(plan, b->x, b->data + step % b->n * b->size, b->size);
 *   }
 *
 *   recur_unroll(g);                          // loops must be unrolled first
 *   recur_trainer_opts o = recur_trainer_defaults();
 *   o.optim.lr = 1e-2;
 *   o.feed = feed;
 *   o.user = &b;
 *   o.steps_per_epoch = n_batches;
 *   recur_trainer *t = recur_trainer_new(g, loss, n_params, params, &o);
 *   if (!t) fprintf(stderr, "%s\n", recur_errmsg(g));
 *   else if (recur_trainer_run(t, 1000) != RECUR_OK) fprintf(stderr, "%s\n", recur_trainer_errmsg(t));
 *   recur_trainer_save(t, "model.ckpt");
 *   recur_trainer_free(t);
 *
 * One step is: feed(user, step, plan) → run the plan (loss, every gradient
 * and the extra outputs) → check that the loss is finite → one optimizer
 * step → the per-step callback → every eval_every steps the evaluation
 * callback → the progress line. `step` counts the steps done before this
 * one (0 for the very first step of a training, whatever run it is in),
 * and survives a checkpoint: a feed that picks its batch from `step`
 * alone (or from a seed and a position the checkpoint keeps, see on_save)
 * makes a resumed run feed exactly what an uninterrupted one would.
 *
 * Progress is written to a FILE (stderr by default). On a terminal it is
 * one line redrawn in place with '\r' (at most 10 times a second, and at
 * the end of a run); elsewhere it is a plain line every progress_every
 * steps:
 *
 *   step 340/1000  epoch 2  loss 1.234 (mean 1.301)  12.3k tok/s  ETA 1m23s
 *
 * "epoch" appears when steps_per_epoch is set, "tok/s" when
 * tokens_per_step is set ("steps/s" otherwise); the rate is this run's
 * steps over its wall time so far and ETA is the steps left at that rate.
 * An evaluation writes its own line: "step 400/1000  eval loss 1.187".
 *
 * Errors: recur_trainer_new returns NULL with the reason on the graph
 * (recur_errmsg); every other call that fails returns a status and leaves
 * its reason in recur_trainer_errmsg, naming the step it happened at.
 */
#ifndef RECUR_TRAINER_H
#define RECUR_TRAINER_H

#include "checkpoint.h"
#include "exec.h"
#include "model.h"
#include "optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque trainer. */
typedef struct recur_trainer recur_trainer;

/**
 * Feeds the inputs of one step into `plan` (recur_plan_feed). `step` is
 * the number of steps done before this one. Return RECUR_OK, or a status
 * that stops training: the trainer's message then names the step, and
 * says the callback's reason when it gave one through
 * recur_trainer_set_error (or the plan's message when a recur_plan_feed
 * call failed during the callback).
 */
typedef recur_status (*recur_trainer_feed_fn)(void *user, int64_t step, recur_plan *plan);

/**
 * Called after each successful step with the number of steps now done
 * (1 after the first) and the step's loss. The plan's outputs (the extra
 * ones included) hold this step's values. A status other than RECUR_OK
 * stops training with that status; recur_trainer_stop stops it cleanly.
 */
typedef recur_status (*recur_trainer_step_fn)(void *user, recur_trainer *t, int64_t step, float loss);

/**
 * Evaluates the model after `step` steps (usually on held-out data,
 * through a plan of its own compiled with inference = 1) and writes the
 * loss to report to *loss. A status other than RECUR_OK stops training.
 */
typedef recur_status (*recur_trainer_eval_fn)(void *user, recur_trainer *t, int64_t step, double *loss);

/**
 * Adds the caller's own state to a checkpoint being saved (a data
 * position, a seed, an epoch's shuffle) with recur_ckpt_set_int and
 * friends. Keys starting with "trainer." are the trainer's.
 */
typedef recur_status (*recur_trainer_save_fn)(void *user, recur_ckpt *ck);

/**
 * Reads the caller's own state back from a checkpoint being loaded. It is
 * called after the trainer has validated everything of its own and before
 * it changes anything, so a failure here (give a reason with
 * recur_trainer_set_error) leaves the trainer as it was.
 */
typedef recur_status (*recur_trainer_load_fn)(void *user, recur_trainer *t, recur_ckpt *ck);

/** How progress is shown. */
typedef enum recur_progress_mode {
    RECUR_PROGRESS_AUTO = 0, /**< LINE when the progress file is a terminal, PLAIN otherwise (the default) */
    RECUR_PROGRESS_OFF,      /**< nothing is written */
    RECUR_PROGRESS_LINE,     /**< one line redrawn with '\r' */
    RECUR_PROGRESS_PLAIN     /**< a line every progress_every steps and at the end of each run */
} recur_progress_mode;

/**
 * Options of a trainer. Start from recur_trainer_defaults(), which fills
 * Adam's defaults into `optim` (recur_optim_defaults: a zero is a valid
 * setting of most optimizer fields, so zeros do not mean "default" there);
 * zeros in the other fields select their defaults.
 */
typedef struct recur_trainer_opts {
    recur_optim_opts optim;       /**< the optimizer (kind, lr, clipping, schedule) */
    recur_compile_opts compile;   /**< the plan's backend; check_finite = 1 names the op that made a NaN */
    int n_extra;                  /**< extra values to compute each step (readable through the plan) */
    const recur_value *extra;     /**< n_extra values of the graph (copied) */

    recur_trainer_feed_fn feed;   /**< feeds each step's inputs (NULL: inputs fed once, by the caller) */
    recur_trainer_step_fn on_step;/**< after each step (may be NULL) */
    recur_trainer_eval_fn eval;   /**< every eval_every steps (may be NULL) */
    int64_t eval_every;           /**< steps between evaluations (0: only at the end of each run) */
    /* Evaluation without writing it (when eval is NULL): the trainer builds an instance "eval." of eval_model
     * (recur/model.h; its output 0 is the loss) over inputs of eval_shapes, sharing the trained parameters,
     * compiles it for inference, and at each evaluation runs eval_batches batches, each fed by eval_feed (its
     * `step` argument is the batch's index), reporting their mean loss. */
    const struct recur_model *eval_model;
    const recur_shape *eval_shapes;
    recur_trainer_feed_fn eval_feed;
    int64_t eval_batches;
    recur_trainer_save_fn on_save;/**< adds the caller's state to a checkpoint (may be NULL) */
    recur_trainer_load_fn on_load;/**< reads it back (may be NULL) */
    void *user;                   /**< passed to every callback */

    recur_progress_mode progress; /**< how progress is shown (default AUTO) */
    FILE *progress_file;          /**< where (default stderr) */
    int64_t progress_every;       /**< PLAIN: steps between lines (default 100) */
    int64_t steps_per_epoch;      /**< > 0: show the epoch of the last step, 1 + (step - 1) / steps_per_epoch */
    double tokens_per_step;       /**< > 0: show tokens per second (e.g. T * B); 0: steps per second */
    int64_t mean_window;          /**< the running mean covers the last this many steps (default 100) */
} recur_trainer_opts;

/** The default options: Adam with PyTorch's defaults, progress on stderr, everything else off. */
RECUR_API recur_trainer_opts recur_trainer_defaults(void);

/**
 * Makes a trainer of the scalar `loss` of g over the n_params parameters
 * `params`: adds their gradients (recur_grad), compiles one plan for the
 * loss, the gradients and o->extra, and creates the optimizer
 * (recur_optim_new with o->optim). Every loop of g must be unrolled
 * (recur_unroll) first. NULL on failure with the reason on the graph
 * (recur_errmsg(g)): a loss that is not one element, an open or
 * un-unrolled loop, a bad parameter or option. o may be NULL (the
 * defaults). The trainer keeps pointers to g: free it before the graph.
 */
RECUR_API recur_trainer *recur_trainer_new(recur_graph *g, recur_value loss, int n_params, const recur_value *params,
                                 const recur_trainer_opts *o);

/** Frees a trainer, its plan and its optimizer. NULL is allowed. */
RECUR_API void recur_trainer_free(recur_trainer *t);

/** Message of the trainer's most recent failure ("" if none). */
RECUR_API const char *recur_trainer_errmsg(const recur_trainer *t);

/** Status of the trainer's most recent failure (RECUR_OK if none). */
RECUR_API recur_status recur_trainer_errcode(const recur_trainer *t);

/**
 * Records a failure on the trainer (printf-style), for callbacks to give
 * the reason of the status they return. Returns `code`.
 */
RECUR_API recur_status recur_trainer_set_error(recur_trainer *t, recur_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/**
 * Runs n_steps more steps (see the top of this header). Returns RECUR_OK
 * when they are all done or a callback called recur_trainer_stop. Stops at
 * the first failure, which names the step:
 *   - the feed callback's status (RECUR_ERR_FEED for an input never fed);
 *   - the plan's error, e.g. a kernel's bad index, or with
 *     compile.check_finite the first node that made a NaN or an infinity;
 *   - RECUR_ERR_RUNTIME when the loss is NaN or infinite (the message says
 *     to set compile.check_finite to find the op), or a gradient is (the
 *     optimizer's message names the parameter);
 *   - a callback's status.
 * A step that fails before its update (feed, run, loss, gradients)
 * changes no parameter and does not count; one whose callback fails is
 * done and counted.
 */
RECUR_API recur_status recur_trainer_run(recur_trainer *t, int64_t n_steps);

/** Asks a running recur_trainer_run to return RECUR_OK after the current step (from a callback). */
RECUR_API void recur_trainer_stop(recur_trainer *t);

/* --------------------------------------------------------------- queries */

/** The compiled plan (to feed inputs once, or read the extra outputs after a step). */
RECUR_API recur_plan *recur_trainer_plan(recur_trainer *t);

/** The optimizer (to change the lr, or read its state). */
RECUR_API recur_optim *recur_trainer_optim(recur_trainer *t);

/** Steps done since the training began (restored by recur_trainer_load). */
RECUR_API int64_t recur_trainer_step(const recur_trainer *t);

/** The loss of the last step (NaN before the first step since the trainer was made or restored). */
RECUR_API float recur_trainer_loss(const recur_trainer *t);

/** Mean loss of the last mean_window steps since the trainer was made or restored (NaN before one). */
RECUR_API double recur_trainer_mean_loss(const recur_trainer *t);

/** The last evaluation's loss (NaN before the first evaluation). */
RECUR_API double recur_trainer_eval_loss(const recur_trainer *t);

/* ----------------------------------------------------------- checkpoints */

/**
 * A new checkpoint holding every parameter of the graph under its name,
 * every state tensor of the optimizer under its name (recur_optim_state),
 * and the metadata "trainer.step" (int), "trainer.optim" (the kind's
 * name), "trainer.optim_steps" (int, the optimizer's count), "trainer.lr"
 * (float, the next step's), "trainer.plan_runs" (int, the training plan's
 * completed runs) and whatever on_save adds.
 * NULL with the reason in recur_trainer_errmsg.
 */
RECUR_API recur_ckpt *recur_trainer_checkpoint(recur_trainer *t);

/**
 * Restores a checkpoint made by recur_trainer_checkpoint. Everything is
 * checked first — every parameter of the graph present with its shape,
 * every optimizer state tensor present with its shape, the optimizer's
 * kind, the step count and lr — then on_load is called, and only then is
 * anything written: on failure (RECUR_ERR_ARG, RECUR_ERR_SHAPE,
 * RECUR_ERR_FORMAT naming the tensor or key) the trainer and the graph are
 * unchanged. Resuming with the same data then reproduces an uninterrupted
 * run's losses bit for bit, dropout included (the training plan's run
 * count, which its masks depend on, is restored too).
 */
RECUR_API recur_status recur_trainer_restore(recur_trainer *t, recur_ckpt *ck);

/** recur_trainer_checkpoint, then recur_ckpt_save to `path` (atomic; see recur/checkpoint.h). */
RECUR_API recur_status recur_trainer_save(recur_trainer *t, const char *path);

/** recur_ckpt_load from `path`, then recur_trainer_restore. */
RECUR_API recur_status recur_trainer_load(recur_trainer *t, const char *path);

/* -------------------------------------------------------------- progress */

/**
 * Formats a progress line (without a newline) into buf (len bytes, always
 * NUL-terminated) as the trainer writes it, e.g.
 * "step 340/1000  epoch 2  loss 1.234 (mean 1.301)  12.3k tok/s  ETA 1m23s",
 * from `step` of `total` done in `seconds` of this run's `run_steps`.
 * Fields are left out as described at the top of this header. Returns buf.
 */
RECUR_API char *recur_trainer_progress_line(const recur_trainer *t, int64_t step, int64_t total, int64_t run_steps,
                                  double seconds, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
