/*
 * tests/test_trainer.c — the training loop: a run resumed from a
 * checkpoint (fresh graph, fresh trainer) gives bit for bit the losses of
 * an uninterrupted one, and not when the optimizer's state is left out;
 * restores that fail change nothing; the progress line's format, checked
 * against numbers computed here; errors of the feed and other callbacks,
 * and a NaN loss, stop training naming the step and leave the weights as
 * they were; the training matches a hand-written loop of plan + optimizer.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { T = 4, B = 3, I = 2, H = 3 };

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/recur-trainer-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char p[128];
    const char *files[] = {"a.ckpt", "b.ckpt", "sgd.ckpt"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", tmpdir, files[i]);
        unlink(p);
    }
    return rmdir(tmpdir);
}

static const char *tmp_path(const char *name)
{
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

/* ------------------------------------------------------------- the model */

/* An LSTM over xs [T, B, I], a dense head on its last step, mse against ys [B, 1]. */
typedef struct model {
    recur_graph *g;
    recur_value xs, ys, loss;
    recur_value params[8];
    int np;
} model;

/* The same with dropout of probability p on the last step's output (p = 0: none). */
static model make_model_dropout(uint64_t seed, int64_t hidden, float p)
{
    model m;
    m.g = recur_graph_new(seed);
    m.xs = recur_input(m.g, "xs", recur_shape3(T, B, I));
    m.ys = recur_input(m.g, "ys", recur_shape2(B, 1));
    recur_rnn rnn;
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = I, .hidden = hidden};
    TU_ST(m.g, recur_rnn_new(m.g, "lstm", &o, m.xs, RECUR_NONE, RECUR_NONE, &rnn));
    recur_value last = recur_last_step(m.g, rnn.outputs);
    recur_value y = recur_dense(m.g, "head", p > 0 ? recur_dropout(m.g, last, p, 7) : last, 1, 1);
    m.loss = recur_mse(m.g, y, m.ys);
    TU_OK(m.g, m.loss);
    TU_ST(m.g, recur_unroll(m.g));
    m.np = recur_params(m.g, m.params, 8);
    return m;
}

static model make_model(uint64_t seed, int64_t hidden) { return make_model_dropout(seed, hidden, 0); }

/* The batch of step s: values that change with the step, so a resumed run must feed the right ones. */
static void batch_of(int64_t s, float *x, float *y)
{
    for (int i = 0; i < T * B * I; i++) x[i] = (float)sin(0.37 * (i + 1) + 0.91 * (double)s);
    for (int b = 0; b < B; b++) y[b] = (float)cos(0.5 * b + 0.3 * (double)s);
}

/* What the callbacks of a test see. */
typedef struct ctx {
    model *m;
    recur_trainer *t;
    float losses[64];     /* losses[s - 1]: the loss of step s */
    int64_t data_seed;    /* saved and restored through on_save / on_load */
    int64_t loaded_seed;
    int fail_feed_at;     /* the 0-based step whose feed fails (-1: none) */
    int fail_mode;        /* 0: a wrong-sized feed, 1: set_error, 2: only a status */
    int nan_at;           /* the 0-based step fed a NaN (-1: none) */
    int stop_at;          /* the step after which on_step stops the run (0: none) */
    int fail_load;        /* 1: on_load refuses */
} ctx;

static recur_status feed(void *user, int64_t step, recur_plan *plan)
{
    ctx *c = user;
    float x[T * B * I], y[B];
    batch_of(step, x, y);
    if (step == c->nan_at) x[5] = NAN;
    if (step == c->fail_feed_at) {
        if (c->fail_mode == 0) return recur_plan_feed(plan, c->m->xs, x, T * B * I - 1);
        if (c->fail_mode == 1) return recur_trainer_set_error(c->t, RECUR_ERR_IO, "batch file is gone (seed %lld)",
                                                              (long long)c->data_seed);
        return RECUR_ERR_IO;
    }
    recur_status st = recur_plan_feed(plan, c->m->xs, x, T * B * I);
    return st ? st : recur_plan_feed(plan, c->m->ys, y, B);
}

static recur_status on_step(void *user, recur_trainer *t, int64_t step, float loss)
{
    ctx *c = user;
    assert_int_equal(step, recur_trainer_step(t));
    if (step >= 1 && step <= 64) c->losses[step - 1] = loss;
    if (step == c->stop_at) recur_trainer_stop(t);
    return RECUR_OK;
}

static recur_status on_save(void *user, recur_ckpt *ck)
{
    ctx *c = user;
    return recur_ckpt_set_int(ck, "data.seed", c->data_seed);
}

static recur_status on_load(void *user, recur_trainer *t, recur_ckpt *ck)
{
    ctx *c = user;
    if (c->fail_load) return recur_trainer_set_error(t, RECUR_ERR_FORMAT, "data.seed does not fit this data");
    return recur_ckpt_get_int(ck, "data.seed", &c->loaded_seed);
}

static recur_trainer_opts test_opts(ctx *c)
{
    recur_trainer_opts o = recur_trainer_defaults();
    o.optim.lr = 0.05;
    o.optim.max_grad_norm = 1.0;
    o.optim.schedule = (recur_schedule){.kind = RECUR_SCHEDULE_STEP, .step_size = 3, .gamma = 0.7};
    o.feed = feed;
    o.on_step = on_step;
    o.on_save = on_save;
    o.on_load = on_load;
    o.user = c;
    o.progress = RECUR_PROGRESS_OFF;
    return o;
}

static recur_trainer *make_trainer(model *m, ctx *c, const recur_trainer_opts *o)
{
    c->m = m;
    c->t = recur_trainer_new(m->g, m->loss, m->np, m->params, o);
    if (!c->t) fail_msg("trainer_new: %s", recur_errmsg(m->g));
    return c->t;
}

static void init_ctx(ctx *c)
{
    memset(c, 0, sizeof *c);
    c->fail_feed_at = c->nan_at = -1;
}

/* A copy of every parameter's values, back to back. */
static float *snapshot(model *m, int64_t *n)
{
    *n = 0;
    for (int i = 0; i < m->np; i++) *n += recur_shape_numel(recur_value_shape(m->g, m->params[i]));
    float *s = malloc(sizeof(float) * (size_t)*n), *at = s;
    for (int i = 0; i < m->np; i++) {
        int64_t k = recur_shape_numel(recur_value_shape(m->g, m->params[i]));
        memcpy(at, recur_param_data(m->g, m->params[i]), sizeof(float) * (size_t)k);
        at += k;
    }
    return s;
}

static void assert_params_equal(model *m, const float *snap)
{
    int64_t n;
    float *now = snapshot(m, &n);
    assert_memory_equal(now, snap, sizeof(float) * (size_t)n);
    free(now);
}

/* ----------------------------------------------------------------- resume */

/*
 * 20 steps straight, against 10 steps, a checkpoint, a fresh graph (with
 * other initial weights) and trainer loading it, and 10 more steps: the
 * losses of steps 11..20 must be equal bit for bit.
 */
static void test_resume_reproduces_losses(void **state)
{
    (void)state;
    ctx a, b, c;
    init_ctx(&a), init_ctx(&b), init_ctx(&c);
    model ma = make_model(11, H), mb = make_model(11, H);
    recur_trainer_opts oa = test_opts(&a), ob = test_opts(&b);
    recur_trainer *ta = make_trainer(&ma, &a, &oa), *tb = make_trainer(&mb, &b, &ob);
    if (recur_trainer_run(ta, 20) != RECUR_OK) fail_msg("%s", recur_trainer_errmsg(ta));
    assert_int_equal(recur_trainer_step(ta), 20);

    b.data_seed = 1234;
    assert_int_equal(recur_trainer_run(tb, 6), RECUR_OK);
    assert_int_equal(recur_trainer_run(tb, 4), RECUR_OK); /* runs add up */
    assert_int_equal(recur_trainer_step(tb), 10);
    assert_memory_equal(b.losses, a.losses, sizeof(float) * 10);
    if (recur_trainer_save(tb, tmp_path("b.ckpt")) != RECUR_OK) fail_msg("%s", recur_trainer_errmsg(tb));
    recur_trainer_free(tb);
    recur_graph_free(mb.g);

    /* A fresh process, in effect: new graph with other weights, new trainer, load, 10 more steps. */
    model mc = make_model(99, H);
    recur_trainer_opts oc = test_opts(&c);
    recur_trainer *tc = make_trainer(&mc, &c, &oc);
    assert_int_not_equal(memcmp(recur_param_data(mc.g, mc.params[0]), recur_param_data(ma.g, ma.params[0]), 4 * H * I),
                         0);
    if (recur_trainer_load(tc, tmp_path("b.ckpt")) != RECUR_OK) fail_msg("%s", recur_trainer_errmsg(tc));
    assert_int_equal(c.loaded_seed, 1234);
    assert_int_equal(recur_trainer_step(tc), 10);
    assert_int_equal(recur_optim_steps(recur_trainer_optim(tc)), 10);
    /* After 10 steps the STEP schedule has decayed three times: 0.05 * 0.7^3. */
    assert_true(fabs(recur_optim_lr(recur_trainer_optim(tc)) - 0.05 * 0.343) < 1e-12);
    assert_int_equal(recur_trainer_run(tc, 10), RECUR_OK);
    assert_int_equal(recur_trainer_step(tc), 20);
    assert_memory_equal(c.losses + 10, a.losses + 10, sizeof(float) * 10);
    int64_t n;
    float *want = snapshot(&ma, &n);
    assert_params_equal(&mc, want);
    free(want);

    /*
     * The oracle can fail: the same checkpoint with Adam's moments zeroed
     * gives step 11's loss (the weights alone decide it) but not the later ones.
     */
    ctx d;
    init_ctx(&d);
    model md = make_model(99, H);
    recur_trainer_opts od = test_opts(&d);
    recur_trainer *td = make_trainer(&md, &d, &od);
    recur_ckpt *ck = NULL;
    assert_int_equal(recur_ckpt_load(tmp_path("b.ckpt"), &ck), RECUR_OK);
    int zeroed = 0;
    for (int i = 0; i < recur_ckpt_count(ck); i++) {
        recur_ckpt_tensor x = recur_ckpt_at(ck, i);
        if (strncmp(x.name, "adam.", 5) != 0) continue;
        float *z = calloc((size_t)recur_shape_numel(x.shape), sizeof(float));
        assert_int_equal(recur_ckpt_set_tensor(ck, x.name, x.shape, z), RECUR_OK);
        free(z);
        zeroed++;
    }
    assert_int_equal(zeroed, 2 * ma.np);
    assert_int_equal(recur_trainer_restore(td, ck), RECUR_OK);
    recur_ckpt_free(ck);
    assert_int_equal(recur_trainer_run(td, 10), RECUR_OK);
    assert_memory_equal(&d.losses[10], &a.losses[10], sizeof(float));
    for (int s = 11; s < 20; s++) assert_memory_not_equal(&d.losses[s], &a.losses[s], sizeof(float));

    recur_trainer_free(ta), recur_trainer_free(tc), recur_trainer_free(td);
    recur_graph_free(ma.g), recur_graph_free(mc.g), recur_graph_free(md.g);
}

/* Restores that must fail, each leaving the weights, the step count and the lr as they were. */
static void test_restore_failures_change_nothing(void **state)
{
    (void)state;
    ctx a, b, s;
    init_ctx(&a), init_ctx(&b), init_ctx(&s);
    model ma = make_model(3, H);
    recur_trainer_opts oa = test_opts(&a);
    recur_trainer *ta = make_trainer(&ma, &a, &oa);
    assert_int_equal(recur_trainer_run(ta, 4), RECUR_OK);
    assert_int_equal(recur_trainer_save(ta, tmp_path("a.ckpt")), RECUR_OK);

    /* The target: another model, trained 2 steps. */
    model mb = make_model(5, H);
    recur_trainer_opts ob = test_opts(&b);
    recur_trainer *tb = make_trainer(&mb, &b, &ob);
    assert_int_equal(recur_trainer_run(tb, 2), RECUR_OK);
    int64_t n;
    float *before = snapshot(&mb, &n);
    double lr = recur_optim_lr(recur_trainer_optim(tb));
    recur_optim_tensor m0;
    assert_int_equal(recur_optim_state(recur_trainer_optim(tb), 0, &m0), RECUR_OK);
    float m0_before = m0.data[0];

#define ASSERT_UNCHANGED()                                                                                             \
    do {                                                                                                               \
        assert_params_equal(&mb, before);                                                                              \
        assert_int_equal(recur_trainer_step(tb), 2);                                                                   \
        assert_true(recur_optim_lr(recur_trainer_optim(tb)) == lr);                                                    \
        assert_true(m0.data[0] == m0_before);                                                                          \
    } while (0)

    /* 1. the load callback refuses (after every check passed). */
    b.fail_load = 1;
    assert_int_equal(recur_trainer_load(tb, tmp_path("a.ckpt")), RECUR_ERR_FORMAT);
    assert_non_null(strstr(recur_trainer_errmsg(tb), "data.seed does not fit this data"));
    ASSERT_UNCHANGED();
    b.fail_load = 0;

    /* 2. an optimizer state tensor missing. */
    recur_ckpt *ck = NULL;
    assert_int_equal(recur_ckpt_load(tmp_path("a.ckpt"), &ck), RECUR_OK);
    recur_ckpt *partial = recur_ckpt_new();
    for (int i = 0; i < recur_ckpt_count(ck); i++) {
        recur_ckpt_tensor x = recur_ckpt_at(ck, i);
        if (strcmp(x.name, "adam.v/head.bias") != 0)
            assert_int_equal(recur_ckpt_set_tensor(partial, x.name, x.shape, x.data), RECUR_OK);
    }
    for (int i = 0; i < recur_ckpt_meta_count(ck); i++) {
        recur_ckpt_meta e = recur_ckpt_meta_at(ck, i);
        if (e.type == RECUR_META_INT) recur_ckpt_set_int(partial, e.key, e.i);
        if (e.type == RECUR_META_FLOAT) recur_ckpt_set_float(partial, e.key, e.f);
        if (e.type == RECUR_META_STR) recur_ckpt_set_str(partial, e.key, e.s);
    }
    assert_int_equal(recur_trainer_restore(tb, partial), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_trainer_errmsg(tb), "optimizer state \"adam.v/head.bias\""));
    ASSERT_UNCHANGED();

    /* 3. metadata missing or wrong. */
    recur_ckpt_set_tensor(partial, "adam.v/head.bias", recur_shape1(1), (float[]){0});
    recur_ckpt_set_int(partial, "trainer.step", -3);
    assert_int_equal(recur_trainer_restore(tb, partial), RECUR_ERR_FORMAT);
    assert_non_null(strstr(recur_trainer_errmsg(tb), "trainer.step = -3"));
    ASSERT_UNCHANGED();
    recur_ckpt_set_int(partial, "trainer.step", 4);
    recur_ckpt_set_str(partial, "trainer.optim", "sgd");
    assert_int_equal(recur_trainer_restore(tb, partial), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_trainer_errmsg(tb), "optimizer is sgd"));
    ASSERT_UNCHANGED();
    recur_ckpt_free(partial);
    recur_ckpt_free(ck);

    /* 4. a model of another size: a shape mismatch naming the parameter and both shapes. */
    model mc = make_model(5, H + 1);
    ctx c;
    init_ctx(&c);
    recur_trainer_opts oc = test_opts(&c);
    recur_trainer *tc = make_trainer(&mc, &c, &oc);
    assert_int_equal(recur_trainer_save(tc, tmp_path("b.ckpt")), RECUR_OK);
    assert_int_equal(recur_trainer_load(tb, tmp_path("b.ckpt")), RECUR_ERR_SHAPE);
    assert_non_null(strstr(recur_trainer_errmsg(tb), "\"lstm.weight_ih_l0\" is [16, 2] in the checkpoint but [12, 2]"));
    ASSERT_UNCHANGED();

    /* 5. a corrupt file: the checkpoint's own message, naming the file. */
    FILE *f = fopen(tmp_path("b.ckpt"), "r+b");
    assert_non_null(f);
    fseek(f, 30, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    assert_int_equal(recur_trainer_load(tb, tmp_path("b.ckpt")), RECUR_ERR_FORMAT);
    assert_non_null(strstr(recur_trainer_errmsg(tb), "b.ckpt"));
    ASSERT_UNCHANGED();
    assert_int_equal(recur_trainer_load(tb, tmp_path("missing.ckpt")), RECUR_ERR_IO);
    ASSERT_UNCHANGED();

    /* 6. a checkpoint of an SGD trainer (no state tensors) into this Adam one. */
    model ms = make_model(5, H);
    recur_trainer_opts os = test_opts(&s);
    os.optim = recur_optim_defaults(RECUR_OPTIM_SGD);
    recur_trainer *ts = make_trainer(&ms, &s, &os);
    assert_int_equal(recur_trainer_save(ts, tmp_path("sgd.ckpt")), RECUR_OK);
    assert_int_not_equal(recur_trainer_load(tb, tmp_path("sgd.ckpt")), RECUR_OK);
    assert_non_null(strstr(recur_trainer_errmsg(tb), "adam.m/"));
    ASSERT_UNCHANGED();

    /* And the good one works. */
    assert_int_equal(recur_trainer_load(tb, tmp_path("a.ckpt")), RECUR_OK);
    assert_int_equal(recur_trainer_step(tb), 4);
    float *want = snapshot(&ma, &n);
    assert_params_equal(&mb, want);
    free(want);
#undef ASSERT_UNCHANGED
    free(before);
    recur_trainer_free(ta), recur_trainer_free(tb), recur_trainer_free(tc), recur_trainer_free(ts);
    recur_graph_free(ma.g), recur_graph_free(mb.g), recur_graph_free(mc.g), recur_graph_free(ms.g);
}

/* --------------------------------------------------------------- progress */

static double eval_value(int64_t step) { return 1.0 / (double)(step + 1); }

static recur_status eval_cb(void *user, recur_trainer *t, int64_t step, double *loss)
{
    (void)user, (void)t;
    *loss = eval_value(step);
    return RECUR_OK;
}

/* Plain progress lines into a file, read back and compared with numbers computed here. */
static void test_progress_plain_lines(void **state)
{
    (void)state;
    ctx c;
    init_ctx(&c);
    model m = make_model(7, H);
    recur_trainer_opts o = test_opts(&c);
    FILE *f = tmpfile();
    assert_non_null(f);
    o.progress = RECUR_PROGRESS_PLAIN;
    o.progress_file = f;
    o.progress_every = 4;
    o.steps_per_epoch = 3;
    o.tokens_per_step = 2000;
    o.mean_window = 3;
    o.eval = eval_cb;
    o.eval_every = 5;
    recur_trainer *t = make_trainer(&m, &c, &o);
    assert_int_equal(recur_trainer_run(t, 10), RECUR_OK);
    assert_true(recur_trainer_eval_loss(t) == eval_value(10));
    /* Expected: progress at steps 4, 8 and 10 (the end), evaluations after steps 5 and 10, in order. */
    rewind(f);
    char line[512];
    int64_t want_steps[] = {4, -5, 8, -10, 10};
    for (int k = 0; k < 5; k++) {
        assert_non_null(fgets(line, sizeof line, f));
        int64_t s = want_steps[k];
        char want[256];
        if (s < 0) {
            snprintf(want, sizeof want, "step %lld/10  eval loss %.4g\n", (long long)-s, eval_value(-s));
            assert_string_equal(line, want);
            continue;
        }
        /* epoch of step s: 1 + (s - 1) / 3; mean of the last 3 losses */
        double mean = ((double)c.losses[s - 1] + c.losses[s - 2] + c.losses[s - 3]) / 3;
        snprintf(want, sizeof want, "step %lld/10  epoch %lld  loss %.4g (mean %.4g)  ", (long long)s,
                 (long long)(1 + (s - 1) / 3), (double)c.losses[s - 1], mean);
        if (strncmp(line, want, strlen(want)) != 0) fail_msg("got  \"%s\"\nwant \"%s...\"", line, want);
        assert_non_null(strstr(line, " tok/s  "));
        assert_non_null(strstr(line, s < 10 ? "  ETA " : "  took "));
        assert_true(line[strlen(line) - 1] == '\n');
    }
    assert_null(fgets(line, sizeof line, f));
    fclose(f);

    /* The line itself, from chosen numbers: 340 of 1000 steps in 42.7575 s is 7.952 steps/s, ETA 83 s. */
    char buf[256], want[256];
    recur_trainer_progress_line(t, 340, 1000, 340, 340.0 * 83 / 660, buf, sizeof buf);
    snprintf(want, sizeof want, "step 340/1000  epoch 114  loss %.4g (mean %.4g)  15.9k tok/s  ETA 1m23s",
             (double)recur_trainer_loss(t), recur_trainer_mean_loss(t));
    assert_string_equal(buf, want);
    recur_trainer_free(t);

    /* Without epochs and tokens: steps/s; hours in the ETA; nothing but the step before any loss. */
    ctx c2;
    init_ctx(&c2);
    recur_trainer_opts o2 = test_opts(&c2);
    recur_trainer *t2 = make_trainer(&m, &c2, &o2);
    recur_trainer_progress_line(t2, 1, 7501, 1, 1.0, buf, sizeof buf);
    assert_string_equal(buf, "step 1/7501  1 steps/s  ETA 2h05m");
    recur_trainer_progress_line(t2, 0, 10, 0, 0, buf, sizeof buf);
    assert_string_equal(buf, "step 0/10");
    recur_trainer_progress_line(t2, 5, 10, 5, 0.004, buf, sizeof buf);
    assert_string_equal(buf, "step 5/10  1.25k steps/s  ETA 0s");
    recur_trainer_free(t2);
    recur_graph_free(m.g);
}

/* ---------------------------------------------------------------- errors */

static void test_feed_errors_propagate(void **state)
{
    (void)state;
    const char *want[3] = {"step 3: the feed callback: ", "step 3: the feed callback: batch file is gone (seed 77)",
                           "step 3: the feed callback returned "};
    recur_status code[3] = {RECUR_ERR_FEED, RECUR_ERR_IO, RECUR_ERR_IO};
    for (int mode = 0; mode < 3; mode++) {
        ctx c;
        init_ctx(&c);
        c.fail_feed_at = 2;
        c.fail_mode = mode;
        c.data_seed = 77;
        model m = make_model(7, H);
        recur_trainer_opts o = test_opts(&c);
        recur_trainer *t = make_trainer(&m, &c, &o);
        assert_int_equal(recur_trainer_run(t, 2), RECUR_OK);
        int64_t n;
        float *before = snapshot(&m, &n);
        assert_int_equal(recur_trainer_run(t, 5), code[mode]);
        assert_int_equal(recur_trainer_errcode(t), code[mode]);
        const char *msg = recur_trainer_errmsg(t);
        if (strncmp(msg, want[mode], strlen(want[mode])) != 0) fail_msg("mode %d: \"%s\"", mode, msg);
        if (mode == 0) assert_non_null(strstr(msg, "xs")); /* the plan's message names the input */
        assert_int_equal(recur_trainer_step(t), 2);
        assert_params_equal(&m, before);
        free(before);
        recur_trainer_free(t);
        recur_graph_free(m.g);
    }
}

/* A NaN in the data: the loss is NaN at step 4; with check_finite the message names the op. */
static void test_nan_loss_stops(void **state)
{
    (void)state;
    for (int check = 0; check < 2; check++) {
        ctx c;
        init_ctx(&c);
        c.nan_at = 3;
        model m = make_model(7, H);
        recur_trainer_opts o = test_opts(&c);
        o.compile.check_finite = check;
        recur_trainer *t = make_trainer(&m, &c, &o);
        assert_int_equal(recur_trainer_run(t, 3), RECUR_OK);
        int64_t n;
        float *before = snapshot(&m, &n);
        assert_int_equal(recur_trainer_run(t, 10), RECUR_ERR_RUNTIME);
        const char *msg = recur_trainer_errmsg(t);
        assert_non_null(strstr(msg, "step 4: "));
        if (check) { /* the NaN was fed: check_finite names the input, not the first op reading it */
            assert_non_null(strstr(msg, "input \"xs\""));
            assert_non_null(strstr(msg, "holds nan at element 5"));
        } else {
            assert_non_null(strstr(msg, "is NaN"));
            assert_non_null(strstr(msg, "check_finite"));
        }
        assert_int_equal(recur_trainer_step(t), 3);
        assert_params_equal(&m, before);
        free(before);
        /* The batch of step 4 is still NaN: a second run fails the same way; the trainer stays usable. */
        assert_int_equal(recur_trainer_run(t, 1), RECUR_ERR_RUNTIME);
        recur_trainer_free(t);
        recur_graph_free(m.g);
    }
}

/* ------------------------------------------------- against a hand loop */

/* The trainer's steps are exactly plan + optimizer steps written out by hand; stop works; bad options fail. */
static void test_matches_hand_loop_and_options(void **state)
{
    (void)state;
    ctx c;
    init_ctx(&c);
    c.stop_at = 6;
    model m = make_model(21, H), h = make_model(21, H);
    recur_trainer_opts o = test_opts(&c);
    recur_trainer *t = make_trainer(&m, &c, &o);
    assert_int_equal(recur_trainer_run(t, 100), RECUR_OK); /* stopped after step 6 */
    assert_int_equal(recur_trainer_step(t), 6);

    recur_value grads[8], outs[9] = {h.loss};
    TU_ST(h.g, recur_grad(h.g, h.loss, h.np, h.params, grads));
    memcpy(outs + 1, grads, sizeof grads[0] * (size_t)h.np);
    recur_plan *p = recur_compile(h.g, h.np + 1, outs, NULL);
    recur_optim *opt = recur_optim_new(h.g, &o.optim, h.np, h.params);
    assert_non_null(p), assert_non_null(opt);
    for (int s = 0; s < 6; s++) {
        float x[T * B * I], y[B], l;
        batch_of(s, x, y);
        recur_plan_feed(p, h.xs, x, T * B * I);
        recur_plan_feed(p, h.ys, y, B);
        assert_int_equal(recur_plan_run(p), RECUR_OK);
        recur_plan_fetch(p, h.loss, &l, 1);
        assert_memory_equal(&l, &c.losses[s], sizeof l);
        assert_int_equal(recur_optim_step_plan(opt, p, grads), RECUR_OK);
    }
    int64_t n;
    float *want = snapshot(&h, &n);
    assert_params_equal(&m, want);
    free(want);
    /* The running mean: the losses of steps 1..6 (the window of 100 holds them all). */
    double mean = 0;
    for (int s = 0; s < 6; s++) mean += c.losses[s];
    assert_true(fabs(recur_trainer_mean_loss(t) - mean / 6) < 1e-6);
    assert_memory_equal(&(float){recur_trainer_loss(t)}, &c.losses[5], sizeof(float));
    recur_optim_free(opt);
    recur_plan_free(p);
    recur_trainer_free(t);

    /* Bad options and models fail with the reason on the graph. */
    recur_trainer_opts bad = test_opts(&c);
    bad.progress_every = -1;
    assert_null(recur_trainer_new(m.g, m.loss, m.np, m.params, &bad));
    assert_non_null(strstr(recur_errmsg(m.g), "progress_every = -1"));
    bad = test_opts(&c);
    bad.optim.beta2 = 1;
    assert_null(recur_trainer_new(m.g, m.loss, m.np, m.params, &bad));
    assert_non_null(strstr(recur_errmsg(m.g), "trainer_new: making the optimizer: "));
    assert_non_null(strstr(recur_errmsg(m.g), "beta2"));
    recur_value not_scalar = m.xs;
    assert_null(recur_trainer_new(m.g, not_scalar, m.np, m.params, NULL));
    assert_non_null(strstr(recur_errmsg(m.g), "trainer_new: "));
    assert_null(recur_trainer_new(m.g, m.loss, 0, m.params, NULL));
    assert_int_equal(recur_errcode(m.g), RECUR_ERR_ARG);
    recur_graph_free(m.g);
    recur_graph_free(h.g);

    /* A loop never unrolled: refused, with a message that says to unroll. */
    recur_graph *g = recur_graph_new(1);
    recur_value xs = recur_input(g, "xs", recur_shape3(T, B, I));
    recur_rnn rnn;
    recur_rnn_opts ro = {.kind = RECUR_RNN_TANH, .input_size = I, .hidden = H};
    TU_ST(g, recur_rnn_new(g, "rnn", &ro, xs, RECUR_NONE, RECUR_NONE, &rnn));
    recur_value loss = recur_sum(g, rnn.outputs);
    recur_value ps[4];
    int np = recur_params(g, ps, 4);
    assert_null(recur_trainer_new(g, loss, np, ps, NULL));
    assert_non_null(strstr(recur_errmsg(g), "recur_unroll"));
    recur_graph_free(g);
}

/*
 * With dropout, a resumed run draws the masks the uninterrupted run drew
 * (the training plan's run count is in the checkpoint): steps 11..20 lose
 * bit for bit the same. The masks do matter: the first 10 steps of a
 * model without dropout lose otherwise.
 */
static void test_resume_with_dropout(void **state)
{
    (void)state;
    ctx a, b, c, d;
    init_ctx(&a), init_ctx(&b), init_ctx(&c), init_ctx(&d);
    model ma = make_model_dropout(11, H, 0.3f), mb = make_model_dropout(11, H, 0.3f), md = make_model(11, H);
    recur_trainer_opts oa = test_opts(&a), ob = test_opts(&b), od = test_opts(&d);
    recur_trainer *ta = make_trainer(&ma, &a, &oa), *tb = make_trainer(&mb, &b, &ob), *td = make_trainer(&md, &d, &od);
    assert_int_equal(recur_trainer_run(ta, 20), RECUR_OK);
    assert_int_equal(recur_trainer_run(td, 10), RECUR_OK);
    assert_int_not_equal(memcmp(a.losses, d.losses, sizeof(float) * 10), 0);
    assert_int_equal(recur_trainer_run(tb, 10), RECUR_OK);
    if (recur_trainer_save(tb, tmp_path("b.ckpt")) != RECUR_OK) fail_msg("%s", recur_trainer_errmsg(tb));
    model mc = make_model_dropout(99, H, 0.3f);
    recur_trainer_opts oc = test_opts(&c);
    recur_trainer *tc = make_trainer(&mc, &c, &oc);
    if (recur_trainer_load(tc, tmp_path("b.ckpt")) != RECUR_OK) fail_msg("%s", recur_trainer_errmsg(tc));
    assert_int_equal(recur_plan_runs(recur_trainer_plan(tc)), recur_plan_runs(recur_trainer_plan(tb)));
    assert_int_equal(recur_trainer_run(tc, 10), RECUR_OK);
    assert_memory_equal(c.losses + 10, a.losses + 10, sizeof(float) * 10);
    recur_trainer_free(ta), recur_trainer_free(tb), recur_trainer_free(tc), recur_trainer_free(td);
    recur_graph_free(ma.g), recur_graph_free(mb.g), recur_graph_free(mc.g), recur_graph_free(md.g);
}

/* ------------------------------------------------- one model, many shapes */

/* The model of these tests as a recur_model builder: inputs xs [T, B, I], ys [B, 1]; output the loss and the prediction. */
static recur_status build_lstm_head(recur_graph *g, void *user, const recur_value *in, recur_value *out)
{
    (void)user;
    recur_rnn rnn;
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = I, .hidden = H};
    recur_status st = recur_rnn_new(g, "lstm", &o, in[0], RECUR_NONE, RECUR_NONE, &rnn);
    if (st != RECUR_OK) return st;
    out[1] = recur_dense(g, "head", recur_last_step(g, rnn.outputs), 1, 1);
    out[0] = recur_mse(g, out[1], in[1]);
    return recur_ok(out[0]) ? RECUR_OK : recur_errcode(g);
}

static const char *const io_names[2] = {"xs", "ys"};
static const recur_model lstm_head = {.build = build_lstm_head, .n_inputs = 2, .n_outputs = 2, .input_names = io_names};

/* Evaluates instance outputs out[0..1] of g on data x (tt x bb x I), y (bb) into loss, pred (bb floats). */
static void run_instance(recur_graph *g, const recur_value *in, const recur_value *out, int64_t tt, int64_t bb,
                         const float *x, const float *y, float *loss, float *pred)
{
    recur_plan *p = recur_compile(g, 2, out, &(recur_compile_opts){.inference = 1});
    if (!p) fail_msg("%s", recur_errmsg(g));
    assert_int_equal(recur_plan_feed(p, in[0], x, tt * bb * I), RECUR_OK);
    assert_int_equal(recur_plan_feed(p, in[1], y, bb), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    assert_int_equal(recur_plan_fetch(p, out[0], loss, 1), RECUR_OK);
    assert_int_equal(recur_plan_fetch(p, out[1], pred, bb), RECUR_OK);
    recur_plan_free(p);
}

/*
 * An instance over another batch and length shares the parameters (no new
 * ones) and computes what a graph built directly for those shapes computes
 * with the same weights; a prefix already used is an error that leaves the
 * graph as it was.
 */
static void test_model_instances(void **state)
{
    (void)state;
    enum { T2 = 7, B2 = 5 };
    recur_graph *g = recur_graph_new(3);
    recur_value in[2], out[2], ein[2], eout[2];
    TU_ST(g, recur_model_instance(g, &lstm_head, "train.", (recur_shape[]){recur_shape3(T, B, I), recur_shape2(B, 1)},
                                  in, out));
    recur_value params[8];
    int np = recur_params(g, params, 8);
    TU_ST(g, recur_model_instance(g, &lstm_head, "eval.", (recur_shape[]){recur_shape3(T2, B2, I), recur_shape2(B2, 1)},
                                  ein, eout));
    assert_int_equal(recur_params(g, params, 8), np);
    assert_string_equal(recur_value_name(g, ein[0]), "eval.xs");
    int size = recur_graph_size(g);
    recur_value bad[2], bout[2];
    assert_int_equal(recur_model_instance(g, &lstm_head, "eval.", (recur_shape[]){recur_shape3(2, 2, I), recur_shape2(2, 1)},
                                          bad, bout),
                     RECUR_ERR_ARG);
    assert_non_null(strstr(recur_errmsg(g), "\"eval.xs\" exists already"));
    assert_int_equal(recur_graph_size(g), size);
    /* A shape the layers refuse names the instance; nothing is left behind. */
    assert_int_equal(recur_model_instance(g, &lstm_head, "odd.", (recur_shape[]){recur_shape3(2, 2, I + 1), recur_shape2(2, 1)},
                                          bad, bout),
                     RECUR_ERR_SHAPE);
    assert_non_null(strstr(recur_errmsg(g), "model_instance \"odd.\""));
    assert_int_equal(recur_graph_size(g), size);

    /* The same weights in a graph built for T2 x B2 directly. */
    recur_graph *h = recur_graph_new(99);
    recur_value hin[2], hout[2];
    TU_ST(h, recur_model_instance(h, &lstm_head, "", (recur_shape[]){recur_shape3(T2, B2, I), recur_shape2(B2, 1)}, hin,
                                  hout));
    recur_value hp[8];
    assert_int_equal(recur_params(h, hp, 8), np);
    for (int i = 0; i < np; i++) {
        recur_value src = recur_find(g, recur_value_name(h, hp[i]));
        TU_OK(g, src);
        TU_ST(h, recur_param_set(h, hp[i], recur_param_data(g, src), recur_shape_numel(recur_value_shape(h, hp[i]))));
    }
    float x[T2 * B2 * I], y[B2], l1, l2, p1[B2], p2[B2];
    tu_fill_uniform(x, T2 * B2 * I, -1, 1, 8);
    tu_fill_uniform(y, B2, -1, 1, 9);
    run_instance(g, ein, eout, T2, B2, x, y, &l1, p1);
    run_instance(h, hin, hout, T2, B2, x, y, &l2, p2);
    tu_assert_close(p1, p2, B2, 1e-6, 1e-7);
    tu_assert_close(&l1, &l2, 1, 1e-6, 1e-7);
    recur_graph_free(h);
    recur_graph_free(g);
}

/* Feeds evaluation batch k of the instance built by the trainer. */
static recur_status eval_feed(void *user, int64_t k, recur_plan *plan)
{
    (void)user;
    float x[6 * 4 * I], y[4];
    for (int i = 0; i < 6 * 4 * I; i++) x[i] = (float)sin(0.21 * i + (double)k);
    for (int b = 0; b < 4; b++) y[b] = (float)cos(0.7 * b - (double)k);
    recur_status st = recur_plan_feed_name(plan, "eval.xs", x, 6 * 4 * I);
    return st == RECUR_OK ? recur_plan_feed_name(plan, "eval.ys", y, 4) : st;
}

/*
 * The trainer evaluates on an instance of the model over other shapes
 * itself (eval_model): its eval loss is the mean of the batches' losses,
 * as computed here through an instance of our own with the trained weights.
 */
static void test_trainer_evaluates_model(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(4);
    recur_value in[2], out[2];
    TU_ST(g, recur_model_instance(g, &lstm_head, "", (recur_shape[]){recur_shape3(T, B, I), recur_shape2(B, 1)}, in, out));
    recur_value params[8];
    int np = recur_params(g, params, 8);
    recur_trainer_opts o = recur_trainer_defaults();
    o.progress = RECUR_PROGRESS_OFF;
    o.eval_model = &lstm_head;
    o.eval_shapes = (recur_shape[]){recur_shape3(6, 4, I), recur_shape2(4, 1)};
    o.eval_feed = eval_feed;
    o.eval_batches = 3;
    o.eval_every = 2;
    recur_trainer *t = recur_trainer_new(g, out[0], np, params, &o);
    if (!t) fail_msg("%s", recur_errmsg(g));
    float x[T * B * I], y[B];
    batch_of(0, x, y);
    assert_int_equal(recur_plan_feed(recur_trainer_plan(t), in[0], x, T * B * I), RECUR_OK);
    assert_int_equal(recur_plan_feed(recur_trainer_plan(t), in[1], y, B), RECUR_OK);
    assert_true(isnan(recur_trainer_eval_loss(t)));
    assert_int_equal(recur_trainer_run(t, 4), RECUR_OK);
    double got = recur_trainer_eval_loss(t), want = 0;
    recur_value ein[2], eout[2];
    TU_ST(g, recur_model_instance(g, &lstm_head, "check.", o.eval_shapes, ein, eout));
    for (int k = 0; k < 3; k++) {
        float ex[6 * 4 * I], ey[4], l, pred[4];
        for (int i = 0; i < 6 * 4 * I; i++) ex[i] = (float)sin(0.21 * i + (double)k);
        for (int b = 0; b < 4; b++) ey[b] = (float)cos(0.7 * b - (double)k);
        run_instance(g, ein, eout, 6, 4, ex, ey, &l, pred);
        want += l / 3.0;
    }
    assert_true(fabs(got - want) <= 1e-6 * fabs(want) + 1e-9);
    recur_trainer_free(t);
    /* Options an evaluation model needs. */
    o.eval_feed = NULL;
    assert_null(recur_trainer_new(g, out[0], np, params, &o));
    assert_non_null(strstr(recur_errmsg(g), "eval_model needs"));
    recur_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_reproduces_losses),
        cmocka_unit_test(test_resume_with_dropout),
        cmocka_unit_test(test_restore_failures_change_nothing),
        cmocka_unit_test(test_progress_plain_lines),
        cmocka_unit_test(test_feed_errors_propagate),
        cmocka_unit_test(test_nan_loss_stops),
        cmocka_unit_test(test_matches_hand_loop_and_options),
        cmocka_unit_test(test_model_instances),
        cmocka_unit_test(test_trainer_evaluates_model),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
