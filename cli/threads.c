/*
 * cli/threads.c — the thread count of the recur tool, through OpenMP
 * until the library has a call of its own (see threads.h).
 */
#include "threads.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

void cli_set_threads(int64_t n)
{
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)n);
    setenv("OMP_NUM_THREADS", v, 1);
#ifdef _OPENMP
    omp_set_num_threads((int)n);
#endif
}

int cli_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
