/*
 * cli/train.h — what the two files of `recur train` share: the
 * options, and the state of a run that the trainer's callbacks see.
 */
#ifndef RECUR_CLI_TRAIN_H
#define RECUR_CLI_TRAIN_H

#include "charnet.h"
#include "sampler.h"

typedef struct train_args {
    const char *text, *checkpoint, *backend, *cell, *optimizer, *loss_csv, *loss_plot;
    int64_t hidden, layers, embed, window, batch, epochs, steps, seed, save_every, sample_length, progress_every;
    double lr, clip, test_fraction, temperature;
    int resume;
} train_args;

typedef struct train_run {
    const train_args *a;
    const char *text_path;      /* the file read (a data set name resolved) */
    cli_model m;
    char *vocab;                /* the vocabulary as UTF-8 (checkpoint metadata) */
    recur_corpus *text, *train, *test; /* test is NULL without a test part */
    int64_t L, B;               /* window and batch */
    uint64_t seed;
    double test_fraction;
    int64_t n_train_windows, n_test_windows, steps_per_epoch, total;
    double unigram;             /* entropy of the training text's symbol frequencies, nats */

    recur_graph *g;
    cli_net net;
    recur_value next, mask, loss;
    recur_trainer *t;
    recur_plan *eval;           /* the loss alone, for the test part (NULL without one) */
    cli_sampler sampler;

    int64_t *perm, perm_epoch;  /* the order of the training windows in epoch perm_epoch */
    float *x, *y, *ones, *emask; /* one batch, [L, B] each: ids, targets, a mask of ones, the test mask */
    int64_t *windows;           /* B window indices */
    double epoch_start, epoch_loss;
    int64_t epoch_steps;
    FILE *csv;
    /* the losses of this run, for the plot: every step's (a growing array), and the test loss
     * at each epoch's end and the last step (room for cap_tests) */
    float *losses, *test_losses;
    double *test_steps;
    int64_t n_losses, cap_losses, n_tests, cap_tests;
    int64_t first_step;         /* the step the run started from */
} train_run;

/* The trainer's callbacks (train_loop.c); user is the train_run. */
recur_status train_feed(void *user, int64_t step, recur_plan *plan);
recur_status train_on_step(void *user, recur_trainer *t, int64_t step, float loss);
recur_status train_on_save(void *user, recur_ckpt *ck);

/* The mean loss per symbol over the test part (every window of it), in nats. */
recur_status train_test_loss(train_run *r, double *loss);

/* Prints a greedy sample and one at the temperature of the options, after `what` ("epoch 1"). */
recur_status train_samples(train_run *r, const char *what);

/* Monotonic wall time in seconds. */
double train_now(void);

#endif
