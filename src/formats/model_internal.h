/* formats, section 2: helpers shared by the model loaders and writers (not public API). */
#ifndef ROPELAB_FORMATS_MODEL_INTERNAL_H
#define ROPELAB_FORMATS_MODEL_INTERNAL_H

#include "ropelab/formats.h"

/* ---- loading (model_bind.c) ---- */

/* What rl_loaded.priv holds: the container (its maps) and the weights converted to float32. */
typedef struct {
    rl_tensors ts;
    int have_ts;
    float *arena;       /* converted tensors at their table offsets ([n_params] floats, pages touched
                           only where something was converted); NULL when every tensor is used in place */
    int n_inplace, n_converted;
} ml_priv;

/* Where parameter-table entry i comes from: tensor t, and for tensors stacked over layers
 * (llama2.c) the layer to take (-1: the whole tensor). */
typedef struct {
    const rl_tensor *t;
    int layer;
} ml_src;

/* Points every table entry of m (created with alloc_params = 0) at its source, checking shape,
 * dtype and finiteness: F32 data that is 4-byte aligned is used in place from the map, anything
 * else is converted once into pv->arena (and the converted pages of the map are released).
 * src: [m->n_tensors]; a NULL t fails naming the tensor. */
int ml_bind(rl_model *m, ml_priv *pv, const ml_src *src);
/* Fails naming the first tensor of ts that no src uses and that ignorable() does not excuse: a
 * leftover tensor means the config was misread (e.g. biases the config does not mention). */
int ml_check_unused(const rl_tensors *ts, const ml_src *src, int n, int (*ignorable)(const char *name, void *ctx),
                    void *ctx);
void ml_priv_free(ml_priv *pv);

/* Binds m to src (ml_bind), checks nothing is left over (ml_check_unused with ignorable / ctx),
 * checks the tokenizer (tok, may be NULL) fits the vocabulary, and fills *out (format name, source
 * path). Takes ownership of m, pv, src and tok: on failure they are freed. */
int ml_finish(rl_loaded *out, rl_model *m, ml_priv *pv, ml_src *src, int (*ignorable)(const char *name, void *ctx),
              void *ctx, rl_tokenizer *tok, const char *format, const char *path);

/* The tokenizer of a checkpoint: tokenizer_path when given (any format rl_tok_load reads), else
 * dir/tokenizer.json, else dir/tokenizer.bin, else none (*tok = NULL). dir may be NULL. */
int ml_folder_tokenizer(const char *dir, const char *tokenizer_path, rl_tokenizer **tok);

/* ---- per-format loaders (model_hf.c, model_gguf.c, model_llama2c.c) ---- */
int ml_load_hf_dir(const char *dir, const char *tokenizer_path, rl_loaded *out);
int ml_load_safetensors_file(const char *path, const char *tokenizer_path, rl_loaded *out);
int ml_load_gguf(const char *path, const char *tokenizer_path, rl_loaded *out);
int ml_load_llama2c(const char *path, const char *tokenizer_path, rl_loaded *out);

/* ---- GGUF metadata (model_gguf_meta.c) ---- */
/* The model config of a GGUF file's metadata (and token_embd's shape, rope_freqs). */
int ml_gguf_config(const rl_tensors *ts, const char *path, rl_model_config *c);
/* Its tokenizer.ggml.* vocabulary; *tok = NULL when it has none ("no_vocab" or absent). */
int ml_gguf_vocab(const rl_tensors *ts, const char *path, rl_tokenizer **tok);

/* ---- names (model_gguf_names.c) ---- */
/* The llama.cpp name of a parameter-table (Hugging Face) name: "model.layers.3.self_attn.q_proj.weight"
 * -> "blk.3.attn_q.weight". sandwich: Gemma 2's norm naming. Returns -1 for a name GGUF has no
 * counterpart for (GPT-NeoX's fused names). */
int ml_gguf_name(const char *hf, int sandwich, char *out, size_t n);

/* ---- q/k head-dimension permutations (model_perm.c) ---- */

/* perm[i] = the dim of a head under `from` that dim i takes under `to`, such that chunk k of
 * `from` (its pair of dims, rl_rope_chunk_dims) lands on chunk k of `to`. Both specs must have
 * the same frequencies per chunk (only the pair layout / rotated width differ). perm: [hd]. */
int ml_layout_perm(const rl_rope_spec *from, const rl_rope_spec *to, int hd, int *perm);
/* The same with chunk k of `to` taking chunk chunk_map[k] of `from` (a permutation of the hd/2
 * chunks; NULL = identity), e.g. to move p-RoPE's rotated chunks to the front. */
int ml_chunk_perm(const rl_rope_spec *from, const rl_rope_spec *to, int hd, const int *chunk_map, int *perm);

/* The transforms a writer applies to a model's tensors. */
typedef struct {
    const int *perm[RL_MAX_LAYERS]; /* per layer: q/k head-dim permutation, or NULL */
    float norm_add;                 /* added to every RMSNorm weight (+1 / -1 to change the (1+w) convention) */
} ml_xform;
/* The values of table entry e of m under x: *owned = 1 and a fresh buffer when something changes,
 * else *owned = 0 and m's own pointer. NULL when out of memory. */
float *ml_xform_tensor(const rl_model *m, const rl_param_info *e, const ml_xform *x, int *owned);
/* 1 when table entry e of m is an RMSNorm gain. */
int ml_is_rms_gain(const rl_model *m, const rl_param_info *e);

/* p such that floor(p * d) == num exactly (partial rotary / p-RoPE fractions from integer counts). */
double ml_fraction(int num, int d);

#endif
