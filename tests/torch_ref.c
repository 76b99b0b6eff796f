/* torch_ref.c - reader for the PyTorch reference files (see torch_ref.h). */
#include "torch_ref.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TREF_MAX_DIMS 4
#define TREF_MAGIC "# recur torch reference v1"

typedef struct {
    char *name;
    int ndim;
    int64_t dims[TREF_MAX_DIMS];
    int64_t count; /* number of elements */
    int64_t filled; /* values read so far */
    double *d;
    float *f;
} tref_tensor;

typedef struct {
    char *key;
    char *val;
} tref_meta;

struct torch_ref {
    tref_tensor *tensors;
    size_t ntensors, cap_tensors;
    tref_meta *meta;
    size_t nmeta, cap_meta;
};

/* ---- small helpers ------------------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Splits off the next whitespace-separated token of *cursor, NUL-terminating it in place.
 * Returns NULL when the line has no more tokens. */
static char *next_token(char **cursor)
{
    char *p = *cursor;
    while (*p != '\0' && is_space(*p))
        p++;
    if (*p == '\0') {
        *cursor = p;
        return NULL;
    }
    char *start = p;
    while (*p != '\0' && !is_space(*p))
        p++;
    if (*p != '\0')
        *p++ = '\0';
    *cursor = p;
    return start;
}

/* Parses a whole token as a non-negative decimal integer; -1 if it is not one or too big. */
static int64_t parse_count(const char *s)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0)
        return -1;
    return (int64_t)v;
}

static tref_tensor *find_tensor(const torch_ref *r, const char *name)
{
    if (r == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < r->ntensors; i++)
        if (strcmp(r->tensors[i].name, name) == 0)
            return &r->tensors[i];
    return NULL;
}

static const tref_meta *find_meta(const torch_ref *r, const char *key)
{
    if (r == NULL || key == NULL)
        return NULL;
    /* a key given twice: the last one wins */
    for (size_t i = r->nmeta; i > 0; i--)
        if (strcmp(r->meta[i - 1].key, key) == 0)
            return &r->meta[i - 1];
    return NULL;
}

/* ---- reading the file ---------------------------------------------------------------- */

/* Reads the whole file into a NUL-terminated buffer; *len receives its length. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        fclose(fp);
        set_err(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > SIZE_MAX / 2) {
                free(buf);
                fclose(fp);
                set_err(err, errlen, "%s: file too large", path);
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                fclose(fp);
                set_err(err, errlen, "%s: out of memory", path);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, fp);
        n += got;
        if (got == 0)
            break;
    }
    int failed = ferror(fp);
    fclose(fp);
    if (failed) {
        free(buf);
        set_err(err, errlen, "%s: read error", path);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int add_meta(torch_ref *r, const char *key, const char *val)
{
    if (r->nmeta == r->cap_meta) {
        size_t cap = r->cap_meta ? 2 * r->cap_meta : 8;
        tref_meta *nm = realloc(r->meta, cap * sizeof *nm);
        if (nm == NULL)
            return -1;
        r->meta = nm;
        r->cap_meta = cap;
    }
    char *k = dup_str(key), *v = dup_str(val);
    if (k == NULL || v == NULL) {
        free(k);
        free(v);
        return -1;
    }
    r->meta[r->nmeta].key = k;
    r->meta[r->nmeta].val = v;
    r->nmeta++;
    return 0;
}

/* Appends a tensor with room for count values; returns it, or NULL when out of memory. */
static tref_tensor *add_tensor(torch_ref *r, const char *name, int ndim, const int64_t *dims,
                               int64_t count)
{
    if (r->ntensors == r->cap_tensors) {
        size_t cap = r->cap_tensors ? 2 * r->cap_tensors : 16;
        tref_tensor *nt = realloc(r->tensors, cap * sizeof *nt);
        if (nt == NULL)
            return NULL;
        r->tensors = nt;
        r->cap_tensors = cap;
    }
    tref_tensor t;
    memset(&t, 0, sizeof t);
    t.name = dup_str(name);
    t.d = malloc((size_t)count * sizeof *t.d);
    t.f = malloc((size_t)count * sizeof *t.f);
    if (t.name == NULL || t.d == NULL || t.f == NULL) {
        free(t.name);
        free(t.d);
        free(t.f);
        return NULL;
    }
    t.ndim = ndim;
    for (int i = 0; i < TREF_MAX_DIMS; i++)
        t.dims[i] = i < ndim ? dims[i] : 1;
    t.count = count;
    t.filled = 0;
    r->tensors[r->ntensors] = t;
    return &r->tensors[r->ntensors++];
}

/* Parses a "meta key=value ..." line (cursor just after "meta"). */
static int parse_meta_line(torch_ref *r, char *cursor, const char *path, int line, char *err,
                           size_t errlen)
{
    char *tok;
    while ((tok = next_token(&cursor)) != NULL) {
        char *eq = strchr(tok, '=');
        if (eq == NULL || eq == tok) {
            set_err(err, errlen, "%s:%d: meta entry '%s' is not key=value", path, line, tok);
            return -1;
        }
        *eq = '\0';
        if (add_meta(r, tok, eq + 1) != 0) {
            set_err(err, errlen, "%s:%d: out of memory", path, line);
            return -1;
        }
    }
    return 0;
}

/* Parses a "tensor <name> <ndim> <d0> ..." header (cursor just after "tensor"). The file's
 * length bounds the element count, so a corrupt header cannot ask for a huge allocation. */
static tref_tensor *parse_tensor_header(torch_ref *r, char *cursor, size_t file_len,
                                        const char *path, int line, char *err, size_t errlen)
{
    char *name = next_token(&cursor);
    char *nd = next_token(&cursor);
    if (name == NULL || nd == NULL) {
        set_err(err, errlen, "%s:%d: tensor header needs a name and a rank", path, line);
        return NULL;
    }
    if (find_tensor(r, name) != NULL) {
        set_err(err, errlen, "%s:%d: tensor '%s' given twice", path, line, name);
        return NULL;
    }
    int64_t ndim = parse_count(nd);
    if (ndim < 1 || ndim > TREF_MAX_DIMS) {
        set_err(err, errlen, "%s:%d: tensor '%s': rank '%s' is not in 1..%d", path, line, name,
                nd, TREF_MAX_DIMS);
        return NULL;
    }
    int64_t dims[TREF_MAX_DIMS];
    int64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        char *tok = next_token(&cursor);
        int64_t d = tok != NULL ? parse_count(tok) : -1;
        if (d < 1) {
            set_err(err, errlen, "%s:%d: tensor '%s': dimension %d is missing or not a positive "
                    "integer", path, line, name, i);
            return NULL;
        }
        /* every value takes at least two characters of the file */
        if (d > (int64_t)file_len || count > (int64_t)file_len / d) {
            set_err(err, errlen, "%s:%d: tensor '%s': more elements than the file can hold",
                    path, line, name);
            return NULL;
        }
        dims[i] = d;
        count *= d;
    }
    if (next_token(&cursor) != NULL) {
        set_err(err, errlen, "%s:%d: tensor '%s': more dimensions than its rank %d", path, line,
                name, (int)ndim);
        return NULL;
    }
    tref_tensor *t = add_tensor(r, name, (int)ndim, dims, count);
    if (t == NULL)
        set_err(err, errlen, "%s:%d: out of memory", path, line);
    return t;
}

/* Parses one line of values into t. */
static int parse_values_line(tref_tensor *t, char *cursor, const char *path, int line, char *err,
                             size_t errlen)
{
    char *tok;
    while ((tok = next_token(&cursor)) != NULL) {
        if (t->filled == t->count) {
            set_err(err, errlen, "%s:%d: tensor '%s': more than %lld values", path, line,
                    t->name, (long long)t->count);
            return -1;
        }
        char *end;
        errno = 0;
        double v = strtod(tok, &end);
        if (end == tok || *end != '\0') {
            set_err(err, errlen, "%s:%d: tensor '%s': '%s' is not a number (%lld of %lld "
                    "values read)", path, line, t->name, tok, (long long)t->filled,
                    (long long)t->count);
            return -1;
        }
        /* ERANGE on underflow is fine (v is then a denormal or zero); overflow gives inf,
         * which the generator never writes. */
        if (errno == ERANGE && (v > 1.0 || v < -1.0)) {
            set_err(err, errlen, "%s:%d: tensor '%s': '%s' is out of range", path, line,
                    t->name, tok);
            return -1;
        }
        t->d[t->filled] = v;
        t->f[t->filled] = (float)v;
        t->filled++;
    }
    return 0;
}

torch_ref *torch_ref_load(const char *path, char *err, size_t errlen)
{
    set_err(err, errlen, "no error");
    if (path == NULL) {
        set_err(err, errlen, "torch_ref_load: path is NULL");
        return NULL;
    }
    size_t len = 0;
    char *buf = read_file(path, &len, err, errlen);
    if (buf == NULL)
        return NULL;
    if (strlen(buf) != len) {
        set_err(err, errlen, "%s: contains a NUL byte (not a text file)", path);
        free(buf);
        return NULL;
    }
    size_t magic_len = strlen(TREF_MAGIC);
    if (strncmp(buf, TREF_MAGIC, magic_len) != 0
        || (buf[magic_len] != ':' && buf[magic_len] != '\0' && !is_space(buf[magic_len])
            && buf[magic_len] != '\n')) {
        set_err(err, errlen, "%s:1: not a recur torch reference file (expected '%s')", path,
                TREF_MAGIC);
        free(buf);
        return NULL;
    }

    torch_ref *r = calloc(1, sizeof *r);
    if (r == NULL) {
        set_err(err, errlen, "%s: out of memory", path);
        free(buf);
        return NULL;
    }

    tref_tensor *cur = NULL; /* tensor still waiting for values */
    int line = 0;
    char *p = buf;
    int ok = 1;
    while (ok && *p != '\0') {
        char *text = p;
        char *nl = strchr(p, '\n');
        if (nl != NULL) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p += strlen(p);
        }
        line++;

        char *cursor = text;
        while (is_space(*cursor))
            cursor++;
        if (*cursor == '\0' || *cursor == '#')
            continue;

        if (cur != NULL && cur->filled < cur->count) {
            ok = parse_values_line(cur, cursor, path, line, err, errlen) == 0;
            continue;
        }
        char *kw = next_token(&cursor);
        if (kw == NULL) /* cannot happen: the line is not blank */
            continue;
        if (strcmp(kw, "meta") == 0) {
            ok = parse_meta_line(r, cursor, path, line, err, errlen) == 0;
        } else if (strcmp(kw, "tensor") == 0) {
            cur = parse_tensor_header(r, cursor, len, path, line, err, errlen);
            ok = cur != NULL;
        } else if (cur != NULL && strchr("+-.0123456789", kw[0]) != NULL) {
            set_err(err, errlen, "%s:%d: tensor '%s': more than %lld values", path, line,
                    cur->name, (long long)cur->count);
            ok = 0;
        } else {
            set_err(err, errlen, "%s:%d: unexpected '%s' (expected 'meta' or 'tensor')", path,
                    line, kw);
            ok = 0;
        }
    }
    if (ok && cur != NULL && cur->filled < cur->count) {
        set_err(err, errlen, "%s: tensor '%s': file ends after %lld of %lld values", path,
                cur->name, (long long)cur->filled, (long long)cur->count);
        ok = 0;
    }
    free(buf);
    if (!ok) {
        torch_ref_free(r);
        return NULL;
    }
    set_err(err, errlen, "ok");
    return r;
}

/* ---- queries ------------------------------------------------------------------------- */

static const tref_tensor *lookup(const torch_ref *r, const char *name, int *ndim,
                                 int64_t dims[4])
{
    const tref_tensor *t = find_tensor(r, name);
    if (t == NULL)
        return NULL;
    if (ndim != NULL)
        *ndim = t->ndim;
    if (dims != NULL)
        for (int i = 0; i < TREF_MAX_DIMS; i++)
            dims[i] = t->dims[i];
    return t;
}

const float *torch_ref_get(const torch_ref *r, const char *name, int *ndim, int64_t dims[4])
{
    const tref_tensor *t = lookup(r, name, ndim, dims);
    return t != NULL ? t->f : NULL;
}

const double *torch_ref_get_double(const torch_ref *r, const char *name, int *ndim,
                                   int64_t dims[4])
{
    const tref_tensor *t = lookup(r, name, ndim, dims);
    return t != NULL ? t->d : NULL;
}

int64_t torch_ref_numel(const torch_ref *r, const char *name)
{
    const tref_tensor *t = find_tensor(r, name);
    return t != NULL ? t->count : 0;
}

int torch_ref_meta_int(const torch_ref *r, const char *key, int dflt)
{
    const tref_meta *m = find_meta(r, key);
    if (m == NULL || m->val[0] == '\0')
        return dflt;
    char *end;
    errno = 0;
    long v = strtol(m->val, &end, 10);
    if (errno != 0 || *end != '\0' || v < INT_MIN || v > INT_MAX)
        return dflt;
    return (int)v;
}

const char *torch_ref_meta_str(const torch_ref *r, const char *key)
{
    const tref_meta *m = find_meta(r, key);
    return m != NULL ? m->val : NULL;
}

void torch_ref_free(torch_ref *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->ntensors; i++) {
        free(r->tensors[i].name);
        free(r->tensors[i].d);
        free(r->tensors[i].f);
    }
    free(r->tensors);
    for (size_t i = 0; i < r->nmeta; i++) {
        free(r->meta[i].key);
        free(r->meta[i].val);
    }
    free(r->meta);
    free(r);
}
