/*
 * sgemm_rate — anchor benchmark: this machine's single-precision GEMM rate
 * through oneDNN's dnnl_sgemm (row-major C = A * B), the ceiling that any
 * matmul-bound training step (recur's or oneDNN's RNN) can approach.
 *
 * Shapes (M x K times K x N):
 *   square   M=N=K=1024
 *   b-input  M=T*B=3200, N=4*H=2048, K=I=512   (config (b)'s hoisted input
 *            projection: all T*B rows at once against the four gates' weights)
 *   b-step   M=B=64,     N=4*H=2048, K=H=512   (config (b)'s per-step
 *            recurrent product h_{t-1} * W_h, which the recurrence cannot batch)
 * FLOPs of one product: 2*M*N*K. For each shape the median of repeated
 * products is taken; the anchor is the best shape's rate.
 *
 * Usage: sgemm_rate [--quick] [--reps N]
 * Output: a readable line per shape, then
 *   anchor sgemm gflops=<max over shapes>
 * Threads: oneDNN is built on OpenMP here; set OMP_NUM_THREADS.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dnnl.h>
#include <dnnl_debug.h>

#define CHECK(call)                                                          \
    do {                                                                     \
        dnnl_status_t check_status_ = (call);                                \
        if (check_status_ != dnnl_success) {                                 \
            fprintf(stderr, "sgemm_rate: %s failed: %s (%s:%d)\n", #call,    \
                    dnnl_status2str(check_status_), __FILE__, __LINE__);     \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

typedef struct {
    const char *name;
    dnnl_dim_t M, N, K;
} gemm_shape;

static const gemm_shape SHAPES[] = {
    {"square", 1024, 1024, 1024},
    {"b-input", 3200, 2048, 512},
    {"b-step", 64, 2048, 512},
};
#define N_SHAPES (sizeof SHAPES / sizeof SHAPES[0])

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static float *alloc_filled(size_t n, unsigned seed)
{
    float *p = malloc(n * sizeof *p);
    if (!p) {
        fprintf(stderr, "sgemm_rate: out of memory (%zu floats)\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
    return p;
}

int main(int argc, char **argv)
{
    int quick = 0, fixed_reps = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            char *end;
            long r = strtol(argv[++i], &end, 10);
            if (*end != '\0' || r < 1 || r > 1000000) {
                fprintf(stderr, "sgemm_rate: bad --reps '%s'\n", argv[i]);
                return 2;
            }
            fixed_reps = (int)r;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: sgemm_rate [--quick] [--reps N]\n");
            return 0;
        } else {
            fprintf(stderr, "sgemm_rate: unknown argument '%s'\n"
                            "usage: sgemm_rate [--quick] [--reps N]\n", argv[i]);
            return 2;
        }
    }

    /* Repetitions: --reps N exactly; otherwise up to 200 (quick: 30), stopping
     * once 3 s (quick: 0.5 s) of timed products have run, at least 5. */
    const int max_reps = fixed_reps ? fixed_reps : (quick ? 30 : 200);
    const int min_reps = fixed_reps ? fixed_reps : 5;
    const double budget_s = quick ? 0.5 : 3.0;
    double *times = malloc((size_t)max_reps * sizeof *times);
    if (!times) {
        fprintf(stderr, "sgemm_rate: out of memory\n");
        return 1;
    }

    const char *omp = getenv("OMP_NUM_THREADS");
    printf("# dnnl_sgemm, OMP_NUM_THREADS=%s%s\n", omp ? omp : "(unset)",
           quick ? ", quick" : "");

    double best = 0.0;
    for (size_t s = 0; s < N_SHAPES; s++) {
        const dnnl_dim_t M = SHAPES[s].M, N = SHAPES[s].N, K = SHAPES[s].K;
        float *A = alloc_filled((size_t)(M * K), 1u);
        float *B = alloc_filled((size_t)(K * N), 2u);
        float *C = alloc_filled((size_t)(M * N), 3u);

        /* Warm up (threads, caches, page faults). */
        for (int w = 0; w < 3; w++)
            CHECK(dnnl_sgemm('N', 'N', M, N, K, 1.0f, A, K, B, N, 0.0f, C, N));

        double spent = 0.0;
        int n = 0;
        while (n < max_reps) {
            double t0 = now_seconds();
            CHECK(dnnl_sgemm('N', 'N', M, N, K, 1.0f, A, K, B, N, 0.0f, C, N));
            double dt = now_seconds() - t0;
            times[n++] = dt;
            spent += dt;
            if (n >= min_reps && spent >= budget_s) break;
        }
        qsort(times, (size_t)n, sizeof *times, cmp_double);
        const double med = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
        const double gflops = 2.0 * (double)M * (double)N * (double)K / med / 1e9;
        if (gflops > best) best = gflops;
        printf("sgemm %-8s M=%ld N=%ld K=%ld: %.3f ms median of %d, %.1f GFLOP/s\n",
               SHAPES[s].name, (long)M, (long)N, (long)K, 1e3 * med, n, gflops);
        fflush(stdout);
        free(A);
        free(B);
        free(C);
    }
    printf("anchor sgemm gflops=%.1f\n", best);
    free(times);
    return 0;
}
