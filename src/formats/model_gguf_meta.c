/* GGUF metadata -> model config and tokenizer (llama.cpp's llama, gemma, gemma2 and qwen2 keys),
 * kept apart from the weight binding so the fuzzer can drive it without the model library.
 * The decisions (pair layout, Gemma's baked norms, Gemma 2's scale, rope_freqs) are explained in
 * model_gguf.c and docs/formats.md, "Models". */
#include "model_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GGUF_ARCHS "llama, gemma, gemma2, qwen2"

typedef struct {
    const rl_tensors *ts;
    const char *arch; /* general.architecture */
    const char *path;
} gctx;

/* "{arch}.suffix" as an integer / number; dflt when absent unless required. */
static int key_i64(const gctx *g, const char *suffix, int64_t dflt, int required, int64_t *out) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", g->arch, suffix);
    if (!rl_meta_find(&g->ts->meta, key)) {
        if (required) return rl_fail("%s: metadata %s is missing", g->path, key);
        *out = dflt;
        return 0;
    }
    return rl_tensors_meta_i64(g->ts, key, out);
}

static int key_f64(const gctx *g, const char *suffix, double dflt, double *out) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", g->arch, suffix);
    if (!rl_meta_find(&g->ts->meta, key)) return *out = dflt, 0;
    return rl_tensors_meta_f64(g->ts, key, out);
}

/* An integer key into an int in [lo, hi]. */
static int key_int(const gctx *g, const char *suffix, int64_t dflt, int required, int64_t lo, int64_t hi, int *out) {
    int64_t v;
    if (key_i64(g, suffix, dflt, required, &v) != 0) return -1;
    if (v < lo || v > hi)
        return rl_fail("%s: metadata %s.%s = %lld is outside [%lld, %lld]", g->path, g->arch, suffix, (long long)v,
                       (long long)lo, (long long)hi);
    *out = (int)v;
    return 0;
}

/* ---- rope ----------------------------------------------------------------------------------- */

/* A rope_freqs tensor (llama.cpp's per-frequency divisors, written for Llama 3.1 scaling): accepted
 * when it equals Llama 3's formula for factor = its largest entry and the low/high frequency
 * factors and original context (our own keys when present, else Llama 3.1's 1, 4 and 8192). */
static int rope_freqs(const gctx *g, const rl_tensor *t, rl_rope_spec *s, int hd) {
    int n = hd / 2;
    if (t->numel != n)
        return rl_fail("%s: tensor rope_freqs.weight has %lld values, expected head_dim/2 = %d", g->path,
                       (long long)t->numel, n);
    float *f = rl_malloc((size_t)n * sizeof *f, "rope_freqs");
    if (!f || rl_tensor_to_f32(t, f) != 0) return free(f), -1;
    double mx = f[0];
    for (int k = 1; k < n; k++) mx = fmax(mx, f[k]);
    int rc = 0, all_one = 1;
    for (int k = 0; k < n; k++) all_one &= f[k] == 1.0f;
    if (!all_one) {
        int64_t orig;
        rl_rope_spec base = *s;
        s->scale = RL_SCALE_LLAMA3;
        s->factor = mx;
        if (key_i64(g, "rope.scaling.original_context_length", 8192, 0, &orig) ||
            key_f64(g, "rope.scaling.llama3_low_freq_factor", 1.0, &s->low_freq_factor) ||
            key_f64(g, "rope.scaling.llama3_high_freq_factor", 4.0, &s->high_freq_factor)) {
            free(f);
            return -1;
        }
        s->original = orig;
        rl_rope_freqs a, b;
        if (rl_rope_freqs_init(&a, &base, hd, 0) != 0) {
            free(f);
            return rl_fail_prefix("%s: rope_freqs.weight", g->path);
        }
        if (rl_rope_freqs_init(&b, s, hd, 0) != 0) {
            rl_rope_freqs_free(&a);
            free(f);
            return rl_fail_prefix("%s: tensor rope_freqs.weight (largest entry %g as a Llama 3 factor)", g->path, mx);
        }
        for (int k = 0; k < n && rc == 0; k++) {
            double want = a.freq[k] / b.freq[k];
            if (!(fabs(want - f[k]) <= 1e-5 * want))
                rc = rl_fail("%s: tensor rope_freqs.weight: entry %d is %.7g but Llama 3 scaling (factor %g, low %g, "
                             "high %g, original %lld) gives %.7g; other per-frequency factors are not supported",
                             g->path, k, (double)f[k], s->factor, s->low_freq_factor, s->high_freq_factor,
                             (long long)orig, want);
        }
        rl_rope_freqs_free(&a);
        rl_rope_freqs_free(&b);
    }
    free(f);
    return rc;
}

static int rope(const gctx *g, rl_model_config *c, int llama) {
    const int hd = c->head_dim;
    rl_rope_spec s;
    rl_rope_spec_default(&s);
    int n_rot;
    if (key_f64(g, "rope.freq_base", 10000.0, &s.theta) != 0 ||
        key_int(g, "rope.dimension_count", hd, 0, 0, hd, &n_rot) != 0)
        return -1;
    if (!(s.theta > 0)) return rl_fail("%s: metadata %s.rope.freq_base = %g must be > 0", g->path, g->arch, s.theta);
    s.layout = llama ? RL_LAYOUT_INTERLEAVED : RL_LAYOUT_HALF;
    if (n_rot != hd) {
        if (llama)
            return rl_fail("%s: metadata llama.rope.dimension_count = %d: llama.cpp's llama architecture rotates the "
                           "whole head (%d dims)",
                           g->path, n_rot, hd);
        if (n_rot == 0 || n_rot % 2)
            return rl_fail("%s: metadata %s.rope.dimension_count = %d must be a positive even number", g->path, g->arch, n_rot);
        s.kind = RL_PE_PARTIAL; /* NEOX rope over the first n_rot dims, theta^(-2k/n_rot) */
        s.p = ml_fraction(n_rot, hd);
    }
    char key[160];
    const char *type = "none";
    snprintf(key, sizeof key, "%s.rope.scaling.type", g->arch);
    if (rl_meta_find(&g->ts->meta, key) && rl_tensors_meta_str(g->ts, key, &type) != 0) return -1;
    double factor = 0;
    if (key_f64(g, "rope.scaling.factor", 0, &factor) != 0) return -1;
    if (factor == 0 && key_f64(g, "rope.scale_linear", 0, &factor) != 0) return -1; /* the older key */
    if (factor == 0 && strcmp(type, "none") == 0) factor = 1;
    if (strcmp(type, "none") == 0 || strcmp(type, "linear") == 0) {
        if (factor != 1) s.scale = RL_SCALE_LINEAR, s.factor = factor;
    } else if (strcmp(type, "yarn") == 0) {
        const char *unsupported[] = {"rope.scaling.yarn_log_multiplier", "rope.scaling.attn_factor",
                                     "rope.scaling.yarn_attn_factor", "rope.scaling.yarn_ext_factor"};
        for (size_t i = 0; i < RL_ARRAY_LEN(unsupported); i++) {
            snprintf(key, sizeof key, "%s.%s", g->arch, unsupported[i]);
            if (rl_meta_find(&g->ts->meta, key))
                return rl_fail("%s: metadata %s: this YaRN variant is not supported (ropelab reads factor, "
                               "original_context_length and yarn_beta_fast/slow)",
                               g->path, key);
        }
        int64_t orig;
        s.scale = RL_SCALE_YARN;
        s.factor = factor;
        if (key_i64(g, "rope.scaling.original_context_length", 0, 1, &orig) ||
            key_f64(g, "rope.scaling.yarn_beta_fast", 32, &s.beta_fast) ||
            key_f64(g, "rope.scaling.yarn_beta_slow", 1, &s.beta_slow))
            return -1;
        s.original = orig;
    } else {
        return rl_fail("%s: metadata %s = \"%s\" is not supported (none, linear, yarn)", g->path, key, type);
    }
    if (s.scale != RL_SCALE_NONE && !(s.factor > 0))
        return rl_fail("%s: metadata %s.rope.scaling.factor = %g must be > 0", g->path, g->arch, s.factor);
    const rl_tensor *rf = rl_tensors_find(g->ts, "rope_freqs.weight");
    if (rf) {
        if (s.scale != RL_SCALE_NONE)
            return rl_fail("%s: tensor rope_freqs.weight together with %s scaling is not supported", g->path, type);
        if (rope_freqs(g, rf, &s, hd) != 0) return -1;
    }
    for (int l = 0; l < RL_MAX_LAYERS; l++) c->pe[l] = s;
    return 0;
}

/* ---- config --------------------------------------------------------------------------------- */

static int config(const gctx *g, rl_model_config *c) {
    const rl_tensors *ts = g->ts;
    const char *a = g->arch;
    const int llama = strcmp(a, "llama") == 0, gemma2 = strcmp(a, "gemma2") == 0;
    if (!llama && !gemma2 && strcmp(a, "gemma") != 0 && strcmp(a, "qwen2") != 0)
        return rl_fail("%s: general.architecture \"%s\" is not supported (supported: " GGUF_ARCHS ")", g->path, a);
    rl_model_config_preset(c, llama ? "llama" : a);
    const int big = 1 << 30;
    if (key_int(g, "embedding_length", 0, 1, 1, big, &c->d_model) || key_int(g, "block_count", 0, 1, 1, RL_MAX_LAYERS, &c->n_layers) ||
        key_int(g, "attention.head_count", 0, 1, 1, big, &c->n_heads) ||
        key_int(g, "feed_forward_length", 0, 1, 1, big, &c->d_ff) ||
        key_int(g, "attention.head_count_kv", c->n_heads, 0, 1, big, &c->n_kv_heads) ||
        key_int(g, "attention.key_length", c->d_model / c->n_heads, 0, 1, big, &c->head_dim))
        return -1;
    int vlen, ctx;
    if (key_int(g, "attention.value_length", c->d_model / c->n_heads, 0, 1, big, &vlen) ||
        key_int(g, "context_length", 2048, 0, 1, big, &ctx))
        return -1;
    if (vlen != c->head_dim)
        return rl_fail("%s: metadata %s.attention.value_length = %d differs from key_length %d: not supported", g->path,
                       a, vlen, c->head_dim);
    c->max_seq = RL_MIN(ctx, 8192);
    if (key_f64(g, "attention.layer_norm_rms_epsilon", -1, &c->norm_eps) != 0) return -1;
    if (!(c->norm_eps > 0)) return rl_fail("%s: metadata %s.attention.layer_norm_rms_epsilon is missing or not > 0", g->path, a);
    const rl_tensor *emb = rl_tensors_find(ts, "token_embd.weight");
    if (!emb) return rl_fail("%s: tensor token_embd.weight is missing", g->path);
    if (emb->ndim != 2 || emb->shape[0] < 1 || emb->shape[0] > big)
        return rl_fail("%s: tensor token_embd.weight has %d dims, expected [vocab, embedding_length]", g->path, emb->ndim);
    c->vocab_size = (int)emb->shape[0];
    c->norm_plus_one = 0; /* gemma: the stored weights are already 1 + w */
    c->tie_embeddings = rl_tensors_find(ts, "output.weight") == NULL;
    c->qkv_bias = rl_tensors_find(ts, "blk.0.attn_q.bias") != NULL;
    c->o_bias = rl_tensors_find(ts, "blk.0.attn_output.bias") != NULL;
    if (gemma2) {
        int win;
        if (key_f64(g, "attn_logit_softcapping", 50, &c->attn_softcap) ||
            key_f64(g, "final_logit_softcapping", 30, &c->final_softcap) ||
            key_int(g, "attention.sliding_window", 0, 1, 0, big, &win))
            return -1;
        c->sliding_window = win;
        for (int l = 0; l < RL_MAX_LAYERS; l++) c->sliding[l] = l % 2 == 0; /* llama.cpp: swa pattern 2 */
        /* llama.cpp: 1/sqrt(n_embd / n_head) for the 46-layer (27B) model, else 1/sqrt(head_dim) */
        c->query_pre_attn_scalar = c->n_layers == 46 ? (double)c->d_model / c->n_heads : c->head_dim;
    }
    if (rope(g, c, llama) != 0) return -1;
    int64_t id;
    c->bos_id = c->eos_id = -1;
    if (rl_meta_find(&ts->meta, "tokenizer.ggml.bos_token_id") && rl_tensors_meta_i64(ts, "tokenizer.ggml.bos_token_id", &id) == 0)
        c->bos_id = id >= 0 && id < c->vocab_size ? (int)id : -1;
    if (rl_meta_find(&ts->meta, "tokenizer.ggml.eos_token_id") && rl_tensors_meta_i64(ts, "tokenizer.ggml.eos_token_id", &id) == 0)
        c->eos_id = id >= 0 && id < c->vocab_size ? (int)id : -1;
    if (rl_model_config_validate(c) != 0) return rl_fail_prefix("%s: model config from the GGUF metadata", g->path);
    return 0;
}

/* ---- tokenizer ------------------------------------------------------------------------------ */

/* An array entry of the expected element type with n elements, or NULL when absent. */
static int meta_array(const gctx *g, const char *key, rl_meta_type elem, int64_t n, const rl_meta **out) {
    const rl_meta *m = rl_meta_find(&g->ts->meta, key);
    *out = NULL;
    if (!m) return 0;
    if (m->type != RL_META_ARRAY || m->elem != elem)
        return rl_fail("%s: metadata %s is not an array of %s", g->path, key, rl_meta_type_name(elem));
    if (n >= 0 && (int64_t)m->count != n)
        return rl_fail("%s: metadata %s has %llu entries, expected %lld (one per token)", g->path, key,
                       (unsigned long long)m->count, (long long)n);
    *out = m;
    return 0;
}

static int32_t token_id(const rl_tensors *ts, const char *key) {
    int64_t v;
    if (!rl_meta_find(&ts->meta, key) || rl_tensors_meta_i64(ts, key, &v) != 0 || v < 0 || v > INT32_MAX) return -1;
    return (int32_t)v;
}

static int vocab(const gctx *g, rl_tokenizer **tok) {
    const rl_tensors *ts = g->ts;
    *tok = NULL;
    const char *model;
    if (!rl_meta_find(&ts->meta, "tokenizer.ggml.model")) return 0;
    if (rl_tensors_meta_str(ts, "tokenizer.ggml.model", &model) != 0) return -1;
    if (strcmp(model, "no_vocab") == 0) return 0;
    rl_tok_gguf v;
    memset(&v, 0, sizeof v);
    v.model = model;
    if (rl_meta_find(&ts->meta, "tokenizer.ggml.pre") && rl_tensors_meta_str(ts, "tokenizer.ggml.pre", &v.pre) != 0) return -1;
    const rl_meta *toks, *scores, *types, *merges;
    if (meta_array(g, "tokenizer.ggml.tokens", RL_META_STRING, -1, &toks) != 0) return -1;
    if (!toks) return rl_fail("%s: metadata tokenizer.ggml.tokens is missing", g->path);
    int64_t n = (int64_t)toks->count;
    if (meta_array(g, "tokenizer.ggml.scores", RL_META_F32, n, &scores) ||
        meta_array(g, "tokenizer.ggml.token_type", RL_META_I32, n, &types) ||
        meta_array(g, "tokenizer.ggml.merges", RL_META_STRING, -1, &merges))
        return -1;
    int rc = -1;
    const char **tt = rl_calloc((size_t)n + 1, sizeof *tt, "GGUF tokens");
    uint64_t *tl = rl_calloc((size_t)n + 1, sizeof *tl, "GGUF tokens");
    float *sc = scores ? rl_malloc((size_t)n * sizeof *sc + 1, "GGUF scores") : NULL;
    int32_t *ty = types ? rl_malloc((size_t)n * sizeof *ty + 1, "GGUF token types") : NULL;
    int64_t nm = merges ? (int64_t)merges->count : 0;
    const char **mt = rl_calloc((size_t)nm + 1, sizeof *mt, "GGUF merges");
    uint64_t *ml = rl_calloc((size_t)nm + 1, sizeof *ml, "GGUF merges");
    if (!tt || !tl || (scores && !sc) || (types && !ty) || !mt || !ml) goto out;
    for (int64_t i = 0; i < n; i++) {
        size_t len;
        double d;
        int64_t iv;
        rl_meta_arr_str(toks, (uint64_t)i, &tt[i], &len);
        tl[i] = len;
        if (sc) rl_meta_arr_f64(scores, (uint64_t)i, &d), sc[i] = (float)d;
        if (ty) rl_meta_arr_i64(types, (uint64_t)i, &iv), ty[i] = (int32_t)iv;
    }
    for (int64_t i = 0; i < nm; i++) {
        size_t len;
        rl_meta_arr_str(merges, (uint64_t)i, &mt[i], &len);
        ml[i] = len;
    }
    v.n_tokens = n;
    v.tokens = tt;
    v.token_lens = tl;
    v.scores = sc;
    v.token_types = ty;
    v.n_merges = nm;
    v.merges = merges ? mt : NULL;
    v.merge_lens = merges ? ml : NULL;
    v.bos_id = token_id(ts, "tokenizer.ggml.bos_token_id");
    v.eos_id = token_id(ts, "tokenizer.ggml.eos_token_id");
    v.unk_id = token_id(ts, "tokenizer.ggml.unknown_token_id");
    v.pad_id = token_id(ts, "tokenizer.ggml.padding_token_id");
    int b;
    v.add_space_prefix = rl_meta_find(&ts->meta, "tokenizer.ggml.add_space_prefix") &&
                                 rl_tensors_meta_bool(ts, "tokenizer.ggml.add_space_prefix", &b) == 0
                             ? b
                             : -1;
    *tok = rl_tok_from_gguf(&v, g->path);
    rc = *tok ? 0 : -1;
out:
    free(tt), free(tl), free(sc), free(ty), free(mt), free(ml);
    return rc;
}

int ml_gguf_config(const rl_tensors *ts, const char *path, rl_model_config *c) {
    gctx g = {ts, NULL, path};
    if (!rl_meta_find(&ts->meta, "general.architecture"))
        return rl_fail("%s: metadata general.architecture is missing", path);
    if (rl_tensors_meta_str(ts, "general.architecture", &g.arch) != 0) return -1;
    return config(&g, c);
}

int ml_gguf_vocab(const rl_tensors *ts, const char *path, rl_tokenizer **tok) {
    gctx g = {ts, NULL, path};
    return vocab(&g, tok);
}
