/* Hugging Face config.json -> rl_model_config, with transformers' key names and per-architecture
 * defaults (configuration_{llama,mistral,qwen2,gemma,gemma2,gpt_neox}.py and
 * modeling_rope_utils.py; the keys and defaults checked are listed in docs/formats.md, "Models"). */
#include "model_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUPPORTED_HF "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, GemmaForCausalLM, Gemma2ForCausalLM, GPTNeoXForCausalLM"

typedef struct {
    const char *src;
    const cJSON *root;
    rl_arch arch;
} ctx;

/* Fails with "SOURCE: key [PFX.]KEY: <what>". */
static int bad_in(const ctx *x, const char *pfx, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad_in(const ctx *x, const char *pfx, const char *key, const char *fmt, ...) {
    char what[240];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return rl_fail("%s: key %s%s%s: %s", x->src, pfx ? pfx : "", pfx ? "." : "", key, what);
}
#define bad(x, key, ...) bad_in(x, NULL, key, __VA_ARGS__)

/* A key that is absent or JSON null. */
static const cJSON *item(const cJSON *o, const char *key) {
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    return v && !cJSON_IsNull(v) ? v : NULL;
}

/* The getters read key `key` of object o (pfx names o in messages: NULL for the top level) and
 * give dflt when it is absent or null. */
static int get_int(const ctx *x, const cJSON *o, const char *pfx, const char *key, int dflt, int lo, int hi, int *out) {
    const cJSON *v = item(o, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble)) return bad_in(x, pfx, key, "expected an integer");
    if (v->valuedouble < lo || v->valuedouble > hi) {
        return bad_in(x, pfx, key, "%.17g is outside [%d, %d]", v->valuedouble, lo, hi);
    }
    *out = (int)v->valuedouble;
    return 0;
}

static int get_num(const ctx *x, const cJSON *o, const char *pfx, const char *key, double dflt, double *out) {
    const cJSON *v = item(o, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return bad_in(x, pfx, key, "expected a finite number");
    *out = v->valuedouble;
    return 0;
}

static int get_bool(const ctx *x, const cJSON *o, const char *pfx, const char *key, int dflt, int *out) {
    const cJSON *v = item(o, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsBool(v)) return bad_in(x, pfx, key, "expected true or false");
    *out = cJSON_IsTrue(v);
    return 0;
}

static const char *get_str(const cJSON *o, const char *key) {
    const cJSON *v = item(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A size that transformers would default to a reference model's value: we require it. */
static int need_int(const ctx *x, const char *key, int *out) {
    if (!item(x->root, key)) return rl_fail("%s: key %s is missing", x->src, key);
    return get_int(x, x->root, NULL, key, 0, 1, 1 << 30, out);
}

/* A window size: dflt when the key is absent, 0 (none) when it is null. */
static int get_window(const ctx *x, int dflt, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(x->root, "sliding_window");
    if (!v) return *out = dflt, 0;
    if (cJSON_IsNull(v)) return *out = 0, 0;
    return get_int(x, x->root, NULL, "sliding_window", 0, 0, 1 << 30, out);
}

/* bos_token_id / eos_token_id: an integer, a list (first entry) or null; ids outside the
 * vocabulary (seen in real configs) become -1 rather than an error. */
static int get_token_id(const ctx *x, const char *key, int dflt, int vocab, int *out) {
    const cJSON *v = item(x->root, key);
    if (cJSON_IsArray(v)) v = cJSON_GetArraySize(v) ? cJSON_GetArrayItem(v, 0) : NULL;
    int id = dflt;
    if (v) {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble)) return bad(x, key, "expected a token id");
        id = v->valuedouble >= 0 && v->valuedouble < vocab ? (int)v->valuedouble : -1;
    }
    *out = id >= 0 && id < vocab ? id : -1;
    return 0;
}

/* ---- activation ----------------------------------------------------------------------------- */

static int activation(const ctx *x, rl_model_config *c) {
    const int gated = c->mlp == RL_MLP_GEGLU || c->mlp == RL_MLP_SWIGLU;
    const char *key = "hidden_act", *act = NULL;
    if (x->arch == RL_ARCH_GEMMA || x->arch == RL_ARCH_GEMMA2) {
        /* transformers 4.x: Gemma's MLP uses hidden_activation, defaulting to gelu_pytorch_tanh (the original
         * configs say hidden_act "gelu" but the models were trained with the tanh approximation) */
        if ((act = get_str(x->root, "hidden_activation"))) key = "hidden_activation";
        else if (x->arch == RL_ARCH_GEMMA2 || !(act = get_str(x->root, "hidden_act")) || strcmp(act, "gelu") == 0)
            act = "gelu_pytorch_tanh";
    } else {
        act = get_str(x->root, "hidden_act");
        if (!act) act = x->arch == RL_ARCH_GPT_NEOX ? "gelu" : "silu";
    }
    int tanh_gelu = strcmp(act, "gelu_pytorch_tanh") == 0 || strcmp(act, "gelu_new") == 0 ||
                    strcmp(act, "gelu_fast") == 0 || strcmp(act, "gelu_python_tanh") == 0;
    if (gated && (strcmp(act, "silu") == 0 || strcmp(act, "swish") == 0)) c->mlp = RL_MLP_SWIGLU;
    else if (gated && tanh_gelu) c->mlp = RL_MLP_GEGLU;
    else if (!gated && strcmp(act, "gelu") == 0) c->mlp = RL_MLP_GELU;
    else if (!gated && tanh_gelu) c->mlp = RL_MLP_GELU_TANH;
    else
        return rl_fail("%s: key %s: activation \"%s\" is not supported for %s (supported: %s)", x->src, key, act,
                       rl_arch_name(x->arch),
                       gated ? "silu, gelu_pytorch_tanh / gelu_new / gelu_fast" : "gelu, gelu_new / gelu_pytorch_tanh");
    return 0;
}

/* ---- positional encoding -------------------------------------------------------------------- */

/* One rope dictionary d named dn (rope_scaling / rope_parameters, or one of its per-layer-type
 * entries; NULL when absent) plus the top-level keys, as modeling_rope_utils reads them.
 * A rope_type "ropelab" dictionary (written by rl_hf_save for what no HF type expresses) gives
 * its per-layer list in *pe_list instead. */
static int rope_spec(const ctx *x, const cJSON *d, const char *dn, int hd, int max_pos, rl_rope_spec *s,
                     const char **pe_list) {
    const cJSON *r = x->root;
    const int neox = x->arch == RL_ARCH_GPT_NEOX;
    rl_rope_spec_default(s);
    *pe_list = NULL;
    double theta, partial, factor;
    /* rope_theta: the dict's, else the top level's (GPT-NeoX 4.x: rotary_emb_base), else 10000 */
    if (get_num(x, r, NULL, neox && !item(r, "rope_theta") ? "rotary_emb_base" : "rope_theta", 10000.0, &theta) ||
        get_num(x, d, dn, "rope_theta", theta, &theta))
        return -1;
    /* partial_rotary_factor: likewise (GPT-NeoX 4.x: rotary_pct, default 0.25) */
    if (get_num(x, r, NULL, neox && !item(r, "partial_rotary_factor") ? "rotary_pct" : "partial_rotary_factor",
                neox ? 0.25 : 1.0, &partial) ||
        get_num(x, d, dn, "partial_rotary_factor", partial, &partial) || get_num(x, d, dn, "factor", 1.0, &factor))
        return -1;
    if (!(theta > 0)) return bad_in(x, d ? dn : NULL, "rope_theta", "%g must be > 0", theta);
    if (!(partial >= 0 && partial <= 1)) return bad_in(x, NULL, "partial_rotary_factor", "%g must be in [0, 1]", partial);
    s->theta = theta;
    const char *type = get_str(d, "rope_type");
    if (!type) type = get_str(d, "type");
    if (!type) type = "default";
    if (strcmp(type, "ropelab") == 0) {
        if (!(*pe_list = get_str(d, "pe"))) return rl_fail("%s: key %s: rope_type \"ropelab\" needs a \"pe\" string", x->src, dn);
        return 0;
    }
    if (strcmp(type, "proportional") == 0) { /* p-RoPE: int(p * head_dim // 2) chunks at theta^(-2k/d), then / factor */
        s->kind = RL_PE_PROPE;
        s->p = partial;
        if (factor != 1) s->scale = RL_SCALE_LINEAR;
    } else {
        int rot = (int)floor(partial * hd);
        if (rot < hd) { /* partial rotary: int(head_dim * p) dims at theta^(-2k/r) */
            if (rot % 2 || rot == 0)
                return rl_fail("%s: key partial_rotary_factor: %g of head_dim %d gives %d rotated dims; it must be a "
                               "positive even number",
                               x->src, partial, hd, rot);
            s->kind = RL_PE_PARTIAL;
            s->p = partial;
        }
        if (strcmp(type, "default") == 0) {
        } else if (strcmp(type, "linear") == 0) {
            s->scale = RL_SCALE_LINEAR;
        } else if (strcmp(type, "dynamic") == 0) {
            s->scale = RL_SCALE_DYNAMIC;
            s->original = max_pos; /* the base grows once the sequence passes max_position_embeddings */
        } else if (strcmp(type, "yarn") == 0) {
            int orig, trunc;
            s->scale = RL_SCALE_YARN;
            if (get_int(x, d, dn, "original_max_position_embeddings", max_pos, 1, 1 << 30, &orig) ||
                get_num(x, d, dn, "beta_fast", 32, &s->beta_fast) || get_num(x, d, dn, "beta_slow", 1, &s->beta_slow) ||
                get_num(x, d, dn, "attention_factor", 0, &s->attention_factor) ||
                get_num(x, d, dn, "mscale", 0, &s->mscale) || get_num(x, d, dn, "mscale_all_dim", 0, &s->mscale_all_dim) ||
                get_bool(x, d, dn, "truncate", 1, &trunc))
                return -1;
            s->original = orig;
            s->truncate = trunc;
            if (!item(d, "factor")) factor = (double)max_pos / orig; /* DeepSeek-style configs */
        } else if (strcmp(type, "llama3") == 0) {
            int orig;
            s->scale = RL_SCALE_LLAMA3;
            if (!item(d, "original_max_position_embeddings"))
                return rl_fail("%s: key %s.original_max_position_embeddings is required for rope_type llama3", x->src, dn);
            if (get_int(x, d, dn, "original_max_position_embeddings", 0, 1, 1 << 30, &orig) ||
                get_num(x, d, dn, "low_freq_factor", 1, &s->low_freq_factor) ||
                get_num(x, d, dn, "high_freq_factor", 4, &s->high_freq_factor))
                return -1;
            s->original = orig;
        } else {
            return rl_fail("%s: key %s: rope_type \"%s\" is not supported (supported: default, linear, dynamic, yarn, "
                           "llama3, proportional)",
                           x->src, dn, type);
        }
    }
    if (s->scale != RL_SCALE_NONE) {
        if (!(factor > 0)) return bad_in(x, dn, "factor", "%g must be > 0", factor);
        s->factor = factor;
    }
    return 0;
}

static int is_layer_type(const char *k) { return strcmp(k, "full_attention") == 0 || strcmp(k, "sliding_attention") == 0; }

/* rope_parameters (transformers 5) or rope_scaling (4.x), possibly one dict per layer type. */
static int rope_all(const ctx *x, rl_model_config *c, const cJSON *layer_types, int max_pos) {
    const char *dn = item(x->root, "rope_parameters") ? "rope_parameters" : "rope_scaling";
    const cJSON *d = item(x->root, dn);
    if (d && !cJSON_IsObject(d)) return rl_fail("%s: key %s: expected an object or null", x->src, dn);
    int nested = d && d->child != NULL;
    for (const cJSON *e = d ? d->child : NULL; e && nested; e = e->next) nested = is_layer_type(e->string) && cJSON_IsObject(e);
    const char *pe = NULL;
    if (!nested) {
        rl_rope_spec s;
        if (rope_spec(x, d, dn, c->head_dim, max_pos, &s, &pe)) return -1;
        if (pe) return rl_model_config_set_pe(c, pe) ? rl_fail_prefix("%s: key %s.pe", x->src, dn) : 0;
        for (int l = 0; l < RL_MAX_LAYERS; l++) c->pe[l] = s;
        return 0;
    }
    if (!layer_types) return rl_fail("%s: key %s is given per layer type but layer_types is missing", x->src, dn);
    for (int l = 0; l < c->n_layers; l++) {
        const char *lt = cJSON_GetArrayItem(layer_types, l)->valuestring;
        char sub[96];
        snprintf(sub, sizeof sub, "%s.%s", dn, lt);
        const cJSON *dl = item(d, lt);
        if (!dl) return rl_fail("%s: key %s is missing (layer %d has that type)", x->src, sub, l);
        if (rope_spec(x, dl, sub, c->head_dim, max_pos, &c->pe[l], &pe)) return -1;
        if (pe) return rl_fail("%s: key %s: rope_type \"ropelab\" cannot be given per layer type", x->src, sub);
    }
    for (int l = c->n_layers; l < RL_MAX_LAYERS; l++) c->pe[l] = c->pe[l % c->n_layers];
    return 0;
}

/* ---- sliding windows ------------------------------------------------------------------------ */

static int sliding(const ctx *x, rl_model_config *c, const cJSON *layer_types) {
    int window = 0;
    memset(c->sliding, 0, sizeof c->sliding);
    switch (x->arch) {
    case RL_ARCH_MISTRAL: /* every layer (Mistral ignores layer_types) */
        if (get_window(x, 4096, &window)) return -1;
        for (int l = 0; l < RL_MAX_LAYERS; l++) c->sliding[l] = window > 0;
        layer_types = NULL;
        break;
    case RL_ARCH_QWEN2: { /* only with use_sliding_window, on layers >= max_window_layers */
        int use, from;
        if (get_bool(x, x->root, NULL, "use_sliding_window", 0, &use) || get_window(x, 4096, &window) ||
            get_int(x, x->root, NULL, "max_window_layers", 28, 0, 1 << 30, &from))
            return -1;
        if (!use) window = 0;
        for (int l = 0; l < RL_MAX_LAYERS; l++) c->sliding[l] = window > 0 && l >= from;
        break;
    }
    case RL_ARCH_GEMMA2: /* default layer_types: sliding on even layers */
        if (get_window(x, 4096, &window)) return -1;
        for (int l = 0; l < RL_MAX_LAYERS; l++) c->sliding[l] = window > 0 && l % 2 == 0;
        break;
    default: layer_types = NULL; break; /* Llama, Gemma, GPT-NeoX: no sliding window */
    }
    for (int l = 0; layer_types && l < c->n_layers; l++) /* an explicit per-layer list wins */
        c->sliding[l] = window > 0 && strcmp(cJSON_GetArrayItem(layer_types, l)->valuestring, "sliding_attention") == 0;
    c->sliding_window = window;
    return 0;
}

/* ---- the whole config ----------------------------------------------------------------------- */

static int parse(ctx *x, rl_model_config *c) {
    const cJSON *r = x->root;
    const char *name = NULL;
    const cJSON *archs = item(r, "architectures");
    if (archs && (!cJSON_IsArray(archs) || !cJSON_IsString(cJSON_GetArrayItem(archs, 0))))
        return rl_fail("%s: key architectures: expected a list of class names", x->src);
    if (archs) name = cJSON_GetArrayItem(archs, 0)->valuestring;
    else if (!(name = get_str(r, "model_type")))
        return rl_fail("%s: no \"architectures\" and no \"model_type\": cannot tell the architecture (supported: %s)",
                       x->src, SUPPORTED_HF);
    if (rl_arch_from_name(name, &x->arch) != 0 || x->arch == RL_ARCH_LLAMA2C)
        return rl_fail("%s: architecture \"%s\" is not supported (supported: %s)", x->src, name, SUPPORTED_HF);
    rl_model_config_preset(c, rl_arch_name(x->arch));
    const rl_arch a = x->arch;
    const int neox = a == RL_ARCH_GPT_NEOX, gemma = a == RL_ARCH_GEMMA || a == RL_ARCH_GEMMA2;
    if (need_int(x, "vocab_size", &c->vocab_size) || need_int(x, "hidden_size", &c->d_model) ||
        need_int(x, "num_hidden_layers", &c->n_layers) || need_int(x, "num_attention_heads", &c->n_heads) ||
        need_int(x, "intermediate_size", &c->d_ff))
        return -1;
    if (c->n_layers > RL_MAX_LAYERS) return bad(x, "num_hidden_layers", "%d layers: ropelab supports up to %d", c->n_layers, RL_MAX_LAYERS);
    /* class defaults when the key is absent; null means "= num_attention_heads" */
    int kv_default = a == RL_ARCH_MISTRAL ? 8 : a == RL_ARCH_QWEN2 ? 32 : a == RL_ARCH_GEMMA ? 16 : a == RL_ARCH_GEMMA2 ? 4 : c->n_heads;
    if (get_int(x, r, NULL, "num_key_value_heads", cJSON_GetObjectItemCaseSensitive(r, "num_key_value_heads") ? c->n_heads : kv_default, 1,
                1 << 30, &c->n_kv_heads))
        return -1;
    if (neox && c->n_kv_heads != c->n_heads)
        return bad(x, "num_key_value_heads", "%d: GPT-NeoX has no grouped-query attention", c->n_kv_heads);
    /* head_dim: Gemma's classes default to 256 when the key is absent; null / others: D / H */
    int hd_default = gemma && !cJSON_GetObjectItemCaseSensitive(r, "head_dim") ? 256 : c->d_model / c->n_heads;
    if (get_int(x, r, NULL, "head_dim", hd_default, 1, 1 << 20, &c->head_dim)) return -1;
    if (c->head_dim < 1) return bad(x, "hidden_size", "%d is smaller than num_attention_heads", c->d_model);
    int max_pos, dflt_pos = a == RL_ARCH_MISTRAL ? 131072 : a == RL_ARCH_QWEN2 ? 32768 : gemma ? 8192 : 2048;
    if (get_int(x, r, NULL, "max_position_embeddings", dflt_pos, 1, 1 << 30, &max_pos)) return -1;
    c->max_seq = RL_MIN(max_pos, 8192); /* only sizes the rotation tables; longer sequences still work */
    const char *eps_key = neox ? "layer_norm_eps" : "rms_norm_eps";
    if (get_num(x, r, NULL, eps_key, neox ? 1e-5 : 1e-6, &c->norm_eps)) return -1;
    if (!(c->norm_eps > 0)) return bad(x, eps_key, "%g must be > 0", c->norm_eps);
    if (activation(x, c)) return -1;
    int ab;
    switch (a) {
    case RL_ARCH_LLAMA:
    case RL_ARCH_GEMMA:
    case RL_ARCH_GEMMA2: /* attention_bias: q, k, v and o */
        if (get_bool(x, r, NULL, "attention_bias", 0, &ab)) return -1;
        c->qkv_bias = c->o_bias = ab;
        if (a == RL_ARCH_LLAMA && get_bool(x, r, NULL, "mlp_bias", 0, &c->mlp_bias)) return -1;
        break;
    case RL_ARCH_GPT_NEOX: /* attention_bias: query_key_value and dense; the MLP always has biases */
        if (get_bool(x, r, NULL, "attention_bias", 1, &ab)) return -1;
        c->qkv_bias = c->o_bias = ab;
        c->mlp_bias = 1;
        if (get_bool(x, r, NULL, "use_parallel_residual", 1, &c->parallel_residual)) return -1;
        break;
    default: break; /* Mistral: none; Qwen2: q, k, v always */
    }
    if (get_bool(x, r, NULL, "tie_word_embeddings", gemma, &c->tie_embeddings)) return -1;
    int bidir;
    if (get_bool(x, r, NULL, "use_bidirectional_attention", 0, &bidir)) return -1;
    if (bidir) return rl_fail("%s: key use_bidirectional_attention: non-causal attention is not supported", x->src);
    if (a == RL_ARCH_GEMMA2) { /* null soft-caps mean none */
        int qpas;
        const cJSON *ac = cJSON_GetObjectItemCaseSensitive(r, "attn_logit_softcapping"), *fc = cJSON_GetObjectItemCaseSensitive(r, "final_logit_softcapping");
        if (get_num(x, r, NULL, "attn_logit_softcapping", ac ? 0 : 50, &c->attn_softcap) ||
            get_num(x, r, NULL, "final_logit_softcapping", fc ? 0 : 30, &c->final_softcap) ||
            get_int(x, r, NULL, "query_pre_attn_scalar", 256, 1, 1 << 30, &qpas))
            return -1;
        if (c->attn_softcap < 0) return bad(x, "attn_logit_softcapping", "%g must be >= 0", c->attn_softcap);
        if (c->final_softcap < 0) return bad(x, "final_logit_softcapping", "%g must be >= 0", c->final_softcap);
        c->query_pre_attn_scalar = qpas;
    }
    const cJSON *lt = item(r, "layer_types");
    if (lt) {
        int ok = cJSON_IsArray(lt) && cJSON_GetArraySize(lt) == c->n_layers;
        for (const cJSON *e = ok ? lt->child : NULL; e && ok; e = e->next) ok = cJSON_IsString(e) && is_layer_type(e->valuestring);
        if (!ok)
            return rl_fail("%s: key layer_types: expected %d entries, each \"full_attention\" or \"sliding_attention\"",
                           x->src, c->n_layers);
    }
    if (sliding(x, c, lt) || rope_all(x, c, lt, max_pos)) return -1;
    if (get_num(x, r, NULL, "initializer_range", 0.02, &c->init_std)) return -1;
    if (!(c->init_std > 0)) c->init_std = 0.02;
    int bos_d = a == RL_ARCH_QWEN2 ? -1 : gemma ? 2 : neox ? 0 : 1, eos_d = a == RL_ARCH_QWEN2 ? -1 : gemma ? 1 : 2;
    if (get_token_id(x, "bos_token_id", bos_d, c->vocab_size, &c->bos_id) ||
        get_token_id(x, "eos_token_id", eos_d, c->vocab_size, &c->eos_id))
        return -1;
    return 0;
}

int rl_hf_config_parse(rl_model_config *c, const char *json, size_t len, const char *source) {
    ctx x = {source ? source : "config.json", NULL, RL_ARCH_LLAMA};
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        return rl_fail("%s: not valid JSON (near byte offset %lld)", x.src,
                       at && at >= json && at <= json + len ? (long long)(at - json) : -1LL);
    }
    int rc = -1;
    rl_model_config t;
    x.root = root;
    if (!cJSON_IsObject(root)) rl_fail("%s: expected a JSON object", x.src);
    else if (parse(&x, &t) == 0) {
        if (rl_model_config_validate(&t) != 0) rl_fail_prefix("%s", x.src);
        else *c = t, rc = 0;
    }
    cJSON_Delete(root);
    return rc;
}
