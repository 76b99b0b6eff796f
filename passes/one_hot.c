/*
 * passes/one_hot.c — a product of a one-hot encoding is a lookup.
 *
 * For ids of shape S and a weight matrix W,
 *   one_hot(ids, V) W    = gather(W, ids)             (W [V, D]: its rows)
 *   one_hot(ids, V) W^T  = gather_columns(W, ids)     (W [D, V]: its columns)
 * both S + [D]: each row of the product has one term, the row (column) of
 * W the id picks, times 1. The lookup reads D floats where the product
 * reads all of W and does 2 V D FLOPs per position: a character model's
 * input projection (84 symbols into an LSTM's 4 H gates) and its weight
 * gradient, which becomes the gather's scatter-add. The product node
 * becomes the gather in place, so ids held by callers stay valid; a
 * product a compiled plan reads (recur_node.planned) is left as it is. A
 * bias added to the product is folded into the table looked up when there
 * are at least as many positions as rows (see rewrite).
 *
 * The results are the same up to the product's zeros: 0 * w + ... adds
 * nothing but can turn an infinite or NaN weight elsewhere in the row into
 * NaN, which the lookup does not read. An id outside [0, V) fails the run
 * in the gather as it did in the one-hot, naming the id and its position.
 */
#include <stdlib.h>

#include "graph/ir.h"
#include "ops/op.h"
#include "passes/passes.h"

/* 1 if node m is x W or x W^T with x = one_hot(ids, V) and W a matrix with V rows (columns). */
static int one_hot_product(const recur_graph *g, const recur_node *m)
{
    /* Outer products only: a loop's body stays as written (its steppers and drawings read it). */
    if (m->removed || m->planned || m->loop || m->op != RECUR_OP_MATMUL || m->n_in != 2 || m->attr.i[0]) return 0;
    const recur_node *x = &g->nodes[m->in[0]], *w = &g->nodes[m->in[1]];
    if (x->removed || x->op != RECUR_OP_ONE_HOT || w->shape.ndim != 2) return 0;
    int tb = m->attr.i[1] != 0;
    int64_t V = x->attr.i[0], D = w->shape.d[tb ? 0 : 1];
    if (w->shape.d[tb ? 1 : 0] != V) return 0;
    /* The product's shape is the ids' plus [D] (a batched one-hot against one W). */
    recur_shape want = g->nodes[x->in[0]].shape;
    if (want.ndim >= RECUR_MAX_DIMS) return 0;
    want.d[want.ndim++] = D;
    return recur_shape_equal(want, m->shape);
}

/*
 * The bias added to product m, when m's one reader r is m + b with b a
 * vector of m's last dimension: b's id (and r), else -1.
 */
static int32_t bias_of(const recur_graph *g, int32_t m, const int32_t *reader, int32_t *r)
{
    *r = reader[m];
    if (*r < 0) return -1;
    const recur_node *add = &g->nodes[*r];
    if (add->op != RECUR_OP_ADD || add->loop || add->planned || add->n_in != 2 || add->in[0] == add->in[1]) return -1;
    int32_t b = add->in[0] == m ? add->in[1] : add->in[0];
    const recur_shape *bs = &g->nodes[b].shape, *ms = &g->nodes[m].shape;
    return bs->ndim == 1 && bs->d[0] == ms->d[ms->ndim - 1] && recur_shape_equal(add->shape, *ms) ? b : -1;
}

/*
 * Node m becomes gather(table, ids). With a bias b added to it and at
 * least as many positions as the table has rows, the add r becomes the
 * lookup of table' = W (or W^T) + b instead: V D additions per run rather
 * than one per looked-up float (a hoisted input projection's b_ih).
 */
static recur_status rewrite(recur_graph *g, int32_t id, const int32_t *reader)
{
    recur_node *m = &g->nodes[id];
    int tb = m->attr.i[1] != 0;
    int32_t w = m->in[1], ids = g->nodes[m->in[0]].in[0], r;
    int64_t V = g->nodes[m->in[0]].attr.i[0], positions = recur_shape_numel(g->nodes[ids].shape);
    int32_t bias = bias_of(g, id, reader, &r);
    if (bias >= 0 && positions >= V) {
        recur_value table = tb ? recur_transpose2(g, (recur_value){w}) : (recur_value){w};
        if (recur_ok(table)) table = recur_add(g, table, (recur_value){bias});
        if (!recur_ok(table)) return g->error.code ? g->error.code : RECUR_ERR_STATE;
        recur_node *add = &g->nodes[r]; /* (g->nodes may have moved) */
        add->op = RECUR_OP_GATHER;
        add->in[0] = table.id;
        add->in[1] = ids;
        add->attr = (recur_attr){0};
        return RECUR_OK;
    }
    m->op = RECUR_OP_GATHER;
    m->in[0] = w;
    m->in[1] = ids;
    m->attr = (recur_attr){0};
    m->attr.i[0] = tb; /* W^T: gather W's columns */
    return RECUR_OK;
}

recur_status recur_pass_one_hot(recur_graph *g)
{
    const int32_t n0 = g->n;
    int32_t *reader = malloc(sizeof *reader * ((size_t)n0 + 1)); /* a node's one reader, -1: none, -2: several */
    if (!reader) return recur_set_error(g, RECUR_ERR_NOMEM, "one_hot: out of memory");
    for (int32_t id = 0; id < n0; id++) reader[id] = -1;
    for (int32_t id = 0; id < n0; id++) {
        const recur_node *u = &g->nodes[id];
        for (int k = 0; !u->removed && k < u->n_in; k++) {
            int32_t x = u->in[k];
            reader[x] = reader[x] == -1 ? id : -2;
        }
    }
    recur_status st = RECUR_OK;
    for (int32_t id = 0; id < n0 && st == RECUR_OK; id++)
        if (one_hot_product(g, &g->nodes[id])) st = rewrite(g, id, reader);
    free(reader);
    return st;
}
