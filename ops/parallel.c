/*
 * ops/parallel.c — cutting a kernel's loop into one range per OpenMP
 * thread (see ops/parallel.h).
 */
#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops/parallel.h"

int recur_parallel_parts(int64_t n, int64_t floats)
{
#ifdef _OPENMP
    if (floats < RECUR_PARALLEL_MIN || n < 2 || omp_in_parallel()) return 1;
    int64_t threads = omp_get_max_threads();
    return (int)(threads < n ? threads : n);
#else
    (void)n, (void)floats;
    return 1;
#endif
}

void recur_parallel_range(int64_t n, int64_t floats, recur_range_fn fn, void *ctx)
{
    int parts = recur_parallel_parts(n, floats);
    if (parts <= 1) {
        fn(ctx, 0, n, 0);
        return;
    }
#ifdef _OPENMP
    /* Part p covers [n p / parts, n (p + 1) / parts); a team smaller than asked for runs several parts each. */
#pragma omp parallel num_threads(parts)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        for (int p = t; p < parts; p += nt) fn(ctx, n * p / parts, n * (p + 1) / parts, p);
    }
#endif
}
