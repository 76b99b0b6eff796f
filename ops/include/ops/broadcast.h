/*
 * ops/include/ops/broadcast.h — NumPy broadcasting helpers for op kernels (private).
 */
#ifndef RECUR_OPS_BROADCAST_H
#define RECUR_OPS_BROADCAST_H

#include "ops/op.h"

/* The broadcast shape of a and b into *out; 0 if they do not broadcast. */
int recur_broadcast_shape(recur_shape a, recur_shape b, recur_shape *out);

/*
 * Maps flat indices of an output shape to offsets into an input that
 * broadcasts to it (stride 0 along broadcast dimensions).
 */
typedef struct recur_bcast {
    int64_t d[RECUR_MAX_DIMS];  /* the output's dimensions, left-padded with 1s */
    int64_t st[RECUR_MAX_DIMS]; /* the input's strides along them */
} recur_bcast;

void recur_bcast_init(recur_bcast *it, recur_shape out, recur_shape in);

/*
 * The period of `in` inside `out` when broadcasting only repeats it whole:
 * in (without leading 1s) equals out's trailing dimensions, so out's element
 * i reads in's element i % period (a scalar: 1; a bias row: its length; the
 * same shape: numel). 0 when the broadcast is anything else.
 */
int64_t recur_bcast_period(recur_shape out, recur_shape in);

/*
 * The broadcasts a fused kernel reads without an index walk: out's element
 * i reads in's element (i / *stretch) % period. in (without leading 1s)
 * equals out's trailing dimensions except for its own trailing 1s, each of
 * whose elements stands for a run of *stretch of out's (the product of the
 * dimensions of out they face): a mask [B, 1] over [B, H] has stretch H and
 * period B; recur_bcast_period's broadcasts have stretch 1. Returns the
 * period (in's element count), or 0 when the broadcast is anything else.
 */
int64_t recur_bcast_stretch(recur_shape out, recur_shape in, int64_t *stretch);

/* Offset into the input of the output's element `flat`. */
int64_t recur_bcast_offset(const recur_bcast *it, int64_t flat);

#endif
