/* AdamW, gradient norm and the learning-rate schedule. */
#include "ropelab/train.h"

#include <math.h>
#include <omp.h>

void rl_adamw_step(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
                   float eps, float wd, int64_t t) {
    const float bc1 = 1.0f - powf(beta1, (float)t);
    const float bc2_sqrt = sqrtf(1.0f - powf(beta2, (float)t));
    const float step_size = lr / bc1, decay = 1.0f - lr * wd;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = m[i] + (gi - m[i]) * (1.0f - beta1); /* torch: exp_avg.lerp_(grad, 1 - beta1) */
        float vi = v[i] * beta2 + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float pi = p[i] * decay;
        p[i] = pi - step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}

double rl_grad_norm(const float *g, size_t n) {
    /* fixed 64 Ki-element blocks, each summed in float64, then the block sums in order */
    const size_t B = 65536;
    size_t nb = (n + B - 1) / B;
    double total = 0;
    if (nb == 0) return 0;
    double partial[256];
    for (size_t b0 = 0; b0 < nb; b0 += 256) {
        size_t cnt = nb - b0 < 256 ? nb - b0 : 256;
#pragma omp parallel for schedule(static) if (cnt > 1)
        for (size_t b = 0; b < cnt; b++) {
            size_t lo = (b0 + b) * B, hi = lo + B < n ? lo + B : n;
            double s = 0;
            for (size_t i = lo; i < hi; i++) s += (double)g[i] * g[i];
            partial[b] = s;
        }
        for (size_t b = 0; b < cnt; b++) total += partial[b];
    }
    return sqrt(total);
}

void rl_scale(float *g, size_t n, float s) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) g[i] *= s;
}

float rl_lr_at(int64_t step, int64_t warmup, int64_t total, float lr_max, float lr_min) {
    if (warmup > 0 && step < warmup) return lr_max * (float)(step + 1) / (float)warmup;
    if (step >= total) return lr_min;
    double span = (double)(total - warmup);
    double frac = span > 0 ? (double)(step - warmup) / span : 1.0;
    return lr_min + (float)(0.5 * (1.0 + cos(M_PI * frac))) * (lr_max - lr_min);
}
