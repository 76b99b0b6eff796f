/*
 * data/series.c — numeric series: one CSV column loaded as floats,
 * missing values, normalisation and its inverse, sliding windows for a
 * dense or a recurrent net, and the train/test split by position.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data_util.h"

struct recur_series {
    int64_t n;
    float *v;
    int64_t *line; /* source line of each value (0: not from a file) */
    int64_t n_missing;
};

static recur_series *series_alloc(int64_t n)
{
    recur_series *s = calloc(1, sizeof *s);
    if (s) {
        s->n = n;
        s->v = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
        s->line = calloc((size_t)(n > 0 ? n : 1), sizeof(int64_t));
    }
    if (!s || !s->v || !s->line) {
        recur_series_free(s);
        recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "series: out of memory for %lld values", (long long)n);
        return NULL;
    }
    return s;
}

void recur_series_free(recur_series *s)
{
    if (!s) return;
    free(s->v);
    free(s->line);
    free(s);
}

recur_series *recur_series_new(const float *v, int64_t n)
{
    if (!v || n < 1) {
        recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "series_new: needs values (got %lld)", (long long)n);
        return NULL;
    }
    recur_series *s = series_alloc(n);
    if (s) memcpy(s->v, v, sizeof(float) * (size_t)n);
    return s;
}

int64_t recur_series_len(const recur_series *s) { return s ? s->n : 0; }

float *recur_series_data(recur_series *s) { return s ? s->v : NULL; }

int64_t recur_series_line(const recur_series *s, int64_t i) { return s && i >= 0 && i < s->n ? s->line[i] : 0; }

int64_t recur_series_missing(const recur_series *s) { return s ? s->n_missing : 0; }

/* ------------------------------------------------------------- CSV lines */

/* split_fields' failures. */
enum { UNTERMINATED_QUOTE = -1, TEXT_AFTER_QUOTE = -2 };

/*
 * Splits a line (modified in place) into fields separated by delim. A field
 * may be enclosed in double quotes, with "" standing for one quote inside;
 * spaces around a field are dropped. Returns the number of fields (at most
 * cap are stored), or UNTERMINATED_QUOTE, or TEXT_AFTER_QUOTE for anything
 * but spaces between a closing quote and the delimiter ("2"x), with the
 * 0-based index of that field in *bad.
 */
static int split_fields(char *line, char delim, char **field, int cap, int *bad)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        char *start = p, *out = p;
        if (*p == '"') {
            start = out = ++p;
            for (;;) {
                if (!*p) return -1;
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *out++ = *p++;
                }
            }
            while ((*p == ' ' || *p == '\t') && *p != delim) p++;
            if (*p && *p != delim) {
                *bad = n;
                return TEXT_AFTER_QUOTE;
            }
        } else {
            while (*p && *p != delim) p++;
            out = p;
            while (out > start && (out[-1] == ' ' || out[-1] == '\t')) out--;
        }
        char next = *p;
        *out = 0;
        if (n < cap) field[n] = start;
        n++;
        if (!next) return n;
        p++;
    }
}

static int is_missing(const char *f)
{
    return !*f || !strcasecmp(f, "na") || !strcasecmp(f, "n/a") || !strcasecmp(f, "nan") || !strcasecmp(f, "null");
}

/* Parses a whole field as a number; 0 if it is none, -1 if it is beyond float32's finite range (1e39). */
static int parse_number(const char *f, double *out)
{
    char *end;
    double v = strtod(f, &end);
    if (end == f || *end || !isfinite(v)) return 0;
    if (fabs(v) > FLT_MAX) return -1;
    *out = v;
    return 1;
}

/* The rows of one column while loading: value (NAN when missing) and line. */
typedef struct column_rows {
    int64_t n, cap;
    double *v;
    int64_t *line;
} column_rows;

static int rows_push(column_rows *r, double v, int64_t line)
{
    if (r->n == r->cap) {
        int64_t cap = r->cap ? r->cap * 2 : 256;
        double *nv = realloc(r->v, sizeof(double) * (size_t)cap);
        if (!nv) return 0;
        r->v = nv;
        int64_t *nl = realloc(r->line, sizeof(int64_t) * (size_t)cap);
        if (!nl) return 0;
        r->line = nl;
        r->cap = cap;
    }
    r->v[r->n] = v;
    r->line[r->n] = line;
    r->n++;
    return 1;
}

/*
 * Interpolates each interior run of missing values between its neighbours
 * a (before) and b (after): the k-th of g missing values is
 * a + (b - a) k / (g + 1). Leading and trailing runs stay missing.
 */
static void interpolate(column_rows *r)
{
    int64_t prev = -1;
    for (int64_t i = 0; i < r->n; i++) {
        if (isnan(r->v[i])) continue;
        if (prev >= 0 && i - prev > 1) {
            double a = r->v[prev], b = r->v[i];
            int64_t g = i - prev - 1;
            for (int64_t k = 1; k <= g; k++) r->v[prev + k] = a + (b - a) * (double)k / (double)(g + 1);
        }
        prev = i;
    }
}

/* Finds the column called name among the header's fields; -1 if absent. */
static int find_column(char **field, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(field[i], name)) return i;
    return -1;
}

/* Counts delim in line: the fields are at most that plus one. */
static int max_fields(const char *line, char delim)
{
    int n = 1;
    for (; *line; line++) n += *line == delim;
    return n;
}

/* Parses the CSV text (modified in place) into rows; the column is resolved from the header. */
static recur_status parse_csv(const char *path, char *text, const char *column, const recur_csv_opts *o,
                              column_rows *rows, int64_t *n_missing)
{
    char delim = o->delimiter ? o->delimiter : ',';
    int col = o->column_index;
    char colname[256] = "";
    char **field = NULL;
    int field_cap = 0, header_done = o->no_header;
    recur_status st = RECUR_OK;
    if (o->no_header && column) {
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "csv %s: column \"%s\" named, but the file has no header", path,
                               column);
    }
    if (col < 0) return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "csv %s: column index %d is negative", path, col);
    char *p = text;
    for (int64_t line = 1; *p && st == RECUR_OK; line++) {
        char *eol = strchr(p, '\n');
        char *next = eol ? eol + 1 : p + strlen(p);
        if (eol) *eol = 0;
        if (eol > p && eol[-1] == '\r') eol[-1] = 0;
        char *s = p;
        p = next;
        while (*s == ' ' || *s == '\t' || *s == '\r') s++;
        if (!*s) continue; /* blank line */
        int need = max_fields(s, delim);
        if (need > field_cap) {
            char **nf = realloc(field, sizeof(char *) * (size_t)need);
            if (!nf) {
                st = recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "csv %s: out of memory", path);
                break;
            }
            field = nf;
            field_cap = need;
        }
        int bad_field = 0, n = split_fields(s, delim, field, field_cap, &bad_field);
        if (n == UNTERMINATED_QUOTE) {
            st = recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "%s:%lld: unterminated quoted field", path, (long long)line);
            break;
        }
        if (n == TEXT_AFTER_QUOTE) {
            st = recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT,
                                 "%s:%lld: field %d: text after the closing quote (only spaces may come before the "
                                 "next delimiter)", path, (long long)line, bad_field + 1);
            break;
        }
        if (!header_done) {
            header_done = 1;
            if (column) {
                col = find_column(field, n, column);
                if (col < 0) {
                    st = recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "%s:%lld: the header has no column \"%s\"", path,
                                         (long long)line, column);
                    break;
                }
            }
            if (col < n) snprintf(colname, sizeof colname, " (\"%s\")", field[col]);
            continue;
        }
        if (col >= n) {
            st = recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "%s:%lld: the row has %d field%s, no column %d%s", path,
                                 (long long)line, n, n == 1 ? "" : "s", col + 1, colname);
            break;
        }
        double v = NAN;
        if (is_missing(field[col])) {
            if (o->missing == RECUR_MISSING_ERROR) {
                st = recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "%s:%lld: column %d%s: missing value", path, (long long)line,
                                     col + 1, colname);
                break;
            }
            ++*n_missing;
            if (o->missing == RECUR_MISSING_SKIP) continue;
        } else {
            int parsed = parse_number(field[col], &v);
            if (parsed <= 0) {
                st = recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "%s:%lld: column %d%s: \"%.64s\" is %s", path,
                                     (long long)line, col + 1, colname, field[col],
                                     parsed < 0 ? "beyond the range of float32 (magnitudes up to 3.4e38)" : "not a number");
                break;
            }
        }
        if (!rows_push(rows, v, line)) st = recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "csv %s: out of memory", path);
    }
    free(field);
    if (st == RECUR_OK && !header_done)
        st = recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "csv %s: the file is empty", path);
    return st;
}

/* Checks the missing-value policy of o; 0 after recording the error. */
static int policy_ok(const char *path, const recur_csv_opts *o)
{
    if (o->missing == RECUR_MISSING_SKIP || o->missing == RECUR_MISSING_ERROR || o->missing == RECUR_MISSING_INTERPOLATE)
        return 1;
    recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "csv %s: unknown missing-value policy %d", path ? path : "(NULL)",
                    (int)o->missing);
    return 0;
}

recur_series *recur_series_load_csv(const char *path, const char *column, const recur_csv_opts *opts)
{
    recur_csv_opts o = opts ? *opts : (recur_csv_opts){0};
    if (!policy_ok(path, &o)) return NULL;
    char *text;
    size_t len;
    if (recur_data_read_file("csv", path, &text, &len) != RECUR_OK) return NULL;
    recur_series *s = recur_series_parse_csv(path, text, len, column, &o);
    free(text);
    return s;
}

recur_series *recur_series_parse_csv(const char *path, char *text, size_t len, const char *column,
                                     const recur_csv_opts *opts)
{
    recur_csv_opts o = opts ? *opts : (recur_csv_opts){0};
    if (!policy_ok(path, &o)) return NULL;
    /* A NUL would end the text early for the line parser: 4 values read as 2. */
    size_t nul = recur_nul_byte(text, len);
    if (nul < len) {
        recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "%s:%lld: a NUL byte at offset %zu (a CSV file is text)",
                        path, (long long)recur_line_of(text, nul), nul);
        return NULL;
    }
    column_rows rows = {0};
    int64_t n_missing = 0;
    recur_series *s = NULL;
    size_t bom = recur_utf8_bom(text, len);
    if (parse_csv(path, text + bom, column, &o, &rows, &n_missing) == RECUR_OK) {
        if (o.missing == RECUR_MISSING_INTERPOLATE) interpolate(&rows);
        int64_t n = 0;
        for (int64_t i = 0; i < rows.n; i++) n += !isnan(rows.v[i]);
        if (n == 0) {
            if (column) recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "csv %s: column \"%s\" has no values", path, column);
            else recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "csv %s: column %d has no values", path, o.column_index + 1);
        } else if ((s = series_alloc(n))) {
            s->n_missing = n_missing;
            for (int64_t i = 0, k = 0; i < rows.n; i++) {
                if (isnan(rows.v[i])) continue;
                s->v[k] = (float)rows.v[i];
                s->line[k++] = rows.line[i];
            }
        }
    }
    free(rows.v);
    free(rows.line);
    return s;
}

recur_status recur_series_split(const recur_series *s, int64_t n_train, int64_t context, recur_series **train,
                                recur_series **test)
{
    if (!train || !test) return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "series_split: NULL output");
    *train = *test = NULL;
    if (!s) return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "series_split: no series (NULL)");
    if (context < 0 || n_train < context || n_train < 1 || n_train >= s->n)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG,
                               "series_split: needs 0 <= context <= n_train < len and n_train >= 1; got context %lld, "
                               "n_train %lld, len %lld",
                               (long long)context, (long long)n_train, (long long)s->n);
    recur_series *a = series_alloc(n_train), *b = series_alloc(s->n - n_train + context);
    if (!a || !b) {
        recur_series_free(a);
        recur_series_free(b);
        return RECUR_ERR_NOMEM;
    }
    int64_t from = n_train - context;
    memcpy(a->v, s->v, sizeof(float) * (size_t)a->n);
    memcpy(a->line, s->line, sizeof(int64_t) * (size_t)a->n);
    memcpy(b->v, s->v + from, sizeof(float) * (size_t)b->n);
    memcpy(b->line, s->line + from, sizeof(int64_t) * (size_t)b->n);
    *train = a;
    *test = b;
    return RECUR_OK;
}

/* ---------------------------------------------------------- normalisation */

/*
 * min-max: shift = min x, scale = max x - min x;
 * z-score: shift = mean = sum x / n, scale = sqrt(sum (x - mean)^2 / n).
 * A zero scale (all values equal) becomes 1. Sums in double.
 */
recur_status recur_norm_fit(recur_norm *nm, recur_norm_kind kind, const float *x, int64_t n)
{
    if (!nm || !x || n < 1) return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "norm_fit: needs values (got %lld)", (long long)n);
    if (kind != RECUR_NORM_MINMAX && kind != RECUR_NORM_ZSCORE)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "norm_fit: unknown kind %d", (int)kind);
    double lo = x[0], hi = x[0], sum = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "norm_fit: value %lld is %g", (long long)i, (double)x[i]);
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
        sum += x[i];
    }
    double shift, scale;
    if (kind == RECUR_NORM_MINMAX) {
        shift = lo;
        scale = hi - lo;
    } else {
        shift = sum / (double)n;
        double ss = 0;
        for (int64_t i = 0; i < n; i++) ss += ((double)x[i] - shift) * ((double)x[i] - shift);
        scale = sqrt(ss / (double)n);
    }
    nm->kind = kind;
    nm->shift = shift;
    nm->scale = scale > 0 ? scale : 1;
    return RECUR_OK;
}

static recur_status norm_check(const char *what, const recur_norm *nm, const float *x, int64_t n)
{
    if (!nm || (n > 0 && !x) || n < 0)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "%s: needs a normalisation and values", what);
    if (!(nm->scale != 0) || !isfinite(nm->scale) || !isfinite(nm->shift))
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "%s: bad normalisation (shift %g, scale %g)", what, nm->shift,
                               nm->scale);
    return RECUR_OK;
}

recur_status recur_norm_apply(const recur_norm *nm, float *x, int64_t n)
{
    recur_status st = norm_check("norm_apply", nm, x, n);
    if (st != RECUR_OK) return st;
    for (int64_t i = 0; i < n; i++) x[i] = (float)(((double)x[i] - nm->shift) / nm->scale);
    return RECUR_OK;
}

recur_status recur_norm_invert(const recur_norm *nm, float *x, int64_t n)
{
    recur_status st = norm_check("norm_invert", nm, x, n);
    if (st != RECUR_OK) return st;
    for (int64_t i = 0; i < n; i++) x[i] = (float)((double)x[i] * nm->scale + nm->shift);
    return RECUR_OK;
}

/* ---------------------------------------------------------------- windows */

int64_t recur_window_count(int64_t len, int64_t n) { return n >= 1 && len > n ? len - n : 0; }

static recur_status window_check(const char *what, const float *v, int64_t len, int64_t n, const float *x,
                                 const float *y)
{
    if (!v || !x || !y) return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "%s: NULL values or output", what);
    if (n < 1 || len <= n)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "%s: a series of %lld values has no window of %lld values and a target",
                               what, (long long)len, (long long)n);
    return RECUR_OK;
}

/* x[i][k] = v[i + k] (x is [N, n]), y[i] = v[i + n]. */
recur_status recur_windows_rows(const float *v, int64_t len, int64_t n, float *x, float *y)
{
    recur_status st = window_check("windows_rows", v, len, n, x, y);
    if (st != RECUR_OK) return st;
    int64_t N = len - n;
    for (int64_t i = 0; i < N; i++) {
        memcpy(x + i * n, v + i, sizeof(float) * (size_t)n);
        y[i] = v[i + n];
    }
    return RECUR_OK;
}

/* x[k][i] = v[i + k] (x is [n, N, 1]), y[i] = v[i + n]. */
recur_status recur_windows_time_major(const float *v, int64_t len, int64_t n, float *x, float *y)
{
    recur_status st = window_check("windows_time_major", v, len, n, x, y);
    if (st != RECUR_OK) return st;
    int64_t N = len - n;
    for (int64_t k = 0; k < n; k++) memcpy(x + k * N, v + k, sizeof(float) * (size_t)N);
    memcpy(y, v + n, sizeof(float) * (size_t)N);
    return RECUR_OK;
}
