/* The row softmax of attention (see rowsoftmax.h): full rows (plain and adaptive), online tiles. */
#include "rowsoftmax.h"

#include "ropelab/softmax.h"

#include "vecmath.h"

#include <math.h>
#include <string.h>

RL_VEC_CLONES static float row_max(const float *z, int n, float m) {
#pragma omp simd reduction(max : m)
    for (int j = 0; j < n; j++) m = z[j] > m ? z[j] : m;
    return m;
}

/* p = exp(b (z - mx)) (p may alias z); returns the sum in float64. b = 1 is exact. */
RL_VEC_CLONES static double exp_sum(float *p, const float *z, float mx, float b, int n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int j = 0; j < n; j++) {
        float e = vexpf(b * (z[j] - mx));
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

float rl_rowsm_forward(float *p, float *st, const float *z, int n, rl_attn_softmax kind) {
    float b = 1.0f;
    if (kind != RL_ATTN_PLAIN) {
        rl_smstat s;
        rl_adaptive_row r;
        rl_smstat_init(&s);
        rl_smstat_update_f32(&s, z, n);
        rl_adaptive_row_from_stat(&r, &s);
        b = (float)r.beta;
        if (st) {
            st[RL_ROWSM_BETA] = b;
            st[RL_ROWSM_DBETA] = (float)r.dbeta_dH;
            st[RL_ROWSM_LSE] = (float)r.lse;
            st[RL_ROWSM_MEANZ] = (float)r.mean_z;
        }
    }
    float mx = row_max(z, n, -INFINITY);
    double s = exp_sum(p, z, mx, b, n); /* max of b z is b mx: b > 0 */
    scale(p, (float)(1.0 / s), n);
    return b;
}

void rl_rowsm_backward(float *dz, const float *dp, const float *p, const float *st, const float *z, int n,
                       rl_attn_softmax kind, float *tmp) {
    if (kind == RL_ATTN_PLAIN) {
        jvp(dz, dp, p, (float)dot(p, dp, n), n);
        return;
    }
    rl_adaptive_row r = {st[RL_ROWSM_LSE], st[RL_ROWSM_MEANZ], 0.0, st[RL_ROWSM_BETA], st[RL_ROWSM_DBETA]};
    memset(tmp, 0, (size_t)n * sizeof *tmp);
    rl_adaptive_row_backward(tmp, dp, p, rl_rowsm_needs_z(st, kind) ? z : NULL, &r,
                             kind == RL_ATTN_ADAPTIVE ? RL_BETA_THROUGH : RL_BETA_CONST, n);
    memcpy(dz, tmp, (size_t)n * sizeof *dz);
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
    double sum = exp_sum(s, s, mx, 1.0f, n); /* exp(-inf) = 0 */
    st->l = st->l * corr + sum;
    st->m = mx;
    return corr;
}

float rl_rowsm_online_end(const rowsm_online *st) { return st->l > 0 ? (float)(1.0 / st->l) : 0.0f; }
