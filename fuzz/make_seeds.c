/* Writes the fuzzers' seed corpus (small valid files of each format) into DIR/<target>/. */
#include "ropelab/formats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int put(const char *dir, const char *target, const char *name, const void *data, size_t n) {
    char p[4200];
    if (rl_path(p, sizeof p, "%s/%s", dir, target) != 0 || rl_mkdirs(p) != 0) return -1;
    if (rl_path(p, sizeof p, "%s/%s/%s", dir, target, name) != 0) return -1;
    return rl_write_atomic(p, data, n);
}

/* Writes texts[0..n) as DIR/target/seed0, seed1, ... */
static int put_all(const char *dir, const char *target, const char *const *texts, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "seed%zu", i);
        if (put(dir, target, name, texts[i], strlen(texts[i]))) return -1;
    }
    return 0;
}

static int copy(const char *dir, const char *target, const char *name, const char *src) {
    char *data;
    size_t n;
    if (rl_read_file(src, &data, &n) != 0) return -1;
    int rc = put(dir, target, name, data, n);
    free(data);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    char tmp[4200];
    float x[4 * 64];
    for (int i = 0; i < 4 * 64; i++) x[i] = (float)(i % 17) * 0.25f - 2.0f;
    int64_t ids[2] = {3, -4};
    rl_write_tensor w[] = {
        {"model.embed_tokens.weight", RL_DT_BF16, 2, {4, 8}, x, NULL},
        {"model.layers.0.self_attn.q_proj.weight", RL_DT_F16, 2, {2, 4}, x, NULL},
        {"model.norm.weight", RL_DT_F32, 1, {5}, x, NULL},
        {"ids", RL_DT_I64, 1, {2}, NULL, ids},
    };
    rl_meta_list meta = {0};
    rl_meta_add_str(&meta, "format", "pt");
    if (rl_path(tmp, sizeof tmp, "%s/tmp.safetensors", dir) || rl_mkdirs(dir) ||
        rl_safetensors_write(tmp, w, 4, &meta) || copy(dir, "safetensors", "seed1", tmp))
        goto fail;
    rl_meta_list_free(&meta);
    rl_meta_add_str(&meta, "general.architecture", "llama");
    rl_meta_add_u32(&meta, "llama.block_count", 1);
    rl_meta_add_f32(&meta, "llama.rope.freq_base", 10000.0f);
    rl_meta_add_bool(&meta, "k.bool", 1);
    rl_meta_add_i64(&meta, "k.i64", -5);
    rl_meta_add_f64(&meta, "k.f64", 0.5);
    const char *toks[] = {"<s>", "a", "bc"};
    rl_meta_add_arr_str(&meta, "tokenizer.ggml.tokens", toks, 3);
    int32_t tt[3] = {1, 2, 3};
    rl_meta_add_arr(&meta, "tokenizer.ggml.token_type", RL_META_I32, tt, 3);
    rl_write_tensor g[] = {
        {"token_embd.weight", RL_DT_F32, 2, {2, 4}, x, NULL},
        {"blk.0.attn_q.weight", RL_DT_Q8_0, 2, {2, 64}, x, NULL},
        {"blk.0.attn_norm.weight", RL_DT_F16, 1, {3}, x, NULL},
        {"output_norm.weight", RL_DT_BF16, 1, {3}, x, NULL},
    };
    if (rl_path(tmp, sizeof tmp, "%s/tmp.gguf", dir) || rl_gguf_write(tmp, g, 4, &meta) || copy(dir, "gguf", "seed1", tmp))
        goto fail;
    rl_meta_list_free(&meta);
    /* GGUF models (also used by gguf_model): a llama with a sentencepiece vocabulary and Llama 3
     * rope_freqs, a gemma2 with a gpt2 vocabulary */
    for (int variant = 0; variant < 2; variant++) {
        const char *a = variant ? "gemma2" : "llama";
        char k[96];
#define KEY(s) (snprintf(k, sizeof k, "%s.%s", a, s), k)
        rl_meta_add_str(&meta, "general.architecture", a);
        rl_meta_add_u32(&meta, KEY("embedding_length"), 8);
        rl_meta_add_u32(&meta, KEY("block_count"), 1);
        rl_meta_add_u32(&meta, KEY("feed_forward_length"), 12);
        rl_meta_add_u32(&meta, KEY("attention.head_count"), 2);
        rl_meta_add_u32(&meta, KEY("attention.head_count_kv"), 1);
        rl_meta_add_f32(&meta, KEY("attention.layer_norm_rms_epsilon"), 1e-5f);
        rl_meta_add_f32(&meta, KEY("rope.freq_base"), 10000.0f);
        if (variant) {
            rl_meta_add_u32(&meta, KEY("rope.dimension_count"), 2);
            rl_meta_add_u32(&meta, KEY("attention.sliding_window"), 4);
            rl_meta_add_f32(&meta, KEY("attn_logit_softcapping"), 50.0f);
        } else {
            rl_meta_add_u32(&meta, KEY("rope.scaling.original_context_length"), 16);
        }
#undef KEY
        const char *spm[6] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "\xe2\x96\x81" "a"};
        const char *bpe[6] = {"a", "b", "ab", "\xc4\xa0", "\xc4\xa0" "ab", "<|endoftext|>"};
        const char *merges[2] = {"a b", "\xc4\xa0 ab"};
        float scores[6] = {0, 0, 0, -1, -2, -3};
        int32_t types[6] = {2, 3, 3, 1, 1, 1};
        rl_meta_add_str(&meta, "tokenizer.ggml.model", variant ? "gpt2" : "llama");
        rl_meta_add_arr_str(&meta, "tokenizer.ggml.tokens", variant ? bpe : spm, 6);
        if (variant) rl_meta_add_arr_str(&meta, "tokenizer.ggml.merges", merges, 2);
        else rl_meta_add_arr(&meta, "tokenizer.ggml.scores", RL_META_F32, scores, 6);
        rl_meta_add_arr(&meta, "tokenizer.ggml.token_type", RL_META_I32, types, 6);
        rl_meta_add_u32(&meta, "tokenizer.ggml.bos_token_id", 1);
        float freqs[2] = {1.0f, 8.0f};
        rl_write_tensor gm[2] = {{"token_embd.weight", RL_DT_F32, 2, {6, 8}, x, NULL},
                                 {"rope_freqs.weight", RL_DT_F32, 1, {2}, freqs, NULL}};
        char name[16];
        snprintf(name, sizeof name, "model%d", variant);
        if (rl_gguf_write(tmp, gm, variant ? 1 : 2, &meta) || copy(dir, "gguf", name, tmp)) goto fail;
        rl_meta_list_free(&meta);
    }
    /* llama2.c: dim 8, hidden 12, 1 layer, 2 heads, 1 kv head, vocab 6 (and -6 unshared), seq 4 */
    for (int variant = 0; variant < 3; variant++) {
        int32_t h[7] = {8, 12, 1, 2, 1, variant == 1 ? -6 : 6, 4};
        int64_t n = 6 * 8 + 8 + 64 + 2 * 32 + 64 + 8 + 3 * 96 + 8 + (variant == 2 ? 0 : 4 * 4) + (variant == 1 ? 48 : 0);
        size_t bytes = 28 + 4 * (size_t)n;
        unsigned char *b = calloc(1, bytes);
        memcpy(b, h, 28);
        for (int64_t i = 0; i < n; i++) {
            float v = (float)i * 0.01f;
            memcpy(b + 28 + 4 * i, &v, 4);
        }
        char name[16];
        snprintf(name, sizeof name, "seed%d", variant);
        int rc = put(dir, "llama2c", name, b, bytes);
        free(b);
        if (rc) goto fail;
    }
    const char *ix = "{\"metadata\":{\"total_size\":100},\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                     "\"b\":\"model-00002-of-00002.safetensors\",\"c\":\"model-00001-of-00002.safetensors\"}}";
    if (put(dir, "st_index", "seed1", ix, strlen(ix))) goto fail;
    /* Hugging Face config.json files (the model loaders' fuzz target) */
    const char *cfgs[] = {
        "{\"architectures\":[\"LlamaForCausalLM\"],\"vocab_size\":19,\"hidden_size\":16,\"intermediate_size\":20,"
        "\"num_hidden_layers\":3,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":8,\"rope_theta\":100,"
        "\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8,\"original_max_position_embeddings\":16}}",
        "{\"architectures\":[\"Gemma2ForCausalLM\"],\"vocab_size\":19,\"hidden_size\":16,\"intermediate_size\":20,"
        "\"num_hidden_layers\":4,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":8,\"sliding_window\":3,"
        "\"layer_types\":[\"sliding_attention\",\"full_attention\",\"sliding_attention\",\"full_attention\"],"
        "\"rope_parameters\":{\"sliding_attention\":{\"rope_type\":\"default\",\"rope_theta\":50},"
        "\"full_attention\":{\"rope_type\":\"proportional\",\"rope_theta\":1000,\"partial_rotary_factor\":0.25}}}",
        "{\"model_type\":\"qwen2\",\"vocab_size\":19,\"hidden_size\":32,\"intermediate_size\":20,\"num_hidden_layers\":3,"
        "\"num_attention_heads\":4,\"use_sliding_window\":true,\"sliding_window\":3,\"max_window_layers\":1,"
        "\"rope_scaling\":{\"type\":\"yarn\",\"factor\":4,\"original_max_position_embeddings\":4}}",
        "{\"architectures\":[\"GPTNeoXForCausalLM\"],\"vocab_size\":19,\"hidden_size\":32,\"intermediate_size\":20,"
        "\"num_hidden_layers\":3,\"num_attention_heads\":2,\"rotary_pct\":0.25,\"rotary_emb_base\":100,"
        "\"hidden_act\":\"gelu_new\",\"use_parallel_residual\":false}",
        "{\"architectures\":[\"GemmaForCausalLM\"],\"vocab_size\":19,\"hidden_size\":16,\"intermediate_size\":20,"
        "\"num_hidden_layers\":4,\"num_attention_heads\":4,\"num_key_value_heads\":1,\"head_dim\":8,"
        "\"rope_scaling\":{\"rope_type\":\"ropelab\",\"pe\":\"rope:theta=100;nope\"}}",
    };
    if (put_all(dir, "hf_config", cfgs, sizeof cfgs / sizeof cfgs[0])) goto fail;
    /* tokenizer.json files: byte-level (GPT-2 style) and sentencepiece-style BPE */
    const char *tokjs[] = {
        "{\"added_tokens\":[{\"id\":8,\"content\":\"<|endoftext|>\",\"special\":true}],\"normalizer\":null,"
        "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true},"
        "\"model\":{\"type\":\"BPE\",\"vocab\":{\"h\":0,\"e\":1,\"l\":2,\"o\":3,\"he\":4,\"ll\":5,\"\\u0120\":6,"
        "\"\\u0120he\":7,\"<|endoftext|>\":8},\"merges\":[\"h e\",\"l l\",[\"\\u0120\",\"he\"]]}}",
        "{\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true},{\"id\":1,\"content\":\"<s>\",\"special\":true}],"
        "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"},"
        "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}]},\"pre_tokenizer\":null,"
        "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"byte_fallback\":true,\"fuse_unk\":true,\"vocab\":{"
        "\"<unk>\":0,\"<s>\":1,\"<0x41>\":2,\"<0x0A>\":3,\"\\u2581\":4,\"h\":5,\"i\":6,\"\\u2581h\":7,\"\\u2581hi\":8},"
        "\"merges\":[\"\\u2581 h\",\"\\u2581h i\"]}}",
        "{\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"first\",\"split\":false},"
        "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\"\\u2581\":3},\"merges\":[\"a b\"]}}",
    };
    if (put_all(dir, "tokenizer_json", tokjs, sizeof tokjs / sizeof tokjs[0])) goto fail;
    remove(tmp);
    if (rl_path(tmp, sizeof tmp, "%s/tmp.safetensors", dir) == 0) remove(tmp);
    return 0;
fail:
    fprintf(stderr, "make_seeds: %s\n", rl_error());
    return 1;
}
