/*
 * ops/threads.c — the thread cap and recur's pool of worker threads (see
 * ops/threads.h for what a job is and the promises the pool keeps).
 *
 * Why a pool of recur's own instead of OpenMP's: with OpenMP every parallel
 * loop splits its work into one fixed share per thread and the caller waits
 * at the end for every share. When another process holds a core, the share
 * of the thread that lost it waits for the scheduler (milliseconds), and a
 * training step of a few hundred small loops took 20-200 times as long.
 * Here shares are taken, not assigned: a worker that does not run takes no
 * chunk, and the caller runs what is left. And OpenMP's threads spin (or,
 * with OMP_WAIT_POLICY=passive, are woken through the kernel for every small
 * loop); a library cannot choose that setting, which OpenMP reads before
 * main. recur's workers spin SPIN_NS after each job and then sleep.
 *
 * The protocol (every atomic below is sequentially consistent):
 *   gen      odd while a job is open, even otherwise; a worker waits for a
 *            new odd value (spinning, then on a futex);
 *   inside   workers that may read the job's fields: a worker increments
 *            it, then checks gen is still the odd value it saw; the caller
 *            closes the job (gen even) before it looks at inside, so either
 *            it sees the worker inside or the worker sees the job closed;
 *   next     the next chunk to hand out; done: chunks finished.
 * The caller writes a job's fields only while no worker is inside (a
 * straggler of the previous job still inside makes it run the new job
 * alone rather than wait), publishes it by making gen odd, runs chunks
 * itself, closes the job, and waits until done counts every chunk: the
 * chunks taken were being run by a thread that had started. A straggler
 * that enters a closed job finds no chunk left (next >= n) and touches
 * nothing of the caller's.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT, syscall */
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops/threads.h"
#include "recur/common.h"

/* Workers at most (threads beyond the caller); a cap above it is honoured as this many + 1. */
#define MAX_WORKERS 63

/* How long a worker spins for the next job before it sleeps: the gap between two parallel kernels of a
 * step is a few microseconds, between two steps of generation or training more. */
#define SPIN_NS 100000

/* Pause iterations the caller spins waiting for chunks that workers run, before it yields the core. */
#define WAIT_SPINS 4000

/*
 * Solo spells. A worker whose core another process shares loses it for
 * milliseconds at a time, sometimes while it holds a chunk; the caller
 * then waits that long for a job of microseconds (a generation step's
 * product: a busy loop on one core of two made (e2) 2x slower, nearly all
 * of it in such waits, while one thread alone was 1.02x). When the caller
 * has waited for a worker's chunk LONG_WAIT_CHUNKS times as long as its
 * own chunks took on average, plus LONG_WAIT_NS, it runs the jobs of the
 * next spell alone (the workers sleep); the spell doubles, from SOLO_MIN_NS
 * to SOLO_MAX_NS, while such waits keep coming, and starts again from the
 * shortest once CALM_NS have passed without one. recur_set_threads ends a
 * spell and starts afresh.
 */
#define LONG_WAIT_CHUNKS 4
#define LONG_WAIT_NS 250000
#define SOLO_MIN_NS 4000000
#define SOLO_MAX_NS 512000000
#define CALM_NS 2000000000

/*
 * A caller waiting for its own core begins a spell too. With a busy loop
 * on core 0 of two, the scheduler sometimes leaves the caller beside it on
 * core 0 and the worker alone on core 1: the worker spins there between
 * jobs, so core 1 never looks idle, and the caller runs half the time
 * (bench (a) beside a busy loop: 8.0-8.5 ms a step in that placement, 5.2
 * in the other; one thread alone 5.3). The caller reads how long it has
 * waited on a run queue (/proc/thread-self/schedstat, about 6 us a read) at
 * most every PREEMPT_CHECK_NS; when that is more than 1/PREEMPTED_SHARE of
 * the time since its last look, a spell begins: the worker goes to sleep,
 * core 1 falls idle and the scheduler moves the caller there (measured,
 * bench (a) beside a busy loop: 1.5x its quiet time instead of 2.1-2.2x,
 * the build before and after in the same minutes; quiet unchanged).
 * A quiet machine preempts the caller too, briefly (4 to 22 times in 0.8
 * s of bench (a)), which the share ignores.
 */
#define PREEMPT_CHECK_NS 4000000
#define PREEMPTED_SHARE 4

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static long futex(atomic_uint *addr, int op, unsigned val)
{
    return syscall(SYS_futex, (unsigned *)addr, op, val, NULL, NULL, 0);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------ the cap */

static void end_solo_spell(void);

static atomic_int cap_set;     /* recur_set_threads' n; 0: the default */
static atomic_int cap_default; /* computed once; 0: not yet */

/* OMP_NUM_THREADS's first number if the user set one, else the processors this process may run on. */
static int default_threads(void)
{
    const char *env = getenv("OMP_NUM_THREADS");
    if (env && *env) {
        char *end;
        long n = strtol(env, &end, 10);
        if (end != env && n >= 1) return n > MAX_WORKERS + 1 ? MAX_WORKERS + 1 : (int)n;
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n >= 1) return n > MAX_WORKERS + 1 ? MAX_WORKERS + 1 : n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_WORKERS + 1 ? MAX_WORKERS + 1 : (int)n;
}

int recur_threads_cap(void)
{
    int n = atomic_load(&cap_set);
    if (n > 0) return n;
    n = atomic_load(&cap_default);
    if (n == 0) {
        n = default_threads();
        atomic_store(&cap_default, n);
    }
    return n;
}

recur_status recur_set_threads(int n)
{
    if (n < 0) return RECUR_ERR_ARG;
    atomic_store(&cap_set, n > MAX_WORKERS + 1 ? MAX_WORKERS + 1 : n);
    end_solo_spell();
    return RECUR_OK;
}

int recur_threads(void) { return recur_threads_cap(); }

/* ------------------------------------------------------------ the pool */

static struct {
    pthread_mutex_t grow; /* held while workers are started */
    atomic_int workers;   /* workers started */
    atomic_flag busy;     /* set while a caller runs a job through the pool */
    atomic_uint gen;      /* odd: a job is open */
    atomic_int inside;    /* workers that may read the job's fields */
    atomic_int sleepers;  /* workers asleep (or going to sleep) on gen */
    /* the job: written by its caller while gen is even and no worker is inside */
    recur_chunk_fn fn;
    void *ctx;
    int64_t n;
    int width;
    atomic_llong next, done;
    atomic_int joined; /* workers that joined the job */
    /* solo spells (see the top): written by the caller holding busy, and cleared by recur_set_threads */
    atomic_llong solo_until, solo_spell, last_spell; /* when the spell ends, its length, when it began */
    atomic_long fresh_starts; /* recur_set_threads' calls: a caller's next look at its waits only notes them */
} pool = {.grow = PTHREAD_MUTEX_INITIALIZER, .busy = ATOMIC_FLAG_INIT};

static atomic_long n_jobs, n_worker_chunks, n_solo_spells, n_preempted_spells;

/* Ends a solo spell (the next begins with the shortest), and starts the caller's looks at its waits afresh. */
static void end_solo_spell(void)
{
    atomic_store(&pool.solo_until, 0);
    atomic_store(&pool.solo_spell, 0);
    atomic_fetch_add(&pool.fresh_starts, 1);
}

long recur_pool_jobs(void) { return atomic_load(&n_jobs); }
long recur_pool_worker_chunks(void) { return atomic_load(&n_worker_chunks); }
long recur_pool_solo_spells(void) { return atomic_load(&n_solo_spells); }
long recur_pool_preempted_spells(void) { return atomic_load(&n_preempted_spells); }

/* Begins a solo spell at time t: the shortest, or twice the last if that began less than CALM_NS ago. */
static void begin_solo_spell(int64_t t)
{
    int64_t spell = atomic_load(&pool.solo_spell);
    spell = !spell || t - atomic_load(&pool.last_spell) > CALM_NS ? SOLO_MIN_NS
            : spell < SOLO_MAX_NS                               ? 2 * spell
                                                                : SOLO_MAX_NS;
    atomic_store(&pool.solo_spell, spell);
    atomic_store(&pool.solo_until, t + spell);
    atomic_store(&pool.last_spell, t);
    atomic_fetch_add(&n_solo_spells, 1);
}

/* Nanoseconds the calling thread has waited on a run queue (schedstat's second field), or -1 if unknown. */
static int64_t run_queue_wait_ns(void)
{
    int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char text[96];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return -1;
    text[n] = 0;
    long long run, wait;
    return sscanf(text, "%lld %lld", &run, &wait) == 2 && wait >= 0 ? (int64_t)wait : -1;
}

/*
 * Whether the calling thread waited for a core more than 1/PREEMPTED_SHARE
 * of the time since it last looked (at `now`); it looks at most every
 * PREEMPT_CHECK_NS, and its first look, and its first after
 * recur_set_threads, only notes the count.
 */
static int caller_preempted(int64_t now)
{
    static _Thread_local int64_t looked, waited = -1;
    static _Thread_local long fresh = -1;
    long start = atomic_load(&pool.fresh_starts);
    if (start != fresh) fresh = start, waited = -1;
    else if (now - looked < PREEMPT_CHECK_NS) return 0;
    int64_t w = run_queue_wait_ns(), since = now - looked;
    int preempted = waited >= 0 && w >= 0 && (w - waited) * PREEMPTED_SHARE > since;
    looked = now, waited = w;
    return preempted;
}

/* Takes and runs chunks of the open job until none is left. */
static int64_t run_chunks(int slot)
{
    int64_t ran = 0;
    for (;;) {
        int64_t c = atomic_fetch_add(&pool.next, 1);
        if (c >= pool.n) return ran;
        pool.fn(pool.ctx, c, slot);
        atomic_fetch_add(&pool.done, 1);
        ran++;
    }
}

/* A worker: waits for an odd gen it has not seen, joins that job if there is room, runs chunks. */
static void *worker_main(void *arg)
{
    (void)arg;
#ifdef _OPENMP
    omp_set_num_threads(1); /* oneDNN called from a chunk runs on this thread alone */
#endif
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load(&pool.gen);
        if (!(g & 1) || g == seen) {
            int64_t until = now_ns() + SPIN_NS;
            for (int i = 0;; i++) {
                cpu_relax();
                g = atomic_load(&pool.gen);
                if ((g & 1) && g != seen) break;
                if ((i & 63) == 63 && now_ns() > until) {
                    atomic_fetch_add(&pool.sleepers, 1);
                    futex(&pool.gen, FUTEX_WAIT_PRIVATE, g); /* returns at once if gen moved on */
                    atomic_fetch_sub(&pool.sleepers, 1);
                    until = now_ns() + SPIN_NS;
                }
            }
        }
        seen = g;
        atomic_fetch_add(&pool.inside, 1);
        if (atomic_load(&pool.gen) == g) {
            int slot = atomic_fetch_add(&pool.joined, 1) + 1;
            if (slot < pool.width) atomic_fetch_add(&n_worker_chunks, run_chunks(slot));
        }
        atomic_fetch_sub(&pool.inside, 1);
    }
    return NULL;
}

/* Starts workers until there are `want` (or as many as the system gives). */
static void grow_to(int want)
{
    if (want > MAX_WORKERS) want = MAX_WORKERS;
    if (atomic_load(&pool.workers) >= want) return;
    pthread_mutex_lock(&pool.grow);
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        while (atomic_load(&pool.workers) < want) {
            pthread_t t;
            if (pthread_create(&t, &attr, worker_main, NULL) != 0) break;
            atomic_fetch_add(&pool.workers, 1);
        }
        pthread_attr_destroy(&attr);
    }
    pthread_mutex_unlock(&pool.grow);
}

void recur_pool_run(int64_t n_chunks, int width, recur_chunk_fn fn, void *ctx)
{
    int cap = recur_threads_cap();
    if (width > cap) width = cap;
    if (width <= 1 || n_chunks <= 1 || atomic_flag_test_and_set(&pool.busy)) {
        for (int64_t c = 0; c < n_chunks; c++) fn(ctx, c, 0);
        return;
    }
    /* a straggler of the last job still inside (do not wait for it), or a solo spell: the caller alone */
    int64_t start = now_ns();
    if (caller_preempted(start)) {
        begin_solo_spell(start);
        atomic_fetch_add(&n_preempted_spells, 1);
    }
    if (atomic_load(&pool.inside) != 0 || start < atomic_load(&pool.solo_until)) {
        atomic_flag_clear(&pool.busy);
        for (int64_t c = 0; c < n_chunks; c++) fn(ctx, c, 0);
        return;
    }
    grow_to(width - 1);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n_chunks;
    pool.width = width;
    atomic_store(&pool.next, 0);
    atomic_store(&pool.done, 0);
    atomic_store(&pool.joined, 0);
    unsigned g = atomic_load(&pool.gen) + 1; /* odd: open */
    atomic_store(&pool.gen, g);
    atomic_fetch_add(&n_jobs, 1);
    if (atomic_load(&pool.sleepers) > 0) futex(&pool.gen, FUTEX_WAKE_PRIVATE, INT_MAX);
    int64_t own = run_chunks(0);
    atomic_store(&pool.gen, g + 1); /* closed: no worker joins any more */
    int64_t waiting = 0, waited = 0; /* (read from the clock once the wait is not short) */
    for (int i = 0; atomic_load(&pool.done) < n_chunks; i++) {
        if (i < WAIT_SPINS) cpu_relax();
        else sched_yield(); /* the worker holding the last chunk may be waiting for this core */
        if ((i & 63) == 63) {
            int64_t t = now_ns();
            if (!waiting) waiting = t;
            waited = t - waiting;
        }
    }
    if (waiting && own > 0 && waited > LONG_WAIT_NS + LONG_WAIT_CHUNKS * (waiting - start) / own)
        begin_solo_spell(now_ns());
    atomic_flag_clear(&pool.busy);
}
