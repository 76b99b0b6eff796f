/*
 * train/mpi.c — data parallelism over MPI (recur/mpi.h): starting and
 * ending MPI, sums and broadcasts over the ranks, a checkpoint read by
 * rank 0 for all, and the averaging of a training plan's gradients
 * (train/trainer_mpi.c hooks it on a trainer).
 *
 * The averaging. Rank r computes the loss l_r and gradients g_r of its
 * batch; every rank then takes
 *
 *   l = (1/N) sum_r l_r,   g = (1/N) sum_r g_r,
 *
 * the loss and gradient of the union of the batches when each l_r is the
 * mean over an equal batch. The sums are MPI_Iallreduce(MPI_IN_PLACE, ...,
 * MPI_SUM) on the training plan's own buffers. A hook on each buffer
 * (recur_plan_on_ready) sees it finished during the run. The first run
 * learns the order in which the plan finishes them; from it the buffers
 * are cut into buckets of about bucket_bytes, each bucket's buffers merged
 * into ranges where they lie back to back in memory (one message per
 * range: Open MPI's reductions take no derived datatypes, so buffers apart
 * travel apart). From the second run on a bucket's reductions start when
 * its last buffer is done, and every hook calls MPI_Testall to move the
 * started ones on (Open MPI progresses them only inside MPI calls); after
 * the run the trainer waits for the rest and divides by N.
 *
 * Every rank makes the same calls in the same order: the same graph
 * compiles to the same plan and the same layout, and the buckets are
 * checked to agree across the ranks (their count, ranges and sizes) when
 * they are made.
 */
#include <mpi.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph/error.h"
#include "mpi_impl.h"
#include "plan/plan.h"

/* Bcasts and reductions go in parts of at most this many elements (MPI counts are ints). */
#define PART ((int64_t)1 << 30)

static struct {
    int active;   /* between recur_mpi_init and recur_mpi_finalize */
    int ours;     /* recur_mpi_init called MPI_Init (and recur_mpi_finalize will finalize) */
    int rank, size;
} world = {0, 0, 0, 1};

static _Thread_local recur_error mpi_error;

const char *recur_mpi_errmsg(void) { return mpi_error.msg; }

static recur_status fail(recur_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static recur_status fail(recur_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    recur_error_vset(&mpi_error, code, fmt, ap);
    va_end(ap);
    return code;
}

/* Records MPI's error rc as "rank R: <what>: <MPI's message>" and returns RECUR_ERR_RUNTIME. */
static recur_status mpi_fail(int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return fail(RECUR_ERR_RUNTIME, "rank %d of %d: %s: %s", world.rank, world.size, what, msg);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------ the world */

int recur_mpi_launched(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return 1;
    }
    return 0;
}

recur_status recur_mpi_init(int *argc, char ***argv)
{
    if (world.active) return RECUR_OK;
    int done = 0, rc;
    MPI_Initialized(&done);
    if (!done) {
        int provided;
        if ((rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided)) != MPI_SUCCESS)
            return mpi_fail(rc, "MPI_Init_thread");
        world.ours = 1;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world.size);
    world.active = 1;
    return RECUR_OK;
}

recur_status recur_mpi_finalize(void)
{
    if (!world.active) return RECUR_OK;
    world.active = 0;
    int rc = world.ours ? MPI_Finalize() : MPI_SUCCESS;
    world.ours = 0;
    world.rank = 0;
    world.size = 1;
    return rc == MPI_SUCCESS ? RECUR_OK : mpi_fail(rc, "MPI_Finalize");
}

int recur_mpi_active(void) { return world.active; }
int recur_mpi_rank(void) { return world.rank; }
int recur_mpi_size(void) { return world.size; }

void recur_mpi_abort(int code)
{
    fflush(stdout);
    fflush(stderr);
    if (world.active) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

recur_status recur_mpi_barrier(void)
{
    int rc = world.active ? MPI_Barrier(MPI_COMM_WORLD) : MPI_SUCCESS;
    return rc == MPI_SUCCESS ? RECUR_OK : mpi_fail(rc, "barrier");
}

recur_status recur_mpi_sum(double *x, int n)
{
    if (n < 0 || (n > 0 && !x)) return fail(RECUR_ERR_ARG, "mpi_sum: %d values at %p", n, (void *)x);
    if (!world.active || world.size == 1 || n == 0) return RECUR_OK;
    int rc = MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    if (rc == MPI_SUCCESS) return RECUR_OK;
    char what[96];
    snprintf(what, sizeof what, "summing %d doubles over the ranks", n);
    return mpi_fail(rc, what);
}

recur_status recur_mpi_broadcast(float *x, int64_t n, const char *what)
{
    if (!what) what = "a buffer";
    if (n < 0 || (n > 0 && !x)) return fail(RECUR_ERR_ARG, "mpi_broadcast %s: %lld floats at %p", what, (long long)n, (void *)x);
    if (!world.active || world.size == 1) return RECUR_OK;
    for (int64_t at = 0; at < n; at += PART) {
        int count = (int)(n - at < PART ? n - at : PART);
        int rc = MPI_Bcast(x + at, count, MPI_FLOAT, 0, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) {
            char msg[256];
            snprintf(msg, sizeof msg, "broadcasting %s (%lld floats) from rank 0", what, (long long)n);
            return mpi_fail(rc, msg);
        }
    }
    return RECUR_OK;
}

recur_status recur_mpi_broadcast_params(recur_graph *g)
{
    if (!g) return fail(RECUR_ERR_ARG, "mpi_broadcast_params: no graph (NULL)");
    int n = recur_params(g, NULL, 0);
    recur_value *p = malloc(sizeof *p * ((size_t)n + 1));
    if (!p) return fail(RECUR_ERR_NOMEM, "mpi_broadcast_params: out of memory");
    recur_params(g, p, n);
    recur_status st = RECUR_OK;
    for (int i = 0; i < n && st == RECUR_OK; i++) {
        char what[160];
        snprintf(what, sizeof what, "parameter \"%s\"", recur_value_name(g, p[i]));
        st = recur_mpi_broadcast(recur_param_data(g, p[i]), recur_shape_numel(recur_value_shape(g, p[i])), what);
    }
    free(p);
    return st;
}

/* Reads a whole file into *buf (malloc'd), *len bytes; 0 or an errno-style reason in why. */
static int read_file(const char *path, char **buf, int64_t *len, char *why, size_t whylen)
{
    FILE *f = fopen(path, "rb");
    if (!f) return snprintf(why, whylen, "cannot open %s", path), -1;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        char *bigger = realloc(b, cap * 2);
        if (!bigger) free(b);
        b = bigger;
        cap *= 2;
    }
    int bad = !b || ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return snprintf(why, whylen, b ? "cannot read %s" : "out of memory reading %s", path), -1;
    }
    *buf = b;
    *len = (int64_t)n;
    return 0;
}

recur_status recur_mpi_ckpt_load(const char *path, unsigned flags, recur_ckpt **out)
{
    if (!out) return fail(RECUR_ERR_ARG, "mpi_ckpt_load: out is NULL");
    *out = NULL;
    if (!path) return fail(RECUR_ERR_ARG, "mpi_ckpt_load: the path is NULL");
    if (!world.active || world.size == 1) {
        recur_status st = recur_ckpt_load_flags(path, flags, out);
        if (st != RECUR_OK) {
            fail(st, "%s", *out ? recur_ckpt_errmsg(*out) : "out of memory");
            recur_ckpt_free(*out);
            *out = NULL;
        }
        return st;
    }
    /* Rank 0 reads; the length (-1: failed, the reason follows) and the bytes go to every rank. */
    char *bytes = NULL, why[256] = "";
    int64_t len = -1;
    if (world.rank == 0 && read_file(path, &bytes, &len, why, sizeof why) != 0) len = -1;
    int rc = MPI_Bcast(&len, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
    if (rc == MPI_SUCCESS && len < 0) rc = MPI_Bcast(why, (int)sizeof why, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) {
        free(bytes);
        return mpi_fail(rc, "broadcasting the checkpoint's size");
    }
    if (len < 0) {
        why[sizeof why - 1] = 0;
        return fail(RECUR_ERR_IO, "rank %d of %d: checkpoint %s: rank 0 %s", world.rank, world.size, path, why);
    }
    if (world.rank != 0 && !(bytes = malloc((size_t)len + 1)))
        return fail(RECUR_ERR_NOMEM, "rank %d: out of memory for the checkpoint %s (%lld bytes)", world.rank, path,
                    (long long)len);
    for (int64_t at = 0; at < len && rc == MPI_SUCCESS; at += PART)
        rc = MPI_Bcast(bytes + at, (int)(len - at < PART ? len - at : PART), MPI_BYTE, 0, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) {
        free(bytes);
        char what[300];
        snprintf(what, sizeof what, "broadcasting the checkpoint %s (%lld bytes)", path, (long long)len);
        return mpi_fail(rc, what);
    }
    recur_status st = recur_ckpt_load_mem_flags(bytes, (size_t)len, flags, out);
    free(bytes);
    if (st != RECUR_OK) {
        fail(st, "checkpoint %s: %s", path, *out ? recur_ckpt_errmsg(*out) : "out of memory");
        recur_ckpt_free(*out);
        *out = NULL;
    }
    return st;
}

/* ------------------------------------------------- the trainer's averaging */

typedef struct mpi_buf {
    struct recur_mpi_trainer *m;
    recur_value v;      /* the loss or a gradient: an output of the training plan */
    float *data;        /* its buffer in the plan */
    int64_t n;
    int bucket;
} mpi_buf;

typedef struct mpi_range {
    float *data;
    int64_t n;
} mpi_range;

typedef struct mpi_bucket {
    int size;           /* its buffers */
    int ready;          /* those done in this run */
    int first_range, n_ranges;
} mpi_bucket;

struct recur_mpi_trainer {
    recur_mpi_opts o;
    int n;              /* buffers averaged: the loss, then each gradient */
    mpi_buf *buf;
    int *order;         /* buffer indices in the order the first run finished them */
    int n_order;
    int planned;        /* the buckets are made */
    mpi_bucket *bucket;
    int n_buckets;
    mpi_range *range;   /* the buckets' ranges, bucket after bucket */
    int n_ranges;
    MPI_Request *req;   /* the reductions started in this run, one per part of a range */
    int n_req, cap_req;
    recur_mpi_stats stats;
};

void recur_mpi_trainer_free(recur_mpi_trainer *m)
{
    if (!m) return;
    free(m->buf);
    free(m->order);
    free(m->bucket);
    free(m->range);
    free(m->req);
    free(m);
}

static int by_address(const void *a, const void *b)
{
    const mpi_range *x = a, *y = b;
    return x->data < y->data ? -1 : x->data > y->data;
}

/*
 * Sorts ranges r[0..n) by address and merges those that touch or overlap
 * (buffers back to back in memory travel as one message; a buffer shared
 * by two outputs is reduced once). Returns the count left.
 */
static int merge_ranges(mpi_range *r, int n)
{
    qsort(r, (size_t)n, sizeof *r, by_address);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (k > 0 && r[i].data <= r[k - 1].data + r[k - 1].n) {
            float *end = r[i].data + r[i].n > r[k - 1].data + r[k - 1].n ? r[i].data + r[i].n : r[k - 1].data + r[k - 1].n;
            r[k - 1].n = end - r[k - 1].data;
        } else {
            r[k++] = r[i];
        }
    }
    return k;
}

/* 1 when buffers a and b share memory (two outputs of one value, such as an LSTM's two bias gradients). */
static int share(const mpi_buf *a, const mpi_buf *b) { return a->data < b->data + b->n && b->data < a->data + a->n; }

/*
 * Cuts the buffers, in the order the plan finishes them, into buckets of
 * about bucket_bytes (without overlap: one bucket), and each bucket into
 * merged ranges. Buffers sharing memory go to the bucket of the last of
 * them, so that memory is summed once, when it is done. Then checks that
 * every rank made the same buckets.
 */
static recur_status make_buckets(recur_mpi_trainer *m)
{
    int n = m->n;
    m->bucket = calloc((size_t)n, sizeof *m->bucket);
    m->range = malloc(sizeof *m->range * (size_t)n);
    if (!m->bucket || !m->range) return fail(RECUR_ERR_NOMEM, "rank %d: out of memory for the buckets", world.rank);
    int64_t limit = m->o.bucket_bytes / (int64_t)sizeof(float), filled = 0;
    m->n_buckets = 0;
    for (int k = 0; k < n; k++) {
        mpi_buf *b = &m->buf[m->order[k]];
        if (m->n_buckets == 0 || (!m->o.no_overlap && filled >= limit)) m->n_buckets++, filled = 0;
        b->bucket = m->n_buckets - 1;
        filled += b->n;
    }
    for (int moved = 1; moved;) { /* shared memory: the later bucket, until nothing moves */
        moved = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if (i != j && share(&m->buf[i], &m->buf[j]) && m->buf[i].bucket < m->buf[j].bucket)
                    m->buf[i].bucket = m->buf[j].bucket, moved = 1;
    }
    for (int i = 0; i < n; i++) m->bucket[m->buf[i].bucket].size++;
    m->n_ranges = 0;
    for (int c = 0; c < m->n_buckets; c++) {
        mpi_bucket *bk = &m->bucket[c];
        bk->first_range = m->n_ranges;
        for (int i = 0; i < n; i++)
            if (m->buf[i].bucket == c) m->range[m->n_ranges++] = (mpi_range){m->buf[i].data, m->buf[i].n};
        bk->n_ranges = merge_ranges(m->range + bk->first_range, m->n_ranges - bk->first_range);
        m->n_ranges = bk->first_range + bk->n_ranges;
    }
    int parts = 0;
    m->stats.bytes_per_step = 0;
    for (int i = 0; i < m->n_ranges; i++) {
        parts += (int)((m->range[i].n + PART - 1) / PART);
        m->stats.bytes_per_step += m->range[i].n * (int64_t)sizeof(float);
    }
    m->stats.messages_per_step = parts;
    m->stats.buckets = m->n_buckets;
    if (!(m->req = malloc(sizeof *m->req * ((size_t)parts + 1))))
        return fail(RECUR_ERR_NOMEM, "rank %d: out of memory for the requests", world.rank);
    m->cap_req = parts;
    /* The same plan on every rank makes the same buckets: a signature's minimum and maximum agree. */
    uint64_t sig[4] = {(uint64_t)m->n_buckets, (uint64_t)m->n_ranges, (uint64_t)m->stats.bytes_per_step, 0}, lo[4], hi[4];
    for (int i = 0; i < m->n_ranges; i++) sig[3] = sig[3] * 1000003u + (uint64_t)m->range[i].n; /* wraps: a hash */
    int rc = MPI_Allreduce(sig, lo, 4, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    if (rc == MPI_SUCCESS) rc = MPI_Allreduce(sig, hi, 4, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "comparing the gradient buckets of the ranks");
    if (memcmp(lo, hi, sizeof lo) != 0)
        return fail(RECUR_ERR_STATE,
                    "rank %d of %d: the ranks' training plans differ (this rank: %lld buckets, %lld ranges, %lld bytes "
                    "per step; others from %lld to %lld bytes): every rank must build the same graph",
                    world.rank, world.size, (long long)sig[0], (long long)sig[1], (long long)sig[2], (long long)lo[2],
                    (long long)hi[2]);
    m->planned = 1;
    return RECUR_OK;
}

/* Starts the reductions of bucket c, in parts of at most PART floats. */
static recur_status start_bucket(recur_mpi_trainer *m, int c)
{
    const mpi_bucket *bk = &m->bucket[c];
    for (int i = bk->first_range; i < bk->first_range + bk->n_ranges; i++)
        for (int64_t at = 0; at < m->range[i].n; at += PART) {
            int count = (int)(m->range[i].n - at < PART ? m->range[i].n - at : PART);
            int rc = MPI_Iallreduce(MPI_IN_PLACE, m->range[i].data + at, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                                    &m->req[m->n_req++]);
            if (rc != MPI_SUCCESS) {
                char what[160];
                snprintf(what, sizeof what, "starting the sum of bucket %d, range %d (%lld floats)", c, i,
                         (long long)m->range[i].n);
                return mpi_fail(rc, what);
            }
        }
    return RECUR_OK;
}

/* The plan's hook: buffer b is done in this run (see the top of this file). */
static recur_status on_ready(void *user, recur_plan *p, recur_value v, float *data, int64_t n)
{
    (void)p, (void)v, (void)n;
    mpi_buf *b = user;
    recur_mpi_trainer *m = b->m;
    if (!m->planned) { /* the first run: learn the order */
        if (m->n_order < m->n) m->order[m->n_order++] = (int)(b - m->buf);
        return RECUR_OK;
    }
    if (data != b->data) return fail(RECUR_ERR_STATE, "rank %d: the plan moved a gradient's buffer", world.rank);
    double t0 = now();
    recur_status st = RECUR_OK;
    mpi_bucket *bk = &m->bucket[b->bucket];
    if (++bk->ready == bk->size) st = start_bucket(m, b->bucket);
    int flag, rc = m->n_req ? MPI_Testall(m->n_req, m->req, &flag, MPI_STATUSES_IGNORE) : MPI_SUCCESS;
    m->stats.seconds_in_hooks += now() - t0;
    if (st == RECUR_OK && rc != MPI_SUCCESS) st = mpi_fail(rc, "moving the gradient sums on");
    return st;
}

/* Sums every range over the ranks now, one blocking call each (the first run, and without overlap). */
static recur_status reduce_all_now(recur_mpi_trainer *m)
{
    for (int i = 0; i < m->n_ranges; i++)
        for (int64_t at = 0; at < m->range[i].n; at += PART) {
            int count = (int)(m->range[i].n - at < PART ? m->range[i].n - at : PART);
            int rc = MPI_Allreduce(MPI_IN_PLACE, m->range[i].data + at, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            if (rc != MPI_SUCCESS) {
                char what[160];
                snprintf(what, sizeof what, "summing gradient range %d (%lld floats)", i, (long long)m->range[i].n);
                return mpi_fail(rc, what);
            }
        }
    return RECUR_OK;
}

recur_status recur_mpi_trainer_after_run(recur_mpi_trainer *m)
{
    double t0 = now();
    recur_status st = RECUR_OK;
    if (!m->planned) {
        if (!m->o.no_overlap && m->n_order != m->n)
            return fail(RECUR_ERR_STATE, "rank %d: %d of the %d gradient hooks ran in the first step", world.rank,
                        m->n_order, m->n);
        st = make_buckets(m);
        if (st == RECUR_OK) st = reduce_all_now(m);
    } else if (m->o.no_overlap) {
        st = reduce_all_now(m);
    } else {
        for (int c = 0; c < m->n_buckets; c++) /* a bucket every rank finished: none is left unstarted */
            if (m->bucket[c].ready != m->bucket[c].size) st = fail(RECUR_ERR_STATE, "rank %d: bucket %d was not finished", world.rank, c);
        int rc = MPI_Waitall(m->n_req, m->req, MPI_STATUSES_IGNORE);
        if (st == RECUR_OK && rc != MPI_SUCCESS) {
            char what[128];
            snprintf(what, sizeof what, "waiting for the %d gradient sums (%lld bytes)", m->n_req,
                     (long long)m->stats.bytes_per_step);
            st = mpi_fail(rc, what);
        }
        m->n_req = 0;
        for (int c = 0; c < m->n_buckets; c++) m->bucket[c].ready = 0;
    }
    if (st != RECUR_OK) return st;
    /* the mean: the sums divided by N */
    float inv = 1.0f / (float)world.size;
    for (int i = 0; i < m->n_ranges; i++)
        for (int64_t j = 0; j < m->range[i].n; j++) m->range[i].data[j] *= inv;
    m->stats.steps++;
    m->stats.seconds_waiting += now() - t0;
    return RECUR_OK;
}

recur_status recur_mpi_trainer_agree(recur_mpi_trainer *m, recur_status st, const char *what)
{
    (void)m;
    int code = (int)st;
    int rc = MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "hearing rank 0's status");
    if (world.rank != 0 && code != RECUR_OK)
        fail((recur_status)code, "rank 0 failed %s (%s)", what, recur_status_str((recur_status)code));
    return (recur_status)code;
}

recur_status recur_mpi_counts_broadcast(double *x, int n)
{
    int rc = MPI_Bcast(x, n, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? RECUR_OK : mpi_fail(rc, "broadcasting the trainer's step counts");
}

recur_status recur_mpi_trainer_new(recur_plan *plan, recur_graph *g, recur_value loss, int n_grads,
                                   const recur_value *grads, const recur_mpi_opts *opts, recur_mpi_trainer **out)
{
    *out = NULL;
    recur_mpi_trainer *m = calloc(1, sizeof *m);
    if (m) {
        m->n = 1 + n_grads;
        m->buf = calloc((size_t)m->n, sizeof *m->buf);
        m->order = malloc(sizeof *m->order * (size_t)m->n);
    }
    if (!m || !m->buf || !m->order) {
        recur_mpi_trainer_free(m);
        return fail(RECUR_ERR_NOMEM, "rank %d: out of memory", world.rank);
    }
    m->o = *opts;
    m->stats.ranks = world.size;
    recur_status st = RECUR_OK;
    for (int i = 0; i < m->n && st == RECUR_OK; i++) {
        mpi_buf *b = &m->buf[i];
        b->m = m;
        b->v = i == 0 ? loss : grads[i - 1];
        b->data = recur_plan_value_buffer(plan, b->v);
        b->n = recur_shape_numel(recur_plan_value_shape(plan, b->v));
        if (!b->data)
            st = fail(RECUR_ERR_STATE, "rank %d: the training plan has no buffer for \"%s\"", world.rank,
                      recur_value_name(g, b->v));
        else if (!opts->no_overlap && recur_plan_on_ready(plan, b->v, on_ready, b) != RECUR_OK)
            st = fail(recur_plan_errcode(plan), "rank %d: %s", world.rank, recur_plan_errmsg(plan));
        m->order[i] = i; /* without overlap, the order of the gradients */
    }
    if (st != RECUR_OK) {
        for (int i = 0; i < m->n && !opts->no_overlap; i++) recur_plan_on_ready(plan, m->buf[i].v, NULL, NULL);
        recur_mpi_trainer_free(m);
        return st;
    }
    if (opts->no_overlap) m->n_order = m->n;
    *out = m;
    return RECUR_OK;
}

recur_mpi_stats recur_mpi_trainer_stats(const recur_mpi_trainer *m)
{
    return m ? m->stats : (recur_mpi_stats){.ranks = 1};
}
