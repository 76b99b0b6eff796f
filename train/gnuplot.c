/*
 * train/gnuplot.c — starting gnuplot on a script and waiting for it,
 * through posix_spawnp with a fixed argument vector (never a shell), and
 * the thread's plot error.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "plot_impl.h"

extern char **environ;

/* Plots have no object to keep an error: they record it on the calling thread (graph/error.h). */
const char *recur_plot_errmsg(void) { return recur_error_msg(recur_thread_error(), ""); }
recur_status recur_plot_errcode(void) { return recur_error_code(recur_thread_error()); }

/*
 * What gnuplot wrote to stderr, at most len - 1 bytes, with each run of
 * line breaks turned into " / " and blank space trimmed ("" if nothing).
 */
static void read_stderr(const char *errpath, char *buf, size_t len)
{
    buf[0] = 0;
    FILE *f = fopen(errpath, "r");
    if (!f) return;
    size_t n = 0;
    int c, pending = 0;
    while ((c = fgetc(f)) != EOF && n + 4 < len) {
        if (c == '\n' || c == '\r') {
            pending = n > 0;
            continue;
        }
        if (pending) {
            memcpy(buf + n, " / ", 3);
            n += 3;
            pending = 0;
        }
        if (c == ' ' && n > 0 && buf[n - 1] == ' ') continue;
        buf[n++] = (char)c;
    }
    buf[n] = 0;
    fclose(f);
}

recur_status recur_gnuplot_run(const char *program, const char *script, const char *errpath, const char *who)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return recur_error_set(recur_thread_error(), RECUR_ERR_NOMEM, "plot %s: out of memory", who);
    int rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!rc) rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (!rc) rc = posix_spawn_file_actions_addopen(&fa, 2, errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = 0;
    char *argv[] = {(char *)program, (char *)script, NULL};
    if (!rc) rc = posix_spawnp(&pid, program, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc == ENOENT)
        return recur_error_set(recur_thread_error(), RECUR_ERR_UNSUPPORTED,
                               "plot %s: gnuplot is not installed (no program \"%s\" in PATH): install the Debian "
                               "package gnuplot-nox",
                               who, program);
    if (rc)
        return recur_error_set(recur_thread_error(), RECUR_ERR_UNSUPPORTED, "plot %s: cannot start \"%s\": %s (gnuplot comes with the "
                               "Debian package gnuplot-nox)", who, program, strerror(rc));

    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return recur_error_set(recur_thread_error(), RECUR_ERR_RUNTIME, "plot %s: waiting for %s: %s", who, program, strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return RECUR_OK;
    char err[600];
    read_stderr(errpath, err, sizeof err);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !err[0]) /* a C library that reports exec failures so */
        return recur_error_set(recur_thread_error(), RECUR_ERR_UNSUPPORTED,
                               "plot %s: \"%s\" could not be run (exit status 127): install the Debian package "
                               "gnuplot-nox", who, program);
    if (WIFSIGNALED(status))
        return recur_error_set(recur_thread_error(), RECUR_ERR_RUNTIME, "plot %s: %s was killed by signal %d%s%s", who, program,
                               WTERMSIG(status), err[0] ? ": " : "", err);
    return recur_error_set(recur_thread_error(), RECUR_ERR_RUNTIME, "plot %s: %s failed (exit status %d)%s%s", who, program,
                           WEXITSTATUS(status), err[0] ? ": " : "", err);
}
