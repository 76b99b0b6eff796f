/*
 * onnx/import_rnn_ext.c — the parts of ONNX's LSTM/GRU/RNN beyond
 * PyTorch's cells, each in its one function, the one place where it maps
 * onto recur's API:
 *   sequence_lens [B]  -> the loops' per-sequence lengths (recur_cell_over_lengths;
 *                         ONNX's semantics: outputs past a sequence's end are zero,
 *                         Y_h is its last step's, a reverse pass starts at its end)
 *   clip               -> recur_cell_opts.clip (gate preactivations clipped to [-clip, clip])
 *   P [D, 3H]          -> LSTM peepholes (recur_cell_opts.peepholes, "<prefix>.weight_peephole"
 *                         [3, H]; ONNX keeps P_i, P_o, P_f, recur P_i, P_f, P_o)
 * A use that changes nothing (every length equal to T, all-zero peepholes)
 * builds the plain cells.
 */
#include <math.h>

#include "onnx_impl.h"

recur_status recur_onnx_rnn_sequence_lens(recur_onnx_ctx *c, const onnx_node *n, int input, recur_onnx_rnn_ext *x)
{
    x->lengths = RECUR_NONE;
    if (!recur_onnx_in_name(n, input)) return RECUR_OK;
    int nd;
    int64_t d[ONNX_MAX_RANK];
    recur_status st = recur_onnx_in_dims(c, n, input, &nd, d);
    if (st != RECUR_OK) return st;
    if (nd != 1 || d[0] != x->B)
        return recur_onnx_fail(c, RECUR_ERR_SHAPE, "sequence_lens must be [%lld] (one length per sequence)", (long long)x->B);
    const onnx_tensor *t = recur_onnx_in_const(c, n, input);
    if (t) {
        int full = 1;
        for (int64_t b = 0; b < t->numel; b++) {
            if (!(t->v[b] >= 1 && t->v[b] <= (double)x->T) || t->v[b] != floor(t->v[b]))
                return recur_onnx_fail(c, RECUR_ERR_FORMAT, "sequence_lens[%lld] is %g, not a length in 1..%lld",
                                       (long long)b, t->v[b], (long long)x->T);
            full &= t->v[b] == (double)x->T;
        }
        if (full) return RECUR_OK; /* every sequence is T long: the lengths change nothing */
    }
    /* a length fed at run time is checked by the loop when it runs (1..T, whole) */
    return recur_onnx_in_value(c, n, input, &x->lengths);
}

recur_status recur_onnx_rnn_clip(recur_onnx_ctx *c, const onnx_node *n, recur_onnx_rnn_ext *x)
{
    if (!recur_onnx_attr(n, "clip")) return RECUR_OK;
    float clip;
    recur_status st = recur_onnx_attr_float(c, n, "clip", 0.0f, &clip);
    if (st != RECUR_OK) return st;
    if (!(clip > 0) || isinf(clip)) return recur_onnx_fail(c, RECUR_ERR_FORMAT, "clip=%g is not a positive bound", (double)clip);
    x->cell.clip = clip;
    return RECUR_OK;
}

recur_status recur_onnx_rnn_peepholes(recur_onnx_ctx *c, const onnx_node *n, int input, recur_onnx_rnn_ext *x)
{
    x->P = NULL;
    if (!recur_onnx_in_name(n, input)) return RECUR_OK;
    const onnx_tensor *t = recur_onnx_in_const(c, n, input);
    if (!t) {
        if (!recur_onnx_in(c, n, input)) return recur_errcode(c->g);
        return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "input P (peephole weights) must be a constant (an initializer)");
    }
    if (t->is_int || t->ndim != 2 || t->d[0] != x->D || t->d[1] != 3 * x->H)
        return recur_onnx_fail(c, RECUR_ERR_FORMAT, "input P must be float [%lld, %lld]", (long long)x->D,
                               (long long)(3 * x->H));
    int zero = 1;
    for (int64_t i = 0; i < t->numel; i++) zero &= t->v[i] == 0;
    if (zero) return RECUR_OK; /* all-zero peepholes: the plain LSTM */
    x->P = t;
    x->cell.peepholes = 1;
    return RECUR_OK;
}

recur_status recur_onnx_rnn_load_peepholes(recur_onnx_ctx *c, const recur_onnx_rnn_ext *x, int d, const recur_cell *cell)
{
    if (!x->P) return RECUR_OK;
    float *dst = recur_param_data(c->g, cell->peephole);
    if (!dst) return recur_onnx_fail_builder(c);
    static const int from[3] = {0, 2, 1}; /* recur's row k (i, f, o) is ONNX's block from[k] (i, o, f) */
    for (int k = 0; k < 3; k++)
        for (int64_t h = 0; h < x->H; h++) dst[k * x->H + h] = (float)x->P->v[d * 3 * x->H + from[k] * x->H + h];
    return RECUR_OK;
}
