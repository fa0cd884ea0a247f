/* model ops added with the model: gated activations on [gate | up] rows (forward, and the fused
 * backward that recomputes the activation), exact GELU, soft-capping, the q/k rotation of qkv rows,
 * and the vectorised exp/tanh they rely on — each against float64 closed forms or central
 * differences computed here. */
#include "helpers.h"
#include "ropelab/model.h"
#include "ropelab/util.h"

#include "../src/model/internal.h"
#include "../src/model/vecmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double gelu64(double x) { return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }
static double silu64(double x) { return x / (1 + exp(-x)); }

/* out = act(gate) * up, and d/dgate, d/dup by central differences of that float64 function
 * (h = 1e-6: error ~1e-10). Float32 with a vectorised tanh (absolute error 2e-7): relative errors
 * ~1e-6 on O(1) values; we allow 2e-5 * (1 + |ref|), and the recomputed activation the same. */
static void check_gated(int swiglu) {
    enum { N = 3, F = 37 }; /* F not a multiple of the vector width */
    rl_rng r;
    rl_rng_seed(&r, 40 + swiglu);
    float gu[N * 2 * F], out[N * F], da[N * F], dgu[N * 2 * F];
    for (int i = 0; i < N * 2 * F; i++) gu[i] = (float)(2.5 * rl_rng_normal(&r));
    for (int i = 0; i < N * F; i++) da[i] = (float)rl_rng_normal(&r);
    float dcopy[N * F];
    memcpy(dcopy, da, sizeof da);
    rl_gated_rows_forward(out, gu, N, F, swiglu);
    rl_gated_rows_backward(dgu, da, gu, N, F, swiglu);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < F; j++) {
            double g = gu[i * 2 * F + j], u = gu[i * 2 * F + F + j], h = 1e-6;
            double act = swiglu ? silu64(g) : gelu64(g), ref = act * u;
            double dact = ((swiglu ? silu64(g + h) : gelu64(g + h)) - (swiglu ? silu64(g - h) : gelu64(g - h))) / (2 * h);
            double dg = dcopy[i * F + j] * u * dact, du = dcopy[i * F + j] * act;
            cr_assert(fabs(out[i * F + j] - ref) <= 2e-5 * (1 + fabs(ref)), "out[%d][%d] %g vs %g", i, j, out[i * F + j], ref);
            cr_assert(fabs(da[i * F + j] - ref) <= 2e-5 * (1 + fabs(ref)), "recomputed activation [%d][%d]", i, j);
            cr_assert(fabs(dgu[i * 2 * F + j] - dg) <= 2e-5 * (1 + fabs(dg)), "dgate[%d][%d] %g vs %g", i, j,
                      dgu[i * 2 * F + j], dg);
            cr_assert(fabs(dgu[i * 2 * F + F + j] - du) <= 2e-5 * (1 + fabs(du)), "dup[%d][%d]", i, j);
        }
}

Test(model_newops, geglu_rows) { check_gated(0); }
Test(model_newops, swiglu_rows) { check_gated(1); }

Test(model_newops, exact_gelu_and_softcap) {
    enum { n = 101 };
    float x[n], y[n];
    for (int i = 0; i < n; i++) x[i] = (float)(-10 + 0.2 * i);
    rl_gelu_erf_forward(y, x, n);
    for (int i = 0; i < n; i++) {
        double ref = 0.5 * x[i] * (1 + erf(x[i] / sqrt(2.0)));
        /* erff: 1 ulp; allow 1e-6 * (1 + |ref|) */
        cr_assert(fabs(y[i] - ref) <= 1e-6 * (1 + fabs(ref)), "gelu_erf(%g) = %g vs %g", x[i], y[i], ref);
    }
    /* tanh GELU and exact GELU differ by up to ~5e-4: the kinds are not interchangeable */
    cr_assert(fabs(y[60] - gelu64(x[60])) > 1e-5, "exact and tanh GELU should differ at x = %g", x[60]);
    memcpy(y, x, sizeof y);
    rl_softcap_forward(y, n, 3.0f);
    for (int i = 0; i < n; i++) {
        double ref = 3.0 * tanh(x[i] / 3.0);
        cr_assert(fabs(y[i] - ref) <= 1e-6 * 3, "softcap(%g) = %g vs %g", x[i], y[i], ref); /* 2e-7 abs tanh, times 3 */
    }
}

/* vecmath: exp within 2 ulp on its range and 0 below it; tanh within 2e-7 absolute. */
Test(model_newops, vectorised_exp_and_tanh) {
    double worst = 0;
    for (double x = -87.0; x < 88.0; x += 0.001) {
        float f = (float)x;
        double ref = exp((double)f);
        worst = fmax(worst, fabs(vexpf(f) - ref) / ref);
    }
    cr_assert(worst < 2 * 5.97e-8, "exp: worst relative error %g", worst);
    cr_assert_eq(vexpf(-INFINITY), 0.0f);
    cr_assert_eq(vexpf(-100.0f), 0.0f);
    cr_assert(isfinite(vexpf(1000.0f)));
    double wt = 0;
    for (double x = -12; x < 12; x += 1e-4) wt = fmax(wt, fabs(vtanhf((float)x) - tanh((double)(float)x)));
    cr_assert(wt < 2e-7, "tanh: worst absolute error %g", wt);
}

/* The rotation of the q and k heads of qkv rows: against a float64 rotation written here, v
 * untouched, and the backward is the transpose (<R x, y> = <x, R^T y>). */
Test(model_newops, rope_on_qkv_rows) {
    enum { n = 5, H = 2, KV = 1, hd = 8, QKV = (H + 2 * KV) * hd };
    const char *specs[] = {"rope:theta=100", "prope:p=0.5,theta=100,layout=interleaved",
                           "partial:p=0.5,theta=100+yarn:factor=4,original=2"};
    rl_rng r;
    rl_rng_seed(&r, 8);
    for (size_t si = 0; si < RL_ARRAY_LEN(specs); si++) {
        rl_rope_spec spec;
        cr_assert_eq(rl_rope_parse(specs[si], &spec), 0);
        rl_rope rope;
        cr_assert_eq(rl_rope_init(&rope, &spec, hd, 16, 16), 0);
        float x[n * QKV], y[n * QKV], x0[n * QKV], scratch[n * (H + KV) * hd];
        int32_t pos[n] = {0, 3, 4, 9, 20}; /* 20 is beyond the 16-position table */
        for (int i = 0; i < n * QKV; i++) x0[i] = x[i] = (float)rl_rng_normal(&r);
        for (int i = 0; i < n * QKV; i++) y[i] = (float)rl_rng_normal(&r);
        rl_rope_qk_rows(&rope, x, n, QKV, H + KV, pos, scratch, 0);
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < H + KV; h++)
                for (int k = 0; k < hd / 2; k++) {
                    int i0, i1;
                    rl_rope_chunk_dims(&rope.f, k, &i0, &i1);
                    double a = pos[t] * rope.f.freq[k];
                    double af = k < rope.f.rot_dims / 2 ? rope.f.attn_factor : 1.0;
                    double c = cos(a) * af, s = sin(a) * af;
                    const float *v0 = x0 + t * QKV + h * hd;
                    double r0 = v0[i0] * c - v0[i1] * s, r1 = v0[i0] * s + v0[i1] * c;
                    cr_assert(fabs(x[t * QKV + h * hd + i0] - r0) < 1e-5 && fabs(x[t * QKV + h * hd + i1] - r1) < 1e-5,
                              "%s: token %d head %d chunk %d", specs[si], t, h, k);
                }
            for (int j = (H + KV) * hd; j < QKV; j++) cr_assert_eq(x[t * QKV + j], x0[t * QKV + j], "v changed");
        }
        /* <R x0, y> = <x0, R^T y> over the q/k columns */
        double lhs = 0, rhs = 0;
        for (int i = 0; i < n * QKV; i++) lhs += (double)x[i] * y[i];
        rl_rope_qk_rows(&rope, y, n, QKV, H + KV, pos, scratch, 1);
        for (int i = 0; i < n * QKV; i++) rhs += (double)x0[i] * y[i];
        cr_assert(fabs(lhs - rhs) < 1e-5 * (1 + fabs(lhs)), "%s: backward is not the transpose (%g vs %g)", specs[si],
                  lhs, rhs);
        rl_rope_free(&rope);
    }
}
