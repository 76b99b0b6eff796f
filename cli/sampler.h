/*
 * cli/sampler.h — text generation with the character model: an
 * instance over one step of one sequence whose final states are carried
 * into its initial states (recur_tbptt), fed a prompt symbol by symbol and
 * then its own choices, greedy or sampled with a temperature, among the
 * top k symbols or the nucleus of probability p.
 *
 *   cli_sampler s;
 *   cli_sampler_build(g, &model, &s);    // an instance of one step (recur_model_instance)
 *   recur_unroll(g);
 *   cli_sampler_compile(&s, NULL);
 *   cli_sampling how = {.temperature = 0.5, .top_k = 10, .top_p = 0.9};
 *   cli_sampler_run(&s, prompt, n_prompt, n, &how, &rng, out);
 *   cli_sampler_free(&s);
 */
#ifndef RECUR_CLI_SAMPLER_H
#define RECUR_CLI_SAMPLER_H

#include <stdio.h>

#include "charnet.h"

/* A symbol and its logit, to rank symbols by probability. */
typedef struct cli_ranked {
    float logit;
    int64_t id;
} cli_ranked;

typedef struct cli_sampler {
    recur_graph *g;
    cli_net net;
    recur_plan *plan;
    recur_tbptt *carry;
    cli_ranked *order; /* room for V symbols, to rank them (top-k, top-p) */
    const char *why; /* the reason of the last failure (the plan's or the graph's message) */
} cli_sampler;

/* How the next symbol is chosen from the model's logits. */
typedef struct cli_sampling {
    double temperature; /* 0: greedy, the likeliest symbol; > 0: a draw, sharper below 1 */
    int64_t top_k;      /* > 0: draw among the top_k likeliest symbols only */
    double top_p;       /* < 1: draw among the fewest likeliest symbols holding probability top_p (nucleus) */
} cli_sampling;

/*
 * A generator's state: splitmix64, whose outputs are uniform 64-bit
 * numbers (Steele, Lea and Flood 2014): x += 0x9E3779B97F4A7C15, then
 * z = x mixed by two xor-shift-multiply rounds and a final xor-shift.
 */
uint64_t cli_rand_next(uint64_t *state);

/* A uniform double in [0, 1): the top 53 bits of cli_rand_next. */
double cli_rand_uniform(uint64_t *state);

/*
 * The next symbol from logits l[0..V): with temperature 0 the argmax (the
 * lowest id among ties), else a draw from
 *   p_i = exp((l_i - max l) / T) / sum_j exp((l_j - max l) / T)
 * restricted, in this order, to the top_k largest p_i (ties: lower ids
 * first), then to the fewest of those, likeliest first, whose
 * probabilities renormalised over the kept symbols sum to at least top_p
 * (Holtzman et al.'s nucleus), and renormalised over what is left (the
 * order of Hugging Face's top-k and top-p warpers). `order` has room for V
 * symbols (used when top_k or top_p restricts).
 */
int64_t cli_sample(const float *logits, int64_t V, const cli_sampling *how, cli_ranked *order, uint64_t *rng);

/* Builds the one-step instance of the model (inputs "gen.ids", "gen.h0", "gen.c0") in g, unrolled: cli_net_instance. */
recur_status cli_sampler_build(recur_graph *g, const cli_model *m, cli_sampler *s);

/* After unrolling: compiles the step plan for inference on `backend` (NULL: the default). */
recur_status cli_sampler_compile(cli_sampler *s, const char *backend);

/*
 * From zero states, feeds prompt[0..n_prompt) (n_prompt >= 1) and then n
 * symbols of its own, each chosen from the logits of the step before by
 * cli_sample, and writes those n ids to out.
 */
recur_status cli_sampler_run(cli_sampler *s, const int64_t *prompt, int64_t n_prompt, int64_t n,
                             const cli_sampling *how, uint64_t *rng, int64_t *out);

/*
 * cli_sampler_run that stops after writing the symbol `stop` (-1: never):
 * at most n symbols, *n_out of them written to out, `stop` the last when
 * it came.
 */
recur_status cli_sampler_run_until(cli_sampler *s, const int64_t *prompt, int64_t n_prompt, int64_t n, int64_t stop,
                                   const cli_sampling *how, uint64_t *rng, int64_t *out, int64_t *n_out);

/*
 * Lines from a model trained on lines (recur train --lines): each from
 * zero states after the end-of-line symbol (the newline of vocab), the
 * first one going on from prompt[0..n_prompt) (n_prompt may be 0), ends
 * where the model writes the newline or after max symbols of its own; each
 * is written to f, its prompt included, with a newline. RECUR_OK, or the
 * failure's status with the reason in s->why.
 */
recur_status cli_sampler_lines(cli_sampler *s, const recur_corpus *vocab, const int64_t *prompt, int64_t n_prompt,
                               int64_t n_lines, int64_t max, const cli_sampling *how, uint64_t *rng, FILE *f);

/* Frees the plan, the carrier and the scratch (not the graph). */
void cli_sampler_free(cli_sampler *s);

#endif
