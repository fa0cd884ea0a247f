/* bench_rope: RoPE forward on [tokens x heads x head_dim] float32 against memcpy of the same bytes.
 *
 * For each case and pair layout it times, interleaved rep by rep so machine noise hits all alike:
 *   ours        rl_rope_forward in place, positions 0..T-1 (cos/sin table), OpenMP threads;
 *   memcpy x1   one memcpy of the same bytes to another buffer, one thread;
 *   memcpy xN   the same memcpy split into one contiguous slice per OpenMP thread;
 *   scale xN    x[i] *= a in place, split over the threads: the roofline of any in-place
 *               elementwise op (memcpy to a second buffer may pay a read-for-ownership of the
 *               destination, which an in-place op never does, so it can be the weaker baseline).
 * All move the same bytes (read N, write N), so GB/s is N / time for each. The headline ratio is
 * against the FASTER memcpy (as the task defines it); the ratio against the in-place scale is
 * printed too. A second line per case times positions 1e6.. (beyond the table: cos/sin computed
 * on the fly in float64) against the same baselines.
 * Best of REPS reps after a warm-up, for every method alike (interference from other processes
 * only ever slows a rep down; on 2 shared cores a busy neighbour can stall a whole thread team).
 * The [4096x8x64] case (8 MiB) fits in a 32 MiB L3, so it measures cache, not DRAM, bandwidth.
 * Indicative only on a shared machine. */
#include "ropelab/rope.h"
#include "ropelab/util.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { REPS = 15 };

static double best(const double *v, int n) {
    double b = v[0];
    for (int i = 1; i < n; i++) b = v[i] < b ? v[i] : b;
    return b;
}

/* memcpy split into one contiguous slice per thread. */
static void memcpy_threads(float *dst, const float *src, size_t n) {
#pragma omp parallel
    {
        int nt = omp_get_num_threads(), i = omp_get_thread_num();
        size_t a = n * (size_t)i / (size_t)nt, b = n * (size_t)(i + 1) / (size_t)nt;
        memcpy(dst + a, src + a, (b - a) * sizeof(float));
    }
}

/* x[i] *= a over the threads, one contiguous slice each (a = 1 read from a volatile, so the
 * compiler must do the work; the simple loop vectorises). */
static void scale_slice(float *restrict x, size_t n, float a) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) x[i] *= a;
}

static void scale_threads(float *x, size_t n) {
    static volatile float one = 1.0f;
    const float a = one;
#pragma omp parallel
    {
        int nt = omp_get_num_threads(), i = omp_get_thread_num();
        size_t lo = n * (size_t)i / (size_t)nt, hi = n * (size_t)(i + 1) / (size_t)nt;
        scale_slice(x + lo, hi - lo, a);
    }
}

static void bench_case(int T, int H, int D, rl_layout layout, int *status) {
    const size_t n = (size_t)T * H * D, bytes = n * sizeof(float);
    char text[64];
    snprintf(text, sizeof text, "rope:theta=10000%s", layout == RL_LAYOUT_INTERLEAVED ? ",layout=interleaved" : "");
    rl_rope_spec spec;
    rl_rope r;
    if (rl_rope_parse(text, &spec) != 0 || rl_rope_init(&r, &spec, D, T, 0) != 0) {
        fprintf(stderr, "bench_rope: %s\n", rl_error());
        *status = 1;
        return;
    }
    float *x = rl_alloc_aligned(bytes, "x"), *src = rl_alloc_aligned(bytes, "src"), *dst = rl_alloc_aligned(bytes, "dst");
    int32_t *far = malloc((size_t)T * sizeof *far);
    if (!x || !src || !dst || !far) {
        fprintf(stderr, "bench_rope: %s\n", rl_error());
        exit(1);
    }
    rl_rng rng;
    rl_rng_seed(&rng, 1);
    for (size_t i = 0; i < n; i++) x[i] = src[i] = dst[i] = (float)rl_rng_normal(&rng);
    for (int t = 0; t < T; t++) far[t] = 1000000 + t;

    double t_rope[REPS], t_m1[REPS], t_mn[REPS], t_far[REPS], t_sc[REPS];
    for (int rep = -1; rep < REPS; rep++) { /* rep -1 warms caches, pages and the thread pool */
        double t0 = rl_now();
        rl_rope_forward(&r, x, T, H, NULL);
        double t1 = rl_now();
        memcpy(dst, src, bytes);
        double t2 = rl_now();
        memcpy_threads(dst, src, n);
        double t3 = rl_now();
        rl_rope_forward(&r, x, T, H, far);
        double t4 = rl_now();
        scale_threads(x, n);
        double t5 = rl_now();
        if (rep >= 0) {
            t_rope[rep] = t1 - t0;
            t_m1[rep] = t2 - t1;
            t_mn[rep] = t3 - t2;
            t_far[rep] = t4 - t3;
            t_sc[rep] = t5 - t4;
        }
    }
    const double gb = (double)bytes / 1e9;
    double ours = gb / best(t_rope, REPS), m1 = gb / best(t_m1, REPS), mn = gb / best(t_mn, REPS);
    double farbw = gb / best(t_far, REPS), sc = gb / best(t_sc, REPS), base = m1 > mn ? m1 : mn;
    const int nt = omp_get_max_threads();
    printf("rope [%dx%dx%d] %-11s kernel %s, %d threads: ours %.2f GB/s, memcpy 1 thread %.2f GB/s, "
           "memcpy %d threads %.2f GB/s, ratio %.2f; in-place scale %.2f GB/s, ratio %.2f\n",
           T, H, D, rl_layout_name(layout), rl_rope_kernel_name(), nt, ours, m1, nt, mn, ours / base, sc, ours / sc);
    printf("rope [%dx%dx%d] %-11s positions 1e6.. (cos/sin on the fly): ours %.2f GB/s, ratio %.2f; "
           "vs in-place scale %.2f\n", T, H, D, rl_layout_name(layout), farbw, farbw / base, farbw / sc);
    fflush(stdout);
    free(x);
    free(src);
    free(dst);
    free(far);
    rl_rope_free(&r);
}

int main(void) {
    int status = 0;
    printf("# GB/s = bytes of the tensor / time; RoPE in place and memcpy both read and write them once.\n"
           "# ratio = ours / the faster memcpy (target >= 0.80 on the large case)\n");
    const int cases[][3] = {{4096, 16, 256}, {4096, 8, 64}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int l = 0; l < 2; l++)
            bench_case(cases[c][0], cases[c][1], cases[c][2], l ? RL_LAYOUT_INTERLEAVED : RL_LAYOUT_HALF, &status);
    return status;
}
