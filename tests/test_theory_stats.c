/* theory, experiments 1-2: the decay curves and their verdict rule (which must fail where the claim does
 * not hold), and the Monte-Carlo mean of Prop 3.2 against a naive recomputation of the same draws. */
#include "../src/experiments/theory_internal.h"
#include "helpers.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static double *ladder(double theta, int d) {
    double *g;
    cr_assert_eq(rl_theory_ladder(theta, d, &g), 0, "%s", rl_error());
    return g;
}

/* The claim's setting at reduced size (d = 64, R = 3000; the all-ones far/near ratio is 0.136 there):
 * (a) decays, (b) and (c) do not. (a) is the closed form sum 2 cos(r g). The fresh-pair sd must be
 * sqrt(d) (Var q^T M k = d for orthogonal M): pooled over 3001 distances x 16 pairs = 48016 logits,
 * the pooled variance has relative se ~ sqrt(2/48016) = 0.65%; 4% is > 5 se. */
Test(theory_decay, claim_setting) {
    const int d = 64, n = 32;
    double *g = ladder(10000, d);
    rl_theory_decay_res res;
    cr_assert_eq(rl_theory_decay(&res, g, n, 3000, 16, 0.0, 11), 0, "%s", rl_error());
    for (int r = 0; r <= 3000; r++) {
        double ref = 0;
        for (int j = 0; j < n; j++) ref += 2 * cos(r * g[j]);
        cr_assert(fabs(res.ones[r] - ref) <= 1e-12 * d);
    }
    double pooled = 0;
    for (int r = 0; r <= 3000; r++) pooled += res.sd[r] * res.sd[r];
    pooled /= 3001;
    cr_assert(fabs(pooled / d - 1) < 0.04, "pooled variance %g, expected %d", pooled, d);
    cr_assert(res.decays[0], "(a) ratio %g", res.ratio[0]);
    cr_assert(!res.decays[1], "(b) ratio %g", res.ratio[1]);
    cr_assert(!res.decays[2], "(c) ratio %g", res.ratio[2]);
    cr_assert(res.supported);
    rl_theory_decay_free(&res);
    free(g);
}

/* The rule fails where the claim does not hold: with k = q (corr 1) the Gaussian curves decay in
 * expectation (E q^T R^r q = sum_j 2 cos(r g_j)) and a fixed q = k pair decays too. */
Test(theory_decay, rule_fails_when_q_equals_k) {
    double *g = ladder(10000, 64);
    rl_theory_decay_res res;
    cr_assert_eq(rl_theory_decay(&res, g, 32, 3000, 16, 1.0, 11), 0, "%s", rl_error());
    cr_assert(res.decays[1], "(b) with q = k: ratio %g should decay", res.ratio[1]);
    cr_assert(res.decays[2], "(c) with q = k: ratio %g should decay", res.ratio[2]);
    cr_assert(!res.supported);
    /* E[q^T R^r q] = sum 2 cos(r g): the mean at r = 0 is d within 5 se (se = sd / 4) */
    cr_assert(fabs(res.mean[0] - 64) < 5 * res.sd[0] / 4, "mean at 0: %g", res.mean[0]);
    rl_theory_decay_free(&res);
    free(g);
}

/* ... and (a) does not decay without rotation (every frequency 0: the logit is d at every r). */
Test(theory_decay, rule_fails_without_rotation) {
    double g[32] = {0};
    rl_theory_decay_res res;
    cr_assert_eq(rl_theory_decay(&res, g, 32, 100, 8, 0.0, 3), 0, "%s", rl_error());
    cr_assert(fabs(res.ratio[0] - 1) < 1e-12 && !res.decays[0] && !res.supported);
    rl_theory_decay_free(&res);
    cr_assert_eq(rl_theory_decay(&res, g, 32, 20, 8, 0.0, 3), -1, "R < 50 must be refused");
}

/* Same seed, same numbers, whatever the thread count. */
Test(theory_decay, thread_independent) {
    double *g = ladder(10000, 32);
    rl_theory_decay_res a, b;
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    cr_assert_eq(rl_theory_decay(&a, g, 16, 120, 16, 0.0, 77), 0);
    omp_set_num_threads(2);
    cr_assert_eq(rl_theory_decay(&b, g, 16, 120, 16, 0.0, 77), 0);
    omp_set_num_threads(saved);
    cr_assert(memcmp(a.mean, b.mean, 121 * sizeof(double)) == 0 && memcmp(a.sd, b.sd, 121 * sizeof(double)) == 0);
    rl_theory_decay_free(&a);
    rl_theory_decay_free(&b);
    free(g);
}

/* Prop 3.2: rl_theory_mc (blocked dgemm + Chan merge of the blocks) against a naive recomputation of
 * the very same draws (same streams), pair by pair with rl_theory_logit and a two-pass mean / sd.
 * 3000 pairs = one full block of TH_MC_BLOCK = 2048 + a partial one. Tolerance 1e-9 relative to sd: different
 * summation orders of 3000 values of size ~8. */
Test(theory_mc, matches_naive_recomputation) {
    const int d = 64, n = 32, P = 3000;
    double *g = ladder(10000, d);
    rl_theory_mc_point pts[4] = {{.r = 0}, {.r = 1}, {.r = 57}, {.r = 4000}};
    cr_assert_eq(rl_theory_mc(pts, 4, g, n, P, 0.0, 42), 0, "%s", rl_error());
    double *L = malloc((size_t)P * 4 * sizeof(double)), q[64], k[64];
    rl_rng rng;
    memset(&rng, 0, sizeof rng);
    for (int p = 0; p < P; p++) {
        if (p % TH_MC_BLOCK == 0) th_rng(&rng, 42, TH_TAG_MC, (uint64_t)(p / TH_MC_BLOCK)); /* one stream per block */
        th_gaussian_pair(&rng, d, 0.0, q, k);
        for (int i = 0; i < 4; i++) L[p * 4 + i] = rl_theory_logit(g, n, q, k, (double)pts[i].r);
    }
    for (int i = 0; i < 4; i++) {
        double s = 0, ss = 0;
        for (int p = 0; p < P; p++) s += L[p * 4 + i];
        double mean = s / P;
        for (int p = 0; p < P; p++) ss += (L[p * 4 + i] - mean) * (L[p * 4 + i] - mean);
        double sd = sqrt(ss / (P - 1));
        cr_assert(fabs(pts[i].mean - mean) < 1e-9 * sd, "r %lld: mean %.15g vs %.15g", (long long)pts[i].r,
                  pts[i].mean, mean);
        cr_assert(fabs(pts[i].sd - sd) < 1e-9 * sd);
        cr_assert(fabs(pts[i].se - sd / sqrt(P)) < 1e-9 * sd); /* se = sd / sqrt(n) */
        cr_assert(fabs(pts[i].z - pts[i].mean / pts[i].se) < 1e-9);
    }
    free(L);
    free(g);
}

/* The standard error matches theory: Var(q^T M k) = d for orthogonal M, so se = sqrt(d / n) within the
 * sampling error of sd (relative se 1/sqrt(2n) = 0.5% for n = 20000; 3% is 6 se). The claim's rule
 * passes; with correlated pairs (corr 0.2: E = 0.2 sum 2 cos(r g), 12.8 at r = 0) it fails. */
Test(theory_mc, standard_error_and_rule) {
    const int d = 64, n = 32, P = 20000;
    double *g = ladder(10000, d);
    rl_theory_mc_point pts[6] = {{.r = 0}, {.r = 1}, {.r = 10}, {.r = 100}, {.r = 1000}, {.r = 5000}};
    cr_assert_eq(rl_theory_mc(pts, 6, g, n, P, 0.0, 8), 0);
    double zc = rl_theory_z_threshold(6), worst = 0;
    for (int i = 0; i < 6; i++) {
        cr_assert(fabs(pts[i].se / sqrt((double)d / P) - 1) < 0.03, "r %lld: se %g", (long long)pts[i].r, pts[i].se);
        worst = fmax(worst, fabs(pts[i].z));
    }
    cr_assert(worst < zc, "independent pairs: worst |z| %g >= %g", worst, zc);
    cr_assert_eq(rl_theory_mc(pts, 6, g, n, P, 0.2, 8), 0);
    cr_assert(fabs(pts[0].z) > 10 * zc, "correlated pairs: z at r = 0 is only %g", pts[0].z);
    free(g);
}
