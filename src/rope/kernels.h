/* Internal: the per-token rotation kernels behind rl_rope_forward / rl_rope_backward.
 * Each variant (portable, AVX2, AVX-512) implements the same contract; apply.c picks one at run
 * time from the CPU's features (or ROPELAB_KERNEL). */
#ifndef ROPELAB_ROPE_KERNELS_H
#define ROPELAB_ROPE_KERNELS_H

#include "ropelab/rope.h"

/* Rotates the active chunks of every head of one token, in place.
 *   x:       [n_heads][head_dim] floats of one token
 *   c, s:    [n_active] cos and sin (times the attention factor) of chunks lo .. lo+n_active-1
 *   lo:      first active chunk
 *   half:    R/2, the partner offset in the half layout (dims k and k+half)
 *   layout:  RL_LAYOUT_HALF or RL_LAYOUT_INTERLEAVED (dims 2k and 2k+1)
 *   sgn:     +1 forward (x0' = x0 c - x1 s, x1' = x0 s + x1 c), -1 backward (the transpose)
 */
typedef void (*rl_rope_token_fn)(float *x, int n_heads, int head_dim, const float *c, const float *s,
                                 int n_active, int lo, int half, rl_layout layout, float sgn);

void rl_rope_token_portable(float *x, int n_heads, int head_dim, const float *c, const float *s, int n_active,
                            int lo, int half, rl_layout layout, float sgn);

#endif
