/*
 * onnx/import_rnn_ext.c — the parts of ONNX's LSTM/GRU/RNN that recur's
 * cells do not carry yet: per-sequence lengths (sequence_lens), the cell
 * clip (clip) and LSTM peepholes (P). Each has its one function here, the
 * one place where it is to map onto recur's API once the cells take it
 * (issue 13). Until then a node that uses one is refused with a message
 * naming the node, its op type and the attribute; a use that changes
 * nothing (every length equal to T, all-zero peepholes) is accepted, so
 * that no model is imported as a graph computing something else.
 */
#include "onnx_impl.h"

recur_status recur_onnx_rnn_sequence_lens(recur_onnx_ctx *c, const onnx_node *n, int input, recur_onnx_rnn_ext *x)
{
    if (!recur_onnx_in_name(n, input)) return RECUR_OK;
    const onnx_tensor *t = recur_onnx_in_const(c, n, input);
    if (t && t->numel == x->B && t->ndim == 1) {
        int full = 1;
        for (int64_t b = 0; b < t->numel; b++) full &= t->v[b] == (double)x->T;
        if (full) return RECUR_OK; /* every sequence is T long: the lengths change nothing */
    }
    return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "sequence_lens (per-sequence lengths other than T) is not "
                           "supported yet: recur's cells do not take lengths");
}

recur_status recur_onnx_rnn_clip(recur_onnx_ctx *c, const onnx_node *n, recur_onnx_rnn_ext *x)
{
    if (!recur_onnx_attr(n, "clip")) return RECUR_OK;
    recur_status st = recur_onnx_attr_float(c, n, "clip", 0.0f, &x->clip);
    if (st != RECUR_OK) return st;
    x->has_clip = 1;
    return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "clip=%g is not supported yet: recur's cells have no cell clip",
                           (double)x->clip);
}

recur_status recur_onnx_rnn_peepholes(recur_onnx_ctx *c, const onnx_node *n, int input, recur_onnx_rnn_ext *x)
{
    (void)x;
    if (!recur_onnx_in_name(n, input)) return RECUR_OK;
    const onnx_tensor *t = recur_onnx_in_const(c, n, input);
    if (t) {
        int zero = 1;
        for (int64_t i = 0; i < t->numel; i++) zero &= t->v[i] == 0;
        if (zero) return RECUR_OK; /* all-zero peepholes: the plain LSTM */
    }
    return recur_onnx_fail(c, RECUR_ERR_UNSUPPORTED, "P (peephole weights) is not supported yet: recur's LSTM has no "
                           "peepholes");
}
