/*
 * train/plot_impl.h — what the plotting files share (private to train/):
 * the thread's plot error and running gnuplot (train/gnuplot.c).
 */
#ifndef RECUR_TRAIN_PLOT_IMPL_H
#define RECUR_TRAIN_PLOT_IMPL_H

#include "graph/error.h"
#include "recur/plot.h"

/* Plots record their errors on the calling thread's record: recur_error_set(recur_thread_error(), ...). */

/*
 * Runs `program` (looked up in PATH unless it holds a '/') as
 *   program script
 * with stdin and stdout on /dev/null and stderr into the file `errpath`,
 * and waits for it. RECUR_ERR_UNSUPPORTED when it cannot be started (not
 * installed), RECUR_ERR_RUNTIME when it fails (quoting what it wrote to
 * stderr). Messages start with "plot <who>: ".
 */
recur_status recur_gnuplot_run(const char *program, const char *script, const char *errpath, const char *who);

#endif
