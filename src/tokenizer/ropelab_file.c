/* ropelab's own tokenizer: building it from a merge list, and its versioned file format.
 *
 * File (all integers little-endian; docs/data.md):
 *   0   char[8]  magic "RLBPETOK"
 *   8   int32    version (1)
 *   12  int32    vocabulary size V (= 257 + M)
 *   16  int32    merge count M
 *   20  int32    special token count S (1)
 *   24  int32    BOS id (256)
 *   28  int32    EOS id (256)
 *   32  int32    pre-tokenizer (1 = gpt2 split)
 *   36  int32    reserved, 0
 *   40  S x { int32 id, int32 length L, L bytes of text }     ("<|bos|>")
 *   ..  M x { int32 left, int32 right }                        merge r makes token 257 + r
 *   end uint64   FNV-1a 64 of every byte before it
 */
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>

#define MAGIC "RLBPETOK"
#define VERSION 1
#define HEADER_BYTES 40
static const char BOS_TEXT[] = "<|bos|>";

rl_tokenizer *tk_ropelab_from_merges(const int32_t *left, const int32_t *right, int n_merges, const char *source) {
    int V = RL_TOK_ROPELAB_FIRST_MERGE + n_merges;
    for (int r = 0; r < n_merges; r++) {
        int id = RL_TOK_ROPELAB_FIRST_MERGE + r;
        for (int s = 0; s < 2; s++) {
            int32_t x = s ? right[r] : left[r];
            if (x < 0 || x >= id || x == RL_TOK_ROPELAB_BOS) {
                rl_fail("%s: merge %d (token %d): %s part %d must be a byte (0..255) or an earlier merge (257..%d)",
                        source, r, id, s ? "right" : "left", x, id - 1);
                return NULL;
            }
        }
    }
    rl_tokenizer *t = tk_new(RL_TOK_ROPELAB, V, source);
    if (!t) return NULL;
    /* texts: byte b is b; merge r is text(left) + text(right) */
    size_t *len = rl_malloc((size_t)V * sizeof *len, "token lengths");
    const char **txt = rl_calloc((size_t)V, sizeof *txt, "token texts");
    char *blob = NULL;
    int rc = -1;
    if (!len || !txt) goto out;
    size_t total = 256 + sizeof BOS_TEXT;
    for (int i = 0; i < 256; i++) len[i] = 1;
    len[RL_TOK_ROPELAB_BOS] = sizeof BOS_TEXT - 1;
    for (int r = 0; r < n_merges; r++) {
        len[RL_TOK_ROPELAB_FIRST_MERGE + r] = len[left[r]] + len[right[r]];
        total += len[RL_TOK_ROPELAB_FIRST_MERGE + r];
        if (total > ((size_t)1 << 34)) {
            rl_fail("%s: merged token texts exceed 16 GiB (merge %d): corrupt merge list", source, r);
            goto out;
        }
    }
    blob = rl_malloc(total, "token texts");
    if (!blob) goto out;
    size_t o = 0;
    for (int i = 0; i < 256; i++) {
        blob[o] = (char)i;
        txt[i] = blob + o++;
    }
    memcpy(blob + o, BOS_TEXT, len[RL_TOK_ROPELAB_BOS]);
    txt[RL_TOK_ROPELAB_BOS] = blob + o;
    o += len[RL_TOK_ROPELAB_BOS];
    for (int r = 0; r < n_merges; r++) {
        int id = RL_TOK_ROPELAB_FIRST_MERGE + r;
        memcpy(blob + o, txt[left[r]], len[left[r]]);
        memcpy(blob + o + len[left[r]], txt[right[r]], len[right[r]]);
        txt[id] = blob + o;
        o += len[id];
    }
    if (tk_set_vocab(t, txt, len)) goto out;
    for (int i = 0; i < 256; i++) t->type[i] = RL_TOKT_BYTE;
    t->type[RL_TOK_ROPELAB_BOS] = RL_TOKT_CONTROL;
    t->bos = t->eos = RL_TOK_ROPELAB_BOS;
    t->pre = TK_PRE_GPT2;
    t->byte_level = 1;
    t->n_merges = n_merges;
    t->merge_left = rl_malloc((size_t)n_merges * sizeof(int32_t) + 1, "merges");
    t->merge_right = rl_malloc((size_t)n_merges * sizeof(int32_t) + 1, "merges");
    if (!t->merge_left || !t->merge_right) goto out;
    memcpy(t->merge_left, left, (size_t)n_merges * sizeof(int32_t));
    memcpy(t->merge_right, right, (size_t)n_merges * sizeof(int32_t));
    if (tk_u64map_init(&t->pairs, (size_t)n_merges)) goto out;
    for (int r = 0; r < n_merges; r++) {
        int d = tk_add_merge(t, left[r], right[r], RL_TOK_ROPELAB_FIRST_MERGE + r, r);
        if (d < 0) goto out;
        if (d > 0) {
            rl_fail("%s: merge %d repeats the pair (%d, %d) of an earlier merge", source, r, left[r], right[r]);
            goto out;
        }
    }
    if (tk_finish(t)) goto out;
    rc = 0;
out:
    free(len);
    free(txt);
    free(blob);
    if (rc) {
        rl_tok_free(t);
        return NULL;
    }
    return t;
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

int rl_tok_save(const rl_tokenizer *t, const char *path) {
    if (t->kind != RL_TOK_ROPELAB) return rl_fail("%s: only ropelab tokenizers can be saved (this one is %s)", path, rl_tok_kind_name(t->kind));
    size_t bos_len = sizeof BOS_TEXT - 1;
    size_t n = HEADER_BYTES + 8 + bos_len + (size_t)t->n_merges * 8 + 8;
    uint8_t *buf = rl_calloc(n, 1, "tokenizer file");
    if (!buf) return -1;
    memcpy(buf, MAGIC, 8);
    put32(buf + 8, VERSION);
    put32(buf + 12, (uint32_t)t->n_vocab);
    put32(buf + 16, (uint32_t)t->n_merges);
    put32(buf + 20, 1);
    put32(buf + 24, (uint32_t)t->bos);
    put32(buf + 28, (uint32_t)t->eos);
    put32(buf + 32, TK_PRE_GPT2);
    put32(buf + 36, 0);
    size_t o = HEADER_BYTES;
    put32(buf + o, RL_TOK_ROPELAB_BOS);
    put32(buf + o + 4, (uint32_t)bos_len);
    memcpy(buf + o + 8, BOS_TEXT, bos_len);
    o += 8 + bos_len;
    for (int r = 0; r < t->n_merges; r++, o += 8) {
        put32(buf + o, (uint32_t)t->merge_left[r]);
        put32(buf + o + 4, (uint32_t)t->merge_right[r]);
    }
    uint64_t h = rl_hash64(buf, o, 0);
    for (int i = 0; i < 8; i++) buf[o + (size_t)i] = (uint8_t)(h >> (8 * i));
    int rc = rl_write_atomic(path, buf, n);
    free(buf);
    return rc;
}

/* Checks one int32 header field; fails naming file, field and offset. */
static int field(const char *path, const uint8_t *d, size_t off, const char *name, int64_t want, int64_t *got) {
    int32_t v = (int32_t)get32(d + off);
    if (got) *got = v;
    if (want != INT64_MIN && v != want)
        return rl_fail("%s: field %s at offset %zu is %d, expected %lld", path, name, off, v, (long long)want);
    return 0;
}

rl_tokenizer *rl_tok_load_ropelab(const char *path) {
    rl_map m;
    if (rl_map_file(path, &m)) return NULL;
    const uint8_t *d = m.data;
    rl_tokenizer *t = NULL;
    int32_t *left = NULL, *right = NULL;
    int64_t V, M, S, bos, eos;
    if (m.len < HEADER_BYTES + 8) {
        rl_fail("%s: truncated: %zu bytes, a ropelab tokenizer has at least %d", path, m.len, HEADER_BYTES + 8);
        goto out;
    }
    if (memcmp(d, MAGIC, 8) != 0) {
        rl_fail("%s: field magic at offset 0 is not \"%s\": not a ropelab tokenizer file", path, MAGIC);
        goto out;
    }
    if (field(path, d, 8, "version", VERSION, NULL) || field(path, d, 12, "vocab_size", INT64_MIN, &V) ||
        field(path, d, 16, "n_merges", INT64_MIN, &M) || field(path, d, 20, "n_special", 1, &S) ||
        field(path, d, 24, "bos_id", RL_TOK_ROPELAB_BOS, &bos) || field(path, d, 28, "eos_id", RL_TOK_ROPELAB_BOS, &eos) ||
        field(path, d, 32, "pretokenizer", TK_PRE_GPT2, NULL) || field(path, d, 36, "reserved", 0, NULL))
        goto out;
    if (M < 0 || M > (1 << 30)) {
        rl_fail("%s: field n_merges at offset 16 is %lld, expected 0..2^30", path, (long long)M);
        goto out;
    }
    if (V != RL_TOK_ROPELAB_FIRST_MERGE + M) {
        rl_fail("%s: field vocab_size at offset 12 is %lld, expected 257 + n_merges = %lld", path, (long long)V,
                (long long)(RL_TOK_ROPELAB_FIRST_MERGE + M));
        goto out;
    }
    size_t o = HEADER_BYTES;
    if (m.len < o + 8) {
        rl_fail("%s: truncated at offset %zu (special token record)", path, o);
        goto out;
    }
    int64_t sid, slen;
    if (field(path, d, o, "special[0].id", RL_TOK_ROPELAB_BOS, &sid) ||
        field(path, d, o + 4, "special[0].length", (int64_t)sizeof BOS_TEXT - 1, &slen))
        goto out;
    o += 8;
    if (m.len < o + (size_t)slen || memcmp(d + o, BOS_TEXT, (size_t)slen) != 0) {
        rl_fail("%s: field special[0].text at offset %zu is not \"%s\"", path, o, BOS_TEXT);
        goto out;
    }
    o += (size_t)slen;
    size_t want = o + (size_t)M * 8 + 8;
    if (m.len != want) {
        rl_fail("%s: size is %zu bytes, but %lld merges need exactly %zu (%s)", path, m.len, (long long)M, want,
                m.len < want ? "truncated" : "trailing bytes");
        goto out;
    }
    uint64_t h = 0;
    for (int i = 0; i < 8; i++) h |= (uint64_t)d[m.len - 8 + (size_t)i] << (8 * i);
    if (h != rl_hash64(d, m.len - 8, 0)) {
        rl_fail("%s: field checksum at offset %zu does not match the contents: the file is corrupt", path, m.len - 8);
        goto out;
    }
    left = rl_malloc((size_t)M * 4 + 1, "merges");
    right = rl_malloc((size_t)M * 4 + 1, "merges");
    if (!left || !right) goto out;
    for (int64_t r = 0; r < M; r++) {
        for (int s = 0; s < 2; s++) {
            size_t at = o + (size_t)r * 8 + (size_t)s * 4;
            int32_t x = (int32_t)get32(d + at);
            if (x < 0 || x >= RL_TOK_ROPELAB_FIRST_MERGE + r || x == RL_TOK_ROPELAB_BOS) {
                rl_fail("%s: field merge[%lld].%s at offset %zu is %d, expected a byte (0..255) or an earlier merge "
                        "(257..%lld)", path, (long long)r, s ? "right" : "left", at, x, (long long)(RL_TOK_ROPELAB_FIRST_MERGE + r - 1));
                goto out;
            }
            (s ? right : left)[r] = x;
        }
    }
    t = tk_ropelab_from_merges(left, right, (int)M, path);
out:
    free(left);
    free(right);
    rl_unmap(&m);
    return t;
}
