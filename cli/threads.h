/*
 * cli/threads.h — the --threads option of the recur tool: how many
 * threads recur's kernels and oneDNN may use.
 */
#ifndef RECUR_CLI_THREADS_H
#define RECUR_CLI_THREADS_H

#include <stdint.h>

/*
 * Caps the threads of the kernels and oneDNN's products at n >= 1; call
 * it before the first plan is compiled. The library has no threading call
 * yet, so this sets OpenMP's thread count, the pool both run on:
 * omp_set_num_threads(n) for this process (OMP_NUM_THREADS is read once,
 * when the OpenMP runtime loads, before main) and OMP_NUM_THREADS in the
 * environment for the programs it starts.
 */
void cli_set_threads(int64_t n);

/* The threads a parallel kernel may use now (1 in a build without OpenMP). */
int cli_threads(void);

#endif
