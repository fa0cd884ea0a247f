/* Helpers for the model-loader tests (see loaders_helpers.h). */
#include "loaders_helpers.h"

#include "formats_helpers.h"
#include "helpers.h"
#include "model_ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rl_model_config lt_config(const char *arch, const char *pe, int wide) {
    rl_model_config c;
    cr_assert_eq(rl_model_config_preset(&c, arch), 0, "%s", rl_error());
    c.vocab_size = 19;
    c.d_model = wide ? 32 : 16;
    c.n_layers = 3;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 8;
    c.d_ff = wide ? 64 : 20;
    c.max_seq = 32;
    c.bos_id = c.eos_id = -1;
    const char *dflt = "rope:theta=100";
    switch (c.arch) {
    case RL_ARCH_MISTRAL: c.sliding_window = 4; break;
    case RL_ARCH_GEMMA:
        c.n_kv_heads = 1; /* MQA, as Gemma 2B */
        if (!wide) c.head_dim = 12; /* != d_model / n_heads, as Gemma 7B */
        break;
    case RL_ARCH_GEMMA2:
        c.attn_softcap = 2.0; /* small caps, so tanh is far from linear on these logits */
        c.final_softcap = 1.5;
        c.sliding_window = 3; /* even layers */
        c.query_pre_attn_scalar = 10;
        break;
    case RL_ARCH_GPT_NEOX:
        c.d_model = 32;
        c.n_heads = c.n_kv_heads = 2;
        c.head_dim = 16; /* rotary_pct 0.25 -> 4 rotated dims */
        dflt = "partial:p=0.25,theta=100";
        break;
    case RL_ARCH_LLAMA2C: dflt = "rope:theta=100,layout=interleaved"; break;
    default: break;
    }
    cr_assert_eq(rl_model_config_set_pe(&c, pe ? pe : dflt), 0, "%s", rl_error());
    return c;
}

rl_model *lt_random(const rl_model_config *c, uint64_t seed) {
    rl_model *m = rl_model_new(c, 1);
    cr_assert(m, "%s: %s", rl_arch_name(c->arch), rl_error());
    ref_randomize(m, seed, 0.35);
    return m;
}

rl_model *lt_model(const char *arch, const char *pe, uint64_t seed, int wide) {
    rl_model_config c = lt_config(arch, pe, wide);
    return lt_random(&c, seed);
}

rl_model *lt_reconfig(rl_model *m, const rl_model_config *c) {
    rl_model *n = rl_model_new(c, 1);
    cr_assert(n, "%s", rl_error());
    cr_assert_eq(n->n_params, m->n_params, "lt_reconfig: the parameter tables differ");
    memcpy(n->params, m->params, m->n_params * sizeof(float));
    rl_model_free(m);
    return n;
}

void lt_write_l2c_tokenizer(const char *path, const char *const *texts, int n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    int32_t maxlen = 0;
    for (int i = 0; i < n; i++) maxlen = RL_MAX(maxlen, (int32_t)strlen(texts[i]));
    fwrite(&maxlen, 4, 1, f);
    for (int i = 0; i < n; i++) {
        float score = (float)-i;
        int32_t len = (int32_t)strlen(texts[i]);
        fwrite(&score, 4, 1, f), fwrite(&len, 4, 1, f), fwrite(texts[i], 1, (size_t)len, f);
    }
    cr_assert_eq(fclose(f), 0);
}

void lt_gguf_rewrite(const char *src, const char *dst, const char *drop, const rl_meta_list *add,
                     const rl_write_tensor *add_t) {
    rl_tensors ts;
    cr_assert_eq(rl_gguf_open(&ts, src), 0, "%s", rl_error());
    rl_meta_list md = {0};
    for (int i = 0; i < ts.meta.n; i++)
        if (!drop || strcmp(ts.meta.m[i].key, drop) != 0) rl_meta_add_copy(&md, &ts.meta.m[i]);
    for (int i = 0; add && i < add->n; i++) rl_meta_add_copy(&md, &add->m[i]);
    rl_write_tensor *w = calloc((size_t)ts.n + 1, sizeof *w);
    int n = 0;
    if (add_t) w[n++] = *add_t;
    for (int i = 0; i < ts.n; i++) {
        if (drop && strcmp(ts.t[i].name, drop) == 0) continue;
        w[n] = (rl_write_tensor){ts.t[i].name, ts.t[i].dtype, ts.t[i].ndim, {0}, NULL, ts.t[i].data};
        memcpy(w[n].shape, ts.t[i].shape, sizeof w[n].shape);
        n++;
    }
    cr_assert_eq(rl_gguf_write(dst, w, n, &md), 0, "%s", rl_error());
    free(w);
    rl_meta_list_free(&md);
    rl_tensors_free(&ts);
}

void lt_round_weights(rl_model *m, rl_dtype dt) {
    for (int i = 0; i < m->n_tensors; i++) {
        const rl_param_info *e = &m->table[i];
        float *x = *e->slot;
        if (dt == RL_DT_Q8_0) {
            if (e->ndim != 2 || e->shape[1] % RL_Q8_0_BLOCK) continue;
            uint8_t *q = malloc(e->numel / RL_Q8_0_BLOCK * RL_Q8_0_BYTES);
            cr_assert_eq(rl_q8_0_quantize(x, e->numel, q), 0, "%s", rl_error());
            rl_q8_0_dequantize(q, e->numel, x);
            free(q);
            continue;
        }
        for (size_t j = 0; j < e->numel; j++)
            x[j] = (float)(dt == RL_DT_F16 ? ref_f16(x[j]) : dt == RL_DT_BF16 ? ref_bf16(x[j]) : x[j]);
    }
}

void lt_write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

void lt_write_hf(const char *dir, const rl_model *m, const char *config_json, rl_dtype dt, uint64_t shard_bytes) {
    rl_write_tensor *w = calloc((size_t)m->n_tensors, sizeof *w);
    for (int i = 0; i < m->n_tensors; i++) {
        const rl_param_info *e = &m->table[i];
        w[i] = (rl_write_tensor){e->name, dt, e->ndim, {e->shape[0], e->shape[1]}, *e->slot, NULL};
    }
    rl_meta_list meta = {0};
    rl_meta_add_str(&meta, "format", "pt");
    cr_assert_eq(rl_safetensors_write_dir(dir, w, m->n_tensors, &meta, shard_bytes ? shard_bytes : UINT64_MAX), 0, "%s",
                 rl_error());
    rl_meta_list_free(&meta);
    free(w);
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    lt_write_file(path, config_json);
}

static void text_tokens(int32_t *t, int n, int V) {
    rl_rng r;
    rl_rng_seed(&r, 77);
    for (int i = 0; i < n; i++) t[i] = (int32_t)rl_rng_below(&r, (uint64_t)V);
}

double lt_logit_diff(rl_model *got, const rl_model *want, int n, double *scale) {
    const int V = want->cfg.vocab_size;
    cr_assert_eq(got->cfg.vocab_size, V);
    int32_t *tok = malloc((size_t)n * sizeof *tok);
    text_tokens(tok, n, V);
    double *P = ref_params_from_model(want), *ref = malloc((size_t)n * V * sizeof *ref);
    ref_forward(want, P, tok, n, ref);
    float *lg = malloc((size_t)n * V * sizeof *lg);
    cr_assert_eq(rl_model_infer(got, tok, NULL, n, NULL, lg, NULL), 0, "%s", rl_error());
    double d = 0, s = 0;
    for (size_t i = 0; i < (size_t)n * V; i++) {
        d = fmax(d, fabs(lg[i] - ref[i]));
        s = fmax(s, fabs(ref[i]));
    }
    *scale = s;
    free(tok), free(P), free(ref), free(lg);
    return d;
}

double lt_logit_diff_models(rl_model *a, rl_model *b, int n) {
    const int V = a->cfg.vocab_size;
    cr_assert_eq(b->cfg.vocab_size, V);
    int32_t *tok = malloc((size_t)n * sizeof *tok);
    text_tokens(tok, n, V);
    float *la = malloc((size_t)n * V * sizeof *la), *lb = malloc((size_t)n * V * sizeof *lb);
    cr_assert_eq(rl_model_infer(a, tok, NULL, n, NULL, la, NULL), 0, "%s", rl_error());
    cr_assert_eq(rl_model_infer(b, tok, NULL, n, NULL, lb, NULL), 0, "%s", rl_error());
    double d = 0;
    for (size_t i = 0; i < (size_t)n * V; i++) d = fmax(d, fabs((double)la[i] - lb[i]));
    free(tok), free(la), free(lb);
    return d;
}

void lt_gguf_permute(float *dst, const float *src, int heads, int hd, int cols) {
    /* weights.reshape(n_head, 2, hd/2, cols).swapaxes(1, 2).reshape(...): new[h][i][j] = old[h][j][i] */
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < hd / 2; i++)
            for (int j = 0; j < 2; j++)
                memcpy(dst + ((size_t)h * hd + 2 * i + j) * cols, src + ((size_t)h * hd + j * hd / 2 + i) * cols,
                       (size_t)cols * sizeof(float));
}

/* HF name -> llama.cpp name, written out here independently of the library's table. */
static void gguf_name(const char *hf, int sandwich, char *out) {
    int l, n = 0;
    if (strcmp(hf, "model.embed_tokens.weight") == 0) strcpy(out, "token_embd.weight");
    else if (strcmp(hf, "model.norm.weight") == 0) strcpy(out, "output_norm.weight");
    else if (strcmp(hf, "lm_head.weight") == 0) strcpy(out, "output.weight");
    else {
        cr_assert(sscanf(hf, "model.layers.%d.%n", &l, &n) == 1 && n > 0, "%s", hf);
        const char *r = hf + n, *g = NULL;
        char part[64], q[2];
        if (strcmp(r, "input_layernorm.weight") == 0) g = "attn_norm.weight";
        else if (strcmp(r, "post_attention_layernorm.weight") == 0) g = sandwich ? "post_attention_norm.weight" : "ffn_norm.weight";
        else if (strcmp(r, "pre_feedforward_layernorm.weight") == 0) g = "ffn_norm.weight";
        else if (strcmp(r, "post_feedforward_layernorm.weight") == 0) g = "post_ffw_norm.weight";
        else if (sscanf(r, "self_attn.%1[qkv]_proj.%63s", q, part) == 2) {
            snprintf(out, 128, "blk.%d.attn_%c.%s", l, q[0], part);
            return;
        } else if (strncmp(r, "self_attn.o_proj.", 17) == 0) {
            snprintf(out, 128, "blk.%d.attn_output.%s", l, r + 17);
            return;
        } else if (sscanf(r, "mlp.%63[a-z]_proj.", part) == 1) {
            snprintf(out, 128, "blk.%d.ffn_%s.%s", l, part, strrchr(r, '.') + 1);
            return;
        }
        cr_assert_not_null(g, "no GGUF name for %s", hf);
        snprintf(out, 128, "blk.%d.%s", l, g);
    }
}

void lt_write_gguf(const char *path, const rl_model *m, const char *arch, rl_dtype dt) {
    const rl_model_config *c = &m->cfg;
    const int llama = strcmp(arch, "llama") == 0, gemma = strncmp(arch, "gemma", 5) == 0, hd = c->head_dim;
    rl_write_tensor *w = calloc((size_t)m->n_tensors, sizeof *w);
    char(*names)[128] = calloc((size_t)m->n_tensors, sizeof *names);
    float **bufs = calloc((size_t)m->n_tensors, sizeof *bufs);
    for (int i = 0; i < m->n_tensors; i++) {
        const rl_param_info *e = &m->table[i];
        gguf_name(e->name, c->sandwich_norm, names[i]);
        const float *x = *e->slot;
        int heads = strstr(e->name, "q_proj") ? c->n_heads : strstr(e->name, "k_proj") ? c->n_kv_heads : 0;
        if (llama && heads) { /* LlamaModel.permute */
            bufs[i] = malloc(e->numel * sizeof(float));
            lt_gguf_permute(bufs[i], x, heads, hd, (int)e->shape[1]);
            x = bufs[i];
        } else if (gemma && strstr(e->name, "norm.weight")) { /* GemmaModel.modify_tensors: + 1 */
            bufs[i] = malloc(e->numel * sizeof(float));
            for (size_t j = 0; j < e->numel; j++) bufs[i][j] = x[j] + 1.0f;
            x = bufs[i];
        }
        rl_dtype d = e->ndim == 1 ? RL_DT_F32 : dt;
        if (d == RL_DT_Q8_0 && e->shape[1] % RL_Q8_0_BLOCK) d = RL_DT_F32;
        w[i] = (rl_write_tensor){names[i], d, e->ndim, {e->shape[0], e->shape[1]}, x, NULL};
    }
    rl_meta_list md = {0};
    char k[160];
#define KEY(s) (snprintf(k, sizeof k, "%s.%s", arch, s), k)
    rl_meta_add_str(&md, "general.architecture", arch);
    rl_meta_add_u32(&md, KEY("context_length"), 64);
    rl_meta_add_u32(&md, KEY("embedding_length"), (uint32_t)c->d_model);
    rl_meta_add_u32(&md, KEY("block_count"), (uint32_t)c->n_layers);
    rl_meta_add_u32(&md, KEY("feed_forward_length"), (uint32_t)c->d_ff);
    rl_meta_add_u32(&md, KEY("attention.head_count"), (uint32_t)c->n_heads);
    rl_meta_add_u32(&md, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_heads);
    rl_meta_add_u32(&md, KEY("attention.key_length"), (uint32_t)hd);
    rl_meta_add_u32(&md, KEY("attention.value_length"), (uint32_t)hd);
    rl_meta_add_f32(&md, KEY("attention.layer_norm_rms_epsilon"), (float)c->norm_eps);
    rl_meta_add_f32(&md, KEY("rope.freq_base"), (float)c->pe[0].theta);
    if (c->arch == RL_ARCH_GEMMA2) {
        rl_meta_add_f32(&md, KEY("attn_logit_softcapping"), (float)c->attn_softcap);
        rl_meta_add_f32(&md, KEY("final_logit_softcapping"), (float)c->final_softcap);
        rl_meta_add_u32(&md, KEY("attention.sliding_window"), (uint32_t)c->sliding_window);
    }
#undef KEY
    cr_assert_eq(rl_gguf_write(path, w, m->n_tensors, &md), 0, "%s", rl_error());
    rl_meta_list_free(&md);
    for (int i = 0; i < m->n_tensors; i++) free(bufs[i]);
    free(bufs), free(names), free(w);
}
