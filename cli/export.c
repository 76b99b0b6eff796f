/*
 * cli/export.c — `recur export MODEL.ckpt -o MODEL.onnx`: the character
 * model of a checkpoint written by `recur train` as an ONNX model
 * (recur_onnx_export) over --steps time steps of --batch sequences.
 *
 * The ONNX model's inputs are "ids" [T, B] (symbol ids, as floats), "h0"
 * and, for an LSTM, "c0" [layers, B, H]; its outputs "logits" [T, B, V],
 * "h_n" and "c_n", so it can generate one symbol at a time (T = 1) by
 * feeding h_n back as h0. The checkpoint's metadata (the model's kind,
 * cell, sizes and vocabulary) goes into the model's metadata_props, where
 * `recur import` finds it again. --ref FILE writes sample inputs and
 * recur's outputs for them (the text format of tests/torch_ref.h), with
 * which another runtime's results can be compared (tests/ort/check.js).
 */
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "charnet.h"
#include "cli.h"
#include "recur/onnx.h"

/* The checkpoint's metadata as strings (integers and floats printed), into keys/values (malloc'd strings). */
static int meta_strings(recur_ckpt *ck, char **keys, char **values, int cap)
{
    int n = 0;
    for (int i = 0; i < recur_ckpt_meta_count(ck) && n < cap; i++) {
        recur_ckpt_meta e = recur_ckpt_meta_at(ck, i);
        char num[64];
        const char *v = e.s;
        if (e.type == RECUR_META_INT) snprintf(num, sizeof num, "%lld", (long long)e.i), v = num;
        else if (e.type == RECUR_META_FLOAT) snprintf(num, sizeof num, "%.17g", e.f), v = num;
        keys[n] = strdup(e.key);
        values[n] = strdup(v ? v : "");
        if (!keys[n] || !values[n]) return -1;
        n++;
    }
    return n;
}

/* Runs the model once on sample inputs and writes them and the outputs to `path`. */
static int write_ref(recur_graph *g, const cli_net *net, int n_out, const recur_value *outs, const char *const *names,
                     int64_t V, const char *path)
{
    recur_value ins[3] = {net->ids, net->h0, net->c0};
    const char *in_names[3] = {"ids", "h0", "c0"};
    int n_in = recur_ok(net->c0) ? 3 : 2;
    float *data[3] = {0};
    int rc = CLI_EXIT_FAIL;
    recur_plan *p = NULL;
    FILE *f = NULL;
    if (recur_unroll(g) != RECUR_OK || !(p = recur_compile(g, n_out, outs, &(recur_compile_opts){.inference = 1}))) {
        cli_error("export", "%s", recur_errmsg(g));
        goto done;
    }
    uint64_t s = 2024;
    for (int i = 0; i < n_in; i++) {
        int64_t n = recur_shape_numel(recur_value_shape(g, ins[i]));
        if (!(data[i] = malloc(sizeof *data[i] * (size_t)n))) goto done;
        for (int64_t k = 0; k < n; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            data[i][k] = i == 0 ? (float)((s >> 33) % (uint64_t)V) : (float)((double)(s >> 40) / (1 << 24) - 0.5);
        }
        if (recur_plan_feed(p, ins[i], data[i], n) != RECUR_OK) goto plan_error;
    }
    if (recur_plan_run(p) != RECUR_OK) goto plan_error;
    if (!(f = fopen(path, "w"))) {
        cli_error("export", "cannot write %s", path);
        goto done;
    }
    fprintf(f, "# recur torch reference v1: written by recur export (recur's outputs)\nmeta source=recur\n");
    for (int k = 0; k < n_in + n_out; k++) {
        recur_value v = k < n_in ? ins[k] : outs[k - n_in];
        recur_shape sh = recur_value_shape(g, v);
        const float *x = k < n_in ? data[k] : recur_plan_output(p, v);
        fprintf(f, "tensor %s %d", k < n_in ? in_names[k] : names[k - n_in], sh.ndim);
        for (int d = 0; d < sh.ndim; d++) fprintf(f, " %lld", (long long)sh.d[d]);
        for (int64_t i = 0; i < recur_shape_numel(sh); i++) fprintf(f, "%s%.9g", i % 8 ? " " : "\n", (double)x[i]);
        fprintf(f, "\n");
    }
    rc = fclose(f) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    f = NULL;
    if (rc == CLI_EXIT_OK) printf("wrote %s\n", path);
    goto done;
plan_error:
    cli_error("export", "%s", recur_plan_errmsg(p));
done:
    if (f) fclose(f);
    for (int i = 0; i < 3; i++) free(data[i]);
    recur_plan_free(p);
    return rc;
}

static int export_model(const char *src, const char *out, int64_t T, int64_t B, const char *ref)
{
    recur_ckpt *ck = cli_load_checkpoint("export", src);
    if (!ck) return CLI_EXIT_FAIL;
    cli_model m;
    recur_corpus *vocab = NULL;
    char why[512], *keys[64] = {0}, *values[64] = {0};
    int rc = CLI_EXIT_FAIL, n_meta = 0;
    recur_graph *g = NULL;
    if (cli_model_load_meta(ck, &m, &vocab, why, sizeof why) != RECUR_OK) {
        cli_error("export", "checkpoint %s: %s (recur export writes the character models of 'recur train')", src, why);
        goto done;
    }
    cli_net net;
    if (!(g = recur_graph_new(1)) || cli_net_build(g, &m, "", T, B, 1, &net) != RECUR_OK ||
        recur_ckpt_restore_params(g, ck, 1) != RECUR_OK) {
        cli_error("export", "%s", g ? recur_errmsg(g) : "out of memory");
        goto done;
    }
    recur_value outs[3] = {net.logits, net.h_n, net.c_n};
    const char *names[3] = {"logits", "h_n", "c_n"};
    int n_out = recur_ok(net.c_n) ? 3 : 2;
    if ((n_meta = meta_strings(ck, keys, values, 64)) < 0) {
        cli_error("export", "out of memory");
        goto done;
    }
    recur_onnx_export_opts eo = {.output_names = names, .meta_keys = (const char *const *)keys,
                                 .meta_values = (const char *const *)values, .n_meta = n_meta, .graph_name = "char_rnn"};
    if (recur_onnx_export(g, n_out, outs, &eo, out) != RECUR_OK) {
        cli_error("export", "%s", recur_errmsg(g));
        goto done;
    }
    char shape[64];
    printf("wrote %s: inputs ids %s", out, recur_shape_str(recur_value_shape(g, net.ids), shape, sizeof shape));
    printf(", h0%s %s", n_out == 3 ? " and c0" : "", recur_shape_str(recur_value_shape(g, net.h0), shape, sizeof shape));
    printf("; outputs logits %s, h_n%s\n", recur_shape_str(recur_value_shape(g, net.logits), shape, sizeof shape),
           n_out == 3 ? ", c_n" : "");
    rc = ref ? write_ref(g, &net, n_out, outs, names, m.vocab, ref) : CLI_EXIT_OK;
done:
    for (int i = 0; i < 64; i++) {
        free(keys[i]);
        free(values[i]);
    }
    recur_graph_free(g);
    recur_corpus_free(vocab);
    recur_ckpt_free(ck);
    return rc;
}

int cli_export(int argc, char **argv)
{
    const char *out = NULL, *ref = NULL;
    int64_t steps = 1, batch = 1;
    cli_opt opts[] = {
        {"output", 'o', CLI_STR, &out, 0, 0, "PATH", "the ONNX file to write (required)", 0},
        {"steps", 0, CLI_INT, &steps, 1, 100000, "T", "time steps of the exported model (default 1: one symbol at a time)", 0},
        {"batch", 0, CLI_INT, &batch, 1, 100000, "B", "sequences side by side (default 1)", 0},
        {"ref", 0, CLI_STR, &ref, 0, 0, "PATH", "also write sample inputs and recur's outputs for them to PATH", 0},
    };
    cli_cmd cmd = {
        .name = "export",
        .usage = "recur export MODEL.ckpt -o MODEL.onnx [options]",
        .summary = "Writes the character model of a checkpoint made by 'recur train' as an ONNX model: inputs ids\n"
                   "[T, B] (as floats), h0 (and c0) [layers, B, H]; outputs logits [T, B, V], h_n (and c_n). The\n"
                   "recurrent layers become ONNX LSTM, GRU or RNN nodes; the checkpoint's metadata (vocabulary,\n"
                   "sizes) goes into the model's metadata_props.",
        .opts = opts,
        .n_opts = (int)(sizeof opts / sizeof opts[0]),
        .min_pos = 1,
        .max_pos = 1,
    };
    const char *pos[1];
    int n_pos, r = cli_parse(&cmd, argc, argv, pos, &n_pos);
    if (r == CLI_HELP_SHOWN) return CLI_EXIT_OK;
    if (r != CLI_PARSED) return r;
    if (!out) return cli_usage_error("export", "missing -o MODEL.onnx");
    return export_model(pos[0], out, steps, batch, ref);
}
