/*
 * cli/lines.c — `recur train --lines`: the lines of a text as sequences,
 * their batches with lengths, the loss over the real positions, the test
 * loss over every test line, samples that are lines, and what a
 * checkpoint records of it (cli/lines.h says how it all fits).
 */
#include "lines.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recur/mpi.h"

/* Lines a sample writes at the options' temperature (and one greedy line). */
enum { SAMPLE_LINES = 4 };

static const char *const long_lines_names[] = {"split", "cut", "error"};

/* Parses --long-lines; -1 when it is none of the names. */
static int long_lines_parse(const char *name, recur_long_lines *how)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(name, long_lines_names[i]) == 0) return *how = (recur_long_lines)i, 0;
    return -1;
}

int lines_check_args(train_args *a, const cli_cmd *cmd)
{
    recur_long_lines how;
    if (!a->lines && cli_find_opt(cmd, "column")->seen) return cli_usage_error("train", "--column goes with --lines");
    if (!a->lines && cli_find_opt(cmd, "long-lines")->seen)
        return cli_usage_error("train", "--long-lines goes with --lines");
    if (long_lines_parse(a->long_lines, &how) != 0)
        return cli_usage_error("train", "--long-lines: '%s' is not split, cut or error", a->long_lines);
    if (a->lines && !cli_find_opt(cmd, "window")->seen) a->window = CLI_LINES_WINDOW;
    return CLI_EXIT_OK;
}

/* Bytes of code point cp in UTF-8. */
static size_t utf8_len(int32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

/* The text of the lines seqs[0..n) of c (whole lines, one sequence each), each followed by a newline: a new corpus. */
static recur_corpus *lines_text(const recur_corpus *c, const recur_line_seq *seqs, int64_t n)
{
    const int64_t *ids = recur_corpus_ids(c);
    size_t bytes = 0, at = 0;
    for (int64_t k = 0; k < n; k++) {
        for (int64_t i = 0; i < seqs[k].len; i++) bytes += utf8_len(recur_corpus_symbol(c, ids[seqs[k].start + i]));
        bytes++;
    }
    char *text = malloc(bytes + 1);
    if (!text) return NULL;
    for (int64_t k = 0; k < n; k++) {
        if (recur_corpus_decode(c, ids + seqs[k].start, seqs[k].len, text + at, bytes + 1 - at) != RECUR_OK) {
            free(text);
            return NULL;
        }
        at += strlen(text + at);
        text[at++] = '\n';
    }
    recur_corpus *lines = recur_corpus_from_text(text, at);
    free(text);
    return lines;
}

int lines_load(train_run *r)
{
    const train_args *a = r->a;
    cli_lines *ln = r->lines = calloc(1, sizeof *ln);
    if (!ln) return cli_error("train", "out of memory"), CLI_EXIT_FAIL;
    r->m.lines = 1;
    long_lines_parse(a->long_lines, &ln->opts.long_lines); /* checked by lines_check_args */
    ln->opts.column = a->column;
    recur_lines_opts whole = {.column = a->column}; /* each line one sequence, however long */
    if (recur_lines_find(r->text, &whole, NULL, 0, &ln->in_file) != RECUR_OK)
        return cli_error("train", "%s: %s", r->text_path, recur_data_errmsg()), CLI_EXIT_FAIL;
    recur_line_seq *seqs = malloc(sizeof *seqs * (size_t)ln->in_file.seqs);
    if (!seqs) return cli_error("train", "out of memory for %lld lines", (long long)ln->in_file.seqs), CLI_EXIT_FAIL;
    recur_corpus *text = NULL;
    if (recur_lines_find(r->text, &whole, seqs, ln->in_file.seqs, &ln->in_file) == RECUR_OK)
        text = lines_text(r->text, seqs, ln->in_file.seqs);
    free(seqs);
    if (!text) return cli_error("train", "%s: the lines' text: %s", r->text_path, recur_data_errmsg()), CLI_EXIT_FAIL;
    ln->file = r->text;
    r->text = text;
    return CLI_EXIT_OK;
}

int lines_resume(train_run *r, const cli_cmd *cmd, recur_ckpt *ck)
{
    const train_args *a = r->a;
    int64_t lines = 0, column = 0;
    const char *how = "split";
    recur_ckpt_get_int(ck, "model.lines", &lines);
    if (lines && !r->lines)
        return cli_usage_error("train", "%s is a model of lines (trained with --lines): give --lines to resume it",
                               a->checkpoint);
    if (!lines && r->lines)
        return cli_usage_error("train", "%s was trained on windows of a text, not on lines: resume it without --lines",
                               a->checkpoint);
    if (!lines) return CLI_EXIT_OK;
    recur_ckpt_get_int(ck, "train.column", &column);
    recur_ckpt_get_str(ck, "train.long_lines", &how);
    if (column != a->column)
        return cli_usage_error("train", "--column %lld differs from the resumed checkpoint's %lld: give --column %lld",
                               (long long)a->column, (long long)column, (long long)column);
    recur_long_lines saved;
    if (long_lines_parse(how, &saved) != 0)
        return cli_error("train", "checkpoint %s: train.long_lines = \"%s\" is not split, cut or error", a->checkpoint,
                         how), CLI_EXIT_FAIL;
    if (cli_find_opt(cmd, "long-lines")->seen && saved != r->lines->opts.long_lines)
        return cli_usage_error("train", "--long-lines %s differs from the resumed checkpoint's %s; leave it out",
                               a->long_lines, how);
    r->lines->opts.long_lines = saved;
    return CLI_EXIT_OK;
}

int lines_split(train_run *r)
{
    cli_lines *ln = r->lines;
    ln->opts.max_steps = r->L; /* the window */
    recur_lines_count c;
    if (recur_lines_find(ln->file, &ln->opts, NULL, 0, &c) != RECUR_OK) /* a long line named in the text as read */
        return cli_error("train", "%s: %s%s", r->text_path, recur_data_errmsg(),
                         recur_data_errcode() == RECUR_ERR_FORMAT && ln->opts.long_lines == RECUR_LINES_REFUSE
                             ? " (--window; give a larger one, or --long-lines split or cut)"
                             : ""),
               CLI_EXIT_FAIL;
    recur_corpus_free(ln->file);
    ln->file = NULL;
    recur_lines_opts o = {.max_steps = r->L, .long_lines = ln->opts.long_lines};
    if (recur_lines_find(r->text, &o, NULL, 0, &ln->count) != RECUR_OK ||
        !(ln->seqs = malloc(sizeof *ln->seqs * (size_t)ln->count.seqs)) ||
        recur_lines_find(r->text, &o, ln->seqs, ln->count.seqs, &ln->count) != RECUR_OK)
        return cli_error("train", "%s: the lines' sequences: %s", r->text_path,
                         ln->seqs ? recur_data_errmsg() : "out of memory"), CLI_EXIT_FAIL;
    ln->n_seqs = ln->count.seqs;
    int64_t n_lines = ln->count.lines, n_test = (int64_t)floor((double)n_lines * r->test_fraction);
    ln->n_train_lines = n_test > 0 && n_test < n_lines ? n_lines - n_test : n_lines;
    while (ln->n_train < ln->n_seqs && ln->seqs[ln->n_train].line <= ln->n_train_lines) ln->n_train++;
    if (ln->n_train < ln->n_seqs) { /* the parts of the lines' text, for the unigram entropy and the header */
        if (recur_corpus_split(r->text, ln->seqs[ln->n_train].start, &r->train, &r->test) != RECUR_OK)
            return cli_error("train", "splitting the lines: %s", recur_data_errmsg()), CLI_EXIT_FAIL;
    } else {
        r->train = r->text;
    }
    r->L = ln->count.longest < r->L ? ln->count.longest : r->L; /* T: the longest sequence */
    r->n_train_windows = ln->n_train;
    r->n_test_windows = ln->n_seqs - ln->n_train;
    if (ln->n_train < r->B * r->ranks)
        return cli_error("train",
                         "the training part of %s holds %lld lines (%lld sequences), fewer than a batch of %lld: give "
                         "more lines, or a smaller --batch or --test-fraction",
                         r->text_path, (long long)ln->n_train_lines, (long long)ln->n_train,
                         (long long)(r->B * r->ranks)), CLI_EXIT_FAIL;
    r->steps_per_epoch = recur_shard_steps(ln->n_train, r->B, r->ranks);
    double steps = 0;
    for (int64_t k = 0; k < ln->n_train; k++) steps += (double)ln->seqs[k].steps;
    ln->symbols_per_step = steps / (double)ln->n_train * (double)r->B;
    ln->lengths_v = malloc(sizeof *ln->lengths_v * (size_t)r->B);
    ln->columns_v = malloc(sizeof *ln->columns_v * (size_t)r->B);
    ln->which = malloc(sizeof *ln->which * (size_t)r->B);
    if (!ln->lengths_v || !ln->columns_v || !ln->which) return cli_error("train", "out of memory"), CLI_EXIT_FAIL;
    return CLI_EXIT_OK;
}

recur_status lines_build(train_run *r)
{
    cli_lines *ln = r->lines;
    recur_graph *g = r->g;
    recur_value ids = recur_input(g, "ids", recur_shape2(r->L, r->B));
    ln->lengths = recur_input(g, "lengths", recur_shape1(r->B));
    recur_status st = cli_net_over_lengths(g, &r->m, ids, ln->lengths, RECUR_NONE, RECUR_NONE, &r->net);
    if (st != RECUR_OK) return st;
    r->next = recur_input(g, "next", recur_shape2(r->L, r->B));
    r->mask = recur_length_mask(g, ln->lengths, r->L); /* [T, B]: 1 at each line's real steps */
    r->loss = recur_name(g, recur_softmax_xent(g, r->net.logits, r->next, r->mask), "loss");
    ln->columns = recur_input(g, "columns", recur_shape2(1, r->B));
    ln->test_loss = recur_softmax_xent(g, r->net.logits, r->next, recur_mul(g, r->mask, ln->columns));
    return recur_ok(r->loss) && recur_ok(ln->test_loss) ? RECUR_OK : recur_errcode(g);
}

/* Fills batch which[0..B) into r->x, r->y and the lengths and feeds them (and the columns, when given) to plan. */
static recur_status feed(train_run *r, recur_plan *plan, const int64_t *which, const float *columns)
{
    cli_lines *ln = r->lines;
    int64_t n = r->L * r->B;
    recur_status st = recur_lines_batch(r->text, ln->seqs, ln->n_seqs, which, r->B, r->L, r->x, r->y, ln->lengths_v);
    if (st != RECUR_OK) return recur_trainer_set_error(r->t, st, "a batch of lines: %s", recur_data_errmsg());
    if ((st = recur_plan_feed(plan, r->net.ids, r->x, n)) != RECUR_OK) return st;
    if ((st = recur_plan_feed(plan, r->next, r->y, n)) != RECUR_OK) return st;
    if ((st = recur_plan_feed(plan, ln->lengths, ln->lengths_v, r->B)) != RECUR_OK) return st;
    return columns ? recur_plan_feed(plan, ln->columns, columns, r->B) : RECUR_OK;
}

recur_status lines_feed(train_run *r, recur_plan *plan, const int64_t *which)
{
    return feed(r, plan, which, NULL);
}

/*
 * Every test sequence once, in batches of B whose last one is filled with
 * columns of padding (masked out by the columns input); batch k's loss is
 * the mean over its P_k real positions, so the mean over the part is
 * sum_k loss_k P_k / sum_k P_k. Under mpirun each rank takes its share of
 * the sequences and the sums are added up over the ranks.
 */
recur_status lines_test_loss(train_run *r, double *loss)
{
    cli_lines *ln = r->lines;
    const int64_t B = r->B;
    int64_t at, N;
    recur_shard_range(ln->n_seqs - ln->n_train, r->rank, r->ranks, &at, &N);
    double sum[2] = {0, 0}; /* losses times real positions, real positions */
    for (int64_t first = 0; first < N; first += B) {
        for (int64_t b = 0; b < B; b++) {
            ln->which[b] = first + b < N ? ln->n_train + at + first + b : -1;
            ln->columns_v[b] = first + b < N ? 1.0f : 0.0f;
        }
        recur_status st = feed(r, r->eval, ln->which, ln->columns_v);
        if (st == RECUR_OK) st = recur_plan_run(r->eval);
        float l = 0;
        if (st == RECUR_OK) st = recur_plan_fetch(r->eval, ln->test_loss, &l, 1);
        if (st != RECUR_OK) return recur_trainer_set_error(r->t, st, "test loss: %s", recur_plan_errmsg(r->eval));
        double real = 0;
        for (int64_t b = 0; b < B; b++) real += ln->columns_v[b] * ln->lengths_v[b];
        sum[0] += (double)l * real;
        sum[1] += real;
    }
    if (recur_mpi_sum(sum, 2) != RECUR_OK)
        return recur_trainer_set_error(r->t, RECUR_ERR_RUNTIME, "test loss: %s", recur_mpi_errmsg());
    *loss = sum[1] > 0 ? sum[0] / sum[1] : NAN;
    return RECUR_OK;
}

recur_status lines_samples(train_run *r, const char *what)
{
    const train_args *a = r->a;
    cli_sampling how[2] = {{0, 0, 1}, {a->temperature, a->top_k, a->top_p}};
    char desc[128];
    int at = snprintf(desc, sizeof desc, "temperature %g", a->temperature);
    if (a->top_k > 0) at += snprintf(desc + at, sizeof desc - (size_t)at, ", top %lld", (long long)a->top_k);
    if (a->top_p < 1) snprintf(desc + at, sizeof desc - (size_t)at, ", nucleus %g", a->top_p);
    if (isatty(fileno(stderr))) fputs("\r\033[K", stderr); /* clear the trainer's progress line */
    printf("--- samples after %s: lines from a line's start, at most %lld symbols each\n[greedy]\n", what,
           (long long)a->sample_length);
    uint64_t rng = r->seed + (uint64_t)recur_trainer_step(r->t);
    recur_status st = RECUR_OK;
    for (int k = 0; k < 2 && st == RECUR_OK; k++) {
        if (k == 1) printf("[%s]\n", desc);
        st = cli_sampler_lines(&r->sampler, r->text, NULL, 0, k == 0 ? 1 : SAMPLE_LINES, a->sample_length, &how[k],
                               &rng, stdout);
    }
    printf("---\n");
    fflush(stdout);
    return st == RECUR_OK ? RECUR_OK : recur_trainer_set_error(r->t, st, "sampling: %s", r->sampler.why);
}

recur_status lines_save_meta(train_run *r, recur_ckpt *ck)
{
    cli_lines *ln = r->lines;
    recur_status st = recur_ckpt_set_int(ck, "train.window", ln->opts.max_steps); /* the window, not T */
    if (st == RECUR_OK) st = recur_ckpt_set_str(ck, "train.long_lines", long_lines_names[ln->opts.long_lines]);
    if (st == RECUR_OK) st = recur_ckpt_set_int(ck, "train.column", ln->opts.column);
    return st;
}

void lines_print(const train_run *r)
{
    const cli_lines *ln = r->lines;
    int64_t n_test_lines = ln->count.lines - ln->n_train_lines;
    printf("lines: %lld", (long long)ln->count.lines);
    if (ln->opts.column) printf(" (column %lld)", (long long)ln->opts.column);
    if (ln->in_file.blank) printf(", %lld blank left out", (long long)ln->in_file.blank);
    printf("; training part: %lld lines, %lld symbols with their newlines; test part: %lld lines\n",
           (long long)ln->n_train_lines, (long long)recur_corpus_len(r->train), (long long)n_test_lines);
    printf("sequences: a line and its newline, the longest %lld steps; batches padded to T = %lld steps, each "
           "line read for its own length", (long long)ln->count.longest, (long long)r->L);
    if (ln->count.long_lines)
        printf("; %lld line%s longer than the window of %lld %s", (long long)ln->count.long_lines,
               ln->count.long_lines == 1 ? "" : "s", (long long)ln->opts.max_steps,
               ln->opts.long_lines == RECUR_LINES_CUT ? "cut" : "split into pieces");
    printf(" (%lld training and %lld test sequences)\n", (long long)ln->n_train, (long long)(ln->n_seqs - ln->n_train));
}

void lines_free(train_run *r)
{
    cli_lines *ln = r->lines;
    if (!ln) return;
    recur_corpus_free(ln->file);
    free(ln->seqs);
    free(ln->lengths_v);
    free(ln->columns_v);
    free(ln->which);
    free(ln);
    r->lines = NULL;
}
