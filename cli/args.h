/*
 * cli/args.h — command-line options of the recur tool: a table of
 * options per subcommand, parsed by getopt_long with clear messages and
 * printed as help.
 *
 * Options are "--name value", "--name=value", "-x value" or "-xvalue", in
 * any order with the positional arguments; a long name may be shortened to
 * a beginning no other option shares ("--hid" for "--hidden"); "--" ends
 * the options. Numbers are checked completely ("12abc" is refused) and
 * against the option's range.
 */
#ifndef RECUR_CLI_ARGS_H
#define RECUR_CLI_ARGS_H

#include <stdint.h>
#include <stdio.h>

/* Exit codes of the tool. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1, /* the command was understood but failed (a bad file, a training error) */
    CLI_EXIT_USAGE = 2 /* the command line is wrong */
};

/* What an option's value is, and what `dest` points at. */
typedef enum cli_opt_kind {
    CLI_INT,   /* int64_t, within [min, max] */
    CLI_FLOAT, /* double, finite, within [min, max] */
    CLI_STR,   /* const char * (points into argv) */
    CLI_FLAG   /* int, set to 1; takes no value */
} cli_opt_kind;

/* One option of a subcommand. */
typedef struct cli_opt {
    const char *name;   /* the long name without "--" */
    char short_name;    /* "-x", or 0 */
    cli_opt_kind kind;
    void *dest;
    double min, max;    /* CLI_INT, CLI_FLOAT: the accepted range */
    const char *arg;    /* the value's placeholder in the help ("N", "PATH") */
    const char *help;   /* one line; the default is part of it */
    int seen;           /* set to 1 by cli_parse when the option was given */
} cli_opt;

/* A subcommand's description, for its help and its messages. */
typedef struct cli_cmd {
    const char *name;     /* "train" */
    const char *usage;    /* "recur train TEXT [options]" */
    const char *summary;  /* a paragraph under the usage line */
    cli_opt *opts;
    int n_opts;
    int min_pos, max_pos; /* how many positional arguments it takes */
} cli_cmd;

/* Outcome of cli_parse besides CLI_EXIT_USAGE. */
enum { CLI_PARSED = 0, CLI_HELP_SHOWN = -1 };

/*
 * Parses argv[1..argc) (argv[0] is the subcommand's name) into the
 * options' destinations and pos[0..*n_pos) (pointers into argv, at most
 * cmd->max_pos). Returns CLI_PARSED; CLI_HELP_SHOWN after printing the help
 * to stdout for -h or --help; CLI_EXIT_USAGE after printing what is wrong
 * to stderr (an unknown option, a missing or bad value, a number out of
 * range, too many or too few positional arguments).
 */
int cli_parse(cli_cmd *cmd, int argc, char **argv, const char **pos, int *n_pos);

/* Prints the subcommand's help: usage, summary and one line per option. */
void cli_print_help(const cli_cmd *cmd, FILE *f);

/* The option called `name` of cmd, NULL if none (to ask whether it was given). */
const cli_opt *cli_find_opt(const cli_cmd *cmd, const char *name);

/*
 * The backend a subcommand runs on when --backend is not given: the one
 * named by $RECUR_BACKEND when it is set, else "onednn" when this build
 * has it (several times faster than "reference" for the character model),
 * else "reference".
 */
const char *cli_default_backend(void);

/* Prints "recur <cmd>: <message>\n" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prints cli_error's message followed by "(see 'recur <cmd> --help')" and returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
