/* Inference for every architecture: the full-sequence forward (tiled attention, chunked MLP and
 * logits, analysis hooks) and KV-cache decoding, sharing one layer loop. */
#include "internal.h"
#include "ropelab/util.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MLP_CHUNK 256   /* rows per MLP chunk: [chunk][2F] instead of [n][2F] */
#define LOGIT_CHUNK 64  /* rows per logits chunk: [chunk][V] instead of [n][V] */
#define DECODE_CHUNK 64 /* new tokens per decode pass (longer prompts go through in pieces) */

/* ---- workspace ----------------------------------------------------------------------------- */

typedef struct {
    float *x;     /* [n][D] residual stream */
    float *xn;    /* [n][D] norm output */
    float *xb;    /* [n][D] second norm (parallel residual) or branch output (sandwich norms) */
    float *qkv;   /* [n][QKV] */
    float *y;     /* [n][H*hd] attention output */
    float *gu;    /* [MLP_CHUNK][2F] gate | up (or up alone), also the fused-qkv scratch [MLP_CHUNK][3 H hd] */
    float *act;   /* [MLP_CHUNK][F] */
    float *mo;    /* [MLP_CHUNK][D] MLP output (sandwich norms) */
    float *lg;    /* [LOGIT_CHUNK][V] logits chunk */
    float *xf;    /* [LOGIT_CHUNK][D] final norm chunk */
    float *qk;    /* [n][(H+KV) hd] q and k heads gathered for the rotation */
    int32_t *pos; /* [n] positions */
    float *attn;  /* attention work: the larger of the tiled and (for hooks) row kernels */
} ws_t;

static size_t ws_layout(const rl_model_config *c, int n, int nk, ws_t *w, float *mem) {
    const size_t D = c->d_model, F = c->d_ff, V = c->vocab_size, QKV = (size_t)rl_model_qkv_width(c);
    const size_t HD = (size_t)c->n_heads * c->head_dim;
    rl_attn_cfg a = {0}; /* the workspaces depend on the head sizes only (not the softmax kind) */
    a.n_heads = c->n_heads;
    a.n_kv_heads = c->n_kv_heads;
    a.head_dim = c->head_dim;
    size_t attn = RL_MAX(rl_attention_tiled_work_floats(&a), rl_attention_rows_work_floats(&a, nk));
    size_t chunk = (size_t)RL_MIN(n, MLP_CHUNK), lchunk = (size_t)RL_MIN(n, LOGIT_CHUNK);
    size_t gu = RL_MAX(chunk * 2 * F, c->fused_qkv ? chunk * 3 * HD : 0);
    size_t off = 0;
#define TAKE(field, count)                                                                           \
    do {                                                                                             \
        if (mem) w->field = mem + off;                                                               \
        off += ((size_t)(count) + 15) & ~(size_t)15;                                                 \
    } while (0)
    TAKE(x, (size_t)n * D);
    TAKE(xn, (size_t)n * D);
    TAKE(xb, (c->parallel_residual || c->sandwich_norm) ? (size_t)n * D : 0);
    TAKE(qkv, (size_t)n * QKV);
    TAKE(y, (size_t)n * HD);
    TAKE(gu, gu);
    TAKE(act, chunk * F);
    TAKE(mo, c->sandwich_norm ? chunk * D : 0);
    TAKE(lg, lchunk * V);
    TAKE(xf, lchunk * D);
    TAKE(qk, (size_t)n * (c->n_heads + c->n_kv_heads) * c->head_dim);
    if (mem) w->pos = (int32_t *)(mem + off);
    off += ((size_t)n + 15) & ~(size_t)15;
    TAKE(attn, attn);
#undef TAKE
    return off;
}

size_t rl_model_infer_bytes(const rl_model_config *c, int n) { return ws_layout(c, n, n, NULL, NULL) * sizeof(float); }

/* ---- pieces -------------------------------------------------------------------------------- */

static void norm(const rl_model_config *c, float *out, const float *in, const float *w, const float *b, int N) {
    if (c->norm == RL_NORM_LAYER)
        rl_layernorm_forward(out, in, w, b, (float)c->norm_eps, N, c->d_model);
    else
        rl_rmsnorm_forward(out, NULL, in, w, c->norm_plus_one, (float)c->norm_eps, N, c->d_model);
}

/* out[:, 0:OC] (+)= in . W^T (+ b), out rows of stride ldo. in: [N][C]; W: [OC][C]; b: [OC]. */
static void proj(float *out, int ldo, const float *in, const float *w, const float *b, int N, int C, int OC, int acc) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, in, C, w, C, acc ? 1.0f : 0.0f, out, ldo);
    if (b) {
#pragma omp parallel for schedule(static) if ((size_t)N * OC > 65536)
        for (int i = 0; i < N; i++)
            for (int o = 0; o < OC; o++) out[(size_t)i * ldo + o] += b[o];
    }
}

/* qkv rows [N][QKV] from normed rows xn [N][D]. */
static void qkv_proj(const rl_model_config *c, const rl_layer_params *p, float *qkv, const float *xn, int N,
                     float *scratch) {
    const int D = c->d_model, H = c->n_heads, KV = c->n_kv_heads, hd = c->head_dim, QKV = rl_model_qkv_width(c);
    if (c->fused_qkv) { /* GPT-NeoX: per head [q | k | v] -> our [q heads | k heads | v heads] */
        for (int i0 = 0; i0 < N; i0 += MLP_CHUNK) {
            int nb = RL_MIN(MLP_CHUNK, N - i0);
            proj(scratch, 3 * H * hd, xn + (size_t)i0 * D, p->wqkv, p->bqkv, nb, D, 3 * H * hd, 0);
#pragma omp parallel for schedule(static)
            for (int i = 0; i < nb; i++)
                for (int h = 0; h < H; h++)
                    for (int part = 0; part < 3; part++)
                        memcpy(qkv + (size_t)(i0 + i) * QKV + (size_t)(part * H + h) * hd,
                               scratch + (size_t)i * 3 * H * hd + (size_t)(3 * h + part) * hd, (size_t)hd * sizeof(float));
        }
        return;
    }
    const size_t qn = (size_t)H * hd * D, kn = (size_t)KV * hd * D;
    if (p->wk == p->wq + qn && p->wv == p->wk + kn && (!p->bq || (p->bk == p->bq + H * hd && p->bv == p->bk + KV * hd))) {
        proj(qkv, QKV, xn, p->wq, p->bq, N, D, QKV, 0); /* adjacent (our arena): one product */
        return;
    }
    proj(qkv, QKV, xn, p->wq, p->bq, N, D, H * hd, 0);
    proj(qkv + H * hd, QKV, xn, p->wk, p->bk, N, D, KV * hd, 0);
    proj(qkv + (H + KV) * hd, QKV, xn, p->wv, p->bv, N, D, KV * hd, 0);
}

/* x[rows] += mlp(xn[rows]) (post-normed under sandwich norms), in chunks of MLP_CHUNK rows. */
static void mlp(const rl_model_config *c, const rl_layer_params *p, float *x, const float *xn, int N, ws_t *w) {
    const int D = c->d_model, F = c->d_ff;
    const int gated = c->mlp == RL_MLP_GEGLU || c->mlp == RL_MLP_SWIGLU;
    for (int i0 = 0; i0 < N; i0 += MLP_CHUNK) {
        const int nb = RL_MIN(MLP_CHUNK, N - i0);
        const float *in = xn + (size_t)i0 * D;
        float *xo = x + (size_t)i0 * D;
        if (gated) {
            if (p->wup == p->wgate + (size_t)F * D && (!p->bgate || p->bup == p->bgate + F)) {
                proj(w->gu, 2 * F, in, p->wgate, p->bgate, nb, D, 2 * F, 0);
            } else {
                proj(w->gu, 2 * F, in, p->wgate, p->bgate, nb, D, F, 0);
                proj(w->gu + F, 2 * F, in, p->wup, p->bup, nb, D, F, 0);
            }
            rl_gated_rows_forward(w->act, w->gu, nb, F, c->mlp == RL_MLP_SWIGLU);
        } else {
            proj(w->act, F, in, p->wup, p->bup, nb, D, F, 0);
            if (c->mlp == RL_MLP_GELU)
                rl_gelu_erf_forward(w->act, w->act, (size_t)nb * F);
            else
                rl_gelu_forward(w->act, w->act, (size_t)nb * F);
        }
        if (c->sandwich_norm) {
            proj(w->mo, D, w->act, p->wdown, p->bdown, nb, F, D, 0);
            norm(c, w->mo, w->mo, p->post_mlp_norm, NULL, nb);
            for (size_t j = 0; j < (size_t)nb * D; j++) xo[j] += w->mo[j];
        } else {
            proj(xo, D, w->act, p->wdown, p->bdown, nb, F, D, 1);
        }
    }
}

/* Zeroes the masked chunks of q (per query head) and k (per kv head whose query heads all mask
 * it) in qkv rows, before rotation. keep: [H][hd/2]. */
static void apply_keep(const rl_model_config *c, const rl_rope *r, float *qkv, int N, const uint8_t *keep) {
    const int H = c->n_heads, KV = c->n_kv_heads, hd = c->head_dim, QKV = rl_model_qkv_width(c), rep = H / KV;
    const int nc = hd / 2;
#pragma omp parallel for schedule(static) if ((size_t)N * QKV > 65536)
    for (int t = 0; t < N; t++) {
        float *row = qkv + (size_t)t * QKV;
        for (int k = 0; k < nc; k++) {
            int i0, i1;
            rl_rope_chunk_dims(&r->f, k, &i0, &i1);
            for (int h = 0; h < H; h++)
                if (!keep[h * nc + k]) row[h * hd + i0] = row[h * hd + i1] = 0;
            for (int g = 0; g < KV; g++) {
                int all = 1;
                for (int h = g * rep; h < (g + 1) * rep; h++) all &= !keep[h * nc + k];
                if (all) row[(H + g) * hd + i0] = row[(H + g) * hd + i1] = 0;
            }
        }
    }
}

static void copy_heads(float *dst, const float *qkv, int N, int QKV, int col, int width) {
    for (int t = 0; t < N; t++) memcpy(dst + (size_t)t * width, qkv + (size_t)t * QKV + col, (size_t)width * sizeof(float));
}

/* The layer loop on N new tokens at positions pos0 .. pos0+N-1. Without a cache the keys are the
 * tokens themselves (pos0 must be 0); with one, k and v are appended to it and attention reads
 * positions 0 .. pos0+N-1 from it. Leaves the final residual stream in w->x. */
static int layers(rl_model *m, ws_t *w, const int32_t *tokens, int N, int pos0, rl_kv_cache *cache,
                  const rl_infer_hooks *hk) {
    const rl_model_config *c = &m->cfg;
    const int D = c->d_model, H = c->n_heads, KV = c->n_kv_heads, hd = c->head_dim, HD = H * hd;
    const int QKV = rl_model_qkv_width(c);
    for (int i = 0; i < N; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size)
            return rl_fail("model: token %d at position %d is outside the vocabulary [0, %d)", tokens[i], pos0 + i,
                           c->vocab_size);
    if (rl_model_ensure_ropes(m, pos0 + N, pos0 + N) != 0) return -1;
    rl_embed_forward(w->x, tokens, m->p.wte, rl_model_embed_scale(c), N, D);
    for (int i = 0; i < N; i++) w->pos[i] = pos0 + i;
    for (int l = 0; l < c->n_layers; l++) {
        const rl_layer_params *p = &m->p.layer[l];
        rl_attn_cfg ac;
        rl_model_attn_cfg(m, l, &ac);
        rl_rope tmp;
        const rl_rope *rope = &m->rope[m->rope_of[l]];
        int own_rope = 0;
        if (hk && hk->freq && hk->freq[l]) {
            if (rl_rope_init_freq(&tmp, &c->pe[l], hd, hk->freq[l], pos0 + N) != 0)
                return rl_fail_prefix("layer %d", l);
            rope = &tmp;
            own_rope = 1;
        } else if (cache && c->pe[l].scale == RL_SCALE_DYNAMIC) {
            /* Hugging Face: new keys use the base for the current length; cached keys keep theirs */
            if (rl_rope_init(&tmp, &c->pe[l], hd, 0, pos0 + N) != 0) return rl_fail_prefix("layer %d", l);
            rope = &tmp;
            own_rope = 1;
        }

        norm(c, w->xn, w->x, p->attn_norm, p->attn_norm_b, N);
        qkv_proj(c, p, w->qkv, w->xn, N, w->gu);
        if (hk) {
            if (hk->q && hk->q[l]) copy_heads(hk->q[l], w->qkv, N, QKV, 0, HD);
            if (hk->k && hk->k[l]) copy_heads(hk->k[l], w->qkv, N, QKV, HD, KV * hd);
            if (hk->v && hk->v[l]) copy_heads(hk->v[l], w->qkv, N, QKV, HD + KV * hd, KV * hd);
            if (hk->qk_keep && hk->qk_keep[l]) apply_keep(c, rope, w->qkv, N, hk->qk_keep[l]);
        }
        rl_rope_qk_rows(rope, w->qkv, N, QKV, H + KV, w->pos, w->qk, 0);
        if (own_rope) rl_rope_free(&tmp);

        const float *kk = w->qkv + HD, *vv = w->qkv + HD + KV * hd;
        int ldkv = QKV;
        if (cache) {
            float *kc = cache->k + (size_t)l * cache->capacity * KV * hd, *vc = cache->v + (size_t)l * cache->capacity * KV * hd;
            copy_heads(kc + (size_t)pos0 * KV * hd, w->qkv, N, QKV, HD, KV * hd);
            copy_heads(vc + (size_t)pos0 * KV * hd, w->qkv, N, QKV, HD + KV * hd, KV * hd);
            kk = kc;
            vv = vc;
            ldkv = KV * hd;
        }
        if (hk && hk->probs_layers && hk->probs_layers[l])
            rl_attention_rows_forward(w->y, HD, w->qkv, QKV, kk, vv, ldkv, N, pos0 + N, pos0, &ac, w->attn,
                                      hk->probs_fn, hk->probs_ctx, l);
        else
            rl_attention_tiled_forward(w->y, HD, w->qkv, QKV, kk, vv, ldkv, N, pos0 + N, pos0, &ac, w->attn);

        if (c->parallel_residual) {
            norm(c, w->xb, w->x, p->mlp_norm, p->mlp_norm_b, N); /* both branches read the same x */
            proj(w->x, D, w->y, p->wo, p->bo, N, HD, D, 1);
            mlp(c, p, w->x, w->xb, N, w);
        } else {
            if (c->sandwich_norm) {
                proj(w->xb, D, w->y, p->wo, p->bo, N, HD, D, 0);
                norm(c, w->xb, w->xb, p->post_attn_norm, NULL, N);
                for (size_t j = 0; j < (size_t)N * D; j++) w->x[j] += w->xb[j];
            } else {
                proj(w->x, D, w->y, p->wo, p->bo, N, HD, D, 1);
            }
            norm(c, w->xn, w->x, p->mlp_norm, p->mlp_norm_b, N);
            mlp(c, p, w->x, w->xn, N, w);
        }
    }
    return 0;
}

/* logits of rows [i0, i0+nb) of the final stream into out ([nb][V]). */
static void head(const rl_model *m, ws_t *w, int i0, int nb, float *out) {
    const rl_model_config *c = &m->cfg;
    norm(c, w->xf, w->x + (size_t)i0 * c->d_model, m->p.final_norm, m->p.final_norm_b, nb);
    proj(out, c->vocab_size, w->xf, m->p.lm_head, NULL, nb, c->d_model, c->vocab_size, 0);
    if (c->final_softcap > 0) rl_softcap_forward(out, (size_t)nb * c->vocab_size, (float)c->final_softcap);
}

static int ensure_ws(rl_model *m, size_t bytes) {
    if (m->infer_ws && m->infer_ws_bytes == bytes) return 0;
    free(m->infer_ws);
    m->infer_ws_bytes = 0;
    m->infer_ws = rl_alloc_aligned(bytes, "inference workspace");
    if (!m->infer_ws) return -1;
    m->infer_ws_bytes = bytes;
    return 0;
}

static int params_ready(rl_model *m) {
    if (!m->p.wte) return rl_fail("model: parameters are not set");
    if (m->cfg.tie_embeddings) m->p.lm_head = m->p.wte;
    return 0;
}

int rl_model_infer(rl_model *m, const int32_t *tokens, const int32_t *targets, int n, float *losses, float *logits,
                   const rl_infer_hooks *hooks) {
    const rl_model_config *c = &m->cfg;
    if (n < 1) return rl_fail("model: inference on an empty sequence");
    if (params_ready(m) != 0) return -1;
    if (targets)
        for (int i = 0; i < n; i++)
            if (targets[i] >= c->vocab_size)
                return rl_fail("model: target %d at position %d is outside the vocabulary [0, %d)", targets[i], i,
                               c->vocab_size);
    if (hooks && hooks->probs_layers && !hooks->probs_fn)
        return rl_fail("model: hooks ask for attention probabilities but give no probs_fn");
    size_t bytes = rl_model_infer_bytes(c, n);
    if (ensure_ws(m, bytes) != 0) return -1;
    ws_t w;
    ws_layout(c, n, n, &w, m->infer_ws);
    if (layers(m, &w, tokens, n, 0, NULL, hooks) != 0) return -1;
    const int V = c->vocab_size;
    for (int i0 = 0; i0 < n; i0 += LOGIT_CHUNK) {
        int nb = RL_MIN(LOGIT_CHUNK, n - i0);
        float *lg = logits ? logits + (size_t)i0 * V : w.lg;
        head(m, &w, i0, nb, lg);
        if (losses) {
            if (targets)
                rl_xent_forward_backward(lg, targets + i0, nb, V, 0.0f, losses + i0);
            else
                memset(losses + i0, 0, (size_t)nb * sizeof(float));
        }
    }
    return 0;
}

/* ---- KV cache ------------------------------------------------------------------------------ */

int rl_kv_cache_init(rl_kv_cache *c, const rl_model *m, int capacity) {
    memset(c, 0, sizeof *c);
    if (capacity < 1) return rl_fail("kv cache: capacity %d must be >= 1", capacity);
    const rl_model_config *mc = &m->cfg;
    c->capacity = capacity;
    c->L = mc->n_layers;
    c->KV = mc->n_kv_heads;
    c->hd = mc->head_dim;
    c->chunk = DECODE_CHUNK;
    size_t kvn = (size_t)c->L * capacity * c->KV * c->hd;
    c->k = rl_alloc_aligned(kvn * sizeof(float), "kv cache keys");
    c->v = c->k ? rl_alloc_aligned(kvn * sizeof(float), "kv cache values") : NULL;
    c->ws = c->v ? rl_alloc_aligned(ws_layout(mc, c->chunk, capacity, NULL, NULL) * sizeof(float), "decode workspace")
                 : NULL;
    if (!c->ws) {
        rl_kv_cache_free(c);
        return rl_fail_prefix("kv cache of %d positions", capacity);
    }
    return 0;
}

void rl_kv_cache_reset(rl_kv_cache *c) { c->n = 0; }

void rl_kv_cache_free(rl_kv_cache *c) {
    free(c->k);
    free(c->v);
    free(c->ws);
    memset(c, 0, sizeof *c);
}

int rl_model_decode(rl_model *m, rl_kv_cache *c, const int32_t *tokens, int n, float *logits) {
    if (n < 1) return rl_fail("decode: no tokens");
    if (c->L != m->cfg.n_layers || c->KV != m->cfg.n_kv_heads || c->hd != m->cfg.head_dim)
        return rl_fail("decode: the kv cache was made for another model");
    if ((int64_t)c->n + n > c->capacity)
        return rl_fail("decode: %d more tokens overflow the kv cache (%d of %d positions used)", n, c->n, c->capacity);
    if (params_ready(m) != 0) return -1;
    ws_t w;
    for (int i0 = 0; i0 < n; i0 += c->chunk) {
        int nb = RL_MIN(c->chunk, n - i0);
        ws_layout(&m->cfg, nb, c->capacity, &w, c->ws);
        if (layers(m, &w, tokens + i0, nb, c->n, c, NULL) != 0) return -1;
        c->n += nb;
        if (logits && i0 + nb == n) head(m, &w, nb - 1, 1, logits);
    }
    return 0;
}
