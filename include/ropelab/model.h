/* ropelab/model.h: the transformer model part.
 *
 * Section 1 (this file, so far): the ops. One forward and one backward function per op, on plain
 * contiguous float32 arrays; every pointer's shape is in the comment beside it.
 * Conventions shared by every op:
 *   - N is the number of rows (tokens: batch * time), row-major, innermost dimension last.
 *   - Backward functions ADD into their gradient outputs (d-inputs and d-weights), as in llm.c,
 *     so that residual branches and gradient accumulation need no extra buffers. Zero them first.
 *   - Gradient outputs may be NULL when not needed (e.g. no gradient for frozen weights).
 *   - Ops thread internally with OpenMP (and OpenBLAS for matrix products).
 */
#ifndef ROPELAB_MODEL_H
#define ROPELAB_MODEL_H

#include <stddef.h>
#include <stdint.h>

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

#ifdef __cplusplus
}
#endif
#endif
