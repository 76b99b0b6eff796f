/*
 * fuzz/fuzz_tokenize.c — a libFuzzer target for the sentence tokenizer
 * (recur_tokenize, which the sentence-pair reader runs on every side).
 *
 * The input (up to its first NUL) is a sentence. The tokenizer must never
 * crash, leak or write out of bounds (ASan, UBSan), and:
 *   - it refuses (RECUR_ERR_FORMAT) exactly the malformed UTF-8, as an
 *     independent oracle (fuzz_util.h) says;
 *   - its output is well-formed UTF-8 without uppercase ASCII letters, its
 *     tokens are separated by single spaces with none at either end, and
 *     n_tokens counts them;
 *   - tokenizing the output again gives the output (tokenizing is
 *     idempotent);
 *   - a buffer one byte too small is refused (RECUR_ERR_ARG) and left
 *     holding "".
 * A broken property aborts, which libFuzzer reports as a crash.
 *
 * Build and run: fuzz/run_fuzz.sh SECONDS tokenize.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    fuzz_check(text != NULL, "out of memory in the target");
    memcpy(text, data, size);
    text[size] = 0;
    size_t len = strlen(text), cap = 4 * len + 16;
    char *out = malloc(cap), *again = malloc(cap);
    fuzz_check(out && again, "out of memory in the target");
    int64_t n = -1;
    recur_status st = recur_tokenize(text, out, cap, &n);
    int valid = fuzz_utf8_count((const unsigned char *)text, len) >= 0;
    if (st != RECUR_OK) {
        fuzz_check(st == RECUR_ERR_FORMAT && !valid, "only malformed UTF-8 is refused");
        fuzz_check(out[0] == 0 && n == 0, "a refusal leaves \"\" and 0 tokens");
    } else {
        fuzz_check(valid, "malformed UTF-8 is refused");
        size_t m = strlen(out);
        fuzz_check(fuzz_utf8_count((const unsigned char *)out, m) >= 0, "the output is well-formed UTF-8");
        fuzz_check(m == 0 || (out[0] != ' ' && out[m - 1] != ' '), "no space at either end");
        int64_t spaces = 0;
        for (size_t i = 0; i < m; i++) {
            fuzz_check(!(out[i] >= 'A' && out[i] <= 'Z'), "no uppercase ASCII letter");
            fuzz_check(out[i] != '\t' && out[i] != '\n' && out[i] != '\r', "no ASCII whitespace but spaces");
            if (out[i] == ' ') {
                spaces++;
                fuzz_check(out[i + 1] != ' ', "tokens are separated by single spaces");
            }
        }
        fuzz_check(n == (m ? spaces + 1 : 0), "n_tokens counts the tokens");
        int64_t n2 = -1;
        fuzz_check(recur_tokenize(out, again, cap, &n2) == RECUR_OK, "the output tokenizes");
        fuzz_check(strcmp(out, again) == 0 && n2 == n, "tokenizing is idempotent");
        if (m > 0) {
            fuzz_check(recur_tokenize(text, again, m, &n2) == RECUR_ERR_ARG, "a buffer one byte short is refused");
            fuzz_check(again[0] == 0 && n2 == 0, "a refused buffer holds \"\"");
        }
    }
    free(text);
    free(out);
    free(again);
    return 0;
}
