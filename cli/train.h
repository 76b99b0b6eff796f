/*
 * cli/train.h — what the files of `recur train` share: the options, and
 * the state of a run that the trainer's callbacks see.
 *
 *   train.c        the options, the settings of a resumed run, building the model
 *   train_files.c  the text read (a file, a directory of .txt files, a data set),
 *                  the output paths checked before training, the loss history
 *   train_loop.c   the trainer's callbacks: batches, the learning rate, reports,
 *                  evaluations, checkpoints (the latest and the best), the plot
 *   lines.c        --lines: one sequence per line, batches padded with their lengths
 */
#ifndef RECUR_CLI_TRAIN_H
#define RECUR_CLI_TRAIN_H

#include "charnet.h"
#include "sampler.h"
#include "schedule.h"

typedef struct train_args {
    const char *text, *checkpoint, *best, *backend, *cell, *optimizer, *loss_csv, *loss_plot, *lr_schedule;
    int64_t hidden, layers, embed, window, batch, epochs, steps, seed, save_every, sample_length, progress_every,
        eval_every, lr_decay_every, warmup, top_k, threads;
    double lr, clip, test_fraction, temperature, dropout, lr_decay, top_p;
    int resume, check_finite, no_best, new_text;
    int lines;                  /* --lines (cli/lines.c) and its options: */
    int64_t column;             /* --column: the TSV field read, 0 the whole line */
    const char *long_lines;     /* --long-lines: split, cut or error */
} train_args;

typedef struct train_run {
    const train_args *a;
    char text_path[4096];       /* the file or directory read (a data set name resolved) */
    int n_files;                /* the .txt files read from a directory (0: one file) */
    cli_model m;
    char *vocab;                /* the vocabulary as UTF-8 (checkpoint metadata) */
    recur_corpus *text, *train, *test; /* test is NULL without a test part */
    struct cli_lines *lines;    /* --lines: the text's lines as sequences (cli/lines.c), else NULL */
    uint32_t text_crc;          /* CRC-32 of the text's code points (train_text_crc) */
    int64_t L, B;               /* window and batch (of this rank: --batch / ranks) */
    int rank, ranks;            /* under mpirun: this process's rank and the ranks (0 and 1 otherwise) */
    uint64_t seed;
    double test_fraction;
    int64_t n_train_windows, n_test_windows, steps_per_epoch, total;
    double unigram;             /* entropy of the training text's symbol frequencies, nats */
    cli_lr lr;                  /* the learning rate of each step */
    char best_path[4200];       /* where the best checkpoint goes ("": nowhere) */
    double best_loss;           /* the lowest test loss so far (infinity before one) */

    recur_graph *g;
    cli_net net;
    recur_value next, mask, loss;
    recur_trainer *t;
    recur_plan *eval;           /* the loss alone, for the test part (NULL without one) */
    cli_sampler sampler;

    int64_t *perm, perm_epoch;  /* the order of the training windows in epoch perm_epoch */
    float *x, *y, *ones, *emask; /* one batch, [L, B] each: ids, targets, a mask of ones, the test mask */
    int64_t *windows;           /* B window indices */
    double epoch_start;         /* when this run's part of the epoch began */
    double epoch_loss;          /* the sum of the epoch's training losses, steps before a resume included */
    int64_t epoch_steps;        /* the epoch's steps so far, steps before a resume included */
    int64_t epoch_run_steps;    /* those of them done by this run */
    FILE *csv;
    /* The losses for the plot: every step's from step losses_from on (a growing array), and
     * the test losses measured (growing too). */
    float *losses, *test_losses;
    double *test_steps;
    int64_t losses_from, n_losses, cap_losses, n_tests, cap_tests;
    int64_t first_step;         /* the step the run started from */
} train_run;

/* ----------------------------------------------------------- train_files.c */

/*
 * Loads the text named on the command line into r->text and
 * r->text_path: a UTF-8 text file; a directory, whose regular files named
 * *.txt are read in name order and joined (each ending in a newline);
 * when there is no such file and the name holds no '/', the data set of
 * that name (recur_data_path). An empty name, a FIFO, a device or a socket
 * is refused before anything is opened (reading one could block or never
 * end). Prints the reason and returns CLI_EXIT_FAIL on failure.
 */
int train_load_text(train_run *r, const char *arg);

/* CRC-32 of the text's code points, each as 4 bytes little-endian: it tells one text from another. */
uint32_t train_text_crc(const recur_corpus *c);

/*
 * Checks, before anything is trained, that every file the run will write
 * can be written: the checkpoint, the best checkpoint, the loss CSV and
 * plot (a file is made beside each and removed; a path that is a
 * directory is refused). Prints which one and why, and returns
 * CLI_EXIT_FAIL, when one cannot.
 */
int train_check_outputs(const train_run *r);

/*
 * A resumed run's loss history from its --loss-csv: keeps the lines of
 * the steps up to r->first_step (a run stopped after its last checkpoint
 * wrote more), rewrites the file with them, and takes their losses and
 * test losses for the plot, so that it covers the whole run. Without the
 * file, the plot starts at this run. Prints the reason and returns
 * CLI_EXIT_FAIL when the file cannot be read or written.
 */
int train_history_load(train_run *r);

/* Records a test loss measured after `step` steps, for the plot; -1 out of memory. */
int train_record_test(train_run *r, int64_t step, float loss);

/* Appends v to a growable array of *n values of `size` bytes with room for *cap; -1 out of memory. */
int train_push(void **a, size_t size, int64_t *n, int64_t *cap, const void *v);

/* ------------------------------------------------------------ train_loop.c */

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
