/*
 * data/pairs.c — sentence pairs for seq2seq: tokenising, word
 * vocabularies with the reserved ids, encoding and decoding, and
 * length-bucketed batches of padded, time-major id tensors with masks.
 */
#include <stdlib.h>
#include <string.h>

#include "data_util.h"

static const char *const reserved_word[RECUR_FIRST_WORD_ID] = {"[PAD]", "[START]", "[END]", "[UNK]"};

/* ------------------------------------------------------- growable arrays */

/* Makes room for `need` elements of `size` bytes in *p (capacity *cap). */
static int grow(void **p, int64_t *cap, int64_t need, size_t size)
{
    if (need <= *cap) return 1;
    int64_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, size * (size_t)c);
    if (!q) return 0;
    *p = q;
    *cap = c;
    return 1;
}

/* A growable string. */
typedef struct strbuf {
    char *s;
    int64_t n, cap;
} strbuf;

static int sb_put(strbuf *b, const char *s, size_t n)
{
    if (!grow((void **)&b->s, &b->cap, b->n + (int64_t)n + 1, 1)) return 0;
    memcpy(b->s + b->n, s, n);
    b->n += (int64_t)n;
    b->s[b->n] = 0;
    return 1;
}

/* ------------------------------------------------------------ tokenising */

static int is_space(uint32_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0xA0 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F || c == 0x3000;
}

static int is_punct(uint32_t c)
{
    if (c < 0x80) return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
                         (c >= 0x7B && c <= 0x7E);
    return c == 0xAB || c == 0xBB || c == 0xBF || c == 0xA1 || c == 0x2013 || c == 0x2014 || c == 0x2018 ||
           c == 0x201C || c == 0x201D || c == 0x2026;
}

/* Lowercase for ASCII, Latin-1 (U+00C0-00DE but the sign U+00D7), and Œ, Ÿ; ’ reads as '. */
static uint32_t fold(uint32_t c)
{
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c == 0x152) return 0x153;
    if (c == 0x178) return 0xFF;
    if (c == 0x2019) return '\'';
    return c;
}

/*
 * Appends the tokens of text[0..len) to out, each followed by one space,
 * and counts them in *n. A token is a run of word code points (neither
 * space nor punctuation, or ' and - with word code points on both sides),
 * or a single punctuation mark. Returns 0 (with *bad the byte offset) for
 * invalid UTF-8, -1 when out of memory, 1 otherwise.
 */
static int tokenize(const char *text, size_t len, strbuf *out, int64_t *n, size_t *bad)
{
    *n = 0;
    uint32_t *c = malloc(sizeof(uint32_t) * (len + 1));
    if (!c) return -1;
    size_t m = 0;
    for (size_t at = 0; at < len; m++) {
        int k = recur_utf8_decode(text + at, len - at, &c[m]);
        if (!k) {
            free(c);
            *bad = at;
            return 0;
        }
        c[m] = fold(c[m]);
        at += (size_t)k;
    }
    int in_word = 0, ok = 1;
    int64_t from = out->n;
    for (size_t i = 0; i < m && ok; i++) {
        int word = !is_space(c[i]) && !is_punct(c[i]);
        if ((c[i] == '\'' || c[i] == '-') && i > 0 && i + 1 < m && !is_space(c[i - 1]) && !is_punct(c[i - 1]) &&
            !is_space(c[i + 1]) && !is_punct(c[i + 1]))
            word = 1;
        if (in_word && !word) ok = sb_put(out, " ", 1); /* the word before ends */
        in_word = word;
        if (is_space(c[i])) continue;
        char u[4];
        ok = ok && sb_put(out, u, (size_t)recur_utf8_encode(c[i], u));
        if (!word) ok = ok && sb_put(out, " ", 1); /* a punctuation mark is a token by itself */
    }
    if (ok && in_word) ok = sb_put(out, " ", 1);
    free(c);
    for (int64_t i = from; ok && i < out->n; i++) *n += out->s[i] == ' ';
    return ok ? 1 : -1;
}

recur_status recur_tokenize(const char *text, char *buf, size_t len, int64_t *n_tokens)
{
    if (!text || !buf || len == 0) return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "tokenize: NULL text or buffer");
    strbuf out = {0};
    int64_t n = 0;
    size_t bad = 0;
    int r = tokenize(text, strlen(text), &out, &n, &bad);
    recur_status st = RECUR_OK;
    if (r == 0) st = recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "tokenize: invalid UTF-8 at byte %zu", bad);
    else if (r < 0) st = recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "tokenize: out of memory");
    else {
        size_t m = out.n > 0 ? (size_t)out.n - 1 : 0; /* without the last space */
        if (m + 1 > len) st = recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "tokenize: needs %zu bytes, the buffer has %zu", m + 1, len);
        else {
            if (m) memcpy(buf, out.s, m);
            buf[m] = 0;
        }
    }
    if (st != RECUR_OK) buf[0] = 0;
    if (n_tokens) *n_tokens = st == RECUR_OK ? n : 0;
    free(out.s);
    return st;
}

/* ------------------------------------------------------------ the pairs */

/* A distinct word and its id (RECUR_UNK_ID when it was too rare). */
typedef struct word_entry {
    const char *word;
    int64_t id, count;
} word_entry;

typedef struct vocab {
    int64_t n;          /* ids, reserved included */
    const char **word;  /* id -> word */
    int64_t n_distinct; /* every distinct word seen, in byte order */
    word_entry *sorted;
} vocab;

/* A pair's texts, pointing into the file's text. */
typedef struct pair_text {
    const char *side[2], *attrib;
} pair_text;

struct recur_pairs {
    int64_t n, skipped;
    char *file;     /* the file's text, its tabs and line ends turned into NULs */
    pair_text *text;
    int64_t *start[2];               /* pair i's ids: ids[side][start[side][i] .. start[side][i + 1]) */
    int64_t *ids[2];
    strbuf tokens[2];                /* every token, each ended by a NUL */
    vocab voc[2];
};

void recur_pairs_free(recur_pairs *p)
{
    if (!p) return;
    free(p->file);
    free(p->text);
    for (int s = 0; s < 2; s++) {
        free(p->start[s]);
        free(p->ids[s]);
        free(p->tokens[s].s);
        free(p->voc[s].word);
        free(p->voc[s].sorted);
    }
    free(p);
}

static int cmp_word(const void *a, const void *b)
{
    return strcmp(((const word_entry *)a)->word, ((const word_entry *)b)->word);
}

/* Decreasing count, then byte order. */
static int cmp_count(const void *a, const void *b)
{
    const word_entry *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->word, y->word);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The id of a word: binary search among the distinct words. */
static int64_t lookup(const vocab *v, const char *word)
{
    word_entry key = {word, 0, 0};
    const word_entry *e = bsearch(&key, v->sorted, (size_t)v->n_distinct, sizeof key, cmp_word);
    return e ? e->id : RECUR_UNK_ID;
}

/*
 * Builds a side's vocabulary from its n tokens (NUL-separated in `tokens`):
 * sort the tokens, count each distinct word, give the words seen at least
 * min_count times ids from RECUR_FIRST_WORD_ID by decreasing count (ties in
 * byte order), and encode every token.
 */
static recur_status build_vocab(vocab *v, const strbuf *tokens, int64_t n, int64_t min_count, int64_t *ids)
{
    const char **tok = malloc(sizeof(char *) * (size_t)(n > 0 ? n : 1));
    if (!tok) return recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "pairs: out of memory");
    const char *s = tokens->s;
    for (int64_t i = 0; i < n; i++) {
        tok[i] = s;
        s += strlen(s) + 1;
    }
    const char **sorted = malloc(sizeof(char *) * (size_t)(n > 0 ? n : 1));
    v->sorted = malloc(sizeof(word_entry) * (size_t)(n > 0 ? n : 1));
    word_entry *by_count = malloc(sizeof(word_entry) * (size_t)(n > 0 ? n : 1));
    v->word = malloc(sizeof(char *) * (size_t)(n + RECUR_FIRST_WORD_ID));
    if (!sorted || !v->sorted || !by_count || !v->word) {
        free(tok);
        free(sorted);
        free(by_count);
        return recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "pairs: out of memory");
    }
    memcpy(sorted, tok, sizeof(char *) * (size_t)n);
    qsort(sorted, (size_t)n, sizeof(char *), cmp_str);
    v->n_distinct = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i > 0 && !strcmp(sorted[i], sorted[i - 1])) v->sorted[v->n_distinct - 1].count++;
        else v->sorted[v->n_distinct++] = (word_entry){sorted[i], RECUR_UNK_ID, 1};
    }
    int64_t kept = 0;
    for (int64_t i = 0; i < v->n_distinct; i++)
        if (v->sorted[i].count >= min_count) by_count[kept++] = v->sorted[i];
    qsort(by_count, (size_t)kept, sizeof(word_entry), cmp_count);
    for (int k = 0; k < RECUR_FIRST_WORD_ID; k++) v->word[k] = reserved_word[k];
    for (int64_t k = 0; k < kept; k++) v->word[RECUR_FIRST_WORD_ID + k] = by_count[k].word;
    v->n = RECUR_FIRST_WORD_ID + kept;
    /* by_count[k] gets id FIRST + k; give the sorted entries their ids. */
    for (int64_t k = 0; k < kept; k++) {
        word_entry *e = bsearch(&by_count[k], v->sorted, (size_t)v->n_distinct, sizeof(word_entry), cmp_word);
        e->id = RECUR_FIRST_WORD_ID + k;
    }
    for (int64_t i = 0; i < n; i++) ids[i] = lookup(v, tok[i]);
    free(tok);
    free(sorted);
    free(by_count);
    return RECUR_OK;
}

/* Loading state: capacities of the growable arrays. */
typedef struct pairs_caps {
    int64_t text, start[2];
} pairs_caps;

/* Adds one pair whose sides were tokenised into side[0], side[1] ("a b c "). */
static int add_pair(recur_pairs *p, pairs_caps *cap, const char *text[2], const char *attrib, const strbuf side[2],
                    const int64_t n_tok[2])
{
    if (!grow((void **)&p->text, &cap->text, p->n + 1, sizeof(pair_text))) return 0;
    p->text[p->n] = (pair_text){{text[0], text[1]}, attrib};
    for (int s = 0; s < 2; s++) {
        if (!grow((void **)&p->start[s], &cap->start[s], p->n + 2, sizeof(int64_t))) return 0;
        if (p->n == 0) p->start[s][0] = 0;
        p->start[s][p->n + 1] = p->start[s][p->n] + n_tok[s];
        /* "a b c " -> "a\0b\0c\0" appended to the side's tokens */
        int64_t from = p->tokens[s].n;
        if (!sb_put(&p->tokens[s], side[s].s, (size_t)side[s].n)) return 0;
        for (int64_t i = from; i < p->tokens[s].n; i++)
            if (p->tokens[s].s[i] == ' ') p->tokens[s].s[i] = 0;
    }
    p->n++;
    return 1;
}

/* Parses the file's lines (text is modified: tabs and line ends become NULs). */
static recur_status parse_pairs(recur_pairs *p, const char *path, const recur_pairs_opts *o)
{
    pairs_caps cap = {0};
    strbuf side[2] = {{0}, {0}};
    recur_status st = RECUR_OK;
    size_t bom = recur_utf8_bom(p->file, strlen(p->file));
    char *q = p->file + bom;
    for (int64_t line = 1; *q && st == RECUR_OK; line++) {
        if (o->max_pairs > 0 && p->n >= o->max_pairs) break;
        char *eol = strchr(q, '\n');
        char *next = eol ? eol + 1 : q + strlen(q);
        if (eol) *eol = 0;
        if (eol > q && eol[-1] == '\r') eol[-1] = 0;
        char *s = q;
        q = next;
        if (strspn(s, " \t\r") == strlen(s)) continue; /* blank line */
        char *tab = strchr(s, '\t');
        if (!tab) {
            st = recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "%s:%lld: no tab: a line must be \"source<TAB>target[<TAB>...]\"",
                                 path, (long long)line);
            break;
        }
        *tab = 0;
        char *tgt = tab + 1, *tab2 = strchr(tgt, '\t');
        const char *attrib = "";
        if (tab2) {
            *tab2 = 0;
            attrib = tab2 + 1;
        }
        const char *text[2] = {o->swap ? tgt : s, o->swap ? s : tgt};
        int64_t n_tok[2];
        for (int k = 0; k < 2 && st == RECUR_OK; k++) {
            size_t bad;
            side[k].n = 0;
            int r = tokenize(text[k], strlen(text[k]), &side[k], &n_tok[k], &bad);
            if (r == 0)
                st = recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "%s:%lld: invalid UTF-8 in column %d at byte %zu", path,
                                     (long long)line, (o->swap ? 1 - k : k) + 1, bad);
            else if (r < 0) st = recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "pairs %s: out of memory", path);
        }
        if (st != RECUR_OK) break;
        if (n_tok[0] == 0 || n_tok[1] == 0 || (o->max_len > 0 && (n_tok[0] > o->max_len || n_tok[1] > o->max_len))) {
            p->skipped++;
            continue;
        }
        if (!add_pair(p, &cap, text, attrib, side, n_tok)) st = recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "pairs %s: out of memory", path);
    }
    free(side[0].s);
    free(side[1].s);
    if (st == RECUR_OK && p->n == 0) st = recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "pairs %s: no sentence pairs", path);
    return st;
}

/* Checks the options; 0 after recording the error. */
static int opts_ok(const recur_pairs_opts *o)
{
    if (o->max_len >= 0 && o->max_pairs >= 0) return 1;
    recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "pairs: negative max_len %lld or max_pairs %lld", (long long)o->max_len,
                    (long long)o->max_pairs);
    return 0;
}

recur_pairs *recur_pairs_load(const char *path, const recur_pairs_opts *opts)
{
    recur_pairs_opts o = opts ? *opts : (recur_pairs_opts){0};
    if (!opts_ok(&o)) return NULL;
    char *text;
    size_t len;
    if (recur_data_read_file("pairs", path, &text, &len) != RECUR_OK) return NULL;
    return recur_pairs_parse(path, text, len, &o);
}

recur_pairs *recur_pairs_parse(const char *path, char *text, size_t len, const recur_pairs_opts *opts)
{
    recur_pairs_opts o = opts ? *opts : (recur_pairs_opts){0};
    if (o.min_count < 1) o.min_count = 1;
    if (!opts_ok(&o)) {
        free(text);
        return NULL;
    }
    recur_pairs *p = calloc(1, sizeof *p);
    if (!p) {
        recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "pairs: out of memory");
        free(text);
        return NULL;
    }
    p->file = text;
    /* A NUL would end the text early for the line parser: 3 pairs read as 1. */
    size_t nul = recur_nul_byte(text, len);
    if (nul < len) {
        recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "%s:%lld: a NUL byte at offset %zu (a TSV file is text)",
                        path, (long long)recur_line_of(text, nul), nul);
        recur_pairs_free(p);
        return NULL;
    }
    if (parse_pairs(p, path, &o) != RECUR_OK) {
        recur_pairs_free(p);
        return NULL;
    }
    for (int s = 0; s < 2; s++) {
        int64_t n = p->start[s][p->n];
        p->ids[s] = malloc(sizeof(int64_t) * (size_t)n);
        if (!p->ids[s]) {
            recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "pairs %s: out of memory", path);
            recur_pairs_free(p);
            return NULL;
        }
        if (build_vocab(&p->voc[s], &p->tokens[s], n, o.min_count, p->ids[s]) != RECUR_OK) {
            recur_pairs_free(p);
            return NULL;
        }
    }
    return p;
}

/* ------------------------------------------------------------- accessors */

static int side_ok(recur_side s) { return s == RECUR_SOURCE || s == RECUR_TARGET; }

int64_t recur_pairs_count(const recur_pairs *p) { return p ? p->n : 0; }

int64_t recur_pairs_skipped(const recur_pairs *p) { return p ? p->skipped : 0; }

const char *recur_pairs_text(const recur_pairs *p, int64_t i, recur_side side)
{
    return p && side_ok(side) && i >= 0 && i < p->n ? p->text[i].side[side] : NULL;
}

const char *recur_pairs_attribution(const recur_pairs *p, int64_t i)
{
    return p && i >= 0 && i < p->n ? p->text[i].attrib : NULL;
}

const int64_t *recur_pairs_ids(const recur_pairs *p, int64_t i, recur_side side, int64_t *n)
{
    if (n) *n = 0;
    if (!p || !side_ok(side) || i < 0 || i >= p->n) return NULL;
    if (n) *n = p->start[side][i + 1] - p->start[side][i];
    return p->ids[side] + p->start[side][i];
}

int64_t recur_pairs_vocab_size(const recur_pairs *p, recur_side side)
{
    return p && side_ok(side) ? p->voc[side].n : 0;
}

const char *recur_pairs_word(const recur_pairs *p, recur_side side, int64_t id)
{
    return p && side_ok(side) && id >= 0 && id < p->voc[side].n ? p->voc[side].word[id] : NULL;
}

int64_t recur_pairs_word_id(const recur_pairs *p, recur_side side, const char *word)
{
    if (!p || !side_ok(side) || !word) return RECUR_UNK_ID;
    for (int k = 0; k < RECUR_FIRST_WORD_ID; k++)
        if (!strcmp(word, reserved_word[k])) return k;
    return lookup(&p->voc[side], word);
}

recur_status recur_pairs_encode(const recur_pairs *p, recur_side side, const char *sentence, int64_t *ids,
                                int64_t cap, int64_t *n)
{
    if (!p || !side_ok(side) || !sentence || !n)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "pairs_encode: NULL pairs, sentence or count, or a bad side");
    *n = 0;
    strbuf out = {0};
    int64_t k;
    size_t bad;
    int r = tokenize(sentence, strlen(sentence), &out, &k, &bad);
    if (r <= 0) {
        free(out.s);
        return r == 0 ? recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT, "pairs_encode: invalid UTF-8 at byte %zu", bad)
                      : recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "pairs_encode: out of memory");
    }
    if (ids && k > cap) {
        free(out.s);
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "pairs_encode: the sentence has %lld tokens, the buffer holds %lld",
                               (long long)k, (long long)cap);
    }
    char *save = NULL;
    int64_t i = 0;
    for (char *w = out.s ? strtok_r(out.s, " ", &save) : NULL; w; w = strtok_r(NULL, " ", &save), i++)
        if (ids) ids[i] = lookup(&p->voc[side], w);
    free(out.s);
    *n = k;
    return RECUR_OK;
}

recur_status recur_pairs_decode(const recur_pairs *p, recur_side side, const int64_t *ids, int64_t n, char *buf,
                                size_t len)
{
    if (!p || !side_ok(side) || !buf || len == 0 || n < 0 || (n > 0 && !ids))
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "pairs_decode: NULL pairs, ids or buffer, or a bad side");
    buf[0] = 0;
    size_t used = 0, need = 1;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= p->voc[side].n)
            return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "pairs_decode: id %lld at position %lld is outside [0, %lld)",
                                   (long long)ids[i], (long long)i, (long long)p->voc[side].n);
        if (ids[i] == RECUR_END_ID) break;
        if (ids[i] == RECUR_PAD_ID || ids[i] == RECUR_START_ID) continue;
        const char *w = p->voc[side].word[ids[i]];
        size_t wl = strlen(w), sep = need > 1;
        if (need + sep + wl <= len) {
            if (sep) buf[used++] = ' ';
            memcpy(buf + used, w, wl);
            used += wl;
            buf[used] = 0;
        }
        need += sep + wl;
    }
    if (need > len) {
        buf[0] = 0;
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "pairs_decode: needs %zu bytes, the buffer has %zu", need, len);
    }
    return RECUR_OK;
}
