/*
 * data/pair_batches.c — length-bucketed batches of sentence pairs: padded,
 * time-major id tensors for the encoder and the teacher-forced decoder,
 * with their masks, in a seeded order.
 */
#include <stdlib.h>
#include <string.h>

#include "data_util.h"

struct recur_pair_batches {
    const recur_pairs *p;
    int64_t B, n_batches;
    int64_t src_len, tgt_len; /* fixed lengths, or 0 */
    int64_t *order;           /* batch k holds pairs order[first[k] .. first[k + 1]) */
    int64_t *first;
    float *src, *src_mask, *dec_in, *dec_tgt, *tgt_mask;
    float *src_lengths, *tgt_lengths;
};

void recur_pair_batches_free(recur_pair_batches *bb)
{
    if (!bb) return;
    free(bb->order);
    free(bb->first);
    free(bb->src);
    free(bb->src_mask);
    free(bb->dec_in);
    free(bb->dec_tgt);
    free(bb->tgt_mask);
    free(bb->src_lengths);
    free(bb->tgt_lengths);
    free(bb);
}

int64_t recur_pair_batches_count(const recur_pair_batches *bb) { return bb ? bb->n_batches : 0; }

static int64_t pair_len(const recur_pairs *p, int64_t i, recur_side side)
{
    int64_t n;
    recur_pairs_ids(p, i, side, &n);
    return n;
}

/* A pair in a pool being sorted: its lengths, then its place in the shuffled order (ties). */
typedef struct pool_key {
    int64_t src, tgt, pos, pair;
} pool_key;

/* The most floats a batch tensor ([S, B] or [T, B]) may hold, as any value of a graph. */
#define MAX_BATCH_FLOATS ((int64_t)1 << 40)

static int cmp_pool(const void *a, const void *b)
{
    const pool_key *x = a, *y = b;
    if (x->src != y->src) return x->src < y->src ? -1 : 1;
    if (x->tgt != y->tgt) return x->tgt < y->tgt ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Checks the options and subset, and every pair against fixed lengths; finds the longest source and target. */
static recur_status batches_check(const recur_pairs *p, const int64_t *order, int64_t n, int64_t B,
                                  const recur_pair_batch_opts *o, int64_t *max_src, int64_t *max_tgt)
{
    if (B < 1) return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "pair_batches: batch size %lld < 1", (long long)B);
    if (o->pool < 0 || o->src_len < 0 || o->tgt_len < 0)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "pair_batches: negative pool, src_len or tgt_len");
    *max_src = *max_tgt = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t i = order[k];
        if (i < 0 || i >= recur_pairs_count(p))
            return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "pair_batches: subset[%lld] = %lld is outside [0, %lld)",
                                   (long long)k, (long long)i, (long long)recur_pairs_count(p));
        int64_t s = pair_len(p, i, RECUR_SOURCE), t = pair_len(p, i, RECUR_TARGET) + 1;
        if ((o->src_len && s > o->src_len) || (o->tgt_len && t > o->tgt_len))
            return recur_error_set(recur_thread_error(), RECUR_ERR_ARG,
                                   "pair_batches: pair %lld has %lld source tokens and %lld decoder steps; the batches "
                                   "hold %lld and %lld",
                                   (long long)i, (long long)s, (long long)t, (long long)o->src_len, (long long)o->tgt_len);
        *max_src = s > *max_src ? s : *max_src;
        *max_tgt = t > *max_tgt ? t : *max_tgt;
    }
    return RECUR_OK;
}

/*
 * Shuffle the pairs, sort each pool of pool * B pairs by lengths, cut the
 * pools into batches of B (only the last pool can leave a short batch), and
 * shuffle the batch order; both shuffles draw from one generator.
 */
static recur_status cut_batches(recur_pair_batches *bb, int64_t n, int64_t pool, int drop_last, uint64_t seed)
{
    const recur_pairs *p = bb->p;
    /* pool * B and n + B - 1 could overflow for a huge B: one pool then, and ceil(n / B) without the sum */
    int64_t B = bb->B, P = pool > INT64_MAX / B ? INT64_MAX : pool * B, nb = n / B + (n % B != 0);
    recur_rng r;
    recur_rng_seed(&r, seed);
    recur_rng_shuffle(&r, bb->order, n);
    pool_key *key = malloc(sizeof(pool_key) * (size_t)(P < n ? P : n));
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)nb), *sorted = malloc(sizeof(int64_t) * (size_t)n);
    bb->first = malloc(sizeof(int64_t) * (size_t)(nb + 1));
    if (!key || !perm || !sorted || !bb->first) {
        free(key);
        free(perm);
        free(sorted);
        return recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "pair_batches: out of memory");
    }
    for (int64_t from = 0; from < n; from += P) {
        int64_t m = n - from < P ? n - from : P;
        for (int64_t k = 0; k < m; k++) {
            int64_t i = bb->order[from + k];
            key[k] = (pool_key){pair_len(p, i, RECUR_SOURCE), pair_len(p, i, RECUR_TARGET), k, i};
        }
        qsort(key, (size_t)m, sizeof *key, cmp_pool);
        for (int64_t k = 0; k < m; k++) sorted[from + k] = key[k].pair;
    }
    if (drop_last && n % B) nb--;
    for (int64_t k = 0; k < nb; k++) perm[k] = k;
    recur_rng_shuffle(&r, perm, nb);
    /* Batch k of the epoch is sorted batch perm[k]. */
    int64_t at = 0;
    for (int64_t k = 0; k < nb; k++) {
        int64_t s = perm[k] * B, m = n - s < B ? n - s : B;
        bb->first[k] = at;
        memcpy(bb->order + at, sorted + s, sizeof(int64_t) * (size_t)m);
        at += m;
    }
    bb->first[nb] = at;
    bb->n_batches = nb;
    free(key);
    free(perm);
    free(sorted);
    return RECUR_OK;
}

recur_pair_batches *recur_pair_batches_new(const recur_pairs *p, const int64_t *subset, int64_t n_subset, int64_t B,
                                           uint64_t seed, const recur_pair_batch_opts *opts)
{
    recur_pair_batch_opts o = opts ? *opts : (recur_pair_batch_opts){0};
    if (!p || (subset && n_subset < 1)) {
        recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "pair_batches: no pairs (NULL, or an empty subset)");
        return NULL;
    }
    int64_t n = subset ? n_subset : recur_pairs_count(p);
    recur_pair_batches *bb = calloc(1, sizeof *bb);
    if (bb) bb->order = malloc(sizeof(int64_t) * (size_t)n);
    if (!bb || !bb->order) {
        recur_pair_batches_free(bb);
        recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "pair_batches: out of memory");
        return NULL;
    }
    bb->p = p;
    bb->B = B;
    bb->src_len = o.src_len;
    bb->tgt_len = o.tgt_len;
    for (int64_t k = 0; k < n; k++) bb->order[k] = subset ? subset[k] : k;
    int64_t max_src = 0, max_tgt = 0;
    if (batches_check(p, bb->order, n, B, &o, &max_src, &max_tgt) != RECUR_OK ||
        cut_batches(bb, n, o.pool ? o.pool : 32, o.drop_last, seed) != RECUR_OK) {
        recur_pair_batches_free(bb);
        return NULL;
    }
    if (bb->n_batches == 0) {
        recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "pair_batches: %lld pairs make no full batch of %lld", (long long)n, (long long)B);
        recur_pair_batches_free(bb);
        return NULL;
    }
    int64_t S64 = o.src_len ? o.src_len : max_src, T64 = o.tgt_len ? o.tgt_len : max_tgt;
    /* [S, B] and [T, B] of floats: refused past 2^40 elements (a value's limit), which also keeps S B from overflowing */
    if (S64 > MAX_BATCH_FLOATS / B || T64 > MAX_BATCH_FLOATS / B) {
        recur_error_set(recur_thread_error(), RECUR_ERR_ARG,
                        "pair_batches: batches of %lld pairs over %lld source and %lld decoder steps hold more than "
                        "2^40 floats", (long long)B, (long long)S64, (long long)T64);
        recur_pair_batches_free(bb);
        return NULL;
    }
    size_t S = (size_t)S64, T = (size_t)T64;
    size_t ns = S * (size_t)B, nt = T * (size_t)B;
    bb->src = malloc(sizeof(float) * ns);
    bb->src_mask = malloc(sizeof(float) * ns);
    bb->dec_in = malloc(sizeof(float) * nt);
    bb->dec_tgt = malloc(sizeof(float) * nt);
    bb->tgt_mask = malloc(sizeof(float) * nt);
    bb->src_lengths = malloc(sizeof(float) * (size_t)B);
    bb->tgt_lengths = malloc(sizeof(float) * (size_t)B);
    if (!bb->src || !bb->src_mask || !bb->dec_in || !bb->dec_tgt || !bb->tgt_mask || !bb->src_lengths || !bb->tgt_lengths) {
        recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "pair_batches: out of memory");
        recur_pair_batches_free(bb);
        return NULL;
    }
    return bb;
}

/*
 * Column b with source s_1..s_m and target w_1..w_k, at step t:
 *   src = s_{t+1} (t < m) else PAD           src_mask = [t < m]
 *   dec_in = START (t = 0), w_t (1 <= t <= k), else PAD
 *   dec_tgt = w_{t+1} (t < k), END (t = k), else PAD     tgt_mask = [t <= k]
 *   src_lengths = m, tgt_lengths = k + 1   (1 and 1 for a column of padding)
 */
recur_status recur_pair_batches_get(recur_pair_batches *bb, int64_t k, recur_pair_batch *out)
{
    if (!bb || !out) return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "pair_batches_get: NULL batches or output");
    if (k < 0 || k >= bb->n_batches)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "pair_batches_get: batch %lld is outside [0, %lld)", (long long)k,
                               (long long)bb->n_batches);
    const recur_pairs *p = bb->p;
    const int64_t *pair = bb->order + bb->first[k];
    int64_t B = bb->B, n = bb->first[k + 1] - bb->first[k], S = bb->src_len, T = bb->tgt_len;
    for (int64_t b = 0; b < n && (!bb->src_len || !bb->tgt_len); b++) {
        int64_t s = pair_len(p, pair[b], RECUR_SOURCE), t = pair_len(p, pair[b], RECUR_TARGET) + 1;
        if (!bb->src_len && s > S) S = s;
        if (!bb->tgt_len && t > T) T = t;
    }
    for (int64_t b = 0; b < B; b++) {
        int64_t m = 0, kk = -1;
        const int64_t *src = NULL, *tgt = NULL;
        if (b < n) {
            src = recur_pairs_ids(p, pair[b], RECUR_SOURCE, &m);
            tgt = recur_pairs_ids(p, pair[b], RECUR_TARGET, &kk);
        }
        for (int64_t t = 0; t < S; t++) {
            bb->src[t * B + b] = (float)(t < m ? src[t] : RECUR_PAD_ID);
            bb->src_mask[t * B + b] = t < m;
        }
        for (int64_t t = 0; t < T; t++) {
            int64_t in = t == 0 ? RECUR_START_ID : t <= kk ? tgt[t - 1] : RECUR_PAD_ID;
            int64_t next = t < kk ? tgt[t] : t == kk ? RECUR_END_ID : RECUR_PAD_ID;
            bb->dec_in[t * B + b] = (float)(b < n ? in : RECUR_PAD_ID);
            bb->dec_tgt[t * B + b] = (float)next;
            bb->tgt_mask[t * B + b] = t <= kk;
        }
        bb->src_lengths[b] = (float)(m > 0 ? m : 1);
        bb->tgt_lengths[b] = (float)(kk + 1 > 0 ? kk + 1 : 1);
    }
    *out = (recur_pair_batch){B,           n,           S,         T,           pair,           bb->src, bb->src_mask,
                              bb->dec_in,  bb->dec_tgt, bb->tgt_mask, bb->src_lengths, bb->tgt_lengths};
    return RECUR_OK;
}
