/* Bad inputs to rl_load_model: each fails with one message naming the file and the tensor or key
 * (and the offset where there is one), never a crash. */
#include "helpers.h"
#include "loaders_helpers.h"
#include "model_ref.h"
#include "ropelab/formats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *LLAMA_CFG =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 19, \"hidden_size\": 16, \"intermediate_size\": 20,"
    " \"num_hidden_layers\": 3, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"head_dim\": 8,"
    " \"rms_norm_eps\": 1e-05, \"rope_theta\": 100%s}";

/* Expects rl_load_model(path) to fail with a message containing every `need` string. */
static void expect_fail(const char *path, const char *const *need, int n) {
    rl_loaded L;
    cr_assert_neq(rl_load_model(path, NULL, &L), 0, "%s must not load (expected: %s)", path, need[n - 1]);
    for (int i = 0; i < n; i++) cr_assert(strstr(rl_error(), need[i]), "message lacks \"%s\": %s", need[i], rl_error());
}

/* A folder with the llama fixture's weights and config.json = LLAMA_CFG with `extra` keys. */
static char *folder(const rl_model *m, const char *extra) {
    char *dir = rt_tmpdir(), cfg[2048];
    snprintf(cfg, sizeof cfg, LLAMA_CFG, extra);
    lt_write_hf(dir, m, cfg, RL_DT_F32, 0);
    return dir;
}

static void config_case(const rl_model *m, const char *cfg_text, const char *a, const char *b) {
    char *dir = rt_tmpdir(), p[4200];
    lt_write_hf(dir, m, cfg_text, RL_DT_F32, 0);
    snprintf(p, sizeof p, "%s/config.json", dir);
    const char *need[] = {p, a, b};
    expect_fail(dir, need, b ? 3 : 2);
    rt_rmtree(dir);
    free(dir);
}

Test(loaders_bad, config_json) {
    rl_model *m = lt_model("llama", NULL, 1, 0);
    char buf[2048];
    config_case(m, "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 19,", "not valid JSON", "offset");
    config_case(m, "[1, 2]", "expected a JSON object", NULL);
    config_case(m, "{\"architectures\": [\"BertForMaskedLM\"], \"vocab_size\": 19}", "BertForMaskedLM",
                "GemmaForCausalLM");
    config_case(m, "{\"vocab_size\": 19}", "architectures", "model_type");
    config_case(m, "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 19, \"intermediate_size\": 20,"
                   " \"num_hidden_layers\": 3, \"num_attention_heads\": 4}", "key hidden_size is missing", NULL);
    /* found by the fuzzer: an object where a size belongs once crashed the message formatting */
    config_case(m, "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 19, \"hidden_size\": 16,"
                   " \"intermediate_size\": 20, \"num_hidden_layers\": 3, \"num_attention_heads\": {\"factor\": 8}}",
                "key num_attention_heads", "expected an integer");
    snprintf(buf, sizeof buf, LLAMA_CFG, ", \"max_position_embeddings\": \"64\"");
    config_case(m, buf, "key max_position_embeddings", "expected an integer");
    snprintf(buf, sizeof buf, LLAMA_CFG, ", \"rope_scaling\": {\"rope_type\": \"longrope\", \"factor\": 2}");
    config_case(m, buf, "rope_scaling", "\"longrope\" is not supported");
    snprintf(buf, sizeof buf, LLAMA_CFG, ", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8}");
    config_case(m, buf, "rope_scaling.original_max_position_embeddings", "required");
    snprintf(buf, sizeof buf, LLAMA_CFG, ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": -2}");
    config_case(m, buf, "rope_scaling.factor", "must be > 0");
    snprintf(buf, sizeof buf, LLAMA_CFG, ", \"rope_scaling\": [1]");
    config_case(m, buf, "rope_scaling", "expected an object");
    snprintf(buf, sizeof buf, LLAMA_CFG, ", \"partial_rotary_factor\": 0.2");
    config_case(m, buf, "partial_rotary_factor", "even");
    snprintf(buf, sizeof buf, LLAMA_CFG, ", \"hidden_act\": \"relu\"");
    config_case(m, buf, "hidden_act", "\"relu\" is not supported");
    snprintf(buf, sizeof buf, LLAMA_CFG, "");
    memcpy(strstr(buf, "1e-05"), "0e-05", 5);
    config_case(m, buf, "rms_norm_eps", "> 0");
    snprintf(buf, sizeof buf, LLAMA_CFG, "");
    memcpy(strstr(buf, "\"num_key_value_heads\": 2") + 23, "3", 1);
    config_case(m, buf, "n_kv_heads", "divide");
    snprintf(buf, sizeof buf, LLAMA_CFG, ", \"tie_word_embeddings\": \"no\"");
    config_case(m, buf, "tie_word_embeddings", "true or false");
    rl_model_free(m);
}

Test(loaders_bad, tensors) {
    rl_model *m = lt_model("llama", NULL, 2, 0);
    /* missing tensor: a config that declares biases the file lacks */
    char *dir = folder(m, ", \"attention_bias\": true");
    const char *n1[] = {dir, "model.layers.0.self_attn.q_proj.bias", "missing"};
    expect_fail(dir, n1, 3);
    rt_rmtree(dir), free(dir);
    /* wrong shape: the config's intermediate_size differs from the weights' */
    char cfg[2048], *dir2 = rt_tmpdir(), p[4200];
    snprintf(cfg, sizeof cfg, LLAMA_CFG, "");
    char *at = strstr(cfg, "\"intermediate_size\": 20");
    memcpy(at, "\"intermediate_size\": 24", 23);
    lt_write_hf(dir2, m, cfg, RL_DT_F32, 0);
    snprintf(p, sizeof p, "%s/model.safetensors", dir2);
    const char *n2[] = {p, "model.layers.0.mlp.gate_proj.weight", "[20, 16]", "[24, 16]", "offset"};
    expect_fail(dir2, n2, 5);
    rt_rmtree(dir2), free(dir2);
    /* a tensor the config does not declare (a bias): the config was misread */
    rl_model_config c = m->cfg;
    c.qkv_bias = 1;
    rl_model *mb = lt_random(&c, 3);
    dir = folder(mb, "");
    const char *n3[] = {"self_attn.", "_proj.bias", "not part of the model"};
    expect_fail(dir, n3, 3);
    rt_rmtree(dir), free(dir);
    rl_model_free(mb);
    /* a non-finite weight */
    m->p.layer[2].wv[5] = NAN;
    dir = folder(m, "");
    const char *n4[] = {"model.layers.2.self_attn.v_proj.weight", "element 5", "finite"};
    expect_fail(dir, n4, 3);
    rt_rmtree(dir), free(dir);
    m->p.layer[2].wv[5] = 0.1f;
    /* a wrong dtype: an integer tensor where a norm should be */
    dir = rt_tmpdir();
    rl_write_tensor *w = calloc((size_t)m->n_tensors, sizeof *w);
    int32_t ints[16] = {0};
    for (int i = 0; i < m->n_tensors; i++) {
        const rl_param_info *e = &m->table[i];
        w[i] = (rl_write_tensor){e->name, RL_DT_F32, e->ndim, {e->shape[0], e->shape[1]}, *e->slot, NULL};
        if (strcmp(e->name, "model.norm.weight") == 0) w[i] = (rl_write_tensor){e->name, RL_DT_I32, 1, {16}, NULL, ints};
    }
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    cr_assert_eq(rl_safetensors_write(p, w, m->n_tensors, NULL), 0, "%s", rl_error());
    snprintf(cfg, sizeof cfg, LLAMA_CFG, "");
    snprintf(p, sizeof p, "%s/config.json", dir);
    lt_write_file(p, cfg);
    const char *n5[] = {"model.norm.weight", "dtype I32", "F32, F16, BF16 or Q8_0"};
    expect_fail(dir, n5, 3);
    /* a truncated safetensors file: the container reports file and offsets */
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    cr_assert_eq(truncate(p, 200), 0);
    const char *n6[] = {p};
    expect_fail(dir, n6, 1);
    rt_rmtree(dir), free(dir), free(w);
    rl_model_free(m);
}

Test(loaders_bad, paths_and_metadata) {
    const char *n1[] = {"/nonexistent/model", "No such file"};
    expect_fail("/nonexistent/model", n1, 2);
    char *dir = rt_tmpdir();
    const char *n2[] = {dir, "config.json", "checkpoint"};
    expect_fail(dir, n2, 3);
    /* ropelab_config that disagrees with config.json */
    rl_model *m = lt_model("gemma", NULL, 4, 0);
    cr_assert_eq(rl_hf_save(dir, m, NULL, RL_DT_F32), 0, "%s", rl_error());
    char p[4200], *text;
    size_t len;
    snprintf(p, sizeof p, "%s/config.json", dir);
    cr_assert_eq(rl_read_file(p, &text, &len), 0);
    char *at = strstr(text, "\"intermediate_size\":\t20");
    cr_assert_not_null(at, "%s", text);
    at[21] = '4'; /* 20 -> 40 */
    lt_write_file(p, text);
    free(text);
    const char *n3[] = {"ropelab_config", "intermediate_size", "config.json"};
    expect_fail(dir, n3, 3);
    /* a bare safetensors file without ropelab metadata has no config */
    snprintf(p, sizeof p, "%s/plain.safetensors", dir);
    float x[4] = {0};
    rl_write_tensor t = {"x", RL_DT_F32, 1, {4}, x, NULL};
    cr_assert_eq(rl_safetensors_write(p, &t, 1, NULL), 0);
    const char *n4[] = {p, "config.json", "ropelab_config"};
    expect_fail(p, n4, 3);
    rl_model_free(m);
    rt_rmtree(dir), free(dir);
}

Test(loaders_bad, gguf) {
    rl_model *m = lt_model("llama", NULL, 5, 0);
    char *dir = rt_tmpdir(), path[4200];
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    lt_write_gguf(path, m, "llama", RL_DT_F32);
    /* rewrite with one change each: unknown architecture, a missing key, a missing tensor */
    rl_meta_list bert = {0};
    rl_meta_add_str(&bert, "general.architecture", "bert");
    const char *drop[3] = {"general.architecture", "llama.embedding_length", "blk.1.ffn_up.weight"};
    for (int k = 0; k < 3; k++) {
        char p2[4200];
        snprintf(p2, sizeof p2, "%s/bad%d.gguf", dir, k);
        lt_gguf_rewrite(path, p2, drop[k], k == 0 ? &bert : NULL, NULL);
        const char *need[3][3] = {{p2, "\"bert\" is not supported", "llama, gemma"},
                                  {p2, "llama.embedding_length", "missing"},
                                  {p2, "blk.1.ffn_up.weight", "missing"}};
        expect_fail(p2, need[k], 3);
    }
    rl_meta_list_free(&bert);
    /* rope_freqs that are not Llama 3's (found by the fuzzer: this path leaked a frequency table) */
    const float bad_freqs[2][4] = {{-1, -1, -1, -1}, {1, 2, 1, 3}};
    for (int k = 0; k < 2; k++) {
        char p2[4200];
        snprintf(p2, sizeof p2, "%s/freqs%d.gguf", dir, k);
        rl_write_tensor rf = {"rope_freqs.weight", RL_DT_F32, 1, {4}, bad_freqs[k], NULL};
        lt_gguf_rewrite(path, p2, NULL, NULL, &rf);
        const char *need[2][2] = {{"rope_freqs.weight", "-1"}, {"rope_freqs.weight", "entry 1"}};
        expect_fail(p2, need[k], 2);
    }
    /* truncated: the container names the file and the offset */
    cr_assert_eq(truncate(path, 100), 0);
    const char *n4[] = {path, "offset"};
    expect_fail(path, n4, 2);
    rl_model_free(m);
    rt_rmtree(dir), free(dir);
}
