/*
 * train/progress.c — what the trainer reports as it goes: the clock, the
 * mean recent loss, and the progress line,
 *   step 340/1000  epoch 2  loss 1.234 (mean 1.301)  12.3k tok/s  ETA 1m23s
 * redrawn in place with '\r' on a terminal (at most 10 times a second),
 * written as plain lines every progress_every steps elsewhere.
 */
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "trainer_impl.h"

double recur_trainer_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double recur_trainer_mean_loss(const recur_trainer *t)
{
    if (!t || t->window_n == 0) return NAN;
    double sum = 0;
    for (int64_t i = 0; i < t->window_n; i++) sum += t->window[i];
    return sum / (double)t->window_n;
}

/* Appends printf-style text at buf + *at, never past len (buf stays NUL-terminated). */
static void put(char *buf, size_t len, size_t *at, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
    if (*at >= len) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *at, len - *at, fmt, ap);
    va_end(ap);
    if (k > 0) *at = *at + (size_t)k < len ? *at + (size_t)k : len - 1;
}

/* A rate with three significant digits and an SI suffix: 850, 12.3k, 4.56M. */
static void format_rate(double x, char *buf, size_t len)
{
    static const char *const unit[] = {"", "k", "M", "G", "T"};
    int u = 0;
    while (x >= 999.5 && u < 4) {
        x /= 1000;
        u++;
    }
    snprintf(buf, len, "%.3g%s", x, unit[u]);
}

/* A duration rounded to the second: 42s, 1m23s, 2h05m. */
static void format_duration(double s, char *buf, size_t len)
{
    if (!(s < 1e9)) s = 1e9; /* also NaN */
    long long r = (long long)(s + 0.5);
    if (r < 60) snprintf(buf, len, "%llds", r);
    else if (r < 3600) snprintf(buf, len, "%lldm%02llds", r / 60, r % 60);
    else snprintf(buf, len, "%lldh%02lldm", r / 3600, r % 3600 / 60);
}

char *recur_trainer_progress_line(const recur_trainer *t, int64_t step, int64_t total, int64_t run_steps,
                                  double seconds, char *buf, size_t len)
{
    if (!buf || len == 0) return buf;
    buf[0] = 0;
    if (!t) return buf;
    size_t at = 0;
    char a[32];
    put(buf, len, &at, "step %lld/%lld", (long long)step, (long long)total);
    if (t->o.steps_per_epoch > 0)
        put(buf, len, &at, "  epoch %lld", (long long)(1 + (step > 0 ? step - 1 : 0) / t->o.steps_per_epoch));
    if (!isnan(t->last_loss))
        put(buf, len, &at, "  loss %.4g (mean %.4g)", (double)t->last_loss, recur_trainer_mean_loss(t));
    if (run_steps > 0 && seconds > 0) {
        double rate = (double)run_steps / seconds;
        if (t->o.tokens_per_step > 0) {
            format_rate(rate * t->o.tokens_per_step, a, sizeof a);
            put(buf, len, &at, "  %s tok/s", a);
        } else {
            format_rate(rate, a, sizeof a);
            put(buf, len, &at, "  %s steps/s", a);
        }
        if (step < total) {
            format_duration((double)(total - step) / rate, a, sizeof a);
            put(buf, len, &at, "  ETA %s", a);
        } else {
            format_duration(seconds, a, sizeof a);
            put(buf, len, &at, "  took %s", a);
        }
    }
    return buf;
}

void recur_progress_init(recur_trainer *t)
{
    t->mode = t->o.progress;
    if (t->mode == RECUR_PROGRESS_AUTO) t->mode = isatty(fileno(t->o.progress_file)) ? RECUR_PROGRESS_LINE : RECUR_PROGRESS_PLAIN;
}

/* LINE: writes s over the line on screen (padding with spaces where the old one was longer). */
static void redraw(recur_trainer *t, const char *s, int newline)
{
    int n = (int)strlen(s);
    fprintf(t->o.progress_file, "\r%s%*s%s", s, t->line_len > n ? t->line_len - n : 0, "", newline ? "\n" : "");
    t->line_len = newline ? 0 : n;
    fflush(t->o.progress_file);
}

void recur_progress_step(recur_trainer *t, int last)
{
    if (t->mode == RECUR_PROGRESS_OFF) return;
    double now = recur_trainer_now();
    if (t->mode == RECUR_PROGRESS_PLAIN ? !last && t->step % t->o.progress_every != 0
                                        : !last && t->last_draw >= 0 && now - t->last_draw < 0.1)
        return;
    char line[256];
    recur_trainer_progress_line(t, t->step, t->run_total, t->step - t->run_first, now - t->run_start, line, sizeof line);
    if (t->mode == RECUR_PROGRESS_PLAIN) {
        fprintf(t->o.progress_file, "%s\n", line);
        fflush(t->o.progress_file);
    } else {
        redraw(t, line, 0);
    }
    t->last_draw = now;
}

void recur_progress_eval(recur_trainer *t)
{
    if (t->mode == RECUR_PROGRESS_OFF) return;
    char line[128];
    snprintf(line, sizeof line, "step %lld/%lld  eval loss %.4g", (long long)t->step, (long long)t->run_total,
             t->eval_loss);
    if (t->mode == RECUR_PROGRESS_PLAIN) {
        fprintf(t->o.progress_file, "%s\n", line);
        fflush(t->o.progress_file);
    } else {
        redraw(t, line, 1);
    }
}

void recur_progress_end(recur_trainer *t)
{
    if (t->mode != RECUR_PROGRESS_LINE || t->line_len == 0) return;
    fputc('\n', t->o.progress_file);
    fflush(t->o.progress_file);
    t->line_len = 0;
}
