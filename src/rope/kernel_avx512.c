/* AVX-512F rotation kernel (16 floats per vector, mask-register tails); see kernels.h for the contract. */
#include "kernels.h"

#if defined(__x86_64__)
#pragma GCC target("avx512f")
#include <immintrin.h>

/* Software prefetch one head further on, PREFETCH_AHEAD bytes ahead: see kernel_avx2.c for why. */
#define PREFETCH_AHEAD 2048
static inline void prefetch_head(const float *xh, int head_dim) {
    const char *p = (const char *)xh + PREFETCH_AHEAD;
    for (int q = 0; q < head_dim * (int)sizeof(float); q += 64) _mm_prefetch(p + q, _MM_HINT_T0);
}

static inline __mmask16 tail(int r) { return (__mmask16)((1u << r) - 1u); } /* r in 1..15 */

/* Half layout, one head: a[j], b[j] are the two dims of chunk lo+j. neg flips the sign of sin
 * (xor with -0.0f) for the backward rotation. */
static inline void rotate_half(float *a, float *b, const float *c, const float *s, int n, __m512i neg) {
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 x0 = _mm512_loadu_ps(a + j), x1 = _mm512_loadu_ps(b + j);
        __m512 cj = _mm512_loadu_ps(c + j);
        __m512 sj = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(_mm512_loadu_ps(s + j)), neg));
        _mm512_storeu_ps(a + j, _mm512_fmsub_ps(x0, cj, _mm512_mul_ps(x1, sj)));
        _mm512_storeu_ps(b + j, _mm512_fmadd_ps(x0, sj, _mm512_mul_ps(x1, cj)));
    }
    if (j < n) {
        __mmask16 m = tail(n - j);
        __m512 x0 = _mm512_maskz_loadu_ps(m, a + j), x1 = _mm512_maskz_loadu_ps(m, b + j);
        __m512 cj = _mm512_maskz_loadu_ps(m, c + j);
        __m512 sj = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(_mm512_maskz_loadu_ps(m, s + j)), neg));
        _mm512_mask_storeu_ps(a + j, m, _mm512_fmsub_ps(x0, cj, _mm512_mul_ps(x1, sj)));
        _mm512_mask_storeu_ps(b + j, m, _mm512_fmadd_ps(x0, sj, _mm512_mul_ps(x1, cj)));
    }
}

/* Interleaved layout, one head: x' = x*cd + swap_pairs(x)*sd over n2 = 2*chunks floats
 * (cd = c0 c0 c1 c1 ..., sd = -s0 +s0 -s1 +s1 ... forward). */
static inline void rotate_pairs(float *x, const float *cd, const float *sd, int n2) {
    int i = 0;
    for (; i + 16 <= n2; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512 sw = _mm512_permute_ps(v, 0xB1); /* swap each (even, odd) pair */
        _mm512_storeu_ps(x + i, _mm512_fmadd_ps(v, _mm512_loadu_ps(cd + i), _mm512_mul_ps(sw, _mm512_loadu_ps(sd + i))));
    }
    if (i < n2) { /* n2 - i is even, so pairs stay whole */
        __mmask16 m = tail(n2 - i);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __m512 sw = _mm512_permute_ps(v, 0xB1);
        __m512 r = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(m, cd + i), _mm512_mul_ps(sw, _mm512_maskz_loadu_ps(m, sd + i)));
        _mm512_mask_storeu_ps(x + i, m, r);
    }
}

/* Expands n chunks of cos/sin to one value per dim; the sign of sin goes on the even lanes
 * (forward) or the odd lanes (backward). */
static inline void expand_pairs(const float *c, const float *s, int n, float sgn, float *cd, float *sd) {
    const __m512i dup_lo = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i dup_hi = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    const int e = (int)0x80000000u;
    const __m512i flip = sgn > 0 ? _mm512_setr_epi32(e, 0, e, 0, e, 0, e, 0, e, 0, e, 0, e, 0, e, 0)
                                 : _mm512_setr_epi32(0, e, 0, e, 0, e, 0, e, 0, e, 0, e, 0, e, 0, e);
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 c16 = _mm512_loadu_ps(c + j), s16 = _mm512_loadu_ps(s + j);
        _mm512_storeu_ps(cd + 2 * j, _mm512_permutexvar_ps(dup_lo, c16));
        _mm512_storeu_ps(cd + 2 * j + 16, _mm512_permutexvar_ps(dup_hi, c16));
        __m512i slo = _mm512_castps_si512(_mm512_permutexvar_ps(dup_lo, s16));
        __m512i shi = _mm512_castps_si512(_mm512_permutexvar_ps(dup_hi, s16));
        _mm512_storeu_ps(sd + 2 * j, _mm512_castsi512_ps(_mm512_xor_si512(slo, flip)));
        _mm512_storeu_ps(sd + 2 * j + 16, _mm512_castsi512_ps(_mm512_xor_si512(shi, flip)));
    }
    for (; j < n; j++) {
        cd[2 * j] = cd[2 * j + 1] = c[j];
        sd[2 * j] = -sgn * s[j];
        sd[2 * j + 1] = sgn * s[j];
    }
}

void rl_rope_token_avx512(float *x, int n_heads, int head_dim, const float *c, const float *s, int n_active,
                          int lo, int half, rl_layout layout, float sgn) {
    if (layout == RL_LAYOUT_HALF) {
        const __m512i neg = _mm512_set1_epi32(sgn > 0 ? 0 : (int)0x80000000u);
        for (int h = 0; h < n_heads; h++) {
            float *xh = x + (size_t)h * head_dim;
            prefetch_head(xh, head_dim);
            rotate_half(xh + lo, xh + lo + half, c, s, n_active, neg);
        }
        return;
    }
    float cd[2 * RL_ROPE_BLOCK] __attribute__((aligned(64))), sd[2 * RL_ROPE_BLOCK] __attribute__((aligned(64)));
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

#else /* not x86-64: never selected */
void rl_rope_token_avx512(float *x, int n_heads, int head_dim, const float *c, const float *s, int n_active,
                          int lo, int half, rl_layout layout, float sgn) {
    rl_rope_token_portable(x, n_heads, head_dim, c, s, n_active, lo, half, layout, sgn);
}
#endif
