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

/* ---- the inverse: a tokenizer as GGUF vocabulary arrays ------------------------------------- */

void rl_tok_gguf_free(rl_tok_gguf *g) {
    if (g->tokens)
        for (int64_t i = 0; i < g->n_tokens; i++) free((char *)g->tokens[i]);
    if (g->merges)
        for (int64_t i = 0; i < g->n_merges; i++) free((char *)g->merges[i]);
    free((void *)g->tokens);
    free((void *)g->token_lens);
    free((void *)g->scores);
    free((void *)g->token_types);
    free((void *)g->merges);
    free((void *)g->merge_lens);
    memset(g, 0, sizeof *g);
}

/* The GGUF text of token id: ropelab's raw byte tokens in GPT-2's byte alphabet, llama2.c's
 * spaces as "▁" (GGUF "llama" vocabularies spell spaces that way), other texts as stored. */
static char *gguf_text(const rl_tokenizer *t, int id, size_t *out_len) {
    size_t n;
    const char *s = tk_text(t, id, &n);
    int bytes = t->kind == RL_TOK_ROPELAB && t->type[id] != RL_TOKT_CONTROL;
    int spaces = t->kind == RL_TOK_SPM && t->space_sym_len == 1 && t->space_sym[0] == ' ' &&
                 (t->type[id] == RL_TOKT_NORMAL || t->type[id] == RL_TOKT_USER_DEFINED);
    char *o = rl_malloc(4 * n + 1, "GGUF token text");
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (bytes) k += (size_t)tk_utf8_encode(tk_byte_to_cp((uint8_t)s[i]), o + k);
        else if (spaces && s[i] == ' ') memcpy(o + k, "\xe2\x96\x81", 3), k += 3;
        else o[k++] = s[i];
    }
    o[k] = '\0';
    *out_len = k;
    return o;
}

static int merge_text(rl_tok_gguf *g, int64_t r, int a, int b) {
    size_t la = (size_t)g->token_lens[a], lb = (size_t)g->token_lens[b];
    char *s = rl_malloc(la + lb + 2, "GGUF merge");
    if (!s) return -1;
    memcpy(s, g->tokens[a], la);
    s[la] = ' ';
    memcpy(s + la + 1, g->tokens[b], lb);
    s[la + 1 + lb] = '\0';
    ((const char **)g->merges)[r] = s;
    ((uint64_t *)g->merge_lens)[r] = la + 1 + lb;
    return 0;
}

int rl_tok_to_gguf(const rl_tokenizer *t, rl_tok_gguf *g) {
    memset(g, 0, sizeof *g);
    const int n = t->n_vocab, gpt2 = t->byte_level;
    if (!gpt2 && t->kind != RL_TOK_SPM)
        return rl_fail("%s: a sentencepiece-style BPE vocabulary (\xe2\x96\x81 spaces, ranked merges) has no exact GGUF "
                       "form (GGUF \"llama\" vocabularies merge by score); GGUF export supports ropelab, byte-level BPE "
                       "and sentencepiece (llama2.c) tokenizers",
                       t->source);
    if (gpt2 && (t->add_prefix_space || t->ignore_merges || t->pre == TK_PRE_NONE))
        return rl_fail("%s: this byte-level BPE uses %s, which a GGUF \"gpt2\" vocabulary cannot express", t->source,
                       t->add_prefix_space ? "add_prefix_space" : t->ignore_merges ? "ignore_merges" : "no split regex");
    g->model = gpt2 ? "gpt2" : "llama";
    g->pre = !gpt2 ? NULL : t->pre == TK_PRE_LLAMA3 ? "llama-bpe" : t->pre == TK_PRE_QWEN2 ? "qwen2" : "gpt-2";
    g->n_tokens = n;
    g->tokens = rl_calloc((size_t)n, sizeof(char *), "GGUF tokens");
    g->token_lens = rl_calloc((size_t)n, sizeof(uint64_t), "GGUF token lengths");
    g->token_types = rl_malloc((size_t)n * sizeof(int32_t), "GGUF token types");
    if (!gpt2) g->scores = rl_malloc((size_t)n * sizeof(float), "GGUF scores");
    if (!g->tokens || !g->token_lens || !g->token_types || (!gpt2 && !g->scores)) goto fail;
    for (int i = 0; i < n; i++) {
        size_t len;
        char *s = gguf_text(t, i, &len);
        if (!s) goto fail;
        ((const char **)g->tokens)[i] = s;
        ((uint64_t *)g->token_lens)[i] = len;
        ((int32_t *)g->token_types)[i] = t->type[i];
        if (!gpt2) ((float *)g->scores)[i] = t->score[i];
        /* GGUF looks tokens (and merge parts) up by text: two ids with one text cannot be told apart */
        const char *own = tk_text(t, i, &len);
        int other = tk_find_text(t, own, len);
        if (other >= 0 && other != i && t->type[i] != RL_TOKT_UNUSED) {
            rl_fail("%s: tokens %d and %d have the same text, which a GGUF vocabulary cannot tell apart", t->source,
                    other, i);
            goto fail;
        }
    }
    if (gpt2) {
        int64_t nm = t->kind == RL_TOK_ROPELAB ? t->n_merges : 0;
        int32_t *left = NULL, *right = NULL;
        if (t->kind != RL_TOK_ROPELAB) { /* ranked pairs from the merge table, in rank order */
            for (size_t s = 0; s < t->pairs.cap; s++)
                if (t->pairs.keys[s] != UINT64_MAX && (t->pairs.vals[s] >> 32) + 1 > nm) nm = (t->pairs.vals[s] >> 32) + 1;
            left = rl_malloc((size_t)nm * sizeof *left + 1, "merges");
            right = rl_malloc((size_t)nm * sizeof *right + 1, "merges");
            if (!left || !right) {
                free(left), free(right);
                goto fail;
            }
            for (int64_t r = 0; r < nm; r++) left[r] = -1;
            for (size_t s = 0; s < t->pairs.cap; s++)
                if (t->pairs.keys[s] != UINT64_MAX) {
                    int64_t r = t->pairs.vals[s] >> 32;
                    left[r] = (int32_t)(t->pairs.keys[s] >> 32);
                    right[r] = (int32_t)(uint32_t)t->pairs.keys[s];
                }
        }
        g->merges = rl_calloc((size_t)nm + 1, sizeof(char *), "GGUF merges");
        g->merge_lens = rl_calloc((size_t)nm + 1, sizeof(uint64_t), "GGUF merge lengths");
        int64_t k = 0, rc = g->merges && g->merge_lens ? 0 : -1;
        for (int64_t r = 0; r < nm && rc == 0; r++) {
            int a = left ? left[r] : t->merge_left[r], b = left ? right[r] : t->merge_right[r];
            if (a >= 0) rc = merge_text(g, k++, a, b); /* ranks left empty by repeated pairs are skipped */
        }
        g->n_merges = k;
        free(left), free(right);
        if (rc) goto fail;
    }
    g->bos_id = t->bos;
    g->eos_id = t->eos;
    g->unk_id = t->unk;
    g->pad_id = -1;
    g->add_space_prefix = gpt2 ? -1 : t->prefix != TK_PREFIX_NONE;
    return 0;
fail:
    rl_tok_gguf_free(g);
    return -1;
}
