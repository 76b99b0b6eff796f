/*
 * train/clip.c — gradient norms and clipping on plain float arrays.
 *
 * Clipping by global norm (Pascanu et al., the remedy for exploding
 * gradients): with ||g|| = sqrt(sum over every array and element of g^2),
 *   g <- g * max_norm / ||g||   when ||g|| > max_norm,
 * so the direction is kept and the length capped. Clipping by value clamps
 * each element to [-clip, clip] instead.
 */
#include <float.h>
#include <math.h>

#include "optim_impl.h"

double recur_sumsq(const float *x, int64_t n)
{
    double s = 0;
    for (int64_t j = 0; j < n; j++) s += (double)x[j] * (double)x[j];
    return s;
}

/* 1 when n arrays with their counts are given (NULL arrays only for n == 0). */
static int arrays_ok(int n, const void *grads, const int64_t *numel)
{
    return n == 0 || (n > 0 && grads && numel);
}

recur_status recur_grad_norm(int n, const float *const *grads, const int64_t *numel, double *norm)
{
    if (!arrays_ok(n, grads, numel) || !norm) return RECUR_ERR_ARG;
    double s = 0;
    for (int i = 0; i < n; i++) {
        if (numel[i] < 0 || (!grads[i] && numel[i] > 0)) return RECUR_ERR_ARG;
        s += recur_sumsq(grads[i], numel[i]);
    }
    *norm = sqrt(s);
    return RECUR_OK;
}

recur_status recur_clip_grad_norm(int n, float *const *grads, const int64_t *numel, double max_norm, double *norm)
{
    if (!(max_norm > 0)) return RECUR_ERR_ARG;
    double total;
    recur_status st = recur_grad_norm(n, (const float *const *)grads, numel, &total);
    if (st != RECUR_OK) return st;
    if (norm) *norm = total;
    if (!isfinite(total)) return RECUR_ERR_RUNTIME;
    if (total <= max_norm) return RECUR_OK;
    float scale = (float)(max_norm / total);
    for (int i = 0; i < n; i++)
        for (int64_t j = 0; j < numel[i]; j++) grads[i][j] *= scale;
    return RECUR_OK;
}

recur_status recur_clip_grad_value(int n, float *const *grads, const int64_t *numel, double clip)
{
    if (!(clip > 0) || !arrays_ok(n, grads, numel)) return RECUR_ERR_ARG;
    for (int i = 0; i < n; i++)
        if (numel[i] < 0 || (!grads[i] && numel[i] > 0)) return RECUR_ERR_ARG;
    float c = clip > FLT_MAX ? INFINITY : (float)clip;
    for (int i = 0; i < n; i++)
        for (int64_t j = 0; j < numel[i]; j++) {
            float x = grads[i][j];
            grads[i][j] = x > c ? c : (x < -c ? -c : x);
        }
    return RECUR_OK;
}
