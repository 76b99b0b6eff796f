/*
 * fuzz/fuzz_checkpoint.c — a libFuzzer target for the checkpoint reader.
 *
 * Each input is loaded from memory, with RECUR_CKPT_ALLOW_NONFINITE (so
 * that checkpoints holding NaN and Inf, as the committed valid one does, are
 * accepted and explored) and without. The reader must never crash, leak or
 * read out of bounds (ASan, UBSan), and:
 *   - a rejected input gives RECUR_ERR_FORMAT (or NOMEM) with a message
 *     naming the source, and an empty checkpoint;
 *   - an accepted input re-serializes to exactly the same bytes (the format
 *     has one encoding per content), and every tensor and entry it lists is
 *     found again by name;
 *   - without the flag, the same input is accepted exactly when every value
 *     of every tensor is finite, and otherwise refused naming the first
 *     tensor holding a NaN or an infinity.
 * A broken property aborts, which libFuzzer reports as a crash.
 *
 * Build (fuzz/run_fuzz.sh does this):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -I. \
 *         fuzz/fuzz_checkpoint.c checkpoint/checkpoint.c checkpoint/checkpoint_read.c \
 *         checkpoint/checkpoint_write.c checkpoint/crc32.c graph/shape.c graph/error.c -lz
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recur/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what, const recur_ckpt *ck)
{
    if (ok) return;
    fprintf(stderr, "fuzz_checkpoint: broken property: %s (message: %s)\n", what, recur_ckpt_errmsg(ck));
    abort();
}

/* The first tensor of ck holding a NaN or an infinity, or -1. */
static int first_nonfinite_tensor(const recur_ckpt *ck)
{
    for (int i = 0; i < recur_ckpt_count(ck); i++) {
        recur_ckpt_tensor t = recur_ckpt_at(ck, i);
        for (int64_t j = 0; j < recur_shape_numel(t.shape); j++)
            if (!isfinite(t.data[j])) return i;
    }
    return -1;
}

/* The default load (finite values only) of an input the allowing load accepted as ck. */
static void check_default_load(const uint8_t *data, size_t size, const recur_ckpt *ck)
{
    recur_ckpt *strict = NULL;
    recur_status st = recur_ckpt_load_mem(data, size, &strict);
    if (!strict) return;
    int bad = first_nonfinite_tensor(ck);
    if (bad < 0) {
        check(st == RECUR_OK && recur_ckpt_count(strict) == recur_ckpt_count(ck), "finite values load by default", strict);
    } else {
        char want[64];
        snprintf(want, sizeof want, "tensor %d \"", bad);
        check(st == RECUR_ERR_FORMAT && strstr(recur_ckpt_errmsg(strict), want) &&
                  strstr(recur_ckpt_errmsg(strict), "must be finite") && recur_ckpt_count(strict) == 0,
              "a NaN or Inf is refused by default, naming the first tensor holding one", strict);
    }
    recur_ckpt_free(strict);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    recur_ckpt *ck = NULL;
    recur_status st = recur_ckpt_load_mem_flags(data, size, RECUR_CKPT_ALLOW_NONFINITE, &ck);
    if (!ck) return 0; /* out of memory for the object itself */
    if (st != RECUR_OK) {
        check(st == RECUR_ERR_FORMAT || st == RECUR_ERR_NOMEM, "a rejected input is a format error", ck);
        check(strncmp(recur_ckpt_errmsg(ck), "checkpoint (memory): ", 21) == 0, "the message names the source", ck);
        check(recur_ckpt_count(ck) == 0 && recur_ckpt_meta_count(ck) == 0, "a rejected input leaves nothing", ck);
        recur_ckpt_free(ck);
        return 0;
    }
    for (int i = 0; i < recur_ckpt_count(ck); i++) {
        recur_ckpt_tensor t = recur_ckpt_at(ck, i);
        check(t.name && recur_ckpt_find(ck, t.name) == i, "every tensor is found by its name", ck);
        volatile float sink = t.data[recur_shape_numel(t.shape) - 1]; /* the whole data is readable */
        (void)sink;
    }
    for (int i = 0; i < recur_ckpt_meta_count(ck); i++) {
        recur_ckpt_meta m = recur_ckpt_meta_at(ck, i);
        check(m.key && recur_ckpt_meta_find(ck, m.key) == i, "every entry is found by its key", ck);
        check(m.type != RECUR_META_STR || strlen(m.s) < size, "a string lies inside the input", ck);
    }
    check_default_load(data, size, ck);
    void *again = NULL;
    size_t len = 0;
    if (recur_ckpt_save_mem(ck, &again, &len) == RECUR_OK) {
        check(len == size && memcmp(again, data, size) == 0, "an accepted input re-serializes to the same bytes", ck);
        free(again);
    }
    recur_ckpt_free(ck);
    return 0;
}
