/* Loading llama2.c checkpoints: the real stories260K model (logits against the float64
 * reference, and a next-token loss that only the right pair layout achieves), a synthetic file
 * with an unshared classifier, and the tokenizer rules (given, beside, sizes). */
#include "helpers.h"
#include "loaders_helpers.h"
#include "model_ref.h"
#include "ropelab/formats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Mean next-token loss (nats) of a model on a text (BOS first). */
static double mean_loss(rl_model *m, const rl_tokenizer *tok, const char *text) {
    rl_ids ids = {0};
    cr_assert_eq(rl_tok_encode(tok, text, strlen(text), RL_ENC_BOS, &ids), 0, "%s", rl_error());
    int n = (int)ids.n;
    int32_t *tgt = malloc((size_t)n * sizeof *tgt);
    float *loss = malloc((size_t)n * sizeof *loss);
    for (int i = 0; i < n; i++) tgt[i] = i + 1 < n ? ids.v[i + 1] : -1;
    cr_assert_eq(rl_model_infer(m, ids.v, tgt, n, loss, NULL, NULL), 0, "%s", rl_error());
    double s = 0;
    for (int i = 0; i + 1 < n; i++) s += loss[i];
    free(ids.v), free(tgt), free(loss);
    return s / (n - 1);
}

/* stories260K: a real model. On a children's story sentence its mean next-token loss is 2.0 nats
 * (measured), far below the uniform log(512) = 6.24. Reading the pairs in the half layout instead
 * of llama2.c's interleaved one gives 4.1 (measured): the threshold of 3.0 separates the two. */
Test(loaders_llama2c, stories260k) {
    RT_REQUIRE_MODELS();
    char bin[4200], tok[4200];
    snprintf(bin, sizeof bin, "%s/stories260K.bin", rt_models_dir());
    snprintf(tok, sizeof tok, "%s/tok512.bin", rt_models_dir());
    rl_loaded L;
    cr_assert_eq(rl_load_model(bin, tok, &L), 0, "%s", rl_error());
    const rl_model_config *c = &L.model->cfg;
    cr_assert_str_eq(L.format, "llama2c");
    cr_assert(c->d_model == 64 && c->n_layers == 5 && c->n_heads == 8 && c->n_kv_heads == 4 && c->head_dim == 8 &&
              c->d_ff == 172 && c->vocab_size == 512 && c->tie_embeddings);
    cr_assert(c->pe[0].layout == RL_LAYOUT_INTERLEAVED && c->pe[0].theta == 10000 && c->norm_eps == 1e-5);
    cr_assert_null(L.model->params, "float32 weights are used in place");
    /* logits against the float64 reference on the same (mapped) weights */
    double scale, d = lt_logit_diff(L.model, L.model, 24, &scale);
    cr_assert(d <= 2e-5 * (1 + scale), "stories260K logits vs float64 reference: %g (scale %g)", d, scale);
    const char *text = "Tom and his dog went to the big red barn. They saw a cow and a horse. The cow said moo and Tom laughed.";
    double good = mean_loss(L.model, L.tok, text);
    cr_assert(good < 3.0, "mean loss %.3f nats: not a working model (uniform: %.3f)", good, log(512.0));
    /* the same weights with the wrong pair layout must fail the threshold */
    rl_model_config h = *c;
    for (int l = 0; l < RL_MAX_LAYERS; l++) h.pe[l].layout = RL_LAYOUT_HALF;
    rl_model *wrong = rl_model_new(&h, 0);
    for (int i = 0; i < wrong->n_tensors; i++) *wrong->table[i].slot = *L.model->table[i].slot;
    cr_assert_eq(rl_model_check_params(wrong), 0);
    double bad = mean_loss(wrong, L.tok, text);
    cr_assert(bad > 3.0, "half layout: %.3f nats; the threshold would not catch a layout mix-up", bad);
    rl_model_free(wrong);
    rl_loaded_free(&L);
}

/* The tokenizer: tokenizer.bin beside the checkpoint when none is given; none at all is an error;
 * a vocabulary of another size is an error naming both sizes. */
Test(loaders_llama2c, tokenizer_rules) {
    RT_REQUIRE_MODELS();
    char *dir = rt_tmpdir(), cmd[9000], bin[4200], *out;
    snprintf(cmd, sizeof cmd, "cp '%s/stories260K.bin' '%s/'", rt_models_dir(), dir);
    cr_assert_eq(rt_sh(cmd, &out), 0, "%s", out);
    free(out);
    snprintf(bin, sizeof bin, "%s/stories260K.bin", dir);
    rl_loaded L;
    cr_assert_neq(rl_load_model(bin, NULL, &L), 0);
    cr_assert(strstr(rl_error(), "no tokenizer") && strstr(rl_error(), "stories260K.bin"), "%s", rl_error());
    snprintf(cmd, sizeof cmd, "cp '%s/tok512.bin' '%s/tokenizer.bin'", rt_models_dir(), dir);
    cr_assert_eq(rt_sh(cmd, &out), 0, "%s", out);
    free(out);
    cr_assert_eq(rl_load_model(bin, NULL, &L), 0, "%s", rl_error());
    cr_assert_eq(rl_tok_vocab_size(L.tok), 512);
    rl_loaded_free(&L);
    char small[4200];
    snprintf(small, sizeof small, "%s/small.bin", dir);
    const char *toks[] = {"<unk>", "<s>", "</s>", "a"};
    lt_write_l2c_tokenizer(small, toks, 4);
    cr_assert_neq(rl_load_model(bin, small, &L), 0);
    cr_assert(strstr(rl_error(), "4 tokens") && strstr(rl_error(), "512"), "%s", rl_error());
    rt_rmtree(dir);
    free(dir);
}

/* A llama2.c file written by the test from a random llama2c-preset model, with an unshared
 * classifier (negative vocab_size in the header): every stacked tensor lands in its layer's slot. */
Test(loaders_llama2c, synthetic_unshared_classifier) {
    rl_model_config c = lt_config("llama2c", "rope:theta=10000,layout=interleaved", 0);
    c.tie_embeddings = 0;
    c.head_dim = c.d_model / c.n_heads; /* llama2.c: head_dim = dim / n_heads */
    rl_model *m = lt_random(&c, 61);
    char *dir = rt_tmpdir(), path[4200];
    snprintf(path, sizeof path, "%s/model.bin", dir);
    FILE *f = fopen(path, "wb");
    int32_t h[7] = {c.d_model, c.d_ff, c.n_layers, c.n_heads, c.n_kv_heads, -c.vocab_size, 32};
    fwrite(h, 4, 7, f);
    const rl_params *p = &m->p;
    const int D = c.d_model, F = c.d_ff, KVD = c.n_kv_heads * c.head_dim;
#define STACK(field, n)                                                                                  \
    for (int l = 0; l < c.n_layers; l++) fwrite(p->layer[l].field, 4, (size_t)(n), f)
    fwrite(p->wte, 4, (size_t)c.vocab_size * D, f);
    STACK(attn_norm, D);
    STACK(wq, D * D);
    STACK(wk, KVD * D);
    STACK(wv, KVD * D);
    STACK(wo, D * D);
    STACK(mlp_norm, D);
    STACK(wgate, F * D); /* w1 */
    STACK(wdown, D * F); /* w2 */
    STACK(wup, F * D);   /* w3 */
#undef STACK
    fwrite(p->final_norm, 4, (size_t)D, f);
    fwrite(p->lm_head, 4, (size_t)c.vocab_size * D, f); /* no freq_cis table, then wcls */
    fclose(f);
    char tok[4200], texts[64][16];
    const char *tp[64];
    for (int i = 0; i < c.vocab_size; i++) {
        snprintf(texts[i], sizeof texts[i], i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>" : "t%d", i);
        tp[i] = texts[i];
    }
    snprintf(tok, sizeof tok, "%s/tokenizer.bin", dir);
    lt_write_l2c_tokenizer(tok, tp, c.vocab_size);
    rl_loaded L;
    cr_assert_eq(rl_load_model(path, NULL, &L), 0, "%s", rl_error());
    cr_assert(!L.model->cfg.tie_embeddings);
    double scale, d = lt_logit_diff(L.model, m, 11, &scale);
    cr_assert(d <= 2e-5 * (1 + scale), "llama2.c logits: %g (scale %g)", d, scale);
    rl_loaded_free(&L);
    rl_model_free(m);
    rt_rmtree(dir);
    free(dir);
}
