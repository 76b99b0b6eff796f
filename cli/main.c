/*
 * cli/main.c — the recur command-line tool: dispatches
 * `recur <command> [options]` to the subcommands.
 *
 * Exit codes: 0 success, 1 failure (a bad file, a training error), 2 a
 * wrong command line.
 */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "recur/checkpoint.h"
#include "recur/common.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"train", cli_train, "train a character-level language model on a text file"},
    {"generate", cli_generate, "generate text from a trained model's checkpoint"},
    {"info", cli_info, "print a checkpoint's metadata, tensors and parameter count"},
    {"draw", cli_draw, "draw the character model rolled or unrolled (SVG, PNG, PDF, DOT)"},
    {"import", cli_import, "import an ONNX model (PyTorch's LSTM/GRU/RNN models) and save its parameters"},
    {"export", cli_export, "write a trained character model as an ONNX model"},
};

enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *f)
{
    fprintf(f, "usage: recur <command> [options]\n\n"
               "Recurrent networks as static computational graphs with an explicit loop node.\n\n"
               "commands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'recur <command> --help' describes a command's options; 'recur --version' prints the versions.\n"
               "Exit codes: 0 success, 1 failure, 2 a wrong command line.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        if (strcmp(name, "help") == 0 && argc > 2) { /* "recur help train" is "recur train --help" */
            for (int i = 0; i < N_COMMANDS; i++)
                if (strcmp(argv[2], commands[i].name) == 0)
                    return commands[i].run(2, (char *[]){argv[2], "--help", NULL});
            return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
        }
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("recur %s (library %s, checkpoint format version %d)\n", RECUR_VERSION_STRING, recur_version(),
               RECUR_CKPT_VERSION);
        return CLI_EXIT_OK;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    if (name[0] == '-') return cli_usage_error(NULL, "unknown option '%s'", name);
    return cli_usage_error(NULL, "unknown command '%s'", name);
}
