/* Softmax cross-entropy over the vocabulary, fused with its gradient (the logits buffer is reused). */
#include "ropelab/model.h"

#include <math.h>

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
        float mx = z[0];
        for (int j = 1; j < V; j++) mx = z[j] > mx ? z[j] : mx;
        double sum = 0;
        for (int j = 0; j < V; j++) sum += exp((double)(z[j] - mx));
        double loss = log(sum) + mx - z[t];
        if (losses) losses[i] = (float)loss;
        total += loss;
        if (grad_scale != 0) {
            float inv = (float)(1.0 / sum);
            for (int j = 0; j < V; j++) z[j] = expf(z[j] - mx) * inv * grad_scale;
            z[t] -= grad_scale;
        }
    }
    return total;
}
