/*
 * autodiff/accumulate.h — summing a value's gradient contributions (private).
 */
#ifndef RECUR_AUTODIFF_ACCUMULATE_H
#define RECUR_AUTODIFF_ACCUMULATE_H

#include "graph/ir.h"

/*
 * The sum of the n gradient terms (node ids). With RECUR_PASS_GRAD_BATCH
 * (in g->passes) terms that can be summed by one op are: pad_axis terms
 * filling disjoint ranges of one axis become one concatenation, and 2-D
 * matmul terms with the same transposes and output shape become one matmul
 * over operands concatenated along their inner dimension. The rest are
 * added. RECUR_NONE with the graph's error on failure.
 */
recur_value recur_grad_sum(recur_graph *g, int n, const int32_t *terms);

#endif
