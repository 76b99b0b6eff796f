/*
 * recur/ops.h — the builder API: one function per op, reading like the math.
 *
 *   recur_value h = recur_tanh(g, recur_add(g, recur_matmul(g, x, W, 0, 1),
 *                                              recur_matmul(g, h0, U, 0, 1)));
 *
 * Every builder checks its operands' shapes and returns the new value, or
 * RECUR_NONE with an error on the graph naming the op, the operands' nodes
 * and their shapes (recur_errmsg). A failed builder adds nothing to the
 * graph. An invalid operand (RECUR_NONE) makes a builder fail too while
 * keeping the first error message.
 *
 * Broadcasting: add, sub, mul and div follow NumPy's rule. Shapes are
 * aligned at their last dimension; each pair of dimensions must be equal or
 * one of them 1; the result takes the larger. Gradients are summed back to
 * each operand's shape (recur_sum_to).
 *
 * Integer data (token ids, class targets, indices) is stored in float32
 * tensors holding whole numbers; kernels check the range at run time and
 * report a RECUR_ERR_RUNTIME naming the node.
 */
#ifndef RECUR_OPS_H
#define RECUR_OPS_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Names a value's node (see recur_set_name) and returns the value, for chaining. */
RECUR_API recur_value recur_name(recur_graph *g, recur_value v, const char *name);

/* --------------------------------------------------------- elementwise */

/** a + b, broadcasting. */
RECUR_API recur_value recur_add(recur_graph *g, recur_value a, recur_value b);
/** a - b, broadcasting. */
RECUR_API recur_value recur_sub(recur_graph *g, recur_value a, recur_value b);
/** a * b elementwise (Hadamard), broadcasting. */
RECUR_API recur_value recur_mul(recur_graph *g, recur_value a, recur_value b);
/** a / b elementwise, broadcasting. */
RECUR_API recur_value recur_div(recur_graph *g, recur_value a, recur_value b);
/** -x */
RECUR_API recur_value recur_neg(recur_graph *g, recur_value x);
/** s * x for a constant scalar s. */
RECUR_API recur_value recur_scale(recur_graph *g, recur_value x, float s);
/** tanh(x) */
RECUR_API recur_value recur_tanh(recur_graph *g, recur_value x);
/** sigmoid(x) = 1 / (1 + exp(-x)) */
RECUR_API recur_value recur_sigmoid(recur_graph *g, recur_value x);
/** max(x, 0) */
RECUR_API recur_value recur_relu(recur_graph *g, recur_value x);
/** x if x > 0 else slope * x */
RECUR_API recur_value recur_leaky_relu(recur_graph *g, recur_value x, float slope);
/** softplus(x) = log(1 + exp(x)), a smooth relu (its gradient is sigmoid(x)) */
RECUR_API recur_value recur_softplus(recur_graph *g, recur_value x);
/** clip(x, c) = min(max(x, -c), c) for a bound c > 0 (ONNX's cell clip); its gradient is 0 where it clips */
RECUR_API recur_value recur_clip(recur_graph *g, recur_value x, float c);
/** exp(x) */
RECUR_API recur_value recur_exp(recur_graph *g, recur_value x);
/** natural log(x); log of a non-positive number gives -inf/NaN as in C. */
RECUR_API recur_value recur_log(recur_graph *g, recur_value x);
/** sqrt(x) */
RECUR_API recur_value recur_sqrt(recur_graph *g, recur_value x);
/** x * x */
RECUR_API recur_value recur_square(recur_graph *g, recur_value x);
/** 1 - x (the GRU's (1 - z)) */
RECUR_API recur_value recur_one_minus(recur_graph *g, recur_value x);
/**
 * x + b where b is a vector as long as x's last dimension (a layer's bias);
 * the same as recur_add with a stricter shape check.
 */
RECUR_API recur_value recur_bias_add(recur_graph *g, recur_value x, recur_value b);
/** Identity in the forward pass; its gradient is zero (cuts gradient flow, as truncated BPTT needs). */
RECUR_API recur_value recur_stop_gradient(recur_graph *g, recur_value x);
/**
 * Inverted dropout: each element is zeroed with probability p and the rest
 * scaled by 1/(1-p). The mask is a pure function of (seed, the plan's run
 * counter, element index), so forward and backward of one run agree and
 * successive runs differ. Inside a loop body, each step of the unrolled
 * loop draws its own mask (its copy's seed is derived from seed and t).
 * A plan compiled for inference makes it the identity.
 */
RECUR_API recur_value recur_dropout(recur_graph *g, recur_value x, float p, uint64_t seed);

/* ---------------------------------------------------------- linear algebra */

/**
 * Matrix product op(a) . op(b), op = transpose when the flag is set.
 * a is [M, K] (or [K, M] transposed); b is [K, N] (or [N, K]). Batched forms:
 *   - a of rank 3 or 4 and b of rank 2: the leading dimensions of a are rows
 *     ([T, B, K] . [K, N] -> [T, B, N]); trans_a must be 0;
 *   - a and b of the same rank 3 or 4 with equal leading dimensions: one
 *     product per batch entry (as in attention).
 */
RECUR_API recur_value recur_matmul(recur_graph *g, recur_value a, recur_value b, int trans_a, int trans_b);

/* -------------------------------------------------------------- reductions */

/** Sum of all elements: a scalar. */
RECUR_API recur_value recur_sum(recur_graph *g, recur_value x);
/** Mean of all elements: a scalar. */
RECUR_API recur_value recur_mean(recur_graph *g, recur_value x);
/** Sum along one axis (negative counts from the end); keepdims keeps it as a 1. */
RECUR_API recur_value recur_sum_axis(recur_graph *g, recur_value x, int axis, int keepdims);
/** Mean along one axis. */
RECUR_API recur_value recur_mean_axis(recur_graph *g, recur_value x, int axis, int keepdims);
/** Repeats x along its size-1 (or missing leading) dimensions to `shape` (NumPy broadcasting). */
RECUR_API recur_value recur_broadcast_to(recur_graph *g, recur_value x, recur_shape shape);
/** Sums x down to `shape`, the inverse of broadcasting (the gradient of a broadcast operand). */
RECUR_API recur_value recur_sum_to(recur_graph *g, recur_value x, recur_shape shape);

/* ------------------------------------------------------------ normalisers */

/** softmax along the last axis: exp(x_i - max) / sum_j exp(x_j - max). */
RECUR_API recur_value recur_softmax(recur_graph *g, recur_value x);
/** log softmax along the last axis: x_i - max - log sum_j exp(x_j - max). */
RECUR_API recur_value recur_log_softmax(recur_graph *g, recur_value x);

/* ----------------------------------------------------------- shape and index */

/** Concatenation of n values along `axis`; all other dimensions must agree. */
RECUR_API recur_value recur_concat(recur_graph *g, int n, const recur_value *xs, int axis);
/** x[..., start:start+len, ...] along `axis`. */
RECUR_API recur_value recur_slice(recur_graph *g, recur_value x, int axis, int64_t start, int64_t len);
/**
 * Splits x along `axis` into n equal parts, writing them to out[0..n-1]
 * (n slices). RECUR_OK, or an error if the axis does not divide by n.
 */
RECUR_API recur_status recur_split(recur_graph *g, recur_value x, int axis, int n, recur_value *out);
/** x with a new shape of the same element count (data unchanged, row-major). */
RECUR_API recur_value recur_reshape(recur_graph *g, recur_value x, recur_shape shape);
/** Permutes the dimensions: result dimension i is x's dimension perm[i] (rank of x entries). */
RECUR_API recur_value recur_transpose(recur_graph *g, recur_value x, const int *perm);
/** The transpose of a matrix (swaps the last two dimensions). */
RECUR_API recur_value recur_transpose2(recur_graph *g, recur_value x);
/** n values of one shape stacked along a new dimension at `axis` ([T] of [B, F] -> [T, B, F] at axis 0). */
RECUR_API recur_value recur_stack(recur_graph *g, int n, const recur_value *xs, int axis);
/** x[index] along `axis`, removing that dimension. */
RECUR_API recur_value recur_take(recur_graph *g, recur_value x, int axis, int64_t index);
/** x[t]: step t of a time-major sequence [T, ...] (recur_take along axis 0). */
RECUR_API recur_value recur_select_step(recur_graph *g, recur_value x, int64_t t);
/**
 * Embedding lookup: table [V, D], indices of any shape S holding whole
 * numbers in [0, V); the result has shape S + [D].
 */
RECUR_API recur_value recur_gather(recur_graph *g, recur_value table, recur_value indices);
/** One-hot encoding: indices of shape S -> S + [depth], 1 at the index, 0 elsewhere. */
RECUR_API recur_value recur_one_hot(recur_graph *g, recur_value indices, int64_t depth);
/**
 * The mask of the real steps of padded sequences: lengths [B] (whole
 * numbers in 1..T, fed at run time) -> [T, B] with 1 where t < lengths[b]
 * and 0 past each sequence's end (a loss's mask over padded targets, say).
 * A length outside 1..T, not whole or NaN fails the run naming its
 * position. PyTorch's pack_padded_sequence and ONNX's sequence_lens mean
 * the same lengths.
 */
RECUR_API recur_value recur_length_mask(recur_graph *g, recur_value lengths, int64_t T);

/* ------------------------------------------------------------------ losses */

/** Mean squared error: mean((pred - target)^2), a scalar. Shapes must match. */
RECUR_API recur_value recur_mse(recur_graph *g, recur_value pred, recur_value target);
/**
 * Softmax cross-entropy with integer targets, fused and stable:
 * logits [..., C], targets of logits' shape without the last dimension
 * (whole numbers in [0, C)), optional mask of the targets' shape (RECUR_NONE
 * for none). The result is the scalar sum_i m_i * (-log softmax(logits_i)[t_i])
 * / sum_i m_i (the mean over unmasked positions; 0 if every position is masked).
 * Mask entries are weights: 1 keeps a position, 0 masks it out (its target
 * is not read), other values weight it. A mask entry that is negative, NaN
 * or infinite, or a target that is not a class index, fails the run with
 * RECUR_ERR_RUNTIME naming the node and the position.
 */
RECUR_API recur_value recur_softmax_xent(recur_graph *g, recur_value logits, recur_value targets, recur_value mask);

/* ----------------------------------------------- gradient helpers (ordinary ops) */

/** dy * (1 - y^2): the gradient of tanh from its output y. */
RECUR_API recur_value recur_tanh_grad(recur_graph *g, recur_value y, recur_value dy);
/** dy * y * (1 - y): the gradient of sigmoid from its output y. */
RECUR_API recur_value recur_sigmoid_grad(recur_graph *g, recur_value y, recur_value dy);
/** dy where x > 0 else 0. */
RECUR_API recur_value recur_relu_grad(recur_graph *g, recur_value x, recur_value dy);
/** dy where x > 0 else slope * dy. */
RECUR_API recur_value recur_leaky_relu_grad(recur_graph *g, recur_value x, recur_value dy, float slope);
/** dy where -c < x < c, else 0 (the gradient of recur_clip) */
RECUR_API recur_value recur_clip_grad(recur_graph *g, recur_value x, recur_value dy, float c);
/** y * (dy - sum(dy * y)) along the last axis: the gradient of softmax from its output y. */
RECUR_API recur_value recur_softmax_grad(recur_graph *g, recur_value y, recur_value dy);
/** dy - exp(y) * sum(dy) along the last axis: the gradient of log_softmax from its output y. */
RECUR_API recur_value recur_log_softmax_grad(recur_graph *g, recur_value y, recur_value dy);
/**
 * The gradient of recur_softmax_xent with respect to its logits, given the
 * scalar upstream gradient dloss: dloss * m_i * (softmax(logits_i) - onehot(t_i)) / sum m.
 */
RECUR_API recur_value recur_softmax_xent_grad(recur_graph *g, recur_value logits, recur_value targets,
                                    recur_value mask, recur_value dloss);
/**
 * Scatter-add: the gradient of gather. indices of shape S, dy of shape S + [D];
 * the result is [rows, D] with row r = sum of the dy rows whose index is r.
 */
RECUR_API recur_value recur_scatter_add(recur_graph *g, recur_value indices, recur_value dy, int64_t rows);
/**
 * Places x at offset `start` along `axis` inside zeros of length `total`
 * along that axis (the gradient of recur_slice).
 */
RECUR_API recur_value recur_pad_axis(recur_graph *g, recur_value x, int axis, int64_t start, int64_t total);

#ifdef __cplusplus
}
#endif
#endif
