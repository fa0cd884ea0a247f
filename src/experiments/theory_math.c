/* The math every theory experiment shares: ladders, the RoPE logit, Su et al.'s bound, Gaussian pairs,
 * per-block random streams and the Bonferroni 3-sigma threshold. */
#include "theory_internal.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

int rl_theory_ladder(double theta, int dim, double **freq) {
    *freq = NULL;
    if (!(theta > 1.0)) return rl_fail("theta %g must be > 1", theta);
    rl_rope_spec s;
    rl_rope_spec_default(&s);
    s.kind = RL_PE_ROPE;
    s.theta = theta;
    rl_rope_freqs f;
    if (rl_rope_freqs_init(&f, &s, dim, 0) != 0) return -1;
    *freq = f.freq; /* take ownership of the table */
    return 0;
}

double rl_theory_logit(const double *freq, int n, const double *q, const double *k, double r) {
    double s = 0;
    for (int j = 0; j < n; j++) {
        double a = q[2 * j] * k[2 * j] + q[2 * j + 1] * k[2 * j + 1];
        double b = q[2 * j + 1] * k[2 * j] - q[2 * j] * k[2 * j + 1];
        double ang = r * freq[j];
        s += a * cos(ang) - b * sin(ang);
    }
    return s;
}

double rl_theory_su_bound(const double *freq, int n, const double *q, const double *k, double r) {
    /* h_j = (q0 + i q1)(k0 - i k1) = a_j + i b_j; h_n = 0 (Su et al.'s convention). */
    double maxdiff = 0, sre = 0, sim = 0, sum_abs = 0;
    for (int j = 0; j < n; j++) {
        double a = q[2 * j] * k[2 * j] + q[2 * j + 1] * k[2 * j + 1];
        double b = q[2 * j + 1] * k[2 * j] - q[2 * j] * k[2 * j + 1];
        double an = 0, bn = 0;
        if (j + 1 < n) {
            an = q[2 * j + 2] * k[2 * j + 2] + q[2 * j + 3] * k[2 * j + 3];
            bn = q[2 * j + 3] * k[2 * j + 2] - q[2 * j + 2] * k[2 * j + 3];
        }
        double dd = hypot(an - a, bn - b);
        if (dd > maxdiff) maxdiff = dd;
        sre += cos(r * freq[j]); /* S_(j+1)(r) */
        sim += sin(r * freq[j]);
        sum_abs += hypot(sre, sim);
    }
    return maxdiff * sum_abs;
}

double rl_theory_z_threshold(int m) {
    if (m < 1) m = 1;
    double target = erfc(3.0 / M_SQRT2) / (double)m; /* P(|Z| > z) = erfc(z / sqrt 2) */
    if (m == 1) return 3.0;
    double lo = 0, hi = 40;
    for (int it = 0; it < 200; it++) { /* erfc is decreasing: bisection to machine precision */
        double mid = 0.5 * (lo + hi);
        if (erfc(mid / M_SQRT2) > target) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

void th_rng(rl_rng *r, uint64_t seed, uint64_t tag, uint64_t index) {
    uint64_t key[2] = {tag, index};
    rl_rng_seed(r, rl_hash64(key, sizeof key, seed * 0x9e3779b97f4a7c15ULL + 1));
}

void th_gaussian_pair(rl_rng *r, int dim, double corr, double *q, double *k) {
    double c2 = sqrt(1.0 - corr * corr);
    for (int i = 0; i < dim; i++) q[i] = rl_rng_normal(r);
    for (int i = 0; i < dim; i++) k[i] = corr * q[i] + c2 * rl_rng_normal(r);
}

void th_pair_coeffs(int n, const double *q, const double *k, double *ab) {
    for (int j = 0; j < n; j++) {
        ab[2 * j] = q[2 * j] * k[2 * j] + q[2 * j + 1] * k[2 * j + 1];
        ab[2 * j + 1] = q[2 * j + 1] * k[2 * j] - q[2 * j] * k[2 * j + 1];
    }
}

void th_trig_row(const double *freq, int n, double r, double *t) {
    for (int j = 0; j < n; j++) {
        t[2 * j] = cos(r * freq[j]);
        t[2 * j + 1] = -sin(r * freq[j]);
    }
}

void th_progress_add(rl_progress *p, int64_t *done, int64_t add) {
    int64_t seen;
#pragma omp atomic capture
    seen = *done += add;
    if (omp_get_thread_num() == 0) rl_progress_update(p, seen, NULL);
}
