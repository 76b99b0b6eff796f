/*
 * cli/train_loop.c — the callbacks of `recur train`: batches of
 * shuffled windows, the report at the end of each epoch (its time, the
 * training and test losses, samples) and the checkpoint metadata.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
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
 * drawn from the seed and e alone, so a resumed run reads what an
 * uninterrupted one would have.
 */
recur_status train_feed(void *user, int64_t step, recur_plan *plan)
{
    train_run *r = user;
    int64_t epoch = step / r->steps_per_epoch, k = step % r->steps_per_epoch;
    recur_status st = RECUR_OK;
    if (epoch != r->perm_epoch) {
        st = recur_permutation(r->perm, r->n_train_windows, r->seed + (uint64_t)epoch * 0x9E3779B97F4A7C15ULL);
        if (st != RECUR_OK) return recur_trainer_set_error(r->t, st, "shuffling: %s", recur_data_errmsg());
        r->perm_epoch = epoch;
    }
    st = recur_corpus_batch(r->train, r->L, r->L, r->perm + k * r->B, r->B, r->x, r->y, NULL);
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
 * sum_k loss_k n_k L / (N L).
 */
recur_status train_test_loss(train_run *r, double *loss)
{
    const int64_t L = r->L, B = r->B, N = r->n_test_windows;
    double sum = 0;
    for (int64_t first = 0; first < N; first += B) {
        int64_t n = N - first < B ? N - first : B;
        for (int64_t b = 0; b < B; b++) r->windows[b] = b < n ? first + b : 0;
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
        sum += (double)l * (double)n;
    }
    *loss = N ? sum / (double)N : NAN;
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
    const recur_corpus *src = r->test ? r->test : r->train;
    int64_t len = recur_corpus_len(src);
    const int64_t *prompt = recur_corpus_ids(src) + prompt_start(r->text, recur_corpus_ids(src), len, r->L);
    int64_t n_prompt = r->L < len ? r->L : len, n = r->a->sample_length;
    int64_t *out = malloc(sizeof *out * (size_t)(n ? n : 1));
    if (!out) return recur_trainer_set_error(r->t, RECUR_ERR_NOMEM, "out of memory for a sample");
    double temps[2] = {0, r->a->temperature};
    recur_status st = RECUR_OK;
    say("--- samples after %s, each from the prompt of %lld symbols before '|':\n", what, (long long)n_prompt);
    for (int k = 0; k < 2 && st == RECUR_OK; k++) {
        uint64_t rng = r->seed + (uint64_t)recur_trainer_step(r->t);
        st = cli_sampler_run(&r->sampler, prompt, n_prompt, n, temps[k], &rng, out);
        if (st != RECUR_OK) {
            st = recur_trainer_set_error(r->t, st, "sampling: %s", r->sampler.why);
            break;
        }
        if (k == 0) say("[greedy]\n");
        else say("[temperature %g]\n", temps[k]);
        st = print_ids(r, prompt, n_prompt);
        if (st == RECUR_OK) fputc('|', stdout);
        if (st == RECUR_OK) st = print_ids(r, out, n);
        fputc('\n', stdout);
    }
    say("---\n");
    free(out);
    return st;
}

/* Appends v to a growable array of *n values with room for *cap. */
static int push(void **a, size_t size, int64_t *n, int64_t *cap, const void *v)
{
    if (*n == *cap) {
        int64_t c = *cap ? 2 * *cap : 256;
        void *p = realloc(*a, size * (size_t)c);
        if (!p) return -1;
        *a = p;
        *cap = c;
    }
    memcpy((char *)*a + size * (size_t)(*n)++, v, size);
    return 0;
}

/* Draws the run's losses so far; a plot that fails (no gnuplot) is a warning, not an error. */
static void plot_losses(train_run *r)
{
    recur_plot_series s[2] = {
        {.name = "training loss (per step)", .x0 = (double)r->first_step + 1, .dx = 1, .y = r->losses,
         .n = r->n_losses},
        {.name = "test loss", .x = r->test_steps, .y = r->test_losses, .n = r->n_tests, .dashed = 1},
    };
    recur_plot_opts o = {.title = "Character model: loss per symbol (nats)", .ylabel = "loss (nats/symbol)"};
    if (recur_plot_loss(r->a->loss_plot, r->n_tests ? 2 : 1, s, &o) != RECUR_OK)
        cli_error("train", "warning: no loss plot: %s", recur_plot_errmsg());
}

recur_status train_on_step(void *user, recur_trainer *t, int64_t step, float loss)
{
    train_run *r = user;
    if (r->a->loss_plot && push((void **)&r->losses, sizeof loss, &r->n_losses, &r->cap_losses, &loss) != 0)
        return recur_trainer_set_error(t, RECUR_ERR_NOMEM, "out of memory for the losses");
    r->epoch_loss += (double)loss;
    r->epoch_steps++;
    int epoch_end = step % r->steps_per_epoch == 0, last = step == r->total;
    double test = NAN;
    recur_status st = RECUR_OK;
    if (epoch_end || last) {
        double secs = train_now() - r->epoch_start;
        int64_t epoch = (step - 1) / r->steps_per_epoch + 1;
        if (r->eval && (st = train_test_loss(r, &test)) != RECUR_OK) return st;
        char test_str[64] = "no test part";
        if (r->eval) snprintf(test_str, sizeof test_str, "test loss %.4f", test);
        say("epoch %lld%s: %lld steps in %.1f s (%.0f ms/step), train loss %.4f, %s, unigram entropy %.4f "
            "(nats/symbol)\n",
            (long long)epoch, epoch_end ? "" : " (part)", (long long)r->epoch_steps, secs,
            1e3 * secs / (double)r->epoch_steps, r->epoch_loss / (double)r->epoch_steps, test_str, r->unigram);
        if (r->a->loss_plot && !isnan(test) && r->n_tests < r->cap_tests) {
            r->test_losses[r->n_tests] = (float)test;
            r->test_steps[r->n_tests++] = (double)step;
        }
        if (r->a->loss_plot) plot_losses(r);
        if (step == r->steps_per_epoch || last) {
            char what[64];
            if (last) snprintf(what, sizeof what, "the last step (%lld)", (long long)step);
            else snprintf(what, sizeof what, "epoch 1");
            if ((st = train_samples(r, what)) != RECUR_OK) return st;
        }
        r->epoch_loss = 0;
        r->epoch_steps = 0;
    }
    if (r->csv) {
        fprintf(r->csv, "%lld,%.6g,", (long long)step, (double)loss);
        if (!isnan(test)) fprintf(r->csv, "%.6g", test);
        fputc('\n', r->csv);
    }
    if (epoch_end || last || (r->a->save_every > 0 && step % r->a->save_every == 0)) {
        if ((st = recur_trainer_save(t, r->a->checkpoint)) != RECUR_OK) return st;
        say("saved %s at step %lld\n", r->a->checkpoint, (long long)step);
    }
    if (epoch_end || last) r->epoch_start = train_now(); /* the report's time is not the next epoch's */
    return RECUR_OK;
}

recur_status train_on_save(void *user, recur_ckpt *ck)
{
    train_run *r = user;
    recur_status st = cli_model_save_meta(&r->m, r->vocab, ck);
    if (st == RECUR_OK) st = recur_ckpt_set_int(ck, "train.window", r->L);
    if (st == RECUR_OK) st = recur_ckpt_set_int(ck, "train.batch", r->B);
    if (st == RECUR_OK) st = recur_ckpt_set_int(ck, "train.seed", (int64_t)r->seed);
    if (st == RECUR_OK) st = recur_ckpt_set_float(ck, "train.test_fraction", r->test_fraction);
    if (st == RECUR_OK) st = recur_ckpt_set_int(ck, "train.text_symbols", recur_corpus_len(r->text));
    if (st == RECUR_OK && recur_ckpt_set_str(ck, "train.text", r->text_path) != RECUR_OK) {
        /* a path that is not UTF-8 is left out: it is only informative */
    }
    if (st != RECUR_OK) return recur_trainer_set_error(r->t, st, "metadata: %s", recur_ckpt_errmsg(ck));
    return RECUR_OK;
}
