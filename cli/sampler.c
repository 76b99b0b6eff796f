/*
 * cli/sampler.c — greedy, temperature, top-k and nucleus generation
 * from the character model, one symbol per step.
 */
#include "sampler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t cli_rand_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double cli_rand_uniform(uint64_t *state) { return (double)(cli_rand_next(state) >> 11) * 0x1.0p-53; }

/* Orders symbols by decreasing logit, the lower id first among equal ones. */
static int by_logit(const void *a, const void *b)
{
    const cli_ranked *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

int64_t cli_sample(const float *logits, int64_t V, const cli_sampling *how, cli_ranked *order, uint64_t *rng)
{
    int64_t best = 0;
    for (int64_t i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    double T = how->temperature;
    if (T <= 0) return best;
#define WEIGHT(i) exp(((double)logits[i] - (double)logits[best]) / T) /* p_i times the sum, max 1 */
    int restrict_k = how->top_k > 0 && how->top_k < V, restrict_p = how->top_p < 1;
    if (!restrict_k && !restrict_p) {
        double total = 0;
        for (int64_t i = 0; i < V; i++) total += WEIGHT(i);
        /* Walk the cumulative distribution to u * total; rounding may leave u past the
         * last step, which then falls on the last symbol. */
        double u = cli_rand_uniform(rng) * total, acc = 0;
        for (int64_t i = 0; i < V; i++) {
            acc += WEIGHT(i);
            if (u < acc) return i;
        }
        return V - 1;
    }
    for (int64_t i = 0; i < V; i++) order[i] = (cli_ranked){logits[i], i};
    qsort(order, (size_t)V, sizeof *order, by_logit);
    int64_t m = restrict_k ? how->top_k : V; /* keep order[0..m) */
    double total = 0;
    for (int64_t j = 0; j < m; j++) total += WEIGHT(order[j].id);
    if (restrict_p) { /* the fewest of them whose share reaches top_p */
        double acc = 0;
        for (int64_t j = 0; j < m; j++) {
            acc += WEIGHT(order[j].id);
            if (acc >= how->top_p * total) {
                m = j + 1;
                total = acc;
                break;
            }
        }
    }
    double u = cli_rand_uniform(rng) * total, acc = 0;
    for (int64_t j = 0; j < m; j++) {
        acc += WEIGHT(order[j].id);
        if (u < acc) return order[j].id;
    }
    return order[m - 1].id;
#undef WEIGHT
}

recur_status cli_sampler_build(recur_graph *g, const cli_model *m, cli_sampler *s)
{
    memset(s, 0, sizeof *s);
    s->g = g;
    s->why = "";
    recur_status st = cli_net_instance(g, m, "gen.", 1, 1, &s->net); /* one step of one sequence */
    if (st != RECUR_OK) s->why = recur_errmsg(g);
    return st;
}

recur_status cli_sampler_compile(cli_sampler *s, const char *backend)
{
    cli_net *n = &s->net;
    recur_compile_opts o = {.backend = backend, .inference = 1, .keep_packed_params = 1}; /* (optimizer steps repack) */
    int lstm = recur_ok(n->c0);
    recur_value outs[3] = {n->logits, n->h_n, n->c_n};
    s->plan = recur_compile(s->g, lstm ? 3 : 2, outs, &o);
    if (!s->plan) {
        s->why = recur_errmsg(s->g);
        return recur_errcode(s->g);
    }
    recur_value init[2] = {n->h0, n->c0}, final[2] = {n->h_n, n->c_n};
    s->carry = recur_tbptt_new(s->plan, lstm ? 2 : 1, init, final);
    if (!s->carry) {
        s->why = recur_plan_errmsg(s->plan);
        return recur_plan_errcode(s->plan);
    }
    int64_t V = recur_value_shape(s->g, n->logits).d[2];
    if (!(s->order = malloc(sizeof *s->order * (size_t)V))) {
        s->why = "out of memory";
        return RECUR_ERR_NOMEM;
    }
    return RECUR_OK;
}

/* Feeds symbol id and runs one step, carrying the states. */
static recur_status step(cli_sampler *s, int64_t id)
{
    float x = (float)id;
    recur_status st = recur_plan_feed(s->plan, s->net.ids, &x, 1);
    if (st == RECUR_OK) st = recur_tbptt_run(s->carry);
    if (st != RECUR_OK) s->why = recur_plan_errmsg(s->plan);
    return st;
}

recur_status cli_sampler_run(cli_sampler *s, const int64_t *prompt, int64_t n_prompt, int64_t n,
                             const cli_sampling *how, uint64_t *rng, int64_t *out)
{
    int64_t n_out;
    return cli_sampler_run_until(s, prompt, n_prompt, n, -1, how, rng, out, &n_out);
}

recur_status cli_sampler_run_until(cli_sampler *s, const int64_t *prompt, int64_t n_prompt, int64_t n, int64_t stop,
                                   const cli_sampling *how, uint64_t *rng, int64_t *out, int64_t *n_out)
{
    *n_out = 0;
    if (!s->carry || n_prompt < 1) {
        s->why = "the sampler needs a compiled plan and a prompt of at least one symbol";
        return RECUR_ERR_ARG;
    }
    recur_status st = recur_tbptt_reset(s->carry);
    for (int64_t i = 0; st == RECUR_OK && i < n_prompt; i++) st = step(s, prompt[i]);
    int64_t V = recur_value_shape(s->g, s->net.logits).d[2];
    for (int64_t i = 0; st == RECUR_OK && i < n; i++) {
        const float *logits = recur_plan_output(s->plan, s->net.logits);
        if (!logits) {
            s->why = recur_plan_errmsg(s->plan);
            return recur_plan_errcode(s->plan);
        }
        out[i] = cli_sample(logits, V, how, s->order, rng);
        *n_out = i + 1;
        if (out[i] == stop) break;
        if (i + 1 < n) st = step(s, out[i]);
    }
    if (st != RECUR_OK && !*s->why) s->why = recur_plan_errmsg(s->plan);
    return st;
}

recur_status cli_sampler_lines(cli_sampler *s, const recur_corpus *vocab, const int64_t *prompt, int64_t n_prompt,
                               int64_t n_lines, int64_t max, const cli_sampling *how, uint64_t *rng, FILE *f)
{
    int64_t eol = recur_corpus_find(vocab, '\n'), n = 0, *ids = malloc(sizeof *ids * (size_t)(n_prompt + max + 1));
    size_t cap = 4 * (size_t)(n_prompt + max) + 1;
    char *text = malloc(cap);
    recur_status st = ids && text ? RECUR_OK : RECUR_ERR_NOMEM;
    if (st != RECUR_OK) s->why = "out of memory for a line";
    if (st == RECUR_OK && eol < 0) {
        s->why = "the vocabulary has no newline, the end-of-line symbol";
        st = RECUR_ERR_ARG;
    }
    for (int64_t k = 0; st == RECUR_OK && k < n_lines; k++) {
        int64_t m = k == 0 ? n_prompt : 0; /* the first line goes on from the prompt */
        ids[0] = eol;                      /* a line starts after the end of the one before */
        if (m) memcpy(ids + 1, prompt, sizeof *ids * (size_t)m);
        st = cli_sampler_run_until(s, ids, 1 + m, max, eol, how, rng, ids + 1 + m, &n);
        if (st != RECUR_OK) break;
        if (n > 0 && ids[m + n] == eol) n--; /* the end of the line is the newline written below */
        if (recur_corpus_decode(vocab, ids + 1, m + n, text, cap) != RECUR_OK) {
            s->why = recur_data_errmsg();
            st = recur_data_errcode();
            break;
        }
        fprintf(f, "%s\n", text);
    }
    free(ids);
    free(text);
    return st;
}

void cli_sampler_free(cli_sampler *s)
{
    recur_tbptt_free(s->carry);
    recur_plan_free(s->plan);
    free(s->order);
    s->carry = NULL;
    s->plan = NULL;
    s->order = NULL;
}
