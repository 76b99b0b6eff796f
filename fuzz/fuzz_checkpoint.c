/*
 * fuzz/fuzz_checkpoint.c — a libFuzzer target for the checkpoint reader.
 *
 * Each input is loaded from memory. The reader must never crash, leak or
 * read out of bounds (ASan, UBSan), and:
 *   - a rejected input gives RECUR_ERR_FORMAT (or NOMEM) with a message
 *     naming the source, and an empty checkpoint;
 *   - an accepted input re-serializes to exactly the same bytes (the format
 *     has one encoding per content), and every tensor and entry it lists is
 *     found again by name.
 * A broken property aborts, which libFuzzer reports as a crash.
 *
 * Build (fuzz/run_fuzz.sh does this):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -I. \
 *         fuzz/fuzz_checkpoint.c checkpoint/checkpoint.c checkpoint/checkpoint_read.c \
 *         checkpoint/checkpoint_write.c checkpoint/crc32.c graph/shape.c graph/error.c -lz
 */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    recur_ckpt *ck = NULL;
    recur_status st = recur_ckpt_load_mem(data, size, &ck);
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
    void *again = NULL;
    size_t len = 0;
    if (recur_ckpt_save_mem(ck, &again, &len) == RECUR_OK) {
        check(len == size && memcmp(again, data, size) == 0, "an accepted input re-serializes to the same bytes", ck);
        free(again);
    }
    recur_ckpt_free(ck);
    return 0;
}
