/*
 * graph/init.c — parameter initializers, all drawing from the graph's
 * seeded generator so a graph built twice with one seed is identical.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"

recur_init recur_init_zeros(void) { return (recur_init){RECUR_INIT_ZEROS, 0, 0}; }
recur_init recur_init_constant(float value) { return (recur_init){RECUR_INIT_CONSTANT, value, 0}; }
recur_init recur_init_uniform(float lo, float hi) { return (recur_init){RECUR_INIT_UNIFORM, lo, hi}; }
recur_init recur_init_normal(float mean, float stddev) { return (recur_init){RECUR_INIT_NORMAL, mean, stddev}; }
recur_init recur_init_xavier(void) { return (recur_init){RECUR_INIT_XAVIER, 1, 0}; }
recur_init recur_init_orthogonal(float gain) { return (recur_init){RECUR_INIT_ORTHOGONAL, gain, 0}; }

/* fan_out = first dimension, fan_in = product of the rest (a vector: its length for both). */
static void fans(recur_shape s, double *fan_in, double *fan_out)
{
    if (s.ndim == 0) {
        *fan_in = *fan_out = 1;
    } else if (s.ndim == 1) {
        *fan_in = *fan_out = (double)s.d[0];
    } else {
        *fan_out = (double)s.d[0];
        *fan_in = (double)(recur_shape_numel(s) / s.d[0]);
    }
}

/*
 * Orthogonal init of a rows x cols matrix: draw a normal matrix, then
 * Gram-Schmidt the longer side's vectors, so rows are orthonormal when
 * rows <= cols and columns are orthonormal otherwise. Returns 0 if out of memory.
 */
static int orthogonal(recur_rng *rng, float *w, int64_t rows, int64_t cols, double gain)
{
    int transposed = rows > cols; /* orthonormalise the shorter set of vectors */
    int64_t nv = transposed ? cols : rows, len = transposed ? rows : cols;
    double *v = malloc(sizeof(double) * (size_t)(nv * len));
    if (!v) return 0;
    for (int64_t i = 0; i < nv * len; i++) v[i] = recur_rng_normal(rng);
    for (int64_t i = 0; i < nv; i++) {
        double *vi = v + i * len;
        for (int pass = 0; pass < 2; pass++) { /* twice for numerical orthogonality */
            for (int64_t j = 0; j < i; j++) {
                double *vj = v + j * len, dot = 0;
                for (int64_t k = 0; k < len; k++) dot += vi[k] * vj[k];
                for (int64_t k = 0; k < len; k++) vi[k] -= dot * vj[k];
            }
        }
        double norm = 0;
        for (int64_t k = 0; k < len; k++) norm += vi[k] * vi[k];
        norm = sqrt(norm);
        if (norm < 1e-12) norm = 1e-12;
        for (int64_t k = 0; k < len; k++) vi[k] /= norm;
    }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            w[r * cols + c] = (float)(gain * (transposed ? v[c * len + r] : v[r * len + c]));
    free(v);
    return 1;
}

recur_status recur_param_init(recur_graph *g, recur_value v, recur_init init)
{
    if (!g) return RECUR_ERR_ARG;
    recur_node *n = recur_node_of(g, v);
    if (!n || n->op != RECUR_OP_PARAM)
        return recur_set_error(g, RECUR_ERR_VALUE, "param_init: value %d is not a parameter of this graph", v.id);
    float *w = n->data;
    int64_t count = recur_shape_numel(n->shape);
    double fan_in, fan_out;
    fans(n->shape, &fan_in, &fan_out);
    switch (init.kind) {
    case RECUR_INIT_ZEROS:
        memset(w, 0, sizeof(float) * (size_t)count);
        break;
    case RECUR_INIT_CONSTANT:
        for (int64_t i = 0; i < count; i++) w[i] = init.a;
        break;
    case RECUR_INIT_UNIFORM:
        if (!(init.b > init.a))
            return recur_set_error(g, RECUR_ERR_ARG, "param_init: uniform range [%g, %g) of \"%s\" is empty",
                                   (double)init.a, (double)init.b, n->name);
        for (int64_t i = 0; i < count; i++) w[i] = (float)(init.a + (init.b - init.a) * recur_rng_uniform(&g->rng));
        break;
    case RECUR_INIT_NORMAL:
        if (!(init.b >= 0))
            return recur_set_error(g, RECUR_ERR_ARG, "param_init: normal stddev %g of \"%s\" is negative",
                                   (double)init.b, n->name);
        for (int64_t i = 0; i < count; i++) w[i] = (float)(init.a + init.b * recur_rng_normal(&g->rng));
        break;
    case RECUR_INIT_XAVIER: {
        double gain = init.a == 0 ? 1.0 : init.a;
        double s = gain * sqrt(6.0 / (fan_in + fan_out));
        for (int64_t i = 0; i < count; i++) w[i] = (float)(s * (2 * recur_rng_uniform(&g->rng) - 1));
        break;
    }
    case RECUR_INIT_ORTHOGONAL: {
        int64_t rows = n->shape.ndim ? n->shape.d[0] : 1;
        double gain = init.a == 0 ? 1.0 : init.a;
        if (!orthogonal(&g->rng, w, rows, count / rows, gain))
            return recur_set_error(g, RECUR_ERR_NOMEM, "param_init: out of memory for orthogonal init of \"%s\"",
                                   n->name);
        break;
    }
    default:
        return recur_set_error(g, RECUR_ERR_ARG, "param_init: unknown initializer kind %d for \"%s\"", (int)init.kind,
                               n->name);
    }
    return RECUR_OK;
}
