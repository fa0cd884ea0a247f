/* Naive float64 reference of every model architecture (see model_ref.h). Deliberately written as
 * the Hugging Face modules read: one token, one head, one dimension at a time. */
#include "model_ref.h"

#include "ropelab/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double *W(const rl_model *m, const double *P, const char *fmt, ...) {
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const rl_param_info *e = rl_model_find_param(m, name);
    if (!e) {
        fprintf(stderr, "model_ref: no tensor named %s\n", name);
        abort();
    }
    return P + e->offset;
}

static const double *W_opt(const rl_model *m, const double *P, const char *name) {
    const rl_param_info *e = rl_model_find_param(m, name);
    return e ? P + e->offset : NULL;
}

double *ref_params_from_model(const rl_model *m) {
    double *P = calloc(m->n_params, sizeof *P);
    for (int i = 0; i < m->n_tensors; i++) {
        const rl_param_info *e = &m->table[i];
        const float *src = *e->slot;
        for (size_t j = 0; j < e->numel; j++) P[e->offset + j] = src[j];
    }
    return P;
}

/* y = x W^T + b for one row: x [in], W [out][in], b [out] or NULL. */
static void linear(double *y, const double *x, const double *w, const double *b, int in, int out) {
    for (int o = 0; o < out; o++) {
        double s = b ? b[o] : 0;
        for (int i = 0; i < in; i++) s += x[i] * w[(size_t)o * in + i];
        y[o] = s;
    }
}

static void normalize(const rl_model_config *c, double *y, const double *x, const double *w, const double *b) {
    int D = c->d_model;
    if (c->norm == RL_NORM_LAYER) { /* torch.nn.LayerNorm */
        double mu = 0, var = 0;
        for (int i = 0; i < D; i++) mu += x[i] / D;
        for (int i = 0; i < D; i++) var += (x[i] - mu) * (x[i] - mu) / D;
        for (int i = 0; i < D; i++) y[i] = (x[i] - mu) / sqrt(var + c->norm_eps) * w[i] + b[i];
    } else { /* LlamaRMSNorm / GemmaRMSNorm */
        double ms = 0;
        for (int i = 0; i < D; i++) ms += x[i] * x[i] / D;
        double r = 1 / sqrt(ms + c->norm_eps);
        for (int i = 0; i < D; i++) y[i] = x[i] * r * (c->norm_plus_one ? 1 + w[i] : w[i]);
    }
}

static double gelu_tanh(double x) { return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }
static double gelu_erf(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double silu(double x) { return x / (1 + exp(-x)); }

/* Rotates one head vector at position pos, as transformers' apply_rotary_pos_emb (half layout:
 * rotate_half over the first R dims) or llama2.c (interleaved pairs). */
static void rotate(const rl_rope_freqs *f, double *x, int pos) {
    int d = f->head_dim, R = f->rot_dims;
    double *y = malloc((size_t)d * sizeof *y);
    memcpy(y, x, (size_t)d * sizeof *y);
    if (f->layout == RL_LAYOUT_HALF) {
        for (int j = 0; j < R; j++) {
            int k = j % (R / 2);
            double ang = pos * f->freq[k], c = cos(ang) * f->attn_factor, s = sin(ang) * f->attn_factor;
            double rh = j < R / 2 ? -x[j + R / 2] : x[j - R / 2]; /* rotate_half */
            y[j] = x[j] * c + rh * s;
        }
    } else {
        for (int k = 0; k < d / 2; k++) {
            double ang = pos * f->freq[k], c = cos(ang) * f->attn_factor, s = sin(ang) * f->attn_factor;
            if (k >= R / 2) c = 1, s = 0; /* partial: pass-through chunks */
            y[2 * k] = x[2 * k] * c - x[2 * k + 1] * s;
            y[2 * k + 1] = x[2 * k] * s + x[2 * k + 1] * c;
        }
    }
    memcpy(x, y, (size_t)d * sizeof *y);
    free(y);
}

void ref_forward(const rl_model *m, const double *P, const int32_t *tok, int n, double *logits) {
    const rl_model_config *c = &m->cfg;
    const int D = c->d_model, H = c->n_heads, KV = c->n_kv_heads, hd = c->head_dim, F = c->d_ff, V = c->vocab_size;
    const int neox = c->arch == RL_ARCH_GPT_NEOX, gated = c->mlp == RL_MLP_GEGLU || c->mlp == RL_MLP_SWIGLU;
    const char *pre = neox ? "gpt_neox.layers" : "model.layers", *att = neox ? "attention" : "self_attn";
    double *x = calloc((size_t)n * D, sizeof *x), *h = malloc((size_t)D * sizeof *h), *h2 = malloc((size_t)D * sizeof *h2);
    double *q = malloc((size_t)n * H * hd * sizeof *q), *k = malloc((size_t)n * KV * hd * sizeof *k);
    double *v = malloc((size_t)n * KV * hd * sizeof *v), *o = malloc((size_t)n * H * hd * sizeof *o);
    double *delta = malloc((size_t)n * D * sizeof *delta), *tmp = malloc((size_t)3 * H * hd * sizeof *tmp);
    double *g = malloc((size_t)F * sizeof *g), *u = malloc((size_t)F * sizeof *u), *p = malloc((size_t)n * sizeof *p);
    double *hn = malloc((size_t)n * D * sizeof *hn), *br = malloc((size_t)D * sizeof *br);

    const double *wte = W(m, P, neox ? "gpt_neox.embed_in.weight" : "model.embed_tokens.weight");
    double es = c->embed_scale == RL_EMBED_SQRT_D ? sqrt((double)D) : c->embed_scale;
    for (int t = 0; t < n; t++)
        for (int i = 0; i < D; i++) x[(size_t)t * D + i] = wte[(size_t)tok[t] * D + i] * es;

    for (int l = 0; l < c->n_layers; l++) {
        char nm[160];
        const double *n1w = W(m, P, "%s.%d.input_layernorm.weight", pre, l);
        snprintf(nm, sizeof nm, "%s.%d.input_layernorm.bias", pre, l);
        const double *n1b = W_opt(m, P, nm);
        /* q, k, v of every token */
        for (int t = 0; t < n; t++) {
            normalize(c, h, x + (size_t)t * D, n1w, n1b);
            if (c->fused_qkv) {
                snprintf(nm, sizeof nm, "%s.%d.%s.%s.bias", pre, l, att, neox ? "query_key_value" : "qkv_proj");
                linear(tmp, h, W(m, P, "%s.%d.%s.%s.weight", pre, l, att, neox ? "query_key_value" : "qkv_proj"),
                       W_opt(m, P, nm), D, 3 * H * hd);
                /* GPT-NeoX: view(..., heads, 3 * head_dim) then split q | k | v within each head */
                for (int hh = 0; hh < H; hh++)
                    for (int d = 0; d < hd; d++) {
                        q[((size_t)t * H + hh) * hd + d] = tmp[hh * 3 * hd + d];
                        k[((size_t)t * KV + hh) * hd + d] = tmp[hh * 3 * hd + hd + d];
                        v[((size_t)t * KV + hh) * hd + d] = tmp[hh * 3 * hd + 2 * hd + d];
                    }
            } else {
                char b[160];
                snprintf(b, sizeof b, "%s.%d.%s.q_proj.bias", pre, l, att);
                linear(q + (size_t)t * H * hd, h, W(m, P, "%s.%d.%s.q_proj.weight", pre, l, att), W_opt(m, P, b), D,
                       H * hd);
                snprintf(b, sizeof b, "%s.%d.%s.k_proj.bias", pre, l, att);
                linear(k + (size_t)t * KV * hd, h, W(m, P, "%s.%d.%s.k_proj.weight", pre, l, att), W_opt(m, P, b), D,
                       KV * hd);
                snprintf(b, sizeof b, "%s.%d.%s.v_proj.bias", pre, l, att);
                linear(v + (size_t)t * KV * hd, h, W(m, P, "%s.%d.%s.v_proj.weight", pre, l, att), W_opt(m, P, b), D,
                       KV * hd);
            }
        }
        /* rotary embedding */
        rl_rope_freqs f;
        if (rl_rope_freqs_init(&f, &c->pe[l], hd, n) != 0) abort();
        for (int t = 0; t < n; t++) {
            for (int hh = 0; hh < H; hh++) rotate(&f, q + ((size_t)t * H + hh) * hd, t);
            for (int hh = 0; hh < KV; hh++) rotate(&f, k + ((size_t)t * KV + hh) * hd, t);
        }
        rl_rope_freqs_free(&f);
        /* attention: eager_attention_forward with repeat_kv, causal (+ sliding window) mask */
        double scale = 1 / sqrt(c->query_pre_attn_scalar > 0 ? c->query_pre_attn_scalar : (double)hd);
        int window = c->sliding[l] ? c->sliding_window : 0;
        for (int hh = 0; hh < H; hh++) {
            int gk = hh / (H / KV);
            for (int i = 0; i < n; i++) {
                double mx = -INFINITY, s = 0;
                for (int j = 0; j <= i; j++) {
                    if (window > 0 && i - j >= window) {
                        p[j] = -INFINITY;
                        continue;
                    }
                    double dot = 0;
                    for (int d = 0; d < hd; d++) dot += q[((size_t)i * H + hh) * hd + d] * k[((size_t)j * KV + gk) * hd + d];
                    dot *= scale;
                    if (c->attn_softcap > 0) dot = c->attn_softcap * tanh(dot / c->attn_softcap);
                    p[j] = dot;
                    mx = fmax(mx, dot);
                }
                for (int j = 0; j <= i; j++) s += (p[j] = exp(p[j] - mx));
                for (int d = 0; d < hd; d++) {
                    double acc = 0;
                    for (int j = 0; j <= i; j++) acc += p[j] / s * v[((size_t)j * KV + gk) * hd + d];
                    o[((size_t)i * H + hh) * hd + d] = acc;
                }
            }
        }
        /* output projection */
        char ob[160];
        snprintf(ob, sizeof ob, "%s.%d.%s.%s.bias", pre, l, att, neox ? "dense" : "o_proj");
        const double *wo = W(m, P, "%s.%d.%s.%s.weight", pre, l, att, neox ? "dense" : "o_proj"), *bo = W_opt(m, P, ob);
        for (int t = 0; t < n; t++) {
            linear(br, o + (size_t)t * H * hd, wo, bo, H * hd, D);
            if (c->sandwich_norm) {
                double *tmpn = malloc((size_t)D * sizeof *tmpn);
                normalize(c, tmpn, br, W(m, P, "%s.%d.post_attention_layernorm.weight", pre, l), NULL);
                memcpy(br, tmpn, (size_t)D * sizeof *br);
                free(tmpn);
            }
            memcpy(delta + (size_t)t * D, br, (size_t)D * sizeof *br);
        }
        /* MLP input: the updated stream, or (parallel residual) the layer's input */
        const char *mn = c->sandwich_norm ? "pre_feedforward_layernorm" : "post_attention_layernorm";
        const double *n2w = W(m, P, "%s.%d.%s.weight", pre, l, mn);
        snprintf(nm, sizeof nm, "%s.%d.%s.bias", pre, l, mn);
        const double *n2b = W_opt(m, P, nm);
        if (!c->parallel_residual)
            for (size_t i = 0; i < (size_t)n * D; i++) x[i] += delta[i];
        for (int t = 0; t < n; t++) normalize(c, hn + (size_t)t * D, x + (size_t)t * D, n2w, n2b);
        const char *up = neox ? "dense_h_to_4h" : "up_proj", *down = neox ? "dense_4h_to_h" : "down_proj";
        char bu[160], bd[160], bg[160];
        snprintf(bu, sizeof bu, "%s.%d.mlp.%s.bias", pre, l, up);
        snprintf(bd, sizeof bd, "%s.%d.mlp.%s.bias", pre, l, down);
        snprintf(bg, sizeof bg, "%s.%d.mlp.gate_proj.bias", pre, l);
        for (int t = 0; t < n; t++) {
            linear(u, hn + (size_t)t * D, W(m, P, "%s.%d.mlp.%s.weight", pre, l, up), W_opt(m, P, bu), D, F);
            if (gated) {
                linear(g, hn + (size_t)t * D, W(m, P, "%s.%d.mlp.gate_proj.weight", pre, l), W_opt(m, P, bg), D, F);
                for (int i = 0; i < F; i++) u[i] *= c->mlp == RL_MLP_GEGLU ? gelu_tanh(g[i]) : silu(g[i]);
            } else {
                for (int i = 0; i < F; i++) u[i] = c->mlp == RL_MLP_GELU ? gelu_erf(u[i]) : gelu_tanh(u[i]);
            }
            linear(br, u, W(m, P, "%s.%d.mlp.%s.weight", pre, l, down), W_opt(m, P, bd), F, D);
            if (c->sandwich_norm) {
                normalize(c, h2, br, W(m, P, "%s.%d.post_feedforward_layernorm.weight", pre, l), NULL);
                memcpy(br, h2, (size_t)D * sizeof *br);
            }
            for (int i = 0; i < D; i++) {
                x[(size_t)t * D + i] += br[i];
                if (c->parallel_residual) x[(size_t)t * D + i] += delta[(size_t)t * D + i];
            }
        }
    }
    const double *fw = W(m, P, neox ? "gpt_neox.final_layer_norm.weight" : "model.norm.weight");
    const double *fb = W_opt(m, P, neox ? "gpt_neox.final_layer_norm.bias" : "model.norm.bias");
    const double *wh = c->tie_embeddings ? wte : W(m, P, neox ? "embed_out.weight" : "lm_head.weight");
    for (int t = 0; t < n; t++) {
        normalize(c, h, x + (size_t)t * D, fw, fb);
        linear(logits + (size_t)t * V, h, wh, NULL, D, V);
        if (c->final_softcap > 0)
            for (int i = 0; i < V; i++)
                logits[(size_t)t * V + i] = c->final_softcap * tanh(logits[(size_t)t * V + i] / c->final_softcap);
    }
    free(x), free(h), free(h2), free(q), free(k), free(v), free(o), free(delta), free(tmp);
    free(g), free(u), free(p), free(hn), free(br);
}

double ref_loss_sum(const rl_model *m, const double *P, const int32_t *tokens, const int32_t *targets, int B, int T) {
    const int V = m->cfg.vocab_size;
    double *lg = malloc((size_t)T * V * sizeof *lg), total = 0;
    for (int b = 0; b < B; b++) {
        ref_forward(m, P, tokens + (size_t)b * T, T, lg);
        for (int t = 0; t < T; t++) {
            int y = targets[(size_t)b * T + t];
            if (y < 0) continue;
            const double *z = lg + (size_t)t * V;
            double mx = -INFINITY, s = 0;
            for (int i = 0; i < V; i++) mx = fmax(mx, z[i]);
            for (int i = 0; i < V; i++) s += exp(z[i] - mx);
            total += log(s) + mx - z[y];
        }
    }
    free(lg);
    return total;
}

void ref_randomize(rl_model *m, uint64_t seed, double sd) {
    rl_rng r;
    rl_rng_seed(&r, seed);
    for (int i = 0; i < m->n_tensors; i++) {
        const rl_param_info *e = &m->table[i];
        float *x = *e->slot;
        size_t len = strlen(e->name);
        int is_bias = len > 5 && strcmp(e->name + len - 5, ".bias") == 0;
        double centre = e->ndim == 1 && !is_bias && !(m->cfg.norm == RL_NORM_RMS && m->cfg.norm_plus_one) ? 1 : 0;
        for (size_t j = 0; j < e->numel; j++) x[j] = (float)(centre + sd * rl_rng_normal(&r));
    }
}
