/* The row softmax of attention (see rowsoftmax.h): full rows, online tiles, statistics pass. */
#include "rowsoftmax.h"

#include "vecmath.h"

#include <math.h>

RL_VEC_CLONES static float row_max(const float *z, int n, float m) {
#pragma omp simd reduction(max : m)
    for (int j = 0; j < n; j++) m = z[j] > m ? z[j] : m;
    return m;
}

/* p = exp(z - mx) (p may alias z); returns the sum in float64. */
RL_VEC_CLONES static double exp_sum(float *p, const float *z, float mx, int n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int j = 0; j < n; j++) {
        float e = vexpf(z[j] - mx);
        p[j] = e;
        s += e;
    }
    return s;
}

RL_VEC_CLONES static void scale(float *p, float a, int n) {
#pragma omp simd
    for (int j = 0; j < n; j++) p[j] *= a;
}

RL_VEC_CLONES static double dot(const float *a, const float *b, int n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int j = 0; j < n; j++) s += (double)a[j] * b[j];
    return s;
}

RL_VEC_CLONES static void jvp(float *dz, const float *dp, const float *p, float d, int n) {
#pragma omp simd
    for (int j = 0; j < n; j++) dz[j] = p[j] * (dp[j] - d);
}

void rl_rowsm_forward(float *p, const float *z, int n) {
    float mx = row_max(z, n, -INFINITY);
    double s = exp_sum(p, z, mx, n);
    scale(p, (float)(1.0 / s), n);
}

void rl_rowsm_backward(float *dz, const float *dp, const float *p, int n) {
    jvp(dz, dp, p, (float)dot(p, dp, n), n);
}

void rl_rowsm_online_begin(rowsm_online *st) {
    st->m = -INFINITY;
    st->l = 0;
}

float rl_rowsm_online_step(rowsm_online *st, float *s, int n) {
    float mx = row_max(s, n, st->m);
    if (mx == -INFINITY) {
        for (int j = 0; j < n; j++) s[j] = 0;
        return 1.0f;
    }
    float corr = st->m == -INFINITY ? 0.0f : vexpf(st->m - mx);
    double sum = exp_sum(s, s, mx, n); /* exp(-inf) = 0 */
    st->l = st->l * corr + sum;
    st->m = mx;
    return corr;
}

float rl_rowsm_online_end(const rowsm_online *st) { return st->l > 0 ? (float)(1.0 / st->l) : 0.0f; }

void rl_rowsm_stats_begin(rowsm_stats *st) {
    st->m = -INFINITY;
    st->l = st->lz = 0;
}

void rl_rowsm_stats_step(rowsm_stats *st, const float *s, int n) {
    float mx = row_max(s, n, st->m);
    if (mx == -INFINITY) return;
    double l = 0, lz = 0;
    for (int j = 0; j < n; j++) {
        if (s[j] == -INFINITY) continue;
        double e = exp((double)s[j] - mx);
        l += e;
        lz += e * ((double)s[j] - mx);
    }
    if (st->m == -INFINITY) {
        st->l = l;
        st->lz = lz;
    } else {
        /* re-centre on the new max: e_j scales by corr and (z_j - m) shifts by (m_old - m_new) */
        double corr = exp((double)st->m - mx);
        st->lz = (st->lz + st->l * ((double)st->m - mx)) * corr + lz;
        st->l = st->l * corr + l;
    }
    st->m = mx;
}

double rl_rowsm_stats_entropy(const rowsm_stats *st) { return log(st->l) - st->lz / st->l; }
