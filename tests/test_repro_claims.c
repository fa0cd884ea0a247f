/* reproduce claims: every rule reaches each of its verdicts on synthetic numbers; the statistics
 * are checked against hand computations; scales and variant lists. */
#include "helpers.h"
#include "ropelab/experiments.h"
#include "ropelab/util.h"

#include <math.h>
#include <string.h>

/* With x = {m - 1, m, m + 1}: sd 1, half-width t_{0.975,2} / sqrt 3 = 2.484, so m = 3 is clearly
 * positive, m = -3 clearly negative and m = 0 straddles 0. */
Test(repro_claims, ci_rule_all_verdicts) {
    rl_claim c;
    double pos[] = {2, 3, 4}, neg[] = {-4, -3, -2}, mid[] = {-1, 0, 1};
    rl_claim_ci_rule(&c, pos, 3, +1);
    cr_assert_eq(c.verdict, RL_VERDICT_SUPPORTED);
    cr_assert(fabs(c.estimate - 3) < 1e-15 && fabs(c.lo - (3 - 2.4841377117)) < 1e-9);
    rl_claim_ci_rule(&c, neg, 3, +1);
    cr_assert_eq(c.verdict, RL_VERDICT_NOT_SUPPORTED);
    rl_claim_ci_rule(&c, mid, 3, +1);
    cr_assert_eq(c.verdict, RL_VERDICT_INCONCLUSIVE);
    rl_claim_ci_rule(&c, neg, 3, -1);
    cr_assert_eq(c.verdict, RL_VERDICT_SUPPORTED);
    cr_assert(strstr(c.rule, "upper 95% t-bound of mean(x) over seeds < 0"), "%s", c.rule);
    rl_claim_ci_rule(&c, pos, 3, -1);
    cr_assert_eq(c.verdict, RL_VERDICT_NOT_SUPPORTED);
    /* one seed: never decided */
    rl_claim_ci_rule(&c, pos, 1, +1);
    cr_assert_eq(c.verdict, RL_VERDICT_INCONCLUSIVE);
    cr_assert(isnan(c.lo) && c.estimate == 2);
    cr_assert_str_eq(rl_verdict_name(RL_VERDICT_NOT_SUPPORTED), "not supported");
}

Test(repro_claims, p075_vs_rope) {
    rl_claim c;
    double rope[] = {10, 11, 12};
    double better[] = {9.5, 10.4, 11.6}, worse[] = {10.5, 11.6, 12.4}, same[] = {10.2, 10.8, 12.1};
    rl_claim_p075_vs_rope(&c, better, rope, 3);
    cr_assert_eq(c.verdict, RL_VERDICT_SUPPORTED, "%s", c.statistic);
    /* differences -0.5, -0.6, -0.4: mean -0.5 */
    cr_assert(fabs(c.estimate + 0.5) < 1e-12);
    rl_claim_p075_vs_rope(&c, worse, rope, 3);
    cr_assert_eq(c.verdict, RL_VERDICT_NOT_SUPPORTED, "%s", c.statistic);
    rl_claim_p075_vs_rope(&c, same, rope, 3);
    cr_assert_eq(c.verdict, RL_VERDICT_INCONCLUSIVE, "%s", c.statistic);
    cr_assert_str_eq(c.id, "ppl.p075_vs_rope");
}

Test(repro_claims, nope_worst) {
    rl_claim c;
    double nope[] = {20, 21, 22};
    double a[] = {10, 11, 12}, b[] = {15, 16, 17}, close[] = {19.9, 21.3, 21.8}, best[] = {25, 26, 27};
    const char *names[] = {"a", "b"};
    const double *both[] = {a, b};
    rl_claim_nope_worst(&c, nope, both, names, 2, 3);
    cr_assert_eq(c.verdict, RL_VERDICT_SUPPORTED, "%s", c.statistic);
    cr_assert(strstr(c.statistic, "closest: b"), "%s", c.statistic);
    const double *with_close[] = {a, close};
    rl_claim_nope_worst(&c, nope, with_close, names, 2, 3);
    cr_assert_eq(c.verdict, RL_VERDICT_INCONCLUSIVE, "%s", c.statistic);
    const double *with_best[] = {a, best};
    rl_claim_nope_worst(&c, nope, with_best, names, 2, 3);
    cr_assert_eq(c.verdict, RL_VERDICT_NOT_SUPPORTED, "%s", c.statistic);
    rl_claim_nope_worst(&c, nope, both, names, 2, 1);
    cr_assert_eq(c.verdict, RL_VERDICT_INCONCLUSIVE);
}

/* usage [n][L][C]: fill with a base level, then raise the lowest or the highest band. */
static void fill_usage(double *u, int n, int L, int C, double low_boost, double high_edge_boost, double noise) {
    for (int s = 0; s < n; s++)
        for (int l = 0; l < L; l++)
            for (int k = 0; k < C; k++) {
                double v = 1 + noise * ((s * 7 + l * 3 + k) % 5 - 2) / 10.0;
                if (k >= C - C / 4) v *= low_boost;
                if (k < C / 4 && (l == 0 || l == L - 1)) v *= high_edge_boost;
                u[((size_t)s * L + l) * C + k] = v;
            }
}

Test(repro_claims, usage_rules) {
    enum { N = 3, L = 4, C = 8 };
    double u[N * L * C];
    rl_claim c;
    /* low band 3x the rest: log ratio ~ log 3 on every seed */
    fill_usage(u, N, L, C, 3, 1, 0.1);
    rl_claim_low_freq_norms(&c, u, N, L, C);
    cr_assert_eq(c.verdict, RL_VERDICT_SUPPORTED, "%s", c.statistic);
    cr_assert(fabs(c.estimate - log(3.0)) < 0.1, "%g", c.estimate);
    fill_usage(u, N, L, C, 0.3, 1, 0.1);
    rl_claim_low_freq_norms(&c, u, N, L, C);
    cr_assert_eq(c.verdict, RL_VERDICT_NOT_SUPPORTED, "%s", c.statistic);
    fill_usage(u, N, L, C, 1, 1, 0);
    u[0] = 1.5; /* one seed slightly different: the interval straddles 0 */
    u[L * C + C - 1] = 1.4;
    u[2 * L * C + 1] = 2.0;
    rl_claim_low_freq_norms(&c, u, N, L, C);
    cr_assert_eq(c.verdict, RL_VERDICT_INCONCLUSIVE, "%s %g [%g %g]", c.statistic, c.estimate, c.lo, c.hi);

    /* exact value by hand: no noise, highest band doubled in layers 0 and 3 only. Per layer the band
     * mean over the layer mean is 2 / (1 + 2/8 ... ): h_edge = 2 / ((2*2 + 6) / 8) = 1.6, h_mid = 1 */
    fill_usage(u, N, L, C, 1, 2, 0);
    rl_claim_high_freq_edges(&c, u, N, L, C);
    cr_assert(fabs(c.estimate - 0.6) < 1e-12, "%.17g", c.estimate);
    cr_assert(c.lo == c.estimate && c.hi == c.estimate); /* identical seeds: a zero-width interval */
    cr_assert_eq(c.verdict, RL_VERDICT_SUPPORTED);
    fill_usage(u, N, L, C, 1, 0.5, 0);
    rl_claim_high_freq_edges(&c, u, N, L, C);
    cr_assert_eq(c.verdict, RL_VERDICT_NOT_SUPPORTED);
    fill_usage(u, N, L, C, 1, 1, 0.2);
    u[0] *= 1.3;
    rl_claim_high_freq_edges(&c, u, N, L, C);
    cr_assert_eq(c.verdict, RL_VERDICT_INCONCLUSIVE, "%g [%g %g]", c.estimate, c.lo, c.hi);
    rl_claim_high_freq_edges(&c, u, N, 2, C);
    cr_assert_eq(c.verdict, RL_VERDICT_INCONCLUSIVE);
    cr_assert(strstr(c.statistic, "not testable with 2 layers"), "%s", c.statistic);
}

Test(repro_claims, positional_heads) {
    rl_claim c;
    double high[] = {0.8, 0.9, NAN, 0.85}, low[] = {0.1, 0.05, 0.12}, mixed[] = {0.1, 0.6, 0.3};
    rl_claim_positional_high(&c, high, 4, 0.25);
    cr_assert_eq(c.verdict, RL_VERDICT_SUPPORTED);
    cr_assert_eq(c.n, 3, "the seed without positional heads is left out");
    cr_assert(fabs(c.estimate - 0.6) < 1e-12);
    rl_claim_positional_high(&c, low, 3, 0.25);
    cr_assert_eq(c.verdict, RL_VERDICT_NOT_SUPPORTED);
    rl_claim_positional_high(&c, mixed, 3, 0.25);
    cr_assert_eq(c.verdict, RL_VERDICT_INCONCLUSIVE);
}

Test(repro_claims, long_context_and_adaptive) {
    rl_claim c;
    double s_p[] = {10, 11, 12}, s_r[] = {10, 11, 12};
    double l_p_good[] = {12, 13, 15}, l_r[] = {20, 22, 24}, l_p_bad[] = {30, 35, 40}, l_p_mid[] = {19, 23, 23};
    rl_claim_long_context(&c, s_p, l_p_good, s_r, l_r, 3, 16);
    cr_assert_eq(c.verdict, RL_VERDICT_SUPPORTED);
    /* x_0 = log(12/10) - log(20/10) */
    double x0 = log(1.2) - log(2.0), x1 = log(13 / 11.0) - log(2.0), x2 = log(15 / 12.0) - log(2.0);
    cr_assert(fabs(c.estimate - (x0 + x1 + x2) / 3) < 1e-12);
    rl_claim_long_context(&c, s_p, l_p_bad, s_r, l_r, 3, 16);
    cr_assert_eq(c.verdict, RL_VERDICT_NOT_SUPPORTED);
    rl_claim_long_context(&c, s_p, l_p_mid, s_r, l_r, 3, 16);
    cr_assert_eq(c.verdict, RL_VERDICT_INCONCLUSIVE);

    double plain_a[] = {20, 21, 22}, plain_b[] = {30, 31, 29};
    double ad_a[] = {18, 19, 20}, ad_b[] = {27, 28, 26.5}, ad_worse[] = {25, 26, 27};
    const double *plain[] = {plain_a, plain_b}, *good[] = {ad_a, ad_b}, *bad[] = {ad_worse, plain_b};
    rl_claim_adaptive(&c, good, plain, 2, 3, 16);
    cr_assert_eq(c.verdict, RL_VERDICT_SUPPORTED);
    rl_claim_adaptive(&c, bad, plain, 2, 3, 16);
    cr_assert_eq(c.verdict, RL_VERDICT_NOT_SUPPORTED);
    const double *mixed[] = {ad_a, (const double[]){33, 31, 29.5}};
    rl_claim_adaptive(&c, mixed, plain, 2, 3, 16);
    cr_assert_eq(c.verdict, RL_VERDICT_INCONCLUSIVE, "%g [%g %g]", c.estimate, c.lo, c.hi);
}

Test(repro_claims, scales_and_variants) {
    cr_assert_eq(rl_repro_scale_count(), 4);
    const char *names[] = {"micro", "tiny", "small", "paper"};
    for (int i = 0; i < 4; i++) {
        const rl_repro_scale *s = rl_repro_scale_at(i);
        cr_assert_str_eq(s->name, names[i]);
        cr_assert_eq(rl_repro_scale_find(names[i]), s);
        cr_assert(s->head_dim % 2 == 0 && s->n_heads % s->n_kv_heads == 0 && s->n_mults >= 1 && s->mults[0] == 1);
        /* every default variant is valid at this head dim (partial needs an even rotated width) */
        cr_assert((int)(0.75 * s->head_dim) % 2 == 0, "%s: partial:p=0.75 needs an even 0.75 * head_dim", s->name);
    }
    const rl_repro_scale *small = rl_repro_scale_find("small");
    cr_assert(small->head_dim == 64 && small->n_layers == 6);
    cr_assert(rl_repro_scale_find("paper")->ctx == 8192 && rl_repro_scale_find("huge") == NULL);

    rl_repro_variant v[16];
    cr_assert_eq(rl_repro_variants_default(v, 16), 7);
    cr_assert_str_eq(v[4].name, "p0.75");
    cr_assert_str_eq(v[4].pe, "prope:p=0.75,theta=10000");
    cr_assert_eq(v[0].paper_wiki, 4.8594);
    int n = 0;
    cr_assert_eq(rl_repro_variants_parse("rope,p0.75", v, 16, &n), 0, "%s", rl_error());
    cr_assert_eq(rl_repro_variants_parse("mine=prope:p=0.5,theta=10000", v, 16, &n), 0, "%s", rl_error());
    cr_assert_eq(n, 3);
    cr_assert_str_eq(v[2].name, "mine");
    cr_assert_str_eq(v[2].pe, "prope:p=0.5,theta=10000");
    cr_assert(isnan(v[2].paper_wiki));
    cr_assert_eq(rl_repro_variants_parse("rope", v, 16, &n), -1);
    cr_assert(strstr(rl_error(), "listed twice"), "%s", rl_error());
    cr_assert_eq(rl_repro_variants_parse("rop", v, 16, &n), -1);
    cr_assert(strstr(rl_error(), "unknown variant 'rop'"), "%s", rl_error());
    cr_assert_eq(rl_repro_variants_parse("bad=prope:p=2", v, 16, &n), -1);
    cr_assert(strstr(rl_error(), "--variants 'bad=prope:p=2'"), "%s", rl_error());
    cr_assert_eq(rl_repro_variants_parse("b d=nope", v, 16, &n), -1);
    cr_assert_eq(n, 3);
}

/* per layer: lowest band at `low[l]` times the rest */
static void layer_usage(double *u, int L, int C, const double *low) {
    for (int l = 0; l < L; l++)
        for (int k = 0; k < C; k++) u[l * C + k] = k >= C - C / 4 ? low[l] : 1;
}

Test(repro_claims, pretrained_every_layer) {
    enum { L = 4, C = 8 };
    double u[L * C];
    rl_claim c;
    double all[] = {2, 3, 1.5, 4}, one_below[] = {2, 3, 0.5, 4}, most_below[] = {0.5, 0.7, 0.9, 4};
    layer_usage(u, L, C, all);
    rl_claim_low_freq_pretrained(&c, u, L, C, "m");
    cr_assert_eq(c.verdict, RL_VERDICT_SUPPORTED, "%s", c.statistic);
    /* x_l = log(low[l] / 1): mean of the logs */
    cr_assert(fabs(c.estimate - (log(2) + log(3) + log(1.5) + log(4)) / 4) < 1e-12);
    cr_assert(isnan(c.lo) && isnan(c.hi), "no interval for a count rule");
    layer_usage(u, L, C, one_below);
    rl_claim_low_freq_pretrained(&c, u, L, C, "m");
    cr_assert_eq(c.verdict, RL_VERDICT_INCONCLUSIVE, "%s", c.statistic);
    cr_assert(strstr(c.statistic, "> 0 in 3 of 4 layers"), "%s", c.statistic);
    layer_usage(u, L, C, most_below);
    rl_claim_low_freq_pretrained(&c, u, L, C, "m");
    cr_assert_eq(c.verdict, RL_VERDICT_NOT_SUPPORTED, "%s", c.statistic);
}
