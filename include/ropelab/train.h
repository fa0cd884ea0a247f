/* ropelab/train.h: the training part.
 *
 * Section 1 (so far): the optimizer and schedule, shared by the language-model trainer and the
 * max-retrieval experiment.
 */
#ifndef ROPELAB_TRAIN_H
#define ROPELAB_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One AdamW step with decoupled weight decay, in PyTorch's exact order of operations
 * (torch.optim.AdamW, foreach=False): p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
 * p, g, m, v: [n]; t: the 1-based step number. Pass wd = 0 for parameters without decay (norms). */
void rl_adamw_step(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
                   float eps, float wd, int64_t t);

/* Global L2 norm of a gradient buffer, summed in float64 in a fixed order (deterministic for a
 * given thread count). g: [n]. */
double rl_grad_norm(const float *g, size_t n);

/* In-place g *= s. g: [n]. */
void rl_scale(float *g, size_t n, float s);

/* Linear warm-up from 0 to lr_max over `warmup` steps, then cosine decay to lr_min at `total`.
 * step counts from 0. */
float rl_lr_at(int64_t step, int64_t warmup, int64_t total, float lr_max, float lr_min);

#ifdef __cplusplus
}
#endif
#endif
