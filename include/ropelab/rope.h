/* ropelab/rope.h: librope, every member of the rotary positional encoding family.
 *
 * Vocabulary (see PAPER_NOTES.md, "RoPE as the paper writes it"):
 *   head_dim d (even) is split into d/2 two-dimensional chunks. Chunk k rotates by pos * freq[k]
 *   radians. Chunk 0 is the highest frequency. A chunk with frequency 0 is not rotated.
 *
 * Encodings (the base), written as spec strings:
 *   nope                              no rotation at all
 *   rope:theta=T                      freq[k] = T^(-2k/d), k < d/2
 *   prope:p=P,theta=T                 p-RoPE (the paper): m = floor(P*d/2) highest frequencies at
 *                                     exactly T^(-2k/d) (k < m), the other d/2-m chunks at 0.
 *                                     Hugging Face: rope_type "proportional", partial_rotary_factor P.
 *   prope-rev:p=P,theta=T             reversed p-RoPE: keeps the m LOWEST frequencies
 *                                     (k >= d/2-m at T^(-2k/d)), the highest at 0.
 *   partial:p=P,theta=T               GPT-NeoX / GPT-J partial rotary: r = floor(P*d) rotated dims
 *                                     (must be even) with freq[k] = T^(-2k/r), k < r/2; the other
 *                                     dims pass through.
 * Every base also takes layout=half|interleaved (default half):
 *   half         rotate_half / GPT-NeoX / Hugging Face: chunk k pairs dims (k, k + R/2), where R is
 *                the rotated width (d, or r for partial); for partial, chunks k >= r/2 name the
 *                (never rotated) pass-through dims as pairs (r + j, r + j + (d-r)/2), j = k - r/2.
 *   interleaved  RoFormer / GPT-J / Meta Llama / GGUF llama: chunk k pairs dims (2k, 2k+1).
 *
 * Hugging Face scaling types go on top of any base, after a '+':
 *   +linear:factor=F                                   position interpolation: freq /= F
 *   +dynamic:factor=F,original=L                       NTK-aware: base grows once the sequence is
 *                                                      longer than L (depends on the sequence length)
 *   +yarn:factor=F,original=L[,beta_fast=32,beta_slow=1,attention_factor=A,truncate=1,
 *                              mscale=M,mscale_all_dim=N]
 *   +llama3:factor=F,original=L[,low_freq_factor=1,high_freq_factor=4]
 * The formulas are Hugging Face transformers' (modeling_rope_utils.py), evaluated in float64 (see
 * docs/rope.md for where that differs from HF's float32 steps). Scaling acts on the rotated chunks
 * only; chunks at frequency 0 stay at 0. YaRN's attention factor multiplies cos and sin (so both q
 * and k), as in Hugging Face. For `dynamic`, `original` is HF's max_position_embeddings.
 *
 * Example: "prope:p=0.75,theta=10000+yarn:factor=4,original=4096".
 */
#ifndef ROPELAB_ROPE_H
#define ROPELAB_ROPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { RL_PE_NOPE, RL_PE_ROPE, RL_PE_PROPE, RL_PE_PROPE_REV, RL_PE_PARTIAL } rl_pe_kind;
typedef enum { RL_SCALE_NONE, RL_SCALE_LINEAR, RL_SCALE_DYNAMIC, RL_SCALE_YARN, RL_SCALE_LLAMA3 } rl_scale_kind;
typedef enum { RL_LAYOUT_HALF, RL_LAYOUT_INTERLEAVED } rl_layout;

/* One encoding, as parsed from a spec string. Plain data: copy it freely. */
typedef struct {
    rl_pe_kind kind;
    double theta;  /* base wavelength (default 10000) */
    double p;      /* fraction for prope / prope-rev / partial, in [0, 1] */
    rl_layout layout;
    /* scaling (kind RL_SCALE_NONE when absent) */
    rl_scale_kind scale;
    double factor;            /* linear, dynamic, yarn, llama3 */
    int64_t original;         /* original_max_position_embeddings: dynamic, yarn, llama3 */
    double beta_fast;         /* yarn, default 32 */
    double beta_slow;         /* yarn, default 1 */
    double attention_factor;  /* yarn; 0 = Hugging Face's default (see mscale) */
    int truncate;             /* yarn: floor/ceil the correction range (default 1) */
    double low_freq_factor;   /* llama3, default 1 */
    double high_freq_factor;  /* llama3, default 4 */
    double mscale;            /* yarn (DeepSeek): with mscale_all_dim, the default attention factor is
                                 mscale(factor, mscale) / mscale(factor, mscale_all_dim), where
                                 mscale(f, m) = 0.1*m*ln(f)+1 (1 if f <= 1). 0 = unset: 0.1*ln(factor)+1 */
    double mscale_all_dim;    /* yarn (DeepSeek), 0 = unset */
} rl_rope_spec;

/* Fills *spec with plain RoPE, theta 10000, half layout, no scaling. */
void rl_rope_spec_default(rl_rope_spec *spec);
/* Parses a spec string. On error returns -1 with a message naming the bad field (rl_error()). */
int rl_rope_parse(const char *text, rl_rope_spec *spec);
/* Writes the canonical spec string (every parameter explicit; parses back to the same spec).
 * Returns the length it needed (like snprintf). */
int rl_rope_format(const rl_rope_spec *spec, char *buf, size_t n);
/* YaRN's attention factor for this spec: attention_factor if set, else Hugging Face's default
 * (mscale(factor, mscale) / mscale(factor, mscale_all_dim) when both are set, else 0.1*ln(factor)+1;
 * 1 for factor <= 1). 1 for every other scaling type. */
double rl_rope_yarn_attention_factor(const rl_rope_spec *spec);
/* Name of a kind / scaling / layout as used in spec strings. */
const char *rl_pe_kind_name(rl_pe_kind k);
const char *rl_scale_name(rl_scale_kind s);
const char *rl_layout_name(rl_layout l);

/* The frequency table of one spec at one head dim. */
typedef struct {
    int head_dim;          /* d */
    int n_chunks;          /* d / 2 */
    int rot_dims;          /* R: the rotated width (d, or r for partial); the half layout pairs
                              chunk k < R/2 as dims (k, k + R/2) */
    int chunk_lo, chunk_hi;/* the chunks the kernel touches, [lo, hi): those with non-zero frequency,
                              widened to every chunk of the rotated width when attn_factor != 1.
                              All other chunks are left exactly as they are. */
    rl_layout layout;
    double attn_factor;    /* multiplies cos and sin of the rotated chunks (1 except yarn) */
    double *freq;          /* [n_chunks] rad/token; chunk 0 = highest */
} rl_rope_freqs;

/* Computes the table. seq_len is the sequence length (used by `dynamic` only; pass 0 otherwise).
 * Fails for an odd or non-positive head_dim, or a p that leaves an odd rotated width for partial. */
int rl_rope_freqs_init(rl_rope_freqs *f, const rl_rope_spec *spec, int head_dim, int64_t seq_len);
void rl_rope_freqs_free(rl_rope_freqs *f);
/* The two dims (within a head) that chunk k pairs, given the layout: x[i0] is the "real" part. */
void rl_rope_chunk_dims(const rl_rope_freqs *f, int k, int *i0, int *i1);

/* A ready-to-apply rotation: the frequency table plus a float32 cos/sin table for positions
 * [0, max_pos). Each value is computed in float64 and rounded once to float32: position p is split
 * as p0 + j with p0 a multiple of RL_ROPE_POS_BLOCK (64); cos/sin(p0*g) come from glibc's sincos on
 * the exactly formed angle (p0*g as hi + lo with an fma, reduced mod 2*pi exactly by glibc), and are
 * rotated by the precomputed cos/sin(j*g) (`steps`) with one complex product in float64. The float64
 * result is within ~1e-15 of the exact cos/sin(p*g) for the float64 frequency g, so the float32
 * value is within 2^-25 (+1e-15) of it: half a float32 ulp at most. Positions outside [0, max_pos)
 * (any int32; negative ones rotate backwards) are computed on the fly by the same function, so
 * they give bit-identical results to a table row: positions far beyond the table are exactly as
 * accurate, only slower (one sincos per chunk per 64 consecutive positions, plus the product). */
#define RL_ROPE_POS_BLOCK 64
typedef struct {
    rl_rope_freqs f;
    int max_pos;
    int n_active;   /* chunk_hi - chunk_lo */
    double *steps;  /* [RL_ROPE_POS_BLOCK][2][n_active]: cos then sin of j*freq[chunk_lo+i], j < 64 */
    float *cs;      /* [max_pos][2][n_active]: for each position, n_active cos then n_active sin (times
                       attn_factor) of chunks chunk_lo .. chunk_hi-1. One row (2*n_active floats) is read
                       once per token and reused for every head, in both layouts. */
} rl_rope;

/* Builds the table for positions [0, max_pos) (max_pos 0: no table, everything on the fly; it costs
 * max_pos * 2 * n_active * 4 bytes). seq_len as for rl_rope_freqs_init. */
int rl_rope_init(rl_rope *r, const rl_rope_spec *spec, int head_dim, int max_pos, int64_t seq_len);
void rl_rope_free(rl_rope *r);

/* Forward: rotates x in place. x: [n_tokens][n_heads][head_dim] float32, contiguous.
 * pos: [n_tokens] positions (any int32; the table covers [0, max_pos)); NULL means pos[t] = t.
 * Threaded with OpenMP over tokens; vectorised (AVX-512 / AVX2 / portable, chosen at run time).
 * With attn_factor a, chunk k maps (x0, x1) to a*(x0 cos - x1 sin, x0 sin + x1 cos), angle pos*freq[k]. */
void rl_rope_forward(const rl_rope *r, float *x, int n_tokens, int n_heads, const int32_t *pos);
/* Backward: applies the transposed rotation R^T in place (dL/dx from dL/d(Rx)).
 * rl_rope_backward(rl_rope_forward(x)) == x up to rounding when attn_factor == 1. */
void rl_rope_backward(const rl_rope *r, float *dx, int n_tokens, int n_heads, const int32_t *pos);

/* Which kernel rl_rope_forward uses on this CPU: "avx512", "avx2" or "portable" (the best the CPU
 * supports, chosen with __builtin_cpu_supports on first use). The environment variable
 * ROPELAB_KERNEL=portable|avx2|avx512 forces one; an unknown or unsupported name prints one warning
 * on stderr and keeps the automatic choice. */
const char *rl_rope_kernel_name(void);
/* 1 when this CPU can run kernel `name` ("portable" always can), 0 otherwise or when unknown. */
int rl_rope_kernel_supported(const char *name);
/* Forces kernel `name` for the rest of the process (tests and benchmarks use it to run each one);
 * NULL goes back to the automatic choice. Fails for an unknown or unsupported name. Do not call it
 * while another thread is inside rl_rope_forward/backward. */
int rl_rope_set_kernel(const char *name);

#ifdef __cplusplus
}
#endif
#endif
