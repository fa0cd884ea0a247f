/* Hash maps of the tokenizer part: a fast byte-string hash and a uint64 -> int64 open-addressing map. */
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    return x;
}

/* 8 bytes at a time, multiply-xorshift mixing; deterministic on every machine (little-endian
 * loads are assembled byte by byte). */
uint64_t tk_hash(const void *data, size_t n) {
    const uint8_t *p = data;
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xff51afd7ed558ccdULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        h = mix64(h ^ w) * 0x9E3779B97F4A7C15ULL;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)p[i] << (8 * i);
    return mix64(h ^ w ^ 0x2545F4914F6CDD1DULL);
}

#define EMPTY_KEY UINT64_MAX

int tk_u64map_init(tk_u64map *m, size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    m->keys = rl_malloc(cap * sizeof *m->keys, "hash map");
    m->vals = rl_malloc(cap * sizeof *m->vals, "hash map");
    if (!m->keys || !m->vals) {
        free(m->keys);
        free(m->vals);
        m->keys = NULL;
        m->vals = NULL;
        return -1;
    }
    memset(m->keys, 0xff, cap * sizeof *m->keys);
    m->cap = cap;
    m->n = 0;
    return 0;
}

void tk_u64map_free(tk_u64map *m) {
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->n = 0;
}

int64_t *tk_u64map_get(const tk_u64map *m, uint64_t key) {
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1, i = mix64(key) & mask;
    for (;;) {
        if (m->keys[i] == key) return &m->vals[i];
        if (m->keys[i] == EMPTY_KEY) return NULL;
        i = (i + 1) & mask;
    }
}

static int grow(tk_u64map *m) {
    tk_u64map g;
    if (tk_u64map_init(&g, m->cap) != 0) return -1; /* doubles: init sizes to >= 2 * expected */
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == EMPTY_KEY) continue;
        size_t mask = g.cap - 1, j = mix64(m->keys[i]) & mask;
        while (g.keys[j] != EMPTY_KEY) j = (j + 1) & mask;
        g.keys[j] = m->keys[i];
        g.vals[j] = m->vals[i];
    }
    g.n = m->n;
    tk_u64map_free(m);
    *m = g;
    return 0;
}

int64_t *tk_u64map_put(tk_u64map *m, uint64_t key, int64_t init) {
    if ((m->n + 1) * 2 > m->cap && grow(m) != 0) return NULL;
    size_t mask = m->cap - 1, i = mix64(key) & mask;
    for (;;) {
        if (m->keys[i] == key) return &m->vals[i];
        if (m->keys[i] == EMPTY_KEY) {
            m->keys[i] = key;
            m->vals[i] = init;
            m->n++;
            return &m->vals[i];
        }
        i = (i + 1) & mask;
    }
}
