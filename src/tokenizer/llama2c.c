/* llama2.c's tokenizer.bin: int32 max_token_length, then per token float32 score, int32 length, bytes. */
#include "tok_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

rl_tokenizer *rl_tok_load_llama2c(const char *path, int vocab_size) {
    rl_map m;
    if (rl_map_file(path, &m)) return NULL;
    const uint8_t *d = m.data;
    rl_tokenizer *t = NULL;
    const char **txt = NULL;
    size_t *len = NULL;
    float *score = NULL;
    if (m.len < 4) {
        rl_fail("%s: truncated: %zu bytes, a llama2.c tokenizer starts with a 4-byte max_token_length", path, m.len);
        goto fail;
    }
    int32_t max_len = (int32_t)get32(d);
    if (max_len <= 0 || max_len > (1 << 20)) {
        rl_fail("%s: field max_token_length at offset 0 is %d, expected 1..2^20: not a llama2.c tokenizer", path, max_len);
        goto fail;
    }
    /* first pass: count and check the records */
    int64_t n = 0;
    size_t o = 4;
    while (o < m.len && (vocab_size <= 0 || n < vocab_size)) {
        if (m.len - o < 8) {
            rl_fail("%s: truncated at offset %zu: token %lld needs a score and a length (8 bytes)", path, o, (long long)n);
            goto fail;
        }
        float s;
        memcpy(&s, d + o, 4);
        int32_t l = (int32_t)get32(d + o + 4);
        if (!isfinite(s)) {
            rl_fail("%s: field score of token %lld at offset %zu is not finite", path, (long long)n, o);
            goto fail;
        }
        if (l < 0 || l > max_len) {
            rl_fail("%s: field length of token %lld at offset %zu is %d, expected 0..max_token_length (%d)", path,
                    (long long)n, o + 4, l, max_len);
            goto fail;
        }
        if (m.len - o - 8 < (size_t)l) {
            rl_fail("%s: truncated at offset %zu: token %lld needs %d bytes of text", path, o + 8, (long long)n, l);
            goto fail;
        }
        o += 8 + (size_t)l;
        n++;
        if (n > INT32_MAX / 2) {
            rl_fail("%s: more than 2^30 tokens: not a llama2.c tokenizer", path);
            goto fail;
        }
    }
    if (vocab_size > 0 && n < vocab_size) {
        rl_fail("%s: truncated: the file ends at offset %zu after %lld tokens, the model needs %d", path, o, (long long)n, vocab_size);
        goto fail;
    }
    if (vocab_size <= 0 && o != m.len) {
        rl_fail("%s: %zu trailing bytes at offset %zu", path, m.len - o, o);
        goto fail;
    }
    if (n < 3) {
        rl_fail("%s: only %lld tokens; llama2.c needs at least <unk>, BOS and EOS (ids 0, 1, 2)", path, (long long)n);
        goto fail;
    }
    txt = rl_malloc((size_t)n * sizeof *txt, "token texts");
    len = rl_malloc((size_t)n * sizeof *len, "token lengths");
    score = rl_malloc((size_t)n * sizeof *score, "token scores");
    if (!txt || !len || !score) goto fail;
    o = 4;
    for (int64_t i = 0; i < n; i++) {
        memcpy(&score[i], d + o, 4);
        len[i] = get32(d + o + 4);
        txt[i] = (const char *)d + o + 8;
        o += 8 + len[i];
    }
    t = tk_new(RL_TOK_SPM, (int)n, path);
    if (!t || tk_set_vocab(t, txt, len)) goto fail;
    memcpy(t->score, score, (size_t)n * sizeof *score);
    for (int64_t i = 0; i < n; i++)
        if (tk_parse_byte_token(txt[i], len[i]) >= 0) t->type[i] = RL_TOKT_BYTE;
    t->type[0] = RL_TOKT_UNKNOWN;
    t->type[1] = t->type[2] = RL_TOKT_CONTROL;
    t->unk = 0;
    t->bos = 1;
    t->eos = 2;
    t->spm_scores = 1;
    memcpy(t->space_sym, " ", 2);
    t->space_sym_len = 1;
    t->prefix = TK_PREFIX_FIRST;
    t->byte_fallback = 1;
    if (tk_finish(t)) goto fail;
    free(txt);
    free(len);
    free(score);
    rl_unmap(&m);
    return t;
fail:
    free(txt);
    free(len);
    free(score);
    rl_tok_free(t);
    rl_unmap(&m);
    return NULL;
}
