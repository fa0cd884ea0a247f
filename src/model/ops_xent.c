/* Softmax cross-entropy over the vocabulary, fused with its gradient (the logits buffer is reused);
 * vectorised exp, float64 sums. */
#include "ropelab/model.h"
#include "vecmath.h"

#include <math.h>

RL_VEC_CLONES static float row_max(const float *z, long n) {
    float m = z[0];
#pragma omp simd reduction(max : m)
    for (long j = 0; j < n; j++) m = z[j] > m ? z[j] : m;
    return m;
}

RL_VEC_CLONES static double exp_sum(const float *z, float mx, long n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (long j = 0; j < n; j++) s += vexpf(z[j] - mx);
    return s;
}

/* z = exp(z - mx) * a */
RL_VEC_CLONES static void exp_scale(float *z, float mx, float a, long n) {
#pragma omp simd
    for (long j = 0; j < n; j++) z[j] = vexpf(z[j] - mx) * a;
}

/* logits: [N][V] (overwritten by the gradient when grad_scale != 0); targets: [N]; losses: [N] or NULL. */
double rl_xent_forward_backward(float *logits, const int32_t *targets, int N, int V, float grad_scale,
                                float *losses) {
    double total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total) if ((size_t)N * V > 65536)
    for (int i = 0; i < N; i++) {
        float *z = logits + (size_t)i * V;
        int t = targets[i];
        if (t < 0) {
            if (losses) losses[i] = 0;
            if (grad_scale != 0)
                for (int j = 0; j < V; j++) z[j] = 0;
            continue;
        }
        float mx = row_max(z, V);
        double sum = exp_sum(z, mx, V);
        double loss = log(sum) + mx - z[t];
        if (losses) losses[i] = (float)loss;
        total += loss;
        if (grad_scale != 0) {
            exp_scale(z, mx, (float)(1.0 / sum) * grad_scale, V);
            z[t] -= grad_scale;
        }
    }
    return total;
}
