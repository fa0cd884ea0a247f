/* Internal: the per-token rotation kernels behind rl_rope_forward / rl_rope_backward.
 * Each variant (portable, AVX2+FMA, AVX-512F) implements the same contract; apply.c picks one at run
 * time from the CPU's features (or ROPELAB_KERNEL / rl_rope_set_kernel). */
#ifndef ROPELAB_ROPE_KERNELS_H
#define ROPELAB_ROPE_KERNELS_H

#include "ropelab/rope.h"

/* Rotates chunks lo .. lo+n_active-1 of every head of one token, in place. Every other dim is left
 * exactly as it is.
 *   x:       [n_heads][head_dim] floats of one token
 *   c, s:    [n_active] cos and sin (times the attention factor) of chunks lo .. lo+n_active-1
 *   lo:      first chunk to rotate
 *   half:    R/2, the partner offset in the half layout (chunk k pairs dims k and k+half)
 *   layout:  RL_LAYOUT_HALF, or RL_LAYOUT_INTERLEAVED (chunk k pairs dims 2k and 2k+1)
 *   sgn:     +1 forward  (x0' = x0 c - x1 s, x1' = x0 s + x1 c),
 *            -1 backward (the transpose: x0' = x0 c + x1 s, x1' = -x0 s + x1 c)
 * Any head_dim, lo, half and n_active are valid (no alignment or multiple-of-8 assumptions). */
typedef void (*rl_rope_token_fn)(float *x, int n_heads, int head_dim, const float *c, const float *s,
                                 int n_active, int lo, int half, rl_layout layout, float sgn);

void rl_rope_token_portable(float *x, int n_heads, int head_dim, const float *c, const float *s, int n_active,
                            int lo, int half, rl_layout layout, float sgn);
/* Compiled for x86-64 with AVX2+FMA / AVX-512F code paths; only called when the CPU has them. */
void rl_rope_token_avx2(float *x, int n_heads, int head_dim, const float *c, const float *s, int n_active,
                        int lo, int half, rl_layout layout, float sgn);
void rl_rope_token_avx512(float *x, int n_heads, int head_dim, const float *c, const float *s, int n_active,
                          int lo, int half, rl_layout layout, float sgn);

/* The interleaved kernels expand cos/sin to one value per dim in blocks of this many chunks
 * (on the stack); apply.c also computes on-the-fly cos/sin in blocks of this size. */
#define RL_ROPE_BLOCK 256

#endif
