/*
 * plan/arena.h — placing a plan's buffers in one arena (private to the
 * library).
 *
 * Each buffer is live over a range of plan steps; two buffers whose ranges
 * overlap must not overlap in memory, any others may. Small plans are
 * placed greedily by size (the largest buffer first, each at the lowest
 * offset free over its whole live range), large ones by a sweep through
 * the steps (arena.c); free space is reused by any later buffer that fits,
 * so the arena stays close to the largest total of bytes live at any one
 * step.
 */
#ifndef RECUR_PLAN_ARENA_H
#define RECUR_PLAN_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct arena_buf {
    int first, last; /* live from the step that first writes it to the last that reads it */
    size_t bytes;    /* a multiple of the alignment wanted */
    size_t offset;   /* out: where it goes */
} arena_buf;

/*
 * Sets the offset of each of the n buffers; *total receives the arena's
 * size; *work (if not NULL) grows by the placement's basic steps (for the
 * test that compiling stays linear). Returns 0, or -1 when out of memory
 * (nothing placed).
 */
int recur_arena_place(arena_buf *bufs, int n, size_t *total, uint64_t *work);

#endif
