/* Activations: tanh-GELU, and the gated MLP activations GeGLU (Gemma) and SwiGLU (Llama). */
#include "ropelab/model.h"

#include <math.h>

#define GELU_S 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_C 0.044715f

static inline float gelu(float x) {
    float u = GELU_S * (x + GELU_C * x * x * x);
    return 0.5f * x * (1.0f + tanhf(u));
}

static inline float gelu_grad(float x) {
    float u = GELU_S * (x + GELU_C * x * x * x), t = tanhf(u);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_S * (1.0f + 3.0f * GELU_C * x * x);
}

static inline float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

void rl_gelu_forward(float *out, const float *in, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) out[i] = gelu(in[i]);
}

void rl_gelu_backward(float *din, const float *dout, const float *in, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) din[i] += dout[i] * gelu_grad(in[i]);
}

void rl_geglu_forward(float *out, const float *gate, const float *up, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) out[i] = gelu(gate[i]) * up[i];
}

void rl_geglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        if (dgate) dgate[i] += dout[i] * up[i] * gelu_grad(gate[i]);
        if (dup) dup[i] += dout[i] * gelu(gate[i]);
    }
}

void rl_swiglu_forward(float *out, const float *gate, const float *up, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) out[i] = gate[i] * sigmoid(gate[i]) * up[i];
}

void rl_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float s = sigmoid(gate[i]);
        if (dgate) dgate[i] += dout[i] * up[i] * s * (1.0f + gate[i] * (1.0f - s));
        if (dup) dup[i] += dout[i] * gate[i] * s;
    }
}

void rl_gelu_erf_forward(float *out, const float *in, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) out[i] = 0.5f * in[i] * (1.0f + erff(in[i] * 0.70710678118654752f));
}

void rl_softcap_forward(float *x, size_t n, float cap) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) x[i] = cap * tanhf(x[i] / cap);
}

/* Gated activations on [gate | up] rows. */
void rl_gated_rows_forward(float *out, const float *gu, int N, int F, int swiglu) {
#pragma omp parallel for schedule(static) if ((size_t)N * F > 65536)
    for (int i = 0; i < N; i++) {
        const float *g = gu + (size_t)i * 2 * F, *u = g + F;
        float *o = out + (size_t)i * F;
        if (swiglu)
            for (int j = 0; j < F; j++) o[j] = g[j] * sigmoid(g[j]) * u[j];
        else
            for (int j = 0; j < F; j++) o[j] = gelu(g[j]) * u[j];
    }
}

void rl_gated_rows_backward(float *dgu, float *da, const float *gu, int N, int F, int swiglu) {
#pragma omp parallel for schedule(static) if ((size_t)N * F > 65536)
    for (int i = 0; i < N; i++) {
        const float *g = gu + (size_t)i * 2 * F, *u = g + F;
        float *dg = dgu + (size_t)i * 2 * F, *du = dg + F, *a = da + (size_t)i * F;
        if (swiglu) {
            for (int j = 0; j < F; j++) {
                float s = sigmoid(g[j]), act = g[j] * s, d = a[j];
                dg[j] = d * u[j] * s * (1.0f + g[j] * (1.0f - s));
                du[j] = d * act;
                a[j] = act * u[j];
            }
        } else {
            for (int j = 0; j < F; j++) {
                float x = g[j], uu = GELU_S * (x + GELU_C * x * x * x), t = tanhf(uu), d = a[j];
                float act = 0.5f * x * (1.0f + t);
                float grad = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_S * (1.0f + 3.0f * GELU_C * x * x);
                dg[j] = d * u[j] * grad;
                du[j] = d * act;
                a[j] = act * u[j];
            }
        }
    }
}
