/* Tiled online-softmax ("flash") attention for inference: memory O(tile) per thread, linear in
 * the context overall. */
#include "internal.h"
#include "rowsoftmax.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#define DEFAULT_TQ 64
#define DEFAULT_TK 256

static void tiles(const rl_attn_cfg *a, int *tq, int *tk) {
    *tq = a->tile_q > 0 ? a->tile_q : DEFAULT_TQ;
    *tk = a->tile_k > 0 ? a->tile_k : DEFAULT_TK;
}

/* Per thread: row states [tq] (16 bytes each), S tile [tq][tk], output accumulator O [tq][hd]. */
static size_t per_thread(const rl_attn_cfg *a) {
    int tq, tk;
    tiles(a, &tq, &tk);
    size_t n = (size_t)tq * tk + (size_t)tq * a->head_dim + 4 * (size_t)tq;
    return (n + 15) & ~(size_t)15;
}

size_t rl_attention_tiled_work_floats(const rl_attn_cfg *a) { return (size_t)omp_get_max_threads() * per_thread(a); }

static inline int first_key(int p, int window) { return window > 0 && p - window + 1 > 0 ? p - window + 1 : 0; }

void rl_attention_tiled_forward(float *out, int ldo, const float *q, int ldq, const float *k, const float *v,
                                int ldkv, int nq, int nk, int pos0, const rl_attn_cfg *a, float *work) {
    const int H = a->n_heads, hd = a->head_dim, rep = H / a->n_kv_heads;
    int tq, tk;
    tiles(a, &tq, &tk);
    const int nblk = (nq + tq - 1) / tq, nthreads = omp_get_max_threads();
    const size_t pt = per_thread(a);
    (void)nk;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (int it = 0; it < H * nblk; it++) {
        const int h = it / nblk, blk = nblk - 1 - it % nblk, g = h / rep;
        const int i0 = blk * tq, nb = RL_MIN(tq, nq - i0);
        float *w = work + (size_t)omp_get_thread_num() * pt;
        rowsm_online *st = (rowsm_online *)w; /* first: w is 64-byte aligned */
        float *S = w + 4 * (size_t)tq, *O = S + (size_t)tq * tk;
        const float *Q = q + (size_t)i0 * ldq + (size_t)h * hd;
        const float *K = k + (size_t)g * hd, *Vv = v + (size_t)g * hd;
        const int p_first = pos0 + i0, p_last = pos0 + i0 + nb - 1;
        const int k0 = first_key(p_first, a->window), k1 = p_last + 1; /* keys the block can see */

        /* (A statistics pass for adaptive temperature goes here: the same loop over key tiles
         * computing S, soft-capping and masking it, feeding each row to rl_rowsm_stats_step, then a
         * per-row beta from rl_rowsm_stats_entropy that scales the logits of the pass below.) */

        for (int r = 0; r < nb; r++) rl_rowsm_online_begin(&st[r]);
        memset(O, 0, (size_t)nb * hd * sizeof(float));
        for (int j0 = k0; j0 < k1; j0 += tk) {
            const int nt = RL_MIN(tk, k1 - j0);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, nt, hd, a->scale, Q, ldq, K + (size_t)j0 * ldkv,
                        ldkv, 0.0f, S, tk);
            for (int r = 0; r < nb; r++) {
                float *s = S + (size_t)r * tk;
                const int p = p_first + r, lo = first_key(p, a->window);
                if (a->softcap > 0)
                    for (int j = 0; j < nt; j++) s[j] = a->softcap * tanhf(s[j] / a->softcap);
                for (int j = 0; j < nt; j++)
                    if (j0 + j < lo || j0 + j > p) s[j] = -INFINITY;
                float corr = rl_rowsm_online_step(&st[r], s, nt);
                if (corr != 1.0f) {
                    float *o = O + (size_t)r * hd;
                    for (int d = 0; d < hd; d++) o[d] *= corr;
                }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, hd, nt, 1.0f, S, tk, Vv + (size_t)j0 * ldkv, ldkv,
                        1.0f, O, hd);
        }
        for (int r = 0; r < nb; r++) {
            const float inv = rl_rowsm_online_end(&st[r]);
            float *o = out + (size_t)(i0 + r) * ldo + (size_t)h * hd;
            for (int d = 0; d < hd; d++) o[d] = O[(size_t)r * hd + d] * inv;
        }
    }
}
