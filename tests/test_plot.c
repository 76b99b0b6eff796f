/*
 * tests/test_plot.c — plots through gnuplot: SVG and PNG files that start
 * with their format's magic, hold the titles and legend text given, and
 * have the size asked for (read from the PNG header); a missing gnuplot
 * (a program name or a PATH without it) is RECUR_ERR_UNSUPPORTED naming
 * the package; a failing one is RECUR_ERR_RUNTIME; bad arguments fail
 * before anything runs; a failed plot leaves no file and keeps an old one;
 * the temporary directory is always removed; a smoothed series is drawn
 * as its moving average (checked against a weighted mean computed here)
 * over its raw values in a faint colour. The rendering checks are
 * skipped where gnuplot is not installed.
 */
#include "test_util.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];     /* the pictures */
static char tmp[80];     /* TMPDIR for the plot calls: must be empty after each */
static int have_gnuplot; /* 1 when a plot could be drawn */

static const float y1v[6] = {2.0f, 1.2f, 0.8f, 0.5f, 0.42f, 0.4f};
static const float y2v[3] = {2.2f, 1.0f, 0.7f};
static const double x2v[3] = {0, 2.5, 5};

static const char *path_of(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static recur_status draw_loss(const char *path, const char *program)
{
    recur_plot_series s[2] = {{.name = "train's loss", .y = y1v, .n = 6, .smooth = 0.5},
                              {.name = "test & held-out", .x = x2v, .y = y2v, .n = 3, .dashed = 1, .colour = 1,
                               .points = 1}};
    recur_plot_opts o = {.title = "Loss <of> the model", .width = 640, .height = 360, .log_y = 1, .gnuplot = program};
    return recur_plot_loss(path, 2, s, &o);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/recur-plot-test-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(tmp, sizeof tmp, "%s/tmp", dir);
    if (mkdir(tmp, 0700) != 0) return -1;
    setenv("TMPDIR", tmp, 1);
    recur_status st = draw_loss(path_of("probe.svg"), NULL);
    have_gnuplot = st == RECUR_OK;
    if (st != RECUR_OK) fprintf(stderr, "(no gnuplot: %s)\n", recur_plot_errmsg());
    unlink(path_of("probe.svg"));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' && strcmp(e->d_name, "tmp") != 0) unlink(path_of(e->d_name));
    if (d) closedir(d);
    rmdir(tmp);
    return rmdir(dir);
}

/* The number of entries in dir `p` besides . and .. */
static int entries(const char *p)
{
    DIR *d = opendir(p);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* The number of pictures left half-written in dir ("<path>.tmp.<pid>"). */
static int partial_files(void)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

/* The whole file (malloc'd, NUL-terminated), its size in *n; fails the test if missing. */
static char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    if (!f) fail_msg("%s was not written", p);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    char *b = malloc((size_t)len + 1);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    b[len] = 0;
    fclose(f);
    *n = (size_t)len;
    return b;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_svg_and_png(void **state)
{
    (void)state;
    if (!have_gnuplot) skip();
    size_t n;

    if (draw_loss(path_of("loss.svg"), NULL) != RECUR_OK) fail_msg("%s", recur_plot_errmsg());
    char *svg = slurp(path_of("loss.svg"), &n);
    assert_true(n > 200);
    assert_true(!strncmp(svg, "<?xml", 5) || !strncmp(svg, "<svg", 4));
    assert_non_null(strstr(svg, "<svg"));
    /* The text given, with XML's escapes where it needs them. */
    assert_non_null(strstr(svg, "Loss &lt;of"));
    assert_non_null(strstr(svg, "test &amp; held-out"));
    assert_non_null(strstr(svg, "train's loss"));
    assert_non_null(strstr(svg, ">step<"));
    assert_non_null(strstr(svg, "width=\"640\""));
    free(svg);

    if (draw_loss(path_of("loss.png"), NULL) != RECUR_OK) fail_msg("%s", recur_plot_errmsg());
    unsigned char *png = (unsigned char *)slurp(path_of("loss.png"), &n);
    assert_true(n > 1000);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    assert_memory_equal(png + 12, "IHDR", 4); /* the first chunk: width and height, big-endian */
    assert_int_equal(be32(png + 16), 640);
    assert_int_equal(be32(png + 20), 360);
    free(png);

    /* Series against predictions, with the split; an upper-case extension works too. */
    float data[12], pred[7];
    for (int i = 0; i < 12; i++) data[i] = (float)(i % 4);
    for (int i = 0; i < 7; i++) pred[i] = (float)((i + 5) % 4) + 0.1f;
    recur_plot_series d = {.name = "data", .x0 = 1950, .y = data, .n = 12};
    recur_plot_series p = {.name = "model", .x0 = 1955, .y = pred, .n = 7};
    recur_plot_opts o = {.title = "predictions", .xlabel = "year"};
    if (recur_plot_predictions(path_of("pred.PNG"), &d, 1, &p, 1958.5, &o) != RECUR_OK)
        fail_msg("%s", recur_plot_errmsg());
    png = (unsigned char *)slurp(path_of("pred.PNG"), &n);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    assert_int_equal(be32(png + 16), 900); /* the default size */
    assert_int_equal(be32(png + 20), 500);
    free(png);
    if (recur_plot_predictions(path_of("pred.svg"), &d, 1, &p, 1958.5, &o) != RECUR_OK)
        fail_msg("%s", recur_plot_errmsg());
    svg = slurp(path_of("pred.svg"), &n);
    assert_non_null(strstr(svg, ">train<"));
    assert_non_null(strstr(svg, ">test<"));
    assert_non_null(strstr(svg, ">model<"));
    free(svg);
    assert_int_equal(entries(tmp), 0);
}

static void test_missing_gnuplot(void **state)
{
    (void)state;
    /* A program that does not exist. */
    assert_int_equal(draw_loss(path_of("x.svg"), "recur-no-such-gnuplot"), RECUR_ERR_UNSUPPORTED);
    assert_int_equal(recur_plot_errcode(), RECUR_ERR_UNSUPPORTED);
    assert_non_null(strstr(recur_plot_errmsg(), "gnuplot-nox"));
    assert_non_null(strstr(recur_plot_errmsg(), "recur-no-such-gnuplot"));
    assert_int_equal(access(path_of("x.svg"), F_OK), -1);

    /* gnuplot itself, with a PATH that does not hold it. */
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    setenv("PATH", tmp, 1);
    recur_status st = draw_loss(path_of("x.png"), NULL);
    if (saved) setenv("PATH", saved, 1);
    else unsetenv("PATH");
    free(saved);
    assert_int_equal(st, RECUR_ERR_UNSUPPORTED);
    assert_non_null(strstr(recur_plot_errmsg(), "install the Debian package gnuplot-nox"));
    assert_int_equal(access(path_of("x.png"), F_OK), -1);
    assert_int_equal(entries(tmp), 0);
    assert_int_equal(partial_files(), 0);
}

/* A gnuplot that fails (/bin/false exits 1): RECUR_ERR_RUNTIME, and the picture already there is kept. */
static void test_failing_gnuplot_keeps_old_file(void **state)
{
    (void)state;
    FILE *f = fopen(path_of("old.svg"), "w");
    fputs("old", f);
    fclose(f);
    assert_int_equal(draw_loss(path_of("old.svg"), "/bin/false"), RECUR_ERR_RUNTIME);
    assert_non_null(strstr(recur_plot_errmsg(), "/bin/false failed (exit status 1)"));
    size_t n;
    char *b = slurp(path_of("old.svg"), &n);
    assert_string_equal(b, "old");
    free(b);
    unlink(path_of("old.svg"));
    assert_int_equal(entries(tmp), 0);
    assert_int_equal(partial_files(), 0);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    recur_plot_series s = {.name = "a", .y = y1v, .n = 6};
    assert_int_equal(recur_plot_lines(path_of("a.pdf"), 1, &s, NULL), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_plot_errmsg(), ".svg or .png"));
    assert_int_equal(recur_plot_lines(path_of("svg"), 1, &s, NULL), RECUR_ERR_ARG);
    assert_int_equal(recur_plot_lines(NULL, 1, &s, NULL), RECUR_ERR_ARG);
    assert_int_equal(recur_plot_lines(path_of("a.svg"), 0, &s, NULL), RECUR_ERR_ARG);
    recur_plot_series empty = {.name = "empty", .y = y1v, .n = 0};
    assert_int_equal(recur_plot_lines(path_of("a.svg"), 1, &empty, NULL), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_plot_errmsg(), "\"empty\" has no values"));
    recur_plot_series nl = {.name = "two\nlines", .y = y1v, .n = 6};
    assert_int_equal(recur_plot_lines(path_of("a.svg"), 1, &nl, NULL), RECUR_ERR_ARG);
    recur_plot_opts o = {.title = "a\ntitle"};
    assert_int_equal(recur_plot_lines(path_of("a.svg"), 1, &s, &o), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_plot_errmsg(), "title holds a line break"));
    recur_plot_series bad_colour = {.name = "a", .y = y1v, .n = 6, .colour = 8};
    assert_int_equal(recur_plot_lines(path_of("a.svg"), 1, &bad_colour, NULL), RECUR_ERR_ARG);
    assert_int_equal(recur_plot_predictions(path_of("a.svg"), NULL, 0, NULL, 0, NULL), RECUR_ERR_ARG);
    /* A directory that does not exist: RECUR_ERR_IO before gnuplot runs. */
    assert_int_equal(recur_plot_lines("/nonexistent-recur-dir/a.svg", 1, &s, NULL), RECUR_ERR_IO);
    assert_non_null(strstr(recur_plot_errmsg(), "/nonexistent-recur-dir/a.svg"));
    assert_int_equal(entries(tmp), 0);
    assert_int_equal(partial_files(), 0);
}

/*
 * A stand-in for gnuplot: a shell script that keeps the script and the
 * data file it is given (as captured.gp and captured.txt in dir) and
 * writes an empty picture where the script's "set output" says.
 */
static const char *capturing_gnuplot(void)
{
    static char prog[600];
    snprintf(prog, sizeof prog, "%s/capture-gnuplot.sh", dir);
    FILE *f = fopen(prog, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n"
               "cp \"$1\" '%s/captured.gp' && cp \"$(dirname \"$1\")/data.txt\" '%s/captured.txt' || exit 1\n"
               "out=$(sed -n \"s/^set output '\\(.*\\)'$/\\1/p\" \"$1\")\n"
               ": > \"$out\"\n",
            dir, dir);
    fclose(f);
    assert_int_equal(chmod(prog, 0700), 0);
    return prog;
}

/*
 * The smoothed line is the exponential moving average, debiased: at k,
 * the mean of the finite values so far weighted a^age (age counted in
 * finite values), sum_j a^(n_k - n_j) y_j / sum_j a^(n_k - n_j), which is
 * what the recursion with the 1 - a^n correction gives. A NaN keeps the
 * average and leaves its own raw value a gap. The raw values are drawn
 * first, faint and without a legend entry; the test points with markers.
 */
static void test_smoothed_training_curve(void **state)
{
    (void)state;
    const float y[7] = {4.0f, 2.0f, NAN, 1.0f, 3.0f, 0.5f, 0.25f};
    const double a = 0.6;
    const double tx[2] = {3, 7};
    const float ty[2] = {2.5f, 1.5f};
    recur_plot_series s[2] = {{.name = "training loss", .x0 = 1, .y = y, .n = 7, .smooth = a},
                              {.name = "test loss", .x = tx, .y = ty, .n = 2, .points = 1, .dashed = 1}};
    recur_plot_opts o = {.gnuplot = capturing_gnuplot(), .ylabel = "loss (nats/symbol)"};
    if (recur_plot_loss(path_of("smooth.svg"), 2, s, &o) != RECUR_OK) fail_msg("%s", recur_plot_errmsg());
    size_t n;
    char *data = slurp(path_of("captured.txt"), &n), *line = data;
    for (int k = 0; k < 7; k++) {
        while (*line == '#' || *line == '\n') line = strchr(line, '\n') + 1; /* comments */
        char raw[32];
        double x, sm;
        assert_int_equal(sscanf(line, "%lf %31s %lf", &x, raw, &sm), 3);
        assert_true(x == 1 + k);
        if (isnan(y[k])) assert_string_equal(raw, "NaN");
        else assert_true(fabs(strtod(raw, NULL) - y[k]) < 1e-6);
        double num = 0, den = 0;
        int age = 0;
        for (int j = k; j >= 0; j--)
            if (!isnan(y[j])) {
                num += pow(a, age) * y[j];
                den += pow(a, age);
                age++;
            }
        if (fabs(sm - num / den) > 1e-6) fail_msg("smoothed value %d: %.9g, expected %.9g", k, sm, num / den);
        line = strchr(line, '\n') + 1;
    }
    free(data);
    char *gp = slurp(path_of("captured.gp"), &n);
    const char *raw_line = strstr(gp, "index 0 using 1:2"), *smooth_line = strstr(gp, "index 0 using 1:3"),
               *test_line = strstr(gp, "index 1 using 1:3");
    assert_non_null(raw_line);
    assert_non_null(smooth_line);
    assert_non_null(test_line);
    assert_true(raw_line < smooth_line);                                 /* behind it */
    /* blue #1f77b4 taken 70% towards white: 31 + 0.7 * 224, 119 + 0.7 * 136, 180 + 0.7 * 75 rounded */
    assert_non_null(strstr(raw_line, "lw 1 lc rgb '#bcd6e9' notitle"));
    assert_non_null(strstr(smooth_line, "lc rgb '#1f77b4'"));
    assert_non_null(strstr(test_line, "linespoints"));
    assert_non_null(strstr(test_line, "pt 7"));
    assert_non_null(strstr(gp, "set ylabel 'loss (nats/symbol)'"));
    free(gp);
    unlink(path_of("captured.gp"));
    unlink(path_of("captured.txt"));
    unlink(path_of("capture-gnuplot.sh"));
    unlink(path_of("smooth.svg"));
    /* a factor outside [0, 1) is refused */
    s[0].smooth = 1;
    assert_int_equal(recur_plot_loss(path_of("smooth.svg"), 2, s, NULL), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_plot_errmsg(), "smooth 1 is outside [0, 1)"));
    assert_int_equal(entries(tmp), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_svg_and_png),
        cmocka_unit_test(test_missing_gnuplot),
        cmocka_unit_test(test_failing_gnuplot_keeps_old_file),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_smoothed_training_curve),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
