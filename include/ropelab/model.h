/* ropelab/model.h: the transformer model part.
 *
 * Section 1: the ops. One forward and one backward function per op, on plain contiguous float32
 *   arrays; every pointer's shape is in the comment beside it.
 * Section 2: the model. Its configuration (one struct covering ropelab's training model, a Gemma,
 *   and the inference architectures Llama, Mistral, Qwen2, Gemma, Gemma 2, GPT-NeoX and llama2.c;
 *   JSON in and out), its parameters (a struct of pointers into one arena, and a table that
 *   checkpoint writers and loaders iterate), the training forward/backward on [B][T] windows, the
 *   long-context inference forward with the analyser's hooks, and KV-cache decoding.
 *   docs/model.md explains the architecture, the arena layouts and the attention algorithms.
 *
 * Conventions shared by every op:
 *   - N is the number of rows (tokens: batch * time), row-major, innermost dimension last.
 *   - Backward functions ADD into their gradient outputs (d-inputs and d-weights), as in llm.c,
 *     so that residual branches and gradient accumulation need no extra buffers. Zero them first.
 *   - Gradient outputs may be NULL when not needed (e.g. no gradient for frozen weights).
 *   - Ops thread internally with OpenMP (and OpenBLAS for matrix products). Results depend only on
 *     the inputs and the thread count: no atomics, fixed reduction orders.
 */
#ifndef ROPELAB_MODEL_H
#define ROPELAB_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "ropelab/rope.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- linear: out = in · Wᵀ + b ------------------------------------------------------------ */
/* out: [N][OC]; in: [N][C]; w: [OC][C] (PyTorch / Hugging Face layout); b: [OC] or NULL. */
void rl_linear_forward(float *out, const float *in, const float *w, const float *b, int N, int C, int OC);
/* din: [N][C] (+=, may be NULL); dw: [OC][C] (+=, may be NULL); db: [OC] (+=, may be NULL);
 * dout: [N][OC]; in: [N][C]; w: [OC][C]. */
void rl_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int N,
                        int C, int OC);

/* ---- RMSNorm: out = in / rms(in) * g, with g = w (Llama) or g = 1 + w (Gemma) ------------ */
/* out: [N][D]; rstd: [N] (saved 1/rms for backward, may be NULL at inference); in: [N][D]; w: [D]. */
void rl_rmsnorm_forward(float *out, float *rstd, const float *in, const float *w, int plus_one, float eps, int N,
                        int D);
/* din: [N][D] (+=); dw: [D] (+=, may be NULL); dout: [N][D]; in: [N][D]; w: [D]; rstd: [N]. */
void rl_rmsnorm_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                         const float *rstd, int plus_one, int N, int D);

/* ---- LayerNorm (GPT-NeoX): out = (in - mean) / std * w + b -------------------------------- */
/* out: [N][D]; in: [N][D]; w, b: [D]. Inference only (no trainer architecture uses it). */
void rl_layernorm_forward(float *out, const float *in, const float *w, const float *b, float eps, int N, int D);

/* ---- activations -------------------------------------------------------------------------- */
/* GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). out, in: [n]. */
void rl_gelu_forward(float *out, const float *in, size_t n);
/* din: [n] (+=); dout, in: [n]. */
void rl_gelu_backward(float *din, const float *dout, const float *in, size_t n);
/* Gated MLP activations: out = act(gate) * up, act = tanh-GELU (GeGLU, Gemma) or SiLU (SwiGLU, Llama).
 * out, gate, up: [n]. */
void rl_geglu_forward(float *out, const float *gate, const float *up, size_t n);
void rl_swiglu_forward(float *out, const float *gate, const float *up, size_t n);
/* dgate, dup: [n] (+=); dout, gate, up: [n]. */
void rl_geglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n);
void rl_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n);

/* The same on rows holding gate and up side by side (the output of one fused projection):
 * gu: [N][2F], row i = [gate (F) | up (F)]; out: [N][F]. swiglu: 0 = GeGLU, 1 = SwiGLU. */
void rl_gated_rows_forward(float *out, const float *gu, int N, int F, int swiglu);
/* Backward fused with recomputing the activation (so the forward need not keep it):
 * dgu: [N][2F] WRITTEN (not added: it is always a fresh buffer); da: [N][F] on entry dL/d(out),
 * on return out itself (the recomputed activation, which the next projection's weight gradient
 * needs); gu: [N][2F]. */
void rl_gated_rows_backward(float *dgu, float *da, const float *gu, int N, int F, int swiglu);

/* ---- token embedding: out[t] = wte[token[t]] * scale ------------------------------------- */
/* out: [N][D]; tokens: [N]; wte: [V][D]. Tokens must be < V (checked by the callers that read data). */
void rl_embed_forward(float *out, const int32_t *tokens, const float *wte, float scale, int N, int D);
/* dwte: [V][D] (+=); dout: [N][D]. Deterministic (no atomics): each row of dwte is summed in token order. */
void rl_embed_backward(float *dwte, const float *dout, const int32_t *tokens, float scale, int N, int D, int V);

/* ---- softmax cross-entropy, fused with its gradient ---------------------------------------- */
/* logits: [N][V]. targets: [N]; a target < 0 is ignored (no loss, zero gradient).
 * losses: [N] per-row loss in nats (NaN-free; 0 for ignored rows), may be NULL.
 * If grad_scale != 0, logits is OVERWRITTEN with d(loss_sum * grad_scale)/d(logits)
 * = (softmax - onehot) * grad_scale. Returns the sum of the row losses (float64). */
double rl_xent_forward_backward(float *logits, const int32_t *targets, int N, int V, float grad_scale,
                                float *losses);

/* ---- more activations and logit transforms (inference architectures) ---------------------- */
/* GELU, exact: 0.5 x (1 + erf(x / sqrt 2)) (GPT-NeoX's "gelu"). out, in: [n]; may alias. */
void rl_gelu_erf_forward(float *out, const float *in, size_t n);
/* Soft-capping (Gemma 2): x = cap * tanh(x / cap), in place. x: [n]. cap > 0. */
void rl_softcap_forward(float *x, size_t n, float cap);

/* ---- attention --------------------------------------------------------------------------- */
/* Causal multi-head attention with n_kv_heads key/value heads shared by groups of query heads
 * (query head h uses kv head h / (n_heads / n_kv_heads), as Hugging Face's repeat_kv):
 * MHA when n_kv_heads == n_heads, MQA when 1, GQA in between.
 *
 * Token rows hold q, k and v side by side ("qkv rows"), the output of one fused projection:
 *   qkv row = [ q: n_heads * head_dim | k: n_kv_heads * head_dim | v: n_kv_heads * head_dim ]
 * so QKV = (n_heads + 2 * n_kv_heads) * head_dim floats per token; q and k are already rotated.
 *
 * logit(i, j) = scale * q_i . k_j, then (if softcap > 0) softcap * tanh(logit / softcap); key j is
 * visible to query i iff j <= i and (window == 0 or j > i - window); the row softmax over the
 * visible keys gives the probabilities; out_i = sum_j p(i, j) v_j.
 *
 * The row softmax is plain, or adaptive temperature ("Softmax is not enough", include/ropelab/
 * softmax.h): per query row, with z the row's logits as the softmax sees them (after scale,
 * soft-capping and the mask), p = softmax(z), H = -sum p log p (nats), beta = max(1, poly(H)) if
 * H > 0.5 else 1, and the row's probabilities are softmax(beta z). So the order is: scale, cap,
 * mask, then entropy and beta, then the softmax of beta times the capped logits (beta may take
 * them beyond the cap). Rows with beta = 1 are bit-identical to the plain softmax. Every kernel
 * normalises through one internal interface (src/model/rowsoftmax.h); the streaming statistics
 * and beta are softmax.h's (rl_smstat_*, rl_adaptive_beta). See docs/model.md, "Attention". */
typedef enum {
    RL_ATTN_PLAIN = 0,        /* plain softmax */
    RL_ATTN_ADAPTIVE = 1,       /* adaptive temperature; the backward differentiates through beta */
    RL_ATTN_ADAPTIVE_CONST = 2, /* adaptive temperature; the backward treats beta as a constant */
} rl_attn_softmax;
#define RL_ATTN_KIND_COUNT 3
/* Names "softmax", "adaptive", "adaptive-const" (the JSON values of attn_softmax and the CLI's
 * --softmax values). from_name returns -1 for an unknown name (no error recorded). */
const char *rl_attn_softmax_name(rl_attn_softmax k);
int rl_attn_softmax_from_name(const char *name, rl_attn_softmax *k);

typedef struct {
    int n_heads, n_kv_heads, head_dim;
    float scale;        /* multiplies q.k: 1/sqrt(head_dim), or 1/sqrt(query_pre_attn_scalar) */
    float softcap;      /* > 0: Gemma 2 attention logit soft-capping (forward only, not in training) */
    int window;         /* > 0: sliding window (query i sees keys i-window < j <= i); 0: none */
    int tile_q, tile_k; /* tiled kernel: query rows and keys per tile (0 = 64 and 256) */
    rl_attn_softmax softmax; /* the row softmax (0 = plain) */
} rl_attn_cfg;

/* Per-row statistics the training attention keeps for the adaptive kinds' backward:
 * beta, d beta / dH, log sum e^z and the mean logit under softmax(z) (float32 each). */
#define RL_ATTN_ROW_STATS 4

/* Training attention: stores the probabilities, O(T^2) memory per head.
 * out: [B][T][H*hd]; att: [B][H][T][T] probabilities (row i is 0 at invisible keys; with an
 * adaptive kind these are softmax(beta z), what the output averages with);
 * att_stats: [B][H][T][RL_ATTN_ROW_STATS] for the adaptive kinds' backward (NULL for plain
 * softmax, or when no backward follows);
 * qkv: [B][T][QKV] qkv rows (positions 0 .. T-1 in every sequence). */
void rl_attention_forward(float *out, float *att, float *att_stats, const float *qkv, int B, int T,
                          const rl_attn_cfg *a);
/* dqkv: [B][T][QKV] (+=); dout: [B][T][H*hd]; att, att_stats: from the forward; qkv: [B][T][QKV]
 * from the forward; scratch: [rl_attention_scratch_floats(a, T)] floats. a->softcap must be 0.
 * With RL_ATTN_ADAPTIVE the logits of rows whose beta has a non-zero slope are recomputed
 * (one Q K^T product per row block) instead of being stored. */
void rl_attention_backward(float *dqkv, const float *dout, const float *att, const float *att_stats, const float *qkv,
                           int B, int T, const rl_attn_cfg *a, float *scratch);
size_t rl_attention_scratch_floats(const rl_attn_cfg *a, int T); /* for omp_get_max_threads() threads */

/* Tiled online-softmax ("flash") attention of one sequence, for inference: nothing of size
 * nq * nk is ever stored, so memory is linear in the context.
 * q: nq rows of stride ldq floats, each [H][hd]; query i is at position pos0 + i.
 * k, v: nk rows of stride ldkv floats, each [KV][hd]; key j is at position j (nk >= pos0 + nq).
 * out: nq rows of stride ldo floats, each [H][hd] (written, not added).
 * work: [rl_attention_tiled_work_floats(a)] floats (the same for every a->softmax).
 * With an adaptive kind each block of query rows first streams its logits over the key tiles
 * through rl_smstat_update to fix beta per row (pass 1), then runs the online softmax of beta z
 * with V (pass 2): one more Q K^T product per tile, a few scalars more per row. */
void rl_attention_tiled_forward(float *out, int ldo, const float *q, int ldq, const float *k, const float *v,
                                int ldkv, int nq, int nk, int pos0, const rl_attn_cfg *a, float *work);
size_t rl_attention_tiled_work_floats(const rl_attn_cfg *a); /* for omp_get_max_threads() threads */

/* =========================================================================================== */
/* Section 2: the model                                                                          */
/* =========================================================================================== */

#define RL_MAX_LAYERS 256

/* The architecture: its naming of parameters and the defaults of rl_model_config_preset. The
 * forward itself is driven only by the flags of rl_model_config, so any flag may be changed. */
typedef enum {
    RL_ARCH_GEMMA,    /* GemmaForCausalLM; ropelab's training model (the default) */
    RL_ARCH_GEMMA2,   /* Gemma2ForCausalLM */
    RL_ARCH_LLAMA,    /* LlamaForCausalLM */
    RL_ARCH_MISTRAL,  /* MistralForCausalLM */
    RL_ARCH_QWEN2,    /* Qwen2ForCausalLM */
    RL_ARCH_GPT_NEOX, /* GPTNeoXForCausalLM (Pythia) */
    RL_ARCH_LLAMA2C,  /* karpathy/llama2.c checkpoints: Llama with Meta's interleaved RoPE pairs */
    RL_ARCH_COUNT
} rl_arch;

typedef enum { RL_NORM_RMS, RL_NORM_LAYER } rl_norm_kind;
typedef enum {
    RL_MLP_GEGLU,     /* down(gelu_tanh(gate(x)) * up(x))   Gemma, Gemma 2 */
    RL_MLP_SWIGLU,    /* down(silu(gate(x)) * up(x))        Llama, Mistral, Qwen2 */
    RL_MLP_GELU,      /* down(gelu_erf(up(x)))              GPT-NeoX ("gelu", exact) */
    RL_MLP_GELU_TANH, /* down(gelu_tanh(up(x)))             GPT-NeoX with "gelu_new"-style configs */
} rl_mlp_kind;

#define RL_EMBED_SQRT_D (-1.0) /* embed_scale value meaning sqrt(d_model) (Gemma) */

/* The model configuration. Plain data (copy it freely). The JSON keys are the field names
 * (see rl_model_config_to_json and docs/model.md, "Config keys"). */
typedef struct {
    rl_arch arch;
    int vocab_size;        /* V */
    int d_model;           /* D */
    int n_layers;          /* L, <= RL_MAX_LAYERS */
    int n_heads;           /* H query heads */
    int n_kv_heads;        /* KV key/value heads; divides H */
    int head_dim;          /* hd, even; need not equal D / H */
    int d_ff;              /* F, the MLP's hidden width */
    int max_seq;           /* training context; the RoPE tables are built for this many positions
                              (a longer sequence rebuilds them to its length) */
    /* normalisation */
    rl_norm_kind norm;     /* RMSNorm, or LayerNorm with bias (GPT-NeoX) */
    int norm_plus_one;     /* RMSNorm weight acts as (1 + w) (Gemma) */
    double norm_eps;
    int sandwich_norm;     /* Gemma 2: the branch outputs are normed too (post_attention_layernorm,
                              post_feedforward_layernorm; the MLP's input norm is then called
                              pre_feedforward_layernorm) */
    /* projections */
    rl_mlp_kind mlp;
    int qkv_bias;          /* biases on q, k, v (Qwen2, GPT-NeoX) */
    int o_bias;            /* bias on the attention output projection (GPT-NeoX) */
    int mlp_bias;          /* biases on the MLP projections (GPT-NeoX) */
    int fused_qkv;         /* one query_key_value weight [H*3*hd][D] in GPT-NeoX's order: for each
                              head, its q rows, then k rows, then v rows (needs n_kv_heads == n_heads) */
    int parallel_residual; /* x + attn(norm1(x)) + mlp(norm2(x)) (GPT-NeoX use_parallel_residual) */
    /* attention */
    double query_pre_attn_scalar; /* logits are scaled by 1/sqrt(this); 0 means head_dim (Gemma 2) */
    double attn_softcap;   /* > 0: attention logit soft-capping (Gemma 2: 50) */
    double final_softcap;  /* > 0: final logit soft-capping (Gemma 2: 30) */
    rl_attn_softmax attn_softmax; /* the attention row softmax: plain (default) or adaptive
                              temperature; JSON "softmax" | "adaptive" | "adaptive-const" */
    int sliding_window;    /* > 0: window of the layers with sliding[l] = 1 (Mistral, Gemma 2) */
    uint8_t sliding[RL_MAX_LAYERS]; /* per layer: 1 = this layer uses the sliding window */
    /* embedding and head */
    int tie_embeddings;    /* the output head is the embedding matrix (Gemma) */
    double embed_scale;    /* the embedding output is multiplied by this; RL_EMBED_SQRT_D = sqrt(D) */
    int bos_id, eos_id;    /* -1 when none */
    /* positional encoding: one librope spec per layer (pair layout included in the spec) */
    rl_rope_spec pe[RL_MAX_LAYERS];
    /* initialisation (rl_model_init_weights) */
    double init_std;       /* 0.02 */
} rl_model_config;

/* Architecture names: "gemma", "gemma2", "llama", "mistral", "qwen2", "gpt_neox", "llama2c".
 * rl_arch_from_name also accepts the Hugging Face class names ("GemmaForCausalLM", ...).
 * Returns -1 for an unknown name (no error recorded). */
const char *rl_arch_name(rl_arch a);
int rl_arch_from_name(const char *name, rl_arch *a);

/* The reference training model (ropelab's Gemma): vocab 4096, d_model 256, 6 layers, 4 heads of
 * dim 64, 1 kv head, MLP 1024, context 256, RoPE theta 10000 on every layer, tied head, (1+w)
 * RMSNorm eps 1e-6, GeGLU, embedding scaled by sqrt(d_model), init_std 0.02, BOS 1, EOS 2. */
void rl_model_config_default(rl_model_config *c);
/* The reference sizes with the layout flags of an architecture: Llama (RMSNorm w, SwiGLU,
 * untied, eps 1e-6, embed scale 1), Mistral (= Llama, sliding_window 4096 on every layer),
 * Qwen2 (= Llama with q/k/v biases, RoPE theta 1e6), Gemma, Gemma 2 (+ sandwich norms, softcaps
 * 50/30, sliding window 4096 on even layers, query_pre_attn_scalar = head_dim), GPT-NeoX
 * (LayerNorm eps 1e-5, fused q/k/v, biases everywhere, parallel residual, exact GELU MLP,
 * partial rotary p=0.25, untied), llama2c (= Llama with interleaved RoPE pairs, eps 1e-5, tied).
 * name: an rl_arch_name or Hugging Face class name. */
int rl_model_config_preset(rl_model_config *c, const char *name);

/* Per-layer positional encodings from one string: specs separated by ';'. The list may have
 *   1 entry            every layer uses it;
 *   n_layers entries   layer l uses entry l;
 *   k entries, k | L   a pattern repeated: layer l uses entry l % k
 *                      (e.g. "rope:theta=10000;rope:theta=10000;rope:theta=10000;nope" makes every
 *                      fourth layer NoPE when n_layers is a multiple of 4).
 * Any other length fails, naming the count and n_layers. Needs c->n_layers set. */
int rl_model_config_set_pe(rl_model_config *c, const char *list);
/* The shortest list that set_pe turns back into the same per-layer specs (canonical spec
 * strings). Returns the length needed, like snprintf. */
int rl_model_config_pe_string(const rl_model_config *c, char *buf, size_t n);

/* Checks every field; on failure the message names the JSON key and the bad value. */
int rl_model_config_validate(const rl_model_config *c);
/* Fails (naming the feature) when the training forward/backward does not support the config:
 * training needs RMSNorm, a gated MLP (GeGLU or SwiGLU), separate q/k/v, no parallel residual,
 * no sandwich norms and no soft-capping. Biases, tied or untied heads, GQA/MQA, sliding windows,
 * every positional encoding and every attn_softmax kind are supported. */
int rl_model_config_check_trainable(const rl_model_config *c);

/* JSON. to_json returns a malloc'ed, pretty-printed object with every key (free it).
 * from_json applies the keys of a JSON object on top of *c: when the object has "arch", *c is
 * first reset to that architecture's preset, so {"arch": "gemma", "d_model": 512} is complete.
 * Unknown keys, wrong types and bad values fail with a message "SOURCE: key K: what is wrong";
 * the result is validated. source names the file in messages. */
char *rl_model_config_to_json(const rl_model_config *c);
int rl_model_config_from_json(rl_model_config *c, const char *json, const char *source);
/* Reads a JSON file with from_json (on top of *c). */
int rl_model_config_load(rl_model_config *c, const char *path);

/* Derived values. */
float rl_model_embed_scale(const rl_model_config *c);    /* embed_scale, with sqrt(D) resolved */
float rl_model_attn_scale(const rl_model_config *c);     /* 1/sqrt(query_pre_attn_scalar or hd) */
int rl_model_qkv_width(const rl_model_config *c);        /* QKV = (H + 2 KV) hd */
size_t rl_model_n_params(const rl_model_config *c);      /* floats in the parameter arena */

/* ---- parameters ---------------------------------------------------------------------------- */

/* One layer's tensors (NULL when the config has no such tensor). Shapes: Hugging Face's,
 * linear weights [out][in]. */
typedef struct {
    float *attn_norm, *attn_norm_b;         /* [D] input_layernorm (.bias: LayerNorm only) */
    float *wq, *wk, *wv;                    /* [H*hd][D], [KV*hd][D], [KV*hd][D] q/k/v_proj */
    float *bq, *bk, *bv;                    /* [H*hd], [KV*hd], [KV*hd] (qkv_bias) */
    float *wqkv, *bqkv;                     /* [H*3*hd][D], [H*3*hd] (fused_qkv, replaces wq..bv) */
    float *wo, *bo;                         /* [D][H*hd], [D] o_proj (bo: o_bias) */
    float *post_attn_norm;                  /* [D] (sandwich_norm) */
    float *mlp_norm, *mlp_norm_b;           /* [D] the MLP's input norm (.bias: LayerNorm only) */
    float *wgate, *wup;                     /* [F][D] (wgate: gated MLPs only) */
    float *bgate, *bup;                     /* [F] (mlp_bias) */
    float *wdown, *bdown;                   /* [D][F], [D] */
    float *post_mlp_norm;                   /* [D] (sandwich_norm) */
} rl_layer_params;

typedef struct {
    float *wte;                             /* [V][D] embed_tokens */
    rl_layer_params layer[RL_MAX_LAYERS];
    float *final_norm, *final_norm_b;       /* [D] */
    float *lm_head;                         /* [V][D]; equals wte when tie_embeddings */
} rl_params;

/* The parameter table: one entry per tensor, in arena order. The parameter, gradient and both
 * AdamW moment arenas share this layout (tensor i starts at `offset` floats in each).
 *
 * Arena order (llm.c style, but grouped by layer):
 *   wte;
 *   for each layer: attn_norm[, attn_norm_b], (wq, wk, wv[, bq, bk, bv]) or (wqkv[, bqkv]),
 *                   wo[, bo][, post_attn_norm], mlp_norm[, mlp_norm_b], [wgate,] wup[, bgate], [bup,]
 *                   wdown[, bdown][, post_mlp_norm];
 *   final_norm[, final_norm_b]; [lm_head when untied].
 * wq, wk, wv are adjacent, so together they are one [QKV][D] matrix (one matrix product gives qkv
 * rows), and so are wgate, wup ([2F][D]) and their biases. No padding between tensors.
 *
 * Names are Hugging Face's for the architecture, e.g. Gemma/Llama/Mistral/Qwen2/llama2c:
 *   model.embed_tokens.weight, model.layers.3.input_layernorm.weight,
 *   model.layers.3.self_attn.{q,k,v,o}_proj.{weight,bias}, model.layers.3.post_attention_layernorm.weight,
 *   model.layers.3.mlp.{gate,up,down}_proj.weight, model.norm.weight, lm_head.weight
 * (Gemma 2 adds model.layers.3.pre_feedforward_layernorm / post_feedforward_layernorm, and its
 * post_attention_layernorm is the attention branch's output norm), and GPT-NeoX:
 *   gpt_neox.embed_in.weight, gpt_neox.layers.3.{input_layernorm,post_attention_layernorm}.{weight,bias},
 *   gpt_neox.layers.3.attention.{query_key_value,dense}.{weight,bias},
 *   gpt_neox.layers.3.mlp.{dense_h_to_4h,dense_4h_to_h}.{weight,bias},
 *   gpt_neox.final_layer_norm.{weight,bias}, embed_out.weight. */
typedef struct {
    char name[80];
    int layer;          /* -1 for the embedding, final norm and head */
    int ndim;           /* 2 for matrices [out][in], 1 for vectors */
    int64_t shape[2];   /* shape[1] = 1 for vectors */
    size_t numel;
    size_t offset;      /* floats from the start of each arena */
    int decay;          /* 1: AdamW weight decay applies (matrices, embeddings); 0: norms, biases */
    float **slot;       /* the rl_params field that points at this tensor (in rl_model.p) */
} rl_param_info;

/* ---- training activations ------------------------------------------------------------------ */

/* Everything the training forward keeps for the backward, and the backward's scratch, in one
 * arena sized for (B, T). N = B*T rows; QKV = (H+2KV) hd. Order in the arena = order here. */
typedef struct {
    int B, T;
    int32_t *tokens;    /* [N] (a copy of the input) */
    int32_t *targets;   /* [N] (a copy; < 0 = ignored) */
    int32_t *pos;       /* [N] position of each row in its window (t mod T) */
    float *resid;       /* [L+1][N][D] residual stream: [0] = scaled embedding, [l+1] = layer l's output */
    float *resid_mid;   /* [L][N][D] layer l's stream after its attention branch */
    float *ln1;         /* [L][N][D] attention input norm output */
    float *ln1_rstd;    /* [L][N] */
    float *qkv;         /* [L][N][QKV] qkv rows, q and k rotated */
    float *att;         /* [L][B][H][T][T] attention probabilities */
    float *att_stats;   /* [L][B][H][T][RL_ATTN_ROW_STATS] adaptive kinds only (else NULL) */
    float *atty;        /* [L][N][H*hd] attention output before o_proj */
    float *ln2;         /* [L][N][D] MLP input norm output */
    float *ln2_rstd;    /* [L][N] */
    float *gu;          /* [L][N][2F] gate | up pre-activations */
    float *lnf;         /* [N][D] final norm output */
    float *lnf_rstd;    /* [N] */
    float *probs;       /* [N][V] after forward: softmax(logits) - onehot(target) (0 rows for ignored
                           targets): the unscaled d(loss sum)/d(logits) */
    float *losses;      /* [N] per-token loss in nats (0 for ignored) */
    /* backward scratch (its values are meaningless between calls) */
    float *act;         /* [N][F] MLP activation (forward scratch, recomputed in backward) */
    float *dresid;      /* [N][D] */
    float *dln;         /* [N][D] */
    float *dqkv;        /* [N][QKV] */
    float *datty;       /* [N][H*hd] */
    float *dgu;         /* [N][2F] */
    float *qk;          /* [N][(H+KV) hd] the q and k heads gathered for the rotation */
    float *attn_scratch;/* [rl_attention_scratch_floats(T)] */
    size_t n_floats;    /* size of the arena */
    float *mem;
} rl_train_acts;

/* ---- the model ----------------------------------------------------------------------------- */

typedef struct {
    rl_model_config cfg;
    rl_params p;              /* parameters: into `params` (or wherever a loader points them) */
    rl_params g;              /* gradients: into `grads` (all NULL until rl_model_alloc_train) */
    int n_tensors;
    rl_param_info *table;     /* [n_tensors] */
    size_t n_params;          /* floats per arena */
    float *params;            /* [n_params] parameter arena, NULL when created without one */
    float *grads;             /* [n_params] gradient arena */
    float *adam_m, *adam_v;   /* [n_params] AdamW moments */
    rl_train_acts acts;       /* training activations (mem NULL until rl_model_alloc_acts) */
    /* rotations: one rl_rope per distinct spec; layer l uses rope[rope_of[l]] */
    int n_ropes;
    rl_rope *rope;
    int rope_of[RL_MAX_LAYERS];
    int rope_max_pos;         /* positions covered by the cos/sin tables */
    int64_t rope_seq_len;     /* the sequence length `dynamic` scaling was built for */
    /* inference workspace, reused between calls (grown on demand) */
    float *infer_ws;
    size_t infer_ws_bytes;
    /* training bookkeeping */
    int64_t adam_t;           /* AdamW steps taken */
} rl_model;

/* Creates a model for a valid config. With alloc_params = 1 the parameter arena is allocated
 * (zero-filled; call rl_model_init_weights or load into it). With 0, every p pointer is NULL and
 * the caller (a loader) must set each table entry's *slot, e.g. to F32 tensors of a memory map
 * (the model never writes to parameters outside training). Don't copy an rl_model by value: the
 * table's slots point into it. */
rl_model *rl_model_new(const rl_model_config *cfg, int alloc_params);
void rl_model_free(rl_model *m);
/* The table entry with a given name; NULL when absent (no error recorded). */
const rl_param_info *rl_model_find_param(const rl_model *m, const char *name);
/* Checks that every table slot is set (loaders call it after pointing the slots); for a tied
 * head sets p.lm_head = p.wte. */
int rl_model_check_params(rl_model *m);

/* Seeded initialisation (same seed, same weights on every machine): every matrix and the
 * embedding ~ N(0, init_std^2), with the residual-output projections (o_proj, down_proj)
 * scaled by 1/sqrt(2 L) as in GPT-2 / llm.c; RMSNorm weights 1 (0 under (1+w), i.e. the same
 * unit gain); LayerNorm weights 1; every bias 0. Values are drawn in table order from one
 * rl_rng seeded with `seed`. */
void rl_model_init_weights(rl_model *m, uint64_t seed);

/* ---- training ------------------------------------------------------------------------------ */

/* Allocates the gradient arena and the AdamW moments (zeroed). */
int rl_model_alloc_train(rl_model *m);
/* (Re)allocates the activation arena for batches of B windows of T tokens (T may exceed max_seq).
 * Its per-thread scratch is sized for omp_get_max_threads() now: the backward fails (with a
 * message) if the thread count grows later. */
int rl_model_alloc_acts(rl_model *m, int B, int T);
/* Bytes rl_model_alloc_acts(m, B, T) allocates. */
size_t rl_model_acts_bytes(const rl_model_config *c, int B, int T);

/* Training forward on B windows of T tokens (tokens: [B][T]; targets: [B][T], usually the
 * tokens shifted by one, < 0 = ignored; each window starts at position 0). Fails for a token
 * or target >= V, or a (B, T) different from the allocated activations.
 * *loss_sum: sum of the token losses (nats); *n_valid: the number of targets >= 0.
 * Keeps what the backward needs in m->acts. */
int rl_model_forward(rl_model *m, const int32_t *tokens, const int32_t *targets, int B, int T, double *loss_sum,
                     int64_t *n_valid);
/* Backward of the last forward: ADDS d(grad_scale * loss_sum)/d(params) into m->grads (use
 * grad_scale = 1 / n_valid for the mean loss; several forward/backward pairs accumulate). */
int rl_model_backward(rl_model *m, float grad_scale);
void rl_model_zero_grad(rl_model *m);
/* One AdamW step over every tensor (weight decay `wd` on tensors with decay = 1), step count
 * m->adam_t + 1 (then incremented). */
void rl_model_adamw(rl_model *m, float lr, float beta1, float beta2, float eps, float wd);

/* ---- inference ----------------------------------------------------------------------------- */

/* Switches the attention row softmax of a created model (m->cfg.attn_softmax), e.g. to evaluate a
 * checkpoint trained with plain softmax with adaptive temperature ("adaptive at inference", the
 * paper's max-retrieval setting). Inference and decoding follow at once (their workspace does not
 * depend on the kind; a KV cache stays valid: it holds keys and values only). Training activations
 * allocated for another kind must be reallocated (rl_model_alloc_acts); the forward says so. */
int rl_model_set_attn_softmax(rl_model *m, rl_attn_softmax kind);

/* Hooks for analysis. Every field is optional (NULL / 0 = off); per-layer arrays have n_layers
 * entries, each NULL for layers not concerned. */
typedef struct {
    /* Capture, after projection (and bias), BEFORE chunk masks and rotation: */
    float *const *q;                  /* [L] -> [n][H][hd] */
    float *const *k;                  /* [L] -> [n][KV][hd] */
    float *const *v;                  /* [L] -> [n][KV][hd] */
    /* Attention probabilities, materialised only for layers with probs_layers[l] != 0 (those
     * layers use the row kernel: O(n) extra memory per thread). probs_fn is called once per
     * (head, query row) with p[0 .. row] (zeros at invisible keys; softmax(beta z) under an
     * adaptive attn_softmax: what the output averages with), possibly from several
     * threads at once for different (head, row): write to disjoint places. */
    const uint8_t *probs_layers;      /* [L] */
    void (*probs_fn)(void *ctx, int layer, int head, int row, const float *p, int n);
    void *probs_ctx;
    /* Ablations: */
    const double *const *freq;        /* [L] -> [hd/2] rad/token: replaces the layer's frequency
                                         table (chunk numbering and pair layout of its spec; chunks
                                         outside the spec's rotated width must stay 0) */
    const uint8_t *const *qk_keep;    /* [L] -> [H][hd/2]: 0 zeroes chunk c of query head h (and
                                         of kv head g when all its query heads zero it; the logits
                                         are the same either way) before rotation */
} rl_infer_hooks;

/* Full-sequence inference forward of ONE sequence of n tokens at positions 0 .. n-1, with the
 * tiled attention (memory linear in n; logits computed in chunks of rows, never [n][V]).
 * targets: [n] or NULL (e.g. tokens shifted by one, last -1); losses: [n] per-position loss in
 * nats (0 for targets < 0), or NULL; logits: [n][V] or NULL (after final soft-capping).
 * hooks: NULL or as above. Works for every architecture. The model keeps the workspace (and
 * any longer rotation tables) for the next call: one call at a time per model. */
int rl_model_infer(rl_model *m, const int32_t *tokens, const int32_t *targets, int n, float *losses, float *logits,
                   const rl_infer_hooks *hooks);
/* The bytes rl_model_infer allocates for n tokens (its whole workspace; it is kept in the model
 * and reused). About n * (3 D + QKV + H hd) * 4 bytes plus fixed-size chunks and tiles. */
size_t rl_model_infer_bytes(const rl_model_config *c, int n);

/* KV cache for incremental decoding (generation). */
typedef struct {
    int capacity;        /* positions it can hold */
    int n;               /* positions filled */
    int L, KV, hd;
    float *k, *v;        /* [L][capacity][KV][hd] (k rotated) */
    float *ws;           /* workspace for up to `chunk` new tokens */
    int chunk;
} rl_kv_cache;
int rl_kv_cache_init(rl_kv_cache *c, const rl_model *m, int capacity);
void rl_kv_cache_reset(rl_kv_cache *c); /* forget every position */
void rl_kv_cache_free(rl_kv_cache *c);
/* Appends n tokens (a prompt, or one sampled token) at positions c->n ..; logits: [V] of the
 * last of them (after final soft-capping), or NULL. Fails when the cache would overflow. */
int rl_model_decode(rl_model *m, rl_kv_cache *c, const int32_t *tokens, int n, float *logits);

#ifdef __cplusplus
}
#endif
#endif
