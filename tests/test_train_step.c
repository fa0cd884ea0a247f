/* train/step: one optimizer step: mean-loss gradient, accumulation == a bigger batch, clipping,
 * decoupled weight decay only where the table says, NaN stop. */
#include "helpers.h"
#include "model_ref.h"
#include "ropelab/train.h"
#include "ropelab/util.h"
#include "train_helpers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define T 8
#define NW 4

/* V 32, T 8, weights with spread 0.3 (norm gains away from their neutral value too), training
 * state and activations for batches of B windows. */
static rl_model *tiny(int B) {
    rl_model *m = tt_tiny_model(32, T, 5, 0.3);
    cr_assert_eq(rl_model_alloc_train(m), 0, "%s", rl_error());
    cr_assert_eq(rl_model_alloc_acts(m, B, T), 0, "%s", rl_error());
    return m;
}

static void windows(int32_t *w) { /* [NW][T+1] */
    rl_rng r;
    rl_rng_seed(&r, 77);
    for (int i = 0; i < NW * (T + 1); i++) w[i] = (int32_t)rl_rng_below(&r, 32);
}

static rl_train_config cfg(double clip, double lr, double wd) {
    rl_train_config c;
    rl_train_config_default(&c);
    c.steps = 10;
    c.warmup = 0;
    c.lr = lr;
    c.min_lr = 0;
    c.clip = clip;
    c.weight_decay = wd;
    return c;
}

static double gmax(const rl_model *m) {
    double g = 0;
    for (size_t i = 0; i < m->n_params; i++) g = fmax(g, fabs(m->grads[i]));
    return g;
}

/* The step's gradient is the gradient of the MEAN loss over all targets: central differences of
 * the float64 reference model's loss / (NW T). h = 1e-3 on weights of size ~0.3: the truncation
 * error (h^2 f''') is ~1e-7 of the gradient scale; the float32 gradient itself is good to ~1e-6. */
Test(train_step, gradient_of_the_mean_loss) {
    rl_model *m = tiny(NW);
    int32_t w[NW * (T + 1)], tok[NW * T], tgt[NW * T];
    windows(w);
    for (int b = 0; b < NW; b++)
        for (int t = 0; t < T; t++) tok[b * T + t] = w[b * (T + 1) + t], tgt[b * T + t] = w[b * (T + 1) + t + 1];
    double *P = ref_params_from_model(m);
    rl_train_config c = cfg(0, 1e-3, 0);
    rl_step_stats st;
    cr_assert_eq(rl_train_step(m, &c, 0, w, 1, &st), 0, "%s", rl_error());
    double ref_loss = ref_loss_sum(m, P, tok, tgt, NW, T) / (NW * T);
    cr_assert(fabs(st.loss - ref_loss) < 1e-5 * ref_loss, "loss %.9g vs reference %.9g", st.loss, ref_loss);
    double scale = gmax(m);
    rl_rng r;
    rl_rng_seed(&r, 3);
    for (int k = 0; k < 40; k++) {
        size_t i = (size_t)rl_rng_below(&r, m->n_params);
        double p0 = P[i], h = 1e-3;
        P[i] = p0 + h;
        double lp = ref_loss_sum(m, P, tok, tgt, NW, T) / (NW * T);
        P[i] = p0 - h;
        double lm = ref_loss_sum(m, P, tok, tgt, NW, T) / (NW * T);
        P[i] = p0;
        double fd = (lp - lm) / (2 * h);
        cr_assert(fabs(m->grads[i] - fd) <= 1e-4 * scale + 1e-3 * fabs(fd), "param %zu: grad %g, finite difference %g", i,
                  m->grads[i], fd);
    }
    free(P);
    rl_model_free(m);
}

/* NW micro-batches of 1 window == one batch of NW windows: the same sums grouped differently, so
 * float32 reassociation only (measured ~1e-7 of the largest entry; tolerance 1e-5). */
Test(train_step, accumulation_equals_a_bigger_batch) {
    rl_model *a = tiny(NW), *b = tiny(1);
    int32_t w[NW * (T + 1)];
    windows(w);
    rl_train_config c = cfg(0, 1e-3, 0.1);
    rl_step_stats sa, sb;
    cr_assert_eq(rl_train_step(a, &c, 0, w, 1, &sa), 0, "%s", rl_error());
    cr_assert_eq(rl_train_step(b, &c, 0, w, NW, &sb), 0, "%s", rl_error());
    cr_assert(fabs(sa.loss - sb.loss) < 1e-6 * sa.loss, "loss %.9g vs %.9g", sa.loss, sb.loss);
    cr_assert(fabs(sa.grad_norm - sb.grad_norm) < 1e-5 * sa.grad_norm, "norm %.9g vs %.9g", sa.grad_norm, sb.grad_norm);
    double g = gmax(a);
    for (size_t i = 0; i < a->n_params; i++)
        cr_assert(fabs(a->grads[i] - b->grads[i]) <= 1e-5 * g, "grad %zu: %g vs %g", i, a->grads[i], b->grads[i]);
    cr_assert_eq(a->adam_t, 1);
    cr_assert_eq(b->adam_t, 1);
    rl_model_free(a);
    rl_model_free(b);
}

/* Clipping as torch.nn.utils.clip_grad_norm_: gradients scaled by clip / (norm + 1e-6) when that is
 * below 1 (float64 reference; float32 scaling is exact to 1 ulp), untouched otherwise; the first
 * AdamW moment then holds (1 - beta1) x the clipped gradient. */
Test(train_step, clipping_by_global_norm) {
    rl_model *ref = tiny(NW), *cl = tiny(NW), *un = tiny(NW);
    int32_t w[NW * (T + 1)];
    windows(w);
    rl_train_config c0 = cfg(0, 1e-3, 0);
    rl_step_stats s0, s1, s2;
    cr_assert_eq(rl_train_step(ref, &c0, 0, w, 1, &s0), 0);
    cr_assert_eq(s0.clipped, 0);
    double norm = 0;
    for (size_t i = 0; i < ref->n_params; i++) norm += (double)ref->grads[i] * ref->grads[i];
    norm = sqrt(norm);
    cr_assert(fabs(s0.grad_norm - norm) < 1e-9 * norm, "norm %.12g vs %.12g", s0.grad_norm, norm);
    rl_train_config c1 = cfg(0.25 * norm, 1e-3, 0);
    cr_assert_eq(rl_train_step(cl, &c1, 0, w, 1, &s1), 0);
    cr_assert_eq(s1.clipped, 1);
    cr_assert(fabs(s1.grad_norm - norm) < 1e-9 * norm, "the reported norm is the one before clipping");
    double coef = c1.clip / (norm + 1e-6), g = gmax(ref), after = 0;
    for (size_t i = 0; i < cl->n_params; i++) {
        cr_assert(fabs(cl->grads[i] - ref->grads[i] * coef) <= 1e-6 * g, "grad %zu: %g vs %g", i, cl->grads[i],
                  ref->grads[i] * coef);
        cr_assert(fabs(cl->adam_m[i] - (1 - c1.beta1) * cl->grads[i]) <= 1e-6 * g, "moment %zu", i);
        after += (double)cl->grads[i] * cl->grads[i];
    }
    cr_assert(fabs(sqrt(after) - c1.clip) < 1e-5 * c1.clip, "clipped norm %.9g, clip %.9g", sqrt(after), c1.clip);
    rl_train_config c2 = cfg(4 * norm, 1e-3, 0);
    cr_assert_eq(rl_train_step(un, &c2, 0, w, 1, &s2), 0);
    cr_assert_eq(s2.clipped, 0);
    cr_assert(memcmp(un->grads, ref->grads, un->n_params * sizeof(float)) == 0, "a norm below clip is left alone");
    rl_model_free(ref);
    rl_model_free(cl);
    rl_model_free(un);
}

/* One step's parameters against the AdamW formula in float64 (t = 1: m_hat = g, v_hat = g^2):
 * p1 = p0 (1 - lr wd [tensor decays]) - lr g / (|g| + eps). Decay is on matrices and the embedding
 * only, never on norm gains. lr wd = 5e-3 moves a 0.3-sized weight by 1.5e-3, far above the 1e-6
 * tolerance (float32 rounding of values <= ~1 over a few operations is < 1e-7). */
Test(train_step, decoupled_weight_decay_not_on_norms) {
    rl_model *m = tiny(NW);
    int32_t w[NW * (T + 1)];
    windows(w);
    float *p0 = malloc(m->n_params * sizeof *p0);
    memcpy(p0, m->params, m->n_params * sizeof *p0);
    rl_train_config c = cfg(0, 1e-2, 0.5);
    rl_step_stats st;
    cr_assert_eq(rl_train_step(m, &c, 3, w, 1, &st), 0);
    cr_assert_float_eq(st.lr, 1e-2 * (0.5 * (1 + cos(M_PI * 3 / 10))), 1e-8, "cosine schedule at step 3 of 10");
    int n_decay = 0, n_plain = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        const rl_param_info *e = &m->table[k];
        int is_norm = strstr(e->name, "norm") != NULL;
        cr_assert_eq(e->decay, !is_norm, "%s: decay %d", e->name, e->decay);
        if (e->decay) n_decay++;
        else n_plain++;
        for (size_t j = 0; j < e->numel; j++) {
            size_t i = e->offset + j;
            double g = m->grads[i], lr = st.lr;
            double want = p0[i] * (1 - lr * (e->decay ? c.weight_decay : 0)) - lr * g / (fabs(g) + c.eps);
            cr_assert(fabs(m->params[i] - want) <= 1e-6, "%s[%zu]: %.9g vs %.9g", e->name, j, m->params[i], want);
        }
    }
    cr_assert(n_decay > 0 && n_plain > 0);
    free(p0);
    rl_model_free(m);
}

/* A NaN weight: the step fails naming the step and the NaN, and changes nothing. */
Test(train_step, nan_stops_without_update) {
    rl_model *m = tiny(NW);
    int32_t w[NW * (T + 1)];
    windows(w);
    m->params[m->table[3].offset] = NAN;
    float *p0 = malloc(m->n_params * sizeof *p0);
    memcpy(p0, m->params, m->n_params * sizeof *p0);
    rl_train_config c = cfg(1, 1e-3, 0.1);
    rl_step_stats st;
    cr_assert_neq(rl_train_step(m, &c, 6, w, 1, &st), 0);
    cr_assert(strstr(rl_error(), "step 7: the loss is NaN"), "%s", rl_error());
    cr_assert(memcmp(p0, m->params, m->n_params * sizeof *p0) == 0, "parameters changed");
    cr_assert_eq(m->adam_t, 0, "no AdamW step counted");
    free(p0);
    rl_model_free(m);
}
