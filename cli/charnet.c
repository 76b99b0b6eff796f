/*
 * cli/charnet.c — the character-level language model of the
 * recur tool and its checkpoint metadata.
 */
#include "charnet.h"

#include <stdlib.h>
#include <string.h>

const char *cli_cell_layer(recur_cell_kind cell)
{
    switch (cell) {
    case RECUR_LSTM: return "lstm";
    case RECUR_GRU: return "gru";
    default: return "rnn";
    }
}

int cli_cell_parse(const char *name, recur_cell_kind *cell)
{
    if (strcmp(name, "lstm") == 0) *cell = RECUR_LSTM;
    else if (strcmp(name, "gru") == 0) *cell = RECUR_GRU;
    else if (strcmp(name, "rnn") == 0 || strcmp(name, "rnn_tanh") == 0) *cell = RECUR_RNN_TANH;
    else return -1;
    return 0;
}

recur_status cli_net_over(recur_graph *g, const cli_model *m, recur_value ids, recur_value h0, recur_value c0,
                          cli_net *out)
{
    return cli_net_over_lengths(g, m, ids, RECUR_NONE, h0, c0, out);
}

/*
 * logits = dense_out(dropout(rnn(x))), x = one_hot(ids, V) [T, B, V] or
 * emb.weight[ids] [T, B, E]; the recurrent layer starts from h0 (and c0)
 * when they are given, and stops each sequence at its length when lengths are.
 */
recur_status cli_net_over_lengths(recur_graph *g, const cli_model *m, recur_value ids, recur_value lengths,
                                  recur_value h0, recur_value c0, cli_net *out)
{
    recur_shape s = recur_value_shape(g, ids);
    memset(out, 0, sizeof *out);
    out->T = s.d[0];
    out->B = s.d[1];
    out->ids = ids;
    out->h0 = h0, out->c0 = c0;
    out->h_n = out->c_n = RECUR_NONE;
    recur_value x = m->embed > 0 ? recur_embedding(g, "emb", ids, m->vocab, m->embed) : recur_one_hot(g, ids, m->vocab);
    if (!recur_ok(x)) return recur_errcode(g);
    recur_rnn rnn;
    recur_rnn_opts o = {.kind = m->cell,
                        .input_size = m->embed > 0 ? m->embed : m->vocab,
                        .hidden = m->hidden,
                        .layers = (int)m->layers,
                        .dropout = (float)m->dropout,
                        .seed = m->seed,
                        .lengths = recur_ok(lengths) ? &lengths : NULL};
    recur_status st = recur_rnn_new(g, cli_cell_layer(m->cell), &o, x, h0, c0, &rnn);
    if (st != RECUR_OK) return st;
    out->h_n = rnn.h_n;
    out->c_n = rnn.c_n;
    recur_value top = rnn.outputs;
    if (m->dropout > 0) top = recur_dropout(g, top, (float)m->dropout, m->seed ^ 0x5DEECE66DULL);
    out->logits = recur_dense(g, "out", top, m->vocab, 1);
    return recur_ok(out->logits) ? RECUR_OK : recur_errcode(g);
}

recur_status cli_net_build(recur_graph *g, const cli_model *m, const char *prefix, int64_t T, int64_t B, int carry,
                           cli_net *out)
{
    char name[128];
    recur_value h0 = RECUR_NONE, c0 = RECUR_NONE;
    snprintf(name, sizeof name, "%sids", prefix);
    recur_value ids = recur_input(g, name, recur_shape2(T, B));
    if (carry) {
        recur_shape st = recur_shape3(m->layers, B, m->hidden);
        snprintf(name, sizeof name, "%sh0", prefix);
        h0 = recur_input(g, name, st);
        if (m->cell == RECUR_LSTM) {
            snprintf(name, sizeof name, "%sc0", prefix);
            c0 = recur_input(g, name, st);
        }
    }
    if (!recur_ok(ids)) return recur_errcode(g);
    return cli_net_over(g, m, ids, h0, c0, out);
}

/* The model as recur_model_instance builds it: inputs ids, h0 (, c0); outputs logits, h_n (, c_n). */
static recur_status net_model_build(recur_graph *g, void *user, const recur_value *in, recur_value *out)
{
    const cli_model *m = user;
    cli_net net;
    int lstm = m->cell == RECUR_LSTM;
    recur_status st = cli_net_over(g, m, in[0], in[1], lstm ? in[2] : RECUR_NONE, &net);
    out[0] = net.logits, out[1] = net.h_n;
    if (lstm) out[2] = net.c_n;
    return st;
}

recur_status cli_net_instance(recur_graph *g, const cli_model *m, const char *prefix, int64_t T, int64_t B,
                              cli_net *out)
{
    static const char *const names[] = {"ids", "h0", "c0"};
    int n = m->cell == RECUR_LSTM ? 3 : 2;
    recur_model model = {.build = net_model_build, .user = (void *)m, .n_inputs = n, .n_outputs = n,
                         .input_names = names};
    recur_shape st = recur_shape3(m->layers, B, m->hidden), shapes[3] = {recur_shape2(T, B), st, st};
    recur_value in[3], res[3];
    memset(out, 0, sizeof *out);
    recur_status status = recur_model_instance(g, &model, prefix, shapes, in, res);
    if (status != RECUR_OK) return status;
    *out = (cli_net){.ids = in[0], .logits = res[0], .h0 = in[1], .c0 = n == 3 ? in[2] : RECUR_NONE,
                     .h_n = res[1], .c_n = n == 3 ? res[2] : RECUR_NONE, .T = T, .B = B};
    return RECUR_OK;
}

char *cli_vocab_string(const recur_corpus *c, char *why, size_t len)
{
    int64_t V = recur_corpus_vocab_size(c);
    if (recur_corpus_symbol(c, 0) == 0) { /* ids follow code points, so a NUL would be id 0 */
        snprintf(why, len, "the text contains a NUL character, which a checkpoint's vocabulary cannot hold");
        return NULL;
    }
    int64_t *ids = malloc(sizeof *ids * (size_t)V);
    size_t cap = 4 * (size_t)V + 1; /* a code point takes at most 4 bytes of UTF-8 */
    char *s = malloc(cap);
    if (!ids || !s) {
        free(ids);
        free(s);
        snprintf(why, len, "out of memory for a vocabulary of %lld symbols", (long long)V);
        return NULL;
    }
    for (int64_t i = 0; i < V; i++) ids[i] = i;
    recur_status st = recur_corpus_decode(c, ids, V, s, cap);
    free(ids);
    if (st != RECUR_OK) {
        snprintf(why, len, "%s", recur_data_errmsg());
        free(s);
        return NULL;
    }
    return s;
}

recur_status cli_model_save_meta(const cli_model *m, const char *vocab, recur_ckpt *ck)
{
    recur_status st = recur_ckpt_set_str(ck, "model.kind", "char-rnn");
    if (st == RECUR_OK) st = recur_ckpt_set_str(ck, "model.cell", recur_cell_kind_name(m->cell));
    if (st == RECUR_OK) st = recur_ckpt_set_str(ck, "model.vocab", vocab);
    if (st == RECUR_OK) st = recur_ckpt_set_int(ck, "model.vocab_size", m->vocab);
    if (st == RECUR_OK) st = recur_ckpt_set_int(ck, "model.hidden", m->hidden);
    if (st == RECUR_OK) st = recur_ckpt_set_int(ck, "model.layers", m->layers);
    if (st == RECUR_OK) st = recur_ckpt_set_int(ck, "model.embed", m->embed);
    if (st == RECUR_OK && m->lines) st = recur_ckpt_set_int(ck, "model.lines", 1);
    return st;
}

/* Reads the int metadata `key` into *v and checks lo <= *v <= hi. */
static recur_status meta_int(recur_ckpt *ck, const char *key, int64_t lo, int64_t hi, int64_t *v, char *why,
                             size_t len)
{
    if (recur_ckpt_get_int(ck, key, v) != RECUR_OK) {
        snprintf(why, len, "%s", recur_ckpt_errmsg(ck));
        return RECUR_ERR_FORMAT;
    }
    if (*v < lo || *v > hi) {
        snprintf(why, len, "metadata %s = %lld is outside [%lld, %lld]", key, (long long)*v, (long long)lo,
                 (long long)hi);
        return RECUR_ERR_FORMAT;
    }
    return RECUR_OK;
}

/* Checks that ck holds tensor `name` of shape [d0, d1]. */
static recur_status has_tensor(recur_ckpt *ck, const char *name, int64_t d0, int64_t d1, char *why, size_t len)
{
    int i = recur_ckpt_find(ck, name);
    recur_shape want = recur_shape2(d0, d1);
    if (i >= 0 && recur_shape_equal(recur_ckpt_at(ck, i).shape, want)) return RECUR_OK;
    char shp[64];
    snprintf(why, len, "the metadata describes a model with tensor %s of shape %s, which the checkpoint %s", name,
             recur_shape_str(want, shp, sizeof shp), i >= 0 ? "has in another shape" : "lacks");
    return RECUR_ERR_FORMAT;
}

/*
 * The sizes of the metadata must be those of the tensors in the file
 * (out.weight [V, H], the last layer's weight_hh [G H, H], emb.weight
 * [V, E]): a model is built from them, and the file's own size then bounds
 * what building it allocates.
 */
static recur_status check_tensors(recur_ckpt *ck, const cli_model *m, char *why, size_t len)
{
    char name[64];
    int64_t gates = m->cell == RECUR_LSTM ? 4 : m->cell == RECUR_GRU ? 3 : 1;
    snprintf(name, sizeof name, "%s.weight_hh_l%lld", cli_cell_layer(m->cell), (long long)m->layers - 1);
    recur_status st = has_tensor(ck, "out.weight", m->vocab, m->hidden, why, len);
    if (st == RECUR_OK) st = has_tensor(ck, name, gates * m->hidden, m->hidden, why, len);
    if (st == RECUR_OK && m->embed > 0) st = has_tensor(ck, "emb.weight", m->vocab, m->embed, why, len);
    return st;
}

recur_status cli_model_load_meta(recur_ckpt *ck, cli_model *m, recur_corpus **vocab, char *why, size_t len)
{
    const char *kind, *cell, *v;
    *vocab = NULL;
    m->dropout = 0;
    m->seed = 0;
    if (recur_ckpt_get_str(ck, "model.kind", &kind) != RECUR_OK || strcmp(kind, "char-rnn") != 0) {
        snprintf(why, len, "not a character model of the recur tool (no metadata model.kind = \"char-rnn\")");
        return RECUR_ERR_FORMAT;
    }
    if (recur_ckpt_get_str(ck, "model.cell", &cell) != RECUR_OK) {
        snprintf(why, len, "%s", recur_ckpt_errmsg(ck));
        return RECUR_ERR_FORMAT;
    }
    if (cli_cell_parse(cell, &m->cell) != 0) {
        snprintf(why, len, "metadata model.cell = \"%s\" is not lstm, gru or rnn_tanh", cell);
        return RECUR_ERR_FORMAT;
    }
    recur_status st = meta_int(ck, "model.vocab_size", 1, 1 << 21, &m->vocab, why, len);
    if (st == RECUR_OK) st = meta_int(ck, "model.hidden", 1, 1 << 16, &m->hidden, why, len);
    if (st == RECUR_OK) st = meta_int(ck, "model.layers", 1, 8, &m->layers, why, len);
    if (st == RECUR_OK) st = meta_int(ck, "model.embed", 0, 1 << 16, &m->embed, why, len);
    int64_t lines = 0; /* absent: a model of windows (or older than the key) */
    if (st == RECUR_OK && recur_ckpt_get_int(ck, "model.lines", &lines) != RECUR_ERR_ARG)
        st = meta_int(ck, "model.lines", 0, 1, &lines, why, len);
    m->lines = (int)lines;
    if (st == RECUR_OK) st = check_tensors(ck, m, why, len);
    if (st != RECUR_OK) return st;
    if (recur_ckpt_get_str(ck, "model.vocab", &v) != RECUR_OK) {
        snprintf(why, len, "%s", recur_ckpt_errmsg(ck));
        return RECUR_ERR_FORMAT;
    }
    /* The string's symbols must be distinct and increasing: then the corpus
     * made of it numbers them as the model does (id i is the i-th symbol). */
    recur_corpus *c = recur_corpus_from_text(v, strlen(v));
    int ordered = c && recur_corpus_len(c) == m->vocab && recur_corpus_vocab_size(c) == m->vocab;
    for (int64_t i = 0; ordered && i < m->vocab; i++) ordered = recur_corpus_ids(c)[i] == i;
    if (!ordered) {
        snprintf(why, len,
                 "metadata model.vocab does not hold model.vocab_size = %lld distinct symbols in increasing order",
                 (long long)m->vocab);
        recur_corpus_free(c);
        return RECUR_ERR_FORMAT;
    }
    *vocab = c;
    return RECUR_OK;
}
