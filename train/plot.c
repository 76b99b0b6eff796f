/*
 * train/plot.c — line plots through gnuplot: the data file and the script
 * written into a temporary directory, gnuplot run on them
 * (train/gnuplot.c), the picture renamed into place.
 *
 * The data file holds one block per series, blocks separated by two blank
 * lines (gnuplot's "index"), one "x y s" line per point with %.9g (NaN for
 * a gap), s the smoothed value (smooth_series) or y again. The script sets
 * the terminal from the extension, the labels and the legend, then plots
 * the raw values of the smoothed series as faint lines first (behind
 * everything), then every block's column 3 as a line, with points where
 * asked.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "plot_impl.h"

/* Line colours, in order (matplotlib's first ones: readable on white and by most colour-blind readers). */
static const char *const colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"};
enum { N_COLOURS = sizeof colours / sizeof colours[0] };

/* What a plot draws besides its lines. */
typedef struct plot_spec {
    const char *path;
    int n;
    const recur_plot_series *s;
    recur_plot_opts o;
    int data_first;   /* 1: series 0 is the data of recur_plot_predictions */
    double split;     /* its split (NaN: none) */
} plot_spec;

/* The temporary directory and its files. */
typedef struct plot_tmp {
    char dir[4096], data[4200], script[4200], err[4200], out[4200];
} plot_tmp;

/* 1 if s holds no line break (text a gnuplot string can hold on one line). */
static int one_line(const char *s) { return !s || !strpbrk(s, "\n\r"); }

/* Writes s as a gnuplot single-quoted string (a quote inside is doubled). */
static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; s && *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

/* 1 for ".svg", 2 for ".png" (any case), 0 otherwise. */
static int format_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && strchr(dot, '/')) dot = NULL;
    if (dot && !strcasecmp(dot, ".svg")) return 1;
    if (dot && !strcasecmp(dot, ".png")) return 2;
    return 0;
}

/* The colour of series i of p, "#rrggbb". */
static const char *colour_of(const plot_spec *p, int i)
{
    const recur_plot_series *s = &p->s[i];
    return colours[s->colour ? s->colour - 1 : (i - p->data_first) % N_COLOURS];
}

/*
 * A faint version of colour c ("#rrggbb"): each channel taken 70% of the
 * way to white, c' = c + 0.7 (255 - c), into buf (8 bytes).
 */
static const char *faint(const char *c, char *buf)
{
    unsigned rgb = (unsigned)strtoul(c + 1, NULL, 16), out = 0;
    for (int k = 16; k >= 0; k -= 8) {
        unsigned v = rgb >> k & 0xffu;
        out |= (v + (unsigned)lround(0.7 * (255.0 - v))) << k;
    }
    snprintf(buf, 8, "#%06x", out & 0xffffffu);
    return buf;
}

/*
 * The exponential moving average of y with factor a, debiased:
 *   m_k = a m_{k-1} + (1 - a) y_k,  m_{-1} = 0,  s_k = m_k / (1 - a^n_k)
 * with n_k the number of finite values among y_0..y_k (a NaN or infinite
 * y_k leaves m and n as they were; s is NaN before the first finite
 * value). Computed in double.
 */
static void smooth_series(const float *y, int64_t n, double a, double *s)
{
    double m = 0, an = 1; /* an = a^n_k */
    for (int64_t k = 0; k < n; k++) {
        if (isfinite(y[k])) {
            m = a * m + (1 - a) * (double)y[k];
            an *= a;
        }
        s[k] = an < 1 ? m / (1 - an) : NAN;
    }
}

static recur_status check_spec(const plot_spec *p)
{
    if (!p->path) return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "plot: the path is NULL");
    if (!format_of(p->path))
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "plot %s: unknown picture format (the path must end in .svg or .png)",
                               p->path);
    if (p->n < 1 || !p->s)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "plot %s: nothing to draw (%d series%s)", p->path, p->n,
                               p->s ? "" : ", series = NULL");
    for (int i = 0; i < p->n; i++) {
        const recur_plot_series *s = &p->s[i];
        if (s->n < 1 || !s->y)
            return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "plot %s: series %d \"%s\" has no values (n = %lld%s)", p->path, i,
                                   s->name ? s->name : "", (long long)s->n, s->y ? "" : ", y = NULL");
        if (s->colour < 0 || s->colour > N_COLOURS)
            return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "plot %s: series %d: colour %d is outside 0..%d", p->path, i,
                                   s->colour, N_COLOURS);
        if (!(s->smooth >= 0 && s->smooth < 1))
            return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "plot %s: series %d \"%s\": smooth %g is outside [0, 1)",
                                   p->path, i, s->name ? s->name : "", s->smooth);
        if (!one_line(s->name))
            return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "plot %s: the name of series %d holds a line break", p->path, i);
    }
    const char *text[3] = {p->o.title, p->o.xlabel, p->o.ylabel}, *field[3] = {"title", "xlabel", "ylabel"};
    for (int k = 0; k < 3; k++)
        if (!one_line(text[k])) return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "plot %s: the %s holds a line break", p->path, field[k]);
    if (!one_line(p->o.gnuplot) || (p->o.gnuplot && !p->o.gnuplot[0]))
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "plot %s: bad gnuplot program name", p->path);
    if (p->o.width < 0 || p->o.height < 0 || p->o.width > 20000 || p->o.height > 20000)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "plot %s: size %d x %d is outside 1..20000 pixels", p->path, p->o.width,
                               p->o.height);
    return RECUR_OK;
}

/* Makes the temporary directory and names its files. */
static recur_status tmp_make(plot_tmp *t, const char *who)
{
    const char *base = getenv("TMPDIR");
    if (!base || !base[0] || strlen(base) > 4000) base = "/tmp";
    snprintf(t->dir, sizeof t->dir, "%s/recur-plot-XXXXXX", base);
    if (!mkdtemp(t->dir))
        return recur_error_set(recur_thread_error(), RECUR_ERR_IO, "plot %s: cannot make a temporary directory %s: %s", who, t->dir,
                               strerror(errno));
    snprintf(t->data, sizeof t->data, "%s/data.txt", t->dir);
    snprintf(t->script, sizeof t->script, "%s/plot.gp", t->dir);
    snprintf(t->err, sizeof t->err, "%s/stderr.txt", t->dir);
    return RECUR_OK;
}

static void tmp_remove(const plot_tmp *t)
{
    unlink(t->data);
    unlink(t->script);
    unlink(t->err);
    rmdir(t->dir);
}

static recur_status write_data(const plot_spec *p, const plot_tmp *t)
{
    FILE *f = fopen(t->data, "w");
    if (!f) return recur_error_set(recur_thread_error(), RECUR_ERR_IO, "plot %s: cannot write %s: %s", p->path, t->data, strerror(errno));
    int bad = 0;
    for (int i = 0; i < p->n && !bad; i++) {
        const recur_plot_series *s = &p->s[i];
        double dx = s->dx != 0 ? s->dx : 1, *sm = NULL;
        if (s->smooth > 0 && !(sm = malloc(sizeof *sm * (size_t)s->n))) {
            fclose(f);
            return recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "plot %s: out of memory smoothing series %d", p->path, i);
        }
        if (sm) smooth_series(s->y, s->n, s->smooth, sm);
        fprintf(f, "# series %d: x y %s\n", i, sm ? "smoothed" : "y");
        for (int64_t k = 0; k < s->n; k++) {
            double x = s->x ? s->x[k] : s->x0 + (double)k * dx, y = s->y[k], v = sm ? sm[k] : y;
            fprintf(f, "%.9g ", x);
            fprintf(f, isfinite(y) ? "%.9g " : "NaN ", y);
            fprintf(f, isfinite(v) ? "%.9g\n" : "NaN\n", v);
        }
        fputs("\n\n", f);
        free(sm);
        bad = ferror(f);
    }
    bad |= ferror(f);
    if (fclose(f) != 0 || bad)
        return recur_error_set(recur_thread_error(), RECUR_ERR_IO, "plot %s: cannot write %s: %s", p->path, t->data, strerror(errno));
    return RECUR_OK;
}

/* One "set <what> '<text>'" line, when text is set. */
static void set_text(FILE *f, const char *what, const char *text)
{
    if (!text) return;
    fprintf(f, "set %s ", what);
    put_quoted(f, text);
    fputc('\n', f);
}

static recur_status write_script(const plot_spec *p, const plot_tmp *t)
{
    FILE *f = fopen(t->script, "w");
    if (!f) return recur_error_set(recur_thread_error(), RECUR_ERR_IO, "plot %s: cannot write %s: %s", p->path, t->script, strerror(errno));
    int w = p->o.width ? p->o.width : 900, h = p->o.height ? p->o.height : 500;
    if (format_of(p->path) == 1)
        fprintf(f, "set terminal svg size %d,%d dynamic noenhanced font 'Sans,13' background rgb 'white'\n", w, h);
    else
        fprintf(f, "set terminal pngcairo size %d,%d noenhanced font 'Sans,11' background rgb 'white'\n", w, h);
    fputs("set output ", f);
    put_quoted(f, t->out);
    fputc('\n', f);
    set_text(f, "title", p->o.title);
    set_text(f, "xlabel", p->o.xlabel);
    set_text(f, "ylabel", p->o.ylabel);
    fputs("set grid lc rgb '#dddddd'\nset key below horizontal reverse Left samplen 3 spacing 1.2 width 2\nset autoscale xfix\nset border lc rgb '#444444'\n", f);
    if (p->o.log_y) fputs("set logscale y\nset format y '%g'\n", f);
    if (!isnan(p->split)) {
        fprintf(f, "set arrow from %.9g, graph 0 to %.9g, graph 1 nohead dashtype 2 lw 1.5 lc rgb '#555555'\n", p->split,
                p->split);
        fprintf(f, "set label 'train' at %.9g, graph 0.06 right offset -1,0 tc rgb '#555555'\n", p->split);
        fprintf(f, "set label 'test' at %.9g, graph 0.06 left offset 1,0 tc rgb '#555555'\n", p->split);
    }
    fputs("plot ", f);
    int n_lines = 0;
    for (int i = 0; i < p->n; i++) { /* the raw values behind the smoothed lines */
        char tint[8];
        if (!(p->s[i].smooth > 0)) continue;
        if (n_lines++) fputs(", \\\n     ", f);
        put_quoted(f, t->data);
        fprintf(f, " index %d using 1:2 with lines lw 1 lc rgb '%s' notitle", i, faint(colour_of(p, i), tint));
    }
    for (int i = 0; i < p->n; i++) {
        const recur_plot_series *s = &p->s[i];
        if (n_lines++) fputs(", \\\n     ", f);
        put_quoted(f, t->data);
        fprintf(f, " index %d using 1:3", i);
        if (p->data_first && i == 0)
            fputs(" with linespoints lw 3 pt 7 ps 0.4 lc rgb '#a0a0a0'", f);
        else if (s->points)
            fprintf(f, " with linespoints lw 2 pt 7 ps 1.1 lc rgb '%s' dashtype %d", colour_of(p, i), s->dashed ? 2 : 1);
        else
            fprintf(f, " with lines lw 2 lc rgb '%s' dashtype %d", colour_of(p, i), s->dashed ? 2 : 1);
        if (s->name) {
            fputs(" title ", f);
            put_quoted(f, s->name);
        } else {
            fputs(" notitle", f);
        }
    }
    fputc('\n', f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return recur_error_set(recur_thread_error(), RECUR_ERR_IO, "plot %s: cannot write %s: %s", p->path, t->script, strerror(errno));
    return RECUR_OK;
}

/*
 * Draws p: the picture goes to "<path>.tmp.<pid>" (which also checks that
 * the place can be written before gnuplot runs), then is renamed over
 * path.
 */
static recur_status draw(const plot_spec *p)
{
    recur_status st = check_spec(p);
    if (st != RECUR_OK) return st;
    plot_tmp t;
    if ((st = tmp_make(&t, p->path)) != RECUR_OK) return st;
    if (snprintf(t.out, sizeof t.out, "%s.tmp.%ld", p->path, (long)getpid()) >= (int)sizeof t.out) {
        tmp_remove(&t);
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "plot %s: the path is too long", p->path);
    }
    FILE *probe = fopen(t.out, "w");
    if (!probe) {
        st = recur_error_set(recur_thread_error(), RECUR_ERR_IO, "plot %s: cannot write there: %s", p->path, strerror(errno));
        tmp_remove(&t);
        return st;
    }
    fclose(probe);
    if ((st = write_data(p, &t)) == RECUR_OK && (st = write_script(p, &t)) == RECUR_OK)
        st = recur_gnuplot_run(p->o.gnuplot ? p->o.gnuplot : "gnuplot", t.script, t.err, p->path);
    if (st == RECUR_OK && rename(t.out, p->path) != 0)
        st = recur_error_set(recur_thread_error(), RECUR_ERR_IO, "plot %s: cannot rename %s into place: %s", p->path, t.out, strerror(errno));
    if (st != RECUR_OK) unlink(t.out);
    tmp_remove(&t);
    return st;
}

static plot_spec spec_of(const char *path, int n, const recur_plot_series *s, const recur_plot_opts *o)
{
    plot_spec p = {.path = path, .n = n, .s = s, .split = NAN};
    if (o) p.o = *o;
    return p;
}

recur_status recur_plot_lines(const char *path, int n, const recur_plot_series *series, const recur_plot_opts *o)
{
    plot_spec p = spec_of(path, n, series, o);
    return draw(&p);
}

recur_status recur_plot_loss(const char *path, int n, const recur_plot_series *series, const recur_plot_opts *o)
{
    plot_spec p = spec_of(path, n, series, o);
    if (!p.o.title) p.o.title = "Training loss";
    if (!p.o.xlabel) p.o.xlabel = "step";
    if (!p.o.ylabel) p.o.ylabel = "loss";
    return draw(&p);
}

recur_status recur_plot_predictions(const char *path, const recur_plot_series *data, int n_pred,
                                    const recur_plot_series *preds, double split, const recur_plot_opts *o)
{
    if (!data) return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "plot %s: the data series is NULL", path ? path : "(NULL)");
    if (n_pred < 0 || (n_pred > 0 && !preds))
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "plot %s: %d predictions but preds = NULL", path ? path : "(NULL)",
                               n_pred);
    recur_plot_series *all = malloc(sizeof *all * ((size_t)n_pred + 1));
    if (!all) return recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "plot %s: out of memory", path ? path : "(NULL)");
    all[0] = *data;
    if (n_pred) memcpy(all + 1, preds, sizeof *all * (size_t)n_pred);
    plot_spec p = spec_of(path, n_pred + 1, all, o);
    p.data_first = 1;
    p.split = split;
    if (!p.o.xlabel) p.o.xlabel = "t";
    if (!p.o.ylabel) p.o.ylabel = "value";
    recur_status st = draw(&p);
    free(all);
    return st;
}
