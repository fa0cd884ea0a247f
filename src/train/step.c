/* One optimizer step: accumulate micro-batch gradients, check they are finite, clip, AdamW. */
#include "ropelab/train.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* A number for a message: "NaN" and "inf" spelled the same everywhere (printf gives "-nan"). */
static const char *num(char *buf, size_t n, double x) {
    if (isnan(x)) snprintf(buf, n, "NaN");
    else if (isinf(x)) snprintf(buf, n, "%sinf", x < 0 ? "-" : "");
    else snprintf(buf, n, "%.6g", x);
    return buf;
}

int rl_train_step(rl_model *m, const rl_train_config *c, int64_t step, const int32_t *windows, int n_micro,
                  rl_step_stats *st) {
    const int B = m->acts.B, T = m->acts.T;
    if (!m->grads || !m->acts.mem) return rl_fail("train step: call rl_model_alloc_train and rl_model_alloc_acts first");
    if (n_micro < 1) return rl_fail("train step: %d micro-batches", n_micro);
    const size_t N = (size_t)B * (size_t)T;
    int32_t *tok = rl_malloc(2 * N * sizeof *tok, "micro-batch tokens");
    if (!tok) return -1;
    int32_t *tgt = tok + N;
    /* every target is valid (the sampler's windows hold T + 1 real tokens), so the mean over the
     * step is the sum divided by n_micro * B * T, known before the first backward */
    const double n_targets = (double)n_micro * (double)N;
    const float scale = (float)(1.0 / n_targets);
    double loss_sum = 0;
    rl_model_zero_grad(m);
    for (int k = 0; k < n_micro; k++) {
        const int32_t *w = windows + (size_t)k * (size_t)B * (size_t)(T + 1);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                tok[(size_t)b * T + t] = w[(size_t)b * (T + 1) + t];
                tgt[(size_t)b * T + t] = w[(size_t)b * (T + 1) + t + 1];
            }
        double ls;
        int64_t nv;
        if (rl_model_forward(m, tok, tgt, B, T, &ls, &nv) != 0 || rl_model_backward(m, scale) != 0) {
            free(tok);
            return rl_fail_prefix("step %lld", (long long)step + 1);
        }
        loss_sum += ls;
    }
    free(tok);
    st->loss = loss_sum / n_targets;
    st->grad_norm = rl_grad_norm(m->grads, m->n_params);
    st->lr = rl_lr_at(step, c->warmup, c->steps, (float)c->lr, (float)c->min_lr);
    st->clipped = 0;
    if (!isfinite(st->loss) || !isfinite(st->grad_norm)) {
        char a[32], b[32];
        double bad = isfinite(st->loss) ? st->grad_norm : st->loss;
        return rl_fail("step %lld: the %s is %s (loss %s, gradient norm %s, lr %g): the run diverged; the parameters "
                       "were not updated (a lower lr, a longer warmup or clip > 0 may help)",
                       (long long)step + 1, isfinite(st->loss) ? "gradient norm" : "loss", isnan(bad) ? "NaN" : "infinite",
                       num(a, sizeof a, st->loss), num(b, sizeof b, st->grad_norm), (double)st->lr);
    }
    if (c->clip > 0) {
        /* torch.nn.utils.clip_grad_norm_: coef = max_norm / (total_norm + 1e-6), applied when < 1 */
        double coef = c->clip / (st->grad_norm + 1e-6);
        if (coef < 1) {
            rl_scale(m->grads, m->n_params, (float)coef);
            st->clipped = 1;
        }
    }
    rl_model_adamw(m, st->lr, (float)c->beta1, (float)c->beta2, (float)c->eps, (float)c->weight_decay);
    return 0;
}
