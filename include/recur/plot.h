/*
 * recur/plot.h — line plots as SVG or PNG files, drawn by gnuplot: loss
 * curves over training steps, and a series against a model's predictions
 * with the train/test split marked.
 *
 *   recur_plot_series s[2] = {{.name = "train", .y = train_loss, .n = n},
 *                             {.name = "test", .x = test_step, .y = test_loss, .n = m}};
 *   if (recur_plot_loss("loss.png", 2, s, NULL) != RECUR_OK) puts(recur_plot_errmsg());
 *
 * The format follows the path's extension: ".svg" (gnuplot's svg
 * terminal) or ".png" (pngcairo). The data and a gnuplot script are
 * written to a fresh temporary directory (under $TMPDIR, else /tmp), and
 * gnuplot is started directly with a fixed argument vector (no shell);
 * the picture is written next to `path` and renamed over it once gnuplot
 * succeeded, so a failed plot leaves no partial file. Text (titles,
 * labels, series names) is drawn as given, with no gnuplot markup.
 *
 * Errors: RECUR_ERR_UNSUPPORTED when gnuplot cannot be started (the
 * message says to install the Debian package gnuplot-nox); RECUR_ERR_ARG
 * for an unknown extension, no data, or text with a newline;
 * RECUR_ERR_IO when a file cannot be written; RECUR_ERR_RUNTIME when
 * gnuplot fails (the message quotes its first error line). The reason is
 * readable through recur_plot_errmsg.
 */
#ifndef RECUR_PLOT_H
#define RECUR_PLOT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * One line of a plot: n points (x_i, y[i]) with x_i = x[i], or
 * x0 + i * dx when x is NULL (dx = 0 counts as 1). A NaN or infinite y
 * leaves a gap in the line.
 */
typedef struct recur_plot_series {
    const char *name; /**< the legend's label (NULL: no entry) */
    const double *x;  /**< n x values, or NULL */
    double x0, dx;    /**< the x values when x is NULL */
    const float *y;   /**< n values */
    int64_t n;        /**< >= 1 */
    int colour;       /**< 1..7: that colour of the palette; 0: the next one in order */
    int dashed;       /**< 1: a dashed line (e.g. the test curve beside a solid training one) */
    /**
     * 0 < smooth < 1: draw the exponential moving average of y as the
     * series' line, and y itself as a thin faint line behind it (no legend
     * entry): s_k = smooth s_{k-1} + (1 - smooth) y_k from s_{-1} = 0,
     * divided by 1 - smooth^(k+1) so that the first values are not pulled
     * towards 0 (TensorBoard's smoothing); a NaN y leaves s as it was.
     * 0: the line is y.
     */
    double smooth;
    int points;       /**< 1: mark every value with a filled circle (sparse points, e.g. test losses) */
} recur_plot_series;

/** Options of a plot; NULL or zeros select the defaults. */
typedef struct recur_plot_opts {
    const char *title;   /**< above the plot (default: none; recur_plot_loss: "Training loss") */
    const char *xlabel;  /**< (recur_plot_loss: "step"; recur_plot_predictions: "t") */
    const char *ylabel;  /**< (recur_plot_loss: "loss"; recur_plot_predictions: "value") */
    int log_y;           /**< 1: a logarithmic y axis (every y must then be > 0 to be drawn) */
    int width, height;   /**< the picture's size in pixels (default 900 x 500) */
    const char *gnuplot; /**< the program to run, looked up in PATH (default "gnuplot") */
} recur_plot_opts;

/**
 * Message of the calling thread's most recent failed plot call ("" if
 * none), e.g. "plot out/loss.png: gnuplot is not installed (no program
 * \"gnuplot\" in PATH): install the Debian package gnuplot-nox".
 */
RECUR_API const char *recur_plot_errmsg(void);

/** Status of the calling thread's most recent failed plot call (RECUR_OK if none). */
RECUR_API recur_status recur_plot_errcode(void);

/**
 * Draws the n series as lines (each in its own colour unless it names
 * one, named in a legend below the plot) into the picture at `path`. The
 * palette: blue, red, green, orange, purple, brown, pink.
 */
RECUR_API recur_status recur_plot_lines(const char *path, int n, const recur_plot_series *series, const recur_plot_opts *o);

/**
 * Loss curves: recur_plot_lines with the defaults above (title "Training
 * loss", x "step", y "loss"), e.g. a training series every step and a test
 * series every few steps.
 */
RECUR_API recur_status recur_plot_loss(const char *path, int n, const recur_plot_series *series, const recur_plot_opts *o);

/**
 * A series against predictions: `data` drawn as a thick grey line with
 * points, each of the n_pred predictions as a coloured line over it, and a
 * dashed vertical line at x = split marking where the training part ends
 * and the test part begins (labelled "train" and "test" on either side;
 * a NaN split draws none).
 */
RECUR_API recur_status recur_plot_predictions(const char *path, const recur_plot_series *data, int n_pred,
                                    const recur_plot_series *preds, double split, const recur_plot_opts *o);

#ifdef __cplusplus
}
#endif
#endif
