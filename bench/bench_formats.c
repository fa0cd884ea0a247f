/* Benchmark: converting stored tensors to float32 (F16, BF16, Q8_0) against memcpy of the same output bytes. */
#include "ropelab/formats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N (1 << 24) /* 16M values: 64 MB of float32 output */

static double best_of(int reps, void (*fn)(void *), void *arg) {
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = rl_now();
        fn(arg);
        double dt = rl_now() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

static float *out, *src32;
/* Baseline: memcpy of the same output bytes, split over the same OpenMP threads as the conversion. */
static void run_memcpy(void *arg) {
    (void)arg;
    const int64_t chunk = 1 << 16;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < N / chunk; c++) memcpy(out + c * chunk, src32 + c * chunk, (size_t)chunk * sizeof(float));
}
static void run_convert(void *arg) {
    if (rl_tensor_to_f32((const rl_tensor *)arg, out) != 0) abort();
}

int main(void) {
    out = rl_alloc_aligned((size_t)N * 4, "out");
    src32 = rl_alloc_aligned((size_t)N * 4, "src");
    uint16_t *h = rl_alloc_aligned((size_t)N * 2, "f16"), *b = rl_alloc_aligned((size_t)N * 2, "bf16");
    uint8_t *q = rl_alloc_aligned((size_t)N / 32 * 34, "q8_0");
    if (!out || !src32 || !h || !b || !q) return 1;
    rl_rng r;
    rl_rng_seed(&r, 1);
    for (size_t i = 0; i < N; i++) src32[i] = (float)rl_rng_normal(&r);
    for (size_t i = 0; i < N; i++) h[i] = rl_f32_to_f16(src32[i]), b[i] = rl_f32_to_bf16(src32[i]);
    if (rl_q8_0_quantize(src32, N, q) != 0) return 1;
    double base = best_of(5, run_memcpy, NULL);
    struct { const char *name; rl_dtype dt; const void *data; } cases[] = {
        {"F16->F32", RL_DT_F16, h}, {"BF16->F32", RL_DT_BF16, b}, {"Q8_0->F32", RL_DT_Q8_0, q}};
    for (size_t c = 0; c < RL_ARRAY_LEN(cases); c++) {
        rl_tensor t = {.name = "x", .dtype = cases[c].dt, .ndim = 1, .numel = N, .data = cases[c].data};
        t.shape[0] = N;
        double dt = best_of(5, run_convert, &t);
        printf("formats %s (%d values): ours %.2f GB/s of float32 output, parallel memcpy %.2f GB/s, ratio %.2f\n",
               cases[c].name, N, 4.0 * N / dt / 1e9, 4.0 * N / base / 1e9, base / dt);
    }
    free(out);
    free(src32);
    free(h);
    free(b);
    free(q);
    return 0;
}
