/* AVX2+FMA rotation kernel (8 floats per vector, masked tails); see kernels.h for the contract. */
#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#pragma GCC target("avx2,fma")
#include <immintrin.h>

/* Software prefetch of the bytes one head further on, PREFETCH_AHEAD bytes ahead (the next heads of
 * this token, then the next token). The half layout walks each head as two interleaved streams
 * (dims k and k + R/2), which the hardware prefetchers follow poorly: without this, the AVX2 kernel
 * ran at ~0.85 of an in-place streaming op on [4096x16x256], with it at ~1.0 (the distance is not
 * critical: 1 to 8 KiB measured the same). Prefetches never fault, even past the end of x. */
#define PREFETCH_AHEAD 2048
static inline void prefetch_head(const float *xh, int head_dim) {
    const char *p = (const char *)xh + PREFETCH_AHEAD;
    for (int q = 0; q < head_dim * (int)sizeof(float); q += 64) _mm_prefetch(p + q, _MM_HINT_T0);
}

/* Lane masks for a tail of r < 8 floats: load 8 ints starting at tail_mask + 8 - r. */
static const int tail_mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Half layout, one head: a[j], b[j] are the two dims of chunk lo+j.
 * neg flips the sign of sin (xor with -0.0f) for the backward (transposed) rotation. */
static inline void rotate_half(float *a, float *b, const float *c, const float *s, int n, __m256 neg) {
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 x0 = _mm256_loadu_ps(a + j), x1 = _mm256_loadu_ps(b + j);
        __m256 cj = _mm256_loadu_ps(c + j), sj = _mm256_xor_ps(_mm256_loadu_ps(s + j), neg);
        _mm256_storeu_ps(a + j, _mm256_fmsub_ps(x0, cj, _mm256_mul_ps(x1, sj)));
        _mm256_storeu_ps(b + j, _mm256_fmadd_ps(x0, sj, _mm256_mul_ps(x1, cj)));
    }
    if (j < n) {
        __m256i m = _mm256_loadu_si256((const __m256i *)(tail_mask + 8 - (n - j)));
        __m256 x0 = _mm256_maskload_ps(a + j, m), x1 = _mm256_maskload_ps(b + j, m);
        __m256 cj = _mm256_maskload_ps(c + j, m), sj = _mm256_xor_ps(_mm256_maskload_ps(s + j, m), neg);
        _mm256_maskstore_ps(a + j, m, _mm256_fmsub_ps(x0, cj, _mm256_mul_ps(x1, sj)));
        _mm256_maskstore_ps(b + j, m, _mm256_fmadd_ps(x0, sj, _mm256_mul_ps(x1, cj)));
    }
}

/* Interleaved layout, one head: x[2j], x[2j+1] are chunk j of the block. cd holds cos once per dim
 * (c0 c0 c1 c1 ...), sd the signed sin (-s0 +s0 -s1 +s1 ... forward), so that
 * x' = x*cd + swap_pairs(x)*sd. n2 = 2 * chunks. */
static inline void rotate_pairs(float *x, const float *cd, const float *sd, int n2) {
    int i = 0;
    for (; i + 8 <= n2; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 sw = _mm256_permute_ps(v, 0xB1); /* swap each (even, odd) pair */
        _mm256_storeu_ps(x + i, _mm256_fmadd_ps(v, _mm256_loadu_ps(cd + i), _mm256_mul_ps(sw, _mm256_loadu_ps(sd + i))));
    }
    if (i < n2) { /* n2 - i is even, so pairs stay whole */
        __m256i m = _mm256_loadu_si256((const __m256i *)(tail_mask + 8 - (n2 - i)));
        __m256 v = _mm256_maskload_ps(x + i, m);
        __m256 sw = _mm256_permute_ps(v, 0xB1);
        __m256 r = _mm256_fmadd_ps(v, _mm256_maskload_ps(cd + i, m), _mm256_mul_ps(sw, _mm256_maskload_ps(sd + i, m)));
        _mm256_maskstore_ps(x + i, m, r);
    }
}

/* Expands n chunks of cos/sin to the per-dim form rotate_pairs wants. sign: the sign bits to put on
 * the even lanes of sd (forward: -0.0f on even lanes; backward: on odd lanes). */
static inline void expand_pairs(const float *c, const float *s, int n, float sgn, float *cd, float *sd) {
    const __m256 flip = sgn > 0 ? _mm256_setr_ps(-0.0f, 0.0f, -0.0f, 0.0f, -0.0f, 0.0f, -0.0f, 0.0f)
                                : _mm256_setr_ps(0.0f, -0.0f, 0.0f, -0.0f, 0.0f, -0.0f, 0.0f, -0.0f);
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 c8 = _mm256_loadu_ps(c + j), s8 = _mm256_loadu_ps(s + j);
        __m256 clo = _mm256_unpacklo_ps(c8, c8), chi = _mm256_unpackhi_ps(c8, c8); /* c0c0c1c1|c4c4c5c5 ... */
        __m256 slo = _mm256_unpacklo_ps(s8, s8), shi = _mm256_unpackhi_ps(s8, s8);
        _mm256_storeu_ps(cd + 2 * j, _mm256_permute2f128_ps(clo, chi, 0x20));
        _mm256_storeu_ps(cd + 2 * j + 8, _mm256_permute2f128_ps(clo, chi, 0x31));
        _mm256_storeu_ps(sd + 2 * j, _mm256_xor_ps(_mm256_permute2f128_ps(slo, shi, 0x20), flip));
        _mm256_storeu_ps(sd + 2 * j + 8, _mm256_xor_ps(_mm256_permute2f128_ps(slo, shi, 0x31), flip));
    }
    for (; j < n; j++) {
        cd[2 * j] = cd[2 * j + 1] = c[j];
        sd[2 * j] = -sgn * s[j];
        sd[2 * j + 1] = sgn * s[j];
    }
}

void rl_rope_token_avx2(float *x, int n_heads, int head_dim, const float *c, const float *s, int n_active,
                        int lo, int half, rl_layout layout, float sgn) {
    if (layout == RL_LAYOUT_HALF) {
        const __m256 neg = _mm256_set1_ps(sgn > 0 ? 0.0f : -0.0f);
        for (int h = 0; h < n_heads; h++) {
            float *xh = x + (size_t)h * head_dim;
            prefetch_head(xh, head_dim);
            rotate_half(xh + lo, xh + lo + half, c, s, n_active, neg);
        }
        return;
    }
    /* Interleaved: the expanded cos/sin of a block is built once and reused by every head. */
    float cd[2 * RL_ROPE_BLOCK] __attribute__((aligned(32))), sd[2 * RL_ROPE_BLOCK] __attribute__((aligned(32)));
    for (int j0 = 0; j0 < n_active; j0 += RL_ROPE_BLOCK) {
        int nb = n_active - j0 < RL_ROPE_BLOCK ? n_active - j0 : RL_ROPE_BLOCK;
        expand_pairs(c + j0, s + j0, nb, sgn, cd, sd);
        for (int h = 0; h < n_heads; h++) {
            float *xh = x + (size_t)h * head_dim;
            if (j0 == 0) prefetch_head(xh, head_dim);
            rotate_pairs(xh + 2 * (lo + j0), cd, sd, 2 * nb);
        }
    }
}

#else /* not x86: never selected (apply.c only offers it when the CPU reports AVX2+FMA) */
void rl_rope_token_avx2(float *x, int n_heads, int head_dim, const float *c, const float *s, int n_active,
                        int lo, int half, rl_layout layout, float sgn) {
    rl_rope_token_portable(x, n_heads, head_dim, c, s, n_active, lo, half, layout, sgn);
}
#endif
