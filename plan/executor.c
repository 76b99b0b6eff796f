/*
 * plan/executor.c — compiles a graph into a plan and runs it.
 *
 * Compiling: order the needed nodes topologically, choose each node's
 * kernel, fuse (plan/fuse.c, matmul_bias.c), decide which values share
 * buffers, let the backend prepare per-node state, lay buffers and step
 * workspaces out in one arena by liveness (plan/memory.c), and resolve
 * every kernel's input pointers. Running walks the steps and calls
 * kernels: it allocates nothing.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "ops/threads.h"
#include "plan_impl.h"
#include "recur/passes.h"

const char *recur_plan_errmsg(const recur_plan *p) { return recur_error_msg(p ? &p->error : NULL, "no plan (NULL)"); }
recur_status recur_plan_errcode(const recur_plan *p) { return recur_error_code(p ? &p->error : NULL); }
recur_error *recur_plan_error(recur_plan *p) { return p ? &p->error : NULL; }

int recur_plan_kernel_count(const recur_plan *p) { return p ? p->n_steps : 0; }

recur_plan_kernel recur_plan_kernel_at(const recur_plan *p, int i)
{
    const plan_step *step = &p->steps[i];
    return (recur_plan_kernel){.node = &p->g->nodes[step->id],
                               .inner = step->inner >= 0 ? &p->g->nodes[step->inner] : NULL,
                               .n_in = step->n_in,
                               .in = step->in,
                               .xs = p->xshape + step->x_off,
                               .runs = step->fn && !step->dead,
                               .fused = step->owns_state};
}

size_t recur_plan_memory(const recur_plan *p)
{
    if (!p) return 0;
    size_t backend = p->be_state && p->be->plan_bytes ? p->be->plan_bytes(p->be_state) : 0;
    return p->arena_bytes + backend + recur_fused_plan_bytes(p);
}
uint64_t recur_plan_runs(const recur_plan *p) { return p ? p->run : 0; }

recur_status recur_plan_set_runs(recur_plan *p, uint64_t runs)
{
    if (!p) return RECUR_ERR_ARG;
    p->run = runs;
    return RECUR_OK;
}

int recur_plan_size(const recur_plan *p)
{
    int n = 0;
    for (int s = 0; p && s < p->n_steps; s++) n += p->steps[s].fn != NULL;
    return n;
}
const char *recur_plan_backend(const recur_plan *p) { return p ? p->be->name : NULL; }

static void copy_error_to_graph(recur_plan *p) { recur_error_copy(&p->g->error, &p->error, NULL); }

recur_plan *recur_plan_compile(recur_graph *g, int n_outputs, const recur_value *outputs, int n_fed,
                               const recur_value *fed, const recur_compile_opts *opts, const recur_backend *be)
{
    if (!g || !be) return NULL;
    if (recur_passes_check(g, "compile") != RECUR_OK) return NULL;
    if (n_outputs < 1 || !outputs) {
        recur_set_error(g, RECUR_ERR_ARG, "compile: at least one output is needed");
        return NULL;
    }
    if (n_fed < 0 || (n_fed > 0 && !fed)) {
        recur_set_error(g, RECUR_ERR_ARG, "compile: bad list of fed values");
        return NULL;
    }
    for (int i = 0; i < n_fed; i++)
        if (!recur_operand(g, fed[i], "compile")) return NULL;
    recur_compile_opts o = opts ? *opts : (recur_compile_opts){0};
    plan_layout lay = {0};
    recur_backend_buffer *shared = NULL;
    recur_plan *p = calloc(1, sizeof *p);
    if (!p) {
        recur_set_error(g, RECUR_ERR_NOMEM, "compile: out of memory");
        return NULL;
    }
    p->g = g;
    p->be = be;
    p->opts = o;
    p->n_vals = g->n;
    int32_t *order = malloc(sizeof(int32_t) * (size_t)(g->n + 1));
    char *is_fed = calloc((size_t)g->n + 1, 1);
    p->val = calloc((size_t)g->n + 1, sizeof *p->val);
    p->role = calloc((size_t)g->n + 1, 1);
    p->steps = malloc(sizeof *p->steps * (size_t)(g->n + 1));
    p->inputs = malloc(sizeof(int32_t) * (size_t)(g->n + 1));
    if (!order || !is_fed || !p->val || !p->role || !p->steps || !p->inputs) {
        free(order);
        free(is_fed);
        recur_plan_free(p);
        recur_set_error(g, RECUR_ERR_NOMEM, "compile: out of memory");
        return NULL;
    }
    for (int i = 0; i < n_fed; i++) is_fed[fed[i].id] = 1;
    int count = recur_topo(g, n_outputs, outputs, is_fed, order, "compile");
    if (count < 0) {
        free(order);
        free(is_fed);
        recur_plan_free(p);
        return NULL; /* recur_topo recorded why */
    }

    if (recur_pass_on(g, RECUR_PASS_LANES) && recur_lanes_order(g, order, count, is_fed) != RECUR_OK) {
        recur_error_set(&p->error, RECUR_ERR_NOMEM, "compile: out of memory");
        goto fail;
    }
    g->work += (uint64_t)count * 8; /* roles, steps, shapes, pointers: loops over the plan's nodes */
    /* Roles and steps. */
    int n_x = 0;
    for (int i = 0; i < count; i++) {
        int32_t id = order[i];
        recur_node *node = &g->nodes[id];
        if (node->op == RECUR_OP_INPUT || is_fed[id]) {
            p->role[id] = ROLE_INPUT_UNFED;
            p->inputs[p->n_inputs++] = id;
        } else if (node->op == RECUR_OP_PARAM || node->op == RECUR_OP_CONST) {
            p->role[id] = ROLE_STORAGE;
            p->val[id] = node->data;
        } else {
            p->role[id] = ROLE_COMPUTED;
            recur_kernel_fn fn = be->select(g, node);
            if (!fn) fn = recur_op(node->op)->forward;
            if (!fn) {
                const recur_op_def *def = recur_op(node->op);
                recur_error_set(&p->error, RECUR_ERR_UNSUPPORTED, "compile: op %s (node %s) has no kernel%s%s", def->name,
                          recur_node_name(g, id), def->hint ? ": " : "", def->hint ? def->hint : "");
                goto fail;
            }
            const recur_op_def *def = recur_op(node->op);
            p->steps[p->n_steps++] = (plan_step){.id = id, .fn = fn, .x_off = n_x, .n_in = node->n_in, .made_by = -1, .inner = -1, .columns_of = -1,
                                                 .work = def->workspace ? def->workspace(g, node) : 0};
            n_x += node->n_in;
        }
    }
    for (int i = 0; i < n_outputs; i++) p->role[outputs[i].id] |= ROLE_OUTPUT;
    /* This plan reads these nodes as they are now: no graph pass may rewrite them in place. */
    for (int i = 0; i < count; i++) g->nodes[order[i]].planned = 1;
    free(order);
    free(is_fed);
    order = NULL;
    is_fed = NULL;
    /* Each step's inputs, copied (the graph's node array may move later). */
    if (!(p->ins = malloc(sizeof(int32_t) * (size_t)(n_x + 1)))) {
        recur_error_set(&p->error, RECUR_ERR_NOMEM, "compile: out of memory");
        goto fail;
    }
    for (int s = 0; s < p->n_steps; s++) {
        const recur_node *node = &g->nodes[p->steps[s].id];
        for (int k = 0; k < node->n_in; k++) p->ins[p->steps[s].x_off + k] = node->in[k];
        p->steps[s].in = p->ins + p->steps[s].x_off;
    }
    /* The plan passes (the pipeline's last stage, recur/passes.h). Fusion hides the intermediates
     * check_finite must inspect, and no_reuse wants every buffer. */
    int fuse = recur_pass_on(g, RECUR_PASS_FUSE) && !o.no_reuse && !o.check_finite;
    if (fuse) {
        recur_fuse_matmul_bias(p);
        if (recur_fuse_pointwise(p) != RECUR_OK) goto fail;
    }

    /* Which values share buffers, and each kernel's input shapes. */
    if (recur_plan_layout(p, &lay) != RECUR_OK) goto fail;
    n_x = 0;
    for (int s = 0; s < p->n_steps; s++) p->steps[s].x_off = n_x, n_x += p->steps[s].dead ? 0 : p->steps[s].n_in;
    p->xptr = malloc(sizeof *p->xptr * (size_t)(n_x + 1));
    p->xshape = malloc(sizeof *p->xshape * (size_t)(n_x + 1));
    if (!p->xptr || !p->xshape) {
        recur_error_set(&p->error, RECUR_ERR_NOMEM, "compile: out of memory");
        goto fail;
    }
    for (int s = 0; s < p->n_steps; s++)
        for (int k = 0; !p->steps[s].dead && k < p->steps[s].n_in; k++)
            p->xshape[p->steps[s].x_off + k] = g->nodes[p->steps[s].in[k]].shape;

    /* Backend state, made once per plan and per node here and never on the run path; a node's
     * kernel may want workspace (a oneDNN primitive's scratchpad, weights it packs as it runs). */
    if (be->plan_open) {
        char err[512] = "";
        if (be->plan_open(p, &p->be_state, err, sizeof err) != RECUR_OK) {
            recur_error_set(&p->error, RECUR_ERR_RUNTIME, "compile: backend %s could not prepare the plan: %s", be->name, err);
            goto fail;
        }
    }
    if (be->prepare) {
        for (int s = 0; s < p->n_steps; s++) {
            plan_step *step = &p->steps[s];
            if (!step->fn || step->owns_state) continue; /* a view, fused away, or a fused kernel */
            recur_kernel_args a = {.node = &g->nodes[step->id], .xs = p->xshape + step->x_off, .n_in = step->n_in,
                                   .plan_state = p->be_state, .inner = step->inner >= 0 ? &g->nodes[step->inner] : NULL};
            char err[512] = "";
            if (be->prepare(&a, &step->state, err, sizeof err) != RECUR_OK) {
                recur_error_set(&p->error, RECUR_ERR_RUNTIME, "compile: backend %s could not prepare node %s (%s): %s", be->name,
                          recur_node_name(g, step->id), recur_op(a.node->op)->name, err);
                goto fail;
            }
            size_t w = step->state && be->work_bytes ? be->work_bytes(step->state) : 0;
            if (w > step->work) step->work = w;
        }
    }

    /* Buffers, workspaces and the backend's shared memory in one arena; then every kernel's input
     * pointers, resolved once. */
    int n_shared = be->plan_buffers ? be->plan_buffers(p->be_state, NULL, 0) : 0;
    shared = malloc(sizeof *shared * ((size_t)n_shared + 1));
    if (!shared) {
        recur_error_set(&p->error, RECUR_ERR_NOMEM, "compile: out of memory");
        goto fail;
    }
    if (n_shared) be->plan_buffers(p->be_state, shared, n_shared);
    if (recur_plan_arena(p, &lay, shared, n_shared) != RECUR_OK) goto fail;
    if (n_shared) be->plan_buffers_placed(p->be_state, shared, n_shared);
    recur_plan_layout_free(&lay);
    if (o.profile && !(p->step_ms = calloc((size_t)p->n_steps + 1, sizeof *p->step_ms))) {
        recur_error_set(&p->error, RECUR_ERR_NOMEM, "compile: out of memory");
        goto fail;
    }
    if (fuse && recur_fused_bind(p) != RECUR_OK) goto fail;
    for (int s = 0; s < p->n_steps; s++)
        for (int k = 0; !p->steps[s].dead && k < p->steps[s].n_in; k++)
            p->xptr[p->steps[s].x_off + k] = p->val[p->steps[s].in[k]];
    if (recur_pass_on(g, RECUR_PASS_LANES) && recur_lanes_prepare(p, shared, n_shared) != RECUR_OK) goto fail;
    free(shared);
    return p;
fail:
    recur_plan_layout_free(&lay);
    free(shared);
    free(order);
    free(is_fed);
    copy_error_to_graph(p);
    recur_plan_free(p);
    return NULL;
}

void recur_plan_free(recur_plan *p)
{
    if (!p) return;
    for (int s = 0; p->steps && s < p->n_steps; s++) {
        if (!p->steps[s].state) continue;
        if (p->steps[s].owns_state) recur_fused_free(p->steps[s].state);
        else if (p->be && p->be->release) p->be->release(p->steps[s].state);
    }
    if (p->be_state && p->be->plan_close) p->be->plan_close(p->be_state);
    free(p->steps);
    free(p->step_ms);
    free(p->ins);
    free(p->val);
    free(p->role);
    free(p->xptr);
    free(p->xshape);
    free(p->inputs);
    free(p->arena_block);
    free(p->buffers);
    free(p->hooks);
    recur_lanes_free(&p->lanes);
    free(p);
}

/* ------------------------------------------------------------ feed, run */

static int in_plan(const recur_plan *p, recur_value v) { return v.id >= 0 && v.id < p->n_vals && p->role[v.id]; }

recur_status recur_plan_feed(recur_plan *p, recur_value v, const float *data, int64_t n)
{
    if (!p) return RECUR_ERR_ARG;
    if (!in_plan(p, v) || (p->role[v.id] & 7) > ROLE_INPUT_FED || !(p->role[v.id] & 7))
        return recur_error_set(&p->error, RECUR_ERR_VALUE, "feed: value %d (%s) is not an input this plan reads", v.id,
                         v.id >= 0 && v.id < p->g->n ? recur_node_name(p->g, v.id) : "not a node");
    const recur_node *node = &p->g->nodes[v.id];
    int64_t want = recur_shape_numel(node->shape);
    char shp[64];
    if (!data || n != want)
        return recur_error_set(&p->error, RECUR_ERR_FEED, "feed: input \"%s\" %s takes %lld floats, got %lld%s",
                         recur_node_name(p->g, v.id), recur_shape_str(node->shape, shp, sizeof shp),
                         (long long)want, (long long)n, data ? "" : " (NULL data)");
    memcpy(p->val[v.id], data, sizeof(float) * (size_t)n);
    p->role[v.id] = (char)((p->role[v.id] & ROLE_OUTPUT) | ROLE_INPUT_FED);
    return RECUR_OK;
}

float *recur_plan_value_buffer(recur_plan *p, recur_value v) { return in_plan(p, v) ? p->val[v.id] : NULL; }

const float *recur_plan_storage(const recur_plan *p, int32_t id)
{
    return id >= 0 && id < p->n_vals && (p->role[id] & 7) == ROLE_STORAGE ? p->val[id] : NULL;
}

uint64_t recur_plan_param_writes(const recur_plan *p) { return p->g->param_writes; }

int recur_plan_keeps_packed_params(const recur_plan *p) { return p->opts.keep_packed_params; }

recur_shape recur_plan_value_shape(const recur_plan *p, recur_value v)
{
    return in_plan(p, v) ? p->g->nodes[v.id].shape : recur_shape0();
}

int recur_plan_is_output(const recur_plan *p, recur_value v) { return in_plan(p, v) && (p->role[v.id] & ROLE_OUTPUT); }

void recur_plan_mark_fed(recur_plan *p, recur_value v)
{
    if (in_plan(p, v) && (p->role[v.id] & 7) == ROLE_INPUT_UNFED)
        p->role[v.id] = (char)((p->role[v.id] & ROLE_OUTPUT) | ROLE_INPUT_FED);
}

recur_status recur_plan_feed_name(recur_plan *p, const char *name, const float *data, int64_t n)
{
    if (!p) return RECUR_ERR_ARG;
    if (!name) return recur_error_set(&p->error, RECUR_ERR_ARG, "feed: NULL input name");
    for (int i = 0; i < p->n_inputs; i++)
        if (strcmp(recur_node_name(p->g, p->inputs[i]), name) == 0)
            return recur_plan_feed(p, (recur_value){p->inputs[i]}, data, n);
    return recur_error_set(&p->error, RECUR_ERR_VALUE, "feed: this plan reads no input named \"%s\"", name);
}

/* First non-finite element of a buffer, or -1. */
static int64_t first_nonfinite(const float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(y[i])) return i;
    return -1;
}

/*
 * check_finite, before any kernel runs: the values the plan reads but does
 * not compute (fed inputs, parameters, constants) hold no NaN or Inf, or
 * the error names the one that does, so a NaN fed in is blamed on its
 * input rather than on the first op reading it.
 */
static recur_status check_sources_finite(recur_plan *p)
{
    const recur_graph *g = p->g;
    for (int32_t id = 0; id < p->n_vals; id++) {
        int role = p->role[id] & 7;
        if (role != ROLE_INPUT_FED && role != ROLE_STORAGE) continue;
        const recur_node *node = &g->nodes[id];
        int64_t bad = first_nonfinite(p->val[id], recur_shape_numel(node->shape));
        if (bad < 0) continue;
        const char *kind = role == ROLE_STORAGE ? (node->op == RECUR_OP_PARAM ? "parameter" : "constant")
                           : node->op == RECUR_OP_INPUT ? "input" : "fed value";
        char shp[64];
        return recur_error_set(&p->error, RECUR_ERR_RUNTIME,
                               "run: %s \"%s\" %s holds %g at element %lld: a non-finite value going in, before any "
                               "node ran",
                               kind, recur_node_name(g, id), recur_shape_str(node->shape, shp, sizeof shp),
                               (double)p->val[id][bad], (long long)bad);
    }
    return RECUR_OK;
}

/* ------------------------------------------------------------ ready hooks */

/* 1 when the float ranges [a, a + na) and [b, b + nb) share an element. */
static int overlaps(const float *a, int64_t na, const float *b, int64_t nb)
{
    return a && b && na > 0 && nb > 0 && a < b + nb && b < a + na;
}

/*
 * The last step after which output v is final and done with: the last
 * step whose kernel writes memory overlapping v's, or reads it (a fused
 * kernel's leaf by the extent it reads), -1 when none does. Values in
 * columns of a concatenation count as the concatenation's whole buffer.
 */
static int ready_after(const recur_plan *p, recur_value v, int32_t *column_root)
{
    recur_plan_column_roots(p, column_root);
    int64_t n;
    const float *b = recur_plan_value_span(p, column_root, v.id, &n);
    int after = -1;
    for (int s = 0; s < p->n_steps; s++) {
        const plan_step *step = &p->steps[s];
        int64_t m;
        const float *y = recur_plan_value_span(p, column_root, step->id, &m);
        if (step->made_by > after && overlaps(b, n, y, m)) after = step->made_by; /* written inside a fused kernel */
        if (!step->fn || step->dead) continue;
        if (s > after && overlaps(b, n, y, m)) after = s;
        for (int k = 0; k < step->n_in && s > after; k++) {
            int64_t floats;
            const float *x = recur_plan_step_reads(p, column_root, s, k, &floats);
            if (x && overlaps(b, n, x, floats)) after = s;
        }
    }
    return after;
}

recur_status recur_plan_on_ready(recur_plan *p, recur_value v, recur_plan_ready_fn fn, void *user)
{
    if (!p) return RECUR_ERR_ARG;
    if (!in_plan(p, v) || !(p->role[v.id] & ROLE_OUTPUT))
        return recur_error_set(&p->error, RECUR_ERR_VALUE, "on_ready: value %d (%s) is not an output of this plan", v.id,
                               v.id >= 0 && v.id < p->g->n ? recur_node_name(p->g, v.id) : "not a node");
    int at = 0;
    while (at < p->n_hooks && p->hooks[at].id != v.id) at++;
    if (at < p->n_hooks) { /* remove the old hook; a new one goes in its place in order below */
        memmove(p->hooks + at, p->hooks + at + 1, sizeof *p->hooks * (size_t)(p->n_hooks - at - 1));
        p->n_hooks--;
    }
    if (!fn) return RECUR_OK;
    int32_t *column_root = malloc(sizeof *column_root * ((size_t)p->n_vals + 1));
    plan_hook *h = realloc(p->hooks, sizeof *h * ((size_t)p->n_hooks + 1));
    if (h) p->hooks = h;
    if (!column_root || !h) {
        free(column_root);
        return recur_error_set(&p->error, RECUR_ERR_NOMEM, "on_ready: out of memory");
    }
    int after = ready_after(p, v, column_root);
    free(column_root);
    int i = p->n_hooks;
    while (i > 0 && p->hooks[i - 1].after > after) i--; /* after the hooks of the same step set earlier */
    memmove(p->hooks + i + 1, p->hooks + i, sizeof *p->hooks * (size_t)(p->n_hooks - i));
    p->hooks[i] = (plan_hook){.id = v.id, .after = after, .fn = fn, .user = user};
    p->n_hooks++;
    return RECUR_OK;
}

/* Calls the hooks due after step s (-1: before the first step), from *next on. */
static recur_status fire_hooks(recur_plan *p, int s, int *next)
{
    for (; *next < p->n_hooks && p->hooks[*next].after <= s; ++*next) {
        const plan_hook *h = &p->hooks[*next];
        recur_value v = {h->id};
        int64_t n = recur_shape_numel(p->g->nodes[h->id].shape);
        recur_status st = h->fn(h->user, p, v, p->val[h->id], n);
        if (st != RECUR_OK)
            return recur_error_set(&p->error, st, "run: the ready hook of output \"%s\" returned %s",
                                   recur_node_name(p->g, h->id), recur_status_str(st));
    }
    return RECUR_OK;
}

/* Records that step s's kernel failed with st (err: its message) and returns st. */
static recur_status step_failed(recur_plan *p, int s, recur_status st, const char *err)
{
    const recur_node *node = &p->g->nodes[p->steps[s].id];
    return recur_error_set(&p->error, st, "run: node %s (op %s): %s", recur_node_name(p->g, p->steps[s].id),
                           recur_op(node->op)->name, err[0] ? err : recur_status_str(st));
}

recur_status recur_plan_run(recur_plan *p)
{
    if (!p) return RECUR_ERR_ARG;
    recur_graph *g = p->g;
    for (int i = 0; i < p->n_inputs; i++)
        if ((p->role[p->inputs[i]] & 7) == ROLE_INPUT_UNFED) {
            char shp[64];
            return recur_error_set(&p->error, RECUR_ERR_FEED, "run: input \"%s\" %s was never fed", recur_node_name(g, p->inputs[i]),
                             recur_shape_str(g->nodes[p->inputs[i]].shape, shp, sizeof shp));
        }
    p->ran = 0;
    if (p->opts.check_finite) {
        recur_status st = check_sources_finite(p);
        if (st != RECUR_OK) return st;
    }
    uint64_t execution = p->executions++;
    if (p->be_state && p->be->plan_run_begin) p->be->plan_run_begin(p->be_state);
    char err[512];
    int hook = 0;
    recur_status hst = fire_hooks(p, -1, &hook);
    if (hst != RECUR_OK) return hst;
    /* Stretches of small steps go to two threads unless each step must be watched on its own. */
    int lanes = p->lanes.dep && !p->opts.profile && !p->opts.check_finite && p->n_hooks == 0 && recur_threads_cap() >= 2;
    for (int s = 0; s < p->n_steps; s++) {
        const plan_step *step = &p->steps[s];
        if (lanes) {
            int failed = -1;
            recur_status st;
            int next = recur_lanes_run(p, s, execution, &st, err, sizeof err, &failed);
            if (next >= 0 && st != RECUR_OK) return step_failed(p, failed, st, err);
            if (next >= 0) {
                s = next - 1;
                continue;
            }
        }
        if (!step->fn) continue; /* a view of its input's buffer: nothing to compute */
        const recur_node *node = &g->nodes[step->id];
        err[0] = 0;
        struct timespec t0, t1;
        if (p->opts.profile) clock_gettime(CLOCK_MONOTONIC, &t0);
        recur_status st = recur_plan_step_run(p, s, execution, NULL, err, sizeof err);
        if (p->opts.profile) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6;
            if (p->step_ms) p->step_ms[s] += ms;
            if (step->owns_state) p->fused_ms += ms, p->fused_calls++;
            else if (step->inner >= 0) p->op_ms[RECUR_OP_MATMUL] += ms, p->op_calls[RECUR_OP_MATMUL]++;
            else p->op_ms[node->op] += ms, p->op_calls[node->op]++;
        }
        if (st != RECUR_OK) return step_failed(p, s, st, err);
        if (p->opts.check_finite) {
            const float *y = p->val[step->id];
            int64_t bad = first_nonfinite(y, recur_shape_numel(node->shape));
            if (bad >= 0) {
                char shp[64];
                return recur_error_set(&p->error, RECUR_ERR_RUNTIME,
                                 "run: node %s (op %s) %s produced %g at element %lld: the first non-finite value",
                                 recur_node_name(g, step->id), recur_op(node->op)->name,
                                 recur_shape_str(node->shape, shp, sizeof shp), (double)y[bad], (long long)bad);
            }
        }
        if (hook < p->n_hooks && (hst = fire_hooks(p, s, &hook)) != RECUR_OK) return hst;
    }
    if (hook < p->n_hooks && (hst = fire_hooks(p, p->n_steps, &hook)) != RECUR_OK) return hst;
    p->run++;
    p->ran = 1;
    return RECUR_OK;
}

const float *recur_plan_output(recur_plan *p, recur_value v)
{
    if (!p) return NULL;
    if (!in_plan(p, v) || !(p->role[v.id] & ROLE_OUTPUT)) {
        recur_error_set(&p->error, RECUR_ERR_VALUE, "fetch: value %d (%s) is not an output of this plan", v.id,
                  v.id >= 0 && v.id < p->g->n ? recur_node_name(p->g, v.id) : "not a node");
        return NULL;
    }
    if (!p->ran) {
        recur_error_set(&p->error, RECUR_ERR_STATE, "fetch: the plan has not run successfully yet");
        return NULL;
    }
    return p->val[v.id];
}

recur_status recur_plan_fetch(recur_plan *p, recur_value v, float *out, int64_t n)
{
    if (!p) return RECUR_ERR_ARG;
    const float *y = recur_plan_output(p, v);
    if (!y) return p->error.code;
    const recur_node *node = &p->g->nodes[v.id];
    int64_t want = recur_shape_numel(node->shape);
    char shp[64];
    if (!out || n != want)
        return recur_error_set(&p->error, RECUR_ERR_FEED, "fetch: output \"%s\" %s has %lld floats, the buffer holds %lld%s",
                         recur_node_name(p->g, v.id), recur_shape_str(node->shape, shp, sizeof shp),
                         (long long)want, (long long)n, out ? "" : " (NULL buffer)");
    memcpy(out, y, sizeof(float) * (size_t)n);
    return RECUR_OK;
}

recur_status recur_plan_profile_reset(recur_plan *p)
{
    if (!p) return RECUR_ERR_ARG;
    memset(p->op_ms, 0, sizeof p->op_ms);
    memset(p->op_calls, 0, sizeof p->op_calls);
    p->fused_ms = 0, p->fused_calls = 0;
    if (p->step_ms) memset(p->step_ms, 0, sizeof *p->step_ms * ((size_t)p->n_steps + 1));
    return RECUR_OK;
}

recur_status recur_plan_profile(const recur_plan *p, FILE *f)
{
    if (!p || !f) return RECUR_ERR_ARG;
    int order[RECUR_OP_COUNT], n = 0;
    double total = p->fused_ms;
    for (int op = 0; op < RECUR_OP_COUNT; op++)
        if (p->op_calls[op]) order[n++] = op, total += p->op_ms[op];
    for (int i = 1; i < n; i++) /* slowest first */
        for (int j = i; j > 0 && p->op_ms[order[j]] > p->op_ms[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1], order[j - 1] = t;
        }
    fprintf(f, "%-20s %12s %7s %10s\n", "op", "total ms", "share", "calls");
    for (int i = 0; i < n; i++)
        fprintf(f, "%-20s %12.3f %6.1f%% %10lld\n", recur_op(order[i])->name, p->op_ms[order[i]],
                total > 0 ? 100 * p->op_ms[order[i]] / total : 0.0, (long long)p->op_calls[order[i]]);
    if (p->fused_calls)
        fprintf(f, "%-20s %12.3f %6.1f%% %10lld\n", "(fused pointwise)", p->fused_ms,
                total > 0 ? 100 * p->fused_ms / total : 0.0, (long long)p->fused_calls);
    return ferror(f) ? RECUR_ERR_IO : RECUR_OK;
}
