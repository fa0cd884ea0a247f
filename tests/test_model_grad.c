/* model: the whole training forward/backward against the float64 reference (tests/model_ref.c):
 * the loss, and every gradient tensor by central finite differences of the float64 loss, for every
 * encoding (both pair layouts), GQA/MQA/MHA, biases, sliding windows and untied heads. */
#include "helpers.h"
#include "model_ref.h"
#include "ropelab/model.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A tiny config: 2 layers, d_model 16, 4 query heads of dim 8 (so 4 frequency chunks per head),
 * vocabulary 13, MLP 24, windows of 7 tokens. theta = 100 makes every chunk turn visibly within 7
 * positions, so a wrong rotation cannot hide behind near-zero angles. */
static void tiny(rl_model_config *c, const char *arch) {
    cr_assert_eq(rl_model_config_preset(c, arch), 0, "%s", rl_error());
    c->vocab_size = 13;
    c->d_model = 16;
    c->n_layers = 2;
    c->n_heads = 4;
    c->n_kv_heads = 2;
    c->head_dim = 8;
    c->d_ff = 24;
    c->max_seq = 8;
    c->bos_id = c->eos_id = -1;
}

typedef void (*tweak_fn)(rl_model_config *c);

/* Checks loss and gradients of one config on B=2 windows of T=7 tokens (one target ignored).
 *
 * The reference is float64, and its central differences use h = 1e-5 on O(0.3) parameters:
 * truncation error ~h^2 * f''' ~ 1e-10 and rounding ~1e-16 / h ~ 1e-11, both negligible. The model
 * runs in float32 (eps 6e-8); through two layers, attention and a 13-way softmax its gradients
 * carry errors of about 1e-6 of the gradient's scale (measured: below 5e-6 relative to the largest
 * entry in every config here). We allow |g - ref| <= 1e-4 * max|ref| + 1e-3 * |ref|: twenty times
 * the measured error, while a wrong formula (a missing term, a sign, a transposed rotation, the
 * wrong kv head) is off by O(1) of the gradient scale. The loss must agree to 1e-5 relative. */
static void check(const char *arch, const char *pe, tweak_fn tweak, uint64_t seed) {
    rl_model_config c;
    tiny(&c, arch);
    cr_assert_eq(rl_model_config_set_pe(&c, pe), 0, "%s", rl_error());
    if (tweak) tweak(&c);
    rl_model *m = rl_model_new(&c, 1);
    cr_assert(m, "%s", rl_error());
    ref_randomize(m, seed, 0.3);
    const int B = 2, T = 7, N = B * T;
    cr_assert_eq(rl_model_alloc_train(m), 0, "%s", rl_error());
    cr_assert_eq(rl_model_alloc_acts(m, B, T), 0, "%s", rl_error());
    rl_rng r;
    rl_rng_seed(&r, seed + 1);
    int32_t tok[14], tgt[14];
    for (int i = 0; i < N; i++) {
        tok[i] = (int32_t)rl_rng_below(&r, (uint64_t)c.vocab_size);
        tgt[i] = (int32_t)rl_rng_below(&r, (uint64_t)c.vocab_size);
    }
    tgt[5] = -1;
    double loss;
    int64_t nv;
    cr_assert_eq(rl_model_forward(m, tok, tgt, B, T, &loss, &nv), 0, "%s", rl_error());
    cr_assert_eq(nv, N - 1);
    double *P = ref_params_from_model(m);
    double ref = ref_loss_sum(m, P, tok, tgt, B, T);
    cr_assert(fabs(loss - ref) <= 1e-5 * fabs(ref), "%s %s: loss %.9g, reference %.9g", arch, pe, loss, ref);

    rl_model_zero_grad(m);
    cr_assert_eq(rl_model_backward(m, 1.0f), 0, "%s", rl_error());

    /* every entry of small tensors, 24 random entries of the others */
    const double h = 1e-5;
    double gmax = 0;
    int total = 0;
    double *fd = malloc(m->n_params * sizeof *fd);
    char *checked = calloc(m->n_params, 1);
    for (int t = 0; t < m->n_tensors; t++) {
        const rl_param_info *e = &m->table[t];
        int n = e->numel <= 32 ? (int)e->numel : 24;
        for (int s = 0; s < n; s++) {
            size_t j = e->offset + (e->numel <= 32 ? (size_t)s : rl_rng_below(&r, e->numel));
            double x0 = P[j];
            P[j] = x0 + h;
            double lp = ref_loss_sum(m, P, tok, tgt, B, T);
            P[j] = x0 - h;
            double lm = ref_loss_sum(m, P, tok, tgt, B, T);
            P[j] = x0;
            fd[j] = (lp - lm) / (2 * h);
            checked[j] = 1;
            gmax = fmax(gmax, fabs(fd[j]));
            total++;
        }
    }
    cr_assert(gmax > 1e-3, "%s %s: the gradient is degenerate (max %g)", arch, pe, gmax);
    for (int t = 0; t < m->n_tensors; t++) {
        const rl_param_info *e = &m->table[t];
        for (size_t j = e->offset; j < e->offset + e->numel; j++) {
            if (!checked[j]) continue;
            double g = m->grads[j], err = fabs(g - fd[j]);
            cr_assert(err <= 1e-4 * gmax + 1e-3 * fabs(fd[j]),
                      "%s %s: d loss / d %s[%zu] = %.9g, finite differences %.9g (scale %.3g)", arch, pe, e->name,
                      j - e->offset, g, fd[j], gmax);
        }
    }
    cr_assert(total > 300);
    if (getenv("RT_DEBUG")) {
        double worst = 0;
        for (size_t j = 0; j < m->n_params; j++)
            if (checked[j]) worst = fmax(worst, fabs(m->grads[j] - fd[j]) / gmax);
        fprintf(stderr, "%s %s: worst error / scale %.3g, loss err %.3g\n", arch, pe, worst, fabs(loss - ref) / fabs(ref));
    }
    free(fd);
    free(checked);
    free(P);
    rl_model_free(m);
}

/* ---- encodings (Gemma layout, GQA 4 query heads on 2 kv heads) ------------------------------ */
Test(model_grad, nope) { check("gemma", "nope", NULL, 11); }
Test(model_grad, rope_half) { check("gemma", "rope:theta=100", NULL, 12); }
Test(model_grad, rope_interleaved) { check("gemma", "rope:theta=100,layout=interleaved", NULL, 13); }
Test(model_grad, prope_half) { check("gemma", "prope:p=0.5,theta=100", NULL, 14); }
Test(model_grad, prope_interleaved) { check("gemma", "prope:p=0.5,theta=100,layout=interleaved", NULL, 15); }
Test(model_grad, prope_rev_half) { check("gemma", "prope-rev:p=0.5,theta=100", NULL, 16); }
Test(model_grad, prope_rev_interleaved) { check("gemma", "prope-rev:p=0.5,theta=100,layout=interleaved", NULL, 17); }
Test(model_grad, partial_half) { check("gemma", "partial:p=0.5,theta=100", NULL, 18); }
Test(model_grad, partial_interleaved) { check("gemma", "partial:p=0.5,theta=100,layout=interleaved", NULL, 19); }
Test(model_grad, per_layer_rope_then_nope) { check("gemma", "rope:theta=100;nope", NULL, 20); }
/* YaRN's attention factor scales cos and sin: the backward must apply a * R^T, not R^-1 */
Test(model_grad, yarn_attention_factor) { check("gemma", "rope:theta=100+yarn:factor=4,original=4", NULL, 21); }

/* ---- layouts -------------------------------------------------------------------------------- */
static void mqa(rl_model_config *c) { c->n_kv_heads = 1; }
static void mha_bias_window(rl_model_config *c) {
    c->n_kv_heads = 4;
    c->qkv_bias = c->o_bias = c->mlp_bias = 1;
    c->sliding_window = 3;
    memset(c->sliding, 1, sizeof c->sliding);
}
static void head_dim_12(rl_model_config *c) {
    c->head_dim = 12; /* head_dim != d_model / n_heads */
    c->n_kv_heads = 1;
}
Test(model_grad, llama_swiglu_untied_mqa) { check("llama", "rope:theta=100", mqa, 31); }
Test(model_grad, mha_biases_sliding_window) { check("qwen2", "rope:theta=100", mha_bias_window, 32); }
Test(model_grad, head_dim_not_d_over_heads) { check("gemma", "prope:p=0.5,theta=100", head_dim_12, 33); }
