/* Model object: the parameter table and arenas, seeded initialisation, gradients and AdamW. */
#include "internal.h"
#include "ropelab/train.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the table ----------------------------------------------------------------------------- */

typedef struct {
    rl_param_info *t; /* NULL: only count */
    int n;
    size_t off;
} table_builder;

static void add(table_builder *b, rl_params *p, float **slot, int layer, int64_t rows, int64_t cols,
                const char *fmt, ...) __attribute__((format(printf, 7, 8)));

#include <stdarg.h>
static void add(table_builder *b, rl_params *p, float **slot, int layer, int64_t rows, int64_t cols,
                const char *fmt, ...) {
    (void)p;
    if (b->t) {
        rl_param_info *e = &b->t[b->n];
        memset(e, 0, sizeof *e);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->name, sizeof e->name, fmt, ap);
        va_end(ap);
        e->layer = layer;
        e->ndim = cols > 0 ? 2 : 1;
        e->shape[0] = rows;
        e->shape[1] = cols > 0 ? cols : 1;
        e->numel = (size_t)rows * (size_t)e->shape[1];
        e->offset = b->off;
        e->decay = e->ndim == 2;
        e->slot = slot;
    }
    b->off += (size_t)rows * (size_t)(cols > 0 ? cols : 1);
    b->n++;
}

/* Walks the tensors of a config in arena order (see model.h). p supplies the slot addresses. */
static void walk(const rl_model_config *c, rl_params *p, table_builder *b) {
    const int D = c->d_model, H = c->n_heads, KV = c->n_kv_heads, hd = c->head_dim, F = c->d_ff, V = c->vocab_size;
    const int neox = c->arch == RL_ARCH_GPT_NEOX, ln = c->norm == RL_NORM_LAYER;
    const int gated = c->mlp == RL_MLP_GEGLU || c->mlp == RL_MLP_SWIGLU;
    const char *pre = neox ? "gpt_neox.layers" : "model.layers";
    const char *att = neox ? "attention" : "self_attn";
    add(b, p, &p->wte, -1, V, D, neox ? "gpt_neox.embed_in.weight" : "model.embed_tokens.weight");
    for (int l = 0; l < c->n_layers; l++) {
        rl_layer_params *y = &p->layer[l];
        add(b, p, &y->attn_norm, l, D, 0, "%s.%d.input_layernorm.weight", pre, l);
        if (ln) add(b, p, &y->attn_norm_b, l, D, 0, "%s.%d.input_layernorm.bias", pre, l);
        if (c->fused_qkv) {
            const char *nm = neox ? "query_key_value" : "qkv_proj";
            add(b, p, &y->wqkv, l, 3 * H * hd, D, "%s.%d.%s.%s.weight", pre, l, att, nm);
            if (c->qkv_bias) add(b, p, &y->bqkv, l, 3 * H * hd, 0, "%s.%d.%s.%s.bias", pre, l, att, nm);
        } else {
            add(b, p, &y->wq, l, H * hd, D, "%s.%d.%s.q_proj.weight", pre, l, att);
            add(b, p, &y->wk, l, KV * hd, D, "%s.%d.%s.k_proj.weight", pre, l, att);
            add(b, p, &y->wv, l, KV * hd, D, "%s.%d.%s.v_proj.weight", pre, l, att);
            if (c->qkv_bias) {
                add(b, p, &y->bq, l, H * hd, 0, "%s.%d.%s.q_proj.bias", pre, l, att);
                add(b, p, &y->bk, l, KV * hd, 0, "%s.%d.%s.k_proj.bias", pre, l, att);
                add(b, p, &y->bv, l, KV * hd, 0, "%s.%d.%s.v_proj.bias", pre, l, att);
            }
        }
        const char *o = neox ? "dense" : "o_proj";
        add(b, p, &y->wo, l, D, H * hd, "%s.%d.%s.%s.weight", pre, l, att, o);
        if (c->o_bias) add(b, p, &y->bo, l, D, 0, "%s.%d.%s.%s.bias", pre, l, att, o);
        if (c->sandwich_norm) add(b, p, &y->post_attn_norm, l, D, 0, "%s.%d.post_attention_layernorm.weight", pre, l);
        const char *mn = c->sandwich_norm ? "pre_feedforward_layernorm" : "post_attention_layernorm";
        add(b, p, &y->mlp_norm, l, D, 0, "%s.%d.%s.weight", pre, l, mn);
        if (ln) add(b, p, &y->mlp_norm_b, l, D, 0, "%s.%d.%s.bias", pre, l, mn);
        const char *up = neox ? "dense_h_to_4h" : "up_proj", *down = neox ? "dense_4h_to_h" : "down_proj";
        if (gated) add(b, p, &y->wgate, l, F, D, "%s.%d.mlp.gate_proj.weight", pre, l);
        add(b, p, &y->wup, l, F, D, "%s.%d.mlp.%s.weight", pre, l, up);
        if (c->mlp_bias) {
            if (gated) add(b, p, &y->bgate, l, F, 0, "%s.%d.mlp.gate_proj.bias", pre, l);
            add(b, p, &y->bup, l, F, 0, "%s.%d.mlp.%s.bias", pre, l, up);
        }
        add(b, p, &y->wdown, l, D, F, "%s.%d.mlp.%s.weight", pre, l, down);
        if (c->mlp_bias) add(b, p, &y->bdown, l, D, 0, "%s.%d.mlp.%s.bias", pre, l, down);
        if (c->sandwich_norm)
            add(b, p, &y->post_mlp_norm, l, D, 0, "%s.%d.post_feedforward_layernorm.weight", pre, l);
    }
    add(b, p, &p->final_norm, -1, D, 0, neox ? "gpt_neox.final_layer_norm.weight" : "model.norm.weight");
    if (ln) add(b, p, &p->final_norm_b, -1, D, 0, neox ? "gpt_neox.final_layer_norm.bias" : "model.norm.bias");
    if (!c->tie_embeddings) add(b, p, &p->lm_head, -1, V, D, neox ? "embed_out.weight" : "lm_head.weight");
}

size_t rl_model_n_params(const rl_model_config *c) {
    rl_params *p = calloc(1, sizeof *p);
    table_builder b = {0};
    if (p) walk(c, p, &b);
    free(p);
    return b.off;
}

/* Points every slot of `p` at its offset in `arena` (NULL arena: leaves NULL). */
static void point(const rl_model *m, rl_params *p, float *arena) {
    for (int i = 0; i < m->n_tensors; i++) {
        float **slot = (float **)((char *)p + ((char *)m->table[i].slot - (char *)&m->p));
        *slot = arena ? arena + m->table[i].offset : NULL;
    }
    p->lm_head = m->cfg.tie_embeddings ? p->wte : p->lm_head;
}

/* ---- rotations ----------------------------------------------------------------------------- */

static int same_spec(const rl_rope_spec *a, const rl_rope_spec *b) {
    char x[256], y[256];
    rl_rope_format(a, x, sizeof x);
    rl_rope_format(b, y, sizeof y);
    return strcmp(x, y) == 0;
}

static void free_ropes(rl_model *m) {
    for (int i = 0; i < m->n_ropes; i++) rl_rope_free(&m->rope[i]);
    free(m->rope);
    m->rope = NULL;
    m->n_ropes = 0;
}

static int build_ropes(rl_model *m, int max_pos, int64_t seq_len) {
    const rl_model_config *c = &m->cfg;
    free_ropes(m);
    m->rope = rl_calloc((size_t)c->n_layers, sizeof(rl_rope), "rotations");
    if (!m->rope) return -1;
    for (int l = 0; l < c->n_layers; l++) {
        int found = -1;
        for (int j = 0; j < l && found < 0; j++)
            if (same_spec(&c->pe[j], &c->pe[l])) found = m->rope_of[j];
        if (found < 0) {
            if (rl_rope_init(&m->rope[m->n_ropes], &c->pe[l], c->head_dim, max_pos, seq_len) != 0) {
                free_ropes(m);
                return rl_fail_prefix("pe: layer %d", l);
            }
            found = m->n_ropes++;
        }
        m->rope_of[l] = found;
    }
    m->rope_max_pos = max_pos;
    m->rope_seq_len = seq_len;
    return 0;
}

int rl_model_ensure_ropes(rl_model *m, int need_pos, int64_t seq_len) {
    int dynamic = 0;
    for (int l = 0; l < m->cfg.n_layers; l++) dynamic |= m->cfg.pe[l].scale == RL_SCALE_DYNAMIC;
    if (m->rope && need_pos <= m->rope_max_pos && (!dynamic || seq_len == m->rope_seq_len)) return 0;
    int max_pos = RL_MAX(need_pos, m->cfg.max_seq);
    if (m->rope && max_pos < m->rope_max_pos) max_pos = m->rope_max_pos;
    return build_ropes(m, max_pos, dynamic ? seq_len : m->cfg.max_seq);
}

void rl_model_attn_cfg(const rl_model *m, int l, rl_attn_cfg *a) {
    const rl_model_config *c = &m->cfg;
    memset(a, 0, sizeof *a);
    a->n_heads = c->n_heads;
    a->n_kv_heads = c->n_kv_heads;
    a->head_dim = c->head_dim;
    a->scale = rl_model_attn_scale(c);
    a->softcap = (float)c->attn_softcap;
    a->window = c->sliding[l] ? c->sliding_window : 0;
    a->softmax = c->attn_softmax;
}

int rl_model_set_attn_softmax(rl_model *m, rl_attn_softmax kind) {
    if ((unsigned)kind >= RL_ATTN_KIND_COUNT) return rl_fail("attn_softmax: value %d is unknown", (int)kind);
    m->cfg.attn_softmax = kind;
    return 0;
}

/* ---- create / free ------------------------------------------------------------------------- */

rl_model *rl_model_new(const rl_model_config *cfg, int alloc_params) {
    if (rl_model_config_validate(cfg) != 0) return NULL;
    rl_model *m = rl_calloc(1, sizeof *m, "model");
    if (!m) return NULL;
    m->cfg = *cfg;
    table_builder b = {0};
    walk(&m->cfg, &m->p, &b);
    m->table = rl_calloc((size_t)b.n, sizeof *m->table, "parameter table");
    if (!m->table) goto fail;
    b = (table_builder){m->table, 0, 0};
    walk(&m->cfg, &m->p, &b);
    m->n_tensors = b.n;
    m->n_params = b.off;
    if (alloc_params) {
        m->params = rl_alloc_aligned(m->n_params * sizeof(float), "parameters");
        if (!m->params) goto fail;
        point(m, &m->p, m->params);
    }
    if (build_ropes(m, m->cfg.max_seq, m->cfg.max_seq) != 0) goto fail;
    return m;
fail:
    rl_model_free(m);
    return NULL;
}

void rl_model_free(rl_model *m) {
    if (!m) return;
    free_ropes(m);
    free(m->table);
    free(m->params);
    free(m->grads);
    free(m->adam_m);
    free(m->adam_v);
    free(m->acts.mem);
    free(m->infer_ws);
    free(m);
}

const rl_param_info *rl_model_find_param(const rl_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->table[i].name, name) == 0) return &m->table[i];
    return NULL;
}

int rl_model_check_params(rl_model *m) {
    for (int i = 0; i < m->n_tensors; i++)
        if (!*m->table[i].slot) return rl_fail("model: tensor %s was not set", m->table[i].name);
    if (m->cfg.tie_embeddings) m->p.lm_head = m->p.wte;
    return 0;
}

/* ---- initialisation ------------------------------------------------------------------------ */

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

void rl_model_init_weights(rl_model *m, uint64_t seed) {
    const rl_model_config *c = &m->cfg;
    rl_rng r;
    rl_rng_seed(&r, seed);
    const double resid_scale = 1.0 / sqrt(2.0 * c->n_layers);
    for (int i = 0; i < m->n_tensors; i++) {
        const rl_param_info *e = &m->table[i];
        float *x = *e->slot;
        if (e->ndim == 2) {
            double sd = c->init_std;
            if (e->layer >= 0 && (e->slot == &m->p.layer[e->layer].wo || e->slot == &m->p.layer[e->layer].wdown))
                sd *= resid_scale;
            for (size_t j = 0; j < e->numel; j++) x[j] = (float)(rl_rng_normal(&r) * sd);
        } else {
            /* 1-D: norm gains ("...norm.weight") are 1 (0 under (1+w)); biases are 0 */
            float v = ends_with(e->name, ".weight") && !(c->norm == RL_NORM_RMS && c->norm_plus_one) ? 1.0f : 0.0f;
            for (size_t j = 0; j < e->numel; j++) x[j] = v;
        }
    }
    if (c->tie_embeddings) m->p.lm_head = m->p.wte;
}

/* ---- training state ------------------------------------------------------------------------ */

int rl_model_alloc_train(rl_model *m) {
    if (rl_model_config_check_trainable(&m->cfg) != 0) return -1;
    if (!m->params) return rl_fail("model: training needs the parameter arena (create the model with alloc_params)");
    if (m->grads) return 0;
    size_t bytes = m->n_params * sizeof(float);
    m->grads = rl_alloc_aligned(bytes, "gradients");
    m->adam_m = m->grads ? rl_alloc_aligned(bytes, "AdamW first moments") : NULL;
    m->adam_v = m->adam_m ? rl_alloc_aligned(bytes, "AdamW second moments") : NULL;
    if (!m->adam_v) {
        free(m->grads);
        free(m->adam_m);
        m->grads = m->adam_m = NULL;
        return -1;
    }
    point(m, &m->g, m->grads);
    m->adam_t = 0;
    return 0;
}

void rl_model_zero_grad(rl_model *m) {
    if (m->grads) memset(m->grads, 0, m->n_params * sizeof(float));
}

void rl_model_adamw(rl_model *m, float lr, float beta1, float beta2, float eps, float wd) {
    m->adam_t++;
    for (int i = 0; i < m->n_tensors; i++) {
        const rl_param_info *e = &m->table[i];
        rl_adamw_step(m->params + e->offset, m->grads + e->offset, m->adam_m + e->offset, m->adam_v + e->offset,
                      e->numel, lr, beta1, beta2, eps, e->decay ? wd : 0.0f, m->adam_t);
    }
}
