/*
 * tests/test_cli.c — the recur command-line tool, run as a separate
 * process (its path comes from RECUR_CLI): help and exit codes, clear
 * usage errors (getopt_long's forms: shortened and attached options),
 * training a tiny model into a checkpoint, info listing the parameters
 * (counted here from the model's sizes) and the versions, generation that
 * writes exactly the symbols asked for and only symbols of the training
 * text, top-k and nucleus sampling against a known distribution, a
 * resumed run that ends bitwise where an uninterrupted one does (with
 * dropout and a learning-rate schedule too), the schedule's rates against
 * their closed form, test losses every N steps and the best checkpoint,
 * a directory of texts, texts and output paths refused before training,
 * a resume on another text refused, the whole run reported and plotted
 * after a resume, checksums equal to a bitwise CRC, clean failures on
 * missing and truncated files, and diagrams; --lines: one sequence per
 * line, its loss over lengths against the same lines fed one at a time,
 * padding that changes nothing, long lines, bad files, generated lines.
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
        {{"train", tiny, "--h", NULL}, "ambiguous option '--h': --hidden, --help?"},
        {{"train", tiny, "--resume=yes", NULL}, "--resume takes no value"},
        {{"train", tiny, "-z", NULL}, "unknown option '-z'"},
        {{"train", tiny, "--lr-schedule", "cosine", NULL}, "--lr-schedule: 'cosine' is not constant, step or exp"},
        {{"train", tiny, "--dropout", "1", NULL}, "--dropout must be between 0 and 0.95, got 1"},
        {{"train", tiny, "--new-text", NULL}, "--new-text goes with --resume"},
        {{"train", tiny, "--best", "b.ckpt", "--no-best", NULL}, "--best and --no-best contradict each other"},
        {{"train", tiny, "--threads", "0", NULL}, "--threads must be between 1 and 4096, got 0"},
        {{"train", tiny, "--eval-every", "-3", NULL}, "--eval-every must be between 0 and"},
        {{"generate", "x.ckpt", "--top-p", "0", NULL}, "--top-p must be between"},
        {{"generate", "x.ckpt", "--top-k", "-1", NULL}, "--top-k must be between 0 and"},
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

/* 1 if s starts with node name `node`, then its end or a ":port"; *end is past them. */
static int node_at(const char *s, const char *node, const char **end)
{
    size_t n = strlen(node);
    if (strncmp(s, node, n) != 0) return 0;
    s += n;
    if (*s == ':')
        while (*s && *s != ' ' && *s != '\t' && *s != '\n') s++;
    *end = s;
    return 1;
}

/* Edges from node `from` to node `to` in DOT source (lines "from[:port] -> to[:port] ..."). */
static int count_edges(const char *dot, const char *from, const char *to)
{
    int n = 0;
    for (const char *line = dot; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        const char *p = line + strspn(line, " \t"), *e;
        if (!node_at(p, from, &e) || strncmp(e, " -> ", 4) != 0) continue;
        if (node_at(e + 4, to, &e) && strchr(" \t\n[;", *e)) n++;
    }
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
    assert_int_equal(count_edges(dot, "cell_0", "delay_0"), 1);       /* and the state's loop through it */
    assert_int_equal(count_edges(dot, "delay_0", "cell_0"), 1);
    free(dot);
    r = run((const char *[]){"draw", ckpt, "--text", "\xce\xa9", "-o", tmp("bad.dot"), NULL});
    expect_code(&r, 1);
    expect_in(r.err, "U+03A9");
    assert_int_equal(access(tmp("bad.dot"), F_OK), -1);
    result_free(&r);
}

/* ------------------------------------------------- the options of issue 18 */

/* Runs `recur train` on the tiny text, hidden 16, windows of 8, batches of 4, with extra arguments (NULL-ended). */
static result trainv(const char *ckpt, const char *steps, const char *const *extra)
{
    const char *args[32] = {"train", text_path(), "--hidden", "16", "--window", "8", "--batch", "4", "--steps", steps,
                            "--sample-length", "12", "-o", ckpt};
    int n = 14;
    for (; extra && *extra; extra++) args[n++] = *extra;
    args[n] = NULL;
    assert_true(n < 31);
    return run(args);
}

/* trainv, which must succeed; its output is not needed. */
static void train_ok(const char *ckpt, const char *steps, const char *const *extra)
{
    result r = trainv(ckpt, steps, extra);
    expect_code(&r, 0);
    result_free(&r);
}

static recur_ckpt *load(const char *path)
{
    recur_ckpt *ck = NULL;
    if (recur_ckpt_load(path, &ck) != RECUR_OK) fail_msg("%s: %s", path, ck ? recur_ckpt_errmsg(ck) : "no memory");
    return ck;
}

static double meta_float(const char *path, const char *key)
{
    recur_ckpt *ck = load(path);
    double v = NAN;
    if (recur_ckpt_get_float(ck, key, &v) != RECUR_OK) fail_msg("%s: %s", path, recur_ckpt_errmsg(ck));
    recur_ckpt_free(ck);
    return v;
}

static int64_t meta_int(const char *path, const char *key)
{
    recur_ckpt *ck = load(path);
    int64_t v = -1;
    if (recur_ckpt_get_int(ck, key, &v) != RECUR_OK) fail_msg("%s: %s", path, recur_ckpt_errmsg(ck));
    recur_ckpt_free(ck);
    return v;
}

/* One line of a loss CSV. */
typedef struct csv_row {
    long long step;
    double loss, test; /* test: NaN when empty */
} csv_row;

/* The rows of the loss CSV at path (after its header) into rows[0..return), at most cap. */
static int read_csv(const char *path, csv_row *rows, int cap)
{
    char *s = slurp(path, NULL), *line = strchr(s, '\n');
    assert_memory_equal(s, "step,loss,test_loss\n", 20);
    int n = 0;
    while (line && line[1]) {
        line++;
        assert_true(n < cap);
        char *end;
        rows[n].step = strtoll(line, &end, 10);
        assert_true(*end == ',');
        rows[n].loss = strtod(end + 1, &end);
        assert_true(*end == ',');
        rows[n].test = end[1] == '\n' ? NAN : strtod(end + 1, NULL);
        n++;
        line = strchr(line, '\n');
    }
    free(s);
    return n;
}

/* The number after `label` in s (the first occurrence), failing the test when there is none. */
static double number_after(const char *s, const char *label)
{
    const char *at = strstr(s, label);
    if (!at) fail_msg("\"%s\" not found in:\n%s", label, s);
    return strtod(at + strlen(label), NULL);
}

/* recur --version and recur info name the library's version and the checkpoint format's. */
static void test_versions(void **state)
{
    (void)state;
    result r = run((const char *[]){"--version", NULL});
    expect_code(&r, 0);
    char want[128];
    snprintf(want, sizeof want, "recur %s (library %s, checkpoint format version %d)", RECUR_VERSION_STRING,
             recur_version(), RECUR_CKPT_VERSION);
    expect_in(r.out, want);
    result_free(&r);
    const char *ckpt = tmp("version.ckpt");
    train_ok(ckpt, "1", NULL);
    r = run((const char *[]){"info", ckpt, NULL});
    expect_code(&r, 0);
    snprintf(want, sizeof want, "bytes, format version %d)", RECUR_CKPT_VERSION);
    expect_in(r.out, want);
    snprintf(want, sizeof want, "(library %s, checkpoint format version %d)", recur_version(), RECUR_CKPT_VERSION);
    expect_in(r.out, want);
    result_free(&r);
}

/* CRC-32 bit by bit (IEEE 802.3, reflected, preset and inverted): the oracle of the checksum. */
static uint32_t crc_bitwise(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? c >> 1 ^ 0xEDB88320u : c >> 1;
    }
    return ~c;
}

/* The last 4 bytes of a file, little-endian: a checkpoint's stored checksum. */
static uint32_t stored_crc(const unsigned char *b, size_t n)
{
    return (uint32_t)b[n - 4] | (uint32_t)b[n - 3] << 8 | (uint32_t)b[n - 2] << 16 | (uint32_t)b[n - 1] << 24;
}

/*
 * The checksum comes from zlib now and must be the one of the format: a
 * checkpoint the tool writes ends in the bitwise CRC of its bytes, the
 * committed files written before zlib are not refused for their checksum,
 * and a flipped bit still is.
 */
static void test_checksums_unchanged(void **state)
{
    (void)state;
    const char *ckpt = tmp("crc.ckpt");
    result r;
    train_ok(ckpt, "1", NULL);
    size_t n;
    unsigned char *b = (unsigned char *)slurp(ckpt, &n);
    assert_true(n > 100);
    assert_int_equal(crc_bitwise(b, n - 4), stored_crc(b, n));
    free(b);
    const char *committed[] = {"corrupt/base.ckpt", "corrupt/duplicate_name.ckpt", "corrupt/huge_dims.ckpt"};
    for (int i = 0; i < 3; i++) {
        const char *path = tu_data_path(committed[i]);
        b = (unsigned char *)slurp(path, &n);
        assert_int_equal(crc_bitwise(b, n - 4), stored_crc(b, n)); /* the files are what the test expects */
        free(b);
        r = run((const char *[]){"info", path, NULL});
        if (strstr(r.err, "checksum")) fail_msg("%s refused for its checksum: %s", path, r.err);
        result_free(&r);
    }
    r = run((const char *[]){"info", tu_data_path("corrupt/flipped_data.ckpt"), NULL});
    expect_code(&r, 1);
    expect_in(r.err, "checksum mismatch");
    result_free(&r);
}

/*
 * A checkpoint holding a NaN (here: one weight of a trained model) is
 * refused by every command, naming the tensor; info --allow-nonfinite
 * reads it and counts the bad values.
 */
static void test_nonfinite_checkpoint(void **state)
{
    (void)state;
    const char *ckpt = tmp("nan.ckpt"), *bad = tmp("nan_bad.ckpt");
    result r;
    train_ok(ckpt, "1", NULL);
    recur_ckpt *ck = load(ckpt);
    int i = recur_ckpt_find(ck, "out.bias");
    assert_true(i >= 0);
    recur_ckpt_tensor t = recur_ckpt_at(ck, i);
    int64_t n = recur_shape_numel(t.shape);
    float *v = malloc(sizeof *v * (size_t)n);
    memcpy(v, t.data, sizeof *v * (size_t)n);
    v[1] = NAN;
    v[2] = -INFINITY;
    assert_int_equal(recur_ckpt_set_tensor(ck, "out.bias", t.shape, v), RECUR_OK);
    free(v);
    assert_int_equal(recur_ckpt_save(ck, bad), RECUR_OK);
    recur_ckpt_free(ck);
    const char *const cmds[2][4] = {{"info", bad, NULL}, {"generate", bad, NULL}};
    for (int k = 0; k < 2; k++) {
        r = run(cmds[k]);
        expect_code(&r, 1);
        expect_in(r.err, "\"out.bias\"");
        expect_in(r.err, "finite");
        result_free(&r);
    }
    r = run((const char *[]){"info", bad, "--allow-nonfinite", NULL});
    expect_code(&r, 0);
    expect_in(r.out, "(1 NaN, 1 infinite)");
    assert_int_equal(count(r.out, "NaN,"), 1); /* only out.bias */
    result_free(&r);
}

/*
 * Options through getopt_long: a unique beginning of a long name is the
 * option ("--hid" is --hidden), options come before or after the text, a
 * short option takes its value attached ("-e1").
 */
static void test_option_forms(void **state)
{
    (void)state;
    const char *ckpt = tmp("forms.ckpt");
    result r = run((const char *[]){"train", "--hid", "12", "--win=8", "--batch", "4", "-e1", "--steps", "2",
                                    "--sample-length", "0", text_path(), "-o", ckpt, NULL});
    expect_code(&r, 0);
    result_free(&r);
    assert_int_equal(meta_int(ckpt, "model.hidden"), 12);
    assert_int_equal(meta_int(ckpt, "train.window"), 8);
    assert_int_equal(meta_int(ckpt, "trainer.step"), 2);
}

/*
 * --dropout drops units in training only: with the weights kept (lr 0),
 * the first step's training loss changes and the test loss (an inference
 * plan) does not.
 */
static void test_dropout(void **state)
{
    (void)state;
    const char *plain[] = {"--lr", "0", "--loss-csv", tmp("d0.csv"), NULL};
    const char *drop[] = {"--lr", "0", "--dropout", "0.5", "--loss-csv", tmp("d5.csv"), NULL};
    result a = trainv(tmp("d0.ckpt"), "1", plain), b = trainv(tmp("d5.ckpt"), "1", drop);
    expect_code(&a, 0);
    expect_code(&b, 0);
    expect_in(b.out, "dropout 0.5 between layers and before the output");
    double test_a = number_after(a.out, ", test loss "), test_b = number_after(b.out, ", test loss ");
    assert_true(test_a > 1 && fabs(test_a - test_b) < 1e-4 * test_a);
    csv_row ra[2], rb[2];
    assert_int_equal(read_csv(tmp("d0.csv"), ra, 2), 1);
    assert_int_equal(read_csv(tmp("d5.csv"), rb, 2), 1);
    if (fabs(ra[0].loss - rb[0].loss) < 1e-3) fail_msg("dropout left the training loss at %g", ra[0].loss);
    assert_true(fabs(meta_float(tmp("d5.ckpt"), "train.dropout") - 0.5) < 1e-12);
    result_free(&a);
    result_free(&b);
}

/*
 * The learning rate the checkpoint holds for the next step follows the
 * schedule's closed form: lr0 min(1, (t + 1) / warmup) gamma^floor(t / k)
 * for the step schedule, lr0 gamma^t for the exponential one, t the steps
 * done.
 */
static void test_lr_schedule(void **state)
{
    (void)state;
    struct {
        const char *steps, *schedule, *decay, *every, *warmup;
        double want;
    } cases[] = {
        {"2", "step", "0.5", "3", "4", 0.01 * 3.0 / 4.0},   /* in the warmup */
        {"7", "step", "0.5", "3", "4", 0.01 * 0.25},        /* two decays */
        {"5", "exp", "0.9", "1", "0", 0.01 * pow(0.9, 5)},  /* every step */
        {"3", "constant", "0.5", "1", "0", 0.01},
    };
    for (int i = 0; i < 4; i++) {
        const char *extra[] = {"--optimizer", "sgd", "--lr", "0.01", "--lr-schedule", cases[i].schedule, "--lr-decay",
                               cases[i].decay, "--lr-decay-every", cases[i].every, "--warmup", cases[i].warmup,
                               "--test-fraction", "0", NULL};
        result r = trainv(tmp("lr.ckpt"), cases[i].steps, extra);
        expect_code(&r, 0);
        result_free(&r);
        double lr = meta_float(tmp("lr.ckpt"), "trainer.lr");
        if (fabs(lr - cases[i].want) > 1e-9 * cases[i].want)
            fail_msg("%s steps of %s: lr %.12g, expected %.12g", cases[i].steps, cases[i].schedule, lr, cases[i].want);
    }
}

/* A run resumed half way with dropout, warmup and a decaying rate ends bitwise where an uninterrupted one does. */
static void test_resume_with_schedule_and_dropout(void **state)
{
    (void)state;
    const char *extra[] = {"--dropout", "0.3", "--lr-schedule", "exp", "--lr-decay", "0.8", "--warmup", "4", NULL};
    result r;
    train_ok(tmp("s_straight.ckpt"), "6", extra);
    train_ok(tmp("s_resumed.ckpt"), "3", extra);
    const char *resume[] = {"--resume", NULL}; /* the settings come from the checkpoint */
    r = trainv(tmp("s_resumed.ckpt"), "6", resume);
    expect_code(&r, 0);
    expect_in(r.out, "dropout 0.3");
    expect_in(r.out, "warmed up linearly over 4 steps, times 0.8 every step");
    result_free(&r);
    assert_same_tensors(tmp("s_straight.ckpt"), tmp("s_resumed.ckpt"));
}

/*
 * --eval-every measures the test loss every N steps besides the last; the
 * best checkpoint holds the lowest of them, at its step; --no-best keeps
 * none; --best names the file.
 */
static void test_eval_every_and_best(void **state)
{
    (void)state;
    const char *ckpt = tmp("ev.ckpt"), *best = tmp("ev.best.ckpt");
    const char *extra[] = {"--eval-every", "3", "--loss-csv", tmp("ev.csv"), "--lr", "0.02", NULL};
    result r = trainv(ckpt, "10", extra);
    expect_code(&r, 0);
    expect_in(r.out, "step 3: test loss ");
    expect_in(r.out, "step 9: test loss ");
    expect_in(r.out, "the best checkpoint by test loss goes to ");
    result_free(&r);
    csv_row rows[16];
    assert_int_equal(read_csv(tmp("ev.csv"), rows, 16), 10);
    double lowest = INFINITY;
    long long at = 0;
    for (int i = 0; i < 10; i++) {
        int measured = rows[i].step % 3 == 0 || rows[i].step == 10;
        assert_int_equal(!isnan(rows[i].test), measured);
        if (measured && rows[i].test < lowest) lowest = rows[i].test, at = rows[i].step;
    }
    assert_true(fabs(meta_float(best, "train.best_test_loss") - lowest) < 1e-5 * lowest);
    assert_int_equal(meta_int(best, "trainer.step"), at);
    assert_int_equal(meta_int(ckpt, "trainer.step"), 10);
    assert_true(fabs(meta_float(ckpt, "train.best_test_loss") - lowest) < 1e-5 * lowest);

    const char *none[] = {"--no-best", NULL}, *named[] = {"--best", tmp("named_best.ckpt"), NULL};
    train_ok(tmp("nobest.ckpt"), "2", none);
    assert_int_equal(access(tmp("nobest.best.ckpt"), F_OK), -1);
    train_ok(tmp("nb.ckpt"), "2", named);
    assert_int_equal(access(tmp("named_best.ckpt"), F_OK), 0);
    assert_int_equal(access(tmp("nb.best.ckpt"), F_OK), -1);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/*
 * A directory's *.txt files are the text, joined in name order, each
 * ending in a newline (one added to b.txt); other files, hidden ones and
 * subdirectories named *.txt are left out.
 */
static void test_text_directory(void **state)
{
    (void)state;
    const char *dir = tmp("texts");
    assert_int_equal(mkdir(dir, 0700), 0);
    char path[512], a[4096] = "", b[4096] = "";
    for (int i = 0; i < 30; i++) strcat(a, "the cat sat on the mat.\n");
    for (int i = 0; i < 30; i++) strcat(b, "a dog ran far; ");
    snprintf(path, sizeof path, "%s/b.txt", dir);
    write_file(path, b);
    snprintf(path, sizeof path, "%s/a.txt", dir);
    write_file(path, a);
    snprintf(path, sizeof path, "%s/notes.md", dir);
    write_file(path, "QQQQ ZZZZ\n");
    snprintf(path, sizeof path, "%s/.hidden.txt", dir);
    write_file(path, "XXXX\n");
    snprintf(path, sizeof path, "%s/sub.txt", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    const char *ckpt = tmp("dir.ckpt");
    result r = run((const char *[]){"train", dir, "--hidden", "8", "--window", "8", "--batch", "4", "--steps", "1",
                                    "--sample-length", "0", "-o", ckpt, NULL});
    expect_code(&r, 0);
    expect_in(r.out, "(2 .txt files)");
    result_free(&r);
    assert_int_equal(meta_int(ckpt, "train.text_symbols"), (int64_t)(strlen(a) + strlen(b) + 1));
    recur_ckpt *ck = load(ckpt);
    const char *vocab = NULL;
    assert_int_equal(recur_ckpt_get_str(ck, "model.vocab", &vocab), RECUR_OK);
    assert_string_equal(vocab, "\n .;acdefghmnorst"); /* by code point; nothing of notes.md or .hidden.txt */
    recur_ckpt_free(ck);
}

/*
 * What cannot be a text is refused with the thing and the reason, before
 * anything is read: an empty path, a directory without .txt files, a FIFO
 * (opening one would wait for a writer) and /dev/zero (endless).
 */
static void test_texts_refused(void **state)
{
    (void)state;
    const char *empty_dir = tmp("empty_dir"), *fifo = tmp("fifo");
    assert_int_equal(mkdir(empty_dir, 0700), 0);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    struct {
        const char *text, *says[2];
    } cases[] = {
        {"", {"the text's path is empty", "a UTF-8 text file"}},
        {empty_dir, {"empty_dir is a directory without .txt files", "*.txt"}},
        {fifo, {"fifo is a FIFO (named pipe)", "reads a regular UTF-8 text file"}},
        {"/dev/zero", {"/dev/zero is a character device", "reads a regular UTF-8 text file"}},
    };
    for (int i = 0; i < 4; i++) {
        result r = run((const char *[]){"train", cases[i].text, "-o", tmp("refused.ckpt"), NULL});
        expect_code(&r, 1);
        expect_in(r.err, cases[i].says[0]);
        expect_in(r.err, cases[i].says[1]);
        result_free(&r);
    }
    assert_int_equal(access(tmp("refused.ckpt"), F_OK), -1);
}

/* Output paths that cannot be written are found before any training step runs. */
static void test_outputs_checked_first(void **state)
{
    (void)state;
    char under_file[300];
    snprintf(under_file, sizeof under_file, "%s/model.ckpt", text_path()); /* a file is not a directory */
    const char *dir = tmp("out_dir");
    assert_int_equal(mkdir(dir, 0700), 0);
    struct {
        const char *opt, *path, *says;
    } cases[] = {
        {"-o", under_file, "Not a directory (checked before training)"},
        {"-o", dir, "is a directory"},
        {"--loss-csv", under_file, "--loss-csv "},
        {"--loss-plot", dir, "--loss-plot "},
        {"--best", under_file, "--best "},
    };
    for (int i = 0; i < 5; i++) {
        const char *extra[] = {cases[i].opt, cases[i].path, NULL};
        result r = trainv(tmp("first.ckpt"), "3", extra);
        expect_code(&r, 1);
        expect_in(r.err, cases[i].says);
        expect_in(r.err, cases[i].path);
        if (strstr(r.out, "epoch") || strstr(r.err, "step ")) fail_msg("trained before failing:\n%s%s", r.out, r.err);
        result_free(&r);
    }
}

/* --threads caps the kernels' threads (OpenMP's count, read back by the header); --check-finite is on. */
static void test_threads_and_check_finite(void **state)
{
    (void)state;
    const char *extra[] = {"--threads", "3", "--check-finite", NULL};
    result r = trainv(tmp("threads.ckpt"), "2", extra);
    expect_code(&r, 0);
    expect_in(r.out, ", 3 threads, every value checked for NaN and infinity");
    result_free(&r);
    r = run((const char *[]){"generate", tmp("threads.ckpt"), "-n", "5", "--threads", "1", NULL});
    expect_code(&r, 0);
    result_free(&r);
}

/*
 * --resume on another text with the same symbols is refused, naming both
 * texts; --new-text goes on, saying so loudly.
 */
static void test_resume_on_another_text(void **state)
{
    (void)state;
    const char *ckpt = tmp("other.ckpt"), *other = tmp("other.txt");
    result r;
    train_ok(ckpt, "2", NULL);
    char *text = slurp(text_path(), NULL);
    write_file(other, text + strlen(text) / 3); /* the same symbols: the lines repeat */
    free(text);
    const char *args[] = {"train", other, "--steps", "4", "--sample-length", "0", "-o", ckpt, "--resume", NULL,
                          NULL};
    r = run(args);
    expect_code(&r, 1);
    expect_in(r.err, "other.txt (");
    expect_in(r.err, "is not the text");
    expect_in(r.err, "tiny.txt: ");
    expect_in(r.err, "--new-text");
    result_free(&r);
    assert_int_equal(meta_int(ckpt, "trainer.step"), 2);
    args[9] = "--new-text";
    r = run(args);
    expect_code(&r, 0);
    expect_in(r.err, "WARNING: ");
    expect_in(r.out, "WARNING: training goes on with another text");
    result_free(&r);
    assert_int_equal(meta_int(ckpt, "trainer.step"), 4);
}

/* A gnuplot that keeps the data of the last plot as plot.txt in the test's directory (first in PATH). */
static char *fake_gnuplot_path(void)
{
    const char *bin = tmp("fakebin");
    mkdir(bin, 0700);
    char prog[300];
    snprintf(prog, sizeof prog, "%s/gnuplot", bin);
    FILE *f = fopen(prog, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\ncp \"$(dirname \"$1\")/data.txt\" '%s/plot.txt' || exit 1\n"
               "out=$(sed -n \"s/^set output '\\(.*\\)'$/\\1/p\" \"$1\")\n: > \"$out\"\n",
            tmpdir);
    fclose(f);
    assert_int_equal(chmod(prog, 0700), 0);
    const char *path = getenv("PATH");
    char *saved = strdup(path ? path : "");
    char value[4096];
    snprintf(value, sizeof value, "%s:%s", bin, saved);
    setenv("PATH", value, 1);
    return saved;
}

/*
 * After a resume inside epoch 1, the epoch's report averages the whole
 * epoch (it equals an uninterrupted run's), and the loss plot draws every
 * step from 1 (its raw values are the CSV's).
 */
static void test_resume_reports_the_whole_run(void **state)
{
    (void)state;
    const char *args_s[] = {"train", text_path(), "--hidden", "16", "--window", "8", "--batch", "4", "--epochs", "1",
                            "--sample-length", "0", "-o", tmp("w_straight.ckpt"), NULL};
    result r = run(args_s);
    expect_code(&r, 0);
    double straight = number_after(r.out, "train loss ");
    long long per_epoch = (long long)number_after(r.out, "epoch 1: ");
    result_free(&r);
    assert_true(per_epoch > 20);

    const char *csv = tmp("w.csv"), *plot = tmp("w.svg");
    const char *args_a[] = {"train", text_path(), "--hidden", "16", "--window", "8", "--batch", "4", "--steps", "20",
                            "--sample-length", "0", "-o", tmp("w.ckpt"), "--loss-csv", csv, NULL};
    r = run(args_a);
    expect_code(&r, 0);
    result_free(&r);
    char *saved_path = fake_gnuplot_path();
    const char *args_b[] = {"train", text_path(), "--epochs", "1", "--sample-length", "0", "-o", tmp("w.ckpt"),
                            "--resume", "--loss-csv", csv, "--loss-plot", plot, NULL};
    r = run(args_b);
    setenv("PATH", saved_path, 1);
    free(saved_path);
    expect_code(&r, 0);
    expect_in(r.out, "20 steps into epoch 1");
    char want[96];
    snprintf(want, sizeof want, "epoch 1: %lld steps, the last %lld in ", per_epoch, per_epoch - 20);
    expect_in(r.out, want);
    double resumed = number_after(r.out, "train loss ");
    if (fabs(resumed - straight) > 1e-4) fail_msg("epoch 1's loss %.4f after the resume, %.4f straight", resumed, straight);
    result_free(&r);

    csv_row rows[256];
    int n = read_csv(csv, rows, 256);
    assert_int_equal(n, per_epoch);
    char *data = slurp(tmp("plot.txt"), NULL), *line = data;
    for (int k = 0; k < n; k++) { /* block 0: x, the raw loss, the smoothed one */
        while (*line == '#') line = strchr(line, '\n') + 1;
        double x, y;
        assert_int_equal(sscanf(line, "%lf %lf", &x, &y), 2);
        assert_true(x == (double)rows[k].step && rows[k].step == k + 1);
        assert_true(fabs(y - rows[k].loss) < 1e-5 * rows[k].loss);
        line = strchr(line, '\n') + 1;
    }
    free(data);
}

/* Sampled symbols of `out` counted by symbol: counts[c] for the ASCII letters asked, *other for the rest. */
static void count_symbols(const char *out, const char *letters, int *counts, int *other)
{
    *other = 0;
    memset(counts, 0, sizeof *counts * strlen(letters));
    for (const char *p = out; *p && *p != '\n'; p++) {
        const char *at = strchr(letters, *p);
        if (at) counts[at - letters]++;
        else (*other)++;
    }
}

/* count is within 5 standard deviations of a binomial's mean n p. */
static void expect_share(int count, int n, double p, const char *what)
{
    double mean = n * p, sd = sqrt(n * p * (1 - p));
    if (fabs(count - mean) > 5 * sd) fail_msg("%s: %d of %d, expected about %.0f", what, count, n, mean);
}

/*
 * Top-k and nucleus sampling against a known distribution: a checkpoint
 * whose output layer ignores the state (out.weight 0) and whose biases
 * give 'a', 'e', 'h', 'o' the probabilities 0.5, 0.25, 0.15, 0.1 (the rest
 * e^-40 of them). Top-k 2 draws a and e as 2/3 and 1/3; nucleus 0.8 a, e
 * and h renormalised over 0.9; both (top 3, then nucleus 0.8 of those
 * three) a and e; nucleus 0.45 only a. In training, top-k 1 samples what
 * greedy does.
 */
static void test_top_k_and_nucleus(void **state)
{
    (void)state;
    const char *ckpt = tmp("tk.ckpt"), *fixed = tmp("tk_fixed.ckpt");
    const char *extra[] = {"--top-k", "1", "--sample-length", "40", NULL};
    result r = trainv(ckpt, "3", extra);
    expect_code(&r, 0);
    const char *g = strstr(r.out, "[greedy]\n"), *k1 = strstr(r.out, "[temperature 0.5, top 1]\n");
    assert_non_null(g);
    assert_non_null(k1);
    g += strlen("[greedy]\n");
    k1 += strlen("[temperature 0.5, top 1]\n");
    size_t len = (size_t)(strstr(g, "[temperature") - g);
    assert_true(len > 40 && strncmp(g, k1, len) == 0);
    result_free(&r);

    recur_ckpt *ck = load(ckpt);
    int64_t V, H;
    const char *vocab;
    assert_int_equal(recur_ckpt_get_int(ck, "model.vocab_size", &V), RECUR_OK);
    assert_int_equal(recur_ckpt_get_int(ck, "model.hidden", &H), RECUR_OK);
    assert_int_equal(recur_ckpt_get_str(ck, "model.vocab", &vocab), RECUR_OK);
    const char *letters = "aeho";
    const double p[4] = {0.5, 0.25, 0.15, 0.1};
    float *w = calloc((size_t)(V * H), sizeof *w), *bias = malloc(sizeof *bias * (size_t)V);
    for (int64_t i = 0; i < V; i++) bias[i] = -40;
    for (int i = 0; i < 4; i++) bias[strchr(vocab, letters[i]) - vocab] = (float)log(p[i]); /* ASCII ids come first */
    assert_int_equal(recur_ckpt_set_tensor(ck, "out.weight", recur_shape2(V, H), w), RECUR_OK);
    assert_int_equal(recur_ckpt_set_tensor(ck, "out.bias", recur_shape1(V), bias), RECUR_OK);
    assert_int_equal(recur_ckpt_save(ck, fixed), RECUR_OK);
    recur_ckpt_free(ck);
    free(w);
    free(bias);

    struct {
        const char *opts[4];
        double share[4]; /* of a, e, h, o */
    } cases[] = {
        {{NULL}, {0.5, 0.25, 0.15, 0.1}},
        {{"--top-k", "2", NULL}, {2 / 3.0, 1 / 3.0, 0, 0}},
        {{"--top-p", "0.8", NULL}, {0.5 / 0.9, 0.25 / 0.9, 0.15 / 0.9, 0}},
        {{"--top-k", "3", "--top-p", "0.8"}, {2 / 3.0, 1 / 3.0, 0, 0}},
        {{"--top-p", "0.45", NULL}, {1, 0, 0, 0}},
    };
    const int n = 3000;
    for (int c = 0; c < 5; c++) {
        const char *args[16] = {"generate", fixed, "-n", "3000", "--temperature", "1", "--seed", "11"};
        int m = 8;
        for (int i = 0; i < 4 && cases[c].opts[i]; i++) args[m++] = cases[c].opts[i];
        args[m] = NULL;
        r = run(args);
        expect_code(&r, 0);
        int counts[4], other;
        count_symbols(r.out, letters, counts, &other);
        assert_int_equal(other, 0);
        for (int i = 0; i < 4; i++) {
            char what[96];
            snprintf(what, sizeof what, "case %d, '%c'", c, letters[i]);
            if (cases[c].share[i] == 0 || cases[c].share[i] == 1) assert_int_equal(counts[i], cases[c].share[i] * n);
            else expect_share(counts[i], n, cases[c].share[i], what);
        }
        result_free(&r);
    }
}

/* ----------------------------------------------- recur train --lines (issue 13) */

/*
 * Lines of mixed length: a blank line, one of spaces, a CRLF end and a
 * two-byte é; the last two of the seven kept lines are the test part of
 * --test-fraction 0.3.
 */
static const char *const kept_lines[] = {"the cat sat.", "a dog ran far away, caf\xc3\xa9!", "hi", "tom is here.",
                                         "yes", "we went home today", "no"};
enum { N_KEPT = 7, N_TRAIN_LINES = 5 };

static const char *lines_path(void)
{
    const char *path = tmp("lines.txt");
    write_file(path, "the cat sat.\n\na dog ran far away, caf\xc3\xa9!\r\nhi\n   \ntom is here.\nyes\n"
                     "we went home today\nno\n");
    return path;
}

/* `recur train --lines` on lines_path(), hidden 16, one step at learning rate 0, with extra arguments (NULL-ended). */
static result train_lines(const char *ckpt, const char *const *extra)
{
    const char *args[40] = {"train", lines_path(), "--lines", "--hidden", "16", "--steps", "1", "--lr", "0",
                            "--test-fraction", "0.3", "--sample-length", "8", "-o", ckpt};
    int n = 15;
    for (; extra && *extra; extra++) args[n++] = *extra;
    args[n] = NULL;
    assert_true(n < 39);
    return run(args);
}

/* The vocabulary of a checkpoint of the tool: its code points in id order, V of them. */
static int ckpt_vocab(const char *path, uint32_t *cps, int cap)
{
    recur_ckpt *ck = load(path);
    const char *v;
    assert_int_equal(recur_ckpt_get_str(ck, "model.vocab", &v), RECUR_OK);
    const unsigned char *p = (const unsigned char *)v;
    int n = 0;
    while (*p) {
        assert_true(n < cap);
        cps[n++] = next_cp(&p);
    }
    recur_ckpt_free(ck);
    return n;
}

/* The id of code point cp in vocab[0..V). */
static int vocab_id(const uint32_t *vocab, int V, uint32_t cp)
{
    for (int i = 0; i < V; i++)
        if (vocab[i] == cp) return i;
    fail_msg("U+%04X is not in the vocabulary", (unsigned)cp);
    return -1;
}

/*
 * The mean cross-entropy of the tool's model (one-hot, an LSTM of HIDDEN,
 * dense "out"), with the parameters of checkpoint ckpt, over ids x and
 * targets y [T, B]: over the real positions of lengths [B] when lengths is
 * given, else over all T B; built here from the public API alone.
 */
static double model_loss(const char *ckpt, int V, const float *x, const float *y, int64_t T, int64_t B,
                         const float *lengths)
{
    recur_graph *g = recur_graph_new(1);
    recur_value ids = recur_input(g, "ids", recur_shape2(T, B)), next = recur_input(g, "next", recur_shape2(T, B));
    recur_value lens = lengths ? recur_input(g, "lengths", recur_shape1(B)) : RECUR_NONE;
    recur_rnn rnn;
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = V, .hidden = HIDDEN, .lengths = lengths ? &lens : NULL};
    assert_int_equal(recur_rnn_new(g, "lstm", &o, recur_one_hot(g, ids, V), RECUR_NONE, RECUR_NONE, &rnn), RECUR_OK);
    recur_value mask = lengths ? recur_length_mask(g, lens, T) : RECUR_NONE;
    recur_value loss = recur_softmax_xent(g, recur_dense(g, "out", rnn.outputs, V, 1), next, mask);
    assert_int_equal(recur_unroll(g), RECUR_OK);
    recur_ckpt *ck = load(ckpt);
    if (recur_ckpt_restore_params(g, ck, RECUR_CKPT_STRICT) != RECUR_OK) fail_msg("%s", recur_errmsg(g));
    recur_ckpt_free(ck);
    recur_plan *p = recur_compile(g, 1, &loss, NULL);
    assert_non_null(p);
    float l = NAN;
    assert_int_equal(recur_plan_feed(p, ids, x, T * B), RECUR_OK);
    assert_int_equal(recur_plan_feed(p, next, y, T * B), RECUR_OK);
    if (lengths) assert_int_equal(recur_plan_feed(p, lens, lengths, B), RECUR_OK);
    if (recur_plan_run(p) != RECUR_OK || recur_plan_fetch(p, loss, &l, 1) != RECUR_OK)
        fail_msg("%s", recur_plan_errmsg(p));
    recur_plan_free(p);
    recur_graph_free(g);
    return l;
}

/*
 * The mean loss per symbol over kept_lines[first .. first + n), each fed
 * alone through a plan of its exact length, without padding or lengths:
 * inputs newline, c_1 .. c_m, targets c_1 .. c_m, newline.
 */
static double loss_line_by_line(const char *ckpt, int first, int n)
{
    uint32_t vocab[128];
    int V = ckpt_vocab(ckpt, vocab, 128), eol = vocab_id(vocab, V, '\n');
    double sum = 0, positions = 0;
    for (int k = first; k < first + n; k++) {
        float x[64], y[64];
        int m = 0;
        const unsigned char *p = (const unsigned char *)kept_lines[k];
        x[0] = (float)eol;
        while (*p) {
            assert_true(m < 62);
            float id = (float)vocab_id(vocab, V, next_cp(&p));
            y[m++] = id;
            x[m] = id;
        }
        y[m] = (float)eol;
        sum += model_loss(ckpt, V, x, y, m + 1, 1, NULL) * (m + 1);
        positions += m + 1;
    }
    return sum / positions;
}

/*
 * The loss of a step of --lines (a batch of all five training lines,
 * padded, with their lengths) and its test loss (two lines in a batch
 * padded with a column of padding) equal the losses of the same lines fed
 * one at a time through plans of their exact lengths; the checkpoint
 * records the mode. The same lines padded as recur_lines_batch pads them
 * give that loss too, and the same with random ids at every padded
 * position.
 */
static void test_lines_loss_over_lengths(void **state)
{
    (void)state;
    const char *ckpt = tmp("lines.ckpt"), *csv = tmp("lines.csv");
    result r = train_lines(ckpt, (const char *[]){"--batch", "5", "--loss-csv", csv, NULL});
    expect_code(&r, 0);
    expect_in(r.out, "lines: 7, 2 blank left out; training part: 5 lines");
    expect_in(r.out, "the longest 26 steps; batches padded to T = 26 steps");
    result_free(&r);
    csv_row row[4];
    assert_int_equal(read_csv(csv, row, 4), 1);
    double train_ref = loss_line_by_line(ckpt, 0, N_TRAIN_LINES), test_ref = loss_line_by_line(ckpt, N_TRAIN_LINES, 2);
    print_message("--lines: step loss %.6f (line by line %.6f), test loss %.6f (line by line %.6f)\n", row[0].loss,
                  train_ref, row[0].test, test_ref);
    assert_true(train_ref > 1.0 && test_ref > 1.0);
    assert_true(fabs(row[0].loss - train_ref) < 1e-5 * train_ref);
    assert_true(fabs(row[0].test - test_ref) < 1e-5 * test_ref);
    assert_int_equal(meta_int(ckpt, "model.lines"), 1);
    assert_int_equal(meta_int(ckpt, "train.window"), 200);

    /* the training lines padded to 26 steps by the library, padding 0, then random ids */
    uint32_t vocab[128];
    int V = ckpt_vocab(ckpt, vocab, 128);
    char text[256] = "";
    for (int k = 0; k < N_TRAIN_LINES; k++) strcat(strcat(text, kept_lines[k]), "\n");
    recur_corpus *c = recur_corpus_from_text(text, strlen(text));
    assert_int_equal(recur_corpus_vocab_size(c) <= V, 1);
    recur_line_seq seqs[N_TRAIN_LINES];
    recur_lines_count n;
    assert_int_equal(recur_lines_find(c, NULL, seqs, N_TRAIN_LINES, &n), RECUR_OK);
    enum { T = 26, B = N_TRAIN_LINES };
    float x[T * B], y[T * B], len[B];
    assert_int_equal(recur_lines_batch(c, seqs, B, (int64_t[]){3, 0, 4, 1, 2}, B, T, x, y, len), RECUR_OK);
    for (int i = 0; i < T * B; i++) { /* the corpus's ids are the checkpoint's vocabulary's */
        x[i] = (float)vocab_id(vocab, V, (uint32_t)recur_corpus_symbol(c, (int64_t)x[i]));
        y[i] = (float)vocab_id(vocab, V, (uint32_t)recur_corpus_symbol(c, (int64_t)y[i]));
    }
    double padded = model_loss(ckpt, V, x, y, T, B, len);
    uint64_t rng = 5;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            if (t >= len[b]) { /* another id in [0, V) at every padded position, from an LCG */
                rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                x[t * B + b] = (float)((rng >> 33) % (uint64_t)V);
                y[t * B + b] = (float)((rng >> 40) % (uint64_t)V);
            }
    double repadded = model_loss(ckpt, V, x, y, T, B, len);
    assert_true(fabs(padded - train_ref) < 1e-5 * train_ref);
    assert_true(padded == repadded);
    recur_corpus_free(c);
}

/* The test loss does not depend on the batch size, so neither on the columns of padding of its last batch. */
static void test_lines_test_loss_ignores_padding(void **state)
{
    (void)state;
    double loss[3];
    const char *B[3] = {"1", "3", "5"};
    for (int i = 0; i < 3; i++) {
        const char *csv = tmp("lines_b.csv");
        result r = train_lines(tmp("lines_b.ckpt"), (const char *[]){"--batch", B[i], "--loss-csv", csv, NULL});
        expect_code(&r, 0);
        result_free(&r);
        csv_row row[2];
        assert_int_equal(read_csv(csv, row, 2), 1);
        loss[i] = row[0].test;
    }
    assert_true(loss[0] > 1.0);
    assert_true(fabs(loss[1] - loss[0]) < 1e-5 * loss[0]);
    assert_true(fabs(loss[2] - loss[0]) < 1e-5 * loss[0]);
}

/*
 * Lines longer than the window: split into pieces (each a sequence of its
 * own, from zero states), cut, or refused naming the file, the line and
 * its byte offset; a TSV column; files without a line; options that need
 * --lines.
 */
static void test_lines_long_and_bad(void **state)
{
    (void)state;
    const char *ckpt = tmp("lines_long.ckpt");
    result r = train_lines(ckpt, (const char *[]){"--batch", "6", "--window", "20", NULL});
    expect_code(&r, 0);
    expect_in(r.out, "batches padded to T = 20 steps");
    expect_in(r.out, "1 line longer than the window of 20 split into pieces (6 training and 2 test sequences)");
    result_free(&r);
    r = train_lines(ckpt, (const char *[]){"--batch", "5", "--window", "20", "--long-lines", "cut", NULL});
    expect_code(&r, 0);
    expect_in(r.out, "1 line longer than the window of 20 cut (5 training and 2 test sequences)");
    result_free(&r);
    r = train_lines(ckpt, (const char *[]){"--batch", "5", "--window", "20", "--long-lines", "error", NULL});
    expect_code(&r, 1);
    expect_in(r.err, "lines.txt: lines: line 3 (byte 14) has 25 symbols, 26 steps with its end of line, more than "
                     "the 20 steps a sequence may have (--window; give a larger one, or --long-lines split or cut)");
    result_free(&r);

    /* a TSV's second column, and a line without one */
    const char *tsv = tmp("pairs.tsv");
    write_file(tsv, "Go.\tVa !\tcc\nHi.\tSalut !\tcc\n\nRun!\tCours !\tcc\nWho?\tQui ?\tcc\n");
    r = run((const char *[]){"train", tsv, "--lines", "--column", "2", "--hidden", "8", "--batch", "2", "--steps",
                             "1", "--test-fraction", "0", "--sample-length", "4", "-o", tmp("tsv.ckpt"), NULL});
    expect_code(&r, 0);
    expect_in(r.out, "lines: 4 (column 2), 1 blank left out");
    expect_in(r.out, "the longest 8 steps"); /* "Salut !" and its newline */
    result_free(&r);
    uint32_t vocab[64];
    int V = ckpt_vocab(tmp("tsv.ckpt"), vocab, 64);
    for (int i = 0; i < V; i++) /* the vocabulary is the column's: no tab, no English */
        if (vocab[i] == '\t' || vocab[i] == 'G' || vocab[i] == 'H') fail_msg("U+%04X in the vocabulary", vocab[i]);
    r = run((const char *[]){"train", tsv, "--lines", "--column", "4", "-o", tmp("tsv.ckpt"), NULL});
    expect_code(&r, 1);
    expect_in(r.err, "pairs.tsv: lines: line 1 (byte 0) has 3 tab-separated fields, fewer than column 4");
    result_free(&r);

    /* no line with a symbol; fewer lines than a batch */
    const char *blank = tmp("blank.txt");
    write_file(blank, "\n  \n\t\n\n");
    r = run((const char *[]){"train", blank, "--lines", "-o", tmp("blank.ckpt"), NULL});
    expect_code(&r, 1);
    expect_in(r.err, "blank.txt: lines: no line holds a symbol: the text's 4 lines are empty or white space only");
    result_free(&r);
    r = train_lines(ckpt, (const char *[]){"--batch", "6", NULL});
    expect_code(&r, 1);
    expect_in(r.err, "holds 5 lines (5 sequences), fewer than a batch of 6");
    result_free(&r);

    /* usage */
    r = run((const char *[]){"train", lines_path(), "--column", "1", NULL});
    expect_code(&r, 2);
    expect_in(r.err, "--column goes with --lines");
    result_free(&r);
    r = run((const char *[]){"train", lines_path(), "--lines", "--long-lines", "wrap", NULL});
    expect_code(&r, 2);
    expect_in(r.err, "--long-lines: 'wrap' is not split, cut or error");
    result_free(&r);
    assert_int_equal(access(tmp("blank.ckpt"), F_OK), -1);
}

/*
 * `recur generate` on a model of lines writes lines: as many as --lines
 * asks, each ending at its newline or after --length symbols; a model of
 * windows refuses --lines. A resumed run of lines ends where an
 * uninterrupted one does, and needs --lines.
 */
static void test_lines_generate_and_resume(void **state)
{
    (void)state;
    const char *ckpt = tmp("gen_lines.ckpt");
    result r = train_lines(ckpt, (const char *[]){"--batch", "2", "--lr", "0.01", "--steps", "6", NULL});
    expect_code(&r, 0);
    expect_in(r.out, "[greedy]");
    result_free(&r);
    r = run((const char *[]){"generate", ckpt, "--lines", "5", "-t", "1", "-n", "30", NULL});
    expect_code(&r, 0);
    int lines = 0;
    for (const char *p = r.out; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 5);
    for (const char *p = r.out, *q; *p; p = q + 1) {
        q = strchr(p, '\n');
        const unsigned char *u = (const unsigned char *)p;
        int symbols = 0;
        while ((const char *)u < q) next_cp(&u), symbols++;
        assert_true(symbols <= 30);
    }
    result_free(&r);
    r = run((const char *[]){"generate", ckpt, "-p", "tom", "-n", "20", NULL});
    expect_code(&r, 0);
    assert_memory_equal(r.out, "tom", 3);
    assert_int_equal(count(r.out, "\n"), 1); /* one line, the prompt its beginning */
    result_free(&r);
    train_ok(tmp("windows.ckpt"), "1", NULL);
    r = run((const char *[]){"generate", tmp("windows.ckpt"), "--lines", "2", NULL});
    expect_code(&r, 2);
    expect_in(r.err, "is a model of windows of a text, not of lines");
    result_free(&r);

    /* resume: 3 steps then 6 equals 6 at once */
    const char *straight = tmp("lines_straight.ckpt"), *resumed = tmp("lines_resumed.ckpt");
    const char *const opts[] = {"--batch", "2", "--lr", "0.01", "--steps", "6", "--window", "9", NULL};
    r = train_lines(straight, opts);
    expect_code(&r, 0);
    result_free(&r);
    r = train_lines(resumed, (const char *[]){"--batch", "2", "--lr", "0.01", "--steps", "3", "--window", "9", NULL});
    expect_code(&r, 0);
    result_free(&r);
    r = train_lines(resumed, (const char *[]){"--batch", "2", "--lr", "0.01", "--steps", "6", "--resume", NULL});
    expect_code(&r, 0);
    expect_in(r.out, "at step 3");
    expect_in(r.out, "split into pieces"); /* the window of 9 came from the checkpoint */
    result_free(&r);
    assert_same_tensors(straight, resumed);
    r = run((const char *[]){"train", lines_path(), "--steps", "8", "-o", resumed, "--resume", NULL});
    expect_code(&r, 2);
    expect_in(r.err, "is a model of lines (trained with --lines): give --lines to resume it");
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
        struct stat sb;
        if (lstat(sub, &sb) == 0 && S_ISDIR(sb.st_mode)) remove_tree(sub);
        else unlink(sub);
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
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_checksums_unchanged),
        cmocka_unit_test(test_nonfinite_checkpoint),
        cmocka_unit_test(test_option_forms),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_resume_with_schedule_and_dropout),
        cmocka_unit_test(test_eval_every_and_best),
        cmocka_unit_test(test_text_directory),
        cmocka_unit_test(test_texts_refused),
        cmocka_unit_test(test_outputs_checked_first),
        cmocka_unit_test(test_threads_and_check_finite),
        cmocka_unit_test(test_resume_on_another_text),
        cmocka_unit_test(test_resume_reports_the_whole_run),
        cmocka_unit_test(test_top_k_and_nucleus),
        cmocka_unit_test(test_lines_loss_over_lengths),
        cmocka_unit_test(test_lines_test_loss_ignores_padding),
        cmocka_unit_test(test_lines_long_and_bad),
        cmocka_unit_test(test_lines_generate_and_resume),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
