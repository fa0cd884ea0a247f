/* Loading llama.c checkpoints (legacy 7-int header): the stacked llama2c.* tensors become the
 * per-layer slots of a llama2c-preset model (RoPE on interleaved pairs, Meta's layout), in place. */
#include "model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parameter-table name (after "model.layers.N.") -> stacked llama2.c tensor. */
static const struct {
    const char *hf, *l2c;
} layer_map[] = {
    {"input_layernorm.weight", "llama2c.rms_att"},  {"self_attn.q_proj.weight", "llama2c.wq"},
    {"self_attn.k_proj.weight", "llama2c.wk"},      {"self_attn.v_proj.weight", "llama2c.wv"},
    {"self_attn.o_proj.weight", "llama2c.wo"},      {"post_attention_layernorm.weight", "llama2c.rms_ffn"},
    {"mlp.gate_proj.weight", "llama2c.w1"},         {"mlp.up_proj.weight", "llama2c.w3"},
    {"mlp.down_proj.weight", "llama2c.w2"},
};

static int source(const rl_tensors *ts, const char *name, ml_src *s) {
    const char *l2c = NULL;
    s->layer = -1;
    if (strcmp(name, "model.embed_tokens.weight") == 0) l2c = "llama2c.tok_embeddings";
    else if (strcmp(name, "model.norm.weight") == 0) l2c = "llama2c.rms_final";
    else if (strcmp(name, "lm_head.weight") == 0) l2c = "llama2c.wcls";
    else {
        int layer, used = 0;
        if (sscanf(name, "model.layers.%d.%n", &layer, &used) == 1 && used > 0)
            for (size_t i = 0; i < RL_ARRAY_LEN(layer_map) && !l2c; i++)
                if (strcmp(name + used, layer_map[i].hf) == 0) l2c = layer_map[i].l2c, s->layer = layer;
    }
    if (!l2c) return rl_fail("llama2.c: no tensor for %s (internal error)", name);
    s->t = rl_tensors_get(ts, l2c);
    return s->t ? 0 : -1;
}

static int l2c_ignorable(const char *name, void *ctx) {
    (void)ctx;
    return strncmp(name, "llama2c.freq_cis_", 17) == 0; /* the legacy cos/sin table, unused by run.c too */
}

static int header(const rl_tensors *ts, const char *key, int *out) {
    int64_t v;
    char k[64];
    snprintf(k, sizeof k, "llama2c.%s", key);
    if (rl_tensors_meta_i64(ts, k, &v) != 0) return -1;
    *out = (int)v;
    return 0;
}

int ml_load_llama2c(const char *path, const char *tokenizer_path, rl_loaded *out) {
    ml_priv *pv = rl_calloc(1, sizeof *pv, "loaded model");
    rl_model *m = NULL;
    ml_src *src = NULL;
    rl_tokenizer *tok = NULL;
    if (!pv) return -1;
    if (rl_llama2c_open(&pv->ts, path) != 0) goto fail;
    pv->have_ts = 1;
    rl_model_config c;
    rl_model_config_preset(&c, "llama2c"); /* RMSNorm w (eps 1e-5), SwiGLU, theta 10000, interleaved pairs */
    int shared, seq;
    if (header(&pv->ts, "dim", &c.d_model) || header(&pv->ts, "hidden_dim", &c.d_ff) ||
        header(&pv->ts, "n_layers", &c.n_layers) || header(&pv->ts, "n_heads", &c.n_heads) ||
        header(&pv->ts, "n_kv_heads", &c.n_kv_heads) || header(&pv->ts, "vocab_size", &c.vocab_size) ||
        header(&pv->ts, "seq_len", &seq) || header(&pv->ts, "head_dim", &c.head_dim) ||
        rl_tensors_meta_bool(&pv->ts, "llama2c.shared_classifier", &shared))
        goto fail;
    if (c.n_layers > RL_MAX_LAYERS) {
        rl_fail("%s: n_layers %d is more than ropelab's %d", path, c.n_layers, RL_MAX_LAYERS);
        goto fail;
    }
    c.max_seq = RL_MIN(seq, 8192);
    c.tie_embeddings = shared;
    c.bos_id = c.vocab_size > 1 ? 1 : -1; /* llama2.c: BOS 1, EOS 2 */
    c.eos_id = c.vocab_size > 2 ? 2 : -1;
    if (!(m = rl_model_new(&c, 0))) {
        rl_fail_prefix("%s: header", path);
        goto fail;
    }
    src = rl_calloc((size_t)m->n_tensors, sizeof *src, "tensor sources");
    if (!src) goto fail;
    for (int i = 0; i < m->n_tensors; i++)
        if (source(&pv->ts, m->table[i].name, &src[i]) != 0) goto fail;
    /* the tokenizer: given, else tokenizer.bin beside the checkpoint */
    char tp[4200];
    if (!tokenizer_path) {
        const char *slash = strrchr(path, '/');
        if (rl_path(tp, sizeof tp, "%.*s%stokenizer.bin", slash ? (int)(slash - path) : 0, path, slash ? "/" : "") != 0)
            goto fail;
        if (!rl_file_exists(tp)) {
            rl_fail("%s: no tokenizer: llama2.c checkpoints need one (give it, e.g. --tokenizer tok512.bin, or put "
                    "tokenizer.bin beside the checkpoint)",
                    path);
            goto fail;
        }
    }
    const char *tpath = tokenizer_path ? tokenizer_path : tp;
    if (!(tok = rl_tok_load(tpath))) goto fail;
    if (rl_tok_vocab_size(tok) != c.vocab_size) {
        rl_fail("%s: the tokenizer has %d tokens but the checkpoint %s has vocab_size %d", tpath,
                rl_tok_vocab_size(tok), path, c.vocab_size);
        goto fail;
    }
    return ml_finish(out, m, pv, src, l2c_ignorable, NULL, tok, "llama2c", path);
fail:
    rl_tok_free(tok);
    free(src);
    rl_model_free(m);
    ml_priv_free(pv);
    return -1;
}
