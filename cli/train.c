/*
 * cli/train.c — `recur train TEXT`: a character-level language
 * model on a UTF-8 text. The text is split by position into a training
 * part and a test part; each epoch visits the training part's windows of
 * L symbols (one every L) in a new shuffled order, B windows per step, the
 * model predicting the next symbol at every position (cross-entropy
 * averaged over the L B positions, BPTT over the window). Each epoch ends
 * with its time, the training and test losses against the unigram
 * entropy, and a checkpoint; the best checkpoint by test loss is kept
 * beside it; samples follow the first epoch and the end. This file holds
 * the options, a resumed run's settings and the building of the model.
 * With --lines the sequences are the text's lines instead (cli/lines.h).
 *
 * Under mpirun (`mpirun -np N recur train TEXT ...`, found from the
 * launcher's environment) the run is data-parallel (recur/mpi.h): --batch
 * is the batch of a step over all ranks, each rank reading its slice of
 * it, so N ranks take the steps one process would; only rank 0 prints and
 * writes files (checkpoints, the loss CSV and plot), and a rank that fails
 * ends the job (MPI_Abort).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "lines.h"
#include "threads.h"
#include "train.h"

/*
 * The entropy of the symbol frequencies of c, H = -sum_s p_s ln p_s with
 * p_s = count_s / n: the loss per symbol, in nats, of the best model that
 * ignores context.
 */
static double unigram_entropy(const recur_corpus *c)
{
    int64_t V = recur_corpus_vocab_size(c), n = recur_corpus_len(c);
    const int64_t *ids = recur_corpus_ids(c);
    int64_t *count = calloc((size_t)V, sizeof *count);
    if (!count) return NAN;
    for (int64_t i = 0; i < n; i++) count[ids[i]]++;
    double h = 0;
    for (int64_t s = 0; s < V; s++)
        if (count[s]) h -= (double)count[s] / (double)n * log((double)count[s] / (double)n);
    free(count);
    return h;
}

/* Refuses an option given on the command line that disagrees with the resumed checkpoint. */
static int keep_int(const cli_cmd *cmd, const char *opt, int64_t given, int64_t saved)
{
    const cli_opt *o = cli_find_opt(cmd, opt);
    if (o && o->seen && given != saved)
        return cli_usage_error("train",
                               "--%s %lld differs from the resumed checkpoint's %lld; a resumed run keeps its "
                               "model and data settings, so leave --%s out",
                               opt, (long long)given, (long long)saved, opt);
    return CLI_EXIT_OK;
}

static int keep_str(const cli_cmd *cmd, const char *opt, const char *given, const char *saved)
{
    const cli_opt *o = cli_find_opt(cmd, opt);
    if (o && o->seen && strcmp(given, saved) != 0)
        return cli_usage_error("train",
                               "--%s %s differs from the resumed checkpoint's %s; a resumed run keeps its "
                               "model and data settings, so leave --%s out",
                               opt, given, saved, opt);
    return CLI_EXIT_OK;
}

/* The option `opt` was given on the command line. */
static int given(const cli_cmd *cmd, const char *opt) { return cli_find_opt(cmd, opt)->seen; }

/*
 * Checks that the text is the one the checkpoint was trained on (its
 * CRC-32 and length; older checkpoints recorded only the length): another
 * text with the same symbols would silently change what the run learns
 * from, so it is refused unless --new-text says to go on, and then said
 * loudly.
 */
static int same_text(train_run *r, recur_ckpt *ck)
{
    const train_args *a = r->a;
    int64_t n_saved = -1, crc_saved = -1, n = recur_corpus_len(r->text);
    if (recur_ckpt_get_int(ck, "train.text_symbols", &n_saved) != RECUR_OK) n_saved = -1;
    if (recur_ckpt_get_int(ck, "train.text_crc", &crc_saved) != RECUR_OK) crc_saved = -1;
    int differs = (n_saved >= 0 && n_saved != n) || (crc_saved >= 0 && (uint32_t)crc_saved != r->text_crc);
    if (!differs) return CLI_EXIT_OK;
    const char *saved_path = "another text";
    recur_ckpt_get_str(ck, "train.text", &saved_path);
    char was[96] = "", now[96];
    if (crc_saved >= 0) snprintf(was, sizeof was, ", CRC-32 %08x", (unsigned)crc_saved);
    snprintf(now, sizeof now, ", CRC-32 %08x", (unsigned)r->text_crc);
    if (!a->new_text)
        return cli_error("train",
                         "%s (%lld symbols%s) is not the text %s was trained on (%s: %lld symbols%s), though its "
                         "symbols are the same: a resumed run would read other windows from it. Resume on that "
                         "text, or give --new-text to go on training on this one",
                         r->text_path, (long long)n, now, a->checkpoint, saved_path, (long long)n_saved, was),
               CLI_EXIT_FAIL;
    fprintf(stderr,
            "recur train: WARNING: %s (%lld symbols%s) is not the text %s was trained on (%s: %lld symbols%s); "
            "going on with it as --new-text asks: the epochs, windows and losses from here on are this text's\n",
            r->text_path, (long long)n, now, a->checkpoint, saved_path, (long long)n_saved, was);
    printf("WARNING: training goes on with another text than the checkpoint's (--new-text)\n");
    return CLI_EXIT_OK;
}

/*
 * The training settings a resumed run keeps unless the command line gives
 * them anew (the learning rate and its schedule, dropout), the position in
 * the current epoch and the best test loss so far. Checkpoints from before
 * a key existed lack it: the run then goes on with the defaults (a
 * constant learning rate: the one the trainer restored).
 */
static void training_state_from_checkpoint(train_run *r, const cli_cmd *cmd, recur_ckpt *ck)
{
    const train_args *a = r->a;
    double f;
    int64_t i;
    const char *s;
    r->m.dropout = a->dropout; /* reading the model's metadata cleared it */
    r->lr.lr0 = NAN;           /* NaN: the restored trainer's */
    if (!given(cmd, "lr") && recur_ckpt_get_float(ck, "train.lr", &f) == RECUR_OK && f >= 0 && isfinite(f))
        r->lr.lr0 = f;
    else if (given(cmd, "lr"))
        r->lr.lr0 = a->lr;
    if (!given(cmd, "lr-schedule") && recur_ckpt_get_str(ck, "train.lr_schedule", &s) == RECUR_OK)
        cli_lr_parse(s, &r->lr.decay.kind);
    if (!given(cmd, "lr-decay") && recur_ckpt_get_float(ck, "train.lr_decay", &f) == RECUR_OK && f > 0 && isfinite(f))
        r->lr.decay.gamma = f;
    if (!given(cmd, "lr-decay-every") && recur_ckpt_get_int(ck, "train.lr_decay_every", &i) == RECUR_OK && i >= 1)
        r->lr.decay.step_size = i;
    if (!given(cmd, "warmup") && recur_ckpt_get_int(ck, "train.warmup", &i) == RECUR_OK && i >= 0)
        r->lr.warmup = i;
    if (!given(cmd, "dropout") && recur_ckpt_get_float(ck, "train.dropout", &f) == RECUR_OK && f >= 0 && f < 1)
        r->m.dropout = f;
    if (recur_ckpt_get_float(ck, "train.epoch_loss", &f) == RECUR_OK && isfinite(f) &&
        recur_ckpt_get_int(ck, "train.epoch_steps", &i) == RECUR_OK && i >= 0) {
        r->epoch_loss = f;
        r->epoch_steps = i;
    }
    if (recur_ckpt_get_float(ck, "train.best_test_loss", &f) == RECUR_OK && !isnan(f)) r->best_loss = f;
}

/*
 * Takes the model and the data settings of a run to resume from its
 * checkpoint, after checking that the text has the vocabulary it was
 * trained on and that no option given disagrees.
 */
static int settings_from_checkpoint(train_run *r, const cli_cmd *cmd, recur_ckpt *ck, recur_optim_kind *optim)
{
    const train_args *a = r->a;
    int lines_rc = lines_resume(r, cmd, ck); /* a model of lines resumes with --lines only */
    if (lines_rc != CLI_EXIT_OK) return lines_rc;
    char why[512];
    recur_corpus *vocab = NULL;
    if (cli_model_load_meta(ck, &r->m, &vocab, why, sizeof why) != RECUR_OK)
        return cli_error("train", "checkpoint %s: %s", a->checkpoint, why), CLI_EXIT_FAIL;
    recur_corpus_free(vocab);
    const char *saved_vocab = NULL, *saved_optim = NULL;
    recur_ckpt_get_str(ck, "model.vocab", &saved_vocab);
    if (strcmp(saved_vocab, r->vocab) != 0)
        return cli_error("train", "the symbols of %s differ from the vocabulary of %s: resume on the text it was "
                                  "trained on", r->text_path, a->checkpoint), CLI_EXIT_FAIL;
    if (same_text(r, ck) != CLI_EXIT_OK) return CLI_EXIT_FAIL;
    int64_t L, B, seed;
    double frac;
    if (recur_ckpt_get_int(ck, "train.window", &L) != RECUR_OK ||
        recur_ckpt_get_int(ck, "train.batch", &B) != RECUR_OK ||
        recur_ckpt_get_int(ck, "train.seed", &seed) != RECUR_OK ||
        recur_ckpt_get_float(ck, "train.test_fraction", &frac) != RECUR_OK ||
        recur_ckpt_get_str(ck, "trainer.optim", &saved_optim) != RECUR_OK)
        return cli_error("train", "checkpoint %s: %s", a->checkpoint, recur_ckpt_errmsg(ck)), CLI_EXIT_FAIL;
    if (L < 1 || L > 100000 || B < 1 || B > 100000 || seed < 0 || !(frac >= 0 && frac < 1) ||
        recur_optim_kind_parse(saved_optim, optim) != RECUR_OK)
        return cli_error("train", "checkpoint %s: bad training settings in its metadata", a->checkpoint), CLI_EXIT_FAIL;
    int rc = keep_int(cmd, "hidden", a->hidden, r->m.hidden);
    if (!rc) rc = keep_int(cmd, "layers", a->layers, r->m.layers);
    if (!rc) rc = keep_int(cmd, "embed", a->embed, r->m.embed);
    recur_cell_kind cell = r->m.cell;
    cli_cell_parse(a->cell, &cell); /* checked when parsed */
    if (!rc && cell != r->m.cell) rc = keep_str(cmd, "cell", a->cell, cli_cell_layer(r->m.cell));
    if (!rc) rc = keep_int(cmd, "window", a->window, L);
    if (!rc) rc = keep_int(cmd, "batch", a->batch, B);
    if (!rc) rc = keep_int(cmd, "seed", a->seed, seed);
    if (!rc) rc = keep_str(cmd, "optimizer", a->optimizer, saved_optim);
    if (!rc && cli_find_opt(cmd, "test-fraction")->seen && a->test_fraction != frac)
        rc = cli_usage_error("train", "--test-fraction %g differs from the resumed checkpoint's %g; leave it out",
                             a->test_fraction, frac);
    if (!rc && B % r->ranks != 0)
        cli_error("train", "the checkpoint's batch of %lld does not split over %d ranks: run on a number of ranks "
                           "dividing it", (long long)B, r->ranks), rc = CLI_EXIT_FAIL;
    r->L = L;
    r->B = B / r->ranks;
    r->seed = (uint64_t)seed;
    r->test_fraction = frac;
    r->m.seed = r->seed;
    training_state_from_checkpoint(r, cmd, ck);
    return rc;
}

/* Splits the text into its training and test parts and counts their windows. */
static int split_text(train_run *r)
{
    int64_t n = recur_corpus_len(r->text), n_test = (int64_t)floor((double)n * r->test_fraction);
    if (n_test > 0 && n_test < n) {
        if (recur_corpus_split(r->text, n - n_test, &r->train, &r->test) != RECUR_OK)
            return cli_error("train", "splitting the text: %s", recur_data_errmsg()), CLI_EXIT_FAIL;
    } else {
        r->train = r->text; /* no test part: the whole text trains */
    }
    const recur_corpus *train = r->train;
    r->n_train_windows = recur_corpus_window_count(train, r->L, r->L);
    r->n_test_windows = r->test ? recur_corpus_window_count(r->test, r->L, r->L) : 0;
    if (r->n_train_windows < r->B * r->ranks)
        return cli_error("train",
                         "the training part of %s (%lld symbols) holds %lld windows of %lld symbols and the next one, "
                         "fewer than a batch of %lld: give a longer text, or a smaller --window or --batch",
                         r->text_path, (long long)recur_corpus_len(train), (long long)r->n_train_windows,
                         (long long)r->L, (long long)(r->B * r->ranks)), CLI_EXIT_FAIL;
    r->steps_per_epoch = recur_shard_steps(r->n_train_windows, r->B, r->ranks); /* every rank alike */
    return CLI_EXIT_OK;
}

/* Builds the training instance, the test plan and the sampler, unrolls, and makes the trainer. */
static int build(train_run *r, recur_optim_kind optim)
{
    const train_args *a = r->a;
    recur_graph *g = r->g = recur_graph_new(r->seed);
    if (!g) return cli_error("train", "out of memory"), CLI_EXIT_FAIL;
    recur_status st = r->lines ? lines_build(r) : cli_net_build(g, &r->m, "", r->L, r->B, 0, &r->net);
    if (st == RECUR_OK && !r->lines) {
        r->next = recur_input(g, "next", recur_shape2(r->L, r->B));
        r->mask = recur_input(g, "mask", recur_shape2(r->L, r->B));
        r->loss = recur_name(g, recur_softmax_xent(g, r->net.logits, r->next, r->mask), "loss");
        st = recur_ok(r->loss) ? RECUR_OK : recur_errcode(g);
    }
    if (st == RECUR_OK) st = cli_sampler_build(g, &r->m, &r->sampler);
    if (st == RECUR_OK) st = recur_unroll(g);
    if (st != RECUR_OK) return cli_error("train", "building the model: %s", recur_errmsg(g)), CLI_EXIT_FAIL;

    int n = recur_params(g, NULL, 0);
    recur_value *params = malloc(sizeof *params * (size_t)n);
    if (!params) return cli_error("train", "out of memory"), CLI_EXIT_FAIL;
    recur_params(g, params, n);
    recur_trainer_opts o = recur_trainer_defaults();
    o.optim = recur_optim_defaults(optim);
    o.optim.lr = isnan(r->lr.lr0) ? a->lr : r->lr.lr0; /* train_feed sets each step's */
    o.optim.max_grad_norm = a->clip;
    o.compile.backend = a->backend;
    o.compile.check_finite = a->check_finite;
    o.feed = train_feed;
    o.on_step = train_on_step;
    o.on_save = train_on_save;
    o.user = r;
    o.steps_per_epoch = r->steps_per_epoch;
    o.tokens_per_step = r->lines ? r->lines->symbols_per_step : (double)(r->L * r->B);
    o.progress_every = a->progress_every;
    r->t = recur_trainer_new(g, r->loss, n, params, &o);
    free(params);
    if (!r->t) return cli_error("train", "%s", recur_errmsg(g)), CLI_EXIT_FAIL;
    if (r->n_test_windows > 0) {
        recur_compile_opts eo = {.backend = a->backend, .inference = 1, .check_finite = a->check_finite};
        r->eval = recur_compile(g, 1, r->lines ? &r->lines->test_loss : &r->loss, &eo);
        if (!r->eval) return cli_error("train", "compiling the test plan: %s", recur_errmsg(g)), CLI_EXIT_FAIL;
    }
    if (cli_sampler_compile(&r->sampler, a->backend) != RECUR_OK)
        return cli_error("train", "compiling the sampler: %s", r->sampler.why), CLI_EXIT_FAIL;
    return CLI_EXIT_OK;
}

/* Prints what is about to be trained. */
static void print_header(train_run *r, const char *optim)
{
    const train_args *a = r->a;
    int64_t n_params = 0;
    recur_value p[64];
    int n = recur_params(r->g, p, 64);
    for (int i = 0; i < n && i < 64; i++) n_params += recur_shape_numel(recur_value_shape(r->g, p[i]));
    printf("text: %s", r->text_path);
    if (r->n_files) printf(" (%d .txt file%s)", r->n_files, r->n_files == 1 ? "" : "s");
    printf(", %lld symbols, %lld distinct\n", (long long)recur_corpus_len(r->text), (long long)r->m.vocab);
    if (r->lines) lines_print(r);
    else printf("training part: %lld symbols, %lld windows of %lld; test part: %lld symbols, %lld windows\n",
                (long long)recur_corpus_len(r->train), (long long)r->n_train_windows, (long long)r->L,
                (long long)(r->test ? recur_corpus_len(r->test) : 0), (long long)r->n_test_windows);
    printf("model: %s, %lld layer%s of %lld, ", recur_cell_kind_name(r->m.cell), (long long)r->m.layers,
           r->m.layers == 1 ? "" : "s", (long long)r->m.hidden);
    if (r->m.embed) printf("embedding of %lld, ", (long long)r->m.embed);
    else printf("one-hot inputs, ");
    printf("dense softmax over %lld symbols: %lld parameters", (long long)r->m.vocab, (long long)n_params);
    if (r->m.dropout > 0) printf("; dropout %g between layers and before the output", r->m.dropout);
    char lr[160];
    int threads = cli_threads();
    printf("\ntraining: %s, lr %s, gradient norm clipped at %g, batch %lld, %lld steps per epoch, backend %s, "
           "%d thread%s%s\n",
           optim, cli_lr_describe(&r->lr, lr, sizeof lr), a->clip, (long long)(r->B * r->ranks), (long long)r->steps_per_epoch,
           recur_plan_backend(recur_trainer_plan(r->t)), threads, threads == 1 ? "" : "s",
           a->check_finite ? ", every value checked for NaN and infinity" : "");
    if (r->ranks > 1)
        printf("data-parallel over %d MPI ranks: %lld windows each per step, gradients averaged over the ranks\n",
               r->ranks, (long long)r->B);
    if (r->eval) {
        printf("test loss at each epoch's end");
        if (a->eval_every) printf(" and every %lld steps", (long long)a->eval_every);
        if (r->best_path[0]) printf("; the best checkpoint by test loss goes to %s", r->best_path);
        putchar('\n');
    }
    printf("unigram entropy of the training part: %.4f nats/symbol (the loss of a model without context)\n",
           r->unigram);
    fflush(stdout);
}

static void free_run(train_run *r)
{
    if (r->csv) fclose(r->csv);
    cli_sampler_free(&r->sampler);
    recur_plan_free(r->eval);
    recur_trainer_free(r->t);
    recur_graph_free(r->g);
    if (r->train != r->text) recur_corpus_free(r->train);
    recur_corpus_free(r->test);
    recur_corpus_free(r->text);
    lines_free(r);
    free(r->vocab);
    free(r->perm);
    free(r->windows);
    free(r->x);
    free(r->y);
    free(r->ones);
    free(r->emask);
    free(r->losses);
    free(r->test_losses);
    free(r->test_steps);
}

/* The best checkpoint's path: --best, else the checkpoint's with ".best" before its extension ".ckpt". */
static void best_path(train_run *r)
{
    const train_args *a = r->a;
    const char *ck = a->checkpoint;
    size_t n = strlen(ck);
    if (a->no_best) r->best_path[0] = '\0';
    else if (a->best) snprintf(r->best_path, sizeof r->best_path, "%s", a->best);
    else if (n > 5 && strcmp(ck + n - 5, ".ckpt") == 0)
        snprintf(r->best_path, sizeof r->best_path, "%.*s.best.ckpt", (int)(n - 5), ck);
    else snprintf(r->best_path, sizeof r->best_path, "%s.best", ck);
}

/* Opens the loss CSV: a new one, or a resumed run's after reading its history. */
static int open_csv(train_run *r)
{
    const train_args *a = r->a;
    if (a->resume && train_history_load(r) != CLI_EXIT_OK) return CLI_EXIT_FAIL;
    if (!(r->csv = fopen(a->loss_csv, a->resume ? "a" : "w")))
        return cli_error("train", "--loss-csv %s: cannot open for writing: %s", a->loss_csv, strerror(errno)),
               CLI_EXIT_FAIL;
    if (ftell(r->csv) == 0) fprintf(r->csv, "step,loss,test_loss\n");
    return CLI_EXIT_OK;
}

/* The run after parsing: load, build, maybe resume, train. */
static int train(train_run *r, const cli_cmd *cmd)
{
    const train_args *a = r->a;
    char why[512];
    best_path(r);
    r->best_loss = INFINITY;
    int rc = train_check_outputs(r);
    if (!rc) rc = train_load_text(r, a->text);
    if (!rc && a->lines) rc = lines_load(r);
    if (rc) return rc;
    if (!(r->vocab = cli_vocab_string(r->text, why, sizeof why)))
        return cli_error("train", "%s: %s", r->text_path, why), CLI_EXIT_FAIL;
    r->text_crc = train_text_crc(r->text);
    recur_schedule_kind decay;
    cli_lr_parse(a->lr_schedule, &decay); /* checked when parsed */
    r->lr = (cli_lr){.lr0 = a->lr, .decay = {decay, a->lr_decay_every, a->lr_decay}, .warmup = a->warmup};
    r->m.dropout = a->dropout;

    recur_optim_kind optim;
    recur_optim_kind_parse(a->optimizer, &optim);
    recur_ckpt *ck = NULL;
    if (a->resume) {
        if (r->ranks > 1) { /* rank 0 reads it for every rank: the others' machines need not have it */
            if (recur_mpi_ckpt_load(a->checkpoint, 0, &ck) != RECUR_OK)
                return cli_error("train", "%s", recur_mpi_errmsg()), CLI_EXIT_FAIL;
        } else if (!(ck = cli_load_checkpoint("train", a->checkpoint))) {
            return CLI_EXIT_FAIL;
        }
        rc = settings_from_checkpoint(r, cmd, ck, &optim);
    } else {
        cli_cell_parse(a->cell, &r->m.cell);
        r->m.vocab = recur_corpus_vocab_size(r->text);
        r->m.hidden = a->hidden;
        r->m.layers = a->layers;
        r->m.embed = a->embed;
        r->L = a->window;
        r->B = a->batch / r->ranks; /* checked in cli_train */
        r->seed = (uint64_t)a->seed;
        r->m.seed = r->seed;
        r->test_fraction = a->test_fraction;
    }
    if (!rc) rc = r->lines ? lines_split(r) : split_text(r);
    if (!rc && r->lr.decay.kind == RECUR_SCHEDULE_STEP && r->lr.decay.step_size == 0)
        r->lr.decay.step_size = r->steps_per_epoch; /* by default the step schedule decays once an epoch */
    if (!rc) rc = build(r, optim);
    if (!rc && ck) {
        if (recur_trainer_restore(r->t, ck) != RECUR_OK) {
            cli_error("train", "resuming from %s: %s", a->checkpoint, recur_trainer_errmsg(r->t));
            rc = CLI_EXIT_FAIL;
        } else if (isnan(r->lr.lr0)) { /* a checkpoint from before the schedules: its rate goes on */
            r->lr.lr0 = recur_optim_lr(recur_trainer_optim(r->t));
        }
    }
    recur_ckpt_free(ck);
    if (!rc && recur_trainer_distribute(r->t, NULL) != RECUR_OK) /* rank 0's weights; gradients averaged */
        cli_error("train", "%s", recur_trainer_errmsg(r->t)), rc = CLI_EXIT_FAIL;
    if (rc) return rc;

    size_t LB = (size_t)(r->L * r->B);
    r->perm = malloc(sizeof *r->perm * (size_t)r->n_train_windows);
    r->windows = malloc(sizeof *r->windows * (size_t)r->B);
    r->x = malloc(sizeof *r->x * LB);
    r->y = malloc(sizeof *r->y * LB);
    r->ones = malloc(sizeof *r->ones * LB);
    r->emask = malloc(sizeof *r->emask * LB);
    if (!r->perm || !r->windows || !r->x || !r->y || !r->ones || !r->emask)
        return cli_error("train", "out of memory"), CLI_EXIT_FAIL;
    for (size_t i = 0; i < LB; i++) r->ones[i] = 1.0f;
    r->perm_epoch = -1;
    r->unigram = unigram_entropy(r->train);
    r->total = a->steps > 0 ? a->steps : a->epochs * r->steps_per_epoch;
    int64_t done = r->first_step = recur_trainer_step(r->t);
    if (r->epoch_steps != done % r->steps_per_epoch) { /* not this epoch's sums (no record, or another text) */
        r->epoch_loss = 0;
        r->epoch_steps = 0;
    }
    r->losses_from = done + 1;
    if (a->loss_csv && open_csv(r) != CLI_EXIT_OK) return CLI_EXIT_FAIL;
    print_header(r, recur_optim_kind_name(optim));
    if (a->resume) {
        printf("resumed from %s at step %lld", a->checkpoint, (long long)done);
        if (r->epoch_steps) printf(", %lld steps into epoch %lld", (long long)r->epoch_steps,
                                   (long long)(done / r->steps_per_epoch + 1));
        if (a->loss_plot && r->losses_from > 1)
            printf("; the loss plot starts at step %lld (give --loss-csv with the run's CSV to draw it whole)",
                   (long long)r->losses_from);
        putchar('\n');
    }
    if (done >= r->total) {
        printf("nothing to do: the run is at step %lld of %lld\n", (long long)done, (long long)r->total);
        return CLI_EXIT_OK;
    }
    r->epoch_start = train_now();
    if (recur_trainer_run(r->t, r->total - done) != RECUR_OK)
        return cli_error("train", "%s", recur_trainer_errmsg(r->t)), CLI_EXIT_FAIL;
    printf("done: %lld steps; the model is in %s\n", (long long)r->total, a->checkpoint);
    return CLI_EXIT_OK;
}

int cli_train(int argc, char **argv)
{
    train_args a = {
        .checkpoint = "model.ckpt", .cell = "lstm", .optimizer = "adam", .lr_schedule = "constant",
        .hidden = 128, .layers = 1, .window = 40, .batch = 64, .epochs = 1, .seed = 1,
        .sample_length = 200, .progress_every = 50,
        .lr = 2e-3, .clip = 5, .test_fraction = 0.1, .temperature = 0.5, .lr_decay = 0.97, .top_p = 1,
        .long_lines = "split",
    };
    cli_opt opts[] = {
        {"checkpoint", 'o', CLI_STR, &a.checkpoint, 0, 0, "PATH", "where to save the model (default model.ckpt)", 0},
        {"best", 0, CLI_STR, &a.best, 0, 0, "PATH",
         "where to keep the checkpoint of the lowest test loss (default: -o's path, .best before .ckpt)", 0},
        {"no-best", 0, CLI_FLAG, &a.no_best, 0, 0, "", "keep no best checkpoint", 0},
        {"resume", 0, CLI_FLAG, &a.resume, 0, 0, "",
         "go on from the checkpoint, with its model and data settings (and its lr, schedule, dropout unless given)", 0},
        {"new-text", 0, CLI_FLAG, &a.new_text, 0, 0, "",
         "with --resume: go on although TEXT is not the text the checkpoint was trained on", 0},
        {"hidden", 0, CLI_INT, &a.hidden, 1, 4096, "N", "units of each recurrent layer (default 128)", 0},
        {"layers", 0, CLI_INT, &a.layers, 1, 8, "N", "stacked recurrent layers (default 1)", 0},
        {"cell", 0, CLI_STR, &a.cell, 0, 0, "NAME", "lstm, gru or rnn (default lstm)", 0},
        {"embed", 0, CLI_INT, &a.embed, 0, 4096, "N", "embedding size; 0: one-hot inputs (default 0)", 0},
        {"dropout", 0, CLI_FLOAT, &a.dropout, 0, 0.95, "P",
         "drop units with probability P between layers and before the output, in training (default 0)", 0},
        {"window", 0, CLI_INT, &a.window, 1, 4096, "N",
         "symbols per window: BPTT length (default 40; with --lines the longest sequence, default 200)", 0},
        {"lines", 0, CLI_FLAG, &a.lines, 0, 0, "",
         "one sequence per line: a line and its newline, batches padded with their lengths (see above)", 0},
        {"column", 0, CLI_INT, &a.column, 0, 1000, "N",
         "with --lines: read the N-th tab-separated field of each line (default 0: the whole line)", 0},
        {"long-lines", 0, CLI_STR, &a.long_lines, 0, 0, "HOW",
         "with --lines, a line longer than --window steps: split (into pieces, the default), cut or error", 0},
        {"batch", 0, CLI_INT, &a.batch, 1, 4096, "N", "windows (with --lines, lines) per step (default 64)", 0},
        {"epochs", 'e', CLI_INT, &a.epochs, 1, 1000000, "N", "passes over the training part (default 1)", 0},
        {"steps", 0, CLI_INT, &a.steps, 0, 1e12, "N", "train this many steps in all instead (default 0: --epochs)", 0},
        {"lr", 0, CLI_FLOAT, &a.lr, 0, 10, "X", "learning rate (default 0.002)", 0},
        {"lr-schedule", 0, CLI_STR, &a.lr_schedule, 0, 0, "NAME",
         "constant; step: times --lr-decay every --lr-decay-every steps; exp: times --lr-decay every step", 0},
        {"lr-decay", 0, CLI_FLOAT, &a.lr_decay, 1e-9, 10, "X", "the schedule's factor (default 0.97)", 0},
        {"lr-decay-every", 0, CLI_INT, &a.lr_decay_every, 1, 1e12, "N",
         "steps between the step schedule's decays (default: one epoch)", 0},
        {"warmup", 0, CLI_INT, &a.warmup, 0, 1e12, "N",
         "raise the rate linearly from lr/N to lr over the first N steps (default 0: none)", 0},
        {"optimizer", 0, CLI_STR, &a.optimizer, 0, 0, "NAME", "adam, adamw, rmsprop, sgd or adagrad (default adam)", 0},
        {"clip", 0, CLI_FLOAT, &a.clip, 0, 1e9, "X", "clip the gradients' global norm at X; 0: off (default 5)", 0},
        {"seed", 's', CLI_INT, &a.seed, 0, 9e15, "N", "seed of the weights, dropout and the shuffling (default 1)", 0},
        {"test-fraction", 0, CLI_FLOAT, &a.test_fraction, 0, 0.9, "X",
         "the end of the text held out for the test loss (default 0.1)", 0},
        {"eval-every", 0, CLI_INT, &a.eval_every, 0, 1e12, "N",
         "also measure the test loss every N steps (default 0: at each epoch's end and the last step)", 0},
        {"save-every", 0, CLI_INT, &a.save_every, 0, 1e12, "N",
         "also save every N steps (default 0: at each epoch's end and the last step)", 0},
        {"check-finite", 0, CLI_FLAG, &a.check_finite, 0, 0, "",
         "check every value of every step for NaN and infinity, naming the op that made one (slower)", 0},
        {"sample-length", 0, CLI_INT, &a.sample_length, 0, 100000, "N", "symbols per sample (default 200)", 0},
        {"temperature", 't', CLI_FLOAT, &a.temperature, 0.01, 100, "X",
         "temperature of the sampled sample; the other is greedy (default 0.5)", 0},
        {"top-k", 'k', CLI_INT, &a.top_k, 0, 1 << 21, "N",
         "the sampled sample draws among the N likeliest symbols (default 0: all)", 0},
        {"top-p", 0, CLI_FLOAT, &a.top_p, 1e-9, 1, "P",
         "the sampled sample draws from the nucleus of probability P (default 1: all)", 0},
        {"loss-csv", 0, CLI_STR, &a.loss_csv, 0, 0, "PATH", "write step,loss,test_loss per step to PATH", 0},
        {"loss-plot", 0, CLI_STR, &a.loss_plot, 0, 0, "PATH",
         "draw the training loss (smoothed) and the test losses to PATH (.svg or .png, by gnuplot) at each "
         "test; after --resume the whole run when --loss-csv holds it", 0},
        {"progress-every", 0, CLI_INT, &a.progress_every, 1, 1e9, "N",
         "steps between progress lines when stderr is not a terminal (default 50)", 0},
        {"backend", 0, CLI_STR, &a.backend, 0, 0, "NAME",
         "reference or onednn (default: $RECUR_BACKEND, else onednn)", 0},
        {"threads", 'j', CLI_INT, &a.threads, 1, 4096, "N", "threads recur may use (default: OMP_NUM_THREADS if set, else the cores)", 0},
    };
    cli_cmd cmd = {
        .name = "train",
        .usage = "recur train TEXT [options]",
        .summary =
            "Trains a character-level language model on the UTF-8 text file TEXT (a directory: its *.txt files,\n"
            "joined in name order; when there is no such file, the data set of that name in $RECUR_DATA or\n"
            "../shared/data): one-hot symbols, an LSTM, a dense softmax over the text's symbols, predicting\n"
            "the next symbol at every position of windows of --window symbols. The end of the text\n"
            "(--test-fraction) is held out. After each epoch it prints the epoch's time, the training and\n"
            "test losses next to the unigram entropy, and saves a checkpoint (parameters, optimizer state,\n"
            "and the vocabulary and model sizes as metadata for 'recur generate'), and the best one by test\n"
            "loss beside it; samples follow the first epoch and the last step.\n\n"
            "With --lines each line of TEXT (blank lines left out) is one sequence: it reads a newline and\n"
            "the line and predicts the line and its newline. Batches of --batch lines are padded to the\n"
            "longest line and its newline, or to --window when that is smaller, and fed with their lengths;\n"
            "the loss is the mean over the real positions. A line longer than --window is split into pieces\n"
            "of --window steps, each a sequence of its own (--long-lines). The last --test-fraction of the\n"
            "lines is held out, and 'recur generate' on the checkpoint writes lines.",
        .opts = opts,
        .n_opts = (int)(sizeof opts / sizeof opts[0]),
        .min_pos = 1,
        .max_pos = 1,
    };
    const char *pos[1];
    int n_pos, r = cli_parse(&cmd, argc, argv, pos, &n_pos);
    if (r == CLI_HELP_SHOWN) return CLI_EXIT_OK;
    if (r != CLI_PARSED) return r;
    recur_cell_kind cell;
    recur_optim_kind optim;
    recur_schedule_kind decay;
    if (cli_cell_parse(a.cell, &cell) != 0)
        return cli_usage_error("train", "--cell: '%s' is not lstm, gru or rnn", a.cell);
    if (recur_optim_kind_parse(a.optimizer, &optim) != RECUR_OK)
        return cli_usage_error("train", "--optimizer: '%s' is not adam, adamw, rmsprop, sgd or adagrad", a.optimizer);
    if (cli_lr_parse(a.lr_schedule, &decay) != 0)
        return cli_usage_error("train", "--lr-schedule: '%s' is not constant, step or exp", a.lr_schedule);
    if (a.backend && !recur_backend_available(a.backend))
        return cli_usage_error("train", "--backend: no backend called '%s' (reference, onednn)", a.backend);
    if (a.new_text && !a.resume) return cli_usage_error("train", "--new-text goes with --resume");
    if (a.best && a.no_best) return cli_usage_error("train", "--best and --no-best contradict each other");
    int lines_rc = lines_check_args(&a, &cmd);
    if (lines_rc != CLI_EXIT_OK) return lines_rc;
    if (!a.backend) a.backend = cli_default_backend();
    if (a.threads) cli_set_threads(a.threads);
    a.text = pos[0];
    train_run run = {.a = &a, .rank = 0, .ranks = 1};
    if (recur_mpi_launched()) { /* under mpirun: data-parallel over its ranks */
        if (recur_mpi_init(NULL, NULL) != RECUR_OK) return cli_error("train", "%s", recur_mpi_errmsg()), CLI_EXIT_FAIL;
        run.rank = recur_mpi_rank();
        run.ranks = recur_mpi_size();
        if (a.batch % run.ranks != 0) {
            recur_mpi_finalize();
            return cli_usage_error("train", "--batch %lld does not split over %d ranks: give a multiple of %d",
                                   (long long)a.batch, run.ranks, run.ranks);
        }
        if (run.rank != 0) { /* rank 0 speaks and writes the files; the others' errors still reach stderr */
            if (!freopen("/dev/null", "w", stdout)) return cli_error("train", "cannot silence rank %d", run.rank), CLI_EXIT_FAIL;
            a.loss_csv = NULL;
            a.loss_plot = NULL;
        }
    }
    int rc = train(&run, &cmd);
    free_run(&run);
    if (run.ranks > 1 && rc != CLI_EXIT_OK) {
        fprintf(stderr, "recur train: rank %d of %d failed: ending the job\n", run.rank, run.ranks);
        recur_mpi_abort(rc); /* the other ranks may be waiting for this one */
    }
    recur_mpi_finalize();
    return rc;
}
