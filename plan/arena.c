/*
 * plan/arena.c — placement of live ranges in one arena (see arena.h).
 *
 * Two placements, chosen by the number of buffers:
 *
 * Up to ARENA_EXACT_MAX buffers, each buffer in turn goes to the lowest
 * offset that no buffer placed before it and live at the same time covers.
 * The result depends on the order; three orders are tried and the
 * smallest arena kept: larger buffers first, larger areas (bytes x steps
 * live) first, and earlier first writes first. Each placement looks at
 * every buffer placed before it: quadratic in the number of buffers.
 *
 * Beyond that (a loop unrolled over thousands of steps), a sweep through
 * the plan's steps in order, as an allocator would run: at each step the
 * buffers whose live range ended are freed (merged with free neighbours)
 * and those whose range begins are placed, largest first, in the free
 * block of lowest offset that holds them (first fit), or at the end. The
 * free blocks are kept in a treap ordered by offset, each node holding the
 * largest block of its subtree, so a placement or a free costs O(log n).
 * Compiling then stays linear in T.
 */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

/* The most buffers the exact placement takes. */
#define ARENA_EXACT_MAX 1024

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
static size_t place_in_order(const arena_buf *bufs, const sort_key *order, int n, size_t *off, int *placed,
                             uint64_t *work)
{
    size_t end = 0;
    for (int k = 0; k < n; k++) {
        int i = order[k].index;
        const arena_buf *b = &bufs[i];
        /* placed[0..k) holds the buffers placed so far by increasing offset. */
        size_t at = 0;
        int j = 0;
        for (; j < k; j++) {
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
        *work += (uint64_t)j + (uint64_t)(k - pos) + 1;
        if (at + b->bytes > end) end = at + b->bytes;
    }
    return end;
}

static int place_exact(arena_buf *bufs, int n, size_t *total, uint64_t *work)
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
        size_t end = place_in_order(bufs, order, n, off, placed, work);
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

/* ------------------------------------------------------------ the sweep */

/* A free block [at, at + bytes) in the treap: ordered by at, heap-ordered by prio. */
typedef struct block {
    size_t at, bytes, max; /* max: the largest block in this subtree */
    uint32_t prio;
    int left, right;       /* indices into the pool, -1: none */
} block;

typedef struct treap {
    block *pool;
    int *spare, n_spare, root;
    uint32_t seed;
    uint64_t *work;
} treap;

static size_t max3(size_t a, size_t b, size_t c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

static void update(treap *t, int x)
{
    block *b = &t->pool[x];
    b->max = max3(b->bytes, b->left >= 0 ? t->pool[b->left].max : 0, b->right >= 0 ? t->pool[b->right].max : 0);
}

/* Splits subtree x into blocks at < key (*l) and at >= key (*r). */
static void split(treap *t, int x, size_t key, int *l, int *r)
{
    if (x < 0) {
        *l = *r = -1;
        return;
    }
    ++*t->work;
    if (t->pool[x].at < key) {
        split(t, t->pool[x].right, key, &t->pool[x].right, r);
        *l = x;
    } else {
        split(t, t->pool[x].left, key, l, &t->pool[x].left);
        *r = x;
    }
    update(t, x);
}

/* Joins subtrees l and r, every block of l before every block of r. */
static int join(treap *t, int l, int r)
{
    if (l < 0) return r;
    if (r < 0) return l;
    ++*t->work;
    if (t->pool[l].prio > t->pool[r].prio) {
        t->pool[l].right = join(t, t->pool[l].right, r);
        update(t, l);
        return l;
    }
    t->pool[r].left = join(t, l, t->pool[r].left);
    update(t, r);
    return r;
}

static void insert(treap *t, size_t at, size_t bytes)
{
    int x = t->spare[--t->n_spare];
    t->seed = t->seed * 1664525u + 1013904223u;
    t->pool[x] = (block){at, bytes, bytes, t->seed, -1, -1};
    int l, r;
    split(t, t->root, at, &l, &r);
    t->root = join(t, join(t, l, x), r);
}

/* Removes the block at offset `at` (which must exist) and returns its size. */
static size_t take(treap *t, size_t at)
{
    int l, mid, r;
    split(t, t->root, at, &l, &mid);
    split(t, mid, at + 1, &mid, &r);
    size_t bytes = t->pool[mid].bytes;
    t->spare[t->n_spare++] = mid;
    t->root = join(t, l, r);
    return bytes;
}

/* The block of lowest offset that holds `bytes`, or -1. */
static int first_fit(const treap *t, size_t bytes)
{
    int x = t->root;
    while (x >= 0 && t->pool[x].max >= bytes) {
        ++*t->work;
        const block *b = &t->pool[x];
        if (b->left >= 0 && t->pool[b->left].max >= bytes) x = b->left;
        else if (b->bytes >= bytes) return x;
        else x = b->right;
    }
    return -1;
}

/* The block that ends at `end`, or -1 (the free block just below an offset). */
static int ending_at(const treap *t, size_t end)
{
    int x = t->root, found = -1;
    while (x >= 0) { /* the last block starting before end */
        ++*t->work;
        if (t->pool[x].at < end) found = x, x = t->pool[x].right;
        else x = t->pool[x].left;
    }
    return found >= 0 && t->pool[found].at + t->pool[found].bytes == end ? found : -1;
}

/* The block that starts at `at`, or -1. */
static int starting_at(const treap *t, size_t at)
{
    int x = t->root;
    while (x >= 0 && t->pool[x].at != at) {
        ++*t->work;
        x = at < t->pool[x].at ? t->pool[x].left : t->pool[x].right;
    }
    return x;
}

/* Returns [at, at + bytes) to the free blocks, merged with the free blocks beside it. */
static void release(treap *t, size_t at, size_t bytes)
{
    int below = ending_at(t, at);
    if (below >= 0) {
        size_t b_at = t->pool[below].at;
        bytes += take(t, b_at);
        at = b_at;
    }
    int above = starting_at(t, at + bytes);
    if (above >= 0) bytes += take(t, at + bytes);
    insert(t, at, bytes);
}

/* A buffer's place in the sweep's orders: by first step (larger first), and by last step. */
typedef struct sweep_key {
    int step;
    size_t bytes;
    int index;
} sweep_key;

static int by_step(const void *a, const void *b)
{
    const sweep_key *x = a, *y = b;
    if (x->step != y->step) return x->step < y->step ? -1 : 1;
    if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
    return x->index - y->index;
}

static int place_sweep(arena_buf *bufs, int n, size_t *total, uint64_t *work)
{
    sweep_key *starts = malloc(sizeof *starts * (size_t)(n + 1)), *ends = malloc(sizeof *ends * (size_t)(n + 1));
    treap t = {.pool = malloc(sizeof(block) * (size_t)(n + 2)), .spare = malloc(sizeof(int) * (size_t)(n + 2)),
               .root = -1, .seed = 12345u, .work = work};
    if (!starts || !ends || !t.pool || !t.spare) {
        free(starts), free(ends), free(t.pool), free(t.spare);
        return -1;
    }
    for (int i = 0; i < n + 2; i++) t.spare[i] = n + 1 - i;
    t.n_spare = n + 2;
    for (int i = 0; i < n; i++) {
        starts[i] = (sweep_key){bufs[i].first, bufs[i].bytes, i};
        ends[i] = (sweep_key){bufs[i].last, 0, i};
    }
    qsort(starts, (size_t)n, sizeof *starts, by_step);
    qsort(ends, (size_t)n, sizeof *ends, by_step);
    size_t top = 0;
    for (int s = 0, e = 0; s < n; s++) {
        arena_buf *b = &bufs[starts[s].index];
        /* Free what stopped living before this buffer's first step. */
        for (; e < n && ends[e].step < b->first; e++) {
            const arena_buf *d = &bufs[ends[e].index];
            if (d->bytes) release(&t, d->offset, d->bytes);
        }
        ++*work;
        if (!b->bytes) {
            b->offset = 0;
            continue;
        }
        int x = first_fit(&t, b->bytes);
        if (x >= 0) {
            size_t at = t.pool[x].at, bytes = take(&t, at);
            b->offset = at;
            if (bytes > b->bytes) insert(&t, at + b->bytes, bytes - b->bytes);
        } else {
            int last = ending_at(&t, top); /* the free block at the end grows to hold it */
            size_t at = last >= 0 ? t.pool[last].at : top;
            if (last >= 0) take(&t, at);
            b->offset = at;
            top = at + b->bytes;
        }
    }
    *total = top;
    free(starts), free(ends), free(t.pool), free(t.spare);
    return 0;
}

int recur_arena_place(arena_buf *bufs, int n, size_t *total, uint64_t *work)
{
    uint64_t scratch = 0;
    if (!work) work = &scratch;
    if (n <= 0) {
        *total = 0;
        return 0;
    }
    return n <= ARENA_EXACT_MAX ? place_exact(bufs, n, total, work) : place_sweep(bufs, n, total, work);
}
