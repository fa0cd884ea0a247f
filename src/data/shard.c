/* Token shards: the 1024-byte header + uint16/uint32 tokens format, written atomically and checked on open. */
#include "ropelab/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static int width_of(int32_t vocab) { return vocab <= 65535 ? 2 : 4; }

int rl_shard_open(rl_shard *s, const char *path, int32_t expect_vocab) {
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    if (rl_map_file(path, &s->map)) return -1;
    const uint8_t *d = s->map.data;
    size_t len = s->map.len;
    if (len < RL_SHARD_HEADER_BYTES) {
        rl_fail("%s: truncated: %zu bytes, but a token shard starts with a %d-byte header", path, len, RL_SHARD_HEADER_BYTES);
        goto fail;
    }
    int32_t magic = (int32_t)get32(d), version = (int32_t)get32(d + 4), vocab = (int32_t)get32(d + 8), count = (int32_t)get32(d + 12);
    if (magic != RL_SHARD_MAGIC) {
        rl_fail("%s: field magic at offset 0 is %d, expected %d: not a ropelab token shard%s", path, magic, RL_SHARD_MAGIC,
                magic == 20240520 || magic == 20240801 ? " (this is an llm.c shard)" : "");
        goto fail;
    }
    if (version != RL_SHARD_VERSION) {
        rl_fail("%s: field version at offset 4 is %d, expected %d", path, version, RL_SHARD_VERSION);
        goto fail;
    }
    if (vocab <= 0) {
        rl_fail("%s: field vocab_size at offset 8 is %d, expected a positive number", path, vocab);
        goto fail;
    }
    if (expect_vocab > 0 && vocab != expect_vocab) {
        rl_fail("%s: field vocab_size at offset 8 is %d, but the tokenizer has %d tokens: shard and tokenizer do not belong together",
                path, vocab, expect_vocab);
        goto fail;
    }
    if (count < 0) {
        rl_fail("%s: field token_count at offset 12 is %d, expected >= 0", path, count);
        goto fail;
    }
    for (int k = 4; k < RL_SHARD_HEADER_INTS; k++) {
        int32_t v = (int32_t)get32(d + 4 * k);
        if (v != 0) {
            rl_fail("%s: field header[%d] at offset %d is %d, expected 0 (reserved in version %d)", path, k, 4 * k, v, RL_SHARD_VERSION);
            goto fail;
        }
    }
    int w = width_of(vocab);
    size_t want = RL_SHARD_HEADER_BYTES + (size_t)count * (size_t)w;
    if (len != want) {
        rl_fail("%s: size is %zu bytes, but field token_count at offset 12 (%d tokens of %d bytes) needs exactly %zu (%s)", path,
                len, count, w, want, len < want ? "truncated" : "trailing bytes");
        goto fail;
    }
    s->vocab_size = vocab;
    s->n_tokens = count;
    s->width = w;
    s->tokens = d + RL_SHARD_HEADER_BYTES;
    for (int64_t i = 0; i < s->n_tokens; i++) {
        int32_t id = rl_shard_token(s, i);
        if ((uint32_t)id >= (uint32_t)vocab) {
            rl_fail("%s: token %lld at offset %lld is %u, not below vocab_size %d", path, (long long)i,
                    (long long)(RL_SHARD_HEADER_BYTES + i * w), (unsigned)id, vocab);
            goto fail;
        }
    }
    return 0;
fail:
    rl_unmap(&s->map);
    s->tokens = NULL;
    return -1;
}

void rl_shard_close(rl_shard *s) {
    rl_unmap(&s->map);
    s->tokens = NULL;
    s->n_tokens = 0;
}

void rl_shard_read(const rl_shard *s, int64_t start, int64_t n, int32_t *out) {
    for (int64_t i = 0; i < n; i++) out[i] = rl_shard_token(s, start + i);
}

int rl_shard_write(const char *path, int32_t vocab_size, const int32_t *tokens, int64_t n) {
    if (vocab_size <= 0) return rl_fail("%s: vocabulary size %d must be positive", path, vocab_size);
    if (n < 0 || n > INT32_MAX)
        return rl_fail("%s: %lld tokens do not fit one shard (at most 2^31-1: the header's count is an int32)", path, (long long)n);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= vocab_size)
            return rl_fail("%s: token %lld is %d, outside the vocabulary [0, %d)", path, (long long)i, tokens[i], vocab_size);
    uint8_t header[RL_SHARD_HEADER_BYTES] = {0};
    put32(header, RL_SHARD_MAGIC);
    put32(header + 4, RL_SHARD_VERSION);
    put32(header + 8, (uint32_t)vocab_size);
    put32(header + 12, (uint32_t)n);
    rl_afile f;
    if (rl_afile_open(&f, path)) return -1;
    int ok = fwrite(header, 1, sizeof header, f.fp) == sizeof header;
    int w = width_of(vocab_size);
    uint8_t buf[1 << 16];
    int64_t per = (int64_t)sizeof buf / w;
    for (int64_t i = 0; ok && i < n; i += per) {
        int64_t k = RL_MIN(per, n - i);
        for (int64_t j = 0; j < k; j++) {
            uint32_t v = (uint32_t)tokens[i + j];
            uint8_t *p = buf + j * w;
            p[0] = (uint8_t)v;
            p[1] = (uint8_t)(v >> 8);
            if (w == 4) p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
        }
        ok = fwrite(buf, (size_t)w, (size_t)k, f.fp) == (size_t)k;
    }
    if (!ok) {
        rl_afile_abort(&f);
        return rl_fail("%s: write failed", path);
    }
    return rl_afile_commit(&f);
}
