/* The rl_tokenizer type: construction helpers, properties, lookups, decode and streaming pieces. */
#include "tok_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rl_ids_push(rl_ids *ids, int32_t id) {
    if (ids->n == ids->cap) {
        int64_t cap = ids->cap ? ids->cap * 2 : 1024;
        int32_t *v = realloc(ids->v, (size_t)cap * sizeof *v);
        if (!v) return rl_fail("out of memory (%lld token ids)", (long long)cap);
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return 0;
}

rl_tokenizer *tk_new(rl_tok_kind kind, int n_vocab, const char *source) {
    if (n_vocab <= 0) {
        rl_fail("%s: vocabulary size %d must be positive", source, n_vocab);
        return NULL;
    }
    rl_tokenizer *t = rl_calloc(1, sizeof *t, "tokenizer");
    if (!t) return NULL;
    static uint64_t next_uid = 0;
    t->kind = kind;
    t->uid = __atomic_add_fetch(&next_uid, 1, __ATOMIC_RELAXED);
    snprintf(t->source, sizeof t->source, "%s", source);
    t->n_vocab = n_vocab;
    t->bos = t->eos = t->unk = -1;
    t->score = rl_calloc((size_t)n_vocab, sizeof *t->score, "token scores");
    t->type = rl_malloc((size_t)n_vocab, "token types");
    if (!t->score || !t->type) {
        rl_tok_free(t);
        return NULL;
    }
    memset(t->type, RL_TOKT_NORMAL, (size_t)n_vocab);
    for (int b = 0; b < 256; b++) t->byte_tok[b] = -1;
    return t;
}

void rl_tok_free(rl_tokenizer *t) {
    if (!t) return;
    tk_cache_forget(t);
    free(t->text_blob);
    free(t->bytes_blob);
    free(t->text_off);
    free(t->bytes_off);
    free(t->score);
    free(t->type);
    free(t->slots);
    free(t->slot_hash);
    tk_u64map_free(&t->pairs);
    free(t->merge_left);
    free(t->merge_right);
    free(t->specials);
    free(t);
}

int tk_set_vocab(rl_tokenizer *t, const char *const *texts, const size_t *lens) {
    size_t total = 0;
    for (int i = 0; i < t->n_vocab; i++) total += texts[i] ? lens[i] : 0;
    t->text_blob = rl_malloc(total + 1, "token texts");
    t->text_off = rl_malloc(((size_t)t->n_vocab + 1) * sizeof *t->text_off, "token offsets");
    if (!t->text_blob || !t->text_off) return -1;
    size_t o = 0;
    t->max_text_len = 0;
    for (int i = 0; i < t->n_vocab; i++) {
        t->text_off[i] = (int64_t)o;
        if (texts[i] && lens[i]) memcpy(t->text_blob + o, texts[i], lens[i]);
        o += texts[i] ? lens[i] : 0;
        if (texts[i] && lens[i] > t->max_text_len) t->max_text_len = lens[i];
    }
    t->text_off[t->n_vocab] = (int64_t)o;
    return 0;
}

int tk_parse_byte_token(const char *s, size_t len) {
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* The bytes a token prints (before any prefix stripping), written to out (room: text length). */
static size_t printed_bytes(const rl_tokenizer *t, int id, char *out) {
    size_t n;
    const char *s = tk_text(t, id, &n);
    int ty = t->type[id];
    if (t->kind == RL_TOK_ROPELAB || ty == RL_TOKT_CONTROL || ty == RL_TOKT_USER_DEFINED) {
        memcpy(out, s, n);
        return n;
    }
    if (t->byte_level) {
        /* every character is one byte of GPT-2's alphabet; a token outside it prints literally */
        size_t k = 0;
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            int l = tk_utf8_decode((const uint8_t *)s + i, n - i, &cp);
            int b = tk_cp_to_byte(cp);
            if (b < 0) {
                memcpy(out, s, n);
                return n;
            }
            out[k++] = (char)b;
            i += (size_t)l;
        }
        return k;
    }
    /* sentencepiece kinds: byte tokens print their byte, the space symbol prints ' ' */
    int b = tk_parse_byte_token(s, n);
    if (b >= 0 && (ty == RL_TOKT_BYTE || t->kind == RL_TOK_SPM)) {
        out[0] = (char)b;
        return 1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (t->space_sym_len > 1 && i + (size_t)t->space_sym_len <= n &&
            memcmp(s + i, t->space_sym, (size_t)t->space_sym_len) == 0) {
            out[k++] = ' ';
            i += (size_t)t->space_sym_len;
        } else {
            out[k++] = s[i++];
        }
    }
    return k;
}

int tk_find_text(const rl_tokenizer *t, const char *s, size_t len) {
    if (!t->n_slots) return -1;
    uint64_t h = tk_hash(s, len);
    size_t mask = t->n_slots - 1, i = (size_t)h & mask;
    for (;;) {
        int32_t id = t->slots[i];
        if (id < 0) return -1;
        if (t->slot_hash[i] == (uint32_t)(h >> 32)) {
            size_t n;
            const char *x = tk_text(t, id, &n);
            if (n == len && memcmp(x, s, len) == 0) return id;
        }
        i = (i + 1) & mask;
    }
}

static int build_index(rl_tokenizer *t) {
    size_t cap = 16;
    while (cap < (size_t)t->n_vocab * 2) cap <<= 1;
    t->slots = rl_malloc(cap * sizeof *t->slots, "token index");
    t->slot_hash = rl_malloc(cap * sizeof *t->slot_hash, "token index");
    if (!t->slots || !t->slot_hash) return -1;
    memset(t->slots, 0xff, cap * sizeof *t->slots);
    t->n_slots = cap;
    for (int id = 0; id < t->n_vocab; id++) {
        size_t n;
        const char *s = tk_text(t, id, &n);
        if (n == 0 || t->type[id] == RL_TOKT_UNUSED) continue;
        if (tk_find_text(t, s, n) >= 0) continue; /* duplicate text: the lowest id wins */
        uint64_t h = tk_hash(s, n);
        size_t i = (size_t)h & (cap - 1);
        while (t->slots[i] >= 0) i = (i + 1) & (cap - 1);
        t->slots[i] = id;
        t->slot_hash[i] = (uint32_t)(h >> 32);
    }
    return 0;
}

static int cmp_special_len(const void *a, const void *b, void *tp) {
    const rl_tokenizer *t = tp;
    int x = *(const int32_t *)a, y = *(const int32_t *)b;
    int64_t lx = t->text_off[x + 1] - t->text_off[x], ly = t->text_off[y + 1] - t->text_off[y];
    if (lx != ly) return lx > ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

int tk_finish(rl_tokenizer *t) {
    /* printed bytes */
    t->bytes_blob = rl_malloc((size_t)t->text_off[t->n_vocab] + 1, "token bytes");
    t->bytes_off = rl_malloc(((size_t)t->n_vocab + 1) * sizeof *t->bytes_off, "token offsets");
    if (!t->bytes_blob || !t->bytes_off) return -1;
    int64_t o = 0;
    for (int id = 0; id < t->n_vocab; id++) {
        t->bytes_off[id] = o;
        o += (int64_t)printed_bytes(t, id, t->bytes_blob + o);
    }
    t->bytes_off[t->n_vocab] = o;
    if (build_index(t) != 0) return -1;
    /* initial byte symbols */
    for (int b = 0; b < 256; b++) {
        char buf[8];
        int n;
        if (t->kind == RL_TOK_ROPELAB) {
            t->byte_tok[b] = b;
            continue;
        }
        if (t->byte_level) n = tk_utf8_encode(tk_byte_to_cp(b), buf);
        else n = snprintf(buf, sizeof buf, "<0x%02X>", b);
        int id = tk_find_text(t, buf, (size_t)n);
        if (id >= 0 && t->type[id] == RL_TOKT_CONTROL) id = -1;
        t->byte_tok[b] = id;
    }
    /* specials for RL_ENC_SPECIAL */
    int ns = 0;
    for (int id = 0; id < t->n_vocab; id++)
        if ((t->type[id] == RL_TOKT_CONTROL || t->type[id] == RL_TOKT_USER_DEFINED) && t->text_off[id + 1] > t->text_off[id])
            ns++;
    t->specials = rl_malloc((size_t)ns * sizeof *t->specials + 1, "special tokens");
    if (!t->specials) return -1;
    t->n_specials = 0;
    memset(t->special_first, 0, sizeof t->special_first);
    for (int id = 0; id < t->n_vocab; id++)
        if ((t->type[id] == RL_TOKT_CONTROL || t->type[id] == RL_TOKT_USER_DEFINED) && t->text_off[id + 1] > t->text_off[id]) {
            t->specials[t->n_specials++] = id;
            uint8_t c = (uint8_t)t->text_blob[t->text_off[id]];
            t->special_first[c >> 3] |= (uint8_t)(1u << (c & 7));
        }
    qsort_r(t->specials, (size_t)t->n_specials, sizeof *t->specials, cmp_special_len, t);
    return 0;
}

int tk_add_merge(rl_tokenizer *t, int32_t a, int32_t b, int32_t out, int32_t rank) {
    if (!t->pairs.cap && tk_u64map_init(&t->pairs, 1024) != 0) return -1;
    int64_t *v = tk_u64map_put(&t->pairs, tk_pair_key(a, b), -1);
    if (!v) return rl_fail("out of memory (merge table)");
    if (*v != -1) return 1; /* duplicate: the caller decides */
    *v = (int64_t)rank << 32 | (uint32_t)out;
    return 0;
}

/* ---- properties ------------------------------------------------------------------------------ */

rl_tok_kind rl_tok_kind_of(const rl_tokenizer *t) { return t->kind; }

const char *rl_tok_kind_name(rl_tok_kind k) {
    switch (k) {
    case RL_TOK_ROPELAB: return "ropelab-bpe";
    case RL_TOK_SPM: return "sentencepiece";
    case RL_TOK_BPE: return "bpe";
    }
    return "?";
}

int rl_tok_vocab_size(const rl_tokenizer *t) { return t->n_vocab; }
int rl_tok_bos(const rl_tokenizer *t) { return t->bos; }
int rl_tok_eos(const rl_tokenizer *t) { return t->eos; }

int rl_tok_set_special(rl_tokenizer *t, int bos, int eos) {
    if (bos < -1 || bos >= t->n_vocab) return rl_fail("%s: BOS id %d outside the vocabulary [0, %d)", t->source, bos, t->n_vocab);
    if (eos < -1 || eos >= t->n_vocab) return rl_fail("%s: EOS id %d outside the vocabulary [0, %d)", t->source, eos, t->n_vocab);
    t->bos = bos;
    t->eos = eos;
    return 0;
}

const char *rl_tok_text(const rl_tokenizer *t, int id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) {
        *len = 0;
        return NULL;
    }
    return tk_text(t, id, len);
}

rl_tok_type rl_tok_type_of(const rl_tokenizer *t, int id) {
    return id < 0 || id >= t->n_vocab ? RL_TOKT_UNUSED : (rl_tok_type)t->type[id];
}

int rl_tok_find(const rl_tokenizer *t, const char *text, size_t len) { return tk_find_text(t, text, len); }

int rl_tok_merge_parts(const rl_tokenizer *t, int id, int *left, int *right) {
    if (t->kind != RL_TOK_ROPELAB || id < RL_TOK_ROPELAB_FIRST_MERGE || id >= t->n_vocab)
        return rl_fail("%s: token %d is not a ropelab merge", t->source, id);
    *left = t->merge_left[id - RL_TOK_ROPELAB_FIRST_MERGE];
    *right = t->merge_right[id - RL_TOK_ROPELAB_FIRST_MERGE];
    return 0;
}

/* ---- decode ---------------------------------------------------------------------------------- */

static int strips_prefix(const rl_tokenizer *t) { return t->kind != RL_TOK_ROPELAB && !t->byte_level && t->prefix != TK_PREFIX_NONE; }

const char *rl_tok_piece(const rl_tokenizer *t, int prev, int id, size_t *len) {
    *len = 0;
    if (id < 0 || id >= t->n_vocab) return NULL;
    if (t->type[id] == RL_TOKT_CONTROL || t->type[id] == RL_TOKT_UNUSED) return "";
    const char *p = t->bytes_blob + t->bytes_off[id];
    size_t n = (size_t)(t->bytes_off[id + 1] - t->bytes_off[id]);
    if (strips_prefix(t) && (prev < 0 || prev == t->bos) && n > 0 && p[0] == ' ') p++, n--;
    *len = n;
    return p;
}

int rl_tok_decode(const rl_tokenizer *t, const int32_t *ids, int64_t n, unsigned flags, char **text, size_t *len) {
    *text = NULL;
    if (len) *len = 0;
    size_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            return rl_fail("%s: token id %d at position %lld is outside the vocabulary [0, %d)", t->source, ids[i],
                           (long long)i, t->n_vocab);
        total += (size_t)(t->text_off[ids[i] + 1] - t->text_off[ids[i]]) + 1;
    }
    char *out = rl_malloc(total + 1, "decoded text");
    if (!out) return -1;
    size_t k = 0;
    int strip = strips_prefix(t) && !(flags & RL_DEC_KEEP_PREFIX);
    int at_start = 1; /* start of text or right after BOS */
    for (int64_t i = 0; i < n; i++) {
        int id = ids[i];
        int ty = t->type[id];
        if (ty == RL_TOKT_CONTROL || ty == RL_TOKT_UNUSED) {
            if (flags & RL_DEC_SPECIAL) {
                size_t m;
                const char *s = tk_text(t, id, &m);
                memcpy(out + k, s, m);
                k += m;
            }
            if (id == t->bos) at_start = 1;
            continue;
        }
        const char *p = t->bytes_blob + t->bytes_off[id];
        size_t m = (size_t)(t->bytes_off[id + 1] - t->bytes_off[id]);
        if (strip && at_start && m > 0 && p[0] == ' ') p++, m--;
        memcpy(out + k, p, m);
        k += m;
        at_start = 0;
    }
    out[k] = '\0';
    *text = out;
    if (len) *len = k;
    return 0;
}

/* ---- loading by content ---------------------------------------------------------------------- */

rl_tokenizer *rl_tok_load(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        rl_fail("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char head[16] = {0};
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n >= 8 && memcmp(head, "RLBPETOK", 8) == 0) return rl_tok_load_ropelab(path);
    size_t i = 0;
    while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\n' || head[i] == '\r')) i++;
    if (i < n && head[i] == '{') return rl_tok_load_hf(path);
    return rl_tok_load_llama2c(path, 0);
}

/* ---- ranked merges given as text ------------------------------------------------------------- */

int tk_add_merge_texts(rl_tokenizer *t, const char *l, size_t ll, const char *r, size_t rl, int32_t rank, const char *where) {
    int a = tk_find_text(t, l, ll), b = tk_find_text(t, r, rl);
    if (a < 0 || b < 0)
        return rl_fail("%s: %s: merge %d (\"%.*s\" \"%.*s\"): %s part is not in the vocabulary", t->source, where, rank,
                       (int)RL_MIN(ll, 40), l, (int)RL_MIN(rl, 40), r, a < 0 ? "left" : "right");
    char stack[512], *cat = ll + rl <= sizeof stack ? stack : malloc(ll + rl);
    if (!cat) return rl_fail("out of memory (merge text)");
    memcpy(cat, l, ll);
    memcpy(cat + ll, r, rl);
    int out = tk_find_text(t, cat, ll + rl);
    if (cat != stack) free(cat);
    if (out < 0)
        return rl_fail("%s: %s: merge %d (\"%.*s\" \"%.*s\"): the merged token is not in the vocabulary", t->source, where,
                       rank, (int)RL_MIN(ll, 40), l, (int)RL_MIN(rl, 40), r);
    int rc = tk_add_merge(t, a, b, out, rank);
    return rc < 0 ? -1 : 0; /* a repeated pair keeps its first (best) rank */
}

int tk_add_merge_line(rl_tokenizer *t, const char *s, size_t n, int32_t rank, const char *where) {
    const char *sp = memchr(s, ' ', n);
    if (!sp || sp == s || sp == s + n - 1)
        return rl_fail("%s: %s: merge %d \"%.*s\" is not of the form \"left right\"", t->source, where, rank,
                       (int)RL_MIN(n, 60), s);
    return tk_add_merge_texts(t, s, (size_t)(sp - s), sp + 1, n - (size_t)(sp - s) - 1, rank, where);
}
