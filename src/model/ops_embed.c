/* Token embedding lookup (with a scale, sqrt(d_model) for Gemma) and its deterministic backward. */
#include "ropelab/model.h"

#include <omp.h>
#include <string.h>

/* out: [N][D]; tokens: [N]; wte: [V][D]. */
void rl_embed_forward(float *out, const int32_t *tokens, const float *wte, float scale, int N, int D) {
#pragma omp parallel for schedule(static) if ((size_t)N * D > 65536)
    for (int i = 0; i < N; i++) {
        const float *e = wte + (size_t)tokens[i] * D;
        float *o = out + (size_t)i * D;
        for (int j = 0; j < D; j++) o[j] = e[j] * scale;
    }
}

/* dwte: [V][D] (+=); dout: [N][D]; tokens: [N]. Threads split the D columns, so every element of dwte
 * is summed by one thread in token order: the result does not depend on the thread count. */
void rl_embed_backward(float *dwte, const float *dout, const int32_t *tokens, float scale, int N, int D, int V) {
    (void)V;
#pragma omp parallel if ((size_t)N * D > 65536)
    {
        int nt = 1, id = 0;
#ifdef _OPENMP
        nt = omp_get_num_threads();
        id = omp_get_thread_num();
#endif
        int j0 = (int)((long)D * id / nt), j1 = (int)((long)D * (id + 1) / nt);
        for (int i = 0; i < N; i++) {
            float *g = dwte + (size_t)tokens[i] * D;
            const float *d = dout + (size_t)i * D;
            for (int j = j0; j < j1; j++) g[j] += d[j] * scale;
        }
    }
}
