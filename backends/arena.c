/*
 * backends/arena.c — greedy-by-size placement of live ranges in one arena
 * (see arena.h).
 */
#include "backends/arena.h"

#include <stdlib.h>

typedef struct sort_key {
    size_t bytes;
    int first, index;
} sort_key;

/* Larger buffers first; among equals, the earlier live range first (a fixed order). */
static int by_size(const void *a, const void *b)
{
    const sort_key *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return x->index - y->index;
}

int recur_arena_place(arena_buf *bufs, int n, size_t *total)
{
    sort_key *order = malloc(sizeof *order * (size_t)(n + 1));
    int *placed = malloc(sizeof(int) * (size_t)(n + 1)); /* placed buffers by increasing offset */
    if (!order || !placed) {
        free(order);
        free(placed);
        return -1;
    }
    for (int i = 0; i < n; i++) order[i] = (sort_key){bufs[i].bytes, bufs[i].first, i};
    qsort(order, (size_t)n, sizeof *order, by_size);
    size_t end = 0;
    for (int k = 0; k < n; k++) {
        arena_buf *b = &bufs[order[k].index];
        /* The lowest offset below, between or after the placed buffers live at the same time. */
        size_t at = 0;
        int pos = 0;
        for (int j = 0; j < k; j++) {
            const arena_buf *o = &bufs[placed[j]];
            if (o->offset + o->bytes <= at) continue;
            if (o->last < b->first || b->last < o->first) continue; /* never live together */
            if (o->offset >= at + b->bytes) break;                  /* b fits in the gap below o */
            at = o->offset + o->bytes;
        }
        b->offset = at;
        while (pos < k && bufs[placed[pos]].offset <= at) pos++;
        for (int j = k; j > pos; j--) placed[j] = placed[j - 1];
        placed[pos] = order[k].index;
        if (at + b->bytes > end) end = at + b->bytes;
    }
    *total = end;
    free(order);
    free(placed);
    return 0;
}
