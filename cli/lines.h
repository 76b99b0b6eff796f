/*
 * cli/lines.h — `recur train --lines`: a character model over a text of
 * one sentence per line.
 *
 * Each line is one sequence (recur_lines_find, recur/data.h): it reads
 * the end of the line before, a newline, then the line, and predicts the
 * line and its own newline, from zero states, so the model learns where
 * lines start and end and `recur generate` writes whole lines. Blank lines
 * are left out; --column N reads the N-th tab-separated field of each line
 * (a TSV such as the Tatoeba pairs); the model's vocabulary is that of the
 * lines read. The last --test-fraction of the lines is the test part.
 *
 * Every batch holds --batch lines (shuffled each epoch) padded to T steps,
 * T the longest line and its newline, or --window when that is smaller;
 * their lengths go to the recurrent layer (recur_rnn_opts.lengths), so
 * each line's states stop at its end, and the loss is the mean
 * cross-entropy over the real positions only (recur_length_mask). A line
 * longer than --window steps is split into pieces of --window steps, each
 * a sequence of its own from zero states (no symbol is left out of
 * training or the test loss); --long-lines cut keeps only its first
 * --window steps, --long-lines error refuses the text naming the line.
 *
 * train.c and train_loop.c call these in this order when --lines is given
 * (r->lines is then set), each returning an exit code (CLI_EXIT_*) or a
 * status as the function it stands beside.
 */
#ifndef RECUR_CLI_LINES_H
#define RECUR_CLI_LINES_H

#include "args.h"
#include "train.h"

/* The window of --lines when --window is not given: lines up to 199 symbols stay whole. */
#define CLI_LINES_WINDOW 200

/* The lines of a run and the buffers of their batches. */
typedef struct cli_lines {
    recur_lines_opts opts;      /* --column, --long-lines, and max_steps: the window */
    recur_corpus *file;         /* the text as read, until lines_split has checked it against the window */
    recur_lines_count in_file;  /* its lines */
    recur_line_seq *seqs;       /* the sequences of the lines' text (the run's text): the training part's first */
    recur_lines_count count;    /* what recur_lines_find found in the lines' text at the window */
    int64_t n_seqs, n_train;    /* the test part is seqs[n_train .. n_seqs) */
    int64_t n_train_lines;      /* the training part's lines */
    double symbols_per_step;    /* real positions of an average batch of this rank */
    recur_value lengths;        /* input [B]: each sequence's steps */
    recur_value columns;        /* input [1, B]: 1 for a column holding a sequence, 0 for padding (test batches) */
    recur_value test_loss;      /* the mean loss over the real positions of the real columns */
    float *lengths_v, *columns_v; /* [B] each */
    int64_t *which;             /* [B]: the sequences of a test batch */
} cli_lines;

/* Checks --lines and its options (usage errors) and gives --window its default for lines. */
int lines_check_args(train_args *a, const cli_cmd *cmd);

/*
 * After the text is read (train_load_text): finds its lines (the
 * column, blank lines left out) and replaces r->text by the lines' text,
 * each line followed by a newline; keeps the text as read for
 * lines_split. Prints what is wrong (a missing column, no line) naming the
 * file and line.
 */
int lines_load(train_run *r);

/*
 * At the start of a resume: the checkpoint must be a model of lines when
 * --lines is given and only then, of the same --column; it gives
 * --long-lines unless that is given anew, and then the same.
 */
int lines_resume(train_run *r, const cli_cmd *cmd, recur_ckpt *ck);

/*
 * Instead of the split into windows: the window is r->L (--window, or the
 * checkpoint's); checks the long lines of the text as read against it,
 * finds the sequences, splits the lines into the training and test parts
 * (r->train and r->test are those parts of the lines' text), and sets
 * r->L to T, the steps of a batch, and the counts and steps per epoch.
 */
int lines_split(train_run *r);

/*
 * Instead of the model over windows: the model over [T, B] ids with their
 * lengths [B], the training loss r->loss over the real positions, and
 * the test loss. RECUR_OK or the graph's error.
 */
recur_status lines_build(train_run *r);

/* A training step's batch: the sequences which[0..B) (this rank's slice of the epoch's order), fed to plan. */
recur_status lines_feed(train_run *r, recur_plan *plan, const int64_t *which);

/* The mean loss per symbol over every sequence of the test part (of all ranks), in nats. */
recur_status lines_test_loss(train_run *r, double *loss);

/* Prints a greedy line and lines at the options' temperature, after `what`. */
recur_status lines_samples(train_run *r, const char *what);

/* Records the window, --long-lines and --column in a checkpoint (the model records model.lines). */
recur_status lines_save_meta(train_run *r, recur_ckpt *ck);

/* Prints the header's line about the data. */
void lines_print(const train_run *r);

/* Frees r->lines. */
void lines_free(train_run *r);

#endif
