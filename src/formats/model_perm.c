/* Writers' tensor transforms: q/k head-dimension permutations between pair layouts and the
 * (1 + w) RMSNorm convention, applied to copies of a model's tensors. */
#include "model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double ml_fraction(int num, int d) {
    double p = (double)num / d;
    while (floor(p * d) < num) p = nextafter(p, 2.0);
    while (floor(p * d) > num) p = nextafter(p, 0.0);
    return p;
}

int ml_chunk_perm(const rl_rope_spec *from, const rl_rope_spec *to, int hd, const int *chunk_map, int *perm) {
    rl_rope_freqs a, b;
    if (rl_rope_freqs_init(&a, from, hd, 0) != 0) return -1;
    if (rl_rope_freqs_init(&b, to, hd, 0) != 0) {
        rl_rope_freqs_free(&a);
        return -1;
    }
    for (int i = 0; i < hd; i++) perm[i] = -1;
    for (int k = 0; k < hd / 2; k++) {
        int a0, a1, b0, b1;
        rl_rope_chunk_dims(&a, chunk_map ? chunk_map[k] : k, &a0, &a1);
        rl_rope_chunk_dims(&b, k, &b0, &b1);
        perm[b0] = a0;
        perm[b1] = a1;
    }
    rl_rope_freqs_free(&a);
    rl_rope_freqs_free(&b);
    for (int i = 0; i < hd; i++)
        if (perm[i] < 0) return rl_fail("rope: the chunk map does not cover head dim %d (internal error)", i);
    return 0;
}

int ml_layout_perm(const rl_rope_spec *from, const rl_rope_spec *to, int hd, int *perm) {
    return ml_chunk_perm(from, to, hd, NULL, perm);
}

int ml_is_rms_gain(const rl_model *m, const rl_param_info *e) {
    if (m->cfg.norm != RL_NORM_RMS) return 0;
    if (e->slot == &m->p.final_norm) return 1;
    if (e->layer < 0) return 0;
    const rl_layer_params *y = &m->p.layer[e->layer];
    return e->slot == &y->attn_norm || e->slot == &y->mlp_norm || e->slot == &y->post_attn_norm ||
           e->slot == &y->post_mlp_norm;
}

/* Rows [heads][hd][cols] with the hd rows of each head permuted: dst row (h, i) = src row (h, perm[i]).
 * dst, src: [heads * hd][cols] (cols = 1 for biases). */
static void permute_heads(float *dst, const float *src, int heads, int hd, int64_t cols, const int *perm) {
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < hd; i++)
            memcpy(dst + ((int64_t)h * hd + i) * cols, src + ((int64_t)h * hd + perm[i]) * cols,
                   (size_t)cols * sizeof(float));
}

float *ml_xform_tensor(const rl_model *m, const rl_param_info *e, const ml_xform *x, int *owned) {
    const rl_model_config *c = &m->cfg;
    const float *src = *e->slot;
    *owned = 0;
    const int *perm = e->layer >= 0 ? x->perm[e->layer] : NULL;
    const rl_layer_params *y = e->layer >= 0 ? &m->p.layer[e->layer] : NULL;
    int is_q = y && (e->slot == &y->wq || e->slot == &y->bq);
    int is_k = y && (e->slot == &y->wk || e->slot == &y->bk);
    int is_fused = y && (e->slot == &y->wqkv || e->slot == &y->bqkv);
    int gain = x->norm_add != 0 && ml_is_rms_gain(m, e);
    if (!(perm && (is_q || is_k || is_fused)) && !gain) return (float *)src;
    float *dst = rl_malloc(e->numel * sizeof(float), "tensor copy");
    if (!dst) return NULL;
    *owned = 1;
    const int hd = c->head_dim;
    if (gain) {
        for (size_t i = 0; i < e->numel; i++) dst[i] = src[i] + x->norm_add;
    } else if (is_fused) { /* GPT-NeoX: per head [q rows | k rows | v rows] */
        memcpy(dst, src, e->numel * sizeof(float));
        int64_t cols = e->shape[1];
        for (int h = 0; h < c->n_heads; h++)
            for (int part = 0; part < 2; part++) {
                int64_t base = ((int64_t)h * 3 + part) * hd;
                permute_heads(dst + base * cols, src + base * cols, 1, hd, cols, perm);
            }
    } else {
        permute_heads(dst, src, is_q ? c->n_heads : c->n_kv_heads, hd, e->shape[1], perm);
    }
    return dst;
}
