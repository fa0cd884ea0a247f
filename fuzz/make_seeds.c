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
    remove(tmp);
    if (rl_path(tmp, sizeof tmp, "%s/tmp.safetensors", dir) == 0) remove(tmp);
    return 0;
fail:
    fprintf(stderr, "make_seeds: %s\n", rl_error());
    return 1;
}
