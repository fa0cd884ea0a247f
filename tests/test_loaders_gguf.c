/* Loading GGUF files written by the test the way llama.cpp's convert_hf_to_gguf.py writes them
 * (llama.cpp names and keys, q/k rows permuted for llama, (1 + w) baked into gemma norms): the
 * logits must equal the float64 reference of the Hugging Face-layout weights. F32, F16, BF16, Q8_0. */
#include "formats_helpers.h"
#include "helpers.h"
#include "loaders_helpers.h"
#include "model_ref.h"
#include "ropelab/formats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* As in test_loaders_hf.c: float32 vs float64, 2e-5 relative to the logit scale. */
#define LOGIT_TOL(scale) (2e-5 * (1 + (scale)))

/* Writes the fixture of arch (reference weights rounded to dt first, so the reference is exact for
 * what the file stores), loads it, compares the logits. Returns the loaded model's config. */
static rl_model_config check(const char *arch, const char *gguf_arch, rl_dtype dt, uint64_t seed) {
    rl_model_config c0 = lt_config(arch, NULL, dt == RL_DT_Q8_0);
    c0.query_pre_attn_scalar = 0; /* llama.cpp fixes gemma2's scale to 1/sqrt(head_dim) */
    rl_model *m = lt_random(&c0, seed);
    lt_round_weights(m, dt);
    char *dir = rt_tmpdir(), path[4200];
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    lt_write_gguf(path, m, gguf_arch, dt);
    rl_loaded L;
    cr_assert_eq(rl_load_model(path, NULL, &L), 0, "%s %s: %s", arch, rl_dtype_name(dt), rl_error());
    cr_assert_str_eq(L.format, "gguf");
    double scale, d = lt_logit_diff(L.model, m, 13, &scale);
    cr_assert(d <= LOGIT_TOL(scale), "%s %s: logits differ by %g (scale %g)", arch, rl_dtype_name(dt), d, scale);
    rl_model_config c = L.model->cfg;
    rl_loaded_free(&L);
    rl_model_free(m);
    rt_rmtree(dir);
    free(dir);
    return c;
}

Test(loaders_gguf, llama_f32_interleaved_rows) {
    rl_model_config c = check("llama", "llama", RL_DT_F32, 1);
    /* the decision documented in docs/formats.md: rows kept as stored, RoPE on interleaved pairs */
    cr_assert_eq(c.pe[0].layout, RL_LAYOUT_INTERLEAVED);
    cr_assert(!c.tie_embeddings);
}
Test(loaders_gguf, llama_f16) { check("llama", "llama", RL_DT_F16, 2); }
Test(loaders_gguf, llama_q8_0) { check("llama", "llama", RL_DT_Q8_0, 3); }
Test(loaders_gguf, gemma_norms_baked) {
    rl_model_config c = check("gemma", "gemma", RL_DT_F32, 5);
    cr_assert(!c.norm_plus_one && c.tie_embeddings && c.pe[0].layout == RL_LAYOUT_HALF);
}
Test(loaders_gguf, gemma_q8_0) { check("gemma", "gemma", RL_DT_Q8_0, 6); }
Test(loaders_gguf, gemma_bf16) { check("gemma", "gemma", RL_DT_BF16, 14); }
Test(loaders_gguf, qwen2_biases) {
    rl_model_config c = check("qwen2", "qwen2", RL_DT_F32, 7);
    cr_assert(c.qkv_bias && c.pe[0].layout == RL_LAYOUT_HALF);
}
Test(loaders_gguf, qwen2_f16) { check("qwen2", "qwen2", RL_DT_F16, 8); }
Test(loaders_gguf, gemma2) { check("gemma2", "gemma2", RL_DT_F32, 9); }

/* Q8_0 against the unquantized weights: each weight moves by at most d/2 = max|w|/254 of its block
 * (0.4% of the block's largest weight). With weights of realistic size (sd 0.1) the logits move by
 * 0.027 (llama, logit scale 1.3) and 0.025 (gemma, scale 3.8), measured; we allow
 * 0.03 * (1 + scale), about 2.5x that. (The fixtures' sd 0.35 makes a chaotic network where the
 * same relative error moves logits by O(1).) */
Test(loaders_gguf, q8_0_close_to_float) {
    const char *archs[] = {"llama", "gemma"};
    for (int a = 0; a < 2; a++) {
        rl_model *m = lt_model(archs[a], NULL, 10 + a, 1);
        for (int i = 0; i < m->n_tensors; i++) /* realistic weight sizes (the fixtures' 0.35 is chaotic) */
            if (m->table[i].ndim == 2)
                for (size_t j = 0; j < m->table[i].numel; j++) (*m->table[i].slot)[j] *= 0.3f;
        char *dir = rt_tmpdir(), path[4200];
        snprintf(path, sizeof path, "%s/model.gguf", dir);
        lt_write_gguf(path, m, archs[a], RL_DT_Q8_0);
        rl_loaded L;
        cr_assert_eq(rl_load_model(path, NULL, &L), 0, "%s", rl_error());
        double scale, d = lt_logit_diff(L.model, m, 13, &scale);
        cr_assert(d <= 0.03 * (1 + scale), "%s: Q8_0 logits differ by %g (scale %g)", archs[a], d, scale);
        cr_assert(d > 1e-6, "%s: Q8_0 must differ from float (the file would not be quantized)", archs[a]);
        rl_loaded_free(&L);
        rl_model_free(m);
        rt_rmtree(dir);
        free(dir);
    }
}

/* The other choice, un-permuting the rows back to Hugging Face order and running the half layout,
 * gives the same logits: the two are the same function (checked here independently of the loader). */
Test(loaders_gguf, unpermuted_rows_half_layout_same_function) {
    rl_model *m = lt_model("llama", NULL, 12, 0);
    rl_model_config c = m->cfg;
    for (int l = 0; l < RL_MAX_LAYERS; l++) c.pe[l].layout = RL_LAYOUT_INTERLEAVED;
    rl_model *g = lt_reconfig(lt_model("llama", NULL, 12, 0), &c);
    for (int l = 0; l < c.n_layers; l++) { /* GGUF rows, as convert_hf_to_gguf.py writes them */
        lt_gguf_permute(g->p.layer[l].wq, m->p.layer[l].wq, c.n_heads, c.head_dim, c.d_model);
        lt_gguf_permute(g->p.layer[l].wk, m->p.layer[l].wk, c.n_kv_heads, c.head_dim, c.d_model);
    }
    double d = lt_logit_diff_models(g, m, 12);
    cr_assert(d <= 1e-5, "interleaved on GGUF rows vs half on HF rows: %g", d);
    /* and the wrong pairing is visibly wrong: GGUF rows with the half layout */
    g = lt_reconfig(g, &m->cfg);
    cr_assert(lt_logit_diff_models(g, m, 12) > 1e-2, "a layout mix-up must change the logits");
    rl_model_free(g);
    rl_model_free(m);
}

/* The vocabulary comes from tokenizer.ggml.* metadata. */
Test(loaders_gguf, tokenizer_from_metadata) {
    rl_model *m = lt_model("llama", NULL, 13, 0);
    char *dir = rt_tmpdir(), path[4200];
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    lt_write_gguf(path, m, "llama", RL_DT_F32);
    /* re-write with a sentencepiece vocabulary of 19 tokens */
    rl_meta_list md = {0};
    const char *toks[19] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b", "c", "\xe2\x96\x81" "a", "ab", "abc",
                            "<0x41>", "d", "e", "f", "g", "h", "i", "j", "k"};
    float scores[19];
    int32_t types[19];
    for (int i = 0; i < 19; i++) scores[i] = (float)-i, types[i] = i < 3 ? (i ? 3 : 2) : i == 10 ? 6 : 1;
    rl_meta_add_str(&md, "tokenizer.ggml.model", "llama");
    rl_meta_add_arr_str(&md, "tokenizer.ggml.tokens", toks, 19);
    rl_meta_add_arr(&md, "tokenizer.ggml.scores", RL_META_F32, scores, 19);
    rl_meta_add_arr(&md, "tokenizer.ggml.token_type", RL_META_I32, types, 19);
    rl_meta_add_u32(&md, "tokenizer.ggml.bos_token_id", 1);
    rl_meta_add_u32(&md, "tokenizer.ggml.eos_token_id", 2);
    char path2[4200];
    snprintf(path2, sizeof path2, "%s/tok.gguf", dir);
    lt_gguf_rewrite(path, path2, NULL, &md, NULL);
    rl_loaded L;
    cr_assert_eq(rl_load_model(path2, NULL, &L), 0, "%s", rl_error());
    cr_assert_not_null(L.tok);
    cr_assert_eq(rl_tok_vocab_size(L.tok), 19);
    cr_assert_eq(L.model->cfg.bos_id, 1);
    rl_ids ids = {0};
    cr_assert_eq(rl_tok_encode(L.tok, "abc", 3, RL_ENC_BOS, &ids), 0, "%s", rl_error());
    /* sentencepiece: dummy prefix, then the best-scoring merge first: âa (score -7) beats ab (-8) */
    cr_assert(ids.n == 4 && ids.v[0] == 1 && ids.v[1] == 7 && ids.v[2] == 5 && ids.v[3] == 6, "got %lld ids: %d %d %d %d",
              (long long)ids.n, ids.v[0], ids.v[1], ids.v[2], ids.v[3]);
    free(ids.v);
    rl_loaded_free(&L);
    rl_meta_list_free(&md);
    rl_model_free(m);
    rt_rmtree(dir);
    free(dir);
}
