/*
 * tests/test_mpi.c — data-parallel training over MPI (recur/mpi.h) and the
 * plan's ready hooks it rests on (recur_plan_on_ready, recur/exec.h).
 *
 * The MPI tests run tests/mpi_train (its path is argv[1]) under
 * `mpirun -np 2` on the loopback interface, and without mpirun, and
 * compare the parameters rank 0 writes: 2 ranks with batch 32 each must
 * give 1 process's parameters with batch 64 after 20 steps, to 1e-5 (only
 * the order of the sums differs), for an LSTM language model and a GRU
 * classifier; a checkpoint the 2 ranks wrote must resume under 1 and 2
 * ranks as the uninterrupted run goes on; a rank killed mid-run must end
 * the job within 30 s, with an error naming it, and leave the last
 * checkpoint whole. Without mpirun on the PATH they are skipped.
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "recur.h"
#include "test_util.h"

static const char *mpi_train; /* argv[1] */

/* mpirun as root, 2 ranks on any number of cores, on the loopback interface only, with the test's settings. */
#define MPIRUN                                                                                                   \
    "mpirun --allow-run-as-root --oversubscribe --mca btl self,tcp --mca btl_tcp_if_include lo --mca "          \
    "oob_tcp_if_include lo -x RECUR_BACKEND -x RECUR_PASSES -x OMP_NUM_THREADS %s"

/*
 * In the sanitizer build (ASAN_OPTIONS set, as .ci/run sets it) the ranks
 * mpirun starts run with LeakSanitizer off: Open MPI's components, loaded
 * with dlopen and unloaded by MPI_Finalize, leave what they allocated
 * behind in modules LeakSanitizer can no longer name, so no suppression
 * can match them. Every other check of ASan and UBSan stays on in the
 * ranks, and the runs without mpirun keep leak detection.
 */
static char asan_ranks[1024];

static char dir[64];          /* a temporary directory for the runs' files */

/* ------------------------------------------------------------ ready hooks */

typedef struct seen {
    int calls;
    double sum;     /* of the buffer when the hook ran */
    int order;      /* its place among the hooks of the run */
    int scramble;   /* 1: the hook overwrites the buffer with 7s */
} seen;

static int fired;

static recur_status record(void *user, recur_plan *p, recur_value v, float *data, int64_t n)
{
    (void)p, (void)v;
    seen *s = user;
    s->calls++;
    s->order = fired++;
    s->sum = 0;
    for (int64_t i = 0; i < n; i++) s->sum += data[i];
    if (s->scramble)
        for (int64_t i = 0; i < n; i++) data[i] = 7;
    return RECUR_OK;
}

/* An LSTM language model's training plan: the loss and every gradient. */
typedef struct lm {
    recur_graph *g;
    recur_value ids, next, loss, params[16], grads[16];
    int n;
    recur_plan *plan;
} lm;

static void lm_build(lm *m)
{
    enum { T = 6, B = 4, V = 9, E = 5, H = 8 };
    m->g = recur_graph_new(3);
    recur_graph *g = m->g;
    m->ids = recur_input(g, "ids", recur_shape2(T, B));
    m->next = recur_input(g, "next", recur_shape2(T, B));
    recur_rnn lstm;
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = E, .hidden = H};
    assert_int_equal(recur_rnn_new(g, "lstm", &o, recur_embedding(g, "emb", m->ids, V, E), RECUR_NONE, RECUR_NONE, &lstm),
                     RECUR_OK);
    m->loss = recur_softmax_xent(g, recur_dense(g, "out", lstm.outputs, V, 1), m->next, RECUR_NONE);
    assert_int_equal(recur_unroll(g), RECUR_OK);
    m->n = recur_params(g, m->params, 16);
    assert_int_equal(recur_grad(g, m->loss, m->n, m->params, m->grads), RECUR_OK);
    recur_value outs[17] = {m->loss};
    memcpy(outs + 1, m->grads, sizeof *outs * (size_t)m->n);
    m->plan = recur_compile(g, 1 + m->n, outs, NULL);
    assert_non_null(m->plan);
    float x[T * B], y[T * B];
    for (int i = 0; i < T * B; i++) x[i] = (float)(i * 7 % V), y[i] = (float)(i * 5 % V);
    assert_int_equal(recur_plan_feed(m->plan, m->ids, x, T * B), RECUR_OK);
    assert_int_equal(recur_plan_feed(m->plan, m->next, y, T * B), RECUR_OK);
}

static double buffer_sum(recur_plan *p, recur_value v, int64_t n)
{
    const float *x = recur_plan_output(p, v);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    return s;
}

/* Each hook runs once per run, after its value is final: the buffer then holds what the run returns. */
static void test_ready_hooks_see_final_values(void **state)
{
    (void)state;
    lm m;
    lm_build(&m);
    assert_int_equal(recur_plan_run(m.plan), RECUR_OK);
    double want[17];
    int64_t numel[17];
    recur_value outs[17] = {m.loss};
    memcpy(outs + 1, m.grads, sizeof *outs * (size_t)m.n);
    for (int i = 0; i <= m.n; i++) {
        numel[i] = recur_shape_numel(recur_value_shape(m.g, outs[i]));
        want[i] = buffer_sum(m.plan, outs[i], numel[i]);
    }
    seen s[17];
    memset(s, 0, sizeof s);
    for (int i = 0; i <= m.n; i++) assert_int_equal(recur_plan_on_ready(m.plan, outs[i], record, &s[i]), RECUR_OK);
    for (int run = 1; run <= 2; run++) {
        fired = 0;
        assert_int_equal(recur_plan_run(m.plan), RECUR_OK);
        for (int i = 0; i <= m.n; i++) {
            assert_int_equal(s[i].calls, run);
            if (!(fabs(s[i].sum - want[i]) <= 1e-6 * (1 + fabs(want[i]))))
                fail_msg("output %d (%s): its hook saw a sum of %g, the run ended with %g", i, recur_value_name(m.g, outs[i]),
                         s[i].sum, want[i]);
        }
    }
    /* the loss is done before backward ends: its hook runs before the last gradient's */
    int last = 0;
    for (int i = 1; i <= m.n; i++) last = s[i].order > last ? s[i].order : last;
    assert_true(s[0].order < last);
    /* removed hooks run no more; a value that is no output is refused, naming it */
    for (int i = 0; i <= m.n; i++) assert_int_equal(recur_plan_on_ready(m.plan, outs[i], NULL, NULL), RECUR_OK);
    assert_int_equal(recur_plan_run(m.plan), RECUR_OK);
    assert_int_equal(s[0].calls, 2);
    assert_int_equal(recur_plan_on_ready(m.plan, m.ids, record, &s[0]), RECUR_ERR_VALUE);
    assert_non_null(strstr(recur_plan_errmsg(m.plan), "ids"));
    recur_plan_free(m.plan);
    recur_graph_free(m.g);
}

/*
 * A hook that overwrites its buffer changes that output and nothing else:
 * no later kernel read it (which is what lets MPI reduce it while backward
 * goes on).
 */
static void test_ready_hooks_may_write(void **state)
{
    (void)state;
    lm m;
    lm_build(&m);
    recur_value outs[17] = {m.loss};
    memcpy(outs + 1, m.grads, sizeof *outs * (size_t)m.n);
    for (int k = 0; k <= m.n; k++) { /* scramble output k alone */
        assert_int_equal(recur_plan_run(m.plan), RECUR_OK);
        double want[17];
        int64_t numel[17];
        for (int i = 0; i <= m.n; i++) {
            numel[i] = recur_shape_numel(recur_value_shape(m.g, outs[i]));
            want[i] = buffer_sum(m.plan, outs[i], numel[i]);
        }
        seen s = {.scramble = 1};
        assert_int_equal(recur_plan_on_ready(m.plan, outs[k], record, &s), RECUR_OK);
        assert_int_equal(recur_plan_run(m.plan), RECUR_OK);
        assert_true(fabs(s.sum - want[k]) <= 1e-6 * (1 + fabs(want[k])));
        const float *x = recur_plan_output(m.plan, outs[k]);
        for (int64_t j = 0; j < numel[k]; j++) assert_true(x[j] == 7);
        for (int i = 0; i <= m.n; i++) {
            if (i == k) continue;
            /* another output sharing the scrambled buffer (b_ih's and b_hh's gradients are one value) */
            if (recur_plan_output(m.plan, outs[i]) == x) continue;
            double got = buffer_sum(m.plan, outs[i], numel[i]);
            if (!(fabs(got - want[i]) <= 1e-6 * (1 + fabs(want[i]))))
                fail_msg("scrambling output %d (%s) changed output %d (%s): %g, was %g", k, recur_value_name(m.g, outs[k]),
                         i, recur_value_name(m.g, outs[i]), got, want[i]);
        }
        assert_int_equal(recur_plan_on_ready(m.plan, outs[k], NULL, NULL), RECUR_OK);
    }
    recur_plan_free(m.plan);
    recur_graph_free(m.g);
}

/* ----------------------------------------------------------- sharding */

static void test_shards(void **state)
{
    (void)state;
    assert_int_equal(recur_shard_steps(640, 32, 2), 10);
    assert_int_equal(recur_shard_steps(640, 64, 1), 10);
    assert_int_equal(recur_shard_steps(100, 32, 3), 1);
    assert_int_equal(recur_shard_steps(100, 0, 3), -1);
    assert_int_equal(recur_shard_offset(3, 32, 1, 2), (3 * 2 + 1) * 32);
    assert_int_equal(recur_shard_offset(0, 32, 2, 2), -1);
    /* shares cover every item once, differ by at most one */
    for (int size = 1; size <= 5; size++) {
        int64_t next = 0;
        for (int r = 0; r < size; r++) {
            int64_t first, count;
            assert_int_equal(recur_shard_range(17, r, size, &first, &count), RECUR_OK);
            assert_int_equal(first, next);
            assert_true(count == 17 / size || count == 17 / size + 1);
            next = first + count;
        }
        assert_int_equal(next, 17);
    }
    int64_t first, count;
    assert_int_equal(recur_shard_range(INT64_MAX, 2, 3, &first, &count), RECUR_OK);
    assert_true(first > 0 && count > 0 && first + count == INT64_MAX);
    assert_int_equal(recur_shard_range(10, 3, 3, &first, &count), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_data_errmsg(), "rank 3 of 3"));
}

/* Without recur_mpi_init: one rank, and the calls change nothing. */
static void test_without_mpi(void **state)
{
    (void)state;
    assert_int_equal(recur_mpi_active(), 0);
    assert_int_equal(recur_mpi_rank(), 0);
    assert_int_equal(recur_mpi_size(), 1);
    double x[2] = {1.5, 2};
    assert_int_equal(recur_mpi_sum(x, 2), RECUR_OK);
    assert_true(x[0] == 1.5 && x[1] == 2);
    float y[3] = {1, 2, 3};
    assert_int_equal(recur_mpi_broadcast(y, 3, "y"), RECUR_OK);
    assert_true(y[2] == 3);
    assert_int_equal(recur_mpi_broadcast(NULL, 3, "y"), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_mpi_errmsg(), "y"));
    lm m;
    lm_build(&m);
    recur_trainer *t = recur_trainer_new(m.g, m.loss, m.n, m.params, NULL);
    assert_non_null(t);
    assert_int_equal(recur_trainer_distribute(t, NULL), RECUR_OK);
    assert_int_equal(recur_trainer_mpi_stats(t).ranks, 1);
    recur_trainer_free(t);
    recur_plan_free(m.plan);
    recur_graph_free(m.g);
}

/* ------------------------------------------------------------- mpirun */

/* 1 when `mpirun` is on the PATH. */
static int have_mpirun(void) { return system("command -v mpirun >/dev/null 2>&1") == 0; }

/*
 * Runs `cmd` (a shell command) with its output in `log`; returns its exit
 * status (-1 if it did not exit) and the seconds it took in *secs.
 */
static int run(const char *cmd, const char *log, double *secs)
{
    char full[4096];
    snprintf(full, sizeof full, "%s >%s 2>&1", cmd, log);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int st = system(full);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (secs) *secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The file's text (static buffer), for messages. */
static const char *slurp(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    return buf;
}

/* Runs mpi_train with `args` on `np` ranks (0: without mpirun); fails the test, with its log, if it fails. */
static void train(int np, const char *args, const char *tag)
{
    char cmd[2048], log[256];
    snprintf(log, sizeof log, "%s/%s.log", dir, tag);
    if (np == 0)
        snprintf(cmd, sizeof cmd, "%s %s", mpi_train, args);
    else
        snprintf(cmd, sizeof cmd, MPIRUN " -np %d %s %s", asan_ranks, np, mpi_train, args);
    double secs;
    int rc = run(cmd, log, &secs);
    if (rc != 0) fail_msg("%s exited with %d:\n%s", cmd, rc, slurp(log));
}

/* Reads n floats of a file written by mpi_train; returns how many it held. */
static int64_t read_params(const char *path, float *x, int64_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    int64_t n = (int64_t)fread(x, sizeof(float), (size_t)cap, f);
    fclose(f);
    return n;
}

/* The parameters in files a and b agree to 1e-5 (relative to 1 + |b|). */
static void assert_same_params(const char *a, const char *b)
{
    static float x[1 << 16], y[1 << 16];
    int64_t n = read_params(a, x, 1 << 16), m = read_params(b, y, 1 << 16);
    assert_true(n > 100);
    assert_int_equal(n, m);
    double worst = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)x[i] - (double)y[i]) / (1 + fabs((double)y[i]));
        if (d > worst) worst = d, at = i;
    }
    if (worst > 1e-5) fail_msg("%s and %s differ at parameter element %lld: %.9g and %.9g", a, b, (long long)at,
                               (double)x[at], (double)y[at]);
}

/* The "eval E" of a run's log line. */
static double eval_of(const char *tag)
{
    char log[256];
    snprintf(log, sizeof log, "%s/%s.log", dir, tag);
    const char *at = strstr(slurp(log), " eval ");
    if (!at) fail_msg("no eval in %s: %s", log, slurp(log));
    return atof(at + 6);
}

/* 2 ranks of batch 32 take the steps of 1 process of batch 64: parameters and evaluation. */
static void same_as_one_process(const char *model)
{
    if (!have_mpirun()) skip();
    char args[1024], one[256], two[256], tag1[64], tag2[64];
    snprintf(one, sizeof one, "%s/%s_one.bin", dir, model);
    snprintf(two, sizeof two, "%s/%s_two.bin", dir, model);
    snprintf(tag1, sizeof tag1, "%s_one", model);
    snprintf(tag2, sizeof tag2, "%s_two", model);
    snprintf(args, sizeof args, "%s 64 20 %s", model, one);
    train(0, args, tag1);
    /* each rank seeds its weights differently: only rank 0's broadcast makes them start alike */
    snprintf(args, sizeof args, "%s 64 20 %s --seed-by-rank --bucket-bytes 2048", model, two);
    train(2, args, tag2);
    assert_same_params(one, two);
    double e1 = eval_of(tag1), e2 = eval_of(tag2);
    if (!(fabs(e1 - e2) <= 1e-5 * (1 + fabs(e1)))) fail_msg("eval loss: 1 process %.9g, 2 ranks %.9g", e1, e2);
    /* and without overlap (every gradient summed after backward) */
    snprintf(args, sizeof args, "%s 64 20 %s --no-overlap", model, two);
    train(2, args, tag2);
    assert_same_params(one, two);
}

static void test_lstm_two_ranks_same_as_one(void **state)
{
    (void)state;
    same_as_one_process("lstm");
}

static void test_gru_two_ranks_same_as_one(void **state)
{
    (void)state;
    same_as_one_process("gru");
}

/*
 * A checkpoint 2 ranks wrote after 10 steps (rank 0 alone) resumes under 2
 * ranks and under 1 process, and 10 more steps give the parameters of 20
 * uninterrupted steps.
 */
static void test_resume_under_any_ranks(void **state)
{
    (void)state;
    if (!have_mpirun()) skip();
    char args[1024], ck[256], ref[256], p[256];
    snprintf(ck, sizeof ck, "%s/half.ckpt", dir);
    snprintf(ref, sizeof ref, "%s/ref20.bin", dir);
    snprintf(args, sizeof args, "lstm 64 20 %s", ref);
    train(0, args, "ref20");
    snprintf(p, sizeof p, "%s/half.bin", dir);
    snprintf(args, sizeof args, "lstm 64 10 %s --save %s", p, ck);
    train(2, args, "half");
    for (int np = 0; np <= 2; np += 2) {
        snprintf(p, sizeof p, "%s/resumed%d.bin", dir, np);
        snprintf(args, sizeof args, "lstm 64 10 %s --resume %s", p, ck);
        train(np, args, np ? "resumed2" : "resumed1");
        assert_same_params(p, ref);
    }
}

/*
 * Rank 1 killed at step 6 of a run saving after every step: the job ends
 * within 30 s with an error naming the rank, and the last checkpoint
 * loads and holds a step from before the kill.
 */
static void test_killed_rank_ends_the_job(void **state)
{
    (void)state;
    if (!have_mpirun()) skip();
    char cmd[2048], log[256], ck[256], p[256];
    snprintf(ck, sizeof ck, "%s/killed.ckpt", dir);
    snprintf(p, sizeof p, "%s/killed.bin", dir);
    snprintf(log, sizeof log, "%s/killed.log", dir);
    snprintf(cmd, sizeof cmd, "timeout -k 5 60 " MPIRUN " -np 2 %s lstm 64 1000 %s --save %s --kill-rank 1 --kill-at 6",
             asan_ranks, mpi_train, p, ck);
    double secs;
    int rc = run(cmd, log, &secs);
    const char *out = slurp(log);
    if (rc == 0 || rc == 124) fail_msg("the job exited with %d after %.1f s:\n%s", rc, secs, out);
    if (secs > 30) fail_msg("the job took %.1f s to end:\n%s", secs, out);
    if (!strstr(out, "rank 1")) fail_msg("the error does not name rank 1:\n%s", out);
    recur_ckpt *c = NULL;
    assert_int_equal(recur_ckpt_load(ck, &c), RECUR_OK);
    int64_t step = -1;
    assert_int_equal(recur_ckpt_get_int(c, "trainer.step", &step), RECUR_OK);
    assert_true(step >= 5 && step <= 7);
    recur_ckpt_free(c);
}

/*
 * The recur tool under mpirun, as a user runs it: `mpirun -np 2 recur train
 * TEXT ...` is data-parallel without any option (rank 0 alone prints and
 * writes the checkpoint), and its checkpoint (parameters and the
 * optimizer's state) is that of the same command run as one process, to
 * 1e-5: --batch is the step's batch over all ranks, each reading its half.
 */
static void test_recur_train_under_mpirun(void **state)
{
    (void)state;
    const char *cli = getenv("RECUR_CLI");
    if (!cli || !*cli || !have_mpirun()) skip();
    char text[256], ck1[256], ck2[256], common[1024], cmd[3072], log[256];
    snprintf(text, sizeof text, "%s/fox.txt", dir);
    FILE *f = fopen(text, "w");
    assert_non_null(f);
    for (int i = 0; i < 120; i++) fprintf(f, "line %d: the quick brown fox jumps over the lazy dog\n", i * 7 % 13);
    fclose(f);
    snprintf(ck1, sizeof ck1, "%s/cli_one.ckpt", dir);
    snprintf(ck2, sizeof ck2, "%s/cli_two.ckpt", dir);
    snprintf(common, sizeof common,
             "train %s --hidden 16 --window 8 --batch 8 --steps 6 --sample-length 4 --no-best --seed 3", text);
    snprintf(cmd, sizeof cmd, "%s %s -o %s", cli, common, ck1);
    snprintf(log, sizeof log, "%s/cli_one.log", dir);
    if (run(cmd, log, NULL) != 0) fail_msg("%s failed:\n%s", cmd, slurp(log));
    snprintf(cmd, sizeof cmd, MPIRUN " -np 2 %s %s -o %s", asan_ranks, cli, common, ck2);
    snprintf(log, sizeof log, "%s/cli_two.log", dir);
    if (run(cmd, log, NULL) != 0) fail_msg("%s failed:\n%s", cmd, slurp(log));
    const char *out = slurp(log);
    if (tu_count_of(out, "data-parallel over 2 MPI ranks") != 1) fail_msg("not one data-parallel line (rank 0 alone prints):\n%s", out);
    recur_ckpt *a = NULL, *b = NULL;
    assert_int_equal(recur_ckpt_load(ck1, &a), RECUR_OK);
    assert_int_equal(recur_ckpt_load(ck2, &b), RECUR_OK);
    assert_true(recur_ckpt_count(a) >= 4);
    assert_int_equal(recur_ckpt_count(a), recur_ckpt_count(b));
    for (int i = 0; i < recur_ckpt_count(a); i++) {
        recur_ckpt_tensor x = recur_ckpt_at(a, i);
        int j = recur_ckpt_find(b, x.name);
        if (j < 0) fail_msg("%s has no tensor %s", ck2, x.name);
        recur_ckpt_tensor y = recur_ckpt_at(b, j);
        assert_true(recur_shape_equal(x.shape, y.shape));
        for (int64_t e = 0; e < recur_shape_numel(x.shape); e++)
            if (!(fabs((double)x.data[e] - (double)y.data[e]) <= 1e-5 * (1 + fabs((double)x.data[e]))))
                fail_msg("%s[%lld]: one process %.9g, 2 ranks %.9g", x.name, (long long)e, (double)x.data[e],
                         (double)y.data[e]);
    }
    int64_t s1 = -1, s2 = -1;
    assert_int_equal(recur_ckpt_get_int(a, "trainer.step", &s1), RECUR_OK);
    assert_int_equal(recur_ckpt_get_int(b, "trainer.step", &s2), RECUR_OK);
    assert_int_equal(s1, 6);
    assert_int_equal(s2, 6);
    recur_ckpt_free(a);
    recur_ckpt_free(b);
}

int main(int argc, char **argv)
{
    if (argc < 2) return fprintf(stderr, "usage: test_mpi PATH_OF_MPI_TRAIN\n"), 2;
    mpi_train = argv[1];
    const char *asan = getenv("ASAN_OPTIONS");
    if (asan && *asan) snprintf(asan_ranks, sizeof asan_ranks, "-x 'ASAN_OPTIONS=%s:detect_leaks=0'", asan);
    snprintf(dir, sizeof dir, "/tmp/recur_test_mpi_XXXXXX");
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_hooks_see_final_values),
        cmocka_unit_test(test_ready_hooks_may_write),
        cmocka_unit_test(test_shards),
        cmocka_unit_test(test_without_mpi),
        cmocka_unit_test(test_lstm_two_ranks_same_as_one),
        cmocka_unit_test(test_gru_two_ranks_same_as_one),
        cmocka_unit_test(test_resume_under_any_ranks),
        cmocka_unit_test(test_killed_rank_ends_the_job),
        cmocka_unit_test(test_recur_train_under_mpirun),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (!failed) { /* keep the files of a failure for a look */
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    return failed;
}
