/* softmax rows: the temperature polynomial at hand-computed points, plain and adaptive forward against a
 * float64 reference written here, both backward modes against float64 central finite differences.
 *
 * Tolerances. Outputs are float32 computed with float64 sums, so each probability carries a relative error
 * of about 6e-8 (one float32 rounding) and each gradient entry a few 1e-7 relative; we allow
 * |ours - ref| <= 2e-5 * (1 + |ref|) (as in test_model_ops), far below what a wrong term gives (the
 * through-β term alone is checked to be >= 1e-2 on the rows used, so dropping it fails the test).
 * The finite differences are of the float64 reference with h = 1e-6 (1 + |z|): truncation ~1e-12,
 * rounding ~1e-10, negligible next to that tolerance. */
#include "helpers.h"
#include "ropelab/softmax.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 2e-5

/* ---- float64 reference, written from the paper's formula -------------------------------------- */
static double ref_beta(double H) {
    if (!(H > 0.5)) return 1.0;
    double poly = -0.037 * pow(H, 4) + 0.481 * pow(H, 3) - 2.3 * pow(H, 2) + 4.917 * H - 1.791;
    return poly > 1.0 ? poly : 1.0;
}

/* p = softmax(z[0..n)) over finite entries; returns the entropy -Σ p log p. */
static double ref_softmax(double *p, const double *z, int n, double beta) {
    double m = -INFINITY, s = 0, H = 0;
    for (int j = 0; j < n; j++)
        if (z[j] > m) m = z[j];
    for (int j = 0; j < n; j++) s += isinf(z[j]) ? 0 : exp(beta * (z[j] - m));
    for (int j = 0; j < n; j++) {
        p[j] = isinf(z[j]) ? 0 : exp(beta * (z[j] - m)) / s;
        if (p[j] > 0) H -= p[j] * log(p[j]);
    }
    return H;
}

/* q = adaptive softmax of z; returns β. */
static double ref_adaptive(double *q, const double *z, int n, double *H_out) {
    double *p = malloc((size_t)n * sizeof *p);
    double H = ref_softmax(p, z, n, 1.0), b = ref_beta(H);
    ref_softmax(q, z, n, b);
    free(p);
    if (H_out) *H_out = H;
    return b;
}

/* float64 loss Σ dq_j q_j(z) with β either a function of z or frozen at beta_const (> 0). */
static double ref_loss(const double *z, const double *dq, int n, double beta_const) {
    double *q = malloc((size_t)n * sizeof *q), L = 0;
    if (beta_const > 0) ref_softmax(q, z, n, beta_const);
    else ref_adaptive(q, z, n, NULL);
    for (int j = 0; j < n; j++) L += dq[j] * q[j];
    free(q);
    return L;
}

/* the two points where the polynomial crosses 1, by bisection on the reference polynomial */
static double crossing(double lo, double hi) {
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        double pl = -0.037 * pow(lo, 4) + 0.481 * pow(lo, 3) - 2.3 * lo * lo + 4.917 * lo - 1.791 - 1;
        double pm = -0.037 * pow(mid, 4) + 0.481 * pow(mid, 3) - 2.3 * mid * mid + 4.917 * mid - 1.791 - 1;
        if ((pl < 0) == (pm < 0)) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

Test(softmax, beta_polynomial_at_chosen_entropies) {
    /* hand-computed: poly(1) = -0.037+0.481-2.3+4.917-1.791 = 1.27; poly(2) = -0.592+3.848-9.2+9.834-1.791
     * = 2.099; poly(3) = -2.997+12.987-20.7+14.751-1.791 = 2.25. Tolerance 1e-12: float64 Horner vs exact. */
    double d;
    cr_assert(fabs(rl_adaptive_beta(1.0, &d) - 1.27) < 1e-12);
    cr_assert(fabs(rl_adaptive_beta(2.0, &d) - 2.099) < 1e-12);
    cr_assert(fabs(rl_adaptive_beta(3.0, &d) - 2.25) < 1e-12);
    /* H <= 0.5: beta = 1 whatever the polynomial says, derivative 0 */
    double lowH[] = {0.0, 0.1, 0.3, 0.5};
    for (size_t i = 0; i < RL_ARRAY_LEN(lowH); i++) {
        cr_assert_eq(rl_adaptive_beta(lowH[i], &d), 1.0, "H=%g", lowH[i]);
        cr_assert_eq(d, 0.0);
    }
    /* H > 0.5 but polynomial < 1 (both below the first and above the second crossing): beta = 1 */
    double flat[] = {0.6, 0.7, 0.8, 6.5, 7.0, 9.7, 20.0};
    for (size_t i = 0; i < RL_ARRAY_LEN(flat); i++) {
        cr_assert(rl_adaptive_poly(flat[i]) < 1.0, "precondition: poly(%g) < 1", flat[i]);
        cr_assert_eq(rl_adaptive_beta(flat[i], &d), 1.0, "H=%g", flat[i]);
        cr_assert_eq(d, 0.0);
    }
    double c1 = crossing(0.5, 1.0), c2 = crossing(5.0, 7.0);
    cr_assert(c1 > 0.84 && c1 < 0.86 && c2 > 5.8 && c2 < 6.1, "crossings %g %g", c1, c2);
    /* continuity at the crossings (beta -> 1 from the polynomial side) */
    cr_assert(fabs(rl_adaptive_beta(c1 + 1e-9, NULL) - 1) < 1e-6);
    cr_assert(fabs(rl_adaptive_beta(c2 - 1e-9, NULL) - 1) < 1e-6);
    /* every point: beta >= 1 and equal to the reference; derivative = central difference away from kinks
     * (tolerance 1e-6: h = 1e-5 gives truncation ~ h^2 * |poly'''| ~ 1e-9) */
    for (double H = 0; H < 12; H += 0.01) {
        double b = rl_adaptive_beta(H, &d);
        cr_assert(b >= 1.0);
        cr_assert(fabs(b - ref_beta(H)) < 1e-12, "H=%g", H);
        if (fabs(H - c1) > 1e-3 && fabs(H - c2) > 1e-3 && fabs(H - 0.5) > 1e-3) {
            double h = 1e-5, fd = (ref_beta(H + h) - ref_beta(H - h)) / (2 * h);
            cr_assert(fabs(d - fd) < 1e-6 * (1 + fabs(fd)), "dbeta/dH at %g: %g vs %g", H, d, fd);
        }
    }
}

static void rand_row(rl_rng *r, float *z, int n, double scale) {
    for (int j = 0; j < n; j++) z[j] = (float)(rl_rng_normal(r) * scale);
}

Test(softmax, plain_forward_backward_and_causal_tail) {
    rl_rng r;
    rl_rng_seed(&r, 11);
    enum { L = 40 };
    float z[L], p[L], dp[L], dz[L];
    double zd[L], pd[L], dpd[L];
    for (int trial = 0; trial < 20; trial++) {
        int n = 1 + (int)rl_rng_below(&r, L);
        rand_row(&r, z, L, 0.5 + trial);
        rand_row(&r, dp, L, 1);
        if (trial % 3 == 0 && n > 2) z[1] = -INFINITY; /* a masked entry */
        for (int j = 0; j < L; j++) zd[j] = z[j], dpd[j] = dp[j];
        rl_softmax_row_forward(p, z, n, L);
        ref_softmax(pd, zd, n, 1.0);
        for (int j = 0; j < n; j++) cr_assert(fabs(p[j] - pd[j]) <= TOL * (1 + pd[j]), "p[%d]", j);
        for (int j = n; j < L; j++) cr_assert_eq(p[j], 0.0f, "causal tail p[%d] must be 0", j);
        memset(dz, 0, sizeof dz);
        rl_softmax_row_backward(dz, dp, p, n);
        for (int j = 0; j < n; j++) {
            if (isinf(zd[j])) {
                cr_assert_eq(dz[j], 0.0f);
                continue;
            }
            double h = 1e-6 * (1 + fabs(zd[j])), z0 = zd[j], lp = 0, lm = 0;
            zd[j] = z0 + h;
            ref_softmax(pd, zd, n, 1.0);
            for (int k = 0; k < n; k++) lp += dpd[k] * pd[k];
            zd[j] = z0 - h;
            ref_softmax(pd, zd, n, 1.0);
            for (int k = 0; k < n; k++) lm += dpd[k] * pd[k];
            zd[j] = z0;
            double fd = (lp - lm) / (2 * h);
            cr_assert(fabs(dz[j] - fd) <= TOL * (1 + fabs(fd)), "dz[%d] %g vs fd %g", j, (double)dz[j], fd);
        }
    }
}

Test(softmax, adaptive_forward_and_both_backward_modes) {
    rl_rng r;
    rl_rng_seed(&r, 5);
    enum { L = 48 };
    float z[L], q[L], dq[L], dz_t[L], dz_c[L];
    double zd[L], qd[L], dqd[L];
    double c1 = crossing(0.5, 1.0), c2 = crossing(5.0, 7.0);
    int active = 0, flat = 0, big_through = 0;
    for (int trial = 0; trial < 200; trial++) {
        int n = 2 + (int)rl_rng_below(&r, L - 1);
        double scale = 0.05 + 6.0 * rl_rng_uniform(&r); /* from near-uniform rows (H ~ log n) to peaked */
        rand_row(&r, z, L, scale);
        rand_row(&r, dq, L, 1);
        if (trial % 5 == 0) z[n - 1] = -INFINITY;
        for (int j = 0; j < L; j++) zd[j] = z[j], dqd[j] = dq[j];
        double H, b = ref_adaptive(qd, zd, n, &H);
        if (fabs(H - c1) < 1e-3 || fabs(H - c2) < 1e-3 || fabs(H - 0.5) < 1e-3) continue; /* next to a kink */
        rl_adaptive_row st;
        rl_adaptive_row_forward(q, &st, z, n, L);
        cr_assert(fabs(st.H - H) <= 1e-9 * (1 + H), "H %g vs %g", st.H, H);
        cr_assert(fabs(st.beta - b) <= 1e-9 * b, "beta %g vs %g", st.beta, b);
        for (int j = 0; j < n; j++) cr_assert(fabs(q[j] - qd[j]) <= TOL * (1 + qd[j]), "q[%d]", j);
        for (int j = n; j < L; j++) cr_assert_eq(q[j], 0.0f);
        if (st.dbeta_dH != 0) active++;
        else flat++;
        memset(dz_t, 0, sizeof dz_t);
        memset(dz_c, 0, sizeof dz_c);
        rl_adaptive_row_backward(dz_t, dq, q, z, &st, RL_BETA_THROUGH, n);
        rl_adaptive_row_backward(dz_c, dq, q, z, &st, RL_BETA_CONST, n);
        double diff = 0;
        for (int j = 0; j < n; j++) {
            diff = fmax(diff, fabs(dz_t[j] - dz_c[j]));
            if (isinf(zd[j])) {
                cr_assert_eq(dz_t[j], 0.0f);
                cr_assert_eq(dz_c[j], 0.0f);
                continue;
            }
            double h = 1e-6 * (1 + fabs(zd[j])), z0 = zd[j];
            zd[j] = z0 + h;
            double lp_t = ref_loss(zd, dqd, n, 0), lp_c = ref_loss(zd, dqd, n, b);
            zd[j] = z0 - h;
            double lm_t = ref_loss(zd, dqd, n, 0), lm_c = ref_loss(zd, dqd, n, b);
            zd[j] = z0;
            double fd_t = (lp_t - lm_t) / (2 * h), fd_c = (lp_c - lm_c) / (2 * h);
            cr_assert(fabs(dz_t[j] - fd_t) <= TOL * (1 + fabs(fd_t)), "through-beta dz[%d] %g vs fd %g (H %g)", j,
                      (double)dz_t[j], fd_t, H);
            cr_assert(fabs(dz_c[j] - fd_c) <= TOL * (1 + fabs(fd_c)), "const-beta dz[%d] %g vs fd %g", j,
                      (double)dz_c[j], fd_c);
        }
        if (st.dbeta_dH == 0) cr_assert_eq(diff, 0.0, "flat beta: both modes must agree");
        if (diff > 1e-2) big_through++;
    }
    /* the test must exercise both regimes, and the through-beta term must matter on many rows */
    cr_assert(active >= 40 && flat >= 20 && big_through >= 20, "active %d flat %d big %d", active, flat, big_through);
}

Test(softmax, all_masked_and_single_entry_rows) {
    float z[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY}, q[4], dz[4] = {0}, dq[4] = {1, 2, 3, 4};
    rl_adaptive_row st;
    rl_adaptive_row_forward(q, &st, z, 4, 4);
    for (int j = 0; j < 4; j++) cr_assert_eq(q[j], 0.0f);
    cr_assert_eq(st.beta, 1.0);
    cr_assert_eq(st.H, 0.0);
    rl_adaptive_row_backward(dz, dq, q, z, &st, RL_BETA_THROUGH, 4);
    for (int j = 0; j < 4; j++) cr_assert_eq(dz[j], 0.0f);
    rl_softmax_row_forward(q, z, 4, 4);
    for (int j = 0; j < 4; j++) cr_assert_eq(q[j], 0.0f);
    z[2] = 123.0f; /* one valid entry: probability 1, entropy 0 */
    rl_adaptive_row_forward(q, &st, z, 4, 4);
    cr_assert_eq(q[2], 1.0f);
    cr_assert_eq(st.H, 0.0);
    cr_assert_eq(st.beta, 1.0);
}

/* adaptive sharpens: on a row with beta > 1 the largest probability grows and the entropy drops */
Test(softmax, adaptive_only_sharpens) {
    rl_rng r;
    rl_rng_seed(&r, 9);
    enum { N = 256 };
    float z[N], p[N], q[N];
    for (int t = 0; t < 50; t++) {
        rand_row(&r, z, N, 0.3 + 0.1 * t);
        rl_adaptive_row st;
        rl_softmax_row_forward(p, z, N, N);
        rl_adaptive_row_forward(q, &st, z, N, N);
        int am = 0;
        for (int j = 1; j < N; j++)
            if (z[j] > z[am]) am = j;
        cr_assert(q[am] >= p[am] * (1 - 1e-6), "max prob %g < plain %g (beta %g)", q[am], p[am], st.beta);
    }
}

/* the matrix form equals the row functions row by row (bit for bit: same code path), causal lengths included */
Test(softmax, rows_forward_matches_row_functions) {
    rl_rng r;
    rl_rng_seed(&r, 21);
    enum { R = 7, L = 19 };
    float z[R * L], out[R * L], ref[L];
    int nv[R];
    rl_adaptive_row st[R], st1;
    for (int i = 0; i < R; i++) nv[i] = i * 3;
    rand_row(&r, z, R * L, 2.0);
    for (int adaptive = 0; adaptive < 2; adaptive++) {
        rl_softmax_rows_forward(out, st, z, nv, R, L, adaptive);
        for (int i = 0; i < R; i++) {
            int n = RL_MIN(nv[i], L);
            if (adaptive) rl_adaptive_row_forward(ref, &st1, z + i * L, n, L);
            else rl_softmax_row_forward(ref, z + i * L, n, L);
            cr_assert(memcmp(ref, out + i * L, sizeof ref) == 0, "row %d (adaptive %d)", i, adaptive);
            if (adaptive) cr_assert_eq(st[i].beta, st1.beta);
        }
    }
}
