/* RoPE inside the model: rotating the q and k heads of qkv rows, and rotations built from an
 * overriding frequency table (the analyser's "keep a band but stop rotating it" ablation). */
#include "internal.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rl_rope_qk_rows(const rl_rope *r, float *rows, int n, int stride, int n_heads_qk, const int32_t *pos,
                     float *scratch, int backward) {
    if (r->n_active == 0 || n <= 0) return;
    const size_t w = (size_t)n_heads_qk * r->f.head_dim, bytes = w * sizeof(float);
    const int par = (size_t)n * w > 32768;
#pragma omp parallel for schedule(static) if (par)
    for (int t = 0; t < n; t++) memcpy(scratch + (size_t)t * w, rows + (size_t)t * stride, bytes);
    if (backward)
        rl_rope_backward(r, scratch, n, n_heads_qk, pos);
    else
        rl_rope_forward(r, scratch, n, n_heads_qk, pos);
#pragma omp parallel for schedule(static) if (par)
    for (int t = 0; t < n; t++) memcpy(rows + (size_t)t * stride, scratch + (size_t)t * w, bytes);
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
