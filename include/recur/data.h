/*
 * recur/data.h — data feeding: numeric series (CSV columns, normalisation,
 * sliding windows), character corpora (UTF-8 symbols, windows, batches)
 * and sentence-pair corpora for seq2seq (word vocabularies, bucketed and
 * padded batches), plus seeded shuffling and finding the data sets.
 *
 * Every tensor these functions fill is float32, row-major and time-major
 * as the rest of recur: a batch of sequences is [T, B] (ids, as floats,
 * ready for recur_gather or recur_one_hot) or [T, B, F].
 *
 *   recur_series *s = recur_series_load_csv(path, "SUNACTIVITY", NULL);
 *   int64_t N = recur_window_count(recur_series_len(s), 5);
 *   recur_windows_time_major(recur_series_data(s), recur_series_len(s), 5, x, y);
 *
 * A call that fails returns a status (or NULL) and leaves the reason,
 * naming the file, line, column or value at fault, in recur_data_errmsg().
 * Handles (recur_series, recur_corpus, recur_pairs, recur_pair_batches)
 * own their memory and are freed by their _free call; NULL is allowed there.
 */
#ifndef RECUR_DATA_H
#define RECUR_DATA_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------------- common */

/**
 * Message of the calling thread's most recent failed data call ("" if
 * none), e.g. "co2.csv:14: column 2 (\"co2\"): \"abc\" is not a number".
 */
RECUR_API const char *recur_data_errmsg(void);

/** Status of the calling thread's most recent failed data call (RECUR_OK if none). */
RECUR_API recur_status recur_data_errcode(void);

/**
 * The largest file the loaders read (1 GiB). Every loader reads regular
 * files only: a FIFO, a device (such as /dev/zero), a directory or a file
 * larger than this fails with RECUR_ERR_IO saying so, without being read.
 */
#define RECUR_DATA_MAX_BYTES ((size_t)1 << 30)

/**
 * Finds the data set file `name` (e.g. "sunspots_yearly.csv"): first in the
 * directory named by the RECUR_DATA environment variable, then in
 * "../shared/data" relative to the current directory. Writes the path of
 * the first readable one into buf (len bytes, NUL-terminated).
 * RECUR_ERR_IO, naming every place tried, when none is readable;
 * RECUR_ERR_ARG when buf is too small.
 */
RECUR_API recur_status recur_data_path(const char *name, char *buf, size_t len);

/**
 * Shuffles idx[0..n) in place, the same way for the same seed on every
 * platform: Fisher-Yates driven by recur's generator (xoshiro256** seeded
 * with splitmix64), for i = n-1 down to 1 swap idx[i] with idx[j], j
 * uniform in [0, i] (drawn without modulo bias).
 */
RECUR_API recur_status recur_shuffle(int64_t *idx, int64_t n, uint64_t seed);

/** Fills perm with 0, 1, ..., n-1 and shuffles it with recur_shuffle. */
RECUR_API recur_status recur_permutation(int64_t *perm, int64_t n, uint64_t seed);

/* ---------------------------------------------- sharding by rank (MPI) */

/*
 * Data-parallel training (recur/mpi.h) gives every rank its own part of
 * the data and the same number of steps. An epoch visits n items in an
 * order perm that every rank draws alike (recur_permutation with the same
 * seed); at step k of the epoch rank r of N reads the B items
 * perm[recur_shard_offset(k, B, r, N) ...], its slice of the global batch
 * perm[k N B .. (k + 1) N B): what one process with batch N B reads at
 * step k.
 */

/**
 * Steps per epoch of N = size ranks reading `batch` items each per step
 * from n items: floor(n / (batch size)), the same on every rank. -1
 * (RECUR_ERR_ARG in recur_data_errmsg) for n < 0, batch < 1 or size < 1.
 */
RECUR_API int64_t recur_shard_steps(int64_t n, int64_t batch, int size);

/**
 * Where rank `rank` of `size` starts reading at step k of an epoch, in
 * the epoch's order of items: (k size + rank) batch. -1 (RECUR_ERR_ARG)
 * for k < 0, batch < 1, a rank outside [0, size) or an overflow.
 */
RECUR_API int64_t recur_shard_offset(int64_t k, int64_t batch, int rank, int size);

/**
 * A rank's contiguous share of n items, for what every rank visits once
 * (a test set): [*first, *first + *count) with first = floor(n rank /
 * size); the shares cover every item once and differ by at most one.
 * Each rank sums its losses and counts, recur_mpi_sum adds them up.
 */
RECUR_API recur_status recur_shard_range(int64_t n, int rank, int size, int64_t *first, int64_t *count);

/* ------------------------------------------------------- numeric series */

/** A series of float values, with the file line each came from. */
typedef struct recur_series recur_series;

/** What to do with a missing value (an empty field, "NA", "N/A", "NaN" or "null"). */
typedef enum recur_missing {
    RECUR_MISSING_SKIP = 0,    /**< leave the row out (counted by recur_series_missing) */
    RECUR_MISSING_ERROR,       /**< fail with RECUR_ERR_FORMAT naming the line */
    RECUR_MISSING_INTERPOLATE  /**< fill interior gaps linearly between their neighbours; drop leading and trailing ones */
} recur_missing;

/** Options of recur_series_load_csv; NULL or zeros select the defaults. */
typedef struct recur_csv_opts {
    char delimiter;        /**< field separator (default ',') */
    int no_header;         /**< 1: the first line is data, not column names */
    int column_index;      /**< 0-based column to read when no column name is given */
    recur_missing missing; /**< default RECUR_MISSING_SKIP */
} recur_csv_opts;

/**
 * Loads one column of a CSV file as a series. The column is named by its
 * header (`column`, compared after removing quotes) or, when `column` is
 * NULL, by opts->column_index. Fields may be enclosed in double quotes
 * ("" inside stands for one quote); spaces around fields, blank lines, a
 * UTF-8 byte-order mark and CRLF line ends are ignored. A field that is not
 * a finite number of float32's range (1e39 is not: it would be inf), text
 * after a field's closing quote ("2"x), a row too short to have the column,
 * or a NUL byte anywhere fails with RECUR_ERR_FORMAT naming the file, the
 * line and the column; an unreadable file fails with RECUR_ERR_IO. NULL on
 * failure (see recur_data_errmsg).
 */
RECUR_API recur_series *recur_series_load_csv(const char *path, const char *column, const recur_csv_opts *opts);

/** A series holding a copy of v[0..n) (n >= 1). NULL on failure. */
RECUR_API recur_series *recur_series_new(const float *v, int64_t n);

/** Frees a series. NULL is allowed. */
RECUR_API void recur_series_free(recur_series *s);

/** Number of values. */
RECUR_API int64_t recur_series_len(const recur_series *s);

/** The values (writable: normalise them in place with recur_norm_apply). */
RECUR_API float *recur_series_data(recur_series *s);

/**
 * 1-based line of the file that value i came from (for an interpolated
 * value, the line of its empty field); 0 for a series not read from a file
 * or i out of range.
 */
RECUR_API int64_t recur_series_line(const recur_series *s, int64_t i);

/** How many missing fields the loader met (skipped or interpolated). */
RECUR_API int64_t recur_series_missing(const recur_series *s);

/**
 * Splits by position: *train gets values [0, n_train), *test gets values
 * [n_train - context, len), i.e. the test part preceded by the last
 * `context` training values, so that windows of `context` values over *test
 * predict exactly the values after the training part. Needs
 * 0 <= context <= n_train, 1 <= n_train < len. Both are new series (free them).
 */
RECUR_API recur_status recur_series_split(const recur_series *s, int64_t n_train, int64_t context, recur_series **train,
                                recur_series **test);

/** How values are normalised: x' = (x - shift) / scale. */
typedef enum recur_norm_kind {
    RECUR_NORM_MINMAX, /**< shift = min, scale = max - min: the fitted data maps onto [0, 1] */
    RECUR_NORM_ZSCORE  /**< shift = mean, scale = standard deviation (population, 1/n) */
} recur_norm_kind;

/** A fitted normalisation (a small value; copy it freely). */
typedef struct recur_norm {
    recur_norm_kind kind;
    double shift, scale; /**< scale is 1 when the fitted values are all equal */
} recur_norm;

/**
 * Fits a normalisation to x[0..n) (fit on the training part only, then
 * apply it to both parts). RECUR_ERR_ARG for n < 1 or a non-finite value.
 */
RECUR_API recur_status recur_norm_fit(recur_norm *nm, recur_norm_kind kind, const float *x, int64_t n);

/** x <- (x - shift) / scale, in place. */
RECUR_API recur_status recur_norm_apply(const recur_norm *nm, float *x, int64_t n);

/** The inverse, x <- x * scale + shift, in place (e.g. on predictions). */
RECUR_API recur_status recur_norm_invert(const recur_norm *nm, float *x, int64_t n);

/**
 * Number of sliding windows of n values, each with the next value as its
 * target, in a series of len values: N = len - n (0 when len <= n).
 */
RECUR_API int64_t recur_window_count(int64_t len, int64_t n);

/**
 * Windows as plain rows, for a dense net reading n values at once:
 *   x [N, n]:  x[i][k] = v[i + k]
 *   y [N] (equally [N, 1]):  y[i] = v[i + n]
 * with N = recur_window_count(len, n); the caller allocates x and y.
 * RECUR_ERR_ARG when n < 1 or len <= n.
 */
RECUR_API recur_status recur_windows_rows(const float *v, int64_t len, int64_t n, float *x, float *y);

/**
 * The same windows time-major, for a recurrent net reading one value per
 * step: x [n, N, 1] with x[k][i][0] = v[i + k], y [N] as in recur_windows_rows.
 */
RECUR_API recur_status recur_windows_time_major(const float *v, int64_t len, int64_t n, float *x, float *y);

/* ----------------------------------------------------- character corpora */

/**
 * A character corpus: a UTF-8 text as a sequence of ids, one per Unicode
 * code point, over a vocabulary of the text's distinct code points sorted
 * in increasing order (id 0 is the smallest code point).
 */
typedef struct recur_corpus recur_corpus;

/**
 * Reads a UTF-8 text file (a leading byte-order mark is dropped; every
 * other code point, newlines included, is a symbol). RECUR_ERR_IO if it
 * cannot be read, RECUR_ERR_FORMAT naming the byte offset and line of
 * invalid UTF-8 or of an empty text. NULL on failure.
 */
RECUR_API recur_corpus *recur_corpus_load(const char *path);

/** A corpus of text[0..len) (UTF-8; it need not be NUL-terminated). NULL on failure. */
RECUR_API recur_corpus *recur_corpus_from_text(const char *text, size_t len);

/** Frees a corpus. NULL is allowed. */
RECUR_API void recur_corpus_free(recur_corpus *c);

/** Number of symbols (code points) of the text. */
RECUR_API int64_t recur_corpus_len(const recur_corpus *c);

/** The text as ids, recur_corpus_len of them. */
RECUR_API const int64_t *recur_corpus_ids(const recur_corpus *c);

/** Number of distinct symbols. */
RECUR_API int64_t recur_corpus_vocab_size(const recur_corpus *c);

/** The code point of id, or -1 when id is out of range. */
RECUR_API int32_t recur_corpus_symbol(const recur_corpus *c, int64_t id);

/** The id of code point cp, or -1 when the corpus never uses it. */
RECUR_API int64_t recur_corpus_find(const recur_corpus *c, uint32_t cp);

/**
 * Encodes the NUL-terminated UTF-8 string text into ids (at most cap of
 * them; ids may be NULL to only count) and sets *n to the number of
 * symbols. RECUR_ERR_ARG naming the symbol and its byte offset when the
 * vocabulary lacks it, or when cap is too small; RECUR_ERR_FORMAT for
 * invalid UTF-8.
 */
RECUR_API recur_status recur_corpus_encode(const recur_corpus *c, const char *text, int64_t *ids, int64_t cap, int64_t *n);

/**
 * Decodes ids[0..n) into UTF-8 in buf (len bytes, NUL-terminated).
 * RECUR_ERR_ARG naming the position of an id out of range, or the bytes
 * needed when buf is too small.
 */
RECUR_API recur_status recur_corpus_decode(const recur_corpus *c, const int64_t *ids, int64_t n, char *buf, size_t len);

/**
 * Splits by position: *train gets symbols [0, n_train), *test the rest;
 * both keep this corpus's vocabulary. Needs 0 < n_train < len.
 */
RECUR_API recur_status recur_corpus_split(const recur_corpus *c, int64_t n_train, recur_corpus **train, recur_corpus **test);

/**
 * Number of windows of L symbols, one starting every `stride` symbols,
 * that have a next symbol after them: window w covers ids [w*stride,
 * w*stride + L) and its targets are ids [w*stride + 1, w*stride + L + 1).
 * 0 when the text is shorter than L + 1 or L, stride < 1.
 */
RECUR_API int64_t recur_corpus_window_count(const recur_corpus *c, int64_t L, int64_t stride);

/**
 * Fills one batch of B windows (window indices windows[0..B), each below
 * recur_corpus_window_count), time-major, ids as floats:
 *   x      [L, B]: x[t][b]      = ids[s_b + t]
 *   y_seq  [L, B]: y_seq[t][b]  = ids[s_b + t + 1]   (the next symbol at every step)
 *   y_next [B]:    y_next[b]    = ids[s_b + L]       (the symbol after the window)
 * with s_b = windows[b] * stride. y_seq and y_next may each be NULL.
 * RECUR_ERR_ARG naming the batch column of a window out of range.
 */
RECUR_API recur_status recur_corpus_batch(const recur_corpus *c, int64_t L, int64_t stride, const int64_t *windows, int64_t B,
                                float *x, float *y_seq, float *y_next);

/* ------------------------------------------------- sentence-pair corpora */

/** Ids every word vocabulary reserves. */
#define RECUR_PAD_ID 0   /**< "[PAD]": padding after the end of a sentence */
#define RECUR_START_ID 1 /**< "[START]": the decoder's first input */
#define RECUR_END_ID 2   /**< "[END]": the decoder's last target */
#define RECUR_UNK_ID 3   /**< "[UNK]": a word outside the vocabulary */
/** Number of reserved ids; words start here. */
#define RECUR_FIRST_WORD_ID 4

/** The two sides of a pair. */
typedef enum recur_side {
    RECUR_SOURCE = 0, /**< what is read by the encoder (English in the Tatoeba file) */
    RECUR_TARGET = 1  /**< what the decoder writes (French) */
} recur_side;

/**
 * Sentence pairs for translation, tokenised and encoded, with one word
 * vocabulary per side.
 */
typedef struct recur_pairs recur_pairs;

/** Options of recur_pairs_load; NULL or zeros select the defaults. */
typedef struct recur_pairs_opts {
    int64_t min_count; /**< words seen fewer times than this map to [UNK] (default 1: keep every word) */
    int64_t max_len;   /**< leave out pairs with more tokens than this on either side (0: no limit) */
    int64_t max_pairs; /**< keep at most this many pairs, the first ones of the file (0: all) */
    int swap;          /**< 1: the second column is the source and the first the target */
} recur_pairs_opts;

/**
 * Tokenises a sentence into buf (len bytes, NUL-terminated) as its tokens
 * joined by single spaces, and sets *n_tokens (may be NULL). The rules:
 * text is lowercased (ASCII, Latin-1 and Œ); the right single quote ’ is
 * read as '; whitespace (also no-break and thin spaces) separates tokens;
 * each punctuation mark (ASCII punctuation, « » “ ” ‘ … – — ¿ ¡) is a token
 * of its own, except ' and - between two letters or digits, which stay in
 * the word ("don't", "peut-être"). "Don't go, Tom!" -> "don't go , tom !".
 * RECUR_ERR_FORMAT for invalid UTF-8, RECUR_ERR_ARG when buf is too small.
 */
RECUR_API recur_status recur_tokenize(const char *text, char *buf, size_t len, int64_t *n_tokens);

/**
 * Loads sentence pairs from a tab-separated file of lines
 * "source<TAB>target[<TAB>anything]" (the Tatoeba format, whose third
 * column is the attribution). Both sides are tokenised (recur_tokenize) and
 * each side gets a vocabulary: the reserved ids 0-3, then the words seen at
 * least min_count times by decreasing count, ties in byte order. Pairs with
 * an empty side, or longer than max_len, are left out (counted by
 * recur_pairs_skipped). A non-blank line without a tab, or a NUL byte
 * anywhere, fails with RECUR_ERR_FORMAT naming the file and line. NULL on
 * failure.
 */
RECUR_API recur_pairs *recur_pairs_load(const char *path, const recur_pairs_opts *opts);

/** Frees the pairs. NULL is allowed. */
RECUR_API void recur_pairs_free(recur_pairs *p);

/** Number of pairs kept. */
RECUR_API int64_t recur_pairs_count(const recur_pairs *p);

/** Number of pairs left out (an empty side or longer than max_len). */
RECUR_API int64_t recur_pairs_skipped(const recur_pairs *p);

/** The original text of pair i's side, or NULL when i is out of range. */
RECUR_API const char *recur_pairs_text(const recur_pairs *p, int64_t i, recur_side side);

/** The third column of pair i's line ("" if none), or NULL when i is out of range. */
RECUR_API const char *recur_pairs_attribution(const recur_pairs *p, int64_t i);

/**
 * Pair i's side as word ids (no [START] or [END]); *n receives their
 * count. NULL when i is out of range.
 */
RECUR_API const int64_t *recur_pairs_ids(const recur_pairs *p, int64_t i, recur_side side, int64_t *n);

/** Size of a side's vocabulary, reserved ids included. */
RECUR_API int64_t recur_pairs_vocab_size(const recur_pairs *p, recur_side side);

/** The word of an id ("[PAD]", "[START]", "[END]", "[UNK]" for the reserved ones); NULL when out of range. */
RECUR_API const char *recur_pairs_word(const recur_pairs *p, recur_side side, int64_t id);

/**
 * The id of a (tokenised, lowercase) word, or of a reserved name such as
 * "[END]"; RECUR_UNK_ID when the vocabulary lacks it.
 */
RECUR_API int64_t recur_pairs_word_id(const recur_pairs *p, recur_side side, const char *word);

/**
 * Tokenises and encodes a new sentence with a side's vocabulary (unknown
 * words become RECUR_UNK_ID; no [START] or [END] is added): at most cap ids
 * (ids may be NULL to only count), *n receives the number of tokens.
 * RECUR_ERR_ARG when cap is too small.
 */
RECUR_API recur_status recur_pairs_encode(const recur_pairs *p, recur_side side, const char *sentence, int64_t *ids,
                                int64_t cap, int64_t *n);

/**
 * Decodes ids into words joined by spaces in buf (len bytes,
 * NUL-terminated): [PAD] and [START] are skipped, [END] ends the sentence,
 * an unknown word reads "[UNK]". RECUR_ERR_ARG for an id out of range or
 * a buffer too small.
 */
RECUR_API recur_status recur_pairs_decode(const recur_pairs *p, recur_side side, const int64_t *ids, int64_t n, char *buf,
                                size_t len);

/** The batches of one epoch over sentence pairs. */
typedef struct recur_pair_batches recur_pair_batches;

/** Options of recur_pair_batches_new; NULL or zeros select the defaults. */
typedef struct recur_pair_batch_opts {
    int64_t pool;    /**< batches per sorting pool (default 32) */
    int64_t src_len; /**< pad every source to this many steps (0: the longest source of each batch) */
    int64_t tgt_len; /**< pad decoder tensors to this many steps (0: the longest target of each batch + 1) */
    int drop_last;   /**< 1: leave out a final batch of fewer than B pairs */
} recur_pair_batch_opts;

/**
 * One batch, time-major; pointers into the batcher, valid until its next
 * recur_pair_batches_get or recur_pair_batches_free. Column b < n_pairs
 * holds pair pair[b]; columns from n_pairs to B (in a final, short batch)
 * are all padding with mask 0. With source ids s_1..s_m and target ids
 * w_1..w_k of column b:
 *   src      [S, B]: s_1 .. s_m, then [PAD]       src_mask [S, B]: 1 for t < m
 *   dec_in   [T, B]: [START], w_1 .. w_k, [PAD]...
 *   dec_tgt  [T, B]: w_1 .. w_k, [END], [PAD]...  tgt_mask [T, B]: 1 for t <= k
 *   src_lengths [B]: m      tgt_lengths [B]: k + 1   (1 for a column of padding,
 *                           whose tgt_mask is all 0: lengths are 1..S, 1..T)
 */
typedef struct recur_pair_batch {
    int64_t B;        /**< columns (the batch size asked for) */
    int64_t n_pairs;  /**< columns holding a pair */
    int64_t S, T;     /**< source and decoder steps */
    const int64_t *pair; /**< the pair index of each of the n_pairs columns */
    const float *src, *src_mask, *dec_in, *dec_tgt, *tgt_mask;
    const float *src_lengths, *tgt_lengths; /**< [B]: for recur_seq2seq_opts.lengths, recur_loop_lengths */
} recur_pair_batch;

/**
 * Cuts pairs into length-bucketed batches of B pairs for one epoch: the
 * pairs (those listed in subset[0..n_subset), or all when subset is NULL)
 * are shuffled with the seed, split into pools of pool * B pairs, each pool
 * is sorted by (source length, target length) and cut into batches of B,
 * and the order of the batches is shuffled with the seed: every pair is in
 * exactly one batch (unless drop_last), and a batch holds sentences of
 * similar length. Use a new seed for each epoch. Keeps a pointer to p:
 * free the batches first. RECUR_ERR_ARG (NULL) for a bad B or subset
 * index, or a pair longer than a fixed src_len / tgt_len.
 */
RECUR_API recur_pair_batches *recur_pair_batches_new(const recur_pairs *p, const int64_t *subset, int64_t n_subset, int64_t B,
                                           uint64_t seed, const recur_pair_batch_opts *opts);

/** Frees the batches. NULL is allowed. */
RECUR_API void recur_pair_batches_free(recur_pair_batches *bb);

/** Number of batches. */
RECUR_API int64_t recur_pair_batches_count(const recur_pair_batches *bb);

/** Fills batch k (0 <= k < count) into the batcher's buffers and describes it in *out. Allocates nothing. */
RECUR_API recur_status recur_pair_batches_get(recur_pair_batches *bb, int64_t k, recur_pair_batch *out);

/* ------------------------------------------------------ lines as sequences */

/*
 * A text of one sentence per line, for a language model over lines: line
 * c_1 .. c_m (its m symbols, the end of line not counted) is a sequence
 * of m + 1 steps that reads the end-of-line symbol (the newline, as if
 * the line before had just ended) and then the line, and predicts the line
 * and then its end:
 *   inputs   eol, c_1, .., c_m
 *   targets  c_1, .., c_m, eol
 * so a model learns where lines begin and end. A batch pads its sequences
 * to T steps and gives their lengths [B], for recur_rnn_opts.lengths and
 * recur_length_mask:
 *
 *   recur_lines_count n;
 *   recur_lines_find(text, &(recur_lines_opts){.max_steps = T}, NULL, 0, &n);   // count
 *   recur_line_seq *seqs = malloc(sizeof *seqs * n.seqs);
 *   recur_lines_find(text, &(recur_lines_opts){.max_steps = T}, seqs, n.seqs, &n);
 *   recur_lines_batch(text, seqs, n.seqs, which, B, T, x, y, lengths);
 */

/** What happens to a line of more steps (its symbols and its end) than a sequence may have. */
typedef enum recur_long_lines {
    RECUR_LINES_SPLIT = 0, /**< cut into pieces of max_steps steps (the last one shorter), each a sequence of its own */
    RECUR_LINES_CUT,       /**< its first max_steps steps are its sequence; the rest is left out */
    RECUR_LINES_REFUSE     /**< recur_lines_find fails with RECUR_ERR_FORMAT naming the line */
} recur_long_lines;

/** Options of recur_lines_find; NULL or zeros select the defaults. */
typedef struct recur_lines_opts {
    int64_t max_steps;           /**< the most steps of a sequence (0: no limit) */
    recur_long_lines long_lines; /**< what a longer line becomes (default RECUR_LINES_SPLIT) */
    int64_t column;              /**< 0: the whole line; k >= 1: its k-th field, fields separated by tabs (TSV) */
} recur_lines_opts;

/** One sequence: a line, or a piece of a long one. */
typedef struct recur_line_seq {
    int64_t start; /**< where the line's c_1 is in the corpus's ids */
    int64_t len;   /**< m, the line's symbols (all of them, also when it is cut or split) */
    int64_t first; /**< the sequence's first step among the line's m + 1 (0, or where a piece of a split line starts) */
    int64_t steps; /**< its steps, 1 .. m + 1 */
    int64_t line;  /**< the line's number in the text, from 1 */
} recur_line_seq;

/** What recur_lines_find found. */
typedef struct recur_lines_count {
    int64_t seqs;    /**< sequences (a split line counts one per piece) */
    int64_t lines;   /**< lines kept */
    int64_t blank;   /**< lines left out: empty or white space (spaces and tabs) only */
    int64_t long_lines; /**< lines longer than max_steps steps (split or cut) */
    int64_t longest; /**< the most steps of a line kept (m + 1), before any split or cut */
} recur_lines_count;

/**
 * Finds the lines of corpus c: its ids split at newlines (a carriage
 * return before a newline, of a CRLF end, is not part of the line; the
 * last line needs no newline), of each line the opts->column'th field,
 * lines (or fields) empty or of white space only left out; each line kept
 * becomes one sequence, or pieces or a cut one when it has more than
 * opts->max_steps steps. Writes the sequences in text order to
 * seqs[0..cap) (seqs NULL: only counts them) and the counts to *count.
 * Nothing is read but the corpus. RECUR_ERR_FORMAT naming the line and
 * its byte offset in the text for a line with fewer fields than the
 * column or, under RECUR_LINES_REFUSE, a line too long, and for a text
 * without a line holding a symbol; RECUR_ERR_ARG for bad options or when
 * cap is smaller than the sequences.
 */
RECUR_API recur_status recur_lines_find(const recur_corpus *c, const recur_lines_opts *opts, recur_line_seq *seqs,
                                        int64_t cap, recur_lines_count *count);

/**
 * Fills a batch of B sequences of corpus c (found by recur_lines_find in
 * it), time-major and padded to T steps, ids as floats. Column b holds
 * seqs[which[b]]: with its line's symbols c_1 .. c_m, its first step f and
 * its s steps, and eol the id of the newline,
 *   x [T, B]: x[t][b] = eol when f + t = 0, else c_(f+t)      for t < s
 *   y [T, B]: y[t][b] = c_(f+t+1) when f + t < m, else eol    for t < s
 *   lengths [B]: s
 * and 0 at the padding, t >= s. which[b] = -1 makes column b all padding,
 * of length 1 (a short last batch: leave such columns out of a loss with
 * a mask of your own). RECUR_ERR_ARG naming the column of an index
 * outside [-1, n_seqs) or of a sequence longer than T or outside the
 * corpus, and when c has no newline symbol.
 */
RECUR_API recur_status recur_lines_batch(const recur_corpus *c, const recur_line_seq *seqs, int64_t n_seqs,
                                         const int64_t *which, int64_t B, int64_t T, float *x, float *y,
                                         float *lengths);

#ifdef __cplusplus
}
#endif
#endif
