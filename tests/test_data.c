/*
 * tests/test_data.c — data feeding: CSV columns and their errors, missing
 * values, normalisation, sliding windows, character corpora (UTF-8
 * vocabularies, windows, batches, splits), seeded shuffling, sentence
 * pairs (tokenising, vocabularies, encoding) and their bucketed, padded
 * batches; then the real data sets, skipped when they are absent.
 *
 * Small inputs are written to a temporary directory made with mkdtemp.
 */
#include "test_util.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/random.h"

/* ------------------------------------------------------- temporary files */

static char tmpdir[256];
static char written[32][320];
static int n_written;

static int make_tmpdir(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/recur_data_XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    for (int i = 0; i < n_written; i++) remove(written[i]);
    return rmdir(tmpdir);
}

/* Writes content to tmpdir/name and returns the path (valid until the group ends). */
static const char *write_file(const char *name, const char *content)
{
    char path[320];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    int i;
    for (i = 0; i < n_written && strcmp(written[i], path); i++) continue;
    if (i == n_written) {
        assert_true(n_written < 32);
        strcpy(written[n_written++], path);
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
    fclose(f);
    return written[i];
}

/* Writes len bytes (NULs allowed) to tmpdir/name and returns the path. */
static const char *write_bytes(const char *name, const char *content, size_t len)
{
    const char *path = write_file(name, "");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, len, f), len);
    fclose(f);
    return path;
}

/* Registers tmpdir/name for removal at the end (for files made by other means) and returns the path. */
static const char *tmp_path(const char *name)
{
    assert_true(n_written < 32);
    snprintf(written[n_written], sizeof written[0], "%s/%s", tmpdir, name);
    return written[n_written++];
}

/* Asserts the data module's message contains `part`. */
static void assert_msg_has(const char *part)
{
    const char *m = recur_data_errmsg();
    if (!strstr(m, part)) fail_msg("message \"%s\" lacks \"%s\"", m, part);
}

static void assert_floats(const float *got, const float *want, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (got[i] != want[i]) fail_msg("element %lld: got %g, want %g", (long long)i, (double)got[i], (double)want[i]);
}

/* ----------------------------------------------------------------- series */

static void test_csv_columns_and_missing(void **state)
{
    (void)state;
    /* Quoted header, CRLF, a blank line, spaces, a quoted value, NA and an empty field. */
    const char *path = write_file("a.csv", "\"year\",\"value\",note\r\n"
                                           "2001, 1.5 ,x\r\n"
                                           "2002,NA,y\r\n"
                                           "\r\n"
                                           "2003,\"3.5\",z\r\n"
                                           "2004,,w\r\n"
                                           "2005,-2e1,v\r\n");
    recur_series *s = recur_series_load_csv(path, "value", NULL);
    assert_non_null(s);
    assert_int_equal(recur_series_len(s), 3);
    assert_int_equal(recur_series_missing(s), 2);
    assert_floats(recur_series_data(s), (float[]){1.5f, 3.5f, -20.0f}, 3);
    assert_int_equal(recur_series_line(s, 0), 2);
    assert_int_equal(recur_series_line(s, 1), 5);
    assert_int_equal(recur_series_line(s, 2), 7);
    assert_int_equal(recur_series_line(s, 3), 0);
    recur_series_free(s);

    /* The same by index, interpolating: 2002 is halfway between 1.5 and 3.5, 2004 halfway to -20. */
    s = recur_series_load_csv(path, NULL, &(recur_csv_opts){.column_index = 1, .missing = RECUR_MISSING_INTERPOLATE});
    assert_non_null(s);
    assert_int_equal(recur_series_len(s), 5);
    assert_floats(recur_series_data(s), (float[]){1.5f, 2.5f, 3.5f, -8.25f, -20.0f}, 5);
    assert_int_equal(recur_series_line(s, 1), 3);
    recur_series_free(s);

    /* Reporting missing values as errors names the line. */
    assert_null(recur_series_load_csv(path, "value", &(recur_csv_opts){.missing = RECUR_MISSING_ERROR}));
    assert_int_equal(recur_data_errcode(), RECUR_ERR_FORMAT);
    assert_msg_has("a.csv:3:");
    assert_msg_has("missing");

    /* Leading and trailing gaps cannot be interpolated: they are dropped. */
    path = write_file("b.csv", "t;v\n1;\n2;10\n3;null\n4;NaN\n5;40\n6;n/a\n");
    s = recur_series_load_csv(path, "v", &(recur_csv_opts){.delimiter = ';', .missing = RECUR_MISSING_INTERPOLATE});
    assert_non_null(s);
    assert_int_equal(recur_series_missing(s), 4);
    assert_int_equal(recur_series_len(s), 4);
    assert_floats(recur_series_data(s), (float[]){10, 20, 30, 40}, 4);
    recur_series_free(s);

    /* No header: every line is data. */
    path = write_file("c.csv", "1,2\n3,4\n");
    s = recur_series_load_csv(path, NULL, &(recur_csv_opts){.no_header = 1, .column_index = 1});
    assert_non_null(s);
    assert_floats(recur_series_data(s), (float[]){2, 4}, 2);
    recur_series_free(s);
}

static void test_csv_errors(void **state)
{
    (void)state;
    const char *path = write_file("bad.csv", "YEAR,SUN\n1700,5\n1701,11\n1702,abc\n1703,23\n");
    assert_null(recur_series_load_csv(path, "SUN", NULL));
    assert_int_equal(recur_data_errcode(), RECUR_ERR_FORMAT);
    assert_msg_has("bad.csv:4:");
    assert_msg_has("column 2 (\"SUN\")");
    assert_msg_has("\"abc\" is not a number");

    path = write_file("short.csv", "YEAR,SUN\n1700,5\n1701\n");
    assert_null(recur_series_load_csv(path, "SUN", NULL));
    assert_msg_has("short.csv:3:");
    assert_msg_has("no column 2");

    path = write_file("trail.csv", "x\n1.5x\n");
    assert_null(recur_series_load_csv(path, "x", NULL));
    assert_msg_has("trail.csv:2:");

    path = write_file("inf.csv", "x\n1\ninf\n");
    assert_null(recur_series_load_csv(path, "x", NULL));
    assert_msg_has("inf.csv:3:");

    path = write_file("quote.csv", "x\n\"12\n");
    assert_null(recur_series_load_csv(path, "x", NULL));
    assert_msg_has("quote.csv:2: unterminated");

    path = write_file("cols.csv", "a,b\n1,2\n");
    assert_null(recur_series_load_csv(path, "c", NULL));
    assert_msg_has("no column \"c\"");

    path = write_file("empty.csv", "a\n\n");
    assert_null(recur_series_load_csv(path, "a", NULL));
    assert_int_equal(recur_data_errcode(), RECUR_ERR_FORMAT);
    assert_msg_has("no values");

    char missing[400];
    snprintf(missing, sizeof missing, "%s/nowhere.csv", tmpdir);
    assert_null(recur_series_load_csv(missing, "a", NULL));
    assert_int_equal(recur_data_errcode(), RECUR_ERR_IO);
    assert_msg_has("nowhere.csv");
}

/* Issue 15's silent wrong results: each was accepted before. */
static void test_csv_no_silent_misreads(void **state)
{
    (void)state;
    /* 1e39 is finite as a double but inf as a float32. */
    const char *path = write_file("huge.csv", "v\n1\n1e39\n2\n");
    assert_null(recur_series_load_csv(path, "v", NULL));
    assert_int_equal(recur_data_errcode(), RECUR_ERR_FORMAT);
    assert_msg_has("huge.csv:3:");
    assert_msg_has("\"1e39\" is beyond the range of float32");
    path = write_file("neghuge.csv", "v\n-3.5e38\n");
    assert_null(recur_series_load_csv(path, "v", NULL));
    assert_msg_has("neghuge.csv:2:");
    /* The largest float32 still loads, exactly. */
    path = write_file("flt_max.csv", "v\n3.4028234663852886e38\n-3.4028234663852886e38\n");
    recur_series *s = recur_series_load_csv(path, "v", NULL);
    assert_non_null(s);
    assert_true(recur_series_data(s)[0] == FLT_MAX && recur_series_data(s)[1] == -FLT_MAX);
    recur_series_free(s);

    /* "2"x was read as 2: text after a closing quote is an error; spaces are not. */
    path = write_file("quoted.csv", "a,v\n1,\"2\"x\n");
    assert_null(recur_series_load_csv(path, "v", NULL));
    assert_int_equal(recur_data_errcode(), RECUR_ERR_FORMAT);
    assert_msg_has("quoted.csv:2: field 2: text after the closing quote");
    path = write_file("quoted_ok.csv", "a,v\n1,\"2\" \n3, \"4\"\n");
    s = recur_series_load_csv(path, "v", NULL);
    assert_non_null(s);
    assert_int_equal(recur_series_len(s), 2);
    assert_floats(recur_series_data(s), (const float[]){2, 4}, 2);
    recur_series_free(s);
    /* A tab delimiter right after a closing quote is a delimiter, not trailing space. */
    recur_csv_opts tab = {.delimiter = '\t'};
    path = write_file("quoted_tab.csv", "a\tv\n\"1\"\t5\n");
    s = recur_series_load_csv(path, "v", &tab);
    assert_non_null(s);
    assert_floats(recur_series_data(s), (const float[]){5}, 1);
    recur_series_free(s);

    /* A NUL byte cut the file short: 4 values were read as 2. */
    static const char with_nul[] = "v\n1\n2\0\n3\n4\n";
    path = write_bytes("nul.csv", with_nul, sizeof with_nul - 1);
    assert_null(recur_series_load_csv(path, "v", NULL));
    assert_int_equal(recur_data_errcode(), RECUR_ERR_FORMAT);
    assert_msg_has("nul.csv:3: a NUL byte at offset 5");
}

/* Reading refuses what is not a regular file, promptly, saying what it is. */
static void test_read_refuses_special_files(void **state)
{
    (void)state;
    /* A FIFO blocked the reader forever (no writer ever comes). */
    const char *fifo = tmp_path("fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_null(recur_corpus_load(fifo));
    assert_int_equal(recur_data_errcode(), RECUR_ERR_IO);
    assert_msg_has("FIFO");
    assert_msg_has(fifo);
    assert_null(recur_series_load_csv(fifo, NULL, NULL));
    assert_msg_has("FIFO");
    assert_null(recur_pairs_load(fifo, NULL));
    assert_msg_has("FIFO");
    /* A directory: "error reading /tmp" without a reason before. */
    assert_null(recur_corpus_load(tmpdir));
    assert_int_equal(recur_data_errcode(), RECUR_ERR_IO);
    assert_msg_has("is a directory");
    /* /dev/zero grew until out of memory. */
    if (access("/dev/zero", R_OK) == 0) {
        assert_null(recur_corpus_load("/dev/zero"));
        assert_int_equal(recur_data_errcode(), RECUR_ERR_IO);
        assert_msg_has("/dev/zero is a character device");
    }
    /* A (sparse) file beyond the limit is refused without being read. */
    const char *big = tmp_path("big.txt");
    FILE *f = fopen(big, "wb");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), (off_t)RECUR_DATA_MAX_BYTES + 1), 0);
    fclose(f);
    assert_null(recur_corpus_load(big));
    assert_int_equal(recur_data_errcode(), RECUR_ERR_IO);
    assert_msg_has("holds 1073741825 bytes, more than the 1073741824");
    /* An empty file name says so. */
    assert_null(recur_corpus_load(""));
    assert_int_equal(recur_data_errcode(), RECUR_ERR_ARG);
    assert_msg_has("corpus: the file name is empty");
    /* A regular file still reads, whatever its size says (a /proc file says 0). */
    recur_corpus *c = recur_corpus_load(write_file("small.txt", "abca"));
    assert_non_null(c);
    assert_int_equal(recur_corpus_len(c), 4);
    recur_corpus_free(c);
    if (access("/proc/self/status", R_OK) == 0) {
        c = recur_corpus_load("/proc/self/status");
        assert_non_null(c);
        assert_true(recur_corpus_len(c) > 10);
        recur_corpus_free(c);
    }
}

static void test_windows_exact(void **state)
{
    (void)state;
    const float v[7] = {1, 2, 3, 4, 5, 6, 7};
    assert_int_equal(recur_window_count(7, 3), 4);
    assert_int_equal(recur_window_count(3, 3), 0);
    assert_int_equal(recur_window_count(7, 0), 0);
    float x[12], y[4];
    assert_int_equal(recur_windows_rows(v, 7, 3, x, y), RECUR_OK);
    assert_floats(x, (float[]){1, 2, 3, 2, 3, 4, 3, 4, 5, 4, 5, 6}, 12);
    assert_floats(y, (float[]){4, 5, 6, 7}, 4);
    /* Time-major [3, 4, 1]: step k holds v[i + k] for the four windows. */
    assert_int_equal(recur_windows_time_major(v, 7, 3, x, y), RECUR_OK);
    assert_floats(x, (float[]){1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6}, 12);
    assert_floats(y, (float[]){4, 5, 6, 7}, 4);
    assert_int_equal(recur_windows_rows(v, 3, 3, x, y), RECUR_ERR_ARG);
    assert_msg_has("3 values");
}

static void test_normalisation_round_trip(void **state)
{
    (void)state;
    /* mean 5, population standard deviation 2 */
    const float orig[8] = {2, 4, 4, 4, 5, 5, 7, 9};
    float x[8];
    recur_norm nm;
    assert_int_equal(recur_norm_fit(&nm, RECUR_NORM_ZSCORE, orig, 8), RECUR_OK);
    assert_true(nm.shift == 5 && nm.scale == 2);
    memcpy(x, orig, sizeof x);
    assert_int_equal(recur_norm_apply(&nm, x, 8), RECUR_OK);
    assert_floats(x, (float[]){-1.5f, -0.5f, -0.5f, -0.5f, 0, 0, 1, 2}, 8);
    assert_int_equal(recur_norm_invert(&nm, x, 8), RECUR_OK);
    assert_floats(x, orig, 8);

    assert_int_equal(recur_norm_fit(&nm, RECUR_NORM_MINMAX, orig, 8), RECUR_OK);
    assert_true(nm.shift == 2 && nm.scale == 7);
    memcpy(x, orig, sizeof x);
    recur_norm_apply(&nm, x, 8);
    assert_true(x[0] == 0 && x[7] == 1);
    tu_assert_close(x + 1, (float[]){2 / 7.f, 2 / 7.f, 2 / 7.f, 3 / 7.f, 3 / 7.f, 5 / 7.f}, 6, 1e-6, 0);
    recur_norm_invert(&nm, x, 8);
    tu_assert_close(x, orig, 8, 1e-6, 0);

    /* Fitted on a part, applied to values outside its range. */
    float more[2] = {-5, 16};
    recur_norm_apply(&nm, more, 2);
    tu_assert_close(more, (float[]){-1, 2}, 2, 1e-6, 0);

    const float flat[3] = {3, 3, 3};
    assert_int_equal(recur_norm_fit(&nm, RECUR_NORM_MINMAX, flat, 3), RECUR_OK);
    assert_true(nm.scale == 1 && nm.shift == 3);
    const float nan_in[2] = {1, NAN};
    assert_int_equal(recur_norm_fit(&nm, RECUR_NORM_ZSCORE, nan_in, 2), RECUR_ERR_ARG);
    assert_msg_has("value 1");
}

static void test_series_split(void **state)
{
    (void)state;
    float v[10];
    for (int i = 0; i < 10; i++) v[i] = (float)(i * i);
    recur_series *s = recur_series_new(v, 10), *train, *test;
    assert_non_null(s);
    assert_int_equal(recur_series_split(s, 7, 3, &train, &test), RECUR_OK);
    assert_int_equal(recur_series_len(train), 7);
    assert_int_equal(recur_series_len(test), 6);
    assert_floats(recur_series_data(train), v, 7);
    assert_floats(recur_series_data(test), v + 4, 6);
    /* Windows of 3 over the test part predict exactly the values after the training part. */
    float x[9], y[3];
    assert_int_equal(recur_windows_rows(recur_series_data(test), 6, 3, x, y), RECUR_OK);
    assert_floats(y, (float[]){49, 64, 81}, 3);
    recur_series_free(train);
    recur_series_free(test);
    assert_int_equal(recur_series_split(s, 10, 0, &train, &test), RECUR_ERR_ARG);
    assert_null(train);
    assert_int_equal(recur_series_split(s, 2, 3, &train, &test), RECUR_ERR_ARG);
    recur_series_free(s);
}

/* ------------------------------------------------------------- shuffling */

static void test_shuffle_seeded_permutation(void **state)
{
    (void)state;
    enum { N = 50 };
    int64_t a[N], b[N], c[N], want[N];
    assert_int_equal(recur_permutation(a, N, 7), RECUR_OK);
    assert_int_equal(recur_permutation(b, N, 7), RECUR_OK);
    assert_int_equal(recur_permutation(c, N, 8), RECUR_OK);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    int seen[N] = {0};
    for (int i = 0; i < N; i++) {
        assert_true(a[i] >= 0 && a[i] < N);
        seen[a[i]]++;
    }
    for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1);
    /* The documented algorithm, written out: Fisher-Yates on recur's generator, j by rejection. */
    recur_rng r;
    recur_rng_seed(&r, 7);
    for (int i = 0; i < N; i++) want[i] = i;
    for (int i = N - 1; i > 0; i--) {
        uint64_t n = (uint64_t)i + 1, x;
        do x = recur_rng_next(&r);
        while (x < (UINT64_MAX - n + 1) % n);
        int64_t j = (int64_t)(x % n), t = want[i];
        want[i] = want[j];
        want[j] = t;
    }
    assert_memory_equal(a, want, sizeof a);
    /* Shuffling any array moves its elements the same way. */
    for (int i = 0; i < N; i++) b[i] = 100 + i;
    assert_int_equal(recur_shuffle(b, N, 7), RECUR_OK);
    for (int i = 0; i < N; i++) assert_int_equal(b[i], 100 + a[i]);
    assert_int_equal(recur_shuffle(NULL, 3, 1), RECUR_ERR_ARG);
}

/* ---------------------------------------------------------------- corpora */

static void test_corpus_utf8_vocab(void **state)
{
    (void)state;
    /* A byte-order mark (dropped), 2-byte é (U+00E9) and 3-byte — (U+2014). */
    const char *path = write_file("c.txt", "\xEF\xBB\xBF" "café — déjà\n");
    recur_corpus *c = recur_corpus_load(path);
    assert_non_null(c);
    /* Symbols by code point: \n ' ' a c d f j à é — */
    const int32_t want_sym[10] = {'\n', ' ', 'a', 'c', 'd', 'f', 'j', 0xE0, 0xE9, 0x2014};
    assert_int_equal(recur_corpus_vocab_size(c), 10);
    for (int i = 0; i < 10; i++) assert_int_equal(recur_corpus_symbol(c, i), want_sym[i]);
    assert_int_equal(recur_corpus_symbol(c, 10), -1);
    assert_int_equal(recur_corpus_find(c, 0xE9), 8);
    assert_int_equal(recur_corpus_find(c, 'z'), -1);
    /* c a f é ' ' — ' ' d é j à \n */
    const int64_t want_ids[12] = {3, 2, 5, 8, 1, 9, 1, 4, 8, 6, 7, 0};
    assert_int_equal(recur_corpus_len(c), 12);
    assert_memory_equal(recur_corpus_ids(c), want_ids, sizeof want_ids);

    int64_t ids[16], n;
    assert_int_equal(recur_corpus_encode(c, "déjà — café", ids, 16, &n), RECUR_OK);
    assert_int_equal(n, 11);
    assert_memory_equal(ids, ((int64_t[]){4, 8, 6, 7, 1, 9, 1, 3, 2, 5, 8}), 11 * sizeof(int64_t));
    char buf[64];
    assert_int_equal(recur_corpus_decode(c, ids, n, buf, sizeof buf), RECUR_OK);
    assert_string_equal(buf, "déjà — café");
    assert_int_equal(strlen(buf), 16); /* 11 symbols: é, à and é take 2 bytes, — takes 3 */
    assert_int_equal(recur_corpus_decode(c, ids, n, buf, 16), RECUR_ERR_ARG);
    assert_msg_has("needs 17 bytes");
    assert_int_equal(recur_corpus_encode(c, "déjà", NULL, 0, &n), RECUR_OK);
    assert_int_equal(n, 4);

    assert_int_equal(recur_corpus_encode(c, "caffè", ids, 16, &n), RECUR_ERR_ARG);
    assert_msg_has("U+00E8");
    assert_msg_has("byte 4");
    assert_int_equal(recur_corpus_encode(c, "café", ids, 3, &n), RECUR_ERR_ARG);
    assert_int_equal(recur_corpus_decode(c, (int64_t[]){1, 10}, 2, buf, sizeof buf), RECUR_ERR_ARG);
    assert_msg_has("position 1");
    recur_corpus_free(c);

    /* Invalid UTF-8: a lone continuation byte on line 2, and an overlong '/'. */
    path = write_file("bad.txt", "ok\nab\x80z\n");
    assert_null(recur_corpus_load(path));
    assert_int_equal(recur_data_errcode(), RECUR_ERR_FORMAT);
    assert_msg_has("byte 5 (line 2");
    assert_null(recur_corpus_from_text("\xC0\xAF", 2));
    assert_null(recur_corpus_from_text("\xED\xA0\x80", 3)); /* a surrogate */
    assert_null(recur_corpus_from_text("\xE2\x80", 2));     /* truncated */
    assert_null(recur_corpus_from_text("", 0));
    assert_msg_has("empty");
}

/*
 * The vocabulary (read from a bitmap per Unicode plane) against a plain
 * count of the code points present: random code points of every UTF-8
 * length and every plane, 100 and 5000 of them.
 */
static void test_corpus_vocab_every_plane(void **state)
{
    (void)state;
    char *present = calloc(0x110000, 1);
    char *text = malloc(4 * 5000 + 1);
    assert_non_null(present);
    assert_non_null(text);
    const int lens[2] = {100, 5000};
    for (int c = 0; c < 2; c++) {
        memset(present, 0, 0x110000);
        size_t at = 0;
        float u[5000];
        tu_fill_uniform(u, lens[c], 0, 1, 7 + (uint64_t)c);
        for (int i = 0; i < lens[c]; i++) {
            /* a few common symbols and a spread over the whole range, surrogates skipped */
            uint32_t cp = i % 3 ? (uint32_t)('a' + i % 7) : (uint32_t)(u[i] * 0x10FFFF);
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xE000;
            present[cp] = 1;
            char enc[4];
            int k = cp < 0x80 ? (enc[0] = (char)cp, 1)
                    : cp < 0x800 ? (enc[0] = (char)(0xC0 | (cp >> 6)), enc[1] = (char)(0x80 | (cp & 0x3F)), 2)
                    : cp < 0x10000 ? (enc[0] = (char)(0xE0 | (cp >> 12)), enc[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
                                      enc[2] = (char)(0x80 | (cp & 0x3F)), 3)
                                   : (enc[0] = (char)(0xF0 | (cp >> 18)), enc[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
                                      enc[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), enc[3] = (char)(0x80 | (cp & 0x3F)), 4);
            memcpy(text + at, enc, (size_t)k);
            at += (size_t)k;
        }
        recur_corpus *corpus = recur_corpus_from_text(text, at);
        assert_non_null(corpus);
        assert_int_equal(recur_corpus_len(corpus), lens[c]);
        int64_t want = 0, id = 0;
        for (uint32_t cp = 0; cp < 0x110000; cp++) {
            if (!present[cp]) continue;
            want++;
            assert_int_equal(recur_corpus_symbol(corpus, id++), (int32_t)cp); /* in increasing order, none missing */
        }
        assert_int_equal(recur_corpus_vocab_size(corpus), want);
        recur_corpus_free(corpus);
    }
    free(present);
    free(text);
}

static void test_corpus_windows_batches(void **state)
{
    (void)state;
    recur_corpus *c = recur_corpus_from_text("abcdefghij", 10); /* id = letter - 'a' */
    assert_non_null(c);
    /* L = 3, stride 2: windows start at 0, 2, 4, 6 (6..8 predicts 9). */
    assert_int_equal(recur_corpus_window_count(c, 3, 2), 4);
    assert_int_equal(recur_corpus_window_count(c, 3, 1), 7);
    assert_int_equal(recur_corpus_window_count(c, 9, 1), 1);
    assert_int_equal(recur_corpus_window_count(c, 10, 1), 0);
    assert_int_equal(recur_corpus_window_count(c, INT64_MAX, 1), 0); /* L + 1 overflowed in the check (UBSan) */
    assert_int_equal(recur_corpus_window_count(c, 3, INT64_MAX), 1);
    float x[9], ys[9], yn[3];
    assert_int_equal(recur_corpus_batch(c, 3, 2, (int64_t[]){3, 0, 1}, 3, x, ys, yn), RECUR_OK);
    /* Columns: window 3 = ghi -> j, window 0 = abc -> d, window 1 = cde -> f; [L, B] time-major. */
    assert_floats(x, (float[]){6, 0, 2, 7, 1, 3, 8, 2, 4}, 9);
    assert_floats(ys, (float[]){7, 1, 3, 8, 2, 4, 9, 3, 5}, 9);
    assert_floats(yn, (float[]){9, 3, 5}, 3);
    assert_int_equal(recur_corpus_batch(c, 3, 2, (int64_t[]){2}, 1, x, NULL, yn), RECUR_OK);
    assert_floats(x, (float[]){4, 5, 6}, 3);
    assert_floats(yn, (float[]){7}, 1);
    assert_int_equal(recur_corpus_batch(c, 3, 2, (int64_t[]){0, 4}, 2, x, ys, NULL), RECUR_ERR_ARG);
    assert_msg_has("column 1: window 4");

    recur_corpus *train, *test;
    assert_int_equal(recur_corpus_split(c, 6, &train, &test), RECUR_OK);
    assert_int_equal(recur_corpus_len(train), 6);
    assert_int_equal(recur_corpus_len(test), 4);
    assert_int_equal(recur_corpus_vocab_size(test), 10); /* the whole vocabulary */
    assert_memory_equal(recur_corpus_ids(test), ((int64_t[]){6, 7, 8, 9}), 4 * sizeof(int64_t));
    int64_t id;
    int64_t n;
    assert_int_equal(recur_corpus_encode(test, "a", &id, 1, &n), RECUR_OK);
    assert_int_equal(id, 0);
    recur_corpus_free(train);
    recur_corpus_free(test);
    assert_int_equal(recur_corpus_split(c, 10, &train, &test), RECUR_ERR_ARG);
    recur_corpus_free(c);
}

/* ------------------------------------------------------------------ pairs */

static void assert_tokens(const char *in, const char *want, int64_t want_n)
{
    char buf[256];
    int64_t n = -1;
    assert_int_equal(recur_tokenize(in, buf, sizeof buf, &n), RECUR_OK);
    assert_string_equal(buf, want);
    assert_int_equal(n, want_n);
}

static void test_tokenize(void **state)
{
    (void)state;
    assert_tokens("Don't go, Tom!", "don't go , tom !", 5);
    assert_tokens("Va\xE2\x80\xAF!", "va !", 2);                           /* narrow no-break space */
    assert_tokens("\xC3\x8Ates-vous pr\xC3\xAAt\xC2\xA0?", "êtes-vous prêt ?", 3); /* Ê, no-break space */
    assert_tokens("J\xE2\x80\x99" "ai faim...", "j'ai faim . . .", 5);     /* ’ reads as ' */
    assert_tokens("\xC2\xABOui\xC2\xBB, dit-il.", "« oui » , dit-il .", 6);
    assert_tokens("'quoted' - yes--no", "' quoted ' - yes - - no", 8);
    assert_tokens("  \xC5\x92uvre  CAF\xC3\x89 ", "œuvre café", 2);
    assert_tokens("", "", 0);
    char small[5];
    assert_int_equal(recur_tokenize("go now", small, sizeof small, NULL), RECUR_ERR_ARG);
    assert_int_equal(recur_tokenize("go\xFF", small, sizeof small, NULL), RECUR_ERR_FORMAT);
    assert_msg_has("byte 2");
}

/* Source: go . | hi . | go now . | run !     target: va ! | salut ! | va maintenant . | cours ! */
static const char *pairs_tsv = "Go.\tVa !\tCC-BY one\n"
                               "Hi.\tSalut !\tCC-BY two\n"
                               "Go now.\tVa maintenant.\tCC-BY three\n"
                               "\n"
                               "Run!\tCours\xE2\x80\xAF!\n";

static void test_pairs_vocab_and_encoding(void **state)
{
    (void)state;
    const char *path = write_file("p.tsv", pairs_tsv);
    recur_pairs *p = recur_pairs_load(path, NULL);
    assert_non_null(p);
    assert_int_equal(recur_pairs_count(p), 4);
    assert_int_equal(recur_pairs_skipped(p), 0);
    assert_string_equal(recur_pairs_text(p, 2, RECUR_SOURCE), "Go now.");
    assert_string_equal(recur_pairs_text(p, 2, RECUR_TARGET), "Va maintenant.");
    assert_string_equal(recur_pairs_attribution(p, 1), "CC-BY two");
    assert_string_equal(recur_pairs_attribution(p, 3), "");
    assert_null(recur_pairs_text(p, 4, RECUR_SOURCE));

    /* Reserved ids, then by count: source . (3) go (2), then ! hi now run (1 each, byte order). */
    const char *src_words[10] = {"[PAD]", "[START]", "[END]", "[UNK]", ".", "go", "!", "hi", "now", "run"};
    const char *tgt_words[10] = {"[PAD]", "[START]", "[END]", "[UNK]", "!", "va", ".", "cours", "maintenant", "salut"};
    assert_int_equal(recur_pairs_vocab_size(p, RECUR_SOURCE), 10);
    assert_int_equal(recur_pairs_vocab_size(p, RECUR_TARGET), 10);
    for (int i = 0; i < 10; i++) {
        assert_string_equal(recur_pairs_word(p, RECUR_SOURCE, i), src_words[i]);
        assert_string_equal(recur_pairs_word(p, RECUR_TARGET, i), tgt_words[i]);
        assert_int_equal(recur_pairs_word_id(p, RECUR_SOURCE, src_words[i]), i);
    }
    assert_null(recur_pairs_word(p, RECUR_SOURCE, 10));
    assert_int_equal(recur_pairs_word_id(p, RECUR_SOURCE, "stop"), RECUR_UNK_ID);

    int64_t n;
    const int64_t *ids = recur_pairs_ids(p, 2, RECUR_SOURCE, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(ids, ((int64_t[]){5, 8, 4}), 3 * sizeof(int64_t));
    ids = recur_pairs_ids(p, 3, RECUR_TARGET, &n);
    assert_int_equal(n, 2);
    assert_memory_equal(ids, ((int64_t[]){7, 4}), 2 * sizeof(int64_t));

    int64_t enc[8];
    assert_int_equal(recur_pairs_encode(p, RECUR_SOURCE, "Go home, now.", enc, 8, &n), RECUR_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(enc, ((int64_t[]){5, RECUR_UNK_ID, RECUR_UNK_ID, 8, 4}), 5 * sizeof(int64_t));
    assert_int_equal(recur_pairs_encode(p, RECUR_SOURCE, "Go home, now.", enc, 4, &n), RECUR_ERR_ARG);
    char buf[64];
    assert_int_equal(recur_pairs_decode(p, RECUR_TARGET, (int64_t[]){1, 5, 3, 8, 6, 2, 4, 0}, 8, buf, sizeof buf),
                     RECUR_OK);
    assert_string_equal(buf, "va [UNK] maintenant .");
    assert_int_equal(recur_pairs_decode(p, RECUR_TARGET, (int64_t[]){5, 8}, 2, buf, 13), RECUR_ERR_ARG);
    assert_msg_has("needs 14 bytes");
    assert_int_equal(recur_pairs_decode(p, RECUR_TARGET, (int64_t[]){5, 10}, 2, buf, sizeof buf), RECUR_ERR_ARG);
    recur_pairs_free(p);

    /* min_count 2 keeps . and go on the source side, ! and va on the target side. */
    p = recur_pairs_load(path, &(recur_pairs_opts){.min_count = 2});
    assert_non_null(p);
    assert_int_equal(recur_pairs_vocab_size(p, RECUR_SOURCE), 6);
    assert_int_equal(recur_pairs_vocab_size(p, RECUR_TARGET), 6);
    ids = recur_pairs_ids(p, 2, RECUR_SOURCE, &n);
    assert_memory_equal(ids, ((int64_t[]){5, RECUR_UNK_ID, 4}), 3 * sizeof(int64_t));
    recur_pairs_free(p);

    /* max_len 2 leaves out the pair of 3 tokens; swap exchanges the sides; max_pairs stops early. */
    p = recur_pairs_load(path, &(recur_pairs_opts){.max_len = 2, .swap = 1, .max_pairs = 3});
    assert_non_null(p);
    assert_int_equal(recur_pairs_count(p), 3);
    assert_int_equal(recur_pairs_skipped(p), 1);
    assert_string_equal(recur_pairs_text(p, 2, RECUR_SOURCE), "Cours\xE2\x80\xAF!");
    recur_pairs_free(p);

    path = write_file("bad.tsv", "Go.\tVa !\nno tab here\n");
    assert_null(recur_pairs_load(path, NULL));
    assert_int_equal(recur_data_errcode(), RECUR_ERR_FORMAT);
    assert_msg_has("bad.tsv:2:");
    path = write_file("bad8.tsv", "Go.\tVa !\nHi.\tSa\xC3lut\n");
    assert_null(recur_pairs_load(path, NULL));
    assert_msg_has("bad8.tsv:2: invalid UTF-8 in column 2");
}

/* A NUL byte cut a TSV file short (3 pairs were read as 1): now it is an error naming the line. */
static void test_pairs_nul_byte(void **state)
{
    (void)state;
    static const char tsv[] = "Go.\tVa !\nRun\0!\tCours !\nHi.\tSalut.\n";
    const char *path = write_bytes("nul.tsv", tsv, sizeof tsv - 1);
    assert_null(recur_pairs_load(path, NULL));
    assert_int_equal(recur_data_errcode(), RECUR_ERR_FORMAT);
    assert_msg_has("nul.tsv:2: a NUL byte at offset 12");
    /* Without the NUL, the 3 pairs load. */
    path = write_file("three.tsv", "Go.\tVa !\nRun!\tCours !\nHi.\tSalut.\n");
    recur_pairs *p = recur_pairs_load(path, NULL);
    assert_non_null(p);
    assert_int_equal(recur_pairs_count(p), 3);
    recur_pairs_free(p);
}

/* Expected ids of the four pairs of pairs_tsv. */
static const int64_t want_src[4][3] = {{5, 4}, {7, 4}, {5, 8, 4}, {9, 6}};
static const int64_t want_tgt[4][3] = {{5, 4}, {9, 4}, {5, 8, 6}, {7, 4}};
static const int64_t want_len[4] = {2, 2, 3, 2};

/* Checks every column of a batch against the layout written out by hand. */
static void check_batch(const recur_pair_batch *b)
{
    for (int64_t c = 0; c < b->B; c++) {
        int64_t i = c < b->n_pairs ? b->pair[c] : -1, m = i >= 0 ? want_len[i] : 0;
        for (int64_t t = 0; t < b->S; t++) {
            float id = t < m ? (float)want_src[i][t] : RECUR_PAD_ID;
            assert_true(b->src[t * b->B + c] == id);
            assert_true(b->src_mask[t * b->B + c] == (t < m ? 1.f : 0.f));
        }
        for (int64_t t = 0; t < b->T; t++) {
            float in = i < 0 ? 0 : t == 0 ? RECUR_START_ID : t <= m ? (float)want_tgt[i][t - 1] : RECUR_PAD_ID;
            float out = i < 0 ? 0 : t < m ? (float)want_tgt[i][t] : t == m ? RECUR_END_ID : RECUR_PAD_ID;
            assert_true(b->dec_in[t * b->B + c] == in);
            assert_true(b->dec_tgt[t * b->B + c] == out);
            assert_true(b->tgt_mask[t * b->B + c] == (i >= 0 && t <= m ? 1.f : 0.f));
        }
        /* The lengths say the same as the masks (1 for a column of padding). */
        assert_true(b->src_lengths[c] == (float)(m > 0 ? m : 1));
        assert_true(b->tgt_lengths[c] == (float)(i >= 0 ? m + 1 : 1));
    }
}

static void test_pair_batches_padding(void **state)
{
    (void)state;
    recur_pairs *p = recur_pairs_load(write_file("p.tsv", pairs_tsv), NULL);
    assert_non_null(p);
    /* One batch of all four: sorted by length, the 3-token pair comes last. */
    recur_pair_batches *bb = recur_pair_batches_new(p, NULL, 0, 4, 1, NULL);
    assert_non_null(bb);
    assert_int_equal(recur_pair_batches_count(bb), 1);
    recur_pair_batch b;
    assert_int_equal(recur_pair_batches_get(bb, 0, &b), RECUR_OK);
    assert_int_equal(b.B, 4);
    assert_int_equal(b.n_pairs, 4);
    assert_int_equal(b.S, 3);
    assert_int_equal(b.T, 4);
    assert_int_equal(b.pair[3], 2);
    /* Column 3 written out: go now . / [START] va maintenant . / va maintenant . [END] */
    assert_floats((float[]){b.src[3], b.src[7], b.src[11]}, (float[]){5, 8, 4}, 3);
    assert_floats((float[]){b.dec_in[3], b.dec_in[7], b.dec_in[11], b.dec_in[15]}, (float[]){1, 5, 8, 6}, 4);
    assert_floats((float[]){b.dec_tgt[3], b.dec_tgt[7], b.dec_tgt[11], b.dec_tgt[15]}, (float[]){5, 8, 6, 2}, 4);
    /* A 2-token pair in column 0: padding at the last source step and the last decoder step. */
    assert_floats((float[]){b.src_mask[0], b.src_mask[4], b.src_mask[8]}, (float[]){1, 1, 0}, 3);
    assert_floats((float[]){b.tgt_mask[0], b.tgt_mask[4], b.tgt_mask[8], b.tgt_mask[12]}, (float[]){1, 1, 1, 0}, 4);
    check_batch(&b);
    assert_int_equal(recur_pair_batches_get(bb, 1, &b), RECUR_ERR_ARG);
    recur_pair_batches_free(bb);

    /* A subset of three in batches of 2: a full batch and a short one padded with empty columns. */
    const int64_t subset[3] = {3, 2, 0};
    bb = recur_pair_batches_new(p, subset, 3, 2, 5, NULL);
    assert_non_null(bb);
    assert_int_equal(recur_pair_batches_count(bb), 2);
    int seen[4] = {0}, short_batches = 0;
    for (int64_t k = 0; k < 2; k++) {
        assert_int_equal(recur_pair_batches_get(bb, k, &b), RECUR_OK);
        assert_int_equal(b.B, 2);
        short_batches += b.n_pairs == 1;
        for (int64_t c = 0; c < b.n_pairs; c++) seen[b.pair[c]]++;
        check_batch(&b);
    }
    assert_int_equal(short_batches, 1);
    assert_true(seen[0] == 1 && seen[1] == 0 && seen[2] == 1 && seen[3] == 1);
    recur_pair_batches_free(bb);

    /* drop_last leaves the short batch out; fixed lengths pad further. */
    bb = recur_pair_batches_new(p, subset, 3, 2, 5, &(recur_pair_batch_opts){.drop_last = 1, .src_len = 5, .tgt_len = 6});
    assert_non_null(bb);
    assert_int_equal(recur_pair_batches_count(bb), 1);
    assert_int_equal(recur_pair_batches_get(bb, 0, &b), RECUR_OK);
    assert_int_equal(b.n_pairs, 2);
    assert_int_equal(b.S, 5);
    assert_int_equal(b.T, 6);
    check_batch(&b);
    recur_pair_batches_free(bb);

    assert_null(recur_pair_batches_new(p, NULL, 0, 2, 5, &(recur_pair_batch_opts){.src_len = 2}));
    assert_msg_has("pair 2 has 3 source tokens");
    assert_null(recur_pair_batches_new(p, (int64_t[]){0, 4}, 2, 2, 5, NULL));
    assert_msg_has("subset[1] = 4");
    assert_null(recur_pair_batches_new(p, NULL, 0, 0, 5, NULL));
    assert_null(recur_pair_batches_new(p, subset, 1, 2, 5, &(recur_pair_batch_opts){.drop_last = 1}));
    /* Sizes whose products overflowed (pool * B, S * B: a small buffer, then writes past it) are refused. */
    assert_null(recur_pair_batches_new(p, NULL, 0, INT64_MAX, 5, NULL));
    assert_int_equal(recur_data_errcode(), RECUR_ERR_ARG);
    assert_msg_has("hold more than 2^40 floats");
    assert_null(recur_pair_batches_new(p, NULL, 0, (int64_t)1 << 62, 5, NULL));
    assert_msg_has("hold more than 2^40 floats");
    assert_null(recur_pair_batches_new(p, NULL, 0, 2, 5, &(recur_pair_batch_opts){.src_len = INT64_MAX}));
    assert_msg_has("hold more than 2^40 floats");
    assert_null(recur_pair_batches_new(p, NULL, 0, 2, 5, &(recur_pair_batch_opts){.pool = INT64_MAX, .tgt_len = (int64_t)1 << 40}));
    assert_msg_has("hold more than 2^40 floats");
    bb = recur_pair_batches_new(p, NULL, 0, 2, 5, &(recur_pair_batch_opts){.pool = INT64_MAX});
    assert_non_null(bb); /* one pool of every pair */
    assert_int_equal(recur_pair_batches_count(bb), 2);
    recur_pair_batches_free(bb);
    recur_pairs_free(p);
}

static void test_pair_batches_cover_and_bucket(void **state)
{
    (void)state;
    enum { N = 103, B = 8 };
    /* Pair i: (i % 7 + 1) source words and (i % 5 + 1) target words. */
    static char text[N * 64];
    size_t at = 0;
    for (int i = 0; i < N; i++) {
        for (int k = 0; k <= i % 7; k++) at += (size_t)sprintf(text + at, "%sa%d", k ? " " : "", k);
        text[at++] = '\t';
        for (int k = 0; k <= i % 5; k++) at += (size_t)sprintf(text + at, "%sb%d", k ? " " : "", k);
        text[at++] = '\n';
    }
    text[at] = 0;
    recur_pairs *p = recur_pairs_load(write_file("many.tsv", text), NULL);
    assert_non_null(p);
    assert_int_equal(recur_pairs_count(p), N);
    int64_t first_pairs[2][B];
    for (int run = 0; run < 3; run++) {
        uint64_t seed = run < 2 ? 42 : 43;
        recur_pair_batches *bb = recur_pair_batches_new(p, NULL, 0, B, seed, &(recur_pair_batch_opts){.pool = 4});
        assert_non_null(bb);
        assert_int_equal(recur_pair_batches_count(bb), (N + B - 1) / B);
        int seen[N] = {0};
        for (int64_t k = 0; k < recur_pair_batches_count(bb); k++) {
            recur_pair_batch b;
            assert_int_equal(recur_pair_batches_get(bb, k, &b), RECUR_OK);
            assert_true(b.n_pairs == B || b.n_pairs == N % B);
            int64_t longest = 0, prev = 0;
            for (int64_t c = 0; c < b.n_pairs; c++) {
                int64_t i = b.pair[c], ls = i % 7 + 1;
                seen[i]++;
                assert_true(ls >= prev); /* sorted within the bucket */
                prev = ls;
                longest = ls > longest ? ls : longest;
                /* every real source token is masked in, padding out */
                for (int64_t t = 0; t < b.S; t++) assert_true(b.src_mask[t * B + c] == (t < ls ? 1.f : 0.f));
            }
            assert_int_equal(b.S, longest);
            if (k == 0 && run < 2) memcpy(first_pairs[run], b.pair, sizeof(int64_t) * B);
            if (k == 0 && run == 2) assert_memory_not_equal(first_pairs[0], b.pair, sizeof(int64_t) * B);
        }
        for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1);
        recur_pair_batches_free(bb);
    }
    assert_memory_equal(first_pairs[0], first_pairs[1], sizeof first_pairs[0]);
    recur_pairs_free(p);
}

/* ------------------------------------------------------------- data path */

/* ----------------------------------------------------------------- lines */

/* A corpus of text, failing the test when it cannot be made. */
static recur_corpus *corpus_of(const char *text)
{
    recur_corpus *c = recur_corpus_from_text(text, strlen(text));
    if (!c) fail_msg("%s", recur_data_errmsg());
    return c;
}

/* Asserts sequence s is (start, len, first, steps, line). */
static void assert_seq(recur_line_seq s, int64_t start, int64_t len, int64_t first, int64_t steps, int64_t line)
{
    if (s.start != start || s.len != len || s.first != first || s.steps != steps || s.line != line)
        fail_msg("sequence (start %lld, len %lld, first %lld, steps %lld, line %lld), "
                 "want (%lld, %lld, %lld, %lld, %lld)",
                 (long long)s.start, (long long)s.len, (long long)s.first, (long long)s.steps, (long long)s.line,
                 (long long)start, (long long)len, (long long)first, (long long)steps, (long long)line);
}

/*
 * Lines: a CRLF end, an empty line, a line of white space, a line without
 * a final newline; each long line split, cut or refused (naming its line
 * and byte offset: the two-byte é before it counts two), a TSV column.
 */
static void test_lines_find(void **state)
{
    (void)state;
    /* symbols: a 0, é 1, CR 2, LF 3 | LF 4 | 5-8 | c 9 .. LF 13 | f 14 .. LF 19 | x 20 .. z 22 */
    recur_corpus *c = corpus_of("a\xc3\xa9\r\n\n  \t\ncd e\nfghij\nxyz");
    recur_line_seq s[8];
    recur_lines_count n;
    assert_int_equal(recur_lines_find(c, NULL, NULL, 0, &n), RECUR_OK); /* count only */
    assert_int_equal(n.seqs, 4);
    assert_int_equal(recur_lines_find(c, NULL, s, 8, &n), RECUR_OK);
    assert_int_equal(n.lines, 4);
    assert_int_equal(n.blank, 2);
    assert_int_equal(n.long_lines, 0);
    assert_int_equal(n.longest, 6);
    assert_seq(s[0], 0, 2, 0, 3, 1);
    assert_seq(s[1], 9, 4, 0, 5, 4);
    assert_seq(s[2], 14, 5, 0, 6, 5);
    assert_seq(s[3], 20, 3, 0, 4, 6);

    recur_lines_opts o = {.max_steps = 4}; /* split */
    assert_int_equal(recur_lines_find(c, &o, s, 8, &n), RECUR_OK);
    assert_int_equal(n.seqs, 6);
    assert_int_equal(n.long_lines, 2);
    assert_int_equal(n.longest, 6);
    assert_seq(s[1], 9, 4, 0, 4, 4);
    assert_seq(s[2], 9, 4, 4, 1, 4);
    assert_seq(s[3], 14, 5, 0, 4, 5);
    assert_seq(s[4], 14, 5, 4, 2, 5);
    assert_seq(s[5], 20, 3, 0, 4, 6);
    o.long_lines = RECUR_LINES_CUT;
    assert_int_equal(recur_lines_find(c, &o, s, 8, &n), RECUR_OK);
    assert_int_equal(n.seqs, 4);
    assert_seq(s[1], 9, 4, 0, 4, 4);
    assert_seq(s[2], 14, 5, 0, 4, 5);
    o.long_lines = RECUR_LINES_REFUSE;
    assert_int_equal(recur_lines_find(c, &o, s, 8, &n), RECUR_ERR_FORMAT);
    assert_msg_has("line 4 (byte 10) has 4 symbols, 5 steps with its end of line, more than the 4 steps");
    o = (recur_lines_opts){.max_steps = 6, .long_lines = RECUR_LINES_REFUSE}; /* the longest fits exactly */
    assert_int_equal(recur_lines_find(c, &o, s, 8, &n), RECUR_OK);
    assert_int_equal(n.seqs, 4);

    /* too small a cap, bad options */
    assert_int_equal(recur_lines_find(c, NULL, s, 3, &n), RECUR_ERR_ARG);
    assert_msg_has("4 sequences do not fit in cap 3");
    assert_int_equal(recur_lines_find(c, &(recur_lines_opts){.max_steps = -1}, s, 8, &n), RECUR_ERR_ARG);
    recur_lines_opts bad = {.long_lines = (recur_long_lines)7};
    assert_int_equal(recur_lines_find(c, &bad, s, 8, &n), RECUR_ERR_ARG);
    assert_int_equal(recur_lines_find(NULL, NULL, s, 8, &n), RECUR_ERR_ARG);
    recur_corpus_free(c);

    /* blank lines only */
    c = corpus_of("\n  \n\t\r\n");
    assert_int_equal(recur_lines_find(c, NULL, s, 8, &n), RECUR_ERR_FORMAT);
    assert_msg_has("no line holds a symbol: the text's 3 lines are empty or white space only");
    recur_corpus_free(c);

    /* a column of a TSV; a blank line has no fields to count, a short line is an error */
    c = corpus_of("en1\tfr1\tx\n\ngo\t\tz\nhi\tsalut\nonly\n");
    assert_int_equal(recur_lines_find(c, &(recur_lines_opts){.column = 1}, s, 8, &n), RECUR_OK);
    assert_int_equal(n.seqs, 4);
    assert_seq(s[0], 0, 3, 0, 4, 1);
    assert_seq(s[1], 11, 2, 0, 3, 3);
    assert_seq(s[3], 26, 4, 0, 5, 5);
    assert_int_equal(recur_lines_find(c, &(recur_lines_opts){.column = 2}, s, 8, &n), RECUR_ERR_FORMAT);
    assert_msg_has("line 5 (byte 26) has 1 tab-separated field, fewer than column 2");
    assert_int_equal(recur_lines_find(c, &(recur_lines_opts){.column = 3}, s, 8, &n), RECUR_ERR_FORMAT);
    assert_msg_has("line 4 (byte 17) has 2 tab-separated fields, fewer than column 3");
    recur_corpus_free(c);
    c = corpus_of("en1\tfr1\tx\n\ngo\t\tz\nhi\tsalut\n");
    assert_int_equal(recur_lines_find(c, &(recur_lines_opts){.column = 2}, s, 8, &n), RECUR_OK);
    assert_int_equal(n.seqs, 2); /* "go"'s second field is empty: left out */
    assert_int_equal(n.blank, 2);
    assert_seq(s[0], 4, 3, 0, 4, 1);
    assert_seq(s[1], 20, 5, 0, 6, 4);
    recur_corpus_free(c);
}

/*
 * A batch of lines: the end-of-line symbol first and last, the pieces of a
 * split line, a column of padding, the lengths; bad indices and sequences
 * longer than the batch refused naming the column.
 */
static void test_lines_batch(void **state)
{
    (void)state;
    /* ids: TAB 0, LF 1 (the end of line), a 2, b 3, c 4, d 5, e 6; the third line is blank */
    recur_corpus *c = corpus_of("ab\ncde\n\t\n");
    recur_line_seq s[4];
    recur_lines_count n;
    assert_int_equal(recur_lines_find(c, &(recur_lines_opts){.max_steps = 3}, s, 4, &n), RECUR_OK);
    assert_int_equal(n.seqs, 3);
    enum { T = 3, B = 4 };
    float x[T * B], y[T * B], len[B];
    assert_int_equal(recur_lines_batch(c, s, 3, (int64_t[]){1, 2, -1, 0}, B, T, x, y, len), RECUR_OK);
    const float want_x[T * B] = {1, 6, 0, 1, /**/ 4, 0, 0, 2, /**/ 5, 0, 0, 3};
    const float want_y[T * B] = {4, 1, 0, 2, /**/ 5, 0, 0, 3, /**/ 6, 0, 0, 1};
    const float want_len[B] = {3, 1, 1, 3};
    assert_floats(x, want_x, T * B);
    assert_floats(y, want_y, T * B);
    assert_floats(len, want_len, B);
    /* padded to more steps: the same values, then padding */
    float x5[5 * B], y5[5 * B];
    assert_int_equal(recur_lines_batch(c, s, 3, (int64_t[]){1, 2, -1, 0}, B, 5, x5, y5, len), RECUR_OK);
    assert_floats(x5, want_x, T * B);
    assert_floats(y5, want_y, T * B);
    for (int i = T * B; i < 5 * B; i++) assert_true(x5[i] == 0 && y5[i] == 0);

    assert_int_equal(recur_lines_batch(c, s, 3, (int64_t[]){0, 3, 0, 0}, B, T, x, y, len), RECUR_ERR_ARG);
    assert_msg_has("column 1: sequence 3 is outside [-1, 3)");
    assert_int_equal(recur_lines_batch(c, s, 3, (int64_t[]){0, 1, 2, -2}, B, T, x, y, len), RECUR_ERR_ARG);
    assert_msg_has("column 3: sequence -2");
    assert_int_equal(recur_lines_batch(c, s, 3, (int64_t[]){2, 1, 2, 2}, B, 2, x, y, len), RECUR_ERR_ARG);
    assert_msg_has("column 1: sequence 1 (line 2: steps 3");
    recur_line_seq bad = {.start = 7, .len = 3, .steps = 4, .line = 9}; /* past the corpus's end */
    assert_int_equal(recur_lines_batch(c, &bad, 1, (int64_t[]){0}, 1, 4, x, y, len), RECUR_ERR_ARG);
    assert_msg_has("does not fit 4 steps of a corpus of 9 symbols");
    assert_int_equal(recur_lines_batch(c, s, 3, (int64_t[]){0}, 0, T, x, y, len), RECUR_ERR_ARG);
    recur_corpus_free(c);
    c = corpus_of("abc"); /* one line, no newline: nothing to end it with */
    assert_int_equal(recur_lines_find(c, NULL, s, 4, &n), RECUR_OK);
    assert_seq(s[0], 0, 3, 0, 4, 1);
    assert_int_equal(recur_lines_batch(c, s, 1, (int64_t[]){0}, 1, 4, x, y, len), RECUR_ERR_ARG);
    assert_msg_has("no newline");
    recur_corpus_free(c);
}

static void test_data_path(void **state)
{
    (void)state;
    const char *old = getenv("RECUR_DATA");
    char *saved = old ? strdup(old) : NULL;
    write_file("here.txt", "x");
    setenv("RECUR_DATA", tmpdir, 1);
    char buf[512];
    assert_int_equal(recur_data_path("here.txt", buf, sizeof buf), RECUR_OK);
    char want[512];
    snprintf(want, sizeof want, "%s/here.txt", tmpdir);
    assert_string_equal(buf, want);
    assert_int_equal(recur_data_path("absent.txt", buf, sizeof buf), RECUR_ERR_IO);
    assert_msg_has("\"absent.txt\" not found");
    assert_msg_has(tmpdir);
    assert_int_equal(recur_data_path("here.txt", buf, 8), RECUR_ERR_ARG);
    /* Every message names the thing and the reason. */
    assert_int_equal(recur_data_path("", buf, sizeof buf), RECUR_ERR_ARG);
    assert_msg_has("data_path: the data set's file name is empty");
    assert_int_equal(recur_data_path("here.txt", NULL, 0), RECUR_ERR_ARG);
    assert_msg_has("no buffer for the path of \"here.txt\"");
    if (saved) setenv("RECUR_DATA", saved, 1);
    else unsetenv("RECUR_DATA");
    free(saved);
}

/* -------------------------------------------------------- real data sets */

/*
 * Path of a real data set: recur_data_path, else ../shared/data beside the
 * source tree (tests run inside the build directory). Skips when absent.
 */
static const char *real_data(const char *name)
{
    static char buf[1024];
    if (recur_data_path(name, buf, sizeof buf) == RECUR_OK) return buf;
    const char *tests = getenv("RECUR_TEST_DATA"); /* <source>/tests/data */
    if (tests) {
        snprintf(buf, sizeof buf, "%s/../../../shared/data/%s", tests, name);
        if (access(buf, R_OK) == 0) return buf;
    }
    print_message("%s: skipped\n", recur_data_errmsg());
    skip();
    return NULL;
}

static void test_real_sunspots(void **state)
{
    (void)state;
    const char *path = real_data("sunspots_yearly.csv");
    recur_series *year = recur_series_load_csv(path, "YEAR", NULL);
    recur_series *sun = recur_series_load_csv(path, "SUNACTIVITY", NULL);
    if (!year || !sun) fail_msg("%s", recur_data_errmsg());
    assert_int_equal(recur_series_len(year), 309);
    assert_int_equal(recur_series_len(sun), 309);
    assert_true(recur_series_data(year)[0] == 1700 && recur_series_data(year)[308] == 2008);
    assert_true(recur_series_data(sun)[0] == 5 && recur_series_data(sun)[1] == 11);
    assert_true(fabsf(recur_series_data(sun)[308] - 2.9f) < 1e-6f);
    assert_int_equal(recur_series_missing(sun), 0);
    recur_series_free(year);
    recur_series_free(sun);
}

static void test_real_co2(void **state)
{
    (void)state;
    const char *path = real_data("co2_weekly.csv");
    recur_series *s = recur_series_load_csv(path, "co2", NULL);
    if (!s) fail_msg("%s", recur_data_errmsg());
    int64_t missing = recur_series_missing(s);
    assert_true(missing > 0);
    assert_int_equal(recur_series_len(s) + missing, 2284);
    assert_true(fabsf(recur_series_data(s)[0] - 316.1f) < 1e-4f);
    recur_series_free(s);
    assert_null(recur_series_load_csv(path, "co2", &(recur_csv_opts){.missing = RECUR_MISSING_ERROR}));
    assert_msg_has(":8:"); /* 19580510 is the first missing week */
    s = recur_series_load_csv(path, "co2", &(recur_csv_opts){.missing = RECUR_MISSING_INTERPOLATE});
    assert_non_null(s);
    assert_true(recur_series_len(s) > 2200 && recur_series_len(s) <= 2284);
    recur_series_free(s);
}

static void test_real_sherlock(void **state)
{
    (void)state;
    const char *path = real_data("sherlock_adventures.txt");
    recur_corpus *c = recur_corpus_load(path);
    if (!c) fail_msg("%s", recur_data_errmsg());
    assert_int_equal(recur_corpus_vocab_size(c), 84);
    assert_int_equal(recur_corpus_symbol(c, 0), '\n');
    /* Decoding every id gives back the file, byte for byte. */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char file[600000], text[600000];
    size_t len = fread(file, 1, sizeof file - 1, f);
    fclose(f);
    file[len] = 0;
    assert_true(len > 500000 && len < sizeof file - 1);
    assert_int_equal(recur_corpus_decode(c, recur_corpus_ids(c), recur_corpus_len(c), text, sizeof text), RECUR_OK);
    assert_int_equal(strlen(text), len);
    assert_memory_equal(text, file, len);
    assert_true(recur_corpus_len(c) < (int64_t)len); /* some symbols take several bytes */
    /* The seed setup: 40-symbol windows, stride 3, the next symbol as target. */
    int64_t nw = recur_corpus_window_count(c, 40, 3);
    assert_int_equal(nw, (recur_corpus_len(c) - 41) / 3 + 1);
    float x[40 * 2], y[2];
    assert_int_equal(recur_corpus_batch(c, 40, 3, (int64_t[]){nw - 1, 0}, 2, x, NULL, y), RECUR_OK);
    assert_true(y[0] == (float)recur_corpus_ids(c)[(nw - 1) * 3 + 40]);
    recur_corpus_free(c);
}

static void test_real_shakespeare(void **state)
{
    (void)state;
    recur_corpus *c = recur_corpus_load(real_data("tinyshakespeare.txt"));
    if (!c) fail_msg("%s", recur_data_errmsg());
    assert_int_equal(recur_corpus_vocab_size(c), 65);
    char buf[16];
    assert_int_equal(recur_corpus_decode(c, recur_corpus_ids(c), 14, buf, sizeof buf), RECUR_OK);
    assert_string_equal(buf, "First Citizen:");
    recur_corpus_free(c);
}

static void test_real_tatoeba(void **state)
{
    (void)state;
    recur_pairs *p = recur_pairs_load(real_data("eng_fra_tatoeba.tsv"), NULL);
    if (!p) fail_msg("%s", recur_data_errmsg());
    assert_int_equal(recur_pairs_count(p), 5000);
    assert_int_equal(recur_pairs_skipped(p), 0);
    char buf[128];
    int64_t n;
    const int64_t *ids = recur_pairs_ids(p, 0, RECUR_SOURCE, &n);
    assert_int_equal(recur_pairs_decode(p, RECUR_SOURCE, ids, n, buf, sizeof buf), RECUR_OK);
    assert_string_equal(buf, "go .");
    ids = recur_pairs_ids(p, 0, RECUR_TARGET, &n);
    assert_int_equal(recur_pairs_decode(p, RECUR_TARGET, ids, n, buf, sizeof buf), RECUR_OK);
    assert_string_equal(buf, "va !");
    assert_non_null(strstr(recur_pairs_attribution(p, 0), "tatoeba.org"));
    assert_true(recur_pairs_vocab_size(p, RECUR_SOURCE) > 500);
    assert_true(recur_pairs_vocab_size(p, RECUR_TARGET) > recur_pairs_vocab_size(p, RECUR_SOURCE));
    recur_pair_batches *bb = recur_pair_batches_new(p, NULL, 0, 64, 1, NULL);
    assert_non_null(bb);
    assert_int_equal(recur_pair_batches_count(bb), (5000 + 63) / 64);
    recur_pair_batches_free(bb);
    recur_pairs_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_columns_and_missing),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_csv_no_silent_misreads),
        cmocka_unit_test(test_read_refuses_special_files),
        cmocka_unit_test(test_windows_exact),
        cmocka_unit_test(test_normalisation_round_trip),
        cmocka_unit_test(test_series_split),
        cmocka_unit_test(test_shuffle_seeded_permutation),
        cmocka_unit_test(test_corpus_utf8_vocab),
        cmocka_unit_test(test_corpus_vocab_every_plane),
        cmocka_unit_test(test_corpus_windows_batches),
        cmocka_unit_test(test_tokenize),
        cmocka_unit_test(test_pairs_vocab_and_encoding),
        cmocka_unit_test(test_pairs_nul_byte),
        cmocka_unit_test(test_pair_batches_padding),
        cmocka_unit_test(test_pair_batches_cover_and_bucket),
        cmocka_unit_test(test_lines_find),
        cmocka_unit_test(test_lines_batch),
        cmocka_unit_test(test_data_path),
        cmocka_unit_test(test_real_sunspots),
        cmocka_unit_test(test_real_co2),
        cmocka_unit_test(test_real_sherlock),
        cmocka_unit_test(test_real_shakespeare),
        cmocka_unit_test(test_real_tatoeba),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
