/* Helpers for the model-loader tests: tiny random models of each architecture, writing them as
 * Hugging Face folders and GGUF files by hand (independently of rl_hf_save / rl_gguf_export), and
 * comparing a loaded model's logits with the float64 reference of tests/model_ref.c. */
#ifndef ROPELAB_TEST_LOADERS_HELPERS_H
#define ROPELAB_TEST_LOADERS_HELPERS_H

#include "ropelab/formats.h"

/* A tiny model of arch (rl_arch_name), from the preset plus `pe` (NULL: the preset's with theta
 * 100, so positions matter within a short text), randomised with seed (weights ~ N(0, 0.35^2),
 * norm gains around their neutral value). Sizes: V 19, D 16, L 3, H 4, KV 2, hd 8, F 20, unless
 * the arch's fixture needs otherwise (see loaders_helpers.c); wide = 1: D 32, F 64 (rows of whole
 * Q8_0 blocks). */
rl_model *lt_model(const char *arch, const char *pe, uint64_t seed, int wide);
/* The fixture's config alone, and a randomised model of any config (same weight law). */
rl_model_config lt_config(const char *arch, const char *pe, int wide);
rl_model *lt_random(const rl_model_config *c, uint64_t seed);
/* A model of config c with m's parameter values (the tables must have the same layout); frees m. */
rl_model *lt_reconfig(rl_model *m, const rl_model_config *c);

/* Rounds every weight of m to what `dt` stores (F16, BF16 or Q8_0 for 2-D tensors whose rows
 * are whole blocks), so a reference computed from m afterwards is exact for a file in that dtype. */
void lt_round_weights(rl_model *m, rl_dtype dt);

/* Writes DIR/config.json (the given text) and the model's tensors, named as its table (Hugging
 * Face names), in dtype dt; shard_bytes > 0 splits them into shards with an index. */
void lt_write_hf(const char *dir, const rl_model *m, const char *config_json, rl_dtype dt, uint64_t shard_bytes);

/* The logits of `got` (a loaded model) on a fixed random text of n tokens, against ref_forward of
 * `want` (its weights and config). Returns the largest absolute difference and sets *scale to the
 * largest |reference logit|. */
double lt_logit_diff(rl_model *got, const rl_model *want, int n, double *scale);
/* The same against another float32 model's rl_model_infer (round trips). */
double lt_logit_diff_models(rl_model *a, rl_model *b, int n);

/* The llama.cpp convert_hf_to_gguf.py `permute` of q/k rows (the test's own implementation):
 * GGUF row h*hd + 2i + j = HF row h*hd + j*hd/2 + i. dst, src: [heads*hd][cols]. */
void lt_gguf_permute(float *dst, const float *src, int heads, int hd, int cols);

/* Writes m as a llama.cpp GGUF of architecture `arch` ("llama", "gemma", "gemma2", "qwen2"), the
 * way convert_hf_to_gguf.py does: llama.cpp names and metadata keys, q/k rows permuted for llama,
 * (1 + w) baked into gemma norms, no output tensor when tied; 2-D weights in dt. */
void lt_write_gguf(const char *path, const rl_model *m, const char *arch, rl_dtype dt);

/* Writes a llama2.c tokenizer.bin of n tokens (score -i for token i). */
void lt_write_l2c_tokenizer(const char *path, const char *const *texts, int n);

/* Copies GGUF file src to dst, leaving out the metadata key or tensor named `drop` (NULL: none)
 * and appending the entries of `add` and the tensor `add_t` (each may be NULL). */
void lt_gguf_rewrite(const char *src, const char *dst, const char *drop, const rl_meta_list *add,
                     const rl_write_tensor *add_t);

/* Writes a file with the given bytes. */
void lt_write_file(const char *path, const char *text);

#endif
