/*
 * tests/test_cli.c — the recur command-line tool, run as a separate
 * process (its path comes from RECUR_CLI): help and exit codes, clear
 * usage errors, training a tiny model into a checkpoint, info listing the
 * parameters (counted here from the model's sizes), generation that writes
 * exactly the symbols asked for and only symbols of the training text,
 * a resumed run that ends bitwise where an uninterrupted one does, clean
 * failures on missing and truncated files, and diagrams.
 */
#include "test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char tmpdir[64];

enum { HIDDEN = 16 };

/* ------------------------------------------------------------ processes */

typedef struct result {
    int code;  /* the exit status */
    char *out; /* stdout, NUL-terminated */
    char *err; /* stderr */
} result;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    if (len) *len = (size_t)n;
    return s;
}

/* A path in the test's directory, in one of 16 static buffers used in turn. */
static const char *tmp(const char *name)
{
    static char buf[16][256];
    static int k;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* Runs the tool with args (NULL-terminated), stdout and stderr captured; fails the test if it crashed. */
static result run(const char *const *args)
{
    const char *cli = getenv("RECUR_CLI");
    assert_non_null(cli);
    const char *argv[32] = {cli};
    int n = 1;
    for (; args[n - 1]; n++) argv[n] = args[n - 1];
    argv[n] = NULL;
    char out_path[128], err_path[128];
    snprintf(out_path, sizeof out_path, "%s/stdout", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/stderr", tmpdir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, cli, &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status)) fail_msg("recur %s was killed by signal %d", args[0], WTERMSIG(status));
    result r = {WEXITSTATUS(status), slurp(out_path, NULL), slurp(err_path, NULL)};
    return r;
}

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
}

/* Asserts the exit code, printing what the tool said when it differs. */
static void expect_code(const result *r, int code)
{
    if (r->code != code)
        fail_msg("exit code %d, expected %d\nstdout:\n%s\nstderr:\n%s", r->code, code, r->out, r->err);
}

static void expect_in(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle)) fail_msg("\"%s\" not found in:\n%s", needle, haystack);
}

/* ---------------------------------------------------------------- data */

/* The training text: ASCII and one two-byte symbol, é (U+00E9). */
static const char *text_path(void)
{
    const char *path = tmp("tiny.txt");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 40; i++) fprintf(f, "the quick brown fox jumps over the lazy dog, caf\xc3\xa9 %d.\n", i % 7);
    fclose(f);
    return path;
}

/* Decodes one UTF-8 code point at *s (valid input assumed: the tool's own output), advancing s. */
static uint32_t next_cp(const unsigned char **s)
{
    const unsigned char *p = *s;
    uint32_t cp;
    int n;
    if (p[0] < 0x80) cp = p[0], n = 1;
    else if (p[0] < 0xE0) cp = p[0] & 0x1F, n = 2;
    else if (p[0] < 0xF0) cp = p[0] & 0x0F, n = 3;
    else cp = p[0] & 0x07, n = 4;
    for (int k = 1; k < n; k++) cp = cp << 6 | (p[k] & 0x3F);
    *s = p + n;
    return cp;
}

/* The distinct code points of the text file, in set[0..return). */
static int text_symbols(const char *path, uint32_t *set, int cap)
{
    char *s = slurp(path, NULL);
    const unsigned char *p = (const unsigned char *)s;
    int n = 0;
    while (*p) {
        uint32_t cp = next_cp(&p);
        int seen = 0;
        for (int i = 0; i < n; i++) seen |= set[i] == cp;
        if (!seen) {
            assert_true(n < cap);
            set[n++] = cp;
        }
    }
    free(s);
    return n;
}

/* Trains the tiny model for `steps` steps into `ckpt`, with extra arguments (NULL-terminated). */
static result train(const char *ckpt, const char *steps, const char *extra0, const char *extra1)
{
    const char *args[] = {"train", text_path(), "--hidden", "16", "--window", "8", "--batch", "4", "--steps", steps,
                          "--sample-length", "12", "-o", ckpt, extra0, extra1, NULL};
    return run(args);
}

/* --------------------------------------------------------------- tests */

static void test_help_lists_commands(void **state)
{
    (void)state;
    result r = run((const char *[]){"--help", NULL});
    expect_code(&r, 0);
    expect_in(r.out, "usage: recur <command>");
    for (int i = 0; i < 4; i++) expect_in(r.out, (const char *[]){"  train ", "  generate ", "  info ", "  draw "}[i]);
    result_free(&r);
    const char *cmds[] = {"train", "generate", "info", "draw"};
    for (int i = 0; i < 4; i++) {
        r = run((const char *[]){cmds[i], "--help", NULL});
        expect_code(&r, 0);
        char want[64];
        snprintf(want, sizeof want, "usage: recur %s", cmds[i]);
        expect_in(r.out, want);
        expect_in(r.out, "-h, --help");
        result_free(&r);
    }
    r = run((const char *[]){NULL}); /* no command at all: the usage, on stderr, as an error */
    expect_code(&r, 2);
    expect_in(r.err, "usage: recur <command>");
    result_free(&r);
}

static void test_usage_errors_exit_2(void **state)
{
    (void)state;
    const char *tiny = text_path();
    struct {
        const char *args[8];
        const char *says;
    } cases[] = {
        {{"frobnicate", NULL}, "unknown command 'frobnicate'"},
        {{"--bogus", NULL}, "unknown option '--bogus'"},
        {{"train", NULL}, "missing argument"},
        {{"train", tiny, "--bogus", NULL}, "unknown option '--bogus'"},
        {{"train", tiny, "--hidden", "abc", NULL}, "--hidden: 'abc' is not a whole number"},
        {{"train", tiny, "--hidden", "0", NULL}, "--hidden must be between 1 and 4096, got 0"},
        {{"train", tiny, "--hidden=12x", NULL}, "'12x' is not a whole number"},
        {{"train", tiny, "--lr", "nan", NULL}, "--lr: 'nan' is not a finite number"},
        {{"train", tiny, "--window", NULL}, "--window needs a value"},
        {{"train", tiny, "--cell", "tree", NULL}, "--cell: 'tree' is not lstm, gru or rnn"},
        {{"train", tiny, "--backend", "abacus", NULL}, "no backend called 'abacus'"},
        {{"train", tiny, "extra", NULL}, "unexpected argument 'extra'"},
        {{"generate", "x.ckpt", "--temperature", "-1", NULL}, "--temperature must be between"},
        {{"info", NULL}, "missing argument"},
        {{"draw", "--view", "sideways", "-o", "x.dot", NULL}, "--view: 'sideways' is not rolled"},
        {{"draw", NULL}, "missing -o FILE"},
        {{"draw", "-o", "x.bmp", NULL}, "unknown extension \".bmp\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        result r = run(cases[i].args);
        expect_code(&r, 2);
        expect_in(r.err, cases[i].says);
        assert_string_equal(r.out, "");
        result_free(&r);
    }
}

static void test_missing_files_fail_with_1(void **state)
{
    (void)state;
    result r = run((const char *[]){"train", "/nonexistent/dir/text.txt", NULL});
    expect_code(&r, 1);
    expect_in(r.err, "/nonexistent/dir/text.txt");
    result_free(&r);
    r = run((const char *[]){"info", "/nonexistent.ckpt", NULL});
    expect_code(&r, 1);
    expect_in(r.err, "/nonexistent.ckpt");
    result_free(&r);
    r = run((const char *[]){"generate", "/nonexistent.ckpt", NULL});
    expect_code(&r, 1);
    result_free(&r);
    /* a text too short for one batch of windows */
    FILE *f = fopen(tmp("short.txt"), "w");
    fputs("abcabc", f);
    fclose(f);
    r = run((const char *[]){"train", tmp("short.txt"), NULL});
    expect_code(&r, 1);
    expect_in(r.err, "fewer than a batch");
    result_free(&r);
}

/* Trains, then checks the checkpoint through `info` against sizes computed here. */
static void test_train_then_info(void **state)
{
    (void)state;
    const char *ckpt = tmp("model.ckpt");
    result r = train(ckpt, "5", "--loss-csv", tmp("loss.csv"));
    expect_code(&r, 0);
    expect_in(r.out, "unigram entropy");
    expect_in(r.out, "samples after the last step (5)");
    expect_in(r.out, "saved ");
    result_free(&r);
    struct stat sb;
    assert_int_equal(stat(ckpt, &sb), 0);

    /* the loss file: a header and one line per step */
    char *csv = slurp(tmp("loss.csv"), NULL);
    int lines = 0;
    for (char *p = csv; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 6);
    assert_memory_equal(csv, "step,loss,test_loss\n1,", 22);
    free(csv);

    uint32_t set[128];
    const long long V = text_symbols(text_path(), set, 128), H = HIDDEN;
    r = run((const char *[]){"info", ckpt, NULL});
    expect_code(&r, 0);
    char want[128];
    expect_in(r.out, "lstm.weight_ih_l0");
    snprintf(want, sizeof want, "[%lld, %lld]", 4 * H, V);
    expect_in(r.out, want); /* weight_ih [4H, V] */
    snprintf(want, sizeof want, "[%lld, %lld]", 4 * H, H);
    expect_in(r.out, want); /* weight_hh [4H, H] */
    snprintf(want, sizeof want, "[%lld, %lld]", V, H);
    expect_in(r.out, want); /* out.weight [V, H] */
    long long params = 4 * H * V + 4 * H * H + 4 * H + 4 * H + V * H + V;
    snprintf(want, sizeof want, "parameters: %lld in 6 tensors", params);
    expect_in(r.out, want);
    snprintf(want, sizeof want, "optimizer state: %lld values in 12 tensors", 2 * params);
    expect_in(r.out, want);
    snprintf(want, sizeof want, "model.vocab_size         %lld", V);
    expect_in(r.out, want);
    expect_in(r.out, "trainer.step             5");
    /* the vocabulary: the text's symbols by increasing code point, "\n" escaped */
    for (int i = 1; i < V; i++)
        for (int j = i; j > 0 && set[j - 1] > set[j]; j--) {
            uint32_t c = set[j];
            set[j] = set[j - 1];
            set[j - 1] = c;
        }
    char vocab[256] = "model.vocab              \"";
    for (int i = 0; i < V; i++) {
        size_t at = strlen(vocab);
        if (set[i] == '\n') strcat(vocab, "\\n");
        else if (set[i] < 0x80) vocab[at] = (char)set[i], vocab[at + 1] = '\0';
        else /* two bytes of UTF-8: every symbol of the text is below U+0800 */
            vocab[at] = (char)(0xC0 | set[i] >> 6), vocab[at + 1] = (char)(0x80 | (set[i] & 0x3F)),
            vocab[at + 2] = '\0';
    }
    strcat(vocab, "\"\n");
    expect_in(r.out, vocab);
    result_free(&r);
}

/* Generation writes the prompt, then exactly n symbols, each one of the training text's. */
static void test_generate_uses_the_vocabulary(void **state)
{
    (void)state;
    const char *ckpt = tmp("gen.ckpt");
    result r = train(ckpt, "4", NULL, NULL);
    expect_code(&r, 0);
    result_free(&r);
    uint32_t set[128];
    int V = text_symbols(text_path(), set, 128);
    const char *temps[] = {"0", "1.5"};
    for (int k = 0; k < 2; k++) {
        r = run((const char *[]){"generate", ckpt, "-n", "300", "--prompt", "the caf\xc3\xa9", "--temperature",
                                 temps[k], "--seed", "7", NULL});
        expect_code(&r, 0);
        assert_memory_equal(r.out, "the caf\xc3\xa9", 9);
        const unsigned char *p = (const unsigned char *)r.out + 9;
        size_t len = strlen(r.out);
        assert_true(len > 9 && r.out[len - 1] == '\n');
        int count = 0;
        while (p < (const unsigned char *)r.out + len - 1) {
            uint32_t cp = next_cp(&p);
            int found = 0;
            for (int i = 0; i < V; i++) found |= set[i] == cp;
            if (!found) fail_msg("generated U+%04X, which the text does not have", (unsigned)cp);
            count++;
        }
        assert_int_equal(count, 300);
        /* the same seed gives the same text */
        result again = run((const char *[]){"generate", ckpt, "-n", "300", "--prompt", "the caf\xc3\xa9",
                                            "--temperature", temps[k], "--seed", "7", NULL});
        expect_code(&again, 0);
        assert_string_equal(again.out, r.out);
        result_free(&again);
        result_free(&r);
    }
    r = run((const char *[]){"generate", ckpt, "--prompt", "\xce\xa9", NULL}); /* Ω: not in the text */
    expect_code(&r, 1);
    expect_in(r.err, "U+03A9");
    result_free(&r);
}

/* The test loss `recur train` reports at its last step with batch size B, the weights kept at their start (lr 0). */
static double untrained_test_loss(const char *B)
{
    const char *args[] = {"train", text_path(), "--hidden", "16", "--window", "8", "--batch", B, "--steps", "1",
                          "--lr", "0", "--sample-length", "0", "-o", tmp("lr0.ckpt"), NULL};
    result r = run(args);
    expect_code(&r, 0);
    const char *at = strstr(r.out, ", test loss "); /* in the epoch's report */
    assert_non_null(at);
    double loss = strtod(at + strlen(", test loss "), NULL);
    result_free(&r);
    return loss;
}

/*
 * The test part's 26 windows (212 symbols, windows of 8 and the next
 * symbol) come in batches of B whose last one is padded and masked: the
 * mean loss must not depend on B. The initial weights do not depend on B
 * either, and lr 0 keeps them.
 */
static void test_test_loss_ignores_padding(void **state)
{
    (void)state;
    double one = untrained_test_loss("1"), four = untrained_test_loss("4"), seven = untrained_test_loss("7");
    assert_true(one > 1.0 && one < 10.0);
    assert_true(fabs(four - one) < 1e-4 * one);
    assert_true(fabs(seven - one) < 1e-4 * one);
}

/* Checkpoints a and b hold the same tensors, bit for bit. */
static void assert_same_tensors(const char *a, const char *b)
{
    recur_ckpt *ca = NULL, *cb = NULL;
    assert_int_equal(recur_ckpt_load(a, &ca), RECUR_OK);
    assert_int_equal(recur_ckpt_load(b, &cb), RECUR_OK);
    assert_int_equal(recur_ckpt_count(ca), recur_ckpt_count(cb));
    for (int i = 0; i < recur_ckpt_count(ca); i++) {
        recur_ckpt_tensor ta = recur_ckpt_at(ca, i);
        int j = recur_ckpt_find(cb, ta.name);
        assert_true(j >= 0);
        recur_ckpt_tensor tb = recur_ckpt_at(cb, j);
        assert_true(recur_shape_equal(ta.shape, tb.shape));
        if (memcmp(ta.data, tb.data, sizeof(float) * (size_t)recur_shape_numel(ta.shape)) != 0)
            fail_msg("tensor %s differs", ta.name);
    }
    recur_ckpt_free(ca);
    recur_ckpt_free(cb);
}

/* 3 steps, then --resume to 6, ends bitwise where 6 uninterrupted steps end. */
static void test_resume_matches_uninterrupted(void **state)
{
    (void)state;
    result r = train(tmp("straight.ckpt"), "6", NULL, NULL);
    expect_code(&r, 0);
    result_free(&r);
    r = train(tmp("resumed.ckpt"), "3", NULL, NULL);
    expect_code(&r, 0);
    result_free(&r);
    r = train(tmp("resumed.ckpt"), "6", "--resume", NULL);
    expect_code(&r, 0);
    expect_in(r.out, "resumed from");
    expect_in(r.out, "at step 3");
    result_free(&r);
    assert_same_tensors(tmp("straight.ckpt"), tmp("resumed.ckpt"));
    /* a model option that disagrees with the checkpoint is a usage error */
    const char *args[] = {"train", text_path(), "--hidden", "32", "--steps", "8", "-o", tmp("resumed.ckpt"),
                          "--resume", NULL};
    r = run(args);
    expect_code(&r, 2);
    expect_in(r.err, "--hidden 32 differs from the resumed checkpoint's 16");
    result_free(&r);
}

/*
 * A well-formed checkpoint whose metadata describes another model (here a
 * hidden size of 60000, which would be gigabytes of weights) is refused
 * before anything is built, naming the tensor that disagrees.
 */
static void test_metadata_must_match_tensors(void **state)
{
    (void)state;
    const char *ckpt = tmp("meta.ckpt");
    result r = train(ckpt, "1", NULL, NULL);
    expect_code(&r, 0);
    result_free(&r);
    recur_ckpt *ck = NULL;
    assert_int_equal(recur_ckpt_load(ckpt, &ck), RECUR_OK);
    assert_int_equal(recur_ckpt_set_int(ck, "model.hidden", 60000), RECUR_OK);
    assert_int_equal(recur_ckpt_save(ck, tmp("lying.ckpt")), RECUR_OK);
    recur_ckpt_free(ck);
    const char *const cmds[2][5] = {
        {"generate", tmp("lying.ckpt"), NULL},
        {"draw", tmp("lying.ckpt"), "-o", tmp("lying.dot"), NULL},
    };
    for (int i = 0; i < 2; i++) {
        r = run(cmds[i]);
        expect_code(&r, 1);
        expect_in(r.err, "out.weight of shape [");
        expect_in(r.err, ", 60000]");
        result_free(&r);
    }
}

static void test_truncated_checkpoint_fails_cleanly(void **state)
{
    (void)state;
    const char *ckpt = tmp("whole.ckpt");
    result r = train(ckpt, "2", NULL, NULL);
    expect_code(&r, 0);
    result_free(&r);
    size_t len;
    char *bytes = slurp(ckpt, &len);
    FILE *f = fopen(tmp("cut.ckpt"), "wb");
    assert_int_equal(fwrite(bytes, 1, len / 2, f), len / 2);
    fclose(f);
    free(bytes);
    const char *const cmds[3][5] = {
        {"info", tmp("cut.ckpt"), NULL},
        {"generate", tmp("cut.ckpt"), NULL},
        {"draw", tmp("cut.ckpt"), "-o", tmp("cut.dot"), NULL},
    };
    for (int i = 0; i < 3; i++) {
        r = run(cmds[i]);
        expect_code(&r, 1);
        expect_in(r.err, "cut.ckpt");
        expect_in(r.err, "checkpoint");
        assert_string_equal(r.out, "");
        result_free(&r);
    }
    assert_int_equal(access(tmp("cut.dot"), F_OK), -1);
}

/* Occurrences of needle in haystack. */
static int count(const char *haystack, const char *needle)
{
    int n = 0;
    for (const char *p = haystack; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/*
 * Diagrams as Graphviz source (.dot is written without laying out, so no
 * fonts are loaded): unrolled, one cell per symbol of --text; rolled, one
 * cell and its delay box. Rendering itself is the draw module's tests'.
 */
static void test_draw_writes_diagrams(void **state)
{
    (void)state;
    const char *ckpt = tmp("draw.ckpt");
    result r = train(ckpt, "1", NULL, NULL);
    expect_code(&r, 0);
    result_free(&r);
    r = run((const char *[]){"draw", ckpt, "--view", "unrolled", "--text", "the fox", "-o", tmp("u.dot"), NULL});
    expect_code(&r, 0);
    result_free(&r);
    char *dot = slurp(tmp("u.dot"), NULL);
    expect_in(dot, "digraph");
    assert_int_equal(count(dot, "label=\"LSTM 16\""), 7);
    assert_int_equal(count(dot, "label=t,"), 1); /* an input only */
    assert_int_equal(count(dot, "label=x,"), 2); /* the last input, and the output before it */
    free(dot);
    r = run((const char *[]){"draw", "--view", "rolled", "--hidden", "24", "-o", tmp("r.dot"), NULL});
    expect_code(&r, 0);
    result_free(&r);
    dot = slurp(tmp("r.dot"), NULL);
    assert_int_equal(count(dot, "label=\"LSTM 24\""), 1);
    assert_int_equal(count(dot, "\tdelay_0\t[fillcolor=black"), 1); /* the delay box */
    assert_int_equal(count(dot, "cell_0 -> delay_0"), 1);             /* and the state's loop through it */
    assert_int_equal(count(dot, "delay_0 -> cell_0"), 1);
    free(dot);
    r = run((const char *[]){"draw", ckpt, "--text", "\xce\xa9", "-o", tmp("bad.dot"), NULL});
    expect_code(&r, 1);
    expect_in(r.err, "U+03A9");
    assert_int_equal(access(tmp("bad.dot"), F_OK), -1);
    result_free(&r);
}

/* ---------------------------------------------------------------- setup */

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    char sub[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        unlink(sub);
    }
    closedir(d);
    rmdir(path);
}

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/recur_cli_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    remove_tree(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_lists_commands),
        cmocka_unit_test(test_usage_errors_exit_2),
        cmocka_unit_test(test_missing_files_fail_with_1),
        cmocka_unit_test(test_train_then_info),
        cmocka_unit_test(test_generate_uses_the_vocabulary),
        cmocka_unit_test(test_test_loss_ignores_padding),
        cmocka_unit_test(test_resume_matches_uninterrupted),
        cmocka_unit_test(test_truncated_checkpoint_fails_cleanly),
        cmocka_unit_test(test_metadata_must_match_tensors),
        cmocka_unit_test(test_draw_writes_diagrams),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
