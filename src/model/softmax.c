/* Softmax rows, plain and adaptive-temperature, forward and backward (float32 data, float64 sums). */
#include "ropelab/softmax.h"

#include <math.h>
#include <stddef.h>

void rl_softmax_row_forward(float *p, const float *z, int n, int len) {
    double m = -INFINITY;
    for (int j = 0; j < n; j++)
        if (z[j] > m) m = z[j];
    double s = 0;
    if (m != -INFINITY)
        for (int j = 0; j < n; j++) s += exp((double)z[j] - m);
    double inv = s > 0 ? 1.0 / s : 0.0;
    for (int j = 0; j < n; j++) p[j] = (float)(exp((double)z[j] - m) * inv);
    for (int j = n; j < len; j++) p[j] = 0.0f;
    if (!(s > 0))
        for (int j = 0; j < n; j++) p[j] = 0.0f;
}

void rl_softmax_row_backward(float *dz, const float *dp, const float *p, int n) {
    double dot = 0;
    for (int j = 0; j < n; j++) dot += (double)p[j] * dp[j];
    for (int j = 0; j < n; j++) dz[j] += (float)(p[j] * ((double)dp[j] - dot));
}

void rl_adaptive_row_forward(float *q, rl_adaptive_row *st, const float *z, int n, int len) {
    rl_smstat s;
    rl_smstat_init(&s);
    rl_smstat_update(&s, z, n);
    rl_adaptive_row_from_stat(st, &s);
    for (int j = n; j < len; j++) q[j] = 0.0f;
    if (!(s.s0 > 0)) {
        for (int j = 0; j < n; j++) q[j] = 0.0f;
        return;
    }
    /* softmax(beta z): the max of beta z is beta m since beta > 0 */
    double b = st->beta, m = s.m, sum = 0;
    for (int j = 0; j < n; j++) sum += exp(b * ((double)z[j] - m));
    double inv = 1.0 / sum;
    for (int j = 0; j < n; j++) q[j] = (float)(exp(b * ((double)z[j] - m)) * inv);
}

void rl_adaptive_row_backward(float *dz, const float *dq, const float *q, const float *z, const rl_adaptive_row *st,
                              rl_beta_grad mode, int n) {
    if (!(st->lse > -INFINITY)) return; /* fully masked row: output was constant 0 */
    double dot = 0;
    for (int j = 0; j < n; j++) dot += (double)q[j] * dq[j];
    /* A = Σ g_i z_i, with z centred on mean_z (Σ g = 0, so the shift changes nothing but rounding) */
    double A = 0;
    int through = mode == RL_BETA_THROUGH && st->dbeta_dH != 0;
    if (through)
        for (int j = 0; j < n; j++)
            if (z[j] != -INFINITY) A += q[j] * ((double)dq[j] - dot) * ((double)z[j] - st->mean_z);
    double c = A * st->dbeta_dH;
    for (int j = 0; j < n; j++) {
        double g = q[j] * ((double)dq[j] - dot);
        double v = st->beta * g;
        if (through && z[j] != -INFINITY) {
            double zc = (double)z[j] - st->mean_z;
            double pj = exp((double)z[j] - st->lse);
            v += c * (-pj * zc); /* dH/dz_j = -p_j (z_j - Σ p z) */
        }
        dz[j] += (float)v;
    }
}

void rl_softmax_rows_forward(float *out, rl_adaptive_row *st, const float *z, const int *n_valid, int rows, int len,
                             int adaptive) {
#pragma omp parallel for schedule(static) if ((long)rows * len > 65536)
    for (int i = 0; i < rows; i++) {
        int n = n_valid ? n_valid[i] : len;
        if (n > len) n = len;
        if (n < 0) n = 0;
        float *o = out + (size_t)i * len;
        const float *zi = z + (size_t)i * len;
        if (adaptive) {
            rl_adaptive_row tmp;
            rl_adaptive_row_forward(o, st ? &st[i] : &tmp, zi, n, len);
        } else {
            rl_softmax_row_forward(o, zi, n, len);
        }
    }
}
