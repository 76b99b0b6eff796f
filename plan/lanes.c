/*
 * plan/lanes.c — two threads through a plan's small steps side by side
 * (RECUR_PASS_LANES).
 *
 * A training step of a bidirectional recurrent layer is a few hundred
 * small kernels (a time step's product and its gate arithmetic, tens of
 * microseconds each) in two chains that do not wait for each other: the
 * forward direction and the reverse one. Cut over the pool, such a
 * kernel gains little (a [50, 128] x [128, 512] product 1.3x on two threads,
 * its gate arithmetic nothing); two threads each running whole kernels of
 * different chains gain up to 2x. This file decides where that pays and
 * runs it.
 *
 * Order (recur_lanes_order): the nodes sorted by height, the longest path
 * from a node to an output, ties kept in the depth-first order. An input
 * is higher than every node reading it, so this is a topological order,
 * and chains of the same length interleave in it: the forward direction of
 * a bidirectional layer at step t next to the reverse one at step T-1-t.
 *
 * Dependencies (recur_lanes_prepare, once the arena is laid out): step s
 * may start when every step up to dep[s] has finished, dep[s] the last
 * earlier step whose memory conflicts with s's: it writes bytes s reads or
 * writes, or reads bytes s writes. Found by address over everything a
 * kernel touches (values, views, columns of concatenations, the backend's
 * shared buffers), so a buffer the arena reuses once its value is dead is
 * ordered as surely as data flow is. Workspaces are left out: a step's
 * workspace is scratch for that step alone, and in a stretch each thread
 * gives its steps one of its own (the arena places every step's workspace
 * over the same bytes, which would order every step after the last).
 *
 * Stretches: runs of consecutive small steps (estimated under WIDE_NS on
 * one thread); a larger step runs alone on the whole pool, as without
 * lanes. A stretch is run by two threads when a simulation of two takers
 * (taking steps as they do when running, below) over the estimated costs
 * finishes it in at most MAX_SHARE of its time on one (a single chain, as
 * in a one-layer LSTM, stays serial and keeps its kernels' own threading).
 *
 * Running (recur_lanes_run): a stretch is a pool job of two chunks. A
 * chunk takes a step that is ready (every step up to its dep finished):
 * the first not taken among the LOOKAHEAD from the lowest step not taken,
 * so a thread whose next step in order waits (a second layer's steps on
 * the chunk product that is still running) runs later independent ones
 * meanwhile; when none is ready it spins briefly, then yields its core, so
 * a thread that lost its core to another process is not starved. It runs
 * the step and marks it finished. Steps are only taken when ready, and
 * the lowest step not taken waits only for steps taken before it, so a
 * thread alone (the worker asleep or without a core) runs every step and
 * no order of events deadlocks. Kernels called in a lane find the pool
 * busy and run on their own thread, cut into the same blocks: results are
 * the same bits as a serial run's.
 */
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/threads.h"
#include "plan_impl.h"
#include "recur/passes.h"

/* Estimated time on one thread above which a step runs alone on the pool (ns). */
#define WIDE_NS 150000.0

/* A stretch goes to two threads when their simulated time is at most this share of one thread's. */
#define MAX_SHARE 0.8

/* How many steps past the lowest one not taken a taker looks for one it can run. */
#define LOOKAHEAD 32

/* Estimated cost of handing a step from one thread to the other (ns). */
#define HANDOFF_NS 2000.0

/*
 * The arena keeps a value's bytes for WINDOW running steps after its last
 * reader (recur_lanes_reach), so steps close in the plan's order, which
 * two threads run side by side, seldom wait for each other over reused
 * bytes; further apart, reuse orders them by address like any dependency.
 */
#define WINDOW 4

/* Address bookkeeping allowed per step before lanes give up (the plan then runs serially). */
#define WORK_PER_STEP 256

/* 1 if step s runs a kernel. */
static int runs(const plan_step *step) { return step->fn && !step->dead; }

/* ------------------------------------------------------------ order */

typedef struct ranked {
    int32_t id;
    int height, pos;
} ranked;

static int by_height(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->height != y->height) return x->height > y->height ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

recur_status recur_lanes_order(recur_graph *g, int32_t *order, int count, const char *leaf)
{
    int *height = calloc((size_t)g->n + 1, sizeof *height);
    char *in_order = calloc((size_t)g->n + 1, 1);
    ranked *r = malloc(sizeof *r * ((size_t)count + 1));
    if (!height || !in_order || !r) {
        free(height), free(in_order), free(r);
        return RECUR_ERR_NOMEM;
    }
    for (int i = 0; i < count; i++) in_order[order[i]] = 1;
    for (int i = count - 1; i >= 0; i--) { /* readers come after what they read */
        const recur_node *n = &g->nodes[order[i]];
        g->work += (uint64_t)n->n_in + 1;
        if (leaf && leaf[order[i]]) continue;
        for (int k = 0; k < n->n_in; k++)
            if (in_order[n->in[k]] && height[n->in[k]] < height[order[i]] + 1) height[n->in[k]] = height[order[i]] + 1;
    }
    for (int i = 0; i < count; i++) r[i] = (ranked){order[i], height[order[i]], i};
    qsort(r, (size_t)count, sizeof *r, by_height);
    for (int i = 0; i < count; i++) order[i] = r[i].id;
    free(height), free(in_order), free(r);
    return RECUR_OK;
}

/* ------------------------------------------------------------ costs */

/*
 * Step s's time on one thread, roughly (ns): a product 2 M K N flops at
 * 170 GFLOP/s, anything else the floats it reads and writes at 2 per ns,
 * a fused kernel about 0.6 ns per element and leaf (its instructions
 * included; measured on [50, 128] LSTM cells).
 */
static double cost_ns(const recur_plan *p, const plan_step *step)
{
    const recur_node *n = &p->g->nodes[step->id];
    const recur_node *mm = step->inner >= 0 ? &p->g->nodes[step->inner] : n->op == RECUR_OP_MATMUL ? n : NULL;
    const recur_shape *xs = p->xshape + step->x_off;
    double out = (double)recur_shape_numel(n->shape);
    if (mm && step->n_in >= 2 && xs[0].ndim >= 2) {
        int64_t k = mm->attr.i[0] ? xs[0].d[xs[0].ndim - 2] : xs[0].d[xs[0].ndim - 1];
        return 2.0 * out * (double)k * 0.006;
    }
    if (step->owns_state) return out * (double)(step->n_in + 4) * 0.6; /* its leaves are often columns of wider values */
    double floats = out;
    for (int k = 0; k < step->n_in; k++) floats += (double)recur_shape_numel(xs[k]);
    return floats * 0.5;
}

/* ------------------------------------------------------------ dependencies */

typedef struct touch {
    uintptr_t lo, hi;
    int write;
} touch;

typedef struct touches {
    touch *t;
    int n, cap;
    int *first; /* step s's touches: t[first[s] .. first[s + 1]) */
} touches;

static int add(touches *T, const void *at, size_t bytes, int write)
{
    if (!at || bytes == 0) return 1;
    if (T->n == T->cap) {
        int cap = T->cap ? 2 * T->cap : 256;
        touch *t = realloc(T->t, sizeof *t * (size_t)cap);
        if (!t) return 0;
        T->t = t, T->cap = cap;
    }
    T->t[T->n++] = (touch){(uintptr_t)at, (uintptr_t)at + bytes, write};
    return 1;
}

/* 1 if step s reads value id. */
static int reads(const plan_step *step, int32_t id)
{
    for (int k = 0; k < step->n_in; k++)
        if (step->in[k] == id) return 1;
    return 0;
}

/* Everything each running step reads and writes, step by step; 0 if out of memory. */
static int collect(const recur_plan *p, const recur_backend_buffer *shared, int n_shared, touches *T)
{
    int n = p->n_steps, ok = 1;
    int32_t *column_root = malloc(sizeof *column_root * ((size_t)p->n_vals + 1));
    int *made_first = calloc((size_t)n + 2, sizeof *made_first), *made = malloc(sizeof *made * ((size_t)n + 1));
    T->first = malloc(sizeof *T->first * ((size_t)n + 1));
    if (!column_root || !made_first || !made || !T->first) ok = 0;
    if (ok) recur_plan_column_roots(p, column_root);
    for (int s = 0; ok && s < n; s++)
        if (p->steps[s].made_by >= 0) made_first[p->steps[s].made_by + 1]++;
    /* The steps whose values step s's fused kernel writes: made[made_first[s] .. made_first[s + 1]). */
    for (int s = 0; ok && s < n; s++) made_first[s + 1] += made_first[s];
    int *cursor = ok ? malloc(sizeof *cursor * ((size_t)n + 1)) : NULL;
    if (!cursor) ok = 0;
    for (int s = 0; ok && s < n; s++) cursor[s] = made_first[s];
    for (int s = 0; ok && s < n; s++)
        if (p->steps[s].made_by >= 0) made[cursor[p->steps[s].made_by]++] = s;
    free(cursor);
    for (int s = 0; ok && s < n; s++) {
        const plan_step *step = &p->steps[s];
        T->first[s] = T->n;
        if (!runs(step)) continue;
        int64_t floats;
        const float *y = recur_plan_value_span(p, column_root, step->id, &floats);
        ok &= add(T, y, sizeof(float) * (size_t)floats, 1);
        for (int m = made_first[s]; ok && m < made_first[s + 1]; m++) {
            y = recur_plan_value_span(p, column_root, p->steps[made[m]].id, &floats);
            ok &= add(T, y, sizeof(float) * (size_t)floats, 1);
        }
        /* (not its workspace: in a stretch it uses its thread's own, and elsewhere it runs alone) */
        for (int k = 0; ok && k < step->n_in; k++) {
            const float *x = recur_plan_step_reads(p, column_root, s, k, &floats);
            ok &= add(T, x, sizeof(float) * (size_t)floats, 0);
        }
        /* A shared buffer (weights packed once per run, by whichever of its readers runs first) is written by each. */
        for (int b = 0; ok && b < n_shared; b++)
            if (s >= shared[b].first && s <= shared[b].last && (shared[b].id < 0 || reads(step, shared[b].id)))
                ok &= add(T, shared[b].at, shared[b].bytes, 1);
    }
    if (ok) T->first[n] = T->n;
    free(column_root), free(made_first), free(made);
    return ok;
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return (x > y) - (x < y);
}

/* The first index of ends[0..n) holding an address >= a. */
static int lower_bound(const uintptr_t *ends, int n, uintptr_t a)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (ends[mid] < a) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/*
 * dep[s] for every step from its touches: the bytes are cut at every
 * touch's ends into pieces, each remembering its last writer and the last
 * reader since; 0 if the pieces to visit exceed the budget (or memory).
 */
static int dependencies(recur_plan *p, const touches *T, int *dep)
{
    int n_ends = 0;
    uintptr_t *ends = malloc(sizeof *ends * (2 * (size_t)T->n + 1));
    if (!ends) return 0;
    for (int i = 0; i < T->n; i++) ends[n_ends++] = T->t[i].lo, ends[n_ends++] = T->t[i].hi;
    qsort(ends, (size_t)n_ends, sizeof *ends, by_address);
    int u = 0;
    for (int i = 0; i < n_ends; i++)
        if (u == 0 || ends[i] != ends[u - 1]) ends[u++] = ends[i];
    n_ends = u;
    int *writer = malloc(sizeof *writer * ((size_t)n_ends + 1)), *reader = malloc(sizeof *reader * ((size_t)n_ends + 1));
    int ok = writer && reader;
    for (int i = 0; ok && i < n_ends; i++) writer[i] = reader[i] = -1;
    uint64_t budget = (uint64_t)WORK_PER_STEP * (uint64_t)(p->n_steps + 1) + 65536, visited = 0;
    for (int s = 0; ok && s < p->n_steps; s++) {
        int d = -1;
        for (int i = T->first[s]; i < T->first[s + 1]; i++) {
            int a = lower_bound(ends, n_ends, T->t[i].lo), b = lower_bound(ends, n_ends, T->t[i].hi);
            visited += (uint64_t)(b - a) + 1;
            for (int k = a; k < b; k++) {
                if (writer[k] > d) d = writer[k];
                if (T->t[i].write && reader[k] > d) d = reader[k];
            }
        }
        for (int i = T->first[s]; i < T->first[s + 1]; i++) {
            int a = lower_bound(ends, n_ends, T->t[i].lo), b = lower_bound(ends, n_ends, T->t[i].hi);
            for (int k = a; k < b; k++) {
                if (T->t[i].write) writer[k] = s, reader[k] = -1;
                else reader[k] = s;
            }
        }
        dep[s] = d < s ? d : s - 1; /* (a step touching its own bytes twice depends on nothing new) */
        if (visited > budget) ok = 0;
    }
    PLAN_WORK(p, visited);
    free(ends), free(writer), free(reader);
    return ok;
}

/* ------------------------------------------------------------ stretches */

/*
 * Simulated time of two takers over steps [a, b) (ns), as recur_lanes_run
 * takes them: a taker that is free takes the first step not yet taken, of
 * the LOOKAHEAD from the lowest one not taken, whose dependencies have
 * finished; when none has, the first to become ready.
 */
static double two_takers(const int *dep, const double *cost, int a, int b)
{
    int n = b - a;
    double *fin = malloc(sizeof *fin * (size_t)(n + 1)), *upto = malloc(sizeof *upto * (size_t)(n + 1));
    if (!fin || !upto) {
        free(fin), free(upto);
        return INFINITY;
    }
    for (int i = 0; i < n; i++) fin[i] = -1; /* not taken */
    double free_at[2] = {0, 0}, last = 0;
    int lo = a; /* the lowest step not taken; upto[i]: the latest finish of steps a .. a + i, for those below lo */
    for (int left = n; left > 0; left--) {
        int who = free_at[1] < free_at[0], best = -1;
        double t = free_at[who], best_start = INFINITY;
        for (int s = lo; s < b && s < lo + LOOKAHEAD; s++) {
            if (fin[s - a] >= 0) continue;
            int d = dep[s];
            double ready = d < a ? 0 : d < lo ? upto[d - a] : lo > a ? upto[lo - 1 - a] : 0;
            for (int k = lo; k <= d && ready < INFINITY; k++) ready = fin[k - a] < 0 ? INFINITY : fin[k - a] > ready ? fin[k - a] : ready;
            if (d >= a) ready += HANDOFF_NS;
            double start = ready > t ? ready : t;
            if (start < best_start) best = s, best_start = start;
            if (start <= t) break;
        }
        fin[best - a] = best_start + cost[best];
        free_at[who] = fin[best - a];
        if (fin[best - a] > last) last = fin[best - a];
        while (lo < b && fin[lo - a] >= 0) {
            upto[lo - a] = lo > a && upto[lo - 1 - a] > fin[lo - a] ? upto[lo - 1 - a] : fin[lo - a];
            lo++;
        }
    }
    free(fin), free(upto);
    return last;
}

/* Each step's estimated cost, into cost[]. */
static void costs(const recur_plan *p, double *cost)
{
    for (int s = 0; s < p->n_steps; s++) cost[s] = runs(&p->steps[s]) ? cost_ns(p, &p->steps[s]) : 0;
}

/*
 * Cuts the plan into runs of small steps and marks those that pay with
 * dependencies dep: end[s] the step after the stretch beginning at s, -1
 * elsewhere. Returns how many stretches pay.
 */
static int mark_stretches(recur_plan *p, const int *dep, double *cost, int *end)
{
    int n = p->n_steps, count = 0;
    costs(p, cost);
    for (int s = 0; s < n;) {
        end[s] = -1;
        if (!runs(&p->steps[s]) || cost[s] >= WIDE_NS) {
            s++;
            continue;
        }
        int e = s;
        double one = 0;
        while (e < n && (!runs(&p->steps[e]) || cost[e] < WIDE_NS)) one += cost[e++];
        if (e - s >= 4 && two_takers(dep, cost, s, e) <= MAX_SHARE * one) end[s] = e, count++;
        for (int k = s + 1; k < e; k++) end[k] = -1;
        s = e;
    }
    PLAN_WORK(p, 4 * (uint64_t)n);
    return count;
}

recur_status recur_lanes_reach(recur_plan *p, int **reach_out)
{
    /* Data flow alone (memory adds dependencies, never removes one): the step computing each value, through views. */
    int n = p->n_steps;
    *reach_out = NULL;
    int32_t *producer = malloc(sizeof *producer * ((size_t)p->n_vals + 1));
    int *dep = calloc((size_t)n + 1, sizeof *dep), *end = malloc(sizeof *end * ((size_t)n + 1));
    double *cost = malloc(sizeof *cost * ((size_t)n + 1));
    int *reach = malloc(sizeof *reach * ((size_t)n + 1));
    recur_status st = producer && dep && end && cost && reach ? RECUR_OK : RECUR_ERR_NOMEM;
    for (int32_t id = 0; st == RECUR_OK && id < p->n_vals; id++) producer[id] = -1;
    for (int s = 0; st == RECUR_OK && s < n; s++) {
        const plan_step *step = &p->steps[s];
        int d = -1;
        for (int k = 0; k < step->n_in; k++)
            if (producer[step->in[k]] > d) d = producer[step->in[k]];
        dep[s] = d;
        producer[step->id] = step->made_by >= 0 ? step->made_by : runs(step) ? s : d;
    }
    if (st == RECUR_OK && mark_stretches(p, dep, cost, end) > 0) {
        /* Walking back: ahead[] holds the next WINDOW running steps' indices, oldest first. */
        int ahead[WINDOW], k = 0, seen = 0;
        for (int s = n - 1; s >= 0; s--) {
            reach[s] = seen < WINDOW ? n : ahead[k];
            if (runs(&p->steps[s])) {
                k = (k + WINDOW - 1) % WINDOW;
                ahead[k] = s;
                seen++;
            }
        }
        reach[n] = n;
        *reach_out = reach;
        reach = NULL;
    }
    PLAN_WORK(p, (uint64_t)n + (uint64_t)p->n_vals);
    free(producer), free(dep), free(end), free(cost), free(reach);
    return st;
}

void recur_lanes_free(plan_lanes *l)
{
    free(l->dep);
    free(l->done);
    free(l->taken);
    free(l->stretch_end);
    free(l->work_block);
    memset(l, 0, sizeof *l);
}

recur_status recur_lanes_prepare(recur_plan *p, const recur_backend_buffer *shared, int n_shared)
{
    plan_lanes *l = &p->lanes;
    int n = p->n_steps;
    touches T = {0};
    double *cost = malloc(sizeof *cost * ((size_t)n + 1));
    l->dep = malloc(sizeof *l->dep * ((size_t)n + 1));
    l->done = calloc((size_t)n + 1, sizeof *l->done);
    l->taken = calloc((size_t)n + 1, sizeof *l->taken);
    l->stretch_end = malloc(sizeof *l->stretch_end * ((size_t)n + 1));
    if (!cost || !l->dep || !l->done || !l->taken || !l->stretch_end || !collect(p, shared, n_shared, &T) || !dependencies(p, &T, l->dep)) {
        free(cost), free(T.t), free(T.first);
        recur_lanes_free(l); /* no lanes: the plan runs its steps in order */
        return RECUR_OK;
    }
    free(T.t), free(T.first);
    l->n_stretches = mark_stretches(p, l->dep, cost, l->stretch_end);
    /* Each thread's workspace: as large as any stretch step's. */
    size_t most = 0;
    for (int s = 0; s < n; s++)
        if (runs(&p->steps[s]) && cost[s] < WIDE_NS && p->steps[s].work > most) most = p->steps[s].work;
    most = (most + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES;
    if (l->n_stretches && most) {
        if (!(l->work_block = malloc(2 * most + ALIGN_BYTES))) {
            free(cost);
            recur_lanes_free(l);
            return RECUR_OK;
        }
        uintptr_t at = ((uintptr_t)l->work_block + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES;
        l->work[0] = (float *)at, l->work[1] = (float *)(at + most);
        l->work_bytes = 2 * most;
    }
    free(cost);
    return RECUR_OK;
}

/* ------------------------------------------------------------ running */

static atomic_long n_stretch_runs;

long recur_lanes_stretches_run(void) { return atomic_load(&n_stretch_runs); }

typedef struct lane_job {
    recur_plan *p;
    int first, end;       /* the stretch: steps [first, end) */
    uint64_t mark;        /* done[s], taken[s] == mark: step s finished, taken in this run */
    uint64_t execution;
    atomic_int low;       /* every step before it has been taken */
    atomic_int finished;  /* every step before it has finished */
    atomic_int failed;    /* 1 once a step failed: the others stop */
    int failed_step;      /* the step that failed, its status and message (written by the one that set failed) */
    recur_status status;
    char err[512];
} lane_job;

/* Moves `finished` past every step marked done (any thread may; each move is one compare-and-swap). */
static void advance(lane_job *j)
{
    const plan_lanes *l = &j->p->lanes;
    int f = atomic_load(&j->finished);
    while (f < j->end && atomic_load_explicit(&l->done[f], memory_order_acquire) == j->mark) {
        if (atomic_compare_exchange_weak(&j->finished, &f, f + 1)) f++;
    }
}

/*
 * Takes a step whose dependencies have finished: the first not taken of
 * the LOOKAHEAD from the lowest step not taken. Returns it, -1 if none is
 * ready yet, or j->end once every step is taken.
 */
static int take(lane_job *j)
{
    const plan_lanes *l = &j->p->lanes;
    int lo = atomic_load(&j->low), seen = lo;
    while (lo < j->end && atomic_load(&l->taken[lo]) == j->mark) lo++;
    while (seen < lo && !atomic_compare_exchange_weak(&j->low, &seen, lo)) continue; /* others may move it too */
    if (lo >= j->end) return j->end;
    advance(j);
    int finished = atomic_load(&j->finished);
    for (int s = lo; s < j->end && s < lo + LOOKAHEAD; s++) {
        uint64_t was = atomic_load(&l->taken[s]);
        if (was == j->mark || (l->dep[s] >= j->first && finished <= l->dep[s])) continue;
        if (atomic_compare_exchange_strong(&l->taken[s], &was, j->mark)) return s;
    }
    return -1;
}

/*
 * A lane: takes ready steps (take) and runs them until every step is
 * taken. The lowest step not taken waits only for steps taken before it,
 * each ready when taken, so it becomes ready: no order of events deadlocks,
 * and a thread alone runs every step.
 */
static void lane(void *ctx, int64_t chunk, int slot)
{
    (void)slot;
    lane_job *j = ctx;
    recur_plan *p = j->p;
    char err[512];
    for (int idle = 0;;) {
        if (atomic_load(&j->failed)) return;
        int s = take(j);
        if (s == j->end) return;
        if (s < 0) {
            if (++idle > 2000) sched_yield(); /* the thread holding that step may be waiting for this core */
            continue;
        }
        idle = 0;
        if (runs(&p->steps[s])) {
            err[0] = 0;
            recur_status st = recur_plan_step_run(p, s, j->execution, p->lanes.work[chunk], err, sizeof err);
            if (st != RECUR_OK) {
                int expected = 0;
                if (atomic_compare_exchange_strong(&j->failed, &expected, 1)) {
                    j->failed_step = s, j->status = st;
                    memcpy(j->err, err, sizeof err);
                }
                return;
            }
        }
        atomic_store_explicit(&p->lanes.done[s], j->mark, memory_order_release);
    }
}

int recur_lanes_run(recur_plan *p, int s, uint64_t execution, recur_status *status, char *err, size_t errlen, int *failed_step)
{
    const plan_lanes *l = &p->lanes;
    if (!l->dep || l->stretch_end[s] < 0) return -1;
    lane_job j = {.p = p, .first = s, .end = l->stretch_end[s], .mark = execution + 1, .execution = execution};
    atomic_init(&j.low, s);
    atomic_init(&j.finished, s);
    atomic_init(&j.failed, 0);
    atomic_fetch_add(&n_stretch_runs, 1);
    recur_pool_run(2, 2, lane, &j);
    if (atomic_load(&j.failed)) {
        *status = j.status, *failed_step = j.failed_step;
        snprintf(err, errlen, "%s", j.err);
    } else {
        *status = RECUR_OK;
    }
    return j.end;
}
