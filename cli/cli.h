/*
 * cli/cli.h — the subcommands of the recur tool. Each takes its
 * own argv (argv[0] is the subcommand's name) and returns the process's
 * exit code: CLI_EXIT_OK, CLI_EXIT_FAIL or CLI_EXIT_USAGE (args.h).
 */
#ifndef RECUR_CLI_CLI_H
#define RECUR_CLI_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "recur/checkpoint.h"

/* recur train TEXT: trains a character model on a UTF-8 text and saves checkpoints. */
int cli_train(int argc, char **argv);

/* recur generate CHECKPOINT: generates text from a trained character model. */
int cli_generate(int argc, char **argv);

/* recur info CHECKPOINT: prints a checkpoint's metadata and tensors. */
int cli_info(int argc, char **argv);

/* recur draw: draws the character model rolled or unrolled (SVG, PNG, PDF, DOT). */
int cli_draw(int argc, char **argv);

/* recur import MODEL.onnx: imports an ONNX model and saves its parameters as a checkpoint (cli/import.c). */
int cli_import(int argc, char **argv);

/* recur export CHECKPOINT: writes a character model as an ONNX model (cli/export.c). */
int cli_export(int argc, char **argv);

/* 1 if path names an ONNX model (ends in ".onnx"). */
int cli_is_onnx(const char *path);

/*
 * recur draw MODEL.onnx: imports the model, its symbolic dimensions all `steps` long, and draws it with
 * view and level (recur_draw_view, recur_draw_level) to `out` (cli/import.c). Returns the exit code.
 */
int cli_draw_onnx(const char *path, const char *out, int view, int level, const char *title, int max_steps, int64_t steps);

/*
 * Loads a checkpoint for subcommand `cmd`; on failure prints
 * "recur <cmd>: <the loader's message>" and returns NULL.
 */
recur_ckpt *cli_load_checkpoint(const char *cmd, const char *path);

/* cli_load_checkpoint with the loader's flags (RECUR_CKPT_ALLOW_NONFINITE). */
recur_ckpt *cli_load_checkpoint_flags(const char *cmd, const char *path, unsigned flags);

/* Writes s to f with control characters escaped (\n, \t, \xNN), at most max bytes then "...". */
void cli_print_escaped(FILE *f, const char *s, size_t max);

#endif
