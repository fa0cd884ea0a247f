/* The row softmax of attention, plain or adaptive temperature: the one interface every attention
 * kernel normalises through.
 *
 *   - full rows (the training attention and the probability hook's row kernel): rl_rowsm_forward
 *     turns one row of visible logits z into probabilities, softmax(z) or, for the adaptive kinds,
 *     softmax(beta z) with beta from the entropy of softmax(z); rl_rowsm_backward turns dL/dp into
 *     dL/dz (through beta, or with beta constant).
 *   - tiles (the online-softmax kernel): rl_rowsm_online_* keep the running max and sum of one row
 *     across key tiles. For the adaptive kinds the tiled kernel first runs a statistics pass over
 *     the key tiles with softmax.h's rl_smstat_update (the single implementation of the streaming
 *     max / sum / entropy) to fix beta per row, then feeds beta z to the online steps.
 * The statistics, beta(H) and the exact row backward are softmax.h's (rl_smstat_*,
 * rl_adaptive_row_from_stat, rl_adaptive_row_backward); this file adds the float32 vectorised
 * softmax and the per-row state layout the kernels keep.
 */
#ifndef ROPELAB_MODEL_ROWSOFTMAX_H
#define ROPELAB_MODEL_ROWSOFTMAX_H

#include "ropelab/model.h"

/* Slots of a row's RL_ATTN_ROW_STATS floats. */
enum { RL_ROWSM_BETA = 0, RL_ROWSM_DBETA = 1, RL_ROWSM_LSE = 2, RL_ROWSM_MEANZ = 3 };

/* p[0..n) = softmax(beta z[0..n)), n >= 1, z finite (the visible keys only). beta = 1 for
 * RL_ATTN_PLAIN; for the adaptive kinds beta = beta(H(softmax z)) from float64 streaming
 * statistics, and st (may be NULL) receives the row's RL_ATTN_ROW_STATS floats (slots above).
 * p may alias z. The exponentials are float32 (vexpf) with a float64 sum; beta == 1 gives exactly
 * the plain softmax's bits. Returns beta. */
float rl_rowsm_forward(float *p, float *st, const float *z, int n, rl_attn_softmax kind);

/* Whether the backward of a row needs its logits z: RL_ATTN_ADAPTIVE with d beta / dH != 0. */
static inline int rl_rowsm_needs_z(const float *st, rl_attn_softmax kind) {
    return kind == RL_ATTN_ADAPTIVE && st[RL_ROWSM_DBETA] != 0.0f;
}

/* dz[0..n) = dL/dz (written) from dp = dL/dp, p = the forward's output, and for the adaptive kinds
 * st = the forward's row state and z = the forward's logits (read only when rl_rowsm_needs_z;
 * else may be NULL). dz may alias dp. tmp: [n] floats for the adaptive kinds (NULL for plain). */
void rl_rowsm_backward(float *dz, const float *dp, const float *p, const float *st, const float *z, int n,
                       rl_attn_softmax kind, float *tmp);

/* Online softmax state of one row. */
typedef struct {
    float m;  /* running max of the logits seen */
    double l; /* running sum of exp(z - m) */
} rowsm_online;

void rl_rowsm_online_begin(rowsm_online *st);
/* Consumes one tile of logits s[0..n) (masked entries -INFINITY): overwrites s with
 * exp(s - m_new) and returns the factor exp(m_old - m_new) by which the row's accumulated output
 * must be multiplied. A tile with no visible key returns 1 and zeroes s. */
float rl_rowsm_online_step(rowsm_online *st, float *s, int n);
/* The final normaliser 1 / sum (0 for a row that saw no key, which cannot happen causally). */
float rl_rowsm_online_end(const rowsm_online *st);

#endif
