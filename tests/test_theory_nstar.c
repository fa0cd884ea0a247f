/* theory, experiment 5: N*(g) of Thm 6.1 against an O(N^2)-per-length brute force over every placement. */
#include "helpers.h"
#include "ropelab/experiments.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdlib.h>

/* Smallest N such that some target distance rt and distractor distance rd, distinct, both < N, and an
 * orientation s = +-1 give cos(gamma - s rd g) >= cos(rt g); every pair re-examined at every N
 * (the cosines are tabulated once). cap <= 200. */
static int64_t brute_nstar(double g, double gamma, int64_t cap) {
    double T[200], Dp[200], Dm[200];
    for (int r = 0; r < cap; r++) {
        T[r] = cos(r * g);
        Dp[r] = cos(gamma - r * g);
        Dm[r] = cos(gamma + r * g);
    }
    for (int64_t N = 2; N <= cap; N++)
        for (int64_t rt = 0; rt < N; rt++)
            for (int64_t rd = 0; rd < N; rd++)
                if (rt != rd && (Dp[rd] >= T[rt] || Dm[rd] >= T[rt])) return N;
    return 0;
}

Test(theory_nstar, matches_brute_force) {
    double *lad;
    cr_assert_eq(rl_theory_ladder(100, 16, &lad), 0); /* g from 1 down to 0.0056 */
    const double gammas[4] = {M_PI / 6, M_PI / 2, 2.6, M_PI};
    rl_rng rng;
    rl_rng_seed(&rng, 1);
    int compared = 0;
    for (int k = 0; k < 8 + 12; k++) {
        double g = k < 8 ? lad[k] : 0.02 + 6.2 * rl_rng_uniform(&rng); /* past pi: the other orientation leads */
        for (int t = 0; t < 4; t++) {
            int64_t fast = rl_theory_nstar(g, gammas[t], 1000), slow = brute_nstar(g, gammas[t], 150);
            if (slow == 0) { /* beyond the brute force's reach: at least its cap */
                cr_assert(fast == 0 || fast > 150, "g %g gamma %g: fast %lld", g, gammas[t], (long long)fast);
                continue;
            }
            cr_assert_eq(fast, slow, "g %.6g gamma %.4g: scan %lld, brute force %lld", g, gammas[t], (long long)fast,
                         (long long)slow);
            compared++;
        }
    }
    cr_assert(compared >= 60, "only %d cases compared", compared);
    free(lad);
}

/* Low frequencies: target and distractor at the far end, (2N - 3) g >= gamma, so
 * N* = ceil((gamma / g + 3) / 2) up to one position of rounding. */
Test(theory_nstar, low_frequency_asymptote) {
    for (double g = 1e-3; g > 1e-6; g /= 7) {
        int64_t ns = rl_theory_nstar(g, M_PI / 2, INT32_MAX);
        double ref = ceil((M_PI / 2 / g + 3) / 2);
        cr_assert(llabs(ns - (int64_t)ref) <= 1, "g %g: N* %lld, expected ~%g", g, (long long)ns, ref);
    }
}

/* g = 0 never fails (the rule's part 2); it does fail when the distractor equals the target (gamma 0),
 * so the rule can fail; a cap that is too short reports "not found" (0). */
Test(theory_nstar, zero_frequency_and_cap) {
    cr_assert_eq(rl_theory_nstar(0, M_PI / 2, 1000), RL_THEORY_NEVER);
    cr_assert_eq(rl_theory_nstar(0, 1e-4, 1000), RL_THEORY_NEVER, "any gamma with cos(gamma) < 1 keeps the target ahead");
    cr_assert_eq(rl_theory_nstar(0, 0, 1000), 2);
    cr_assert_eq(rl_theory_nstar(1e-6, M_PI / 2, 100), 0);
}
