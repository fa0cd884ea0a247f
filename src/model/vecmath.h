/* Vectorisable float32 exp / tanh / sigmoid for the model's element-wise kernels (internal).
 *
 * glibc's expf and tanhf are scalar calls that stop GCC from vectorising a loop; these are plain
 * branch-free C (Cephes' expf polynomial with Cody-Waite range reduction), so `#pragma omp simd`
 * loops over them vectorise, and RL_VEC_CLONES compiles a loop twice (AVX2+FMA and baseline) with
 * the CPU picking one at load time.
 * Accuracy: vexpf within 2 ulp of exp for x in [-87.3, 88.3], 0 below (no denormals), and clamped
 * above; vtanhf within 2e-7 ABSOLUTE (it is computed as 1 - 2/(exp(2x)+1), so tiny |x| lose
 * relative accuracy: fine for GELU, which only ever uses 1 + tanh and 1 - tanh^2). */
#ifndef ROPELAB_MODEL_VECMATH_H
#define ROPELAB_MODEL_VECMATH_H

#include <stdint.h>

/* The clamps below are selects: without this GCC keeps them as branches (a comparison might trap)
 * and refuses to vectorise. Nothing in the model relies on floating-point traps. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RL_VEC_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define RL_VEC_CLONES
#endif

static inline float vexpf(float x) {
    const float hi = 88.3f, lo = -87.3f; /* 2^n stays a normal float */
    float xc = x > hi ? hi : (x < lo ? lo : x);
    /* n = round(x / ln 2) by the 1.5 * 2^23 trick (no SSE4.1 round instruction needed) */
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xc - n * 0.693359375f + n * 2.12194440e-4f; /* Cody-Waite: ln 2 = 0.693359375 - 2.12194440e-4 */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union {
        int32_t i;
        float f;
    } s;
    /* a NaN x gives a NaN p (so y stays NaN); its exponent is built from 0, not from (int)NaN,
     * which is undefined (x86 gives INT_MIN, and the shift of a negative int is undefined too) */
    s.i = (int32_t)((uint32_t)((int32_t)(n == n ? n : 0.0f) + 127) << 23);
    float y = p * s.f;
    return x < lo ? 0.0f : y;
}

static inline float vtanhf(float x) {
    float xc = x > 9.0f ? 9.0f : (x < -9.0f ? -9.0f : x); /* tanh(9) = 1 - 3e-8: 1.0f */
    return 1.0f - 2.0f / (vexpf(2.0f * xc) + 1.0f);
}

static inline float vsigmoidf(float x) { return 1.0f / (1.0f + vexpf(-x)); }

#endif
