/*
 * backends/onednn/serial.c — OpenMP's thread count held at 1 around a oneDNN
 * call (onednn.h: recur runs every primitive on the calling thread and
 * spreads a product's blocks over its own pool, never oneDNN's OpenMP team).
 */
#ifdef _OPENMP
#include <omp.h>
#endif

#include "onednn.h"

int recur_onednn_serial_begin(void)
{
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    if (saved != 1) omp_set_num_threads(1);
    return saved;
#else
    return 1;
#endif
}

void recur_onednn_serial_end(int saved)
{
#ifdef _OPENMP
    if (saved != 1) omp_set_num_threads(saved);
#else
    (void)saved;
#endif
}
