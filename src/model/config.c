/* Model configuration: architecture presets, per-layer encodings, validation and derived sizes. */
#include "ropelab/model.h"
#include "ropelab/util.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const arch_names[RL_ARCH_COUNT] = {"gemma",   "gemma2",   "llama",  "mistral",
                                                      "qwen2",   "gpt_neox", "llama2c"};
static const char *const arch_hf[RL_ARCH_COUNT] = {"GemmaForCausalLM",   "Gemma2ForCausalLM", "LlamaForCausalLM",
                                                   "MistralForCausalLM", "Qwen2ForCausalLM",  "GPTNeoXForCausalLM",
                                                   "llama2.c"};

const char *rl_arch_name(rl_arch a) { return (unsigned)a < RL_ARCH_COUNT ? arch_names[a] : "?"; }

int rl_arch_from_name(const char *name, rl_arch *a) {
    for (int i = 0; i < RL_ARCH_COUNT; i++)
        if (strcmp(name, arch_names[i]) == 0 || strcmp(name, arch_hf[i]) == 0) {
            *a = (rl_arch)i;
            return 0;
        }
    return -1;
}

static const char *const softmax_names[RL_ATTN_KIND_COUNT] = {"softmax", "adaptive", "adaptive-const"};

const char *rl_attn_softmax_name(rl_attn_softmax k) {
    return (unsigned)k < RL_ATTN_KIND_COUNT ? softmax_names[k] : "?";
}

int rl_attn_softmax_from_name(const char *name, rl_attn_softmax *k) {
    for (int i = 0; i < RL_ATTN_KIND_COUNT; i++)
        if (strcmp(name, softmax_names[i]) == 0) {
            *k = (rl_attn_softmax)i;
            return 0;
        }
    return -1;
}

static void set_all_pe(rl_model_config *c, const rl_rope_spec *s) {
    for (int l = 0; l < RL_MAX_LAYERS; l++) c->pe[l] = *s;
}

void rl_model_config_default(rl_model_config *c) {
    memset(c, 0, sizeof *c);
    c->arch = RL_ARCH_GEMMA;
    c->vocab_size = 4096;
    c->d_model = 256;
    c->n_layers = 6;
    c->n_heads = 4;
    c->n_kv_heads = 1;
    c->head_dim = 64;
    c->d_ff = 1024;
    c->max_seq = 256;
    c->norm = RL_NORM_RMS;
    c->norm_plus_one = 1;
    c->norm_eps = 1e-6;
    c->mlp = RL_MLP_GEGLU;
    c->tie_embeddings = 1;
    c->embed_scale = RL_EMBED_SQRT_D;
    c->bos_id = 256; /* the ropelab byte-level BPE's BOS (= EOS) */
    c->eos_id = 256;
    rl_rope_spec s;
    rl_rope_spec_default(&s);
    set_all_pe(c, &s);
    c->init_std = 0.02;
}

int rl_model_config_preset(rl_model_config *c, const char *name) {
    rl_arch a;
    if (rl_arch_from_name(name, &a) != 0)
        return rl_fail("arch '%s' is unknown (known: gemma gemma2 llama mistral qwen2 gpt_neox llama2c, or the "
                       "Hugging Face class names)",
                       name);
    rl_model_config_default(c);
    c->arch = a;
    rl_rope_spec s;
    rl_rope_spec_default(&s);
    switch (a) {
    case RL_ARCH_GEMMA: break;
    case RL_ARCH_GEMMA2:
        c->sandwich_norm = 1;
        c->attn_softcap = 50;
        c->final_softcap = 30;
        c->sliding_window = 4096;
        for (int l = 0; l < RL_MAX_LAYERS; l++) c->sliding[l] = (l % 2 == 0); /* HF: is_sliding = not layer_idx % 2 */
        break;
    case RL_ARCH_LLAMA:
    case RL_ARCH_MISTRAL:
    case RL_ARCH_QWEN2:
    case RL_ARCH_LLAMA2C:
        c->norm_plus_one = 0;
        c->mlp = RL_MLP_SWIGLU;
        c->tie_embeddings = 0;
        c->embed_scale = 1;
        c->norm_eps = 1e-5;
        if (a == RL_ARCH_MISTRAL) {
            c->sliding_window = 4096;
            memset(c->sliding, 1, sizeof c->sliding);
        }
        if (a == RL_ARCH_QWEN2) {
            c->qkv_bias = 1;
            c->norm_eps = 1e-6;
            s.theta = 1e6;
            set_all_pe(c, &s);
        }
        if (a == RL_ARCH_LLAMA2C) {
            c->tie_embeddings = 1;
            s.layout = RL_LAYOUT_INTERLEAVED;
            set_all_pe(c, &s);
        }
        break;
    case RL_ARCH_GPT_NEOX:
        c->norm = RL_NORM_LAYER;
        c->norm_plus_one = 0;
        c->norm_eps = 1e-5;
        c->mlp = RL_MLP_GELU;
        c->qkv_bias = c->o_bias = c->mlp_bias = 1;
        c->fused_qkv = 1;
        c->n_kv_heads = c->n_heads;
        c->parallel_residual = 1;
        c->tie_embeddings = 0;
        c->embed_scale = 1;
        s.kind = RL_PE_PARTIAL;
        s.p = 0.25;
        set_all_pe(c, &s);
        break;
    default: break;
    }
    return 0;
}

/* ---- per-layer encodings ------------------------------------------------------------------- */

int rl_model_config_set_pe(rl_model_config *c, const char *list) {
    if (c->n_layers < 1 || c->n_layers > RL_MAX_LAYERS)
        return rl_fail("pe: n_layers %d must be set (1 .. %d) before the encodings", c->n_layers, RL_MAX_LAYERS);
    rl_rope_spec specs[RL_MAX_LAYERS];
    int k = 0;
    const char *p = list;
    for (;;) {
        const char *e = strchr(p, ';');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (k == RL_MAX_LAYERS) return rl_fail("pe: more than %d encodings in '%s'", RL_MAX_LAYERS, list);
        char buf[512];
        if (len >= sizeof buf) return rl_fail("pe: encoding %d of '%s' is too long", k + 1, list);
        memcpy(buf, p, len);
        buf[len] = 0;
        /* trim spaces around each entry */
        char *b = buf;
        while (*b == ' ') b++;
        for (char *t = b + strlen(b); t > b && t[-1] == ' ';) *--t = 0;
        if (!*b) return rl_fail("pe: encoding %d of '%s' is empty", k + 1, list);
        if (rl_rope_parse(b, &specs[k]) != 0) return rl_fail_prefix("pe: encoding %d ('%s')", k + 1, b);
        k++;
        if (!e) break;
        p = e + 1;
    }
    if (k != 1 && c->n_layers % k != 0)
        return rl_fail("pe: %d encodings for %d layers: give 1, %d, or a pattern whose length divides %d", k,
                       c->n_layers, c->n_layers, c->n_layers);
    for (int l = 0; l < RL_MAX_LAYERS; l++) c->pe[l] = specs[l % k];
    return 0;
}

static int spec_eq(const rl_rope_spec *a, const rl_rope_spec *b) {
    char x[256], y[256];
    rl_rope_format(a, x, sizeof x);
    rl_rope_format(b, y, sizeof y);
    return strcmp(x, y) == 0;
}

/* Shortest period k (dividing L) of a per-layer array, given an equality test. */
static int period_of(int L, const void *arr, size_t size, int (*eq)(const void *, const void *)) {
    for (int k = 1; k < L; k++) {
        if (L % k) continue;
        int ok = 1;
        for (int l = k; l < L && ok; l++)
            ok = eq((const char *)arr + (size_t)l * size, (const char *)arr + (size_t)(l % k) * size);
        if (ok) return k;
    }
    return L;
}

static int pe_eq(const void *a, const void *b) { return spec_eq(a, b); }
static int u8_eq(const void *a, const void *b) { return *(const uint8_t *)a == *(const uint8_t *)b; }

int rl_model_config_pe_period(const rl_model_config *c);
int rl_model_config_pe_period(const rl_model_config *c) {
    int L = c->n_layers < 1 ? 1 : c->n_layers > RL_MAX_LAYERS ? RL_MAX_LAYERS : c->n_layers;
    return period_of(L, c->pe, sizeof c->pe[0], pe_eq);
}

int rl_model_config_sliding_period(const rl_model_config *c);
int rl_model_config_sliding_period(const rl_model_config *c) {
    int L = c->n_layers < 1 ? 1 : c->n_layers > RL_MAX_LAYERS ? RL_MAX_LAYERS : c->n_layers;
    return period_of(L, c->sliding, 1, u8_eq);
}

int rl_model_config_pe_string(const rl_model_config *c, char *buf, size_t n) {
    int k = rl_model_config_pe_period(c);
    size_t used = 0;
    for (int l = 0; l < k; l++) {
        char one[256];
        rl_rope_format(&c->pe[l], one, sizeof one);
        int w = snprintf(used < n ? buf + used : NULL, used < n ? n - used : 0, "%s%s", l ? ";" : "", one);
        used += (size_t)w;
    }
    if (n && used >= n) buf[n - 1] = 0;
    if (!n) (void)buf;
    return (int)used;
}

/* ---- validation ---------------------------------------------------------------------------- */

static int finite_ge(double v, double lo) { return isfinite(v) && v >= lo; }

int rl_model_config_validate(const rl_model_config *c) {
    if ((unsigned)c->arch >= RL_ARCH_COUNT) return rl_fail("arch: value %d is not an architecture", (int)c->arch);
#define POS(field)                                                                                   \
    if (c->field < 1) return rl_fail(#field ": %d must be >= 1", c->field)
    POS(vocab_size);
    POS(d_model);
    POS(n_layers);
    POS(n_heads);
    POS(n_kv_heads);
    POS(head_dim);
    POS(d_ff);
    POS(max_seq);
#undef POS
    if (c->n_layers > RL_MAX_LAYERS) return rl_fail("n_layers: %d is more than %d", c->n_layers, RL_MAX_LAYERS);
    if (c->head_dim % 2) return rl_fail("head_dim: %d must be even (RoPE rotates pairs)", c->head_dim);
    if (c->n_heads % c->n_kv_heads)
        return rl_fail("n_kv_heads: %d must divide n_heads (%d)", c->n_kv_heads, c->n_heads);
    /* every matrix dimension must fit BLAS's int, and every row of qkv / gate-up too */
    const int64_t big = INT_MAX / 4;
    if ((int64_t)(c->n_heads + 2 * c->n_kv_heads) * c->head_dim > big || (int64_t)3 * c->n_heads * c->head_dim > big ||
        (int64_t)2 * c->d_ff > big || c->vocab_size > big || c->d_model > big)
        return rl_fail("head_dim: the sizes (n_heads %d, n_kv_heads %d, head_dim %d, d_ff %d, vocab_size %d) are too "
                       "large",
                       c->n_heads, c->n_kv_heads, c->head_dim, c->d_ff, c->vocab_size);
    if (c->norm != RL_NORM_RMS && c->norm != RL_NORM_LAYER) return rl_fail("norm: value %d is unknown", (int)c->norm);
    if (c->norm == RL_NORM_LAYER && c->norm_plus_one)
        return rl_fail("norm_plus_one: (1 + w) applies to RMSNorm only, not norm \"layer\"");
    if (!(isfinite(c->norm_eps) && c->norm_eps > 0)) return rl_fail("norm_eps: %g must be > 0", c->norm_eps);
    if ((unsigned)c->mlp > RL_MLP_GELU_TANH) return rl_fail("mlp: value %d is unknown", (int)c->mlp);
    if (c->fused_qkv && c->n_kv_heads != c->n_heads)
        return rl_fail("fused_qkv: needs n_kv_heads == n_heads (got %d and %d)", c->n_kv_heads, c->n_heads);
    if (!finite_ge(c->query_pre_attn_scalar, 0))
        return rl_fail("query_pre_attn_scalar: %g must be >= 0 (0 = head_dim)", c->query_pre_attn_scalar);
    if (!finite_ge(c->attn_softcap, 0)) return rl_fail("attn_softcap: %g must be >= 0 (0 = off)", c->attn_softcap);
    if (!finite_ge(c->final_softcap, 0)) return rl_fail("final_softcap: %g must be >= 0 (0 = off)", c->final_softcap);
    if (c->sliding_window < 0) return rl_fail("sliding_window: %d must be >= 0 (0 = off)", c->sliding_window);
    if ((unsigned)c->attn_softmax >= RL_ATTN_KIND_COUNT)
        return rl_fail("attn_softmax: value %d is unknown", (int)c->attn_softmax);
    for (int l = 0; l < c->n_layers; l++)
        if (c->sliding[l] > 1) return rl_fail("sliding_layers: layer %d has %d, expected 0 or 1", l, c->sliding[l]);
    if (!(c->embed_scale == RL_EMBED_SQRT_D || (isfinite(c->embed_scale) && c->embed_scale > 0)))
        return rl_fail("embed_scale: %g must be > 0 (or \"sqrt_d_model\")", c->embed_scale);
    if (c->bos_id < -1 || c->bos_id >= c->vocab_size)
        return rl_fail("bos_id: %d is outside [-1, vocab_size %d)", c->bos_id, c->vocab_size);
    if (c->eos_id < -1 || c->eos_id >= c->vocab_size)
        return rl_fail("eos_id: %d is outside [-1, vocab_size %d)", c->eos_id, c->vocab_size);
    if (!(isfinite(c->init_std) && c->init_std > 0)) return rl_fail("init_std: %g must be > 0", c->init_std);
    for (int l = 0; l < c->n_layers; l++) {
        rl_rope_freqs f;
        if (rl_rope_freqs_init(&f, &c->pe[l], c->head_dim, c->max_seq) != 0)
            return rl_fail_prefix("pe: layer %d", l);
        rl_rope_freqs_free(&f);
    }
    return 0;
}

int rl_model_config_check_trainable(const rl_model_config *c) {
    if (c->norm != RL_NORM_RMS) return rl_fail("training supports norm \"rms\" only (LayerNorm is inference-only)");
    if (c->mlp != RL_MLP_GEGLU && c->mlp != RL_MLP_SWIGLU)
        return rl_fail("training supports gated MLPs (mlp \"geglu\" or \"swiglu\") only");
    if (c->fused_qkv) return rl_fail("training does not support fused_qkv (inference only)");
    if (c->parallel_residual) return rl_fail("training does not support parallel_residual (inference only)");
    if (c->sandwich_norm) return rl_fail("training does not support sandwich_norm (inference only)");
    if (c->attn_softcap > 0 || c->final_softcap > 0)
        return rl_fail("training does not support soft-capping (attn_softcap / final_softcap must be 0)");
    return 0;
}

/* ---- derived ------------------------------------------------------------------------------- */

float rl_model_embed_scale(const rl_model_config *c) {
    return c->embed_scale == RL_EMBED_SQRT_D ? sqrtf((float)c->d_model) : (float)c->embed_scale;
}

float rl_model_attn_scale(const rl_model_config *c) {
    double s = c->query_pre_attn_scalar > 0 ? c->query_pre_attn_scalar : (double)c->head_dim;
    return (float)(1.0 / sqrt(s));
}

int rl_model_qkv_width(const rl_model_config *c) { return (c->n_heads + 2 * c->n_kv_heads) * c->head_dim; }
