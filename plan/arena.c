/*
 * plan/arena.c — placement of live ranges in one arena (see arena.h).
 *
 * Each buffer in turn goes to the lowest offset that no buffer placed
 * before it and live at the same time covers. The result depends on the
 * order; three orders are tried and the smallest arena kept: larger
 * buffers first, larger areas (bytes x steps live) first, and earlier
 * first writes first (the order a plain allocator would see them).
 */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

typedef struct sort_key {
    double key;
    int first, index;
} sort_key;

/* Larger keys first; among equals, the earlier live range first, then the index (a fixed order). */
static int by_key(const void *a, const void *b)
{
    const sort_key *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return x->index - y->index;
}

/* Places bufs in `order` (offsets into off[]); returns the arena's size. placed: scratch of n ints. */
static size_t place_in_order(const arena_buf *bufs, const sort_key *order, int n, size_t *off, int *placed)
{
    size_t end = 0;
    for (int k = 0; k < n; k++) {
        int i = order[k].index;
        const arena_buf *b = &bufs[i];
        /* placed[0..k) holds the buffers placed so far by increasing offset. */
        size_t at = 0;
        for (int j = 0; j < k; j++) {
            const arena_buf *o = &bufs[placed[j]];
            size_t o_off = off[placed[j]];
            if (o_off + o->bytes <= at) continue;
            if (o->last < b->first || b->last < o->first) continue; /* never live together */
            if (o_off >= at + b->bytes) break;                      /* b fits in the gap below o */
            at = o_off + o->bytes;
        }
        off[i] = at;
        int pos = k;
        while (pos > 0 && off[placed[pos - 1]] > at) {
            placed[pos] = placed[pos - 1];
            pos--;
        }
        placed[pos] = i;
        if (at + b->bytes > end) end = at + b->bytes;
    }
    return end;
}

int recur_arena_place(arena_buf *bufs, int n, size_t *total)
{
    sort_key *order = malloc(sizeof *order * (size_t)(n + 1));
    int *placed = malloc(sizeof(int) * (size_t)(n + 1));
    size_t *off = malloc(sizeof(size_t) * (size_t)(n + 1)), *best_off = malloc(sizeof(size_t) * (size_t)(n + 1));
    if (!order || !placed || !off || !best_off) {
        free(order), free(placed), free(off), free(best_off);
        return -1;
    }
    size_t best = 0;
    for (int how = 0; how < 3; how++) {
        for (int i = 0; i < n; i++) {
            const arena_buf *b = &bufs[i];
            double key = how == 0 ? (double)b->bytes
                         : how == 1 ? (double)b->bytes * (double)(b->last - b->first + 1)
                                    : -(double)b->first;
            order[i] = (sort_key){key, b->first, i};
        }
        qsort(order, (size_t)n, sizeof *order, by_key);
        size_t end = place_in_order(bufs, order, n, off, placed);
        if (how == 0 || end < best) {
            best = end;
            memcpy(best_off, off, sizeof(size_t) * (size_t)n);
        }
    }
    for (int i = 0; i < n; i++) bufs[i].offset = best_off[i];
    *total = best;
    free(order), free(placed), free(off), free(best_off);
    return 0;
}
