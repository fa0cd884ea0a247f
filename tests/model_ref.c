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

double ref_softmax_row(double *p, const double *z, int n, rl_attn_softmax kind, const double *frozen, double *H) {
    double mx = -INFINITY, s = 0, ent = 0, beta = 1;
    for (int j = 0; j < n; j++) mx = fmax(mx, z[j]);
    for (int j = 0; j < n; j++) s += z[j] == -INFINITY ? 0 : exp(z[j] - mx);
    for (int j = 0; j < n; j++) {
        double q = z[j] == -INFINITY ? 0 : exp(z[j] - mx) / s;
        if (q > 0) ent -= q * log(q);
    }
    if (kind != RL_ATTN_PLAIN) {
        double poly = -0.037 * pow(ent, 4) + 0.481 * pow(ent, 3) - 2.3 * ent * ent + 4.917 * ent - 1.791;
        beta = ent > 0.5 && poly > 1 ? poly : 1;
        if (frozen) beta = *frozen;
    }
    double sb = 0;
    for (int j = 0; j < n; j++) sb += z[j] == -INFINITY ? 0 : exp(beta * (z[j] - mx));
    for (int j = 0; j < n; j++) p[j] = z[j] == -INFINITY ? 0 : exp(beta * (z[j] - mx)) / sb;
    if (H) *H = ent;
    return beta;
}

void ref_attention(const rl_attn_cfg *a, const double *qkv, int T, double *out, double *P, double *beta, int freeze) {
    const int H = a->n_heads, KV = a->n_kv_heads, hd = a->head_dim, QKV = (H + 2 * KV) * hd;
    double *z = malloc((size_t)T * sizeof *z), *p = malloc((size_t)T * sizeof *p);
    for (int h = 0; h < H; h++) {
        int g = h / (H / KV); /* repeat_kv */
        for (int i = 0; i < T; i++) {
            for (int j = 0; j < T; j++) {
                z[j] = -INFINITY;
                if (j > i || (a->window > 0 && i - j >= a->window)) continue;
                double d = 0;
                for (int e = 0; e < hd; e++) d += qkv[(size_t)i * QKV + h * hd + e] * qkv[(size_t)j * QKV + (H + g) * hd + e];
                d *= a->scale;
                if (a->softcap > 0) d = a->softcap * tanh(d / a->softcap);
                z[j] = d;
            }
            double *b = beta ? &beta[(size_t)h * T + i] : NULL;
            double used = ref_softmax_row(p, z, T, a->softmax, b && freeze ? b : NULL, NULL);
            if (b && !freeze) *b = used;
            if (P)
                for (int j = 0; j < T; j++) P[((size_t)h * T + i) * T + j] = p[j];
            for (int e = 0; e < hd; e++) {
                double acc = 0;
                for (int j = 0; j <= i; j++) acc += p[j] * qkv[(size_t)j * QKV + (H + KV + g) * hd + e];
                out[(size_t)i * H * hd + h * hd + e] = acc;
            }
        }
    }
    free(z);
    free(p);
}

void ref_forward(const rl_model *m, const double *P, const int32_t *tok, int n, double *logits) {
    ref_forward_beta(m, P, tok, n, logits, NULL, 0);
}

void ref_forward_beta(const rl_model *m, const double *P, const int32_t *tok, int n, double *logits, double *beta,
                      int freeze) {
    const rl_model_config *c = &m->cfg;
    const int D = c->d_model, H = c->n_heads, KV = c->n_kv_heads, hd = c->head_dim, F = c->d_ff, V = c->vocab_size;
    const int neox = c->arch == RL_ARCH_GPT_NEOX, gated = c->mlp == RL_MLP_GEGLU || c->mlp == RL_MLP_SWIGLU;
    const char *pre = neox ? "gpt_neox.layers" : "model.layers", *att = neox ? "attention" : "self_attn";
    double *x = calloc((size_t)n * D, sizeof *x), *h = malloc((size_t)D * sizeof *h), *h2 = malloc((size_t)D * sizeof *h2);
    double *q = malloc((size_t)n * H * hd * sizeof *q), *k = malloc((size_t)n * KV * hd * sizeof *k);
    double *v = malloc((size_t)n * KV * hd * sizeof *v), *o = malloc((size_t)n * H * hd * sizeof *o);
    double *delta = malloc((size_t)n * D * sizeof *delta), *tmp = malloc((size_t)3 * H * hd * sizeof *tmp);
    double *g = malloc((size_t)F * sizeof *g), *u = malloc((size_t)F * sizeof *u);
    double *qkv = malloc((size_t)n * (H + 2 * KV) * hd * sizeof *qkv);
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
        const int QKV = (H + 2 * KV) * hd;
        for (int t = 0; t < n; t++) {
            memcpy(qkv + (size_t)t * QKV, q + (size_t)t * H * hd, (size_t)H * hd * sizeof *qkv);
            memcpy(qkv + (size_t)t * QKV + H * hd, k + (size_t)t * KV * hd, (size_t)KV * hd * sizeof *qkv);
            memcpy(qkv + (size_t)t * QKV + (H + KV) * hd, v + (size_t)t * KV * hd, (size_t)KV * hd * sizeof *qkv);
        }
        rl_attn_cfg ac = {0};
        ac.n_heads = H;
        ac.n_kv_heads = KV;
        ac.head_dim = hd;
        ac.scale = (float)(1 / sqrt(c->query_pre_attn_scalar > 0 ? c->query_pre_attn_scalar : (double)hd));
        ac.softcap = (float)c->attn_softcap;
        ac.window = c->sliding[l] ? c->sliding_window : 0;
        ac.softmax = c->attn_softmax;
        ref_attention(&ac, qkv, n, o, NULL, beta ? beta + (size_t)l * H * n : NULL, freeze);
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
    free(g), free(u), free(qkv), free(hn), free(br);
}

double ref_loss_sum(const rl_model *m, const double *P, const int32_t *tokens, const int32_t *targets, int B, int T) {
    return ref_loss_sum_beta(m, P, tokens, targets, B, T, NULL, 0);
}

double ref_loss_sum_beta(const rl_model *m, const double *P, const int32_t *tokens, const int32_t *targets, int B,
                         int T, double *beta, int freeze) {
    const int V = m->cfg.vocab_size;
    const size_t nb = (size_t)m->cfg.n_layers * m->cfg.n_heads * T;
    double *lg = malloc((size_t)T * V * sizeof *lg), total = 0;
    for (int b = 0; b < B; b++) {
        ref_forward_beta(m, P, tokens + (size_t)b * T, T, lg, beta ? beta + b * nb : NULL, freeze);
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
