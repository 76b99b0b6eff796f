/*
 * recur/loop.h — the loop node: recurrence in a static graph.
 *
 * A loop runs a body once per time step of its sequence inputs [T, ...]. The
 * body is built with the ordinary builders on the same graph between
 * recur_loop_begin and recur_loop_end, from
 *   - step values: the slice x[t] of each sequence input (recur_loop_input),
 *   - state values: the carried state at step t, whose value at the first
 *     step is an ordinary value of the outer graph (recur_loop_state) and
 *     whose next value the body yields (recur_loop_next) — the "delay";
 *   - any value of the outer graph, used directly: weights and other
 *     loop-invariant values are captured and shared by every step.
 * Nodes made while a loop is open that use no step or state value (say a
 * transposed weight) are loop-invariant: they stay outside the body and are
 * computed once.
 *
 * After recur_loop_end, recur_loop_stacked gives any per-step body value
 * stacked over time [T, ...] and recur_loop_final a state's value after the
 * last step, as values of the outer graph; a final state can initialise
 * another loop (an encoder's final state is a decoder's context). A reverse
 * loop walks t = T-1 down to 0; its stacked outputs stay in time order.
 *
 *   recur_loop L = recur_loop_begin(g, "rnn", 0);
 *   recur_value x = recur_loop_input(g, L, xs);              // [B, I] at step t
 *   recur_value h = recur_loop_state(g, L, "h", h0);          // [B, H]
 *   recur_value h1 = recur_tanh(g, recur_add(g, recur_matmul(g, x, W, 0, 1),
 *                                                recur_matmul(g, h, U, 0, 1)));
 *   recur_loop_next(g, L, h, h1);
 *   recur_loop_end(g, L);
 *   recur_value hs = recur_loop_stacked(g, L, h1);            // [T, B, H]
 *
 * Running: recur_unroll (recur/passes.h) turns every loop into T copies of its body (BPTT
 * then differentiates the unrolled graph like any other), and a stepper
 * (recur/exec.h) runs the body one step at a time for generation.
 * Loops do not nest: one loop is open at a time.
 */
#ifndef RECUR_LOOP_H
#define RECUR_LOOP_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A loop of a graph, by index; id < 0 is the invalid loop (see recur_errmsg). */
typedef struct recur_loop {
    int32_t id;
} recur_loop;

/** Opens a loop. `reverse` = 1 walks time backwards. Fails if another loop is open. */
RECUR_API recur_loop recur_loop_begin(recur_graph *g, const char *name, int reverse);

/**
 * Declares `seq` [T, ...] a sequence input of the open loop and returns its
 * step value (seq[t], shape without the leading T). Every sequence input of
 * a loop must have the same T.
 */
RECUR_API recur_value recur_loop_input(recur_graph *g, recur_loop l, recur_value seq);

/**
 * Declares a carried state named `name`, equal to `init` (a value of the
 * outer graph) at the first step, and returns the state's value at step t.
 */
RECUR_API recur_value recur_loop_state(recur_graph *g, recur_loop l, const char *name, recur_value init);

/** Closes a state: `next` (same shape) is its value at the following step. */
RECUR_API recur_status recur_loop_next(recur_graph *g, recur_loop l, recur_value state, recur_value next);

/**
 * Gives the open loop per-sequence lengths: `lengths` [B] (an outer value,
 * usually an input fed at run time) holds whole numbers in 1..T, one per
 * sequence of the batch, the sequences being padded to T steps (PyTorch's
 * pack_padded_sequence, ONNX's sequence_lens). Then sequence b's states
 * stop changing after its step lengths[b] - 1 (a reverse loop keeps its
 * initial states until that step and then walks back from it), its stacked
 * outputs past that step are zero, and its final states are those of its
 * own last step; gradients with respect to padding are exactly zero. Call
 * it after the loop's first recur_loop_input and before recur_loop_end;
 * every sequence input and state must have the batch [B, ...]. A length
 * outside 1..T, not whole or NaN fails the run naming "<loop>.lengths" and
 * the position.
 */
RECUR_API recur_status recur_loop_lengths(recur_graph *g, recur_loop l, recur_value lengths);

/**
 * Ends the loop's body. Fails (the loop stays open, so the mistake can be
 * mended) if a state was never closed or the loop has no sequence input.
 */
RECUR_API recur_status recur_loop_end(recur_graph *g, recur_loop l);

/**
 * A per-step body value stacked over time: [T, ...] in time order. The loop
 * must be ended. With lengths, a value of the batch ([B, ...] per step) is
 * zero past each sequence's end.
 */
RECUR_API recur_value recur_loop_stacked(recur_graph *g, recur_loop l, recur_value per_step);

/** A state's value after the loop's last step (with lengths: after each sequence's own last step). The loop must be ended. */
RECUR_API recur_value recur_loop_final(recur_graph *g, recur_loop l, recur_value state);


/**
 * After unrolling: the copy of body value `v` made for time step t (for a
 * state value, the state at step t). Use it to fetch or differentiate
 * per-step values, e.g. d loss / d h_t to watch gradients vanish.
 */
RECUR_API recur_value recur_loop_step_value(recur_graph *g, recur_loop l, recur_value v, int64_t t);

/** Number of loops in g. */
RECUR_API int recur_loop_count(const recur_graph *g);

/** The i-th loop (0-based). */
RECUR_API recur_loop recur_loop_at(const recur_graph *g, int i);

/** A loop's name, or NULL if l is invalid. */
RECUR_API const char *recur_loop_name(const recur_graph *g, recur_loop l);

/** A loop's sequence length T (0 before its first input is declared). */
RECUR_API int64_t recur_loop_length(const recur_graph *g, recur_loop l);

/** 1 if the loop walks time backwards. */
RECUR_API int recur_loop_is_reverse(const recur_graph *g, recur_loop l);

/**
 * The loop whose body holds value v (a step value, a state, or anything
 * computed from them inside the body), or the invalid loop (id < 0) for a
 * value of the outer graph or an invalid v.
 */
RECUR_API recur_loop recur_value_loop(const recur_graph *g, recur_value v);

#ifdef __cplusplus
}
#endif
#endif
