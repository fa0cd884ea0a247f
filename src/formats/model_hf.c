/* Loading Hugging Face folders (config.json + safetensors, sharded or not) and ropelab's own
 * checkpoints, which are such folders whose safetensors metadata holds the exact model config. */
#include "model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Tensors a Hugging Face checkpoint may carry that the model does not use. */
static int hf_ignorable(const char *name, void *ctx) {
    const rl_model_config *c = ctx;
    if (ends_with(name, "rotary_emb.inv_freq")) return 1; /* old Llama checkpoints store the RoPE table */
    /* transformers ignores a stored head when tie_word_embeddings is set */
    return c->tie_embeddings && (strcmp(name, "lm_head.weight") == 0 || strcmp(name, "embed_out.weight") == 0);
}

/* The model config: the "ropelab_config" metadata when present (exact, with per-layer encodings),
 * checked against config.json's (hc, NULL when there is none); else hc. */
static int choose_config(const rl_tensors *ts, const rl_model_config *hc, rl_model_config *out, const char *where) {
    const rl_meta *e = rl_meta_find(&ts->meta, "ropelab_config");
    if (!e) {
        if (!hc)
            return rl_fail("%s: a safetensors file without config.json needs the \"ropelab_config\" metadata of a "
                           "ropelab checkpoint; give the Hugging Face folder instead",
                           where);
        *out = *hc;
        return 0;
    }
    char src[4300];
    snprintf(src, sizeof src, "%s: __metadata__ ropelab_config", where);
    rl_model_config c;
    rl_model_config_default(&c);
    if (rl_model_config_from_json(&c, e->str, src) != 0) return -1;
    if (hc) {
        int same_family = c.arch == hc->arch || ((c.arch == RL_ARCH_LLAMA || c.arch == RL_ARCH_LLAMA2C) &&
                                                (hc->arch == RL_ARCH_LLAMA || hc->arch == RL_ARCH_LLAMA2C));
        if (!same_family)
            return rl_fail("%s says architecture %s but config.json says %s", src, rl_arch_name(c.arch),
                           rl_arch_name(hc->arch));
        const struct {
            const char *key;
            int a, b;
        } chk[] = {{"vocab_size", c.vocab_size, hc->vocab_size},     {"hidden_size", c.d_model, hc->d_model},
                   {"num_hidden_layers", c.n_layers, hc->n_layers},  {"num_attention_heads", c.n_heads, hc->n_heads},
                   {"num_key_value_heads", c.n_kv_heads, hc->n_kv_heads}, {"head_dim", c.head_dim, hc->head_dim},
                   {"intermediate_size", c.d_ff, hc->d_ff},          {"tie_word_embeddings", c.tie_embeddings, hc->tie_embeddings}};
        for (size_t i = 0; i < RL_ARRAY_LEN(chk); i++)
            if (chk[i].a != chk[i].b)
                return rl_fail("%s disagrees with config.json: %s is %d there but %d in config.json", src, chk[i].key,
                               chk[i].a, chk[i].b);
    }
    *out = c;
    return 0;
}

/* Builds the model, binds every table entry to the tensor of the same name, attaches the tokenizer. */
static int load_tensors(rl_loaded *out, ml_priv *pv, const rl_model_config *cfg, const char *path, const char *tokp,
                        const char *tokdir) {
    rl_model *m = rl_model_new(cfg, 0);
    ml_src *src = NULL;
    rl_tokenizer *tok = NULL;
    if (!m) {
        rl_fail_prefix("%s: model config", path);
        goto fail;
    }
    src = rl_calloc((size_t)m->n_tensors, sizeof *src, "tensor sources");
    if (!src) goto fail;
    for (int i = 0; i < m->n_tensors; i++) {
        src[i].layer = -1;
        if (!(src[i].t = rl_tensors_find(&pv->ts, m->table[i].name))) {
            rl_fail("%s: tensor %s is missing (a %s model with this config needs it%s)", path, m->table[i].name,
                    rl_arch_name(cfg->arch),
                    strstr(m->table[i].name, "lm_head") || strstr(m->table[i].name, "embed_out")
                        ? "; tie_word_embeddings is false"
                        : "");
            goto fail;
        }
    }
    if (ml_folder_tokenizer(tokdir, tokp, &tok) != 0) goto fail;
    return ml_finish(out, m, pv, src, hf_ignorable, (void *)cfg, tok, "hf", path);
fail:
    free(src);
    rl_model_free(m);
    ml_priv_free(pv);
    return -1;
}

int ml_load_hf_dir(const char *dir, const char *tokenizer_path, rl_loaded *out) {
    char cfg_path[4200];
    if (rl_path(cfg_path, sizeof cfg_path, "%s/config.json", dir) != 0) return -1;
    char *text;
    size_t len;
    if (rl_read_file(cfg_path, &text, &len) != 0) return -1;
    rl_model_config hc, cfg;
    int rc = rl_hf_config_parse(&hc, text, len, cfg_path);
    free(text);
    if (rc != 0) return -1;
    ml_priv *pv = rl_calloc(1, sizeof *pv, "loaded model");
    if (!pv) return -1;
    if (rl_safetensors_open_dir(&pv->ts, dir) != 0) {
        ml_priv_free(pv);
        return -1;
    }
    pv->have_ts = 1;
    if (choose_config(&pv->ts, &hc, &cfg, pv->ts.files[0].path) != 0) {
        ml_priv_free(pv);
        return -1;
    }
    return load_tensors(out, pv, &cfg, dir, tokenizer_path, dir);
}

int ml_load_safetensors_file(const char *path, const char *tokenizer_path, rl_loaded *out) {
    ml_priv *pv = rl_calloc(1, sizeof *pv, "loaded model");
    if (!pv) return -1;
    rl_model_config cfg;
    if (rl_safetensors_open(&pv->ts, path) != 0) {
        ml_priv_free(pv);
        return -1;
    }
    pv->have_ts = 1;
    if (choose_config(&pv->ts, NULL, &cfg, path) != 0) {
        ml_priv_free(pv);
        return -1;
    }
    /* the tokenizer, if not given, from the file's folder */
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    return load_tensors(out, pv, &cfg, path, tokenizer_path, dir);
}
