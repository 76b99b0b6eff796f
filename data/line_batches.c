/*
 * data/line_batches.c — a text of one sentence per line as a language
 * model's sequences: the lines of a corpus (a column of a TSV, blank lines
 * left out, long lines split, cut or refused), and padded, time-major
 * batches of them with their lengths. Pure functions of the corpus: they
 * read no file.
 */
#include "data_util.h"

/* Bytes of code point cp in UTF-8. */
static int64_t utf8_bytes(int32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

/* One line of the text: ids [begin, end), the newline (if any) at end, and where it starts in bytes. */
typedef struct line_span {
    int64_t begin, end, number, byte;
} line_span;

/*
 * Narrows a line to its `column`-th tab-separated field (column >= 1).
 * RECUR_ERR_FORMAT naming the line when it has fewer fields.
 */
static recur_status take_column(const recur_corpus *c, int64_t column, line_span *l)
{
    const int64_t *ids = recur_corpus_ids(c);
    int64_t tab = recur_corpus_find(c, '\t'), field = 1, at = l->begin;
    for (int64_t i = l->begin; i < l->end && field < column; i++)
        if (ids[i] == tab) field++, at = i + 1;
    if (field < column)
        return recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT,
                               "lines: line %lld (byte %lld) has %lld tab-separated field%s, fewer than column %lld",
                               (long long)l->number, (long long)l->byte, (long long)field, field == 1 ? "" : "s",
                               (long long)column);
    int64_t end = at;
    while (end < l->end && ids[end] != tab) end++;
    l->begin = at;
    l->end = end;
    return RECUR_OK;
}

/* 1 when ids [begin, end) are all spaces and tabs (or none). */
static int blank(const recur_corpus *c, int64_t begin, int64_t end)
{
    const int64_t *ids = recur_corpus_ids(c);
    for (int64_t i = begin; i < end; i++) {
        int32_t cp = recur_corpus_symbol(c, ids[i]);
        if (cp != ' ' && cp != '\t') return 0;
    }
    return 1;
}

/*
 * The sequences of one line kept, m symbols at ids[start ..]: written to
 * seqs from *n on (when there is room) and counted in *n.
 */
static recur_status line_seqs(const recur_lines_opts *o, const line_span *l, recur_line_seq *seqs, int64_t cap,
                              recur_lines_count *count)
{
    int64_t m = l->end - l->begin, steps = m + 1, max = o->max_steps > 0 ? o->max_steps : steps;
    count->lines++;
    count->longest = steps > count->longest ? steps : count->longest;
    if (steps > max) {
        if (o->long_lines == RECUR_LINES_REFUSE)
            return recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT,
                                   "lines: line %lld (byte %lld) has %lld symbols, %lld steps with its end of line, "
                                   "more than the %lld steps a sequence may have",
                                   (long long)l->number, (long long)l->byte, (long long)m, (long long)steps,
                                   (long long)max);
        count->long_lines++;
    }
    int64_t last = o->long_lines == RECUR_LINES_CUT && steps > max ? max : steps; /* the steps taken */
    for (int64_t first = 0; first < last; first += max) {
        if (seqs && count->seqs < cap)
            seqs[count->seqs] = (recur_line_seq){.start = l->begin, .len = m, .first = first,
                                                 .steps = last - first < max ? last - first : max, .line = l->number};
        count->seqs++;
    }
    return RECUR_OK;
}

recur_status recur_lines_find(const recur_corpus *c, const recur_lines_opts *opts, recur_line_seq *seqs, int64_t cap,
                              recur_lines_count *count)
{
    recur_lines_opts o = opts ? *opts : (recur_lines_opts){0};
    if (!c || !count) return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "lines: NULL corpus or count");
    *count = (recur_lines_count){0};
    if (o.max_steps < 0 || o.column < 0 || (int)o.long_lines < RECUR_LINES_SPLIT || o.long_lines > RECUR_LINES_REFUSE)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG,
                               "lines: max_steps %lld and column %lld must be >= 0, long_lines one of "
                               "RECUR_LINES_SPLIT, _CUT, _REFUSE (it is %d)",
                               (long long)o.max_steps, (long long)o.column, (int)o.long_lines);
    if (cap < 0 || (cap > 0 && !seqs))
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "lines: cap %lld with %s sequences", (long long)cap,
                               seqs ? "" : "no (NULL)");
    const int64_t *ids = recur_corpus_ids(c);
    int64_t n = recur_corpus_len(c), nl = recur_corpus_find(c, '\n'), cr = recur_corpus_find(c, '\r'), byte = 0;
    line_span l = {.number = 1};
    for (int64_t i = 0; i <= n; i++) {
        if (i < n && ids[i] != nl) {
            byte += utf8_bytes(recur_corpus_symbol(c, ids[i]));
            continue;
        }
        if (i == n && l.begin == n) break; /* the text ended with its last line's newline */
        l.end = i > l.begin && ids[i - 1] == cr ? i - 1 : i;
        recur_status st = RECUR_OK; /* a blank line has no fields to count */
        if (!blank(c, l.begin, l.end) && o.column > 0) st = take_column(c, o.column, &l);
        if (st != RECUR_OK) return st;
        if (blank(c, l.begin, l.end)) count->blank++;
        else if ((st = line_seqs(&o, &l, seqs, cap, count)) != RECUR_OK) return st;
        byte += 1; /* the newline */
        l = (line_span){.begin = i + 1, .number = l.number + 1, .byte = byte};
    }
    if (count->lines == 0)
        return recur_error_set(recur_thread_error(), RECUR_ERR_FORMAT,
                               "lines: no line holds a symbol: the text's %lld line%s %s empty or white space only%s",
                               (long long)count->blank, count->blank == 1 ? "" : "s", count->blank == 1 ? "is" : "are",
                               o.column > 0 ? " in the column read" : "");
    if (seqs && count->seqs > cap)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG, "lines: %lld sequences do not fit in cap %lld",
                               (long long)count->seqs, (long long)cap);
    return RECUR_OK;
}

recur_status recur_lines_batch(const recur_corpus *c, const recur_line_seq *seqs, int64_t n_seqs, const int64_t *which,
                               int64_t B, int64_t T, float *x, float *y, float *lengths)
{
    if (!c || (!seqs && n_seqs > 0) || !which || !x || !y || !lengths || B < 1 || T < 1 || n_seqs < 0)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG,
                               "lines_batch: NULL corpus, sequences, which, x, y or lengths, or B %lld, T %lld < 1, "
                               "or %lld sequences", (long long)B, (long long)T, (long long)n_seqs);
    int64_t eol = recur_corpus_find(c, '\n'), n = recur_corpus_len(c);
    if (eol < 0)
        return recur_error_set(recur_thread_error(), RECUR_ERR_ARG,
                               "lines_batch: the corpus has no newline, the end-of-line symbol");
    for (int64_t b = 0; b < B; b++) {
        int64_t k = which[b];
        if (k < -1 || k >= n_seqs)
            return recur_error_set(recur_thread_error(), RECUR_ERR_ARG,
                                   "lines_batch: column %lld: sequence %lld is outside [-1, %lld)", (long long)b,
                                   (long long)k, (long long)n_seqs);
        if (k < 0) continue;
        const recur_line_seq *s = &seqs[k];
        if (s->steps < 1 || s->steps > T || s->first < 0 || s->len < 0 || s->first + s->steps > s->len + 1 ||
            s->start < 0 || s->start > n - s->len)
            return recur_error_set(recur_thread_error(), RECUR_ERR_ARG,
                                   "lines_batch: column %lld: sequence %lld (line %lld: steps %lld from %lld of a line "
                                   "of %lld symbols at %lld) does not fit %lld steps of a corpus of %lld symbols",
                                   (long long)b, (long long)k, (long long)s->line, (long long)s->steps,
                                   (long long)s->first, (long long)s->len, (long long)s->start, (long long)T,
                                   (long long)n);
    }
    const int64_t *ids = recur_corpus_ids(c);
    for (int64_t b = 0; b < B; b++) {
        const recur_line_seq *s = which[b] >= 0 ? &seqs[which[b]] : NULL;
        int64_t steps = s ? s->steps : 0;
        for (int64_t t = 0; t < T; t++) {
            float xv = 0, yv = 0;
            if (t < steps) {
                int64_t k = s->first + t; /* the step within the line: reads c_k (eol for k = 0), predicts c_(k+1) */
                xv = (float)(k == 0 ? eol : ids[s->start + k - 1]);
                yv = (float)(k < s->len ? ids[s->start + k] : eol);
            }
            x[t * B + b] = xv;
            y[t * B + b] = yv;
        }
        lengths[b] = (float)(s ? steps : 1);
    }
    return RECUR_OK;
}
