/*
 * cli/train_loop.c — the callbacks of `recur train`: batches of
 * shuffled windows and each step's learning rate, the report at the end of
 * each epoch (its time, the training and test losses, samples), test
 * losses every --eval-every steps, the latest and the best checkpoints,
 * the loss plot and the checkpoint metadata.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "lines.h"
#include "recur/plot.h"
#include "train.h"

double train_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/*
 * Step s reads batch k = s mod n of epoch e = s div n (n steps per epoch):
 * windows perm_e[kB .. kB + B) of the training part, perm_e a permutation
 * drawn from the seed and e alone, at the learning rate of the schedule
 * at s, so a resumed run reads and learns as an uninterrupted one would.
 * Under mpirun rank r of N reads its slice of that global batch,
 * perm_e[(kN + r)B ..) with B = --batch / N (recur_shard_offset).
 */
recur_status train_feed(void *user, int64_t step, recur_plan *plan)
{
    train_run *r = user;
    int64_t epoch = step / r->steps_per_epoch, k = step % r->steps_per_epoch;
    recur_status st = recur_optim_set_lr(recur_trainer_optim(r->t), cli_lr_at(&r->lr, step));
    if (st != RECUR_OK)
        return recur_trainer_set_error(r->t, st, "learning rate: %s", recur_optim_errmsg(recur_trainer_optim(r->t)));
    if (epoch != r->perm_epoch) {
        st = recur_permutation(r->perm, r->n_train_windows, r->seed + (uint64_t)epoch * 0x9E3779B97F4A7C15ULL);
        if (st != RECUR_OK) return recur_trainer_set_error(r->t, st, "shuffling: %s", recur_data_errmsg());
        r->perm_epoch = epoch;
    }
    if (r->lines) return lines_feed(r, plan, r->perm + recur_shard_offset(k, r->B, r->rank, r->ranks));
    st = recur_corpus_batch(r->train, r->L, r->L, r->perm + recur_shard_offset(k, r->B, r->rank, r->ranks), r->B, r->x,
                            r->y, NULL);
    if (st != RECUR_OK) return recur_trainer_set_error(r->t, st, "batch %lld: %s", (long long)k, recur_data_errmsg());
    int64_t n = r->L * r->B;
    if ((st = recur_plan_feed(plan, r->net.ids, r->x, n)) != RECUR_OK) return st;
    if ((st = recur_plan_feed(plan, r->next, r->y, n)) != RECUR_OK) return st;
    return recur_plan_feed(plan, r->mask, r->ones, n);
}

/*
 * The test loss: every window of the test part once, in batches of B
 * whose last one is padded with masked columns; the loss of batch k is the
 * mean over its n_k L unmasked symbols, so the mean over the part is
 * sum_k loss_k n_k L / (N L). Under mpirun each rank takes its share of
 * the windows (recur_shard_range) and the sums and counts are added up
 * over the ranks.
 */
recur_status train_test_loss(train_run *r, double *loss)
{
    if (r->lines) return lines_test_loss(r, loss);
    const int64_t L = r->L, B = r->B;
    int64_t at, N;
    recur_shard_range(r->n_test_windows, r->rank, r->ranks, &at, &N);
    double sum[2] = {0, (double)N}; /* losses times windows, windows */
    for (int64_t first = 0; first < N; first += B) {
        int64_t n = N - first < B ? N - first : B;
        for (int64_t b = 0; b < B; b++) r->windows[b] = at + (b < n ? first + b : 0);
        for (int64_t t = 0; t < L; t++)
            for (int64_t b = 0; b < B; b++) r->emask[t * B + b] = b < n ? 1.0f : 0.0f;
        recur_status st = recur_corpus_batch(r->test, L, L, r->windows, B, r->x, r->y, NULL);
        if (st != RECUR_OK) return recur_trainer_set_error(r->t, st, "test batch: %s", recur_data_errmsg());
        st = recur_plan_feed(r->eval, r->net.ids, r->x, L * B);
        if (st == RECUR_OK) st = recur_plan_feed(r->eval, r->next, r->y, L * B);
        if (st == RECUR_OK) st = recur_plan_feed(r->eval, r->mask, r->emask, L * B);
        if (st == RECUR_OK) st = recur_plan_run(r->eval);
        float l = 0;
        if (st == RECUR_OK) st = recur_plan_fetch(r->eval, r->loss, &l, 1);
        if (st != RECUR_OK) return recur_trainer_set_error(r->t, st, "test loss: %s", recur_plan_errmsg(r->eval));
        sum[0] += (double)l * (double)n;
    }
    if (recur_mpi_sum(sum, 2) != RECUR_OK) return recur_trainer_set_error(r->t, RECUR_ERR_RUNTIME, "test loss: %s", recur_mpi_errmsg());
    *loss = sum[1] > 0 ? sum[0] / sum[1] : NAN;
    return RECUR_OK;
}

/* printf to stdout, first clearing the trainer's progress line when it is drawn on a terminal. */
static void say(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static void say(const char *fmt, ...)
{
    if (isatty(fileno(stderr))) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* Decodes ids[0..n) and prints them; the caller has checked the ids. */
static recur_status print_ids(train_run *r, const int64_t *ids, int64_t n)
{
    size_t cap = 4 * (size_t)n + 1;
    char *s = malloc(cap);
    if (!s) return recur_trainer_set_error(r->t, RECUR_ERR_NOMEM, "out of memory for a sample");
    recur_status st = recur_corpus_decode(r->text, ids, n, s, cap);
    if (st == RECUR_OK) fputs(s, stdout);
    free(s);
    return st == RECUR_OK ? RECUR_OK : recur_trainer_set_error(r->t, st, "sample: %s", recur_data_errmsg());
}

/*
 * Where the sample's prompt starts in ids[0..n): at the first sentence
 * with L symbols after its start (a capital letter after ".", "!" or "?"
 * and white space), so that the prompt reads as a sentence's beginning;
 * at 0 when there is none.
 */
static int64_t prompt_start(const recur_corpus *c, const int64_t *ids, int64_t n, int64_t L)
{
    for (int64_t i = 2; i + L <= n; i++) {
        int32_t cp = recur_corpus_symbol(c, ids[i]), prev;
        if (cp < 'A' || cp > 'Z') continue;
        int64_t j = i - 1;
        while (j > 0 && ((prev = recur_corpus_symbol(c, ids[j])) == ' ' || prev == '\n')) j--;
        prev = recur_corpus_symbol(c, ids[j]);
        if (j < i - 1 && (prev == '.' || prev == '!' || prev == '?')) return i;
    }
    return 0;
}

/*
 * Samples start from L symbols of the test part (of the training part when
 * there is no test part), from its first sentence's start:
 * the model reads them, then writes sample_length symbols of its own,
 * greedily and at the options' temperature. Both are printed after the
 * prompt.
 */
recur_status train_samples(train_run *r, const char *what)
{
    if (r->lines) return lines_samples(r, what);
    const recur_corpus *src = r->test ? r->test : r->train;
    int64_t len = recur_corpus_len(src);
    const int64_t *prompt = recur_corpus_ids(src) + prompt_start(r->text, recur_corpus_ids(src), len, r->L);
    int64_t n_prompt = r->L < len ? r->L : len, n = r->a->sample_length;
    int64_t *out = malloc(sizeof *out * (size_t)(n ? n : 1));
    if (!out) return recur_trainer_set_error(r->t, RECUR_ERR_NOMEM, "out of memory for a sample");
    cli_sampling how[2] = {{0, 0, 1}, {r->a->temperature, r->a->top_k, r->a->top_p}};
    recur_status st = RECUR_OK;
    say("--- samples after %s, each from the prompt of %lld symbols before '|':\n", what, (long long)n_prompt);
    for (int k = 0; k < 2 && st == RECUR_OK; k++) {
        uint64_t rng = r->seed + (uint64_t)recur_trainer_step(r->t);
        st = cli_sampler_run(&r->sampler, prompt, n_prompt, n, &how[k], &rng, out);
        if (st != RECUR_OK) {
            st = recur_trainer_set_error(r->t, st, "sampling: %s", r->sampler.why);
            break;
        }
        if (k == 0) say("[greedy]\n");
        else if (how[1].top_k > 0 && how[1].top_p < 1)
            say("[temperature %g, top %lld, nucleus %g]\n", how[1].temperature, (long long)how[1].top_k, how[1].top_p);
        else if (how[1].top_k > 0) say("[temperature %g, top %lld]\n", how[1].temperature, (long long)how[1].top_k);
        else if (how[1].top_p < 1) say("[temperature %g, nucleus %g]\n", how[1].temperature, how[1].top_p);
        else say("[temperature %g]\n", how[1].temperature);
        st = print_ids(r, prompt, n_prompt);
        if (st == RECUR_OK) fputc('|', stdout);
        if (st == RECUR_OK) st = print_ids(r, out, n);
        fputc('\n', stdout);
    }
    say("---\n");
    free(out);
    return st;
}

/*
 * Draws the run's losses so far: the training loss of every step as its
 * moving average over about w = clamp(steps / 50, 1, 100) steps (factor
 * 1 - 1/w) over the raw values, faint; the test losses as marked points;
 * the unigram entropy as a reference line. A plot that fails (no gnuplot)
 * is a warning, not an error.
 */
static void plot_losses(train_run *r)
{
    int64_t last = r->losses_from + r->n_losses - 1, w = last / 50;
    w = w < 1 ? 1 : w > 100 ? 100 : w;
    char train_name[96], axis[160];
    if (w > 1) snprintf(train_name, sizeof train_name, "training loss, moving average over about %lld steps (each step faint)",
                        (long long)w);
    else snprintf(train_name, sizeof train_name, "training loss");
    const double ref_x[2] = {(double)r->losses_from, (double)(last > r->losses_from ? last : r->losses_from + 1)};
    const float ref_y[2] = {(float)r->unigram, (float)r->unigram};
    recur_plot_series s[3] = {
        {.name = train_name, .x0 = (double)r->losses_from, .dx = 1, .y = r->losses, .n = r->n_losses,
         .smooth = w > 1 ? 1.0 - 1.0 / (double)w : 0, .colour = 1},
        {.name = "unigram entropy (no context)", .x = ref_x, .y = ref_y, .n = 2, .dashed = 1, .colour = 4},
        {.name = "test loss", .x = r->test_steps, .y = r->test_losses, .n = r->n_tests, .points = 1, .colour = 2},
    };
    snprintf(axis, sizeof axis, "training step (a batch of %lld windows of %lld symbols)", (long long)(r->B * r->ranks),
             (long long)r->L);
    recur_plot_opts o = {.title = "Character model: loss per symbol", .xlabel = axis, .ylabel = "loss (nats per symbol)"};
    if (recur_plot_loss(r->a->loss_plot, r->n_tests ? 3 : 2, s, &o) != RECUR_OK)
        cli_error("train", "warning: no loss plot: %s", recur_plot_errmsg());
}

/* Measures the test loss after `step` and records it for the plot. */
static recur_status evaluate(train_run *r, recur_trainer *t, int64_t step, double *test)
{
    recur_status st = train_test_loss(r, test);
    if (st != RECUR_OK) return st;
    if (r->a->loss_plot && train_record_test(r, step, (float)*test) != 0)
        return recur_trainer_set_error(t, RECUR_ERR_NOMEM, "out of memory for the losses");
    return RECUR_OK;
}

/* Saves the best checkpoint when the test loss is the lowest so far. */
static recur_status keep_best(train_run *r, recur_trainer *t, double test)
{
    if (!r->best_path[0] || !(test < r->best_loss)) return RECUR_OK;
    double before = r->best_loss;
    r->best_loss = test; /* before saving: the checkpoint records it */
    recur_status st = recur_trainer_save(t, r->best_path);
    if (st != RECUR_OK) return st;
    if (isinf(before)) say("saved %s: the best test loss so far, %.4f\n", r->best_path, test);
    else say("saved %s: the best test loss so far, %.4f (was %.4f)\n", r->best_path, test, before);
    return RECUR_OK;
}

/* The report of an epoch ended (or part of one, at the last step) after `step`, its steps done at `now`. */
static void report_epoch(train_run *r, int64_t step, int epoch_end, double test, double now)
{
    double secs = now - r->epoch_start;
    int64_t epoch = (step - 1) / r->steps_per_epoch + 1;
    char test_str[64] = "no test part", steps[160];
    int64_t whole = step - (epoch - 1) * r->steps_per_epoch; /* the epoch's steps */
    if (r->eval) snprintf(test_str, sizeof test_str, "test loss %.4f", test);
    if (r->epoch_run_steps == whole)
        snprintf(steps, sizeof steps, "%lld steps in %.1f s (%.0f ms/step)", (long long)whole, secs,
                 1e3 * secs / (double)r->epoch_run_steps);
    else if (r->epoch_steps == whole) /* resumed inside this epoch: the mean loss covers the steps before too */
        snprintf(steps, sizeof steps, "%lld steps, the last %lld in %.1f s since the resume (%.0f ms/step)",
                 (long long)whole, (long long)r->epoch_run_steps, secs, 1e3 * secs / (double)r->epoch_run_steps);
    else /* resumed from a checkpoint that did not record the epoch's losses so far */
        snprintf(steps, sizeof steps, "%lld steps, of which the last %lld, in %.1f s since the resume, make the "
                 "train loss (%.0f ms/step)", (long long)whole, (long long)r->epoch_run_steps, secs,
                 1e3 * secs / (double)r->epoch_run_steps);
    say("epoch %lld%s: %s, train loss %.4f, %s, unigram entropy %.4f (nats/symbol)\n", (long long)epoch,
        epoch_end ? "" : " (part)", steps, r->epoch_loss / (double)r->epoch_steps, test_str, r->unigram);
}

recur_status train_on_step(void *user, recur_trainer *t, int64_t step, float loss)
{
    train_run *r = user;
    const train_args *a = r->a;
    double now = train_now(); /* the epoch's time leaves out the test loss and the samples */
    if (a->loss_plot && train_push((void **)&r->losses, sizeof loss, &r->n_losses, &r->cap_losses, &loss) != 0)
        return recur_trainer_set_error(t, RECUR_ERR_NOMEM, "out of memory for the losses");
    r->epoch_loss += (double)loss;
    r->epoch_steps++;
    r->epoch_run_steps++;
    /* the next step's rate, already now: a checkpoint's trainer.lr is the next step's */
    recur_status st = recur_optim_set_lr(recur_trainer_optim(t), cli_lr_at(&r->lr, step));
    if (st != RECUR_OK)
        return recur_trainer_set_error(t, st, "learning rate: %s", recur_optim_errmsg(recur_trainer_optim(t)));
    int epoch_end = step % r->steps_per_epoch == 0, last = step == r->total;
    int eval_now = r->eval && (epoch_end || last || (a->eval_every > 0 && step % a->eval_every == 0));
    double test = NAN;
    if (eval_now && (st = evaluate(r, t, step, &test)) != RECUR_OK) return st;
    if (epoch_end || last) report_epoch(r, step, epoch_end, test, now);
    if (epoch_end) { /* a run that stops inside an epoch keeps its sums: the checkpoint records them */
        r->epoch_loss = 0;
        r->epoch_steps = 0;
        r->epoch_run_steps = 0;
    } else if (eval_now && !last) {
        say("step %lld: test loss %.4f\n", (long long)step, test);
    }
    if (eval_now && (st = keep_best(r, t, test)) != RECUR_OK) return st; /* the epoch's sums are reset */
    if (a->loss_plot && (eval_now || last)) plot_losses(r);
    if (epoch_end || last) {
        if (step == r->steps_per_epoch || last) {
            char what[64];
            if (last) snprintf(what, sizeof what, "the last step (%lld)", (long long)step);
            else snprintf(what, sizeof what, "epoch 1");
            if ((st = train_samples(r, what)) != RECUR_OK) return st;
        }
    }
    if (r->csv) {
        fprintf(r->csv, "%lld,%.6g,", (long long)step, (double)loss);
        if (!isnan(test)) fprintf(r->csv, "%.6g", test);
        fputc('\n', r->csv);
        if (eval_now) fflush(r->csv);
    }
    if (epoch_end || last || (a->save_every > 0 && step % a->save_every == 0)) {
        if ((st = recur_trainer_save(t, a->checkpoint)) != RECUR_OK) return st;
        say("saved %s at step %lld\n", a->checkpoint, (long long)step);
    }
    if (epoch_end || last) r->epoch_start = train_now(); /* the report's time is not the next epoch's */
    else r->epoch_start += train_now() - now;            /* nor are tests and saves inside the epoch */
    return RECUR_OK;
}

recur_status train_on_save(void *user, recur_ckpt *ck)
{
    train_run *r = user;
    recur_status st = cli_model_save_meta(&r->m, r->vocab, ck);
    if (st == RECUR_OK) st = recur_ckpt_set_int(ck, "train.window", r->L);
    if (st == RECUR_OK) st = recur_ckpt_set_int(ck, "train.batch", r->B * r->ranks); /* over all ranks */
    if (st == RECUR_OK) st = recur_ckpt_set_int(ck, "train.seed", (int64_t)r->seed);
    if (st == RECUR_OK) st = recur_ckpt_set_float(ck, "train.test_fraction", r->test_fraction);
    if (st == RECUR_OK) st = recur_ckpt_set_int(ck, "train.text_symbols", recur_corpus_len(r->text));
    if (st == RECUR_OK) st = recur_ckpt_set_int(ck, "train.text_crc", (int64_t)r->text_crc);
    if (st == RECUR_OK) st = recur_ckpt_set_float(ck, "train.lr", r->lr.lr0);
    if (st == RECUR_OK) st = recur_ckpt_set_str(ck, "train.lr_schedule", cli_lr_name(r->lr.decay.kind));
    if (st == RECUR_OK) st = recur_ckpt_set_float(ck, "train.lr_decay", r->lr.decay.gamma);
    if (st == RECUR_OK) st = recur_ckpt_set_int(ck, "train.lr_decay_every", r->lr.decay.step_size);
    if (st == RECUR_OK) st = recur_ckpt_set_int(ck, "train.warmup", r->lr.warmup);
    if (st == RECUR_OK) st = recur_ckpt_set_float(ck, "train.dropout", r->m.dropout);
    /* where the run is in its epoch: a resumed run's epoch report covers the whole epoch */
    if (st == RECUR_OK) st = recur_ckpt_set_float(ck, "train.epoch_loss", r->epoch_loss);
    if (st == RECUR_OK) st = recur_ckpt_set_int(ck, "train.epoch_steps", r->epoch_steps);
    if (st == RECUR_OK && !isinf(r->best_loss)) st = recur_ckpt_set_float(ck, "train.best_test_loss", r->best_loss);
    if (st == RECUR_OK && r->lines) st = lines_save_meta(r, ck);
    if (st == RECUR_OK && recur_ckpt_set_str(ck, "train.text", r->text_path) != RECUR_OK) {
        /* a path that is not UTF-8 is left out: it is only informative */
    }
    if (st != RECUR_OK) return recur_trainer_set_error(r->t, st, "metadata: %s", recur_ckpt_errmsg(ck));
    return RECUR_OK;
}
