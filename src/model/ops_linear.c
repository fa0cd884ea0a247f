/* Linear layers on OpenBLAS: out = in · Wᵀ + b and its backward. */
#include "ropelab/model.h"

#include <cblas.h>

/* out: [N][OC]; in: [N][C]; w: [OC][C]; b: [OC] or NULL. */
void rl_linear_forward(float *out, const float *in, const float *w, const float *b, int N, int C, int OC) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, in, C, w, C, 0.0f, out, OC);
    if (b) {
#pragma omp parallel for schedule(static) if ((size_t)N * OC > 65536)
        for (int i = 0; i < N; i++)
            for (int o = 0; o < OC; o++) out[(size_t)i * OC + o] += b[o];
    }
}

/* din: [N][C] (+=); dw: [OC][C] (+=); db: [OC] (+=); dout: [N][OC]; in: [N][C]; w: [OC][C]. */
void rl_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int N,
                        int C, int OC) {
    if (din) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, w, C, 1.0f, din, C);
    if (dw) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, in, C, 1.0f, dw, C);
    if (db) {
        /* column sums; each thread owns a block of columns, rows summed in order: deterministic */
#pragma omp parallel for schedule(static) if ((size_t)N * OC > 65536)
        for (int o = 0; o < OC; o++) {
            double s = 0;
            for (int i = 0; i < N; i++) s += dout[(size_t)i * OC + o];
            db[o] += (float)s;
        }
    }
}
