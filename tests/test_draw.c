/*
 * tests/test_draw.c — the Graphviz export: each view is drawn to DOT in
 * memory, read back with cgraph and checked for its structure (the boxes
 * and edges a reader sees, the rows and columns they sit in), against
 * counts worked out by hand for small networks; then determinism, the
 * rendered formats, files, and the errors.
 */
#include "test_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <graphviz/cgraph.h>

/* ------------------------------------------------------------ helpers */

/* Draws to DOT and reads it back; fails the test on an error. */
static Agraph_t *draw_dot(recur_graph *g, int n, const recur_value *outs, const recur_draw_opts *o)
{
    char *text = NULL;
    size_t len = 0;
    TU_ST(g, recur_draw_mem(g, n, outs, o, "dot", &text, &len));
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    Agraph_t *G = agmemread(text);
    if (!G) fail_msg("cgraph cannot read the DOT:\n%s", text);
    recur_draw_free(text);
    return G;
}

static int starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* Nodes whose name starts with `prefix`. */
static int count_nodes(Agraph_t *G, const char *prefix)
{
    int n = 0;
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v)) n += starts(agnameof(v), prefix);
    return n;
}

static Agnode_t *node(Agraph_t *G, const char *name) { return agnode(G, (char *)name, 0); }

static const char *attr(void *obj, const char *name)
{
    const char *v = agget(obj, (char *)name);
    return v ? v : "";
}

static int visible(Agedge_t *e) { return !strstr(attr(e, "style"), "invis"); }

/* The visible edges drawn with their arrow from a to b (an edge b -> a with dir=back counts). */
static int arrows(Agraph_t *G, const char *a, const char *b)
{
    Agnode_t *x = node(G, a), *y = node(G, b);
    if (!x || !y) return 0;
    int n = 0;
    for (Agedge_t *e = agfstout(G, x); e; e = agnxtout(G, e))
        if (aghead(e) == y && visible(e) && strcmp(attr(e, "dir"), "back") != 0) n++;
    for (Agedge_t *e = agfstout(G, y); e; e = agnxtout(G, e))
        if (aghead(e) == x && visible(e) && strcmp(attr(e, "dir"), "back") == 0) n++;
    return n;
}

/* The first visible edge drawn from a to b, or NULL. */
static Agedge_t *arrow(Agraph_t *G, const char *a, const char *b)
{
    Agnode_t *x = node(G, a), *y = node(G, b);
    if (!x || !y) return NULL;
    for (Agedge_t *e = agfstout(G, x); e; e = agnxtout(G, e))
        if (aghead(e) == y && visible(e) && strcmp(attr(e, "dir"), "back") != 0) return e;
    for (Agedge_t *e = agfstout(G, y); e; e = agnxtout(G, e))
        if (aghead(e) == x && visible(e) && strcmp(attr(e, "dir"), "back") == 0) return e;
    return NULL;
}

static int count_visible_edges(Agraph_t *G)
{
    int n = 0;
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
        for (Agedge_t *e = agfstout(G, v); e; e = agnxtout(G, e)) n += visible(e);
    return n;
}

/* The layer of a node: the number of the rank=same subgraph "rank_<n>" holding it, -1 if none. */
static int layer(Agraph_t *G, const char *name)
{
    Agnode_t *v = node(G, name);
    assert_non_null(v);
    for (Agraph_t *sub = agfstsubg(G); sub; sub = agnxtsubg(sub)) {
        int n;
        if (sscanf(agnameof(sub), "rank_%d", &n) == 1 && agsubnode(sub, v, 0)) {
            assert_string_equal(attr(sub, "rank"), "same");
            return n;
        }
    }
    return -1;
}

/* Label nodes (plain text placed beside what they name) reading `text` in the layer of node `of`. */
static int labels_beside(Agraph_t *G, const char *of, const char *text)
{
    int n = 0;
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
        n += starts(agnameof(v), "label_") && strcmp(attr(v, "label"), text) == 0 && layer(G, agnameof(v)) == layer(G, of);
    return n;
}

static const char *name(char *buf, const char *fmt, int a, int b)
{
    snprintf(buf, 64, fmt, a, b);
    return buf;
}

/* xs [T, 1, 4] -> Elman cell over it -> ys [T, 1, 4], named "y". */
static recur_value elman(recur_graph *g, int64_t T, recur_seq_result *r)
{
    recur_value xs = recur_input(g, "x", recur_shape3(T, 1, 4));
    recur_cell cell;
    TU_ST(g, recur_cell_new(g, &cell, RECUR_RNN_TANH, "rnn", NULL, 4, 4));
    TU_ST(g, recur_cell_over(g, &cell, "rnn", xs, NULL, 0, r));
    return recur_name(g, r->outputs, "y");
}

/* A stacked layer over x [T, 1, 4]. */
static recur_rnn rnn_layer(recur_graph *g, int64_t T, recur_cell_kind kind, int layers, int bidirectional,
                           int residual)
{
    recur_value xs = recur_input(g, "x", recur_shape3(T, 1, 4));
    recur_rnn_opts o = {.kind = kind, .input_size = 4, .hidden = 4, .layers = layers, .bidirectional = bidirectional,
                        .merge = RECUR_MERGE_SUM, .residual = residual};
    recur_rnn rnn;
    TU_ST(g, recur_rnn_new(g, "rnn", &o, xs, RECUR_NONE, RECUR_NONE, &rnn));
    return rnn;
}

/* ------------------------------------------------------------- rolled */

static void test_rolled_cell(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_seq_result r;
    recur_value y = elman(g, 5, &r);
    recur_draw_opts o = {.view = RECUR_VIEW_ROLLED};
    Agraph_t *G = draw_dot(g, 1, &y, &o);
    /* x[t] -> rnn -> y[t], and rnn -> delay -> rnn: 4 boxes, 4 edges. */
    assert_int_equal(agnnodes(G), 4);
    assert_int_equal(count_visible_edges(G), 4);
    assert_int_equal(count_nodes(G, "cell_"), 1);
    assert_int_equal(count_nodes(G, "delay_"), 1);
    assert_int_equal(arrows(G, "cell_0", "delay_0"), 1);
    assert_int_equal(arrows(G, "delay_0", "cell_0"), 1);
    assert_string_equal(attr(node(G, "delay_0"), "fillcolor"), "black");
    assert_string_equal(attr(node(G, "cell_0"), "label"), "rnn");
    /* Inputs below the cell, outputs above it (rankdir=BT: higher layers are drawn higher). */
    assert_string_equal(attr(G, "rankdir"), "BT");
    assert_int_equal(count_nodes(G, "in_"), 1);
    Agnode_t *x = agfstnode(G);
    while (x && !starts(agnameof(x), "in_")) x = agnxtnode(G, x);
    assert_non_null(x);
    assert_string_equal(attr(x, "label"), "x[t]");
    assert_int_equal(arrows(G, agnameof(x), "cell_0"), 1);
    assert_int_equal(arrows(G, "cell_0", "out_0"), 1);
    assert_true(layer(G, agnameof(x)) < layer(G, "cell_0"));
    assert_true(layer(G, "cell_0") < layer(G, "out_0"));
    assert_int_equal(layer(G, "delay_0"), layer(G, "cell_0"));
    agclose(G);
    recur_graph_free(g);
}

static void test_rolled_stack_one_delay_per_loop(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(2);
    recur_rnn rnn = rnn_layer(g, 4, RECUR_LSTM, 3, 0, 0);
    recur_draw_opts o = {0};
    Agraph_t *G = draw_dot(g, 1, &rnn.outputs, &o);
    assert_int_equal(count_nodes(G, "cell_"), 3);
    assert_int_equal(count_nodes(G, "delay_"), 3);
    char a[64], b[64];
    for (int l = 0; l < 3; l++) {
        /* Each loop's own feedback, however many states it carries (an LSTM: h and c). */
        assert_int_equal(arrows(G, name(a, "cell_%d", l, 0), name(b, "delay_%d", l, 0)), 1);
        assert_int_equal(arrows(G, name(b, "delay_%d", l, 0), name(a, "cell_%d", l, 0)), 1);
        assert_int_equal(agdegree(G, node(G, name(b, "delay_%d", l, 0)), 1, 1), 2);
        assert_int_equal(labels_beside(G, b, "h, c"), 1); /* the states it carries, named beside it */
        if (l > 0) { /* stacked rows, bottom to top */
            assert_int_equal(arrows(G, name(a, "cell_%d", l - 1, 0), name(b, "cell_%d", l, 0)), 1);
            assert_true(layer(G, a) < layer(G, b));
        }
    }
    agclose(G);
    recur_graph_free(g);
}

/* ----------------------------------------------------------- unrolled */

static void test_unrolled_columns(void **state)
{
    (void)state;
    enum { T = 5 };
    recur_graph *g = recur_graph_new(3);
    recur_seq_result r;
    recur_value y = elman(g, T, &r);
    const char *words[] = {"it", "was", "the", "best", "of"}, *next[] = {"was", "the", "best", "of", "times"};
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .input_labels = words, .n_input_labels = T,
                         .output_labels = next, .n_output_labels = T};
    Agraph_t *G = draw_dot(g, 1, &y, &o);
    /* T tokens, T cells, T outputs and one initial state; T + (T - 1) + T + 1 edges. */
    assert_int_equal(count_nodes(G, "in_"), T);
    assert_int_equal(count_nodes(G, "cell_0_"), T);
    assert_int_equal(count_nodes(G, "out_0_"), T);
    assert_int_equal(count_nodes(G, "init_"), 1);
    assert_int_equal(agnnodes(G), 3 * T + 1);
    assert_int_equal(count_visible_edges(G), 3 * T);
    char a[64], b[64];
    int xid = recur_find(g, "x").id, cell_layer = layer(G, "cell_0_0");
    for (int t = 0; t < T; t++) {
        /* Column t: token below its cell, the next word above it. */
        assert_string_equal(attr(node(G, name(a, "in_%d_%d", xid, t)), "label"), words[t]);
        assert_string_equal(attr(node(G, name(b, "out_0_%d", t, 0)), "label"), next[t]);
        assert_int_equal(arrows(G, a, name(b, "cell_0_%d", t, 0)), 1);
        assert_int_equal(arrows(G, b, name(a, "out_0_%d", t, 0)), 1);
        assert_int_equal(layer(G, b), cell_layer);
        assert_true(layer(G, name(a, "in_%d_%d", xid, t)) < cell_layer);
        assert_true(layer(G, name(a, "out_0_%d", t, 0)) > cell_layer);
        if (t > 0) /* state edges left to right, exactly one per pair of neighbours */
            assert_int_equal(arrows(G, name(a, "cell_0_%d", t - 1, 0), name(b, "cell_0_%d", t, 0)), 1);
    }
    assert_int_equal(arrows(G, "init_0", "cell_0_0"), 1);
    assert_int_equal(layer(G, "init_0"), cell_layer);
    assert_string_equal(attr(node(G, "init_0"), "shape"), "circle");
    assert_string_equal(attr(node(G, "init_0"), "label"), "");
    agclose(G);
    recur_graph_free(g);
}

static void test_unrolled_bidirectional_rows(void **state)
{
    (void)state;
    enum { T = 4 };
    recur_graph *g = recur_graph_new(4);
    recur_rnn rnn = rnn_layer(g, T, RECUR_GRU, 1, 1, 0);
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED};
    Agraph_t *G = draw_dot(g, 1, &rnn.outputs, &o);
    assert_int_equal(count_nodes(G, "cell_0_"), T);
    assert_int_equal(count_nodes(G, "cell_1_"), T);
    assert_int_equal(count_nodes(G, "join_"), T); /* the sum of both directions at each step */
    assert_int_equal(count_nodes(G, "init_"), 2);
    char a[64], b[64], j[64];
    int fwd = layer(G, "cell_0_0"), rev = layer(G, "cell_1_0");
    assert_true(fwd < rev); /* the reverse row above the forward one */
    Agnode_t *first_join = agfstnode(G);
    while (!starts(agnameof(first_join), "join_")) first_join = agnxtnode(G, first_join);
    int join_id;
    assert_int_equal(sscanf(agnameof(first_join), "join_%d_", &join_id), 1);
    for (int t = 0; t < T; t++) {
        assert_int_equal(layer(G, name(a, "cell_0_%d", t, 0)), fwd);
        assert_int_equal(layer(G, name(b, "cell_1_%d", t, 0)), rev);
        name(j, "join_%d_%d", join_id, t);
        assert_string_equal(attr(node(G, j), "label"), "+");
        assert_int_equal(arrows(G, a, j), 1);
        assert_int_equal(arrows(G, b, j), 1);
        assert_true(layer(G, j) > rev);
        if (t > 0) {
            assert_int_equal(arrows(G, name(a, "cell_0_%d", t - 1, 0), name(b, "cell_0_%d", t, 0)), 1);
            /* The reverse loop's state flows right to left. */
            assert_int_equal(arrows(G, name(a, "cell_1_%d", t, 0), name(b, "cell_1_%d", t - 1, 0)), 1);
            assert_int_equal(arrows(G, b, a), 0);
        }
    }
    /* The reverse loop starts at the right: its initial state feeds its last step. */
    assert_int_equal(arrows(G, "init_1", "cell_1_3"), 1);
    assert_int_equal(arrows(G, "init_0", "cell_0_0"), 1);
    agclose(G);
    recur_graph_free(g);
}

static void test_deep_bidirectional_pairs_of_rows(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(5);
    recur_rnn rnn = rnn_layer(g, 3, RECUR_RNN_TANH, 3, 1, 0);
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED};
    Agraph_t *G = draw_dot(g, 1, &rnn.outputs, &o);
    char a[64], b[64];
    int prev = -1;
    for (int l = 0; l < 6; l++) { /* forward 1, backward 1, forward 2, ...: each row above the last */
        int row = layer(G, name(a, "cell_%d_%d", l, 0));
        assert_true(row > prev);
        prev = row;
        assert_int_equal(count_nodes(G, name(b, "cell_%d_", l, 0)), 3);
    }
    /* Layer 2 reads both directions of layer 1 through their join. */
    assert_int_equal(count_nodes(G, "join_"), 3 * 3);
    agclose(G);
    recur_graph_free(g);
}

static void test_residual_skip_edges(void **state)
{
    (void)state;
    enum { T = 3 };
    recur_graph *g = recur_graph_new(6);
    recur_rnn rnn = rnn_layer(g, T, RECUR_LSTM, 3, 0, 1);
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED};
    Agraph_t *G = draw_dot(g, 1, &rnn.outputs, &o);
    assert_int_equal(count_nodes(G, "join_"), 2 * T); /* an addition after layers 2 and 3 */
    int skips = 0;
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
        for (Agedge_t *e = agfstout(G, v); e; e = agnxtout(G, e)) {
            if (!visible(e) || strcmp(attr(e, "color"), "#2e7d32") != 0) continue;
            skips++;
            /* A skip edge passes the row of the layer it bypasses. */
            assert_true(starts(agnameof(aghead(e)), "join_"));
            assert_true(layer(G, agnameof(aghead(e))) - layer(G, agnameof(agtail(e))) >= 10);
        }
    assert_int_equal(skips, 2 * T);
    /* Layer 1's output at t skips layer 2 into the addition above it. */
    char a[64], b[64];
    for (int t = 0; t < T; t++) {
        Agedge_t *e = NULL;
        for (Agedge_t *x = agfstout(G, node(G, name(a, "cell_0_%d", t, 0))); x && !e; x = agnxtout(G, x))
            if (starts(agnameof(aghead(x)), "join_") && visible(x)) e = x;
        assert_non_null(e);
        assert_int_equal(arrows(G, name(b, "cell_1_%d", t, 0), agnameof(aghead(e))), 1);
    }
    agclose(G);
    recur_graph_free(g);
}

static void test_ellipsis_for_long_sequences(void **state)
{
    (void)state;
    enum { T = 20 };
    recur_graph *g = recur_graph_new(7);
    recur_seq_result r;
    recur_value y = elman(g, T, &r);
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .max_steps = 4};
    Agraph_t *G = draw_dot(g, 1, &y, &o);
    /* Steps 0, 1 and 18, 19 around one ellipsis column. */
    assert_int_equal(count_nodes(G, "cell_0_"), 4);
    assert_non_null(node(G, "cell_0_1"));
    assert_null(node(G, "cell_0_2"));
    assert_non_null(node(G, "cell_0_18"));
    assert_int_equal(count_nodes(G, "in_"), 4);
    assert_int_equal(count_nodes(G, "out_"), 4);
    assert_int_equal(arrows(G, "cell_0_1", "ell_0"), 1);
    assert_int_equal(arrows(G, "ell_0", "cell_0_18"), 1);
    assert_int_equal(arrows(G, "cell_0_0", "cell_0_1"), 1);
    assert_int_equal(arrows(G, "cell_0_18", "cell_0_19"), 1);
    assert_int_equal(layer(G, "ell_0"), layer(G, "cell_0_0"));
    /* The rows of inputs and outputs get theirs too: three ellipses in all. */
    assert_int_equal(count_nodes(G, "ell_"), 3);
    agclose(G);
    /* Not when the loop fits. */
    o.max_steps = T;
    G = draw_dot(g, 1, &y, &o);
    assert_int_equal(count_nodes(G, "cell_0_"), T);
    assert_int_equal(count_nodes(G, "ell_"), 0);
    agclose(G);
    recur_graph_free(g);
}

/* An encoder over src [3, 1, 4] whose final state starts a decoder over tgt [4, 1, 4]. */
static recur_value encoder_decoder(recur_graph *g)
{
    recur_value src = recur_input(g, "src", recur_shape3(3, 1, 4)), tgt = recur_input(g, "tgt", recur_shape3(4, 1, 4));
    recur_cell enc, dec;
    TU_ST(g, recur_cell_new(g, &enc, RECUR_GRU, "enc", NULL, 4, 4));
    TU_ST(g, recur_cell_new(g, &dec, RECUR_GRU, "dec", NULL, 4, 4));
    recur_seq_result e, d;
    TU_ST(g, recur_cell_over(g, &enc, "encoder", src, NULL, 0, &e));
    TU_ST(g, recur_cell_over(g, &dec, "decoder", tgt, e.final, 0, &d));
    return recur_name(g, d.outputs, "y");
}

static void test_encoder_decoder_columns_and_context(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(8);
    recur_value y = encoder_decoder(g);
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED};
    Agraph_t *G = draw_dot(g, 1, &y, &o);
    assert_int_equal(count_nodes(G, "cell_0_"), 3);
    assert_int_equal(count_nodes(G, "cell_1_"), 4);
    /* One row: the encoder's columns, then the decoder's; the context passes across, dashed. */
    assert_int_equal(layer(G, "cell_0_0"), layer(G, "cell_1_0"));
    Agedge_t *context = arrow(G, "cell_0_2", "cell_1_0");
    assert_non_null(context);
    assert_string_equal(attr(context, "style"), "dashed");
    assert_int_equal(count_nodes(G, "init_"), 1); /* only the encoder starts from zeros */
    assert_int_equal(count_nodes(G, "out_0_"), 4); /* the decoder's outputs only */
    int fed = 0;
    for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
        for (Agedge_t *e = agfstout(G, v); e; e = agnxtout(G, e)) fed += strcmp(attr(e, "color"), "#666666") == 0;
    assert_int_equal(fed, 0);
    agclose(G);
    /* Generation: each decoder output feeds its next input, dashed: T - 1 edges. */
    o.feedback = 1;
    G = draw_dot(g, 1, &y, &o);
    int tgt = recur_find(g, "tgt").id;
    char a[64], b[64];
    for (int t = 0; t + 1 < 4; t++) {
        Agedge_t *e = arrow(G, name(a, "out_0_%d", t, 0), name(b, "in_%d_%d", tgt, t + 1));
        assert_non_null(e);
        assert_string_equal(attr(e, "style"), "dashed");
    }
    assert_null(arrow(G, "out_0_3", "in_0_0"));
    agclose(G);
    /* Rolled: the encoder's cell left of the decoder's, the context dashed between them. */
    o = (recur_draw_opts){.view = RECUR_VIEW_ROLLED};
    G = draw_dot(g, 1, &y, &o);
    assert_int_equal(layer(G, "cell_0"), layer(G, "cell_1"));
    assert_string_equal(attr(arrow(G, "cell_0", "cell_1"), "style"), "dashed");
    assert_int_equal(count_nodes(G, "delay_"), 2);
    agclose(G);
    recur_graph_free(g);
}

/* ---------------------------------------------------------- op level */

static void test_op_level(void **state)
{
    (void)state;
    enum { T = 3 };
    recur_graph *g = recur_graph_new(9);
    recur_seq_result r;
    recur_value y = elman(g, T, &r);
    recur_draw_opts o = {.view = RECUR_VIEW_ROLLED, .level = RECUR_LEVEL_OP};
    Agraph_t *G = draw_dot(g, 1, &y, &o);
    /* Rolled: the body in one cluster: x[t], h, two matmuls, three adds, tanh, its four weights, the delay. */
    Agraph_t *body = agsubg(G, "cluster_loop0", 0);
    assert_non_null(body);
    assert_int_equal(agnnodes(body), 8 + 4 + 1);
    int matmuls = 0, tanhs = 0;
    for (Agnode_t *v = agfstnode(body); v; v = agnxtnode(body, v)) {
        matmuls += strcmp(attr(v, "label"), "matmul") == 0;
        tanhs += strcmp(attr(v, "label"), "tanh") == 0;
    }
    assert_int_equal(matmuls, 2);
    assert_int_equal(tanhs, 1);
    /* The state: tanh -> delay -> h. */
    Agnode_t *delay = node(G, "delay_0");
    assert_non_null(delay);
    assert_int_equal(agdegree(G, delay, 1, 0), 1);
    assert_int_equal(agdegree(G, delay, 0, 1), 1);
    assert_string_equal(attr(agtail(agfstin(G, delay)), "label"), "tanh");
    assert_string_equal(attr(aghead(agfstout(G, delay)), "label"), "h");
    agclose(G);

    /* Unrolled: a cluster per step with the six ops of the cell, a copy of each weight and the step's x[t]. */
    o.view = RECUR_VIEW_UNROLLED;
    G = draw_dot(g, 1, &y, &o);
    char a[64];
    for (int t = 0; t < T; t++) {
        Agraph_t *cell = agsubg(G, (char *)name(a, "cluster_cell0_%d", t, 0), 0);
        assert_non_null(cell);
        assert_int_equal(agnnodes(cell), 6 + 4 + 1);
        assert_non_null(agsubnode(cell, node(G, name(a, "in_0_%d", t, 0)), 0));
    }
    assert_null(agsubg(G, "cluster_cell0_3", 0));
    assert_int_equal(count_nodes(G, "param_"), 4 * T);
    agclose(G);
    o.hide_params = 1;
    G = draw_dot(g, 1, &y, &o);
    assert_int_equal(count_nodes(G, "param_"), 0);
    assert_int_equal(agnnodes(agsubg(G, "cluster_cell0_0", 0)), 6 + 1);
    agclose(G);
    recur_graph_free(g);
}

/* ---------------------------------------------------------- unrolling */

static void test_same_figure_after_unrolling(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(10);
    recur_rnn rnn = rnn_layer(g, 4, RECUR_LSTM, 2, 1, 0);
    char *before[2] = {NULL, NULL}, *after[2] = {NULL, NULL};
    size_t n_before[2], n_after[2];
    for (int view = 0; view < 2; view++) {
        recur_draw_opts o = {.view = (recur_draw_view)view};
        TU_ST(g, recur_draw_mem(g, 1, &rnn.outputs, &o, "dot", &before[view], &n_before[view]));
    }
    TU_ST(g, recur_unroll(g));
    for (int view = 0; view < 2; view++) {
        recur_draw_opts o = {.view = (recur_draw_view)view};
        TU_ST(g, recur_draw_mem(g, 1, &rnn.outputs, &o, "dot", &after[view], &n_after[view]));
        /* The unrolled graph's copies stand for their body nodes: neither view changes. */
        assert_int_equal(n_before[view], n_after[view]);
        assert_memory_equal(before[view], after[view], n_before[view]);
        recur_draw_free(before[view]);
        recur_draw_free(after[view]);
    }
    recur_graph_free(g);
}

/*
 * A loop over per-sequence lengths draws as the same loop over padded
 * sequences at cell level: its mask of the real steps is bookkeeping, not
 * an input a reader feeds (no box, no edge, no label naming it), and the
 * outputs stay one per step. The op level shows the mask, a token per step.
 */
static void test_lengths_drawn_as_padded(void **state)
{
    (void)state;
    const int shapes[][2] = {{1, 0}, {2, 1}}; /* layers, bidirectional */
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        for (int view = 0; view < 2; view++) {
            int nodes[2], edges[2];
            for (int with = 0; with < 2; with++) {
                recur_graph *g = recur_graph_new(3);
                recur_value xs = recur_input(g, "x", recur_shape3(4, 2, 3)), lens = recur_input(g, "len", recur_shape1(2));
                recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = 3, .hidden = 4, .layers = shapes[k][0],
                                    .bidirectional = shapes[k][1], .lengths = with ? &lens : NULL};
                recur_rnn rnn;
                TU_ST(g, recur_rnn_new(g, "rnn", &o, xs, RECUR_NONE, RECUR_NONE, &rnn));
                if (view) TU_ST(g, recur_unroll(g));
                recur_draw_opts d = {.view = view ? RECUR_VIEW_UNROLLED : RECUR_VIEW_ROLLED};
                Agraph_t *G = draw_dot(g, 1, &rnn.outputs, &d);
                nodes[with] = agnnodes(G);
                edges[with] = count_visible_edges(G);
                for (Agnode_t *v = agfstnode(G); v; v = agnxtnode(G, v))
                    if (strstr(attr(v, "label"), "len")) fail_msg("a box names the lengths: %s", attr(v, "label"));
                if (view) /* one output per step */
                    assert_non_null(node(G, "out_0_3"));
                if (with && view) { /* the op level draws the mask: one token per step */
                    d.level = RECUR_LEVEL_OP;
                    Agraph_t *O = draw_dot(g, 1, &rnn.outputs, &d);
                    int masks = 0;
                    for (Agnode_t *v = agfstnode(O); v; v = agnxtnode(O, v)) masks += strstr(attr(v, "label"), ".lengths[") != NULL;
                    assert_int_equal(masks, 4 * shapes[k][0] * (1 + shapes[k][1])); /* per loop and step */
                    agclose(O);
                }
                agclose(G);
                recur_graph_free(g);
            }
            print_message("%d layers%s, %s: %d boxes, %d edges padded; %d, %d over lengths\n", shapes[k][0],
                          shapes[k][1] ? " bidirectional" : "", view ? "unrolled" : "rolled", nodes[0], edges[0],
                          nodes[1], edges[1]);
            assert_int_equal(nodes[1], nodes[0]);
            assert_int_equal(edges[1], edges[0]);
        }
}

/* ------------------------------------------------------------ backward */

static void test_backward_view(void **state)
{
    (void)state;
    enum { T = 4 };
    recur_graph *g = recur_graph_new(11);
    recur_seq_result r;
    recur_value xs = recur_input(g, "x", recur_shape3(T, 1, 4)), target = recur_input(g, "target", recur_shape2(T, 1));
    recur_cell cell;
    TU_ST(g, recur_cell_new(g, &cell, RECUR_RNN_TANH, "rnn", NULL, 4, 4));
    TU_ST(g, recur_cell_over(g, &cell, "rnn", xs, NULL, 0, &r));
    recur_value loss = recur_softmax_xent(g, recur_dense(g, "out", r.outputs, 5, 1), target, RECUR_NONE);
    TU_OK(g, loss);
    TU_ST(g, recur_unroll(g));
    recur_value wrt[2] = {cell.param[0], cell.param[1]}, grads[2];
    TU_ST(g, recur_grad(g, loss, 2, wrt, grads));
    recur_draw_opts o = {.view = RECUR_VIEW_BACKWARD, .loss = loss};
    Agraph_t *G = draw_dot(g, 2, grads, &o);
    char a[64], b[64], l[64];
    name(l, "loss_%d", loss.id, 0);
    assert_int_equal(count_nodes(G, "cell_0_"), T);
    assert_int_equal(count_nodes(G, "grad_0_"), T);
    /* Both weights' gradients read every step's gradient cell: one box names both. */
    assert_int_equal(count_nodes(G, "out_"), 1);
    assert_string_equal(attr(node(G, "out_0"), "label"),
                        "\xe2\x88\x82L/\xe2\x88\x82rnn.weight_ih\n\xe2\x88\x82L/\xe2\x88\x82rnn.weight_hh");
    assert_true(layer(G, l) > layer(G, "cell_0_0"));
    assert_true(layer(G, "grad_0_0") > layer(G, l));
    for (int t = 0; t < T; t++) {
        name(a, "grad_0_%d", t, 0);
        assert_int_equal(arrows(G, l, a), 1);             /* each step's loss term */
        assert_int_equal(arrows(G, a, "out_0"), 1);       /* each step adds to both weights' gradients */
        if (t + 1 < T) { /* against time: from step t + 1 to step t, never forwards */
            assert_int_equal(arrows(G, name(b, "grad_0_%d", t + 1, 0), a), 1);
            assert_int_equal(arrows(G, a, b), 0);
        }
        assert_string_equal(attr(arrow(G, l, a), "color"), "#c00000");
    }
    agclose(G);
    /* Op level: the gradient ops of each step in their own cluster. */
    o.level = RECUR_LEVEL_OP;
    G = draw_dot(g, 2, grads, &o);
    for (int t = 0; t < T; t++) {
        Agraph_t *cl = agsubg(G, (char *)name(a, "cluster_grad0_%d", t, 0), 0);
        assert_non_null(cl);
        int tanh_grads = 0;
        for (Agnode_t *v = agfstnode(cl); v; v = agnxtnode(cl, v)) tanh_grads += strcmp(attr(v, "label"), "tanh_grad") == 0;
        assert_int_equal(tanh_grads, 1);
    }
    agclose(G);
    recur_graph_free(g);
}

/*
 * The backward view of a stacked model hoisted in chunks (passes/hoist.c:
 * with a batch of 64, layer 2's input products run over chunks of layer
 * 1's steps) is the view of the same model hoisted whole: each step's
 * gradient reaches the layer below at its own step (the chunks' stacks,
 * products and joins are per step too), for an LSTM of 2 and 3 layers
 * and a GRU of 2, at cell level: the same boxes and edges, laid out alike.
 */
static char *stacked_backward_dot(int kind, int layers, unsigned passes, recur_draw_level level)
{
    recur_graph *g = recur_graph_new(1);
    recur_set_passes(g, passes);
    recur_value xs = recur_input(g, "xs", recur_shape3(24, 64, 8));
    recur_rnn_opts o = {.kind = (recur_cell_kind)kind, .input_size = 8, .hidden = 16, .layers = layers};
    recur_rnn r;
    TU_ST(g, recur_rnn_new(g, "rnn", &o, xs, RECUR_NONE, RECUR_NONE, &r));
    recur_value loss = recur_sum(g, recur_square(g, r.outputs));
    TU_OK(g, loss);
    TU_ST(g, recur_unroll(g));
    recur_value ps[40], gs[40];
    int n = recur_params(g, ps, 40);
    TU_ST(g, recur_grad(g, loss, n, ps, gs));
    recur_draw_opts b = {.view = RECUR_VIEW_BACKWARD, .max_steps = 4, .loss = loss, .level = level};
    char *dot = NULL;
    size_t len = 0;
    TU_ST(g, recur_draw_mem(g, n, gs, &b, "dot", &dot, &len));
    recur_graph_free(g);
    return dot;
}

static int by_string(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* 1 if texts a and b hold the same lines in some order (the edges of a view are written in the order its keys were made). */
static int same_lines(char *a, char *b)
{
    char *lines[2][4096];
    int n[2] = {0, 0};
    char *text[2] = {a, b};
    for (int k = 0; k < 2; k++)
        for (char *save = NULL, *line = strtok_r(text[k], "\n", &save); line && n[k] < 4096; line = strtok_r(NULL, "\n", &save))
            lines[k][n[k]++] = line;
    if (n[0] != n[1] || n[0] == 4096) return 0;
    qsort(lines[0], (size_t)n[0], sizeof(char *), by_string);
    qsort(lines[1], (size_t)n[1], sizeof(char *), by_string);
    for (int i = 0; i < n[0]; i++)
        if (strcmp(lines[0][i], lines[1][i]) != 0) return 0;
    return 1;
}

static void test_backward_view_of_chunks(void **state)
{
    (void)state;
    const int cases[3][2] = {{RECUR_LSTM, 2}, {RECUR_LSTM, 3}, {RECUR_GRU, 2}};
    for (int k = 0; k < 3; k++) {
        char *chunks = stacked_backward_dot(cases[k][0], cases[k][1], RECUR_PASS_ALL, RECUR_LEVEL_CELL);
        char *whole = stacked_backward_dot(cases[k][0], cases[k][1], RECUR_PASS_ALL & ~RECUR_PASS_LANES, RECUR_LEVEL_CELL);
        if (!same_lines(chunks, whole)) fail_msg("kind %d, %d layers: the backward view of chunks differs", cases[k][0], cases[k][1]);
        recur_draw_free(chunks), recur_draw_free(whole);
    }
    /* At op level the chunks' own ops show, but no value is read at every step that was not before. */
    char *chunks = stacked_backward_dot(RECUR_LSTM, 2, RECUR_PASS_ALL, RECUR_LEVEL_OP);
    char *whole = stacked_backward_dot(RECUR_LSTM, 2, RECUR_PASS_ALL & ~RECUR_PASS_LANES, RECUR_LEVEL_OP);
    assert_int_equal(tu_count_of(chunks, "dotted"), tu_count_of(whole, "dotted"));
    recur_draw_free(chunks), recur_draw_free(whole);
}

/* ------------------------------------------------------ formats, files */

static void test_deterministic_and_formats(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(12);
    recur_value y = encoder_decoder(g);
    const char *formats[] = {"dot", "svg", "png", "pdf"};
    const char *magic[] = {"digraph", "<?xml", "\x89PNG", "%PDF"};
    for (int f = 0; f < 4; f++) {
        recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .feedback = 1, .title = "seq2seq"};
        char *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        TU_ST(g, recur_draw_mem(g, 1, &y, &o, formats[f], &a, &na));
        TU_ST(g, recur_draw_mem(g, 1, &y, &o, formats[f], &b, &nb));
        assert_true(na > 100);
        assert_memory_equal(a, magic[f], strlen(magic[f]));
        if (f != 3) { /* PDF embeds its creation date */
            assert_int_equal(na, nb);
            assert_memory_equal(a, b, na);
        }
        if (f == 1) assert_non_null(strstr(a, "seq2seq")); /* the title */
        recur_draw_free(a);
        recur_draw_free(b);
    }
    recur_graph_free(g);
}

/* A fresh directory under /tmp. */
static char *temp_dir(void)
{
    char *dir = strdup("/tmp/recur_draw_XXXXXX");
    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

/* The number of entries of a directory (without . and ..). */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void test_files(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(13);
    recur_seq_result r;
    recur_value y = elman(g, 3, &r);
    char *dir = temp_dir(), path[256];
    const char *names[] = {"a.dot", "b.svg", "c.png", "d.gv", "E.SVG"};
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        TU_ST(g, recur_draw(g, 1, &y, NULL, path));
    }
    assert_int_equal(entries(dir), 5); /* no temporary file left behind */
    size_t len;
    char *svg = (snprintf(path, sizeof path, "%s/b.svg", dir), read_all(path, &len));
    assert_non_null(strstr(svg, "<svg"));
    char *mem = NULL;
    size_t n = 0;
    TU_ST(g, recur_draw_mem(g, 1, &y, NULL, "svg", &mem, &n));
    assert_int_equal(n, len); /* the file holds what memory does */
    assert_memory_equal(mem, svg, n);
    recur_draw_free(mem);
    free(svg);
    char *dot = (snprintf(path, sizeof path, "%s/a.dot", dir), read_all(path, &len));
    assert_true(starts(dot, "digraph"));
    free(dot);
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    free(dir);
    recur_graph_free(g);
}

/* --------------------------------------------------------------- errors */

static void test_errors(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(14);
    recur_seq_result r;
    recur_value y = elman(g, 3, &r);
    char *out = (char *)"junk";
    size_t len = 7;
    /* Unknown formats and extensions, named in the message. */
    assert_int_equal(recur_draw_mem(g, 1, &y, NULL, "jpeg", &out, &len), RECUR_ERR_ARG);
    assert_null(out);
    assert_int_equal(len, 0);
    assert_non_null(strstr(recur_errmsg(g), "\"jpeg\""));
    char *dir = temp_dir(), path[256];
    snprintf(path, sizeof path, "%s/figure.jpeg", dir);
    assert_int_equal(recur_draw(g, 1, &y, NULL, path), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_errmsg(g), ".jpeg"));
    snprintf(path, sizeof path, "%s/figure", dir);
    assert_int_equal(recur_draw(g, 1, &y, NULL, path), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_errmsg(g), "no extension"));
    assert_int_equal(entries(dir), 0);
    /* An unwritable path: an I/O error naming it, and nothing there. */
    snprintf(path, sizeof path, "%s/no/such/dir/figure.svg", dir);
    assert_int_equal(recur_draw(g, 1, &y, NULL, path), RECUR_ERR_IO);
    assert_non_null(strstr(recur_errmsg(g), path));
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(entries(dir), 0);
    /* A failed drawing leaves an existing file as it was. */
    snprintf(path, sizeof path, "%s/old.svg", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("old", f);
    fclose(f);
    recur_draw_opts o = {.view = RECUR_VIEW_UNROLLED, .max_steps = 1};
    assert_int_equal(recur_draw(g, 1, &y, &o, path), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_errmsg(g), "max_steps"));
    char *old = read_all(path, &len);
    assert_string_equal(old, "old");
    free(old);
    assert_int_equal(entries(dir), 1);
    unlink(path);
    rmdir(dir);
    free(dir);
    /* Bad options and outputs. */
    o = (recur_draw_opts){.view = (recur_draw_view)7};
    assert_int_equal(recur_draw_mem(g, 1, &y, &o, "dot", &out, &len), RECUR_ERR_ARG);
    o = (recur_draw_opts){.n_input_labels = 2};
    assert_int_equal(recur_draw_mem(g, 1, &y, &o, "dot", &out, &len), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_errmsg(g), "input_labels"));
    o = (recur_draw_opts){.view = RECUR_VIEW_BACKWARD, .loss = RECUR_NONE};
    assert_int_equal(recur_draw_mem(g, 1, &y, &o, "dot", &out, &len), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_errmsg(g), "loss"));
    recur_value bad = {9999};
    assert_int_equal(recur_draw_mem(g, 1, &bad, NULL, "dot", &out, &len), RECUR_ERR_VALUE);
    assert_int_equal(recur_draw_mem(g, -1, &y, NULL, "dot", &out, &len), RECUR_ERR_ARG);
    assert_int_equal(recur_draw_mem(g, 1, &y, NULL, "dot", NULL, &len), RECUR_ERR_ARG);
    assert_int_equal(recur_draw_mem(NULL, 1, &y, NULL, "dot", &out, &len), RECUR_ERR_ARG);
    recur_graph_free(g);

    /* A body value is not an output; a loop still open cannot be drawn. */
    g = recur_graph_new(15);
    recur_value xs = recur_input(g, "x", recur_shape3(3, 1, 2));
    recur_loop L = recur_loop_begin(g, "unfinished", 0);
    recur_value x = recur_loop_input(g, L, xs);
    recur_value h = recur_loop_state(g, L, "h", recur_fill(g, recur_shape2(1, 2), 0));
    recur_value next = recur_tanh(g, recur_add(g, x, h));
    TU_OK(g, next);
    assert_int_equal(recur_draw_mem(g, 0, NULL, NULL, "svg", &out, &len), RECUR_ERR_STATE);
    assert_non_null(strstr(recur_errmsg(g), "\"unfinished\""));
    assert_null(out);
    TU_ST(g, recur_loop_next(g, L, h, next));
    TU_ST(g, recur_loop_end(g, L));
    assert_int_equal(recur_draw_mem(g, 1, &next, NULL, "dot", &out, &len), RECUR_ERR_VALUE);
    assert_non_null(strstr(recur_errmsg(g), "unfinished"));
    /* Ended, the loop draws (n_outputs == 0: whatever no other value uses). */
    TU_ST(g, recur_draw_mem(g, 0, NULL, NULL, "dot", &out, &len));
    recur_draw_free(out);
    recur_graph_free(g);
}

static void test_graph_without_loops(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(16);
    recur_value x = recur_input(g, "x", recur_shape2(2, 3));
    recur_value y = recur_name(g, recur_tanh(g, recur_dense(g, "fc", x, 4, 1)), "y");
    Agraph_t *G = draw_dot(g, 1, &y, NULL);
    /* Drawn at op level: x, fc.weight, fc.bias, matmul, add, tanh, and the output. */
    assert_int_equal(agnnodes(G), 7);
    assert_int_equal(count_visible_edges(G), 6);
    agclose(G);
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rolled_cell),
        cmocka_unit_test(test_rolled_stack_one_delay_per_loop),
        cmocka_unit_test(test_unrolled_columns),
        cmocka_unit_test(test_unrolled_bidirectional_rows),
        cmocka_unit_test(test_deep_bidirectional_pairs_of_rows),
        cmocka_unit_test(test_residual_skip_edges),
        cmocka_unit_test(test_ellipsis_for_long_sequences),
        cmocka_unit_test(test_encoder_decoder_columns_and_context),
        cmocka_unit_test(test_op_level),
        cmocka_unit_test(test_same_figure_after_unrolling),
        cmocka_unit_test(test_lengths_drawn_as_padded),
        cmocka_unit_test(test_backward_view),
        cmocka_unit_test(test_backward_view_of_chunks),
        cmocka_unit_test(test_deterministic_and_formats),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_graph_without_loops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
