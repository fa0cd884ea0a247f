/* Internal declarations shared by the model's source files (not part of the public API). */
#ifndef ROPELAB_MODEL_INTERNAL_H
#define ROPELAB_MODEL_INTERNAL_H

#include "ropelab/model.h"
#include "ropelab/util.h"

/* Shortest period (dividing n_layers) of the per-layer encodings / sliding flags. */
int rl_model_config_pe_period(const rl_model_config *c);
int rl_model_config_sliding_period(const rl_model_config *c);

/* Makes the model's rotations cover positions [0, need_pos) from their tables and, for
 * `dynamic` scaling, be built for sequence length seq_len. Rebuilds only when needed. */
int rl_model_ensure_ropes(rl_model *m, int need_pos, int64_t seq_len);

/* The attention settings of layer l. */
void rl_model_attn_cfg(const rl_model *m, int l, rl_attn_cfg *a);

/* Applies a rotation (forward, or its transpose when backward) to the q and k heads of qkv rows:
 * rows: [n][stride] floats, each starting with n_heads_qk = H + KV heads of hd floats (q then k);
 * pos: [n] positions. The heads are gathered into scratch ([n][n_heads_qk * hd] floats), rotated
 * by one librope call (threaded inside) and scattered back: librope takes contiguous tokens only. */
void rl_rope_qk_rows(const rl_rope *r, float *rows, int n, int stride, int n_heads_qk, const int32_t *pos,
                     float *scratch, int backward);

/* Builds a rotation like rl_rope_init but with the frequency table `freq` ([head_dim/2] rad/token)
 * instead of the spec's (same pair layout, rotated width and attention factor). Fails when a
 * non-zero frequency falls outside the spec's rotated width. */
int rl_rope_init_freq(rl_rope *r, const rl_rope_spec *spec, int head_dim, const double *freq, int max_pos);

/* Attention with the probability hook (materialised rows, O(nk) memory per thread):
 * q: nq rows (stride ldq) of [H][hd] at positions pos0 ..; k, v: nk rows (stride ldkv) of
 * [KV][hd]; out: nq rows (stride ldo) of [H][hd]; work: [rl_attention_rows_work_floats] floats.
 * fn (may be NULL) receives each (head, row)'s probabilities p[0 .. pos] (n = pos + 1). */
size_t rl_attention_rows_work_floats(const rl_attn_cfg *a, int nk);
void rl_attention_rows_forward(float *out, int ldo, const float *q, int ldq, const float *k, const float *v, int ldkv,
                               int nq, int nk, int pos0, const rl_attn_cfg *a, float *work,
                               void (*fn)(void *ctx, int layer, int head, int row, const float *p, int n), void *ctx,
                               int layer);

#endif
