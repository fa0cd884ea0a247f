/* ropelab/softmax.h: attention-row softmax, plain and with adaptive temperature.
 *
 * Adaptive temperature ("Softmax is not enough", Veličković et al., arXiv 2410.01104), per row z:
 *     p = softmax(z);  H = -Σ p log p  (nats)
 *     β = max(1, -0.037 H⁴ + 0.481 H³ - 2.3 H² + 4.917 H - 1.791)  if H > 0.5,  else β = 1
 *     output q = softmax(β z)
 * β only ever sharpens. The polynomial exceeds 1 only for H in about (0.849, 5.94): below and
 * above that band β = 1 (poly(0.5) = 0.150, so the H > 0.5 switch never makes β jump).
 *
 * Numerics: float32 in and out, every reduction (max, Σ e^(z-m), entropy, dot products) in float64.
 * Masked entries are -INFINITY: they get probability 0 and add nothing to H. A row whose entries are
 * all masked (or n = 0) gives all-zero probabilities, H = 0 and β = 1.
 * Causal rows: every row function takes n (the valid prefix length) and len (the stored row length);
 * entries n..len-1 are ignored on input and written as 0 on output.
 * Backward functions ADD into dz (model.h's convention).
 *
 * Kinks of β(H) (piecewise because of max(1, poly) and the H > 0.5 switch): at a point where the
 * polynomial equals 1 exactly, or H == 0.5 exactly, we take the one-sided derivative of the flat side,
 * dβ/dH = 0 (the same side the forward picks: β = poly only when poly > 1 strictly and H > 0.5
 * strictly). Elsewhere β is smooth and the backward is the exact derivative.
 *
 * Streaming (for tiled long-context attention). A row's softmax statistics are a small state
 *     m = running max,  S0 = Σ e^(z-m),  S1 = Σ (z-m)·e^(z-m)
 * with an update from a tile of logits and an associative merge of two states. From it
 *     log Σe^z = m + log S0,   H = log S0 - S1/S0,   β = β(H).
 * (The task text writes S1 = Σ z e^(z-m) and H = log S0 + m - S1/S0; we keep S1 shifted by m, which is
 * the same quantity minus m·S0 but never cancels: every term of S1 is <= 0, so H = log S0 + |S1|/S0 is a
 * sum of non-negative terms even for logits of size 1e4.)
 * The two-pass scheme the tiled attention uses, for each block of query rows:
 *   pass 1: for every key tile, rl_smstat_update(state, logits of the tile) (no V, no output);
 *           β = rl_smstat_beta(state): memory O(rows), not O(rows × keys);
 *   pass 2: the usual online softmax of β·z over the same key tiles, accumulating V
 *           (running max, rescale, Σ e^(βz - m') v), then divide by the final sum.
 * Logits are recomputed in pass 2 (one extra Q·Kᵀ per tile), so memory stays linear in context.
 * rl_adaptive_attention_tiled_ref() below is that scheme written over a given logit matrix; it is the
 * reference the model's tiled attention is tested against.
 */
#ifndef ROPELAB_SOFTMAX_H
#define ROPELAB_SOFTMAX_H

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the temperature polynomial --------------------------------------------------------------- */
/* β(H) as above; *dbeta_dH (may be NULL) receives dβ/dH (0 on the flat parts and at the kinks). */
double rl_adaptive_beta(double H, double *dbeta_dH);
/* The raw polynomial -0.037 H⁴ + 0.481 H³ - 2.3 H² + 4.917 H - 1.791 (for tests and docs). */
double rl_adaptive_poly(double H);

/* ---- plain softmax row ------------------------------------------------------------------------- */
/* p: [len] (p[n..len) = 0); z: [len] (first n used). */
void rl_softmax_row_forward(float *p, const float *z, int n, int len);
/* dz: [n] (+=); dp: [n]; p: [n] (the forward output). dz_j += p_j (dp_j - Σ_i p_i dp_i). */
void rl_softmax_row_backward(float *dz, const float *dp, const float *p, int n);

/* ---- adaptive-temperature softmax row ---------------------------------------------------------- */
/* What one row's forward keeps for its backward (a few doubles per row). */
typedef struct {
    double lse;      /* log Σ e^z of the plain row (-inf when every entry is masked) */
    double mean_z;   /* Σ p_j z_j under the plain softmax p */
    double H;        /* entropy of the plain softmax in nats */
    double beta;     /* the temperature factor applied: q = softmax(beta z) */
    double dbeta_dH; /* dβ/dH at H (0 on flat parts and at kinks) */
} rl_adaptive_row;

typedef enum {
    RL_BETA_THROUGH = 0, /* differentiate through β: entropy and polynomial (the exact gradient) */
    RL_BETA_CONST = 1,   /* treat β as a constant (stop-gradient on β) */
} rl_beta_grad;

/* q: [len] (q[n..len) = 0); st: out; z: [len] (first n used). */
void rl_adaptive_row_forward(float *q, rl_adaptive_row *st, const float *z, int n, int len);
/* dz: [n] (+=); dq: [n]; q: [n] (forward output); z: [n] (forward input); st: from the forward.
 *   g_j = q_j (dq_j - Σ q dq)                 (gradient w.r.t. u = βz)
 *   dz_j += β g_j                              (both modes)
 *         + (Σ_i g_i z_i) · dβ/dH · dH/dz_j    (RL_BETA_THROUGH only), dH/dz_j = -p_j (z_j - Σ p z),
 * with p_j = e^(z_j - lse) recomputed from z (nothing of size n is stored by the forward).
 * z is read only when the through-β term is taken (RL_BETA_THROUGH and dβ/dH != 0): otherwise it may
 * be NULL. dz must not alias dq, q or z. */
void rl_adaptive_row_backward(float *dz, const float *dq, const float *q, const float *z, const rl_adaptive_row *st,
                              rl_beta_grad mode, int n);

/* Rows of a matrix, each with its own valid length (for causal attention: n_valid[i] = i + 1 + offset).
 * out: [rows][len]; z: [rows][len]; st: [rows] (may be NULL for the plain kind);
 * n_valid: [rows] or NULL (every row fully valid). adaptive: 0 = plain softmax, 1 = adaptive. */
void rl_softmax_rows_forward(float *out, rl_adaptive_row *st, const float *z, const int *n_valid, int rows, int len,
                             int adaptive);

/* ---- streaming statistics ---------------------------------------------------------------------- */
typedef struct {
    double m;  /* running max (-inf while empty or all masked) */
    double s0; /* Σ e^(z - m) */
    double s1; /* Σ (z - m) e^(z - m)  (<= 0) */
} rl_smstat;

void rl_smstat_init(rl_smstat *s);
/* Folds a tile of logits into the state. z: [n] (-INFINITY entries are masked). */
void rl_smstat_update(rl_smstat *s, const float *z, int n);
/* The same fold with single-precision exponentials in a vectorised loop (float64 sums, the same state,
 * rebase and merge): each term e^(z-m) carries float32 rounding (within 2 ulp; 0 below e^-87), so the
 * entropy, log Σe^z and mean logit agree with rl_smstat_update to ~1e-6 relative — the size of the error
 * float32 logits carry anyway — at a fraction of the cost. The model's attention kernels use it (one exp
 * per logit in the statistics pass); the references and maxret use the float64 update. */
void rl_smstat_update_f32(rl_smstat *s, const float *z, int n);
/* a = a ⊕ b (associative and commutative up to float64 rounding). */
void rl_smstat_merge(rl_smstat *a, const rl_smstat *b);
/* log Σ e^z (-inf for an empty state). */
double rl_smstat_lse(const rl_smstat *s);
/* Entropy in nats of the softmax of everything folded in (0 for an empty state). */
double rl_smstat_entropy(const rl_smstat *s);
/* β of that entropy. */
double rl_smstat_beta(const rl_smstat *s);
/* The mean logit Σ p z under that softmax (0 for an empty state). */
double rl_smstat_mean(const rl_smstat *s);
/* What a row's adaptive backward needs (rl_adaptive_row), from the row's statistics. */
void rl_adaptive_row_from_stat(rl_adaptive_row *st, const rl_smstat *s);

/* Reference for tiled attention, pass 1 only: β of every row of a logit matrix, computed by folding
 * key tiles of size T (the last may be shorter) into a streaming state.
 * beta: [n_q]; z: [n_q][n_k]; n_valid: [n_q] or NULL (causal prefix lengths). */
void rl_adaptive_beta_tiled(float *beta, const float *z, const int *n_valid, int n_q, int n_k, int T);

/* Reference for tiled attention, both passes: out_i = Σ_j softmax(β_i z_i)_j v_j, with pass 1 as above
 * and pass 2 an online softmax of β·z over key tiles of size T.
 * out: [n_q][dv]; z: [n_q][n_k]; v: [n_k][dv]; n_valid: [n_q] or NULL; beta_out: [n_q] or NULL.
 * adaptive = 0 gives plain attention (β = 1). */
void rl_adaptive_attention_tiled_ref(float *out, float *beta_out, const float *z, const float *v, const int *n_valid,
                                     int n_q, int n_k, int dv, int T, int adaptive);

/* Reference for the tiled backward (training through tiled attention), from the logits, V, the forward
 * output and its gradient; every sweep goes over key tiles of size T, nothing of size n_q × n_k is needed
 * besides the dz it writes. Per row i (β, H, lse, mean logit recomputed by pass 1 of the forward):
 *   sweep 1: L = log Σ e^(βz) (online), D = dout_i · out_i            (FlashAttention's D term)
 *   sweep 2: a_j = e^(βz_j - L), g_j = a_j (dout_i·v_j - D); dz_j += β g_j; dv_j += a_j dout_i;
 *            A = Σ_j g_j (z_j - mean_z)
 *   sweep 3 (RL_BETA_THROUGH and dβ/dH != 0 only): dz_j += A · dβ/dH · (-p_j (z_j - mean_z)), p_j = e^(z_j - lse).
 * (A kernel that must write dz once computes A in an extra sweep before the one that writes dz.)
 * dz: [n_q][n_k] (+=); dv: [n_k][dv] (+=); z: [n_q][n_k]; v: [n_k][dv]; out, dout: [n_q][dv];
 * n_valid: [n_q] or NULL. adaptive = 0: plain attention (β = 1, mode ignored). Serial (a reference). */
void rl_adaptive_attention_tiled_backward_ref(float *dz, float *dv, const float *z, const float *v, const float *out,
                                              const float *dout, const int *n_valid, int n_q, int n_k, int dv_dim,
                                              int T, int adaptive, rl_beta_grad mode);

#ifdef __cplusplus
}
#endif
#endif
