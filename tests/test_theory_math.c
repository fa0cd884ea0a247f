/* theory math: the logit against librope's own rotation, Su et al.'s bound against its Abel-summation
 * identity, the ladder, and the Bonferroni threshold. */
#include "helpers.h"
#include "ropelab/experiments.h"
#include "ropelab/rope.h"
#include "ropelab/util.h"

#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The ladder is librope's: g_j = theta^(-2j/d). 1e-15 relative: one pow() rounding. */
Test(theory_math, ladder_is_ropes) {
    double *g;
    cr_assert_eq(rl_theory_ladder(10000, 256, &g), 0, "%s", rl_error());
    for (int j = 0; j < 128; j++) {
        double ref = pow(10000.0, -2.0 * j / 256.0);
        cr_assert(fabs(g[j] - ref) <= 1e-15 * ref, "g[%d] = %.17g, expected %.17g", j, g[j], ref);
    }
    free(g);
    cr_assert_eq(rl_theory_ladder(10000, 7, &g), -1);
    cr_assert_eq(rl_theory_ladder(0.5, 8, &g), -1);
}

/* The theory's logit at distance r equals (R^i q)^T (R^(i-r) k) computed with librope's float32
 * rotation (rl_rope_forward at positions i and i - r), for both pair layouts. Tolerance: float32
 * rounding of the inputs' rotation, ~6e-8 per element, accumulated over d = 64 products of O(1) values
 * and inputs rounded to float32: 2e-5 * |q| |k| is ~ 20x that. */
static void logit_matches_librope(rl_layout layout) {
    const int d = 64, n = d / 2;
    rl_rope_spec s;
    rl_rope_spec_default(&s);
    s.layout = layout;
    rl_rope rope;
    cr_assert_eq(rl_rope_init(&rope, &s, d, 4096, 0), 0, "%s", rl_error());
    rl_rng rng;
    rl_rng_seed(&rng, 99);
    const int pos_q[3] = {0, 1000, 3000};
    const int dist[5] = {0, 1, 7, 400, 999};
    for (int t = 0; t < 3; t++)
        for (int u = 0; u < 5; u++) {
            float qf[64], kf[64];
            double q[64], k[64]; /* chunk pairs, from the float values */
            for (int i = 0; i < d; i++) {
                qf[i] = (float)rl_rng_normal(&rng);
                kf[i] = (float)rl_rng_normal(&rng);
            }
            for (int j = 0; j < n; j++) {
                int i0, i1;
                rl_rope_chunk_dims(&rope.f, j, &i0, &i1);
                q[2 * j] = qf[i0];
                q[2 * j + 1] = qf[i1];
                k[2 * j] = kf[i0];
                k[2 * j + 1] = kf[i1];
            }
            int32_t pq = pos_q[t], pk = pos_q[t] - dist[u];
            if (pk < 0) continue;
            rl_rope_forward(&rope, qf, 1, 1, &pq);
            rl_rope_forward(&rope, kf, 1, 1, &pk);
            double ref = 0, nq = 0, nk = 0;
            for (int i = 0; i < d; i++) {
                ref += (double)qf[i] * kf[i];
                nq += (double)qf[i] * qf[i];
                nk += (double)kf[i] * kf[i];
            }
            double got = rl_theory_logit(rope.f.freq, n, q, k, dist[u]);
            cr_assert(fabs(got - ref) <= 2e-5 * sqrt(nq * nk), "layout %d, pos %d, r %d: theory %.9g, librope %.9g",
                      (int)layout, pq, dist[u], got, ref);
        }
    rl_rope_free(&rope);
}

Test(theory_math, logit_is_librope_rotation_half) { logit_matches_librope(RL_LAYOUT_HALF); }
Test(theory_math, logit_is_librope_rotation_interleaved) { logit_matches_librope(RL_LAYOUT_INTERLEAVED); }

/* All-ones q = k: logit(r) = sum_j 2 cos(r g_j) (closed form); Su's bound = 2 sum_j |S_j(r)|, which
 * is n(n+1) at r = 0. 1e-12 relative: sums of 128 O(1) terms in float64. */
Test(theory_math, all_ones_closed_form_and_su_bound) {
    double *g;
    cr_assert_eq(rl_theory_ladder(10000, 256, &g), 0);
    double ones[256];
    for (int i = 0; i < 256; i++) ones[i] = 1;
    for (int r = 0; r <= 5000; r += 7) {
        double ref = 0;
        for (int j = 0; j < 128; j++) ref += 2 * cos(r * g[j]);
        double got = rl_theory_logit(g, 128, ones, ones, r);
        cr_assert(fabs(got - ref) <= 1e-12 * 256, "r %d: %.17g vs %.17g", r, got, ref);
        double b = rl_theory_su_bound(g, 128, ones, ones, r);
        cr_assert(b >= fabs(got), "r %d: Su bound %g below |logit| %g", r, b, fabs(got));
    }
    double b0 = rl_theory_su_bound(g, 128, ones, ones, 0);
    cr_assert(fabs(b0 - 128.0 * 129.0) <= 1e-9 * b0, "bound at r = 0: %.17g, expected %d", b0, 128 * 129);
    free(g);
}

/* Su's bound for a random pair: check the Abel-summation identity it rests on,
 * sum_j h_j e^{i r g_j} = -sum_j S_(j+1) (h_(j+1) - h_j) (h_n = 0), computed independently in complex
 * arithmetic, and that the bound dominates |logit|. The logit is Re of sum_j h_j e^{i r g_j}. */
Test(theory_math, su_bound_abel_identity) {
    const int n = 32;
    double *g;
    cr_assert_eq(rl_theory_ladder(10000, 2 * n, &g), 0);
    rl_rng rng;
    rl_rng_seed(&rng, 5);
    double q[64], k[64];
    for (int i = 0; i < 2 * n; i++) {
        q[i] = rl_rng_normal(&rng);
        k[i] = rl_rng_normal(&rng);
    }
    for (int r = 0; r < 3000; r += 37) {
        double complex h[33], lhs = 0, rhs = 0, S = 0;
        for (int j = 0; j < n; j++) h[j] = (q[2 * j] + I * q[2 * j + 1]) * (k[2 * j] - I * k[2 * j + 1]);
        h[n] = 0;
        double bound_ref = 0, maxd = 0;
        for (int j = 0; j < n; j++) {
            lhs += h[j] * cexp(I * r * g[j]);
            S += cexp(I * r * g[j]);
            rhs -= S * (h[j + 1] - h[j]);
            bound_ref += cabs(S);
            maxd = fmax(maxd, cabs(h[j + 1] - h[j]));
        }
        /* 1e-10 absolute: O(n * |h|) = O(100) sums in float64 */
        cr_assert(cabs(lhs - rhs) < 1e-10, "r %d: Abel identity off by %g", r, cabs(lhs - rhs));
        double logit = rl_theory_logit(g, n, q, k, r);
        cr_assert(fabs(creal(lhs) - logit) < 1e-10, "r %d: logit %.12g vs Re(sum) %.12g", r, logit, creal(lhs));
        double b = rl_theory_su_bound(g, n, q, k, r);
        cr_assert(fabs(b - maxd * bound_ref) <= 1e-10 * b, "r %d: bound %.12g vs %.12g", r, b, maxd * bound_ref);
        cr_assert(b >= fabs(logit));
    }
    free(g);
}

/* Bonferroni 3-sigma: m * P(|Z| > z_m) = P(|Z| > 3); exactly 3 for m = 1; grows with m. */
Test(theory_math, z_threshold) {
    cr_assert_eq(rl_theory_z_threshold(1), 3.0);
    double p3 = erfc(3.0 / M_SQRT2), prev = 3.0;
    for (int m = 2; m <= 1000; m *= 3) {
        double z = rl_theory_z_threshold(m);
        cr_assert(fabs(m * erfc(z / M_SQRT2) - p3) < 1e-12, "m %d: z %.12g", m, z);
        cr_assert(z > prev);
        prev = z;
    }
    /* a known value: m = 50 -> P(|Z|>z) = 5.3996e-5 -> z = 4.0376 (normal tables) */
    cr_assert(fabs(rl_theory_z_threshold(50) - 4.0376) < 1e-3);
}
