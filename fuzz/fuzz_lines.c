/*
 * fuzz/fuzz_lines.c — a libFuzzer target for the reader of a text's lines
 * (recur_lines_find, what `recur train --lines` runs on a corpus, and
 * recur_lines_batch).
 *
 * Each input is two option bytes and a text: byte 0 gives max_steps
 * (byte % 12, 0: no limit), byte 1 long_lines (byte % 3: split, cut,
 * refuse) and the column (byte / 3 % 3, 0: the whole line). A text the
 * corpus reader refuses (fuzz_corpus.c checks that reader) is skipped.
 * The reader must never crash, leak or read out of bounds (ASan, UBSan),
 * and its result must be what an oracle written here from the corpus's
 * code points says, independently of data/line_batches.c:
 *   - lines split at '\n', a '\r' before it dropped, of each line its
 *     column-th tab-separated field, lines of spaces and tabs only left
 *     out; a non-blank line with fewer fields than the column, a text with
 *     no line kept, and under refuse a line of more steps (symbols + 1)
 *     than max_steps are RECUR_ERR_FORMAT naming "line N (byte B)" where
 *     that is the line's fault;
 *   - otherwise the sequences are the kept lines in order, each split into
 *     pieces of max_steps steps, cut to its first max_steps, or whole;
 *     counting (seqs NULL) and finding give the same counts;
 *   - a batch of up to four of them reads x, y and lengths as
 *     recur_lines_batch's contract says.
 * A broken property aborts, which libFuzzer reports as a crash.
 *
 * Build and run: fuzz/run_fuzz.sh SECONDS lines.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the oracle expects of the text. */
typedef struct expect {
    recur_line_seq *seqs;
    int64_t n_seqs, lines, blank, long_lines, longest;
    int64_t bad_line; /* 0: no error; else the line at fault (-1: no line kept) */
} expect;

static void push(expect *e, recur_line_seq s)
{
    e->seqs = realloc(e->seqs, sizeof *e->seqs * (size_t)(e->n_seqs + 1));
    fuzz_check(e->seqs != NULL, "out of memory in the target");
    e->seqs[e->n_seqs++] = s;
}

/* 1 when the symbols ids[begin, end) are all spaces and tabs (or none). */
static int blank_span(const recur_corpus *c, const int64_t *ids, int64_t begin, int64_t end)
{
    for (int64_t i = begin; i < end; i++) {
        int32_t cp = recur_corpus_symbol(c, ids[i]);
        if (cp != ' ' && cp != '\t') return 0;
    }
    return 1;
}

/* The oracle: the corpus's code points walked line by line. */
static expect oracle(const recur_corpus *c, int64_t max_steps, int long_lines, int64_t column)
{
    expect e = {0};
    const int64_t *ids = recur_corpus_ids(c);
    int64_t n = recur_corpus_len(c), number = 0;
    for (int64_t begin = 0; begin < n && !e.bad_line;) {
        int64_t end = begin;
        while (end < n && recur_corpus_symbol(c, ids[end]) != '\n') end++;
        int64_t next = end + 1; /* past the newline (or the text) */
        number++;
        if (end > begin && recur_corpus_symbol(c, ids[end - 1]) == '\r') end--;
        int is_blank = blank_span(c, ids, begin, end);
        if (!is_blank && column > 0) {
            int64_t field = 1, at = begin;
            for (int64_t i = begin; i < end && field < column; i++)
                if (recur_corpus_symbol(c, ids[i]) == '\t') field++, at = i + 1;
            if (field < column) {
                e.bad_line = number;
                break;
            }
            int64_t stop = at;
            while (stop < end && recur_corpus_symbol(c, ids[stop]) != '\t') stop++;
            begin = at, end = stop;
            is_blank = blank_span(c, ids, begin, end);
        }
        if (is_blank) {
            e.blank++;
        } else {
            int64_t m = end - begin, steps = m + 1, max = max_steps > 0 ? max_steps : steps;
            e.lines++;
            if (steps > e.longest) e.longest = steps;
            if (steps > max) {
                if (long_lines == RECUR_LINES_REFUSE) {
                    e.bad_line = number;
                    break;
                }
                e.long_lines++;
            }
            int64_t taken = long_lines == RECUR_LINES_CUT && steps > max ? max : steps;
            for (int64_t first = 0; first < taken; first += max)
                push(&e, (recur_line_seq){.start = begin, .len = m, .first = first,
                                          .steps = taken - first < max ? taken - first : max, .line = number});
        }
        begin = next;
    }
    if (!e.bad_line && e.lines == 0) e.bad_line = -1;
    return e;
}

/* A batch of up to 4 of the sequences (the first, the last, one between, and padding) against the contract. */
static void check_batch(const recur_corpus *c, const recur_line_seq *seqs, int64_t n)
{
    enum { B = 4 };
    int64_t which[B] = {0, n - 1, n / 2, -1}, T = 1;
    for (int b = 0; b < B; b++)
        if (which[b] >= 0 && seqs[which[b]].steps > T) T = seqs[which[b]].steps;
    float *x = malloc(sizeof(float) * (size_t)(T * B)), *y = malloc(sizeof(float) * (size_t)(T * B)), len[B];
    fuzz_check(x && y, "out of memory in the target");
    fuzz_check(recur_lines_batch(c, seqs, n, which, B, T, x, y, len) == RECUR_OK, "a batch of found sequences is made");
    const int64_t *ids = recur_corpus_ids(c);
    float eol = (float)recur_corpus_find(c, '\n');
    for (int b = 0; b < B; b++) {
        if (which[b] < 0) {
            fuzz_check(len[b] == 1, "a padding column has length 1");
            for (int64_t t = 0; t < T; t++) fuzz_check(x[t * B + b] == 0 && y[t * B + b] == 0, "padding is 0");
            continue;
        }
        recur_line_seq s = seqs[which[b]];
        fuzz_check(len[b] == (float)s.steps, "lengths[b] is the sequence's steps");
        for (int64_t t = 0; t < T; t++) {
            float wx = 0, wy = 0;
            if (t < s.steps) {
                int64_t k = s.first + t; /* the step: c_k is the line's k-th symbol (c_0 the newline before it) */
                wx = k == 0 ? eol : (float)ids[s.start + k - 1];
                wy = k < s.len ? (float)ids[s.start + k] : eol;
            }
            fuzz_check(x[t * B + b] == wx, "x[t][b] is the step's symbol (the newline first), 0 past its length");
            fuzz_check(y[t * B + b] == wy, "y[t][b] is the next symbol (the newline last), 0 past its length");
        }
    }
    free(x);
    free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    recur_lines_opts o = {.max_steps = data[0] % 12, .long_lines = (recur_long_lines)(data[1] % 3),
                          .column = data[1] / 3 % 3};
    recur_corpus *c = recur_corpus_from_text((const char *)data + 2, size - 2);
    if (!c) return 0;
    expect e = oracle(c, o.max_steps, (int)o.long_lines, o.column);
    recur_lines_count counted, found;
    recur_status st = recur_lines_find(c, &o, NULL, 0, &counted);
    if (e.bad_line) {
        fuzz_check(st == RECUR_ERR_FORMAT, "a missing field, a refused line or a text of blank lines is refused");
        const char *msg = recur_data_errmsg();
        fuzz_check(strncmp(msg, "lines: ", 7) == 0, "the message names the reader");
        if (e.bad_line > 0) {
            char at[48];
            snprintf(at, sizeof at, "line %lld (byte ", (long long)e.bad_line);
            fuzz_check(strstr(msg, at) != NULL, "the message names the line at fault");
        }
    } else {
        fuzz_check(st == RECUR_OK, "a text the oracle accepts is read");
        fuzz_check(counted.seqs == e.n_seqs && counted.lines == e.lines && counted.blank == e.blank &&
                       counted.long_lines == e.long_lines && counted.longest == e.longest,
                   "the counts are the oracle's");
        recur_line_seq *seqs = malloc(sizeof *seqs * (size_t)e.n_seqs);
        fuzz_check(seqs != NULL, "out of memory in the target");
        if (e.n_seqs > 1)
            fuzz_check(recur_lines_find(c, &o, seqs, e.n_seqs - 1, &found) == RECUR_ERR_ARG, "too small a cap is refused");
        fuzz_check(recur_lines_find(c, &o, seqs, e.n_seqs, &found) == RECUR_OK, "finding succeeds where counting did");
        fuzz_check(memcmp(&found, &counted, sizeof found) == 0, "finding counts what counting counted");
        for (int64_t i = 0; i < e.n_seqs; i++)
            fuzz_check(seqs[i].start == e.seqs[i].start && seqs[i].len == e.seqs[i].len &&
                           seqs[i].first == e.seqs[i].first && seqs[i].steps == e.seqs[i].steps &&
                           seqs[i].line == e.seqs[i].line,
                       "each sequence is the oracle's, in text order");
        if (recur_corpus_find(c, '\n') >= 0) check_batch(c, seqs, e.n_seqs);
        free(seqs);
    }
    free(e.seqs);
    recur_corpus_free(c);
    return 0;
}
