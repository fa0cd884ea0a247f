/* Statistics: mean, sd, Student t (tail via the incomplete beta, quantile by bisection), t intervals,
 * paired t-test and exact McNemar. */
#include "ropelab/report.h"

#include <math.h>

/* Continued fraction of the regularized incomplete beta function (modified Lentz), valid for
 * x < (a+1)/(a+b+2); terms d_{2m+1} = -(a+m)(a+b+m)x / ((a+2m)(a+2m+1)), d_{2m} = m(b-m)x / ((a+2m-1)(a+2m)). */
static double beta_cf(double a, double b, double x) {
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    double f = d;
    for (int m = 1; m <= 1000; m++) {
        double num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
        d = 1 + num * d;
        c = 1 + num / c;
        if (fabs(d) < tiny) d = tiny;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        f *= d * c;
        num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
        d = 1 + num * d;
        c = 1 + num / c;
        if (fabs(d) < tiny) d = tiny;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double delta = d * c;
        f *= delta;
        if (fabs(delta - 1) < 1e-15) break;
    }
    return f;
}

/* I_x(a, b) */
static double ibeta(double a, double b, double x) {
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    double lfront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1) / (a + b + 2)) return exp(lfront) * beta_cf(a, b, x) / a;
    return 1 - exp(lfront) * beta_cf(b, a, 1 - x) / b;
}

double rl_t_two_sided(double t, double df) {
    if (isnan(t) || !(df > 0)) return NAN;
    if (isinf(t)) return 0;
    return ibeta(df / 2, 0.5, df / (df + t * t));
}

/* The quantile by bisection on |t|: P(|T| >= t) is strictly decreasing in t >= 0, so the bracket
 * [0, hi] (hi doubled until the tail is below the target) shrinks to adjacent doubles. */
double rl_t_quantile(double p, double df) {
    if (!(p > 0 && p < 1) || !(df > 0)) return NAN;
    if (p == 0.5) return 0;
    double tail = 2 * (p < 0.5 ? p : 1 - p); /* two-sided tail of |t| */
    double lo = 0, hi = 1;
    while (rl_t_two_sided(hi, df) > tail && hi < 1e300) hi *= 2;
    for (int it = 0; it < 2000; it++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        if (rl_t_two_sided(mid, df) > tail) lo = mid;
        else hi = mid;
    }
    double t = 0.5 * (lo + hi);
    return p < 0.5 ? -t : t;
}

double rl_mean(const double *x, int n) {
    if (n < 1) return NAN;
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    return s / n;
}

double rl_sd(const double *x, int n) {
    if (n < 2) return NAN;
    double m = rl_mean(x, n), ss = 0;
    for (int i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    return sqrt(ss / (n - 1));
}

void rl_ci_t(const double *x, int n, double level, rl_ci *out) {
    out->n = n;
    out->mean = rl_mean(x, n);
    out->sd = rl_sd(x, n);
    out->se = n >= 2 ? out->sd / sqrt((double)n) : NAN;
    out->half = n >= 2 && level > 0 && level < 1 ? rl_t_quantile(0.5 + level / 2, n - 1) * out->se : NAN;
    out->lo = out->mean - out->half;
    out->hi = out->mean + out->half;
}

double rl_paired_t_pvalue(const double *d, int n, double *t_out) {
    if (t_out) *t_out = NAN;
    if (n < 2) return NAN;
    double mean = 0, ss = 0;
    for (int i = 0; i < n; i++) mean += d[i];
    mean /= n;
    for (int i = 0; i < n; i++) ss += (d[i] - mean) * (d[i] - mean);
    double sd = sqrt(ss / (n - 1));
    if (sd == 0) {
        if (t_out) *t_out = mean == 0 ? 0 : copysign(INFINITY, mean);
        return mean == 0 ? 1.0 : 0.0;
    }
    double t = mean / (sd / sqrt((double)n));
    if (t_out) *t_out = t;
    return rl_t_two_sided(t, n - 1);
}

double rl_mcnemar_exact(int64_t b, int64_t c) {
    int64_t n = b + c, k = b < c ? b : c;
    if (n <= 0) return 1.0;
    /* log P(X <= k), X ~ Bin(n, 1/2), summed stably around the largest term (i = k) */
    double lmax = lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0), s = 0;
    for (int64_t i = 0; i <= k; i++) s += exp(lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) - lmax);
    double p = 2 * exp(lmax + log(s) - n * log(2.0));
    return p < 1 ? p : 1.0;
}
