/*
 * fuzz/fuzz_pairs.c — a libFuzzer target for the sentence-pair (TSV)
 * reader (recur_pairs_parse, what recur_pairs_load runs on a file's bytes)
 * and the batches made from its pairs.
 *
 * The input's first byte picks the options (swap, max_len 0/3/6/9,
 * min_count 1 or 2, max_pairs 0/2/4/6) and the batch size; the rest is the
 * file. The reader must never crash, leak or read out of bounds (ASan,
 * UBSan), and:
 *   - a refusal is RECUR_ERR_FORMAT (or NOMEM) with a message naming the
 *     file, and every file holding a NUL byte is refused;
 *   - an accepted file has at least one pair and at most max_pairs; every
 *     pair's ids lie in its side's vocabulary, number 1..max_len, are what
 *     encoding the pair's text gives, and (with min_count 1, so no [UNK])
 *     decode to the text's tokens (recur_tokenize);
 *   - every vocabulary word is found again by recur_pairs_word_id;
 *   - the batches of an epoch hold every pair exactly once, padded and
 *     masked as recur/data.h describes ([START] first, [END] after the
 *     last target word, masks 1 exactly on the real steps).
 * A broken property aborts, which libFuzzer reports as a crash.
 *
 * Build and run: fuzz/run_fuzz.sh SECONDS pairs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_util.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Pair i's side against its text: encoding gives its ids; without [UNK], decoding gives its tokens. */
static void check_side(const recur_pairs *p, int64_t i, recur_side side, int64_t max_len, int no_unk)
{
    int64_t n = 0;
    const int64_t *ids = recur_pairs_ids(p, i, side, &n);
    const char *text = recur_pairs_text(p, i, side);
    int64_t V = recur_pairs_vocab_size(p, side);
    fuzz_check(ids && text && n >= 1 && (!max_len || n <= max_len), "a kept pair's side has 1..max_len tokens");
    for (int64_t k = 0; k < n; k++)
        fuzz_check(ids[k] >= RECUR_UNK_ID && ids[k] < V && (ids[k] != RECUR_UNK_ID || !no_unk), "ids are words");
    int64_t *again = malloc(sizeof(int64_t) * (size_t)n), m = 0;
    fuzz_check(again != NULL, "out of memory in the target");
    fuzz_check(recur_pairs_encode(p, side, text, again, n, &m) == RECUR_OK && m == n &&
                   memcmp(again, ids, sizeof(int64_t) * (size_t)n) == 0,
               "encoding a pair's text gives its ids");
    free(again);
    if (!no_unk) return;
    size_t cap = 4 * strlen(text) + 16;
    char *tokens = malloc(cap), *words = malloc(cap);
    int64_t n_tok = 0;
    fuzz_check(tokens && words, "out of memory in the target");
    fuzz_check(recur_tokenize(text, tokens, cap, &n_tok) == RECUR_OK && n_tok == n, "the text tokenizes to n tokens");
    fuzz_check(recur_pairs_decode(p, side, ids, n, words, cap) == RECUR_OK, "the ids decode");
    fuzz_check(strcmp(tokens, words) == 0, "the ids decode to the text's tokens");
    free(tokens);
    free(words);
}

/* One epoch of batches of B pairs: every pair once, padded and masked as documented. */
static void check_batches(const recur_pairs *p, int64_t B, uint64_t seed)
{
    int64_t count = recur_pairs_count(p);
    recur_pair_batches *bb = recur_pair_batches_new(p, NULL, 0, B, seed, NULL);
    fuzz_check(bb != NULL, "batches of valid pairs are made");
    char *seen = calloc((size_t)count, 1);
    fuzz_check(seen != NULL, "out of memory in the target");
    for (int64_t k = 0; k < recur_pair_batches_count(bb); k++) {
        recur_pair_batch b;
        fuzz_check(recur_pair_batches_get(bb, k, &b) == RECUR_OK, "every batch is made");
        fuzz_check(b.B == B && b.n_pairs >= 1 && b.n_pairs <= B, "a batch holds 1..B pairs");
        for (int64_t c = 0; c < B; c++) {
            int64_t m = 0, kk = 0;
            const int64_t *src = NULL, *tgt = NULL;
            if (c < b.n_pairs) {
                fuzz_check(b.pair[c] >= 0 && b.pair[c] < count && !seen[b.pair[c]], "each pair once");
                seen[b.pair[c]] = 1;
                src = recur_pairs_ids(p, b.pair[c], RECUR_SOURCE, &m);
                tgt = recur_pairs_ids(p, b.pair[c], RECUR_TARGET, &kk);
                fuzz_check(m <= b.S && kk + 1 <= b.T, "the batch is long enough for its pairs");
            }
            for (int64_t t = 0; t < b.S; t++) {
                fuzz_check(b.src_mask[t * B + c] == (t < m), "src_mask is 1 on the real steps");
                fuzz_check(b.src[t * B + c] == (float)(t < m ? src[t] : RECUR_PAD_ID), "src holds the source, then [PAD]");
            }
            for (int64_t t = 0; t < b.T; t++) {
                int live = c < b.n_pairs;
                float in = !live ? RECUR_PAD_ID : t == 0 ? RECUR_START_ID : t <= kk ? (float)tgt[t - 1] : RECUR_PAD_ID;
                float next = !live ? RECUR_PAD_ID : t < kk ? (float)tgt[t] : t == kk ? RECUR_END_ID : RECUR_PAD_ID;
                fuzz_check(b.dec_in[t * B + c] == in, "dec_in is [START], the target, then [PAD]");
                fuzz_check(b.dec_tgt[t * B + c] == next, "dec_tgt is the target, [END], then [PAD]");
                fuzz_check(b.tgt_mask[t * B + c] == (live && t <= kk), "tgt_mask is 1 up to [END], 0 in padding");
            }
        }
    }
    for (int64_t i = 0; i < count; i++) fuzz_check(seen[i], "every pair is in a batch");
    free(seen);
    recur_pair_batches_free(bb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned char opt = data[0];
    recur_pairs_opts o = {.swap = opt & 1,
                          .max_len = 3 * ((opt >> 1) & 3),
                          .min_count = 1 + ((opt >> 3) & 1),
                          .max_pairs = 2 * ((opt >> 4) & 3)};
    int64_t B = 1 + ((opt >> 6) & 3);
    size_t len = size - 1;
    char *text = malloc(len + 1); /* the pairs take it over */
    fuzz_check(text != NULL, "out of memory in the target");
    memcpy(text, data + 1, len);
    text[len] = 0;
    int has_nul = memchr(data + 1, 0, len) != NULL;

    recur_pairs *p = recur_pairs_parse("fuzz.tsv", text, len, &o);
    if (!p) {
        recur_status st = recur_data_errcode();
        fuzz_check(st == RECUR_ERR_FORMAT || st == RECUR_ERR_NOMEM, "a refusal is a format error");
        fuzz_check(strstr(recur_data_errmsg(), "fuzz.tsv") != NULL, "the message names the file");
        return 0;
    }
    fuzz_check(!has_nul, "a file holding a NUL byte is refused");
    int64_t count = recur_pairs_count(p);
    fuzz_check(count >= 1 && (!o.max_pairs || count <= o.max_pairs), "1..max_pairs pairs");
    fuzz_check(recur_pairs_skipped(p) >= 0, "the skipped count is not negative");
    for (int64_t i = 0; i < count; i++) {
        fuzz_check(recur_pairs_attribution(p, i) != NULL, "every pair has an attribution (maybe empty)");
        check_side(p, i, RECUR_SOURCE, o.max_len, o.min_count == 1);
        check_side(p, i, RECUR_TARGET, o.max_len, o.min_count == 1);
    }
    fuzz_check(recur_pairs_text(p, count, RECUR_SOURCE) == NULL, "a pair past the last has no text");
    for (int side = 0; side < 2; side++) {
        int64_t V = recur_pairs_vocab_size(p, (recur_side)side);
        fuzz_check(V >= RECUR_FIRST_WORD_ID, "the reserved ids are in every vocabulary");
        for (int64_t id = 0; id < V; id++) {
            const char *w = recur_pairs_word(p, (recur_side)side, id);
            fuzz_check(w && *w, "every id has a word");
            fuzz_check(recur_pairs_word_id(p, (recur_side)side, w) == id, "every word is found again");
        }
        fuzz_check(recur_pairs_word(p, (recur_side)side, V) == NULL, "an id past the vocabulary has no word");
    }
    check_batches(p, B, (uint64_t)size);
    recur_pairs_free(p);
    return 0;
}
