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
