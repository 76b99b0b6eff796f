/*
 * data/data_util.c — the common part of recur's data feeding: the
 * thread's error message, finding data sets, reading files, UTF-8, and
 * seeded shuffling.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data_util.h"

/* ----------------------------------------------------------------- errors */

/* Data calls have no object to keep an error: they record it on the calling thread (graph/error.h). */
const char *recur_data_errmsg(void) { return recur_error_msg(recur_thread_error(), ""); }

recur_status recur_data_errcode(void) { return recur_error_code(recur_thread_error()); }

/* ------------------------------------------------------------ data files */

/* Writes dir/name into buf; 1 if it fits and the file is readable. */
static int try_path(const char *dir, const char *name, char *buf, size_t len, int *too_long)
{
    int k = snprintf(buf, len, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= len) {
        *too_long = 1;
        return 0;
    }
    return access(buf, R_OK) == 0;
}

recur_status recur_data_path(const char *name, char *buf, size_t len)
{
    if (!name || !*name || !buf || len == 0)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "data_path: needs a file name and a buffer");
    const char *env = getenv("RECUR_DATA");
    const char *fallback = "../shared/data";
    int too_long = 0;
    if (env && *env && try_path(env, name, buf, len, &too_long)) return RECUR_OK;
    if (try_path(fallback, name, buf, len, &too_long)) return RECUR_OK;
    buf[0] = 0;
    if (too_long)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "data_path: a path to \"%s\" does not fit in %zu bytes", name, len);
    if (env && *env)
        return recur_error_set(recur_thread_error(), RECUR_ERR_IO, "data_path: data file \"%s\" not found: tried %s/%s (RECUR_DATA) and %s/%s",
                               name, env, name, fallback, name);
    return recur_error_set(recur_thread_error(), RECUR_ERR_IO,
                           "data_path: data file \"%s\" not found: RECUR_DATA is not set and %s/%s is not readable",
                           name, fallback, name);
}

recur_status recur_data_read_file(const char *what, const char *path, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    if (!path) return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "%s: no file name (NULL)", what);
    FILE *f = fopen(path, "rb");
    if (!f) return recur_error_set(recur_thread_error(), RECUR_ERR_IO, "%s: cannot open %s: %s", what, path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "%s: out of memory reading %s", what, path);
    if (bad) {
        free(buf);
        return recur_error_set(recur_thread_error(), RECUR_ERR_IO, "%s: error reading %s", what, path);
    }
    buf[n] = 0;
    *text = buf;
    *len = n;
    return RECUR_OK;
}

/* ------------------------------------------------------------------ UTF-8 */

size_t recur_utf8_bom(const char *text, size_t len)
{
    return len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

/*
 * UTF-8: 0xxxxxxx (U+0000-007F), 110xxxxx 10xxxxxx (U+0080-07FF),
 * 1110xxxx 10xxxxxx*2 (U+0800-FFFF, not the surrogates D800-DFFF),
 * 11110xxx 10xxxxxx*3 (U+10000-10FFFF); the shortest form only.
 */
int recur_utf8_decode(const char *s, size_t len, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned char c = u[0];
    int n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < (size_t)n) return 0;
    for (int k = 1; k < n; k++) {
        if ((u[k] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (u[k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return n;
}

int recur_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int64_t recur_line_of(const char *text, size_t at)
{
    int64_t line = 1;
    for (size_t i = 0; i < at; i++) line += text[i] == '\n';
    return line;
}

/* -------------------------------------------------------------- shuffling */

/*
 * r mod n is unbiased once the draws below 2^64 mod n are rejected: what
 * remains is a whole number of copies of [0, n).
 */
static uint64_t rng_below(recur_rng *r, uint64_t n)
{
    uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
    for (;;) {
        uint64_t x = recur_rng_next(r);
        if (x >= threshold) return x % n;
    }
}

void recur_rng_shuffle(recur_rng *r, int64_t *idx, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(r, (uint64_t)i + 1);
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

recur_status recur_shuffle(int64_t *idx, int64_t n, uint64_t seed)
{
    if (n < 0 || (n > 0 && !idx)) return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "shuffle: bad array (n = %lld)", (long long)n);
    recur_rng r;
    recur_rng_seed(&r, seed);
    recur_rng_shuffle(&r, idx, n);
    return RECUR_OK;
}

recur_status recur_permutation(int64_t *perm, int64_t n, uint64_t seed)
{
    if (n < 0 || (n > 0 && !perm))
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "permutation: bad array (n = %lld)", (long long)n);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    return recur_shuffle(perm, n, seed);
}
