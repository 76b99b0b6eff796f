/*
 * fuzz/fuzz_csv.c — a libFuzzer target for the CSV series reader
 * (recur_series_parse_csv, what recur_series_load_csv runs on a file's
 * bytes).
 *
 * The input's first byte picks the options (delimiter , ; TAB or space,
 * header or none, the missing-value policy, the column by index 0..3 or
 * by the name "v"); the rest is the file. The reader must never crash,
 * leak or read out of bounds (ASan, UBSan), and:
 *   - a refusal is RECUR_ERR_FORMAT (or NOMEM, or ARG for a column named
 *     in a file without a header) with a message naming the file;
 *   - an accepted file gives at least one value, every value finite and
 *     within float32's range, each from a line of the file, the lines in
 *     increasing order, and no accepted file holds a NUL byte;
 *   - for the files a plain reading covers (delimiter , or ;, no quote,
 *     no CR, no byte-order mark, no header, column 0, missing values an
 *     error), the values are exactly those of an independent parse:
 *     every non-blank line's first field, trimmed, read with strtod.
 * A broken property aborts, which libFuzzer reports as a crash.
 *
 * Build and run: fuzz/run_fuzz.sh SECONDS csv.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/data_util.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The independent parse of the plain files described above: the values,
 * one per non-blank line, in *vals (*n of them); 0 when the reader must
 * refuse the file (a missing, non-numeric or out-of-range field, or no line).
 */
static int plain_parse(const char *text, size_t len, char delim, float *vals, int64_t *n)
{
    *n = 0;
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && text[end] != '\n') end++;
        /* the line text[i..end): blank when only spaces and tabs */
        size_t a = i;
        while (a < end && (text[a] == ' ' || text[a] == '\t')) a++;
        if (a < end) {
            size_t b = a;
            while (b < end && text[b] != delim) b++;
            while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t')) b--;
            char field[4096];
            size_t flen = b - a;
            if (flen >= sizeof field) return 0;
            memcpy(field, text + a, flen);
            field[flen] = 0;
            if (!flen || !strcasecmp(field, "na") || !strcasecmp(field, "n/a") || !strcasecmp(field, "nan") ||
                !strcasecmp(field, "null"))
                return 0;
            char *stop;
            double v = strtod(field, &stop);
            if (stop == field || *stop || !isfinite(v) || fabs(v) > FLT_MAX) return 0;
            vals[(*n)++] = (float)v;
        }
        i = end + 1;
    }
    return *n > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const char delims[4] = {',', ';', '\t', ' '};
    unsigned char opt = data[0];
    recur_csv_opts o = {.delimiter = delims[opt & 3],
                        .no_header = (opt >> 2) & 1,
                        .missing = (recur_missing)(((opt >> 3) & 3) % 3),
                        .column_index = (opt >> 5) & 3};
    const char *column = (opt >> 7) & 1 ? "v" : NULL;
    size_t len = size - 1;
    char *text = malloc(len + 1);
    fuzz_check(text != NULL, "out of memory in the target");
    memcpy(text, data + 1, len);
    text[len] = 0;
    int has_nul = memchr(data + 1, 0, len) != NULL;
    int64_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += data[1 + i] == '\n';

    recur_series *s = recur_series_parse_csv("fuzz.csv", text, len, column, &o);
    if (!s) {
        recur_status st = recur_data_errcode();
        fuzz_check(st == RECUR_ERR_FORMAT || st == RECUR_ERR_NOMEM || (st == RECUR_ERR_ARG && column && o.no_header),
                   "a refusal is a format error");
        fuzz_check(strstr(recur_data_errmsg(), "fuzz.csv") != NULL, "the message names the file");
    } else {
        fuzz_check(!has_nul, "a file holding a NUL byte is refused");
        int64_t n = recur_series_len(s);
        const float *v = recur_series_data(s);
        fuzz_check(n >= 1, "an accepted file has values");
        for (int64_t i = 0; i < n; i++) {
            fuzz_check(isfinite(v[i]), "every value is finite");
            int64_t line = recur_series_line(s, i);
            fuzz_check(line >= 1 && line <= lines, "every value comes from a line of the file");
            fuzz_check(i == 0 || line > recur_series_line(s, i - 1), "the lines increase");
        }
        fuzz_check(recur_series_missing(s) >= 0, "the missing count is not negative");
    }

    /* The plain files against the independent parse. */
    int plain = (o.delimiter == ',' || o.delimiter == ';') && o.no_header && !column && o.column_index == 0 &&
                o.missing == RECUR_MISSING_ERROR && !has_nul && !memchr(data + 1, '"', len) &&
                !memchr(data + 1, '\r', len) && !(len >= 3 && memcmp(data + 1, "\xEF\xBB\xBF", 3) == 0);
    if (plain) {
        float *want = malloc(sizeof(float) * (len + 1));
        int64_t n_want;
        fuzz_check(want != NULL, "out of memory in the target");
        int ok = plain_parse((const char *)data + 1, len, o.delimiter, want, &n_want);
        fuzz_check(ok == (s != NULL), "a plain file is accepted exactly when its independent parse accepts it");
        if (s) {
            fuzz_check(recur_series_len(s) == n_want, "a plain file gives one value per non-blank line");
            fuzz_check(memcmp(recur_series_data(s), want, sizeof(float) * (size_t)n_want) == 0,
                       "a plain file's values are those of the independent parse");
        }
        free(want);
    }
    recur_series_free(s);
    free(text);
    return 0;
}
