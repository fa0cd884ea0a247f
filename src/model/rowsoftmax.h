/* The row softmax of attention: the one interface every attention kernel normalises through.
 *
 * Where adaptive temperature (include/ropelab/softmax.h) plugs in:
 *   - full rows (training attention, the probability hooks): rl_rowsm_forward computes
 *     p = softmax(z) over one row of visible logits, rl_rowsm_backward turns dL/dp into dL/dz.
 *     An adaptive variant replaces both: forward p = softmax(beta(H(softmax z)) * z), backward
 *     through beta as well; its backward also needs z, so the training attention would keep the
 *     logits next to the probabilities (one more [B][H][T][T] buffer, allocated for that kind only).
 *   - tiles (the online-softmax kernel): rl_rowsm_online_* keep the running max and sum of one row
 *     across key tiles. An adaptive variant first runs a statistics pass over the key tiles with
 *     rl_rowsm_stats_* (streaming max, sum and sum of p*z: the row's entropy) to fix beta per row,
 *     then the output pass multiplies every logit by beta. attn_tiled.c marks the spot.
 * The standard softmax needs no statistics pass, so the kernels skip it.
 */
#ifndef ROPELAB_MODEL_ROWSOFTMAX_H
#define ROPELAB_MODEL_ROWSOFTMAX_H

/* p[0..n) = softmax(z[0..n)) (n >= 1). p may alias z. Sums in float64: rows are long (up to the
 * context length) and the probabilities feed the backward. */
void rl_rowsm_forward(float *p, const float *z, int n);

/* dz[0..n) = p * (dp - <p, dp>): the softmax Jacobian applied to dp. dz may alias dp. */
void rl_rowsm_backward(float *dz, const float *dp, const float *p, int n);

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

/* Statistics pass (for adaptive temperature): streaming max m, l = sum_j e_j and
 * lz = sum_j e_j (z_j - m), with e_j = exp(z_j - m); the entropy of softmax(z) is then
 * H = log(l) - lz / l. Masked logits (-INFINITY) are skipped. */
typedef struct {
    float m;
    double l, lz;
} rowsm_stats;

void rl_rowsm_stats_begin(rowsm_stats *st);
void rl_rowsm_stats_step(rowsm_stats *st, const float *s, int n);
/* Entropy (nats) of the softmax of every logit the statistics pass saw. */
double rl_rowsm_stats_entropy(const rowsm_stats *st);

#endif
