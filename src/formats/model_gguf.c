/* Loading GGUF files (llama.cpp's llama, gemma, gemma2 and qwen2 architectures): the config and
 * vocabulary from the metadata (model_gguf_meta.c), llama.cpp tensor names onto the parameter table.
 *
 * Layout decision: a `llama` GGUF stores q/k rows permuted for llama.cpp's NORM rope (pairs
 * (2i, 2i+1)); we keep the rows as stored and run RoPE with layout=interleaved, which computes
 * exactly what llama.cpp computes, keeps F32 weights memory-mapped (no copy of q/k) and is the
 * layout llama2.c checkpoints have too. gemma/gemma2/qwen2 files use NEOX rope: half layout, as
 * in Hugging Face. llama.cpp bakes Gemma's (1 + w) into the stored norm weights, so those load
 * with norm_plus_one = 0 (the same function). See docs/formats.md, "Models". */
#include "model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the loader ----------------------------------------------------------------------------- */

static int gguf_ignorable(const char *name, void *ctx) {
    (void)ctx;
    return strcmp(name, "rope_freqs.weight") == 0; /* consumed by the config (model_gguf_meta.c) */
}

int ml_load_gguf(const char *path, const char *tokenizer_path, rl_loaded *out) {
    ml_priv *pv = rl_calloc(1, sizeof *pv, "loaded model");
    rl_model *m = NULL;
    ml_src *src = NULL;
    rl_tokenizer *tok = NULL;
    if (!pv) return -1;
    if (rl_gguf_open(&pv->ts, path) != 0) goto fail;
    pv->have_ts = 1;
    rl_model_config c;
    if (ml_gguf_config(&pv->ts, path, &c) != 0 || !(m = rl_model_new(&c, 0))) goto fail;
    src = rl_calloc((size_t)m->n_tensors, sizeof *src, "tensor sources");
    if (!src) goto fail;
    for (int i = 0; i < m->n_tensors; i++) {
        char name[128];
        src[i].layer = -1;
        if (ml_gguf_name(m->table[i].name, c.sandwich_norm, name, sizeof name) != 0) {
            rl_fail("%s: no GGUF name for %s (internal error)", path, m->table[i].name);
            goto fail;
        }
        if (!(src[i].t = rl_tensors_find(&pv->ts, name))) {
            rl_fail("%s: tensor %s is missing (a %s model with %d layers needs it)", path, name, rl_arch_name(c.arch),
                    c.n_layers);
            goto fail;
        }
    }
    if (tokenizer_path ? !(tok = rl_tok_load(tokenizer_path)) : ml_gguf_vocab(&pv->ts, path, &tok) != 0) goto fail;
    return ml_finish(out, m, pv, src, gguf_ignorable, NULL, tok, "gguf", path);
fail:
    free(src);
    rl_model_free(m);
    ml_priv_free(pv);
    return -1;
}
