/* The row softmax of attention: the one interface every attention kernel normalises through.
 *
 * Where adaptive temperature (include/ropelab/softmax.h) plugs in:
 *   - full rows (training attention, the probability hooks): rowsm_forward computes
 *     p = softmax(z) over one row of visible logits, rowsm_backward turns dL/dp into dL/dz.
 *     An adaptive variant replaces both: forward p = softmax(beta(H(softmax z)) * z), backward
 *     through beta as well; its backward also needs z, so the training attention would keep the
 *     logits next to the probabilities (one more [B][H][T][T] buffer, allocated for that kind only).
 *   - tiles (the online-softmax kernel): rowsm_online_* keep the running max and sum of one row
 *     across key tiles. An adaptive variant first runs a statistics pass over the key tiles with
 *     rowsm_stats_* (streaming max, sum and sum of p*z: the row's entropy) to fix beta per row,
 *     then the output pass multiplies every logit by beta. attn_tiled.c marks the spot.
 * The standard softmax needs no statistics pass, so the kernels skip it.
 */
#ifndef ROPELAB_MODEL_ROWSOFTMAX_H
#define ROPELAB_MODEL_ROWSOFTMAX_H

#include <math.h>

/* p[0..n) = softmax(z[0..n)) (n >= 1). p may alias z. Sums in float64: rows are long (up to the
 * context length) and the probabilities feed the backward. */
static inline void rowsm_forward(float *p, const float *z, int n) {
    float mx = z[0];
    for (int j = 1; j < n; j++) mx = z[j] > mx ? z[j] : mx;
    double s = 0;
    for (int j = 0; j < n; j++) {
        float e = expf(z[j] - mx);
        p[j] = e;
        s += e;
    }
    float inv = (float)(1.0 / s);
    for (int j = 0; j < n; j++) p[j] *= inv;
}

/* dz[0..n) = p * (dp - <p, dp>): the softmax Jacobian applied to dp. dz may alias dp. */
static inline void rowsm_backward(float *dz, const float *dp, const float *p, int n) {
    double dot = 0;
    for (int j = 0; j < n; j++) dot += (double)p[j] * dp[j];
    float d = (float)dot;
    for (int j = 0; j < n; j++) dz[j] = p[j] * (dp[j] - d);
}

/* Online softmax state of one row. */
typedef struct {
    float m; /* running max of the logits seen */
    double l; /* running sum of exp(z - m) */
} rowsm_online;

static inline void rowsm_online_begin(rowsm_online *st) {
    st->m = -INFINITY;
    st->l = 0;
}

/* Consumes one tile of logits s[0..n) (masked entries -INFINITY): overwrites s with
 * exp(s - m_new) and returns the factor exp(m_old - m_new) by which the row's accumulated output
 * must be multiplied. A tile with no visible key returns 1 and zeroes s. */
static inline float rowsm_online_step(rowsm_online *st, float *s, int n) {
    float mx = st->m;
    for (int j = 0; j < n; j++) mx = s[j] > mx ? s[j] : mx;
    if (mx == -INFINITY) {
        for (int j = 0; j < n; j++) s[j] = 0;
        return 1.0f;
    }
    float corr = st->m == -INFINITY ? 0.0f : expf(st->m - mx);
    double sum = 0;
    for (int j = 0; j < n; j++) {
        float e = expf(s[j] - mx); /* exp(-inf) = 0 */
        s[j] = e;
        sum += e;
    }
    st->l = st->l * corr + sum;
    st->m = mx;
    return corr;
}

/* The final normaliser 1 / sum (0 for a row that saw no key, which cannot happen causally). */
static inline float rowsm_online_end(const rowsm_online *st) { return st->l > 0 ? (float)(1.0 / st->l) : 0.0f; }

/* Statistics pass (for adaptive temperature): streaming max m, l = sum_j e_j and
 * lz = sum_j e_j (z_j - m), with e_j = exp(z_j - m); the entropy of softmax(z) is then
 * H = log(l) - lz / l. Masked logits (-INFINITY) are skipped. */
typedef struct {
    float m;
    double l, lz;
} rowsm_stats;

static inline void rowsm_stats_begin(rowsm_stats *st) {
    st->m = -INFINITY;
    st->l = st->lz = 0;
}

static inline void rowsm_stats_step(rowsm_stats *st, const float *s, int n) {
    float mx = st->m;
    for (int j = 0; j < n; j++) mx = s[j] > mx ? s[j] : mx;
    if (mx == -INFINITY) return;
    double l = 0, lz = 0;
    for (int j = 0; j < n; j++) {
        if (s[j] == -INFINITY) continue;
        double e = exp((double)s[j] - mx);
        l += e;
        lz += e * ((double)s[j] - mx);
    }
    if (st->m == -INFINITY) {
        st->l = l;
        st->lz = lz;
    } else {
        /* re-centre on the new max: e_j scales by corr and (z_j - m) shifts by (m_old - m_new) */
        double corr = exp((double)st->m - mx);
        st->lz = (st->lz + st->l * ((double)st->m - mx)) * corr + lz;
        st->l = st->l * corr + l;
    }
    st->m = mx;
}

/* Entropy (nats) of the softmax of every logit the statistics pass saw. */
static inline double rowsm_stats_entropy(const rowsm_stats *st) { return log(st->l) - st->lz / st->l; }

#endif
