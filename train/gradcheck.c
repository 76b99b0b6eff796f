/*
 * train/gradcheck.c — finite-difference gradient checking.
 *
 * For a direction d over the wrt values, the central difference
 *   fd = (L(x + eps d) - L(x - eps d)) / (2 eps)
 * approximates the directional derivative <grad L, d> with error O(eps^2).
 * Per element, d is a unit vector; otherwise d is a random unit vector over
 * all wrt elements together. The error reported is
 *   |fd - an| / max(|fd|, |an|, rel_floor).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "recur/gradcheck.h"

typedef struct checker {
    recur_graph *g;
    recur_plan *loss_plan;
    recur_value loss;
    int n_wrt;
    const recur_value *wrt;
    float **x;           /* x[i]: the storage being perturbed (param data or a feed copy) */
    int64_t *len;
    recur_gradcheck_report *rep;
    float rel_floor;
} checker;

/* Loss at the current x, re-feeding perturbed inputs. */
static recur_status eval_loss(checker *c, double *out)
{
    for (int i = 0; i < c->n_wrt; i++) {
        if (!recur_is_input(c->g, c->wrt[i])) continue;
        recur_status st = recur_plan_feed(c->loss_plan, c->wrt[i], c->x[i], c->len[i]);
        if (st != RECUR_OK) return st;
    }
    recur_status st = recur_plan_run(c->loss_plan);
    if (st != RECUR_OK) return st;
    float l = 0;
    st = recur_plan_fetch(c->loss_plan, c->loss, &l, 1);
    *out = l;
    return st;
}

static void record(checker *c, double fd, double an, int wrt, int64_t index)
{
    double abs_err = fabs(fd - an);
    double denom = fmax(fmax(fabs(fd), fabs(an)), (double)c->rel_floor);
    double rel = abs_err / denom;
    recur_gradcheck_report *r = c->rep;
    r->n_checks++;
    if (abs_err > r->max_abs_err) r->max_abs_err = abs_err;
    if (rel > r->max_rel_err || r->n_checks == 1) {
        r->max_rel_err = rel;
        r->worst_wrt = wrt;
        r->worst_index = index;
        r->worst_fd = fd;
        r->worst_analytic = an;
    }
}

recur_status recur_gradcheck(recur_graph *g, recur_value loss, int n_wrt, const recur_value *wrt, int n_feeds,
                             const recur_feed *feeds, const recur_gradcheck_opts *opts,
                             recur_gradcheck_report *report)
{
    if (!g) return RECUR_ERR_ARG;
    if (!report || n_wrt < 1 || !wrt || n_feeds < 0 || (n_feeds && !feeds))
        return recur_set_error(g, RECUR_ERR_ARG, "gradcheck: bad arguments (need wrt values and a report)");
    recur_gradcheck_opts o = opts ? *opts : (recur_gradcheck_opts){0};
    if (o.eps <= 0) o.eps = 1e-3f;
    if (o.n_directions <= 0) o.n_directions = 8;
    if (o.rel_floor <= 0) o.rel_floor = 1e-2f;
    memset(report, 0, sizeof *report);
    report->worst_wrt = -1;

    for (int i = 0; i < n_wrt; i++) {
        if (!recur_is_param(g, wrt[i]) && !recur_is_input(g, wrt[i]))
            return recur_set_error(g, RECUR_ERR_VALUE, "gradcheck: wrt %d (%s) must be a parameter or an input", i,
                                   recur_ok(wrt[i]) && wrt[i].id < g->n ? recur_node_name(g, wrt[i].id) : "invalid");
    }
    recur_value *grads = calloc((size_t)n_wrt, sizeof *grads);
    float **x = calloc((size_t)n_wrt, sizeof *x), **an = calloc((size_t)n_wrt, sizeof *an);
    float **owned = calloc((size_t)n_wrt, sizeof *owned), **saved = calloc((size_t)n_wrt, sizeof *saved);
    int64_t *len = calloc((size_t)n_wrt, sizeof *len);
    recur_plan *full = NULL, *lp = NULL;
    recur_status st = RECUR_OK;
    if (!grads || !x || !an || !owned || !saved || !len) {
        st = recur_set_error(g, RECUR_ERR_NOMEM, "gradcheck: out of memory");
        goto out;
    }
    st = recur_grad(g, loss, n_wrt, wrt, grads);
    if (st != RECUR_OK) goto out;

    /* One plan for the loss and every gradient, one for the loss alone. */
    recur_value *outs = malloc(sizeof *outs * (size_t)(n_wrt + 1));
    if (!outs) {
        st = recur_set_error(g, RECUR_ERR_NOMEM, "gradcheck: out of memory");
        goto out;
    }
    outs[0] = loss;
    memcpy(outs + 1, grads, sizeof *outs * (size_t)n_wrt);
    full = recur_compile(g, n_wrt + 1, outs, NULL);
    free(outs);
    lp = full ? recur_compile(g, 1, &loss, NULL) : NULL;
    if (!full || !lp) {
        st = recur_errcode(g);
        goto out;
    }
    for (int f = 0; f < n_feeds; f++) {
        /* A feed neither plan reads is skipped; a wrongly sized one is an error. */
        recur_plan *plans[2] = {full, lp};
        for (int k = 0; k < 2; k++) {
            recur_status a = recur_plan_feed(plans[k], feeds[f].value, feeds[f].data, feeds[f].n);
            if (a != RECUR_OK && a != RECUR_ERR_VALUE) {
                st = recur_set_error(g, a, "gradcheck: %s", recur_plan_errmsg(plans[k]));
                goto out;
            }
        }
    }
    /* Storage to perturb: a parameter's own data, or a copy of an input's feed. */
    for (int i = 0; i < n_wrt; i++) {
        len[i] = recur_shape_numel(recur_value_shape(g, wrt[i]));
        if (recur_is_param(g, wrt[i])) {
            x[i] = recur_param_data(g, wrt[i]);
            if (!(saved[i] = malloc(sizeof(float) * (size_t)len[i]))) goto nomem;
            memcpy(saved[i], x[i], sizeof(float) * (size_t)len[i]);
        } else {
            const recur_feed *fd = NULL;
            for (int f = 0; f < n_feeds; f++)
                if (feeds[f].value.id == wrt[i].id) fd = &feeds[f];
            if (!fd || fd->n != len[i]) {
                st = recur_set_error(g, RECUR_ERR_FEED, "gradcheck: input %s is in wrt but not fed with %lld floats",
                                     recur_node_name(g, wrt[i].id), (long long)len[i]);
                goto out;
            }
            if (!(owned[i] = malloc(sizeof(float) * (size_t)len[i]))) goto nomem;
            memcpy(owned[i], fd->data, sizeof(float) * (size_t)len[i]);
            x[i] = owned[i];
        }
        if (!(an[i] = malloc(sizeof(float) * (size_t)len[i]))) goto nomem;
    }
    if (recur_plan_run(full) != RECUR_OK) {
        st = recur_set_error(g, recur_plan_errcode(full), "gradcheck: %s", recur_plan_errmsg(full));
        goto out;
    }
    for (int i = 0; i < n_wrt; i++) recur_plan_fetch(full, grads[i], an[i], len[i]);

    checker c = {g, lp, loss, n_wrt, wrt, x, len, report, o.rel_floor};
    double lplus, lminus;
    if (o.every_element) {
        for (int i = 0; i < n_wrt && st == RECUR_OK; i++) {
            for (int64_t e = 0; e < len[i] && st == RECUR_OK; e++) {
                float keep = x[i][e];
                x[i][e] = keep + o.eps;
                st = eval_loss(&c, &lplus);
                x[i][e] = keep - o.eps;
                if (st == RECUR_OK) st = eval_loss(&c, &lminus);
                x[i][e] = keep;
                if (st == RECUR_OK) record(&c, (lplus - lminus) / (2.0 * o.eps), an[i][e], i, e);
            }
        }
    } else {
        recur_rng rng;
        recur_rng_seed(&rng, o.seed);
        int64_t total = 0;
        for (int i = 0; i < n_wrt; i++) total += len[i];
        float *dir = malloc(sizeof(float) * (size_t)total);
        if (!dir) goto nomem;
        for (int k = 0; k < o.n_directions && st == RECUR_OK; k++) {
            double norm = 0, an_dot = 0;
            for (int64_t e = 0; e < total; e++) {
                dir[e] = (float)recur_rng_normal(&rng);
                norm += (double)dir[e] * dir[e];
            }
            norm = sqrt(norm);
            int64_t at = 0;
            for (int i = 0; i < n_wrt; i++)
                for (int64_t e = 0; e < len[i]; e++, at++) {
                    dir[at] = (float)(dir[at] / norm);
                    an_dot += (double)an[i][e] * dir[at];
                }
            double l[2];
            for (int side = 0; side < 2 && st == RECUR_OK; side++) {
                float step = side == 0 ? o.eps : -o.eps;
                at = 0;
                for (int i = 0; i < n_wrt; i++)
                    for (int64_t e = 0; e < len[i]; e++, at++) x[i][e] += step * dir[at];
                st = eval_loss(&c, &l[side]);
                at = 0;
                for (int i = 0; i < n_wrt; i++)
                    for (int64_t e = 0; e < len[i]; e++, at++) x[i][e] -= step * dir[at];
            }
            if (st == RECUR_OK) record(&c, (l[0] - l[1]) / (2.0 * o.eps), an_dot, -1, k);
        }
        free(dir);
    }
    if (st != RECUR_OK) st = recur_set_error(g, st, "gradcheck: %s", recur_plan_errmsg(lp));
    goto out;
nomem:
    st = recur_set_error(g, RECUR_ERR_NOMEM, "gradcheck: out of memory");
out:
    for (int i = 0; x && saved && i < n_wrt; i++)
        if (saved[i]) memcpy(x[i], saved[i], sizeof(float) * (size_t)len[i]); /* restore parameters exactly */
    for (int i = 0; i < n_wrt && owned; i++) {
        free(owned[i]);
        free(saved[i]);
        free(an[i]);
    }
    recur_plan_free(full);
    recur_plan_free(lp);
    free(grads), free(x), free(an), free(owned), free(saved), free(len);
    return st;
}
