/* A tokenizer from GGUF metadata arrays (tokenizer.ggml.*), as handed over by the GGUF reader. */
#include "tok_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

rl_tokenizer *rl_tok_from_gguf(const rl_tok_gguf *g, const char *source) {
    rl_clear_error();
    if (!g->model) {
        rl_fail("%s: tokenizer.ggml.model is missing", source);
        return NULL;
    }
    int llama = strcmp(g->model, "llama") == 0, gpt2 = strcmp(g->model, "gpt2") == 0;
    if (!llama && !gpt2) {
        rl_fail("%s: tokenizer.ggml.model \"%s\" is not supported (ropelab reads \"llama\" and \"gpt2\")", source, g->model);
        return NULL;
    }
    if (g->n_tokens <= 0 || g->n_tokens > (1 << 24) || !g->tokens || !g->token_lens) {
        rl_fail("%s: tokenizer.ggml.tokens: %lld tokens (expected 1..2^24)", source, (long long)g->n_tokens);
        return NULL;
    }
    if (llama && !g->scores) {
        rl_fail("%s: tokenizer.ggml.scores is required for model \"llama\"", source);
        return NULL;
    }
    if (gpt2 && (!g->merges || !g->merge_lens || g->n_merges <= 0)) {
        rl_fail("%s: tokenizer.ggml.merges is required for model \"gpt2\"", source);
        return NULL;
    }
    int pre = TK_PRE_GPT2;
    if (gpt2 && g->pre) {
        if (strcmp(g->pre, "default") == 0 || strcmp(g->pre, "gpt2") == 0 || strcmp(g->pre, "gpt-2") == 0) pre = TK_PRE_GPT2;
        else if (strcmp(g->pre, "llama-bpe") == 0 || strcmp(g->pre, "llama3") == 0 || strcmp(g->pre, "smaug-bpe") == 0) pre = TK_PRE_LLAMA3;
        else if (strcmp(g->pre, "qwen2") == 0) pre = TK_PRE_QWEN2;
        else {
            rl_fail("%s: tokenizer.ggml.pre \"%s\" is not supported (ropelab knows default/gpt2, llama-bpe, qwen2)", source, g->pre);
            return NULL;
        }
    }
    int32_t ids[4] = {g->bos_id, g->eos_id, g->unk_id, g->pad_id};
    const char *names[4] = {"bos_token_id", "eos_token_id", "unknown_token_id", "padding_token_id"};
    for (int i = 0; i < 4; i++)
        if (ids[i] < -1 || ids[i] >= g->n_tokens) {
            rl_fail("%s: tokenizer.ggml.%s %d is outside the vocabulary [0, %lld)", source, names[i], ids[i], (long long)g->n_tokens);
            return NULL;
        }
    size_t *lens = rl_malloc((size_t)g->n_tokens * sizeof *lens, "token lengths");
    if (!lens) return NULL;
    for (int64_t i = 0; i < g->n_tokens; i++) {
        if (g->token_lens[i] > (1u << 20) || (!g->tokens[i] && g->token_lens[i])) {
            free(lens);
            rl_fail("%s: tokenizer.ggml.tokens[%lld]: bad length %llu", source, (long long)i, (unsigned long long)g->token_lens[i]);
            return NULL;
        }
        lens[i] = (size_t)g->token_lens[i];
    }
    rl_tokenizer *t = tk_new(llama ? RL_TOK_SPM : RL_TOK_BPE, (int)g->n_tokens, source);
    if (!t || tk_set_vocab(t, g->tokens, lens)) goto fail;
    for (int64_t i = 0; i < g->n_tokens; i++) {
        if (g->scores) {
            if (!isfinite(g->scores[i])) {
                rl_fail("%s: tokenizer.ggml.scores[%lld] is not finite", source, (long long)i);
                goto fail;
            }
            t->score[i] = g->scores[i];
        }
        if (g->token_types) {
            int32_t ty = g->token_types[i];
            if (ty < RL_TOKT_NORMAL || ty > RL_TOKT_BYTE) {
                rl_fail("%s: tokenizer.ggml.token_type[%lld] is %d, expected 1..6", source, (long long)i, ty);
                goto fail;
            }
            t->type[i] = (uint8_t)ty;
        }
    }
    if (llama) {
        t->spm_scores = 1;
        memcpy(t->space_sym, "\xe2\x96\x81", 3);
        t->space_sym_len = 3;
        t->prefix = g->add_space_prefix == 0 ? TK_PREFIX_NONE : TK_PREFIX_FIRST;
        t->byte_fallback = 1;
        if (!g->token_types)
            for (int64_t i = 0; i < g->n_tokens; i++)
                if (tk_parse_byte_token(g->tokens[i], lens[i]) >= 0) t->type[i] = RL_TOKT_BYTE;
    } else {
        t->byte_level = 1;
        t->pre = pre;
        t->space_sym[0] = ' ';
        t->space_sym_len = 1;
    }
    t->bos = g->bos_id;
    t->eos = g->eos_id;
    t->unk = g->unk_id;
    if (t->unk < 0)
        for (int64_t i = 0; i < g->n_tokens && t->unk < 0; i++)
            if (t->type[i] == RL_TOKT_UNKNOWN) t->unk = (int)i;
    if (tk_finish(t)) goto fail;
    if (gpt2) {
        if (tk_u64map_init(&t->pairs, (size_t)g->n_merges)) goto fail;
        for (int64_t r = 0; r < g->n_merges; r++)
            if (!g->merges[r] || tk_add_merge_line(t, g->merges[r], (size_t)g->merge_lens[r], (int32_t)r, "tokenizer.ggml.merges"))
                goto fail;
        t->n_merges = (int)g->n_merges;
    }
    free(lens);
    return t;
fail:
    if (!rl_error()[0]) rl_fail("%s: tokenizer.ggml.merges: missing merge text", source);
    free(lens);
    rl_tok_free(t);
    return NULL;
}
