/*
 * train/optim_rules.c — the update rule of each optimizer, one element at
 * a time, in PyTorch's form (the formulas are in recur/optim.h beside each
 * kind). The arithmetic is float, as PyTorch does it for float32
 * parameters; the per-step scalars (bias corrections, decayed rates) are
 * computed in double first.
 */
#include <math.h>
#include <string.h>

#include "optim_impl.h"

/* The gradient element a rule reads: scaled by the norm clipping factor, then clamped. */
static inline float clipped(const recur_optim_coef *c, float g)
{
    float x = g * c->gscale;
    if (c->gclip > 0) x = x > c->gclip ? c->gclip : (x < -c->gclip ? -c->gclip : x);
    return x;
}

/* ------------------------------------------------------------------- SGD */

static int sgd_states(const recur_optim_opts *o, const char **names)
{
    if (o->momentum == 0) return 0;
    names[0] = "momentum";
    return 1;
}

/*
 * g += wd p;  buf = (t == 1) ? g : m buf + (1 - d) g;
 * g = nesterov ? g + m buf : buf;  p -= lr g.
 */
static void sgd_update(const recur_optim_opts *o, const recur_optim_coef *c, int64_t n, float *p, const float *g,
                       float *const *s)
{
    float lr = (float)c->lr, wd = (float)o->weight_decay, m = (float)o->momentum;
    float undamped = (float)(1 - o->dampening);
    float *buf = o->momentum != 0 ? s[0] : NULL;
    for (int64_t j = 0; j < n; j++) {
        float d = clipped(c, g[j]) + wd * p[j];
        if (buf) {
            buf[j] = c->t == 1 ? d : m * buf[j] + undamped * d;
            d = o->nesterov ? d + m * buf[j] : buf[j];
        }
        p[j] -= lr * d;
    }
}

/* ------------------------------------------------------------ Adam, AdamW */

static int adam_states(const recur_optim_opts *o, const char **names)
{
    names[0] = "m";
    names[1] = "v";
    if (!o->amsgrad) return 2;
    names[2] = "v_max";
    return 3;
}

/*
 * Adam:  g += wd p.   AdamW:  p *= 1 - lr wd.
 * m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  (amsgrad: v_max = max(v_max, v))
 * p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
 */
static void adam_update(const recur_optim_opts *o, const recur_optim_coef *c, int64_t n, float *p, const float *g,
                        float *const *s)
{
    int decoupled = o->kind == RECUR_OPTIM_ADAMW;
    float b1 = (float)o->beta1, b2 = (float)o->beta2, nb1 = (float)(1 - o->beta1), nb2 = (float)(1 - o->beta2);
    float step_size = (float)(c->lr / (1 - pow(o->beta1, (double)c->t)));
    float bc2_sqrt = (float)sqrt(1 - pow(o->beta2, (double)c->t));
    float eps = (float)o->eps;
    float l2 = decoupled ? 0.0f : (float)o->weight_decay;
    float shrink = decoupled ? (float)(1 - c->lr * o->weight_decay) : 1.0f;
    float *m = s[0], *v = s[1], *vmax = o->amsgrad ? s[2] : NULL;
    for (int64_t j = 0; j < n; j++) {
        float gj = clipped(c, g[j]) + l2 * p[j];
        p[j] *= shrink;
        m[j] = b1 * m[j] + nb1 * gj;
        v[j] = b2 * v[j] + nb2 * gj * gj;
        float vj = v[j];
        if (vmax) {
            if (vmax[j] < vj) vmax[j] = vj;
            vj = vmax[j];
        }
        p[j] -= step_size * m[j] / (sqrtf(vj) / bc2_sqrt + eps);
    }
}

/* ---------------------------------------------------------------- RMSprop */

static int rmsprop_states(const recur_optim_opts *o, const char **names)
{
    int k = 0;
    names[k++] = "square_avg";
    if (o->momentum > 0) names[k++] = "momentum";
    if (o->centered) names[k++] = "grad_avg";
    return k;
}

/*
 * g += wd p;  sq = alpha sq + (1 - alpha) g^2;
 * centered: ga = alpha ga + (1 - alpha) g, avg = sqrt(sq - ga^2) + eps; else avg = sqrt(sq) + eps;
 * momentum m > 0: buf = m buf + g / avg, p -= lr buf;  else p -= lr g / avg.
 * (sq - ga^2 >= 0 in exact arithmetic; it is clamped at 0 against rounding.)
 */
static void rmsprop_update(const recur_optim_opts *o, const recur_optim_coef *c, int64_t n, float *p, const float *g,
                           float *const *s)
{
    float lr = (float)c->lr, wd = (float)o->weight_decay, eps = (float)o->eps, m = (float)o->momentum;
    float a = (float)o->alpha, na = (float)(1 - o->alpha);
    int k = 1;
    float *sq = s[0];
    float *buf = o->momentum > 0 ? s[k++] : NULL;
    float *ga = o->centered ? s[k++] : NULL;
    for (int64_t j = 0; j < n; j++) {
        float gj = clipped(c, g[j]) + wd * p[j];
        sq[j] = a * sq[j] + na * gj * gj;
        float avg;
        if (ga) {
            ga[j] = a * ga[j] + na * gj;
            avg = sqrtf(fmaxf(sq[j] - ga[j] * ga[j], 0.0f)) + eps;
        } else {
            avg = sqrtf(sq[j]) + eps;
        }
        if (buf) {
            buf[j] = m * buf[j] + gj / avg;
            p[j] -= lr * buf[j];
        } else {
            p[j] -= lr * gj / avg;
        }
    }
}

/* ---------------------------------------------------------------- Adagrad */

static int adagrad_states(const recur_optim_opts *o, const char **names)
{
    (void)o;
    names[0] = "sum";
    return 1;
}

/* g += wd p;  sum += g^2;  p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(sum) + eps). */
static void adagrad_update(const recur_optim_opts *o, const recur_optim_coef *c, int64_t n, float *p, const float *g,
                           float *const *s)
{
    float clr = (float)(c->lr / (1 + (double)(c->t - 1) * o->lr_decay));
    float wd = (float)o->weight_decay, eps = (float)o->eps;
    float *sum = s[0];
    for (int64_t j = 0; j < n; j++) {
        float gj = clipped(c, g[j]) + wd * p[j];
        sum[j] += gj * gj;
        p[j] -= clr * gj / (sqrtf(sum[j]) + eps);
    }
}

/* ------------------------------------------------------------------ table */

static const recur_optim_rule rules[] = {
    [RECUR_OPTIM_SGD] = {"sgd", sgd_states, sgd_update},
    [RECUR_OPTIM_ADAM] = {"adam", adam_states, adam_update},
    [RECUR_OPTIM_ADAMW] = {"adamw", adam_states, adam_update},
    [RECUR_OPTIM_RMSPROP] = {"rmsprop", rmsprop_states, rmsprop_update},
    [RECUR_OPTIM_ADAGRAD] = {"adagrad", adagrad_states, adagrad_update},
};

const recur_optim_rule *recur_optim_rule_of(recur_optim_kind kind)
{
    if ((int)kind < 0 || (size_t)kind >= sizeof rules / sizeof rules[0]) return NULL;
    return &rules[kind];
}

const char *recur_optim_kind_name(recur_optim_kind kind)
{
    const recur_optim_rule *r = recur_optim_rule_of(kind);
    return r ? r->name : "unknown";
}

recur_status recur_optim_kind_parse(const char *name, recur_optim_kind *kind)
{
    if (!name || !kind) return RECUR_ERR_ARG;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (strcmp(rules[i].name, name) == 0) {
            *kind = (recur_optim_kind)i;
            return RECUR_OK;
        }
    return RECUR_ERR_ARG;
}
