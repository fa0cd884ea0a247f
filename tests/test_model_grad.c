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
 * With attn_softmax "adaptive-const" the reference's attention betas are frozen at their values
 * for the unperturbed parameters (beta treated as a constant); with "adaptive" they follow the
 * perturbation (the gradient through beta). grads_out (may be NULL) receives a malloc'ed copy of
 * the model's gradient arena.
 *
 * The reference is float64, and its central differences use h = 1e-5 on O(0.3) parameters:
 * truncation error ~h^2 * f''' ~ 1e-10 and rounding ~1e-16 / h ~ 1e-11, both negligible. The model
 * runs in float32 (eps 6e-8); through two layers, attention and a 13-way softmax its gradients
 * carry errors of about 1e-6 of the gradient's scale (measured: below 5e-6 relative to the largest
 * entry in every config here). We allow |g - ref| <= 1e-4 * max|ref| + 1e-3 * |ref|: twenty times
 * the measured error, while a wrong formula (a missing term, a sign, a transposed rotation, the
 * wrong kv head) is off by O(1) of the gradient scale. The loss must agree to 1e-5 relative. */
static void check_g(const char *arch, const char *pe, tweak_fn tweak, uint64_t seed, float **grads_out) {
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
    const int adaptive = c.attn_softmax != RL_ATTN_PLAIN, freeze = c.attn_softmax == RL_ATTN_ADAPTIVE_CONST;
    const size_t nbeta = (size_t)B * c.n_layers * c.n_heads * T;
    double *beta = adaptive ? malloc(nbeta * sizeof *beta) : NULL;
    double ref = ref_loss_sum_beta(m, P, tok, tgt, B, T, beta, 0);
    if (adaptive) { /* the test must exercise beta > 1 on many rows (rows of >= 3 keys are spread here) */
        int n_sharp = 0;
        for (size_t i = 0; i < nbeta; i++) n_sharp += beta[i] > 1.05;
        cr_assert(n_sharp >= (int)nbeta / 2, "only %d of %zu attention rows have beta > 1.05", n_sharp, nbeta);
    }
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
            double lp = ref_loss_sum_beta(m, P, tok, tgt, B, T, freeze ? beta : NULL, freeze);
            P[j] = x0 - h;
            double lm = ref_loss_sum_beta(m, P, tok, tgt, B, T, freeze ? beta : NULL, freeze);
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
    if (grads_out) {
        *grads_out = malloc(m->n_params * sizeof **grads_out);
        memcpy(*grads_out, m->grads, m->n_params * sizeof **grads_out);
    }
    free(fd);
    free(checked);
    free(P);
    free(beta);
    rl_model_free(m);
}

static void check(const char *arch, const char *pe, tweak_fn tweak, uint64_t seed) {
    check_g(arch, pe, tweak, seed, NULL);
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

/* ---- adaptive-temperature attention ----------------------------------------------------------- */
static void adaptive(rl_model_config *c) { c->attn_softmax = RL_ATTN_ADAPTIVE; }
static void adaptive_const(rl_model_config *c) { c->attn_softmax = RL_ATTN_ADAPTIVE_CONST; }
static void adaptive_window(rl_model_config *c) {
    c->attn_softmax = RL_ATTN_ADAPTIVE;
    c->sliding_window = 4;
    memset(c->sliding, 1, sizeof c->sliding);
}

/* Both beta modes on the same model and data: each matches its own finite differences, and the
 * two gradients differ (the entropy term is there) by far more than the tolerance. */
Test(model_grad, adaptive_through_and_constant_beta) {
    float *gt, *gc;
    check_g("gemma", "rope:theta=100", adaptive, 41, &gt);
    check_g("gemma", "rope:theta=100", adaptive_const, 41, &gc);
    rl_model_config c;
    tiny(&c, "gemma");
    double rel = rt_max_rel_diff(gt, gc, rl_model_n_params(&c));
    cr_assert(rel > 0.01, "through-beta and constant-beta gradients differ by %g of the scale only", rel);
    free(gt);
    free(gc);
}
Test(model_grad, adaptive_sliding_window_llama) { check("llama", "prope:p=0.5,theta=100", adaptive_window, 42); }
