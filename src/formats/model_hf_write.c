/* rl_hf_save: a model as a Hugging Face folder (config.json + model.safetensors) that transformers
 * loads as the same function, plus the exact ropelab config in the safetensors metadata.
 *
 * The written model is the "HF form" of the model: q/k rows in the half (rotate_half) pair layout,
 * RMSNorm gains in the architecture's convention ((1 + w) for Gemma, w otherwise), and zero biases
 * where the HF class has a bias the model lacks. What no HF config key can express (per-layer
 * encodings, reversed p-RoPE, a sliding window on Gemma, ...) is written with rope_type "ropelab",
 * which transformers refuses to load, rather than as a config that would silently differ. */
#include "model_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const hf_class[RL_ARCH_COUNT] = {"GemmaForCausalLM", "Gemma2ForCausalLM", "LlamaForCausalLM",
                                                    "MistralForCausalLM", "Qwen2ForCausalLM", "GPTNeoXForCausalLM",
                                                    "LlamaForCausalLM"};
static const char *const hf_type[RL_ARCH_COUNT] = {"gemma", "gemma2", "llama", "mistral", "qwen2", "gpt_neox", "llama"};

typedef struct {
    rl_model_config cfg; /* what is written (config.json, ropelab_config, tensor names and shapes) */
    ml_xform x;
    int *perm;           /* [L][hd] */
    char why[256];       /* non-empty: transformers cannot express the model */
} hf_plan;

static void note(hf_plan *p, const char *what) {
    if (!p->why[0]) snprintf(p->why, sizeof p->why, "%s", what);
}

static int uniform_pe(const rl_model_config *c) {
    char a[256], b[256];
    rl_rope_format(&c->pe[0], a, sizeof a);
    for (int l = 1; l < c->n_layers; l++) {
        rl_rope_format(&c->pe[l], b, sizeof b);
        if (strcmp(a, b) != 0) return 0;
    }
    return 1;
}

/* The HF form of m's config and the transforms from m's tensors to it. */
static int plan(const rl_model *m, hf_plan *p) {
    memset(p, 0, sizeof *p);
    rl_model_config *c = &p->cfg;
    *c = m->cfg;
    const int hd = c->head_dim, L = c->n_layers;
    if (c->arch == RL_ARCH_LLAMA2C) c->arch = RL_ARCH_LLAMA; /* the same tensors under HF's Llama */
    const rl_arch a = c->arch;
    const int gemma = a == RL_ARCH_GEMMA || a == RL_ARCH_GEMMA2, neox = a == RL_ARCH_GPT_NEOX;
    p->perm = rl_malloc((size_t)L * hd * sizeof *p->perm, "permutations");
    if (!p->perm) return -1;
    for (int l = 0; l < L; l++) /* HF rotates halves: interleaved pairs become (k, k + R/2) */
        if (c->pe[l].layout == RL_LAYOUT_INTERLEAVED) {
            rl_rope_spec to = c->pe[l];
            to.layout = RL_LAYOUT_HALF;
            if (ml_layout_perm(&c->pe[l], &to, hd, p->perm + (size_t)l * hd) != 0) return -1;
            p->x.perm[l] = p->perm + (size_t)l * hd;
            c->pe[l] = to;
        }
    for (int l = L; l < RL_MAX_LAYERS; l++) c->pe[l] = c->pe[l % L];
    if (c->norm == RL_NORM_RMS && c->norm_plus_one != gemma) {
        p->x.norm_add = gemma ? -1.0f : 1.0f;
        c->norm_plus_one = gemma;
    }
    /* biases as the HF classes have them (a zero bias changes nothing) */
    if (a == RL_ARCH_QWEN2) {
        c->qkv_bias = 1;
        if (c->o_bias || c->mlp_bias) note(p, "Qwen2 has no o_proj or MLP biases");
    } else if (a == RL_ARCH_MISTRAL) {
        if (c->qkv_bias || c->o_bias || c->mlp_bias) note(p, "Mistral has no biases");
    } else if (c->qkv_bias || c->o_bias) {
        c->qkv_bias = c->o_bias = 1; /* attention_bias covers q, k, v and o (GPT-NeoX: query_key_value and dense) */
    }
    if (neox) c->mlp_bias = 1;
    if (gemma && c->mlp_bias) note(p, "Gemma's MLP has no biases");
    /* the layout flags each HF class hard-codes */
    const int gated = c->mlp == RL_MLP_GEGLU || c->mlp == RL_MLP_SWIGLU;
    if (neox) {
        if (c->norm != RL_NORM_LAYER || gated || !c->fused_qkv) note(p, "GPT-NeoX needs LayerNorm, a plain GELU MLP and fused q/k/v");
    } else {
        if (c->norm != RL_NORM_RMS || !gated || c->fused_qkv || c->parallel_residual)
            note(p, "this architecture needs RMSNorm, a gated MLP, separate q/k/v and a sequential residual");
    }
    if (c->sandwich_norm != (a == RL_ARCH_GEMMA2)) note(p, "sandwich norms are Gemma 2's only");
    if (a != RL_ARCH_GEMMA2 && (c->attn_softcap > 0 || c->final_softcap > 0)) note(p, "soft-capping is Gemma 2's only");
    if (a != RL_ARCH_GEMMA2 && c->query_pre_attn_scalar > 0 && c->query_pre_attn_scalar != hd)
        note(p, "query_pre_attn_scalar is Gemma 2's only");
    double es = rl_model_embed_scale(c);
    if (gemma ? fabs(es - sqrt((double)c->d_model)) > 1e-6 * es : es != 1) note(p, "the embedding scale differs from the architecture's");
    int any_sliding = 0, from = -1, pattern_ok = 1;
    for (int l = 0; l < L; l++) any_sliding |= c->sliding_window > 0 && c->sliding[l];
    if (any_sliding) {
        if (a == RL_ARCH_MISTRAL)
            for (int l = 0; l < L; l++) pattern_ok &= c->sliding[l] == 1;
        else if (a == RL_ARCH_QWEN2) {
            for (int l = 0; l < L && from < 0; l++) if (c->sliding[l]) from = l;
            for (int l = 0; l < L; l++) pattern_ok &= c->sliding[l] == (l >= from);
        } else if (a != RL_ARCH_GEMMA2)
            pattern_ok = 0;
        if (!pattern_ok) note(p, "this sliding-window pattern has no config key in this architecture");
    }
    /* the encoding */
    const rl_rope_spec *s = &c->pe[0];
    if (!uniform_pe(c)) note(p, "the layers use different positional encodings");
    else if (s->kind == RL_PE_PROPE_REV) note(p, "reversed p-RoPE has no Hugging Face rope type");
    else if ((s->kind == RL_PE_PROPE || s->kind == RL_PE_NOPE) && (neox || (s->scale != RL_SCALE_NONE && s->scale != RL_SCALE_LINEAR)))
        note(p, "p-RoPE (\"proportional\") is expressible only with linear scaling and without GPT-NeoX's partial rotary");
    else if (s->kind == RL_PE_PARTIAL && !neox) note(p, "partial rotary needs an architecture that slices the rotated dims (GPT-NeoX)");
    return 0;
}

/* ---- config.json ---------------------------------------------------------------------------- */

static void add_id(cJSON *o, const char *key, int id) {
    if (id >= 0) cJSON_AddNumberToObject(o, key, id);
    else cJSON_AddNullToObject(o, key);
}

static cJSON *rope_dict(const hf_plan *p, const char *pe) {
    const rl_rope_spec *s = &p->cfg.pe[0];
    if (p->why[0]) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "rope_type", "ropelab");
        cJSON_AddStringToObject(d, "pe", pe);
        cJSON_AddStringToObject(d, "note", "ropelab-only model (see ropelab_note): transformers cannot load it");
        return d;
    }
    if (s->kind == RL_PE_PROPE || s->kind == RL_PE_NOPE) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "rope_type", "proportional");
        cJSON_AddNumberToObject(d, "partial_rotary_factor", s->kind == RL_PE_NOPE ? 0.0 : s->p);
        cJSON_AddNumberToObject(d, "factor", s->scale == RL_SCALE_LINEAR ? s->factor : 1.0);
        return d;
    }
    if (s->scale == RL_SCALE_NONE) return cJSON_CreateNull();
    cJSON *d = cJSON_CreateObject();
    static const char *names[] = {"default", "linear", "dynamic", "yarn", "llama3"};
    cJSON_AddStringToObject(d, "rope_type", names[s->scale]);
    cJSON_AddNumberToObject(d, "factor", s->factor);
    if (s->scale == RL_SCALE_YARN || s->scale == RL_SCALE_LLAMA3)
        cJSON_AddNumberToObject(d, "original_max_position_embeddings", (double)s->original);
    if (s->scale == RL_SCALE_YARN) {
        cJSON_AddNumberToObject(d, "beta_fast", s->beta_fast);
        cJSON_AddNumberToObject(d, "beta_slow", s->beta_slow);
        if (s->attention_factor > 0) cJSON_AddNumberToObject(d, "attention_factor", s->attention_factor);
        if (s->mscale > 0) cJSON_AddNumberToObject(d, "mscale", s->mscale);
        if (s->mscale_all_dim > 0) cJSON_AddNumberToObject(d, "mscale_all_dim", s->mscale_all_dim);
        cJSON_AddBoolToObject(d, "truncate", s->truncate);
    }
    if (s->scale == RL_SCALE_LLAMA3) {
        cJSON_AddNumberToObject(d, "low_freq_factor", s->low_freq_factor);
        cJSON_AddNumberToObject(d, "high_freq_factor", s->high_freq_factor);
    }
    return d;
}

static char *config_json(const hf_plan *p, rl_dtype dtype) {
    const rl_model_config *c = &p->cfg;
    const rl_arch a = c->arch;
    const rl_rope_spec *s = &c->pe[0];
    static const char *const act[] = {"gelu_pytorch_tanh", "silu", "gelu", "gelu_new"};
    char pe[RL_MAX_LAYERS * 160];
    rl_model_config_pe_string(c, pe, sizeof pe);
    cJSON *o = cJSON_CreateObject();
    cJSON *archs = cJSON_AddArrayToObject(o, "architectures");
    cJSON_AddItemToArray(archs, cJSON_CreateString(hf_class[a]));
    cJSON_AddStringToObject(o, "model_type", hf_type[a]);
    cJSON_AddStringToObject(o, "torch_dtype", dtype == RL_DT_BF16 ? "bfloat16" : dtype == RL_DT_F16 ? "float16" : "float32");
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(o, "hidden_size", c->d_model);
    cJSON_AddNumberToObject(o, "intermediate_size", c->d_ff);
    cJSON_AddNumberToObject(o, "num_hidden_layers", c->n_layers);
    cJSON_AddNumberToObject(o, "num_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(o, "num_key_value_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(o, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(o, "max_position_embeddings",
                            s->scale == RL_SCALE_DYNAMIC && !p->why[0] ? (double)s->original : c->max_seq);
    cJSON_AddNumberToObject(o, a == RL_ARCH_GPT_NEOX ? "layer_norm_eps" : "rms_norm_eps", c->norm_eps);
    cJSON_AddStringToObject(o, a == RL_ARCH_GEMMA || a == RL_ARCH_GEMMA2 ? "hidden_activation" : "hidden_act",
                            (unsigned)c->mlp < 4 ? act[c->mlp] : "silu");
    if (a == RL_ARCH_GEMMA) cJSON_AddStringToObject(o, "hidden_act", act[c->mlp]);
    cJSON_AddNumberToObject(o, "initializer_range", c->init_std);
    cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tie_embeddings);
    add_id(o, "bos_token_id", c->bos_id);
    add_id(o, "eos_token_id", c->eos_id);
    if (a == RL_ARCH_GPT_NEOX) {
        cJSON_AddNumberToObject(o, "rotary_emb_base", s->theta);
        cJSON_AddNumberToObject(o, "rotary_pct", s->kind == RL_PE_PARTIAL ? s->p : 1.0);
        cJSON_AddBoolToObject(o, "use_parallel_residual", c->parallel_residual);
    } else {
        cJSON_AddNumberToObject(o, "rope_theta", s->theta);
    }
    cJSON_AddItemToObject(o, "rope_scaling", rope_dict(p, pe));
    if (a != RL_ARCH_MISTRAL && a != RL_ARCH_QWEN2) cJSON_AddBoolToObject(o, "attention_bias", c->qkv_bias || c->o_bias);
    if (a == RL_ARCH_LLAMA) cJSON_AddBoolToObject(o, "mlp_bias", c->mlp_bias);
    int any = 0, from = c->n_layers;
    for (int l = 0; l < c->n_layers; l++) {
        any |= c->sliding[l] && c->sliding_window > 0;
        if (c->sliding[l] && from == c->n_layers) from = l;
    }
    if (a == RL_ARCH_MISTRAL) {
        if (any) cJSON_AddNumberToObject(o, "sliding_window", c->sliding_window);
        else cJSON_AddNullToObject(o, "sliding_window");
    } else if (a == RL_ARCH_QWEN2) {
        cJSON_AddBoolToObject(o, "use_sliding_window", any);
        cJSON_AddNumberToObject(o, "sliding_window", any ? c->sliding_window : 4096);
        cJSON_AddNumberToObject(o, "max_window_layers", any ? from : c->n_layers);
    } else if (a == RL_ARCH_GEMMA2) {
        cJSON_AddNumberToObject(o, "query_pre_attn_scalar", c->query_pre_attn_scalar > 0 ? c->query_pre_attn_scalar : c->head_dim);
        if (c->attn_softcap > 0) cJSON_AddNumberToObject(o, "attn_logit_softcapping", c->attn_softcap);
        else cJSON_AddNullToObject(o, "attn_logit_softcapping");
        if (c->final_softcap > 0) cJSON_AddNumberToObject(o, "final_logit_softcapping", c->final_softcap);
        else cJSON_AddNullToObject(o, "final_logit_softcapping");
        if (any) cJSON_AddNumberToObject(o, "sliding_window", c->sliding_window);
        else cJSON_AddNullToObject(o, "sliding_window");
        cJSON *lt = cJSON_AddArrayToObject(o, "layer_types");
        for (int l = 0; l < c->n_layers; l++)
            cJSON_AddItemToArray(lt, cJSON_CreateString(any && c->sliding[l] ? "sliding_attention" : "full_attention"));
    }
    if (p->why[0]) cJSON_AddStringToObject(o, "ropelab_note", p->why);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) rl_fail("config.json: out of memory");
    return text;
}

/* ---- the folder ----------------------------------------------------------------------------- */

int rl_hf_save(const char *dir, const rl_model *m, const rl_meta_list *extra, rl_dtype dtype) {
    if (dtype != RL_DT_F32 && dtype != RL_DT_F16 && dtype != RL_DT_BF16)
        return rl_fail("%s: Hugging Face export dtype %s is not supported (F32, F16 or BF16)", dir, rl_dtype_name(dtype));
    hf_plan p;
    rl_model *shape = NULL;
    rl_write_tensor *wt = NULL;
    float **bufs = NULL;
    char *cfg_json = NULL, *text = NULL;
    rl_meta_list meta = {0};
    int rc = -1, n = 0;
    if (plan(m, &p) != 0) goto out;
    if (!(shape = rl_model_new(&p.cfg, 0))) { /* the written tensors' names and shapes */
        rl_fail_prefix("%s: model config", dir);
        goto out;
    }
    wt = rl_calloc((size_t)shape->n_tensors, sizeof *wt, "tensors to write");
    bufs = rl_calloc((size_t)shape->n_tensors, sizeof *bufs, "tensor copies");
    if (!wt || !bufs) goto out;
    for (int i = 0; i < shape->n_tensors; i++) {
        const rl_param_info *e = &shape->table[i], *src = rl_model_find_param(m, e->name);
        int owned = 0;
        const float *data;
        if (src) {
            data = ml_xform_tensor(m, src, &p.x, &owned);
        } else { /* a bias the HF class has and the model lacks */
            data = rl_calloc(e->numel, sizeof(float), "zero bias");
            owned = 1;
        }
        if (!data) goto out;
        if (owned) bufs[n] = (float *)data;
        wt[n] = (rl_write_tensor){e->name, dtype, e->ndim, {e->shape[0], e->shape[1]}, data, NULL};
        n++;
    }
    if (!(cfg_json = rl_model_config_to_json(&p.cfg))) goto out;
    if (rl_meta_add_str(&meta, "format", "pt") || rl_meta_add_str(&meta, "ropelab_config", cfg_json)) goto out;
    for (int i = 0; extra && i < extra->n; i++) {
        if (extra->m[i].type != RL_META_STRING) {
            rl_fail("%s: metadata %s must be a string (safetensors metadata holds strings)", dir, extra->m[i].key);
            goto out;
        }
        if (rl_meta_add_copy(&meta, &extra->m[i])) goto out;
    }
    /* weights first, config.json last: a folder with a config.json is complete */
    if (rl_safetensors_write_dir(dir, wt, n, &meta, UINT64_MAX) != 0) goto out;
    if (!(text = config_json(&p, dtype))) goto out;
    char path[4200];
    if (rl_path(path, sizeof path, "%s/config.json", dir) != 0 || rl_write_atomic(path, text, strlen(text)) != 0) goto out;
    rc = 0;
out:
    for (int i = 0; bufs && i < n; i++) free(bufs[i]);
    free(bufs);
    free(wt);
    free(cfg_json);
    free(text);
    free(p.perm);
    rl_meta_list_free(&meta);
    rl_model_free(shape);
    return rc;
}
