/*
 * cli/args.c — option parsing and help for the recur tool.
 */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "recur/exec.h"

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "recur%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "recur%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'recur%s%s --help')\n", cmd ? " " : "", cmd ? cmd : "");
    va_end(ap);
    return CLI_EXIT_USAGE;
}

const char *cli_default_backend(void)
{
    const char *env = getenv("RECUR_BACKEND");
    if (env && *env) return env;
    return recur_backend_available("onednn") ? "onednn" : "reference";
}

const cli_opt *cli_find_opt(const cli_cmd *cmd, const char *name)
{
    for (int i = 0; i < cmd->n_opts; i++)
        if (strcmp(cmd->opts[i].name, name) == 0) return &cmd->opts[i];
    return NULL;
}

/* The option named by `arg` ("--name" or "-x", with any "=value" ignored), NULL if none. */
static cli_opt *lookup(cli_cmd *cmd, const char *arg)
{
    if (arg[1] != '-') {
        for (int i = 0; i < cmd->n_opts; i++)
            if (arg[1] && arg[2] == '\0' && cmd->opts[i].short_name == arg[1]) return &cmd->opts[i];
        return NULL;
    }
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    for (int i = 0; i < cmd->n_opts; i++)
        if (strlen(cmd->opts[i].name) == len && strncmp(cmd->opts[i].name, name, len) == 0) return &cmd->opts[i];
    return NULL;
}

/* Stores `value` into option o, checking it; CLI_EXIT_USAGE with a message when it is bad. */
static int store(cli_cmd *cmd, cli_opt *o, const char *value)
{
    char *end = NULL;
    errno = 0;
    if (o->kind == CLI_STR) {
        *(const char **)o->dest = value;
    } else if (o->kind == CLI_INT) {
        long long v = strtoll(value, &end, 10);
        if (end == value || *end != '\0' || errno == ERANGE)
            return cli_usage_error(cmd->name, "--%s: '%s' is not a whole number", o->name, value);
        if ((double)v < o->min || (double)v > o->max)
            return cli_usage_error(cmd->name, "--%s must be between %.0f and %.0f, got %lld", o->name, o->min, o->max,
                                   v);
        *(int64_t *)o->dest = (int64_t)v;
    } else if (o->kind == CLI_FLOAT) {
        double v = strtod(value, &end);
        if (end == value || *end != '\0' || !isfinite(v))
            return cli_usage_error(cmd->name, "--%s: '%s' is not a finite number", o->name, value);
        if (v < o->min || v > o->max)
            return cli_usage_error(cmd->name, "--%s must be between %g and %g, got %g", o->name, o->min, o->max, v);
        *(double *)o->dest = v;
    }
    o->seen = 1;
    return CLI_PARSED;
}

int cli_parse(cli_cmd *cmd, int argc, char **argv, const char **pos, int *n_pos)
{
    *n_pos = 0;
    int options_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] == '\0') { /* a positional argument ("-" included) */
            if (*n_pos >= cmd->max_pos)
                return cli_usage_error(cmd->name, "unexpected argument '%s'", a);
            pos[(*n_pos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_print_help(cmd, stdout);
            return CLI_HELP_SHOWN;
        }
        cli_opt *o = lookup(cmd, a);
        if (!o) return cli_usage_error(cmd->name, "unknown option '%s'", a);
        const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
        if (o->kind == CLI_FLAG) {
            if (eq) return cli_usage_error(cmd->name, "--%s takes no value", o->name);
            *(int *)o->dest = 1;
            o->seen = 1;
            continue;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) return cli_usage_error(cmd->name, "--%s needs a value (%s)", o->name, o->arg);
            value = argv[++i];
        }
        int r = store(cmd, o, value);
        if (r != CLI_PARSED) return r;
    }
    if (*n_pos < cmd->min_pos) return cli_usage_error(cmd->name, "missing argument; usage: %s", cmd->usage);
    return CLI_PARSED;
}

void cli_print_help(const cli_cmd *cmd, FILE *f)
{
    fprintf(f, "usage: %s\n\n%s\n\noptions:\n", cmd->usage, cmd->summary);
    for (int i = 0; i < cmd->n_opts; i++) {
        const cli_opt *o = &cmd->opts[i];
        char left[64], sh[8] = "    ";
        if (o->short_name) snprintf(sh, sizeof sh, "-%c, ", o->short_name);
        snprintf(left, sizeof left, "%s--%s%s%s", sh, o->name, o->kind == CLI_FLAG ? "" : " ",
                 o->kind == CLI_FLAG ? "" : o->arg);
        fprintf(f, "  %-26s %s\n", left, o->help);
    }
    fprintf(f, "  %-26s %s\n", "-h, --help", "show this help");
}
