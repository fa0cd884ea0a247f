/* The paper's trained-model claims as decision rules on per-seed statistics (95% t-intervals). */
#include "ropelab/experiments.h"
#include "ropelab/report.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *rl_verdict_name(rl_verdict v) {
    switch (v) {
    case RL_VERDICT_SUPPORTED: return "supported";
    case RL_VERDICT_NOT_SUPPORTED: return "not supported";
    default: return "inconclusive";
    }
}

/* The rule text is built from the same `sign` that decides: what is printed is what is applied. */
void rl_claim_ci_rule(rl_claim *c, const double *x, int n, int sign) {
    rl_ci ci;
    rl_ci_t(x, n, 0.95, &ci);
    c->n = n;
    c->estimate = ci.mean;
    c->lo = ci.lo;
    c->hi = ci.hi;
    if (sign > 0)
        snprintf(c->rule, sizeof c->rule,
                 "supported if the lower 95%% t-bound of mean(x) over seeds > 0; not supported if the upper bound < 0; "
                 "otherwise (or with fewer than 2 seeds) inconclusive");
    else
        snprintf(c->rule, sizeof c->rule,
                 "supported if the upper 95%% t-bound of mean(x) over seeds < 0; not supported if the lower bound > 0; "
                 "otherwise (or with fewer than 2 seeds) inconclusive");
    c->verdict = RL_VERDICT_INCONCLUSIVE;
    if (n < 2 || isnan(ci.lo) || isnan(ci.hi)) return;
    double toward = sign > 0 ? ci.lo : -ci.hi, away = sign > 0 ? ci.hi : -ci.lo;
    if (toward > 0) c->verdict = RL_VERDICT_SUPPORTED;
    else if (away < 0) c->verdict = RL_VERDICT_NOT_SUPPORTED;
}

static void head(rl_claim *c, const char *id, const char *claim, const char *paper) {
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    snprintf(c->claim, sizeof c->claim, "%s", claim);
    snprintf(c->paper, sizeof c->paper, "%s", paper);
    c->estimate = c->lo = c->hi = NAN;
}

/* "mean 0.0123 [-0.01, 0.03] over 3 seeds" */
static void interval_text(char *buf, size_t n, const rl_claim *c) {
    if (c->n >= 2) snprintf(buf, n, "%.4g, 95%% CI [%.4g, %.4g] over %d seeds", c->estimate, c->lo, c->hi, c->n);
    else if (c->n == 1) snprintf(buf, n, "%.4g from 1 seed (no interval)", c->estimate);
    else snprintf(buf, n, "no data");
}

/* Applies the CI rule to x[0 .. n) (then frees x) and writes the statistic: the printf-formatted
 * description followed by ": <estimate and interval>". */
static void decide(rl_claim *c, double *x, int n, int sign, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void decide(rl_claim *c, double *x, int n, int sign, const char *fmt, ...) {
    rl_claim_ci_rule(c, x, n, sign);
    free(x);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(c->statistic, sizeof c->statistic, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof c->statistic) return;
    snprintf(c->statistic + k, sizeof c->statistic - (size_t)k, ": ");
    interval_text(c->statistic + k + 2, sizeof c->statistic - (size_t)k - 2, c);
}

void rl_claim_p075_vs_rope(rl_claim *c, const double *ppl_p075, const double *ppl_rope, int n) {
    head(c, "ppl.p075_vs_rope", "0.75-RoPE reaches a perplexity at most RoPE's (theta 10k)",
         "Table 2 (4.4414 vs 4.4627 on Wiki)");
    double *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    if (!x) return;
    for (int s = 0; s < n; s++) x[s] = ppl_p075[s] - ppl_rope[s];
    decide(c, x, n, -1,
             "x = ppl(0.75-RoPE) - ppl(RoPE) at the training context, paired by seed");
}

void rl_claim_nope_worst(rl_claim *c, const double *ppl_nope, const double *const *ppl_others,
                         const char *const *names, int n_others, int n) {
    head(c, "ppl.nope_worst", "NoPE has the highest perplexity of all encodings",
         "Table 2 (NoPE 4.8594, every other row below 4.54 on Wiki)");
    snprintf(c->rule, sizeof c->rule,
             "per other variant v, x_v = ppl(NoPE) - ppl(v) paired by seed: supported if every x_v's lower 95%% "
             "t-bound > 0; not supported if some x_v's upper bound < 0; otherwise (or with fewer than 2 seeds) "
             "inconclusive");
    c->verdict = RL_VERDICT_INCONCLUSIVE;
    c->n = n;
    double *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    if (!x || n_others < 1) {
        free(x);
        snprintf(c->statistic, sizeof c->statistic, "no other variant to compare with");
        return;
    }
    int all_above = n >= 2, some_below = 0, worst = -1;
    double worst_lo = INFINITY;
    size_t k = 0;
    k += (size_t)snprintf(c->statistic, sizeof c->statistic, "x_v = ppl(NoPE) - ppl(v), mean [95%% CI]:");
    for (int v = 0; v < n_others; v++) {
        for (int s = 0; s < n; s++) x[s] = ppl_nope[s] - ppl_others[v][s];
        rl_ci ci;
        rl_ci_t(x, n, 0.95, &ci);
        if (!(ci.lo > 0)) all_above = 0;
        if (ci.hi < 0) some_below = 1;
        if (isnan(ci.lo) || ci.lo < worst_lo) {
            worst_lo = isnan(ci.lo) ? -INFINITY : ci.lo;
            worst = v;
            c->estimate = ci.mean;
            c->lo = ci.lo;
            c->hi = ci.hi;
        }
        if (k < sizeof c->statistic)
            k += (size_t)snprintf(c->statistic + k, sizeof c->statistic - k, "%s %s %.4g [%.4g, %.4g]",
                                  v ? ";" : "", names[v], ci.mean, ci.lo, ci.hi);
    }
    free(x);
    if (k < sizeof c->statistic && worst >= 0)
        snprintf(c->statistic + k, sizeof c->statistic - k, " (closest: %s; %d seeds)", names[worst], n);
    if (n >= 2) c->verdict = all_above ? RL_VERDICT_SUPPORTED : some_below ? RL_VERDICT_NOT_SUPPORTED
                                                                          : RL_VERDICT_INCONCLUSIVE;
}

/* Band size used by the usage claims: a quarter of the chunks, at least one. */
static int band_of(int C) {
    int b = (int)lround(C / 4.0);
    return b < 1 ? 1 : b;
}

void rl_claim_low_freq_norms(rl_claim *c, const double *usage, int n, int L, int C) {
    head(c, "usage.low_freq_largest", "RoPE models put their largest q/k norms on the lowest frequencies",
         "Sec. 4, Fig. 3 (Gemma 7B, every layer)");
    int b = band_of(C);
    double *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    if (!x) return;
    for (int s = 0; s < n; s++) {
        double low = 0, rest = 0;
        for (int l = 0; l < L; l++)
            for (int k = 0; k < C; k++) {
                double u = usage[((size_t)s * L + l) * C + k];
                if (k >= C - b) low += u;
                else rest += u;
            }
        low /= (double)L * b;
        rest /= (double)L * (C - b);
        x[s] = log(low / rest);
    }
    decide(c, x, n, +1,
             "x = log(mean q/k chunk norm of the lowest %d of %d frequencies / mean of the other chunks), over all %d "
             "layers and heads of the RoPE (theta 10k) models",
             b, C, L);
}

void rl_claim_low_freq_pretrained(rl_claim *c, const double *usage, int L, int C, const char *name) {
    head(c, "usage.low_freq_largest.pretrained", "", "Sec. 4, Fig. 3 (Gemma 7B, every layer)");
    snprintf(c->claim, sizeof c->claim, "the pretrained model %s puts its largest q/k norms on the lowest frequencies, "
             "in every layer", name);
    snprintf(c->rule, sizeof c->rule,
             "x_l = log(mean chunk norm of the lowest band / mean of the other chunks) in layer l: supported if x_l > 0 "
             "in every layer; not supported if x_l < 0 in more than half of the layers; otherwise inconclusive");
    int b = band_of(C), pos = 0, neg = 0;
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    for (int l = 0; l < L; l++) {
        double low = 0, rest = 0;
        for (int k = 0; k < C; k++) {
            double u = usage[(size_t)l * C + k];
            if (k >= C - b) low += u / b;
            else rest += u / (C - b);
        }
        double x = log(low / rest);
        pos += x > 0;
        neg += x < 0;
        sum += x;
        lo = fmin(lo, x);
        hi = fmax(hi, x);
    }
    c->n = 0;
    c->estimate = L > 0 ? sum / L : NAN; /* no interval: the rule counts layers */
    c->verdict = L > 0 && pos == L ? RL_VERDICT_SUPPORTED : 2 * neg > L ? RL_VERDICT_NOT_SUPPORTED
                                                                        : RL_VERDICT_INCONCLUSIVE;
    snprintf(c->statistic, sizeof c->statistic,
             "x_l with the lowest %d of %d frequencies as the band: > 0 in %d of %d layers (mean %.4g, from %.4g to "
             "%.4g)",
             b, C, pos, L, c->estimate, lo, hi);
}

void rl_claim_high_freq_edges(rl_claim *c, const double *usage, int n, int L, int C) {
    head(c, "usage.high_freq_edges", "high-frequency usage is concentrated in the first and last layers",
         "Sec. 4, Fig. 3");
    int b = band_of(C);
    if (L < 3) {
        rl_claim_ci_rule(c, NULL, 0, +1);
        snprintf(c->statistic, sizeof c->statistic, "not testable with %d layers (needs a middle layer)", L);
        return;
    }
    double *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    if (!x) return;
    for (int s = 0; s < n; s++) {
        double edge = 0, mid = 0;
        for (int l = 0; l < L; l++) {
            double high = 0, all = 0;
            for (int k = 0; k < C; k++) {
                double u = usage[((size_t)s * L + l) * C + k];
                all += u;
                if (k < b) high += u;
            }
            double h = (high / b) / (all / C);
            if (l == 0 || l == L - 1) edge += h / 2;
            else mid += h / (L - 2);
        }
        x[s] = edge - mid;
    }
    decide(c, x, n, +1,
             "h_l = mean norm of the highest %d of %d frequencies / mean of all chunks in layer l; x = mean(h_first, "
             "h_last) - mean(h_middle) for the RoPE (theta 10k) models",
             b, C);
}

void rl_claim_positional_high(rl_claim *c, const double *share, int n, double edge) {
    head(c, "heads.positional_high_freq", "positional (diagonal, previous-token) heads rely on the highest frequencies",
         "Sec. 5, Thm 5.3, Tables 3-5");
    double *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    if (!x) return;
    int m = 0;
    for (int s = 0; s < n; s++)
        if (!isnan(share[s])) x[m++] = share[s] - edge;
    decide(c, x, m, +1,
             "x = (share of the positional heads' logit margin carried by the highest %.0f%% of frequencies) - %.2f "
             "(that band's share of the chunks), RoPE (theta 10k) models with such heads (%d of %d seeds)",
             100 * edge, edge, m, n);
}

void rl_claim_long_context(rl_claim *c, const double *short_p075, const double *long_p075, const double *short_rope,
                           const double *long_rope, int n, int mult) {
    head(c, "long.p075_degrades_less",
         "beyond the training context, 0.75-RoPE's perplexity grows less than RoPE's",
         "motivated by Thm 6.1 (low frequencies are not robust); not measured in the paper");
    double *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    if (!x) return;
    for (int s = 0; s < n; s++)
        x[s] = log(long_p075[s] / short_p075[s]) - log(long_rope[s] / short_rope[s]);
    decide(c, x, n, -1,
             "x = log(ppl at %dx / ppl at 1x) of 0.75-RoPE minus the same for RoPE, paired by seed", mult);
}

void rl_claim_adaptive(rl_claim *c, const double *const *adaptive, const double *const *plain, int n_variants, int n,
                       int mult) {
    head(c, "softmax.adaptive_helps_long", "adaptive-temperature softmax lowers perplexity beyond the training context",
         "\"Softmax is not enough\", Sec. 4 (adaptive temperature)");
    double *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    if (!x) return;
    for (int s = 0; s < n; s++) {
        double sum = 0;
        for (int v = 0; v < n_variants; v++) sum += log(adaptive[v][s] / plain[v][s]);
        x[s] = n_variants > 0 ? sum / n_variants : NAN;
    }
    decide(c, x, n_variants > 0 ? n : 0, -1,
             "x = mean over the %d variants of log(ppl adaptive / ppl plain) at %dx the training context, per seed",
             n_variants, mult);
}
