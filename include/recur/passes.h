/*
 * recur/passes.h — the graph passes that make a general graph fast, and the
 * switches that turn them off (for testing, every test must pass with all
 * of them on and with all of them off).
 *
 *   RECUR_PASS_HOIST       unrolling computes the part of a loop body that
 *                          uses no state (input projections x_t W^T + b,
 *                          embeddings, ...) once for all T steps as one
 *                          large op, instead of T small ones;
 *   RECUR_PASS_GRAD_BATCH  autodiff sums a value's gradient contributions
 *                          with one op where it can: per-step weight
 *                          gradients sum_t A_t^T B_t become one matmul over
 *                          the concatenated rows, per-step slices of a
 *                          sequence's gradient become one concatenation
 *                          (joined step by step, as the per-step products
 *                          read them, when the sequence is read by column
 *                          slices of single steps);
 *   RECUR_PASS_FUSE        a compiled plan runs each group of elementwise ops
 *                          of one shape (a cell's gate arithmetic) as one
 *                          kernel writing every value read outside it (gate
 *                          activations, cell state, output); a sum only gate
 *                          slices read is computed inside it by columns;
 *                          gradients joined along the last axis are written
 *                          into their columns (over the activations they
 *                          differentiate where nothing else reads those);
 *                          a matmul and the bias row added to it run as one
 *                          kernel; a value that only repeats a smaller one
 *                          is read as the smaller one; a tanh, sigmoid or
 *                          exp whose input is kept anyway is computed
 *                          again where it is read late rather than kept;
 *   RECUR_PASS_MATMUL_FUSE matmuls that share their left operand and
 *                          transposes (the gate products of a cell written
 *                          one per gate) become one matmul on the
 *                          concatenated weights, each old product a slice of
 *                          it; done when a graph is unrolled (recur_unroll)
 *                          and when it is differentiated (recur_grad), so a
 *                          plan compiled before either should be compiled
 *                          again.
 *
 * A graph starts with every pass on, unless the RECUR_PASSES environment
 * variable says otherwise ("none", "all", or a comma list of "hoist",
 * "grad_batch", "fuse", "matmul_fuse").
 */
#ifndef RECUR_PASSES_H
#define RECUR_PASSES_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    RECUR_PASS_HOIST = 1u << 0,
    RECUR_PASS_GRAD_BATCH = 1u << 1,
    RECUR_PASS_FUSE = 1u << 2,
    RECUR_PASS_MATMUL_FUSE = 1u << 3,
    RECUR_PASS_ALL = RECUR_PASS_HOIST | RECUR_PASS_GRAD_BATCH | RECUR_PASS_FUSE | RECUR_PASS_MATMUL_FUSE
};

/** Sets which passes g's unrolling and differentiation use (a RECUR_PASS_* mask). */
RECUR_API void recur_set_passes(recur_graph *g, unsigned passes);

/** The passes g uses. */
RECUR_API unsigned recur_passes(const recur_graph *g);

#ifdef __cplusplus
}
#endif
#endif
