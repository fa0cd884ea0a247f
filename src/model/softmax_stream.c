/* Streaming softmax statistics (max, Σe, Σ(z-m)e), the temperature polynomial, and the tiled references. */
#include "ropelab/softmax.h"

#include "vecmath.h"

#include <math.h>
#include <stdlib.h>

double rl_adaptive_poly(double H) {
    return (((-0.037 * H + 0.481) * H - 2.3) * H + 4.917) * H - 1.791;
}

double rl_adaptive_beta(double H, double *dbeta_dH) {
    double b = 1.0, d = 0.0;
    if (H > 0.5) {
        double p = rl_adaptive_poly(H);
        if (p > 1.0) { /* strict: at p == 1 (a kink) we stay on the flat side, derivative 0 */
            b = p;
            d = ((-4 * 0.037 * H + 3 * 0.481) * H - 2 * 2.3) * H + 4.917;
        }
    }
    if (dbeta_dH) *dbeta_dH = d;
    return b;
}

void rl_smstat_init(rl_smstat *s) {
    s->m = -INFINITY;
    s->s0 = 0;
    s->s1 = 0;
}

/* Re-bases a state from max m to a larger max mn: e^(z-mn) = c e^(z-m), (z-mn) = (z-m) + (m-mn). */
static void rebase(rl_smstat *s, double mn) {
    if (s->s0 == 0) {
        s->m = mn;
        return;
    }
    double c = exp(s->m - mn);
    s->s1 = c * (s->s1 + (s->m - mn) * s->s0);
    s->s0 = c * s->s0;
    s->m = mn;
}

void rl_smstat_update(rl_smstat *s, const float *z, int n) {
    double tm = -INFINITY;
    for (int j = 0; j < n; j++)
        if (z[j] > tm) tm = z[j];
    if (tm == -INFINITY) return; /* empty or fully masked tile */
    if (tm > s->m) rebase(s, tm);
    double s0 = 0, s1 = 0, m = s->m;
    for (int j = 0; j < n; j++) {
        if (z[j] == -INFINITY) continue;
        double d = (double)z[j] - m, e = exp(d);
        s0 += e;
        s1 += d * e;
    }
    s->s0 += s0;
    s->s1 += s1;
}

RL_VEC_CLONES static float tile_max(const float *z, int n) {
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int j = 0; j < n; j++) m = z[j] > m ? z[j] : m;
    return m;
}

/* *s0 = Σ e^(z-m), *s1 = Σ (z-m) e^(z-m) with float32 terms (masked entries add 0: vexpf(-inf) = 0 and
 * their (z-m) e term is selected away, since -inf * 0 would be NaN). */
RL_VEC_CLONES static void fold_f32(const float *z, int n, float m, double *s0, double *s1) {
    double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
    for (int j = 0; j < n; j++) {
        float d = z[j] - m, e = vexpf(d);
        a += e;
        b += z[j] == -INFINITY ? 0.0f : d * e;
    }
    *s0 = a;
    *s1 = b;
}

void rl_smstat_update_f32(rl_smstat *s, const float *z, int n) {
    float tm = tile_max(z, n);
    if (tm == -INFINITY) return; /* empty or fully masked tile */
    if (tm > s->m) rebase(s, tm);
    double s0, s1;
    fold_f32(z, n, (float)s->m, &s0, &s1); /* s->m is one of the float logits: exact as a float */
    s->s0 += s0;
    s->s1 += s1;
}

void rl_smstat_merge(rl_smstat *a, const rl_smstat *b) {
    if (b->s0 == 0) return;
    rl_smstat bb = *b;
    double mn = a->m > bb.m ? a->m : bb.m;
    rebase(a, mn);
    rebase(&bb, mn);
    a->s0 += bb.s0;
    a->s1 += bb.s1;
}

double rl_smstat_lse(const rl_smstat *s) {
    return s->s0 > 0 ? s->m + log(s->s0) : -INFINITY;
}

double rl_smstat_entropy(const rl_smstat *s) {
    if (!(s->s0 > 0)) return 0;
    double H = log(s->s0) - s->s1 / s->s0;
    return H > 0 ? H : 0; /* rounding can leave -1e-17 for a one-hot row */
}

double rl_smstat_beta(const rl_smstat *s) {
    return rl_adaptive_beta(rl_smstat_entropy(s), NULL);
}

double rl_smstat_mean(const rl_smstat *s) { return s->s0 > 0 ? s->m + s->s1 / s->s0 : 0.0; }

void rl_adaptive_row_from_stat(rl_adaptive_row *st, const rl_smstat *s) {
    st->lse = rl_smstat_lse(s);
    st->H = rl_smstat_entropy(s);
    st->mean_z = rl_smstat_mean(s);
    st->beta = rl_adaptive_beta(st->H, &st->dbeta_dH);
}

void rl_adaptive_beta_tiled(float *beta, const float *z, const int *n_valid, int n_q, int n_k, int T) {
    if (T < 1) T = 1;
#pragma omp parallel for schedule(static) if ((long)n_q * n_k > 65536)
    for (int i = 0; i < n_q; i++) {
        int n = n_valid ? n_valid[i] : n_k;
        if (n > n_k) n = n_k;
        rl_smstat s;
        rl_smstat_init(&s);
        for (int t0 = 0; t0 < n; t0 += T) {
            rl_smstat tile; /* a fresh state per tile, merged: the form a parallel tiled kernel uses */
            rl_smstat_init(&tile);
            rl_smstat_update(&tile, z + (size_t)i * n_k + t0, n - t0 < T ? n - t0 : T);
            rl_smstat_merge(&s, &tile);
        }
        beta[i] = (float)rl_smstat_beta(&s);
    }
}

void rl_adaptive_attention_tiled_ref(float *out, float *beta_out, const float *z, const float *v, const int *n_valid,
                                     int n_q, int n_k, int dv, int T, int adaptive) {
    if (T < 1) T = 1;
#pragma omp parallel for schedule(static) if ((long)n_q * n_k * dv > 65536)
    for (int i = 0; i < n_q; i++) {
        int n = n_valid ? n_valid[i] : n_k;
        if (n > n_k) n = n_k;
        const float *zi = z + (size_t)i * n_k;
        /* pass 1: statistics over key tiles -> beta */
        double beta = 1.0;
        if (adaptive) {
            rl_smstat s;
            rl_smstat_init(&s);
            for (int t0 = 0; t0 < n; t0 += T) rl_smstat_update(&s, zi + t0, n - t0 < T ? n - t0 : T);
            beta = rl_smstat_beta(&s);
        }
        if (beta_out) beta_out[i] = (float)beta;
        /* pass 2: online softmax of beta*z with V */
        double *acc = calloc((size_t)dv > 0 ? (size_t)dv : 1, sizeof *acc);
        double mrun = -INFINITY, l = 0;
        for (int t0 = 0; t0 < n; t0 += T) {
            int te = n - t0 < T ? n : t0 + T;
            double tm = -INFINITY;
            for (int j = t0; j < te; j++)
                if (zi[j] != -INFINITY && beta * zi[j] > tm) tm = beta * zi[j];
            if (tm == -INFINITY) continue;
            if (tm > mrun) {
                double c = l > 0 ? exp(mrun - tm) : 0;
                l *= c;
                for (int d = 0; d < dv; d++) acc[d] *= c;
                mrun = tm;
            }
            for (int j = t0; j < te; j++) {
                if (zi[j] == -INFINITY) continue;
                double e = exp(beta * zi[j] - mrun);
                l += e;
                const float *vj = v + (size_t)j * dv;
                for (int d = 0; d < dv; d++) acc[d] += e * vj[d];
            }
        }
        for (int d = 0; d < dv; d++) out[(size_t)i * dv + d] = l > 0 ? (float)(acc[d] / l) : 0.0f;
        free(acc);
    }
}

void rl_adaptive_attention_tiled_backward_ref(float *dz, float *dv, const float *z, const float *v, const float *out,
                                              const float *dout, const int *n_valid, int n_q, int n_k, int dv_dim,
                                              int T, int adaptive, rl_beta_grad mode) {
    if (T < 1) T = 1;
    for (int i = 0; i < n_q; i++) {
        int n = n_valid ? n_valid[i] : n_k;
        if (n > n_k) n = n_k;
        const float *zi = z + (size_t)i * n_k, *doi = dout + (size_t)i * dv_dim, *oi = out + (size_t)i * dv_dim;
        float *dzi = dz + (size_t)i * n_k;
        /* pass 1 of the forward: plain statistics -> beta, H, lse, mean logit */
        rl_smstat s;
        rl_smstat_init(&s);
        for (int t0 = 0; t0 < n; t0 += T) rl_smstat_update(&s, zi + t0, n - t0 < T ? n - t0 : T);
        if (!(s.s0 > 0)) continue; /* no valid key: the output was 0, nothing flows back */
        double dbeta = 0, beta = adaptive ? rl_adaptive_beta(rl_smstat_entropy(&s), &dbeta) : 1.0;
        double lse = rl_smstat_lse(&s), mean_z = rl_smstat_mean(&s);
        /* sweep 1: log-sum-exp of beta z (online over tiles) and D = dout . out */
        double mb = -INFINITY, lb = 0, D = 0;
        for (int t0 = 0; t0 < n; t0 += T) {
            int te = n - t0 < T ? n : t0 + T;
            for (int j = t0; j < te; j++) {
                if (zi[j] == -INFINITY) continue;
                double u = beta * zi[j];
                if (u > mb) {
                    lb = lb * exp(mb - u);
                    mb = u;
                }
                lb += exp(u - mb);
            }
        }
        double L = mb + log(lb);
        for (int d = 0; d < dv_dim; d++) D += (double)doi[d] * oi[d];
        /* sweep 2: dz (const-beta part), dv, and A */
        double A = 0;
        for (int t0 = 0; t0 < n; t0 += T) {
            int te = n - t0 < T ? n : t0 + T;
            for (int j = t0; j < te; j++) {
                if (zi[j] == -INFINITY) continue;
                const float *vj = v + (size_t)j * dv_dim;
                float *dvj = dv + (size_t)j * dv_dim;
                double a = exp(beta * zi[j] - L), da = 0;
                for (int d = 0; d < dv_dim; d++) {
                    da += (double)doi[d] * vj[d];
                    dvj[d] += (float)(a * doi[d]);
                }
                double g = a * (da - D);
                dzi[j] += (float)(beta * g);
                A += g * ((double)zi[j] - mean_z);
            }
        }
        /* sweep 3: the through-beta term */
        if (adaptive && mode == RL_BETA_THROUGH && dbeta != 0)
            for (int t0 = 0; t0 < n; t0 += T) {
                int te = n - t0 < T ? n : t0 + T;
                for (int j = t0; j < te; j++) {
                    if (zi[j] == -INFINITY) continue;
                    double zc = (double)zi[j] - mean_z;
                    dzi[j] += (float)(A * dbeta * (-exp((double)zi[j] - lse) * zc));
                }
            }
    }
}
