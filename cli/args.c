/*
 * cli/args.c — option parsing and help for the recur tool, through the C
 * library's getopt_long: each subcommand's table of options becomes
 * getopt_long's table, the values are then checked here (whole numbers,
 * finite numbers, ranges) with messages that name the option.
 */
#include "args.h"

#include <errno.h>
#include <getopt.h>
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
    } else {
        *(int *)o->dest = 1;
    }
    o->seen = 1;
    return CLI_PARSED;
}

/*
 * getopt_long's code of option i: its short letter when it has one, else
 * CODE_BASE + i (above every character, so the two never meet).
 */
enum { CODE_BASE = 256, CODE_HELP = 'h', CODE_POSITIONAL = 1 };

static int code_of(const cli_cmd *cmd, int i) { return cmd->opts[i].short_name ? cmd->opts[i].short_name : CODE_BASE + i; }

/* The option whose getopt_long code is c, NULL if none. */
static cli_opt *option_of(cli_cmd *cmd, int c)
{
    for (int i = 0; i < cmd->n_opts; i++)
        if (code_of(cmd, i) == c) return &cmd->opts[i];
    return NULL;
}

/*
 * The message for an argument getopt_long did not recognise: `arg` is the
 * command-line word ("--name=value", "--nam", "-x"); a long name given in
 * part matches every option it begins (getopt_long accepts a unique
 * beginning), so a beginning shared by several is ambiguous.
 */
static int unknown(cli_cmd *cmd, const char *arg, int short_code)
{
    if (short_code) return cli_usage_error(cmd->name, "unknown option '-%c'", short_code);
    if (strncmp(arg, "--", 2) != 0) return cli_usage_error(cmd->name, "unknown option '%s'", arg);
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    char matches[256] = "";
    int n = 0;
    for (int i = 0; i < cmd->n_opts; i++)
        if (strncmp(cmd->opts[i].name, name, len) == 0 && strlen(matches) + strlen(cmd->opts[i].name) + 8 < sizeof matches) {
            snprintf(matches + strlen(matches), sizeof matches - strlen(matches), "%s--%s", n ? ", " : "",
                     cmd->opts[i].name);
            n++;
        }
    if (strncmp("help", name, len) == 0 && strlen(matches) + 12 < sizeof matches) {
        snprintf(matches + strlen(matches), sizeof matches - strlen(matches), "%s--help", n ? ", " : "");
        n++;
    }
    if (n > 1) return cli_usage_error(cmd->name, "ambiguous option '--%.*s': %s?", (int)len, name, matches);
    return cli_usage_error(cmd->name, "unknown option '--%.*s'", (int)len, name);
}

int cli_parse(cli_cmd *cmd, int argc, char **argv, const char **pos, int *n_pos)
{
    *n_pos = 0;
    /* "-" first: positional arguments come back in order as code 1 (whatever POSIXLY_CORRECT
     * says), ":" then: missing values are reported as ':' and nothing is printed by getopt. */
    char shorts[2 * 64 + 8] = "-:h";
    struct option *longs = calloc((size_t)cmd->n_opts + 2, sizeof *longs);
    if (!longs) return cli_error(cmd->name, "out of memory"), CLI_EXIT_FAIL;
    for (int i = 0; i < cmd->n_opts; i++) {
        const cli_opt *o = &cmd->opts[i];
        longs[i] = (struct option){o->name, o->kind == CLI_FLAG ? no_argument : required_argument, NULL, code_of(cmd, i)};
        if (o->short_name && strlen(shorts) + 2 < sizeof shorts) {
            size_t at = strlen(shorts);
            shorts[at] = o->short_name;
            shorts[at + 1] = o->kind == CLI_FLAG ? '\0' : ':';
            shorts[at + 2] = '\0';
        }
    }
    longs[cmd->n_opts] = (struct option){"help", no_argument, NULL, CODE_HELP};
    int r = CLI_PARSED, c;
    optind = 0; /* glibc: start afresh (a command may be parsed after another) */
    opterr = 0;
    while (r == CLI_PARSED && (c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        cli_opt *o = c == '?' || c == ':' ? option_of(cmd, optopt) : option_of(cmd, c);
        if (c == CODE_POSITIONAL) {
            if (*n_pos >= cmd->max_pos) r = cli_usage_error(cmd->name, "unexpected argument '%s'", optarg);
            else pos[(*n_pos)++] = optarg;
        } else if (c == CODE_HELP) {
            cli_print_help(cmd, stdout);
            r = CLI_HELP_SHOWN;
        } else if (c == ':') { /* a value is missing */
            r = o ? cli_usage_error(cmd->name, "--%s needs a value (%s)", o->name, o->arg)
                  : cli_usage_error(cmd->name, "'%s' needs a value", argv[optind - 1]);
        } else if (c == '?') { /* an unknown option, or a value given to a flag */
            const char *word = argv[optind - 1];
            if (o && strncmp(word, "--", 2) == 0) r = cli_usage_error(cmd->name, "--%s takes no value", o->name);
            else r = unknown(cmd, word, o || optopt <= 0 || optopt >= CODE_BASE ? 0 : optopt);
        } else if (o) {
            r = store(cmd, o, o->kind == CLI_FLAG ? "" : optarg);
        }
    }
    /* after "--", the rest is positional */
    for (int i = optind; r == CLI_PARSED && i < argc; i++) {
        if (*n_pos >= cmd->max_pos) r = cli_usage_error(cmd->name, "unexpected argument '%s'", argv[i]);
        else pos[(*n_pos)++] = argv[i];
    }
    free(longs);
    if (r == CLI_PARSED && *n_pos < cmd->min_pos)
        r = cli_usage_error(cmd->name, "missing argument; usage: %s", cmd->usage);
    return r;
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
