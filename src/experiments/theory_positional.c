/* Experiment 4 (Prop 5.2 / Thm 5.3): NoPE cannot build a diagonal head ([bos, x, x] caps alpha_33 below
 * 1/2); RoPE can, with q = k = psi in one band; the query norm needed per band for N = 1k and 8k. */
#include "theory_internal.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

double rl_theory_nope_alpha33(double delta) { return 1.0 / (2.0 + exp(-delta)); }

double rl_theory_nope_gap(double delta) {
    double e = exp(-delta);
    return e / (2.0 * (2.0 + e));
}

/* Naive softmax of three logits: the weight of the last one. */
static double alpha_last3(const double a[3]) {
    double m = RL_MAX(a[0], RL_MAX(a[1], a[2]));
    double e0 = exp(a[0] - m), e1 = exp(a[1] - m), e2 = exp(a[2] - m);
    return e2 / (e0 + e1 + e2);
}

int rl_theory_random_heads(rl_theory_head_sample *out, int64_t n_heads, const double *freq, int n, int D,
                           uint64_t seed) {
    if (n_heads < 1 || D < 1) return rl_fail("positional: need >= 1 head and d_model >= 1");
    int d = 2 * n, nt = omp_get_max_threads();
    size_t per = 2 * (size_t)D + 3 * (size_t)d + 2 * (size_t)d * (size_t)D;
    double *buf = rl_malloc((size_t)nt * per * sizeof(double), "random heads");
    if (!buf) return -1;
#pragma omp parallel num_threads(nt)
    {
        double *ebos = buf + (size_t)omp_get_thread_num() * per, *ex = ebos + D;
        double *q = ex + D, *kb = q + d, *kx = kb + d, *Wq = kx + d, *Wk = Wq + (size_t)d * D;
#pragma omp for schedule(static)
        for (int64_t h = 0; h < n_heads; h++) {
            rl_rng rng;
            th_rng(&rng, seed, TH_TAG_HEADS, (uint64_t)h);
            for (int i = 0; i < D; i++) ebos[i] = rl_rng_normal(&rng);
            for (int i = 0; i < D; i++) ex[i] = rl_rng_normal(&rng);
            double sd = 1.0 / sqrt((double)D);
            for (size_t i = 0; i < (size_t)d * D; i++) Wq[i] = sd * rl_rng_normal(&rng);
            for (size_t i = 0; i < (size_t)d * D; i++) Wk[i] = sd * rl_rng_normal(&rng);
            double scale = pow(10.0, -2.0 + 3.0 * rl_rng_uniform(&rng)); /* log-uniform in [0.01, 10] */
            for (int i = 0; i < d; i++) { /* q = W_q e_x, k = W_k e: [d] */
                double a = 0, b = 0, c = 0;
                for (int j = 0; j < D; j++) {
                    a += Wq[(size_t)i * D + j] * ex[j];
                    b += Wk[(size_t)i * D + j] * ebos[j];
                    c += Wk[(size_t)i * D + j] * ex[j];
                }
                q[i] = a;
                kb[i] = b;
                kx[i] = c;
            }
            /* positions 0 (bos), 1 (x), 2 (x); the query is the last x */
            double dot_b = 0, dot_x = 0;
            for (int i = 0; i < d; i++) {
                dot_b += q[i] * kb[i];
                dot_x += q[i] * kx[i];
            }
            double nope[3] = {scale * dot_b, scale * dot_x, scale * dot_x};
            double rope[3] = {scale * rl_theory_logit(freq, n, q, kb, 2), scale * rl_theory_logit(freq, n, q, kx, 1),
                              scale * rl_theory_logit(freq, n, q, kx, 0)};
            out[h].scale = scale;
            out[h].delta = nope[2] - nope[0];
            out[h].alpha_nope = alpha_last3(nope);
            out[h].rope_delta = rope[2] - RL_MAX(rope[0], rope[1]);
            out[h].alpha_rope = alpha_last3(rope);
        }
    }
    free(buf);
    return 0;
}

/* u_r = 1 - cos(r g) = 2 sin^2(r g / 2), accurate when r g is close to a multiple of 2 pi. */
static double one_minus_cos(double x) {
    double s = sin(0.5 * x);
    return 2.0 * s * s;
}

/* u(o) = mean_b (1 - cos(o g_b)): how far below the target's logit (in units of c) a key at offset o sits. */
static double gap_at(const double *g, int nb, double o) {
    double s = 0;
    for (int b = 0; b < nb; b++) s += one_minus_cos(o * g[b]);
    return s / nb;
}

double rl_theory_head_min_alpha(const double *g, int nb, int64_t N, double c, rl_theory_head_kind kind,
                                int64_t *worst_i) {
    /* Diagonal, query i: alpha_ii = 1 / (1 + sum_{r=1}^{i-1} e^{-c u(r)}).
     * Previous, query i >= 2: alpha_i,i-1 = 1 / (1 + e^{-c u(1)} + sum_{m=1}^{i-2} e^{-c u(m)})
     * (key j = i sits at offset +1, keys j <= i-2 at offsets -1 .. -(i-2); u is even in the offset). */
    double best = INFINITY, prefix = 0, last = 0; /* prefix = sum_{r=1}^{i-1} e^{-c u(r)}; last = its r = i-1 term */
    int64_t wi = 0;
    double extra = kind == RL_THEORY_PREVIOUS ? exp(-c * gap_at(g, nb, 1.0)) : 0;
    for (int64_t i = 1; i <= N; i++) {
        if (i >= 2) {
            last = exp(-c * gap_at(g, nb, (double)(i - 1)));
            prefix += last;
        }
        double a;
        if (kind == RL_THEORY_DIAGONAL) {
            a = 1.0 / (1.0 + prefix);
        } else {
            if (i < 2) continue;
            a = 1.0 / (1.0 + extra + (prefix - last)); /* offsets up to i - 2 */
        }
        if (a < best) {
            best = a;
            wi = i;
        }
    }
    if (worst_i) *worst_i = wi;
    return best;
}

double rl_theory_head_scale(const double *g, int nb, int64_t N, double eps, rl_theory_head_kind kind) {
    if (nb < 1 || N < 1 || (kind == RL_THEORY_PREVIOUS && N < 2) || !(eps > 0 && eps < 1)) return NAN;
    /* the competitors of the worst query i = N: diagonal r = 1..N-1; previous +1 and 1..N-2 */
    int64_t m = N - 1;
    double *u = rl_malloc((size_t)RL_MAX(m, 1) * sizeof(double), "positional competitors");
    if (!u) return NAN;
    if (kind == RL_THEORY_DIAGONAL) {
        for (int64_t r = 1; r < N; r++) u[r - 1] = gap_at(g, nb, (double)r);
    } else {
        u[0] = gap_at(g, nb, 1.0);
        for (int64_t r = 1; r <= N - 2; r++) u[r] = gap_at(g, nb, (double)r);
    }
    double T = eps / (1.0 - eps), logT = log(T), result = NAN, mn = INFINITY;
    for (int64_t i = 0; i < m; i++) mn = RL_MIN(mn, u[i]);
    if (mn == 0) { /* a competitor with exactly the target's logit at every scale */
        result = INFINITY;
        goto done;
    }
    if ((double)m <= T) { /* already sharp at c = 0 */
        result = 0;
        goto done;
    }
    /* h(c) = log sum_i e^{-c u_i} - log T is convex and decreasing; Newton from c = 0 (left of the root)
     * climbs monotonically to the root (the tangent of a convex function lies below it). */
    double c = 0;
    for (int it = 0; it < 500; it++) {
        double s = 0, s1 = 0; /* e^{-c mn} factored out so that nothing underflows */
        for (int64_t i = 0; i < m; i++) {
            double e = exp(-c * (u[i] - mn));
            s += e;
            s1 += u[i] * e;
        }
        double h = log(s) - c * mn - logT, step = h / (s1 / s);
        c += step;
        if (step <= 1e-14 * c) break;
    }
    /* Newton stays (up to rounding) left of the root: step just right of it, confirm, widen if needed */
    for (int k = 0; k < 60; k++) {
        c *= 1.0 + 1e-10 * (double)(1 << (k < 30 ? k : 30));
        double s = 0;
        for (int64_t i = 0; i < m; i++) s += exp(-c * u[i]);
        if (s <= T) {
            result = c;
            break;
        }
    }
done:
    free(u);
    return result;
}

double rl_theory_head_scale_bound(int64_t N, double eps) {
    return log((1.0 - eps) / eps) / one_minus_cos(2.0 * M_PI / (double)N);
}

/* ---- output ------------------------------------------------------------------------------- */

static int write_nope(th_ctx *x, const rl_theory_head_sample *hs, int64_t nh, double *best_nope, double *best_rope,
                      double *best_gap) {
    const rl_theory_opts *o = x->o;
    rl_afile f;
    if (th_open(x, &f, "positional_nope.csv") != 0) return -1;
    fprintf(f.fp, "delta,alpha33,half_minus_alpha33\n");
    double min_gap = INFINITY;
    for (int i = 0; i <= 1000; i++) { /* the scan over the only free parameter */
        double dl = -10.0 + 0.05 * i;
        fprintf(f.fp, "%.4f,%.17g,%.17g\n", dl, rl_theory_nope_alpha33(dl), rl_theory_nope_gap(dl));
        min_gap = RL_MIN(min_gap, rl_theory_nope_gap(dl));
    }
    if (th_commit(&f) != 0) return -1;
    if (th_open(x, &f, "positional_heads.csv") != 0) return -1;
    fprintf(f.fp, "scale,nope_delta,nope_alpha33,rope_delta,rope_alpha33\n");
    *best_nope = 0;
    *best_rope = 0;
    for (int64_t h = 0; h < nh; h++) {
        fprintf(f.fp, "%.8g,%.10g,%.17g,%.10g,%.17g\n", hs[h].scale, hs[h].delta, hs[h].alpha_nope, hs[h].rope_delta,
                hs[h].alpha_rope);
        *best_nope = RL_MAX(*best_nope, hs[h].alpha_nope);
        *best_rope = RL_MAX(*best_rope, hs[h].alpha_rope);
    }
    if (th_commit(&f) != 0) return -1;
    *best_gap = min_gap;
    char body[4096];
    snprintf(body, sizeof body,
             "set title \"Prop 5.2: on [bos, x, x] a NoPE head has α_{33} = 1/(2 + e^{-Δ}) < 1/2 (Δ = a_x - a_{bos})"
             "\\nbest of %lld random NoPE heads: α_{33} = %.17g; the same heads with RoPE reach %.6f\"\n"
             "set grid\nset key bottom right box opaque\n"
             "set xlabel \"logit gap Δ (NoPE: a_{33} - a_{31}; RoPE: a_{33} - max(a_{31}, a_{32}))\"\n"
             "set ylabel \"attention of token 3 on itself, α_{33}\"\nset xrange [-10:20]\nset yrange [0:1.02]\n"
             "plot 'positional_heads.csv' using 4:5 skip 1 with points pt 7 ps 0.35 lc rgb \"#ff7f0e\" "
             "title \"random RoPE heads (d = %d)\", \\\n"
             "     '' using 2:3 skip 1 with points pt 7 ps 0.35 lc rgb \"#1f77b4\" title \"random NoPE heads\", \\\n"
             "     'positional_nope.csv' using 1:2 skip 1 with lines lw 2 lc rgb \"#08306b\" "
             "title \"every NoPE head: 1/(2 + e^{-Δ})\", \\\n"
             "     0.5 with lines dt 2 lc rgb \"black\" title \"1/2\", %.17g with lines dt 3 lc rgb \"#d62728\" "
             "title \"1 - ε = %g\"\n"
             "unset yrange\n",
             (long long)nh, *best_nope, *best_rope, o->dim, 1.0 - o->eps, 1.0 - o->eps);
    return th_figure(x, "positional_nope", 900, 600, body);
}

/* One panel of the norm figure: for every N, diagonal (solid) and previous-token (dashed) columns. */
static char *norm_panel(char *p, char *end, const rl_theory_opts *o, int first_col, int with_bound) {
    static const char *colors[8] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                    "#bcbd22"};
    p += snprintf(p, (size_t)(end - p), "plot ");
    for (int l = 0; l < o->n_lengths; l++) {
        int col = first_col + 2 * l;
        p += snprintf(p, (size_t)(end - p),
                      "%s'positional_norm.csv' using 1:%d skip 1 with lines lw 1.5 lc rgb \"%s\" title \"diagonal, N = "
                      "%lld\", \\\n     '' using 1:%d skip 1 with lines lw 1 dt 2 lc rgb \"%s\" title \"previous-token, "
                      "N = %lld\"",
                      l ? ", \\\n     " : "", col, colors[l % 8], (long long)o->lengths[l], col + 1, colors[l % 8],
                      (long long)o->lengths[l]);
        if (with_bound)
            p += snprintf(p, (size_t)(end - p),
                          ", \\\n     %.10g with lines dt 3 lc rgb \"%s\" title \"lower bound for any one band, N = %lld\"",
                          sqrt(rl_theory_head_scale_bound(o->lengths[l], o->eps)), colors[l % 8],
                          (long long)o->lengths[l]);
    }
    p += snprintf(p, (size_t)(end - p), "\n");
    return p;
}

int th_run_positional(th_ctx *x) {
    const rl_theory_opts *o = x->o;
    int n = o->dim / 2, nl = o->n_lengths, rc = -1, W = RL_THEORY_MULTIBAND;
    if (!(o->eps > 0 && o->eps < 0.5)) return rl_fail("positional: eps %g must be in (0, 0.5)", o->eps);
    double *freq, *c1 = NULL, *c8 = NULL;
    rl_theory_head_sample *hs = NULL;
    if (rl_theory_ladder(o->theta, o->dim, &freq) != 0) return -1;
    hs = rl_malloc((size_t)o->heads * sizeof *hs, "random heads");
    c1 = rl_malloc((size_t)n * (size_t)nl * 2 * sizeof(double), "positional scales");
    c8 = rl_malloc((size_t)n * (size_t)nl * 2 * sizeof(double), "positional scales");
    if (!hs || !c1 || !c8) goto done;
#define C1(j, l, kd) c1[((size_t)(j) * nl + (l)) * 2 + (kd)]
#define C8(j, l, kd) c8[((size_t)(j) * nl + (l)) * 2 + (kd)]

    /* Prop 5.2 */
    if (rl_theory_random_heads(hs, o->heads, freq, n, 8, o->seed) != 0) goto done;
    double best_nope, best_rope, min_gap;
    if (write_nope(x, hs, o->heads, &best_nope, &best_rope, &min_gap) != 0) goto done;
    int nope_ok = best_nope <= 0.5 && min_gap > 0;

    /* Thm 5.3: one band j, and psi spread over bands j .. j+W-1 */
#pragma omp parallel for schedule(dynamic, 1) collapse(2)
    for (int j = 0; j < n; j++)
        for (int l = 0; l < nl; l++)
            for (int kd = 0; kd < 2; kd++) {
                C1(j, l, kd) = rl_theory_head_scale(freq + j, 1, o->lengths[l], o->eps, kd);
                C8(j, l, kd) = j + W <= n ? rl_theory_head_scale(freq + j, W, o->lengths[l], o->eps, kd) : NAN;
            }
    /* (2) every one-band head reaches the sharpness, re-checked at every query position */
    int reached = 1, n_checked = 0;
    double worst_alpha = 1;
    for (int j = 0; j < n; j++)
        for (int l = 0; l < nl; l++)
            for (int kd = 0; kd < 2; kd++) {
                double a = isfinite(C1(j, l, kd)) ? rl_theory_head_min_alpha(freq + j, 1, o->lengths[l], C1(j, l, kd),
                                                                             kd, NULL) : 0;
                worst_alpha = RL_MIN(worst_alpha, a);
                if (!(a >= 1.0 - o->eps)) reached = 0;
                n_checked++;
            }
    /* (3) no-wrap bands (wavelength >= N, a suffix of the ladder): the norm must fall as g rises */
    int violations = 0, nowrap_pairs = 0;
    cJSON *per = cJSON_CreateArray();
    for (int l = 0; l < nl; l++) {
        double N = (double)o->lengths[l];
        int j0 = n;
        while (j0 > 0 && 2 * M_PI / freq[j0 - 1] >= N) j0--;
        for (int kd = 0; kd < 2; kd++)
            for (int j = j0; j + 1 < n; j++) {
                nowrap_pairs++;
                if (!(C1(j, l, kd) < C1(j + 1, l, kd))) violations++;
            }
        int b1 = 0, b8 = 0;
        for (int j = 1; j < n; j++) {
            if (C1(j, l, 0) < C1(b1, l, 0)) b1 = j;
            if (j + W <= n && C8(j, l, 0) < C8(b8, l, 0)) b8 = j;
        }
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "N", N);
        cJSON_AddNumberToObject(e, "first_nowrap_band", j0);
        cJSON_AddNumberToObject(e, "one_band_diagonal_norm_highest_band", sqrt(C1(0, l, 0)));
        cJSON_AddNumberToObject(e, "one_band_diagonal_norm_lowest_band", sqrt(C1(n - 1, l, 0)));
        cJSON_AddNumberToObject(e, "one_band_cheapest_band", b1);
        cJSON_AddNumberToObject(e, "one_band_cheapest_wavelength", 2 * M_PI / freq[b1]);
        cJSON_AddNumberToObject(e, "one_band_cheapest_norm", sqrt(C1(b1, l, 0)));
        cJSON_AddNumberToObject(e, "one_band_lower_bound_norm", sqrt(rl_theory_head_scale_bound(o->lengths[l], o->eps)));
        cJSON_AddNumberToObject(e, "multiband_cheapest_first_band", b8);
        cJSON_AddNumberToObject(e, "multiband_cheapest_norm", sqrt(C8(b8, l, 0)));
        cJSON_AddNumberToObject(e, "multiband_lowest_bands_norm", sqrt(C8(n - W, l, 0)));
        cJSON_AddItemToArray(per, e);
    }
    cJSON_AddItemToObject(x->stats, "per_length", per);
    int nowrap_ok = violations == 0 && nowrap_pairs > 0;

    rl_afile f;
    if (th_open(x, &f, "positional_norm.csv") != 0) goto done;
    fprintf(f.fp, "band,frequency,wavelength");
    for (int l = 0; l < nl; l++)
        fprintf(f.fp, ",diagonal_N%lld,previous_N%lld", (long long)o->lengths[l], (long long)o->lengths[l]);
    for (int l = 0; l < nl; l++)
        fprintf(f.fp, ",diagonal_%dbands_N%lld,previous_%dbands_N%lld", W, (long long)o->lengths[l], W,
                (long long)o->lengths[l]);
    fprintf(f.fp, "\n");
    for (int j = 0; j < n; j++) {
        fprintf(f.fp, "%d,%.17g,%.10g", j, freq[j], 2 * M_PI / freq[j]);
        for (int l = 0; l < nl; l++)
            for (int kd = 0; kd < 2; kd++) fprintf(f.fp, ",%.10g", sqrt(C1(j, l, kd)));
        for (int l = 0; l < nl; l++)
            for (int kd = 0; kd < 2; kd++) fprintf(f.fp, ",%.10g", sqrt(C8(j, l, kd))); /* NaN past the end */
        fprintf(f.fp, "\n");
    }
    if (th_commit(&f) != 0) goto done;

    char body[12288], *p = body, *end = body + sizeof body;
    p += snprintf(p, (size_t)(end - p),
                  "set multiplot layout 2,1 title \"Thm 5.3: the query norm |q| = |ψ| a RoPE head needs for α > 1 - ε "
                  "= %g at every query up to N (d = %d, θ = %g)\\nno 1/√d (with it, multiply by d^{1/4} = %.3g); "
                  "frequency 0 (a NoPE channel) can never do it: α_{ii} = 1/i\"\n"
                  "set grid\nset logscale y\nset format y \"10^{%%L}\"\nset key top left box opaque\n"
                  "set xlabel \"band j (0 = highest frequency, 1 rad/token; %d = lowest)\"\n"
                  "set ylabel \"required query norm |ψ|\"\nset xrange [-1:%d]\nset x2range [-1:%d]\nset x2tics (",
                  1.0 - o->eps, o->dim, o->theta, pow(o->dim, 0.25), n - 1, n, n);
    int first = 1;
    for (double gg = 1; gg >= freq[n - 1]; gg /= 10) { /* top axis: frequency */
        p += snprintf(p, (size_t)(end - p), "%s\"g = %g\" %.4f", first ? "" : ", ", gg,
                      -log(gg) * o->dim / (2.0 * log(o->theta)));
        first = 0;
    }
    p += snprintf(p, (size_t)(end - p), ")\nset xtics nomirror\n");
    for (int l = 0; l < nl; l++) /* where the band's wavelength equals N: right of it, no wrap-around */
        p += snprintf(p, (size_t)(end - p),
                      "set arrow %d from %.4f, graph 0 to %.4f, graph 1 nohead dt 4 lc rgb \"gray50\"\n"
                      "set label %d \"wavelength = %lld\" at %.4f, graph 0.04 rotate by 90 offset -0.5,0 "
                      "tc rgb \"gray40\" font \",8\"\n",
                      l + 1, log((double)o->lengths[l] / (2 * M_PI)) * o->dim / (2.0 * log(o->theta)),
                      log((double)o->lengths[l] / (2 * M_PI)) * o->dim / (2.0 * log(o->theta)), l + 1,
                      (long long)o->lengths[l], log((double)o->lengths[l] / (2 * M_PI)) * o->dim / (2.0 * log(o->theta)));
    p += snprintf(p, (size_t)(end - p),
                  "set title \"one band j (the theorem's head): cheapest where the wavelength is about N; bands "
                  "that wrap around pay for near-returns r g ≈ 2πm\"\nset key top right box opaque\nset yrange [100:1e7]\n");
    p = norm_panel(p, end, o, 4, 1);
    p += snprintf(p, (size_t)(end - p), "unset x2tics\nset xtics mirror\nunset arrow\nunset label\nset autoscale y\nset key top left box opaque\n"
                                        "set title \"ψ spread evenly over %d adjacent bands j .. j+%d: the highest "
                                        "frequencies are by far the cheapest\"\n"
                                        "set xlabel \"first band j of the %d (0 = highest frequency)\"\n",
                  W, W - 1, W);
    p = norm_panel(p, end, o, 4 + 2 * nl, 0);
    p += snprintf(p, (size_t)(end - p), "unset logscale y\nset format y\nunset multiplot\n");
    if (p >= end - 1) {
        rl_fail("positional: figure script too long");
        goto done;
    }
    if (th_figure(x, "positional_norm", 1000, 1100, body) != 0) goto done;

    th_stat(x, "best_nope_alpha33", best_nope);
    th_stat(x, "nope_min_gap_to_half", min_gap);
    th_stat(x, "best_random_rope_alpha33", best_rope);
    th_stat(x, "random_heads", (double)o->heads);
    th_stat(x, "one_band_heads_checked", n_checked);
    th_stat(x, "one_band_worst_alpha", worst_alpha);
    th_stat(x, "nowrap_monotonicity_violations", violations);
    th_stat(x, "nowrap_pairs_checked", nowrap_pairs);
    th_stat(x, "eps", o->eps);
    x->supported = nope_ok && reached && nowrap_ok;
    snprintf(x->claim, sizeof x->claim,
             "Prop 5.2 / Thm 5.3: a NoPE head cannot be diagonal (on [bos, x, x] alpha_33 < 1/2); a RoPE head can "
             "(q = k = psi in one band, or k = rho(g) psi for previous-token), and the higher g, the smaller the norm "
             "needed");
    snprintf(x->rule, sizeof x->rule,
             "supported iff (1) every NoPE head (the scan over delta, the only free parameter, and %lld random heads) "
             "has alpha_33 <= 1/2 with 1/2 - alpha_33 > 0 at every finite delta; (2) for every band and every N, the "
             "one-band diagonal and previous-token heads reach min_i alpha >= 1 - eps = %g at a finite norm "
             "(re-checked at every query i <= N); (3) among bands that do not wrap around within N (wavelength >= N) "
             "the required norm strictly decreases as g increases, for every N and both heads",
             (long long)o->heads, 1.0 - o->eps);
    {
        cJSON *pl = cJSON_GetArrayItem(per, nl - 1);
        snprintf(x->line, sizeof x->line,
                 "NoPE best alpha_33 %.6f <= 1/2 (%s); one-band RoPE heads reach alpha >= %g: %d/%d; no-wrap "
                 "monotone: %s; N = %lld: cheapest one band j = %d (wavelength %.0f), %d-band heads cheapest at j = %d",
                 best_nope, nope_ok ? "yes" : "NO", 1.0 - o->eps, reached ? n_checked : 0, n_checked,
                 nowrap_ok ? "yes" : "NO", (long long)o->lengths[nl - 1],
                 (int)cJSON_GetObjectItem(pl, "one_band_cheapest_band")->valuedouble,
                 cJSON_GetObjectItem(pl, "one_band_cheapest_wavelength")->valuedouble, W,
                 (int)cJSON_GetObjectItem(pl, "multiband_cheapest_first_band")->valuedouble);
    }
    rc = 0;
#undef C1
#undef C8
done:
    free(freq);
    free(hs);
    free(c1);
    free(c8);
    return rc;
}
