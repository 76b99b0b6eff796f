/*
 * passes/include/passes/passes.h — the graph passes' entry points, which
 * the pipeline runs (passes/pipeline.c), and the pipeline's hooks for
 * autodiff (internal to the library; the order and the switches are
 * documented in recur/passes.h).
 */
#ifndef RECUR_PASSES_PASSES_H
#define RECUR_PASSES_PASSES_H

#include "graph/ir.h"
#include "recur/passes.h"

/* ------------------------------------------------------------- the passes */

/* Unrolling loop li, first: its record of hoisted body values, with each sequence's step read from the sequence. */
recur_status recur_pass_unroll_prepare(recur_graph *g, int li);

/*
 * Hoisting (hoist.c): for every body node of loop li that uses no state and
 * whose op may take a leading time axis, adds the node computing it for
 * all T steps at once and records it in the loop's hoisted list. Needs
 * recur_pass_unroll_prepare; adds nodes only.
 */
recur_status recur_pass_hoist(recur_graph *g, int li);

/*
 * Unrolling loop li (unroll.c): T copies of its body, reading hoisted
 * values' slices, and its outputs made aliases of the unrolled values.
 * Needs recur_pass_unroll_prepare (and hoisting, if it runs).
 */
recur_status recur_pass_unroll_loop(recur_graph *g, int li);

/*
 * Matmul fusion (matmul_fuse.c): the outer matmuls with one A operand, the
 * same transposes and 2-D weight B operands become one matmul on the
 * concatenated B's, each former product turned in place into its slice of
 * the result; products a compiled plan reads are left alone. Idempotent.
 * RECUR_OK, or an error recorded on g (the graph stays valid).
 */
recur_status recur_pass_matmul_fuse(recur_graph *g);

/*
 * One-hot products as lookups (one_hot.c): every outer x W or x W^T with
 * x = one_hot(ids, V) becomes, in place, gather(W, ids) (of W's columns
 * for W^T); products a compiled plan reads are left alone. Idempotent.
 */
recur_status recur_pass_one_hot(recur_graph *g);

/*
 * Gradient batching (grad_batch.c): the sum of the n gradient terms (node
 * ids), with one op for the terms that allow it: pad_axis terms filling
 * disjoint ranges of one axis become one concatenation, 2-D matmul terms
 * with the same transposes and output shape one matmul over operands
 * concatenated along their inner dimension, sum_to terms of one shape one
 * reduction; the rest are added. RECUR_NONE with the graph's error on
 * failure.
 */
recur_value recur_pass_grad_batch(recur_graph *g, int n, const int32_t *terms);

/* ---------------------------------------------- the pipeline, for autodiff */

/* What recur_grad runs on the forward graph before differentiating it (matmul fusion of what unrolling did not see). */
recur_status recur_pipeline_before_grad(recur_graph *g);

/* How recur_grad sums a value's gradient terms: batched (RECUR_PASS_GRAD_BATCH) or added one by one. */
recur_value recur_pipeline_grad_sum(recur_graph *g, int n, const int32_t *terms);

#endif
