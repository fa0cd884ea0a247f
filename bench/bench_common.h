/* Shared by the benchmark programs: the machine's sgemm rate (the baseline ratios are measured
 * against) and the process's peak memory. Header-only: each benchmark is its own program. */
#ifndef ROPELAB_BENCH_COMMON_H
#define ROPELAB_BENCH_COMMON_H

#include "ropelab/util.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <sys/resource.h>

/* Best of `reps` timings of an M x N x K sgemm (C = A B^T, as the model's projections), GFLOP/s. */
static inline double bench_sgemm_gflops(int M, int N, int K, int reps) {
    float *A = rl_alloc_aligned((size_t)M * K * 4, "A"), *B = rl_alloc_aligned((size_t)N * K * 4, "B");
    float *C = rl_alloc_aligned((size_t)M * N * 4, "C");
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)N * K; i++) B[i] = (float)(i % 5) * 0.1f;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = rl_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
        best = fmin(best, rl_now() - t0);
    }
    free(A), free(B), free(C);
    return 2.0 * M * N * K / best / 1e9;
}

/* Peak resident memory of this process so far, MiB (ru_maxrss is in KiB on Linux). */
static inline double bench_peak_rss_mib(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024.0;
}

#endif
