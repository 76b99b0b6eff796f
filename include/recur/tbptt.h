/*
 * recur/tbptt.h — truncated backpropagation through time.
 *
 * A long sequence is processed in chunks of k steps by a graph unrolled
 * over k steps whose loops start from initial states that are graph inputs.
 * After each chunk the final states are copied into those inputs for the
 * next chunk: the state flows forward across chunk boundaries, the gradient
 * does not (to the graph an initial state is data). With k >= T the single
 * chunk is full BPTT.
 *
 *   recur_tbptt *tb = recur_tbptt_new(plan, 1, &h0_input, &h_final);
 *   for each chunk: feed the chunk's inputs; recur_tbptt_run(tb); update weights;
 */
#ifndef RECUR_TBPTT_H
#define RECUR_TBPTT_H

#include "exec.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct recur_tbptt recur_tbptt;

/**
 * Carries states across runs of `plan`: init[i] is an input of the plan
 * (a loop's initial state) and final[i] an output of the same shape (that
 * loop's final state). States start at zero. NULL with the reason in
 * recur_plan_errmsg(plan) on error (a wrong shape, a value the plan does not
 * read or output).
 */
RECUR_API recur_tbptt *recur_tbptt_new(recur_plan *plan, int n, const recur_value *init, const recur_value *final);

/** Frees the carrier (not the plan). */
RECUR_API void recur_tbptt_free(recur_tbptt *tb);

/** Sets every carried state back to zero (at the start of a new sequence). */
RECUR_API recur_status recur_tbptt_reset(recur_tbptt *tb);

/**
 * Runs the plan on the carried states (the chunk's other inputs must be
 * fed), then carries the final states into the next chunk.
 */
RECUR_API recur_status recur_tbptt_run(recur_tbptt *tb);

#ifdef __cplusplus
}
#endif
#endif
