/* Portable rotation kernel: plain loops in ISO C (the fallback on every CPU); see kernels.h. */
#include "kernels.h"

void rl_rope_token_portable(float *x, int n_heads, int head_dim, const float *c, const float *s, int n_active,
                            int lo, int half, rl_layout layout, float sgn) {
    for (int h = 0; h < n_heads; h++) {
        float *xh = x + (size_t)h * head_dim;
        if (layout == RL_LAYOUT_HALF) {
            float *a = xh + lo, *b = xh + lo + half;
            for (int j = 0; j < n_active; j++) {
                float x0 = a[j], x1 = b[j], cj = c[j], sj = sgn * s[j];
                a[j] = x0 * cj - x1 * sj;
                b[j] = x0 * sj + x1 * cj;
            }
        } else {
            float *a = xh + 2 * lo;
            for (int j = 0; j < n_active; j++) {
                float x0 = a[2 * j], x1 = a[2 * j + 1], cj = c[j], sj = sgn * s[j];
                a[2 * j] = x0 * cj - x1 * sj;
                a[2 * j + 1] = x0 * sj + x1 * cj;
            }
        }
    }
}
