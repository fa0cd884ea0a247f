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

/* Logits of one sequence of n tokens at positions 0 .. n-1. logits: [n][V] (after soft-capping).
 * m supplies the config and the table (offsets); P the weights. */
void ref_forward(const rl_model *m, const double *P, const int32_t *tokens, int n, double *logits);

/* Sum over positions with target >= 0 of -log softmax(logits)[target], for B sequences of T
 * tokens (tokens, targets: [B][T]). */
double ref_loss_sum(const rl_model *m, const double *P, const int32_t *tokens, const int32_t *targets, int B, int T);

/* Randomises a model for tests: matrices ~ N(0, sd^2), norm gains around their neutral value
 * (1, or 0 under (1+w)) with spread sd, biases ~ N(0, sd^2). */
void ref_randomize(rl_model *m, uint64_t seed, double sd);

#endif
