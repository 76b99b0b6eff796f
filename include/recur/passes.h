/*
 * recur/passes.h — unrolling and the graph passes that make a general graph
 * fast: the pipeline, in the order it runs, and the switches that turn
 * each pass off (for testing, every test passes with all of them on and
 * with all of them off).
 *
 * The pipeline (passes/pipeline.c runs stages 1-7, the compiler stage 8):
 *
 *   recur_unroll, for each loop not unrolled yet:
 *     1. prepare      the loop's sequences are read step by step
 *     2. hoist        RECUR_PASS_HOIST: the part of the body that uses no
 *                     state (input projections x_t W^T + b, embeddings, ...)
 *                     is computed once for all T steps as one large op;
 *                     needs the loop's body, before its copies are made
 *     3. unroll       T copies of the rest of the body; the loop's outputs
 *                     become aliases of the unrolled values
 *   4. matmul_fuse    RECUR_PASS_MATMUL_FUSE, once every loop is unrolled:
 *                     matmuls that share their left operand and transposes
 *                     (the gate products of a cell written one per gate)
 *                     become one matmul on the concatenated weights, each
 *                     old product a slice of it
 *   5. one_hot        RECUR_PASS_ONE_HOT: a product of a one-hot encoding,
 *                     one_hot(ids) W (or W^T), becomes the lookup of W's
 *                     rows (columns) it amounts to, its weight gradient a
 *                     scatter-add (a character model's input projection)
 *   recur_grad:
 *     6. matmul_fuse  again, with one_hot, for products built after
 *                     recur_unroll (or in a graph without loops)
 *     7. grad_batch   RECUR_PASS_GRAD_BATCH, as autodiff sums a value's
 *                     gradient contributions: per-step weight gradients
 *                     sum_t A_t^T B_t become one matmul over the
 *                     concatenated rows, per-step slices of a sequence's
 *                     gradient one concatenation, per-step bias gradients
 *                     one reduction
 *   recur_compile:
 *     8. fuse         RECUR_PASS_FUSE, over the plan rather than the graph:
 *                     a matmul and the bias row added to it run as one
 *                     kernel; each group of elementwise ops of one shape (a
 *                     cell's gate arithmetic forward, its gradients
 *                     backward) runs as one kernel writing every value read
 *                     outside it; gradients joined along the last axis are
 *                     written into their columns (over the activations they
 *                     differentiate where nothing else reads those); a
 *                     value that only repeats a smaller one is read as the
 *                     smaller one; a tanh, sigmoid or exp whose input is
 *                     kept anyway is computed again rather than kept
 *     9. lanes        RECUR_PASS_LANES: the plan's steps ordered by
 *                     their distance from the outputs, so that independent
 *                     chains (the two directions of a bidirectional layer)
 *                     interleave, and two threads run the small steps of
 *                     such stretches side by side, each waiting only for
 *                     the steps whose memory it shares (plan/lanes.c)
 *
 * Passes add nodes. Those that rewrite a node in place (unrolling turns a
 * loop's outputs into aliases, matmul fusion turns products into slices,
 * one_hot products into lookups)
 * leave alone every node a compiled plan reads, so a plan compiled at any
 * point stays valid: a plan compiled before recur_grad computes what it
 * computed before, and plans compiled later see the fused products.
 *
 * A graph starts with every pass on, unless the RECUR_PASSES environment
 * variable says otherwise ("none", "all", or a comma list of "hoist",
 * "grad_batch", "fuse", "matmul_fuse", "one_hot", "lanes").
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
    RECUR_PASS_ONE_HOT = 1u << 4,
    RECUR_PASS_LANES = 1u << 5,
    RECUR_PASS_ALL = RECUR_PASS_HOIST | RECUR_PASS_GRAD_BATCH | RECUR_PASS_FUSE | RECUR_PASS_MATMUL_FUSE | RECUR_PASS_ONE_HOT |
                     RECUR_PASS_LANES
};

/**
 * The unroll stage of the pipeline: replaces every ended loop by T copies
 * of its body in the graph (one shared node per captured weight, so its
 * gradient sums over steps), hoisting what uses no state, and makes every
 * stacked output and final state an alias of the unrolled result; then
 * fuses products that share an operand. Values held by the caller stay
 * valid. The body itself is kept for steppers and diagrams. Fails if a
 * loop is still open. Loops ended later are unrolled by a later call.
 */
RECUR_API recur_status recur_unroll(recur_graph *g);

/** Sets which passes g's pipeline runs (a RECUR_PASS_* mask); the default comes from RECUR_PASSES. */
RECUR_API void recur_set_passes(recur_graph *g, unsigned passes);

/** The passes g uses. */
RECUR_API unsigned recur_passes(const recur_graph *g);

#ifdef __cplusplus
}
#endif
#endif
