/*
 * fuzz/fuzz_corpus.c — a libFuzzer target for the character corpus reader
 * (recur_corpus_from_text, what recur_corpus_load runs on a file's bytes).
 *
 * Each input is a text. The reader must never crash, leak or read out of
 * bounds (ASan, UBSan), and:
 *   - it accepts exactly the non-empty well-formed UTF-8 texts (after an
 *     optional byte-order mark), as an independent oracle (fuzz_util.h)
 *     says; a refusal is RECUR_ERR_FORMAT (or NOMEM) with a message
 *     starting "corpus text: ";
 *   - an accepted text has one id per code point, a vocabulary in strictly
 *     increasing code-point order in which every symbol is found again,
 *     and its ids decode to exactly its bytes;
 *   - windows and batches (lengths and strides from the input's first and
 *     last bytes) read the ids they should, and a split keeps every id.
 * A broken property aborts, which libFuzzer reports as a crash.
 *
 * Build and run: fuzz/run_fuzz.sh SECONDS corpus.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The batch of windows w[0..B) against the ids: x[t][b] = ids[s_b + t], y_seq one later, y_next after the window. */
static void check_batch(const recur_corpus *c, int64_t L, int64_t stride)
{
    int64_t count = recur_corpus_window_count(c, L, stride);
    if (count <= 0) return;
    int64_t w[4] = {0, count - 1, count / 2, 1 % count};
    enum { B = 4 };
    float *x = malloc(sizeof(float) * (size_t)(L * B)), *ys = malloc(sizeof(float) * (size_t)(L * B)), yn[B];
    fuzz_check(x && ys, "out of memory in the target");
    fuzz_check(recur_corpus_batch(c, L, stride, w, B, x, ys, yn) == RECUR_OK, "a batch of valid windows is made");
    const int64_t *ids = recur_corpus_ids(c);
    for (int b = 0; b < B; b++) {
        int64_t s = w[b] * stride;
        fuzz_check(s + L < recur_corpus_len(c), "a window has a next symbol");
        for (int64_t t = 0; t < L; t++) {
            fuzz_check(x[t * B + b] == (float)ids[s + t], "x[t][b] = ids[s_b + t]");
            fuzz_check(ys[t * B + b] == (float)ids[s + t + 1], "y_seq[t][b] = ids[s_b + t + 1]");
        }
        fuzz_check(yn[b] == (float)ids[s + L], "y_next[b] = ids[s_b + L]");
    }
    int64_t bad = count;
    fuzz_check(recur_corpus_batch(c, L, stride, &bad, 1, x, NULL, NULL) == RECUR_ERR_ARG,
               "a window past the last is refused");
    free(x);
    free(ys);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t bom = size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    int64_t want = fuzz_utf8_count(data + bom, size - bom);
    recur_corpus *c = recur_corpus_from_text((const char *)data, size);
    if (!c) {
        recur_status st = recur_data_errcode();
        fuzz_check(st == RECUR_ERR_NOMEM || (st == RECUR_ERR_FORMAT && want <= 0),
                   "only an empty or malformed text is refused");
        fuzz_check(strncmp(recur_data_errmsg(), "corpus text: ", 13) == 0, "the message names the source");
        return 0;
    }
    fuzz_check(want > 0, "a malformed or empty text is refused");
    int64_t n = recur_corpus_len(c), V = recur_corpus_vocab_size(c);
    fuzz_check(n == want, "one id per code point");
    fuzz_check(V >= 1 && V <= n, "1 <= vocabulary <= symbols");
    for (int64_t id = 0; id < V; id++) {
        int32_t cp = recur_corpus_symbol(c, id);
        fuzz_check(cp >= 0 && cp <= 0x10FFFF, "a symbol is a code point");
        fuzz_check(id == 0 || cp > recur_corpus_symbol(c, id - 1), "the vocabulary is strictly increasing");
        fuzz_check(recur_corpus_find(c, (uint32_t)cp) == id, "every symbol is found again");
    }
    fuzz_check(recur_corpus_symbol(c, V) == -1 && recur_corpus_symbol(c, -1) == -1, "ids out of range have no symbol");
    const int64_t *ids = recur_corpus_ids(c);
    for (int64_t i = 0; i < n; i++) fuzz_check(ids[i] >= 0 && ids[i] < V, "ids lie in the vocabulary");

    /* Decoding every id gives back the text's bytes (the byte-order mark dropped). */
    char *text = malloc(size - bom + 1);
    fuzz_check(text != NULL, "out of memory in the target");
    fuzz_check(recur_corpus_decode(c, ids, n, text, size - bom + 1) == RECUR_OK, "the ids decode");
    fuzz_check(memcmp(text, data + bom, size - bom) == 0 && text[size - bom] == 0, "decoding gives the text back");
    if (size - bom > 0)
        fuzz_check(recur_corpus_decode(c, ids, n, text, size - bom) == RECUR_ERR_ARG, "a buffer one byte short is refused");
    free(text);

    /* Windows and batches, with a length and a stride the input picks. */
    int64_t L = 1 + (size ? data[0] % 8 : 0), stride = 1 + (size ? data[size - 1] % 5 : 0);
    int64_t count = recur_corpus_window_count(c, L, stride);
    fuzz_check(count == (n > L ? (n - L - 1) / stride + 1 : 0), "the window count");
    check_batch(c, L, stride);

    /* A split keeps every id and the vocabulary. */
    if (n >= 2) {
        recur_corpus *a = NULL, *b = NULL;
        fuzz_check(recur_corpus_split(c, n / 2, &a, &b) == RECUR_OK, "a split inside the text works");
        fuzz_check(recur_corpus_len(a) == n / 2 && recur_corpus_len(b) == n - n / 2, "the split's lengths");
        fuzz_check(recur_corpus_vocab_size(a) == V && recur_corpus_vocab_size(b) == V, "both parts keep the vocabulary");
        fuzz_check(memcmp(recur_corpus_ids(a), ids, sizeof(int64_t) * (size_t)(n / 2)) == 0 &&
                       memcmp(recur_corpus_ids(b), ids + n / 2, sizeof(int64_t) * (size_t)(n - n / 2)) == 0,
                   "the parts hold the ids");
        recur_corpus_free(a);
        recur_corpus_free(b);
    }
    recur_corpus_free(c);
    return 0;
}
