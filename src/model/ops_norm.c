/* Normalisation layers: RMSNorm (forward + backward, optional Gemma 1+w) and LayerNorm (forward). */
#include "ropelab/model.h"

#include <math.h>

/* out: [N][D]; rstd: [N] or NULL; in: [N][D]; w: [D]. */
void rl_rmsnorm_forward(float *out, float *rstd, const float *in, const float *w, int plus_one, float eps, int N,
                        int D) {
#pragma omp parallel for schedule(static) if ((size_t)N * D > 32768)
    for (int i = 0; i < N; i++) {
        const float *x = in + (size_t)i * D;
        float *y = out + (size_t)i * D;
        double ss = 0;
        for (int j = 0; j < D; j++) ss += (double)x[j] * x[j];
        float r = (float)(1.0 / sqrt(ss / D + eps));
        if (rstd) rstd[i] = r;
        if (plus_one)
            for (int j = 0; j < D; j++) y[j] = x[j] * r * (1.0f + w[j]);
        else
            for (int j = 0; j < D; j++) y[j] = x[j] * r * w[j];
    }
}

/* din: [N][D] (+=); dw: [D] (+=) or NULL; dout, in: [N][D]; w: [D]; rstd: [N].
 * With g = w (or 1 + w) and y = x r g, r = (mean(x^2) + eps)^(-1/2):
 *   dx_j = r g_j dy_j - (r^3 / D) x_j sum_k dy_k g_k x_k,   dw_j = sum_rows dy_j x_j r. */
void rl_rmsnorm_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                         const float *rstd, int plus_one, int N, int D) {
#pragma omp parallel for schedule(static) if ((size_t)N * D > 32768)
    for (int i = 0; i < N; i++) {
        const float *x = in + (size_t)i * D, *dy = dout + (size_t)i * D;
        float *dx = din + (size_t)i * D;
        float r = rstd[i];
        double dot = 0;
        for (int j = 0; j < D; j++) dot += (double)dy[j] * (plus_one ? 1.0f + w[j] : w[j]) * x[j];
        float c = (float)(dot * r * r * r / D);
        for (int j = 0; j < D; j++) dx[j] += r * (plus_one ? 1.0f + w[j] : w[j]) * dy[j] - c * x[j];
    }
    if (dw) {
        /* each thread owns a block of columns and sums rows in order: deterministic */
#pragma omp parallel for schedule(static) if ((size_t)N * D > 32768)
        for (int j = 0; j < D; j++) {
            double s = 0;
            for (int i = 0; i < N; i++) s += (double)dout[(size_t)i * D + j] * in[(size_t)i * D + j] * rstd[i];
            dw[j] += (float)s;
        }
    }
}

/* out: [N][D]; in: [N][D]; w, b: [D]. */
void rl_layernorm_forward(float *out, const float *in, const float *w, const float *b, float eps, int N, int D) {
#pragma omp parallel for schedule(static) if ((size_t)N * D > 32768)
    for (int i = 0; i < N; i++) {
        const float *x = in + (size_t)i * D;
        float *y = out + (size_t)i * D;
        double m = 0, v = 0;
        for (int j = 0; j < D; j++) m += x[j];
        m /= D;
        for (int j = 0; j < D; j++) v += (x[j] - m) * (x[j] - m);
        float r = (float)(1.0 / sqrt(v / D + eps));
        for (int j = 0; j < D; j++) y[j] = (float)(x[j] - m) * r * w[j] + b[j];
    }
}
