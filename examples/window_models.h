/*
 * examples/window_models.h — what examples/sines.c and examples/sunspots.c
 * share (included by both; everything here is static): the material's two
 * models reading a sliding window of W values of a series to predict the
 * next one,
 *   dense: y = w2 . leaky_relu(W1 x + b1, 0.1) + b2      (W1: 5 x W, 5 units)
 *   lstm:  an LSTM with 3 state values reads x_1 .. x_W one per step,
 *          y = w . h_W + b                               (3 -> 1)
 * trained full-batch on the windows of the training part with the
 * trainer (Adam, mean squared error), and evaluated on the windows whose
 * targets are the test part, which comes after the training part in time.
 */
#ifndef RECUR_EXAMPLES_WINDOW_MODELS_H
#define RECUR_EXAMPLES_WINDOW_MODELS_H

/* clock_gettime and CLOCK_MONOTONIC are POSIX, not C11: include this header first. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "recur.h"

enum { WM_WINDOW = 5, WM_DENSE_UNITS = 5, WM_LSTM_STATE = 3 };

typedef enum wm_kind { WM_DENSE, WM_LSTM } wm_kind;

/* The experiment: a (normalised) series, where its training part ends, and how to train. */
typedef struct wm_setup {
    const float *v;   /* len values */
    int64_t len;
    int64_t n_train;  /* values [0, n_train) are the training part, the rest the test part */
    int64_t steps;    /* optimizer steps (each on every training window) */
    double lr;
    int64_t eval_every;
    uint64_t seed;
} wm_setup;

/* One trained model and what it gave. */
typedef struct wm_model {
    wm_kind kind;
    const char *label;     /* for legends and reports */
    float *pred_train;     /* prediction of each training window's target, n_train - W of them */
    float *pred_test;      /* of each test target, len - n_train of them */
    int64_t n_curve;       /* points of the loss curves */
    float *curve_train, *curve_test; /* training and test mse after steps curve_step[i] */
    double *curve_step;
    double seconds;        /* training wall time */
} wm_model;

/* The model's prediction for windows x ([N, W] rows for the dense net, [W, N, 1] for the LSTM). */
static recur_value wm_build(recur_graph *g, wm_kind kind, recur_value x)
{
    if (kind == WM_DENSE) {
        recur_value h = recur_leaky_relu(g, recur_dense(g, "dense.hidden", x, WM_DENSE_UNITS, 1), 0.1f);
        return recur_dense(g, "dense.out", h, 1, 1);
    }
    recur_rnn rnn;
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = 1, .hidden = WM_LSTM_STATE};
    if (recur_rnn_new(g, "lstm", &o, x, RECUR_NONE, RECUR_NONE, &rnn) != RECUR_OK) return RECUR_NONE;
    return recur_dense(g, "lstm.out", recur_last_step(g, rnn.outputs), 1, 1);
}

/* Inputs for the windows of v[0..len): their values and targets, laid out for `kind`. */
static recur_status wm_windows(wm_kind kind, const float *v, int64_t len, float *x, float *y)
{
    return kind == WM_DENSE ? recur_windows_rows(v, len, WM_WINDOW, x, y)
                            : recur_windows_time_major(v, len, WM_WINDOW, x, y);
}

static double wm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* What the trainer's callbacks see. */
typedef struct wm_run {
    wm_model *m;
    recur_plan *eval;              /* inference plan: both losses and predictions */
    recur_value loss_train, loss_test, pred_train, pred_test;
    int64_t cap;
} wm_run;

/* Evaluation: the mse on both parts with the current weights, recorded for the loss curves. */
static recur_status wm_eval(void *user, recur_trainer *t, int64_t step, double *loss)
{
    wm_run *r = user;
    if (recur_plan_run(r->eval) != RECUR_OK)
        return recur_trainer_set_error(t, recur_plan_errcode(r->eval), "evaluation: %s", recur_plan_errmsg(r->eval));
    float ltr, lte;
    recur_plan_fetch(r->eval, r->loss_train, &ltr, 1);
    recur_plan_fetch(r->eval, r->loss_test, &lte, 1);
    if (r->m->n_curve < r->cap) {
        r->m->curve_step[r->m->n_curve] = (double)step;
        r->m->curve_train[r->m->n_curve] = ltr;
        r->m->curve_test[r->m->n_curve++] = lte;
    }
    *loss = lte;
    return RECUR_OK;
}

static int wm_fail(recur_graph *g, const char *label, const char *what, const char *msg)
{
    fprintf(stderr, "%s: %s: %s\n", label, what, msg ? msg : recur_errmsg(g));
    recur_graph_free(g);
    return 1;
}

/* Builds, trains and evaluates model m on s. Returns 0, or 1 after printing why. */
static int wm_train(const wm_setup *s, wm_model *m)
{
    const int64_t W = WM_WINDOW, ntr = s->n_train - W, nte = s->len - s->n_train;
    recur_graph *g = recur_graph_new(s->seed);
    if (!g) return 1;
    int dense = m->kind == WM_DENSE;
    recur_shape str = dense ? recur_shape2(ntr, W) : recur_shape3(W, ntr, 1);
    recur_shape ste = dense ? recur_shape2(nte, W) : recur_shape3(W, nte, 1);
    recur_value x_tr = recur_input(g, "x_train", str), y_tr = recur_input(g, "y_train", recur_shape2(ntr, 1));
    recur_value x_te = recur_input(g, "x_test", ste), y_te = recur_input(g, "y_test", recur_shape2(nte, 1));
    wm_run r = {.m = m};
    r.pred_train = wm_build(g, m->kind, x_tr);
    r.pred_test = wm_build(g, m->kind, x_te); /* the same names: the same weights */
    r.loss_train = recur_mse(g, r.pred_train, y_tr);
    r.loss_test = recur_mse(g, r.pred_test, y_te);
    if (!recur_ok(r.loss_test) || recur_unroll(g) != RECUR_OK) return wm_fail(g, m->label, "building", NULL);

    /* Windows of both parts: the test windows start W values before the test part. */
    float *xtr = malloc(sizeof(float) * (size_t)(ntr * W)), *ytr = malloc(sizeof(float) * (size_t)ntr);
    float *xte = malloc(sizeof(float) * (size_t)(nte * W)), *yte = malloc(sizeof(float) * (size_t)nte);
    r.cap = s->steps / s->eval_every + 2;
    m->curve_step = malloc(sizeof(double) * (size_t)r.cap);
    m->curve_train = malloc(sizeof(float) * (size_t)r.cap);
    m->curve_test = malloc(sizeof(float) * (size_t)r.cap);
    m->pred_train = malloc(sizeof(float) * (size_t)ntr);
    m->pred_test = malloc(sizeof(float) * (size_t)nte);
    if (!xtr || !ytr || !xte || !yte || !m->curve_step || !m->curve_train || !m->curve_test || !m->pred_train ||
        !m->pred_test)
        return wm_fail(g, m->label, "allocating", "out of memory");
    wm_windows(m->kind, s->v, s->n_train, xtr, ytr);
    wm_windows(m->kind, s->v + s->n_train - W, nte + W, xte, yte);

    recur_value ps[16];
    int np = recur_params(g, ps, 16);
    recur_trainer_opts o = recur_trainer_defaults();
    o.optim.lr = s->lr;
    o.eval = wm_eval;
    o.eval_every = s->eval_every;
    o.user = &r;
    o.progress_every = s->steps / 4;
    o.progress = RECUR_PROGRESS_OFF;
    recur_trainer *t = recur_trainer_new(g, r.loss_train, np, ps, &o);
    recur_value outs[4] = {r.loss_train, r.loss_test, r.pred_train, r.pred_test};
    r.eval = t ? recur_compile(g, 4, outs, &(recur_compile_opts){.inference = 1}) : NULL;
    if (!t || !r.eval) return wm_fail(g, m->label, "making the trainer", NULL);
    recur_plan *p = recur_trainer_plan(t);
    recur_plan_feed(p, x_tr, xtr, ntr * W);
    recur_plan_feed(p, y_tr, ytr, ntr);
    recur_plan_feed(r.eval, x_tr, xtr, ntr * W);
    recur_plan_feed(r.eval, y_tr, ytr, ntr);
    recur_plan_feed(r.eval, x_te, xte, nte * W);
    recur_plan_feed(r.eval, y_te, yte, nte);
    free(xtr), free(ytr), free(xte), free(yte);

    double l0;
    wm_eval(&r, t, 0, &l0); /* the curves start before training */
    double start = wm_now();
    if (recur_trainer_run(t, s->steps) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", m->label, recur_trainer_errmsg(t));
        recur_trainer_free(t);
        recur_plan_free(r.eval);
        recur_graph_free(g);
        return 1;
    }
    m->seconds = wm_now() - start;
    if (s->steps % s->eval_every) wm_eval(&r, t, s->steps, &l0); /* the last point of the curves */
    recur_plan_fetch(r.eval, r.pred_train, m->pred_train, ntr);
    recur_plan_fetch(r.eval, r.pred_test, m->pred_test, nte);
    recur_trainer_free(t);
    recur_plan_free(r.eval);
    recur_graph_free(g);
    return 0;
}

static void wm_free(wm_model *m)
{
    free(m->pred_train), free(m->pred_test), free(m->curve_step), free(m->curve_train), free(m->curve_test);
}

/* Mean squared error of p against y, n values. */
static double wm_mse(const float *p, const float *y, int64_t n)
{
    double se = 0;
    for (int64_t i = 0; i < n; i++) se += ((double)p[i] - y[i]) * ((double)p[i] - y[i]);
    return se / (double)n;
}

/* Makes directory `dir` (its parent must exist); 0 when it exists afterwards. */
static int wm_mkdir(const char *dir)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) return 0;
    fprintf(stderr, "cannot make the output directory %s: %s\n", dir, strerror(errno));
    return 1;
}

/*
 * The two plots of an experiment, as <dir>/<name>_loss.{svg,png} (the mse
 * curves of both models on both parts; `units` ends their title) and <dir>/<name>_predictions.{svg,png}
 * (v in display units, both models' predictions of every window over both
 * parts, the split marked). x values are x0 + i * dx. A missing gnuplot is
 * reported and skipped; returns 1 on any other failure.
 */
static int wm_plots(const char *dir, const char *name, const char *what, const char *units, const float *v, int64_t len,
                    int64_t n_train, double x0, double dx, const char *xlabel, const char *ylabel, wm_model m[2])
{
    char path[4096], title[256];
    const char *ext[2] = {"svg", "png"};
    recur_plot_series loss[4], pred[2], data = {.name = "data", .x0 = x0, .dx = dx, .y = v, .n = len};
    float *both[2];
    for (int k = 0; k < 2; k++) {
        char *lt = malloc(128), *le = malloc(128);
        snprintf(lt, 128, "%s, train", m[k].label);
        snprintf(le, 128, "%s, test", m[k].label);
        loss[2 * k] = (recur_plot_series){.name = lt, .x = m[k].curve_step, .y = m[k].curve_train, .n = m[k].n_curve,
                                          .colour = k + 1};
        loss[2 * k + 1] = (recur_plot_series){.name = le, .x = m[k].curve_step, .y = m[k].curve_test,
                                              .n = m[k].n_curve, .colour = k + 1, .dashed = 1};
        /* One line over both parts: predictions of the training windows, then of the test ones. */
        both[k] = malloc(sizeof(float) * (size_t)(len - WM_WINDOW));
        memcpy(both[k], m[k].pred_train, sizeof(float) * (size_t)(n_train - WM_WINDOW));
        memcpy(both[k] + n_train - WM_WINDOW, m[k].pred_test, sizeof(float) * (size_t)(len - n_train));
        pred[k] = (recur_plot_series){.name = m[k].label, .x0 = x0 + WM_WINDOW * dx, .dx = dx, .y = both[k],
                                      .n = len - WM_WINDOW};
    }
    int rc = 0;
    for (int e = 0; e < 2 && !rc; e++) {
        snprintf(title, sizeof title, "%s: mean squared error while training%s", what, units);
        recur_plot_opts lo = {.title = title, .ylabel = "mse", .log_y = 1};
        snprintf(path, sizeof path, "%s/%s_loss.%s", dir, name, ext[e]);
        recur_status st = recur_plot_loss(path, 4, loss, &lo);
        if (st == RECUR_OK) {
            snprintf(title, sizeof title, "%s: data and predictions of the next value from windows of %d", what,
                     WM_WINDOW);
            recur_plot_opts po = {.title = title, .xlabel = xlabel, .ylabel = ylabel};
            snprintf(path, sizeof path, "%s/%s_predictions.%s", dir, name, ext[e]);
            st = recur_plot_predictions(path, &data, 2, pred, x0 + (double)(n_train - 0.5) * dx, &po);
        }
        if (st == RECUR_ERR_UNSUPPORTED) {
            printf("no plots: %s\n", recur_plot_errmsg());
            break;
        }
        if (st != RECUR_OK) {
            fprintf(stderr, "%s\n", recur_plot_errmsg());
            rc = 1;
        } else {
            printf("wrote %s/%s_loss.%s and %s/%s_predictions.%s\n", dir, name, ext[e], dir, name, ext[e]);
        }
    }
    for (int k = 0; k < 4; k++) free((char *)loss[k].name);
    free(both[0]), free(both[1]);
    return rc;
}

#endif
