/* theory, experiments 3-4: the arg-max of Prop 3.1 against a brute-force search, the NoPE bound of
 * Prop 5.2, and Thm 5.3's constructed heads against a naive softmax over explicitly rotated vectors. */
#include "helpers.h"
#include "ropelab/experiments.h"
#include "ropelab/util.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rotates chunk pairs by angle r g_j: k = R^r q. */
static void rotate(const double *g, int n, const double *q, double r, double *k) {
    for (int j = 0; j < n; j++) {
        double c = cos(r * g[j]), s = sin(r * g[j]);
        k[2 * j] = c * q[2 * j] - s * q[2 * j + 1];
        k[2 * j + 1] = s * q[2 * j] + c * q[2 * j + 1];
    }
}

/* Brute force: build k = R^r q, evaluate the logit at every s of the window with rl_theory_logit, take
 * the arg-max and the runner-up. Margins agree to 1e-9 |q|^2 (sums of 8 terms, angles up to 300 rad). */
Test(theory_argmax, matches_brute_force) {
    const int n = 8, W = 300;
    double *g;
    cr_assert_eq(rl_theory_ladder(10000, 2 * n, &g), 0);
    rl_rng rng;
    rl_rng_seed(&rng, 3);
    for (int t = 0; t < 5; t++) {
        double q[16], k[16];
        for (int i = 0; i < 2 * n; i++) q[i] = rl_rng_normal(&rng);
        rl_theory_argmax_point pts[5] = {{.r = 0}, {.r = 1}, {.r = 77}, {.r = 150}, {.r = 299}};
        cr_assert_eq(rl_theory_argmax(pts, 5, g, n, q, W), 0, "%s", rl_error());
        for (int i = 0; i < 5; i++) {
            rotate(g, n, q, (double)pts[i].r, k);
            double best = -INFINITY, second = -INFINITY;
            int arg = -1;
            for (int s = 0; s < W; s++) {
                double v = rl_theory_logit(g, n, q, k, s);
                if (v > best) {
                    second = best;
                    best = v;
                    arg = s;
                } else if (v > second) {
                    second = v;
                }
            }
            double q2 = pts[i].peak;
            cr_assert_eq(arg, pts[i].r, "brute-force arg-max %d, target %lld", arg, (long long)pts[i].r);
            cr_assert_eq(pts[i].argmax, pts[i].r);
            cr_assert(fabs(best - q2) < 1e-9 * q2);
            cr_assert(fabs((best - second) - pts[i].margin) < 1e-9 * q2, "margin %.12g vs brute force %.12g",
                      pts[i].margin, best - second);
            cr_assert(pts[i].margin > 0);
        }
    }
    free(g);
    /* the runner-up at the far edge of the window: g = 2 pi / 99.5 returns exactly at s = 199 = W - 1 */
    double gp[1] = {2 * M_PI / 99.5}, q1[2] = {0.6, -0.8}, k1[2];
    rl_theory_argmax_point edge[1] = {{.r = 0}};
    cr_assert_eq(rl_theory_argmax(edge, 1, gp, 1, q1, 200), 0);
    double best_other = -INFINITY;
    for (int s = 1; s < 200; s++) best_other = fmax(best_other, rl_theory_logit(gp, 1, q1, q1, s));
    rotate(gp, 1, q1, 0, k1);
    cr_assert(fabs((rl_theory_logit(gp, 1, q1, k1, 0) - best_other) - edge[0].margin) < 1e-12,
              "edge case: margin %g vs brute force %g", edge[0].margin, rl_theory_logit(gp, 1, q1, k1, 0) - best_other);
    cr_assert(fabs(edge[0].margin) < 1e-12 && edge[0].runner_up == 199, "runner-up %lld", (long long)edge[0].runner_up);
}

/* The rule can fail: with no rotation every position ties (margin 0); with a frequency of exactly
 * 2 pi / 10 the logit repeats every 10 positions (margin ~ 0, up to rounding of cos(2 pi m)). */
Test(theory_argmax, rule_fails_without_unique_maximum) {
    double g0[4] = {0, 0, 0, 0}, q[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    rl_theory_argmax_point pts[2] = {{.r = 5}, {.r = 40}};
    cr_assert_eq(rl_theory_argmax(pts, 2, g0, 4, q, 100), 0);
    cr_assert(pts[0].margin == 0 && pts[1].margin == 0);
    cr_assert_neq(pts[0].argmax, 5, "a tie is not a unique arg-max at r");
    double gp[1] = {2 * M_PI / 10}, q1[2] = {1, 0.5};
    cr_assert_eq(rl_theory_argmax(pts, 2, gp, 1, q1, 100), 0);
    cr_assert(fabs(pts[1].margin) < 1e-12, "periodic: margin %g", pts[1].margin);
    pts[0].r = 100;
    cr_assert_eq(rl_theory_argmax(pts, 1, gp, 1, q1, 100), -1, "a target outside the window is refused");
}

/* Prop 5.2: alpha_33 = 1 / (2 + e^-delta) is the naive softmax of (0, delta, delta); it stays <= 1/2
 * and its gap to 1/2 stays > 0 for every finite delta (1e-15: one rounding of each). */
Test(theory_positional, nope_bound) {
    for (double dl = -30; dl <= 700; dl += 0.37) {
        double m = fmax(0, dl), e0 = exp(-m), e1 = exp(dl - m);
        double naive = e1 / (e0 + 2 * e1);
        cr_assert(fabs(rl_theory_nope_alpha33(dl) - naive) < 1e-15, "delta %g", dl);
        cr_assert(rl_theory_nope_alpha33(dl) <= 0.5);
        cr_assert(rl_theory_nope_gap(dl) > 0, "delta %g: gap %g", dl, rl_theory_nope_gap(dl));
        cr_assert(fabs(rl_theory_nope_gap(dl) - (0.5 - rl_theory_nope_alpha33(dl))) < 1e-15);
    }
}

/* Random heads: every NoPE head lands on the curve 1/(2 + e^-delta) (so <= 1/2), while the same heads
 * with RoPE escape it (the rule's "<= 1/2" would fail for them). */
Test(theory_positional, random_heads) {
    double *g;
    cr_assert_eq(rl_theory_ladder(10000, 32, &g), 0);
    rl_theory_head_sample hs[500];
    cr_assert_eq(rl_theory_random_heads(hs, 500, g, 16, 8, 9), 0, "%s", rl_error());
    double best_rope = 0;
    for (int h = 0; h < 500; h++) {
        cr_assert(hs[h].alpha_nope <= 0.5);
        cr_assert(fabs(hs[h].alpha_nope - rl_theory_nope_alpha33(hs[h].delta)) < 1e-12, "head %d", h);
        best_rope = fmax(best_rope, hs[h].alpha_rope);
    }
    cr_assert(best_rope > 0.99, "best RoPE head only %g", best_rope);
    free(g);
}

/* Naive reference for the constructed head: psi = (sqrt(c / nb), 0) in each band; query at i and key at
 * j rotated explicitly by their positions (R^i psi).(R^j k_j), k_j = psi (diagonal) or rho(g) psi
 * (previous); full max-subtracted softmax over keys 1..i; the min over i of the target's weight. */
static double naive_min_alpha(const double *g, int nb, int N, double c, rl_theory_head_kind kind) {
    double worst = 1, *a = malloc((size_t)(N + 1) * sizeof(double)), amp = sqrt(c / nb);
    for (int i = kind == RL_THEORY_PREVIOUS ? 2 : 1; i <= N; i++) {
        double m = -INFINITY;
        for (int j = 1; j <= i; j++) {
            a[j] = 0;
            for (int b = 0; b < nb; b++) {
                double kang = kind == RL_THEORY_PREVIOUS ? g[b] : 0; /* k = rho(g) psi */
                double qx = amp * cos(i * g[b]), qy = amp * sin(i * g[b]);
                double kx = amp * cos(j * g[b] + kang), ky = amp * sin(j * g[b] + kang);
                a[j] += qx * kx + qy * ky;
            }
            m = fmax(m, a[j]);
        }
        double z = 0;
        for (int j = 1; j <= i; j++) z += exp(a[j] - m);
        int target = kind == RL_THEORY_PREVIOUS ? i - 1 : i;
        worst = fmin(worst, exp(a[target] - m) / z);
    }
    free(a);
    return worst;
}

/* Thm 5.3: the computed scale c makes every query reach alpha >= 1 - eps, and it is the smallest such:
 * 0.1% less fails. Checked by the naive softmax for one band (several bands of the ladder, including
 * ones that wrap around) and for 8 bands. Tolerance on alpha: 1e-9 (c is found to 1e-10 relative) plus
 * the naive reference's own rounding: its logits are O(c) products, so their differences carry
 * ~4 c DBL_EPSILON of error, which moves alpha by at most (1 - alpha) times that (c reaches 1e10 for
 * the lowest band). */
Test(theory_positional, constructed_heads_match_naive_softmax) {
    double *g;
    cr_assert_eq(rl_theory_ladder(10000, 64, &g), 0);
    const double eps = 0.01;
    const int bands[5] = {0, 3, 10, 20, 31}, Ns[2] = {40, 300};
    for (int bi = 0; bi < 5; bi++)
        for (int ni = 0; ni < 2; ni++)
            for (int kd = 0; kd < 2; kd++) {
                int nb = bi == 1 ? 8 : 1; /* band 3: psi over bands 3..10 */
                double c = rl_theory_head_scale(g + bands[bi], nb, Ns[ni], eps, kd);
                cr_assert(isfinite(c) && c > 0, "band %d N %d: c %g", bands[bi], Ns[ni], c);
                double tol = 1e-9 + 0.1 * c * DBL_EPSILON;
                double a = naive_min_alpha(g + bands[bi], nb, Ns[ni], c, kd);
                cr_assert(a >= 1 - eps - tol, "band %d N %d kind %d: naive min alpha %.12g", bands[bi], Ns[ni], kd, a);
                double lib = rl_theory_head_min_alpha(g + bands[bi], nb, Ns[ni], c, kd, NULL);
                cr_assert(fabs(lib - a) < tol, "O(N) min alpha %.12g vs naive %.12g", lib, a);
                double below = naive_min_alpha(g + bands[bi], nb, Ns[ni], c * 0.999, kd);
                cr_assert(below < 1 - eps, "c is not minimal: 0.999 c still gives %.12g", below);
                if (nb == 1 && kd == RL_THEORY_DIAGONAL) /* the Dirichlet lower bound holds */
                    cr_assert(c >= rl_theory_head_scale_bound(Ns[ni], eps) * (1 - 1e-12));
            }
    free(g);
}

/* The rule can fail: frequency 0 (a NoPE channel) gives no finite scale (alpha_ii = 1/i); and the
 * "higher g, smaller norm" trend only holds for bands that do not wrap around within N: across the
 * whole ladder it is violated (which is why rule (3) is restricted). */
Test(theory_positional, rule_can_fail) {
    double zero = 0;
    cr_assert(isinf(rl_theory_head_scale(&zero, 1, 100, 0.01, RL_THEORY_DIAGONAL)));
    cr_assert(fabs(rl_theory_head_min_alpha(&zero, 1, 100, 1e6, RL_THEORY_DIAGONAL, NULL) - 0.01) < 1e-12,
              "alpha_NN = 1/N with no rotation");
    double *g;
    cr_assert_eq(rl_theory_ladder(10000, 128, &g), 0);
    const int N = 512;
    int wrap_violations = 0, nowrap_violations = 0;
    double prev = rl_theory_head_scale(g, 1, N, 0.01, RL_THEORY_DIAGONAL);
    for (int j = 1; j < 64; j++) {
        double c = rl_theory_head_scale(g + j, 1, N, 0.01, RL_THEORY_DIAGONAL);
        int nowrap = 2 * M_PI / g[j - 1] >= N;
        if (!(prev < c)) *(nowrap ? &nowrap_violations : &wrap_violations) += 1;
        prev = c;
    }
    cr_assert_eq(nowrap_violations, 0);
    cr_assert(wrap_violations > 0, "expected wrap-around bands to break monotonicity");
    free(g);
}
