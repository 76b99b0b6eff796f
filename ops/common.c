/*
 * ops/common.c — the op table and helpers shared by the op files.
 */
#include <stdarg.h>
#include <stdio.h>

#include "ops/op.h"

/* One definition per op id, as the op list orders them; each op's file defines its entry. */
static const recur_op_def *const table[RECUR_OP_COUNT] = {
#define RECUR_OP_ENTRY(ID, name, flags, rows, mask, cost, glyph) [RECUR_OP_##ID] = &recur_def_##name,
    RECUR_OP_LIST(RECUR_OP_ENTRY)
#undef RECUR_OP_ENTRY
};

/* The list's properties, by op id. */
static const recur_op_props props[RECUR_OP_COUNT] = {
#define RECUR_OP_PROPS(ID, name, flags, rows, mask, cost, glyph) \
    [RECUR_OP_##ID] = {(flags), RECUR_ROWS_##rows, (mask), (cost), (glyph)},
    RECUR_OP_LIST(RECUR_OP_PROPS)
#undef RECUR_OP_PROPS
};

static const recur_op_def unknown_def = {.name = "unknown", .min_in = 0, .max_in = -1};
static const recur_op_props no_props = {0, RECUR_ROWS_NONE, 0, 0, NULL};

const recur_op_def *recur_op(int op)
{
    if (op < 0 || op >= RECUR_OP_COUNT || !table[op]) return &unknown_def;
    return table[op];
}

const recur_op_props *recur_op_props_of(int op) { return op < 0 || op >= RECUR_OP_COUNT ? &no_props : &props[op]; }

int recur_op_has(int op, unsigned flag) { return (recur_op_props_of(op)->flags & flag) != 0; }

int recur_pointwise_arity(int op) { return recur_op(op)->pointwise ? recur_op(op)->arity : 0; }

int recur_op_rows(const recur_graph *g, const recur_node *n, int k)
{
    const recur_op_props *pr = recur_op_props_of(n->op);
    int rowwise = n->shape.ndim >= 2;
    switch (pr->rows) {
    case RECUR_ROWS_RANK: break;
    case RECUR_ROWS_MASK: break;
    case RECUR_ROWS_AXIS: rowwise &= n->attr.i[0] != 0; break;
    case RECUR_ROWS_NOTRANS: rowwise &= n->shape.ndim >= 3 && n->attr.i[0] == 0; break;
    default: rowwise = 0; break;
    }
    if (k < 0) return rowwise;
    if (!rowwise) return -1;
    if (pr->rows == RECUR_ROWS_MASK) return k < 32 && ((pr->rows_mask >> k) & 1u);
    return g->nodes[n->in[k]].shape.ndim == n->shape.ndim;
}

int64_t recur_view_whole(const recur_graph *g, const recur_node *n)
{
    (void)g, (void)n;
    return 0;
}

recur_status recur_shape_same_as_first(recur_graph *g, recur_node *n)
{
    (void)g;
    n->shape = recur_in_shape(g, n, 0);
    return RECUR_OK;
}

recur_status recur_shape_all_equal(recur_graph *g, recur_node *n)
{
    recur_shape s = recur_in_shape(g, n, 0);
    for (int i = 1; i < n->n_in; i++)
        if (!recur_shape_equal(s, recur_in_shape(g, n, i)))
            return recur_shape_fail(g, n, "operands must have the same shape");
    n->shape = s;
    return RECUR_OK;
}

/* Why s cannot be a value's shape (written to why), or NULL when it can. */
static const char *shape_problem(recur_shape s, char *why, size_t len)
{
    if (s.ndim < 0 || s.ndim > RECUR_MAX_DIMS) {
        snprintf(why, len, "rank %d is outside 0..%d", s.ndim, RECUR_MAX_DIMS);
        return why;
    }
    for (int i = 0; i < s.ndim; i++)
        if (s.d[i] < 1) {
            snprintf(why, len, "dimension %d is %lld (dimensions are >= 1)", i, (long long)s.d[i]);
            return why;
        }
    int64_t count = recur_shape_numel(s); /* saturates at INT64_MAX */
    if (count == INT64_MAX)
        snprintf(why, len, "its element count overflows 64 bits (a value holds at most 2^40 elements)");
    else if (count > RECUR_MAX_NUMEL)
        snprintf(why, len, "it holds %lld elements, more than the 2^40 a value may hold", (long long)count);
    else
        return NULL;
    return why;
}

recur_status recur_shape_set(recur_graph *g, recur_node *n, const char *what, recur_shape s)
{
    char why[128], shp[64];
    if (shape_problem(s, why, sizeof why))
        return recur_shape_fail(g, n, "%s %s cannot be a value's shape: %s", what, recur_shape_str(s, shp, sizeof shp),
                                why);
    n->shape = s;
    return RECUR_OK;
}

recur_status recur_kernel_fail(const recur_kernel_args *a, const char *fmt, ...)
{
    if (a->err && a->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a->err, a->errlen, fmt, ap);
        va_end(ap);
    }
    return RECUR_ERR_RUNTIME;
}

recur_value recur_unary(recur_graph *g, int op, recur_value x, const recur_attr *attr)
{
    return recur_node_add(g, op, 1, &x, attr);
}

recur_value recur_binary(recur_graph *g, int op, recur_value a, recur_value b)
{
    recur_value in[2] = {a, b};
    return recur_node_add(g, op, 2, in, NULL);
}

void recur_strides(recur_shape s, int64_t st[RECUR_MAX_DIMS])
{
    int64_t acc = 1;
    for (int i = RECUR_MAX_DIMS - 1; i >= 0; i--) {
        if (i < s.ndim) {
            st[i] = acc;
            acc *= s.d[i];
        } else {
            st[i] = 0;
        }
    }
}
