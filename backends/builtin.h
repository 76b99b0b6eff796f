/*
 * backends/builtin.h — the backends this library is built with (private to
 * backends/): each is a table of hooks (plan/plan.h).
 */
#ifndef RECUR_BACKENDS_BUILTIN_H
#define RECUR_BACKENDS_BUILTIN_H

#include "plan/plan.h"

/* The portable reference backend: the op table's kernels, nothing else (reference/reference.c). */
extern const recur_backend recur_backend_reference_impl;

/* oneDNN's primitives for matmuls, activations and broadcasts (onednn/onednn.c). */
extern const recur_backend recur_backend_onednn_impl;

#endif
