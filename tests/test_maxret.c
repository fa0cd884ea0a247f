/* maxret: the network's backward against float64 finite differences of an independent float64 forward
 * (plain, adaptive through β, adaptive with β constant), the statistics against closed forms, and an
 * end-to-end run of `ropelab maxret` that must learn the task. */
#include "helpers.h"
#include "ropelab/experiments.h"
#include "ropelab/util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- float64 reference forward, written from the description in experiments.h ------------------ */
typedef struct {
    const rl_maxret_model *m; /* for the parameter offsets and sizes only */
    int B, n;
    const float *items, *query;
    const int32_t *target;
    int attn;           /* 0 plain, 1 adaptive (β from entropy), 2 adaptive with β from beta_fixed */
    double *beta_fixed; /* [B]: written when attn == 1, read when attn == 2 */
} ref_ctx;

static double gelu64(double x) { return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }

/* y[out] = W x + b, W at P + off_w ([out][in]), b at P + off_b. */
static void lin64(double *y, const double *P, size_t ow, size_t ob, const double *x, int in, int out) {
    for (int o = 0; o < out; o++) {
        double s = P[ob + o];
        for (int i = 0; i < in; i++) s += P[ow + (size_t)o * in + i] * x[i];
        y[o] = s;
    }
}

static void mlp64(double *h, const double *P, const rl_maxret_model *m, float *const *w, float *const *b,
                  const double *x, int in0) {
    double tmp[64];
    memcpy(tmp, x, sizeof(double) * in0);
    int in = in0;
    for (int l = 0; l < m->depth; l++) {
        lin64(h, P, rl_maxret_offset(m, w[l]), rl_maxret_offset(m, b[l]), tmp, in, m->width);
        for (int j = 0; j < m->width; j++) tmp[j] = gelu64(h[j]);
        in = m->width;
    }
    memcpy(h, tmp, sizeof(double) * m->width);
}

static double ref_beta(double H) {
    if (!(H > 0.5)) return 1;
    double p = -0.037 * pow(H, 4) + 0.481 * pow(H, 3) - 2.3 * H * H + 4.917 * H - 1.791;
    return p > 1 ? p : 1;
}

static double ref_loss(const double *P, ref_ctx *c) {
    const rl_maxret_model *m = c->m;
    int W = m->width, C = m->n_classes, D = 1 + C, n = c->n;
    double total = 0;
    double *k = malloc(sizeof(double) * n * W), *v = malloc(sizeof(double) * n * W), s[64], a[64];
    for (int b = 0; b < c->B; b++) {
        double h[64], x[64], g[64], qv[64], o[64] = {0}, a1[64], logits[64];
        for (int i = 0; i < n; i++) {
            for (int d = 0; d < D; d++) x[d] = c->items[((size_t)b * n + i) * D + d];
            mlp64(h, P, m, m->xw, m->xb, x, D);
            lin64(k + (size_t)i * W, P, rl_maxret_offset(m, m->wk), rl_maxret_offset(m, m->bk), h, W, W);
            lin64(v + (size_t)i * W, P, rl_maxret_offset(m, m->wv), rl_maxret_offset(m, m->bv), h, W, W);
        }
        x[0] = c->query[b];
        mlp64(g, P, m, m->qw, m->qb, x, 1);
        lin64(qv, P, rl_maxret_offset(m, m->wq), rl_maxret_offset(m, m->bq), g, W, W);
        double mx = -INFINITY;
        for (int i = 0; i < n; i++) {
            s[i] = 0;
            for (int d = 0; d < W; d++) s[i] += qv[d] * k[(size_t)i * W + d];
            s[i] /= sqrt((double)W);
            mx = fmax(mx, s[i]);
        }
        double beta = 1;
        if (c->attn) {
            double z = 0, H = 0;
            for (int i = 0; i < n; i++) z += exp(s[i] - mx);
            for (int i = 0; i < n; i++) {
                double p = exp(s[i] - mx) / z;
                H -= p * log(p);
            }
            if (c->attn == 1) beta = c->beta_fixed[b] = ref_beta(H);
            else beta = c->beta_fixed[b];
        }
        double z = 0;
        for (int i = 0; i < n; i++) z += exp(beta * (s[i] - mx));
        for (int i = 0; i < n; i++) a[i] = exp(beta * (s[i] - mx)) / z;
        for (int i = 0; i < n; i++)
            for (int d = 0; d < W; d++) o[d] += a[i] * v[(size_t)i * W + d];
        lin64(a1, P, rl_maxret_offset(m, m->w1), rl_maxret_offset(m, m->b1), o, W, W);
        for (int d = 0; d < W; d++) a1[d] = gelu64(a1[d]);
        lin64(logits, P, rl_maxret_offset(m, m->w2), rl_maxret_offset(m, m->b2), a1, W, C);
        double lm = -INFINITY, se = 0;
        for (int j = 0; j < C; j++) lm = fmax(lm, logits[j]);
        for (int j = 0; j < C; j++) se += exp(logits[j] - lm);
        total += lm + log(se) - logits[c->target[b]];
    }
    free(k);
    free(v);
    return total / c->B;
}

/* Tolerance: the analytic gradient runs the float32 network (sgemm, float32 GELU, float32 activations
 * through ~8 layers), so each entry carries a relative error of order 1e-6 and an absolute one of
 * order 1e-7 · (size of the largest gradient); we allow |g - fd| <= 1e-5 + 1e-3 |fd|. A wrong term
 * (a missing branch of the residual, a transposed weight, a dropped dβ/dH term) gives errors of the
 * size of the gradient itself, which the checks below make sure is >= 1e-2. */
static void check_grad(rl_attn_softmax kind, double *max_diff_to_const, float *grad_out) {
    rl_maxret_model m;
    cr_assert_eq(rl_maxret_model_init(&m, 4, 2, 3, 77), 0, "%s", rl_error());
    /* At init a width-4 network barely depends on its attention (values hardly differ between items), which
     * would hide errors in the attention backward. Scale q, k (sizeable logits, entropy inside the β > 1 band)
     * and v and the last item-encoder layer (values that differ between items) by 10. */
    for (int i = 0; i < 16; i++) m.wq[i] *= 10, m.wk[i] *= 10, m.wv[i] *= 10, m.xw[1][i] *= 10;
    enum { B = 3, N = 6 };
    float items[B * N * 4], query[B];
    int32_t target[B];
    rl_maxret_sample(items, query, target, NULL, B, N, 3, 5);
    float *grad = calloc(m.n_params, sizeof(float));
    double loss = rl_maxret_loss_grad(&m, grad, items, query, target, B, N, kind, NULL);
    double *P = malloc(sizeof(double) * m.n_params), beta[B];
    for (size_t i = 0; i < m.n_params; i++) P[i] = m.params[i];
    ref_ctx c = {&m, B, N, items, query, target, kind == RL_ATTN_PLAIN ? 0 : 1, beta};
    double ref = ref_loss(P, &c);
    cr_assert(fabs(loss - ref) <= 1e-5 * (1 + fabs(ref)), "loss %.9g vs float64 reference %.9g", loss, ref);
    int n_active = 0;
    for (int b = 0; b < B; b++) n_active += beta[b] > 1;
    if (kind != RL_ATTN_PLAIN) cr_assert(n_active >= 2, "test setup: β > 1 on only %d sets", n_active);
    if (kind == RL_ATTN_ADAPTIVE_CONST) c.attn = 2; /* β frozen at the unperturbed values */
    double gmax = 0;
    for (size_t i = 0; i < m.n_params; i++) {
        double h = 1e-6 * (1 + fabs(P[i])), p0 = P[i];
        P[i] = p0 + h;
        double lp = ref_loss(P, &c);
        P[i] = p0 - h;
        double lm = ref_loss(P, &c);
        P[i] = p0;
        double fd = (lp - lm) / (2 * h);
        gmax = fmax(gmax, fabs(fd));
        cr_assert(fabs(grad[i] - fd) <= 1e-5 + 1e-3 * fabs(fd), "kind %d: grad[%zu] = %.8g, finite difference %.8g",
                  (int)kind, i, (double)grad[i], fd);
    }
    cr_assert(gmax > 1e-2, "gradients too small to test anything (max %g)", gmax);
    if (max_diff_to_const) {
        float *g2 = calloc(m.n_params, sizeof(float));
        rl_maxret_loss_grad(&m, g2, items, query, target, B, N, RL_ATTN_ADAPTIVE_CONST, NULL);
        *max_diff_to_const = 0;
        for (size_t i = 0; i < m.n_params; i++)
            *max_diff_to_const = fmax(*max_diff_to_const, fabs(grad[i] - g2[i]));
        free(g2);
    }
    if (grad_out) memcpy(grad_out, grad, sizeof(float) * 4);
    free(P);
    free(grad);
    rl_maxret_model_free(&m);
}

Test(maxret, backward_matches_finite_differences_plain) { check_grad(RL_ATTN_PLAIN, NULL, NULL); }

Test(maxret, backward_matches_finite_differences_adaptive_both_modes) {
    double diff;
    check_grad(RL_ATTN_ADAPTIVE, &diff, NULL);
    /* the through-β term must be visible in the network's gradient, or the test above proves nothing */
    cr_assert(diff > 1e-2, "through-β and constant-β gradients differ by only %g", diff);
    check_grad(RL_ATTN_ADAPTIVE_CONST, NULL, NULL);
}

Test(maxret, sampler_targets_are_the_max_class) {
    enum { B = 50, N = 33, C = 7 };
    float items[B * N * 8], query[B];
    int32_t target[B], am[B];
    rl_maxret_sample(items, query, target, am, B, N, C, 9);
    for (int b = 0; b < B; b++) {
        int best = 0;
        for (int i = 1; i < N; i++)
            if (items[(b * N + i) * 8] > items[(b * N + best) * 8]) best = i;
        cr_assert_eq(am[b], best);
        cr_assert_eq(items[(b * N + best) * 8 + 1 + target[b]], 1.0f);
        cr_assert(query[b] >= 0 && query[b] < 1);
    }
}

/* ---- statistics: closed forms -------------------------------------------------------------------- */
Test(maxret, statistics_closed_forms) {
    /* t with 1 df is Cauchy: P(|T| >= 1) = 1/2; with 2 df: P(|T| >= t) = 1 - t / sqrt(2 + t^2);
     * df 4 at the tabulated 97.5% quantile 2.776445105 gives 0.05. Tolerances: 1e-10 for the exact forms,
     * 1e-8 for the 10-digit table value. */
    cr_assert(fabs(rl_t_two_sided(1.0, 1) - 0.5) < 1e-10);
    cr_assert(fabs(rl_t_two_sided(2.0, 2) - (1 - 2 / sqrt(6.0))) < 1e-10);
    cr_assert(fabs(rl_t_two_sided(-2.0, 2) - (1 - 2 / sqrt(6.0))) < 1e-10);
    cr_assert(fabs(rl_t_two_sided(2.776445105, 4) - 0.05) < 1e-8);
    cr_assert(fabs(rl_t_two_sided(0.0, 7) - 1.0) < 1e-12);
    double d[] = {1, 2, 3}, t;
    /* mean 2, sd 1, t = 2 sqrt(3) on 2 df */
    double p = rl_paired_t_pvalue(d, 3, &t);
    cr_assert(fabs(t - 2 * sqrt(3.0)) < 1e-12);
    cr_assert(fabs(p - (1 - t / sqrt(2 + t * t))) < 1e-10);
    double z[] = {0, 0, 0};
    cr_assert_eq(rl_paired_t_pvalue(z, 3, NULL), 1.0);
    /* exact McNemar: 2 P(Bin(n,1/2) <= k) */
    cr_assert(fabs(rl_mcnemar_exact(0, 5) - 0.0625) < 1e-14);
    cr_assert(fabs(rl_mcnemar_exact(9, 1) - 22.0 / 1024) < 1e-14);
    cr_assert_eq(rl_mcnemar_exact(5, 5), 1.0);
    cr_assert_eq(rl_mcnemar_exact(0, 0), 1.0);
    /* n = 100, k = 40 by the term recurrence C(n,i+1) = C(n,i) (n-i)/(i+1) */
    double term = pow(0.5, 100), cum = 0;
    for (int i = 0; i <= 40; i++) {
        cum += term;
        term *= (100.0 - i) / (i + 1);
    }
    cr_assert(fabs(rl_mcnemar_exact(40, 60) - 2 * cum) < 1e-12, "%.15g vs %.15g", rl_mcnemar_exact(40, 60), 2 * cum);
}

/* ---- end to end ------------------------------------------------------------------------------------ */
static cJSON *load_json(const char *path) {
    char *txt;
    cr_assert_eq(rl_read_file(path, &txt, NULL), 0, "%s", rl_error());
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    cr_assert(j != NULL, "%s is not JSON", path);
    return j;
}

Test(maxret, end_to_end_learns_and_writes_everything, .timeout = 300) {
    char *dir = rt_tmpdir(), args[4400], *out, path[4400];
    snprintf(args, sizeof args,
             "maxret --out '%s' --seeds 2 --steps 1000 --width 32 --lr 3e-3 --warmup 20 --test-sets 200 "
             "--sizes 16 256",
             dir);
    int rc = rt_run_tool(args, &out);
    cr_assert_eq(rc, 0, "maxret failed: %s", out);
    cr_assert(strstr(out, "paper") != NULL, "the table must show the paper's numbers: %s", out);
    free(out);
    const char *files[] = {"maxret.csv", "maxret_summary.csv", "maxret_sets.csv", "maxret_train.csv", "summary.json",
                           "maxret_accuracy.png", "maxret_accuracy.svg", "maxret_accuracy.gp",
                           "maxret_dispersion.png"};
    for (size_t i = 0; i < RL_ARRAY_LEN(files); i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        cr_assert(rl_file_exists(path), "missing %s", files[i]);
    }
    /* one line per (seed, size, set) plus the header */
    snprintf(args, sizeof args, "wc -l < '%s/maxret_sets.csv'", dir);
    rt_sh(args, &out);
    cr_assert_eq(atoi(out), 1 + 2 * 2 * 200, "maxret_sets.csv has %s lines", out);
    free(out);
    snprintf(path, sizeof path, "%s/summary.json", dir);
    cJSON *j = load_json(path), *sizes = cJSON_GetObjectItem(j, "sizes");
    cr_assert_eq(cJSON_GetArraySize(sizes), 2);
    cJSON *s16 = cJSON_GetArrayItem(sizes, 0), *s256 = cJSON_GetArrayItem(sizes, 1);
    double a16 = cJSON_GetObjectItem(s16, "acc_softmax")->valuedouble;
    double a256 = cJSON_GetObjectItem(s256, "acc_softmax")->valuedouble;
    double w16 = cJSON_GetObjectItem(s16, "weight_on_max_softmax")->valuedouble;
    double w256 = cJSON_GetObjectItem(s256, "weight_on_max_softmax")->valuedouble;
    double w256a = cJSON_GetObjectItem(s256, "weight_on_max_adaptive")->valuedouble;
    /* learning works: in-distribution accuracy far above chance (10%); this setup reaches ~98% */
    cr_assert(a16 >= 93.0, "in-distribution accuracy %.2f%% < 93%%: training is broken", a16);
    /* the paper's phenomenon: attention disperses on larger sets, and adaptive temperature sharpens it */
    cr_assert(w256 < w16 && a256 < a16, "no dispersion: weight %g -> %g, accuracy %g -> %g", w16, w256, a16, a256);
    cr_assert(w256a > w256, "adaptive temperature must raise the weight on the max (%g vs %g)", w256a, w256);
    cr_assert_eq(cJSON_GetObjectItem(s16, "paper_softmax")->valuedouble, 98.6);
    cJSON_Delete(j);
    rt_rmtree(dir);
    free(dir);
}

Test(maxret, bad_flags_fail_with_a_message) {
    char *out;
    cr_assert_eq(rt_run_tool("maxret --sizes 0 --out /tmp/never", &out), 2);
    cr_assert(strstr(out, "--sizes") != NULL, "%s", out);
    free(out);
    cr_assert_eq(rt_run_tool("maxret --train-softmax sparse --out /tmp/never", &out), 2);
    cr_assert(strstr(out, "sparse") != NULL, "%s", out);
    free(out);
    cr_assert_neq(rt_run_tool("maxret --steps 0 --out /tmp/never", &out), 0);
    cr_assert(strstr(out, "--steps") != NULL, "%s", out);
    free(out);
    cr_assert_neq(rt_run_tool("maxret --quick --out /proc/no/such/dir", &out), 0);
    cr_assert(strstr(out, "/proc/no") != NULL, "%s", out);
    free(out);
    cr_assert_eq(rt_run_tool("maxret --lr nan", &out), 2);
    free(out);
}
