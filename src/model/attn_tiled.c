/* Tiled online-softmax ("flash") attention for inference, plain or adaptive temperature (a
 * statistics pass over the key tiles first): memory O(tile) per thread, linear in the context. */
#include "internal.h"
#include "ropelab/softmax.h"
#include "rowsoftmax.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#define DEFAULT_TQ 64
#define DEFAULT_TK 256

static inline int first_key(int p, int window) { return window > 0 && p - window + 1 > 0 ? p - window + 1 : 0; }

static void tiles(const rl_attn_cfg *a, int *tq, int *tk) {
    *tq = a->tile_q > 0 ? a->tile_q : DEFAULT_TQ;
    *tk = a->tile_k > 0 ? a->tile_k : DEFAULT_TK;
}

/* Per thread (floats): online row states [tq] (4 each), statistics-pass states rl_smstat [tq]
 * (6 each), beta [tq] (1 each), S tile [tq][tk], output accumulator O [tq][hd]. The same for
 * every softmax kind, so a workspace (and a KV cache's) stays valid when the kind changes. */
#define STATE_FLOATS 11
static size_t per_thread(const rl_attn_cfg *a) {
    int tq, tk;
    tiles(a, &tq, &tk);
    size_t n = (size_t)tq * tk + (size_t)tq * a->head_dim + STATE_FLOATS * (size_t)tq;
    return (n + 15) & ~(size_t)15;
}

_Static_assert(sizeof(rowsm_online) == 4 * sizeof(float) && sizeof(rl_smstat) == 6 * sizeof(float),
               "per_thread counts the row states in floats");

/* Logits of one tile as the softmax sees them: S [nb][tk] = scale Q K[j0 .. j0+nt)^T, soft-capped,
 * -INFINITY at keys row r (position p_first + r) does not see. */
static void tile_logits(float *S, int tk, const float *Q, int ldq, const float *K, int ldkv, int nb, int nt, int j0,
                        int p_first, const rl_attn_cfg *a) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, nt, a->head_dim, a->scale, Q, ldq, K + (size_t)j0 * ldkv,
                ldkv, 0.0f, S, tk);
    for (int r = 0; r < nb; r++) {
        float *s = S + (size_t)r * tk;
        const int p = p_first + r, lo = first_key(p, a->window);
        if (a->softcap > 0)
            for (int j = 0; j < nt; j++) s[j] = a->softcap * tanhf(s[j] / a->softcap);
        /* invisible keys are the ranges j0 + j < lo and j0 + j > p (most tiles have none) */
        for (int j = 0, e = RL_MIN(nt, lo - j0); j < e; j++) s[j] = -INFINITY;
        for (int j = RL_MAX(0, p + 1 - j0); j < nt; j++) s[j] = -INFINITY;
    }
}

size_t rl_attention_tiled_work_floats(const rl_attn_cfg *a) { return (size_t)omp_get_max_threads() * per_thread(a); }

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
        rl_smstat *ss = (rl_smstat *)(w + 4 * (size_t)tq);
        float *beta = w + 10 * (size_t)tq, *S = w + STATE_FLOATS * (size_t)tq, *O = S + (size_t)tq * tk;
        const float *Q = q + (size_t)i0 * ldq + (size_t)h * hd;
        const float *K = k + (size_t)g * hd, *Vv = v + (size_t)g * hd;
        const int p_first = pos0 + i0, p_last = pos0 + i0 + nb - 1;
        const int k0 = first_key(p_first, a->window), k1 = p_last + 1; /* keys the block can see */

        /* pass 1 (adaptive kinds): each row's streaming statistics over the key tiles -> beta */
        int scaled = 0;
        if (a->softmax != RL_ATTN_PLAIN) {
            for (int r = 0; r < nb; r++) rl_smstat_init(&ss[r]);
            for (int j0 = k0; j0 < k1; j0 += tk) {
                const int nt = RL_MIN(tk, k1 - j0);
                tile_logits(S, tk, Q, ldq, K, ldkv, nb, nt, j0, p_first, a);
                for (int r = 0; r < nb; r++) rl_smstat_update_f32(&ss[r], S + (size_t)r * tk, nt);
            }
            for (int r = 0; r < nb; r++) {
                beta[r] = (float)rl_smstat_beta(&ss[r]);
                scaled |= beta[r] != 1.0f;
            }
        }

        /* pass 2: online softmax of beta z with V */
        for (int r = 0; r < nb; r++) rl_rowsm_online_begin(&st[r]);
        memset(O, 0, (size_t)nb * hd * sizeof(float));
        for (int j0 = k0; j0 < k1; j0 += tk) {
            const int nt = RL_MIN(tk, k1 - j0);
            tile_logits(S, tk, Q, ldq, K, ldkv, nb, nt, j0, p_first, a);
            for (int r = 0; r < nb; r++) {
                float *s = S + (size_t)r * tk;
                if (scaled && beta[r] != 1.0f) /* beta > 0: -INFINITY stays masked */
                    for (int j = 0; j < nt; j++) s[j] *= beta[r];
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
