/*
 * recur/gradcheck.h — checking symbolic gradients against finite
 * differences (it compiles and runs plans of the graph).
 */
#ifndef RECUR_GRADCHECK_H
#define RECUR_GRADCHECK_H

#include "autodiff.h"
#include "exec.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options of the gradient checker; zeros select the defaults. */
typedef struct recur_gradcheck_opts {
    float eps;          /**< step of the central difference (default 1e-3) */
    int every_element;  /**< 1: perturb every element of every wrt value; 0: random directions */
    int n_directions;   /**< random directions to try when every_element is 0 (default 8) */
    uint64_t seed;      /**< seed of the random directions */
    float rel_floor;    /**< relative error divides by max(|fd|, |analytic|, rel_floor) (default 1e-2) */
} recur_gradcheck_opts;

/** What the gradient checker found. */
typedef struct recur_gradcheck_report {
    double max_rel_err;  /**< largest relative error over every check */
    double max_abs_err;  /**< largest absolute error */
    int n_checks;        /**< how many differences were taken */
    int worst_wrt;       /**< index into wrt of the worst check (-1 for a random direction) */
    int64_t worst_index; /**< element of that value (or the direction number) */
    double worst_fd, worst_analytic; /**< the two numbers that disagreed most */
} recur_gradcheck_report;

/**
 * Compares recur_grad's gradients of the scalar `loss` with respect to
 * `wrt` (parameters or inputs) against central finite differences
 * (L(x + eps d) - L(x - eps d)) / (2 eps), either per element or along
 * random unit directions d. Inputs the loss needs are given in `feeds`
 * (copied; an input in wrt is perturbed in the copy). Parameters are
 * restored afterwards. Adds gradient nodes to g as recur_grad does.
 * Runs on the reference backend.
 */
RECUR_API recur_status recur_gradcheck(recur_graph *g, recur_value loss, int n_wrt, const recur_value *wrt,
                             int n_feeds, const recur_feed *feeds, const recur_gradcheck_opts *opts,
                             recur_gradcheck_report *report);

#ifdef __cplusplus
}
#endif
#endif
