/* Normalisation layers: RMSNorm (forward + backward, optional Gemma 1+w) and LayerNorm (forward). */
#include "ropelab/model.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

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
 *   dx_j = r g_j dy_j - (r^3 / D) x_j sum_k dy_k g_k x_k,   dw_j = sum_rows dy_j x_j r.
 * Each thread takes a fixed block of rows and sums its share of dw in float64; the partial sums
 * are then added in thread order: deterministic for a given thread count, and row-major access. */
void rl_rmsnorm_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                         const float *rstd, int plus_one, int N, int D) {
    const int nt = (size_t)N * D > 32768 ? omp_get_max_threads() : 1;
    double *part = dw ? calloc((size_t)nt * D, sizeof *part) : NULL;
    if (dw && !part) { /* out of memory for a few KiB: column sums, slower but the same result */
        for (int j = 0; j < D; j++) {
            double s = 0;
            for (int i = 0; i < N; i++) s += (double)dout[(size_t)i * D + j] * in[(size_t)i * D + j] * rstd[i];
            dw[j] += (float)s;
        }
    }
#pragma omp parallel num_threads(nt)
    {
        const int id = omp_get_thread_num(), n = omp_get_num_threads();
        const int i0 = (int)((long)N * id / n), i1 = (int)((long)N * (id + 1) / n);
        double *pd = part ? part + (size_t)id * D : NULL;
        for (int i = i0; i < i1; i++) {
            const float *x = in + (size_t)i * D, *dy = dout + (size_t)i * D;
            float *dx = din + (size_t)i * D;
            float r = rstd[i];
            double dot = 0;
            for (int j = 0; j < D; j++) dot += (double)dy[j] * (plus_one ? 1.0f + w[j] : w[j]) * x[j];
            float c = (float)(dot * r * r * r / D);
            for (int j = 0; j < D; j++) dx[j] += r * (plus_one ? 1.0f + w[j] : w[j]) * dy[j] - c * x[j];
            if (pd)
                for (int j = 0; j < D; j++) pd[j] += (double)dy[j] * x[j] * r;
        }
        if (part) {
#pragma omp barrier
            const int j0 = (int)((long)D * id / n), j1 = (int)((long)D * (id + 1) / n);
            for (int j = j0; j < j1; j++) {
                double s = 0;
                for (int t = 0; t < n; t++) s += part[(size_t)t * D + j];
                dw[j] += (float)s;
            }
        }
    }
    free(part);
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
