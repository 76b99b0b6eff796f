/*
 * cli/generate.c — `recur generate CHECKPOINT`: rebuilds the
 * character model from a checkpoint's metadata, restores its weights and
 * writes generated text.
 */
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "sampler.h"
#include "threads.h"

typedef struct gen_args {
    int64_t length, seed, top_k, threads, lines;
    double temperature, top_p;
    const char *prompt, *backend;
} gen_args;

/* Encodes the prompt (default: a newline, or symbol 0 when the text had none) into *ids. */
static int encode_prompt(const recur_corpus *vocab, const char *prompt, int64_t **ids, int64_t *n)
{
    if (!prompt) {
        int64_t nl = recur_corpus_find(vocab, '\n');
        *ids = malloc(sizeof **ids);
        if (!*ids) return cli_error("generate", "out of memory"), CLI_EXIT_FAIL;
        (*ids)[0] = nl >= 0 ? nl : 0;
        *n = 1;
        return CLI_EXIT_OK;
    }
    if (recur_corpus_encode(vocab, prompt, NULL, 0, n) != RECUR_OK)
        return cli_error("generate", "--prompt: %s", recur_data_errmsg()), CLI_EXIT_FAIL;
    if (*n == 0) return cli_usage_error("generate", "--prompt is empty; leave it out to start from a newline");
    *ids = malloc(sizeof **ids * (size_t)*n);
    if (!*ids) return cli_error("generate", "out of memory"), CLI_EXIT_FAIL;
    recur_corpus_encode(vocab, prompt, *ids, *n, n);
    return CLI_EXIT_OK;
}

/* Writes a->length symbols generated after the prompt, the prompt first. */
static int write_text(cli_sampler *s, const recur_corpus *vocab, const int64_t *prompt, int64_t n_prompt,
                      const gen_args *a)
{
    size_t cap = 4 * (size_t)a->length + 1;
    int64_t *out = malloc(sizeof *out * (size_t)(a->length ? a->length : 1));
    char *text = malloc(cap);
    int rc = CLI_EXIT_OK;
    if (!out || !text) {
        cli_error("generate", "out of memory for %lld symbols", (long long)a->length);
        rc = CLI_EXIT_FAIL;
    }
    uint64_t rng = (uint64_t)a->seed;
    cli_sampling how = {.temperature = a->temperature, .top_k = a->top_k, .top_p = a->top_p};
    if (rc == CLI_EXIT_OK && cli_sampler_run(s, prompt, n_prompt, a->length, &how, &rng, out) != RECUR_OK) {
        cli_error("generate", "generating: %s", s->why);
        rc = CLI_EXIT_FAIL;
    }
    if (rc == CLI_EXIT_OK && recur_corpus_decode(vocab, out, a->length, text, cap) != RECUR_OK) {
        cli_error("generate", "decoding: %s", recur_data_errmsg());
        rc = CLI_EXIT_FAIL;
    }
    if (rc == CLI_EXIT_OK) printf("%s%s\n", a->prompt ? a->prompt : "", text);
    free(text);
    free(out);
    return rc;
}

/*
 * A model of lines (recur train --lines) writes a->lines lines (1 when not
 * given), each from a line's start to the newline it writes or a->length
 * symbols, the prompt starting the first.
 */
static int write_lines(cli_sampler *s, const recur_corpus *vocab, const int64_t *prompt, int64_t n_prompt,
                       const gen_args *a)
{
    uint64_t rng = (uint64_t)a->seed;
    cli_sampling how = {.temperature = a->temperature, .top_k = a->top_k, .top_p = a->top_p};
    if (cli_sampler_lines(s, vocab, prompt, a->prompt ? n_prompt : 0, a->lines > 0 ? a->lines : 1, a->length, &how,
                          &rng, stdout) != RECUR_OK)
        return cli_error("generate", "generating: %s", s->why), CLI_EXIT_FAIL;
    return CLI_EXIT_OK;
}

/* Builds the model of the checkpoint, restores it and writes what it generates. */
static int generate(recur_ckpt *ck, const char *path, const gen_args *a)
{
    char why[512];
    cli_model m;
    recur_corpus *vocab = NULL;
    if (cli_model_load_meta(ck, &m, &vocab, why, sizeof why) != RECUR_OK)
        return cli_error("generate", "checkpoint %s: %s", path, why), CLI_EXIT_FAIL;
    int64_t *prompt = NULL, n_prompt = 0;
    int rc = encode_prompt(vocab, a->prompt, &prompt, &n_prompt);
    if (rc == CLI_EXIT_OK && a->lines > 0 && !m.lines)
        rc = cli_usage_error("generate", "--lines: %s is a model of windows of a text, not of lines (recur train "
                                         "--lines); leave --lines out", path);
    recur_graph *g = rc == CLI_EXIT_OK ? recur_graph_new(1) : NULL;
    cli_sampler s = {0};
    if (rc == CLI_EXIT_OK) {
        rc = CLI_EXIT_FAIL;
        if (!g) cli_error("generate", "out of memory");
        else if (cli_sampler_build(g, &m, &s) != RECUR_OK || recur_unroll(g) != RECUR_OK)
            cli_error("generate", "building the model: %s", recur_errmsg(g));
        else if (recur_ckpt_restore_params(g, ck, 1) != RECUR_OK)
            cli_error("generate", "checkpoint %s: %s", path, recur_errmsg(g));
        else if (cli_sampler_compile(&s, a->backend) != RECUR_OK)
            cli_error("generate", "compiling the model: %s", s.why);
        else
            rc = CLI_EXIT_OK;
    }
    if (rc == CLI_EXIT_OK)
        rc = m.lines ? write_lines(&s, vocab, prompt, n_prompt, a) : write_text(&s, vocab, prompt, n_prompt, a);
    free(prompt);
    cli_sampler_free(&s);
    recur_graph_free(g);
    recur_corpus_free(vocab);
    return rc;
}

int cli_generate(int argc, char **argv)
{
    gen_args a = {.length = 200, .seed = 1, .top_p = 1};
    cli_opt opts[] = {
        {"length", 'n', CLI_INT, &a.length, 0, 10000000, "N",
         "symbols to generate (default 200); with a model of lines, the most symbols of a line", 0},
        {"lines", 0, CLI_INT, &a.lines, 1, 1000000, "N",
         "lines to generate with a model trained on lines (recur train --lines; default 1)", 0},
        {"prompt", 'p', CLI_STR, &a.prompt, 0, 0, "TEXT",
         "text to start from, printed first (default: start after a newline, not printed)", 0},
        {"temperature", 't', CLI_FLOAT, &a.temperature, 0, 100, "X",
         "0: greedy, the likeliest symbol each step (default); > 0: sample, sharper below 1", 0},
        {"top-k", 'k', CLI_INT, &a.top_k, 0, 1 << 21, "N",
         "with a temperature: draw among the N likeliest symbols only (default 0: all)", 0},
        {"top-p", 0, CLI_FLOAT, &a.top_p, 1e-9, 1, "P",
         "with a temperature: draw among the fewest likeliest symbols of probability P (nucleus; default 1: all)", 0},
        {"seed", 's', CLI_INT, &a.seed, 0, 9e15, "N", "seed of the sampling (default 1)", 0},
        {"threads", 'j', CLI_INT, &a.threads, 1, 4096, "N", "threads recur may use (default: OMP_NUM_THREADS if set, else the cores)", 0},
        {"backend", 0, CLI_STR, &a.backend, 0, 0, "NAME",
         "reference or onednn (default: $RECUR_BACKEND, else onednn)", 0},
    };
    cli_cmd cmd = {
        .name = "generate",
        .usage = "recur generate CHECKPOINT [options]",
        .summary = "Rebuilds the character model saved by 'recur train' from the checkpoint's metadata, feeds it\n"
                   "the prompt one symbol at a time and writes the prompt and the generated text to stdout: the\n"
                   "likeliest symbol at each step, or with --temperature a draw from the model's distribution,\n"
                   "restricted to the --top-k likeliest symbols and then to the nucleus of probability --top-p.\n"
                   "A model trained on lines (recur train --lines) writes lines: each starts as a line does, after\n"
                   "a newline (the prompt, if any, begins the first), and ends where the model writes a newline.",
        .opts = opts,
        .n_opts = (int)(sizeof opts / sizeof opts[0]),
        .min_pos = 1,
        .max_pos = 1,
    };
    const char *pos[1];
    int n_pos, r = cli_parse(&cmd, argc, argv, pos, &n_pos);
    if (r == CLI_HELP_SHOWN) return CLI_EXIT_OK;
    if (r != CLI_PARSED) return r;
    if (a.backend && !recur_backend_available(a.backend))
        return cli_usage_error("generate", "--backend: no backend called '%s' (reference, onednn)", a.backend);
    if (!a.backend) a.backend = cli_default_backend();
    if (a.threads) cli_set_threads(a.threads);
    recur_ckpt *ck = cli_load_checkpoint("generate", pos[0]);
    if (!ck) return CLI_EXIT_FAIL;
    int rc = generate(ck, pos[0], &a);
    recur_ckpt_free(ck);
    return rc;
}
