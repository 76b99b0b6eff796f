/*
 * data/data_util.h — helpers shared by recur's data feeding (private to
 * the library): the thread's error message, reading whole files, UTF-8
 * decoding and encoding, and seeded shuffling on an existing generator.
 */
#ifndef RECUR_TRAIN_DATA_UTIL_H
#define RECUR_TRAIN_DATA_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "graph/error.h"
#include "graph/random.h"
#include "recur/data.h"

/* Data calls record their errors on the calling thread's record: recur_error_set(recur_thread_error(), ...). */

/*
 * Reads the whole file at path into a malloc'd, NUL-terminated buffer
 * (*len bytes, the NUL not counted). RECUR_ERR_IO naming the path and the
 * system's reason; also for what is not a regular file (a FIFO, a device
 * such as /dev/zero, a directory: never read, so never a hang) and for a
 * file of more than RECUR_DATA_MAX_BYTES. `what` prefixes the message
 * ("corpus", "csv").
 */
recur_status recur_data_read_file(const char *what, const char *path, char **text, size_t *len);

/* The offset of the first NUL byte of text[0..len), or len when there is none. */
size_t recur_nul_byte(const char *text, size_t len);

/*
 * recur_series_load_csv on text[0..len) (text[len] must be NUL; the text
 * is modified), with `path` naming it in messages: what the loader does
 * once the file is read, and what the CSV fuzz target feeds.
 */
recur_series *recur_series_parse_csv(const char *path, char *text, size_t len, const char *column,
                                     const recur_csv_opts *opts);

/*
 * recur_pairs_load on text[0..len) (malloc'd, text[len] NUL), which the
 * pairs take over (it is freed on failure too), with `path` naming it in
 * messages: what the loader does once the file is read, and what the TSV
 * fuzz target feeds.
 */
recur_pairs *recur_pairs_parse(const char *path, char *text, size_t len, const recur_pairs_opts *opts);

/* Length of a leading UTF-8 byte-order mark of text[0..len) (3 or 0). */
size_t recur_utf8_bom(const char *text, size_t len);

/*
 * Decodes one code point from s[0..len) (len >= 1) into *cp; returns the
 * bytes it used (1-4), or 0 for invalid UTF-8 (a bad lead or continuation
 * byte, a truncated sequence, an overlong form, a surrogate, > U+10FFFF).
 */
int recur_utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Encodes cp (a valid code point) into out; returns the bytes written (1-4). */
int recur_utf8_encode(uint32_t cp, char out[4]);

/* 1-based line number of byte offset `at` in text (counting '\n' before it). */
int64_t recur_line_of(const char *text, size_t at);

/* Fisher-Yates on idx[0..n) drawing from r (recur_shuffle's algorithm). */
void recur_rng_shuffle(recur_rng *r, int64_t *idx, int64_t n);

#endif
