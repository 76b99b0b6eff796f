/*
 * passes/matmul_fuse.c — horizontal matmul fusion: products that share their
 * left operand become one product on concatenated right operands.
 *
 * For matmuls Y_k = op_a(A) op_b(B_k), k = 1..n, with the same A, the same
 * transposes and 2-D B_k of N_k output columns each:
 *   [Y_1 | Y_2 | ... | Y_n] = op_a(A) op_b(Bcat),
 *   Bcat = concat(B_1, ..., B_n) along op_b's column axis
 *          (axis 1 of B [K, N], axis 0 of a transposed B [N, K]),
 * so Y_k = slice(fused, last axis, N_1 + ... + N_{k-1}, N_k). This is the
 * 4 gate products of an LSTM (3 of a GRU) written one per gate: one large
 * product per step instead of 4 small ones, and one concatenation of the
 * weights shared by every step (Bcat is cached by its operands). Each Y_k
 * node becomes the slice in place, so ids held by callers and later nodes
 * stay valid; gradients come from the concat, slice and matmul rules. A
 * product a compiled plan reads (recur_node.planned) is left as it is, so
 * no plan compiled earlier is invalidated.
 *
 * Only products with weights for B join: a B that depends on no graph
 * input (parameters, constants and what is computed from them alone). A
 * product whose B is data (attention's Q K^T, the gradient's dW = x^T dY)
 * stays alone: fusing it would make its neighbours wait for, and a plan
 * that needs only them compute, whatever that data depends on. And a
 * member whose B_j depends on another member Y_i cannot join: the fused
 * product would read Y_i, which reads the fused product.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "ops/op.h"
#include "passes/passes.h"

/* A candidate product and the key that groups it: the same A and transposes. */
typedef struct member {
    int32_t a, id;
    int ta, tb;
} member;

static int same_key(const member *p, const member *q) { return p->a == q->a && p->ta == q->ta && p->tb == q->tb; }

/* By key, then by id: a group's members are adjacent, in the order they were built. */
static int cmp_member(const void *x, const void *y)
{
    const member *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    if (p->ta != q->ta) return p->ta - q->ta;
    if (p->tb != q->tb) return p->tb - q->tb;
    return (p->id > q->id) - (p->id < q->id);
}

/* A concatenation of right operands made by this pass: its operands, its axis and its node. */
typedef struct cat_entry {
    int n, axis;
    int32_t *b;
    int32_t id;
} cat_entry;

typedef struct fuser {
    recur_graph *g;
    cat_entry *cats;
    int n_cats, cap_cats;
    int *mark;              /* mark[id] == stamp: reached by the current ancestor search */
    int cap_weight;         /* nodes before the pass (weight[], reader[]) */
    int stamp, cap_mark;
    int32_t *stack;
    char *weight;           /* for the nodes before the pass: 0 not known yet, 1 depends on no input, 2 does */
    int32_t *reader;        /* for the nodes before the pass: the one node reading it, -1 none, -2 several */
} fuser;

/* A fresh stamp, with room for every node g holds now. Returns 0 if out of memory. */
static int new_search(fuser *f)
{
    int n = f->g->n + 1;
    if (n > f->cap_mark) {
        int *mark = realloc(f->mark, sizeof(int) * (size_t)n);
        int32_t *stack = realloc(f->stack, sizeof(int32_t) * (size_t)n);
        if (mark) f->mark = mark;
        if (stack) f->stack = stack;
        if (!mark || !stack) return 0;
        memset(f->mark + f->cap_mark, 0, sizeof(int) * (size_t)(n - f->cap_mark));
        f->cap_mark = n;
    }
    f->stamp++;
    return 1;
}

/*
 * Marks b and every value it depends on (f->mark[id] == f->stamp). Returns
 * 1 if a graph input is among the values it marked.
 */
static int mark_ancestors(fuser *f, int32_t b)
{
    const recur_graph *g = f->g;
    if (f->mark[b] == f->stamp) return 0;
    int top = 0, input = 0;
    f->mark[b] = f->stamp;
    f->stack[top++] = b;
    while (top > 0) {
        f->g->work++;
        const recur_node *n = &g->nodes[f->stack[--top]];
        input |= n->op == RECUR_OP_INPUT;
        for (int k = 0; k < n->n_in; k++)
            if (f->mark[n->in[k]] != f->stamp) {
                f->mark[n->in[k]] = f->stamp;
                f->stack[top++] = n->in[k];
            }
    }
    return input;
}

/* 1 if b (a node from before the pass) depends on no graph input; 0 if it does; -1 if out of memory. */
static int is_weight(fuser *f, int32_t b)
{
    if (!f->weight[b]) {
        if (!new_search(f)) return -1;
        f->weight[b] = mark_ancestors(f, b) ? 2 : 1;
    }
    return f->weight[b] == 1;
}

/* concat(b[0..n-1], axis), made once per list of operands. */
static recur_value concat_once(fuser *f, int n, const recur_value *b, int axis)
{
    for (int c = 0; c < f->n_cats; c++) {
        const cat_entry *e = &f->cats[c];
        int same = e->n == n && e->axis == axis;
        for (int k = 0; same && k < n; k++) same = e->b[k] == b[k].id;
        if (same) return (recur_value){e->id};
    }
    if (f->n_cats == f->cap_cats) {
        int cap = f->cap_cats ? 2 * f->cap_cats : 8;
        cat_entry *grown = realloc(f->cats, sizeof *grown * (size_t)cap);
        if (!grown) return recur_set_error(f->g, RECUR_ERR_NOMEM, "matmul_fuse: out of memory"), RECUR_NONE;
        f->cats = grown;
        f->cap_cats = cap;
    }
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n);
    if (!ids) return recur_set_error(f->g, RECUR_ERR_NOMEM, "matmul_fuse: out of memory"), RECUR_NONE;
    recur_value cat = recur_concat(f->g, n, b, axis);
    if (!recur_ok(cat)) {
        free(ids);
        return cat;
    }
    for (int k = 0; k < n; k++) ids[k] = b[k].id;
    f->cats[f->n_cats++] = (cat_entry){.n = n, .axis = axis, .b = ids, .id = cat.id};
    return cat;
}

/*
 * Keeps the members (ids, in id order) that can share one product: those
 * with a weight for B, none that such a B depends on, and of those with the
 * same B only the first. Returns how many remain in ids, or -1 if out of
 * memory.
 */
static int joinable(fuser *f, int32_t *ids, int n)
{
    const recur_graph *g = f->g;
    int w = 0;
    for (int k = 0; k < n; k++) {
        int yes = is_weight(f, g->nodes[ids[k]].in[1]);
        if (yes < 0) return -1;
        if (yes) ids[w++] = ids[k];
    }
    n = w;
    if (n < 2) return n;
    if (!new_search(f)) return -1;
    for (int k = 0; k < n; k++) mark_ancestors(f, g->nodes[ids[k]].in[1]);
    int m = 0;
    for (int k = 0; k < n; k++) {
        int32_t b = g->nodes[ids[k]].in[1];
        int skip = f->mark[ids[k]] == f->stamp; /* fusing it would make a cycle */
        for (int j = 0; j < m && !skip; j++) skip = g->nodes[ids[j]].in[1] == b; /* a repeat, not a wider product */
        if (!skip) ids[m++] = ids[k];
    }
    return m;
}

/*
 * Biases of fused members: when every member Y_k (now a slice of the fused
 * product P) is read only by an add of a weight row b_k (a bias_add), the
 * adds become slices of one add, P + concat(b_1, ..., b_n), in place. A
 * cell written with a bias per gate then adds one bias row to one product
 * (which a plan runs as one kernel, plan/matmul_bias.c) instead of n
 * rows to n slices, and its bias gradient is one reduction.
 */
static recur_status fold_biases(fuser *f, const int32_t *ids, int n, recur_value fused)
{
    recur_graph *g = f->g;
    recur_value *b = malloc(sizeof *b * (size_t)n);
    int32_t *adds = malloc(sizeof(int32_t) * (size_t)n);
    if (!b || !adds) {
        free(b), free(adds);
        return recur_set_error(g, RECUR_ERR_NOMEM, "matmul_fuse: out of memory");
    }
    int ok = 1;
    for (int k = 0; k < n && ok; k++) {
        const recur_node *m = &g->nodes[ids[k]];
        int32_t r = f->reader[ids[k]];
        const recur_node *add = r >= 0 ? &g->nodes[r] : NULL;
        ok = add && add->op == RECUR_OP_ADD && !add->loop && !add->planned && add->n_in == 2;
        if (!ok) break;
        int32_t bias = add->in[0] == ids[k] ? add->in[1] : add->in[0];
        const recur_node *bn = &g->nodes[bias];
        ok = bias < (int32_t)f->cap_weight && bn->shape.ndim == 1 && bn->shape.d[0] == m->shape.d[m->shape.ndim - 1] &&
             add->in[0] != add->in[1] && recur_shape_equal(add->shape, m->shape);
        if (ok) {
            int w = is_weight(f, bias);
            if (w < 0) {
                free(b), free(adds);
                return recur_set_error(g, RECUR_ERR_NOMEM, "matmul_fuse: out of memory");
            }
            ok = w;
        }
        b[k] = (recur_value){bias};
        adds[k] = r;
    }
    recur_status st = RECUR_OK;
    if (ok) {
        recur_value cat = concat_once(f, n, b, 0);
        recur_value sum = recur_ok(cat) ? recur_add(g, fused, cat) : RECUR_NONE;
        if (!recur_ok(sum)) {
            st = g->error.code ? g->error.code : RECUR_ERR_STATE;
        } else {
            recur_node *sn = &g->nodes[sum.id], *fn = &g->nodes[fused.id];
            sn->unrolled = fn->unrolled, sn->step = fn->step, sn->origin = fn->origin;
            for (int k = 0; k < n; k++) { /* each add is now the slice its member was */
                recur_node *a = &g->nodes[adds[k]];
                const recur_node *m = &g->nodes[ids[k]];
                a->op = RECUR_OP_SLICE;
                a->n_in = 1;
                a->in[0] = sum.id;
                a->attr = m->attr;
            }
        }
    }
    free(b), free(adds);
    return st;
}

/* Rewrites the n >= 2 members ids (one A, one pair of transposes) as slices of one product. */
static recur_status fuse_group(fuser *f, const int32_t *ids, int n)
{
    recur_graph *g = f->g;
    const int n0 = g->n;
    const recur_node *first = &g->nodes[ids[0]];
    int ta = (int)first->attr.i[0], tb = (int)first->attr.i[1];
    recur_value a = {first->in[0]};
    recur_value *b = malloc(sizeof *b * (size_t)n);
    if (!b) return recur_set_error(g, RECUR_ERR_NOMEM, "matmul_fuse: out of memory");
    for (int k = 0; k < n; k++) b[k] = (recur_value){g->nodes[ids[k]].in[1]};
    recur_value cat = concat_once(f, n, b, tb ? 0 : 1);
    free(b);
    recur_value fused = recur_ok(cat) ? recur_matmul(g, a, cat, ta, tb) : RECUR_NONE;
    if (!recur_ok(fused)) {
        if (recur_ok(cat) && cat.id >= n0) f->n_cats--, free(f->cats[f->n_cats].b);
        recur_graph_truncate(g, n0);
        return g->error.code ? g->error.code : RECUR_ERR_STATE;
    }
    /* The fused product stands where its first member stood (step, origin) in diagrams. */
    recur_node *fn = &g->nodes[fused.id];
    first = &g->nodes[ids[0]];
    fn->unrolled = first->unrolled;
    fn->step = first->step;
    fn->origin = first->origin;
    int64_t offset = 0;
    for (int k = 0; k < n; k++) {
        recur_node *m = &g->nodes[ids[k]];
        int axis = m->shape.ndim - 1;
        int64_t cols = m->shape.d[axis];
        m->op = RECUR_OP_SLICE;
        m->n_in = 1;
        m->in[0] = fused.id;
        memset(&m->attr, 0, sizeof m->attr);
        m->attr.i[0] = axis;
        m->attr.i[1] = offset;
        m->attr.i[2] = cols;
        offset += cols;
    }
    return fold_biases(f, ids, n, fused);
}

recur_status recur_pass_matmul_fuse(recur_graph *g)
{
    const int n0 = g->n;
    member *cand = malloc(sizeof *cand * ((size_t)n0 + 1));
    int32_t *ids = malloc(sizeof(int32_t) * ((size_t)n0 + 1));
    fuser f = {.g = g, .weight = calloc((size_t)n0 + 1, 1), .reader = malloc(sizeof(int32_t) * ((size_t)n0 + 1)),
               .cap_weight = n0};
    recur_status st = RECUR_OK;
    if (!cand || !ids || !f.weight || !f.reader) {
        st = recur_set_error(g, RECUR_ERR_NOMEM, "matmul_fuse: out of memory");
        goto out;
    }
    g->work += 3 * (uint64_t)n0; /* readers, candidates, their sort */
    for (int32_t id = 0; id < n0; id++) f.reader[id] = -1;
    for (int32_t id = 0; id < n0; id++) {
        const recur_node *n = &g->nodes[id];
        for (int k = 0; !n->removed && k < n->n_in; k++) {
            int32_t x = n->in[k];
            f.reader[x] = f.reader[x] == -1 || f.reader[x] == id ? id : -2;
        }
    }
    int n_cand = 0;
    for (int32_t id = 0; id < n0; id++) {
        const recur_node *n = &g->nodes[id];
        if (n->removed || n->loop || n->planned || n->op != RECUR_OP_MATMUL || g->nodes[n->in[1]].shape.ndim != 2)
            continue;
        cand[n_cand++] = (member){.a = n->in[0], .id = id, .ta = n->attr.i[0] != 0, .tb = n->attr.i[1] != 0};
    }
    qsort(cand, (size_t)n_cand, sizeof *cand, cmp_member);
    for (int i = 0, j; i < n_cand && st == RECUR_OK; i = j) {
        for (j = i + 1; j < n_cand && same_key(&cand[i], &cand[j]); j++) {}
        if (j - i < 2) continue;
        for (int k = i; k < j; k++) ids[k - i] = cand[k].id;
        int m = joinable(&f, ids, j - i);
        if (m < 0) st = recur_set_error(g, RECUR_ERR_NOMEM, "matmul_fuse: out of memory");
        else if (m >= 2) st = fuse_group(&f, ids, m);
    }
out:
    for (int c = 0; c < f.n_cats; c++) free(f.cats[c].b);
    free(f.cats);
    free(f.mark);
    free(f.stack);
    free(f.weight);
    free(f.reader);
    free(cand);
    free(ids);
    return st;
}
