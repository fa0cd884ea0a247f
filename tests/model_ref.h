/* A naive float64 reference of every model architecture, for tests. Written from the Hugging Face
 * modeling files (modeling_llama / mistral / qwen2 / gemma / gemma2 / gpt_neox) and llama2.c's
 * run.c, with plain loops and no code shared with src/model: the model's outputs and gradients are
 * checked against it, and the analyser's checkpoint loaders can be checked against it too (it
 * looks every weight up by its Hugging Face name). */
#ifndef ROPELAB_TEST_MODEL_REF_H
#define ROPELAB_TEST_MODEL_REF_H

#include "ropelab/model.h"

/* Weights: a float64 arena with the model's table layout (tensor NAME at
 * rl_model_find_param(m, NAME)->offset). ref_params_from_model copies the model's float32 values
 * (wherever its slots point). Free with free(). */
double *ref_params_from_model(const rl_model *m);

/* The attention row softmax in float64, from the definitions ("Softmax is not enough", the
 * paper's formula): p[0..n) = softmax(beta z), entries z = -INFINITY get 0 and count nowhere;
 * beta = 1 for RL_ATTN_PLAIN; for the adaptive kinds H = -sum p0 log p0 with p0 = softmax(z),
 * beta = max(1, -0.037 H^4 + 0.481 H^3 - 2.3 H^2 + 4.917 H - 1.791) if H > 0.5 else 1 -- or
 * beta = *frozen when frozen != NULL (beta held constant: finite differences of the
 * constant-beta backward). Returns beta; *H (may be NULL) gets the entropy. */
double ref_softmax_row(double *p, const double *z, int n, rl_attn_softmax kind, const double *frozen, double *H);

/* Causal attention of one sequence of T tokens over qkv rows (model.h's layout, q and k already
 * rotated): logit = scale q.k, soft-capped, window-masked, ref_softmax_row with a->softmax.
 * qkv: [T][QKV]; out: [T][H*hd]; P: [H][T][T] or NULL; beta: [H][T] or NULL, written (freeze 0)
 * or read as the frozen betas (freeze 1). */
void ref_attention(const rl_attn_cfg *a, const double *qkv, int T, double *out, double *P, double *beta, int freeze);

/* Logits of one sequence of n tokens at positions 0 .. n-1. logits: [n][V] (after soft-capping).
 * m supplies the config and the table (offsets); P the weights. */
void ref_forward(const rl_model *m, const double *P, const int32_t *tokens, int n, double *logits);
/* The same with the attention betas recorded or frozen as in ref_attention: beta [L][H][n]. */
void ref_forward_beta(const rl_model *m, const double *P, const int32_t *tokens, int n, double *logits, double *beta,
                      int freeze);

/* Sum over positions with target >= 0 of -log softmax(logits)[target], for B sequences of T
 * tokens (tokens, targets: [B][T]). */
double ref_loss_sum(const rl_model *m, const double *P, const int32_t *tokens, const int32_t *targets, int B, int T);
/* The same with betas [B][L][H][T] recorded or frozen. */
double ref_loss_sum_beta(const rl_model *m, const double *P, const int32_t *tokens, const int32_t *targets, int B,
                         int T, double *beta, int freeze);

/* Randomises a model for tests: matrices ~ N(0, sd^2), norm gains around their neutral value
 * (1, or 0 under (1+w)) with spread sd, biases ~ N(0, sd^2). */
void ref_randomize(rl_model *m, uint64_t seed, double sd);

#endif
