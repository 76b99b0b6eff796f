/*
 * recur/autodiff.h — symbolic reverse-mode differentiation (the gradient
 * checker, which runs plans, is in recur/gradcheck.h).
 *
 * recur_grad adds gradient nodes to the graph: the backward pass is ordinary
 * graph, run, optimised and drawn by the same machinery as the forward pass.
 */
#ifndef RECUR_AUTODIFF_H
#define RECUR_AUTODIFF_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Adds to g the nodes computing d loss / d wrt[i] for each i and writes
 * those values to grads[i] (same shape as wrt[i]). `loss` must hold one
 * element. Contributions of a value used several times are summed; a wrt
 * value the loss does not depend on gets a zero-filled gradient.
 * Fails (RECUR_ERR_NOGRAD, naming the op and node) if the loss depends on
 * a wrt value only through an op without a gradient rule for that operand.
 * On failure no gradient node is kept reachable and grads[] are RECUR_NONE.
 */
RECUR_API recur_status recur_grad(recur_graph *g, recur_value loss, int n_wrt, const recur_value *wrt,
                        recur_value *grads);

#ifdef __cplusplus
}
#endif
#endif
