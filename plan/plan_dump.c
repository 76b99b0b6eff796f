/*
 * plan/plan_dump.c — a compiled plan's kernels as text, in the order
 * they run (recur_plan_dump), and where its memory goes
 * (recur_plan_memory_report).
 */
#include <stdio.h>
#include <stdlib.h>

#include "plan_impl.h"

recur_status recur_plan_dump(const recur_plan *p, FILE *f)
{
    if (!p || !f) return RECUR_ERR_ARG;
    const recur_graph *g = p->g;
    double total = 0;
    for (int s = 0; p->step_ms && s < p->n_steps; s++) total += p->step_ms[s];
    int k = 0;
    for (int s = 0; s < p->n_steps; s++) {
        const plan_step *step = &p->steps[s];
        if (!step->fn) continue;
        const recur_node *n = &g->nodes[step->id];
        char shp[64], what[1024];
        if (step->owns_state) recur_fused_describe(step->state, g, what, sizeof what);
        else if (step->inner >= 0) snprintf(what, sizeof what, "matmul+bias");
        else snprintf(what, sizeof what, "%s", recur_op(n->op)->name);
        fprintf(f, "%5d %-24s %-14s %s <-", k++, recur_node_name(g, step->id), recur_shape_str(n->shape, shp, sizeof shp),
                step->owns_state ? "fused" : what);
        for (int i = 0; i < step->n_in; i++) fprintf(f, " %s", recur_node_name(g, step->in[i]));
        if (step->owns_state) fprintf(f, " [%s]", what);
        if (p->step_ms) fprintf(f, "  %.3f ms (%.1f%%)", p->step_ms[s], total > 0 ? 100 * p->step_ms[s] / total : 0.0);
        fputc('\n', f);
    }
    return RECUR_OK;
}

/* kernel[s]: the number of the kernel running at or after plan step s (as recur_plan_dump numbers them). */
static int *kernel_numbers(const recur_plan *p)
{
    int *kernel = malloc(sizeof(int) * ((size_t)p->n_steps + 1));
    if (!kernel) return NULL;
    int k = 0;
    for (int s = 0; s < p->n_steps; s++) {
        kernel[s] = k;
        k += p->steps[s].fn != NULL;
    }
    kernel[p->n_steps] = k;
    return kernel;
}

/* Writes what buffer b holds: a value's name and shape, a step's workspace, a backend's copy of a value. */
static void describe_buffer(const recur_plan *p, const plan_buffer *b, char *buf, size_t len)
{
    const recur_graph *g = p->g;
    char shp[64];
    if (b->kind == PLAN_BUF_WORK)
        snprintf(buf, len, "workspace of %s", recur_node_name(g, p->steps[b->id].id));
    else if (b->kind == PLAN_BUF_BACKEND)
        snprintf(buf, len, "%s's copy of %s", p->be->name, b->id >= 0 ? recur_node_name(g, b->id) : "(a value)");
    else
        snprintf(buf, len, "%s %s%s", recur_node_name(g, b->id), recur_shape_str(g->nodes[b->id].shape, shp, sizeof shp),
                 (p->role[b->id] & 7) == ROLE_COMPUTED ? "" : " (input)");
}

/* bytes as B, KiB or MiB. */
static const char *human(size_t bytes, char *buf, size_t len)
{
    if (bytes < 1024) snprintf(buf, len, "%zu B", bytes);
    else if (bytes < 1024 * 1024) snprintf(buf, len, "%.1f KiB", bytes / 1024.0);
    else snprintf(buf, len, "%.2f MiB", bytes / (1024.0 * 1024.0));
    return buf;
}

static int by_bytes_desc(const void *a, const void *b)
{
    const plan_buffer *x = *(const plan_buffer *const *)a, *y = *(const plan_buffer *const *)b;
    return x->bytes != y->bytes ? (x->bytes < y->bytes ? 1 : -1) : (x->offset > y->offset) - (x->offset < y->offset);
}

recur_status recur_plan_memory_report(const recur_plan *p, FILE *f, int top)
{
    if (!p || !f || top < 0) return RECUR_ERR_ARG;
    size_t total = recur_plan_memory(p), programs = recur_fused_plan_bytes(p);
    char a[32], b[32], c[32], d[32];
    fprintf(f, "memory: %zu bytes (%s): arena %s (%d buffers), fused programs %s, other backend memory %s\n", total,
            human(total, a, sizeof a), human(p->arena_bytes, b, sizeof b), p->n_buffers, human(programs, c, sizeof c),
            human(total - p->arena_bytes - programs, d, sizeof d));
    if (!p->buffers || !p->n_buffers) return RECUR_OK;
    /* Live bytes per step (a difference array over steps -1 .. n_steps), and the step where they peak. */
    int n = p->n_steps;
    long long *delta = calloc((size_t)n + 3, sizeof *delta);
    int *kernel = kernel_numbers(p);
    const plan_buffer **live = malloc(sizeof *live * ((size_t)p->n_buffers + 1));
    if (!delta || !kernel || !live) {
        free(delta), free(kernel), free(live);
        return RECUR_ERR_NOMEM;
    }
    for (int b = 0; b < p->n_buffers; b++) {
        delta[p->buffers[b].first + 1] += (long long)p->buffers[b].bytes;
        delta[p->buffers[b].last + 2] -= (long long)p->buffers[b].bytes;
    }
    long long now = 0, peak = -1;
    int at = 0;
    for (int s = -1; s <= n; s++) {
        now += delta[s + 1];
        if (now > peak) peak = now, at = s;
    }
    int step = at < 0 ? 0 : at < n ? at : n - 1, n_live = 0;
    fprintf(f, "peak: %s live at kernel %d (%s); the largest buffers live then:\n", human((size_t)peak, a, sizeof a),
            kernel[step], n > 0 ? recur_node_name(p->g, p->steps[step].id) : "-");
    for (int b = 0; b < p->n_buffers; b++)
        if (p->buffers[b].first <= at && p->buffers[b].last >= at) live[n_live++] = &p->buffers[b];
    qsort(live, (size_t)n_live, sizeof *live, by_bytes_desc);
    for (int i = 0; i < n_live && i < top; i++) {
        const plan_buffer *b = live[i];
        char what[256];
        describe_buffer(p, b, what, sizeof what);
        human(b->bytes, c, sizeof c);
        if (b->first < 0) fprintf(f, "  %12s  %-44s the whole run\n", c, what);
        else fprintf(f, "  %12s  %-44s kernels %d..%d\n", c, what, kernel[b->first], kernel[b->last < n ? b->last : n]);
    }
    if (n_live > top) fprintf(f, "  (%d more)\n", n_live - top);
    free(delta), free(kernel), free(live);
    return RECUR_OK;
}
