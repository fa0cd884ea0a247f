/* Attention with materialised probability rows: the training kernel (forward stores the
 * probabilities, backward uses them) and the row kernel of the inference probability hooks. */
#include "internal.h"
#include "rowsoftmax.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#define ROW_BLOCK 64 /* query rows per block: causal blocks skip the keys after the block */

static inline int max_threads(void) { return omp_get_max_threads(); }

/* First visible key of the query at absolute position p. */
static inline int first_key(int p, int window) { return window > 0 && p - window + 1 > 0 ? p - window + 1 : 0; }

/* One block of query rows of one head, probabilities materialised.
 *   q: nb rows (stride ldq) of this head's query, positions qpos .. qpos+nb-1
 *   k, v: key rows of this head's kv head (stride ldkv), key j at position j
 *   S: nb rows of stride ldS indexed by key position (columns [k0, k1) are used)
 *   out: nb rows (stride ldo) of hd floats, written
 *   stats: nb rows of RL_ATTN_ROW_STATS floats (adaptive kinds, training), or NULL
 * Returns k0 and k1 (the key range the block needs). On return S[r][k0 .. k1) holds the
 * probabilities of row r (0 at invisible keys). */
static void rows_block(float *out, int ldo, const float *q, int ldq, const float *k, const float *v, int ldkv, int nb,
                       int qpos, float *S, int ldS, const rl_attn_cfg *a, float *stats, int *k0p, int *k1p) {
    const int hd = a->head_dim;
    const int k0 = first_key(qpos, a->window), k1 = qpos + nb;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, k1 - k0, hd, a->scale, q, ldq, k + (size_t)k0 * ldkv,
                ldkv, 0.0f, S + k0, ldS);
    for (int r = 0; r < nb; r++) {
        float *s = S + (size_t)r * ldS;
        int p = qpos + r, lo = first_key(p, a->window);
        if (a->softcap > 0)
            for (int j = lo; j <= p; j++) s[j] = a->softcap * tanhf(s[j] / a->softcap);
        rl_rowsm_forward(s + lo, stats ? stats + (size_t)r * RL_ATTN_ROW_STATS : NULL, s + lo, p - lo + 1, a->softmax);
        for (int j = k0; j < lo; j++) s[j] = 0;
        for (int j = p + 1; j < k1; j++) s[j] = 0;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, hd, k1 - k0, 1.0f, S + k0, ldS, v + (size_t)k0 * ldkv,
                ldkv, 0.0f, out, ldo);
    *k0p = k0;
    *k1p = k1;
}

void rl_attention_forward(float *out, float *att, float *att_stats, const float *qkv, int B, int T,
                          const rl_attn_cfg *a) {
    const int H = a->n_heads, KV = a->n_kv_heads, hd = a->head_dim, rep = H / KV;
    const int QKV = (H + 2 * KV) * hd, nblk = (T + ROW_BLOCK - 1) / ROW_BLOCK;
    const int items = B * H * nblk;
#pragma omp parallel for schedule(dynamic, 1)
    for (int it = 0; it < items; it++) {
        int b = it / (H * nblk), h = (it / nblk) % H, blk = nblk - 1 - it % nblk; /* big blocks first */
        int g = h / rep, i0 = blk * ROW_BLOCK, nb = RL_MIN(ROW_BLOCK, T - i0), k0, k1;
        const float *base = qkv + (size_t)b * T * QKV;
        float *P = att + ((size_t)b * H + h) * T * T + (size_t)i0 * T;
        float *st = a->softmax != RL_ATTN_PLAIN && att_stats
                        ? att_stats + (((size_t)b * H + h) * T + i0) * RL_ATTN_ROW_STATS
                        : NULL;
        rows_block(out + ((size_t)b * T + i0) * H * hd + (size_t)h * hd, H * hd, base + (size_t)i0 * QKV + h * hd, QKV,
                   base + (size_t)(H + g) * hd, base + (size_t)(H + KV + g) * hd, QKV, nb, i0, P, T, a, st, &k0, &k1);
        for (int r = 0; r < nb; r++) {
            memset(P + (size_t)r * T, 0, (size_t)k0 * sizeof(float));
            memset(P + (size_t)r * T + k1, 0, (size_t)(T - k1) * sizeof(float));
        }
    }
}

/* Per thread: dS [ROW_BLOCK][T]; RL_ATTN_ADAPTIVE: the recomputed logits Z [ROW_BLOCK][T];
 * adaptive kinds: one row [T] for the row backward. */
static size_t scratch_per_thread(const rl_attn_cfg *a, int T) {
    size_t n = (size_t)ROW_BLOCK * T;
    if (a->softmax == RL_ATTN_ADAPTIVE) n += (size_t)ROW_BLOCK * T;
    if (a->softmax != RL_ATTN_PLAIN) n += (size_t)T;
    return n;
}

size_t rl_attention_scratch_floats(const rl_attn_cfg *a, int T) { return (size_t)max_threads() * scratch_per_thread(a, T); }

/* The softmax backward of one block of nb rows (query positions i0 ..) over keys [k0, k1):
 * dS [nb][nk] holds dL/dP on entry and dL/dz on return (0 at invisible keys); P: nb rows of
 * stride ldP from key k0. Adaptive kinds: st = the block's row states [nb][RL_ATTN_ROW_STATS];
 * Q, K: query and key rows of stride ldqk (query i at row i, key j at row j); Z [nb][nk] receives
 * the recomputed logits when a row needs them; tmp [nk]. */
static void softmax_block_backward(float *dS, const float *P, int ldP, const float *st, const float *Q,
                                   const float *K, int ldqk, float *Z, float *tmp, int i0, int nb, int k0, int k1,
                                   const rl_attn_cfg *a) {
    const int nk = k1 - k0;
    if (a->softmax == RL_ATTN_PLAIN) { /* P is 0 at invisible keys, so they get 0 */
        for (int r = 0; r < nb; r++)
            rl_rowsm_backward(dS + (size_t)r * nk, dS + (size_t)r * nk, P + (size_t)r * ldP, NULL, NULL, nk,
                              a->softmax, NULL);
        return;
    }
    int need_z = 0;
    for (int r = 0; r < nb; r++) need_z |= rl_rowsm_needs_z(st + (size_t)r * RL_ATTN_ROW_STATS, a->softmax);
    if (need_z) /* the forward's logits, recomputed (training has no soft-capping) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, nk, a->head_dim, a->scale, Q + (size_t)i0 * ldqk, ldqk,
                    K + (size_t)k0 * ldqk, ldqk, 0.0f, Z, nk);
    for (int r = 0; r < nb; r++) { /* the row's visible keys only: the entropy term sees no others */
        const int p = i0 + r, lo = first_key(p, a->window) - k0, n = p - k0 - lo + 1;
        float *d = dS + (size_t)r * nk;
        rl_rowsm_backward(d + lo, d + lo, P + (size_t)r * ldP + lo, st + (size_t)r * RL_ATTN_ROW_STATS,
                          Z + (size_t)r * nk + lo, n, a->softmax, tmp);
        memset(d, 0, (size_t)lo * sizeof *d);
        memset(d + lo + n, 0, (size_t)(nk - lo - n) * sizeof *d);
    }
}

/* Backward, one work item per (sequence, kv head): the item owns dk and dv of its kv head and
 * dq of its query heads, and sums over heads and row blocks in a fixed order (no atomics). */
void rl_attention_backward(float *dqkv, const float *dout, const float *att, const float *att_stats, const float *qkv,
                           int B, int T, const rl_attn_cfg *a, float *scratch) {
    const int H = a->n_heads, KV = a->n_kv_heads, hd = a->head_dim, rep = H / KV;
    const int QKV = (H + 2 * KV) * hd;
    const int nthreads = max_threads();
    const size_t pt = scratch_per_thread(a, T);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (int it = 0; it < B * KV; it++) {
        int b = it / KV, g = it % KV;
        float *dS = scratch + (size_t)omp_get_thread_num() * pt;
        float *Z = dS + (size_t)ROW_BLOCK * T; /* RL_ATTN_ADAPTIVE only */
        float *tmp = Z + (a->softmax == RL_ATTN_ADAPTIVE ? (size_t)ROW_BLOCK * T : 0);
        const float *base = qkv + (size_t)b * T * QKV;
        const float *K = base + (size_t)(H + g) * hd, *V = base + (size_t)(H + KV + g) * hd;
        float *dbase = dqkv + (size_t)b * T * QKV;
        float *dK = dbase + (size_t)(H + g) * hd, *dV = dbase + (size_t)(H + KV + g) * hd;
        for (int h = g * rep; h < (g + 1) * rep; h++) {
            const float *Q = base + (size_t)h * hd;
            float *dQ = dbase + (size_t)h * hd;
            const float *dY = dout + (size_t)b * T * H * hd + (size_t)h * hd;
            for (int i0 = 0; i0 < T; i0 += ROW_BLOCK) {
                int nb = RL_MIN(ROW_BLOCK, T - i0), k0 = first_key(i0, a->window), k1 = i0 + nb, nk = k1 - k0;
                const float *P = att + ((size_t)b * H + h) * T * T + (size_t)i0 * T + k0;
                const float *st = a->softmax != RL_ATTN_PLAIN
                                      ? att_stats + (((size_t)b * H + h) * T + i0) * RL_ATTN_ROW_STATS
                                      : NULL;
                /* dP = dY V^T over the block's keys */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, nk, hd, 1.0f, dY + (size_t)i0 * H * hd,
                            H * hd, V + (size_t)k0 * QKV, QKV, 0.0f, dS, nk);
                /* dS = softmax backward */
                softmax_block_backward(dS, P, T, st, Q, K, QKV, Z, tmp, i0, nb, k0, k1, a);
                /* dQ += scale dS K;  dK += scale dS^T Q;  dV += P^T dY */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, hd, nk, a->scale, dS, nk,
                            K + (size_t)k0 * QKV, QKV, 1.0f, dQ + (size_t)i0 * QKV, QKV);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, hd, nb, a->scale, dS, nk, Q + (size_t)i0 * QKV,
                            QKV, 1.0f, dK + (size_t)k0 * QKV, QKV);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, hd, nb, 1.0f, P, T, dY + (size_t)i0 * H * hd,
                            H * hd, 1.0f, dV + (size_t)k0 * QKV, QKV);
            }
        }
    }
}

/* Inference with the probability hook: the same row blocks, probabilities handed to fn.
 * q: nq rows (stride ldq) of [H][hd] at positions pos0 ..; k, v: rows (stride ldkv) of [KV][hd];
 * out: nq rows (stride ldo) of [H][hd]; work: rl_attention_rows_work_floats(a, nk). */
size_t rl_attention_rows_work_floats(const rl_attn_cfg *a, int nk) {
    (void)a;
    return (size_t)max_threads() * ROW_BLOCK * (size_t)nk;
}

void rl_attention_rows_forward(float *out, int ldo, const float *q, int ldq, const float *k, const float *v, int ldkv,
                               int nq, int nk, int pos0, const rl_attn_cfg *a, float *work,
                               void (*fn)(void *ctx, int layer, int head, int row, const float *p, int n), void *ctx,
                               int layer) {
    const int H = a->n_heads, hd = a->head_dim, rep = H / a->n_kv_heads;
    const int nblk = (nq + ROW_BLOCK - 1) / ROW_BLOCK, nthreads = max_threads();
    (void)nk;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (int it = 0; it < H * nblk; it++) {
        int h = it / nblk, blk = nblk - 1 - it % nblk, g = h / rep, k0, k1;
        int i0 = blk * ROW_BLOCK, nb = RL_MIN(ROW_BLOCK, nq - i0);
        float *S = work + (size_t)omp_get_thread_num() * ROW_BLOCK * nk;
        rows_block(out + (size_t)i0 * ldo + (size_t)h * hd, ldo, q + (size_t)i0 * ldq + (size_t)h * hd, ldq,
                   k + (size_t)g * hd, v + (size_t)g * hd, ldkv, nb, pos0 + i0, S, nk, a, NULL, &k0, &k1);
        if (fn)
            for (int r = 0; r < nb; r++) {
                float *s = S + (size_t)r * nk;
                for (int j = 0; j < k0; j++) s[j] = 0;
                fn(ctx, layer, h, pos0 + i0 + r, s, pos0 + i0 + r + 1);
            }
    }
}
