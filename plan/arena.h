/*
 * plan/arena.h — placing a plan's buffers in one arena (private to the
 * library).
 *
 * Each buffer is live over a range of plan steps; two buffers whose ranges
 * overlap must not overlap in memory, any others may. Placement is greedy
 * by size: the largest buffer first, each at the lowest offset that is
 * free over its whole live range. Free space between buffers is reused by
 * any later buffer that fits, so the arena stays close to the largest
 * total of bytes live at any one step.
 */
#ifndef RECUR_BACKENDS_ARENA_H
#define RECUR_BACKENDS_ARENA_H

#include <stddef.h>

typedef struct arena_buf {
    int first, last; /* live from the step that first writes it to the last that reads it */
    size_t bytes;    /* a multiple of the alignment wanted */
    size_t offset;   /* out: where it goes */
} arena_buf;

/*
 * Sets the offset of each of the n buffers; *total receives the arena's
 * size. Returns 0, or -1 when out of memory (nothing placed).
 */
int recur_arena_place(arena_buf *bufs, int n, size_t *total);

#endif
