/* rl_gguf_export: a model as a GGUF v3 file for llama.cpp (architectures llama, gemma, gemma2,
 * qwen2), with the q/k rows permuted to the rope llama.cpp runs for that architecture.
 *
 * llama.cpp has one rope per model: NORM (interleaved pairs) for `llama`, NEOX (half pairs) for
 * the others, over the first n_rot = rope.dimension_count dims with freq_k = s * base^(-2k/n_rot)
 * (s = 1 / linear factor). Any encoding whose rotated chunks follow that law fits after moving
 * those chunks to the front: RoPE and partial rotary directly, p-RoPE with m kept chunks as
 * n_rot = 2m and base theta^(2m/d) (the identity of PAPER_NOTES.md), reversed p-RoPE likewise with
 * s = theta^(-(d-2m)/d). NoPE, per-layer encodings, dynamic NTK scaling and anything else llama.cpp
 * would compute differently fail with a message; use the Hugging Face export for those. */
#include "model_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *arch;    /* GGUF architecture */
    int llama;           /* NORM rope (interleaved) */
    rl_rope_spec target; /* what llama.cpp will run */
    int n_rot;
    double freq_base, factor;   /* factor: linear scaling (1 = none) */
    int chunk_map[1024];        /* target chunk k <- source chunk chunk_map[k] */
    int *perm;                  /* [hd] */
    float *rope_freqs;          /* [hd/2] Llama 3 divisors, or NULL */
} gplan;

static int fail(const char *path, const char *why) {
    return rl_fail("%s: cannot export to GGUF: %s (the Hugging Face export, --hf, keeps every model exactly)", path, why);
}

/* The rope llama.cpp will run and the chunk order that makes it equal to the model's. */
static int plan_rope(const char *path, const rl_model_config *c, gplan *g) {
    const int hd = c->head_dim, nc = hd / 2;
    char a[256], b[256];
    rl_rope_format(&c->pe[0], a, sizeof a);
    for (int l = 1; l < c->n_layers; l++) {
        rl_rope_format(&c->pe[l], b, sizeof b);
        if (strcmp(a, b) != 0) return fail(path, "the layers use different positional encodings; llama.cpp has one rope per model");
    }
    if (nc > (int)RL_ARRAY_LEN(g->chunk_map)) return fail(path, "head_dim is larger than 2048");
    const rl_rope_spec *s = &c->pe[0];
    rl_rope_freqs f;
    if (rl_rope_freqs_init(&f, s, hd, 0) != 0) return -1;
    int m = 0; /* rotated chunks, in order of decreasing frequency */
    for (int k = 0; k < nc; k++)
        if (f.freq[k] != 0) g->chunk_map[m++] = k;
    for (int k = 0, j = m; k < nc; k++) /* then the unrotated ones */
        if (f.freq[k] == 0) g->chunk_map[j++] = k;
    rl_rope_freqs_free(&f);
    double theta = s->theta, scale = s->scale == RL_SCALE_LINEAR ? s->factor : 1.0;
    if (s->scale == RL_SCALE_DYNAMIC) return fail(path, "llama.cpp has no dynamic NTK scaling");
    if ((s->scale == RL_SCALE_YARN || s->scale == RL_SCALE_LLAMA3) && s->kind != RL_PE_ROPE)
        return fail(path, "YaRN / Llama 3 scaling is supported on plain RoPE only");
    if (s->scale == RL_SCALE_YARN && (s->attention_factor > 0 || s->mscale > 0 || s->mscale_all_dim > 0 || !s->truncate))
        return fail(path, "this YaRN variant (attention_factor / mscale / truncate) has no llama.cpp key");
    if (m == 0) return fail(path, "NoPE (no rotated dims) has no llama.cpp rope");
    if (g->llama && 2 * m != hd) return fail(path, "llama.cpp's llama architecture rotates the whole head, this encoding does not");
    switch (s->kind) {
    case RL_PE_ROPE:
    case RL_PE_PARTIAL: break;
    case RL_PE_PROPE: theta = pow(s->theta, 2.0 * m / hd); break;
    case RL_PE_PROPE_REV:
        theta = pow(s->theta, 2.0 * m / hd);
        scale *= pow(s->theta, (double)(hd - 2 * m) / hd);
        break;
    default: return fail(path, "this encoding has no llama.cpp rope");
    }
    g->n_rot = 2 * m;
    g->freq_base = (float)theta; /* GGUF stores it as float32; check against what llama.cpp will read */
    g->factor = scale;
    rl_rope_spec *t = &g->target;
    *t = *s;
    t->kind = g->n_rot == hd ? RL_PE_ROPE : RL_PE_PARTIAL;
    t->p = g->n_rot == hd ? 1.0 : ml_fraction(g->n_rot, hd);
    t->theta = g->freq_base;
    t->layout = g->llama ? RL_LAYOUT_INTERLEAVED : RL_LAYOUT_HALF;
    if (s->scale == RL_SCALE_NONE || s->scale == RL_SCALE_LINEAR) {
        t->scale = scale != 1 ? RL_SCALE_LINEAR : RL_SCALE_NONE;
        t->factor = scale;
    }
    /* the target's frequencies must equal the model's, chunk for chunk */
    rl_rope_freqs fs, ft;
    if (rl_rope_freqs_init(&fs, s, hd, 0) != 0) return -1;
    if (rl_rope_freqs_init(&ft, t, hd, 0) != 0) {
        rl_rope_freqs_free(&fs);
        return -1;
    }
    int ok = 1;
    for (int k = 0; k < nc && ok; k++) ok = fabs(ft.freq[k] - fs.freq[g->chunk_map[k]]) <= 1e-6 * fs.freq[g->chunk_map[k]];
    if (ok && s->scale == RL_SCALE_LLAMA3) { /* llama.cpp divides base^(-2k/n_rot) by rope_freqs[k] */
        rl_rope_spec plain = *s;
        plain.scale = RL_SCALE_NONE;
        rl_rope_freqs fp;
        g->rope_freqs = rl_malloc((size_t)nc * sizeof(float), "rope_freqs");
        if (!g->rope_freqs || rl_rope_freqs_init(&fp, &plain, hd, 0) != 0) ok = -1;
        for (int k = 0; ok == 1 && k < nc; k++) g->rope_freqs[k] = (float)(fp.freq[k] / fs.freq[k]);
        if (ok == 1) rl_rope_freqs_free(&fp);
    }
    rl_rope_freqs_free(&fs);
    rl_rope_freqs_free(&ft);
    if (ok < 0) return -1;
    if (!ok) return fail(path, "the rotated frequencies do not follow llama.cpp's base^(-2k/n_rot) law");
    g->perm = rl_malloc((size_t)hd * sizeof *g->perm, "permutation");
    if (!g->perm) return -1;
    return ml_chunk_perm(s, t, hd, g->chunk_map, g->perm);
}

/* The architecture and every check of what llama.cpp's graph for it computes. */
static int plan(const char *path, const rl_model *m, gplan *g) {
    const rl_model_config *c = &m->cfg;
    memset(g, 0, sizeof *g);
    switch (c->arch) {
    case RL_ARCH_GEMMA: g->arch = "gemma"; break;
    case RL_ARCH_GEMMA2: g->arch = "gemma2"; break;
    case RL_ARCH_QWEN2: g->arch = "qwen2"; break;
    case RL_ARCH_LLAMA:
    case RL_ARCH_MISTRAL:
    case RL_ARCH_LLAMA2C: g->arch = "llama", g->llama = 1; break;
    default: return fail(path, "GGUF export supports the gemma, gemma2, llama (also Mistral, llama2.c) and qwen2 architectures");
    }
    const int gemma = c->arch == RL_ARCH_GEMMA || c->arch == RL_ARCH_GEMMA2, gemma2 = c->arch == RL_ARCH_GEMMA2;
    if (c->norm != RL_NORM_RMS || c->fused_qkv || c->parallel_residual)
        return fail(path, "llama.cpp's graph for this architecture needs RMSNorm, separate q/k/v and a sequential residual");
    if (c->mlp != (gemma ? RL_MLP_GEGLU : RL_MLP_SWIGLU)) return fail(path, "the MLP activation differs from the architecture's");
    if (c->sandwich_norm != gemma2) return fail(path, "sandwich norms are gemma2's only");
    if (!gemma2 && (c->attn_softcap > 0 || c->final_softcap > 0)) return fail(path, "soft-capping is gemma2's only");
    double es = rl_model_embed_scale(c);
    if (gemma ? fabs(es - sqrt((double)c->d_model)) > 1e-6 * es : es != 1)
        return fail(path, "the embedding scale differs from the architecture's");
    if (gemma && !c->tie_embeddings) return fail(path, "llama.cpp's gemma ties the output head to the embedding");
    if (c->mlp_bias || (gemma && (c->qkv_bias || c->o_bias)) || (c->arch == RL_ARCH_QWEN2 && c->o_bias))
        return fail(path, "these biases have no tensor in llama.cpp's graph for the architecture");
    double qpas = c->query_pre_attn_scalar > 0 ? c->query_pre_attn_scalar : c->head_dim;
    double want = gemma2 && c->n_layers == 46 ? (double)c->d_model / c->n_heads : c->head_dim;
    if (qpas != want) return fail(path, "llama.cpp fixes the attention scale to 1/sqrt(head_dim) (gemma2 27B: n_embd/n_head)");
    int any = 0, even = 1;
    for (int l = 0; l < c->n_layers; l++) {
        any |= c->sliding_window > 0 && c->sliding[l];
        even &= c->sliding[l] == (l % 2 == 0);
    }
    if (gemma2 ? !(c->sliding_window > 0 && even) : any)
        return fail(path, gemma2 ? "llama.cpp's gemma2 uses a sliding window on exactly the even layers"
                                 : "llama.cpp has no sliding window for this architecture");
    return plan_rope(path, c, g);
}

/* ---- metadata ------------------------------------------------------------------------------- */

static int add_vocab(rl_meta_list *md, const rl_tokenizer *tok, int vocab) {
    if (!tok) return rl_meta_add_str(md, "tokenizer.ggml.model", "no_vocab");
    rl_tok_gguf v;
    if (rl_tok_to_gguf(tok, &v) != 0) return -1;
    int rc = -1;
    int64_t n = vocab; /* llama.cpp needs one token per embedding row: pad with unused ones */
    const char **tt = rl_calloc((size_t)n, sizeof *tt, "tokens");
    char *pads = rl_malloc((size_t)(n - v.n_tokens) * 16 + 1, "padding tokens");
    float *sc = v.scores ? rl_calloc((size_t)n, sizeof *sc, "scores") : NULL;
    int32_t *ty = rl_malloc((size_t)n * sizeof *ty, "token types");
    if (!tt || !pads || (v.scores && !sc) || !ty) goto out;
    for (int64_t i = 0; i < n; i++) {
        if (i < v.n_tokens) {
            tt[i] = v.tokens[i];
            ty[i] = v.token_types ? v.token_types[i] : RL_TOKT_NORMAL;
            if (sc) sc[i] = v.scores[i];
        } else {
            char *p = pads + (i - v.n_tokens) * 16;
            snprintf(p, 16, "[PAD%lld]", (long long)i);
            tt[i] = p;
            ty[i] = RL_TOKT_UNUSED;
        }
    }
    if (rl_meta_add_str(md, "tokenizer.ggml.model", v.model) || (v.pre && rl_meta_add_str(md, "tokenizer.ggml.pre", v.pre)) ||
        rl_meta_add_arr_str(md, "tokenizer.ggml.tokens", tt, (uint64_t)n) ||
        (sc && rl_meta_add_arr(md, "tokenizer.ggml.scores", RL_META_F32, sc, (uint64_t)n)) ||
        rl_meta_add_arr(md, "tokenizer.ggml.token_type", RL_META_I32, ty, (uint64_t)n) ||
        (v.n_merges && rl_meta_add_arr_str(md, "tokenizer.ggml.merges", v.merges, (uint64_t)v.n_merges)))
        goto out;
    const struct {
        const char *key;
        int32_t id;
    } ids[] = {{"tokenizer.ggml.bos_token_id", v.bos_id}, {"tokenizer.ggml.eos_token_id", v.eos_id},
               {"tokenizer.ggml.unknown_token_id", v.unk_id}, {"tokenizer.ggml.padding_token_id", v.pad_id}};
    for (size_t i = 0; i < RL_ARRAY_LEN(ids); i++)
        if (ids[i].id >= 0 && rl_meta_add_u32(md, ids[i].key, (uint32_t)ids[i].id)) goto out;
    if (v.add_space_prefix >= 0 && rl_meta_add_bool(md, "tokenizer.ggml.add_space_prefix", v.add_space_prefix)) goto out;
    rc = 0;
out:
    free(tt), free(pads), free(sc), free(ty);
    rl_tok_gguf_free(&v);
    return rc;
}

static int add_meta(rl_meta_list *md, const rl_model_config *c, const gplan *g, rl_dtype dtype) {
    char k[128];
#define KEY(suffix) (snprintf(k, sizeof k, "%s.%s", g->arch, suffix), k)
    const rl_rope_spec *s = &c->pe[0];
    int ftype = dtype == RL_DT_F16 ? 1 : dtype == RL_DT_Q8_0 ? 7 : dtype == RL_DT_BF16 ? 32 : 0; /* llama_ftype */
    int rc = rl_meta_add_str(md, "general.architecture", g->arch) || rl_meta_add_str(md, "general.name", "ropelab") ||
             rl_meta_add_u32(md, "general.file_type", (uint32_t)ftype) ||
             rl_meta_add_u32(md, KEY("vocab_size"), (uint32_t)c->vocab_size) ||
             rl_meta_add_u32(md, KEY("context_length"), (uint32_t)c->max_seq) ||
             rl_meta_add_u32(md, KEY("embedding_length"), (uint32_t)c->d_model) ||
             rl_meta_add_u32(md, KEY("block_count"), (uint32_t)c->n_layers) ||
             rl_meta_add_u32(md, KEY("feed_forward_length"), (uint32_t)c->d_ff) ||
             rl_meta_add_u32(md, KEY("attention.head_count"), (uint32_t)c->n_heads) ||
             rl_meta_add_u32(md, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_heads) ||
             rl_meta_add_u32(md, KEY("attention.key_length"), (uint32_t)c->head_dim) ||
             rl_meta_add_u32(md, KEY("attention.value_length"), (uint32_t)c->head_dim) ||
             rl_meta_add_f32(md, KEY("attention.layer_norm_rms_epsilon"), (float)c->norm_eps) ||
             rl_meta_add_f32(md, KEY("rope.freq_base"), (float)g->freq_base) ||
             rl_meta_add_u32(md, KEY("rope.dimension_count"), (uint32_t)g->n_rot);
    if (!rc && g->factor != 1 && s->scale != RL_SCALE_YARN)
        rc = rl_meta_add_str(md, KEY("rope.scaling.type"), "linear") ||
             rl_meta_add_f32(md, KEY("rope.scaling.factor"), (float)g->factor);
    if (!rc && s->scale == RL_SCALE_YARN)
        rc = rl_meta_add_str(md, KEY("rope.scaling.type"), "yarn") ||
             rl_meta_add_f32(md, KEY("rope.scaling.factor"), (float)s->factor) ||
             rl_meta_add_u32(md, KEY("rope.scaling.original_context_length"), (uint32_t)s->original) ||
             rl_meta_add_f32(md, KEY("rope.scaling.yarn_beta_fast"), (float)s->beta_fast) ||
             rl_meta_add_f32(md, KEY("rope.scaling.yarn_beta_slow"), (float)s->beta_slow);
    if (!rc && s->scale == RL_SCALE_LLAMA3) /* llama.cpp reads rope_freqs; the parameters are for our loader */
        rc = rl_meta_add_u32(md, KEY("rope.scaling.original_context_length"), (uint32_t)s->original) ||
             rl_meta_add_f32(md, KEY("rope.scaling.llama3_low_freq_factor"), (float)s->low_freq_factor) ||
             rl_meta_add_f32(md, KEY("rope.scaling.llama3_high_freq_factor"), (float)s->high_freq_factor);
    if (!rc && c->arch == RL_ARCH_GEMMA2)
        rc = rl_meta_add_f32(md, KEY("attn_logit_softcapping"), (float)c->attn_softcap) ||
             rl_meta_add_f32(md, KEY("final_logit_softcapping"), (float)c->final_softcap) ||
             rl_meta_add_u32(md, KEY("attention.sliding_window"), (uint32_t)c->sliding_window);
#undef KEY
    return rc ? -1 : 0;
}

/* ---- the file ------------------------------------------------------------------------------- */

/* Storage dtype of one tensor: vectors stay F32 (as llama.cpp's converter keeps norms and biases);
 * Q8_0 needs rows that are whole blocks, else F16. */
static rl_dtype tensor_dtype(rl_dtype want, int ndim, int64_t row) {
    if (ndim == 1 || want == RL_DT_F32) return RL_DT_F32;
    if (want == RL_DT_Q8_0 && row % RL_Q8_0_BLOCK != 0) return RL_DT_F16;
    return want;
}

int rl_gguf_export(const char *path, const rl_model *m, const rl_tokenizer *tok, rl_dtype dtype) {
    if (dtype != RL_DT_F32 && dtype != RL_DT_F16 && dtype != RL_DT_BF16 && dtype != RL_DT_Q8_0)
        return rl_fail("%s: GGUF export dtype %s is not supported (F32, F16, BF16 or Q8_0)", path, rl_dtype_name(dtype));
    const rl_model_config *c = &m->cfg;
    gplan g;
    memset(&g, 0, sizeof g);
    rl_meta_list md = {0};
    int n = 0, rc = -1, cap = m->n_tensors + 3 * c->n_layers + 1;
    rl_write_tensor *wt = rl_calloc((size_t)cap, sizeof *wt, "tensors to write");
    float **bufs = rl_calloc((size_t)cap, sizeof *bufs, "tensor copies");
    char(*names)[128] = rl_calloc((size_t)cap, sizeof *names, "tensor names");
    if (!wt || !bufs || !names) goto out;
    if (plan(path, m, &g) != 0) goto out;
    ml_xform x = {{0}, c->norm_plus_one ? 1.0f : 0.0f}; /* llama.cpp's RMSNorm is plain w: bake (1 + w) in */
    int identity = 1;
    for (int i = 0; i < c->head_dim; i++) identity &= g.perm[i] == i;
    for (int l = 0; l < c->n_layers && !identity; l++) x.perm[l] = g.perm;
    if (g.rope_freqs) {
        snprintf(names[n], sizeof names[n], "rope_freqs.weight");
        wt[n] = (rl_write_tensor){names[n], RL_DT_F32, 1, {c->head_dim / 2}, g.rope_freqs, NULL};
        n++;
    }
    for (int i = 0; i < m->n_tensors; i++) {
        const rl_param_info *e = &m->table[i];
        if (ml_gguf_name(e->name, c->sandwich_norm, names[n], sizeof names[n]) != 0) {
            rl_fail("%s: no GGUF name for tensor %s", path, e->name);
            goto out;
        }
        int owned;
        float *data = ml_xform_tensor(m, e, &x, &owned);
        if (!data) goto out;
        if (owned) bufs[n] = data;
        wt[n] = (rl_write_tensor){names[n], tensor_dtype(dtype, e->ndim, e->shape[1]), e->ndim, {e->shape[0], e->shape[1]}, data, NULL};
        n++;
        /* llama.cpp's qwen2 requires q/k/v biases: zeros when the model has none */
        const rl_layer_params *y = e->layer >= 0 ? &m->p.layer[e->layer] : NULL;
        if (c->arch == RL_ARCH_QWEN2 && !c->qkv_bias && y && e->slot == &y->wv) {
            const char *part[3] = {"q", "k", "v"};
            int64_t rows[3] = {(int64_t)c->n_heads * c->head_dim, (int64_t)c->n_kv_heads * c->head_dim,
                               (int64_t)c->n_kv_heads * c->head_dim};
            for (int j = 0; j < 3; j++) {
                snprintf(names[n], sizeof names[n], "blk.%d.attn_%s.bias", e->layer, part[j]);
                if (!(bufs[n] = rl_calloc((size_t)rows[j], sizeof(float), "zero bias"))) goto out;
                wt[n] = (rl_write_tensor){names[n], RL_DT_F32, 1, {rows[j]}, bufs[n], NULL};
                n++;
            }
        }
    }
    if (tok && rl_tok_vocab_size(tok) > c->vocab_size) {
        rl_fail("%s: the tokenizer has %d tokens, more than the model's %d embedding rows", path, rl_tok_vocab_size(tok),
                c->vocab_size);
        goto out;
    }
    if (add_meta(&md, c, &g, dtype) != 0 || add_vocab(&md, tok, c->vocab_size) != 0) goto out;
    rc = rl_gguf_write(path, wt, n, &md);
out:
    for (int i = 0; bufs && i < n; i++) free(bufs[i]);
    free(bufs);
    free(wt);
    free(names);
    free(g.perm);
    free(g.rope_freqs);
    rl_meta_list_free(&md);
    return rc;
}
