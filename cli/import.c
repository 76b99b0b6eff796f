/*
 * cli/import.c — `recur import MODEL.onnx -o MODEL.ckpt`: imports an ONNX
 * model (recur_onnx_import), prints what it became (inputs, outputs,
 * loops, parameters) and saves its parameters as a checkpoint.
 *
 * The model's metadata_props become the checkpoint's metadata: a value
 * written as a decimal integer becomes an integer entry, any other (and
 * model.vocab, a string of symbols) a string. A model exported from
 * PyTorch with the metadata of a character model (model.kind "char-rnn",
 * model.cell, model.vocab, model.vocab_size, model.hidden, model.layers,
 * model.embed; cli/charnet.h) and the layer names emb, lstm/gru/rnn and
 * out gives a checkpoint that `recur generate` runs; the command says
 * whether it does.
 *
 * Also `recur draw MODEL.onnx`: the imported model drawn rolled or
 * unrolled (cli_draw_onnx).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "charnet.h"
#include "cli.h"
#include "recur/draw.h"
#include "recur/onnx.h"

/* Parses "NAME=N,NAME=N" into dims (names point into a copy kept in buf). */
static int parse_dims(char *buf, recur_onnx_dim *dims, int cap)
{
    int n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '='), *end;
        if (!eq || eq == tok || n == cap) return -1;
        *eq = 0;
        errno = 0;
        long long v = strtoll(eq + 1, &end, 10);
        if (errno || *end || end == eq + 1 || v < 1 || v > (1LL << 31)) return -1;
        dims[n].name = tok;
        dims[n++].value = v;
    }
    return n;
}

/* 1 if s is a decimal integer as a metadata value writes one ("-12", "40"; no sign-only, no leading zeros). */
static int is_integer(const char *s)
{
    const char *p = s + (*s == '-');
    if (!*p || (p[0] == '0' && p[1]) || strlen(p) > 18) return 0;
    for (; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    return 1;
}

static void print_io(const char *what, const recur_onnx_io *io, int n, recur_graph *g)
{
    for (int i = 0; i < n; i++) {
        char shape[64];
        printf("  %s %-16s %s\n", what, io[i].name, recur_shape_str(recur_value_shape(g, io[i].value), shape, sizeof shape));
    }
}

static int import_model(const char *src, const char *out, const char *dims_arg)
{
    recur_onnx_dim dims[16];
    char buf[512];
    recur_onnx_import_opts o = {.dims = dims, .default_dim = 1}; /* the checkpoint holds no shapes of the inputs */
    if (dims_arg) {
        snprintf(buf, sizeof buf, "%s", dims_arg);
        if ((o.n_dims = parse_dims(buf, dims, 16)) < 0)
            return cli_usage_error("import", "--dims: '%s' is not a list NAME=N,NAME=N (N >= 1)", dims_arg);
    }
    recur_graph *g = recur_graph_new(1);
    if (!g) return cli_error("import", "out of memory"), CLI_EXIT_FAIL;
    recur_onnx_model m;
    int rc = CLI_EXIT_FAIL;
    recur_ckpt *ck = NULL;
    if (recur_onnx_import(g, src, &o, &m) != RECUR_OK) {
        cli_error("import", "%s", recur_errmsg(g));
        recur_graph_free(g);
        return CLI_EXIT_FAIL;
    }
    printf("%s: ONNX model by %s, op set %lld\n", src, m.producer[0] ? m.producer : "(unknown)", (long long)m.opset);
    print_io("input ", m.inputs, m.n_inputs, g);
    print_io("output", m.outputs, m.n_outputs, g);
    for (int i = 0; i < recur_loop_count(g); i++) {
        recur_loop l = recur_loop_at(g, i);
        printf("  loop   %-16s %lld steps%s\n", recur_loop_name(g, l), (long long)recur_loop_length(g, l),
               recur_loop_is_reverse(g, l) ? ", reverse" : "");
    }
    int n_params = recur_params(g, NULL, 0);
    int64_t numel = 0;
    recur_value *params = malloc(sizeof *params * (size_t)(n_params ? n_params : 1));
    if (!params) {
        cli_error("import", "out of memory");
        goto done;
    }
    recur_params(g, params, n_params);
    for (int i = 0; i < n_params; i++) numel += recur_shape_numel(recur_value_shape(g, params[i]));
    free(params);
    printf("  %d parameters, %lld values\n", n_params, (long long)numel);
    if (!(ck = recur_ckpt_from_params(g))) {
        cli_error("import", "%s", recur_errmsg(g));
        goto done;
    }
    recur_status st = recur_ckpt_set_str(ck, "onnx.source", src);
    for (int i = 0; i < m.n_meta && st == RECUR_OK; i++) {
        const char *k = m.meta_keys[i], *v = m.meta_values[i];
        st = is_integer(v) && strcmp(k, "model.vocab") != 0 ? recur_ckpt_set_int(ck, k, strtoll(v, NULL, 10))
                                                           : recur_ckpt_set_str(ck, k, v);
    }
    if (st != RECUR_OK || recur_ckpt_save(ck, out) != RECUR_OK) {
        cli_error("import", "%s", recur_ckpt_errmsg(ck));
        goto done;
    }
    printf("wrote %s\n", out);
    const char *kind;
    if (recur_ckpt_get_str(ck, "model.kind", &kind) == RECUR_OK && strcmp(kind, "char-rnn") == 0) {
        cli_model cm;
        recur_corpus *vocab = NULL;
        char why[512];
        if (cli_model_load_meta(ck, &cm, &vocab, why, sizeof why) == RECUR_OK)
            printf("a character model: 'recur generate %s' runs it\n", out);
        else
            printf("model.kind is char-rnn but 'recur generate' cannot run it: %s\n", why);
        recur_corpus_free(vocab);
    }
    rc = CLI_EXIT_OK;
done:
    recur_ckpt_free(ck);
    recur_onnx_model_clear(&m);
    recur_graph_free(g);
    return rc;
}

int cli_is_onnx(const char *path)
{
    size_t n = strlen(path);
    return n > 5 && strcmp(path + n - 5, ".onnx") == 0;
}

int cli_draw_onnx(const char *path, const char *out, int view, int level, const char *title, int max_steps, int64_t steps)
{
    if (view == RECUR_VIEW_BACKWARD)
        return cli_usage_error("draw", "an ONNX model is drawn rolled or unrolled (the backward view needs a loss)");
    recur_graph *g = recur_graph_new(1);
    if (!g) return cli_error("draw", "out of memory"), CLI_EXIT_FAIL;
    recur_onnx_import_opts o = {.default_dim = steps};
    recur_onnx_model m;
    int rc = CLI_EXIT_FAIL;
    if (recur_onnx_import(g, path, &o, &m) != RECUR_OK) {
        cli_error("draw", "%s", recur_errmsg(g));
        recur_graph_free(g);
        return rc;
    }
    recur_value outs[RECUR_ONNX_MAX_IO];
    for (int i = 0; i < m.n_outputs; i++) outs[i] = m.outputs[i].value;
    recur_draw_opts d = {.view = (recur_draw_view)view, .level = (recur_draw_level)level, .title = title,
                         .max_steps = max_steps, .hide_params = 1};
    recur_status st = view == RECUR_VIEW_UNROLLED ? recur_unroll(g) : RECUR_OK;
    if (st == RECUR_OK) st = recur_draw(g, m.n_outputs, outs, &d, out);
    if (st != RECUR_OK) {
        cli_error(NULL, "%s", recur_errmsg(g));
        rc = st == RECUR_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL; /* an unknown extension of -o */
    } else {
        printf("wrote %s\n", out);
        rc = CLI_EXIT_OK;
    }
    recur_onnx_model_clear(&m);
    recur_graph_free(g);
    return rc;
}

int cli_import(int argc, char **argv)
{
    const char *out = NULL, *dims = NULL;
    cli_opt opts[] = {
        {"output", 'o', CLI_STR, &out, 0, 0, "PATH", "the checkpoint to write (required)", 0},
        {"dims", 0, CLI_STR, &dims, 0, 0, "NAME=N,...",
         "values of the model's symbolic input dimensions, e.g. T=40,B=3, for the shapes printed (default 1)", 0},
    };
    cli_cmd cmd = {
        .name = "import",
        .usage = "recur import MODEL.onnx -o MODEL.ckpt [options]",
        .summary = "Imports an ONNX model (LSTM, GRU and RNN nodes, Scan and Loop, and the ops around them, as\n"
                   "PyTorch exports them), prints its inputs, outputs and loops, and saves its parameters, with\n"
                   "the model's metadata_props, as a checkpoint. Anything recur cannot express is an error naming\n"
                   "the node, its op type and the attribute.",
        .opts = opts,
        .n_opts = (int)(sizeof opts / sizeof opts[0]),
        .min_pos = 1,
        .max_pos = 1,
    };
    const char *pos[1];
    int n_pos, r = cli_parse(&cmd, argc, argv, pos, &n_pos);
    if (r == CLI_HELP_SHOWN) return CLI_EXIT_OK;
    if (r != CLI_PARSED) return r;
    if (!out) return cli_usage_error("import", "missing -o MODEL.ckpt");
    return import_model(pos[0], out, dims);
}
