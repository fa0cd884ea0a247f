/* Activations: tanh-GELU, exact GELU, GeGLU (Gemma), SwiGLU (Llama), soft-capping; vectorised. */
#include "ropelab/model.h"
#include "vecmath.h"

#include <math.h>
#include <string.h>

#define GELU_S 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_C 0.044715f

/* t = tanh(sqrt(2/pi) (x + 0.044715 x^3)); gelu = 0.5 x (1 + t);
 * gelu' = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2) */
static inline float gelu_t(float x) { return vtanhf(GELU_S * (x + GELU_C * x * x * x)); }
static inline float gelu(float x) { return 0.5f * x * (1.0f + gelu_t(x)); }
static inline float gelu_grad_t(float x, float t) {
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_S * (1.0f + 3.0f * GELU_C * x * x);
}

/* ---- row kernels (compiled for AVX2+FMA and baseline, chosen at load time) ------------------- */

RL_VEC_CLONES static void gelu_row(float *out, const float *in, long n) {
#pragma omp simd
    for (long i = 0; i < n; i++) out[i] = gelu(in[i]);
}

RL_VEC_CLONES static void gelu_back_row(float *din, const float *dout, const float *in, long n) {
#pragma omp simd
    for (long i = 0; i < n; i++) din[i] += dout[i] * gelu_grad_t(in[i], gelu_t(in[i]));
}

RL_VEC_CLONES static void geglu_row(float *out, const float *g, const float *u, long n) {
#pragma omp simd
    for (long i = 0; i < n; i++) out[i] = gelu(g[i]) * u[i];
}

RL_VEC_CLONES static void swiglu_row(float *out, const float *g, const float *u, long n) {
#pragma omp simd
    for (long i = 0; i < n; i++) out[i] = g[i] * vsigmoidf(g[i]) * u[i];
}

/* Backward rows. add = 1: dg += ..., du += ... ; add = 0: dg, du written and a (= da on entry)
 * overwritten with the activation. No NULLs: the loops must stay branch-free to vectorise. */
RL_VEC_CLONES static void geglu_back_row(float *dg, float *du, float *a, const float *g, const float *u, long n,
                                         int add) {
    if (add) {
#pragma omp simd
        for (long i = 0; i < n; i++) {
            float x = g[i], t = gelu_t(x), d = a[i];
            dg[i] += d * u[i] * gelu_grad_t(x, t);
            du[i] += d * 0.5f * x * (1.0f + t);
        }
    } else {
#pragma omp simd
        for (long i = 0; i < n; i++) {
            float x = g[i], t = gelu_t(x), d = a[i], act = 0.5f * x * (1.0f + t);
            dg[i] = d * u[i] * gelu_grad_t(x, t);
            du[i] = d * act;
            a[i] = act * u[i];
        }
    }
}

RL_VEC_CLONES static void swiglu_back_row(float *dg, float *du, float *a, const float *g, const float *u, long n,
                                          int add) {
    if (add) {
#pragma omp simd
        for (long i = 0; i < n; i++) {
            float x = g[i], s = vsigmoidf(x), d = a[i];
            dg[i] += d * u[i] * s * (1.0f + x * (1.0f - s));
            du[i] += d * x * s;
        }
    } else {
#pragma omp simd
        for (long i = 0; i < n; i++) {
            float x = g[i], s = vsigmoidf(x), d = a[i], act = x * s;
            dg[i] = d * u[i] * s * (1.0f + x * (1.0f - s));
            du[i] = d * act;
            a[i] = act * u[i];
        }
    }
}

RL_VEC_CLONES static void softcap_row(float *x, long n, float cap) {
    const float inv = 1.0f / cap;
#pragma omp simd
    for (long i = 0; i < n; i++) x[i] = cap * vtanhf(x[i] * inv);
}

/* ---- the ops: rows of 4096 elements per task ------------------------------------------------- */

#define BLOCK 4096L
#define NBLK(n) (((long)(n) + BLOCK - 1) / BLOCK)
#define LEN(b, n) ((long)(n) - (b) * BLOCK < BLOCK ? (long)(n) - (b) * BLOCK : BLOCK)

void rl_gelu_forward(float *out, const float *in, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (long b = 0; b < NBLK(n); b++) gelu_row(out + b * BLOCK, in + b * BLOCK, LEN(b, n));
}

void rl_gelu_backward(float *din, const float *dout, const float *in, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (long b = 0; b < NBLK(n); b++) gelu_back_row(din + b * BLOCK, dout + b * BLOCK, in + b * BLOCK, LEN(b, n));
}

void rl_geglu_forward(float *out, const float *gate, const float *up, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (long b = 0; b < NBLK(n); b++) geglu_row(out + b * BLOCK, gate + b * BLOCK, up + b * BLOCK, LEN(b, n));
}

void rl_swiglu_forward(float *out, const float *gate, const float *up, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (long b = 0; b < NBLK(n); b++) swiglu_row(out + b * BLOCK, gate + b * BLOCK, up + b * BLOCK, LEN(b, n));
}

/* dgate, dup may be NULL: their block then goes to a scratch sink. */
static void gated_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n,
                           int swiglu) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (long b = 0; b < NBLK(n); b++) {
        float sink_g[BLOCK], sink_u[BLOCK];
        long o = b * BLOCK, len = LEN(b, n);
        float *dg = dgate ? dgate + o : sink_g, *du = dup ? dup + o : sink_u;
        if (!dgate) memset(sink_g, 0, (size_t)len * sizeof(float));
        if (!dup) memset(sink_u, 0, (size_t)len * sizeof(float));
        if (swiglu)
            swiglu_back_row(dg, du, (float *)(dout + o), gate + o, up + o, len, 1);
        else
            geglu_back_row(dg, du, (float *)(dout + o), gate + o, up + o, len, 1);
    }
}

void rl_geglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n) {
    gated_backward(dgate, dup, dout, gate, up, n, 0);
}

void rl_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n) {
    gated_backward(dgate, dup, dout, gate, up, n, 1);
}

void rl_gelu_erf_forward(float *out, const float *in, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) out[i] = 0.5f * in[i] * (1.0f + erff(in[i] * 0.70710678118654752f));
}

void rl_softcap_forward(float *x, size_t n, float cap) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (long b = 0; b < NBLK(n); b++) softcap_row(x + b * BLOCK, LEN(b, n), cap);
}

/* Gated activations on [gate | up] rows. */
void rl_gated_rows_forward(float *out, const float *gu, int N, int F, int swiglu) {
#pragma omp parallel for schedule(static) if ((size_t)N * F > 65536)
    for (int i = 0; i < N; i++) {
        const float *g = gu + (size_t)i * 2 * F;
        if (swiglu)
            swiglu_row(out + (size_t)i * F, g, g + F, F);
        else
            geglu_row(out + (size_t)i * F, g, g + F, F);
    }
}

void rl_gated_rows_backward(float *dgu, float *da, const float *gu, int N, int F, int swiglu) {
#pragma omp parallel for schedule(static) if ((size_t)N * F > 65536)
    for (int i = 0; i < N; i++) {
        const float *g = gu + (size_t)i * 2 * F;
        float *dg = dgu + (size_t)i * 2 * F, *a = da + (size_t)i * F;
        if (swiglu)
            swiglu_back_row(dg, dg + F, a, g, g + F, F, 0);
        else
            geglu_back_row(dg, dg + F, a, g, g + F, F, 0);
    }
}
