/*
 * data/corpus.c — character corpora: a UTF-8 text as ids over the sorted
 * set of its code points, encoding and decoding, windows with a stride and
 * their time-major batches, and the train/test split by position.
 */
#include <stdlib.h>
#include <string.h>

#include "data_util.h"

struct recur_corpus {
    int64_t n;     /* symbols of the text */
    int64_t *ids;  /* the text, n ids */
    int64_t v;     /* vocabulary size */
    uint32_t *sym; /* the vocabulary: code points in increasing order */
};

void recur_corpus_free(recur_corpus *c)
{
    if (!c) return;
    free(c->ids);
    free(c->sym);
    free(c);
}

int64_t recur_corpus_len(const recur_corpus *c) { return c ? c->n : 0; }

const int64_t *recur_corpus_ids(const recur_corpus *c) { return c ? c->ids : NULL; }

int64_t recur_corpus_vocab_size(const recur_corpus *c) { return c ? c->v : 0; }

int32_t recur_corpus_symbol(const recur_corpus *c, int64_t id)
{
    return c && id >= 0 && id < c->v ? (int32_t)c->sym[id] : -1;
}

/* Binary search in the sorted vocabulary. */
int64_t recur_corpus_find(const recur_corpus *c, uint32_t cp)
{
    if (!c) return -1;
    int64_t lo = 0, hi = c->v - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (c->sym[mid] == cp) return mid;
        if (c->sym[mid] < cp) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* Unicode's 17 planes of 65536 code points each, and the 64-bit words of a plane's bitmap. */
#define N_PLANES 17
#define PLANE_WORDS (65536 / 64)

/*
 * The distinct code points of cps[0..n) in increasing order, in a new
 * array *sym; returns their count, or -1 when out of memory. Each code
 * point is marked in a bitmap of its plane (made when the plane is first
 * met: most texts need only the first, 8 KB), and the bitmaps are read in
 * order, a word at a time, skipping empty words: the vocabulary comes out
 * sorted without a sort.
 */
static int64_t distinct_sorted(const uint32_t *cps, int64_t n, uint32_t **sym)
{
    uint64_t *plane[N_PLANES] = {0};
    int64_t v = -1;
    for (int64_t i = 0; i < n; i++) {
        uint64_t **p = &plane[cps[i] >> 16];
        if (!*p && !(*p = calloc(PLANE_WORDS, sizeof(uint64_t)))) goto done;
        (*p)[(cps[i] & 0xFFFF) >> 6] |= (uint64_t)1 << (cps[i] & 63);
    }
    v = 0;
    for (int q = 0; q < N_PLANES; q++)
        for (int w = 0; plane[q] && w < PLANE_WORDS; w++)
            for (uint64_t bits = plane[q][w]; bits; bits &= bits - 1) v++;
    if (!(*sym = malloc(sizeof(uint32_t) * (size_t)(v + 1)))) {
        v = -1;
        goto done;
    }
    int64_t k = 0;
    for (int q = 0; q < N_PLANES; q++)
        for (int w = 0; plane[q] && w < PLANE_WORDS; w++)
            for (int b = 0; b < 64 && (plane[q][w] >> b) != 0; b++)
                if ((plane[q][w] >> b) & 1) (*sym)[k++] = (uint32_t)q << 16 | (uint32_t)(w * 64 + b);
done:
    for (int q = 0; q < N_PLANES; q++) free(plane[q]);
    return v;
}

/* Builds a corpus from text[0..len): decode every code point, then the sorted vocabulary, then the ids. */
static recur_corpus *corpus_build(const char *what, const char *text, size_t len)
{
    size_t at = recur_utf8_bom(text, len);
    recur_corpus *c = calloc(1, sizeof *c);
    uint32_t *cps = malloc(sizeof(uint32_t) * (len - at + 1));
    if (!c || !cps) {
        recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "%s: out of memory for %zu bytes of text", what, len);
        goto fail;
    }
    while (at < len) {
        uint32_t cp;
        int k = recur_utf8_decode(text + at, len - at, &cp);
        if (!k) {
            recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "%s: invalid UTF-8 at byte %zu (line %lld, byte 0x%02x)", what, at,
                            (long long)recur_line_of(text, at), (unsigned)(unsigned char)text[at]);
            goto fail;
        }
        cps[c->n++] = cp;
        at += (size_t)k;
    }
    if (c->n == 0) {
        recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "%s: the text is empty", what);
        goto fail;
    }
    c->v = distinct_sorted(cps, c->n, &c->sym);
    c->ids = malloc(sizeof(int64_t) * (size_t)c->n);
    if (c->v < 0 || !c->ids) {
        recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "%s: out of memory for %lld symbols", what, (long long)c->n);
        goto fail;
    }
    for (int64_t i = 0; i < c->n; i++) c->ids[i] = recur_corpus_find(c, cps[i]);
    free(cps);
    return c;
fail:
    free(cps);
    recur_corpus_free(c);
    return NULL;
}

recur_corpus *recur_corpus_from_text(const char *text, size_t len)
{
    if (!text) {
        recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "corpus_from_text: no text (NULL)");
        return NULL;
    }
    return corpus_build("corpus text", text, len);
}

recur_corpus *recur_corpus_load(const char *path)
{
    char *text;
    size_t len;
    if (recur_data_read_file("corpus", path, &text, &len) != RECUR_OK) return NULL;
    char what[512];
    snprintf(what, sizeof what, "corpus %s", path);
    recur_corpus *c = corpus_build(what, text, len);
    free(text);
    return c;
}

/* ------------------------------------------------------ encoding, decoding */

recur_status recur_corpus_encode(const recur_corpus *c, const char *text, int64_t *ids, int64_t cap, int64_t *n)
{
    if (!c || !text || !n) return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "corpus_encode: NULL corpus, text or count");
    *n = 0;
    size_t len = strlen(text);
    int64_t k = 0;
    for (size_t at = 0; at < len;) {
        uint32_t cp;
        int b = recur_utf8_decode(text + at, len - at, &cp);
        if (!b) return recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "corpus_encode: invalid UTF-8 at byte %zu", at);
        int64_t id = recur_corpus_find(c, cp);
        if (id < 0)
            return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "corpus_encode: symbol U+%04X \"%.*s\" at byte %zu is not in the vocabulary",
                                   (unsigned)cp, b, text + at, at);
        if (ids && k >= cap)
            return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "corpus_encode: more than %lld symbols in the text", (long long)cap);
        if (ids) ids[k] = id;
        k++;
        at += (size_t)b;
    }
    *n = k;
    return RECUR_OK;
}

recur_status recur_corpus_decode(const recur_corpus *c, const int64_t *ids, int64_t n, char *buf, size_t len)
{
    if (!c || !buf || len == 0 || n < 0 || (n > 0 && !ids))
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "corpus_decode: NULL corpus, ids or buffer");
    size_t need = 1;
    buf[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= c->v)
            return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "corpus_decode: id %lld at position %lld is outside [0, %lld)",
                                   (long long)ids[i], (long long)i, (long long)c->v);
        char u[4];
        int b = recur_utf8_encode(c->sym[ids[i]], u);
        if (need + (size_t)b <= len) memcpy(buf + need - 1, u, (size_t)b);
        need += (size_t)b;
    }
    if (need > len) {
        buf[0] = 0;
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "corpus_decode: needs %zu bytes, the buffer has %zu", need, len);
    }
    buf[need - 1] = 0;
    return RECUR_OK;
}

/* ---------------------------------------------------------------- splits */

/* A corpus of ids[from, to) with c's vocabulary. */
static recur_corpus *corpus_slice(const recur_corpus *c, int64_t from, int64_t to)
{
    recur_corpus *s = calloc(1, sizeof *s);
    if (s) {
        s->n = to - from;
        s->v = c->v;
        s->ids = malloc(sizeof(int64_t) * (size_t)s->n);
        s->sym = malloc(sizeof(uint32_t) * (size_t)s->v);
    }
    if (!s || !s->ids || !s->sym) {
        recur_corpus_free(s);
        recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "corpus_split: out of memory");
        return NULL;
    }
    memcpy(s->ids, c->ids + from, sizeof(int64_t) * (size_t)s->n);
    memcpy(s->sym, c->sym, sizeof(uint32_t) * (size_t)s->v);
    return s;
}

recur_status recur_corpus_split(const recur_corpus *c, int64_t n_train, recur_corpus **train, recur_corpus **test)
{
    if (!train || !test) return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "corpus_split: NULL output");
    *train = *test = NULL;
    if (!c) return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "corpus_split: no corpus (NULL)");
    if (n_train < 1 || n_train >= c->n)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "corpus_split: n_train %lld is outside [1, %lld)", (long long)n_train,
                               (long long)c->n);
    recur_corpus *a = corpus_slice(c, 0, n_train), *b = a ? corpus_slice(c, n_train, c->n) : NULL;
    if (!b) {
        recur_corpus_free(a);
        return RECUR_ERR_NOMEM;
    }
    *train = a;
    *test = b;
    return RECUR_OK;
}

/* ------------------------------------------------------ windows, batches */

/* Window w starts at w * stride and needs L + 1 symbols: w * stride + L < n. */
int64_t recur_corpus_window_count(const recur_corpus *c, int64_t L, int64_t stride)
{
    if (!c || L < 1 || stride < 1 || c->n <= L) return 0; /* n <= L, not n < L + 1: L may be INT64_MAX */
    return (c->n - L - 1) / stride + 1;
}

recur_status recur_corpus_batch(const recur_corpus *c, int64_t L, int64_t stride, const int64_t *windows, int64_t B,
                                float *x, float *y_seq, float *y_next)
{
    if (!c || !windows || !x || B < 1)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "corpus_batch: NULL corpus, windows or x, or B %lld < 1", (long long)B);
    int64_t nw = recur_corpus_window_count(c, L, stride);
    if (nw == 0)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "corpus_batch: no window of %lld symbols (stride %lld) in %lld symbols",
                               (long long)L, (long long)stride, (long long)c->n);
    for (int64_t b = 0; b < B; b++)
        if (windows[b] < 0 || windows[b] >= nw)
            return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "corpus_batch: column %lld: window %lld is outside [0, %lld)",
                                   (long long)b, (long long)windows[b], (long long)nw);
    for (int64_t b = 0; b < B; b++) {
        const int64_t *s = c->ids + windows[b] * stride;
        for (int64_t t = 0; t < L; t++) {
            x[t * B + b] = (float)s[t];
            if (y_seq) y_seq[t * B + b] = (float)s[t + 1];
        }
        if (y_next) y_next[b] = (float)s[L];
    }
    return RECUR_OK;
}
