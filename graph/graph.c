/*
 * graph/graph.c — graph lifecycle, errors, appending nodes, leaves, names
 * and queries.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "ops/op.h"
#include "recur/passes.h"

/*
 * The passes a new graph uses: RECUR_PASSES ("none", "all", or a comma list
 * of pass names), else all. Whole names only ("fuse" does not turn on
 * "matmul_fuse"); a name it does not know (" all", "ALL", "bogus") leaves
 * every pass on and writes why into why (for recur_passes_check).
 */
static unsigned default_passes(char *why, size_t len)
{
    static const struct { const char *name; unsigned bit; } names[] = {
        {"hoist", RECUR_PASS_HOIST}, {"grad_batch", RECUR_PASS_GRAD_BATCH},
        {"fuse", RECUR_PASS_FUSE}, {"matmul_fuse", RECUR_PASS_MATMUL_FUSE},
        {"one_hot", RECUR_PASS_ONE_HOT},
        {"lanes", RECUR_PASS_LANES},
        {"all", RECUR_PASS_ALL}, {"none", 0},
    };
    why[0] = 0;
    const char *env = getenv("RECUR_PASSES");
    if (!env || !*env) return RECUR_PASS_ALL;
    unsigned p = 0;
    for (const char *s = env;;) {
        size_t n = strcspn(s, ","), k = 0;
        while (k < sizeof names / sizeof names[0] && !(strlen(names[k].name) == n && strncmp(s, names[k].name, n) == 0)) k++;
        if (k == sizeof names / sizeof names[0]) {
            snprintf(why, len,
                     "RECUR_PASSES=\"%s\": \"%.*s\" is no pass (a comma list of hoist, grad_batch, fuse, matmul_fuse, one_hot, "
                     "lanes; "
                     "or all, or none)",
                     env, (int)(n < 64 ? n : 64), s);
            return RECUR_PASS_ALL;
        }
        p |= names[k].bit;
        s += n;
        if (*s != ',') break;
        s++;
    }
    return p;
}

recur_graph *recur_graph_new(uint64_t seed)
{
    recur_graph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    recur_rng_seed(&g->rng, seed);
    g->passes = default_passes(g->passes_env_error, sizeof g->passes_env_error);
    return g;
}

void recur_set_passes(recur_graph *g, unsigned passes)
{
    if (!g) return;
    g->passes = passes & RECUR_PASS_ALL;
    g->passes_env_error[0] = 0; /* chosen by the program: RECUR_PASSES no longer matters */
}

recur_status recur_passes_check(recur_graph *g, const char *who)
{
    if (!g || !g->passes_env_error[0]) return RECUR_OK;
    return recur_set_error(g, RECUR_ERR_ARG, "%s: %s", who, g->passes_env_error);
}

unsigned recur_passes(const recur_graph *g) { return g ? g->passes : 0; }

int recur_pass_on(const recur_graph *g, unsigned pass) { return g && (g->passes & pass) == pass; }

static void node_release(recur_node *n)
{
    if (n->in != n->in_inline) free(n->in);
    free(n->name);
    free(n->data);
    memset(n, 0, sizeof *n);
}

void recur_graph_free(recur_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n; i++) node_release(&g->nodes[i]);
    free(g->nodes);
    recur_loops_free(g);
    free(g);
}

void recur_graph_truncate(recur_graph *g, int n)
{
    while (g->n > n) node_release(&g->nodes[--g->n]);
}

/* ---------------------------------------------------------------- errors */

recur_status recur_set_error(recur_graph *g, recur_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    recur_error_vset(g ? &g->error : NULL, code, fmt, ap);
    va_end(ap);
    return code;
}

recur_status recur_errcode(const recur_graph *g) { return recur_error_code(g ? &g->error : NULL); }

const char *recur_errmsg(const recur_graph *g) { return recur_error_msg(g ? &g->error : NULL, "no graph (NULL)"); }

void recur_clear_error(recur_graph *g) { recur_error_clear(g ? &g->error : NULL); }

/* ----------------------------------------------------------------- names */

const char *recur_node_name(const recur_graph *g, int32_t id)
{
    recur_node *n = &g->nodes[id];
    if (!n->name) {
        /* The automatic name is made once and kept; the graph is logically unchanged. */
        char buf[64];
        snprintf(buf, sizeof buf, "%s#%d", recur_op(n->op)->name, (int)id);
        n->name = strdup(buf);
        if (!n->name) return "?";
    }
    return n->name;
}

int recur_axis(int axis, int ndim)
{
    if (axis < 0) axis += ndim;
    return (axis >= 0 && axis < ndim) ? axis : -1;
}

/* Index of the live node called `name` other than `except`, or -1. */
static int find_name(const recur_graph *g, const char *name, int except)
{
    for (int i = 0; i < g->n; i++) {
        if (i == except || g->nodes[i].removed) continue;
        if (strcmp(recur_node_name(g, i), name) == 0) return i;
    }
    return -1;
}

int recur_name_taken(const recur_graph *g, const char *name)
{
    if (!g || !name) return 0;
    for (int i = 0; i < g->n; i++)
        if (!g->nodes[i].removed && g->nodes[i].name && strcmp(g->nodes[i].name, name) == 0) return 1;
    return 0;
}

recur_status recur_set_name(recur_graph *g, recur_value v, const char *name)
{
    if (!g) return RECUR_ERR_ARG;
    recur_node *n = recur_node_of(g, v);
    if (!n) return recur_set_error(g, RECUR_ERR_VALUE, "set_name: value %d is not a live node of this graph", v.id);
    if (!name || !*name) return recur_set_error(g, RECUR_ERR_ARG, "set_name: empty name for node %s", recur_node_name(g, v.id));
    int other = find_name(g, name, v.id);
    if (other >= 0 && (n->op == RECUR_OP_INPUT || n->op == RECUR_OP_PARAM ||
                       g->nodes[other].op == RECUR_OP_INPUT || g->nodes[other].op == RECUR_OP_PARAM))
        return recur_set_error(g, RECUR_ERR_ARG, "set_name: name \"%s\" is already used by node %d (%s)", name,
                               other, recur_op(g->nodes[other].op)->name);
    char *copy = strdup(name);
    if (!copy) return recur_set_error(g, RECUR_ERR_NOMEM, "set_name: out of memory");
    free(n->name);
    n->name = copy;
    return RECUR_OK;
}

recur_value recur_name(recur_graph *g, recur_value v, const char *name)
{
    if (!recur_operand(g, v, "name")) return RECUR_NONE;
    return recur_set_name(g, v, name) == RECUR_OK ? v : RECUR_NONE;
}

recur_value recur_find(const recur_graph *g, const char *name)
{
    if (!g || !name) return RECUR_NONE;
    int i = find_name(g, name, -1);
    if (i < 0) {
        recur_set_error((recur_graph *)g, RECUR_ERR_ARG, "find: no node is named \"%s\"", name);
        return RECUR_NONE;
    }
    return (recur_value){i};
}

/* ------------------------------------------------------------ adding nodes */

recur_status recur_value_check(recur_graph *g, recur_value v, const char *who)
{
    if (!g) return RECUR_ERR_ARG;
    if (recur_operand(g, v, who ? who : "check")) return RECUR_OK;
    return g->error.code != RECUR_OK ? g->error.code : RECUR_ERR_VALUE;
}

recur_node *recur_operand(recur_graph *g, recur_value v, const char *opname)
{
    if (!g) return NULL;
    if (v.id < 0) {
        if (g->error.code == RECUR_OK)
            recur_set_error(g, RECUR_ERR_VALUE, "%s: an operand is the invalid value RECUR_NONE", opname);
        return NULL;
    }
    if (v.id >= g->n) {
        recur_set_error(g, RECUR_ERR_VALUE, "%s: operand %d is not a node of this graph (it has %d nodes)", opname,
                        v.id, g->n);
        return NULL;
    }
    if (g->nodes[v.id].removed) {
        recur_set_error(g, RECUR_ERR_VALUE, "%s: operand %s was removed by recur_graph_prune", opname,
                        recur_node_name(g, v.id));
        return NULL;
    }
    return &g->nodes[v.id];
}

recur_status recur_shape_fail(recur_graph *g, const recur_node *n, const char *fmt, ...)
{
    char what[400], shp[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *opname = recur_op(n->op)->name;
    size_t len = sizeof g->error.msg;
    int used = snprintf(g->error.msg, len, "op %s (new node %s#%d): %s", opname, opname, g->n, what);
    for (int i = 0; i < n->n_in && used > 0 && (size_t)used < len; i++) {
        used += snprintf(g->error.msg + used, len - (size_t)used, "%s input %d \"%s\" %s", i ? ";" : "; operands:", i,
                         recur_node_name(g, n->in[i]), recur_shape_str(g->nodes[n->in[i]].shape, shp, sizeof shp));
    }
    g->error.code = RECUR_ERR_SHAPE;
    return RECUR_ERR_SHAPE;
}

static int valid_shape(recur_shape s)
{
    if (s.ndim < 0 || s.ndim > RECUR_MAX_DIMS) return 0;
    for (int i = 0; i < s.ndim; i++)
        if (s.d[i] < 1 || s.d[i] > ((int64_t)1 << 40)) return 0;
    return recur_shape_numel(s) <= ((int64_t)1 << 40);
}

/*
 * A testing aid in SQLite's manner: with RECUR_TEST_MOVE_NODES=1 in the
 * environment (read once), every node added moves the node array to a new
 * block and frees the old one, so code holding a recur_node pointer, or
 * an argument read from one, across a call that adds nodes reads freed
 * memory at once (AddressSanitizer names it; MALLOC_PERTURB_ makes it
 * garbage) instead of only when the array happens to grow there.
 */
static int move_nodes_always(void)
{
    static int flag = -1;
    if (flag < 0) {
        const char *env = getenv("RECUR_TEST_MOVE_NODES");
        flag = env && env[0] == '1';
    }
    return flag;
}

recur_value recur_node_add(recur_graph *g, int op, int n_in, const recur_value *in, const recur_attr *attr)
{
    if (!g) return RECUR_NONE;
    const recur_op_def *def = recur_op(op);
    for (int i = 0; i < n_in; i++)
        if (!recur_operand(g, in[i], def->name)) return RECUR_NONE;
    if (n_in < def->min_in || (def->max_in >= 0 && n_in > def->max_in)) {
        recur_set_error(g, RECUR_ERR_ARG, "op %s: takes %d..%d inputs, got %d", def->name, def->min_in, def->max_in,
                        n_in);
        return RECUR_NONE;
    }
    recur_node n;
    memset(&n, 0, sizeof n);
    n.op = op;
    n.n_in = n_in;
    if (attr) n.attr = *attr;
    n.in = n_in <= RECUR_INLINE_INPUTS ? n.in_inline : malloc(sizeof(int32_t) * (size_t)n_in);
    if (!n.in) {
        recur_set_error(g, RECUR_ERR_NOMEM, "op %s: out of memory", def->name);
        return RECUR_NONE;
    }
    for (int i = 0; i < n_in; i++) n.in[i] = in[i].id;

    recur_status st = RECUR_OK;
    if (def->shape) {
        st = def->shape(g, &n);
    } else if (!valid_shape(n.attr.target)) {
        char shp[64];
        st = recur_set_error(g, RECUR_ERR_SHAPE, "op %s (new node %s#%d): invalid shape %s (rank 0..%d, dimensions >= 1)",
                             def->name, def->name, g->n, recur_shape_str(n.attr.target, shp, sizeof shp),
                             RECUR_MAX_DIMS);
    } else {
        n.shape = n.attr.target;
    }
    if (st == RECUR_OK) st = recur_loop_tag(g, &n);
    if (st == RECUR_OK && (g->n == g->cap || move_nodes_always())) {
        int cap = g->n == g->cap ? (g->cap ? 2 * g->cap : 64) : g->cap;
        recur_node *nodes = NULL;
        if (g->n == g->cap || !(nodes = malloc(sizeof *nodes * (size_t)cap))) {
            nodes = realloc(g->nodes, sizeof *nodes * (size_t)cap);
        } else { /* (the testing aid: a new block every time) */
            memcpy(nodes, g->nodes, sizeof *nodes * (size_t)g->n);
            free(g->nodes);
        }
        if (!nodes) {
            st = recur_set_error(g, RECUR_ERR_NOMEM, "op %s: out of memory growing the graph", def->name);
        } else {
            /* Nodes moved: inline input arrays must be re-pointed into the new block. */
            for (int i = 0; i < g->n; i++)
                if (nodes[i].n_in <= RECUR_INLINE_INPUTS) nodes[i].in = nodes[i].in_inline;
            g->nodes = nodes;
            g->cap = cap;
        }
    }
    if (st != RECUR_OK) {
        if (n.in != n.in_inline) free(n.in);
        return RECUR_NONE;
    }
    g->nodes[g->n] = n;
    recur_node *added = &g->nodes[g->n];
    if (n.in == n.in_inline) added->in = added->in_inline; /* re-point after the copy */
    return (recur_value){g->n++};
}

/* ---------------------------------------------------------------- leaves */

/* Adds a leaf (input, parameter, constant) with optional name and storage. */
static recur_value add_leaf(recur_graph *g, int op, const char *name, recur_shape shape, int with_data)
{
    const char *opname = recur_op(op)->name;
    if (name && find_name(g, name, -1) >= 0) {
        recur_set_error(g, RECUR_ERR_ARG, "%s: name \"%s\" is already used in this graph", opname, name);
        return RECUR_NONE;
    }
    if ((op == RECUR_OP_INPUT || op == RECUR_OP_PARAM) && (!name || !*name)) {
        recur_set_error(g, RECUR_ERR_ARG, "%s: a name is required", opname);
        return RECUR_NONE;
    }
    recur_attr attr = {.target = shape};
    recur_value v = recur_node_add(g, op, 0, NULL, &attr);
    if (!recur_ok(v)) return v;
    recur_node *n = &g->nodes[v.id];
    if (name && !(n->name = strdup(name))) goto nomem;
    if (with_data && !(n->data = calloc((size_t)recur_shape_numel(shape), sizeof(float)))) goto nomem;
    return v;
nomem:
    recur_graph_truncate(g, v.id);
    recur_set_error(g, RECUR_ERR_NOMEM, "%s \"%s\": out of memory", opname, name ? name : "");
    return RECUR_NONE;
}

recur_value recur_input(recur_graph *g, const char *name, recur_shape shape)
{
    if (!g) return RECUR_NONE;
    return add_leaf(g, RECUR_OP_INPUT, name, shape, 0);
}

recur_value recur_param(recur_graph *g, const char *name, recur_shape shape, recur_init init)
{
    if (!g) return RECUR_NONE;
    recur_value v = add_leaf(g, RECUR_OP_PARAM, name, shape, 1);
    if (recur_ok(v) && recur_param_init(g, v, init) != RECUR_OK) {
        recur_graph_truncate(g, v.id);
        return RECUR_NONE;
    }
    return v;
}

recur_value recur_constant(recur_graph *g, const char *name, recur_shape shape, const float *data)
{
    if (!g) return RECUR_NONE;
    if (!data) {
        recur_set_error(g, RECUR_ERR_ARG, "constant: data is NULL");
        return RECUR_NONE;
    }
    recur_value v = add_leaf(g, RECUR_OP_CONST, name, shape, 1);
    if (recur_ok(v)) memcpy(g->nodes[v.id].data, data, sizeof(float) * (size_t)recur_shape_numel(shape));
    return v;
}

recur_value recur_scalar(recur_graph *g, float x) { return recur_constant(g, NULL, recur_shape0(), &x); }

recur_value recur_fill(recur_graph *g, recur_shape shape, float x)
{
    recur_attr attr = {.f = {x}, .target = shape};
    return recur_node_add(g, RECUR_OP_FILL, 0, NULL, &attr);
}

float *recur_param_data(recur_graph *g, recur_value v)
{
    recur_node *n = recur_node_of(g, v);
    if (!n || !n->data) {
        recur_set_error(g, RECUR_ERR_VALUE, "param_data: value %d is not a parameter or constant of this graph", v.id);
        return NULL;
    }
    recur_graph_params_written(g); /* (the caller may write through the pointer) */
    return n->data;
}

recur_status recur_param_set(recur_graph *g, recur_value v, const float *data, int64_t n)
{
    if (!g) return RECUR_ERR_ARG;
    recur_node *node = recur_node_of(g, v);
    if (!node || node->op != RECUR_OP_PARAM)
        return recur_set_error(g, RECUR_ERR_VALUE, "param_set: value %d is not a parameter of this graph", v.id);
    int64_t want = recur_shape_numel(node->shape);
    char shp[64];
    if (!data || n != want)
        return recur_set_error(g, RECUR_ERR_FEED, "param_set: parameter \"%s\" %s holds %lld floats, got %lld%s",
                               node->name, recur_shape_str(node->shape, shp, sizeof shp), (long long)want,
                               (long long)n, data ? "" : " (NULL data)");
    recur_graph_params_written(g);
    memcpy(node->data, data, sizeof(float) * (size_t)n);
    return RECUR_OK;
}

/* --------------------------------------------------------------- queries */

int recur_graph_size(const recur_graph *g) { return g ? g->n : 0; }

size_t recur_graph_memory(const recur_graph *g)
{
    if (!g) return 0;
    size_t bytes = sizeof *g + sizeof *g->nodes * (size_t)g->cap + sizeof *g->loops * (size_t)g->n_loops;
    for (int i = 0; i < g->n; i++) {
        const recur_node *n = &g->nodes[i];
        if (n->in != n->in_inline) bytes += sizeof(int32_t) * (size_t)n->n_in;
        if (n->name) bytes += strlen(n->name) + 1;
        if (n->data) bytes += sizeof(float) * (size_t)recur_shape_numel(n->shape);
    }
    for (int l = 0; l < g->n_loops; l++) {
        const recur_loop_rec *L = &g->loops[l];
        size_t body = (size_t)(L->last - L->first);
        if (L->name) bytes += strlen(L->name) + 1;
        bytes += sizeof(int32_t) * (2 * (size_t)L->n_seq + 3 * (size_t)L->n_state);
        if (L->copies) bytes += sizeof(int32_t) * body * (size_t)L->T;
        if (L->hoisted) bytes += sizeof(int32_t) * (body + 1);
    }
    return bytes;
}

recur_shape recur_value_shape(const recur_graph *g, recur_value v)
{
    recur_node *n = recur_node_of(g, v);
    if (!n) {
        if (g) recur_set_error((recur_graph *)g, RECUR_ERR_VALUE, "value_shape: value %d is not a live node", v.id);
        return recur_shape0();
    }
    return n->shape;
}

const char *recur_value_name(const recur_graph *g, recur_value v)
{
    return recur_node_of(g, v) ? recur_node_name(g, v.id) : NULL;
}

const char *recur_value_op(const recur_graph *g, recur_value v)
{
    recur_node *n = recur_node_of(g, v);
    return n ? recur_op(n->op)->name : NULL;
}

int recur_is_param(const recur_graph *g, recur_value v)
{
    recur_node *n = recur_node_of(g, v);
    return n && n->op == RECUR_OP_PARAM;
}

int recur_is_input(const recur_graph *g, recur_value v)
{
    recur_node *n = recur_node_of(g, v);
    return n && n->op == RECUR_OP_INPUT;
}

int recur_params(const recur_graph *g, recur_value *out, int cap)
{
    int count = 0;
    for (int i = 0; g && i < g->n; i++) {
        if (g->nodes[i].removed || g->nodes[i].op != RECUR_OP_PARAM) continue;
        if (out && count < cap) out[count] = (recur_value){i};
        count++;
    }
    return count;
}

/* ------------------------------------------------------------ validation */

recur_status recur_graph_validate(recur_graph *g)
{
    if (!g) return RECUR_ERR_ARG;
    recur_value *live = malloc(sizeof *live * ((size_t)g->n + 1));
    int32_t *order = malloc(sizeof *order * ((size_t)g->n + 1));
    if (!live || !order) {
        free(live);
        free(order);
        return recur_set_error(g, RECUR_ERR_NOMEM, "validate: out of memory");
    }
    recur_status st = RECUR_OK;
    int n_live = 0;
    for (int i = 0; i < g->n && st == RECUR_OK; i++) {
        recur_node *n = &g->nodes[i];
        if (n->removed) continue;
        live[n_live++] = (recur_value){i};
        const recur_op_def *def = recur_op(n->op);
        for (int k = 0; k < n->n_in && st == RECUR_OK; k++)
            if (n->in[k] < 0 || n->in[k] >= g->n)
                st = recur_set_error(g, RECUR_ERR_STATE, "validate: node %s input %d refers to node %d, not a node",
                                     recur_node_name(g, i), k, n->in[k]);
        if (st != RECUR_OK || !def->shape) continue;
        recur_node copy = *n;
        if ((st = def->shape(g, &copy)) != RECUR_OK) break;
        if (!recur_shape_equal(copy.shape, n->shape)) {
            char a[64], b[64];
            st = recur_set_error(g, RECUR_ERR_SHAPE, "validate: node %s (%s) records shape %s but its rule gives %s",
                                 recur_node_name(g, i), def->name, recur_shape_str(n->shape, a, sizeof a),
                                 recur_shape_str(copy.shape, b, sizeof b));
        }
    }
    /* Every live node's inputs are live and there is no cycle. */
    if (st == RECUR_OK && recur_topo(g, n_live, live, NULL, order, "validate") < 0) st = g->error.code;
    free(live);
    free(order);
    return st;
}
