/* Loading Hugging Face folders: per architecture a tiny folder written by the test (config.json in
 * transformers' keys + safetensors of random weights), whose logits after rl_load_model must equal
 * tests/model_ref.c's float64 forward of the same weights; dtypes, shards, rope types, in-place
 * mapping, tokenizer lookup, ropelab run folders. */
#include "helpers.h"
#include "loaders_helpers.h"
#include "model_ref.h"
#include "ropelab/formats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Float32 inference against float64 on O(1..5) logits after 3 layers: measured differences are
 * below 2e-6 of the largest logit (test_model_infer). We allow 2e-5 * (1 + max|ref|); a misread
 * config key (wrong pairs, norm convention, activation, bias, window, soft-cap, scale) moves
 * logits by O(0.1 .. 1). */
#define LOGIT_TOL(scale) (2e-5 * (1 + (scale)))

/* The config.json of each fixture, as Hugging Face writes it (sizes of lt_model). */
static const char *config_for(const char *arch) {
    if (strcmp(arch, "llama") == 0)
        return "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"vocab_size\": 19,"
               " \"hidden_size\": 16, \"intermediate_size\": 20, \"num_hidden_layers\": 3, \"num_attention_heads\": 4,"
               " \"num_key_value_heads\": 2, \"head_dim\": 8, \"hidden_act\": \"silu\", \"rms_norm_eps\": 1e-05,"
               " \"rope_theta\": 100.0, \"rope_scaling\": null, \"max_position_embeddings\": 64,"
               " \"tie_word_embeddings\": false, \"attention_bias\": false, \"mlp_bias\": false,"
               " \"bos_token_id\": 1, \"eos_token_id\": 2, \"torch_dtype\": \"float32\"}";
    if (strcmp(arch, "mistral") == 0) /* num_key_value_heads absent: Mistral's class default is 8, so give it */
        return "{\"architectures\": [\"MistralForCausalLM\"], \"vocab_size\": 19, \"hidden_size\": 16,"
               " \"intermediate_size\": 20, \"num_hidden_layers\": 3, \"num_attention_heads\": 4,"
               " \"num_key_value_heads\": 2, \"head_dim\": 8, \"rms_norm_eps\": 1e-05, \"rope_theta\": 100,"
               " \"sliding_window\": 4, \"max_position_embeddings\": 64}";
    if (strcmp(arch, "qwen2") == 0) /* q/k/v biases are implied; sliding only from max_window_layers on */
        return "{\"architectures\": [\"Qwen2ForCausalLM\"], \"vocab_size\": 19, \"hidden_size\": 32,"
               " \"intermediate_size\": 20, \"num_hidden_layers\": 3, \"num_attention_heads\": 4,"
               " \"num_key_value_heads\": 2, \"rms_norm_eps\": 1e-06, \"rope_theta\": 100.0,"
               " \"use_sliding_window\": true, \"sliding_window\": 3, \"max_window_layers\": 1,"
               " \"tie_word_embeddings\": false, \"hidden_act\": \"silu\"}";
    if (strcmp(arch, "gemma") == 0) /* hidden_act "gelu" as the original Gemma configs: transformers uses tanh */
        return "{\"architectures\": [\"GemmaForCausalLM\"], \"vocab_size\": 19, \"hidden_size\": 16,"
               " \"intermediate_size\": 20, \"num_hidden_layers\": 3, \"num_attention_heads\": 4,"
               " \"num_key_value_heads\": 1, \"head_dim\": 12, \"hidden_act\": \"gelu\", \"rms_norm_eps\": 1e-06,"
               " \"rope_theta\": 100.0, \"max_position_embeddings\": 64, \"bos_token_id\": 2, \"eos_token_id\": 1}";
    if (strcmp(arch, "gemma2") == 0) /* default layer_types: sliding on even layers */
        return "{\"architectures\": [\"Gemma2ForCausalLM\"], \"vocab_size\": 19, \"hidden_size\": 16,"
               " \"intermediate_size\": 20, \"num_hidden_layers\": 3, \"num_attention_heads\": 4,"
               " \"num_key_value_heads\": 2, \"head_dim\": 8, \"hidden_activation\": \"gelu_pytorch_tanh\","
               " \"rms_norm_eps\": 1e-06, \"rope_theta\": 100.0, \"attn_logit_softcapping\": 2.0,"
               " \"final_logit_softcapping\": 1.5, \"query_pre_attn_scalar\": 10, \"sliding_window\": 3,"
               " \"max_position_embeddings\": 64}";
    if (strcmp(arch, "gpt_neox") == 0) /* transformers 4.x keys rotary_pct / rotary_emb_base */
        return "{\"architectures\": [\"GPTNeoXForCausalLM\"], \"vocab_size\": 19, \"hidden_size\": 32,"
               " \"intermediate_size\": 20, \"num_hidden_layers\": 3, \"num_attention_heads\": 2,"
               " \"rotary_pct\": 0.25, \"rotary_emb_base\": 100, \"layer_norm_eps\": 1e-05,"
               " \"hidden_act\": \"gelu\", \"use_parallel_residual\": true, \"max_position_embeddings\": 64}";
    cr_assert_fail("no config for %s", arch);
    return NULL;
}

/* Writes the fixture of arch in dtype dt (shards when shard > 0), loads it, checks the logits. */
static void check_arch(const char *arch, rl_dtype dt, uint64_t shard, uint64_t seed) {
    rl_model_config c = lt_config(arch, NULL, 0);
    if (strcmp(arch, "qwen2") == 0) { /* the fixture's config: D 32 (head_dim D/H = 8), sliding from layer 1 */
        c.d_model = 32;
        c.sliding_window = 3;
        for (int l = 0; l < RL_MAX_LAYERS; l++) c.sliding[l] = l >= 1;
    }
    rl_model *m = lt_random(&c, seed);
    lt_round_weights(m, dt);
    char *dir = rt_tmpdir();
    lt_write_hf(dir, m, config_for(arch), dt, shard);
    rl_loaded L;
    cr_assert_eq(rl_load_model(dir, NULL, &L), 0, "%s %s: %s", arch, rl_dtype_name(dt), rl_error());
    cr_assert_str_eq(L.format, "hf");
    cr_assert_null(L.tok, "no tokenizer in the folder");
    double scale, d = lt_logit_diff(L.model, m, 13, &scale);
    cr_assert(d <= LOGIT_TOL(scale), "%s %s: logits differ by %g (scale %g)", arch, rl_dtype_name(dt), d, scale);
    cr_assert_null(L.model->params, "a loaded model has no parameter arena of its own");
    rl_loaded_free(&L);
    rl_model_free(m);
    rt_rmtree(dir);
    free(dir);
}

Test(loaders_hf, llama) { check_arch("llama", RL_DT_F32, 0, 1); }
Test(loaders_hf, llama_bf16_sharded) { check_arch("llama", RL_DT_BF16, 1500, 2); }
Test(loaders_hf, mistral) { check_arch("mistral", RL_DT_F32, 0, 3); }
Test(loaders_hf, qwen2_sliding_from_max_window_layers) { check_arch("qwen2", RL_DT_F32, 0, 4); }
Test(loaders_hf, gemma_f16) { check_arch("gemma", RL_DT_F16, 0, 5); }
Test(loaders_hf, gemma2) { check_arch("gemma2", RL_DT_F32, 0, 6); }
Test(loaders_hf, gemma2_bf16) { check_arch("gemma2", RL_DT_BF16, 0, 7); }
Test(loaders_hf, gpt_neox_partial_rotary) { check_arch("gpt_neox", RL_DT_F32, 0, 8); }

/* F32 weights are pointers into the file's map: nothing copied. BF16 ones live in the arena. */
Test(loaders_hf, f32_in_place_bf16_converted) {
    rl_model *m = lt_model("llama", NULL, 11, 0);
    char *dir = rt_tmpdir();
    lt_write_hf(dir, m, config_for("llama"), RL_DT_F32, 0);
    rl_loaded L;
    cr_assert_eq(rl_load_model(dir, NULL, &L), 0, "%s", rl_error());
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    rl_tensors ts;
    cr_assert_eq(rl_safetensors_open(&ts, path), 0);
    long long size = (long long)ts.files[0].map.len;
    rl_tensors_free(&ts);
    /* every slot points into a map of the file's size, none into a heap copy */
    const uint8_t *lo = (const uint8_t *)L.model->p.wte, *hi = lo;
    for (int i = 0; i < L.model->n_tensors; i++) {
        const uint8_t *p = (const uint8_t *)*L.model->table[i].slot;
        lo = p < lo ? p : lo;
        hi = p + L.model->table[i].numel * 4 > hi ? p + L.model->table[i].numel * 4 : hi;
    }
    cr_assert(hi - lo <= size, "slots span %lld bytes, the file has %lld", (long long)(hi - lo), size);
    rl_loaded_free(&L);
    lt_write_hf(dir, m, config_for("llama"), RL_DT_BF16, 0);
    cr_assert_eq(rl_load_model(dir, NULL, &L), 0, "%s", rl_error());
    lt_round_weights(m, RL_DT_BF16);
    double scale, d = lt_logit_diff(L.model, m, 9, &scale);
    cr_assert(d <= LOGIT_TOL(scale), "bf16: %g", d);
    rl_loaded_free(&L);
    rl_model_free(m);
    rt_rmtree(dir);
    free(dir);
}

/* rope_scaling / rope_parameters types: each config's logits equal the reference built from the
 * librope spec that transformers' modeling_rope_utils formula describes. */
static void check_rope(const char *rope_json, const char *spec, const char *extra) {
    rl_model *m = lt_model("llama", spec, 21, 0);
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 19, \"hidden_size\": 16,"
             " \"intermediate_size\": 20, \"num_hidden_layers\": 3, \"num_attention_heads\": 4,"
             " \"num_key_value_heads\": 2, \"head_dim\": 8, \"rms_norm_eps\": 1e-05, \"rope_theta\": 100,"
             " \"max_position_embeddings\": 8, %s \"rope_scaling\": %s}",
             extra, rope_json);
    char *dir = rt_tmpdir();
    lt_write_hf(dir, m, cfg, RL_DT_F32, 0);
    rl_loaded L;
    cr_assert_eq(rl_load_model(dir, NULL, &L), 0, "%s: %s", rope_json, rl_error());
    char got[256], want[256];
    rl_rope_format(&L.model->cfg.pe[2], got, sizeof got);
    rl_rope_format(&m->cfg.pe[2], want, sizeof want);
    cr_assert_str_eq(got, want, "%s", rope_json);
    double scale, d = lt_logit_diff(L.model, m, 12, &scale);
    cr_assert(d <= LOGIT_TOL(scale), "%s: %g", rope_json, d);
    rl_loaded_free(&L);
    rl_model_free(m);
    rt_rmtree(dir);
    free(dir);
}

Test(loaders_hf, rope_types) {
    check_rope("{\"rope_type\": \"linear\", \"factor\": 2.0}", "rope:theta=100+linear:factor=2", "");
    check_rope("{\"type\": \"dynamic\", \"factor\": 3.0}", "rope:theta=100+dynamic:factor=3,original=8", "");
    check_rope("{\"rope_type\": \"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": 4, \"beta_fast\": 8}",
               "rope:theta=100+yarn:factor=4,original=4,beta_fast=8", "");
    check_rope("{\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0,"
               " \"original_max_position_embeddings\": 16}",
               "rope:theta=100+llama3:factor=8,original=16", "");
    check_rope("{\"rope_type\": \"proportional\", \"partial_rotary_factor\": 0.5}", "prope:p=0.5,theta=100", "");
    check_rope("{\"rope_type\": \"proportional\", \"partial_rotary_factor\": 0.75, \"factor\": 2}",
               "prope:p=0.75,theta=100+linear:factor=2", "");
    check_rope("null", "partial:p=0.5,theta=100", "\"partial_rotary_factor\": 0.5,");
}

/* transformers 5 writes rope_parameters (with rope_theta inside), possibly per layer type. */
Test(loaders_hf, rope_parameters_per_layer_type) {
    rl_model_config c = lt_config("gemma2", NULL, 0);
    c.n_layers = 4; /* types sliding, full, sliding, full */
    cr_assert_eq(rl_model_config_set_pe(&c, "rope:theta=50;rope:theta=1000"), 0);
    rl_model *m = lt_random(&c, 31);
    const char *cfg = "{\"architectures\": [\"Gemma2ForCausalLM\"], \"vocab_size\": 19, \"hidden_size\": 16,"
                      " \"intermediate_size\": 20, \"num_hidden_layers\": 4, \"num_attention_heads\": 4,"
                      " \"num_key_value_heads\": 2, \"head_dim\": 8, \"rms_norm_eps\": 1e-06,"
                      " \"attn_logit_softcapping\": 2.0, \"final_logit_softcapping\": 1.5, \"query_pre_attn_scalar\": 10,"
                      " \"sliding_window\": 3, \"layer_types\": [\"sliding_attention\", \"full_attention\","
                      " \"sliding_attention\", \"full_attention\"], \"rope_parameters\": {"
                      " \"sliding_attention\": {\"rope_type\": \"default\", \"rope_theta\": 50},"
                      " \"full_attention\": {\"rope_type\": \"default\", \"rope_theta\": 1000}}}";
    char *dir = rt_tmpdir();
    lt_write_hf(dir, m, cfg, RL_DT_F32, 0);
    rl_loaded L;
    cr_assert_eq(rl_load_model(dir, NULL, &L), 0, "%s", rl_error());
    cr_assert_eq(L.model->cfg.pe[1].theta, 1000.0);
    cr_assert_eq(L.model->cfg.pe[2].theta, 50.0);
    double scale, d = lt_logit_diff(L.model, m, 12, &scale);
    cr_assert(d <= LOGIT_TOL(scale), "%g", d);
    rl_loaded_free(&L);
    rl_model_free(m);
    rt_rmtree(dir);
    free(dir);
}

/* Class defaults where config.json omits keys (transformers' configuration_*.py). */
Test(loaders_hf, config_defaults) {
    rl_model_config c;
    const char *llama = "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 100, \"hidden_size\": 64,"
                        " \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\": 4}";
    cr_assert_eq(rl_hf_config_parse(&c, llama, strlen(llama), "llama.json"), 0, "%s", rl_error());
    cr_assert_eq(c.n_kv_heads, 4, "Llama: num_key_value_heads defaults to num_attention_heads");
    cr_assert_eq(c.head_dim, 16, "head_dim defaults to hidden_size / num_attention_heads");
    cr_assert_eq(c.norm_eps, 1e-6);
    cr_assert_eq(c.pe[0].theta, 10000.0);
    cr_assert_eq(c.tie_embeddings, 0);
    cr_assert_eq(c.mlp, RL_MLP_SWIGLU);
    cr_assert_eq(c.bos_id, 1);
    cr_assert_eq(c.eos_id, 2);
    const char *gemma = "{\"model_type\": \"gemma\", \"vocab_size\": 100, \"hidden_size\": 64,"
                        " \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\": 16}";
    cr_assert_eq(rl_hf_config_parse(&c, gemma, strlen(gemma), "gemma.json"), 0, "%s", rl_error());
    cr_assert_eq(c.head_dim, 256, "Gemma's class default head_dim");
    cr_assert_eq(c.n_kv_heads, 16, "Gemma's class default num_key_value_heads");
    cr_assert(c.tie_embeddings && c.norm_plus_one && c.embed_scale == RL_EMBED_SQRT_D && c.mlp == RL_MLP_GEGLU);
    const char *neox = "{\"architectures\": [\"GPTNeoXForCausalLM\"], \"vocab_size\": 100, \"hidden_size\": 64,"
                       " \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\": 4}";
    cr_assert_eq(rl_hf_config_parse(&c, neox, strlen(neox), "neox.json"), 0, "%s", rl_error());
    cr_assert(c.pe[0].kind == RL_PE_PARTIAL && c.pe[0].p == 0.25, "rotary_pct defaults to 0.25");
    cr_assert(c.parallel_residual && c.qkv_bias && c.o_bias && c.mlp_bias && c.norm_eps == 1e-5);
    const char *mistral = "{\"architectures\": [\"MistralForCausalLM\"], \"vocab_size\": 100, \"hidden_size\": 64,"
                          " \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\": 16,"
                          " \"sliding_window\": null}";
    cr_assert_eq(rl_hf_config_parse(&c, mistral, strlen(mistral), "mistral.json"), 0, "%s", rl_error());
    cr_assert_eq(c.n_kv_heads, 8, "Mistral's class default num_key_value_heads");
    cr_assert_eq(c.sliding_window, 0, "sliding_window null: no window");
    const char *qwen = "{\"architectures\": [\"Qwen2ForCausalLM\"], \"vocab_size\": 100, \"hidden_size\": 64,"
                       " \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
                       " \"num_key_value_heads\": null, \"sliding_window\": 8}";
    cr_assert_eq(rl_hf_config_parse(&c, qwen, strlen(qwen), "qwen.json"), 0, "%s", rl_error());
    cr_assert_eq(c.n_kv_heads, 4, "null num_key_value_heads: = num_attention_heads");
    cr_assert(c.qkv_bias && !c.o_bias && c.sliding_window == 0, "Qwen2: q/k/v biases, no window without use_sliding_window");
}

/* Tokenizer lookup in a folder: tokenizer.json, else tokenizer.bin; a given path wins. */
Test(loaders_hf, tokenizer_lookup) {
    rl_model *m = lt_model("llama", NULL, 41, 0);
    char *dir = rt_tmpdir(), p[4200];
    lt_write_hf(dir, m, config_for("llama"), RL_DT_F32, 0);
    /* a ropelab BPE of 258 tokens > vocab 19 is refused; use a llama2.c-style 4-token vocabulary */
    snprintf(p, sizeof p, "%s/tokenizer.bin", dir);
    const char *toks[] = {"<unk>", "<s>", "</s>", "a"};
    lt_write_l2c_tokenizer(p, toks, 4);
    rl_loaded L;
    cr_assert_eq(rl_load_model(dir, NULL, &L), 0, "%s", rl_error());
    cr_assert_not_null(L.tok);
    cr_assert_eq(rl_tok_vocab_size(L.tok), 4);
    rl_loaded_free(&L);
    /* a tokenizer larger than the embedding is an error naming both sizes */
    const char *big = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"d\": 3, \"e\": 4,"
                      " \"f\": 5, \"g\": 6, \"h\": 7, \"i\": 8, \"j\": 9, \"k\": 10, \"l\": 11, \"m\": 12, \"n\": 13,"
                      " \"o\": 14, \"p\": 15, \"q\": 16, \"r\": 17, \"s\": 18, \"t\": 19, \"u\": 20}, \"merges\": []}}";
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    lt_write_file(p, big);
    cr_assert_neq(rl_load_model(dir, NULL, &L), 0);
    cr_assert(strstr(rl_error(), "21 tokens") && strstr(rl_error(), "19"), "%s", rl_error());
    rl_model_free(m);
    rt_rmtree(dir);
    free(dir);
}

/* A ropelab run folder: `checkpoint` is a symlink to the newest complete ckpt folder. */
Test(loaders_hf, run_folder_checkpoint_link) {
    rl_model *m = lt_model("gemma", NULL, 51, 0);
    char *run = rt_tmpdir(), ck[4200], link[4200];
    snprintf(ck, sizeof ck, "%s/ckpt-000100", run);
    cr_assert_eq(rl_mkdirs(ck), 0);
    cr_assert_eq(rl_hf_save(ck, m, NULL, RL_DT_F32), 0, "%s", rl_error());
    rl_loaded L;
    cr_assert_neq(rl_load_model(run, NULL, &L), 0, "no checkpoint yet");
    cr_assert(strstr(rl_error(), "checkpoint"), "%s", rl_error());
    snprintf(link, sizeof link, "%s/checkpoint", run);
    cr_assert_eq(symlink("ckpt-000100", link), 0);
    cr_assert_eq(rl_load_model(run, NULL, &L), 0, "%s", rl_error());
    cr_assert(strstr(L.source, "ckpt-000100"), "%s", L.source);
    cr_assert(lt_logit_diff_models(L.model, m, 10) <= 1e-5);
    rl_loaded_free(&L);
    unlink(link);
    symlink("ckpt-000999", link); /* dangling */
    cr_assert_neq(rl_load_model(run, NULL, &L), 0);
    cr_assert(strstr(rl_error(), "points nowhere"), "%s", rl_error());
    rl_model_free(m);
    rt_rmtree(run);
    free(run);
}
