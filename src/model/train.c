/* Training forward and backward of the whole model on [B][T] windows, with the activation arena. */
#include "internal.h"
#include "ropelab/util.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the activation arena ------------------------------------------------------------------ */

/* Lays out (or, with mem NULL, only measures) the arena; every buffer starts 64-byte aligned. */
static size_t layout(const rl_model_config *c, int B, int T, rl_train_acts *a, float *mem) {
    const size_t N = (size_t)B * T, L = c->n_layers, D = c->d_model, F = c->d_ff, V = c->vocab_size;
    const size_t QKV = (size_t)rl_model_qkv_width(c), HD = (size_t)c->n_heads * c->head_dim;
    const int adaptive = c->attn_softmax != RL_ATTN_PLAIN;
    rl_attn_cfg ac = {0};
    ac.softmax = c->attn_softmax;
    size_t off = 0;
#define TAKE(field, type, count)                                                                     \
    do {                                                                                             \
        if (mem) a->field = (type *)(mem + off);                                                     \
        off += ((size_t)(count) + 15) & ~(size_t)15;                                                 \
    } while (0)
    TAKE(tokens, int32_t, N);
    TAKE(targets, int32_t, N);
    TAKE(pos, int32_t, N);
    TAKE(resid, float, (L + 1) * N * D);
    TAKE(resid_mid, float, L * N * D);
    TAKE(ln1, float, L * N * D);
    TAKE(ln1_rstd, float, L * N);
    TAKE(qkv, float, L * N * QKV);
    TAKE(att, float, L * B * (size_t)c->n_heads * T * T);
    TAKE(att_stats, float, adaptive ? L * N * c->n_heads * RL_ATTN_ROW_STATS : 0);
    if (mem && !adaptive) a->att_stats = NULL;
    TAKE(atty, float, L * N * HD);
    TAKE(ln2, float, L * N * D);
    TAKE(ln2_rstd, float, L * N);
    TAKE(gu, float, L * N * 2 * F);
    TAKE(lnf, float, N * D);
    TAKE(lnf_rstd, float, N);
    TAKE(probs, float, N * V);
    TAKE(losses, float, N);
    TAKE(act, float, N * F);
    TAKE(dresid, float, N * D);
    TAKE(dln, float, N * D);
    TAKE(dqkv, float, N * QKV);
    TAKE(datty, float, N * HD);
    TAKE(dgu, float, N * 2 * F);
    TAKE(qk, float, N * (size_t)(c->n_heads + c->n_kv_heads) * c->head_dim);
    TAKE(attn_scratch, float, rl_attention_scratch_floats(&ac, T));
#undef TAKE
    return off;
}

size_t rl_model_acts_bytes(const rl_model_config *c, int B, int T) { return layout(c, B, T, NULL, NULL) * sizeof(float); }

int rl_model_alloc_acts(rl_model *m, int B, int T) {
    if (B < 1 || T < 1) return rl_fail("model: batch %d x %d tokens is empty", B, T);
    if (rl_model_config_check_trainable(&m->cfg) != 0) return -1;
    free(m->acts.mem);
    memset(&m->acts, 0, sizeof m->acts);
    size_t n = layout(&m->cfg, B, T, NULL, NULL);
    float *mem = rl_alloc_aligned(n * sizeof(float), "training activations");
    if (!mem) return rl_fail_prefix("model: batch %d x %d", B, T);
    layout(&m->cfg, B, T, &m->acts, mem);
    m->acts.mem = mem;
    m->acts.n_floats = n;
    m->acts.B = B;
    m->acts.T = T;
    for (int i = 0; i < B * T; i++) m->acts.pos[i] = i % T;
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------- */

/* out (+)= in . W^T (+ b): out: [N][OC] (accumulated when acc); in: [N][C]; W: [OC][C]; b: [OC]. */
static void proj(float *out, const float *in, const float *w, const float *b, int N, int C, int OC, int acc) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, in, C, w, C, acc ? 1.0f : 0.0f, out, OC);
    if (b) {
#pragma omp parallel for schedule(static) if ((size_t)N * OC > 65536)
        for (int i = 0; i < N; i++)
            for (int o = 0; o < OC; o++) out[(size_t)i * OC + o] += b[o];
    }
}

/* Backward of proj: din = dout . W (written); dW += dout^T . in; db += column sums of dout. */
static void proj_back(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int N, int C,
                      int OC) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, w, C, 0.0f, din, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, in, C, 1.0f, dw, C);
    if (db) rl_linear_backward(NULL, NULL, db, dout, NULL, NULL, N, C, OC);
}

static int check_tokens(const int32_t *t, size_t n, int V, const char *what, int allow_neg) {
    for (size_t i = 0; i < n; i++)
        if (t[i] >= V || (t[i] < 0 && !allow_neg))
            return rl_fail("model: %s[%zu] = %d is outside the vocabulary [0, %d)", what, i, t[i], V);
    return 0;
}

/* ---- forward ------------------------------------------------------------------------------- */

int rl_model_forward(rl_model *m, const int32_t *tokens, const int32_t *targets, int B, int T, double *loss_sum,
                     int64_t *n_valid) {
    const rl_model_config *c = &m->cfg;
    rl_train_acts *a = &m->acts;
    if (!a->mem || a->B != B || a->T != T)
        return rl_fail("model: the activations are for batch %d x %d, not %d x %d (call rl_model_alloc_acts)", a->B,
                       a->T, B, T);
    if (!m->p.wte) return rl_fail("model: parameters are not set");
    if ((c->attn_softmax != RL_ATTN_PLAIN) != (a->att_stats != NULL))
        return rl_fail("model: the activations were allocated for another attn_softmax than \"%s\" (call "
                       "rl_model_alloc_acts again)",
                       rl_attn_softmax_name(c->attn_softmax));
    const int N = B * T, D = c->d_model, F = c->d_ff, V = c->vocab_size, H = c->n_heads, KV = c->n_kv_heads;
    const int hd = c->head_dim, QKV = rl_model_qkv_width(c), HD = H * hd, swiglu = c->mlp == RL_MLP_SWIGLU;
    const int po = c->norm_plus_one;
    const float eps = (float)c->norm_eps;
    if (check_tokens(tokens, (size_t)N, V, "tokens", 0) || (targets && check_tokens(targets, (size_t)N, V, "targets", 1)))
        return -1;
    if (rl_model_ensure_ropes(m, T, T) != 0) return -1;
    memcpy(a->tokens, tokens, (size_t)N * sizeof *tokens);
    for (int i = 0; i < N; i++) a->targets[i] = targets ? targets[i] : -1;

    rl_embed_forward(a->resid, tokens, m->p.wte, rl_model_embed_scale(c), N, D);
    for (int l = 0; l < c->n_layers; l++) {
        const rl_layer_params *p = &m->p.layer[l];
        const size_t nd = (size_t)N * D;
        float *x = a->resid + l * nd, *mid = a->resid_mid + l * nd, *xo = a->resid + (l + 1) * nd;
        float *ln1 = a->ln1 + l * nd, *ln2 = a->ln2 + l * nd, *qkv = a->qkv + (size_t)l * N * QKV;
        float *atty = a->atty + (size_t)l * N * HD, *gu = a->gu + (size_t)l * N * 2 * F;
        float *att = a->att + (size_t)l * B * H * T * T;
        float *att_stats = a->att_stats ? a->att_stats + (size_t)l * N * H * RL_ATTN_ROW_STATS : NULL;
        rl_attn_cfg ac;
        rl_model_attn_cfg(m, l, &ac);
        const rl_rope *rope = &m->rope[m->rope_of[l]];

        rl_rmsnorm_forward(ln1, a->ln1_rstd + (size_t)l * N, x, p->attn_norm, po, eps, N, D);
        proj(qkv, ln1, p->wq, p->bq, N, D, QKV, 0); /* wq, wk, wv (and bq, bk, bv) are adjacent */
        rl_rope_qk_rows(rope, qkv, N, QKV, H + KV, a->pos, a->qk, 0);
        rl_attention_forward(atty, att, att_stats, qkv, B, T, &ac);
        memcpy(mid, x, nd * sizeof(float));
        proj(mid, atty, p->wo, p->bo, N, HD, D, 1);

        rl_rmsnorm_forward(ln2, a->ln2_rstd + (size_t)l * N, mid, p->mlp_norm, po, eps, N, D);
        proj(gu, ln2, p->wgate, p->bgate, N, D, 2 * F, 0); /* wgate, wup adjacent */
        rl_gated_rows_forward(a->act, gu, N, F, swiglu);
        memcpy(xo, mid, nd * sizeof(float));
        proj(xo, a->act, p->wdown, p->bdown, N, F, D, 1);
    }
    rl_rmsnorm_forward(a->lnf, a->lnf_rstd, a->resid + (size_t)c->n_layers * N * D, m->p.final_norm, po, eps, N, D);
    proj(a->probs, a->lnf, m->p.lm_head, NULL, N, D, V, 0);
    rl_xent_forward_backward(a->probs, a->targets, N, V, 1.0f, a->losses);
    /* the sum in a fixed order (the op's own total is an OpenMP reduction) */
    double s = 0;
    int64_t nv = 0;
    for (int i = 0; i < N; i++)
        if (a->targets[i] >= 0) {
            s += a->losses[i];
            nv++;
        }
    if (loss_sum) *loss_sum = s;
    if (n_valid) *n_valid = nv;
    return 0;
}

/* ---- backward ------------------------------------------------------------------------------ */

int rl_model_backward(rl_model *m, float grad_scale) {
    const rl_model_config *c = &m->cfg;
    rl_train_acts *a = &m->acts;
    if (!a->mem) return rl_fail("model: backward without a forward (no activations)");
    if (!m->grads) return rl_fail("model: backward needs rl_model_alloc_train first");
    const int B = a->B, T = a->T, N = B * T, D = c->d_model, F = c->d_ff, V = c->vocab_size, H = c->n_heads;
    const int KV = c->n_kv_heads, hd = c->head_dim, QKV = rl_model_qkv_width(c), HD = H * hd;
    const int swiglu = c->mlp == RL_MLP_SWIGLU, po = c->norm_plus_one;
    const size_t nd = (size_t)N * D;
    rl_attn_cfg ac0 = {0};
    ac0.softmax = c->attn_softmax;
    if ((c->attn_softmax != RL_ATTN_PLAIN) != (a->att_stats != NULL))
        return rl_fail("model: the activations were allocated for another attn_softmax than \"%s\" (call "
                       "rl_model_alloc_acts again)",
                       rl_attn_softmax_name(c->attn_softmax));
    if ((size_t)(a->mem + a->n_floats - a->attn_scratch) < rl_attention_scratch_floats(&ac0, T))
        return rl_fail("model: more OpenMP threads (or another attn_softmax) than when the activations were "
                       "allocated");
    float *dresid = a->dresid, *dln = a->dln;

    /* head: logits = lnf . Wh^T, dlogits = grad_scale * probs (softmax - onehot) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, D, V, grad_scale, a->probs, V, m->p.lm_head, D, 0.0f, dln,
                D);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, D, N, grad_scale, a->probs, V, a->lnf, D, 1.0f,
                m->g.lm_head, D);
    memset(dresid, 0, nd * sizeof(float));
    rl_rmsnorm_backward(dresid, m->g.final_norm, dln, a->resid + (size_t)c->n_layers * nd, m->p.final_norm, a->lnf_rstd,
                        po, N, D);

    for (int l = c->n_layers - 1; l >= 0; l--) {
        const rl_layer_params *p = &m->p.layer[l];
        rl_layer_params *g = &m->g.layer[l];
        const float *x = a->resid + l * nd, *mid = a->resid_mid + l * nd;
        const float *ln1 = a->ln1 + l * nd, *ln2 = a->ln2 + l * nd, *qkv = a->qkv + (size_t)l * N * QKV;
        const float *atty = a->atty + (size_t)l * N * HD, *gu = a->gu + (size_t)l * N * 2 * F;
        const float *att = a->att + (size_t)l * B * H * T * T;
        const float *att_stats = a->att_stats ? a->att_stats + (size_t)l * N * H * RL_ATTN_ROW_STATS : NULL;
        rl_attn_cfg ac;
        rl_model_attn_cfg(m, l, &ac);
        const rl_rope *rope = &m->rope[m->rope_of[l]];

        /* MLP branch: xo = mid + act(gu) . Wd^T, gu = ln2 . [Wg; Wu]^T, ln2 = norm(mid) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, F, D, 1.0f, dresid, D, p->wdown, F, 0.0f, a->act, F);
        rl_gated_rows_backward(a->dgu, a->act, gu, N, F, swiglu); /* a->act now holds the activation */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, F, N, 1.0f, dresid, D, a->act, F, 1.0f, g->wdown, F);
        if (g->bdown) rl_linear_backward(NULL, NULL, g->bdown, dresid, NULL, NULL, N, F, D);
        proj_back(dln, g->wgate, g->bgate, a->dgu, ln2, p->wgate, N, D, 2 * F);
        rl_rmsnorm_backward(dresid, g->mlp_norm, dln, mid, p->mlp_norm, a->ln2_rstd + (size_t)l * N, po, N, D);

        /* attention branch: mid = x + atty . Wo^T */
        proj_back(a->datty, g->wo, g->bo, dresid, atty, p->wo, N, HD, D);
        memset(a->dqkv, 0, (size_t)N * QKV * sizeof(float));
        rl_attention_backward(a->dqkv, a->datty, att, att_stats, qkv, B, T, &ac, a->attn_scratch);
        rl_rope_qk_rows(rope, a->dqkv, N, QKV, H + KV, a->pos, a->qk, 1);
        proj_back(dln, g->wq, g->bq, a->dqkv, ln1, p->wq, N, D, QKV);
        rl_rmsnorm_backward(dresid, g->attn_norm, dln, x, p->attn_norm, a->ln1_rstd + (size_t)l * N, po, N, D);
    }
    rl_embed_backward(m->g.wte, dresid, a->tokens, rl_model_embed_scale(c), N, D, V);
    return 0;
}
