/* model ops: each forward against a float64 reference written here, each backward against central
 * finite differences of that float64 reference (so the check itself has ~1e-9 error).
 *
 * Tolerance: the ops compute in float32 with float64 row reductions; inputs are O(1) and rows are at
 * most 64 long, so the float32 results carry relative errors of a few 1e-7 per element and a few
 * 1e-6 after a 64-term sum. We allow |ours - ref| <= 2e-5 * (1 + |ref|): ten times that bound, and
 * still far below what a wrong formula gives (a missing term or sign is an O(1) relative error). */
#include "helpers.h"
#include "ropelab/model.h"
#include "ropelab/train.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 2e-5

static void fill(rl_rng *r, float *x, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(rl_rng_normal(r) * scale);
}

static void expect_close(const float *got, const double *ref, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        cr_assert(fabs(got[i] - ref[i]) <= TOL * (1 + fabs(ref[i])), "%s[%zu]: got %.9g, reference %.9g", what, i,
                  (double)got[i], ref[i]);
}

/* A float64 function of a float64 vector, with the rest of its inputs in ctx. */
typedef void (*f64_fn)(const void *ctx, const double *x, double *y);

/* d/dx of sum(dy * f(x)) by central differences in float64. */
static void fd_grad(f64_fn f, const void *ctx, const double *x0, size_t nx, size_t ny, const double *dy,
                    double *grad) {
    double *x = malloc(nx * sizeof *x), *yp = malloc(ny * sizeof *yp), *ym = malloc(ny * sizeof *ym);
    memcpy(x, x0, nx * sizeof *x);
    for (size_t i = 0; i < nx; i++) {
        double h = 1e-6 * (1 + fabs(x0[i]));
        x[i] = x0[i] + h;
        f(ctx, x, yp);
        x[i] = x0[i] - h;
        f(ctx, x, ym);
        x[i] = x0[i];
        double s = 0;
        for (size_t j = 0; j < ny; j++) s += dy[j] * (yp[j] - ym[j]);
        grad[i] = s / (2 * h);
    }
    free(x);
    free(yp);
    free(ym);
}

static double *to_f64(const float *x, size_t n) {
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

/* ---- linear --------------------------------------------------------------------------------- */
typedef struct {
    int N, C, OC, which; /* which: 0 = gradient w.r.t. in, 1 = w, 2 = b */
    const double *in, *w, *b;
} lin_ctx;

static void lin_f64(const void *vc, const double *x, double *y) {
    const lin_ctx *c = vc;
    const double *in = c->which == 0 ? x : c->in, *w = c->which == 1 ? x : c->w, *b = c->which == 2 ? x : c->b;
    for (int i = 0; i < c->N; i++)
        for (int o = 0; o < c->OC; o++) {
            double s = b[o];
            for (int k = 0; k < c->C; k++) s += in[i * c->C + k] * w[o * c->C + k];
            y[i * c->OC + o] = s;
        }
}

Test(model_ops, linear_forward_backward) {
    rl_rng r;
    rl_rng_seed(&r, 1);
    const int N = 5, C = 7, OC = 3;
    float in[35], w[21], b[3], out[15], dout[15];
    fill(&r, in, 35, 1);
    fill(&r, w, 21, 1);
    fill(&r, b, 3, 1);
    fill(&r, dout, 15, 1);
    rl_linear_forward(out, in, w, b, N, C, OC);
    lin_ctx c = {N, C, OC, -1, to_f64(in, 35), to_f64(w, 21), to_f64(b, 3)};
    double ref[15], *dy = to_f64(dout, 15);
    lin_f64(&c, NULL, ref);
    expect_close(out, ref, 15, "out");

    float din[35] = {0}, dw[21] = {0}, db[3] = {0};
    rl_linear_backward(din, dw, db, dout, in, w, N, C, OC);
    double g_in[35], g_w[21], g_b[3];
    c.which = 0;
    fd_grad(lin_f64, &c, c.in, 35, 15, dy, g_in);
    c.which = 1;
    fd_grad(lin_f64, &c, c.w, 21, 15, dy, g_w);
    c.which = 2;
    fd_grad(lin_f64, &c, c.b, 3, 15, dy, g_b);
    expect_close(din, g_in, 35, "din");
    expect_close(dw, g_w, 21, "dw");
    expect_close(db, g_b, 3, "db");

    /* backward accumulates: a second call doubles every gradient */
    rl_linear_backward(din, dw, db, dout, in, w, N, C, OC);
    for (int i = 0; i < 35; i++) g_in[i] *= 2;
    expect_close(din, g_in, 35, "din accumulated");
    free((void *)c.in);
    free((void *)c.w);
    free((void *)c.b);
    free(dy);
}

/* ---- RMSNorm -------------------------------------------------------------------------------- */
typedef struct {
    int N, D, plus_one, which; /* 0: in, 1: w */
    double eps;
    const double *in, *w;
} rms_ctx;

static void rms_f64(const void *vc, const double *x, double *y) {
    const rms_ctx *c = vc;
    const double *in = c->which == 0 ? x : c->in, *w = c->which == 1 ? x : c->w;
    for (int i = 0; i < c->N; i++) {
        double ss = 0;
        for (int j = 0; j < c->D; j++) ss += in[i * c->D + j] * in[i * c->D + j];
        double r = 1 / sqrt(ss / c->D + c->eps);
        for (int j = 0; j < c->D; j++) y[i * c->D + j] = in[i * c->D + j] * r * (c->plus_one ? 1 + w[j] : w[j]);
    }
}

static void check_rmsnorm(int plus_one) {
    rl_rng r;
    rl_rng_seed(&r, 2 + plus_one);
    enum { N = 4, D = 16 };
    float in[N * D], w[D], out[N * D], rstd[N], dout[N * D], din[N * D] = {0}, dw[D] = {0};
    fill(&r, in, N * D, 1);
    fill(&r, w, D, 0.5);
    fill(&r, dout, N * D, 1);
    rl_rmsnorm_forward(out, rstd, in, w, plus_one, 1e-6f, N, D);
    rl_rmsnorm_backward(din, dw, dout, in, w, rstd, plus_one, N, D);
    rms_ctx c = {N, D, plus_one, -1, 1e-6, to_f64(in, N * D), to_f64(w, D)};
    double ref[N * D], g_in[N * D], g_w[D], *dy = to_f64(dout, N * D);
    rms_f64(&c, NULL, ref);
    expect_close(out, ref, N * D, "rmsnorm out");
    c.which = 0;
    fd_grad(rms_f64, &c, c.in, N * D, N * D, dy, g_in);
    c.which = 1;
    fd_grad(rms_f64, &c, c.w, D, N * D, dy, g_w);
    expect_close(din, g_in, N * D, "rmsnorm din");
    expect_close(dw, g_w, D, "rmsnorm dw");
    free((void *)c.in);
    free((void *)c.w);
    free(dy);
}

Test(model_ops, rmsnorm_llama) { check_rmsnorm(0); }
Test(model_ops, rmsnorm_gemma_one_plus_w) { check_rmsnorm(1); }

Test(model_ops, layernorm_forward) {
    rl_rng r;
    rl_rng_seed(&r, 4);
    enum { N = 3, D = 10 };
    float in[N * D], w[D], b[D], out[N * D];
    fill(&r, in, N * D, 2);
    fill(&r, w, D, 1);
    fill(&r, b, D, 1);
    rl_layernorm_forward(out, in, w, b, 1e-5f, N, D);
    double ref[N * D];
    for (int i = 0; i < N; i++) {
        double m = 0, v = 0;
        for (int j = 0; j < D; j++) m += in[i * D + j] / (double)D;
        for (int j = 0; j < D; j++) v += (in[i * D + j] - m) * (in[i * D + j] - m) / D;
        for (int j = 0; j < D; j++) ref[i * D + j] = (in[i * D + j] - m) / sqrt(v + 1e-5) * w[j] + b[j];
    }
    expect_close(out, ref, N * D, "layernorm");
}

/* ---- activations ---------------------------------------------------------------------------- */
typedef struct {
    int kind; /* 0 gelu, 1 geglu wrt gate, 2 geglu wrt up, 3 swiglu wrt gate, 4 swiglu wrt up */
    size_t n;
    const double *gate, *up;
} act_ctx;

static double gelu64(double x) { return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }
static double silu64(double x) { return x / (1 + exp(-x)); }

static void act_f64(const void *vc, const double *x, double *y) {
    const act_ctx *c = vc;
    for (size_t i = 0; i < c->n; i++) {
        switch (c->kind) {
        case 0: y[i] = gelu64(x[i]); break;
        case 1: y[i] = gelu64(x[i]) * c->up[i]; break;
        case 2: y[i] = gelu64(c->gate[i]) * x[i]; break;
        case 3: y[i] = silu64(x[i]) * c->up[i]; break;
        case 4: y[i] = silu64(c->gate[i]) * x[i]; break;
        }
    }
}

Test(model_ops, gelu_geglu_swiglu) {
    rl_rng r;
    rl_rng_seed(&r, 5);
    enum { n = 40 };
    float gate[n], up[n], out[n], dout[n];
    fill(&r, gate, n, 2);
    fill(&r, up, n, 1);
    fill(&r, dout, n, 1);
    double *g64 = to_f64(gate, n), *u64 = to_f64(up, n), *dy = to_f64(dout, n), ref[n], grad[n];
    act_ctx c = {0, n, g64, u64};

    rl_gelu_forward(out, gate, n);
    act_f64(&c, g64, ref);
    expect_close(out, ref, n, "gelu");
    float din[n] = {0};
    rl_gelu_backward(din, dout, gate, n);
    fd_grad(act_f64, &c, g64, n, n, dy, grad);
    expect_close(din, grad, n, "gelu grad");

    for (int swi = 0; swi < 2; swi++) {
        float dg[n] = {0}, du[n] = {0};
        if (swi) {
            rl_swiglu_forward(out, gate, up, n);
            rl_swiglu_backward(dg, du, dout, gate, up, n);
        } else {
            rl_geglu_forward(out, gate, up, n);
            rl_geglu_backward(dg, du, dout, gate, up, n);
        }
        c.kind = swi ? 3 : 1;
        act_f64(&c, g64, ref);
        expect_close(out, ref, n, swi ? "swiglu" : "geglu");
        fd_grad(act_f64, &c, g64, n, n, dy, grad);
        expect_close(dg, grad, n, "dgate");
        c.kind = swi ? 4 : 2;
        fd_grad(act_f64, &c, u64, n, n, dy, grad);
        expect_close(du, grad, n, "dup");
    }
    free(g64);
    free(u64);
    free(dy);
}

/* ---- embedding ------------------------------------------------------------------------------ */
Test(model_ops, embedding_forward_backward) {
    enum { V = 6, D = 5, N = 9 };
    rl_rng r;
    rl_rng_seed(&r, 6);
    float wte[V * D], out[N * D], dout[N * D], dwte[V * D] = {0};
    int32_t tok[N] = {3, 1, 3, 0, 5, 3, 2, 2, 1};
    fill(&r, wte, V * D, 1);
    fill(&r, dout, N * D, 1);
    rl_embed_forward(out, tok, wte, 2.5f, N, D);
    rl_embed_backward(dwte, dout, tok, 2.5f, N, D, V);
    double ref_out[N * D], ref_d[V * D] = {0};
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) {
            ref_out[i * D + j] = 2.5 * wte[tok[i] * D + j];
            ref_d[tok[i] * D + j] += 2.5 * dout[i * D + j];
        }
    expect_close(out, ref_out, N * D, "embed");
    expect_close(dwte, ref_d, V * D, "dwte");
    for (int j = 0; j < D; j++) cr_assert_eq(dwte[4 * D + j], 0.0f, "unused token 4 got a gradient");
}

/* ---- cross-entropy -------------------------------------------------------------------------- */
typedef struct {
    int N, V;
    const int32_t *t;
} xent_ctx;

static void xent_f64(const void *vc, const double *z, double *y) {
    const xent_ctx *c = vc;
    double s_all = 0;
    for (int i = 0; i < c->N; i++) {
        if (c->t[i] < 0) continue;
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < c->V; j++) mx = fmax(mx, z[i * c->V + j]);
        for (int j = 0; j < c->V; j++) s += exp(z[i * c->V + j] - mx);
        s_all += log(s) + mx - z[i * c->V + c->t[i]];
    }
    y[0] = s_all;
}

Test(model_ops, xent_loss_and_gradient) {
    enum { N = 4, V = 11 };
    rl_rng r;
    rl_rng_seed(&r, 7);
    float z[N * V], losses[N];
    fill(&r, z, N * V, 3);
    int32_t t[N] = {2, 10, -1, 0};
    double *z64 = to_f64(z, N * V), ref, grad[N * V], one = 1;
    xent_ctx c = {N, V, t};
    xent_f64(&c, z64, &ref);
    double total = rl_xent_forward_backward(z, t, N, V, 0.5f, losses);
    cr_assert(fabs(total - ref) <= 1e-5 * (1 + fabs(ref)), "loss %g vs %g", total, ref);
    cr_assert_eq(losses[2], 0.0f, "ignored row has a loss");
    fd_grad(xent_f64, &c, z64, N * V, 1, &one, grad);
    for (int i = 0; i < N * V; i++) grad[i] *= 0.5;
    expect_close(z, grad, N * V, "dlogits");
    /* a huge logit must not overflow (max subtraction) */
    float big[3] = {1000.0f, 0.0f, -1000.0f};
    int32_t tb = 1;
    double lb = rl_xent_forward_backward(big, &tb, 1, 3, 0.0f, NULL);
    cr_assert(fabs(lb - 1000.0) < 1e-3, "stable loss %g", lb);
    free(z64);
}

/* ---- optimizer ------------------------------------------------------------------------------ */
/* AdamW against the closed form of PyTorch's update, iterated in float64 for 3 steps. */
Test(train_optim, adamw_matches_pytorch_formula) {
    float p[3] = {1.0f, -2.0f, 0.5f}, m[3] = {0}, v[3] = {0};
    double P[3] = {1.0, -2.0, 0.5}, M[3] = {0}, Vv[3] = {0};
    const float g[3][3] = {{0.1f, -0.3f, 2.0f}, {0.2f, 0.1f, -1.0f}, {-0.5f, 0.0f, 0.25f}};
    const double lr = 1e-2, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
    for (int t = 1; t <= 3; t++) {
        rl_adamw_step(p, g[t - 1], m, v, 3, (float)lr, (float)b1, (float)b2, (float)eps, (float)wd, t);
        for (int i = 0; i < 3; i++) {
            double gi = g[t - 1][i];
            P[i] *= 1 - lr * wd;
            M[i] = b1 * M[i] + (1 - b1) * gi;
            Vv[i] = b2 * Vv[i] + (1 - b2) * gi * gi;
            P[i] -= lr / (1 - pow(b1, t)) * M[i] / (sqrt(Vv[i]) / sqrt(1 - pow(b2, t)) + eps);
        }
    }
    expect_close(p, P, 3, "adamw params");
}

Test(train_optim, grad_norm_and_schedule) {
    size_t n = 200001;
    float *g = malloc(n * sizeof *g);
    double ref = 0;
    for (size_t i = 0; i < n; i++) {
        g[i] = (float)((i % 7) - 3) * 0.01f;
        ref += (double)g[i] * g[i];
    }
    cr_assert(fabs(rl_grad_norm(g, n) - sqrt(ref)) < 1e-9 * sqrt(ref));
    free(g);
    /* warm-up is linear, the end of the cosine is lr_min, the middle is the mean */
    cr_assert_float_eq(rl_lr_at(0, 10, 110, 1.0f, 0.1f), 0.1f, 1e-7);
    cr_assert_float_eq(rl_lr_at(9, 10, 110, 1.0f, 0.1f), 1.0f, 1e-7);
    cr_assert_float_eq(rl_lr_at(60, 10, 110, 1.0f, 0.1f), 0.55f, 1e-6);
    cr_assert_float_eq(rl_lr_at(110, 10, 110, 1.0f, 0.1f), 0.1f, 1e-7);
}
