/*
 * decode/translator.c — translating with a trained seq2seq model: the
 * encoder runs once over a padded source (a compiled plan), the decoder one
 * step per call (a stepper), from [START] until [END]; greedy and beam
 * search.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/error.h"
#include "recur/passes.h"
#include "recur/translate.h"

struct recur_translator {
    recur_graph *g;
    recur_seq2seq *m;
    int64_t max_src;
    recur_value src, mask;          /* encoder inputs [max_src, 1] */
    recur_value final[RECUR_MAX_CELL_STATES];
    recur_value dec_ids, dec_step; /* the decoder's token sequence [1, 1] and its step value [1] */
    recur_value state[RECUR_MAX_CELL_STATES], logits, w;
    recur_plan *encoder;
    recur_stepper *decoder;
    int n_capture;
    recur_value capture[16];
    float *src_buf, *mask_buf, *logp;
    recur_error error;
};

static recur_status tr_fail(recur_translator *t, recur_status code, const char *what, const char *why)
{
    return recur_error_set(&t->error, code, "%s: %s", what, why);
}

const char *recur_translator_errmsg(const recur_translator *t)
{
    return recur_error_msg(t ? &t->error : NULL, "no translator (NULL)");
}

void recur_translator_free(recur_translator *t)
{
    if (!t) return;
    recur_plan_free(t->encoder);
    recur_stepper_free(t->decoder);
    free(t->src_buf), free(t->mask_buf), free(t->logp);
    free(t);
}

recur_translator *recur_translator_new(recur_graph *g, recur_seq2seq *m, int64_t max_src)
{
    if (!g) return NULL;
    if (!m || max_src < 1) {
        recur_set_error(g, RECUR_ERR_ARG, "translator: a model and max_src >= 1 are required");
        return NULL;
    }
    recur_translator *t = calloc(1, sizeof *t);
    if (!t || !(t->src_buf = calloc((size_t)max_src, sizeof(float))) ||
        !(t->mask_buf = calloc((size_t)max_src, sizeof(float))) ||
        !(t->logp = malloc(sizeof(float) * (size_t)m->opts.tgt_vocab))) {
        recur_translator_free(t);
        recur_set_error(g, RECUR_ERR_NOMEM, "translator: out of memory");
        return NULL;
    }
    t->g = g;
    t->m = m;
    t->max_src = max_src;
    /* Names of this translator's inputs and loops: "<model>.translate", "<model>.translate2", ... (one per call). */
    char prefix[128], buf[160];
    snprintf(prefix, sizeof prefix, "%s.translate", m->name);
    for (int k = 2;; k++) {
        snprintf(buf, sizeof buf, "%s.src", prefix);
        if (!recur_name_taken(g, buf)) break;
        snprintf(prefix, sizeof prefix, "%s.translate%d", m->name, k);
    }
    t->src = recur_input(g, buf, recur_shape2(max_src, 1));
    snprintf(buf, sizeof buf, "%s.src_mask", prefix);
    t->mask = recur_input(g, buf, recur_shape2(max_src, 1));
    snprintf(buf, sizeof buf, "%s.dec_ids", prefix);
    t->dec_ids = recur_input(g, buf, recur_shape2(1, 1));
    recur_value memory;
    recur_loop enc_loop, dec_loop;
    snprintf(buf, sizeof buf, "%s.encoder", prefix);
    recur_status st = recur_ok(t->dec_ids) ? recur_seq2seq_encode(g, m, buf, t->src, t->mask, &memory, t->final, &enc_loop) : recur_errcode(g);
    recur_attention a;
    if (st == RECUR_OK) {
        a = recur_seq2seq_attention(g, m, memory, t->mask);
        snprintf(buf, sizeof buf, "%s.decoder", prefix);
        dec_loop = recur_loop_begin(g, buf, 0);
        st = dec_loop.id >= 0 ? RECUR_OK : recur_errcode(g);
    }
    if (st == RECUR_OK) {
        t->dec_step = recur_loop_input(g, dec_loop, t->dec_ids);
        recur_value x = recur_gather(g, m->tgt_emb, t->dec_step);
        recur_value next[RECUR_MAX_CELL_STATES], o;
        for (int k = 0; k < m->dec.n_state; k++) t->state[k] = recur_loop_state(g, dec_loop, k ? "c" : "h", t->final[k]);
        st = recur_seq2seq_decode_step(g, m, &a, x, t->state, next, &o, &t->w);
        for (int k = 0; k < m->dec.n_state && st == RECUR_OK; k++) st = recur_loop_next(g, dec_loop, t->state[k], next[k]);
        if (st == RECUR_OK) {
            t->logits = recur_bias_add(g, recur_matmul(g, o, m->W_out, 0, 1), m->b_out); /* [1, V] */
            st = recur_ok(t->logits) ? recur_loop_end(g, dec_loop) : recur_errcode(g);
        }
    }
    if (st == RECUR_OK) st = recur_unroll(g);
    if (st == RECUR_OK) {
        recur_value outs[2] = {t->logits, t->w};
        /* one symbol of one sentence a step: its products read weights kept in the streaming kernel's layout */
        recur_compile_opts dec_opts = {.inference = 1, .keep_packed_params = 1};
        t->decoder = recur_stepper_new(g, dec_loop, recur_ok(t->w) ? 2 : 1, outs, &dec_opts);
        st = t->decoder ? RECUR_OK : recur_errcode(g);
    }
    if (st == RECUR_OK) {
        /* The encoder plan computes the decoder's initial states and everything its body captures. */
        t->n_capture = recur_stepper_captures(t->decoder, t->capture, 16);
        recur_value outs[16 + RECUR_MAX_CELL_STATES];
        int n = 0;
        for (int k = 0; k < m->enc.n_state; k++) outs[n++] = t->final[k];
        for (int i = 0; i < t->n_capture && i < 16; i++) outs[n++] = t->capture[i];
        if (t->n_capture > 16) st = recur_set_error(g, RECUR_ERR_UNSUPPORTED, "translator: more than 16 captured values");
        else if (!(t->encoder = recur_compile(g, n, outs, &(recur_compile_opts){.inference = 1}))) st = recur_errcode(g);
    }
    if (st != RECUR_OK) {
        recur_translator_free(t);
        return NULL;
    }
    return t;
}

/* Encodes src and loads the decoder's initial states and captures. */
static recur_status start(recur_translator *t, const int64_t *src, int64_t n)
{
    if (!src || n < 1 || n > t->max_src) {
        char why[128];
        snprintf(why, sizeof why, "a source of %lld tokens (1..%lld allowed)", (long long)n, (long long)t->max_src);
        return tr_fail(t, RECUR_ERR_ARG, "translate", why);
    }
    for (int64_t i = 0; i < t->max_src; i++) {
        t->src_buf[i] = i < n ? (float)src[i] : 0.0f;
        t->mask_buf[i] = i < n ? 1.0f : 0.0f;
    }
    recur_plan *p = t->encoder;
    if (recur_plan_feed(p, t->src, t->src_buf, t->max_src) != RECUR_OK ||
        recur_plan_feed(p, t->mask, t->mask_buf, t->max_src) != RECUR_OK || recur_plan_run(p) != RECUR_OK)
        return tr_fail(t, recur_plan_errcode(p), "encode", recur_plan_errmsg(p));
    for (int k = 0; k < t->m->dec.n_state; k++) {
        int64_t len = recur_shape_numel(recur_value_shape(t->g, t->state[k]));
        if (recur_stepper_set_state(t->decoder, t->state[k], recur_plan_output(p, t->final[k]), len) != RECUR_OK)
            return tr_fail(t, RECUR_ERR_STATE, "decode", recur_stepper_errmsg(t->decoder));
    }
    for (int i = 0; i < t->n_capture; i++) {
        int64_t len = recur_shape_numel(recur_value_shape(t->g, t->capture[i]));
        if (recur_stepper_feed(t->decoder, t->capture[i], recur_plan_output(p, t->capture[i]), len) != RECUR_OK)
            return tr_fail(t, RECUR_ERR_STATE, "decode", recur_stepper_errmsg(t->decoder));
    }
    return RECUR_OK;
}

/* Feeds token `tok`, runs one decoder step, and leaves log-probabilities in t->logp. */
static recur_status decode_one(recur_translator *t, int64_t tok)
{
    float id = (float)tok;
    if (recur_stepper_feed(t->decoder, t->dec_step, &id, 1) != RECUR_OK || recur_stepper_step(t->decoder) != RECUR_OK)
        return tr_fail(t, RECUR_ERR_RUNTIME, "decode", recur_stepper_errmsg(t->decoder));
    const float *z = recur_stepper_output(t->decoder, t->logits);
    int64_t V = t->m->opts.tgt_vocab;
    /* log softmax: z_i - max - log sum exp(z_j - max) */
    float mx = z[0];
    for (int64_t i = 1; i < V; i++) mx = z[i] > mx ? z[i] : mx;
    double sum = 0;
    for (int64_t i = 0; i < V; i++) sum += exp((double)(z[i] - mx));
    float lse = (float)log(sum) + mx;
    for (int64_t i = 0; i < V; i++) t->logp[i] = z[i] - lse;
    /* A translation never contains [START] or [PAD]: neither is a token to choose. */
    const recur_seq2seq_opts *o = &t->m->opts;
    if (o->start_id >= 0 && o->start_id < V) t->logp[o->start_id] = -INFINITY;
    if (o->pad_id >= 0 && o->pad_id < V && o->pad_id != o->end_id) t->logp[o->pad_id] = -INFINITY;
    return RECUR_OK;
}

recur_status recur_translate_greedy(recur_translator *t, const int64_t *src, int64_t n, int64_t *out,
                                    int64_t max_len, int64_t *out_len, float *attn)
{
    if (!t) return RECUR_ERR_ARG;
    if (!out || !out_len || max_len < 1) return tr_fail(t, RECUR_ERR_ARG, "translate", "need an output buffer");
    recur_status st = start(t, src, n);
    int64_t tok = t->m->opts.start_id, len = 0;
    for (int64_t i = 0; st == RECUR_OK && i < max_len; i++) {
        if ((st = decode_one(t, tok)) != RECUR_OK) break;
        if (attn && recur_ok(t->w))
            memcpy(attn + i * t->max_src, recur_stepper_output(t->decoder, t->w), sizeof(float) * (size_t)t->max_src);
        int64_t best = 0;
        for (int64_t v = 1; v < t->m->opts.tgt_vocab; v++)
            if (t->logp[v] > t->logp[best]) best = v;
        if (best == t->m->opts.end_id) break;
        out[len++] = tok = best;
    }
    *out_len = len;
    return st;
}

/* A beam-search hypothesis. */
typedef struct hyp {
    int64_t *tokens;
    int64_t len;
    double score; /* total log-probability */
    int done;     /* ended with [END] */
    float *state; /* the decoder's states after its last token, back to back */
} hyp;

/* A candidate extension: hypothesis `parent` followed by `token` (-1: a finished one kept). */
typedef struct cand {
    int parent;
    int64_t token;
    double score;
} cand;

/* Inserts c into the k best (sorted, best first) of *n candidates. */
static void keep_best(cand *best, int *n, int k, cand c)
{
    if (*n == k && c.score <= best[k - 1].score) return;
    int i = *n < k ? (*n)++ : k - 1;
    while (i > 0 && best[i - 1].score < c.score) {
        best[i] = best[i - 1];
        i--;
    }
    best[i] = c;
}

/* Copies the decoder's states out to buf (save = 1) or back in from it, back to back. */
static void move_states(recur_translator *t, float *buf, int save)
{
    for (int k = 0; k < t->m->dec.n_state; k++) {
        int64_t len = recur_shape_numel(recur_value_shape(t->g, t->state[k]));
        if (save) recur_stepper_get_state(t->decoder, t->state[k], buf, len);
        else recur_stepper_set_state(t->decoder, t->state[k], buf, len);
        buf += len;
    }
}

static double normalised(const hyp *h, float alpha)
{
    return alpha > 0 ? h->score / pow((double)(h->len + 1), alpha) : h->score;
}

recur_status recur_translate_beam(recur_translator *t, const int64_t *src, int64_t n, int beam, float alpha,
                                  int64_t *out, int64_t max_len, int64_t *out_len)
{
    if (!t) return RECUR_ERR_ARG;
    if (!out || !out_len || max_len < 1 || beam < 1 || beam > 64)
        return tr_fail(t, RECUR_ERR_ARG, "translate_beam", "need an output buffer and a beam of 1..64");
    recur_status st = start(t, src, n);
    if (st != RECUR_OK) return st;
    const recur_seq2seq *m = t->m;
    int64_t V = m->opts.tgt_vocab, total = 0;
    for (int k = 0; k < m->dec.n_state; k++) total += recur_shape_numel(recur_value_shape(t->g, t->state[k]));
    /* Two generations of hypotheses, plus each live hypothesis' state after its step. */
    hyp *cur = calloc((size_t)beam, sizeof *cur), *nxt = calloc((size_t)beam, sizeof *nxt);
    float *stepped = malloc(sizeof(float) * (size_t)(beam * total));
    cand *best = malloc(sizeof *best * (size_t)beam);
    int ok = cur && nxt && stepped && best;
    for (int i = 0; ok && i < beam; i++) {
        ok = (cur[i].tokens = malloc(sizeof(int64_t) * (size_t)max_len)) && (nxt[i].tokens = malloc(sizeof(int64_t) * (size_t)max_len)) &&
             (cur[i].state = malloc(sizeof(float) * (size_t)total)) && (nxt[i].state = malloc(sizeof(float) * (size_t)total));
    }
    if (!ok) st = tr_fail(t, RECUR_ERR_NOMEM, "translate_beam", "out of memory");
    int live = 1;
    if (st == RECUR_OK) { /* one hypothesis: [START] with the encoder's context */
        move_states(t, cur[0].state, 1);
        cur[0].len = 0, cur[0].score = 0, cur[0].done = 0;
    }
    for (int64_t step = 0; st == RECUR_OK && step < max_len; step++) {
        int nb = 0, all_done = 1;
        for (int h = 0; h < live && st == RECUR_OK; h++) {
            if (cur[h].done) { /* finished hypotheses compete unchanged */
                keep_best(best, &nb, beam, (cand){h, -1, cur[h].score});
                continue;
            }
            all_done = 0;
            move_states(t, cur[h].state, 0);
            int64_t last = cur[h].len ? cur[h].tokens[cur[h].len - 1] : m->opts.start_id;
            if ((st = decode_one(t, last)) != RECUR_OK) break;
            move_states(t, stepped + h * total, 1);
            for (int64_t v = 0; v < V; v++) keep_best(best, &nb, beam, (cand){h, v, cur[h].score + t->logp[v]});
        }
        if (st != RECUR_OK || all_done) break;
        for (int i = 0; i < nb; i++) {
            const hyp *p = &cur[best[i].parent];
            hyp *q = &nxt[i];
            memcpy(q->tokens, p->tokens, sizeof(int64_t) * (size_t)p->len);
            q->len = p->len;
            q->score = best[i].score;
            q->done = p->done || best[i].token == m->opts.end_id;
            if (best[i].token >= 0 && best[i].token != m->opts.end_id) q->tokens[q->len++] = best[i].token;
            memcpy(q->state, p->done ? p->state : stepped + best[i].parent * total, sizeof(float) * (size_t)total);
        }
        hyp *swap = cur;
        cur = nxt, nxt = swap;
        live = nb;
    }
    if (st == RECUR_OK) {
        int b = 0;
        for (int i = 1; i < live; i++)
            if ((cur[i].done && !cur[b].done) || (cur[i].done == cur[b].done && normalised(&cur[i], alpha) > normalised(&cur[b], alpha)))
                b = i;
        memcpy(out, cur[b].tokens, sizeof(int64_t) * (size_t)cur[b].len);
        *out_len = cur[b].len;
    }
    for (int i = 0; i < beam && cur && nxt; i++) {
        free(cur[i].tokens), free(cur[i].state);
        free(nxt[i].tokens), free(nxt[i].state);
    }
    free(cur), free(nxt), free(stepped), free(best);
    return st;
}
