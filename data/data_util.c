/*
 * data/data_util.c — the common part of recur's data feeding: the
 * thread's error message, finding data sets, reading files, UTF-8, and
 * seeded shuffling.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    if (!name || !*name)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "data_path: the data set's file name is %s",
                               name ? "empty" : "NULL");
    if (!buf || len == 0)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "data_path: no buffer for the path of \"%s\" (%s)",
                               name, buf ? "its length is 0" : "NULL");
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

/* What kind of file a mode that is not a regular file's names. */
static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

/*
 * Reads a regular file of at most RECUR_DATA_MAX_BYTES bytes. The file is
 * opened without blocking (opening a FIFO would wait for a writer), then
 * refused unless fstat says it is a regular file: a FIFO, a device such as
 * /dev/zero (endless) or a directory never reaches read(). A file that
 * grows past the limit while it is read is refused too.
 */
recur_status recur_data_read_file(const char *what, const char *path, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    recur_error *e = recur_thread_error();
    if (!path) return recur_error_set(e, RECUR_ERR_ARG, "%s: no file name (NULL)", what);
    if (!*path) return recur_error_set(e, RECUR_ERR_ARG, "%s: the file name is empty", what);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return recur_error_set(e, RECUR_ERR_IO, "%s: cannot open %s: %s", what, path, strerror(errno));
    struct stat sb;
    recur_status st = RECUR_OK;
    if (fstat(fd, &sb) != 0)
        st = recur_error_set(e, RECUR_ERR_IO, "%s: cannot stat %s: %s", what, path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        st = recur_error_set(e, RECUR_ERR_IO, "%s: %s is %s; data is read from regular files only", what, path,
                             file_kind(sb.st_mode));
    else if ((uint64_t)sb.st_size > RECUR_DATA_MAX_BYTES)
        st = recur_error_set(e, RECUR_ERR_IO, "%s: %s holds %lld bytes, more than the %lld a data file may hold", what,
                             path, (long long)sb.st_size, (long long)RECUR_DATA_MAX_BYTES);
    int flags = st == RECUR_OK ? fcntl(fd, F_GETFL) : -1;
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    /* Room for the size fstat gave, growing if the file grows, never past the limit. */
    size_t cap = st == RECUR_OK ? (size_t)sb.st_size + 1 : 1, n = 0;
    char *buf = NULL;
    if (st == RECUR_OK && !(buf = malloc(cap)))
        st = recur_error_set(e, RECUR_ERR_NOMEM, "%s: out of memory for the %zu bytes of %s", what, cap - 1, path);
    while (st == RECUR_OK) {
        if (n == cap - 1) {
            if (n >= RECUR_DATA_MAX_BYTES) {
                st = recur_error_set(e, RECUR_ERR_IO, "%s: %s grew past %lld bytes (the most a data file may hold) "
                                     "while it was read", what, path, (long long)RECUR_DATA_MAX_BYTES);
                break;
            }
            size_t more = cap < ((size_t)1 << 16) ? ((size_t)1 << 16) : cap;
            if (more > RECUR_DATA_MAX_BYTES + 1 - cap) more = RECUR_DATA_MAX_BYTES + 1 - cap;
            char *bigger = realloc(buf, cap + more);
            if (!bigger) {
                st = recur_error_set(e, RECUR_ERR_NOMEM, "%s: out of memory reading %s (%zu bytes so far)", what, path, n);
                break;
            }
            buf = bigger;
            cap += more;
        }
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) st = recur_error_set(e, RECUR_ERR_IO, "%s: error reading %s at byte %zu: %s", what, path, n, strerror(errno));
        if (k <= 0) break;
        n += (size_t)k;
    }
    close(fd);
    if (st != RECUR_OK) {
        free(buf);
        return st;
    }
    buf[n] = 0;
    *text = buf;
    *len = n;
    return RECUR_OK;
}

size_t recur_nul_byte(const char *text, size_t len)
{
    const char *z = memchr(text, 0, len);
    return z ? (size_t)(z - text) : len;
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
