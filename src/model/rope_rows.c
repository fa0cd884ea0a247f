/* RoPE inside the model: rotating the q and k heads of qkv rows, and rotations built from an
 * overriding frequency table (the analyser's "keep a band but stop rotating it" ablation). */
#include "internal.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rl_rope_qk_rows(const rl_rope *r, float *rows, int n, int stride, int n_heads_qk, int pos0, int backward) {
    if (r->n_active == 0 || n <= 0) return;
#pragma omp parallel for schedule(static) if ((size_t)n * stride > 32768)
    for (int t = 0; t < n; t++) {
        int32_t p = pos0 + t;
        if (backward)
            rl_rope_backward(r, rows + (size_t)t * stride, 1, n_heads_qk, &p);
        else
            rl_rope_forward(r, rows + (size_t)t * stride, 1, n_heads_qk, &p);
    }
}

int rl_rope_init_freq(rl_rope *r, const rl_rope_spec *spec, int head_dim, const double *freq, int max_pos) {
    if (rl_rope_init(r, spec, head_dim, 0, max_pos) != 0) return -1;
    rl_rope_freqs *f = &r->f;
    const int half = f->rot_dims / 2;
    int lo = f->n_chunks, hi = 0;
    for (int k = 0; k < f->n_chunks; k++) {
        if (!isfinite(freq[k])) {
            rl_rope_free(r);
            return rl_fail("frequency override: chunk %d is %g, not a finite number", k, freq[k]);
        }
        if (freq[k] != 0 && k >= half) {
            rl_rope_free(r);
            return rl_fail("frequency override: chunk %d is outside the %d rotated chunks of the encoding", k, half);
        }
        f->freq[k] = freq[k];
        if (freq[k] != 0) {
            lo = RL_MIN(lo, k);
            hi = k + 1;
        }
    }
    if (f->attn_factor != 1.0) {
        lo = 0;
        hi = half;
    }
    if (hi <= lo) lo = hi = 0;
    f->chunk_lo = lo;
    f->chunk_hi = hi;
    r->n_active = hi - lo;
    r->max_pos = r->n_active > 0 ? max_pos : 0;
    free(r->cs);
    r->cs = NULL;
    if (r->max_pos > 0) {
        const int na = r->n_active;
        r->cs = rl_alloc_aligned((size_t)r->max_pos * 2 * (size_t)na * sizeof(float), "rope cos/sin table");
        if (!r->cs) {
            rl_rope_free(r);
            return -1;
        }
        /* the same rounding as librope's table: float64 angle, cos/sin times the factor, once to float32 */
#pragma omp parallel for schedule(static)
        for (int p = 0; p < r->max_pos; p++) {
            float *c = r->cs + (size_t)p * 2 * na, *s = c + na;
            for (int j = 0; j < na; j++) {
                double ang = (double)p * f->freq[lo + j];
                c[j] = (float)(cos(ang) * f->attn_factor);
                s[j] = (float)(sin(ang) * f->attn_factor);
            }
        }
    }
    return 0;
}
