/*
 * tests/test_threads.c — recur's threads (recur_set_threads, ops/threads.h):
 * the cap and its default, the pool honouring it, solo spells after a
 * worker stalled or while the caller waits for its core, small kernels never
 * entering the pool, results bitwise independent of the thread count on
 * both backends, and no deadlock when plans run from several threads at
 * once or inside the program's own OpenMP region.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "test_util.h"
#include "ops/parallel.h"
#include "ops/threads.h"
#include "plan/plan.h"

/* The default cap: OMP_NUM_THREADS if set, else this process's processors. */
static int expected_default(void)
{
    const char *env = getenv("OMP_NUM_THREADS");
    if (env && atoi(env) >= 1) return atoi(env);
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    return CPU_COUNT(&set);
}

/* recur_set_threads sets the cap, 0 restores the default, a negative count is refused. */
static void test_cap_and_default(void **state)
{
    (void)state;
    assert_int_equal(recur_set_threads(0), RECUR_OK);
    assert_int_equal(recur_threads(), expected_default());
    assert_int_equal(recur_set_threads(3), RECUR_OK);
    assert_int_equal(recur_threads(), 3);
    assert_int_equal(recur_set_threads(1000), RECUR_OK);
    assert_int_equal(recur_threads(), 64);
    assert_int_equal(recur_set_threads(-1), RECUR_ERR_ARG);
    assert_int_equal(recur_threads(), 64);
    assert_int_equal(recur_set_threads(0), RECUR_OK);
    assert_int_equal(recur_threads(), expected_default());
}

/* A job whose chunks record which slot ran them and how many ran at once. */
typedef struct probe {
    atomic_int running, most, slots_seen;
    atomic_long chunks;
    pthread_t caller;
    atomic_int off_caller; /* chunks run by another thread */
    long sleep_ns;
} probe;

static void probe_chunk(void *ctx, int64_t c, int slot)
{
    (void)c;
    probe *p = ctx;
    int now = atomic_fetch_add(&p->running, 1) + 1;
    for (int m = atomic_load(&p->most); now > m && !atomic_compare_exchange_weak(&p->most, &m, now);) {
    }
    atomic_fetch_or(&p->slots_seen, 1 << slot);
    if (!pthread_equal(pthread_self(), p->caller)) atomic_fetch_add(&p->off_caller, 1);
    struct timespec ts = {0, p->sleep_ns};
    nanosleep(&ts, NULL);
    atomic_fetch_add(&p->chunks, 1);
    atomic_fetch_sub(&p->running, 1);
}

/* Runs a 40-chunk job of 1 ms chunks (the workers have time to join) at width 4 under `cap`. */
static void run_probe(int cap, probe *p)
{
    memset(p, 0, sizeof *p);
    p->caller = pthread_self();
    p->sleep_ns = 1000000;
    assert_int_equal(recur_set_threads(cap), RECUR_OK);
    recur_pool_run(40, 4, probe_chunk, p);
    assert_int_equal(atomic_load(&p->chunks), 40);
}

/* The pool runs every chunk once, on at most the cap's threads (and the job's width), slots below it. */
static void test_pool_honours_cap(void **state)
{
    (void)state;
    probe p;
    long jobs0 = recur_pool_jobs();
    run_probe(1, &p); /* cap 1: the caller alone, no job handed to the pool */
    assert_int_equal(recur_pool_jobs(), jobs0);
    assert_int_equal(atomic_load(&p.most), 1);
    assert_int_equal(atomic_load(&p.off_caller), 0);
    assert_int_equal(atomic_load(&p.slots_seen), 1);

    long worker0 = recur_pool_worker_chunks();
    run_probe(2, &p);
    assert_int_equal(recur_pool_jobs(), jobs0 + 1);
    assert_true(atomic_load(&p.most) <= 2);
    assert_true((atomic_load(&p.slots_seen) & ~3) == 0);
    assert_true(atomic_load(&p.off_caller) > 0); /* a worker joined within 40 ms */
    assert_int_equal(recur_pool_worker_chunks() - worker0, atomic_load(&p.off_caller));

    run_probe(8, &p); /* the job's width (4) bounds it too */
    assert_true(atomic_load(&p.most) <= 4);
    assert_true((atomic_load(&p.slots_seen) & ~15) == 0);
    recur_set_threads(0);
}

/* A job offered from inside a chunk (the pool is busy) runs whole on that thread: no deadlock. */
static void nested_chunk(void *ctx, int64_t c, int slot)
{
    (void)c, (void)slot;
    probe inner;
    memset(&inner, 0, sizeof inner);
    inner.caller = pthread_self();
    recur_pool_run(5, 4, probe_chunk, &inner);
    assert_int_equal(atomic_load(&inner.chunks), 5);
    assert_int_equal(atomic_load(&inner.off_caller), 0);
    atomic_fetch_add((atomic_long *)ctx, 1);
}

static void test_nested_jobs(void **state)
{
    (void)state;
    recur_set_threads(2);
    atomic_long done = 0;
    recur_pool_run(6, 2, nested_chunk, &done);
    assert_int_equal(atomic_load(&done), 6);
    recur_set_threads(0);
}

/* A chunk the caller runs in about 50 us, and a worker in 20 ms: a worker that lost its core holding it. */
static void stalling_chunk(void *ctx, int64_t c, int slot)
{
    (void)c, (void)slot;
    probe *p = ctx;
    int worker = !pthread_equal(pthread_self(), p->caller);
    if (worker) atomic_fetch_add(&p->off_caller, 1);
    struct timespec ts = {0, worker ? 20000000 : 50000};
    nanosleep(&ts, NULL);
    atomic_fetch_add(&p->chunks, 1);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A chunk that only counts who ran it. */
static void counting_chunk(void *ctx, int64_t c, int slot)
{
    (void)c, (void)slot;
    probe *p = ctx;
    if (!pthread_equal(pthread_self(), p->caller)) atomic_fetch_add(&p->off_caller, 1);
    atomic_fetch_add(&p->chunks, 1);
}

/* Runs a job of n chunks at width 2 with fn, the caller recorded; returns the chunks workers ran. */
static int run_job(int64_t n, recur_chunk_fn fn, probe *p)
{
    memset(p, 0, sizeof *p);
    p->caller = pthread_self();
    recur_pool_run(n, 2, fn, p);
    assert_int_equal(atomic_load(&p->chunks), n);
    return atomic_load(&p->off_caller);
}

/*
 * Solo spells (ops/threads.c): after the caller waited 20 ms for a chunk a
 * worker held, against 50 us for its own, the jobs of the next 4 ms run on
 * the caller alone (none handed to the pool), and a second such wait within
 * the spell's reach makes the next spell longer; recur_set_threads ends a
 * spell; jobs whose waits are short begin none. A job begun after the
 * spell's shortest length (as may happen on a loaded machine) is not
 * checked, but at least one of 20 tries must be.
 */
static void test_solo_spell_after_a_stalled_worker(void **state)
{
    (void)state;
    probe p, q;
    int checked = 0;
    for (int attempt = 0; attempt < 20 && checked < 2; attempt++) {
        recur_set_threads(2);
        run_job(64, counting_chunk, &q); /* workers awake and spinning */
        long spells = recur_pool_solo_spells();
        if (run_job(64, stalling_chunk, &p) == 0) continue; /* no worker joined: try again */
        /* (no spell: the caller's own chunks took long too, its core taken by another process; try again) */
        if (recur_pool_solo_spells() == spells) continue;
        assert_int_equal(recur_pool_solo_spells(), spells + 1);
        int64_t t = now_ns();
        long jobs = recur_pool_jobs();
        assert_int_equal(run_job(64, counting_chunk, &q), 0);
        if (now_ns() - t < 4000000) { /* within the shortest spell: run by the caller alone */
            assert_int_equal(recur_pool_jobs(), jobs);
            checked++;
        }
        recur_set_threads(2); /* ends the spell: the next job goes to the pool */
        jobs = recur_pool_jobs();
        run_job(64, counting_chunk, &q);
        assert_int_equal(recur_pool_jobs(), jobs + 1);
    }
    assert_true(checked >= 1);
    /* a second stall right after the first spell: the spell doubles (8 ms) */
    for (int attempt = 0; attempt < 20; attempt++) {
        recur_set_threads(2);
        run_job(64, counting_chunk, &q);
        if (run_job(64, stalling_chunk, &p) == 0) continue;
        struct timespec ts = {0, 4500000}; /* past the first spell */
        nanosleep(&ts, NULL);
        run_job(64, counting_chunk, &q); /* workers awake again */
        long spells = recur_pool_solo_spells();
        if (run_job(64, stalling_chunk, &p) == 0 || recur_pool_solo_spells() == spells) continue;
        int64_t t = now_ns();
        nanosleep(&ts, NULL); /* past 4 ms, within 8 */
        long jobs = recur_pool_jobs();
        run_job(64, counting_chunk, &q);
        if (now_ns() - t < 8000000) {
            assert_int_equal(recur_pool_jobs(), jobs);
            checked++;
            break;
        }
    }
    assert_true(checked >= 2);
    /* jobs whose waits are short begin no spell: they keep going to the pool (in one of ten tries at
     * least: a spell begun by a real preemption, another test taking a core, would end them) */
    long most = 0;
    for (int attempt = 0; attempt < 10 && most < 100; attempt++) {
        recur_set_threads(2);
        long jobs = recur_pool_jobs();
        for (int i = 0; i < 200; i++) run_job(64, counting_chunk, &q);
        if (recur_pool_jobs() - jobs > most) most = recur_pool_jobs() - jobs;
    }
    assert_true(most >= 100);
    recur_set_threads(0);
}

/* Spins until told to stop (a busy process beside the caller, on the CPU it is pinned to). */
static void *spin_until_stopped(void *arg)
{
    atomic_int *stop = arg;
    while (!atomic_load(stop)) {
    }
    return NULL;
}

/* Nanoseconds this thread has waited on a run queue (as ops/threads.c reads them), or -1. */
static int64_t own_run_queue_wait(void)
{
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    long long run, wait;
    int ok = f && fscanf(f, "%lld %lld", &run, &wait) == 2;
    if (f) fclose(f);
    return ok ? (int64_t)wait : -1;
}

/*
 * A caller that waits for its own core begins a solo spell (ops/threads.c)
 * though no worker stalls: pinned to one CPU beside a spinning thread, it
 * runs about half the time, and within a few looks (every 4 ms) a spell
 * begins. A caller that did not wait long for its core begins none.
 */
static void test_solo_spell_when_the_caller_waits_for_its_core(void **state)
{
    (void)state;
    cpu_set_t all, one;
    if (sched_getaffinity(0, sizeof all, &all) != 0 || CPU_COUNT(&all) < 2 || own_run_queue_wait() < 0) {
        print_message("needs two processors and /proc/thread-self/schedstat: not run\n");
        return;
    }
    int cpu = 0;
    while (!CPU_ISSET(cpu, &all)) cpu++;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    recur_set_threads(2);
    probe q;
    run_job(64, counting_chunk, &q); /* the worker exists, free to run on any processor */
    atomic_int stop = 0;
    pthread_t spinner;
    pthread_attr_t attr;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setaffinity_np(&attr, sizeof one, &one), 0);
    assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof one, &one), 0);
    assert_int_equal(pthread_create(&spinner, &attr, spin_until_stopped, &stop), 0);
    long before = recur_pool_preempted_spells();
    int64_t t0 = now_ns();
    while (recur_pool_preempted_spells() == before && now_ns() - t0 < 2000000000) run_job(64, counting_chunk, &q);
    atomic_store(&stop, 1);
    pthread_join(spinner, NULL);
    pthread_attr_destroy(&attr);
    assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof all, &all), 0);
    assert_true(recur_pool_preempted_spells() > before);

    /* alone on its core: after 20 ms asleep (so the next look's span is mostly calm), 20 ms of jobs;
     * the waits counted from before the sleep, as the next look's span is */
    int64_t w0 = own_run_queue_wait();
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    recur_set_threads(2);
    before = recur_pool_preempted_spells();
    t0 = now_ns();
    while (now_ns() - t0 < 20000000) run_job(64, counting_chunk, &q);
    if (own_run_queue_wait() - w0 < 1000000) /* (unless another process really took the core for a while) */
        assert_int_equal(recur_pool_preempted_spells(), before);
    recur_set_threads(0);
}

/*
 * The pool ran jobs since jobs0, unless a solo spell began since spells0
 * (another process really took a core while the test ran: a machine
 * running other tests beside this one) and kept them on the caller.
 */
static void assert_pool_used(long jobs0, long spells0)
{
    if (recur_pool_solo_spells() == spells0) assert_true(recur_pool_jobs() > jobs0);
}

/* One-hot V -> LSTM H -> dense V over T steps of B: a char model's graph, its loss and outputs. */
typedef struct charnet {
    recur_graph *g;
    recur_value x, y, logits, loss, grads[16];
    int n;
    int64_t T, B, V;
} charnet;

static charnet charnet_new(int64_t T, int64_t B, int64_t V, int64_t H, int with_grads)
{
    charnet m = {.T = T, .B = B, .V = V};
    m.g = recur_graph_new(5);
    m.x = recur_input(m.g, "x", recur_shape3(T, B, V));
    m.y = recur_input(m.g, "y", recur_shape2(T, B));
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = V, .hidden = H};
    recur_rnn r;
    TU_ST(m.g, recur_rnn_new(m.g, "lstm", &o, m.x, RECUR_NONE, RECUR_NONE, &r));
    m.logits = recur_dense(m.g, "out", r.outputs, V, 1);
    m.loss = recur_softmax_xent(m.g, m.logits, m.y, RECUR_NONE);
    TU_OK(m.g, m.loss);
    TU_ST(m.g, recur_unroll(m.g));
    if (with_grads) {
        recur_value params[15];
        m.n = recur_params(m.g, params, 15);
        TU_ST(m.g, recur_grad(m.g, m.loss, m.n, params, m.grads));
    }
    return m;
}

/* Compiles m's loss (and gradients) on `backend`, feeds fixed data, runs twice, returns the outputs concatenated. */
static float *charnet_run(charnet *m, const char *backend, int inference, int64_t *n_out)
{
    recur_value outs[17] = {m->loss};
    int n = 1;
    if (inference) outs[0] = m->logits;
    for (int i = 0; !inference && i < m->n; i++) outs[n++] = m->grads[i];
    recur_compile_opts o = {.backend = backend, .inference = inference};
    recur_plan *p = recur_compile(m->g, n, outs, &o);
    if (!p) fail_msg("compile: %s", recur_errmsg(m->g));
    int64_t nx = m->T * m->B * m->V, ny = m->T * m->B;
    float *x = calloc((size_t)nx, sizeof *x), *y = malloc(sizeof(float) * (size_t)ny);
    for (int64_t i = 0; i < ny; i++) {
        x[i * m->V + (i * 7) % m->V] = 1; /* one-hot */
        y[i] = (float)((i * 11 + 3) % m->V);
    }
    assert_int_equal(recur_plan_feed(p, m->x, x, nx), RECUR_OK);
    if (!inference) assert_int_equal(recur_plan_feed(p, m->y, y, ny), RECUR_OK);
    for (int r = 0; r < 2; r++)
        if (recur_plan_run(p) != RECUR_OK) fail_msg("run: %s", recur_plan_errmsg(p));
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += recur_shape_numel(recur_value_shape(m->g, outs[i]));
    float *all = malloc(sizeof(float) * (size_t)total), *at = all;
    for (int i = 0; i < n; i++) {
        int64_t k = recur_shape_numel(recur_value_shape(m->g, outs[i]));
        assert_int_equal(recur_plan_fetch(p, outs[i], at, k), RECUR_OK);
        at += k;
    }
    recur_plan_free(p);
    free(x), free(y);
    *n_out = total;
    return all;
}

/*
 * A generation step (B = 1) and one step of a batch of 16 (per-step
 * products [16, 128] x [128, 512]) run on the calling thread without
 * handing a job to the pool, on both backends, while a large plan does
 * hand jobs to it (so the count can tell).
 */
static void test_small_kernels_stay_on_caller(void **state)
{
    (void)state;
    recur_set_threads(2);
    const char *backends[] = {"onednn", "reference"};
    for (int b = 0; b < 2; b++) {
        charnet gen = charnet_new(1, 1, 84, 128, 0);   /* one generation step */
        charnet small = charnet_new(1, 16, 84, 128, 0); /* one step of 16 sequences */
        int64_t n;
        long jobs0 = recur_pool_jobs();
        free(charnet_run(&gen, backends[b], 1, &n));
        free(charnet_run(&small, backends[b], 1, &n));
        assert_int_equal(recur_pool_jobs(), jobs0);
        recur_graph_free(gen.g), recur_graph_free(small.g);
    }
    charnet big = charnet_new(8, 64, 84, 256, 1);
    long jobs0 = recur_pool_jobs(), spells0 = recur_pool_solo_spells();
    int64_t n;
    free(charnet_run(&big, "onednn", 0, &n));
    assert_pool_used(jobs0, spells0);
    recur_graph_free(big.g);
    recur_set_threads(0);
}

/*
 * A training step's loss and gradients, and an inference plan's outputs,
 * are the same bits under 1, 2 and 3 threads on each backend; the threaded
 * runs do use the pool.
 */
static void test_results_independent_of_threads(void **state)
{
    (void)state;
    const char *backends[] = {"onednn", "reference"};
    for (int b = 0; b < 2; b++)
        for (int inference = 0; inference < 2; inference++) {
            charnet m = charnet_new(6, 64, 84, 256, !inference);
            float *first = NULL;
            int64_t n0 = 0;
            for (int threads = 1; threads <= 3; threads++) {
                recur_set_threads(threads);
                long jobs0 = recur_pool_jobs(), spells0 = recur_pool_solo_spells();
                int64_t n;
                float *out = charnet_run(&m, backends[b], inference, &n);
                if (threads == 1) assert_int_equal(recur_pool_jobs(), jobs0);
                else assert_pool_used(jobs0, spells0);
                if (!first) {
                    first = out, n0 = n;
                    continue;
                }
                assert_int_equal(n, n0);
                if (memcmp(out, first, sizeof(float) * (size_t)n) != 0)
                    fail_msg("%s, %s: %d threads give other bits than 1", backends[b],
                             inference ? "inference" : "training", threads);
                free(out);
            }
            free(first);
            recur_graph_free(m.g);
        }
    recur_set_threads(0);
}

/*
 * A bidirectional LSTM's training step (loss and every gradient) with
 * passes `passes` on `backend` under `threads` threads: the outputs
 * concatenated, and in *stretches the stretches handed to two threads.
 */
static float *lanes_step(const char *backend, int stacked, unsigned passes, int threads, int profile, long *stretches,
                         int64_t *n_out)
{
    enum { B = 32, I = 32, H = 64 };
    const int64_t T = stacked ? 24 : 10; /* stacked: 3 chunks of 8 steps */
    recur_graph *g = recur_graph_new(9);
    recur_set_passes(g, passes);
    recur_value x = recur_input(g, "x", recur_shape3(T, B, I));
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = I, .hidden = H, .bidirectional = !stacked, .layers = stacked ? 2 : 1};
    recur_rnn r;
    TU_ST(g, recur_rnn_new(g, "bi", &o, x, RECUR_NONE, RECUR_NONE, &r));
    recur_value loss = recur_add(g, recur_sum(g, recur_square(g, r.outputs)), recur_sum(g, r.h_n));
    TU_OK(g, loss);
    TU_ST(g, recur_unroll(g));
    recur_value outs[20] = {loss}, params[19];
    int n = recur_params(g, params, 19);
    TU_ST(g, recur_grad(g, loss, n, params, outs + 1));
    recur_compile_opts co = {.backend = backend, .profile = profile};
    recur_plan *p = recur_compile(g, n + 1, outs, &co);
    if (!p) fail_msg("compile: %s", recur_errmsg(g));
    float *xs = malloc(sizeof(float) * (size_t)(T * B * I));
    tu_fill_uniform(xs, T * B * I, -1, 1, 3);
    assert_int_equal(recur_plan_feed(p, x, xs, T * B * I), RECUR_OK);
    free(xs);
    recur_set_threads(threads);
    long before = recur_lanes_stretches_run();
    for (int k = 0; k < 3; k++)
        if (recur_plan_run(p) != RECUR_OK) fail_msg("run: %s", recur_plan_errmsg(p));
    *stretches = recur_lanes_stretches_run() - before;
    recur_set_threads(0);
    int64_t total = 0;
    for (int i = 0; i <= n; i++) total += recur_shape_numel(recur_value_shape(g, outs[i]));
    float *all = malloc(sizeof(float) * (size_t)total), *at = all;
    for (int i = 0; i <= n; i++) {
        int64_t k = recur_shape_numel(recur_value_shape(g, outs[i]));
        assert_int_equal(recur_plan_fetch(p, outs[i], at, k), RECUR_OK);
        at += k;
    }
    recur_plan_free(p);
    recur_graph_free(g);
    *n_out = total;
    return all;
}

/*
 * Lanes (RECUR_PASS_LANES, plan/lanes.c): a bidirectional layer's two
 * directions are independent chains of small steps, which two threads run
 * side by side; so are two stacked layers hoisted in chunks (passes/
 * hoist.c: layer 2 a chunk behind layer 1, both ways). Under 2 threads the
 * plan hands stretches to them; under 1, or profiling, it does not; and the
 * loss and gradients are the same bits as on one thread and as without the
 * pass (the same kernels cut the same way: any step running before what it
 * reads, or over bytes another still reads, shows), on both backends;
 * oneDNN's agree with the reference's.
 */
static void lanes_agree(int stacked)
{
    const char *backends[] = {"onednn", "reference"};
    float *by_backend[2];
    int64_t n = 0;
    for (int b = 0; b < 2; b++) {
        long stretches;
        int64_t m;
        float *one = lanes_step(backends[b], stacked, RECUR_PASS_ALL, 1, 0, &stretches, &n);
        assert_int_equal(stretches, 0);
        float *none = lanes_step(backends[b], stacked, RECUR_PASS_ALL & ~RECUR_PASS_LANES, 2, 0, &stretches, &m);
        assert_int_equal(stretches, 0);
        assert_int_equal(m, n);
        if (memcmp(one, none, sizeof(float) * (size_t)n) != 0) fail_msg("%s, stacked %d: the lanes' order gives other bits", backends[b], stacked);
        free(none);
        float *prof = lanes_step(backends[b], stacked, RECUR_PASS_ALL, 2, 1, &stretches, &m);
        assert_int_equal(stretches, 0); /* profiling times each step alone */
        free(prof);
        for (int rep = 0; rep < 20; rep++) { /* races would show in some runs, not in every one */
            float *two = lanes_step(backends[b], stacked, RECUR_PASS_ALL, 2, 0, &stretches, &m);
            assert_true(stretches > 0);
            assert_int_equal(m, n);
            for (int64_t i = 0; i < n; i++)
                if (memcmp(&one[i], &two[i], sizeof(float)) != 0)
                    fail_msg("%s, stacked %d, run %d: element %lld is %g with lanes, %g on one thread", backends[b], stacked, rep,
                             (long long)i,
                             (double)two[i], (double)one[i]);
            free(two);
        }
        by_backend[b] = one;
    }
    tu_assert_close(by_backend[0], by_backend[1], n, 1e-4, 1e-5);
    free(by_backend[0]), free(by_backend[1]);
}

static void test_lanes_bidirectional(void **state)
{
    (void)state;
    lanes_agree(0);
}

static void test_lanes_two_layers_in_chunks(void **state)
{
    (void)state;
    lanes_agree(1);
}

/*
 * A generation step of a large layer (B = 1, H = 512): its [1, 512] x
 * [512, 2048] product streams its weights and is cut into column blocks
 * on the pool; the results are the same bits under 1, 2 and 3 threads and
 * agree with the reference backend.
 */
static void test_generation_step_in_column_blocks(void **state)
{
    (void)state;
    charnet m = charnet_new(1, 1, 84, 512, 0);
    int64_t n;
    recur_set_threads(1);
    float *first = charnet_run(&m, "onednn", 1, &n), *ref = charnet_run(&m, "reference", 1, &n);
    tu_assert_close(first, ref, n, 1e-4, 1e-5);
    for (int threads = 2; threads <= 3; threads++) {
        recur_set_threads(threads);
        long jobs0 = recur_pool_jobs(), spells0 = recur_pool_solo_spells();
        float *out = charnet_run(&m, "onednn", 1, &n);
        assert_pool_used(jobs0, spells0);
        assert_memory_equal(out, first, sizeof(float) * (size_t)n);
        free(out);
    }
    free(first), free(ref);
    recur_graph_free(m.g);
    recur_set_threads(0);
}

/* Plans run from several threads at once: each its own plan, the results those of one thread. */
typedef struct runner {
    charnet m;
    float *want, *got;
    int64_t n;
} runner;

static void *runner_main(void *arg)
{
    runner *r = arg;
    for (int i = 0; i < 3; i++) {
        free(r->got);
        r->got = charnet_run(&r->m, "onednn", 0, &r->n);
    }
    return NULL;
}

/* n runners, each with its model and the results of a run on this thread alone. */
static void runners_new(runner *r, int n)
{
    for (int i = 0; i < n; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].m = charnet_new(4, 64, 84, 256, 1);
        r[i].want = charnet_run(&r[i].m, "onednn", 0, &r[i].n);
    }
}

/* Each runner's last results are the bits it had alone; frees them. */
static void runners_check(runner *r, int n)
{
    for (int i = 0; i < n; i++) {
        assert_memory_equal(r[i].got, r[i].want, sizeof(float) * (size_t)r[i].n);
        free(r[i].want), free(r[i].got);
        recur_graph_free(r[i].m.g);
    }
}

static void test_concurrent_callers(void **state)
{
    (void)state;
    enum { N = 3 };
    recur_set_threads(2);
    runner r[N];
    runners_new(r, N);
    pthread_t t[N];
    for (int i = 0; i < N; i++) assert_int_equal(pthread_create(&t[i], NULL, runner_main, &r[i]), 0);
    for (int i = 0; i < N; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
    runners_check(r, N);
    recur_set_threads(0);
}

/* Plans run inside the program's own OpenMP parallel region, one per OpenMP thread. */
static void test_inside_openmp_region(void **state)
{
    (void)state;
#ifdef _OPENMP
    enum { N = 2 };
    recur_set_threads(2);
    runner r[N];
    runners_new(r, N);
#pragma omp parallel for num_threads(N)
    for (int i = 0; i < N; i++) runner_main(&r[i]);
    runners_check(r, N);
    recur_set_threads(0);
#else
    skip();
#endif
}

/* The elementwise loops' ranges (ops/parallel.h): every item once, parts below recur_parallel_parts. */
typedef struct marks {
    unsigned char *seen;
    int parts;
    atomic_int bad, ranges;
} marks;

static void mark_range(void *ctx, int64_t lo, int64_t hi, int part)
{
    marks *m = ctx;
    if (part < 0 || part >= m->parts) atomic_store(&m->bad, 1);
    atomic_fetch_add(&m->ranges, 1);
    for (int64_t i = lo; i < hi; i++) m->seen[i]++;
}

/* Runs recur_parallel_range_chunked over n items moving `floats` with chunks of chunk_floats; returns the ranges. */
static int cover(marks *m, int64_t n, int64_t floats, int64_t chunk_floats)
{
    memset(m->seen, 0, (size_t)n);
    atomic_store(&m->ranges, 0);
    recur_parallel_range_chunked(n, floats, chunk_floats, mark_range, m);
    for (int64_t i = 0; i < n; i++)
        if (m->seen[i] != 1) fail_msg("item %lld ran %d times", (long long)i, m->seen[i]);
    assert_int_equal(atomic_load(&m->bad), 0);
    return atomic_load(&m->ranges);
}

/*
 * Every item runs once, in parts below the thread count; a loop is cut
 * into ranges moving at least the chunk's floats, between one range a
 * thread and eight.
 */
static void test_parallel_range_covers_once(void **state)
{
    (void)state;
    recur_set_threads(2);
    int64_t n = 1 << 20;
    marks m = {.seen = calloc((size_t)n, 1)};
    m.parts = recur_parallel_parts(n, n);
    assert_int_equal(m.parts, 2);
    memset(m.seen, 0, (size_t)n);
    recur_parallel_range(n, n, mark_range, &m);
    for (int64_t i = 0; i < n; i++)
        if (m.seen[i] != 1) fail_msg("item %lld ran %d times", (long long)i, m.seen[i]);
    assert_int_equal(atomic_load(&m.ranges), 8); /* 2^20 floats in chunks of 131072 */
    assert_int_equal(cover(&m, n, n, 262144), 4);
    assert_int_equal(cover(&m, n, n, 1), 16);       /* at most 8 a thread */
    assert_int_equal(cover(&m, n, n, 1 << 30), 2);  /* at least one a thread */
    assert_int_equal(cover(&m, 3, n, 1), 3);        /* no more ranges than items */
    assert_int_equal(recur_parallel_parts(n, 100), 1); /* a loop moving few floats stays on the caller */
    free(m.seen);
    recur_set_threads(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_and_default),
        cmocka_unit_test(test_pool_honours_cap),
        cmocka_unit_test(test_nested_jobs),
        cmocka_unit_test(test_solo_spell_after_a_stalled_worker),
        cmocka_unit_test(test_solo_spell_when_the_caller_waits_for_its_core),
        cmocka_unit_test(test_parallel_range_covers_once),
        cmocka_unit_test(test_small_kernels_stay_on_caller),
        cmocka_unit_test(test_results_independent_of_threads),
        cmocka_unit_test(test_generation_step_in_column_blocks),
        cmocka_unit_test(test_lanes_bidirectional),
        cmocka_unit_test(test_lanes_two_layers_in_chunks),
        cmocka_unit_test(test_concurrent_callers),
        cmocka_unit_test(test_inside_openmp_region),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
