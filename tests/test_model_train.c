/* model training: the parameter table and arenas, seeded init, overfitting a short sequence,
 * bit-identical reruns, gradient accumulation and input checks. */
#include "helpers.h"
#include "ropelab/model.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

Test(model_train, parameter_table_layout) {
    rl_model_config c;
    rl_model_config_default(&c);
    c.vocab_size = 50;
    c.bos_id = c.eos_id = -1;
    c.n_layers = 2;
    rl_model *m = rl_model_new(&c, 1);
    cr_assert(m, "%s", rl_error());
    /* contiguous, in order, covering the arena */
    size_t off = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        cr_assert_eq(m->table[i].offset, off, "%s", m->table[i].name);
        cr_assert_eq(*m->table[i].slot, m->params + off, "%s", m->table[i].name);
        off += m->table[i].numel;
    }
    cr_assert_eq(off, m->n_params);
    cr_assert_eq(m->n_tensors, 1 + 2 * 9 + 1, "tied: no lm_head entry");
    const rl_param_info *e = rl_model_find_param(m, "model.layers.1.self_attn.k_proj.weight");
    cr_assert(e);
    cr_assert(e->ndim == 2 && e->shape[0] == 64 && e->shape[1] == 256 && e->decay && e->layer == 1);
    e = rl_model_find_param(m, "model.layers.0.post_attention_layernorm.weight");
    cr_assert(e && e->ndim == 1 && !e->decay);
    cr_assert_str_eq(m->table[0].name, "model.embed_tokens.weight");
    cr_assert_str_eq(m->table[m->n_tensors - 1].name, "model.norm.weight");
    /* the adjacency the fused products rely on */
    const rl_layer_params *p = &m->p.layer[1];
    cr_assert_eq(p->wk, p->wq + 256 * 256);
    cr_assert_eq(p->wv, p->wk + 64 * 256);
    cr_assert_eq(p->wup, p->wgate + 1024 * 256);
    cr_assert_eq(m->p.lm_head, m->p.wte);
    rl_model_free(m);

    /* GPT-NeoX names */
    rl_model_config_preset(&c, "gpt_neox");
    c.n_layers = 1;
    m = rl_model_new(&c, 1);
    const char *names[] = {"gpt_neox.embed_in.weight",
                           "gpt_neox.layers.0.input_layernorm.weight",
                           "gpt_neox.layers.0.input_layernorm.bias",
                           "gpt_neox.layers.0.attention.query_key_value.weight",
                           "gpt_neox.layers.0.attention.query_key_value.bias",
                           "gpt_neox.layers.0.attention.dense.weight",
                           "gpt_neox.layers.0.attention.dense.bias",
                           "gpt_neox.layers.0.post_attention_layernorm.weight",
                           "gpt_neox.layers.0.post_attention_layernorm.bias",
                           "gpt_neox.layers.0.mlp.dense_h_to_4h.weight",
                           "gpt_neox.layers.0.mlp.dense_h_to_4h.bias",
                           "gpt_neox.layers.0.mlp.dense_4h_to_h.weight",
                           "gpt_neox.layers.0.mlp.dense_4h_to_h.bias",
                           "gpt_neox.final_layer_norm.weight",
                           "gpt_neox.final_layer_norm.bias",
                           "embed_out.weight"};
    cr_assert_eq(m->n_tensors, (int)RL_ARRAY_LEN(names));
    for (size_t i = 0; i < RL_ARRAY_LEN(names); i++) cr_assert_str_eq(m->table[i].name, names[i]);
    cr_assert_eq(rl_model_find_param(m, names[3])->shape[0], 3 * 4 * 64);
    rl_model_free(m);

    /* Gemma 2's sandwich norms */
    rl_model_config_preset(&c, "gemma2");
    c.n_layers = 1;
    m = rl_model_new(&c, 1);
    cr_assert(rl_model_find_param(m, "model.layers.0.pre_feedforward_layernorm.weight"));
    cr_assert(rl_model_find_param(m, "model.layers.0.post_feedforward_layernorm.weight"));
    cr_assert_eq(*rl_model_find_param(m, "model.layers.0.post_attention_layernorm.weight")->slot,
                 m->p.layer[0].post_attn_norm);
    rl_model_free(m);
}

Test(model_train, seeded_init) {
    rl_model_config c;
    rl_model_config_default(&c);
    c.n_layers = 2;
    rl_model *a = rl_model_new(&c, 1), *b = rl_model_new(&c, 1);
    rl_model_init_weights(a, 42);
    rl_model_init_weights(b, 42);
    cr_assert(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0, "same seed, different weights");
    rl_model_init_weights(b, 43);
    cr_assert(memcmp(a->params, b->params, a->n_params * sizeof(float)) != 0);
    /* the scheme: N(0, 0.02^2), residual projections / sqrt(2 L), (1+w) gains at 0 */
    double s = 0, so = 0;
    size_t n = (size_t)c.vocab_size * c.d_model, no = (size_t)c.d_model * c.n_heads * c.head_dim;
    for (size_t i = 0; i < n; i++) s += (double)a->p.wte[i] * a->p.wte[i];
    for (size_t i = 0; i < no; i++) so += (double)a->p.layer[1].wo[i] * a->p.layer[1].wo[i];
    /* sample std of 1M (65k) normals: relative error ~1/sqrt(2n) = 0.07% (0.3%); allow 1% */
    cr_assert(fabs(sqrt(s / n) - 0.02) < 0.01 * 0.02, "wte std %g", sqrt(s / n));
    cr_assert(fabs(sqrt(so / no) - 0.01) < 0.01 * 0.01, "wo std %g", sqrt(so / no));
    for (int i = 0; i < c.d_model; i++) cr_assert_eq(a->p.layer[0].attn_norm[i], 0.0f);
    rl_model_free(a);
    rl_model_free(b);
}

static rl_model *small_kind(uint64_t seed, rl_attn_softmax kind) {
    rl_model_config c;
    rl_model_config_default(&c);
    c.vocab_size = 32;
    c.d_model = 32;
    c.n_layers = 2;
    c.n_heads = 2;
    c.n_kv_heads = 1;
    c.head_dim = 16;
    c.d_ff = 64;
    c.max_seq = 24;
    c.bos_id = c.eos_id = 0;
    c.attn_softmax = kind;
    rl_model *m = rl_model_new(&c, 1);
    cr_assert(m, "%s", rl_error());
    rl_model_init_weights(m, seed);
    cr_assert_eq(rl_model_alloc_train(m), 0, "%s", rl_error());
    return m;
}
static rl_model *small(uint64_t seed) { return small_kind(seed, RL_ATTN_PLAIN); }

/* A tiny model memorises a random 24-token sequence: the loss per token (3.47 nats at chance)
 * goes below 0.02 within 300 AdamW steps. A broken gradient or optimizer step stalls far above. */
static void overfit(rl_attn_softmax kind) {
    rl_model *m = small_kind(5, kind);
    const int T = 24;
    int32_t seq[25], tok[24], tgt[24];
    rl_rng r;
    rl_rng_seed(&r, 77);
    for (int i = 0; i < 25; i++) seq[i] = (int32_t)rl_rng_below(&r, 32);
    memcpy(tok, seq, sizeof tok);
    memcpy(tgt, seq + 1, sizeof tgt);
    cr_assert_eq(rl_model_alloc_acts(m, 1, T), 0, "%s", rl_error());
    double loss = 0, first = 0;
    int64_t nv;
    for (int step = 0; step < 300; step++) {
        cr_assert_eq(rl_model_forward(m, tok, tgt, 1, T, &loss, &nv), 0, "%s", rl_error());
        if (step == 0) first = loss / nv;
        rl_model_zero_grad(m);
        cr_assert_eq(rl_model_backward(m, 1.0f / (float)nv), 0);
        rl_model_adamw(m, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.0f);
    }
    cr_assert(fabs(first - log(32.0)) < 0.2, "initial loss %g, chance is %g", first, log(32.0));
    cr_assert(loss / nv < 0.02, "loss per token after 300 steps: %g", loss / nv);
    cr_assert_eq(m->adam_t, 300);
    rl_model_free(m);
}
Test(model_train, overfits_a_short_sequence) { overfit(RL_ATTN_PLAIN); }
Test(model_train, overfits_a_short_sequence_adaptive) { overfit(RL_ATTN_ADAPTIVE); }

static void run_steps(rl_model *m, int steps) {
    const int B = 3, T = 20;
    int32_t tok[60], tgt[60];
    rl_rng r;
    rl_rng_seed(&r, 3);
    cr_assert_eq(rl_model_alloc_acts(m, B, T), 0);
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < B * T; i++) {
            tok[i] = (int32_t)rl_rng_below(&r, 32);
            tgt[i] = (int32_t)rl_rng_below(&r, 32);
        }
        double loss;
        int64_t nv;
        cr_assert_eq(rl_model_forward(m, tok, tgt, B, T, &loss, &nv), 0);
        rl_model_zero_grad(m);
        cr_assert_eq(rl_model_backward(m, 1.0f / (float)nv), 0);
        rl_model_adamw(m, 3e-3f, 0.9f, 0.95f, 1e-8f, 0.1f);
    }
}

/* Same seed, same data, same thread count: bit-identical parameters and moments. */
Test(model_train, deterministic_reruns) {
    rl_model *a = small(9), *b = small(9);
    run_steps(a, 3);
    run_steps(b, 3);
    cr_assert(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0, "parameters differ between runs");
    cr_assert(memcmp(a->adam_v, b->adam_v, a->n_params * sizeof(float)) == 0, "moments differ between runs");
    rl_model_free(a);
    rl_model_free(b);
}

Test(model_train, deterministic_reruns_adaptive) {
    rl_model *a = small_kind(9, RL_ATTN_ADAPTIVE), *b = small_kind(9, RL_ATTN_ADAPTIVE), *p = small(9);
    run_steps(a, 3);
    run_steps(b, 3);
    run_steps(p, 3);
    cr_assert(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0, "parameters differ between runs");
    cr_assert(memcmp(a->params, p->params, a->n_params * sizeof(float)) != 0, "adaptive trained like plain softmax");
    rl_model_free(a);
    rl_model_free(b);
    rl_model_free(p);
}

/* The adaptive kinds keep RL_ATTN_ROW_STATS floats per attention row (and RL_ATTN_ADAPTIVE a second
 * [64][T] strip per thread for the recomputed logits); activations allocated for one kind are
 * refused, with a message, once the model is switched to another. */
Test(model_train, adaptive_activation_memory_and_kind_switch) {
    rl_model *m = small(2);
    const rl_model_config *c = &m->cfg;
    const int B = 2, T = 12;
    rl_model_config ca = *c, cc = *c;
    ca.attn_softmax = RL_ATTN_ADAPTIVE;
    cc.attn_softmax = RL_ATTN_ADAPTIVE_CONST;
    rl_attn_cfg a0 = {0}, aa = {0}, ac = {0};
    aa.softmax = RL_ATTN_ADAPTIVE;
    ac.softmax = RL_ATTN_ADAPTIVE_CONST;
#define PAD(x) ((((size_t)(x)) + 15) & ~(size_t)15)
    size_t stats = PAD((size_t)c->n_layers * B * T * c->n_heads * RL_ATTN_ROW_STATS) * sizeof(float);
    size_t base = rl_model_acts_bytes(c, B, T) - PAD(rl_attention_scratch_floats(&a0, T)) * sizeof(float);
    cr_assert_eq(rl_model_acts_bytes(&ca, B, T), base + stats + PAD(rl_attention_scratch_floats(&aa, T)) * sizeof(float));
    cr_assert_eq(rl_model_acts_bytes(&cc, B, T), base + stats + PAD(rl_attention_scratch_floats(&ac, T)) * sizeof(float));
#undef PAD
    cr_assert(rl_attention_scratch_floats(&ac, T) < rl_attention_scratch_floats(&aa, T));
    int32_t tok[24], tgt[24];
    for (int i = 0; i < B * T; i++) tok[i] = (i * 7) % 32, tgt[i] = (i * 3 + 2) % 32;
    double loss;
    int64_t nv;
    cr_assert_eq(rl_model_alloc_acts(m, B, T), 0);
    cr_assert(m->acts.att_stats == NULL);
    cr_assert_eq(rl_model_set_attn_softmax(m, RL_ATTN_ADAPTIVE), 0);
    cr_assert_neq(rl_model_forward(m, tok, tgt, B, T, &loss, &nv), 0, "activations of the plain kind accepted");
    cr_assert(strstr(rl_error(), "attn_softmax") && strstr(rl_error(), "rl_model_alloc_acts"), "%s", rl_error());
    cr_assert_neq(rl_model_backward(m, 1.0f), 0);
    cr_assert(strstr(rl_error(), "attn_softmax"), "%s", rl_error());
    cr_assert_eq(rl_model_alloc_acts(m, B, T), 0, "%s", rl_error());
    cr_assert(m->acts.att_stats != NULL);
    cr_assert_eq(rl_model_forward(m, tok, tgt, B, T, &loss, &nv), 0, "%s", rl_error());
    rl_model_zero_grad(m);
    cr_assert_eq(rl_model_backward(m, 1.0f), 0, "%s", rl_error());
    cr_assert_eq(rl_model_set_attn_softmax(m, RL_ATTN_PLAIN), 0);
    cr_assert_neq(rl_model_forward(m, tok, tgt, B, T, &loss, &nv), 0, "activations of the adaptive kind accepted");
    rl_model_free(m);
}

/* Gradients accumulate: the batch of two windows equals the sum of the two windows alone. */
Test(model_train, gradient_accumulation) {
    rl_model *m = small(4);
    const int T = 10;
    int32_t tok[20], tgt[20];
    for (int i = 0; i < 20; i++) tok[i] = (i * 7) % 32, tgt[i] = (i * 5 + 1) % 32;
    double l2, la, lb;
    int64_t nv;
    cr_assert_eq(rl_model_alloc_acts(m, 2, T), 0);
    rl_model_zero_grad(m);
    rl_model_forward(m, tok, tgt, 2, T, &l2, &nv);
    rl_model_backward(m, 1.0f);
    float *g2 = malloc(m->n_params * sizeof *g2);
    memcpy(g2, m->grads, m->n_params * sizeof *g2);
    cr_assert_eq(rl_model_alloc_acts(m, 1, T), 0);
    rl_model_zero_grad(m);
    rl_model_forward(m, tok, tgt, 1, T, &la, &nv);
    rl_model_backward(m, 1.0f);
    rl_model_forward(m, tok + T, tgt + T, 1, T, &lb, &nv);
    rl_model_backward(m, 1.0f);
    /* the same sums in a different grouping: float32 reassociation only */
    cr_assert(fabs(l2 - (la + lb)) < 1e-5 * l2);
    double gmax = 0;
    for (size_t i = 0; i < m->n_params; i++) gmax = fmax(gmax, fabs(g2[i]));
    for (size_t i = 0; i < m->n_params; i++)
        cr_assert(fabs(m->grads[i] - g2[i]) <= 1e-5 * gmax, "grad %zu: %g vs %g", i, m->grads[i], g2[i]);
    free(g2);
    rl_model_free(m);
}

Test(model_train, bad_inputs_are_reported) {
    rl_model *m = small(1);
    int32_t tok[8] = {1, 2, 3, 4, 5, 6, 7, 8}, tgt[8] = {2, 3, 4, 5, 6, 7, 8, -1};
    double loss;
    int64_t nv;
    cr_assert_neq(rl_model_forward(m, tok, tgt, 1, 8, &loss, &nv), 0, "no activations");
    cr_assert(strstr(rl_error(), "rl_model_alloc_acts"), "%s", rl_error());
    cr_assert_eq(rl_model_alloc_acts(m, 1, 8), 0);
    cr_assert_neq(rl_model_forward(m, tok, tgt, 2, 4, &loss, &nv), 0, "shape mismatch");
    tok[3] = 32;
    cr_assert_neq(rl_model_forward(m, tok, tgt, 1, 8, &loss, &nv), 0);
    cr_assert(strstr(rl_error(), "tokens[3] = 32"), "%s", rl_error());
    tok[3] = 4;
    tgt[2] = 99;
    cr_assert_neq(rl_model_forward(m, tok, tgt, 1, 8, &loss, &nv), 0);
    cr_assert(strstr(rl_error(), "targets[2] = 99"), "%s", rl_error());
    tgt[2] = 4;
    cr_assert_eq(rl_model_forward(m, tok, tgt, 1, 8, &loss, &nv), 0);
    cr_assert_eq(nv, 7);
    rl_model_free(m);
    /* an inference-only layout cannot be trained */
    rl_model_config c;
    rl_model_config_preset(&c, "gemma2");
    c.n_layers = 1;
    m = rl_model_new(&c, 1);
    cr_assert_neq(rl_model_alloc_train(m), 0);
    cr_assert(strstr(rl_error(), "sandwich_norm"), "%s", rl_error());
    rl_model_free(m);
}
