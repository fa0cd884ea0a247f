/* report statistics: Student t quantiles against closed forms, t intervals, their coverage. */
#include "helpers.h"
#include "ropelab/report.h"
#include "ropelab/util.h"

#include <math.h>

/* Quantiles with closed forms: df 1 is Cauchy, t = tan(pi (p - 1/2)); df 2: t = (2p - 1) / sqrt(2 p (1 - p)).
 * The bisection stops at adjacent doubles, so the only error is rl_t_two_sided's (~1e-15 relative);
 * 1e-12 relative leaves room for the incomplete beta's continued fraction near the tails. */
Test(report_stats, t_quantile_closed_forms) {
    const double ps[] = {0.001, 0.025, 0.1, 0.3, 0.5, 0.6, 0.9, 0.975, 0.999};
    for (size_t i = 0; i < RL_ARRAY_LEN(ps); i++) {
        double p = ps[i];
        double c1 = tan(M_PI * (p - 0.5)), c2 = (2 * p - 1) / sqrt(2 * p * (1 - p));
        double q1 = rl_t_quantile(p, 1), q2 = rl_t_quantile(p, 2);
        cr_assert(fabs(q1 - c1) <= 1e-12 * fmax(1, fabs(c1)), "df 1, p %g: %.17g vs %.17g", p, q1, c1);
        cr_assert(fabs(q2 - c2) <= 1e-12 * fmax(1, fabs(c2)), "df 2, p %g: %.17g vs %.17g", p, q2, c2);
    }
    /* tabulated 97.5% points (10 significant digits in the tables, hence 1e-9) */
    cr_assert(fabs(rl_t_quantile(0.975, 4) - 2.776445105) < 1e-9);
    cr_assert(fabs(rl_t_quantile(0.975, 10) - 2.228138852) < 1e-9);
    cr_assert(fabs(rl_t_quantile(0.975, 30) - 2.042272456) < 1e-9);
    /* large df tends to the normal quantile 1.959963984540054; the gap is (z^3 + z) / (4 df) = 2.4e-8 at
     * df = 1e8, so 1e-7 */
    cr_assert(fabs(rl_t_quantile(0.975, 1e8) - 1.959963984540054) < 1e-7);
    /* symmetry and bad arguments */
    cr_assert_eq(rl_t_quantile(0.2, 5), -rl_t_quantile(0.8, 5));
    cr_assert(isnan(rl_t_quantile(0, 5)) && isnan(rl_t_quantile(1, 5)) && isnan(rl_t_quantile(0.5, 0)));
}

Test(report_stats, ci_by_hand) {
    /* {1, 2, 3}: mean 2, sd 1, se 1/sqrt 3, half-width t_{0.975,2} / sqrt 3 = 0.95 / sqrt(2 * 0.975 * 0.025) / sqrt 3, the df-2 closed form */
    double x[] = {1, 2, 3};
    rl_ci c;
    rl_ci_t(x, 3, 0.95, &c);
    cr_assert_eq(c.n, 3);
    cr_assert(fabs(c.mean - 2) < 1e-15 && fabs(c.sd - 1) < 1e-15);
    cr_assert(fabs(c.se - 1 / sqrt(3.0)) < 1e-15);
    double half = 0.95 / sqrt(2 * 0.975 * 0.025) / sqrt(3.0);
    cr_assert(fabs(c.half - half) < 1e-12, "%.17g vs %.17g", c.half, half);
    cr_assert(fabs(c.lo - (2 - half)) < 1e-12 && fabs(c.hi - (2 + half)) < 1e-12);
    /* one value: a mean but no interval */
    rl_ci_t(x, 1, 0.95, &c);
    cr_assert(c.mean == 1 && isnan(c.sd) && isnan(c.lo) && isnan(c.hi));
    rl_ci_t(x, 0, 0.95, &c);
    cr_assert(isnan(c.mean));
    /* identical values: a zero-width interval */
    double same[] = {4, 4, 4, 4};
    rl_ci_t(same, 4, 0.95, &c);
    cr_assert(c.lo == 4 && c.hi == 4);
    cr_assert(isnan(rl_mean(x, 0)) && isnan(rl_sd(x, 1)));
}

/* Coverage: 20000 intervals, each from 3 normal draws, must contain the true mean 95% of the time.
 * The binomial standard error is sqrt(0.95 * 0.05 / 20000) = 0.0015; 0.006 is 4 of them. A wrong
 * quantile (e.g. the normal 1.96 instead of t_{0.975,2} = 4.30) gives 0.80 coverage. */
Test(report_stats, ci_coverage) {
    rl_rng r;
    rl_rng_seed(&r, 11);
    int hits = 0, n = 20000;
    for (int i = 0; i < n; i++) {
        double x[3];
        for (int k = 0; k < 3; k++) x[k] = 5 + 2 * rl_rng_normal(&r);
        rl_ci c;
        rl_ci_t(x, 3, 0.95, &c);
        hits += c.lo <= 5 && 5 <= c.hi;
    }
    cr_assert(fabs((double)hits / n - 0.95) < 0.006, "coverage %g", (double)hits / n);
}
