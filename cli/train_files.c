/*
 * cli/train_files.c — the files of `recur train`: the text it reads (a
 * file, a directory of .txt files, a data set), the files it will write,
 * checked before training, and a resumed run's loss history.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "args.h"
#include "train.h"

int train_push(void **a, size_t size, int64_t *n, int64_t *cap, const void *v)
{
    if (*n == *cap) {
        int64_t c = *cap ? 2 * *cap : 256;
        void *p = realloc(*a, size * (size_t)c);
        if (!p) return -1;
        *a = p;
        *cap = c;
    }
    memcpy((char *)*a + size * (size_t)(*n)++, v, size);
    return 0;
}

/* ------------------------------------------------------------------ the text */

/* What a file that is not regular nor a directory is, for messages. */
static const char *file_kind(mode_t mode)
{
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

/* Bytes of code point cp in UTF-8. */
static size_t utf8_len(int32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

/* Appends the text of corpus c (and a newline when it does not end in one) to *buf of *len bytes. */
static int append_text(const recur_corpus *c, char **buf, size_t *len, const char *path)
{
    int64_t n = recur_corpus_len(c);
    const int64_t *ids = recur_corpus_ids(c);
    size_t bytes = 0;
    for (int64_t i = 0; i < n; i++) bytes += utf8_len(recur_corpus_symbol(c, ids[i]));
    int newline = n == 0 || recur_corpus_symbol(c, ids[n - 1]) != '\n';
    char *p = realloc(*buf, *len + bytes + 2);
    if (!p) return cli_error("train", "%s: out of memory for %zu bytes of text", path, *len + bytes), CLI_EXIT_FAIL;
    *buf = p;
    if (recur_corpus_decode(c, ids, n, p + *len, bytes + 1) != RECUR_OK)
        return cli_error("train", "%s: %s", path, recur_data_errmsg()), CLI_EXIT_FAIL;
    *len += bytes;
    if (newline) p[(*len)++] = '\n';
    return CLI_EXIT_OK;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* 1 if name is that of a text file of a directory: "*.txt", not hidden. */
static int is_txt(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 4 && strcmp(name + n - 4, ".txt") == 0;
}

/* The regular *.txt files of directory dir, read in name order and joined. */
static int load_dir(train_run *r, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return cli_error("train", "cannot read the directory %s: %s", dir, strerror(errno)), CLI_EXIT_FAIL;
    char **names = NULL;
    int64_t n = 0, cap = 0;
    int rc = CLI_EXIT_OK;
    struct dirent *e;
    while (rc == CLI_EXIT_OK && (e = readdir(d))) {
        char *name = is_txt(e->d_name) ? strdup(e->d_name) : NULL;
        if (is_txt(e->d_name) && (!name || train_push((void **)&names, sizeof name, &n, &cap, &name) != 0)) {
            free(name);
            cli_error("train", "%s: out of memory listing the directory", dir);
            rc = CLI_EXIT_FAIL;
        }
    }
    closedir(d);
    if (n > 0) qsort(names, (size_t)n, sizeof *names, by_name);
    char *text = NULL, path[8192];
    size_t len = 0;
    int64_t files = 0;
    for (int64_t i = 0; rc == CLI_EXIT_OK && i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue; /* a directory or a FIFO named *.txt */
        recur_corpus *c = recur_corpus_load(path);
        if (!c) {
            cli_error("train", "%s", recur_data_errmsg());
            rc = CLI_EXIT_FAIL;
            break;
        }
        rc = append_text(c, &text, &len, path);
        recur_corpus_free(c);
        files++;
    }
    for (int64_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (rc == CLI_EXIT_OK && files == 0) {
        cli_error("train", "%s is a directory without .txt files: recur train reads a UTF-8 text file, or the "
                           "regular files named *.txt of a directory", dir);
        rc = CLI_EXIT_FAIL;
    }
    if (rc == CLI_EXIT_OK && !(r->text = recur_corpus_from_text(text, len))) {
        cli_error("train", "%s: %s", dir, recur_data_errmsg());
        rc = CLI_EXIT_FAIL;
    }
    free(text);
    r->n_files = (int)files;
    return rc;
}

int train_load_text(train_run *r, const char *arg)
{
    if (!arg[0])
        return cli_error("train", "the text's path is empty: give a UTF-8 text file, a directory of .txt files or "
                                  "the name of a data set"), CLI_EXIT_FAIL;
    snprintf(r->text_path, sizeof r->text_path, "%s", arg);
    struct stat sb;
    if (stat(arg, &sb) != 0) {
        int err = errno;
        if (err == ENOENT && !strchr(arg, '/')) { /* the name of a data set? */
            if (recur_data_path(arg, r->text_path, sizeof r->text_path) != RECUR_OK)
                return cli_error("train", "%s: no such file or directory; nor is it a data set: %s", arg,
                                 recur_data_errmsg()), CLI_EXIT_FAIL;
            if (stat(r->text_path, &sb) != 0)
                return cli_error("train", "%s: %s", r->text_path, strerror(errno)), CLI_EXIT_FAIL;
        } else {
            return cli_error("train", "%s: %s", arg, strerror(err)), CLI_EXIT_FAIL;
        }
    }
    if (S_ISDIR(sb.st_mode)) return load_dir(r, r->text_path);
    if (!S_ISREG(sb.st_mode))
        return cli_error("train", "%s is %s: recur train reads a regular UTF-8 text file or a directory of .txt files "
                                  "(save the stream to a file first)",
                         r->text_path, file_kind(sb.st_mode)), CLI_EXIT_FAIL;
    if (!(r->text = recur_corpus_load(r->text_path)))
        return cli_error("train", "%s", recur_data_errmsg()), CLI_EXIT_FAIL;
    return CLI_EXIT_OK;
}

uint32_t train_text_crc(const recur_corpus *c)
{
    unsigned char buf[4096];
    size_t used = 0;
    uLong crc = crc32(0, Z_NULL, 0);
    const int64_t *ids = recur_corpus_ids(c);
    for (int64_t i = 0, n = recur_corpus_len(c); i < n; i++) {
        uint32_t cp = (uint32_t)recur_corpus_symbol(c, ids[i]);
        for (int k = 0; k < 4; k++) buf[used++] = (unsigned char)(cp >> 8 * k);
        if (used == sizeof buf) {
            crc = crc32(crc, buf, (uInt)used);
            used = 0;
        }
    }
    if (used) crc = crc32(crc, buf, (uInt)used);
    return (uint32_t)crc;
}

/* ------------------------------------------------------------- the outputs */

/* Checks that `path` (given as --opt) can be written: not a directory, and a file can be made beside it. */
static int check_writable(const char *opt, const char *path)
{
    if (!path[0]) return cli_usage_error("train", "%s: the path is empty", opt);
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return cli_error("train", "%s %s is a directory: give a file's path", opt, path), CLI_EXIT_FAIL;
    char probe[8300];
    snprintf(probe, sizeof probe, "%s.probe.%ld", path, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return cli_error("train", "%s %s cannot be written: %s (checked before training)", opt, path, strerror(errno)),
               CLI_EXIT_FAIL;
    close(fd);
    unlink(probe);
    return CLI_EXIT_OK;
}

int train_check_outputs(const train_run *r)
{
    const train_args *a = r->a;
    int rc = check_writable("-o", a->checkpoint);
    if (!rc && r->best_path[0]) rc = check_writable("--best", r->best_path);
    if (!rc && a->loss_csv) rc = check_writable("--loss-csv", a->loss_csv);
    if (!rc && a->loss_plot) rc = check_writable("--loss-plot", a->loss_plot);
    return rc;
}

/* ------------------------------------------------------------ the history */

int train_record_test(train_run *r, int64_t step, float loss)
{
    if (r->n_tests == r->cap_tests) {
        int64_t cap = r->cap_tests ? 2 * r->cap_tests : 64;
        float *l = realloc(r->test_losses, sizeof *l * (size_t)cap);
        if (l) r->test_losses = l;
        double *s = realloc(r->test_steps, sizeof *s * (size_t)cap);
        if (s) r->test_steps = s;
        if (!l || !s) return -1;
        r->cap_tests = cap;
    }
    r->test_losses[r->n_tests] = loss;
    r->test_steps[r->n_tests++] = (double)step;
    return 0;
}

/*
 * Reads a line of the loss CSV, "step,loss,test_loss" (the test loss may
 * be empty): 1 with its values (*test NaN when empty), 0 for anything else.
 */
static int parse_line(const char *line, int64_t *step, float *loss, float *test)
{
    char *end;
    long long s = strtoll(line, &end, 10);
    if (end == line || *end != ',') return 0;
    const char *p = end + 1;
    *loss = strtof(p, &end);
    if (end == p || *end != ',') return 0;
    p = end + 1;
    *test = *p == '\n' || *p == '\0' ? NAN : strtof(p, &end);
    *step = (int64_t)s;
    return 1;
}

int train_history_load(train_run *r)
{
    const char *path = r->a->loss_csv;
    r->losses_from = r->first_step + 1;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return CLI_EXIT_OK; /* nothing written before: the plot starts here */
        return cli_error("train", "--loss-csv %s: %s", path, strerror(errno)), CLI_EXIT_FAIL;
    }
    char line[256], *keep = NULL;
    size_t kept = 0;
    int nomem = 0;
    r->losses_from = 1;
    while (!nomem && fgets(line, sizeof line, f)) {
        int64_t step;
        float loss, test, gap = NAN;
        int header = kept == 0 && strcmp(line, "step,loss,test_loss\n") == 0;
        if (!header && !(parse_line(line, &step, &loss, &test) && step >= 1 && step <= r->first_step))
            continue; /* a step after the checkpoint, or not a line of losses */
        if (!header) {
            while (!nomem && r->n_losses < step - 1) /* a step missing from the file is a gap */
                nomem = train_push((void **)&r->losses, sizeof gap, &r->n_losses, &r->cap_losses, &gap) != 0;
            if (!nomem && r->n_losses == step - 1)
                nomem = train_push((void **)&r->losses, sizeof loss, &r->n_losses, &r->cap_losses, &loss) != 0;
            if (!nomem && isfinite(test)) nomem = train_record_test(r, step, test) != 0;
        }
        size_t n = strlen(line);
        char *k = nomem ? NULL : realloc(keep, kept + n + 1);
        if (!k) nomem = 1;
        else {
            keep = k;
            memcpy(keep + kept, line, n + 1);
            kept += n;
        }
    }
    fclose(f);
    if (nomem) {
        free(keep);
        return cli_error("train", "--loss-csv %s: out of memory reading the history", path), CLI_EXIT_FAIL;
    }
    f = fopen(path, "w");
    int bad = !f || (kept && fwrite(keep, 1, kept, f) != kept);
    if (f && fclose(f) != 0) bad = 1;
    free(keep);
    if (bad) return cli_error("train", "--loss-csv %s: cannot rewrite it: %s", path, strerror(errno)), CLI_EXIT_FAIL;
    return CLI_EXIT_OK;
}
