/*
 * checkpoint/checkpoint_params.c — a graph's parameters to and from checkpoints,
 * by name. A restore checks every parameter (its shape, and that its
 * values are finite) before writing any, so a failure leaves the graph's
 * weights as they were.
 */
#include <stdlib.h>

#include "graph/ir.h"
#include "checkpoint_impl.h"

/* The graph's parameters in creation order (malloc'd, *n of them), or NULL after recording an error on g. */
static recur_value *list_params(recur_graph *g, const char *who, int *n)
{
    *n = recur_params(g, NULL, 0);
    recur_value *p = malloc(sizeof *p * ((size_t)*n + 1));
    if (!p) {
        recur_set_error(g, RECUR_ERR_NOMEM, "%s: out of memory", who);
        return NULL;
    }
    recur_params(g, p, *n);
    return p;
}

recur_ckpt *recur_ckpt_from_params(recur_graph *g)
{
    if (!g) return NULL;
    int n;
    recur_value *p = list_params(g, "ckpt_from_params", &n);
    recur_ckpt *ck = p ? recur_ckpt_new() : NULL;
    if (p && !ck) recur_set_error(g, RECUR_ERR_NOMEM, "ckpt_from_params: out of memory");
    for (int i = 0; ck && i < n; i++) {
        const char *name = recur_value_name(g, p[i]);
        recur_status st = recur_ckpt_set_tensor(ck, name, recur_value_shape(g, p[i]), recur_param_data(g, p[i]));
        if (st != RECUR_OK) {
            recur_set_error(g, st, "ckpt_from_params: parameter \"%s\": %s", name, recur_ckpt_errmsg(ck));
            recur_ckpt_free(ck);
            ck = NULL;
        }
    }
    free(p);
    return ck;
}

recur_status recur_ckpt_save_params(recur_graph *g, const char *path)
{
    if (!g) return RECUR_ERR_ARG;
    recur_ckpt *ck = recur_ckpt_from_params(g);
    if (!ck) return g->error.code;
    recur_status st = recur_ckpt_save(ck, path);
    if (st != RECUR_OK) recur_set_error(g, st, "ckpt_save_params: %s", recur_ckpt_errmsg(ck));
    recur_ckpt_free(ck);
    return st;
}

recur_status recur_ckpt_restore_params(recur_graph *g, const recur_ckpt *ck, int flags)
{
    if (!g) return RECUR_ERR_ARG;
    if (!ck) return recur_set_error(g, RECUR_ERR_ARG, "ckpt_restore_params: the checkpoint is NULL");
    if (flags & ~(int)(RECUR_CKPT_STRICT | RECUR_CKPT_ALLOW_NONFINITE))
        return recur_set_error(g, RECUR_ERR_ARG,
                               "ckpt_restore_params: unknown flags 0x%x (RECUR_CKPT_STRICT and RECUR_CKPT_ALLOW_NONFINITE "
                               "are known)", (unsigned)flags);
    int strict = (flags & RECUR_CKPT_STRICT) != 0, finite = !(flags & RECUR_CKPT_ALLOW_NONFINITE);
    int n;
    recur_value *p = list_params(g, "ckpt_restore_params", &n);
    int *src = malloc(sizeof *src * ((size_t)n + 1));
    if (!p || !src) {
        free(p);
        free(src);
        return recur_set_error(g, RECUR_ERR_NOMEM, "ckpt_restore_params: out of memory");
    }
    /* First pass: match every parameter and check its shape and values; nothing is written yet. */
    recur_status st = RECUR_OK;
    char a[64], b[64];
    for (int i = 0; i < n && st == RECUR_OK; i++) {
        const char *name = recur_value_name(g, p[i]);
        recur_shape want = recur_value_shape(g, p[i]);
        src[i] = recur_ckpt_find(ck, name);
        if (src[i] < 0) {
            if (strict)
                st = recur_set_error(g, RECUR_ERR_ARG,
                                     "ckpt_restore_params: parameter \"%s\" %s has no tensor in the checkpoint "
                                     "(strict restore; the checkpoint has %d tensors)",
                                     name, recur_shape_str(want, a, sizeof a), recur_ckpt_count(ck));
            continue;
        }
        recur_ckpt_tensor t = recur_ckpt_at(ck, src[i]);
        if (!recur_shape_equal(t.shape, want)) {
            st = recur_set_error(g, RECUR_ERR_SHAPE,
                                 "ckpt_restore_params: tensor \"%s\" has shape %s in the checkpoint, but the "
                                 "parameter has shape %s",
                                 name, recur_shape_str(t.shape, a, sizeof a), recur_shape_str(want, b, sizeof b));
            continue;
        }
        int64_t k = finite ? recur_ckpt_first_nonfinite(t.data, recur_shape_numel(t.shape)) : -1;
        if (k >= 0)
            st = recur_set_error(g, RECUR_ERR_FORMAT,
                                 "ckpt_restore_params: tensor \"%s\" %s holds %g at element %lld: non-finite weights "
                                 "are not restored (RECUR_CKPT_ALLOW_NONFINITE restores them)",
                                 name, recur_shape_str(t.shape, a, sizeof a), (double)t.data[k], (long long)k);
    }
    /* Second pass: copy. */
    for (int i = 0; i < n && st == RECUR_OK; i++) {
        if (src[i] < 0) continue;
        recur_ckpt_tensor t = recur_ckpt_at(ck, src[i]);
        memcpy(recur_param_data(g, p[i]), t.data, sizeof(float) * (size_t)recur_shape_numel(t.shape));
    }
    free(p);
    free(src);
    return st;
}
