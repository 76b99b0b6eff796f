/*
 * cli/draw.c — `recur draw`: the character model drawn rolled
 * (the cell with its delay box), unrolled over the symbols of a text (one
 * column per symbol, its next symbol above), or with its backward pass.
 */
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "charnet.h"

typedef struct draw_args {
    const char *out, *view, *level, *text, *cell, *title, *font, *highlight;
    int64_t hidden, layers, embed, max_steps;
    double dpi, width, height, font_size;
    int state_labels, one_based, equations, no_legend, legend;
} draw_args;

/*
 * The label of symbol id: the symbol itself, a space as U+2423 (open box)
 * and a control character as its Unicode control picture, U+2400 + code
 * (U+2421 for DEL), so that every column shows something.
 */
static char *symbol_label(const recur_corpus *c, int64_t id, char *buf, size_t len)
{
    int32_t cp = recur_corpus_symbol(c, id);
    if (cp == ' ') snprintf(buf, len, "\u2423");
    else if (cp == 0x7f) snprintf(buf, len, "\u2421");
    else if (cp >= 0 && cp < 0x20) snprintf(buf, len, "\xe2\x90%c", (char)(0x80 + cp)); /* UTF-8 of U+2400 + cp */
    else if (recur_corpus_decode(c, &id, 1, buf, len) != RECUR_OK) snprintf(buf, len, "?");
    return buf;
}

/*
 * Draws the model over the ids of `text` (T symbols): input labels are the
 * symbols, output labels the symbols after them (the last one unknown).
 */
static int draw_model(const draw_args *a, recur_draw_view view, recur_draw_level level, const cli_model *m,
                      const recur_corpus *vocab, const int64_t *ids, int64_t T)
{
    recur_graph *g = recur_graph_new(1);
    if (!g) return cli_error("draw", "out of memory"), CLI_EXIT_FAIL;
    char (*labels)[16] = malloc(sizeof *labels * (size_t)(T + 1));
    const char **in = malloc(sizeof *in * (size_t)T), **out = malloc(sizeof *out * (size_t)T);
    int rc = CLI_EXIT_FAIL;
    cli_net net;
    recur_value *params = NULL, *grads = NULL;
    if (!labels || !in || !out) {
        cli_error("draw", "out of memory");
        goto done;
    }
    for (int64_t t = 0; t < T; t++) in[t] = symbol_label(vocab, ids[t], labels[t], sizeof labels[t]);
    for (int64_t t = 0; t < T; t++) out[t] = t + 1 < T ? in[t + 1] : "?";
    /* The picture depends on the model's structure alone: it is drawn from a stand-in with one unit per
     * layer, so that drawing never allocates the weights of a large model (the labels give its real size). */
    cli_model shape = *m;
    shape.hidden = 1;
    shape.embed = m->embed > 0 ? 1 : 0;
    recur_status st = cli_net_build(g, &shape, "", T, 1, 0, &net);
    recur_value probs = RECUR_NONE, loss = RECUR_NONE;
    int n_grads = 0;
    if (st == RECUR_OK && view == RECUR_VIEW_BACKWARD) { /* the outputs: the gradient of every weight */
        recur_value next = recur_input(g, "next", recur_shape2(T, 1));
        loss = recur_name(g, recur_softmax_xent(g, net.logits, next, RECUR_NONE), "loss");
        n_grads = recur_params(g, NULL, 0);
        params = malloc(sizeof *params * (size_t)n_grads);
        grads = malloc(sizeof *grads * (size_t)n_grads);
        st = params && grads ? recur_unroll(g) : RECUR_ERR_NOMEM;
        if (st == RECUR_OK) {
            recur_params(g, params, n_grads);
            st = recur_grad(g, loss, n_grads, params, grads);
        }
    } else if (st == RECUR_OK) {
        probs = recur_name(g, recur_softmax(g, net.logits), "p(next)");
        if (!recur_ok(probs)) st = recur_errcode(g);
        else if (view == RECUR_VIEW_UNROLLED || view == RECUR_VIEW_BOTH) st = recur_unroll(g);
    }
    if (st != RECUR_OK) {
        cli_error("draw", "building the model: %s", st == RECUR_ERR_NOMEM ? "out of memory" : recur_errmsg(g));
        goto done;
    }
    /* every layer's loop (one per stacked layer) is labelled like the material's "LSTM 128" */
    char layer[64];
    snprintf(layer, sizeof layer, "%s %lld", m->cell == RECUR_LSTM ? "LSTM" : m->cell == RECUR_GRU ? "GRU" : "RNN",
             (long long)m->hidden);
    const char *layers[8];
    for (int k = 0; k < 8; k++) layers[k] = layer;
    recur_draw_opts o = {
        .view = view, .level = level, .title = a->title,
        .input_labels = in, .n_input_labels = (int)T,
        .output_labels = out, .n_output_labels = (int)T,
        .layer_labels = layers, .n_layer_labels = (int)m->layers,
        .max_steps = (int)a->max_steps, .hide_params = 1, .loss = loss,
        .font = a->font, .font_size = a->font_size, .dpi = a->dpi, .width = a->width, .height = a->height,
        .state_labels = a->state_labels, .one_based = a->one_based, .equations = a->equations,
        .highlight = a->highlight ? RECUR_HIGHLIGHT_TIME_PATH : RECUR_HIGHLIGHT_NONE,
        .legend = a->no_legend ? -1 : a->legend,
    };
    st = view == RECUR_VIEW_BACKWARD ? recur_draw(g, n_grads, grads, &o, a->out) : recur_draw(g, 1, &probs, &o, a->out);
    if (st != RECUR_OK) { /* the library's message starts with "draw:" */
        cli_error(NULL, "%s", recur_errmsg(g));
        if (st == RECUR_ERR_ARG && strstr(recur_errmsg(g), "RECUR_DRAW_MAX_ITEMS") && a->max_steps == 0)
            cli_error(NULL, "draw: try --max-steps 8 (the first and last 4 steps), --level cell, or -o FILE.dot");
        rc = st == RECUR_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL; /* an unknown extension of -o */
        goto done;
    }
    rc = CLI_EXIT_OK;
done:
    free(params);
    free(grads);
    free(labels);
    free(in);
    free(out);
    recur_graph_free(g);
    return rc;
}

/* The model of the checkpoint (when given) or of the options over the text's symbols. */
static int draw_cmd(const draw_args *a, const char *ckpt_path, recur_draw_view view, recur_draw_level level)
{
    cli_model m = {.hidden = a->hidden, .layers = a->layers, .embed = a->embed};
    recur_corpus *vocab = NULL;
    char why[512];
    if (ckpt_path) {
        recur_ckpt *ck = cli_load_checkpoint("draw", ckpt_path);
        if (!ck) return CLI_EXIT_FAIL;
        recur_status st = cli_model_load_meta(ck, &m, &vocab, why, sizeof why);
        recur_ckpt_free(ck);
        if (st != RECUR_OK) return cli_error("draw", "checkpoint %s: %s", ckpt_path, why), CLI_EXIT_FAIL;
    } else {
        cli_cell_parse(a->cell, &m.cell);
        if (!(vocab = recur_corpus_from_text(a->text, strlen(a->text))))
            return cli_error("draw", "--text: %s", recur_data_errmsg()), CLI_EXIT_FAIL;
        m.vocab = recur_corpus_vocab_size(vocab);
    }
    int64_t T = 0, *ids = NULL;
    int rc = CLI_EXIT_FAIL;
    if (recur_corpus_encode(vocab, a->text, NULL, 0, &T) != RECUR_OK)
        cli_error("draw", "--text: %s", recur_data_errmsg());
    else if (T < 1 || T > 1000)
        rc = cli_usage_error("draw", "--text must have 1 to 1000 symbols, it has %lld", (long long)T);
    else if (!(ids = malloc(sizeof *ids * (size_t)T)))
        cli_error("draw", "out of memory");
    else if (recur_corpus_encode(vocab, a->text, ids, T, &T) == RECUR_OK)
        rc = draw_model(a, view, level, &m, vocab, ids, T);
    free(ids);
    recur_corpus_free(vocab);
    if (rc == CLI_EXIT_OK) printf("wrote %s\n", a->out);
    return rc;
}

int cli_draw(int argc, char **argv)
{
    draw_args a = {.view = "rolled", .level = "cell", .text = "hello", .cell = "lstm", .hidden = 128, .layers = 1};
    cli_opt opts[] = {
        {"output", 'o', CLI_STR, &a.out, 0, 0, "PATH", "the file to write; its extension picks the format: "
                                                       ".svg, .png, .pdf, .dot (required)", 0},
        {"view", 0, CLI_STR, &a.view, 0, 0, "NAME",
         "rolled, unrolled, both (side by side) or backward (default rolled)", 0},
        {"level", 0, CLI_STR, &a.level, 0, 0, "NAME",
         "cell (one box per cell), internals (gates, x and + circles) or op (every op) (default cell)", 0},
        {"text", 0, CLI_STR, &a.text, 0, 0, "TEXT", "the symbols of the unrolled columns (default \"hello\")", 0},
        {"max-steps", 0, CLI_INT, &a.max_steps, 0, 1000, "N",
         "show the first and last steps around \"...\" past N columns (default 0: all)", 0},
        {"title", 0, CLI_STR, &a.title, 0, 0, "TEXT", "a heading above the figure", 0},
        {"state-labels", 0, CLI_FLAG, &a.state_labels, 0, 0, "", "label the state edges h0, h1, ... (and c)", 0},
        {"one-based", 0, CLI_FLAG, &a.one_based, 0, 0, "", "number the steps from 1 (x[1], h1; initial state h0)", 0},
        {"equations", 0, CLI_FLAG, &a.equations, 0, 0, "", "write the cell's equations beside the figure", 0},
        {"highlight", 0, CLI_STR, &a.highlight, 0, 0, "PATH",
         "time: highlight the path through time (backward: the gradient from the last step to the first)", 0},
        {"legend", 0, CLI_FLAG, &a.legend, 0, 0, "", "always draw the legend of edge styles (default: when needed)", 0},
        {"no-legend", 0, CLI_FLAG, &a.no_legend, 0, 0, "", "never draw the legend", 0},
        {"font", 0, CLI_STR, &a.font, 0, 0, "NAME", "font family (default \"DejaVu Sans\", fonts-dejavu-core)", 0},
        {"font-size", 0, CLI_FLOAT, &a.font_size, 4, 72, "PT", "size of the cells' labels in points (default 14)", 0},
        {"dpi", 0, CLI_FLOAT, &a.dpi, 30, 1200, "N", "PNG resolution in pixels per inch (default 144)", 0},
        {"width", 0, CLI_FLOAT, &a.width, 0.5, 200, "IN", "scale the figure down to at most this width in inches", 0},
        {"height", 0, CLI_FLOAT, &a.height, 0.5, 200, "IN", "scale the figure down to at most this height in inches", 0},
        {"cell", 0, CLI_STR, &a.cell, 0, 0, "NAME", "without a checkpoint: lstm, gru or rnn (default lstm)", 0},
        {"hidden", 0, CLI_INT, &a.hidden, 1, 4096, "N", "without a checkpoint: units per layer (default 128)", 0},
        {"layers", 0, CLI_INT, &a.layers, 1, 8, "N", "without a checkpoint: stacked layers (default 1)", 0},
        {"embed", 0, CLI_INT, &a.embed, 0, 4096, "N",
         "without a checkpoint: embedding size, 0: one-hot (default 0)", 0},
    };
    cli_cmd cmd = {
        .name = "draw",
        .usage = "recur draw [CHECKPOINT] -o FILE [options]",
        .summary = "Draws the character model of CHECKPOINT (or one made from the options, over the symbols of\n"
                   "--text) through Graphviz: rolled, the cell with its state fed back through a delay box;\n"
                   "unrolled, one column per symbol of --text with the next symbol above; backward, unrolled\n"
                   "with the gradient graph of the loss. MODEL.onnx instead of a checkpoint draws an ONNX model\n"
                   "(rolled or unrolled; its symbolic dimensions as long as --text).",
        .opts = opts,
        .n_opts = (int)(sizeof opts / sizeof opts[0]),
        .min_pos = 0,
        .max_pos = 1,
    };
    const char *pos[1];
    int n_pos, r = cli_parse(&cmd, argc, argv, pos, &n_pos);
    if (r == CLI_HELP_SHOWN) return CLI_EXIT_OK;
    if (r != CLI_PARSED) return r;
    if (!a.out) return cli_usage_error("draw", "missing -o FILE");
    recur_draw_view view;
    recur_draw_level level;
    recur_cell_kind cell;
    if (strcmp(a.view, "rolled") == 0) view = RECUR_VIEW_ROLLED;
    else if (strcmp(a.view, "unrolled") == 0) view = RECUR_VIEW_UNROLLED;
    else if (strcmp(a.view, "backward") == 0) view = RECUR_VIEW_BACKWARD;
    else if (strcmp(a.view, "both") == 0) view = RECUR_VIEW_BOTH;
    else return cli_usage_error("draw", "--view: '%s' is not rolled, unrolled, both or backward", a.view);
    if (strcmp(a.level, "cell") == 0) level = RECUR_LEVEL_CELL;
    else if (strcmp(a.level, "op") == 0) level = RECUR_LEVEL_OP;
    else if (strcmp(a.level, "internals") == 0) level = RECUR_LEVEL_INTERNALS;
    else return cli_usage_error("draw", "--level: '%s' is not cell, internals or op", a.level);
    if (a.highlight && strcmp(a.highlight, "time") != 0)
        return cli_usage_error("draw", "--highlight: '%s' is not time", a.highlight);
    if (a.legend && a.no_legend) return cli_usage_error("draw", "--legend and --no-legend contradict each other");
    if (cli_cell_parse(a.cell, &cell) != 0)
        return cli_usage_error("draw", "--cell: '%s' is not lstm, gru or rnn", a.cell);
    if (a.max_steps == 1) return cli_usage_error("draw", "--max-steps must be 0 or at least 2");
    if (n_pos && cli_is_onnx(pos[0])) /* an ONNX model, its symbolic dimensions as long as --text (cli/import.c) */
        return cli_draw_onnx(pos[0], a.out, view, level, a.title, (int)a.max_steps, (int64_t)strlen(a.text));
    return draw_cmd(&a, n_pos ? pos[0] : NULL, view, level);
}
