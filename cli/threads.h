/*
 * cli/threads.h — the --threads option of the recur tool: how many
 * threads recur's kernels and oneDNN may use.
 */
#ifndef RECUR_CLI_THREADS_H
#define RECUR_CLI_THREADS_H

#include <stdint.h>

/*
 * Caps the threads of recur's kernels and products at n >= 1
 * (recur_set_threads; more than 64 is taken as 64). recur runs small
 * kernels on one thread whatever the cap.
 */
void cli_set_threads(int64_t n);

/* The threads recur may use now (recur_threads). */
int cli_threads(void);

#endif
