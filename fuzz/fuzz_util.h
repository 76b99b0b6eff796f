/*
 * fuzz/fuzz_util.h — what the data parsers' fuzz targets share: a broken
 * property aborts (libFuzzer reports it as a crash), and an oracle for
 * UTF-8 written independently of data/data_util.c's decoder, from the table
 * of well-formed byte sequences of RFC 3629 (section 4) rather than from
 * bit arithmetic.
 */
#ifndef RECUR_FUZZ_UTIL_H
#define RECUR_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "recur/data.h"

/* Aborts with `what` and the data module's message unless ok. */
static inline void fuzz_check(int ok, const char *what)
{
    if (ok) return;
    fprintf(stderr, "fuzz: broken property: %s (data message: %s)\n", what, recur_data_errmsg());
    abort();
}

/*
 * The number of code points of s[0..n) when it is well-formed UTF-8, else
 * -1. A sequence is one of (RFC 3629):
 *   00..7F
 *   C2..DF 80..BF
 *   E0 A0..BF 80..BF | E1..EC 80..BF 80..BF | ED 80..9F 80..BF | EE..EF 80..BF 80..BF
 *   F0 90..BF 80..BF 80..BF | F1..F3 80..BF 80..BF 80..BF | F4 80..8F 80..BF 80..BF
 */
static inline int64_t fuzz_utf8_count(const unsigned char *s, size_t n)
{
    int64_t count = 0;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte */
        if (c <= 0x7F) len = 1;
        else if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c == 0xE0) len = 3, lo = 0xA0;
        else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) len = 3;
        else if (c == 0xED) len = 3, hi = 0x9F;
        else if (c == 0xF0) len = 4, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3) len = 4;
        else if (c == 0xF4) len = 4, hi = 0x8F;
        else return -1;
        if (n - i < len) return -1;
        for (size_t k = 1; k < len; k++) {
            unsigned char b = s[i + k];
            if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return -1;
        }
        i += len;
        count++;
    }
    return count;
}

#endif
